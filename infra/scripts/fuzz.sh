#!/usr/bin/env bash
# Fuzzes the JSON endpoints described by infra/openapi.yaml with schemathesis (pinned), against
# the already built local server: once on the memory store and, when DYNAMODB_ENDPOINT_URL is set,
# once more on DynamoDB (a fresh table). Fails when any check fails.
#
# Per store, two schemathesis runs against the same server: first the OAuth / OIDC / flow
# endpoints (after walking a device flow in each dialect so they answer 200s too), then the
# PingOne management API (/v1/...) with the demo admin worker's token. The management run comes
# last because it creates, changes and deletes applications, users and populations, the demo
# ones included.
#
#   infra/scripts/fuzz.sh                      # memory store only
#   DYNAMODB_ENDPOINT_URL=http://127.0.0.1:PORT infra/scripts/fuzz.sh
#
# Environment: FUZZ_MAX_EXAMPLES (default 75 per operation), FUZZ_SEED (default 20261201),
# CARGO_TARGET_DIR (where the debug build of local-server is).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

# schemathesis in a venv keyed by the pinned requirements, reused while they do not change.
req=infra/scripts/fuzz-requirements.txt
venv="$HOME/.cache/ping-as/fuzz-$(sha256sum "$req" | cut -c1-12)"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "== installing schemathesis into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
fi
py="$venv/bin/python"

server_bin="${CARGO_TARGET_DIR:-$HOME/.cache/ping-as/target}/debug/local-server"
if [ ! -x "$server_bin" ]; then
  echo "no local-server binary at $server_bin (cargo build -p local-server)" >&2
  exit 1
fi

max_examples="${FUZZ_MAX_EXAMPLES:-75}"
seed="${FUZZ_SEED:-20261201}"
work=$(mktemp -d)
server_pid=""

stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts the server with the given extra arguments; sets server_pid and base_url.
start_server() {
  local name=$1
  shift
  local port
  port=$("$py" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  base_url="http://127.0.0.1:$port"
  NO_COLOR=1 "$server_bin" --addr "127.0.0.1:$port" "$@" >"$work/server-$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 150); do
    if "$py" - "$base_url/pf/JWKS" <<'EOF' 2>/dev/null; then return 0; fi
import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)
EOF
    if ! kill -0 "$server_pid" 2>/dev/null; then
      cat "$work/server-$name.log" >&2
      echo "the server ($name) did not start" >&2
      server_pid=""
      return 1
    fi
    sleep 0.2
  done
  cat "$work/server-$name.log" >&2
  echo "the server ($name) did not answer /pf/JWKS with 200" >&2
  return 1
}

# Real data for the fuzzer: tokens of completed device flows in both dialects and a signed-on
# flow (with its browser's cookies), written as a schemathesis.toml that pins or offers them to
# the operations that need them.
write_config() {
  "$py" - "$base_url" "$1" <<'EOF'
import base64, json, sys, urllib.error, urllib.parse, urllib.request
from http.cookiejar import CookieJar

base, out = sys.argv[1], sys.argv[2]
ENV = "00000000-0000-4000-8000-000000000001"
DEVICE_APP = "00000000-0000-4000-8000-0000000000d1"
WEB_APP, WEB_SECRET = "00000000-0000-4000-8000-0000000000a1", "demo-web-secret"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser():
    jar = CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect), jar


def call(opener, path, data=None, content_type=None):
    headers = {}
    if data is not None:
        if content_type is None:
            data, content_type = urllib.parse.urlencode(data).encode(), "application/x-www-form-urlencoded"
        else:
            data = json.dumps(data).encode()
        headers["Content-Type"] = content_type
    request = urllib.request.Request(base + path, data=data, headers=headers)
    try:
        response = opener.open(request, timeout=10)
    except urllib.error.HTTPError as err:
        response = err
    return response.status, response.headers, response.read()


def ok(result, what):
    status, _, body = result
    if status != 200:
        sys.exit(f"setup: {what} answered {status}: {body[:300]!r}")
    return json.loads(body)


def act(opener, flow_id, action, body):
    media = f"application/vnd.pingidentity.{action}+json"
    return ok(call(opener, f"/{ENV}/flows/{flow_id}", body, media), action)


def start(opener, path):
    status, headers, body = call(opener, path)
    location = headers.get("Location", "")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    if status not in (302, 303) or "flowId" not in query:
        sys.exit(f"setup: {path} answered {status} {location!r}: {body[:300]!r}")
    return query["flowId"][0]


def signed_on(opener, start_path):
    flow_id = start(opener, start_path)
    act(opener, flow_id, "usernamePassword.check", {"username": "demo", "password": "demo-password"})
    return flow_id


def tokens(device_authorization, start_path, token):
    scope = "openid profile email offline_access"
    codes = ok(call(urllib.request.build_opener(), device_authorization, {"client_id": DEVICE_APP, "scope": scope}),
               device_authorization)
    opener, _ = browser()
    flow_id = signed_on(opener, start_path)
    act(opener, flow_id, "deviceAuthGrant.userCode.verify", {"userCode": codes["user_code"]})
    flow = act(opener, flow_id, "deviceAuthGrant.consent", {"accept": True})
    assert flow["status"] == "COMPLETED", flow
    grant = "urn:ietf:params:oauth:grant-type:device_code"
    form = {"grant_type": grant, "client_id": DEVICE_APP, "device_code": codes["device_code"]}
    return ok(call(urllib.request.build_opener(), token, form), token)


p1 = tokens(f"/{ENV}/as/device_authorization", f"/{ENV}/device/tv", f"/{ENV}/as/token")
pf = tokens("/as/device_authz.oauth2", "/as/user_authz.oauth2", "/as/token.oauth2")
opener, jar = browser()
flow_id = signed_on(opener, f"/{ENV}/device/tv")
cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
web_basic = "Basic " + base64.b64encode(f"{WEB_APP}:{WEB_SECRET}".encode()).decode()


def toml(value):
    return json.dumps(value)  # a JSON string is a TOML basic string


with open(out, "w") as f:
    f.write(f"""
[dictionaries.p1_tokens]
values = {toml([p1["access_token"], p1["refresh_token"], p1["id_token"]])}

[dictionaries.pf_tokens]
values = {toml([pf["access_token"], pf["refresh_token"], pf["id_token"]])}

[dictionaries.clients]
values = {toml([DEVICE_APP, WEB_APP])}

[parameters]
"path.envId" = {{ dictionary = "environments", probability = 0.7 }}
"body.client_id" = {{ dictionary = "clients", probability = 0.6 }}

[dictionaries.environments]
values = {toml([ENV])}

[[operations]]
include-operation-id-regex = "^(getFlow|performFlowAction)$"
parameters = {{ "path.flowId" = {toml(flow_id)}, "header.Cookie" = {toml(cookie)}, "path.envId" = {toml(ENV)} }}

[[operations]]
include-operation-id-regex = "^pingOneUserinfo"
headers = {{ Authorization = {toml("Bearer " + p1["access_token"])} }}

[[operations]]
include-operation-id-regex = "^pingFederateUserinfo"
headers = {{ Authorization = {toml("Bearer " + pf["access_token"])} }}

[[operations]]
include-operation-id = "pingOneIntrospect"
headers = {{ Authorization = {toml(web_basic)} }}
parameters = {{ "body.token" = {{ dictionary = "p1_tokens", probability = 0.5 }} }}

[[operations]]
include-operation-id = "pingFederateIntrospect"
headers = {{ Authorization = {toml(web_basic)} }}
parameters = {{ "body.token" = {{ dictionary = "pf_tokens", probability = 0.5 }} }}
""")
EOF
}

# The management API's data: a token of the demo admin worker (client_credentials, HTTP Basic)
# for the bearerAuth scheme, and the ids of the demo records offered to the operations that read
# or change one. Deletions get no demo ids (what they delete the stateful phase creates first),
# so the reads keep finding the demo records. The fuzzer also reuses ids it read in answers, its
# own worker's among them: a hook sends every PUT and DELETE aimed at that worker (which could
# delete it, change its auth method or take its roles, and so end the run's authentication) to an
# application that does not exist instead.
write_mgmt_config() {
  cat >"$(dirname "$1")/hooks.py" <<'EOF'
import schemathesis

ADMIN = "00000000-0000-4000-8000-0000000000b1"
NOWHERE = "00000000-0000-4000-8000-00000000dead"


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.method.upper() in ("PUT", "DELETE") and (case.path_parameters or {}).get("appId") == ADMIN:
        case.path_parameters["appId"] = NOWHERE
EOF
  "$py" - "$base_url" "$1" <<'EOF'
import base64, json, os, sys, urllib.error, urllib.parse, urllib.request

base, out = sys.argv[1], sys.argv[2]
ENV = "00000000-0000-4000-8000-000000000001"
ADMIN, ADMIN_SECRET = "00000000-0000-4000-8000-0000000000b1", "demo-admin-secret"
APPS = ["00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000d1"]
USER, POPULATION = "00000000-0000-4000-8000-0000000000e1", "00000000-0000-4000-8000-0000000000c1"


def call(path, data=None, headers=None):
    request = urllib.request.Request(base + path, data=data, headers=headers or {})
    try:
        response = urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as err:
        response = err
    body = response.read()
    if response.status != 200:
        sys.exit(f"setup: {path} answered {response.status}: {body[:300]!r}")
    return json.loads(body)


basic = "Basic " + base64.b64encode(f"{ADMIN}:{ADMIN_SECRET}".encode()).decode()
form = urllib.parse.urlencode({"grant_type": "client_credentials"}).encode()
headers = {"Authorization": basic, "Content-Type": "application/x-www-form-urlencoded"}
token = call(f"/{ENV}/as/token", form, headers)["access_token"]
bearer = {"Authorization": f"Bearer {token}"}
roles = call(f"/v1/environments/{ENV}/applications/{ADMIN}/roleAssignments", headers=bearer)
role_ids = [r["id"] for r in roles["_embedded"]["roleAssignments"]]
call(f"/v1/environments/{ENV}/users/{USER}", headers=bearer)
call(f"/v1/environments/{ENV}/populations/{POPULATION}", headers=bearer)


def toml(value):
    return json.dumps(value)  # a JSON string is a TOML basic string


# An operation's own parameters replace the global ones: each names the environment again. The
# coverage phase takes no dictionary there, so the operations with a body (whose coverage cases
# are many) get the demo environment pinned; the reads keep the dictionary (pinned, hypothesis
# spends long looking for new inputs among the few left).
env = '"path.envId" = { dictionary = "environments", probability = 0.8 }'
pinned = f'"path.envId" = {toml(ENV)}'


def operations(ids, env, **parameters):
    values = ", ".join([env] + [f'"path.{name}" = {value}' for name, value in parameters.items()])
    return f"""
[[operations]]
include-operation-id-regex = "^({'|'.join(ids)})$"
parameters = {{ {values} }}
"""


def offer(dictionary):
    return f'{{ dictionary = "{dictionary}", probability = 0.7 }}'


with open(out, "w") as f:
    f.write(f"""
hooks = {toml(os.path.join(os.path.dirname(out), "hooks.py"))}

[auth.openapi.bearerAuth]
bearer = {toml(token)}

[parameters]
{env}

[dictionaries.environments]
values = {toml([ENV])}

[dictionaries.apps]
values = {toml(APPS + [ADMIN])}

[dictionaries.other_apps]
values = {toml(APPS)}

[dictionaries.users]
values = {toml([USER])}

[dictionaries.populations]
values = {toml([POPULATION])}

[dictionaries.role_assignments]
values = {toml(role_ids)}
""")
    f.write(operations(["readApplication", "readApplicationSecret", "listRoleAssignments"], env, appId=offer("apps")))
    f.write(operations(["createRoleAssignment"], pinned, appId=offer("apps")))
    f.write(operations(["replaceApplication", "rotateApplicationSecret"], pinned, appId=offer("other_apps")))
    f.write(operations(["readRoleAssignment"], env, appId=toml(ADMIN), roleAssignmentId=offer("role_assignments")))
    f.write(operations(["readUser", "readUserEnabled", "readUserPassword"], env, userId=offer("users")))
    f.write(operations(["replaceUser", "updateUser", "setUserEnabled", "setUserPassword"], pinned, userId=offer("users")))
    f.write(operations(["readPopulation"], env, populationId=offer("populations")))
    f.write(operations(["replacePopulation"], pinned, populationId=offer("populations")))
EOF
}

# What the server answered, per route ("METHOD route: status x count"), from its request log.
summarize() {
  "$py" - "$1" <<'EOF'
import collections, re, sys
ansi = re.compile(r"\x1b\[[0-9;]*m")
line_re = re.compile(r'method=(\S+) route=("[^"]*"|\S+) .*status=(\d+)')
counts = collections.defaultdict(collections.Counter)
for line in open(sys.argv[1], errors="replace"):
    m = line_re.search(ansi.sub("", line))
    if m:
        counts[f"{m[1]} {m[2].strip(chr(34))}"][m[3]] += 1
print("   server answers per route (status x count):")
for route in sorted(counts):
    print(f"     {route}: " + " ".join(f"{s}x{n}" for s, n in sorted(counts[route].items())))
EOF
}

# One schemathesis run against the server at $base_url: fuzz CONFIG [filter options...]. Its
# exit code is schemathesis's.
fuzz() {
  local config=$1
  shift
  # From the scratch directory: schemathesis and hypothesis keep their state in the working directory.
  (
    cd "$(dirname "$config")"
    "$venv/bin/schemathesis" --no-color --config-file "$config" run \
      "$repo/infra/openapi.yaml" \
      --url "$base_url" \
      --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
      --phases examples,coverage,fuzzing,stateful \
      --max-examples "$max_examples" \
      --seed "$seed" \
      --workers 2 \
      --generation-database none \
      --warnings off \
      --request-timeout 15 \
      "$@"
  )
}

failed=0
run() {
  local name=$1
  shift
  echo "== fuzzing on the $name store"
  local started=$SECONDS
  start_server "$name" "$@"
  echo "   server at $base_url"
  grep -m1 -E '^(created|using existing) table' "$work/server-$name.log" | sed 's/^/   /' || true
  mkdir -p "$work/$name/oauth" "$work/$name/management"
  local rc=0 part_rc
  echo "== $name store: OAuth, OpenID Connect and flow endpoints"
  write_config "$work/$name/oauth/schemathesis.toml"
  part_rc=0
  fuzz "$work/$name/oauth/schemathesis.toml" --exclude-path-regex '^/v1/' || part_rc=$?
  [ "$part_rc" -eq 0 ] || rc=$part_rc
  local oauth_done=$SECONDS
  echo "== $name store: OAuth endpoints done in $((oauth_done - started))s (exit $part_rc)"
  echo "== $name store: management API, as the demo admin worker"
  part_rc=0
  write_mgmt_config "$work/$name/management/schemathesis.toml" || part_rc=$?
  if [ "$part_rc" -eq 0 ]; then
    fuzz "$work/$name/management/schemathesis.toml" --include-path-regex '^/v1/' || part_rc=$?
  fi
  [ "$part_rc" -eq 0 ] || rc=$part_rc
  echo "== $name store: management API done in $((SECONDS - oauth_done))s (exit $part_rc)"
  stop_server
  summarize "$work/server-$name.log"
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "== $name store: schemathesis FAILED (exit $rc); server log:"
    tail -n 40 "$work/server-$name.log"
  fi
  if grep -qE "panicked|thread '.*' panicked" "$work/server-$name.log"; then
    failed=1
    echo "== $name store: the server panicked:"
    grep -E -A5 "panicked" "$work/server-$name.log" | head -n 40
  fi
  echo "== $name store: done in $((SECONDS - started))s (exit $rc)"
}

run memory
if [ -n "${DYNAMODB_ENDPOINT_URL:-}" ]; then
  run dynamodb --dynamodb-endpoint "$DYNAMODB_ENDPOINT_URL" --table "fuzz-$$"
fi
if [ "$failed" -ne 0 ]; then
  echo "FUZZING FAILED" >&2
  exit 1
fi
echo "fuzzing passed"

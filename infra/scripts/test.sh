#!/usr/bin/env bash
# The test command: installs its tools (pinned), starts a DynamoDB-compatible server (moto) on a
# free loopback port, runs fmt, clippy and every test, and stops the server.
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ping-as/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Python tools in a venv keyed by the pinned requirements, reused while they do not change.
req=infra/test-services/requirements.txt
venv="$HOME/.cache/ping-as/venv-$(sha256sum "$req" | cut -c1-12)"
if [ ! -x "$venv/bin/python" ]; then
  echo "== installing test tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
fi

# Template tools (aws-sam-cli with cfn-lint), pinned the same way.
tools_req=infra/scripts/tools-requirements.txt
tools="$HOME/.cache/ping-as/tools-$(sha256sum "$tools_req" | cut -c1-12)"
if [ ! -x "$tools/bin/sam" ]; then
  echo "== installing template tools into $tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check -r "$tools_req"
fi

echo "== template: sam validate --lint, cfn-lint"
SAM_CLI_TELEMETRY=0 "$tools/bin/sam" validate --lint --template template.yaml
"$tools/bin/cfn-lint" template.yaml

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== starting the DynamoDB-compatible servers"
# One for every test, and two more for the store-level races (tests/tests/concurrency.rs), which
# send ~100,000 requests: moto answers one at a time, so two servers keep both cores busy.
logs=()
ddb_pids=()
watch_pid=""
cleanup() {
  [ -z "$watch_pid" ] || kill -- "-$watch_pid" 2>/dev/null || true
  for pid in "${ddb_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -f "${logs[@]}"
}
trap cleanup EXIT
for i in 0 1 2; do
  logs[i]=$(mktemp)
  "$venv/bin/python" infra/test-services/dynamodb_server.py 0 >"${logs[i]}" 2>&1 &
  ddb_pids[i]=$!
done
endpoints=()
for i in 0 1 2; do
  for _ in $(seq 1 100); do
    grep -q '^DYNAMODB_ENDPOINT_URL=' "${logs[i]}" && break
    kill -0 "${ddb_pids[i]}" 2>/dev/null || { cat "${logs[i]}"; echo "a DynamoDB server did not start" >&2; exit 1; }
    sleep 0.2
  done
  endpoints[i]=$(grep -m1 '^DYNAMODB_ENDPOINT_URL=' "${logs[i]}" | cut -d= -f2-)
  [ -n "${endpoints[i]}" ] || { cat "${logs[i]}"; echo "a DynamoDB server did not start" >&2; exit 1; }
done
export DYNAMODB_ENDPOINT_URL="${endpoints[0]}"
export DYNAMODB_RACE_ENDPOINT_URLS="${endpoints[1]},${endpoints[2]}"
echo "   $DYNAMODB_ENDPOINT_URL (races: $DYNAMODB_RACE_ENDPOINT_URLS)"

echo "== starting cargo lambda watch (the local Lambda emulator) in front of every function"
cargo build --quiet -p functions -p local-server
watch_port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
export LAMBDA_WATCH_URL="http://127.0.0.1:$watch_port"
watch_table="lambda-watch-$$"
watch_log="$CARGO_TARGET_DIR/lambda-watch.log"
# The server secret as template.yaml's deploy creates it (a generated hash_key, nothing else); the
# seeding below is the first start, which adds the signing keys the functions then read.
watch_secret=$(AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "$venv/bin/python" - "$DYNAMODB_ENDPOINT_URL" "$watch_table" <<'PY'
import json, secrets, sys
import boto3
client = boto3.client("secretsmanager", endpoint_url=sys.argv[1], region_name="us-east-1")
hash_key = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(64))
print(client.create_secret(Name=sys.argv[2] + "-server", SecretString=json.dumps({"hash_key": hash_key}))["ARN"])
PY
)
(
  export SERVER_SECRET_ID="$watch_secret" SECRETS_MANAGER_ENDPOINT_URL="$DYNAMODB_ENDPOINT_URL"
  PUBLIC_BASE_URL="$LAMBDA_WATCH_URL" "$CARGO_TARGET_DIR/debug/local-server" --addr 127.0.0.1:0 \
    --dynamodb-endpoint "$DYNAMODB_ENDPOINT_URL" --table "$watch_table" --seed-only >/dev/null
  exec setsid env PATH="$tools/bin:$PATH" cargo lambda watch -A 127.0.0.1 -P "$watch_port" --ignore-changes \
    --env-var "STORE=dynamodb,TABLE_NAME=$watch_table,DYNAMODB_ENDPOINT_URL=$DYNAMODB_ENDPOINT_URL" \
    --env-var "SERVER_SECRET_ID=$watch_secret,SECRETS_MANAGER_ENDPOINT_URL=$DYNAMODB_ENDPOINT_URL" \
    --env-var "PUBLIC_BASE_URL=$LAMBDA_WATCH_URL,AWS_REGION=us-east-1,AWS_ACCESS_KEY_ID=local,AWS_SECRET_ACCESS_KEY=local" \
    --env-var "DIRECTORY_CACHE_SECONDS=10"
) >"$watch_log" 2>&1 &
watch_pid=$!
for _ in $(seq 1 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$LAMBDA_WATCH_URL/pf/JWKS" || true)" = 200 ] && break
  kill -0 "$watch_pid" 2>/dev/null || { cat "$watch_log"; echo "cargo lambda watch did not start" >&2; exit 1; }
  sleep 1
done
echo "   $LAMBDA_WATCH_URL"

npm ci --prefix tests/browser --no-audit --no-fund --silent
echo "== cargo test"
out="$CARGO_TARGET_DIR/test-output.txt"
cargo test --workspace --no-fail-fast 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

echo "== schemathesis: the JSON endpoints against infra/openapi.yaml, on both stores"
cargo build --quiet -p local-server
fuzz_out="$CARGO_TARGET_DIR/fuzz-output.txt"
fuzz_status=0
bash infra/scripts/fuzz.sh 2>&1 | tee "$fuzz_out" || fuzz_status=1
[ "$fuzz_status" = 0 ] || status=1

echo "== browser tests (headless Debian Chromium, playwright-core)"
if ! command -v chromium >/dev/null 2>&1; then
  echo "   installing Debian's chromium"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
cargo build --quiet -p local-server
browser_out="$CARGO_TARGET_DIR/browser-output.txt"
LOCAL_SERVER_BIN="$CARGO_TARGET_DIR/debug/local-server" SCREENSHOT_DIR=build/screenshots \
  node --test tests/browser/ 2>&1 | tee "$browser_out"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
echo "   screenshots of every page: build/screenshots/"

passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$out" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$out" | awk '{s+=$1} END {print s+0}')
ignored=$(grep -Eo '[0-9]+ ignored;' "$out" | awk '{s+=$1} END {print s+0}')
browser_passed=$(awk '/^# pass /{print $3}' "$browser_out" | tail -1)
browser_failed=$(awk '/^# fail /{print $3}' "$browser_out" | tail -1)
browser_skipped=$(awk '/^# (skipped|todo) /{s+=$3} END {print s+0}' "$browser_out")
if [ "$ignored" != "0" ] || [ "$browser_skipped" != "0" ]; then
  echo "error: $ignored Rust and $browser_skipped browser tests were skipped; the full run skips nothing" >&2
  status=1
fi
[ -n "$browser_passed" ] || { echo "error: the browser tests did not report" >&2; status=1; browser_passed=0; browser_failed=1; }
[ "$fuzz_status" = 0 ] && fuzz_result="0 failures" || fuzz_result="FAILED (see $fuzz_out)"
echo "schemathesis on both stores: $fuzz_result"
echo "$((passed + browser_passed)) passed, $((failed + browser_failed)) failed"
exit "$status"

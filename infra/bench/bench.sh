#!/usr/bin/env bash
# The side-by-side benchmark (README "Benchmark"; not part of the test command): the release local
# server (memory store) against panva's node-oidc-provider (infra/bench/peer.mjs, pinned in
# infra/bench/package.json) and a bare hyper floor (infra/bench/floor), all on 127.0.0.1, driven by
# Debian's wrk with the Lua scripts beside this file. Prints its tables as markdown on stdout.
#
#   bash infra/bench/bench.sh
#
# Environment: BENCH_SECONDS (10, per row and server), BENCH_WARMUP (2, unrecorded, before each
# row), BENCH_CONNECTIONS (32), BENCH_THREADS (2), BENCH_SUSTAINED (60, seconds of the sustained
# device authorization run per server), BENCH_SLICE (5, seconds per slice of it),
# BENCH_SKIP_BUILD=1 (use the binaries already built).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bench_dir="$root/infra/bench"

seconds=${BENCH_SECONDS:-10}
warmup=${BENCH_WARMUP:-2}
connections=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
sustained=${BENCH_SUSTAINED:-60}
slice=${BENCH_SLICE:-5}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ping-as/target}"

say() { echo "== $*" >&2; }

# --- tools --------------------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
  say "installing Debian's wrk"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk >/dev/null
fi
for tool in node npm curl python3 flock; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is needed" >&2; exit 1; }
done

# --- build --------------------------------------------------------------------------------------
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  say "building the release local server and the floor"
  flock /tmp/cargo.lock cargo build -q --profile server -p local-server
  flock /tmp/cargo.lock cargo build -q --release --locked --manifest-path "$bench_dir/floor/Cargo.toml"
  say "installing node-oidc-provider (npm ci)"
  npm ci --prefix "$bench_dir" --no-audit --no-fund --loglevel=error >/dev/null
fi
ours_bin="$CARGO_TARGET_DIR/server/local-server"
floor_bin="$CARGO_TARGET_DIR/release/bench-floor"

# --- processes: every one started here is stopped on exit ---------------------------------------
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # URL PID NAME
  for _ in $(seq 1 300); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "bench: $3 exited at start:" >&2; cat "$work/$3.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "bench: $3 did not answer $1" >&2; exit 1
}

kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; } # PID VmRSS|VmHWM -> KiB

env_id=00000000-0000-4000-8000-000000000001
device_app=00000000-0000-4000-8000-0000000000d1
admin_app=00000000-0000-4000-8000-0000000000b1
admin_secret=demo-admin-secret
device_grant=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code

# start_ours: a fresh local server on a free port -> ours, ours_pid.
start_ours() {
  local port
  port=$(free_port)
  ours="http://127.0.0.1:$port"
  env -u STORE -u PUBLIC_BASE_URL -u SERVER_SECRET_ID -u HASH_KEY -u ES256_PRIVATE_KEY -u RS256_PRIVATE_KEY \
    DEVICE_AUTHORIZATION_PER_NETWORK_PER_MINUTE=0 DEVICE_AUTHORIZATION_PER_CLIENT_PER_MINUTE=0 \
    PUBLIC_BASE_URL="$ours" "$ours_bin" --addr "127.0.0.1:$port" >/dev/null 2>"$work/ours.log" &
  ours_pid=$!
  pids+=("$ours_pid")
  wait_http "$ours/$env_id/as/jwks" "$ours_pid" ours
}
start_ours

peer_port=$(free_port)
peer="http://127.0.0.1:$peer_port"
node "$bench_dir/peer.mjs" "$peer_port" >"$work/peer.log" 2>&1 &
peer_pid=$!
pids+=("$peer_pid")

wait_http "$peer/jwks" "$peer_pid" peer
ours_start_rss=$(kib "$ours_pid" VmRSS)
peer_start_rss=$(kib "$peer_pid" VmRSS)

# The floor answers every request with the bytes and content type of our JWKS.
curl -sf -o "$work/jwks.json" -w '%{content_type}' "$ours/$env_id/as/jwks" >"$work/jwks.type"
floor_port=$(free_port)
floor="http://127.0.0.1:$floor_port"
"$floor_bin" "127.0.0.1:$floor_port" "$work/jwks.json" "$(cat "$work/jwks.type")" >"$work/floor.log" 2>&1 &
floor_pid=$!
pids+=("$floor_pid")
wait_http "$floor/" "$floor_pid" floor

# --- measuring ----------------------------------------------------------------------------------
results="$work/results.tsv"
: >"$results"

# run_wrk SECONDS URL SCRIPT BODY AUTHORIZATION -> the BENCH line of infra/bench/status.lua
run_wrk() {
  local out="$work/wrk.out"
  BENCH_LUA_DIR="$bench_dir" BENCH_BODY="$4" BENCH_AUTHORIZATION="$5" \
    wrk -t"$threads" -c"$connections" -d"$1s" -s "$bench_dir/$3" "$2" >"$out" 2>&1 || true
  grep '^BENCH ' "$out" || { echo "bench: wrk gave no result for $2:" >&2; cat "$out" >&2; exit 1; }
}

# measure ROW SERVER URL SCRIPT BODY AUTHORIZATION [WARMUP_BODY]: a warm-up (unrecorded; with its
# own body where the body's state matters), then the recorded run.
measure() {
  local row=$1 server=$2 url=$3 script=$4 body=$5 auth=$6 warm_body=${7:-$5}
  if [ "$warmup" -gt 0 ]; then run_wrk "$warmup" "$url" "$script" "$warm_body" "$auth" >/dev/null; fi
  say "$row: $server"
  printf '%s\t%s\t%s\n' "$row" "$server" "$(run_wrk "$seconds" "$url" "$script" "$body" "$auth")" >>"$results"
}

json_field() { python3 -c "import sys, json; print(json.load(sys.stdin)['$1'])"; }
ours_code() { curl -sf -d "client_id=$device_app" -d scope=openid "$ours/$env_id/as/device_authorization" | json_field device_code; }
peer_code() { curl -sf -d client_id=device -d scope=openid "$peer/device/auth" | json_field device_code; }

basic_ours="Basic $(printf '%s:%s' "$admin_app" "$admin_secret" | base64 -w0)"
basic_peer="Basic $(printf 'worker:worker-secret' | base64 -w0)"

measure cc ours "$ours/$env_id/as/token" post.lua "grant_type=client_credentials" "$basic_ours"
measure cc peer "$peer/token" post.lua "grant_type=client_credentials" "$basic_peer"
measure jwks ours "$ours/$env_id/as/jwks" get.lua "" ""
measure jwks peer "$peer/jwks" get.lua "" ""
measure discovery ours "$ours/$env_id/as/.well-known/openid-configuration" get.lua "" ""
measure discovery peer "$peer/.well-known/openid-configuration" get.lua "" ""
measure floor floor "$floor/" get.lua "" ""

# One device code per server for the two poll rows, created just before them (the peer's memory
# adapter keeps only the newest 1000 entries), and one more for the warm-ups, so the recorded pending row starts on a code never polled.
ours_dc=$(ours_code); ours_warm_dc=$(ours_code)
peer_dc=$(peer_code); peer_warm_dc=$(peer_code)
poll() { printf 'grant_type=%s&device_code=%s&client_id=%s' "$device_grant" "$1" "$2"; }
# Pending: the code's first poll answers authorization_pending; ours answers slow_down to every
# later poll sooner than the interval (5 s, +5 s per slow_down, RFC 8628 §3.5).
measure pending ours "$ours/$env_id/as/token" post.lua "$(poll "$ours_dc" "$device_app")" "" \
  "$(poll "$ours_warm_dc" "$device_app")"
measure pending peer "$peer/token" post.lua "$(poll "$peer_dc" device)" "" "$(poll "$peer_warm_dc" device)"
# slow_down: the same codes again; ours' poll log of that code is full by now (it stops recording
# polls past the grant's life / interval + 64), so each answer is slow_down without a store write.
# node-oidc-provider has no slow_down: it answers authorization_pending.
measure slowdown ours "$ours/$env_id/as/token" post.lua "$(poll "$ours_dc" "$device_app")" ""
measure slowdown peer "$peer/token" post.lua "$(poll "$peer_dc" device)" ""
measure devauth ours "$ours/$env_id/as/device_authorization" post.lua "client_id=$device_app&scope=openid" ""
measure devauth peer "$peer/device/auth" post.lua "client_id=device&scope=openid" ""

# The sustained run: device authorization, SLICE-second wrk runs back to back, RSS after each. Ours
# starts afresh with 1,000 live grants and runs at least SUSTAINED seconds and until it holds
# 1,000,000 live grants (device codes live 10 minutes, so every grant created stays live), at most
# 40 slices; the peer runs SUSTAINED seconds.
ours_first_hwm=$(kib "$ours_pid" VmHWM)
kill "$ours_pid"; wait "$ours_pid" 2>/dev/null || true
start_ours
python3 - "$ours/$env_id/as/device_authorization" "$device_app" <<'PY'
import http.client, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
conn = http.client.HTTPConnection(url.hostname, url.port)
body = urllib.parse.urlencode({"client_id": sys.argv[2], "scope": "openid"})
for _ in range(1000):
    conn.request("POST", url.path, body, {"Content-Type": "application/x-www-form-urlencoded"})
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 200, answer.status
PY
min_slices=$(( (sustained + slice - 1) / slice ))
for server in ours peer; do
  if [ "$server" = ours ]; then
    url="$ours/$env_id/as/device_authorization"; body="client_id=$device_app&scope=openid"; pid=$ours_pid
  else
    url="$peer/device/auth"; body="client_id=device&scope=openid"; pid=$peer_pid
  fi
  say "sustained device authorization: $server, slices of ${slice}s"
  live=1000
  i=0
  while :; do
    i=$((i + 1))
    line=$(run_wrk "$slice" "$url" post.lua "$body" "")
    printf 'slice%s\t%s\t%s rss_kib=%s live_before=%s\n' "$i" "$server" "$line" "$(kib "$pid" VmRSS)" "$live" >>"$results"
    created=$(sed -n 's/.*mix=\(.*\)/\1/p' <<<"$line" | tr ',' '\n' | awk -F: '$1 == "200" { print $2 }')
    live=$((live + ${created:-0}))
    [ "$i" -ge 40 ] && break
    [ "$i" -lt "$min_slices" ] && continue
    [ "$server" = peer ] || [ "$live" -ge 1000000 ] && break
  done
  [ "$server" = ours ] && printf 'live\tours\tBENCH live=%s\n' "$live" >>"$results"
done

{
  printf 'peak\tours\tBENCH hwm_kib=%s start_kib=%s\n' "$ours_first_hwm" "$ours_start_rss"
  printf 'peak\tsustained\tBENCH hwm_kib=%s\n' "$(kib "$ours_pid" VmHWM)"
  printf 'peak\tpeer\tBENCH hwm_kib=%s start_kib=%s\n' "$(kib "$peer_pid" VmHWM)" "$peer_start_rss"
  printf 'peak\tfloor\tBENCH hwm_kib=%s start_kib=0\n' "$(kib "$floor_pid" VmHWM)"
} >>"$results"

# --- the table ----------------------------------------------------------------------------------
machine="$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(date -u '+%Y-%m-%d %H:%M UTC')"
versions="local-server server-profile build (release, aws-lc for speed; memory store); node-oidc-provider \
$(node -p "require('$bench_dir/node_modules/oidc-provider/package.json').version") on Node.js $(node --version); \
$({ wrk --version 2>&1 || true; } | awk 'NR == 1 { print $1, $2 }')"
BENCH_MACHINE="$machine" BENCH_VERSIONS="$versions" BENCH_SETTINGS="$connections connections, $threads wrk threads, \
${seconds} s per row and server after a ${warmup} s warm-up; sustained: slices of ${slice} s, at least ${sustained} s per server" \
  python3 - "$results" <<'PY'
import os, sys

rows = {}
for line in open(sys.argv[1]):
    row, server, rest = line.rstrip("\n").split("\t")
    fields = {}
    for part in rest.split(" ")[1:]:
        k, _, v = part.partition("=")
        fields[k] = v
    rest_mix = rest.split(" mix=", 1)
    if len(rest_mix) == 2:
        fields["mix"] = rest_mix[1].split(" rss_kib=")[0]
    rows[(row, server)] = fields


def rps(f):
    return int(f["requests"]) / (int(f["duration_us"]) / 1e6)


def ms(us):
    us = int(us)
    return f"{us / 1000:.2f}" if us < 10_000 else f"{us / 1000:.0f}"


def mix(f):
    parts = [p.rpartition(":") for p in f.get("mix", "").split(",") if p]
    errors = int(f.get("socket_errors", "0"))
    if errors:
        parts.append(("socket errors", ":", str(errors)))
    if len(parts) == 1 and not errors:
        return parts[0][0]
    return ", ".join(f"{k} ×{int(n):,}" for k, _, n in parts)


def mb(kib):
    return f"{int(kib) / 1024:.0f} MB"


labels = [
    ("devauth", "device authorization"),
    ("pending", "pending poll (one code; its 1st poll)"),
    ("slowdown", "slow_down poll (the same code after)"),
    ("cc", "client_credentials token"),
    ("jwks", "JWKS"),
    ("discovery", "discovery"),
]
print(f"Machine: {os.environ['BENCH_MACHINE']}.  ")
print(f"{os.environ['BENCH_VERSIONS']}; {os.environ['BENCH_SETTINGS']}.")
print()
print("| endpoint | ours req/s | p50 ms | p99 ms | peer req/s | p50 ms | p99 ms | ratio | ours answered | peer answered |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
for key, label in labels:
    o, p = rows[(key, "ours")], rows[(key, "peer")]
    print(f"| {label} | {rps(o):,.0f} | {ms(o['p50_us'])} | {ms(o['p99_us'])} | {rps(p):,.0f} | {ms(p['p50_us'])} | "
          f"{ms(p['p99_us'])} | {rps(o) / rps(p):.2f}x | {mix(o)} | {mix(p)} |")
fl, oj = rows[("floor", "floor")], rows[("jwks", "ours")]
print(f"| floor: bare hyper, our JWKS bytes | {rps(fl):,.0f} | {ms(fl['p50_us'])} | {ms(fl['p99_us'])} | | | | "
      f"ours JWKS = {rps(oj) / rps(fl):.2f}x floor | {mix(fl)} | |")
print()
po, pp, pf = rows[("peak", "ours")], rows[("peak", "peer")], rows[("peak", "floor")]
print(f"Peak RSS (VmHWM, at the end): ours {mb(po['hwm_kib'])} (at start {mb(po['start_kib'])}), "
      f"peer {mb(pp['hwm_kib'])} (at start {mb(pp['start_kib'])}), floor {mb(pf['hwm_kib'])}.")
print()
slices = sorted({int(r[5:]) for r, _ in rows if r.startswith("slice")})
print("Sustained device authorization, one wrk run per slice, RSS (VmRSS) after each; ours from a fresh "
      "start with 1,000 live grants (every grant stays live: device codes last 10 minutes):")
print()
print("| slice | ours live grants before | ours req/s | p99 ms | ours answered | ours RSS | peer req/s | p99 ms | peer answered | peer RSS |")
print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: |")
for i in slices:
    o = rows[(f"slice{i}", "ours")]
    p = rows.get((f"slice{i}", "peer"))
    peer = (f"{rps(p):,.0f} | {ms(p['p99_us'])} | {mix(p)} | {mb(p['rss_kib'])}" if p else " | | | ")
    print(f"| {i} | {int(o['live_before']):,} | {rps(o):,.0f} | {ms(o['p99_us'])} | {mix(o)} | {mb(o['rss_kib'])} | {peer} |")
if slices:
    ours_slices = [rows[(f"slice{i}", "ours")] for i in slices]
    first, last = ours_slices[0], ours_slices[-1]
    print(f"\nours: last slice / first slice = {rps(last) / rps(first):.2f}", end="")
    million = next((o for o in ours_slices if int(o["live_before"]) >= 1_000_000), None)
    if million:
        print(f"; at {int(first['live_before']):,} live grants {rps(first):,.0f} req/s, at "
              f"{int(million['live_before']):,} live grants {rps(million):,.0f} req/s "
              f"({rps(million) / rps(first):.2f})", end="")
    live = int(rows[("live", "ours")]["live"])
    grown = int(last["rss_kib"]) - int(first["rss_kib"])
    grants = live - int(first["live_before"]) - sum(
        int(n) for k, _, n in (p.rpartition(":") for p in first.get("mix", "").split(",") if p) if k == "200")
    if grants > 0:
        print(f"; memory per live grant: {grown * 1024 / grants:,.0f} bytes (RSS growth from the first to the last "
              f"slice over the {grants:,} grants created in between; {mb(rows[('peak', 'sustained')]['hwm_kib'])} "
              f"peak with {live:,} live)", end="")
    peer_slices = [rows[(f"slice{i}", "peer")] for i in slices if (f"slice{i}", "peer") in rows]
    if peer_slices:
        print(f"\npeer: last slice / first slice = {rps(peer_slices[-1]) / rps(peer_slices[0]):.2f}", end="")
    print()
PY

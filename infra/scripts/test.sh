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

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== starting the DynamoDB-compatible server"
log=$(mktemp)
"$venv/bin/python" infra/test-services/dynamodb_server.py 0 >"$log" 2>&1 &
ddb_pid=$!
trap 'kill "$ddb_pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  grep -q '^DYNAMODB_ENDPOINT_URL=' "$log" && break
  kill -0 "$ddb_pid" 2>/dev/null || { cat "$log"; echo "the DynamoDB server did not start" >&2; exit 1; }
  sleep 0.2
done
export "$(grep -m1 '^DYNAMODB_ENDPOINT_URL=' "$log")"
echo "   $DYNAMODB_ENDPOINT_URL"

echo "== cargo test"
cargo test --workspace --no-fail-fast 2>&1 | tee "$CARGO_TARGET_DIR/test-output.txt"
status=${PIPESTATUS[0]}

passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$CARGO_TARGET_DIR/test-output.txt" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$CARGO_TARGET_DIR/test-output.txt" | awk '{s+=$1} END {print s+0}')
ignored=$(grep -Eo '[0-9]+ ignored' "$CARGO_TARGET_DIR/test-output.txt" | awk '{s+=$1} END {print s+0}')
if [ "$ignored" != "0" ]; then
  echo "error: $ignored tests are ignored; the full run skips nothing" >&2
  status=1
fi
echo "$passed passed, $failed failed"
exit "$status"

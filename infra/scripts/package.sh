#!/usr/bin/env bash
# Builds the deployable artifacts: `sam build` (rust-cargolambda: cargo-lambda + zig) gives an
# arm64 `bootstrap` per function under .aws-sam/build; each is zipped to report its size
# (budget: 3 MB = 3,000,000 bytes a function). Tools are pinned in infra/scripts/tools-requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."

tools_req=infra/scripts/tools-requirements.txt
tools="$HOME/.cache/ping-as/tools-$(sha256sum "$tools_req" | cut -c1-12)"
if [ ! -x "$tools/bin/sam" ]; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check -r "$tools_req"
fi
export PATH="$tools/bin:$PATH" SAM_CLI_TELEMETRY=0
# sam build runs cargo lambda in the project; keep its target dir warm between builds.
export CARGO_TARGET_DIR="${LAMBDA_TARGET_DIR:-$HOME/.cache/ping-as/target-lambda}"

sam build --template template.yaml --beta-features

printf '%-34s %12s %12s\n' function bootstrap zipped
over=0
for dir in .aws-sam/build/*/; do
  fn=$(basename "$dir")
  [ -f "$dir/bootstrap" ] || continue
  raw=$(stat -c %s "$dir/bootstrap")
  zipped=$(cd "$dir" && python3 -c "import io,zipfile;b=io.BytesIO();z=zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED);z.write('bootstrap');z.close();print(len(b.getvalue()))")
  printf '%-34s %12s %12s\n' "$fn" "$raw" "$zipped"
  [ "$zipped" -le 3000000 ] || over=1
done
[ "$over" = 0 ] || { echo "a function is over the 3 MB zip budget" >&2; exit 1; }

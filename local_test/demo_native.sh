#!/usr/bin/env bash
# demo_native.sh: builds mls (Release), trains the pulsar forest on test_dir/ (laid out like
# /opt/ml), then serves it on port ${PORT:-8080} until Ctrl-C. No Docker needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cmake --preset release -S "$root" >/dev/null
cmake --build "$root/build/release" --target mls
mls="$root/build/release/server/mls"
dir="$here/test_dir"
rm -rf "$dir/model" "$dir/output"
"$mls" train --input-dir "$dir/input" --model-dir "$dir/model" --output-dir "$dir/output"
echo
echo "Serving on http://localhost:${PORT:-8080} - try, in another terminal:"
echo "  $here/predict.sh $here/payloads/pulsar.csv text/csv"
echo
exec "$mls" serve --port "${PORT:-8080}" --model-dir "$dir/model"

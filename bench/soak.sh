#!/usr/bin/env bash
# bench/soak.sh [soak.py flags]: the soak test on the release build (see bench/soak.py --help),
# e.g. `bench/soak.sh --duration 60`. MLS_BIN picks another executable.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exec /usr/bin/python3 "$root/bench/soak.py" --mls "${MLS_BIN:-$root/build/release/server/mls}" "$@"

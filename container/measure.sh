#!/usr/bin/env bash
# measure.sh IMAGE [MODEL_DIR]: the image's three figures, as container/README.md reports them.
#   size         `docker image inspect` .Size, in MB (10^6 bytes, as `docker images` shows)
#   start-up     `docker run -d` issued -> first 200 from /ping, ms, median (and min/max) of RUNS
#   idle memory  `docker stats --no-stream` MEM USAGE of a serving container, 5 s after ready
# MODEL_DIR (default local_test/test_dir/model, from train_local.sh) is mounted at /opt/ml/model,
# so the figures include loading and warming up those models (pulsar/ and xray/).
# Environment: RUNS (10), PORT (18089). Needs curl and python3 (for the clock and the median).
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  [ $# -ge 1 ] && exit 0 || exit 2
fi
image=$1
here=$(cd "$(dirname "$0")" && pwd)
model_dir=$(cd "${2:-$here/../local_test/test_dir/model}" && pwd)
runs=${RUNS:-10}
port=${PORT:-18089}
prefix=mls-measure-$$
name=
now_ms() { date +%s%3N; }
cleanup() { [ -z "$name" ] || docker rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

size=$(docker image inspect -f '{{.Size}}' "$image")
echo "image size: $(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }') MB"

times=()
for i in $(seq "$runs"); do
  # A name per run: `--rm` removes a stopped container asynchronously.
  name=$prefix-$i
  start=$(now_ms)
  docker run -d --rm --name "$name" -p "127.0.0.1:$port:8080" -v "$model_dir:/opt/ml/model:ro" \
    "$image" serve >/dev/null
  # 1 ms polls: the figure is meant to be the container's, not the poll interval's.
  until curl -fs -o /dev/null "http://127.0.0.1:$port/ping"; do
    [ $(( $(now_ms) - start )) -lt 30000 ] || { echo "no /ping 200 within 30 s" >&2; docker logs "$name" >&2; exit 1; }
    sleep 0.001
  done
  times+=($(( $(now_ms) - start )))
  if [ ${#times[@]} -lt "$runs" ]; then
    docker stop "$name" >/dev/null
  fi
done
printf '%s\n' "${times[@]}" | python3 -c '
import statistics, sys
t = [int(x) for x in sys.stdin.read().split()]
print(f"docker run -> first /ping 200: median {statistics.median(t):.0f} ms (min {min(t)}, max {max(t)}, n={len(t)}): {t}")'

sleep 5
echo "idle memory: $(docker stats --no-stream --format '{{.MemUsage}}' "$name")"

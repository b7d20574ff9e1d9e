#!/usr/bin/env bash
# serve_local.sh IMAGE [SERVE_FLAGS...]: runs `docker run IMAGE serve` as a SageMaker endpoint
# would, on test_dir/ mounted at /opt/ml, so every model under test_dir/model/ (pulsar/, xray/)
# is served, on http://localhost:${PORT:-8080}. Runs in the foreground: Ctrl-C (or
# `docker stop mls-local` from another terminal) stops it; the exit code is the server's.
#
# Environment:
#   PORT         host port (default 8080); the container listens on 8080 as on SageMaker
#   BIND         host address to publish on (default 127.0.0.1; 0.0.0.0 for other machines)
#   NAME         container name (default mls-local), for `docker stop NAME` / `docker logs NAME`
#   TEST_DIR     the /opt/ml-shaped tree (default: test_dir/ next to this script)
#   DOCKER_ARGS  extra `docker run` arguments, split on spaces,
#                e.g. "--user 1000:1000" or "--read-only --tmpfs /tmp"
set -euo pipefail

# The comment block at the top is the help text.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") usage >&2; exit 2 ;;
esac
image=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "${TEST_DIR:-$here/test_dir}" && pwd)
[ -d "$dir/model" ] || { echo "serve_local.sh: no $dir/model - run train_local.sh first" >&2; exit 1; }

read -r -a extra <<<"${DOCKER_ARGS:-}"
# No -t: with a TTY docker would turn Ctrl-C into a keystroke; without it, `docker run` passes
# SIGINT/SIGTERM on to mls (PID 1), which drains and exits 0. --init is deliberately absent.
exec docker run --rm --name "${NAME:-mls-local}" "${extra[@]}" \
  -p "${BIND:-127.0.0.1}:${PORT:-8080}:8080" \
  -v "$dir:/opt/ml" \
  "$image" serve "$@"

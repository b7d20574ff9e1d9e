#!/usr/bin/env bash
# The INF2102 stack in the foreground: nginx -> gunicorn (sync workers = cores) -> Flask -> scikit-learn.
#   bench/peers/inf2102/serve.sh PORT MODEL_DIR
# MODEL_DIR holds model.pkl (train.py). No root needed: nginx and the gunicorn socket live in a prefix
# directory (NGINX_PREFIX, default a new /tmp directory). Ctrl-C or SIGTERM stops both.
set -euo pipefail
usage() { sed -n '2,5s/^# \{0,1\}//p' "$0"; }
if [[ ${1:-} == -h || ${1:-} == --help ]]; then usage; exit 0; fi
if [[ $# -ne 2 ]]; then usage >&2; exit 2; fi
port=$1
MODEL_PATH=$(cd "$2" && pwd)
export MODEL_PATH  # predictor.py loads MODEL_PATH/model.pkl
here=$(cd "$(dirname "$0")" && pwd)
prefix=${NGINX_PREFIX:-$(mktemp -d /tmp/inf2102.XXXXXX)}
mkdir -p "$prefix"
workers=${WORKERS:-$(nproc)}
sed -e "s#@PREFIX@#$prefix#g" -e "s#@PORT@#$port#g" -e "s#@USER@#$(id -un)#g" "$here/nginx.conf" >"$prefix/nginx.conf"
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
GUNICORN=${GUNICORN:-$(command -v gunicorn || echo /usr/bin/gunicorn)}

pids=()
stop() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait || true
}
trap stop EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# env -u NGINX: nginx reads a variable of that name as a list of inherited sockets.
env -u NGINX "$NGINX" -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" -g 'daemon off;' &
pids+=($!)
"$GUNICORN" --chdir "$here" -k sync -w "$workers" --timeout 60 -b "unix:$prefix/gunicorn.sock" \
  --error-logfile "$prefix/gunicorn.log" wsgi:app &
pids+=($!)
# Either one ending ends the stack.
wait -n

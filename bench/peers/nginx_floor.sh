#!/usr/bin/env bash
# Runs the nginx floor in the foreground, unprivileged, from a throw-away prefix directory:
#   bench/peers/nginx_floor.sh PORT [BODY_FILE]
# BODY_FILE holds the fixed reply (default: a forest prediction shaped like ours). Ctrl-C stops it.
set -euo pipefail
port=${1:?usage: nginx_floor.sh PORT [BODY_FILE]}
here=$(cd "$(dirname "$0")" && pwd)
body='{"predictions":[{"label":0,"class_name":"0","probabilities":{"0":1.0,"1":0.0}}]}'
if [[ $# -ge 2 ]]; then
  body=$(cat "$2"; printf x)  # the x keeps trailing newlines, which $(...) would strip
  body=${body%x}
fi
if [[ $body == *'$'* ]]; then
  echo "nginx_floor.sh: the body may not contain \$ (nginx would read a variable)" >&2
  exit 2
fi
# Escape for a single-quoted nginx string: backslash, quote, CR and LF.
body=${body//\\/\\\\}
body=${body//\'/\\\'}
body=${body//$'\r'/\\r}
body=${body//$'\n'/\\n}
prefix=${NGINX_PREFIX:-$(mktemp -d /tmp/nginx_floor.XXXXXX)}
mkdir -p "$prefix"
# The body goes in with awk, not sed: JSON is full of characters sed replacement strings treat specially.
BODY=$body PREFIX=$prefix PORT=$port awk '{
  gsub(/@PREFIX@/, ENVIRON["PREFIX"]); gsub(/@PORT@/, ENVIRON["PORT"]);
  i = index($0, "@BODY@"); if (i) $0 = substr($0, 1, i - 1) ENVIRON["BODY"] substr($0, i + 6);
  print }' "$here/nginx_floor.conf" > "$prefix/nginx.conf"
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}  # /usr/sbin is often not on a user's PATH
# env -u NGINX: nginx itself reads a variable of that name as a list of inherited sockets.
exec env -u NGINX "$NGINX" -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" -g 'daemon off;'

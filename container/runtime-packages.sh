#!/usr/bin/env bash
# runtime-packages.sh BINARY: prints, one per line, the Debian packages that own the shared
# libraries BINARY loads (per ldd). The Dockerfile's build stage runs it so the runtime stage
# installs exactly what the executable links against - no hand-kept list to drift when a
# library is added - and nothing else.
set -euo pipefail
if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  [ $# -eq 1 ] && exit 0 || exit 2
fi
ldd "$1" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]*ld-linux/{print $1}' | while read -r lib; do
  # Merged /usr: dpkg may record a library under /lib or /usr/lib, and ldd may print either;
  # an alternatives link (libopenblas.so.0) only resolves through realpath.
  real=$(realpath "$lib")
  for candidate in "$lib" "$real" "/usr${lib#/usr}" "${lib#/usr}" "/usr${real#/usr}" "${real#/usr}"; do
    if owner=$(dpkg-query -S "$candidate" 2>/dev/null); then
      echo "${owner%%:*}"
      continue 2
    fi
  done
  echo "runtime-packages: no package owns $lib" >&2
  exit 1
done | sort -u

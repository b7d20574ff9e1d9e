#!/usr/bin/env bash
# collect-libs.sh BINARY ROOT: copies the shared libraries BINARY loads (per ldd), and the
# dynamic loader, into the directory tree ROOT, then writes ROOT's ld.so.cache. The Dockerfile's
# `minimal` target is ROOT on an empty image: the executable and its libraries, no distribution.
set -euo pipefail
if [ $# -ne 2 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  [ $# -eq 1 ] && exit 0 || exit 2
fi
binary=$1
root=$2
libdir=/usr/lib/x86_64-linux-gnu
mkdir -p "$root$libdir" "$root/etc" "$root/lib64"
# Each library goes in under its soname (the name the executable asks for), dereferenced: an
# alternatives link such as libopenblas.so.0 -> openblas-pthread/ must not dangle in ROOT.
ldd "$binary" | awk '/=> \//{print $1, $3}' | while read -r soname path; do
  cp -L "$path" "$root$libdir/$soname"
done
# The loader at the path the executable names in its program header (PT_INTERP).
interp=$(ldd "$binary" | awk '/ld-linux/{print $1; exit}')
mkdir -p "$root$(dirname "$interp")"
cp -L "$interp" "$root$interp"
echo "$libdir" >"$root/etc/ld.so.conf"
ldconfig -r "$root"

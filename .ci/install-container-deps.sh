#!/usr/bin/env bash
# install-container-deps.sh: installs what building the image offline and the container tests
# need on Debian 12 (bookworm), beyond .ci/install-deps.sh. Safe to re-run.
#   debootstrap     .ci/make-base-images.sh builds debian:bookworm(-slim) with it (no registry)
#   docker.io       the engine and CLI, only when no `docker` is on PATH (a machine may have its
#                   own install); the daemon itself must be running - this script does not start it
#   curl            local_test/predict.sh
#   python3-pytest, python3-requests, python3-numpy, python3-pil   tests/container
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 0
fi
packages=(debootstrap curl python3 python3-pytest python3-requests python3-numpy python3-pil)
command -v docker >/dev/null || packages+=(docker.io)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-container-deps: everything is installed"
  exit 0
fi
echo "install-container-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

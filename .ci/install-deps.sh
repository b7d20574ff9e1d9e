#!/usr/bin/env bash
# Installs what building, testing and the demo need on Debian 12 (bookworm). Safe to re-run.
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config
  libboost-dev libssl-dev nlohmann-json3-dev libspdlog-dev prometheus-cpp-dev libcli11-dev libfast-float-dev
  libopenblas-dev libpng-dev libturbojpeg0-dev libminizip-dev
  libgtest-dev libgmock-dev
  python3 python3-pytest python3-requests python3-prometheus-client python3-numpy python3-pil
  clang-format curl
  clang libclang-rt-14-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: every Debian package is installed"
else
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
here=$(cd "$(dirname "$0")" && pwd)
# The deploy kit's tests (moto, AWS CLI, cfn-lint, kubernetes-validate in a pinned venv).
bash "$here/install-deploy-deps.sh"
# The container suite (debootstrap for the local base images).
bash "$here/install-container-deps.sh"

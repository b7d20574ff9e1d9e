#!/usr/bin/env bash
# Installs what tests/deploy needs on Debian 12 (bookworm): Debian's python3-venv, then a private venv
# with the AWS CLI, the moto mock server, cfn-lint and kubernetes-validate. Safe and quick to re-run:
# apt is skipped when its packages are present, pip when the venv already satisfies requirements.txt.
#
# The venv lives outside the clone (CI starts from a fresh clone on a machine it keeps), so a re-run
# costs a second instead of a download. Override with MLS_DEPLOY_VENV.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MLS_DEPLOY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mls/deploy-venv}"
requirements="$here/tests/deploy/requirements.txt"

# jq builds the request JSON in deploy/sagemaker; shellcheck lints those scripts in tests/deploy.
packages=(python3 python3-venv ca-certificates jq shellcheck)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deploy-deps: apt installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's interpreter on purpose: a pyenv/conda python3 earlier on PATH must not decide the venv.
if [ ! -x "$venv/bin/python" ]; then
  echo "install-deploy-deps: creating $venv"
  mkdir -p "$(dirname "$venv")"
  /usr/bin/python3 -m venv "$venv"
fi

# A stamp holding the requirements' hash: pip's own "already satisfied" check takes seconds per run,
# the stamp makes the common case (nothing changed) instant.
stamp="$venv/.mls-requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install-deploy-deps: $venv is up to date"
  exit 0
fi
echo "install-deploy-deps: pip installing tests/deploy/requirements.txt into $venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
echo "$want" >"$stamp"
echo "install-deploy-deps: done ($("$venv/bin/aws" --version 2>&1))"

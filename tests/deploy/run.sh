#!/usr/bin/env bash
# What ctest runs for the `deploy` label: make sure the deploy venv is there and current (a no-op taking
# milliseconds when it is), then run these tests with its interpreter, so the AWS CLI, moto, cfn-lint and
# kubernetes-validate are the pinned ones from tests/deploy/requirements.txt.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${MLS_DEPLOY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mls/deploy-venv}"
bash "$here/../../.ci/install-deploy-deps.sh" >&2
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$here" "$@"

#!/usr/bin/env bash
# train_local.sh IMAGE [forest|cnn]: runs `docker run IMAGE train` as a SageMaker training job
# would, on test_dir/ mounted at /opt/ml. forest (default) trains the pulsar forest on
# test_dir/input/ into test_dir/model/pulsar/; cnn trains the X-ray CNN on test_dir/input-cnn/
# into test_dir/model/xray/. Both models then serve side by side (serve_local.sh).
#
# Environment:
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
kind=${2:-forest}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "${TEST_DIR:-$here/test_dir}" && pwd)

# One /opt/ml tree holds both jobs' inputs; each job sees its own as /opt/ml/input (a second
# bind mount over the first) and writes its model into its own sub-directory of model/, which
# is the layout `serve` loads several models from.
case "$kind" in
  forest) input=input;     name=pulsar ;;
  cnn)    input="input-cnn"; name=xray ;;
  *) echo "train_local.sh: unknown model '$kind' (forest or cnn)" >&2; exit 2 ;;
esac
[ -d "$dir/$input/config" ] || { echo "train_local.sh: $dir/$input/config is missing" >&2; exit 1; }

# Created here, by the caller, so that docker does not create them as root-owned directories
# a non-root container user could not write; an old model is emptied out rather than the
# directory re-created, so its owner (say, the uid given in DOCKER_ARGS) stays.
mkdir -p "$dir/model/$name" "$dir/output" "$dir/checkpoints"
find "$dir/model/$name" -mindepth 1 -delete
# A model at the top of model/ (what demo_native.sh writes) would make `serve` take model/ as that
# one model and ignore pulsar/ and xray/: it goes.
if [ -e "$dir/model/manifest.json" ]; then
  echo "train_local.sh: removing the single model at the top of $dir/model (from demo_native.sh)" >&2
  find "$dir/model" -mindepth 1 -maxdepth 1 -type f -delete
fi

read -r -a extra <<<"${DOCKER_ARGS:-}"
exec docker run --rm "${extra[@]}" \
  -v "$dir:/opt/ml" \
  -v "$dir/$input:/opt/ml/input" \
  -v "$dir/model/$name:/opt/ml/model" \
  "$image" train

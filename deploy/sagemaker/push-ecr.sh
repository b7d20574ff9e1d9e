#!/usr/bin/env bash
# Builds (optionally) and pushes the image to this account's ECR repository, creating the repository with
# the cost-allocation tags when it does not exist. Prints the image URI the other scripts take.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<'EOF2'
Usage: push-ecr.sh [--local-image IMAGE] [--build] [--skip-push] [options]

  --local-image IMAGE  the image on this machine to push (default mls:latest)
  --build              first `docker build -f container/Dockerfile -t IMAGE .` from the repository root
  --skip-push          only create/check the repository and print the URI (no docker needed)

The target is IMAGE_URI, by default <account>.dkr.ecr.<region>.amazonaws.com/<ECR_REPOSITORY>:<IMAGE_TAG>.
Logs docker in with `aws ecr get-login-password`. ECR bills storage (about $0.10 per GB-month; the image is
under 100 MB), not hours, so this asks no confirmation.
EOF2
}

parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
local_image=mls:latest build=0 push=1
while [ $# -gt 0 ]; do
  case "$1" in
    --local-image) local_image=$2; shift ;;
    --build) build=1 ;;
    --skip-push) push=0 ;;
    *) die 2 "unknown option $1 (see --help)" ;;
  esac
  shift
done

uri=$(image_uri)
registry=${uri%%/*}
repository=${uri#*/}
repository=${repository%%[:@]*}

# describe first: create-repository on an existing one fails, and a re-run must be harmless.
if [ -n "$DRY_RUN" ] || ! aws_read ecr describe-repositories --repository-names "$repository" >/dev/null 2>&1; then
  aws_call ecr create-repository "$(jq -cn --arg r "$repository" --argjson tags "$(tags_json)" \
    '{repositoryName:$r, imageTagMutability:"MUTABLE", imageScanningConfiguration:{scanOnPush:true}, tags:$tags}')" >/dev/null
  note "created ECR repository $repository"
else
  note "ECR repository $repository exists"
fi

if [ "$build" = 1 ]; then
  root="$(cd "$MLS_DEPLOY_DIR/../.." && pwd)"
  docker build -f "$root/container/Dockerfile" -t "$local_image" "$root"
fi
if [ "$push" = 1 ]; then
  [ -z "$DRY_RUN" ] || die 2 "--dry-run cannot push; add --skip-push"
  aws_read ecr get-login-password | docker login --username AWS --password-stdin "$registry"
  docker tag "$local_image" "$uri"
  docker push "$uri"
fi
echo "$uri"

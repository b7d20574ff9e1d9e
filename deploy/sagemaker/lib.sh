# Sourced by every script in deploy/sagemaker: option parsing shared by all of them, configuration,
# tags, the billing confirmation, the state file teardown.sh reads, and the one place that calls `aws`.
# Needs bash >= 4, the AWS CLI (v1 or v2) and jq.

MLS_DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() {
  local code=$1
  shift
  echo "error: $*" >&2
  exit "$code"
}
note() { echo "$*" >&2; }

common_usage() {
  cat <<'EOF'
Common options (each also read from the environment variable in brackets, then from config.env):
  --config FILE          configuration file [MLS_DEPLOY_CONFIG] (default: deploy/sagemaker/config.env)
  --region REGION        [AWS_REGION] (default us-east-1)
  --account ID           [AWS_ACCOUNT_ID] (default: from `aws sts get-caller-identity`)
  --image-uri URI        [IMAGE_URI] (default <account>.dkr.ecr.<region>.amazonaws.com/<ECR_REPOSITORY>:<IMAGE_TAG>)
  --role-arn ARN         [ROLE_ARN] SageMaker execution role (default arn:aws:iam::<account>:role/<project>-sagemaker-execution)
  --bucket NAME          [BUCKET] (default sagemaker-<region>-<account>)
  --instance-type TYPE   [INSTANCE_TYPE, or TRAINING_/HOSTING_/TRANSFORM_INSTANCE_TYPE] (default ml.m5.large)
  --project NAME         [PROJECT] cost-allocation tag Project, and the prefix of every name (default mls)
  --environment NAME     [ENVIRONMENT] tag Environment (default dev)
  --owner NAME           [OWNER] tag Owner (default $USER)
  --endpoint-url URL     [AWS_ENDPOINT_URL] send every API call there (a mock such as moto)
  --state-dir DIR        [MLS_DEPLOY_STATE_DIR] where created resources are recorded for teardown.sh
  --yes                  [MLS_DEPLOY_YES=1] do not ask before creating something that bills
  --dry-run DIR          write each mutating request as JSON into DIR instead of sending it
  -h, --help             this help
EOF
}

# parse_common "$@": takes the common options, leaves the script's own in the array REST.
parse_common() {
  REST=()
  local -A flag=()
  while [ $# -gt 0 ]; do
    case "$1" in
      -h | --help)
        usage
        echo
        common_usage
        exit 0
        ;;
      --yes) flag[yes]=1 ;;
      --config | --region | --account | --image-uri | --role-arn | --bucket | --instance-type | \
        --project | --environment | --owner | --endpoint-url | --state-dir | --dry-run)
        [ $# -ge 2 ] || die 2 "$1 needs a value"
        flag[${1#--}]=$2
        shift
        ;;
      *) REST+=("$1") ;;
    esac
    shift
  done
  local config="${flag[config]:-${MLS_DEPLOY_CONFIG:-$MLS_DEPLOY_DIR/config.env}}"
  [ -f "$config" ] || die 2 "no configuration file $config"
  # Flags first, so config.env's derived defaults (S3_PREFIX from PROJECT...) see them.
  [ -n "${flag[region]:-}" ] && AWS_REGION=${flag[region]}
  [ -n "${flag[account]:-}" ] && AWS_ACCOUNT_ID=${flag[account]}
  [ -n "${flag[image-uri]:-}" ] && IMAGE_URI=${flag[image-uri]}
  [ -n "${flag[role-arn]:-}" ] && ROLE_ARN=${flag[role-arn]}
  [ -n "${flag[bucket]:-}" ] && BUCKET=${flag[bucket]}
  [ -n "${flag[project]:-}" ] && PROJECT=${flag[project]}
  [ -n "${flag[environment]:-}" ] && ENVIRONMENT=${flag[environment]}
  [ -n "${flag[owner]:-}" ] && OWNER=${flag[owner]}
  [ -n "${flag[endpoint-url]:-}" ] && AWS_ENDPOINT_URL=${flag[endpoint-url]}
  [ -n "${flag[state-dir]:-}" ] && MLS_DEPLOY_STATE_DIR=${flag[state-dir]}
  # shellcheck source=config.env
  . "$config"
  # --instance-type names the type of whatever the calling script creates.
  # shellcheck disable=SC2034 # read by the calling script
  INSTANCE_TYPE_FLAG=${flag[instance-type]:-}
  ASSUME_YES=${flag[yes]:-${MLS_DEPLOY_YES:-0}}
  DRY_RUN=${flag[dry-run]:-}
  [ -n "$DRY_RUN" ] && mkdir -p "$DRY_RUN"
  command -v jq >/dev/null || die 2 "jq is needed (apt-get install jq)"
  if [ -z "$DRY_RUN" ]; then command -v aws >/dev/null || die 2 "the AWS CLI is needed (aws)"; fi
  export AWS_REGION AWS_DEFAULT_REGION="$AWS_REGION"
  validate_name "$PROJECT" "--project"
  validate_name "$ENVIRONMENT" "--environment"
}

# SageMaker names: letters, digits and inner hyphens, 63 characters at most.
validate_name() {
  [[ $1 =~ ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$ ]] || die 2 "$2 '$1': use letters, digits and inner hyphens only"
}

aws_args() {
  AWS_ARGS=(--region "$AWS_REGION" --output json)
  [ -n "${AWS_ENDPOINT_URL:-}" ] && AWS_ARGS+=(--endpoint-url "$AWS_ENDPOINT_URL")
  return 0
}

# A read-only call (describe/list): always sent, even with --dry-run when there is an endpoint to ask.
aws_read() {
  aws_args
  aws "${AWS_ARGS[@]}" "$@"
}

# aws_call SERVICE OPERATION JSON: a mutating call with its whole request as JSON (--cli-input-json), so
# --dry-run can write exactly what would be sent and tests can check it against the API's model.
aws_call() {
  local service=$1 operation=$2 json=$3
  if [ -n "$DRY_RUN" ]; then
    local n file
    n=$(find "$DRY_RUN" -maxdepth 1 -name '*.json' | wc -l)
    file=$(printf '%s/%03d-%s-%s.json' "$DRY_RUN" $((n + 1)) "$service" "$operation")
    jq . <<<"$json" >"$file"
    note "dry-run: aws $service $operation --cli-input-json file://$file"
    echo '{}'
    return 0
  fi
  aws_args
  aws "${AWS_ARGS[@]}" "$service" "$operation" --cli-input-json "$json"
}

account_id() {
  if [ -z "${AWS_ACCOUNT_ID:-}" ]; then
    [ -z "$DRY_RUN" ] || die 2 "--dry-run needs --account"
    AWS_ACCOUNT_ID=$(aws_read sts get-caller-identity --query Account --output text)
  fi
  echo "$AWS_ACCOUNT_ID"
}
image_uri() {
  [ -n "${IMAGE_URI:-}" ] || IMAGE_URI="$(account_id).dkr.ecr.${AWS_REGION}.amazonaws.com/${ECR_REPOSITORY}:${IMAGE_TAG}"
  echo "$IMAGE_URI"
}
role_arn() {
  [ -n "${ROLE_ARN:-}" ] || ROLE_ARN="arn:aws:iam::$(account_id):role/${PROJECT}-sagemaker-execution"
  echo "$ROLE_ARN"
}
bucket() {
  [ -n "${BUCKET:-}" ] || BUCKET="sagemaker-${AWS_REGION}-$(account_id)"
  echo "$BUCKET"
}
s3_base() { echo "s3://$(bucket)/${S3_PREFIX}"; }

# The cost-allocation tags every resource carries. ManagedBy tells a person in the console where it came from.
tags_json() {
  jq -cn --arg p "$PROJECT" --arg e "$ENVIRONMENT" --arg o "$OWNER" \
    '[{Key:"Project",Value:$p},{Key:"Environment",Value:$e},{Key:"Owner",Value:$o},{Key:"ManagedBy",Value:"mls-deploy"}]'
}

# A name unique per second and per run: PROJECT-ENVIRONMENT-KIND-YYYYMMDD-HHMMSS-RRRR, cut to MAX characters.
make_name() {
  local kind=$1 max=${2:-63} stamp name
  stamp="$(date -u +%Y%m%d-%H%M%S)-$(printf '%04x' $((RANDOM % 65536)))"
  name="${PROJECT}-${ENVIRONMENT}-${kind}"
  name="${name:0:$((max - ${#stamp} - 1))}"
  name="${name%-}-${stamp}"
  echo "$name"
}

# Hourly on-demand prices for the warning, us-east-1, as listed in deploy/README.md (prices vary by region).
hourly_price() {
  case "$1" in
    ml.t2.medium) echo "\$0.056/h" ;;
    ml.t3.medium) echo "\$0.05/h" ;;
    ml.m5.large) echo "\$0.115/h" ;;
    ml.m5.xlarge) echo "\$0.23/h" ;;
    *) echo 'see https://aws.amazon.com/sagemaker/pricing/' ;;
  esac
}

# confirm_billing WHAT: say what is about to bill and how much, then require --yes, MLS_DEPLOY_YES=1 or a
# typed "yes" on a terminal. A dry run bills nothing and goes on.
confirm_billing() {
  note "WARNING: this creates billable AWS resources: $1"
  note "         (us-east-1 on-demand prices; other regions differ — see deploy/README.md)."
  [ -n "$DRY_RUN" ] && return 0
  [ "$ASSUME_YES" = 1 ] && return 0
  if [ -t 0 ]; then
    local answer
    read -r -p "Type yes to go on: " answer
    [ "$answer" = yes ] && return 0
  fi
  die 3 "not confirmed: pass --yes or set MLS_DEPLOY_YES=1 to create billable resources"
}

# The state file: one "KIND NAME" line per resource created, read by teardown.sh.
state_file() { echo "${MLS_DEPLOY_STATE_DIR}/${PROJECT}-${ENVIRONMENT}-${AWS_REGION}.state"; }
record() {
  [ -n "$DRY_RUN" ] && return 0
  mkdir -p "$MLS_DEPLOY_STATE_DIR"
  echo "$1 $2" >>"$(state_file)"
}

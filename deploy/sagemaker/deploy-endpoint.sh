#!/usr/bin/env bash
# Model + endpoint configuration + endpoint for `mls serve`: instance-backed (billed per instance-hour,
# auto-scalable with autoscale.sh) or serverless (billed per request duration, scales to zero).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<'EOF'
Usage: deploy-endpoint.sh (--model-data S3URI | --training-job NAME) [options]

Creates, in order: a model (create-model), an endpoint configuration (create-endpoint-config) and an
endpoint (create-endpoint). Prints the endpoint name. The model artifact is a model.tar.gz that unpacks
to one mls model directory (manifest.json + weights), or to one sub-directory per model; a training job's
output is exactly that.

Options:
  --model-data S3URI        the model.tar.gz
  --training-job NAME       take the model.tar.gz of this (completed) training job
  --name NAME               base name (default PROJECT-ENVIRONMENT-endpoint-<time>); the model and the
                            configuration get the same name with -model / -config appended
  --serverless              a serverless variant instead of instances (no auto-scaling; 6 GiB at most)
  --memory MB               serverless memory, 1024..6144 in steps of 1024 (default 2048)
  --max-concurrency N       serverless concurrent invocations, 1..200 (default 5)
  --instance-count N        instances behind the variant (default 1; autoscale.sh changes it later)
  --env KEY=VALUE           repeatable: container environment (mls serve reads e.g. LOG_FORMAT,
                            SAGEMAKER_MODEL_SERVER_WORKERS; default LOG_FORMAT=json)
  --wait                    wait until the endpoint is InService
EOF
}

parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
model_data="" training_job="" name="" serverless=0 memory=2048 concurrency=5 count=1 wait=0
declare -A env=([LOG_FORMAT]=json)
while [ $# -gt 0 ]; do
  case "$1" in
    --model-data) model_data=$2; shift ;;
    --training-job) training_job=$2; shift ;;
    --name) name=$2; shift ;;
    --serverless) serverless=1 ;;
    --memory) memory=$2; shift ;;
    --max-concurrency) concurrency=$2; shift ;;
    --instance-count) count=$2; shift ;;
    --env)
      [[ $2 == *=* ]] || die 2 "--env wants KEY=VALUE, not '$2'"
      env[${2%%=*}]=${2#*=}
      shift
      ;;
    --wait) wait=1 ;;
    *) die 2 "unknown option $1 (see --help)" ;;
  esac
  shift
done

if [ -z "$model_data" ]; then
  [ -n "$training_job" ] || die 2 "give --model-data S3URI or --training-job NAME"
  [ -z "$DRY_RUN" ] || die 2 "--dry-run cannot look up a training job: give --model-data"
  model_data=$(aws_read sagemaker describe-training-job --training-job-name "$training_job" \
    --query ModelArtifacts.S3ModelArtifacts --output text)
  if [ -z "$model_data" ] || [ "$model_data" = None ]; then
    die 1 "training job $training_job has no model artifact (not completed?)"
  fi
fi
[[ $model_data == s3://* ]] || die 2 "--model-data must be an s3:// URI, not '$model_data'"
(( memory >= 1024 && memory <= 6144 && memory % 1024 == 0 )) || die 2 "--memory must be 1024..6144 in steps of 1024"

instance_type=${INSTANCE_TYPE_FLAG:-$HOSTING_INSTANCE_TYPE}
kind=$([ "$serverless" = 1 ] && echo serverless || echo endpoint)
# Leave room for the -config suffix within SageMaker's 63 characters.
[ -n "$name" ] || name=$(make_name "$kind" 56)
validate_name "$name" "--name"
model_name="${name}-model"
config_name="${name}-config"
tags=$(tags_json)

env_json='{}'
for k in "${!env[@]}"; do
  env_json=$(jq -c --arg k "$k" --arg v "${env[$k]}" '.[$k] = $v' <<<"$env_json")
done

if [ "$serverless" = 1 ]; then
  variant=$(jq -cn --arg m "$model_name" --argjson mem "$memory" --argjson c "$concurrency" \
    '{VariantName:"AllTraffic", ModelName:$m, ServerlessConfig:{MemorySizeInMB:$mem, MaxConcurrency:$c}}')
  confirm_billing "serverless endpoint $name: ${memory} MB, billed per second of request processing (about \$0.00002/s per GB in us-east-1) plus data processed; nothing while idle"
else
  # The container answers /ping within milliseconds; SageMaker's default startup window is kept.
  variant=$(jq -cn --arg m "$model_name" --arg t "$instance_type" --argjson n "$count" \
    '{VariantName:"AllTraffic", ModelName:$m, InstanceType:$t, InitialInstanceCount:$n, InitialVariantWeight:1}')
  confirm_billing "endpoint $name: ${count} x $instance_type at $(hourly_price "$instance_type") each, every hour until teardown.sh deletes it"
fi

aws_call sagemaker create-model "$(jq -cn --arg n "$model_name" --arg image "$(image_uri)" \
  --arg data "$model_data" --argjson env "$env_json" --arg role "$(role_arn)" --argjson tags "$tags" \
  '{ModelName:$n, PrimaryContainer:{Image:$image, Mode:"SingleModel", ModelDataUrl:$data, Environment:$env},
    ExecutionRoleArn:$role, Tags:$tags}')" >/dev/null
record model "$model_name"
note "created model $model_name ($(image_uri), $model_data)"

aws_call sagemaker create-endpoint-config "$(jq -cn --arg n "$config_name" --argjson v "$variant" \
  --argjson tags "$tags" '{EndpointConfigName:$n, ProductionVariants:[$v], Tags:$tags}')" >/dev/null
record endpoint-config "$config_name"
note "created endpoint configuration $config_name"

aws_call sagemaker create-endpoint "$(jq -cn --arg n "$name" --arg c "$config_name" --argjson tags "$tags" \
  '{EndpointName:$n, EndpointConfigName:$c, Tags:$tags}')" >/dev/null
record endpoint "$name"
note "created endpoint $name (takes a few minutes to reach InService)"
echo "$name"

if [ "$wait" = 1 ] && [ -z "$DRY_RUN" ]; then
  aws_read sagemaker wait endpoint-in-service --endpoint-name "$name"
  note "endpoint $name is InService"
fi

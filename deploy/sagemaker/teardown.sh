#!/usr/bin/env bash
# Deletes what the other scripts created for PROJECT/ENVIRONMENT: scaling policies and targets, endpoints,
# endpoint configurations and models (the things that bill by the hour or hold them up), and stops
# training, transform and tuning jobs still running. Finds them twice over: the state file the scripts
# write, and the Project/Environment tags (so a lost state file or a resource made by hand with the same
# tags is found too). Lists everything it removed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<'EOF2'
Usage: teardown.sh [options]

Deletes, for the given --project and --environment (default mls/dev) in --region:
  scaling policies and scalable targets on our endpoints' variants,
  endpoints, endpoint configurations, models (found by state file and by tags),
and stops our training, transform and tuning jobs that are still in progress (completed jobs cost
nothing and are kept as history). S3 objects and the ECR repository are left: they hold your data and
cost storage only (delete with `aws s3 rm --recursive s3://BUCKET/PROJECT/` and
`aws ecr delete-repository --force --repository-name REPO`). Asks for confirmation unless --yes.
EOF2
}

parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
[ $# -eq 0 ] || die 2 "unknown option $1 (see --help)"

state=$(state_file)
declare -A want=()   # "kind name" -> 1, in discovery order via the list below
order=()
add() {
  [ -n "${want["$1 $2"]:-}" ] && return 0
  want["$1 $2"]=1
  order+=("$1 $2")
}
if [ -f "$state" ]; then
  while read -r kind rest; do [ -n "$kind" ] && add "$kind" "$rest"; done <"$state"
fi

ours() { # ARN -> true when its tags say Project=PROJECT and Environment=ENVIRONMENT
  aws_read sagemaker list-tags --resource-arn "$1" | jq -e --arg p "$PROJECT" --arg e "$ENVIRONMENT" \
    '(.Tags | map({(.Key):.Value}) | add // {}) as $t | $t.Project == $p and $t.Environment == $e' >/dev/null
}
# A dry run has no account to ask: it plans from the state file alone.
if [ -z "$DRY_RUN" ]; then
  while read -r arn name; do
    [ -n "$arn" ] && ours "$arn" && add endpoint "$name"
  done < <(aws_read sagemaker list-endpoints --name-contains "$PROJECT" --max-items 1000 |
    jq -r '.Endpoints[] | "\(.EndpointArn) \(.EndpointName)"')
  while read -r arn name; do
    [ -n "$arn" ] && ours "$arn" && add endpoint-config "$name"
  done < <(aws_read sagemaker list-endpoint-configs --name-contains "$PROJECT" --max-items 1000 |
    jq -r '.EndpointConfigs[] | "\(.EndpointConfigArn) \(.EndpointConfigName)"')
  while read -r arn name; do
    [ -n "$arn" ] && ours "$arn" && add model "$name"
  done < <(aws_read sagemaker list-models --name-contains "$PROJECT" --max-items 1000 |
    jq -r '.Models[] | "\(.ModelArn) \(.ModelName)"')
  # Scaling targets and policies of our endpoints, whoever registered them (one listing for all endpoints).
  all_targets=$(aws_read application-autoscaling describe-scalable-targets --service-namespace sagemaker --max-items 1000)
  for key in "${order[@]}"; do
    [ "${key%% *}" = endpoint ] || continue
    ep=${key#* }
    targets=$(jq -r --arg p "endpoint/$ep/variant/" '.ScalableTargets[] | select(.ResourceId | startswith($p)) | .ResourceId' <<<"$all_targets")
    for id in $targets; do
      add scalable-target "$id"
      while read -r pol; do
        [ -n "$pol" ] && add scaling-policy "$pol $id"
      done < <(aws_read application-autoscaling describe-scaling-policies --service-namespace sagemaker \
        --resource-id "$id" | jq -r '.ScalingPolicies[].PolicyName')
    done
  done
fi

if [ ${#order[@]} -eq 0 ]; then
  note "nothing to remove for Project=$PROJECT Environment=$ENVIRONMENT in $AWS_REGION"
  exit 0
fi
note "teardown for Project=$PROJECT Environment=$ENVIRONMENT in $AWS_REGION:"
for key in "${order[@]}"; do note "  $key"; done
if [ -z "$DRY_RUN" ] && [ "$ASSUME_YES" != 1 ]; then
  if [ -t 0 ]; then
    read -r -p "Delete/stop these? Type yes: " answer
    [ "$answer" = yes ] || die 3 "not confirmed"
  else
    die 3 "not confirmed: pass --yes or set MLS_DEPLOY_YES=1"
  fi
fi

removed=()
kept=()
failed=0
# A resource already gone (deleted by hand, or a second teardown) is not an error.
gone() { grep -q -E 'ValidationException|ResourceNotFound|ObjectNotFoundException|Could not find|does not exist|not found' <<<"$1"; }
run() { # KIND NAME SERVICE OPERATION JSON
  local out
  if out=$(aws_call "$3" "$4" "$5" 2>&1); then
    case "$1" in *-job) removed+=("$1 $2 (stopped)") ;; *) removed+=("$1 $2") ;; esac
  elif gone "$out"; then
    note "  (already gone: $1 $2)"
  else
    note "  FAILED $1 $2: $out"
    failed=1
  fi
}
job_running() { # describe-OP NAME-FLAG NAME STATUS-FIELD
  [ -n "$DRY_RUN" ] && return 0
  local status
  status=$(aws_read sagemaker "$1" "$2" "$3" --query "$4" --output text 2>/dev/null) || return 1
  [ "$status" = InProgress ] || [ "$status" = Stopping ]
}

# Order matters: policies before their target, the endpoint before the configuration and model it uses.
for pass in scaling-policy scalable-target endpoint endpoint-config model training-job transform-job tuning-job; do
  for key in "${order[@]}"; do
    kind=${key%% *}
    [ "$kind" = "$pass" ] || continue
    name=${key#* }
    case "$kind" in
      scaling-policy)
        policy=${name%% *} id=${name#* }
        run "$kind" "$policy" application-autoscaling delete-scaling-policy "$(jq -cn --arg n "$policy" --arg id "$id" \
          '{PolicyName:$n, ServiceNamespace:"sagemaker", ResourceId:$id, ScalableDimension:"sagemaker:variant:DesiredInstanceCount"}')"
        ;;
      scalable-target)
        run "$kind" "$name" application-autoscaling deregister-scalable-target "$(jq -cn --arg id "$name" \
          '{ServiceNamespace:"sagemaker", ResourceId:$id, ScalableDimension:"sagemaker:variant:DesiredInstanceCount"}')"
        ;;
      endpoint) run "$kind" "$name" sagemaker delete-endpoint "$(jq -cn --arg n "$name" '{EndpointName:$n}')" ;;
      endpoint-config) run "$kind" "$name" sagemaker delete-endpoint-config "$(jq -cn --arg n "$name" '{EndpointConfigName:$n}')" ;;
      model) run "$kind" "$name" sagemaker delete-model "$(jq -cn --arg n "$name" '{ModelName:$n}')" ;;
      training-job)
        if job_running describe-training-job --training-job-name "$name" TrainingJobStatus; then
          run "$kind" "$name" sagemaker stop-training-job "$(jq -cn --arg n "$name" '{TrainingJobName:$n}')"
        else
          kept+=("$key")
        fi
        ;;
      transform-job)
        if job_running describe-transform-job --transform-job-name "$name" TransformJobStatus; then
          run "$kind" "$name" sagemaker stop-transform-job "$(jq -cn --arg n "$name" '{TransformJobName:$n}')"
        else
          kept+=("$key")
        fi
        ;;
      tuning-job)
        if job_running describe-hyper-parameter-tuning-job --hyper-parameter-tuning-job-name "$name" HyperParameterTuningJobStatus; then
          run "$kind" "$name" sagemaker stop-hyper-parameter-tuning-job "$(jq -cn --arg n "$name" '{HyperParameterTuningJobName:$n}')"
        else
          kept+=("$key")
        fi
        ;;
    esac
  done
done

echo "removed (${#removed[@]}):"
for r in "${removed[@]+"${removed[@]}"}"; do echo "  $r"; done
if [ ${#kept[@]} -gt 0 ]; then
  echo "kept (jobs that already ended; they bill nothing):"
  for k in "${kept[@]}"; do echo "  $k"; done
fi
# Keep the state file only when something could not be removed, so the next run retries it.
if [ -z "$DRY_RUN" ] && [ "$failed" = 0 ]; then rm -f "$state"; fi
exit "$failed"

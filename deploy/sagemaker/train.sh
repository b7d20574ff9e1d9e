#!/usr/bin/env bash
# Starts a SageMaker training job running `mls train` in our image: the random forest on CSV (HTRU2) or
# the CNN on images (PneumoniaMNIST .npz), with MetricDefinitions matching what train prints.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/metrics.sh"

usage() {
  cat <<'EOF'
Usage: train.sh forest|cnn [options]

Creates a training job (aws sagemaker create-training-job). Channels come from S3:
  training    s3://BUCKET/PROJECT/data/<forest|cnn>/training/   (required; --training-uri to change)
  validation  s3://BUCKET/PROJECT/data/<forest|cnn>/validation/ (only with --validation or --validation-uri;
              without it the forest reports out-of-bag validation metrics, the CNN holds out a fraction)
The model goes to s3://BUCKET/PROJECT/output/<job>/output/model.tar.gz.

The CNN runs on managed spot capacity by default (up to ~70-90% cheaper), checkpointing to
s3://BUCKET/PROJECT/checkpoints/<job>/ (mounted at /opt/ml/checkpoints), so an interruption resumes
instead of restarting; --on-demand turns spot off. The forest trains in seconds and keeps no checkpoint.

Options:
  --name NAME               job name (default PROJECT-ENVIRONMENT-<model>-<time>)
  --training-uri S3URI      training channel
  --validation              add the default validation channel
  --validation-uri S3URI    validation channel
  --hyperparameter K=V      repeatable; defaults: model_type=<model>, seed=0, plus
                            forest: n_estimators=100, class_names=noise,pulsar; cnn: epochs=15
  --instance-count N        default 1 (the forest and the CNN use one machine)
  --max-runtime SECONDS     default 3600
  --spot / --on-demand      managed spot training (default: spot for cnn, on-demand for forest)
  --wait                    wait until the job ends (aws sagemaker wait training-job-completed-or-stopped)
EOF
}

parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
[ $# -ge 1 ] || {
  usage >&2
  exit 2
}
model=$1
shift
case "$model" in forest | cnn) ;; *) die 2 "model must be forest or cnn, not '$model'" ;; esac

name="" training_uri="" validation_uri="" instance_count=1 max_runtime=3600 wait=0
spot=0
[ "$model" = cnn ] && spot=1
declare -A hp=([model_type]="$model" [seed]=0)
if [ "$model" = forest ]; then
  hp[n_estimators]=100
  hp[class_names]=noise,pulsar
else
  hp[epochs]=15
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=$2; shift ;;
    --training-uri) training_uri=$2; shift ;;
    --validation) validation_uri=default ;;
    --validation-uri) validation_uri=$2; shift ;;
    --hyperparameter)
      [[ $2 == *=* ]] || die 2 "--hyperparameter wants KEY=VALUE, not '$2'"
      hp[${2%%=*}]=${2#*=}
      shift
      ;;
    --instance-count) instance_count=$2; shift ;;
    --max-runtime) max_runtime=$2; shift ;;
    --spot) spot=1 ;;
    --on-demand) spot=0 ;;
    --wait) wait=1 ;;
    *) die 2 "unknown option $1 (see --help)" ;;
  esac
  shift
done

instance_type=${INSTANCE_TYPE_FLAG:-$TRAINING_INSTANCE_TYPE}
[ -n "$name" ] || name=$(make_name "$model")
validate_name "$name" "--name"
base=$(s3_base)
[ -n "$training_uri" ] || training_uri="$base/data/$model/training/"
[ "$validation_uri" = default ] && validation_uri="$base/data/$model/validation/"

# Hyperparameters are strings in the API; mls accepts plain and JSON-encoded ones alike.
hp_json='{}'
for k in "${!hp[@]}"; do
  hp_json=$(jq -c --arg k "$k" --arg v "${hp[$k]}" '.[$k] = $v' <<<"$hp_json")
done

# CSV for the forest; the CNN's channel holds .npz or image folders, which mls recognises by extension.
# (There is no registered media type for .npz, so the CNN's channels carry none.)
content_type=""
[ "$model" = forest ] && content_type=text/csv
channel() {
  jq -cn --arg n "$1" --arg u "$2" --arg c "$content_type" \
    '{ChannelName:$n, InputMode:"File", CompressionType:"None",
      DataSource:{S3DataSource:{S3DataType:"S3Prefix", S3Uri:$u, S3DataDistributionType:"FullyReplicated"}}}
     + (if $c == "" then {} else {ContentType:$c} end)'
}
channels=$(channel training "$training_uri")
[ -n "$validation_uri" ] && channels="$channels $(channel validation "$validation_uri")"
channels=$(jq -cs . <<<"$channels")

if [ "$model" = forest ]; then metrics=$(forest_metric_definitions); else metrics=$(cnn_metric_definitions); fi

request=$(jq -cn \
  --arg name "$name" --arg image "$(image_uri)" --arg role "$(role_arn)" \
  --argjson hp "$hp_json" --argjson metrics "$metrics" --argjson channels "$channels" \
  --arg output "$base/output/" --arg type "$instance_type" --argjson count "$instance_count" \
  --argjson runtime "$max_runtime" --argjson tags "$(tags_json)" \
  '{TrainingJobName:$name,
    AlgorithmSpecification:{TrainingImage:$image, TrainingInputMode:"File", MetricDefinitions:$metrics,
                            EnableSageMakerMetricsTimeSeries:true},
    RoleArn:$role, HyperParameters:$hp, InputDataConfig:$channels,
    OutputDataConfig:{S3OutputPath:$output},
    ResourceConfig:{InstanceType:$type, InstanceCount:$count, VolumeSizeInGB:10},
    StoppingCondition:{MaxRuntimeInSeconds:$runtime},
    Tags:$tags}')

if [ "$spot" = 1 ]; then
  # Spot needs MaxWaitTimeInSeconds >= MaxRuntimeInSeconds (time waiting for capacity counts) and a
  # checkpoint location: mls writes cnn-checkpoint.bin to /opt/ml/checkpoints every epoch and on SIGTERM,
  # SageMaker syncs it to S3 and back into the next attempt.
  request=$(jq -c --arg ckpt "$base/checkpoints/$name/" --argjson wait $((max_runtime * 2)) \
    '.EnableManagedSpotTraining=true | .StoppingCondition.MaxWaitTimeInSeconds=$wait
     | .CheckpointConfig={S3Uri:$ckpt, LocalPath:"/opt/ml/checkpoints"}' <<<"$request")
  cost="training job $name: ${instance_count} x $instance_type on managed spot (at most $(hourly_price "$instance_type") each, billed per second while it runs, up to ${max_runtime}s)"
else
  cost="training job $name: ${instance_count} x $instance_type at $(hourly_price "$instance_type") each, billed per second while it runs (up to ${max_runtime}s)"
fi
confirm_billing "$cost"

aws_call sagemaker create-training-job "$request" >/dev/null
record training-job "$name"
note "created training job $name (image $(image_uri))"
echo "$name"
if [ "$wait" = 1 ] && [ -z "$DRY_RUN" ]; then
  aws_read sagemaker wait training-job-completed-or-stopped --training-job-name "$name"
  aws_read sagemaker describe-training-job --training-job-name "$name" \
    --query '{status:TrainingJobStatus, model:ModelArtifacts.S3ModelArtifacts, metrics:FinalMetricDataList}' >&2
fi

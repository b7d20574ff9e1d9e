#!/usr/bin/env bash
# A hyperparameter tuning job for the forest: Bayesian search maximising validation:auc over
# n_estimators, max_depth, min_samples_leaf, max_features and class_weight.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/metrics.sh"

usage() {
  cat <<'EOF2'
Usage: tune.sh [options]

Creates a tuning job (create-hyper-parameter-tuning-job) whose training jobs run `mls train` on the forest
channel (s3://BUCKET/PROJECT/data/forest/training/; with no validation channel the forest's
validation:auc is its out-of-bag estimate, so no rows are held back). The objective metric is one of the
MetricDefinitions, parsed from the job's log.

Options:
  --name NAME           at most 32 characters (default PROJECT-ENV-hpo-<time>, shortened)
  --training-uri S3URI  training channel
  --validation-uri S3URI optional validation channel
  --max-jobs N          training jobs in all (default 12)
  --max-parallel N      at once (default 2)
  --max-runtime S       per training job (default 1800)
EOF2
}

parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
name="" training_uri="" validation_uri="" max_jobs=12 max_parallel=2 max_runtime=1800
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=$2; shift ;;
    --training-uri) training_uri=$2; shift ;;
    --validation-uri) validation_uri=$2; shift ;;
    --max-jobs) max_jobs=$2; shift ;;
    --max-parallel) max_parallel=$2; shift ;;
    --max-runtime) max_runtime=$2; shift ;;
    *) die 2 "unknown option $1 (see --help)" ;;
  esac
  shift
done
instance_type=${INSTANCE_TYPE_FLAG:-$TRAINING_INSTANCE_TYPE}
# Tuning job names are limited to 32 characters, unlike the 63 of everything else.
[ -n "$name" ] || name=$(make_name hpo 32)
validate_name "$name" "--name"
(( ${#name} <= 32 )) || die 2 "--name: tuning job names have at most 32 characters"
base=$(s3_base)
[ -n "$training_uri" ] || training_uri="$base/data/forest/training/"

channel() {
  jq -cn --arg n "$1" --arg u "$2" '{ChannelName:$n, ContentType:"text/csv", InputMode:"File",
    CompressionType:"None", DataSource:{S3DataSource:{S3DataType:"S3Prefix", S3Uri:$u, S3DataDistributionType:"FullyReplicated"}}}'
}
channels=$(channel training "$training_uri")
[ -n "$validation_uri" ] && channels="$channels $(channel validation "$validation_uri")"
channels=$(jq -cs . <<<"$channels")

# The ranges: trees 50..500 on a log scale (the AUC gain per tree shrinks), depth 4..32, leaves of 1..20
# rows; max_features and class_weight as categories (mls reads "sqrt", "log2", fractions, "balanced").
request=$(jq -cn --arg name "$name" --arg image "$(image_uri)" --arg role "$(role_arn)" \
  --argjson metrics "$(forest_metric_definitions)" --argjson channels "$channels" \
  --arg output "$base/tuning/" --arg type "$instance_type" --argjson jobs "$max_jobs" \
  --argjson parallel "$max_parallel" --argjson runtime "$max_runtime" --argjson tags "$(tags_json)" \
  '{HyperParameterTuningJobName:$name,
    HyperParameterTuningJobConfig:{
      Strategy:"Bayesian",
      HyperParameterTuningJobObjective:{Type:"Maximize", MetricName:"validation:auc"},
      ResourceLimits:{MaxNumberOfTrainingJobs:$jobs, MaxParallelTrainingJobs:$parallel},
      ParameterRanges:{
        IntegerParameterRanges:[
          {Name:"n_estimators", MinValue:"50", MaxValue:"500", ScalingType:"Logarithmic"},
          {Name:"max_depth", MinValue:"4", MaxValue:"32", ScalingType:"Auto"},
          {Name:"min_samples_leaf", MinValue:"1", MaxValue:"20", ScalingType:"Auto"}],
        CategoricalParameterRanges:[
          {Name:"max_features", Values:["sqrt", "log2", "0.5"]},
          {Name:"class_weight", Values:["none", "balanced"]}]},
      TrainingJobEarlyStoppingType:"Off"},
    TrainingJobDefinition:{
      StaticHyperParameters:{model_type:"forest", seed:"0", class_names:"noise,pulsar"},
      AlgorithmSpecification:{TrainingImage:$image, TrainingInputMode:"File", MetricDefinitions:$metrics},
      RoleArn:$role, InputDataConfig:$channels, OutputDataConfig:{S3OutputPath:$output},
      ResourceConfig:{InstanceType:$type, InstanceCount:1, VolumeSizeInGB:10},
      StoppingCondition:{MaxRuntimeInSeconds:$runtime}},
    Tags:$tags}')
confirm_billing "tuning job $name: up to $max_jobs training jobs, $max_parallel at a time, on $instance_type at $(hourly_price "$instance_type") each, billed per second while each runs"
aws_call sagemaker create-hyper-parameter-tuning-job "$request" >/dev/null
record tuning-job "$name"
note "created tuning job $name (objective validation:auc, Maximize)"
echo "$name"

#!/usr/bin/env bash
# A batch transform job: SageMaker starts `mls serve` on instances, streams every CSV file under an S3 prefix
# through /invocations in multi-record mini-batches, and writes one output line per input line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<'EOF2'
Usage: batch-transform.sh MODEL_NAME [options]

Creates a transform job (create-transform-job) over an existing model (deploy-endpoint.sh prints and
records the model it creates, NAME-model). Input: text/csv split by line (SplitType=Line), sent in
mini-batches (BatchStrategy=MultiRecord — the API's spelling of the MULTI_RECORD that mls reports on
/execution-parameters) of at most --max-payload MB; output Accept text/csv, assembled by line, so
s3://.../input.csv.out has one "label,p0,p1" line per input row, in order.

Options:
  --name NAME           job name (default PROJECT-ENVIRONMENT-transform-<time>)
  --input-uri S3URI     default s3://BUCKET/PROJECT/batch/input/
  --output-uri S3URI    default s3://BUCKET/PROJECT/batch/output/<job>/
  --instance-count N    default 1
  --max-payload MB      mini-batch size, 1..100 (default 6, what the server accepts by default)
  --join-input          write each input row before its prediction (DataProcessing JoinSource=Input)
  --wait                wait until the job ends
EOF2
}

parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
[ $# -ge 1 ] || {
  usage >&2
  exit 2
}
model=$1
shift
name="" input_uri="" output_uri="" count=1 payload=6 join=0 wait=0
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=$2; shift ;;
    --input-uri) input_uri=$2; shift ;;
    --output-uri) output_uri=$2; shift ;;
    --instance-count) count=$2; shift ;;
    --max-payload) payload=$2; shift ;;
    --join-input) join=1 ;;
    --wait) wait=1 ;;
    *) die 2 "unknown option $1 (see --help)" ;;
  esac
  shift
done
instance_type=${INSTANCE_TYPE_FLAG:-$TRANSFORM_INSTANCE_TYPE}
[ -n "$name" ] || name=$(make_name transform)
validate_name "$name" "--name"
base=$(s3_base)
[ -n "$input_uri" ] || input_uri="$base/batch/input/"
[ -n "$output_uri" ] || output_uri="$base/batch/output/$name/"

# MaxConcurrentTransforms is left out on purpose: SageMaker then asks the container's
# /execution-parameters, where mls answers with its inference thread count for the instance it runs on.
request=$(jq -cn --arg name "$name" --arg model "$model" --argjson payload "$payload" \
  --arg in "$input_uri" --arg out "$output_uri" --arg type "$instance_type" --argjson count "$count" \
  --argjson tags "$(tags_json)" \
  '{TransformJobName:$name, ModelName:$model, BatchStrategy:"MultiRecord", MaxPayloadInMB:$payload,
    TransformInput:{DataSource:{S3DataSource:{S3DataType:"S3Prefix", S3Uri:$in}},
                    ContentType:"text/csv", SplitType:"Line", CompressionType:"None"},
    TransformOutput:{S3OutputPath:$out, Accept:"text/csv", AssembleWith:"Line"},
    TransformResources:{InstanceType:$type, InstanceCount:$count},
    Tags:$tags}')
if [ "$join" = 1 ]; then
  request=$(jq -c '.DataProcessing={JoinSource:"Input"}' <<<"$request")
fi
confirm_billing "transform job $name: ${count} x $instance_type at $(hourly_price "$instance_type") each, billed per second until the job ends"
aws_call sagemaker create-transform-job "$request" >/dev/null
record transform-job "$name"
note "created transform job $name: $input_uri -> $output_uri"
echo "$name"
if [ "$wait" = 1 ] && [ -z "$DRY_RUN" ]; then
  aws_read sagemaker wait transform-job-completed-or-stopped --transform-job-name "$name"
fi

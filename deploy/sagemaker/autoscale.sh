#!/usr/bin/env bash
# Target-tracking auto-scaling for an instance-backed endpoint variant on SageMakerVariantInvocationsPerInstance
# (Application Auto Scaling: register-scalable-target, then put-scaling-policy).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<'EOF'
Usage: autoscale.sh ENDPOINT [options]

Registers the endpoint's variant as a scalable target (instances between --min and --max) and attaches a
target-tracking policy that keeps invocations per instance per minute near --target. Serverless
endpoints scale by themselves and are refused by the service here.

Sizing --target: an ml.m5.large running mls answers small forest requests in well under a millisecond
of CPU, so the limit is usually the client side; start from a load test (bench/) and take about half of
the per-instance requests per minute at which latency starts to climb.

Options:
  --variant NAME        default AllTraffic
  --min N               default 1 (endpoints cannot scale instance-backed variants to 0)
  --max N               default 4 — the most instances you agree to pay for at once
  --target N            invocations per instance per minute, default 1000
  --scale-in-cooldown S default 300 (scale in slowly: removing an instance is cheap to undo only slowly)
  --scale-out-cooldown S default 60
EOF
}

parse_common "$@"
set -- "${REST[@]+"${REST[@]}"}"
[ $# -ge 1 ] || {
  usage >&2
  exit 2
}
endpoint=$1
shift
variant=AllTraffic min=1 max=4 target=1000 cool_in=300 cool_out=60
while [ $# -gt 0 ]; do
  case "$1" in
    --variant) variant=$2; shift ;;
    --min) min=$2; shift ;;
    --max) max=$2; shift ;;
    --target) target=$2; shift ;;
    --scale-in-cooldown) cool_in=$2; shift ;;
    --scale-out-cooldown) cool_out=$2; shift ;;
    *) die 2 "unknown option $1 (see --help)" ;;
  esac
  shift
done
(( min >= 1 && max >= min )) || die 2 "need 1 <= --min <= --max"

resource_id="endpoint/${endpoint}/variant/${variant}"
policy="${endpoint}-invocations-target"
confirm_billing "auto-scaling of $endpoint: up to $max instances of its type (each billed per hour) when traffic rises"

# Tags on the scalable target (RegisterScalableTarget's Tags) keep it in the same cost-allocation view.
aws_call application-autoscaling register-scalable-target "$(jq -cn --arg id "$resource_id" \
  --argjson min "$min" --argjson max "$max" --argjson tags "$(tags_json)" \
  '{ServiceNamespace:"sagemaker", ResourceId:$id, ScalableDimension:"sagemaker:variant:DesiredInstanceCount",
    MinCapacity:$min, MaxCapacity:$max, Tags:($tags | map({(.Key):.Value}) | add)}')" >/dev/null
record scalable-target "$resource_id"
note "registered scalable target $resource_id ($min..$max instances)"

aws_call application-autoscaling put-scaling-policy "$(jq -cn --arg name "$policy" --arg id "$resource_id" \
  --argjson target "$target" --argjson cin "$cool_in" --argjson cout "$cool_out" \
  '{PolicyName:$name, ServiceNamespace:"sagemaker", ResourceId:$id,
    ScalableDimension:"sagemaker:variant:DesiredInstanceCount", PolicyType:"TargetTrackingScaling",
    TargetTrackingScalingPolicyConfiguration:{TargetValue:$target,
      PredefinedMetricSpecification:{PredefinedMetricType:"SageMakerVariantInvocationsPerInstance"},
      ScaleInCooldown:$cin, ScaleOutCooldown:$cout}}')" >/dev/null
record scaling-policy "$policy $resource_id"
note "put target-tracking policy $policy: $target invocations/instance/minute"
echo "$policy"

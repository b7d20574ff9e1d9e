#!/usr/bin/env bash
# predict.sh PAYLOAD [CONTENT_TYPE] [ACCEPT]: POSTs a file to /invocations on localhost:${PORT:-8080}.
#   ./predict.sh payloads/pulsar.csv text/csv
#   ./predict.sh payloads/pulsar.json application/json text/csv
#   ./predict.sh payloads/xray_pneumonia.png image/png
#   ./predict.sh payloads/xray_batch.npy application/x-npy text/csv
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
payload=$1
content_type=${2:-text/csv}
accept=${3:-application/json}
curl --silent --show-error --fail-with-body \
  -H "Content-Type: ${content_type}" -H "Accept: ${accept}" \
  ${MODEL:+-H "X-Amzn-SageMaker-Custom-Attributes: model=${MODEL}"} \
  --data-binary @"${payload}" "http://localhost:${PORT:-8080}/invocations"

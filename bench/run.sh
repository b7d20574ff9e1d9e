#!/usr/bin/env bash
# bench/run.sh: the whole benchmark in one command (see bench/README.md).
#
#   bench/run.sh                      # build Release, run everything, update bench/RESULTS.md
#   PARTS=cnn SKIP_BUILD=1 bench/run.sh   # only the CNN parts, on the existing build
#   QUICK=1 SKIP_BUILD=1 bench/run.sh     # a smoke run: every part once, short durations (noisy)
#
# Measures, side by side in the same run, alternating so both sides see the same noise:
#   forest part:
#   (a) forest predict_proba rows/s on one thread, batch of 10 000 HTRU2 rows: ours vs scikit-learn;
#   (b) single-row text/csv POST /invocations requests/s with wrk (keep-alive): `mls serve` vs an nginx
#       that returns the same bytes without doing anything (the floor of what HTTP costs on this machine);
#   cnn part:
#   (c) CNN predict_proba images/s on one thread at batch 1 and batch 256: ours vs PyTorch eager with the
#       same weights, after checking both give the same probabilities (to 1e-4) on the same images;
#   (d) 28x28 PNG POST /invocations requests/s with wrk: `mls serve` with dynamic batching vs without,
#       and the latency of a lone request (one connection) with batching on.
#   peers in the same rounds: (a) also treelite+tl2cgen compiled C and ONNX Runtime on the sklearn forest;
#       (b) also the INF2102 stack (nginx -> gunicorn -> Flask -> scikit-learn); (c) also ONNX Runtime;
#   http part:
#   (e) 1 000-row CSV batches, rows/s: ours vs the INF2102 stack; (f) req/s against connections
#       (1 4 16 64 256): ours vs the nginx floor; (g) cost per request against rows per request
#       (1 ... 10 000): ours vs INF2102; (h) start-up (process start -> /ping 200, both models) and idle RSS;
#   train part:
#   (i) forest training wall time and held-out AUC: `mls train` vs scikit-learn n_jobs=2;
#       CNN to validation AUC 0.99: `mls train` vs PyTorch with 2 threads;
#   then bench/report.py writes the goals table of issue 5 and the plots in bench/plots/.
#
# Knobs (environment): PARTS="forest cnn" ROUNDS=5 FOREST_REPEATS=10 WRK_DURATION=10s WRK_THREADS=2
#   WRK_CONNECTIONS=16 SEED=1 DATA=<HTRU_2.csv> SKIP_BUILD=1 (use the existing build) OUT=<results file>
#   BUILD_DIR=build/release KEEP_WORK=1 (keep the temporary directory: raw outputs, server and nginx logs)
#   CNN_DATA=<pneumoniamnist.npz> CNN_MODEL=<model dir to load; default: a He-initialised one>
#   CNN_BATCH=256 CNN_REPEATS=20 CNN_SINGLE=1000 CNN_HTTP=1 (0: skip (d)) CNN_MAX_BATCH=<server default>
#   CNN_BATCH_DELAY_US=<server default> LONE_DURATION=5s
#   QUICK=1 (ROUNDS=1 and short everything) SWEEP_DURATION=5s SWEEP_CONNECTIONS="1 4 16 64 256"
#   SWEEP_ROWS="1 10 100 1000 10000" STARTUP_REPEATS=5 TRAIN_ROUNDS=3 CNN_TARGET_AUC=0.99
#   BENCH_VENV=~/.cache/mls/bench-venv (PyPI peers) KERNEL_CACHE=<dir for the compiled tl2cgen forest>
#   PLOTS=bench/plots NO_INSTALL=1 (never apt-get / pip; parts whose tools are missing are skipped)
set -euo pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi
[[ $# -eq 0 ]] || { echo "run.sh takes no arguments (knobs are environment variables; see --help)" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PARTS=${PARTS:-forest cnn http train}
PARTS=${PARTS//,/ }
if [[ ${QUICK:-0} == 1 ]]; then
  : "${ROUNDS:=1}" "${FOREST_REPEATS:=3}" "${WRK_DURATION:=2s}" "${CNN_REPEATS:=5}" "${CNN_SINGLE:=200}"
  : "${LONE_DURATION:=1s}" "${SWEEP_DURATION:=1s}" "${STARTUP_REPEATS:=2}" "${TRAIN_ROUNDS:=1}"
fi
ROUNDS=${ROUNDS:-5}
FOREST_REPEATS=${FOREST_REPEATS:-10}
WRK_DURATION=${WRK_DURATION:-10s}
SWEEP_DURATION=${SWEEP_DURATION:-5s}
SWEEP_CONNECTIONS=${SWEEP_CONNECTIONS:-1 4 16 64 256}
SWEEP_ROWS=${SWEEP_ROWS:-1 10 100 1000 10000}
STARTUP_REPEATS=${STARTUP_REPEATS:-5}
TRAIN_ROUNDS=${TRAIN_ROUNDS:-3}
CNN_TARGET_AUC=${CNN_TARGET_AUC:-0.99}
BENCH_VENV=${BENCH_VENV:-$HOME/.cache/mls/bench-venv}
PLOTS=${PLOTS:-$ROOT/bench/plots}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-16}
SEED=${SEED:-1}
DATA=${DATA:-$ROOT/../shared/data/htru2/HTRU_2.csv}
CNN_DATA=${CNN_DATA:-$ROOT/../shared/data/pneumoniamnist/pneumoniamnist.npz}
CNN_MODEL=${CNN_MODEL:-}
CNN_BATCH=${CNN_BATCH:-256}
CNN_REPEATS=${CNN_REPEATS:-20}
CNN_SINGLE=${CNN_SINGLE:-1000}
CNN_HTTP=${CNN_HTTP:-1}
LONE_DURATION=${LONE_DURATION:-5s}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
OUT=${OUT:-$ROOT/bench/RESULTS.md}
MLS=$BUILD_DIR/server/mls
FOREST_BENCH=$BUILD_DIR/bench/forest_predict_bench
CNN_BENCH=$BUILD_DIR/bench/cnn_predict_bench
WRK_SCRIPT=$ROOT/bench/peers/post_csv.lua
PNG_SCRIPT=$ROOT/bench/peers/post_png.lua
CSV_FILE_SCRIPT=$ROOT/bench/peers/post_csv_file.lua
SWEEP_ROWS_CONNECTIONS=${SWEEP_ROWS_CONNECTIONS:-4}

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

want() { [[ " $PARTS " == *" $1 "* ]]; }
for part in $PARTS; do
  [[ $part == forest || $part == cnn || $part == http || $part == train ]] \
    || die "PARTS may name forest, cnn, http and train, not '$part'"
done
[[ -n ${PARTS// /} ]] || die "PARTS is empty"

# ---------------------------------------------------------------- tools
# The Python modules the chosen parts need; Debian's python3 has them as python3-* packages, a
# pyenv/venv python3 first on PATH usually does not.
PY_MODULES=numpy
want forest && PY_MODULES+=", sklearn"
want cnn && PY_MODULES+=", torch, PIL"
want http && PY_MODULES+=", sklearn, flask"
want train && PY_MODULES+=", sklearn, torch"
PY_MODULES+=", matplotlib"
find_python() {
  local p
  for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null && "$p" -c "import $PY_MODULES" 2>/dev/null; then
      command -v "$p"
      return 0
    fi
  done
  return 1
}

ensure_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  if want forest || want http; then
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v gunicorn >/dev/null || missing+=(gunicorn)
  fi
  "$BASE_PYTHON" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  command -v curl >/dev/null || missing+=(curl)
  if ! find_python >/dev/null; then
    missing+=(python3-numpy)
    want forest && missing+=(python3-sklearn)
    want cnn && missing+=(python3-torch python3-pil)
    want http && missing+=(python3-sklearn python3-flask)
    want train && missing+=(python3-sklearn python3-torch)
    missing+=(python3-matplotlib)
  fi
  if ((${#missing[@]})) && [[ ${NO_INSTALL:-0} == 1 ]]; then
    die "missing ${missing[*]} and NO_INSTALL=1"
  fi
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  PYTHON=$(find_python) || die "no python3 that imports $PY_MODULES"
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  export NGINX  # for peers/nginx_floor.sh
  ensure_venv
}

# The PyPI peers (ONNX Runtime, treelite + tl2cgen, skl2onnx, onnx) in a venv that also sees Debian's
# numpy, scikit-learn and PyTorch (--system-site-packages), so every peer runs the same forest and
# network. Pinned to versions that work together on Debian 12's Python 3.11 / numpy 1.24 / sklearn 1.2:
# skl2onnx 1.16 needs protobuf 3.x (with protobuf >= 4 its forest converter fails on boolean attributes),
# and tl2cgen 1.0.0 is built against treelite 4.1.2. Sets PEER_PYTHON, or PEERS_SKIP with the reason.
VENV_PINS=(numpy==1.24.2 onnxruntime==1.19.2 onnx==1.16.2 protobuf==3.20.3 skl2onnx==1.16.0
  treelite==4.1.2 tl2cgen==1.0.0)
VENV_IMPORTS="onnxruntime, onnx, skl2onnx, treelite, tl2cgen, sklearn, torch"
ensure_venv() {
  PEER_PYTHON=$BENCH_VENV/bin/python
  PEERS_SKIP=""
  want forest || want cnn || return 0
  if [[ -x $PEER_PYTHON ]] && "$PEER_PYTHON" -c "import $VENV_IMPORTS" 2>/dev/null \
    && [[ $(cat "$BENCH_VENV/.mls-pins" 2>/dev/null) == "${VENV_PINS[*]}" ]]; then
    return 0
  fi
  if [[ ${NO_INSTALL:-0} == 1 ]]; then
    PEERS_SKIP="NO_INSTALL=1 and no usable venv at $BENCH_VENV"
  else
    log "making the peers' venv $BENCH_VENV (pip: ${VENV_PINS[*]})"
    if "$BASE_PYTHON" -m venv --system-site-packages "$BENCH_VENV" >"$WORK/venv.log" 2>&1 \
      && "$PEER_PYTHON" -m pip install -q --disable-pip-version-check "${VENV_PINS[@]}" >>"$WORK/venv.log" 2>&1 \
      && "$PEER_PYTHON" -c "import $VENV_IMPORTS" >>"$WORK/venv.log" 2>&1; then
      echo "${VENV_PINS[*]}" >"$BENCH_VENV/.mls-pins"
      return 0
    fi
    tail -n 20 "$WORK/venv.log" >&2
    PEERS_SKIP="the venv at $BENCH_VENV could not be made or does not import $VENV_IMPORTS (log above)"
  fi
  log "warning: tl2cgen / ONNX Runtime peers skipped: $PEERS_SKIP"
}

BASE_PYTHON=/usr/bin/python3
[[ -x $BASE_PYTHON ]] || BASE_PYTHON=$(command -v python3)

# ---------------------------------------------------------------- processes
WORK=$(mktemp -d /tmp/mls-bench.XXXXXX)
INF_PID=""
SERVER_PID=""
NGINX_PID=""
CNN_BATCHED_PID=""
CNN_UNBATCHED_PID=""
cleanup() {
  local pid
  for pid in "$SERVER_PID" "$NGINX_PID" "$CNN_BATCHED_PID" "$CNN_UNBATCHED_PID" "$INF_PID"; do
    [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "$SERVER_PID" "$NGINX_PID" "$CNN_BATCHED_PID" "$CNN_UNBATCHED_PID" "$INF_PID"; do
    [[ -n $pid ]] && wait "$pid" 2>/dev/null || true
  done
  if [[ ${KEEP_WORK:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_ping PORT PID NAME LOGFILE: until GET /ping is 200, the process dies, or 60 s pass.
wait_for_ping() {
  local port=$1 pid=$2 name=$3 logfile=$4 i
  for ((i = 0; i < 600; i++)); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ping" || true) == 200 ]]; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$logfile" >&2 || true
      die "$name exited before answering /ping"
    fi
    sleep 0.1
  done
  tail -n 30 "$logfile" >&2 || true
  die "$name did not answer /ping with 200 within 60 s"
}

# ---------------------------------------------------------------- steps
build() {
  if [[ ${SKIP_BUILD:-0} == 1 ]]; then
    log "SKIP_BUILD=1: using $BUILD_DIR as it is"
  else
    log "building Release (cmake --preset release; cmake --build build/release)"
    cmake --preset release >"$WORK/configure.log" 2>&1 || { tail -n 40 "$WORK/configure.log" >&2; die "configure failed"; }
    cmake --build "$BUILD_DIR" >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; die "build failed"; }
  fi
  local bins=("$MLS")
  want forest && bins+=("$FOREST_BENCH")
  if want cnn || want http; then bins+=("$CNN_BENCH"); fi
  local bin
  for bin in "${bins[@]}"; do [[ -x $bin ]] || die "$bin was not built"; done
  # Run private copies, so a rebuild of the tree during the run cannot swap a binary under us.
  mkdir -p "$WORK/bin"
  cp "${bins[@]}" "$WORK/bin/"
  MLS=$WORK/bin/mls
  FOREST_BENCH=$WORK/bin/forest_predict_bench
  CNN_BENCH=$WORK/bin/cnn_predict_bench
}

train_model() {
  local ml=$WORK/ml
  mkdir -p "$ml/input/config" "$ml/input/data/training" "$ml/model" "$ml/output"
  cp "$DATA" "$ml/input/data/training/"
  printf '{"n_estimators": "100", "max_features": "sqrt", "seed": "%s"}\n' "$SEED" \
    >"$ml/input/config/hyperparameters.json"
  log "mls train (100 trees, seed $SEED)"
  local start end
  start=$(date +%s.%N)
  "$MLS" train --input-dir "$ml/input" --model-dir "$ml/model" --output-dir "$ml/output" \
    >"$WORK/train.log" 2>&1 || { tail -n 30 "$WORK/train.log" >&2; cat "$ml/output/failure" >&2 2>/dev/null; die "mls train failed"; }
  end=$(date +%s.%N)
  MLS_TRAIN_SECONDS=$("$PYTHON" -c "print(round($end - $start, 3))")
}

start_server() {
  OURS_PORT=$(free_port)
  log "mls serve on port $OURS_PORT"
  "$MLS" serve --port "$OURS_PORT" --model-dir "$WORK/ml/model" >"$WORK/serve.log" 2>&1 &
  SERVER_PID=$!
  wait_for_ping "$OURS_PORT" "$SERVER_PID" "mls serve" "$WORK/serve.log"
}

# The row wrk posts, and what our server answers to it: nginx will answer with the same bytes.
check_server_reply() {
  local row code
  row=$(sed -n 's/^wrk.body = "\(.*\)\\n"$/\1/p' "$WRK_SCRIPT")
  [[ -n $row ]] || die "cannot find wrk.body in $WRK_SCRIPT"
  code=$(curl -s -o "$WORK/reply.json" -w '%{http_code}' -X POST -H 'Content-Type: text/csv' \
    -H 'Accept: application/json' --data-binary "$row"$'\n' "http://127.0.0.1:$OURS_PORT/invocations")
  [[ $code == 200 ]] || { cat "$WORK/reply.json" >&2; die "POST /invocations answered $code, not 200"; }
  log "our reply: $(head -c 300 "$WORK/reply.json")"
}

start_nginx() {
  NGINX_PORT=$(free_port)
  cp "$WORK/reply.json" "$WORK/nginx_body.txt"
  if grep -q '\$' "$WORK/nginx_body.txt"; then
    log "our reply contains \$, which nginx would read as a variable; nginx returns a fixed body instead"
    printf '%s' '{"predictions":[{"label":0,"class_name":"0","probabilities":{"0":1.0,"1":0.0}}]}' \
      >"$WORK/nginx_body.txt"
  fi
  log "nginx floor on port $NGINX_PORT (worker_processes 2)"
  NGINX_PREFIX=$WORK/nginx "$ROOT/bench/peers/nginx_floor.sh" "$NGINX_PORT" "$WORK/nginx_body.txt" \
    >"$WORK/nginx.log" 2>&1 &
  NGINX_PID=$!  # nginx_floor.sh execs nginx: this is the master
  wait_for_ping "$NGINX_PORT" "$NGINX_PID" "nginx" "$WORK/nginx.log"
}

# The INF2102 stack (bench/peers/inf2102): its own scikit-learn forest on the same data, same seed.
start_inf2102() {
  INF_PORT=$(free_port)
  log "INF2102 stack: training its scikit-learn forest, then nginx -> gunicorn ($(nproc) sync workers) -> Flask on port $INF_PORT"
  "$PYTHON" "$ROOT/bench/peers/inf2102/train.py" "$DATA" "$WORK/inf2102_model" --seed "$SEED" \
    || die "INF2102 training failed"
  NGINX_PREFIX=$WORK/inf2102 "$ROOT/bench/peers/inf2102/serve.sh" "$INF_PORT" "$WORK/inf2102_model" \
    >"$WORK/inf2102.log" 2>&1 &
  INF_PID=$!
  wait_for_ping "$INF_PORT" "$INF_PID" "INF2102 stack" "$WORK/inf2102.log"
  local code
  code=$(curl -s -o "$WORK/reply_inf2102.txt" -w '%{http_code}' -X POST -H 'Content-Type: text/csv' \
    --data-binary @"$ROOT/local_test/payloads/pulsar.csv" "http://127.0.0.1:$INF_PORT/invocations")
  [[ $code == 200 ]] || { cat "$WORK/reply_inf2102.txt" >&2; die "the INF2102 stack answered $code"; }
}

# The scikit-learn forest the compiled/ONNX kernels run, compiled once with tl2cgen (about a minute of
# gcc) and converted with skl2onnx, cached in KERNEL_CACHE across runs (keyed by data, seed, versions).
prepare_kernels() {
  [[ -z $PEERS_SKIP ]] || return 0
  local key
  key=$( { sha1sum "$DATA" | cut -c1-12; echo "$SEED ${VENV_PINS[*]}"; "$PYTHON" -c 'import sklearn; print(sklearn.__version__)'; } \
    | sha1sum | cut -c1-12)
  KERNEL_CACHE=${KERNEL_CACHE:-$HOME/.cache/mls/bench-kernels/$key}
  mkdir -p "$KERNEL_CACHE"
  if [[ ! -f $KERNEL_CACHE/forest.so || ! -f $KERNEL_CACHE/forest.onnx ]]; then
    log "forest kernels: training the sklearn forest, compiling it with tl2cgen, converting with skl2onnx (once; cached in $KERNEL_CACHE)"
  fi
  "$PEER_PYTHON" "$ROOT/bench/peers/forest_kernels.py" "$DATA" "$KERNEL_CACHE" --seed "$SEED" --repeats 1 \
    --single-rows 10 >"$WORK/forest_kernels_setup.json" 2>"$WORK/forest_kernels_setup.log" \
    || { tail -n 20 "$WORK/forest_kernels_setup.log" >&2; die "forest_kernels.py failed"; }
}

# The CNN model both sides run (made here unless CNN_MODEL names one), a first parity check that
# stops the run if PyTorch and ours disagree, and the PNG the HTTP part posts.
prepare_cnn() {
  [[ -r $CNN_DATA ]] || die "no image data at $CNN_DATA (set CNN_DATA=path/to/pneumoniamnist.npz)"
  if [[ -n $CNN_MODEL ]]; then
    [[ -f $CNN_MODEL/manifest.json ]] || die "CNN_MODEL=$CNN_MODEL holds no manifest.json"
    CNN_MODEL_DIR=$CNN_MODEL
    log "cnn: loading the model in $CNN_MODEL_DIR"
  else
    CNN_MODEL_DIR=$WORK/cnn_model
    log "cnn: a He-initialised model (seed $SEED) in $CNN_MODEL_DIR"
  fi
  OPENBLAS_NUM_THREADS=1 "$CNN_BENCH" "$CNN_MODEL_DIR" --data "$CNN_DATA" --init-seed "$SEED" \
    --batch 1 --repeats 1 --single 1 --dump "$WORK/cnn_dump" >"$WORK/cnn_setup_ours.json" \
    || die "cnn_predict_bench failed"
  log "cnn: parity check, PyTorch against ours, on every image of the set"
  "$PYTHON" "$ROOT/bench/peers/torch_cnn.py" "$CNN_MODEL_DIR" "$WORK/cnn_dump" --data "$CNN_DATA" \
    --batch 1 --repeats 1 --single 1 >"$WORK/cnn_setup_torch.json" \
    || die "PyTorch and ours disagree on the same weights and inputs (above); the speed comparison would mean nothing"
  "$PYTHON" "$ROOT/bench/peers/make_png.py" "$CNN_DATA" "$WORK/image.png"
  export MLS_BENCH_PNG=$WORK/image.png  # for peers/post_png.lua
}

cnn_round() {
  local i=$1 order=$2 who
  for who in $order; do
    log "cnn round $i/$ROUNDS: $who"
    if [[ $who == ours ]]; then
      OPENBLAS_NUM_THREADS=1 "$CNN_BENCH" "$CNN_MODEL_DIR" --data "$CNN_DATA" --batch "$CNN_BATCH" \
        --repeats "$CNN_REPEATS" --single "$CNN_SINGLE" >"$WORK/cnn_ours_$i.json"
    elif [[ $who == peer ]]; then
      # Parity again on every round (cheap), against the inputs and outputs ours dumped at setup.
      "$PYTHON" "$ROOT/bench/peers/torch_cnn.py" "$CNN_MODEL_DIR" "$WORK/cnn_dump" --batch "$CNN_BATCH" \
        --repeats "$CNN_REPEATS" --single "$CNN_SINGLE" >"$WORK/cnn_torch_$i.json" \
        || die "PyTorch and ours disagree (round $i)"
    elif [[ -z $PEERS_SKIP ]]; then
      "$PEER_PYTHON" "$ROOT/bench/peers/onnx_cnn.py" "$CNN_MODEL_DIR" "$WORK/cnn_dump" --batch "$CNN_BATCH" \
        --repeats "$CNN_REPEATS" --single "$CNN_SINGLE" >"$WORK/cnn_onnx_$i.json" 2>>"$WORK/cnn_onnx.log" \
        || { cat "$WORK/cnn_onnx.log" >&2; die "ONNX Runtime and ours disagree (round $i)"; }
    fi
  done
}

# Two servers on the same model: dynamic batching on (the server's defaults unless CNN_MAX_BATCH /
# CNN_BATCH_DELAY_US say otherwise) and off (--max-batch-size 1). Sets CNN_HTTP_SKIP when this mls
# cannot do it yet, so the rest of the run goes on.
start_cnn_servers() {
  CNN_HTTP_SKIP=""
  if [[ $CNN_HTTP != 1 ]]; then
    CNN_HTTP_SKIP="CNN_HTTP=$CNN_HTTP"
    return
  fi
  local help
  help=$("$MLS" serve --help 2>&1 || true)
  if [[ $help != *--max-batch-size* || $help != *--max-batch-delay-us* ]]; then
    CNN_HTTP_SKIP="this mls serve has no --max-batch-size / --max-batch-delay-us flags"
    log "cnn HTTP part skipped: $CNN_HTTP_SKIP"
    return
  fi
  CNN_MAX_BATCH=${CNN_MAX_BATCH:-$(sed -n 's/.*--max-batch-size [^=]*=\([0-9][0-9]*\).*/\1/p' <<<"$help" | head -n1)}
  CNN_BATCH_DELAY_US=${CNN_BATCH_DELAY_US:-$(sed -n 's/.*--max-batch-delay-us [^=]*=\([0-9][0-9]*\).*/\1/p' <<<"$help" | head -n1)}
  [[ -n $CNN_MAX_BATCH && -n $CNN_BATCH_DELAY_US ]] \
    || die "cannot read the batching defaults from mls serve --help; set CNN_MAX_BATCH and CNN_BATCH_DELAY_US"
  CNN_BATCHED_PORT=$(free_port)
  log "mls serve, cnn, batching on (--max-batch-size $CNN_MAX_BATCH --max-batch-delay-us $CNN_BATCH_DELAY_US) on port $CNN_BATCHED_PORT"
  "$MLS" serve --port "$CNN_BATCHED_PORT" --model-dir "$CNN_MODEL_DIR" --max-batch-size "$CNN_MAX_BATCH" \
    --max-batch-delay-us "$CNN_BATCH_DELAY_US" >"$WORK/serve_cnn_batched.log" 2>&1 &
  CNN_BATCHED_PID=$!
  wait_for_ping "$CNN_BATCHED_PORT" "$CNN_BATCHED_PID" "mls serve (cnn, batching)" "$WORK/serve_cnn_batched.log"
  CNN_UNBATCHED_PORT=$(free_port)
  log "mls serve, cnn, batching off (--max-batch-size 1) on port $CNN_UNBATCHED_PORT"
  "$MLS" serve --port "$CNN_UNBATCHED_PORT" --model-dir "$CNN_MODEL_DIR" --max-batch-size 1 \
    --max-batch-delay-us 0 >"$WORK/serve_cnn_unbatched.log" 2>&1 &
  CNN_UNBATCHED_PID=$!
  wait_for_ping "$CNN_UNBATCHED_PORT" "$CNN_UNBATCHED_PID" "mls serve (cnn, no batching)" "$WORK/serve_cnn_unbatched.log"
  local port code
  for port in "$CNN_BATCHED_PORT" "$CNN_UNBATCHED_PORT"; do
    code=$(curl -s -o "$WORK/reply_png.json" -w '%{http_code}' -X POST -H 'Content-Type: image/png' \
      -H 'Accept: application/json' --data-binary "@$MLS_BENCH_PNG" "http://127.0.0.1:$port/invocations")
    if [[ $code != 200 ]]; then
      CNN_HTTP_SKIP="mls serve answered $code to a PNG: $(head -c 200 "$WORK/reply_png.json")"
      log "cnn HTTP part skipped: $CNN_HTTP_SKIP"
      return
    fi
  done
  log "our reply to the PNG: $(head -c 300 "$WORK/reply_png.json")"
}

forest_round() {
  local i=$1 order=$2 who
  for who in $order; do
    log "forest round $i/$ROUNDS: $who"
    if [[ $who == ours ]]; then
      "$FOREST_BENCH" "$DATA" --seed "$SEED" --repeats "$FOREST_REPEATS" >"$WORK/forest_ours_$i.json"
    elif [[ $who == peer ]]; then
      "$PYTHON" "$ROOT/bench/peers/sklearn_forest.py" "$DATA" --seed "$SEED" --repeats "$FOREST_REPEATS" \
        >"$WORK/forest_sklearn_$i.json"
    elif [[ -z $PEERS_SKIP ]]; then
      "$PEER_PYTHON" "$ROOT/bench/peers/forest_kernels.py" "$DATA" "$KERNEL_CACHE" --seed "$SEED" \
        --repeats "$FOREST_REPEATS" >"$WORK/forest_kernels_$i.json" 2>>"$WORK/forest_kernels.log"
    fi
  done
}

# A process and all its descendants.
descendants() {
  local p
  echo "$1"
  for p in $(pgrep -P "$1" || true); do descendants "$p"; done
}

# CPU seconds (user + system) used so far by a process and its descendants (nginx's and gunicorn's
# workers).
cpu_seconds() {
  local pids pid total=0 ticks
  pids=$(descendants "$1")
  for pid in $pids; do
    # Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
    ticks=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || ticks=0
    total=$((total + ${ticks:-0}))
  done
  awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}

# run_wrk SCRIPT THREADS CONNECTIONS PORT DURATION OUTFILE [SERVER_PID]: OUTFILE.cpu gets the
# server's CPU seconds.
run_wrk() {
  local script=$1 threads=$2 conns=$3 port=$4 duration=$5 out=$6 pid=${7:-} before after
  [[ -n $pid ]] && before=$(cpu_seconds "$pid")
  wrk -t"$threads" -c"$conns" -d"$duration" --timeout 30s --latency -s "$script" "http://127.0.0.1:$port" >"$out" 2>&1
  if [[ -n $pid ]]; then
    after=$(cpu_seconds "$pid")
    awk -v a="$after" -v b="$before" 'BEGIN { printf "%.3f\n", a - b }' >"$out.cpu"
  fi
}

http_round() {
  local i=$1 order=$2 who
  for who in $order; do
    log "wrk round $i/$ROUNDS: $who ($WRK_DURATION)"
    if [[ $who == ours ]]; then
      run_wrk "$WRK_SCRIPT" "$WRK_THREADS" "$WRK_CONNECTIONS" "$OURS_PORT" "$WRK_DURATION" \
        "$WORK/wrk_ours_$i.txt" "$SERVER_PID"
    elif [[ $who == peer ]]; then
      run_wrk "$WRK_SCRIPT" "$WRK_THREADS" "$WRK_CONNECTIONS" "$NGINX_PORT" "$WRK_DURATION" \
        "$WORK/wrk_nginx_$i.txt" "$NGINX_PID"
    else
      run_wrk "$WRK_SCRIPT" "$WRK_THREADS" "$WRK_CONNECTIONS" "$INF_PORT" "$WRK_DURATION" \
        "$WORK/wrk_inf2102_$i.txt" "$INF_PID"
    fi
  done
}

# "ours" is batching on, "peer" batching off; then one connection alone against each.
cnn_http_round() {
  local i=$1 order=$2 who
  for who in $order; do
    if [[ $who == ours ]]; then
      log "wrk PNG round $i/$ROUNDS: batching on ($WRK_DURATION, then 1 connection for $LONE_DURATION)"
      run_wrk "$PNG_SCRIPT" "$WRK_THREADS" "$WRK_CONNECTIONS" "$CNN_BATCHED_PORT" "$WRK_DURATION" \
        "$WORK/wrk_cnn_batched_$i.txt" "$CNN_BATCHED_PID"
      run_wrk "$PNG_SCRIPT" 1 1 "$CNN_BATCHED_PORT" "$LONE_DURATION" "$WORK/wrk_lone_batched_$i.txt" \
        "$CNN_BATCHED_PID"
    elif [[ $who == peer ]]; then
      log "wrk PNG round $i/$ROUNDS: batching off ($WRK_DURATION, then 1 connection for $LONE_DURATION)"
      run_wrk "$PNG_SCRIPT" "$WRK_THREADS" "$WRK_CONNECTIONS" "$CNN_UNBATCHED_PORT" "$WRK_DURATION" \
        "$WORK/wrk_cnn_unbatched_$i.txt" "$CNN_UNBATCHED_PID"
      run_wrk "$PNG_SCRIPT" 1 1 "$CNN_UNBATCHED_PORT" "$LONE_DURATION" "$WORK/wrk_lone_unbatched_$i.txt" \
        "$CNN_UNBATCHED_PID"
    fi
  done
}

# ---------------------------------------------------------------- http part
# CSV bodies of N rows (HTRU2's features, rows cycled, no label): what (e) and (g) post.
make_csv_bodies() {
  "$PYTHON" - "$DATA" "$WORK" 1000 $SWEEP_ROWS <<'PY'
import sys
data, work, *counts = sys.argv[1:]
rows = [",".join(line.strip().split(",")[:-1]) for line in open(data) if line.strip()]
for n in sorted(set(int(c) for c in counts)):
    with open(f"{work}/rows_{n}.csv", "w") as f:
        f.write("".join(rows[i % len(rows)] + "\n" for i in range(n)))
PY
}

# (e) 1 000-row batches: ours vs the INF2102 stack, same wrk, same connections.
http_batch_round() {
  local i=$1 order=$2 who
  for who in $order; do
    [[ $who == third ]] && continue
    log "wrk 1000-row round $i/$ROUNDS: $who ($WRK_DURATION)"
    if [[ $who == ours ]]; then
      MLS_BENCH_CSV=$WORK/rows_1000.csv run_wrk "$CSV_FILE_SCRIPT" "$WRK_THREADS" "$WRK_CONNECTIONS" \
        "$OURS_PORT" "$WRK_DURATION" "$WORK/wrk_batch_ours_$i.txt" "$SERVER_PID"
    else
      MLS_BENCH_CSV=$WORK/rows_1000.csv run_wrk "$CSV_FILE_SCRIPT" "$WRK_THREADS" "$WRK_CONNECTIONS" \
        "$INF_PORT" "$WRK_DURATION" "$WORK/wrk_batch_inf2102_$i.txt" "$INF_PID"
    fi
  done
}

# (f) requests/s against connections, ours and the nginx floor; (g) cost per request against rows per
# request, ours and the INF2102 stack (SWEEP_ROWS_CONNECTIONS connections: enough to keep both cores
# busy without queueing 10 000-row requests behind each other for seconds).
http_sweeps() {
  local c n t
  for c in $SWEEP_CONNECTIONS; do
    t=$((c < WRK_THREADS ? c : WRK_THREADS))
    log "wrk connection sweep: $c connections ($SWEEP_DURATION each, ours then nginx)"
    run_wrk "$WRK_SCRIPT" "$t" "$c" "$OURS_PORT" "$SWEEP_DURATION" "$WORK/wrk_conn_ours_$c.txt" "$SERVER_PID"
    run_wrk "$WRK_SCRIPT" "$t" "$c" "$NGINX_PORT" "$SWEEP_DURATION" "$WORK/wrk_conn_nginx_$c.txt" "$NGINX_PID"
  done
  for n in $SWEEP_ROWS; do
    log "wrk rows sweep: $n rows per request ($SWEEP_DURATION each, ours then INF2102)"
    MLS_BENCH_CSV=$WORK/rows_$n.csv run_wrk "$CSV_FILE_SCRIPT" "$WRK_THREADS" "$SWEEP_ROWS_CONNECTIONS" \
      "$OURS_PORT" "$SWEEP_DURATION" "$WORK/wrk_rows_ours_$n.txt" "$SERVER_PID"
    MLS_BENCH_CSV=$WORK/rows_$n.csv run_wrk "$CSV_FILE_SCRIPT" "$WRK_THREADS" "$SWEEP_ROWS_CONNECTIONS" \
      "$INF_PORT" "$SWEEP_DURATION" "$WORK/wrk_rows_inf2102_$n.txt" "$INF_PID"
  done
}

# (h) start-up: process start -> /ping 200 with the forest and the CNN loaded from one directory of
# model sub-directories, and the idle resident memory; the INF2102 stack's alike, for scale.
startup_part() {
  local both=$WORK/both port
  mkdir -p "$both"
  cp -r "$WORK/ml/model" "$both/pulsar"
  if [[ -n ${CNN_MODEL_DIR:-} ]]; then
    cp -r "$CNN_MODEL_DIR" "$both/xray"
  else
    OPENBLAS_NUM_THREADS=1 "$CNN_BENCH" "$both/xray" --data "$CNN_DATA" --init-seed "$SEED" --batch 1 \
      --repeats 1 --single 1 >/dev/null || die "cnn_predict_bench could not make a CNN model"
  fi
  port=$(free_port)
  log "start-up and idle RSS: mls serve with $(ls "$both" | tr '\n' ' ')x $STARTUP_REPEATS"
  "$PYTHON" "$ROOT/bench/peers/startup.py" --port "$port" --repeats "$STARTUP_REPEATS" -- \
    "$MLS" serve --port "$port" --model-dir "$both" >"$WORK/startup_ours.json" || die "start-up of mls serve failed"
  port=$(free_port)
  log "start-up and idle RSS: the INF2102 stack x $(((STARTUP_REPEATS + 1) / 2))"
  "$PYTHON" "$ROOT/bench/peers/startup.py" --port "$port" --repeats $(((STARTUP_REPEATS + 1) / 2)) -- \
    env NGINX_PREFIX="$WORK/inf2102_startup" "$ROOT/bench/peers/inf2102/serve.sh" "$port" "$WORK/inf2102_model" \
    >"$WORK/startup_inf2102.json" || die "start-up of the INF2102 stack failed"
}

# ---------------------------------------------------------------- train part
# (i) forest: `mls train` vs scikit-learn n_jobs=2 on the same seeded 80/20 split, held-out AUC both;
# CNN: process launch -> the first epoch whose validation AUC reaches CNN_TARGET_AUC, `mls train` vs
# PyTorch with 2 threads (peers/train_race.py race times both the same way).
train_part() {
  local split=$WORK/split i who start end in=$WORK/train_forest/input cin=$WORK/train_cnn/input
  "$PYTHON" "$ROOT/bench/peers/train_race.py" split "$DATA" "$split" --seed "$SEED" >"$WORK/train_split.json"
  mkdir -p "$in/config" "$in/data/training" "$in/data/validation" "$cin/config" "$cin/data/training"
  cp "$split/train.csv" "$in/data/training/"
  cp "$split/test.csv" "$in/data/validation/"
  printf '{"n_estimators": "100", "max_features": "sqrt", "seed": "%s", "n_jobs": "2"}\n' "$SEED" \
    >"$in/config/hyperparameters.json"
  cp "$CNN_DATA" "$cin/data/training/"
  printf '{"model_type": "cnn", "seed": "%s", "n_jobs": "2"}\n' "$SEED" >"$cin/config/hyperparameters.json"
  for ((i = 1; i <= TRAIN_ROUNDS; i++)); do
    if ((i % 2)); then order="ours peer"; else order="peer ours"; fi
    for who in $order; do
      log "train round $i/$TRAIN_ROUNDS: $who (forest, then CNN to validation AUC $CNN_TARGET_AUC)"
      if [[ $who == ours ]]; then
        rm -rf "$WORK/train_forest/model" "$WORK/train_forest/output"
        mkdir -p "$WORK/train_forest/model" "$WORK/train_forest/output"
        start=$(date +%s.%N)
        "$MLS" train --input-dir "$in" --model-dir "$WORK/train_forest/model" \
          --output-dir "$WORK/train_forest/output" >"$WORK/train_forest_$i.log" 2>&1 || die "mls train (forest) failed"
        end=$(date +%s.%N)
        "$PYTHON" - "$start" "$end" "$WORK/train_forest_$i.log" >"$WORK/train_forest_ours_$i.json" <<'PY'
import json, re, sys
start, end, log = float(sys.argv[1]), float(sys.argv[2]), open(sys.argv[3]).read()
auc = re.search(r"validation:auc=([0-9.]+)", log)
fit = re.search(r"training finished in ([0-9.]+) s", log)
nodes = re.search(r"(\d+) nodes", log)
print(json.dumps({"impl": "mls", "seconds": round(end - start, 4), "auc": float(auc.group(1)) if auc else None,
                  "log_seconds": float(fit.group(1)) if fit else None,
                  "nodes": int(nodes.group(1)) if nodes else None}))
PY
        rm -rf "$WORK/train_cnn/model" "$WORK/train_cnn/output" "$WORK/train_cnn/ckpt"
        mkdir -p "$WORK/train_cnn/model" "$WORK/train_cnn/output" "$WORK/train_cnn/ckpt"
        "$PYTHON" "$ROOT/bench/peers/train_race.py" race --target "$CNN_TARGET_AUC" -- "$MLS" train \
          --input-dir "$cin" --model-dir "$WORK/train_cnn/model" --output-dir "$WORK/train_cnn/output" \
          --checkpoint-dir "$WORK/train_cnn/ckpt" >"$WORK/train_cnn_ours_$i.json" 2>>"$WORK/train_cnn.log"
      else
        "$PYTHON" "$ROOT/bench/peers/train_race.py" sklearn-forest "$split/train.csv" "$split/test.csv" \
          --seed "$SEED" --jobs 2 >"$WORK/train_forest_sklearn_$i.json"
        "$PYTHON" "$ROOT/bench/peers/train_race.py" race --target "$CNN_TARGET_AUC" -- "$PYTHON" \
          "$ROOT/bench/peers/train_race.py" torch-cnn "$CNN_DATA" --threads 2 --target "$CNN_TARGET_AUC" \
          --seed "$SEED" >"$WORK/train_cnn_torch_$i.json" 2>>"$WORK/train_cnn.log"
      fi
    done
  done
}

machine_facts() {
  {
    echo "parts=$PARTS"
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
    echo "cores=$(nproc)"
    echo "kernel=$(uname -r)"
    echo "date=$(date -u +'%Y-%m-%d %H:%M UTC')"
    echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "compiler=$(c++ --version 2>/dev/null | head -n1)"
    echo "nginx=$(want forest && "$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
    echo "wrk=$(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}')"
    echo "mls_train_seconds=${MLS_TRAIN_SECONDS:-}"
    echo "busy_before=$BUSY_BEFORE"
    echo "busy_after=$BUSY_AFTER"
    echo "rounds=$ROUNDS"
    echo "seed=$SEED"
    echo "forest_repeats=$FOREST_REPEATS"
    echo "wrk_flags=-t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION"
    echo "lone_duration=$LONE_DURATION"
    echo "cnn_http_skip=${CNN_HTTP_SKIP:-}"
    echo "cnn_max_batch=${CNN_MAX_BATCH:-}"
    echo "cnn_batch_delay_us=${CNN_BATCH_DELAY_US:-}"
    echo "cnn_png_bytes=$( [[ -f $WORK/image.png ]] && stat -c %s "$WORK/image.png")"
    echo "cnn_data=$(basename "$CNN_DATA")"
    echo "peers_skip=${PEERS_SKIP:-}"
    echo "gunicorn=$(gunicorn --version 2>&1 | head -n1)"
    echo "flask=$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("flask"))' 2>/dev/null)"
    echo "sweep_duration=$SWEEP_DURATION"
    echo "sweep_rows_connections=$SWEEP_ROWS_CONNECTIONS"
    echo "train_rounds=$TRAIN_ROUNDS"
    echo "cnn_target_auc=$CNN_TARGET_AUC"
    echo "startup_repeats=$STARTUP_REPEATS"
    echo "wrk_threads=$WRK_THREADS"
    echo "wrk_connections=$WRK_CONNECTIONS"
    echo "wrk_duration=$WRK_DURATION"
    echo "seconds_total=$((SECONDS))"
  } >"$WORK/facts.txt"
}

# ---------------------------------------------------------------- main
[[ -r $DATA ]] || die "no data at $DATA (set DATA=path/to/HTRU_2.csv)"
if want cnn || want http || want train; then
  [[ -r $CNN_DATA ]] || die "no image data at $CNN_DATA (set CNN_DATA=path/to/pneumoniamnist.npz)"
fi
ensure_tools
build
if want forest || want http; then
  train_model
  start_server
  check_server_reply
  start_nginx
  start_inf2102
fi
want forest && prepare_kernels
if want cnn; then
  prepare_cnn
  start_cnn_servers
fi
want http && make_csv_bodies
CNN_HTTP_ON=0
want cnn && [[ -z $CNN_HTTP_SKIP ]] && CNN_HTTP_ON=1

# How busy the cores are with other people's work right now (our servers are idle): a noise warning.
cpu_busy_percent() {
  local a b
  a=$(head -n1 /proc/stat)
  sleep 2
  b=$(head -n1 /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); total = 0
    for (i = 2; i <= n; i++) total += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6])
    printf "%.0f", (total > 0 ? 100 * (total - idle) / total : 0) }'
}
BUSY_BEFORE=$(cpu_busy_percent)
log "cores busy with other work before measuring: ${BUSY_BEFORE}%"

# Warm the servers up (connections, page faults, lazy initialisation); these numbers are dropped.
if want forest || want http; then
  run_wrk "$WRK_SCRIPT" "$WRK_THREADS" "$WRK_CONNECTIONS" "$OURS_PORT" 2s "$WORK/wrk_warmup_ours.txt"
  run_wrk "$WRK_SCRIPT" "$WRK_THREADS" "$WRK_CONNECTIONS" "$NGINX_PORT" 2s "$WORK/wrk_warmup_nginx.txt"
  run_wrk "$WRK_SCRIPT" "$WRK_THREADS" "$WRK_CONNECTIONS" "$INF_PORT" 2s "$WORK/wrk_warmup_inf2102.txt"
fi
if ((CNN_HTTP_ON)); then
  run_wrk "$PNG_SCRIPT" "$WRK_THREADS" "$WRK_CONNECTIONS" "$CNN_BATCHED_PORT" 2s "$WORK/wrk_warmup_cnn_b.txt"
  run_wrk "$PNG_SCRIPT" "$WRK_THREADS" "$WRK_CONNECTIONS" "$CNN_UNBATCHED_PORT" 2s "$WORK/wrk_warmup_cnn_u.txt"
fi

# Alternate who goes first, so a slow patch of the shared machine does not always land on one side.
for ((i = 1; i <= ROUNDS; i++)); do
  # "third" is the extra peers: tl2cgen + ONNX Runtime, the INF2102 stack, ONNX Runtime's CNN.
  if ((i % 2)); then order="ours peer third"; else order="third peer ours"; fi
  if want forest; then
    forest_round "$i" "$order"
    http_round "$i" "$order"
  fi
  want http && http_batch_round "$i" "$order"
  if want cnn; then
    cnn_round "$i" "$order"
    if ((CNN_HTTP_ON)); then cnn_http_round "$i" "$order"; fi
  fi
done
if want http; then
  http_sweeps
  startup_part
fi
for pid in $SERVER_PID $CNN_BATCHED_PID $CNN_UNBATCHED_PID $INF_PID; do
  kill -0 "$pid" 2>/dev/null || die "a server died during the run (logs: KEEP_WORK=1)"
done
BUSY_AFTER=$(cpu_busy_percent)
# Training last: it loads both cores, so nothing else is measured meanwhile.
want train && train_part

machine_facts
if want forest || want cnn; then
"$PYTHON" - "$WORK" "$ROUNDS" "$OUT" "$CNN_HTTP_ON" <<'PY'
import glob, json, os, re, statistics, sys

work, rounds, out_path, cnn_http_on = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
facts = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(work, "facts.txt")))
parts = facts["parts"].split()
med = statistics.median

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * UNITS[m.group(2)]

def wrk_file(name):
    text = open(os.path.join(work, name)).read()
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        sys.exit(f"wrk output without Requests/sec:\n{text}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errs = re.search(r"Socket errors:.*", text)
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", text, re.M))
    total = re.search(r"(\d+) requests in", text)
    cpu = float(open(os.path.join(work, name + ".cpu")).read())
    return {"rps": float(m.group(1)), "non2xx": int(bad.group(1)) if bad else 0,
            "cpu_us_per_request": 1e6 * cpu / max(int(total.group(1)), 1),
            "socket_errors": errs.group(0) if errs else "",
            "p50_ms": ms(lat["50"]), "p99_ms": ms(lat["99"])}

def wrk(impl):
    return [wrk_file(f"wrk_{impl}_{i}.txt") for i in range(1, rounds + 1)]

def load_json(pattern):
    return [json.load(open(os.path.join(work, pattern.format(i)))) for i in range(1, rounds + 1)]

def spread(values, fmt):
    return f"{fmt(min(values))}–{fmt(max(values))}"
k = lambda v: f"{v / 1000:,.1f} k"
us = lambda v: f"{v:,.1f} µs" if v < 1000 else f"{v / 1000:,.2f} ms"
sec = lambda v: f"{v:.2f} s"
msf = lambda v: f"{v:.2f} ms"
x2 = lambda v: f"{v:.2f}×"
verdict = lambda ok: "**met**" if ok else "**not met**"

def ratio_spread(a, b):
    r = [x / y for x, y in zip(a, b)]
    return spread(r, x2) + f" (median {med(r):.2f}×)"

def wrk_warnings(name, runs):
    out = []
    bad = sum(r["non2xx"] for r in runs)
    if bad:
        out.append(f"{name} answered {bad} non-2xx responses under wrk: its req/s is not a valid result.")
    errs = [r["socket_errors"] for r in runs if r["socket_errors"]]
    if errs:
        out.append(f"{name}: wrk reported {errs[0]}")
    return out

def table(header, rows):
    cols = len(header)
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (cols - 2) + "---|"]
    return lines + [f"| {' | '.join(r)} |" for r in rows]

busy = max(int(facts["busy_before"]), int(facts["busy_after"]))
busy_warning = (f"other work kept the cores {busy} % busy just before or after the measurements: "
                "expect more noise than usual (ratios hold better than absolute numbers).") if busy > 20 else None
machine_line = (f"- Machine: {facts['cpu']}, {facts['cores']} cores, Linux {facts['kernel']} (a shared machine; "
                f"other work used {facts['busy_before']} % / {facts['busy_after']} % of the cores just before / after "
                "measuring).")
date_line = f"- Date: {facts['date']}; commit {facts['commit']}; {facts['compiler']}."

def forest_section():
    ours_f, sk_f = load_json("forest_ours_{}.json"), load_json("forest_sklearn_{}.json")
    ours_w, ng_w = wrk("ours"), wrk("nginx")
    # Rows/s: the median of every timed batch of every round (rounds x repeats samples per side).
    ours_rps = med([v for r in ours_f for v in r["rows_per_s"]])
    sk_rps = med([v for r in sk_f for v in r["rows_per_s"]])
    ours_1 = med([r["single_row_us_median"] for r in ours_f])
    sk_1 = med([r["single_row_us_median"] for r in sk_f])
    ours_train = med([r["train_seconds"] for r in ours_f])
    sk_train = med([r["train_seconds"] for r in sk_f])
    ours_http = med([r["rps"] for r in ours_w])
    ng_http = med([r["rps"] for r in ng_w])
    forest_ratio, http_ratio = ours_rps / sk_rps, ours_http / ng_http
    rows = [
        ("Forest predict_proba, 1 thread, batch 10 000 (rows/s)", k(ours_rps), k(sk_rps),
         f"**{forest_ratio:.2f}×**", f"≥ 8× — {verdict(forest_ratio >= 8)}"),
        ("  per-round medians (rows/s)", spread([r["rows_per_s_median"] for r in ours_f], k),
         spread([r["rows_per_s_median"] for r in sk_f], k),
         ratio_spread([r["rows_per_s_median"] for r in ours_f], [r["rows_per_s_median"] for r in sk_f]), ""),
        ("Forest batch of 1, median latency", us(ours_1), us(sk_1), f"{sk_1 / ours_1:,.0f}× faster", ""),
        ("Forest training wall time (2 cores)", sec(ours_train), sec(sk_train), f"{sk_train / ours_train:.2f}× faster", ""),
        ("Forest size (nodes, 100 trees)", f"{ours_f[0]['nodes']:,}", f"{sk_f[0]['nodes']:,}", "", "same hyperparameters"),
        ("Mean nodes visited per row per tree", f"{ours_f[0]['mean_path_length']:.2f}",
         f"{sk_f[0]['mean_path_length']:.2f}", "", ""),
        ("HTTP single-row CSV POST /invocations (req/s), peer = nginx floor", k(ours_http), k(ng_http),
         f"**{http_ratio:.2f}×**", f"≥ 0.7× — {verdict(http_ratio >= 0.7)}"),
        ("  per-round (req/s)", spread([r["rps"] for r in ours_w], k), spread([r["rps"] for r in ng_w], k),
         ratio_spread([r["rps"] for r in ours_w], [r["rps"] for r in ng_w]), ""),
        ("  server CPU per request (user + system, all threads)", us(med([r["cpu_us_per_request"] for r in ours_w])),
         us(med([r["cpu_us_per_request"] for r in ng_w])),
         f"{med([r['cpu_us_per_request'] for r in ours_w]) / med([r['cpu_us_per_request'] for r in ng_w]):.2f}× the CPU",
         ""),
        ("  latency p50 under that load", msf(med([r["p50_ms"] for r in ours_w])),
         msf(med([r["p50_ms"] for r in ng_w])), "", ""),
        ("  latency p99 under that load", msf(med([r["p99_ms"] for r in ours_w])),
         msf(med([r["p99_ms"] for r in ng_w])), "", ""),
    ]
    warnings = wrk_warnings("mls serve", ours_w) + wrk_warnings("nginx", ng_w)
    if ours_f[0]["checksum"] <= 0 or abs(ours_f[0]["checksum"] - sk_f[0]["checksum"]) > 0.05 * sk_f[0]["checksum"]:
        warnings.append(f"the two forests disagree more than expected (sum of P(class 1) over the batch: "
                        f"{ours_f[0]['checksum']:.1f} vs {sk_f[0]['checksum']:.1f}).")
    if busy_warning:
        warnings.append(busy_warning)
    lines = ["## Forest and single-row CSV over HTTP", ""]
    lines += table(["Metric", "Ours (mls)", "Peer", "Ratio", "Target"], rows)
    lines += [
        "",
        f"Peers: forest = scikit-learn {sk_f[0]['sklearn_version']} `RandomForestClassifier` (numpy "
        f"{sk_f[0]['numpy_version']}, Python {sk_f[0]['python_version']}); HTTP = {facts['nginx']} returning "
        "the same reply bytes with `return 200` (2 workers, no logging).",
        "",
        machine_line[:-2] + "; wrk runs on the same cores).",
        date_line,
        f"- Data: HTRU2, {ours_f[0]['rows']:,} rows x {ours_f[0]['features']} features; 100 trees, max_features=sqrt, "
        f"bootstrap, no depth limit, seed {ours_f[0].get('seed', '')}".rstrip() + ".",
        f"- Method: {rounds} rounds, ours and the peer alternating (who goes first flips each round); forest rows/s is the "
        f"median of {rounds} x {ours_f[0]['repeats']} timed batches per side; the rest are medians of per-round values.",
        f"- {facts['wrk']} `{facts['wrk_flags']} --latency -s bench/peers/post_csv.lua`, keep-alive, one "
        f"{os.path.getsize(os.path.join(work, 'nginx_body.txt'))}-byte reply body per "
        "request; 2 s warm-up per server first, not counted.",
        f"- `mls train` of the served model took {facts['mls_train_seconds']} s end to end (process start to exit).",
        "",
        "Per round:",
        "",
        "| Round | Ran first | Forest rows/s, ours | sklearn | HTTP req/s, ours | nginx |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for i in range(rounds):
        lines.append(f"| {i + 1} | {'ours' if i % 2 == 0 else 'peer'} | {ours_f[i]['rows_per_s_median']:,.0f} | "
                     f"{sk_f[i]['rows_per_s_median']:,.0f} | {ours_w[i]['rps']:,.0f} | {ng_w[i]['rps']:,.0f} |")
    if warnings:
        lines += ["", "**Warnings**", ""] + [f"- {w}" for w in warnings]
    return "\n".join(lines)

def cnn_section():
    ours, th = load_json("cnn_ours_{}.json"), load_json("cnn_torch_{}.json")
    setup = json.load(open(os.path.join(work, "cnn_setup_torch.json")))
    setup_ours = json.load(open(os.path.join(work, "cnn_setup_ours.json")))  # says if it made the model
    o0, t0 = ours[0], th[0]
    # Batch N: the median of every timed batch of every round; batch 1: the median of the per-round
    # figures (each is 1 / the median of that round's single-image calls).
    ob = med([v for r in ours for v in r["batch_images_per_s"]])
    tb = med([v for r in th for v in r["batch_images_per_s"]])
    o1 = med([r["single_images_per_s"] for r in ours])
    t1 = med([r["single_images_per_s"] for r in th])
    rb, r1 = ob / tb, o1 / t1
    parity_b = max([setup["parity_max_abs_diff_batch"]] + [r["parity_max_abs_diff_batch"] for r in th])
    parity_1 = max([setup["parity_max_abs_diff_single"]] + [r["parity_max_abs_diff_single"] for r in th])
    tol = setup["parity_tolerance"]
    rows = [
        (f"CNN predict_proba, 1 thread, batch {o0['batch']} (images/s)", k(ob), k(tb), f"**{rb:.2f}×**",
         f"≥ 4× — {verdict(rb >= 4)}"),
        ("  per-round medians (images/s)", spread([r["batch_images_per_s_median"] for r in ours], k),
         spread([r["batch_images_per_s_median"] for r in th], k),
         ratio_spread([r["batch_images_per_s_median"] for r in ours], [r["batch_images_per_s_median"] for r in th]), ""),
        ("CNN predict_proba, 1 thread, batch 1 (images/s = 1 / median call)", k(o1), k(t1), f"**{r1:.2f}×**",
         f"≥ 4× — {verdict(r1 >= 4)}"),
        ("  per-round (images/s)", spread([r["single_images_per_s"] for r in ours], k),
         spread([r["single_images_per_s"] for r in th], k),
         ratio_spread([r["single_images_per_s"] for r in ours], [r["single_images_per_s"] for r in th]), ""),
        ("  median latency of one batch-1 call", us(med([r["single_us_median"] for r in ours])),
         us(med([r["single_us_median"] for r in th])), "", ""),
        (f"Parity: max abs difference of the probabilities, {o0['images']} images, as one batch / one at a time",
         f"{parity_b:.1e} / {parity_1:.1e}", "", "", f"≤ {tol:g} — {'**ok**' if max(parity_b, parity_1) <= tol else '**FAILED**'}"),
    ]
    lines = ["## CNN: in-process inference, and PNG images over HTTP", ""]
    lines += table(["Metric", "Ours (mls)", "PyTorch", "Ratio", "Target"], rows)
    warnings = []
    if busy_warning:
        warnings.append(busy_warning)
    if cnn_http_on:
        bw, uw = wrk("cnn_batched"), wrk("cnn_unbatched")
        lb, lu = wrk("lone_batched"), wrk("lone_unbatched")
        b_rps, u_rps = med([r["rps"] for r in bw]), med([r["rps"] for r in uw])
        lb50, lu50 = med([r["p50_ms"] for r in lb]), med([r["p50_ms"] for r in lu])
        hrows = [
            (f"28×28 PNG POST /invocations, {facts['wrk_flags'].split()[1][2:]} connections (req/s)",
             k(b_rps), k(u_rps), f"**{b_rps / u_rps:.2f}×**"),
            ("  per-round (req/s)", spread([r["rps"] for r in bw], k), spread([r["rps"] for r in uw], k),
             ratio_spread([r["rps"] for r in bw], [r["rps"] for r in uw])),
            ("  server CPU per request (user + system, all threads)",
             us(med([r["cpu_us_per_request"] for r in bw])), us(med([r["cpu_us_per_request"] for r in uw])), ""),
            ("  latency p50 / p99 under that load",
             f"{msf(med([r['p50_ms'] for r in bw]))} / {msf(med([r['p99_ms'] for r in bw]))}",
             f"{msf(med([r['p50_ms'] for r in uw]))} / {msf(med([r['p99_ms'] for r in uw]))}", ""),
            ("Lone request (1 connection, one at a time): median latency", msf(lb50), msf(lu50),
             f"{lb50 / lu50:.2f}× the time"),
            ("  per-round medians", spread([r["p50_ms"] for r in lb], msf), spread([r["p50_ms"] for r in lu], msf), ""),
            ("  p99, and req/s of that one connection",
             f"{msf(med([r['p99_ms'] for r in lb]))}, {med([r['rps'] for r in lb]):,.0f}/s",
             f"{msf(med([r['p99_ms'] for r in lu]))}, {med([r['rps'] for r in lu]):,.0f}/s", ""),
        ]
        lines += [""]
        lines += table(["HTTP, `mls serve` on the same model", f"Batching on (max {facts['cnn_max_batch']}, "
                        f"delay {facts['cnn_batch_delay_us']} µs)", "Batching off (max 1)", "On / off"], hrows)
        for name, runs in (("batching on", bw), ("batching off", uw), ("batching on, lone", lb),
                           ("batching off, lone", lu)):
            warnings += wrk_warnings(f"mls serve ({name})", runs)
    else:
        lines += ["", f"HTTP image part **skipped**: {facts['cnn_http_skip']}."]
    model_line = (f"He-initialised (seed {facts['seed']}), saved with save_model and loaded back"
                  if setup_ours["model"] == "he_init" else f"loaded from `{o0['model_dir']}`")
    input_diff = setup["input_max_abs_diff"]
    input_match = ("not checked" if input_diff is None else
                   "exactly" if input_diff == 0 else f"to {input_diff:.1e}")
    lines += [
        "",
        f"Peer: PyTorch {t0['torch_version']} eager (Debian python3-torch; oneDNN "
        f"{'on' if t0['mkldnn'] else 'off'}), `torch.set_num_threads(1)` (reports {t0['torch_threads']} thread), "
        f"`inference_mode`, the same network built as an `nn.Sequential` from our cnn.bin (Python "
        f"{t0['python_version']}, numpy {t0['numpy_version']}). Ours: OpenBLAS threads {o0['openblas_threads']} "
        f"({o0['openblas']}).",
        "",
        machine_line,
        date_line,
        f"- Model: {o0['image_size']}×{o0['image_size']} gray input, conv {o0['conv1']} → {o0['conv2']} channels, "
        f"hidden {o0['hidden']}, {o0['classes']} classes, {o0['params']:,} parameters; {model_line}. Inputs: the "
        f"{o0['images']} images of {facts['cnn_data']} `val_images`, preprocessed by our one path with the manifest's "
        f"mean {o0['mean']:.4f} / std {o0['std']:.4f} (PyTorch runs the very same floats; NumPy "
        f"redoing that preprocessing matched them {input_match}).",
        f"- Method: {rounds} rounds, ours and PyTorch alternating (who goes first flips each round). Batch "
        f"{o0['batch']}: median of {rounds} x {o0['repeats']} timed calls per side (ours runs it in blocks of "
        f"{o0.get('block', '?')} inside predict_proba, PyTorch in one call). Batch 1: {o0['single_calls']} calls per round, each timed, "
        "1 / the median call per round, then the median of the rounds. Parity is checked before measuring and again "
        "in every round.",
    ]
    if cnn_http_on:
        lines.append(
            f"- HTTP: {facts['wrk']} `{facts['wrk_flags']} --latency -s bench/peers/post_png.lua`, keep-alive, a "
            f"{facts['cnn_png_bytes']}-byte PNG (validation image 0); lone request: `-t1 -c1 -d{facts['lone_duration']}`. "
            "Both servers run with their default I/O and inference threads, 2 s warm-up each, not counted; "
            "the two are alternated like the in-process sides.")
    lines += ["", "Per round:", ""]
    head = "| Round | Ran first | Batch images/s, ours | PyTorch | Batch-1 images/s, ours | PyTorch |"
    sep = "|---|---|---:|---:|---:|---:|"
    if cnn_http_on:
        head += " PNG req/s, batching on | off | lone p50, on | off |"
        sep += "---:|---:|---:|---:|"
    lines += [head, sep]
    for i in range(rounds):
        row = (f"| {i + 1} | {'ours' if i % 2 == 0 else 'peer'} | {ours[i]['batch_images_per_s_median']:,.0f} | "
               f"{th[i]['batch_images_per_s_median']:,.0f} | {ours[i]['single_images_per_s']:,.0f} | "
               f"{th[i]['single_images_per_s']:,.0f} |")
        if cnn_http_on:
            row += f" {bw[i]['rps']:,.0f} | {uw[i]['rps']:,.0f} | {msf(lb[i]['p50_ms'])} | {msf(lu[i]['p50_ms'])} |"
        lines.append(row)
    if abs(o0["checksum"] - t0["checksum"]) > 1e-3 * max(1.0, abs(t0["checksum"])):
        warnings.append(f"the timed batches' checksums differ: {o0['checksum']} vs {t0['checksum']}")
    if warnings:
        lines += ["", "**Warnings**", ""] + [f"- {w}" for w in warnings]
    return "\n".join(lines)

HEAD = """# Benchmark results

Written by `bench/run.sh`; see `bench/README.md` for what each number means and how it is measured. A run
rewrites only the sections it measured (`PARTS=cnn bench/run.sh` leaves the forest section alone), so the
sections may come from different runs: each names its own date and commit."""

sections = {}
if "forest" in parts:
    sections["forest"] = forest_section()
if "cnn" in parts:
    sections["cnn"] = cnn_section()

# Keep the sections this run did not measure.
old = open(out_path).read() if os.path.exists(out_path) else ""
kept = dict(re.findall(r"<!-- bench:(\w+) -->\n(.*?)\n<!-- /bench:\1 -->", old, re.S))
kept.update(sections)
order = ["forest", "cnn"] + sorted(set(kept) - {"forest", "cnn"})
text = HEAD + "\n" + "".join(f"\n<!-- bench:{name} -->\n{kept[name]}\n<!-- /bench:{name} -->\n"
                             for name in order if name in kept)
open(out_path, "w").write(text)
print("\n\n".join(sections.values()))
PY
fi
"$PYTHON" "$ROOT/bench/report.py" "$WORK" "$OUT" "$PLOTS" || die "bench/report.py failed (KEEP_WORK=1 keeps its inputs)"
log "wrote $OUT and the plots in $PLOTS (whole run: $((SECONDS / 60)) min $((SECONDS % 60)) s)"

#!/usr/bin/env bash
# bench/run.sh: the whole benchmark in one command (see bench/README.md).
#
#   bench/run.sh                      # build Release, run everything, write bench/RESULTS.md
#
# Measures, side by side in the same run, alternating so both sides see the same noise:
#   (a) forest predict_proba rows/s on one thread, batch of 10 000 HTRU2 rows: ours vs scikit-learn;
#   (b) single-row text/csv POST /invocations requests/s with wrk (keep-alive): `mls serve` vs an nginx
#       that returns the same bytes without doing anything (the floor of what HTTP costs on this machine).
#
# Knobs (environment): ROUNDS=5 FOREST_REPEATS=10 WRK_DURATION=10s WRK_THREADS=2 WRK_CONNECTIONS=16
#   SEED=1 DATA=<HTRU_2.csv> SKIP_BUILD=1 (use the existing build) OUT=<results file> BUILD_DIR=build/release
#   KEEP_WORK=1 (keep the temporary directory: raw outputs, server and nginx logs)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ROUNDS=${ROUNDS:-5}
FOREST_REPEATS=${FOREST_REPEATS:-10}
WRK_DURATION=${WRK_DURATION:-10s}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-16}
SEED=${SEED:-1}
DATA=${DATA:-$ROOT/../shared/data/htru2/HTRU_2.csv}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
OUT=${OUT:-$ROOT/bench/RESULTS.md}
MLS=$BUILD_DIR/server/mls
FOREST_BENCH=$BUILD_DIR/bench/forest_predict_bench
WRK_SCRIPT=$ROOT/bench/peers/post_csv.lua

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- tools
# Debian's python3 has python3-sklearn; a pyenv/venv python3 first on PATH usually does not.
find_python() {
  local p
  for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import sklearn, numpy' 2>/dev/null; then
      command -v "$p"
      return 0
    fi
  done
  return 1
}

ensure_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
  command -v curl >/dev/null || missing+=(curl)
  find_python >/dev/null || missing+=(python3-sklearn python3-numpy)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  PYTHON=$(find_python) || die "no python3 with scikit-learn and numpy"
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  export NGINX  # for peers/nginx_floor.sh
}

# ---------------------------------------------------------------- processes
WORK=$(mktemp -d /tmp/mls-bench.XXXXXX)
SERVER_PID=""
NGINX_PID=""
cleanup() {
  local pid
  for pid in "$SERVER_PID" "$NGINX_PID"; do
    [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "$SERVER_PID" "$NGINX_PID"; do
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
  [[ -x $MLS ]] || die "$MLS was not built"
  [[ -x $FOREST_BENCH ]] || die "$FOREST_BENCH was not built"
  # Run private copies, so a rebuild of the tree during the run cannot swap a binary under us.
  mkdir -p "$WORK/bin"
  cp "$MLS" "$FOREST_BENCH" "$WORK/bin/"
  MLS=$WORK/bin/mls
  FOREST_BENCH=$WORK/bin/forest_predict_bench
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

forest_round() {
  local i=$1 order=$2 who
  for who in $order; do
    log "forest round $i/$ROUNDS: $who"
    if [[ $who == ours ]]; then
      "$FOREST_BENCH" "$DATA" --seed "$SEED" --repeats "$FOREST_REPEATS" >"$WORK/forest_ours_$i.json"
    else
      "$PYTHON" "$ROOT/bench/peers/sklearn_forest.py" "$DATA" --seed "$SEED" --repeats "$FOREST_REPEATS" \
        >"$WORK/forest_sklearn_$i.json"
    fi
  done
}

# CPU seconds (user + system) used so far by a process and its children processes (nginx's workers).
cpu_seconds() {
  local pids pid total=0 ticks
  pids="$1 $(pgrep -P "$1" | tr '\n' ' ')"
  for pid in $pids; do
    # Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
    ticks=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || ticks=0
    total=$((total + ${ticks:-0}))
  done
  awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}

run_wrk() {  # run_wrk PORT DURATION OUTFILE [SERVER_PID]: OUTFILE.cpu gets the server's CPU seconds
  local before after
  [[ -n ${4:-} ]] && before=$(cpu_seconds "$4")
  wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$2" --latency -s "$WRK_SCRIPT" "http://127.0.0.1:$1" >"$3" 2>&1
  if [[ -n ${4:-} ]]; then
    after=$(cpu_seconds "$4")
    awk -v a="$after" -v b="$before" 'BEGIN { printf "%.3f\n", a - b }' >"$3.cpu"
  fi
}

http_round() {
  local i=$1 order=$2 who
  for who in $order; do
    log "wrk round $i/$ROUNDS: $who ($WRK_DURATION)"
    if [[ $who == ours ]]; then
      run_wrk "$OURS_PORT" "$WRK_DURATION" "$WORK/wrk_ours_$i.txt" "$SERVER_PID"
    else
      run_wrk "$NGINX_PORT" "$WRK_DURATION" "$WORK/wrk_nginx_$i.txt" "$NGINX_PID"
    fi
  done
}

machine_facts() {
  {
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
    echo "cores=$(nproc)"
    echo "kernel=$(uname -r)"
    echo "date=$(date -u +'%Y-%m-%d %H:%M UTC')"
    echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "compiler=$(c++ --version 2>/dev/null | head -n1)"
    echo "nginx=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
    echo "wrk=$(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}')"
    echo "mls_train_seconds=$MLS_TRAIN_SECONDS"
    echo "busy_before=$BUSY_BEFORE"
    echo "busy_after=$BUSY_AFTER"
    echo "rounds=$ROUNDS"
    echo "forest_repeats=$FOREST_REPEATS"
    echo "wrk_flags=-t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION"
  } >"$WORK/facts.txt"
}

# ---------------------------------------------------------------- main
[[ -r $DATA ]] || die "no data at $DATA (set DATA=path/to/HTRU_2.csv)"
ensure_tools
build
train_model
start_server
check_server_reply
start_nginx

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

# Warm both servers up (connections, page faults, lazy initialisation); these numbers are dropped.
run_wrk "$OURS_PORT" 2s "$WORK/wrk_warmup_ours.txt"
run_wrk "$NGINX_PORT" 2s "$WORK/wrk_warmup_nginx.txt"

# Alternate who goes first, so a slow patch of the shared machine does not always land on one side.
for ((i = 1; i <= ROUNDS; i++)); do
  if ((i % 2)); then order="ours peer"; else order="peer ours"; fi
  forest_round "$i" "$order"
  http_round "$i" "$order"
done
kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 30 "$WORK/serve.log" >&2; die "mls serve died during the run"; }
BUSY_AFTER=$(cpu_busy_percent)

machine_facts
"$PYTHON" - "$WORK" "$ROUNDS" "$OUT" <<'PY'
import glob, json, os, re, statistics, sys

work, rounds, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
facts = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(work, "facts.txt")))
med = statistics.median

def forest(impl):
    return [json.load(open(os.path.join(work, f"forest_{impl}_{i}.json"))) for i in range(1, rounds + 1)]

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * UNITS[m.group(2)]

def wrk(impl):
    runs = []
    for i in range(1, rounds + 1):
        text = open(os.path.join(work, f"wrk_{impl}_{i}.txt")).read()
        m = re.search(r"Requests/sec:\s+([\d.]+)", text)
        if not m:
            sys.exit(f"wrk output without Requests/sec:\n{text}")
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
        errs = re.search(r"Socket errors:.*", text)
        lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", text, re.M))
        total = re.search(r"(\d+) requests in", text)
        cpu = float(open(os.path.join(work, f"wrk_{impl}_{i}.txt.cpu")).read())
        runs.append({"rps": float(m.group(1)), "non2xx": int(bad.group(1)) if bad else 0,
                     "cpu_us_per_request": 1e6 * cpu / int(total.group(1)),
                     "socket_errors": errs.group(0) if errs else "",
                     "p50_ms": ms(lat["50"]), "p99_ms": ms(lat["99"])})
    return runs

ours_f, sk_f = forest("ours"), forest("sklearn")
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

def spread(values, fmt):
    return f"{fmt(min(values))}–{fmt(max(values))}"
k = lambda v: f"{v / 1000:,.1f} k"
us = lambda v: f"{v:,.1f} µs" if v < 1000 else f"{v / 1000:,.2f} ms"
sec = lambda v: f"{v:.2f} s"
msf = lambda v: f"{v:.2f} ms"
x2 = lambda v: f"{v:.2f}×"
verdict = lambda ok: "**met**" if ok else "**not met**"

rows = [
    ("Forest predict_proba, 1 thread, batch 10 000 (rows/s)", k(ours_rps), k(sk_rps),
     f"**{forest_ratio:.2f}×**", f"≥ 6× — {verdict(forest_ratio >= 6)}"),
    ("  per-round medians (rows/s)", spread([r["rows_per_s_median"] for r in ours_f], k),
     spread([r["rows_per_s_median"] for r in sk_f], k),
     spread([a["rows_per_s_median"] / b["rows_per_s_median"] for a, b in zip(ours_f, sk_f)], x2)
     + f" (median {med([a['rows_per_s_median'] / b['rows_per_s_median'] for a, b in zip(ours_f, sk_f)]):.2f}×)", ""),
    ("Forest batch of 1, median latency", us(ours_1), us(sk_1), f"{sk_1 / ours_1:,.0f}× faster", ""),
    ("Forest training wall time (2 cores)", sec(ours_train), sec(sk_train), f"{sk_train / ours_train:.2f}× faster", ""),
    ("Forest size (nodes, 100 trees)", f"{ours_f[0]['nodes']:,}", f"{sk_f[0]['nodes']:,}", "", "same hyperparameters"),
    ("Mean nodes visited per row per tree", f"{ours_f[0]['mean_path_length']:.2f}",
     f"{sk_f[0]['mean_path_length']:.2f}", "", ""),
    ("HTTP single-row CSV POST /invocations (req/s), peer = nginx floor", k(ours_http), k(ng_http),
     f"**{http_ratio:.2f}×**", f"≥ 0.6× — {verdict(http_ratio >= 0.6)}"),
    ("  per-round (req/s)", spread([r["rps"] for r in ours_w], k), spread([r["rps"] for r in ng_w], k),
     spread([a["rps"] / b["rps"] for a, b in zip(ours_w, ng_w)], x2)
     + f" (median {med([a['rps'] / b['rps'] for a, b in zip(ours_w, ng_w)]):.2f}×)", ""),
    ("  server CPU per request (user + system, all threads)", us(med([r["cpu_us_per_request"] for r in ours_w])),
     us(med([r["cpu_us_per_request"] for r in ng_w])),
     f"{med([r['cpu_us_per_request'] for r in ours_w]) / med([r['cpu_us_per_request'] for r in ng_w]):.2f}× the CPU",
     ""),
    ("  latency p50 under that load", msf(med([r["p50_ms"] for r in ours_w])),
     msf(med([r["p50_ms"] for r in ng_w])), "", ""),
    ("  latency p99 under that load", msf(med([r["p99_ms"] for r in ours_w])),
     msf(med([r["p99_ms"] for r in ng_w])), "", ""),
]

warnings = []
for name, runs in (("mls serve", ours_w), ("nginx", ng_w)):
    bad = sum(r["non2xx"] for r in runs)
    if bad:
        warnings.append(f"{name} answered {bad} non-2xx responses under wrk: its req/s is not a valid result.")
    errs = [r["socket_errors"] for r in runs if r["socket_errors"]]
    if errs:
        warnings.append(f"{name}: wrk reported {errs[0]}")
if ours_f[0]["checksum"] <= 0 or abs(ours_f[0]["checksum"] - sk_f[0]["checksum"]) > 0.05 * sk_f[0]["checksum"]:
    warnings.append(f"the two forests disagree more than expected (sum of P(class 1) over the batch: "
                    f"{ours_f[0]['checksum']:.1f} vs {sk_f[0]['checksum']:.1f}).")

lines = [
    "# Benchmark results",
    "",
    "Written by `bench/run.sh`; see `bench/README.md` for what each number means and how it is measured.",
    "",
    "| Metric | Ours (mls) | Peer | Ratio | Target |",
    "|---|---:|---:|---:|---|",
]
lines += [f"| {' | '.join(r)} |" for r in rows]
lines += [
    "",
    f"Peers: forest = scikit-learn {sk_f[0]['sklearn_version']} `RandomForestClassifier` (numpy "
    f"{sk_f[0]['numpy_version']}, Python {sk_f[0]['python_version']}); HTTP = {facts['nginx']} returning "
    "the same reply bytes with `return 200` (2 workers, no logging).",
    "",
    f"- Machine: {facts['cpu']}, {facts['cores']} cores, Linux {facts['kernel']} (shared machine; wrk runs on the same "
    f"cores; other work used {facts['busy_before']} % / {facts['busy_after']} % of them just before / after measuring).",
    f"- Date: {facts['date']}; commit {facts['commit']}; {facts['compiler']}.",
    f"- Data: HTRU2, {ours_f[0]['rows']:,} rows x {ours_f[0]['features']} features; 100 trees, max_features=sqrt, "
    f"bootstrap, no depth limit, seed {ours_f[0].get('seed', '')}".rstrip() + ".",
    f"- Method: {rounds} rounds, ours and the peer alternating (who goes first flips each round); forest rows/s is the "
    f"median of {rounds} x {ours_f[0]['repeats']} timed batches per side; the rest are medians of per-round values.",
    f"- {facts['wrk']} `{facts['wrk_flags']} --latency -s bench/peers/post_csv.lua`, keep-alive, one {os.path.getsize(os.path.join(work, 'nginx_body.txt'))}-byte reply body per "
    "request; 2 s warm-up per server first, not counted.",
    f"- `mls train` of the served model took {facts['mls_train_seconds']} s end to end (process start to exit).",
]
busy = max(int(facts["busy_before"]), int(facts["busy_after"]))
if busy > 20:
    warnings.append(f"other work kept the cores {busy} % busy just before or after the measurements: "
                    "expect more noise than usual (ratios hold better than absolute numbers).")
lines += [
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
text = "\n".join(lines) + "\n"
open(out_path, "w").write(text)
print(text)
PY
log "wrote $OUT"

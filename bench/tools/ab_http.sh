#!/usr/bin/env bash
# bench/tools/ab_http.sh: A/B two `mls` binaries on the same HTTP load, in alternating rounds.
#
#   bench/tools/ab_http.sh OLD_MLS NEW_MLS MODEL_DIR
#   ROUNDS=4 DURATION=5s CONNECTIONS=16 SCRIPT=bench/peers/post_csv.lua bench/tools/ab_http.sh ...
#
# Each round starts one binary (`serve --port PORT --model-dir MODEL_DIR`, plus SERVE_ARGS), waits for
# /ping, warms it for a second, runs `wrk -tTHREADS -cCONNECTIONS -dDURATION --latency -s SCRIPT`, then
# the other binary; the order flips every round so both see the same drift. One line per run:
#   label  req/s  p99  user-us/req  sys-us/req  syscalls/req  voluntary/involuntary switches/req
# User and system time are the server's own (/proc/PID/stat, both threads); syscalls/req counts
# every system call entry of the server process during the run (`perf stat`, when perf is there);
# the context switches are its threads' own (/proc/PID/task/*/status): voluntary when a thread
# blocks (an I/O thread with nothing to read), involuntary when the scheduler preempts it (for wrk,
# when they share a CPU).
set -euo pipefail
if [[ $# -ne 3 || ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
  [[ ${1:-} == -h || ${1:-} == --help ]] && exit 0 || exit 2
fi
OLD=$1 NEW=$2 MODEL_DIR=$3
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-5s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
SCRIPT=${SCRIPT:-$ROOT/bench/peers/post_csv.lua}
PORT=${PORT:-18481}
SERVE_ARGS=${SERVE_ARGS:-}
HZ=$(getconf CLK_TCK)

ticks() {  # utime stime of a process (all its threads)
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12, $13}'
}

switches() {  # voluntary and involuntary context switches of a process, summed over its threads
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^voluntary_ctxt/ {v += $2} /^nonvoluntary_ctxt/ {n += $2} END {print v + 0, n + 0}'
}

run_one() {
  local label=$1 bin=$2 pid out u0 s0 u1 s1 v0 n0 v1 n1 perf_out calls
  # shellcheck disable=SC2086
  "$bin" serve --port "$PORT" --model-dir "$MODEL_DIR" $SERVE_ARGS >/tmp/ab_http_serve.log 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$PORT/ping" >/dev/null 2>&1 && break
    sleep 0.05
  done
  wrk -t"$THREADS" -c"$CONNECTIONS" -d1s -s "$SCRIPT" "http://127.0.0.1:$PORT" >/dev/null 2>&1
  read -r u0 s0 < <(ticks "$pid")
  read -r v0 n0 < <(switches "$pid")
  perf_out=$(mktemp)
  if command -v perf >/dev/null; then
    perf stat -x, -e 'raw_syscalls:sys_enter' -p "$pid" -o "$perf_out" &
  fi
  local perf_pid=$!
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$SCRIPT" "http://127.0.0.1:$PORT")
  command -v perf >/dev/null && { kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null || true; }
  read -r u1 s1 < <(ticks "$pid")
  read -r v1 n1 < <(switches "$pid")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  calls=$(awk -F, '/raw_syscalls/ {print $1}' "$perf_out" 2>/dev/null)
  rm -f "$perf_out"
  awk -v label="$label" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$HZ" -v calls="${calls:-0}" \
    -v vol=$((v1 - v0)) -v invol=$((n1 - n0)) '
    /Requests\/sec/ { rps = $2 }
    /^ +99%/ { p99 = $2 }
    /requests in/ { n = $1 }
    END {
      printf "%-4s %10.0f req/s  p99 %-8s user %5.2f us  sys %5.2f us  syscalls %4.2f /req  switches %4.2f / %4.2f /req\n",
             label, rps, p99, u / hz / n * 1e6, s / hz / n * 1e6, (calls > 0 ? calls / n : 0),
             vol / n, invol / n
    }' <<<"$out"
}

for round in $(seq "$ROUNDS"); do
  if ((round % 2)); then
    run_one old "$OLD"; run_one new "$NEW"
  else
    run_one new "$NEW"; run_one old "$OLD"
  fi
done

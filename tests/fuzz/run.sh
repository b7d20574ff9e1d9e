#!/usr/bin/env bash
# Builds every libFuzzer target with clang (ASan + UBSan) in build/fuzz and runs each for N seconds.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [--jobs N] [--merge] [--no-build] [TARGET...]
#
# SECONDS_PER_TARGET  default 60
# --jobs N            run N targets at a time (default 1)
# --merge             afterwards, merge the inputs that found new coverage into the committed
#                     corpus (tests/fuzz/corpus/<target>/, with -merge=1: only inputs that add
#                     coverage); without it the committed corpus is only read
# --no-build          use the fuzzers already in the build directory
# TARGET...           a subset (csv json npy ...); default all of tests/fuzz/CMakeLists.txt
#
# Needs clang and libFuzzer (Debian: clang libclang-rt-14-dev); installs nothing. New inputs, logs
# and any crashing input go to build/fuzz/runs/<target>/ (MLS_FUZZ_BUILD_DIR overrides build/fuzz).
# Prints executions, exec/s and coverage per target; exits 1 if any target crashed, leaked, timed
# out or ran out of memory, naming the input that did it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${MLS_FUZZ_BUILD_DIR:-$root/build/fuzz}
seconds=60
jobs=1
merge=0
do_build=1
targets=()
while (($#)); do
  case $1 in
    --jobs) jobs=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    [0-9]*) seconds=$1; shift ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ((${#targets[@]} == 0)); then
  # The list in CMakeLists.txt, between "set(MLS_FUZZ_TARGETS" and ")".
  mapfile -t targets < <(sed -n '/^set(MLS_FUZZ_TARGETS/,/^)/{/^  [a-z_]*$/s/ //gp}' "$here/CMakeLists.txt")
fi

for tool in clang clang++ cmake ninja; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (Debian: apt-get install clang libclang-rt-14-dev cmake ninja-build)" >&2; exit 2; }
done

if ((do_build)); then
  mkdir -p "$build"
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMLS_FUZZ=ON -DMLS_SANITIZE=address,undefined -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link \
    -DMLS_BUILD_BENCH=OFF "${launcher[@]}" >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log" >&2; exit 2; }
  ninja -C "$build" "${targets[@]/#/fuzz_}"
fi

run_one() {
  local t=$1 out=$build/runs/$1
  rm -rf "$out"
  mkdir -p "$out/new" "$out/artifacts"
  local flags=() rc=0
  [[ -f $here/$t.dict ]] && flags+=("-dict=$here/$t.dict")
  # The regressions once each first (they are large on purpose, so they stay out of the corpus
  # that libFuzzer mutates and that sets its input length).
  if [[ -d $here/regressions/$t ]]; then
    "$build/tests/fuzz/fuzz_$t" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/" \
      "$here/regressions/$t"/* >"$out/regressions.log" 2>&1 || rc=$?
  fi
  # The first folder (empty, scratch) receives new inputs; the committed corpus is only read.
  if ((rc == 0)); then
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$out/artifacts/" "${flags[@]}" \
      "$out/new" "$here/corpus/$t" >"$out/log.txt" 2>&1 || rc=$?
  else
    cp "$out/regressions.log" "$out/log.txt"
  fi
  echo "$rc" >"$out/rc"
}

summarise() {
  local t=$1 out=$build/runs/$1 rc execs eps cov ft found
  rc=$(cat "$out/rc")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log.txt" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/log.txt" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$out/log.txt" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$out/log.txt" | tail -1 | cut -d' ' -f2)
  found=$(find "$out/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  if [[ $rc != 0 || -n $found ]]; then
    printf '%-18s FAILED (exit %s) after %s execs; log %s\n' "$t" "$rc" "${execs:-?}" "$out/log.txt"
    for f in $found; do printf '%-18s   input: %s\n' "" "$f"; done
    grep -m3 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*FUZZ_CHECK failed)' "$out/log.txt" | sed 's/^/                     /'
    return 1
  fi
  printf '%-18s %12s %10s %8s %8s %8s\n' "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" \
    "$(find "$out/new" -type f | wc -l)"
}

echo "fuzzing ${#targets[@]} targets for ${seconds}s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if ((running >= jobs)); then wait -n || true; running=$((running - 1)); fi
done
wait || true

printf '\n%-18s %12s %10s %8s %8s %8s\n' target execs exec/s cov ft new
failed=0
for t in "${targets[@]}"; do summarise "$t" || failed=1; done

if ((merge)) && ((!failed)); then
  for t in "${targets[@]}"; do
    "$build/tests/fuzz/fuzz_$t" -merge=1 -rss_limit_mb=2048 -timeout=10 "$here/corpus/$t" \
      "$build/runs/$t/new" >"$build/runs/$t/merge.log" 2>&1
    echo "merged $t: $(grep -o 'added [0-9]* new units' "$build/runs/$t/merge.log" | tail -1)"
  done
fi
if ((failed)); then
  echo "run.sh: a fuzzer failed; reproduce with: $build/tests/fuzz/fuzz_TARGET INPUT (README.md)" >&2
fi
exit "$failed"

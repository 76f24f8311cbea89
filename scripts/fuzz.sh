#!/usr/bin/env bash
# Builds the libFuzzer targets with Clang into build-fuzz/ and runs each for
# FUZZ_SECONDS (default 600, the ten-minute run each target's README asks
# for). Corpora grow in build-fuzz/corpus/<target>/ (seeded from the
# target's fuzz/corpus/), and a crash leaves its input in
# build-fuzz/artifacts/<target>/. Exits 1 when any target did not end with
# "Done N runs". Usage: scripts/fuzz.sh [target ...] (default: all five).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-600}
jobs=${JOBS:-$(nproc)}
declare -A seeds=(
  [sql_parser_fuzzer]=sql/fuzz/corpus
  [sql_planner_fuzzer]=sql/fuzz/planner_corpus
  [codec_fuzzer]=runtime/fuzz/corpus
  [store_fuzzer]=operators/fuzz/corpus
  [snapshot_fuzzer]=checkpoint/fuzz/corpus
)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(sql_parser_fuzzer sql_planner_fuzzer codec_fuzzer store_fuzzer snapshot_fuzzer)
for t in "${targets[@]}"; do
  [ -n "${seeds[$t]:-}" ] || { echo "fuzz.sh: unknown target $t" >&2; exit 2; }
done

if [ ! -f build-fuzz/CMakeCache.txt ]; then
  CXX=clang++ CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRIVULET_BUILD_TESTS=OFF -DRIVULET_BUILD_BENCH=OFF
fi
cmake --build build-fuzz -j "$jobs" --target "${targets[@]}"

failed=0
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$t
  artifacts=build-fuzz/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  cp -n "${seeds[$t]}"/* "$corpus"/
  log=build-fuzz/artifacts/$t.log
  echo "== $t: $seconds s (log: $log)"
  status=0
  build-fuzz/bin/"$t" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -rss_limit_mb=4096 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || status=$?
  if [ "$status" -eq 0 ] && grep -q '^Done [0-9]* runs' "$log"; then
    grep '^Done [0-9]* runs' "$log"
  else
    failed=1
    echo "$t FAILED (exit $status):"
    grep -E '^(==[0-9]+==|SUMMARY|[a-z_]+_fuzzer: )' "$log" | head -5 || true
    ls "$artifacts"
  fi
done
exit "$failed"

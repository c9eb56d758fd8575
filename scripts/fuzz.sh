#!/usr/bin/env bash
# Runs every fuzz target of tests/fuzz for SECONDS each (default 60), from the seed corpus and
# the kept regressions, and fails on the first finding (docs/reliability.md).
#   scripts/fuzz.sh [SECONDS] [TARGET...]      targets: gguf plan spec tokenizer chat
# Needs the sanitizer build (scripts/sanitize.sh build; done here when its fuzzers are missing).
# New inputs accumulate in BUILD/fuzz/corpus/<target> (not in the repository); a crashing input
# is written to BUILD/fuzz/findings/<target>-crash-*: add it under tests/fuzz/regressions/<target>/
# with a regression test beside the fixed code.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(gguf plan spec tokenizer chat)
BUILD=${ASAN_BUILD_DIR:-build-asan}
for t in "${TARGETS[@]}"; do
  [ -x "$BUILD/bin/fuzz_$t" ] || { ./scripts/sanitize.sh build; break; }
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-allow_user_poisoning=0:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
mkdir -p "$BUILD/fuzz/findings" "$BUILD/fuzz/logs"
failed=0
for t in "${TARGETS[@]}"; do
  work="$BUILD/fuzz/corpus/$t"
  mkdir -p "$work"
  args=(-max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=3072 -malloc_limit_mb=2048
        -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$BUILD/fuzz/findings/$t-")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  dirs=("$work" "tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  log="$BUILD/fuzz/logs/$t.log"
  if "$BUILD/bin/fuzz_$t" "${args[@]}" "${dirs[@]}" > "$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz.sh: $t: ${SECONDS_EACH} s, ${runs:-?} inputs, ${cov:-cov: ?}, no finding"
  else
    echo "fuzz.sh: $t: FINDING (log $log):"
    tail -n 60 "$log"
    failed=1
  fi
done
exit $failed

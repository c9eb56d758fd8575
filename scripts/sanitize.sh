#!/usr/bin/env bash
# The sanitizer build (docs/reliability.md): everything this project compiles, built with
# clang-22 under AddressSanitizer + UndefinedBehaviorSanitizer (Debian's MLIR/LLVM libraries stay
# uninstrumented) plus libFuzzer's coverage instrumentation, into ${ASAN_BUILD_DIR:-build-asan}.
# The same tree holds the fuzz targets that scripts/fuzz.sh runs.
#   scripts/sanitize.sh          configure, build, run the whole test suite sanitized
#   scripts/sanitize.sh build    configure and build only
# CUDA is off in this build (nvcc does not take clang's sanitizer flags; the GPU tests skip on
# machines without a GPU anyway).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${ASAN_BUILD_DIR:-build-asan}
JOBS=${JOBS:-$(nproc)}
CLANG=${CLANG:-clang-22}
CLANGXX=${CLANGXX:-clang++-22}
start=$(date +%s)
cmake -G Ninja -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$CLANG" -DCMAKE_CXX_COMPILER="$CLANGXX" \
  -DGEMMA4C_SANITIZE=address,undefined -DGEMMA4C_FUZZ=ON -DGEMMA4C_ENABLE_CUDA=OFF > /dev/null
cmake --build "$BUILD" -j "$JOBS"
echo "sanitize.sh: build took $(( $(date +%s) - start )) s"
[ "${1:-test}" = build ] && exit 0

# Any report fails the test that produced it. Leaks are reported (MLIR's deliberate
# process-lifetime allocations are suppressed in tests/fuzz/lsan.supp). allow_user_poisoning=0:
# LLVM's BumpPtrAllocator poisons its slabs from header code our instrumented files inline, while
# the uninstrumented libMLIR.so allocates from them without unpoisoning (a false
# use-after-poison, found by the spec target); the project itself poisons nothing by hand.
export ASAN_OPTIONS=${ASAN_OPTIONS:-allow_user_poisoning=0:abort_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
tstart=$(date +%s)
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" ${SANITIZE_CTEST_ARGS:-}
echo "sanitize.sh: sanitized tests took $(( $(date +%s) - tstart )) s (build + tests $(( $(date +%s) - start )) s)"

#!/usr/bin/env bash
# The test command (README, command 2): set up, build, run every test suite with ctest
# (GoogleTest suites, the lit suite, the NumPy reference's tests, CUDA tests that skip without
# a GPU); then the same suite built with ASan + UBSan (scripts/sanitize.sh, build-asan/) and
# every fuzz target for FUZZ_SECONDS each (scripts/fuzz.sh; default 12, 60 s for all five).
# SKIP_SANITIZE=1 stops after the first suite (a quick local run; CI runs everything).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/setup.sh
./scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "${JOBS:-$(nproc)}"
echo "test.sh: setup + build + tests took $(( $(date +%s) - start )) s"
if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
  ./scripts/sanitize.sh
  fstart=$(date +%s)
  ./scripts/fuzz.sh "${FUZZ_SECONDS:-12}"
  echo "test.sh: fuzzing took $(( $(date +%s) - fstart )) s"
fi
echo "test.sh: everything took $(( $(date +%s) - start )) s"

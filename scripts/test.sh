#!/usr/bin/env bash
# The test command (README, command 2): set up, build, run every test suite with ctest
# (GoogleTest suites, the lit suite, the NumPy reference's tests, CUDA tests that skip without
# a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/setup.sh
./scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "${JOBS:-$(nproc)}"
echo "test.sh: setup + build + tests took $(( $(date +%s) - start )) s"

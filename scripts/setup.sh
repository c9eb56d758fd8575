#!/usr/bin/env bash
# Installs every Debian package that building and testing gemma4c needs. Idempotent: packages already
# present are left alone, so a second run only checks. See ../shared/toolchain.md for why each is here.
set -euo pipefail

PACKAGES=(
  # MLIR/LLVM 22 (bookworm-security). mlir-22-tools is required: MLIRTargets.cmake import-checks it.
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools
  # Plan format, status/flags/strings, unit tests.
  libflatbuffers-dev flatbuffers-compiler libabsl-dev libgtest-dev libgmock-dev
  # Build tools and the NumPy reference used by the fidelity tests.
  cmake ninja-build g++ python3 python3-numpy
  # The sanitizer build and the fuzz targets (scripts/sanitize.sh, scripts/fuzz.sh): clang with
  # its ASan/UBSan/libFuzzer runtimes, the same LLVM release as the MLIR libraries.
  clang-22 libclang-rt-22-dev
  # g4serve (docs/server.md): HTTP/1.1 server and JSON, header-only Debian libraries; headless
  # Chromium for the chat page's browser test (skipped when absent).
  libcpp-httplib-dev nlohmann-json3-dev chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

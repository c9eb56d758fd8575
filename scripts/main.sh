#!/usr/bin/env bash
# The main job (README, command 1): set up, build, then run the current end-to-end path:
#   1. compile every spec in specs/ and print each plan's summary;
#   2. make a tiny synthetic Gemma 4 GGUF, write its spec back from the file
#      (`gemma4c spec --from-gguf`), check it is the checked-in tiny spec, and compile it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
BIN=${BUILD_DIR:-build}/bin
OUT=${OUT_DIR:-out}
mkdir -p "$OUT"

for spec in specs/*.mlir; do
  name=$(basename "$spec" .mlir)
  echo "=== gemma4c compile $spec"
  "$BIN/gemma4c" compile "$spec" -o "$OUT/$name"
  echo
done

echo "=== synthetic model: gemma4c synth --like tiny-e2b --dtype q8_0"
"$BIN/gemma4c" synth --like tiny-e2b --dtype q8_0 -o "$OUT/tiny-e2b.gguf"
"$BIN/gemma4c" spec --from-gguf "$OUT/tiny-e2b.gguf" -o "$OUT/tiny-e2b.from-gguf.mlir"
diff -q "$OUT/tiny-e2b.from-gguf.mlir" specs/tiny-e2b.mlir && echo "spec from the GGUF == specs/tiny-e2b.mlir"
"$BIN/gemma4c" compile "$OUT/tiny-e2b.from-gguf.mlir" -o "$OUT/tiny-e2b.from-gguf"

#!/usr/bin/env bash
# The main job (README, command 1): set up, build, then run the whole chain on models the
# project makes itself:
#   1. compile every spec in specs/ and print each plan's summary;
#   2. `gemma4c synth` a tiny Gemma 4 GGUF (PLE, KV sharing, double-wide MLP), write its spec back
#      from the file (`gemma4c spec --from-gguf`), compile it under each precision policy, and run
#      a short text prompt with `g4run` (chat template, tokenizer, greedy decoding, tokens/s; the
#      random weights answer gibberish);
#   3. print the fidelity figures of each policy against the independent NumPy reference.
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

echo "=== gemma4c synth --like tiny-e2b --dtype bf16; spec --from-gguf; compile; g4run"
"$BIN/gemma4c" synth --like tiny-e2b --dtype bf16 -o "$OUT/tiny-e2b.gguf"
"$BIN/gemma4c" spec --from-gguf "$OUT/tiny-e2b.gguf" -o "$OUT/tiny-e2b.from-gguf.mlir"
for policy in f32 minimal reference; do
  "$BIN/gemma4c" compile "$OUT/tiny-e2b.from-gguf.mlir" --precision=$policy -o "$OUT/tiny-e2b-$policy" > /dev/null
  echo "--- $policy:"
  "$BIN/g4run" "$OUT/tiny-e2b-$policy" --model "$OUT/tiny-e2b.gguf" --prompt "The cat sat on the mat." -n 16 --temp 0
done
echo

echo "=== fidelity against the NumPy reference (tests/fidelity/fidelity.py)"
/usr/bin/python3 tests/fidelity/fidelity.py --bin "$BIN" --out "$OUT/fidelity" --models tiny-e2b --dtypes bf16

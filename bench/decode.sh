#!/usr/bin/env bash
# Decode and prefill speed of a full-size synthetic model, with the bytes each decode token
# reads and the achieved bandwidth, next to the machine's copy bandwidth.
#
#   bench/decode.sh [PRESET=e2b] [DTYPE=q8_0] [THREADS=$(nproc)] [TOKENS=32]
#
# Writes the model once to ${BENCH_DIR:-/tmp/gemma4c-bench} (E2B q8_0: 4.9 GB, ~40 s).
# The yardstick: when `llama-bench` (llama.cpp) is on PATH it runs on the same GGUF with the same
# thread count in the same run (synthetic files follow llama.cpp's gemma4 conventions).
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${1:-e2b}; DTYPE=${2:-q8_0}; THREADS=${3:-$(nproc)}; TOKENS=${4:-32}
BIN=${BUILD_DIR:-build}/bin
DIR=${BENCH_DIR:-/tmp/gemma4c-bench}
mkdir -p "$DIR"
MODEL="$DIR/$PRESET-$DTYPE.gguf"
[ -f "$MODEL" ] || "$BIN/gemma4c" synth --like "$PRESET" --dtype "$DTYPE" -o "$MODEL"
"$BIN/gemma4c" spec --from-gguf "$MODEL" -o "$DIR/$PRESET.mlir" > /dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
# Memory bandwidth: a 512 MiB array copied 5 times (read + write bytes), best time.
/usr/bin/python3 - <<'PY'
import time, numpy as np
a = np.ones(512 << 20, np.uint8); b = np.empty_like(a); best = 1e9
for _ in range(5):
    t = time.perf_counter(); np.copyto(b, a); best = min(best, time.perf_counter() - t)
print("memory copy bandwidth: %.1f GB/s (read + write, 512 MiB)" % (2 * a.nbytes / best / 1e9))
PY
PROMPT=$(seq -s, 2 65)   # 64 prompt tokens
for policy in reference f32; do
  "$BIN/gemma4c" compile "$DIR/$PRESET.mlir" --precision=$policy -o "$DIR/plan-$PRESET-$policy" > /dev/null
  # Warm the page cache once, then measure.
  "$BIN/g4run" "$DIR/plan-$PRESET-$policy" --model "$MODEL" --tokens 2 -n 2 --threads "$THREADS" > /dev/null
  echo "--- gemma4c, policy $policy, $THREADS threads, $PRESET $DTYPE"
  "$BIN/g4run" "$DIR/plan-$PRESET-$policy" --model "$MODEL" --tokens "$PROMPT" -n "$TOKENS" --threads "$THREADS" | grep -E "prefill|decode"
done
if command -v llama-bench > /dev/null; then
  echo "--- llama.cpp (llama-bench), $THREADS threads"
  llama-bench -m "$MODEL" -t "$THREADS" -p 64 -n "$TOKENS"
else
  echo "--- llama.cpp: llama-bench not on PATH; no yardstick in this run"
fi

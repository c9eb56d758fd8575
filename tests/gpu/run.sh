#!/usr/bin/env bash
# The GPU check in one device call (< 8 minutes on an H200 with 16 cores): builds the CUDA path
# for sm_90a only, runs the CUDA tests (kernels against the CPU implementations; the CUDA backend
# logits against exec::Session on the tiny models per policy), then a small benchmark (prefill
# and decode tokens/s and achieved GB/s on an E2B-shaped synthetic Q8_0 model) and prints a
# short table last.  Usage: tests/gpu/run.sh [BUILD_DIR]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$ROOT/build-gpu}
JOBS=$(nproc)
declare -a ROWS
row() { ROWS+=("$(printf '%-34s %s' "$1" "$2")"); }

start=$(date +%s)
if cmake -G Ninja -S "$ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_CUDA_ARCHITECTURES=90a-real -DGEMMA4C_CUDA_PTXAS_VERBOSE=OFF > "$B.cmake.log" 2>&1 &&
   ninja -C "$B" -j"$JOBS" > "$B.build.log" 2>&1; then
  row "build" "ok ($(( $(date +%s) - start )) s)"
else
  tail -30 "$B.build.log" "$B.cmake.log" 2>/dev/null
  row "build" "FAILED (see $B.build.log)"
  printf '\n%s\n' "${ROWS[@]}"; exit 1
fi

nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
for t in dequant matvec attention row_ops session; do
  if timeout 300 ctest --test-dir "$B" -R "^cuda\.$t\$" --output-on-failure > "$B/cuda.$t.log" 2>&1; then
    row "cuda.$t" "$(grep -q 'SKIPPED' "$B/cuda.$t.log" && echo skipped || echo passed)"
  else
    row "cuda.$t" "FAILED"
  fi
  cat "$B/cuda.$t.log" | grep -v '^Test project\|^    Start\|^$' | head -60
done

# Benchmark: E2B-shaped synthetic model, Q8_0, minimal policy; 512-token prefill, 64 decodes.
BENCH=$B/bench
mkdir -p "$BENCH"
if [ ! -f "$BENCH/e2b-q8_0.gguf" ]; then
  timeout 180 "$B/bin/gemma4c" synth --like e2b --dtype q8_0 -o "$BENCH/e2b-q8_0.gguf" > /dev/null
fi
timeout 120 "$B/bin/gemma4c" compile "$ROOT/specs/gemma4-e2b.mlir" --precision minimal \
  --max-batch 512 -o "$BENCH/e2b-minimal" > /dev/null
TOKENS=$(python3 -c 'print(",".join(str(2 + (i * 7919) % 200000) for i in range(512)))')
if timeout 180 "$B/bin/g4run" "$BENCH/e2b-minimal" --model "$BENCH/e2b-q8_0.gguf" --device cuda \
     --tokens "$TOKENS" -n 65 > "$BENCH/run.log" 2>&1; then
  cat "$BENCH/run.log"
  row "e2b q8_0 prefill (512 tok)" "$(grep '^prefill' "$BENCH/run.log" | sed 's/.*= //')"
  row "e2b q8_0 decode" "$(grep '^decode' "$BENCH/run.log" | sed 's/.*s = //')"
else
  tail -20 "$BENCH/run.log"
  row "e2b q8_0 benchmark" "FAILED"
fi

echo
echo "== gemma4c GPU check ($(( $(date +%s) - start )) s) =="
printf '%s\n' "${ROWS[@]}"

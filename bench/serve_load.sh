#!/usr/bin/env bash
# Issue 13's load test: 8 concurrent clients, 200 streamed chat requests, against g4serve and then,
# when it is present, llama.cpp's llama-server on the same GGUF with the same slots and threads.
#
#   bench/serve_load.sh [PRESET=tiny-e2b] [DTYPE=bf16] [SLOTS=2] [CLIENTS=8] [REQUESTS=200] [MAX_TOKENS=32]
#
# The model is `gemma4c synth --like PRESET --dtype DTYPE` (random weights), written and compiled
# once into ${BENCH_DIR:-/tmp/gemma4c-bench}. g4serve runs SLOTS sessions of one thread each;
# llama-server runs -np SLOTS parallel sequences with -t SLOTS threads (its slots share one batch),
# both with SLOTS * CTX positions of KV cache in all. llama-server: $LLAMA_SERVER, else on PATH, else
# /opt/llama.cpp-build/bin/llama-server; absent: its row says so. It is given Gemma 4's chat template
# ($LLAMA_TEMPLATE, default llama.cpp's google-gemma-4-31B-it.jinja from /opt/llp) when found.
# Environment: BUILD_DIR (build), BENCH_DIR, CTX (positions per slot; 1024), PORT (18480; +1 for
# llama-server).
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${1:-tiny-e2b}; DTYPE=${2:-bf16}; SLOTS=${3:-2}; CLIENTS=${4:-8}; REQUESTS=${5:-200}; MAX_TOKENS=${6:-32}
BIN=$(cd "${BUILD_DIR:-build}/bin" && pwd)
DIR=${BENCH_DIR:-/tmp/gemma4c-bench}
CTX=${CTX:-1024}; PORT=${PORT:-18480}
mkdir -p "$DIR"
MODEL=$DIR/serve-$PRESET-$DTYPE.gguf
PLAN=$DIR/serve-$PRESET-$DTYPE.plan
[ -f "$MODEL" ] || "$BIN/gemma4c" synth --like "$PRESET" --dtype "$DTYPE" -o "$MODEL"
if [ ! -d "$PLAN" ]; then
  SPEC=specs/$PRESET.mlir
  if [ ! -f "$SPEC" ]; then SPEC=$DIR/serve-$PRESET.mlir; "$BIN/gemma4c" spec --from-gguf "$MODEL" -o "$SPEC"; fi
  "$BIN/gemma4c" compile "$SPEC" -o "$PLAN" > /dev/null
fi
LLAMA_SERVER=${LLAMA_SERVER:-$(command -v llama-server || echo /opt/llama.cpp-build/bin/llama-server)}
# The synthetic GGUF has no tokenizer.chat_template; llama-server gets Gemma 4's (the one
# runtime/text renders) so both servers see the same prompts.
LLAMA_TEMPLATE=${LLAMA_TEMPLATE:-$(ls /opt/llp/llama_cpp_python-*/vendor/llama.cpp/models/templates/google-gemma-4-31B-it.jinja 2> /dev/null | head -1)}
TEMPLATE_ARGS=()
[ -n "$LLAMA_TEMPLATE" ] && TEMPLATE_ARGS=(--jinja --chat-template-file "$LLAMA_TEMPLATE")

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $MODEL; $SLOTS slots x $CTX positions; $CLIENTS clients, $REQUESTS requests, max_tokens $MAX_TOKENS"

wait_up() {  # URL PID
  for _ in $(seq 600); do
    curl -sf "$1/health" > /dev/null 2>&1 && return 0
    kill -0 "$2" 2> /dev/null || return 1
    sleep 0.1
  done
  return 1
}

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done' EXIT

"$BIN/g4serve" "$PLAN" --model "$MODEL" --port "$PORT" --slots "$SLOTS" --threads 1 --ctx "$CTX" \
  --queue 64 2> "$DIR/g4serve.log" &
PIDS+=($!)
wait_up "http://127.0.0.1:$PORT" "${PIDS[-1]}" || { cat "$DIR/g4serve.log"; exit 1; }
/usr/bin/python3 bench/serve_load.py "http://127.0.0.1:$PORT" --clients "$CLIENTS" --requests "$REQUESTS" \
  --max-tokens "$MAX_TOKENS" --label g4serve
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^g4serve_(prompt_tokens|prompt_tokens_evaluated|completion_tokens|prefill_tokens_per_second|decode_tokens_per_second)' | sed 's/^/  /'
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" || true

if [ -x "$LLAMA_SERVER" ]; then
  LPORT=$((PORT + 1))
  LD_LIBRARY_PATH=$(dirname "$LLAMA_SERVER"):${LD_LIBRARY_PATH:-} "$LLAMA_SERVER" -m "$MODEL" --host 127.0.0.1 \
    --port "$LPORT" -np "$SLOTS" -t "$SLOTS" -c $((SLOTS * CTX)) "${TEMPLATE_ARGS[@]}" 2> "$DIR/llama-server.log" &
  PIDS+=($!)
  if wait_up "http://127.0.0.1:$LPORT" "${PIDS[-1]}"; then
    /usr/bin/python3 bench/serve_load.py "http://127.0.0.1:$LPORT" --clients "$CLIENTS" --requests "$REQUESTS" \
      --max-tokens "$MAX_TOKENS" --label llama-server
  else
    echo "llama-server did not start (log: $DIR/llama-server.log):"; tail -5 "$DIR/llama-server.log"
  fi
  kill "${PIDS[-1]}" 2> /dev/null || true; wait "${PIDS[-1]}" 2> /dev/null || true
else
  echo "llama-server ABSENT ($LLAMA_SERVER)"
fi

#!/usr/bin/env bash
# gemma4c (g4run) against llama.cpp (llama-bench) on the same GGUF, the same threads, in the
# same run, alternating them, next to the machine's measured read-bandwidth floor. One table:
#
#   model | dtype | pp512 g4run / llama / ratio | tg128 g4run / llama / ratio |
#   GB of weights per decode token | the row's read floor | achieved GB/s and % of that floor,
#   both runtimes
#
#   bench/compare.sh [THREADS=2] [MODEL...]
#
# MODEL is PRESET:DTYPE[:LAYERS] (`gemma4c synth --like PRESET --dtype DTYPE [--layers LAYERS]`;
# a DTYPE ending in _m or _s, e.g. q4_k_m, is llama-quantize's recipe applied to a bf16 synth);
# the default list is issue 10's: e2b:q8_0 e2b:q4_0 e2b:bf16 e2b:q4_k 26b-a4b:q4_0:6 small-vocab:q8_0
# (small-vocab: E2B structure, hidden 512, 8 layers, the real 262144-token vocabulary).
# Models are written once to ${BENCH_DIR:-/tmp/gemma4c-bench} and reused (E2B q8_0 4.9 GB,
# bf16 9.3 GB, ~40-90 s each); each is compiled once under the `reference` policy.
#
# llama-bench: $LLAMA_BENCH, else `llama-bench` on PATH, else /opt/llama.cpp-build/bin/llama-bench
# (bench/README.md says how to build it). When none is found the run goes on and the llama columns
# say "absent".
#
# Environment: BUILD_DIR (build), BENCH_DIR, REPS (g4run repetitions per test, best kept; 1),
# LLAMA_REPS (llama-bench -r; 2), PP (prompt length; 512), TG (generated tokens; 128),
# G4RUN_FLAGS (extra g4run flags, e.g. --norepack for the GGUF-layout products).
#
# DEPTHS="0 4096 16384 32768": the prefill sweep over context depth instead (issue 11): for each
# model and depth D, llama-bench -p PP -n 0 -d D against g4run --depth D (the prompt timed on a
# KV cache D deep), alternating, in a table of its own; no decode columns.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}; shift || true
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(e2b:q8_0 e2b:q4_0 e2b:bf16 e2b:q4_k 26b-a4b:q4_0:6 small-vocab:q8_0)
BIN=$(cd "${BUILD_DIR:-build}/bin" && pwd)
DIR=${BENCH_DIR:-/tmp/gemma4c-bench}
REPS=${REPS:-1}; LLAMA_REPS=${LLAMA_REPS:-2}; PP=${PP:-512}; TG=${TG:-128}
mkdir -p "$DIR"
for tool in gemma4c g4run; do
  [ -x "$BIN/$tool" ] || { echo "compare.sh: $BIN/$tool missing (cmake --build build --target $tool)" >&2; exit 1; }
done

QUANTIZE=${LLAMA_QUANTIZE:-$(command -v llama-quantize || echo /opt/llama.cpp-build/bin/llama-quantize)}
LLAMA=${LLAMA_BENCH:-$(command -v llama-bench || true)}
[ -n "$LLAMA" ] || LLAMA=/opt/llama.cpp-build/bin/llama-bench
if [ -x "$LLAMA" ]; then
  LLAMA_VER=$("$LLAMA" --version 2>&1 | grep -m1 -i version || true)
else
  LLAMA=""
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GB RAM"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; numbers from a busy machine are not comparable)"
echo "threads: $THREADS; pp$PP, tg$TG; g4run best of $REPS, llama-bench -r $LLAMA_REPS"
if [ -n "$LLAMA" ]; then
  echo "llama-bench: $LLAMA ($LLAMA_VER)"
else
  echo "================================================================================"
  echo "llama-bench ABSENT: not at \$LLAMA_BENCH (${LLAMA_BENCH:-unset}), not on PATH, not at"
  echo "/opt/llama.cpp-build/bin/llama-bench."
  echo "The llama.cpp columns below are empty; build it as bench/README.md describes."
  echo "================================================================================"
fi

# --- The read-bandwidth floor: THREADS threads each sweep their slice of a 1 GiB buffer in
# transparent huge pages (as the weights) with 256-bit loads (read only, as the decode kernels
# read weights); best of 5 sweeps.
cat > "$DIR/readbw.cc" <<'CC'
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__AVX2__)
#include <immintrin.h>
#endif
static uint64_t Sweep(const uint8_t* p, size_t n) {
#if defined(__AVX2__)
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i*)(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i*)(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i*)(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i*)(p + i + 96)));
  }
  __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t v[4];
  _mm256_store_si256((__m256i*)v, s);
  return v[0] + v[1] + v[2] + v[3];
#else
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const uint64_t* q = (const uint64_t*)p;
  for (size_t i = 0; i < n / 8; i += 4) { s0 += q[i]; s1 += q[i + 1]; s2 += q[i + 2]; s3 += q[i + 3]; }
  return s0 + s1 + s2 + s3;
#endif
}
int main(int argc, char** argv) {
  const int threads = argc > 1 && std::atoi(argv[1]) > 0 ? std::atoi(argv[1]) : 1;
  const size_t bytes = size_t(1) << 30, slice = bytes / threads / 4096 * 4096;
  // 2 MiB aligned and, on Linux, in transparent huge pages: where g4run keeps its weights
  // (docs/runtime.md), so the floor is read with the same TLB and prefetcher behaviour.
  uint8_t* buf = (uint8_t*)std::aligned_alloc(size_t(2) << 20, bytes);
#if defined(__linux__)
  madvise(buf, bytes, MADV_HUGEPAGE);
#endif
  std::atomic<int> arrived{0}, generation{0};
  auto barrier = [&] {  // spinning, so that no thread sleeps through a start
    const int g = generation.load();
    if (arrived.fetch_add(1) + 1 == threads) { arrived.store(0); generation.fetch_add(1); }
    else while (generation.load() == g) {}
  };
  std::vector<uint64_t> sink(threads * 8);
  double best = 1e30;
  auto work = [&](int t) {  // thread 0 is the caller and keeps the time
    uint8_t* p = buf + t * slice;
    std::memset(p, t + 1, slice);  // first touch on the thread that sweeps it
    for (int r = 0; r < 6; ++r) {  // round 0 warms up; best of the other 5
      barrier();
      auto t0 = std::chrono::steady_clock::now();
      sink[t * 8] += Sweep(p, slice);
      barrier();
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (t == 0 && r > 0 && s < best) best = s;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  uint64_t x = 0;
  for (uint64_t v : sink) x ^= v;
  std::printf("%.1f\n", double(slice) * threads / best / 1e9);
  return x == 42 ? 1 : 0;  // keeps the sums alive
}
CC
CXX=${CXX:-c++}
ARCH=-march=native; echo 'int main(){}' | "$CXX" -x c++ -march=native -o /dev/null - 2>/dev/null || ARCH=
"$CXX" -O2 $ARCH -std=c++17 -pthread "$DIR/readbw.cc" -o "$DIR/readbw"
FLOOR=$("$DIR/readbw" "$THREADS")
echo "read floor: $FLOOR GB/s ($THREADS threads, 256-bit loads, read-only sweep of 1 GiB in 2 MiB pages, best of 5)"

# --- llama-bench: mean tok/s ± stddev of one test, from its JSON output.
llama_run() {  # MODEL -p N -n M
  local m=$1; shift
  "$LLAMA" -m "$m" -t "$THREADS" -r "$LLAMA_REPS" "$@" -o json 2> "$DIR/llama.err" |
    /usr/bin/python3 -c 'import json,sys
r=json.load(sys.stdin)[0]; print("%.2f ± %.2f" % (r["avg_ts"], r["stddev_ts"]))' ||
    { echo "llama-bench failed on $m: $(tail -3 "$DIR/llama.err" | tr '\n' ' ')" >&2; echo "failed"; }
}
# --- g4run: the best of REPS runs; prints "tok/s" for prefill, "tok/s GB/token GB/s" for decode.
g4_run() {  # PLAN MODEL prefill|decode [DEPTH]
  local best="" line v i
  for ((i = 0; i < REPS; ++i)); do
    if [ "$3" = prefill ]; then
      line=$("$BIN/g4run" "$1" --model "$2" --threads "$THREADS" --tokens "$(seq -s, 2 $((PP + 1)))" -n 1 --depth "${4:-0}" ${G4RUN_FLAGS:-} | grep '^prefill:') || { echo failed; return; }
      v=$(sed -E 's/.* = ([0-9.]+) tok\/s.*/\1/' <<< "$line")
    else
      line=$("$BIN/g4run" "$1" --model "$2" --threads "$THREADS" --tokens 2,3,4,5 -n $((TG + 1)) ${G4RUN_FLAGS:-} | grep '^decode:') || { echo failed; return; }
      v=$(sed -E 's/.* = ([0-9.]+) tok\/s; ([0-9.]+) GB .* = ([0-9.]+) GB\/s/\1 \2 \3/' <<< "$line")
    fi
    if [ -z "$best" ] || awk -v a="${v%% *}" -v b="${best%% *}" 'BEGIN { exit !(a > b) }'; then best=$v; fi
  done
  echo "$best"
}
ratio() { awk -v a="$1" -v b="${2%% *}" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }
pct() { awk -v a="$1" -v f="$2" 'BEGIN { if (a + 0 > 0) printf "%.0f%%", 100 * a / f; else printf "-" }'; }  # GB/s, floor

ROWS=()
for spec in "${MODELS[@]}"; do
  IFS=: read -r preset dtype layers <<< "$spec"
  name="$preset-$dtype${layers:+-l$layers}"
  model="$DIR/$name.gguf"
  echo "--- $name"
  if [ ! -f "$model" ] && [[ "$dtype" == *_m || "$dtype" == *_s ]]; then
    # A llama-quantize recipe (q4_k_m, q5_k_m, q3_k_s, ...): from a bf16 synth of the same shape.
    if [ ! -x "$QUANTIZE" ]; then
      echo "llama-quantize ABSENT (\$LLAMA_QUANTIZE, /opt/llama.cpp-build/bin/llama-quantize): $name skipped"
      ROWS+=("| $name | $dtype | llama-quantize absent | | | | | | | | | | | |"); continue
    fi
    src="$DIR/$preset-bf16${layers:+-l$layers}.gguf"
    [ -f "$src" ] || "$BIN/gemma4c" synth --like "$preset" --dtype bf16 ${layers:+--layers "$layers"} -o "$src" > /dev/null
    echo "llama-quantize $src -> $model (${dtype^^})"
    "$QUANTIZE" "$src" "$model.tmp" "${dtype^^}" > "$DIR/$name.quantize.log" 2>&1 &&
      mv "$model.tmp" "$model" || { rm -f "$model.tmp"; ROWS+=("| $name | $dtype | llama-quantize failed | | | | | | | | | | | |"); continue; }
  fi
  if [ ! -f "$model" ]; then
    echo "synth: $model"
    "$BIN/gemma4c" synth --like "$preset" --dtype "$dtype" ${layers:+--layers "$layers"} -o "$model.tmp" > /dev/null &&
      mv "$model.tmp" "$model" || { rm -f "$model.tmp"; ROWS+=("| $name | $dtype | synth failed | | | | | | | | | | | |"); continue; }
  fi
  plan="$DIR/plan-$name-reference"
  if [ ! -f "$plan/plan" ] || [ "$model" -nt "$plan/plan" ] || [ "$BIN/gemma4c" -nt "$plan/plan" ]; then
    "$BIN/gemma4c" spec --from-gguf "$model" -o "$DIR/$name.mlir" > /dev/null
    "$BIN/gemma4c" compile "$DIR/$name.mlir" --precision=reference -o "$plan" > /dev/null
  fi
  cat "$model" > /dev/null  # warm the page cache for both runtimes
  if [ -n "${DEPTHS:-}" ]; then
    for d in $DEPTHS; do
      lpp=absent
      [ -z "$LLAMA" ] || { lpp=$(llama_run "$model" -p "$PP" -n 0 -d "$d"); echo "llama-bench pp$PP @ d$d: $lpp tok/s"; }
      gpp=$(g4_run "$plan" "$model" prefill "$d"); echo "g4run       pp$PP @ d$d: $gpp tok/s"
      ROWS+=("| $name | $dtype | $d | $gpp | $lpp | $(ratio "$gpp" "$lpp") |")
    done
    continue
  fi
  # Alternate: llama pp, g4run pp, llama tg, g4run tg.
  lpp=absent; ltg=absent
  [ -z "$LLAMA" ] || { lpp=$(llama_run "$model" -p "$PP" -n 0); echo "llama-bench pp$PP: $lpp tok/s"; }
  gpp=$(g4_run "$plan" "$model" prefill); echo "g4run       pp$PP: $gpp tok/s"
  # The floor drifts within minutes on shared machines (30-64 GB/s on the Zen 4 VM of
  # 2026-12-07/08), so each row's floor is probed right before, between and right after its two
  # decode runs, and the median of the three is the row's floor: one probe in a fast or a slow
  # minute (a 61 GB/s probe next to 34 happened twice in one run) no longer moves the row by
  # half. The start-of-run probe is only the banner's.
  f_before=$("$DIR/readbw" "$THREADS")
  [ -z "$LLAMA" ] || { ltg=$(llama_run "$model" -p 0 -n "$TG"); echo "llama-bench tg$TG: $ltg tok/s"; }
  f_between=$("$DIR/readbw" "$THREADS")
  read -r gtg gbt gbs <<< "$(g4_run "$plan" "$model" decode)"; echo "g4run       tg$TG: $gtg tok/s, $gbt GB/token, $gbs GB/s"
  f_after=$("$DIR/readbw" "$THREADS")
  rfloor=$(printf '%s\n' "$f_before" "$f_between" "$f_after" | sort -g | sed -n 2p)
  echo "read floor around the decode runs: $f_before, $f_between, $f_after GB/s (row floor, the median: $rfloor)"
  lgbs=$(awk -v t="${ltg%% *}" -v g="$gbt" 'BEGIN { if (t + 0 > 0 && g + 0 > 0) printf "%.1f", t * g; else printf "-" }')
  ROWS+=("| $name | $dtype | $gpp | $lpp | $(ratio "$gpp" "$lpp") | $gtg | $ltg | $(ratio "$gtg" "$ltg") | $gbt | $rfloor | $gbs | $lgbs | $(pct "$gbs" "$rfloor") | $(pct "$lgbs" "$rfloor") |")
done

echo
echo "threads $THREADS, read floor $FLOOR GB/s at the start; each row's floor is the median of probes just before, between and just after its decode runs; ratio = g4run / llama.cpp (below 1: gemma4c slower)"
echo
if [ -n "${DEPTHS:-}" ]; then
  echo "| model | dtype | depth | g4run pp$PP tok/s | llama pp$PP tok/s | ratio |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  exit 0
fi
echo "| model | dtype | g4run pp$PP tok/s | llama pp$PP tok/s | ratio | g4run tg$TG tok/s | llama tg$TG tok/s | ratio | GB/token | floor GB/s | g4run GB/s | llama GB/s | g4run % of floor | llama % of floor |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"

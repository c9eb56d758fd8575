// CPU attention over a KV cache read in place (docs/attention.md).
//
// One call attends the n query tokens at positions pos0 .. pos0+n-1 (consecutive, as the runtime
// batches them) to every key they may see: causal, and within `window` positions on sliding
// layers (key position > query position - window). GQA: query head h reads kv head
// h / (num_heads / num_kv_heads). The caller has already written this batch's K/V to the cache.
//
// Modes (AttentionMode):
// * kSdpa: torch's CPU flash-attention kernel (docs/attention.md §1-2): key blocks of
//   `kv_block` (512) at absolute positions, fp32 scores, online max and sum in fp32, exp(S - m)
//   rounded to bf16 before P.V, the fp32 accumulator rescaled per block, out = acc * (1/l).
//   Blocked: memory per work item O(rows x (kv_block + head_dim)), whatever the context.
// * kExact: one max over the visible keys, fp32 exp, float64 sum and float64 P.V (the exact
//   softmax gemma4c always had; bit-identical to it).
// * kEager: as kExact with the scores and the probabilities rounded to bf16 (transformers
//   "eager").
//
// Threads: work items are (kv head, subset of its query heads, block of query tokens); every
// row (token, head) is computed completely by one item in a fixed order, so the result does not
// depend on the thread count or on how rows are grouped into items (tested).
//
// Arithmetic of kSdpa, which the AVX2 and the portable paths both follow bit for bit (and the
// test's independent reference restates):
// * S = scale * dot(q, k): 8 fp32 lanes, element i accumulated into lane i mod 8 with FMA in
//   ascending i, then ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
// * per block: bm = max S, m' = max(m, bm); e_j = fexp_u20(S_j - m'), torch's fast exp
//   (attention.cc, bit for bit); blocksum = the unrounded e_j summed in 16 lanes by key index
//   within the block, reduced as torch's vec_reduce_all; P_j = bf16(e_j); a = expf(m - m')
//   (libm); l = blocksum + a * l; acc = acc * a; then for each key in ascending order
//   acc[i] = fma(P_j, v_j[i], acc[i]).
// * out = acc * (1.0f / l).
#ifndef GEMMA4C_KERNELS_CPU_ATTENTION_H_
#define GEMMA4C_KERNELS_CPU_ATTENTION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "cpu/matmul.h"  // Isa
#include "cpu/thread_pool.h"

namespace g4::cpu {

enum class AttentionMode { kSdpa, kExact, kEager };

// One layer's K and V, read in place. Position p lives in slot p % capacity when `ring`
// (sliding layers), in slot p otherwise. Elements are bf16 (k16/v16 set) or f32 (k32/v32 set),
// each slot `row` = num_kv_heads * head_dim elements, kv head g at offset g * head_dim.
struct KvView {
  const uint16_t* k16 = nullptr;  // [capacity][row] bf16, or null
  const uint16_t* v16 = nullptr;
  const float* k32 = nullptr;     // [capacity][row] f32, or null
  const float* v32 = nullptr;
  int64_t row = 0;
  int64_t capacity = 0;
  bool ring = false;
};

struct AttentionParams {
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;   // a multiple of 8
  int64_t window = 0;     // 0: full (causal) attention
  float scale = 1.0f;
  AttentionMode mode = AttentionMode::kSdpa;
  int64_t kv_block = 512;  // kSdpa key block (torch's kv_split); other values only in tests
  Isa isa = Isa::kAuto;    // kPortable forces the scalar path (tests compare the two)
};

// q and out: [n][num_heads * head_dim] f32 (out must not alias q). InvalidArgument for shapes
// the kernel cannot run or keys the cache no longer (or not yet) holds.
absl::Status Attention(const AttentionParams& params, const KvView& kv, const float* q,
                       int64_t pos0, int64_t n, float* out, ThreadPool* pool);

}  // namespace g4::cpu

#endif  // GEMMA4C_KERNELS_CPU_ATTENTION_H_

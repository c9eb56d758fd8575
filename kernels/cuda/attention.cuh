// CUDA attention over a device KV cache: flash-style (tiles of keys in shared memory, online
// softmax with fp32 scores), GQA, causal, sliding window, KV sharing, head_dim any multiple of 32 in [32, 512].
//
// KV cache layout (the same rules as runtime/exec/kv_cache.h): one K and one V buffer per
// owning layer, [capacity][kv_heads * head_dim], f32 or bf16 (uint16 bits) elements. Full
// layers hold every position (slot = pos, capacity = context); sliding layers hold a ring of
// min(window + max_batch, context) positions (slot = pos % capacity): a batch is written before
// it is attended to and its first query still needs the window - 1 positions before it.
// KV-shared layers pass their source layer's view.
#ifndef GEMMA4C_KERNELS_CUDA_ATTENTION_CUH_
#define GEMMA4C_KERNELS_CUDA_ATTENTION_CUH_

#include <cstdint>

#include <cuda_runtime.h>

namespace g4::cuda {

struct KvLayerView {
  void* k = nullptr;      // device [capacity][row], float or uint16 (bf16) elements
  void* v = nullptr;
  int64_t capacity = 0;   // positions held
  bool ring = false;      // sliding layer: slot = pos % capacity
  int64_t row = 0;        // kv_heads * head_dim
  bool bf16 = false;      // element type of k and v
};

// Stores the n rows of k and v ([n][row] floats, device) at the slots of positions[0..n)
// (int32, device memory: read on the device so a captured graph can be replayed). bf16
// storage rounds to nearest even.
cudaError_t KvWrite(const KvLayerView& cache, const float* k, const float* v,
                    const int32_t* positions, int64_t n, cudaStream_t stream);

// The plan's attention rounding (docs/attention.md): the same three modes as the CPU kernel.
enum class AttentionMode {
  kExact,  // one-pass online softmax in fp32 (plans without an attention rounding)
  kEager,  // `attention_eager`: bf16-rounded scores and probabilities, three passes
  kSdpa,   // `attention_sdpa`: torch's CPU flash kernel, the CPU kernel's arithmetic (below)
};

struct AttentionParams {
  int64_t num_heads = 0, num_kv_heads = 0;  // num_heads a multiple of num_kv_heads (GQA)
  int64_t head_dim = 0;                     // a multiple of 32 in [32, 512]
  int64_t window = 0;                       // 0: full causal; > 0: keys in (pos - window, pos]
  float scale = 1.0f;                       // applied to q.k
  AttentionMode mode = AttentionMode::kExact;
  int64_t kv_block = 512;                   // kSdpa key block (torch's kv_split); in [16, 2048]
};

// out[t][h*hd + i] = sum_k softmax_k(scale * q[t][h].K[k]) V[k][i] over the keys visible from
// position positions[t] (int32, device), head h reading kv head h / (num_heads / num_kv_heads).
// q, out: [n_tokens][num_heads * head_dim] floats, device. Scores, softmax and the weighted
// sum are fp32 (online softmax, kExact); kEager is a three-pass form that rounds each score and
// each normalized probability to bf16 as the reference's eager attention does, the softmax sum
// being accumulated in double as on the CPU. kSdpa follows kernels/cpu/attention.h's kSdpa
// operation for operation: key blocks of kv_block at absolute positions, S = scale * dot with
// the dot in 8 lanes (element i in lane i mod 8, FMA, reduced ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7))),
// per block max, e = torch's fexp_u20(S - m'), the 16-lane sum of the unrounded e reduced as
// torch's vec_reduce_all, P = bf16(e), l = sum + a * l, acc = acc * a, acc = fma(P, V, acc) key
// by key, out = acc * (1 / l). One point may differ from the CPU: a = exp(m - m') is
// float(exp(double)) here and glibc's expf there (both round the exact value to nearest but for
// glibc's last 0.002 ulp), so a row may differ by an fp32 ulp in rare blocks.
cudaError_t Attention(const AttentionParams& p, const KvLayerView& cache, const float* q,
                      const int32_t* positions, int64_t n_tokens, float* out,
                      cudaStream_t stream);

}  // namespace g4::cuda

#endif  // GEMMA4C_KERNELS_CUDA_ATTENTION_CUH_

// Flash-style attention over the device KV cache (contract: attention.cuh).
//
// One block of 8 warps per (group of query tokens, kv head, group of query heads): each warp
// owns one (token, head) row, keeps q and its output accumulator in registers (head_dim / 32
// values per lane), and all warps of the block share the K/V tiles of kTileKeys keys staged in
// shared memory as fp32 (64 KiB at head_dim 512). Scores are warp-reduced dot products.
#include "attention.cuh"

#include <cfloat>

#include "common/row_ops.h"

namespace g4::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kTileKeys = 16;

__device__ __forceinline__ float LoadElem(const void* base, int64_t i, bool bf16) {
  return bf16 ? __uint_as_float(uint32_t(static_cast<const uint16_t*>(base)[i]) << 16)
              : static_cast<const float*>(base)[i];
}

__global__ void KvWriteKernel(KvLayerView c, const float* k, const float* v,
                              const int32_t* positions, int64_t n) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= n * c.row) return;
  const int64_t t = idx / c.row, i = idx % c.row;
  const int64_t pos = positions[t];
  const int64_t slot = c.ring ? pos % c.capacity : pos;
  if (slot < 0 || slot >= c.capacity) return;  // the session checks the context bound
  const int64_t at = slot * c.row + i;
  if (c.bf16) {
    static_cast<uint16_t*>(c.k)[at] = uint16_t(__float_as_uint(ops::RoundBf16(k[idx])) >> 16);
    static_cast<uint16_t*>(c.v)[at] = uint16_t(__float_as_uint(ops::RoundBf16(v[idx])) >> 16);
  } else {
    static_cast<float*>(c.k)[at] = k[idx];
    static_cast<float*>(c.v)[at] = v[idx];
  }
}

struct Layout {
  int heads_per_block;   // hb: heads of one kv group handled by a block
  int tokens_per_block;  // kWarps / hb
  int64_t group;         // num_heads / num_kv_heads
};

// Modes of a pass over the keys: online softmax (one pass), or the eager three passes.
enum Mode { kMax = 0, kSum = 1, kEagerAccumulate = 2, kOnline = 3 };

template <int kDpl, bool kEager>
__global__ void __launch_bounds__(kWarps * 32)
    AttentionKernel(AttentionParams p, KvLayerView c, Layout lay, const float* q,
                    const int32_t* positions, int64_t n_tokens, float* out) {
  constexpr int kHd = 32 * kDpl;
  extern __shared__ float smem[];
  float* Ks = smem;                       // [kTileKeys][kHd]
  float* Vs = smem + kTileKeys * kHd;     // [kTileKeys][kHd]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t hgroups = lay.group / lay.heads_per_block;
  const int64_t g = blockIdx.y / hgroups;                                   // kv head
  const int64_t h0 = g * lay.group + (blockIdx.y % hgroups) * lay.heads_per_block;
  const int64_t t0 = int64_t(blockIdx.x) * lay.tokens_per_block;
  const int rows = lay.heads_per_block * lay.tokens_per_block;
  const int64_t t = t0 + warp / lay.heads_per_block;
  const int64_t h = h0 + warp % lay.heads_per_block;
  const bool active = warp < rows && t < n_tokens;
  const int64_t t_last = min(t0 + lay.tokens_per_block, n_tokens) - 1;

  // Keys the block needs: from the first token's window start to the last token's position.
  const int64_t first_pos = positions[t0], last_pos = positions[t_last];
  const int64_t block_lo = p.window > 0 ? max(int64_t(0), first_pos - p.window + 1) : 0;
  const int64_t my_pos = active ? positions[t] : 0;
  const int64_t my_lo = p.window > 0 ? max(int64_t(0), my_pos - p.window + 1) : 0;

  float qr[kDpl], acc[kDpl];
  if (active) {
    const float* qh = q + t * p.num_heads * kHd + h * kHd;
#pragma unroll
    for (int i = 0; i < kDpl; ++i) qr[i] = qh[lane + 32 * i], acc[i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  double sum = 0.0;
  float inv = 0.0f;

  constexpr int kPasses = kEager ? 3 : 1;
  for (int pass = 0; pass < kPasses; ++pass) {
    const int mode = kEager ? pass : kOnline;
    if (mode == kEagerAccumulate) inv = float(1.0 / sum);
    const bool need_v = mode == kEagerAccumulate || mode == kOnline;
    for (int64_t kb = block_lo; kb <= last_pos; kb += kTileKeys) {
      // Stage the tile (f32 in shared memory; coalesced rows of the cache).
      for (int idx = threadIdx.x; idx < kTileKeys * kHd; idx += blockDim.x) {
        const int j = idx / kHd, d = idx % kHd;
        const int64_t pos = kb + j;
        float kv = 0.0f, vv = 0.0f;
        if (pos <= last_pos) {
          const int64_t slot = c.ring ? pos % c.capacity : pos;
          const int64_t at = slot * c.row + g * kHd + d;
          kv = LoadElem(c.k, at, c.bf16);
          if (need_v) vv = LoadElem(c.v, at, c.bf16);
        }
        Ks[idx] = kv;
        if (need_v) Vs[idx] = vv;
      }
      __syncthreads();
      if (active) {
        float s[kTileKeys];
        float tile_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < kTileKeys; ++j) {
          const int64_t pos = kb + j;
          const bool visible = pos >= my_lo && pos <= my_pos;  // warp-uniform
          float dot = 0.0f;
          if (visible) {
#pragma unroll
            for (int i = 0; i < kDpl; ++i) dot = fmaf(qr[i], Ks[j * kHd + lane + 32 * i], dot);
#pragma unroll
            for (int off = 16; off > 0; off /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, off);
            float sc = dot * p.scale;
            if (kEager) sc = ops::RoundBf16(sc);
            s[j] = sc;
            tile_max = fmaxf(tile_max, sc);
          } else {
            s[j] = -INFINITY;
          }
        }
        if (tile_max != -INFINITY) {
          if (mode == kMax) {
            m = fmaxf(m, tile_max);
          } else if (mode == kSum) {
#pragma unroll
            for (int j = 0; j < kTileKeys; ++j)
              if (s[j] != -INFINITY) sum += double(expf(s[j] - m));
          } else if (mode == kEagerAccumulate) {
#pragma unroll
            for (int j = 0; j < kTileKeys; ++j) {
              if (s[j] == -INFINITY) continue;
              const float pj = ops::RoundBf16(expf(s[j] - m) * inv);
#pragma unroll
              for (int i = 0; i < kDpl; ++i) acc[i] = fmaf(pj, Vs[j * kHd + lane + 32 * i], acc[i]);
            }
          } else {  // online softmax
            const float m_new = fmaxf(m, tile_max);
            const float corr = expf(m - m_new);  // 0 on the first visible tile
            l *= corr;
#pragma unroll
            for (int i = 0; i < kDpl; ++i) acc[i] *= corr;
#pragma unroll
            for (int j = 0; j < kTileKeys; ++j) {
              if (s[j] == -INFINITY) continue;
              const float pj = expf(s[j] - m_new);
              l += pj;
#pragma unroll
              for (int i = 0; i < kDpl; ++i) acc[i] = fmaf(pj, Vs[j * kHd + lane + 32 * i], acc[i]);
            }
            m = m_new;
          }
        }
      }
      __syncthreads();
    }
  }
  if (active) {
    float* oh = out + t * p.num_heads * kHd + h * kHd;
    const float norm = kEager ? 1.0f : 1.0f / l;
#pragma unroll
    for (int i = 0; i < kDpl; ++i) oh[lane + 32 * i] = acc[i] * norm;
  }
}

template <int kDpl, bool kEager>
cudaError_t Launch(const AttentionParams& p, const KvLayerView& c, const float* q,
                   const int32_t* positions, int64_t n_tokens, float* out, cudaStream_t stream) {
  Layout lay;
  lay.group = p.num_heads / p.num_kv_heads;
  lay.heads_per_block = 1;
  for (int hb = kWarps; hb >= 1; --hb)
    if (lay.group % hb == 0) { lay.heads_per_block = hb; break; }
  lay.tokens_per_block = kWarps / lay.heads_per_block;
  const size_t smem = 2 * kTileKeys * 32 * kDpl * sizeof(float);
  static bool configured = false;  // opt in to > 48 KiB once per instantiation
  if (!configured) {
    cudaError_t e = cudaFuncSetAttribute(AttentionKernel<kDpl, kEager>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
    if (e != cudaSuccess) return e;
    configured = true;
  }
  const dim3 grid(unsigned((n_tokens + lay.tokens_per_block - 1) / lay.tokens_per_block),
                  unsigned(p.num_kv_heads * (lay.group / lay.heads_per_block)));
  AttentionKernel<kDpl, kEager><<<grid, kWarps * 32, smem, stream>>>(p, c, lay, q, positions,
                                                                      n_tokens, out);
  return cudaGetLastError();
}

template <bool kEager>
cudaError_t LaunchHd(const AttentionParams& p, const KvLayerView& c, const float* q,
                     const int32_t* positions, int64_t n_tokens, float* out, cudaStream_t stream) {
  // Every multiple of 32 up to 512 (the verifier's range): head_dim / 32 values per lane.
  switch (p.head_dim / 32 * (p.head_dim % 32 == 0)) {
#define G4_HEAD_DIM_CASE(k) \
  case k: return Launch<k, kEager>(p, c, q, positions, n_tokens, out, stream);
    G4_HEAD_DIM_CASE(1) G4_HEAD_DIM_CASE(2) G4_HEAD_DIM_CASE(3) G4_HEAD_DIM_CASE(4)
    G4_HEAD_DIM_CASE(5) G4_HEAD_DIM_CASE(6) G4_HEAD_DIM_CASE(7) G4_HEAD_DIM_CASE(8)
    G4_HEAD_DIM_CASE(9) G4_HEAD_DIM_CASE(10) G4_HEAD_DIM_CASE(11) G4_HEAD_DIM_CASE(12)
    G4_HEAD_DIM_CASE(13) G4_HEAD_DIM_CASE(14) G4_HEAD_DIM_CASE(15) G4_HEAD_DIM_CASE(16)
#undef G4_HEAD_DIM_CASE
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

cudaError_t KvWrite(const KvLayerView& cache, const float* k, const float* v,
                    const int32_t* positions, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (!cache.k || !cache.v || !k || !v || !positions || cache.row <= 0 || cache.capacity <= 0)
    return cudaErrorInvalidValue;
  const int64_t total = n * cache.row;
  KvWriteKernel<<<unsigned((total + 255) / 256), 256, 0, stream>>>(cache, k, v, positions, n);
  return cudaGetLastError();
}

cudaError_t Attention(const AttentionParams& p, const KvLayerView& cache, const float* q,
                      const int32_t* positions, int64_t n_tokens, float* out,
                      cudaStream_t stream) {
  if (n_tokens == 0) return cudaSuccess;
  if (p.num_kv_heads <= 0 || p.num_heads % p.num_kv_heads != 0 ||
      cache.row != p.num_kv_heads * p.head_dim || !q || !out || !positions || !cache.k ||
      !cache.v)
    return cudaErrorInvalidValue;
  return p.eager ? LaunchHd<true>(p, cache, q, positions, n_tokens, out, stream)
                 : LaunchHd<false>(p, cache, q, positions, n_tokens, out, stream);
}

}  // namespace g4::cuda

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

// The (token, head) row a warp owns and the key range its block needs (both kernels).
struct WarpRow {
  int64_t g;                   // kv head
  int64_t t, h;                // the warp's token and query head
  bool active;                 // the warp has a row (t < n_tokens)
  int64_t block_lo, last_pos;  // keys the block needs: first token's window start .. last token
  int64_t my_pos, my_lo;       // the row's visible keys [my_lo, my_pos] (my_pos -1: inactive)
};

__device__ __forceinline__ WarpRow RowOfWarp(const AttentionParams& p, const Layout& lay,
                                             const int32_t* positions, int64_t n_tokens) {
  WarpRow w;
  const int warp = threadIdx.x / 32;
  const int64_t hgroups = lay.group / lay.heads_per_block;
  w.g = blockIdx.y / hgroups;
  const int64_t h0 = w.g * lay.group + (blockIdx.y % hgroups) * lay.heads_per_block;
  const int64_t t0 = int64_t(blockIdx.x) * lay.tokens_per_block;
  const int rows = lay.heads_per_block * lay.tokens_per_block;
  w.t = t0 + warp / lay.heads_per_block;
  w.h = h0 + warp % lay.heads_per_block;
  w.active = warp < rows && w.t < n_tokens;
  const int64_t t_last = min(t0 + lay.tokens_per_block, n_tokens) - 1;
  w.last_pos = positions[t_last];
  w.block_lo = p.window > 0 ? max(int64_t(0), int64_t(positions[t0]) - p.window + 1) : 0;
  w.my_pos = w.active ? positions[w.t] : -1;
  w.my_lo = p.window > 0 ? max(int64_t(0), w.my_pos - p.window + 1) : 0;
  return w;
}

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
  const int lane = threadIdx.x % 32;
  const WarpRow row = RowOfWarp(p, lay, positions, n_tokens);
  const int64_t g = row.g, t = row.t, h = row.h, block_lo = row.block_lo, last_pos = row.last_pos;
  const int64_t my_pos = row.my_pos, my_lo = row.my_lo;
  const bool active = row.active;

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

// ---- kSdpa: torch's CPU flash-attention arithmetic (attention.cuh, kernels/cpu/attention.h) ----
//
// The same block of 8 warps, one (token, head) row each, as AttentionKernel. Per key block of
// kv_block keys at absolute positions, three phases separated by block barriers:
//   1. scores: a 16-key tile of K staged in shared memory; a warp's lanes 8w + c (w = 0..3) run
//      the fp32 FMA chain of lane c (elements c, c + 8, ...) for key 4s + w of the tile, and
//      shuffles 4, 2, 1 inside each group of 8 lanes give exactly the CPU's reduction order;
//      S = scale * dot lands in the warp's row of scores in shared memory;
//   2. per warp: block max, then lane l < 16 takes keys l, l + 16, ... of the block in order:
//      e = fexp_u20(S - m'), its lane sum, P = bf16(e) in place of S; shuffles 8, 4, 2, 1 are
//      torch's vec_reduce_all; a, l, m and acc *= a as on the CPU;
//   3. P.V: 16-key tiles of V staged; acc[i] = fma(P_j, V_j[i], acc[i]) key by key, lane owning
//      elements lane + 32 i (the CPU's per-element order: keys ascending).
// The file is compiled with --fmad=false: every multiply-add that is not written as fmaf rounds
// twice, as on the CPU (-ffp-contract=off there).

constexpr float kFexpC0 = 0.00010703434948458272f, kFexpC1 = 0.30354260500649682f;
constexpr float kFexpC2 = static_cast<float>(-0.22433836478672356);
constexpr float kFexpC3 = static_cast<float>(-0.079204240219773236);
constexpr float kFexpA = 8388608.0f, kFexpB = 8388608.0f * 127.0f;

// torch's Vectorized<float>::fexp_u20, as cpu::FexpU20 (attention.cc).
__device__ __forceinline__ float FexpU20(float x) {
  if (!(x >= __uint_as_float(0xc2aeac50u))) return 0.0f;  // below ln(FLT_MIN), -inf, NaN
  if (x > __uint_as_float(0x42b17218u)) return INFINITY;  // above ln(FLT_MAX)
  float src = __fmul_rn(x, __uint_as_float(0x3fb8aa3bu));  // x * log2(e)
  const float frac = __fsub_rn(src, floorf(src));
  float res = fmaf(frac, kFexpC3, kFexpC2);
  res = fmaf(frac, res, kFexpC1);
  res = fmaf(frac, res, kFexpC0);
  src = __fsub_rn(src, res);
  return __int_as_float(__float2int_rz(fmaf(kFexpA, src, kFexpB)));  // truncation, as cvttps
}

constexpr int kSdpaTile = 16;  // keys staged per tile (4 passes of 4 keys per warp)

// Keys kt .. kt + kSdpaTile - 1 of kv head g of `base` (the cache's K or V) as fp32 rows of
// kStride floats in shared memory, by the whole block; positions past u1 as zeros.
template <int kHd, int kStride>
__device__ __forceinline__ void StageTile(const KvLayerView& c, const void* base, int64_t g,
                                          int64_t kt, int64_t u1, float* tile) {
  for (int idx = threadIdx.x; idx < kSdpaTile * kHd; idx += blockDim.x) {
    const int j = idx / kHd, d = idx % kHd;
    const int64_t pos = kt + j;
    float x = 0.0f;
    if (pos <= u1) {
      const int64_t slot = c.ring ? pos % c.capacity : pos;
      x = LoadElem(base, slot * c.row + g * kHd + d, c.bf16);
    }
    tile[j * kStride + d] = x;
  }
}

template <int kDpl>
__global__ void __launch_bounds__(kWarps * 32)
    SdpaKernel(AttentionParams p, KvLayerView c, Layout lay, const float* q,
               const int32_t* positions, int64_t n_tokens, float* out) {
  constexpr int kHd = 32 * kDpl;
  constexpr int kStride = kHd + 8;  // padded tile rows: the 4 key groups hit other banks
  constexpr int kChain = kHd / 8;   // elements of one lane chain
  extern __shared__ float smem[];
  float* tile = smem;                                 // [kSdpaTile][kStride], K then V
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t B = p.kv_block;
  float* S = smem + kSdpaTile * kStride + warp * B;   // this warp's scores, then P
  const WarpRow row = RowOfWarp(p, lay, positions, n_tokens);
  const int64_t g = row.g, t = row.t, h = row.h, block_lo = row.block_lo, last_pos = row.last_pos;
  const int64_t my_pos = row.my_pos, my_lo = row.my_lo;
  const bool active = row.active;

  const int c8 = lane % 8, w4 = lane / 8;
  float qc[kChain], acc[kDpl];
  const float* qh = q + t * p.num_heads * kHd + h * kHd;
#pragma unroll
  for (int i = 0; i < kChain; ++i) qc[i] = active ? qh[c8 + 8 * i] : 0.0f;
#pragma unroll
  for (int i = 0; i < kDpl; ++i) acc[i] = 0.0f;
  float m = -INFINITY, l = 0.0f;

  for (int64_t bs = block_lo / B * B; bs <= last_pos; bs += B) {
    const int64_t be = bs + B - 1;
    const int64_t u0 = max(bs, block_lo), u1 = min(be, last_pos);  // keys any row needs
    const int64_t a = max(bs, my_lo), b = min(be, my_pos);         // this row's keys
    const bool row_in = active && a <= b;
    // 1. Scores.
    for (int64_t kt = u0; kt <= u1; kt += kSdpaTile) {
      StageTile<kHd, kStride>(c, c.k, g, kt, u1, tile);
      __syncthreads();
      if (row_in) {
#pragma unroll
        for (int s4 = 0; s4 < kSdpaTile / 4; ++s4) {
          const int j = 4 * s4 + w4;
          const float* k = tile + j * kStride + c8;
          float dot = 0.0f;
#pragma unroll
          for (int i = 0; i < kChain; ++i) dot = fmaf(qc[i], k[8 * i], dot);
          dot = __fadd_rn(dot, __shfl_xor_sync(0xffffffffu, dot, 4));
          dot = __fadd_rn(dot, __shfl_xor_sync(0xffffffffu, dot, 2));
          dot = __fadd_rn(dot, __shfl_xor_sync(0xffffffffu, dot, 1));
          const int64_t pos = kt + j;
          if (c8 == 0 && pos >= a && pos <= b) S[pos - bs] = __fmul_rn(p.scale, dot);
        }
      }
      __syncthreads();
    }
    // 2. Online max and sum; P = bf16(e) in place of S.
    bool used = false;
    if (row_in) {
      float bm = -INFINITY;
      for (int64_t k = a - bs + lane; k <= b - bs; k += 32) bm = fmaxf(bm, S[k]);
#pragma unroll
      for (int off = 16; off > 0; off /= 2) bm = fmaxf(bm, __shfl_xor_sync(0xffffffffu, bm, off));
      const float m_new = fmaxf(m, bm);
      if (m_new != -INFINITY) {
        float lane_sum = 0.0f;
        if (lane < 16) {
          for (int64_t k = lane; k < B; k += 16) {
            if (k < a - bs || k > b - bs) continue;
            const float e = FexpU20(__fsub_rn(S[k], m_new));
            lane_sum = __fadd_rn(lane_sum, e);
            S[k] = ops::RoundBf16(e);
          }
        }
        lane_sum = __fadd_rn(lane_sum, __shfl_xor_sync(0xffffffffu, lane_sum, 8));
        lane_sum = __fadd_rn(lane_sum, __shfl_xor_sync(0xffffffffu, lane_sum, 4));
        lane_sum = __fadd_rn(lane_sum, __shfl_xor_sync(0xffffffffu, lane_sum, 2));
        lane_sum = __fadd_rn(lane_sum, __shfl_xor_sync(0xffffffffu, lane_sum, 1));
        const float blocksum = __shfl_sync(0xffffffffu, lane_sum, 0);
        const float alpha = float(exp(double(__fsub_rn(m, m_new))));  // exp(-inf) = 0
        l = __fadd_rn(blocksum, __fmul_rn(alpha, l));
        m = m_new;
#pragma unroll
        for (int i = 0; i < kDpl; ++i) acc[i] = __fmul_rn(acc[i], alpha);
        used = true;
      }
      __syncwarp();
    }
    // 3. acc += P . V.
    for (int64_t kt = u0; kt <= u1; kt += kSdpaTile) {
      StageTile<kHd, kStride>(c, c.v, g, kt, u1, tile);
      __syncthreads();
      if (used) {
        for (int j = 0; j < kSdpaTile; ++j) {
          const int64_t pos = kt + j;
          if (pos < a || pos > b) continue;  // warp-uniform
          const float pj = S[pos - bs];
#pragma unroll
          for (int i = 0; i < kDpl; ++i) acc[i] = fmaf(pj, tile[j * kStride + lane + 32 * i], acc[i]);
        }
      }
      __syncthreads();
    }
  }
  if (active) {
    float* oh = out + t * p.num_heads * kHd + h * kHd;
    const float inv = __fdiv_rn(1.0f, l == 0.0f ? 1.0f : l);
#pragma unroll
    for (int i = 0; i < kDpl; ++i) oh[lane + 32 * i] = __fmul_rn(acc[i], inv);
  }
}

Layout MakeLayout(const AttentionParams& p) {
  Layout lay;
  lay.group = p.num_heads / p.num_kv_heads;
  lay.heads_per_block = 1;
  for (int hb = kWarps; hb >= 1; --hb)
    if (lay.group % hb == 0) { lay.heads_per_block = hb; break; }
  lay.tokens_per_block = kWarps / lay.heads_per_block;
  return lay;
}

// Opts a kernel in to `smem` bytes of dynamic shared memory (> 48 KiB needs it) once per size.
template <typename Kernel>
cudaError_t AllowSharedMemory(Kernel kernel, size_t smem, size_t* configured) {
  if (*configured >= smem) return cudaSuccess;
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
  if (e == cudaSuccess) *configured = smem;
  return e;
}

template <int kDpl>
cudaError_t LaunchSdpa(const AttentionParams& p, const KvLayerView& c, const float* q,
                       const int32_t* positions, int64_t n_tokens, float* out, cudaStream_t stream) {
  const Layout lay = MakeLayout(p);
  const size_t smem = (size_t(kSdpaTile) * (32 * kDpl + 8) + size_t(kWarps) * p.kv_block) * sizeof(float);
  static size_t configured = 0;
  if (cudaError_t e = AllowSharedMemory(SdpaKernel<kDpl>, smem, &configured); e != cudaSuccess) return e;
  const dim3 grid(unsigned((n_tokens + lay.tokens_per_block - 1) / lay.tokens_per_block),
                  unsigned(p.num_kv_heads * (lay.group / lay.heads_per_block)));
  SdpaKernel<kDpl><<<grid, kWarps * 32, smem, stream>>>(p, c, lay, q, positions, n_tokens, out);
  return cudaGetLastError();
}

template <int kDpl, bool kEager>
cudaError_t Launch(const AttentionParams& p, const KvLayerView& c, const float* q,
                   const int32_t* positions, int64_t n_tokens, float* out, cudaStream_t stream) {
  const Layout lay = MakeLayout(p);
  const size_t smem = 2 * kTileKeys * 32 * kDpl * sizeof(float);
  static size_t configured = 0;
  if (cudaError_t e = AllowSharedMemory(AttentionKernel<kDpl, kEager>, smem, &configured); e != cudaSuccess)
    return e;
  const dim3 grid(unsigned((n_tokens + lay.tokens_per_block - 1) / lay.tokens_per_block),
                  unsigned(p.num_kv_heads * (lay.group / lay.heads_per_block)));
  AttentionKernel<kDpl, kEager><<<grid, kWarps * 32, smem, stream>>>(p, c, lay, q, positions,
                                                                      n_tokens, out);
  return cudaGetLastError();
}

template <int kDpl>
cudaError_t LaunchMode(const AttentionParams& p, const KvLayerView& c, const float* q,
                       const int32_t* positions, int64_t n_tokens, float* out, cudaStream_t stream) {
  switch (p.mode) {
    case AttentionMode::kExact: return Launch<kDpl, false>(p, c, q, positions, n_tokens, out, stream);
    case AttentionMode::kEager: return Launch<kDpl, true>(p, c, q, positions, n_tokens, out, stream);
    case AttentionMode::kSdpa: return LaunchSdpa<kDpl>(p, c, q, positions, n_tokens, out, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t LaunchHd(const AttentionParams& p, const KvLayerView& c, const float* q,
                     const int32_t* positions, int64_t n_tokens, float* out, cudaStream_t stream) {
  // Every multiple of 32 up to 512 (the verifier's range): head_dim / 32 values per lane.
  switch (p.head_dim / 32 * (p.head_dim % 32 == 0)) {
#define G4_HEAD_DIM_CASE(k) \
  case k: return LaunchMode<k>(p, c, q, positions, n_tokens, out, stream);
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
      !cache.v || (p.mode == AttentionMode::kSdpa && (p.kv_block < kSdpaTile || p.kv_block > 2048)))
    return cudaErrorInvalidValue;
  return LaunchHd(p, cache, q, positions, n_tokens, out, stream);
}

}  // namespace g4::cuda

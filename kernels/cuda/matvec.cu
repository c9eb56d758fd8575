// Decode GEMV and prefill GEMM on GGUF weights read in place (contract: matvec.cuh).
#include "matvec.cuh"

#include <cuda_bf16.h>

#include "gguf_blocks.cuh"

namespace g4::cuda {
namespace {

using blocks::Dequant16;

__device__ __forceinline__ float RoundBf16Dev(float x) {
  uint32_t bits = __float_as_uint(x);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) return x;
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return __uint_as_float(bits & 0xffff0000u);
}

// ---------------------------------------------------------------------------------------------
// GEMV: 8 warps per block, one output row per warp.
constexpr int kGemvWarps = 8;

struct GemvArgs {
  const uint8_t* W;
  int64_t in, out, row_bytes;
  const float* X;
  float* Y;
  int round;
  const int32_t* expert_ids;  // null: plain product; else blockIdx.y is the item
  int64_t expert_bytes, x_div;
};

template <BlockType T, int kTokens>
__global__ void __launch_bounds__(kGemvWarps * 32) Gemv(GemvArgs a) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t o = int64_t(blockIdx.x) * kGemvWarps + warp;
  if (o >= a.out) return;
  const uint8_t* W = a.W;
  const float* X = a.X;
  float* Y = a.Y;
  if (a.expert_ids) {  // kTokens == 1: one (token, expert) item per blockIdx.y
    const int64_t b = blockIdx.y;
    W += int64_t(a.expert_ids[b]) * a.expert_bytes;
    X += (b / a.x_div) * a.in;
    Y += b * a.out;
  }
  const uint8_t* row = W + o * a.row_bytes;
  float acc[kTokens];
#pragma unroll
  for (int t = 0; t < kTokens; ++t) acc[t] = 0.0f;
  const int64_t chunks = a.in / 16;
  for (int64_t c = lane; c < chunks; c += 32) {
    float w[16];
    Dequant16<T>(row, c * 16, w);
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
      const float4* xp = reinterpret_cast<const float4*>(X + t * a.in + c * 16);
      float s = acc[t];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float4 x = __ldg(xp + i);
        s = fmaf(w[4 * i], x.x, s);
        s = fmaf(w[4 * i + 1], x.y, s);
        s = fmaf(w[4 * i + 2], x.z, s);
        s = fmaf(w[4 * i + 3], x.w, s);
      }
      acc[t] = s;
    }
  }
#pragma unroll
  for (int t = 0; t < kTokens; ++t) {
    float s = acc[t];
#pragma unroll
    for (int off = 16; off > 0; off /= 2) s += __shfl_xor_sync(0xffffffffu, s, off);
    if (lane == 0) Y[t * a.out + o] = a.round ? RoundBf16Dev(s) : s;
  }
}

// ---------------------------------------------------------------------------------------------
// GEMM tiles: BM output rows x BN tokens, BK elements of `in` per stage.
constexpr int kBM = 64, kBN = 64, kBK = 32;

// Elements k..k+15 of weight row r (zeros outside the matrix).
template <BlockType T>
__device__ __forceinline__ void LoadW16(const uint8_t* W, int64_t row_bytes, int64_t out,
                                        int64_t in, int64_t r, int64_t k, float* v) {
  if (r < out && k < in) {
    Dequant16<T>(W + r * row_bytes, k, v);
  } else {
#pragma unroll
    for (int i = 0; i < 16; ++i) v[i] = 0.0f;
  }
}
__device__ __forceinline__ void LoadX16(const float* X, int64_t tokens, int64_t in, int64_t t,
                                        int64_t k, float* v) {
  if (t < tokens && k < in) {
    const float4* p = reinterpret_cast<const float4*>(X + t * in + k);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float4 x = __ldg(p + i);
      v[4 * i] = x.x, v[4 * i + 1] = x.y, v[4 * i + 2] = x.z, v[4 * i + 3] = x.w;
    }
  } else {
#pragma unroll
    for (int i = 0; i < 16; ++i) v[i] = 0.0f;
  }
}

// Tensor-core GEMM: 4 warps in 2x2, each a 32x32 sub-tile of m16n8k16 bf16 mma (fp32 accum).
// Single-buffered; the follow-ups are cp.async double buffering, ldmatrix, and on sm_90a wgmma
// with TMA-loaded activation tiles (it pays for prefill batches >= 128 tokens, where this
// kernel is bound by the dequantizing tile loads rather than by the tensor cores).
constexpr int kLds = kBK + 8;  // bf16 elements per shared row (80 bytes: conflict-free frags)

template <BlockType T>
__global__ void __launch_bounds__(128) GemmBf16(const uint8_t* W, int64_t in, int64_t out,
                                                int64_t row_bytes, const float* X,
                                                int64_t tokens, float* Y, int round) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  __shared__ __align__(16) __nv_bfloat16 As[kBM][kLds];
  __shared__ __align__(16) __nv_bfloat16 Bs[kBN][kLds];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int g = lane >> 2, tig = lane & 3, wm = warp >> 1, wn = warp & 1;
  const int64_t m0 = int64_t(blockIdx.x) * kBM, n0 = int64_t(blockIdx.y) * kBN;
  const int lr = tid >> 1, lh = tid & 1;
  float acc[2][4][4];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[i][j][c] = 0.0f;

  for (int64_t kt = 0; kt < in; kt += kBK) {
    float v[16];
    const int64_t k = kt + 16 * lh;
    LoadW16<T>(W, row_bytes, out, in, m0 + lr, k, v);
#pragma unroll
    for (int i = 0; i < 8; ++i)
      *reinterpret_cast<__nv_bfloat162*>(&As[lr][16 * lh + 2 * i]) =
          __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
    LoadX16(X, tokens, in, n0 + lr, k, v);
#pragma unroll
    for (int i = 0; i < 8; ++i)
      *reinterpret_cast<__nv_bfloat162*>(&Bs[lr][16 * lh + 2 * i]) =
          __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
    __syncthreads();
#pragma unroll
    for (int ks = 0; ks < kBK; ks += 16) {
      uint32_t a[2][4], b[4][2];
#pragma unroll
      for (int mi = 0; mi < 2; ++mi) {
        const int r = wm * 32 + mi * 16 + g;
        a[mi][0] = *reinterpret_cast<const uint32_t*>(&As[r][ks + 2 * tig]);
        a[mi][1] = *reinterpret_cast<const uint32_t*>(&As[r + 8][ks + 2 * tig]);
        a[mi][2] = *reinterpret_cast<const uint32_t*>(&As[r][ks + 2 * tig + 8]);
        a[mi][3] = *reinterpret_cast<const uint32_t*>(&As[r + 8][ks + 2 * tig + 8]);
      }
#pragma unroll
      for (int ni = 0; ni < 4; ++ni) {
        const int n = wn * 32 + ni * 8 + g;
        b[ni][0] = *reinterpret_cast<const uint32_t*>(&Bs[n][ks + 2 * tig]);
        b[ni][1] = *reinterpret_cast<const uint32_t*>(&Bs[n][ks + 2 * tig + 8]);
      }
#pragma unroll
      for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) {
          float* c = acc[mi][ni];
          asm volatile(
              "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
              "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
              : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
              : "r"(a[mi][0]), "r"(a[mi][1]), "r"(a[mi][2]), "r"(a[mi][3]), "r"(b[ni][0]),
                "r"(b[ni][1]));
        }
    }
    __syncthreads();
  }
  // c0,c1: row g, tokens 2*tig, 2*tig+1; c2,c3: row g+8.
#pragma unroll
  for (int mi = 0; mi < 2; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int64_t r = m0 + wm * 32 + mi * 16 + g + (c >= 2 ? 8 : 0);
        const int64_t t = n0 + wn * 32 + ni * 8 + 2 * tig + (c & 1);
        if (r < out && t < tokens) {
          const float s = acc[mi][ni][c];
          Y[t * out + r] = round ? RoundBf16Dev(s) : s;
        }
      }
#endif
}

// fp32 GEMM on CUDA cores: 256 threads, each 4 rows x 4 tokens of the 64x64 tile.
template <BlockType T>
__global__ void __launch_bounds__(256) GemmF32(const uint8_t* W, int64_t in, int64_t out,
                                               int64_t row_bytes, const float* X, int64_t tokens,
                                               float* Y, int round) {
  __shared__ float Ws[kBK][kBM + 4];
  __shared__ float Xs[kBK][kBN + 4];
  const int tid = threadIdx.x;
  const int64_t m0 = int64_t(blockIdx.x) * kBM, n0 = int64_t(blockIdx.y) * kBN;
  const int tr = tid >> 4, tc = tid & 15;
  float acc[4][4] = {};
  for (int64_t kt = 0; kt < in; kt += kBK) {
    float v[16];
    const int u = tid & 127, lr = u >> 1, lh = u & 1;
    const int64_t k = kt + 16 * lh;
    if (tid < 128) {
      LoadW16<T>(W, row_bytes, out, in, m0 + lr, k, v);
#pragma unroll
      for (int i = 0; i < 16; ++i) Ws[16 * lh + i][lr] = v[i];
    } else {
      LoadX16(X, tokens, in, n0 + lr, k, v);
#pragma unroll
      for (int i = 0; i < 16; ++i) Xs[16 * lh + i][lr] = v[i];
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < kBK; ++kk) {
      float wv[4], xv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) wv[i] = Ws[kk][tr + 16 * i], xv[i] = Xs[kk][tc + 16 * i];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(wv[i], xv[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t r = m0 + tr + 16 * i, t = n0 + tc + 16 * j;
      if (r < out && t < tokens) Y[t * out + r] = round ? RoundBf16Dev(acc[i][j]) : acc[i][j];
    }
}

// ---------------------------------------------------------------------------------------------
template <BlockType T>
cudaError_t LaunchGemv(const GemvArgs& a, int64_t tokens, unsigned items, cudaStream_t stream) {
  const dim3 grid(unsigned((a.out + kGemvWarps - 1) / kGemvWarps), items);
  const dim3 block(kGemvWarps * 32);
  switch (tokens) {
    case 1: Gemv<T, 1><<<grid, block, 0, stream>>>(a); break;
    case 2: Gemv<T, 2><<<grid, block, 0, stream>>>(a); break;
    case 3: Gemv<T, 3><<<grid, block, 0, stream>>>(a); break;
    case 4: Gemv<T, 4><<<grid, block, 0, stream>>>(a); break;
    case 5: Gemv<T, 5><<<grid, block, 0, stream>>>(a); break;
    case 6: Gemv<T, 6><<<grid, block, 0, stream>>>(a); break;
    case 7: Gemv<T, 7><<<grid, block, 0, stream>>>(a); break;
    case 8: Gemv<T, 8><<<grid, block, 0, stream>>>(a); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

template <BlockType T>
cudaError_t LaunchMatMul(const void* W, int64_t in, int64_t out, const float* X, int64_t tokens,
                         float* Y, bool round, MatMulPrecision precision, cudaStream_t stream) {
  const auto* w = static_cast<const uint8_t*>(W);
  const int64_t row_bytes = blocks::RowBytes(T, in);
  if (tokens <= kGemvMaxTokens) {
    GemvArgs a{w, in, out, row_bytes, X, Y, round ? 1 : 0, nullptr, 0, 1};
    return LaunchGemv<T>(a, tokens, 1, stream);
  }
  const dim3 grid(unsigned((out + kBM - 1) / kBM), unsigned((tokens + kBN - 1) / kBN));
  if (precision == MatMulPrecision::kBf16)
    GemmBf16<T><<<grid, 128, 0, stream>>>(w, in, out, row_bytes, X, tokens, Y, round ? 1 : 0);
  else
    GemmF32<T><<<grid, 256, 0, stream>>>(w, in, out, row_bytes, X, tokens, Y, round ? 1 : 0);
  return cudaGetLastError();
}

#define G4_DISPATCH_TYPE(type, CALL)                   \
  switch (type) {                                      \
    case BlockType::kF32: { constexpr BlockType T = BlockType::kF32; return CALL; }   \
    case BlockType::kF16: { constexpr BlockType T = BlockType::kF16; return CALL; }   \
    case BlockType::kBF16: { constexpr BlockType T = BlockType::kBF16; return CALL; } \
    case BlockType::kQ8_0: { constexpr BlockType T = BlockType::kQ8_0; return CALL; } \
    case BlockType::kQ4_0: { constexpr BlockType T = BlockType::kQ4_0; return CALL; } \
    case BlockType::kQ4_K: { constexpr BlockType T = BlockType::kQ4_K; return CALL; } \
    case BlockType::kQ6_K: { constexpr BlockType T = BlockType::kQ6_K; return CALL; } \
    case BlockType::kQ4_1: { constexpr BlockType T = BlockType::kQ4_1; return CALL; } \
    case BlockType::kQ5_0: { constexpr BlockType T = BlockType::kQ5_0; return CALL; } \
    case BlockType::kQ5_1: { constexpr BlockType T = BlockType::kQ5_1; return CALL; } \
    case BlockType::kQ2_K: { constexpr BlockType T = BlockType::kQ2_K; return CALL; } \
    case BlockType::kQ3_K: { constexpr BlockType T = BlockType::kQ3_K; return CALL; } \
    case BlockType::kQ5_K: { constexpr BlockType T = BlockType::kQ5_K; return CALL; } \
    case BlockType::kIQ4_NL: { constexpr BlockType T = BlockType::kIQ4_NL; return CALL; } \
    case BlockType::kIQ4_XS: { constexpr BlockType T = BlockType::kIQ4_XS; return CALL; } \
    case BlockType::kMXFP4: { constexpr BlockType T = BlockType::kMXFP4; return CALL; } \
  }                                                    \
  return cudaErrorInvalidValue;

}  // namespace

bool MatMulSupports(BlockType type, int64_t in) {
  const int be = blocks::BlockElems(type);
  if (blocks::BlockBytes(type) == 0 || in <= 0) return false;
  return in % (be > 16 ? be : 16) == 0;
}

cudaError_t MatMul(BlockType type, const void* W, int64_t in, int64_t out, const float* X,
                   int64_t tokens, float* Y, bool round_bf16, MatMulPrecision precision,
                   cudaStream_t stream) {
  if (tokens == 0) return cudaSuccess;
  if (!W || !X || !Y || out <= 0 || tokens < 0 || !MatMulSupports(type, in) ||
      (reinterpret_cast<uintptr_t>(W) % 16) != 0 || out > int64_t(65535) * kBM * 1024)
    return cudaErrorInvalidValue;
  G4_DISPATCH_TYPE(type, LaunchMatMul<T>(W, in, out, X, tokens, Y, round_bf16, precision, stream))
}

cudaError_t ExpertMatVec(BlockType type, const void* W, int64_t in, int64_t out,
                         int64_t expert_bytes, const int32_t* expert_ids, int64_t items,
                         const float* X, int64_t x_div, float* Y, bool round_bf16,
                         cudaStream_t stream) {
  if (items == 0) return cudaSuccess;
  if (!W || !X || !Y || !expert_ids || items < 0 || items > 65535 || x_div <= 0 ||
      !MatMulSupports(type, in) || (reinterpret_cast<uintptr_t>(W) % 16) != 0 ||
      expert_bytes % 16 != 0)
    return cudaErrorInvalidValue;
  G4_DISPATCH_TYPE(type, (LaunchGemv<T>(GemvArgs{static_cast<const uint8_t*>(W), in, out,
                                                blocks::RowBytes(T, in), X, Y,
                                                round_bf16 ? 1 : 0, expert_ids, expert_bytes,
                                                x_div},
                                       1, unsigned(items), stream)))
}

}  // namespace g4::cuda

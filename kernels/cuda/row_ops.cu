// Element, row and routing kernels (contract: row_ops.cuh). Built with --fmad=false: the
// formulas come from kernels/common/row_ops.h and round like the host's.
#include "row_ops.cuh"

#include "common/row_ops.h"
#include "gguf_blocks.cuh"
#include "matvec.cuh"

namespace g4::cuda {
namespace {

constexpr int kThreads = 256;

unsigned Blocks(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

__global__ void MapKernel(MapOp op, const float* x, float* y, int64_t n, float a, bool round,
                          const float* scalar) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float v = x[i];
  switch (op) {
    case MapOp::kScale: y[i] = v * a; break;
    case MapOp::kGelu: y[i] = ops::GeluTanh(v); break;
    case MapOp::kRoundBf16: y[i] = ops::RoundBf16(v); break;
    case MapOp::kSoftcap: y[i] = ops::Softcap(v, a, round); break;
    case MapOp::kScalarMul: y[i] = v * scalar[0]; break;
  }
}

__global__ void ZipKernel(ZipOp op, const float* a, const float* b, float* y, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = op == ZipOp::kMul ? a[i] * b[i] : a[i] + b[i];
}

__global__ void ChannelMulKernel(const float* x, const float* w, float* y, int64_t n,
                                 int64_t width) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i] * w[i % width];
}

// Block sum of a double over kThreads threads.
__device__ double BlockSum(double v, double* shared) {
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  double total = 0.0;
  for (int w = 0; w < kThreads / 32; ++w) total += shared[w];
  return total;
}
__device__ float BlockMax(float v, float* shared) {
  for (int off = 16; off > 0; off /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float m = shared[0];
  for (int w = 1; w < kThreads / 32; ++w) m = fmaxf(m, shared[w]);
  return m;
}

// One block per (token, group).
__global__ void RmsNormKernel(const float* x, const float* w, float* y, int64_t n,
                              int64_t group, float eps) {
  __shared__ double partial[kThreads / 32];
  const int64_t base = int64_t(blockIdx.x) * n + int64_t(blockIdx.y) * group;
  double ss = 0.0;
  for (int64_t i = threadIdx.x; i < group; i += blockDim.x)
    ss += double(x[base + i]) * double(x[base + i]);
  const float inv = ops::RmsInv(BlockSum(ss, partial), group, eps);
  for (int64_t i = threadIdx.x; i < group; i += blockDim.x) {
    const float v = x[base + i] * inv;
    y[base + i] = w ? v * w[i] : v;
  }
}

// One thread per (token, rotated pair); it rotates that pair in every head.
__global__ void RopeKernel(float* y, int64_t n_tokens, int64_t n, int64_t head_dim,
                           int64_t pairs, double theta, const int32_t* positions, bool round) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= n_tokens * pairs) return;
  const int64_t t = idx / pairs, i = idx % pairs, half = head_dim / 2;
  float c, s;
  ops::RopeCosSin(i, head_dim, theta, positions[t], round, &c, &s);
  float* row = y + t * n;
  for (int64_t h = 0; h < n; h += head_dim) {
    const float a = row[h + i], b = row[h + i + half];
    ops::RopePair(a, b, c, s, round, &row[h + i], &row[h + i + half]);
  }
}

// One block per row: max, exp and double sum, scale (SoftmaxRow's formula).
__global__ void SoftmaxKernel(const float* x, float* y, int64_t n) {
  __shared__ double partial[kThreads / 32];
  __shared__ float pmax[kThreads / 32];
  const float* xr = x + int64_t(blockIdx.x) * n;
  float* yr = y + int64_t(blockIdx.x) * n;
  float m = -INFINITY;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, xr[i]);
  m = BlockMax(m, pmax);
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float e = ops::detail::Exp(xr[i] - m);
    yr[i] = e;
    sum += e;
  }
  const float inv = float(1.0 / BlockSum(sum, partial));
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] *= inv;
}

// One warp per row: k rounds of a warp arg-max that skips the indices already taken.
__global__ void TopKKernel(const float* x, float* values, int32_t* indices, int64_t n_tokens,
                           int64_t n, int k) {
  const int64_t t = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (t >= n_tokens) return;
  const float* row = x + t * n;
  int32_t taken[8];
  for (int j = 0; j < k; ++j) {
    float best = -INFINITY;
    int32_t best_i = -1;
    for (int64_t i = lane; i < n; i += 32) {
      bool skip = false;
      for (int q = 0; q < j; ++q) skip |= taken[q] == i;
      if (skip) continue;
      const float v = row[i];
      if (best_i < 0 || v > best) best = v, best_i = int32_t(i);
    }
    for (int off = 16; off > 0; off /= 2) {
      const float ov = __shfl_xor_sync(0xffffffffu, best, off);
      const int32_t oi = __shfl_xor_sync(0xffffffffu, best_i, off);
      if (oi >= 0 && (best_i < 0 || ov > best || (ov == best && oi < best_i))) best = ov, best_i = oi;
    }
    taken[j] = best_i;
    if (lane == 0) {
      values[t * k + j] = best;
      indices[t * k + j] = best_i;
    }
  }
}

__global__ void RenormalizeKernel(const float* x, float* y, int64_t n_tokens, int64_t k,
                                  bool round) {
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n_tokens) return;
  float sum = 0.0f;
  for (int64_t j = 0; j < k; ++j) sum += x[t * k + j];
  if (round) sum = ops::RoundBf16(sum);
  for (int64_t j = 0; j < k; ++j) {
    const float v = x[t * k + j] / sum;
    y[t * k + j] = round ? ops::RoundBf16(v) : v;
  }
}

__global__ void ExpertScaleKernel(const float* w, const int32_t* idx, const float* scale,
                                  float* y, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = w[i] * scale[idx[i]];
}

template <BlockType T>
__global__ void EmbedKernel(const uint8_t* table, int64_t width, int64_t row_bytes,
                            const int32_t* tokens, float* y) {
  const int64_t c = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
  if (c * 16 >= width) return;
  const int64_t t = blockIdx.x;
  float v[16];
  blocks::Dequant16<T>(table + int64_t(tokens[t]) * row_bytes, c * 16, v);
  float* out = y + t * width + c * 16;
#pragma unroll
  for (int i = 0; i < 16; ++i) out[i] = v[i];
}

__global__ void GeluMulKernel(const float* gu, float* act, int64_t items, int64_t ff,
                              bool round) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= items * ff) return;
  const int64_t b = idx / ff, i = idx % ff;
  float g = ops::GeluTanh(gu[b * 2 * ff + i]);
  if (round) g = ops::RoundBf16(g);
  const float a = g * gu[b * 2 * ff + ff + i];
  act[idx] = round ? ops::RoundBf16(a) : a;
}

__global__ void ExpertCombineKernel(const float* ys, const float* w, float* out,
                                    int64_t n_tokens, int64_t k, int64_t hidden,
                                    bool round_weighted) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= n_tokens * hidden) return;
  const int64_t t = idx / hidden, i = idx % hidden;
  float acc = 0.0f;
  for (int64_t j = 0; j < k; ++j) {
    const float v = ys[(t * k + j) * hidden + i] * w[t * k + j];
    acc += round_weighted ? ops::RoundBf16(v) : v;
  }
  out[idx] = acc;
}

}  // namespace

cudaError_t Map(MapOp op, const float* x, float* y, int64_t n, float a, bool round,
                const float* scalar, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (!x || !y || (op == MapOp::kScalarMul && !scalar)) return cudaErrorInvalidValue;
  MapKernel<<<Blocks(n), kThreads, 0, stream>>>(op, x, y, n, a, round, scalar);
  return cudaGetLastError();
}

cudaError_t Zip(ZipOp op, const float* a, const float* b, float* y, int64_t n,
                cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  ZipKernel<<<Blocks(n), kThreads, 0, stream>>>(op, a, b, y, n);
  return cudaGetLastError();
}

cudaError_t ChannelMul(const float* x, const float* w, float* y, int64_t n_tokens,
                       int64_t width, cudaStream_t stream) {
  if (n_tokens == 0) return cudaSuccess;
  ChannelMulKernel<<<Blocks(n_tokens * width), kThreads, 0, stream>>>(x, w, y, n_tokens * width,
                                                                      width);
  return cudaGetLastError();
}

cudaError_t RmsNorm(const float* x, const float* w, float* y, int64_t n_tokens, int64_t n,
                    int64_t group, float eps, cudaStream_t stream) {
  if (n_tokens == 0) return cudaSuccess;
  if (group <= 0 || n % group != 0 || n / group > 65535) return cudaErrorInvalidValue;
  RmsNormKernel<<<dim3(unsigned(n_tokens), unsigned(n / group)), kThreads, 0, stream>>>(
      x, w, y, n, group, eps);
  return cudaGetLastError();
}

cudaError_t Rope(float* y, int64_t n_tokens, int64_t n, int64_t head_dim, int64_t rotary_dims,
                 double theta, const int32_t* positions, bool round, cudaStream_t stream) {
  const int64_t pairs = rotary_dims / 2;
  if (n_tokens == 0 || pairs == 0) return cudaSuccess;
  if (head_dim <= 0 || n % head_dim != 0 || rotary_dims > head_dim) return cudaErrorInvalidValue;
  RopeKernel<<<Blocks(n_tokens * pairs), kThreads, 0, stream>>>(y, n_tokens, n, head_dim, pairs,
                                                                theta, positions, round);
  return cudaGetLastError();
}

cudaError_t Softmax(const float* x, float* y, int64_t n_tokens, int64_t n, cudaStream_t stream) {
  if (n_tokens == 0) return cudaSuccess;
  SoftmaxKernel<<<unsigned(n_tokens), kThreads, 0, stream>>>(x, y, n);
  return cudaGetLastError();
}

cudaError_t TopK(const float* x, float* values, int32_t* indices, int64_t n_tokens, int64_t n,
                 int64_t k, cudaStream_t stream) {
  if (n_tokens == 0) return cudaSuccess;
  if (k < 1 || k > 8 || k > n) return cudaErrorInvalidValue;
  TopKKernel<<<unsigned((n_tokens + 7) / 8), 256, 0, stream>>>(x, values, indices, n_tokens, n,
                                                               int(k));
  return cudaGetLastError();
}

cudaError_t Renormalize(const float* x, float* y, int64_t n_tokens, int64_t k, bool round,
                        cudaStream_t stream) {
  if (n_tokens == 0) return cudaSuccess;
  RenormalizeKernel<<<Blocks(n_tokens), kThreads, 0, stream>>>(x, y, n_tokens, k, round);
  return cudaGetLastError();
}

cudaError_t ExpertScale(const float* w, const int32_t* idx, const float* scale, float* y,
                        int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  ExpertScaleKernel<<<Blocks(n), kThreads, 0, stream>>>(w, idx, scale, y, n);
  return cudaGetLastError();
}

cudaError_t Embed(BlockType type, const void* table, int64_t width, const int32_t* tokens,
                  float* y, int64_t n_tokens, cudaStream_t stream) {
  if (n_tokens == 0) return cudaSuccess;
  if (!MatMulSupports(type, width)) return cudaErrorInvalidValue;
  const dim3 grid(unsigned(n_tokens), unsigned((width / 16 + kThreads - 1) / kThreads));
  const auto* t = static_cast<const uint8_t*>(table);
  switch (type) {
#define G4_EMBED(T)                                                                        \
  case T:                                                                                  \
    EmbedKernel<T><<<grid, kThreads, 0, stream>>>(t, width, blocks::RowBytes(T, width),    \
                                                  tokens, y);                              \
    break;
    G4_EMBED(BlockType::kF32)
    G4_EMBED(BlockType::kF16)
    G4_EMBED(BlockType::kBF16)
    G4_EMBED(BlockType::kQ8_0)
    G4_EMBED(BlockType::kQ4_0)
    G4_EMBED(BlockType::kQ4_K)
    G4_EMBED(BlockType::kQ6_K)
    G4_EMBED(BlockType::kQ4_1)
    G4_EMBED(BlockType::kQ5_0)
    G4_EMBED(BlockType::kQ5_1)
    G4_EMBED(BlockType::kQ2_K)
    G4_EMBED(BlockType::kQ3_K)
    G4_EMBED(BlockType::kQ5_K)
    G4_EMBED(BlockType::kIQ4_NL)
    G4_EMBED(BlockType::kIQ4_XS)
    G4_EMBED(BlockType::kMXFP4)
#undef G4_EMBED
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t ExpertFfn(const ExpertFfnArgs& a, const float* x, const float* weights,
                      const int32_t* idx, int64_t n_tokens, float* gu, float* act, float* ys,
                      float* out, cudaStream_t stream) {
  if (n_tokens == 0) return cudaSuccess;
  const int64_t H = a.hidden, ff = a.ff, k = a.top_k;
  if (k <= 0 || H <= 0 || ff <= 0) return cudaErrorInvalidValue;
  const int64_t gu_bytes = blocks::RowBytes(a.gu_type, H) * 2 * ff;
  const int64_t dn_bytes = blocks::RowBytes(a.dn_type, ff) * H;
  // ExpertMatVec takes up to 65535 items a launch: chunks of whole tokens.
  const int64_t tokens_per_chunk = 65535 / k;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += tokens_per_chunk) {
    const int64_t nt = n_tokens - t0 < tokens_per_chunk ? n_tokens - t0 : tokens_per_chunk;
    const int64_t b0 = t0 * k, items = nt * k;
    cudaError_t e = ExpertMatVec(a.gu_type, a.gate_up, H, 2 * ff, gu_bytes, idx + b0, items,
                                 x + t0 * H, k, gu + b0 * 2 * ff, a.round, stream);
    if (e != cudaSuccess) return e;
    GeluMulKernel<<<Blocks(items * ff), kThreads, 0, stream>>>(gu + b0 * 2 * ff, act + b0 * ff,
                                                               items, ff, a.round);
    if ((e = cudaGetLastError()) != cudaSuccess) return e;
    e = ExpertMatVec(a.dn_type, a.down, ff, H, dn_bytes, idx + b0, items, act + b0 * ff, 1,
                     ys + b0 * H, a.round, stream);
    if (e != cudaSuccess) return e;
  }
  ExpertCombineKernel<<<Blocks(n_tokens * H), kThreads, 0, stream>>>(ys, weights, out, n_tokens,
                                                                     k, H, a.round_weighted);
  return cudaGetLastError();
}

}  // namespace g4::cuda

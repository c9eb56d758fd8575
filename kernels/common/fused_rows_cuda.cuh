// The helpers of the fused CUDA kernels that `gemma4c compile --target=cuda` emits
// (compiler/lib/Emit, docs/cuda.md). An emitted host body calls the runtime's matrix products
// through Linear, fills Args with the rows of the region's tensors and launches the region's
// row kernel: one block row per token (blockIdx.y), kThreads threads, calling one helper per row
// op. The math itself is row_ops.h, shared with the host; build with --fmad=false so that
// products and sums round as they do there.
//
// Every row helper is spelled like its CPU twin in fused_rows_cpu.h (same name, template
// arguments and call arguments), so the compiler writes both targets from one description of
// the row ops. Elementwise helpers stride over the row with G4_COLS; RmsNorm and Rope need the
// whole block on one row (gridDim.x == 1), and the emitted kernel separates the helpers of such
// a body with __syncthreads(), as a helper's threads read what other threads wrote.
//
// The emitted sources include this header, row_ops.h and cuda_kernel_abi.h by their bare
// names: the compiler copies all three beside them into OUTDIR/src.
#ifndef GEMMA4C_KERNELS_COMMON_FUSED_ROWS_CUDA_CUH_
#define GEMMA4C_KERNELS_COMMON_FUSED_ROWS_CUDA_CUH_

#include <cstdint>

#include <cuda_runtime.h>

#include "cuda_kernel_abi.h"
#include "row_ops.h"

namespace g4::fused {
// Internal linkage: every kernel library keeps its own copies.
namespace {

constexpr int kThreads = 256;

// The row kernel's arguments: row pointers and widths of the region's K tensors, its M 1-D
// weights (device f32), the per-token scratch.
template <int K, int M> struct Args {
  float* a[K];
  int64_t width[K];
  const float* v[M < 1 ? 1 : M];
  float* scratch;
};

template <int K, int M>
inline void Fill(const g4kc_call* c, const int32_t* t, const int32_t* w, Args<K, M>* p) {
  for (int i = 0; i < K; ++i) {
    p->a[i] = c->tensors[t[i]].data;
    p->width[i] = c->tensors[t[i]].width;
  }
  for (int j = 0; j < M; ++j) p->v[j] = c->weights[w[j]].f32;
  if (M == 0) p->v[0] = nullptr;
  p->scratch = c->scratch;
}

// y = x * W for all tokens, by the runtime on the call's stream; round: bf16 epilogue.
// Returns a cudaError_t (0: launched).
inline int Linear(const g4kc_call* c, int32_t w, int32_t x, int32_t y, int round) {
  return c->api->linear(c->rt, &c->weights[w], c->tensors[x].data, c->n_tokens,
                        c->tensors[y].data, round, c->stream);
}

// The columns of the row this thread owns: the whole block strides over the row (one block
// per row), or, for bodies without reductions, the blocks of gridDim.x share it.
#define G4_COLS(N) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (N); \
       i += int64_t(gridDim.x) * blockDim.x)

// The position held in an inp_pos row: an int32 stored in the float's bits.
__device__ inline int64_t PosAt(const float* row) { return __float_as_int(row[0]); }
template <int64_t N> __device__ inline void Scale(const float* x, float f, float* y) {
  G4_COLS(N) y[i] = x[i] * f;
}
template <int64_t N> __device__ inline void ChannelMul(const float* x, const float* w, float* y) {
  G4_COLS(N) y[i] = x[i] * w[i];
}
template <int64_t N> __device__ inline void Add(const float* a, const float* b, float* y) {
  G4_COLS(N) y[i] = a[i] + b[i];
}
template <int64_t N> __device__ inline void Mul(const float* a, const float* b, float* y) {
  G4_COLS(N) y[i] = a[i] * b[i];
}
template <int64_t N> __device__ inline void Gelu(const float* x, float* y) {
  G4_COLS(N) y[i] = ops::GeluTanh(x[i]);
}
template <int64_t N> __device__ inline void Round(const float* x, float* y) {
  G4_COLS(N) y[i] = ops::RoundBf16(x[i]);
}
template <int64_t N>
__device__ inline void SoftcapRow(const float* x, float cap, bool round, float* y) {
  G4_COLS(N) y[i] = ops::Softcap(x[i], cap, round);
}
template <int64_t N> __device__ inline void Copy(const float* x, float* y) {
  if (x != y) G4_COLS(N) y[i] = x[i];
}

// Sum of one double per thread over the block (kThreads threads), returned to every thread.
__device__ inline double BlockSum(double v) {
  __shared__ double part[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();  // part[] may still be read by the previous call
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  double s = 0.0;
  for (int k = 0; k < kThreads / 32; ++k) s += part[k];
  return s;
}

// ops::RmsNormRow over each W-wide group of an N-wide row, the whole block on one row.
template <int64_t N, int64_t W>
__device__ inline void RmsNorm(const float* x, const float* w, float eps, float* y) {
  for (int64_t g = 0; g < N; g += W) {
    double ss = 0.0;
    for (int64_t i = threadIdx.x; i < W; i += blockDim.x) ss += double(x[g + i]) * double(x[g + i]);
    const float inv = ops::RmsInv(BlockSum(ss), W, eps);
    for (int64_t i = threadIdx.x; i < W; i += blockDim.x) {
      const float v = x[g + i] * inv;
      y[g + i] = w ? v * w[i] : v;
    }
  }
}

// ops::RopeRow in place on an N-wide row (heads of HD, RD rotary dims), the whole block on
// one row.
template <int64_t N, int64_t HD, int64_t RD>
__device__ inline void Rope(float* y, double theta, int64_t pos, bool round) {
  constexpr int64_t half = HD / 2, pairs = RD / 2, heads = N / HD;
  for (int64_t k = threadIdx.x; k < heads * pairs; k += blockDim.x) {
    const int64_t h = (k / pairs) * HD, i = k % pairs;
    float c, s;
    ops::RopeCosSin(i, HD, theta, pos, round, &c, &s);
    const float a = y[h + i], b = y[h + i + half];
    ops::RopePair(a, b, c, s, round, &y[h + i], &y[h + i + half]);
  }
}

}  // namespace
}  // namespace g4::fused

#endif  // GEMMA4C_KERNELS_COMMON_FUSED_ROWS_CUDA_CUH_

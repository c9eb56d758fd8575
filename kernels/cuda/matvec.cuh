// CUDA matrix products against GGUF weights read in place (no conversion at upload).
//
// Contract (the same as kernels/cpu/matmul.h MatMul):
//   W  `out` rows of `in` elements in GGUF layout (ne = [in, out]): row o is the
//      RowBytes(type, in) bytes at W + o * RowBytes(type, in), in device memory, the tensor
//      starting on a 16-byte boundary (cudaMalloc gives 256). `in` must be a multiple of the
//      type's block size (32 for Q8_0/Q4_0, 256 for Q4_K/Q6_K) and of 16 for F32/F16/BF16.
//   X  [tokens][in] floats, device, row-major.   Y  [tokens][out] floats, device (overwritten).
//   Y[t][o] = sum_i W[o][i] * X[t][i], rounded to bf16 (RNE) when round_bf16.
//   Types: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K (BlockType). Launches are asynchronous on
//   `stream`; the return value is the launch status (cudaErrorInvalidValue for a bad argument).
//
// Paths:
//   tokens <= 8 (decode): GEMV, one warp per output row, each lane dequantizing 16-element
//     chunks of the row (bit-identical to gguf::Dequantize) and accumulating fp32 FMAs for all
//     tokens at once, warp-shuffle reduction. Bandwidth-bound: the weight row is read once for
//     the up-to-8 tokens.
//   tokens > 8 (prefill), MatMulPrecision::kBf16: tiled 64x64x32 GEMM on tensor cores
//     (mma.sync m16n8k16 bf16 -> fp32, sm_80+): weight tiles dequantized to fp32 and rounded to
//     bf16 in shared memory, activations rounded to bf16. Exact for BF16 weights and activations
//     that are already bf16 (the `reference` policy); otherwise ~2^-9 relative per operand.
//   tokens > 8, MatMulPrecision::kF32: the same tiling with fp32 FMAs (CUDA cores), for the
//     fidelity checks of the `f32` policy.
#ifndef GEMMA4C_KERNELS_CUDA_MATVEC_CUH_
#define GEMMA4C_KERNELS_CUDA_MATVEC_CUH_

#include <cstdint>

#include <cuda_runtime.h>

#include "dequant.cuh"

namespace g4::cuda {

enum class MatMulPrecision { kBf16, kF32 };

// Largest token count that takes the GEMV path.
constexpr int64_t kGemvMaxTokens = 8;

cudaError_t MatMul(BlockType type, const void* W, int64_t in, int64_t out, const float* X,
                   int64_t tokens, float* Y, bool round_bf16, MatMulPrecision precision,
                   cudaStream_t stream);

// Routed-expert products without a host round trip: for each of `items` (token t, slot j)
// pairs, item b = t * top_k + j uses expert e = expert_ids[b] (int32, device memory):
//   Y[b][o] = sum_i W_e[o][i] * X[b / x_div][i]
// where W_e is the `out` x `in` matrix at W + e * expert_bytes (GGUF expert-major 3-D tensor).
// x_div = top_k reads one activation row per token (gate_up); x_div = 1 one per item (down).
cudaError_t ExpertMatVec(BlockType type, const void* W, int64_t in, int64_t out,
                         int64_t expert_bytes, const int32_t* expert_ids, int64_t items,
                         const float* X, int64_t x_div, float* Y, bool round_bf16,
                         cudaStream_t stream);

// Whether MatMul supports `type` with this `in`.
bool MatMulSupports(BlockType type, int64_t in);

}  // namespace g4::cuda

#endif  // GEMMA4C_KERNELS_CUDA_MATVEC_CUH_

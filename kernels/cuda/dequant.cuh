// CUDA dequantization of GGUF blocks to float32: the building block the GPU matrix kernels and
// the GPU tests check against. Block layouts as in runtime/gguf/ggml_types.h.
//
// Contract: `src` points at `n / block_elems` whole blocks in device memory, `dst` at n floats in
// device memory; n is a multiple of the block size. Launch is asynchronous on `stream`.
#ifndef GEMMA4C_KERNELS_CUDA_DEQUANT_CUH_
#define GEMMA4C_KERNELS_CUDA_DEQUANT_CUH_

#include <cstdint>

#include <cuda_runtime.h>

namespace g4::cuda {

// GGUF type ids (ggml's numbering).
enum class BlockType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ2_K = 10,
  kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kIQ4_NL = 20, kIQ4_XS = 23, kBF16 = 30,
  kMXFP4 = 39,
};

// Returns cudaErrorInvalidValue for an unsupported type or a bad n; otherwise the launch status.
cudaError_t DequantizeToF32(BlockType type, const void* src, float* dst, int64_t n,
                            cudaStream_t stream);

}  // namespace g4::cuda

#endif  // GEMMA4C_KERNELS_CUDA_DEQUANT_CUH_

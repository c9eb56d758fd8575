// CUDA dequantizers: one thread per element; bandwidth-bound, used for tests and uploads.
#include "dequant.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "gguf_blocks.cuh"

namespace g4::cuda {
namespace {

constexpr int kThreads = 256;

__device__ float HalfBits(uint16_t bits) { return __half2float(__ushort_as_half(bits)); }

__device__ uint16_t LoadU16(const uint8_t* p) { return uint16_t(p[0]) | uint16_t(p[1]) << 8; }

// Q8_0: 34-byte blocks, f16 scale d then 32 int8 quants; x = d * q.
__global__ void DequantQ8_0(const uint8_t* src, float* dst, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const uint8_t* block = src + (i / 32) * 34;
  dst[i] = HalfBits(LoadU16(block)) * float(int8_t(block[2 + i % 32]));
}

// Q4_0: 18-byte blocks, f16 scale d then 16 bytes; low nibbles are elements 0..15, high nibbles
// 16..31; x = d * (q - 8).
__global__ void DequantQ4_0(const uint8_t* src, float* dst, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const uint8_t* block = src + (i / 32) * 18;
  int j = i % 32;
  uint8_t byte = block[2 + (j & 15)];
  int q = j < 16 ? (byte & 0x0F) : (byte >> 4);
  dst[i] = HalfBits(LoadU16(block)) * float(q - 8);
}

__global__ void DequantF16(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = HalfBits(src[i]);
}

__global__ void DequantBF16(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = __uint_as_float(uint32_t(src[i]) << 16);
}

// K-quants: one thread per 16 elements through the shared block readers.
template <BlockType T>
__global__ void DequantBlocks16(const uint8_t* src, float* dst, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i * 16 >= n) return;
  float v[16];
  blocks::Dequant16<T>(src, i * 16, v);
#pragma unroll
  for (int j = 0; j < 16; ++j) dst[i * 16 + j] = v[j];
}

}  // namespace

cudaError_t DequantizeToF32(BlockType type, const void* src, float* dst, int64_t n,
                            cudaStream_t stream) {
  if (n <= 0) return cudaErrorInvalidValue;
  const unsigned blocks = unsigned((n + kThreads - 1) / kThreads);
  switch (type) {
    case BlockType::kF32:
      return cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream);
    case BlockType::kF16:
      DequantF16<<<blocks, kThreads, 0, stream>>>(static_cast<const uint16_t*>(src), dst, n);
      break;
    case BlockType::kBF16:
      DequantBF16<<<blocks, kThreads, 0, stream>>>(static_cast<const uint16_t*>(src), dst, n);
      break;
    case BlockType::kQ8_0:
      if (n % 32) return cudaErrorInvalidValue;
      DequantQ8_0<<<blocks, kThreads, 0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
      break;
    case BlockType::kQ4_0:
      if (n % 32) return cudaErrorInvalidValue;
      DequantQ4_0<<<blocks, kThreads, 0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
      break;
    case BlockType::kQ4_K:
      if (n % 256) return cudaErrorInvalidValue;
      DequantBlocks16<BlockType::kQ4_K><<<unsigned((n / 16 + kThreads - 1) / kThreads), kThreads, 0,
                                          stream>>>(static_cast<const uint8_t*>(src), dst, n);
      break;
    case BlockType::kQ6_K:
      if (n % 256) return cudaErrorInvalidValue;
      DequantBlocks16<BlockType::kQ6_K><<<unsigned((n / 16 + kThreads - 1) / kThreads), kThreads, 0,
                                          stream>>>(static_cast<const uint8_t*>(src), dst, n);
      break;
    case BlockType::kQ4_1:
    case BlockType::kQ5_0:
    case BlockType::kQ5_1:
    case BlockType::kQ2_K:
    case BlockType::kQ3_K:
    case BlockType::kQ5_K:
    case BlockType::kIQ4_NL:
    case BlockType::kIQ4_XS:
    case BlockType::kMXFP4:
      // The added types through the generic 16-element reader (gguf_blocks_added.cuh).
      if (n % blocks::BlockElems(type)) return cudaErrorInvalidValue;
      switch (type) {
        case BlockType::kQ4_1:
          DequantBlocks16<BlockType::kQ4_1><<<unsigned((n / 16 + kThreads - 1) / kThreads), kThreads,
                                          0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
          break;
        case BlockType::kQ5_0:
          DequantBlocks16<BlockType::kQ5_0><<<unsigned((n / 16 + kThreads - 1) / kThreads), kThreads,
                                          0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
          break;
        case BlockType::kQ5_1:
          DequantBlocks16<BlockType::kQ5_1><<<unsigned((n / 16 + kThreads - 1) / kThreads), kThreads,
                                          0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
          break;
        case BlockType::kQ2_K:
          DequantBlocks16<BlockType::kQ2_K><<<unsigned((n / 16 + kThreads - 1) / kThreads), kThreads,
                                          0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
          break;
        case BlockType::kQ3_K:
          DequantBlocks16<BlockType::kQ3_K><<<unsigned((n / 16 + kThreads - 1) / kThreads), kThreads,
                                          0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
          break;
        case BlockType::kQ5_K:
          DequantBlocks16<BlockType::kQ5_K><<<unsigned((n / 16 + kThreads - 1) / kThreads), kThreads,
                                          0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
          break;
        case BlockType::kIQ4_NL:
          DequantBlocks16<BlockType::kIQ4_NL><<<unsigned((n / 16 + kThreads - 1) / kThreads), kThreads,
                                          0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
          break;
        case BlockType::kIQ4_XS:
          DequantBlocks16<BlockType::kIQ4_XS><<<unsigned((n / 16 + kThreads - 1) / kThreads), kThreads,
                                          0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
          break;
        case BlockType::kMXFP4:
          DequantBlocks16<BlockType::kMXFP4><<<unsigned((n / 16 + kThreads - 1) / kThreads), kThreads,
                                          0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
          break;
        default: break;
      }
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace g4::cuda

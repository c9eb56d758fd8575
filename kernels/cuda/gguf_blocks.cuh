// Device-side readers of the GGUF block formats (layouts: runtime/gguf/ggml_types.h), shared by
// the matrix, embedding and dequantization kernels.
//
// Dequant16<T>(row, k0, out) writes elements k0..k0+15 of a GGUF row (k0 a multiple of 16) as
// fp32, bit-identical to gguf::Dequantize: every product and difference of the reference's
// formula is rounded separately (__fmul_rn/__fsub_rn), never contracted into an FMA.
//
// Alignment: `row` must be aligned as the format's rows are when the tensor starts on a 16-byte
// boundary (device allocations are 256-byte aligned): F32/F16/BF16 rows and Q4_K super-blocks
// are read with 16-byte loads, Q8_0 (34-byte), Q4_0 (18-byte) and Q6_K (210-byte) blocks, which
// are only 2-byte aligned in a row, with 2-byte loads.
#ifndef GEMMA4C_KERNELS_CUDA_GGUF_BLOCKS_CUH_
#define GEMMA4C_KERNELS_CUDA_GGUF_BLOCKS_CUH_

#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "dequant.cuh"

namespace g4::cuda::blocks {

__device__ __forceinline__ float Half(uint16_t bits) { return __half2float(__ushort_as_half(bits)); }
__device__ __forceinline__ float Bf16(uint16_t bits) { return __uint_as_float(uint32_t(bits) << 16); }
__device__ __forceinline__ uint16_t U16(const uint8_t* p) {
  return *reinterpret_cast<const uint16_t*>(p);  // 2-byte aligned by the formats' layouts
}

// Block size in elements and bytes (0 for unsupported types).
__host__ __device__ constexpr int BlockElems(BlockType t) {
  return t == BlockType::kQ8_0 || t == BlockType::kQ4_0 || t == BlockType::kQ4_1 ||
                 t == BlockType::kQ5_0 || t == BlockType::kQ5_1 || t == BlockType::kIQ4_NL ||
                 t == BlockType::kMXFP4
             ? 32
         : t == BlockType::kQ4_K || t == BlockType::kQ6_K || t == BlockType::kQ2_K ||
                 t == BlockType::kQ3_K || t == BlockType::kQ5_K || t == BlockType::kIQ4_XS
             ? 256
             : 1;
}
__host__ __device__ constexpr int BlockBytes(BlockType t) {
  return t == BlockType::kF32    ? 4
         : t == BlockType::kF16  ? 2
         : t == BlockType::kBF16 ? 2
         : t == BlockType::kQ8_0 ? 34
         : t == BlockType::kQ4_0 ? 18
         : t == BlockType::kQ4_K ? 144
         : t == BlockType::kQ6_K ? 210
         : t == BlockType::kQ4_1 ? 20
         : t == BlockType::kQ5_0 ? 22
         : t == BlockType::kQ5_1 ? 24
         : t == BlockType::kIQ4_NL ? 18
         : t == BlockType::kMXFP4 ? 17
         : t == BlockType::kQ2_K ? 84
         : t == BlockType::kQ3_K ? 110
         : t == BlockType::kQ5_K ? 176
         : t == BlockType::kIQ4_XS ? 136
                                 : 0;
}
// Bytes of one row of n elements (n a multiple of the block size).
__host__ __device__ constexpr int64_t RowBytes(BlockType t, int64_t n) {
  return n / BlockElems(t) * BlockBytes(t);
}

template <BlockType T>
__device__ __forceinline__ void Dequant16(const uint8_t* row, int64_t k0, float* out);

template <>
__device__ __forceinline__ void Dequant16<BlockType::kF32>(const uint8_t* row, int64_t k0, float* out) {
  const float4* p = reinterpret_cast<const float4*>(row + k0 * 4);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float4 v = __ldg(p + i);
    out[4 * i] = v.x, out[4 * i + 1] = v.y, out[4 * i + 2] = v.z, out[4 * i + 3] = v.w;
  }
}

template <BlockType T>
__device__ __forceinline__ void Dequant16Half(const uint8_t* row, int64_t k0, float* out) {
  const uint4* p = reinterpret_cast<const uint4*>(row + k0 * 2);
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const uint4 v = __ldg(p + i);
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const uint16_t lo = uint16_t(w[j] & 0xffff), hi = uint16_t(w[j] >> 16);
      out[8 * i + 2 * j] = T == BlockType::kF16 ? Half(lo) : Bf16(lo);
      out[8 * i + 2 * j + 1] = T == BlockType::kF16 ? Half(hi) : Bf16(hi);
    }
  }
}
template <>
__device__ __forceinline__ void Dequant16<BlockType::kF16>(const uint8_t* row, int64_t k0, float* out) {
  Dequant16Half<BlockType::kF16>(row, k0, out);
}
template <>
__device__ __forceinline__ void Dequant16<BlockType::kBF16>(const uint8_t* row, int64_t k0, float* out) {
  Dequant16Half<BlockType::kBF16>(row, k0, out);
}

// Q8_0: f16 d | int8 qs[32]; x = d * q.
template <>
__device__ __forceinline__ void Dequant16<BlockType::kQ8_0>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 32) * 34;
  const float d = Half(U16(b));
  const uint8_t* q = b + 2 + (k0 % 32);
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const uint16_t v = U16(q + 2 * i);
    out[2 * i] = __fmul_rn(d, float(int8_t(v & 0xff)));
    out[2 * i + 1] = __fmul_rn(d, float(int8_t(v >> 8)));
  }
}

// Q4_0: f16 d | u8 qs[16]; element j < 16: low nibble of byte j, j >= 16: high nibble of j-16.
template <>
__device__ __forceinline__ void Dequant16<BlockType::kQ4_0>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 32) * 18;
  const float d = Half(U16(b));
  const int shift = (k0 % 32) ? 4 : 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const uint16_t v = U16(b + 2 + 2 * i);
    out[2 * i] = __fmul_rn(d, float(int((v >> shift) & 0xF) - 8));
    out[2 * i + 1] = __fmul_rn(d, float(int((v >> (8 + shift)) & 0xF) - 8));
  }
}

// Q4_K: f16 d | f16 dmin | scales[12] | qs[128]; group g of 32 (g = 0..7) has a 6-bit scale and
// min; its quants are the low (even g) or high (odd g) nibbles of qs[32*(g/2) .. +32].
// x = (d * sc) * q - (dmin * m).
template <>
__device__ __forceinline__ void Dequant16<BlockType::kQ4_K>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 256) * 144;
  const int w = int(k0 % 256), g = w / 32, sub = (w % 32) / 16;
  const float d = Half(U16(b)), dmin = Half(U16(b + 2));
  const uint8_t* s = b + 4;
  uint8_t sc, m;
  if (g < 4) {
    sc = s[g] & 63;
    m = s[g + 4] & 63;
  } else {
    sc = uint8_t((s[g + 4] & 0x0F) | ((s[g - 4] >> 6) << 4));
    m = uint8_t((s[g + 4] >> 4) | ((s[g] >> 6) << 4));
  }
  const float d1 = __fmul_rn(d, float(sc)), m1 = __fmul_rn(dmin, float(m));
  const uint4 v = __ldg(reinterpret_cast<const uint4*>(b + 16 + 32 * (g / 2) + 16 * sub));
  const uint32_t words[4] = {v.x, v.y, v.z, v.w};
  const int shift = (g & 1) ? 4 : 0;
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    const int q = int((words[i / 4] >> (8 * (i % 4) + shift)) & 0xF);
    out[i] = __fsub_rn(__fmul_rn(d1, float(q)), m1);
  }
}

// Q6_K: ql[128] | qh[64] | int8 scales[16] | f16 d. Element l + 32k of half n (l < 32, k < 4):
// low 4 bits in ql[64n + l + 32(k&1)] (low nibble for k < 2), high 2 bits in qh[32n + l] bits
// 2k..2k+1, scale scales[8n + l/16 + 2k]; x = (d * sc) * (q - 32).
template <>
__device__ __forceinline__ void Dequant16<BlockType::kQ6_K>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 256) * 210;
  const int w = int(k0 % 256), n = w / 128, r = w % 128, k = r / 32, l0 = r % 32;
  const float d = Half(U16(b + 208));
  const int8_t sc = int8_t(b[192 + 8 * n + l0 / 16 + 2 * k]);
  const float ds = __fmul_rn(d, float(sc));
  const uint8_t* ql = b + 64 * n + 32 * (k & 1) + l0;
  const uint8_t* qh = b + 128 + 32 * n + l0;
  const int lo_shift = k < 2 ? 0 : 4;
#pragma unroll
  for (int i = 0; i < 16; i += 2) {
    const uint16_t lo2 = U16(ql + i), hi2 = U16(qh + i);
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      const int lo = ((lo2 >> (8 * j)) >> lo_shift) & 0xF;
      const int hi = ((hi2 >> (8 * j)) >> (2 * k)) & 3;
      out[i + j] = __fmul_rn(ds, float((lo | (hi << 4)) - 32));
    }
  }
}

}  // namespace g4::cuda::blocks

#include "gguf_blocks_added.cuh"  // the nine added types' Dequant16 specializations

#endif  // GEMMA4C_KERNELS_CUDA_GGUF_BLOCKS_CUH_

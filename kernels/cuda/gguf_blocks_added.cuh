// Device readers of the nine GGUF types added after the first seven (Q4_1, Q5_0, Q5_1, Q2_K,
// Q3_K, Q5_K, IQ4_NL, IQ4_XS, MXFP4; layouts in docs/gguf.md). Included by gguf_blocks.cuh.
// Same contract as there: Dequant16<T>(row, k0, out), k0 a multiple of 16, bit-identical to
// gguf::Dequantize (every product exact, the one add/sub of a min rounded with __fadd_rn /
// __fsub_rn, nothing contracted). These blocks (17, 18, 20, 22, 24, 84, 110, 136, 176 bytes)
// are read with byte loads: MXFP4's are not even 2-byte aligned in a row.
#ifndef GEMMA4C_KERNELS_CUDA_GGUF_BLOCKS_ADDED_CUH_
#define GEMMA4C_KERNELS_CUDA_GGUF_BLOCKS_ADDED_CUH_

namespace g4::cuda::blocks {

__device__ __forceinline__ float HalfAt(const uint8_t* p) {
  return Half(uint16_t(p[0] | (p[1] << 8)));
}

__device__ __forceinline__ int Iq4nlValue(int q) {
  constexpr int8_t kV[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                             1,    13,   25,  38,  53,  69,  89,  113};
  return kV[q];
}
__device__ __forceinline__ int Mxfp4Value(int q) {
  constexpr int8_t kV[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  return kV[q];
}
// 2^(e-128), as gguf::E8m0ToFloatHalf.
__device__ __forceinline__ float E8m0Half(uint8_t e) {
  return __uint_as_float(e < 2 ? (0x00200000u << e) : uint32_t(e - 1) << 23);
}

// Nibble i (0..15) of the half h (0: low nibbles = elements 0..15, 1: high = 16..31).
__device__ __forceinline__ int NibbleOf(const uint8_t* qs, int h, int i) {
  return h ? qs[i] >> 4 : qs[i] & 0x0F;
}
__device__ __forceinline__ int Q5Bit(const uint8_t* qh, int j) { return ((qh[j / 8] >> (j % 8)) & 1) << 4; }

// x = q*d + m.
template <>
__device__ __forceinline__ void Dequant16<BlockType::kQ4_1>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 32) * 20;
  const int h = int(k0 % 32) / 16;
  const float d = HalfAt(b), m = HalfAt(b + 2);
#pragma unroll
  for (int i = 0; i < 16; ++i) out[i] = __fadd_rn(__fmul_rn(float(NibbleOf(b + 4, h, i)), d), m);
}

// x = (q-16)*d.
template <>
__device__ __forceinline__ void Dequant16<BlockType::kQ5_0>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 32) * 22;
  const int h = int(k0 % 32) / 16;
  const float d = HalfAt(b);
#pragma unroll
  for (int i = 0; i < 16; ++i)
    out[i] = __fmul_rn(float((NibbleOf(b + 6, h, i) | Q5Bit(b + 2, 16 * h + i)) - 16), d);
}

// x = q*d + m.
template <>
__device__ __forceinline__ void Dequant16<BlockType::kQ5_1>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 32) * 24;
  const int h = int(k0 % 32) / 16;
  const float d = HalfAt(b), m = HalfAt(b + 2);
#pragma unroll
  for (int i = 0; i < 16; ++i)
    out[i] = __fadd_rn(__fmul_rn(float(NibbleOf(b + 8, h, i) | Q5Bit(b + 4, 16 * h + i)), d), m);
}

// x = d*kv[q].
template <>
__device__ __forceinline__ void Dequant16<BlockType::kIQ4_NL>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 32) * 18;
  const int h = int(k0 % 32) / 16;
  const float d = HalfAt(b);
#pragma unroll
  for (int i = 0; i < 16; ++i) out[i] = __fmul_rn(d, float(Iq4nlValue(NibbleOf(b + 2, h, i))));
}

// x = fp4[q] * 2^(e-128).
template <>
__device__ __forceinline__ void Dequant16<BlockType::kMXFP4>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 32) * 17;
  const int h = int(k0 % 32) / 16;
  const float d = E8m0Half(b[0]);
#pragma unroll
  for (int i = 0; i < 16; ++i) out[i] = __fmul_rn(float(Mxfp4Value(NibbleOf(b + 1, h, i))), d);
}

// Element 128h + 32j + l: bits 2j.. of qs[32h + l]; 16-group 8h + 2j + l/16 (one per call).
// x = (d*sc)*q - dmin*m.
template <>
__device__ __forceinline__ void Dequant16<BlockType::kQ2_K>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 256) * 84;
  const int w = int(k0 % 256), h = w / 128, j = (w % 128) / 32, l0 = w % 32;
  const uint8_t sc = b[8 * h + 2 * j + l0 / 16];
  const float dl = __fmul_rn(HalfAt(b + 80), float(sc & 0x0F));
  const float ml = __fmul_rn(HalfAt(b + 82), float(sc >> 4));
  const uint8_t* q = b + 16 + 32 * h + l0;
#pragma unroll
  for (int i = 0; i < 16; ++i) out[i] = __fsub_rn(__fmul_rn(dl, float((q[i] >> (2 * j)) & 3)), ml);
}

// As Q2_K's positions, minus 4 where bit 4h+j of hmask[l] is clear; x = (d*(sc-32))*v.
template <>
__device__ __forceinline__ void Dequant16<BlockType::kQ3_K>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 256) * 110;
  const int w = int(k0 % 256), h = w / 128, j = (w % 128) / 32, l0 = w % 32;
  const int g = 8 * h + 2 * j + l0 / 16;
  const uint8_t* s = b + 96;
  const int lo = g < 8 ? (s[g] & 0x0F) : (s[g - 8] >> 4);
  const int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
  const float dl = __fmul_rn(HalfAt(b + 108), float((lo | (hi << 4)) - 32));
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    const int l = l0 + i;
    const int v = ((b[32 + 32 * h + l] >> (2 * j)) & 3) - (((b[l] >> (4 * h + j)) & 1) ? 0 : 4);
    out[i] = __fmul_rn(dl, float(v));
  }
}

// As Q4_K with bit g of qh[l] as +16; x = (d*sc)*q - dmin*m.
template <>
__device__ __forceinline__ void Dequant16<BlockType::kQ5_K>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 256) * 176;
  const int w = int(k0 % 256), g = w / 32, l0 = w % 32;
  const uint8_t* s = b + 4;
  int sc, m;
  if (g < 4) {
    sc = s[g] & 63;
    m = s[g + 4] & 63;
  } else {
    sc = (s[g + 4] & 0x0F) | ((s[g - 4] >> 6) << 4);
    m = (s[g + 4] >> 4) | ((s[g] >> 6) << 4);
  }
  const float d1 = __fmul_rn(HalfAt(b), float(sc)), m1 = __fmul_rn(HalfAt(b + 2), float(m));
  const uint8_t* ql = b + 48 + 32 * (g / 2);
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    const int l = l0 + i;
    const int q = ((g & 1) ? ql[l] >> 4 : ql[l] & 0x0F) + (((b[16 + l] >> g) & 1) ? 16 : 0);
    out[i] = __fsub_rn(__fmul_rn(d1, float(q)), m1);
  }
}

// Group g of 32: x = (d*(ls-32)) * kv[q], its 16 bytes as IQ4_NL's.
template <>
__device__ __forceinline__ void Dequant16<BlockType::kIQ4_XS>(const uint8_t* row, int64_t k0, float* out) {
  const uint8_t* b = row + (k0 / 256) * 136;
  const int w = int(k0 % 256), g = w / 32, h = (w % 32) / 16;
  const int scales_h = b[2] | (b[3] << 8);
  const int ls = ((b[4 + g / 2] >> (4 * (g % 2))) & 0x0F) | (((scales_h >> (2 * g)) & 3) << 4);
  const float dl = __fmul_rn(HalfAt(b), float(ls - 32));
#pragma unroll
  for (int i = 0; i < 16; ++i) out[i] = __fmul_rn(dl, float(Iq4nlValue(NibbleOf(b + 8 + 16 * g, h, i))));
}

}  // namespace g4::cuda::blocks

#endif  // GEMMA4C_KERNELS_CUDA_GGUF_BLOCKS_ADDED_CUH_

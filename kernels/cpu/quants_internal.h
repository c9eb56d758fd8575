// Chunk kernels for the GGUF types added after the first seven (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K,
// Q5_K, IQ4_NL, IQ4_XS, MXFP4), kept apart from matmul_portable.cc / matmul_avx2.cc so those
// stay the tuned paths for Q8_0/Q4_0/Q4_K/Q6_K. Same contracts as KernelTable's decode and
// dot_q8 (matmul_internal.h); the per-ISA files call these from their `default:` cases.
//
// All nine types share one integer-path form: every 32-element block of weights is unpacked
// to 32 int8 values q and, per 16-element half h, a scale s_h and an offset o_h with
//   w_i = s_h * q_i + o_h   (h = i / 16; s_0 = s_1 and o_0 = o_1 except for Q2_K and Q3_K,
//                            whose 16-groups have their own scales; o = 0 for the symmetric types)
// exactly (every product in ggml's formulas is exact in fp32). A block's contribution to a dot
// product with q8 activations x ~ dx * xq is then
//   s_h * dx * sum(q * xq) + o_h * dx * sum(xq)   per half (per block when s_0 = s_1),
// integer sums exact, so the offsets meet the same rounded x as the scales (as Q4_K's mins).
#ifndef GEMMA4C_KERNELS_CPU_QUANTS_INTERNAL_H_
#define GEMMA4C_KERNELS_CPU_QUANTS_INTERNAL_H_

#include <cstdint>

#include "cpu/matmul_internal.h"

namespace g4::cpu::internal {

// True for the nine types handled here.
bool IsUnpackedQuantType(GgmlType type);

// One 32-block in the form above.
struct Block32 {
  int8_t q[32];
  float scale[2];
  float offset[2];
};
// Whether a type's two halves have their own scale/offset (Q2_K, Q3_K) and whether it has
// offsets at all (Q4_1, Q5_1, Q2_K, Q5_K).
bool HasSplitHalves(GgmlType type);
bool HasOffsets(GgmlType type);
// Block b (0-based, counted in 32-element blocks from `row`) of a row of `type`.
void UnpackBlock32(GgmlType type, const uint8_t* row, int64_t b, Block32* out);

// Portable integer-path kernel (KernelTable::dot_q8 contract) for these types.
void DotQ8UnpackedPortable(GgmlType type, const uint8_t* const* w, int R, const Q8Act* x, int T,
                           int64_t n, double* acc, int64_t acc_stride);

// AVX2 versions (defined only on x86-64 GCC/Clang builds; call only when CpuHasAvx2()).
void DecodeUnpackedAvx2(GgmlType type, const uint8_t* src, int64_t n, float* dst);
void DotQ8UnpackedAvx2(GgmlType type, const uint8_t* const* w, int R, const Q8Act* x, int T,
                       int64_t n, double* acc, int64_t acc_stride);

}  // namespace g4::cpu::internal

#endif  // GEMMA4C_KERNELS_CPU_QUANTS_INTERNAL_H_

// CPU matrix products against GGUF weights read in place: y = W x for a batch of tokens.
//
// Contract of MatMul (see docs/kernels-cpu.md for the numbers):
//   W  `out` rows of `in` elements in GGUF layout (ne = [in, out]): row o is the
//      RowBytes(wtype, in) bytes at W + o * RowBytes(wtype, in). No alignment is required (GGUF
//      rows of Q8_0/Q4_0/Q6_K are not even 4-byte aligned). Read only, never converted as a whole.
//   X  [tokens][in] floats, row-major.   Y  [tokens][out] floats, row-major (fully overwritten).
//   Y[t][o] = sum_i W[o][i] * X[t][i].
//   `in` must be a multiple of the type's block size (32 for Q8_0/Q4_0, 256 for Q4_K/Q6_K).
//   tokens == 1 is the decode GEMV, tokens > 1 the prefill GEMM; tokens == 0 does nothing.
//
// Rounding:
//   * F32/F16/BF16 weights, and quantized weights with ActivationPrecision::kF32: weights are
//     widened exactly to fp32 (bit-identical to gguf::Dequantize), activations are used as given
//     (never rounded to bf16/f16), products are fused multiply-adds into 8 fp32 lanes over chunks
//     of 256 elements, and the chunk sums are added in float64. Error <= ~34 * 2^-24 *
//     sum_i |W[o][i] X[t][i]| (+ the final rounding to float). The BF16 pair products
//     (Isa::kAvx512Bf16, packed matrices only, every X bf16-exact) keep 4 lanes per row over
//     chunks of 1024: error <= ~258 * 2^-24 * sum_i |W[o][i] X[t][i]|, plus inputs and partial
//     sums below 2^-126 flushed to zero.
//   * Quantized weights with ActivationPrecision::kQ8 (the default): each token's activations
//     are quantized to int8 per block of 32 (scale d = amax/127 kept in fp32, round to nearest)
//     and the products are integer dot products, as ggml's q8_0/q8_K paths. Extra error
//     <= sum_i |W[o][i]| * d(block of i) / 2, plus fp32 rounding of the per-block scaled sums.
//
// Determinism: every output element is computed by one thread with a sequence of operations that
// does not depend on the thread count, the tile it falls in or the token count, so results are
// bit-identical for any pool (including none). The AVX2 and portable paths agree to within the
// rounding bounds above, not bitwise.
#ifndef GEMMA4C_KERNELS_CPU_MATMUL_H_
#define GEMMA4C_KERNELS_CPU_MATMUL_H_

#include <cstdint>

#include "absl/status/status.h"
#include "cpu/thread_pool.h"
#include "gguf/ggml_types.h"

namespace g4::cpu {

using gguf::GgmlType;

// Which implementation runs. kAuto picks kAvx512Bf16 when the CPU has it, else the 256-bit
// vpdpbusd kernels when the CPU has them (VEX AVX-VNNI, or AVX512-VNNI with AVX512VL, and
// AVX2+FMA+F16C), else AVX2 when it has AVX2+FMA+F16C, else portable. kAvxVnni gives the same
// results as kAvx2 bit for bit (only the Q8_0/Q4_0 integer products differ in how they are
// computed). kAvx512Bf16 (AVX512-VNNI, AVX512_BF16, AVX512BW, AVX512VL) is kAvxVnni plus the BF16
// pair products: packed BF16 matrices (MatMulPacked) against activations that are all
// bf16-exact (as every Linear input is under the `reference` policy) take vdpbf16ps, whose
// summation order differs from the fp32 path's (docs/kernels-cpu.md, "BF16 pair products"; the
// same products, exact either way). Everything else gives kAvxVnni's bits.
enum class Isa { kAuto, kAvx2, kAvxVnni, kPortable, kAvx512Bf16 };

// How activations meet quantized weights (ignored for F32/F16/BF16 weights, which are exact).
enum class ActivationPrecision {
  kQ8,   // fast: activations quantized to int8 per 32-block, integer dot products
  kF32,  // exact: weights dequantized on the fly to fp32, fp32 activations
};

struct MatMulOptions {
  ThreadPool* pool = nullptr;  // nullptr: run on the calling thread only
  Isa isa = Isa::kAuto;
  ActivationPrecision activations = ActivationPrecision::kQ8;
  // Each Y element rounded to bf16 (ops::RoundBf16, to nearest even) as it is stored: the bf16
  // island after a Linear, done by the thread that computed the element instead of in a second,
  // single-threaded pass over Y (a 512-token E2B prefill rounds ~450 M floats). Same bits as
  // rounding Y afterwards.
  bool round_bf16 = false;
};

// Whether this CPU can run the AVX2 kernels (AVX2, FMA and F16C).
bool CpuHasAvx2();
// Whether it can also run the vpdpbusd ones (VEX AVX-VNNI, or EVEX AVX512-VNNI + AVX512VL).
bool CpuHasAvxVnni();
// Whether it can run Isa::kAvx512Bf16.
bool CpuHasAvx512Bf16();

// Y = X W^T as described above. InvalidArgument for bad shapes or null pointers;
// FailedPrecondition for Isa::kAvx2 / kAvxVnni / kAvx512Bf16 on a CPU without it.
absl::Status MatMul(GgmlType wtype, const void* W, int64_t in, int64_t out, const float* X,
                    int64_t tokens, float* Y, const MatMulOptions& options = {});

}  // namespace g4::cpu

#endif  // GEMMA4C_KERNELS_CPU_MATMUL_H_

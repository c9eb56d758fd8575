// ggml tensor data types: ids, block layouts, and the reference (de)quantizers.
//
// Block layouts (as ggml defines them; fp16 scales are IEEE half, little-endian):
//   F32   4 bytes/elem            F16  2 bytes/elem (IEEE half)   BF16 2 bytes/elem
//   Q8_0  block of 32: f16 d | int8 qs[32]                        -> 34 bytes; x = d*q
//   Q4_0  block of 32: f16 d | u8 qs[16]  (low nibbles = elems 0..15, high = 16..31)
//                                                                 -> 18 bytes; x = d*(q-8)
//   Q4_K  super-block of 256: f16 d | f16 dmin | u8 scales[12] (6-bit scale/min per 32-group)
//         | u8 qs[128]                                            -> 144 bytes
//   Q6_K  super-block of 256: u8 ql[128] | u8 qh[64] | int8 scales[16] | f16 d
//                                                                 -> 210 bytes
//   Q4_1  32: f16 d | f16 m | u8 qs[16]                 -> 20;  x = d*q + m, q 0..15
//   Q5_0  32: f16 d | u8 qh[4] | u8 qs[16]              -> 22;  x = d*(q-16), q 0..31
//   Q5_1  32: f16 d | f16 m | u8 qh[4] | u8 qs[16]      -> 24;  x = d*q + m
//   IQ4_NL 32: f16 d | u8 qs[16]                        -> 18;  x = d*kIq4nlValues[q]
//   MXFP4 32: u8 e (E8M0) | u8 qs[16]                   -> 17;  x = 2^(e-128)*kMxfp4Values[q]
//   Q2_K  256: u8 scales[16] | u8 qs[64] | f16 d | f16 dmin      -> 84
//   Q3_K  256: u8 hmask[32] | u8 qs[64] | u8 scales[12] | f16 d  -> 110
//   Q5_K  256: f16 d | f16 dmin | u8 scales[12] | u8 qh[32] | u8 qs[128]   -> 176
//   IQ4_XS 256: f16 d | u16 scales_h | u8 scales_l[4] | u8 qs[128]         -> 136
// (docs/gguf.md has the element order of each.)
// A tensor's innermost dimension ne[0] must be a multiple of the block size.
#ifndef GEMMA4C_RUNTIME_GGUF_GGML_TYPES_H_
#define GEMMA4C_RUNTIME_GGUF_GGML_TYPES_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace g4::gguf {

// Ids as in ggml.h (enum ggml_type). Only the ones we read are named; others are rejected.
enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ2_K = 10,
  kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kIQ4_NL = 20, kIQ4_XS = 23, kBF16 = 30,
  kMXFP4 = 39,
};

// The 16 signed levels of IQ4_NL / IQ4_XS (ggml's kvalues_iq4nl) and of MXFP4 (E2M1 values
// doubled, ggml's kvalues_mxfp4; the E8M0 scale is halved to compensate).
extern const int8_t kIq4nlValues[16];
extern const int8_t kMxfp4Values[16];
// 2^(e - 128): half the E8M0 scale e (ggml's GGML_E8M0_TO_FP32_HALF), exact; e = 0, 1 are the
// fp32 subnormals 2^-128, 2^-127.
float E8m0ToFloatHalf(uint8_t e);

// Every GgmlType enumerator, in id order (for tests and type lists).
extern const GgmlType kAllGgmlTypes[16];

struct TypeTraits {
  GgmlType type;
  const char* name;       // "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k", "iq4_nl", ...
  int64_t block_elems;    // elements per block (1 for float types)
  int64_t block_bytes;    // bytes per block
};

// Traits of a supported type id; nullopt for ids we do not support.
std::optional<TypeTraits> GetTypeTraits(uint32_t type_id);
// Traits of an enumerator; for a value that is not one, {"invalid", 1 element, 0 bytes} (RowBytes
// is then nullopt), never an abort.
const TypeTraits& Traits(GgmlType type);
// Parses "f32", "F32", "q8_0", ... ; nullopt if unknown.
std::optional<GgmlType> ParseTypeName(absl::string_view name);
// Bytes for n elements (n a multiple of the block size, else nullopt).
std::optional<uint64_t> RowBytes(GgmlType type, int64_t n);

// Scalar conversions (round-to-nearest-even for the narrowing ones).
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
float Bf16ToFloat(uint16_t b);
uint16_t FloatToBf16(float f);
float RoundToBf16(float f);  // FloatToBf16 then back

// Q4_K / Q5_K: the 6-bit scale and min of group `j` (0..7) from a block's 12 packed scale
// bytes (ggml's get_scale_min_k4): groups 0..3 keep their low 6 bits in bytes 0..3 (scales) and
// 4..7 (mins); groups 4..7 keep their low 4 bits in the nibbles of bytes 8..11 and their top 2
// bits in bits 6..7 of bytes 0..7. Inline: the K-quant decode loops call it per group.
inline void GetScaleMinK4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Reference dequantizer: n elements from src to dst. Precondition: n is a multiple of the block
// size and src holds RowBytes(type, n) bytes (unchecked: this is the inner loop of ReadAsF32).
void Dequantize(GgmlType type, const void* src, float* dst, int64_t n);
// Reference quantizer: n floats to the block format. F16/BF16 round to nearest even; Q8_0,
// Q4_0, Q4_1, Q5_0, Q5_1 and MXFP4 reproduce ggml's reference quantizers bit for bit; the
// K-quants, IQ4_NL and IQ4_XS write ggml's block layout with a simpler scale search than
// ggml's (a few least-squares refits or candidate scales per group), so their bytes may differ
// from llama.cpp's while dequantizing with the same formula. Non-finite inputs give
// unspecified (but valid) blocks. Returns InvalidArgument if n is not a block multiple.
absl::Status Quantize(GgmlType type, const float* src, void* dst, int64_t n);
// Whether Quantize writes `type` (every enumerator today; false for a value that is not one).
bool CanQuantize(GgmlType type);

}  // namespace g4::gguf

#endif  // GEMMA4C_RUNTIME_GGUF_GGML_TYPES_H_

// Q8_0, Q4_0, Q4_K and Q6_K matrices repacked once, at load, into 8-row panels for the integer
// path, BF16 ones into 4-row tiles for the exact path's GEMV, and the product against them
// (docs/kernels-cpu.md, "Packed panels", "BF16 row tiles").
//
// Why: in GGUF layout a block of one row is 34 (Q8_0) or 18 (Q4_0) bytes, so a GEMV handles
// rows one at a time: per row and block one integer dot, one int->float conversion and one FMA
// for each of 8 lanes, and a 4-row tile's activation loads shared by only 4 rows. That is
// compute-bound on one core below the memory bandwidth (Q4_0: 13.6 GB/s in cache). Packed, the
// same block of 8 rows is one run of bytes in which every 32-bit lane belongs to one row, so a
// broadcast 4-byte group of the activations meets 8 rows in one integer instruction, the 8 groups
// of a block add up in integers, and each block costs one conversion and one FMA for all 8 rows.
// The prefill GEMM reads the same layout with up to 4 tokens per unpacked block, and nothing is
// repacked per call.
//
// Layout (PackedMatrix::Panel(p) = rows 8p .. 8p+7; rows past `out` are zero): the panel's
// blocks of 32 elements in order, grouped in chunks of up to 8 blocks (256 elements, the float64
// accumulation chunk). A chunk of nb blocks is nb x 8 f16 scales ([block][row]), the GGUF scales
// verbatim, then nb weight blocks of kPackedBlockBytes(type) bytes (the scales first: the kernel
// reads block 0's with its weights, so the chunk is read front to back).
//   Q8_0 (256 bytes/block): group g (elements 4g..4g+3) of rows 0..7 at bytes 32g + 4r + k, as
//        w + 128 (unsigned, for vpdpbusd).
//   Q4_0 (128 bytes/block): vector j = bytes 32j.. of rows 0..7 at 32j + 4r + k: row r's GGUF
//        nibble bytes qs[4j + k] verbatim; low nibbles are group j, high nibbles group j + 4.
//   Q4_K (a chunk is one superblock, 1184 bytes), in the order the kernel first reads it: the
//        tail, d of rows 0..7 (f16), dmin of rows 0..7 (f16), sc[g][r] and m[g][r] (the 6-bit
//        scales and mins unpacked to bytes, group-major), 160 bytes; then from 160 on, for
//        j = 0..3 (elements 64j..64j+63) and k = 0..7, vector 8j + k at 160 + 32(8j + k) + 4r + i
//        holds row r's GGUF qs[32j + 4k + i]: its low nibbles are group 2j's elements
//        4k..4k+3, its high nibbles group 2j+1's.
//   Q6_K (a chunk is one superblock, 1696 bytes), in the order the kernel first reads it: d of
//        rows 0..7 (f16) and the int8 scales sc[g][r] of the 16 groups of 16, padded to 160;
//        then per half h, 768 bytes: ql word vectors 0..7, qh word vectors 0..7, ql word vectors
//        8..15, where vector m holds row r's word m of the half's ql (or qh) at 32m + 4r + i.
//        Half h's 32-block j, elements 4k..4k+3 (k < 8), is the low (j < 2) or high nibbles of
//        ql vector 8(j % 2) + k with bits 2j, 2j+1 of qh vector k on top (ggml's
//        dequantize_row_q6_K, word by word).
//   BF16 (in a multiple of 8): a panel is two tiles of 4 rows, 8 * in bytes each; within a
//        tile, per 256-chunk, the 4 rows' 8-element runs interleaved (run k of rows 0..3, then
//        run k + 1, ...; internal::Bf16TileOffset in matmul_internal.h). The product is MatMul's
//        exact path, bit for bit: the same per-(row, chunk) FMA chains, run 4 side by side.
// Bytes: the same as the GGUF rows (Q8_0 34, Q4_0 18 bytes per 32 weights), panels padded to 8
// rows and 64 bytes; per 256, Q4_K 148 where GGUF has 144 (the scales unpacked, +2.8 %), Q6_K
// 212 where it has 210 (+1 %, the tail padded so every vector is 32-byte aligned).
//
// Numerics (the same on every ISA, bit for bit; the thread count, the tile and the token count
// do not change a result): activations are quantized to int8 per 32-block as MatMul's kQ8 path
// (matmul.h). For row r, token t, chunk c: s = 0 (fp32); for each block b of c in order:
// s = fma(float(i_b), fp32(dw_b) * d_t,b, s) with i_b the exact integer dot of the block; the
// chunk sums are added in float64, and Y = float(sum). Against MatMul's unpacked kQ8 path (8 fp32
// lanes per pair) only the fp32 rounding of the scaled block sums differs (same bound).
// Q4_K, per superblock c and group g (32 elements) in order: s = fma(float(i_g),
// (fp32(d) * sc_g) * d_t,g, s); s = fma(-(fp32(dmin) * m_g), xsum_t,g, s) with i_g the exact dot
// of the unsigned nibbles and xsum the activations' block sum (Q8Act::sum); d * sc_g and
// dmin * m_g are exact in fp32. Where the GGUF-layout kernel keeps group g in fp32 lane g, this
// is one chain per superblock: other rounding, the same bound.
// Q6_K, per superblock and 32-block b in order: i_b = sum over its two 16-groups g of
// sc_g * (the exact dot of (q - 32) with the activations), an exact int32; s = fma(float(i_b),
// fp32(d) * d_t,b, s). (The GGUF-layout kernel keeps 8 fp32 lanes per pair.)
#ifndef GEMMA4C_KERNELS_CPU_PACKED_MATMUL_H_
#define GEMMA4C_KERNELS_CPU_PACKED_MATMUL_H_

#include <cstdint>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cpu/huge_pages.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "gguf/ggml_types.h"

namespace g4::cpu {

class PackedMatrix {
 public:
  // Whether `type` has a packed layout (Q8_0, Q4_0, Q4_K, Q6_K, BF16).
  static bool Supports(GgmlType type);
  // The bytes the packed layout of an `out` x `in` matrix of `type` takes (a multiple of 64);
  // InvalidArgument as Pack for an unsupported type or a bad shape.
  static absl::StatusOr<uint64_t> BytesFor(GgmlType type, int64_t in, int64_t out);
  // Repacks `out` rows of `in` elements in GGUF layout at W (as MatMul's W) into a buffer of its
  // own (huge pages where the kernel grants them: huge_pages.h). InvalidArgument for another
  // type, a bad shape or `in` not a multiple of 32; ResourceExhausted when the buffer cannot be
  // allocated. The pool, if any, packs panels in parallel.
  static absl::StatusOr<PackedMatrix> Pack(GgmlType type, const void* W, int64_t in, int64_t out,
                                           ThreadPool* pool = nullptr);
  // The same into `storage`: BytesFor(type, in, out) bytes, 64-byte aligned, zeroed, owned by
  // the caller and outliving the result (an arena holding many matrices, so that small ones
  // share huge pages).
  static absl::StatusOr<PackedMatrix> PackInto(GgmlType type, const void* W, int64_t in,
                                               int64_t out, uint8_t* storage,
                                               ThreadPool* pool = nullptr);

  GgmlType type() const { return type_; }
  int64_t in() const { return in_; }
  int64_t out() const { return out_; }
  int64_t panels() const { return (out_ + 7) / 8; }
  bool empty() const { return data_ == nullptr; }  // default-constructed or moved from
  uint64_t bytes() const { return uint64_t(panel_bytes_) * uint64_t(panels()); }
  const uint8_t* Panel(int64_t p) const { return data_ + p * panel_bytes_; }

  PackedMatrix() = default;
  PackedMatrix(PackedMatrix&& other) noexcept { *this = std::move(other); }
  PackedMatrix& operator=(PackedMatrix&& other) noexcept;

 private:
  GgmlType type_ = GgmlType::kQ8_0;
  int64_t in_ = 0, out_ = 0;
  int64_t panel_bytes_ = 0;
  const uint8_t* data_ = nullptr;  // panels() * panel_bytes_ bytes, 64-byte aligned
  HugePageBuffer owned_;           // data_'s buffer when Pack made it; empty after PackInto
};

// Y = X W^T for the packed W (shapes and Y as MatMul's). options.activations is ignored (the
// packed quantized layouts are the integer path's, BF16 the exact path's); options.isa picks
// the kernels as for MatMul. One exception to the exact path's order: BF16 under
// Isa::kAvx512Bf16 (kAuto's choice where the CPU has it) with every X bf16-exact takes the pair
// products (matmul_internal.h, KernelTable::dot_bf16_pairs): the same products, another
// summation order, for any number of tokens.
absl::Status MatMulPacked(const PackedMatrix& W, const float* X, int64_t tokens, float* Y,
                          const MatMulOptions& options = {});

}  // namespace g4::cpu

#endif  // GEMMA4C_KERNELS_CPU_PACKED_MATMUL_H_

// Q8_0 and Q4_0 matrices repacked once, at load, into 8-row panels for the integer path, and the
// product against them (docs/kernels-cpu.md, "Packed panels").
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
// accumulation chunk). A chunk of nb blocks is nb weight blocks of kPackedBlockBytes(type) bytes,
// then nb x 8 f16 scales ([block][row]), the GGUF scales verbatim.
//   Q8_0 (256 bytes/block): group g (elements 4g..4g+3) of rows 0..7 at bytes 32g + 4r + k, as
//        w + 128 (unsigned, for vpdpbusd).
//   Q4_0 (128 bytes/block): vector j = bytes 32j.. of rows 0..7 at 32j + 4r + k: row r's GGUF
//        nibble bytes qs[4j + k] verbatim; low nibbles are group j, high nibbles group j + 4.
// Bytes: the same as the GGUF rows (Q8_0 34, Q4_0 18 bytes per 32 weights), panels padded to 8
// rows and 64 bytes.
//
// Numerics (the same on every ISA, bit for bit; the thread count, the tile and the token count
// do not change a result): activations are quantized to int8 per 32-block as MatMul's kQ8 path
// (matmul.h). For row r, token t, chunk c: s = 0 (fp32); for each block b of c in order:
// s = fma(float(i_b), fp32(dw_b) * d_t,b, s) with i_b the exact integer dot of the block; the
// chunk sums are added in float64, and Y = float(sum). Against MatMul's unpacked kQ8 path (8 fp32
// lanes per pair) only the fp32 rounding of the scaled block sums differs (same bound).
#ifndef GEMMA4C_KERNELS_CPU_PACKED_MATMUL_H_
#define GEMMA4C_KERNELS_CPU_PACKED_MATMUL_H_

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "gguf/ggml_types.h"

namespace g4::cpu {

class PackedMatrix {
 public:
  // Whether `type` has a packed layout (Q8_0, Q4_0).
  static bool Supports(GgmlType type);
  // Repacks `out` rows of `in` elements in GGUF layout at W (as MatMul's W). InvalidArgument for
  // another type, a bad shape or `in` not a multiple of 32; ResourceExhausted when the buffer
  // cannot be allocated. The pool, if any, packs panels in parallel.
  static absl::StatusOr<PackedMatrix> Pack(GgmlType type, const void* W, int64_t in, int64_t out,
                                           ThreadPool* pool = nullptr);

  GgmlType type() const { return type_; }
  int64_t in() const { return in_; }
  int64_t out() const { return out_; }
  int64_t panels() const { return (out_ + 7) / 8; }
  bool empty() const { return data_ == nullptr; }  // default-constructed or moved from
  uint64_t bytes() const { return uint64_t(panel_bytes_) * uint64_t(panels()); }
  const uint8_t* Panel(int64_t p) const { return data_.get() + p * panel_bytes_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  GgmlType type_ = GgmlType::kQ8_0;
  int64_t in_ = 0, out_ = 0;
  int64_t panel_bytes_ = 0;
  std::unique_ptr<uint8_t[], Free> data_;  // panels() * panel_bytes_ bytes, 64-byte aligned
};

// Y = X W^T for the packed W (shapes and Y as MatMul's). options.activations is ignored (the
// packed layout is the integer path's); options.isa picks the kernels as for MatMul.
absl::Status MatMulPacked(const PackedMatrix& W, const float* X, int64_t tokens, float* Y,
                          const MatMulOptions& options = {});

}  // namespace g4::cpu

#endif  // GEMMA4C_KERNELS_CPU_PACKED_MATMUL_H_

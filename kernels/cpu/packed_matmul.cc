// PackedMatrix: the GGUF rows of a Q8_0 / Q4_0 matrix rewritten into the packed panel layout
// (packed_matmul.h). The product against it is MatMulPacked, in matmul.cc beside MatMul (they
// share the activation quantizer, the ISA choice and the thread split).
#include "cpu/packed_matmul.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "cpu/matmul_internal.h"

namespace g4::cpu {
namespace {

using internal::kPackedRows;
using internal::PackedBlockBytes;
using internal::PackedChunkBytes;

constexpr int64_t kBlockElems = 32;
constexpr int64_t kChunkBlocks = internal::kChunk / kBlockElems;

// One GGUF block (34 or 18 bytes: f16 scale, then the quants) of row r into packed block `dst`
// and its scale slot.
void PackBlock(GgmlType type, const uint8_t* src, int r, uint8_t* dst, uint8_t* scale) {
  std::memcpy(scale + 2 * r, src, 2);
  const uint8_t* qs = src + 2;
  if (type == GgmlType::kQ8_0) {
    for (int g = 0; g < 8; ++g)
      for (int k = 0; k < 4; ++k) dst[32 * g + 4 * r + k] = qs[4 * g + k] ^ 0x80;
  } else {  // Q4_0: the nibble bytes move as 4-byte words; low nibbles group j, high j + 4
    for (int j = 0; j < 4; ++j) std::memcpy(dst + 32 * j + 4 * r, qs + 4 * j, 4);
  }
}

// Rows 8p .. 8p+7 (those at or past `out` stay zero: zero scales) into `panel`.
void PackPanel(GgmlType type, const uint8_t* W, int64_t in, int64_t out, int64_t p,
               uint8_t* panel) {
  const gguf::TypeTraits& traits = gguf::Traits(type);
  const int64_t row_bytes = in / kBlockElems * traits.block_bytes;
  const int64_t nb = in / kBlockElems;
  const int rows = static_cast<int>(std::min<int64_t>(kPackedRows, out - p * kPackedRows));
  uint8_t* chunk = panel;
  for (int64_t b0 = 0; b0 < nb; b0 += kChunkBlocks) {
    const int64_t nbc = std::min(kChunkBlocks, nb - b0);
    uint8_t* scales = chunk + nbc * PackedBlockBytes(type);
    for (int64_t b = 0; b < nbc; ++b) {
      for (int r = 0; r < rows; ++r) {
        const uint8_t* src = W + (p * kPackedRows + r) * row_bytes + (b0 + b) * traits.block_bytes;
        PackBlock(type, src, r, chunk + b * PackedBlockBytes(type), scales + 16 * b);
      }
    }
    chunk += PackedChunkBytes(type, nbc);
  }
}

}  // namespace

bool PackedMatrix::Supports(GgmlType type) {
  return type == GgmlType::kQ8_0 || type == GgmlType::kQ4_0;
}

absl::StatusOr<PackedMatrix> PackedMatrix::Pack(GgmlType type, const void* W, int64_t in,
                                                int64_t out, ThreadPool* pool) {
  if (!Supports(type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PackedMatrix: no packed layout for ", gguf::Traits(type).name));
  }
  if (in <= 0 || out <= 0 || in % kBlockElems != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PackedMatrix: bad shape in=", in, " out=", out, " (in must be a positive multiple of 32)"));
  }
  if (W == nullptr) return absl::InvalidArgumentError("PackedMatrix: null weights");
  PackedMatrix m;
  m.type_ = type;
  m.in_ = in;
  m.out_ = out;
  // Every chunk's bytes are nb * (block + scales) in total; rounded so each panel starts on a
  // cache line.
  m.panel_bytes_ = (PackedChunkBytes(type, in / kBlockElems) + 63) / 64 * 64;
  const uint64_t bytes = m.bytes();
  m.data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, bytes)));
  if (m.data_ == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("PackedMatrix: cannot allocate ", bytes, " bytes for ", out, " x ", in));
  }
  std::memset(m.data_.get(), 0, bytes);
  const uint8_t* src = static_cast<const uint8_t*>(W);
  auto pack = [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      PackPanel(type, src, in, out, p, m.data_.get() + p * m.panel_bytes_);
    }
  };
  if (pool != nullptr) {
    pool->ParallelFor(m.panels(), pack);
  } else {
    pack(0, m.panels());
  }
  return m;
}

}  // namespace g4::cpu

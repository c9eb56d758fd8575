// PackedMatrix: the GGUF rows of a Q8_0 / Q4_0 / Q4_K / Q6_K / BF16 matrix rewritten into its
// packed layout (packed_matmul.h). The product against it is MatMulPacked, in matmul.cc beside
// MatMul (they share the activation quantizer, the ISA choice and the thread split).
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

// A packed BF16 tile's bytes: kRowTile rows of 2 * in.
int64_t Bf16TileBytes(int64_t in) { return 2 * internal::kRowTile * in; }

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

// One Q4_K superblock (144 bytes: f16 d, f16 dmin, 12 scale bytes, 128 nibble bytes) of row r
// into the packed chunk (packed_matmul.h, "Q4_K").
void PackQ4KSuperblock(const uint8_t* src, int r, uint8_t* chunk) {
  const uint8_t* qs = src + 16;
  for (int j = 0; j < 4; ++j) {
    for (int k = 0; k < 8; ++k) {
      std::memcpy(chunk + internal::kPackedQ4KNibbles + 256 * j + 32 * k + 4 * r,
                  qs + 32 * j + 4 * k, 4);
    }
  }
  uint8_t* tail = chunk;
  std::memcpy(tail + 2 * r, src, 2);           // d
  std::memcpy(tail + 16 + 2 * r, src + 2, 2);  // dmin
  for (int g = 0; g < 8; ++g) {
    gguf::GetScaleMinK4(g, src + 4, tail + 32 + kPackedRows * g + r, tail + 96 + kPackedRows * g + r);
  }
}

// One Q6_K superblock (210 bytes: ql[128], qh[64], int8 scales[16], f16 d) of row r into the
// packed chunk (packed_matmul.h, "Q6_K"): the 4-byte words of ql and qh move whole.
void PackQ6KSuperblock(const uint8_t* src, int r, uint8_t* chunk) {
  std::memcpy(chunk + 2 * r, src + 208, 2);  // d
  for (int g = 0; g < 16; ++g) chunk[16 + kPackedRows * g + r] = src[192 + g];
  for (int h = 0; h < 2; ++h) {
    uint8_t* half = chunk + internal::PackedQ6KHalf(h);
    for (int k = 0; k < 8; ++k) {
      for (int hi = 0; hi < 2; ++hi) {
        std::memcpy(half + internal::PackedQ6KQl(hi, k) + 4 * r, src + 64 * h + 32 * hi + 4 * k, 4);
      }
      std::memcpy(half + internal::PackedQ6KQh(k) + 4 * r, src + 128 + 32 * h + 4 * k, 4);
    }
  }
}

// Row r (< kRowTile) of a BF16 tile: its `in` elements (a multiple of 8) from `src` into the
// tile at `tile` as 8-element runs (internal::Bf16TileOffset).
void PackBf16TileRow(const uint8_t* src, int64_t in, int r, uint8_t* tile) {
  for (int64_t e = 0; e < in; e += 8) {
    std::memcpy(tile + 2 * internal::Bf16TileOffset(r, e), src + 2 * e, 16);
  }
}

// Rows 8p .. 8p+7 (those at or past `out` stay zero: zero scales) into `panel`.
void PackPanel(GgmlType type, const uint8_t* W, int64_t in, int64_t out, int64_t p,
               uint8_t* panel) {
  const gguf::TypeTraits& traits = gguf::Traits(type);
  const int64_t row_bytes = in / traits.block_elems * traits.block_bytes;
  const int64_t nb = in / kBlockElems;
  const int rows = static_cast<int>(std::min<int64_t>(kPackedRows, out - p * kPackedRows));
  if (type == GgmlType::kBF16) {  // two tiles of kRowTile rows
    for (int r = 0; r < rows; ++r) {
      PackBf16TileRow(W + (p * kPackedRows + r) * row_bytes, in, r % internal::kRowTile,
                      panel + r / internal::kRowTile * Bf16TileBytes(in));
    }
    return;
  }
  uint8_t* chunk = panel;
  for (int64_t b0 = 0; b0 < nb; b0 += kChunkBlocks) {
    const int64_t nbc = std::min(kChunkBlocks, nb - b0);
    for (int r = 0; r < rows; ++r) {
      const uint8_t* row = W + (p * kPackedRows + r) * row_bytes;
      if (type == GgmlType::kQ4_K || type == GgmlType::kQ6_K) {  // nbc = 8: in is a multiple of 256
        const uint8_t* superblock = row + b0 / kChunkBlocks * traits.block_bytes;
        (type == GgmlType::kQ4_K ? PackQ4KSuperblock : PackQ6KSuperblock)(superblock, r, chunk);
        continue;
      }
      uint8_t* blocks = chunk + internal::PackedBlocksOffset(nbc);
      for (int64_t b = 0; b < nbc; ++b) {
        PackBlock(type, row + (b0 + b) * traits.block_bytes, r, blocks + b * PackedBlockBytes(type),
                  chunk + 16 * b);
      }
    }
    chunk += PackedChunkBytes(type, nbc);
  }
}

absl::Status CheckShape(GgmlType type, int64_t in, int64_t out) {
  if (!PackedMatrix::Supports(type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PackedMatrix: no packed layout for ", gguf::Traits(type).name));
  }
  // BF16: whole 8-element runs (Bf16TileOffset).
  const int64_t multiple = type == GgmlType::kBF16 ? 8 : gguf::Traits(type).block_elems;
  if (in <= 0 || out <= 0 || in % multiple != 0) {
    return absl::InvalidArgumentError(absl::StrCat("PackedMatrix: bad shape in=", in, " out=", out,
                                                   " (in must be a positive multiple of ",
                                                   multiple, ")"));
  }
  return absl::OkStatus();
}

// Every chunk's bytes are nb * (block + scales) in total; rounded so each panel starts on a
// cache line. BF16: two tiles (a multiple of 128 bytes: in is a multiple of 8).
int64_t PanelBytes(GgmlType type, int64_t in) {
  if (type == GgmlType::kBF16) return kPackedRows / internal::kRowTile * Bf16TileBytes(in);
  return (PackedChunkBytes(type, in / kBlockElems) + 63) / 64 * 64;
}

}  // namespace

bool PackedMatrix::Supports(GgmlType type) {
  return type == GgmlType::kQ8_0 || type == GgmlType::kQ4_0 || type == GgmlType::kQ4_K ||
         type == GgmlType::kQ6_K || type == GgmlType::kBF16;
}

absl::StatusOr<uint64_t> PackedMatrix::BytesFor(GgmlType type, int64_t in, int64_t out) {
  if (absl::Status st = CheckShape(type, in, out); !st.ok()) return st;
  return uint64_t(PanelBytes(type, in)) * uint64_t((out + kPackedRows - 1) / kPackedRows);
}

absl::StatusOr<PackedMatrix> PackedMatrix::Pack(GgmlType type, const void* W, int64_t in,
                                                int64_t out, ThreadPool* pool) {
  absl::StatusOr<uint64_t> bytes = BytesFor(type, in, out);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<HugePageBuffer> buffer =
      HugePageBuffer::Allocate(*bytes, "PackedMatrix");  // zeroed: the padding rows
  if (!buffer.ok()) return buffer.status();
  absl::StatusOr<PackedMatrix> m = PackInto(type, W, in, out, buffer->data(), pool);
  if (m.ok()) m->owned_ = *std::move(buffer);
  return m;
}

absl::StatusOr<PackedMatrix> PackedMatrix::PackInto(GgmlType type, const void* W, int64_t in,
                                                    int64_t out, uint8_t* storage,
                                                    ThreadPool* pool) {
  if (absl::Status st = CheckShape(type, in, out); !st.ok()) return st;
  if (W == nullptr || storage == nullptr) {
    return absl::InvalidArgumentError("PackedMatrix: null weights or storage");
  }
  PackedMatrix m;
  m.type_ = type;
  m.in_ = in;
  m.out_ = out;
  m.panel_bytes_ = PanelBytes(type, in);
  m.data_ = storage;
  const uint8_t* src = static_cast<const uint8_t*>(W);
  auto pack = [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      PackPanel(type, src, in, out, p, storage + p * m.panel_bytes_);
    }
  };
  if (pool != nullptr) {
    pool->ParallelFor(m.panels(), pack);
  } else {
    pack(0, m.panels());
  }
  return m;
}

PackedMatrix& PackedMatrix::operator=(PackedMatrix&& other) noexcept {
  type_ = other.type_;
  in_ = std::exchange(other.in_, 0);
  out_ = std::exchange(other.out_, 0);
  panel_bytes_ = std::exchange(other.panel_bytes_, 0);
  data_ = std::exchange(other.data_, nullptr);
  owned_ = std::move(other.owned_);
  return *this;
}

}  // namespace g4::cpu

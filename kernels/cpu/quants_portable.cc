// Portable unpacking of the nine added GGUF types into the Block32 form (quants_internal.h),
// and the portable integer-path kernel built on it. The exact path of these types needs no
// code here: the portable decode is gguf::Dequantize itself.
#include <cstring>

#include "cpu/portable_common.h"
#include "cpu/quants_internal.h"

namespace g4::cpu::internal {
namespace {

void SetUniform(Block32* out, float scale, float offset) {
  out->scale[0] = out->scale[1] = scale;
  out->offset[0] = out->offset[1] = offset;
}

// Nibble j of a 16-byte block body: elements 0..15 low nibbles, 16..31 high nibbles.
int Nibble(const uint8_t* qs, int j) { return j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4; }

int Q5High(const uint8_t* qh, int j) { return ((qh[j / 8] >> (j % 8)) & 1) << 4; }

int Q3KScale(const uint8_t* s, int g) {
  const int lo = g < 8 ? (s[g] & 0x0F) : (s[g - 8] >> 4);
  const int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

}  // namespace

bool IsUnpackedQuantType(GgmlType type) {
  switch (type) {
    case GgmlType::kQ4_1: case GgmlType::kQ5_0: case GgmlType::kQ5_1: case GgmlType::kQ2_K:
    case GgmlType::kQ3_K: case GgmlType::kQ5_K: case GgmlType::kIQ4_NL: case GgmlType::kIQ4_XS:
    case GgmlType::kMXFP4:
      return true;
    default:
      return false;
  }
}

bool HasSplitHalves(GgmlType type) { return type == GgmlType::kQ2_K || type == GgmlType::kQ3_K; }

bool HasOffsets(GgmlType type) {
  return type == GgmlType::kQ4_1 || type == GgmlType::kQ5_1 || type == GgmlType::kQ2_K ||
         type == GgmlType::kQ5_K;
}

void UnpackBlock32(GgmlType type, const uint8_t* row, int64_t b, Block32* out) {
  const gguf::TypeTraits& t = gguf::Traits(type);
  const int64_t per_block = t.block_elems / 32;  // 32-blocks per ggml block (1 or 8)
  const uint8_t* blk = row + (b / per_block) * t.block_bytes;
  const int sub = static_cast<int>(b % per_block);  // 32-block within a 256 super-block
  switch (type) {
    case GgmlType::kQ4_1:
      for (int j = 0; j < 32; ++j) out->q[j] = static_cast<int8_t>(Nibble(blk + 4, j));
      SetUniform(out, LoadHalf(blk), LoadHalf(blk + 2));
      return;
    case GgmlType::kQ5_0:
      for (int j = 0; j < 32; ++j)
        out->q[j] = static_cast<int8_t>((Nibble(blk + 6, j) | Q5High(blk + 2, j)) - 16);
      SetUniform(out, LoadHalf(blk), 0.0f);
      return;
    case GgmlType::kQ5_1:
      for (int j = 0; j < 32; ++j)
        out->q[j] = static_cast<int8_t>(Nibble(blk + 8, j) | Q5High(blk + 4, j));
      SetUniform(out, LoadHalf(blk), LoadHalf(blk + 2));
      return;
    case GgmlType::kIQ4_NL:
      for (int j = 0; j < 32; ++j) out->q[j] = gguf::kIq4nlValues[Nibble(blk + 2, j)];
      SetUniform(out, LoadHalf(blk), 0.0f);
      return;
    case GgmlType::kMXFP4:
      for (int j = 0; j < 32; ++j) out->q[j] = gguf::kMxfp4Values[Nibble(blk + 1, j)];
      SetUniform(out, gguf::E8m0ToFloatHalf(blk[0]), 0.0f);
      return;
    case GgmlType::kQ2_K: {
      const int h = sub / 4, j = sub % 4;
      const float d = LoadHalf(blk + 80), dmin = LoadHalf(blk + 82);
      for (int l = 0; l < 32; ++l) out->q[l] = static_cast<int8_t>((blk[16 + 32 * h + l] >> (2 * j)) & 3);
      for (int half = 0; half < 2; ++half) {
        const uint8_t sc = blk[8 * h + 2 * j + half];
        out->scale[half] = d * (sc & 0x0F);
        out->offset[half] = -(dmin * (sc >> 4));
      }
      return;
    }
    case GgmlType::kQ3_K: {
      const int h = sub / 4, j = sub % 4;
      const float d = LoadHalf(blk + 108);
      for (int l = 0; l < 32; ++l) {
        const int lo = (blk[32 + 32 * h + l] >> (2 * j)) & 3;
        out->q[l] = static_cast<int8_t>(lo - ((blk[l] >> (4 * h + j)) & 1 ? 0 : 4));
      }
      for (int half = 0; half < 2; ++half) {
        out->scale[half] = d * Q3KScale(blk + 96, 8 * h + 2 * j + half);
        out->offset[half] = 0.0f;
      }
      return;
    }
    case GgmlType::kQ5_K: {
      uint8_t sc, m;
      gguf::GetScaleMinK4(sub, blk + 4, &sc, &m);
      const uint8_t* ql = blk + 48 + 32 * (sub / 2);
      for (int l = 0; l < 32; ++l) {
        const int lo = sub % 2 ? ql[l] >> 4 : ql[l] & 0x0F;
        out->q[l] = static_cast<int8_t>(lo | (((blk[16 + l] >> sub) & 1) << 4));
      }
      SetUniform(out, LoadHalf(blk) * sc, -(LoadHalf(blk + 2) * m));
      return;
    }
    case GgmlType::kIQ4_XS: {
      const uint16_t scales_h = static_cast<uint16_t>(blk[2] | (blk[3] << 8));
      const int ls = ((blk[4 + sub / 2] >> (4 * (sub % 2))) & 0x0F) | (((scales_h >> (2 * sub)) & 3) << 4);
      for (int j = 0; j < 32; ++j) out->q[j] = gguf::kIq4nlValues[Nibble(blk + 8 + 16 * sub, j)];
      SetUniform(out, LoadHalf(blk) * (ls - 32), 0.0f);
      return;
    }
    default:
      std::memset(out, 0, sizeof(*out));  // not one of ours: unreachable by contract
      return;
  }
}

// Per 32-block b: (s * dx) * sum(q * xq) [+ o * x.sum[b]] into fp32 lane b % 8; for split
// halves the same per half, with dx * sum(xq) of the half for the offset.
void DotQ8UnpackedPortable(GgmlType type, const uint8_t* const* w, int R, const Q8Act* x, int T,
                           int64_t n, double* acc, int64_t acc_stride) {
  const bool split = HasSplitHalves(type), offsets = HasOffsets(type);
  const int64_t nblocks = n / 32;
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float lanes[kLanes] = {};
      for (int64_t b = 0; b < nblocks; ++b) {
        Block32 blk;
        UnpackBlock32(type, w[r], b, &blk);
        const int8_t* xq = x[t].q + 32 * b;
        const float dx = x[t].d[b];
        int32_t dot[2] = {0, 0}, xsum[2] = {0, 0};
        for (int j = 0; j < 32; ++j) {
          dot[j / 16] += int32_t(blk.q[j]) * xq[j];
          xsum[j / 16] += xq[j];
        }
        float& lane = lanes[b % kLanes];
        if (split) {
          for (int h = 0; h < 2; ++h) {
            lane += (blk.scale[h] * dx) * static_cast<float>(dot[h]);
            if (offsets) lane += (blk.offset[h] * dx) * static_cast<float>(xsum[h]);
          }
        } else {
          lane += (blk.scale[0] * dx) * static_cast<float>(dot[0] + dot[1]);
          if (offsets) lane += blk.offset[0] * x[t].sum[b];
        }
      }
      acc[r * acc_stride + t] += SumLanes(lanes);
    }
  }
}

}  // namespace g4::cpu::internal

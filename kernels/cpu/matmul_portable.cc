// Portable (plain C++) chunk kernels: the fallback for CPUs without AVX2 and the second opinion
// the tests hold the AVX2 kernels to. They follow the same accumulation structure as the AVX2
// ones (8 fp32 lanes per pair within a chunk, float64 across chunks) but not the same rounding
// (no FMA), so the two agree to within the documented bound rather than bitwise.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/matmul_internal.h"
#include "cpu/portable_common.h"
#include "cpu/quants_internal.h"

namespace g4::cpu::internal {
namespace {

void Decode(GgmlType type, const uint8_t* src, int64_t n, float* dst) {
  gguf::Dequantize(type, src, dst, n);  // the reference is portable and exact by definition
}

void DotF32(const float* const* w, int R, const float* const* x, int T, int64_t n, double* acc,
            int64_t acc_stride) {
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float lanes[kLanes] = {};
      for (int64_t i = 0; i < n; ++i) lanes[i % kLanes] += w[r][i] * x[t][i];
      acc[r * acc_stride + t] += SumLanes(lanes);
    }
  }
}

// ---- Integer path. Each weight block's integer dot product is exact; the per-block scaled
// sums go into fp32 lane b % 8 (the AVX2 kernels spread every block over all 8 lanes instead;
// either way a lane adds at most 8 scaled terms per chunk).

int32_t DotI8(const int8_t* a, const int8_t* b, int n) {
  int32_t s = 0;
  for (int j = 0; j < n; ++j) s += int32_t(a[j]) * b[j];
  return s;
}

// Q8_0 and Q4_0 weights as 32 int8 values and their scale.
void UnpackBlock32(GgmlType type, const uint8_t* block, int8_t* q, float* d) {
  *d = LoadHalf(block);
  if (type == GgmlType::kQ8_0) {
    std::memcpy(q, block + 2, 32);
  } else {  // Q4_0: low nibbles are elements 0..15, high nibbles 16..31, offset 8
    for (int j = 0; j < 16; ++j) {
      q[j] = static_cast<int8_t>((block[2 + j] & 0x0F) - 8);
      q[j + 16] = static_cast<int8_t>((block[2 + j] >> 4) - 8);
    }
  }
}

double DotQ32Row(GgmlType type, const uint8_t* w, const Q8Act& x, int64_t nblocks) {
  const int64_t block_bytes = type == GgmlType::kQ8_0 ? 34 : 18;
  float lanes[kLanes] = {};
  for (int64_t b = 0; b < nblocks; ++b) {
    int8_t q[32];
    float d;
    UnpackBlock32(type, w + b * block_bytes, q, &d);
    lanes[b % kLanes] += (d * x.d[b]) * static_cast<float>(DotI8(q, x.q + 32 * b, 32));
  }
  return SumLanes(lanes);
}

// One 256-block: sum_g d*sc_g*dx_g*sum(q*xq) - dmin*m_g*xsum_g, group g into lane g.
double DotQ4KBlock(const uint8_t* w, const Q8Act& x) {
  const float d = LoadHalf(w), dmin = LoadHalf(w + 2);
  const uint8_t* scales = w + 4;
  const uint8_t* qs = w + 16;
  float lanes[kLanes] = {};
  for (int g = 0; g < 8; ++g) {
    uint8_t sc, m;
    gguf::GetScaleMinK4(g, scales, &sc, &m);
    const uint8_t* q = qs + 32 * (g / 2);
    const int shift = 4 * (g % 2);
    int32_t s = 0;
    for (int l = 0; l < 32; ++l) s += ((q[l] >> shift) & 0x0F) * int32_t(x.q[32 * g + l]);
    lanes[g] += (d * sc * x.d[g]) * static_cast<float>(s);
    lanes[g] -= (dmin * m) * x.sum[g];
  }
  return SumLanes(lanes);
}

// One 256-block: activation block k (32 elements) spans the 16-groups 2k and 2k+1.
double DotQ6KBlock(const uint8_t* w, const Q8Act& x) {
  const uint8_t* ql = w;
  const uint8_t* qh = w + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(w + 192);
  const float d = LoadHalf(w + 208);
  float lanes[kLanes] = {};
  for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8) {
    for (int k = 0; k < 4; ++k) {
      const int block = 4 * half + k;
      int32_t s[2] = {0, 0};
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo_byte = ql[l + 32 * (k & 1)];
        const int lo = k < 2 ? (lo_byte & 0x0F) : (lo_byte >> 4);
        const int hi = (qh[l] >> (2 * k)) & 3;
        s[l / 16] += ((lo | (hi << 4)) - 32) * int32_t(x.q[32 * block + l]);
      }
      const int32_t isum = sc[2 * k] * s[0] + sc[2 * k + 1] * s[1];
      lanes[block] += (d * x.d[block]) * static_cast<float>(isum);
    }
  }
  return SumLanes(lanes);
}

// One 32-block: d = amax / 127 kept in fp32 (ggml rounds it to f16; we need not), q = x / d
// rounded to nearest even and clamped to +-127, so |x - d q| <= d / 2 (+ fp32 rounding of x / d).
// `sum` = d * sum(q), the block sum of the QUANTIZED x, for Q4_K's mins: with it the weight's
// offset -dmin*m meets the same xhat = d q as its scale part, so the error is sum w (xhat - x)
// as for the other types. (The exact sum of x looks more accurate but leaves the large positive
// d*sc*q part alone with xhat - x: 8x the NMSE on Gaussian data.)
void QuantizeBlockQ8(const float* x, int8_t* q, float* d, float* sum) {
  float amax = 0;
  for (int j = 0; j < kQ8Block; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float scale = amax / 127.0f;
  const float inv = scale != 0 ? 1.0f / scale : 0.0f;
  int32_t qsum = 0;
  for (int j = 0; j < kQ8Block; ++j) {
    const float v = std::nearbyint(std::clamp(x[j] * inv, -127.0f, 127.0f));
    q[j] = static_cast<int8_t>(v == v ? v : 0.0f);  // NaN input: 0 (the block is NaN anyway)
    qsum += q[j];
  }
  *d = scale;
  *sum = scale * static_cast<float>(qsum);
}

void QuantizeQ8(const float* x, int64_t blocks, int8_t* q, float* d, float* sum) {
  for (int64_t b = 0; b < blocks; ++b) {
    QuantizeBlockQ8(x + b * kQ8Block, q + b * kQ8Block, d + b, sum + b);
  }
}

// One chunk (<= kChunk elements, whole blocks): every (row, token) pair of the tile.
void DotQ8Chunk(GgmlType type, const uint8_t* const* w, int R, const Q8Act* x, int T, int64_t n,
                double* acc, int64_t acc_stride) {
  if (IsUnpackedQuantType(type)) {  // the added types: quants_portable.cc
    DotQ8UnpackedPortable(type, w, R, x, T, n, acc, acc_stride);
    return;
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      double s;
      switch (type) {
        case GgmlType::kQ4_K: s = DotQ4KBlock(w[r], x[t]); break;   // n == 256
        case GgmlType::kQ6_K: s = DotQ6KBlock(w[r], x[t]); break;   // n == 256
        default: s = DotQ32Row(type, w[r], x[t], n / 32); break;
      }
      acc[r * acc_stride + t] += s;
    }
  }
}

// Any number of elements: chunk by chunk into float64, as the contract requires.
void DotQ8(GgmlType type, const uint8_t* const* w, int R, const Q8Act* x, int T, int64_t n,
           double* acc, int64_t acc_stride, int64_t prefetch) {
  DotQ8ByChunks(DotQ8Chunk, type, w, R, x, T, n, acc, acc_stride, prefetch);
}

// ---- Packed panels (packed_matmul.h): the layout read byte by byte, the numerics spelled out.

// Row r's weight j (0..31) of a packed block, as the signed value it stands for.
int32_t PackedWeight(GgmlType type, const uint8_t* block, int r, int j) {
  const int g = j / 4, k = j % 4;
  if (type == GgmlType::kQ8_0) return int32_t(block[32 * g + 4 * r + k]) - 128;
  const uint8_t byte = block[32 * (g % 4) + 4 * r + k];
  return int32_t(g < 4 ? byte & 0x0F : byte >> 4) - 8;
}

// Row r's nibble e (0..255) of a packed Q4_K superblock: element e is in the 64 at j = e / 64,
// whose 4-byte vector k holds elements 4k..4k+3 of group 2j (low nibbles) and of 2j+1 (high).
int32_t PackedQ4KWeight(const uint8_t* chunk, int r, int e) {
  const int j = e / 64, i = e % 32, high = (e % 64) / 32;
  const uint8_t byte = chunk[kPackedQ4KNibbles + 256 * j + 32 * (i / 4) + 4 * r + i % 4];
  return high ? byte >> 4 : byte & 0x0F;
}

void DotPackedQ4K(const uint8_t* chunk, const Q8Act* x, int T, double* acc) {
  const uint8_t* tail = chunk;
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < kPackedRows; ++r) {
      const float d = LoadHalf(tail + 2 * r), dmin = LoadHalf(tail + 16 + 2 * r);
      float s = 0.0f;
      for (int g = 0; g < 8; ++g) {
        int32_t dot = 0;
        for (int e = 32 * g; e < 32 * g + 32; ++e) dot += PackedQ4KWeight(chunk, r, e) * x[t].q[e];
        const float dsc = d * static_cast<float>(tail[32 + kPackedRows * g + r]);
        const float dm = dmin * static_cast<float>(tail[96 + kPackedRows * g + r]);
        s = std::fma(static_cast<float>(dot), dsc * x[t].d[g], s);
        s = std::fma(-dm, x[t].sum[g], s);
      }
      acc[t * kPackedRows + r] += s;
    }
  }
}

// Row r's 6-bit value e (0..255, unsigned 0..63) of a packed Q6_K superblock: in half h,
// elements l, l + 32, l + 64, l + 96 (l < 32) take ql word (l/4) or (8 + l/4)'s low or high
// nibble and bits 0-1, 2-3, 4-5, 6-7 of qh word (l/4) (matmul_internal.h, "Q6_K").
int32_t PackedQ6KWeight(const uint8_t* chunk, int r, int e) {
  const int h = e / 128, j = (e % 128) / 32, l = e % 32;
  const uint8_t* half = chunk + PackedQ6KHalf(h);
  const uint8_t ql = half[PackedQ6KQl(j % 2, l / 4) + 4 * r + l % 4];
  const uint8_t qh = half[PackedQ6KQh(l / 4) + 4 * r + l % 4];
  return int32_t((j < 2 ? ql & 0x0F : ql >> 4) | (((qh >> (2 * j)) & 3) << 4));
}

void DotPackedQ6K(const uint8_t* chunk, const Q8Act* x, int T, double* acc) {
  const uint8_t* tail = chunk;
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < kPackedRows; ++r) {
      const float d = LoadHalf(tail + 2 * r);
      float s = 0.0f;
      for (int b = 0; b < 8; ++b) {
        int32_t dot = 0;
        for (int g = 2 * b; g < 2 * b + 2; ++g) {
          int32_t dot16 = 0;
          for (int e = 16 * g; e < 16 * g + 16; ++e) dot16 += (PackedQ6KWeight(chunk, r, e) - 32) * x[t].q[e];
          dot += int32_t(static_cast<int8_t>(tail[16 + kPackedRows * g + r])) * dot16;
        }
        s = std::fma(static_cast<float>(dot), d * x[t].d[b], s);
      }
      acc[t * kPackedRows + r] += s;
    }
  }
}

void DotPacked(GgmlType type, const uint8_t* chunk, int nblocks, const Q8Act* x, int T,
               double* acc) {
  if (type == GgmlType::kQ4_K) return DotPackedQ4K(chunk, x, T, acc);
  if (type == GgmlType::kQ6_K) return DotPackedQ6K(chunk, x, T, acc);
  const int64_t block_bytes = PackedBlockBytes(type);
  const uint8_t* scales = chunk;
  const uint8_t* blocks = chunk + PackedBlocksOffset(nblocks);
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < kPackedRows; ++r) {
      float s = 0.0f;
      for (int b = 0; b < nblocks; ++b) {
        const uint8_t* block = blocks + b * block_bytes;
        int32_t dot = 0;
        for (int j = 0; j < 32; ++j) dot += PackedWeight(type, block, r, j) * x[t].q[32 * b + j];
        const float scale = LoadHalf(scales + 2 * (kPackedRows * b + r)) * x[t].d[b];
        s = std::fma(static_cast<float>(dot), scale, s);
      }
      acc[t * kPackedRows + r] += s;
    }
  }
}

}  // namespace

const KernelTable& PortableKernels() {
  static const KernelTable table{QuantizeQ8, Decode, DotF32, DotQ8, nullptr, nullptr, nullptr, DotPacked};
  return table;
}

}  // namespace g4::cpu::internal

// AVX2 + FMA + F16C chunk kernels (contracts in matmul_internal.h).
//
// Every function here carries the target attribute instead of the file being compiled with
// -mavx2: the library must still load and run on plain x86-64, and a per-file -mavx2 would let
// AVX2 copies of inline/template functions shared with other files (std::, absl::) win at link
// time. Nothing here is reachable unless CpuHasAvx2().
#include "cpu/matmul_internal.h"
#include "cpu/quants_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "cpu/avx2_common.h"


namespace g4::cpu::internal {
namespace {

// ---- Small helpers (more in avx2_common.h) ----------------------------------------------------

// Lanes [0, count) set, for the masked loads of a float tail (count in 1..7).
G4_AVX2 inline __m256i TailMask(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// 8 bytes at p (u8 or i8 per `is_signed`) widened to floats.
G4_AVX2 inline __m256 BytesToFloat(const void* p, bool is_signed) {
  const __m128i b = _mm_loadl_epi64(static_cast<const __m128i*>(p));
  return _mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b));
}

// Sum of adjacent pairs of u8 * i8 products, then of adjacent int16 pairs: 8 int32 lanes, each
// the exact dot product of 4 consecutive elements. maddubs cannot saturate for our operands
// (|u| <= 128 and |i| <= 127 gives |pair| <= 32512).
G4_AVX2 inline __m256i DotU8I8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// ---- Activations: quantize_q8 ------------------------------------------------------------------

// The portable rule (matmul_portable.cc, QuantizeQ8) in 8 lanes, bit for bit: the same max
// (NaN lanes lose, as in std::max(amax, |x|)), the same fp32 scale and reciprocal, the same
// product x * inv, clamp with NaN kept, round to nearest even, NaN to 0.
G4_AVX2 void QuantizeQ8(const float* x, int64_t blocks, int8_t* q, float* d, float* sum) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b = 0; b < blocks; ++b) {
    const float* xb = x + kQ8Block * b;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(xb + 8 * i);
      amax = _mm256_max_ps(_mm256_andnot_ps(sign, v[i]), amax);  // |x| > amax ? |x| : amax
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float scale = _mm_cvtss_f32(m) / 127.0f;
    const __m256 inv = _mm256_set1_ps(scale != 0 ? 1.0f / scale : 0.0f);
    __m256i qi[4];
    __m256i qsum = _mm256_setzero_si256();
    for (int i = 0; i < 4; ++i) {
      const __m256 p = _mm256_mul_ps(v[i], inv);
      const __m256 c = _mm256_min_ps(hi, _mm256_max_ps(lo, p));  // NaN p passes through both
      const __m256 r = _mm256_round_ps(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      const __m256 nan = _mm256_cmp_ps(p, p, _CMP_UNORD_Q);
      qi[i] = _mm256_andnot_si256(_mm256_castps_si256(nan), _mm256_cvtps_epi32(r));
      qsum = _mm256_add_epi32(qsum, qi[i]);
    }
    const __m256i q16 = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]),
                                           _mm256_packs_epi32(qi[2], qi[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + kQ8Block * b),
                        _mm256_permutevar8x32_epi32(q16, order));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(qsum), _mm256_extracti128_si256(qsum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    d[b] = scale;
    sum[b] = scale * static_cast<float>(_mm_cvtsi128_si32(s4));
  }
}

// ---- Exact path: decode ----------------------------------------------------------------------
// Each decoder evaluates the reference formula in the reference's order, so the floats are
// bit-identical to gguf::Dequantize (all products but Q6_K's last are exact anyway).

G4_AVX2 void DecodeF16(const uint8_t* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                  reinterpret_cast<const __m128i*>(src + 2 * i))));
  }
  for (; i < n; ++i) dst[i] = LoadHalf(src + 2 * i);
}

G4_AVX2 void DecodeBF16(const uint8_t* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i h = _mm256_cvtepu16_epi32(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i)));
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(h, 16)));
  }
  for (; i < n; ++i) {
    uint16_t b;
    std::memcpy(&b, src + 2 * i, 2);
    const uint32_t u = static_cast<uint32_t>(b) << 16;
    std::memcpy(dst + i, &u, 4);
  }
}

// x = d * q.
G4_AVX2 void DecodeQ8_0(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 34, dst += 32) {
    const __m256 d = _mm256_set1_ps(LoadHalf(src));
    for (int k = 0; k < 4; ++k) {
      _mm256_storeu_ps(dst + 8 * k, _mm256_mul_ps(d, BytesToFloat(src + 2 + 8 * k, true)));
    }
  }
}

// x = d * (q - 8); low nibbles are elements 0..15, high nibbles 16..31.
G4_AVX2 void DecodeQ4_0(const uint8_t* src, int64_t nblocks, float* dst) {
  const __m128i nibble = _mm_set1_epi8(0x0F);
  const __m256 eight = _mm256_set1_ps(8.0f);
  for (int64_t b = 0; b < nblocks; ++b, src += 18, dst += 32) {
    const __m256 d = _mm256_set1_ps(LoadHalf(src));
    const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2));
    alignas(16) uint8_t q[32];
    _mm_store_si128(reinterpret_cast<__m128i*>(q), _mm_and_si128(qs, nibble));
    _mm_store_si128(reinterpret_cast<__m128i*>(q + 16),
                    _mm_and_si128(_mm_srli_epi16(qs, 4), nibble));
    for (int k = 0; k < 4; ++k) {
      _mm256_storeu_ps(dst + 8 * k, _mm256_mul_ps(d, _mm256_sub_ps(BytesToFloat(q + 8 * k, false),
                                                                   eight)));
    }
  }
}

// x = (d * sc) * q - dmin * m per 32-group; d*sc*q is exact, so fused or not is the same.
G4_AVX2 void DecodeQ4_K(const uint8_t* src, int64_t nblocks, float* dst) {
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  for (int64_t b = 0; b < nblocks; ++b, src += 144) {
    const float d = LoadHalf(src), dmin = LoadHalf(src + 2);
    const uint8_t* qs = src + 16;
    for (int j = 0; j < 4; ++j, qs += 32) {
      const __m256i q = LoadU256(qs);
      alignas(32) uint8_t group[2][32];
      _mm256_store_si256(reinterpret_cast<__m256i*>(group[0]), _mm256_and_si256(q, nibble));
      _mm256_store_si256(reinterpret_cast<__m256i*>(group[1]),
                         _mm256_and_si256(_mm256_srli_epi16(q, 4), nibble));
      for (int h = 0; h < 2; ++h, dst += 32) {
        uint8_t sc, m;
        gguf::GetScaleMinK4(2 * j + h, src + 4, &sc, &m);
        const __m256 scale = _mm256_set1_ps(d * static_cast<float>(sc));
        const __m256 min = _mm256_set1_ps(dmin * static_cast<float>(m));
        for (int k = 0; k < 4; ++k) {
          _mm256_storeu_ps(dst + 8 * k, _mm256_sub_ps(_mm256_mul_ps(
                                            scale, BytesToFloat(group[h] + 8 * k, false)), min));
        }
      }
    }
  }
}

// The 6-bit values of 32-block k (0..3) of one 128-element half, as u8 0..63: low 4 bits from
// ql[32*(k&1) ..] (low nibbles for k < 2, high for k >= 2), high 2 bits from qh bits 2k..2k+1.
// The 16-bit shifts pull in neighbouring bits only above the masks.
G4_AVX2 inline __m256i Q6Values(const uint8_t* ql, const uint8_t* qh, int k) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03);
  __m256i lo = LoadU256(ql + 32 * (k & 1));
  lo = _mm256_and_si256(k < 2 ? lo : _mm256_srli_epi16(lo, 4), low4);
  const __m256i hi =
      _mm256_and_si256(_mm256_srl_epi16(LoadU256(qh), _mm_cvtsi32_si128(2 * k)), low2);
  return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
}

// x = (d * sc) * (q - 32) per 16-group.
G4_AVX2 void DecodeQ6_K(const uint8_t* src, int64_t nblocks, float* dst) {
  const __m256 bias = _mm256_set1_ps(32.0f);
  for (int64_t b = 0; b < nblocks; ++b, src += 210) {
    const float d = LoadHalf(src + 208);
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    for (int half = 0; half < 2; ++half, sc += 8) {
      for (int k = 0; k < 4; ++k, dst += 32) {
        alignas(32) uint8_t q[32];
        _mm256_store_si256(reinterpret_cast<__m256i*>(q),
                           Q6Values(src + 64 * half, src + 128 + 32 * half, k));
        for (int e = 0; e < 4; ++e) {  // 8 elements at a time; 16-group = e / 2
          const __m256 scale = _mm256_set1_ps(d * static_cast<float>(sc[2 * k + e / 2]));
          _mm256_storeu_ps(dst + 8 * e,
                           _mm256_mul_ps(scale, _mm256_sub_ps(BytesToFloat(q + 8 * e, false),
                                                              bias)));
        }
      }
    }
  }
}

G4_AVX2 void Decode(GgmlType type, const uint8_t* src, int64_t n, float* dst) {
  switch (type) {
    case GgmlType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case GgmlType::kF16: DecodeF16(src, n, dst); return;
    case GgmlType::kBF16: DecodeBF16(src, n, dst); return;
    case GgmlType::kQ8_0: DecodeQ8_0(src, n / 32, dst); return;
    case GgmlType::kQ4_0: DecodeQ4_0(src, n / 32, dst); return;
    case GgmlType::kQ4_K: DecodeQ4_K(src, n / 256, dst); return;
    case GgmlType::kQ6_K: DecodeQ6_K(src, n / 256, dst); return;
    default: DecodeUnpackedAvx2(type, src, n, dst); return;  // quants_avx2.cc
  }
}

// ---- Exact path: fp32 products ---------------------------------------------------------------

// R x T pairs, one 8-lane fp32 FMA chain each (element i into lane i % 8), then to float64.
// Each weight load feeds T tokens and each activation load R rows.
template <int R, int T>
G4_AVX2 void DotF32Tile(const float* const* w, const float* const* x, int64_t n, double* acc,
                        int64_t acc_stride) {
  __m256 s[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) s[r][t] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm256_loadu_ps(x[t] + i);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = _mm256_loadu_ps(w[r] + i);
      for (int t = 0; t < T; ++t) s[r][t] = _mm256_fmadd_ps(wv, xv[t], s[r][t]);
    }
  }
  if (i < n) {  // float types only: masked loads never touch the bytes past the row
    const __m256i mask = TailMask(n - i);
    __m256 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm256_maskload_ps(x[t] + i, mask);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = _mm256_maskload_ps(w[r] + i, mask);
      for (int t = 0; t < T; ++t) s[r][t] = _mm256_fmadd_ps(wv, xv[t], s[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r * acc_stride + t] += HsumToDouble(s[r][t]);
}

// 8 bf16 values (the bits of the upper halves of 8 floats) widened exactly to fp32.
G4_AVX2 inline __m256 WidenBf16(const void* p) {
  const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
}
// 8 activations: fp32 as they are, or bf16 widened (the same values where x is bf16-exact).
G4_AVX2 inline __m256 LoadX8(const float* x) { return _mm256_loadu_ps(x); }
G4_AVX2 inline __m256 LoadX8(const uint16_t* x) { return WidenBf16(x); }

// One BF16 row against T tokens (KernelTable::dot_bf16; dot_bf16x with x as bf16): per kChunk,
// DotF32Tile's lanes and FMAs in its order on the decoder's exact widening (bits << 16) done in
// registers, the chunk sums added to float64 in chunk order. The row is read front to back by
// one load stream: that is what the hardware prefetchers follow from DRAM; each line
// kStreamPrefetchBytes ahead in that stream is prefetched too (past the row's end near the
// matrix's end: a prefetch never faults).
// Running 2 or 4 chunks' FMA chains side by side (their order is the numerics, so only whole
// chunks can run in parallel) doubled the GEMV in L2 but read DRAM at half the rate
// (matmul_bench --decode=bf16 on Zen 4: 75 % of the floor with one chain, 39-52 % with 2 or 4,
// software prefetch included); 4 chains over a layout that interleaves 4 chunks, so the reads
// stay one sequential stream, measured +4.5 % with the prefetch (bench/ab.sh), not worth a
// layout of its own.
template <int T, typename X>
G4_AVX2 void DotBf16RowTile(const uint8_t* w, const X* const* x, int64_t n, double* acc) {
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t end = std::min<int64_t>(n, c0 + kChunk);
    __m256 s[T];
    for (int t = 0; t < T; ++t) s[t] = _mm256_setzero_ps();
    for (int64_t i = c0; i < end; i += 8) {
      if (i % 32 == 0) {  // once per 64-byte line
        _mm_prefetch(reinterpret_cast<const char*>(w + 2 * i + kStreamPrefetchBytes), _MM_HINT_T0);
      }
      const __m256 wv = WidenBf16(w + 2 * i);
      for (int t = 0; t < T; ++t) s[t] = _mm256_fmadd_ps(wv, LoadX8(x[t] + i), s[t]);
    }
    for (int t = 0; t < T; ++t) acc[t] += HsumToDouble(s[t]);
  }
}

// One packed BF16 tile (kRowTile rows, Bf16TileOffset) against T tokens
// (KernelTable::dot_bf16_tile): per chunk, each row's chain exactly as DotBf16RowTile runs it,
// the 4 rows' chains side by side while the tile is read front to back (64 bytes, one line, per
// step: each line kStreamPrefetchBytes ahead is prefetched), each activation load feeding 4
// rows.
template <int T, typename X>
G4_AVX2 void DotBf16PackedTile(const uint8_t* w, const X* const* x, int64_t n, double* acc) {
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t len = std::min<int64_t>(kChunk, n - c0);
    const uint8_t* wc = w + 2 * kRowTile * c0;
    __m256 s[kRowTile][T];
    for (int r = 0; r < kRowTile; ++r)
      for (int t = 0; t < T; ++t) s[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < len; i += 8) {
      const uint8_t* run = wc + 2 * kRowTile * i;
      _mm_prefetch(reinterpret_cast<const char*>(run + kStreamPrefetchBytes), _MM_HINT_T0);
      __m256 xv[T];
      for (int t = 0; t < T; ++t) xv[t] = LoadX8(x[t] + c0 + i);
      for (int r = 0; r < kRowTile; ++r) {
        const __m256 wv = WidenBf16(run + 16 * r);
        for (int t = 0; t < T; ++t) s[r][t] = _mm256_fmadd_ps(wv, xv[t], s[r][t]);
      }
    }
    for (int r = 0; r < kRowTile; ++r)
      for (int t = 0; t < T; ++t) acc[r * kTokenTile + t] += HsumToDouble(s[r][t]);
  }
}

// KernelTable::decode_bf16_tile: the chunk's runs in the order they lie, each to its row.
G4_AVX2 void DecodeBf16TileChunk(const uint8_t* chunk, int64_t n, int R, float (*dst)[kChunk]) {
  for (int64_t k = 0; k < n / 8; ++k) {
    for (int r = 0; r < R; ++r) {
      _mm256_storeu_ps(dst[r] + 8 * k, WidenBf16(chunk + 16 * (kRowTile * k + r)));
    }
  }
}

// ---- Integer path ----------------------------------------------------------------------------
// Per (row, token) pair an 8-lane fp32 accumulator; per weight block the exact int32 dot products
// of 4-element groups are scaled by (weight scale * activation scale) with one FMA.

// Q8_0 (kIsQ8) and Q4_0 blocks as 32 signed bytes: sign(w) moves onto x so maddubs sees |w| as
// unsigned (ggml's trick). Any number of blocks: lanes go to float64 every kChunk elements, as
// if the driver had called once per chunk (the GEMV passes a whole row in one call).
template <bool kIsQ8, int R, int T>
G4_AVX2 void DotQ32Tile(const uint8_t* const* w, const Q8Act* x, int64_t nblocks, double* acc,
                        int64_t acc_stride, int64_t prefetch) {
  constexpr int64_t kBlockBytes = kIsQ8 ? 34 : 18;
  constexpr int64_t kChunkBlocks = kChunk / 32;
  const __m256i eight = _mm256_set1_epi8(8);
  for (int64_t c = 0; c < nblocks; c += kChunkBlocks) {
    const int64_t end = std::min(nblocks, c + kChunkBlocks);
    __m256 s[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) s[r][t] = _mm256_setzero_ps();
    for (int64_t b = c; b < end; ++b) {
      __m256i xq[T];
      __m256 dx[T];
      for (int t = 0; t < T; ++t) {
        xq[t] = LoadU256(x[t].q + 32 * b);
        dx[t] = _mm256_set1_ps(x[t].d[b]);
      }
      for (int r = 0; r < R; ++r) {
        const uint8_t* block = w[r] + b * kBlockBytes;
        if (prefetch > 0) _mm_prefetch(reinterpret_cast<const char*>(block + prefetch), _MM_HINT_T0);
        const __m256 dw = BroadcastHalf(block);
        const __m256i wq =
            kIsQ8 ? LoadU256(block + 2) : _mm256_sub_epi8(LoadNibbles(block + 2), eight);
        const __m256i aw = _mm256_sign_epi8(wq, wq);
        for (int t = 0; t < T; ++t) {
          const __m256i p = DotU8I8(aw, _mm256_sign_epi8(xq[t], wq));
          s[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx[t]), _mm256_cvtepi32_ps(p), s[r][t]);
        }
      }
    }
    AddLanes<R, T>(s, acc, acc_stride);
  }
}

// Q4_K's 8 scales and 8 mins, unpacked from the 12 packed bytes with 32-bit masks (ggml's
// trick, same values as gguf::GetScaleMinK4), as d * sc_g and dmin * m_g.
G4_AVX2 inline void Q4KScalesMins(const uint8_t* block, __m256* dsc, __m256* dm) {
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  uint32_t u[4];
  std::memcpy(u, block + 4, 12);
  u[3] = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);  // mins 4..7
  const uint32_t mins_lo = u[1] & kLow6;                         // mins 0..3
  u[1] = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);          // scales 4..7
  u[2] = mins_lo;
  u[0] &= kLow6;                                                 // scales 0..3
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(u));
  *dsc = _mm256_mul_ps(_mm256_set1_ps(LoadHalf(block)),
                       _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)));
  *dm = _mm256_mul_ps(_mm256_set1_ps(LoadHalf(block + 2)),
                      _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b, 8))));
}

// One Q4_K block (256): sum_g (d*sc_g)*dx_g * dot(q, xq) - (dmin*m_g) * xsum_g. The unsigned
// nibbles go straight into maddubs; the mins meet the 8 block sums in one vector FMA; the 8
// group scales of each pair are formed with one vector multiply and broadcast from memory.
template <int R, int T>
G4_AVX2 void DotQ4KTile(const uint8_t* const* w, const Q8Act* x, double* acc,
                        int64_t acc_stride) {
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  __m256 s[R][T];
  alignas(32) float scale[R][T][8];  // (d * sc_g) * dx_g
  for (int r = 0; r < R; ++r) {
    __m256 dsc, dm;
    Q4KScalesMins(w[r], &dsc, &dm);
    for (int t = 0; t < T; ++t) {
      _mm256_store_ps(scale[r][t], _mm256_mul_ps(dsc, _mm256_loadu_ps(x[t].d)));
      s[r][t] = _mm256_fnmadd_ps(dm, _mm256_loadu_ps(x[t].sum), _mm256_setzero_ps());
    }
  }
  for (int j = 0; j < 4; ++j) {  // 64 elements: groups 2j (low nibbles) and 2j+1 (high)
    __m256i xlo[T], xhi[T];
    for (int t = 0; t < T; ++t) {
      xlo[t] = LoadU256(x[t].q + 64 * j);
      xhi[t] = LoadU256(x[t].q + 64 * j + 32);
    }
    for (int r = 0; r < R; ++r) {
      const __m256i q = LoadU256(w[r] + 16 + 32 * j);
      const __m256i lo = _mm256_and_si256(q, nibble);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), nibble);
      for (int t = 0; t < T; ++t) {
        s[r][t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scale[r][t][2 * j]),
                                  _mm256_cvtepi32_ps(DotU8I8(lo, xlo[t])), s[r][t]);
        s[r][t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scale[r][t][2 * j + 1]),
                                  _mm256_cvtepi32_ps(DotU8I8(hi, xhi[t])), s[r][t]);
      }
    }
  }
  AddLanes<R, T>(s, acc, acc_stride);
}

// One Q6_K block (256): per 32-block of activations, sum (q - 32) * xq as maddubs(q, xq) -
// maddubs(32, xq) in int16 (|.| <= 16002, no saturation), weighted by the two 16-groups' int8
// scales in madd (the low 128 bits are group 2k, the high ones 2k+1), times d * dx.
template <int R, int T>
G4_AVX2 void DotQ6KTile(const uint8_t* const* w, const Q8Act* x, double* acc,
                        int64_t acc_stride) {
  const __m256i bias = _mm256_set1_epi8(32);
  __m256 s[R][T];
  alignas(32) float scale[R][T][8];  // d * dx_block
  for (int r = 0; r < R; ++r) {
    const __m256 d = _mm256_set1_ps(LoadHalf(w[r] + 208));
    for (int t = 0; t < T; ++t) {
      _mm256_store_ps(scale[r][t], _mm256_mul_ps(d, _mm256_loadu_ps(x[t].d)));
      s[r][t] = _mm256_setzero_ps();
    }
  }
  for (int half = 0; half < 2; ++half) {
    for (int k = 0; k < 4; ++k) {
      const int block = 4 * half + k;
      __m256i xq[T], xbias[T];
      for (int t = 0; t < T; ++t) {
        xq[t] = LoadU256(x[t].q + 32 * block);
        xbias[t] = _mm256_maddubs_epi16(bias, xq[t]);
      }
      for (int r = 0; r < R; ++r) {
        const __m256i q = Q6Values(w[r] + 64 * half, w[r] + 128 + 32 * half, k);
        const int8_t* sc = reinterpret_cast<const int8_t*>(w[r] + 192 + 8 * half);
        const __m256i group_scales = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]),
                                                      _mm_set1_epi16(sc[2 * k]));
        for (int t = 0; t < T; ++t) {
          const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q, xq[t]), xbias[t]);
          const __m256i p = _mm256_madd_epi16(p16, group_scales);
          s[r][t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scale[r][t][block]),
                                    _mm256_cvtepi32_ps(p), s[r][t]);
        }
      }
    }
  }
  AddLanes<R, T>(s, acc, acc_stride);
}

// ---- Dispatch to the (R, T) instantiations ---------------------------------------------------

// K-quant superblocks (256 elements = one chunk) one after another.
using SuperblockFn = void (*)(const uint8_t* const*, const Q8Act*, double*, int64_t);
template <int R, int T, SuperblockFn kBlock, int64_t kBlockBytes>
G4_AVX2 inline void KQuantChunks(const uint8_t* const* w, const Q8Act* x, int64_t n, double* acc,
                                 int64_t acc_stride, int64_t prefetch) {
  for (int64_t i = 0; i < n; i += kChunk) {
    const uint8_t* wb[R];
    Q8Act xb[T];
    for (int r = 0; r < R; ++r) wb[r] = w[r] + i / kChunk * kBlockBytes;
    if (prefetch > 0) {
      for (int r = 0; r < R; ++r) PrefetchSpan(wb[r] + prefetch, kBlockBytes);
    }
    for (int t = 0; t < T; ++t) xb[t] = {x[t].q + i, x[t].d + i / 32, x[t].sum + i / 32};
    kBlock(wb, xb, acc, acc_stride);
  }
}

template <int R, int T>
G4_AVX2 void DotQ8Tile(GgmlType type, const uint8_t* const* w, const Q8Act* x, int64_t n,
                       double* acc, int64_t acc_stride, int64_t pf) {
  switch (type) {
    case GgmlType::kQ8_0: return DotQ32Tile<true, R, T>(w, x, n / 32, acc, acc_stride, pf);
    case GgmlType::kQ4_0: return DotQ32Tile<false, R, T>(w, x, n / 32, acc, acc_stride, pf);
    case GgmlType::kQ4_K:
      return KQuantChunks<R, T, DotQ4KTile<R, T>, 144>(w, x, n, acc, acc_stride, pf);
    case GgmlType::kQ6_K:
      return KQuantChunks<R, T, DotQ6KTile<R, T>, 210>(w, x, n, acc, acc_stride, pf);
    default:  // the added types (quants_avx2.cc) take one chunk per call
      return DotQ8ByChunks(DotQ8UnpackedAvx2, type, w, R, x, T, n, acc, acc_stride, pf);
  }
}

// ---- Panel GEMM (PanelChunk in matmul_internal.h): signed w and |w|, for maddubs ----------

template <bool kIsQ8>
G4_AVX2 void PackPanelAvx2(const uint8_t* const* rows, int64_t nblocks, PanelChunk* out) {
  constexpr int64_t kBlockBytes = kIsQ8 ? 34 : 18;
  const __m256i eight = _mm256_set1_epi8(8);
  for (int64_t b = 0; b < nblocks; ++b) {
    __m256i r[kPanelRows], g[kPanelRows];
    for (int i = 0; i < kPanelRows; ++i) {
      const uint8_t* block = rows[i] + b * kBlockBytes;
      r[i] = kIsQ8 ? LoadU256(block + 2) : _mm256_sub_epi8(LoadNibbles(block + 2), eight);
      out->d[b][i] = LoadHalf(block);
    }
    Transpose8x8Dwords(r, g);
    for (int i = 0; i < kPanelRows; ++i) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(out->w[b][i]), g[i]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(out->aux[b][i]), _mm256_sign_epi8(g[i], g[i]));
    }
  }
}

G4_AVX2 void PackPanel(GgmlType type, const uint8_t* const* rows, int64_t n, PanelChunk* out) {
  if (type == GgmlType::kQ8_0) return PackPanelAvx2<true>(rows, n / 32, out);
  return PackPanelAvx2<false>(rows, n / 32, out);  // Q4_0: PanelOffset() takes no other type
}

int32_t PanelOffset(GgmlType type) {  // no unsigned offset: offset4 unused
  return type == GgmlType::kQ8_0 || type == GgmlType::kQ4_0 ? 0 : -1;
}

// Lane r of s[g] is lane g of row r's chain in DotQ32Tile: sign(x, w) and |w| into maddubs,
// the same exact integer, the same fp32 product dw * dx, the same FMA in block order.
G4_AVX2 void DotPanel(const PanelChunk& w, int64_t n, const Q8Act& x, const int32_t* /*offset4*/,
                      double* acc8) {
  __m256 s[kPanelRows];
  for (int g = 0; g < kPanelRows; ++g) s[g] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m256 scale = _mm256_mul_ps(_mm256_load_ps(w.d[b]), _mm256_set1_ps(x.d[b]));
    for (int g = 0; g < 8; ++g) {
      int32_t xg;
      std::memcpy(&xg, x.q + 32 * b + 4 * g, 4);
      const __m256i ws = _mm256_load_si256(reinterpret_cast<const __m256i*>(w.w[b][g]));
      const __m256i wa = _mm256_load_si256(reinterpret_cast<const __m256i*>(w.aux[b][g]));
      const __m256i p = DotU8I8(wa, _mm256_sign_epi8(_mm256_set1_epi32(xg), ws));
      s[g] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(p), s[g]);
    }
  }
  AddPanelLanes(s, acc8);
}

// ---- Packed panels (packed_matmul.h) ----------------------------------------------------------

// Token x's exact integer dot with rows 0..7 of one packed block (wg from LoadPackedBlock), in
// the lanes. Q4_0: the nibbles (0..15) meet x by maddubs; 8 groups of pairs sum to at most
// 8 * 2 * 15 * 127 = 30480, so they add in int16 before one madd; the nibbles' offset of 8 comes
// back out as -8 * (the block's sum of x). Q8_0: w + 128 would overflow maddubs' int16 pairs, so
// the stored bytes are made signed again and multiplied as |w| * sign(x, w) (<= 2 * 128 * 127).
template <bool kIsQ8>
G4_AVX2 __m256i PackedBlockDot(const __m256i (&wg)[8], const int8_t* q, int32_t isum) {
  if constexpr (kIsQ8) {
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    __m256i dot = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
      const __m256i w = _mm256_xor_si256(wg[g], flip);
      dot = _mm256_add_epi32(dot, DotU8I8(_mm256_abs_epi8(w),
                                          _mm256_sign_epi8(BroadcastGroup(q + 4 * g), w)));
    }
    return dot;
  } else {
    __m256i pairs = _mm256_maddubs_epi16(wg[0], BroadcastGroup(q));
    for (int g = 1; g < 8; ++g) {
      pairs = _mm256_add_epi16(pairs, _mm256_maddubs_epi16(wg[g], BroadcastGroup(q + 4 * g)));
    }
    return _mm256_add_epi32(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)),
                            _mm256_set1_epi32(-8 * isum));
  }
}

// Q6_K: the exact dot of 16 elements (4 groups) of rows 0..7, (q - 32) . x, for unsigned q
// (0..63) in wg[0..3] and the token's 16 bytes at q: maddubs pairs (<= 2 * 63 * 127 = 16002)
// add in int16 two at a time, then madd; -32 * (the 16's sum) takes the offset out.
G4_AVX2 __m256i PackedDot16(const __m256i* wg, const int8_t* q, int32_t isum16) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(wg[0], BroadcastGroup(q)),
                                       _mm256_maddubs_epi16(wg[1], BroadcastGroup(q + 4)));
  const __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(wg[2], BroadcastGroup(q + 8)),
                                       _mm256_maddubs_epi16(wg[3], BroadcastGroup(q + 12)));
  return _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(p01, ones), _mm256_madd_epi16(p23, ones)),
                          _mm256_set1_epi32(-32 * isum16));
}

G4_DEFINE_DOT_PACKED(G4_AVX2, PackedBlockDot, PackedDot16, Q6Group)

static_assert(kRowTile == 4 && kTokenTile == 2, "update the instantiation tables");

using DotF32Fn = void (*)(const float* const*, const float* const*, int64_t, double*, int64_t);
constexpr DotF32Fn kDotF32[kRowTile][kTokenTile] = {
    {DotF32Tile<1, 1>, DotF32Tile<1, 2>}, {DotF32Tile<2, 1>, DotF32Tile<2, 2>},
    {DotF32Tile<3, 1>, DotF32Tile<3, 2>}, {DotF32Tile<4, 1>, DotF32Tile<4, 2>}};

using DotQ8Fn = void (*)(GgmlType, const uint8_t* const*, const Q8Act*, int64_t, double*,
                         int64_t, int64_t);
constexpr DotQ8Fn kDotQ8[kRowTile][kTokenTile] = {
    {DotQ8Tile<1, 1>, DotQ8Tile<1, 2>}, {DotQ8Tile<2, 1>, DotQ8Tile<2, 2>},
    {DotQ8Tile<3, 1>, DotQ8Tile<3, 2>}, {DotQ8Tile<4, 1>, DotQ8Tile<4, 2>}};

void DotF32(const float* const* w, int R, const float* const* x, int T, int64_t n, double* acc,
            int64_t acc_stride) {
  kDotF32[R - 1][T - 1](w, x, n, acc, acc_stride);
}

void DotBf16(const uint8_t* w, const float* const* x, int T, int64_t n, double* acc) {
  return T == 1 ? DotBf16RowTile<1>(w, x, n, acc) : DotBf16RowTile<2>(w, x, n, acc);
}

void DotBf16X(const uint8_t* w, const uint16_t* const* x, int T, int64_t n, double* acc) {
  return T == 1 ? DotBf16RowTile<1>(w, x, n, acc) : DotBf16RowTile<2>(w, x, n, acc);
}

void DotBf16Tile(const uint8_t* tile, const float* const* x, const uint16_t* const* xb, int T,
                 int64_t n, double* acc) {
  if (xb != nullptr) {
    return T == 1 ? DotBf16PackedTile<1>(tile, xb, n, acc) : DotBf16PackedTile<2>(tile, xb, n, acc);
  }
  return T == 1 ? DotBf16PackedTile<1>(tile, x, n, acc) : DotBf16PackedTile<2>(tile, x, n, acc);
}

void DotQ8(GgmlType type, const uint8_t* const* w, int R, const Q8Act* x, int T, int64_t n,
           double* acc, int64_t acc_stride, int64_t prefetch) {
  kDotQ8[R - 1][T - 1](type, w, x, n, acc, acc_stride, prefetch);
}

}  // namespace

const KernelTable* Avx2Kernels() {
  static const KernelTable table = [] {
    KernelTable t{QuantizeQ8, Decode,   DotF32,    DotQ8,  PanelOffset,
                  PackPanel,  DotPanel, DotPacked, DotBf16};
    t.dot_bf16x = DotBf16X;
    t.dot_bf16_tile = DotBf16Tile;
    t.decode_bf16_tile = DecodeBf16TileChunk;
    return t;
  }();
  return &table;
}

}  // namespace g4::cpu::internal

#else  // not x86-64 GCC/Clang: no AVX2 kernels

namespace g4::cpu::internal {
const KernelTable* Avx2Kernels() { return nullptr; }
}  // namespace g4::cpu::internal

#endif

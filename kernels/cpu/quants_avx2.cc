// AVX2 unpacking of the nine added GGUF types into 32 int8 values + per-half scale/offset
// (quants_internal.h), the exact-path decoder and the integer-path kernel built on it.
// As matmul_avx2.cc: the target attribute is on each function, never on the file.
#include "cpu/quants_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#include <cstring>

#include "cpu/avx2_common.h"

namespace g4::cpu::internal {
namespace {

// Byte j = 0xFF where bit j of the little-endian u32 at p is set, else 0 (ggml's
// bytes_from_bits_32).
G4_AVX2 inline __m256i BitsToBytes(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                         0x0101010101010101, 0x0000000000000000);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
  bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

// A 16-entry int8 table in both 128-bit lanes, for pshufb lookups.
G4_AVX2 inline __m256i Table16(const int8_t* t) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t));
  return _mm256_set_m128i(v, v);
}

int Q3KScale(const uint8_t* s, int g) {
  const int lo = g < 8 ? (s[g] & 0x0F) : (s[g - 8] >> 4);
  const int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

// Block b of a row of kType: 32 int8 values in element order; s[h], o[h] as in Block32 (the
// same floats UnpackBlock32 gives, so decoding from them is bit-identical to the reference).
template <GgmlType kType>
G4_AVX2 inline __m256i Unpack(const uint8_t* row, int64_t b, float* s, float* o) {
  constexpr int64_t kPer = kType == GgmlType::kQ2_K || kType == GgmlType::kQ3_K ||
                                   kType == GgmlType::kQ5_K || kType == GgmlType::kIQ4_XS
                               ? 8 : 1;
  constexpr int64_t kBytes = gguf::GgmlType::kQ4_1 == kType    ? 20
                             : gguf::GgmlType::kQ5_0 == kType  ? 22
                             : gguf::GgmlType::kQ5_1 == kType  ? 24
                             : gguf::GgmlType::kIQ4_NL == kType ? 18
                             : gguf::GgmlType::kMXFP4 == kType ? 17
                             : gguf::GgmlType::kQ2_K == kType  ? 84
                             : gguf::GgmlType::kQ3_K == kType  ? 110
                             : gguf::GgmlType::kQ5_K == kType  ? 176
                                                               : 136;  // IQ4_XS
  const uint8_t* blk = row + (b / kPer) * kBytes;
  const int sub = static_cast<int>(b % kPer);
  const __m256i sixteen = _mm256_set1_epi8(16);
  if constexpr (kType == GgmlType::kQ4_1) {
    s[0] = s[1] = LoadHalf(blk);
    o[0] = o[1] = LoadHalf(blk + 2);
    return LoadNibbles(blk + 4);
  } else if constexpr (kType == GgmlType::kQ5_0) {
    s[0] = s[1] = LoadHalf(blk);
    o[0] = o[1] = 0;
    const __m256i q = _mm256_or_si256(LoadNibbles(blk + 6),
                                      _mm256_and_si256(BitsToBytes(blk + 2), sixteen));
    return _mm256_sub_epi8(q, sixteen);
  } else if constexpr (kType == GgmlType::kQ5_1) {
    s[0] = s[1] = LoadHalf(blk);
    o[0] = o[1] = LoadHalf(blk + 2);
    return _mm256_or_si256(LoadNibbles(blk + 8), _mm256_and_si256(BitsToBytes(blk + 4), sixteen));
  } else if constexpr (kType == GgmlType::kIQ4_NL) {
    s[0] = s[1] = LoadHalf(blk);
    o[0] = o[1] = 0;
    return _mm256_shuffle_epi8(Table16(gguf::kIq4nlValues), LoadNibbles(blk + 2));
  } else if constexpr (kType == GgmlType::kMXFP4) {
    s[0] = s[1] = gguf::E8m0ToFloatHalf(blk[0]);
    o[0] = o[1] = 0;
    return _mm256_shuffle_epi8(Table16(gguf::kMxfp4Values), LoadNibbles(blk + 1));
  } else if constexpr (kType == GgmlType::kQ2_K) {
    const int h = sub / 4, j = sub % 4;
    const float d = LoadHalf(blk + 80), dmin = LoadHalf(blk + 82);
    for (int half = 0; half < 2; ++half) {
      const uint8_t sc = blk[8 * h + 2 * j + half];
      s[half] = d * (sc & 0x0F);
      o[half] = -(dmin * (sc >> 4));
    }
    return _mm256_and_si256(_mm256_srl_epi16(LoadU256(blk + 16 + 32 * h), _mm_cvtsi32_si128(2 * j)),
                            _mm256_set1_epi8(3));
  } else if constexpr (kType == GgmlType::kQ3_K) {
    const int h = sub / 4, j = sub % 4;
    const float d = LoadHalf(blk + 108);
    for (int half = 0; half < 2; ++half) {
      s[half] = d * Q3KScale(blk + 96, 8 * h + 2 * j + half);
      o[half] = 0;
    }
    const __m256i lo = _mm256_and_si256(
        _mm256_srl_epi16(LoadU256(blk + 32 + 32 * h), _mm_cvtsi32_si128(2 * j)), _mm256_set1_epi8(3));
    const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << (4 * h + j)));
    const __m256i unset = _mm256_cmpeq_epi8(_mm256_and_si256(LoadU256(blk), bit),
                                            _mm256_setzero_si256());
    return _mm256_sub_epi8(lo, _mm256_and_si256(unset, _mm256_set1_epi8(4)));
  } else if constexpr (kType == GgmlType::kQ5_K) {
    uint8_t sc, m;
    gguf::GetScaleMinK4(sub, blk + 4, &sc, &m);
    s[0] = s[1] = LoadHalf(blk) * sc;
    o[0] = o[1] = -(LoadHalf(blk + 2) * m);
    __m256i ql = LoadU256(blk + 48 + 32 * (sub / 2));
    if (sub % 2) ql = _mm256_srli_epi16(ql, 4);
    ql = _mm256_and_si256(ql, _mm256_set1_epi8(0x0F));
    const __m256i hi = _mm256_and_si256(
        _mm256_srl_epi16(LoadU256(blk + 16), _mm_cvtsi32_si128(sub)), _mm256_set1_epi8(1));
    return _mm256_or_si256(ql, _mm256_slli_epi16(hi, 4));
  } else {  // IQ4_XS
    const uint16_t scales_h = static_cast<uint16_t>(blk[2] | (blk[3] << 8));
    const int ls = ((blk[4 + sub / 2] >> (4 * (sub % 2))) & 0x0F) | (((scales_h >> (2 * sub)) & 3) << 4);
    s[0] = s[1] = LoadHalf(blk) * (ls - 32);
    o[0] = o[1] = 0;
    return _mm256_shuffle_epi8(Table16(gguf::kIq4nlValues), LoadNibbles(blk + 8 + 16 * sub));
  }
}

constexpr bool Offsets(GgmlType t) {
  return t == GgmlType::kQ4_1 || t == GgmlType::kQ5_1 || t == GgmlType::kQ2_K ||
         t == GgmlType::kQ5_K;
}

// x = s_h * q (+ o_h): the product is exact, so this is the reference's value; types without
// offsets skip the add (0 + -0 would turn a -0 into +0).
template <GgmlType kType>
G4_AVX2 void DecodeT(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, dst += 32) {
    float s[2], o[2];
    alignas(32) int8_t q[32];
    _mm256_store_si256(reinterpret_cast<__m256i*>(q), Unpack<kType>(src, b, s, o));
    for (int k = 0; k < 4; ++k) {
      const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + 8 * k))));
      __m256 y = _mm256_mul_ps(_mm256_set1_ps(s[k / 2]), v);
      if constexpr (Offsets(kType)) y = _mm256_add_ps(y, _mm256_set1_ps(o[k / 2]));
      _mm256_storeu_ps(dst + 8 * k, y);
    }
  }
}

// Lanes 0..3 = a (elements 0..15 of a block's 4-element int32 sums), lanes 4..7 = b.
G4_AVX2 inline __m256 Halves(float a, float b) {
  return _mm256_set_m128(_mm_set1_ps(b), _mm_set1_ps(a));
}

// R x T pairs; per 32-block one 8-lane FMA of (s_h * dx) with the int32 dot products of
// 4-element groups, and (for offsets) one with dx * the 4-element sums of xq.
template <GgmlType kType, int R, int T>
G4_AVX2 void DotTile(const uint8_t* const* w, const Q8Act* x, int64_t nblocks, double* acc,
                     int64_t acc_stride) {
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256 s[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) s[r][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nblocks; ++b) {
    __m256i xq[T];
    __m256 xsum[T];
    float dx[T];
    for (int t = 0; t < T; ++t) {
      xq[t] = LoadU256(x[t].q + 32 * b);
      dx[t] = x[t].d[b];
      if constexpr (Offsets(kType)) {
        xsum[t] = _mm256_cvtepi32_ps(
            _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, xq[t]), ones16));
      }
    }
    for (int r = 0; r < R; ++r) {
      float sc[2], off[2];
      const __m256i q = Unpack<kType>(w[r], b, sc, off);
      const __m256i aq = _mm256_sign_epi8(q, q);
      const __m256 scale = Halves(sc[0], sc[1]);
      const __m256 offset = Halves(off[0], off[1]);
      for (int t = 0; t < T; ++t) {
        const __m256i p =
            _mm256_madd_epi16(_mm256_maddubs_epi16(aq, _mm256_sign_epi8(xq[t], q)), ones16);
        const __m256 d = _mm256_set1_ps(dx[t]);
        s[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(scale, d), _mm256_cvtepi32_ps(p), s[r][t]);
        if constexpr (Offsets(kType)) {
          s[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(offset, d), xsum[t], s[r][t]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r * acc_stride + t] += HsumToDouble(s[r][t]);
}

template <GgmlType kType>
G4_AVX2 void DotDispatch(const uint8_t* const* w, int R, const Q8Act* x, int T, int64_t nb,
                         double* acc, int64_t stride) {
  static_assert(kRowTile == 4 && kTokenTile == 2, "update the instantiation table");
  using Fn = void (*)(const uint8_t* const*, const Q8Act*, int64_t, double*, int64_t);
  static constexpr Fn kTable[4][2] = {
      {DotTile<kType, 1, 1>, DotTile<kType, 1, 2>}, {DotTile<kType, 2, 1>, DotTile<kType, 2, 2>},
      {DotTile<kType, 3, 1>, DotTile<kType, 3, 2>}, {DotTile<kType, 4, 1>, DotTile<kType, 4, 2>}};
  kTable[R - 1][T - 1](w, x, nb, acc, stride);
}

}  // namespace

#define G4_FOR_UNPACKED_TYPES(CASE)                                                   \
  CASE(kQ4_1) CASE(kQ5_0) CASE(kQ5_1) CASE(kQ2_K) CASE(kQ3_K) CASE(kQ5_K) CASE(kIQ4_NL) \
  CASE(kIQ4_XS) CASE(kMXFP4)

G4_AVX2 void DecodeUnpackedAvx2(GgmlType type, const uint8_t* src, int64_t n, float* dst) {
  switch (type) {
#define G4_CASE(TY) \
  case GgmlType::TY: DecodeT<GgmlType::TY>(src, n / 32, dst); return;
    G4_FOR_UNPACKED_TYPES(G4_CASE)
#undef G4_CASE
    default: return;
  }
}

G4_AVX2 void DotQ8UnpackedAvx2(GgmlType type, const uint8_t* const* w, int R, const Q8Act* x,
                               int T, int64_t n, double* acc, int64_t acc_stride) {
  switch (type) {
#define G4_CASE(TY) \
  case GgmlType::TY: DotDispatch<GgmlType::TY>(w, R, x, T, n / 32, acc, acc_stride); return;
    G4_FOR_UNPACKED_TYPES(G4_CASE)
#undef G4_CASE
    default: return;
  }
}

}  // namespace g4::cpu::internal

#endif

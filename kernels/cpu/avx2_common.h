// Small AVX2 helpers shared by the AVX2 and AVX-VNNI matmul kernels (matmul_avx2.cc,
// matmul_vnni.cc). Internal; include only from files whose every function carries a target
// attribute at least as wide as G4_AVX2 (see matmul_avx2.cc for why not -mavx2).
#ifndef GEMMA4C_KERNELS_CPU_AVX2_COMMON_H_
#define GEMMA4C_KERNELS_CPU_AVX2_COMMON_H_

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#define G4_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace g4::cpu::internal {
namespace {

G4_AVX2 inline float LoadHalf(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);  // exact, like gguf::HalfToFloat
}

G4_AVX2 inline __m256i LoadU256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// A block's f16 scale in all 8 fp32 lanes (exact): a broadcast load and one conversion, instead
// of an insert, a scalar conversion and a broadcast per use.
G4_AVX2 inline __m256 BroadcastHalf(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(h)));
}

// Q4_0's 16 bytes of nibbles as 32 bytes, element j at byte j (the low nibbles are elements
// 0-15, the high ones 16-31): the 16 bytes broadcast to both halves, the upper half shifted
// right by 4, one mask.
G4_AVX2 inline __m256i LoadNibbles(const uint8_t* qs) {
  const __m256i both =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  return _mm256_and_si256(_mm256_srlv_epi64(both, _mm256_set_epi64x(4, 4, 0, 0)),
                          _mm256_set1_epi8(0x0F));
}

// Sum of the 8 lanes in float64: (l0 + l4) + (l2 + l6) + ((l1 + l5) + (l3 + l7)). Converting
// first makes the cross-lane sum exact to ~2^-53, so only the in-lane fp32 chains round.
G4_AVX2 inline double HsumToDouble(__m256 v) {
  const __m256d s = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                                  _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
  return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

// Adds each pair's 8 lanes, summed as HsumToDouble does, into acc[r * acc_stride + t]. For the
// GEMV tile (4 rows, 1 token) the four rows' sums are formed side by side in one float64 vector
// with the same additions in the same order, so the result is bit-identical to the scalar form.
template <int R, int T>
G4_AVX2 inline void AddLanes(__m256 (&s)[R][T], double* acc, int64_t acc_stride) {
  if constexpr (R == 4 && T == 1) {
    __m256d h[4];  // h[r] = (l0 + l4, l1 + l5, l2 + l6, l3 + l7) of row r
    for (int r = 0; r < 4; ++r) {
      h[r] = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(s[r][0])),
                           _mm256_cvtps_pd(_mm256_extractf128_ps(s[r][0], 1)));
    }
    const __m256d a01 = _mm256_unpacklo_pd(h[0], h[1]), b01 = _mm256_unpackhi_pd(h[0], h[1]);
    const __m256d a23 = _mm256_unpacklo_pd(h[2], h[3]), b23 = _mm256_unpackhi_pd(h[2], h[3]);
    // lane k of eK: element K of h[k], rows 0..3.
    const __m256d e0 = _mm256_permute2f128_pd(a01, a23, 0x20);
    const __m256d e1 = _mm256_permute2f128_pd(b01, b23, 0x20);
    const __m256d e2 = _mm256_permute2f128_pd(a01, a23, 0x31);
    const __m256d e3 = _mm256_permute2f128_pd(b01, b23, 0x31);
    const __m256d sum = _mm256_add_pd(_mm256_add_pd(e0, e2), _mm256_add_pd(e1, e3));
    alignas(32) double out[4];
    _mm256_store_pd(out, sum);
    for (int r = 0; r < 4; ++r) acc[r * acc_stride] += out[r];
  } else {
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r * acc_stride + t] += HsumToDouble(s[r][t]);
  }
}

// Rows r0..r7 as 8 x 8 dwords -> out[g] = dword g of every row: the 8 x 8 transpose of 32-bit
// elements (unpack 32, unpack 64, swap 128-bit halves).
G4_AVX2 inline void Transpose8x8Dwords(const __m256i (&r)[8], __m256i* out) {
  __m256i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // rows 0-3 (h = 0) and 4-7
    const __m256i* th = t + 4 * h;
    u[4 * h + 0] = _mm256_unpacklo_epi64(th[0], th[2]);  // groups 0 | 4
    u[4 * h + 1] = _mm256_unpackhi_epi64(th[0], th[2]);  // groups 1 | 5
    u[4 * h + 2] = _mm256_unpacklo_epi64(th[1], th[3]);  // groups 2 | 6
    u[4 * h + 3] = _mm256_unpackhi_epi64(th[1], th[3]);  // groups 3 | 7
  }
  for (int g = 0; g < 4; ++g) {
    out[g] = _mm256_permute2x128_si256(u[g], u[4 + g], 0x20);
    out[g + 4] = _mm256_permute2x128_si256(u[g], u[4 + g], 0x31);
  }
}

// The panel kernels' lane sums: s[g] holds lane g of rows 0..7; acc8[r] gets row r's lanes
// added in AddLanes' order ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), four rows per
// float64 vector.
G4_AVX2 inline void AddPanelLanes(const __m256 (&s)[8], double* acc8) {
  for (int h = 0; h < 2; ++h) {  // rows 0-3, then 4-7
    __m256d l[8];
    for (int g = 0; g < 8; ++g) {
      l[g] = _mm256_cvtps_pd(h == 0 ? _mm256_castps256_ps128(s[g]) : _mm256_extractf128_ps(s[g], 1));
    }
    const __m256d sum =
        _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(l[0], l[4]), _mm256_add_pd(l[2], l[6])),
                      _mm256_add_pd(_mm256_add_pd(l[1], l[5]), _mm256_add_pd(l[3], l[7])));
    _mm256_storeu_pd(acc8 + 4 * h, _mm256_add_pd(_mm256_loadu_pd(acc8 + 4 * h), sum));
  }
}

// ---- Packed panels (packed_matmul.h) ----------------------------------------------------------

// One packed block as 8 vectors of unsigned bytes: out[g] = group g (elements 4g..4g+3) of rows
// 0..7, row r in lane r. Q8_0: w + 128 as stored; Q4_0: the nibbles, vector j's low ones are
// group j and its high ones group j + 4.
template <bool kIsQ8>
G4_AVX2 inline void LoadPackedBlock(const uint8_t* block, __m256i (&out)[8]) {
  if constexpr (kIsQ8) {
    for (int g = 0; g < 8; ++g) out[g] = LoadU256(block + 32 * g);
  } else {
    const __m256i low = _mm256_set1_epi8(0x0F);
    for (int j = 0; j < 4; ++j) {
      const __m256i v = LoadU256(block + 32 * j);
      out[j] = _mm256_and_si256(v, low);
      out[j + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    }
  }
}

// The 4 activation bytes of group g at q (q + 4g), in every 32-bit lane.
G4_AVX2 inline __m256i BroadcastGroup(const int8_t* q) {
  int32_t v;
  std::memcpy(&v, q, 4);
  return _mm256_set1_epi32(v);
}

// A packed chunk's 8 f16 scales of block b (rows 0..7) as fp32, exact.
G4_AVX2 inline __m256 LoadPackedScales(const uint8_t* scales, int b) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 16 * b)));
}

// 8 unsigned bytes (rows 0..7) as fp32, exact.
G4_AVX2 inline __m256 LoadPackedBytes(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// 8 int8 values (rows 0..7) as int32.
G4_AVX2 inline __m256i LoadPackedInt8(const uint8_t* p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// Q6_K: the 4-byte group of 6-bit values (0..63) that block J (0..3) of a half takes from one
// ql word vector `ql` (words 8(J % 2) + k of the half) and its qh word vector `qh` (word k):
// J = 0: low nibbles | qh bits 0-1; 1: low | bits 2-3; 2: high nibbles | bits 4-5; 3: high |
// bits 6-7 (ggml's dequantize_row_q6_K, element l, l + 32, l + 64, l + 96).
// Q6NibbleBits<J> puts block J's nibble in bits 0-3 of each byte and Q6HighBits<J> its two high
// bits in bits 4-5; the other bits hold neighbours' bits, which the merge masks off.
template <int J>
G4_AVX2 inline __m256i Q6NibbleBits(__m256i ql) {
  return J < 2 ? ql : _mm256_srli_epi16(ql, 4);
}
template <int J>
G4_AVX2 inline __m256i Q6HighBits(__m256i qh) {
  return J == 0 ? _mm256_slli_epi16(qh, 4) : J == 1 ? _mm256_slli_epi16(qh, 2)
         : J == 2 ? qh : _mm256_srli_epi16(qh, 2);
}
template <int J>
G4_AVX2 inline __m256i Q6Group(__m256i ql, __m256i qh) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30);
  return _mm256_or_si256(_mm256_and_si256(Q6NibbleBits<J>(ql), low4),
                         _mm256_and_si256(Q6HighBits<J>(qh), bits45));
}

// s = fma(float(dot), dw * d, s) for rows 0..7: the packed numerics' one step per block.
G4_AVX2 inline __m256 AddScaledBlock(__m256i dot, __m256 dw, float d, __m256 s) {
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw, _mm256_set1_ps(d)), s);
}

// acc8[r] += double(lane r of s).
G4_AVX2 inline void AddPackedChunk(__m256 s, double* acc8) {
  _mm256_storeu_pd(acc8, _mm256_add_pd(_mm256_loadu_pd(acc8),
                                       _mm256_cvtps_pd(_mm256_castps256_ps128(s))));
  _mm256_storeu_pd(acc8 + 4, _mm256_add_pd(_mm256_loadu_pd(acc8 + 4),
                                           _mm256_cvtps_pd(_mm256_extractf128_ps(s, 1))));
}

// The packed kernels' loop and dispatch (KernelTable::dot_packed), defined once and instantiated
// per ISA: the loop must carry the target of the block dot it inlines (a VNNI helper cannot be
// inlined into an AVX2-only function, and the AVX2 table must not contain VNNI code), so each
// kernel file expands this with its attribute, its `BLOCK_DOT<kIsQ8>(wg, q, isum)` (the exact
// integer dot of token q with rows 0..7 of one block) and its `DOT16(wg, q, isum16)` (Q6_K: the
// exact dot of (w - 32) over 16 elements) and its `Q6_GROUP<J>(ql, qh)` (Q6Group's contract).
// Defines the tiles and DotPacked.
#define G4_DEFINE_DOT_PACKED(ATTR, BLOCK_DOT, DOT16, Q6_GROUP)                                       \
  template <bool kIsQ8, int T>                                                                  \
  ATTR void DotPackedTile(const uint8_t* chunk, int nblocks, const Q8Act* x, double* acc) {     \
    const int64_t block_bytes = kIsQ8 ? 256 : 128;                                              \
    const uint8_t* scales = chunk;                                                              \
    const uint8_t* blocks = chunk + PackedBlocksOffset(nblocks);                                \
    __m256 s[T];                                                                                \
    for (int t = 0; t < T; ++t) s[t] = _mm256_setzero_ps();                                     \
    for (int b = 0; b < nblocks; ++b) {                                                         \
      __m256i wg[8];                                                                            \
      LoadPackedBlock<kIsQ8>(blocks + b * block_bytes, wg);                                     \
      const __m256 dw = LoadPackedScales(scales, b);                                            \
      for (int t = 0; t < T; ++t) {                                                             \
        s[t] = AddScaledBlock(BLOCK_DOT<kIsQ8>(wg, x[t].q + 32 * b, x[t].isum[b]), dw,          \
                              x[t].d[b], s[t]);                                                 \
      }                                                                                         \
    }                                                                                           \
    for (int t = 0; t < T; ++t) AddPackedChunk(s[t], acc + kPackedRows * t);                   \
  }                                                                                             \
  /* One Q4_K superblock: per 64 elements 8 vectors, whose low nibbles are group 2j and high */ \
  /* nibbles group 2j+1, each group's exact dot by BLOCK_DOT with no offset to take out. */     \
  template <int T>                                                                              \
  ATTR void DotPackedQ4KTile(const uint8_t* chunk, int, const Q8Act* x, double* acc) {          \
    const uint8_t* tail = chunk;                                                                \
    const uint8_t* nibbles = chunk + kPackedQ4KNibbles;                                         \
    const __m256 d = LoadPackedScales(tail, 0), dmin = LoadPackedScales(tail, 1);               \
    const __m256i low = _mm256_set1_epi8(0x0F);                                                 \
    __m256 s[T];                                                                                \
    for (int t = 0; t < T; ++t) s[t] = _mm256_setzero_ps();                                     \
    for (int j = 0; j < 4; ++j) {                                                               \
      for (int h = 0; h < 2; ++h) { /* the vectors are read twice (L1), to spare registers */   \
        const int g = 2 * j + h;                                                                \
        __m256i nib[8];                                                                         \
        for (int k = 0; k < 8; ++k) {                                                           \
          const __m256i v = LoadU256(nibbles + 256 * j + 32 * k);                               \
          nib[k] = _mm256_and_si256(h == 0 ? v : _mm256_srli_epi16(v, 4), low);                 \
        }                                                                                       \
        const __m256 dsc = _mm256_mul_ps(d, LoadPackedBytes(tail + 32 + 8 * g));                \
        const __m256 dm = _mm256_mul_ps(dmin, LoadPackedBytes(tail + 96 + 8 * g));              \
        for (int t = 0; t < T; ++t) {                                                           \
          s[t] = AddScaledBlock(BLOCK_DOT<false>(nib, x[t].q + 32 * g, 0), dsc, x[t].d[g],      \
                                s[t]);                                                          \
          s[t] = _mm256_fnmadd_ps(dm, _mm256_set1_ps(x[t].sum[g]), s[t]);                       \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
    for (int t = 0; t < T; ++t) AddPackedChunk(s[t], acc + kPackedRows * t);                   \
  }                                                                                             \
  /* One Q6_K 32-block b = 4h + J of a superblock: the 6-bit values rebuilt from the ql and */  \
  /* qh words (4 per row lane), each 16-group's exact dot of (q - 32) by DOT16, scaled by its */ \
  /* int8 scale in integers, one FMA. J is a template argument so Q6Group has no branches. */   \
  template <int J, int T>                                                                       \
  ATTR inline void Q6KBlock(const uint8_t* half, const uint8_t* tail, int h, __m256 d,          \
                            const Q8Act* x, __m256* s) {                                        \
    const int b = 4 * h + J;                                                                    \
    __m256i q[8];                                                                               \
    for (int k = 0; k < 8; ++k) {                                                               \
      q[k] = Q6_GROUP<J>(LoadU256(half + PackedQ6KQl(J % 2, k)), LoadU256(half + PackedQ6KQh(k))); \
    }                                                                                           \
    const __m256i sc_a = LoadPackedInt8(tail + 16 + 8 * (2 * b));                               \
    const __m256i sc_b = LoadPackedInt8(tail + 16 + 8 * (2 * b + 1));                           \
    for (int t = 0; t < T; ++t) {                                                               \
      const int8_t* xq = x[t].q + 32 * b;                                                       \
      const __m256i dot = _mm256_add_epi32(                                                     \
          _mm256_mullo_epi32(DOT16(q, xq, x[t].isum16[2 * b]), sc_a),                           \
          _mm256_mullo_epi32(DOT16(q + 4, xq + 16, x[t].isum16[2 * b + 1]), sc_b));             \
      s[t] = AddScaledBlock(dot, d, x[t].d[b], s[t]);                                           \
    }                                                                                           \
  }                                                                                             \
  /* One Q6_K superblock: its 8 blocks in order, one fp32 chain per row and token. */           \
  template <int T>                                                                              \
  ATTR void DotPackedQ6KTile(const uint8_t* chunk, int, const Q8Act* x, double* acc) {          \
    const uint8_t* tail = chunk;                                                                \
    const __m256 d = LoadPackedScales(tail, 0);                                                 \
    __m256 s[T];                                                                                \
    for (int t = 0; t < T; ++t) s[t] = _mm256_setzero_ps();                                     \
    for (int h = 0; h < 2; ++h) {                                                               \
      const uint8_t* half = chunk + PackedQ6KHalf(h);                                           \
      Q6KBlock<0, T>(half, tail, h, d, x, s);                                                   \
      Q6KBlock<1, T>(half, tail, h, d, x, s);                                                   \
      Q6KBlock<2, T>(half, tail, h, d, x, s);                                                   \
      Q6KBlock<3, T>(half, tail, h, d, x, s);                                                   \
    }                                                                                           \
    for (int t = 0; t < T; ++t) AddPackedChunk(s[t], acc + kPackedRows * t);                   \
  }                                                                                             \
  static_assert(kPackedTokenTile == 4, "update the instantiation table");                       \
  void DotPacked(GgmlType type, const uint8_t* chunk, int nblocks, const Q8Act* x, int T,       \
                 double* acc) {                                                                 \
    using Fn = void (*)(const uint8_t*, int, const Q8Act*, double*);                            \
    static constexpr Fn kTiles[4][kPackedTokenTile] = {                                         \
        {DotPackedTile<false, 1>, DotPackedTile<false, 2>, DotPackedTile<false, 3>,             \
         DotPackedTile<false, 4>},                                                              \
        {DotPackedTile<true, 1>, DotPackedTile<true, 2>, DotPackedTile<true, 3>,                \
         DotPackedTile<true, 4>},                                                               \
        {DotPackedQ4KTile<1>, DotPackedQ4KTile<2>, DotPackedQ4KTile<3>, DotPackedQ4KTile<4>},   \
        {DotPackedQ6KTile<1>, DotPackedQ6KTile<2>, DotPackedQ6KTile<3>, DotPackedQ6KTile<4>}};  \
    const int kind = type == GgmlType::kQ6_K   ? 3                                              \
                     : type == GgmlType::kQ4_K ? 2                                              \
                     : type == GgmlType::kQ8_0 ? 1                                              \
                                               : 0;                                             \
    kTiles[kind][T - 1](chunk, nblocks, x, acc);                                                \
  }

}  // namespace
}  // namespace g4::cpu::internal

#endif  // x86-64 GCC/Clang
#endif  // GEMMA4C_KERNELS_CPU_AVX2_COMMON_H_

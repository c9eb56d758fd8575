// AVX-VNNI kernels (256-bit vpdpbusd) for Q8_0 and Q4_0 weights against q8 activations; every
// other entry of the table is the AVX2 kernel's. Contracts in matmul_internal.h.
//
// Two builds of this file: as itself, the VEX encoding (AVX-VNNI: Alder Lake, Zen 5 and later;
// AvxVnniKernels), and from matmul_vnni512.cc the EVEX encoding of the same instruction on
// 256-bit registers (AVX512-VNNI + AVX512VL: Ice Lake and Sapphire Rapids servers, Zen 4;
// Avx512VnniKernels). vpdpbusd computes the same integers in both, so the two tables give the
// same bits.
//
// The integers are those of the AVX2 path: each 32-bit lane holds the exact dot product of 4
// consecutive elements, and the lanes are scaled and summed by the same FMAs in the same order,
// so results are bit-identical to the AVX2 kernels (matmul_test checks this). What changes is
// the cost per (row, token) pair and block: one vpdpbusd instead of sign + maddubs + madd.
//
// vpdpbusd multiplies UNSIGNED by signed bytes, so the weights are made unsigned: Q8_0's w + 128
// (xor 0x80) and Q4_0's stored nibbles q = w + 8. The offset K comes back out as K * sum4(x) per
// lane: that depends only on the token's block, so it is formed once per (token, block), negated,
// and used as the starting value of every row's vpdpbusd. No int16 intermediate, so no
// saturation (|lane| <= 4 * 255 * 127 + 4 * 128 * 127).
#include "cpu/matmul_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "cpu/avx2_common.h"

#ifndef G4_VNNI
#define G4_VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))
#define G4_DPBUSD _mm256_dpbusd_avx_epi32
#define G4_VNNI_TABLE AvxVnniKernels
#endif

namespace g4::cpu::internal {
namespace {

template <bool kIsQ8, int R, int T>
G4_VNNI void DotQ32TileVnni(const uint8_t* const* w, const Q8Act* x, int64_t nblocks, double* acc,
                            int64_t acc_stride, int64_t prefetch) {
  constexpr int64_t kBlockBytes = kIsQ8 ? 34 : 18;
  constexpr int64_t kChunkBlocks = kChunk / 32;
  const __m256i offset = _mm256_set1_epi8(kIsQ8 ? static_cast<char>(0x80) : 8);
  const __m256i zero = _mm256_setzero_si256();
  for (int64_t c = 0; c < nblocks; c += kChunkBlocks) {
    const int64_t end = std::min(nblocks, c + kChunkBlocks);
    __m256 s[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) s[r][t] = _mm256_setzero_ps();
    for (int64_t b = c; b < end; ++b) {
      __m256i xq[T], start[T];  // start = -K * sum4(x): the offset's share of each lane
      __m256 dx[T];
      for (int t = 0; t < T; ++t) {
        xq[t] = LoadU256(x[t].q + 32 * b);
        start[t] = _mm256_sub_epi32(zero, G4_DPBUSD(zero, offset, xq[t]));
        dx[t] = _mm256_set1_ps(x[t].d[b]);
      }
      for (int r = 0; r < R; ++r) {
        const uint8_t* block = w[r] + b * kBlockBytes;
        if (prefetch > 0) _mm_prefetch(reinterpret_cast<const char*>(block + prefetch), _MM_HINT_T0);
        const __m256 dw = BroadcastHalf(block);
        const __m256i wu = kIsQ8 ? _mm256_xor_si256(LoadU256(block + 2), offset)
                                 : LoadNibbles(block + 2);
        for (int t = 0; t < T; ++t) {
          const __m256i p = G4_DPBUSD(start[t], wu, xq[t]);
          s[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx[t]), _mm256_cvtepi32_ps(p), s[r][t]);
        }
      }
    }
    AddLanes<R, T>(s, acc, acc_stride);
  }
}

template <int R, int T>
G4_VNNI void DotQ8TileVnni(GgmlType type, const uint8_t* const* w, const Q8Act* x, int64_t n,
                           double* acc, int64_t acc_stride, int64_t pf) {
  switch (type) {
    case GgmlType::kQ8_0: return DotQ32TileVnni<true, R, T>(w, x, n / 32, acc, acc_stride, pf);
    case GgmlType::kQ4_0: return DotQ32TileVnni<false, R, T>(w, x, n / 32, acc, acc_stride, pf);
    default: return Avx2Kernels()->dot_q8(type, w, R, x, T, n, acc, acc_stride, pf);
  }
}

// ---- Panel GEMM (PanelChunk in matmul_internal.h) --------------------------------------------

// One block of a row as the 32 unsigned bytes the panel stores (element j at byte j).
template <bool kIsQ8>
G4_VNNI __m256i UnsignedBlock(const uint8_t* block) {
  if (kIsQ8) return _mm256_xor_si256(LoadU256(block + 2), _mm256_set1_epi8(static_cast<char>(0x80)));
  return LoadNibbles(block + 2);
}

template <bool kIsQ8>
G4_VNNI void PackPanelVnni(const uint8_t* const* rows, int64_t nblocks, PanelChunk* out) {
  constexpr int64_t kBlockBytes = kIsQ8 ? 34 : 18;
  for (int64_t b = 0; b < nblocks; ++b) {
    __m256i r[kPanelRows], g[kPanelRows];
    for (int i = 0; i < kPanelRows; ++i) {
      const uint8_t* block = rows[i] + b * kBlockBytes;
      r[i] = UnsignedBlock<kIsQ8>(block);
      out->d[b][i] = LoadHalf(block);
    }
    Transpose8x8Dwords(r, g);
    for (int i = 0; i < kPanelRows; ++i) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(out->w[b][i]), g[i]);
    }
  }
}

G4_VNNI void PackPanel(GgmlType type, const uint8_t* const* rows, int64_t n, PanelChunk* out) {
  if (type == GgmlType::kQ8_0) return PackPanelVnni<true>(rows, n / 32, out);
  return PackPanelVnni<false>(rows, n / 32, out);  // Q4_0: PanelOffset() takes no other type
}

// The offset vpdpbusd's unsigned weights carry: Q8_0 w + 128, Q4_0's nibbles w + 8.
int32_t PanelOffset(GgmlType type) {
  return type == GgmlType::kQ8_0 ? 128 : type == GgmlType::kQ4_0 ? 8 : -1;
}

// Lane r of s[g] is lane g of row r's chain in DotQ32TileVnni: the same exact integer
// (vpdpbusd from -K * sum4(x)), scaled by the same fp32 product dw * dx, added by the same FMA
// in block order; the lanes go to float64 in AddLanes' order.
G4_VNNI void DotPanel(const PanelChunk& w, int64_t n, const Q8Act& x, const int32_t* offset4,
                      double* acc8) {
  __m256 s[kPanelRows];
  for (int g = 0; g < kPanelRows; ++g) s[g] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m256 scale = _mm256_mul_ps(_mm256_load_ps(w.d[b]), _mm256_set1_ps(x.d[b]));
    for (int g = 0; g < 8; ++g) {
      int32_t xg;
      std::memcpy(&xg, x.q + 32 * b + 4 * g, 4);
      const __m256i wg = _mm256_load_si256(reinterpret_cast<const __m256i*>(w.w[b][g]));
      const __m256i v = G4_DPBUSD(_mm256_set1_epi32(offset4[8 * b + g]), wg,
                                                _mm256_set1_epi32(xg));
      s[g] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(v), s[g]);
    }
  }
  AddPanelLanes(s, acc8);
}

static_assert(kRowTile == 4 && kTokenTile == 2, "update the instantiation table");
using DotQ8Fn = void (*)(GgmlType, const uint8_t* const*, const Q8Act*, int64_t, double*,
                         int64_t, int64_t);
constexpr DotQ8Fn kDotQ8[kRowTile][kTokenTile] = {
    {DotQ8TileVnni<1, 1>, DotQ8TileVnni<1, 2>}, {DotQ8TileVnni<2, 1>, DotQ8TileVnni<2, 2>},
    {DotQ8TileVnni<3, 1>, DotQ8TileVnni<3, 2>}, {DotQ8TileVnni<4, 1>, DotQ8TileVnni<4, 2>}};

void DotQ8(GgmlType type, const uint8_t* const* w, int R, const Q8Act* x, int T, int64_t n,
           double* acc, int64_t acc_stride, int64_t prefetch) {
  kDotQ8[R - 1][T - 1](type, w, x, n, acc, acc_stride, prefetch);
}

// ---- Packed panels (packed_matmul.h) ----------------------------------------------------------

// Token x's exact integer dot with rows 0..7 of one packed block: vpdpbusd of the unsigned
// stored bytes (Q8_0 w + 128, Q4_0 w + 8) against the broadcast groups, started at -K * (the
// block's sum of x) to take the offset back out; two chains of 4 so the adds overlap.
template <bool kIsQ8>
G4_VNNI __m256i PackedBlockDotVnni(const __m256i (&wg)[8], const int8_t* q, int32_t isum) {
  __m256i lo = _mm256_set1_epi32(-(kIsQ8 ? 128 : 8) * isum), hi = _mm256_setzero_si256();
  for (int g = 0; g < 4; ++g) {
    lo = G4_DPBUSD(lo, wg[g], BroadcastGroup(q + 4 * g));
    hi = G4_DPBUSD(hi, wg[g + 4], BroadcastGroup(q + 4 * g + 16));
  }
  return _mm256_add_epi32(lo, hi);
}

// Q6_K: (q - 32) . x over 16 elements of rows 0..7, q unsigned (0..63) in wg[0..3]: vpdpbusd
// started at -32 * (the 16's sum), in two chains of 2 so the adds overlap.
G4_VNNI __m256i PackedDot16Vnni(const __m256i* wg, const int8_t* q, int32_t isum16) {
  __m256i lo = _mm256_set1_epi32(-32 * isum16), hi = _mm256_setzero_si256();  // two chains
  for (int g = 0; g < 2; ++g) {
    lo = G4_DPBUSD(lo, wg[g], BroadcastGroup(q + 4 * g));
    hi = G4_DPBUSD(hi, wg[g + 2], BroadcastGroup(q + 4 * g + 8));
  }
  return _mm256_add_epi32(lo, hi);
}

#ifdef G4_VNNI_PAIR
// Q6Group with AVX512VL: the nibble's bits 0-3 and the high bits' 4-7 taken in one vpternlogd
// (imm 0xE4: mask ? nibble : high, mask 0x0F per byte), then bits 6-7 cleared: one operation
// fewer per group than and + and + or, the same bytes. Why: the Q6_K GEMV is the packed kernel
// furthest from the bandwidth floor (79 % on the Zen 4 VM), bound by its ALU work per byte.
template <int J>
G4_VNNI inline __m256i Q6GroupTernlog(__m256i ql, __m256i qh) {
  const __m256i merged = _mm256_ternarylogic_epi32(Q6NibbleBits<J>(ql), Q6HighBits<J>(qh),
                                                   _mm256_set1_epi8(0x0F), 0xE4);
  return _mm256_and_si256(merged, _mm256_set1_epi8(0x3F));
}
G4_DEFINE_DOT_PACKED(G4_VNNI, PackedBlockDotVnni, PackedDot16Vnni, Q6GroupTernlog)
#else
G4_DEFINE_DOT_PACKED(G4_VNNI, PackedBlockDotVnni, PackedDot16Vnni, Q6Group)
#endif

#ifdef G4_VNNI_PAIR
// ---- Panel pairs (KernelTable::dot_packed_pair; the AVX512-VL build only: 32 registers) ------

// Groups j and j + 4 of a packed Q8_0 or Q4_0 block (rows 0..7 of each group side by side):
// the unsigned stored bytes (Q8_0 w + 128, Q4_0's nibbles w + 8), as LoadPackedBlock gives them.
template <bool kIsQ8>
G4_VNNI inline void PackedGroups(const uint8_t* block, int j, __m256i* lo, __m256i* hi) {
  if constexpr (kIsQ8) {
    *lo = LoadU256(block + 32 * j);
    *hi = LoadU256(block + 32 * (j + 4));
  } else {
    const __m256i low = _mm256_set1_epi8(0x0F);
    const __m256i v = LoadU256(block + 32 * j);
    *lo = _mm256_and_si256(v, low);
    *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
  }
}

// Per block, each token's exact integer dot with both panels' 8 rows (vpdpbusd from -K * isum,
// as PackedBlockDotVnni; integer adds in another order give the same integers), then the same
// AddScaledBlock FMA per panel as DotPackedTile: the bits of dot_packed on each panel.
template <bool kIsQ8, int T>
G4_VNNI void DotPackedPairTile(const uint8_t* chunk_a, const uint8_t* chunk_b, int nblocks,
                               const Q8Act* x, double* acc) {
  constexpr int64_t kBlockBytes = kIsQ8 ? 256 : 128;
  constexpr int32_t kOffset = kIsQ8 ? 128 : 8;
  const uint8_t* scales_a = chunk_a;  // the scales first, then the blocks (matmul_internal.h)
  const uint8_t* scales_b = chunk_b;
  const uint8_t* blocks_a = chunk_a + PackedBlocksOffset(nblocks);
  const uint8_t* blocks_b = chunk_b + PackedBlocksOffset(nblocks);
  __m256 sa[T], sb[T];  // fp32 chains per token and panel
  for (int t = 0; t < T; ++t) sa[t] = sb[t] = _mm256_setzero_ps();
  for (int b = 0; b < nblocks; ++b) {
    __m256i da[T], db[T];  // the block's int32 dots per token and panel
    for (int t = 0; t < T; ++t) da[t] = db[t] = _mm256_set1_epi32(-kOffset * x[t].isum[b]);
    for (int j = 0; j < 4; ++j) {
      __m256i wa_lo, wa_hi, wb_lo, wb_hi;
      PackedGroups<kIsQ8>(blocks_a + b * kBlockBytes, j, &wa_lo, &wa_hi);
      PackedGroups<kIsQ8>(blocks_b + b * kBlockBytes, j, &wb_lo, &wb_hi);
      for (int t = 0; t < T; ++t) {
        const int8_t* q = x[t].q + 32 * b;
        const __m256i x_lo = BroadcastGroup(q + 4 * j), x_hi = BroadcastGroup(q + 4 * j + 16);
        da[t] = G4_DPBUSD(G4_DPBUSD(da[t], wa_lo, x_lo), wa_hi, x_hi);
        db[t] = G4_DPBUSD(G4_DPBUSD(db[t], wb_lo, x_lo), wb_hi, x_hi);
      }
    }
    const __m256 dw_a = LoadPackedScales(scales_a, b), dw_b = LoadPackedScales(scales_b, b);
    for (int t = 0; t < T; ++t) {
      sa[t] = AddScaledBlock(da[t], dw_a, x[t].d[b], sa[t]);
      sb[t] = AddScaledBlock(db[t], dw_b, x[t].d[b], sb[t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    AddPackedChunk(sa[t], acc + 2 * kPackedRows * t);
    AddPackedChunk(sb[t], acc + 2 * kPackedRows * t + kPackedRows);
  }
}

// One Q4_K superblock of both panels (chunks of 8 rows each, packed_matmul.h): per 32-group g,
// each token's exact integer dots with both panels' nibbles (broadcasts shared), then per panel
// DotPackedQ4KTile's two fp32 steps (the scaled dot, then the min term) in its order.
template <int T>
G4_VNNI void DotPackedPairQ4KTile(const uint8_t* chunk_a, const uint8_t* chunk_b, int,
                                  const Q8Act* x, double* acc) {
  const uint8_t* tail_a = chunk_a;  // the tail first, then the nibbles (matmul_internal.h)
  const uint8_t* tail_b = chunk_b;
  const __m256 d_a = LoadPackedScales(tail_a, 0), dmin_a = LoadPackedScales(tail_a, 1);
  const __m256 d_b = LoadPackedScales(tail_b, 0), dmin_b = LoadPackedScales(tail_b, 1);
  const __m256i low = _mm256_set1_epi8(0x0F);
  __m256 sa[T], sb[T];
  for (int t = 0; t < T; ++t) sa[t] = sb[t] = _mm256_setzero_ps();
  for (int g = 0; g < 8; ++g) {
    const int j = g / 2, shift = 4 * (g % 2);  // group g: nibbles of vectors 256 j + 32 k
    __m256i da[T], db[T];
    for (int t = 0; t < T; ++t) da[t] = db[t] = _mm256_setzero_si256();
    for (int k = 0; k < 8; ++k) {
      const int64_t at = kPackedQ4KNibbles + 256 * j + 32 * k;
      const __m256i wa = _mm256_and_si256(_mm256_srli_epi16(LoadU256(chunk_a + at), shift), low);
      const __m256i wb = _mm256_and_si256(_mm256_srli_epi16(LoadU256(chunk_b + at), shift), low);
      for (int t = 0; t < T; ++t) {
        const __m256i xk = BroadcastGroup(x[t].q + 32 * g + 4 * k);
        da[t] = G4_DPBUSD(da[t], wa, xk);
        db[t] = G4_DPBUSD(db[t], wb, xk);
      }
    }
    const __m256 dsc_a = _mm256_mul_ps(d_a, LoadPackedBytes(tail_a + 32 + 8 * g));
    const __m256 dm_a = _mm256_mul_ps(dmin_a, LoadPackedBytes(tail_a + 96 + 8 * g));
    const __m256 dsc_b = _mm256_mul_ps(d_b, LoadPackedBytes(tail_b + 32 + 8 * g));
    const __m256 dm_b = _mm256_mul_ps(dmin_b, LoadPackedBytes(tail_b + 96 + 8 * g));
    for (int t = 0; t < T; ++t) {
      const __m256 sum = _mm256_set1_ps(x[t].sum[g]);
      sa[t] = _mm256_fnmadd_ps(dm_a, sum, AddScaledBlock(da[t], dsc_a, x[t].d[g], sa[t]));
      sb[t] = _mm256_fnmadd_ps(dm_b, sum, AddScaledBlock(db[t], dsc_b, x[t].d[g], sb[t]));
    }
  }
  for (int t = 0; t < T; ++t) {
    AddPackedChunk(sa[t], acc + 2 * kPackedRows * t);
    AddPackedChunk(sb[t], acc + 2 * kPackedRows * t + kPackedRows);
  }
}

static_assert(kPackedPairTokenTile == 6, "update the instantiation table");
void DotPackedPair(GgmlType type, const uint8_t* chunk_a, const uint8_t* chunk_b, int nblocks,
                   const Q8Act* x, int T, double* acc) {
  using Fn = void (*)(const uint8_t*, const uint8_t*, int, const Q8Act*, double*);
  static constexpr Fn kTiles[3][kPackedPairTokenTile] = {
      {DotPackedPairTile<false, 1>, DotPackedPairTile<false, 2>, DotPackedPairTile<false, 3>,
       DotPackedPairTile<false, 4>, DotPackedPairTile<false, 5>, DotPackedPairTile<false, 6>},
      {DotPackedPairTile<true, 1>, DotPackedPairTile<true, 2>, DotPackedPairTile<true, 3>,
       DotPackedPairTile<true, 4>, DotPackedPairTile<true, 5>, DotPackedPairTile<true, 6>},
      {DotPackedPairQ4KTile<1>, DotPackedPairQ4KTile<2>, DotPackedPairQ4KTile<3>,
       DotPackedPairQ4KTile<4>, DotPackedPairQ4KTile<5>, DotPackedPairQ4KTile<6>}};
  const int kind = type == GgmlType::kQ4_K ? 2 : type == GgmlType::kQ8_0 ? 1 : 0;
  kTiles[kind][T - 1](chunk_a, chunk_b, nblocks, x, acc);
}
#endif  // G4_VNNI_PAIR

}  // namespace

const KernelTable* G4_VNNI_TABLE() {
  static const KernelTable table = [] {
    KernelTable t = *Avx2Kernels();
    t.dot_q8 = DotQ8;
    t.panel_offset = PanelOffset;
    t.pack_panel = PackPanel;
    t.dot_panel = DotPanel;
    t.dot_packed = DotPacked;
#ifdef G4_VNNI_PAIR
    t.dot_packed_pair = DotPackedPair;
#endif
    return t;
  }();
  return &table;
}

}  // namespace g4::cpu::internal

#else  // not x86-64 GCC/Clang

namespace g4::cpu::internal {
const KernelTable* G4_VNNI_TABLE() { return nullptr; }
}  // namespace g4::cpu::internal

#endif

// The BF16 pair products (KernelTable::dot_bf16_pairs) for CPUs with AVX512_BF16 (Zen 4,
// Sapphire Rapids and later): packed BF16 tiles against bf16-exact activations with vdpbf16ps,
// on top of Avx512VnniKernels(). What they compute, and why a second summation order:
// docs/kernels-cpu.md, "BF16 pair products"; the order itself: matmul_internal.h,
// KernelTable::dot_bf16_pairs.
#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "cpu/matmul_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define G4_BF16 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512bf16")))

namespace g4::cpu::internal {
namespace {

// Lanes 8..15 of v (extractf32x8 would need AVX512DQ).
G4_BF16 inline __m256 UpperHalf(__m512 v) {
  return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

// The four rows' chunk sums of one accumulator (lanes 4r..4r+3 are row r's lanes l0..l3):
// ((l0 + l2) + (l1 + l3)) per row, in float64, for two tokens at once: out[2r + u] is row r of
// token u (s0: u = 0, s1: u = 1). Every add is a float64 add of the same two operands the scalar
// spelling adds, so the sums are its bits.
G4_BF16 inline __m512d RowSums2(__m512 s0, __m512 s1) {
  const __m512d a01 = _mm512_cvtps_pd(_mm512_castps512_ps256(s0));  // rows 0, 1 of token 0
  const __m512d a23 = _mm512_cvtps_pd(UpperHalf(s0));
  const __m512d b01 = _mm512_cvtps_pd(_mm512_castps512_ps256(s1));
  const __m512d b23 = _mm512_cvtps_pd(UpperHalf(s1));
  // 128-bit lanes (l0, l1) and (l2, l3) of rows 0..3 side by side, then (l0 + l2, l1 + l3).
  const __m512d a = _mm512_add_pd(_mm512_shuffle_f64x2(a01, a23, 0x88),
                                  _mm512_shuffle_f64x2(a01, a23, 0xDD));
  const __m512d b = _mm512_add_pd(_mm512_shuffle_f64x2(b01, b23, 0x88),
                                  _mm512_shuffle_f64x2(b01, b23, 0xDD));
  // (l0 + l2) + (l1 + l3), row r of token 0 and token 1 in positions 2r and 2r + 1.
  return _mm512_add_pd(_mm512_unpacklo_pd(a, b), _mm512_unpackhi_pd(a, b));
}

// NT packed tiles (4 rows each, tile_bytes apart) x T tokens over n elements (a multiple of 8):
// one vdpbf16ps per 64-byte run and token, each weight register feeding T tokens and each
// activation broadcast NT tiles. Per chunk the lanes go to float64 (RowSums2) and are added to
// the running sums, kept in RowSums2's layout so that each pair of tokens takes one vector add;
// at the end acc[token * acc_stride + row] = the sum. kStream (the GEMV): each line
// kStreamPrefetchBytes ahead is prefetched, as the other decode kernels do.
template <int NT, int T, bool kStream>
G4_BF16 void DotBf16PairsTile(const uint8_t* tiles, int64_t tile_bytes,
                              const uint16_t* const* xb, int64_t n, double* acc,
                              int64_t acc_stride) {
  constexpr int kPairs = (T + 1) / 2;  // accumulators go by pairs of tokens (the last may be 0)
  __m512d sums[NT][kPairs];            // [tile][token pair]: row r, token 2p + u at 2r + u
  for (int q = 0; q < NT; ++q)
    for (int p = 0; p < kPairs; ++p) sums[q][p] = _mm512_setzero_pd();
  for (int64_t c0 = 0; c0 < n; c0 += kBf16PairChunk) {
    const int64_t len = std::min<int64_t>(kBf16PairChunk, n - c0);
    const uint8_t* wc[NT];
    for (int q = 0; q < NT; ++q) wc[q] = tiles + q * tile_bytes + 2 * kRowTile * c0;
    __m512 s[NT][2 * kPairs];
    for (int q = 0; q < NT; ++q)
      for (int t = 0; t < 2 * kPairs; ++t) s[q][t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < len; i += 8) {
      __m512bh w[NT];
      for (int q = 0; q < NT; ++q) {
        const uint8_t* run = wc[q] + 2 * kRowTile * i;
        if constexpr (kStream) {
          _mm_prefetch(reinterpret_cast<const char*>(run + kStreamPrefetchBytes), _MM_HINT_T0);
        }
        w[q] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(run));
      }
      for (int t = 0; t < T; ++t) {
        // The token's 8 bf16 of this run in each 128-bit lane: lane 4r + j pairs row r's
        // elements 2j, 2j + 1 with x's.
        const __m512bh x = reinterpret_cast<__m512bh>(_mm512_broadcast_i32x4(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(xb[t] + c0 + i))));
        for (int q = 0; q < NT; ++q) s[q][t] = _mm512_dpbf16_ps(s[q][t], w[q], x);
      }
    }
    for (int q = 0; q < NT; ++q) {
      for (int p = 0; p < kPairs; ++p) {
        sums[q][p] = _mm512_add_pd(sums[q][p], RowSums2(s[q][2 * p], s[q][2 * p + 1]));
      }
    }
  }
  for (int q = 0; q < NT; ++q) {
    for (int p = 0; p < kPairs; ++p) {
      alignas(64) double v[8];
      _mm512_store_pd(v, sums[q][p]);
      for (int r = 0; r < kRowTile; ++r) {
        for (int u = 0; u < 2 && 2 * p + u < T; ++u) {
          acc[(2 * p + u) * acc_stride + q * kRowTile + r] = v[2 * r + u];
        }
      }
    }
  }
}

template <int NT, bool kStream, int... Ts>
constexpr auto MakeRow(std::integer_sequence<int, Ts...>) {
  using Fn = void (*)(const uint8_t*, int64_t, const uint16_t* const*, int64_t, double*, int64_t);
  return std::array<Fn, sizeof...(Ts)>{DotBf16PairsTile<NT, Ts + 1, kStream>...};
}

constexpr auto kOneTile = MakeRow<1, false>(std::make_integer_sequence<int, kBf16PairTokens>());
constexpr auto kTwoTiles = MakeRow<2, false>(std::make_integer_sequence<int, kBf16PairTokens>());
constexpr auto kStreamed = MakeRow<1, true>(std::make_integer_sequence<int, kTokenTile>());

void DotBf16Pairs(const uint8_t* tiles, int64_t tile_bytes, int ntiles, const uint16_t* const* xb,
                  int T, int64_t n, double* acc, int64_t acc_stride) {
  if (ntiles == 1 && T <= kTokenTile) {
    return kStreamed[T - 1](tiles, tile_bytes, xb, n, acc, acc_stride);
  }
  (ntiles == 1 ? kOneTile : kTwoTiles)[T - 1](tiles, tile_bytes, xb, n, acc, acc_stride);
}

}  // namespace

const KernelTable* Avx512Bf16Kernels() {
  static const KernelTable* table = []() -> const KernelTable* {
    const KernelTable* base = Avx512VnniKernels();
    if (base == nullptr) return nullptr;
    static KernelTable t = *base;
    t.dot_bf16_pairs = DotBf16Pairs;
    return &t;
  }();
  return table;
}

}  // namespace g4::cpu::internal

#else  // not x86-64 GCC/Clang

namespace g4::cpu::internal {
const KernelTable* Avx512Bf16Kernels() { return nullptr; }
}  // namespace g4::cpu::internal

#endif

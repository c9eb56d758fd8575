// kernels/common/tanh_avx2.h against the scalar functions it restates: simd::Tanhf against
// glibc's tanhf, simd::GeluTanh, RoundBf16 and Softcap (cap 30, with and without bf16 rounding)
// against ops::, bit for bit, on every input class
// (signed zeros, subnormals, the tiny, expm1 and saturated ranges, every k case of the argument
// reduction, infinities, NaNs) and on a stride through all 2^32 bit patterns. `--exhaustive`
// checks all of them (about a minute; run it after changing the header).
//
// Compiled as the AVX2 build of the emitted kernels is (-march=haswell -ffp-contract=off).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "row_ops.h"
#include "tanh_avx2.h"

namespace {

bool g_exhaustive = false;

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t ToBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Checks 8 bit patterns at a time; returns the number of mismatches (the first few printed).
struct Checker {
  uint64_t tanh_bad = 0, gelu_bad = 0, round_bad = 0, softcap_bad = 0, checked = 0;
  // One function's 8 lanes against its scalar; counts and prints (the first few) mismatches.
  static void Compare(const char* what, const uint32_t* bits, const float* x, const float* got,
                      float (*want)(float), uint64_t* bad) {
    for (int i = 0; i < 8; ++i) {
      const uint32_t w = ToBits(want(x[i]));
      if (ToBits(got[i]) != w && (*bad)++ < 5)
        std::printf("%s(%a = 0x%08x): 0x%08x, scalar 0x%08x\n", what, x[i], bits[i], ToBits(got[i]), w);
    }
  }
  void Check8(const uint32_t* bits) {
    alignas(32) float x[8], t[8], g[8], r[8], c[8], cr[8];
    for (int i = 0; i < 8; ++i) x[i] = FromBits(bits[i]);
    const __m256 v = _mm256_load_ps(x);
    _mm256_store_ps(t, g4::simd::Tanhf(v));
    _mm256_store_ps(g, g4::simd::GeluTanh(v));
    _mm256_store_ps(r, g4::simd::RoundBf16(v));
    _mm256_store_ps(c, g4::simd::Softcap(v, 30.0f, false));
    _mm256_store_ps(cr, g4::simd::Softcap(v, 30.0f, true));
    Compare("tanh", bits, x, t, [](float f) { return ::tanhf(f); }, &tanh_bad);
    Compare("gelu", bits, x, g, g4::ops::GeluTanh, &gelu_bad);
    Compare("round_bf16", bits, x, r, g4::ops::RoundBf16, &round_bad);
    Compare("softcap", bits, x, c, [](float f) { return g4::ops::Softcap(f, 30.0f, false); }, &softcap_bad);
    Compare("softcap_bf16", bits, x, cr, [](float f) { return g4::ops::Softcap(f, 30.0f, true); },
            &softcap_bad);
    checked += 8;
  }
  void ExpectNone() const {
    EXPECT_EQ(tanh_bad, 0u) << "of " << checked;
    EXPECT_EQ(gelu_bad, 0u) << "of " << checked;
    EXPECT_EQ(round_bad, 0u) << "of " << checked;
    EXPECT_EQ(softcap_bad, 0u) << "of " << 2 * checked;
  }
};

bool HasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

TEST(TanhAvx2, EqualsGlibcOnEveryInputClass) {
  if (!HasAvx2()) GTEST_SKIP() << "CPU has no AVX2";
  std::vector<uint32_t> bits;
  // Around every boundary of s_tanhf.c and s_expm1f.c (the expm1 argument is 2|x|): 2^-55, 1,
  // 22, 0.5 ln2 / 2, 1.5 ln2 / 2, 27 ln2 / 2, the k = 22/23 and 56/57 switches, inf, NaN.
  for (uint32_t edge : {0x00000000u, 0x00000001u, 0x007fffffu, 0x00800000u, 0x24000000u, 0x3e317218u,
                        0x3e851592u, 0x3f800000u, 0x4115b844u, 0x40f2a9e4u, 0x40f89d6au, 0x41a1b2e2u,
                        0x41a54b3cu, 0x41b00000u, 0x7f7fffffu, 0x7f800000u, 0x7f800001u, 0x7fc00000u,
                        0x7fffffffu}) {
    for (int64_t d = -4096; d <= 4096; ++d) {
      const uint32_t b = uint32_t(int64_t(edge) + d);
      bits.push_back(b);
      bits.push_back(b | 0x80000000u);
    }
  }
  // Every float in [-24, 24] at a stride of 37 ulps (the whole expm1 range, every k).
  for (uint32_t b = 0; b <= 0x41c00000u; b += 37) {
    bits.push_back(b);
    bits.push_back(b | 0x80000000u);
  }
  // A stride through all bit patterns.
  for (uint64_t b = 0; b < (uint64_t(1) << 32); b += 4093) bits.push_back(uint32_t(b));
  while (bits.size() % 8) bits.push_back(0);
  Checker c;
  for (size_t i = 0; i < bits.size(); i += 8) c.Check8(&bits[i]);
  c.ExpectNone();
}

TEST(TanhAvx2, EqualsGlibcOnAllFloats) {
  if (!g_exhaustive) GTEST_SKIP() << "run with --exhaustive";
  if (!HasAvx2()) GTEST_SKIP() << "CPU has no AVX2";
  Checker c;
  uint32_t bits[8];
  for (uint64_t b = 0; b < (uint64_t(1) << 32); b += 8) {
    for (int i = 0; i < 8; ++i) bits[i] = uint32_t(b + i);
    c.Check8(bits);
  }
  c.ExpectNone();
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) g_exhaustive |= std::string(argv[i]) == "--exhaustive";
  return RUN_ALL_TESTS();
}

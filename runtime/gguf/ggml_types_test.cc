// Tests of the ggml type traits, the half/bf16 conversions and the (de)quantizers.
//
// Each dequantizer is checked against a block built byte by byte here, from the layout in
// ggml_types.h, with the expected floats from a direct formula (and a few worked by hand).
#include "gguf/ggml_types.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace g4::gguf {
namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
void PutU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

std::vector<float> RandomFloats(size_t n, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// ----- traits --------------------------------------------------------------------------------

TEST(TypeTraitsTest, TableMatchesGgml) {
  struct Row { uint32_t id; const char* name; int64_t elems, bytes; };
  const Row rows[] = {{0, "f32", 1, 4},      {1, "f16", 1, 2},      {30, "bf16", 1, 2},
                      {8, "q8_0", 32, 34},   {2, "q4_0", 32, 18},   {12, "q4_k", 256, 144},
                      {14, "q6_k", 256, 210}, {3, "q4_1", 32, 20},    {6, "q5_0", 32, 22},
                      {7, "q5_1", 32, 24},    {10, "q2_k", 256, 84},  {11, "q3_k", 256, 110},
                      {13, "q5_k", 256, 176}, {20, "iq4_nl", 32, 18}, {23, "iq4_xs", 256, 136},
                      {39, "mxfp4", 32, 17}};
  static_assert(sizeof(rows) / sizeof(rows[0]) == sizeof(kAllGgmlTypes) / sizeof(GgmlType));
  for (const Row& r : rows) {
    auto t = GetTypeTraits(r.id);
    ASSERT_TRUE(t.has_value()) << r.name;
    EXPECT_STREQ(t->name, r.name);
    EXPECT_EQ(t->block_elems, r.elems) << r.name;
    EXPECT_EQ(t->block_bytes, r.bytes) << r.name;
    EXPECT_EQ(static_cast<uint32_t>(t->type), r.id);
    EXPECT_EQ(ParseTypeName(r.name), t->type);
  }
  EXPECT_FALSE(GetTypeTraits(16).has_value());   // iq2_xxs: a ggml type we do not read
  EXPECT_FALSE(GetTypeTraits(9).has_value());    // q8_1: ggml's activation type, not in files
  EXPECT_FALSE(GetTypeTraits(999).has_value());
  EXPECT_EQ(ParseTypeName("Q4_K"), GgmlType::kQ4_K);
  EXPECT_EQ(ParseTypeName("BF16"), GgmlType::kBF16);
  EXPECT_FALSE(ParseTypeName("iq2_xxs").has_value());
}

TEST(TypeTraitsTest, RowBytes) {
  EXPECT_EQ(RowBytes(GgmlType::kF32, 10), 40u);
  EXPECT_EQ(RowBytes(GgmlType::kQ8_0, 64), 68u);
  EXPECT_EQ(RowBytes(GgmlType::kQ4_K, 512), 288u);
  EXPECT_EQ(RowBytes(GgmlType::kQ6_K, 256), 210u);
  EXPECT_FALSE(RowBytes(GgmlType::kQ4_0, 33).has_value());
  EXPECT_FALSE(RowBytes(GgmlType::kF32, -1).has_value());
  EXPECT_FALSE(RowBytes(GgmlType::kF32, std::numeric_limits<int64_t>::max()).has_value());
}

// ----- half ----------------------------------------------------------------------------------

TEST(HalfTest, ExactValues) {
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(FloatToHalf(0.5f), 0x3800);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);  // largest finite half
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
}

TEST(HalfTest, RoundsTiesToEven) {
  const float ulp = std::ldexp(1.0f, -10);  // half ulp at 1.0 is 2^-10
  EXPECT_EQ(FloatToHalf(1.0f + ulp / 2), 0x3C00);      // tie, 0x3C00 is even
  EXPECT_EQ(FloatToHalf(1.0f + 3 * ulp / 2), 0x3C02);  // tie between 0x3C01 and 0x3C02
  EXPECT_EQ(FloatToHalf(1.0f + ulp / 2 + ulp / 64), 0x3C01);  // just above the tie
  EXPECT_EQ(FloatToHalf(1.0f + ulp / 2 - ulp / 64), 0x3C00);  // just below
  // Rounding up can carry into the exponent: 2 - 2^-12 is nearer 2 than 2 - 2^-10.
  EXPECT_EQ(FloatToHalf(2.0f - std::ldexp(1.0f, -12)), 0x4000);
}

TEST(HalfTest, OverflowGoesToInfinity) {
  EXPECT_EQ(FloatToHalf(65519.99f), 0x7BFF);  // below the tie with 65536
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);   // tie 65504 | 65536: even is 65536 = inf
  EXPECT_EQ(FloatToHalf(1e10f), 0x7C00);
  EXPECT_EQ(FloatToHalf(-1e10f), 0xFC00);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7C00)));
}

TEST(HalfTest, NanStaysNan) {
  const uint16_t h = FloatToHalf(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(h & 0x7C00, 0x7C00);
  EXPECT_NE(h & 0x03FF, 0);
  // A NaN whose payload sits only in the low 13 bits must not become infinity.
  const uint16_t low_payload = FloatToHalf(FromBits(0x7F800001));
  EXPECT_NE(low_payload & 0x03FF, 0);
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0xFD01)));
}

TEST(HalfTest, Subnormals) {
  const float tiny = std::ldexp(1.0f, -24);  // smallest half subnormal
  EXPECT_EQ(FloatToHalf(tiny), 0x0001);
  EXPECT_EQ(HalfToFloat(0x0001), tiny);
  EXPECT_EQ(HalfToFloat(0x03FF), 1023 * tiny);       // largest subnormal
  EXPECT_EQ(FloatToHalf(1023 * tiny), 0x03FF);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(FloatToHalf(tiny / 2), 0x0000);          // tie 0 | 1: even is 0
  EXPECT_EQ(FloatToHalf(3 * tiny / 2), 0x0002);      // tie 1 | 2: even is 2
  EXPECT_EQ(FloatToHalf(5 * tiny / 2), 0x0002);      // tie 2 | 3: even is 2
  EXPECT_EQ(FloatToHalf(tiny / 2 + tiny / 64), 0x0001);
  EXPECT_EQ(FloatToHalf(-tiny), 0x8001);
  EXPECT_EQ(FloatToHalf(1023.5f * tiny), 0x0400);    // tie 0x3FF | 0x400: rounds up to normal
  EXPECT_EQ(FloatToHalf(1e-30f), 0x0000);
  EXPECT_EQ(FloatToHalf(FromBits(0x00000001)), 0x0000);  // float subnormal
}

TEST(HalfTest, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToHalf(f), h) << std::hex << h;
  }
}

#if defined(__FLT16_MAX__)
// The compiler's _Float16 conversion (IEEE, round to nearest even) as an independent reference.
TEST(HalfTest, MatchesCompilerFloat16OnRandomFloats) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    // Exponents around the half range: subnormal, normal and overflow.
    const uint32_t bits = (rng() & 0x80000000u) | ((96u + rng() % 48u) << 23) | (rng() & 0x7FFFFF);
    const float f = FromBits(bits);
    const _Float16 ref = static_cast<_Float16>(f);
    uint16_t ref_bits;
    std::memcpy(&ref_bits, &ref, 2);
    ASSERT_EQ(FloatToHalf(f), ref_bits) << std::hex << bits;
  }
}
#endif

// ----- bf16 ----------------------------------------------------------------------------------

TEST(Bf16Test, RoundsTiesToEven) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBf16(FromBits(0x3F808000)), 0x3F80);  // tie, 0x3F80 even
  EXPECT_EQ(FloatToBf16(FromBits(0x3F818000)), 0x3F82);  // tie, rounds up to even
  EXPECT_EQ(FloatToBf16(FromBits(0x3F808001)), 0x3F81);  // above the tie
  EXPECT_EQ(FloatToBf16(FromBits(0x3F807FFF)), 0x3F80);  // below
  EXPECT_EQ(FloatToBf16(-1.0f), 0xBF80);
  EXPECT_EQ(RoundToBf16(1.00390625f), 1.0f);            // 1 + 2^-8: tie to even
}

TEST(Bf16Test, OverflowAndSpecials) {
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds to inf
  EXPECT_EQ(FloatToBf16(FromBits(0x7F7F7FFF)), 0x7F7F);              // stays finite
  EXPECT_EQ(FloatToBf16(-std::numeric_limits<float>::infinity()), 0xFF80);
  // NaN payloads only in the dropped bits must stay NaN (plain rounding would make inf).
  for (uint32_t nan_bits : {0x7F800001u, 0x7FC00000u, 0xFF800001u, 0x7FFFFFFFu}) {
    EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(FromBits(nan_bits))))) << std::hex << nan_bits;
  }
  EXPECT_EQ(FloatToBf16(FromBits(0x00000001)), 0x0000);  // subnormal rounds to zero
  EXPECT_EQ(FloatToBf16(FromBits(0x00008000)), 0x0000);  // tie to even
  EXPECT_EQ(FloatToBf16(FromBits(0x00018000)), 0x0002);
}

TEST(Bf16Test, EveryBf16RoundTrips) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = Bf16ToFloat(static_cast<uint16_t>(b));
    EXPECT_EQ(Bits(f), b << 16);
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToBf16(f), b) << std::hex << b;
  }
}

// ----- dequantizers against hand-built blocks -----------------------------------------------

TEST(DequantizeTest, Q8_0HandBuiltBlock) {
  uint8_t block[34];
  PutU16(block, 0x3800);  // d = 0.5
  for (int j = 0; j < 32; ++j) block[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16));
  float out[32];
  Dequantize(GgmlType::kQ8_0, block, out, 32);
  EXPECT_EQ(out[0], -8.0f);   // 0.5 * -16
  EXPECT_EQ(out[31], 7.5f);   // 0.5 * 15
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 0.5f * (j - 16)) << j;
}

TEST(DequantizeTest, Q4_0HandBuiltBlock) {
  uint8_t block[18];
  PutU16(block, 0x4000);  // d = 2
  // Low nibble of byte j is element j, high nibble element j + 16.
  for (int j = 0; j < 16; ++j) block[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float out[32];
  Dequantize(GgmlType::kQ4_0, block, out, 32);
  EXPECT_EQ(out[0], -16.0f);  // 2 * (0 - 8)
  EXPECT_EQ(out[15], 14.0f);  // 2 * (15 - 8)
  EXPECT_EQ(out[16], 14.0f);  // high nibble of byte 0 = 15
  EXPECT_EQ(out[31], -16.0f);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 2.0f * (j - 8)) << j;
    EXPECT_EQ(out[j + 16], 2.0f * ((15 - j) - 8)) << j;
  }
}

TEST(DequantizeTest, Q4_KHandBuiltBlock) {
  // Group g of 32 elements has 6-bit scale sc[g] and min m[g]: x = d*sc*q - dmin*m.
  const int sc[8] = {1, 2, 3, 4, 17, 33, 50, 63};
  const int m[8] = {0, 5, 10, 15, 20, 40, 60, 63};
  auto quant = [](int e) { return (e * 7) % 16; };
  uint8_t block[144] = {};
  PutU16(block, 0x3C00);      // d = 1
  PutU16(block + 2, 0x3800);  // dmin = 0.5
  uint8_t* scales = block + 4;
  for (int g = 0; g < 4; ++g) {
    // Bytes 0..3: low 6 bits scale of group g, top 2 bits = bits 4..5 of group g+4's scale.
    scales[g] = static_cast<uint8_t>(sc[g] | ((sc[g + 4] >> 4) << 6));
    // Bytes 4..7: same for the mins.
    scales[g + 4] = static_cast<uint8_t>(m[g] | ((m[g + 4] >> 4) << 6));
    // Bytes 8..11: low 4 bits of group g+4's scale (low nibble) and min (high nibble).
    scales[g + 8] = static_cast<uint8_t>((sc[g + 4] & 0xF) | ((m[g + 4] & 0xF) << 4));
  }
  uint8_t* qs = block + 16;
  for (int e = 0; e < 256; ++e) {
    // 64-element chunk c uses qs[32c .. 32c+31]: first 32 elements low nibbles, next 32 high.
    const int c = e / 64, l = e % 32;
    const bool high = (e / 32) % 2 == 1;
    qs[32 * c + l] |= static_cast<uint8_t>(high ? quant(e) << 4 : quant(e));
  }
  std::vector<float> out(256);
  Dequantize(GgmlType::kQ4_K, block, out.data(), 256);
  EXPECT_EQ(out[0], 0.0f);     // q=0, sc=1, m=0
  EXPECT_EQ(out[33], 11.5f);   // group 1: q = 231 % 16 = 7; 1*2*7 - 0.5*5
  EXPECT_EQ(out[255], 535.5f); // group 7: q = 1785 % 16 = 9; 63*9 - 0.5*63
  for (int e = 0; e < 256; ++e) {
    const int g = e / 32;
    EXPECT_EQ(out[e], 1.0f * sc[g] * quant(e) - 0.5f * m[g]) << e;
  }
}

TEST(DequantizeTest, Q6_KHandBuiltBlock) {
  auto quant = [](int e) { return (e * 5 + 3) % 64; };  // unsigned 6-bit, value is q - 32
  auto scale = [](int g) { return g - 8; };             // int8 per 16 elements, some negative
  uint8_t block[210] = {};
  uint8_t* ql = block;
  uint8_t* qh = block + 128;
  int8_t* scales = reinterpret_cast<int8_t*>(block + 192);
  PutU16(block + 208, 0x3400);  // d = 0.25
  for (int g = 0; g < 16; ++g) scales[g] = static_cast<int8_t>(scale(g));
  for (int e = 0; e < 256; ++e) {
    // Half n (128 elements) uses ql[64n..], qh[32n..]; within it element l + 32k (k < 4).
    const int n = e / 128, k = (e % 128) / 32, l = e % 32;
    const int q = quant(e);
    uint8_t& lo = ql[64 * n + l + 32 * (k & 1)];
    lo |= static_cast<uint8_t>(k < 2 ? (q & 0xF) : (q & 0xF) << 4);
    qh[32 * n + l] |= static_cast<uint8_t>((q >> 4) << (2 * k));
  }
  std::vector<float> out(256);
  Dequantize(GgmlType::kQ6_K, block, out.data(), 256);
  EXPECT_EQ(out[0], 58.0f);    // q=3, sc=-8: 0.25 * -8 * (3 - 32)
  EXPECT_EQ(out[200], 11.0f);  // q = 1003 % 64 = 43, group 12 sc=4: 0.25 * 4 * 11
  for (int e = 0; e < 256; ++e) {
    EXPECT_EQ(out[e], 0.25f * scale(e / 16) * (quant(e) - 32)) << e;
  }
}

TEST(DequantizeTest, FloatTypes) {
  const float in[4] = {1.0f, -2.5f, 0.0f, 3.0e4f};
  uint8_t f16[8], bf16[8];
  for (int i = 0; i < 4; ++i) {
    PutU16(f16 + 2 * i, FloatToHalf(in[i]));
    PutU16(bf16 + 2 * i, FloatToBf16(in[i]));
  }
  float out[4];
  Dequantize(GgmlType::kF16, f16, out, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], HalfToFloat(FloatToHalf(in[i])));
  Dequantize(GgmlType::kBF16, bf16, out, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], RoundToBf16(in[i]));
  Dequantize(GgmlType::kF32, in, out, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], in[i]);
}

// ----- quantizers ----------------------------------------------------------------------------

std::vector<float> RoundTrip(GgmlType type, const std::vector<float>& x) {
  std::vector<uint8_t> q(*RowBytes(type, static_cast<int64_t>(x.size())));
  EXPECT_TRUE(Quantize(type, x.data(), q.data(), static_cast<int64_t>(x.size())).ok());
  std::vector<float> y(x.size());
  Dequantize(type, q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

TEST(QuantizeTest, RejectsPartialBlocks) {
  float x[40] = {};
  uint8_t out[64];
  const absl::Status s = Quantize(GgmlType::kQ8_0, x, out, 40);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("multiple"), std::string::npos) << s;
  EXPECT_FALSE(Quantize(GgmlType::kQ4_K, x, out, 40).ok());
}

// Q8_0 reproduces ggml: d = half(amax/127), q = round(x * 127/amax).
TEST(QuantizeTest, Q8_0MatchesFormula) {
  const std::vector<float> x = RandomFloats(128, 1, -3, 3);
  const std::vector<float> y = RoundTrip(GgmlType::kQ8_0, x);
  for (size_t b = 0; b < x.size(); b += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b + j]));
    const float d = amax / 127, id = 1 / d;
    const float dh = HalfToFloat(FloatToHalf(d));
    for (int j = 0; j < 32; ++j) {
      EXPECT_EQ(y[b + j], dh * std::round(x[b + j] * id)) << b + j;
      EXPECT_LE(std::fabs(y[b + j] - x[b + j]), 0.5f * d + 127 * std::fabs(dh - d)) << b + j;
    }
  }
}

// Q4_0: the largest-magnitude element is reproduced exactly up to the half rounding of d.
TEST(QuantizeTest, Q4_0ErrorBound) {
  const std::vector<float> x = RandomFloats(256, 2, -2, 2);
  const std::vector<float> y = RoundTrip(GgmlType::kQ4_0, x);
  for (size_t b = 0; b < x.size(); b += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b + j]));
    // Step amax/8; the far end of the range is one step short (q=+8 clamps to 7).
    for (int j = 0; j < 32; ++j) EXPECT_LE(std::fabs(y[b + j] - x[b + j]), amax / 8 * 1.01f);
  }
}

// Bounds for data in [-1, 1]. Q4_K: a step is up to 2/15 of the group range, with 6-bit group
// scales. Q6_K: a step is amax/32 per 16-group, and the end opposite to the largest-magnitude
// element can clamp by up to a whole step (the range is -32..31).
struct KQuantCase {
  GgmlType type;
  float max_abs_error;
  float rms_error;
};
void PrintTo(const KQuantCase& c, std::ostream* os) { *os << Traits(c.type).name; }

class KQuantTest : public ::testing::TestWithParam<KQuantCase> {};

TEST_P(KQuantTest, UniformDataWithinBound) {
  const KQuantCase c = GetParam();
  const std::vector<float> x = RandomFloats(256 * 16, 3);
  const std::vector<float> y = RoundTrip(c.type, x);
  double sq = 0, worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double e = std::fabs(double(y[i]) - x[i]);
    worst = std::max(worst, e);
    sq += e * e;
  }
  const double rms = std::sqrt(sq / x.size());
  EXPECT_LE(worst, c.max_abs_error);
  EXPECT_LE(rms, c.rms_error);
}

// Awkward blocks: all-zero, constant, all positive, all negative, tiny, one outlier.
TEST_P(KQuantTest, AwkwardBlocksStayFiniteAndClose) {
  const KQuantCase c = GetParam();
  std::vector<float> x(256 * 6);
  std::vector<float> noise = RandomFloats(x.size(), 4);
  for (int i = 0; i < 256; ++i) {
    x[i] = 0;
    x[256 + i] = 0.75f;
    x[512 + i] = 0.5f + 0.5f * std::fabs(noise[i]);
    x[768 + i] = -0.5f - 0.5f * std::fabs(noise[i]);
    x[1024 + i] = 1e-6f * noise[i];
    x[1280 + i] = i == 77 ? 1.0f : 0.01f * noise[i];
  }
  const std::vector<float> y = RoundTrip(c.type, x);
  for (int blk = 0; blk < 6; ++blk) {
    float amax = 0;
    for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(x[256 * blk + i]));
    for (int i = 0; i < 256; ++i) {
      const size_t k = 256 * blk + i;
      ASSERT_TRUE(std::isfinite(y[k])) << k;
      // The bound for [-1, 1] data scales with the block's magnitude. Block 4 (|x| < 1e-6)
      // is the exception: its f16 super-block scales underflow (a limit of the format, not of
      // the quantizer), so values may collapse towards zero but never beyond their magnitude.
      const float bound = blk == 4 ? amax : c.max_abs_error * amax;
      EXPECT_LE(std::fabs(y[k] - x[k]), bound) << "block " << blk << " elem " << i;
    }
  }
  for (int i = 0; i < 256; ++i) EXPECT_EQ(y[i], 0.0f);
}

// Bounds: measured on this data (docs/gguf.md) plus ~15%; Q5_0's and Q3_K's symmetric
// formats clamp the opposite end of the largest element a step short, MXFP4's top levels are
// 4 (doubled E2M1) units apart.
INSTANTIATE_TEST_SUITE_P(KQuants, KQuantTest,
                         ::testing::Values(KQuantCase{GgmlType::kQ4_K, 0.1f, 0.04f},
                                           KQuantCase{GgmlType::kQ6_K, 0.035f, 0.01f},
                                           KQuantCase{GgmlType::kQ4_1, 0.075f, 0.04f},
                                           KQuantCase{GgmlType::kQ5_0, 0.07f, 0.02f},
                                           KQuantCase{GgmlType::kQ5_1, 0.037f, 0.019f},
                                           KQuantCase{GgmlType::kQ2_K, 0.38f, 0.145f},
                                           KQuantCase{GgmlType::kQ3_K, 0.28f, 0.077f},
                                           KQuantCase{GgmlType::kQ5_K, 0.052f, 0.018f},
                                           KQuantCase{GgmlType::kIQ4_NL, 0.13f, 0.041f},
                                           KQuantCase{GgmlType::kIQ4_XS, 0.13f, 0.041f},
                                           KQuantCase{GgmlType::kMXFP4, 0.27f, 0.09f}),
                         [](const auto& info) { return std::string(Traits(info.param.type).name); });

TEST(QuantizeTest, NonFiniteInputDoesNotCrash) {
  std::vector<float> x(256, 1.0f);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[100] = std::numeric_limits<float>::infinity();
  x[200] = -std::numeric_limits<float>::infinity();
  for (GgmlType t : kAllGgmlTypes) {
    std::vector<uint8_t> q(*RowBytes(t, 256));
    EXPECT_TRUE(Quantize(t, x.data(), q.data(), 256).ok());
  }
}

}  // namespace
}  // namespace g4::gguf

// Tests of cpu::MatMul: every dtype x {exact, q8 activations} x {AVX2, portable} x {no pool,
// 2 threads, 3 threads} over GEMV and GEMM shapes with odd sizes, against
//   (a) gguf::Dequantize + a float64 product, within the bound each path documents:
//       exact path:  |y - y64| <= 2.5e-6 * sum_i |w_i x_i|. Within a 256-chunk a lane adds at
//                    most 32 fused products in fp32 (<= 32 roundings of 2^-24 relative to the
//                    running |sum|), chunks are summed in float64 and the result is rounded once
//                    more: ~33.5 * 2^-24 = 2.0e-6, the portable path (unfused) one rounding more.
//       q8 path:     |y - y64| <= sum_i |w_i| * 0.5001 * d_b(i) + 4e-6 * sum_i M_i (|x_i| + d_b(i)),
//                    d_b = amax/127 of the 32-block holding i: rounding x to d_b * q errs by at
//                    most d_b / 2 per element (+ fp32 error of x / d_b), and every weight (Q4_K:
//                    scale part and min part alike) multiplies the rounded x; 4e-6 covers the
//                    <= 10 fp32 roundings per lane and chunk of terms of size M_i |xhat_i|, where
//                    M_i = |w_i|, or for Q4_K d*sc*q + dmin*m <= |w_i| + 2*dmin*m.
//   (b) the other ISA: the q8 activations are the same for both, so only fp32 rounding differs.
//   (c) bitwise identity across thread counts.
#include "cpu/matmul.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "common/row_ops.h"
#include "cpu/matmul_internal.h"
#include "cpu/packed_matmul.h"
#include "gtest/gtest.h"

namespace g4::cpu {
namespace {

using gguf::GgmlType;

struct Shape {
  int64_t in, out, tokens;
};

bool IsQuantized(GgmlType t) {
  return t != GgmlType::kF32 && t != GgmlType::kF16 && t != GgmlType::kBF16;
}

// The types added after the first seven: their test weights are random blocks (every bit
// pattern of the quants, scales and mins) with the block scales set to sizes real layers have.
bool IsAddedType(GgmlType t) {
  switch (t) {
    case GgmlType::kQ4_1: case GgmlType::kQ5_0: case GgmlType::kQ5_1: case GgmlType::kQ2_K:
    case GgmlType::kQ3_K: case GgmlType::kQ5_K: case GgmlType::kIQ4_NL: case GgmlType::kIQ4_XS:
    case GgmlType::kMXFP4:
      return true;
    default:
      return false;
  }
}

// GEMV and GEMM shapes with odd sizes: `in` leaves a partial 256-chunk (and, for the float
// types, a partial 8-vector); `out` leaves partial row tiles; tokens 1..9 leave partial token
// tiles, and 70 spans two token blocks.
std::vector<Shape> ShapesFor(GgmlType type) {
  std::vector<int64_t> ins;
  switch (type) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16: ins = {1, 7, 37, 256, 300, 1001}; break;
    default:
      ins = gguf::Traits(type).block_elems == 256 ? std::vector<int64_t>{256, 512, 768}
                                                  : std::vector<int64_t>{32, 96, 288, 800};
      break;
  }
  std::vector<Shape> shapes;
  for (int64_t in : ins) {
    for (int64_t out : {1, 3, 7, 13}) {
      for (int64_t tokens : {1, 2, 3, 5, 9}) shapes.push_back({in, out, tokens});
    }
  }
  shapes.push_back({ins.back(), 5, 70});
  return shapes;
}

struct Weights {
  std::vector<uint8_t> bytes;
  std::vector<float> deq;        // reference dequantization, [out][in]
  std::vector<float> magnitude;  // M_i of the q8 bound's fp32 part, [out][in]
};

void StoreHalf(uint8_t* p, float f) {
  const uint16_t h = gguf::FloatToHalf(f);
  std::memcpy(p, &h, 2);
}
float LoadHalfAt(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return gguf::HalfToFloat(h);
}

// Random bytes, then each block's f16 scales (and MXFP4's exponent) set to realistic sizes,
// with a random sign for the symmetric types' d (ggml's quantizers write negative ones).
void FillRandomBlocks(GgmlType type, std::mt19937& rng, std::vector<uint8_t>& bytes) {
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(byte(rng));
  auto u = [&](float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); };
  auto sign = [&] { return byte(rng) < 128 ? -1.0f : 1.0f; };
  const int64_t bb = gguf::Traits(type).block_bytes;
  for (size_t o = 0; o + bb <= bytes.size(); o += bb) {
    uint8_t* b = bytes.data() + o;
    switch (type) {
      case GgmlType::kQ4_1: StoreHalf(b, u(1e-3f, 1e-2f)); StoreHalf(b + 2, u(-0.08f, 0)); break;
      case GgmlType::kQ5_0: StoreHalf(b, sign() * u(1e-3f, 6e-3f)); break;
      case GgmlType::kQ5_1: StoreHalf(b, u(5e-4f, 5e-3f)); StoreHalf(b + 2, u(-0.08f, 0)); break;
      case GgmlType::kQ2_K: StoreHalf(b + 80, u(2e-3f, 1e-2f)); StoreHalf(b + 82, u(5e-4f, 4e-3f)); break;
      case GgmlType::kQ3_K: StoreHalf(b + 108, sign() * u(5e-4f, 3e-3f)); break;
      case GgmlType::kQ5_K: StoreHalf(b, u(2e-4f, 2e-3f)); StoreHalf(b + 2, u(2e-4f, 2e-3f)); break;
      case GgmlType::kIQ4_NL: StoreHalf(b, sign() * u(2e-4f, 1e-3f)); break;
      case GgmlType::kIQ4_XS: StoreHalf(b, sign() * u(2e-5f, 1e-4f)); break;
      case GgmlType::kMXFP4: b[0] = static_cast<uint8_t>(118 + byte(rng) % 7); break;
      default: break;
    }
  }
}

// |offset| of every element of a row of an added type with offsets (0 for the others): the
// q8 bound's M_i is |w_i| + 2 |offset_i| (the scale part is at most |w_i| + |offset_i|).
float AddedTypeOffset(GgmlType type, const uint8_t* row, int64_t i) {
  const int64_t bb = gguf::Traits(type).block_bytes;
  switch (type) {
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_1: return std::fabs(LoadHalfAt(row + i / 32 * bb + 2));
    case GgmlType::kQ2_K: {
      const uint8_t* b = row + i / 256 * bb;
      return std::fabs(LoadHalfAt(b + 82)) * (b[i % 256 / 16] >> 4);
    }
    case GgmlType::kQ5_K: {
      const uint8_t* b = row + i / 256 * bb;
      uint8_t sc, m;
      gguf::GetScaleMinK4(static_cast<int>(i % 256 / 32), b + 4, &sc, &m);
      return std::fabs(LoadHalfAt(b + 2)) * m;
    }
    default: return 0;
  }
}

// Weights from a normal distribution (a few large ones, as real layers have), quantized by the
// reference quantizer; for the added types random blocks (FillRandomBlocks).
Weights MakeWeights(GgmlType type, int64_t in, int64_t out, uint32_t seed) {
  if (IsAddedType(type)) {
    std::mt19937 rng(seed);
    Weights w;
    const int64_t row_bytes = static_cast<int64_t>(*gguf::RowBytes(type, in));
    w.bytes.resize(static_cast<size_t>(row_bytes * out));
    FillRandomBlocks(type, rng, w.bytes);
    w.deq.resize(static_cast<size_t>(in * out));
    gguf::Dequantize(type, w.bytes.data(), w.deq.data(), in * out);
    w.magnitude.resize(w.deq.size());
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t i = 0; i < in; ++i) {
        w.magnitude[o * in + i] = std::fabs(w.deq[o * in + i]) +
                                  2 * AddedTypeOffset(type, w.bytes.data() + o * row_bytes, i);
      }
    }
    return w;
  }
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> src(static_cast<size_t>(in * out));
  for (float& v : src) v = normal(rng);
  for (size_t i = 0; i < src.size(); i += 97) src[i] *= 8;  // outliers
  Weights w;
  const int64_t row_bytes = static_cast<int64_t>(*gguf::RowBytes(type, in));
  w.bytes.resize(static_cast<size_t>(row_bytes * out));
  EXPECT_TRUE(gguf::Quantize(type, src.data(), w.bytes.data(), in * out).ok());
  w.deq.resize(src.size());
  gguf::Dequantize(type, w.bytes.data(), w.deq.data(), in * out);
  w.magnitude.resize(src.size());
  for (size_t i = 0; i < src.size(); ++i) w.magnitude[i] = std::fabs(w.deq[i]);
  if (type == GgmlType::kQ4_K) {  // d*sc*q + dmin*m = w + 2*dmin*m <= |w| + 2*dmin*m
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t b = 0; b < in / 256; ++b) {
        const uint8_t* block = w.bytes.data() + o * row_bytes + b * 144;
        uint16_t h;
        std::memcpy(&h, block + 2, 2);
        const float dmin = gguf::HalfToFloat(h);
        for (int g = 0; g < 8; ++g) {
          uint8_t sc, m;
          gguf::GetScaleMinK4(g, block + 4, &sc, &m);
          for (int l = 0; l < 32; ++l) w.magnitude[o * in + b * 256 + g * 32 + l] += 2 * dmin * m;
        }
      }
    }
  }
  return w;
}

std::vector<float> MakeActivations(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = normal(rng);
  for (size_t i = 5; i < x.size(); i += 61) x[i] *= 20;  // activation outliers
  return x;
}

// The q8 scale the kernels use for the 32-block holding element i of a row.
std::vector<float> Q8Scales(const std::vector<float>& x, int64_t in, int64_t tokens) {
  std::vector<float> d(x.size());
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t b = 0; b < in / 32; ++b) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[t * in + b * 32 + j]));
      for (int j = 0; j < 32; ++j) d[t * in + b * 32 + j] = amax / 127.0f;
    }
  }
  return d;
}

struct Reference {
  std::vector<double> y;            // float64 product
  std::vector<double> bound;        // the path's bound vs y (check a)
  std::vector<double> fp_bound;     // fp32-rounding part only (check b)
};

Reference ComputeReference(const Weights& w, const std::vector<float>& x, const Shape& s,
                           bool q8) {
  const std::vector<float> d = q8 ? Q8Scales(x, s.in, s.tokens) : std::vector<float>();
  Reference ref;
  ref.y.resize(static_cast<size_t>(s.tokens * s.out));
  ref.bound.resize(ref.y.size());
  ref.fp_bound.resize(ref.y.size());
  for (int64_t t = 0; t < s.tokens; ++t) {
    for (int64_t o = 0; o < s.out; ++o) {
      double y = 0, abs_wx = 0, q8_err = 0, m_abs_x = 0;
      for (int64_t i = 0; i < s.in; ++i) {
        const double wi = w.deq[o * s.in + i], xi = x[t * s.in + i];
        y += wi * xi;
        abs_wx += std::fabs(wi * xi);
        if (q8) {
          const double m = w.magnitude[o * s.in + i];
          q8_err += std::fabs(wi) * 0.5001 * d[t * s.in + i];
          m_abs_x += m * (std::fabs(xi) + d[t * s.in + i]);
        }
      }
      const size_t k = static_cast<size_t>(t * s.out + o);
      ref.y[k] = y;
      ref.fp_bound[k] = q8 ? 4e-6 * m_abs_x : 2.5e-6 * abs_wx;
      ref.bound[k] = ref.fp_bound[k] + q8_err;
    }
  }
  return ref;
}

std::vector<float> RunMatMul(GgmlType type, const Weights& w, const std::vector<float>& x,
                       const Shape& s, Isa isa, ActivationPrecision act, ThreadPool* pool,
                       bool round_bf16 = false) {
  std::vector<float> y(static_cast<size_t>(s.tokens * s.out), std::nanf(""));
  MatMulOptions options;
  options.isa = isa;
  options.activations = act;
  options.pool = pool;
  options.round_bf16 = round_bf16;
  const absl::Status status =
      MatMul(type, w.bytes.data(), s.in, s.out, x.data(), s.tokens, y.data(), options);
  EXPECT_TRUE(status.ok()) << status;
  return y;
}

// Each element of `rounded` is ops::RoundBf16 of the same element of `plain` (which must hold
// values that are not already bf16, or the check would prove nothing: counted in `changed`).
void ExpectRoundedToBf16(const std::vector<float>& plain, const std::vector<float>& rounded) {
  ASSERT_EQ(plain.size(), rounded.size());
  size_t changed = 0;
  for (size_t k = 0; k < plain.size(); ++k) {
    const float want = ops::RoundBf16(plain[k]);
    ASSERT_EQ(0, std::memcmp(&want, &rounded[k], 4))
        << "element " << k << ": " << rounded[k] << ", RoundBf16(" << plain[k] << ") = " << want;
    changed += want != plain[k];
  }
  EXPECT_GT(changed, plain.size() / 2) << "the unrounded products were mostly bf16 already";
}

using Param = std::tuple<GgmlType, ActivationPrecision>;

class MatMulTest : public ::testing::TestWithParam<Param> {
 protected:
  GgmlType type() const { return std::get<0>(GetParam()); }
  ActivationPrecision activations() const { return std::get<1>(GetParam()); }
  bool q8() const {
    return IsQuantized(type()) && activations() == ActivationPrecision::kQ8;
  }
  void SkipWithoutAvx2(Isa isa) {
    if (isa == Isa::kAvx2 && !CpuHasAvx2()) GTEST_SKIP() << "CPU has no AVX2/FMA/F16C";
  }

  // (a) and (c) for one ISA.
  void CheckAgainstReference(Isa isa) {
    ThreadPool pool2(2), pool3(3);
    uint32_t seed = 1;
    for (const Shape& s : ShapesFor(type())) {
      SCOPED_TRACE(testing::Message() << "in=" << s.in << " out=" << s.out
                                      << " tokens=" << s.tokens);
      const Weights w = MakeWeights(type(), s.in, s.out, seed++);
      const std::vector<float> x = MakeActivations(s.in * s.tokens, seed++);
      const Reference ref = ComputeReference(w, x, s, q8());
      const std::vector<float> y1 = RunMatMul(type(), w, x, s, isa, activations(), nullptr);
      int bad = 0;
      for (size_t k = 0; k < y1.size() && bad < 5; ++k) {
        const double err = std::fabs(y1[k] - ref.y[k]);
        if (!(err <= ref.bound[k])) {
          ++bad;
          ADD_FAILURE() << "y[" << k / s.out << "][" << k % s.out << "] = " << y1[k]
                        << ", float64 reference " << ref.y[k] << ": error " << err
                        << " > bound " << ref.bound[k];
        }
      }
      for (ThreadPool* pool : {&pool2, &pool3}) {
        const std::vector<float> yn = RunMatMul(type(), w, x, s, isa, activations(), pool);
        EXPECT_EQ(0, std::memcmp(y1.data(), yn.data(), y1.size() * sizeof(float)))
            << pool->num_threads() << " threads differ from 1";
      }
    }
  }
};

TEST_P(MatMulTest, Avx2MatchesFloat64ReferenceForAnyThreadCount) {
  SkipWithoutAvx2(Isa::kAvx2);
  CheckAgainstReference(Isa::kAvx2);
}

TEST_P(MatMulTest, PortableMatchesFloat64ReferenceForAnyThreadCount) {
  CheckAgainstReference(Isa::kPortable);
}

TEST_P(MatMulTest, Avx2AgreesWithPortable) {
  SkipWithoutAvx2(Isa::kAvx2);
  ThreadPool pool(2);
  uint32_t seed = 1000;
  for (const Shape& s : ShapesFor(type())) {
    SCOPED_TRACE(testing::Message() << "in=" << s.in << " out=" << s.out
                                    << " tokens=" << s.tokens);
    const Weights w = MakeWeights(type(), s.in, s.out, seed++);
    const std::vector<float> x = MakeActivations(s.in * s.tokens, seed++);
    const Reference ref = ComputeReference(w, x, s, q8());
    const std::vector<float> ya = RunMatMul(type(), w, x, s, Isa::kAvx2, activations(), &pool);
    const std::vector<float> yp = RunMatMul(type(), w, x, s, Isa::kPortable, activations(), nullptr);
    for (size_t k = 0; k < ya.size(); ++k) {
      ASSERT_LE(std::fabs(double(ya[k]) - yp[k]), 2 * ref.fp_bound[k]) << "element " << k;
    }
  }
}

// AVX-VNNI computes the same integers and scales them with the same FMAs as AVX2: bitwise equal.
TEST_P(MatMulTest, AvxVnniEqualsAvx2Bitwise) {
  if (!CpuHasAvxVnni()) GTEST_SKIP() << "CPU has no AVX-VNNI";
  ThreadPool pool(2);
  uint32_t seed = 3000;
  for (const Shape& s : ShapesFor(type())) {
    SCOPED_TRACE(testing::Message() << "in=" << s.in << " out=" << s.out
                                    << " tokens=" << s.tokens);
    const Weights w = MakeWeights(type(), s.in, s.out, seed++);
    const std::vector<float> x = MakeActivations(s.in * s.tokens, seed++);
    const std::vector<float> ya = RunMatMul(type(), w, x, s, Isa::kAvx2, activations(), nullptr);
    const std::vector<float> yv = RunMatMul(type(), w, x, s, Isa::kAvxVnni, activations(), &pool);
    EXPECT_EQ(0, std::memcmp(ya.data(), yv.data(), ya.size() * sizeof(float)));
  }
}

// A token's outputs do not depend on the batch it is in: the GEMV (one token, one kernel call
// per row tile) equals the same token's row of a GEMM (chunk by chunk, token tiles), bitwise.
TEST_P(MatMulTest, BatchedTokensEqualOneTokenAtATime) {
  for (Isa isa : {Isa::kAuto, Isa::kAvx2, Isa::kPortable}) {
    if (isa == Isa::kAvx2 && !CpuHasAvx2()) continue;
    const Shape s = ShapesFor(type()).back();  // 5 rows x 70 tokens: several token tiles
    const Weights w = MakeWeights(type(), s.in, s.out, 91);
    const std::vector<float> x = MakeActivations(s.in * s.tokens, 92);
    const std::vector<float> batch = RunMatMul(type(), w, x, s, isa, activations(), nullptr);
    for (int64_t t = 0; t < s.tokens; ++t) {
      const std::vector<float> xt(x.begin() + t * s.in, x.begin() + (t + 1) * s.in);
      const std::vector<float> yt =
          RunMatMul(type(), w, xt, Shape{s.in, s.out, 1}, isa, activations(), nullptr);
      ASSERT_EQ(0, std::memcmp(yt.data(), batch.data() + t * s.out, yt.size() * sizeof(float)))
          << "token " << t;
    }
  }
}

// The AVX2 activation quantizer follows the portable rule bit for bit: Gaussian blocks, blocks
// with NaN, +-inf, all zeros, -0, exact .5 ties of x / d, a lone outlier, denormals.
TEST(QuantizeQ8, Avx2EqualsPortableBitwise) {
  if (!CpuHasAvx2()) GTEST_SKIP() << "no AVX2";
  constexpr int64_t kBlocks = 64;
  std::vector<float> x(kBlocks * 32);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  for (int j = 0; j < 32; ++j) {
    x[1 * 32 + j] = 0.0f;                          // d = 0
    x[2 * 32 + j] = j % 2 ? -0.0f : 0.0f;
    x[3 * 32 + j] = float(j - 16) * 0.5f;          // amax 8: x / d hits ties of .5 steps
    x[4 * 32 + j] = float(j) * 127.0f / 31.0f;
    x[5 * 32 + j] = 1e-40f * float(j);             // denormals
  }
  x[6 * 32 + 3] = std::nanf("");
  x[7 * 32 + 0] = INFINITY;
  x[8 * 32 + 31] = -INFINITY;
  x[9 * 32 + 5] = 1e4f;                            // one outlier sets the block's scale
  x[10 * 32 + 0] = std::nanf(""), x[10 * 32 + 1] = INFINITY;
  const g4::cpu::internal::KernelTable* avx2 = g4::cpu::internal::Avx2Kernels();
  ASSERT_NE(avx2, nullptr);
  std::vector<int8_t> qa(x.size()), qp(x.size());
  std::vector<float> da(kBlocks), dp(kBlocks), sa(kBlocks), sp(kBlocks);
  avx2->quantize_q8(x.data(), kBlocks, qa.data(), da.data(), sa.data());
  g4::cpu::internal::PortableKernels().quantize_q8(x.data(), kBlocks, qp.data(), dp.data(),
                                                   sp.data());
  EXPECT_EQ(0, std::memcmp(qa.data(), qp.data(), qa.size()));
  EXPECT_EQ(0, std::memcmp(da.data(), dp.data(), da.size() * 4));
  EXPECT_EQ(0, std::memcmp(sa.data(), sp.data(), sa.size() * 4));
  EXPECT_EQ(qp[3 * 32 + 0], -127) << "amax 8: -8 / (8/127) rounds to -127";
  EXPECT_EQ(dp[1], 0.0f);
  EXPECT_EQ(qp[6 * 32 + 3], 0) << "a NaN element quantizes to 0";
  EXPECT_EQ(qp[7 * 32 + 1], 0) << "an inf scale makes 1 / d = 0";
}

// The panel GEMM (8 rows packed per chunk; Q8_0/Q4_0 with AVX2 or AVX-VNNI, >= 8 tokens) over
// several panels, a partial last panel, a partial last chunk and two balanced token blocks, on
// 2 threads: every token's row equals its GEMV (the 4-row kernels), bitwise.
TEST_P(MatMulTest, PanelGemmEqualsGemvBitwise) {
  if (type() != GgmlType::kQ8_0 && type() != GgmlType::kQ4_0) GTEST_SKIP();
  if (activations() != ActivationPrecision::kQ8 || !CpuHasAvx2()) GTEST_SKIP();
  ThreadPool pool(2);
  for (Isa isa : {Isa::kAuto, Isa::kAvx2}) {
    for (const Shape s : {Shape{288, 21, 9}, Shape{512, 16, 70}}) {
      const Weights w = MakeWeights(type(), s.in, s.out, 93);
      const std::vector<float> x = MakeActivations(s.in * s.tokens, 94);
      const std::vector<float> batch = RunMatMul(type(), w, x, s, isa, activations(), &pool);
      for (int64_t t = 0; t < s.tokens; ++t) {
        const std::vector<float> xt(x.begin() + t * s.in, x.begin() + (t + 1) * s.in);
        const std::vector<float> yt =
            RunMatMul(type(), w, xt, Shape{s.in, s.out, 1}, isa, activations(), nullptr);
        ASSERT_EQ(0, std::memcmp(yt.data(), batch.data() + t * s.out, yt.size() * sizeof(float)))
            << "in " << s.in << " out " << s.out << " token " << t;
      }
    }
  }
}

// MatMulOptions::round_bf16 rounds every stored element exactly as rounding Y afterwards would,
// on every route: GEMV (1 and 2 tokens), row tiles, panel GEMM, both ISAs, 1 and 2 threads.
TEST_P(MatMulTest, RoundBf16OptionEqualsRoundingAfterwards) {
  ThreadPool pool(2);
  std::vector<Isa> isas = {Isa::kPortable};
  if (CpuHasAvx2()) isas.push_back(Isa::kAuto);
  for (Isa isa : isas) {
    for (const Shape s :
         {Shape{512, 21, 1}, Shape{512, 21, 2}, Shape{512, 21, 9}, Shape{256, 16, 70}}) {
      SCOPED_TRACE(testing::Message() << "isa " << static_cast<int>(isa) << " tokens " << s.tokens);
      const Weights w = MakeWeights(type(), s.in, s.out, 31);
      const std::vector<float> x = MakeActivations(s.in * s.tokens, 32);
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        ExpectRoundedToBf16(RunMatMul(type(), w, x, s, isa, activations(), p),
                            RunMatMul(type(), w, x, s, isa, activations(), p, /*round_bf16=*/true));
      }
    }
  }
}

// The exact path on quantized weights equals the exact path on their dequantized F32 copy
// bitwise: decoding is exact and the products then take the same route.
// F16/BF16 too: their GEMV reads the rows in place (dot_bf16 widens BF16 in registers, one
// 256-chunk's chain at a time), which must give the decode-then-dot_f32 sums bit for bit; the
// shapes cover GEMV (1-2 tokens, rows of whole chunks and of a short tail) and GEMM. (Packed BF16
// tiles: PackedBf16.ProductEqualsF32ProductOnEveryRoute.)
TEST_P(MatMulTest, ExactPathEqualsF32OfDequantizedWeights) {
  if (type() == GgmlType::kF32 || activations() != ActivationPrecision::kF32) GTEST_SKIP();
  std::vector<Shape> shapes = {ShapesFor(type()).back()};
  if (!IsQuantized(type())) shapes = {{2056, 5, 1}, {2056, 3, 2}, {1024, 3, 1}, {40, 3, 2}, {1001, 5, 70}};
  for (Isa isa : {Isa::kAvx2, Isa::kPortable}) {
    if (isa == Isa::kAvx2 && !CpuHasAvx2()) continue;
    for (const Shape& s : shapes) {
      SCOPED_TRACE(testing::Message() << "in=" << s.in << " tokens=" << s.tokens);
      const Weights w = MakeWeights(type(), s.in, s.out, 77);
      Weights f32;
      f32.bytes.resize(w.deq.size() * 4);
      std::memcpy(f32.bytes.data(), w.deq.data(), f32.bytes.size());
      const std::vector<float> x = MakeActivations(s.in * s.tokens, 78);
      const std::vector<float> yq = RunMatMul(type(), w, x, s, isa, ActivationPrecision::kF32, nullptr);
      const std::vector<float> yf =
          RunMatMul(GgmlType::kF32, f32, x, s, isa, ActivationPrecision::kF32, nullptr);
      EXPECT_EQ(0, std::memcmp(yq.data(), yf.data(), yq.size() * sizeof(float)));
    }
  }
}

// The BF16 GEMV reads bf16-exact activations as bf16 (dot_bf16x, half the bytes): the same
// values, so the bits of the F32 copy's product with the same activations; and an activation
// that is not bf16-exact (one low bit set) sends the call back to the fp32 read, bits again
// equal to the F32 product. Shapes: rows of whole chunks and of a short tail, 1 and 2 tokens.
TEST(MatMulBf16, GemvOfBf16ExactActivationsEqualsF32Product) {
  ThreadPool pool(2);
  for (const Shape s : {Shape{2056, 5, 1}, Shape{2056, 3, 2}, Shape{296, 7, 1}}) {
    SCOPED_TRACE(testing::Message() << "in=" << s.in << " tokens=" << s.tokens);
    const Weights w = MakeWeights(GgmlType::kBF16, s.in, s.out, 81);
    Weights f32;
    f32.bytes.resize(w.deq.size() * 4);
    std::memcpy(f32.bytes.data(), w.deq.data(), f32.bytes.size());
    std::vector<float> x = MakeActivations(s.in * s.tokens, 82);
    for (float& v : x) v = ops::RoundBf16(v);
    for (int inexact = 0; inexact < 2; ++inexact) {
      if (inexact) {  // the last activation off the bf16 grid by one fp32 ulp
        uint32_t bits;
        std::memcpy(&bits, &x.back(), 4);
        bits |= 1;
        std::memcpy(&x.back(), &bits, 4);
      }
      for (Isa isa : {Isa::kAuto, Isa::kPortable}) {
        if (isa == Isa::kAuto && !CpuHasAvx2()) continue;
        const std::vector<float> yb =
            RunMatMul(GgmlType::kBF16, w, x, s, isa, ActivationPrecision::kF32, &pool);
        const std::vector<float> yf =
            RunMatMul(GgmlType::kF32, f32, x, s, isa, ActivationPrecision::kF32, nullptr);
        EXPECT_EQ(0, std::memcmp(yb.data(), yf.data(), yb.size() * sizeof(float)))
            << "isa " << static_cast<int>(isa) << (inexact ? ", one activation not bf16" : "");
      }
    }
  }
}

// Not a bound but the typical size of the q8 path's error, for docs/kernels-cpu.md: NMSE of
// the q8 path against the exact path (same quantized weights) for Gaussian activations, and for
// Gaussian activations with 1 in 61 scaled by 20 (outliers blow up their block's scale d).
TEST_P(MatMulTest, Q8PathNmseIsSmall) {
  if (!q8()) GTEST_SKIP();
  const Shape s{2048, 64, 4};
  const Weights w = MakeWeights(type(), s.in, s.out, 5);
  for (bool outliers : {false, true}) {
    std::vector<float> x = MakeActivations(s.in * s.tokens, 6);
    if (!outliers) {
      for (size_t i = 5; i < x.size(); i += 61) x[i] /= 20;
    }
    const std::vector<float> yq =
        RunMatMul(type(), w, x, s, Isa::kAuto, ActivationPrecision::kQ8, nullptr);
    const std::vector<float> ye =
        RunMatMul(type(), w, x, s, Isa::kAuto, ActivationPrecision::kF32, nullptr);
    double num = 0, den = 0;
    for (size_t k = 0; k < yq.size(); ++k) {
      num += (double(yq[k]) - ye[k]) * (double(yq[k]) - ye[k]);
      den += double(ye[k]) * ye[k];
    }
    const double nmse = num / den;
    RecordProperty(outliers ? "nmse_outliers" : "nmse_gaussian", std::to_string(nmse));
    std::printf("  %s q8-activation NMSE vs exact, %s: %.3g\n", gguf::Traits(type()).name,
                outliers ? "with outliers" : "Gaussian", nmse);
    // Uniform rounding error of d/2 with d ~ 2.5 sigma / 127 gives ~3e-5 for Gaussian data.
    EXPECT_LT(nmse, outliers ? 1e-3 : 1e-4);
  }
}

std::string ParamName(const testing::TestParamInfo<Param>& info) {
  std::string name = gguf::Traits(std::get<0>(info.param)).name;
  if (IsQuantized(std::get<0>(info.param))) {
    name += std::get<1>(info.param) == ActivationPrecision::kQ8 ? "_q8act" : "_exact";
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(
    FloatWeights, MatMulTest,
    testing::Combine(testing::Values(GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16),
                     testing::Values(ActivationPrecision::kF32)),
    ParamName);
INSTANTIATE_TEST_SUITE_P(
    QuantizedWeights, MatMulTest,
    testing::Combine(testing::Values(GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_K,
                                     GgmlType::kQ6_K, GgmlType::kQ4_1, GgmlType::kQ5_0,
                                     GgmlType::kQ5_1, GgmlType::kQ2_K, GgmlType::kQ3_K,
                                     GgmlType::kQ5_K, GgmlType::kIQ4_NL, GgmlType::kIQ4_XS,
                                     GgmlType::kMXFP4),
                     testing::Values(ActivationPrecision::kQ8, ActivationPrecision::kF32)),
    ParamName);

// The AVX2 decoders of the added types against gguf::Dequantize, bit for bit (signs of zeros
// included), on random blocks of 4 rows x 768 elements.
TEST(MatMulDecode, Avx2DecodeOfAddedTypesIsBitIdenticalToReference) {
  if (!CpuHasAvx2()) GTEST_SKIP() << "CPU has no AVX2/FMA/F16C";
  for (GgmlType type : gguf::kAllGgmlTypes) {
    if (!IsAddedType(type)) continue;
    SCOPED_TRACE(gguf::Traits(type).name);
    const Weights w = MakeWeights(type, 768, 4, 99);
    const int64_t row_bytes = static_cast<int64_t>(*gguf::RowBytes(type, 768));
    for (int64_t o = 0; o < 4; ++o) {
      for (int64_t i0 = 0; i0 < 768; i0 += 256) {
        float got[256];
        internal::Avx2Kernels()->decode(
            type, w.bytes.data() + o * row_bytes + i0 / gguf::Traits(type).block_elems *
                                                       gguf::Traits(type).block_bytes,
            256, got);
        ASSERT_EQ(0, std::memcmp(got, w.deq.data() + o * 768 + i0, sizeof(got)))
            << "row " << o << " chunk " << i0;
      }
    }
  }
}

// ---- Arguments -----------------------------------------------------------------------------

TEST(MatMulArgs, RejectsRowsThatAreNotWholeBlocks) {
  std::vector<uint8_t> w(1024);
  std::vector<float> x(300), y(4);
  EXPECT_EQ(MatMul(GgmlType::kQ8_0, w.data(), 40, 1, x.data(), 1, y.data()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MatMul(GgmlType::kQ4_K, w.data(), 288, 1, x.data(), 1, y.data()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MatMulArgs, RejectsBadShapesAndNulls) {
  std::vector<float> w(16), x(16), y(16);
  EXPECT_FALSE(MatMul(GgmlType::kF32, w.data(), 0, 1, x.data(), 1, y.data()).ok());
  EXPECT_FALSE(MatMul(GgmlType::kF32, w.data(), 4, 0, x.data(), 1, y.data()).ok());
  EXPECT_FALSE(MatMul(GgmlType::kF32, w.data(), 4, 1, x.data(), -1, y.data()).ok());
  EXPECT_FALSE(MatMul(GgmlType::kF32, nullptr, 4, 1, x.data(), 1, y.data()).ok());
}

TEST(MatMulArgs, ZeroTokensIsANoOp) {
  EXPECT_TRUE(MatMul(GgmlType::kF32, nullptr, 4, 4, nullptr, 0, nullptr).ok());
}

TEST(MatMulArgs, ActivationsAreNotRoundedToBf16) {
  // 1 + 2^-20 is not a bf16 (or f16) value; an exact F32 product must keep it.
  const float w[1] = {1.0f};
  const float x[1] = {1.0f + std::ldexp(1.0f, -20)};
  for (Isa isa : {Isa::kAuto, Isa::kPortable}) {
    float y = 0;
    MatMulOptions options;
    options.isa = isa;
    ASSERT_TRUE(MatMul(GgmlType::kF32, w, 1, 1, x, 1, &y, options).ok());
    EXPECT_EQ(y, x[0]);
  }
}

// ---- Packed panels (packed_matmul.h) ---------------------------------------------------------

std::vector<float> RunPacked(const PackedMatrix& m, const std::vector<float>& x, int64_t tokens,
                             Isa isa, ThreadPool* pool, bool round_bf16 = false) {
  std::vector<float> y(static_cast<size_t>(tokens * m.out()), std::nanf(""));
  MatMulOptions options;
  options.isa = isa;
  options.pool = pool;
  options.round_bf16 = round_bf16;
  const absl::Status status = MatMulPacked(m, x.data(), tokens, y.data(), options);
  EXPECT_TRUE(status.ok()) << status;
  return y;
}

std::vector<Isa> PackedIsas() {
  std::vector<Isa> isas = {Isa::kPortable};
  if (CpuHasAvx2()) isas.push_back(Isa::kAvx2);
  if (CpuHasAvxVnni()) isas.push_back(Isa::kAvxVnni);
  return isas;
}

// The packed numerics (packed_matmul.h) spelled out from the GGUF bytes, without the layout:
// exact integer block dots of the stored quants with the quantized activations, one fp32 FMA
// per block, float64 per 256-chunk.
// Q4_K (one fp32 chain per 256-superblock): per group g, s = fma(dot_g, (d * sc_g) * dx_g, s),
// then s = fma(-(dmin * m_g), xsum_g, s).
float PackedQ4KSuperblock(const uint8_t* block, const int8_t* q, const float* d, const float* sum) {
  const float dw = LoadHalfAt(block), dmin = LoadHalfAt(block + 2);
  float s = 0;
  for (int g = 0; g < 8; ++g) {
    uint8_t sc, m;
    gguf::GetScaleMinK4(g, block + 4, &sc, &m);
    int32_t dot = 0;
    for (int j = 0; j < 32; ++j) {
      const uint8_t byte = block[16 + 32 * (g / 2) + j];
      dot += int32_t(g % 2 == 0 ? byte & 0x0F : byte >> 4) * q[32 * g + j];
    }
    s = std::fma(static_cast<float>(dot), (dw * static_cast<float>(sc)) * d[g], s);
    s = std::fma(-(dmin * static_cast<float>(m)), sum[g], s);
  }
  return s;
}

// Q6_K (one fp32 chain per superblock): per 32-block b, the exact integer
// sum_{g = 2b, 2b+1} sc_g * sum_{e in g} (q_e - 32) x_e, then s = fma(that, d * dx_b, s). q_e read
// from the GGUF bytes as ggml's dequantize_row_q6_K does.
float PackedQ6KSuperblock(const uint8_t* block, const int8_t* q, const float* d) {
  const float dw = LoadHalfAt(block + 208);
  float s = 0;
  for (int b = 0; b < 8; ++b) {
    int32_t dot = 0;
    for (int g = 2 * b; g < 2 * b + 2; ++g) {
      int32_t dot16 = 0;
      for (int e = 16 * g; e < 16 * g + 16; ++e) {
        const int h = e / 128, j = (e % 128) / 32, l = e % 32;
        const uint8_t ql = block[64 * h + l + 32 * (j % 2)];
        const int nib = j < 2 ? ql & 0x0F : ql >> 4;
        const int hi = (block[128 + 32 * h + l] >> (2 * j)) & 3;
        dot16 += ((nib | (hi << 4)) - 32) * q[e];
      }
      dot += int32_t(static_cast<int8_t>(block[192 + g])) * dot16;
    }
    s = std::fma(static_cast<float>(dot), dw * d[b], s);
  }
  return s;
}

std::vector<float> PackedNumerics(GgmlType type, const Weights& w, const std::vector<float>& x,
                                  const Shape& s) {
  const int64_t nb = s.in / 32, block_bytes = type == GgmlType::kQ8_0 ? 34 : 18;
  std::vector<int8_t> q(static_cast<size_t>(s.in * s.tokens));
  std::vector<float> d(static_cast<size_t>(nb * s.tokens)), sum(d.size());
  internal::PortableKernels().quantize_q8(x.data(), nb * s.tokens, q.data(), d.data(), sum.data());
  std::vector<float> y(static_cast<size_t>(s.tokens * s.out));
  for (int64_t t = 0; t < s.tokens; ++t) {
    for (int64_t o = 0; o < s.out; ++o) {
      double acc = 0;
      if (type == GgmlType::kQ4_K || type == GgmlType::kQ6_K) {
        for (int64_t c = 0; c < nb / 8; ++c) {
          const size_t at = static_cast<size_t>(t * nb + 8 * c);
          acc += type == GgmlType::kQ4_K
                     ? PackedQ4KSuperblock(w.bytes.data() + (o * nb / 8 + c) * 144,
                                           q.data() + 32 * at, d.data() + at, sum.data() + at)
                     : PackedQ6KSuperblock(w.bytes.data() + (o * nb / 8 + c) * 210,
                                           q.data() + 32 * at, d.data() + at);
        }
        y[static_cast<size_t>(t * s.out + o)] = static_cast<float>(acc);
        continue;
      }
      float chunk = 0;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* block = w.bytes.data() + (o * nb + b) * block_bytes;
        int32_t dot = 0;
        for (int j = 0; j < 32; ++j) {
          const int32_t wq = type == GgmlType::kQ8_0
                                 ? int32_t(static_cast<int8_t>(block[2 + j]))
                                 : int32_t(j < 16 ? block[2 + j] & 0x0F : block[2 + j - 16] >> 4) - 8;
          dot += wq * q[static_cast<size_t>(t * s.in + b * 32 + j)];
        }
        const float scale = LoadHalfAt(block) * d[static_cast<size_t>(t * nb + b)];
        chunk = std::fma(static_cast<float>(dot), scale, chunk);
        if (b % 8 == 7 || b == nb - 1) acc += chunk, chunk = 0;
      }
      y[static_cast<size_t>(t * s.out + o)] = static_cast<float>(acc);
    }
  }
  return y;
}

class PackedMatMulTest : public ::testing::TestWithParam<GgmlType> {};

// Every ISA gives the spelled-out numerics bit for bit, for any thread count, and within the
// q8 path's bound of the float64 product.
TEST_P(PackedMatMulTest, EveryIsaEqualsSpelledOutNumericsForAnyThreadCount) {
  const GgmlType type = GetParam();
  ThreadPool pool2(2), pool3(3);
  uint32_t seed = 11;
  for (const Shape& s : ShapesFor(type)) {
    SCOPED_TRACE(testing::Message() << "in=" << s.in << " out=" << s.out << " tokens=" << s.tokens);
    const Weights w = MakeWeights(type, s.in, s.out, seed++);
    const std::vector<float> x = MakeActivations(s.in * s.tokens, seed++);
    const std::vector<float> want = PackedNumerics(type, w, x, s);
    const Reference ref = ComputeReference(w, x, s, /*q8=*/true);
    for (size_t k = 0; k < want.size(); ++k) {
      ASSERT_LE(std::fabs(want[k] - ref.y[k]), ref.bound[k]) << "element " << k;
    }
    absl::StatusOr<PackedMatrix> m = PackedMatrix::Pack(type, w.bytes.data(), s.in, s.out, &pool2);
    ASSERT_TRUE(m.ok()) << m.status();
    for (Isa isa : PackedIsas()) {
      for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool2, &pool3}) {
        const std::vector<float> got = RunPacked(*m, x, s.tokens, isa, pool);
        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
            << "isa " << static_cast<int>(isa) << ", "
            << (pool ? pool->num_threads() : 1) << " threads";
      }
    }
  }
}

TEST_P(PackedMatMulTest, BatchedTokensEqualOneTokenAtATime) {
  const GgmlType type = GetParam();
  const Shape s{gguf::Traits(type).block_elems == 256 ? 1024 : 800, 21, 70};
  const Weights w = MakeWeights(type, s.in, s.out, 5);
  const std::vector<float> x = MakeActivations(s.in * s.tokens, 6);
  absl::StatusOr<PackedMatrix> m = PackedMatrix::Pack(type, w.bytes.data(), s.in, s.out);
  ASSERT_TRUE(m.ok()) << m.status();
  const std::vector<float> all = RunPacked(*m, x, s.tokens, Isa::kAuto, nullptr);
  for (int64_t t = 0; t < s.tokens; ++t) {
    const std::vector<float> xt(x.begin() + t * s.in, x.begin() + (t + 1) * s.in);
    const std::vector<float> one = RunPacked(*m, xt, 1, Isa::kAuto, nullptr);
    ASSERT_EQ(0, std::memcmp(one.data(), all.data() + t * s.out, one.size() * sizeof(float)))
        << "token " << t;
  }
}

TEST_P(PackedMatMulTest, RoundBf16OptionEqualsRoundingAfterwards) {
  const GgmlType type = GetParam();
  ThreadPool pool(2);
  const int64_t in = gguf::Traits(type).block_elems == 256 ? 1024 : 800;
  const Weights w = MakeWeights(type, in, 21, 41);
  absl::StatusOr<PackedMatrix> m = PackedMatrix::Pack(type, w.bytes.data(), in, 21);
  ASSERT_TRUE(m.ok()) << m.status();
  for (int64_t tokens : {1, 3, 70}) {
    const std::vector<float> x = MakeActivations(in * tokens, 42);
    for (Isa isa : PackedIsas()) {
      SCOPED_TRACE(testing::Message() << "isa " << static_cast<int>(isa) << " tokens " << tokens);
      ExpectRoundedToBf16(RunPacked(*m, x, tokens, isa, &pool),
                          RunPacked(*m, x, tokens, isa, &pool, /*round_bf16=*/true));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, PackedMatMulTest,
                         testing::Values(GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_K,
                                         GgmlType::kQ6_K),
                         [](const testing::TestParamInfo<GgmlType>& info) {
                           return std::string(gguf::Traits(info.param).name);
                         });

TEST(PackedMatMulArgs, RejectsOtherTypesBadShapesAndNulls) {
  std::vector<uint8_t> w(4096);
  EXPECT_FALSE(PackedMatrix::Supports(GgmlType::kQ5_K));
  EXPECT_EQ(PackedMatrix::Pack(GgmlType::kQ5_K, w.data(), 256, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PackedMatrix::Pack(GgmlType::kQ4_K, w.data(), 288, 1).status().code(),
            absl::StatusCode::kInvalidArgument);  // Q4_K rows are whole 256-superblocks
  EXPECT_EQ(PackedMatrix::Pack(GgmlType::kQ8_0, w.data(), 40, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PackedMatrix::Pack(GgmlType::kQ8_0, w.data(), 32, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PackedMatrix::Pack(GgmlType::kQ4_0, nullptr, 32, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<PackedMatrix> m = PackedMatrix::Pack(GgmlType::kQ4_0, w.data(), 64, 3);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->bytes(), 320u);  // one panel: 2 blocks x (128 + 16 bytes), padded to 64
  std::vector<float> x(64), y(3);
  EXPECT_FALSE(MatMulPacked(*m, nullptr, 1, y.data()).ok());
  EXPECT_FALSE(MatMulPacked(*m, x.data(), -1, y.data()).ok());
  EXPECT_TRUE(MatMulPacked(*m, nullptr, 0, nullptr).ok());
  PackedMatrix moved = *std::move(m);
  EXPECT_FALSE(MatMulPacked(*m, x.data(), 1, y.data()).ok());  // NOLINT: moved-from on purpose
  EXPECT_TRUE(MatMulPacked(moved, x.data(), 1, y.data()).ok());
}

// The BF16 tile layout, worked by hand for 5 rows of 264 elements (a 256-chunk and a chunk of
// 8): tile 0 holds rows 0-3, tile 1 row 4 and three zero rows. In a tile, run k of a chunk of
// rows 0..3 is at 32k + 8r from the chunk's start, 4 * 256 elements per whole chunk.
TEST(PackedBf16, LayoutPutsEachElementWhereWorkedOut) {
  const int64_t in = 264, out = 5;
  std::vector<uint16_t> w(static_cast<size_t>(in * out));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<uint16_t>(i + 1);  // ids, not values
  absl::StatusOr<PackedMatrix> m = PackedMatrix::Pack(GgmlType::kBF16, w.data(), in, out);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->bytes(), 2u * 8u * 264u);  // one panel: two tiles of 4 rows
  std::vector<uint16_t> got(static_cast<size_t>(8 * in));
  std::memcpy(got.data(), m->Panel(0), m->bytes());
  const struct {
    int64_t row, element, slot;
  } cases[] = {{0, 0, 0},    {0, 7, 7},    {1, 0, 8},    {3, 7, 31},         {0, 8, 32},
               {2, 9, 49},   {1, 255, 31 * 32 + 15}, {0, 256, 1024}, {3, 263, 1055},
               {4, 0, 1056}, {4, 8, 1056 + 32},      {4, 263, 1056 + 1024 + 7}};
  for (const auto& c : cases) {
    EXPECT_EQ(got[static_cast<size_t>(c.slot)], static_cast<uint16_t>(c.row * in + c.element + 1))
        << "row " << c.row << " element " << c.element;
  }
  for (const int64_t padding : {1056 + 8, 1056 + 1024 + 31}) {  // rows 5-7 of tile 1: zero
    EXPECT_EQ(got[static_cast<size_t>(padding)], 0) << "slot " << padding;
  }
  EXPECT_EQ(PackedMatrix::Pack(GgmlType::kBF16, w.data(), 260, 1).status().code(),
            absl::StatusCode::kInvalidArgument);  // rows are whole 8-element runs
}

// The ISAs this CPU runs, kAuto left out (it is one of them).
std::vector<Isa> IsasOfThisCpu() {
  std::vector<Isa> isas = {Isa::kPortable};
  if (CpuHasAvx2()) isas.push_back(Isa::kAvx2);
  if (CpuHasAvxVnni()) isas.push_back(Isa::kAvxVnni);
  if (CpuHasAvx512Bf16()) isas.push_back(Isa::kAvx512Bf16);
  return isas;
}

// The product against packed BF16 tiles equals the product against the F32 copy of the same
// weights bit for bit (the exact path: the same chains per row and chunk, side by side), on every
// route: the GEMV (1 and 2 tokens; fp32 activations and bf16-exact ones), the GEMM (chunks
// gathered from the tiles), every ISA and thread count, round_bf16 on. Rows of whole chunks, of
// chunks and a short tail, and of one short chunk; out = 13 leaves a tile of one row and 3 zero
// ones. Isa::kAvx512Bf16 with bf16-exact activations takes the pair products instead
// (PairProductsEqualTheSpelledOutOrder).
TEST(PackedBf16, ProductEqualsF32ProductOnEveryRoute) {
  ThreadPool pool2(2), pool3(3);
  const std::vector<Isa> isas = IsasOfThisCpu();
  for (const int64_t in : {1536, 1544, 40}) {
    const Weights w = MakeWeights(GgmlType::kBF16, in, 13, 91);
    Weights f32;
    f32.bytes.resize(w.deq.size() * 4);
    std::memcpy(f32.bytes.data(), w.deq.data(), f32.bytes.size());
    absl::StatusOr<PackedMatrix> m =
        PackedMatrix::Pack(GgmlType::kBF16, w.bytes.data(), in, 13, &pool2);
    ASSERT_TRUE(m.ok()) << m.status();
    for (const int64_t tokens : {1, 2, 3, 70}) {
      for (const bool bf16_exact : {false, true}) {
        const Shape s{in, 13, tokens};
        std::vector<float> x = MakeActivations(in * tokens, 92);
        if (bf16_exact) for (float& v : x) v = ops::RoundBf16(v);
        for (Isa isa : isas) {
          if (isa == Isa::kAvx512Bf16 && bf16_exact) continue;
          for (const bool round : {false, true}) {
            const std::vector<float> want = RunMatMul(GgmlType::kF32, f32, x, s, isa,
                                                      ActivationPrecision::kF32, nullptr, round);
            for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool2, &pool3}) {
              const std::vector<float> got = RunPacked(*m, x, tokens, isa, pool, round);
              ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
                  << "in " << in << " tokens " << tokens << (bf16_exact ? " bf16-exact x" : "")
                  << " isa " << static_cast<int>(isa) << (round ? " round_bf16 " : " ")
                  << (pool ? pool->num_threads() : 1) << " threads";
            }
          }
        }
      }
    }
  }
}

// A bf16 value as vdpbf16ps reads it: subnormals as zero (DAZ).
float Bf16OperandDaz(uint16_t h) {
  if ((h & 0x7F80u) == 0) h &= 0x8000u;
  const uint32_t bits = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
// A result as vdpbf16ps stores it: below 2^-126 in magnitude, zero of the same sign (FTZ).
float FlushToZero(float v) { return std::fabs(v) < FLT_MIN ? std::copysign(0.0f, v) : v; }

// The pair products' numerics (KernelTable::dot_bf16_pairs) spelled out for one row and token:
// per 1024-chunk 4 fp32 lanes, lane j taking run by run elements 2j + 1 then 2j of each
// 8-element run, each add rounded once (the product of two bf16 is exact, so fma is that add),
// DAZ and FTZ; ((l0 + l2) + (l1 + l3)) in float64 per chunk, chunks added in order.
double PairOrderDot(const uint16_t* w, const uint16_t* x, int64_t n) {
  double total = 0;
  for (int64_t c0 = 0; c0 < n; c0 += 1024) {
    float l[4] = {0, 0, 0, 0};
    for (int64_t i = c0; i < std::min<int64_t>(n, c0 + 1024); i += 8) {
      for (int j = 0; j < 4; ++j) {
        for (const int64_t e : {i + 2 * j + 1, i + 2 * j}) {
          l[j] = FlushToZero(std::fma(Bf16OperandDaz(w[e]), Bf16OperandDaz(x[e]), l[j]));
        }
      }
    }
    total += (double{l[0]} + double{l[2]}) + (double{l[1]} + double{l[3]});
  }
  return total;
}

// Isa::kAvx512Bf16: packed BF16 tiles against bf16-exact activations give PairOrderDot's bits,
// rounded to float (and to bf16 with round_bf16), for the GEMV (1, 2 tokens: one tile per call),
// the GEMM (token groups of 12 and a remainder, two tiles per call and a lone last tile when a
// thread's range is odd, several token blocks), any thread count. The weights include subnormal
// bf16 (read as zero; row 6 is all of them) and a row of 2^-126 (row 5), whose products and
// partial sums fall below 2^-126 and are flushed, which an fp32 FMA chain would keep. out = 13:
// a last tile of one row.
TEST(PackedBf16, PairProductsEqualTheSpelledOutOrder) {
  if (!CpuHasAvx512Bf16()) GTEST_SKIP() << "CPU has no AVX512_BF16";
  ThreadPool pool2(2), pool3(3);
  for (const int64_t in : {2048, 2056, 1536, 40}) {  // whole chunks, and a short last one
    const int64_t out = 13;
    Weights w = MakeWeights(GgmlType::kBF16, in, out, 93);
    uint16_t* wb = reinterpret_cast<uint16_t*>(w.bytes.data());
    for (int64_t i = 3; i < in * out; i += 97) wb[i] = 0x0040;  // subnormal: 0
    for (int64_t i = 0; i < in; ++i) wb[5 * in + i] = 0x0080;     // 2^-126: tiny sums, flushed
    for (int64_t i = 0; i < in; ++i) wb[6 * in + i] = 0x8040;     // subnormal: the row is 0
    absl::StatusOr<PackedMatrix> m = PackedMatrix::Pack(GgmlType::kBF16, w.bytes.data(), in, out);
    ASSERT_TRUE(m.ok()) << m.status();
    for (const int64_t tokens : {1, 2, 3, 13, 30, 700}) {
      std::vector<float> x = MakeActivations(in * tokens, 94);
      for (float& v : x) v = ops::RoundBf16(v);
      std::vector<uint16_t> xb(x.size());
      for (size_t i = 0; i < x.size(); ++i) {
        uint32_t bits;
        std::memcpy(&bits, &x[i], 4);
        xb[i] = static_cast<uint16_t>(bits >> 16);
      }
      for (const bool round : {false, true}) {
        std::vector<float> want(static_cast<size_t>(tokens * out));
        for (int64_t t = 0; t < tokens; ++t) {
          for (int64_t o = 0; o < out; ++o) {
            const float y = static_cast<float>(PairOrderDot(wb + o * in, xb.data() + t * in, in));
            want[static_cast<size_t>(t * out + o)] = round ? ops::RoundBf16(y) : y;
          }
        }
        for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool2, &pool3}) {
          const std::vector<float> got = RunPacked(*m, x, tokens, Isa::kAvx512Bf16, pool, round);
          ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
              << "in " << in << " tokens " << tokens << (round ? " round_bf16 " : " ")
              << (pool ? pool->num_threads() : 1) << " threads";
        }
      }
    }
  }
}

// The pair products need every activation bf16-exact: one that is not sends the whole product
// to the fp32 path, whose bits are the F32 copy's.
TEST(PackedBf16, OneInexactActivationKeepsTheFp32Path) {
  if (!CpuHasAvx512Bf16()) GTEST_SKIP() << "CPU has no AVX512_BF16";
  const int64_t in = 256, out = 8, tokens = 20;
  const Weights w = MakeWeights(GgmlType::kBF16, in, out, 95);
  Weights f32;
  f32.bytes.resize(w.deq.size() * 4);
  std::memcpy(f32.bytes.data(), w.deq.data(), f32.bytes.size());
  absl::StatusOr<PackedMatrix> m = PackedMatrix::Pack(GgmlType::kBF16, w.bytes.data(), in, out);
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<float> x = MakeActivations(in * tokens, 96);
  for (float& v : x) v = ops::RoundBf16(v);
  x[in * tokens - 1] = std::nextafter(x[in * tokens - 1], 10.0f);  // the last one not bf16
  const std::vector<float> want = RunMatMul(GgmlType::kF32, f32, x, Shape{in, out, tokens},
                                            Isa::kAvx2, ActivationPrecision::kF32, nullptr);
  const std::vector<float> got = RunPacked(*m, x, tokens, Isa::kAvx512Bf16, nullptr);
  EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)));
}

TEST(MatMulArgs, Avx512Bf16OnlyWhereTheCpuHasIt) {
  const std::vector<float> x(32, 1.0f);
  std::vector<float> y(1);
  std::vector<uint8_t> w(64, 0);
  MatMulOptions options;
  options.isa = Isa::kAvx512Bf16;
  const absl::Status s = MatMul(GgmlType::kBF16, w.data(), 32, 1, x.data(), 1, y.data(), options);
  if (CpuHasAvx512Bf16()) {
    EXPECT_TRUE(s.ok()) << s;
  } else {
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(s.message().find("AVX512_BF16"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace g4::cpu

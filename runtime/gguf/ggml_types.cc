// ggml type traits, scalar float conversions and the reference (de)quantizers.
//
// The block layouts follow ggml (ggml-common.h, ggml-quants.c). The Q8_0 and Q4_0 quantizers
// reproduce ggml's reference ones; the Q4_K and Q6_K quantizers are simpler than ggml's
// iterative searches but emit valid blocks of the same layout (see the comments at each).
#include "gguf/ggml_types.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace g4::gguf {

const int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                 1,    13,   25,  38,  53,  69,  89,  113};
const int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
const GgmlType kAllGgmlTypes[16] = {
    GgmlType::kF32,  GgmlType::kF16,  GgmlType::kQ4_0,   GgmlType::kQ4_1,   GgmlType::kQ5_0,
    GgmlType::kQ5_1, GgmlType::kQ8_0, GgmlType::kQ2_K,   GgmlType::kQ3_K,   GgmlType::kQ4_K,
    GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kIQ4_NL, GgmlType::kIQ4_XS, GgmlType::kBF16,
    GgmlType::kMXFP4};

float E8m0ToFloatHalf(uint8_t e) {
  // 2^(e-128) as fp32 bits: subnormal 2^-128 / 2^-127 for e = 0 / 1, else exponent field e - 1.
  const uint32_t bits = e < 2 ? (0x00200000u << e) : static_cast<uint32_t>(e - 1) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

namespace {

constexpr TypeTraits kTraits[] = {
    {GgmlType::kF32, "f32", 1, 4},       {GgmlType::kF16, "f16", 1, 2},
    {GgmlType::kBF16, "bf16", 1, 2},     {GgmlType::kQ8_0, "q8_0", 32, 34},
    {GgmlType::kQ4_0, "q4_0", 32, 18},   {GgmlType::kQ4_K, "q4_k", 256, 144},
    {GgmlType::kQ6_K, "q6_k", 256, 210},  {GgmlType::kQ4_1, "q4_1", 32, 20},
    {GgmlType::kQ5_0, "q5_0", 32, 22},   {GgmlType::kQ5_1, "q5_1", 32, 24},
    {GgmlType::kQ2_K, "q2_k", 256, 84},  {GgmlType::kQ3_K, "q3_k", 256, 110},
    {GgmlType::kQ5_K, "q5_k", 256, 176}, {GgmlType::kIQ4_NL, "iq4_nl", 32, 18},
    {GgmlType::kIQ4_XS, "iq4_xs", 256, 136}, {GgmlType::kMXFP4, "mxfp4", 32, 17},
};

constexpr int kQK = 32;    // elements per Q8_0 / Q4_0 block
constexpr int kQKK = 256;  // elements per K-quant super-block

uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
float BitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

uint16_t LoadU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
void StoreU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
float LoadHalf(const uint8_t* p) { return HalfToFloat(LoadU16(p)); }
// Stores `f` as a half and returns the value the half represents, which is what the
// dequantizer will see; quantizers must quantize against that, not against `f`.
float StoreHalf(uint8_t* p, float f) {
  const uint16_t h = FloatToHalf(f);
  StoreU16(p, h);
  return HalfToFloat(h);
}

// Round to nearest (ties to even, like ggml's nearest_int) and clamp to [lo, hi]. Clamping in
// float first keeps NaN and huge inputs from reaching an undefined float->int conversion.
int RoundClamp(float v, int lo, int hi) {
  if (!(v >= static_cast<float>(lo))) return lo;  // also NaN
  if (v > static_cast<float>(hi)) return hi;
  return static_cast<int>(std::nearbyint(v));
}

// ---------------------------------------------------------------------------------------------
// Q8_0: f16 d | int8 qs[32]; x = d * q.

void DequantizeQ8_0(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 34, dst += kQK) {
    const float d = LoadHalf(src);
    const int8_t* qs = reinterpret_cast<const int8_t*>(src + 2);
    for (int j = 0; j < kQK; ++j) dst[j] = d * qs[j];
  }
}

// As ggml's quantize_row_q8_0_ref: d = amax / 127, q = round(x / d) (half away from zero).
void QuantizeQ8_0(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQK, dst += 34) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    StoreHalf(dst, d);
    for (int j = 0; j < kQK; ++j) {
      const float v = std::round(std::clamp(src[j] * id, -127.0f, 127.0f));
      dst[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::isnan(v) ? 0 : v));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Q4_0: f16 d | u8 qs[16]; element j < 16 is the low nibble of qs[j], element j + 16 the high
// nibble; x = d * (q - 8).

void DequantizeQ4_0(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 18, dst += kQK) {
    const float d = LoadHalf(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = d * ((qs[j] & 0x0F) - 8);
      dst[j + kQK / 2] = d * ((qs[j] >> 4) - 8);
    }
  }
}

// As ggml's quantize_row_q4_0_ref: the element of largest magnitude maps to -8 exactly
// (d = max / -8), q = min(15, trunc(x / d + 8.5)).
void QuantizeQ4_0(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQK, dst += 18) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK; ++j) {
      if (std::fabs(src[j]) > amax) {
        amax = std::fabs(src[j]);
        max = src[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    StoreHalf(dst, d);
    auto quant = [&](float x) {
      const float v = x * id + 8.5f;
      return static_cast<uint8_t>(v >= 0 ? std::min(15.0f, v) : 0.0f);  // NaN -> 0
    };
    for (int j = 0; j < kQK / 2; ++j) {
      dst[2 + j] = static_cast<uint8_t>(quant(src[j]) | (quant(src[j + kQK / 2]) << 4));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Q4_K: f16 d | f16 dmin | u8 scales[12] | u8 qs[128]. Eight groups of 32, each with a 6-bit
// scale sc and 6-bit min m: x = d*sc*q - dmin*m, q in 0..15. The 64 elements j..j+63 (j a
// multiple of 64) share qs[j/2 .. j/2+31]: low nibbles are group j/32, high nibbles j/32 + 1.

void SetScaleMinK4(int j, uint8_t sc, uint8_t m, uint8_t* q) {
  if (j < 4) {
    q[j] = static_cast<uint8_t>((q[j] & 0xC0) | sc);
    q[j + 4] = static_cast<uint8_t>((q[j + 4] & 0xC0) | m);
  } else {
    q[j + 4] = static_cast<uint8_t>((sc & 0x0F) | ((m & 0x0F) << 4));
    q[j - 4] = static_cast<uint8_t>((q[j - 4] & 0x3F) | ((sc >> 4) << 6));
    q[j] = static_cast<uint8_t>((q[j] & 0x3F) | ((m >> 4) << 6));
  }
}

void DequantizeQ4_K(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 144) {
    const float d = LoadHalf(src);
    const float dmin = LoadHalf(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* q = src + 16;
    for (int j = 0; j < kQKK; j += 64, q += 32) {
      uint8_t sc, m;
      GetScaleMinK4(j / 32, scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      GetScaleMinK4(j / 32 + 1, scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *dst++ = d1 * (q[l] & 0x0F) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

// Affine fit of one 32-group to x ~ scale*q - min, q in 0..15, min >= 0 (the format cannot
// represent a negative min, i.e. a group whose values are all positive keeps 0 in range).
// Starts from the min/max fit and refines by least squares on the chosen q a few times,
// keeping a refinement only when it lowers the squared error.
void FitGroupQ4K(const float* x, float* scale, float* min, int levels = 15, int n = 32) {
  float lo = std::min(0.0f, *std::min_element(x, x + n));
  float hi = *std::max_element(x, x + n);
  if (!(hi > lo)) {  // constant zero group (or NaN): all-zero encoding
    *scale = 0;
    *min = std::isfinite(lo) ? -lo : 0;
    return;
  }
  float best_scale = (hi - lo) / levels, best_lo = lo;
  auto error = [&](float s, float l) {
    float e = 0;
    for (int i = 0; i < n; ++i) {
      const int q = RoundClamp((x[i] - l) / s, 0, levels);
      e += (s * q + l - x[i]) * (s * q + l - x[i]);
    }
    return e;
  };
  float best_err = error(best_scale, best_lo);
  for (int iter = 0; iter < 3; ++iter) {
    // Least squares for x ~ s*q + l over the current q.
    double sq = 0, sqq = 0, sx = 0, sqx = 0;
    for (int i = 0; i < n; ++i) {
      const int q = RoundClamp((x[i] - best_lo) / best_scale, 0, levels);
      sq += q; sqq += double(q) * q; sx += x[i]; sqx += double(q) * x[i];
    }
    const double det = n * sqq - sq * sq;
    if (det <= 0) break;
    float s = static_cast<float>((n * sqx - sq * sx) / det);
    float l = static_cast<float>((sqq * sx - sq * sqx) / det);
    if (l > 0) {  // min must stay >= 0: refit the scale alone with l = 0
      l = 0;
      s = sqq > 0 ? static_cast<float>(sqx / sqq) : 0;
    }
    if (!(s > 0)) break;
    const float err = error(s, l);
    if (!(err < best_err)) break;
    best_err = err; best_scale = s; best_lo = l;
  }
  *scale = best_scale;
  *min = -best_lo;
}

void QuantizeQ4_K(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQKK, dst += 144) {
    float scales[8], mins[8];
    for (int g = 0; g < 8; ++g) FitGroupQ4K(src + 32 * g, &scales[g], &mins[g]);
    const float max_scale = *std::max_element(scales, scales + 8);
    const float max_min = *std::max_element(mins, mins + 8);
    // 6-bit scales relative to the super-block's d and dmin.
    const float d = StoreHalf(dst, max_scale / 63);
    const float dmin = StoreHalf(dst + 2, max_min / 63);
    uint8_t* packed = dst + 4;
    std::memset(packed, 0, 12);
    uint8_t ls[8], lm[8];
    for (int g = 0; g < 8; ++g) {
      ls[g] = static_cast<uint8_t>(d > 0 ? RoundClamp(scales[g] / d, 0, 63) : 0);
      lm[g] = static_cast<uint8_t>(dmin > 0 ? RoundClamp(mins[g] / dmin, 0, 63) : 0);
      SetScaleMinK4(g, ls[g], lm[g], packed);
    }
    // Quantize against the scales as stored, so rounding of d/sc is compensated.
    uint8_t* qs = dst + 16;
    for (int j = 0; j < kQKK; j += 64, qs += 32) {
      for (int half = 0; half < 2; ++half) {
        const int g = j / 32 + half;
        const float dd = d * ls[g], dm = dmin * lm[g];
        for (int l = 0; l < 32; ++l) {
          const float x = src[j + 32 * half + l];
          const int q = dd > 0 ? RoundClamp((x + dm) / dd, 0, 15) : 0;
          if (half == 0) qs[l] = static_cast<uint8_t>(q);
          else qs[l] = static_cast<uint8_t>(qs[l] | (q << 4));
        }
      }
    }
  }
}


// Q5_K: Q4_K's search with 31 levels; the 5th bit of group g's element l goes to bit g of
// qh[l].
void QuantizeQ5_K(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQKK, dst += 176) {
    float scales[8], mins[8];
    for (int g = 0; g < 8; ++g) FitGroupQ4K(src + 32 * g, &scales[g], &mins[g], 31);
    const float max_scale = *std::max_element(scales, scales + 8);
    const float max_min = *std::max_element(mins, mins + 8);
    const float d = StoreHalf(dst, max_scale / 63);
    const float dmin = StoreHalf(dst + 2, max_min / 63);
    uint8_t* packed = dst + 4;
    std::memset(packed, 0, 12 + 32 + 128);
    uint8_t ls[8], lm[8];
    for (int g = 0; g < 8; ++g) {
      ls[g] = static_cast<uint8_t>(d > 0 ? RoundClamp(scales[g] / d, 0, 63) : 0);
      lm[g] = static_cast<uint8_t>(dmin > 0 ? RoundClamp(mins[g] / dmin, 0, 63) : 0);
      SetScaleMinK4(g, ls[g], lm[g], packed);
    }
    uint8_t* qh = dst + 16;
    uint8_t* qs = dst + 48;
    for (int g = 0; g < 8; ++g) {
      const float dd = d * ls[g], dm = dmin * lm[g];
      for (int l = 0; l < 32; ++l) {
        const int q = dd > 0 ? RoundClamp((src[32 * g + l] + dm) / dd, 0, 31) : 0;
        uint8_t& byte = qs[32 * (g / 2) + l];
        byte = static_cast<uint8_t>(byte | ((q & 0x0F) << (4 * (g % 2))));
        if (q & 0x10) qh[l] = static_cast<uint8_t>(qh[l] | (1 << g));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Q6_K: u8 ql[128] | u8 qh[64] | int8 scales[16] | f16 d. Sixteen groups of 16 with an int8
// scale each: x = d * sc * (q - 32), q in 0..63. Per 128-element half n (ql += 64, qh += 32,
// sc += 8), element l + 32k (l < 32, k < 4) has low 4 bits in ql[l + 32*(k&1)] (low nibble for
// k < 2, high for k >= 2), high 2 bits in qh[l] bits 2k..2k+1, and scale sc[l/16 + 2k].

int Q6Value(const uint8_t* ql, const uint8_t* qh, int l, int k) {
  const uint8_t lo_byte = ql[l + 32 * (k & 1)];
  const int lo = k < 2 ? (lo_byte & 0x0F) : (lo_byte >> 4);
  const int hi = (qh[l] >> (2 * k)) & 3;
  return (lo | (hi << 4)) - 32;
}

void DequantizeQ6_K(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 210) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = LoadHalf(src + 208);
    for (int n = 0; n < kQKK; n += 128, ql += 64, qh += 32, sc += 8, dst += 128) {
      for (int l = 0; l < 32; ++l) {
        for (int k = 0; k < 4; ++k) {
          dst[l + 32 * k] = d * sc[l / 16 + 2 * k] * Q6Value(ql, qh, l, k);
        }
      }
    }
  }
}

// Scale of one 16-group for q in -32..31 (x ~ scale * q). Tries a few mappings of the
// largest-magnitude element near -32 (as ggml's make_qx_quants does), refits the scale by least
// squares on the resulting q, and keeps the one with the lowest squared error. A plain
// "max -> -32" would clamp the opposite end at +31, a whole step of error.
float FitGroupQ6K(const float* x, int nmax = 32) {
  float amax = 0, max = 0;
  for (int i = 0; i < 16; ++i) {
    if (std::fabs(x[i]) > amax) { amax = std::fabs(x[i]); max = x[i]; }
  }
  if (!(amax > 0) || !std::isfinite(amax)) return std::isfinite(amax) ? 0.0f : max / -static_cast<float>(nmax);
  float best_scale = max / -static_cast<float>(nmax), best_err = std::numeric_limits<float>::infinity();
  for (int step = -9; step <= 9; ++step) {
    const float iscale = -(static_cast<float>(nmax) + 0.1f * step) / max;
    double sum_lx = 0, sum_ll = 0;
    int q[16];
    for (int i = 0; i < 16; ++i) {
      q[i] = RoundClamp(iscale * x[i], -nmax, nmax - 1);
      sum_lx += double(q[i]) * x[i];
      sum_ll += double(q[i]) * q[i];
    }
    if (sum_ll == 0) continue;
    const float scale = static_cast<float>(sum_lx / sum_ll);
    float err = 0;
    for (int i = 0; i < 16; ++i) {
      const float e = x[i] - scale * RoundClamp(x[i] / scale, -nmax, nmax - 1);
      err += e * e;
    }
    if (err < best_err) { best_err = err; best_scale = scale; }
  }
  return best_scale;
}

// Q2_K: per 16-group Q4_K's affine search with 3 levels; the 4-bit scales and mins relative to
// d = max scale / 15 and dmin = max min / 15; elements quantized against them as stored.
void QuantizeQ2_K(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQKK, dst += 84) {
    float scales[16], mins[16];
    for (int g = 0; g < 16; ++g) FitGroupQ4K(src + 16 * g, &scales[g], &mins[g], 3, 16);
    const float d = StoreHalf(dst + 80, *std::max_element(scales, scales + 16) / 15);
    const float dmin = StoreHalf(dst + 82, *std::max_element(mins, mins + 16) / 15);
    std::memset(dst, 0, 80);
    for (int g = 0; g < 16; ++g) {
      const int ls = d > 0 ? RoundClamp(scales[g] / d, 0, 15) : 0;
      const int lm = dmin > 0 ? RoundClamp(mins[g] / dmin, 0, 15) : 0;
      dst[g] = static_cast<uint8_t>(ls | (lm << 4));
    }
    for (int e = 0; e < kQKK; ++e) {  // element 128h + 32j + l: bits 2j of qs[32h + l]
      const int h = e / 128, j = (e % 128) / 32, l = e % 32, g = e / 16;
      const float dd = d * (dst[g] & 0x0F), dm = dmin * (dst[g] >> 4);
      const int q = dd > 0 ? RoundClamp((src[e] + dm) / dd, 0, 3) : 0;
      dst[16 + 32 * h + l] = static_cast<uint8_t>(dst[16 + 32 * h + l] | (q << (2 * j)));
    }
  }
}

// Q3_K: per 16-group a symmetric scale for q in -4..3 (Q6_K's candidate search), the 6-bit
// scales relative to d = -(largest-magnitude scale) / 32, elements against them as stored.
void QuantizeQ3_K(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQKK, dst += 110) {
    float scales[16], max_scale = 0;
    for (int g = 0; g < 16; ++g) {
      scales[g] = FitGroupQ6K(src + 16 * g, 4);
      if (std::fabs(scales[g]) > std::fabs(max_scale)) max_scale = scales[g];
    }
    std::memset(dst, 0, 108);
    const float d = StoreHalf(dst + 108, -max_scale / 32);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    int ls[16];
    uint8_t* s = dst + 96;
    for (int g = 0; g < 16; ++g) {
      ls[g] = RoundClamp(id * scales[g], -32, 31);
      const int v = ls[g] + 32;
      if (g < 8) s[g] = static_cast<uint8_t>(s[g] | (v & 0x0F));
      else s[g - 8] = static_cast<uint8_t>(s[g - 8] | ((v & 0x0F) << 4));
      s[8 + g % 4] = static_cast<uint8_t>(s[8 + g % 4] | ((v >> 4) << (2 * (g / 4))));
    }
    for (int e = 0; e < kQKK; ++e) {  // q + 4 = low 2 bits | hmask bit << 2
      const int h = e / 128, j = (e % 128) / 32, l = e % 32;
      const float dl = d * ls[e / 16];
      const int q = (dl != 0 ? RoundClamp(src[e] / dl, -4, 3) : 0) + 4;
      dst[32 + 32 * h + l] = static_cast<uint8_t>(dst[32 + 32 * h + l] | ((q & 3) << (2 * j)));
      if (q & 4) dst[l] = static_cast<uint8_t>(dst[l] | (1 << (4 * h + j)));
    }
  }
}

// Group scales are stored as int8 relative to d, the largest-magnitude one as -128; elements
// are then quantized against the scales as stored.
void QuantizeQ6_K(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQKK, dst += 210) {
    float group_scale[16];
    float max_scale = 0, max_abs_scale = 0;
    for (int g = 0; g < 16; ++g) {
      group_scale[g] = FitGroupQ6K(src + 16 * g);
      if (std::fabs(group_scale[g]) > max_abs_scale) {
        max_abs_scale = std::fabs(group_scale[g]);
        max_scale = group_scale[g];
      }
    }
    std::memset(dst, 0, 210);
    const float iscale = max_scale != 0 ? -128.0f / max_scale : 0.0f;
    const float d = StoreHalf(dst + 208, iscale != 0 ? 1.0f / iscale : 0.0f);
    int8_t* sc = reinterpret_cast<int8_t*>(dst + 192);
    uint8_t q[kQKK];
    for (int g = 0; g < 16; ++g) {
      sc[g] = static_cast<int8_t>(RoundClamp(iscale * group_scale[g], -128, 127));
      const float dd = d * sc[g];
      for (int i = 0; i < 16; ++i) {
        const int v = dd != 0 ? RoundClamp(src[16 * g + i] / dd, -32, 31) : 0;
        q[16 * g + i] = static_cast<uint8_t>(v + 32);
      }
    }
    uint8_t* ql = dst;
    uint8_t* qh = dst + 128;
    for (int n = 0; n < kQKK; n += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t* e = q + n + l;  // e[32k] is element l + 32k of this half
        ql[l] = static_cast<uint8_t>((e[0] & 0x0F) | ((e[64] & 0x0F) << 4));
        ql[l + 32] = static_cast<uint8_t>((e[32] & 0x0F) | ((e[96] & 0x0F) << 4));
        qh[l] = static_cast<uint8_t>((e[0] >> 4) | ((e[32] >> 4) << 2) | ((e[64] >> 4) << 4) |
                                     ((e[96] >> 4) << 6));
      }
    }
  }
}


// ---------------------------------------------------------------------------------------------
// The legacy 32-blocks with a min (Q4_1, Q5_1), the 5-bit ones (Q5_0, Q5_1), the non-linear
// ones (IQ4_NL, MXFP4), and the K-quants Q2_K, Q3_K, Q5_K, IQ4_XS. The dequantizers evaluate
// ggml's formulas in ggml's order; every product there is exact in fp32 (at most 11 + 6 + 7
// significant bits), so each value has at most one rounding (the add of a min).

// Q4_1: f16 d | f16 m | u8 qs[16]; element j < 16 low nibble of qs[j], j + 16 high; x = q*d + m.
void DequantizeQ4_1(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 20, dst += kQK) {
    const float d = LoadHalf(src), m = LoadHalf(src + 2);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = (src[4 + j] & 0x0F) * d + m;
      dst[j + kQK / 2] = (src[4 + j] >> 4) * d + m;
    }
  }
}

// The 5th bit of element j (0..31) of a Q5 block: bit j of the little-endian u32 qh.
int Q5HighBit(const uint8_t* qh, int j) { return (qh[j / 8] >> (j % 8)) & 1; }

// Q5_0: f16 d | u8 qh[4] | u8 qs[16]; q = nibble | (qh bit j) << 4; x = (q - 16) * d.
void DequantizeQ5_0(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 22, dst += kQK) {
    const float d = LoadHalf(src);
    const uint8_t* qh = src + 2;
    const uint8_t* qs = src + 6;
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = ((qs[j] & 0x0F) | (Q5HighBit(qh, j) << 4)) - 16;
      dst[j] *= d;
      dst[j + kQK / 2] = ((qs[j] >> 4) | (Q5HighBit(qh, j + 16) << 4)) - 16;
      dst[j + kQK / 2] *= d;
    }
  }
}

// Q5_1: f16 d | f16 m | u8 qh[4] | u8 qs[16]; x = q * d + m.
void DequantizeQ5_1(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 24, dst += kQK) {
    const float d = LoadHalf(src), m = LoadHalf(src + 2);
    const uint8_t* qh = src + 4;
    const uint8_t* qs = src + 8;
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = ((qs[j] & 0x0F) | (Q5HighBit(qh, j) << 4)) * d + m;
      dst[j + kQK / 2] = ((qs[j] >> 4) | (Q5HighBit(qh, j + 16) << 4)) * d + m;
    }
  }
}

// IQ4_NL: f16 d | u8 qs[16]; x = d * kIq4nlValues[nibble].
void DequantizeIQ4_NL(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 18, dst += kQK) {
    const float d = LoadHalf(src);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = d * kIq4nlValues[src[2 + j] & 0x0F];
      dst[j + kQK / 2] = d * kIq4nlValues[src[2 + j] >> 4];
    }
  }
}

// MXFP4: u8 e | u8 qs[16]; x = kMxfp4Values[nibble] * 2^(e-128).
void DequantizeMXFP4(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 17, dst += kQK) {
    const float d = E8m0ToFloatHalf(src[0]);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = kMxfp4Values[src[1 + j] & 0x0F] * d;
      dst[j + kQK / 2] = kMxfp4Values[src[1 + j] >> 4] * d;
    }
  }
}

// Q2_K: u8 scales[16] | u8 qs[64] | f16 d | f16 dmin. Sixteen groups of 16: scale byte g has the
// 4-bit scale in its low nibble and the 4-bit min in its high one; x = (d*sc)*q - dmin*m, q 0..3.
// Element 128h + 32j + l (h < 2, j < 4, l < 32) is bits 2j..2j+1 of qs[32h + l], group 8h+2j+l/16.
void DequantizeQ2_K(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 84) {
    const uint8_t* scales = src;
    const float d = LoadHalf(src + 80), dmin = LoadHalf(src + 82);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = src + 16 + 32 * h;
      for (int j = 0; j < 4; ++j) {
        for (int l = 0; l < 32; ++l) {
          const uint8_t sc = scales[8 * h + 2 * j + l / 16];
          const float dl = d * (sc & 0x0F), ml = dmin * (sc >> 4);
          *dst++ = dl * ((q[l] >> (2 * j)) & 3) - ml;
        }
      }
    }
  }
}

// Q3_K's 16 6-bit scales (stored + 32): low 4 bits in the nibbles of bytes 0..7 (groups 0..7 low
// nibbles, 8..15 high nibbles), high 2 bits in bits 2(g/4).. of byte 8 + g%4.
int Q3KScale(const uint8_t* s, int g) {
  const int lo = g < 8 ? (s[g] & 0x0F) : (s[g - 8] >> 4);
  const int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

// Q3_K: u8 hmask[32] | u8 qs[64] | u8 scales[12] | f16 d; x = (d*sc) * (q - 4*(1-hbit)), q the 2
// low bits as in Q2_K, the high bit (set = no offset) bit 4h + j of hmask[l].
void DequantizeQ3_K(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 110) {
    const uint8_t* hmask = src;
    const float d = LoadHalf(src + 108);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = src + 32 + 32 * h;
      for (int j = 0; j < 4; ++j) {
        for (int l = 0; l < 32; ++l) {
          const float dl = d * Q3KScale(src + 96, 8 * h + 2 * j + l / 16);
          const int v = ((q[l] >> (2 * j)) & 3) - ((hmask[l] >> (4 * h + j)) & 1 ? 0 : 4);
          *dst++ = dl * v;
        }
      }
    }
  }
}

// Q5_K: f16 d | f16 dmin | u8 scales[12] (as Q4_K) | u8 qh[32] | u8 qs[128]. As Q4_K with a
// 5th bit: group g's element l has bit g of qh[l].
void DequantizeQ5_K(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 176) {
    const float d = LoadHalf(src), dmin = LoadHalf(src + 2);
    const uint8_t* qh = src + 16;
    const uint8_t* ql = src + 48;
    for (int j = 0; j < 4; ++j, ql += 32) {
      for (int half = 0; half < 2; ++half) {
        const int g = 2 * j + half;
        uint8_t sc, m;
        GetScaleMinK4(g, src + 4, &sc, &m);
        const float d1 = d * sc, m1 = dmin * m;
        for (int l = 0; l < 32; ++l) {
          const int q = ((half ? ql[l] >> 4 : ql[l] & 0x0F)) + ((qh[l] >> g) & 1 ? 16 : 0);
          *dst++ = d1 * q - m1;
        }
      }
    }
  }
}

// IQ4_XS: f16 d | u16 scales_h | u8 scales_l[4] | u8 qs[128]. Eight groups of 32 with a 6-bit
// scale ls (low 4 bits nibble g%2 of scales_l[g/2], high 2 bits bits 2g.. of scales_h);
// x = (d*(ls-32)) * kIq4nlValues[q], each group's 16 bytes as IQ4_NL's.
void DequantizeIQ4_XS(const uint8_t* src, float* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += 136) {
    const float d = LoadHalf(src);
    const uint16_t scales_h = LoadU16(src + 2);
    const uint8_t* qs = src + 8;
    for (int g = 0; g < 8; ++g, qs += 16, dst += 32) {
      const int ls = ((src[4 + g / 2] >> (4 * (g % 2))) & 0x0F) | (((scales_h >> (2 * g)) & 3) << 4);
      const float dl = d * (ls - 32);
      for (int j = 0; j < 16; ++j) {
        dst[j] = dl * kIq4nlValues[qs[j] & 0x0F];
        dst[j + 16] = dl * kIq4nlValues[qs[j] >> 4];
      }
    }
  }
}

// ---- Quantizers for the simple new types ---------------------------------------------------

// Stores a Q5 element's 5th bit into the u32 qh (little-endian) at position j.
void SetQ5HighBit(uint8_t* qh, int j, int q) {
  if (q & 0x10) qh[j / 8] = static_cast<uint8_t>(qh[j / 8] | (1 << (j % 8)));
}

// Min/max of a block as ggml's reference quantizers find them (NaN never wins a comparison).
void BlockMinMax(const float* x, float* lo, float* hi) {
  *lo = std::numeric_limits<float>::max();
  *hi = -std::numeric_limits<float>::max();
  for (int j = 0; j < kQK; ++j) {
    if (x[j] < *lo) *lo = x[j];
    if (x[j] > *hi) *hi = x[j];
  }
}

// ggml's truncating "(int8_t)(v + 0.5f)" on values it knows lie in [0, hi + 1), with NaN and
// out-of-range inputs clamped first (they are undefined behaviour in ggml's cast).
int TruncClamp(float v, int hi) {
  if (!(v >= 0)) return 0;
  if (v >= hi) return hi;
  return static_cast<int>(v);
}

// As ggml's quantize_row_q4_1_ref / q5_1_ref: d = (max - min) / (2^bits - 1), m = min (both
// rounded to f16 only when stored: q is computed against the unrounded ones, as ggml does),
// q = trunc((x - min) / d + 0.5) (clamped to 15 for Q4_1).
void QuantizeAffine(const float* src, uint8_t* dst, int64_t nblocks, int bits) {
  const int levels = (1 << bits) - 1;
  const int block_bytes = bits == 4 ? 20 : 24;
  for (int64_t b = 0; b < nblocks; ++b, src += kQK, dst += block_bytes) {
    float lo, hi;
    BlockMinMax(src, &lo, &hi);
    const float d = (hi - lo) / levels;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    StoreHalf(dst, d);
    StoreHalf(dst + 2, lo);
    uint8_t* qh = bits == 5 ? dst + 4 : nullptr;
    uint8_t* qs = bits == 5 ? dst + 8 : dst + 4;
    if (qh != nullptr) std::memset(qh, 0, 4);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = TruncClamp((src[j] - lo) * id + 0.5f, levels);
      const int q1 = TruncClamp((src[j + kQK / 2] - lo) * id + 0.5f, levels);
      qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      if (qh != nullptr) {
        SetQ5HighBit(qh, j, q0);
        SetQ5HighBit(qh, j + kQK / 2, q1);
      }
    }
  }
}

// As ggml's quantize_row_q5_0_ref: the largest-magnitude element maps to -16 (d = max / -16),
// q = min(31, trunc(x / d + 16.5)).
void QuantizeQ5_0(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQK, dst += 22) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK; ++j) {
      if (amax < std::fabs(src[j])) {
        amax = std::fabs(src[j]);
        max = src[j];
      }
    }
    const float d = max / -16.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    StoreHalf(dst, d);
    uint8_t* qh = dst + 2;
    std::memset(qh, 0, 4);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = TruncClamp(src[j] * id + 16.5f, 31);
      const int q1 = TruncClamp(src[j + kQK / 2] * id + 16.5f, 31);
      dst[6 + j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      SetQ5HighBit(qh, j, q0);
      SetQ5HighBit(qh, j + kQK / 2, q1);
    }
  }
}

// Index of the level nearest to x, the lower one on a tie (ggml's best_index_int8 on the
// sorted IQ4_NL table).
int NearestIq4nl(float x) {
  if (!(x > kIq4nlValues[0])) return 0;  // also NaN
  if (x >= kIq4nlValues[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < kIq4nlValues[mid]) hi = mid; else lo = mid;
  }
  return x - kIq4nlValues[hi - 1] < kIq4nlValues[hi] - x ? hi - 1 : hi;
}

// IQ4_NL: as ggml's search without an importance matrix in outline: candidate scales map the
// largest-magnitude element to the levels near -127, each followed by a weighted (x^2)
// least-squares refit of d on the chosen levels; the candidate with the best fit is kept, and
// the elements are quantized against d as stored in f16.
// The IQ4 scale of 32 values (0 for a block below ~1e-15 or non-finite).
float FitIq4Scale(const float* x) {
  float amax = 0, max = 0;
  for (int j = 0; j < kQK; ++j) {
    if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
  }
  float best_d = 0;
  if (amax > 1e-15f && std::isfinite(amax)) {
    double best_score = -1;
    for (int itry = -7; itry <= 7; ++itry) {
      const float id = (itry + kIq4nlValues[0]) / max;
      double sumqx = 0, sumq2 = 0;
      for (int j = 0; j < kQK; ++j) {
        const double q = kIq4nlValues[NearestIq4nl(id * x[j])];
        const double w = double(x[j]) * x[j];
        sumqx += w * q * x[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx / sumq2 > best_score) {
        best_score = sumqx * sumqx / sumq2;
        best_d = static_cast<float>(sumqx / sumq2);
      }
    }
  }
  return best_d;
}

// The 16 nibble bytes of 32 values quantized against scale d (as stored).
void PackIq4(const float* x, float d, uint8_t* qs) {
  const float id = d != 0 ? 1.0f / d : 0.0f;
  for (int j = 0; j < kQK / 2; ++j) {
    qs[j] = static_cast<uint8_t>(NearestIq4nl(id * x[j]) | (NearestIq4nl(id * x[j + kQK / 2]) << 4));
  }
}

void QuantizeIQ4_NL(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQK, dst += 18) {
    PackIq4(src, StoreHalf(dst, FitIq4Scale(src)), dst + 2);
  }
}

// IQ4_XS: each group's IQ4_NL scale, then as ggml: d = -max_scale / 32 (the signed scale of
// largest magnitude maps to -32), 6-bit ls = clamp(round(scale / d), -32, 31) + 32, and the
// elements quantized against d * (ls - 32) as stored.
void QuantizeIQ4_XS(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQKK, dst += 136) {
    float scales[8], max_scale = 0;
    for (int g = 0; g < 8; ++g) {
      scales[g] = FitIq4Scale(src + 32 * g);
      if (std::fabs(scales[g]) > std::fabs(max_scale)) max_scale = scales[g];
    }
    const float d = StoreHalf(dst, -max_scale / 32);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    uint16_t scales_h = 0;
    std::memset(dst + 4, 0, 4);
    for (int g = 0; g < 8; ++g) {
      const int l = RoundClamp(id * scales[g], -32, 31) + 32;
      dst[4 + g / 2] = static_cast<uint8_t>(dst[4 + g / 2] | ((l & 0x0F) << (4 * (g % 2))));
      scales_h = static_cast<uint16_t>(scales_h | ((l >> 4) << (2 * g)));
      PackIq4(src + 32 * g, d * (l - 32), dst + 8 + 16 * g);
    }
    StoreU16(dst + 2, scales_h);
  }
}

// Index of the MXFP4 level nearest to x at scale e, the first one on a tie (ggml's
// best_index_mxfp4: a linear scan).
int NearestMxfp4(float x, float e) {
  int best = 0;
  float best_err = std::fabs(kMxfp4Values[0] * e - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(kMxfp4Values[i] * e - x);
    if (err < best_err) { best = i; best_err = err; }
  }
  return best;
}

// As ggml's quantize_row_mxfp4_ref: e = floor(log2(amax)) - 2 + 127 (so amax lands in the top
// levels 4..6 of the doubled E2M1 table), then the nearest level per element.
void QuantizeMXFP4(const float* src, uint8_t* dst, int64_t nblocks) {
  for (int64_t b = 0; b < nblocks; ++b, src += kQK, dst += 17) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
    int e = 0;
    if (amax > 0 && std::isfinite(amax)) {
      e = std::clamp(static_cast<int>(std::floor(std::log2(amax))) - 2 + 127, 0, 254);
    }
    dst[0] = static_cast<uint8_t>(e);
    const float d = E8m0ToFloatHalf(dst[0]);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[1 + j] = static_cast<uint8_t>(NearestMxfp4(src[j], d) |
                                        (NearestMxfp4(src[j + kQK / 2], d) << 4));
    }
  }
}

}  // namespace

std::optional<TypeTraits> GetTypeTraits(uint32_t type_id) {
  for (const TypeTraits& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == type_id) return t;
  }
  return std::nullopt;
}

const TypeTraits& Traits(GgmlType type) {
  for (const TypeTraits& t : kTraits) {
    if (t.type == type) return t;
  }
  // Not an enumerator (a cast from an unchecked id, a bug): a type no size fits, never an abort.
  static constexpr TypeTraits kInvalid = {static_cast<GgmlType>(~0u), "invalid", 1, 0};
  return kInvalid;
}

std::optional<GgmlType> ParseTypeName(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (const TypeTraits& t : kTraits) {
    if (lower == t.name) return t.type;
  }
  return std::nullopt;
}

std::optional<uint64_t> RowBytes(GgmlType type, int64_t n) {
  const TypeTraits& t = Traits(type);
  if (n < 0 || t.block_bytes == 0 || n % t.block_elems != 0) return std::nullopt;
  uint64_t bytes;
  if (__builtin_mul_overflow(static_cast<uint64_t>(n / t.block_elems),
                             static_cast<uint64_t>(t.block_bytes), &bytes)) {
    return std::nullopt;
  }
  return bytes;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  if (exp == 0x1F) return BitsToFloat(sign | 0x7F800000 | (mant << 13));  // inf / NaN (payload kept)
  if (exp != 0) return BitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  // Zero or subnormal: mant * 2^-24, exact in float.
  const float magnitude = static_cast<float>(mant) * (1.0f / 16777216.0f);
  return sign ? -magnitude : magnitude;
}

uint16_t FloatToHalf(float f) {
  const uint32_t x = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7FFFFFFF;
  if (abs >= 0x7F800000) {  // inf stays inf; NaN stays a (quiet) NaN with the top payload bits
    return abs == 0x7F800000 ? (sign | 0x7C00)
                             : static_cast<uint16_t>(sign | 0x7E00 | ((abs >> 13) & 0x3FF));
  }
  if (abs >= 0x477FF000) return sign | 0x7C00;  // >= 65520 rounds past the largest half (65504)
  const uint32_t exp = abs >> 23;
  if (exp >= 113) {  // normal half: drop 13 mantissa bits, ties to even (carry may bump exp)
    uint32_t h = ((exp - 112) << 10) | ((abs >> 13) & 0x3FF);
    const uint32_t rest = abs & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  // Subnormal half (or zero): value = m * 2^(exp-150) in units of 2^-24 is m >> (126 - exp).
  const uint32_t shift = 126 - exp;
  if (shift > 24) return sign;  // below half the smallest subnormal (m < 2^24)
  const uint32_t m = (abs & 0x7FFFFF) | (exp != 0 ? 0x800000 : 0);
  uint32_t h = m >> shift;
  const uint32_t rest = m & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (h & 1))) ++h;  // may round up to the smallest normal
  return static_cast<uint16_t>(sign | h);
}

float Bf16ToFloat(uint16_t b) { return BitsToFloat(static_cast<uint32_t>(b) << 16); }

uint16_t FloatToBf16(float f) {
  const uint32_t x = FloatBits(f);
  if ((x & 0x7FFFFFFF) > 0x7F800000) {  // NaN: truncate and force quiet so it stays NaN
    return static_cast<uint16_t>((x >> 16) | 0x40);
  }
  // Ties to even; overflow carries into the exponent and yields inf, as it should.
  return static_cast<uint16_t>((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
}

float RoundToBf16(float f) { return Bf16ToFloat(FloatToBf16(f)); }

void Dequantize(GgmlType type, const void* src, float* dst, int64_t n) {
  const uint8_t* s = static_cast<const uint8_t*>(src);
  const int64_t nblocks = n / Traits(type).block_elems;
  switch (type) {
    case GgmlType::kF32: std::memcpy(dst, s, sizeof(float) * static_cast<size_t>(n)); return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = HalfToFloat(LoadU16(s + 2 * i));
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToFloat(LoadU16(s + 2 * i));
      return;
    case GgmlType::kQ8_0: DequantizeQ8_0(s, dst, nblocks); return;
    case GgmlType::kQ4_0: DequantizeQ4_0(s, dst, nblocks); return;
    case GgmlType::kQ4_K: DequantizeQ4_K(s, dst, nblocks); return;
    case GgmlType::kQ6_K: DequantizeQ6_K(s, dst, nblocks); return;
    case GgmlType::kQ4_1: DequantizeQ4_1(s, dst, nblocks); return;
    case GgmlType::kQ5_0: DequantizeQ5_0(s, dst, nblocks); return;
    case GgmlType::kQ5_1: DequantizeQ5_1(s, dst, nblocks); return;
    case GgmlType::kQ2_K: DequantizeQ2_K(s, dst, nblocks); return;
    case GgmlType::kQ3_K: DequantizeQ3_K(s, dst, nblocks); return;
    case GgmlType::kQ5_K: DequantizeQ5_K(s, dst, nblocks); return;
    case GgmlType::kIQ4_NL: DequantizeIQ4_NL(s, dst, nblocks); return;
    case GgmlType::kIQ4_XS: DequantizeIQ4_XS(s, dst, nblocks); return;
    case GgmlType::kMXFP4: DequantizeMXFP4(s, dst, nblocks); return;
  }
}

bool CanQuantize(GgmlType type) { return Traits(type).block_bytes != 0; }

absl::Status Quantize(GgmlType type, const float* src, void* dst, int64_t n) {
  const TypeTraits& t = Traits(type);
  if (n < 0 || n % t.block_elems != 0) {
    return absl::InvalidArgumentError(absl::StrCat("quantize to ", t.name, ": ", n,
                                                   " elements is not a multiple of the block size ",
                                                   t.block_elems));
  }
  uint8_t* d = static_cast<uint8_t*>(dst);
  const int64_t nblocks = n / t.block_elems;
  switch (type) {
    case GgmlType::kF32: std::memcpy(d, src, sizeof(float) * static_cast<size_t>(n)); break;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) StoreU16(d + 2 * i, FloatToHalf(src[i]));
      break;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) StoreU16(d + 2 * i, FloatToBf16(src[i]));
      break;
    case GgmlType::kQ8_0: QuantizeQ8_0(src, d, nblocks); break;
    case GgmlType::kQ4_0: QuantizeQ4_0(src, d, nblocks); break;
    case GgmlType::kQ4_K: QuantizeQ4_K(src, d, nblocks); break;
    case GgmlType::kQ6_K: QuantizeQ6_K(src, d, nblocks); break;
    case GgmlType::kQ4_1: QuantizeAffine(src, d, nblocks, 4); break;
    case GgmlType::kQ5_0: QuantizeQ5_0(src, d, nblocks); break;
    case GgmlType::kQ5_1: QuantizeAffine(src, d, nblocks, 5); break;
    case GgmlType::kIQ4_NL: QuantizeIQ4_NL(src, d, nblocks); break;
    case GgmlType::kMXFP4: QuantizeMXFP4(src, d, nblocks); break;
    case GgmlType::kQ5_K: QuantizeQ5_K(src, d, nblocks); break;
    case GgmlType::kIQ4_XS: QuantizeIQ4_XS(src, d, nblocks); break;
    case GgmlType::kQ2_K: QuantizeQ2_K(src, d, nblocks); break;
    case GgmlType::kQ3_K: QuantizeQ3_K(src, d, nblocks); break;
  }
  return absl::OkStatus();
}

}  // namespace g4::gguf

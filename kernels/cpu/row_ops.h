// Per-row math of the Gemma 4 ops with the reference's semantics, shared by the runtime's
// builtin steps and by the C++ that `gemma4c compile` emits for fused regions, so that both
// compute the same numbers. Header-only, no dependencies beyond <cmath>: the emitted sources
// include a copy of it.
//
// Precision contract: inputs and outputs are float32 values; internals are fp32 or wider where
// the float64 reference must be met to ~1e-9 NMSE under the `f32` policy (sums of squares,
// RoPE angles, softmax sums in double). bf16 rounding happens only where a caller asks for it
// (RoundBf16), which is how the precision policy's islands are applied.
#ifndef GEMMA4C_KERNELS_CPU_ROW_OPS_H_
#define GEMMA4C_KERNELS_CPU_ROW_OPS_H_

#include <cmath>
#include <cstdint>
#include <cstring>

namespace g4::ops {

// Round-to-nearest-even of an fp32 value to bf16, returned as fp32 (NaN stays NaN).
inline float RoundBf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) return x;  // NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  bits &= 0xffff0000u;
  float y;
  std::memcpy(&y, &bits, 4);
  return y;
}

inline void RoundBf16Row(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = RoundBf16(x[i]);
}

// y = x * (mean(x^2) + eps)^-1/2 [* w] over each group of `width` values of an n-wide row
// (n a multiple of width). w may be null (unscaled norm). x and y may alias.
inline void RmsNormRow(const float* x, const float* w, int64_t n, int64_t width, float eps,
                       float* y) {
  for (int64_t g = 0; g < n; g += width) {
    double ss = 0.0;
    for (int64_t i = 0; i < width; ++i) ss += double(x[g + i]) * double(x[g + i]);
    const float inv = float(1.0 / std::sqrt(ss / double(width) + double(eps)));
    for (int64_t i = 0; i < width; ++i) {
      const float v = x[g + i] * inv;
      y[g + i] = w ? v * w[i] : v;
    }
  }
}

// GELU, tanh approximation (gelu_pytorch_tanh).
inline float GeluTanh(float x) {
  const float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

// NeoX ("rotate half") RoPE of every head of an n-wide row, in place. Pair i < d/2 rotates by
// pos * theta^(-2i/d) for i < rotary_dims/2; the other pairs pass through (proportional RoPE).
// When round_bf16: cos/sin are rounded to bf16, and x*cos, rot(x)*sin and their sum each
// rounded (the reference's three roundings, architecture spec §2.3).
inline void RopeRow(float* x, int64_t n, int64_t head_dim, int64_t rotary_dims, double theta,
                    int64_t pos, bool round_bf16) {
  const int64_t half = head_dim / 2, pairs = rotary_dims / 2;
  for (int64_t i = 0; i < pairs; ++i) {
    const double inv_freq = std::pow(theta, -2.0 * double(i) / double(head_dim));
    const double angle = double(pos) * inv_freq;
    float c = float(std::cos(angle)), s = float(std::sin(angle));
    if (round_bf16) { c = RoundBf16(c); s = RoundBf16(s); }
    for (int64_t h = 0; h < n; h += head_dim) {
      const float a = x[h + i], b = x[h + i + half];
      if (round_bf16) {
        x[h + i] = RoundBf16(RoundBf16(a * c) + RoundBf16(-b * s));
        x[h + i + half] = RoundBf16(RoundBf16(b * c) + RoundBf16(a * s));
      } else {
        x[h + i] = a * c - b * s;
        x[h + i + half] = b * c + a * s;
      }
    }
  }
}

// Final logit softcap cap * tanh(x / cap); with round_bf16 each of the three steps is rounded.
inline float Softcap(float x, float cap, bool round_bf16) {
  if (!round_bf16) return cap * std::tanh(x / cap);
  return RoundBf16(cap * RoundBf16(std::tanh(RoundBf16(x / cap))));
}

// Softmax over an n-wide row, in place (fp32 result, double sum).
inline void SoftmaxRow(float* x, int64_t n) {
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace g4::ops

#endif  // GEMMA4C_KERNELS_CPU_ROW_OPS_H_

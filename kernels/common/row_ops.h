// Per-row math of the Gemma 4 ops with the reference's semantics, shared by the runtime's CPU
// interpreter (runtime/exec/cpu_interpreter.cc), by the C++ that `gemma4c compile` emits for
// fused regions, and by the CUDA kernels (kernels/cuda), so that all compute the same formulas. Header-only, no
// dependencies beyond <cmath>: the emitted sources include a copy of it.
//
// Precision contract: inputs and outputs are float32 values; internals are fp32 or wider where
// the float64 reference must be met to ~1e-9 NMSE under the `f32` policy (sums of squares,
// RoPE angles, softmax sums in double). bf16 rounding happens only where a caller asks for it
// (RoundBf16), which is how the precision policy's islands are applied.
//
// Device use: every function is G4_HD (__host__ __device__ under nvcc, nothing otherwise). The
// host code paths are unchanged by that; in device code the transcendental functions are CUDA's
// (tanhf, expf, and double pow/cos/sin/sqrt: within 1-2 ulp of glibc's, so results agree to
// the last bit or two, not bitwise). Callers compiled with nvcc should use --fmad=false where
// they want a*b+c to round twice as on the host (kernels/cuda/row_ops.cu does).
#ifndef GEMMA4C_KERNELS_COMMON_ROW_OPS_H_
#define GEMMA4C_KERNELS_COMMON_ROW_OPS_H_

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define G4_HD __host__ __device__
#else
#define G4_HD
#endif

namespace g4::ops {

namespace detail {
// The math functions, host: <cmath> as before; device: CUDA's math library.
#ifdef __CUDA_ARCH__
G4_HD inline float Tanh(float x) { return ::tanhf(x); }
G4_HD inline float Exp(float x) { return ::expf(x); }
G4_HD inline double Sqrt(double x) { return ::sqrt(x); }
G4_HD inline double Pow(double x, double y) { return ::pow(x, y); }
G4_HD inline double Cos(double x) { return ::cos(x); }
G4_HD inline double Sin(double x) { return ::sin(x); }
#else
inline float Tanh(float x) { return std::tanh(x); }
inline float Exp(float x) { return std::exp(x); }
inline double Sqrt(double x) { return std::sqrt(x); }
inline double Pow(double x, double y) { return std::pow(x, y); }
inline double Cos(double x) { return std::cos(x); }
inline double Sin(double x) { return std::sin(x); }
#endif
}  // namespace detail

// Round-to-nearest-even of an fp32 value to bf16, returned as fp32 (NaN stays NaN).
G4_HD inline float RoundBf16(float x) {
  uint32_t bits;
#ifdef __CUDA_ARCH__
  bits = __float_as_uint(x);
#else
  std::memcpy(&bits, &x, 4);
#endif
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) return x;  // NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  bits &= 0xffff0000u;
#ifdef __CUDA_ARCH__
  return __uint_as_float(bits);
#else
  float y;
  std::memcpy(&y, &bits, 4);
  return y;
#endif
}

G4_HD inline void RoundBf16Row(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = RoundBf16(x[i]);
}

// The RMS norm's factor (mean(x^2) + eps)^-1/2 from the double sum of squares of `width`
// values (RmsNormRow's formula; the CUDA kernel reduces ss in parallel and calls this).
G4_HD inline float RmsInv(double ss, int64_t width, float eps) {
  return float(1.0 / detail::Sqrt(ss / double(width) + double(eps)));
}

// y = x * (mean(x^2) + eps)^-1/2 [* w] over each group of `width` values of an n-wide row
// (n a multiple of width). w may be null (unscaled norm). x and y may alias.
G4_HD inline void RmsNormRow(const float* x, const float* w, int64_t n, int64_t width, float eps,
                             float* y) {
  for (int64_t g = 0; g < n; g += width) {
    double ss = 0.0;
    for (int64_t i = 0; i < width; ++i) ss += double(x[g + i]) * double(x[g + i]);
    const float inv = RmsInv(ss, width, eps);
    for (int64_t i = 0; i < width; ++i) {
      const float v = x[g + i] * inv;
      y[g + i] = w ? v * w[i] : v;
    }
  }
}

// GELU, tanh approximation (gelu_pytorch_tanh).
G4_HD inline float GeluTanh(float x) {
  const float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * x * (1.0f + detail::Tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

// cos and sin of RoPE pair i at `pos` (angle pos * theta^(-2i/head_dim) in double), rounded to
// bf16 when round_bf16.
G4_HD inline void RopeCosSin(int64_t i, int64_t head_dim, double theta, int64_t pos,
                             bool round_bf16, float* c, float* s) {
  const double inv_freq = detail::Pow(theta, -2.0 * double(i) / double(head_dim));
  const double angle = double(pos) * inv_freq;
  *c = float(detail::Cos(angle));
  *s = float(detail::Sin(angle));
  if (round_bf16) { *c = RoundBf16(*c); *s = RoundBf16(*s); }
}

// Rotates the pair (a = x[i], b = x[i + half]) by (c, s) into (*x0, *x1).
G4_HD inline void RopePair(float a, float b, float c, float s, bool round_bf16, float* x0,
                           float* x1) {
  if (round_bf16) {
    *x0 = RoundBf16(RoundBf16(a * c) + RoundBf16(-b * s));
    *x1 = RoundBf16(RoundBf16(b * c) + RoundBf16(a * s));
  } else {
    *x0 = a * c - b * s;
    *x1 = b * c + a * s;
  }
}

// Pair i of every head of an n-wide row, in place, rotated by (c, s): RopeRow's step for one
// angle (the fused Rope helper takes its angles from a cache and calls this).
G4_HD inline void RopeRotatePairs(float* x, int64_t n, int64_t head_dim, int64_t i, float c,
                                  float s, bool round_bf16) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n; h += head_dim) {
    const float a = x[h + i], b = x[h + i + half];
    RopePair(a, b, c, s, round_bf16, &x[h + i], &x[h + i + half]);
  }
}

// NeoX ("rotate half") RoPE of every head of an n-wide row, in place. Pair i < d/2 rotates by
// pos * theta^(-2i/d) for i < rotary_dims/2; the other pairs pass through (proportional RoPE).
// When round_bf16: cos/sin are rounded to bf16, and x*cos, rot(x)*sin and their sum each
// rounded (the reference's three roundings, architecture spec §2.3).
G4_HD inline void RopeRow(float* x, int64_t n, int64_t head_dim, int64_t rotary_dims,
                          double theta, int64_t pos, bool round_bf16) {
  for (int64_t i = 0; i < rotary_dims / 2; ++i) {
    float c, s;
    RopeCosSin(i, head_dim, theta, pos, round_bf16, &c, &s);
    RopeRotatePairs(x, n, head_dim, i, c, s, round_bf16);
  }
}

// Final logit softcap cap * tanh(x / cap); with round_bf16 each of the three steps is rounded.
G4_HD inline float Softcap(float x, float cap, bool round_bf16) {
  if (!round_bf16) return cap * detail::Tanh(x / cap);
  return RoundBf16(cap * RoundBf16(detail::Tanh(RoundBf16(x / cap))));
}

// Softmax over an n-wide row, in place (fp32 result, double sum).
G4_HD inline void SoftmaxRow(float* x, int64_t n) {
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = detail::Exp(x[i] - m);
    sum += x[i];
  }
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace g4::ops

#endif  // GEMMA4C_KERNELS_COMMON_ROW_OPS_H_

// tanhf on 8 lanes, bit for bit glibc's tanhf on x86-64 (the fdlibm s_tanhf.c with its
// s_expm1f.c, compiled without FMA: the library the scalar ops::GeluTanh calls), for the AVX2
// build of the emitted kernels. Why: GELU's tanh, one glibc call per element, was 19 % of a
// small model's prefill and runs on one thread per decode row; this is the same function
// evaluated 8 lanes at a time, every branch computed and the lane's own one selected, so the
// emitted kernels' results do not change (tested over every float32 input class by
// tanh_avx2_test, and exhaustively by `tanh_avx2_test --exhaustive`).
//
// Only the arguments tanhf passes to expm1f are handled: 2|x| in [2, 44) and -2|x| in (-2, 0).
// Compiled only where __AVX2__ (the emitted kernels' -march=haswell build, and its test).
#ifndef GEMMA4C_KERNELS_COMMON_TANH_AVX2_H_
#define GEMMA4C_KERNELS_COMMON_TANH_AVX2_H_

#if defined(__AVX2__)
#include <immintrin.h>

namespace g4::simd {
namespace {

inline __m256i Bits(__m256 v) { return _mm256_castps_si256(v); }
inline __m256 Float(__m256i v) { return _mm256_castsi256_ps(v); }
inline __m256 Splat(float f) { return _mm256_set1_ps(f); }
inline __m256 SplatBits(int bits) { return Float(_mm256_set1_epi32(bits)); }
// Lanes where the (non-negative) int32 a > b, as a float mask.
inline __m256 Greater(__m256i a, int b) { return Float(_mm256_cmpgt_epi32(a, _mm256_set1_epi32(b))); }
inline __m256 Select(__m256 mask, __m256 yes, __m256 no) { return _mm256_blendv_ps(no, yes, mask); }

// expm1f(s) for s in [2, 44) or (-2, 0), as s_expm1f.c computes it: argument reduction
// s = k ln2 + x (+ c), the rational approximation of expm1 on x, then the k-case's assembly.
inline __m256 Expm1fTanhDomain(__m256 s) {
  const __m256 one = Splat(1.0f), half = Splat(0.5f);
  const __m256 ln2_hi = SplatBits(0x3f317180), ln2_lo = SplatBits(0x3717f7d1);
  const __m256 invln2 = SplatBits(0x3fb8aa3b);
  const __m256 q1 = SplatBits(static_cast<int>(0xbd088889)), q2 = SplatBits(0x3ad00d01);
  const __m256 q3 = SplatBits(static_cast<int>(0xb8a670cd)), q4 = SplatBits(0x36867e54);
  const __m256 q5 = SplatBits(static_cast<int>(0xb457edbb));
  const __m256i hx = _mm256_and_si256(Bits(s), _mm256_set1_epi32(0x7fffffff));
  const __m256 negative = _mm256_cmp_ps(s, _mm256_setzero_ps(), _CMP_LT_OQ);

  // k: 0 for |s| <= 0.5 ln2; +-1 for |s| < 1.5 ln2; else trunc(s / ln2 +- 0.5).
  const __m256 reduce = Greater(hx, 0x3eb17218);
  const __m256 near = Float(_mm256_cmpgt_epi32(_mm256_set1_epi32(0x3F851592), hx));
  const __m256 kf_far = _mm256_add_ps(_mm256_mul_ps(invln2, s), Select(negative, Splat(-0.5f), half));
  const __m256i k_far = _mm256_cvttps_epi32(kf_far);
  const __m256i k_near = Bits(Select(negative, Float(_mm256_set1_epi32(-1)), Float(_mm256_set1_epi32(1))));
  const __m256i k = Bits(Select(reduce, Select(near, Float(k_near), Float(k_far)), _mm256_setzero_ps()));
  // hi = s - t ln2_hi, lo = t ln2_lo (t = k: +-1 gives s -+ ln2_hi, +-ln2_lo exactly; k = 0
  // leaves x = s and c = 0, as the unreduced path).
  const __m256 t = _mm256_cvtepi32_ps(k);
  const __m256 hi = _mm256_sub_ps(s, _mm256_mul_ps(t, ln2_hi));
  const __m256 lo = _mm256_mul_ps(t, ln2_lo);
  const __m256 x = _mm256_sub_ps(hi, lo);
  const __m256 c = _mm256_sub_ps(_mm256_sub_ps(hi, x), lo);

  const __m256 hfx = _mm256_mul_ps(half, x);
  const __m256 hxs = _mm256_mul_ps(x, hfx);
  __m256 r1 = _mm256_add_ps(q4, _mm256_mul_ps(hxs, q5));
  r1 = _mm256_add_ps(q3, _mm256_mul_ps(hxs, r1));
  r1 = _mm256_add_ps(q2, _mm256_mul_ps(hxs, r1));
  r1 = _mm256_add_ps(q1, _mm256_mul_ps(hxs, r1));
  r1 = _mm256_add_ps(one, _mm256_mul_ps(hxs, r1));
  const __m256 t3 = _mm256_sub_ps(Splat(3.0f), _mm256_mul_ps(r1, hfx));
  const __m256 e = _mm256_mul_ps(
      hxs, _mm256_div_ps(_mm256_sub_ps(r1, t3), _mm256_sub_ps(Splat(6.0f), _mm256_mul_ps(x, t3))));

  // k == 0: x - (x e - hxs).
  const __m256 r_k0 = _mm256_sub_ps(x, _mm256_sub_ps(_mm256_mul_ps(x, e), hxs));
  // k != 0: e' = (x (e - c) - c) - hxs, then by k.
  const __m256 e2 = _mm256_sub_ps(_mm256_sub_ps(_mm256_mul_ps(x, _mm256_sub_ps(e, c)), c), hxs);
  const __m256i k_exp = _mm256_slli_epi32(k, 23);  // k added to an exponent
  // k == -1: 0.5 (x - e') - 0.5.
  const __m256 r_km1 = _mm256_sub_ps(_mm256_mul_ps(half, _mm256_sub_ps(x, e2)), half);
  // k <= -2 or k > 56: (1 - (e' - x)) * 2^k - 1.
  const __m256 y_out = Float(_mm256_add_epi32(Bits(_mm256_sub_ps(one, _mm256_sub_ps(e2, x))), k_exp));
  const __m256 r_out = _mm256_sub_ps(y_out, one);
  // 2 <= k < 23: ((1 - 2^-k) - (e' - x)) * 2^k.
  const __m256 t_low = Float(_mm256_sub_epi32(_mm256_set1_epi32(0x3f800000),
                                              _mm256_srlv_epi32(_mm256_set1_epi32(0x1000000), k)));
  const __m256 r_low = Float(_mm256_add_epi32(Bits(_mm256_sub_ps(t_low, _mm256_sub_ps(e2, x))), k_exp));
  // 23 <= k <= 56: ((x - (e' + 2^-k)) + 1) * 2^k.
  const __m256 t_high = Float(_mm256_slli_epi32(_mm256_sub_epi32(_mm256_set1_epi32(0x7f), k), 23));
  const __m256 r_high = Float(_mm256_add_epi32(
      Bits(_mm256_add_ps(_mm256_sub_ps(x, _mm256_add_ps(e2, t_high)), one)), k_exp));

  const __m256 k_is0 = Float(_mm256_cmpeq_epi32(k, _mm256_setzero_si256()));
  const __m256 k_ism1 = Float(_mm256_cmpeq_epi32(k, _mm256_set1_epi32(-1)));
  const __m256 k_out = _mm256_or_ps(Float(_mm256_cmpgt_epi32(_mm256_set1_epi32(-1), k)),
                                    Float(_mm256_cmpgt_epi32(k, _mm256_set1_epi32(56))));
  const __m256 k_high = Float(_mm256_cmpgt_epi32(k, _mm256_set1_epi32(22)));
  __m256 r = Select(k_high, r_high, r_low);
  r = Select(k_out, r_out, r);
  r = Select(k_ism1, r_km1, r);
  r = Select(k_is0, r_k0, r);
  // |s| < 2^-25: s itself.
  return Select(Float(_mm256_cmpgt_epi32(_mm256_set1_epi32(0x33000000), hx)), s, r);
}

// glibc's tanhf on 8 lanes (s_tanhf.c): NaN stays NaN, |x| >= 22 gives +-1, |x| < 2^-55
// gives x (1 + x), else from expm1f(+-2|x|).
inline __m256 Tanhf(__m256 v) {
  const __m256 one = Splat(1.0f), two = Splat(2.0f);
  const __m256i ix = _mm256_and_si256(Bits(v), _mm256_set1_epi32(0x7fffffff));
  const __m256 sign = Float(_mm256_and_si256(Bits(v), _mm256_set1_epi32(static_cast<int>(0x80000000))));
  const __m256 a = Float(ix);
  const __m256 big = Float(_mm256_cmpgt_epi32(ix, _mm256_set1_epi32(0x3f7fffff)));  // |x| >= 1
  const __m256 t = Expm1fTanhDomain(Select(big, _mm256_mul_ps(two, a), _mm256_mul_ps(Splat(-2.0f), a)));
  const __m256 t2 = _mm256_add_ps(t, two);
  const __m256 z_big = _mm256_sub_ps(one, _mm256_div_ps(two, t2));
  const __m256 z_small = _mm256_div_ps(_mm256_xor_ps(t, Splat(-0.0f)), t2);
  __m256 z = Select(big, z_big, z_small);
  z = Select(Greater(ix, 0x41afffff), one, z);  // |x| >= 22 (infinities included)
  z = _mm256_xor_ps(z, sign);                   // (jx >= 0) ? z : -z
  z = Select(Float(_mm256_cmpgt_epi32(_mm256_set1_epi32(0x24000000), ix)),
             _mm256_mul_ps(v, _mm256_add_ps(one, v)), z);  // |x| < 2^-55, zeros included
  return Select(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_add_ps(v, v), z);  // NaN: quieted
}

// ops::GeluTanh on 8 lanes, its operations in its order (0.5 x (1 + tanh(k (x + 0.044715 x^3)))).
inline __m256 GeluTanh(__m256 x) {
  const __m256 cube = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(Splat(0.044715f), x), x), x);
  const __m256 u = _mm256_mul_ps(Splat(0.7978845608028654f), _mm256_add_ps(x, cube));
  return _mm256_mul_ps(_mm256_mul_ps(Splat(0.5f), x), _mm256_add_ps(Splat(1.0f), Tanhf(u)));
}

// ops::RoundBf16 on 8 lanes: to nearest even at bit 16 by the same integer add; NaN as it is.
inline __m256 RoundBf16(__m256 v) {
  const __m256i b = Bits(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
  const __m256i r = _mm256_and_si256(_mm256_add_epi32(b, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)),
                                     _mm256_set1_epi32(static_cast<int>(0xffff0000u)));
  return Select(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), v, Float(r));
}

// ops::Softcap on 8 lanes, its operations in its order (cap * tanh(x / cap), each step rounded
// to bf16 when `round`).
inline __m256 Softcap(__m256 x, float cap, bool round) {
  const __m256 c = Splat(cap);
  if (!round) return _mm256_mul_ps(c, Tanhf(_mm256_div_ps(x, c)));
  return RoundBf16(_mm256_mul_ps(c, RoundBf16(Tanhf(RoundBf16(_mm256_div_ps(x, c))))));
}

}  // namespace
}  // namespace g4::simd

#endif  // __AVX2__
#endif  // GEMMA4C_KERNELS_COMMON_TANH_AVX2_H_

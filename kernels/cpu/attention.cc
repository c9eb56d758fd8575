// CPU attention (contract and arithmetic in attention.h; the algorithm in docs/attention.md).
//
// Compiled with -ffp-contract=off (CMakeLists.txt): every fused multiply-add here is written
// out (std::fma, _mm256_fmadd_ps), so the AVX2 and the portable paths, and the test's
// reference, round at exactly the same places.
#include "cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/row_ops.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define G4_ATTENTION_AVX2 1
#define G4_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

namespace g4::cpu {
namespace {

constexpr int64_t kSubBlock = 64;   // keys converted to fp32 at a time (64 x head_dim floats)
constexpr int64_t kItemRows = 64;   // target rows (token, head) per sdpa work item

float Bf16ToF32(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// K (value = false) or V of kv head g for positions p0 .. p0+count-1 into dst [count][hd].
void LoadRows(const KvView& kv, bool value, int64_t g, int64_t hd, int64_t p0, int64_t count,
              float* dst) {
  const uint16_t* s16 = value ? kv.v16 : kv.k16;
  const float* s32 = value ? kv.v32 : kv.k32;
  for (int64_t j = 0; j < count; ++j) {
    const int64_t p = p0 + j;
    const size_t at = size_t(kv.ring ? p % kv.capacity : p) * size_t(kv.row) + size_t(g * hd);
    float* d = dst + j * hd;
    if (s16) {
      for (int64_t i = 0; i < hd; ++i) d[i] = Bf16ToF32(s16[at + i]);
    } else {
      std::memcpy(d, s32 + at, size_t(hd) * sizeof(float));
    }
  }
}

// ---- the inner loops of kSdpa, portable and AVX2 (same operations, same order) --------------

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// torch's fast exp (Vectorized<float>::fexp_u20; Malossi et al., "Fast Exponential Computation
// on SIMD Architectures"): 2^(x log2 e) with the fraction's 2^f by a cubic and the result built
// in the exponent field; relative error up to ~1.1e-4. Operation for operation as torch's AVX512
// code (c2, c3 are double literals there, rounded to float once).
constexpr float kFexpC0 = 0.00010703434948458272f, kFexpC1 = 0.30354260500649682f;
constexpr float kFexpC2 = static_cast<float>(-0.22433836478672356), kFexpC3 = static_cast<float>(-0.079204240219773236);
constexpr float kFexpA = 8388608.0f, kFexpB = 8388608.0f * 127.0f;  // 2^23, 2^23 * 127 (exact)

float FexpU20(float x) {
  if (!(x >= FromBits(0xc2aeac50))) return 0.0f;       // below ln(FLT_MIN), -inf (NaN: 0)
  if (x > FromBits(0x42b17218)) return INFINITY;        // above ln(FLT_MAX)
  float src = x * FromBits(0x3fb8aa3b);                 // x * log2(e)
  const float frac = src - std::floor(src);
  float res = std::fma(frac, kFexpC3, kFexpC2);
  res = std::fma(frac, res, kFexpC1);
  res = std::fma(frac, res, kFexpC0);
  src = src - res;
  return FromBits(uint32_t(int32_t(std::fma(kFexpA, src, kFexpB))));  // truncation, as cvttps
}

// e[j] = FexpU20(S[j] - m) for j < count (e may be S).
void ExpPortable(const float* S, int64_t count, float m, float* e) {
  for (int64_t j = 0; j < count; ++j) e[j] = FexpU20(S[j] - m);
}

// S[j] = scale * dot(q, K[j]) for j < count; K is [count][hd].
void ScoresPortable(const float* q, const float* K, int64_t count, int64_t hd, float scale, float* S) {
  for (int64_t j = 0; j < count; ++j) {
    const float* k = K + j * hd;
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t i = 0; i < hd; i += 8)
      for (int c = 0; c < 8; ++c) l[c] = std::fma(q[i + c], k[i + c], l[c]);
    S[j] = scale * (((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])));
  }
}

// acc[i] = fma(P[j], V[j][i], acc[i]) for j = 0 .. count-1 in order; V is [count][hd].
void AccumulatePortable(const float* P, const float* V, int64_t count, int64_t hd, float* acc) {
  for (int64_t j = 0; j < count; ++j)
    for (int64_t i = 0; i < hd; ++i) acc[i] = std::fma(P[j], V[j * hd + i], acc[i]);
}

// Two rows (two heads of one token) over the same keys: exactly the single-row loops twice.
void Scores2Portable(const float* q0, const float* q1, const float* K, int64_t count, int64_t hd, float scale,
                     float* S0, float* S1) {
  ScoresPortable(q0, K, count, hd, scale, S0);
  ScoresPortable(q1, K, count, hd, scale, S1);
}
void Accumulate2Portable(const float* P0, const float* P1, const float* V, int64_t count, int64_t hd, float* acc0,
                         float* acc1) {
  AccumulatePortable(P0, V, count, hd, acc0);
  AccumulatePortable(P1, V, count, hd, acc1);
}

#ifdef G4_ATTENTION_AVX2
// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), as ScoresPortable.
G4_AVX2 inline float Reduce8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 h = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
}

// Four keys at a time: independent FMA chains hide the FMA latency; each key's chain is the
// portable one.
G4_AVX2 void ScoresAvx2(const float* q, const float* K, int64_t count, int64_t hd, float scale, float* S) {
  int64_t j = 0;
  for (; j + 4 <= count; j += 4) {
    const float* k0 = K + j * hd;
    const float* k1 = k0 + hd;
    const float* k2 = k1 + hd;
    const float* k3 = k2 + hd;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i < hd; i += 8) {
      const __m256 x = _mm256_loadu_ps(q + i);
      a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k0 + i), a0);
      a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k1 + i), a1);
      a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k2 + i), a2);
      a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k3 + i), a3);
    }
    S[j] = scale * Reduce8(a0);
    S[j + 1] = scale * Reduce8(a1);
    S[j + 2] = scale * Reduce8(a2);
    S[j + 3] = scale * Reduce8(a3);
  }
  for (; j < count; ++j) {
    const float* k = K + j * hd;
    __m256 a = _mm256_setzero_ps();
    for (int64_t i = 0; i < hd; i += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(k + i), a);
    S[j] = scale * Reduce8(a);
  }
}

G4_AVX2 void ExpAvx2(const float* S, int64_t count, float m, float* e) {
  const __m256 vm = _mm256_set1_ps(m), ln_min = _mm256_set1_ps(FromBits(0xc2aeac50));
  const __m256 ln_max = _mm256_set1_ps(FromBits(0x42b17218)), log2e = _mm256_set1_ps(FromBits(0x3fb8aa3b));
  const __m256 c0 = _mm256_set1_ps(kFexpC0), c1 = _mm256_set1_ps(kFexpC1), c2 = _mm256_set1_ps(kFexpC2);
  const __m256 c3 = _mm256_set1_ps(kFexpC3), a = _mm256_set1_ps(kFexpA), b = _mm256_set1_ps(kFexpB);
  const __m256 zero = _mm256_setzero_ps(), inf = _mm256_set1_ps(INFINITY);
  int64_t j = 0;
  for (; j + 8 <= count; j += 8) {
    const __m256 x = _mm256_sub_ps(_mm256_loadu_ps(S + j), vm);
    const __m256 below = _mm256_cmp_ps(x, ln_min, _CMP_NGE_UQ);  // x < ln_min or NaN, as FexpU20
    const __m256 above = _mm256_cmp_ps(x, ln_max, _CMP_GT_OQ);
    __m256 src = _mm256_mul_ps(x, log2e);
    const __m256 frac = _mm256_sub_ps(src, _mm256_floor_ps(src));
    __m256 res = _mm256_fmadd_ps(frac, c3, c2);
    res = _mm256_fmadd_ps(frac, res, c1);
    res = _mm256_fmadd_ps(frac, res, c0);
    src = _mm256_sub_ps(src, res);
    __m256 y = _mm256_castsi256_ps(_mm256_cvttps_epi32(_mm256_fmadd_ps(a, src, b)));
    y = _mm256_blendv_ps(y, zero, below);
    y = _mm256_blendv_ps(y, inf, above);
    _mm256_storeu_ps(e + j, y);
  }
  for (; j < count; ++j) e[j] = FexpU20(S[j] - m);
}

// Two rows x four keys: each K load serves both rows (the chains are ScoresAvx2's).
G4_AVX2 void Scores2Avx2(const float* q0, const float* q1, const float* K, int64_t count, int64_t hd, float scale,
                         float* S0, float* S1) {
  int64_t j = 0;
  for (; j + 4 <= count; j += 4) {
    const float* k0 = K + j * hd;
    const float* k1 = k0 + hd;
    const float* k2 = k1 + hd;
    const float* k3 = k2 + hd;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int64_t i = 0; i < hd; i += 8) {
      const __m256 x = _mm256_loadu_ps(q0 + i), y = _mm256_loadu_ps(q1 + i);
      const __m256 v0 = _mm256_loadu_ps(k0 + i), v1 = _mm256_loadu_ps(k1 + i);
      a0 = _mm256_fmadd_ps(x, v0, a0);
      b0 = _mm256_fmadd_ps(y, v0, b0);
      a1 = _mm256_fmadd_ps(x, v1, a1);
      b1 = _mm256_fmadd_ps(y, v1, b1);
      const __m256 v2 = _mm256_loadu_ps(k2 + i), v3 = _mm256_loadu_ps(k3 + i);
      a2 = _mm256_fmadd_ps(x, v2, a2);
      b2 = _mm256_fmadd_ps(y, v2, b2);
      a3 = _mm256_fmadd_ps(x, v3, a3);
      b3 = _mm256_fmadd_ps(y, v3, b3);
    }
    S0[j] = scale * Reduce8(a0), S0[j + 1] = scale * Reduce8(a1);
    S0[j + 2] = scale * Reduce8(a2), S0[j + 3] = scale * Reduce8(a3);
    S1[j] = scale * Reduce8(b0), S1[j + 1] = scale * Reduce8(b1);
    S1[j + 2] = scale * Reduce8(b2), S1[j + 3] = scale * Reduce8(b3);
  }
  if (j < count) {
    ScoresAvx2(q0, K + j * hd, count - j, hd, scale, S0 + j);
    ScoresAvx2(q1, K + j * hd, count - j, hd, scale, S1 + j);
  }
}

// 32 accumulator columns stay in registers across all keys; head dims are multiples of 8.
G4_AVX2 void AccumulateAvx2(const float* P, const float* V, int64_t count, int64_t hd, float* acc) {
  int64_t i0 = 0;
  for (; i0 + 32 <= hd; i0 += 32) {
    __m256 c0 = _mm256_loadu_ps(acc + i0), c1 = _mm256_loadu_ps(acc + i0 + 8);
    __m256 c2 = _mm256_loadu_ps(acc + i0 + 16), c3 = _mm256_loadu_ps(acc + i0 + 24);
    for (int64_t j = 0; j < count; ++j) {
      const __m256 p = _mm256_set1_ps(P[j]);
      const float* v = V + j * hd + i0;
      c0 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v), c0);
      c1 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8), c1);
      c2 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 16), c2);
      c3 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 24), c3);
    }
    _mm256_storeu_ps(acc + i0, c0);
    _mm256_storeu_ps(acc + i0 + 8, c1);
    _mm256_storeu_ps(acc + i0 + 16, c2);
    _mm256_storeu_ps(acc + i0 + 24, c3);
  }
  for (; i0 < hd; i0 += 8) {
    __m256 c = _mm256_loadu_ps(acc + i0);
    for (int64_t j = 0; j < count; ++j)
      c = _mm256_fmadd_ps(_mm256_set1_ps(P[j]), _mm256_loadu_ps(V + j * hd + i0), c);
    _mm256_storeu_ps(acc + i0, c);
  }
}

// Two rows over the same keys: each V load serves both (per element the order of
// AccumulateAvx2).
G4_AVX2 void Accumulate2Avx2(const float* P0, const float* P1, const float* V, int64_t count, int64_t hd,
                             float* acc0, float* acc1) {
  int64_t i0 = 0;
  for (; i0 + 32 <= hd; i0 += 32) {
    __m256 c0 = _mm256_loadu_ps(acc0 + i0), c1 = _mm256_loadu_ps(acc0 + i0 + 8);
    __m256 c2 = _mm256_loadu_ps(acc0 + i0 + 16), c3 = _mm256_loadu_ps(acc0 + i0 + 24);
    __m256 d0 = _mm256_loadu_ps(acc1 + i0), d1 = _mm256_loadu_ps(acc1 + i0 + 8);
    __m256 d2 = _mm256_loadu_ps(acc1 + i0 + 16), d3 = _mm256_loadu_ps(acc1 + i0 + 24);
    for (int64_t j = 0; j < count; ++j) {
      const __m256 p = _mm256_set1_ps(P0[j]), r = _mm256_set1_ps(P1[j]);
      const float* v = V + j * hd + i0;
      const __m256 v0 = _mm256_loadu_ps(v), v1 = _mm256_loadu_ps(v + 8);
      c0 = _mm256_fmadd_ps(p, v0, c0);
      d0 = _mm256_fmadd_ps(r, v0, d0);
      c1 = _mm256_fmadd_ps(p, v1, c1);
      d1 = _mm256_fmadd_ps(r, v1, d1);
      const __m256 v2 = _mm256_loadu_ps(v + 16), v3 = _mm256_loadu_ps(v + 24);
      c2 = _mm256_fmadd_ps(p, v2, c2);
      d2 = _mm256_fmadd_ps(r, v2, d2);
      c3 = _mm256_fmadd_ps(p, v3, c3);
      d3 = _mm256_fmadd_ps(r, v3, d3);
    }
    _mm256_storeu_ps(acc0 + i0, c0);
    _mm256_storeu_ps(acc0 + i0 + 8, c1);
    _mm256_storeu_ps(acc0 + i0 + 16, c2);
    _mm256_storeu_ps(acc0 + i0 + 24, c3);
    _mm256_storeu_ps(acc1 + i0, d0);
    _mm256_storeu_ps(acc1 + i0 + 8, d1);
    _mm256_storeu_ps(acc1 + i0 + 16, d2);
    _mm256_storeu_ps(acc1 + i0 + 24, d3);
  }
  for (int64_t i = i0; i < hd; i += 8) {  // the last < 32 columns, 8 at a time
    __m256 c = _mm256_loadu_ps(acc0 + i), d = _mm256_loadu_ps(acc1 + i);
    for (int64_t j = 0; j < count; ++j) {
      const __m256 v = _mm256_loadu_ps(V + j * hd + i);
      c = _mm256_fmadd_ps(_mm256_set1_ps(P0[j]), v, c);
      d = _mm256_fmadd_ps(_mm256_set1_ps(P1[j]), v, d);
    }
    _mm256_storeu_ps(acc0 + i, c);
    _mm256_storeu_ps(acc1 + i, d);
  }
}
#endif

struct InnerLoops {
  void (*scores)(const float*, const float*, int64_t, int64_t, float, float*);
  void (*scores2)(const float*, const float*, const float*, int64_t, int64_t, float, float*, float*);
  void (*exp)(const float*, int64_t, float, float*);
  void (*accumulate)(const float*, const float*, int64_t, int64_t, float*);
  void (*accumulate2)(const float*, const float*, const float*, int64_t, int64_t, float*, float*);
};

// torch's row sum of a key block: 16 lanes (AVX512 vectors; key k of the block in lane k mod
// 16, masked keys adding 0), then its vec_reduce_all: lanes i and i ^ 8, then ^ 4, ^ 2, ^ 1.
float ReduceLanes16(const float* l) {
  float s1[8], s2[4], s3[2];
  for (int i = 0; i < 8; ++i) s1[i] = l[i] + l[i + 8];
  for (int i = 0; i < 4; ++i) s2[i] = s1[i] + s1[i + 4];
  for (int i = 0; i < 2; ++i) s3[i] = s2[i] + s2[i + 2];
  return s3[0] + s3[1];
}

// ---- work items ------------------------------------------------------------------------------

// Visible keys of the query at position p: [lo, p].
int64_t FirstVisible(int64_t p, int64_t window) { return window > 0 ? std::max<int64_t>(0, p - window + 1) : 0; }

struct Item {
  int64_t g;       // kv head
  int64_t h0;      // first query head (of `heads` consecutive ones, all of kv head g)
  int64_t t0, nt;  // query tokens t0 .. t0+nt-1 of the batch
};

struct Job {
  const AttentionParams& p;
  const KvView& kv;
  const float* q;
  int64_t pos0;
  float* out;
  int64_t heads;  // query heads per item
  InnerLoops loops;
};

// Per-item scratch, reused by one thread across its items.
struct SdpaScratch {
  std::vector<float> S, acc, kv, m, l;  // [R][B] scores then P, [R][hd], [64][hd], [R], [R]
  std::vector<int64_t> lo, hi;
  std::vector<char> active;
};

// One sdpa work item: rows r = ti * heads + hh (token t0 + ti, head h0 + hh), all of kv head g.
void RunSdpaItem(const Job& job, const Item& it, SdpaScratch& s) {
  const AttentionParams& p = job.p;
  const int64_t hd = p.head_dim, nh = p.num_heads, B = p.kv_block, W = p.window;
  const int64_t R = it.nt * job.heads;
  s.S.resize(size_t(R * B));
  s.acc.assign(size_t(R * hd), 0.0f);
  const int64_t sub = kSubBlock;
  s.kv.resize(size_t(sub * hd));
  s.m.assign(R, -INFINITY);
  s.l.assign(R, 0.0f);
  s.lo.resize(R);
  s.hi.resize(R);
  s.active.resize(R);
  auto SameToken = [&](int64_t r0, int64_t r1) { return r0 / job.heads == r1 / job.heads; };
  auto qrow = [&](int64_t r) {
    return job.q + (it.t0 + r / job.heads) * nh * hd + (it.h0 + r % job.heads) * hd;
  };
  for (int64_t r = 0; r < R; ++r) {
    const int64_t pos = job.pos0 + it.t0 + r / job.heads;
    s.lo[r] = FirstVisible(pos, W);
    s.hi[r] = pos;
  }
  const int64_t klo = s.lo[0], khi = s.hi[R - 1];  // lo and hi grow with the token
  for (int64_t kb = klo / B; kb <= khi / B; ++kb) {
    const int64_t bs = kb * B, be = bs + B - 1;
    const int64_t u0 = std::max(bs, klo), u1 = std::min(be, khi);
    // 1. Scores of every row's visible keys in this block.
    for (int64_t s0 = u0; s0 <= u1; s0 += sub) {
      const int64_t s1 = std::min(u1, s0 + sub - 1);
      LoadRows(job.kv, /*value=*/false, it.g, hd, s0, s1 - s0 + 1, s.kv.data());
      for (int64_t r = 0; r < R; ++r) {
        const int64_t a = std::max(s0, s.lo[r]), b = std::min(s1, s.hi[r]);
        if (a > b) continue;
        const float* k = s.kv.data() + (a - s0) * hd;
        if (r + 1 < R && SameToken(r, r + 1)) {  // two heads of a token: the same keys
          job.loops.scores2(qrow(r), qrow(r + 1), k, b - a + 1, hd, p.scale, &s.S[r * B + (a - bs)],
                            &s.S[(r + 1) * B + (a - bs)]);
          ++r;
        } else {
          job.loops.scores(qrow(r), k, b - a + 1, hd, p.scale, &s.S[r * B + (a - bs)]);
        }
      }
    }
    // 2. Online max and sum; P = bf16(exp(S - m')) in place of S.
    for (int64_t r = 0; r < R; ++r) {
      const int64_t a = std::max(bs, s.lo[r]), b = std::min(be, s.hi[r]);
      s.active[r] = 0;
      if (a > b) continue;  // a fully masked block is a no-op in torch too
      float* S = &s.S[r * B + (a - bs)];
      const int64_t cnt = b - a + 1;
      float bm = -INFINITY;
      for (int64_t j = 0; j < cnt; ++j) bm = std::max(bm, S[j]);
      const float m_new = std::max(s.m[r], bm);
      if (m_new == -INFINITY) continue;
      job.loops.exp(S, cnt, m_new, S);
      float lanes[16] = {};
      for (int64_t j = 0, lane = (a - bs) & 15; j < cnt; ++j, lane = (lane + 1) & 15) {
        lanes[lane] += S[j];
        S[j] = ops::RoundBf16(S[j]);
      }
      const float blocksum = ReduceLanes16(lanes);
      const float alpha = std::exp(s.m[r] - m_new);  // scalar libm exp in torch too
      s.l[r] = blocksum + alpha * s.l[r];
      s.m[r] = m_new;
      s.active[r] = 1;
      float* acc = &s.acc[r * hd];
      for (int64_t i = 0; i < hd; ++i) acc[i] *= alpha;
    }
    // 3. acc += P . V over the block.
    for (int64_t s0 = u0; s0 <= u1; s0 += sub) {
      const int64_t s1 = std::min(u1, s0 + sub - 1);
      LoadRows(job.kv, /*value=*/true, it.g, hd, s0, s1 - s0 + 1, s.kv.data());
      for (int64_t r = 0; r < R; ++r) {
        if (!s.active[r]) continue;
        const int64_t a = std::max(s0, s.lo[r]), b = std::min(s1, s.hi[r]);
        if (a > b) continue;
        const float* v = s.kv.data() + (a - s0) * hd;
        if (r + 1 < R && SameToken(r, r + 1)) {  // a token's rows are active together
          job.loops.accumulate2(&s.S[r * B + (a - bs)], &s.S[(r + 1) * B + (a - bs)], v, b - a + 1, hd,
                                &s.acc[r * hd], &s.acc[(r + 1) * hd]);
          ++r;
        } else {
          job.loops.accumulate(&s.S[r * B + (a - bs)], v, b - a + 1, hd, &s.acc[r * hd]);
        }
      }
    }
  }
  for (int64_t r = 0; r < R; ++r) {
    const float inv = 1.0f / (s.l[r] == 0.0f ? 1.0f : s.l[r]);
    float* o = job.out + (it.t0 + r / job.heads) * nh * hd + (it.h0 + r % job.heads) * hd;
    const float* acc = &s.acc[r * hd];
    for (int64_t i = 0; i < hd; ++i) o[i] = acc[i] * inv;
  }
}

// One (token, head) row of kExact / kEager: the arithmetic gemma4c's interpreter always had
// (float64 dot, fp32 scores and exp, float64 sum and P.V), reading the cache in place.
void RunExactRow(const Job& job, int64_t t, int64_t h, std::vector<float>& scores, std::vector<float>& krow,
                 std::vector<double>& acc) {
  const AttentionParams& p = job.p;
  const int64_t hd = p.head_dim, nh = p.num_heads, group = nh / p.num_kv_heads, g = h / group;
  const bool eager = p.mode == AttentionMode::kEager;
  const int64_t pos = job.pos0 + t, lo = FirstVisible(pos, p.window), nk = pos - lo + 1;
  const float* qh = job.q + t * nh * hd + h * hd;
  scores.resize(nk);
  krow.resize(hd);
  float m = -INFINITY;
  for (int64_t k = lo; k <= pos; ++k) {
    LoadRows(job.kv, /*value=*/false, g, hd, k, 1, krow.data());
    double dot = 0.0;
    for (int64_t i = 0; i < hd; ++i) dot += double(qh[i]) * double(krow[i]);
    float sc = float(dot) * p.scale;
    if (eager) sc = ops::RoundBf16(sc);
    scores[k - lo] = sc;
    m = std::max(m, sc);
  }
  double sum = 0.0;
  for (int64_t j = 0; j < nk; ++j) sum += (scores[j] = std::exp(scores[j] - m));
  const float inv = float(1.0 / sum);
  acc.assign(hd, 0.0);
  for (int64_t j = 0; j < nk; ++j) {
    float pj = scores[j] * inv;
    if (eager) pj = ops::RoundBf16(pj);
    LoadRows(job.kv, /*value=*/true, g, hd, lo + j, 1, krow.data());
    for (int64_t i = 0; i < hd; ++i) acc[i] += double(pj) * double(krow[i]);
  }
  float* oh = job.out + t * nh * hd + h * hd;
  for (int64_t i = 0; i < hd; ++i) oh[i] = float(acc[i]);
}

absl::Status Validate(const AttentionParams& p, const KvView& kv, const float* q, int64_t pos0, int64_t n,
                      const float* out) {
  if (p.num_heads <= 0 || p.num_kv_heads <= 0 || p.num_heads % p.num_kv_heads != 0)
    return absl::InvalidArgumentError(absl::StrCat("Attention: ", p.num_heads, " query heads over ",
                                                   p.num_kv_heads, " KV heads"));
  if (p.head_dim <= 0 || p.head_dim % 8 != 0)
    return absl::InvalidArgumentError(absl::StrCat("Attention: head dim ", p.head_dim, " is not a positive multiple of 8"));
  if (p.window < 0 || p.kv_block <= 0 || pos0 < 0 || n < 0)
    return absl::InvalidArgumentError(absl::StrCat("Attention: window ", p.window, ", key block ", p.kv_block,
                                                   ", positions ", pos0, " + ", n));
  if (kv.row != p.num_kv_heads * p.head_dim)
    return absl::InvalidArgumentError(absl::StrCat("Attention: KV row of ", kv.row, " elements, expected ",
                                                   p.num_kv_heads, " x ", p.head_dim));
  if (!((kv.k16 && kv.v16) || (kv.k32 && kv.v32)))
    return absl::InvalidArgumentError("Attention: the KV view has no K and V storage");
  if (n > 0 && (!q || !out)) return absl::InvalidArgumentError("Attention: null query or output");
  if (n == 0) return absl::OkStatus();
  const int64_t first = FirstVisible(pos0, p.window), last = pos0 + n - 1;
  // A ring holds `capacity` consecutive positions; a flat cache positions 0 .. capacity-1.
  const bool held = kv.ring ? last - first + 1 <= kv.capacity : last < kv.capacity;
  if (!held)
    return absl::InvalidArgumentError(absl::StrCat("Attention: keys ", first, "..", last, " are not all in a ",
                                                   kv.ring ? "ring" : "cache", " of ", kv.capacity, " positions"));
  return absl::OkStatus();
}

}  // namespace

absl::Status Attention(const AttentionParams& p, const KvView& kv, const float* q, int64_t pos0, int64_t n,
                       float* out, ThreadPool* pool) {
  if (absl::Status st = Validate(p, kv, q, pos0, n, out); !st.ok()) return st;
  if (n == 0) return absl::OkStatus();
  if (p.isa == Isa::kAvx2 && !CpuHasAvx2())
    return absl::FailedPreconditionError("Attention: AVX2 requested on a CPU without AVX2");
  InnerLoops loops{ScoresPortable, Scores2Portable, ExpPortable, AccumulatePortable, Accumulate2Portable};
#ifdef G4_ATTENTION_AVX2
  if (p.isa != Isa::kPortable && CpuHasAvx2())
    loops = {ScoresAvx2, Scores2Avx2, ExpAvx2, AccumulateAvx2, Accumulate2Avx2};
#endif
  const int threads = pool ? pool->num_threads() : 1;
  const int64_t group = p.num_heads / p.num_kv_heads;
  auto parallel = [&](int64_t count, auto&& fn) {
    if (pool && count > 1) pool->ParallelFor(count, fn);
    else fn(0, count);
  };

  if (p.mode != AttentionMode::kSdpa) {
    Job job{p, kv, q, pos0, out, 1, loops};
    parallel(n * p.num_heads, [&](int64_t b, int64_t e) {
      std::vector<float> scores, krow;
      std::vector<double> acc;
      for (int64_t i = b; i < e; ++i) RunExactRow(job, i / p.num_heads, i % p.num_heads, scores, krow, acc);
    });
    return absl::OkStatus();
  }

  // Items: all heads of a kv head share each K/V row they load (GQA); when that leaves fewer
  // items than threads (decode), split the heads. Neither choice changes any row's arithmetic.
  auto tokens_per_item = [](int64_t heads) { return std::max<int64_t>(1, kItemRows / heads); };
  auto items = [&](int64_t heads) {
    return p.num_kv_heads * (group / heads) * ((n + tokens_per_item(heads) - 1) / tokens_per_item(heads));
  };
  int64_t heads = group;
  while (heads > 1 && heads % 2 == 0 && items(heads) < threads) heads /= 2;
  const int64_t nt_item = tokens_per_item(heads);
  const int64_t tblocks = (n + nt_item - 1) / nt_item, hsplit = group / heads;
  Job job{p, kv, q, pos0, out, heads, loops};
  parallel(p.num_kv_heads * hsplit * tblocks, [&](int64_t b, int64_t e) {
    // Per thread and kept across calls: S alone is 128 KiB at 64 rows x 512 keys, which malloc
    // serves with a fresh mmap, so a per-range scratch page-faulted and cleared its pages on
    // every range (12 % of an E2B prefill's samples in clear_page).
    thread_local SdpaScratch scratch;
    for (int64_t i = b; i < e; ++i) {
      const int64_t tb = i % tblocks, hs = (i / tblocks) % hsplit, g = i / (tblocks * hsplit);
      const int64_t t0 = tb * nt_item;
      RunSdpaItem(job, Item{g, g * group + hs * heads, t0, std::min(nt_item, n - t0)}, scratch);
    }
  });
  return absl::OkStatus();
}

}  // namespace g4::cpu

// The helpers of the fused CPU kernels that `gemma4c compile` emits (compiler/lib/Emit,
// docs/fusion.md). An emitted body calls the runtime's matrix product through Linear, then
// walks the tokens and calls one helper per row op on rows of the plan's tensors (Row) or of its
// per-token scratch. The math itself is row_ops.h, shared with the runtime's interpreted steps,
// so a kernel computes bit for bit what the interpreter computes.
//
// Every row helper is spelled like its CUDA twin in fused_rows_cuda.cuh (same name, template
// arguments and call arguments), so the compiler writes both targets from one description of
// the row ops. Widths are template arguments: N floats per row (N a multiple of the group
// width W of RmsNorm and of the head dim HD of Rope). Input and output rows may alias unless a
// helper says otherwise.
//
// The emitted sources include this header, row_ops.h and kernel_abi.h by their bare names:
// the compiler copies all three beside them into OUTDIR/src.
#ifndef GEMMA4C_KERNELS_COMMON_FUSED_ROWS_CPU_H_
#define GEMMA4C_KERNELS_COMMON_FUSED_ROWS_CPU_H_

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernel_abi.h"
#include "row_ops.h"
#include "tanh_avx2.h"  // empty unless __AVX2__ (the AVX2 build of the kernels)

namespace g4::fused {
// Internal linkage: every kernel library keeps its own copies, so the portable and the AVX2
// build loaded into one process never share instantiations compiled for different CPUs.
namespace {

// Row r of plan tensor `id` (the call's tensor table, width floats per token).
inline float* Row(const g4k_call* c, int32_t id, int64_t r) {
  return c->tensors[id].data + r * c->tensors[id].width;
}
// A 1-D weight (norm weight, channel scale, layer scalar): the runtime binds it as f32.
inline const float* Vec(const g4k_call* c, int32_t id) { return c->weights[id].f32; }
// The position held in an inp_pos row: an int32 stored in the float's bits.
inline int64_t PosAt(const float* row) {
  int32_t p;
  std::memcpy(&p, row, 4);
  return p;
}
// y = x * W for all tokens, by the runtime (quantized GEMM); round: bf16 epilogue.
inline void Linear(const g4k_call* c, int32_t w, int32_t x, int32_t y, int round) {
  c->api->linear(c->rt, &c->weights[w], c->tensors[x].data, c->n_tokens, c->tensors[y].data,
                 round);
}

// body(i, scratch) for i in [0, n), on the runtime's threads when it offers them
// (g4k_api::parallel_rows); each range gets its own `scratch_floats` of scratch. The items are
// independent, so the result is the same for any split.
template <typename Body>
inline void ForItems(const g4k_call* c, int64_t n, int64_t scratch_floats, const Body& body) {
  struct Ctx {
    const Body* body;
    int64_t scratch_floats;
  } ctx{&body, scratch_floats};
  auto run = [](void* p, int64_t begin, int64_t end) {
    const Ctx& x = *static_cast<const Ctx*>(p);
    // Per thread, grown and kept: every row writes its scratch before reading it, and a fresh
    // zeroed buffer per call (up to 48 KiB at E2B's widths) cost page faults and clearing each
    // time the heap top was trimmed (14 % of an E2B prefill's samples).
    thread_local std::vector<float> scratch;
    if (scratch.size() < static_cast<size_t>(x.scratch_floats)) scratch.resize(x.scratch_floats);
    for (int64_t r = begin; r < end; ++r) (*x.body)(r, scratch.data());
  };
  if (n > 1 && c->api->parallel_rows != nullptr) {
    c->api->parallel_rows(c->rt, n, run, &ctx);
  } else {
    run(&ctx, 0, n);
  }
}

// body(r, scratch) for every token row r of the call (ForItems over the rows).
template <typename Body>
inline void ForRows(const g4k_call* c, int64_t scratch_floats, const Body& body) {
  ForItems(c, c->n_tokens, scratch_floats, body);
}

// body(c0, scratch) for c0 = 0, K, 2K, ... < N: the one token row of an elementwise region (its
// element j depends only on element j of its inputs) in N / K column blocks, on the runtime's
// threads (ForItems). At decode ForRows has one row to hand out, so a wide row (the LM head's
// softcap over the vocabulary) would run on one thread. The body offsets its rows by c0 and
// calls the helpers with width K (a multiple of 8, so their AVX2 loops take every element as on
// the whole row: the same bits). Its scratch rows are those of the whole row, offset by c0.
template <int64_t N, int64_t K, typename Body>
inline void ForColumns(const g4k_call* c, int64_t scratch_floats, const Body& body) {
  static_assert(N % K == 0 && K % 8 == 0, "whole 8-float blocks");
  ForItems(c, N / K, scratch_floats,
           [&](int64_t block, float* scratch) { body(block * K, scratch); });
}

template <int64_t N> inline void Scale(const float* x, float f, float* y) {
  for (int64_t i = 0; i < N; ++i) y[i] = x[i] * f;
}
template <int64_t N> inline void ChannelMul(const float* x, const float* w, float* y) {
  for (int64_t i = 0; i < N; ++i) y[i] = x[i] * w[i];
}
template <int64_t N> inline void Add(const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < N; ++i) y[i] = a[i] + b[i];
}
template <int64_t N> inline void Mul(const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < N; ++i) y[i] = a[i] * b[i];
}
// ops::GeluTanh per element; the AVX2 build takes 8 at a time with glibc's tanhf restated on
// 8 lanes (tanh_avx2.h, the same bits), since one libm call per element was 19 % of a prefill.
template <int64_t N> inline void Gelu(const float* x, float* y) {
  int64_t i = 0;
#if defined(__AVX2__)
  for (; i + 8 <= N; i += 8) _mm256_storeu_ps(y + i, simd::GeluTanh(_mm256_loadu_ps(x + i)));
#endif
  for (; i < N; ++i) y[i] = ops::GeluTanh(x[i]);
}
template <int64_t N> inline void Round(const float* x, float* y) {
  int64_t i = 0;
#if defined(__AVX2__)
  for (; i + 8 <= N; i += 8) _mm256_storeu_ps(y + i, simd::RoundBf16(_mm256_loadu_ps(x + i)));
#endif
  for (; i < N; ++i) y[i] = ops::RoundBf16(x[i]);
}
// ops::Softcap per element, 8 at a time in the AVX2 build (tanh_avx2.h, the same bits): the
// final logit softcap is one tanh per vocabulary entry, 262144 per decoded token.
template <int64_t N> inline void SoftcapRow(const float* x, float cap, bool round, float* y) {
  int64_t i = 0;
#if defined(__AVX2__)
  for (; i + 8 <= N; i += 8) _mm256_storeu_ps(y + i, simd::Softcap(_mm256_loadu_ps(x + i), cap, round));
#endif
  for (; i < N; ++i) y[i] = ops::Softcap(x[i], cap, round);
}
template <int64_t N> inline void Copy(const float* x, float* y) {
  if (x != y) std::memcpy(y, x, sizeof(float) * N);
}
// ops::RmsNormRow over each W-wide group of the row; w may be null (unscaled norm).
template <int64_t N, int64_t W>
inline void RmsNorm(const float* x, const float* w, float eps, float* y) {
  ops::RmsNormRow(x, w, N, W, eps, y);
}
// The RD/2 (cos, sin) pairs of ops::RopeCosSin at one (theta, pos, round), kept per thread
// and per (HD, RD) for the next call. Why: each pair is a pow, a cos and a sin in double, and at
// decode every layer's Q and K rows ask again for the same position (E2B: 70 calls per token, 2
// distinct tables). A batch's rows have distinct positions: there the table is recomputed.
template <int64_t HD, int64_t RD>
struct RopeTable {
  double theta = 0;
  int64_t pos = -1;
  bool round = false;
  float c[RD / 2], s[RD / 2];

  static const RopeTable& At(double theta, int64_t pos, bool round) {
    thread_local RopeTable t;
    if (t.pos != pos || t.theta != theta || t.round != round) {
      for (int64_t i = 0; i < RD / 2; ++i) {
        ops::RopeCosSin(i, HD, theta, pos, round, &t.c[i], &t.s[i]);
      }
      t.theta = theta, t.pos = pos, t.round = round;
    }
    return t;
  }
};

// ops::RopeRow in place: heads of HD, the first RD dims rotary; its steps
// (ops::RopeRotatePairs), the angles from RopeTable.
template <int64_t N, int64_t HD, int64_t RD>
inline void Rope(float* y, double theta, int64_t pos, bool round) {
  const RopeTable<HD, RD>& t = RopeTable<HD, RD>::At(theta, pos, round);
  for (int64_t i = 0; i < RD / 2; ++i) ops::RopeRotatePairs(y, N, HD, i, t.c[i], t.s[i], round);
}

}  // namespace
}  // namespace g4::fused

#endif  // GEMMA4C_KERNELS_COMMON_FUSED_ROWS_CPU_H_

// The CPU interpreter (cpu_interpreter.h). Each op reads its typed attributes (plan.fbs), which
// the plan reader checked are the ones its kind needs.
#include "exec/cpu_interpreter.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/row_ops.h"
#include "common/status_macros.h"
#include "cpu/attention.h"
#include "gguf/ggml_types.h"

namespace g4::exec {
namespace {

using plan::OpKind;
using plan::Rounding;

int32_t AsInt(const float* slot) {
  int32_t v;
  std::memcpy(&v, slot, 4);
  return v;
}
void StoreInt(float* slot, int32_t v) { std::memcpy(slot, &v, 4); }

}  // namespace

absl::Status CpuInterpreter::Run() {
  switch (step_.op()) {
    case OpKind::Fused: return RunFused();
    case OpKind::Embed: Embed(); break;
    case OpKind::Scale: {
      const float f = float(step_.attrs_as_ScaleAttrs()->factor());
      Map([f](float x) { return x * f; });
      break;
    }
    case OpKind::RmsNorm: RmsNorm(); break;
    case OpKind::Linear: Linear(W(0), T(In(0)), n_, T(Out(0)), /*round_bf16=*/false); break;
    case OpKind::Rope: Rope(); break;
    case OpKind::Attention: return Attention();
    case OpKind::GeluTanh: Map([](float x) { return ops::GeluTanh(x); }); break;
    case OpKind::Mul: Zip([](float a, float b) { return a * b; }); break;
    case OpKind::Add: Zip([](float a, float b) { return a + b; }); break;
    case OpKind::ChannelMul: ChannelMul(); break;
    case OpKind::LayerScalar: {
      const float w = W(0).f32[0];
      Map([w](float x) { return x * w; });
      break;
    }
    case OpKind::Softcap: {
      const plan::SoftcapAttrs& a = *step_.attrs_as_SoftcapAttrs();
      const float cap = float(a.cap());
      const bool round = a.rounding() == Rounding::SoftcapBf16;
      Map([cap, round](float x) { return ops::Softcap(x, cap, round); });
      break;
    }
    case OpKind::RoundBf16: Map([](float x) { return ops::RoundBf16(x); }); break;
    case OpKind::Softmax: Softmax(); break;
    case OpKind::TopK: TopK(); break;
    case OpKind::Renormalize: Renormalize(); break;
    case OpKind::ExpertScale: ExpertScale(); break;
    case OpKind::ExpertFfn: ExpertFfn(); break;
    case OpKind::PleSlice: PleSlice(); break;
  }
  return absl::OkStatus();
}

absl::Status CpuInterpreter::RunFused() {
  if (!step_.body()) return absl::OkStatus();
  for (const plan::Step* inner : *step_.body()) G4_RETURN_IF_ERROR(CpuInterpreter(b_, *inner).Run());
  return absl::OkStatus();
}

template <typename F>
void CpuInterpreter::Map(F f) {
  const float* x = T(In(0));
  float* y = T(Out(0));
  const int64_t n = n_ * Width(Out(0));
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <typename F>
void CpuInterpreter::Zip(F f) {
  const float* a = T(In(0));
  const float* b = T(In(1));
  float* y = T(Out(0));
  const int64_t n = n_ * Width(Out(0));
  for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
}

void CpuInterpreter::Linear(const g4k_weight& w, const float* x, int64_t tokens, float* y, bool round_bf16) {
  CpuBackend::ApiLinear(&b_, &w, x, tokens, y, round_bf16 ? 1 : 0);
}

void CpuInterpreter::Embed() {
  const g4k_weight& table = W(0);
  const auto type = gguf::GgmlType(table.ggml_type);
  const int64_t width = table.ne[0];
  const uint64_t row_bytes = *gguf::RowBytes(type, width);
  const float* tokens = T(In(0));
  float* y = T(Out(0));
  for (int64_t t = 0; t < n_; ++t) {
    const uint8_t* row = static_cast<const uint8_t*>(table.data) + uint64_t(AsInt(tokens + t)) * row_bytes;
    gguf::Dequantize(type, row, y + t * width, width);
  }
}

void CpuInterpreter::RmsNorm() {
  const plan::RmsNormAttrs& a = *step_.attrs_as_RmsNormAttrs();
  const float* x = T(In(0));
  float* y = T(Out(0));
  const int64_t n = Width(Out(0));
  const float* w = step_.weights() && step_.weights()->size() ? W(0).f32 : nullptr;
  const float eps = float(a.eps());
  for (int64_t t = 0; t < n_; ++t) ops::RmsNormRow(x + t * n, w, n, a.width(), eps, y + t * n);
}

void CpuInterpreter::Rope() {
  const plan::RopeAttrs& a = *step_.attrs_as_RopeAttrs();
  const float* x = T(In(0));
  float* y = T(Out(0));
  const float* pos = T(In(1));
  const int64_t n = Width(Out(0));
  const bool round = a.rounding() == Rounding::RopeBf16;
  if (x != y) std::memcpy(y, x, sizeof(float) * n * n_);
  for (int64_t t = 0; t < n_; ++t) ops::RopeRow(y + t * n, n, a.head_dim(), a.rotary_dims(), a.theta(), AsInt(pos + t), round);
}

// Writes this batch's K/V (owning layers) and attends every query to the visible keys (causal,
// and within `window` positions on sliding layers) with kernels/cpu/attention.h, reading the
// cache in place. The plan's rounding picks the mode (docs/attention.md): AttentionSdpa is
// torch's CPU flash kernel, AttentionEager rounds scores and probabilities, None is the exact
// fp32 softmax.
absl::Status CpuInterpreter::Attention() {
  const plan::AttentionAttrs& a = *step_.attrs_as_AttentionAttrs();
  const int self = step_.layer();
  const bool owns = step_.inputs()->size() == 4;
  const float* pos = T(In(owns ? 3 : 1));
  const int64_t pos0 = AsInt(pos);
  if (owns) b_.kv_.Write(self, pos0, n_, T(In(1)), T(In(2)));
  cpu::AttentionParams p;
  p.num_heads = a.num_heads();
  p.num_kv_heads = a.num_kv_heads();
  p.head_dim = a.head_dim();
  p.window = a.window();
  p.scale = float(a.scale());
  p.mode = a.rounding() == Rounding::AttentionSdpa    ? cpu::AttentionMode::kSdpa
           : a.rounding() == Rounding::AttentionEager ? cpu::AttentionMode::kEager
                                                      : cpu::AttentionMode::kExact;
  const absl::Status st =
      cpu::Attention(p, b_.kv_.View(owns ? self : a.kv_layer()), T(In(0)), pos0, n_, T(Out(0)), b_.pool_.get());
  if (!st.ok()) return absl::Status(st.code(), absl::StrCat("layer ", self, ": ", st.message()));
  return absl::OkStatus();
}

void CpuInterpreter::ChannelMul() {
  const float* x = T(In(0));
  float* y = T(Out(0));
  const float* w = W(0).f32;
  const int64_t n = Width(Out(0));
  for (int64_t t = 0; t < n_; ++t)
    for (int64_t i = 0; i < n; ++i) y[t * n + i] = x[t * n + i] * w[i];
}

void CpuInterpreter::Softmax() {
  const int64_t n = Width(Out(0));
  const float* x = T(In(0));
  float* y = T(Out(0));
  if (x != y) std::memcpy(y, x, sizeof(float) * n * n_);
  for (int64_t t = 0; t < n_; ++t) ops::SoftmaxRow(y + t * n, n);
}

// The k largest of each row, largest first; ties go to the lower index.
void CpuInterpreter::TopK() {
  const int64_t n = Width(In(0)), k = step_.attrs_as_TopKAttrs()->k();
  const float* x = T(In(0));
  float* values = T(Out(0));
  float* indices = T(Out(1));
  std::vector<int32_t> order(n);
  for (int64_t t = 0; t < n_; ++t) {
    const float* row = x + t * n;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [row](int32_t a, int32_t b) {
      return row[a] > row[b] || (row[a] == row[b] && a < b);
    });
    for (int64_t j = 0; j < k; ++j) {
      values[t * k + j] = row[order[j]];
      StoreInt(indices + t * k + j, order[j]);
    }
  }
}

void CpuInterpreter::Renormalize() {
  const int64_t k = Width(Out(0));
  const bool round = step_.attrs_as_RenormalizeAttrs()->rounding() == Rounding::RenormalizeBf16;
  const float* x = T(In(0));
  float* y = T(Out(0));
  for (int64_t t = 0; t < n_; ++t) {
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) sum += x[t * k + j];
    if (round) sum = ops::RoundBf16(sum);
    for (int64_t j = 0; j < k; ++j) {
      float v = x[t * k + j] / sum;
      y[t * k + j] = round ? ops::RoundBf16(v) : v;
    }
  }
}

void CpuInterpreter::ExpertScale() {
  const int64_t k = Width(Out(0));
  const float* w = T(In(0));
  const float* idx = T(In(1));
  const float* scale = W(0).f32;
  float* y = T(Out(0));
  for (int64_t i = 0; i < n_ * k; ++i) y[i] = w[i] * scale[AsInt(idx + i)];
}

// Routed experts: per token and selected expert e, gu = x @ gate_up[e]^T, y = (gelu(gate) * up)
// @ down[e]^T, out += w * y. Under `ExpertsBf16*` each intermediate is rounded as the
// reference's grouped_mm path does; the sum stays fp32 (its one rounding is a round op).
//
// The tokens are grouped by expert: each expert's selected tokens go through its two matrices
// as one batch (a GEMM that streams the expert once, not one GEMV per token). A token's row of
// a batched product is bit-identical to its GEMV (cpu::MatMul's contract), and the weighted
// sums are added per token in slot order j = 0..k-1 as before, from a [tokens][k][H] buffer, so
// the result does not depend on the grouping. Tokens are taken kExpertTokenBlock at a time to
// bound that buffer. At decode (one token) every group has one row: only the routed experts'
// rows are read.
void CpuInterpreter::ExpertFfn() {
  constexpr int64_t kExpertTokenBlock = 256;
  const plan::ExpertFfnAttrs& a = *step_.attrs_as_ExpertFfnAttrs();
  const int64_t H = Width(In(0)), k = a.top_k(), ff = a.expert_ff();
  const bool round = a.rounding() == Rounding::ExpertsBf16 || a.rounding() == Rounding::ExpertsBf16Weighted;
  const bool round_weighted = a.rounding() == Rounding::ExpertsBf16Weighted;
  const g4k_weight& gate_up = W(0);
  const g4k_weight& down = W(1);
  const auto gu_type = gguf::GgmlType(gate_up.ggml_type), dn_type = gguf::GgmlType(down.ggml_type);
  const uint64_t gu_expert_bytes = *gguf::RowBytes(gu_type, H) * uint64_t(2 * ff);
  const uint64_t dn_expert_bytes = *gguf::RowBytes(dn_type, ff) * uint64_t(H);
  const float* x = T(In(0));    // [n][H]
  const float* w = T(In(1));    // [n][k] routing weights
  const float* idx = T(In(2));  // [n][k] expert ids (i32 in float slots)
  float* out = T(Out(0));       // [n][H]
  std::fill(out, out + n_ * H, 0.0f);

  // One expert group's rows (m <= kExpertTokenBlock * k): resized per group, allocated once.
  std::vector<float> xg, gu, act, y;  // [m][H], [m][2 ff], [m][ff], [m][H]
  for (int64_t t0 = 0; t0 < n_; t0 += kExpertTokenBlock) {
    const int64_t nt = std::min(kExpertTokenBlock, n_ - t0);
    // slots[e]: the (token, j) slots of this block routed to expert e, as t * k + j, ascending.
    std::vector<std::pair<int32_t, std::vector<int64_t>>> groups;
    {
      std::vector<int64_t> order(size_t(nt * k));
      std::iota(order.begin(), order.end(), t0 * k);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t l, int64_t r) { return AsInt(idx + l) < AsInt(idx + r); });
      for (int64_t slot : order) {
        const int32_t e = AsInt(idx + slot);
        if (groups.empty() || groups.back().first != e) groups.push_back({e, {}});
        groups.back().second.push_back(slot);
      }
    }
    std::vector<float> y_slots(size_t(nt * k * H));  // [nt][k][H]: w * y of each slot
    for (const auto& [e, slots] : groups) {
      const int64_t m = static_cast<int64_t>(slots.size());
      g4k_weight gw = gate_up, dw = down;
      gw.data = static_cast<const uint8_t*>(gate_up.data) + uint64_t(e) * gu_expert_bytes;
      gw.n_dims = 2, gw.ne[1] = 2 * ff;
      dw.data = static_cast<const uint8_t*>(down.data) + uint64_t(e) * dn_expert_bytes;
      dw.n_dims = 2, dw.ne[1] = H;
      xg.resize(size_t(m * H)), gu.resize(size_t(m * 2 * ff)), act.resize(size_t(m * ff)), y.resize(size_t(m * H));
      for (int64_t i = 0; i < m; ++i) {
        std::memcpy(&xg[size_t(i * H)], x + slots[size_t(i)] / k * H, size_t(H) * sizeof(float));
      }
      Linear(gw, xg.data(), m, gu.data(), round);
      for (int64_t i = 0; i < m; ++i) {
        const float* g_row = &gu[size_t(i * 2 * ff)];
        float* a_row = &act[size_t(i * ff)];
        for (int64_t c = 0; c < ff; ++c) {
          float g = ops::GeluTanh(g_row[c]);
          if (round) g = ops::RoundBf16(g);
          const float v = g * g_row[ff + c];
          a_row[c] = round ? ops::RoundBf16(v) : v;
        }
      }
      Linear(dw, act.data(), m, y.data(), round);
      for (int64_t i = 0; i < m; ++i) {
        const int64_t slot = slots[size_t(i)];
        const float wt = w[slot];
        float* dst = &y_slots[size_t((slot - t0 * k) * H)];
        for (int64_t c = 0; c < H; ++c) {
          const float v = y[size_t(i * H + c)] * wt;
          dst[c] = round_weighted ? ops::RoundBf16(v) : v;
        }
      }
    }
    for (int64_t t = 0; t < nt; ++t) {
      float* o = out + (t0 + t) * H;
      for (int64_t j = 0; j < k; ++j) {
        const float* src = &y_slots[size_t((t * k + j) * H)];
        for (int64_t c = 0; c < H; ++c) o[c] += src[c];
      }
    }
  }
}

void CpuInterpreter::PleSlice() {
  const int64_t packed = Width(In(0)), p = Width(Out(0));
  const int64_t layer = step_.attrs_as_PleSliceAttrs()->layer();
  const float* x = T(In(0));
  float* y = T(Out(0));
  for (int64_t t = 0; t < n_; ++t) std::memcpy(y + t * p, x + t * packed + layer * p, p * sizeof(float));
}

}  // namespace g4::exec

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
void CpuInterpreter::ExpertFfn() {
  const plan::ExpertFfnAttrs& a = *step_.attrs_as_ExpertFfnAttrs();
  const int64_t H = Width(In(0)), k = a.top_k(), ff = a.expert_ff();
  const bool round = a.rounding() == Rounding::ExpertsBf16 || a.rounding() == Rounding::ExpertsBf16Weighted;
  const bool round_weighted = a.rounding() == Rounding::ExpertsBf16Weighted;
  const g4k_weight& gate_up = W(0);
  const g4k_weight& down = W(1);
  const auto gu_type = gguf::GgmlType(gate_up.ggml_type), dn_type = gguf::GgmlType(down.ggml_type);
  const uint64_t gu_expert_bytes = *gguf::RowBytes(gu_type, H) * uint64_t(2 * ff);
  const uint64_t dn_expert_bytes = *gguf::RowBytes(dn_type, ff) * uint64_t(H);
  const float* x = T(In(0));
  const float* w = T(In(1));
  const float* idx = T(In(2));
  float* out = T(Out(0));
  std::fill(out, out + n_ * H, 0.0f);
  std::vector<float> gu(2 * ff), act(ff), y(H);
  for (int64_t t = 0; t < n_; ++t) {
    for (int64_t j = 0; j < k; ++j) {
      const int32_t e = AsInt(idx + t * k + j);
      g4k_weight gw = gate_up, dw = down;
      gw.data = static_cast<const uint8_t*>(gate_up.data) + uint64_t(e) * gu_expert_bytes;
      gw.n_dims = 2, gw.ne[1] = 2 * ff;
      dw.data = static_cast<const uint8_t*>(down.data) + uint64_t(e) * dn_expert_bytes;
      dw.n_dims = 2, dw.ne[1] = H;
      Linear(gw, x + t * H, 1, gu.data(), round);
      for (int64_t i = 0; i < ff; ++i) {
        float g = ops::GeluTanh(gu[i]);
        if (round) g = ops::RoundBf16(g);
        float v = g * gu[ff + i];
        act[i] = round ? ops::RoundBf16(v) : v;
      }
      Linear(dw, act.data(), 1, y.data(), round);
      const float wt = w[t * k + j];
      for (int64_t i = 0; i < H; ++i) {
        float v = y[i] * wt;
        out[t * H + i] += round_weighted ? ops::RoundBf16(v) : v;
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

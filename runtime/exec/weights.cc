#include "exec/weights.h"

#include "common/status_macros.h"
#include "plan/weight_binding.h"

namespace g4::exec {

absl::StatusOr<BoundWeights> BoundWeights::Bind(const plan::Plan& plan, const gguf::GgufFile& file,
                                                const std::string& gguf_path) {
  G4_RETURN_IF_ERROR(plan::BindingStatus(plan::CheckBindings(plan, file), gguf_path));
  BoundWeights bound;
  const uint32_t n = plan.weights()->size();
  bound.views_.resize(n);
  bound.f32_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    const gguf::TensorInfo* t = file.FindTensor(plan.weights()->Get(i)->name()->str());
    g4k_weight& w = bound.views_[i];
    w.data = t->data;
    w.ggml_type = uint32_t(t->type);
    w.n_dims = int32_t(t->ne.size());
    for (size_t d = 0; d < 4; ++d) w.ne[d] = d < t->ne.size() ? t->ne[d] : 1;
    if (t->ne.size() == 1) {
      G4_ASSIGN_OR_RETURN(bound.f32_[i], file.ReadAsF32(*t));
      w.f32 = bound.f32_[i].data();
    }
  }
  return bound;
}

double DecodeWeightBytesPerToken(const plan::Plan& plan, const std::vector<g4k_weight>& weights) {
  double total = 0;
  auto count = [&](const plan::Step& step) {
    if (!step.weights()) return;
    for (uint32_t id : *step.weights()) {
      const g4k_weight& w = weights[id];
      const double bytes = double(WeightBytes(w));
      switch (step.op()) {
        case plan::OpKind::Embed:  // one row of the table
          total += double(*gguf::RowBytes(gguf::GgmlType(w.ggml_type), w.ne[0]));
          break;
        case plan::OpKind::ExpertFfn: {
          const plan::ExpertFfnAttrs& a = *step.attrs_as_ExpertFfnAttrs();
          total += bytes * double(a.top_k()) / double(a.num_experts());
          break;
        }
        default: total += bytes;
      }
    }
  };
  // A fused step lists its body's weights too: count each op once, in the body.
  for (const plan::Step* step : *plan.steps()) {
    if (step->body() && step->body()->size() > 0) {
      for (const plan::Step* inner : *step->body()) count(*inner);
    } else {
      count(*step);
    }
  }
  return total;
}

}  // namespace g4::exec

// The plan's weights bound to a mapped GGUF file, and what one decode token reads of them.
#ifndef GEMMA4C_RUNTIME_EXEC_WEIGHTS_H_
#define GEMMA4C_RUNTIME_EXEC_WEIGHTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "exec/kernel_abi.h"
#include "gguf/ggml_types.h"
#include "gguf/gguf.h"
#include "plan/plan_generated.h"

namespace g4::exec {

// One g4k_weight per plan weight id. Matrices stay in the mapping in their GGUF dtype; 1-D
// weights (norms, scales) are also widened to f32 once (`g4k_weight::f32`). Every binding was
// checked by name, shape and dtype (plan/weight_binding.h) before the views are made.
class BoundWeights {
 public:
  static absl::StatusOr<BoundWeights> Bind(const plan::Plan& plan, const gguf::GgufFile& file,
                                           const std::string& gguf_path);

  const std::vector<g4k_weight>& views() const { return views_; }
  const g4k_weight& operator[](uint32_t id) const { return views_[id]; }

 private:
  std::vector<g4k_weight> views_;         // by plan weight id
  std::vector<std::vector<float>> f32_;   // 1-D weights widened; views_[i].f32 points here
};

// GGUF bytes of a bound weight: rows of ne[0] values in its dtype, times the other dims (the
// binding check accepted the shape, so the row size exists).
inline uint64_t WeightBytes(const g4k_weight& w) {
  return *gguf::RowBytes(gguf::GgmlType(w.ggml_type), w.ne[0]) * uint64_t(w.ne[1] * w.ne[2] * w.ne[3]);
}

// Calls fn(step) on every step of the plan and on every step of a fused step's body (the fused
// step itself included), in plan order.
template <typename Fn>
void ForEachStepAndBody(const plan::Plan& plan, Fn&& fn) {
  for (const plan::Step* step : *plan.steps()) {
    fn(*step);
    if (step->body()) {
      for (const plan::Step* inner : *step->body()) fn(*inner);
    }
  }
}

// Bytes of weights one decode token reads: every matrix product reads its whole weight (the
// tied LM head included), an embedding lookup one row, routed experts top_k of num_experts.
// With the measured tokens/s this gives the achieved bandwidth (docs/runtime.md).
double DecodeWeightBytesPerToken(const plan::Plan& plan, const std::vector<g4k_weight>& weights);

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_WEIGHTS_H_

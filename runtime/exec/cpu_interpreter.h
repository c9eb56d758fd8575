// The CPU backend's interpreter: one plan step computed by the runtime itself (no emitted
// kernel), dispatched by `switch (step.op())`, with the reference's semantics.
#ifndef GEMMA4C_RUNTIME_EXEC_CPU_INTERPRETER_H_
#define GEMMA4C_RUNTIME_EXEC_CPU_INTERPRETER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "exec/cpu_backend.h"

namespace g4::exec {

class CpuInterpreter {
 public:
  CpuInterpreter(CpuBackend& backend, const plan::Step& step)
      : b_(backend), step_(step), n_(backend.n_tokens_) {}

  // Runs the step (a fused step: its body in order) over the backend's current batch.
  absl::Status Run();

 private:
  uint32_t In(int i) const { return step_.inputs()->Get(i); }
  uint32_t Out(int i) const { return step_.outputs()->Get(i); }
  const g4k_weight& W(int i) const { return b_.weights_[step_.weights()->Get(i)]; }
  int64_t Width(uint32_t t) const { return b_.views_[t].width; }
  float* T(uint32_t t) { return b_.views_[t].data; }

  template <typename F>
  void Map(F f);
  template <typename F>
  void Zip(F f);
  void Linear(const g4k_weight& w, const float* x, int64_t tokens, float* y, bool round_bf16);

  absl::Status RunFused();
  void Embed();
  void RmsNorm();
  void Rope();
  absl::Status Attention();
  void ChannelMul();
  void Softmax();
  void TopK();
  void Renormalize();
  void ExpertScale();
  void ExpertFfn();
  void PleSlice();

  CpuBackend& b_;
  const plan::Step& step_;
  const int64_t n_;
};

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_CPU_INTERPRETER_H_

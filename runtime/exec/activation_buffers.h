// The CPU's activation storage: plan tensors mapped onto buffers by memory-planning slot.
//
// Tensors of one slot share a buffer sized for the slot's widest tensor; tensors without a slot
// (values emitted kernels keep per row) and, when intermediates are kept for dumps, every
// tensor get their own. Buffers hold [capacity][width] floats and grow to the largest batch.
#ifndef GEMMA4C_RUNTIME_EXEC_ACTIVATION_BUFFERS_H_
#define GEMMA4C_RUNTIME_EXEC_ACTIVATION_BUFFERS_H_

#include <cstdint>
#include <vector>

#include "exec/kernel_abi.h"
#include "plan/plan_generated.h"

namespace g4::exec {

class ActivationBuffers {
 public:
  // Assigns buffers to every tensor of `plan`; `own_buffers` gives each tensor its own.
  ActivationBuffers(const plan::Plan& plan, bool own_buffers);

  // Grows every buffer to hold `n_tokens` rows (no-op when they already do).
  void Reserve(int64_t n_tokens);
  float* data(uint32_t tensor) { return buffers_[buffer_of_[tensor]].data(); }
  const float* data(uint32_t tensor) const { return buffers_[buffer_of_[tensor]].data(); }
  int64_t width(uint32_t tensor) const { return views_[tensor].width; }
  // The emitted kernels' view: data and width by plan tensor id.
  g4k_tensor* views() { return views_.data(); }

 private:
  std::vector<std::vector<float>> buffers_;  // [capacity][buffer_width_[b]] each
  std::vector<int32_t> buffer_of_;           // by plan tensor id
  std::vector<int64_t> buffer_width_;        // by buffer
  std::vector<g4k_tensor> views_;            // by plan tensor id
  int64_t capacity_ = 0;
};

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_ACTIVATION_BUFFERS_H_

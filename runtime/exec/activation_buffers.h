// The CPU's activation storage: plan tensors mapped onto buffers by memory-planning slot.
//
// Tensors of one slot share a buffer sized for the slot's widest tensor; tensors without a slot
// (values emitted kernels keep per row) and, when intermediates are kept for dumps, every
// tensor get their own. Tensors the logits tail writes (logits_tail.h) never share a buffer with
// tensors written before it, and their buffers hold only the rows whose logits are wanted:
// before the tail a batch of n rows, in the tail the last k of them.
#ifndef GEMMA4C_RUNTIME_EXEC_ACTIVATION_BUFFERS_H_
#define GEMMA4C_RUNTIME_EXEC_ACTIVATION_BUFFERS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "exec/kernel_abi.h"
#include "plan/plan_generated.h"

namespace g4::exec {

class ActivationBuffers {
 public:
  // Assigns buffers to every tensor of `plan`; `own_buffers` gives each tensor its own.
  // `tail_tensors` (TailTensors()) marks the tensors the logits tail writes.
  ActivationBuffers(const plan::Plan& plan, bool own_buffers, std::vector<bool> tail_tensors);

  // Sizes the buffers for a batch of `n` rows whose last `k` rows (1 <= k <= n) reach the tail,
  // and points the two views at them: head_views() for the steps before the tail (every tensor
  // from row 0), tail_views() for the tail's steps (tensors written before the tail from row
  // n - k, the tail's own tensors from row 0 of their k-row buffers).
  void Prepare(int64_t n, int64_t k);
  g4k_tensor* head_views() { return head_.data(); }
  g4k_tensor* tail_views() { return tail_.data(); }
  const g4k_tensor& head(uint32_t tensor) const { return head_[tensor]; }
  const g4k_tensor& tail(uint32_t tensor) const { return tail_[tensor]; }
  // Floats per row over every buffer (the memory budget's count, memory_budget.h); nullopt
  // when the sum overflows 64 bits (an absurd plan).
  std::optional<int64_t> FloatsPerRow() const;

 private:
  struct Buffer {
    int64_t width = 0;     // floats per row
    bool tail = false;     // holds the k tail rows only
    // Uninitialized on purpose: every step writes its rows before any step reads them, and the
    // buffers of tensors that live inside emitted kernels (slot -1, hundreds at E2B's size) are
    // never touched unless the runtime interprets their region, so their pages are never faulted
    // in. Zeroing them (std::vector) cleared ~2.5 GB per 256-token prefill (13 % of its time).
    std::unique_ptr<float[]> data;
    size_t floats = 0;
  };
  std::vector<Buffer> buffers_;
  std::vector<int32_t> buffer_of_;  // by plan tensor id
  std::vector<bool> tail_tensor_;   // by plan tensor id
  std::vector<g4k_tensor> head_, tail_;  // views by plan tensor id
  int64_t rows_ = 0, tail_rows_ = 0;      // rows the buffers hold now
};

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_ACTIVATION_BUFFERS_H_

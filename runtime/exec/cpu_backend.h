// The CPU backend: a plan's steps run on this machine's cores.
//
// Activations live in ActivationBuffers (by memory-planning slot), K/V in the KvCache, matrix
// products go through kernels/cpu (MatMul, the thread pool). A step with an emitted kernel
// (OUTDIR/kernels_cpu*.so, kernel_abi.h) calls it; every other step is interpreted
// (cpu_interpreter.cc) with the reference's semantics and kernels/common/row_ops.h, the same
// per-row math the emitted kernels include, so both compute the same numbers.
#ifndef GEMMA4C_RUNTIME_EXEC_CPU_BACKEND_H_
#define GEMMA4C_RUNTIME_EXEC_CPU_BACKEND_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "cpu/thread_pool.h"
#include "exec/activation_buffers.h"
#include "exec/backend.h"
#include "exec/kernel_library.h"
#include "exec/kv_cache.h"
#include "exec/packed_weights.h"

namespace g4::exec {

class CpuBackend : public Backend {
 public:
  static absl::StatusOr<std::unique_ptr<CpuBackend>> Create(const BackendContext& context);

  absl::Status Run(const int32_t* tokens, const int32_t* positions, int64_t n, int64_t logits_rows) override;
  const float* logits() const override;
  absl::Status ReadTensor(uint32_t id, int64_t n, float* out) const override;
  int64_t context_capacity() const override { return context_; }
  const std::vector<StepTime>* step_times() const override {
    return options_.profile_steps ? &step_times_ : nullptr;
  }
  void ResetStepTimes() override;

 private:
  friend class CpuInterpreter;
  CpuBackend(const BackendContext& context, int64_t kv_context);
  // Resolves the emitted kernel of every fused step from the plan's CPU library (the AVX2
  // build when this CPU runs it); steps without one stay interpreted.
  absl::Status LoadKernels(const std::string& plan_dir);
  absl::Status RunStep(uint32_t index, const plan::Step& step);
  // RunStep, timed into step_times_ when profiling.
  absl::Status RunTimedStep(uint32_t index);
  // y = x W^T through kernels/cpu (the api the emitted kernels call back). A failure (a bug
  // in the plan writer, shapes were checked at binding) is kept for RunStep to return.
  static void ApiLinear(void* rt, const g4k_weight* w, const float* x, int64_t tokens, float* y,
                        int round_bf16);
  // g4k_api::parallel_rows: the emitted kernels' token rows on the pool (inline without one).
  static void ApiParallelRows(void* rt, int64_t n, void (*fn)(void*, int64_t, int64_t), void* ctx);

  const plan::Plan& plan_;
  const std::vector<g4k_weight>& weights_;  // by plan weight id (host views, weights.h)
  const SessionOptions options_;
  const uint32_t tail_start_;  // first step of the logits tail (logits_tail.h)
  ActivationBuffers buffers_;
  KvCache kv_;
  std::unique_ptr<cpu::ThreadPool> pool_;
  std::unique_ptr<PackedWeights> packed_;  // null: every matrix in its GGUF layout
  KernelLibrary library_;
  std::vector<g4k_fn> kernel_of_step_;  // by top-level step index; null: interpreted
  g4k_api api_{};
  absl::Status linear_status_;          // first ApiLinear failure of the running step
  const int64_t context_;               // positions the KV cache holds
  // The running step's rows: the batch before the logits tail, its last logits_rows in it.
  int64_t n_tokens_ = 0;
  const int32_t* positions_ = nullptr;  // [n_tokens_]
  g4k_tensor* views_ = nullptr;         // by plan tensor id: where the running step's rows are
  std::vector<StepTime> step_times_;    // by step index (profile_steps)
};

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_CPU_BACKEND_H_

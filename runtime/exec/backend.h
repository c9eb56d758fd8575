// The device interface under exec::Session (in the spirit of IREE's HAL): a backend owns the
// activations, the KV cache and the kernels of one device and runs a plan's steps there. The
// session above it is device-agnostic: plan, weights, positions, rewind, dumps, statistics.
//
// Backends: CpuBackend (runtime/exec/cpu_backend.h) and CudaBackend (runtime/cuda/
// cuda_backend.h). docs/runtime-architecture.md.
#ifndef GEMMA4C_RUNTIME_EXEC_BACKEND_H_
#define GEMMA4C_RUNTIME_EXEC_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "exec/kernel_abi.h"
#include "exec/options.h"
#include "plan/plan_generated.h"

namespace g4::exec {

// What a backend is made from. The session owns all of it and outlives the backend.
struct BackendContext {
  const plan::Plan* plan = nullptr;
  std::string plan_dir;                           // OUTDIR: the kernel libraries live there
  std::string gguf_path;                          // the weights' file (packed copies are shared by it)
  const std::vector<g4k_weight>* weights = nullptr;  // host views by plan weight id (weights.h)
  SessionOptions options;
};

// One plan step's wall time over the runs since the backend was made or its times were reset
// (SessionOptions::profile_steps).
struct StepTime {
  int64_t calls = 0;
  double seconds = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Runs every step of the plan for tokens[0..n) at positions[0..n) (n <= the plan's max
  // batch, positions consecutive; both checked by the session) and computes the logits of the
  // last `logits_rows` of them (1 <= logits_rows <= n; a backend may run the logits tail,
  // logits_tail.h, on those rows only). Owning attention layers write their K/V at those
  // positions, overwriting whatever a rewound context left there.
  virtual absl::Status Run(const int32_t* tokens, const int32_t* positions, int64_t n, int64_t logits_rows) = 0;
  // Logits of the last Run in host memory: [logits_rows][vocab] float32 (the batch's last
  // rows), valid until the next Run.
  virtual const float* logits() const = 0;
  // Copies plan tensor `id` of the last Run ([n][width] 4-byte elements) to host memory; the
  // session asks only after a Run whose logits_rows was n (dumps keep every row).
  virtual absl::Status ReadTensor(uint32_t id, int64_t n, float* out) const = 0;
  // Positions of context the KV cache can hold (the model's, or fewer where a device
  // allocates its cache up front).
  virtual int64_t context_capacity() const = 0;
  // With SessionOptions::profile_steps: each top-level step's time, by step index; nullptr when
  // not asked for or when the device does not time its steps (CUDA: its steps are
  // asynchronous, and timing each would serialize them).
  virtual const std::vector<StepTime>* step_times() const { return nullptr; }
  virtual void ResetStepTimes() {}
};

// The backend of context.options.device. Errors: a device this build lacks, or the device's
// own (no GPU, out of memory, a kernel library of another ABI, ...).
absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const BackendContext& context);

// Each device's factory (CreateBackend picks one).
absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(const BackendContext& context);

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_BACKEND_H_

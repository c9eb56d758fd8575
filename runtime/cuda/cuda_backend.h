// The CUDA backend (exec::Backend, runtime/exec/backend.h): a compiled plan run on one GPU.
//
// Weights are copied once from the mapped GGUF to device memory in their GGUF dtype (no
// conversion; 1-D weights as the f32 the session widened). Activations (one device buffer per
// plan tensor, sized for the plan's max batch) and the KV cache (kernels/cuda/attention.cuh
// layout, `max_context` positions of full layers up front) live on the device. Steps run in
// plan order on one stream: the plan's emitted CUDA kernels (OUTDIR/kernels_cuda.so, from
// `gemma4c compile --target=cuda`) where a fused step has one, else the kernels of kernels/cuda
// with the CPU interpreter's semantics (runtime/exec/cpu_interpreter.cc). Decode (one token) is
// captured as a CUDA graph on the second decode step and replayed after (the positions are read
// from device memory). Errors from CUDA calls are statuses naming the call; running out of
// device memory is ResourceExhausted naming the bytes requested.
#ifndef GEMMA4C_RUNTIME_CUDA_CUDA_BACKEND_H_
#define GEMMA4C_RUNTIME_CUDA_CUDA_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "exec/backend.h"

namespace g4::cuda {

class CudaBackend : public exec::Backend {
 public:
  static absl::StatusOr<std::unique_ptr<CudaBackend>> Create(const exec::BackendContext& context);
  ~CudaBackend() override;

  // Every step runs on all n rows (the logits tail on fewer rows is CPU-only so far); only the
  // last logits_rows rows of logits are copied back.
  absl::Status Run(const int32_t* tokens, const int32_t* positions, int64_t n, int64_t logits_rows) override;
  const float* logits() const override;
  absl::Status ReadTensor(uint32_t id, int64_t n, float* out) const override;
  int64_t context_capacity() const override;

  // Whether the last Run replayed a captured graph (tests).
  bool last_run_used_graph() const;

  struct Impl;

 private:
  CudaBackend() = default;
  std::unique_ptr<Impl> impl_;
};

// exec::CreateBackend's entry for Device::kCuda.
absl::StatusOr<std::unique_ptr<exec::Backend>> CreateCudaBackend(const exec::BackendContext& context);

// Whether a CUDA device is present (for tests and --device cuda errors).
bool CudaDeviceAvailable(std::string* why);

}  // namespace g4::cuda

#endif  // GEMMA4C_RUNTIME_CUDA_CUDA_BACKEND_H_

// The CUDA backend: a compiled plan run on one GPU, with the interface of exec::Session.
//
//   auto s = CudaSession::Open(outdir, gguf_path, options);  // binds, uploads every weight once
//   s->Eval(tokens);   // next positions; no host synchronization until the logits copy
//   s->logits();       // [n_tokens][vocab] float32 (host copy) of the last Eval
//   s->Reset();        // empties the KV cache
//
// Weights are copied once from the mapped GGUF to device memory in their GGUF dtype (no
// conversion; 1-D weights widened to f32 as on the CPU). Activations (one device buffer per
// plan tensor, sized for the plan's max batch) and the KV cache (kernels/cuda/attention.cuh
// layout) live on the device. Steps run in plan order on one stream with the kernels of
// kernels/cuda; the builtin semantics are those of exec::Session (runtime/exec/session.cc).
// Decode (one token) is captured as a CUDA graph on the second decode step and replayed after
// (the positions are read from device memory). Errors from CUDA calls are statuses naming the
// call; running out of device memory is ResourceExhausted naming the bytes requested.
#ifndef GEMMA4C_RUNTIME_CUDA_CUDA_SESSION_H_
#define GEMMA4C_RUNTIME_CUDA_CUDA_SESSION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace g4::cuda {

struct CudaSessionOptions {
  int device = 0;
  // Prefill products (> 8 tokens) in fp32 on CUDA cores instead of bf16 tensor cores.
  bool exact_matmul = false;
  // Positions of context the full-attention KV cache holds (0: the model's context length).
  int64_t max_context = 0;
  // Capture decode steps as a CUDA graph.
  bool use_graphs = true;
  // Run fused steps with the plan's emitted CUDA kernels (OUTDIR/kernels_cuda.so, from
  // `gemma4c compile --target=cuda`) when it has them; else every step is interpreted.
  bool use_emitted_kernels = true;
};

class CudaSession {
 public:
  static absl::StatusOr<std::unique_ptr<CudaSession>> Open(const std::string& plan_dir,
                                                           const std::string& gguf_path,
                                                           const CudaSessionOptions& options);
  ~CudaSession();

  absl::Status Eval(const std::vector<int32_t>& tokens);
  void Reset();

  int64_t position() const;
  int64_t vocab() const;
  int64_t last_tokens() const;
  const float* logits() const;
  double DecodeWeightBytesPerToken() const;
  // Bytes of device memory this session allocated (weights, activations, KV cache).
  int64_t device_bytes() const;
  // Whether the last Eval replayed a captured graph.
  bool last_eval_used_graph() const;

  struct Impl;

 private:
  CudaSession() = default;
  std::unique_ptr<Impl> impl_;
};

// Whether a CUDA device is present (for tests and --device cuda errors).
bool CudaDeviceAvailable(std::string* why);

}  // namespace g4::cuda

#endif  // GEMMA4C_RUNTIME_CUDA_CUDA_SESSION_H_

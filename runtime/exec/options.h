// How a session runs: the device and the knobs of each backend (C: g4rt_options).
#ifndef GEMMA4C_RUNTIME_EXEC_OPTIONS_H_
#define GEMMA4C_RUNTIME_EXEC_OPTIONS_H_

#include <cstdint>

namespace g4::exec {

enum class Device { kCpu = 0, kCuda = 1 };

struct SessionOptions {
  Device device = Device::kCpu;
  // CPU worker threads including the caller; <= 1: single-threaded.
  int threads = 1;
  // Quantized weights meet activations quantized to 8 bits (fast) or in fp32 (exact). On CUDA:
  // prefill products in fp32 on CUDA cores instead of bf16 tensor cores.
  bool exact_quantized_matmul = false;
  // Interpret every step even where the plan has emitted kernels.
  bool force_interpreted = false;
  // Logits of every evaluated position (else the last position's only: the logits tail,
  // logits_tail.h, then runs on one row). Keeping intermediates implies every row.
  bool all_logits = false;
  // Keep every named intermediate of the last Eval for Dump().
  bool keep_intermediates = false;
  // CPU: time every step of every run (Backend::step_times; g4run --profile). Costs two clock
  // readings per step.
  bool profile_steps = false;
  // CPU: the portable build of the emitted kernels even on an AVX2 machine.
  bool portable_kernels = false;
  // CPU: Q8_0 / Q4_0 / Q4_K / Q6_K matrices are repacked at open into 8-row panels (packed_weights.h; same
  // bytes, the mapping's pages given back) and multiplied by the packed kernels; false keeps
  // them in their GGUF layout (the kQ8 row-tile kernels: other fp32 rounding of the block sums,
  // kernels/cpu/packed_matmul.h). Ignored with exact_quantized_matmul.
  bool repack_weights = true;
  // CUDA: the device ordinal; capture decode steps as a CUDA graph.
  int cuda_device = 0;
  bool cuda_graphs = true;
  // Positions the KV cache holds (0: the model's context length). CUDA allocates it up front;
  // the CPU grows full layers up to it, and checks the whole of it against memory_limit.
  int64_t max_context = 0;
  // The positions the KV cache holds for a model of `model_context`: max_context when set and
  // smaller, else the model's (the CPU and CUDA backends alike).
  int64_t KvContext(int64_t model_context) const {
    return max_context > 0 && max_context < model_context ? max_context : model_context;
  }
  // CPU: bytes the KV cache (at max_context) and the activations (at the plan's max batch) may
  // take; a session that would need more is refused at open (ResourceExhausted, the bytes
  // named) before anything is allocated. 0: the memory available now (memory_budget.h).
  uint64_t memory_limit = 0;
};

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_OPTIONS_H_

// A compiled model ready to run: the plan of OUTDIR, the weights of a GGUF file bound to it, the
// KV cache, the activation buffers, and the emitted kernels when the plan has them.
//
//   auto s = Session::Open(outdir, gguf_path, options);   // binds and checks every weight
//   s->Eval(tokens);   // appends tokens at the next positions; logits of each evaluated token
//   s->logits();       // [n_tokens][vocab] float32 of the last Eval
//   s->Reset();        // empties the KV cache
#ifndef GEMMA4C_RUNTIME_EXEC_SESSION_H_
#define GEMMA4C_RUNTIME_EXEC_SESSION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cpu/thread_pool.h"
#include "exec/kernel_abi.h"
#include "exec/kv_cache.h"
#include "gguf/gguf.h"
#include "plan/plan_reader.h"

namespace g4::exec {

struct SessionOptions {
  int threads = 1;
  // Quantized weights meet activations quantized to 8 bits (fast) or in fp32 (exact).
  bool exact_quantized_matmul = false;
  // Run every step with the builtin implementation even where the plan has emitted kernels.
  bool force_builtin = false;
  // Keep every named intermediate of the last Eval for Dump().
  bool keep_intermediates = false;
  // Use the portable build of the emitted kernels even on an AVX2 machine.
  bool portable_kernels = false;
};

class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Open(const std::string& plan_dir,
                                                       const std::string& gguf_path,
                                                       const SessionOptions& options);
  ~Session();

  // Evaluates `tokens` at positions position()..position()+n-1. Errors: a token outside the
  // vocabulary, a batch larger than the plan allows, a context longer than the plan allows.
  absl::Status Eval(const std::vector<int32_t>& tokens);
  void Reset();
  // Forgets every position from `position` on, so evaluation continues there (a chat whose new
  // text shares a prefix with what is cached). FailedPrecondition when a sliding layer's ring
  // has already overwritten positions the rewound context needs (more than the plan's largest
  // batch back); the caller then resets and evaluates again.
  absl::Status Rewind(int64_t position);

  int64_t position() const { return position_; }
  int64_t vocab() const { return vocab_; }
  int64_t last_tokens() const { return n_tokens_; }
  // Bytes of activation buffers for a batch of `n_tokens` (after memory planning).
  int64_t ActivationBytes(int64_t n_tokens) const;
  // Logits of the last Eval: [last_tokens()][vocab()].
  const float* logits() const;

  // Bytes of weights one decode token reads: every matrix product reads its whole weight (the
  // tied LM head included), an embedding lookup one row, routed experts top_k of num_experts.
  // With the measured tokens/s this gives the achieved bandwidth (docs/runtime.md).
  double DecodeWeightBytesPerToken() const;

  // Writes every named intermediate of the last Eval (keep_intermediates must be set) as
  // DIR/<name>.bin (float32 [n_tokens][width]) plus DIR/index.json.
  absl::Status Dump(const std::string& dir) const;

  const plan::Plan& plan() const { return *plan_.plan(); }

 private:
  friend class StepRunner;
  Session() = default;
  absl::Status Bind(const std::string& plan_dir, const std::string& gguf_path);
  absl::Status LoadKernels(const std::string& plan_dir);
  absl::Status RunStep(const plan::Step& step);
  float* Tensor(uint32_t id);
  void AssignBuffers();
  void EnsureTensorCapacity(int64_t n_tokens);
  static void ApiLinear(void* rt, const g4k_weight* w, const float* x, int64_t tokens, float* y,
                        int round_bf16);

  SessionOptions options_;
  plan::LoadedPlan plan_;
  std::unique_ptr<gguf::GgufFile> gguf_;
  std::unique_ptr<cpu::ThreadPool> pool_;
  std::vector<g4k_weight> weights_;                 // by plan weight id
  std::vector<std::vector<float>> weight_f32_;      // 1-D weights widened to f32
  // Activation storage. With memory planning, tensors of one slot share a buffer sized for the
  // slot's widest tensor; tensors without a slot (values the emitted kernels keep per row) and,
  // when intermediates are kept for dumps, every tensor get their own.
  std::vector<std::vector<float>> buffers_;         // [capacity][width] each
  std::vector<int32_t> buffer_of_;                  // by plan tensor id
  std::vector<int64_t> buffer_width_;               // by buffer
  std::vector<g4k_tensor> tensor_views_;
  std::vector<const plan::Step*> flat_steps_;       // top-level steps and fused bodies
  std::map<std::string, g4k_fn> kernels_;
  void* kernel_library_ = nullptr;
  g4k_api api_{};
  KvCache kv_;
  bool reference_precision_ = false;
  int64_t vocab_ = 0, max_batch_ = 0, context_ = 0;
  int64_t position_ = 0, n_tokens_ = 0, capacity_ = 0;
  std::vector<int32_t> positions_;
  std::vector<int32_t> last_tokens_;
  std::string model_path_;
};

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_SESSION_H_

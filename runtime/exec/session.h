// A compiled model ready to run on one device: the plan of OUTDIR, the weights of a GGUF file
// bound to it, and the backend of the chosen device (backend.h) that holds the activations,
// the KV cache and the kernels. The session itself does not know which device runs.
//
//   auto s = Session::Open(outdir, gguf_path, options);   // binds and checks every weight
//   s->Eval(tokens);   // appends tokens at the next positions; logits of each evaluated token
//   s->logits();       // [n_tokens][vocab] float32 of the last Eval
//   s->Rewind(p);      // continue at position p (a chat that shares a prefix)
//   s->Reset();        // empties the KV cache
#ifndef GEMMA4C_RUNTIME_EXEC_SESSION_H_
#define GEMMA4C_RUNTIME_EXEC_SESSION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "exec/backend.h"
#include "exec/options.h"
#include "exec/weights.h"
#include "gguf/gguf.h"
#include "plan/plan_reader.h"

namespace g4::exec {

class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Open(const std::string& plan_dir,
                                                       const std::string& gguf_path,
                                                       const SessionOptions& options);
  ~Session();

  // Evaluates `tokens` at positions position()..position()+n-1, in batches of at most the
  // plan's max batch (a longer prompt is chunked; chunked and one-shot evaluation give the same
  // logits). Errors: no tokens, a token outside the vocabulary, a context longer than the model
  // (or the device's KV cache) holds.
  absl::Status Eval(const std::vector<int32_t>& tokens);
  void Reset();
  // Forgets every position from `position` on, so evaluation continues there (a chat whose new
  // text shares a prefix with what is cached). FailedPrecondition when a sliding layer's ring
  // has already overwritten positions the rewound context needs (more than the plan's largest
  // batch back); the caller then resets and evaluates again.
  absl::Status Rewind(int64_t position);

  int64_t position() const { return position_; }
  int64_t vocab() const { return plan().model()->vocab(); }
  // Logits of the last Eval: [logits_rows()][vocab()], the rows of its last positions: every
  // evaluated position with all_logits (or keep_intermediates), else the last one.
  const float* logits() const;
  int64_t logits_rows() const { return logits_rows_; }

  // Bytes of weights one decode token reads (weights.h).
  double DecodeWeightBytesPerToken() const { return decode_bytes_; }

  // Writes every named intermediate of the last batch (keep_intermediates must be set) as
  // DIR/<name>.bin (float32 [n_tokens][width]) plus DIR/index.json (dump.h).
  absl::Status Dump(const std::string& dir) const;

  const plan::Plan& plan() const { return *plan_.plan(); }
  const Backend& backend() const { return *backend_; }
  // Each top-level step's wall time (by step index) since open or the last ResetStepTimes.
  // FailedPrecondition without options.profile_steps or on a device that does not time steps.
  absl::StatusOr<const std::vector<StepTime>*> StepTimes() const;
  void ResetStepTimes() { backend_->ResetStepTimes(); }

 private:
  Session() = default;
  absl::Status RunBatch(const int32_t* tokens, int64_t n);
  bool wants_all_logits() const { return options_.all_logits || options_.keep_intermediates; }

  SessionOptions options_;
  plan::LoadedPlan plan_;
  std::unique_ptr<gguf::GgufFile> gguf_;
  BoundWeights weights_;
  double decode_bytes_ = 0;
  int64_t position_ = 0;
  std::vector<int32_t> last_tokens_;
  std::vector<int32_t> positions_;
  int64_t logits_rows_ = 0;
  std::vector<float> chunked_logits_;  // every row of a chunked Eval with all_logits
  // Last: destroyed first, while the plan and the weights it points into still exist.
  std::unique_ptr<Backend> backend_;
};

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_SESSION_H_

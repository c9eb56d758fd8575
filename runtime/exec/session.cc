// The device-agnostic session (session.h): the checks and the position bookkeeping every
// backend shares.
#include "exec/session.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "exec/dump.h"

namespace g4::exec {

Session::~Session() = default;

absl::StatusOr<std::unique_ptr<Session>> Session::Open(const std::string& plan_dir,
                                                       const std::string& gguf_path,
                                                       const SessionOptions& options) {
  std::unique_ptr<Session> s(new Session());
  s->options_ = options;
  G4_ASSIGN_OR_RETURN(s->plan_, plan::LoadPlan(plan_dir));
  G4_ASSIGN_OR_RETURN(s->gguf_, gguf::GgufFile::Open(gguf_path));
  // Every tensor the plan needs, checked by name, shape and dtype before anything runs.
  G4_ASSIGN_OR_RETURN(s->weights_, BoundWeights::Bind(s->plan(), *s->gguf_, gguf_path));
  s->decode_bytes_ = exec::DecodeWeightBytesPerToken(s->plan(), s->weights_.views());
  BackendContext context;
  context.plan = &s->plan();
  context.plan_dir = plan_dir;
  context.gguf_path = gguf_path;
  context.weights = &s->weights_.views();
  context.options = options;
  G4_ASSIGN_OR_RETURN(s->backend_, CreateBackend(context));
  return s;
}

absl::Status Session::Eval(const std::vector<int32_t>& tokens) {
  const int64_t n = int64_t(tokens.size());
  const int64_t max_batch = plan().max_batch_tokens(), vocab = this->vocab();
  if (n == 0) return absl::InvalidArgumentError("Eval: no tokens");
  const int64_t context = backend_->context_capacity();
  if (position_ + n > context)
    return absl::OutOfRangeError(absl::StrCat("the context would reach ", position_ + n,
                                              " tokens; the model allows ", context));
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return absl::InvalidArgumentError(
          absl::StrCat("token ", tokens[i], " at index ", i, " is outside the vocabulary [0, ", vocab, ")"));
  chunked_logits_.clear();
  logits_rows_ = 0;
  for (int64_t at = 0; at < n; at += max_batch) {
    const int64_t m = std::min(max_batch, n - at);
    G4_RETURN_IF_ERROR(RunBatch(tokens.data() + at, m));
    // Every row wanted over several chunks: the backend keeps one chunk's, the session all.
    if (wants_all_logits() && m < n)
      chunked_logits_.insert(chunked_logits_.end(), backend_->logits(), backend_->logits() + m * vocab);
  }
  logits_rows_ = wants_all_logits() ? n : 1;
  return absl::OkStatus();
}

// One batch of at most the plan's max batch at the next positions. Its logits: every row when
// the caller wants them all, else the last row (earlier chunks of a prompt need none, but the
// backend runs the tail on at least one row).
absl::Status Session::RunBatch(const int32_t* tokens, int64_t n) {
  positions_.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) positions_[i] = int32_t(position_ + i);
  last_tokens_.assign(tokens, tokens + n);
  G4_RETURN_IF_ERROR(backend_->Run(tokens, positions_.data(), n, wants_all_logits() ? n : 1));
  position_ += n;
  return absl::OkStatus();
}

const float* Session::logits() const {
  return chunked_logits_.empty() ? backend_->logits() : chunked_logits_.data();
}

void Session::Reset() { position_ = 0; }

absl::Status Session::Rewind(int64_t position) {
  if (position < 0 || position > position_)
    return absl::InvalidArgumentError(absl::StrCat("Rewind: position ", position, " is outside [0, ", position_, "]"));
  // A sliding ring holds window + max_batch positions: going back more than max_batch would
  // need positions it has overwritten.
  const int64_t max_batch = plan().max_batch_tokens();
  if (position_ - position > max_batch)
    for (const plan::KvLayer* l : *plan().kv_cache())
      if (l->window() > 0)
        return absl::FailedPreconditionError(absl::StrCat(
            "Rewind: ", position_ - position, " positions back exceeds the sliding-window ring (plan max batch ",
            max_batch, "); reset and evaluate again"));
  position_ = position;
  return absl::OkStatus();
}

absl::Status Session::Dump(const std::string& dir) const {
  if (!options_.keep_intermediates)
    return absl::FailedPreconditionError("Dump: open the session with keep_intermediates (g4run --dump)");
  return WriteDump(dir, plan(), *backend_, last_tokens_);
}

absl::StatusOr<const std::vector<StepTime>*> Session::StepTimes() const {
  if (!options_.profile_steps) {
    return absl::FailedPreconditionError("step times: the session was opened without profile_steps");
  }
  const std::vector<StepTime>* times = backend_->step_times();
  if (times == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("step times: the ", options_.device == Device::kCuda ? "cuda" : "cpu",
                     " backend does not time its steps"));
  }
  return times;
}

}  // namespace g4::exec

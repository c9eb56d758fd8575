// The device-agnostic session (session.h): the checks and the position bookkeeping every
// backend shares.
#include "exec/session.h"

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
  context.weights = &s->weights_.views();
  context.options = options;
  G4_ASSIGN_OR_RETURN(s->backend_, CreateBackend(context));
  return s;
}

absl::Status Session::Eval(const std::vector<int32_t>& tokens) {
  const int64_t n = int64_t(tokens.size());
  const int64_t max_batch = plan().max_batch_tokens(), vocab = this->vocab();
  if (n == 0) return absl::InvalidArgumentError("Eval: no tokens");
  if (n > max_batch)
    return absl::InvalidArgumentError(absl::StrCat("a batch of ", n, " tokens is larger than the plan's maximum of ",
                                                   max_batch, " (compile with a larger --max-batch)"));
  const int64_t context = backend_->context_capacity();
  if (position_ + n > context)
    return absl::OutOfRangeError(absl::StrCat("the context would reach ", position_ + n,
                                              " tokens; the model allows ", context));
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return absl::InvalidArgumentError(
          absl::StrCat("token ", tokens[i], " at index ", i, " is outside the vocabulary [0, ", vocab, ")"));
  positions_.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) positions_[i] = int32_t(position_ + i);
  last_tokens_ = tokens;
  G4_RETURN_IF_ERROR(backend_->Run(tokens.data(), positions_.data(), n));
  position_ += n;
  return absl::OkStatus();
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

}  // namespace g4::exec

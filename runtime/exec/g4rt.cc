// The C API over exec::Session; which device runs is the session's business.
#include "exec/g4rt.h"

#include <memory>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "exec/session.h"

struct g4rt_status {
  int code;
  std::string message;
};

struct g4rt_session {
  std::unique_ptr<g4::exec::Session> impl;
  std::vector<g4rt_step_time> step_times;  // g4rt_step_times' answer (names point into the plan)
};

namespace {

g4rt_status* Wrap(const absl::Status& s) {
  if (s.ok()) return nullptr;
  return new g4rt_status{int(s.code()), std::string(s.message())};
}

g4rt_status* Invalid(const char* message) { return Wrap(absl::InvalidArgumentError(message)); }

// The C options as the session's; an unknown device is refused.
absl::StatusOr<g4::exec::SessionOptions> ToSessionOptions(const g4rt_options& o) {
  g4::exec::SessionOptions s;
  if (o.device != G4RT_DEVICE_CPU && o.device != G4RT_DEVICE_CUDA)
    return absl::InvalidArgumentError("g4rt_open: device must be 0 (cpu) or 1 (cuda)");
  s.device = o.device == G4RT_DEVICE_CUDA ? g4::exec::Device::kCuda : g4::exec::Device::kCpu;
  s.threads = o.threads;
  s.exact_quantized_matmul = o.exact_quantized_matmul != 0;
  s.force_interpreted = o.force_interpreted != 0;
  s.keep_intermediates = o.keep_intermediates != 0;
  s.portable_kernels = o.portable_kernels != 0;
  s.repack_weights = o.gguf_layout == 0;
  s.cuda_device = o.cuda_device;
  s.max_context = o.max_context;
  s.all_logits = o.all_logits != 0;
  s.profile_steps = o.profile_steps != 0;
  if (o.memory_limit < 0) return absl::InvalidArgumentError("g4rt_open: memory_limit must be >= 0");
  s.memory_limit = uint64_t(o.memory_limit);
  return s;
}

}  // namespace

static_assert(G4RT_INVALID_ARGUMENT == int(absl::StatusCode::kInvalidArgument) &&
                  G4RT_NOT_FOUND == int(absl::StatusCode::kNotFound) &&
                  G4RT_RESOURCE_EXHAUSTED == int(absl::StatusCode::kResourceExhausted) &&
                  G4RT_FAILED_PRECONDITION == int(absl::StatusCode::kFailedPrecondition) &&
                  G4RT_OUT_OF_RANGE == int(absl::StatusCode::kOutOfRange) &&
                  G4RT_DATA_LOSS == int(absl::StatusCode::kDataLoss),
              "g4rt_status_code_t mirrors absl::StatusCode");

extern "C" {

int g4rt_status_code(const g4rt_status* status) { return status ? status->code : G4RT_OK; }
const char* g4rt_status_message(const g4rt_status* status) {
  return status ? status->message.c_str() : "OK";
}
void g4rt_status_free(g4rt_status* status) { delete status; }

void g4rt_options_init(g4rt_options* options) {
  if (!options) return;
  *options = g4rt_options{};
  options->threads = 1;
  options->device = G4RT_DEVICE_CPU;
}

g4rt_status* g4rt_open(const char* plan_dir, const char* gguf_path, const g4rt_options* options,
                       g4rt_session** session) {
  if (!plan_dir || !gguf_path || !session) return Invalid("g4rt_open: null argument");
  g4rt_options defaults;
  g4rt_options_init(&defaults);
  absl::StatusOr<g4::exec::SessionOptions> o = ToSessionOptions(options ? *options : defaults);
  if (!o.ok()) return Wrap(o.status());
  // The memory budget refuses what it can count before allocating; an allocation that still
  // fails (the machine's memory taken meanwhile) is a status here, not an exception across C.
  try {
    auto s = g4::exec::Session::Open(plan_dir, gguf_path, *o);
    if (!s.ok()) return Wrap(s.status());
    *session = new g4rt_session{std::move(*s)};
    return nullptr;
  } catch (const std::bad_alloc&) {
    return Wrap(absl::ResourceExhaustedError(absl::StrCat("g4rt_open: ", plan_dir, ": out of memory")));
  }
}

g4rt_status* g4rt_eval(g4rt_session* session, const int32_t* tokens, int64_t n) {
  if (!session || (!tokens && n > 0)) return Invalid("g4rt_eval: null argument");
  if (n < 0) return Invalid("g4rt_eval: negative token count");
  try {
    return Wrap(session->impl->Eval(std::vector<int32_t>(tokens, tokens + n)));
  } catch (const std::bad_alloc&) {
    return Wrap(absl::ResourceExhaustedError(absl::StrCat("g4rt_eval: out of memory evaluating ", n, " tokens")));
  }
}

g4rt_status* g4rt_logits(const g4rt_session* session, const float** logits, int64_t* rows,
                         int64_t* vocab) {
  if (!session || !logits || !rows || !vocab) return Invalid("g4rt_logits: null argument");
  if (session->impl->logits_rows() == 0)
    return Wrap(absl::FailedPreconditionError("g4rt_logits: nothing evaluated yet"));
  *logits = session->impl->logits();
  *rows = session->impl->logits_rows();
  *vocab = session->impl->vocab();
  return nullptr;
}

g4rt_status* g4rt_dump(const g4rt_session* session, const char* dir) {
  if (!session || !dir) return Invalid("g4rt_dump: null argument");
  return Wrap(session->impl->Dump(dir));
}

g4rt_status* g4rt_reset(g4rt_session* session) {
  if (!session) return Invalid("g4rt_reset: null argument");
  session->impl->Reset();
  return nullptr;
}

g4rt_status* g4rt_rewind(g4rt_session* session, int64_t position) {
  if (!session) return Invalid("g4rt_rewind: null argument");
  return Wrap(session->impl->Rewind(position));
}

int64_t g4rt_position(const g4rt_session* session) { return session ? session->impl->position() : 0; }

double g4rt_decode_weight_bytes(const g4rt_session* session) {
  return session ? session->impl->DecodeWeightBytesPerToken() : 0.0;
}

g4rt_status* g4rt_step_times(g4rt_session* session, const g4rt_step_time** steps, int64_t* n) {
  if (!session || !steps || !n) return Invalid("g4rt_step_times: null argument");
  absl::StatusOr<const std::vector<g4::exec::StepTime>*> times = session->impl->StepTimes();
  if (!times.ok()) return Wrap(times.status());
  const g4::plan::Plan& plan = session->impl->plan();
  session->step_times.clear();
  for (size_t i = 0; i < (*times)->size(); ++i) {
    const g4::plan::Step* step = plan.steps()->Get(uint32_t(i));
    const char* name = "";
    if (step->outputs() && step->outputs()->size() > 0) {
      name = plan.tensors()->Get(step->outputs()->Get(0))->name()->c_str();
    }
    session->step_times.push_back({int64_t(i), g4::plan::EnumNameOpKind(step->op()), name,
                                   step->layer(), (**times)[i].calls, (**times)[i].seconds});
  }
  *steps = session->step_times.data();
  *n = int64_t(session->step_times.size());
  return nullptr;
}

g4rt_status* g4rt_reset_step_times(g4rt_session* session) {
  if (!session) return Invalid("g4rt_reset_step_times: null argument");
  session->impl->ResetStepTimes();
  return nullptr;
}

void g4rt_close(g4rt_session* session) { delete session; }

}  // extern "C"

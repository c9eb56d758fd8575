// The C API over exec::Session.
#include "exec/g4rt.h"

#include <memory>
#include <string>
#include <vector>

#include "exec/session.h"
#ifdef GEMMA4C_WITH_CUDA
#include "cuda/cuda_session.h"
#endif

struct g4rt_status {
  int code;
  std::string message;
};

struct g4rt_session {
  std::unique_ptr<g4::exec::Session> impl;
#ifdef GEMMA4C_WITH_CUDA
  std::unique_ptr<g4::cuda::CudaSession> cuda;  // set instead of impl for device = 1
#endif
};

namespace {

g4rt_status* Wrap(const absl::Status& s) {
  if (s.ok()) return nullptr;
  return new g4rt_status{int(s.code()), std::string(s.message())};
}

g4rt_status* Invalid(const char* message) {
  return Wrap(absl::InvalidArgumentError(message));
}

}  // namespace

extern "C" {

int g4rt_status_code(const g4rt_status* status) { return status ? status->code : 0; }
const char* g4rt_status_message(const g4rt_status* status) {
  return status ? status->message.c_str() : "OK";
}
void g4rt_status_free(g4rt_status* status) { delete status; }

g4rt_status* g4rt_open(const char* plan_dir, const char* gguf_path, const g4rt_options* options,
                       g4rt_session** session) {
  if (!plan_dir || !gguf_path || !session) return Invalid("g4rt_open: null argument");
  g4::exec::SessionOptions o;
  if (options) {
    o.threads = options->threads;
    o.exact_quantized_matmul = options->exact_quantized_matmul != 0;
    o.force_builtin = options->force_builtin != 0;
    o.keep_intermediates = options->keep_intermediates != 0;
    o.portable_kernels = options->portable_kernels != 0;
  }
  const int device = options ? options->device : 0;
  if (device == 1) {
#ifdef GEMMA4C_WITH_CUDA
    g4::cuda::CudaSessionOptions co;
    co.exact_matmul = o.exact_quantized_matmul;
    auto c = g4::cuda::CudaSession::Open(plan_dir, gguf_path, co);
    if (!c.ok()) return Wrap(c.status());
    *session = new g4rt_session{nullptr, std::move(*c)};
    return nullptr;
#else
    return Wrap(absl::FailedPreconditionError("device cuda: this libg4rt was built without CUDA"));
#endif
  }
  if (device != 0) return Invalid("g4rt_open: device must be 0 (cpu) or 1 (cuda)");
  auto s = g4::exec::Session::Open(plan_dir, gguf_path, o);
  if (!s.ok()) return Wrap(s.status());
  *session = new g4rt_session{std::move(*s)};
  return nullptr;
}

g4rt_status* g4rt_eval(g4rt_session* session, const int32_t* tokens, int64_t n) {
  if (!session || (!tokens && n > 0)) return Invalid("g4rt_eval: null argument");
#ifdef GEMMA4C_WITH_CUDA
  if (session->cuda) return Wrap(session->cuda->Eval(std::vector<int32_t>(tokens, tokens + n)));
#endif
  return Wrap(session->impl->Eval(std::vector<int32_t>(tokens, tokens + n)));
}

g4rt_status* g4rt_logits(const g4rt_session* session, const float** logits, int64_t* rows,
                         int64_t* vocab) {
  if (!session || !logits || !rows || !vocab) return Invalid("g4rt_logits: null argument");
#ifdef GEMMA4C_WITH_CUDA
  if (session->cuda) {
    if (session->cuda->last_tokens() == 0) return Wrap(absl::FailedPreconditionError("g4rt_logits: nothing evaluated yet"));
    *logits = session->cuda->logits();
    *rows = session->cuda->last_tokens();
    *vocab = session->cuda->vocab();
    return nullptr;
  }
#endif
  if (session->impl->last_tokens() == 0) return Wrap(absl::FailedPreconditionError("g4rt_logits: nothing evaluated yet"));
  *logits = session->impl->logits();
  *rows = session->impl->last_tokens();
  *vocab = session->impl->vocab();
  return nullptr;
}

g4rt_status* g4rt_dump(const g4rt_session* session, const char* dir) {
  if (!session || !dir) return Invalid("g4rt_dump: null argument");
#ifdef GEMMA4C_WITH_CUDA
  if (session->cuda) return Wrap(absl::UnimplementedError("g4rt_dump: not supported with device cuda yet"));
#endif
  return Wrap(session->impl->Dump(dir));
}

g4rt_status* g4rt_reset(g4rt_session* session) {
  if (!session) return Invalid("g4rt_reset: null argument");
#ifdef GEMMA4C_WITH_CUDA
  if (session->cuda) {
    session->cuda->Reset();
    return nullptr;
  }
#endif
  session->impl->Reset();
  return nullptr;
}

g4rt_status* g4rt_rewind(g4rt_session* session, int64_t position) {
  if (!session) return Invalid("g4rt_rewind: null argument");
  if (!session->impl) return Wrap(absl::UnimplementedError("g4rt_rewind: not supported on this device"));
  return Wrap(session->impl->Rewind(position));
}

int64_t g4rt_position(const g4rt_session* session) {
  return session && session->impl ? session->impl->position() : 0;
}

double g4rt_decode_weight_bytes(const g4rt_session* session) {
  if (!session) return 0.0;
#ifdef GEMMA4C_WITH_CUDA
  if (session->cuda) return session->cuda->DecodeWeightBytesPerToken();
#endif
  return session->impl->DecodeWeightBytesPerToken();
}

void g4rt_close(g4rt_session* session) { delete session; }

}  // extern "C"

// The one place that knows which devices this libg4rt was built with.
#include "exec/backend.h"

#ifdef GEMMA4C_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace g4::exec {

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const BackendContext& context) {
  switch (context.options.device) {
    case Device::kCpu: return CreateCpuBackend(context);
    case Device::kCuda:
#ifdef GEMMA4C_WITH_CUDA
      return cuda::CreateCudaBackend(context);
#else
      return absl::FailedPreconditionError("device cuda: this libg4rt was built without CUDA");
#endif
  }
  return absl::InvalidArgumentError("unknown device");
}

}  // namespace g4::exec

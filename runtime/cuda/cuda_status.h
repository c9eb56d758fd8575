// CUDA errors as absl::Status: every runtime call of the CUDA backend goes through
// G4_CUDA_RETURN_IF_ERROR, the shared G4_RETURN_IF_ERROR with the call and CUDA's message named.
#ifndef GEMMA4C_RUNTIME_CUDA_CUDA_STATUS_H_
#define GEMMA4C_RUNTIME_CUDA_CUDA_STATUS_H_

#include <cuda_runtime.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace g4::cuda {

// OK for cudaSuccess; otherwise ResourceExhausted for out-of-memory, Internal for the rest,
// with "<what>: <cudaErrorName>: <message>".
inline absl::Status CudaStatus(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return absl::OkStatus();
  std::string msg = absl::StrCat(what, ": ", cudaGetErrorName(e), ": ", cudaGetErrorString(e));
  if (e == cudaErrorMemoryAllocation) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

}  // namespace g4::cuda

// The shared G4_RETURN_IF_ERROR (common/status_macros.h) over a CUDA call, named in the message.
#define G4_CUDA_RETURN_IF_ERROR(call) G4_RETURN_IF_ERROR(::g4::cuda::CudaStatus((call), #call))

#endif  // GEMMA4C_RUNTIME_CUDA_CUDA_STATUS_H_

// A shared object of emitted kernels (OUTDIR/kernels_cpu*.so, OUTDIR/kernels_cuda.so), opened
// with its ABI version checked, closed when the owner goes. Used by the CPU and CUDA backends.
#ifndef GEMMA4C_RUNTIME_EXEC_KERNEL_LIBRARY_H_
#define GEMMA4C_RUNTIME_EXEC_KERNEL_LIBRARY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace g4::exec {

class KernelLibrary {
 public:
  // dlopens `path` and checks that its `version_symbol` (a `uint32_t f(void)`) returns `abi`.
  // Errors name the file and `what` ("CPU kernel library"): missing, not loadable, another ABI.
  static absl::StatusOr<KernelLibrary> Open(const std::string& path, const char* what,
                                            const char* version_symbol, uint32_t abi);

  KernelLibrary() = default;
  KernelLibrary(KernelLibrary&& other) noexcept;
  KernelLibrary& operator=(KernelLibrary&& other) noexcept;
  KernelLibrary(const KernelLibrary&) = delete;
  KernelLibrary& operator=(const KernelLibrary&) = delete;
  ~KernelLibrary();

  // The address of `symbol`; NotFound naming the library and the symbol when it is absent.
  absl::StatusOr<void*> Symbol(const std::string& symbol) const;
  const std::string& path() const { return path_; }

 private:
  void* handle_ = nullptr;
  std::string path_;
};

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_KERNEL_LIBRARY_H_

#include "exec/kernel_library.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace g4::exec {

absl::StatusOr<KernelLibrary> KernelLibrary::Open(const std::string& path, const char* what,
                                                  const char* version_symbol, uint32_t abi) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return absl::NotFoundError(absl::StrCat(path, ": the plan's ", what, " is missing"));
  KernelLibrary lib;
  lib.path_ = path;
  lib.handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib.handle_) return absl::InvalidArgumentError(absl::StrCat(path, ": the plan's ", what, ": ", dlerror()));
  auto version = reinterpret_cast<uint32_t (*)()>(dlsym(lib.handle_, version_symbol));
  if (!version || version() != abi)
    return absl::FailedPreconditionError(absl::StrCat(path, ": ", what, " ABI ", version ? version() : 0,
                                                      " is not the runtime's ", abi,
                                                      "; recompile the spec with this gemma4c"));
  return lib;
}

KernelLibrary::KernelLibrary(KernelLibrary&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)), path_(std::move(other.path_)) {}

KernelLibrary& KernelLibrary::operator=(KernelLibrary&& other) noexcept {
  if (this != &other) {
    if (handle_) dlclose(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

KernelLibrary::~KernelLibrary() {
  if (handle_) dlclose(handle_);
}

absl::StatusOr<void*> KernelLibrary::Symbol(const std::string& symbol) const {
  void* address = handle_ ? dlsym(handle_, symbol.c_str()) : nullptr;
  if (!address) return absl::NotFoundError(absl::StrCat(path_, ": kernel '", symbol, "' is missing"));
  return address;
}

}  // namespace g4::exec

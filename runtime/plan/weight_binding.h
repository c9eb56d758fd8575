// Checks a plan's weight bindings against a GGUF file before anything runs: every tensor the
// plan needs exists, has the plan's shape and one of the accepted dtypes.
#ifndef GEMMA4C_RUNTIME_PLAN_WEIGHT_BINDING_H_
#define GEMMA4C_RUNTIME_PLAN_WEIGHT_BINDING_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gguf/gguf.h"
#include "plan/plan_generated.h"

namespace g4::plan {

struct BindingReport {
  std::vector<std::string> missing;     // "name: expected [...]"
  std::vector<std::string> mismatched;  // "name: expected [...] dtypes {...}, found [...] q8_0"
  std::vector<std::string> unexpected;  // tensors of the file that the plan does not use
  bool ok() const { return missing.empty() && mismatched.empty(); }
};

// The plan's accepted-dtype bit for a ggml type (bit order of plan.fbs), or -1 if unsupported.
int DTypeBit(gguf::GgmlType type);
// "f32|bf16|q8_0" for a bit set.
std::string DTypeSetName(uint32_t bits);

BindingReport CheckBindings(const Plan& plan, const gguf::GgufFile& file);
// OK, or InvalidArgument naming the file and listing every missing and mismatched tensor.
absl::Status BindingStatus(const BindingReport& report, const std::string& file_path);

}  // namespace g4::plan

#endif  // GEMMA4C_RUNTIME_PLAN_WEIGHT_BINDING_H_

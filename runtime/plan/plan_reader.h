// Loading a plan written by `gemma4c compile`: verified FlatBuffer, versions checked.
#ifndef GEMMA4C_RUNTIME_PLAN_PLAN_READER_H_
#define GEMMA4C_RUNTIME_PLAN_PLAN_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "plan/plan_generated.h"

namespace g4::plan {

// Owns the bytes of a plan; `plan()` points into them.
class LoadedPlan {
 public:
  const Plan* plan() const { return GetSizePrefixedPlan(bytes_.data()); }
  const std::string& path() const { return path_; }
  size_t size() const { return bytes_.size(); }

 private:
  friend absl::StatusOr<LoadedPlan> LoadPlanBytes(std::vector<uint8_t>, const std::string&);
  std::vector<uint8_t> bytes_;
  std::string path_;
};

// Reads OUTDIR/plan (or a plan file). Errors name the file and the problem: missing, not a
// gemma4c plan, corrupt, or of a schema/ABI version this runtime does not support.
absl::StatusOr<LoadedPlan> LoadPlan(const std::string& path_or_dir);
absl::StatusOr<LoadedPlan> LoadPlanBytes(std::vector<uint8_t> bytes, const std::string& path);

// A readable summary: layers by kind, weights bound and their bytes, activation buffer bytes,
// KV-cache bytes per 1k tokens of context.
std::string DescribePlan(const Plan& plan);

}  // namespace g4::plan

#endif  // GEMMA4C_RUNTIME_PLAN_PLAN_READER_H_

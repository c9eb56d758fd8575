#include "plan/weight_binding.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace g4::plan {
namespace {

using gguf::GgmlType;

// Bit order of WeightBinding.accepted_dtypes (plan.fbs) and of the g4 dialect's DType.
constexpr GgmlType kDTypeOrder[] = {
    GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16,   GgmlType::kQ8_0,   GgmlType::kQ4_0,
    GgmlType::kQ4_K, GgmlType::kQ6_K, GgmlType::kQ4_1,   GgmlType::kQ5_0,   GgmlType::kQ5_1,
    GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ5_K,   GgmlType::kIQ4_NL, GgmlType::kIQ4_XS,
    GgmlType::kMXFP4};
constexpr int kDTypeCount = sizeof(kDTypeOrder) / sizeof(kDTypeOrder[0]);

template <typename Range>
std::string Shape(const Range& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

}  // namespace

int DTypeBit(GgmlType type) {
  for (int i = 0; i < kDTypeCount; ++i)
    if (kDTypeOrder[i] == type) return i;
  return -1;
}

std::string DTypeSetName(uint32_t bits) {
  std::vector<std::string> names;
  for (int i = 0; i < kDTypeCount; ++i)
    if (bits >> i & 1u) names.push_back(gguf::Traits(kDTypeOrder[i]).name);
  return absl::StrJoin(names, "|");
}

BindingReport CheckBindings(const Plan& plan, const gguf::GgufFile& file) {
  BindingReport report;
  std::set<std::string> used;
  for (const WeightBinding* w : *plan.weights()) {
    std::string name = w->name()->str();
    used.insert(name);
    std::vector<int64_t> expected(w->shape()->begin(), w->shape()->end());
    const gguf::TensorInfo* t = file.FindTensor(name);
    if (t == nullptr) {
      report.missing.push_back(absl::StrCat(name, ": expected ", Shape(expected), " ",
                                            DTypeSetName(w->accepted_dtypes())));
      continue;
    }
    int bit = DTypeBit(t->type);
    bool dtype_ok = bit >= 0 && (w->accepted_dtypes() >> bit & 1u);
    if (t->ne != expected || !dtype_ok)
      report.mismatched.push_back(absl::StrCat(name, ": expected ", Shape(expected), " ",
                                               DTypeSetName(w->accepted_dtypes()), ", found ",
                                               Shape(t->ne), " ", gguf::Traits(t->type).name));
  }
  for (const gguf::TensorInfo& t : file.tensors())
    if (!used.count(t.name)) report.unexpected.push_back(absl::StrCat(t.name, " ", Shape(t.ne)));
  return report;
}

absl::Status BindingStatus(const BindingReport& report, const std::string& file_path) {
  if (report.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(file_path, ": the model does not match the plan");
  for (const auto& m : report.missing) absl::StrAppend(&msg, "\n  missing tensor ", m);
  for (const auto& m : report.mismatched) absl::StrAppend(&msg, "\n  wrong tensor ", m);
  return absl::InvalidArgumentError(msg);
}

}  // namespace g4::plan

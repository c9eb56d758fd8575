// Fuzz target: a plan file (OUTDIR/plan) from another version or from anywhere. The reader
// (LoadPlanBytes: size prefix, FlatBuffer verification, versions, every step's op kind,
// attribute table, ids and arity), then what the runtime computes from a loaded plan before it
// runs: the summary (plan-info), the binding of its weights against a fixed model
// (corpus/gguf/nano.gguf) and the memory it would ask for, which must be refused when absurd.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "exec/memory_budget.h"
#include "fuzz_util.h"
#include "gguf/gguf.h"
#include "plan/plan_reader.h"
#include "plan/weight_binding.h"

namespace {

const g4::gguf::GgufFile* NanoModel() {
  static const g4::gguf::GgufFile* model = [] {
    auto f = g4::gguf::GgufFile::Open(g4::fuzz::CorpusDir() + "/gguf/nano.gguf");
    if (!f.ok()) {
      std::fprintf(stderr, "plan_fuzz: %s\n", std::string(f.status().message()).c_str());
      std::abort();  // the harness is broken, not the input
    }
    return f->release();
  }();
  return model;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const g4::gguf::GgufFile* model = NanoModel();
  auto loaded = g4::plan::LoadPlanBytes(std::vector<uint8_t>(data, data + size), "fuzz.plan");
  if (!loaded.ok()) return 0;
  const g4::plan::Plan& plan = *loaded->plan();
  (void)g4::plan::DescribePlan(plan);
  (void)g4::plan::BindingStatus(g4::plan::CheckBindings(plan, *model), "nano.gguf");
  // A budget of 1 GiB: whatever the plan declares, the answer is a number or a refusal.
  for (bool own : {false, true}) {
    auto need = g4::exec::CpuMemoryNeeded(plan, plan.model()->context_length(), own);
    if (need.ok()) (void)g4::exec::CheckMemoryBudget(*need, uint64_t{1} << 30, "fuzz.plan");
  }
  return 0;
}

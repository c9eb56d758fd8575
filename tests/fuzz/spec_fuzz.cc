// Fuzz target: `gemma4c compile` on arbitrary text. The compiler's library entry
// (compileSpecText: parse, verify, the whole pass pipeline, the plan writer) with fixed options
// and kernel emission off. A spec that is not valid g4 IR must end in a diagnostic, never a crash;
// one that compiles must give a plan the runtime's reader accepts or refuses, never crashes on.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "g4/Compile/Compile.h"
#include "plan/plan_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Bound the work per input: a spec is a page or two of text.
  if (size > 64 * 1024) return 0;
  mlir::g4::CompileOptions options;
  options.emitKernels = false;
  options.maxBatchTokens = 8;
  const std::string text(reinterpret_cast<const char*>(data), size);
  mlir::FailureOr<std::string> plan = mlir::g4::compileSpecText(text, "fuzz.mlir", options);
  if (mlir::failed(plan)) return 0;
  auto loaded = g4::plan::LoadPlanBytes(std::vector<uint8_t>(plan->begin(), plan->end()), "fuzz.plan");
  // The runtime may refuse what the compiler let through (a structural InvalidArgument, e.g. a
  // spec whose `layers` exceeds the layers it defines: regressions/spec/layers_mismatch.mlir,
  // an open compiler bug in docs/reliability.md); it must never crash on it.
  if (!loaded.ok()) std::fprintf(stderr, "%s\n", std::string(loaded.status().message()).c_str());
  G4_FUZZ_EXPECT(loaded.ok() || loaded.status().code() == absl::StatusCode::kInvalidArgument);
  return 0;
}

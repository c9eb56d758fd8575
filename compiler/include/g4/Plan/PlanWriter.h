//===- PlanWriter.h - the FlatBuffer plan from expanded g4 IR ---*- C++ -*-===//
//
// Translates a module after g4-expand-layers (and the precision/fusion passes that exist) into
// the plan of runtime/plan/plan.fbs: hyperparameters, named activation tensors, weight bindings
// (GGUF name, shape, accepted dtypes), steps in execution order and the KV-cache layout.
//
//===----------------------------------------------------------------------===//
#ifndef G4_PLAN_PLANWRITER_H
#define G4_PLAN_PLANWRITER_H

#include <cstdint>
#include <string>

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

namespace mlir::g4 {

struct PlanOptions {
  /// "f32", "minimal" or "reference": the precision policy the IR was compiled with.
  std::string precision = "reference";
  /// Largest number of tokens one evaluation may carry (activation buffers are sized for it).
  uint32_t maxBatchTokens = 512;
  std::string compilerVersion = "gemma4c 0.1";
};

/// The plan's bytes, or failure with diagnostics emitted on the offending op.
FailureOr<std::string> buildPlan(ModuleOp module, const PlanOptions &options);

}  // namespace mlir::g4

#endif  // G4_PLAN_PLANWRITER_H

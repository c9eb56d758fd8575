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

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "mlir/Support/LLVM.h"

namespace mlir::g4 {

struct PlanOptions {
  /// "f32", "minimal" or "reference": the precision policy the IR was compiled with.
  std::string precision = "reference";
  /// Largest number of tokens one evaluation may carry (activation buffers are sized for it).
  uint32_t maxBatchTokens = 512;
  std::string compilerVersion = "gemma4c 0.1";
};

/// The plan's name of every activation `forward` produces, as the plan records it: the op's
/// `g4.name`, else the stem of its first weight operand, else the op's name; then "-<layer>",
/// and "#2", "#3", ... for repeats (a given name is never taken by a derived one). An unnamed
/// g4.round_bf16 is "<its producer's name>.bf16".
llvm::DenseMap<Value, std::string> planTensorNames(func::FuncOp forward);

/// The plan's bytes, or failure with diagnostics emitted on the offending op.
FailureOr<std::string> buildPlan(ModuleOp module, const PlanOptions &options);

}  // namespace mlir::g4

#endif  // G4_PLAN_PLANWRITER_H

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
#include "g4/IR/G4Dialect.h"
#include <vector>

namespace mlir::g4 {

struct PlanOptions {
  /// The precision policy the IR was compiled with.
  PrecisionPolicy precision = PrecisionPolicy::reference;
  /// Largest number of tokens one evaluation may carry (activation buffers are sized for it).
  uint32_t maxBatchTokens = 512;
  std::string compilerVersion = "gemma4c 0.1";
  /// The emitted CPU kernel library, relative to OUTDIR ("kernels_cpu.so"); empty: none was
  /// built, and the runtime interprets every step (fused steps by their bodies).
  std::string cpuKernelLibrary;
  /// The same kernels built for AVX2/FMA/F16C (target "cpu-avx2"); empty: none.
  std::string cpuAvx2KernelLibrary;
  /// The emitted CUDA kernel library ("kernels_cuda.so", `--target=cuda`); its symbols are the
  /// steps' `kernel` names with `g4k_` replaced by `g4kc_` (docs/cuda.md).
  std::string cudaKernelLibrary;
};

/// One activation tensor of the plan.
struct PlanTensor {
  Value value;
  std::string name;
  int64_t slot;   // g4-plan-memory's slot; -1 when kept per row inside a kernel or unplanned
  int64_t layer;  // -1 outside the decoder layers
};

/// The plan's ids: tensors in id order (the arguments, then each op's results, a fused
/// region's results before its inner values), and the id of every SSA value that has one; a
/// fused region's block arguments share the ids of its inputs and its yielded values those of
/// its results. Weight ids number the distinct GGUF names in order of first use. The emitter
/// of the kernels and the plan writer use the same layout.
struct PlanLayout {
  std::vector<PlanTensor> tensors;
  llvm::DenseMap<Value, uint32_t> tensorIds;
  std::vector<WeightOp> weights;  // the first g4.weight of each binding
  llvm::DenseMap<Value, uint32_t> weightIds;
};

/// The plan's name of every activation `forward` produces, as the plan records it: the op's
/// `g4.name`, else the stem of its first weight operand, else the op's name; then "-<layer>",
/// and "#2", "#3", ... for repeats (a given name is never taken by a derived one). An unnamed
/// g4.round_bf16 is "<its producer's name>.bf16".
llvm::DenseMap<Value, std::string> planTensorNames(func::FuncOp forward);

/// Assigns the plan's tensor and weight ids; fails when two uses of a GGUF name disagree.
FailureOr<PlanLayout> layoutPlan(func::FuncOp forward);

/// The plan's bytes, or failure with diagnostics emitted on the offending op.
FailureOr<std::string> buildPlan(ModuleOp module, const PlanOptions &options);

}  // namespace mlir::g4

#endif  // G4_PLAN_PLANWRITER_H

//===- Passes.h - the g4 passes ---------------------------------*- C++ -*-===//
#ifndef G4_TRANSFORMS_PASSES_H
#define G4_TRANSFORMS_PASSES_H

#include "g4/IR/G4Dialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::g4 {

#define GEN_PASS_DECL
#include "g4/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "g4/Transforms/Passes.h.inc"

}  // namespace mlir::g4

#endif  // G4_TRANSFORMS_PASSES_H

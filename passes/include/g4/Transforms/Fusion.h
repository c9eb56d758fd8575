//===- Fusion.h - building g4.fused regions ----------------------*- C++ -*-===//
#ifndef G4_TRANSFORMS_FUSION_H
#define G4_TRANSFORMS_FUSION_H

#include "g4/IR/G4Dialect.h"

namespace mlir::g4 {

/// Moves `ops` (top-level ops of one block, in program order, a convex set) into a new
/// g4.fused op placed after the last of them: its inputs are the values the ops read from
/// outside, its results the values read outside (uses outside are rewired to them). The
/// caller restores dominance of readers placed between the ops (sortTopologically).
FusedOp createFusedRegion(ArrayRef<Operation *> ops, StringRef kernel);

}  // namespace mlir::g4

#endif  // G4_TRANSFORMS_FUSION_H

//===- G4Dialect.h - the g4 dialect -----------------------------*- C++ -*-===//
#ifndef G4_IR_G4DIALECT_H
#define G4_IR_G4DIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "g4/IR/G4Dialect.h.inc"
#include "g4/IR/G4Enums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "g4/IR/G4Attrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "g4/IR/G4Types.h.inc"

#define GET_OP_CLASSES
#include "g4/IR/G4Ops.h.inc"

namespace mlir::g4 {

/// GGUF dtypes a weight may accept; the bit positions of WeightType::getDtypes().
/// The first seven keep their bits (plans written before the others existed stay valid).
enum class DType : unsigned {
  f32 = 0, f16, bf16, q8_0, q4_0, q4_k, q6_k,
  q4_1, q5_0, q5_1, q2_k, q3_k, q5_k, iq4_nl, iq4_xs, mxfp4, kCount
};
llvm::StringRef stringifyDType(DType d);
std::optional<DType> symbolizeDType(llvm::StringRef name);
constexpr uint32_t dtypeBit(DType d) { return 1u << static_cast<unsigned>(d); }
/// Any supported dtype (matrices).
constexpr uint32_t kAnyDTypes = (1u << static_cast<unsigned>(DType::kCount)) - 1;

/// Width of the innermost dimension of an activation (rows are tokens).
int64_t featureWidth(Value activation);

/// Ops an emitted CPU kernel computes row by row (docs/fusion.md): norms, scales, elementwise
/// ops, RoPE, softcap, the bf16 rounding and the PLE slice.
bool isRowOp(Operation *op);
/// Ops only the runtime implements (embedding, attention, experts, router steps): a fused
/// region holding one has no emitted kernel, and the runtime interprets its body.
bool isInterpretedOnlyOp(Operation *op);

}  // namespace mlir::g4

#endif  // G4_IR_G4DIALECT_H

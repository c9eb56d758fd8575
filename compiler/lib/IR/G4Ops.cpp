//===- G4Ops.cpp - verifiers of the g4 ops --------------------------------===//
//
// Each verifier checks what the reference model requires of the op's shapes and attributes and
// says which operand disagrees with what, with both sizes.
//
//===----------------------------------------------------------------------===//
#include "g4/IR/G4Dialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::g4;

namespace {

/// Activations are [tokens, features]: rank 2 with a static feature width.
LogicalResult verifyActivation(Operation *op, Value v, StringRef what) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() != 2 || ShapedType::isDynamic(type.getShape()[1]))
    return op->emitOpError() << what << " must be tensor<?xNxf32> (tokens x features), got "
                             << type;
  return success();
}

/// The token dimensions of two activations must agree when both are static.
LogicalResult verifySameTokens(Operation *op, Value a, Value b) {
  int64_t ta = cast<RankedTensorType>(a.getType()).getShape()[0];
  int64_t tb = cast<RankedTensorType>(b.getType()).getShape()[0];
  if (!ShapedType::isDynamic(ta) && !ShapedType::isDynamic(tb) && ta != tb)
    return op->emitOpError() << "token counts differ: " << ta << " vs " << tb;
  return success();
}

LogicalResult verifyWeightShape(Operation *op, StringRef what, WeightType w,
                                ArrayRef<int64_t> expected) {
  if (w.getShape() != expected) {
    InFlightDiagnostic d = op->emitOpError() << what << " weight shape must be [";
    llvm::interleaveComma(expected, d);
    d << "], got [";
    llvm::interleaveComma(w.getShape(), d);
    return d << "]";
  }
  return success();
}

LogicalResult verifyIndices(Operation *op, Value v, StringRef what) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() != 1 && type.getRank() != 2)
    return op->emitOpError() << what << " must be a rank-1 or rank-2 i32 tensor, got " << type;
  return success();
}

}  // namespace

LogicalResult WeightOp::verify() {
  if (getName().empty()) return emitOpError() << "needs a non-empty GGUF tensor name";
  return success();
}

LogicalResult EmbedOp::verify() {
  if (failed(verifyIndices(*this, getTokens(), "tokens")) ||
      failed(verifyActivation(*this, getResult(), "result")))
    return failure();
  WeightType table = getTable().getType();
  if (table.getRank() != 2)
    return emitOpError() << "table must be a matrix [width, vocab], got rank "
                         << table.getRank();
  if (featureWidth(getResult()) != table.getShape()[0])
    return emitOpError() << "result width " << featureWidth(getResult())
                         << " differs from the table's row width " << table.getShape()[0];
  return success();
}

LogicalResult RMSNormOp::verify() {
  if (failed(verifyActivation(*this, getInput(), "input"))) return failure();
  if (getInput().getType() != getResult().getType())
    return emitOpError() << "result type must equal the input type";
  int64_t width = getWidth();
  int64_t features = featureWidth(getInput());
  if (width <= 0 || features % width != 0)
    return emitOpError() << "width " << width << " must divide the feature width " << features;
  if (getEps().convertToDouble() <= 0.0 || getEps().convertToDouble() > 1e-2)
    return emitOpError() << "eps must be in (0, 1e-2], got " << getEps().convertToDouble();
  if (Value w = getWeight())
    return verifyWeightShape(*this, "norm", cast<WeightType>(w.getType()), {width});
  return success();
}

LogicalResult LinearOp::verify() {
  if (failed(verifyActivation(*this, getInput(), "input")) ||
      failed(verifyActivation(*this, getResult(), "result")) ||
      failed(verifySameTokens(*this, getInput(), getResult())))
    return failure();
  WeightType w = getWeight().getType();
  if (w.getRank() != 2)
    return emitOpError() << "weight must be a matrix [in, out], got rank " << w.getRank();
  if (w.getShape()[0] != featureWidth(getInput()))
    return emitOpError() << "input width " << featureWidth(getInput())
                         << " differs from the weight's ne0 " << w.getShape()[0];
  if (w.getShape()[1] != featureWidth(getResult()))
    return emitOpError() << "result width " << featureWidth(getResult())
                         << " differs from the weight's ne1 " << w.getShape()[1];
  return success();
}

LogicalResult RopeOp::verify() {
  if (failed(verifyActivation(*this, getInput(), "input")) ||
      failed(verifyIndices(*this, getPositions(), "positions")))
    return failure();
  if (getInput().getType() != getResult().getType())
    return emitOpError() << "result type must equal the input type";
  int64_t hd = getHeadDim(), rot = getRotaryDims();
  if (hd <= 0 || hd % 2 != 0 || featureWidth(getInput()) % hd != 0)
    return emitOpError() << "head_dim " << hd << " must be even and divide the width "
                         << featureWidth(getInput());
  if (rot <= 0 || rot % 2 != 0 || rot > hd)
    return emitOpError() << "rotary_dims " << rot << " must be even and in (0, head_dim " << hd
                         << "]";
  if (getMode() == RopeMode::default_ && rot != hd)
    return emitOpError() << "default RoPE rotates the whole head: rotary_dims " << rot
                         << " != head_dim " << hd;
  if (getTheta().convertToDouble() <= 1.0)
    return emitOpError() << "theta must be > 1, got " << getTheta().convertToDouble();
  if (Value f = getFreqs())
    return verifyWeightShape(*this, "rope_freqs", cast<WeightType>(f.getType()), {hd / 2});
  return success();
}

LogicalResult AttentionOp::verify() {
  if (failed(verifyActivation(*this, getQ(), "q")) ||
      failed(verifyIndices(*this, getPositions(), "positions")))
    return failure();
  int64_t nh = getNumHeads(), nkv = getNumKvHeads(), hd = getHeadDim();
  // Gemma 4 uses 256 (sliding) and 512 (full); test checkpoints of other writers often 64/128.
  // The kernels take any multiple of a warp's 32 lanes up to 512.
  if (hd < 32 || hd > 512 || hd % 32 != 0)
    return emitOpError() << "head_dim must be a multiple of 32 in [32, 512], got " << hd;
  if (nh <= 0 || nkv <= 0 || nh % nkv != 0)
    return emitOpError() << "num_heads " << nh << " must be a positive multiple of num_kv_heads "
                         << nkv;
  if (featureWidth(getQ()) != nh * hd)
    return emitOpError() << "q width " << featureWidth(getQ()) << " != num_heads*head_dim "
                         << nh * hd;
  if (featureWidth(getResult()) != nh * hd)
    return emitOpError() << "result width " << featureWidth(getResult())
                         << " != num_heads*head_dim " << nh * hd;
  // I64Attr getters return uint64_t: read the attributes as signed values.
  int64_t window = getWindowAttr().getInt();
  if (window < 0) return emitOpError() << "window must be >= 0, got " << window;
  if (!getK() != !getV())
    return emitOpError() << "k and v must both be given (layer owns its KV) or both be absent "
                            "(KV-shared layer)";
  if (getK()) {
    for (auto [v, name] : {std::pair{getK(), "k"}, std::pair{getV(), "v"}}) {
      if (failed(verifyActivation(*this, v, name))) return failure();
      if (featureWidth(v) != nkv * hd)
        return emitOpError() << name << " width " << featureWidth(v)
                             << " != num_kv_heads*head_dim " << nkv * hd;
    }
  } else if (getKEqV()) {
    return emitOpError() << "k_eq_v describes how K/V are made: a KV-shared layer has none";
  }
  if (IntegerAttr kv = getKvLayerAttr(); kv && kv.getInt() < 0)
    return emitOpError() << "kv_layer must be >= 0, got " << kv.getInt();
  return success();
}

LogicalResult ChannelMulOp::verify() {
  if (failed(verifyActivation(*this, getInput(), "input"))) return failure();
  if (getInput().getType() != getResult().getType())
    return emitOpError() << "result type must equal the input type";
  return verifyWeightShape(*this, "channel", getWeight().getType(),
                           {featureWidth(getInput())});
}

LogicalResult LayerScalarOp::verify() {
  if (getInput().getType() != getResult().getType())
    return emitOpError() << "result type must equal the input type";
  return verifyWeightShape(*this, "layer scalar", getWeight().getType(), {1});
}

LogicalResult SoftcapOp::verify() {
  if (!(getCap().convertToDouble() > 0.0))
    return emitOpError() << "cap must be positive, got " << getCap().convertToDouble();
  return success();
}

LogicalResult TopKOp::verify() {
  if (failed(verifyActivation(*this, getInput(), "input"))) return failure();
  int64_t k = getK(), n = featureWidth(getInput());
  if (k <= 0 || k > n)
    return emitOpError() << "k must be in [1, " << n << "], got " << k;
  auto values = cast<RankedTensorType>(getValues().getType());
  auto indices = cast<RankedTensorType>(getIndices().getType());
  if (values.getRank() != 2 || values.getShape()[1] != k || indices.getRank() != 2 ||
      indices.getShape()[1] != k)
    return emitOpError() << "values and indices must be [tokens, " << k << "]";
  return success();
}

LogicalResult ExpertScaleOp::verify() {
  auto w = cast<RankedTensorType>(getWeights().getType());
  auto idx = cast<RankedTensorType>(getIndices().getType());
  if (w.getShape() != idx.getShape())
    return emitOpError() << "weights and indices must have the same shape";
  if (getResult().getType() != getWeights().getType())
    return emitOpError() << "result type must equal the weights' type";
  if (getScale().getType().getRank() != 1)
    return emitOpError() << "per-expert scale must be a vector [num_experts]";
  return success();
}

LogicalResult ExpertFFNOp::verify() {
  if (failed(verifyActivation(*this, getInput(), "input"))) return failure();
  int64_t h = featureWidth(getInput());
  int64_t e = getNumExperts(), k = getTopK(), ff = getExpertFf();
  if (e <= 0 || k <= 0 || k > e || ff <= 0)
    return emitOpError() << "need 0 < top_k <= num_experts and expert_ff > 0, got top_k " << k
                         << ", num_experts " << e << ", expert_ff " << ff;
  if (getResult().getType() != getInput().getType())
    return emitOpError() << "result type must equal the input type";
  for (Value v : {getWeights(), getIndices()}) {
    auto t = cast<RankedTensorType>(v.getType());
    if (t.getRank() != 2 || t.getShape()[1] != k)
      return emitOpError() << "routing weights and indices must be [tokens, " << k << "]";
  }
  if (failed(verifyWeightShape(*this, "gate_up", getGateUp().getType(), {h, 2 * ff, e})))
    return failure();
  return verifyWeightShape(*this, "down", getDown().getType(), {ff, h, e});
}

LogicalResult PleSliceOp::verify() {
  if (failed(verifyActivation(*this, getInput(), "input")) ||
      failed(verifyActivation(*this, getResult(), "result")))
    return failure();
  int64_t p = featureWidth(getResult()), packed = featureWidth(getInput());
  if (packed % p != 0)
    return emitOpError() << "slice width " << p << " must divide the packed width " << packed;
  if (IntegerAttr layer = getLayerAttr();
      layer && (layer.getInt() < 0 || (layer.getInt() + 1) * p > packed))
    return emitOpError() << "layer " << layer.getInt() << " is outside the packed input of "
                         << packed / p << " layers";
  return success();
}

LogicalResult DecoderLayerOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto fn = symbolTable.lookupNearestSymbolFrom<func::FuncOp>(*this, getKindAttr());
  if (!fn)
    return emitOpError() << "layer kind '" << getKind() << "' is not a func.func in this module";
  FunctionType type = fn.getFunctionType();
  if (TypeRange(type.getInputs()) != TypeRange(getOperands().getTypes()) ||
      type.getNumResults() != 1 || type.getResult(0) != getResult().getType())
    return emitOpError() << "operands and result must match the signature of '" << getKind()
                         << "' " << type;
  int64_t index = getIndexAttr().getInt();
  if (index < 0) return emitOpError() << "layer index must be >= 0";
  if (IntegerAttr src = getKvSourceAttr(); src && (src.getInt() < 0 || src.getInt() >= index))
    return emitOpError() << "kv_source " << src.getInt() << " must be an earlier layer than "
                         << index;
  return success();
}

#define GET_OP_CLASSES
#include "g4/IR/G4Ops.cpp.inc"

//===----------------------------------------------------------------------===//
// Fused regions
//===----------------------------------------------------------------------===//

bool mlir::g4::isRowOp(Operation *op) {
  return isa<RMSNormOp, ScaleOp, AddOp, MulOp, GeluTanhOp, ChannelMulOp, LayerScalarOp,
             SoftcapOp, RopeOp, RoundBf16Op, PleSliceOp>(op);
}

bool mlir::g4::isInterpretedOnlyOp(Operation *op) {
  return isa<EmbedOp, AttentionOp, ExpertFFNOp, SoftmaxOp, TopKOp, RenormalizeOp,
             ExpertScaleOp>(op);
}

LogicalResult FusedOp::verify() {
  Block &block = getBlock();
  if (block.getNumArguments() != getInputs().size())
    return emitOpError() << "has " << getInputs().size() << " inputs but its block takes "
                         << block.getNumArguments() << " arguments";
  for (auto [i, input, arg] : llvm::enumerate(getInputs(), block.getArguments()))
    if (input.getType() != arg.getType())
      return emitOpError() << "input #" << i << " has type " << input.getType()
                           << " but block argument #" << i << " has type " << arg.getType();
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield) return emitOpError() << "body must end with g4.yield";
  if (yield.getValues().size() != getNumResults())
    return emitOpError() << "yields " << yield.getValues().size() << " values but has "
                         << getNumResults() << " results";
  for (auto [i, value, result] : llvm::enumerate(yield.getValues(), getResults())) {
    if (value.getType() != result.getType())
      return emitOpError() << "yields " << value.getType() << " as result #" << i
                           << " of type " << result.getType();
    if (isa<BlockArgument>(value))
      return emitOpError() << "yields its input unchanged as result #" << i;
  }
  StringRef kernel = getKernel();
  if (!kernel.empty() &&
      (!kernel.starts_with("g4k_") ||
       !llvm::all_of(kernel, [](char c) { return llvm::isAlnum(c) || c == '_'; })))
    return emitOpError() << "kernel '" << kernel
                         << "' must be a C identifier starting with 'g4k_'";
  for (Operation &op : block.without_terminator()) {
    if (!isRowOp(&op) && !isInterpretedOnlyOp(&op) && !isa<LinearOp>(op))
      return emitOpError() << "may not contain '" << op.getName() << "'";
    if (auto linear = dyn_cast<LinearOp>(op); linear && !kernel.empty() &&
        !isa<BlockArgument>(linear.getInput()))
      return emitOpError() << "has kernel '" << kernel
                           << "' but a g4.linear inside reads a value of the region; a kernel "
                              "runs its linears first, on region inputs";
    if (!kernel.empty() && isInterpretedOnlyOp(&op))
      return emitOpError() << "has kernel '" << kernel << "' but its body holds '"
                           << op.getName() << "', which only the runtime implements";
  }
  return success();
}

SmallVector<Value> FusedOp::getInnerBuffers() {
  Operation *yield = getYield();
  auto escapes = [&](Value v) { return llvm::is_contained(yield->getOperands(), v); };
  SmallVector<Value> out;
  for (Operation &op : getBlock().without_terminator()) {
    if (getKernel().empty()) {
      for (Value r : op.getResults())
        if (!escapes(r)) out.push_back(r);
      continue;
    }
    if (!isa<LinearOp>(op)) continue;
    Value v = op.getResult(0);
    if (v.hasOneUse() && isa<RoundBf16Op>(*v.user_begin())) v = v.user_begin()->getResult(0);
    if (!escapes(v)) out.push_back(v);
  }
  return out;
}

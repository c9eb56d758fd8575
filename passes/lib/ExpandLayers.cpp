//===- ExpandLayers.cpp - instantiate decoder layers from layer kinds -----===//
//
// Turns the compact spec (one function per layer kind, one g4.decoder_layer per layer) into the
// flat graph that every later pass and the plan writer work on.
//
//===----------------------------------------------------------------------===//
#include "g4/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"

namespace mlir::g4 {
#define GEN_PASS_DEF_G4EXPANDLAYERS
#include "g4/Transforms/Passes.h.inc"
}  // namespace mlir::g4

using namespace mlir;
using namespace mlir::g4;

namespace {

/// Replaces every "{i}" in a weight name by the layer index.
std::string substituteLayer(StringRef name, int64_t index) {
  std::string out;
  StringRef rest = name;
  while (true) {
    size_t at = rest.find("{i}");
    out += rest.substr(0, at).str();
    if (at == StringRef::npos) break;
    out += std::to_string(index);
    rest = rest.substr(at + 3);
  }
  return out;
}

/// Fills the layer-dependent parts of one cloned op. Fails with a diagnostic on the instance.
LogicalResult specializeForLayer(Operation *op, DecoderLayerOp layer) {
  int64_t index = layer.getIndex();
  OpBuilder b(op->getContext());
  // Remember the layer so that the plan can name steps per layer (attn_norm-3, ...).
  op->setAttr(G4Dialect::kLayerAttrName, b.getI64IntegerAttr(index));
  if (auto w = dyn_cast<WeightOp>(op)) {
    std::string name = substituteLayer(w.getName(), index);
    if (StringRef(name).contains('{'))
      return layer.emitOpError() << "weight name '" << name << "' has an unknown placeholder";
    w.setName(name);
  } else if (auto slice = dyn_cast<PleSliceOp>(op)) {
    slice.setLayer(index);
  } else if (auto attn = dyn_cast<AttentionOp>(op)) {
    if (attn.getK()) {
      attn.setKvLayer(index);
    } else {
      std::optional<int64_t> src = layer.getKvSource();
      if (!src)
        return layer.emitOpError() << "layer " << index << " instantiates KV-shared kind '"
                                   << layer.getKind() << "' but has no kv_source";
      attn.setKvLayer(*src);
    }
  }
  return success();
}

/// Inlines one instance in place of the g4.decoder_layer op.
LogicalResult expandInstance(DecoderLayerOp layer, func::FuncOp kind) {
  Block &body = kind.getBody().front();
  IRMapping mapping;
  mapping.map(body.getArguments(), layer.getOperands());
  OpBuilder builder(layer);
  for (Operation &op : body.without_terminator()) {
    Operation *clone = builder.clone(op, mapping);
    LogicalResult ok = success();
    clone->walk([&](Operation *nested) {
      if (failed(specializeForLayer(nested, layer))) ok = failure();
    });
    if (failed(ok)) return failure();
  }
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  layer.getResult().replaceAllUsesWith(mapping.lookup(ret.getOperand(0)));
  layer.erase();
  return success();
}

/// Layers that own their KV cache (their attention has K/V operands after expansion).
LogicalResult checkKvSources(ModuleOp module) {
  llvm::DenseSet<int64_t> owners;
  SmallVector<AttentionOp> shared;
  WalkResult unset = module.walk([&](AttentionOp attn) {
    if (!attn.getKvLayer()) {
      attn.emitOpError() << "has no kv_layer: attention outside a layer kind must name its "
                            "KV-cache layer";
      return WalkResult::interrupt();
    }
    if (attn.getK()) owners.insert(*attn.getKvLayer());
    else shared.push_back(attn);
    return WalkResult::advance();
  });
  if (unset.wasInterrupted()) return failure();
  for (AttentionOp attn : shared)
    if (!owners.contains(*attn.getKvLayer()))
      return attn.emitOpError() << "reads the KV cache of layer " << *attn.getKvLayer()
                                << ", which does not own one";
  return success();
}

/// With the model's hyperparameters on the module, its layers are instantiated exactly once
/// each: indices 0..layers-1 (a spec that declares more layers than it defines would compile
/// to a plan whose KV layout misses layers).
LogicalResult checkLayerIndices(ModuleOp module, ArrayRef<DecoderLayerOp> layers) {
  auto model = module->getAttrOfType<DictionaryAttr>(G4Dialect::kModelAttrName);
  auto declared = model ? model.getAs<IntegerAttr>("layers") : IntegerAttr();
  if (!declared) return success();
  const int64_t count = declared.getInt();
  llvm::DenseSet<int64_t> seen;
  for (DecoderLayerOp layer : layers) {
    const int64_t index = layer.getIndex();
    if (index < 0 || index >= count)
      return layer.emitOpError() << "has index " << index << " outside the model's " << count << " layers";
    if (!seen.insert(index).second) return layer.emitOpError() << "instantiates layer " << index << " twice";
  }
  if (int64_t(seen.size()) != count)
    return module.emitError() << "the model declares " << count << " layers but the spec instantiates "
                              << seen.size();
  return success();
}

struct ExpandLayersPass : g4::impl::G4ExpandLayersBase<ExpandLayersPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    llvm::SetVector<func::FuncOp> kinds;
    SmallVector<DecoderLayerOp> layers;
    module.walk([&](DecoderLayerOp op) { layers.push_back(op); });
    if (failed(checkLayerIndices(module, layers))) return signalPassFailure();
    for (DecoderLayerOp layer : layers) {
      auto kind = symbols.lookup<func::FuncOp>(layer.getKind());
      if (!kind || kind.isExternal()) {
        layer.emitOpError() << "layer kind '" << layer.getKind() << "' has no body";
        return signalPassFailure();
      }
      kinds.insert(kind);
      if (failed(expandInstance(layer, kind))) return signalPassFailure();
    }
    for (func::FuncOp kind : kinds)
      if (kind.symbolKnownUseEmpty(module)) kind.erase();
    if (failed(checkKvSources(module))) return signalPassFailure();
  }
};

}  // namespace

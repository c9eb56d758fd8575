//===- PlanWriter.cpp - the FlatBuffer plan from expanded g4 IR -----------===//
//
// Every activation gets a stable, human name derived from the weight that produces it and the
// layer (`attn_q-3`), llama.cpp style, so that dumps and plan-info read like the model.
//
//===----------------------------------------------------------------------===//
#include "g4/Plan/PlanWriter.h"

#include "g4/IR/G4Dialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include <functional>
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/raw_ostream.h"
#include "plan/plan_generated.h"
#include "plan/plan_version.h"

namespace mlir::g4 {
namespace {

namespace fb = ::g4::plan;

int64_t layerOf(Operation *op) {
  if (auto a = op->getAttrOfType<IntegerAttr>(G4Dialect::kLayerAttrName)) return a.getInt();
  return -1;
}

/// "blk.3.attn_q.weight" -> "attn_q"; "token_embd.weight" -> "token_embd".
std::string weightStem(StringRef name) {
  if (name.consume_front("blk.")) name = name.drop_until([](char c) { return c == '.'; }).drop_front();
  name.consume_back(".weight");
  std::string s = name.str();
  for (char &c : s)
    if (c == '.') c = '_';
  return s;
}

/// Names tensors uniquely: a name given in the IR (g4.name, plus "-<layer>") is kept as is;
/// derived names (weight stem or op mnemonic, plus "-<layer>") never take a given name, and
/// repeated ones get #2, #3, ...
class TensorNamer {
 public:
  explicit TensorNamer(Operation *root) {
    root->walk([&](Operation *op) {
      if (auto given = op->getAttrOfType<StringAttr>(G4Dialect::kNameAttrName))
        given_.insert(withLayer(given.str(), op));
    });
  }

  std::string name(Operation *op, unsigned resultIndex) {
    if (auto given = op->getAttrOfType<StringAttr>(G4Dialect::kNameAttrName)) {
      std::string full = withLayer(given.str(), op);
      unsigned n = ++givenCounts_[full];
      return n == 1 ? full : full + "#" + std::to_string(n);
    }
    std::string base;
    for (Value v : op->getOperands()) {
      if (!base.empty()) break;
      // Inside a fused region a weight is a block argument standing for the region's input.
      if (auto arg = dyn_cast<BlockArgument>(v))
        if (auto fused = dyn_cast<FusedOp>(arg.getOwner()->getParentOp()))
          v = fused.getInputs()[arg.getArgNumber()];
      if (auto w = v.getDefiningOp<WeightOp>()) base = weightStem(w.getName());
    }
    if (base.empty()) base = op->getName().stripDialect().str();
    if (op->getNumResults() > 1) base += "." + std::to_string(resultIndex);
    base = withLayer(base, op);
    unsigned &count = counts_[base];
    if (count == 0 && given_.contains(base)) count = 1;  // the plain name is taken
    unsigned n = ++count;
    return n == 1 ? base : base + "#" + std::to_string(n);
  }

 private:
  llvm::StringSet<> given_;
  llvm::StringMap<unsigned> givenCounts_;
  static std::string withLayer(std::string base, Operation *op) {
    int64_t layer = layerOf(op);
    return layer >= 0 ? base + "-" + std::to_string(layer) : base;
  }
  llvm::StringMap<unsigned> counts_;
};

/// The plan's op kind of a g4 op (plan.fbs OpKind); failure for an op no plan step runs.
FailureOr<fb::OpKind> opKindOf(Operation &op) {
  return llvm::TypeSwitch<Operation *, FailureOr<fb::OpKind>>(&op)
      .Case([](FusedOp) { return fb::OpKind::Fused; })
      .Case([](EmbedOp) { return fb::OpKind::Embed; })
      .Case([](ScaleOp) { return fb::OpKind::Scale; })
      .Case([](RMSNormOp) { return fb::OpKind::RmsNorm; })
      .Case([](LinearOp) { return fb::OpKind::Linear; })
      .Case([](RopeOp) { return fb::OpKind::Rope; })
      .Case([](AttentionOp) { return fb::OpKind::Attention; })
      .Case([](GeluTanhOp) { return fb::OpKind::GeluTanh; })
      .Case([](MulOp) { return fb::OpKind::Mul; })
      .Case([](AddOp) { return fb::OpKind::Add; })
      .Case([](ChannelMulOp) { return fb::OpKind::ChannelMul; })
      .Case([](LayerScalarOp) { return fb::OpKind::LayerScalar; })
      .Case([](SoftcapOp) { return fb::OpKind::Softcap; })
      .Case([](RoundBf16Op) { return fb::OpKind::RoundBf16; })
      .Case([](SoftmaxOp) { return fb::OpKind::Softmax; })
      .Case([](TopKOp) { return fb::OpKind::TopK; })
      .Case([](RenormalizeOp) { return fb::OpKind::Renormalize; })
      .Case([](ExpertScaleOp) { return fb::OpKind::ExpertScale; })
      .Case([](ExpertFFNOp) { return fb::OpKind::ExpertFfn; })
      .Case([](PleSliceOp) { return fb::OpKind::PleSlice; })
      .Default([](Operation *op) -> FailureOr<fb::OpKind> {
        op->emitOpError() << "has no plan step kind";
        return failure();
      });
}

/// The internal roundings g4-bf16-islands marked on a composite op (g4.rounding), as the
/// plan's enum.
fb::Rounding roundingOf(Operation &op) {
  auto rounding = op.getAttrOfType<RoundingKindAttr>(G4Dialect::kRoundingAttrName);
  if (!rounding) return fb::Rounding::None;
  switch (rounding.getValue()) {
    case RoundingKind::rope_bf16: return fb::Rounding::RopeBf16;
    case RoundingKind::softcap_bf16: return fb::Rounding::SoftcapBf16;
    case RoundingKind::experts_bf16: return fb::Rounding::ExpertsBf16;
    case RoundingKind::experts_bf16_weighted: return fb::Rounding::ExpertsBf16Weighted;
    case RoundingKind::renormalize_bf16: return fb::Rounding::RenormalizeBf16;
    case RoundingKind::attention_eager: return fb::Rounding::AttentionEager;
    case RoundingKind::attention_sdpa: return fb::Rounding::AttentionSdpa;
  }
  llvm_unreachable("unknown RoundingKind");
}

/// The typed attribute table of a step (plan.fbs OpAttrs), from the op's ODS accessors.
std::pair<fb::OpAttrs, flatbuffers::Offset<void>> buildStepAttrs(flatbuffers::FlatBufferBuilder &b,
                                                                 Operation &op) {
  using Attrs = std::pair<fb::OpAttrs, flatbuffers::Offset<void>>;
  return llvm::TypeSwitch<Operation *, Attrs>(&op)
      .Case([&](ScaleOp s) {
        return Attrs{fb::OpAttrs::ScaleAttrs,
                     fb::CreateScaleAttrs(b, s.getFactor().convertToDouble()).Union()};
      })
      .Case([&](RMSNormOp n) {
        return Attrs{fb::OpAttrs::RmsNormAttrs,
                     fb::CreateRmsNormAttrs(b, n.getWidth(), n.getEps().convertToDouble()).Union()};
      })
      .Case([&](RopeOp r) {
        return Attrs{fb::OpAttrs::RopeAttrs,
                     fb::CreateRopeAttrs(b, r.getHeadDim(), r.getRotaryDims(),
                                         r.getTheta().convertToDouble(), roundingOf(op))
                         .Union()};
      })
      .Case([&](AttentionOp a) {
        return Attrs{fb::OpAttrs::AttentionAttrs,
                     fb::CreateAttentionAttrs(b, a.getNumHeads(), a.getNumKvHeads(), a.getHeadDim(),
                                              a.getWindow(), a.getScale().convertToDouble(),
                                              int32_t(a.getKvLayer().value_or(layerOf(&op))),
                                              roundingOf(op))
                         .Union()};
      })
      .Case([&](SoftcapOp c) {
        return Attrs{fb::OpAttrs::SoftcapAttrs,
                     fb::CreateSoftcapAttrs(b, c.getCap().convertToDouble(), roundingOf(op)).Union()};
      })
      .Case([&](RoundBf16Op r) {
        return Attrs{fb::OpAttrs::RoundBf16Attrs,
                     fb::CreateRoundBf16AttrsDirect(b, stringifyRoundRule(r.getRule()).str().c_str(), r.getIsland()).Union()};
      })
      .Case([&](TopKOp t) {
        return Attrs{fb::OpAttrs::TopKAttrs, fb::CreateTopKAttrs(b, t.getK()).Union()};
      })
      .Case([&](RenormalizeOp) {
        return Attrs{fb::OpAttrs::RenormalizeAttrs, fb::CreateRenormalizeAttrs(b, roundingOf(op)).Union()};
      })
      .Case([&](ExpertFFNOp e) {
        return Attrs{fb::OpAttrs::ExpertFfnAttrs,
                     fb::CreateExpertFfnAttrs(b, e.getNumExperts(), e.getTopK(), e.getExpertFf(),
                                              roundingOf(op))
                         .Union()};
      })
      .Case([&](PleSliceOp p) {
        return Attrs{fb::OpAttrs::PleSliceAttrs, fb::CreatePleSliceAttrs(b, p.getLayer().value_or(0)).Union()};
      })
      .Default([](Operation *) { return Attrs{fb::OpAttrs::NONE, 0}; });
}

int64_t dictInt(DictionaryAttr d, StringRef key) {
  auto a = d.getAs<IntegerAttr>(key);
  return a ? a.getInt() : 0;
}
double dictFloat(DictionaryAttr d, StringRef key) {
  auto a = d.getAs<FloatAttr>(key);
  return a ? a.getValueAsDouble() : 0.0;
}

flatbuffers::Offset<fb::Hyperparams> buildHyperparams(flatbuffers::FlatBufferBuilder &b,
                                                      DictionaryAttr d) {
  auto name = b.CreateString(d.getAs<StringAttr>("name").str());
  return fb::CreateHyperparams(
      b, name, dictInt(d, "vocab"), dictInt(d, "hidden"), dictInt(d, "layers"), dictInt(d, "heads"),
      dictInt(d, "head_dim_sliding"), dictInt(d, "head_dim_full"), dictInt(d, "kv_heads_sliding"),
      dictInt(d, "kv_heads_full"), dictInt(d, "sliding_window"), dictInt(d, "shared_kv_layers"),
      dictInt(d, "ple_dim"), dictInt(d, "experts"), dictInt(d, "experts_used"),
      dictInt(d, "expert_ff"), dictInt(d, "context_length"), dictFloat(d, "rms_eps"),
      dictFloat(d, "final_softcap"));
}

fb::Precision precisionOf(PrecisionPolicy p) {
  switch (p) {
    case PrecisionPolicy::f32: return fb::Precision::F32;
    case PrecisionPolicy::minimal: return fb::Precision::Minimal;
    case PrecisionPolicy::reference: return fb::Precision::Reference;
  }
  llvm_unreachable("unknown PrecisionPolicy");
}

}  // namespace

namespace {

/// Names the results of `ops` (a block's ops in order), descending into fused regions: a
/// region's results take the names of the values its body yields.
void nameOps(Block &block, TensorNamer &namer, llvm::DenseMap<Value, std::string> &names) {
  for (Operation &op : block) {
    if (isa<WeightOp, func::ReturnOp, YieldOp>(op)) continue;
    if (auto fused = dyn_cast<FusedOp>(op)) {
      nameOps(fused.getBlock(), namer, names);
      // Copied out first: names[result] may grow the map, and C++17 evaluates the right side
      // of `=` first, so `names[result] = names[yielded]` copied from freed buckets whenever
      // that insertion rehashed (a plan lost a tensor's name depending on the heap layout).
      for (auto [result, yielded] : llvm::zip(fused.getResults(), fused.getYield()->getOperands())) {
        std::string name = names.lookup(yielded);
        names[result] = std::move(name);
      }
      continue;
    }
    // An unnamed rounding is its producer's value in bf16: "attn_q-3.bf16".
    auto round = dyn_cast<RoundBf16Op>(op);
    if (round && !op.hasAttr(G4Dialect::kNameAttrName) && names.count(round.getInput())) {
      std::string name = names.lookup(round.getInput()) + ".bf16";
      names[round.getResult()] = std::move(name);
      continue;
    }
    for (OpResult r : op.getResults()) names[r] = namer.name(&op, r.getResultNumber());
  }
}

int64_t slotAt(Operation *op, unsigned index) {
  auto slots = op->getAttrOfType<DenseI64ArrayAttr>(G4Dialect::kSlotsAttrName);
  return slots && index < slots.size() ? slots[index] : -1;
}

}  // namespace

llvm::DenseMap<Value, std::string> planTensorNames(func::FuncOp forward) {
  llvm::DenseMap<Value, std::string> names;
  TensorNamer namer(forward);
  nameOps(forward.getBody().front(), namer, names);
  return names;
}

FailureOr<PlanLayout> layoutPlan(func::FuncOp forward) {
  PlanLayout layout;
  llvm::DenseMap<Value, std::string> names = planTensorNames(forward);
  auto argSlots = forward->getAttrOfType<DenseI64ArrayAttr>(G4Dialect::kArgSlotsAttrName);
  auto addTensor = [&](Value v, std::string name, int64_t slot, int64_t layer) {
    layout.tensorIds[v] = layout.tensors.size();
    layout.tensors.push_back({v, std::move(name), slot, layer});
  };
  static const char *argNames[] = {"inp_tokens", "inp_pos"};
  for (BlockArgument arg : forward.getArguments()) {
    unsigned i = arg.getArgNumber();
    addTensor(arg, i < 2 ? argNames[i] : "input", argSlots && i < argSlots.size() ? argSlots[i] : -1,
              -1);
  }
  llvm::StringMap<uint32_t> weightByName;
  std::function<LogicalResult(Block &)> layoutBlock = [&](Block &block) -> LogicalResult {
    for (Operation &op : block) {
      if (isa<func::ReturnOp, YieldOp>(op)) continue;
      if (auto w = dyn_cast<WeightOp>(op)) {
        // A tensor used in several places (rope_freqs on every full layer) is bound once, and
        // every use must agree on its type.
        auto [it, inserted] = weightByName.try_emplace(w.getName(), layout.weights.size());
        if (inserted) layout.weights.push_back(w);
        else if (layout.weights[it->second].getType() != w.getType())
          return w.emitOpError() << "binds '" << w.getName() << "' as " << w.getType()
                                 << " but an earlier use has " << layout.weights[it->second].getType();
        layout.weightIds[w.getResult()] = it->second;
        continue;
      }
      int64_t layer = layerOf(&op);
      for (OpResult r : op.getResults())
        addTensor(r, names.lookup(r), slotAt(&op, r.getResultNumber()), layer);
      auto fused = dyn_cast<FusedOp>(op);
      if (!fused) continue;
      // Inside, the block arguments are the region's inputs and a yielded value is the
      // region's result: the same plan tensors.
      for (auto [arg, input] : llvm::zip(fused.getBlock().getArguments(), fused.getInputs())) {
        if (isa<WeightType>(arg.getType())) layout.weightIds[arg] = layout.weightIds.lookup(input);
        else layout.tensorIds[arg] = layout.tensorIds.lookup(input);
      }
      for (auto [result, yielded] : llvm::zip(fused.getResults(), fused.getYield()->getOperands()))
        layout.tensorIds[yielded] = layout.tensorIds.lookup(result);
      for (Operation &inner : fused.getBlock().without_terminator())
        for (OpResult r : inner.getResults())
          if (!layout.tensorIds.count(r))
            addTensor(r, names.lookup(r), slotAt(&inner, r.getResultNumber()), layerOf(&inner));
    }
    return success();
  };
  if (failed(layoutBlock(forward.getBody().front()))) return failure();
  return layout;
}

FailureOr<std::string> buildPlan(ModuleOp module, const PlanOptions &options) {
  auto model = module->getAttrOfType<DictionaryAttr>(G4Dialect::kModelAttrName);
  if (!model)
    return module.emitError() << "module has no '" << G4Dialect::kModelAttrName << "' attribute";
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal())
    return module.emitError() << "spec has no @forward function with a body";
  if (!forward.getOps<DecoderLayerOp>().empty())
    return module.emitError() << "layers are not expanded: run g4-expand-layers first";
  FailureOr<PlanLayout> layout = layoutPlan(forward);
  if (failed(layout)) return failure();

  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  for (const PlanTensor &t : layout->tensors) {
    auto type = cast<RankedTensorType>(t.value.getType());
    int64_t width = type.getRank() == 1 ? 1 : type.getShape().back();
    auto et = type.getElementType().isInteger(32) ? fb::ElementType::I32 : fb::ElementType::F32;
    tensors.push_back(fb::CreateTensor(b, b.CreateString(t.name), width, et, t.slot, t.layer));
  }
  std::vector<flatbuffers::Offset<fb::WeightBinding>> weights;
  for (WeightOp w : layout->weights) {
    WeightType type = w.getType();
    weights.push_back(fb::CreateWeightBinding(
        b, b.CreateString(w.getName().str()),
        b.CreateVector(std::vector<int64_t>(type.getShape().begin(), type.getShape().end())),
        type.getDtypes()));
  }
  std::vector<uint32_t> inputs;
  for (BlockArgument arg : forward.getArguments()) inputs.push_back(layout->tensorIds.lookup(arg));

  const bool withKernels = !options.cpuKernelLibrary.empty() || !options.cudaKernelLibrary.empty();
  std::function<FailureOr<flatbuffers::Offset<fb::Step>>(Operation &)> buildStep =
      [&](Operation &op) -> FailureOr<flatbuffers::Offset<fb::Step>> {
    FailureOr<fb::OpKind> kind = opKindOf(op);
    if (failed(kind)) return failure();
    std::vector<uint32_t> in, out, ws;
    for (Value v : op.getOperands()) {
      if (isa<WeightType>(v.getType())) ws.push_back(layout->weightIds.lookup(v));
      else in.push_back(layout->tensorIds.lookup(v));
    }
    for (OpResult r : op.getResults()) out.push_back(layout->tensorIds.lookup(r));
    std::string kernel;
    std::vector<flatbuffers::Offset<fb::Step>> body;
    if (auto fused = dyn_cast<FusedOp>(op)) {
      if (withKernels) kernel = fused.getKernel().str();
      for (Operation &inner : fused.getBlock().without_terminator()) {
        FailureOr<flatbuffers::Offset<fb::Step>> step = buildStep(inner);
        if (failed(step)) return failure();
        body.push_back(*step);
      }
    }
    auto [attrsType, attrs] = buildStepAttrs(b, op);
    return fb::CreateStep(b, *kind, attrsType, attrs, kernel.empty() ? 0 : b.CreateString(kernel),
                          b.CreateVector(in), b.CreateVector(out), b.CreateVector(ws), layerOf(&op),
                          body.empty() ? 0 : b.CreateVector(body));
  };

  std::vector<uint32_t> outputs;
  std::vector<flatbuffers::Offset<fb::Step>> steps;
  for (Operation &op : forward.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands()) outputs.push_back(layout->tensorIds.lookup(v));
      continue;
    }
    if (isa<WeightOp>(op)) continue;
    FailureOr<flatbuffers::Offset<fb::Step>> step = buildStep(op);
    if (failed(step)) return failure();
    steps.push_back(*step);
  }
  std::vector<flatbuffers::Offset<fb::KvLayer>> kv;
  WalkResult kvWalk = forward.walk([&](AttentionOp attn) {
    if (!attn.getKvLayer()) {
      attn.emitOpError() << "has no kv_layer; run g4-expand-layers first";
      return WalkResult::interrupt();
    }
    kv.push_back(fb::CreateKvLayer(b, layerOf(attn), attn.getK() != nullptr, *attn.getKvLayer(),
                                   attn.getWindow(), attn.getNumKvHeads(), attn.getHeadDim()));
    return WalkResult::advance();
  });
  if (kvWalk.wasInterrupted()) return failure();
  std::vector<flatbuffers::Offset<fb::KernelLibrary>> libraries;
  if (!options.cpuKernelLibrary.empty())
    libraries.push_back(fb::CreateKernelLibrary(b, b.CreateString("cpu"),
                                                b.CreateString(options.cpuKernelLibrary)));
  if (!options.cpuAvx2KernelLibrary.empty())
    libraries.push_back(fb::CreateKernelLibrary(b, b.CreateString("cpu-avx2"),
                                                b.CreateString(options.cpuAvx2KernelLibrary)));
  if (!options.cudaKernelLibrary.empty())
    libraries.push_back(fb::CreateKernelLibrary(b, b.CreateString("cuda"),
                                                b.CreateString(options.cudaKernelLibrary)));

  auto plan = fb::CreatePlan(
      b, ::g4::plan::kPlanSchemaVersion, ::g4::plan::kRuntimeAbiVersion,
      b.CreateString(options.compilerVersion), precisionOf(options.precision),
      buildHyperparams(b, model), b.CreateVector(tensors), b.CreateVector(inputs),
      b.CreateVector(outputs), b.CreateVector(weights), b.CreateVector(steps), b.CreateVector(kv),
      options.maxBatchTokens, b.CreateVector(libraries));
  fb::FinishSizePrefixedPlanBuffer(b, plan);
  return std::string(reinterpret_cast<const char *>(b.GetBufferPointer()), b.GetSize());
}

}  // namespace mlir::g4

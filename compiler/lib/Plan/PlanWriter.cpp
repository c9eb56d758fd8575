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
#include "llvm/ADT/StringMap.h"
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

std::string printed(Attribute a) {
  std::string s;
  llvm::raw_string_ostream os(s);
  a.print(os);
  return s;
}

flatbuffers::Offset<fb::Attr> buildAttr(flatbuffers::FlatBufferBuilder &b, NamedAttribute attr) {
  auto key = b.CreateString(attr.getName().str());
  Attribute v = attr.getValue();
  if (auto i = dyn_cast<IntegerAttr>(v))
    return fb::CreateAttr(b, key, fb::AttrValue::IntValue, fb::CreateIntValue(b, i.getInt()).Union());
  if (auto f = dyn_cast<FloatAttr>(v))
    return fb::CreateAttr(b, key, fb::AttrValue::FloatValue,
                          fb::CreateFloatValue(b, f.getValueAsDouble()).Union());
  if (isa<UnitAttr>(v))
    return fb::CreateAttr(b, key, fb::AttrValue::IntValue, fb::CreateIntValue(b, 1).Union());
  std::string text = isa<StringAttr>(v) ? cast<StringAttr>(v).str() : printed(v);
  return fb::CreateAttr(b, key, fb::AttrValue::StringValue,
                        fb::CreateStringValue(b, b.CreateString(text)).Union());
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

fb::Precision precisionOf(StringRef p) {
  if (p == "f32") return fb::Precision::F32;
  if (p == "minimal") return fb::Precision::Minimal;
  return fb::Precision::Reference;
}

}  // namespace

llvm::DenseMap<Value, std::string> planTensorNames(func::FuncOp forward) {
  llvm::DenseMap<Value, std::string> names;
  TensorNamer namer(forward);
  for (Operation &op : forward.getBody().front()) {
    if (isa<WeightOp, func::ReturnOp>(op)) continue;
    // An unnamed rounding is its producer's value in bf16: "attn_q-3.bf16".
    auto round = dyn_cast<RoundBf16Op>(op);
    if (round && !op.hasAttr(G4Dialect::kNameAttrName) && names.count(round.getInput())) {
      names[round.getResult()] = names[round.getInput()] + ".bf16";
      continue;
    }
    for (OpResult r : op.getResults()) names[r] = namer.name(&op, r.getResultNumber());
  }
  return names;
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

  flatbuffers::FlatBufferBuilder b;
  llvm::DenseMap<Value, std::string> names = planTensorNames(forward);
  llvm::DenseMap<Value, uint32_t> tensorIds, weightIds;
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  std::vector<flatbuffers::Offset<fb::WeightBinding>> weights;
  llvm::StringMap<uint32_t> weightByName;
  std::vector<WeightType> weightTypes;
  std::vector<flatbuffers::Offset<fb::Step>> steps;
  std::vector<flatbuffers::Offset<fb::KvLayer>> kv;

  auto addTensor = [&](Value v, const std::string &name, int64_t layer) {
    auto type = cast<RankedTensorType>(v.getType());
    int64_t width = type.getRank() == 1 ? 1 : type.getShape().back();
    auto et = type.getElementType().isInteger(32) ? fb::ElementType::I32 : fb::ElementType::F32;
    tensorIds[v] = tensors.size();
    tensors.push_back(fb::CreateTensor(b, b.CreateString(name), width, et, -1, layer));
    return tensorIds[v];
  };

  std::vector<uint32_t> inputs;
  const char *argNames[] = {"inp_tokens", "inp_pos"};
  for (BlockArgument arg : forward.getArguments())
    inputs.push_back(addTensor(arg, arg.getArgNumber() < 2 ? argNames[arg.getArgNumber()] : "input",
                               -1));

  std::vector<uint32_t> outputs;
  for (Operation &op : forward.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands()) outputs.push_back(tensorIds.lookup(v));
      continue;
    }
    if (auto w = dyn_cast<WeightOp>(op)) {
      // A tensor used in several places (rope_freqs on every full layer) is bound once, and
      // every use must agree on its type.
      auto [it, inserted] = weightByName.try_emplace(w.getName(), weights.size());
      if (inserted) {
        WeightType type = w.getType();
        weightTypes.push_back(type);
        weights.push_back(fb::CreateWeightBinding(
            b, b.CreateString(w.getName().str()),
            b.CreateVector(std::vector<int64_t>(type.getShape().begin(), type.getShape().end())),
            type.getDtypes()));
      } else if (weightTypes[it->second] != w.getType()) {
        return w.emitOpError() << "binds '" << w.getName() << "' as " << w.getType()
                               << " but an earlier use has " << weightTypes[it->second];
      }
      weightIds[w.getResult()] = it->second;
      continue;
    }
    std::vector<uint32_t> in, out, ws;
    for (Value v : op.getOperands()) {
      if (isa<WeightType>(v.getType())) ws.push_back(weightIds.lookup(v));
      else in.push_back(tensorIds.lookup(v));
    }
    int64_t layer = layerOf(&op);
    for (OpResult r : op.getResults()) out.push_back(addTensor(r, names.lookup(r), layer));
    std::vector<flatbuffers::Offset<fb::Attr>> attrs;
    for (NamedAttribute a : op.getAttrs())
      if (a.getName() != G4Dialect::kLayerAttrName && a.getName() != "operandSegmentSizes")
        attrs.push_back(buildAttr(b, a));
    steps.push_back(fb::CreateStep(b, b.CreateString(op.getName().getStringRef().str()), 0,
                                   b.CreateVector(in), b.CreateVector(out), b.CreateVector(ws),
                                   b.CreateVector(attrs), layer));
    if (auto attn = dyn_cast<AttentionOp>(op)) {
      if (!attn.getKvLayer())
        return attn.emitOpError() << "has no kv_layer; run g4-expand-layers first";
      kv.push_back(fb::CreateKvLayer(b, layer, attn.getK() != nullptr, *attn.getKvLayer(),
                                     attn.getWindow(), attn.getNumKvHeads(), attn.getHeadDim()));
    }
  }

  auto plan = fb::CreatePlan(
      b, ::g4::plan::kPlanSchemaVersion, ::g4::plan::kRuntimeAbiVersion,
      b.CreateString(options.compilerVersion), precisionOf(options.precision),
      buildHyperparams(b, model), b.CreateVector(tensors), b.CreateVector(inputs),
      b.CreateVector(outputs), b.CreateVector(weights), b.CreateVector(steps), b.CreateVector(kv),
      options.maxBatchTokens, b.CreateVector(std::vector<flatbuffers::Offset<fb::KernelLibrary>>{}));
  fb::FinishSizePrefixedPlanBuffer(b, plan);
  return std::string(reinterpret_cast<const char *>(b.GetBufferPointer()), b.GetSize());
}

}  // namespace mlir::g4

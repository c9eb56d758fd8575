//===- Fuse.cpp - group row ops with their producers into g4.fused regions ===//
//
// Chains of norms, scales, elementwise ops, RoPE and softcap join the region of the op that
// produces their input, so that each region runs as one kernel: the linear that heads it, then
// one pass over the rows. Every g4.round_bf16 lands in the region of the op it rounds (the
// epilogue). Rules and the representation: docs/fusion.md.
//
//===----------------------------------------------------------------------===//
#include "g4/Transforms/Passes.h"
#include "g4/Transforms/Fusion.h"

#include "mlir/Analysis/TopologicalSortUtils.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::g4 {
#define GEN_PASS_DEF_G4FUSE
#include "g4/Transforms/Passes.h.inc"
}  // namespace mlir::g4

using namespace mlir;
using namespace mlir::g4;

namespace {

int64_t layerOf(Operation *op) {
  if (auto a = op->getAttrOfType<IntegerAttr>(G4Dialect::kLayerAttrName)) return a.getInt();
  return -1;
}

/// Regions under construction over the ops of one block, in program order. An op's `deps`
/// are the ops it transitively reads; a region stays convex (no path leaves it and comes
/// back), so that it can run as one step.
class RegionBuilder {
 public:
  explicit RegionBuilder(Block &block) {
    for (Operation &op : block) {
      if (isa<WeightOp>(op) || op.hasTrait<OpTrait::IsTerminator>()) continue;
      index_[&op] = ops_.size();
      ops_.push_back(&op);
    }
    deps_.assign(ops_.size(), llvm::BitVector(ops_.size()));
    regionOf_.assign(ops_.size(), -1);
  }

  void run() {
    for (unsigned i = 0; i < ops_.size(); ++i) {
      Operation *op = ops_[i];
      for (unsigned p : producers(i)) {
        deps_[i] |= deps_[p];
        deps_[i].set(p);
      }
      if (auto round = dyn_cast<RoundBf16Op>(op)) joinProducer(i, round);
      else if (isa<LinearOp>(op)) newRegion(i, /*interpreted=*/false);
      else if (isRowOp(op)) joinProducers(i);
    }
  }

  /// The regions worth a step of their own: two ops or more, in program order of their last op.
  SmallVector<SmallVector<Operation *>> regions() const {
    SmallVector<std::pair<unsigned, unsigned>> order;  // (last member, region)
    for (unsigned r = 0; r < members_.size(); ++r)
      if (members_[r].count() >= 2) order.push_back({members_[r].find_last(), r});
    llvm::sort(order);
    SmallVector<SmallVector<Operation *>> out;
    for (auto [last, r] : order) {
      SmallVector<Operation *> ops;
      for (unsigned i : members_[r].set_bits()) ops.push_back(ops_[i]);
      out.push_back(std::move(ops));
    }
    return out;
  }

 private:
  /// Indices of the ops that define op i's activation operands.
  SmallVector<unsigned> producers(unsigned i) {
    SmallVector<unsigned> out;
    for (Value v : ops_[i]->getOperands()) {
      auto it = index_.find(v.getDefiningOp());
      if (v.getDefiningOp() && it != index_.end() && !llvm::is_contained(out, it->second))
        out.push_back(it->second);
    }
    return out;
  }

  int newRegion(unsigned i, bool interpreted) {
    members_.emplace_back(ops_.size());
    members_.back().set(i);
    interpreted_.push_back(interpreted);
    layer_.push_back(layerOf(ops_[i]));
    regionOf_[i] = members_.size() - 1;
    return regionOf_[i];
  }

  void add(unsigned i, int region) {
    members_[region].set(i);
    regionOf_[i] = region;
  }

  /// A rounding belongs to its producer's region; an interpreted-only producer heads a region with
  /// it (the rounding in its epilogue, computed by the runtime).
  void joinProducer(unsigned i, RoundBf16Op round) {
    auto it = index_.find(round.getInput().getDefiningOp());
    if (!round.getInput().getDefiningOp() || it == index_.end()) return;
    unsigned p = it->second;
    if (regionOf_[p] >= 0) return add(i, regionOf_[p]);
    if (isInterpretedOnlyOp(ops_[p])) {
      add(i, newRegion(p, /*interpreted=*/true));
      return;
    }
    newRegion(i, /*interpreted=*/false);
  }

  /// A row op joins the regions of its producers (same layer, never an interpreted region) when
  /// the union stays convex; else the region of its latest producer alone, else a new one.
  void joinProducers(unsigned i) {
    int64_t layer = layerOf(ops_[i]);
    SmallVector<int> candidates;
    SmallVector<unsigned> ps = producers(i);
    llvm::sort(ps, [](unsigned a, unsigned b) { return a > b; });
    for (unsigned p : ps) {
      int r = regionOf_[p];
      if (r >= 0 && !interpreted_[r] && layer_[r] == layer && !llvm::is_contained(candidates, r))
        candidates.push_back(r);
    }
    auto tryMerge = [&](ArrayRef<int> rs) {
      llvm::BitVector merged(ops_.size());
      merged.set(i);
      for (int r : rs) merged |= members_[r];
      if (!isValidRegion(merged)) return false;
      int into = rs.front();
      for (int r : rs.drop_front()) {
        for (unsigned m : members_[r].set_bits()) regionOf_[m] = into;
        members_[into] |= members_[r];
        members_[r].reset();
      }
      add(i, into);
      return true;
    };
    if (candidates.size() > 1 && tryMerge(candidates)) return;
    for (int r : candidates)
      if (tryMerge(r)) return;
    newRegion(i, /*interpreted=*/false);
  }

  /// No input of the set may depend on one of its members (convex), and every linear reads
  /// a value from outside (a kernel runs its linears first, over the whole batch).
  bool isValidRegion(const llvm::BitVector &set) {
    for (unsigned m : set.set_bits())
      for (unsigned p : producers(m)) {
        if (set.test(p) ? isa<LinearOp>(ops_[m]) : deps_[p].anyCommon(set)) return false;
      }
    return true;
  }

  SmallVector<Operation *> ops_;
  llvm::DenseMap<Operation *, unsigned> index_;
  std::vector<llvm::BitVector> deps_;
  std::vector<int> regionOf_;
  std::vector<llvm::BitVector> members_;
  std::vector<bool> interpreted_;  // the runtime interprets the region (no kernel)
  std::vector<int64_t> layer_;
};

/// "blk.3.attn_output.weight" -> "attn_output".
std::string weightStem(StringRef name) {
  if (name.consume_front("blk.")) name = name.drop_until([](char c) { return c == '.'; }).drop_front();
  name.consume_back(".weight");
  return name.str();
}

/// g4k_<first g4.name, else first weight's stem, else first op>_<layer>, as a C identifier.
std::string kernelName(ArrayRef<Operation *> ops, int64_t layer, llvm::StringSet<> &taken) {
  std::string base;
  for (Operation *op : ops)
    if (auto name = op->getAttrOfType<StringAttr>(G4Dialect::kNameAttrName)) {
      base = name.str();
      break;
    }
  for (Operation *op : ops) {
    if (!base.empty()) break;
    for (Value v : op->getOperands())
      if (auto w = v.getDefiningOp<WeightOp>()) {
        base = weightStem(w.getName());
        break;
      }
  }
  if (base.empty()) base = ops.front()->getName().stripDialect().str();
  std::string name = "g4k_" + base + (layer >= 0 ? "_" + std::to_string(layer) : "");
  for (char &c : name)
    if (!llvm::isAlnum(c) && c != '_') c = '_';
  std::string unique = name;
  for (unsigned n = 2; !taken.insert(unique).second; ++n) unique = name + "_" + std::to_string(n);
  return unique;
}

}  // namespace

FusedOp mlir::g4::createFusedRegion(ArrayRef<Operation *> ops, StringRef kernel) {
  llvm::SmallPtrSet<Operation *, 16> inside(ops.begin(), ops.end());
  llvm::SetVector<Value> inputs, escaping;
  for (Operation *op : ops) {
    for (Value v : op->getOperands())
      if (!inside.contains(v.getDefiningOp())) inputs.insert(v);
    // A named stage (g4.name: Qcur, per_layer_inp, ...) always leaves the region, so that it
    // is materialized and can be dumped and compared stage by stage.
    const bool named = op->hasAttr(G4Dialect::kNameAttrName);
    for (Value r : op->getResults())
      if (named || llvm::any_of(r.getUsers(), [&](Operation *u) { return !inside.contains(u); }))
        escaping.insert(r);
  }
  Operation *last = ops.back();
  OpBuilder b(last->getContext());
  b.setInsertionPointAfter(last);
  SmallVector<Type> resultTypes;
  for (Value v : escaping) resultTypes.push_back(v.getType());
  auto fused = b.create<FusedOp>(last->getLoc(), resultTypes, inputs.getArrayRef(), kernel);
  int64_t layer = layerOf(ops.front());
  if (layer >= 0) fused->setAttr(G4Dialect::kLayerAttrName, b.getI64IntegerAttr(layer));
  Block *block = new Block;
  fused.getBody().push_back(block);
  for (Value v : inputs) block->addArgument(v.getType(), v.getLoc());
  for (Operation *op : ops) op->moveBefore(block, block->end());
  b.setInsertionPointToEnd(block);
  auto yield = b.create<YieldOp>(last->getLoc(), escaping.getArrayRef());
  for (auto [k, escaped] : llvm::enumerate(escaping)) {
    Value v = escaped;
    v.replaceUsesWithIf(fused.getResult(k), [&](OpOperand &use) {
      return use.getOwner() != yield && use.getOwner()->getBlock() != block;
    });
  }
  for (auto [j, input] : llvm::enumerate(inputs)) {
    Value v = input;
    v.replaceUsesWithIf(block->getArgument(j),
                        [&](OpOperand &use) { return use.getOwner()->getBlock() == block; });
  }
  return fused;
}

namespace {

struct FusePass : g4::impl::G4FuseBase<FusePass> {
  using Base::Base;

  void runOnOperation() override {
    llvm::StringSet<> taken;
    WalkResult result = getOperation().walk([&](func::FuncOp func) {
      if (func.isExternal()) return WalkResult::advance();
      Block &block = func.getBody().front();
      RegionBuilder builder(block);
      builder.run();
      for (ArrayRef<Operation *> ops : builder.regions()) {
        bool interpreted = llvm::any_of(ops, [](Operation *op) { return isInterpretedOnlyOp(op); });
        std::string kernel = interpreted ? "" : kernelName(ops, layerOf(ops.front()), taken);
        createFusedRegion(ops, kernel);
      }
      // A value that escapes a region may have been read between the region's ops; move such
      // readers after the region (regions are convex, so this order exists).
      if (!sortTopologically(&block)) {
        func.emitOpError() << "fusion created a cycle";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted()) signalPassFailure();
  }
};

}  // namespace

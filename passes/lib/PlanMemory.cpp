//===- PlanMemory.cpp - activation buffer slots by liveness ---------------===//
//
// One linear scan over @forward in program order: a value takes a free slot when its op runs
// and gives it back once its last reader has run. The runtime allocates one buffer per slot
// (width x max batch tokens floats) instead of one per tensor. docs/fusion.md.
//
//===----------------------------------------------------------------------===//
#include "g4/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::g4 {
#define GEN_PASS_DEF_G4PLANMEMORY
#include "g4/Transforms/Passes.h.inc"
}  // namespace mlir::g4

using namespace mlir;
using namespace mlir::g4;

namespace {

/// Floats (or i32s) per token of an activation: rank-1 tensors (token ids, positions) hold one.
int64_t widthOf(Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  return type.getRank() == 1 ? 1 : type.getShape().back();
}

/// Slots and their widths; free slots are reused best-fit, growing the widest when none fits.
class SlotPool {
 public:
  int64_t acquire(int64_t width) {
    int best = -1;
    for (auto [i, slot] : llvm::enumerate(free_)) {
      int64_t have = widths_[slot];
      if (best < 0) { best = i; continue; }
      int64_t cur = widths_[free_[best]];
      bool fits = have >= width, curFits = cur >= width;
      if ((fits && (!curFits || have < cur)) || (!fits && !curFits && have > cur)) best = i;
    }
    if (best < 0) {
      widths_.push_back(width);
      return widths_.size() - 1;
    }
    int64_t slot = free_[best];
    free_.erase(free_.begin() + best);
    widths_[slot] = std::max(widths_[slot], width);
    return slot;
  }
  void release(int64_t slot) { free_.push_back(slot); }
  ArrayRef<int64_t> widths() const { return widths_; }

 private:
  SmallVector<int64_t> widths_;
  SmallVector<int64_t> free_;  // in release order
};

void planFunction(func::FuncOp func, SlotPool &pool) {
  Block &block = func.getBody().front();
  OpBuilder b(func.getContext());
  // Index of the last top-level op reading each value; values the terminator returns live on.
  llvm::DenseMap<Value, unsigned> lastUse;
  SmallVector<Operation *> ops;
  for (Operation &op : block) {
    unsigned index = ops.size();
    ops.push_back(&op);
    for (Value v : op.getOperands()) lastUse[v] = op.hasTrait<OpTrait::IsTerminator>() ? ~0u : index;
  }
  SmallVector<int64_t> argSlots;
  for (BlockArgument arg : block.getArguments()) argSlots.push_back(pool.acquire(widthOf(arg)));
  func->setAttr(G4Dialect::kArgSlotsAttrName, b.getDenseI64ArrayAttr(argSlots));

  llvm::DenseMap<Value, int64_t> slotOf;
  llvm::DenseMap<unsigned, SmallVector<Value>> dying;  // op index -> values it reads last
  for (auto [index, op] : llvm::enumerate(ops)) {
    if (isa<WeightOp>(op) || op->hasTrait<OpTrait::IsTerminator>()) continue;
    SmallVector<int64_t> slots;
    for (Value r : op->getResults()) {
      slotOf[r] = pool.acquire(widthOf(r));
      slots.push_back(slotOf[r]);
      auto it = lastUse.find(r);
      if (it == lastUse.end()) dying[index].push_back(r);        // never read: free at once
      else if (it->second != ~0u) dying[it->second].push_back(r);
    }
    op->setAttr(G4Dialect::kSlotsAttrName, b.getDenseI64ArrayAttr(slots));
    // A region's temporaries live while it runs, beside its inputs and outputs.
    if (auto fused = dyn_cast<FusedOp>(op)) {
      SmallVector<Value> inner = fused.getInnerBuffers();
      SmallVector<int64_t> innerSlots;
      for (Value v : inner) innerSlots.push_back(pool.acquire(widthOf(v)));
      for (Operation &innerOp : fused.getBlock().without_terminator()) {
        SmallVector<int64_t> s(innerOp.getNumResults(), -1);
        for (OpResult r : innerOp.getResults()) {
          auto at = llvm::find(inner, r);
          if (at != inner.end()) s[r.getResultNumber()] = innerSlots[at - inner.begin()];
        }
        if (llvm::any_of(s, [](int64_t x) { return x >= 0; }))
          innerOp.setAttr(G4Dialect::kSlotsAttrName, b.getDenseI64ArrayAttr(s));
      }
      for (int64_t s : innerSlots) pool.release(s);
    }
    for (Value v : dying.lookup(index)) pool.release(slotOf[v]);
  }
}

struct PlanMemoryPass : g4::impl::G4PlanMemoryBase<PlanMemoryPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SlotPool pool;
    for (func::FuncOp func : module.getOps<func::FuncOp>())
      if (!func.isExternal()) planFunction(func, pool);
    module->setAttr(G4Dialect::kSlotWidthsAttrName,
                    OpBuilder(module.getContext()).getDenseI64ArrayAttr(pool.widths()));
  }
};

}  // namespace

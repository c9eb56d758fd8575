//===- Bf16Islands.cpp - mark where the bf16 reference rounds ------------===//
//
// Makes every bf16 rounding of the reference (transformers in bfloat16, architecture spec §3)
// explicit in the IR, under one of three policies. The rules, their spec steps and the counts
// they produce on the real models are in docs/precision.md.
//
//===----------------------------------------------------------------------===//
#include "g4/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::g4 {
#define GEN_PASS_DEF_G4BF16ISLANDS
#include "g4/Transforms/Passes.h.inc"
}  // namespace mlir::g4

using namespace mlir;
using namespace mlir::g4;

namespace {

/// What the pass was asked to reproduce.
struct Semantics {
  PrecisionPolicy policy = PrecisionPolicy::reference;
  AttentionSemantics attention = AttentionSemantics::sdpa;  // docs/attention.md
  bool bf16Router = false;      // softmax, top-k weights, per-expert scale rounded (older router)
};

/// A rounding point of an op's output: the rule that names it and whether `minimal` keeps it.
struct Rule {
  RoundRule name;
  bool systematic;  // part of `minimal` (constants rounded by the reference, router, PLE scales)
};

/// A rounding inside a composite op (the value of g4.rounding) and whether `minimal` keeps it.
struct InternalRule {
  RoundingKind kind;
  bool systematic;
};

/// The rounded value a reference bf16 buffer holds: fp64 -> fp32 (torch.tensor) -> bf16 (the
/// buffer's dtype), both round-to-nearest-even.
double roundToBf16(double value) {
  bool losesInfo = false;
  APFloat v(value);
  v.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &losesInfo);
  v.convert(APFloat::BFloat(), APFloat::rmNearestTiesToEven, &losesInfo);
  v.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &losesInfo);
  return v.convertToDouble();
}

/// The op that computed `v`, looking through a rounding already placed after it.
Operation *producerOf(Value v) {
  Operation *op = v.getDefiningOp();
  if (auto round = dyn_cast_or_null<RoundBf16Op>(op)) op = round.getInput().getDefiningOp();
  return op;
}

/// Whether some user of `v` (or of its rounding) is an `OpTy`.
template <typename OpTy>
bool feeds(Value v) {
  for (Operation *user : v.getUsers()) {
    if (isa<OpTy>(user)) return true;
    if (auto round = dyn_cast<RoundBf16Op>(user))
      if (feeds<OpTy>(round.getResult())) return true;
  }
  return false;
}

Rule addRule(AddOp add) {
  Operation *lhs = producerOf(add.getLhs()), *rhs = producerOf(add.getRhs());
  auto isTokenPart = [](Operation *op) {
    auto scale = dyn_cast_or_null<ScaleOp>(op);
    return scale && scale.getRole() == ConstRole::ple_token_scale;
  };
  if (isTokenPart(lhs) || isTokenPart(rhs)) return {RoundRule::ple_add, false};  // §3.2 step 7
  if (isa_and_nonnull<RMSNormOp>(lhs) && isa_and_nonnull<RMSNormOp>(rhs))
    return {RoundRule::moe_add, false};                                            // §3.5 19'
  return {RoundRule::residual_add, false};                                         // 15, 19, 25
}

/// The rule under which the reference rounds `op`'s output, if it does.
std::optional<Rule> outputRule(Operation *op, const Semantics &s) {
  return llvm::TypeSwitch<Operation *, std::optional<Rule>>(op)
      .Case([](ScaleOp scale) -> std::optional<Rule> {
        switch (scale.getRole()) {
          case ConstRole::embed_scale: return Rule{RoundRule::embed_scale, true};  // §3.1 step 2
          case ConstRole::router_root_scale: return Rule{RoundRule::router, true};  // R3
          default: return Rule{RoundRule::ple_scale, true};                         // steps 3, 5, 8
        }
      })
      .Case([](ChannelMulOp) { return Rule{RoundRule::router, true}; })  // R2
      .Case([](RMSNormOp norm) {
        if (feeds<ChannelMulOp>(norm.getResult())) return Rule{RoundRule::router, true};  // R1
        return Rule{RoundRule::norm_out, false};
      })
      .Case([](LinearOp linear) {
        if (feeds<SoftmaxOp>(linear.getResult())) return Rule{RoundRule::router, true};  // R4
        return Rule{RoundRule::linear_out, false};
      })
      .Case<SoftmaxOp, ExpertScaleOp>([&](Operation *) -> std::optional<Rule> {
        if (s.bf16Router) return Rule{RoundRule::router, true};  // R5, R8
        return std::nullopt;
      })
      .Case([](AddOp add) { return addRule(add); })
      .Case([](MulOp) { return Rule{RoundRule::gelu_mul, false}; })              // 17, 22
      .Case([](GeluTanhOp) { return Rule{RoundRule::gelu_out, false}; })         // 17, 21
      .Case([](LayerScalarOp) { return Rule{RoundRule::layer_scalar, false}; })  // 26
      .Case([](AttentionOp) { return Rule{RoundRule::attn_out, false}; })        // 12 (P·V)
      .Case([](ExpertFFNOp) { return Rule{RoundRule::expert_sum, false}; })      // E4
      .Default([](Operation *) { return std::nullopt; });
}

/// The roundings the reference does inside `op` (value of g4.rounding), if any.
std::optional<InternalRule> internalRule(Operation *op, const Semantics &s) {
  return llvm::TypeSwitch<Operation *, std::optional<InternalRule>>(op)
      .Case([](RopeOp) { return InternalRule{RoundingKind::rope_bf16, false}; })        // §2.3
      .Case([](SoftcapOp) { return InternalRule{RoundingKind::softcap_bf16, false}; })  // 29
      .Case([&](ExpertFFNOp) {                                                           // E1-E3
        return InternalRule{s.bf16Router ? RoundingKind::experts_bf16_weighted
                                         : RoundingKind::experts_bf16,
                            false};
      })
      .Case([&](RenormalizeOp) -> std::optional<InternalRule> {  // R7
        if (s.bf16Router) return InternalRule{RoundingKind::renormalize_bf16, true};
        return std::nullopt;
      })
      .Case([&](AttentionOp) -> std::optional<InternalRule> {  // 12, §3.11.1
        switch (s.attention) {
          case AttentionSemantics::sdpa: return InternalRule{RoundingKind::attention_sdpa, false};
          case AttentionSemantics::eager: return InternalRule{RoundingKind::attention_eager, false};
          case AttentionSemantics::exact: return std::nullopt;
        }
        return std::nullopt;
      })
      .Default([](Operation *) { return std::nullopt; });
}

bool applies(bool systematic, PrecisionPolicy policy) {
  return policy == PrecisionPolicy::reference ||
         (policy == PrecisionPolicy::minimal && systematic);
}

/// Rounds the constants the reference holds as bf16 buffers; keeps the exact value.
void roundConstant(ScaleOp scale) {
  if (scale.getExactFactor()) return;
  if (scale.getRole() != ConstRole::embed_scale && scale.getRole() != ConstRole::ple_token_scale)
    return;
  double exact = scale.getFactor().convertToDouble();
  scale.setExactFactor(APFloat(exact));
  scale.setFactor(APFloat(roundToBf16(exact)));
}

/// Places `g4.round_bf16` after `op` and makes every other user read it.
void roundOutput(Operation *op, RoundRule rule) {
  Value value = op->getResult(0);
  if (llvm::any_of(value.getUsers(), [](Operation *u) { return isa<RoundBf16Op>(u); })) return;
  OpBuilder builder(op->getContext());
  builder.setInsertionPointAfter(op);
  auto round = RoundBf16Op::create(builder, op->getLoc(), value,
                                   RoundRuleAttr::get(op->getContext(), rule), /*island=*/0);
  if (Attribute layer = op->getAttr(G4Dialect::kLayerAttrName))
    round->setAttr(G4Dialect::kLayerAttrName, layer);
  // The rounded value is what the reference passes on, so it carries the tensor's name.
  if (Attribute name = op->removeAttr(G4Dialect::kNameAttrName))
    round->setAttr(G4Dialect::kNameAttrName, name);
  value.replaceAllUsesExcept(round.getResult(), round);
}

struct Bf16IslandsPass : g4::impl::G4Bf16IslandsBase<Bf16IslandsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Semantics s{policy, attention, router == RouterSemantics::bf16};
    if (s.policy == PrecisionPolicy::f32) return;

    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (op->getDialect() && isa<G4Dialect>(op->getDialect()) && !isa<RoundBf16Op>(op))
        ops.push_back(op);
    });
    MLIRContext *ctx = &getContext();
    for (Operation *op : ops) {
      if (auto scale = dyn_cast<ScaleOp>(op)) roundConstant(scale);
      if (std::optional<InternalRule> rule = internalRule(op, s);
          rule && applies(rule->systematic, s.policy))
        op->setAttr(G4Dialect::kRoundingAttrName, RoundingKindAttr::get(ctx, rule->kind));
      if (std::optional<Rule> rule = outputRule(op, s); rule && applies(rule->systematic, s.policy))
        roundOutput(op, rule->name);
      if (isa<AttentionOp>(op) && s.policy == PrecisionPolicy::reference)
        op->setAttr(G4Dialect::kKvStorageAttrName, KvStorageAttr::get(ctx, KvStorage::bf16));
    }

    // Islands are numbered in program order, also across repeated runs.
    int64_t island = 0;
    module.walk([&](RoundBf16Op round) { round.setIsland(island++); });
  }
};

}  // namespace

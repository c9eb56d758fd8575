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

enum class Policy { F32, Minimal, Reference };

std::optional<Policy> parsePolicy(StringRef name) {
  return llvm::StringSwitch<std::optional<Policy>>(name)
      .Case("f32", Policy::F32)
      .Case("minimal", Policy::Minimal)
      .Case("reference", Policy::Reference)
      .Default(std::nullopt);
}

/// What the pass was asked to reproduce.
struct Semantics {
  Policy policy = Policy::Reference;
  bool eagerAttention = false;  // bf16 scores and probabilities (transformers "eager")
  bool bf16Router = false;      // softmax, top-k weights, per-expert scale rounded (older router)
};

/// A rounding point: the rule that names it and whether `minimal` keeps it.
struct Rule {
  StringRef name;
  bool systematic;  // part of `minimal` (constants rounded by the reference, router, PLE scales)
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
  if (isTokenPart(lhs) || isTokenPart(rhs)) return {"ple_add", false};       // §3.2 step 7
  if (isa_and_nonnull<RMSNormOp>(lhs) && isa_and_nonnull<RMSNormOp>(rhs))
    return {"moe_add", false};                                                 // §3.5 19'
  return {"residual_add", false};                                              // 15, 19, 25
}

/// The rule under which the reference rounds `op`'s output, if it does.
std::optional<Rule> outputRule(Operation *op, const Semantics &s) {
  return llvm::TypeSwitch<Operation *, std::optional<Rule>>(op)
      .Case([](ScaleOp scale) -> std::optional<Rule> {
        switch (scale.getRole()) {
          case ConstRole::embed_scale: return Rule{"embed_scale", true};     // §3.1 step 2
          case ConstRole::router_root_scale: return Rule{"router", true};    // R3
          default: return Rule{"ple_scale", true};                           // steps 3, 5, 8
        }
      })
      .Case([](ChannelMulOp) { return Rule{"router", true}; })                 // R2
      .Case([](RMSNormOp norm) {
        if (feeds<ChannelMulOp>(norm.getResult())) return Rule{"router", true};  // R1
        return Rule{"norm_out", false};
      })
      .Case([](LinearOp linear) {
        if (feeds<SoftmaxOp>(linear.getResult())) return Rule{"router", true};   // R4
        return Rule{"linear_out", false};
      })
      .Case<SoftmaxOp, ExpertScaleOp>([&](Operation *) -> std::optional<Rule> {
        if (s.bf16Router) return Rule{"router", true};                         // R5, R8
        return std::nullopt;
      })
      .Case([](AddOp add) { return addRule(add); })
      .Case([](MulOp) { return Rule{"gelu_mul", false}; })                     // 17, 22
      .Case([](GeluTanhOp) { return Rule{"gelu_out", false}; })                // 17, 21
      .Case([](LayerScalarOp) { return Rule{"layer_scalar", false}; })         // 26
      .Case([](AttentionOp) { return Rule{"attn_out", false}; })               // 12 (P·V)
      .Case([](ExpertFFNOp) { return Rule{"expert_sum", false}; })             // E4
      .Default([](Operation *) { return std::nullopt; });
}

/// The roundings the reference does inside `op` (value of g4.rounding), if any.
std::optional<Rule> internalRule(Operation *op, const Semantics &s) {
  return llvm::TypeSwitch<Operation *, std::optional<Rule>>(op)
      .Case([](RopeOp) { return Rule{"rope_bf16", false}; })                   // §2.3
      .Case([](SoftcapOp) { return Rule{"softcap_bf16", false}; })             // 29
      .Case([&](ExpertFFNOp) {                                                  // E1-E3
        return Rule{s.bf16Router ? "experts_bf16_weighted" : "experts_bf16", false};
      })
      .Case([&](RenormalizeOp) -> std::optional<Rule> {                         // R7
        if (s.bf16Router) return Rule{"renormalize_bf16", true};
        return std::nullopt;
      })
      .Case([&](AttentionOp) -> std::optional<Rule> {                           // 12, eager
        if (s.eagerAttention) return Rule{"attention_eager", false};
        return std::nullopt;
      })
      .Default([](Operation *) { return std::nullopt; });
}

bool applies(const Rule &rule, Policy policy) {
  return policy == Policy::Reference || (policy == Policy::Minimal && rule.systematic);
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
void roundOutput(Operation *op, StringRef rule) {
  Value value = op->getResult(0);
  if (llvm::any_of(value.getUsers(), [](Operation *u) { return isa<RoundBf16Op>(u); })) return;
  OpBuilder builder(op->getContext());
  builder.setInsertionPointAfter(op);
  auto round = RoundBf16Op::create(builder, op->getLoc(), value, rule, /*island=*/0);
  if (Attribute layer = op->getAttr(G4Dialect::kLayerAttrName))
    round->setAttr(G4Dialect::kLayerAttrName, layer);
  // The rounded value is what the reference passes on, so it carries the tensor's name.
  if (Attribute name = op->removeAttr(G4Dialect::kNameAttrName))
    round->setAttr(G4Dialect::kNameAttrName, name);
  value.replaceAllUsesExcept(round.getResult(), round);
}

struct Bf16IslandsPass : g4::impl::G4Bf16IslandsBase<Bf16IslandsPass> {
  using Base::Base;

  LogicalResult initializeOptions(
      StringRef options, function_ref<LogicalResult(const Twine &)> errorHandler) override {
    if (failed(Pass::initializeOptions(options, errorHandler))) return failure();
    if (!parsePolicy(policy))
      return errorHandler("g4-bf16-islands: unknown policy '" + policy +
                          "' (expected f32, minimal or reference)");
    if (attention != "sdpa" && attention != "eager")
      return errorHandler("g4-bf16-islands: unknown attention '" + attention +
                          "' (expected sdpa or eager)");
    if (router != "fp32" && router != "bf16")
      return errorHandler("g4-bf16-islands: unknown router '" + router +
                          "' (expected fp32 or bf16)");
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<Policy> parsed = parsePolicy(policy);
    if (!parsed) {
      module.emitError() << "g4-bf16-islands: unknown policy '" << policy << "'";
      return signalPassFailure();
    }
    Semantics s{*parsed, attention == "eager", router == "bf16"};
    if (s.policy == Policy::F32) return;

    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (op->getDialect() && isa<G4Dialect>(op->getDialect()) && !isa<RoundBf16Op>(op))
        ops.push_back(op);
    });
    MLIRContext *ctx = &getContext();
    for (Operation *op : ops) {
      if (auto scale = dyn_cast<ScaleOp>(op)) roundConstant(scale);
      if (std::optional<Rule> rule = internalRule(op, s); rule && applies(*rule, s.policy))
        op->setAttr(G4Dialect::kRoundingAttrName, StringAttr::get(ctx, rule->name));
      if (std::optional<Rule> rule = outputRule(op, s); rule && applies(*rule, s.policy))
        roundOutput(op, rule->name);
      if (isa<AttentionOp>(op) && s.policy == Policy::Reference)
        op->setAttr(G4Dialect::kKvStorageAttrName, StringAttr::get(ctx, "bf16"));
    }

    // Islands are numbered in program order, also across repeated runs.
    int64_t island = 0;
    module.walk([&](RoundBf16Op round) { round.setIsland(island++); });
  }
};

}  // namespace

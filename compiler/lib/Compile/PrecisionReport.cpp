//===- PrecisionReport.cpp - what g4-bf16-islands marked, for people ------===//
//
// Everything here is read back from the IR: the pass is the only place that decides where
// the reference rounds, and the report only describes its result.
//
//===----------------------------------------------------------------------===//
#include "g4/Compile/PrecisionReport.h"

#include "g4/Plan/PlanWriter.h"

#include "g4/IR/G4Dialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"

#include <tuple>

namespace mlir::g4 {
namespace {

int64_t layerOf(Operation *op) {
  if (auto a = op->getAttrOfType<IntegerAttr>(G4Dialect::kLayerAttrName)) return a.getInt();
  return -1;
}

/// The producer as the report shows it, named as the plan names its result.
PrecisionSite siteOf(Operation *op, const llvm::DenseMap<Value, std::string> &names) {
  return {op->getName().getStringRef().str(), layerOf(op), names.lookup(op->getResult(0))};
}

llvm::json::Object siteToJson(const PrecisionSite &site) {
  llvm::json::Object o{{"op", site.op}, {"layer", site.layer}};
  if (!site.tensor.empty()) o["tensor"] = site.tensor;
  return o;
}

std::string layerText(int64_t layer) {
  return layer < 0 ? std::string("-") : std::to_string(layer);
}

}  // namespace

PrecisionReport collectPrecisionReport(ModuleOp module, PrecisionPolicy policy) {
  PrecisionReport report;
  report.policy = stringifyPrecisionPolicy(policy).str();
  if (auto model = module->getAttrOfType<DictionaryAttr>(G4Dialect::kModelAttrName))
    if (auto name = model.getAs<StringAttr>("name")) report.model = name.str();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  llvm::DenseMap<Value, std::string> names;
  if (forward && !forward.isExternal()) names = planTensorNames(forward);

  bool anyAttention = false, allBf16Kv = true;
  module.walk([&](Operation *op) {
    if (auto round = dyn_cast<RoundBf16Op>(op)) {
      Operation *producer = round.getInput().getDefiningOp();
      PrecisionIsland island{static_cast<int64_t>(round.getIsland()), stringifyRoundRule(round.getRule()).str(), {}};
      if (producer) island.producer = siteOf(producer, names);
      island.producer.tensor = names.lookup(round.getResult());  // the rounded tensor
      ++report.islandsPerRule[island.rule];
      report.islands.push_back(std::move(island));
    }
    if (auto kind = op->getAttrOfType<RoundingKindAttr>(G4Dialect::kRoundingAttrName)) {
      std::string name = stringifyRoundingKind(kind.getValue()).str();
      report.internal.push_back({name, siteOf(op, names)});
      ++report.internalPerKind[name];
    }
    if (auto attention = dyn_cast<AttentionOp>(op)) {
      anyAttention = true;
      auto storage = op->getAttrOfType<KvStorageAttr>(G4Dialect::kKvStorageAttrName);
      allBf16Kv &= storage && storage.getValue() == KvStorage::bf16;
    }
    if (auto scale = dyn_cast<ScaleOp>(op)) {
      ScaleConstant c;
      c.role = stringifyConstRole(scale.getRole()).str();
      c.layer = layerOf(op);
      c.used = scale.getFactor().convertToDouble();
      c.roundedToBf16 = scale.getExactFactor().has_value();
      c.exact = c.roundedToBf16 ? scale.getExactFactor()->convertToDouble() : c.used;
      report.constants.push_back(c);
    }
  });
  report.kvStorage = anyAttention && allBf16Kv ? "bf16" : "f32";
  return report;
}

void printPrecisionReport(const PrecisionReport &report, llvm::raw_ostream &os) {
  os << "precision report: " << report.model << ", policy " << report.policy << ", "
     << report.islands.size() << " islands, " << report.internal.size()
     << " ops with internal roundings, KV cache " << report.kvStorage << "\n";
  os << "islands (island, rule, layer, producer, plan tensor):\n";
  for (const PrecisionIsland &i : report.islands)
    os << llvm::format("  %5lld  %-13s %-4s %-16s %s\n", static_cast<long long>(i.island),
                       i.rule.c_str(), layerText(i.producer.layer).c_str(),
                       i.producer.op.c_str(), i.producer.tensor.c_str());
  os << "internal roundings (kind, layer, op, plan tensor):\n";
  for (const InternalRounding &r : report.internal)
    os << llvm::format("  %-22s %-4s %-16s %s\n", r.kind.c_str(), layerText(r.site.layer).c_str(),
                       r.site.op.c_str(), r.site.tensor.c_str());
  // One line per distinct constant (the router's H^-1/2 repeats on every layer).
  os << "constants (role, uses, exact -> used):\n";
  std::map<std::tuple<std::string, double, double, bool>, int64_t> distinct;
  for (const ScaleConstant &c : report.constants)
    ++distinct[{c.role, c.exact, c.used, c.roundedToBf16}];
  for (const auto &[key, uses] : distinct) {
    const auto &[role, exact, used, bf16] = key;
    os << llvm::format("  %-18s %3lld  %.9g -> %.9g%s\n", role.c_str(),
                       static_cast<long long>(uses), exact, used, bf16 ? " (bf16)" : " (fp32)");
  }
  os << "islands per rule:\n";
  for (const auto &[rule, count] : report.islandsPerRule)
    os << llvm::format("  %-13s %lld\n", rule.c_str(), static_cast<long long>(count));
  os << "internal roundings per kind:\n";
  for (const auto &[kind, count] : report.internalPerKind)
    os << llvm::format("  %-22s %lld\n", kind.c_str(), static_cast<long long>(count));
}

llvm::json::Value precisionReportToJson(const PrecisionReport &report) {
  llvm::json::Array islands, internal, constants;
  for (const PrecisionIsland &i : report.islands)
    islands.push_back(llvm::json::Object{
        {"island", i.island}, {"rule", i.rule}, {"producer", siteToJson(i.producer)}});
  for (const InternalRounding &r : report.internal)
    internal.push_back(llvm::json::Object{{"kind", r.kind}, {"op", siteToJson(r.site)}});
  for (const ScaleConstant &c : report.constants)
    constants.push_back(llvm::json::Object{{"role", c.role},
                                           {"layer", c.layer},
                                           {"exact", c.exact},
                                           {"used", c.used},
                                           {"bf16", c.roundedToBf16}});
  llvm::json::Object perRule, perKind;
  for (const auto &[rule, count] : report.islandsPerRule) perRule[rule] = count;
  for (const auto &[kind, count] : report.internalPerKind) perKind[kind] = count;
  return llvm::json::Object{
      {"model", report.model},
      {"policy", report.policy},
      {"kv_storage", report.kvStorage},
      {"totals", llvm::json::Object{{"islands", static_cast<int64_t>(report.islands.size())},
                                    {"internal", static_cast<int64_t>(report.internal.size())},
                                    {"islands_per_rule", std::move(perRule)},
                                    {"internal_per_kind", std::move(perKind)}}},
      {"islands", std::move(islands)},
      {"internal", std::move(internal)},
      {"constants", std::move(constants)},
  };
}

}  // namespace mlir::g4

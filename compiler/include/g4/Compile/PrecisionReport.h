//===- PrecisionReport.h - what g4-bf16-islands marked, for people -*- C++ -*-===//
//
// Reads the islands (`g4.round_bf16`), the internal roundings (`g4.rounding`), the KV-cache
// storage (`g4.kv_storage`) and the scale constants of a compiled module and presents them:
// a text listing for `gemma4c compile --report-precision` and OUTDIR/precision.json. The format
// is described in docs/precision.md.
//
//===----------------------------------------------------------------------===//
#ifndef G4_COMPILE_PRECISIONREPORT_H
#define G4_COMPILE_PRECISIONREPORT_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "g4/IR/G4Dialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::g4 {

/// The op whose output (or inside which) the reference rounds.
struct PrecisionSite {
  std::string op;      // "g4.linear"
  int64_t layer = -1;  // the g4.layer attribute; -1 outside the layers
  std::string tensor;  // the plan tensor: the rounded value for islands ("attn_q-3.bf16",
                       // "attn_norm-3"), the op's output for internal roundings ("Qcur-3")
};

/// One g4.round_bf16.
struct PrecisionIsland {
  int64_t island = 0;
  std::string rule;  // "linear_out", "router", ...
  PrecisionSite producer;
};

/// One op carrying g4.rounding.
struct InternalRounding {
  std::string kind;  // "rope_bf16", ...
  PrecisionSite site;
};

/// One g4.scale constant, rounded or not.
struct ScaleConstant {
  std::string role;  // "embed_scale", ...
  int64_t layer = -1;
  double exact = 0;          // the value before rounding (= used when it stays fp32)
  double used = 0;           // the factor the compiled code multiplies by
  bool roundedToBf16 = false;  // used = bf16(exact) (the op has exact_factor)
};

struct PrecisionReport {
  std::string model;
  std::string policy;
  std::string kvStorage;  // "bf16" when every attention op stores bf16, else "f32"
  std::vector<PrecisionIsland> islands;
  std::vector<InternalRounding> internal;
  std::vector<ScaleConstant> constants;
  std::map<std::string, int64_t> islandsPerRule;
  std::map<std::string, int64_t> internalPerKind;
};

/// Collects the report of `module` (after g4-expand-layers and g4-bf16-islands).
PrecisionReport collectPrecisionReport(ModuleOp module, PrecisionPolicy policy);

/// The text listing: every island, the internal roundings, the constants, the totals.
void printPrecisionReport(const PrecisionReport &report, llvm::raw_ostream &os);

/// The same content as JSON (OUTDIR/precision.json).
llvm::json::Value precisionReportToJson(const PrecisionReport &report);

}  // namespace mlir::g4

#endif  // G4_COMPILE_PRECISIONREPORT_H

//===- EmitSupport.h - pieces shared by the CPU and CUDA emitters -*- C++ -*-===//
//
// Internal to compiler/lib/Emit: literal formatting that round-trips to the numbers the
// runtime's interpreted steps use, id tables in the emitted wrappers, copying the headers the emitted sources include,
// and running the host or CUDA compiler with its output captured.
//
//===----------------------------------------------------------------------===//
#ifndef G4_EMIT_EMITSUPPORT_H
#define G4_EMIT_EMITSUPPORT_H

#include <optional>
#include <string>

#include "g4/IR/G4Dialect.h"
#include "g4/Plan/PlanWriter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::g4::emit {

/// A C float literal that parses back to exactly float(v), as the interpreted steps use it.
std::string floatLiteral(double v);
/// A C double literal that parses back to exactly v.
std::string doubleLiteral(double v);

/// `  static const int32_t NAME[] = {ids...};` (nothing when ids is empty).
void writeIdTable(llvm::raw_ostream &os, StringRef name, ArrayRef<uint32_t> ids);

/// Creates OUTDIR/src and copies the named headers (GEMMA4C_SOURCE_DIR-relative path, file name)
/// into it, so the emitted sources are self-contained. Diagnostics go on `forward`.
LogicalResult copyHeaders(func::FuncOp forward, StringRef srcDir,
                          ArrayRef<std::pair<const char *, const char *>> headers);

/// One compiler run: `program FLAGS -o output input`, stdout and stderr captured together.
struct ToolRun {
  int exitCode = -1;
  std::string output;   // everything the tool printed
  std::string error;    // why it could not be started, if it could not
  std::string command;  // the command line, for logs
  double seconds = 0;
};
ToolRun runCompiler(StringRef program, StringRef flags, StringRef output, StringRef input);

/// One call of a row helper: `name<templateArgs>(args);`, then `  // comment` when there is
/// one. The helpers of kernels/common/fused_rows_cpu.h and fused_rows_cuda.cuh are spelled
/// alike, so the same call serves both targets.
struct RowCall {
  std::string name;
  SmallVector<std::string, 3> templateArgs;
  SmallVector<std::string, 4> args;
  std::string comment;
};
void writeRowCall(llvm::raw_ostream &os, const RowCall &call);

/// A new per-token scratch row: `float* name = scratch + offset;`.
struct ScratchRow {
  std::string name;
  int64_t offset;
};

/// The code of one row op: the scratch rows it writes first, then its calls (none for a PLE
/// slice read in place).
struct RowOpCode {
  SmallVector<ScratchRow, 1> newScratch;
  SmallVector<RowCall, 2> calls;
};

/// What both emitters know about one fused region before they write code: the plan ids its
/// kernel addresses as t[i] (activations: arguments, yielded values, inner buffers) and w[i]
/// (weights), its linears with their epilogue rounding, and, while the row ops are written,
/// which C variable holds each value's row (a plan tensor's row `aI`, or a scratch row `sJ`).
class RegionValues {
 public:
  RegionValues(FusedOp fused, const PlanLayout &layout);
  virtual ~RegionValues() = default;

  ArrayRef<uint32_t> tensorIds() const { return tIds_; }
  ArrayRef<uint32_t> weightIds() const { return wIds_; }

 protected:
  /// One linear: weight index, input and output tensor indices, and whether its single use
  /// was a g4.round_bf16 folded into the product as its epilogue (the round is then absorbed).
  struct LinearCall {
    unsigned weight, input, output;
    int round;
    int64_t inWidth, outWidth;  // for the comment beside the call
  };
  /// The region's linears in order; fails (on the op) when one lacks plan tensors.
  FailureOr<SmallVector<LinearCall>> collectLinears();
  /// Names every plan tensor's row variable ("a<index>"); call before writing row ops.
  void nameTensorRows();
  /// The row ops to write, in order (linears and absorbed rounds left out).
  SmallVector<Operation *> rowOps();
  /// The one table of row ops: the helper calls computing `op` on the current token's rows,
  /// naming its operands' and results' rows as they go. Failure (without a diagnostic) for an
  /// op that is not a row op.
  FailureOr<RowOpCode> rowOpCode(Operation &op);
  /// How a target's body reaches 1-D weight `index` (a pointer to its floats).
  virtual std::string weightVector(unsigned index) const = 0;

  /// The row variable of an operand (recording that the loop reads that tensor).
  std::string use(Value v);
  /// Where a result goes: its plan tensor's row, the scratch row of an operand it is the only
  /// reader of (in place), or a new scratch row (added to `newScratch_`).
  std::string define(Value result, ArrayRef<Value> inPlaceCandidates);

  FusedOp fused_;
  const PlanLayout &layout_;
  llvm::DenseMap<Value, unsigned> tensorIndex_, weightIndex_;
  SmallVector<uint32_t> tIds_, wIds_;
  llvm::DenseMap<Value, std::string> var_;
  llvm::DenseSet<Value> ownsScratch_;
  llvm::DenseSet<unsigned> usedInLoop_;
  llvm::DenseSet<Operation *> absorbed_;
  int64_t scratch_ = 0;  // scratch floats per token row
  unsigned numScratch_ = 0;
  int64_t maxRowWidth_ = 0;  // the widest row a row op writes
  SmallVector<ScratchRow, 1> newScratch_;

 private:
  void addTensor(Value v);
};

}  // namespace mlir::g4::emit

#endif  // G4_EMIT_EMITSUPPORT_H

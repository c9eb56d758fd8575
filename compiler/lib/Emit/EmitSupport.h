//===- EmitSupport.h - pieces shared by the CPU and CUDA emitters -*- C++ -*-===//
//
// Internal to compiler/lib/Emit: literal formatting that round-trips to the numbers the builtin
// steps use, id tables in the emitted wrappers, copying the headers the emitted sources include,
// and running the host or CUDA compiler with its output captured.
//
//===----------------------------------------------------------------------===//
#ifndef G4_EMIT_EMITSUPPORT_H
#define G4_EMIT_EMITSUPPORT_H

#include <string>

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::g4::emit {

/// A C float literal that parses back to exactly float(v), as the builtin steps use it.
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

}  // namespace mlir::g4::emit

#endif  // G4_EMIT_EMITSUPPORT_H

//===- Compile.h - spec to plan: the gemma4c compile pipeline ---*- C++ -*-===//
#ifndef G4_COMPILE_COMPILE_H
#define G4_COMPILE_COMPILE_H

#include <cstdint>
#include <string>

#include "g4/IR/G4Dialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/LLVM.h"

namespace mlir::g4 {

struct CompileOptions {
  /// The options of g4-bf16-islands: what it rounds, eager or SDPA attention under
  /// `reference`, and the router of transformers >= 5.13 (fp32) or the older one (bf16).
  PrecisionPolicy precision = PrecisionPolicy::reference;
  AttentionSemantics attention = AttentionSemantics::sdpa;
  RouterSemantics router = RouterSemantics::fp32;
  uint32_t maxBatchTokens = 512;
  /// Print the islands and write OUTDIR/precision.json (compileSpecFile only).
  bool reportPrecision = false;
  /// Emit OUTDIR/src/kernels_cpu.cc and build OUTDIR/kernels_cpu.so (compileSpecFile only);
  /// without, the runtime interprets the plan's fused steps. docs/fusion.md.
  bool emitKernels = true;
  std::string cxx;       // host C++ compiler; empty: the one gemma4c was built with
  std::string cxxFlags;  // empty: -O2 -fPIC -shared -std=c++17 -march=x86-64-v2
  /// Kernel targets (with emitKernels): CPU (kernels_cpu.so) and/or CUDA (kernels_cuda.so,
  /// built with nvcc; docs/cuda.md).
  bool targetCpu = true;
  bool targetCuda = false;
  std::string nvcc;       // empty: the nvcc CMake found, else `nvcc` on PATH
  std::string nvccFlags;  // empty: kDefaultCudaKernelFlags (CudaEmitter.h)
  bool verbose = false;   // print the kernel build commands, times and ptxas's per-kernel lines
};

/// The pass pipeline of `gemma4c compile`: expand layers, clean up, mark the bf16 islands of
/// the precision policy (then canonicalize and CSE, which must keep them), then the fusion and
/// memory-planning passes that exist.
void buildCompilePipeline(OpPassManager &pm, const CompileOptions &options);

/// Parses, verifies and compiles spec text; returns the plan bytes. Diagnostics (with their
/// locations in `bufferName`) go to stderr.
FailureOr<std::string> compileSpecText(const std::string &text, const std::string &bufferName,
                                       const CompileOptions &options);

/// Compiles a spec file into OUTDIR: OUTDIR/plan and OUTDIR/graph.mlir (the final IR, kept for
/// reading), and with `reportPrecision` OUTDIR/precision.json plus the report on stdout.
/// Creates OUTDIR if needed.
LogicalResult compileSpecFile(const std::string &specPath, const std::string &outDir,
                              const CompileOptions &options);

}  // namespace mlir::g4

#endif  // G4_COMPILE_COMPILE_H

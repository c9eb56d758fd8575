//===- CpuEmitter.h - C++ kernels for the fused regions ---------*- C++ -*-===//
//
// Each g4.fused region with a kernel name becomes `extern "C" void g4k_<name>(const g4k_call*)`
// (runtime/exec/kernel_abi.h), specialized for its widths and constants: the region's linears
// through `call->api->linear` (rounding in the epilogue when a g4.round_bf16 follows), then one
// loop over the tokens applying the row ops with kernels/common/fused_rows_cpu.h (which calls
// row_ops.h), the same per-row math
// as the runtime's interpreted steps. Regions with the same body up to their tensor and weight ids
// share one function; each exported symbol is a thin wrapper with its id table.
// Contract and flags: docs/fusion.md.
//
//===----------------------------------------------------------------------===//
#ifndef G4_EMIT_CPUEMITTER_H
#define G4_EMIT_CPUEMITTER_H

#include <string>

#include "g4/Plan/PlanWriter.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::g4 {

struct CpuEmitStats {
  unsigned kernels = 0;  // exported g4k_ symbols (one per fused region with a kernel)
  unsigned bodies = 0;   // distinct kernel bodies after deduplication
  bool avx2Library = false;  // kernels_cpu_avx2.so was built too
};

/// Writes the translation unit (includes "fused_rows_cpu.h" from its own folder).
LogicalResult emitCpuKernels(func::FuncOp forward, const PlanLayout &layout, llvm::raw_ostream &os,
                             CpuEmitStats *stats = nullptr);

struct CpuBuildOptions {
  std::string cxx;       // empty: the compiler gemma4c was built with, else `c++`
  std::string cxxFlags;  // empty: kDefaultCpuKernelFlags
  bool verbose = false;  // print the compiler command and its time
  bool avx2Variant = true;  // with the default flags, also build kernels_cpu_avx2.so
};

/// -O2 -fPIC -shared -std=c++17 -march=x86-64-v2
extern const char *const kDefaultCpuKernelFlags;
/// The AVX2 build: -march=haswell -mf16c -ffp-contract=off (same roundings as the portable one).
extern const char *const kAvx2CpuKernelFlags;

/// Emits OUTDIR/src/kernels_cpu.cc (with copies of fused_rows_cpu.h, row_ops.h and kernel_abi.h
/// beside it) and builds OUTDIR/kernels_cpu.so with the host compiler (and, with the default flags,
/// OUTDIR/kernels_cpu_avx2.so for AVX2 machines). Fails with the compiler's output.
LogicalResult buildCpuKernels(func::FuncOp forward, const PlanLayout &layout, StringRef outDir,
                              const CpuBuildOptions &options, CpuEmitStats *stats = nullptr);

}  // namespace mlir::g4

#endif  // G4_EMIT_CPUEMITTER_H

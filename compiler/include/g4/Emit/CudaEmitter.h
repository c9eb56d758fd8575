//===- CudaEmitter.h - CUDA kernels for the fused regions -------*- C++ -*-===//
//
// `gemma4c compile --target=cuda`: each g4.fused region with a kernel name (the regions the
// CPU emitter handles) becomes a host function `extern "C" int g4kc_<name>(const g4kc_call*)`
// (runtime/cuda/cuda_kernel_abi.h) that calls `call->api->linear` for the region's linears
// (bf16 rounding in the epilogue as on the CPU) and then launches ONE `__global__` row kernel
// that applies the region's row ops with kernels/common/fused_rows_cuda.cuh, specialized
// for its widths and constants. Regions with the same body share one kernel. The sources are
// built with nvcc into OUTDIR/kernels_cuda.so; ptxas's per-kernel registers, shared memory and
// spills go to OUTDIR/compile.log. docs/cuda.md ("CUDA emission").
//
//===----------------------------------------------------------------------===//
#ifndef G4_EMIT_CUDAEMITTER_H
#define G4_EMIT_CUDAEMITTER_H

#include <string>
#include <vector>

#include "g4/Plan/PlanWriter.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::g4 {

struct CudaEmitStats {
  unsigned kernels = 0;         // exported g4kc_ host functions (one per region with a kernel)
  unsigned bodies = 0;          // distinct host bodies after deduplication
  unsigned rowKernels = 0;      // distinct __global__ row kernels
  int64_t scratchFloats = 0;    // per-token scratch (g4kc_scratch_floats)
};

/// Writes the translation unit (includes "fused_rows_cuda.cuh" from its folder).
LogicalResult emitCudaKernels(func::FuncOp forward, const PlanLayout &layout,
                              llvm::raw_ostream &os, CudaEmitStats *stats = nullptr);

/// One __global__ function as ptxas reported it (-Xptxas -v).
struct PtxasKernelInfo {
  std::string name;
  std::string arch;  // "sm_80", "sm_90a"
  int registers = 0;
  int smemBytes = 0;
  int stackBytes = 0;
  int spillStores = 0;
  int spillLoads = 0;
};

/// Parses the stderr of nvcc -Xptxas -v.
std::vector<PtxasKernelInfo> parsePtxasVerbose(StringRef output);

struct CudaBuildOptions {
  std::string nvcc;       // empty: the nvcc CMake found (GEMMA4C_NVCC), else `nvcc` on PATH
  std::string nvccFlags;  // empty: kDefaultCudaKernelFlags
  bool verbose = false;   // print the command, its time and one line per kernel
};

/// -O3 -shared -Xcompiler -fPIC -cudart shared -std=c++17 --fmad=false -Xptxas -v
/// -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90a,code=sm_90a
/// -gencode arch=compute_90,code=compute_90
extern const char *const kDefaultCudaKernelFlags;

/// Whether an nvcc can be found for `options` (the path it resolves to in *path).
bool findNvcc(const CudaBuildOptions &options, std::string *path);

/// Emits OUTDIR/src/kernels_cuda.cu (with copies of fused_rows_cuda.cuh, row_ops.h and
/// cuda_kernel_abi.h beside it), builds OUTDIR/kernels_cuda.so with nvcc and writes OUTDIR/compile.log (the command, ptxas's
/// output and one summary line per kernel). Fails with nvcc's output.
LogicalResult buildCudaKernels(func::FuncOp forward, const PlanLayout &layout, StringRef outDir,
                               const CudaBuildOptions &options, CudaEmitStats *stats = nullptr);

}  // namespace mlir::g4

#endif  // G4_EMIT_CUDAEMITTER_H

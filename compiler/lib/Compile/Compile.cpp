//===- Compile.cpp - spec to plan: the gemma4c compile pipeline -----------===//
#include "g4/Compile/Compile.h"

#include "g4/Compile/PrecisionReport.h"
#include "g4/Emit/CpuEmitter.h"
#include "g4/Emit/CudaEmitter.h"
#include "g4/IR/G4Dialect.h"
#include "g4/Plan/PlanWriter.h"
#include "g4/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::g4 {
namespace {

void registerDialects(MLIRContext &context) {
  DialectRegistry registry;
  registry.insert<G4Dialect, func::FuncDialect>();
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
}

/// Runs the pipeline on a parsed module and translates it to plan bytes; with `kernelDir`,
/// first emits and builds the CPU kernels there, and the plan refers to them.
FailureOr<std::string> compileModule(ModuleOp module, const CompileOptions &options,
                                     StringRef kernelDir = {}) {
  PassManager pm(module->getContext());
  buildCompilePipeline(pm, options);
  if (failed(pm.run(module))) return failure();
  PlanOptions planOptions;
  planOptions.precision = options.precision;
  planOptions.maxBatchTokens = options.maxBatchTokens;
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  // Without a model or a @forward, buildPlan reports what is missing.
  if (!kernelDir.empty() && forward && !forward.isExternal() &&
      module->hasAttr(G4Dialect::kModelAttrName)) {
    FailureOr<PlanLayout> layout = layoutPlan(forward);
    if (failed(layout)) return failure();
    if (options.targetCpu) {
      CpuBuildOptions build;
      build.cxx = options.cxx;
      build.cxxFlags = options.cxxFlags;
      build.verbose = options.verbose;
      CpuEmitStats stats;
      if (failed(buildCpuKernels(forward, *layout, kernelDir, build, &stats))) return failure();
      planOptions.cpuKernelLibrary = "kernels_cpu.so";
      if (stats.avx2Library) planOptions.cpuAvx2KernelLibrary = "kernels_cpu_avx2.so";
    }
    if (options.targetCuda) {
      CudaBuildOptions build;
      build.nvcc = options.nvcc;
      build.nvccFlags = options.nvccFlags;
      build.verbose = options.verbose;
      if (failed(buildCudaKernels(forward, *layout, kernelDir, build))) return failure();
      planOptions.cudaKernelLibrary = "kernels_cuda.so";
    }
  }
  return buildPlan(module, planOptions);
}

LogicalResult writeOutput(const std::string &path, StringRef bytes) {
  std::string error;
  auto out = openOutputFile(path, &error);
  if (!out) {
    llvm::errs() << "gemma4c: cannot write " << path << ": " << error << "\n";
    return failure();
  }
  out->os() << bytes;
  out->keep();
  return success();
}

}  // namespace

void buildCompilePipeline(OpPassManager &pm, const CompileOptions &options) {
  pm.addPass(createG4ExpandLayers());
  pm.addPass(mlir::createCSEPass());
  G4Bf16IslandsOptions islands;
  islands.policy = options.precision;
  islands.attention = options.attention;
  islands.router = options.router;
  pm.addPass(createG4Bf16Islands(islands));
  // Generic cleanups after the islands: they must keep every g4.round_bf16 (not Pure, no folder).
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
  // Kernels: fused regions (every rounding inside, in its producer's region), then buffers.
  pm.addPass(createG4Fuse());
  pm.addPass(createG4PlanMemory());
}

FailureOr<std::string> compileSpecText(const std::string &text, const std::string &bufferName,
                                       const CompileOptions &options) {
  MLIRContext context;
  registerDialects(context);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, bufferName), SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module) return failure();
  return compileModule(*module, options);
}

LogicalResult compileSpecFile(const std::string &specPath, const std::string &outDir,
                              const CompileOptions &options) {
  MLIRContext context;
  registerDialects(context);
  std::string error;
  auto input = openInputFile(specPath, &error);
  if (!input) {
    llvm::errs() << "gemma4c: cannot read " << specPath << ": " << error << "\n";
    return failure();
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module) return failure();
  if (std::error_code ec = llvm::sys::fs::create_directories(outDir)) {
    llvm::errs() << "gemma4c: cannot create " << outDir << ": " << ec.message() << "\n";
    return failure();
  }
  FailureOr<std::string> plan =
      compileModule(*module, options, options.emitKernels ? StringRef(outDir) : StringRef());
  if (failed(plan)) return failure();
  std::string ir;
  llvm::raw_string_ostream irStream(ir);
  module->print(irStream);
  if (failed(writeOutput(outDir + "/plan", *plan)) ||
      failed(writeOutput(outDir + "/graph.mlir", ir)))
    return failure();
  if (!options.reportPrecision) return success();
  PrecisionReport report = collectPrecisionReport(*module, options.precision);
  printPrecisionReport(report, llvm::outs());
  std::string json;
  llvm::raw_string_ostream jsonStream(json);
  jsonStream << llvm::formatv("{0:2}", precisionReportToJson(report)) << "\n";
  return writeOutput(outDir + "/precision.json", json);
}

}  // namespace mlir::g4

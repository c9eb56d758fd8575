//===- gemma4c-opt.cpp - opt driver for the g4 dialect and passes ---------===//
#include "g4/IR/G4Dialect.h"
#include "g4/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::g4::G4Dialect, mlir::func::FuncDialect>();
  mlir::g4::registerG4Passes();
  // Upstream passes used in tests next to ours (canonicalize, cse, inline, ...).
  mlir::registerTransformsPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "gemma4c optimizer driver\n", registry));
}

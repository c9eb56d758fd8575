//===- EmitSupport.cpp - pieces shared by the CPU and CUDA emitters -------===//
#include "EmitSupport.h"

#include <chrono>
#include <cstdio>
#include <optional>

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

namespace mlir::g4::emit {

std::string floatLiteral(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", double(float(v)));
  std::string s = buf;
  if (s.find_first_of(".en") == std::string::npos) s += ".";
  return s + "f";
}

std::string doubleLiteral(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

void writeIdTable(llvm::raw_ostream &os, StringRef name, ArrayRef<uint32_t> ids) {
  if (ids.empty()) return;
  os << "  static const int32_t " << name << "[] = {";
  llvm::interleaveComma(ids, os);
  os << "};\n";
}

LogicalResult copyHeaders(func::FuncOp forward, StringRef srcDir,
                          ArrayRef<std::pair<const char *, const char *>> headers) {
  if (std::error_code ec = llvm::sys::fs::create_directories(srcDir))
    return forward.emitError() << "cannot create " << srcDir << ": " << ec.message();
  for (auto [from, name] : headers) {
    llvm::SmallString<256> to(srcDir);
    llvm::sys::path::append(to, name);
    if (std::error_code ec = llvm::sys::fs::copy_file(from, to))
      return forward.emitError() << "cannot copy " << from << " to " << to << ": " << ec.message();
  }
  return success();
}

ToolRun runCompiler(StringRef program, StringRef flags, StringRef output, StringRef input) {
  ToolRun run;
  SmallVector<StringRef> split;
  flags.split(split, ' ', -1, /*KeepEmpty=*/false);
  SmallVector<StringRef> args = {program};
  args.append(split.begin(), split.end());
  args.append({"-o", output, input});
  run.command = llvm::join(args, " ");
  llvm::SmallString<256> log;
  llvm::sys::fs::createTemporaryFile("gemma4c-build", "log", log);
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(log), StringRef(log)};
  auto start = std::chrono::steady_clock::now();
  run.exitCode = llvm::sys::ExecuteAndWait(program, args, std::nullopt, redirects, 0, 0, &run.error);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (auto buf = llvm::MemoryBuffer::getFile(log)) run.output = (*buf)->getBuffer().str();
  llvm::sys::fs::remove(log);
  return run;
}

}  // namespace mlir::g4::emit

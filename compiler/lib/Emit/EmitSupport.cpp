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

RegionValues::RegionValues(FusedOp fused, const PlanLayout &layout)
    : fused_(fused), layout_(layout) {
  Block &block = fused_.getBlock();
  for (BlockArgument arg : block.getArguments()) {
    if (isa<WeightType>(arg.getType())) {
      weightIndex_[arg] = wIds_.size();
      wIds_.push_back(layout_.weightIds.lookup(arg));
    } else {
      addTensor(arg);
    }
  }
  for (Value v : fused_.getYield()->getOperands()) addTensor(v);
  for (Value v : fused_.getInnerBuffers()) addTensor(v);
}

void RegionValues::addTensor(Value v) {
  if (tensorIndex_.count(v)) return;
  tensorIndex_[v] = tIds_.size();
  tIds_.push_back(layout_.tensorIds.lookup(v));
}

FailureOr<SmallVector<RegionValues::LinearCall>> RegionValues::collectLinears() {
  SmallVector<LinearCall> calls;
  for (Operation &op : fused_.getBlock().without_terminator()) {
    auto linear = dyn_cast<LinearOp>(op);
    if (!linear) continue;
    Value out = linear.getResult();
    int round = 0;
    if (out.hasOneUse() && isa<RoundBf16Op>(*out.user_begin())) {
      absorbed_.insert(*out.user_begin());
      out = out.user_begin()->getResult(0);
      round = 1;
    }
    if (!tensorIndex_.count(linear.getInput()) || !tensorIndex_.count(out))
      return linear.emitOpError() << "cannot be emitted: its input and output need plan tensors";
    calls.push_back({weightIndex_[linear.getWeight()], tensorIndex_[linear.getInput()],
                     tensorIndex_[out], round,
                     cast<WeightType>(linear.getWeight().getType()).getShape()[0],
                     featureWidth(linear.getResult())});
  }
  return calls;
}

void RegionValues::nameTensorRows() {
  for (auto [value, index] : tensorIndex_) var_[value] = "a" + std::to_string(index);
}

SmallVector<Operation *> RegionValues::rowOps() {
  SmallVector<Operation *> ops;
  for (Operation &op : fused_.getBlock().without_terminator())
    if (!isa<LinearOp>(op) && !absorbed_.contains(&op)) ops.push_back(&op);
  return ops;
}

std::string RegionValues::use(Value v) {
  auto it = tensorIndex_.find(v);
  if (it != tensorIndex_.end()) usedInLoop_.insert(it->second);
  return var_.lookup(v);
}

std::string RegionValues::define(Value result, ArrayRef<Value> inPlaceCandidates,
                                 std::optional<std::pair<std::string, int64_t>> *newScratch) {
  auto it = tensorIndex_.find(result);
  if (it != tensorIndex_.end()) {
    usedInLoop_.insert(it->second);
    return var_[result] = "a" + std::to_string(it->second);
  }
  for (Value in : inPlaceCandidates)
    if (ownsScratch_.contains(in) && in.hasOneUse()) {
      ownsScratch_.insert(result);
      return var_[result] = var_[in];
    }
  std::string name = "s" + std::to_string(numScratch_++);
  *newScratch = std::make_pair(name, scratch_);
  scratch_ += featureWidth(result);
  ownsScratch_.insert(result);
  return var_[result] = name;
}

}  // namespace mlir::g4::emit

//===- EmitSupport.cpp - pieces shared by the CPU and CUDA emitters -------===//
#include "EmitSupport.h"

#include <chrono>
#include <cstdio>
#include <optional>

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"
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

void writeRowCall(llvm::raw_ostream &os, const RowCall &call) {
  os << call.name;
  if (!call.templateArgs.empty()) {
    os << "<";
    llvm::interleaveComma(call.templateArgs, os);
    os << ">";
  }
  os << "(";
  llvm::interleaveComma(call.args, os);
  os << ");";
  if (!call.comment.empty()) os << "  // " << call.comment;
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

std::string RegionValues::define(Value result, ArrayRef<Value> inPlaceCandidates) {
  maxRowWidth_ = std::max(maxRowWidth_, featureWidth(result));
  auto it = tensorIndex_.find(result);
  if (it != tensorIndex_.end()) {
    usedInLoop_.insert(it->second);
    return var_[result] = "a" + std::to_string(it->second);
  }
  for (Value in : inPlaceCandidates)
    if (ownsScratch_.contains(in) && in.hasOneUse()) {
      ownsScratch_.insert(result);
      std::string var = var_.lookup(in);  // before var_[result] may rehash the map
      return var_[result] = std::move(var);
    }
  std::string name = "s" + std::to_string(numScratch_++);
  newScratch_.push_back({name, scratch_});
  scratch_ += featureWidth(result);
  ownsScratch_.insert(result);
  return var_[result] = name;
}

FailureOr<RowOpCode> RegionValues::rowOpCode(Operation &op) {
  // The composite ops take their internal bf16 rounding (g4.rounding) as a constant flag.
  auto roundsInside = [&](RoundingKind kind) -> std::string {
    auto rounding = op.getAttrOfType<RoundingKindAttr>(G4Dialect::kRoundingAttrName);
    return rounding && rounding.getValue() == kind ? "true" : "false";
  };
  std::string n = op.getNumResults() ? std::to_string(featureWidth(op.getResult(0))) : "";
  auto vec = [&](Value weight) { return weightVector(weightIndex_.lookup(weight)); };
  // Most row ops read one row and may write it in place: `Name<n>(x, extra..., y)`.
  auto unary = [&](StringRef name, Value in, Value out, ArrayRef<std::string> extra) {
    std::string x = use(in);
    std::string y = define(out, {in});
    RowCall call{name.str(), {n}, {x}, ""};
    call.args.append(extra.begin(), extra.end());
    call.args.push_back(y);
    return SmallVector<RowCall, 2>{call};
  };

  using Calls = std::optional<SmallVector<RowCall, 2>>;
  Calls calls =
      llvm::TypeSwitch<Operation *, Calls>(&op)
          .Case([&](RMSNormOp norm) -> Calls {
            std::string x = use(norm.getInput());
            std::string y = define(norm.getResult(), {norm.getInput()});
            std::string w = norm.getWeight() ? vec(norm.getWeight()) : "nullptr";
            return SmallVector<RowCall, 2>{
                {"RmsNorm",
                 {n, std::to_string(norm.getWidth())},
                 {x, w, floatLiteral(norm.getEps().convertToDouble()), y},
                 ""}};
          })
          .Case([&](ScaleOp scale) -> Calls {
            return unary("Scale", scale.getInput(), scale.getResult(),
                         {floatLiteral(scale.getFactor().convertToDouble())});
          })
          .Case([&](LayerScalarOp ls) -> Calls {
            return unary("Scale", ls.getInput(), ls.getResult(), {vec(ls.getWeight()) + "[0]"});
          })
          .Case([&](ChannelMulOp cm) -> Calls {
            return unary("ChannelMul", cm.getInput(), cm.getResult(), {vec(cm.getWeight())});
          })
          .Case<AddOp, MulOp>([&](Operation *binary) -> Calls {
            Value lhs = binary->getOperand(0), rhs = binary->getOperand(1);
            std::string a = use(lhs), b = use(rhs);
            std::string y = define(binary->getResult(0), {lhs, rhs});
            return SmallVector<RowCall, 2>{{isa<AddOp>(binary) ? "Add" : "Mul", {n}, {a, b, y}, ""}};
          })
          .Case([&](GeluTanhOp gelu) -> Calls {
            return unary("Gelu", gelu.getInput(), gelu.getResult(), {});
          })
          .Case([&](RoundBf16Op round) -> Calls {
            SmallVector<RowCall, 2> calls = unary("Round", round.getInput(), round.getResult(), {});
            calls.front().comment = stringifyRoundRule(round.getRule()).str();
            return calls;
          })
          .Case([&](SoftcapOp cap) -> Calls {
            return unary("SoftcapRow", cap.getInput(), cap.getResult(),
                         {floatLiteral(cap.getCap().convertToDouble()),
                          roundsInside(RoundingKind::softcap_bf16)});
          })
          .Case([&](RopeOp rope) -> Calls {
            // Rope rotates in place: first the input row goes to the result's row.
            std::string x = use(rope.getInput()), pos = use(rope.getPositions());
            std::string y = define(rope.getResult(), {rope.getInput()});
            return SmallVector<RowCall, 2>{
                {"Copy", {n}, {x, y}, ""},
                {"Rope",
                 {n, std::to_string(rope.getHeadDim()), std::to_string(rope.getRotaryDims())},
                 {y, doubleLiteral(rope.getTheta().convertToDouble()), "PosAt(" + pos + ")",
                  roundsInside(RoundingKind::rope_bf16)},
                 ""}};
          })
          .Case([&](PleSliceOp slice) -> Calls {
            std::string x = use(slice.getInput());
            std::string at = x + " + " +
                             std::to_string(slice.getLayer().value_or(0) *
                                            featureWidth(slice.getResult()));
            if (!tensorIndex_.count(slice.getResult())) {
              var_[slice.getResult()] = "(" + at + ")";  // read in place, never written
              return SmallVector<RowCall, 2>{};
            }
            std::string y = define(slice.getResult(), {});
            return SmallVector<RowCall, 2>{{"Copy", {n}, {at, y}, ""}};
          })
          .Default([](Operation *) -> Calls { return std::nullopt; });
  if (!calls) return failure();
  RowOpCode code;
  code.calls = std::move(*calls);
  code.newScratch = std::move(newScratch_);
  newScratch_.clear();
  return code;
}

}  // namespace mlir::g4::emit

//===- gemma4c.cpp - the gemma4c command-line driver ----------------------===//
//
//   gemma4c compile SPEC.mlir -o OUTDIR [--precision=...] [--max-batch=N]
//   gemma4c spec (--from-gguf MODEL.gguf | --like PRESET) -o SPEC.mlir
//   gemma4c synth --like PRESET [--dtype T] [--seed N] [--layers N] -o MODEL.gguf
//   gemma4c plan-info OUTDIR
//   gemma4c verify --checkpoint HF_DIR --gguf MODEL.gguf [...]   (tools/verify/g4verify.py)
//
// Exit codes: 0 success, 1 a diagnosed failure (message on stderr), 2 bad usage.
//
//===----------------------------------------------------------------------===//
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/status_macros.h"
#include "g4/Compile/Compile.h"
#include "g4/Spec/SpecWriter.h"
#include "gguf/gguf.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"
#include "model/model_config.h"
#include "model/synth.h"
#include "plan/plan_reader.h"
#include "plan/weight_binding.h"

namespace cl = llvm::cl;

namespace {

cl::SubCommand compileCmd("compile", "Compile a spec to OUTDIR (plan, IR, precision report)");
cl::SubCommand specCmd("spec", "Write the spec of a model (from a GGUF file or a preset)");
cl::SubCommand synthCmd("synth", "Write a random-weight Gemma 4 GGUF following llama.cpp's conventions");
cl::SubCommand planInfoCmd("plan-info", "Summarize a compiled plan");
// Listed for --help only: main() hands `gemma4c verify ARGS` to the Python tool before parsing.
cl::SubCommand verifyCmd("verify",
                         "Compare g4run with transformers stage by stage (Python + torch; verify --help)");

// compile
cl::opt<std::string> compileInput(cl::Positional, cl::desc("<spec.mlir>"), cl::Required,
                                  cl::sub(compileCmd));
cl::opt<std::string> compileOut("o", cl::desc("output directory"), cl::value_desc("OUTDIR"),
                                cl::Required, cl::sub(compileCmd));
cl::opt<mlir::g4::PrecisionPolicy> precision(
    "precision", cl::desc("precision policy (g4-bf16-islands, docs/precision.md)"),
    cl::values(clEnumValN(mlir::g4::PrecisionPolicy::f32, "f32", "no rounding (fp32 everywhere)"),
               clEnumValN(mlir::g4::PrecisionPolicy::minimal, "minimal",
                          "only the systematic divergences"),
               clEnumValN(mlir::g4::PrecisionPolicy::reference, "reference",
                          "every rounding point of the bf16 reference")),
    cl::init(mlir::g4::PrecisionPolicy::reference), cl::sub(compileCmd));
cl::opt<unsigned> maxBatch("max-batch", cl::desc("largest number of tokens per evaluation"),
                           cl::init(512), cl::sub(compileCmd));
cl::opt<mlir::g4::AttentionSemantics> attention(
    "attention", cl::desc("reference attention under bf16 policies"),
    cl::values(clEnumValN(mlir::g4::AttentionSemantics::sdpa, "sdpa",
                          "torch's CPU flash kernel: bf16 exp(S - m) per 512-key block (default)"),
               clEnumValN(mlir::g4::AttentionSemantics::eager, "eager",
                          "bf16 scores and probabilities"),
               clEnumValN(mlir::g4::AttentionSemantics::exact, "exact",
                          "exact fp32 softmax, float64 sums")),
    cl::init(mlir::g4::AttentionSemantics::sdpa), cl::sub(compileCmd));
cl::opt<bool> noEmit("no-emit",
                     cl::desc("do not emit and build the CPU kernels (the runtime interprets the fused steps)"),
                     cl::sub(compileCmd));
cl::opt<std::string> cxx("cxx", cl::desc("host C++ compiler for the emitted kernels "
                                         "(default: the one gemma4c was built with)"),
                         cl::value_desc("PATH"), cl::sub(compileCmd));
cl::opt<std::string> cxxFlags("cxx-flags",
                              cl::desc("flags for the emitted kernels (default: -O2 -fPIC -shared "
                                       "-std=c++17 -march=x86-64-v2)"),
                              cl::sub(compileCmd));
cl::opt<std::string> target("target",
                            cl::desc("kernel targets: cpu | cuda | cpu,cuda (cuda needs nvcc; "
                                     "docs/cuda.md)"),
                            cl::init("cpu"), cl::sub(compileCmd));
cl::opt<std::string> nvccPath("nvcc", cl::desc("CUDA compiler for --target=cuda (default: the "
                                               "nvcc gemma4c was configured with, else PATH)"),
                              cl::value_desc("PATH"), cl::sub(compileCmd));
cl::opt<std::string> nvccFlags("nvcc-flags",
                               cl::desc("flags for the emitted CUDA kernels (default: -O3 -shared "
                                        "-Xcompiler -fPIC -cudart shared -std=c++17 --fmad=false -Xptxas -v "
                                        "-gencode for sm_80, sm_90a and compute_90 PTX)"),
                               cl::sub(compileCmd));
cl::opt<bool> compileVerbose("verbose",
                             cl::desc("print the kernel build commands, their times and ptxas's "
                                      "registers/smem/spills per CUDA kernel"),
                             cl::sub(compileCmd));
cl::opt<mlir::g4::RouterSemantics> router(
    "router", cl::desc("MoE router semantics"),
    cl::values(clEnumValN(mlir::g4::RouterSemantics::fp32, "fp32", "transformers >= 5.13"),
               clEnumValN(mlir::g4::RouterSemantics::bf16, "bf16", "transformers <= 5.12")),
    cl::init(mlir::g4::RouterSemantics::fp32), cl::sub(compileCmd));
cl::opt<bool> reportPrecision("report-precision",
                              cl::desc("print the islands and write OUTDIR/precision.json"),
                              cl::sub(compileCmd));

// spec
cl::opt<std::string> specFromGguf("from-gguf", cl::desc("GGUF model to describe"),
                                  cl::value_desc("MODEL.gguf"), cl::sub(specCmd));
cl::opt<std::string> specLike("like", cl::desc("preset to describe"), cl::sub(specCmd));
cl::opt<std::string> specOut("o", cl::desc("output spec file"), cl::Required, cl::sub(specCmd));

// synth
cl::opt<std::string> synthLike("like", cl::desc("preset: tiny-e2b, tiny-moe, tiny-31b, small-vocab, e2b, e4b, 26b-a4b, 31b"),
                               cl::Required, cl::sub(synthCmd));
cl::opt<std::string> synthDtype("dtype", cl::desc("matrix dtype: f32 | f16 | bf16 | q8_0 | q4_0 | q4_1 | q5_0 | q5_1 | q2_k | q3_k | q4_k | q5_k | q6_k | iq4_nl | iq4_xs | mxfp4 (k-quants and iq4_xs need rows that are multiples of 256)"),
                                cl::init("f32"), cl::sub(synthCmd));
cl::opt<uint64_t> synthSeed("seed", cl::desc("random seed"), cl::init(1), cl::sub(synthCmd));
cl::opt<int> synthHeadDimSliding("head-dim-sliding",
                                 cl::desc("head dim of the sliding layers instead of the preset's "
                                          "(as test checkpoints of other writers use: 64, 128)"),
                                 cl::init(0), cl::sub(synthCmd));
cl::opt<int> synthHeadDimFull("head-dim-full", cl::desc("head dim of the full layers instead of the preset's"),
                              cl::init(0), cl::sub(synthCmd));
cl::opt<int> synthLayers("layers",
                         cl::desc("keep this many layers of the preset, same widths (0: all); the "
                                  "KV-shared tail shrinks in proportion"),
                         cl::init(0), cl::sub(synthCmd));
cl::opt<int64_t> synthContext("context",
                              cl::desc("context length (positions) the model declares instead of "
                                       "the preset's (long-prompt tests on tiny models)"),
                              cl::init(0), cl::sub(synthCmd));
cl::opt<std::string> synthOut("o", cl::desc("output GGUF"), cl::Required, cl::sub(synthCmd));

// plan-info
cl::opt<std::string> planInfoDir(cl::Positional, cl::desc("<OUTDIR>"), cl::Required,
                                 cl::sub(planInfoCmd));

/// A failure whose diagnostics MLIR has already printed (with their locations): exit 1 and
/// say nothing more.
absl::Status diagnosed() { return absl::AbortedError(""); }

/// The exit code of a command: 0, or 1 with the failure's message on stderr.
int exitCode(const absl::Status &st) {
  if (st.ok()) return 0;
  if (!st.message().empty()) llvm::errs() << "gemma4c: " << std::string(st.message()) << "\n";
  return 1;
}

absl::Status writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), bytes.size());
  if (!out) return absl::UnavailableError("cannot write " + path);
  return absl::OkStatus();
}

absl::Status runSynth() {
  G4_ASSIGN_OR_RETURN(g4::ModelConfig config, g4::PresetConfig(synthLike));
  if (synthHeadDimSliding > 0) config.head_dim_sliding = synthHeadDimSliding;
  if (synthHeadDimFull > 0) config.head_dim_full = synthHeadDimFull;
  if (synthContext != 0) config.context_length = synthContext;
  if (synthHeadDimSliding > 0 || synthHeadDimFull > 0 || synthContext != 0) {
    G4_RETURN_IF_ERROR(config.Validate());
  }
  if (synthLayers != 0) {
    G4_ASSIGN_OR_RETURN(config, g4::WithLayers(config, synthLayers));
  }
  std::optional<g4::gguf::GgmlType> dtype = g4::gguf::ParseTypeName(synthDtype);
  if (!dtype) return absl::InvalidArgumentError("unknown --dtype '" + synthDtype + "'");
  G4_RETURN_IF_ERROR(g4::WriteSyntheticModel(config, *dtype, synthSeed, synthOut));
  llvm::outs() << "wrote " << synthOut << " (" << config.name << ", " << synthDtype << ", seed "
               << synthSeed << ")\n";
  return absl::OkStatus();
}

/// Compiles the spec text in memory and checks its weights against the GGUF file.
absl::Status checkSpecAgainstGguf(const std::string &specText, const g4::gguf::GgufFile &file) {
  mlir::g4::CompileOptions options;
  options.precision = mlir::g4::PrecisionPolicy::f32;
  mlir::FailureOr<std::string> plan = mlir::g4::compileSpecText(specText, "<generated spec>", options);
  if (mlir::failed(plan))
    return absl::InternalError("the generated spec does not compile (a bug; see above)");
  G4_ASSIGN_OR_RETURN(
      g4::plan::LoadedPlan loaded,
      g4::plan::LoadPlanBytes(std::vector<uint8_t>(plan->begin(), plan->end()), "<generated plan>"));
  g4::plan::BindingReport report = g4::plan::CheckBindings(*loaded.plan(), file);
  for (const std::string &u : report.unexpected)
    llvm::errs() << "gemma4c: warning: " << file.path() << ": tensor " << u
                 << " is not used by the spec\n";
  return g4::plan::BindingStatus(report, file.path());
}

absl::Status runSpec() {
  if (specFromGguf.empty() == specLike.empty())
    return absl::InvalidArgumentError(
        "spec needs exactly one of --from-gguf MODEL.gguf or --like PRESET");
  std::string text;
  if (!specLike.empty()) {
    G4_ASSIGN_OR_RETURN(g4::ModelConfig config, g4::PresetConfig(specLike));
    text = mlir::g4::writeSpec(config);
  } else {
    G4_ASSIGN_OR_RETURN(auto file, g4::gguf::GgufFile::Open(specFromGguf));
    G4_ASSIGN_OR_RETURN(g4::ModelConfig config, g4::ConfigFromGguf(*file));
    text = mlir::g4::writeSpec(config);
    G4_RETURN_IF_ERROR(checkSpecAgainstGguf(text, *file));
  }
  G4_RETURN_IF_ERROR(writeFile(specOut, text));
  llvm::outs() << "wrote " << specOut << "\n";
  return absl::OkStatus();
}

absl::Status runCompile() {
  mlir::g4::CompileOptions options;
  options.precision = precision;
  options.maxBatchTokens = maxBatch;
  options.reportPrecision = reportPrecision;
  options.attention = attention;
  options.router = router;
  options.emitKernels = !noEmit;
  options.cxx = cxx;
  options.cxxFlags = cxxFlags;
  options.nvcc = nvccPath;
  options.nvccFlags = nvccFlags;
  options.verbose = compileVerbose;
  {
    llvm::SmallVector<llvm::StringRef> targets;
    llvm::StringRef(target).split(targets, ',', -1, /*KeepEmpty=*/false);
    options.targetCpu = options.targetCuda = false;
    for (llvm::StringRef t : targets) {
      if (t.trim() == "cpu") options.targetCpu = true;
      else if (t.trim() == "cuda") options.targetCuda = true;
      else
        return absl::InvalidArgumentError("unknown --target '" + target +
                                          "' (expected cpu, cuda or cpu,cuda)");
    }
    if (!options.targetCpu && !options.targetCuda)
      return absl::InvalidArgumentError("--target needs cpu, cuda or cpu,cuda");
  }
  if (mlir::failed(mlir::g4::compileSpecFile(compileInput, compileOut, options))) return diagnosed();
  G4_ASSIGN_OR_RETURN(g4::plan::LoadedPlan plan, g4::plan::LoadPlan(compileOut));
  llvm::outs() << g4::plan::DescribePlan(*plan.plan());
  return absl::OkStatus();
}

absl::Status runPlanInfo() {
  G4_ASSIGN_OR_RETURN(g4::plan::LoadedPlan plan, g4::plan::LoadPlan(planInfoDir));
  llvm::outs() << g4::plan::DescribePlan(*plan.plan());
  return absl::OkStatus();
}

bool isExecutable(const std::string &path) { return !path.empty() && access(path.c_str(), X_OK) == 0; }

/// `gemma4c verify ARGS`: runs tools/verify/g4verify.py with the first Python that has torch and
/// transformers ($G4_PYTHON, else /opt/venv/bin/python, else python3), passing the directory of this
/// binary (where g4run sits) as --bin. Returns the tool's exit code.
int runVerify(int argc, char **argv) {
  std::string script = GEMMA4C_VERIFY_SCRIPT;
  if (const char *env = std::getenv("G4_VERIFY_SCRIPT")) script = env;
  if (access(script.c_str(), R_OK) != 0) {
    llvm::errs() << "gemma4c: " << script << ": the verify tool is missing (set G4_VERIFY_SCRIPT)\n";
    return 1;
  }
  std::vector<std::string> pythons;
  if (const char *env = std::getenv("G4_PYTHON")) pythons.push_back(env);
  pythons.push_back("/opt/venv/bin/python");
  pythons.push_back("python3");
  std::string python;
  std::string tried;
  for (const std::string &p : pythons) {
    if (p.find('/') != std::string::npos && !isExecutable(p)) continue;
    std::string probe = "'" + p + "' -c 'import torch, transformers.models.gemma4' >/dev/null 2>&1";
    tried += (tried.empty() ? "" : ", ") + p;
    if (std::system(probe.c_str()) == 0) {
      python = p;
      break;
    }
  }
  if (python.empty()) {
    llvm::errs() << "gemma4c: verify needs a Python with torch and transformers (Gemma 4); none of "
                 << tried << " has them (scripts/verify_setup.sh makes /opt/venv; or set G4_PYTHON)\n";
    return 1;
  }
  std::string binDir = llvm::sys::path::parent_path(
                           llvm::sys::fs::getMainExecutable(argv[0], (void *)&runVerify))
                           .str();
  std::vector<std::string> args = {python, script};
  bool hasBin = false;
  for (int i = 2; i < argc; ++i) {
    args.push_back(argv[i]);
    if (std::strcmp(argv[i], "--bin") == 0 || std::strncmp(argv[i], "--bin=", 6) == 0) hasBin = true;
  }
  if (!hasBin && !binDir.empty()) {
    args.push_back("--bin");
    args.push_back(binDir);
  }
  std::vector<char *> cargs;
  for (std::string &a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  std::fflush(nullptr);
  execvp(cargs[0], cargs.data());
  llvm::errs() << "gemma4c: cannot run " << python << ": " << std::strerror(errno) << "\n";
  return 1;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc >= 2 && std::strcmp(argv[1], "verify") == 0) return runVerify(argc, argv);
  llvm::InitLLVM init(argc, argv);
  if (!cl::ParseCommandLineOptions(argc, argv, "gemma4c: ahead-of-time compiler for Gemma 4\n",
                                   &llvm::errs()))
    return 2;
  if (compileCmd) return exitCode(runCompile());
  if (specCmd) return exitCode(runSpec());
  if (synthCmd) return exitCode(runSynth());
  if (planInfoCmd) return exitCode(runPlanInfo());
  llvm::errs() << "gemma4c: give a command: compile, spec, synth, plan-info or verify (--help)\n";
  return 2;
}

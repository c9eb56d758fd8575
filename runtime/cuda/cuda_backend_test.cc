// End to end through the device-agnostic exec::Session: the CUDA backend's logits against the
// CPU backend's on the tiny models, per precision policy: a prompt as one batch (tensor-core or
// fp32 prefill), then decode steps (the second and later replayed from the captured CUDA
// graph); emitted CUDA kernels against the interpreting CUDA backend; Rewind (the same logits
// after re-evaluating a rewound tail) and Dump (the same named tensors as the CPU's).
//   cuda_backend_test GEMMA4C_BIN SPECS_DIR WORK_DIR      exit 0 pass, 1 fail, 77 no GPU
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "exec/session.h"

namespace {

using g4::exec::Session;
using g4::exec::SessionOptions;

double Nmse(const float* want, const float* got, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  return den > 0 ? num / den : num;
}

bool Sh(const std::string& cmd) {
  if (std::system(cmd.c_str()) == 0) return true;
  std::printf("FAIL: %s\n", cmd.c_str());
  return false;
}

std::vector<float> ReadFloats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

bool Check(const absl::Status& st, const std::string& what) {
  if (st.ok()) return true;
  std::printf("FAIL: %s: %s\n", what.c_str(), st.ToString().c_str());
  return false;
}

bool UsedGraph(const Session& s) {
  auto* cuda = dynamic_cast<const g4::cuda::CudaBackend*>(&s.backend());
  return cuda && cuda->last_run_used_graph();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: cuda_backend_test GEMMA4C SPECS_DIR WORK_DIR\n");
    return 2;
  }
  std::string why;
  if (!g4::cuda::CudaDeviceAvailable(&why)) {
    std::printf("SKIPPED: %s\n", why.c_str());
    return 77;
  }
  const std::string bin = argv[1], specs = argv[2], work = argv[3];
  if (!Sh("mkdir -p " + work)) return 1;
  bool ok = true;
  std::printf("%-10s %-10s %-6s %-12s %-12s %-12s %-12s\n", "model", "policy", "dtype", "prefill nmse",
              "decode nmse", "rewind nmse", "dump nmse");
  for (std::string model : {"tiny-e2b", "tiny-moe", "tiny-31b"}) {
    for (std::string dtype : {"bf16", "q8_0"}) {
      const std::string gguf = work + "/" + model + "-" + dtype + ".gguf";
      if (!Sh(bin + " synth --like " + model + " --dtype " + dtype + " -o " + gguf + " > /dev/null")) return 1;
      for (std::string policy : {"f32", "minimal", "reference"}) {
        const std::string out = work + "/" + model + "-" + dtype + "-" + policy;
        // q8_0 runs also build the emitted CUDA kernels (--target=cpu,cuda): the GPU session
        // then runs fused steps with them, checked against the interpreting GPU session too.
        const bool emitted = dtype == "q8_0";
        if (!Sh(bin + " compile " + specs + "/" + model + ".mlir --precision " + policy +
                " --max-batch 64" + (emitted ? " --target=cpu,cuda" : "") + " -o " + out + " > /dev/null"))
          return 1;
        SessionOptions co;
        co.exact_quantized_matmul = true;
        co.force_interpreted = true;
        co.keep_intermediates = true;
        co.all_logits = true;
        SessionOptions go;
        go.device = g4::exec::Device::kCuda;
        go.exact_quantized_matmul = policy == "f32";  // bf16 tensor cores where the policy is bf16
        go.keep_intermediates = true;
        go.all_logits = true;
        SessionOptions io = go;
        io.force_interpreted = true;
        auto cpu = Session::Open(out, gguf, co);
        auto gpu = Session::Open(out, gguf, go);
        absl::StatusOr<std::unique_ptr<Session>> interp = std::unique_ptr<Session>();
        if (emitted) interp = Session::Open(out, gguf, io);
        if (!Check(cpu.status(), "open cpu " + out) || !Check(gpu.status(), "open cuda " + out) ||
            !Check(interp.status(), "open cuda interpreter " + out))
          return 1;
        std::vector<int32_t> prompt;
        for (int i = 0; i < 40; ++i) prompt.push_back((i * 37 + 2) % int((*cpu)->vocab()));
        const int64_t V = (*cpu)->vocab();
        if (!Check((*cpu)->Eval(prompt), "cpu eval") || !Check((*gpu)->Eval(prompt), "cuda eval")) return 1;
        const double prefill = Nmse((*cpu)->logits(), (*gpu)->logits(), int64_t(prompt.size()) * V);
        double kernels = 0;  // emitted kernels vs the interpreter, both on the GPU
        if (emitted) {
          if (!Check((*interp)->Eval(prompt), "cuda interpreter eval")) return 1;
          kernels = Nmse((*interp)->logits(), (*gpu)->logits(), int64_t(prompt.size()) * V);
        }
        // Dump: every named tensor of the GPU's prefill against the CPU's.
        double dump = 0;
        if (!Check((*cpu)->Dump(out + "/dump-cpu"), "cpu dump") || !Check((*gpu)->Dump(out + "/dump-gpu"), "cuda dump"))
          return 1;
        for (const char* stage : {"attn_norm-0", "l_out-0", "result_norm"}) {
          std::vector<float> a = ReadFloats(out + "/dump-cpu/" + stage + ".bin");
          std::vector<float> b = ReadFloats(out + "/dump-gpu/" + stage + ".bin");
          if (a.empty() || a.size() != b.size()) {
            std::printf("FAIL: dump %s: %zu vs %zu floats\n", stage, a.size(), b.size());
            return 1;
          }
          dump = std::max(dump, Nmse(a.data(), b.data(), int64_t(a.size())));
        }
        // Rewind: the last 8 prompt positions again, as a batch of their own, give the last row's
        // logits (the products of a small batch take another path: close, not identical).
        const std::vector<float> last((*gpu)->logits() + (prompt.size() - 1) * V, (*gpu)->logits() + prompt.size() * V);
        if (!Check((*gpu)->Rewind(int64_t(prompt.size()) - 8), "cuda rewind")) return 1;
        if (!Check((*gpu)->Eval(std::vector<int32_t>(prompt.end() - 8, prompt.end())), "cuda eval after rewind"))
          return 1;
        const double rewind = Nmse(last.data(), (*gpu)->logits() + 7 * V, V);
        double decode = 0;
        bool graph = false;
        for (int step = 0; step < 4; ++step) {
          std::vector<int32_t> tok = {int32_t((step * 101 + 7) % V)};
          if (!Check((*cpu)->Eval(tok), "cpu decode") || !Check((*gpu)->Eval(tok), "cuda decode")) return 1;
          decode = std::max(decode, Nmse((*cpu)->logits(), (*gpu)->logits(), V));
          graph = UsedGraph(**gpu);
          if (emitted) {
            if (!Check((*interp)->Eval(tok), "cuda interpreter decode")) return 1;
            kernels = std::max(kernels, Nmse((*interp)->logits(), (*gpu)->logits(), V));
          }
        }
        // f32: both fp32 throughout (~1e-10 expected); bf16 policies: bf16 tensor-core prefill
        // and a bf16 KV cache amplify single-ulp differences of rounded values.
        const double limit = policy == "f32" ? 1e-8 : 1e-3;
        const bool pass = prefill < limit && decode < limit && kernels < limit && dump < limit && rewind < limit && graph;
        ok &= pass;
        std::printf("%-10s %-10s %-6s %-12.3g %-12.3g %-12.3g %-12.3g %s", model.c_str(), policy.c_str(), dtype.c_str(),
                    prefill, decode, rewind, dump, pass ? "ok" : "FAIL");
        if (emitted) std::printf("  (emitted kernels vs interpreter: %.3g)", kernels);
        std::printf("\n");
      }
    }
  }
  return ok ? 0 : 1;
}

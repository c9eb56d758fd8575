// End to end: CudaSession logits against the CPU exec::Session on the tiny models, per
// precision policy: a prompt as one batch (tensor-core or fp32 prefill), then decode steps
// (the second and later replayed from the captured CUDA graph).
//   cuda_session_test GEMMA4C_BIN SPECS_DIR WORK_DIR      exit 0 pass, 1 fail, 77 no GPU
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cuda/cuda_session.h"
#include "exec/session.h"

namespace {

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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: cuda_session_test GEMMA4C SPECS_DIR WORK_DIR\n");
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
  std::printf("%-10s %-10s %-6s %-12s %-12s\n", "model", "policy", "dtype", "prefill nmse", "decode nmse");
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
                " --max-batch 64" + (emitted ? " --target=cpu,cuda" : "") + " -o " + out +
                " > /dev/null"))
          return 1;
        g4::exec::SessionOptions co;
        co.exact_quantized_matmul = true;
        co.force_builtin = true;
        auto cpu = g4::exec::Session::Open(out, gguf, co);
        g4::cuda::CudaSessionOptions go;
        go.exact_matmul = policy == "f32";  // bf16 tensor cores where the policy is bf16
        auto gpu = g4::cuda::CudaSession::Open(out, gguf, go);
        g4::cuda::CudaSessionOptions io = go;
        io.use_emitted_kernels = false;
        absl::StatusOr<std::unique_ptr<g4::cuda::CudaSession>> interp =
            std::unique_ptr<g4::cuda::CudaSession>();
        if (emitted) interp = g4::cuda::CudaSession::Open(out, gguf, io);
        if (emitted && !interp.ok()) {
          std::printf("FAIL: open %s (interpreter): %s\n", out.c_str(), interp.status().ToString().c_str());
          return 1;
        }
        if (!cpu.ok() || !gpu.ok()) {
          std::printf("FAIL: open %s: %s / %s\n", out.c_str(), cpu.status().ToString().c_str(),
                      gpu.status().ToString().c_str());
          return 1;
        }
        std::vector<int32_t> prompt;
        for (int i = 0; i < 40; ++i) prompt.push_back((i * 37 + 2) % int((*cpu)->vocab()));
        double prefill = 0, decode = 0;
        if (!(*cpu)->Eval(prompt).ok()) return 1;
        if (absl::Status st = (*gpu)->Eval(prompt); !st.ok()) {
          std::printf("FAIL: %s\n", st.ToString().c_str());
          return 1;
        }
        prefill = Nmse((*cpu)->logits(), (*gpu)->logits(), int64_t(prompt.size()) * (*cpu)->vocab());
        double kernels = 0;  // emitted kernels vs the interpreter, both on the GPU
        if (emitted) {
          if (absl::Status st = (*interp)->Eval(prompt); !st.ok()) {
            std::printf("FAIL: %s\n", st.ToString().c_str());
            return 1;
          }
          kernels = Nmse((*interp)->logits(), (*gpu)->logits(), int64_t(prompt.size()) * (*cpu)->vocab());
        }
        for (int step = 0; step < 4; ++step) {
          std::vector<int32_t> tok = {(step * 101 + 7) % int((*cpu)->vocab())};
          if (!(*cpu)->Eval(tok).ok()) return 1;
          if (absl::Status st = (*gpu)->Eval(tok); !st.ok()) {
            std::printf("FAIL: %s\n", st.ToString().c_str());
            return 1;
          }
          decode = std::max(decode, Nmse((*cpu)->logits(), (*gpu)->logits(), (*cpu)->vocab()));
          if (emitted) {
            if (absl::Status st = (*interp)->Eval(tok); !st.ok()) {
              std::printf("FAIL: %s\n", st.ToString().c_str());
              return 1;
            }
            kernels = std::max(kernels, Nmse((*interp)->logits(), (*gpu)->logits(), (*cpu)->vocab()));
          }
        }
        // f32: both fp32 throughout (~1e-10 expected); bf16 policies: bf16 tensor-core prefill
        // and a bf16 KV cache amplify single-ulp differences of rounded values.
        const double limit = policy == "f32" ? 1e-8 : 1e-3;
        const bool pass = prefill < limit && decode < limit && kernels < limit &&
                          (*gpu)->last_eval_used_graph();
        ok &= pass;
        std::printf("%-10s %-10s %-6s %-12.3g %-12.3g %s", model.c_str(), policy.c_str(),
                    dtype.c_str(), prefill, decode, pass ? "ok" : "FAIL");
        if (emitted) std::printf("  (emitted kernels vs interpreter: %.3g)", kernels);
        std::printf("\n");
      }
    }
  }
  return ok ? 0 : 1;
}

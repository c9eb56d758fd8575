// GPU matrix products against kernels/cpu MatMul (fp32 activations) on random data, for every
// GGUF dtype, decode (1..8 tokens, GEMV) and prefill (tensor-core bf16 and fp32 GEMM) shapes,
// plus the routed-expert GEMV.
#include <random>
#include <string>

#include "cpu/matmul.h"
#include "gguf/ggml_types.h"
#include "matvec.cuh"
#include "test_blocks.h"
#include "test_util.h"

using namespace g4::cuda;
using g4::gguf::GgmlType;

int main() {
  test::SkipWithoutDevice();
  bool ok = true;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t in = 512, out = 200;
  for (GgmlType type : g4::gguf::kAllGgmlTypes) {
    const auto& tr = g4::gguf::Traits(type);
    std::vector<float> wf(in * out);
    for (float& v : wf) v = nd(rng);
    std::vector<uint8_t> w;
    if (!test::MakeBlocks(type, wf, rng, &w)) return 1;
    uint8_t* dw = test::Upload(w);
    for (int64_t tokens : {1, 2, 5, 8, 9, 40, 130}) {
      std::vector<float> x(tokens * in), want(tokens * out);
      for (float& v : x) v = nd(rng);
      g4::cpu::MatMulOptions o;
      o.activations = g4::cpu::ActivationPrecision::kF32;
      if (!g4::cpu::MatMul(type, w.data(), in, out, x.data(), tokens, want.data(), o).ok()) return 1;
      float* dx = test::Upload(x);
      float* dy = test::Zeros<float>(tokens * out);
      for (MatMulPrecision p : {MatMulPrecision::kF32, MatMulPrecision::kBf16}) {
        if (tokens <= kGemvMaxTokens && p == MatMulPrecision::kBf16) continue;
        test::Check(MatMul(BlockType(uint32_t(type)), dw, in, out, dx, tokens, dy, false, p, nullptr),
                    "MatMul");
        const double e = test::Nmse(want, test::Download(dy, tokens * out));
        const bool bf16 = p == MatMulPrecision::kBf16;
        std::string what = std::string(tr.name) + " tokens=" + std::to_string(tokens) +
                           (bf16 ? " bf16-mma" : tokens <= 8 ? " gemv" : " f32-gemm") + " nmse";
        ok &= test::Expect(e < (bf16 ? 1e-4 : 1e-11), what.c_str(), e);
      }
      cudaFree(dx);
      cudaFree(dy);
    }
    // Routed experts: 3 experts of [out][in], items pick experts by device ids.
    if (type == GgmlType::kQ8_0 || type == GgmlType::kBF16 || type == GgmlType::kMXFP4) {
      const int64_t experts = 3, k = 2, tokens = 3, eb = int64_t(w.size()) / 1;
      std::vector<uint8_t> all;
      for (int e = 0; e < experts; ++e) {  // distinct random experts
        std::vector<float> f(in * out);
        for (float& v : f) v = nd(rng);
        std::vector<uint8_t> q(w.size());
        if (!g4::gguf::Quantize(type, f.data(), q.data(), in * out).ok()) return 1;
        all.insert(all.end(), q.begin(), q.end());
      }
      std::vector<int32_t> ids = {2, 0, 1, 1, 0, 2};
      std::vector<float> x(tokens * in);
      for (float& v : x) v = nd(rng);
      std::vector<float> want(tokens * k * out), row(out);
      g4::cpu::MatMulOptions o;
      o.activations = g4::cpu::ActivationPrecision::kF32;
      for (int64_t b = 0; b < tokens * k; ++b) {
        if (!g4::cpu::MatMul(type, all.data() + ids[b] * eb, in, out, x.data() + (b / k) * in, 1,
                             row.data(), o).ok()) return 1;
        std::copy(row.begin(), row.end(), want.begin() + b * out);
      }
      uint8_t* dall = test::Upload(all);
      int32_t* dids = test::Upload(ids);
      float* dx = test::Upload(x);
      float* dy = test::Zeros<float>(tokens * k * out);
      test::Check(ExpertMatVec(BlockType(uint32_t(type)), dall, in, out, eb, dids, tokens * k, dx,
                               k, dy, false, nullptr), "ExpertMatVec");
      const double e = test::Nmse(want, test::Download(dy, tokens * k * out));
      ok &= test::Expect(e < 1e-11, (std::string(tr.name) + " expert gemv nmse").c_str(), e);
      cudaFree(dall), cudaFree(dids), cudaFree(dx), cudaFree(dy);
    }
    cudaFree(dw);
  }
  return ok ? 0 : 1;
}

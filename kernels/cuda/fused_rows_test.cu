// The device helpers of the emitted CUDA kernels (kernels/common/fused_rows_cuda.cuh) against
// row_ops.h on the host. Built by nvcc in every CUDA build, so the header the emitted sources
// include is compiled here too; without a GPU the test reports skipped (exit 77).
#include <random>
#include <vector>

#include "fused_rows_cuda.cuh"
#include "test_util.h"

// A named namespace: nvcc's host stubs cannot tell two anonymous namespaces apart.
namespace fused_rows_test {

using namespace g4::fused;
namespace ops = g4::ops;
namespace test = g4::cuda::test;

constexpr int64_t kN = 512, kW = 256, kHeadDim = 256, kRotary = 128;

// A body as the compiler writes one for a q projection: norm, RoPE, then elementwise helpers;
// a barrier after each helper, since RmsNorm and Rope need the whole block on the row.
__global__ void __launch_bounds__(kThreads)
    Body(Args<3, 1> p, const int32_t* positions, bool round) {
  const int64_t r = blockIdx.y;
  float* a0 = p.a[0] + r * p.width[0];
  float* a1 = p.a[1] + r * p.width[1];
  float* a2 = p.a[2] + r * p.width[2];
  RmsNorm<kN, kW>(a0, p.v[0], 1e-6f, a1);
  __syncthreads();
  float pos;
  memcpy(&pos, &positions[r], 4);
  Rope<kN, kHeadDim, kRotary>(a1, 10000.0, PosAt(&pos), round);
  __syncthreads();
  Gelu<kN>(a1, a2);
  __syncthreads();
  Mul<kN>(a2, a0, a2);
  __syncthreads();
  SoftcapRow<kN>(a2, 30.0f, round, a2);
  __syncthreads();
  Round<kN>(a2, a2);
}

}  // namespace fused_rows_test

int main() {
  using namespace fused_rows_test;
  test::SkipWithoutDevice();
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  const int64_t T = 4;
  std::vector<float> x(T * kN), w(kW);
  for (float& v : x) v = nd(rng);
  for (float& v : w) v = nd(rng);
  std::vector<int32_t> positions = {0, 1, 77, 4096};
  bool ok = true;
  for (bool round : {false, true}) {
    std::vector<float> want(T * kN);
    for (int64_t t = 0; t < T; ++t) {
      float* y = &want[t * kN];
      const float* in = &x[t * kN];
      std::vector<float> normed(kN);
      ops::RmsNormRow(in, w.data(), kN, kW, 1e-6f, normed.data());
      ops::RopeRow(normed.data(), kN, kHeadDim, kRotary, 10000.0, positions[t], round);
      for (int64_t i = 0; i < kN; ++i)
        y[i] = ops::RoundBf16(ops::Softcap(ops::GeluTanh(normed[i]) * in[i], 30.0f, round));
    }
    Args<3, 1> p;
    p.a[0] = test::Upload(x);
    p.a[1] = test::Zeros<float>(T * kN);
    p.a[2] = test::Zeros<float>(T * kN);
    for (int i = 0; i < 3; ++i) p.width[i] = kN;
    p.v[0] = test::Upload(w);
    p.scratch = nullptr;
    Body<<<dim3(1, unsigned(T)), kThreads>>>(p, test::Upload(positions), round);
    test::Check(cudaGetLastError(), "Body");
    const double e = test::Nmse(want, test::Download(p.a[2], T * kN));
    ok &= test::Expect(e < 1e-10, round ? "fused body, bf16 nmse" : "fused body nmse", e);
  }
  return ok ? 0 : 1;
}

// Device dequantization against the reference dequantizer, for each supported block type.
// Exit codes: 0 pass, 1 mismatch or CUDA error, 77 skipped (no GPU).
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "dequant.cuh"
#include "gguf/ggml_types.h"
#include "test_blocks.h"

namespace {

using g4::gguf::GgmlType;

bool CheckType(GgmlType type) {
  const int64_t n = 32 * 1024;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> input(n);
  for (float& x : input) x = normal(rng);
  const auto& traits = g4::gguf::Traits(type);
  std::vector<uint8_t> blocks;
  if (!g4::cuda::test::MakeBlocks(type, input, rng, &blocks)) return false;
  std::vector<float> expected(n), got(n);
  g4::gguf::Dequantize(type, blocks.data(), expected.data(), n);

  void* d_src = nullptr;
  float* d_dst = nullptr;
  bool ok = cudaMalloc(&d_src, blocks.size()) == cudaSuccess &&
            cudaMalloc(&d_dst, n * sizeof(float)) == cudaSuccess &&
            cudaMemcpy(d_src, blocks.data(), blocks.size(), cudaMemcpyHostToDevice) == cudaSuccess &&
            g4::cuda::DequantizeToF32(static_cast<g4::cuda::BlockType>(type), d_src, d_dst, n,
                                      nullptr) == cudaSuccess &&
            cudaMemcpy(got.data(), d_dst, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess;
  cudaFree(d_src);
  cudaFree(d_dst);
  if (!ok) {
    std::printf("%s: CUDA error %s\n", traits.name, cudaGetErrorString(cudaGetLastError()));
    return false;
  }
  // Both compute d * q in fp32 from the same bits: results must be identical.
  if (std::memcmp(expected.data(), got.data(), n * sizeof(float)) != 0) {
    std::printf("%s: device and reference dequantization differ\n", traits.name);
    return false;
  }
  std::printf("%s: %lld elements identical\n", traits.name, static_cast<long long>(n));
  return true;
}

}  // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("SKIPPED: no CUDA device (%s)\n", cudaGetErrorString(cudaGetLastError()));
    return 77;
  }
  bool ok = true;
  for (GgmlType t : g4::gguf::kAllGgmlTypes) ok = CheckType(t) && ok;
  return ok ? 0 : 1;
}

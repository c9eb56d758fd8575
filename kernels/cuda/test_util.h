// Shared helpers of the CUDA kernel tests: skip without a GPU (exit 77), device buffers,
// error measures. Exit codes: 0 pass, 1 failure, 77 skipped.
#ifndef GEMMA4C_KERNELS_CUDA_TEST_UTIL_H_
#define GEMMA4C_KERNELS_CUDA_TEST_UTIL_H_

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <cuda_runtime.h>

namespace g4::cuda::test {

inline void SkipWithoutDevice() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("SKIPPED: no CUDA device (%s)\n", cudaGetErrorString(cudaGetLastError()));
    std::exit(77);
  }
}

inline void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::printf("FAIL: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

template <typename T>
T* Upload(const std::vector<T>& h) {
  void* d = nullptr;
  Check(cudaMalloc(&d, h.size() * sizeof(T) + 16), "cudaMalloc");
  Check(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
  return static_cast<T*>(d);
}
template <typename T>
T* Zeros(size_t n) { return Upload(std::vector<T>(n)); }
template <typename T>
std::vector<T> Download(const T* d, size_t n) {
  std::vector<T> h(n);
  Check(cudaDeviceSynchronize(), "kernel");
  Check(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost), "download");
  return h;
}

// Normalized mean squared error of got against want.
inline double Nmse(const std::vector<float>& want, const std::vector<float>& got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  return den > 0 ? num / den : num;
}

inline bool Expect(bool ok, const char* what, double value) {
  std::printf("%-60s %-4s %.3g\n", what, ok ? "ok" : "FAIL", value);
  return ok;
}

}  // namespace g4::cuda::test

#endif  // GEMMA4C_KERNELS_CUDA_TEST_UTIL_H_

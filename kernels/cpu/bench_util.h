// Timing helper shared by the kernel benchmarks (matmul_bench, attention_bench). Not a test.
#ifndef GEMMA4C_KERNELS_CPU_BENCH_UTIL_H_
#define GEMMA4C_KERNELS_CPU_BENCH_UTIL_H_

#include <algorithm>
#include <chrono>
#include <vector>

namespace g4::cpu::bench {

// Median wall time of `reps` calls of fn after one warm-up call (page faults, caches, worker
// wake-up).
template <typename Fn>
double MedianSeconds(int reps, Fn&& fn) {
  fn();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace g4::cpu::bench

#endif  // GEMMA4C_KERNELS_CPU_BENCH_UTIL_H_

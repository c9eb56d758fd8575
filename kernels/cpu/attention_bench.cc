// attention_bench: cpu::Attention on E2B's shapes (8 query heads over 1 KV head, bf16 cache):
// a prefill of T tokens from position 0 (sliding layer: head dim 256, window 512; full layer:
// head dim 512) and one decode token after T, per mode (sdpa, exact) and thread count.
// Not a test.
//
//   attention_bench [--tokens=512] [--threads=2] [--reps=3]
//
// GFLOP/s counts 4 * head_dim per visible (query row, key) pair (Q.K and P.V).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/attention.h"
#include "cpu/bench_util.h"

namespace {

using namespace g4::cpu;

using g4::cpu::bench::MedianSeconds;

uint16_t Bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t(u >> 16);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t T = 512;
  int threads = 2, reps = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--tokens=", 0) == 0) T = std::stoll(a.substr(9));
    else if (a.rfind("--threads=", 0) == 0) threads = std::stoi(a.substr(10));
    else if (a.rfind("--reps=", 0) == 0) reps = std::stoi(a.substr(7));
    else {
      std::fprintf(stderr, "usage: attention_bench [--tokens=N] [--threads=N] [--reps=N]\n");
      return 2;
    }
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::printf("attention_bench: %lld tokens, 8 heads / 1 KV head, bf16 cache, AVX2 %s\n", (long long)T,
              CpuHasAvx2() ? "yes" : "no");
  std::printf("| layer | mode | threads | prefill ms | prefill GFLOP/s | decode ms |\n|---|---|---|---|---|---|\n");
  for (const int64_t hd : {256, 512}) {
    const int64_t window = hd == 256 ? 512 : 0;
    std::vector<uint16_t> k((T + 1) * hd), v((T + 1) * hd);
    for (auto& x : k) x = Bf16(d(rng) * 0.5f);
    for (auto& x : v) x = Bf16(d(rng));
    std::vector<float> q((T + 1) * 8 * hd), out((T + 1) * 8 * hd);
    for (auto& x : q) x = d(rng) * 0.2f;
    KvView view;
    view.k16 = k.data();
    view.v16 = v.data();
    view.row = hd;
    view.capacity = T + 1;
    double pairs = 0;
    for (int64_t p = 0; p < T; ++p) pairs += double(window > 0 ? std::min<int64_t>(p + 1, window) : p + 1);
    for (const AttentionMode mode : {AttentionMode::kSdpa, AttentionMode::kExact}) {
      for (int th = 1; th <= threads; ++th) {
        ThreadPool pool(th);
        AttentionParams p;
        p.num_heads = 8;
        p.num_kv_heads = 1;
        p.head_dim = hd;
        p.window = window;
        p.mode = mode;
        const double s = MedianSeconds(reps, [&] { (void)Attention(p, view, q.data(), 0, T, out.data(), &pool); });
        const double sd = MedianSeconds(reps, [&] { (void)Attention(p, view, q.data(), T, 1, out.data(), &pool); });
        std::printf("| %s hd %lld | %s | %d | %.1f | %.1f | %.3f |\n", window ? "sliding" : "full", (long long)hd,
                    mode == AttentionMode::kSdpa ? "sdpa" : "exact", th, s * 1e3, 4.0 * hd * 8 * pairs / s / 1e9,
                    sd * 1e3);
      }
    }
  }
  return 0;
}

// GPU attention against a host transcription of the CPU interpreter's attention (double
// dot products and sums) on random data: head_dim 256 and 512, GQA, full and sliding (ring)
// layers, f32 and bf16 caches, eager roundings, prefill and decode batches.
#include <algorithm>
#include <random>
#include <string>

#include "attention.cuh"
#include "common/row_ops.h"
#include "test_util.h"

using namespace g4::cuda;

namespace {

struct Case {
  int64_t hd, nh, nkv, window, context, max_batch;
  bool bf16, eager;
};

bool Run(const Case& c, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t row = c.nkv * c.hd, width = c.nh * c.hd;
  KvLayerView v;
  v.row = row;
  v.ring = c.window > 0;
  v.capacity = v.ring ? std::min(c.window + c.max_batch, c.context) : c.context;
  v.bf16 = c.bf16;
  const size_t esz = c.bf16 ? 2 : 4;
  test::Check(cudaMalloc(&v.k, v.capacity * row * esz), "cudaMalloc");
  test::Check(cudaMalloc(&v.v, v.capacity * row * esz), "cudaMalloc");
  // Host history of every position's K/V (as stored: bf16-rounded for a bf16 cache).
  std::vector<float> K, V;
  double worst = 0;
  int64_t pos = 0;
  for (int64_t batch : {c.max_batch, int64_t(1), int64_t(1), int64_t(3), c.max_batch, c.max_batch}) {
    std::vector<float> q(batch * width), k(batch * row), vv(batch * row);
    for (float& x : q) x = nd(rng);
    for (float& x : k) x = nd(rng);
    for (float& x : vv) x = nd(rng);
    std::vector<int32_t> positions(batch);
    for (int64_t t = 0; t < batch; ++t) positions[t] = int32_t(pos + t);
    for (int64_t i = 0; i < batch * row; ++i) {
      K.push_back(c.bf16 ? g4::ops::RoundBf16(k[i]) : k[i]);
      V.push_back(c.bf16 ? g4::ops::RoundBf16(vv[i]) : vv[i]);
    }
    float *dq = test::Upload(q), *dk = test::Upload(k), *dv = test::Upload(vv);
    int32_t* dp = test::Upload(positions);
    float* dout = test::Zeros<float>(batch * width);
    AttentionParams p{c.nh, c.nkv, c.hd, c.window, 1.0f / 16, c.eager};
    test::Check(KvWrite(v, dk, dv, dp, batch, nullptr), "KvWrite");
    test::Check(Attention(p, v, dq, dp, batch, dout, nullptr), "Attention");
    std::vector<float> got = test::Download(dout, batch * width), want(batch * width);
    for (int64_t t = 0; t < batch; ++t) {
      const int64_t at = pos + t, lo = c.window > 0 ? std::max<int64_t>(0, at - c.window + 1) : 0;
      for (int64_t h = 0; h < c.nh; ++h) {
        const int64_t g = h / (c.nh / c.nkv);
        std::vector<float> s;
        float m = -INFINITY;
        for (int64_t kp = lo; kp <= at; ++kp) {
          double dot = 0;
          for (int64_t i = 0; i < c.hd; ++i) dot += double(q[t * width + h * c.hd + i]) * K[kp * row + g * c.hd + i];
          float sc = float(dot) * p.scale;
          if (c.eager) sc = g4::ops::RoundBf16(sc);
          s.push_back(sc);
          m = std::max(m, sc);
        }
        double sum = 0;
        for (float& x : s) sum += (x = std::exp(x - m));
        const float inv = float(1.0 / sum);
        for (int64_t i = 0; i < c.hd; ++i) {
          double acc = 0;
          for (size_t j = 0; j < s.size(); ++j) {
            float pj = s[j] * inv;
            if (c.eager) pj = g4::ops::RoundBf16(pj);
            acc += double(pj) * V[(lo + j) * row + g * c.hd + i];
          }
          want[t * width + h * c.hd + i] = float(acc);
        }
      }
    }
    worst = std::max(worst, test::Nmse(want, got));
    pos += batch;
    cudaFree(dq), cudaFree(dk), cudaFree(dv), cudaFree(dp), cudaFree(dout);
  }
  cudaFree(v.k), cudaFree(v.v);
  const std::string what = "hd=" + std::to_string(c.hd) + " heads=" + std::to_string(c.nh) + "/" +
                           std::to_string(c.nkv) + " window=" + std::to_string(c.window) +
                           (c.bf16 ? " bf16" : " f32") + (c.eager ? " eager" : "") + " nmse";
  // Eager: a probability near a bf16 rounding boundary may round the other way (1 ulp).
  return test::Expect(worst < (c.eager ? 1e-5 : 1e-10), what.c_str(), worst);
}

}  // namespace

int main() {
  test::SkipWithoutDevice();
  std::mt19937 rng(5);
  bool ok = true;
  for (Case c : {Case{256, 8, 1, 16, 256, 8, false, false}, Case{512, 8, 1, 0, 256, 40, false, false},
                 Case{256, 4, 2, 16, 256, 40, true, false}, Case{512, 2, 1, 0, 256, 40, true, true},
                 Case{256, 8, 2, 16, 256, 8, true, true}, Case{256, 6, 2, 0, 256, 33, false, false}})
    ok &= Run(c, rng);
  return ok ? 0 : 1;
}

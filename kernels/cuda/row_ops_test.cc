// GPU row kernels against kernels/common/row_ops.h on the host, on random data: rms_norm, rope
// (plain and bf16), gelu, softcap, round, softmax, top_k, renormalize, embed.
#include <algorithm>
#include <numeric>
#include <random>

#include "common/row_ops.h"
#include "gguf/ggml_types.h"
#include "row_ops.cuh"
#include "test_util.h"

using namespace g4::cuda;
namespace ops = g4::ops;

int main() {
  test::SkipWithoutDevice();
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  bool ok = true;
  const int64_t T = 5, n = 1024;
  std::vector<float> x(T * n), w(256);
  for (float& v : x) v = nd(rng);
  for (float& v : w) v = nd(rng);
  float *dx = test::Upload(x), *dw = test::Upload(w), *dy = test::Zeros<float>(T * n);
  std::vector<int32_t> positions = {0, 1, 7, 300, 9999};
  int32_t* dpos = test::Upload(positions);

  {  // rms_norm, groups of 256
    std::vector<float> want(T * n);
    for (int64_t t = 0; t < T; ++t) ops::RmsNormRow(&x[t * n], w.data(), n, 256, 1e-6f, &want[t * n]);
    test::Check(RmsNorm(dx, dw, dy, T, n, 256, 1e-6f, nullptr), "RmsNorm");
    const double e = test::Nmse(want, test::Download(dy, T * n));
    ok &= test::Expect(e < 1e-13, "rms_norm nmse", e);
  }
  for (bool round : {false, true}) {  // rope: 2 heads of 512, 128 rotary dims
    std::vector<float> want = x;
    for (int64_t t = 0; t < T; ++t) ops::RopeRow(&want[t * n], n, 512, 128, 1e6, positions[t], round);
    test::Check(cudaMemcpy(dy, dx, T * n * 4, cudaMemcpyDeviceToDevice), "copy");
    test::Check(Rope(dy, T, n, 512, 128, 1e6, dpos, round, nullptr), "Rope");
    const double e = test::Nmse(want, test::Download(dy, T * n));
    ok &= test::Expect(e < (round ? 1e-5 : 1e-13), round ? "rope bf16 nmse" : "rope nmse", e);
  }
  struct M { MapOp op; const char* name; } maps[] = {
      {MapOp::kGelu, "gelu"}, {MapOp::kSoftcap, "softcap"}, {MapOp::kRoundBf16, "round_bf16"}};
  for (const M& m : maps) {
    std::vector<float> want(T * n);
    for (int64_t i = 0; i < T * n; ++i)
      want[i] = m.op == MapOp::kGelu ? ops::GeluTanh(x[i])
              : m.op == MapOp::kSoftcap ? ops::Softcap(x[i], 3.0f, true)
                                        : ops::RoundBf16(x[i]);
    test::Check(Map(m.op, dx, dy, T * n, 3.0f, true, nullptr, nullptr), "Map");
    const double e = test::Nmse(want, test::Download(dy, T * n));
    ok &= test::Expect(e < 1e-5, m.name, e);
  }
  {  // softmax, top_k(8) and renormalize over 128-wide router rows
    const int64_t E = 128, k = 8;
    std::vector<float> want(x.begin(), x.begin() + T * E);
    for (int64_t t = 0; t < T; ++t) ops::SoftmaxRow(&want[t * E], E);
    test::Check(Softmax(dx, dy, T, E, nullptr), "Softmax");
    std::vector<float> got = test::Download(dy, T * E);
    ok &= test::Expect(test::Nmse(want, got) < 1e-12, "softmax nmse", test::Nmse(want, got));
    float* dv = test::Zeros<float>(T * k);
    int32_t* di = test::Zeros<int32_t>(T * k);
    test::Check(TopK(dx, dv, di, T, E, k, nullptr), "TopK");
    std::vector<int32_t> idx = test::Download(di, T * k);
    bool same = true;
    for (int64_t t = 0; t < T; ++t) {
      std::vector<int32_t> order(E);
      std::iota(order.begin(), order.end(), 0);
      const float* row = &x[t * E];
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [row](int32_t a, int32_t b) {
        return row[a] > row[b] || (row[a] == row[b] && a < b);
      });
      for (int64_t j = 0; j < k; ++j) same &= idx[t * k + j] == order[j];
    }
    ok &= test::Expect(same, "top_k indices identical", same ? 0 : 1);
    std::vector<float> vals = test::Download(dv, T * k), rwant(T * k);
    for (int64_t t = 0; t < T; ++t) {
      float sum = 0;
      for (int64_t j = 0; j < k; ++j) sum += vals[t * k + j];
      for (int64_t j = 0; j < k; ++j) rwant[t * k + j] = vals[t * k + j] / sum;
    }
    test::Check(Renormalize(dv, dv, T, k, false, nullptr), "Renormalize");
    const double e = test::Nmse(rwant, test::Download(dv, T * k));
    ok &= test::Expect(e == 0, "renormalize bit-identical", e);
  }
  {  // embed: Q8_0 table of 16 rows of 256, tokens by device id
    const int64_t rows = 16, width = 256;
    std::vector<float> table(rows * width);
    for (float& v : table) v = nd(rng);
    std::vector<uint8_t> q(rows * width / 32 * 34);
    if (!g4::gguf::Quantize(g4::gguf::GgmlType::kQ8_0, table.data(), q.data(), rows * width).ok()) return 1;
    std::vector<int32_t> toks = {3, 0, 15, 3};
    std::vector<float> want(toks.size() * width);
    for (size_t t = 0; t < toks.size(); ++t)
      g4::gguf::Dequantize(g4::gguf::GgmlType::kQ8_0, q.data() + toks[t] * (width / 32 * 34), &want[t * width], width);
    uint8_t* dq = test::Upload(q);
    int32_t* dt = test::Upload(toks);
    test::Check(Embed(BlockType::kQ8_0, dq, width, dt, dy, int64_t(toks.size()), nullptr), "Embed");
    const double e = test::Nmse(want, test::Download(dy, toks.size() * width));
    ok &= test::Expect(e == 0, "embed q8_0 bit-identical", e);
  }
  return ok ? 0 : 1;
}

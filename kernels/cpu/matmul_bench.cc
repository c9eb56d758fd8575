// matmul_bench: GEMV GB/s and GEMM GFLOP/s of cpu::MatMul per dtype on a 4096 x 4096 matrix,
// on 1 and 2 threads, next to this machine's memcpy bandwidth. Not a test.
//
//   matmul_bench [--isa=auto|avx2|avxvnni|avx512bf16|portable] [--tokens=64] [--reps=N]
//                [--shape=IN,OUT] [--types=q4_k,q5_0,...] [--decode=DTYPE] [--packed] [--bf16-acts]
// (default types: the first seven; a type without a quantizer would be filled with random
// blocks, which times the same code)
//
// --decode=DTYPE (q8_0, q4_0, ...) measures instead what a decode step's matrix products do:
// 30 E2B-shaped layers (q 1536->2048, k/v 1536->256, o 2048->1536, gate/up 1536->6144,
// down 6144->1536; ~1.1 GB at q8_0, far more than the last-level cache) run one after another as
// GEMVs on 2 threads, next to a 2-thread read-only sweep of the same bytes (the floor).
//
// Q8_0 and Q4_0 also get a `packed` row (cpu::PackedMatrix, the layout the runtime packs them
// into at load); --packed makes --decode run the packed matrices.
//
// GEMV GB/s counts the weight bytes read once per call (the activations are 16 KiB); GEMM
// GFLOP/s counts 2 * in * out * tokens. Each figure is the median of several timed calls after a
// warm-up. memcpy GB/s counts bytes copied (the memory traffic is twice that: read + write).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <optional>
#include <sstream>
#include <vector>

#include "common/row_ops.h"
#include "cpu/bench_util.h"
#include "cpu/huge_pages.h"
#include "cpu/matmul.h"
#include "cpu/packed_matmul.h"

namespace {

using g4::cpu::ActivationPrecision;
using g4::cpu::Isa;
using g4::cpu::MatMulOptions;
using g4::cpu::ThreadPool;
using g4::gguf::GgmlType;

int64_t kIn = 4096, kOut = 4096;  // --shape=IN,OUT
// --bf16-acts: activations rounded to bf16, as every Linear input is under the `reference`
// policy; packed BF16 matrices then take the pair products where the CPU has them (matmul.h).
bool g_bf16_acts = false;

void FillActivations(std::mt19937* rng, std::vector<float>* x) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : *x) v = g_bf16_acts ? g4::ops::RoundBf16(normal(*rng)) : normal(*rng);
}
}  // namespace
namespace {

using g4::cpu::bench::MedianSeconds;

double MemcpyGBs() {
  const size_t bytes = size_t{256} << 20;
  std::vector<char> a(bytes, 1), b(bytes, 2);
  const double s = MedianSeconds(5, [&] { std::memcpy(b.data(), a.data(), bytes); });
  return bytes / s / 1e9;
}

// A 4096 x 4096 weight matrix of `type`: 256 distinct quantized rows repeated (quantizing 16M
// values with the reference K-quant quantizers takes seconds; the bytes' values do not matter
// for speed, their addresses do).
std::vector<uint8_t> MakeWeights(GgmlType type, int64_t kIn = ::kIn, int64_t kOut = ::kOut) {
  const int64_t kDistinct = std::min<int64_t>(256, kOut);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> src(static_cast<size_t>(kIn * kDistinct));
  for (float& v : src) v = normal(rng);
  const size_t row_bytes = *g4::gguf::RowBytes(type, kIn);
  std::vector<uint8_t> w(row_bytes * kOut);
  if (g4::gguf::CanQuantize(type)) {
    if (!g4::gguf::Quantize(type, src.data(), w.data(), kIn * kDistinct).ok()) std::abort();
  } else {  // no quantizer: random blocks (the kernels' work does not depend on the values)
    for (size_t i = 0; i < row_bytes * kDistinct; ++i) w[i] = static_cast<uint8_t>(rng() >> 13);
  }
  for (int64_t r = kDistinct; r < kOut; ++r) {
    std::memcpy(w.data() + r * row_bytes, w.data() + (r % kDistinct) * row_bytes, row_bytes);
  }
  return w;
}

// One decode step's matrix products over `layers` E2B-shaped layers on `pool`, against a
// read-only sweep of the same weight bytes by the same threads. Prints GB/s of both.
int DecodeSweep(GgmlType type, Isa isa, int reps, ThreadPool* pool, int kLayers, bool packed) {
  struct Shape { int64_t in, out; };
  const Shape kLayer[] = {{1536, 2048}, {1536, 256}, {1536, 256}, {2048, 1536},
                          {1536, 6144}, {1536, 6144}, {6144, 1536}};
  std::vector<Shape> shapes;
  size_t bytes = 0;
  std::vector<Shape> layer(std::begin(kLayer), std::end(kLayer));
  if (const char* one = std::getenv("DECODE_SHAPE")) {  // "in,out": that matrix alone
    layer = {{std::atoll(one), std::atoll(std::strchr(one, ',') + 1)}};
  }
  // The weights live in huge pages, as the runtime's copies do (huge_pages.h), and the floor
  // sweeps those same pages.
  std::vector<g4::cpu::HugePageBuffer> huge;
  for (int l = 0; l < kLayers; ++l) {
    for (const Shape& s : layer) {
      const std::vector<uint8_t> bytes_of = MakeWeights(type, s.in, s.out);
      auto buffer = g4::cpu::HugePageBuffer::Allocate(bytes_of.size(), "matmul_bench weights");
      if (!buffer.ok()) return 2;
      std::memcpy(buffer->data(), bytes_of.data(), bytes_of.size());
      huge.push_back(*std::move(buffer));
      shapes.push_back(s);
      bytes += bytes_of.size();
    }
  }
  std::mt19937 rng(3);
  int64_t max_in = 0, max_out = 0;  // DECODE_SHAPE may be wider than E2B's layers
  for (const Shape& s : shapes) max_in = std::max(max_in, s.in), max_out = std::max(max_out, s.out);
  std::vector<float> x(static_cast<size_t>(max_in)), y(static_cast<size_t>(max_out));
  FillActivations(&rng, &x);
  MatMulOptions options;
  options.isa = isa;
  options.pool = pool;
  std::vector<g4::cpu::PackedMatrix> pw;
  if (packed) {
    for (size_t i = 0; i < huge.size(); ++i) {
      auto m = g4::cpu::PackedMatrix::Pack(type, huge[i].data(), shapes[i].in, shapes[i].out, pool);
      if (!m.ok()) {
        std::fprintf(stderr, "%s\n", std::string(m.status().message()).c_str());
        return 2;
      }
      pw.push_back(*std::move(m));
    }
  }
  const double gemv = MedianSeconds(reps, [&] {
    for (size_t i = 0; i < huge.size(); ++i) {
      const absl::Status st =
          packed ? g4::cpu::MatMulPacked(pw[i], x.data(), 1, y.data(), options)
                 : g4::cpu::MatMul(type, huge[i].data(), shapes[i].in, shapes[i].out, x.data(), 1,
                                   y.data(), options);
      if (!st.ok()) std::abort();
    }
  });
  // The floor: each thread sums its half of every matrix with 256-bit loads (no compute to
  // speak of), matrix after matrix like the GEMVs.
  std::vector<uint64_t> sink(64);
  const double sweep = MedianSeconds(reps, [&] {
    for (const g4::cpu::HugePageBuffer& m : huge) {
      const int64_t lines = static_cast<int64_t>(m.size() / 64);
      pool->ParallelFor(lines, [&](int64_t b, int64_t e) {
        uint64_t acc = 0;
        for (int64_t i = b; i < e; ++i) {
          uint64_t v[8];
          std::memcpy(v, m.data() + 64 * i, 64);
          acc += v[0] ^ v[1] ^ v[2] ^ v[3] ^ v[4] ^ v[5] ^ v[6] ^ v[7];
        }
        sink[(b * 8) % 64] += acc;
      });
    }
  });
  std::printf("decode sweep %s%s: %d layers, %.2f GB: GEMV %.1f GB/s (%.1f ms), read floor %.1f GB/s "
              "(%.1f ms), %.0f%% of floor\n",
              g4::gguf::Traits(type).name, packed ? " (packed)" : "", kLayers, bytes / 1e9, bytes / gemv / 1e9, gemv * 1e3,
              bytes / sweep / 1e9, sweep * 1e3, 100.0 * sweep / gemv);
  return sink[0] == 42 ? 1 : 0;
}

// One table row: GEMV GB/s (`bytes` read per call) and GEMM GFLOP/s (`tokens` tokens) on 1 and
// 2 threads; run(n, options) multiplies n tokens.
template <typename Run>
void PrintRow(const char* dtype, const char* acts, uint64_t bytes, Isa isa, ThreadPool* pool2,
              int reps, int64_t tokens, Run&& run) {
  double gbs[2], gflops[2];
  for (int threads = 1; threads <= 2; ++threads) {
    MatMulOptions options;
    options.isa = isa;
    options.pool = threads == 2 ? pool2 : nullptr;
    gbs[threads - 1] = bytes / MedianSeconds(reps * 3, [&] { run(1, options); }) / 1e9;
    gflops[threads - 1] =
        2.0 * kIn * kOut * tokens / MedianSeconds(reps, [&] { run(tokens, options); }) / 1e9;
  }
  std::printf("%-6s %-6s %7.1f | %12.1f %12.1f | %14.1f %14.1f\n", dtype, acts, bytes / 1e6, gbs[0],
              gbs[1], gflops[0], gflops[1]);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Isa isa = Isa::kAuto;
  int64_t tokens = 64;
  int reps = 9;
  bool packed = false;
  std::optional<GgmlType> decode;
  std::vector<GgmlType> types = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ8_0,
                                 GgmlType::kQ4_0, GgmlType::kQ4_K, GgmlType::kQ6_K};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--isa=portable") isa = Isa::kPortable;
    else if (a == "--isa=avx2") isa = Isa::kAvx2;
    else if (a == "--isa=avxvnni") isa = Isa::kAvxVnni;
    else if (a == "--isa=avx512bf16") isa = Isa::kAvx512Bf16;
    else if (a == "--bf16-acts") g_bf16_acts = true;
    else if (a.rfind("--tokens=", 0) == 0) tokens = std::stoll(a.substr(9));
    else if (a.rfind("--reps=", 0) == 0) reps = std::stoi(a.substr(7));
    else if (a.rfind("--shape=", 0) == 0) {  // IN,OUT: the matrix of the GEMV/GEMM table
      kIn = std::stoll(a.substr(8));
      kOut = std::stoll(a.substr(a.find(',') + 1));
    }
    else if (a == "--packed") packed = true;
    else if (a.rfind("--decode=", 0) == 0) {
      decode = g4::gguf::ParseTypeName(a.substr(9));
      if (!decode) {
        std::fprintf(stderr, "unknown dtype %s\n", a.c_str() + 9);
        return 2;
      }
    }
    else if (a.rfind("--types=", 0) == 0) {
      types.clear();
      std::stringstream list(a.substr(8));
      for (std::string name; std::getline(list, name, ',');) {
        const std::optional<GgmlType> t = g4::gguf::ParseTypeName(name);
        if (!t) {
          std::fprintf(stderr, "unknown type '%s'\n", name.c_str());
          return 2;
        }
        types.push_back(*t);
      }
    }
    else if (a != "--isa=auto") {
      std::fprintf(stderr,
                   "usage: %s [--isa=auto|avx2|avxvnni|avx512bf16|portable] [--tokens=N] "
                   "[--reps=N] [--shape=IN,OUT] [--types=T,...] [--decode=DTYPE] [--packed] "
                   "[--bf16-acts]\n",
                   argv[0]);
      return 2;
    }
  }
  if (decode) {
    const char* layers = std::getenv("DECODE_LAYERS");  // 1: the working set fits in L3
    const char* threads = std::getenv("DECODE_THREADS");
    ThreadPool pool(threads ? std::atoi(threads) : 2);
    return DecodeSweep(*decode, isa, reps, &pool, layers ? std::atoi(layers) : 30, packed);
  }
  std::printf("isa: %s, matrix %lld x %lld, GEMM tokens %lld\n",
              isa == Isa::kPortable ? "portable"
              : isa == Isa::kAvx2   ? "avx2"
              : g4::cpu::CpuHasAvxVnni() ? "avxvnni"
              : g4::cpu::CpuHasAvx2()    ? "avx2"
                                         : "portable",
              static_cast<long long>(kOut), static_cast<long long>(kIn),
              static_cast<long long>(tokens));
  std::printf("memcpy: %.1f GB/s (bytes copied; traffic is 2x)\n\n", MemcpyGBs());

  std::mt19937 rng(2);
  std::vector<float> x(static_cast<size_t>(kIn * tokens));
  FillActivations(&rng, &x);
  std::vector<float> y(static_cast<size_t>(kOut * tokens));
  ThreadPool pool2(2);

  std::printf("%-6s %-6s %7s | %12s %12s | %14s %14s\n", "dtype", "acts", "MB", "GEMV GB/s 1t",
              "GEMV GB/s 2t", "GEMM GFLOP/s 1t", "GEMM GFLOP/s 2t");
  for (GgmlType type : types) {
    const std::vector<uint8_t> w = MakeWeights(type);
    const bool quantized = g4::gguf::Traits(type).block_elems > 1;
    const char* name = g4::gguf::Traits(type).name;
    for (ActivationPrecision act : {ActivationPrecision::kQ8, ActivationPrecision::kF32}) {
      if (!quantized && act == ActivationPrecision::kQ8) continue;
      const char* label = quantized && act == ActivationPrecision::kQ8 ? "q8" : "f32";
      PrintRow(name, label, w.size(), isa, &pool2, reps, tokens, [&](int64_t n, MatMulOptions o) {
        o.activations = act;
        if (!g4::cpu::MatMul(type, w.data(), kIn, kOut, x.data(), n, y.data(), o).ok()) std::abort();
      });
    }
    if (!g4::cpu::PackedMatrix::Supports(type)) continue;
    auto pm = g4::cpu::PackedMatrix::Pack(type, w.data(), kIn, kOut);
    if (!pm.ok()) std::abort();
    PrintRow(name, "packed", pm->bytes(), isa, &pool2, reps, tokens,
             [&](int64_t n, const MatMulOptions& o) {
               if (!g4::cpu::MatMulPacked(*pm, x.data(), n, y.data(), o).ok()) std::abort();
             });
  }
  return 0;
}

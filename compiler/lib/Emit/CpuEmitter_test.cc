// The emitted CPU kernel of a hand-written region (linear + round, RMSNorm + round, residual
// add + round), built with the host compiler, loaded with dlopen and run on known inputs;
// the expected values are computed here from the ops' definitions. The same for a wide
// elementwise region (linear, GELU, product), whose one-token call splits its columns. Then the helpers of
// kernels/common/fused_rows_cpu.h, which the emitted code includes, against row_ops.h and
// hand-worked values.
#include "g4/Emit/CpuEmitter.h"

#include <dlfcn.h>

#include <cmath>
#include <optional>
#include <string>
#include <cstring>
#include <vector>

#include "exec/kernel_abi.h"
#include "fused_rows_cpu.h"
#include "g4/IR/G4Dialect.h"
#include "g4/Plan/PlanWriter.h"
#include "g4/Transforms/Passes.h"
#include "gtest/gtest.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

namespace {

constexpr const char *kSpec = R"mlir(
func.func @forward(%x: tensor<?x8xf32>, %h: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %w = g4.weight "proj.weight" : !g4.weight<8x4 : f32>
  %wn = g4.weight "norm.weight" : !g4.weight<4 : f32>
  %l = g4.linear %x, %w : (tensor<?x8xf32>, !g4.weight<8x4 : f32>) -> tensor<?x4xf32>
  %lr = g4.round_bf16 %l {rule = #g4.rule<linear_out>, island = 0 : i64} : tensor<?x4xf32>
  %n = g4.rms_norm %lr, %wn {eps = 1.0e-6 : f64, width = 4 : i64} : (tensor<?x4xf32>, !g4.weight<4 : f32>) -> tensor<?x4xf32>
  %nr = g4.round_bf16 %n {rule = #g4.rule<norm_out>, island = 1 : i64} : tensor<?x4xf32>
  %s = g4.add %h, %nr : tensor<?x4xf32>
  %sr = g4.round_bf16 %s {rule = #g4.rule<residual_add>, island = 2 : i64} : tensor<?x4xf32>
  return %sr : tensor<?x4xf32>
}
)mlir";

constexpr int64_t kTokens = 3, kIn = 8, kOut = 4;

// bf16 round-to-nearest-even, written out independently of row_ops.h.
float Bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint32_t lsb = (u >> 16) & 1u;
  u = (u + 0x7fffu + lsb) & 0xffff0000u;
  float y;
  std::memcpy(&y, &u, 4);
  return y;
}

struct FakeRuntime {
  int calls = 0;
  int lastRound = -1;
  int64_t lastTokens = 0;
  int parallelCalls = 0;
};

void FakeLinear(void *rt, const g4k_weight *w, const float *x, int64_t tokens, float *y, int round) {
  auto *fake = static_cast<FakeRuntime *>(rt);
  ++fake->calls;
  fake->lastRound = round;
  fake->lastTokens = tokens;
  const float *m = static_cast<const float *>(w->data);  // [ne1 = out][ne0 = in]
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t o = 0; o < w->ne[1]; ++o) {
      float acc = 0;
      for (int64_t i = 0; i < w->ne[0]; ++i) acc += m[o * w->ne[0] + i] * x[t * w->ne[0] + i];
      y[t * w->ne[1] + o] = round ? Bf16(acc) : acc;
    }
}

// parallel_rows as a runtime with many threads might split: one row per range, last row first.
void FakeParallelRows(void *rt, int64_t n, void (*fn)(void *, int64_t, int64_t), void *ctx) {
  ++static_cast<FakeRuntime *>(rt)->parallelCalls;
  for (int64_t r = n - 1; r >= 0; --r) fn(ctx, r, r + 1);
}

// A spec's one fused region compiled (fuse, plan memory, layout) and its kernel built with the
// host compiler and loaded: the emitted source, the plan layout and the kernel function.
struct BuiltKernel {
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::func::FuncOp forward;
  std::optional<mlir::g4::PlanLayout> layout;
  llvm::SmallString<128> dir;
  std::string source;
  void *lib = nullptr;
  g4k_fn fn = nullptr;

  ~BuiltKernel() {
    if (lib) dlclose(lib);
    if (!dir.empty()) llvm::sys::fs::remove_directories(dir);
  }

  // Fills the members; gtest failures on the way (call through ASSERT_NO_FATAL_FAILURE).
  void Build(const char *spec) {
    mlir::DialectRegistry registry;
    registry.insert<mlir::g4::G4Dialect, mlir::func::FuncDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
    module = mlir::parseSourceString<mlir::ModuleOp>(spec, &context);
    ASSERT_TRUE(module);
    mlir::PassManager pm(&context);
    pm.addPass(mlir::g4::createG4Fuse());
    pm.addPass(mlir::g4::createG4PlanMemory());
    ASSERT_TRUE(mlir::succeeded(pm.run(*module)));

    forward = module->lookupSymbol<mlir::func::FuncOp>("forward");
    auto regions = llvm::to_vector(forward.getBody().front().getOps<mlir::g4::FusedOp>());
    ASSERT_EQ(regions.size(), 1u) << "one region: the linear and the row ops after it";
    std::string kernel = regions.front().getKernel().str();
    ASSERT_FALSE(kernel.empty());

    mlir::FailureOr<mlir::g4::PlanLayout> laid = mlir::g4::layoutPlan(forward);
    ASSERT_TRUE(mlir::succeeded(laid));
    layout = std::move(*laid);
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("g4emit", dir));
    mlir::g4::CpuEmitStats stats;
    ASSERT_TRUE(mlir::succeeded(mlir::g4::buildCpuKernels(forward, *layout, dir, {}, &stats)));
    EXPECT_EQ(stats.kernels, 1u);
    auto text = llvm::MemoryBuffer::getFile(dir + "/src/kernels_cpu.cc");
    ASSERT_TRUE(bool(text));
    source = (*text)->getBuffer().str();

    lib = dlopen((dir + "/kernels_cpu.so").str().c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(lib, nullptr) << dlerror();
    auto version = reinterpret_cast<uint32_t (*)()>(dlsym(lib, "g4k_abi_version"));
    ASSERT_NE(version, nullptr);
    EXPECT_EQ(version(), G4K_ABI_VERSION);
    fn = reinterpret_cast<g4k_fn>(dlsym(lib, kernel.c_str()));
    ASSERT_NE(fn, nullptr) << kernel;
  }

  // The plan tensor id of the forward function's argument i / of its returned value.
  uint32_t Argument(unsigned i) { return layout->tensorIds.lookup(forward.getArgument(i)); }
  uint32_t Returned() {
    auto ret = llvm::cast<mlir::func::ReturnOp>(forward.getBody().front().getTerminator());
    return layout->tensorIds.lookup(ret.getOperand(0));
  }

  // Every plan tensor as `tokens` rows of NaN (its width from the layout), bound in `tensors`.
  void AllocateTensors(int64_t tokens, std::vector<std::vector<float>> *storage,
                       std::vector<g4k_tensor> *tensors) const {
    storage->resize(layout->tensors.size());
    tensors->resize(layout->tensors.size());
    for (size_t i = 0; i < tensors->size(); ++i) {
      auto type = llvm::cast<mlir::RankedTensorType>(layout->tensors[i].value.getType());
      (*tensors)[i].width = type.getShape().back();
      (*storage)[i].assign(tokens * (*tensors)[i].width, std::nanf(""));
    }
  }
};

// Points each tensor at its storage (after the inputs were assigned into it).
void BindTensors(std::vector<std::vector<float>> &storage, std::vector<g4k_tensor> &tensors) {
  for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = storage[i].data();
}

TEST(CpuEmitter, FusedRegionKernelMatchesHandComputation) {
  BuiltKernel k;
  ASSERT_NO_FATAL_FAILURE(k.Build(kSpec));
  EXPECT_EQ(k.source.find("ForColumns"), std::string::npos) << "a norm is not elementwise";
  mlir::g4::PlanLayout *layout = &*k.layout;
  g4k_fn fn = k.fn;

  // Inputs: x [3][8], h [3][4], W [4][8] (ne [8, 4]), norm weight [4].
  std::vector<float> x(kTokens * kIn), h(kTokens * kOut), w(kOut * kIn), wn = {0.5f, 1.25f, -2.0f, 3.0f};
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * float(int(i % 7) - 3) + 0.013f * float(i);
  for (size_t i = 0; i < h.size(); ++i) h[i] = 1.0f - 0.37f * float(i);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.05f * float(int(i % 5) - 2) + 0.001f * float(i);

  std::vector<std::vector<float>> storage;
  std::vector<g4k_tensor> tensors;
  k.AllocateTensors(kTokens, &storage, &tensors);
  storage[k.Argument(0)] = x;
  storage[k.Argument(1)] = h;
  BindTensors(storage, tensors);
  std::vector<g4k_weight> weights(layout->weights.size());
  for (auto [i, op] : llvm::enumerate(layout->weights)) {
    bool matrix = op.getName() == "proj.weight";
    weights[i] = {matrix ? static_cast<const void *>(w.data()) : wn.data(), 0, matrix ? 2 : 1,
                  {matrix ? kIn : kOut, matrix ? kOut : 1, 1, 1}, matrix ? nullptr : wn.data()};
  }
  FakeRuntime rt;
  g4k_api api{G4K_ABI_VERSION, &FakeLinear};
  std::vector<int32_t> positions(kTokens, 0);
  g4k_call call{&api, &rt, kTokens, positions.data(), tensors.data(), weights.data()};
  fn(&call);

  EXPECT_EQ(rt.calls, 1);
  EXPECT_EQ(rt.lastRound, 1) << "the rounding after the linear belongs in its epilogue";
  EXPECT_EQ(rt.lastTokens, kTokens);
  const float *out = storage[k.Returned()].data();
  for (int64_t t = 0; t < kTokens; ++t) {
    float l[kOut];
    double ss = 0;
    for (int64_t o = 0; o < kOut; ++o) {
      float acc = 0;
      for (int64_t i = 0; i < kIn; ++i) acc += w[o * kIn + i] * x[t * kIn + i];
      l[o] = Bf16(acc);
      ss += double(l[o]) * double(l[o]);
    }
    const float inv = float(1.0 / std::sqrt(ss / kOut + double(1.0e-6f)));
    for (int64_t o = 0; o < kOut; ++o) {
      const float normed = Bf16(l[o] * inv * wn[o]);
      const float expected = Bf16(h[t * kOut + o] + normed);
      EXPECT_EQ(out[t * kOut + o], expected) << "token " << t << ", feature " << o;
    }
  }

  // With the runtime's parallel_rows: the token rows in ranges of one, last first (any split
  // and order must give the same rows), bitwise the same output.
  const std::vector<float> serial(out, out + kTokens * kOut);
  std::fill(storage[k.Returned()].begin(), storage[k.Returned()].end(), std::nanf(""));
  api.parallel_rows = &FakeParallelRows;
  fn(&call);
  EXPECT_EQ(rt.parallelCalls, 1);
  EXPECT_EQ(std::memcmp(serial.data(), out, serial.size() * sizeof(float)), 0);
}

// A wide elementwise region (linear, GELU, product with a second input, each rounded): one
// token's row is split into column blocks (ForColumns), a batch takes ForRows. Both against
// the ops' definitions, and the one-token call bit for bit against row 0 of the batch.
constexpr const char *kWideSpec = R"mlir(
func.func @forward(%x: tensor<?x8xf32>, %h: tensor<?x4096xf32>) -> tensor<?x4096xf32> {
  %w = g4.weight "up.weight" : !g4.weight<8x4096 : f32>
  %l = g4.linear %x, %w : (tensor<?x8xf32>, !g4.weight<8x4096 : f32>) -> tensor<?x4096xf32>
  %lr = g4.round_bf16 %l {rule = #g4.rule<linear_out>, island = 0 : i64} : tensor<?x4096xf32>
  %g = g4.gelu_tanh %lr : tensor<?x4096xf32>
  %gr = g4.round_bf16 %g {rule = #g4.rule<gelu_out>, island = 1 : i64} : tensor<?x4096xf32>
  %m = g4.mul %gr, %h : tensor<?x4096xf32>
  %mr = g4.round_bf16 %m {rule = #g4.rule<gelu_mul>, island = 2 : i64} : tensor<?x4096xf32>
  return %mr : tensor<?x4096xf32>
}
)mlir";

TEST(CpuEmitter, OneTokenOfAWideElementwiseRegionSplitsItsColumns) {
  constexpr int64_t kWide = 4096, kBatch = 2;
  BuiltKernel k;
  ASSERT_NO_FATAL_FAILURE(k.Build(kWideSpec));
  EXPECT_NE(k.source.find("ForColumns<4096, 512>"), std::string::npos) << k.source;

  std::vector<float> x(kBatch * kIn), h(kBatch * kWide), w(kWide * kIn);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.3f * float(int(i % 5) - 2) + 0.07f * float(i);
  for (size_t i = 0; i < h.size(); ++i) h[i] = 1.5f - 0.001f * float(i % 3001);
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = 0.02f * float(int(i % 11) - 5) + 1e-5f * float(i % 97);
  }
  g4k_weight weight{w.data(), 0, 2, {kIn, kWide, 1, 1}, nullptr};
  FakeRuntime rt;
  g4k_api api{G4K_ABI_VERSION, &FakeLinear};
  api.parallel_rows = &FakeParallelRows;
  std::vector<int32_t> positions(kBatch, 0);
  // The kernel on `tokens` rows of x and h; returns its output rows.
  auto run = [&](int64_t tokens) {
    std::vector<std::vector<float>> storage;
    std::vector<g4k_tensor> tensors;
    k.AllocateTensors(tokens, &storage, &tensors);
    storage[k.Argument(0)].assign(x.begin(), x.begin() + tokens * kIn);
    storage[k.Argument(1)].assign(h.begin(), h.begin() + tokens * kWide);
    BindTensors(storage, tensors);
    g4k_call call{&api, &rt, tokens, positions.data(), tensors.data(), &weight};
    k.fn(&call);
    return storage[k.Returned()];
  };

  const std::vector<float> one = run(1);
  EXPECT_EQ(rt.parallelCalls, 1) << "one token: the column blocks on the runtime's threads";
  const std::vector<float> batch = run(kBatch);
  EXPECT_EQ(rt.parallelCalls, 2) << "two tokens: the rows";
  for (int64_t t = 0; t < kBatch; ++t) {
    for (int64_t o = 0; o < kWide; ++o) {
      float acc = 0;
      for (int64_t i = 0; i < kIn; ++i) acc += w[o * kIn + i] * x[t * kIn + i];
      const float gelu = Bf16(g4::ops::GeluTanh(Bf16(acc)));
      const float expected = Bf16(gelu * h[t * kWide + o]);
      ASSERT_EQ(batch[t * kWide + o], expected) << "token " << t << ", feature " << o;
    }
  }
  EXPECT_EQ(std::memcmp(one.data(), batch.data(), kWide * sizeof(float)), 0);
}

// The row helpers the emitted bodies call: the elementwise ones by hand, the others bit for bit
// against the row_ops.h functions they wrap (which the interpreter runs).
TEST(FusedRowsCpu, HelpersMatchRowOps) {
  namespace fused = g4::fused;
  namespace ops = g4::ops;
  float x[8] = {1.0f, -2.0f, 0.5f, 3.25f, -0.75f, 10.0f, 1.00390625f, 1.01171875f};
  const float b[8] = {2.0f, 0.5f, -4.0f, 1.0f, 8.0f, -0.1f, 0.0f, 3.0f};
  // Hide x's values from the optimizer: a call it folds at compile time (tanhf in MPFR) may
  // differ in the last bit from the same call at run time (libm), as the kernels make it.
  asm volatile("" : : "r"(x) : "memory");
  float y[8];
  fused::Scale<8>(x, 2.0f, y);
  EXPECT_EQ(y[1], -4.0f);
  EXPECT_EQ(y[3], 6.5f);
  fused::ChannelMul<8>(x, b, y);
  EXPECT_EQ(y[2], -2.0f);
  fused::Add<8>(x, b, y);
  EXPECT_EQ(y[0], 3.0f);
  EXPECT_EQ(y[4], 7.25f);
  fused::Mul<8>(x, b, y);
  EXPECT_EQ(y[1], -1.0f);
  fused::Round<8>(x, y);
  EXPECT_EQ(y[3], 3.25f) << "bf16-exact values stay";
  EXPECT_EQ(y[6], 1.0f) << "1 + 2^-8 is a tie: to even";
  EXPECT_EQ(y[7], 1.015625f) << "1 + 3 * 2^-8 is a tie: to even";
  fused::Gelu<8>(x, y);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(y[i], ops::GeluTanh(x[i])) << i;
  for (bool round : {false, true}) {
    fused::SoftcapRow<8>(x, 3.0f, round, y);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(y[i], ops::Softcap(x[i], 3.0f, round)) << i;
  }
  float copy[8] = {};
  fused::Copy<8>(x, copy);
  EXPECT_EQ(std::memcmp(copy, x, sizeof x), 0);
  fused::Copy<8>(copy, copy);  // aliasing rows: a no-op
  EXPECT_EQ(std::memcmp(copy, x, sizeof x), 0);

  // RmsNorm over groups of 4, with and without a weight, against RmsNormRow.
  const float w[4] = {0.5f, 1.25f, -2.0f, 3.0f};
  float want[8];
  for (const float *weight : {w, static_cast<const float *>(nullptr)}) {
    fused::RmsNorm<8, 4>(x, weight, 1e-6f, y);
    ops::RmsNormRow(x, weight, 8, 4, 1e-6f, want);
    EXPECT_EQ(std::memcmp(y, want, sizeof y), 0);
  }
  // Rope in place: two heads of 4, all dims rotary, against RopeRow. The angles are cached per
  // thread (RopeTable): the same key twice, then each of position, theta and rounding changed.
  struct Key {
    int64_t pos;
    double theta;
    bool round;
  };
  for (const Key &key : {Key{7, 1e4, false}, Key{7, 1e4, false}, Key{7, 1e4, true},
                         Key{8, 1e4, true}, Key{8, 1e6, true}, Key{8, 1e6, false}}) {
    std::memcpy(y, x, sizeof y);
    std::memcpy(want, x, sizeof want);
    fused::Rope<8, 4, 4>(y, key.theta, key.pos, key.round);
    ops::RopeRow(want, 8, 4, 4, key.theta, key.pos, key.round);
    EXPECT_EQ(std::memcmp(y, want, sizeof y), 0) << key.pos << " " << key.theta << " " << key.round;
  }
  // Half the dims rotary (proportional RoPE): the other pairs pass through.
  std::memcpy(y, x, sizeof y);
  std::memcpy(want, x, sizeof want);
  fused::Rope<8, 4, 2>(y, 1e4, 5, true);
  ops::RopeRow(want, 8, 4, 2, 1e4, 5, true);
  EXPECT_EQ(std::memcmp(y, want, sizeof y), 0);

  // PosAt reads an int32 from a float slot; Row, Vec and Linear address the call's tables.
  int32_t pos = 300;
  float slot;
  std::memcpy(&slot, &pos, 4);
  EXPECT_EQ(fused::PosAt(&slot), 300);
  float data[2 * 4] = {1.0f, 1.0f, 1.0f, 1.0f};
  g4k_tensor tensors[2] = {{data, 4}, {data + 4, 4}};
  g4k_weight weights[1] = {{w, 0, 1, {4, 1, 1, 1}, w}};  // as a matrix: 4 inputs, 1 output
  FakeRuntime rt;
  g4k_api api{G4K_ABI_VERSION, &FakeLinear};
  g4k_call call{&api, &rt, 1, nullptr, tensors, weights};
  EXPECT_EQ(fused::Row(&call, 0, 1), data + 4);
  EXPECT_EQ(fused::Vec(&call, 0), w);
  fused::Linear(&call, 0, 0, 1, 1);
  EXPECT_EQ(rt.calls, 1);
  EXPECT_EQ(rt.lastRound, 1);
  EXPECT_EQ(rt.lastTokens, 1);
  EXPECT_EQ(data[4], 2.75f);
}

}  // namespace

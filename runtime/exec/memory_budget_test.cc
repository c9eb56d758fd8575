// memory_budget.h: what a CPU session would allocate, and the refusal when it does not fit.
#include "exec/memory_budget.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace g4::exec {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A plan of one full and one sliding layer (window 4, 2 KV heads of 256), one shared layer, and
// three tensors in two slots.
std::vector<uint8_t> MakePlan(int64_t context, int32_t kv_heads, int64_t width, uint32_t max_batch,
                              plan::Precision precision) {
  flatbuffers::FlatBufferBuilder b;
  auto model = plan::CreateHyperparams(b, b.CreateString("t"), 8, 8, 3, 1, 256, 512, 1, 1, 4, 0, 0, 0, 0, 0, context);
  std::vector<flatbuffers::Offset<plan::Tensor>> tensors = {
      plan::CreateTensor(b, b.CreateString("a"), width, plan::ElementType::F32, 0),
      plan::CreateTensor(b, b.CreateString("b"), 8, plan::ElementType::F32, 0),
      plan::CreateTensor(b, b.CreateString("c"), 8, plan::ElementType::F32, 1)};
  std::vector<flatbuffers::Offset<plan::KvLayer>> kv = {plan::CreateKvLayer(b, 0, true, 0, 0, kv_heads, 256),
                                                       plan::CreateKvLayer(b, 1, true, 1, 4, kv_heads, 256),
                                                       plan::CreateKvLayer(b, 2, false, 0, 0, kv_heads, 256)};
  auto p = plan::CreatePlan(b, 0, 0, 0, precision, model, b.CreateVector(tensors), 0, 0, 0, 0, b.CreateVector(kv),
                            max_batch);
  b.Finish(p);
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

TEST(MemoryBudget, CountsKvCacheAndActivations) {
  const auto bytes = MakePlan(100, 2, 16, 8, plan::Precision::Reference);
  auto need = CpuMemoryNeeded(*plan::GetPlan(bytes.data()), 100, false);
  ASSERT_TRUE(need.ok()) << need.status();
  // Full: 100 positions; sliding: 4 + 8; the shared layer owns nothing. K and V, 512 values, bf16.
  EXPECT_EQ(need->kv_cache_bytes, uint64_t(100 + 12) * 512 * 2 * 2);
  // Slot 0 is 16 wide, slot 1 is 8: 24 floats per token, 8 tokens.
  EXPECT_EQ(need->activation_bytes, 24u * 8 * 4);
  auto own = CpuMemoryNeeded(*plan::GetPlan(bytes.data()), 100, true);
  EXPECT_EQ(own->activation_bytes, 32u * 8 * 4);
  const auto f32 = MakePlan(100, 2, 16, 8, plan::Precision::F32);
  EXPECT_EQ(CpuMemoryNeeded(*plan::GetPlan(f32.data()), 100, false)->kv_cache_bytes, need->kv_cache_bytes * 2);
}

TEST(MemoryBudget, RefusesWithTheBytesNamed) {
  const auto bytes = MakePlan(1 << 20, 8, 16, 8, plan::Precision::F32);
  auto need = CpuMemoryNeeded(*plan::GetPlan(bytes.data()), 1 << 20, false);
  ASSERT_TRUE(need.ok());
  const absl::Status st = CheckMemoryBudget(*need, 1 << 30, "OUT/plan", "memory_limit");
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(st.message()),
              AllOf(HasSubstr("OUT/plan: the CPU session needs " + std::to_string(need->total()) + " bytes"),
                    HasSubstr("for 1048576 positions"), HasSubstr("memory_limit of 1073741824 bytes")));
  EXPECT_TRUE(CheckMemoryBudget(*need, need->total(), "x").ok());
  EXPECT_TRUE(CheckMemoryBudget(*need, 0, "x").ok());  // unknown: nothing refused
}

TEST(MemoryBudget, AbsurdSizesAreRefusedNotWrapped) {
  const auto huge_context = MakePlan(int64_t{1} << 60, 1 << 20, 16, 8, plan::Precision::F32);
  auto kv = CpuMemoryNeeded(*plan::GetPlan(huge_context.data()), int64_t{1} << 60, false);
  EXPECT_EQ(kv.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(kv.status().message()), HasSubstr("KV cache of layer 0"));
  const auto wide = MakePlan(16, 1, int64_t{1} << 61, 1u << 31, plan::Precision::F32);
  auto act = CpuMemoryNeeded(*plan::GetPlan(wide.data()), 16, false);
  EXPECT_EQ(act.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(act.status().message()), HasSubstr("activations"));
}

TEST(MemoryBudget, AvailableMemoryIsKnownHere) { EXPECT_GT(AvailableMemoryBytes(), uint64_t{1} << 20); }

}  // namespace
}  // namespace g4::exec

// Plan loading: the runtime refuses plans it cannot run, with a message naming the file, the
// found version and the supported one.
#include "plan/plan_reader.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plan/plan_version.h"

namespace g4::plan {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A minimal valid plan: one layer, one weight, one step.
std::vector<uint8_t> MakePlan(uint32_t schema, uint32_t abi) {
  flatbuffers::FlatBufferBuilder b;
  auto model = CreateHyperparams(b, b.CreateString("tiny"), /*vocab=*/16, /*hidden=*/8, /*layers=*/1,
                                 /*heads=*/1, 256, 512, 1, 1, /*sliding_window=*/4);
  std::vector<flatbuffers::Offset<WeightBinding>> weights = {CreateWeightBinding(
      b, b.CreateString("token_embd.weight"), b.CreateVector(std::vector<int64_t>{8, 16}), 0x7f)};
  std::vector<flatbuffers::Offset<Tensor>> tensors = {CreateTensor(b, b.CreateString("inp_tokens"), 1)};
  std::vector<flatbuffers::Offset<KvLayer>> kv = {CreateKvLayer(b, 0, true, 0, 4, 1, 256)};
  std::vector<flatbuffers::Offset<Step>> steps = {CreateStep(b, b.CreateString("g4.embed"))};
  auto plan = CreatePlan(b, schema, abi, b.CreateString("test"), Precision::Reference, model,
                         b.CreateVector(tensors), 0, 0, b.CreateVector(weights), b.CreateVector(steps),
                         b.CreateVector(kv), 8);
  FinishSizePrefixedPlanBuffer(b, plan);
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

TEST(PlanReader, AcceptsCurrentVersions) {
  auto plan = LoadPlanBytes(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion), "ok.plan");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->plan()->model()->hidden(), 8);
  EXPECT_EQ(plan->plan()->weights()->Get(0)->name()->str(), "token_embd.weight");
}

TEST(PlanReader, RejectsOtherSchemaVersion) {
  auto plan = LoadPlanBytes(MakePlan(kPlanSchemaVersion + 1, kRuntimeAbiVersion), "old/plan");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(plan.status().message()),
              AllOf(HasSubstr("old/plan"), HasSubstr("schema version 2"), HasSubstr("reads version 1"),
                    HasSubstr("recompile")));
}

TEST(PlanReader, RejectsOtherRuntimeAbi) {
  auto plan = LoadPlanBytes(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion + 7), "x/plan");
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()),
              AllOf(HasSubstr("x/plan"), HasSubstr("runtime ABI 8"), HasSubstr("implements ABI 1")));
}

TEST(PlanReader, RejectsForeignBytes) {
  std::string text = "this is not a plan at all";
  auto plan = LoadPlanBytes(std::vector<uint8_t>(text.begin(), text.end()), "text/plan");
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()),
              AllOf(HasSubstr("text/plan"), HasSubstr("not a gemma4c plan")));
}

TEST(PlanReader, RejectsEveryTruncation) {
  std::vector<uint8_t> bytes = MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion);
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto plan = LoadPlanBytes(std::vector<uint8_t>(bytes.begin(), bytes.begin() + n), "cut/plan");
    EXPECT_FALSE(plan.ok()) << "prefix of " << n << " bytes accepted";
  }
}

TEST(PlanReader, MissingFileNamesThePath) {
  auto plan = LoadPlan("/nonexistent/dir/plan");
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("/nonexistent/dir/plan"));
}

TEST(PlanReader, DescribeCountsParametersAndKvBytes) {
  auto plan = LoadPlanBytes(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion), "ok.plan");
  ASSERT_TRUE(plan.ok());
  std::string text = DescribePlan(*plan->plan());
  // 8 x 16 = 128 parameters; one sliding layer of window 4: 4 positions x K,V x 1 head x 256
  // x 2 bytes = 4096 bytes.
  EXPECT_THAT(text, HasSubstr("1 tensors, 128 parameters"));
  EXPECT_THAT(text, HasSubstr("KV cache: 4.00 KiB per 1k tokens of context in bf16"));
}

}  // namespace
}  // namespace g4::plan

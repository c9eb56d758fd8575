// Plan loading: the runtime refuses plans it cannot run, with a message naming the file, the
// found version and the supported one.
#include "plan/plan_reader.h"

#include <string>
#include <vector>

#include <functional>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plan/plan_version.h"

namespace g4::plan {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Builds one step of a test plan (tensors: 0 inp_tokens, 1 inp_pos, 2 inp_embd [8], 3 normed
// [8]; weight 0 token_embd [8, 16]).
using StepMaker = std::function<flatbuffers::Offset<Step>(flatbuffers::FlatBufferBuilder&)>;

flatbuffers::Offset<Step> EmbedStep(flatbuffers::FlatBufferBuilder& b) {
  return CreateStep(b, OpKind::Embed, OpAttrs::NONE, 0, /*kernel=*/0, b.CreateVector(std::vector<uint32_t>{0}),
                    b.CreateVector(std::vector<uint32_t>{2}), b.CreateVector(std::vector<uint32_t>{0}));
}

// The sizes a test plan declares (the defaults make a valid one).
struct Sizes {
  int64_t vocab = 8;  // = the width of the logits (tensor 2)
  int64_t context = 64;
  int64_t normed_width = 8;
  uint32_t max_batch = 8;
  int32_t kv_heads = 1;
  bool kv_layer_listed_twice = false;
};

// A minimal valid plan: one layer, one weight, an embedding step and whatever `extra` adds.
std::vector<uint8_t> MakePlan(uint32_t schema, uint32_t abi, StepMaker extra = nullptr, Sizes sizes = {}) {
  flatbuffers::FlatBufferBuilder b;
  auto model = CreateHyperparams(b, b.CreateString("tiny"), sizes.vocab, /*hidden=*/8, /*layers=*/1,
                                 /*heads=*/1, 256, 512, 1, 1, /*sliding_window=*/4, 0, 0, 0, 0, 0, sizes.context);
  std::vector<flatbuffers::Offset<WeightBinding>> weights = {CreateWeightBinding(
      b, b.CreateString("token_embd.weight"), b.CreateVector(std::vector<int64_t>{8, 16}), 0x7f)};
  std::vector<flatbuffers::Offset<Tensor>> tensors = {
      CreateTensor(b, b.CreateString("inp_tokens"), 1, ElementType::I32),
      CreateTensor(b, b.CreateString("inp_pos"), 1, ElementType::I32), CreateTensor(b, b.CreateString("inp_embd"), 8),
      CreateTensor(b, b.CreateString("normed"), sizes.normed_width)};
  std::vector<flatbuffers::Offset<KvLayer>> kv = {CreateKvLayer(b, 0, true, 0, 4, sizes.kv_heads, 256)};
  if (sizes.kv_layer_listed_twice) kv.push_back(CreateKvLayer(b, 0, true, 0, 4, 1, 256));
  std::vector<flatbuffers::Offset<Step>> steps = {EmbedStep(b)};
  if (extra) steps.push_back(extra(b));
  auto plan = CreatePlan(b, schema, abi, b.CreateString("test"), Precision::Reference, model,
                         b.CreateVector(tensors), b.CreateVector(std::vector<uint32_t>{0, 1}),
                         b.CreateVector(std::vector<uint32_t>{2}), b.CreateVector(weights), b.CreateVector(steps),
                         b.CreateVector(kv), sizes.max_batch);
  FinishSizePrefixedPlanBuffer(b, plan);
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

// An rms_norm step from tensor `in` to `out` with the given attribute table.
StepMaker Norm(uint32_t in, uint32_t out, bool with_attrs = true) {
  return [=](flatbuffers::FlatBufferBuilder& b) {
    auto attrs = with_attrs ? CreateRmsNormAttrs(b, 8, 1e-6).Union() : 0;
    return CreateStep(b, OpKind::RmsNorm, with_attrs ? OpAttrs::RmsNormAttrs : OpAttrs::NONE, attrs, 0,
                      b.CreateVector(std::vector<uint32_t>{in}), b.CreateVector(std::vector<uint32_t>{out}));
  };
}

// A step of kind `op` without attributes over the given tensor and weight ids.
StepMaker Plain(OpKind op, std::vector<uint32_t> in, std::vector<uint32_t> out, std::vector<uint32_t> weights = {}) {
  return [=](flatbuffers::FlatBufferBuilder& b) {
    return CreateStep(b, op, OpAttrs::NONE, 0, 0, b.CreateVector(in), b.CreateVector(out), b.CreateVector(weights));
  };
}

std::string LoadError(const std::vector<uint8_t>& bytes) {
  auto plan = LoadPlanBytes(bytes, "bad/plan");
  return plan.ok() ? "accepted" : std::string(plan.status().message());
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
              AllOf(HasSubstr("old/plan"), HasSubstr(absl::StrCat("schema version ", kPlanSchemaVersion + 1)),
                    HasSubstr(absl::StrCat("reads version ", kPlanSchemaVersion)), HasSubstr("recompile")));
}

TEST(PlanReader, RejectsOtherRuntimeAbi) {
  auto plan = LoadPlanBytes(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion + 7), "x/plan");
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()),
              AllOf(HasSubstr("x/plan"), HasSubstr(absl::StrCat("runtime ABI ", kRuntimeAbiVersion + 7)),
                    HasSubstr(absl::StrCat("implements ABI ", kRuntimeAbiVersion))));
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

TEST(PlanReader, AcceptsTypedSteps) {
  auto plan = LoadPlanBytes(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, Norm(2, 3)), "ok.plan");
  ASSERT_TRUE(plan.ok()) << plan.status();
  const Step* norm = plan->plan()->steps()->Get(1);
  EXPECT_EQ(norm->op(), OpKind::RmsNorm);
  EXPECT_EQ(norm->attrs_as_RmsNormAttrs()->width(), 8);
}

// Each malformed step is refused at load with the plan, the step and the problem named.
TEST(PlanReader, RejectsStepWithoutItsAttributes) {
  EXPECT_THAT(LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, Norm(2, 3, /*with_attrs=*/false))),
              AllOf(HasSubstr("bad/plan: step 1 (RmsNorm)"), HasSubstr("attributes are NONE"),
                    HasSubstr("needs RmsNormAttrs")));
}

// The attribute type named but its table absent (found by fuzz_plan under UBSan: the
// attention check dereferenced the missing table).
TEST(PlanReader, RejectsAttributeTypeWithoutItsTable) {
  StepMaker attention = [](flatbuffers::FlatBufferBuilder& b) {
    return CreateStep(b, OpKind::Attention, OpAttrs::AttentionAttrs, /*attrs=*/0, 0,
                      b.CreateVector(std::vector<uint32_t>{2, 1}), b.CreateVector(std::vector<uint32_t>{3}), 0,
                      /*layer=*/0);
  };
  EXPECT_THAT(LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, attention)),
              AllOf(HasSubstr("bad/plan: step 1 (Attention)"),
                    HasSubstr("attributes AttentionAttrs have no table")));
}

TEST(PlanReader, RejectsTensorIdOutOfRange) {
  EXPECT_THAT(LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, Norm(2, 9))),
              AllOf(HasSubstr("step 1 (RmsNorm)"), HasSubstr("tensor id 9 is outside the plan's 4 tensors")));
}

TEST(PlanReader, RejectsWrongArity) {
  EXPECT_THAT(LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, Plain(OpKind::Add, {2}, {3}))),
              AllOf(HasSubstr("step 1 (Add)"), HasSubstr("1 inputs, 1 outputs, 0 weights do not fit")));
}

TEST(PlanReader, RejectsWidthMismatchOfRowOp) {
  // inp_tokens (width 1) normalized into an 8-wide tensor would read past its row.
  EXPECT_THAT(LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, Norm(0, 3))),
              AllOf(HasSubstr("step 1 (RmsNorm)"), HasSubstr("input 'inp_tokens' has width 1, the output 8")));
}

TEST(PlanReader, RejectsMatrixWhereVectorWeightIsRead) {
  EXPECT_THAT(LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, Plain(OpKind::ChannelMul, {2}, {3}, {0}))),
              AllOf(HasSubstr("step 1 (ChannelMul)"), HasSubstr("weight 'token_embd.weight' must be 1-D")));
}

TEST(PlanReader, RejectsUnknownOpKind) {
  EXPECT_THAT(LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, Plain(OpKind(200), {2}, {3}))),
              AllOf(HasSubstr("step 1"), HasSubstr("unknown op kind 200")));
}

TEST(PlanReader, RejectsAttentionOutsideTheModel) {
  StepMaker attention = [](flatbuffers::FlatBufferBuilder& b) {
    auto attrs = CreateAttentionAttrs(b, 1, 1, 8, 0, 1.0, /*kv_layer=*/5);
    return CreateStep(b, OpKind::Attention, OpAttrs::AttentionAttrs, attrs.Union(), 0,
                      b.CreateVector(std::vector<uint32_t>{2, 1}), b.CreateVector(std::vector<uint32_t>{3}), 0,
                      /*layer=*/0);
  };
  EXPECT_THAT(LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, attention)),
              AllOf(HasSubstr("step 1 (Attention)"), HasSubstr("KV layer 5 outside the model's 1 layers")));
}

// An attention step whose `rounding` is `r` (kv_layer 0 of the one-layer test model).
StepMaker AttentionWithRounding(Rounding r) {
  return [r](flatbuffers::FlatBufferBuilder& b) {
    auto attrs = CreateAttentionAttrs(b, 1, 1, 8, 0, 1.0, /*kv_layer=*/0, r);
    return CreateStep(b, OpKind::Attention, OpAttrs::AttentionAttrs, attrs.Union(), 0,
                      b.CreateVector(std::vector<uint32_t>{2, 1}), b.CreateVector(std::vector<uint32_t>{3}), 0,
                      /*layer=*/0);
  };
}

TEST(PlanReader, AcceptsEachAttentionMode) {
  for (Rounding r : {Rounding::None, Rounding::AttentionEager, Rounding::AttentionSdpa})
    EXPECT_EQ(LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, AttentionWithRounding(r))), "accepted")
        << EnumNameRounding(r);
}

TEST(PlanReader, RejectsAttentionRoundingOfAnotherOp) {
  EXPECT_THAT(LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, AttentionWithRounding(Rounding::RopeBf16))),
              AllOf(HasSubstr("step 1 (Attention)"), HasSubstr("rounding RopeBf16 is not an attention mode")));
}

TEST(PlanReader, RejectsAttentionRoundingFromANewerCompiler) {
  EXPECT_THAT(LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, AttentionWithRounding(Rounding(99)))),
              AllOf(HasSubstr("step 1 (Attention)"), HasSubstr("rounding 99 is not an attention mode")));
}

TEST(PlanReader, RejectsFusedInsideFused) {
  StepMaker nested = [](flatbuffers::FlatBufferBuilder& b) {
    std::vector<flatbuffers::Offset<Step>> inner = {CreateStep(b, OpKind::Fused)};
    return CreateStep(b, OpKind::Fused, OpAttrs::NONE, 0, 0, 0, 0, 0, -1, b.CreateVector(inner));
  };
  EXPECT_THAT(LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, nested)),
              HasSubstr("step 1 body op 0: a fused region inside a fused region"));
}

// Sizes the executors index or allocate by are refused at load (the bytes themselves are
// checked against memory when a session opens: exec/memory_budget.h).
std::string SizesError(Sizes sizes) {
  return LoadError(MakePlan(kPlanSchemaVersion, kRuntimeAbiVersion, nullptr, sizes));
}

TEST(PlanReader, RejectsEmptyModelOrBatch) {
  Sizes no_context;
  no_context.context = 0;
  EXPECT_THAT(SizesError(no_context), AllOf(HasSubstr("bad/plan"), HasSubstr("context 0"), HasSubstr(">= 1")));
  Sizes no_batch;
  no_batch.max_batch = 0;
  EXPECT_THAT(SizesError(no_batch), HasSubstr("max batch 0"));
}

TEST(PlanReader, RejectsTensorWidthOutOfRange) {
  for (int64_t width : {int64_t{0}, int64_t{-8}, int64_t{1} << 40}) {
    Sizes s;
    s.normed_width = width;
    EXPECT_THAT(SizesError(s), AllOf(HasSubstr("tensor 'normed' has width"), HasSubstr("1..2^32-1")));
  }
}

TEST(PlanReader, RejectsLogitsThatAreNotTheVocabulary) {
  Sizes s;
  s.vocab = 16;
  EXPECT_THAT(SizesError(s), HasSubstr("the logits have width 8, the vocabulary is 16"));
}

TEST(PlanReader, RejectsBadKvLayout) {
  Sizes twice;
  twice.kv_layer_listed_twice = true;
  EXPECT_THAT(SizesError(twice), HasSubstr("KV layout has 2 entries for a 1-layer model"));
  Sizes no_heads;
  no_heads.kv_heads = 0;
  EXPECT_THAT(SizesError(no_heads), HasSubstr("KV layer 0 has 0 KV heads"));
}

// Found by the plan fuzz target (tests/fuzz/regressions/plan/weight_dims_overflow): weight
// dims whose product overflows made DescribePlan's int64 count wrap (UBSan).
TEST(PlanReader, RejectsWeightDimsThatOverflow) {
  auto plan = LoadPlan(std::string(G4_FUZZ_REGRESSIONS_DIR) + "/plan/weight_dims_overflow");
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("dims must be >= 1 and hold < 2^62 elements"));
}

TEST(PlanReader, RejectsMisalignedWeightShape) {
  auto plan = LoadPlan(std::string(G4_FUZZ_REGRESSIONS_DIR) + "/plan/shape_misaligned");
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("is misaligned"));
}

}  // namespace
}  // namespace g4::plan

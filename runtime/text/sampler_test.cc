// Sampler on fixed logits with known outcomes.
#include "text/sampler.h"

#include <cmath>
#include <map>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace g4::text {
namespace {

using ::testing::ElementsAre;

std::vector<int32_t> Ids(const std::vector<Candidate>& c) {
  std::vector<int32_t> out;
  for (const Candidate& x : c) out.push_back(x.id);
  return out;
}

// Logits whose softmax is exactly the given probabilities.
std::vector<float> LogitsOf(const std::vector<double>& p) {
  std::vector<float> out;
  for (double x : p) out.push_back(static_cast<float>(std::log(x)));
  return out;
}

TEST(Sampler, GreedyIsArgmax) {
  SamplerConfig c;
  c.temperature = 0;
  Sampler s(c);
  EXPECT_EQ(s.Sample({0.1f, 2.5f, -1.0f, 2.4f}), 1);
  EXPECT_EQ(s.Sample({3.0f, 3.0f, 1.0f}), 0);  // ties: lowest id
  EXPECT_EQ(s.Sample({-5.0f, NAN, -4.0f}), 2);
}

TEST(Sampler, TopKOneEqualsGreedy) {
  SamplerConfig c;
  c.top_k = 1;
  c.temperature = 1.5f;
  c.seed = 3;
  Sampler s(c);
  const std::vector<float> logits = {0.3f, 1.9f, 1.8f, -2.0f, 1.0f};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.Sample(logits), 1);
}

TEST(Sampler, TopKKeepsTheKHighest) {
  SamplerConfig c;
  c.top_k = 3;
  Sampler s(c);
  const auto cand = s.Candidates({0.5f, 3.0f, 1.0f, 2.0f, 2.0f});
  EXPECT_THAT(Ids(cand), ElementsAre(1, 3, 4));  // 2.0 tie: lower id first
}

TEST(Sampler, TopPKeepsTheMinimalPrefix) {
  SamplerConfig c;
  c.top_p = 0.75f;
  Sampler s(c);
  // p = 0.1 0.4 0.3 0.15 0.05: sorted 0.4, 0.3 (0.7 < 0.75), 0.15 (0.85 >= 0.75) -> 3 kept.
  const auto cand = s.Candidates(LogitsOf({0.1, 0.4, 0.3, 0.15, 0.05}));
  EXPECT_THAT(Ids(cand), ElementsAre(1, 2, 3));
  EXPECT_NEAR(cand[0].p, 0.4 / 0.85, 1e-5);
  EXPECT_NEAR(cand[2].p, 0.15 / 0.85, 1e-5);
  // Exactly reaching p stops there.
  c.top_p = 0.7f;
  Sampler s2(c);
  EXPECT_THAT(Ids(s2.Candidates(LogitsOf({0.1, 0.4, 0.3, 0.15, 0.05}))), ElementsAre(1, 2));
  // A dominant token alone.
  c.top_p = 0.3f;
  Sampler s3(c);
  EXPECT_THAT(Ids(s3.Candidates(LogitsOf({0.1, 0.4, 0.3, 0.15, 0.05}))), ElementsAre(1));
}

TEST(Sampler, TopPOverALargeVocabulary) {
  // 10000 tokens; the prefix search grows past its first chunk of 64.
  std::vector<float> logits(10000);
  for (int i = 0; i < 10000; ++i) logits[i] = -0.001f * static_cast<float>((i * 7919) % 10000);
  SamplerConfig c;
  c.top_p = 0.5f;
  Sampler s(c);
  const auto cand = s.Candidates(logits);
  double total = 0, kept = 0;
  for (float l : logits) total += std::exp(static_cast<double>(l));
  for (const Candidate& x : cand) kept += std::exp(static_cast<double>(logits[x.id]));
  EXPECT_GE(kept / total, 0.5);
  EXPECT_LT((kept - std::exp(static_cast<double>(logits[cand.back().id]))) / total, 0.5);
  for (size_t i = 1; i < cand.size(); ++i) EXPECT_GE(logits[cand[i - 1].id], logits[cand[i].id]);
  EXPECT_GT(cand.size(), 64u);
}

TEST(Sampler, MinPThreshold) {
  SamplerConfig c;
  c.min_p = 0.25f;
  Sampler s(c);
  // p_max = 0.4: keep p >= 0.1 -> 0.4, 0.3, 0.15, 0.1 (0.05 dropped).
  EXPECT_THAT(Ids(s.Candidates(LogitsOf({0.1, 0.4, 0.3, 0.15, 0.05}))), ElementsAre(1, 2, 3, 0));
  c.min_p = 0.5f;  // keep p >= 0.2
  Sampler s2(c);
  EXPECT_THAT(Ids(s2.Candidates(LogitsOf({0.1, 0.4, 0.3, 0.15, 0.05}))), ElementsAre(1, 2));
}

TEST(Sampler, RepetitionPenaltyBothSigns) {
  SamplerConfig c;
  c.repetition_penalty = 2.0f;
  Sampler s(c);
  s.Accept(0);
  s.Accept(1);
  s.Accept(1);  // counted once
  const auto p = s.Penalized({4.0f, -3.0f, 5.0f, -1.0f});
  EXPECT_THAT(p, ElementsAre(2.0f, -6.0f, 5.0f, -1.0f));
  // With the penalty, greedy moves from 0 to 2.
  c.temperature = 0;
  Sampler g(c);
  EXPECT_EQ(g.Sample({6.0f, 0.0f, 5.0f}), 0);
  g.Accept(0);
  EXPECT_EQ(g.Sample({6.0f, 0.0f, 5.0f}), 2);
}

TEST(Sampler, RepetitionPenaltyWindow) {
  SamplerConfig c;
  c.repetition_penalty = 2.0f;
  c.penalty_last_n = 2;
  Sampler s(c);
  s.Accept(0);
  s.Accept(1);
  s.Accept(2);  // 0 leaves the window
  EXPECT_THAT(s.Penalized({4.0f, 4.0f, 4.0f}), ElementsAre(4.0f, 2.0f, 2.0f));
  s.Reset();
  EXPECT_THAT(s.Penalized({4.0f, 4.0f, 4.0f}), ElementsAre(4.0f, 4.0f, 4.0f));
}

TEST(Sampler, SameSeedSameSequence) {
  const std::vector<float> logits = {1.0f, 0.5f, 0.2f, 0.9f, -0.3f, 0.7f};
  SamplerConfig c;
  c.seed = 42;
  c.temperature = 1.2f;
  c.top_k = 5;
  c.top_p = 0.95f;
  c.repetition_penalty = 1.1f;
  auto run = [&](SamplerConfig cfg) {
    Sampler s(cfg);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) {
      out.push_back(s.Sample(logits));
      s.Accept(out.back());
    }
    return out;
  };
  const auto a = run(c);
  EXPECT_EQ(a, run(c));
  c.seed = 43;
  EXPECT_NE(a, run(c));
  std::map<int32_t, int> seen;
  for (int32_t id : a) ++seen[id];
  EXPECT_GE(seen.size(), 3u);  // it does sample
}

TEST(Sampler, FrequenciesFollowTheDistribution) {
  SamplerConfig c;
  c.seed = 7;
  Sampler s(c);
  const auto logits = LogitsOf({0.5, 0.3, 0.2});
  int count[3] = {0, 0, 0};
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++count[s.Sample(logits)];
  EXPECT_NEAR(count[0] / double(n), 0.5, 0.02);
  EXPECT_NEAR(count[1] / double(n), 0.3, 0.02);
  EXPECT_NEAR(count[2] / double(n), 0.2, 0.02);
}

TEST(Sampler, TemperatureTowardsZeroEqualsGreedy) {
  const std::vector<float> logits = {0.3f, 1.21f, 1.2f, -2.0f, 1.0f};
  SamplerConfig c;
  c.temperature = 1e-4f;
  c.seed = 11;
  Sampler s(c);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.Sample(logits), 1);
  const auto cand = s.Candidates(logits);
  EXPECT_EQ(cand[0].id, 1);
  EXPECT_FLOAT_EQ(cand[0].p, 1.0f);
}

TEST(Sampler, HighTemperatureFlattens) {
  SamplerConfig c;
  c.temperature = 2.0f;
  Sampler s(c);
  const auto cand = s.Candidates({2.0f, 0.0f});
  EXPECT_NEAR(cand[0].p, 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
}

TEST(Sampler, NeverSamplesMaskedTokens) {
  SamplerConfig c;
  c.seed = 5;
  Sampler s(c);
  const float ninf = -INFINITY;
  for (int i = 0; i < 100; ++i) {
    const int32_t id = s.Sample({ninf, 0.0f, NAN, 0.0f, ninf});
    EXPECT_TRUE(id == 1 || id == 3) << id;
  }
  EXPECT_EQ(s.Sample({ninf, ninf}), 0);
}

TEST(Sampler, StopTokens) {
  Sampler s(SamplerConfig{});
  EXPECT_TRUE(s.IsStop(1));
  EXPECT_TRUE(s.IsStop(106));
  EXPECT_FALSE(s.IsStop(105));
  SamplerConfig c;
  c.stop_tokens = {1, 106, 50};
  Sampler s2(c);
  EXPECT_TRUE(s2.IsStop(50));
}

}  // namespace
}  // namespace g4::text

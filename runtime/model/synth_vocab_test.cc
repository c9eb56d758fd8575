// The synthetic vocabulary: real special ids (spec §6), byte tokens, valid merges, uniqueness.
#include "model/synth_vocab.h"

#include <set>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace g4 {
namespace {

const std::string kSpace = "\xE2\x96\x81";  // ▁

void CheckVocab(const SynthVocab& v, int64_t size) {
  ASSERT_EQ(static_cast<int64_t>(v.tokens.size()), size);
  ASSERT_EQ(v.scores.size(), v.tokens.size());
  ASSERT_EQ(v.types.size(), v.tokens.size());

  // Specials at their real ids.
  const std::vector<std::pair<int, std::string>> expected = {
      {0, "<pad>"},        {1, "<eos>"},          {2, "<bos>"},
      {3, "<unk>"},        {4, "<mask>"},         {46, "<|tool>"},
      {47, "<tool|>"},     {48, "<|tool_call>"},  {49, "<tool_call|>"},
      {50, "<|tool_response>"}, {51, "<tool_response|>"}, {52, "<|\"|>"},
      {98, "<|think|>"},   {100, "<|channel>"},   {101, "<channel|>"},
      {105, "<|turn>"},    {106, "<turn|>"},      {107, "\n"},
      {108, "\n\n"}};
  for (const auto& [id, text] : expected) EXPECT_EQ(v.tokens[id], text) << id;
  EXPECT_EQ(v.types[3], static_cast<int32_t>(TokenType::kUnknown));
  EXPECT_EQ(v.types[2], static_cast<int32_t>(TokenType::kControl));
  EXPECT_EQ(v.types[106], static_cast<int32_t>(TokenType::kControl));
  for (int id : {48, 49, 50, 51, 52, 100, 101}) {
    EXPECT_EQ(v.types[id], static_cast<int32_t>(TokenType::kUserDefined)) << id;
  }
  EXPECT_EQ(v.types[107], static_cast<int32_t>(TokenType::kNormal));
  EXPECT_EQ(v.tokens[5], "<unused_0>");
  EXPECT_EQ(v.types[5], static_cast<int32_t>(TokenType::kControl));
  EXPECT_EQ(v.scores[5], -1000.0f);

  // Byte tokens 238..493.
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(v.tokens[kFirstByteToken + b], absl::StrFormat("<0x%02X>", b));
    EXPECT_EQ(v.types[kFirstByteToken + b], static_cast<int32_t>(TokenType::kByte));
  }
  EXPECT_EQ(v.tokens[kFirstCharacterToken], "!");  // first character in code-point order

  // Unique tokens; every merge joins two tokens into a token.
  std::set<std::string> tokens(v.tokens.begin(), v.tokens.end());
  EXPECT_EQ(tokens.size(), v.tokens.size());
  ASSERT_FALSE(v.merges.empty());
  EXPECT_EQ(v.merges[0], "\n \n");
  std::set<std::string> merges;
  for (const std::string& m : v.merges) {
    std::vector<std::string> parts = absl::StrSplit(m, ' ');
    ASSERT_EQ(parts.size(), 2u) << m;
    EXPECT_TRUE(tokens.count(parts[0])) << m;
    EXPECT_TRUE(tokens.count(parts[1])) << m;
    EXPECT_TRUE(tokens.count(parts[0] + parts[1])) << m;
    EXPECT_TRUE(merges.insert(m).second) << "duplicate merge " << m;
  }
  for (const std::string& ch : {kSpace, std::string("a"), std::string("Z"), std::string("7")}) {
    EXPECT_TRUE(tokens.count(ch)) << ch;
  }
}

TEST(SynthVocabTest, Tiny) {
  absl::StatusOr<SynthVocab> v = BuildSynthVocab(1024);
  ASSERT_TRUE(v.ok()) << v.status();
  CheckVocab(*v, 1024);
  // The tail is all learned pieces (no filler needed at 1024), and common words are whole.
  for (const std::string& t : v->tokens) EXPECT_EQ(t.rfind(kSpace + "w0", 0), std::string::npos);
  std::set<std::string> tokens(v->tokens.begin(), v->tokens.end());
  EXPECT_TRUE(tokens.count(kSpace + "the"));
  EXPECT_TRUE(tokens.count(kSpace + "river"));
  EXPECT_GT(v->merges.size(), 400u);
}

TEST(SynthVocabTest, FullSizeUsesFiller) {
  absl::StatusOr<SynthVocab> v = BuildSynthVocab(262144);
  ASSERT_TRUE(v.ok()) << v.status();
  CheckVocab(*v, 262144);
  EXPECT_EQ(v->tokens.back().rfind(kSpace + "w", 0), 0u);
  EXPECT_EQ(v->types.back(), static_cast<int32_t>(TokenType::kNormal));
}

TEST(SynthVocabTest, Deterministic) {
  absl::StatusOr<SynthVocab> a = BuildSynthVocab(1024), b = BuildSynthVocab(1024);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->tokens, b->tokens);
  EXPECT_EQ(a->merges, b->merges);
}

TEST(SynthVocabTest, TooSmall) {
  absl::StatusOr<SynthVocab> v = BuildSynthVocab(300);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace g4

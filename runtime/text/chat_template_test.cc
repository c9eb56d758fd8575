// Chat template: expected strings follow llama.cpp's models/templates/gemma4.jinja.
#include "text/chat_template.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace g4::text {
namespace {

using ::testing::HasSubstr;

constexpr char kGen[] = "<|turn>model\n<|channel>thought\n<channel|>";

std::string Render(std::vector<ChatMessage> messages, ChatTemplateOptions options = {}) {
  auto s = ApplyChatTemplate(messages, options);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

TEST(ChatTemplate, SingleUserTurn) {
  EXPECT_EQ(Render({{"user", "Hello", ""}}),
            std::string("<|turn>user\nHello<turn|>\n") + kGen);
}

TEST(ChatTemplate, SystemAndUserTrimmed) {
  EXPECT_EQ(Render({{"system", "  Be brief. \n", ""}, {"user", "\n Hi\t", ""}}),
            std::string("<|turn>system\nBe brief.<turn|>\n<|turn>user\nHi<turn|>\n") + kGen);
  // "developer" counts as the system turn when it comes first.
  EXPECT_EQ(Render({{"developer", "Rules", ""}, {"user", "Hi", ""}}),
            std::string("<|turn>system\nRules<turn|>\n<|turn>user\nHi<turn|>\n") + kGen);
}

TEST(ChatTemplate, MultiTurnStripsEarlierThoughts) {
  const std::vector<ChatMessage> messages = {
      {"user", "What is 2+2?", ""},
      {"assistant", "<|channel>thought\nTwo plus two.<channel|>The answer is 4. ", "Two plus two."},
      {"user", "And 3+3?", ""},
  };
  EXPECT_EQ(Render(messages),
            std::string("<|turn>user\nWhat is 2+2?<turn|>\n"
                        "<|turn>model\nThe answer is 4.<turn|>\n"
                        "<|turn>user\nAnd 3+3?<turn|>\n") +
                kGen);
}

// As Gemma 4's real template (llama.cpp's models/templates/google-gemma-4-31B-it.jinja) renders
// it: `<|think|>` and a newline open the first system turn.
TEST(ChatTemplate, ThinkingOnCreatesSystemTurn) {
  ChatTemplateOptions on;
  on.enable_thinking = true;
  EXPECT_EQ(Render({{"user", "Hi", ""}}, on),
            "<|turn>system\n<|think|>\n<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n");
  EXPECT_EQ(Render({{"system", "Be brief.", ""}, {"user", "Hi", ""}}, on),
            "<|turn>system\n<|think|>\nBe brief.<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n");
}

TEST(ChatTemplate, ThinkingOffAppendsEmptyThoughtChannel) {
  ChatTemplateOptions off;
  off.enable_thinking = false;
  const std::string s = Render({{"user", "Hi", ""}}, off);
  EXPECT_EQ(s, "<|turn>user\nHi<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
}

TEST(ChatTemplate, NoGenerationPrompt) {
  ChatTemplateOptions o;
  o.add_generation_prompt = false;
  EXPECT_EQ(Render({{"user", "Hi", ""}, {"model", "Hello!", ""}}, o),
            "<|turn>user\nHi<turn|>\n<|turn>model\nHello!<turn|>\n");
  EXPECT_EQ(Render({}, o), "");
  EXPECT_EQ(Render({}), kGen);
}

TEST(ChatTemplate, LaterSystemMessageIsAnOrdinaryTurn) {
  EXPECT_EQ(Render({{"user", "Hi", ""}, {"system", "Note", ""}}),
            std::string("<|turn>user\nHi<turn|>\n<|turn>system\nNote<turn|>\n") + kGen);
}

TEST(ChatTemplate, UnknownRoleIsAnError) {
  auto s = ApplyChatTemplate(std::vector<ChatMessage>{{"user", "Hi", ""}, {"robot", "x", ""}});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("message 1"));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("'robot'"));
}

TEST(StripThinking, MatchesTheJinjaMacro) {
  EXPECT_EQ(StripThinking("<|channel>thought\nabc<channel|>Answer"), "Answer");
  EXPECT_EQ(StripThinking("A<|channel>x<channel|>B<|channel>y<channel|>C"), "ABC");
  EXPECT_EQ(StripThinking("Answer<|channel>unterminated"), "Answer");
  EXPECT_EQ(StripThinking("stray<channel|> close"), "stray close");
  EXPECT_EQ(StripThinking("  plain \n"), "plain");
}

TEST(ParseModelOutput, SplitsThoughtChannel) {
  ModelOutput o = ParseModelOutput("<|channel>thought\nLet me add.<channel|>It is 4.");
  EXPECT_EQ(o.thoughts, "Let me add.");
  EXPECT_EQ(o.content, "It is 4.");
  o = ParseModelOutput("<|channel>thought\n<channel|>Hi");  // thinking off: empty channel
  EXPECT_EQ(o.thoughts, "");
  EXPECT_EQ(o.content, "Hi");
  o = ParseModelOutput("Plain answer");
  EXPECT_EQ(o.thoughts, "");
  EXPECT_EQ(o.content, "Plain answer");
  o = ParseModelOutput("<|channel>thought\nstill thinking");
  EXPECT_EQ(o.thoughts, "still thinking");
  EXPECT_EQ(o.content, "");
}

}  // namespace
}  // namespace g4::text

// The tool half of the Gemma 4 chat template against what Jinja2 renders from llama.cpp's
// google-gemma-4-31B-it.jinja (testdata/chat_tool_cases.json, made by
// testdata/make_chat_tool_cases.py), and the parser of the model's tool calls.
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "text/chat_template.h"
#include "text/chat_tools.h"

namespace g4::text {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

json LoadCases() {
  std::ifstream in(G4_TEXT_TESTDATA "/chat_tool_cases.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

TEST(ChatTools, EveryCaseRendersAsTheJinjaTemplate) {
  const json cases = LoadCases();
  ASSERT_GE(cases.size(), 9u);
  for (const json& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    absl::StatusOr<std::vector<ChatMessage>> messages = ChatMessagesFromJson(c["messages"]);
    ASSERT_TRUE(messages.ok()) << messages.status();
    ChatTemplateOptions options;
    options.enable_thinking = c["enable_thinking"].get<bool>();
    options.tools = c["tools"];
    absl::StatusOr<std::string> rendered = ApplyChatTemplate(*messages, options);
    ASSERT_TRUE(rendered.ok()) << rendered.status();
    EXPECT_EQ(*rendered, c["expected"].get<std::string>());
  }
}

TEST(ChatTools, OpenAiStringArgumentsAreParsedIntoTheObjectForm) {
  // Clients send arguments as a JSON string; the template writes the object form.
  const json m = json::parse(R"([{"role":"user","content":"x"},
    {"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function",
     "function":{"name":"f","arguments":"{\"b\": 2, \"a\": \"s\"}"}}]}])");
  auto messages = ChatMessagesFromJson(m);
  ASSERT_TRUE(messages.ok()) << messages.status();
  auto rendered = ApplyChatTemplate(*messages);
  ASSERT_TRUE(rendered.ok());
  EXPECT_THAT(*rendered, HasSubstr("<|tool_call>call:f{a:<|\"|>s<|\"|>,b:2}<tool_call|><|tool_response>"));
}

TEST(ChatTools, BadMessagesNameTheField) {
  auto bad = [](const char* text) {
    auto r = ChatMessagesFromJson(json::parse(text));
    EXPECT_FALSE(r.ok()) << text;
    return std::string(r.status().message());
  };
  EXPECT_THAT(bad(R"({"role":"user"})"), HasSubstr("must be an array"));
  EXPECT_THAT(bad(R"([{"content":"x"}])"), HasSubstr("messages[0].role"));
  EXPECT_THAT(bad(R"([{"role":"user","content":5}])"), HasSubstr("messages[0].content"));
  EXPECT_THAT(bad(R"([{"role":"assistant","tool_calls":[{"function":{"name":1}}]}])"),
              HasSubstr("function.name"));
  EXPECT_THAT(bad(R"([{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":3}}]}])"),
              HasSubstr("arguments"));
  ChatTemplateOptions options;
  options.tools = json::parse(R"([{"type":"function","function":{"description":"no name"}}])");
  auto r = ApplyChatTemplate(std::vector<ChatMessage>{{"user", "x", ""}}, options);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("tool 0"));
}

TEST(ChatTools, ParsesCallsBackToJson) {
  // What the template writes for CALL in the fixture, read back.
  ToolCallOutput out = ParseToolCalls(
      "Let me check.<|tool_call>call:get_weather{city:<|\"|>Paris, {FR}<|\"|>,days:3,metric:true,"
      "tags:[<|\"|>a<|\"|>,<|\"|>b<|\"|>],where:{lat:48.85,lon:-2.5e1},Zeta:None}<tool_call|>"
      "<|tool_call>call:now{}<tool_call|><|tool_response>");
  ASSERT_EQ(out.calls.size(), 2u);
  EXPECT_EQ(out.calls[0].name, "get_weather");
  EXPECT_EQ(out.calls[0].arguments, json::parse(R"({"city":"Paris, {FR}","days":3,"metric":true,
    "tags":["a","b"],"where":{"lat":48.85,"lon":-25.0},"Zeta":null})"));
  EXPECT_EQ(out.calls[1].name, "now");
  EXPECT_EQ(out.calls[1].arguments, json::object());
  EXPECT_EQ(out.content, "Let me check.");
}

TEST(ChatTools, FormatAndParseRoundTrip) {
  const json value = json::parse(R"({"s":"x:y,z}","n":-1.5,"i":7,"b":false,"a":[[1],{"k":"v"}],"o":{}})");
  for (bool escape : {false, true}) {
    auto back = ParseToolValue(FormatToolValue(value, escape));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, value);
  }
}

TEST(ChatTools, UnparsableCallStaysInContent) {
  ToolCallOutput out = ParseToolCalls("A<|tool_call>call:f{x:<|\"|>open}<tool_call|>B");
  EXPECT_TRUE(out.calls.empty());
  EXPECT_EQ(out.content, "A<|tool_call>call:f{x:<|\"|>open}<tool_call|>B");
  EXPECT_FALSE(ParseToolValue("{a:1").ok());
  EXPECT_FALSE(ParseToolValue("[1,]").ok());
  EXPECT_FALSE(ParseToolValue("{a:1}x").ok());
}

}  // namespace
}  // namespace g4::text

// Fuzz target: the chat-template renderer and the model-output parser (chat_template.h).
// Input: messages separated by NUL bytes, each a role byte (system, developer, user, model,
// assistant, tool or an unknown role) and its content; the first byte sets the options. The whole input
// is also given to StripThinking and ParseModelOutput as generated text. Properties: an unknown
// role is an error, never a crash; ParseModelOutput's parts come from the text.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "fuzz_util.h"
#include "text/chat_template.h"
#include "text/chat_tools.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* const kRoles[] = {"system", "developer", "user", "model", "assistant", "tool",
                                       "robot"};
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  g4::text::ChatTemplateOptions options;
  options.add_generation_prompt = data[0] & 1;
  options.enable_thinking = data[0] & 2;

  std::vector<g4::text::ChatMessage> messages;
  bool unknown_role = false;
  for (absl::string_view part : absl::StrSplit(text, '\0')) {
    if (part.empty()) continue;
    g4::text::ChatMessage m;
    const int role = static_cast<uint8_t>(part[0]) % 7;
    unknown_role |= role == 6;
    m.role = kRoles[role];
    m.content = std::string(part.substr(1));
    messages.push_back(std::move(m));
  }
  auto rendered = g4::text::ApplyChatTemplate(messages, options);
  if (unknown_role) G4_FUZZ_EXPECT(!rendered.ok());

  (void)g4::text::StripThinking(text);
  const g4::text::ModelOutput out = g4::text::ParseModelOutput(text);
  G4_FUZZ_EXPECT(out.thoughts.size() + out.content.size() <= text.size());
  // Tool calls read back from arbitrary text: parsed or left in the content, never a crash.
  const g4::text::ToolCallOutput calls = g4::text::ParseToolCalls(text);
  G4_FUZZ_EXPECT(calls.content.size() <= text.size());
  return 0;
}

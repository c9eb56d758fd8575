// Gemma 4's tool syntax (google-gemma-4-31B-it.jinja): how values, declarations and calls are
// written into the prompt, and how the model's calls are read back.
//
// Values (the template's format_argument): strings between `<|"|>` marks (no escaping inside),
// true/false, numbers as Python prints them, null as `None`, arrays `[a,b]`, objects `{k:v,...}`
// with keys sorted case-insensitively (Jinja's dictsort) and written bare or between `<|"|>`.
//
// A call in model output: `<|tool_call>call:NAME{k:v,...}<tool_call|>`, keys bare.
#ifndef GEMMA4C_RUNTIME_TEXT_CHAT_TOOLS_H_
#define GEMMA4C_RUNTIME_TEXT_CHAT_TOOLS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace g4::text {

// format_argument(value, escape_keys).
std::string FormatToolValue(const nlohmann::json& value, bool escape_keys);

// `declaration:NAME{description:...,parameters:{...}}` for one OpenAI tool
// ({"type":"function","function":{...}}), trimmed, without the <|tool> marks.
// InvalidArgument when function.name is missing or not a string.
absl::StatusOr<std::string> FormatToolDeclaration(const nlohmann::json& tool);

struct ParsedToolCall {
  std::string name;
  nlohmann::json arguments;  // an object
};

// The calls in generated text (decoded with render_special), in order, and the text outside
// them (`content`, trimmed). A call that does not parse stays in `content`, so nothing the model
// wrote is lost.
struct ToolCallOutput {
  std::vector<ParsedToolCall> calls;
  std::string content;
};
ToolCallOutput ParseToolCalls(absl::string_view text);

// Parses one value in the syntax above (keys bare or quoted); for tests and the parser.
absl::StatusOr<nlohmann::json> ParseToolValue(absl::string_view text);

struct ChatMessage;

// OpenAI chat `messages` (an array of {role, content, reasoning_content?, tool_calls?,
// tool_call_id?, name?}) as template input. `content` may be a string, null or an array of
// {type:"text", text} parts (joined); `tool_calls[i].function.arguments` an object or a JSON
// string (parsed when it holds an object, else kept verbatim). InvalidArgument naming the message
// index and field for anything else.
absl::StatusOr<std::vector<ChatMessage>> ChatMessagesFromJson(const nlohmann::json& messages);

}  // namespace g4::text

#endif  // GEMMA4C_RUNTIME_TEXT_CHAT_TOOLS_H_

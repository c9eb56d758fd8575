// The Gemma 4 chat format (architecture spec §7), rendered directly in C++ (no Jinja engine).
// It reproduces llama.cpp's models/templates/google-gemma-4-31B-it.jinja for text conversations,
// tool declarations, assistant tool calls and OpenAI-style `tool` responses:
//
//   [<|turn>system\n[<|think|>]SYSTEM<turn|>\n]          first message system/developer, or thinking
//   <|turn>user\nUSER<turn|>\n                            content trimmed
//   <|turn>model\nANSWER<turn|>\n                         assistant -> model; thoughts stripped
//   ...
//   <|turn>model\n[<|channel>thought\n<channel|>]         generation prompt; the empty thought
//                                                         channel only when thinking is off
//
// Tools (chat_tools.h has the value syntax): declarations `<|tool>declaration:NAME{...}<tool|>`
// close the system turn; an assistant's calls are `<|tool_call>call:NAME{k:v,...}<tool_call|>`,
// followed by the `tool` messages after it as `<|tool_response>response:NAME{value:...}<tool_response|>`
// in the same model turn; with no content after the responses the turn stays open and no
// generation prompt follows (the model continues its turn).
//
// `<bos>` is not emitted (the template's {{ bos_token }}): Tokenizer::Encode adds BOS. Encode the
// result with parse_special = true. Simplifications are listed in docs/tokenizer.md.
#ifndef GEMMA4C_RUNTIME_TEXT_CHAT_TEMPLATE_H_
#define GEMMA4C_RUNTIME_TEXT_CHAT_TEMPLATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "nlohmann/json.hpp"

namespace g4::text {

// One call of an assistant message (OpenAI `tool_calls[i]`).
struct ToolCall {
  std::string id;               // matched against a tool message's tool_call_id ("" = none)
  std::string name;
  nlohmann::json arguments;     // an object (rendered key:value, keys sorted) or a string (verbatim)
};

struct ChatMessage {
  std::string role;      // "system", "developer", "user", "model", "assistant" or "tool"
  std::string content;
  std::string thoughts;  // the model's reasoning for this answer. Rendered only as the template
                         // renders reasoning_content: on an assistant message with tool calls
                         // after the last user message; otherwise kept for the caller.
  std::vector<ToolCall> tool_calls;  // assistant
  std::string tool_call_id;          // tool: the call it answers ("" = none)
  std::string name;                  // tool: the function's name when no call id matches
};

struct ChatTemplateOptions {
  bool add_generation_prompt = true;
  bool enable_thinking = false;
  // OpenAI `tools`: an array of {"type":"function","function":{name, description, parameters}}.
  // Null or empty: none.
  nlohmann::json tools;
};

// Renders the conversation. InvalidArgument for an unknown role (named with its index) or a tool
// declaration without function.name. A `tool` message that follows no assistant tool call is
// dropped, as the template drops it.
absl::StatusOr<std::string> ApplyChatTemplate(absl::Span<const ChatMessage> messages,
                                              const ChatTemplateOptions& options = {});

// The template's strip_thinking macro: drops every `<|channel>...<channel|>` span and an
// unterminated `<|channel>...` tail, removes a stray `<channel|>`, then trims whitespace.
std::string StripThinking(absl::string_view text);

// Splits generated model text (after the generation prompt, up to but excluding `<turn|>`, decoded
// with render_special) into the thought channel and the answer: "<|channel>thought\nT<channel|>A"
// gives {T, A}; text without a channel gives {"", text}. An unterminated channel is all thought.
struct ModelOutput {
  std::string thoughts;
  std::string content;
};
ModelOutput ParseModelOutput(absl::string_view text);

}  // namespace g4::text

#endif  // GEMMA4C_RUNTIME_TEXT_CHAT_TEMPLATE_H_

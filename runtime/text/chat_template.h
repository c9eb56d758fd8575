// The Gemma 4 chat format (architecture spec §7), rendered directly in C++ (no Jinja engine).
// It reproduces llama.cpp's models/templates/gemma4.jinja for text conversations without tools:
//
//   [<|turn>system\n[<|think|>]SYSTEM<turn|>\n]          first message system/developer, or thinking
//   <|turn>user\nUSER<turn|>\n                            content trimmed
//   <|turn>model\nANSWER<turn|>\n                         assistant -> model; thoughts stripped
//   ...
//   <|turn>model\n[<|channel>thought\n<channel|>]         generation prompt; the empty thought
//                                                         channel only when thinking is off
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

namespace g4::text {

struct ChatMessage {
  std::string role;      // "system", "developer", "user", "model" or "assistant"
  std::string content;
  std::string thoughts;  // the model's reasoning for this answer; never rendered (the template
                         // strips earlier thoughts), kept so callers can store it with the turn
};

struct ChatTemplateOptions {
  bool add_generation_prompt = true;
  bool enable_thinking = false;
};

// Renders the conversation. InvalidArgument for an unknown role (named with its index).
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

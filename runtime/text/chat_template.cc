// Gemma 4 chat template. See chat_template.h and docs/tokenizer.md.
#include "text/chat_template.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "text/chat_tools.h"

namespace g4::text {
namespace {

constexpr absl::string_view kTurnOpen = "<|turn>";
constexpr absl::string_view kTurnClose = "<turn|>\n";
constexpr absl::string_view kChannelOpen = "<|channel>";
constexpr absl::string_view kChannelClose = "<channel|>";
// The thinking switch opens the system turn on a line of its own (google-gemma-4-31B-it.jinja:
// `'<|think|>\n'`).
constexpr absl::string_view kThink = "<|think|>\n";
constexpr absl::string_view kEmptyThought = "<|channel>thought\n<channel|>";

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Jinja's `trim` (Python str.strip), ASCII whitespace only.
absl::string_view Trim(absl::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string StripThinking(absl::string_view text) {
  // {% for part in text.split('<channel|>') %}
  //   {% if '<|channel>' in part %} result += part.split('<|channel>')[0]
  //   {% else %} result += part {% endif %}
  // {% endfor %} {{ result | trim }}
  std::string result;
  for (absl::string_view part : absl::StrSplit(text, kChannelClose)) {
    const size_t open = part.find(kChannelOpen);
    result.append(part.data(), open == absl::string_view::npos ? part.size() : open);
  }
  return std::string(Trim(result));
}

ModelOutput ParseModelOutput(absl::string_view text) {
  ModelOutput out;
  const size_t open = text.find(kChannelOpen);
  if (open == absl::string_view::npos) {
    out.content = std::string(text);
    return out;
  }
  absl::string_view after = text.substr(open + kChannelOpen.size());
  const size_t close = after.find(kChannelClose);
  absl::string_view channel = close == absl::string_view::npos ? after : after.substr(0, close);
  constexpr absl::string_view kThoughtName = "thought\n";
  if (channel.substr(0, kThoughtName.size()) == kThoughtName) {
    channel.remove_prefix(kThoughtName.size());
  }
  out.thoughts = std::string(channel);
  out.content = std::string(text.substr(0, open));
  if (close != absl::string_view::npos) {
    absl::StrAppend(&out.content, after.substr(close + kChannelClose.size()));
  }
  return out;
}

namespace {

// What the last rendered piece was (the template's ns.prev_message_type): a generation prompt is
// not added after tool calls or tool responses, since the model continues its own turn there.
enum class Prev { kNone, kOther, kToolCall, kToolResponse };

bool KnownRole(const std::string& role) {
  return role == "system" || role == "developer" || role == "user" || role == "model" ||
         role == "assistant" || role == "tool";
}

// `<|tool_call>call:NAME{k:v,...}<tool_call|>`: object arguments key:value with bare keys,
// string arguments verbatim.
std::string FormatToolCall(const ToolCall& call) {
  std::string out = absl::StrCat("<|tool_call>call:", call.name, "{");
  if (call.arguments.is_object()) {
    const std::string object = FormatToolValue(call.arguments, /*escape_keys=*/false);
    out.append(object, 1, object.size() - 2);  // without its braces
  } else if (call.arguments.is_string()) {
    out += call.arguments.get<std::string>();
  }
  return out + "}<tool_call|>";
}

// format_tool_response_block(name, content) for string content.
std::string FormatToolResponse(absl::string_view name, absl::string_view content) {
  return absl::StrCat("<|tool_response>response:", name, "{value:",
                      FormatToolValue(std::string(content), /*escape_keys=*/false), "}<tool_response|>");
}

}  // namespace

absl::StatusOr<std::string> ApplyChatTemplate(absl::Span<const ChatMessage> messages,
                                              const ChatTemplateOptions& options) {
  for (size_t i = 0; i < messages.size(); ++i) {
    if (!KnownRole(messages[i].role)) {
      return absl::InvalidArgumentError(
          absl::StrCat("chat template: message ", i, ": unsupported role '", messages[i].role,
                       "' (expected system, developer, user, model, assistant or tool)"));
    }
  }
  const bool has_tools = options.tools.is_array() && !options.tools.empty();
  std::string out;
  size_t first = 0;
  Prev prev = Prev::kNone;
  const bool first_is_system =
      !messages.empty() && (messages[0].role == "system" || messages[0].role == "developer");
  if (options.enable_thinking || first_is_system || has_tools) {
    absl::StrAppend(&out, kTurnOpen, "system\n");
    if (options.enable_thinking) {
      absl::StrAppend(&out, kThink);
      prev = Prev::kOther;
    }
    if (first_is_system) {
      absl::StrAppend(&out, Trim(messages[0].content));
      first = 1;
    }
    if (has_tools) {
      for (size_t t = 0; t < options.tools.size(); ++t) {
        absl::StatusOr<std::string> declaration = FormatToolDeclaration(options.tools[t]);
        if (!declaration.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("chat template: tool ", t, ": ", declaration.status().message()));
        }
        absl::StrAppend(&out, "<|tool>", *declaration, "<tool|>");
      }
      prev = Prev::kOther;
    }
    absl::StrAppend(&out, kTurnClose);
  }
  const absl::Span<const ChatMessage> loop = messages.subspan(first);
  // The reasoning guard: thoughts are rendered only after the last user message.
  ptrdiff_t last_user = -1;
  for (size_t i = 0; i < loop.size(); ++i) {
    if (loop[i].role == "user") last_user = ptrdiff_t(i);
  }
  for (size_t i = 0; i < loop.size(); ++i) {
    const ChatMessage& m = loop[i];
    if (m.role == "tool") continue;  // rendered with the assistant message that called it
    prev = Prev::kNone;
    const bool is_model = m.role == "model" || m.role == "assistant";
    const std::string role = m.role == "assistant" ? "model" : m.role;
    // An assistant message right after another one (tool messages between) continues its turn.
    const ChatMessage* previous = nullptr;
    for (size_t j = i; j-- > 0;) {
      if (loop[j].role != "tool") {
        previous = &loop[j];
        break;
      }
    }
    if (!(role == "model" && previous != nullptr && previous->role == "assistant")) {
      absl::StrAppend(&out, kTurnOpen, role, "\n");
    }
    if (!m.thoughts.empty() && ptrdiff_t(i) > last_user && !m.tool_calls.empty()) {
      absl::StrAppend(&out, "<|channel>thought\n", m.thoughts, "\n<channel|>");
    }
    for (const ToolCall& call : m.tool_calls) out += FormatToolCall(call);
    if (!m.tool_calls.empty()) prev = Prev::kToolCall;
    bool responded = false;
    if (!m.tool_calls.empty()) {
      for (size_t k = i + 1; k < loop.size() && loop[k].role == "tool"; ++k) {
        std::string name = loop[k].name.empty() ? "unknown" : loop[k].name;
        for (const ToolCall& call : m.tool_calls) {
          if (call.id == loop[k].tool_call_id) name = call.name;
        }
        out += FormatToolResponse(name, loop[k].content);
        responded = true;
        prev = Prev::kToolResponse;
      }
    }
    absl::StrAppend(&out, is_model ? StripThinking(m.content) : std::string(Trim(m.content)));
    if (prev == Prev::kToolCall && !responded) {
      out += "<|tool_response>";
    } else if (!(responded && m.content.empty())) {
      absl::StrAppend(&out, kTurnClose);
    }
  }
  if (options.add_generation_prompt && prev != Prev::kToolCall && prev != Prev::kToolResponse) {
    absl::StrAppend(&out, kTurnOpen, "model\n");
    if (!options.enable_thinking) absl::StrAppend(&out, kEmptyThought);
  }
  return out;
}

}  // namespace g4::text

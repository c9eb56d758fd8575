// Gemma 4 chat template. See chat_template.h and docs/tokenizer.md.
#include "text/chat_template.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

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

absl::StatusOr<std::string> ApplyChatTemplate(absl::Span<const ChatMessage> messages,
                                              const ChatTemplateOptions& options) {
  std::string out;
  size_t first = 0;
  const bool first_is_system =
      !messages.empty() && (messages[0].role == "system" || messages[0].role == "developer");
  if (options.enable_thinking || first_is_system) {
    absl::StrAppend(&out, kTurnOpen, "system\n");
    if (options.enable_thinking) absl::StrAppend(&out, kThink);
    if (first_is_system) {
      absl::StrAppend(&out, Trim(messages[0].content));
      first = 1;
    }
    absl::StrAppend(&out, kTurnClose);
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "model" || m.role == "assistant") {
      absl::StrAppend(&out, kTurnOpen, "model\n", StripThinking(m.content), kTurnClose);
    } else if (m.role == "user" || m.role == "system" || m.role == "developer") {
      absl::StrAppend(&out, kTurnOpen, m.role, "\n", Trim(m.content), kTurnClose);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("chat template: message ", i, ": unsupported role '", m.role,
                       "' (expected system, developer, user, model or assistant)"));
    }
  }
  if (options.add_generation_prompt) {
    absl::StrAppend(&out, kTurnOpen, "model\n");
    if (!options.enable_thinking) absl::StrAppend(&out, kEmptyThought);
  }
  return out;
}

}  // namespace g4::text

// Gemma 4 tool syntax. See chat_tools.h. Each function names the template macro it reproduces.
#include "text/chat_tools.h"

#include <algorithm>
#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "text/chat_template.h"

namespace g4::text {
namespace {

using json = nlohmann::json;
constexpr absl::string_view kQuote = "<|\"|>";
constexpr absl::string_view kCallOpen = "<|tool_call>";
constexpr absl::string_view kCallClose = "<tool_call|>";

// Jinja truthiness of a JSON value (a missing key is null: false).
bool Truthy(const json& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) return !v.get_ref<const std::string&>().empty();
  return !v.empty();
}

// `{{ v }}`: Python's str() of the value.
std::string PyStr(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "None";
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  return v.dump();
}

// `value[key]` on something that may not be an object (Jinja: undefined, here null).
const json& Get(const json& v, const char* key) {
  static const json kNull;
  if (!v.is_object()) return kNull;
  auto it = v.find(key);
  return it == v.end() ? kNull : *it;
}

// `value[key] | upper`; an undefined value is "".
std::string UpperOf(const json& v, const char* key) {
  if (!v.is_object() || !v.contains(key)) return "";
  return absl::AsciiStrToUpper(PyStr(v.at(key)));
}

// Jinja's dictsort: items by key, case-insensitively.
std::vector<std::pair<std::string, const json*>> DictSort(const json& object) {
  std::vector<std::pair<std::string, const json*>> items;
  for (auto it = object.begin(); it != object.end(); ++it) items.emplace_back(it.key(), &it.value());
  std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
    return absl::AsciiStrToLower(a.first) < absl::AsciiStrToLower(b.first);
  });
  return items;
}

std::string Quoted(absl::string_view s) { return absl::StrCat(kQuote, s, kQuote); }

std::string QuotedList(const json& items) {
  std::string out = "[";
  bool first = true;
  if (items.is_array()) {
    for (const json& item : items) {
      if (!first) out += ",";
      first = false;
      out += Quoted(PyStr(item));
    }
  }
  return out + "]";
}

// The `{%- if add_comma %},{%- else -%}{%- set add_comma = true -%}{% endif -%}` idiom.
void Comma(bool* add_comma, std::string* out) {
  if (*add_comma) *out += ",";
  *add_comma = true;
}

// format_parameters(properties, required): one `key:{...}` per non-standard key.
std::string FormatParameters(const json& properties) {
  static const char* kStandard[] = {"description", "type", "properties", "required", "nullable"};
  std::string out;
  bool found_first = false;
  if (!properties.is_object()) return out;
  for (const auto& [key, value_ptr] : DictSort(properties)) {
    const json& value = *value_ptr;
    if (std::find(std::begin(kStandard), std::end(kStandard), key) != std::end(kStandard)) continue;
    if (found_first) out += ",";
    found_first = true;
    absl::StrAppend(&out, key, ":{");
    bool add_comma = false;
    if (Truthy(Get(value, "description"))) {
      absl::StrAppend(&out, "description:", Quoted(PyStr(Get(value, "description"))));
      add_comma = true;
    }
    const std::string type = UpperOf(value, "type");
    if (type == "STRING") {
      if (Truthy(Get(value, "enum"))) {
        Comma(&add_comma, &out);
        absl::StrAppend(&out, "enum:", FormatToolValue(Get(value, "enum"), true));
      }
    } else if (type == "ARRAY") {
      const json& items = Get(value, "items");
      if (items.is_object() && !items.empty()) {
        Comma(&add_comma, &out);
        out += "items:{";
        bool items_first = false;
        for (const auto& [item_key, item_ptr] : DictSort(items)) {
          const json& item = *item_ptr;
          if (item.is_null()) continue;
          if (items_first) out += ",";
          items_first = true;
          if (item_key == "properties") {
            out += "properties:{";
            if (item.is_object()) out += FormatParameters(item);
            out += "}";
          } else if (item_key == "required") {
            absl::StrAppend(&out, "required:", QuotedList(item));
          } else if (item_key == "type") {
            if (item.is_string()) {
              absl::StrAppend(&out, "type:", FormatToolValue(absl::AsciiStrToUpper(item.get<std::string>()), true));
            } else {
              json upper = json::array();
              if (item.is_array()) {
                for (const json& t : item) upper.push_back(absl::AsciiStrToUpper(PyStr(t)));
              }
              absl::StrAppend(&out, "type:", FormatToolValue(upper, true));
            }
          } else {
            absl::StrAppend(&out, item_key, ":", FormatToolValue(item, true));
          }
        }
        out += "}";
      }
    }
    if (Truthy(Get(value, "nullable"))) {
      Comma(&add_comma, &out);
      out += "nullable:true";
    }
    if (type == "OBJECT") {
      const json& props = Get(value, "properties");
      if (props.is_object()) {
        Comma(&add_comma, &out);
        absl::StrAppend(&out, "properties:{", FormatParameters(props), "}");
      } else if (value.is_object()) {
        Comma(&add_comma, &out);
        absl::StrAppend(&out, "properties:{", FormatParameters(value), "}");
      }
      if (Truthy(Get(value, "required"))) {
        Comma(&add_comma, &out);
        absl::StrAppend(&out, "required:", QuotedList(Get(value, "required")));
      }
    }
    Comma(&add_comma, &out);
    absl::StrAppend(&out, "type:", Quoted(type), "}");
  }
  return out;
}

// A cursor over model output for ParseToolValue.
class ValueParser {
 public:
  explicit ValueParser(absl::string_view s) : s_(s) {}

  absl::StatusOr<json> Value() {
    if (Eat(kQuote)) {
      const size_t end = s_.find(kQuote, pos_);
      if (end == absl::string_view::npos) return Error("unterminated <|\"|> string");
      json v = std::string(s_.substr(pos_, end - pos_));
      pos_ = end + kQuote.size();
      return v;
    }
    if (Eat("{")) return Object();
    if (Eat("[")) return Array();
    return Scalar();
  }
  bool AtEnd() const { return pos_ == s_.size(); }
  size_t pos() const { return pos_; }
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("tool value: ", what, " at offset ", pos_));
  }

 private:
  bool Eat(absl::string_view token) {
    if (s_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }
  absl::StatusOr<json> Object() {
    json out = json::object();
    if (Eat("}")) return out;
    for (;;) {
      std::string key;
      if (Eat(kQuote)) {
        const size_t end = s_.find(kQuote, pos_);
        if (end == absl::string_view::npos) return Error("unterminated key");
        key = std::string(s_.substr(pos_, end - pos_));
        pos_ = end + kQuote.size();
      } else {
        const size_t colon = s_.find(':', pos_);
        if (colon == absl::string_view::npos || colon == pos_) return Error("expected key:");
        key = std::string(s_.substr(pos_, colon - pos_));
        pos_ = colon;
      }
      if (!Eat(":")) return Error("expected ':'");
      absl::StatusOr<json> v = Value();
      if (!v.ok()) return v.status();
      out[key] = *std::move(v);
      if (Eat("}")) return out;
      if (!Eat(",")) return Error("expected ',' or '}'");
    }
  }
  absl::StatusOr<json> Array() {
    json out = json::array();
    if (Eat("]")) return out;
    for (;;) {
      absl::StatusOr<json> v = Value();
      if (!v.ok()) return v.status();
      out.push_back(*std::move(v));
      if (Eat("]")) return out;
      if (!Eat(",")) return Error("expected ',' or ']'");
    }
  }
  // true/false/None/null or a number, up to the next delimiter.
  absl::StatusOr<json> Scalar() {
    size_t end = pos_;
    while (end < s_.size() && s_[end] != ',' && s_[end] != '}' && s_[end] != ']') ++end;
    const std::string word(absl::StripAsciiWhitespace(s_.substr(pos_, end - pos_)));
    if (word.empty()) return Error("expected a value");
    pos_ = end;
    if (word == "true" || word == "True") return json(true);
    if (word == "false" || word == "False") return json(false);
    if (word == "None" || word == "null") return json(nullptr);
    // A number is read by the JSON library (no hand-written number parser); anything else is
    // kept as the text the model wrote.
    json number = json::parse(word, nullptr, /*allow_exceptions=*/false);
    if (!number.is_discarded() && number.is_number()) return number;
    return json(word);
  }

  absl::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::string FormatToolValue(const json& v, bool escape_keys) {
  if (v.is_string()) return Quoted(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, value] : DictSort(v)) {
      if (!first) out += ",";
      first = false;
      absl::StrAppend(&out, escape_keys ? Quoted(key) : key, ":", FormatToolValue(*value, escape_keys));
    }
    return out + "}";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += ",";
      out += FormatToolValue(v[i], escape_keys);
    }
    return out + "]";
  }
  return PyStr(v);
}

absl::StatusOr<std::string> FormatToolDeclaration(const json& tool) {
  const json& function = Get(tool, "function");
  const json& name = Get(function, "name");
  if (!name.is_string() || name.get_ref<const std::string&>().empty()) {
    return absl::InvalidArgumentError("tool declaration: function.name must be a non-empty string");
  }
  std::string out = absl::StrCat("declaration:", name.get<std::string>(), "{description:",
                                 Quoted(function.contains("description") ? PyStr(function["description"]) : ""));
  const json& params = Get(function, "parameters");
  if (Truthy(params)) {
    out += ",parameters:{";
    if (Truthy(Get(params, "properties"))) {
      absl::StrAppend(&out, "properties:{", FormatParameters(Get(params, "properties")), "},");
    }
    if (Truthy(Get(params, "required"))) {
      absl::StrAppend(&out, "required:", QuotedList(Get(params, "required")), ",");
    }
    if (Truthy(Get(params, "type"))) {
      absl::StrAppend(&out, "type:", Quoted(UpperOf(params, "type")), "}");
    }
  }
  if (function.is_object() && function.contains("response")) {
    const json& response = function["response"];
    out += ",response:{";
    if (Truthy(Get(response, "description"))) {
      absl::StrAppend(&out, "description:", Quoted(PyStr(Get(response, "description"))), ",");
    }
    if (UpperOf(response, "type") == "OBJECT") absl::StrAppend(&out, "type:", Quoted("OBJECT"), "}");
  }
  out += "}";
  return std::string(absl::StripAsciiWhitespace(out));
}

absl::StatusOr<json> ParseToolValue(absl::string_view text) {
  ValueParser p(text);
  absl::StatusOr<json> v = p.Value();
  if (!v.ok()) return v.status();
  if (!p.AtEnd()) return p.Error("trailing text");
  return v;
}

ToolCallOutput ParseToolCalls(absl::string_view text) {
  ToolCallOutput out;
  std::string content;
  size_t pos = 0;
  for (;;) {
    const size_t open = text.find(kCallOpen, pos);
    if (open == absl::string_view::npos) break;
    const size_t close = text.find(kCallClose, open);
    if (close == absl::string_view::npos) break;
    absl::string_view call = text.substr(open + kCallOpen.size(), close - open - kCallOpen.size());
    const size_t brace = call.find('{');
    bool parsed = false;
    if (call.substr(0, 5) == "call:" && brace != absl::string_view::npos && brace > 5) {
      absl::StatusOr<json> args = ParseToolValue(call.substr(brace));
      if (args.ok() && args->is_object()) {
        out.calls.push_back({std::string(call.substr(5, brace - 5)), *std::move(args)});
        parsed = true;
      }
    }
    absl::StrAppend(&content, text.substr(pos, open - pos));
    if (!parsed) absl::StrAppend(&content, text.substr(open, close + kCallClose.size() - open));
    pos = close + kCallClose.size();
  }
  absl::StrAppend(&content, text.substr(pos));
  // The model may close its calls with <|tool_response> (an end-of-generation mark in llama.cpp).
  constexpr absl::string_view kResponseOpen = "<|tool_response>";
  const size_t marker = content.rfind(std::string(kResponseOpen));
  if (marker != std::string::npos && marker + kResponseOpen.size() == content.size()) content.resize(marker);
  out.content = std::string(absl::StripAsciiWhitespace(content));
  return out;
}

namespace {

absl::Status FieldError(size_t i, absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("messages[", i, "].", field, ": ", problem));
}

// A string, null (""), or an array of {type:"text", text} parts joined.
absl::StatusOr<std::string> ContentText(const json& content, size_t i) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return FieldError(i, "content", "must be a string, null or an array of parts");
  std::string text;
  for (const json& part : content) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
      return FieldError(i, "content", "each part must be an object with a string 'type'");
    }
    if (part["type"] != "text") return FieldError(i, "content", "only text parts are supported");
    if (!part.contains("text") || !part["text"].is_string()) return FieldError(i, "content", "a text part needs a string 'text'");
    text += part["text"].get<std::string>();
  }
  return text;
}

absl::StatusOr<std::string> OptionalString(const json& m, const char* key, size_t i) {
  if (!m.contains(key) || m[key].is_null()) return std::string();
  if (!m[key].is_string()) return FieldError(i, key, "must be a string");
  return m[key].get<std::string>();
}

}  // namespace

absl::StatusOr<std::vector<ChatMessage>> ChatMessagesFromJson(const json& messages) {
  if (!messages.is_array()) return absl::InvalidArgumentError("messages: must be an array");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    if (!m.is_object()) return FieldError(i, "", "must be an object");
    if (!m.contains("role") || !m["role"].is_string()) return FieldError(i, "role", "must be a string");
    ChatMessage message;
    message.role = m["role"].get<std::string>();
    if (m.contains("content")) {
      absl::StatusOr<std::string> content = ContentText(m["content"], i);
      if (!content.ok()) return content.status();
      message.content = *std::move(content);
    }
    for (const char* key : {"reasoning_content", "reasoning"}) {
      absl::StatusOr<std::string> thoughts = OptionalString(m, key, i);
      if (!thoughts.ok()) return thoughts.status();
      if (message.thoughts.empty()) message.thoughts = *std::move(thoughts);
    }
    absl::StatusOr<std::string> id = OptionalString(m, "tool_call_id", i);
    if (!id.ok()) return id.status();
    message.tool_call_id = *std::move(id);
    absl::StatusOr<std::string> name = OptionalString(m, "name", i);
    if (!name.ok()) return name.status();
    message.name = *std::move(name);
    if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
      if (!m["tool_calls"].is_array()) return FieldError(i, "tool_calls", "must be an array");
      for (const json& call : m["tool_calls"]) {
        if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) {
          return FieldError(i, "tool_calls", "each call needs a 'function' object");
        }
        const json& function = call["function"];
        if (!function.contains("name") || !function["name"].is_string()) {
          return FieldError(i, "tool_calls", "function.name must be a string");
        }
        ToolCall parsed;
        parsed.name = function["name"].get<std::string>();
        if (call.contains("id") && call["id"].is_string()) parsed.id = call["id"].get<std::string>();
        if (function.contains("arguments")) {
          const json& args = function["arguments"];
          if (args.is_string()) {
            json object = json::parse(args.get<std::string>(), nullptr, /*allow_exceptions=*/false);
            parsed.arguments = !object.is_discarded() && object.is_object() ? object : args;
          } else if (args.is_object()) {
            parsed.arguments = args;
          } else if (!args.is_null()) {
            return FieldError(i, "tool_calls", "function.arguments must be a string or an object");
          }
        }
        message.tool_calls.push_back(std::move(parsed));
      }
    }
    out.push_back(std::move(message));
  }
  return out;
}

}  // namespace g4::text

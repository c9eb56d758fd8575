#include "exec/g4run_text.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "gguf/gguf.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace g4::run {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int Fail(FILE* err, const std::string& message) {
  std::fprintf(err, "g4run: %s\n", message.c_str());
  return 1;
}

// Prompt and generation bookkeeping across the turns of a conversation.
struct Stats {
  int64_t prompt_tokens = 0, generated = 0;
  double prefill_s = 0, decode_s = 0;
};

class Conversation {
 public:
  Conversation(g4rt_session* s, const text::Tokenizer& tok, const TextOptions& o, FILE* out, FILE* err)
      : s_(s), tok_(tok), o_(o), out_(out), err_(err), sampler_(o.sampling) {}

  // Brings the cache to `tokens` (reusing the longest cached prefix), then generates the
  // model's answer, streaming it. Returns the answer's text, or an error message.
  bool Turn(const std::vector<int32_t>& tokens, std::string* answer, std::string* error) {
    size_t common = 0;
    while (common < cached_.size() && common < tokens.size() && cached_[common] == tokens[common]) ++common;
    if (common == tokens.size() && common > 0) --common;  // re-evaluate the last token for its logits
    if (g4rt_status* st = g4rt_rewind(s_, int64_t(common))) {  // the ring may be too short
      g4rt_status_free(st);
      g4rt_reset(s_);
      common = 0;
    }
    cached_.resize(common);
    if (o_.verbose) PrintIds("prompt ids (new)", tokens.begin() + common, tokens.end());
    auto t0 = Clock::now();
    if (!Eval(std::vector<int32_t>(tokens.begin() + common, tokens.end()), error)) return false;
    stats_.prefill_s += Seconds(t0, Clock::now());
    stats_.prompt_tokens += int64_t(tokens.size() - common);

    text::DecodeStream stream(&tok_);
    const int64_t generated_before = stats_.generated;
    auto d0 = Clock::now();
    for (int i = 0; i < o_.max_new_tokens; ++i) {
      const float* logits;
      int64_t rows, vocab;
      if (g4rt_status* st = g4rt_logits(s_, &logits, &rows, &vocab)) return Error(st, error);
      const int32_t next = sampler_.Sample(absl::MakeConstSpan(logits + (rows - 1) * vocab, size_t(vocab)));
      sampler_.Accept(next);
      if (sampler_.IsStop(next)) break;
      std::string piece = stream.Push(next);
      answer->append(piece);
      std::fputs(piece.c_str(), out_);
      std::fflush(out_);
      ++stats_.generated;
      if (!Eval({next}, error)) return false;
    }
    if (o_.verbose) PrintIds("answer ids", cached_.end() - stats_.generated + generated_before, cached_.end());
    std::string tail = stream.Finish();
    answer->append(tail);
    std::fputs(tail.c_str(), out_);
    std::fputc('\n', out_);
    std::fflush(out_);  // the answer before the stats, also when both go to one file
    stats_.decode_s += Seconds(d0, Clock::now());
    return true;
  }

  void PrintStats() const {
    std::fprintf(err_, "prompt tokens: %lld, prefill: %.2f tok/s; generated: %lld, decode: %.2f tok/s\n",
                 static_cast<long long>(stats_.prompt_tokens),
                 stats_.prefill_s > 0 ? stats_.prompt_tokens / stats_.prefill_s : 0.0,
                 static_cast<long long>(stats_.generated),
                 stats_.decode_s > 0 ? stats_.generated / stats_.decode_s : 0.0);
  }

 private:
  template <typename It>
  void PrintIds(const char* what, It begin, It end) const {
    std::fprintf(err_, "%s:", what);
    for (It it = begin; it != end; ++it) std::fprintf(err_, " %d", *it);
    std::fprintf(err_, "\n");
  }

  bool Eval(const std::vector<int32_t>& tokens, std::string* error) {
    if (tokens.empty()) return true;
    if (g4rt_status* st = g4rt_eval(s_, tokens.data(), int64_t(tokens.size()))) return Error(st, error);
    cached_.insert(cached_.end(), tokens.begin(), tokens.end());
    return true;
  }
  static bool Error(g4rt_status* st, std::string* error) {
    *error = g4rt_status_message(st);
    g4rt_status_free(st);
    return false;
  }

  g4rt_session* s_;
  const text::Tokenizer& tok_;
  const TextOptions& o_;
  FILE* out_;
  FILE* err_;
  text::Sampler sampler_;
  std::vector<int32_t> cached_;  // the tokens the KV cache holds, in order
  Stats stats_;
};

// The conversation rendered with the Gemma 4 template, ready for the next model turn.
bool Render(const std::vector<text::ChatMessage>& messages, const TextOptions& o,
            const text::Tokenizer& tok, std::vector<int32_t>* tokens, std::string* error) {
  text::ChatTemplateOptions t;
  t.enable_thinking = o.think;
  absl::StatusOr<std::string> rendered = text::ApplyChatTemplate(messages, t);
  if (!rendered.ok()) {
    *error = std::string(rendered.status().message());
    return false;
  }
  *tokens = tok.Encode(*rendered, /*add_bos=*/true, /*parse_special=*/true);
  return true;
}

std::string ReadLine(FILE* in, bool* eof) {
  std::string line;
  int c;
  while ((c = std::fgetc(in)) != EOF && c != '\n') line.push_back(char(c));
  *eof = c == EOF && line.empty();
  return line;
}

}  // namespace

int RunText(g4rt_session* session, const TextOptions& o, FILE* in, FILE* out, FILE* err) {
  auto file = gguf::GgufFile::Open(o.model_path);
  if (!file.ok()) return Fail(err, std::string(file.status().message()));
  auto tok = text::Tokenizer::FromGguf(**file);
  if (!tok.ok()) return Fail(err, std::string(tok.status().message()));
  TextOptions options = o;
  options.sampling.stop_tokens = text::StopTokensFor(**tok);
  Conversation conversation(session, **tok, options, out, err);

  std::vector<text::ChatMessage> messages;
  if (!o.system.empty()) messages.push_back({"system", o.system, ""});
  std::string error;
  auto turn = [&](const std::string& user) {
    std::vector<int32_t> tokens;
    if (o.raw) {
      tokens = (*tok)->Encode(user, /*add_bos=*/true, /*parse_special=*/true);
    } else {
      messages.push_back({"user", user, ""});
      if (!Render(messages, options, **tok, &tokens, &error)) return false;
    }
    std::string answer;
    if (!conversation.Turn(tokens, &answer, &error)) return false;
    text::ModelOutput parsed = text::ParseModelOutput(answer);
    messages.push_back({"model", parsed.content, parsed.thoughts});
    return true;
  };

  if (!o.chat) {
    if (!turn(o.prompt)) return Fail(err, error);
  } else {
    if (!o.prompt.empty() && !turn(o.prompt)) return Fail(err, error);
    for (;;) {
      std::fputs("> ", err);
      bool eof = false;
      std::string line = ReadLine(in, &eof);
      if (eof) break;
      if (line.empty()) continue;
      if (!turn(line)) return Fail(err, error);
    }
  }
  conversation.PrintStats();
  return 0;
}

}  // namespace g4::run

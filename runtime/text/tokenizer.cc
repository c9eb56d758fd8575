// Gemma 4 BPE tokenizer. See tokenizer.h and docs/tokenizer.md.
#include "text/tokenizer.h"

#include <algorithm>
#include <cstring>
#include <queue>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "gguf/gguf.h"

namespace g4::text {
namespace {

constexpr absl::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// Length of the UTF-8 character at p (n bytes available): 2..4 for a valid, shortest-form,
// non-surrogate sequence, else 1 (the byte is a symbol of its own and falls back to <0xXX>).
inline size_t Utf8CharLen(const unsigned char* p, size_t n) {
  const unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 1;
  }
  if (len > n) return 1;
  for (size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 1;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 1;
  return len;
}

// Parses "<0xXX>" (upper- or lower-case hex); -1 otherwise.
int ParseByteToken(absl::string_view s) {
  if (s.size() != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
  auto hex = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
  };
  int hi = hex(s[3]), lo = hex(s[4]);
  if (hi < 0 || lo < 0) return -1;
  return hi * 16 + lo;
}

std::string EscapeSpaces(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (char ch : text) {
    if (ch == ' ') {
      out.append(kSpaceMark.data(), kSpaceMark.size());
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

void AppendUnescaped(absl::string_view piece, std::string* out) {
  size_t i = 0;
  while (i < piece.size()) {
    size_t j = piece.find(kSpaceMark, i);
    if (j == absl::string_view::npos) {
      out->append(piece.data() + i, piece.size() - i);
      return;
    }
    out->append(piece.data() + i, j - i);
    out->push_back(' ');
    i = j + kSpaceMark.size();
  }
}

bool IsSpecialType(int32_t type) {
  return type == static_cast<int32_t>(TokenType::kControl) ||
         type == static_cast<int32_t>(TokenType::kUserDefined) ||
         type == static_cast<int32_t>(TokenType::kUnknown);
}

absl::Status KeyError(absl::string_view file, absl::string_view key, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": key '", key, "': ", problem));
}

// An optional integer id key: -1 when absent; errors name the file and key.
absl::StatusOr<int32_t> OptionalId(const gguf::GgufFile& file, absl::string_view key,
                                   int32_t n_tokens) {
  if (file.Find(key) == nullptr) return -1;
  G4_ASSIGN_OR_RETURN(const uint32_t v, file.GetU32(key));
  if (v >= static_cast<uint32_t>(n_tokens)) {
    return KeyError(file.path(), key,
                    absl::StrCat("token id ", v, " is outside the vocabulary of ", n_tokens));
  }
  return static_cast<int32_t>(v);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const gguf::GgufFile& file) {
  const std::string& path = file.path();
  G4_ASSIGN_OR_RETURN(const std::string model, file.GetString("tokenizer.ggml.model"));
  if (model != "gemma4") {
    return absl::UnimplementedError(absl::StrCat(
        path, ": key 'tokenizer.ggml.model': tokenizer model '", model,
        "' is not supported (this tokenizer implements 'gemma4')"));
  }
  G4_ASSIGN_OR_RETURN(std::vector<std::string> tokens, file.GetStringArray("tokenizer.ggml.tokens"));
  if (tokens.empty()) return KeyError(path, "tokenizer.ggml.tokens", "empty vocabulary");
  if (tokens.size() > static_cast<size_t>(INT32_MAX / 2)) {
    return KeyError(path, "tokenizer.ggml.tokens", "vocabulary too large");
  }
  const int32_t n = static_cast<int32_t>(tokens.size());

  std::vector<int32_t> types;
  if (const gguf::Value* v = file.Find("tokenizer.ggml.token_type")) {
    if (v->type != gguf::ValueType::kArray) {
      return KeyError(path, "tokenizer.ggml.token_type", "expected an array of integers");
    }
    if (v->array.size() != tokens.size()) {
      return KeyError(path, "tokenizer.ggml.token_type",
                      absl::StrCat(v->array.size(), " entries for ", tokens.size(), " tokens"));
    }
    types.reserve(v->array.size());
    for (const gguf::Value& e : v->array) {
      if (!e.IsInteger() || e.type == gguf::ValueType::kBool) {
        return KeyError(path, "tokenizer.ggml.token_type", "expected an array of integers");
      }
      types.push_back(static_cast<int32_t>(e.AsInt()));
    }
  } else {
    return absl::NotFoundError(absl::StrCat(path, ": key 'tokenizer.ggml.token_type': not found"));
  }

  G4_ASSIGN_OR_RETURN(const std::vector<std::string> merges, file.GetStringArray("tokenizer.ggml.merges"));

  TokenizerOptions options;
  G4_ASSIGN_OR_RETURN(options.bos_id, OptionalId(file, "tokenizer.ggml.bos_token_id", n));
  G4_ASSIGN_OR_RETURN(options.eos_id, OptionalId(file, "tokenizer.ggml.eos_token_id", n));
  G4_ASSIGN_OR_RETURN(options.unk_id, OptionalId(file, "tokenizer.ggml.unknown_token_id", n));
  if (file.Find("tokenizer.ggml.add_bos_token") != nullptr) {
    G4_ASSIGN_OR_RETURN(options.add_bos_token, file.GetBool("tokenizer.ggml.add_bos_token"));
  }
  if (options.add_bos_token && options.bos_id < 0) {
    return KeyError(path, "tokenizer.ggml.bos_token_id",
                    "not found, but tokenizer.ggml.add_bos_token is true");
  }
  return FromVocab(std::move(tokens), std::move(types), merges, options, path);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromVocab(
    std::vector<std::string> tokens, std::vector<int32_t> types,
    const std::vector<std::string>& merges, const TokenizerOptions& options,
    const std::string& name) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->name_ = name;
  t->options_ = options;
  t->tokens_ = std::move(tokens);
  t->types_ = std::move(types);
  G4_RETURN_IF_ERROR(t->Init(merges));
  return t;
}

absl::Status Tokenizer::Init(const std::vector<std::string>& merges) {
  const int32_t n = static_cast<int32_t>(tokens_.size());
  if (n == 0) return KeyError(name_, "tokenizer.ggml.tokens", "empty vocabulary");
  if (types_.empty()) {
    types_.resize(n);
    for (int32_t i = 0; i < n; ++i) {
      types_[i] = static_cast<int32_t>(ParseByteToken(tokens_[i]) >= 0 ? TokenType::kByte
                                                                         : TokenType::kNormal);
    }
  }
  if (types_.size() != tokens_.size()) {
    return KeyError(name_, "tokenizer.ggml.token_type",
                    absl::StrCat(types_.size(), " entries for ", tokens_.size(), " tokens"));
  }
  for (const auto& [key, value] : {std::pair<const char*, int32_t>{"bos_token_id", options_.bos_id},
                                   {"eos_token_id", options_.eos_id},
                                   {"unknown_token_id", options_.unk_id}}) {
    if (value < -1 || value >= n) {
      return KeyError(name_, absl::StrCat("tokenizer.ggml.", key),
                      absl::StrCat("token id ", value, " is outside the vocabulary of ", n));
    }
  }
  if (options_.add_bos_token && options_.bos_id < 0) options_.add_bos_token = false;

  // Token strings (the last id wins for a repeated string, as llama.cpp's token_to_id). An empty
  // token is renamed "[EMPTY_<id>]" as llama.cpp does, so it can never match.
  symbol_ids_.reserve(tokens_.size() + merges.size() / 8);
  for (int32_t i = 0; i < n; ++i) {
    if (tokens_[i].empty()) tokens_[i] = absl::StrCat("[EMPTY_", i, "]");
    symbol_ids_[tokens_[i]] = i;
  }
  for (int b = 0; b < 256; ++b) {
    byte_tokens_[b] = FindToken(absl::StrFormat("<0x%02X>", b));
  }

  auto intern = [this, n](absl::string_view s) -> int32_t {
    auto it = symbol_ids_.find(s);
    if (it != symbol_ids_.end()) return it->second;
    const int32_t sid = n + static_cast<int32_t>(extra_symbols_.size());
    extra_symbols_.emplace_back(s);
    symbol_ids_.emplace(absl::string_view(extra_symbols_.back()), sid);
    return sid;
  };
  num_merges_ = merges.size();
  merge_table_.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& m = merges[rank];
    const size_t pos = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (pos == std::string::npos || pos + 1 >= m.size()) continue;  // malformed: never applies
    absl::string_view left(m.data(), pos);
    absl::string_view right(m.data() + pos + 1, m.size() - pos - 1);
    const int32_t l = intern(left);
    const int32_t r = intern(right);
    joined.assign(left.data(), left.size());
    joined.append(right.data(), right.size());
    const int32_t res = intern(joined);
    const uint64_t key = (static_cast<uint64_t>(l) << 32) | static_cast<uint32_t>(r);
    merge_table_.emplace(key, Merge{static_cast<int32_t>(rank), res});  // first rank wins
  }

  specials_by_first_byte_.assign(256, {});
  for (int32_t i = 0; i < n; ++i) {
    if (!IsSpecialType(types_[i])) continue;
    if (symbol_ids_[tokens_[i]] != i) continue;  // a repeated string: the last id is the one
    specials_by_first_byte_[static_cast<unsigned char>(tokens_[i][0])].push_back(i);
  }
  for (auto& list : specials_by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [this](int32_t a, int32_t b) {
      return tokens_[a].size() > tokens_[b].size();
    });
  }

  for (absl::string_view eog : {"<eos>", "<turn|>"}) {
    const int32_t e = FindToken(eog);
    if (e >= 0) eog_ids_.push_back(e);
  }
  if (options_.eos_id >= 0) eog_ids_.push_back(options_.eos_id);
  std::sort(eog_ids_.begin(), eog_ids_.end());
  eog_ids_.erase(std::unique(eog_ids_.begin(), eog_ids_.end()), eog_ids_.end());
  return absl::OkStatus();
}

int32_t Tokenizer::FindToken(absl::string_view text) const {
  auto it = symbol_ids_.find(text);
  if (it == symbol_ids_.end() || it->second >= size()) return -1;
  return it->second;
}

bool Tokenizer::IsEog(int32_t id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

void Tokenizer::EmitBytes(absl::string_view bytes, std::vector<int32_t>* out) const {
  for (char ch : bytes) {
    const int32_t b = byte_tokens_[static_cast<unsigned char>(ch)];
    if (b >= 0) {
      out->push_back(b);
    } else if (options_.unk_id >= 0) {
      out->push_back(options_.unk_id);
    }
  }
}

void Tokenizer::EncodeWord(absl::string_view word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  // A run of newlines that is itself a token stays whole (llama.cpp, gemma4 pre-type).
  if (word[0] == '\n' && word.find_first_not_of('\n') == absl::string_view::npos) {
    const int32_t id = FindToken(word);
    if (id >= 0) {
      out->push_back(id);
      return;
    }
  }

  struct Symbol {
    int32_t id;    // symbol id, -1 when the text is no symbol (cannot merge)
    int32_t prev;  // index of the previous live symbol, -1 at the start
    int32_t next;  // index of the next live symbol, -1 at the end
    uint32_t start;
    uint32_t len;  // 0 once merged into the left neighbour
  };
  struct Bigram {
    int32_t rank;
    int32_t left;  // symbol index
    int32_t left_id;
    int32_t right_id;
    int32_t result;
    bool operator<(const Bigram& o) const {  // priority_queue top = lowest rank, leftmost
      return rank > o.rank || (rank == o.rank && left > o.left);
    }
  };

  const auto* bytes = reinterpret_cast<const unsigned char*>(word.data());
  std::vector<Symbol> syms;
  syms.reserve(word.size());
  for (size_t pos = 0; pos < word.size();) {
    const size_t len = Utf8CharLen(bytes + pos, word.size() - pos);
    auto it = symbol_ids_.find(word.substr(pos, len));
    const int32_t idx = static_cast<int32_t>(syms.size());
    syms.push_back(Symbol{it == symbol_ids_.end() ? -1 : it->second, idx - 1, idx + 1,
                          static_cast<uint32_t>(pos), static_cast<uint32_t>(len)});
    pos += len;
  }
  syms.back().next = -1;

  if (syms.size() > 1 && !merge_table_.empty()) {
    std::vector<Bigram> storage;
    storage.reserve(syms.size());
    std::priority_queue<Bigram> queue(std::less<Bigram>(), std::move(storage));
    auto try_add = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      const int32_t l = syms[left].id, r = syms[right].id;
      if (l < 0 || r < 0) return;
      auto it = merge_table_.find((static_cast<uint64_t>(l) << 32) | static_cast<uint32_t>(r));
      if (it == merge_table_.end()) return;
      queue.push(Bigram{it->second.rank, left, l, r, it->second.result});
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i) try_add(i, i + 1);
    while (!queue.empty()) {
      const Bigram b = queue.top();
      queue.pop();
      Symbol& left = syms[b.left];
      if (left.len == 0 || left.id != b.left_id || left.next < 0) continue;
      Symbol& right = syms[left.next];
      if (right.len == 0 || right.id != b.right_id) continue;  // stale
      left.len += right.len;
      left.id = b.result;
      right.len = 0;
      left.next = right.next;
      if (right.next >= 0) syms[right.next].prev = b.left;
      try_add(left.prev, b.left);
      try_add(b.left, left.next);
    }
  }

  const int32_t n = size();
  for (int32_t i = 0; i >= 0; i = syms[i].next) {
    const Symbol& s = syms[i];
    if (s.id >= 0 && s.id < n) {
      out->push_back(s.id);
    } else {
      EmitBytes(word.substr(s.start, s.len), out);
    }
  }
}

void Tokenizer::EncodeRaw(absl::string_view text, std::vector<int32_t>* out) const {
  if (text.empty()) return;
  const std::string escaped = EscapeSpaces(text);
  absl::string_view rest(escaped);
  // Pre-split: [^\n]+|[\n]+
  while (!rest.empty()) {
    size_t end;
    if (rest[0] == '\n') {
      end = rest.find_first_not_of('\n');
    } else {
      end = rest.find('\n');
    }
    if (end == absl::string_view::npos) end = rest.size();
    EncodeWord(rest.substr(0, end), out);
    rest.remove_prefix(end);
  }
}

std::vector<int32_t> Tokenizer::Encode(absl::string_view text, bool add_bos,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && options_.add_bos_token && options_.bos_id >= 0) out.push_back(options_.bos_id);
  if (!parse_special) {
    EncodeRaw(text, &out);
    return out;
  }
  size_t raw_start = 0;
  size_t i = 0;
  while (i < text.size()) {
    const auto& candidates = specials_by_first_byte_[static_cast<unsigned char>(text[i])];
    int32_t match = -1;
    for (int32_t id : candidates) {  // longest first
      const std::string& s = tokens_[id];
      if (s.size() <= text.size() - i && std::memcmp(text.data() + i, s.data(), s.size()) == 0) {
        match = id;
        break;
      }
    }
    if (match < 0) {
      ++i;
      continue;
    }
    EncodeRaw(text.substr(raw_start, i - raw_start), &out);
    out.push_back(match);
    i += tokens_[match].size();
    raw_start = i;
  }
  EncodeRaw(text.substr(raw_start), &out);
  return out;
}

std::string Tokenizer::TokenToPiece(int32_t id, bool render_special) const {
  std::string out;
  if (id < 0 || id >= size()) return out;
  const std::string& text = tokens_[id];
  switch (static_cast<TokenType>(types_[id])) {
    case TokenType::kByte: {
      const int b = ParseByteToken(text);
      if (b >= 0) {
        out.push_back(static_cast<char>(b));
      } else {
        AppendUnescaped(text, &out);
      }
      break;
    }
    case TokenType::kUserDefined:
      out = text;
      break;
    case TokenType::kControl:
    case TokenType::kUnknown:
    case TokenType::kUnused:
      if (render_special) out = text;
      break;
    default:  // kNormal, kUndefined and unknown type values
      AppendUnescaped(text, &out);
      break;
  }
  return out;
}

std::string Tokenizer::Decode(absl::Span<const int32_t> ids, bool render_special) const {
  std::string out;
  for (int32_t id : ids) out += TokenToPiece(id, render_special);
  return out;
}

std::string DecodeStream::Push(int32_t id) {
  pending_ += tokenizer_->TokenToPiece(id, render_special_);
  // Hold back a trailing sequence that could still become a valid UTF-8 character.
  size_t keep = 0;
  const size_t n = pending_.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const unsigned char c = static_cast<unsigned char>(pending_[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    const size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    if (need > back) keep = back;  // incomplete lead + continuations
    break;
  }
  std::string ready = pending_.substr(0, n - keep);
  pending_.erase(0, n - keep);
  return ready;
}

std::string DecodeStream::Finish() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace g4::text

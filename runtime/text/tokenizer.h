// Gemma 4 tokenizer: SentencePiece-style BPE as llama.cpp runs it for `tokenizer.ggml.model =
// "gemma4"` (architecture spec §6; docs/tokenizer.md).
//
// Encode(text):
//   1. When parse_special, the text is cut at special tokens (token types CONTROL 3, USER_DEFINED
//      4 and UNKNOWN 2), matched leftmost-longest as whole strings; each match becomes its id.
//   2. In every remaining piece, ' ' becomes U+2581 '▁' (nothing else is normalized; no dummy
//      prefix).
//   3. Pre-split into runs of '\n' and runs of everything else (`[^\n]+|[\n]+`). A run of newlines
//      that is itself a token is emitted whole (llama.cpp's gemma4 rule).
//   4. BPE over whole UTF-8 characters: the adjacent pair with the lowest merge rank
//      (`tokenizer.ggml.merges` order) is merged first; ties go to the leftmost pair.
//   5. A final symbol that is a token is emitted as that id; otherwise one `<0xXX>` byte token per
//      UTF-8 byte (byte fallback). Bytes that are not valid UTF-8 are one-byte symbols and always
//      fall back to byte tokens, so every input round-trips byte-exactly, except that a literal
//      U+2581 in the input is the space mark and decodes as ' ' (as in SentencePiece, llama.cpp).
//   BOS is prepended when Encode's add_bos and the file's `tokenizer.ggml.add_bos_token` are set.
//
// Decode(ids): NORMAL tokens with '▁' turned back into ' ', BYTE tokens as their raw byte (so
// invalid UTF-8 is reproduced exactly), USER_DEFINED tokens as their text, CONTROL/UNKNOWN/UNUSED
// tokens as their text only when render_special (skipped otherwise). Out-of-range ids are skipped.
//
// Thread-safety: a Tokenizer is immutable after construction; Encode/Decode may run concurrently.
#ifndef GEMMA4C_RUNTIME_TEXT_TOKENIZER_H_
#define GEMMA4C_RUNTIME_TEXT_TOKENIZER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "gguf/token_type.h"

namespace g4::gguf {
class GgufFile;
}

namespace g4::text {

// tokenizer.ggml.token_type values (gguf/token_type.h).
using TokenType = gguf::TokenType;

struct TokenizerOptions {
  int32_t bos_id = -1;      // -1: none; then BOS is never added
  int32_t eos_id = -1;      // the file's eos id (-1: none)
  int32_t unk_id = -1;      // used for a byte with no <0xXX> token (-1: such bytes are dropped)
  bool add_bos_token = true;
};

class Tokenizer {
 public:
  // Reads tokenizer.ggml.{model,tokens,token_type,merges,bos_token_id,eos_token_id,
  // unknown_token_id,add_bos_token}. Errors name the file and the key: a missing or mistyped
  // tokens/merges/token_type array, a model other than "gemma4", a token_type array of the wrong
  // length, special ids outside the vocabulary.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromGguf(const gguf::GgufFile& file);

  // A tokenizer from in-memory tables (tests, synthetic models). `types` may be empty (all
  // NORMAL, except `<0xXX>` strings which become BYTE). Merges are "left right" strings in rank
  // order (split at the first space after the first byte, as llama.cpp does).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromVocab(
      std::vector<std::string> tokens, std::vector<int32_t> types,
      const std::vector<std::string>& merges, const TokenizerOptions& options,
      const std::string& name = "<vocab>");

  std::vector<int32_t> Encode(absl::string_view text, bool add_bos = true,
                              bool parse_special = false) const;
  std::string Decode(absl::Span<const int32_t> ids, bool render_special = false) const;
  // The bytes one token contributes to Decode (empty for skipped tokens and bad ids).
  std::string TokenToPiece(int32_t id, bool render_special = false) const;

  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  const std::string& token(int32_t id) const { return tokens_[id]; }
  TokenType type(int32_t id) const { return static_cast<TokenType>(types_[id]); }
  // Id of a token string (the last id when a string repeats, as llama.cpp); -1 when absent.
  int32_t FindToken(absl::string_view text) const;

  int32_t bos_id() const { return options_.bos_id; }
  int32_t eos_id() const { return options_.eos_id; }
  bool add_bos_token() const { return options_.add_bos_token; }
  size_t num_merges() const { return num_merges_; }
  const std::string& name() const { return name_; }

  // End-of-generation ids: `<eos>`, `<turn|>` (when present in the vocabulary) and eos_id(),
  // sorted and unique.
  const std::vector<int32_t>& eog_ids() const { return eog_ids_; }
  bool IsEog(int32_t id) const;

 private:
  Tokenizer() = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;
  absl::Status Init(const std::vector<std::string>& merges);
  // BPE over one pre-split word (no '\n' inside unless it is a newline run); appends ids.
  void EncodeWord(absl::string_view word, std::vector<int32_t>* out) const;
  void EncodeRaw(absl::string_view text, std::vector<int32_t>* out) const;
  void EmitBytes(absl::string_view bytes, std::vector<int32_t>* out) const;

  struct Merge {
    int32_t rank;
    int32_t result;  // symbol id of left+right
  };

  std::string name_;
  TokenizerOptions options_;
  std::vector<std::string> tokens_;
  std::vector<int32_t> types_;
  size_t num_merges_ = 0;
  // Symbol ids: token ids for strings in the vocabulary (last id of a repeated string), ids
  // >= size() for merge parts/results that are not tokens.
  // Keys view tokens_ and extra_symbols_ (both stable once built: tokens_ is never resized and a
  // deque never moves its elements).
  absl::flat_hash_map<absl::string_view, int32_t> symbol_ids_;
  std::deque<std::string> extra_symbols_;  // text of symbol ids >= size()
  absl::flat_hash_map<uint64_t, Merge> merge_table_;  // (left << 32 | right) -> merge
  int32_t byte_tokens_[256];
  // Special tokens grouped by first byte, longest first.
  std::vector<std::vector<int32_t>> specials_by_first_byte_;
  std::vector<int32_t> eog_ids_;
};

// Incremental decoding for streaming output: Push() returns the text that is complete so far,
// holding back a trailing incomplete UTF-8 sequence until the next token completes it (or
// Finish() flushes it raw). Concatenating every Push() and Finish() equals Decode(all ids).
class DecodeStream {
 public:
  explicit DecodeStream(const Tokenizer* tokenizer, bool render_special = false)
      : tokenizer_(tokenizer), render_special_(render_special) {}
  std::string Push(int32_t id);
  std::string Finish();

 private:
  const Tokenizer* tokenizer_;
  bool render_special_;
  std::string pending_;
};

}  // namespace g4::text

#endif  // GEMMA4C_RUNTIME_TEXT_TOKENIZER_H_

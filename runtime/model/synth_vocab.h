// The vocabulary of synthetic models: Gemma 4's real special-token ids, byte tokens, single
// characters, and pieces learned by real BPE merges from a small built-in English text.
//
// Layout (architecture spec §6, "Tokenizer"):
//   0..237      specials at their real ids (<pad> 0, <eos> 1, <bos> 2, <unk> 3, <mask> 4, the
//               tool/turn/channel markers, "\n" 107, "\n\n" 108); the rest `<unused_N>` controls
//   238..493    byte tokens <0x00>..<0xFF>
//   494..       single characters (▁ U+2581, letters, digits, punctuation), sorted by code point
//   then        tokens created by BPE merges (greedy most-frequent pair, ties broken by the
//               smaller pair in byte order), in merge order, until the vocabulary is full
//   then        (only when the text runs out of merges, e.g. at 262144) filler pieces "▁w<n>"
//               as normal tokens without merges.
// Spaces are replaced by ▁ and text is pre-split at newline runs, as llama.cpp's gemma4
// tokenizer does, so a BPE tokenizer driven by these merges reproduces the training splits.
#ifndef GEMMA4C_RUNTIME_MODEL_SYNTH_VOCAB_H_
#define GEMMA4C_RUNTIME_MODEL_SYNTH_VOCAB_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gguf/token_type.h"

namespace g4 {

// tokenizer.ggml.token_type values (gguf/token_type.h).
using TokenType = gguf::TokenType;

struct SpecialToken {
  int id;
  const char* text;
  TokenType type;
};
// The special tokens with their real Gemma 4 ids (spec §6), in id order.
const std::vector<SpecialToken>& SynthSpecialTokens();

constexpr int kFirstByteToken = 238;       // <0x00>; <0xFF> is 493
constexpr int kFirstCharacterToken = 494;

struct SynthVocab {
  std::vector<std::string> tokens;  // UTF-8, unique
  std::vector<float> scores;        // -1000 on controls, -(rank+1) on merged pieces, else 0
  std::vector<int32_t> types;       // TokenType values
  std::vector<std::string> merges;  // "left right", rank order; every result is a token
};

// Builds a vocabulary of exactly `vocab_size` tokens (deterministic). InvalidArgument when
// vocab_size cannot hold the fixed part (specials, bytes, characters).
absl::StatusOr<SynthVocab> BuildSynthVocab(int64_t vocab_size);

// The English text the merges are learned from (a few paragraphs, '\n'-separated).
absl::string_view SynthTrainingText();

}  // namespace g4

#endif  // GEMMA4C_RUNTIME_MODEL_SYNTH_VOCAB_H_

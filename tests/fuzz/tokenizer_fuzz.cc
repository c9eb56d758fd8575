// Fuzz target: the tokenizer on arbitrary bytes, with the synthetic models' real-BPE vocabulary
// (1024 tokens: Gemma 4's specials, 256 byte tokens, merges). Input: one flag byte, then the text.
// Properties (tokenizer.h):
//   - every id Encode returns is inside the vocabulary;
//   - without parse_special, Decode(Encode(text)) == text byte for byte (byte fallback), with a
//     literal U+2581 read as the space it stands for;
//   - the text read as little-endian int32 ids (any value) decodes without crashing, and a
//     DecodeStream fed the same ids one by one produces exactly Decode(ids).
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "fuzz_util.h"
#include "model/synth_vocab.h"
#include "text/tokenizer.h"

namespace {

const g4::text::Tokenizer& Vocab() {
  static const g4::text::Tokenizer* tokenizer = [] {
    auto v = g4::BuildSynthVocab(1024);
    G4_FUZZ_EXPECT(v.ok());
    g4::text::TokenizerOptions o;
    o.bos_id = 2;
    o.eos_id = 1;
    o.unk_id = 3;
    auto t = g4::text::Tokenizer::FromVocab(v->tokens, v->types, v->merges, o, "synth-1024");
    G4_FUZZ_EXPECT(t.ok());
    return t->release();
  }();
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const g4::text::Tokenizer& tok = Vocab();
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool add_bos = flags & 1, parse_special = flags & 2, render_special = flags & 4;

  const std::vector<int32_t> ids = tok.Encode(text, add_bos, parse_special);
  for (int32_t id : ids) G4_FUZZ_EXPECT(id >= 0 && id < tok.size());
  // A literal U+2581 in the text is the space mark itself and decodes as ' ' (SentencePiece's
  // rule; found by this target: regressions/tokenizer/space_mark_in_text).
  if (!parse_special) G4_FUZZ_EXPECT(tok.Decode(ids) == absl::StrReplaceAll(text, {{"\xe2\x96\x81", " "}}));

  std::vector<int32_t> raw(text.size() / 4);
  if (!raw.empty()) std::memcpy(raw.data(), text.data(), raw.size() * 4);
  const std::string whole = tok.Decode(raw, render_special);
  g4::text::DecodeStream stream(&tok, render_special);
  std::string streamed;
  for (int32_t id : raw) streamed += stream.Push(id);
  streamed += stream.Finish();
  G4_FUZZ_EXPECT(streamed == whole);
  for (int32_t id : raw) (void)tok.TokenToPiece(id, render_special);
  return 0;
}

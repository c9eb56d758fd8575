// Tokenizer benchmark (not a test): encodes ~100 kB of text on one thread and prints the time.
//
//   tokenizer_bench [model.gguf]
//
// Without an argument the vocabulary is the synthetic Gemma 4 one (262144 tokens, real special
// ids, merges learned from built-in English text; runtime/model/synth_vocab.h), its merge table
// padded to the real 514906 entries. Two inputs: the
// English text repeated (lines of a few hundred bytes) and the same bytes with every newline
// replaced by a space (one 100 kB pre-split word: the BPE queue's worst case).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gguf/gguf.h"
#include "text/tokenizer.h"
#ifdef GEMMA4C_HAVE_SYNTH_VOCAB
#include "model/synth_vocab.h"
#endif

namespace {

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void Run(const g4::text::Tokenizer& t, const std::string& label, const std::string& text) {
  size_t n_tokens = 0;
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = t.Encode(text, true, true);
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, Seconds(t0, t1));
    n_tokens = ids.size();
    if (rep == 0 && t.Decode(ids, true) != "<bos>" + text && t.Decode(ids) != text) {
      std::fprintf(stderr, "warning: %s does not round-trip\n", label.c_str());
    }
  }
  std::printf("%-28s %8zu bytes -> %7zu tokens: %8.2f ms (best of 5), %6.1f MB/s\n",
              label.c_str(), text.size(), n_tokens, best * 1e3, text.size() / best / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  std::unique_ptr<g4::text::Tokenizer> tok;
  std::string base;
  auto t0 = std::chrono::steady_clock::now();
  if (argc > 1) {
    auto file = g4::gguf::GgufFile::Open(argv[1]);
    if (!file.ok()) {
      std::fprintf(stderr, "%s\n", std::string(file.status().message()).c_str());
      return 1;
    }
    auto t = g4::text::Tokenizer::FromGguf(**file);
    if (!t.ok()) {
      std::fprintf(stderr, "%s\n", std::string(t.status().message()).c_str());
      return 1;
    }
    tok = *std::move(t);
  } else {
#ifdef GEMMA4C_HAVE_SYNTH_VOCAB
    auto v = g4::BuildSynthVocab(262144);
    if (!v.ok()) {
      std::fprintf(stderr, "%s\n", std::string(v.status().message()).c_str());
      return 1;
    }
    g4::text::TokenizerOptions o;
    o.bos_id = 2;
    o.eos_id = 1;
    o.unk_id = 3;
    // Pad the merge table to the real file's size (514906 merges) with pairs of filler pieces
    // that never occur in the text, so hash-table size and cache misses are realistic.
    std::vector<std::string> merges = v->merges;
    const std::string sp = "\xE2\x96\x81";
    for (int64_t i = 0; merges.size() < 514906; ++i) {
      merges.push_back(absl::StrCat(sp, "w", i, " ", sp, "w", i + 1));
    }
    const auto tb = std::chrono::steady_clock::now();
    std::printf("synthetic vocabulary built in %.1f ms\n", Seconds(t0, tb) * 1e3);
    t0 = tb;
    t0 = std::chrono::steady_clock::now();
    auto t = g4::text::Tokenizer::FromVocab(v->tokens, v->types, merges, o, "synth-262144");
    if (!t.ok()) {
      std::fprintf(stderr, "%s\n", std::string(t.status().message()).c_str());
      return 1;
    }
    tok = *std::move(t);
#else
    std::fprintf(stderr, "usage: %s model.gguf (built without runtime/model)\n", argv[0]);
    return 1;
#endif
  }
  const auto t1 = std::chrono::steady_clock::now();
  std::printf("vocabulary %s: %d tokens, %zu merges, loaded in %.1f ms\n", tok->name().c_str(),
              tok->size(), tok->num_merges(), Seconds(t0, t1) * 1e3);

#ifdef GEMMA4C_HAVE_SYNTH_VOCAB
  base = std::string(g4::SynthTrainingText());
#else
  base = "The river begins as a thin line of water high in the mountains.\n";
#endif
  // Some text the merges never saw: digits, accents, CJK, emoji (byte fallback in the synth vocab).
  base += "Prices 12.50 EUR, 3\xC3\xA9t\xC3\xA9s, \xE4\xB8\xAD\xE6\x96\x87, \xF0\x9F\x98\x80!\n";
  std::string text;
  for (int i = 0; text.size() < 100 * 1000; ++i) absl::StrAppend(&text, base, i, "\n");
  text.resize(100 * 1000);
  while ((static_cast<unsigned char>(text.back()) & 0xC0) == 0x80 ||
         static_cast<unsigned char>(text.back()) >= 0xC0) {
    text.pop_back();  // do not end inside a UTF-8 character
  }
  Run(*tok, "100 kB, lines", text);
  std::string one_line = text;
  for (char& c : one_line) {
    if (c == '\n') c = ' ';
  }
  Run(*tok, "100 kB, no newline", one_line);
  return 0;
}

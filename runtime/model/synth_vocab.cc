// Synthetic vocabulary: real special ids, byte tokens, characters, and BPE merges learned from a
// built-in text. See synth_vocab.h for the layout.
#include "model/synth_vocab.h"

#include <map>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace g4 {
namespace {

// U+2581 LOWER ONE EIGHTH BLOCK: SentencePiece's visible space.
constexpr absl::string_view kSpaceMark = "\xE2\x96\x81";

// A few paragraphs of plain English, written for this file. Enough distinct words that BPE keeps
// finding pairs well past the ~450 merges a 1024-token vocabulary needs.
constexpr absl::string_view kTrainingText =
    "The river begins as a thin line of water high in the mountains, where snow melts slowly in "
    "the spring sun. It gathers strength as it falls, joining other streams until it becomes "
    "wide enough to carry boats. People have always settled near rivers, because the water "
    "gives them food, transport and a reason to stay.\n"
    "In the old town beside the river there is a small market. Every morning the traders open "
    "their stalls before the sun is up. They sell bread, cheese, apples, fresh fish and "
    "flowers. Children run between the tables while their parents talk about the weather, the "
    "price of grain and the news from the city.\n"
    "\n"
    "A computer does not understand words the way a person does. It works with numbers, so a "
    "text must first be split into small pieces called tokens. Each token is given a number, "
    "and the model learns which numbers tend to follow which. A good tokenizer keeps common "
    "words whole and breaks rare words into smaller parts that it has seen before.\n"
    "The compiler reads a description of the model and turns it into fast code for the machine. "
    "It checks the shapes of every tensor, plans where each value will live in memory, and "
    "joins small operations together so that the data moves as little as possible. When the "
    "work is done, the program can answer questions, write stories or translate a sentence "
    "from one language into another.\n"
    "Weather changes quickly near the coast. A bright morning can turn into a grey afternoon, "
    "with wind from the west and heavy rain over the hills. Farmers watch the sky carefully; "
    "they know that a late frost can destroy the young plants, and that a dry summer means a "
    "poor harvest. Still, they plant again every year, because hope is part of the work.\n"
    "On Sunday the family walked along the river to the bridge. The water was calm and clear, "
    "and they could see small fish moving over the stones. Their daughter counted the boats: "
    "one, two, three, four, five, six, seven, eight, nine and ten. Then she asked why the water "
    "never stops, and nobody had a simple answer for her.\n"
    "Numbers such as 1, 2, 3, 10, 42, 100 and 2024 appear in many texts. Dates, prices and "
    "measurements are written with digits, for example 3.14, 9.81 or 1,000,000. A model that "
    "reads a lot of text will meet them often, together with symbols like (, ), [, ], {, }, "
    "\"quotes\", 'apostrophes', -, +, =, /, %, & and #.\n"
    "Learning is slow at first and then suddenly faster. The student who reads a little every "
    "day will understand more than the one who reads everything the night before the exam. "
    "Good teachers know this, and they ask simple questions that lead their students, step by "
    "step, toward the answer they would not have found alone.\n";

// Every character a model of this family should be able to spell without byte fallback, on
// top of those in the text.
std::string BaseCharacters() {
  std::string chars;
  for (char ch = 'a'; ch <= 'z'; ++ch) chars += ch;
  for (char ch = 'A'; ch <= 'Z'; ++ch) chars += ch;
  for (char ch = '0'; ch <= '9'; ++ch) chars += ch;
  chars += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
  return chars;
}

// Splits UTF-8 text into whole characters (the unit merges operate on).
std::vector<std::string> Utf8Chars(absl::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char lead = static_cast<unsigned char>(s[i]);
    size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    len = std::min(len, s.size() - i);
    out.emplace_back(s.substr(i, len));
    i += len;
  }
  return out;
}

// Spaces become ▁; each line (the pre-split drops newline runs) is cut into words that carry
// their leading ▁, as SentencePiece-style BPE sees them. Returns word -> count.
std::map<std::string, int64_t> WordCounts(absl::string_view text) {
  std::map<std::string, int64_t> counts;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) ++counts[word];
    word.clear();
  };
  for (char ch : text) {
    if (ch == '\n') {
      flush();
    } else if (ch == ' ') {
      flush();
      word = std::string(kSpaceMark);
    } else {
      word += ch;
    }
  }
  flush();
  return counts;
}

using Pair = std::pair<std::string, std::string>;

// The most frequent adjacent pair over all words; ties go to the smaller pair (byte order).
// Returns false when no word has two symbols left.
bool MostFrequentPair(const std::vector<std::pair<std::vector<std::string>, int64_t>>& words,
                      Pair* best) {
  std::map<Pair, int64_t> freq;
  for (const auto& [symbols, count] : words) {
    for (size_t i = 0; i + 1 < symbols.size(); ++i) freq[{symbols[i], symbols[i + 1]}] += count;
  }
  int64_t best_count = 0;
  for (const auto& [pair, count] : freq) {  // std::map iterates in byte order: first max wins
    if (count > best_count) {
      best_count = count;
      *best = pair;
    }
  }
  return best_count > 0;
}

void ApplyMerge(const Pair& pair, std::vector<std::string>* symbols) {
  std::vector<std::string> out;
  for (size_t i = 0; i < symbols->size(); ++i) {
    if (i + 1 < symbols->size() && (*symbols)[i] == pair.first &&
        (*symbols)[i + 1] == pair.second) {
      out.push_back(pair.first + pair.second);
      ++i;
    } else {
      out.push_back((*symbols)[i]);
    }
  }
  *symbols = std::move(out);
}

class VocabBuilder {
 public:
  bool Contains(const std::string& token) const { return index_.count(token) > 0; }
  size_t size() const { return vocab_.tokens.size(); }

  void Add(std::string token, float score, TokenType type) {
    index_.insert(token);
    vocab_.tokens.push_back(std::move(token));
    vocab_.scores.push_back(score);
    vocab_.types.push_back(static_cast<int32_t>(type));
  }
  void AddMerge(const Pair& pair) { vocab_.merges.push_back(pair.first + " " + pair.second); }
  SynthVocab Take() { return std::move(vocab_); }

 private:
  SynthVocab vocab_;
  std::set<std::string> index_;
};

}  // namespace

const std::vector<SpecialToken>& SynthSpecialTokens() {
  static const auto* specials = new std::vector<SpecialToken>{
      {0, "<pad>", TokenType::kControl},
      {1, "<eos>", TokenType::kControl},
      {2, "<bos>", TokenType::kControl},
      {3, "<unk>", TokenType::kUnknown},
      {4, "<mask>", TokenType::kControl},
      {46, "<|tool>", TokenType::kControl},
      {47, "<tool|>", TokenType::kControl},
      {48, "<|tool_call>", TokenType::kUserDefined},
      {49, "<tool_call|>", TokenType::kUserDefined},
      {50, "<|tool_response>", TokenType::kUserDefined},
      {51, "<tool_response|>", TokenType::kUserDefined},
      {52, "<|\"|>", TokenType::kUserDefined},
      {98, "<|think|>", TokenType::kControl},
      {100, "<|channel>", TokenType::kUserDefined},
      {101, "<channel|>", TokenType::kUserDefined},
      {105, "<|turn>", TokenType::kControl},
      {106, "<turn|>", TokenType::kControl},
      {107, "\n", TokenType::kNormal},
      {108, "\n\n", TokenType::kNormal},
  };
  return *specials;
}

absl::string_view SynthTrainingText() { return kTrainingText; }

absl::StatusOr<SynthVocab> BuildSynthVocab(int64_t vocab_size) {
  VocabBuilder vb;
  auto full = [&] { return static_cast<int64_t>(vb.size()) >= vocab_size; };

  // 0..237: specials at their ids, everything else an unused control token.
  const auto& specials = SynthSpecialTokens();
  size_t next_special = 0;
  int unused = 0;
  for (int id = 0; id < kFirstByteToken; ++id) {
    if (next_special < specials.size() && specials[next_special].id == id) {
      const SpecialToken& s = specials[next_special++];
      float score = s.type == TokenType::kControl ? -1000.0f : 0.0f;
      vb.Add(s.text, score, s.type);
    } else {
      vb.Add(absl::StrCat("<unused_", unused++, ">"), -1000.0f, TokenType::kControl);
    }
  }
  // 238..493: byte fallback.
  for (int b = 0; b < 256; ++b) vb.Add(absl::StrFormat("<0x%02X>", b), 0.0f, TokenType::kByte);

  // Single characters: ▁, the base set, and whatever else the text uses (sorted, unique).
  std::set<std::string> chars = {std::string(kSpaceMark)};
  for (const std::string& ch : Utf8Chars(BaseCharacters())) chars.insert(ch);
  for (const std::string& ch : Utf8Chars(kTrainingText)) {
    if (ch != "\n") chars.insert(ch == " " ? std::string(kSpaceMark) : ch);
  }
  for (const std::string& ch : chars) {
    if (!vb.Contains(ch)) vb.Add(ch, 0.0f, TokenType::kNormal);
  }
  if (static_cast<int64_t>(vb.size()) > vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "synthetic vocabulary: ", vocab_size, " tokens cannot hold the ", vb.size(),
        " specials, byte tokens and characters"));
  }

  // The newline pair is the first merge so that "\n\n" (id 108) is reachable by BPE.
  vb.AddMerge({"\n", "\n"});

  std::vector<std::pair<std::vector<std::string>, int64_t>> words;
  for (const auto& [word, count] : WordCounts(kTrainingText)) {
    words.emplace_back(Utf8Chars(word), count);
  }
  int rank = 0;
  Pair pair;
  while (!full() && MostFrequentPair(words, &pair)) {
    for (auto& word : words) ApplyMerge(pair, &word.first);
    vb.AddMerge(pair);
    ++rank;
    std::string merged = pair.first + pair.second;
    // Two merge paths can spell the same piece; the merge stays valid, the token is not doubled.
    if (!vb.Contains(merged)) vb.Add(merged, -static_cast<float>(rank), TokenType::kNormal);
  }

  // The text ran out of pairs (only for large vocabularies): unique filler pieces.
  for (int64_t n = 0; !full(); ++n) {
    std::string filler = absl::StrCat(kSpaceMark, "w", n);
    if (!vb.Contains(filler)) vb.Add(filler, -static_cast<float>(++rank), TokenType::kNormal);
  }
  return vb.Take();
}

}  // namespace g4

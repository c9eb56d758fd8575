// Token sampling with llama.cpp semantics (docs/tokenizer.md, "Sampler").
//
// Order of the filters, as llama.cpp's default chain:
//   1. repetition penalty over the last `penalty_last_n` accepted tokens, once per distinct token:
//      a positive logit is divided by the penalty, a negative one multiplied;
//   2. greedy when temperature <= 0: argmax of the penalized logits (lowest id on ties); stop here;
//   3. top-k (k <= 0: off): the k highest logits;
//   4. top-p (>= 1: off): the smallest prefix, by descending probability, whose cumulative
//      probability reaches p (probabilities are the softmax of the untempered logits);
//   5. min-p (<= 0: off): drop tokens with p < min_p * p_max;
//   6. temperature: logits / T, softmax over the survivors;
//   7. draw with a std::mt19937_64 seeded by `seed` (u = top 53 bits / 2^53, cumulative walk over
//      the candidates in descending logit order, lowest id first on ties): same seed, same
//      logits and same accepted history give the same tokens on every platform.
// NaN and -inf logits are never sampled (unless every logit is, then id 0).
#ifndef GEMMA4C_RUNTIME_TEXT_SAMPLER_H_
#define GEMMA4C_RUNTIME_TEXT_SAMPLER_H_

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "absl/types/span.h"

namespace g4::text {

class Tokenizer;

struct SamplerConfig {
  float temperature = 1.0f;
  int32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;  // 1: off
  int32_t penalty_last_n = 64;      // window of accepted tokens; -1: all, 0: off
  uint64_t seed = 0;
  // Generation stops when one of these is sampled. Default: <eos> 1 and <turn|> 106; use
  // StopTokensFor(tokenizer) to add the file's eos id.
  std::vector<int32_t> stop_tokens = {1, 106};
};

// `<eos>`, `<turn|>` (looked up by text) and the GGUF eos id, sorted and unique.
std::vector<int32_t> StopTokensFor(const Tokenizer& tokenizer);

struct Candidate {
  int32_t id;
  float logit;  // after penalty and temperature
  float p;      // softmax over the surviving candidates
};

class Sampler {
 public:
  explicit Sampler(SamplerConfig config);

  // Samples one id from `logits` (one per vocabulary entry). Does not record it: call Accept.
  int32_t Sample(absl::Span<const float> logits);
  // Records a generated (or prompt) token for the repetition penalty.
  void Accept(int32_t id);
  bool IsStop(int32_t id) const;
  // Clears the history and reseeds the generator.
  void Reset();

  // Steps 1 and 3..6 (no greedy shortcut, no draw): the surviving candidates in descending logit
  // order (lowest id first on ties), with their probabilities. For tests and diagnostics.
  std::vector<Candidate> Candidates(absl::Span<const float> logits) const;
  // Step 1 alone: the logits after the repetition penalty.
  std::vector<float> Penalized(absl::Span<const float> logits) const;

  const SamplerConfig& config() const { return config_; }

 private:
  SamplerConfig config_;
  std::mt19937_64 rng_;
  std::deque<int32_t> history_;
};

}  // namespace g4::text

#endif  // GEMMA4C_RUNTIME_TEXT_SAMPLER_H_

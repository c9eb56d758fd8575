// Token sampling. See sampler.h for the order of the filters.
#include "text/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "text/tokenizer.h"

namespace g4::text {
namespace {

struct Entry {
  float logit;
  int32_t id;
};
// Descending logit, ascending id on ties: a strict total order, so every sort is deterministic.
inline bool Before(const Entry& a, const Entry& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

}  // namespace

std::vector<int32_t> StopTokensFor(const Tokenizer& tokenizer) { return tokenizer.eog_ids(); }

Sampler::Sampler(SamplerConfig config) : config_(std::move(config)), rng_(config_.seed) {}

void Sampler::Reset() {
  history_.clear();
  rng_.seed(config_.seed);
}

void Sampler::Accept(int32_t id) {
  if (config_.penalty_last_n == 0) return;
  history_.push_back(id);
  if (config_.penalty_last_n > 0) {
    while (history_.size() > static_cast<size_t>(config_.penalty_last_n)) history_.pop_front();
  }
}

bool Sampler::IsStop(int32_t id) const {
  return std::find(config_.stop_tokens.begin(), config_.stop_tokens.end(), id) !=
         config_.stop_tokens.end();
}

std::vector<float> Sampler::Penalized(absl::Span<const float> logits) const {
  std::vector<float> out(logits.begin(), logits.end());
  const float penalty = config_.repetition_penalty;
  if (penalty == 1.0f || history_.empty()) return out;
  absl::flat_hash_set<int32_t> seen;
  for (int32_t id : history_) {
    if (id < 0 || static_cast<size_t>(id) >= out.size() || !seen.insert(id).second) continue;
    float& l = out[id];
    l = l > 0 ? l / penalty : l * penalty;
  }
  return out;
}

std::vector<Candidate> Sampler::Candidates(absl::Span<const float> logits) const {
  const std::vector<float> penalized = Penalized(logits);
  std::vector<Entry> cand;
  cand.reserve(penalized.size());
  for (size_t i = 0; i < penalized.size(); ++i) {
    const float l = penalized[i];
    if (std::isnan(l) || l == -std::numeric_limits<float>::infinity()) continue;
    cand.push_back(Entry{l, static_cast<int32_t>(i)});
  }
  if (cand.empty()) return {Candidate{0, 0.0f, 1.0f}};
  size_t sorted = 0;  // cand[0, sorted) is in final order and holds the largest entries

  // Top-k.
  if (config_.top_k > 0 && static_cast<size_t>(config_.top_k) < cand.size()) {
    const size_t k = static_cast<size_t>(config_.top_k);
    std::partial_sort(cand.begin(), cand.begin() + k, cand.end(), Before);
    cand.resize(k);
    sorted = k;
  }

  // Untempered softmax denominators (for top-p and min-p).
  float max_logit = -std::numeric_limits<float>::infinity();
  for (const Entry& e : cand) max_logit = std::max(max_logit, e.logit);

  // Top-p: grow a sorted prefix until its cumulative probability reaches p.
  if (config_.top_p < 1.0f && cand.size() > 1) {
    double sum = 0;
    for (const Entry& e : cand) sum += std::exp(static_cast<double>(e.logit) - max_logit);
    const double target = static_cast<double>(config_.top_p) * sum;
    double cum = 0;
    size_t i = 0, keep = cand.size();
    size_t want = std::min<size_t>(cand.size(), 64);
    while (keep == cand.size()) {
      if (want > sorted) {
        std::partial_sort(cand.begin() + sorted, cand.begin() + want, cand.end(), Before);
        sorted = want;
      }
      for (; i < sorted; ++i) {
        cum += std::exp(static_cast<double>(cand[i].logit) - max_logit);
        if (cum >= target) {
          keep = i + 1;
          break;
        }
      }
      if (sorted == cand.size()) break;
      want = std::min(cand.size(), sorted * 4);
    }
    cand.resize(keep);
    sorted = std::min(sorted, keep);
  }

  // Min-p: p_i >= min_p * p_max  <=>  logit_i >= max_logit + log(min_p).
  if (config_.min_p > 0.0f) {
    const float threshold = max_logit + std::log(config_.min_p);
    size_t w = 0;
    for (size_t r = 0; r < cand.size(); ++r) {
      if (cand[r].logit >= threshold) cand[w++] = cand[r];  // keeps the sorted prefix in order
    }
    sorted = std::min(sorted, w);
    cand.resize(w);
  }

  if (sorted < cand.size()) std::sort(cand.begin() + sorted, cand.end(), Before);

  // Temperature and softmax over the survivors.
  const float temp = config_.temperature > 0 ? config_.temperature : 1.0f;
  std::vector<Candidate> out;
  out.reserve(cand.size());
  const double top = static_cast<double>(cand[0].logit) / temp;
  double sum = 0;
  for (const Entry& e : cand) {
    const double scaled = static_cast<double>(e.logit) / temp;
    const double w = std::exp(scaled - top);
    sum += w;
    out.push_back(Candidate{e.id, static_cast<float>(scaled), static_cast<float>(w)});
  }
  for (Candidate& c : out) c.p = static_cast<float>(c.p / sum);
  return out;
}

int32_t Sampler::Sample(absl::Span<const float> logits) {
  if (logits.empty()) return 0;
  if (config_.temperature <= 0.0f) {
    const std::vector<float> penalized = Penalized(logits);
    int32_t best = -1;
    for (size_t i = 0; i < penalized.size(); ++i) {
      if (std::isnan(penalized[i])) continue;
      if (best < 0 || penalized[i] > penalized[best]) best = static_cast<int32_t>(i);
    }
    return best < 0 ? 0 : best;
  }
  const std::vector<Candidate> cand = Candidates(logits);
  // u in [0, 1) from the top 53 bits: identical on every platform (unlike
  // std::uniform_real_distribution, whose algorithm is implementation-defined).
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  double cum = 0;
  for (const Candidate& c : cand) {
    cum += c.p;
    if (u < cum) return c.id;
  }
  return cand.back().id;  // rounding: u beyond the summed probabilities
}

}  // namespace g4::text

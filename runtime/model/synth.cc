// Synthetic model writer: metadata (spec §4.2, §4.3), the vocabulary, and streamed random
// weights (spec §4.4 names and shapes). See synth.h for the weight distributions and why.
#include "model/synth.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "gguf/gguf_writer.h"
#include "model/synth_vocab.h"

namespace g4 {
namespace {

using gguf::GgmlType;
using gguf::GgufWriter;

// 2^18 floats (1 MiB) per generated chunk, rounded down to whole rows.
constexpr int64_t kChunkFloats = int64_t{1} << 18;

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t Fnv1a64(absl::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001B3ull;
  return h;
}

inline uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

int64_t NumElements(const TensorSpec& t) {
  int64_t n = 1;
  for (int64_t d : t.ne) n *= d;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Metadata

void AddModelKeys(const ModelConfig& c, GgmlType dtype, GgufWriter* w) {
  auto k = [](absl::string_view suffix) { return absl::StrCat("gemma4.", suffix); };
  w->AddString("general.architecture", "gemma4");
  w->AddString("general.name", c.name);
  w->AddU32("general.alignment", 32);
  w->AddU32("general.file_type", FileTypeFor(dtype));
  w->AddU32("general.quantization_version", 2);

  w->AddU32(k("context_length"), static_cast<uint32_t>(c.context_length));
  w->AddU32(k("embedding_length"), c.hidden);
  w->AddU32(k("block_count"), c.num_layers);
  // Per-layer lists are arrays only where the values differ (as the converter does).
  bool uniform_ff = std::all_of(c.ff.begin(), c.ff.end(), [&](int f) { return f == c.ff[0]; });
  if (uniform_ff) {
    w->AddU32(k("feed_forward_length"), c.ff[0]);
  } else {
    w->AddI32Array(k("feed_forward_length"), std::vector<int32_t>(c.ff.begin(), c.ff.end()));
  }
  w->AddU32(k("attention.head_count"), c.num_heads);
  if (c.kv_heads_sliding == c.kv_heads_full) {
    w->AddU32(k("attention.head_count_kv"), c.kv_heads_sliding);
  } else {
    std::vector<int32_t> kv;
    for (bool s : c.sliding) kv.push_back(s ? c.kv_heads_sliding : c.kv_heads_full);
    w->AddI32Array(k("attention.head_count_kv"), kv);
  }
  w->AddU32(k("attention.key_length"), c.head_dim_full);
  w->AddU32(k("attention.value_length"), c.head_dim_full);
  w->AddU32(k("attention.key_length_swa"), c.head_dim_sliding);
  w->AddU32(k("attention.value_length_swa"), c.head_dim_sliding);
  // Proportional RoPE is n_rot = full head dim plus the rope_freqs tensor (spec §2.3).
  w->AddU32(k("rope.dimension_count"), c.head_dim_full);
  w->AddU32(k("rope.dimension_count_swa"), c.head_dim_sliding);
  w->AddF32(k("rope.freq_base"), static_cast<float>(c.rope_theta_full));
  w->AddF32(k("rope.freq_base_swa"), static_cast<float>(c.rope_theta_sliding));
  w->AddF32(k("attention.layer_norm_rms_epsilon"), static_cast<float>(c.rms_eps));
  w->AddU32(k("attention.sliding_window"), c.sliding_window);
  w->AddBoolArray(k("attention.sliding_window_pattern"), c.sliding);
  w->AddU32(k("attention.shared_kv_layers"), c.shared_kv_layers);
  w->AddU32(k("embedding_length_per_layer_input"), c.ple_dim);
  w->AddF32(k("final_logit_softcapping"), static_cast<float>(c.final_softcap));
  if (c.IsMoe()) {
    w->AddU32(k("expert_count"), c.num_experts);
    w->AddU32(k("expert_used_count"), c.experts_used);
    w->AddU32(k("expert_feed_forward_length"), c.expert_ff);
  }
}

void AddTokenizerKeys(const SynthVocab& v, GgufWriter* w) {
  w->AddString("tokenizer.ggml.model", "gemma4");
  w->AddStringArray("tokenizer.ggml.tokens", v.tokens);
  w->AddF32Array("tokenizer.ggml.scores", v.scores);
  w->AddI32Array("tokenizer.ggml.token_type", v.types);
  w->AddStringArray("tokenizer.ggml.merges", v.merges);
  w->AddU32("tokenizer.ggml.bos_token_id", 2);
  w->AddU32("tokenizer.ggml.eos_token_id", 1);
  w->AddU32("tokenizer.ggml.unknown_token_id", 3);
  w->AddU32("tokenizer.ggml.padding_token_id", 0);
  w->AddU32("tokenizer.ggml.mask_token_id", 4);
  w->AddBool("tokenizer.ggml.add_bos_token", true);
  w->AddBool("tokenizer.ggml.add_space_prefix", false);
}

// Every matrix row must be whole blocks of the dtype.
absl::Status CheckBlockSizes(const std::vector<TensorSpec>& tensors, GgmlType dtype,
                             const std::string& model) {
  const gguf::TypeTraits& traits = gguf::Traits(dtype);
  for (const TensorSpec& t : tensors) {
    if (t.matrix && t.ne[0] % traits.block_elems != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "synthetic model '", model, "': tensor '", t.name, "' has ne[0] = ", t.ne[0],
          ", not a multiple of the ", traits.name, " block size ", traits.block_elems));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Streaming the data: a thread generates the next chunks while the caller quantizes and writes
// the current one. Generation (~8 ns/value) and quantizing + writing (~5 ns/value for Q8_0)
// then overlap on two cores. At most kChunksInFlight chunks exist, so memory stays bounded.

struct Chunk {
  size_t tensor = 0;          // index into the tensor list
  std::vector<float> values;  // whole rows, in storage order
};

// Generates every tensor in order, in chunks of whole rows.
class ModelStream {
 public:
  ModelStream(const ModelConfig& c, const std::vector<TensorSpec>& tensors, uint64_t seed)
      : config_(c), tensors_(tensors), seed_(seed) {}

  // Fills `chunk` with the next chunk; false after the last tensor.
  bool Next(Chunk* chunk) {
    while (remaining_ == 0) {
      if (next_tensor_ >= tensors_.size()) return false;
      current_ = next_tensor_++;
      stream_ = std::make_unique<SynthTensorStream>(config_, tensors_[current_], seed_);
      remaining_ = NumElements(tensors_[current_]);
    }
    const int64_t row = tensors_[current_].ne[0];
    const int64_t n = std::min(remaining_, std::max<int64_t>(1, kChunkFloats / row) * row);
    chunk->tensor = current_;
    chunk->values.resize(n);
    stream_->Fill(absl::MakeSpan(chunk->values));
    remaining_ -= n;
    return true;
  }

 private:
  const ModelConfig& config_;
  const std::vector<TensorSpec>& tensors_;
  uint64_t seed_;
  size_t next_tensor_ = 0, current_ = 0;
  int64_t remaining_ = 0;
  std::unique_ptr<SynthTensorStream> stream_;
};

// A producer thread running a ModelStream ahead of the consumer.
class ChunkPipeline {
 public:
  explicit ChunkPipeline(ModelStream* stream) : stream_(stream) {
    for (int i = 0; i < kChunksInFlight; ++i) free_.emplace_back();
    thread_ = std::thread([this] { Produce(); });
  }
  ~ChunkPipeline() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // Waits for the next chunk; false at the end. Give it back with Recycle().
  bool Take(Chunk* chunk) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !ready_.empty() || done_; });
    if (ready_.empty()) return false;
    *chunk = std::move(ready_.front());
    ready_.pop_front();
    return true;
  }
  void Recycle(Chunk chunk) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      free_.push_back(std::move(chunk));
    }
    cv_.notify_all();
  }

 private:
  static constexpr int kChunksInFlight = 3;

  void Produce() {
    for (;;) {
      Chunk chunk;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !free_.empty(); });
        if (stop_) return;
        chunk = std::move(free_.back());
        free_.pop_back();
      }
      const bool more = stream_->Next(&chunk);  // the expensive part, outside the lock
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (more) {
          ready_.push_back(std::move(chunk));
        } else {
          done_ = true;
        }
      }
      cv_.notify_all();
      if (!more) return;
    }
  }

  ModelStream* stream_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> ready_;
  std::vector<Chunk> free_;
  bool done_ = false, stop_ = false;
};

absl::Status WriteAllTensors(const ModelConfig& c, const std::vector<TensorSpec>& tensors,
                             uint64_t seed, GgufWriter* w) {
  ModelStream stream(c, tensors, seed);
  ChunkPipeline pipeline(&stream);
  Chunk chunk;
  while (pipeline.Take(&chunk)) {
    G4_RETURN_IF_ERROR(w->WriteTensorF32(tensors[chunk.tensor].name, chunk.values));
    pipeline.Recycle(std::move(chunk));
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SynthTensorStream

SynthTensorStream::SynthTensorStream(const ModelConfig& c, const TensorSpec& t, uint64_t seed) {
  uint64_t sm = seed + Fnv1a64(t.name);
  for (uint64_t& word : s_) word = SplitMix64(&sm);

  absl::string_view name = t.name;
  auto normal = [&](float mean, float std) {
    kind_ = Kind::kNormal;
    a_ = mean;
    b_ = std;
  };
  if (name == "rope_freqs.weight") {
    kind_ = Kind::kRopeFreqs;
    rotating_pairs_ = static_cast<int64_t>(c.partial_rotary_full * c.head_dim_full / 2.0);
  } else if (name == "token_embd.weight") {
    normal(0.0f, 3.0f / std::sqrt(static_cast<float>(c.hidden)));
  } else if (name == "per_layer_token_embd.weight") {
    normal(0.0f, 1.0f / std::sqrt(static_cast<float>(c.ple_dim)));
  } else if (absl::EndsWith(name, ".layer_output_scale.weight")) {
    kind_ = Kind::kUniform;
    a_ = 0.3f;
    b_ = 1.0f;
  } else if (absl::EndsWith(name, ".ffn_gate_inp.weight")) {
    normal(0.0f, 1.0f);
  } else if (absl::EndsWith(name, ".ffn_down_exps.scale")) {
    normal(1.0f, 0.2f);
  } else if (absl::EndsWith(name, ".attn_q_norm.weight") ||
             absl::EndsWith(name, ".attn_k_norm.weight")) {
    // Attention has no 1/sqrt(d) scale: scores are |q||k|-sized. Weights ~0.5 give scores with a
    // std of ~4 (head dim 256) to ~6 (512): attention far from uniform, yet not a hard argmax
    // that turns last-bit differences into different attended positions.
    normal(0.5f, 0.05f);
  } else if (t.matrix) {
    normal(0.0f, 1.0f / std::sqrt(static_cast<float>(t.ne[0])));  // ne[0] = fan-in
  } else {
    normal(1.0f, 0.1f);  // norm weights, q/k norms, the router input scale
  }
}

uint64_t SynthTensorStream::NextU64() {  // xoshiro256**
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

// Marsaglia's polar method: two normals per accepted point, no trigonometry.
float SynthTensorStream::NextNormal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  for (;;) {
    const uint64_t r = NextU64();
    const float u = static_cast<float>(static_cast<int32_t>(r >> 32)) * 0x1p-31f;
    const float v = static_cast<float>(static_cast<int32_t>(r & 0xFFFFFFFFu)) * 0x1p-31f;
    const float s = u * u + v * v;
    if (s >= 1.0f || s == 0.0f) continue;
    const float m = std::sqrt(-2.0f * std::log(s) / s);
    spare_ = v * m;
    has_spare_ = true;
    return u * m;
  }
}

void SynthTensorStream::Fill(absl::Span<float> out) {
  switch (kind_) {
    case Kind::kNormal:
      for (float& x : out) x = a_ + b_ * NextNormal();
      break;
    case Kind::kUniform:
      for (float& x : out) {
        x = a_ + (b_ - a_) * static_cast<float>(NextU64() >> 40) * 0x1p-24f;
      }
      break;
    case Kind::kRopeFreqs:
      // llama.cpp divides theta by this factor: 1e30 freezes the non-rotating pairs.
      for (float& x : out) x = position_++ < rotating_pairs_ ? 1.0f : 1e30f;
      return;
  }
  position_ += static_cast<int64_t>(out.size());
}

std::vector<float> SynthTensorData(const ModelConfig& config, const TensorSpec& spec,
                                   uint64_t seed) {
  std::vector<float> values(NumElements(spec));
  SynthTensorStream(config, spec, seed).Fill(absl::MakeSpan(values));
  return values;
}

uint32_t FileTypeFor(GgmlType dtype) {
  switch (dtype) {  // llama.cpp's LLAMA_FTYPE_* ("mostly" the matrices' type)
    case GgmlType::kF32: return 0;
    case GgmlType::kF16: return 1;
    case GgmlType::kQ4_0: return 2;
    case GgmlType::kQ8_0: return 7;
    case GgmlType::kQ4_K: return 15;  // Q4_K_M
    case GgmlType::kQ6_K: return 18;
    case GgmlType::kBF16: return 32;
    case GgmlType::kQ4_1: return 3;
    case GgmlType::kQ5_0: return 8;
    case GgmlType::kQ5_1: return 9;
    case GgmlType::kQ2_K: return 10;
    case GgmlType::kQ3_K: return 12;  // Q3_K_M
    case GgmlType::kQ5_K: return 17;  // Q5_K_M
    case GgmlType::kIQ4_NL: return 25;
    case GgmlType::kIQ4_XS: return 30;
    case GgmlType::kMXFP4: return 38;  // MXFP4_MOE
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------

absl::Status WriteSyntheticModel(const ModelConfig& config, GgmlType matrix_dtype, uint64_t seed,
                                 const std::string& path) {
  G4_RETURN_IF_ERROR(config.Validate());
  const std::vector<TensorSpec> tensors = ModelTensors(config);
  G4_RETURN_IF_ERROR(CheckBlockSizes(tensors, matrix_dtype, config.name));
  G4_ASSIGN_OR_RETURN(SynthVocab vocab, BuildSynthVocab(config.vocab));

  GgufWriter w(32);
  AddModelKeys(config, matrix_dtype, &w);
  AddTokenizerKeys(vocab, &w);
  vocab = SynthVocab();  // the writer holds its own copy
  for (const TensorSpec& t : tensors) {
    w.AddTensor(t.name, t.ne, t.matrix ? matrix_dtype : GgmlType::kF32);
  }
  absl::Status s = w.Open(path);
  if (s.ok()) s = WriteAllTensors(config, tensors, seed, &w);
  if (s.ok()) {
    s = w.Close();
  } else {
    (void)w.Close();  // closes the file; its "incomplete" error is not the interesting one
  }
  if (!s.ok()) std::remove(path.c_str());
  return s;
}

}  // namespace g4

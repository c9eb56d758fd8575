// ModelConfig: the presets, the per-layer structure, validation, reading a GGUF's metadata, and
// the tensor list. Facts: shared/spec/gemma4-architecture.md §1 (variants), §2.3 (RoPE),
// §2.4 (KV sharing), §4.2 (keys), §4.4 (tensors).
#include "model/model_config.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <functional>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace g4 {
namespace {

// ---------------------------------------------------------------------------------------------
// Presets

// Layer pattern "(n_sliding sliding, 1 full) x repeats": full layers at n_sliding, 2*n_sliding+1...
std::vector<bool> Pattern(int n_sliding, int repeats) {
  std::vector<bool> sliding;
  for (int r = 0; r < repeats; ++r) {
    for (int i = 0; i < n_sliding; ++i) sliding.push_back(true);
    sliding.push_back(false);
  }
  return sliding;
}

// Dense width `narrow` on the KV-owning layers and 2*narrow on the KV-shared tail: E2B's
// "double wide" MLP (spec §1.1) applies exactly to the shared layers 15..34.
std::vector<int> DoubleWideTail(int num_layers, int first_shared, int narrow) {
  std::vector<int> ff(num_layers, narrow);
  for (int i = first_shared; i < num_layers; ++i) ff[i] = 2 * narrow;
  return ff;
}

ModelConfig E2b() {
  ModelConfig c;
  c.name = "gemma4-e2b";
  c.hidden = 1536;
  c.num_layers = 35;
  c.num_heads = 8;
  c.kv_heads_sliding = 1;
  c.kv_heads_full = 1;
  c.sliding = Pattern(4, 7);
  c.shared_kv_layers = 20;
  c.ff = DoubleWideTail(35, 15, 6144);
  c.sliding_window = 512;
  c.ple_dim = 256;
  c.context_length = 131072;
  return c;
}

ModelConfig E4b() {
  ModelConfig c;
  c.name = "gemma4-e4b";
  c.hidden = 2560;
  c.num_layers = 42;
  c.num_heads = 8;
  c.kv_heads_sliding = 2;
  c.kv_heads_full = 2;
  c.sliding = Pattern(5, 7);
  c.shared_kv_layers = 18;
  c.ff.assign(42, 10240);
  c.sliding_window = 512;
  c.ple_dim = 256;
  c.context_length = 131072;
  return c;
}

ModelConfig Moe26bA4b() {
  ModelConfig c;
  c.name = "gemma4-26b-a4b";
  c.hidden = 2816;
  c.num_layers = 30;
  c.num_heads = 16;
  c.kv_heads_sliding = 8;
  c.kv_heads_full = 2;
  c.sliding = Pattern(5, 5);
  c.ff.assign(30, 2112);  // the always-on "shared" dense MLP
  c.k_eq_v_full = true;
  c.num_experts = 128;
  c.experts_used = 8;
  c.expert_ff = 704;
  c.sliding_window = 1024;
  c.context_length = 262144;
  return c;
}

ModelConfig Dense31b() {
  ModelConfig c;
  c.name = "gemma4-31b";
  c.hidden = 5376;
  c.num_layers = 60;
  c.num_heads = 32;
  c.kv_heads_sliding = 16;
  c.kv_heads_full = 4;
  c.sliding = Pattern(5, 10);
  c.ff.assign(60, 21504);
  c.k_eq_v_full = true;
  c.sliding_window = 1024;
  c.context_length = 262144;
  return c;
}

// The speed issue's "small model with the real vocabulary": E2B's structure (PLE, KV sharing,
// double-wide tail) at hidden 512 and 8 layers, with Gemma 4's 262144-token vocabulary, so the
// embedding, PLE and LM head dominate as they do in the small checkpoints users convert.
ModelConfig SmallVocab() {
  ModelConfig c = E2b();
  c.name = "gemma4-small-vocab";
  c.hidden = 512;
  c.num_layers = 8;
  c.num_heads = 2;
  c.sliding = Pattern(3, 2);  // full = 3, 7
  c.shared_kv_layers = 4;
  c.ff = DoubleWideTail(8, 4, 2048);
  c.ple_dim = 128;
  return c;
}

// Tiny test models: the released structure at a size that runs in milliseconds. Head dims stay
// 256/512 so the RoPE and head layouts are the real ones.
ModelConfig TinyBase(const std::string& name) {
  ModelConfig c;
  c.name = name;
  c.vocab = 1024;
  c.hidden = 128;
  c.num_heads = 2;
  c.sliding_window = 16;
  c.context_length = 1024;
  return c;
}

ModelConfig TinyE2b() {
  ModelConfig c = TinyBase("tiny-e2b");
  c.num_layers = 10;
  c.kv_heads_sliding = 1;
  c.kv_heads_full = 1;
  c.sliding = Pattern(4, 2);           // full = 4, 9
  c.shared_kv_layers = 5;              // layers 5..9 read layer 3 (sliding) / 4 (full)
  c.ff = DoubleWideTail(10, 5, 256);   // 256 on 0..4, 512 on 5..9
  c.ple_dim = 64;
  return c;
}

ModelConfig TinyMoe() {
  ModelConfig c = TinyBase("tiny-moe");
  c.num_layers = 6;
  c.kv_heads_sliding = 2;
  c.kv_heads_full = 1;
  c.sliding = Pattern(5, 1);  // full = 5
  c.k_eq_v_full = true;
  c.ff.assign(6, 128);
  c.num_experts = 8;
  c.experts_used = 2;
  c.expert_ff = 64;
  return c;
}

ModelConfig Tiny31b() {
  ModelConfig c = TinyBase("tiny-31b");
  c.num_layers = 6;
  c.kv_heads_sliding = 2;
  c.kv_heads_full = 1;
  c.sliding = Pattern(5, 1);
  c.k_eq_v_full = true;
  c.ff.assign(6, 256);
  return c;
}

using PresetFactory = ModelConfig (*)();
const std::vector<std::pair<std::string, PresetFactory>>& Presets() {
  static const auto* presets = new std::vector<std::pair<std::string, PresetFactory>>{
      {"e2b", E2b},           {"e4b", E4b},           {"26b-a4b", Moe26bA4b},
      {"31b", Dense31b},      {"tiny-e2b", TinyE2b},  {"tiny-moe", TinyMoe},
      {"tiny-31b", Tiny31b},  {"small-vocab", SmallVocab},
  };
  return *presets;
}

}  // namespace

absl::StatusOr<ModelConfig> WithLayers(const ModelConfig& base, int layers) {
  if (layers < 1 || layers > base.num_layers)
    return absl::InvalidArgumentError(absl::StrCat(base.name, ": --layers ", layers, " is outside [1, ",
                                                   base.num_layers, "]"));
  if (layers == base.num_layers) return base;
  ModelConfig c = base;
  const int shared = base.shared_kv_layers * layers / base.num_layers;
  const int owning = layers - shared;
  auto keep = [&](auto list) {
    decltype(list) out(list.begin(), list.begin() + owning);
    out.insert(out.end(), list.end() - shared, list.end());
    return out;
  };
  c.sliding = keep(base.sliding);
  c.ff = keep(base.ff);
  c.num_layers = layers;
  c.shared_kv_layers = shared;
  c.name = absl::StrCat(base.name, "-", layers, "l");
  G4_RETURN_IF_ERROR(c.Validate());
  return c;
}

namespace {

// Rotating dims of a full layer: "proportional" RoPE rotates int(partial * hd / 2) pairs
// (spec §2.3: 0.25 * 512 / 2 = 64 pairs = 128 dims).
int FullRotaryDims(const ModelConfig& c) {
  return 2 * static_cast<int>(c.partial_rotary_full * c.head_dim_full / 2.0);
}

// ---------------------------------------------------------------------------------------------
// Reading a GGUF

constexpr int64_t kMaxLayers = 4096;

// Makes sure an error names the file and the key, whatever the getter already said.
absl::Status KeyError(const gguf::GgufFile& file, absl::string_view key, const absl::Status& s) {
  std::string msg(s.message());
  if (msg.find(file.path()) != std::string::npos && msg.find(std::string(key)) != std::string::npos)
    return s;
  return absl::Status(s.code(), absl::StrCat(file.path(), ": key '", key, "': ", msg));
}

absl::Status MissingKey(const gguf::GgufFile& file, absl::string_view key) {
  return absl::NotFoundError(
      absl::StrCat(file.path(), ": required key '", key, "' is missing"));
}

absl::Status BadKey(const gguf::GgufFile& file, absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file.path(), ": key '", key, "': ", what));
}

// f32 metadata widened through its shortest decimal form, so 1e-6f reads back as 1e-6 (not
// 9.99999997e-07) and a config written from a preset compares equal when read back.
double WidenF32(float v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf) - 1, v);
  *res.ptr = '\0';
  return std::strtod(buf, nullptr);
}

// Typed readers with optional defaults. Integer keys accept any integer type in range (as the
// getters do); everything else is a type error naming the key.
class KeyReader {
 public:
  explicit KeyReader(const gguf::GgufFile& f) : f_(f) {}

  absl::StatusOr<int64_t> U32(const std::string& key) const {
    if (f_.Find(key) == nullptr) return MissingKey(f_, key);
    auto v = f_.GetU32(key);
    if (!v.ok()) return KeyError(f_, key, v.status());
    return static_cast<int64_t>(*v);
  }
  // A u32 that must also fit the int fields of ModelConfig (and a sane bound where given).
  absl::StatusOr<int> Int(const std::string& key, int64_t max = INT_MAX) const {
    G4_ASSIGN_OR_RETURN(const int64_t v, U32(key));
    if (v > max) return BadKey(f_, key, absl::StrCat(v, " exceeds ", max));
    return static_cast<int>(v);
  }
  absl::StatusOr<int> IntOr(const std::string& key, int64_t dflt) const {
    if (f_.Find(key) == nullptr) return static_cast<int>(dflt);
    return Int(key);
  }
  absl::StatusOr<int64_t> U32Or(const std::string& key, int64_t dflt) const {
    if (f_.Find(key) == nullptr) return dflt;
    return U32(key);
  }
  absl::StatusOr<double> F32(const std::string& key) const {
    if (f_.Find(key) == nullptr) return MissingKey(f_, key);
    auto v = f_.GetF32(key);
    if (!v.ok()) return KeyError(f_, key, v.status());
    return WidenF32(*v);
  }
  absl::StatusOr<double> F32Or(const std::string& key, double dflt) const {
    if (f_.Find(key) == nullptr) return dflt;
    return F32(key);
  }
  // Scalar or array of length n (llama.cpp's get_key_or_arr).
  absl::StatusOr<std::vector<int64_t>> PerLayer(const std::string& key, size_t n) const {
    if (f_.Find(key) == nullptr) return MissingKey(f_, key);
    auto v = f_.GetIntOrArray(key, n);
    if (!v.ok()) return KeyError(f_, key, v.status());
    if (v->size() != n) {
      return BadKey(f_, key, absl::StrCat("has ", v->size(), " entries, expected ", n));
    }
    for (int64_t x : *v) {
      if (x < 0 || x > INT_MAX) return BadKey(f_, key, absl::StrCat("entry ", x, " out of range"));
    }
    return *std::move(v);
  }

 private:
  const gguf::GgufFile& f_;
};


// The one value every element of `values` selected by `pick` has; error if they disagree.
absl::StatusOr<int64_t> Uniform(const gguf::GgufFile& f, const std::string& key,
                                const std::vector<int64_t>& values,
                                const std::function<bool(size_t)>& pick, int64_t dflt,
                                absl::string_view what) {
  bool seen = false;
  int64_t value = dflt;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!pick(i)) continue;
    if (seen && values[i] != value) {
      return BadKey(f, key, absl::StrCat("differs between ", what, " layers (", value, " vs ",
                                         values[i], " at layer ", i, "); not supported"));
    }
    seen = true;
    value = values[i];
  }
  return value;
}

// Vocabulary size: the token list's length, else token_embd's second dimension.
absl::StatusOr<int64_t> VocabSize(const gguf::GgufFile& f) {
  if (const gguf::Value* tokens = f.Find("tokenizer.ggml.tokens")) {
    if (tokens->type != gguf::ValueType::kArray ||
        tokens->elem_type != gguf::ValueType::kString) {
      return BadKey(f, "tokenizer.ggml.tokens", "expected an array of strings");
    }
    return static_cast<int64_t>(tokens->array.size());
  }
  if (const gguf::TensorInfo* embd = f.FindTensor("token_embd.weight")) {
    if (embd->ne.size() == 2) return embd->ne[1];
  }
  return absl::NotFoundError(absl::StrCat(
      f.path(), ": cannot tell the vocabulary size: neither key 'tokenizer.ggml.tokens' nor a "
                "2-D tensor 'token_embd.weight'"));
}

// Partial rotary factor of full layers. llama.cpp expresses "proportional" RoPE as n_rot = the
// full head dim plus a rope_freqs tensor whose first `pairs` entries are 1 and the rest 1e30
// (spec §2.3), so the factor is read back from that tensor; without it, n_rot / head_dim.
absl::StatusOr<double> PartialRotary(const gguf::GgufFile& f, int head_dim_full, int64_t n_rot) {
  const gguf::TensorInfo* freqs = f.FindTensor("rope_freqs.weight");
  if (freqs == nullptr) return static_cast<double>(n_rot) / head_dim_full;
  if (freqs->ne.size() != 1 || freqs->ne[0] != head_dim_full / 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        f.path(), ": tensor 'rope_freqs.weight' must have ne [", head_dim_full / 2, "]"));
  }
  G4_ASSIGN_OR_RETURN(const std::vector<float> values, f.ReadAsF32(*freqs));
  int pairs = 0;
  while (pairs < static_cast<int>(values.size()) && values[pairs] < 1e20f) ++pairs;
  for (size_t i = pairs; i < values.size(); ++i) {
    if (values[i] < 1e20f) {
      return absl::InvalidArgumentError(absl::StrCat(
          f.path(), ": tensor 'rope_freqs.weight': rotating pairs are not a prefix (entry ", i,
          "); not supported"));
    }
  }
  return 2.0 * pairs / head_dim_full;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

LayerInfo ModelConfig::Layer(int i) const {
  LayerInfo info;
  info.index = i;
  info.sliding = sliding[i];
  info.head_dim = info.sliding ? head_dim_sliding : head_dim_full;
  info.num_kv_heads = info.sliding ? kv_heads_sliding : kv_heads_full;
  info.owns_kv = i < FirstSharedLayer();
  info.kv_source = i;
  if (!info.owns_kv) {
    // Spec §2.4: the last non-shared layer of the same attention type.
    info.kv_source = -1;
    for (int j = FirstSharedLayer() - 1; j >= 0; --j) {
      if (sliding[j] == info.sliding) {
        info.kv_source = j;
        break;
      }
    }
  }
  info.k_eq_v = !info.sliding && k_eq_v_full;
  info.ff = ff[i];
  info.moe = IsMoe();
  info.rope_theta = info.sliding ? rope_theta_sliding : rope_theta_full;
  info.rotary_dims = info.sliding ? head_dim_sliding : FullRotaryDims(*this);
  return info;
}

absl::Status ModelConfig::Validate() const {
  auto fail = [&](absl::string_view field, const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat("model '", name, "': ", field, ": ", what));
  };
  if (vocab <= 0) return fail("vocab", "must be positive");
  if (hidden <= 0) return fail("hidden", "must be positive");
  if (num_layers <= 0) return fail("num_layers", "must be positive");
  if (num_heads <= 0) return fail("num_heads", "must be positive");
  if (sliding.size() != static_cast<size_t>(num_layers)) {
    return fail("sliding", absl::StrCat("has ", sliding.size(), " entries, expected num_layers = ",
                                        num_layers));
  }
  if (ff.size() != static_cast<size_t>(num_layers)) {
    return fail("ff", absl::StrCat("has ", ff.size(), " entries, expected num_layers = ",
                                   num_layers));
  }
  for (int i = 0; i < num_layers; ++i) {
    if (ff[i] <= 0) return fail("ff", absl::StrCat("layer ", i, " has width ", ff[i]));
  }
  for (auto [field, hd] : {std::pair<const char*, int>{"head_dim_sliding", head_dim_sliding},
                           {"head_dim_full", head_dim_full}}) {
    if (hd <= 0 || hd % 2 != 0) {
      return fail(field, absl::StrCat(hd, " is not a positive even number"));
    }
  }
  for (auto [field, kv] : {std::pair<const char*, int>{"kv_heads_sliding", kv_heads_sliding},
                           {"kv_heads_full", kv_heads_full}}) {
    if (kv <= 0 || num_heads % kv != 0) {
      return fail(field, absl::StrCat(kv, " does not divide num_heads = ", num_heads));
    }
  }
  if (!(partial_rotary_full > 0 && partial_rotary_full <= 1) || FullRotaryDims(*this) <= 0) {
    return fail("partial_rotary_full",
                absl::StrCat(partial_rotary_full, " leaves no rotating pair of ", head_dim_full));
  }
  bool any_sliding = std::find(sliding.begin(), sliding.end(), true) != sliding.end();
  if (any_sliding && sliding_window <= 0) return fail("sliding_window", "must be positive");
  if (shared_kv_layers < 0 || shared_kv_layers >= num_layers) {
    return fail("shared_kv_layers", absl::StrCat(shared_kv_layers, " is outside [0, num_layers = ",
                                                 num_layers, ")"));
  }
  for (int i = FirstSharedLayer(); i < num_layers; ++i) {
    LayerInfo info = Layer(i);
    if (info.kv_source < 0) {
      return fail("shared_kv_layers",
                  absl::StrCat("shared layer ", i, " (", sliding[i] ? "sliding" : "full",
                               ") has no earlier non-shared layer of the same type"));
    }
  }
  if (ple_dim < 0) return fail("ple_dim", "must not be negative");
  if (num_experts < 0) return fail("num_experts", "must not be negative");
  if (num_experts == 0 && (experts_used != 0 || expert_ff != 0)) {
    return fail("experts_used/expert_ff", "set on a dense model (num_experts = 0)");
  }
  if (num_experts > 0) {
    if (experts_used <= 0 || experts_used > num_experts) {
      return fail("experts_used", absl::StrCat(experts_used, " is outside [1, num_experts = ",
                                               num_experts, "]"));
    }
    if (expert_ff <= 0) return fail("expert_ff", "must be positive on a MoE model");
  }
  if (!(rope_theta_sliding > 0)) return fail("rope_theta_sliding", "must be positive");
  if (!(rope_theta_full > 0)) return fail("rope_theta_full", "must be positive");
  if (!(rms_eps > 0)) return fail("rms_eps", "must be positive");
  if (!(final_softcap >= 0)) return fail("final_softcap", "must not be negative");
  if (context_length <= 0) return fail("context_length", "must be positive");
  // GGUF stores it as a u32 (gemma4.context_length).
  if (context_length > int64_t{0xFFFFFFFF}) return fail("context_length", "must fit in 32 bits");
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> PresetConfig(const std::string& name) {
  for (const auto& [preset, make] : Presets()) {
    if (preset == name) return make();
  }
  return absl::NotFoundError(absl::StrCat("unknown model preset '", name, "'; valid: ",
                                          absl::StrJoin(PresetNames(), ", ")));
}

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const auto& preset : Presets()) names.push_back(preset.first);
  return names;
}

absl::StatusOr<ModelConfig> ConfigFromGguf(const gguf::GgufFile& f) {
  const std::string arch_key = "general.architecture";
  if (f.Find(arch_key) == nullptr) return MissingKey(f, arch_key);
  auto arch = f.GetString(arch_key);
  if (!arch.ok()) return KeyError(f, arch_key, arch.status());
  if (*arch != "gemma4") {
    return BadKey(f, arch_key, absl::StrCat("is '", *arch, "', expected 'gemma4'"));
  }
  auto k = [](absl::string_view suffix) { return absl::StrCat("gemma4.", suffix); };
  KeyReader r(f);
  ModelConfig c;
  if (f.Find("general.name") != nullptr) {
    auto name = f.GetString("general.name");
    if (!name.ok()) return KeyError(f, "general.name", name.status());
    c.name = *name;
  } else {
    c.name = f.path();
  }
  G4_ASSIGN_OR_RETURN(c.vocab, VocabSize(f));
  G4_ASSIGN_OR_RETURN(c.context_length, r.U32(k("context_length")));
  G4_ASSIGN_OR_RETURN(c.hidden, r.Int(k("embedding_length")));
  // Bounded so a corrupt count cannot make the per-layer lists below exhaust memory.
  G4_ASSIGN_OR_RETURN(c.num_layers, r.Int(k("block_count"), kMaxLayers));
  const size_t n = static_cast<size_t>(c.num_layers);
  if (n == 0) return BadKey(f, k("block_count"), "is 0");

  // The sliding pattern must be a bool array (or a single bool), as the converter writes it.
  const std::string pattern_key = k("attention.sliding_window_pattern");
  const gguf::Value* pattern = f.Find(pattern_key);
  if (pattern == nullptr) return MissingKey(f, pattern_key);
  if (pattern->type != gguf::ValueType::kBool &&
      !(pattern->type == gguf::ValueType::kArray && pattern->elem_type == gguf::ValueType::kBool)) {
    return BadKey(f, pattern_key, absl::StrCat("expected an array of bool, found ",
                                               gguf::ValueTypeName(pattern->type)));
  }
  G4_ASSIGN_OR_RETURN(std::vector<int64_t> is_swa, r.PerLayer(pattern_key, n));
  c.sliding.assign(n, true);
  for (size_t i = 0; i < n; ++i) c.sliding[i] = is_swa[i] != 0;
  auto is_sliding = [&](size_t i) { return c.sliding[i]; };
  auto is_full = [&](size_t i) { return !c.sliding[i]; };

  G4_ASSIGN_OR_RETURN(std::vector<int64_t> ff, r.PerLayer(k("feed_forward_length"), n));
  c.ff.assign(ff.begin(), ff.end());
  G4_ASSIGN_OR_RETURN(std::vector<int64_t> heads, r.PerLayer(k("attention.head_count"), n));
  G4_ASSIGN_OR_RETURN(c.num_heads, Uniform(f, k("attention.head_count"), heads,
                                            [](size_t) { return true; }, 0, "some"));
  G4_ASSIGN_OR_RETURN(std::vector<int64_t> kv, r.PerLayer(k("attention.head_count_kv"), n));
  G4_ASSIGN_OR_RETURN(c.kv_heads_sliding,
                       Uniform(f, k("attention.head_count_kv"), kv, is_sliding, kv[0], "sliding"));
  G4_ASSIGN_OR_RETURN(c.kv_heads_full,
                       Uniform(f, k("attention.head_count_kv"), kv, is_full, kv[0], "full"));

  // Head dims: key_length is the full layers' (global) head dim, *_swa the sliding one's.
  G4_ASSIGN_OR_RETURN(int key_length, r.Int(k("attention.key_length")));
  G4_ASSIGN_OR_RETURN(int value_length, r.Int(k("attention.value_length")));
  if (key_length != value_length) {
    return BadKey(f, k("attention.value_length"),
                  absl::StrCat(value_length, " differs from key_length ", key_length));
  }
  G4_ASSIGN_OR_RETURN(int key_length_swa, r.Int(k("attention.key_length_swa")));
  G4_ASSIGN_OR_RETURN(int value_length_swa, r.Int(k("attention.value_length_swa")));
  if (key_length_swa != value_length_swa) {
    return BadKey(f, k("attention.value_length_swa"),
                  absl::StrCat(value_length_swa, " differs from key_length_swa ", key_length_swa));
  }
  c.head_dim_full = key_length;
  c.head_dim_sliding = key_length_swa;

  G4_ASSIGN_OR_RETURN(int64_t n_rot, r.U32Or(k("rope.dimension_count"), key_length));
  if (n_rot <= 0 || n_rot > key_length) {
    return BadKey(f, k("rope.dimension_count"),
                  absl::StrCat(n_rot, " is outside [1, key_length = ", key_length, "]"));
  }
  G4_ASSIGN_OR_RETURN(int64_t n_rot_swa, r.U32Or(k("rope.dimension_count_swa"), key_length_swa));
  if (n_rot_swa != key_length_swa) {
    return BadKey(f, k("rope.dimension_count_swa"),
                  absl::StrCat(n_rot_swa, ": partial RoPE on sliding layers (head dim ",
                               key_length_swa, ") is not supported"));
  }
  G4_ASSIGN_OR_RETURN(c.partial_rotary_full, PartialRotary(f, c.head_dim_full, n_rot));
  G4_ASSIGN_OR_RETURN(c.rope_theta_full, r.F32Or(k("rope.freq_base"), 10000.0));
  G4_ASSIGN_OR_RETURN(c.rope_theta_sliding, r.F32Or(k("rope.freq_base_swa"), 10000.0));
  G4_ASSIGN_OR_RETURN(c.rms_eps, r.F32(k("attention.layer_norm_rms_epsilon")));
  G4_ASSIGN_OR_RETURN(c.sliding_window, r.Int(k("attention.sliding_window")));
  G4_ASSIGN_OR_RETURN(c.shared_kv_layers, r.IntOr(k("attention.shared_kv_layers"), 0));
  G4_ASSIGN_OR_RETURN(c.ple_dim, r.Int(k("embedding_length_per_layer_input")));
  G4_ASSIGN_OR_RETURN(c.final_softcap, r.F32Or(k("final_logit_softcapping"), 30.0));

  G4_ASSIGN_OR_RETURN(c.num_experts, r.IntOr(k("expert_count"), 0));
  if (c.num_experts > 0) {
    G4_ASSIGN_OR_RETURN(c.experts_used, r.Int(k("expert_used_count")));
    // Optional in llama.cpp; the expert down projection's ne[0] says the same.
    const gguf::TensorInfo* down = f.FindTensor("blk.0.ffn_down_exps.weight");
    int64_t from_tensor = down != nullptr && !down->ne.empty() ? down->ne[0] : 0;
    if (f.Find(k("expert_feed_forward_length")) == nullptr && from_tensor == 0) {
      return MissingKey(f, k("expert_feed_forward_length"));
    }
    G4_ASSIGN_OR_RETURN(c.expert_ff, r.IntOr(k("expert_feed_forward_length"), from_tensor));
  }

  // k_eq_v: the KV-owning full layers carry no attn_v (spec §2.4). All or none.
  int with_v = 0, without_v = 0;
  for (int i = 0; i < c.num_layers - c.shared_kv_layers; ++i) {
    if (c.sliding[i]) continue;
    bool has_v = f.FindTensor(absl::StrCat("blk.", i, ".attn_v.weight")) != nullptr;
    (has_v ? with_v : without_v)++;
  }
  if (with_v > 0 && without_v > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        f.path(), ": some full-attention layers have 'attn_v.weight' and some do not"));
  }
  c.k_eq_v_full = without_v > 0;

  absl::Status valid = c.Validate();
  if (!valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(f.path(), ": ", valid.message()));
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// Tensors (spec §4.4). ne[0] is the input dimension of a matrix.

std::vector<TensorSpec> ModelTensors(const ModelConfig& c) {
  const int64_t H = c.hidden, V = c.vocab, L = c.num_layers, P = c.ple_dim;
  std::vector<TensorSpec> out;
  auto vec = [&](std::string name, int64_t n) { out.push_back({std::move(name), {n}, false}); };
  auto mat = [&](std::string name, std::vector<int64_t> ne) {
    out.push_back({std::move(name), std::move(ne), true});
  };

  mat("token_embd.weight", {H, V});                       // tied: also the LM head
  vec("output_norm.weight", H);
  vec("rope_freqs.weight", c.head_dim_full / 2);          // 1.0 on rotating pairs, else 1e30
  if (c.HasPle()) {
    mat("per_layer_token_embd.weight", {L * P, V});
    mat("per_layer_model_proj.weight", {H, L * P});
    vec("per_layer_proj_norm.weight", P);
  }
  for (int i = 0; i < c.num_layers; ++i) {
    const LayerInfo l = c.Layer(i);
    const int64_t q_width = int64_t{c.num_heads} * l.head_dim;
    const int64_t kv_width = int64_t{l.num_kv_heads} * l.head_dim;
    const std::string p = absl::StrCat("blk.", i, ".");
    vec(p + "attn_norm.weight", H);
    mat(p + "attn_q.weight", {H, q_width});
    if (l.owns_kv) {
      mat(p + "attn_k.weight", {H, kv_width});
      if (!l.k_eq_v) mat(p + "attn_v.weight", {H, kv_width});
    }
    mat(p + "attn_output.weight", {q_width, H});
    vec(p + "attn_q_norm.weight", l.head_dim);
    if (l.owns_kv) vec(p + "attn_k_norm.weight", l.head_dim);
    vec(p + "post_attention_norm.weight", H);
    vec(p + "ffn_norm.weight", H);
    mat(p + "ffn_gate.weight", {H, l.ff});
    mat(p + "ffn_up.weight", {H, l.ff});
    mat(p + "ffn_down.weight", {l.ff, H});
    vec(p + "post_ffw_norm.weight", H);
    if (c.IsMoe()) {
      const int64_t E = c.num_experts, I = c.expert_ff;
      mat(p + "ffn_gate_inp.weight", {H, E});             // router
      vec(p + "ffn_gate_inp.scale", H);                   // router input scale
      vec(p + "pre_ffw_norm_2.weight", H);
      vec(p + "post_ffw_norm_1.weight", H);
      vec(p + "post_ffw_norm_2.weight", H);
      mat(p + "ffn_gate_up_exps.weight", {H, 2 * I, E});  // per expert: I gate rows, then I up
      mat(p + "ffn_down_exps.weight", {I, H, E});
      vec(p + "ffn_down_exps.scale", E);                  // per-expert output scale
    }
    if (c.HasPle()) {
      mat(p + "inp_gate.weight", {H, P});
      mat(p + "proj.weight", {P, H});
      vec(p + "post_norm.weight", H);
    }
    vec(p + "layer_output_scale.weight", 1);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

bool operator==(const ModelConfig& a, const ModelConfig& b) { return DiffConfigs(a, b).empty(); }

std::string DiffConfigs(const ModelConfig& a, const ModelConfig& b) {
  std::vector<std::string> diffs;
  auto cmp = [&](const char* field, const auto& x, const auto& y) {
    if (!(x == y)) diffs.push_back(absl::StrCat(field, ": ", x, " vs ", y));
  };
  auto cmp_list = [&](const char* field, const auto& x, const auto& y) {
    if (!(x == y)) {
      diffs.push_back(absl::StrCat(field, ": [", absl::StrJoin(x, ","), "] vs [",
                                   absl::StrJoin(y, ","), "]"));
    }
  };
  cmp("name", a.name, b.name);
  cmp("vocab", a.vocab, b.vocab);
  cmp("hidden", a.hidden, b.hidden);
  cmp("num_layers", a.num_layers, b.num_layers);
  cmp("num_heads", a.num_heads, b.num_heads);
  cmp("head_dim_sliding", a.head_dim_sliding, b.head_dim_sliding);
  cmp("head_dim_full", a.head_dim_full, b.head_dim_full);
  cmp("kv_heads_sliding", a.kv_heads_sliding, b.kv_heads_sliding);
  cmp("kv_heads_full", a.kv_heads_full, b.kv_heads_full);
  auto pattern = [](const std::vector<bool>& v) {
    std::string s;
    for (bool b : v) s += b ? 'S' : 'F';
    return s;
  };
  cmp("sliding", pattern(a.sliding), pattern(b.sliding));
  cmp_list("ff", a.ff, b.ff);
  cmp("sliding_window", a.sliding_window, b.sliding_window);
  cmp("shared_kv_layers", a.shared_kv_layers, b.shared_kv_layers);
  cmp("k_eq_v_full", a.k_eq_v_full, b.k_eq_v_full);
  cmp("ple_dim", a.ple_dim, b.ple_dim);
  cmp("num_experts", a.num_experts, b.num_experts);
  cmp("experts_used", a.experts_used, b.experts_used);
  cmp("expert_ff", a.expert_ff, b.expert_ff);
  cmp("rope_theta_sliding", a.rope_theta_sliding, b.rope_theta_sliding);
  cmp("rope_theta_full", a.rope_theta_full, b.rope_theta_full);
  cmp("partial_rotary_full", a.partial_rotary_full, b.partial_rotary_full);
  cmp("rms_eps", a.rms_eps, b.rms_eps);
  cmp("final_softcap", a.final_softcap, b.final_softcap);
  cmp("context_length", a.context_length, b.context_length);
  return absl::StrJoin(diffs, "; ");
}

ParamCounts CountParameters(const ModelConfig& c) {
  ParamCounts counts;
  for (const TensorSpec& t : ModelTensors(c)) {
    int64_t n = 1;
    for (int64_t d : t.ne) n *= d;
    counts.total += n;
    absl::string_view name = t.name;
    bool expert = absl::EndsWith(name, "ffn_gate_up_exps.weight") ||
                  absl::EndsWith(name, "ffn_down_exps.weight");
    if (expert) {
      counts.experts += n;
    }
    if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") {
      counts.embedding += n;
    }
  }
  // A token runs experts_used of num_experts experts in every layer.
  int64_t inactive =
      c.IsMoe() ? counts.experts - counts.experts / c.num_experts * c.experts_used : 0;
  counts.active = counts.total - inactive;
  return counts;
}

std::string DescribeConfig(const ModelConfig& c) {
  std::vector<int> full;
  for (int i = 0; i < c.num_layers; ++i) {
    if (!c.sliding[i]) full.push_back(i);
  }
  ParamCounts p = CountParameters(c);
  std::string s = absl::StrCat(
      c.name, ": vocab ", c.vocab, ", H ", c.hidden, ", L ", c.num_layers, ", heads ", c.num_heads,
      ", kv heads ", c.kv_heads_sliding, "/", c.kv_heads_full, " (sliding/full), head dims ",
      c.head_dim_sliding, "/", c.head_dim_full, ", full layers [", absl::StrJoin(full, ","),
      "], window ", c.sliding_window, ", context ", c.context_length);
  if (c.shared_kv_layers > 0) absl::StrAppend(&s, ", KV-shared tail ", c.shared_kv_layers);
  if (c.k_eq_v_full) absl::StrAppend(&s, ", k_eq_v on full layers");
  if (c.HasPle()) absl::StrAppend(&s, ", PLE ", c.ple_dim);
  if (c.IsMoe()) {
    absl::StrAppend(&s, ", MoE ", c.num_experts, " experts top-", c.experts_used, " ff ",
                    c.expert_ff);
  }
  absl::StrAppend(&s, ", parameters ", p.total);
  if (c.IsMoe()) absl::StrAppend(&s, " (active ", p.active, ")");
  return s;
}

}  // namespace g4

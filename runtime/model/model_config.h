// Gemma 4 text-model hyperparameters and the per-layer structure derived from them.
//
// One ModelConfig describes one model: the four released variants (E2B, E4B, 26B-A4B, 31B), the
// tiny test models of the same structure, or whatever a GGUF file says. Everything the spec
// writer, `gemma4c synth` and the runtime need to know about the model's shape comes from here,
// so the three cannot disagree. Facts and sources: ../shared/spec/gemma4-architecture.md §1, §4.
#ifndef GEMMA4C_RUNTIME_MODEL_MODEL_CONFIG_H_
#define GEMMA4C_RUNTIME_MODEL_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gguf/gguf.h"

namespace g4 {

// What one decoder layer looks like (derived; see ModelConfig::Layer()).
struct LayerInfo {
  int index = 0;
  bool sliding = true;      // sliding-window attention (else full, causal over the whole context)
  int head_dim = 256;       // 256 sliding, 512 full
  int num_kv_heads = 1;
  bool owns_kv = true;      // false on the KV-shared tail
  int kv_source = 0;        // layer whose cache this layer reads (== index when owns_kv)
  bool k_eq_v = false;      // full layers of 26B/31B: no attn_v, V = raw K projection
  int ff = 0;               // dense MLP intermediate width (double on E2B's shared layers)
  bool moe = false;
  // RoPE for this layer: "default" theta 1e4 on sliding, "proportional" theta 1e6 factor 0.25
  // on full layers (only rotary_dims of head_dim rotate).
  double rope_theta = 10000.0;
  int rotary_dims = 256;    // dims that rotate (pairs = rotary_dims / 2)
};

struct ModelConfig {
  std::string name;          // "gemma4-e2b", "tiny-e2b", ... (also the spec's symbol)
  int64_t vocab = 262144;
  int hidden = 0;            // H
  int num_layers = 0;        // L
  int num_heads = 0;         // nh (same on all layers)
  int head_dim_sliding = 256;
  int head_dim_full = 512;
  int kv_heads_sliding = 1;
  int kv_heads_full = 1;
  std::vector<bool> sliding; // per layer: true = sliding window
  std::vector<int> ff;       // per layer dense MLP width
  int sliding_window = 512;
  int shared_kv_layers = 0;  // size of the KV-shared tail
  bool k_eq_v_full = false;  // full layers have no attn_v
  int ple_dim = 0;           // per-layer-embedding width (0 = no PLE)
  int num_experts = 0;       // 0 = dense
  int experts_used = 0;
  int expert_ff = 0;
  double rope_theta_sliding = 10000.0;
  double rope_theta_full = 1000000.0;
  double partial_rotary_full = 0.25;
  double rms_eps = 1e-6;
  double final_softcap = 30.0;
  int64_t context_length = 131072;

  // Layer i's structure (head dim, KV heads, KV source, ...). Requires a valid config.
  LayerInfo Layer(int i) const;
  int FirstSharedLayer() const { return num_layers - shared_kv_layers; }
  bool HasPle() const { return ple_dim > 0; }
  bool IsMoe() const { return num_experts > 0; }

  // Consistency checks (lengths of per-layer lists, divisibility, the KV-sharing source rule,
  // head dims): an error names the model and the field.
  absl::Status Validate() const;
};

// Presets: "e2b", "e4b", "26b-a4b", "31b" (released hyperparameters) and "tiny-e2b", "tiny-moe",
// "tiny-31b" (same structure, small sizes), "small-vocab" (E2B structure, hidden 512, 8 layers,
// the real 262144-token vocabulary: the speed benchmark's small model). NotFound lists the valid names.
absl::StatusOr<ModelConfig> PresetConfig(const std::string& name);
std::vector<std::string> PresetNames();

// `config` with `layers` layers (1 <= layers <= num_layers) and the same widths, for benchmarks
// of large shapes on small machines (`gemma4c synth --layers N`). The KV-shared tail shrinks in
// proportion (rounded down) and stays at the end: the first layers - shared layers of the
// pattern own their K/V, then the last `shared` layers of the original tail. The name gets
// "-<layers>l". An error when the result breaks a rule of Validate() (a shared layer without an
// owning layer of its type: choose another count).
absl::StatusOr<ModelConfig> WithLayers(const ModelConfig& config, int layers);

// Reads the `gemma4.*` keys (architecture spec §4.2) of a GGUF file. Errors name the file and key.
absl::StatusOr<ModelConfig> ConfigFromGguf(const gguf::GgufFile& file);

// One tensor the model needs in its GGUF: name, ne (innermost first), and whether it is a
// matrix (any supported dtype accepted) or a vector (F32 expected, F16/BF16 accepted).
struct TensorSpec {
  std::string name;
  std::vector<int64_t> ne;
  bool matrix = false;
};
// Every tensor of the model in llama.cpp's names and ne order (architecture spec §4.4), in the
// order llama.cpp's converter writes them (globals, then per layer).
std::vector<TensorSpec> ModelTensors(const ModelConfig& config);

// Field-by-field equality (doubles compared exactly) and a readable list of the differing
// fields ("" when equal), for tests and error messages.
bool operator==(const ModelConfig& a, const ModelConfig& b);
inline bool operator!=(const ModelConfig& a, const ModelConfig& b) { return !(a == b); }
std::string DiffConfigs(const ModelConfig& a, const ModelConfig& b);

// Parameter counts from ModelTensors (the tied LM head is not counted twice).
struct ParamCounts {
  int64_t total = 0;
  int64_t embedding = 0;  // token_embd + per_layer_token_embd (table lookups, no matmul)
  int64_t experts = 0;    // ffn_gate_up_exps + ffn_down_exps, all experts
  int64_t active = 0;     // per token: total minus the experts a token does not run
};
ParamCounts CountParameters(const ModelConfig& config);

// One line: name, sizes, layer pattern, sharing, PLE/MoE, parameter count.
std::string DescribeConfig(const ModelConfig& config);

}  // namespace g4

#endif  // GEMMA4C_RUNTIME_MODEL_MODEL_CONFIG_H_

// Synthetic Gemma 4 models (`gemma4c synth`): a GGUF with the exact keys, tensor names, shapes
// and dtypes of a real llama.cpp conversion (architecture spec §4), random but well-scaled
// weights, and a small real-BPE vocabulary (synth_vocab.h). Used to test the whole toolchain on
// any variant's shapes without downloading a checkpoint.
//
// Weights (each tensor from its own deterministic stream: seed + a hash of its name, so one
// tensor can be regenerated alone):
//   linear weights, ne = [in, out(, E)]   N(0, 1/in)          activations keep their scale
//   token_embd [H, V]                     N(0, (3/sqrt(H))^2) tied logits have std ~3: far from
//                                                             uniform, softcap 30 not saturated
//   per_layer_token_embd [L*P, V]         N(0, 1/P)           x16 in the graph: token part of the
//                                                             PLE input has std ~1, like the
//                                                             (RMS-normed) context part
//   ffn_gate_inp (router) [H, E]          N(0, 1)             router input has norm ~1 (÷sqrt(H)
//                                                             after RMS norm): logits std ~1
//   norm weights (incl. q/k norms), ffn_gate_inp.scale        1 + 0.1 N
//   ffn_down_exps.scale [E]               1 + 0.2 N
//   layer_output_scale [1]                uniform [0.3, 1.0]
//   rope_freqs [hd_full/2]                1.0 on the rotating pairs, 1e30 on the rest (llama.cpp)
// Matrices are written in the requested dtype, 1-D tensors in F32. Data is generated and written
// in chunks of about 1 MiB of floats, so memory stays bounded for every variant.
#ifndef GEMMA4C_RUNTIME_MODEL_SYNTH_H_
#define GEMMA4C_RUNTIME_MODEL_SYNTH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "gguf/ggml_types.h"
#include "model/model_config.h"

namespace g4 {

// Writes the synthetic model to `path` (overwritten; removed again on error). Fails with
// InvalidArgument when the config is invalid or a matrix row does not fit the dtype's block size
// (e.g. Q4_K needs ne[0] % 256 == 0).
absl::Status WriteSyntheticModel(const ModelConfig& config, gguf::GgmlType matrix_dtype,
                                 uint64_t seed, const std::string& path);

// The value stream of one tensor, in storage order (ne[0] fastest). Filling in any chunking gives
// the same values.
class SynthTensorStream {
 public:
  SynthTensorStream(const ModelConfig& config, const TensorSpec& spec, uint64_t seed);
  void Fill(absl::Span<float> out);

  enum class Kind { kNormal, kUniform, kRopeFreqs };
  Kind kind() const { return kind_; }
  // kNormal: mean and standard deviation; kUniform: [a, b).
  float a() const { return a_; }
  float b() const { return b_; }

 private:
  float NextNormal();
  uint64_t NextU64();

  Kind kind_ = Kind::kNormal;
  float a_ = 0, b_ = 1;
  int64_t rotating_pairs_ = 0;  // kRopeFreqs
  int64_t position_ = 0;        // values produced so far
  uint64_t s_[4];               // xoshiro256** state
  bool has_spare_ = false;      // the polar method makes normals in pairs
  float spare_ = 0;
};

// All values of one tensor (for tests and small tensors).
std::vector<float> SynthTensorData(const ModelConfig& config, const TensorSpec& spec,
                                   uint64_t seed);

// llama.cpp's general.file_type (LLAMA_FTYPE_*) for a file whose matrices are `dtype`.
uint32_t FileTypeFor(gguf::GgmlType dtype);

}  // namespace g4

#endif  // GEMMA4C_RUNTIME_MODEL_SYNTH_H_

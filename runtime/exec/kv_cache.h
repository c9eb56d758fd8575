// The KV cache: per layer that owns K/V, the keys and values of past positions.
//
// Full-attention layers keep every position of the context; sliding layers keep a ring of
// `window + max_batch` positions (a batch is written before it is attended to, and its first
// query still needs the `window - 1` positions before the batch). KV-shared layers have no
// cache of their own and read their source layer's. Storage is bf16 under the `reference`
// policy (as transformers keeps it; the values are already bf16 there, so nothing is lost) and
// f32 otherwise.
#ifndef GEMMA4C_RUNTIME_EXEC_KV_CACHE_H_
#define GEMMA4C_RUNTIME_EXEC_KV_CACHE_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/attention.h"

namespace g4::exec {

// Positions one owning layer's cache must hold at most: a sliding layer's ring of window +
// max_batch (capped by the context), a full layer the whole context. The one rule the CPU
// cache, the CUDA cache and the memory budget size themselves by.
inline int64_t KvPositions(int64_t window, int64_t context, int64_t max_batch) {
  return window > 0 ? std::min(window + max_batch, context) : context;
}

class KvCache {
 public:
  struct Layer {
    bool owns = false;
    int source = -1;       // layer whose cache this layer reads
    int64_t window = 0;    // 0 = full
    int64_t row = 0;       // kv_heads * head_dim
    int64_t capacity = 0;  // positions held (ring size for sliding layers)
    std::vector<float> k32, v32;        // f32 storage
    std::vector<uint16_t> k16, v16;     // bf16 storage
  };

  void Init(int num_layers, bool bf16, int64_t context, int64_t max_batch);
  void AddLayer(int layer, bool owns, int source, int64_t window, int64_t row);
  // Stores n rows of K and V for positions pos0..pos0+n-1 of `layer` (an owning layer).
  void Write(int layer, int64_t pos0, int64_t n, const float* k, const float* v);
  // K (value = false) or V (value = true) of `pos` as float32, read through the source layer
  // for shared layers.
  void Read(int layer, int64_t pos, bool value, float* out) const;
  // `layer`'s K and V in place (through the source layer for shared layers), for
  // cpu::Attention. Valid until the next Write to the owning layer (which may grow it).
  cpu::KvView View(int layer) const;
  const Layer& layer(int i) const { return layers_[i]; }

 private:
  Layer& Owner(int layer);
  const Layer& Owner(int layer) const;
  void Grow(Layer& l, int64_t positions);
  std::vector<Layer> layers_;
  bool bf16_ = false;
  int64_t context_ = 0, max_batch_ = 0;
};

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_KV_CACHE_H_

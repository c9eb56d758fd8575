#include "exec/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "gguf/ggml_types.h"

namespace g4::exec {

void KvCache::Init(int num_layers, bool bf16, int64_t context, int64_t max_batch) {
  layers_.assign(num_layers, Layer{});
  bf16_ = bf16;
  context_ = context;
  max_batch_ = max_batch;
}

void KvCache::AddLayer(int layer, bool owns, int source, int64_t window, int64_t row) {
  Layer& l = layers_[layer];
  l.owns = owns;
  l.source = owns ? layer : source;
  l.window = window;
  l.row = row;
  // Full layers grow with the context; sliding layers hold a fixed ring.
  l.capacity = window > 0 ? KvPositions(window, context_, max_batch_) : 0;
  if (owns && window > 0) Grow(l, l.capacity);
  // A full layer reserves its whole context once (the session checked that it fits in memory,
  // memory_budget.h): growing then never copies, so a long prompt costs no transient second
  // cache, and the pages of positions not yet written are not touched (not resident).
  if (owns && window == 0) {
    const size_t n = size_t(context_) * size_t(row);
    if (bf16_) {
      l.k16.reserve(n);
      l.v16.reserve(n);
    } else {
      l.k32.reserve(n);
      l.v32.reserve(n);
    }
  }
}

void KvCache::Grow(Layer& l, int64_t positions) {
  size_t n = size_t(positions) * size_t(l.row);
  if (bf16_) {
    l.k16.resize(n);
    l.v16.resize(n);
  } else {
    l.k32.resize(n);
    l.v32.resize(n);
  }
}

KvCache::Layer& KvCache::Owner(int layer) { return layers_[layers_[layer].source]; }
const KvCache::Layer& KvCache::Owner(int layer) const { return layers_[layers_[layer].source]; }

void KvCache::Write(int layer, int64_t pos0, int64_t n, const float* k, const float* v) {
  Layer& l = layers_[layer];
  if (l.window == 0 && pos0 + n > l.capacity) {
    // Grow geometrically so that decode appends are amortized O(1).
    l.capacity = std::min<int64_t>(context_, std::max<int64_t>(pos0 + n, 2 * l.capacity + 64));
    Grow(l, l.capacity);
  }
  for (int64_t t = 0; t < n; ++t) {
    int64_t slot = l.window > 0 ? (pos0 + t) % l.capacity : pos0 + t;
    size_t at = size_t(slot) * size_t(l.row);
    const float* kr = k + t * l.row;
    const float* vr = v + t * l.row;
    if (bf16_) {
      for (int64_t i = 0; i < l.row; ++i) {
        l.k16[at + i] = gguf::FloatToBf16(kr[i]);
        l.v16[at + i] = gguf::FloatToBf16(vr[i]);
      }
    } else {
      std::memcpy(&l.k32[at], kr, l.row * sizeof(float));
      std::memcpy(&l.v32[at], vr, l.row * sizeof(float));
    }
  }
}

void KvCache::Read(int layer, int64_t pos, bool value, float* out) const {
  const Layer& l = Owner(layer);
  const int64_t slot = l.window > 0 ? pos % l.capacity : pos;
  const size_t at = size_t(slot) * size_t(l.row);
  if (bf16_) {
    const uint16_t* src = (value ? l.v16 : l.k16).data() + at;
    for (int64_t i = 0; i < l.row; ++i) out[i] = gguf::Bf16ToFloat(src[i]);
  } else {
    std::memcpy(out, (value ? l.v32 : l.k32).data() + at, l.row * sizeof(float));
  }
}

cpu::KvView KvCache::View(int layer) const {
  const Layer& l = Owner(layer);
  cpu::KvView v;
  if (bf16_) {
    v.k16 = l.k16.data();
    v.v16 = l.v16.data();
  } else {
    v.k32 = l.k32.data();
    v.v32 = l.v32.data();
  }
  v.row = l.row;
  v.capacity = l.capacity;
  v.ring = l.window > 0;
  return v;
}

}  // namespace g4::exec

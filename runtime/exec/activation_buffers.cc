#include "exec/activation_buffers.h"

#include <algorithm>
#include <map>
#include <utility>

namespace g4::exec {

ActivationBuffers::ActivationBuffers(const plan::Plan& plan, bool own_buffers, std::vector<bool> tail_tensors)
    : tail_tensor_(std::move(tail_tensors)) {
  const uint32_t n = plan.tensors()->size();
  head_.resize(n);
  tail_.resize(n);
  buffer_of_.assign(n, -1);
  std::map<std::pair<int32_t, bool>, int32_t> buffer_of_slot;  // (slot, in the tail) -> buffer
  for (uint32_t i = 0; i < n; ++i) {
    const plan::Tensor* t = plan.tensors()->Get(i);
    const int64_t width = t->width();
    const bool tail = tail_tensor_[i];
    head_[i].width = tail_[i].width = width;
    if (t->slot() >= 0 && !own_buffers) {
      auto [it, fresh] = buffer_of_slot.try_emplace({t->slot(), tail}, int32_t(buffers_.size()));
      if (fresh) buffers_.push_back({width, tail, nullptr, 0});
      buffers_[it->second].width = std::max(buffers_[it->second].width, width);
      buffer_of_[i] = it->second;
    } else {
      buffer_of_[i] = int32_t(buffers_.size());
      buffers_.push_back({width, tail, nullptr, 0});
    }
  }
}

std::optional<int64_t> ActivationBuffers::FloatsPerRow() const {
  int64_t sum = 0;
  for (const Buffer& b : buffers_)
    if (b.width > 0 && __builtin_add_overflow(sum, b.width, &sum)) return std::nullopt;
  return sum;
}

void ActivationBuffers::Prepare(int64_t n, int64_t k) {
  if (n > rows_ || k > tail_rows_) {
    rows_ = std::max(rows_, n);
    tail_rows_ = std::max(tail_rows_, k);
    for (Buffer& b : buffers_) {
      const size_t floats = size_t(b.tail ? tail_rows_ : rows_) * size_t(b.width);
      if (floats > b.floats) {
        b.data.reset(new float[floats]);  // default-initialized: no pass over the memory
        b.floats = floats;
      }
    }
  }
  for (size_t i = 0; i < head_.size(); ++i) {
    float* base = buffers_[buffer_of_[i]].data.get();
    head_[i].data = base;
    tail_[i].data = tail_tensor_[i] ? base : base + (n - k) * head_[i].width;
  }
}

}  // namespace g4::exec

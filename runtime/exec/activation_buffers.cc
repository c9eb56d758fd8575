#include "exec/activation_buffers.h"

#include <algorithm>
#include <map>

namespace g4::exec {

ActivationBuffers::ActivationBuffers(const plan::Plan& plan, bool own_buffers) {
  const uint32_t n = plan.tensors()->size();
  views_.resize(n);
  buffer_of_.assign(n, -1);
  std::map<int32_t, int32_t> buffer_of_slot;
  for (uint32_t i = 0; i < n; ++i) {
    const plan::Tensor* t = plan.tensors()->Get(i);
    const int64_t width = t->width();
    views_[i].width = width;
    if (t->slot() >= 0 && !own_buffers) {
      auto [it, fresh] = buffer_of_slot.try_emplace(t->slot(), int32_t(buffer_width_.size()));
      if (fresh) buffer_width_.push_back(width);
      buffer_width_[it->second] = std::max(buffer_width_[it->second], width);
      buffer_of_[i] = it->second;
    } else {
      buffer_of_[i] = int32_t(buffer_width_.size());
      buffer_width_.push_back(width);
    }
  }
  buffers_.resize(buffer_width_.size());
}

void ActivationBuffers::Reserve(int64_t n_tokens) {
  if (n_tokens <= capacity_) return;
  for (size_t b = 0; b < buffers_.size(); ++b) buffers_[b].resize(size_t(n_tokens) * size_t(buffer_width_[b]));
  for (size_t i = 0; i < views_.size(); ++i) views_[i].data = buffers_[buffer_of_[i]].data();
  capacity_ = n_tokens;
}

}  // namespace g4::exec

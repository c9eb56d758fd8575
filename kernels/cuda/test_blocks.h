// Host helper of the CUDA tests: GGUF blocks of any type for n floats, through gguf::Quantize
// (every type has a quantizer today). A type without one would get random bytes with every
// block's f16 scales set to sizes real layers have (the branch kept for that case).
#ifndef GEMMA4C_KERNELS_CUDA_TEST_BLOCKS_H_
#define GEMMA4C_KERNELS_CUDA_TEST_BLOCKS_H_

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "gguf/ggml_types.h"

namespace g4::cuda::test {

inline bool MakeBlocks(gguf::GgmlType type, const std::vector<float>& values, std::mt19937& rng,
                       std::vector<uint8_t>* out) {
  const auto& t = gguf::Traits(type);
  const int64_t n = static_cast<int64_t>(values.size());
  out->assign(static_cast<size_t>(n / t.block_elems * t.block_bytes), 0);
  if (gguf::CanQuantize(type)) return gguf::Quantize(type, values.data(), out->data(), n).ok();
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint8_t& b : *out) b = static_cast<uint8_t>(byte(rng));
  auto half = [&](uint8_t* p, float lo, float hi) {
    const uint16_t h = gguf::FloatToHalf(std::uniform_real_distribution<float>(lo, hi)(rng));
    std::memcpy(p, &h, 2);
  };
  for (size_t o = 0; o + t.block_bytes <= out->size(); o += t.block_bytes) {
    uint8_t* b = out->data() + o;
    switch (type) {
      case gguf::GgmlType::kQ2_K: half(b + 80, 0.02f, 0.1f); half(b + 82, 0.005f, 0.04f); break;
      case gguf::GgmlType::kQ3_K: half(b + 108, -0.03f, 0.03f); break;
      case gguf::GgmlType::kQ5_K: half(b, 0.002f, 0.02f); half(b + 2, 0.002f, 0.02f); break;
      case gguf::GgmlType::kIQ4_XS: half(b, -0.001f, 0.001f); break;
      default: break;
    }
  }
  return true;
}

}  // namespace g4::cuda::test

#endif  // GEMMA4C_KERNELS_CUDA_TEST_BLOCKS_H_

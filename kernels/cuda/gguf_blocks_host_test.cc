// The device readers of the added GGUF types (gguf_blocks_added.cuh) compiled as HOST code and
// checked bit for bit against gguf::Dequantize on random blocks (every bit pattern), so their
// decoding logic is tested on machines without a GPU. The CUDA intrinsics they use are
// replaced by their IEEE meaning (__fmul_rn: one correctly rounded fp32 product, through a
// volatile so the host compiler cannot contract it either); on a GPU, cuda.dequant checks the
// real device build.
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "gguf/ggml_types.h"
#include "gtest/gtest.h"

#define __device__
#define __host__
#define __forceinline__ inline
namespace {
inline float __fmul_rn(float a, float b) { volatile float r = a * b; return r; }
inline float __fadd_rn(float a, float b) { volatile float r = a + b; return r; }
inline float __fsub_rn(float a, float b) { volatile float r = a - b; return r; }
inline float __uint_as_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace

namespace g4::cuda {
enum class BlockType : uint32_t {  // as dequant.cuh (ggml's ids)
  kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ2_K = 10, kQ3_K = 11, kQ5_K = 13, kIQ4_NL = 20,
  kIQ4_XS = 23, kMXFP4 = 39,
};
namespace blocks {
inline float Half(uint16_t bits) { return gguf::HalfToFloat(bits); }
template <BlockType T>
void Dequant16(const uint8_t* row, int64_t k0, float* out);
}  // namespace blocks
}  // namespace g4::cuda

#include "gguf_blocks_added.cuh"

namespace g4::cuda {
namespace {

template <BlockType T>
void CheckType() {
  const gguf::GgmlType type = gguf::GgmlType(static_cast<uint32_t>(T));
  const auto& traits = gguf::Traits(type);
  SCOPED_TRACE(traits.name);
  std::mt19937 rng(3);
  const int64_t n = 4096;
  std::vector<uint8_t> bytes(static_cast<size_t>(n / traits.block_elems * traits.block_bytes));
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng() & 0xFF);
  std::vector<float> want(n), got(n);
  gguf::Dequantize(type, bytes.data(), want.data(), n);
  for (int64_t k = 0; k < n; k += 16) blocks::Dequant16<T>(bytes.data(), k, got.data() + k);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(0, std::memcmp(&want[i], &got[i], 4))
        << "element " << i << ": device reader " << got[i] << ", reference " << want[i];
  }
}

TEST(CudaBlockReadersOnHost, AddedTypesMatchReferenceBitForBit) {
  CheckType<BlockType::kQ4_1>();
  CheckType<BlockType::kQ5_0>();
  CheckType<BlockType::kQ5_1>();
  CheckType<BlockType::kQ2_K>();
  CheckType<BlockType::kQ3_K>();
  CheckType<BlockType::kQ5_K>();
  CheckType<BlockType::kIQ4_NL>();
  CheckType<BlockType::kIQ4_XS>();
  CheckType<BlockType::kMXFP4>();
}

}  // namespace
}  // namespace g4::cuda

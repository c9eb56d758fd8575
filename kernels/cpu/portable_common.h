// Small scalar helpers shared by the portable kernels (matmul_portable.cc, quants_portable.cc).
// Internal.
#ifndef GEMMA4C_KERNELS_CPU_PORTABLE_COMMON_H_
#define GEMMA4C_KERNELS_CPU_PORTABLE_COMMON_H_

#include <cstdint>
#include <cstring>

#include "gguf/ggml_types.h"

namespace g4::cpu::internal {
namespace {

constexpr int kLanes = 8;  // the fp32 lanes of one (row, token) pair, as the AVX2 kernels'

inline float LoadHalf(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return gguf::HalfToFloat(h);
}

// The lanes of one pair, summed in float64 in the AVX2 kernels' order:
// (l0 + l4) + (l2 + l6) + ((l1 + l5) + (l3 + l7)).
inline double SumLanes(const float* l) {
  const double a0 = double(l[0]) + l[4], a1 = double(l[1]) + l[5];
  const double a2 = double(l[2]) + l[6], a3 = double(l[3]) + l[7];
  return (a0 + a2) + (a1 + a3);
}

}  // namespace
}  // namespace g4::cpu::internal

#endif  // GEMMA4C_KERNELS_CPU_PORTABLE_COMMON_H_

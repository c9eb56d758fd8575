// CUDA element, row and routing kernels of the g4 ops, computing the formulas of
// kernels/common/row_ops.h (the same header, compiled for the device with --fmad=false so that
// a*b+c rounds twice as on the host). Activations are [n_tokens][width] float32 in device
// memory; int32 values (token ids, positions, expert indices) live in the same 4-byte slots.
// Every function launches asynchronously on `stream` and returns the launch status.
#ifndef GEMMA4C_KERNELS_CUDA_ROW_OPS_CUH_
#define GEMMA4C_KERNELS_CUDA_ROW_OPS_CUH_

#include <cstdint>

#include <cuda_runtime.h>

#include "dequant.cuh"

namespace g4::cuda {

enum class MapOp {
  kScale,       // y = x * a
  kGelu,        // y = GeluTanh(x)
  kRoundBf16,   // y = RoundBf16(x)
  kSoftcap,     // y = Softcap(x, a, round)
  kScalarMul,   // y = x * scalar[0]  (scalar: device pointer, e.g. a layer_scalar weight)
};
enum class ZipOp { kMul, kAdd };

cudaError_t Map(MapOp op, const float* x, float* y, int64_t n, float a, bool round,
                const float* scalar, cudaStream_t stream);
cudaError_t Zip(ZipOp op, const float* a, const float* b, float* y, int64_t n,
                cudaStream_t stream);
// y[t][i] = x[t][i] * w[i].
cudaError_t ChannelMul(const float* x, const float* w, float* y, int64_t n_tokens,
                       int64_t width, cudaStream_t stream);
// RmsNormRow over each group of `group` values of each n-wide row; w (`group` values, the
// same for every group) may be null. x and y may alias.
cudaError_t RmsNorm(const float* x, const float* w, float* y, int64_t n_tokens, int64_t n,
                    int64_t group, float eps, cudaStream_t stream);
// RopeRow in place on y ([n_tokens][n]); positions: int32 device.
cudaError_t Rope(float* y, int64_t n_tokens, int64_t n, int64_t head_dim, int64_t rotary_dims,
                 double theta, const int32_t* positions, bool round, cudaStream_t stream);
// SoftmaxRow of each row (x and y may alias).
cudaError_t Softmax(const float* x, float* y, int64_t n_tokens, int64_t n, cudaStream_t stream);
// The k (<= 8) largest of each row, largest first, ties to the lower index; indices as int32.
cudaError_t TopK(const float* x, float* values, int32_t* indices, int64_t n_tokens, int64_t n,
                 int64_t k, cudaStream_t stream);
// y = x / sum(x) per k-wide row (fp32 sum in order; bf16 roundings when round).
cudaError_t Renormalize(const float* x, float* y, int64_t n_tokens, int64_t k, bool round,
                        cudaStream_t stream);
// y[i] = w[i] * scale[idx[i]] for i < n.
cudaError_t ExpertScale(const float* w, const int32_t* idx, const float* scale, float* y,
                        int64_t n, cudaStream_t stream);
// y[t] = dequantized row tokens[t] of the [rows][width] table (GGUF dtype).
cudaError_t Embed(BlockType type, const void* table, int64_t width, const int32_t* tokens,
                  float* y, int64_t n_tokens, cudaStream_t stream);

// Routed experts (the g4.expert_ffn step) without a host round trip: expert ids are read on
// the device. Per token t and slot j (item b = t*top_k + j, e = idx[b]):
//   gu = x[t] @ gate_up[e]^T (2*ff), act = gelu(gu[:ff]) * gu[ff:], y = act @ down[e]^T,
//   out[t] = sum_j w[b] * y   (j in order, from 0; fp32).
// Under `round` (experts_bf16*) gu, gelu, act and y are rounded to bf16, under
// `round_weighted` also each w*y term. Scratch: gu [items][2ff], act [items][ff], y [items][H].
struct ExpertFfnArgs {
  BlockType gu_type, dn_type;
  const void* gate_up = nullptr;  // [experts][2ff][H] GGUF
  const void* down = nullptr;     // [experts][H][ff] GGUF
  int64_t hidden = 0, ff = 0, top_k = 0;
  bool round = false, round_weighted = false;
};
cudaError_t ExpertFfn(const ExpertFfnArgs& a, const float* x, const float* weights,
                      const int32_t* idx, int64_t n_tokens, float* gu, float* act, float* ys,
                      float* out, cudaStream_t stream);

}  // namespace g4::cuda

#endif  // GEMMA4C_KERNELS_CUDA_ROW_OPS_CUH_

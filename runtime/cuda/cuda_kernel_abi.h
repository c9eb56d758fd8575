/* The C ABI between the CUDA runtime (runtime/cuda/cuda_backend.cc) and the CUDA kernels that
 * `gemma4c compile --target=cuda` emits (OUTDIR/kernels_cuda.so, sources in OUTDIR/src).
 *
 * One host function per fused region, named after the plan step's `kernel` field with the
 * `g4k_` prefix replaced by `g4kc_`:
 *     int g4kc_<name>(const g4kc_call* call);   // returns a cudaError_t (0 = success)
 * It runs on the host: it calls `call->api->linear` for the region's linears (the runtime's
 * kernels/cuda matvec/GEMM, rounding to bf16 in the epilogue where the region rounds the
 * product), then launches one `__global__` row kernel on `call->stream` that applies the
 * region's row ops (kernels/common/row_ops.h formulas, compiled with --fmad=false) and writes the
 * values that escape the region. Everything is asynchronous on `call->stream` (graph capture
 * safe: no allocation, no synchronization, no host reads of device memory).
 *
 * `tensors` and `weights` are host arrays (indexed by plan tensor / weight id) of DEVICE
 * pointers. Activations are row-major [n_tokens][width] float32 (int32 positions in the same
 * 4-byte slots). `scratch` is device memory of at least n_tokens * g4kc_scratch_floats()
 * floats, for per-row values that do not escape.
 *
 * The library exports
 *     uint32_t g4kc_abi_version(void);     // must equal G4KC_ABI_VERSION
 *     int64_t  g4kc_scratch_floats(void);  // per-token scratch the kernels need (floats)
 */
#ifndef GEMMA4C_RUNTIME_CUDA_CUDA_KERNEL_ABI_H_
#define GEMMA4C_RUNTIME_CUDA_CUDA_KERNEL_ABI_H_

#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

#define G4KC_ABI_VERSION 1u

typedef struct g4kc_tensor {
  float* data;   /* device, [max_batch][width] */
  int64_t width;
} g4kc_tensor;

typedef struct g4kc_weight {
  const void* data;    /* device, in its GGUF dtype (matrices) */
  uint32_t ggml_type;  /* ggml type id, any of the 16 in runtime/gguf/ggml_types.h (0 f32, 8 q8_0, ...) */
  int32_t n_dims;
  int64_t ne[4];
  const float* f32;    /* device: 1-D weights (norms, scales) as float32; else null */
} g4kc_weight;

typedef struct g4kc_api {
  uint32_t abi_version;
  /* y[t][o] = sum_i W[o][i] x[t][i] for t < tokens (device pointers), rounded to bf16 when
   * round_bf16; launched on `stream`. Returns a cudaError_t. */
  int (*linear)(void* rt, const g4kc_weight* w, const float* x, int64_t tokens, float* y,
                int round_bf16, cudaStream_t stream);
} g4kc_api;

typedef struct g4kc_call {
  const g4kc_api* api;
  void* rt;                    /* opaque runtime context, passed back to the api */
  int64_t n_tokens;
  cudaStream_t stream;
  const g4kc_tensor* tensors;  /* by plan tensor id (host array of device pointers) */
  const g4kc_weight* weights;  /* by plan weight id (host array of device pointers) */
  float* scratch;              /* device, >= n_tokens * g4kc_scratch_floats() floats */
} g4kc_call;

typedef int (*g4kc_fn)(const g4kc_call* call);

#ifdef __cplusplus
}
#endif

#endif /* GEMMA4C_RUNTIME_CUDA_CUDA_KERNEL_ABI_H_ */

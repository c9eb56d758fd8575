/* The C ABI between the runtime and the kernels `gemma4c compile` emits (OUTDIR/kernels_cpu.so).
 *
 * One emitted function per fused region, named by the plan step's `kernel` field:
 *     void g4k_<name>(const g4k_call* call);
 * It is specialized for its shapes and constants; it reads and writes activations through
 * `call->tensors` and weights through `call->weights`, both indexed by the plan's tensor and
 * weight ids (which the emitted code knows as constants). Matrix products on GGUF dtypes go
 * through `call->api`, implemented by the runtime with kernels/cpu, so the shared object links
 * against nothing; regions holding attention, experts or the router have no emitted kernel and
 * the runtime runs them itself.
 *
 * Activations are row-major [n_tokens][width] float32 (i32 for token ids, positions and expert
 * indices, stored in the same 4-byte slots). The library exports
 *     uint32_t g4k_abi_version(void);   // must equal G4K_ABI_VERSION
 */
#ifndef GEMMA4C_RUNTIME_EXEC_KERNEL_ABI_H_
#define GEMMA4C_RUNTIME_EXEC_KERNEL_ABI_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define G4K_ABI_VERSION 2u  /* 2: parallel_rows */

typedef struct g4k_tensor {
  float* data;    /* [n_tokens][width], 4-byte elements */
  int64_t width;
} g4k_tensor;

typedef struct g4k_weight {
  const void* data;    /* in the mapped GGUF, in its own dtype */
  uint32_t ggml_type;  /* ggml type id, any of the 16 in runtime/gguf/ggml_types.h (0 f32, 8 q8_0, ...) */
  int32_t n_dims;
  int64_t ne[4];
  const float* f32;    /* the tensor as float32 for 1-D weights (norms, scales); else null */
} g4k_weight;

typedef struct g4k_api {
  uint32_t abi_version;
  /* y[t][o] = sum_i W[o][i] x[t][i] for t < tokens; y rounded to bf16 when round_bf16. */
  void (*linear)(void* rt, const g4k_weight* w, const float* x, int64_t tokens, float* y,
                 int round_bf16);
  /* Calls fn(ctx, begin, end) on disjoint ranges covering [0, n) (a region's token rows, which
   * are independent of each other), on the runtime's threads, and returns when all are done.
   * May be null: the kernel then walks [0, n) itself. */
  void (*parallel_rows)(void* rt, int64_t n, void (*fn)(void* ctx, int64_t begin, int64_t end),
                        void* ctx);
} g4k_api;

typedef struct g4k_call {
  const g4k_api* api;
  void* rt;                 /* opaque runtime context, passed back to the api */
  int64_t n_tokens;
  const int32_t* positions; /* [n_tokens] */
  g4k_tensor* tensors;      /* by plan tensor id */
  const g4k_weight* weights;/* by plan weight id */
} g4k_call;

typedef void (*g4k_fn)(const g4k_call* call);

#ifdef __cplusplus
}
#endif

#endif /* GEMMA4C_RUNTIME_EXEC_KERNEL_ABI_H_ */

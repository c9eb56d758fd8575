/* libg4rt: the C API of the gemma4c runtime.
 *
 * Every call returns a status: NULL on success, otherwise an object with a code and a message
 * (naming the file, tensor or argument at fault) that the caller frees with g4rt_status_free.
 * No exception crosses this API.
 *
 *   g4rt_session* s;
 *   g4rt_status* st = g4rt_open("OUTDIR", "model.gguf", NULL, &s);
 *   st = g4rt_eval(s, tokens, n);              // next positions; logits of each token
 *   st = g4rt_logits(s, &logits, &rows, &vocab);
 *   g4rt_reset(s);  g4rt_close(s);
 */
#ifndef GEMMA4C_RUNTIME_EXEC_G4RT_H_
#define GEMMA4C_RUNTIME_EXEC_G4RT_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct g4rt_status g4rt_status;
typedef struct g4rt_session g4rt_session;

/* absl::StatusCode values (3 invalid argument, 5 not found, 9 failed precondition, ...). */
int g4rt_status_code(const g4rt_status* status);
const char* g4rt_status_message(const g4rt_status* status);
void g4rt_status_free(g4rt_status* status);

typedef struct g4rt_options {
  int threads;                /* worker threads including the caller; <= 1: single-threaded */
  int exact_quantized_matmul; /* 1: fp32 activations against quantized weights (slower) */
  int force_builtin;          /* 1: ignore emitted kernels, run every step builtin */
  int keep_intermediates;     /* 1: allow g4rt_dump after each eval */
  int device;                 /* 0: CPU; 1: CUDA (error "built without CUDA" when absent) */
  int portable_kernels;       /* 1: the portable build of emitted CPU kernels even with AVX2 */
} g4rt_options;

/* Opens OUTDIR (a compiled plan) with a GGUF file; every weight is checked first. */
g4rt_status* g4rt_open(const char* plan_dir, const char* gguf_path, const g4rt_options* options,
                       g4rt_session** session);
/* Evaluates n tokens at the next n positions. */
g4rt_status* g4rt_eval(g4rt_session* session, const int32_t* tokens, int64_t n);
/* Logits of the last eval: rows x vocab float32, owned by the session. */
g4rt_status* g4rt_logits(const g4rt_session* session, const float** logits, int64_t* rows,
                         int64_t* vocab);
/* Writes the named intermediates of the last eval to DIR (DIR/<name>.bin + DIR/index.json). */
g4rt_status* g4rt_dump(const g4rt_session* session, const char* dir);
g4rt_status* g4rt_reset(g4rt_session* session);
/* Continues evaluation at `position` (<= the current one): later positions are forgotten. */
g4rt_status* g4rt_rewind(g4rt_session* session, int64_t position);
/* The number of positions evaluated so far. */
int64_t g4rt_position(const g4rt_session* session);
/* Bytes of weights one decode token reads (for bandwidth figures). */
double g4rt_decode_weight_bytes(const g4rt_session* session);
void g4rt_close(g4rt_session* session);

#ifdef __cplusplus
}
#endif

#endif /* GEMMA4C_RUNTIME_EXEC_G4RT_H_ */

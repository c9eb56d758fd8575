/* libg4rt: the C API of the gemma4c runtime.
 *
 * Every call returns a status: NULL on success, otherwise an object with a code (below) and a
 * message (naming the file, tensor or argument at fault) that the caller frees with
 * g4rt_status_free. No exception crosses this API, and nothing in it aborts the process. The
 * session does not depend on the device: the same calls run on the CPU and on CUDA.
 *
 *   g4rt_options o;
 *   g4rt_options_init(&o);                     // defaults; then set what differs
 *   o.threads = 4;
 *   g4rt_session* s;
 *   g4rt_status* st = g4rt_open("OUTDIR", "model.gguf", &o, &s);
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

/* Status codes. The values are Abseil's absl::StatusCode (a C++ caller may compare either). */
typedef enum g4rt_status_code_t {
  G4RT_OK = 0,                  /* g4rt_status_code(NULL) */
  G4RT_CANCELLED = 1,
  G4RT_UNKNOWN = 2,
  G4RT_INVALID_ARGUMENT = 3,    /* a null argument, a token outside the vocabulary, a
                                   malformed plan or GGUF */
  G4RT_DEADLINE_EXCEEDED = 4,
  G4RT_NOT_FOUND = 5,           /* a missing file, tensor or kernel */
  G4RT_ALREADY_EXISTS = 6,
  G4RT_PERMISSION_DENIED = 7,
  G4RT_RESOURCE_EXHAUSTED = 8,  /* out of (device) memory; the bytes asked for are named */
  G4RT_FAILED_PRECONDITION = 9, /* a plan of another schema/ABI version, no GPU, a dump without
                                   keep_intermediates, a rewind past the sliding ring */
  G4RT_ABORTED = 10,
  G4RT_OUT_OF_RANGE = 11,       /* the context would exceed what the model or cache holds */
  G4RT_UNIMPLEMENTED = 12,
  G4RT_INTERNAL = 13,           /* a device error; a bug */
  G4RT_UNAVAILABLE = 14,
  G4RT_DATA_LOSS = 15           /* a truncated or corrupt plan or GGUF */
} g4rt_status_code_t;

/* The code of a status (G4RT_OK for NULL) and its message ("OK" for NULL). */
int g4rt_status_code(const g4rt_status* status);
const char* g4rt_status_message(const g4rt_status* status);
void g4rt_status_free(g4rt_status* status);

typedef enum g4rt_device_t { G4RT_DEVICE_CPU = 0, G4RT_DEVICE_CUDA = 1 } g4rt_device_t;

typedef struct g4rt_options {
  int threads;                /* worker threads including the caller; <= 1: single-threaded */
  int exact_quantized_matmul; /* 1: fp32 activations against quantized weights (slower) */
  int force_interpreted;      /* 1: ignore emitted kernels, the runtime interprets every step */
  int keep_intermediates;     /* 1: allow g4rt_dump after each eval */
  int device;                 /* g4rt_device_t (CUDA: error "built without CUDA" when absent) */
  int portable_kernels;       /* 1: the portable build of emitted CPU kernels even with AVX2 */
  int cuda_device;            /* CUDA device ordinal */
  int all_logits;             /* 1: g4rt_logits has every evaluated position's row; 0: the last
                                 position's only (the LM head then runs on one row) */
  int64_t max_context;        /* positions the KV cache must hold; 0: the model's context */
  int64_t memory_limit;       /* CPU: bytes the KV cache (at max_context) and activations may
                                 take, checked at open (G4RT_RESOURCE_EXHAUSTED, the bytes
                                 named); 0: the memory available (MemAvailable) */
  int gguf_layout;            /* CPU, 1: multiply Q8_0/Q4_0/Q4_K/Q6_K/BF16 weights in their GGUF
                                 layout; 0: repack them into 8-row panels (BF16: 4-row tiles) at
                                 open (faster; BF16 against bf16 activations then takes vdpbf16ps
                                 where the CPU has AVX512_BF16, another summation order) */
  int profile_steps;          /* CPU, 1: time every plan step (g4rt_step_times) */
} g4rt_options;

/* One top-level plan step's wall time over the evals since open or g4rt_reset_step_times. */
typedef struct g4rt_step_time {
  int64_t step;     /* index in the plan */
  const char* op;   /* the step's op kind: "Fused", "Linear", "Attention", ... */
  const char* name; /* the first output tensor's name ("ffn_out_3", "result_output") */
  int32_t layer;    /* the step's layer; -1: none */
  int64_t calls;
  double seconds;
} g4rt_step_time;

/* Fills `options` with the defaults: one thread, CPU, emitted kernels, 8-bit activations. */
void g4rt_options_init(g4rt_options* options);

/* Opens OUTDIR (a compiled plan) with a GGUF file; every weight is checked first. NULL
 * options: the defaults of g4rt_options_init. */
g4rt_status* g4rt_open(const char* plan_dir, const char* gguf_path, const g4rt_options* options,
                       g4rt_session** session);
/* Evaluates n tokens at the next n positions (any n: batches longer than the plan's
 * --max-batch are evaluated in chunks, with the same logits as one batch). */
g4rt_status* g4rt_eval(g4rt_session* session, const int32_t* tokens, int64_t n);
/* Logits of the last eval: rows x vocab float32, owned by the session; rows is n with
 * all_logits (or keep_intermediates), else 1 (the last position). */
g4rt_status* g4rt_logits(const g4rt_session* session, const float** logits, int64_t* rows,
                         int64_t* vocab);
/* Writes the named intermediates of the last eval to DIR (DIR/<name>.bin + DIR/index.json). */
g4rt_status* g4rt_dump(const g4rt_session* session, const char* dir);
/* Forgets every position (the next eval starts at 0). */
g4rt_status* g4rt_reset(g4rt_session* session);
/* Continues evaluation at `position` (<= the current one): later positions are forgotten.
 * G4RT_FAILED_PRECONDITION when a sliding layer's ring no longer holds what that needs. */
g4rt_status* g4rt_rewind(g4rt_session* session, int64_t position);
/* The number of positions evaluated so far. */
int64_t g4rt_position(const g4rt_session* session);
/* Bytes of weights one decode token reads (for bandwidth figures). */
double g4rt_decode_weight_bytes(const g4rt_session* session);
/* Every step's time, in plan order (*n of them), owned by the session until the next call.
 * G4RT_FAILED_PRECONDITION when opened without profile_steps or on a device that does not time
 * its steps (CUDA). */
g4rt_status* g4rt_step_times(g4rt_session* session, const g4rt_step_time** steps, int64_t* n);
/* Zeroes the step times (e.g. between a prefill and the decode after it). */
g4rt_status* g4rt_reset_step_times(g4rt_session* session);
void g4rt_close(g4rt_session* session);

#ifdef __cplusplus
}
#endif

#endif /* GEMMA4C_RUNTIME_EXEC_G4RT_H_ */

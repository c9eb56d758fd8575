/* The C API used from C (the header must be plain C): open a compiled tiny model, evaluate a
 * prompt, then the same prompt token by token after a reset, and compare the logits; then the
 * error paths (a bad token, a missing plan).
 * Usage: g4rt_c_test OUTDIR MODEL.gguf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/g4rt.h"

static int fail(const char* what, g4rt_status* st) {
  fprintf(stderr, "FAIL %s: %s\n", what, g4rt_status_message(st));
  g4rt_status_free(st);
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  g4rt_options options;
  memset(&options, 0, sizeof options);
  options.threads = 1;
  g4rt_session* s = NULL;
  g4rt_status* st = g4rt_open(argv[1], argv[2], &options, &s);
  if (st) return fail("open", st);

  const int32_t prompt[4] = {2, 17, 42, 99};
  if ((st = g4rt_eval(s, prompt, 4))) return fail("eval", st);
  const float* logits;
  int64_t rows, vocab;
  if ((st = g4rt_logits(s, &logits, &rows, &vocab))) return fail("logits", st);
  if (rows != 4 || vocab <= 0) { fprintf(stderr, "FAIL shape %lld x %lld\n", (long long)rows, (long long)vocab); return 1; }
  float* batch = malloc(sizeof(float) * rows * vocab);
  memcpy(batch, logits, sizeof(float) * rows * vocab);

  /* The same prompt one token at a time must give the same rows. */
  if ((st = g4rt_reset(s))) return fail("reset", st);
  for (int i = 0; i < 4; ++i) {
    if ((st = g4rt_eval(s, &prompt[i], 1))) return fail("decode", st);
    if ((st = g4rt_logits(s, &logits, &rows, &vocab))) return fail("logits", st);
    if (memcmp(logits, batch + i * vocab, sizeof(float) * vocab) != 0) {
      fprintf(stderr, "FAIL row %d differs between batch and token-by-token evaluation\n", i);
      return 1;
    }
  }

  /* Errors come back as statuses with a message, never as a crash. */
  const int32_t bad = (int32_t)vocab;
  st = g4rt_eval(s, &bad, 1);
  if (!st || !strstr(g4rt_status_message(st), "outside the vocabulary")) {
    fprintf(stderr, "FAIL out-of-vocabulary token accepted\n");
    return 1;
  }
  g4rt_status_free(st);
  g4rt_session* none = NULL;
  st = g4rt_open("/nonexistent/plan/dir", argv[2], &options, &none);
  if (!st || g4rt_status_code(st) == 0) { fprintf(stderr, "FAIL missing plan accepted\n"); return 1; }
  g4rt_status_free(st);

  free(batch);
  g4rt_close(s);
  printf("c api: batch == token by token over 4 positions, errors reported\n");
  return 0;
}

/* The C API used from C (the header must be plain C): open a compiled tiny model, evaluate a
 * prompt, then the same prompt token by token after a reset, and compare the logits; rewind and
 * evaluate the tail again; the step times of a profiled session; then the error paths with their documented codes (a bad token, a
 * missing plan, an unknown device, a dump without keep_intermediates, a null argument).
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
  options.all_logits = 1; /* every row: the batch is compared row by row below */
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

  /* Rewind to position 2: the last two tokens again give the batch's rows 2 and 3. */
  if (g4rt_position(s) != 4) { fprintf(stderr, "FAIL position %lld\n", (long long)g4rt_position(s)); return 1; }
  if ((st = g4rt_rewind(s, 2))) return fail("rewind", st);
  if ((st = g4rt_eval(s, &prompt[2], 2))) return fail("eval after rewind", st);
  if ((st = g4rt_logits(s, &logits, &rows, &vocab))) return fail("logits", st);
  if (rows != 2 || memcmp(logits, batch + 2 * vocab, sizeof(float) * 2 * vocab) != 0) {
    fprintf(stderr, "FAIL rows after rewind differ from the batch's\n");
    return 1;
  }

  /* Errors come back as statuses with a message and a documented code, never as a crash. */
  const int32_t bad = (int32_t)vocab;
  st = g4rt_eval(s, &bad, 1);
  if (!st || !strstr(g4rt_status_message(st), "outside the vocabulary") ||
      g4rt_status_code(st) != G4RT_INVALID_ARGUMENT) {
    fprintf(stderr, "FAIL out-of-vocabulary token accepted\n");
    return 1;
  }
  g4rt_status_free(st);
  g4rt_session* none = NULL;
  st = g4rt_open("/nonexistent/plan/dir", argv[2], &options, &none);
  if (!st || g4rt_status_code(st) != G4RT_NOT_FOUND) { fprintf(stderr, "FAIL missing plan accepted\n"); return 1; }
  g4rt_status_free(st);
  st = g4rt_dump(s, "/tmp/never-written");
  if (!st || g4rt_status_code(st) != G4RT_FAILED_PRECONDITION) {
    fprintf(stderr, "FAIL dump without keep_intermediates accepted\n");
    return 1;
  }
  g4rt_status_free(st);
  st = g4rt_rewind(s, 99);
  if (!st || g4rt_status_code(st) != G4RT_INVALID_ARGUMENT) { fprintf(stderr, "FAIL rewind past the end accepted\n"); return 1; }
  g4rt_status_free(st);
  st = g4rt_logits(s, NULL, &rows, &vocab);
  if (!st || g4rt_status_code(st) != G4RT_INVALID_ARGUMENT) { fprintf(stderr, "FAIL null argument accepted\n"); return 1; }
  g4rt_status_free(st);
  if (g4rt_status_code(NULL) != G4RT_OK || strcmp(g4rt_status_message(NULL), "OK") != 0) {
    fprintf(stderr, "FAIL the NULL status is not OK\n");
    return 1;
  }

  /* g4rt_options_init: the defaults open the model; an unknown device is refused. */
  g4rt_options defaults;
  g4rt_options_init(&defaults);
  if (defaults.threads != 1 || defaults.device != G4RT_DEVICE_CPU) { fprintf(stderr, "FAIL defaults\n"); return 1; }
  g4rt_session* d = NULL;
  if ((st = g4rt_open(argv[1], argv[2], &defaults, &d))) return fail("open with defaults", st);
  /* Without all_logits only the last position's row comes back (the LM head ran on that row
   * alone), bit for bit the batch's last row. */
  if ((st = g4rt_eval(d, prompt, 4))) return fail("eval (last row)", st);
  if ((st = g4rt_logits(d, &logits, &rows, &vocab))) return fail("logits (last row)", st);
  if (rows != 1 || memcmp(logits, batch + 3 * vocab, sizeof(float) * vocab) != 0) {
    fprintf(stderr, "FAIL the last-row logits (%lld rows) differ from the batch's last row\n", (long long)rows);
    return 1;
  }
  g4rt_close(d);

  /* Step times: refused without profile_steps; with it, every step of the plan counted once per
   * eval, names and ops filled in, zero after a reset; timing changes no logit. */
  const g4rt_step_time* times = NULL;
  int64_t n_steps = 0;
  st = g4rt_step_times(s, &times, &n_steps);
  if (!st || g4rt_status_code(st) != G4RT_FAILED_PRECONDITION) { fprintf(stderr, "FAIL step times without profile_steps\n"); return 1; }
  g4rt_status_free(st);
  g4rt_options profiled = defaults;
  profiled.device = G4RT_DEVICE_CPU;
  profiled.profile_steps = 1;
  g4rt_session* p = NULL;
  if ((st = g4rt_open(argv[1], argv[2], &profiled, &p))) return fail("open with profile_steps", st);
  if ((st = g4rt_eval(p, prompt, 3))) return fail("eval (profiled)", st);
  if ((st = g4rt_eval(p, &prompt[3], 1))) return fail("decode (profiled)", st);
  if ((st = g4rt_logits(p, &logits, &rows, &vocab))) return fail("logits (profiled)", st);
  if (rows != 1 || memcmp(logits, batch + 3 * vocab, sizeof(float) * vocab) != 0) {
    fprintf(stderr, "FAIL profiling changed the logits\n");
    return 1;
  }
  if ((st = g4rt_step_times(p, &times, &n_steps))) return fail("step times", st);
  if (n_steps <= 0) { fprintf(stderr, "FAIL no step times\n"); return 1; }
  for (int64_t i = 0; i < n_steps; ++i) {
    if (times[i].step != i || times[i].calls != 2 || !(times[i].seconds >= 0) || !times[i].op ||
        !times[i].name || !*times[i].op) {
      fprintf(stderr, "FAIL step %lld: step %lld, %lld calls, %g s\n", (long long)i,
              (long long)times[i].step, (long long)times[i].calls, times[i].seconds);
      return 1;
    }
  }
  if ((st = g4rt_reset_step_times(p))) return fail("reset step times", st);
  if ((st = g4rt_step_times(p, &times, &n_steps))) return fail("step times after reset", st);
  for (int64_t i = 0; i < n_steps; ++i) {
    if (times[i].calls != 0 || times[i].seconds != 0) { fprintf(stderr, "FAIL step times not reset\n"); return 1; }
  }
  g4rt_close(p);

  defaults.device = 7;
  st = g4rt_open(argv[1], argv[2], &defaults, &d);
  if (!st || g4rt_status_code(st) != G4RT_INVALID_ARGUMENT) { fprintf(stderr, "FAIL unknown device accepted\n"); return 1; }
  g4rt_status_free(st);

  free(batch);
  g4rt_close(s);
  printf("c api: batch == token by token over 4 positions == rewound tail == last row alone == profiled, every step timed once per eval, errors reported with their codes\n");
  return 0;
}

// g4run's text mode: prompt in, streamed text out, through the tokenizer, the Gemma 4 chat
// template and the sampler (runtime/text), on a session of the C API.
#ifndef GEMMA4C_RUNTIME_EXEC_G4RUN_TEXT_H_
#define GEMMA4C_RUNTIME_EXEC_G4RUN_TEXT_H_

#include <cstdio>
#include <string>

#include "exec/g4rt.h"
#include "text/sampler.h"

namespace g4::run {

struct TextOptions {
  std::string model_path;     // the GGUF (the tokenizer reads its vocabulary from it)
  std::string prompt;         // one user turn (non-interactive)
  std::string system;         // optional system turn
  bool chat = false;          // interactive: user turns from `in`, one per line
  bool think = false;         // thinking on (<|think|> in the system turn)
  bool raw = false;           // the prompt is sent as is, without the chat template
  int max_new_tokens = 256;
  bool verbose = false;       // print the ids of each turn's new prompt tokens and of the answer

  text::SamplerConfig sampling;
};

// Returns the process exit code; streams text to `out`, stats and errors to `err`.
int RunText(g4rt_session* session, const TextOptions& options, FILE* in, FILE* out, FILE* err);

}  // namespace g4::run

#endif  // GEMMA4C_RUNTIME_EXEC_G4RUN_TEXT_H_

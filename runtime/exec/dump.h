// Dumps of a session's activations for per-stage comparison (docs/runtime.md "Dumps"):
// DIR/<name>.bin (float32 [n_tokens][width]) for every f32 plan tensor, DIR/index.json
// (name -> shape) and DIR/tokens.json (the evaluated token ids).
#ifndef GEMMA4C_RUNTIME_EXEC_DUMP_H_
#define GEMMA4C_RUNTIME_EXEC_DUMP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "exec/backend.h"

namespace g4::exec {

// Writes the tensors of `backend`'s last Run of `tokens` into `dir` (created if needed).
absl::Status WriteDump(const std::string& dir, const plan::Plan& plan, const Backend& backend,
                       const std::vector<int32_t>& tokens);

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_DUMP_H_

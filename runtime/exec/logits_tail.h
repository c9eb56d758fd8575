// Which steps compute only what the logits need, row by row (llama.cpp's `inp_out_ids`).
//
// After the last step that mixes positions (attention), every step computes each row from that
// row alone, and what those steps write feeds nothing but the logits. So a batch needs them only
// for the rows whose logits the caller wants: the last one for generation, every row when the
// caller asks (g4run --logits-out, g4rt_options.all_logits) or keeps intermediates for dumps.
// Running the tail on one row is what keeps prefill cost and memory from growing with
// vocab x prompt length (the LM head of Gemma 4 is 262144 rows wide).
#ifndef GEMMA4C_RUNTIME_EXEC_LOGITS_TAIL_H_
#define GEMMA4C_RUNTIME_EXEC_LOGITS_TAIL_H_

#include <cstdint>
#include <vector>

#include "plan/plan_generated.h"

namespace g4::exec {

// The index of the first top-level step of the tail: one past the last step that is (or
// holds) an attention. steps()->size() when the plan has no such tail.
uint32_t LogitsTailStart(const plan::Plan& plan);

// Whether each plan tensor is written by a step of the tail (inside fused bodies too): those
// tensors only ever hold the selected rows.
std::vector<bool> TailTensors(const plan::Plan& plan, uint32_t tail_start);

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_LOGITS_TAIL_H_

#include "exec/logits_tail.h"

namespace g4::exec {
namespace {

bool MixesRows(const plan::Step& step) {
  if (step.op() == plan::OpKind::Attention) return true;
  if (step.body())
    for (const plan::Step* inner : *step.body())
      if (MixesRows(*inner)) return true;
  return false;
}

void MarkOutputs(const plan::Step& step, std::vector<bool>* tail) {
  if (step.outputs())
    for (uint32_t id : *step.outputs())
      if (id < tail->size()) (*tail)[id] = true;
  if (step.body())
    for (const plan::Step* inner : *step.body()) MarkOutputs(*inner, tail);
}

}  // namespace

uint32_t LogitsTailStart(const plan::Plan& plan) {
  const uint32_t n = plan.steps() ? plan.steps()->size() : 0;
  for (uint32_t i = n; i > 0; --i)
    if (MixesRows(*plan.steps()->Get(i - 1))) return i;
  return n;  // nothing mixes rows: no tail (a plan without attention is not a decoder)
}

std::vector<bool> TailTensors(const plan::Plan& plan, uint32_t tail_start) {
  std::vector<bool> tail(plan.tensors() ? plan.tensors()->size() : 0, false);
  const uint32_t n = plan.steps() ? plan.steps()->size() : 0;
  for (uint32_t i = tail_start; i < n; ++i) MarkOutputs(*plan.steps()->Get(i), &tail);
  return tail;
}

}  // namespace g4::exec

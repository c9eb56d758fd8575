// Versions of the plan format, shared by the compiler (writer) and the runtime (reader).
#ifndef GEMMA4C_RUNTIME_PLAN_PLAN_VERSION_H_
#define GEMMA4C_RUNTIME_PLAN_PLAN_VERSION_H_

#include <cstdint>

namespace g4::plan {

// Bumped on an incompatible change of plan.fbs (2: typed steps, OpKind and OpAttrs).
inline constexpr uint32_t kPlanSchemaVersion = 2;
// Bumped when the runtime's interpretation of steps and kernels changes.
inline constexpr uint32_t kRuntimeAbiVersion = 1;

}  // namespace g4::plan

#endif  // GEMMA4C_RUNTIME_PLAN_PLAN_VERSION_H_

// What a CPU session would allocate, checked against the memory this machine has before
// anything is allocated (docs/reliability.md, "Resource limits").
//
// The KV cache is counted at its largest: full-attention layers at `context` positions, sliding
// layers at their ring of min(window + max_batch, context) positions, K and V, in the storage
// type of the plan's policy (bf16 under `reference`, f32 otherwise). Activations are counted at
// the plan's max batch: one [max_batch][width] f32 buffer per memory-planning slot (per tensor
// with `own_buffers`, i.e. when intermediates are kept for dumps). Any count that overflows 64
// bits is refused like one that does not fit.
#ifndef GEMMA4C_RUNTIME_EXEC_MEMORY_BUDGET_H_
#define GEMMA4C_RUNTIME_EXEC_MEMORY_BUDGET_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "plan/plan_generated.h"

namespace g4::exec {

struct MemoryNeed {
  uint64_t kv_cache_bytes = 0;
  uint64_t activation_bytes = 0;
  int64_t context = 0;    // positions the KV cache was counted for
  int64_t max_batch = 0;  // tokens the activations were counted for
  uint64_t total() const { return kv_cache_bytes + activation_bytes; }  // both < 2^62
};

// ResourceExhausted (naming the part that overflows) when a count does not fit in 2^62 bytes.
absl::StatusOr<MemoryNeed> CpuMemoryNeeded(const plan::Plan& plan, int64_t context, bool own_buffers);

// The memory a session may take when the caller sets no limit: MemAvailable of /proc/meminfo
// (what the kernel says can be allocated without swapping), or, where that file is missing,
// physical pages x page size (sysconf). 0 when neither is known (then nothing is refused).
uint64_t AvailableMemoryBytes();

// OK when need.total() <= budget (or budget is 0, unknown). Otherwise ResourceExhausted:
// "<what>: the CPU session needs N bytes (KV cache K bytes for C positions + activations A bytes
// for a batch of B tokens), more than the <budget_source> of M bytes; ..."
absl::Status CheckMemoryBudget(const MemoryNeed& need, uint64_t budget, const std::string& what,
                               const std::string& budget_source = "memory limit");

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_MEMORY_BUDGET_H_

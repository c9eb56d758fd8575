#include "exec/memory_budget.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "exec/activation_buffers.h"
#include "exec/kv_cache.h"
#include "exec/logits_tail.h"

namespace g4::exec {
namespace {

constexpr uint64_t kMaxCount = uint64_t{1} << 62;  // sums of a few such counts stay in 64 bits

// a * b * c, or nullopt past kMaxCount (or on a negative factor).
bool Product(int64_t a, int64_t b, int64_t c, uint64_t* out) {
  if (a < 0 || b < 0 || c < 0) return false;
  uint64_t p;
  if (__builtin_mul_overflow(uint64_t(a), uint64_t(b), &p) || __builtin_mul_overflow(p, uint64_t(c), &p))
    return false;
  *out = p;
  return p <= kMaxCount;
}

bool Add(uint64_t* total, uint64_t x) {
  *total += x;  // both <= kMaxCount: no wrap
  return *total <= kMaxCount;
}

std::string Gib(uint64_t bytes) { return absl::StrFormat("%.2f GiB", double(bytes) / double(1ull << 30)); }

}  // namespace

absl::StatusOr<MemoryNeed> CpuMemoryNeeded(const plan::Plan& plan, int64_t context, bool own_buffers) {
  MemoryNeed need;
  need.context = context;
  need.max_batch = plan.max_batch_tokens();
  const int64_t elem = plan.precision() == plan::Precision::Reference ? 2 : 4;
  for (const plan::KvLayer* l : *plan.kv_cache()) {
    if (!l->owns_kv()) continue;
    const int64_t positions = KvPositions(l->window(), context, need.max_batch);
    uint64_t bytes;
    if (!Product(positions, int64_t(l->kv_heads()) * l->head_dim(), 2 * elem, &bytes) ||
        !Add(&need.kv_cache_bytes, bytes))
      return absl::ResourceExhaustedError(absl::StrCat(
          "the KV cache of layer ", l->layer(), " (", positions, " positions x ", l->kv_heads(), " KV heads x ",
          l->head_dim(), " dims) does not fit in 64-bit byte counts"));
  }
  // The buffers the CPU backend will allocate (the same assignment: activation_buffers.h),
  // counted for the max batch in every buffer: the bound for a caller that wants every row's
  // logits (the logits tail's buffers then hold every row too).
  const std::optional<int64_t> floats =
      ActivationBuffers(plan, own_buffers, TailTensors(plan, LogitsTailStart(plan))).FloatsPerRow();
  if (!floats) return absl::ResourceExhaustedError("the activation widths of the plan overflow 64 bits");
  const int64_t width = *floats;
  if (!Product(width, need.max_batch, 4, &need.activation_bytes))
    return absl::ResourceExhaustedError(absl::StrCat("activations of ", width, " floats per token for a batch of ",
                                                     need.max_batch, " tokens do not fit in 64-bit byte counts"));
  return need;
}

uint64_t AvailableMemoryBytes() {
  if (std::FILE* f = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    unsigned long long kib = 0;
    bool found = false;
    while (!found && std::fgets(line, sizeof(line), f))
      found = std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1;
    std::fclose(f);
    if (found) return uint64_t(kib) * 1024;
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
}

absl::Status CheckMemoryBudget(const MemoryNeed& need, uint64_t budget, const std::string& what,
                               const std::string& budget_source) {
  if (budget == 0 || need.total() <= budget) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      what, ": the CPU session needs ", need.total(), " bytes (", Gib(need.total()), ": KV cache ",
      need.kv_cache_bytes, " bytes for ", need.context, " positions + activations ", need.activation_bytes,
      " bytes for a batch of ", need.max_batch, " tokens), more than the ", budget_source, " of ", budget,
      " bytes (", Gib(budget), "); lower the context (max_context, g4run --max-context) or the batch "
      "(gemma4c compile --max-batch), or raise memory_limit"));
}

}  // namespace g4::exec

#include "exec/table_readahead.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "exec/weights.h"

namespace g4::exec {
namespace {

// The tables Embed steps read (fused bodies included), each distinct table once.
std::vector<const g4k_weight*> EmbeddingTables(const plan::Plan& plan, const std::vector<g4k_weight>& weights) {
  std::vector<const g4k_weight*> tables;
  absl::flat_hash_set<const void*> seen;
  auto visit = [&](const plan::Step& step) {
    if (step.op() != plan::OpKind::Embed || !step.weights()) return;
    for (uint32_t id : *step.weights()) {
      if (id < weights.size() && weights[id].data && seen.insert(weights[id].data).second) {
        tables.push_back(&weights[id]);
      }
    }
  };
  ForEachStepAndBody(plan, visit);
  return tables;
}

// Linux reads at most max(read-ahead window, device I/O size) pages per MADV_WILLNEED call
// (force_page_cache_ra) and ignores the rest of the range: 128 KiB to 8 MiB on the kernels seen
// (on this VM one call over a 1 GB range read 8 MiB). So the range goes in steps of 128 KiB, the
// default window. Each call only queues the reads (E2B Q4_0's 1.3 GB from a cold file: 0.3 s of
// calls, the reads done ~2 s later; 35 ms when the pages are already cached).
constexpr uintptr_t kAdviseStep = uintptr_t{128} << 10;

// The whole pages covering [p, p + bytes): madvise takes a page-aligned start.
void AdviseWillNeed(const void* p, uint64_t bytes) {
  static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + bytes;
  for (uintptr_t b = reinterpret_cast<uintptr_t>(p) / page * page; b < end; b += kAdviseStep) {
    madvise(reinterpret_cast<void*>(b), std::min(kAdviseStep, end - b), MADV_WILLNEED);
  }
}

}  // namespace

uint64_t AdviseEmbeddingTables(const plan::Plan& plan, const std::vector<g4k_weight>& weights,
                               uint64_t available_bytes) {
  const std::vector<const g4k_weight*> tables = EmbeddingTables(plan, weights);
  uint64_t total = 0;
  for (const g4k_weight* w : tables) total += WeightBytes(*w);
  if (available_bytes == 0 || total == 0 || total > available_bytes) return 0;
  for (const g4k_weight* w : tables) AdviseWillNeed(w->data, WeightBytes(*w));
  return total;
}

}  // namespace g4::exec

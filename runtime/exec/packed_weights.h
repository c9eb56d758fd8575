// The plan's Q8_0 / Q4_0 / Q4_K / Q6_K / BF16 matrices repacked once for the CPU's packed
// kernels (kernels/cpu/packed_matmul.h), and found again by the bytes a linear step passes.
//
// Which: every matrix a Linear or ExpertFfn step multiplies (in fused bodies too), of a packable
// dtype; an expert tensor [in, out, E] is E matrices. Embedding tables read by row stay as they
// are. The mapped GGUF stays the source of truth: the packed copy holds the same bytes in
// another order (the same size, panels padded to 8 rows), and the mapping's pages of a packed
// matrix are given back to the kernel once it is packed (madvise DONTNEED; a later read, such
// as the tied embedding's rows, faults them in again from the page cache), so the resident
// weights do not double. Sessions of one process on the same file share one packed copy (the
// server's slots). docs/runtime.md, "Packed weights".
#ifndef GEMMA4C_RUNTIME_EXEC_PACKED_WEIGHTS_H_
#define GEMMA4C_RUNTIME_EXEC_PACKED_WEIGHTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "cpu/huge_pages.h"
#include "cpu/packed_matmul.h"
#include "cpu/thread_pool.h"
#include "exec/kernel_abi.h"
#include "plan/plan_generated.h"

namespace g4::exec {

class PackedWeights {
 public:
  // The packed matrices of `plan`'s weights bound in `views` (from `gguf_path`), made now or
  // shared with another session of this process on the same file. ResourceExhausted when a
  // buffer cannot be allocated (naming the weight).
  static absl::StatusOr<std::unique_ptr<PackedWeights>> Make(const plan::Plan& plan,
                                                             const std::vector<g4k_weight>& views,
                                                             const std::string& gguf_path,
                                                             cpu::ThreadPool* pool);

  // The packed matrix of the `in` x `out` matrix whose GGUF bytes start at `data` (a weight's
  // view, or one expert of it), or nullptr.
  const cpu::PackedMatrix* Find(const void* data, int64_t in, int64_t out) const;
  // The resident copy of the matrix (a weight's view, or one expert of it) whose GGUF bytes
  // start at `data`, when it is of a dtype without a packed layout; else `data` itself.
  const void* Resident(const void* data) const;
  // The bytes of every copy, packed and verbatim (each rounded to 64).
  uint64_t bytes() const;

  struct Set;  // the shared part: packed matrices by weight name (packed_weights.cc)

 private:
  std::shared_ptr<const Set> set_;
  absl::flat_hash_map<const void*, const cpu::PackedMatrix*> by_data_;
  absl::flat_hash_map<const void*, const uint8_t*> copy_of_;
};

}  // namespace g4::exec

#endif  // GEMMA4C_RUNTIME_EXEC_PACKED_WEIGHTS_H_

#include "exec/packed_weights.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "exec/memory_budget.h"
#include "exec/weights.h"
#include "gguf/ggml_types.h"

namespace g4::exec {

// The weights' copies, by plan weight name, one per expert (one for a 2-D weight): packed
// matrices (Q8_0, Q4_0, Q4_K, Q6_K, BF16), or the GGUF bytes verbatim (every other dtype). All
// live in one arena of huge pages, so that the small matrices share them too.
struct PackedWeights::Set {
  cpu::HugePageBuffer arena;
  absl::flat_hash_map<std::string, std::vector<cpu::PackedMatrix>> by_name;
  absl::flat_hash_map<std::string, std::vector<const uint8_t*>> copies;
  uint64_t bytes = 0;
};

namespace {

// The ids of the weights some Linear or ExpertFfn step multiplies, fused bodies included.
absl::flat_hash_set<uint32_t> MatrixWeightIds(const plan::Plan& plan) {
  absl::flat_hash_set<uint32_t> ids;
  auto visit = [&](const plan::Step& step) {
    if (!step.weights()) return;
    if (step.op() == plan::OpKind::Linear || step.op() == plan::OpKind::ExpertFfn) {
      for (uint32_t id : *step.weights()) ids.insert(id);
    }
  };
  ForEachStepAndBody(plan, visit);
  return ids;
}

// Whether weight `w` is copied at all: a matrix or an expert tensor (the binding check has
// accepted its shape; ExpertFfn's matrices are [in, out, E]).
bool Copied(const g4k_weight& w) { return w.n_dims >= 2 && w.n_dims <= 3; }

// Whether weight `w` is packed (else copied verbatim): a packable dtype and a shape its layout
// takes (whole blocks per row; BF16: whole 8-element runs).
bool Packable(const g4k_weight& w) {
  return Copied(w) &&
         cpu::PackedMatrix::BytesFor(gguf::GgmlType(w.ggml_type), w.ne[0], w.ne[1]).ok();
}

// Whether weight `w`'s copy only moves or reorders bytes the GGUF-layout kernels read to the
// same bits (a verbatim copy, BF16's row tiles), so that it can be left out.
bool Optional(const g4k_weight& w) {
  return !Packable(w) || gguf::GgmlType(w.ggml_type) == gguf::GgmlType::kBF16;
}

int64_t Matrices(const g4k_weight& w) { return w.n_dims == 3 ? w.ne[2] : 1; }

uint64_t MatrixBytes(const g4k_weight& w) {
  return *gguf::RowBytes(gguf::GgmlType(w.ggml_type), w.ne[0]) * uint64_t(w.ne[1]);
}

// The pages wholly inside [p, p + bytes) of the read-only private mapping, dropped from this
// process (clean file pages: a later read faults them in from the page cache). A hint: errors
// are ignored, the bytes never change.
void ReleaseMappedPages(const void* p, uint64_t bytes) {
  static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

// Sets shared by the sessions of this process, by file identity (device, inode, size, mtime):
// a rewritten file is a new key. Entries die with their last session.
std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}
absl::flat_hash_map<std::string, std::weak_ptr<const PackedWeights::Set>>& Registry() {
  static auto* registry = new absl::flat_hash_map<std::string, std::weak_ptr<const PackedWeights::Set>>();
  return *registry;
}

std::string FileKey(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "";  // not shared (still packed)
  return absl::StrCat(st.st_dev, ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec);
}

// The bytes of one matrix's copy: its packed layout or its GGUF bytes, rounded to 64 so every
// copy starts on a cache line.
uint64_t CopyBytes(const g4k_weight& w) {
  const uint64_t bytes = Packable(w) ? *cpu::PackedMatrix::BytesFor(gguf::GgmlType(w.ggml_type),
                                                                   w.ne[0], w.ne[1])
                                     : MatrixBytes(w);
  return (bytes + 63) / 64 * 64;
}

// One weight's matrices (each expert's) packed or copied into `arena` from `offset` on; the
// mapping's pages of each are given back once it is copied. Returns the bytes used.
absl::StatusOr<uint64_t> CopyWeight(const std::string& name, const g4k_weight& w, uint8_t* arena,
                                    uint64_t offset, cpu::ThreadPool* pool,
                                    PackedWeights::Set* set) {
  const uint64_t matrix_bytes = MatrixBytes(w), copy_bytes = CopyBytes(w);
  for (int64_t e = 0; e < Matrices(w); ++e) {
    const uint8_t* data = static_cast<const uint8_t*>(w.data) + uint64_t(e) * matrix_bytes;
    uint8_t* dst = arena + offset + uint64_t(e) * copy_bytes;
    if (Packable(w)) {
      absl::StatusOr<cpu::PackedMatrix> m =
          cpu::PackedMatrix::PackInto(gguf::GgmlType(w.ggml_type), data, w.ne[0], w.ne[1], dst, pool);
      if (!m.ok()) {
        return absl::Status(m.status().code(),
                            absl::StrCat("packing weight '", name, "': ", m.status().message()));
      }
      set->by_name[name].push_back(*std::move(m));
    } else {
      auto copy = [&](int64_t begin, int64_t end) {
        std::memcpy(dst + begin, data + begin, size_t(end - begin));
      };
      if (pool != nullptr) {
        pool->ParallelFor(int64_t(matrix_bytes), copy);
      } else {
        copy(0, int64_t(matrix_bytes));
      }
      set->copies[name].push_back(dst);
    }
    ReleaseMappedPages(data, matrix_bytes);
  }
  return copy_bytes * uint64_t(Matrices(w));
}

absl::StatusOr<std::shared_ptr<const PackedWeights::Set>> PackAll(
    const plan::Plan& plan, const absl::flat_hash_set<uint32_t>& ids,
    const std::vector<g4k_weight>& views, cpu::ThreadPool* pool) {
  auto set = std::make_shared<PackedWeights::Set>();
  // Each weight once (a tied weight may be bound under several ids), in id order so the arena's
  // layout does not depend on the hash set's.
  std::vector<uint32_t> sorted(ids.begin(), ids.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::pair<uint32_t, std::string>> todo;
  absl::flat_hash_set<std::string> seen;
  for (uint32_t id : sorted) {
    if (!Copied(views[id])) continue;
    std::string name = plan.weights()->Get(id)->name()->str();
    if (seen.insert(name).second) todo.emplace_back(id, std::move(name));
  }
  // Optional copies (verbatim, BF16) only change where or in what order the bytes live, never a
  // result, so they are left out when they would not fit in the memory available now:
  // anonymous memory cannot be evicted as the mapping's pages can, and a model larger than RAM
  // must still run from its mapping.
  uint64_t required = 0, optional = 0;
  for (const auto& [id, name] : todo) {
    const uint64_t bytes = CopyBytes(views[id]) * uint64_t(Matrices(views[id]));
    (Optional(views[id]) ? optional : required) += bytes;
  }
  const uint64_t available = AvailableMemoryBytes();  // 0: unknown
  if (available > 0 && required + optional > available) {
    todo.erase(std::remove_if(todo.begin(), todo.end(),
                              [&](const auto& t) { return Optional(views[t.first]); }),
               todo.end());
    optional = 0;
  }
  const uint64_t total = required + optional;
  if (total == 0) return std::shared_ptr<const PackedWeights::Set>(std::move(set));
  absl::StatusOr<cpu::HugePageBuffer> arena =
      cpu::HugePageBuffer::Allocate(total, "the weights' packed copy");
  if (!arena.ok()) return arena.status();
  set->arena = *std::move(arena);
  uint64_t offset = 0;
  for (const auto& [id, name] : todo) {
    absl::StatusOr<uint64_t> used = CopyWeight(name, views[id], set->arena.data(), offset, pool, set.get());
    if (!used.ok()) return used.status();
    offset += *used;
  }
  set->bytes = total;
  return std::shared_ptr<const PackedWeights::Set>(std::move(set));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PackedWeights>> PackedWeights::Make(
    const plan::Plan& plan, const std::vector<g4k_weight>& views, const std::string& gguf_path,
    cpu::ThreadPool* pool) {
  auto packed = std::unique_ptr<PackedWeights>(new PackedWeights());
  const absl::flat_hash_set<uint32_t> ids = MatrixWeightIds(plan);
  const std::string key = FileKey(gguf_path);
  {
    // Held while packing, so a second session on the same file waits and shares.
    std::lock_guard<std::mutex> lock(RegistryMutex());
    if (!key.empty()) {
      if (auto it = Registry().find(key); it != Registry().end()) packed->set_ = it->second.lock();
    }
    if (packed->set_ == nullptr) {
      auto set = PackAll(plan, ids, views, pool);
      if (!set.ok()) return set.status();
      packed->set_ = *std::move(set);
      if (!key.empty()) Registry()[key] = packed->set_;
    }
  }
  // This session's bytes of each matrix (its own mapping of the file) -> its copy.
  for (uint32_t id : ids) {
    const g4k_weight& w = views[id];
    const std::string name = plan.weights()->Get(id)->name()->str();
    auto data = [&](int64_t e) {
      return static_cast<const uint8_t*>(w.data) + uint64_t(e) * MatrixBytes(w);
    };
    if (auto it = packed->set_->by_name.find(name); it != packed->set_->by_name.end()) {
      for (int64_t e = 0; e < int64_t(it->second.size()); ++e) {
        packed->by_data_[data(e)] = &it->second[size_t(e)];
      }
    }
    if (auto it = packed->set_->copies.find(name); it != packed->set_->copies.end()) {
      for (int64_t e = 0; e < int64_t(it->second.size()); ++e) {
        packed->copy_of_[data(e)] = it->second[size_t(e)];
      }
    }
  }
  return packed;
}

const cpu::PackedMatrix* PackedWeights::Find(const void* data, int64_t in, int64_t out) const {
  auto it = by_data_.find(data);
  if (it == by_data_.end() || it->second->in() != in || it->second->out() != out) return nullptr;
  return it->second;
}

const void* PackedWeights::Resident(const void* data) const {
  auto it = copy_of_.find(data);
  return it == copy_of_.end() ? data : it->second;
}

uint64_t PackedWeights::bytes() const { return set_->bytes; }

}  // namespace g4::exec

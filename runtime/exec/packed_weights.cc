#include "exec/packed_weights.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gguf/ggml_types.h"

namespace g4::exec {

// Packed matrices by plan weight name: one per expert (one for a 2-D weight).
struct PackedWeights::Set {
  absl::flat_hash_map<std::string, std::vector<cpu::PackedMatrix>> by_name;
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
  for (const plan::Step* step : *plan.steps()) {
    visit(*step);
    if (step->body()) {
      for (const plan::Step* inner : *step->body()) visit(*inner);
    }
  }
  return ids;
}

// Whether weight `w` is packed: a packable dtype and whole 32-blocks per row (the binding check
// has accepted its shape; ExpertFfn's matrices are [in, out, E]).
bool Packable(const g4k_weight& w) {
  return w.n_dims >= 2 && w.n_dims <= 3 && cpu::PackedMatrix::Supports(gguf::GgmlType(w.ggml_type)) &&
         w.ne[0] % 32 == 0;
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

absl::StatusOr<std::shared_ptr<const PackedWeights::Set>> PackAll(
    const plan::Plan& plan, const absl::flat_hash_set<uint32_t>& ids,
    const std::vector<g4k_weight>& views, cpu::ThreadPool* pool) {
  auto set = std::make_shared<PackedWeights::Set>();
  for (uint32_t id : ids) {
    const g4k_weight& w = views[id];
    if (!Packable(w)) continue;
    const std::string name = plan.weights()->Get(id)->name()->str();
    if (set->by_name.contains(name)) continue;
    std::vector<cpu::PackedMatrix>& packed = set->by_name[name];
    const uint64_t matrix_bytes = MatrixBytes(w);
    for (int64_t e = 0; e < Matrices(w); ++e) {
      const uint8_t* data = static_cast<const uint8_t*>(w.data) + uint64_t(e) * matrix_bytes;
      absl::StatusOr<cpu::PackedMatrix> m =
          cpu::PackedMatrix::Pack(gguf::GgmlType(w.ggml_type), data, w.ne[0], w.ne[1], pool);
      if (!m.ok()) {
        return absl::Status(m.status().code(),
                            absl::StrCat("packing weight '", name, "': ", m.status().message()));
      }
      set->bytes += m->bytes();
      packed.push_back(*std::move(m));
      ReleaseMappedPages(data, matrix_bytes);
    }
  }
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
  // This session's bytes of each packed matrix (its own mapping of the file).
  for (uint32_t id : ids) {
    const g4k_weight& w = views[id];
    auto it = packed->set_->by_name.find(plan.weights()->Get(id)->name()->str());
    if (it == packed->set_->by_name.end()) continue;
    for (int64_t e = 0; e < int64_t(it->second.size()); ++e) {
      const uint8_t* data = static_cast<const uint8_t*>(w.data) + uint64_t(e) * MatrixBytes(w);
      packed->by_data_[data] = &it->second[size_t(e)];
    }
  }
  return packed;
}

const cpu::PackedMatrix* PackedWeights::Find(const void* data, int64_t in, int64_t out) const {
  auto it = by_data_.find(data);
  if (it == by_data_.end() || it->second->in() != in || it->second->out() != out) return nullptr;
  return it->second;
}

uint64_t PackedWeights::bytes() const { return set_->bytes; }

}  // namespace g4::exec

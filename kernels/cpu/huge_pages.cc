#include "cpu/huge_pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace g4::cpu {
namespace {

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

absl::StatusOr<HugePageBuffer> HugePageBuffer::Allocate(uint64_t bytes, const char* what) {
  if (bytes == 0) return absl::InvalidArgumentError(absl::StrCat(what, ": zero-byte buffer"));
  const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
  const uint64_t length = RoundUp(bytes, page);
  const bool huge = bytes >= kHugePageBytes;
  // mmap aligns to pages only: map one huge page more and cut the slack off both ends.
  const uint64_t reserve = huge ? length + kHugePageBytes : length;
  void* p = mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": cannot map ", bytes, " bytes of anonymous memory"));
  }
  uint8_t* base = static_cast<uint8_t*>(p);
  if (huge) {
    uint8_t* aligned = reinterpret_cast<uint8_t*>(
        RoundUp(reinterpret_cast<uintptr_t>(base), kHugePageBytes));
    if (aligned > base) munmap(base, uint64_t(aligned - base));
    const uint64_t tail = reserve - uint64_t(aligned - base) - length;
    if (tail > 0) munmap(aligned + length, tail);
    base = aligned;
    madvise(base, length, MADV_HUGEPAGE);  // a hint: EINVAL without THP support changes nothing
  }
  HugePageBuffer buffer;
  buffer.data_ = base;
  buffer.size_ = bytes;
  buffer.mapped_ = length;
  return buffer;
}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(data_, mapped_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

HugePageBuffer::~HugePageBuffer() {
  if (data_ != nullptr) munmap(data_, mapped_);
}

}  // namespace g4::cpu

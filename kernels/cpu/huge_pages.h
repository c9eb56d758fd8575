// Anonymous memory for bytes that are streamed over and over (the packed weights a decode step
// reads once per token), asked to be backed by 2 MiB transparent huge pages.
//
// Why: a decode step's GEMVs read every weight once, from DRAM, in long sequential runs. With
// 4 KiB pages every 4 KiB of a run costs a TLB miss and a page walk, and the hardware
// prefetchers stop at each page boundary; with 2 MiB pages neither happens. Measured on a 2-vCPU
// Zen 4 (matmul_bench --decode=q4_0 --packed, 30 E2B-shaped layers): 68-78 % of the read floor
// in 4 KiB pages, 87-94 % in huge pages; BF16 rows 76 -> 83 %. docs/kernels-cpu.md, "Huge pages".
//
// A hint, never a requirement: the region is 2 MiB-aligned and madvise(MADV_HUGEPAGE)'d; where
// the kernel has transparent huge pages off ("never") or none are free, it is ordinary memory
// and every result is the same. Regions under 2 MiB are plain page-aligned memory.
#ifndef GEMMA4C_KERNELS_CPU_HUGE_PAGES_H_
#define GEMMA4C_KERNELS_CPU_HUGE_PAGES_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace g4::cpu {

class HugePageBuffer {
 public:
  static constexpr uint64_t kHugePageBytes = uint64_t(2) << 20;

  // `bytes` (> 0) of zeroed memory, 2 MiB-aligned when at least 2 MiB. ResourceExhausted naming
  // `what` and the size when the mapping fails.
  static absl::StatusOr<HugePageBuffer> Allocate(uint64_t bytes, const char* what);

  HugePageBuffer() = default;
  HugePageBuffer(HugePageBuffer&& other) noexcept { *this = static_cast<HugePageBuffer&&>(other); }
  HugePageBuffer& operator=(HugePageBuffer&& other) noexcept;
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;
  ~HugePageBuffer();

  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }  // the bytes asked for

 private:
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  uint64_t mapped_ = 0;  // the mapping's length (size_ rounded up to whole pages)
};

}  // namespace g4::cpu

#endif  // GEMMA4C_KERNELS_CPU_HUGE_PAGES_H_

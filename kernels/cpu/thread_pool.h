// A persistent pool of worker threads for the CPU kernels.
//
// Workers are created once, in the constructor, and live until the destructor; ParallelFor
// hands them a range to split and costs no thread creation. Between jobs a worker spins briefly
// (so back-to-back kernels, as in a decode step, wake it in well under a microsecond) and then
// blocks on a condition variable (so an idle pool costs no CPU).
//
// Determinism: ParallelFor only decides WHICH thread runs an index, never how an index is
// computed, so a kernel whose per-index work does not depend on the thread gives bit-identical
// results for every thread count. Indices are handed out in contiguous chunks by an atomic
// counter (dynamic scheduling: on a shared machine a descheduled thread does not stall the rest),
// guided: each chunk a share of what is left (GuidedChunk), so the last ones are small and the
// threads finish together.
#ifndef GEMMA4C_KERNELS_CPU_THREAD_POOL_H_
#define GEMMA4C_KERNELS_CPU_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace g4::cpu {

class ThreadPool {
 public:
  // `num_threads` counts the caller of ParallelFor, which works too: num_threads - 1 workers are
  // started. num_threads <= 1 starts none (ParallelFor then runs inline).
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // The size of the chunk a thread takes when [begin, n) is left of a job on `threads` threads:
  // a share of the rest (a quarter on 2 threads), never below n / 64 nor past n. At least 1.
  static int64_t GuidedChunk(int64_t n, int64_t begin, int threads);

  // Calls fn(begin, end) on disjoint ranges that together cover [0, n), from up to
  // num_threads() threads, and returns when all have finished. fn must not throw.
  // Calls from several threads are serialized; a call from inside fn (nested) runs inline.
  template <typename Fn>
  void ParallelFor(int64_t n, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    Run(n, [](void* ctx, int64_t b, int64_t e) { (*static_cast<F*>(ctx))(b, e); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);

  void Run(int64_t n, RangeFn fn, void* ctx);
  void WorkerLoop();
  void RunChunks();  // takes chunks of the current job until none are left

  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // one job at a time

  // The current job; written by the caller before generation_ is bumped (release), read by the
  // workers after they see the new generation (acquire).
  RangeFn job_fn_ = nullptr;
  void* job_ctx_ = nullptr;
  int64_t job_n_ = 0;
  std::atomic<int64_t> next_{0};    // next unclaimed index
  std::atomic<int> active_{0};      // workers that have not finished the current job

  std::mutex mu_;                   // guards the sleeping side of generation_ / active_
  std::condition_variable wake_cv_;  // workers wait here for a new generation
  std::condition_variable done_cv_;  // the caller waits here for active_ == 0
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace g4::cpu

#endif  // GEMMA4C_KERNELS_CPU_THREAD_POOL_H_

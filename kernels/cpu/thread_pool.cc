#include "cpu/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace g4::cpu {
namespace {

// Spin iterations before a thread blocks. A pause is tens of cycles, so this is some tens of
// microseconds: long enough to bridge the gap between consecutive kernels of one decode step,
// short enough not to steal much from other processes on a shared machine.
constexpr int kSpinIterations = 2000;

// Chunks per thread: a few, so a thread that is descheduled for a while leaves work to others.
constexpr int64_t kChunksPerThread = 4;

thread_local bool tls_in_pool_job = false;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_relaxed);  // published by the generation bump
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunChunks() {
  for (;;) {
    const int64_t begin = next_.fetch_add(job_grain_, std::memory_order_relaxed);
    if (begin >= job_n_) return;
    job_fn_(job_ctx_, begin, std::min(job_n_, begin + job_grain_));
  }
}

void ThreadPool::WorkerLoop() {
  tls_in_pool_job = true;  // a ParallelFor from inside a job runs inline
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int i = 0; gen == seen && i < kSpinIterations; ++i) {
      CpuRelax();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    RunChunks();
    if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);  // pairs with the caller's predicate check
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::Run(int64_t n, RangeFn fn, void* ctx) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1 || tls_in_pool_job) {
    fn(ctx, 0, n);
    return;
  }
  std::lock_guard<std::mutex> run_lock(run_mu_);
  const int64_t threads = num_threads();
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_fn_ = fn;
    job_ctx_ = ctx;
    job_n_ = n;
    job_grain_ = std::max<int64_t>(1, n / (threads * kChunksPerThread));
    next_.store(0, std::memory_order_relaxed);
    active_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_cv_.notify_all();

  tls_in_pool_job = true;
  RunChunks();
  tls_in_pool_job = false;

  for (int i = 0; active_.load(std::memory_order_acquire) != 0 && i < kSpinIterations; ++i) {
    CpuRelax();
  }
  if (active_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return active_.load(std::memory_order_acquire) == 0; });
  }
}

}  // namespace g4::cpu

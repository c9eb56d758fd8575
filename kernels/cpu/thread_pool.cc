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

// Guided scheduling: a thread takes 1/(kShareDivisor * threads) of what is left, at least
// 1/kMinGrainDivisor of the job. Why: with fixed chunks of n/8 (as until 2026-12-08) the caller
// ended a decode GEMV waiting for the worker's last chunk, 7.4 us per call on average over
// E2B's ~300 calls per token, one thread streaming alone meanwhile; shrinking chunks end
// together (1.2-2.4 us; g4run E2B Q4_0 decode ab.sh median 1.042). The first chunks stay large
// (a quarter of the job on 2 threads), so each thread still reads few long runs of weights.
constexpr int64_t kShareDivisor = 2;
constexpr int64_t kMinGrainDivisor = 64;

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

int64_t ThreadPool::GuidedChunk(int64_t n, int64_t begin, int threads) {
  const int64_t min_grain = std::max<int64_t>(1, n / kMinGrainDivisor);
  const int64_t share = (n - begin) / (kShareDivisor * std::max(threads, 1));
  return std::min(n - begin, std::max(min_grain, share));
}

void ThreadPool::RunChunks() {
  const int threads = num_threads();
  int64_t begin = next_.load(std::memory_order_relaxed);
  while (begin < job_n_) {
    const int64_t size = GuidedChunk(job_n_, begin, threads);
    // On failure `begin` is reloaded with the counter's current value.
    if (!next_.compare_exchange_weak(begin, begin + size, std::memory_order_relaxed)) continue;
    job_fn_(job_ctx_, begin, begin + size);
    begin = next_.load(std::memory_order_relaxed);
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_fn_ = fn;
    job_ctx_ = ctx;
    job_n_ = n;
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

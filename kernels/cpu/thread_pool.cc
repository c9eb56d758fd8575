#include "cpu/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace g4::cpu {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// How long a thread spins for the next job (a worker) or for the workers to finish (the caller)
// before it blocks on a condition variable. Long enough to bridge the gaps between the parallel
// kernels of a decode step (its serial parts, attention and row ops on one thread), so the
// workers do not sleep within a step: waking a sleeping thread costs a futex call and, in a VM,
// an interrupt to a halted vCPU. Measured on the Zen 4 VM (firecracker, 2 vCPUs), E2B Q4_0
// decode, 5 alternating runs each: 19.2 tok/s on average with 50 us of spin (what the old 2000
// pauses came to), 20.1 with 5 ms; single runs were noisy (16-22). In time, not iterations: a
// pause takes 8 to 140 cycles depending on the CPU. After the last job of a burst a worker burns
// at most this long; on an oversubscribed machine spinning takes time from other threads.
constexpr auto kSpinTime = std::chrono::milliseconds(5);
constexpr int kPausesPerClockRead = 32;

// Spins until done() or kSpinTime has passed; returns done().
template <typename Done>
bool SpinUntil(Done&& done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (;;) {
    for (int i = 0; i < kPausesPerClockRead; ++i) {
      if (done()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

// Chunks per thread: a few, so a thread that is descheduled for a while leaves work to others.
constexpr int64_t kChunksPerThread = 4;

thread_local bool tls_in_pool_job = false;

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
    uint64_t gen = seen;
    SpinUntil([&] { return (gen = generation_.load(std::memory_order_acquire)) != seen; });
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

  if (!SpinUntil([&] { return active_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return active_.load(std::memory_order_acquire) == 0; });
  }
}

}  // namespace g4::cpu

// Tests of cpu::ThreadPool: coverage of the range, reuse across many jobs, nesting, concurrent
// callers and shutdown.
#include "cpu/thread_pool.h"

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace g4::cpu {
namespace {

// Every index of [0, n) is visited exactly once, by ranges that do not overlap.
void ExpectCoversOnce(ThreadPool& pool, int64_t n) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  pool.ParallelFor(n, [&](int64_t b, int64_t e) {
    ASSERT_LE(0, b);
    ASSERT_LT(b, e);
    ASSERT_LE(e, n);
    for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << i;
}

TEST(ThreadPool, CoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), std::max(1, threads));
    for (int64_t n : {0, 1, 2, 3, 7, 64, 1000, 4097}) ExpectCoversOnce(pool, n);
  }
}

// Guided chunks on 2 threads, worked by hand: a quarter of what is left, at least n / 64.
TEST(ThreadPool, GuidedChunksShrinkToTheMinimumGrain) {
  std::vector<int64_t> sizes;
  for (int64_t begin = 0; begin < 64; begin += sizes.back()) {
    sizes.push_back(ThreadPool::GuidedChunk(64, begin, 2));
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{16, 12, 9, 6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 1, 1}));
  // n = 6400: the floor is 100 elements, and the last chunk stops at n.
  EXPECT_EQ(ThreadPool::GuidedChunk(6400, 0, 2), 1600);
  EXPECT_EQ(ThreadPool::GuidedChunk(6400, 6000, 2), 100);
  EXPECT_EQ(ThreadPool::GuidedChunk(6400, 6350, 2), 50);
  EXPECT_EQ(ThreadPool::GuidedChunk(6400, 0, 1), 3200);
}

TEST(ThreadPool, RunsOnSeveralThreads) {
  ThreadPool pool(3);
  std::mutex mu;
  std::set<std::thread::id> ids;
  // Enough chunks that each thread gets some even if it wakes late.
  for (int rep = 0; rep < 50 && ids.size() < 2; ++rep) {
    pool.ParallelFor(64, [&](int64_t, int64_t) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    });
  }
  EXPECT_GE(ids.size(), 2u);
}

TEST(ThreadPool, ManyBackToBackJobs) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  for (int rep = 0; rep < 20000; ++rep) {
    pool.ParallelFor(5, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
  }
  EXPECT_EQ(total.load(), 5 * 20000);
}

TEST(ThreadPool, NestedCallRunsInline) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  pool.ParallelFor(8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      pool.ParallelFor(10, [&](int64_t b2, int64_t e2) { total.fetch_add(e2 - b2); });
    }
  });
  EXPECT_EQ(total.load(), 80);
}

TEST(ThreadPool, ConcurrentCallersAreSerialized) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&] {
      for (int rep = 0; rep < 500; ++rep) {
        pool.ParallelFor(16, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(total.load(), 3 * 500 * 16);
}

TEST(ThreadPool, DestroysIdleAndFreshPools) {
  { ThreadPool pool(4); }  // never used
  {
    ThreadPool pool(4);
    ExpectCoversOnce(pool, 100);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let workers block
  }
}

}  // namespace
}  // namespace g4::cpu

// table_readahead.h: which tables are advised, the memory check, and that the advice reaches
// the end of a table (Linux reads at most the read-ahead window per call).
#include "exec/table_readahead.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace g4::exec {
namespace {

// Steps: Embed(table 0); Fused { Embed(table 1), Embed(table 0 again) }; Linear(matrix 2).
std::vector<uint8_t> MakePlan() {
  flatbuffers::FlatBufferBuilder b;
  auto step = [&](plan::OpKind op, std::vector<uint32_t> weights) {
    return plan::CreateStep(b, op, plan::OpAttrs::NONE, 0, 0, 0, 0, b.CreateVector(weights));
  };
  std::vector<flatbuffers::Offset<plan::Step>> body = {step(plan::OpKind::Embed, {1}),
                                                       step(plan::OpKind::Embed, {0})};
  auto body_vec = b.CreateVector(body);
  std::vector<flatbuffers::Offset<plan::Step>> steps = {
      step(plan::OpKind::Embed, {0}),
      plan::CreateStep(b, plan::OpKind::Fused, plan::OpAttrs::NONE, 0, 0, 0, 0, 0, -1, body_vec),
      step(plan::OpKind::Linear, {2})};
  auto steps_vec = b.CreateVector(steps);
  plan::PlanBuilder pb(b);
  pb.add_steps(steps_vec);
  b.Finish(pb.Finish());
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

// An F32 [cols, rows] weight at `data`.
g4k_weight F32Matrix(const void* data, int64_t cols, int64_t rows) {
  return g4k_weight{data, 0, 2, {cols, rows, 1, 1}, nullptr};
}

bool Resident(const void* page) {
  unsigned char v = 0;
  return mincore(const_cast<void*>(page), 1, &v) == 0 && (v & 1);
}

class TableReadahead : public ::testing::Test {
 protected:
  void SetUp() override {
    // Tables 0 (16 MiB) and 1 (1 MiB), a gap, and matrix 2 (64 KiB) in one file, as in a GGUF
    // mapping.
    // A file of its own per test and process: ctest runs each test as a process, in parallel.
    path_ = ::testing::TempDir() + "table_readahead_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
            std::to_string(getpid()) + ".bin";
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::vector<char> zeros(kBytes, 1);
    ASSERT_EQ(std::fwrite(zeros.data(), 1, zeros.size(), f), zeros.size());
    std::fclose(f);
    fd_ = open(path_.c_str(), O_RDONLY);
    ASSERT_GE(fd_, 0);
    fdatasync(fd_);
    map_ = mmap(nullptr, kBytes, PROT_READ, MAP_PRIVATE, fd_, 0);
    ASSERT_NE(map_, MAP_FAILED);
    const char* base = static_cast<const char*>(map_);
    weights_ = {F32Matrix(base, 1024, 4096), F32Matrix(base + (16 << 20), 1024, 256),
                F32Matrix(base + (18 << 20), 128, 128)};
  }
  void TearDown() override {
    if (map_ != MAP_FAILED) munmap(map_, kBytes);
    if (fd_ >= 0) close(fd_);
    std::remove(path_.c_str());
  }
  static constexpr size_t kBytes = (18 << 20) + (64 << 10);
  std::string path_;
  int fd_ = -1;
  void* map_ = MAP_FAILED;
  std::vector<g4k_weight> weights_;
};

TEST_F(TableReadahead, AdvisesEachEmbeddingTableOnce) {
  const std::vector<uint8_t> plan = MakePlan();
  // Tables 0 and 1 (table 0 named twice, counted once); not the Linear's matrix.
  EXPECT_EQ(AdviseEmbeddingTables(*plan::GetPlan(plan.data()), weights_, uint64_t(1) << 40),
            uint64_t(17) << 20);
}

TEST_F(TableReadahead, AdvisesNothingThatDoesNotFit) {
  const std::vector<uint8_t> plan = MakePlan();
  EXPECT_EQ(AdviseEmbeddingTables(*plan::GetPlan(plan.data()), weights_, (uint64_t(17) << 20) - 1), 0u);
  EXPECT_EQ(AdviseEmbeddingTables(*plan::GetPlan(plan.data()), weights_, 0), 0u);  // unknown
}

TEST_F(TableReadahead, ReadsToTheEndOfTheTable) {
  // Only meaningful where the file's pages can be dropped (not tmpfs): then the table's last page
  // must come back without being touched. 16 MiB is past what one call reads on the kernels seen
  // (128 KiB to 8 MiB: the read-ahead window or the device's I/O size).
  posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);
  const char* last_page = static_cast<const char*>(map_) + (16 << 20) - 4096;
  if (Resident(last_page)) GTEST_SKIP() << "this file system keeps the pages (tmpfs?)";
  const std::vector<uint8_t> plan = MakePlan();
  ASSERT_EQ(AdviseEmbeddingTables(*plan::GetPlan(plan.data()), weights_, uint64_t(1) << 40), uint64_t(17) << 20);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!Resident(last_page) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(Resident(last_page));
  EXPECT_FALSE(Resident(static_cast<const char*>(map_) + (18 << 20)));  // the matrix: not advised
}

}  // namespace
}  // namespace g4::exec

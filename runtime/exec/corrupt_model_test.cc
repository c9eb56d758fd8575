// The corrupted-model corpus (docs/reliability.md): copies of a real synthetic model
// (tests/fuzz/corpus/gguf/nano.gguf, with its plan nano.plan) cut at every section boundary or
// patched in one field, each opened the way a user opens a model (Session::Open, mmap) and
// refused with a message that names the file and the problem; never a crash. The reader's own
// unit tests (gguf_test.cc) cover each rule on hand-made bytes; this is the end-to-end view.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "exec/memory_budget.h"
#include "exec/session.h"
#include "gguf/gguf.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "text/tokenizer.h"

namespace g4::exec {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const std::string kCorpus = G4_FUZZ_CORPUS_DIR;
const std::string kPlan = kCorpus + "/plan/nano.plan";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class CorruptModel : public ::testing::Test {
 protected:
  void SetUp() override {
    bytes_ = ReadAll(kCorpus + "/gguf/nano.gguf");
    ASSERT_GT(bytes_.size(), 1000u);
    auto f = gguf::GgufFile::FromBytes(bytes_, "nano.gguf");
    ASSERT_TRUE(f.ok()) << f.status();
    file_ = std::move(*f);
    path_ = ::testing::TempDir() + "/corrupt_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".gguf";
  }

  // Session::Open on `bytes` written to a file; the status (OK if it opened).
  absl::Status Open(const std::string& bytes, SessionOptions options = Interpreted()) {
    std::ofstream(path_, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    auto s = Session::Open(kPlan, path_, options);
    return s.ok() ? absl::OkStatus() : s.status();
  }
  static SessionOptions Interpreted() {
    SessionOptions o;
    o.force_interpreted = true;  // the seed plan's kernel library is not kept
    return o;
  }

  // File offset of tensor info `name` (its u64 name length).
  size_t InfoOffset(const std::string& name) const {
    std::string needle(8, '\0');
    const uint64_t len = name.size();
    std::memcpy(needle.data(), &len, 8);
    needle += name;
    const size_t at = bytes_.find(needle, 24);
    EXPECT_NE(at, std::string::npos) << name;
    return at;
  }
  // Offsets of a tensor info's fields: ne[d], the ggml type, the data offset.
  size_t NeOffset(const std::string& name, int d) const { return InfoOffset(name) + 8 + name.size() + 4 + 8 * d; }
  size_t TypeOffset(const std::string& name) const {
    return NeOffset(name, int(file_->FindTensor(name)->ne.size()));
  }
  size_t DataOffsetField(const std::string& name) const { return TypeOffset(name) + 4; }

  template <typename T>
  std::string Patched(size_t at, T value) const {
    std::string b = bytes_;
    std::memcpy(b.data() + at, &value, sizeof(T));
    return b;
  }

  std::string bytes_, path_;
  std::unique_ptr<gguf::GgufFile> file_;
};

TEST_F(CorruptModel, TheUncorruptedModelOpens) { EXPECT_TRUE(Open(bytes_).ok()) << Open(bytes_); }

TEST_F(CorruptModel, TruncatedAtEverySectionBoundary) {
  std::vector<size_t> cuts = {0, 3, 4, 8, 16, 24, size_t(file_->data_offset())};
  for (const gguf::TensorInfo& t : file_->tensors()) {
    cuts.push_back(InfoOffset(t.name));
    cuts.push_back(DataOffsetField(t.name) + 8);  // the end of the info
    cuts.push_back(size_t(file_->data_offset() + t.offset));
    cuts.push_back(size_t(file_->data_offset() + t.offset + t.nbytes - 1));
  }
  for (const gguf::KeyValue& kv : file_->metadata()) cuts.push_back(bytes_.find(kv.key) - 8);
  int refused = 0;
  for (size_t cut : cuts) {
    if (cut >= bytes_.size()) continue;
    const absl::Status st = Open(bytes_.substr(0, cut));
    ASSERT_FALSE(st.ok()) << "cut at " << cut;
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr(path_));
    ++refused;
  }
  EXPECT_GT(refused, 3 * int(file_->tensors().size()));
}

TEST_F(CorruptModel, TensorOffsetOutOfRange) {
  const std::string name = file_->tensors()[0].name;
  EXPECT_THAT(std::string(Open(Patched(DataOffsetField(name), uint64_t{1} << 40)).message()),
              AllOf(HasSubstr(name), HasSubstr("past end of file")));
}

TEST_F(CorruptModel, TensorsOverlap) {
  const gguf::TensorInfo& a = file_->tensors()[0];
  const gguf::TensorInfo& b = file_->tensors()[1];
  EXPECT_THAT(std::string(Open(Patched(DataOffsetField(b.name), a.offset)).message()), HasSubstr("overlaps"));
}

TEST_F(CorruptModel, TensorOffsetMisaligned) {
  const gguf::TensorInfo& t = file_->tensors()[1];
  EXPECT_THAT(std::string(Open(Patched(DataOffsetField(t.name), t.offset + 1)).message()),
              HasSubstr("is not aligned to 32"));
}

TEST_F(CorruptModel, DimsThatOverflow) {
  const std::string name = "token_embd.weight";
  EXPECT_THAT(std::string(Open(Patched(NeOffset(name, 1), uint64_t{1} << 62)).message()),
              AllOf(HasSubstr(name), HasSubstr("overflows")));
}

// The tensors declare more bytes than the file holds: refused with the byte range named,
// before anything reads or allocates them.
TEST_F(CorruptModel, TensorLargerThanTheFile) {
  const std::string name = "token_embd.weight";
  const int64_t rows = file_->FindTensor(name)->ne[1];
  EXPECT_THAT(std::string(Open(Patched(NeOffset(name, 1), uint64_t(rows) * 1000)).message()),
              AllOf(HasSubstr(name), HasSubstr("extends past end of file")));
}

TEST_F(CorruptModel, WrongDtypeForATensorThePlanNeeds) {
  // output_norm.weight is f32 [32]; as q8_0 it still fits the file (34 bytes), but the plan
  // reads norm weights as floats.
  const std::string name = "output_norm.weight";
  ASSERT_EQ(file_->FindTensor(name)->type, gguf::GgmlType::kF32);
  const absl::Status st = Open(Patched(TypeOffset(name), uint32_t(gguf::GgmlType::kQ8_0)));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), AllOf(HasSubstr("does not match the plan"), HasSubstr(name),
                                               HasSubstr("found [32] q8_0")));
}

TEST_F(CorruptModel, MissingTokenizerKey) {
  // Renaming the key (same length) removes it: the tokenizer names what it misses.
  std::string b = bytes_;
  const size_t at = b.find("tokenizer.ggml.tokens");
  ASSERT_NE(at, std::string::npos);
  b[at] = 'X';
  auto f = gguf::GgufFile::FromBytes(b, "nano.gguf");
  ASSERT_TRUE(f.ok()) << f.status();
  auto t = text::Tokenizer::FromGguf(**f);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), AllOf(HasSubstr("nano.gguf"), HasSubstr("tokenizer.ggml.tokens")));
}

TEST_F(CorruptModel, ArrayWithAbsurdLength) {
  const size_t key = bytes_.find("tokenizer.ggml.tokens");
  const size_t count = key + std::strlen("tokenizer.ggml.tokens") + 4 + 4;  // after type, elem type
  const absl::Status st = Open(Patched(count, uint64_t{1} << 50));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("tokenizer.ggml.tokens"));
}

TEST_F(CorruptModel, KeyWithInvalidUtf8) {
  std::string b = bytes_;
  const size_t at = b.find("general.name");
  ASSERT_NE(at, std::string::npos);
  b[at + 3] = '\xff';
  const absl::Status st = Open(b);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("not valid UTF-8"));
}

// Token strings are bytes: one that is not UTF-8 is kept and decodes to itself.
TEST(CorruptTokenizer, TokenWithInvalidUtf8RoundTrips) {
  auto f = gguf::GgufFile::Open(kCorpus + "/gguf/bad_utf8.gguf");
  ASSERT_FALSE(f.ok());  // its extra key is not UTF-8
  const std::string bytes = ReadAll(kCorpus + "/gguf/tokenizer.gguf");
  auto g = gguf::GgufFile::FromBytes(bytes, "tokenizer.gguf");
  ASSERT_TRUE(g.ok()) << g.status();
  auto t = text::Tokenizer::FromGguf(**g);
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string text = "ab\xff\xfe" "c \xc3(";
  EXPECT_EQ((*t)->Decode((*t)->Encode(text, false)), text);
}

// Memory: a session whose KV cache and activations exceed the limit is refused before it
// allocates, with the bytes named; a shorter context fits.
TEST_F(CorruptModel, SessionBeyondTheMemoryLimitIsRefused) {
  SessionOptions o = Interpreted();
  o.memory_limit = 4096;
  const absl::Status st = Open(bytes_, o);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(st.message()),
              AllOf(HasSubstr("the CPU session needs"), HasSubstr("bytes for 64 positions"),
                    HasSubstr("memory_limit of 4096 bytes")));
  auto plan = plan::LoadPlan(kPlan);
  ASSERT_TRUE(plan.ok());
  auto at16 = CpuMemoryNeeded(*plan->plan(), 16, false);
  ASSERT_TRUE(at16.ok());
  o.memory_limit = at16->total();
  o.max_context = 16;
  std::ofstream(path_, std::ios::binary).write(bytes_.data(), std::streamsize(bytes_.size()));
  auto s = Session::Open(kPlan, path_, o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->backend().context_capacity(), 16);
  EXPECT_TRUE((*s)->Eval(std::vector<int32_t>(4, 2)).ok());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE((*s)->Eval({2, 2, 2, 2}).ok());
  EXPECT_EQ((*s)->Eval({2}).code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace g4::exec

// Reader tests: files are built byte by byte (RawFile below) so each test can corrupt exactly
// one thing, then GgufFile must reject it with a message naming the file, the key or tensor,
// and the problem. Also: every truncation, random byte flips, v2/v1, alignment, getters.
#include "gguf/gguf.h"

#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace g4::gguf {
namespace {

constexpr char kName[] = "test.gguf";

// ----- a byte-level GGUF builder ---------------------------------------------------------------

template <typename T>
std::string Le(T v) {
  std::string s(sizeof(T), '\0');
  std::memcpy(s.data(), &v, sizeof(T));
  return s;
}
std::string Str(const std::string& s) { return Le<uint64_t>(s.size()) + s; }

struct RawKv {
  std::string key;
  uint32_t type;
  std::string payload;  // encoded value, without the type tag
};
RawKv U32Kv(const std::string& key, uint32_t v) { return {key, 4, Le(v)}; }
RawKv StrKv(const std::string& key, const std::string& v) { return {key, 8, Str(v)}; }
// Payload of an array: element type, count, encoded elements.
std::string ArrayPayload(uint32_t elem_type, uint64_t count, const std::string& elems) {
  return Le(elem_type) + Le(count) + elems;
}

struct RawTensor {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type;
  uint64_t offset;
};

struct RawFile {
  std::string magic = "GGUF";
  uint32_t version = 3;
  std::optional<uint64_t> n_tensors, n_kv;  // overrides of the true counts
  std::vector<RawKv> kvs;
  std::vector<RawTensor> tensors;
  uint64_t alignment = 32;  // where the data section starts
  uint64_t data_bytes = 0;  // bytes after the data section start (a byte pattern)

  std::string Build() const {
    std::string b = magic + Le(version) + Le<uint64_t>(n_tensors.value_or(tensors.size())) +
                    Le<uint64_t>(n_kv.value_or(kvs.size()));
    for (const RawKv& kv : kvs) b += Str(kv.key) + Le(kv.type) + kv.payload;
    for (const RawTensor& t : tensors) {
      b += Str(t.name) + Le<uint32_t>(static_cast<uint32_t>(t.ne.size()));
      for (uint64_t n : t.ne) b += Le(n);
      b += Le(t.type) + Le(t.offset);
    }
    b.resize((b.size() + alignment - 1) / alignment * alignment, '\0');
    for (uint64_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<char>(i * 7 + 1));
    return b;
  }
};

// A small valid file: two kvs, an f32 [8, 2] tensor at 0 (64 bytes) and a q8_0 [32] at 64
// (34 bytes). The data ends exactly at the last tensor's end, so every shorter prefix is bad.
RawFile ValidFile() {
  RawFile f;
  f.kvs = {StrKv("general.architecture", "gemma4"), U32Kv("gemma4.block_count", 7)};
  f.tensors = {{"blk.0.attn_q.weight", {8, 2}, 0, 0}, {"output.weight", {32}, 8, 64}};
  f.data_bytes = 98;
  return f;
}

absl::StatusOr<std::unique_ptr<GgufFile>> Parse(const RawFile& f) {
  return GgufFile::FromBytes(f.Build(), kName);
}

// Asserts a rejection with `code` whose message holds the file name and every `words`.
void ExpectRejected(const RawFile& f, absl::StatusCode code, std::vector<std::string> words) {
  const auto result = Parse(f);
  ASSERT_FALSE(result.ok()) << "accepted a bad file; expected words: " << words[0];
  const std::string msg(result.status().message());
  EXPECT_EQ(result.status().code(), code) << msg;
  words.insert(words.begin(), kName);
  for (const std::string& w : words) EXPECT_NE(msg.find(w), std::string::npos) << w << " not in: " << msg;
}

// ----- accepted files --------------------------------------------------------------------------

TEST(GgufReaderTest, ReadsValidFile) {
  auto file = Parse(ValidFile());
  ASSERT_TRUE(file.ok()) << file.status();
  const GgufFile& g = **file;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.alignment(), 32u);
  ASSERT_EQ(g.metadata().size(), 2u);
  EXPECT_EQ(g.metadata()[0].key, "general.architecture");
  EXPECT_EQ(*g.GetString("general.architecture"), "gemma4");
  EXPECT_EQ(*g.GetU32("gemma4.block_count"), 7u);
  ASSERT_EQ(g.tensors().size(), 2u);
  const TensorInfo* q = g.FindTensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->ne, (std::vector<int64_t>{8, 2}));
  EXPECT_EQ(q->type, GgmlType::kF32);
  EXPECT_EQ(q->nbytes, 64u);
  EXPECT_EQ(q->NumElements(), 16);
  EXPECT_EQ(q->data, g.tensors()[0].data);
  const TensorInfo* out = g.FindTensor("output.weight");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->type, GgmlType::kQ8_0);
  EXPECT_EQ(out->nbytes, 34u);
  EXPECT_EQ(out->data - q->data, 64);
  EXPECT_EQ(g.data_offset() % 32, 0u);
  EXPECT_EQ(g.data_offset() + 98, g.file_size());
  EXPECT_EQ(g.FindTensor("missing"), nullptr);
  EXPECT_EQ(g.Find("missing"), nullptr);
  // The data pointer sees the bytes the builder wrote (i * 7 + 1 from the data start).
  EXPECT_EQ(q->data[5], static_cast<uint8_t>(5 * 7 + 1));
  auto values = g.ReadAsF32(*out);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(values->size(), 32u);
}

TEST(GgufReaderTest, AcceptsVersion2) {
  RawFile f = ValidFile();
  f.version = 2;
  auto file = Parse(f);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->version(), 2u);
  EXPECT_EQ((*file)->tensors().size(), 2u);
}

TEST(GgufReaderTest, Alignment64) {
  RawFile f = ValidFile();
  f.kvs.push_back(U32Kv("general.alignment", 64));
  f.alignment = 64;
  f.tensors[1].offset = 64;  // 64 is a multiple of 64: still valid
  auto file = Parse(f);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->alignment(), 64u);
  EXPECT_EQ((*file)->data_offset() % 64, 0u);
  EXPECT_EQ((*file)->tensors()[1].data[0], static_cast<uint8_t>(64 * 7 + 1));
}

TEST(GgufReaderTest, NoTensorsAndNoPadding) {
  RawFile f;
  f.kvs = {U32Kv("a", 1)};
  std::string bytes = f.Build();
  bytes.resize(4 + 4 + 8 + 8 + 8 + 1 + 4 + 4);  // drop the padding: legal without tensors
  auto file = GgufFile::FromBytes(bytes, kName);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE((*file)->tensors().empty());
}

TEST(GgufReaderTest, AllValueTypesAndNestedArrays) {
  RawFile f;
  f.kvs = {
      {"u8", 0, Le<uint8_t>(200)},           {"i8", 1, Le<int8_t>(-100)},
      {"u16", 2, Le<uint16_t>(60000)},       {"i16", 3, Le<int16_t>(-30000)},
      {"u32", 4, Le<uint32_t>(4000000000u)}, {"i32", 5, Le<int32_t>(-2000000000)},
      {"f32", 6, Le<float>(1.5f)},           {"bool", 7, Le<uint8_t>(1)},
      {"str", 8, Str("héllo")},              {"u64", 10, Le<uint64_t>(1ull << 40)},
      {"i64", 11, Le<int64_t>(-(1ll << 40))}, {"f64", 12, Le<double>(0.1)},
      {"strs", 9, ArrayPayload(8, 3, Str("a") + Str("") + Str("ccc"))},
      // [[1, 2], []] of i32
      {"nested", 9, ArrayPayload(9, 2, ArrayPayload(5, 2, Le<int32_t>(1) + Le<int32_t>(2)) +
                                           ArrayPayload(5, 0, ""))},
      {"empty", 9, ArrayPayload(6, 0, "")},
  };
  auto file = Parse(f);
  ASSERT_TRUE(file.ok()) << file.status();
  const GgufFile& g = **file;
  EXPECT_EQ(g.Find("u8")->u, 200u);
  EXPECT_EQ(g.Find("i8")->i, -100);
  EXPECT_EQ(g.Find("u16")->u, 60000u);
  EXPECT_EQ(g.Find("i16")->i, -30000);
  EXPECT_EQ(g.Find("u32")->u, 4000000000u);
  EXPECT_EQ(g.Find("i32")->i, -2000000000);
  EXPECT_EQ(g.Find("f32")->f, 1.5);
  EXPECT_EQ(g.Find("bool")->type, ValueType::kBool);
  EXPECT_EQ(g.Find("str")->s, "héllo");
  EXPECT_EQ(g.Find("u64")->u, 1ull << 40);
  EXPECT_EQ(g.Find("i64")->i, -(1ll << 40));
  EXPECT_EQ(g.Find("f64")->f, 0.1);
  EXPECT_EQ(*g.GetStringArray("strs"), (std::vector<std::string>{"a", "", "ccc"}));
  const Value* nested = g.Find("nested");
  ASSERT_EQ(nested->elem_type, ValueType::kArray);
  ASSERT_EQ(nested->array.size(), 2u);
  EXPECT_EQ(nested->array[0].elem_type, ValueType::kInt32);
  ASSERT_EQ(nested->array[0].array.size(), 2u);
  EXPECT_EQ(nested->array[0].array[1].i, 2);
  EXPECT_TRUE(nested->array[1].array.empty());
  EXPECT_TRUE(g.Find("empty")->array.empty());
}

TEST(GgufReaderTest, OpensFileFromDisk) {
  const std::string path = ::testing::TempDir() + "/reader_open.gguf";
  const std::string bytes = ValidFile().Build();
  FILE* fp = std::fopen(path.c_str(), "wb");
  ASSERT_NE(fp, nullptr);
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), fp), bytes.size());
  std::fclose(fp);
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->path(), path);
  EXPECT_EQ((*file)->file_size(), bytes.size());
  EXPECT_EQ(std::memcmp((*file)->tensors()[0].data, bytes.data() + (*file)->data_offset(), 64), 0);
}

TEST(GgufReaderTest, OpenErrorsNameThePath) {
  const std::string missing = ::testing::TempDir() + "/does_not_exist.gguf";
  auto r = GgufFile::Open(missing);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(missing), std::string::npos);

  const std::string empty = ::testing::TempDir() + "/empty.gguf";
  std::fclose(std::fopen(empty.c_str(), "wb"));
  r = GgufFile::Open(empty);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("too short"), std::string::npos) << r.status();

  r = GgufFile::Open(::testing::TempDir());  // a directory
  EXPECT_FALSE(r.ok());
}

// ----- one test per rejection --------------------------------------------------------------------

TEST(GgufRejectTest, BadMagic) {
  RawFile f = ValidFile();
  f.magic = "GGML";
  ExpectRejected(f, absl::StatusCode::kInvalidArgument, {"header", "magic"});
}

TEST(GgufRejectTest, Version1) {
  RawFile f = ValidFile();
  f.version = 1;
  ExpectRejected(f, absl::StatusCode::kUnimplemented, {"header", "version 1", "not supported"});
}

TEST(GgufRejectTest, UnknownVersion) {
  RawFile f = ValidFile();
  f.version = 4;
  ExpectRejected(f, absl::StatusCode::kUnimplemented, {"header", "version 4"});
  f.version = 0x03000000;  // a big-endian v3 file
  ExpectRejected(f, absl::StatusCode::kUnimplemented, {"big-endian"});
}

TEST(GgufRejectTest, ImplausibleTensorCount) {
  RawFile f = ValidFile();
  f.n_tensors = uint64_t{1} << 60;
  ExpectRejected(f, absl::StatusCode::kInvalidArgument, {"header", "tensor count", "implausible"});
}

TEST(GgufRejectTest, ImplausibleMetadataCount) {
  RawFile f = ValidFile();
  f.n_kv = ~uint64_t{0};
  ExpectRejected(f, absl::StatusCode::kInvalidArgument, {"metadata count", "implausible"});
}

TEST(GgufRejectTest, KeyLengthPastEnd) {
  RawFile f = ValidFile();
  f.kvs[1].key = "";  // replaced below by a hand-made length
  std::string bytes = f.Build();
  // The second key's length field follows the first kv; point it far past the end.
  const size_t at = 24 + 8 + f.kvs[0].key.size() + 4 + f.kvs[0].payload.size();
  const uint64_t huge = 1000;
  std::memcpy(&bytes[at], &huge, 8);
  auto r = GgufFile::FromBytes(bytes, kName);
  ASSERT_FALSE(r.ok());
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find(kName), std::string::npos) << msg;
  EXPECT_NE(msg.find("metadata entry #1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("key (1000 bytes)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(GgufRejectTest, KeyTooLong) {
  RawFile f = ValidFile();
  f.kvs[0].key = std::string(70000, 'k');
  ExpectRejected(f, absl::StatusCode::kInvalidArgument, {"metadata entry #0", "exceeds the limit"});
}

TEST(GgufRejectTest, StringValuePastEnd) {
  RawFile f = ValidFile();
  f.kvs[0].payload = Le<uint64_t>(uint64_t{1} << 62) + "gemma4";
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"key 'general.architecture'", "string value", "truncated"});
}

TEST(GgufRejectTest, ArrayLengthPastEnd) {
  RawFile f = ValidFile();
  f.kvs.push_back({"tokenizer.ggml.scores", 9, ArrayPayload(6, uint64_t{1} << 40, Le(1.0f))});
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"key 'tokenizer.ggml.scores'", "array length 1099511627776", "exceeds"});
}

TEST(GgufRejectTest, StringArrayLengthPastEnd) {
  RawFile f = ValidFile();
  // 1000 strings claimed: not even their 8-byte lengths fit in what remains.
  f.kvs.push_back({"tokenizer.ggml.tokens", 9, ArrayPayload(8, 1000, Str("a"))});
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"key 'tokenizer.ggml.tokens'", "array length 1000"});
}

TEST(GgufRejectTest, DuplicateKey) {
  RawFile f = ValidFile();
  f.kvs.push_back(U32Kv("gemma4.block_count", 8));
  ExpectRejected(f, absl::StatusCode::kInvalidArgument, {"key 'gemma4.block_count'", "duplicate"});
}

TEST(GgufRejectTest, UnknownValueType) {
  RawFile f = ValidFile();
  f.kvs[1].type = 13;
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"key 'gemma4.block_count'", "unknown value type id 13"});
}

TEST(GgufRejectTest, UnknownArrayElementType) {
  RawFile f = ValidFile();
  f.kvs.push_back({"arr", 9, ArrayPayload(77, 1, Le<uint32_t>(0))});
  ExpectRejected(f, absl::StatusCode::kInvalidArgument, {"key 'arr'", "element type id 77"});
}

TEST(GgufRejectTest, BoolNotZeroOrOne) {
  RawFile f = ValidFile();
  f.kvs.push_back({"flag", 7, Le<uint8_t>(2)});
  ExpectRejected(f, absl::StatusCode::kInvalidArgument, {"key 'flag'", "bool value 2"});
}

TEST(GgufRejectTest, ArraysNestedTooDeep) {
  RawFile f = ValidFile();
  std::string payload = ArrayPayload(5, 0, "");
  for (int i = 0; i < 9; ++i) payload = ArrayPayload(9, 1, payload);
  f.kvs.push_back({"deep", 9, payload});
  ExpectRejected(f, absl::StatusCode::kInvalidArgument, {"key 'deep'", "nested deeper"});
}

TEST(GgufRejectTest, AlignmentNotPowerOfTwo) {
  RawFile f = ValidFile();
  f.kvs.push_back(U32Kv("general.alignment", 48));
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"key 'general.alignment'", "48", "not a power of two"});
  f.kvs.back() = U32Kv("general.alignment", 0);
  ExpectRejected(f, absl::StatusCode::kInvalidArgument, {"key 'general.alignment'", "0 is not"});
}

TEST(GgufRejectTest, AlignmentOfWrongType) {
  RawFile f = ValidFile();
  f.kvs.push_back({"general.alignment", 10, Le<uint64_t>(32)});
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"key 'general.alignment'", "must be of type u32", "u64"});
}

TEST(GgufRejectTest, DuplicateTensorName) {
  RawFile f = ValidFile();
  f.tensors[1].name = f.tensors[0].name;
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'blk.0.attn_q.weight'", "duplicate tensor name"});
}

TEST(GgufRejectTest, EmptyTensorName) {
  RawFile f = ValidFile();
  f.tensors[1].name = "";
  ExpectRejected(f, absl::StatusCode::kInvalidArgument, {"tensor ''", "empty tensor name"});
}

TEST(GgufRejectTest, TensorNameNotUtf8) {
  RawFile f = ValidFile();
  f.tensors[1].name = "blk.\xc0\xaf.weight";  // an overlong '/'
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'blk.\\xc0\\xaf.weight'", "tensor name is not valid UTF-8"});
}

TEST(GgufRejectTest, KeyNotUtf8) {
  for (const char* key : {"bad.\xff", "bad.\xed\xa0\x80", "bad.\xe2\x96", "bad.\xf4\x90\x80\x80"}) {
    RawFile f = ValidFile();
    f.kvs[0].key = key;
    ExpectRejected(f, absl::StatusCode::kInvalidArgument, {"key is not valid UTF-8"});
  }
}

TEST(GgufRejectTest, TooFewDims) {
  RawFile f = ValidFile();
  f.tensors[0].ne = {};
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'blk.0.attn_q.weight'", "n_dims 0", "1..4"});
}

TEST(GgufRejectTest, TooManyDims) {
  RawFile f = ValidFile();
  f.tensors[0].ne = {8, 2, 1, 1, 1};
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'blk.0.attn_q.weight'", "n_dims 5"});
}

TEST(GgufRejectTest, ZeroDimension) {
  RawFile f = ValidFile();
  f.tensors[0].ne = {8, 0};
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'blk.0.attn_q.weight'", "ne[1] = 0"});
}

TEST(GgufRejectTest, DimensionAboveInt64) {
  RawFile f = ValidFile();
  f.tensors[0].ne = {8, uint64_t{1} << 63};
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'blk.0.attn_q.weight'", "ne[1] = 9223372036854775808"});
}

TEST(GgufRejectTest, ElementCountOverflow) {
  RawFile f = ValidFile();
  f.tensors[0].ne = {uint64_t{1} << 32, uint64_t{1} << 32};
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'blk.0.attn_q.weight'", "element count overflows"});
}

TEST(GgufRejectTest, ByteSizeOverflow) {
  RawFile f = ValidFile();
  f.tensors[0].ne = {uint64_t{1} << 62};  // elements fit in int64, 4 bytes each do not
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'blk.0.attn_q.weight'", "overflow"});
}

TEST(GgufRejectTest, UnsupportedGgmlType) {
  RawFile f = ValidFile();
  f.tensors[1].type = 16;  // iq2_xxs: real, but not one we read
  ExpectRejected(f, absl::StatusCode::kUnimplemented,
                 {"tensor 'output.weight'", "ggml type id 16 (iq2_xxs)", "not supported",
                  "q5_k", "iq4_xs", "mxfp4"});
}

TEST(GgufRejectTest, UnknownGgmlType) {
  RawFile f = ValidFile();
  f.tensors[1].type = 1234;
  ExpectRejected(f, absl::StatusCode::kUnimplemented,
                 {"tensor 'output.weight'", "1234 (unknown)"});
}

TEST(GgufRejectTest, RowNotBlockMultiple) {
  RawFile f = ValidFile();
  f.tensors[1].ne = {33};
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'output.weight'", "ne[0] = 33", "multiple of the q8_0 block size 32"});
}

TEST(GgufRejectTest, MisalignedOffset) {
  RawFile f = ValidFile();
  f.tensors[1].offset = 68;
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'output.weight'", "offset 68", "not aligned to 32"});
}

TEST(GgufRejectTest, DataPastEndOfFile) {
  RawFile f = ValidFile();
  f.data_bytes = 97;  // one byte short
  const std::string header_bytes = f.Build();
  const uint64_t size = header_bytes.size();
  const uint64_t begin = size - 97 + 64;
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'output.weight'",
                  absl::StrCat("data [", begin, ", ", begin + 34, ") extends past end of file (",
                               size, " bytes)")});
}

TEST(GgufRejectTest, OffsetPastEndOfFile) {
  RawFile f = ValidFile();
  f.tensors[1].offset = uint64_t{1} << 60;
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'output.weight'", "offset 1152921504606846976", "past end of file"});
}

TEST(GgufRejectTest, DataSectionPastEndOfFile) {
  RawFile f = ValidFile();
  std::string bytes = f.Build();
  bytes.resize(bytes.size() - 98 - 1);  // cut into the padding before the data
  auto r = GgufFile::FromBytes(bytes, kName);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("data section"), std::string::npos) << r.status();
}

TEST(GgufRejectTest, OverlappingTensors) {
  RawFile f = ValidFile();
  f.tensors[1].offset = 32;  // inside the f32 tensor's [0, 64)
  ExpectRejected(f, absl::StatusCode::kInvalidArgument,
                 {"tensor 'output.weight'", "overlaps tensor 'blk.0.attn_q.weight'"});
}

TEST(GgufRejectTest, TruncatedTensorInfo) {
  RawFile f = ValidFile();
  std::string bytes = f.Build();
  // Cut inside the last tensor info (its offset field): name the tensor and the field.
  const std::string full_infos = bytes.substr(0, bytes.size() - 98);
  const size_t cut = full_infos.find("output.weight") + 13 + 4 + 8 + 4 + 3;
  auto r = GgufFile::FromBytes(bytes.substr(0, cut), kName);
  ASSERT_FALSE(r.ok());
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find("tensor 'output.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data offset"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

// Every proper prefix of a valid file is an error, never a crash (the data ends exactly at
// the last tensor, so even a prefix missing one data byte must fail).
TEST(GgufRobustnessTest, EveryTruncationIsAnError) {
  RawFile f = ValidFile();
  f.kvs.push_back({"strs", 9, ArrayPayload(8, 2, Str("ab") + Str("c"))});
  f.kvs.push_back({"nested", 9, ArrayPayload(9, 1, ArrayPayload(0, 2, "xy"))});
  const std::string bytes = f.Build();
  ASSERT_TRUE(GgufFile::FromBytes(bytes, kName).ok());
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto r = GgufFile::FromBytes(bytes.substr(0, len), kName);
    ASSERT_FALSE(r.ok()) << "prefix of " << len << " bytes accepted";
    EXPECT_NE(r.status().message().find(kName), std::string::npos) << r.status();
  }
}

// Random byte flips never crash, hang or read out of bounds (ASan checks the last); whatever is
// accepted must be self-consistent.
TEST(GgufRobustnessTest, RandomByteFlipsNeverCrash) {
  RawFile f = ValidFile();
  f.kvs.push_back({"strs", 9, ArrayPayload(8, 2, Str("ab") + Str("c"))});
  f.kvs.push_back({"nested", 9, ArrayPayload(9, 1, ArrayPayload(5, 1, Le<int32_t>(3)))});
  const std::string original = f.Build();
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    std::string bytes = original;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) {
      bytes[rng() % bytes.size()] ^= static_cast<char>(1u << (rng() % 8));
    }
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    auto r = GgufFile::FromBytes(bytes, kName);
    if (!r.ok()) continue;
    ++accepted;
    const GgufFile& g = **r;
    for (const TensorInfo& t : g.tensors()) {
      ASSERT_NE(t.data, nullptr);
      ASSERT_LE(g.data_offset() + t.offset + t.nbytes, g.file_size());
      auto values = g.ReadAsF32(t);
      ASSERT_TRUE(values.ok());
      ASSERT_EQ(values->size(), static_cast<size_t>(t.NumElements()));
    }
    for (const KeyValue& kv : g.metadata()) {
      (void)g.GetU32(kv.key);
      (void)g.GetString(kv.key);
      (void)g.GetIntOrArray(kv.key, 2);
    }
  }
  EXPECT_GT(accepted, 0);  // some flips land in data bytes and stay valid
}

// ----- typed getters -----------------------------------------------------------------------------

class GetterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RawFile f;
    f.kvs = {
        {"u8", 0, Le<uint8_t>(9)},
        {"i32_neg", 5, Le<int32_t>(-1)},
        {"u64_big", 10, Le<uint64_t>(uint64_t{1} << 33)},
        {"i64_ok", 11, Le<int64_t>(4096)},
        {"f32", 6, Le<float>(0.25f)},
        {"f64", 12, Le<double>(1e6)},
        {"bool", 7, Le<uint8_t>(1)},
        StrKv("name", "gemma"),
        {"i32s", 9, ArrayPayload(5, 3, Le<int32_t>(1) + Le<int32_t>(-2) + Le<int32_t>(3))},
        {"bools", 9, ArrayPayload(7, 3, std::string("\x01\x00\x01", 3))},
        {"f32s", 9, ArrayPayload(6, 1, Le(1.0f))},
        {"strs", 9, ArrayPayload(8, 2, Str("x") + Str("yz"))},
    };
    auto r = Parse(f);
    ASSERT_TRUE(r.ok()) << r.status();
    file_ = std::move(*r);
  }
  void ExpectError(const absl::Status& s, absl::StatusCode code, const std::string& key,
                   const std::string& word) {
    EXPECT_EQ(s.code(), code) << s;
    const std::string msg(s.message());
    EXPECT_NE(msg.find(kName), std::string::npos) << msg;
    EXPECT_NE(msg.find("key '" + key + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(word), std::string::npos) << msg;
  }
  std::unique_ptr<GgufFile> file_;
};

TEST_F(GetterTest, GetU32) {
  EXPECT_EQ(*file_->GetU32("u8"), 9u);
  EXPECT_EQ(*file_->GetU32("i64_ok"), 4096u);
  ExpectError(file_->GetU32("i32_neg").status(), absl::StatusCode::kInvalidArgument, "i32_neg",
              "-1 is out of the u32 range");
  ExpectError(file_->GetU32("u64_big").status(), absl::StatusCode::kInvalidArgument, "u64_big",
              "out of the u32 range");
  ExpectError(file_->GetU32("name").status(), absl::StatusCode::kInvalidArgument, "name",
              "expected an integer, found string");
  ExpectError(file_->GetU32("bool").status(), absl::StatusCode::kInvalidArgument, "bool",
              "found bool");
  ExpectError(file_->GetU32("nope").status(), absl::StatusCode::kNotFound, "nope", "not found");
}

TEST_F(GetterTest, GetF32) {
  EXPECT_EQ(*file_->GetF32("f32"), 0.25f);
  EXPECT_EQ(*file_->GetF32("f64"), 1e6f);
  EXPECT_EQ(*file_->GetF32("i32_neg"), -1.0f);
  ExpectError(file_->GetF32("name").status(), absl::StatusCode::kInvalidArgument, "name",
              "expected a float");
}

TEST_F(GetterTest, GetBoolAndString) {
  EXPECT_TRUE(*file_->GetBool("bool"));
  ExpectError(file_->GetBool("u8").status(), absl::StatusCode::kInvalidArgument, "u8",
              "expected bool, found u8");
  EXPECT_EQ(*file_->GetString("name"), "gemma");
  ExpectError(file_->GetString("strs").status(), absl::StatusCode::kInvalidArgument, "strs",
              "found array of string");
  ExpectError(file_->GetString("nope").status(), absl::StatusCode::kNotFound, "nope",
              "not found");
}

TEST_F(GetterTest, GetIntOrArray) {
  EXPECT_EQ(*file_->GetIntOrArray("u8", 4), (std::vector<int64_t>{9, 9, 9, 9}));
  EXPECT_EQ(*file_->GetIntOrArray("i32s", 3), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(*file_->GetIntOrArray("bools", 3), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(*file_->GetIntOrArray("bool", 2), (std::vector<int64_t>{1, 1}));
  ExpectError(file_->GetIntOrArray("i32s", 4).status(), absl::StatusCode::kInvalidArgument,
              "i32s", "3 elements, expected 4");
  ExpectError(file_->GetIntOrArray("f32s", 1).status(), absl::StatusCode::kInvalidArgument,
              "f32s", "found array of f32");
  ExpectError(file_->GetIntOrArray("name", 1).status(), absl::StatusCode::kInvalidArgument,
              "name", "found string");
}

TEST_F(GetterTest, GetStringArray) {
  EXPECT_EQ(*file_->GetStringArray("strs"), (std::vector<std::string>{"x", "yz"}));
  ExpectError(file_->GetStringArray("i32s").status(), absl::StatusCode::kInvalidArgument, "i32s",
              "expected array of string");
}

TEST_F(GetterTest, ValueHelpers) {
  EXPECT_TRUE(file_->Find("u8")->IsInteger());
  EXPECT_TRUE(file_->Find("bool")->IsInteger());
  EXPECT_FALSE(file_->Find("f32")->IsInteger());
  EXPECT_EQ(file_->Find("i32_neg")->AsInt(), -1);
  EXPECT_EQ(file_->Find("u8")->AsFloat(), 9.0);
  EXPECT_STREQ(ValueTypeName(ValueType::kFloat64), "f64");
}

TEST(GgufReaderTest, ReadAsF32RejectsForeignTensor) {
  auto file = Parse(ValidFile());
  ASSERT_TRUE(file.ok());
  TensorInfo copy = (*file)->tensors()[0];
  EXPECT_EQ((*file)->ReadAsF32(copy).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace g4::gguf

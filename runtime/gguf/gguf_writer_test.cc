// Writer tests: a round trip through GgufWriter and GgufFile with every metadata type and every
// tensor dtype, streamed writes, alignment, and the writer's own usage errors.
#include "gguf/gguf_writer.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gtest/gtest.h"

namespace g4::gguf {
namespace {

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<float> RandomFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.5f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Recursive equality of two metadata values (type, payload, elements).
void ExpectSameValue(const Value& a, const Value& b, const std::string& where) {
  ASSERT_EQ(a.type, b.type) << where;
  switch (a.type) {
    case ValueType::kString: EXPECT_EQ(a.s, b.s) << where; break;
    case ValueType::kFloat32: case ValueType::kFloat64: EXPECT_EQ(a.f, b.f) << where; break;
    case ValueType::kArray:
      ASSERT_EQ(a.elem_type, b.elem_type) << where;
      ASSERT_EQ(a.array.size(), b.array.size()) << where;
      for (size_t i = 0; i < a.array.size(); ++i) {
        ExpectSameValue(a.array[i], b.array[i], where + "[" + std::to_string(i) + "]");
      }
      break;
    default:
      EXPECT_EQ(a.u, b.u) << where;
      EXPECT_EQ(a.i, b.i) << where;
  }
}

Value IntArray(ValueType elem_type, std::vector<int64_t> xs) {
  Value v;
  v.type = ValueType::kArray;
  v.elem_type = elem_type;
  for (int64_t x : xs) {
    Value e;
    e.type = elem_type;
    e.i = x;
    v.array.push_back(e);
  }
  return v;
}

// Metadata of every type; the same list is written and then compared with what is read.
void AddAllMetadata(GgufWriter& w) {
  w.AddString("general.architecture", "gemma4");
  w.AddU8("t.u8", 250);
  w.AddI8("t.i8", -128);
  w.AddU16("t.u16", 65535);
  w.AddI16("t.i16", -32768);
  w.AddU32("t.u32", 4294967295u);
  w.AddI32("t.i32", -2147483647 - 1);
  w.AddU64("t.u64", 18446744073709551615ull);
  w.AddI64("t.i64", -9223372036854775807ll - 1);
  w.AddF32("t.f32", 3.14159f);
  w.AddF64("t.f64", 2.718281828459045);
  w.AddBool("t.bool_true", true);
  w.AddBool("t.bool_false", false);
  w.AddString("t.empty_string", "");
  w.AddI32Array("t.i32s", {1, -2, 3, 2147483647});
  w.AddU32Array("t.u32s", {0, 4294967295u});
  w.AddF32Array("t.f32s", {0.5f, -1e-8f, 1e30f});
  w.AddBoolArray("t.bools", {true, false, true});
  w.AddStringArray("tokenizer.ggml.tokens", {"<pad>", "", "héllo", std::string("a\0b", 3)});
  // Array of arrays of i16: [[1, 2, 3], [], [-4]].
  Value nested;
  nested.type = ValueType::kArray;
  nested.elem_type = ValueType::kArray;
  nested.array = {IntArray(ValueType::kInt16, {1, 2, 3}), IntArray(ValueType::kInt16, {}),
                  IntArray(ValueType::kInt16, {-4})};
  w.AddValue("t.nested", nested);
  Value u64s;
  u64s.type = ValueType::kArray;
  u64s.elem_type = ValueType::kUint64;
  for (uint64_t x : {uint64_t{0}, uint64_t{1} << 63}) {
    Value e;
    e.type = ValueType::kUint64;
    e.u = x;
    u64s.array.push_back(e);
  }
  w.AddValue("t.u64s", u64s);
}

struct TensorCase {
  std::string name;
  std::vector<int64_t> ne;
  GgmlType type;
  float max_abs_error;  // for N(0, 0.5) data; 0 = exact
};

const std::vector<TensorCase>& AllDtypes() {
  static const auto* cases = new std::vector<TensorCase>{
      {"t.f32", {64, 3}, GgmlType::kF32, 0},
      {"t.f16", {32, 2, 2}, GgmlType::kF16, 0},   // compared with the rounded input
      {"t.bf16", {16}, GgmlType::kBF16, 0},       // compared with the rounded input
      {"t.q8_0", {64, 2}, GgmlType::kQ8_0, 0.02f},
      {"t.q4_0", {32, 3}, GgmlType::kQ4_0, 0.25f},
      {"t.q4_k", {256, 2}, GgmlType::kQ4_K, 0.2f},
      {"t.q6_k", {512, 1, 1, 1}, GgmlType::kQ6_K, 0.05f},
  };
  return *cases;
}

int64_t Elements(const std::vector<int64_t>& ne) {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

// Dequantize(Quantize(x)) computed here, independent of the writer's chunking.
std::vector<float> QuantRoundTrip(GgmlType type, const std::vector<float>& x) {
  std::vector<uint8_t> q(*RowBytes(type, static_cast<int64_t>(x.size())));
  EXPECT_TRUE(Quantize(type, x.data(), q.data(), static_cast<int64_t>(x.size())).ok());
  std::vector<float> y(x.size());
  Dequantize(type, q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

TEST(GgufWriterTest, RoundTripsEveryValueTypeAndDtype) {
  const std::string path = TempPath("roundtrip.gguf");
  GgufWriter w;
  AddAllMetadata(w);
  std::vector<std::vector<float>> inputs;
  for (size_t i = 0; i < AllDtypes().size(); ++i) {
    const TensorCase& c = AllDtypes()[i];
    w.AddTensor(c.name, c.ne, c.type);
    inputs.push_back(RandomFloats(static_cast<size_t>(Elements(c.ne)), 100 + i));
  }
  ASSERT_TRUE(w.Open(path).ok());
  for (size_t i = 0; i < AllDtypes().size(); ++i) {
    const TensorCase& c = AllDtypes()[i];
    // Row by row: several calls per tensor.
    const size_t row = static_cast<size_t>(c.ne[0]);
    for (size_t r = 0; r < inputs[i].size(); r += row) {
      ASSERT_TRUE(w.WriteTensorF32(c.name, absl::MakeConstSpan(inputs[i]).subspan(r, row)).ok());
    }
  }
  ASSERT_TRUE(w.Close().ok());

  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  const GgufFile& g = **file;
  EXPECT_EQ(g.version(), 3u);

  // Metadata: same keys in the same order with identical values.
  GgufWriter expected_writer;
  AddAllMetadata(expected_writer);
  std::vector<KeyValue> expected;
  {
    // Re-create the values through a second file with no tensors (checks a no-tensor file too).
    const std::string meta_path = TempPath("meta_only.gguf");
    ASSERT_TRUE(expected_writer.Open(meta_path).ok());
    ASSERT_TRUE(expected_writer.Close().ok());
    auto meta = GgufFile::Open(meta_path);
    ASSERT_TRUE(meta.ok()) << meta.status();
    expected = (*meta)->metadata();
  }
  ASSERT_EQ(g.metadata().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(g.metadata()[i].key, expected[i].key);
    ExpectSameValue(g.metadata()[i].value, expected[i].value, expected[i].key);
  }
  // And spot checks against the literals, so the comparison above is not vacuous.
  EXPECT_EQ(*g.GetString("general.architecture"), "gemma4");
  EXPECT_EQ(g.Find("t.u8")->u, 250u);
  EXPECT_EQ(g.Find("t.i8")->i, -128);
  EXPECT_EQ(g.Find("t.u16")->u, 65535u);
  EXPECT_EQ(g.Find("t.i16")->i, -32768);
  EXPECT_EQ(*g.GetU32("t.u32"), 4294967295u);
  EXPECT_EQ(g.Find("t.i32")->i, -2147483647 - 1);
  EXPECT_EQ(g.Find("t.u64")->u, 18446744073709551615ull);
  EXPECT_EQ(g.Find("t.i64")->i, -9223372036854775807ll - 1);
  EXPECT_EQ(*g.GetF32("t.f32"), 3.14159f);
  EXPECT_EQ(g.Find("t.f64")->f, 2.718281828459045);
  EXPECT_TRUE(*g.GetBool("t.bool_true"));
  EXPECT_FALSE(*g.GetBool("t.bool_false"));
  EXPECT_EQ(*g.GetString("t.empty_string"), "");
  EXPECT_EQ(*g.GetIntOrArray("t.i32s", 4), (std::vector<int64_t>{1, -2, 3, 2147483647}));
  EXPECT_EQ(*g.GetIntOrArray("t.u32s", 2), (std::vector<int64_t>{0, 4294967295}));
  EXPECT_EQ(*g.GetIntOrArray("t.bools", 3), (std::vector<int64_t>{1, 0, 1}));
  ASSERT_EQ(g.Find("t.f32s")->array.size(), 3u);
  EXPECT_EQ(g.Find("t.f32s")->array[1].f, static_cast<double>(-1e-8f));
  EXPECT_EQ(*g.GetStringArray("tokenizer.ggml.tokens"),
            (std::vector<std::string>{"<pad>", "", "héllo", std::string("a\0b", 3)}));
  const Value& nested = *g.Find("t.nested");
  ASSERT_EQ(nested.array.size(), 3u);
  EXPECT_EQ(nested.array[0].elem_type, ValueType::kInt16);
  EXPECT_EQ(nested.array[0].array[2].i, 3);
  EXPECT_TRUE(nested.array[1].array.empty());
  EXPECT_EQ(nested.array[2].array[0].i, -4);
  EXPECT_EQ(g.Find("t.u64s")->array[1].u, uint64_t{1} << 63);

  // Tensors: shapes, types, aligned offsets, and data.
  ASSERT_EQ(g.tensors().size(), AllDtypes().size());
  for (size_t i = 0; i < AllDtypes().size(); ++i) {
    const TensorCase& c = AllDtypes()[i];
    SCOPED_TRACE(c.name);
    const TensorInfo* t = g.FindTensor(c.name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t, &g.tensors()[i]);  // declaration order is file order
    EXPECT_EQ(t->ne, c.ne);
    EXPECT_EQ(t->type, c.type);
    EXPECT_EQ(t->offset % 32, 0u);
    auto got = g.ReadAsF32(*t);
    ASSERT_TRUE(got.ok()) << got.status();
    const std::vector<float>& x = inputs[i];
    ASSERT_EQ(got->size(), x.size());
    const std::vector<float> expected_q = QuantRoundTrip(c.type, x);
    for (size_t k = 0; k < x.size(); ++k) {
      switch (c.type) {
        case GgmlType::kF32: ASSERT_EQ((*got)[k], x[k]) << k; break;
        case GgmlType::kF16: ASSERT_EQ((*got)[k], HalfToFloat(FloatToHalf(x[k]))) << k; break;
        case GgmlType::kBF16: ASSERT_EQ((*got)[k], RoundToBf16(x[k])) << k; break;
        default:
          ASSERT_LE(std::fabs((*got)[k] - x[k]), c.max_abs_error) << k;
          ASSERT_EQ((*got)[k], expected_q[k]) << k;
      }
    }
  }
}

TEST(GgufWriterTest, StreamsLargeTensorInChunks) {
  // 600 rows of 256 q4_k: larger than one quantization chunk, written in three calls.
  const std::string path = TempPath("stream.gguf");
  const std::vector<float> x = RandomFloats(256 * 600, 5);
  GgufWriter w;
  w.AddTensor("big", {256, 600}, GgmlType::kQ4_K);
  w.AddTensor("after", {32}, GgmlType::kQ8_0);
  ASSERT_TRUE(w.Open(path).ok());
  const auto span = absl::MakeConstSpan(x);
  ASSERT_TRUE(w.WriteTensorF32("big", span.subspan(0, 256 * 100)).ok());
  ASSERT_TRUE(w.WriteTensorF32("big", span.subspan(256 * 100, 256 * 450)).ok());
  ASSERT_TRUE(w.WriteTensorF32("big", span.subspan(256 * 550)).ok());
  ASSERT_TRUE(w.WriteTensorF32("after", span.subspan(0, 32)).ok());
  ASSERT_TRUE(w.Close().ok());
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  auto got = (*file)->ReadAsF32((*file)->tensors()[0]);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, QuantRoundTrip(GgmlType::kQ4_K, x));
  EXPECT_EQ((*file)->tensors()[1].offset % 32, 0u);
}

TEST(GgufWriterTest, Alignment64) {
  const std::string path = TempPath("align64.gguf");
  GgufWriter w(64);
  w.AddString("general.name", "x");
  w.AddTensor("a", {3}, GgmlType::kF32);  // 12 bytes: the next tensor needs padding
  w.AddTensor("b", {5}, GgmlType::kF16);
  ASSERT_TRUE(w.Open(path).ok());
  ASSERT_TRUE(w.WriteTensorF32("a", std::vector<float>{1, 2, 3}).ok());
  ASSERT_TRUE(w.WriteTensorF32("b", std::vector<float>{4, 5, 6, 7, 8}).ok());
  ASSERT_TRUE(w.Close().ok());
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  const GgufFile& g = **file;
  EXPECT_EQ(g.alignment(), 64u);
  EXPECT_EQ(*g.GetU32("general.alignment"), 64u);
  EXPECT_EQ(g.data_offset() % 64, 0u);
  EXPECT_EQ(g.tensors()[1].offset, 64u);
  EXPECT_EQ(g.file_size() % 64, 0u);  // padded after the last tensor too
  EXPECT_EQ(*g.ReadAsF32(g.tensors()[0]), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(*g.ReadAsF32(g.tensors()[1]), (std::vector<float>{4, 5, 6, 7, 8}));
}

TEST(GgufWriterTest, Version2ImageReadsTheSame) {
  // v2 has the v3 layout; patch the version field of a written file.
  const std::string path = TempPath("v2.gguf");
  GgufWriter w;
  w.AddU32("k", 5);
  w.AddTensor("t", {32}, GgmlType::kQ8_0);
  ASSERT_TRUE(w.Open(path).ok());
  ASSERT_TRUE(w.WriteTensorF32("t", RandomFloats(32, 9)).ok());
  ASSERT_TRUE(w.Close().ok());
  std::string bytes = ReadAll(path);
  ASSERT_EQ(bytes[4], 3);
  bytes[4] = 2;
  auto v2 = GgufFile::FromBytes(bytes, "v2.gguf");
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ((*v2)->version(), 2u);
  EXPECT_EQ(*(*v2)->GetU32("k"), 5u);
  bytes[4] = 1;
  auto v1 = GgufFile::FromBytes(bytes, "v1.gguf");
  EXPECT_EQ(v1.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(v1.status().message().find("v1.gguf: header: GGUF version 1"), std::string::npos)
      << v1.status();
}

TEST(GgufWriterTest, CopiesRawBytes) {
  const std::string src_path = TempPath("src.gguf");
  const std::string dst_path = TempPath("dst.gguf");
  GgufWriter w;
  w.AddTensor("q", {256, 2}, GgmlType::kQ6_K);
  ASSERT_TRUE(w.Open(src_path).ok());
  ASSERT_TRUE(w.WriteTensorF32("q", RandomFloats(512, 11)).ok());
  ASSERT_TRUE(w.Close().ok());
  auto src = GgufFile::Open(src_path);
  ASSERT_TRUE(src.ok());
  const TensorInfo& t = (*src)->tensors()[0];

  GgufWriter copy;
  copy.AddTensor("q", t.ne, t.type);
  ASSERT_TRUE(copy.Open(dst_path).ok());
  // Two pieces, split mid-block: raw bytes need not be block-aligned per call.
  ASSERT_TRUE(copy.WriteTensorBytes("q", absl::MakeConstSpan(t.data, 100)).ok());
  ASSERT_TRUE(copy.WriteTensorBytes("q", absl::MakeConstSpan(t.data + 100, t.nbytes - 100)).ok());
  ASSERT_TRUE(copy.Close().ok());
  EXPECT_EQ(ReadAll(src_path), ReadAll(dst_path));
}

// ----- writer usage errors -------------------------------------------------------------------

void ExpectError(const absl::Status& s, absl::StatusCode code,
                 const std::vector<std::string>& words) {
  EXPECT_EQ(s.code(), code) << s;
  for (const std::string& w : words) {
    EXPECT_NE(s.message().find(w), std::string::npos) << w << " not in: " << s;
  }
}

TEST(GgufWriterErrorTest, DuplicateKey) {
  GgufWriter w;
  w.AddU32("a", 1);
  w.AddString("a", "x");
  ExpectError(w.Open(TempPath("dupkey.gguf")), absl::StatusCode::kInvalidArgument,
              {"dupkey.gguf", "key 'a'", "duplicate"});
}

TEST(GgufWriterErrorTest, DuplicateTensor) {
  GgufWriter w;
  w.AddTensor("t", {4}, GgmlType::kF32);
  w.AddTensor("t", {4}, GgmlType::kF32);
  ExpectError(w.Open(TempPath("duptensor.gguf")), absl::StatusCode::kInvalidArgument,
              {"tensor 't'", "duplicate"});
}

TEST(GgufWriterErrorTest, BadShapes) {
  GgufWriter w1;
  w1.AddTensor("t", {33}, GgmlType::kQ4_0);
  ExpectError(w1.Open(TempPath("bad.gguf")), absl::StatusCode::kInvalidArgument,
              {"tensor 't'", "multiple of the q4_0 block size 32"});
  GgufWriter w2;
  w2.AddTensor("t", {4, 0}, GgmlType::kF32);
  ExpectError(w2.Open(TempPath("bad.gguf")), absl::StatusCode::kInvalidArgument,
              {"tensor 't'", "ne[1] = 0"});
  GgufWriter w3;
  w3.AddTensor("t", {1, 1, 1, 1, 1}, GgmlType::kF32);
  ExpectError(w3.Open(TempPath("bad.gguf")), absl::StatusCode::kInvalidArgument,
              {"tensor 't'", "5 dimensions"});
}

TEST(GgufWriterErrorTest, BadAlignment) {
  GgufWriter w(48);
  ExpectError(w.Open(TempPath("align.gguf")), absl::StatusCode::kInvalidArgument,
              {"alignment 48"});
  GgufWriter w2(64);
  w2.AddU32("general.alignment", 32);  // disagrees with the writer
  ExpectError(w2.Open(TempPath("align.gguf")), absl::StatusCode::kInvalidArgument,
              {"general.alignment", "64"});
}

TEST(GgufWriterErrorTest, MalformedArrayValue) {
  GgufWriter w;
  Value v = IntArray(ValueType::kInt32, {1});
  v.array[0].type = ValueType::kInt64;  // differs from elem_type
  w.AddValue("arr", v);
  ExpectError(w.Open(TempPath("arr.gguf")), absl::StatusCode::kInvalidArgument,
              {"key 'arr'", "elem_type"});
}

TEST(GgufWriterErrorTest, OrderAndCountChecks) {
  GgufWriter w;
  w.AddTensor("a", {32}, GgmlType::kQ8_0);
  w.AddTensor("b", {4}, GgmlType::kF32);
  const std::vector<float> x32(32, 1.0f), x4(4, 1.0f);
  ExpectError(w.WriteTensorF32("a", x32), absl::StatusCode::kFailedPrecondition,
              {"not open"});
  ASSERT_TRUE(w.Open(TempPath("order.gguf")).ok());
  ExpectError(w.WriteTensorF32("b", x4), absl::StatusCode::kFailedPrecondition,
              {"tensor 'b'", "out of order", "tensor 'a'", "0 of 34 bytes"});
  ExpectError(w.WriteTensorF32("zz", x4), absl::StatusCode::kNotFound, {"tensor 'zz'"});
  ExpectError(w.WriteTensorF32("a", std::vector<float>(16, 1.0f)),
              absl::StatusCode::kInvalidArgument, {"tensor 'a'", "multiple of 32"});
  ASSERT_TRUE(w.WriteTensorF32("a", x32).ok());
  ExpectError(w.WriteTensorF32("a", x32), absl::StatusCode::kInvalidArgument,
              {"tensor 'a'", "at most 0 bytes"});
  ASSERT_TRUE(w.WriteTensorF32("b", std::vector<float>(2, 1.0f)).ok());
  ExpectError(w.Close(), absl::StatusCode::kFailedPrecondition,
              {"tensor 'b'", "incomplete", "8 of 16 bytes"});
}

TEST(GgufWriterErrorTest, CloseWithUnwrittenTensor) {
  GgufWriter w;
  w.AddTensor("a", {4}, GgmlType::kF32);
  w.AddTensor("b", {4}, GgmlType::kF32);
  ASSERT_TRUE(w.Open(TempPath("unwritten.gguf")).ok());
  ASSERT_TRUE(w.WriteTensorF32("a", std::vector<float>(4, 0.0f)).ok());
  ExpectError(w.Close(), absl::StatusCode::kFailedPrecondition,
              {"unwritten.gguf", "tensor 'b'", "incomplete", "0 of 16"});
  ExpectError(w.Close(), absl::StatusCode::kFailedPrecondition, {"not open"});
}

TEST(GgufWriterErrorTest, CannotCreateFile) {
  GgufWriter w;
  const std::string path = TempPath("no_such_dir/x.gguf");
  const absl::Status s = w.Open(path);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
}

}  // namespace
}  // namespace g4::gguf

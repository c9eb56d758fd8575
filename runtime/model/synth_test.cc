// Synthetic models: written files read back through the GGUF reader give the preset config,
// exactly the ModelTensors tensors with the right shapes and dtypes, the metadata types of spec
// §4.2, and the data of the deterministic generator. Also ConfigFromGguf's error messages.
#include "model/synth.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/model_config.h"

namespace g4 {
namespace {

using gguf::GgmlType;
using gguf::GgufFile;
using gguf::ValueType;
using ::testing::HasSubstr;

ModelConfig Preset(const std::string& name) {
  absl::StatusOr<ModelConfig> c = PresetConfig(name);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : ModelConfig();
}

std::string TempPath(const std::string& stem) {
  return absl::StrCat(::testing::TempDir(), "/g4model_", stem, "_", getpid(), ".gguf");
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// What the reader should return for a tensor written from `values` as `type`.
std::vector<float> AsStored(const std::vector<float>& values, GgmlType type) {
  if (type == GgmlType::kF32) return values;
  std::vector<uint8_t> bytes(*gguf::RowBytes(type, static_cast<int64_t>(values.size())));
  EXPECT_TRUE(gguf::Quantize(type, values.data(), bytes.data(), values.size()).ok());
  std::vector<float> out(values.size());
  gguf::Dequantize(type, bytes.data(), out.data(), out.size());
  return out;
}

double Mean(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s / v.size();
}
double StdDev(const std::vector<float>& v) {
  double m = Mean(v), s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return std::sqrt(s / v.size());
}

// ---------------------------------------------------------------------------------------------
// Round trip for every tiny preset and every dtype.

struct RoundTripCase {
  std::string preset;
  GgmlType dtype;
};

class SynthRoundTripTest : public ::testing::TestWithParam<RoundTripCase> {};

// Expected metadata types (spec §4.2, §4.3). Arrays: elem type given.
void CheckKeyTypes(const GgufFile& f, const ModelConfig& c) {
  struct Expect {
    std::string key;
    ValueType type;
    ValueType elem = ValueType::kUint8;
  };
  const bool ff_array = c.ff != std::vector<int>(c.ff.size(), c.ff[0]);
  const bool kv_array = c.kv_heads_sliding != c.kv_heads_full;
  const ValueType U32 = ValueType::kUint32, F32 = ValueType::kFloat32, ARR = ValueType::kArray;
  std::vector<Expect> expect = {
      {"general.architecture", ValueType::kString},
      {"general.name", ValueType::kString},
      {"general.alignment", U32},
      {"general.file_type", U32},
      {"general.quantization_version", U32},
      {"gemma4.context_length", U32},
      {"gemma4.embedding_length", U32},
      {"gemma4.block_count", U32},
      {"gemma4.feed_forward_length", ff_array ? ARR : U32, ValueType::kInt32},
      {"gemma4.attention.head_count", U32},
      {"gemma4.attention.head_count_kv", kv_array ? ARR : U32, ValueType::kInt32},
      {"gemma4.attention.key_length", U32},
      {"gemma4.attention.value_length", U32},
      {"gemma4.attention.key_length_swa", U32},
      {"gemma4.attention.value_length_swa", U32},
      {"gemma4.rope.dimension_count", U32},
      {"gemma4.rope.dimension_count_swa", U32},
      {"gemma4.rope.freq_base", F32},
      {"gemma4.rope.freq_base_swa", F32},
      {"gemma4.attention.layer_norm_rms_epsilon", F32},
      {"gemma4.attention.sliding_window", U32},
      {"gemma4.attention.sliding_window_pattern", ARR, ValueType::kBool},
      {"gemma4.attention.shared_kv_layers", U32},
      {"gemma4.embedding_length_per_layer_input", U32},
      {"gemma4.final_logit_softcapping", F32},
      {"tokenizer.ggml.model", ValueType::kString},
      {"tokenizer.ggml.tokens", ARR, ValueType::kString},
      {"tokenizer.ggml.scores", ARR, F32},
      {"tokenizer.ggml.token_type", ARR, ValueType::kInt32},
      {"tokenizer.ggml.merges", ARR, ValueType::kString},
      {"tokenizer.ggml.bos_token_id", U32},
      {"tokenizer.ggml.eos_token_id", U32},
      {"tokenizer.ggml.unknown_token_id", U32},
      {"tokenizer.ggml.padding_token_id", U32},
      {"tokenizer.ggml.add_bos_token", ValueType::kBool},
      {"tokenizer.ggml.add_space_prefix", ValueType::kBool},
  };
  for (const char* key : {"gemma4.expert_count", "gemma4.expert_used_count",
                          "gemma4.expert_feed_forward_length"}) {
    if (c.IsMoe()) {
      expect.push_back({key, U32});
    } else {
      EXPECT_EQ(f.Find(key), nullptr) << key << " on a dense model";
    }
  }
  for (const Expect& e : expect) {
    const gguf::Value* v = f.Find(e.key);
    ASSERT_NE(v, nullptr) << e.key;
    EXPECT_EQ(v->type, e.type) << e.key;
    if (e.type == ARR) EXPECT_EQ(v->elem_type, e.elem) << e.key;
  }
  EXPECT_EQ(*f.GetString("general.architecture"), "gemma4");
  EXPECT_EQ(*f.GetU32("general.alignment"), 32u);
  EXPECT_EQ(*f.GetU32("general.quantization_version"), 2u);
  EXPECT_EQ(*f.GetU32("gemma4.attention.key_length"), 512u);
  EXPECT_EQ(*f.GetU32("gemma4.attention.key_length_swa"), 256u);
  EXPECT_EQ(*f.GetF32("gemma4.rope.freq_base"), 1e6f);
  EXPECT_EQ(*f.GetF32("gemma4.rope.freq_base_swa"), 1e4f);
  EXPECT_EQ(*f.GetU32("tokenizer.ggml.bos_token_id"), 2u);
  EXPECT_EQ(*f.GetU32("tokenizer.ggml.eos_token_id"), 1u);
  EXPECT_EQ(*f.GetString("tokenizer.ggml.model"), "gemma4");
  EXPECT_EQ(f.Find("tokenizer.ggml.tokens")->array.size(), static_cast<size_t>(c.vocab));
}

TEST_P(SynthRoundTripTest, ReadsBackAsWritten) {
  const RoundTripCase& tc = GetParam();
  const ModelConfig config = Preset(tc.preset);
  const uint64_t seed = 1234;
  const std::string path =
      TempPath(absl::StrCat(tc.preset, "_", gguf::Traits(tc.dtype).name));
  ASSERT_TRUE(WriteSyntheticModel(config, tc.dtype, seed, path).ok());
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  const GgufFile& f = **file;

  absl::StatusOr<ModelConfig> read = ConfigFromGguf(f);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(*read == config) << DiffConfigs(*read, config);
  EXPECT_EQ(*f.GetU32("general.file_type"), FileTypeFor(tc.dtype));
  CheckKeyTypes(f, config);

  // Exactly the ModelTensors tensors, in order, with their ne and dtype, holding the stream.
  const std::vector<TensorSpec> specs = ModelTensors(config);
  ASSERT_EQ(f.tensors().size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const gguf::TensorInfo& t = f.tensors()[i];
    SCOPED_TRACE(specs[i].name);
    EXPECT_EQ(t.name, specs[i].name);
    EXPECT_EQ(t.ne, specs[i].ne);
    EXPECT_EQ(t.type, specs[i].matrix ? tc.dtype : GgmlType::kF32);
    absl::StatusOr<std::vector<float>> data = f.ReadAsF32(t);
    ASSERT_TRUE(data.ok()) << data.status();
    std::vector<float> expected = AsStored(SynthTensorData(config, specs[i], seed), t.type);
    ASSERT_EQ(data->size(), expected.size());
    size_t mismatches = 0;
    for (size_t j = 0; j < expected.size(); ++j) {
      // Bitwise: the same stream through the same quantizer.
      if (std::memcmp(&(*data)[j], &expected[j], sizeof(float)) != 0) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0u);
  }
  std::remove(path.c_str());
}

std::vector<RoundTripCase> AllCases() {
  std::vector<RoundTripCase> cases;
  for (const char* preset : {"tiny-e2b", "tiny-moe", "tiny-31b"}) {
    for (GgmlType t : {GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16, GgmlType::kQ8_0,
                       GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1,
                       GgmlType::kIQ4_NL, GgmlType::kMXFP4}) {
      cases.push_back({preset, t});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(TinyPresets, SynthRoundTripTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<RoundTripCase>& info) {
                           std::string name = absl::StrCat(info.param.preset, "_",
                                                           gguf::Traits(info.param.dtype).name);
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

// ---------------------------------------------------------------------------------------------

TEST(SynthTest, SameSeedSameBytesOtherSeedOtherBytes) {
  const ModelConfig c = Preset("tiny-moe");
  const std::string a = TempPath("det_a"), b = TempPath("det_b"), other = TempPath("det_c");
  ASSERT_TRUE(WriteSyntheticModel(c, GgmlType::kQ4_0, 7, a).ok());
  ASSERT_TRUE(WriteSyntheticModel(c, GgmlType::kQ4_0, 7, b).ok());
  ASSERT_TRUE(WriteSyntheticModel(c, GgmlType::kQ4_0, 8, other).ok());
  const std::string bytes_a = ReadBytes(a);
  EXPECT_GT(bytes_a.size(), 1000000u);
  EXPECT_EQ(bytes_a, ReadBytes(b));
  const std::string bytes_other = ReadBytes(other);
  EXPECT_EQ(bytes_a.size(), bytes_other.size());
  EXPECT_NE(bytes_a, bytes_other);
  for (const std::string& p : {a, b, other}) std::remove(p.c_str());
}

TEST(SynthTest, StreamIsIndependentOfChunking) {
  const ModelConfig c = Preset("tiny-e2b");
  const TensorSpec spec{"blk.3.attn_q.weight", {128, 512}, true};
  const std::vector<float> whole = SynthTensorData(c, spec, 99);
  SynthTensorStream stream(c, spec, 99);
  std::vector<float> pieces(whole.size());
  size_t done = 0;
  for (size_t n : {1u, 7u, 100u, 4095u}) {
    stream.Fill(absl::MakeSpan(pieces.data() + done, n));
    done += n;
  }
  stream.Fill(absl::MakeSpan(pieces.data() + done, pieces.size() - done));
  EXPECT_EQ(pieces, whole);
}

TEST(SynthTest, WeightStatistics) {
  const ModelConfig c = Preset("tiny-e2b");
  std::map<std::string, TensorSpec> specs;
  for (const TensorSpec& t : ModelTensors(c)) specs[t.name] = t;
  auto data = [&](const std::string& name) { return SynthTensorData(c, specs.at(name), 5); };

  // Tied logits std ~3: token_embd std 3/sqrt(H).
  std::vector<float> embd = data("token_embd.weight");
  EXPECT_NEAR(StdDev(embd), 3.0 / std::sqrt(128.0), 0.1 * 3.0 / std::sqrt(128.0));
  EXPECT_NEAR(Mean(embd), 0.0, 0.01);

  std::vector<float> q = data("blk.0.attn_q.weight");  // fan-in 128
  EXPECT_NEAR(StdDev(q), 1.0 / std::sqrt(128.0), 0.05 / std::sqrt(128.0));
  std::vector<float> down = data("blk.7.ffn_down.weight");  // fan-in 512
  EXPECT_NEAR(StdDev(down), 1.0 / std::sqrt(512.0), 0.05 / std::sqrt(512.0));
  std::vector<float> ple = data("per_layer_token_embd.weight");  // 1/sqrt(P)
  EXPECT_NEAR(StdDev(ple), 1.0 / 8.0, 0.05 / 8.0);

  std::vector<float> norm = data("blk.2.post_attention_norm.weight");
  EXPECT_NEAR(Mean(norm), 1.0, 0.03);
  EXPECT_NEAR(StdDev(norm), 0.1, 0.02);

  for (int i = 0; i < c.num_layers; ++i) {
    float s = data(absl::StrCat("blk.", i, ".layer_output_scale.weight"))[0];
    EXPECT_GE(s, 0.3f);
    EXPECT_LT(s, 1.0f);
  }

  std::vector<float> freqs = data("rope_freqs.weight");
  ASSERT_EQ(freqs.size(), 256u);
  for (size_t i = 0; i < freqs.size(); ++i) EXPECT_EQ(freqs[i], i < 64 ? 1.0f : 1e30f) << i;

  // Normal tails exist (not a bounded approximation) but are not absurd.
  float max_abs = 0;
  for (float x : embd) max_abs = std::max(max_abs, std::fabs(x));
  EXPECT_GT(max_abs, 3.5 * 3.0 / std::sqrt(128.0));
  EXPECT_LT(max_abs, 7.0 * 3.0 / std::sqrt(128.0));
}

TEST(SynthTest, MoeScales) {
  const ModelConfig c = Preset("tiny-moe");
  std::map<std::string, TensorSpec> specs;
  for (const TensorSpec& t : ModelTensors(c)) specs[t.name] = t;
  std::vector<float> router = SynthTensorData(c, specs.at("blk.0.ffn_gate_inp.weight"), 5);
  EXPECT_NEAR(StdDev(router), 1.0, 0.1);
  std::vector<float> gate_up = SynthTensorData(c, specs.at("blk.0.ffn_gate_up_exps.weight"), 5);
  EXPECT_NEAR(StdDev(gate_up), 1.0 / std::sqrt(128.0), 0.03 / std::sqrt(128.0));
  std::vector<float> down = SynthTensorData(c, specs.at("blk.0.ffn_down_exps.weight"), 5);
  EXPECT_NEAR(StdDev(down), 1.0 / 8.0, 0.03 / 8.0);  // fan-in 64
}

TEST(SynthTest, RejectsDtypeThatDoesNotFitRows) {
  const std::string path = TempPath("q4k");
  absl::Status s = WriteSyntheticModel(Preset("tiny-e2b"), GgmlType::kQ4_K, 1, path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("token_embd.weight"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("256"));
  EXPECT_FALSE(std::ifstream(path).good());
}

TEST(SynthTest, RejectsInvalidConfig) {
  ModelConfig c = Preset("tiny-31b");
  c.ff.clear();
  EXPECT_EQ(WriteSyntheticModel(c, GgmlType::kF32, 1, TempPath("bad")).code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// ConfigFromGguf errors, on metadata-only copies of a synthetic file with one key changed.

class ConfigFromGgufErrorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    source_path_ = new std::string(TempPath("error_source"));
    ASSERT_TRUE(WriteSyntheticModel(Preset("tiny-e2b"), GgmlType::kF32, 1, *source_path_).ok());
  }
  static void TearDownTestSuite() {
    std::remove(source_path_->c_str());
    delete source_path_;
  }

  // Copies the metadata (no tensors), lets `edit` change it, and reads the config back.
  absl::Status ReadEdited(const std::function<void(std::vector<gguf::KeyValue>*)>& edit,
                          std::string* path_out) {
    auto src = GgufFile::Open(*source_path_);
    EXPECT_TRUE(src.ok());
    std::vector<gguf::KeyValue> kv = (*src)->metadata();
    edit(&kv);
    gguf::GgufWriter w;
    for (const gguf::KeyValue& e : kv) w.AddValue(e.key, e.value);
    *path_out = TempPath("edited");
    EXPECT_TRUE(w.Open(*path_out).ok());
    EXPECT_TRUE(w.Close().ok());
    auto file = GgufFile::Open(*path_out);
    EXPECT_TRUE(file.ok()) << file.status();
    absl::Status s = ConfigFromGguf(**file).status();
    std::remove(path_out->c_str());
    return s;
  }

  static void Set(std::vector<gguf::KeyValue>* kv, const std::string& key, gguf::Value v) {
    for (gguf::KeyValue& e : *kv) {
      if (e.key == key) e.value = std::move(v);
    }
  }
  static void Remove(std::vector<gguf::KeyValue>* kv, const std::string& key) {
    kv->erase(std::remove_if(kv->begin(), kv->end(),
                             [&](const gguf::KeyValue& e) { return e.key == key; }),
              kv->end());
  }
  static gguf::Value String(const std::string& s) {
    gguf::Value v;
    v.type = ValueType::kString;
    v.s = s;
    return v;
  }
  static gguf::Value IntArray(ValueType elem, std::vector<int64_t> xs) {
    gguf::Value v;
    v.type = ValueType::kArray;
    v.elem_type = elem;
    for (int64_t x : xs) {
      gguf::Value e;
      e.type = elem;
      e.i = x;
      e.u = static_cast<uint64_t>(x);
      v.array.push_back(e);
    }
    return v;
  }

  void ExpectError(const absl::Status& s, const std::string& path, const std::string& key) {
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.message()), HasSubstr(path));
    EXPECT_THAT(std::string(s.message()), HasSubstr(key));
  }

  static std::string* source_path_;
};
std::string* ConfigFromGgufErrorTest::source_path_ = nullptr;

TEST_F(ConfigFromGgufErrorTest, UnchangedCopyReadsBack) {
  std::string path;
  EXPECT_TRUE(ReadEdited([](std::vector<gguf::KeyValue>*) {}, &path).ok());
}

TEST_F(ConfigFromGgufErrorTest, WrongArchitecture) {
  std::string path;
  absl::Status s = ReadEdited(
      [](auto* kv) { Set(kv, "general.architecture", String("llama")); }, &path);
  ExpectError(s, path, "general.architecture");
  EXPECT_THAT(std::string(s.message()), HasSubstr("llama"));
}

TEST_F(ConfigFromGgufErrorTest, MissingRequiredKey) {
  std::string path;
  absl::Status s = ReadEdited([](auto* kv) { Remove(kv, "gemma4.block_count"); }, &path);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  ExpectError(s, path, "gemma4.block_count");
  s = ReadEdited([](auto* kv) { Remove(kv, "gemma4.attention.key_length_swa"); }, &path);
  ExpectError(s, path, "gemma4.attention.key_length_swa");
}

TEST_F(ConfigFromGgufErrorTest, OptionalKeysDefaultAsLlamaCpp) {
  std::string path;
  // Removing the softcap (default 30) and the SWA base (default 1e4) changes nothing here.
  EXPECT_TRUE(ReadEdited(
                  [](auto* kv) {
                    Remove(kv, "gemma4.final_logit_softcapping");
                    Remove(kv, "gemma4.rope.freq_base_swa");
                  },
                  &path)
                  .ok());
}

TEST_F(ConfigFromGgufErrorTest, WrongKeyType) {
  std::string path;
  absl::Status s = ReadEdited(
      [](auto* kv) { Set(kv, "gemma4.embedding_length", String("128")); }, &path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  ExpectError(s, path, "gemma4.embedding_length");

  s = ReadEdited(
      [](auto* kv) {
        Set(kv, "gemma4.attention.sliding_window_pattern",
            IntArray(ValueType::kInt32, {1, 1, 1, 1, 0, 1, 1, 1, 1, 0}));
      },
      &path);
  ExpectError(s, path, "gemma4.attention.sliding_window_pattern");

  s = ReadEdited(
      [](auto* kv) { Set(kv, "gemma4.attention.layer_norm_rms_epsilon", String("1e-6")); },
      &path);
  ExpectError(s, path, "gemma4.attention.layer_norm_rms_epsilon");
}

TEST_F(ConfigFromGgufErrorTest, ImplausibleLayerCount) {
  std::string path;
  absl::Status s = ReadEdited(
      [](auto* kv) {
        gguf::Value v;
        v.type = ValueType::kUint32;
        v.u = 100000;
        Set(kv, "gemma4.block_count", v);
      },
      &path);
  ExpectError(s, path, "gemma4.block_count");
}

TEST_F(ConfigFromGgufErrorTest, ArrayOfWrongLength) {
  std::string path;
  absl::Status s = ReadEdited(
      [](auto* kv) {
        Set(kv, "gemma4.feed_forward_length",
            IntArray(ValueType::kInt32, {256, 256, 256, 256, 256, 512, 512, 512, 512}));
      },
      &path);
  ExpectError(s, path, "gemma4.feed_forward_length");
}

TEST_F(ConfigFromGgufErrorTest, KvHeadsDifferWithinLayerType) {
  std::string path;
  absl::Status s = ReadEdited(
      [](auto* kv) {
        Set(kv, "gemma4.attention.head_count_kv",
            IntArray(ValueType::kInt32, {1, 2, 1, 1, 1, 1, 1, 1, 1, 1}));
      },
      &path);
  ExpectError(s, path, "gemma4.attention.head_count_kv");
}

// ---------------------------------------------------------------------------------------------
// Timing of a full-size file (not part of the normal suite):
//   model_test --gtest_also_run_disabled_tests --gtest_filter='*WriteE2bQ8*'
// G4_SYNTH_OUT chooses the path (default /tmp); G4_SYNTH_KEEP=1 keeps the file.
TEST(SynthLargeTest, DISABLED_WriteE2bQ8) {
  const char* dir = std::getenv("G4_SYNTH_OUT");
  const std::string path = absl::StrCat(dir ? dir : "/tmp", "/synth_e2b_q8_0.gguf");
  const ModelConfig c = Preset("e2b");
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = WriteSyntheticModel(c, GgmlType::kQ8_0, 1, path);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(s.ok()) << s;
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<ModelConfig> read = ConfigFromGguf(**file);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(*read == c) << DiffConfigs(*read, c);
  printf("wrote %s: %.1f s, %.2f GB\n", path.c_str(), seconds, (*file)->file_size() / 1e9);
  file->reset();
  if (std::getenv("G4_SYNTH_KEEP") == nullptr) std::remove(path.c_str());
}

}  // namespace
}  // namespace g4

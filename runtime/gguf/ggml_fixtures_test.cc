// gemma4c's dequantizers against llama.cpp's, bit for bit, on blocks llama.cpp's own quantizer
// wrote (tests/fixtures/ggml/*.g4fx, made by tests/fixtures/ggml/make_fixtures.sh; the file
// layout is described there). For the types whose quantizer reproduces ggml's reference one
// (ggml_types.h), our quantizer must also write the same bytes from the same input.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/ggml_types.h"
#include "gtest/gtest.h"

namespace g4::gguf {
namespace {

struct Fixture {
  uint32_t type_id = 0;
  std::vector<float> input;
  std::vector<uint8_t> blocks;
  std::vector<float> ggml_dequantized;
};

// Reads one fixture; failures are test failures naming the file.
bool ReadFixture(const std::string& path, Fixture* fx) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    ADD_FAILURE() << path << ": cannot open";
    return false;
  }
  char magic[4];
  uint32_t header[4];
  bool ok = std::fread(magic, 1, 4, f) == 4 && std::memcmp(magic, "G4FX", 4) == 0 &&
            std::fread(header, 4, 4, f) == 4 && header[0] == 1;
  if (ok) {
    fx->type_id = header[1];
    fx->input.resize(header[2]);
    fx->blocks.resize(header[3]);
    fx->ggml_dequantized.resize(header[2]);
    ok = std::fread(fx->input.data(), 4, header[2], f) == header[2] &&
         std::fread(fx->blocks.data(), 1, header[3], f) == header[3] &&
         std::fread(fx->ggml_dequantized.data(), 4, header[2], f) == header[2] &&
         std::fgetc(f) == EOF;
  }
  std::fclose(f);
  if (!ok) ADD_FAILURE() << path << ": not a version-1 G4FX fixture";
  return ok;
}

struct Case {
  const char* file;        // tests/fixtures/ggml/<file>.g4fx (ggml's type name)
  GgmlType type;
  bool same_quantizer;     // our Quantize reproduces ggml's bytes
};

class GgmlFixtureTest : public ::testing::TestWithParam<Case> {};

TEST_P(GgmlFixtureTest, DequantizeMatchesGgmlBitForBit) {
  const Case& c = GetParam();
  Fixture fx;
  ASSERT_TRUE(ReadFixture(std::string(G4_GGML_FIXTURE_DIR) + "/" + c.file + ".g4fx", &fx));
  ASSERT_EQ(fx.type_id, static_cast<uint32_t>(c.type));
  const int64_t n = static_cast<int64_t>(fx.input.size());
  ASSERT_EQ(RowBytes(c.type, n), fx.blocks.size()) << "block size of " << Traits(c.type).name;
  std::vector<float> ours(fx.input.size());
  Dequantize(c.type, fx.blocks.data(), ours.data(), n);
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 8; ++i) {
    if (std::memcmp(&ours[i], &fx.ggml_dequantized[i], 4) != 0) {
      ++bad;
      ADD_FAILURE() << Traits(c.type).name << " element " << i << ": ours " << ours[i]
                    << ", ggml " << fx.ggml_dequantized[i];
    }
  }
}

// Where our quantizer is ggml's reference one: the same bytes. Where it has its own scale
// search: its round-trip error on the fixture input is at most 1.25x ggml's (sum of squares;
// the input's all-zero and constant blocks included).
TEST_P(GgmlFixtureTest, QuantizeMatchesOrRivalsGgml) {
  const Case& c = GetParam();
  Fixture fx;
  ASSERT_TRUE(ReadFixture(std::string(G4_GGML_FIXTURE_DIR) + "/" + c.file + ".g4fx", &fx));
  const int64_t n = static_cast<int64_t>(fx.input.size());
  std::vector<uint8_t> ours(fx.blocks.size());
  const absl::Status status = Quantize(c.type, fx.input.data(), ours.data(), n);
  ASSERT_TRUE(status.ok()) << status;
  if (c.same_quantizer) {
    const int64_t block_bytes = Traits(c.type).block_bytes;
    for (size_t i = 0; i < ours.size(); ++i) {
      ASSERT_EQ(ours[i], fx.blocks[i]) << Traits(c.type).name << " byte " << i << " (block "
                                       << i / block_bytes << ")";
    }
    return;
  }
  std::vector<float> deq(fx.input.size());
  Dequantize(c.type, ours.data(), deq.data(), n);
  double ours_err = 0, ggml_err = 0;
  for (int64_t i = 0; i < n; ++i) {
    ours_err += (double(deq[i]) - fx.input[i]) * (double(deq[i]) - fx.input[i]);
    ggml_err += (double(fx.ggml_dequantized[i]) - fx.input[i]) *
                (double(fx.ggml_dequantized[i]) - fx.input[i]);
  }
  std::printf("  %s round-trip sum of squared errors: ours %.4g, ggml %.4g\n",
              Traits(c.type).name, ours_err, ggml_err);
  EXPECT_LE(ours_err, 1.25 * ggml_err) << Traits(c.type).name;
}

INSTANTIATE_TEST_SUITE_P(
    Ggml, GgmlFixtureTest,
    ::testing::Values(Case{"q4_0", GgmlType::kQ4_0, true}, Case{"q4_1", GgmlType::kQ4_1, true},
                      Case{"q5_0", GgmlType::kQ5_0, true}, Case{"q5_1", GgmlType::kQ5_1, true},
                      Case{"q8_0", GgmlType::kQ8_0, true}, Case{"q2_K", GgmlType::kQ2_K, false},
                      Case{"q3_K", GgmlType::kQ3_K, false}, Case{"q4_K", GgmlType::kQ4_K, false},
                      Case{"q5_K", GgmlType::kQ5_K, false}, Case{"q6_K", GgmlType::kQ6_K, false},
                      Case{"iq4_nl", GgmlType::kIQ4_NL, false},
                      Case{"iq4_xs", GgmlType::kIQ4_XS, false},
                      Case{"mxfp4", GgmlType::kMXFP4, true}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.file); });

}  // namespace
}  // namespace g4::gguf

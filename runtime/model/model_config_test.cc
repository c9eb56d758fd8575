// Presets against the architecture spec's table (§1.1), the per-layer rules (§2.3, §2.4),
// validation errors, the tensor list (§4.4) and parameter counts.
#include "model/model_config.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace g4 {
namespace {

using ::testing::HasSubstr;

ModelConfig Preset(const std::string& name) {
  absl::StatusOr<ModelConfig> c = PresetConfig(name);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : ModelConfig();
}

std::vector<int> FullLayers(const ModelConfig& c) {
  std::vector<int> full;
  for (int i = 0; i < c.num_layers; ++i) {
    if (!c.Layer(i).sliding) full.push_back(i);
  }
  return full;
}

std::map<std::string, TensorSpec> TensorMap(const ModelConfig& c) {
  std::map<std::string, TensorSpec> m;
  for (const TensorSpec& t : ModelTensors(c)) m[t.name] = t;
  return m;
}

TEST(PresetTest, AllPresetsAreValid) {
  std::vector<std::string> names = PresetNames();
  EXPECT_EQ(names, (std::vector<std::string>{"e2b", "e4b", "26b-a4b", "31b", "tiny-e2b",
                                              "tiny-moe", "tiny-31b", "small-vocab"}));
  for (const std::string& name : names) {
    ModelConfig c = Preset(name);
    EXPECT_TRUE(c.Validate().ok()) << name << ": " << c.Validate();
  }
}

TEST(PresetTest, UnknownNameListsValidOnes) {
  absl::StatusOr<ModelConfig> c = PresetConfig("e3b");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("e3b"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("tiny-moe"));
}

TEST(PresetTest, E2bMatchesSpec) {
  ModelConfig c = Preset("e2b");
  EXPECT_EQ(c.name, "gemma4-e2b");
  EXPECT_EQ(c.num_layers, 35);
  EXPECT_EQ(c.hidden, 1536);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.vocab, 262144);
  EXPECT_EQ(FullLayers(c), (std::vector<int>{4, 9, 14, 19, 24, 29, 34}));
  EXPECT_EQ(c.FirstSharedLayer(), 15);
  EXPECT_EQ(c.ple_dim, 256);
  EXPECT_EQ(c.sliding_window, 512);
  EXPECT_EQ(c.context_length, 131072);
  EXPECT_FALSE(c.k_eq_v_full);
  EXPECT_FALSE(c.IsMoe());
  for (int i = 0; i < 35; ++i) {
    LayerInfo l = c.Layer(i);
    SCOPED_TRACE(absl::StrCat("layer ", i));
    EXPECT_EQ(l.ff, i < 15 ? 6144 : 12288);  // double-wide on the shared tail
    EXPECT_EQ(l.num_kv_heads, 1);
    EXPECT_EQ(l.owns_kv, i < 15);
    if (i < 15) {
      EXPECT_EQ(l.kv_source, i);
    } else {
      EXPECT_EQ(l.kv_source, l.sliding ? 13 : 14);
    }
    EXPECT_EQ(l.head_dim, l.sliding ? 256 : 512);
    EXPECT_EQ(l.rotary_dims, l.sliding ? 256 : 128);  // 64 rotating pairs of 256 on full layers
    EXPECT_EQ(l.rope_theta, l.sliding ? 1e4 : 1e6);
    EXPECT_FALSE(l.k_eq_v);
  }
}

TEST(PresetTest, E4bMatchesSpec) {
  ModelConfig c = Preset("e4b");
  EXPECT_EQ(c.num_layers, 42);
  EXPECT_EQ(c.hidden, 2560);
  EXPECT_EQ(FullLayers(c), (std::vector<int>{5, 11, 17, 23, 29, 35, 41}));
  EXPECT_EQ(c.FirstSharedLayer(), 24);
  for (int i = 24; i < 42; ++i) EXPECT_EQ(c.Layer(i).kv_source, c.sliding[i] ? 22 : 23) << i;
  for (int i = 0; i < 42; ++i) {
    EXPECT_EQ(c.Layer(i).ff, 10240);
    EXPECT_EQ(c.Layer(i).num_kv_heads, 2);
  }
}

TEST(PresetTest, Moe26bMatchesSpec) {
  ModelConfig c = Preset("26b-a4b");
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.hidden, 2816);
  EXPECT_EQ(c.num_heads, 16);
  EXPECT_EQ(FullLayers(c), (std::vector<int>{5, 11, 17, 23, 29}));
  EXPECT_EQ(c.num_experts, 128);
  EXPECT_EQ(c.experts_used, 8);
  EXPECT_EQ(c.expert_ff, 704);
  EXPECT_EQ(c.sliding_window, 1024);
  EXPECT_EQ(c.context_length, 262144);
  auto tensors = TensorMap(c);
  for (int i = 0; i < 30; ++i) {
    LayerInfo l = c.Layer(i);
    EXPECT_EQ(l.num_kv_heads, l.sliding ? 8 : 2);
    EXPECT_EQ(l.ff, 2112);
    EXPECT_TRUE(l.moe);
    EXPECT_TRUE(l.owns_kv);
    EXPECT_EQ(l.k_eq_v, !l.sliding);
    const std::string p = absl::StrCat("blk.", i, ".");
    EXPECT_EQ(tensors.count(p + "attn_v.weight"), l.sliding ? 1u : 0u) << i;
    EXPECT_EQ(tensors.count(p + "attn_k.weight"), 1u);
    // K width: 8*256 = 2048 sliding, 2*512 = 1024 full (spec §1.1).
    const int64_t k_width = l.sliding ? 2048 : 1024;
    EXPECT_EQ(tensors[p + "attn_k.weight"].ne, (std::vector<int64_t>{2816, k_width}));
    EXPECT_EQ(tensors[p + "ffn_gate_up_exps.weight"].ne, (std::vector<int64_t>{2816, 1408, 128}));
    EXPECT_EQ(tensors[p + "ffn_down_exps.weight"].ne, (std::vector<int64_t>{704, 2816, 128}));
    EXPECT_EQ(tensors[p + "ffn_gate_inp.weight"].ne, (std::vector<int64_t>{2816, 128}));
    EXPECT_EQ(tensors[p + "ffn_down_exps.scale"].ne, (std::vector<int64_t>{128}));
  }
}

TEST(PresetTest, Dense31bMatchesSpec) {
  ModelConfig c = Preset("31b");
  EXPECT_EQ(c.num_layers, 60);
  EXPECT_EQ(c.hidden, 5376);
  EXPECT_EQ(c.num_heads, 32);
  EXPECT_EQ(FullLayers(c).size(), 10u);
  EXPECT_EQ(FullLayers(c).back(), 59);
  auto tensors = TensorMap(c);
  // Q width 8192 / 16384, K width 4096 / 2048 (spec §1.1).
  EXPECT_EQ(tensors["blk.0.attn_q.weight"].ne, (std::vector<int64_t>{5376, 8192}));
  EXPECT_EQ(tensors["blk.5.attn_q.weight"].ne, (std::vector<int64_t>{5376, 16384}));
  EXPECT_EQ(tensors["blk.0.attn_k.weight"].ne, (std::vector<int64_t>{5376, 4096}));
  EXPECT_EQ(tensors["blk.5.attn_k.weight"].ne, (std::vector<int64_t>{5376, 2048}));
  EXPECT_EQ(tensors.count("blk.5.attn_v.weight"), 0u);
  EXPECT_EQ(tensors["blk.0.ffn_down.weight"].ne, (std::vector<int64_t>{21504, 5376}));
}

TEST(PresetTest, TinyE2bSharesKvLikeE2b) {
  ModelConfig c = Preset("tiny-e2b");
  EXPECT_EQ(FullLayers(c), (std::vector<int>{4, 9}));
  EXPECT_EQ(c.FirstSharedLayer(), 5);
  for (int i = 5; i < 10; ++i) EXPECT_EQ(c.Layer(i).kv_source, c.sliding[i] ? 3 : 4);
  EXPECT_EQ(c.ff, (std::vector<int>{256, 256, 256, 256, 256, 512, 512, 512, 512, 512}));
  auto tensors = TensorMap(c);
  for (int i = 5; i < 10; ++i) {
    const std::string p = absl::StrCat("blk.", i, ".");
    EXPECT_EQ(tensors.count(p + "attn_k.weight"), 0u);
    EXPECT_EQ(tensors.count(p + "attn_v.weight"), 0u);
    EXPECT_EQ(tensors.count(p + "attn_k_norm.weight"), 0u);
    EXPECT_EQ(tensors.count(p + "attn_q.weight"), 1u);
    EXPECT_EQ(tensors.count(p + "attn_q_norm.weight"), 1u);
  }
}

// --layers: the first layers of the pattern, the KV-shared tail shrunk in proportion at the end.
TEST(WithLayersTest, KeepsWidthsAndTheSharedTail) {
  ModelConfig e2b = Preset("e2b");
  auto ten = WithLayers(e2b, 10);
  ASSERT_TRUE(ten.ok()) << ten.status();
  EXPECT_EQ(ten->name, "gemma4-e2b-10l");
  EXPECT_EQ(ten->num_layers, 10);
  EXPECT_EQ(ten->shared_kv_layers, 5);  // 20 of 35, in proportion
  EXPECT_EQ(ten->hidden, e2b.hidden);
  EXPECT_EQ(FullLayers(*ten), (std::vector<int>{4, 9}));  // layer 9 is e2b's last layer (34)
  for (int i = 5; i < 10; ++i) EXPECT_EQ(ten->Layer(i).kv_source, ten->sliding[i] ? 3 : 4);
  EXPECT_EQ(ten->ff[0], e2b.ff[0]);
  EXPECT_EQ(ten->ff[9], e2b.ff[34]);

  ModelConfig moe = Preset("26b-a4b");
  auto six = WithLayers(moe, 6);
  ASSERT_TRUE(six.ok()) << six.status();
  EXPECT_EQ(six->num_layers, 6);
  EXPECT_EQ(six->num_experts, moe.num_experts);
  EXPECT_EQ(std::vector<bool>(six->sliding), std::vector<bool>(moe.sliding.begin(), moe.sliding.begin() + 6));
  EXPECT_EQ(WithLayers(moe, 30)->name, moe.name);  // all layers: unchanged
}

TEST(WithLayersTest, RefusesCountsOutsideTheModelAndBrokenSharing) {
  ModelConfig e2b = Preset("e2b");
  EXPECT_THAT(std::string(WithLayers(e2b, 0).status().message()), HasSubstr("--layers 0 is outside [1, 35]"));
  EXPECT_THAT(std::string(WithLayers(e2b, 36).status().message()), HasSubstr("--layers 36 is outside [1, 35]"));
  // 6 layers: 3 owning (all sliding) and a tail ending in a full layer that has no source.
  EXPECT_THAT(std::string(WithLayers(e2b, 6).status().message()), HasSubstr("no earlier non-shared layer"));
}

TEST(PresetTest, TinyMoeAndTiny31b) {
  ModelConfig moe = Preset("tiny-moe");
  EXPECT_EQ(FullLayers(moe), (std::vector<int>{5}));
  EXPECT_EQ(moe.Layer(0).num_kv_heads, 2);
  EXPECT_EQ(moe.Layer(5).num_kv_heads, 1);
  EXPECT_TRUE(moe.Layer(5).k_eq_v);
  EXPECT_EQ(moe.num_experts, 8);
  EXPECT_EQ(moe.experts_used, 2);
  EXPECT_EQ(moe.expert_ff, 64);
  EXPECT_FALSE(moe.HasPle());
  ModelConfig d = Preset("tiny-31b");
  EXPECT_FALSE(d.IsMoe());
  EXPECT_EQ(d.ff, std::vector<int>(6, 256));
  EXPECT_TRUE(d.Layer(5).k_eq_v);
}

TEST(ModelTensorsTest, GlobalsAndUniqueNames) {
  for (const std::string& name : PresetNames()) {
    ModelConfig c = Preset(name);
    std::vector<TensorSpec> tensors = ModelTensors(c);
    std::set<std::string> names;
    for (const TensorSpec& t : tensors) {
      EXPECT_TRUE(names.insert(t.name).second) << name << ": duplicate " << t.name;
      EXPECT_EQ(t.matrix, t.ne.size() >= 2) << t.name;
    }
    EXPECT_EQ(names.count("output.weight"), 0u);  // tied
    ASSERT_GE(tensors.size(), 3u);
    EXPECT_EQ(tensors[0].name, "token_embd.weight");
    EXPECT_EQ(tensors[0].ne, (std::vector<int64_t>{c.hidden, c.vocab}));
    auto m = TensorMap(c);
    EXPECT_EQ(m["rope_freqs.weight"].ne, (std::vector<int64_t>{256}));
    EXPECT_EQ(m["output_norm.weight"].ne, (std::vector<int64_t>{c.hidden}));
    EXPECT_EQ(m.count("per_layer_token_embd.weight"), c.HasPle() ? 1u : 0u);
    EXPECT_EQ(m.count(absl::StrCat("blk.", c.num_layers - 1, ".layer_output_scale.weight")), 1u);
  }
}

TEST(ModelTensorsTest, E2bPleShapes) {
  auto m = TensorMap(Preset("e2b"));
  EXPECT_EQ(m["per_layer_token_embd.weight"].ne, (std::vector<int64_t>{8960, 262144}));
  EXPECT_EQ(m["per_layer_model_proj.weight"].ne, (std::vector<int64_t>{1536, 8960}));
  EXPECT_EQ(m["per_layer_proj_norm.weight"].ne, (std::vector<int64_t>{256}));
  EXPECT_EQ(m["blk.3.inp_gate.weight"].ne, (std::vector<int64_t>{1536, 256}));
  EXPECT_EQ(m["blk.3.proj.weight"].ne, (std::vector<int64_t>{256, 1536}));
  EXPECT_EQ(m["blk.3.attn_output.weight"].ne, (std::vector<int64_t>{2048, 1536}));
  EXPECT_EQ(m["blk.4.attn_output.weight"].ne, (std::vector<int64_t>{4096, 1536}));
  EXPECT_EQ(m["blk.20.ffn_up.weight"].ne, (std::vector<int64_t>{1536, 12288}));
  EXPECT_EQ(m["blk.14.attn_k_norm.weight"].ne, (std::vector<int64_t>{512}));
  EXPECT_EQ(m.count("blk.15.attn_k.weight"), 0u);
}

// Hand-computed totals: see the arithmetic per layer kind.
TEST(ParamCountTest, TinyE2bExact) {
  // H=128, V=1024, P=64, L=10, nh=2, kv 1, hd 256/512.
  const int64_t globals = 128 * 1024 + 128 + 256 + 640 * 1024 + 128 * 640 + 64;
  const int64_t common = 5 * 128 + 1 + 2 * 128 * 64;  // 5 norms, scale, PLE gate+proj
  const int64_t sliding_attn = 2 * (128 * 512) + 256;  // q, o, q_norm
  const int64_t full_attn = 2 * (128 * 1024) + 512;
  const int64_t sliding_kv = 2 * (128 * 256) + 256;    // k, v, k_norm
  const int64_t full_kv = 2 * (128 * 512) + 512;
  const int64_t ffn256 = 3 * 128 * 256, ffn512 = 3 * 128 * 512;
  const int64_t total = globals + 4 * (common + sliding_attn + sliding_kv + ffn256) +
                        (common + full_attn + full_kv + ffn256) +
                        4 * (common + sliding_attn + ffn512) + (common + full_attn + ffn512);
  EXPECT_EQ(total, 4484298);
  ParamCounts p = CountParameters(Preset("tiny-e2b"));
  EXPECT_EQ(p.total, total);
  EXPECT_EQ(p.active, total);
  EXPECT_EQ(p.embedding, 128 * 1024 + 640 * 1024);
}

TEST(ParamCountTest, TinyMoeExact) {
  // H=128, V=1024, L=6 (5 sliding kv 2, 1 full kv 1 k_eq_v), ff 128, E=8, k=2, eff=64.
  const int64_t globals = 128 * 1024 + 128 + 256;
  const int64_t common = 4 * 128 + 1 + 3 * 128 * 128;
  const int64_t experts = 128 * 128 * 8 + 64 * 128 * 8;  // gate_up [128,128,8], down [64,128,8]
  const int64_t moe = 128 * 8 + 4 * 128 + experts + 8;    // router, 4 vectors, experts, scale
  const int64_t sliding = 2 * (128 * 512) + 256 + 2 * (128 * 512) + 256;
  const int64_t full = 2 * (128 * 1024) + 512 + 128 * 512 + 512;  // no attn_v
  const int64_t total = globals + 5 * (common + moe + sliding) + (common + moe + full);
  EXPECT_EQ(total, 3260342);
  ParamCounts p = CountParameters(Preset("tiny-moe"));
  EXPECT_EQ(p.total, total);
  EXPECT_EQ(p.experts, 6 * experts);
  EXPECT_EQ(p.active, total - 6 * experts * 6 / 8);  // 2 of 8 experts run
}

TEST(ParamCountTest, ReleasedVariants) {
  // Text model only. Published totals: 26B-A4B 25.2B total / 3.8B active, 31B 30.7B — matched.
  // E2B/E4B are published as ~5.1B/~8B "with embeddings" including the vision and audio
  // encoders (not in a text GGUF); the text parts are 4.63B/7.46B, of which 2.75B/3.49B are
  // the two embedding tables. Exact values are regression checks of ModelTensors.
  ParamCounts e2b = CountParameters(Preset("e2b"));
  ParamCounts e4b = CountParameters(Preset("e4b"));
  ParamCounts moe = CountParameters(Preset("26b-a4b"));
  ParamCounts d31 = CountParameters(Preset("31b"));
  EXPECT_EQ(e2b.total, 4628569635);
  EXPECT_EQ(e2b.embedding, 262144LL * (1536 + 35 * 256));
  EXPECT_EQ(e4b.total, 7463013674);
  EXPECT_EQ(moe.total, 25233142046);
  EXPECT_EQ(moe.active, 3822530846);
  EXPECT_EQ(moe.experts, 30LL * 128 * (2816 * 1408 + 704 * 2816));
  EXPECT_EQ(d31.total, 30697345596);
  EXPECT_NEAR(moe.total / 1e9, 25.2, 0.1);
  EXPECT_NEAR(moe.active / 1e9, 3.8, 0.1);
  EXPECT_NEAR(d31.total / 1e9, 30.7, 0.1);
}

TEST(ValidateTest, ErrorsNameModelAndField) {
  ModelConfig c = Preset("tiny-e2b");
  c.ff.pop_back();
  absl::Status s = c.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("tiny-e2b"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("ff"));

  c = Preset("tiny-e2b");
  c.sliding.push_back(true);
  EXPECT_THAT(std::string(c.Validate().message()), HasSubstr("sliding"));

  c = Preset("tiny-moe");
  c.kv_heads_sliding = 3;  // does not divide 2 heads
  EXPECT_THAT(std::string(c.Validate().message()), HasSubstr("kv_heads_sliding"));

  c = Preset("tiny-moe");
  c.experts_used = 9;
  EXPECT_THAT(std::string(c.Validate().message()), HasSubstr("experts_used"));

  c = Preset("tiny-31b");
  c.expert_ff = 64;  // expert width on a dense model
  EXPECT_THAT(std::string(c.Validate().message()), HasSubstr("expert"));

  c = Preset("tiny-31b");
  c.shared_kv_layers = 1;  // layer 5 (the only full layer) would have no source
  s = c.Validate();
  EXPECT_THAT(std::string(s.message()), HasSubstr("shared_kv_layers"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("layer 5"));

  c = Preset("tiny-31b");
  c.shared_kv_layers = 6;
  EXPECT_FALSE(c.Validate().ok());

  c = Preset("tiny-31b");
  c.head_dim_full = 0;
  EXPECT_THAT(std::string(c.Validate().message()), HasSubstr("head_dim_full"));
}

TEST(ConfigEqualityTest, DiffNamesFields) {
  ModelConfig a = Preset("tiny-e2b"), b = a;
  EXPECT_TRUE(a == b);
  b.ff[7] = 1;
  b.rms_eps = 1e-5;
  EXPECT_FALSE(a == b);
  std::string diff = DiffConfigs(a, b);
  EXPECT_THAT(diff, HasSubstr("ff"));
  EXPECT_THAT(diff, HasSubstr("rms_eps"));
  EXPECT_THAT(DescribeConfig(a), HasSubstr("full layers [4,9]"));
}

}  // namespace
}  // namespace g4

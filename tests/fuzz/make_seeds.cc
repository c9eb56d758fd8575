// fuzz-make-seeds OUTDIR: writes the GGUF seeds of the fuzz corpus with the project's own
// writers (tests/fuzz/make_corpus.sh runs it and compiles the plan seeds). Every file is a few
// KB; the corrupted ones are cut or patched copies of the valid ones.
//   OUTDIR/gguf/nano.gguf            a whole synthetic Gemma 4 (2 layers, hidden 32, vocab 640, q4_0, ~40 KB)
//   OUTDIR/gguf/all_types.gguf       every metadata value type (nested arrays too), one small
//                                    tensor of each supported dtype
//   OUTDIR/gguf/tokenizer.gguf       only the tokenizer keys of a 300-token vocabulary
//   OUTDIR/gguf/cut_*.gguf           all_types.gguf cut at 1/8 .. 7/8 of its size
//   OUTDIR/gguf/bad_utf8.gguf        a tokenizer with an invalid UTF-8 token and key
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "model/model_config.h"
#include "model/synth.h"

namespace {

using g4::gguf::GgmlType;
using g4::gguf::GgufWriter;

g4::ModelConfig NanoConfig() {
  g4::ModelConfig c;
  c.name = "nano";
  c.vocab = 640;
  c.hidden = 32;
  c.num_layers = 2;
  c.num_heads = 1;
  // head dims stay Gemma 4's 256 / 512, as when the committed seeds were made (32..512 pass now)
  c.kv_heads_sliding = 1;
  c.kv_heads_full = 1;
  c.sliding = {true, false};
  c.ff = {32, 32};
  c.sliding_window = 8;
  c.context_length = 64;
  return c;
}

absl::Status WriteAllTypes(const std::string& path) {
  GgufWriter w;
  w.AddString("general.architecture", "gemma4");
  w.AddU8("t.u8", 7);
  w.AddI8("t.i8", -7);
  w.AddU16("t.u16", 700);
  w.AddI16("t.i16", -700);
  w.AddU32("t.u32", 70000);
  w.AddI32("t.i32", -70000);
  w.AddU64("t.u64", 7000000000ull);
  w.AddI64("t.i64", -7000000000ll);
  w.AddF32("t.f32", 0.5f);
  w.AddF64("t.f64", 0.25);
  w.AddBool("t.bool", true);
  w.AddU32("general.alignment", 32);
  w.AddI32Array("t.i32s", {1, 2, 3});
  w.AddStringArray("t.strings", {"a", "", "\xe2\x96\x81x"});
  g4::gguf::Value nested;
  nested.type = g4::gguf::ValueType::kArray;
  nested.elem_type = g4::gguf::ValueType::kArray;
  g4::gguf::Value inner;
  inner.type = g4::gguf::ValueType::kArray;
  inner.elem_type = g4::gguf::ValueType::kUint8;
  g4::gguf::Value one;
  one.type = g4::gguf::ValueType::kUint8;
  one.u = 1;
  inner.array = {one, one};
  nested.array = {inner};
  w.AddValue("t.nested", nested);
  const struct {
    const char* name;
    std::vector<int64_t> ne;
    GgmlType type;
  } tensors[] = {{"f32", {4}, GgmlType::kF32},        {"f16", {4, 2}, GgmlType::kF16},
                 {"bf16", {8}, GgmlType::kBF16},      {"q8_0", {32, 2}, GgmlType::kQ8_0},
                 {"q4_0", {32}, GgmlType::kQ4_0},     {"q4_k", {256}, GgmlType::kQ4_K},
                 {"q6_k", {256}, GgmlType::kQ6_K}};
  for (const auto& t : tensors) w.AddTensor(t.name, t.ne, t.type);
  absl::Status st = w.Open(path);
  if (!st.ok()) return st;
  for (const auto& t : tensors) {
    int64_t n = 1;
    for (int64_t d : t.ne) n *= d;
    std::vector<float> values(n);
    for (int64_t i = 0; i < n; ++i) values[i] = float(i % 7) - 3.0f;
    st = w.WriteTensorF32(t.name, values);
    if (!st.ok()) return st;
  }
  return w.Close();
}

absl::Status WriteTokenizer(const std::string& path, bool bad_utf8) {
  std::vector<std::string> tokens = {"<pad>", "<eos>", "<bos>", "<unk>", "<|turn>", "<turn|>"};
  std::vector<int32_t> types = {3, 3, 3, 2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    tokens.push_back(buf);
    types.push_back(6);
  }
  for (const char* t : {"a", "b", "c", "ab", "abc", "\xe2\x96\x81", "\xe2\x96\x81" "a", "\n", "\n\n"}) {
    tokens.push_back(t);
    types.push_back(1);
  }
  if (bad_utf8) {
    tokens.push_back("\xff\xfe" "x");
    types.push_back(1);
  }
  GgufWriter w;
  w.AddString("general.architecture", "gemma4");
  w.AddString("tokenizer.ggml.model", "gemma4");
  w.AddStringArray("tokenizer.ggml.tokens", tokens);
  w.AddI32Array("tokenizer.ggml.token_type", types);
  w.AddStringArray("tokenizer.ggml.merges", {"a b", "ab c", "\xe2\x96\x81 a", "\n \n"});
  w.AddU32("tokenizer.ggml.bos_token_id", 2);
  w.AddU32("tokenizer.ggml.eos_token_id", 1);
  w.AddU32("tokenizer.ggml.unknown_token_id", 3);
  w.AddBool("tokenizer.ggml.add_bos_token", true);
  if (bad_utf8) w.AddU32("bad.\xc3(key", 1);
  absl::Status st = w.Open(path);
  if (!st.ok()) return st;
  return w.Close();
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz-make-seeds OUTDIR (OUTDIR/gguf must exist)\n");
    return 2;
  }
  const std::string dir = std::string(argv[1]) + "/gguf";
  absl::Status st = g4::WriteSyntheticModel(NanoConfig(), GgmlType::kQ4_0, 1, dir + "/nano.gguf");
  if (st.ok()) st = WriteAllTypes(dir + "/all_types.gguf");
  if (st.ok()) st = WriteTokenizer(dir + "/tokenizer.gguf", false);
  if (st.ok()) st = WriteTokenizer(dir + "/bad_utf8.gguf", true);
  if (!st.ok()) {
    std::fprintf(stderr, "fuzz-make-seeds: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  const std::string all = ReadAll(dir + "/all_types.gguf");
  for (int k = 1; k < 8; ++k) WriteAll(absl::StrCat(dir, "/cut_", k, "of8.gguf"), all.substr(0, all.size() * k / 8));
  return 0;
}

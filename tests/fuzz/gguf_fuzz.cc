// Fuzz target: a GGUF file from anywhere. The reader (GgufFile::FromBytes, the same checks as
// Open), then everything that reads a parsed file: the model config, the tokenizer, the
// dequantizers (ReadAsF32) and the binding of the weights of a fixed plan (corpus/plan/nano.plan,
// compiled from corpus/gguf/nano.gguf) with its widened 1-D weights. Any of them may refuse the
// file; none may crash, hang or read outside it.
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "exec/weights.h"
#include "fuzz_util.h"
#include "gguf/gguf.h"
#include "model/model_config.h"
#include "plan/plan_reader.h"
#include "text/tokenizer.h"

namespace {

const g4::plan::LoadedPlan* NanoPlan() {
  static const auto* plan = [] {
    auto p = g4::plan::LoadPlan(g4::fuzz::CorpusDir() + "/plan/nano.plan");
    if (!p.ok()) {
      std::fprintf(stderr, "gguf_fuzz: %s\n", std::string(p.status().message()).c_str());
      std::abort();  // the harness is broken, not the input
    }
    return new g4::plan::LoadedPlan(*std::move(p));
  }();
  return plan;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const g4::plan::LoadedPlan* plan = NanoPlan();
  auto file = g4::gguf::GgufFile::FromBytes(
      absl::string_view(reinterpret_cast<const char*>(data), size), "fuzz.gguf");
  if (!file.ok()) return 0;
  const g4::gguf::GgufFile& f = **file;

  (void)g4::ConfigFromGguf(f);
  if (auto tok = g4::text::Tokenizer::FromGguf(f); tok.ok()) {
    const std::vector<int32_t> ids = (*tok)->Encode("Hello <|turn>user\n world\xff!", true, true);
    for (int32_t id : ids) G4_FUZZ_EXPECT(id >= 0 && id < (*tok)->size());
    (void)(*tok)->Decode(ids, true);
  }
  // Dequantize small tensors (the reader bounded them by the file; cap the work per input).
  for (const g4::gguf::TensorInfo& t : f.tensors()) {
    if (t.NumElements() > (1 << 16)) continue;
    auto values = f.ReadAsF32(t);
    G4_FUZZ_EXPECT(values.ok());
  }
  if (auto bound = g4::exec::BoundWeights::Bind(*plan->plan(), f, "fuzz.gguf"); bound.ok())
    (void)g4::exec::DecodeWeightBytesPerToken(*plan->plan(), bound->views());
  return 0;
}

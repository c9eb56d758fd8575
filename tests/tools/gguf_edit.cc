// gguf-edit: copies a GGUF file with one deliberate defect, to test how tools react to models
// that do not match their plan (a tensor missing, renamed, of another shape or dtype, a
// metadata key removed). Test-only; not installed.
//
//   gguf-edit IN OUT [--drop NAME] [--reshape NAME=d0,d1,...] [--retype NAME=f16]
//                    [--add NAME=d0,d1,...] [--drop-key KEY]
//
// Reshaped and added tensors (f32) are written as zeros; retyped ones are dequantized and requantized.
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

namespace {

using g4::gguf::GgmlType;
using g4::gguf::GgufFile;
using g4::gguf::GgufWriter;

struct Edits {
  std::set<std::string> drop, drop_keys;
  std::map<std::string, std::vector<int64_t>> reshape, add;
  std::map<std::string, GgmlType> retype;
};

int Usage() {
  std::fprintf(stderr,
               "usage: gguf-edit IN OUT [--drop NAME] [--reshape NAME=d0,d1] [--retype NAME=TYPE] "
               "[--add NAME=d0,d1] [--drop-key KEY]\n");
  return 2;
}

bool ParseEdits(int argc, char** argv, Edits* e) {
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string flag = argv[i], arg = argv[i + 1];
    std::vector<std::string> kv = absl::StrSplit(arg, absl::MaxSplits('=', 1));
    if (flag == "--drop") {
      e->drop.insert(arg);
    } else if (flag == "--drop-key") {
      e->drop_keys.insert(arg);
    } else if ((flag == "--reshape" || flag == "--add") && kv.size() == 2) {
      std::vector<int64_t> dims;
      for (absl::string_view d : absl::StrSplit(kv[1], ',')) {
        int64_t v;
        if (!absl::SimpleAtoi(d, &v)) return false;
        dims.push_back(v);
      }
      (flag == "--add" ? e->add : e->reshape)[kv[0]] = dims;
    } else if (flag == "--retype" && kv.size() == 2) {
      auto t = g4::gguf::ParseTypeName(kv[1]);
      if (!t) return false;
      e->retype[kv[0]] = *t;
    } else {
      return false;
    }
  }
  return (argc - 3) % 2 == 0;
}

absl::Status Copy(const GgufFile& in, const std::string& out_path, const Edits& e) {
  GgufWriter w(in.alignment());
  for (const auto& kv : in.metadata())
    if (!e.drop_keys.count(kv.key) && kv.key != "general.alignment") w.AddValue(kv.key, kv.value);
  for (const auto& t : in.tensors()) {
    if (e.drop.count(t.name)) continue;
    auto shape = e.reshape.count(t.name) ? e.reshape.at(t.name) : t.ne;
    auto type = e.retype.count(t.name) ? e.retype.at(t.name) : t.type;
    w.AddTensor(t.name, shape, type);
  }
  for (const auto& [name, shape] : e.add) w.AddTensor(name, shape, GgmlType::kF32);
  G4_RETURN_IF_ERROR(w.Open(out_path));
  for (const auto& t : in.tensors()) {
    if (e.drop.count(t.name)) continue;
    if (e.reshape.count(t.name)) {
      int64_t n = 1;
      for (int64_t d : e.reshape.at(t.name)) n *= d;
      G4_RETURN_IF_ERROR(w.WriteTensorF32(t.name, std::vector<float>(n, 0.0f)));
    } else if (e.retype.count(t.name)) {
      G4_ASSIGN_OR_RETURN(const std::vector<float> values, in.ReadAsF32(t));
      G4_RETURN_IF_ERROR(w.WriteTensorF32(t.name, values));
    } else {
      G4_RETURN_IF_ERROR(w.WriteTensorBytes(t.name, absl::MakeConstSpan(t.data, t.nbytes)));
    }
  }
  for (const auto& [name, shape] : e.add) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    G4_RETURN_IF_ERROR(w.WriteTensorF32(name, std::vector<float>(n, 0.0f)));
  }
  return w.Close();
}

}  // namespace

int main(int argc, char** argv) {
  Edits edits;
  if (argc < 3 || !ParseEdits(argc, argv, &edits)) return Usage();
  auto in = GgufFile::Open(argv[1]);
  if (!in.ok()) {
    std::fprintf(stderr, "gguf-edit: %s\n", std::string(in.status().message()).c_str());
    return 1;
  }
  absl::Status s = Copy(**in, argv[2], edits);
  if (!s.ok()) {
    std::fprintf(stderr, "gguf-edit: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}

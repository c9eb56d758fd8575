#include "exec/dump.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace g4::exec {

absl::Status WriteDump(const std::string& dir, const plan::Plan& plan, const Backend& backend,
                       const std::vector<int32_t>& tokens) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return absl::InternalError(absl::StrCat(dir, ": cannot create the dump directory: ", std::strerror(errno)));
  const int64_t n = int64_t(tokens.size());
  std::string index = "{";
  bool first = true;
  std::vector<float> host;
  for (uint32_t i = 0; i < plan.tensors()->size(); ++i) {
    const plan::Tensor* t = plan.tensors()->Get(i);
    if (t->element_type() != plan::ElementType::F32) continue;
    const std::string name = t->name()->str();
    const std::string path = dir + "/" + name + ".bin";
    host.resize(size_t(n) * size_t(t->width()));
    if (n > 0) G4_RETURN_IF_ERROR(backend.ReadTensor(i, n, host.data()));
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(host.data()), std::streamsize(sizeof(float) * host.size()));
    if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write"));
    absl::StrAppendFormat(&index, "%s\n  \"%s\": [%d, %d]", first ? "" : ",", name, n, t->width());
    first = false;
  }
  index += "\n}\n";
  std::ofstream out(dir + "/index.json");
  out << index;
  // The evaluated tokens (positions start at position() - n_tokens), for the reference.
  std::ofstream toks(dir + "/tokens.json");
  toks << "[" << absl::StrJoin(tokens, ", ") << "]\n";
  return out && toks ? absl::OkStatus() : absl::InternalError(absl::StrCat(dir, ": cannot write the index"));
}

}  // namespace g4::exec

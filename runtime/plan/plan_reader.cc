// Plan loading and the `plan-info` summary.
#include "plan/plan_reader.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "plan/plan_version.h"

namespace g4::plan {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) { bytes /= 1024; ++u; }
  return absl::StrFormat("%.2f %s", bytes, units[u]);
}

// Bytes of `elements` values of a matrix stored in the given ggml block format.
double BytesAt(int64_t elements, double bytes_per_block, int block_elems) {
  return double(elements) / block_elems * bytes_per_block;
}

}  // namespace

absl::StatusOr<LoadedPlan> LoadPlanBytes(std::vector<uint8_t> bytes, const std::string& path) {
  // The plan is size-prefixed (u32 length, then the FlatBuffer), so a truncated file is caught
  // even where the cut falls in padding the verifier would not read.
  if (bytes.size() < 12 || !flatbuffers::BufferHasIdentifier(bytes.data(), PlanIdentifier(),
                                                              /*size_prefixed=*/true))
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a gemma4c plan (file identifier 'G4PL' missing)"));
  uint32_t declared = flatbuffers::ReadScalar<uint32_t>(bytes.data());
  if (uint64_t(declared) + 4 != bytes.size())
    return absl::DataLossError(absl::StrCat(path, ": plan is truncated or has trailing bytes (",
                                            bytes.size(), " bytes, the plan says ", uint64_t(declared) + 4,
                                            ")"));
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  if (!VerifySizePrefixedPlanBuffer(verifier))
    return absl::DataLossError(absl::StrCat(path, ": plan is corrupt (FlatBuffer verification failed)"));
  const Plan* plan = GetSizePrefixedPlan(bytes.data());
  if (plan->schema_version() != kPlanSchemaVersion)
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": plan schema version ", plan->schema_version(), " is not supported (this runtime reads version ",
        kPlanSchemaVersion, "); recompile the spec with this gemma4c"));
  if (plan->runtime_abi() != kRuntimeAbiVersion)
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": plan runtime ABI ", plan->runtime_abi(), " is not supported (this runtime implements ABI ",
        kRuntimeAbiVersion, "); recompile the spec with this gemma4c"));
  LoadedPlan loaded;
  loaded.bytes_ = std::move(bytes);
  loaded.path_ = path;
  return loaded;
}

absl::StatusOr<LoadedPlan> LoadPlan(const std::string& path_or_dir) {
  std::string path = IsDirectory(path_or_dir) ? path_or_dir + "/plan" : path_or_dir;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open plan"));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return LoadPlanBytes(std::move(bytes), path);
}

std::string DescribePlan(const Plan& plan) {
  const Hyperparams& m = *plan.model();
  std::string out;
  absl::StrAppendFormat(&out, "plan: %s (schema %u, runtime ABI %u, precision %s, compiler %s)\n",
                        m.name() ? m.name()->str() : "?", plan.schema_version(), plan.runtime_abi(),
                        EnumNamePrecision(plan.precision()),
                        plan.compiler() ? plan.compiler()->str() : "?");
  absl::StrAppendFormat(&out, "model: hidden %d, vocab %d, %d layers, %d heads, context %d\n", m.hidden(),
                        m.vocab(), m.layers(), m.heads(), m.context_length());

  // Layers by kind, from the KV-cache layout (one entry per layer).
  std::map<std::string, int> kinds;
  for (const KvLayer* kv : *plan.kv_cache()) {
    std::string kind = kv->window() > 0 ? "sliding" : "full";
    kind += kv->owns_kv() ? "" : " (KV-shared)";
    kinds[absl::StrFormat("%s, head dim %d, %d KV heads", kind, kv->head_dim(), kv->kv_heads())]++;
  }
  out += "layers by kind:\n";
  for (const auto& [kind, n] : kinds) absl::StrAppendFormat(&out, "  %3d x %s\n", n, kind);
  if (m.experts() > 0)
    absl::StrAppendFormat(&out, "  MoE: %d experts, top-%d, expert MLP %d\n", m.experts(), m.experts_used(),
                          m.expert_ff());
  if (m.ple_dim() > 0) absl::StrAppendFormat(&out, "  per-layer embeddings: %d per layer\n", m.ple_dim());

  int64_t params = 0, vector_params = 0, expert_params = 0, ple_table_params = 0;
  for (const WeightBinding* w : *plan.weights()) {
    int64_t n = 1;
    for (int64_t d : *w->shape()) n *= d;
    params += n;
    if (w->shape()->size() == 1) vector_params += n;
    std::string name = w->name()->str();
    if (absl::EndsWith(name, "_exps.weight")) expert_params += n;
    if (name == "per_layer_token_embd.weight") ple_table_params += n;
  }
  int64_t matrix_params = params - vector_params;
  absl::StrAppendFormat(&out, "weights: %d tensors, %d parameters (%.3f B)\n", plan.weights()->size(), params,
                        params / 1e9);
  if (ple_table_params > 0)
    absl::StrAppendFormat(&out, "  without the per-layer token embedding table: %.3f B\n",
                          (params - ple_table_params) / 1e9);
  if (m.experts() > 0) {
    // A token reads only top-k of the E experts' weights.
    double active = params - expert_params * (1.0 - double(m.experts_used()) / m.experts());
    absl::StrAppendFormat(&out, "  active per token (top-%d of %d experts): %.3f B\n", m.experts_used(),
                          m.experts(), active / 1e9);
  }
  absl::StrAppendFormat(&out, "  bytes if matrices are bf16: %s, q8_0: %s, q4_0: %s (vectors f32)\n",
                        HumanBytes(BytesAt(matrix_params, 2, 1) + 4.0 * vector_params),
                        HumanBytes(BytesAt(matrix_params, 34, 32) + 4.0 * vector_params),
                        HumanBytes(BytesAt(matrix_params, 18, 32) + 4.0 * vector_params));

  // Activations: tensors of one slot share a buffer sized for the widest (memory planning);
  // tensors without a slot stay inside emitted kernels (or, in an unplanned plan, each has one).
  std::map<int32_t, int64_t> slot_width;
  int64_t unslotted = 0, width_sum = 0;
  for (const Tensor* t : *plan.tensors()) {
    width_sum += t->width();
    if (t->slot() < 0) { ++unslotted; continue; }
    slot_width[t->slot()] = std::max(slot_width[t->slot()], t->width());
  }
  if (slot_width.empty()) {
    absl::StrAppendFormat(&out, "activations: %d tensors, %s for a batch of %u tokens (unplanned: one buffer each)\n",
                          plan.tensors()->size(), HumanBytes(4.0 * width_sum * plan.max_batch_tokens()),
                          plan.max_batch_tokens());
  } else {
    int64_t planned = 0;
    for (const auto& [slot, width] : slot_width) planned += width;
    absl::StrAppendFormat(&out, "activations: %d tensors in %d slots, %s for a batch of %u tokens (%d tensors stay inside kernels)\n",
                          plan.tensors()->size(), slot_width.size(), HumanBytes(4.0 * planned * plan.max_batch_tokens()),
                          plan.max_batch_tokens(), unslotted);
  }

  // KV cache: K and V per owning layer; sliding layers hold at most `window` positions.
  double per_1k_bf16 = 0;
  for (const KvLayer* kv : *plan.kv_cache()) {
    if (!kv->owns_kv()) continue;
    double positions = kv->window() > 0 ? std::min(1024, kv->window()) : 1024;
    per_1k_bf16 += positions * 2.0 * kv->kv_heads() * kv->head_dim() * 2.0;
  }
  absl::StrAppendFormat(&out, "KV cache: %s per 1k tokens of context in bf16 (%s in f32)\n",
                        HumanBytes(per_1k_bf16), HumanBytes(2 * per_1k_bf16));
  absl::StrAppendFormat(&out, "steps: %d\n", plan.steps()->size());
  return out;
}

}  // namespace g4::plan

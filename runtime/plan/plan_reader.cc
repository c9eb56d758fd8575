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
#include "common/status_macros.h"
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

// What a step of each kind must carry: its attribute table and operand counts.
struct StepShape {
  OpAttrs attrs;
  int min_inputs, max_inputs, outputs, min_weights, max_weights;
  bool rows_keep_width;  // every tensor input has the output's width (elementwise, norms)
  bool vector_weights;   // its weights are 1-D (read widened to f32)
};

StepShape ShapeOf(OpKind op) {
  switch (op) {
    case OpKind::Fused: return {OpAttrs::NONE, 0, 1 << 30, -1, 0, 1 << 30, false, false};
    case OpKind::Embed: return {OpAttrs::NONE, 1, 1, 1, 1, 1, false, false};
    case OpKind::Scale: return {OpAttrs::ScaleAttrs, 1, 1, 1, 0, 0, true, false};
    case OpKind::RmsNorm: return {OpAttrs::RmsNormAttrs, 1, 1, 1, 0, 1, true, true};
    case OpKind::Linear: return {OpAttrs::NONE, 1, 1, 1, 1, 1, false, false};
    case OpKind::Rope: return {OpAttrs::RopeAttrs, 2, 2, 1, 0, 1, false, false};
    case OpKind::Attention: return {OpAttrs::AttentionAttrs, 2, 4, 1, 0, 0, false, false};
    case OpKind::GeluTanh: return {OpAttrs::NONE, 1, 1, 1, 0, 0, true, false};
    case OpKind::Mul: return {OpAttrs::NONE, 2, 2, 1, 0, 0, true, false};
    case OpKind::Add: return {OpAttrs::NONE, 2, 2, 1, 0, 0, true, false};
    case OpKind::ChannelMul: return {OpAttrs::NONE, 1, 1, 1, 1, 1, true, true};
    case OpKind::LayerScalar: return {OpAttrs::NONE, 1, 1, 1, 1, 1, true, true};
    case OpKind::Softcap: return {OpAttrs::SoftcapAttrs, 1, 1, 1, 0, 0, true, false};
    case OpKind::RoundBf16: return {OpAttrs::RoundBf16Attrs, 1, 1, 1, 0, 0, true, false};
    case OpKind::Softmax: return {OpAttrs::NONE, 1, 1, 1, 0, 0, true, false};
    case OpKind::TopK: return {OpAttrs::TopKAttrs, 1, 1, 2, 0, 0, false, false};
    case OpKind::Renormalize: return {OpAttrs::RenormalizeAttrs, 1, 1, 1, 0, 0, true, false};
    case OpKind::ExpertScale: return {OpAttrs::NONE, 2, 2, 1, 1, 1, false, true};
    case OpKind::ExpertFfn: return {OpAttrs::ExpertFfnAttrs, 3, 3, 1, 2, 2, false, false};
    case OpKind::PleSlice: return {OpAttrs::PleSliceAttrs, 1, 1, 1, 0, 0, false, false};
  }
  return {OpAttrs::NONE, -1, -1, -1, -1, -1, false, false};  // not an OpKind of this runtime
}

size_t SizeOf(const flatbuffers::Vector<uint32_t>* v) { return v ? v->size() : 0; }

// Checks one step against ShapeOf(step.op()) and the plan's tensor and weight tables, so that
// the executors can index without checks. `where` names the step in messages.
absl::Status ValidateStep(const Plan& plan, const Step& step, const std::string& where, bool in_body) {
  const StepShape shape = ShapeOf(step.op());
  const std::string op = EnumNameOpKind(step.op());
  if (shape.min_inputs < 0 || op.empty())
    return absl::InvalidArgumentError(absl::StrCat(where, ": unknown op kind ", int(step.op())));
  if (step.attrs_type() != shape.attrs)
    return absl::InvalidArgumentError(absl::StrCat(where, " (", op, "): attributes are ",
                                                   EnumNameOpAttrs(step.attrs_type()), ", the op needs ",
                                                   EnumNameOpAttrs(shape.attrs)));
  // The union's type can be set with its table absent (a corrupt or fuzzed plan): the executors
  // and the checks below read the table through attrs_as_*() without a null check.
  if (shape.attrs != OpAttrs::NONE && step.attrs() == nullptr)
    return absl::InvalidArgumentError(absl::StrCat(where, " (", op, "): attributes ",
                                                   EnumNameOpAttrs(shape.attrs), " have no table"));
  const size_t n_in = SizeOf(step.inputs()), n_out = SizeOf(step.outputs()), n_w = SizeOf(step.weights());
  if (int(n_in) < shape.min_inputs || int(n_in) > shape.max_inputs ||
      (shape.outputs >= 0 && int(n_out) != shape.outputs) || int(n_w) < shape.min_weights ||
      int(n_w) > shape.max_weights)
    return absl::InvalidArgumentError(absl::StrCat(where, " (", op, "): ", n_in, " inputs, ", n_out,
                                                   " outputs, ", n_w, " weights do not fit the op"));
  if (step.op() == OpKind::Attention) {
    const AttentionAttrs& a = *step.attrs_as_AttentionAttrs();
    const int layers = plan.model()->layers();
    if (a.kv_layer() < 0 || a.kv_layer() >= layers || step.layer() < 0 || step.layer() >= layers)
      return absl::InvalidArgumentError(absl::StrCat(where, " (Attention): layer ", step.layer(), " / KV layer ",
                                                     a.kv_layer(), " outside the model's ", layers, " layers"));
    if (a.head_dim() <= 0 || a.num_kv_heads() <= 0 || a.num_heads() % a.num_kv_heads() != 0)
      return absl::InvalidArgumentError(absl::StrCat(where, " (Attention): ", a.num_heads(), " heads over ",
                                                     a.num_kv_heads(), " KV heads of dim ", a.head_dim()));
    // An attention mode the executors know (docs/attention.md); a value from a newer compiler
    // or a kind of another op is refused here rather than run as some other mode.
    if (a.rounding() != Rounding::None && a.rounding() != Rounding::AttentionEager &&
        a.rounding() != Rounding::AttentionSdpa) {
      std::string name = EnumNameRounding(a.rounding());
      if (name.empty()) name = absl::StrCat(int(a.rounding()));
      return absl::InvalidArgumentError(absl::StrCat(
          where, " (Attention): rounding ", name,
          " is not an attention mode (None, AttentionEager, AttentionSdpa)"));
    }
  }
  const uint32_t n_tensors = plan.tensors()->size(), n_weights = plan.weights()->size();
  for (const auto* ids : {step.inputs(), step.outputs()})
    if (ids)
      for (uint32_t id : *ids)
        if (id >= n_tensors)
          return absl::InvalidArgumentError(absl::StrCat(where, " (", op, "): tensor id ", id,
                                                         " is outside the plan's ", n_tensors, " tensors"));
  if (step.weights())
    for (uint32_t id : *step.weights()) {
      if (id >= n_weights)
        return absl::InvalidArgumentError(absl::StrCat(where, " (", op, "): weight id ", id,
                                                       " is outside the plan's ", n_weights, " weights"));
      const WeightBinding* w = plan.weights()->Get(id);
      if (shape.vector_weights && w->shape()->size() != 1)
        return absl::InvalidArgumentError(absl::StrCat(where, " (", op, "): weight '", w->name()->str(),
                                                       "' must be 1-D"));
    }
  if (shape.rows_keep_width) {
    const int64_t width = plan.tensors()->Get(step.outputs()->Get(0))->width();
    for (uint32_t id : *step.inputs())
      if (plan.tensors()->Get(id)->width() != width)
        return absl::InvalidArgumentError(absl::StrCat(where, " (", op, "): input '",
                                                       plan.tensors()->Get(id)->name()->str(), "' has width ",
                                                       plan.tensors()->Get(id)->width(), ", the output ", width));
  }
  if (step.op() == OpKind::Fused) {
    if (in_body) return absl::InvalidArgumentError(absl::StrCat(where, ": a fused region inside a fused region"));
    if (step.body())
      for (uint32_t i = 0; i < step.body()->size(); ++i)
        G4_RETURN_IF_ERROR(ValidateStep(plan, *step.body()->Get(i), absl::StrCat(where, " body op ", i), true));
  } else if (step.body()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " (", op, "): only a fused step has a body"));
  }
  return absl::OkStatus();
}

// The tables every executor indexes: model, tensors, weights, steps, KV layout, inputs
// (tokens, positions) and the logits output, all present and in range.
absl::Status ValidatePlan(const Plan& plan, const std::string& path) {
  if (!plan.tensors() || !plan.weights() || !plan.steps() || !plan.kv_cache())
    return absl::InvalidArgumentError(absl::StrCat(path, ": plan lacks its tensors, weights, steps or KV layout"));
  const uint32_t n_tensors = plan.tensors()->size();
  if (SizeOf(plan.inputs()) != 2 || SizeOf(plan.outputs()) != 1)
    return absl::InvalidArgumentError(absl::StrCat(path, ": plan must have 2 inputs (tokens, positions) and 1 output "
                                                         "(logits), it has ",
                                                   SizeOf(plan.inputs()), " and ", SizeOf(plan.outputs())));
  for (const auto* ids : {plan.inputs(), plan.outputs()})
    for (uint32_t id : *ids)
      if (id >= n_tensors)
        return absl::InvalidArgumentError(absl::StrCat(path, ": plan input/output tensor id ", id,
                                                       " is outside its ", n_tensors, " tensors"));
  for (const WeightBinding* w : *plan.weights()) {
    // FlatBuffers 2.0.8's verifier checks a vector's length field, not its elements' alignment:
    // an int64 vector 4 bytes off would be read misaligned (found by the plan fuzz target).
    if (reinterpret_cast<uintptr_t>(w->shape()->Data()) % alignof(int64_t) != 0)
      return absl::DataLossError(absl::StrCat(path, ": plan is corrupt (the shape of weight '", w->name()->str(),
                                              "' is misaligned)"));
    if (w->shape()->size() == 0 || w->shape()->size() > 4)
      return absl::InvalidArgumentError(absl::StrCat(path, ": weight '", w->name()->str(), "' has ",
                                                     w->shape()->size(), " dimensions"));
    // Dims >= 1 with an element count below 2^62, so sums and byte counts of them never wrap
    // (found by the plan fuzz target: DescribePlan multiplied them in int64).
    uint64_t elements = 1;
    for (int64_t d : *w->shape())
      if (d < 1 || __builtin_mul_overflow(elements, uint64_t(d), &elements) || elements > (uint64_t{1} << 62))
        return absl::InvalidArgumentError(absl::StrCat(path, ": weight '", w->name()->str(), "' has dimension ", d,
                                                       ": dims must be >= 1 and hold < 2^62 elements"));
  }
  const Hyperparams& m = *plan.model();
  if (m.vocab() < 1 || m.layers() < 1 || m.context_length() < 1 || plan.max_batch_tokens() < 1)
    return absl::InvalidArgumentError(absl::StrCat(path, ": plan declares vocab ", m.vocab(), ", ", m.layers(),
                                                   " layers, context ", m.context_length(), ", max batch ",
                                                   plan.max_batch_tokens(), " (each must be >= 1)"));
  // Sizes are checked against memory when a session opens (exec/memory_budget.h); here only
  // that every width is a width: >= 1, and < 2^32 so per-row offsets stay in range.
  for (const Tensor* t : *plan.tensors())
    if (t->width() < 1 || t->width() > int64_t{0xffffffff})
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor '", t->name()->str(), "' has width ",
                                                     t->width(), " (must be in 1..2^32-1)"));
  if (plan.tensors()->Get(plan.outputs()->Get(0))->width() != m.vocab())
    return absl::InvalidArgumentError(absl::StrCat(path, ": the logits have width ",
                                                   plan.tensors()->Get(plan.outputs()->Get(0))->width(),
                                                   ", the vocabulary is ", m.vocab()));
  if (plan.kv_cache()->size() != uint32_t(m.layers()))
    return absl::InvalidArgumentError(absl::StrCat(path, ": KV layout has ", plan.kv_cache()->size(),
                                                   " entries for a ", m.layers(), "-layer model"));
  std::vector<const KvLayer*> kv_of_layer(size_t(m.layers()), nullptr);
  for (const KvLayer* l : *plan.kv_cache()) {
    if (l->layer() < 0 || l->layer() >= m.layers() || l->source() < 0 || l->source() >= m.layers())
      return absl::InvalidArgumentError(absl::StrCat(path, ": KV layout names layer ", l->layer(), " / source ",
                                                     l->source(), " of a ", m.layers(), "-layer model"));
    if (kv_of_layer[size_t(l->layer())])
      return absl::InvalidArgumentError(absl::StrCat(path, ": KV layout lists layer ", l->layer(), " twice"));
    kv_of_layer[size_t(l->layer())] = l;
    if (l->kv_heads() < 1 || l->head_dim() < 1 || l->window() < 0)
      return absl::InvalidArgumentError(absl::StrCat(path, ": KV layer ", l->layer(), " has ", l->kv_heads(),
                                                     " KV heads of dim ", l->head_dim(), ", window ", l->window()));
  }
  // A layer that reads another's cache reads an owning layer with the same row and window.
  for (const KvLayer* l : *plan.kv_cache()) {
    if (l->owns_kv()) continue;
    const KvLayer* src = kv_of_layer[size_t(l->source())];
    if (!src->owns_kv() || src->kv_heads() != l->kv_heads() || src->head_dim() != l->head_dim() ||
        src->window() != l->window())
      return absl::InvalidArgumentError(absl::StrCat(path, ": KV layer ", l->layer(), " reads layer ", l->source(),
                                                     ", which does not own a cache of its shape"));
  }
  for (uint32_t i = 0; i < plan.steps()->size(); ++i)
    G4_RETURN_IF_ERROR(ValidateStep(plan, *plan.steps()->Get(i), absl::StrCat(path, ": step ", i), false));
  return absl::OkStatus();
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
  G4_RETURN_IF_ERROR(ValidatePlan(*plan, path));
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

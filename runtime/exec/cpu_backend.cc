#include "exec/cpu_backend.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "cpu/matmul.h"
#include "exec/cpu_interpreter.h"
#include "exec/logits_tail.h"
#include "exec/memory_budget.h"
#include "exec/table_readahead.h"

namespace g4::exec {

absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(const BackendContext& context) {
  G4_ASSIGN_OR_RETURN(std::unique_ptr<CpuBackend> backend, CpuBackend::Create(context));
  return std::unique_ptr<Backend>(std::move(backend));
}

CpuBackend::CpuBackend(const BackendContext& context, int64_t kv_context)
    : plan_(*context.plan),
      weights_(*context.weights),
      options_(context.options),
      tail_start_(LogitsTailStart(*context.plan)),
      buffers_(*context.plan, context.options.keep_intermediates, TailTensors(*context.plan, tail_start_)),
      context_(kv_context) {}

absl::StatusOr<std::unique_ptr<CpuBackend>> CpuBackend::Create(const BackendContext& context) {
  const plan::Plan& p = *context.plan;
  const plan::Hyperparams& m = *p.model();
  const SessionOptions& o = context.options;
  const int64_t kv_context = o.KvContext(m.context_length());
  // Everything this backend will allocate, refused before any of it is (memory_budget.h).
  G4_ASSIGN_OR_RETURN(const MemoryNeed need, CpuMemoryNeeded(p, kv_context, o.keep_intermediates));
  const uint64_t budget = o.memory_limit > 0 ? o.memory_limit : AvailableMemoryBytes();
  G4_RETURN_IF_ERROR(CheckMemoryBudget(need, budget, context.plan_dir,
                                       o.memory_limit > 0 ? "memory_limit" : "available memory (MemAvailable)"));
  std::unique_ptr<CpuBackend> b(new CpuBackend(context, kv_context));
  b->kv_.Init(m.layers(), p.precision() == plan::Precision::Reference, kv_context, p.max_batch_tokens());
  for (const plan::KvLayer* l : *p.kv_cache())
    b->kv_.AddLayer(l->layer(), l->owns_kv(), l->source(), l->window(), int64_t(l->kv_heads()) * l->head_dim());
  if (b->options_.threads > 1) b->pool_ = std::make_unique<cpu::ThreadPool>(b->options_.threads);
  if (o.repack_weights && !o.exact_quantized_matmul) {
    G4_ASSIGN_OR_RETURN(b->packed_, PackedWeights::Make(p, *context.weights, context.gguf_path, b->pool_.get()));
  }
  // After the copies: what is left of memory decides whether the tables fit in the page cache.
  AdviseEmbeddingTables(p, *context.weights, AvailableMemoryBytes());
  b->api_.abi_version = G4K_ABI_VERSION;
  b->api_.linear = &CpuBackend::ApiLinear;
  b->api_.parallel_rows = &CpuBackend::ApiParallelRows;
  b->kernel_of_step_.assign(p.steps()->size(), nullptr);
  b->ResetStepTimes();
  if (!b->options_.force_interpreted) G4_RETURN_IF_ERROR(b->LoadKernels(context.plan_dir));
  return b;
}

absl::Status CpuBackend::LoadKernels(const std::string& plan_dir) {
  if (!plan_.kernel_libraries()) return absl::OkStatus();
  // The AVX2 build of the emitted kernels when this CPU can run it, else the portable one.
  const plan::KernelLibrary* chosen = nullptr;
  const bool avx2 = cpu::CpuHasAvx2() && !options_.portable_kernels;
  for (const plan::KernelLibrary* lib : *plan_.kernel_libraries()) {
    const std::string target = lib->target() ? lib->target()->str() : "";
    if (target == "cpu" && !chosen) chosen = lib;
    if (target == "cpu-avx2" && avx2) chosen = lib;
  }
  // A plan compiled with --target=cuda alone has kernel names but no CPU library: interpreted.
  if (!chosen || !chosen->path()) return absl::OkStatus();
  G4_ASSIGN_OR_RETURN(library_, KernelLibrary::Open(plan_dir + "/" + chosen->path()->str(), "CPU kernel library",
                                                    "g4k_abi_version", G4K_ABI_VERSION));
  for (uint32_t i = 0; i < plan_.steps()->size(); ++i) {
    const plan::Step* st = plan_.steps()->Get(i);
    if (!st->kernel() || st->kernel()->size() == 0) continue;
    G4_ASSIGN_OR_RETURN(void* fn, library_.Symbol(st->kernel()->str()));
    kernel_of_step_[i] = reinterpret_cast<g4k_fn>(fn);
  }
  return absl::OkStatus();
}

void CpuBackend::ApiLinear(void* rt, const g4k_weight* w, const float* x, int64_t tokens, float* y,
                           int round_bf16) {
  CpuBackend* b = static_cast<CpuBackend*>(rt);
  cpu::MatMulOptions o;
  o.pool = b->pool_.get();
  o.activations = b->options_.exact_quantized_matmul ? cpu::ActivationPrecision::kF32
                                                     : cpu::ActivationPrecision::kQ8;
  o.round_bf16 = round_bf16 != 0;
  const cpu::PackedMatrix* packed = b->packed_ ? b->packed_->Find(w->data, w->ne[0], w->ne[1]) : nullptr;
  absl::Status st = packed ? cpu::MatMulPacked(*packed, x, tokens, y, o)
                           : cpu::MatMul(gguf::GgmlType(w->ggml_type),
                                         b->packed_ ? b->packed_->Resident(w->data) : w->data,
                                         w->ne[0], w->ne[1], x, tokens, y, o);
  if (!st.ok() && b->linear_status_.ok()) b->linear_status_ = st;  // the step reports the first
}

void CpuBackend::ApiParallelRows(void* rt, int64_t n, void (*fn)(void*, int64_t, int64_t),
                                 void* ctx) {
  CpuBackend* b = static_cast<CpuBackend*>(rt);
  if (b->pool_ == nullptr) return fn(ctx, 0, n);
  b->pool_->ParallelFor(n, [&](int64_t begin, int64_t end) { fn(ctx, begin, end); });
}

absl::Status CpuBackend::RunStep(uint32_t index, const plan::Step& step) {
  if (g4k_fn kernel = kernel_of_step_[index]) {
    g4k_call call{&api_, this, n_tokens_, positions_, views_, weights_.data()};
    kernel(&call);
  } else {
    G4_RETURN_IF_ERROR(CpuInterpreter(*this, step).Run());
  }
  if (!linear_status_.ok())
    return absl::InternalError(absl::StrCat("step ", index, " (", plan::EnumNameOpKind(step.op()),
                                            "): ", std::exchange(linear_status_, absl::OkStatus()).message()));
  return absl::OkStatus();
}

absl::Status CpuBackend::RunTimedStep(uint32_t index) {
  const plan::Step& step = *plan_.steps()->Get(index);
  if (!options_.profile_steps) return RunStep(index, step);
  const auto t0 = std::chrono::steady_clock::now();
  absl::Status st = RunStep(index, step);
  // The pool's workers have joined when a step returns: its wall time is the step's.
  StepTime& t = step_times_[index];
  t.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++t.calls;
  return st;
}

void CpuBackend::ResetStepTimes() { step_times_.assign(plan_.steps()->size(), StepTime{}); }

absl::Status CpuBackend::Run(const int32_t* tokens, const int32_t* positions, int64_t n, int64_t logits_rows) {
  buffers_.Prepare(n, logits_rows);
  // Token ids and positions are i32 in the 4-byte slots of their tensors.
  std::memcpy(buffers_.head(plan_.inputs()->Get(0)).data, tokens, size_t(n) * 4);
  std::memcpy(buffers_.head(plan_.inputs()->Get(1)).data, positions, size_t(n) * 4);
  // Every row up to the last attention; the rest of the plan only on the rows whose logits
  // are wanted (rows are independent there, so each row's numbers are the same either way).
  n_tokens_ = n;
  positions_ = positions;
  views_ = buffers_.head_views();
  const uint32_t steps = plan_.steps()->size();
  for (uint32_t i = 0; i < tail_start_; ++i) G4_RETURN_IF_ERROR(RunTimedStep(i));
  n_tokens_ = logits_rows;
  positions_ = positions + (n - logits_rows);
  views_ = buffers_.tail_views();
  for (uint32_t i = tail_start_; i < steps; ++i) G4_RETURN_IF_ERROR(RunTimedStep(i));
  return absl::OkStatus();
}

const float* CpuBackend::logits() const { return buffers_.tail(plan_.outputs()->Get(0)).data; }

absl::Status CpuBackend::ReadTensor(uint32_t id, int64_t n, float* out) const {
  const g4k_tensor& t = buffers_.head(id);
  std::memcpy(out, t.data, sizeof(float) * size_t(n) * size_t(t.width));
  return absl::OkStatus();
}

}  // namespace g4::exec

// The CUDA backend (cuda_backend.h): the CPU interpreter's semantics, each op mapped to a
// kernel of kernels/cuda, dispatched by `switch (step.op())`.
#include "cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "cuda/attention.cuh"
#include "cuda/cuda_kernel_abi.h"
#include "cuda/cuda_status.h"
#include "cuda/matvec.cuh"
#include "cuda/row_ops.cuh"
#include "exec/kernel_library.h"
#include "exec/kv_cache.h"
#include "exec/weights.h"

namespace g4::cuda {
namespace {

using plan::OpKind;
using plan::Rounding;
using plan::Step;

struct DeviceWeight {
  void* data = nullptr;  // GGUF bytes (matrices) or f32 (1-D weights)
  BlockType type = BlockType::kF32;
  int64_t ne[4] = {1, 1, 1, 1};
  int n_dims = 0;
  const float* f32 = nullptr;  // 1-D weights widened to f32 (device)
};

absl::Status StepError(const Step& step, cudaError_t e) {
  if (e == cudaSuccess) return absl::OkStatus();
  return CudaStatus(e, absl::StrCat("step ", plan::EnumNameOpKind(step.op()),
                                    step.layer() >= 0 ? absl::StrCat(" (layer ", step.layer(), ")") : "")
                           .c_str());
}

}  // namespace

struct CudaBackend::Impl {
  exec::SessionOptions options;
  const plan::Plan* plan = nullptr;
  cudaStream_t stream = nullptr;
  std::vector<void*> allocations;
  int64_t allocated = 0;
  std::vector<DeviceWeight> weights;
  std::vector<float*> tensors;  // by plan tensor id, [max_batch][width]
  std::vector<int64_t> widths;
  std::vector<KvLayerView> kv;  // by layer; shared layers hold their source's view
  bool bf16_kv = false;
  float *gu = nullptr, *act = nullptr, *ys = nullptr;  // expert scratch
  int32_t* staging = nullptr;                          // pinned: tokens then positions
  float* host_logits = nullptr;                        // pinned [max_batch][vocab]
  int64_t vocab = 0, max_batch = 0, context = 0;
  int64_t n_tokens = 0;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t graph_exec = nullptr;
  int decode_evals = 0;
  bool used_graph = false;
  // The emitted kernels of `gemma4c compile --target=cuda` (OUTDIR/kernels_cuda.so), if any.
  exec::KernelLibrary library;
  g4kc_api kc_api{};
  std::vector<g4kc_tensor> kc_tensors;  // by plan tensor id (device pointers)
  std::vector<g4kc_weight> kc_weights;  // by plan weight id (device pointers)
  float* kc_scratch = nullptr;          // [max_batch][g4kc_scratch_floats()]
  std::vector<g4kc_fn> kernel_of_step;  // by top-level step index; null: interpreted

  ~Impl() {
    if (graph_exec) cudaGraphExecDestroy(graph_exec);
    if (graph) cudaGraphDestroy(graph);
    for (void* p : allocations) cudaFree(p);
    if (staging) cudaFreeHost(staging);
    if (host_logits) cudaFreeHost(host_logits);
    if (stream) cudaStreamDestroy(stream);
  }

  template <typename T>
  absl::Status Alloc(T** out, int64_t bytes, const std::string& what) {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, size_t(std::max<int64_t>(bytes, 16)));
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the sticky-free error state
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      return absl::ResourceExhaustedError(absl::StrCat(
          "CUDA out of memory: cudaMalloc of ", bytes, " bytes for ", what, " failed (", free_b,
          " of ", total_b, " bytes free on the device; ", allocated,
          " allocated by this session). A smaller --max-batch or max_context may fit."));
    }
    G4_CUDA_RETURN_IF_ERROR(e);
    allocations.push_back(p);
    allocated += bytes;
    *out = static_cast<T*>(p);
    return absl::OkStatus();
  }

  float* T(uint32_t id) { return tensors[id]; }
  int32_t* I(uint32_t id) { return reinterpret_cast<int32_t*>(tensors[id]); }

  absl::Status Bind(const exec::BackendContext& from);
  absl::Status UploadWeights(const std::vector<g4k_weight>& host);
  absl::Status AllocateKvCache();
  absl::Status AllocateExpertScratch();
  absl::Status LoadKernels(const std::string& plan_dir);
  static int ApiLinear(void* rt, const g4kc_weight* w, const float* x, int64_t tokens, float* y,
                       int round_bf16, cudaStream_t stream);
  absl::Status RunStep(const Step& step, g4kc_fn kernel);
  absl::Status RunSteps();
};

// The ggml types the device kernels (kernels/cuda/gguf_blocks.cuh) read.
static bool CudaReadsType(uint32_t ggml_type) {
  switch (BlockType(ggml_type)) {
    case BlockType::kF32: case BlockType::kF16: case BlockType::kBF16: case BlockType::kQ8_0:
    case BlockType::kQ4_0: case BlockType::kQ4_K: case BlockType::kQ6_K: case BlockType::kQ4_1:
    case BlockType::kQ5_0: case BlockType::kQ5_1: case BlockType::kQ2_K: case BlockType::kQ3_K:
    case BlockType::kQ5_K: case BlockType::kIQ4_NL: case BlockType::kIQ4_XS:
    case BlockType::kMXFP4:
      return true;
  }
  return false;
}

absl::Status CudaBackend::Impl::UploadWeights(const std::vector<g4k_weight>& host) {
  weights.resize(host.size());
  for (size_t i = 0; i < host.size(); ++i) {
    const g4k_weight& h = host[i];
    const std::string name = plan->weights()->Get(uint32_t(i))->name()->str();
    DeviceWeight& w = weights[i];
    w.type = BlockType(h.ggml_type);
    if (!h.f32 && !CudaReadsType(h.ggml_type)) {
      // A type the device readers (gguf_blocks*.cuh) do not know: refuse before uploading.
      return absl::UnimplementedError(absl::StrCat(
          "weight '", name, "': ggml type ", gguf::Traits(gguf::GgmlType(h.ggml_type)).name,
          " is not supported by the CUDA backend; run this file on the CPU backend or "
          "requantize it"));
    }
    w.n_dims = h.n_dims;
    for (int d = 0; d < 4; ++d) w.ne[d] = h.ne[d];
    if (h.f32) {  // 1-D weights: the session's f32 widening
      float* d = nullptr;
      G4_RETURN_IF_ERROR(Alloc(&d, h.ne[0] * 4, name));
      G4_CUDA_RETURN_IF_ERROR(cudaMemcpy(d, h.f32, size_t(h.ne[0]) * 4, cudaMemcpyHostToDevice));
      w.data = d;
      w.f32 = d;
    } else {
      const uint64_t bytes = exec::WeightBytes(h);
      uint8_t* d = nullptr;
      G4_RETURN_IF_ERROR(Alloc(&d, int64_t(bytes), name));
      G4_CUDA_RETURN_IF_ERROR(cudaMemcpy(d, h.data, bytes, cudaMemcpyHostToDevice));
      w.data = d;
    }
  }
  return absl::OkStatus();
}

// kv_cache.h's rules; full layers hold `context` positions up front.
absl::Status CudaBackend::Impl::AllocateKvCache() {
  const plan::Plan& p = *plan;
  kv.assign(p.model()->layers(), KvLayerView{});
  std::vector<int> source(p.model()->layers(), -1);
  for (const plan::KvLayer* l : *p.kv_cache()) {
    source[l->layer()] = l->owns_kv() ? l->layer() : l->source();
    if (!l->owns_kv()) continue;
    KvLayerView& v = kv[l->layer()];
    v.row = int64_t(l->kv_heads()) * l->head_dim();
    v.ring = l->window() > 0;
    v.capacity = exec::KvPositions(l->window(), context, max_batch);
    v.bf16 = bf16_kv;
    const int64_t bytes = v.capacity * v.row * (bf16_kv ? 2 : 4);
    const std::string what = absl::StrCat("the KV cache of layer ", l->layer());
    G4_RETURN_IF_ERROR(Alloc(&v.k, bytes, what));
    G4_RETURN_IF_ERROR(Alloc(&v.v, bytes, what));
  }
  for (const plan::KvLayer* l : *p.kv_cache())
    if (!l->owns_kv()) kv[l->layer()] = kv[source[l->layer()]];
  return absl::OkStatus();
}

// Scratch for the largest expert_ffn step.
absl::Status CudaBackend::Impl::AllocateExpertScratch() {
  int64_t gu_n = 0, act_n = 0, y_n = 0;
  auto scan = [&](const Step* st) {
    if (st->op() != OpKind::ExpertFfn) return;
    const plan::ExpertFfnAttrs& a = *st->attrs_as_ExpertFfnAttrs();
    const int64_t k = a.top_k(), ff = a.expert_ff();
    const int64_t H = widths[st->inputs()->Get(0)];
    gu_n = std::max(gu_n, max_batch * k * 2 * ff);
    act_n = std::max(act_n, max_batch * k * ff);
    y_n = std::max(y_n, max_batch * k * H);
  };
  for (const Step* st : *plan->steps()) {
    scan(st);
    if (st->body())
      for (const Step* inner : *st->body()) scan(inner);
  }
  if (gu_n == 0) return absl::OkStatus();
  G4_RETURN_IF_ERROR(Alloc(&gu, gu_n * 4, "expert scratch"));
  G4_RETURN_IF_ERROR(Alloc(&act, act_n * 4, "expert scratch"));
  return Alloc(&ys, y_n * 4, "expert scratch");
}

absl::Status CudaBackend::Impl::Bind(const exec::BackendContext& from) {
  options = from.options;
  plan = from.plan;
  const plan::Plan& p = *plan;
  G4_CUDA_RETURN_IF_ERROR(cudaSetDevice(options.cuda_device));
  G4_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  G4_RETURN_IF_ERROR(UploadWeights(*from.weights));

  const plan::Hyperparams& m = *p.model();
  vocab = m.vocab();
  max_batch = p.max_batch_tokens();
  context = options.KvContext(m.context_length());
  bf16_kv = p.precision() == plan::Precision::Reference;

  // Activations: one buffer per plan tensor for the largest batch (stable for graph replay).
  tensors.resize(p.tensors()->size());
  widths.resize(p.tensors()->size());
  for (uint32_t i = 0; i < p.tensors()->size(); ++i) {
    const plan::Tensor* t = p.tensors()->Get(i);
    widths[i] = t->width();
    G4_RETURN_IF_ERROR(Alloc(&tensors[i], max_batch * t->width() * 4, absl::StrCat("activation ", t->name()->str())));
  }
  G4_RETURN_IF_ERROR(AllocateKvCache());
  G4_RETURN_IF_ERROR(AllocateExpertScratch());
  G4_CUDA_RETURN_IF_ERROR(cudaMallocHost(&staging, size_t(2 * max_batch) * 4));
  G4_CUDA_RETURN_IF_ERROR(cudaMallocHost(&host_logits, size_t(max_batch * vocab) * 4));
  kernel_of_step.assign(p.steps()->size(), nullptr);
  if (!options.force_interpreted) return LoadKernels(from.plan_dir);
  return absl::OkStatus();
}

int CudaBackend::Impl::ApiLinear(void* rt, const g4kc_weight* w, const float* x, int64_t tokens,
                                 float* y, int round_bf16, cudaStream_t stream) {
  const Impl* m = static_cast<const Impl*>(rt);
  return int(MatMul(BlockType(w->ggml_type), w->data, w->ne[0], w->ne[1], x, tokens, y,
                    round_bf16 != 0,
                    m->options.exact_quantized_matmul ? MatMulPrecision::kF32 : MatMulPrecision::kBf16,
                    stream));
}

// Loads OUTDIR/kernels_cuda.so when the plan lists a "cuda" kernel library: checks its ABI
// version, resolves g4kc_<name> for every step with a kernel (the plan's g4k_<name>), sizes the
// scratch. Steps without an emitted kernel are interpreted by RunStep.
absl::Status CudaBackend::Impl::LoadKernels(const std::string& plan_dir) {
  const plan::Plan& p = *plan;
  if (!p.kernel_libraries()) return absl::OkStatus();
  for (const plan::KernelLibrary* lib : *p.kernel_libraries()) {
    if (!lib->target() || lib->target()->str() != "cuda" || !lib->path()) continue;
    G4_ASSIGN_OR_RETURN(library, exec::KernelLibrary::Open(plan_dir + "/" + lib->path()->str(),
                                                           "CUDA kernel library", "g4kc_abi_version",
                                                           G4KC_ABI_VERSION));
    G4_ASSIGN_OR_RETURN(void* scratch_symbol, library.Symbol("g4kc_scratch_floats"));
    auto scratch_floats = reinterpret_cast<int64_t (*)()>(scratch_symbol);
    for (uint32_t i = 0; i < p.steps()->size(); ++i) {
      const Step* st = p.steps()->Get(i);
      if (!st->kernel() || st->kernel()->size() == 0) continue;
      const std::string name = st->kernel()->str();
      // g4k_attn_norm_0 -> g4kc_attn_norm_0 (the CUDA emitter names them so).
      const std::string symbol = "g4kc_" + (name.rfind("g4k_", 0) == 0 ? name.substr(4) : name);
      G4_ASSIGN_OR_RETURN(void* fn, library.Symbol(symbol));
      kernel_of_step[i] = reinterpret_cast<g4kc_fn>(fn);
    }
    const int64_t scratch = scratch_floats();
    if (scratch > 0) G4_RETURN_IF_ERROR(Alloc(&kc_scratch, max_batch * scratch * 4, "emitted-kernel scratch"));
    kc_tensors.resize(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) kc_tensors[i] = {tensors[i], widths[i]};
    kc_weights.resize(weights.size());
    for (size_t i = 0; i < weights.size(); ++i) {
      const DeviceWeight& w = weights[i];
      g4kc_weight& k = kc_weights[i];
      k.data = w.data;
      k.ggml_type = uint32_t(w.type);
      k.n_dims = w.n_dims;
      for (int d = 0; d < 4; ++d) k.ne[d] = w.ne[d];
      k.f32 = w.f32;
    }
    kc_api.abi_version = G4KC_ABI_VERSION;
    kc_api.linear = &Impl::ApiLinear;
    break;
  }
  return absl::OkStatus();
}

absl::Status CudaBackend::Impl::RunStep(const Step& step, g4kc_fn kernel) {
  auto in = [&](int i) { return step.inputs()->Get(i); };
  auto out = [&](int i) { return step.outputs()->Get(i); };
  auto wt = [&](int i) -> const DeviceWeight& { return weights[step.weights()->Get(i)]; };
  const int64_t n = n_tokens;
  cudaStream_t s = stream;
  auto map = [&](MapOp m, float a, bool round, const float* scalar) {
    return StepError(step, Map(m, T(in(0)), T(out(0)), n * widths[out(0)], a, round, scalar, s));
  };

  switch (step.op()) {
    case OpKind::Fused: {
      if (kernel) {
        g4kc_call call{&kc_api, this, n, s, kc_tensors.data(), kc_weights.data(), kc_scratch};
        return StepError(step, cudaError_t(kernel(&call)));
      }
      if (!step.body()) return absl::OkStatus();
      for (const Step* inner : *step.body()) G4_RETURN_IF_ERROR(RunStep(*inner, nullptr));
      return absl::OkStatus();
    }
    case OpKind::Embed: {
      const DeviceWeight& w = wt(0);
      return StepError(step, Embed(w.type, w.data, w.ne[0], I(in(0)), T(out(0)), n, s));
    }
    case OpKind::Scale: return map(MapOp::kScale, float(step.attrs_as_ScaleAttrs()->factor()), false, nullptr);
    case OpKind::RmsNorm: {
      const plan::RmsNormAttrs& a = *step.attrs_as_RmsNormAttrs();
      const float* w = step.weights() && step.weights()->size() ? wt(0).f32 : nullptr;
      return StepError(step, RmsNorm(T(in(0)), w, T(out(0)), n, widths[out(0)], a.width(), float(a.eps()), s));
    }
    case OpKind::Linear: {
      const DeviceWeight& w = wt(0);
      return StepError(step, MatMul(w.type, w.data, w.ne[0], w.ne[1], T(in(0)), n, T(out(0)), false,
                                    options.exact_quantized_matmul ? MatMulPrecision::kF32 : MatMulPrecision::kBf16,
                                    s));
    }
    case OpKind::Rope: {
      const plan::RopeAttrs& a = *step.attrs_as_RopeAttrs();
      const int64_t width = widths[out(0)];
      if (T(in(0)) != T(out(0)))
        G4_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(T(out(0)), T(in(0)), n * width * 4, cudaMemcpyDeviceToDevice, s));
      return StepError(step, Rope(T(out(0)), n, width, a.head_dim(), a.rotary_dims(), a.theta(), I(in(1)),
                                  a.rounding() == Rounding::RopeBf16, s));
    }
    case OpKind::Attention: {
      const plan::AttentionAttrs& a = *step.attrs_as_AttentionAttrs();
      const int self = step.layer();
      const bool owns = step.inputs()->size() == 4;
      const int32_t* pos = I(in(owns ? 3 : 1));
      if (owns) G4_RETURN_IF_ERROR(StepError(step, KvWrite(kv[self], T(in(1)), T(in(2)), pos, n, s)));
      AttentionParams ap;
      ap.num_heads = a.num_heads();
      ap.num_kv_heads = a.num_kv_heads();
      ap.head_dim = a.head_dim();
      ap.window = a.window();
      ap.scale = float(a.scale());
      // The CPU kernel's three modes (docs/attention.md section 5): sdpa is torch's CPU flash
      // arithmetic, blocks of 512 keys at absolute positions as on the CPU.
      ap.mode = a.rounding() == Rounding::AttentionEager ? AttentionMode::kEager
                : a.rounding() == Rounding::AttentionSdpa ? AttentionMode::kSdpa
                                                          : AttentionMode::kExact;
      return StepError(step, Attention(ap, kv[owns ? self : a.kv_layer()], T(in(0)), pos, n, T(out(0)), s));
    }
    case OpKind::GeluTanh: return map(MapOp::kGelu, 0, false, nullptr);
    case OpKind::Mul:
    case OpKind::Add:
      return StepError(step, Zip(step.op() == OpKind::Mul ? ZipOp::kMul : ZipOp::kAdd, T(in(0)), T(in(1)),
                                 T(out(0)), n * widths[out(0)], s));
    case OpKind::ChannelMul:
      return StepError(step, ChannelMul(T(in(0)), wt(0).f32, T(out(0)), n, widths[out(0)], s));
    case OpKind::LayerScalar: return map(MapOp::kScalarMul, 0, false, wt(0).f32);
    case OpKind::Softcap: {
      const plan::SoftcapAttrs& a = *step.attrs_as_SoftcapAttrs();
      return map(MapOp::kSoftcap, float(a.cap()), a.rounding() == Rounding::SoftcapBf16, nullptr);
    }
    case OpKind::RoundBf16: return map(MapOp::kRoundBf16, 0, false, nullptr);
    case OpKind::Softmax: return StepError(step, Softmax(T(in(0)), T(out(0)), n, widths[out(0)], s));
    case OpKind::TopK:
      return StepError(step, TopK(T(in(0)), T(out(0)), I(out(1)), n, widths[in(0)], step.attrs_as_TopKAttrs()->k(), s));
    case OpKind::Renormalize:
      return StepError(step, Renormalize(T(in(0)), T(out(0)), n, widths[out(0)],
                                         step.attrs_as_RenormalizeAttrs()->rounding() == Rounding::RenormalizeBf16,
                                         s));
    case OpKind::ExpertScale:
      return StepError(step, ExpertScale(T(in(0)), I(in(1)), wt(0).f32, T(out(0)), n * widths[out(0)], s));
    case OpKind::ExpertFfn: {
      const plan::ExpertFfnAttrs& e = *step.attrs_as_ExpertFfnAttrs();
      ExpertFfnArgs a;
      a.gu_type = wt(0).type;
      a.dn_type = wt(1).type;
      a.gate_up = wt(0).data;
      a.down = wt(1).data;
      a.hidden = widths[in(0)];
      a.ff = e.expert_ff();
      a.top_k = e.top_k();
      a.round = e.rounding() == Rounding::ExpertsBf16 || e.rounding() == Rounding::ExpertsBf16Weighted;
      a.round_weighted = e.rounding() == Rounding::ExpertsBf16Weighted;
      return StepError(step, ExpertFfn(a, T(in(0)), T(in(1)), I(in(2)), n, gu, act, ys, T(out(0)), s));
    }
    case OpKind::PleSlice: {
      const int64_t packed = widths[in(0)], w = widths[out(0)], layer = step.attrs_as_PleSliceAttrs()->layer();
      G4_CUDA_RETURN_IF_ERROR(cudaMemcpy2DAsync(T(out(0)), w * 4, T(in(0)) + layer * w, packed * 4, w * 4, n,
                                                cudaMemcpyDeviceToDevice, s));
      return absl::OkStatus();
    }
  }
  return absl::UnimplementedError(absl::StrCat("step '", plan::EnumNameOpKind(step.op()), "' has no CUDA implementation"));
}

absl::Status CudaBackend::Impl::RunSteps() {
  for (uint32_t i = 0; i < plan->steps()->size(); ++i)
    G4_RETURN_IF_ERROR(RunStep(*plan->steps()->Get(i), kernel_of_step[i]));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<exec::Backend>> CreateCudaBackend(const exec::BackendContext& context) {
  G4_ASSIGN_OR_RETURN(std::unique_ptr<CudaBackend> backend, CudaBackend::Create(context));
  return std::unique_ptr<exec::Backend>(std::move(backend));
}

absl::StatusOr<std::unique_ptr<CudaBackend>> CudaBackend::Create(const exec::BackendContext& context) {
  std::string why;
  if (!CudaDeviceAvailable(&why)) return absl::FailedPreconditionError(why);
  std::unique_ptr<CudaBackend> b(new CudaBackend());
  b->impl_ = std::make_unique<Impl>();
  G4_RETURN_IF_ERROR(b->impl_->Bind(context));
  return b;
}

CudaBackend::~CudaBackend() = default;

absl::Status CudaBackend::Run(const int32_t* tokens, const int32_t* positions, int64_t n, int64_t logits_rows) {
  Impl& m = *impl_;
  // Inputs: staged in pinned memory, copied before the steps (outside any captured graph).
  const plan::Plan& p = *m.plan;
  std::memcpy(m.staging, tokens, size_t(n) * 4);
  std::memcpy(m.staging + m.max_batch, positions, size_t(n) * 4);
  G4_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(m.tensors[p.inputs()->Get(0)], m.staging, n * 4,
                                          cudaMemcpyHostToDevice, m.stream));
  G4_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(m.tensors[p.inputs()->Get(1)], m.staging + m.max_batch,
                                          n * 4, cudaMemcpyHostToDevice, m.stream));
  m.n_tokens = n;
  m.used_graph = false;
  if (n == 1 && m.options.cuda_graphs && ++m.decode_evals >= 2) {
    if (!m.graph_exec) {  // capture on the second decode step (the first ran eagerly)
      G4_CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(m.stream, cudaStreamCaptureModeThreadLocal));
      absl::Status st = m.RunSteps();
      cudaGraph_t graph = nullptr;
      const cudaError_t end = cudaStreamEndCapture(m.stream, &graph);
      if (!st.ok()) {
        if (graph) cudaGraphDestroy(graph);
        return st;
      }
      G4_CUDA_RETURN_IF_ERROR(end);
      m.graph = graph;
      G4_CUDA_RETURN_IF_ERROR(cudaGraphInstantiate(&m.graph_exec, m.graph, 0));
    }
    G4_CUDA_RETURN_IF_ERROR(cudaGraphLaunch(m.graph_exec, m.stream));
    m.used_graph = true;
  } else {
    G4_RETURN_IF_ERROR(m.RunSteps());
  }
  G4_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(m.host_logits, m.tensors[p.outputs()->Get(0)] + (n - logits_rows) * m.vocab,
                                          logits_rows * m.vocab * 4, cudaMemcpyDeviceToHost, m.stream));
  G4_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(m.stream));
  return absl::OkStatus();
}

const float* CudaBackend::logits() const { return impl_->host_logits; }
int64_t CudaBackend::context_capacity() const { return impl_->context; }
bool CudaBackend::last_run_used_graph() const { return impl_->used_graph; }

absl::Status CudaBackend::ReadTensor(uint32_t id, int64_t n, float* out) const {
  // Run ended with a stream synchronization, so the device buffers hold the last batch.
  G4_CUDA_RETURN_IF_ERROR(cudaMemcpy(out, impl_->tensors[id], size_t(n * impl_->widths[id]) * 4,
                                     cudaMemcpyDeviceToHost));
  return absl::OkStatus();
}

bool CudaDeviceAvailable(std::string* why) {
  int devices = 0;
  const cudaError_t e = cudaGetDeviceCount(&devices);
  if (e != cudaSuccess || devices == 0) {
    if (why)
      *why = absl::StrCat("no CUDA device: ",
                          e != cudaSuccess ? absl::StrCat(cudaGetErrorName(e), ": ", cudaGetErrorString(e))
                                           : "cudaGetDeviceCount found none");
    cudaGetLastError();
    return false;
  }
  return true;
}

}  // namespace g4::cuda

// The CUDA backend's executor (cuda_session.h): the builtin semantics of exec::Session's
// StepRunner, each op mapped to a kernel of kernels/cuda.
#include "cuda/cuda_session.h"

#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "cuda/attention.cuh"
#include "cuda/cuda_kernel_abi.h"
#include "cuda/cuda_status.h"
#include "cuda/matvec.cuh"
#include "cuda/row_ops.cuh"
#include "gguf/gguf.h"
#include "plan/plan_reader.h"
#include "plan/step_attrs.h"
#include "plan/weight_binding.h"

namespace g4::cuda {
namespace {

using plan::Step;

using plan::FloatAttr;
using plan::IntAttr;
using plan::StringAttr;

struct DeviceWeight {
  void* data = nullptr;  // GGUF bytes (matrices) or f32 (1-D weights)
  BlockType type = BlockType::kF32;
  int64_t ne[4] = {1, 1, 1, 1};
  int n_dims = 0;
  const float* f32 = nullptr;  // 1-D weights widened to f32 (device)
  uint64_t row_bytes = 0;      // GGUF bytes of one ne[0] row
};

}  // namespace

struct CudaSession::Impl {
  CudaSessionOptions options;
  plan::LoadedPlan plan;
  std::unique_ptr<gguf::GgufFile> gguf;
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
  int64_t position = 0, n_tokens = 0;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t graph_exec = nullptr;
  int decode_evals = 0;
  bool used_graph = false;
  // The emitted kernels of `gemma4c compile --target=cuda` (OUTDIR/kernels_cuda.so), if any.
  void* kernel_library = nullptr;
  g4kc_api kc_api{};
  std::vector<g4kc_tensor> kc_tensors;  // by plan tensor id (device pointers)
  std::vector<g4kc_weight> kc_weights;  // by plan weight id (device pointers)
  float* kc_scratch = nullptr;          // [max_batch][g4kc_scratch_floats()]
  std::map<std::string, g4kc_fn> kc_fns;  // by the plan step's kernel name (g4k_...)

  ~Impl() {
    if (graph_exec) cudaGraphExecDestroy(graph_exec);
    if (graph) cudaGraphDestroy(graph);
    for (void* p : allocations) cudaFree(p);
    if (staging) cudaFreeHost(staging);
    if (host_logits) cudaFreeHost(host_logits);
    if (stream) cudaStreamDestroy(stream);
    if (kernel_library) dlclose(kernel_library);
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

  absl::Status Bind(const std::string& plan_dir, const std::string& gguf_path);
  absl::Status LoadKernels(const std::string& plan_dir);
  static int ApiLinear(void* rt, const g4kc_weight* w, const float* x, int64_t tokens, float* y,
                       int round_bf16, cudaStream_t stream);
  absl::Status RunStep(const Step& step);
  absl::Status RunSteps();
};

namespace {

absl::Status StepError(const Step& step, cudaError_t e) {
  if (e == cudaSuccess) return absl::OkStatus();
  return CudaStatus(e, absl::StrCat("step ", step.op()->str(),
                                    step.layer() >= 0 ? absl::StrCat(" (layer ", step.layer(), ")") : "")
                           .c_str());
}

}  // namespace

absl::Status CudaSession::Impl::Bind(const std::string& plan_dir, const std::string& gguf_path) {
  G4_CUDA_RETURN_IF_ERROR(cudaSetDevice(options.device));
  G4_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  absl::StatusOr<plan::LoadedPlan> loaded = plan::LoadPlan(plan_dir);
  if (!loaded.ok()) return loaded.status();
  plan = std::move(*loaded);
  auto file = gguf::GgufFile::Open(gguf_path);
  if (!file.ok()) return file.status();
  gguf = std::move(*file);
  const plan::Plan& p = *plan.plan();
  if (absl::Status st = plan::BindingStatus(plan::CheckBindings(p, *gguf), gguf_path); !st.ok())
    return st;

  // Weights: uploaded once, in their GGUF dtype.
  weights.resize(p.weights()->size());
  for (uint32_t i = 0; i < p.weights()->size(); ++i) {
    const gguf::TensorInfo* t = gguf->FindTensor(p.weights()->Get(i)->name()->str());
    DeviceWeight& w = weights[i];
    w.type = BlockType(uint32_t(t->type));
    w.n_dims = int(t->ne.size());
    for (size_t d = 0; d < 4; ++d) w.ne[d] = d < t->ne.size() ? t->ne[d] : 1;
    w.row_bytes = *gguf::RowBytes(t->type, w.ne[0]);
    if (t->ne.size() == 1) {
      absl::StatusOr<std::vector<float>> v = gguf->ReadAsF32(*t);
      if (!v.ok()) return v.status();
      float* d = nullptr;
      if (absl::Status st = Alloc(&d, int64_t(v->size() * 4), t->name); !st.ok()) return st;
      G4_CUDA_RETURN_IF_ERROR(cudaMemcpy(d, v->data(), v->size() * 4, cudaMemcpyHostToDevice));
      w.data = d;
      w.f32 = d;
    } else {
      uint8_t* d = nullptr;
      if (absl::Status st = Alloc(&d, int64_t(t->nbytes), t->name); !st.ok()) return st;
      G4_CUDA_RETURN_IF_ERROR(cudaMemcpy(d, t->data, t->nbytes, cudaMemcpyHostToDevice));
      w.data = d;
    }
  }

  const plan::Hyperparams& m = *p.model();
  vocab = m.vocab();
  max_batch = p.max_batch_tokens();
  context = options.max_context > 0 ? std::min<int64_t>(options.max_context, m.context_length())
                                    : m.context_length();
  bf16_kv = p.precision() == plan::Precision::Reference;

  // Activations: one buffer per plan tensor for the largest batch (stable for graph replay).
  tensors.resize(p.tensors()->size());
  widths.resize(p.tensors()->size());
  for (uint32_t i = 0; i < p.tensors()->size(); ++i) {
    const plan::Tensor* t = p.tensors()->Get(i);
    widths[i] = t->width();
    if (absl::Status st = Alloc(&tensors[i], max_batch * t->width() * 4,
                                absl::StrCat("activation ", t->name()->str()));
        !st.ok())
      return st;
  }

  // KV cache (kv_cache.h's rules; full layers hold `context` positions up front).
  kv.assign(m.layers(), KvLayerView{});
  std::vector<int> source(m.layers(), -1);
  for (const plan::KvLayer* l : *p.kv_cache()) {
    source[l->layer()] = l->owns_kv() ? l->layer() : l->source();
    if (!l->owns_kv()) continue;
    KvLayerView& v = kv[l->layer()];
    v.row = int64_t(l->kv_heads()) * l->head_dim();
    v.ring = l->window() > 0;
    v.capacity = v.ring ? std::min<int64_t>(l->window() + max_batch, context) : context;
    v.bf16 = bf16_kv;
    const int64_t bytes = v.capacity * v.row * (bf16_kv ? 2 : 4);
    const std::string what = absl::StrCat("the KV cache of layer ", l->layer());
    if (absl::Status st = Alloc(&v.k, bytes, what); !st.ok()) return st;
    if (absl::Status st = Alloc(&v.v, bytes, what); !st.ok()) return st;
  }
  for (const plan::KvLayer* l : *p.kv_cache())
    if (!l->owns_kv()) kv[l->layer()] = kv[source[l->layer()]];

  // Expert scratch for the largest expert_ffn step.
  int64_t gu_n = 0, act_n = 0, y_n = 0;
  auto scan = [&](const Step* st) {
    if (st->op()->str() != "g4.expert_ffn") return;
    const int64_t k = IntAttr(*st, "top_k"), ff = IntAttr(*st, "expert_ff");
    const int64_t H = widths[st->inputs()->Get(0)];
    gu_n = std::max(gu_n, max_batch * k * 2 * ff);
    act_n = std::max(act_n, max_batch * k * ff);
    y_n = std::max(y_n, max_batch * k * H);
  };
  for (const Step* st : *p.steps()) {
    scan(st);
    if (st->body())
      for (const Step* inner : *st->body()) scan(inner);
  }
  if (gu_n > 0) {
    if (absl::Status st = Alloc(&gu, gu_n * 4, "expert scratch"); !st.ok()) return st;
    if (absl::Status st = Alloc(&act, act_n * 4, "expert scratch"); !st.ok()) return st;
    if (absl::Status st = Alloc(&ys, y_n * 4, "expert scratch"); !st.ok()) return st;
  }
  G4_CUDA_RETURN_IF_ERROR(cudaMallocHost(&staging, size_t(2 * max_batch) * 4));
  G4_CUDA_RETURN_IF_ERROR(cudaMallocHost(&host_logits, size_t(max_batch * vocab) * 4));
  if (options.use_emitted_kernels) return LoadKernels(plan_dir);
  return absl::OkStatus();
}

int CudaSession::Impl::ApiLinear(void* rt, const g4kc_weight* w, const float* x, int64_t tokens,
                                 float* y, int round_bf16, cudaStream_t stream) {
  const Impl* m = static_cast<const Impl*>(rt);
  return int(MatMul(BlockType(w->ggml_type), w->data, w->ne[0], w->ne[1], x, tokens, y,
                    round_bf16 != 0,
                    m->options.exact_matmul ? MatMulPrecision::kF32 : MatMulPrecision::kBf16,
                    stream));
}

// Loads OUTDIR/kernels_cuda.so when the plan lists a "cuda" kernel library: checks its ABI
// version, resolves g4kc_<name> for every step with a kernel (the plan's g4k_<name>), sizes the
// scratch. Steps without an emitted kernel keep running through RunStep's interpreter.
absl::Status CudaSession::Impl::LoadKernels(const std::string& plan_dir) {
  const plan::Plan& p = *plan.plan();
  if (!p.kernel_libraries()) return absl::OkStatus();
  for (const plan::KernelLibrary* lib : *p.kernel_libraries()) {
    if (!lib->target() || lib->target()->str() != "cuda" || !lib->path()) continue;
    const std::string path = plan_dir + "/" + lib->path()->str();
    kernel_library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!kernel_library)
      return absl::InvalidArgumentError(absl::StrCat(path, ": the plan's CUDA kernel library: ", dlerror()));
    auto version = reinterpret_cast<uint32_t (*)()>(dlsym(kernel_library, "g4kc_abi_version"));
    if (!version || version() != G4KC_ABI_VERSION)
      return absl::FailedPreconditionError(absl::StrCat(
          path, ": CUDA kernel ABI ", version ? version() : 0, " is not the runtime's ", G4KC_ABI_VERSION));
    auto scratch_floats = reinterpret_cast<int64_t (*)()>(dlsym(kernel_library, "g4kc_scratch_floats"));
    if (!scratch_floats)
      return absl::NotFoundError(absl::StrCat(path, ": g4kc_scratch_floats is missing"));
    for (const Step* st : *p.steps()) {
      if (!st->kernel() || st->kernel()->size() == 0) continue;
      const std::string name = st->kernel()->str();
      const std::string symbol =
          "g4kc_" + (name.rfind("g4k_", 0) == 0 ? name.substr(4) : name);
      auto fn = reinterpret_cast<g4kc_fn>(dlsym(kernel_library, symbol.c_str()));
      if (!fn) return absl::NotFoundError(absl::StrCat(path, ": kernel '", symbol, "' is missing"));
      kc_fns[name] = fn;
    }
    const int64_t scratch = scratch_floats();
    if (scratch > 0)
      if (absl::Status st = Alloc(&kc_scratch, max_batch * scratch * 4, "emitted-kernel scratch");
          !st.ok())
        return st;
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

absl::Status CudaSession::Impl::RunStep(const Step& step) {
  const std::string op = step.op()->str();
  auto in = [&](int i) { return step.inputs()->Get(i); };
  auto out = [&](int i) { return step.outputs()->Get(i); };
  auto wt = [&](int i) -> const DeviceWeight& { return weights[step.weights()->Get(i)]; };
  const int64_t n = n_tokens;
  cudaStream_t s = stream;
  auto map = [&](MapOp m, float a, bool round, const float* scalar) {
    return StepError(step, Map(m, T(in(0)), T(out(0)), n * widths[out(0)], a, round, scalar, s));
  };

  if (op == "g4.fused") {
    if (step.kernel() && step.kernel()->size() > 0) {
      auto fn = kc_fns.find(step.kernel()->str());
      if (fn != kc_fns.end()) {
        g4kc_call call{&kc_api, this, n, s, kc_tensors.data(), kc_weights.data(), kc_scratch};
        return StepError(step, cudaError_t(fn->second(&call)));
      }
    }
    if (!step.body()) return absl::OkStatus();
    for (const Step* inner : *step.body())
      if (absl::Status st = RunStep(*inner); !st.ok()) return st;
    return absl::OkStatus();
  }
  if (op == "g4.embed") {
    const DeviceWeight& w = wt(0);
    return StepError(step, Embed(w.type, w.data, w.ne[0], I(in(0)), T(out(0)), n, s));
  }
  if (op == "g4.scale") return map(MapOp::kScale, float(FloatAttr(step, "factor")), false, nullptr);
  if (op == "g4.rms_norm") {
    const float* w = step.weights() && step.weights()->size() ? wt(0).f32 : nullptr;
    return StepError(step, RmsNorm(T(in(0)), w, T(out(0)), n, widths[out(0)],
                                   IntAttr(step, "width"), float(FloatAttr(step, "eps")), s));
  }
  if (op == "g4.linear") {
    const DeviceWeight& w = wt(0);
    return StepError(step, MatMul(w.type, w.data, w.ne[0], w.ne[1], T(in(0)), n, T(out(0)),
                                  false, options.exact_matmul ? MatMulPrecision::kF32
                                                              : MatMulPrecision::kBf16,
                                  s));
  }
  if (op == "g4.rope") {
    const int64_t width = widths[out(0)];
    if (T(in(0)) != T(out(0)))
      G4_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(T(out(0)), T(in(0)), n * width * 4,
                                              cudaMemcpyDeviceToDevice, s));
    return StepError(step, Rope(T(out(0)), n, width, IntAttr(step, "head_dim"),
                                IntAttr(step, "rotary_dims"), FloatAttr(step, "theta"), I(in(1)),
                                StringAttr(step, "g4.rounding") == "rope_bf16", s));
  }
  if (op == "g4.attention") {
    const int layer = int(IntAttr(step, "kv_layer", step.layer()));
    const int self = step.layer();
    const bool owns = step.inputs()->size() == 4;
    const int32_t* pos = I(in(owns ? 3 : 1));
    if (owns)
      if (absl::Status st = StepError(step, KvWrite(kv[self], T(in(1)), T(in(2)), pos, n, s));
          !st.ok())
        return st;
    AttentionParams ap;
    ap.num_heads = IntAttr(step, "num_heads");
    ap.num_kv_heads = IntAttr(step, "num_kv_heads");
    ap.head_dim = IntAttr(step, "head_dim");
    ap.window = IntAttr(step, "window");
    ap.scale = float(FloatAttr(step, "scale", 1.0));
    ap.eager = StringAttr(step, "g4.rounding") == "attention_eager";
    return StepError(step, Attention(ap, kv[owns ? self : layer], T(in(0)), pos, n, T(out(0)), s));
  }
  if (op == "g4.gelu_tanh") return map(MapOp::kGelu, 0, false, nullptr);
  if (op == "g4.mul" || op == "g4.add")
    return StepError(step, Zip(op == "g4.mul" ? ZipOp::kMul : ZipOp::kAdd, T(in(0)), T(in(1)),
                               T(out(0)), n * widths[out(0)], s));
  if (op == "g4.channel_mul")
    return StepError(step, ChannelMul(T(in(0)), wt(0).f32, T(out(0)), n, widths[out(0)], s));
  if (op == "g4.layer_scalar") return map(MapOp::kScalarMul, 0, false, wt(0).f32);
  if (op == "g4.softcap")
    return map(MapOp::kSoftcap, float(FloatAttr(step, "cap")),
               StringAttr(step, "g4.rounding") == "softcap_bf16", nullptr);
  if (op == "g4.round_bf16") return map(MapOp::kRoundBf16, 0, false, nullptr);
  if (op == "g4.softmax") return StepError(step, Softmax(T(in(0)), T(out(0)), n, widths[out(0)], s));
  if (op == "g4.top_k")
    return StepError(step, TopK(T(in(0)), T(out(0)), I(out(1)), n, widths[in(0)],
                                IntAttr(step, "k"), s));
  if (op == "g4.renormalize")
    return StepError(step, Renormalize(T(in(0)), T(out(0)), n, widths[out(0)],
                                       StringAttr(step, "g4.rounding") == "renormalize_bf16", s));
  if (op == "g4.expert_scale")
    return StepError(step, ExpertScale(T(in(0)), I(in(1)), wt(0).f32, T(out(0)),
                                       n * widths[out(0)], s));
  if (op == "g4.expert_ffn") {
    const std::string rounding = StringAttr(step, "g4.rounding");
    ExpertFfnArgs a;
    a.gu_type = wt(0).type;
    a.dn_type = wt(1).type;
    a.gate_up = wt(0).data;
    a.down = wt(1).data;
    a.hidden = widths[in(0)];
    a.ff = IntAttr(step, "expert_ff");
    a.top_k = IntAttr(step, "top_k");
    a.round = rounding == "experts_bf16" || rounding == "experts_bf16_weighted";
    a.round_weighted = rounding == "experts_bf16_weighted";
    return StepError(step, ExpertFfn(a, T(in(0)), T(in(1)), I(in(2)), n, gu, act, ys, T(out(0)), s));
  }
  if (op == "g4.ple_slice") {
    const int64_t packed = widths[in(0)], w = widths[out(0)], layer = IntAttr(step, "layer");
    G4_CUDA_RETURN_IF_ERROR(cudaMemcpy2DAsync(T(out(0)), w * 4, T(in(0)) + layer * w, packed * 4,
                                              w * 4, n, cudaMemcpyDeviceToDevice, s));
    return absl::OkStatus();
  }
  return absl::UnimplementedError(absl::StrCat("step '", op, "' has no CUDA implementation"));
}

absl::Status CudaSession::Impl::RunSteps() {
  for (const Step* step : *plan.plan()->steps())
    if (absl::Status st = RunStep(*step); !st.ok()) return st;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CudaSession>> CudaSession::Open(const std::string& plan_dir,
                                                               const std::string& gguf_path,
                                                               const CudaSessionOptions& options) {
  std::string why;
  if (!CudaDeviceAvailable(&why)) return absl::FailedPreconditionError(why);
  std::unique_ptr<CudaSession> s(new CudaSession());
  s->impl_ = std::make_unique<Impl>();
  s->impl_->options = options;
  if (absl::Status st = s->impl_->Bind(plan_dir, gguf_path); !st.ok()) return st;
  return s;
}

CudaSession::~CudaSession() = default;

absl::Status CudaSession::Eval(const std::vector<int32_t>& tokens) {
  Impl& m = *impl_;
  const int64_t n = int64_t(tokens.size());
  if (n == 0) return absl::InvalidArgumentError("Eval: no tokens");
  if (n > m.max_batch)
    return absl::InvalidArgumentError(absl::StrCat("a batch of ", n, " tokens is larger than the plan's maximum of ",
                                                   m.max_batch, " (compile with a larger --max-batch)"));
  if (m.position + n > m.context)
    return absl::OutOfRangeError(absl::StrCat("the context would reach ", m.position + n,
                                              " tokens; the CUDA session holds ", m.context));
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= m.vocab)
      return absl::InvalidArgumentError(absl::StrCat("token ", tokens[i], " at index ", i,
                                                     " is outside the vocabulary [0, ", m.vocab, ")"));
  // Inputs: staged in pinned memory, copied before the steps (outside any captured graph).
  const plan::Plan& p = *m.plan.plan();
  for (int64_t i = 0; i < n; ++i) {
    m.staging[i] = tokens[i];
    m.staging[m.max_batch + i] = int32_t(m.position + i);
  }
  G4_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(m.tensors[p.inputs()->Get(0)], m.staging, n * 4,
                                          cudaMemcpyHostToDevice, m.stream));
  G4_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(m.tensors[p.inputs()->Get(1)], m.staging + m.max_batch,
                                          n * 4, cudaMemcpyHostToDevice, m.stream));
  m.n_tokens = n;
  m.used_graph = false;
  if (n == 1 && m.options.use_graphs && ++m.decode_evals >= 2) {
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
    if (absl::Status st = m.RunSteps(); !st.ok()) return st;
  }
  G4_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(m.host_logits, m.tensors[p.outputs()->Get(0)],
                                          n * m.vocab * 4, cudaMemcpyDeviceToHost, m.stream));
  G4_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(m.stream));
  m.position += n;
  return absl::OkStatus();
}

void CudaSession::Reset() { impl_->position = 0; }
int64_t CudaSession::position() const { return impl_->position; }
int64_t CudaSession::vocab() const { return impl_->vocab; }
int64_t CudaSession::last_tokens() const { return impl_->n_tokens; }
const float* CudaSession::logits() const { return impl_->host_logits; }
int64_t CudaSession::device_bytes() const { return impl_->allocated; }
bool CudaSession::last_eval_used_graph() const { return impl_->used_graph; }

double CudaSession::DecodeWeightBytesPerToken() const {
  const plan::Plan& p = *impl_->plan.plan();
  double total = 0;
  auto add = [&](const Step* step) {
    if (!step->weights()) return;
    const std::string op = step->op()->str();
    for (uint32_t w : *step->weights()) {
      const DeviceWeight& wt = impl_->weights[w];
      const double row = double(wt.row_bytes);
      const double rows = double(wt.ne[1] * wt.ne[2] * wt.ne[3]);
      if (op == "g4.embed") total += row;
      else if (op == "g4.expert_ffn")
        total += row * rows * double(IntAttr(*step, "top_k")) / double(IntAttr(*step, "num_experts"));
      else total += row * rows;
    }
  };
  for (const Step* st : *p.steps()) {
    add(st);
    if (st->body())
      for (const Step* inner : *st->body()) add(inner);
  }
  return total;
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

// The executor: binds a plan to a GGUF file and runs its steps. Steps with an emitted kernel
// call it through the C ABI of kernel_abi.h; every other step runs the builtin implementation
// of its op below, with the reference's semantics (kernels/common/row_ops.h holds the per-row math
// shared with the emitted code).
#include "exec/session.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cpu/matmul.h"
#include "common/row_ops.h"
#include "plan/step_attrs.h"
#include "plan/weight_binding.h"

namespace g4::exec {
namespace {

using plan::Step;

using plan::FloatAttr;
using plan::IntAttr;
using plan::StringAttr;

int32_t AsInt(const float* slot) {
  int32_t v;
  std::memcpy(&v, slot, 4);
  return v;
}
void StoreInt(float* slot, int32_t v) { std::memcpy(slot, &v, 4); }

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

// Runs one step with the builtin implementation of its op. A friend of Session.
class StepRunner {
 public:
  StepRunner(Session& s, const Step& step) : s_(s), step_(step), n_(s.n_tokens_) {}

  absl::Status Run() {
    std::string op = step_.op()->str();
    if (op == "g4.fused") return RunFused();
    if (op == "g4.embed") return Embed();
    if (op == "g4.scale") return Map([f = float(FloatAttr(step_, "factor"))](float x) { return x * f; });
    if (op == "g4.rms_norm") return RmsNorm();
    if (op == "g4.linear") return Linear();
    if (op == "g4.rope") return Rope();
    if (op == "g4.attention") return Attention();
    if (op == "g4.gelu_tanh") return Map([](float x) { return ops::GeluTanh(x); });
    if (op == "g4.mul") return Zip([](float a, float b) { return a * b; });
    if (op == "g4.add") return Zip([](float a, float b) { return a + b; });
    if (op == "g4.channel_mul") return ChannelMul();
    if (op == "g4.layer_scalar") {
      float w = s_.weights_[W(0)].f32[0];
      return Map([w](float x) { return x * w; });
    }
    if (op == "g4.softcap") {
      float cap = float(FloatAttr(step_, "cap"));
      bool round = StringAttr(step_, "g4.rounding") == "softcap_bf16";
      return Map([cap, round](float x) { return ops::Softcap(x, cap, round); });
    }
    if (op == "g4.round_bf16") return Map([](float x) { return ops::RoundBf16(x); });
    if (op == "g4.softmax") return Softmax();
    if (op == "g4.top_k") return TopK();
    if (op == "g4.renormalize") return Renormalize();
    if (op == "g4.expert_scale") return ExpertScale();
    if (op == "g4.expert_ffn") return ExpertFfn();
    if (op == "g4.ple_slice") return PleSlice();
    return absl::UnimplementedError(absl::StrCat("step '", op, "' has no builtin implementation"));
  }

 private:
  uint32_t In(int i) const { return step_.inputs()->Get(i); }
  uint32_t Out(int i) const { return step_.outputs()->Get(i); }
  uint32_t W(int i) const { return step_.weights()->Get(i); }
  int64_t Width(uint32_t t) const { return s_.tensor_views_[t].width; }
  float* T(uint32_t t) { return s_.Tensor(t); }

  absl::Status RunFused() {
    if (!step_.body()) return absl::OkStatus();
    for (const Step* inner : *step_.body())
      if (absl::Status st = StepRunner(s_, *inner).Run(); !st.ok()) return st;
    return absl::OkStatus();
  }

  template <typename F>
  absl::Status Map(F f) {
    const float* x = T(In(0));
    float* y = T(Out(0));
    int64_t n = n_ * Width(Out(0));
    for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
    return absl::OkStatus();
  }

  template <typename F>
  absl::Status Zip(F f) {
    const float* a = T(In(0));
    const float* b = T(In(1));
    float* y = T(Out(0));
    int64_t n = n_ * Width(Out(0));
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
    return absl::OkStatus();
  }

  absl::Status Embed() {
    const g4k_weight& table = s_.weights_[W(0)];
    const auto type = gguf::GgmlType(table.ggml_type);
    const int64_t width = table.ne[0];
    const uint64_t row_bytes = *gguf::RowBytes(type, width);
    const float* tokens = T(In(0));
    float* y = T(Out(0));
    for (int64_t t = 0; t < n_; ++t) {
      const uint8_t* row = static_cast<const uint8_t*>(table.data) + uint64_t(AsInt(tokens + t)) * row_bytes;
      gguf::Dequantize(type, row, y + t * width, width);
    }
    return absl::OkStatus();
  }

  absl::Status RmsNorm() {
    const float* x = T(In(0));
    float* y = T(Out(0));
    const int64_t n = Width(Out(0)), width = IntAttr(step_, "width");
    const float* w = step_.weights() && step_.weights()->size() ? s_.weights_[W(0)].f32 : nullptr;
    const float eps = float(FloatAttr(step_, "eps"));
    for (int64_t t = 0; t < n_; ++t) ops::RmsNormRow(x + t * n, w, n, width, eps, y + t * n);
    return absl::OkStatus();
  }

  absl::Status Linear() {
    const g4k_weight& w = s_.weights_[W(0)];
    Session::ApiLinear(&s_, &w, T(In(0)), n_, T(Out(0)), /*round_bf16=*/0);
    return absl::OkStatus();
  }

  absl::Status Rope() {
    const float* x = T(In(0));
    float* y = T(Out(0));
    const float* pos = T(In(1));
    const int64_t n = Width(Out(0));
    const bool round = StringAttr(step_, "g4.rounding") == "rope_bf16";
    const int64_t hd = IntAttr(step_, "head_dim"), rot = IntAttr(step_, "rotary_dims");
    const double theta = FloatAttr(step_, "theta");
    if (x != y) std::memcpy(y, x, sizeof(float) * n * n_);
    for (int64_t t = 0; t < n_; ++t)
      ops::RopeRow(y + t * n, n, hd, rot, theta, AsInt(pos + t), round);
    return absl::OkStatus();
  }

  // Writes this batch's K/V (owning layers) and attends every query to the visible keys:
  // causal, and within `window` positions on sliding layers. Scores and softmax in fp32 (sdpa
  // semantics); `attention_eager` rounds scores and probabilities to bf16.
  absl::Status Attention() {
    const int layer = int(IntAttr(step_, "kv_layer", step_.layer()));
    const int self = step_.layer();
    const int64_t nh = IntAttr(step_, "num_heads"), nkv = IntAttr(step_, "num_kv_heads");
    const int64_t hd = IntAttr(step_, "head_dim"), window = IntAttr(step_, "window");
    const float scale = float(FloatAttr(step_, "scale", 1.0));
    const bool eager = StringAttr(step_, "g4.rounding") == "attention_eager";
    const bool owns = step_.inputs()->size() == 4;
    const float* q = T(In(0));
    const float* pos = T(In(owns ? 3 : 1));
    const int64_t row = nkv * hd;
    const int64_t pos0 = AsInt(pos), last = pos0 + n_ - 1;
    if (owns) s_.kv_.Write(self, pos0, n_, T(In(1)), T(In(2)));
    const int reader = owns ? self : layer;
    // Gather the keys and values any query of the batch may see.
    const int64_t first = window > 0 ? std::max<int64_t>(0, pos0 - window + 1) : 0;
    const int64_t span = last - first + 1;
    std::vector<float> K(span * row), V(span * row);
    for (int64_t p = first; p <= last; ++p) {
      s_.kv_.Read(reader, p, /*value=*/false, &K[(p - first) * row]);
      s_.kv_.Read(reader, p, /*value=*/true, &V[(p - first) * row]);
    }
    float* out = T(Out(0));
    const int64_t group = nh / nkv;
    std::vector<float> scores(span);
    for (int64_t t = 0; t < n_; ++t) {
      const int64_t p = pos0 + t;
      const int64_t lo = window > 0 ? std::max<int64_t>(first, p - window + 1) : 0;
      for (int64_t h = 0; h < nh; ++h) {
        const float* qh = q + t * nh * hd + h * hd;
        const int64_t g = h / group;
        float m = -INFINITY;
        for (int64_t k = lo; k <= p; ++k) {
          const float* kh = &K[(k - first) * row + g * hd];
          double dot = 0.0;
          for (int64_t i = 0; i < hd; ++i) dot += double(qh[i]) * double(kh[i]);
          float sc = float(dot) * scale;
          if (eager) sc = ops::RoundBf16(sc);
          scores[k - lo] = sc;
          m = std::max(m, sc);
        }
        const int64_t nk = p - lo + 1;
        double sum = 0.0;
        for (int64_t j = 0; j < nk; ++j) sum += (scores[j] = std::exp(scores[j] - m));
        const float inv = float(1.0 / sum);
        float* oh = out + t * nh * hd + h * hd;
        std::vector<double> acc(hd, 0.0);
        for (int64_t j = 0; j < nk; ++j) {
          float pj = scores[j] * inv;
          if (eager) pj = ops::RoundBf16(pj);
          const float* vh = &V[(lo + j - first) * row + g * hd];
          for (int64_t i = 0; i < hd; ++i) acc[i] += double(pj) * double(vh[i]);
        }
        for (int64_t i = 0; i < hd; ++i) oh[i] = float(acc[i]);
      }
    }
    return absl::OkStatus();
  }

  absl::Status ChannelMul() {
    const float* x = T(In(0));
    float* y = T(Out(0));
    const float* w = s_.weights_[W(0)].f32;
    const int64_t n = Width(Out(0));
    for (int64_t t = 0; t < n_; ++t)
      for (int64_t i = 0; i < n; ++i) y[t * n + i] = x[t * n + i] * w[i];
    return absl::OkStatus();
  }

  absl::Status Softmax() {
    const int64_t n = Width(Out(0));
    const float* x = T(In(0));
    float* y = T(Out(0));
    if (x != y) std::memcpy(y, x, sizeof(float) * n * n_);
    for (int64_t t = 0; t < n_; ++t) ops::SoftmaxRow(y + t * n, n);
    return absl::OkStatus();
  }

  // The k largest of each row, largest first; ties go to the lower index.
  absl::Status TopK() {
    const int64_t n = Width(In(0)), k = IntAttr(step_, "k");
    const float* x = T(In(0));
    float* values = T(Out(0));
    float* indices = T(Out(1));
    std::vector<int32_t> order(n);
    for (int64_t t = 0; t < n_; ++t) {
      const float* row = x + t * n;
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [row](int32_t a, int32_t b) {
        return row[a] > row[b] || (row[a] == row[b] && a < b);
      });
      for (int64_t j = 0; j < k; ++j) {
        values[t * k + j] = row[order[j]];
        StoreInt(indices + t * k + j, order[j]);
      }
    }
    return absl::OkStatus();
  }

  absl::Status Renormalize() {
    const int64_t k = Width(Out(0));
    const bool round = StringAttr(step_, "g4.rounding") == "renormalize_bf16";
    const float* x = T(In(0));
    float* y = T(Out(0));
    for (int64_t t = 0; t < n_; ++t) {
      float sum = 0.0f;
      for (int64_t j = 0; j < k; ++j) sum += x[t * k + j];
      if (round) sum = ops::RoundBf16(sum);
      for (int64_t j = 0; j < k; ++j) {
        float v = x[t * k + j] / sum;
        y[t * k + j] = round ? ops::RoundBf16(v) : v;
      }
    }
    return absl::OkStatus();
  }

  absl::Status ExpertScale() {
    const int64_t k = Width(Out(0));
    const float* w = T(In(0));
    const float* idx = T(In(1));
    const float* scale = s_.weights_[W(0)].f32;
    float* y = T(Out(0));
    for (int64_t i = 0; i < n_ * k; ++i) y[i] = w[i] * scale[AsInt(idx + i)];
    return absl::OkStatus();
  }

  // Routed experts: per token and selected expert e, gu = x @ gate_up[e]^T, y = (gelu(gate) *
  // up) @ down[e]^T, out += w * y. Under `experts_bf16*` each intermediate is rounded as the
  // reference's grouped_mm path does; the sum stays fp32 (its one rounding is a round op).
  absl::Status ExpertFfn() {
    const int64_t H = Width(In(0)), k = IntAttr(step_, "top_k"), ff = IntAttr(step_, "expert_ff");
    const std::string rounding = StringAttr(step_, "g4.rounding");
    const bool round = rounding == "experts_bf16" || rounding == "experts_bf16_weighted";
    const bool round_weighted = rounding == "experts_bf16_weighted";
    const g4k_weight& gate_up = s_.weights_[W(0)];
    const g4k_weight& down = s_.weights_[W(1)];
    const auto gu_type = gguf::GgmlType(gate_up.ggml_type), dn_type = gguf::GgmlType(down.ggml_type);
    const uint64_t gu_expert_bytes = *gguf::RowBytes(gu_type, H) * uint64_t(2 * ff);
    const uint64_t dn_expert_bytes = *gguf::RowBytes(dn_type, ff) * uint64_t(H);
    const float* x = T(In(0));
    const float* w = T(In(1));
    const float* idx = T(In(2));
    float* out = T(Out(0));
    std::fill(out, out + n_ * H, 0.0f);
    std::vector<float> gu(2 * ff), act(ff), y(H);
    for (int64_t t = 0; t < n_; ++t) {
      for (int64_t j = 0; j < k; ++j) {
        const int32_t e = AsInt(idx + t * k + j);
        g4k_weight gw = gate_up, dw = down;
        gw.data = static_cast<const uint8_t*>(gate_up.data) + uint64_t(e) * gu_expert_bytes;
        gw.n_dims = 2, gw.ne[1] = 2 * ff;
        dw.data = static_cast<const uint8_t*>(down.data) + uint64_t(e) * dn_expert_bytes;
        dw.n_dims = 2, dw.ne[1] = H;
        Session::ApiLinear(&s_, &gw, x + t * H, 1, gu.data(), round);
        for (int64_t i = 0; i < ff; ++i) {
          float g = ops::GeluTanh(gu[i]);
          if (round) g = ops::RoundBf16(g);
          float a = g * gu[ff + i];
          act[i] = round ? ops::RoundBf16(a) : a;
        }
        Session::ApiLinear(&s_, &dw, act.data(), 1, y.data(), round);
        const float wt = w[t * k + j];
        for (int64_t i = 0; i < H; ++i) {
          float v = y[i] * wt;
          out[t * H + i] += round_weighted ? ops::RoundBf16(v) : v;
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status PleSlice() {
    const int64_t packed = Width(In(0)), p = Width(Out(0));
    const int64_t layer = IntAttr(step_, "layer");
    const float* x = T(In(0));
    float* y = T(Out(0));
    for (int64_t t = 0; t < n_; ++t) std::memcpy(y + t * p, x + t * packed + layer * p, p * sizeof(float));
    return absl::OkStatus();
  }

  Session& s_;
  const Step& step_;
  int64_t n_;
};

Session::~Session() {
  if (kernel_library_) dlclose(kernel_library_);
}

absl::StatusOr<std::unique_ptr<Session>> Session::Open(const std::string& plan_dir,
                                                       const std::string& gguf_path,
                                                       const SessionOptions& options) {
  std::unique_ptr<Session> s(new Session());
  s->options_ = options;
  if (absl::Status st = s->Bind(plan_dir, gguf_path); !st.ok()) return st;
  if (!options.force_builtin)
    if (absl::Status st = s->LoadKernels(plan_dir); !st.ok()) return st;
  return s;
}

absl::Status Session::Bind(const std::string& plan_dir, const std::string& gguf_path) {
  absl::StatusOr<plan::LoadedPlan> loaded = plan::LoadPlan(plan_dir);
  if (!loaded.ok()) return loaded.status();
  plan_ = std::move(*loaded);
  auto file = gguf::GgufFile::Open(gguf_path);
  if (!file.ok()) return file.status();
  gguf_ = std::move(*file);
  model_path_ = gguf_path;
  const plan::Plan& p = *plan_.plan();
  // Every tensor the plan needs, checked by name, shape and dtype before anything runs.
  if (absl::Status st = plan::BindingStatus(plan::CheckBindings(p, *gguf_), gguf_path); !st.ok())
    return st;

  weights_.resize(p.weights()->size());
  weight_f32_.resize(p.weights()->size());
  for (uint32_t i = 0; i < p.weights()->size(); ++i) {
    const gguf::TensorInfo* t = gguf_->FindTensor(p.weights()->Get(i)->name()->str());
    g4k_weight& w = weights_[i];
    w.data = t->data;
    w.ggml_type = uint32_t(t->type);
    w.n_dims = int32_t(t->ne.size());
    for (size_t d = 0; d < 4; ++d) w.ne[d] = d < t->ne.size() ? t->ne[d] : 1;
    if (t->ne.size() == 1) {  // norms and scales: widened once
      absl::StatusOr<std::vector<float>> v = gguf_->ReadAsF32(*t);
      if (!v.ok()) return v.status();
      weight_f32_[i] = std::move(*v);
      w.f32 = weight_f32_[i].data();
    }
  }

  const plan::Hyperparams& m = *p.model();
  vocab_ = m.vocab();
  max_batch_ = p.max_batch_tokens();
  context_ = m.context_length();
  reference_precision_ = p.precision() == plan::Precision::Reference;
  kv_.Init(m.layers(), reference_precision_, context_, max_batch_);
  for (const plan::KvLayer* l : *p.kv_cache())
    kv_.AddLayer(l->layer(), l->owns_kv(), l->source(), l->window(), int64_t(l->kv_heads()) * l->head_dim());

  tensor_views_.resize(p.tensors()->size());
  for (uint32_t i = 0; i < p.tensors()->size(); ++i) tensor_views_[i].width = p.tensors()->Get(i)->width();
  AssignBuffers();
  for (const Step* st : *p.steps()) {
    flat_steps_.push_back(st);
    if (st->body())
      for (const Step* inner : *st->body()) flat_steps_.push_back(inner);
  }
  if (options_.threads > 1) pool_ = std::make_unique<cpu::ThreadPool>(options_.threads);
  api_.abi_version = G4K_ABI_VERSION;
  api_.linear = &Session::ApiLinear;
  return absl::OkStatus();
}

absl::Status Session::LoadKernels(const std::string& plan_dir) {
  const plan::Plan& p = *plan_.plan();
  if (!p.kernel_libraries()) return absl::OkStatus();
  // The AVX2 build of the emitted kernels when this CPU can run it, else the portable one.
  const plan::KernelLibrary* chosen = nullptr;
  const bool avx2 = cpu::CpuHasAvx2() && !options_.portable_kernels;
  for (const plan::KernelLibrary* lib : *p.kernel_libraries()) {
    const std::string target = lib->target()->str();
    if (target == "cpu" && !chosen) chosen = lib;
    if (target == "cpu-avx2" && avx2) chosen = lib;
  }
  for (const plan::KernelLibrary* lib : {chosen}) {
    if (!lib) continue;
    std::string path = plan_dir + "/" + lib->path()->str();
    if (!FileExists(path))
      return absl::NotFoundError(absl::StrCat(path, ": the plan's CPU kernel library is missing"));
    kernel_library_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!kernel_library_) return absl::InvalidArgumentError(absl::StrCat(path, ": ", dlerror()));
    auto version = reinterpret_cast<uint32_t (*)()>(dlsym(kernel_library_, "g4k_abi_version"));
    if (!version || version() != G4K_ABI_VERSION)
      return absl::FailedPreconditionError(absl::StrCat(
          path, ": kernel ABI ", version ? version() : 0, " is not the runtime's ", G4K_ABI_VERSION));
    for (const Step* st : *p.steps()) {
      if (!st->kernel() || st->kernel()->size() == 0) continue;
      std::string name = st->kernel()->str();
      auto fn = reinterpret_cast<g4k_fn>(dlsym(kernel_library_, name.c_str()));
      if (!fn) return absl::NotFoundError(absl::StrCat(path, ": kernel '", name, "' is missing"));
      kernels_[name] = fn;
    }
  }
  return absl::OkStatus();
}

void Session::ApiLinear(void* rt, const g4k_weight* w, const float* x, int64_t tokens, float* y,
                        int round_bf16) {
  Session* s = static_cast<Session*>(rt);
  cpu::MatMulOptions o;
  o.pool = s->pool_.get();
  o.activations = s->options_.exact_quantized_matmul ? cpu::ActivationPrecision::kF32
                                                     : cpu::ActivationPrecision::kQ8;
  // Shapes were checked when binding; an error here would be a bug in the plan writer.
  absl::Status st = cpu::MatMul(gguf::GgmlType(w->ggml_type), w->data, w->ne[0], w->ne[1], x, tokens, y, o);
  if (!st.ok()) std::abort();
  if (round_bf16) ops::RoundBf16Row(y, tokens * w->ne[1]);
}

void Session::AssignBuffers() {
  const plan::Plan& p = *plan_.plan();
  std::map<int32_t, int32_t> buffer_of_slot;
  buffer_of_.assign(p.tensors()->size(), -1);
  for (uint32_t i = 0; i < p.tensors()->size(); ++i) {
    const int32_t slot = p.tensors()->Get(i)->slot();
    const int64_t width = tensor_views_[i].width;
    if (slot >= 0 && !options_.keep_intermediates) {
      auto [it, fresh] = buffer_of_slot.try_emplace(slot, int32_t(buffer_width_.size()));
      if (fresh) buffer_width_.push_back(width);
      buffer_width_[it->second] = std::max(buffer_width_[it->second], width);
      buffer_of_[i] = it->second;
    } else {
      buffer_of_[i] = int32_t(buffer_width_.size());
      buffer_width_.push_back(width);
    }
  }
  buffers_.resize(buffer_width_.size());
}

int64_t Session::ActivationBytes(int64_t n_tokens) const {
  int64_t floats = 0;
  for (int64_t w : buffer_width_) floats += w;
  return floats * n_tokens * int64_t(sizeof(float));
}

float* Session::Tensor(uint32_t id) { return buffers_[buffer_of_[id]].data(); }

void Session::EnsureTensorCapacity(int64_t n_tokens) {
  if (n_tokens <= capacity_) return;
  for (size_t b = 0; b < buffers_.size(); ++b) buffers_[b].resize(size_t(n_tokens) * size_t(buffer_width_[b]));
  for (size_t i = 0; i < tensor_views_.size(); ++i) tensor_views_[i].data = buffers_[buffer_of_[i]].data();
  capacity_ = n_tokens;
}

absl::Status Session::RunStep(const Step& step) {
  if (!options_.force_builtin && step.kernel() && step.kernel()->size() > 0) {
    // A plan compiled with --target=cuda alone has kernel names but no CPU library: builtin.
    auto kernel = kernels_.find(step.kernel()->str());
    if (kernel != kernels_.end()) {
      g4k_call call{&api_, this, n_tokens_, positions_.data(), tensor_views_.data(), weights_.data()};
      kernel->second(&call);
      return absl::OkStatus();
    }
  }
  return StepRunner(*this, step).Run();
}

absl::Status Session::Eval(const std::vector<int32_t>& tokens) {
  const int64_t n = int64_t(tokens.size());
  if (n == 0) return absl::InvalidArgumentError("Eval: no tokens");
  if (n > max_batch_)
    return absl::InvalidArgumentError(absl::StrCat("a batch of ", n, " tokens is larger than the plan's maximum of ",
                                                   max_batch_, " (compile with a larger --max-batch)"));
  if (position_ + n > context_)
    return absl::OutOfRangeError(absl::StrCat("the context would reach ", position_ + n,
                                              " tokens; the model allows ", context_));
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab_)
      return absl::InvalidArgumentError(
          absl::StrCat("token ", tokens[i], " at index ", i, " is outside the vocabulary [0, ", vocab_, ")"));
  EnsureTensorCapacity(n);
  n_tokens_ = n;
  last_tokens_ = tokens;
  positions_.resize(n);
  const plan::Plan& p = *plan_.plan();
  float* tok = Tensor(p.inputs()->Get(0));
  float* pos = Tensor(p.inputs()->Get(1));
  for (int64_t i = 0; i < n; ++i) {
    positions_[i] = int32_t(position_ + i);
    StoreInt(tok + i, tokens[i]);
    StoreInt(pos + i, positions_[i]);
  }
  for (const Step* step : *p.steps())
    if (absl::Status st = RunStep(*step); !st.ok()) return st;
  position_ += n;
  return absl::OkStatus();
}

void Session::Reset() { position_ = 0; }

absl::Status Session::Rewind(int64_t position) {
  if (position < 0 || position > position_)
    return absl::InvalidArgumentError(absl::StrCat("Rewind: position ", position, " is outside [0, ", position_, "]"));
  // A sliding ring holds window + max_batch positions: going back more than max_batch would
  // need positions it has overwritten.
  if (position_ - position > max_batch_)
    for (const plan::KvLayer* l : *plan_.plan()->kv_cache())
      if (l->window() > 0)
        return absl::FailedPreconditionError(absl::StrCat(
            "Rewind: ", position_ - position, " positions back exceeds the sliding-window ring (plan max batch ",
            max_batch_, "); reset and evaluate again"));
  position_ = position;
  return absl::OkStatus();
}

double Session::DecodeWeightBytesPerToken() const {
  auto bytes = [&](uint32_t w, int64_t rows) {
    const g4k_weight& wt = weights_[w];
    return double(*gguf::RowBytes(gguf::GgmlType(wt.ggml_type), wt.ne[0])) * double(rows);
  };
  double total = 0;
  for (const Step* step : flat_steps_) {
    // A fused step lists its body's weights too; count each op once, in the body.
    if (!step->weights() || (step->body() && step->body()->size() > 0)) continue;
    const std::string op = step->op()->str();
    for (uint32_t w : *step->weights()) {
      const g4k_weight& wt = weights_[w];
      const int64_t rows = wt.ne[1] * wt.ne[2] * wt.ne[3];
      if (op == "g4.embed") total += bytes(w, 1);
      else if (op == "g4.expert_ffn")
        total += bytes(w, rows) * double(IntAttr(*step, "top_k")) / double(IntAttr(*step, "num_experts"));
      else total += bytes(w, rows);
    }
  }
  return total;
}

const float* Session::logits() const {
  return buffers_[buffer_of_[plan_.plan()->outputs()->Get(0)]].data();
}

absl::Status Session::Dump(const std::string& dir) const {
  if (!options_.keep_intermediates)
    return absl::FailedPreconditionError("Dump: open the session with keep_intermediates (g4run --dump)");
  mkdir(dir.c_str(), 0755);
  const plan::Plan& p = *plan_.plan();
  std::string index = "{";
  bool first = true;
  for (uint32_t i = 0; i < p.tensors()->size(); ++i) {
    const plan::Tensor* t = p.tensors()->Get(i);
    if (t->element_type() != plan::ElementType::F32) continue;
    std::string name = t->name()->str();
    std::string path = dir + "/" + name + ".bin";
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(buffers_[buffer_of_[i]].data()), sizeof(float) * n_tokens_ * t->width());
    if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write"));
    absl::StrAppendFormat(&index, "%s\n  \"%s\": [%d, %d]", first ? "" : ",", name, n_tokens_, t->width());
    first = false;
  }
  index += "\n}\n";
  std::ofstream out(dir + "/index.json");
  out << index;
  // The evaluated tokens (positions start at position() - n_tokens), for the reference.
  std::ofstream toks(dir + "/tokens.json");
  toks << "[" << absl::StrJoin(last_tokens_, ", ") << "]\n";
  return out && toks ? absl::OkStatus() : absl::InternalError(absl::StrCat(dir, ": cannot write the index"));
}

}  // namespace g4::exec

//===- SpecWriter.cpp - a g4 spec from a ModelConfig ----------------------===//
//
// The spec reads like the model: the forward function states the embedding, the per-layer
// embeddings, the layer list and the output; each layer kind states one decoder layer in the
// order of the reference (architecture spec §3). Weight names are llama.cpp's GGUF names.
//
//===----------------------------------------------------------------------===//
#include "g4/Spec/SpecWriter.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace mlir::g4 {
namespace {

using ::g4::LayerInfo;
using ::g4::ModelConfig;

std::string fmtDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

/// Activation alias for a feature width: !act_1536 = tensor<?x1536xf32>.
std::string act(int64_t width) { return "!act_" + std::to_string(width); }
/// Weight aliases: matrices accept every dtype, vectors the float ones.
std::string mat(std::vector<int64_t> ne) {
  std::string s = "!mat";
  for (int64_t d : ne) s += "_" + std::to_string(d);
  return s;
}
std::string vec(int64_t n) { return "!vec_" + std::to_string(n); }

/// What distinguishes layer kinds: everything in LayerInfo but the index and KV source.
struct KindKey {
  bool sliding, owns_kv, k_eq_v, moe;
  int head_dim, num_kv_heads, ff, rotary_dims;
  bool operator<(const KindKey &o) const {
    return std::tie(sliding, owns_kv, k_eq_v, moe, head_dim, num_kv_heads, ff, rotary_dims) <
           std::tie(o.sliding, o.owns_kv, o.k_eq_v, o.moe, o.head_dim, o.num_kv_heads, o.ff,
                    o.rotary_dims);
  }
};

KindKey keyOf(const LayerInfo &l) {
  return {l.sliding, l.owns_kv, l.k_eq_v, l.moe, l.head_dim, l.num_kv_heads, l.ff, l.rotary_dims};
}

/// `, g4.name = "NAME"` inside an attribute dictionary, or nothing.
std::string nameAttr(const std::string &name) {
  return name.empty() ? "" : ", g4.name = \"" + name + "\"";
}

/// Every GGUF dtype the runtime reads, in the dialect's bit order: a matrix accepts them all.
constexpr const char *kMatrixDTypes =
    "f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_1|q5_0|q5_1|q2_k|q3_k|q5_k|iq4_nl|iq4_xs|mxfp4";

/// Collects the type aliases a spec uses, printed once at the top.
class Aliases {
 public:
  std::string act(int64_t w) { acts_.insert(w); return g4::act(w); }
  std::string mat(std::vector<int64_t> ne) { mats_.insert(ne); return g4::mat(ne); }
  std::string vec(int64_t n) { vecs_.insert(n); return g4::vec(n); }
  std::string print() const {
    std::ostringstream os;
    os << "!tokens = tensor<?xi32>\n";
    for (int64_t w : acts_) os << g4::act(w) << " = tensor<?x" << w << "xf32>\n";
    for (int64_t n : vecs_) os << g4::vec(n) << " = !g4.weight<" << n << " : f32|f16|bf16>\n";
    for (const auto &ne : mats_) {
      os << g4::mat(ne) << " = !g4.weight<";
      for (size_t i = 0; i < ne.size(); ++i) os << (i ? "x" : "") << ne[i];
      os << " : " << kMatrixDTypes << ">\n";
    }
    return os.str();
  }

 private:
  std::set<int64_t> acts_, vecs_;
  std::set<std::vector<int64_t>> mats_;
};

/// Emits ops into one function body, naming weights and values as the reference does.
class BodyWriter {
 public:
  BodyWriter(const ModelConfig &c, Aliases &a) : c_(c), a_(a) {}

  void comment(const std::string &text) { os_ << "    // " << text << "\n"; }

  std::string weightVec(const std::string &name, int64_t n) {
    std::string v = "%w_" + sanitize(name);
    os_ << "    " << v << " = g4.weight \"" << name << "\" : " << a_.vec(n) << "\n";
    return v;
  }
  std::string weightMat(const std::string &name, std::vector<int64_t> ne) {
    std::string v = "%w_" + sanitize(name);
    os_ << "    " << v << " = g4.weight \"" << name << "\" : " << a_.mat(ne) << "\n";
    return v;
  }
  /// Scaled RMSNorm when `weight` is given, unscaled otherwise.
  std::string rmsNorm(const std::string &out, const std::string &x, int64_t xw,
                      const std::string &weight, int64_t width, const std::string &name = "") {
    os_ << "    " << out << " = g4.rms_norm " << x << (weight.empty() ? "" : ", " + weight)
        << " {eps = " << fmtDouble(c_.rms_eps) << " : f64, width = " << width << " : i64"
        << nameAttr(name) << "} : ("
        << a_.act(xw) << (weight.empty() ? "" : ", " + a_.vec(width)) << ") -> " << a_.act(xw)
        << "\n";
    return out;
  }
  std::string linear(const std::string &out, const std::string &x, const std::string &w,
                     int64_t in, int64_t outw) {
    os_ << "    " << out << " = g4.linear " << x << ", " << w << " : (" << a_.act(in) << ", "
        << a_.mat({in, outw}) << ") -> " << a_.act(outw) << "\n";
    return out;
  }
  std::string unary(const std::string &out, const std::string &op, const std::string &x,
                    int64_t w, const std::string &attrs = "") {
    // attrs is a full dictionary "{...}" or empty.
    os_ << "    " << out << " = g4." << op << " " << x << (attrs.empty() ? "" : " " + attrs)
        << " : " << a_.act(w) << "\n";
    return out;
  }
  std::string binary(const std::string &out, const std::string &op, const std::string &x,
                     const std::string &y, int64_t w, const std::string &name = "") {
    os_ << "    " << out << " = g4." << op << " " << x << ", " << y
        << (name.empty() ? "" : " {g4.name = \"" + name + "\"}") << " : " << a_.act(w) << "\n";
    return out;
  }
  std::string scale(const std::string &out, const std::string &x, int64_t w, double factor,
                    const std::string &role, const std::string &why, const std::string &name = "") {
    os_ << "    " << out << " = g4.scale " << x << " {factor = " << fmtDouble(factor)
        << " : f64, role = #g4.role<" << role << ">" << nameAttr(name) << "} : " << a_.act(w)
        << "  // " << why << "\n";
    return out;
  }
  void raw(const std::string &line) { os_ << "    " << line << "\n"; }
  Aliases &aliases() { return a_; }
  std::string str() const { return os_.str(); }

 private:
  static std::string sanitize(const std::string &name) {
    std::string s;
    for (char ch : name) {
      if (ch == '{' || ch == '}') continue;
      s += (std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
    }
    if (s.size() > 7 && s.compare(s.size() - 7, 7, "_weight") == 0) s.resize(s.size() - 7);
    if (s.rfind("blk_i_", 0) == 0) s = s.substr(6);
    return s;
  }
  const ModelConfig &c_;
  Aliases &a_;
  std::ostringstream os_;
};

std::string kindName(const KindKey &k, bool needsFf) {
  std::string s = k.sliding ? "sliding" : "full";
  if (!k.owns_kv) s += "_shared";
  if (k.moe) s += "_moe";
  if (needsFf) s += "_ff" + std::to_string(k.ff);
  return s;
}

/// The attention half of one layer kind (architecture spec §3.3).
std::string writeAttention(BodyWriter &b, const ModelConfig &c, const LayerInfo &l) {
  const int64_t H = c.hidden, hd = l.head_dim, qw = c.num_heads * hd, kvw = l.num_kv_heads * hd;
  b.comment("attention half");
  std::string wn = b.weightVec("blk.{i}.attn_norm.weight", H);
  b.rmsNorm("%attn_norm", "%h", H, wn, H, "attn_norm");
  std::string wq = b.weightMat("blk.{i}.attn_q.weight", {H, qw});
  b.linear("%q_proj", "%attn_norm", wq, H, qw);
  std::string wqn = b.weightVec("blk.{i}.attn_q_norm.weight", hd);
  b.rmsNorm("%q_normed", "%q_proj", qw, wqn, hd);
  std::string freqs;
  if (!l.sliding) freqs = b.weightVec("rope_freqs.weight", c.head_dim_full / 2);
  auto rope = [&](const std::string &out, const std::string &x, int64_t w,
                  const std::string &name) {
    b.raw(out + " = g4.rope " + x + ", %pos" + (freqs.empty() ? "" : ", " + freqs) +
          " {mode = #g4.rope<" + (l.sliding ? "default" : "proportional") +
          ">, theta = " + fmtDouble(l.rope_theta) + " : f64, head_dim = " + std::to_string(hd) +
          " : i64, rotary_dims = " + std::to_string(l.rotary_dims) + " : i64" + nameAttr(name) +
          "} : (" +
          b.aliases().act(w) + ", !tokens" + (freqs.empty() ? "" : ", " + b.aliases().vec(hd / 2)) +
          ") -> " + b.aliases().act(w));
  };
  rope("%q", "%q_normed", qw, "Qcur");
  std::string attrs = "{num_heads = " + std::to_string(c.num_heads) +
                      " : i64, num_kv_heads = " + std::to_string(l.num_kv_heads) +
                      " : i64, head_dim = " + std::to_string(hd) +
                      " : i64, window = " + std::to_string(l.sliding ? c.sliding_window : 0) +
                      " : i64" + (l.k_eq_v ? ", k_eq_v" : "") + nameAttr("kqv_out") + "}";
  if (l.owns_kv) {
    std::string wk = b.weightMat("blk.{i}.attn_k.weight", {H, kvw});
    b.linear("%k_proj", "%attn_norm", wk, H, kvw);
    std::string vproj = "%k_proj";
    if (l.k_eq_v) {
      b.comment("K = V: no attn_v; V starts from the raw K projection");
    } else {
      std::string wv = b.weightMat("blk.{i}.attn_v.weight", {H, kvw});
      vproj = b.linear("%v_proj", "%attn_norm", wv, H, kvw);
    }
    std::string wkn = b.weightVec("blk.{i}.attn_k_norm.weight", hd);
    b.rmsNorm("%k_normed", "%k_proj", kvw, wkn, hd);
    rope("%k", "%k_normed", kvw, "Kcur");
    b.rmsNorm("%v", vproj, kvw, "", hd, "Vcur");
    b.raw("%attn = g4.attention %q kv(%k, %v) at %pos " + attrs + " : (" + b.aliases().act(qw) +
          ", " + b.aliases().act(kvw) + ", " + b.aliases().act(kvw) + ", !tokens) -> " +
          b.aliases().act(qw));
  } else {
    b.comment("KV-shared: reads the cache of the instance's kv_source");
    b.raw("%attn = g4.attention %q at %pos " + attrs + " : (" + b.aliases().act(qw) +
          ", !tokens) -> " + b.aliases().act(qw));
  }
  std::string wo = b.weightMat("blk.{i}.attn_output.weight", {qw, H});
  b.linear("%attn_proj", "%attn", wo, qw, H);
  std::string wpa = b.weightVec("blk.{i}.post_attention_norm.weight", H);
  b.rmsNorm("%attn_post", "%attn_proj", H, wpa, H);
  return b.binary("%h_attn", "add", "%h", "%attn_post", H, "attn_out");
}

/// gelu(x @ gate) * (x @ up) @ down, the dense MLP (§3.4 step 17).
std::string writeDenseMlp(BodyWriter &b, const std::string &x, int64_t H, int64_t ff) {
  std::string wg = b.weightMat("blk.{i}.ffn_gate.weight", {H, ff});
  std::string wu = b.weightMat("blk.{i}.ffn_up.weight", {H, ff});
  std::string wd = b.weightMat("blk.{i}.ffn_down.weight", {ff, H});
  b.linear("%gate", x, wg, H, ff);
  b.linear("%up", x, wu, H, ff);
  b.unary("%gate_act", "gelu_tanh", "%gate", ff);
  b.binary("%gate_up", "mul", "%gate_act", "%up", ff);
  return b.linear("%down", "%gate_up", wd, ff, H);
}

/// The feed-forward half (§3.4 dense, §3.5 MoE). Returns the residual stream after it.
std::string writeFeedForward(BodyWriter &b, const ModelConfig &c, const LayerInfo &l) {
  const int64_t H = c.hidden;
  b.comment(l.moe ? "feed-forward half: shared dense MLP + routed experts" : "feed-forward half");
  std::string wfn = b.weightVec("blk.{i}.ffn_norm.weight", H);
  b.rmsNorm("%ffn_in", "%h_attn", H, wfn, H);
  std::string down = writeDenseMlp(b, "%ffn_in", H, l.ff);
  std::string ffn_out = down;
  if (l.moe) {
    const int64_t E = c.num_experts, k = c.experts_used, eff = c.expert_ff;
    std::string wp1 = b.weightVec("blk.{i}.post_ffw_norm_1.weight", H);
    b.rmsNorm("%mlp_out", down, H, wp1, H);
    b.comment("router (§3.5 R1-R8)");
    b.rmsNorm("%router_in", "%h_attn", H, "", H);
    std::string ws = b.weightVec("blk.{i}.ffn_gate_inp.scale", H);
    b.raw("%router_scaled = g4.channel_mul %router_in, " + ws + " : (" + act(H) + ", " + vec(H) +
          ") -> " + act(H));
    b.scale("%router_root", "%router_scaled", H, 1.0 / std::sqrt(double(H)), "router_root_scale",
            "H^-1/2");
    std::string wr = b.weightMat("blk.{i}.ffn_gate_inp.weight", {H, E});
    b.linear("%router_logits", "%router_root", wr, H, E);
    b.unary("%router_probs", "softmax", "%router_logits", E);
    b.aliases().act(k);
    b.raw("%top_w, %top_i = g4.top_k %router_probs {k = " + std::to_string(k) + " : i64} : (" +
          act(E) + ") -> (" + act(k) + ", tensor<?x" + std::to_string(k) + "xi32>)");
    b.unary("%top_w_norm", "renormalize", "%top_w", k);
    std::string wes = b.weightVec("blk.{i}.ffn_down_exps.scale", E);
    b.raw("%expert_w = g4.expert_scale %top_w_norm, %top_i, " + wes + " : (" + act(k) +
          ", tensor<?x" + std::to_string(k) + "xi32>, " + vec(E) + ") -> " + act(k));
    b.comment("experts (§3.5 E1-E5)");
    std::string wp2 = b.weightVec("blk.{i}.pre_ffw_norm_2.weight", H);
    b.rmsNorm("%experts_in", "%h_attn", H, wp2, H);
    std::string wgu = b.weightMat("blk.{i}.ffn_gate_up_exps.weight", {H, 2 * eff, E});
    std::string wdn = b.weightMat("blk.{i}.ffn_down_exps.weight", {eff, H, E});
    b.raw("%experts = g4.expert_ffn %experts_in, %expert_w, %top_i, " + wgu + ", " + wdn +
          " {num_experts = " + std::to_string(E) + " : i64, top_k = " + std::to_string(k) +
          " : i64, expert_ff = " + std::to_string(eff) + " : i64} : (" + act(H) + ", " + act(k) +
          ", tensor<?x" + std::to_string(k) + "xi32>, " + mat({H, 2 * eff, E}) + ", " +
          mat({eff, H, E}) + ") -> " + act(H));
    std::string wp2b = b.weightVec("blk.{i}.post_ffw_norm_2.weight", H);
    b.rmsNorm("%moe_out", "%experts", H, wp2b, H);
    ffn_out = b.binary("%ffn_sum", "add", "%mlp_out", "%moe_out", H);
  }
  std::string wpf = b.weightVec("blk.{i}.post_ffw_norm.weight", H);
  b.rmsNorm("%ffn_post", ffn_out, H, wpf, H);
  return b.binary("%h_ffn", "add", "%h_attn", "%ffn_post", H, "ffn_out");
}

/// Per-layer embedding injection (§3.6). Returns the residual stream after it.
std::string writePleInjection(BodyWriter &b, const ModelConfig &c) {
  const int64_t H = c.hidden, P = c.ple_dim, LP = int64_t(c.num_layers) * P;
  b.comment("per-layer embedding injection");
  b.raw("%ple_in = g4.ple_slice %ple {g4.name = \"per_layer_inp\"} : (" + b.aliases().act(LP) +
        ") -> " + b.aliases().act(P));
  std::string wg = b.weightMat("blk.{i}.inp_gate.weight", {H, P});
  b.linear("%ple_gate", "%h_ffn", wg, H, P);
  b.unary("%ple_gate_act", "gelu_tanh", "%ple_gate", P);
  b.binary("%ple_gated", "mul", "%ple_gate_act", "%ple_in", P);
  std::string wp = b.weightMat("blk.{i}.proj.weight", {P, H});
  b.linear("%ple_proj", "%ple_gated", wp, P, H);
  std::string wn = b.weightVec("blk.{i}.post_norm.weight", H);
  b.rmsNorm("%ple_post", "%ple_proj", H, wn, H);
  return b.binary("%h_ple", "add", "%h_ffn", "%ple_post", H);
}

std::string layerSignature(const ModelConfig &c, Aliases &a) {
  std::string s = "(%h: " + a.act(c.hidden);
  if (c.HasPle()) s += ", %ple: " + a.act(int64_t(c.num_layers) * c.ple_dim);
  return s + ", %pos: !tokens) -> " + a.act(c.hidden);
}

std::string writeLayerKind(const ModelConfig &c, const LayerInfo &l, const std::string &name,
                           const std::vector<int> &layers, Aliases &a) {
  BodyWriter b(c, a);
  std::string h = writeAttention(b, c, l);
  h = writeFeedForward(b, c, l);
  if (c.HasPle()) h = writePleInjection(b, c);
  std::string ws = b.weightVec("blk.{i}.layer_output_scale.weight", 1);
  b.raw("%out = g4.layer_scalar " + h + ", " + ws + " {g4.name = \"l_out\"} : (" +
        act(c.hidden) + ", " + vec(1) + ") -> " + act(c.hidden));
  b.raw("return %out : " + act(c.hidden));
  std::ostringstream os;
  os << "  // Layer kind '" << name << "': " << (l.sliding ? "sliding window" : "full attention")
     << ", head dim " << l.head_dim << ", " << l.num_kv_heads << " KV head(s), "
     << (l.owns_kv ? "owns its KV cache" : "KV-shared") << (l.k_eq_v ? ", K = V" : "")
     << (l.moe ? ", MoE" : "") << ", MLP " << l.ff << ". Layers:";
  for (int i : layers) os << " " << i;
  os << ".\n  func.func private @" << name << layerSignature(c, a) << " {\n"
     << b.str() << "  }\n";
  return os.str();
}

std::string writeForward(const ModelConfig &c, const std::vector<std::string> &layerKinds,
                         Aliases &a) {
  const int64_t H = c.hidden, V = c.vocab;
  BodyWriter b(c, a);
  b.comment("token embedding, scaled by sqrt(H) (§3.1)");
  std::string we = b.weightMat("token_embd.weight", {H, V});
  b.raw("%embd = g4.embed %tokens, " + we + " : (!tokens, " + a.mat({H, V}) + ") -> " + a.act(H));
  b.scale("%inp_scaled", "%embd", H, std::sqrt(double(H)), "embed_scale", "sqrt(H)",
          "inp_scaled");
  std::string ple;
  if (c.HasPle()) {
    const int64_t P = c.ple_dim, LP = int64_t(c.num_layers) * P;
    b.comment("per-layer embedding inputs (§3.2)");
    std::string wt = b.weightMat("per_layer_token_embd.weight", {LP, V});
    b.raw("%ple_tok_raw = g4.embed %tokens, " + wt + " : (!tokens, " + a.mat({LP, V}) + ") -> " +
          a.act(LP));
    b.scale("%ple_tok", "%ple_tok_raw", LP, std::sqrt(double(P)), "ple_token_scale", "sqrt(P)");
    std::string wp = b.weightMat("per_layer_model_proj.weight", {H, LP});
    b.linear("%ple_ctx_raw", "%inp_scaled", wp, H, LP);
    b.scale("%ple_ctx_scaled", "%ple_ctx_raw", LP, 1.0 / std::sqrt(double(H)), "ple_proj_scale",
            "H^-1/2");
    std::string wn = b.weightVec("per_layer_proj_norm.weight", P);
    b.rmsNorm("%ple_ctx", "%ple_ctx_scaled", LP, wn, P);
    b.binary("%ple_sum", "add", "%ple_ctx", "%ple_tok", LP);
    ple = b.scale("%ple", "%ple_sum", LP, 1.0 / std::sqrt(2.0), "ple_combine_scale", "2^-1/2");
  }
  b.comment("decoder layers");
  std::string h = "%inp_scaled";
  std::string types = "(" + a.act(H) + (ple.empty() ? "" : ", " + a.act(int64_t(c.num_layers) * c.ple_dim)) +
                      ", !tokens) -> " + a.act(H);
  for (int i = 0; i < c.num_layers; ++i) {
    LayerInfo l = c.Layer(i);
    std::string out = "%l_out" + std::to_string(i);
    std::string line = out + " = g4.decoder_layer " + std::to_string(i) + " @" + layerKinds[i] +
                       "(" + h + (ple.empty() ? "" : ", " + ple) + ", %pos)";
    if (!l.owns_kv) line += " {kv_source = " + std::to_string(l.kv_source) + " : i64}";
    b.raw(line + " : " + types);
    h = out;
  }
  b.comment("output: final norm, tied LM head, softcap (§3.8)");
  std::string wo = b.weightVec("output_norm.weight", H);
  b.rmsNorm("%result_norm", h, H, wo, H, "result_norm");
  b.linear("%logits_raw", "%result_norm", we, H, V);
  b.unary("%result_output", "softcap", "%logits_raw", V,
          "{cap = " + fmtDouble(c.final_softcap) + " : f64" + nameAttr("result_output") + "}");
  b.raw("return %result_output : " + a.act(V));
  return "  func.func @forward(%tokens: !tokens, %pos: !tokens) -> " + a.act(V) + " {\n" +
         b.str() + "  }\n";
}

std::string modelAttribute(const ModelConfig &c) {
  std::ostringstream os;
  auto i64 = [&](const char *k, int64_t v) { os << ",\n    " << k << " = " << v << " : i64"; };
  os << "{g4.model = {\n    name = \"" << c.name << "\"";
  i64("vocab", c.vocab);
  i64("hidden", c.hidden);
  i64("layers", c.num_layers);
  i64("heads", c.num_heads);
  i64("head_dim_sliding", c.head_dim_sliding);
  i64("head_dim_full", c.head_dim_full);
  i64("kv_heads_sliding", c.kv_heads_sliding);
  i64("kv_heads_full", c.kv_heads_full);
  i64("sliding_window", c.sliding_window);
  i64("shared_kv_layers", c.shared_kv_layers);
  i64("ple_dim", c.ple_dim);
  i64("experts", c.num_experts);
  i64("experts_used", c.experts_used);
  i64("expert_ff", c.expert_ff);
  i64("context_length", c.context_length);
  os << ",\n    rms_eps = " << fmtDouble(c.rms_eps) << " : f64";
  os << ",\n    final_softcap = " << fmtDouble(c.final_softcap) << " : f64";
  os << "}}";
  return os.str();
}

std::string layerPatternComment(const ModelConfig &c) {
  std::ostringstream os;
  os << "// Layers (S = sliding, F = full, lower case = KV-shared):";
  for (int i = 0; i < c.num_layers; ++i) {
    LayerInfo l = c.Layer(i);
    char ch = l.sliding ? 'S' : 'F';
    os << (i % 10 == 0 ? " " : "") << char(l.owns_kv ? ch : std::tolower(ch));
  }
  return os.str();
}

}  // namespace

std::string writeSpec(const ModelConfig &c) {
  // Group layers into kinds; add the MLP width to the name only where the same attention kind
  // appears with different widths (E2B's double-wide shared layers).
  std::map<KindKey, std::vector<int>> kinds;
  for (int i = 0; i < c.num_layers; ++i) kinds[keyOf(c.Layer(i))].push_back(i);
  std::map<std::string, int> baseCount;
  for (const auto &[k, _] : kinds) baseCount[kindName(k, false)]++;
  std::map<KindKey, std::string> names;
  for (const auto &[k, _] : kinds) names[k] = kindName(k, baseCount[kindName(k, false)] > 1);
  std::vector<std::string> layerKinds;
  for (int i = 0; i < c.num_layers; ++i) layerKinds.push_back(names[keyOf(c.Layer(i))]);

  Aliases aliases;
  std::string forward = writeForward(c, layerKinds, aliases);
  // Layer kinds in the order their first layer appears.
  std::vector<std::pair<int, KindKey>> order;
  for (const auto &[k, layers] : kinds) order.push_back({layers.front(), k});
  std::sort(order.begin(), order.end(),
            [](const auto &a, const auto &b) { return a.first < b.first; });
  std::string kindText;
  for (const auto &[first, k] : order)
    kindText += "\n" + writeLayerKind(c, c.Layer(first), names[k], kinds[k], aliases);

  std::ostringstream os;
  os << "// Gemma 4 spec '" << c.name << "', written by `gemma4c spec`. Format: docs/spec-format.md.\n"
     << "// " << c.num_layers << " layers, hidden " << c.hidden << ", vocab " << c.vocab
     << (c.IsMoe() ? ", MoE" : "") << (c.HasPle() ? ", per-layer embeddings" : "") << ".\n"
     << layerPatternComment(c) << "\n\n"
     << aliases.print() << "\nmodule attributes " << modelAttribute(c) << " {\n"
     << forward << kindText << "}\n";
  return os.str();
}

}  // namespace mlir::g4

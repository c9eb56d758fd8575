#!/usr/bin/env python3
"""gemma4c verify: g4run against transformers, stage by stage, teacher-forced.

    gemma4c verify --checkpoint HF_DIR --gguf MODEL.gguf [--attention sdpa|eager]
                   [--prompt-len N | --tokens 2,105,...] [--threads N] [--work DIR]
                   [--plan OUTDIR] [--json FILE] [--self-check]

MODEL.gguf is the file llama.cpp's convert_hf_to_gguf.py made from HF_DIR (a transformers Gemma 4
checkpoint, text model or the multimodal one). The tool

 1. writes the spec of the GGUF (`gemma4c spec --from-gguf`), compiles it with
    `--precision=reference --attention=MODE` (or takes --plan), and runs the prompt with
    `g4run --dump --logits-out` (every named intermediate, every position's logits);
 2. recomputes every named stage of every layer with transformers' own modules (bf16, the
    checkpoint's weights, attn_implementation = MODE) from g4run's own dumped inputs to that
    stage (teacher forcing), and compares with g4run's dumped output of the stage;
 3. runs transformers' full forward in bf16 and in float64 and compares g4run's logits.

Stages (dump names; the input each one is recomputed from):
  embed        inp_scaled          <- token ids                 (embed_tokens, scaled)
  ple_inputs   per_layer_inp-N     <- token ids, inp_scaled     (get/project_per_layer_inputs)
  attn_norm    attn_norm-N         <- layer input               (input_layernorm)
  q            Qcur-N              <- attn_norm-N               (q_proj, q_norm, RoPE)
  kv           Kcur-N, Vcur-N      <- attn_norm-N               (k_proj, k_norm, RoPE; v_proj or K, v_norm)
  attention    kqv_out-N           <- Qcur-N, Kcur-S, Vcur-S    (the attention function of MODE; S the
                                                                 KV source layer; transformers' masks)
  attn_out     attn_out-N          <- kqv_out-N, layer input    (o_proj, post_attention_layernorm, residual)
  ffn          ffn_out-N           <- attn_out-N                (pre_feedforward_layernorm, MLP; MoE: router,
                                                                 experts, the three extra norms; residual)
  ple_scalar   l_out-N             <- ffn_out-N, per_layer_inp-N (per-layer input gate/projection/norm,
                                                                 residual, layer_scalar)
  final_norm   result_norm         <- l_out-(L-1)               (norm)
  lm_head      result_output       <- result_norm               (lm_head, final logit softcap)

Metrics: NMSE = mean((x - ref)^2) / var(ref) (float64); "differ" = share of elements whose bf16
roundings are not bit-equal. A stage passes on a layer when NMSE <= its threshold AND differ <= its
threshold (defaults below; --nmse-max / --differ-max override all stages). Exit 0 when every
stage passes, 1 when some stage fails, 2 for bad input (missing files, a GGUF that does not match
the checkpoint, g4run failing), 3 when torch/transformers are not importable.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

# stage -> (max NMSE, max share of elements that differ after bf16). Measured spread (docs/verify.md):
# reference-policy g4run differs from transformers by single bf16 steps in <= 0.7 % of elements
# (summation order of the products); the f32 policy or a wrong weight is orders of magnitude off.
THRESHOLDS = {
    "embed": (1e-6, 0.01), "ple_inputs": (1e-5, 0.02), "attn_norm": (1e-5, 0.02),
    "q": (1e-5, 0.02), "kv": (1e-5, 0.02), "attention": (1e-5, 0.01), "attn_out": (1e-5, 0.02),
    "ffn": (1e-5, 0.02), "ple_scalar": (1e-5, 0.02), "final_norm": (1e-5, 0.02), "lm_head": (1e-5, 0.02),
}
STAGES = list(THRESHOLDS)


class VerifyError(Exception):
    """Bad input: one line, exit 2."""


def die(msg, code=2):
    print("gemma4c verify: " + msg, file=sys.stderr)
    return code


# --------------------------------------------------------------------------------------- helpers
def bf16_bits(x):
    """Round-to-nearest-even bf16 bit patterns of a float array (NaN kept NaN)."""
    u = np.ascontiguousarray(np.asarray(x, dtype=np.float32)).view(np.uint32)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return r


def nmse(x, ref):
    x = np.asarray(x, np.float64)
    ref = np.asarray(ref, np.float64)
    err = float(np.mean((x - ref) ** 2))
    v = float(np.var(ref))
    if v == 0:
        return 0.0 if err == 0 else float("inf")
    return err / v


def differ(x, ref):
    return float(np.mean(bf16_bits(x) != bf16_bits(ref))) if np.size(ref) else 0.0


def find_tool(name, bin_dir):
    cands = []
    if bin_dir:
        cands.append(os.path.join(bin_dir, name))
    here = os.path.dirname(os.path.abspath(__file__))
    cands.append(os.path.join(here, "..", "..", "build", "bin", name))
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    p = shutil.which(name)
    if p:
        return p
    raise VerifyError("cannot find %s (give --bin DIR)" % name)


def run_tool(cmd, what):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        lines = [l for l in (p.stderr + p.stdout).strip().splitlines() if l.strip()]
        raise VerifyError("%s failed: %s" % (what, lines[-1] if lines else "exit %d" % p.returncode))
    return p.stdout


def read_dump(d):
    idx_path = os.path.join(d, "index.json")
    if not os.path.isfile(idx_path):
        raise VerifyError("%s: no index.json (not a g4run dump)" % d)
    with open(idx_path) as f:
        index = json.load(f)
    out = {}
    for name, shape in index.items():
        x = np.fromfile(os.path.join(d, name + ".bin"), dtype=np.float32)
        out[name] = x.reshape([int(s) for s in shape])
    return out


def default_prompt(n, vocab, seed=0):
    rng = np.random.default_rng(seed)
    hi = max(6, min(vocab, 262144))
    return [2] + [int(t) for t in rng.integers(5, hi, size=n - 1)]


# --------------------------------------------------------------------------------------- transformers
def import_torch():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        from transformers.models.gemma4 import modeling_gemma4  # noqa: F401
    except ImportError as e:
        raise ImportError("%s (python %s); install torch and a transformers with Gemma 4 "
                          "(scripts/verify_setup.sh makes /opt/venv)" % (e, sys.executable))


def text_parts(model):
    """(text model, lm_head, text config) of a Gemma 4 CausalLM or ConditionalGeneration model."""
    lm_head = model.lm_head
    tm = None
    for _, m in model.named_modules():
        if hasattr(m, "layers") and hasattr(m, "embed_tokens") and hasattr(m, "rotary_emb"):
            tm = m
            break
    if tm is None:
        raise VerifyError("the checkpoint has no Gemma 4 text model")
    return tm, lm_head, tm.config


def load_model(ckpt, dtype, attention):
    import torch
    from transformers import AutoConfig
    from transformers.models.gemma4 import modeling_gemma4 as mg
    cfg = AutoConfig.from_pretrained(ckpt)
    cls = mg.Gemma4ForConditionalGeneration if cfg.model_type == "gemma4" else mg.Gemma4ForCausalLM
    if cfg.model_type not in ("gemma4", "gemma4_text"):
        raise VerifyError("%s: model_type %r is not Gemma 4" % (os.path.join(ckpt, "config.json"), cfg.model_type))
    kw = {}
    if dtype == torch.float64:  # torch's grouped_mm has no float64; the per-expert loop is exact there
        kw["experts_implementation"] = "eager"
    model = cls.from_pretrained(ckpt, dtype=dtype, attn_implementation=attention, **kw)
    model.eval()
    torch.set_grad_enabled(False)
    return model


def softcap(logits, cfg):
    cap = getattr(cfg, "final_logit_softcapping", None)
    if cap is not None:
        import torch
        logits = logits / cap
        logits = torch.tanh(logits)
        logits = logits * cap
    return logits


class Stages:
    """Each stage recomputed by transformers' modules from the dump's own inputs."""

    def __init__(self, model, dump, tokens, attention):
        import torch
        from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask
        self.torch = torch
        self.tm, self.lm_head, self.cfg = text_parts(model)
        self.dump, self.tokens = dump, tokens
        self.ties = []
        self.T = len(tokens)
        self.ids = torch.tensor([tokens], dtype=torch.long)
        self.pos = torch.arange(self.T).unsqueeze(0)
        self.dtype = self.tm.embed_tokens.weight.dtype
        x = torch.zeros(1, self.T, self.cfg.hidden_size, dtype=self.dtype)
        mk = {"config": self.cfg, "inputs_embeds": x, "attention_mask": None, "cache": None,
              "position_ids": self.pos}
        self.masks = {"full_attention": create_causal_mask(**mk),
                      "sliding_attention": create_sliding_window_causal_mask(**mk)}
        self.rope = {lt: self.tm.rotary_emb(x, self.pos, lt) for lt in set(self.cfg.layer_types)}
        from transformers.models.gemma4 import modeling_gemma4 as mg
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
        self.mg = mg
        self.attn_fn = ALL_ATTENTION_FUNCTIONS.get_interface(attention, mg.eager_attention_forward) \
            if attention != "eager" else mg.eager_attention_forward
        L = self.cfg.num_hidden_layers
        first_shared = L - self.cfg.num_kv_shared_layers
        self.kv_src = []
        for i in range(L):
            if i < first_shared:
                self.kv_src.append(i)
            else:
                lt = self.cfg.layer_types[i]
                self.kv_src.append(max(j for j in range(first_shared) if self.cfg.layer_types[j] == lt))

    def D(self, name):
        x = self.dump[name]
        return self.torch.from_numpy(np.ascontiguousarray(x)).to(self.dtype).unsqueeze(0)

    @staticmethod
    def np(t):
        """[1, T, W] (or [T, W]) torch tensor -> float32 [T, W] array."""
        return t.detach().float().reshape(-1, t.shape[-1]).numpy()

    # ---------------------------------------------------------------- the stages
    def embed(self):
        return self.tm.embed_tokens(self.ids)

    def ple_inputs(self, inp_scaled):
        tm = self.tm
        return tm.project_per_layer_inputs(inp_scaled, tm.get_per_layer_inputs(self.ids))  # [1,T,L,P]

    def heads(self, il, x):
        hd = self.tm.layers[il].self_attn.head_dim
        return x.view(1, self.T, -1, hd)

    def q(self, il, attn_norm):
        a = self.tm.layers[il].self_attn
        cos, sin = self.rope[self.cfg.layer_types[il]]
        q = a.q_proj(attn_norm).view(1, self.T, -1, a.head_dim)
        q = a.q_norm(q)
        q = self.mg.apply_rotary_pos_emb(q, cos, sin, unsqueeze_dim=2)
        return q.reshape(1, self.T, -1)

    def kv(self, il, attn_norm):
        a = self.tm.layers[il].self_attn
        cos, sin = self.rope[self.cfg.layer_types[il]]
        k = a.k_proj(attn_norm).view(1, self.T, -1, a.head_dim)
        v = a.v_proj(attn_norm).view(1, self.T, -1, a.head_dim) if a.v_proj is not None else k
        k = a.k_norm(k)
        k = self.mg.apply_rotary_pos_emb(k, cos, sin, unsqueeze_dim=2)
        v = a.v_norm(v)
        return k.reshape(1, self.T, -1), v.reshape(1, self.T, -1)

    def attention(self, il, Q, K, V):
        a = self.tm.layers[il].self_attn
        q = Q.view(1, self.T, -1, a.head_dim).transpose(1, 2)
        k = K.view(1, self.T, -1, a.head_dim).transpose(1, 2)
        v = V.view(1, self.T, -1, a.head_dim).transpose(1, 2)
        out, _ = self.attn_fn(a, q, k, v, self.masks[self.cfg.layer_types[il]], dropout=0.0,
                              scaling=a.scaling, sliding_window=a.sliding_window)
        return out.reshape(1, self.T, -1).contiguous()

    def attn_out(self, il, kqv_out, l_in):
        layer = self.tm.layers[il]
        h = layer.self_attn.o_proj(kqv_out)
        h = layer.post_attention_layernorm(h)
        return l_in + h

    def ffn(self, il, attn_out):
        layer = self.tm.layers[il]
        residual = attn_out
        h = layer.pre_feedforward_layernorm(attn_out)
        h = layer.mlp(h)
        if layer.enable_moe_block:
            h1 = layer.post_feedforward_layernorm_1(h)
            flat = residual.reshape(-1, residual.shape[-1])
            _, w, idx = layer.router(flat)
            h2 = layer.pre_feedforward_layernorm_2(flat)
            h2 = layer.experts(h2, idx, w)
            h2 = h2.reshape(residual.shape)
            h2 = layer.post_feedforward_layernorm_2(h2)
            h = h1 + h2
        h = layer.post_feedforward_layernorm(h)
        return residual + h

    def router_ties(self, il, attn_out):
        """Tokens of a MoE layer whose expert sets differ because the k-th and (k+1)-th router
        probabilities are exactly equal (torch.topk's choice among equals is implementation-defined;
        g4run takes the lower expert id). Recorded in self.ties and left out of the ffn row; any
        other difference in the expert sets stays in (and fails the stage). Returns the rows kept."""
        layer = self.tm.layers[il]
        if not layer.enable_moe_block:
            return None
        probs, _, idx = layer.router(attn_out.reshape(-1, attn_out.shape[-1]))
        p = probs.float().numpy()
        hf = np.sort(idx.numpy(), axis=1)
        k = hf.shape[1]
        # g4run's choice: its own dumped router probabilities, the lower id among equals
        gp = self.dump.get("softmax-%d" % il, p)
        g4 = np.sort(np.argsort(-gp.astype(np.float64), axis=1, kind="stable")[:, :k], axis=1)
        keep = np.ones(len(hf), dtype=bool)
        for t in np.nonzero((hf != g4).any(axis=1))[0]:
            srt = np.sort(p[t])[::-1]
            if k < len(srt) and srt[k - 1] == srt[k]:
                keep[t] = False
                self.ties.append({"layer": il, "token": int(t), "transformers": hf[t].tolist(),
                                  "g4run": g4[t].tolist(), "tied_probability": float(srt[k])})
        return keep

    def ple_scalar(self, il, ffn_out, per_layer_inp):
        layer = self.tm.layers[il]
        h = ffn_out
        if layer.hidden_size_per_layer_input:
            residual = h
            h = layer.per_layer_input_gate(h)
            h = layer.act_fn(h)
            h = h * per_layer_inp
            h = layer.per_layer_projection(h)
            h = layer.post_per_layer_input_norm(h)
            h = residual + h
        h = h * layer.layer_scalar
        return h

    def final_norm(self, l_out):
        return self.tm.norm(l_out)

    def lm_head_stage(self, result_norm):
        return softcap(self.lm_head(result_norm), self.cfg)

    # ---------------------------------------------------------------- driving
    def compare_all(self, chained=False):
        """Rows (stage, layer, nmse, differ). chained=True feeds each stage its own previous
        output instead of the dump's (a self-check: must equal transformers' full forward)."""
        rows = []
        own = {}

        def inp(name):
            return own[name] if chained else self.D(name)

        def cmp(stage, layer, name, ref, keep=None):
            own[name] = ref
            if name in self.dump:
                x = self.dump[name].reshape(-1, self.dump[name].shape[-1])
                r = self.np(ref)
                if x.shape != r.shape:
                    raise VerifyError("dump %s has shape %s, transformers computes %s: the GGUF does not "
                                      "match the checkpoint" % (name, list(x.shape), list(r.shape)))
                if keep is not None:
                    x, r = x[keep], r[keep]
                rows.append((stage, layer, nmse(x, r), differ(x, r)))

        L = self.cfg.num_hidden_layers
        cmp("embed", "-", "inp_scaled", self.embed())
        P = self.cfg.hidden_size_per_layer_input
        if P:
            ple = self.ple_inputs(inp("inp_scaled"))
            for il in range(L):
                cmp("ple_inputs", il, "per_layer_inp-%d" % il, ple[:, :, il, :])
        for il in range(L):
            l_in = "inp_scaled" if il == 0 else "l_out-%d" % (il - 1)
            layer = self.tm.layers[il]
            cmp("attn_norm", il, "attn_norm-%d" % il, layer.input_layernorm(inp(l_in)))
            cmp("q", il, "Qcur-%d" % il, self.q(il, inp("attn_norm-%d" % il)))
            if self.kv_src[il] == il:
                k, v = self.kv(il, inp("attn_norm-%d" % il))
                cmp("kv", il, "Kcur-%d" % il, k)
                cmp("kv", il, "Vcur-%d" % il, v)
            s = self.kv_src[il]
            cmp("attention", il, "kqv_out-%d" % il,
                self.attention(il, inp("Qcur-%d" % il), inp("Kcur-%d" % s), inp("Vcur-%d" % s)))
            cmp("attn_out", il, "attn_out-%d" % il, self.attn_out(il, inp("kqv_out-%d" % il), inp(l_in)))
            keep = None if chained else self.router_ties(il, inp("attn_out-%d" % il))
            cmp("ffn", il, "ffn_out-%d" % il, self.ffn(il, inp("attn_out-%d" % il)), keep)
            pin = inp("per_layer_inp-%d" % il) if P else None
            cmp("ple_scalar", il, "l_out-%d" % il, self.ple_scalar(il, inp("ffn_out-%d" % il), pin))
        cmp("final_norm", "-", "result_norm", self.final_norm(inp("l_out-%d" % (L - 1))))
        cmp("lm_head", "-", "result_output", self.lm_head_stage(inp("result_norm")))
        return rows, own


# --------------------------------------------------------------------------------------- checks
def check_shapes(cfg, dump, ckpt, gguf, T):
    """One-line errors for a GGUF that does not match the checkpoint."""
    L, H = cfg.num_hidden_layers, cfg.hidden_size
    if "inp_scaled" not in dump or "result_output" not in dump:
        raise VerifyError("the dump of %s lacks inp_scaled/result_output" % gguf)
    if dump["inp_scaled"].shape[0] != T:
        raise VerifyError("the dump holds %d positions, the prompt has %d" % (dump["inp_scaled"].shape[0], T))
    w = dump["inp_scaled"].shape[-1]
    if w != H:
        raise VerifyError("%s has hidden size %d, %s/config.json %d: the GGUF does not match the checkpoint"
                          % (gguf, w, ckpt, H))
    nl = sum(1 for n in dump if n.startswith("l_out-"))
    if nl != L:
        raise VerifyError("%s has %d layers, %s/config.json %d: the GGUF does not match the checkpoint"
                          % (gguf, nl, ckpt, L))
    v = dump["result_output"].shape[-1]
    if v != cfg.vocab_size:
        raise VerifyError("%s has a vocabulary of %d, %s/config.json %d: the GGUF does not match the "
                          "checkpoint" % (gguf, v, ckpt, cfg.vocab_size))


def summarize(rows, thresholds):
    table = []
    failed = False
    for stage in STAGES:
        rs = [r for r in rows if r[0] == stage]
        if not rs:
            continue
        nmax, dmax = thresholds[stage]
        worst_n = max(r[2] for r in rs)
        worst_d = max(r[3] for r in rs)
        fail_layers = [r[1] for r in rs if not (r[2] <= nmax and r[3] <= dmax)]
        layers = sorted({r[1] for r in rs}, key=lambda x: -1 if x == "-" else x)
        table.append({"stage": stage, "layers": len(layers), "max_nmse": worst_n, "max_differ": worst_d,
                      "first_failing_layer": (fail_layers[0] if fail_layers else None),
                      "ok": not fail_layers, "nmse_max": nmax, "differ_max": dmax})
        failed |= bool(fail_layers)
    return table, failed


def print_table(table, logit_rows, header):
    print(header)
    print("%-11s %6s %11s %9s %13s  %s" % ("stage", "layers", "max NMSE", "differ", "first failing", ""))
    for t in table:
        ff = "-" if t["first_failing_layer"] is None else str(t["first_failing_layer"])
        print("%-11s %6d %11.3e %8.3f%% %13s  %s" % (t["stage"], t["layers"], t["max_nmse"],
                                                      100 * t["max_differ"], ff, "ok" if t["ok"] else "FAIL"))
    print()
    print("%-34s %11s %7s" % ("logits (g4run vs)", "NMSE", "top-1"))
    for name, n, a in logit_rows:
        print("%-34s %11.3e %7.3f" % (name, n, a))


# --------------------------------------------------------------------------------------- main
def parse_args(argv):
    ap = argparse.ArgumentParser(prog="gemma4c verify", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="transformers Gemma 4 checkpoint directory")
    ap.add_argument("--gguf", required=True, help="the GGUF convert_hf_to_gguf.py made from it")
    ap.add_argument("--attention", default="sdpa", choices=["sdpa", "eager"],
                    help="g4run --attention and transformers attn_implementation (default sdpa)")
    ap.add_argument("--prompt-len", type=int, default=40, help="length of the default prompt")
    ap.add_argument("--tokens", default="", help="prompt token ids, comma separated (overrides --prompt-len)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--bin", default=os.environ.get("G4_BIN", ""), help="directory of gemma4c and g4run")
    ap.add_argument("--work", default="", help="working directory (spec, plan, dump); default a temporary one")
    ap.add_argument("--plan", default="", help="use this compiled plan instead of compiling one")
    ap.add_argument("--json", default="", help="also write the results here")
    ap.add_argument("--no-float64", action="store_true", help="skip the float64 forward")
    ap.add_argument("--self-check", action="store_true",
                    help="also chain the stages on their own outputs and check that this equals "
                         "transformers' full forward bit for bit")
    ap.add_argument("--nmse-max", type=float, default=None, help="one NMSE threshold for every stage")
    ap.add_argument("--differ-max", type=float, default=None, help="one differ-share threshold for every stage")
    return ap.parse_args(argv)


def verify(a):
    ckpt, gguf = a.checkpoint, a.gguf
    if not os.path.isdir(ckpt):
        raise VerifyError("%s: no such checkpoint directory" % ckpt)
    if not os.path.isfile(os.path.join(ckpt, "config.json")):
        raise VerifyError("%s: no config.json (not a transformers checkpoint)" % ckpt)
    if not os.path.isfile(gguf):
        raise VerifyError("%s: no such file" % gguf)
    with open(gguf, "rb") as f:
        if f.read(4) != b"GGUF":
            raise VerifyError("%s: not a GGUF file" % gguf)
    import_torch()
    import torch
    from transformers import AutoConfig
    try:
        hcfg = AutoConfig.from_pretrained(ckpt)
    except Exception as e:  # noqa: BLE001 - transformers raises many kinds
        raise VerifyError("%s/config.json: %s" % (ckpt, str(e).splitlines()[0] if str(e) else type(e).__name__))
    tcfg = getattr(hcfg, "text_config", None) or hcfg
    if hcfg.model_type not in ("gemma4", "gemma4_text"):
        raise VerifyError("%s/config.json: model_type %r is not Gemma 4" % (ckpt, hcfg.model_type))

    tokens = [int(t) for t in a.tokens.split(",")] if a.tokens else default_prompt(a.prompt_len, tcfg.vocab_size)
    T = len(tokens)
    work = a.work or tempfile.mkdtemp(prefix="g4verify-")
    os.makedirs(work, exist_ok=True)
    gemma4c, g4run = find_tool("gemma4c", a.bin), find_tool("g4run", a.bin)
    plan = a.plan
    if not plan:
        spec = os.path.join(work, "spec.mlir")
        run_tool([gemma4c, "spec", "--from-gguf", gguf, "-o", spec], "gemma4c spec --from-gguf " + gguf)
        plan = os.path.join(work, "plan-reference-" + a.attention)
        run_tool([gemma4c, "compile", spec, "-o", plan, "--precision=reference", "--attention=" + a.attention,
                  "--max-batch=%d" % max(512, T)], "gemma4c compile")
    dump_dir = os.path.join(work, "dump")
    shutil.rmtree(dump_dir, ignore_errors=True)
    logits_path = os.path.join(work, "logits.bin")
    cmd = [g4run, plan, "--model", gguf, "--tokens", ",".join(map(str, tokens)), "--dump", dump_dir,
           "--logits-out", logits_path, "-n", "0"]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    run_tool(cmd, "g4run on " + gguf)
    dump = read_dump(dump_dir)
    check_shapes(tcfg, dump, ckpt, gguf, T)

    try:
        model = load_model(ckpt, torch.bfloat16, a.attention)
    except VerifyError:
        raise
    except Exception as e:  # noqa: BLE001
        raise VerifyError("%s: transformers cannot load it: %s" % (ckpt, str(e).splitlines()[0] if str(e) else type(e).__name__))
    st = Stages(model, dump, tokens, a.attention)
    rows, _ = st.compare_all()
    thresholds = {s: (a.nmse_max if a.nmse_max is not None else n, a.differ_max if a.differ_max is not None else d)
                  for s, (n, d) in THRESHOLDS.items()}
    table, failed = summarize(rows, thresholds)

    # whole-model logits
    vocab = tcfg.vocab_size
    g = np.fromfile(logits_path, dtype=np.float32)
    if g.size != T * vocab:
        raise VerifyError("%s: %d floats, expected %d x %d" % (logits_path, g.size, T, vocab))
    g = g.reshape(T, vocab)
    ids = torch.tensor([tokens])
    ref_bf = model(input_ids=ids).logits[0].float().numpy()
    logit_rows = [("transformers bf16 (%s)" % a.attention, nmse(g, ref_bf),
                   float(np.mean(g.argmax(-1) == ref_bf.argmax(-1))))]
    self_check = None
    if a.self_check:
        _, own = st.compare_all(chained=True)
        chained = st.np(own["result_output"])
        self_check = bool(np.array_equal(chained, ref_bf))
    st_ties = st.ties
    del st, model
    if not a.no_float64:
        m64 = load_model(ckpt, torch.float64, a.attention)
        ref64 = m64(input_ids=ids).logits[0].numpy()
        logit_rows.append(("transformers float64 (%s)" % a.attention, nmse(g, ref64),
                           float(np.mean(g.argmax(-1) == ref64.argmax(-1)))))
        logit_rows.append(("(transformers bf16 vs float64)", nmse(ref_bf, ref64),
                           float(np.mean(ref_bf.argmax(-1) == ref64.argmax(-1)))))
        del m64
    import transformers
    header = ("gemma4c verify: %s vs %s, %d tokens, attention %s (transformers %s, torch %s)"
              % (gguf, ckpt, T, a.attention, transformers.__version__, torch.__version__))
    print_table(table, logit_rows, header)
    for t in st_ties:
        print("note: ffn layer %d token %d: exact router tie at the top-%d boundary (p = %.6g); experts "
              "transformers %s, g4run %s; this token is left out of the ffn row"
              % (t["layer"], t["token"], len(t["g4run"]), t["tied_probability"], t["transformers"], t["g4run"]))
    if self_check is not None:
        print("self-check (stages chained = transformers forward, bit for bit): %s" % ("yes" if self_check else "NO"))
        failed |= not self_check
    result = {"checkpoint": ckpt, "gguf": gguf, "tokens": T, "attention": a.attention,
              "transformers": transformers.__version__, "torch": torch.__version__, "stages": table,
              "per_layer": [{"stage": s, "layer": l, "nmse": n, "differ": d} for s, l, n, d in rows],
              "logits": [{"against": n, "nmse": v, "top1": t} for n, v, t in logit_rows],
              "self_check": self_check, "router_ties": st_ties, "ok": not failed}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    print("verify: %s" % ("every stage within its thresholds" if not failed else "FAILED"))
    return result


def main(argv=None):
    a = parse_args(argv)
    try:
        r = verify(a)
    except VerifyError as e:
        return die(str(e))
    except ImportError as e:
        return die("torch/transformers not importable: %s" % e, 3)
    except Exception as e:  # noqa: BLE001 - one line, the traceback on request
        if os.environ.get("G4_VERIFY_DEBUG"):
            raise
        return die("internal error: %s: %s (G4_VERIFY_DEBUG=1 for the traceback)" % (type(e).__name__, e))
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""Independent NumPy reference of the Gemma 4 text forward pass.

Written from /work/shared/spec/gemma4-architecture.md (sections 2 and 3), not from the
project's compiler. Reads a llama.cpp-style GGUF with its own reader (gguf_reader.py).

Modes
-----
* ``float64``: every value is float64, nothing is rounded (the "ideal" math; embedding
  scale sqrt(H) exact, RoPE angles in float64).
* ``float32``: the same op sequence with every intermediate rounded to float32 (weights
  as stored in the file, constants in fp32; no bf16 anywhere).
* ``bf16``: emulation of HuggingFace transformers running the model in bfloat16, rounding
  to bf16 exactly at the points of spec section 3.9. Every tensor that lives between
  PyTorch ops is held as a float32 array whose values are bf16-representable.
  fp32 internals (norms, softmax, GELU, matmul accumulation) are evaluated in float64 and
  rounded to float32 before the bf16 rounding (see docs/reference.md for the exact rules).

Usage
-----
    ref = Gemma4Reference("model.gguf", mode="bf16", attention="sdpa")
    logits = ref.forward(tokens)          # [T, V]; positions 0..T-1; resets the KV cache
    ref.intermediates["Qcur-3"]           # every named intermediate of the last call
    nxt = ref.decode([tok])               # continues from the KV cache

CLI:  gemma4_ref.py --model M.gguf --tokens 2,10,11 [--mode bf16] [--dump DIR]
"""

import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import GGUFReader  # noqa: E402


# ---------------------------------------------------------------------------------------
# bf16 rounding

def bf16_round(x):
    """Round float32 values to the nearest bfloat16 (ties to even), returned as float32.

    Works on the float32 bit pattern: add 0x7FFF + lsb(bit 16) and clear the low 16 bits.
    Overflow rounds to +-inf; inf stays inf; NaN stays NaN (made quiet, sign kept)."""
    x = np.asarray(x, dtype=np.float32)
    b = x.view(np.uint32).astype(np.uint64)
    r = ((b + np.uint64(0x7FFF) + ((b >> np.uint64(16)) & np.uint64(1))) & np.uint64(0xFFFF0000))
    r = r.astype(np.uint32)
    nan = np.isnan(x)
    if np.any(nan):
        r = np.where(nan, (x.view(np.uint32) & np.uint32(0xFFFF0000)) | np.uint32(0x00400000), r)
    return r.view(np.float32).reshape(x.shape)


def is_bf16_representable(x):
    x = np.asarray(x, dtype=np.float32)
    return bool(np.all((x.view(np.uint32) & np.uint32(0xFFFF)) == 0))


def gelu_tanh(x):
    """GELU, tanh approximation, evaluated in float64."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def rope_inv_freq(d, base, rotated_pairs=None, dtype=np.float64):
    """inv_freq[i] = 1 / base^(2i/d) for i < rotated_pairs, 0 for the rest (d/2 entries).

    rotated_pairs=None means all d/2 pairs rotate ("default" RoPE). The "proportional"
    RoPE of Gemma 4 full layers uses rotated_pairs = int(0.25 * d // 2) with the same
    exponent denominator d (spec 2.3). dtype=float32 emulates the fp32 computation of
    transformers (exponent = fp32(2i)/fp32(d), fp32 pow, fp32 reciprocal)."""
    half = d // 2
    n = half if rotated_pairs is None else rotated_pairs
    out = np.zeros(half, dtype=dtype)
    if dtype == np.float32:
        e = np.arange(0, 2 * n, 2, dtype=np.int64).astype(np.float32) / np.float32(d)
        out[:n] = np.float32(1.0) / np.power(np.float32(base), e)
    else:
        e = np.arange(0, 2 * n, 2, dtype=np.float64) / d
        out[:n] = 1.0 / np.power(float(base), e)
    return out


# ---------------------------------------------------------------------------------------
# configuration

class Gemma4Config:
    def __init__(self, r):
        md = r.metadata
        arch = md.get("general.architecture", "gemma4")
        if arch != "gemma4":
            raise ValueError("not a gemma4 GGUF (general.architecture = %r)" % arch)
        p = "gemma4."

        def get(k, default=None, required=True):
            if p + k in md:
                return md[p + k]
            if required and default is None:
                raise KeyError("missing GGUF key %s%s" % (p, k))
            return default

        def per_layer(k, default=None):
            v = get(k, default)
            if isinstance(v, (list, np.ndarray)):
                v = [int(x) for x in v]
                assert len(v) == self.n_layer, (k, len(v))
                return v
            return [int(v)] * self.n_layer

        self.n_layer = int(get("block_count"))
        self.n_embd = int(get("embedding_length"))
        self.n_ff = per_layer("feed_forward_length")
        self.n_head = int(get("attention.head_count"))
        self.n_head_kv = per_layer("attention.head_count_kv")
        self.head_dim_full = int(get("attention.key_length"))
        self.head_dim_swa = int(get("attention.key_length_swa"))
        assert int(get("attention.value_length", self.head_dim_full)) == self.head_dim_full
        assert int(get("attention.value_length_swa", self.head_dim_swa)) == self.head_dim_swa
        self.n_rot_full = int(get("rope.dimension_count", self.head_dim_full))
        self.n_rot_swa = int(get("rope.dimension_count_swa", self.head_dim_swa))
        self.rope_base_full = float(get("rope.freq_base", 1e6))
        self.rope_base_swa = float(get("rope.freq_base_swa", 1e4))
        eps32 = float(get("attention.layer_norm_rms_epsilon", 1e-6))
        self.eps = float("%.7g" % eps32)      # file stores fp32(1e-6); use the decimal value
        self.window = int(get("attention.sliding_window"))
        pat = get("attention.sliding_window_pattern")
        if isinstance(pat, (list, np.ndarray)):
            self.is_swa = [bool(x) for x in pat]
        else:
            self.is_swa = [bool(pat)] * self.n_layer
        assert len(self.is_swa) == self.n_layer
        self.shared_kv_layers = int(get("attention.shared_kv_layers", 0, required=False) or 0)
        self.n_ple = int(get("embedding_length_per_layer_input", 0, required=False) or 0)
        self.softcap = float(get("final_logit_softcapping", 30.0, required=False) or 0.0)
        self.n_expert = int(get("expert_count", 0, required=False) or 0)
        self.n_expert_used = int(get("expert_used_count", 0, required=False) or 0)
        self.n_ff_exp = int(get("expert_feed_forward_length", 0, required=False) or 0)
        self.first_shared = self.n_layer - self.shared_kv_layers

    def head_dim(self, il):
        return self.head_dim_swa if self.is_swa[il] else self.head_dim_full

    def kv_source(self, il):
        """Layer whose K/V layer il attends to: itself, or for the KV-shared tail the last
        non-shared layer of the same type (spec 2.4)."""
        if il < self.first_shared:
            return il
        for j in range(self.first_shared - 1, -1, -1):
            if self.is_swa[j] == self.is_swa[il]:
                return j
        raise ValueError("layer %d: no non-shared layer of the same type" % il)


# ---------------------------------------------------------------------------------------
# the reference model

class Gemma4Reference:
    """See module docstring. Options:

    attention: "sdpa" (default; torch's CPU flash kernel, docs/attention.md: fp32 scores,
               online max/sum per block of 512 key positions, its fast exp(S - m) rounded to bf16
               before P.V, output acc * (1/l) rounded once), "exact" (fp32 scores and
               softmax, P.V accumulated exactly, output rounded once: what "sdpa" meant before
               the flash semantics) or "eager" (scores rounded to bf16, softmax fp32 -> bf16,
               P.V rounded) -- only matters in bf16 mode.
    experts:   "grouped_mm" (default; the k weighted expert outputs summed in fp32 and
               rounded once) or "eager" (bf16 index_add_ per expert in ascending id order).
    router_fp32: False (default, spec 3.5 R5-R8 rounded to bf16) or True (softmax, top-k
               weights and per-expert scaling kept in fp32; the weighted expert output y*w
               is then rounded once).
    partial_rotary_factor: fraction of the full-layer head dim that rotates (0.25).
    """

    MODES = ("float64", "float32", "bf16")

    def __init__(self, path, mode="float64", attention="sdpa", experts="grouped_mm",
                 router_fp32=False, partial_rotary_factor=0.25, check_rope_freqs=True,
                 round_weights=True):
        if mode not in self.MODES:
            raise ValueError("mode must be one of %s" % (self.MODES,))
        if attention not in ("sdpa", "exact", "eager"):
            raise ValueError("attention must be sdpa, exact or eager")
        if experts not in ("grouped_mm", "eager"):
            raise ValueError("experts must be grouped_mm or eager")
        self.path = path
        self.mode = mode
        self.attention = attention
        self.experts = experts
        self.router_fp32 = router_fp32
        # bf16 mode holds weights in bf16 as transformers does. round_weights=False uses the
        # file's values as stored (what a runtime reading the GGUF computes with); for files
        # made from bf16 checkpoints the two are the same.
        self.round_weights = round_weights
        self.gguf = GGUFReader(path)
        self.cfg = Gemma4Config(self.gguf)
        self.partial_rotary_factor = partial_rotary_factor
        self._w = {}
        self._w64 = {}
        self.intermediates = {}
        self.record = True
        c = self.cfg
        # constants
        H = c.n_embd
        if mode == "bf16":
            self.embed_scale = float(bf16_round(np.float32(math.sqrt(H))))
            self.ple_scale = float(bf16_round(np.float32(math.sqrt(c.n_ple)))) if c.n_ple else 0.0
        elif mode == "float32":
            self.embed_scale = float(np.float32(math.sqrt(H)))
            self.ple_scale = float(np.float32(math.sqrt(c.n_ple))) if c.n_ple else 0.0
        else:
            self.embed_scale = math.sqrt(H)
            self.ple_scale = math.sqrt(c.n_ple) if c.n_ple else 0.0
        # RoPE tables (inv_freq per layer type)
        fdt = np.float64 if mode == "float64" else np.float32
        assert c.n_rot_swa == c.head_dim_swa, "partial RoPE on sliding layers is not a Gemma 4 feature"
        self.rope_pairs_full = int(partial_rotary_factor * c.head_dim_full // 2)
        self.inv_freq_swa = rope_inv_freq(c.head_dim_swa, c.rope_base_swa, None, fdt)
        self.inv_freq_full = rope_inv_freq(c.head_dim_full, c.rope_base_full, self.rope_pairs_full, fdt)
        if check_rope_freqs and self.gguf.has("rope_freqs.weight"):
            f = self.gguf.tensor("rope_freqs.weight")
            n = self.rope_pairs_full
            ok = f.shape == (c.head_dim_full // 2,) and np.all(f[:n] == 1.0) and np.all(f[n:] >= 1e29)
            if not ok:
                raise ValueError("rope_freqs.weight does not match proportional RoPE with factor %g"
                                 % partial_rotary_factor)
        self.reset()

    # ----------------------------------------------------------------------- numerics
    @property
    def dtype(self):
        return np.float64 if self.mode == "float64" else np.float32

    def R(self, x):
        """Round an (fp32 or float64) result to the mode's storage precision."""
        if self.mode == "float64":
            return np.asarray(x, dtype=np.float64)
        x32 = np.asarray(x, dtype=np.float32)
        return bf16_round(x32) if self.mode == "bf16" else x32

    def F(self, x):
        """An fp32 internal value (float64 in float64 mode)."""
        return np.asarray(x, dtype=np.float64 if self.mode == "float64" else np.float32)

    def S(self, s):
        """A Python-float scalar as the op math uses it (fp32 opmath)."""
        return float(s) if self.mode == "float64" else np.float32(s)

    def _in(self, x):
        """Coerce a stage input to the mode's storage format (bf16-round in bf16 mode)."""
        return self.R(np.asarray(x))

    def mm(self, x, wname):
        """x @ W^T: fp32 (here float64) accumulation, one rounding of the output."""
        W = self.w64(wname)
        y = np.asarray(x, dtype=np.float64) @ W.T
        return self.R(y)

    def mul(self, a, b):
        """Elementwise product of two held tensors: fp32 op, one rounding."""
        return self.R(self.F(a) * self.F(b))

    def add(self, a, b):
        return self.R(self.F(a) + self.F(b))

    def scale(self, x, s):
        """tensor * Python float."""
        return self.R(self.F(x) * self.S(s))

    def rmsnorm(self, x, wname=None):
        """Gemma4RMSNorm: fp32 inside, x * (mean(x^2) + eps)^-1/2 [* w], one rounding."""
        x = np.asarray(x)
        x64 = x.astype(np.float64)
        if self.mode == "float64":
            y = x64 / np.sqrt(np.mean(x64 * x64, axis=-1, keepdims=True) + self.cfg.eps)
            if wname is not None:
                y = y * self.weight(wname)
            return y
        ms = np.mean(x64 * x64, axis=-1, keepdims=True).astype(np.float32)
        ms = ms + np.float32(self.cfg.eps)
        inv = (1.0 / np.sqrt(ms.astype(np.float64))).astype(np.float32)
        y = x.astype(np.float32) * inv
        if wname is not None:
            y = y * self.weight(wname).astype(np.float32)
        return self.R(y)

    def gelu(self, x):
        return self.R(gelu_tanh(x))

    # ----------------------------------------------------------------------- weights
    def weight(self, name):
        """A weight as the mode holds it (bf16-rounded float32 in bf16 mode)."""
        w = self._w.get(name)
        if w is None:
            t = self.gguf.tensor(name, dtype=np.float64 if self.mode == "float64" else np.float32)
            if self.mode == "float64":
                w = t.astype(np.float64)
            elif self.mode == "bf16" and self.round_weights:
                w = bf16_round(t)
            else:
                w = t.astype(np.float32)
            self._w[name] = w
        return w

    def w64(self, name):
        w = self._w64.get(name)
        if w is None:
            w = self.weight(name).astype(np.float64)
            self._w64[name] = w
        return w

    def has(self, name):
        return self.gguf.has(name)

    def held_tensors(self):
        """All weights loaded so far (for representability checks)."""
        return dict(self._w)

    # ----------------------------------------------------------------------- cache
    def reset(self):
        self.kv = {}          # owning layer -> dict(K=[Tc, nkv*hd], V=..., pos=[Tc])
        self.n_past = 0

    def _rec(self, name, x):
        if self.record:
            self.intermediates[name] = x

    # ----------------------------------------------------------------------- RoPE
    def rope_cos_sin(self, il, positions):
        """cos, sin [T, hd] as the rotation uses them (bf16-rounded in bf16 mode)."""
        c = self.cfg
        inv = self.inv_freq_swa if c.is_swa[il] else self.inv_freq_full
        pos = np.asarray(positions)
        if self.mode == "float64":
            ang = pos.astype(np.float64)[:, None] * inv[None, :]
            emb = np.concatenate([ang, ang], axis=1)
            return np.cos(emb), np.sin(emb)
        ang = pos.astype(np.float32)[:, None] * inv[None, :]          # fp32 product
        emb = np.concatenate([ang, ang], axis=1).astype(np.float64)
        cos = np.cos(emb).astype(np.float32)
        sin = np.sin(emb).astype(np.float32)
        if self.mode == "bf16":
            cos, sin = bf16_round(cos), bf16_round(sin)
        return cos, sin

    def rope(self, x, il, positions):
        """x: [T, n, hd]. NeoX / rotate-half pairing (i, i + hd/2)."""
        cos, sin = self.rope_cos_sin(il, positions)
        hd = x.shape[-1]
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        rot = np.concatenate([-x2, x1], axis=-1)
        a = self.mul(x, cos[:, None, :])
        b = self.mul(rot, sin[:, None, :])
        return self.add(a, b)

    # ----------------------------------------------------------------------- stages
    def embed(self, tokens):
        tokens = np.asarray(tokens, dtype=np.int64)
        e = self.weight("token_embd.weight")[tokens]
        x = self.scale(e, self.embed_scale)
        self._rec("inp_scaled", x)
        return x

    def ple_inputs(self, tokens, inp_scaled):
        """Per-layer inputs [T, L*P] (spec 3.2); None for models without PLE."""
        c = self.cfg
        if not c.n_ple:
            return None
        tokens = np.asarray(tokens, dtype=np.int64)
        L, P = c.n_layer, c.n_ple
        T = len(tokens)
        t = self.scale(self.weight("per_layer_token_embd.weight")[tokens], self.ple_scale)
        cx = self.mm(self._in(inp_scaled), "per_layer_model_proj.weight")
        cx = self.scale(cx, c.n_embd ** -0.5)
        cx = self.rmsnorm(cx.reshape(T, L, P), "per_layer_proj_norm.weight").reshape(T, L * P)
        u = self.add(cx, t)
        ple = self.scale(u, 2.0 ** -0.5)
        for il in range(L):
            self._rec("per_layer_inp-%d" % il, ple[:, il * P:(il + 1) * P])
        return ple

    def owns_kv(self, il):
        return self.cfg.kv_source(il) == il

    def stage_qkv(self, il, l_in, positions):
        """Layer input -> (Qcur, Kcur, Vcur) [T, n*hd]; K/V are None on KV-shared layers.
        Q after q-norm + RoPE; K after k-norm + RoPE; V after the unscaled v-norm."""
        c = self.cfg
        x = self._in(l_in)
        T = x.shape[0]
        hd = c.head_dim(il)
        pfx = "blk.%d." % il
        a = self.rmsnorm(x, pfx + "attn_norm.weight")
        self._rec("attn_norm-%d" % il, a)
        q = self.mm(a, pfx + "attn_q.weight").reshape(T, c.n_head, hd)
        q = self.rmsnorm(q, pfx + "attn_q_norm.weight")
        q = self.rope(q, il, positions).reshape(T, c.n_head * hd)
        self._rec("Qcur-%d" % il, q)
        if not self.owns_kv(il):
            return q, None, None
        nkv = c.n_head_kv[il]
        kraw = self.mm(a, pfx + "attn_k.weight").reshape(T, nkv, hd)
        if self.has(pfx + "attn_v.weight"):
            v = self.mm(a, pfx + "attn_v.weight").reshape(T, nkv, hd)
        else:
            v = kraw                                     # k_eq_v: V = raw K projection
        k = self.rmsnorm(kraw, pfx + "attn_k_norm.weight")
        k = self.rope(k, il, positions).reshape(T, nkv * hd)
        v = self.rmsnorm(v, None).reshape(T, nkv * hd)
        self._rec("Kcur-%d" % il, k)
        self._rec("Vcur-%d" % il, v)
        return q, k, v

    def attention_mask(self, il, q_positions, k_positions):
        qp = np.asarray(q_positions)[:, None]
        kp = np.asarray(k_positions)[None, :]
        m = kp <= qp
        if self.cfg.is_swa[il]:
            m &= kp > qp - self.cfg.window
        return m

    def stage_attention_core(self, il, Qcur, K_all, V_all, q_positions, k_positions):
        """Scaled (scale 1.0) dot-product attention with causal / sliding mask and GQA.
        Qcur [Tq, nh*hd]; K_all, V_all [Tk, nkv*hd] (from the KV-source layer).
        Returns kqv_out [Tq, nh*hd] (heads concatenated, before attn_output)."""
        c = self.cfg
        hd = c.head_dim(il)
        nh = c.n_head
        nkv = c.n_head_kv[c.kv_source(il)]
        rep = nh // nkv
        Q = self._in(Qcur).astype(np.float64)
        K = self._in(K_all).astype(np.float64)
        V = self._in(V_all).astype(np.float64)
        Tq, Tk = Q.shape[0], K.shape[0]
        Q = Q.reshape(Tq, nkv, rep, hd).transpose(1, 2, 0, 3).reshape(nkv, rep * Tq, hd)
        K = K.reshape(Tk, nkv, hd).transpose(1, 0, 2)                     # [nkv, Tk, hd]
        V = V.reshape(Tk, nkv, hd).transpose(1, 0, 2)
        mask = self.attention_mask(il, q_positions, k_positions)         # [Tq, Tk]
        mask = np.broadcast_to(mask[None, None], (nkv, rep, Tq, Tk)).reshape(nkv, rep * Tq, Tk)
        S = Q @ K.transpose(0, 2, 1)                                      # scale 1.0
        if self.mode == "bf16" and self.attention == "sdpa":
            O = self.R(self.flash_attention(self.F(S), mask, V, np.asarray(k_positions)))
            O = O.reshape(nkv, rep, Tq, hd).transpose(2, 0, 1, 3).reshape(Tq, nh * hd)
            self._rec("kqv_out-%d" % il, O)
            return O
        if self.mode == "bf16" and self.attention == "eager":
            S = bf16_round(S.astype(np.float32))
        S = self.F(S).astype(np.float64)
        S = np.where(mask, S, -np.inf)
        S = S - S.max(axis=-1, keepdims=True)
        E = np.exp(S)
        P = self.F(E / E.sum(axis=-1, keepdims=True))                      # fp32 softmax
        if self.mode == "bf16" and self.attention == "eager":
            P = bf16_round(P)
        O = self.R(P.astype(np.float64) @ V)                              # [nkv, rep*Tq, hd]
        O = O.reshape(nkv, rep, Tq, hd).transpose(2, 0, 1, 3).reshape(Tq, nh * hd)
        self._rec("kqv_out-%d" % il, O)
        return O

    FLASH_KV_BLOCK = 512  # torch's kv_split (docs/attention.md section 1)

    @staticmethod
    def fexp_u20(x):
        """torch's fast exp in the flash kernel (Vectorized<float>::fexp_u20, AVX512; Malossi et
        al.): t = x log2(e), f = t - floor(t), the bits of 2^23 (t - p(f)) + 2^23 * 127 truncated
        to an integer, p a cubic; 0 below ln(FLT_MIN). fp32 throughout, FMA where torch fuses
        (emulated in float64: the products are exact there)."""
        f32 = np.float32
        bits = lambda u: np.array([u], np.uint32).view(f32)[0]
        fma = lambda a, b, c: (np.float64(a) * np.asarray(b, np.float64) + np.asarray(c, np.float64)).astype(f32)
        x = np.asarray(x, f32)
        below, above = ~(x >= bits(0xc2aeac50)), x > bits(0x42b17218)
        xs = np.where(below | above, f32(0), x)
        t = (xs * bits(0x3fb8aa3b)).astype(f32)
        fr = (t - np.floor(t)).astype(f32)
        p = fma(f32(-0.079204240219773236), fr, f32(-0.22433836478672356))
        p = fma(fr, p, f32(0.30354260500649682))
        p = fma(fr, p, f32(0.00010703434948458272))
        y = fma(f32(2.0 ** 23), (t - p).astype(f32), f32(2.0 ** 23 * 127))
        y = np.trunc(y.astype(np.float64)).astype(np.int64).astype(np.uint32).view(f32)
        return np.where(below, f32(0), np.where(above, f32(np.inf), y)).astype(f32)

    @classmethod
    def flash_attention(cls, S, mask, V, k_positions):
        """torch's CPU flash attention on fp32 scores S [g, rows, Tk] with a boolean mask, V
        [g, Tk, hd] (bf16 values): per block of 512 absolute key positions the running max m,
        e = fexp_u20(S - m) in fp32, l = sum(e) + alpha * l (alpha = exp(m_old - m)), acc = alpha * acc + bf16(e) @ V (the
        block's product summed exactly, then rounded to fp32); returns acc * (1/l) in fp32."""
        f32 = np.float32
        g, rows, _ = S.shape
        m = np.full((g, rows), -np.inf, f32)
        l = np.zeros((g, rows), f32)
        acc = np.zeros((g, rows, V.shape[-1]), f32)
        blocks = k_positions // cls.FLASH_KV_BLOCK
        with np.errstate(invalid="ignore", over="ignore"):
            for b in np.unique(blocks):
                cols = blocks == b
                s = np.where(mask[..., cols], S[..., cols], -np.inf).astype(f32)
                m_new = np.maximum(m, s.max(axis=-1))
                ok = m_new > -np.inf                      # a fully masked block changes nothing
                shift = np.where(ok, m_new, f32(0))
                e = np.where(ok[..., None], cls.fexp_u20(s - shift[..., None]), f32(0)).astype(f32)
                alpha = np.where(ok, np.exp(m - shift), f32(1)).astype(f32)
                l = np.where(ok, e.sum(axis=-1, dtype=f32) + alpha * l, l).astype(f32)
                pv = bf16_round(e).astype(np.float64) @ V[:, cols].astype(np.float64)
                acc = np.where(ok[..., None], (acc * alpha[..., None]).astype(np.float64) + pv, acc).astype(f32)
                m = np.where(ok, m_new, m)
        return acc * (f32(1) / np.where(l == 0, f32(1), l))[..., None]

    def stage_attn_out(self, il, kqv_out, l_in):
        pfx = "blk.%d." % il
        o = self.mm(self._in(kqv_out), pfx + "attn_output.weight")
        o = self.rmsnorm(o, pfx + "post_attention_norm.weight")
        h1 = self.add(self._in(l_in), o)
        self._rec("attn_out-%d" % il, h1)
        return h1

    def _mlp(self, il, f):
        pfx = "blk.%d." % il
        g = self.mm(f, pfx + "ffn_gate.weight")
        u = self.mm(f, pfx + "ffn_up.weight")
        m = self.mul(self.gelu(g), u)
        return self.mm(m, pfx + "ffn_down.weight")

    def _moe(self, il, h1):
        """Router (spec 3.5 R1-R8) and experts (E1-E5). Returns d2 (after post_ffw_norm_2)."""
        c = self.cfg
        pfx = "blk.%d." % il
        T, H = h1.shape
        k = c.n_expert_used
        r = self.rmsnorm(h1, None)                                             # R1
        r = self.mul(r, self.weight(pfx + "ffn_gate_inp.scale"))               # R2
        r = self.scale(r, H ** -0.5)                                           # R3
        z = self.mm(r, pfx + "ffn_gate_inp.weight")                            # R4
        z64 = z.astype(np.float64)
        e = np.exp(z64 - z64.max(axis=-1, keepdims=True))
        p = self.F(e / e.sum(axis=-1, keepdims=True))                          # fp32 softmax
        bf = self.mode == "bf16" and not self.router_fp32
        if bf:
            p = bf16_round(p)                                                  # R5
        # R6: top-k; ties broken towards the lower expert id (implementation-defined)
        idx = np.argsort(-p.astype(np.float64), axis=-1, kind="stable")[:, :k]
        w = np.take_along_axis(p, idx, axis=-1)
        s = self.F(w.astype(np.float64).sum(axis=-1, keepdims=True))
        if bf:
            s = bf16_round(s)
        w = self.F(self.F(w) / s)                                              # R7
        if bf:
            w = bf16_round(w)
        pes = self.weight(pfx + "ffn_down_exps.scale") if self.has(pfx + "ffn_down_exps.scale") \
            else np.ones(c.n_expert, dtype=self.dtype)
        w = self.F(self.F(w) * self.F(pes[idx]))                               # R8
        if bf:
            w = bf16_round(w)
        self._rec("moe_weights-%d" % il, w)
        self._rec("moe_ids-%d" % il, idx.astype(np.float32))
        x2 = self.rmsnorm(h1, pfx + "pre_ffw_norm_2.weight")
        fused = self.has(pfx + "ffn_gate_up_exps.weight")
        I = c.n_ff_exp
        contrib = np.zeros((T, k, H), dtype=self.dtype)
        for ex in range(c.n_expert):
            tok, slot = np.nonzero(idx == ex)
            if tok.size == 0:
                continue
            xe = x2[tok]
            if fused:
                Wgu = self._expert_w(pfx + "ffn_gate_up_exps.weight", ex)
                gu = self.R(xe.astype(np.float64) @ Wgu.T)                     # E1
                gate, up = gu[:, :I], gu[:, I:]
            else:
                gate = self.R(xe.astype(np.float64) @ self._expert_w(pfx + "ffn_gate_exps.weight", ex).T)
                up = self.R(xe.astype(np.float64) @ self._expert_w(pfx + "ffn_up_exps.weight", ex).T)
            y = self.mul(self.gelu(gate), up)                                  # E2
            y = self.R(y.astype(np.float64) @ self._expert_w(pfx + "ffn_down_exps.weight", ex).T)
            # E3: with bf16 routing weights (router_fp32=False) the product is a bf16 op and
            # rounds; with fp32 weights (transformers >= 5.13) type promotion keeps it fp32.
            y = self.F(y) * self.F(w[tok, slot])[:, None]
            y = self.F(y) if self.router_fp32 else self.R(y)
            contrib[tok, slot] = y
        if self.experts == "eager" and self.mode != "float64":
            out = np.zeros((T, H), dtype=self.dtype)
            for ex in range(c.n_expert):                                       # ascending id
                tok, slot = np.nonzero(idx == ex)
                if tok.size:
                    out[tok] = self.add(out[tok], contrib[tok, slot])
        else:
            out = self.R(self.F(contrib.astype(np.float64).sum(axis=1)))       # E4 grouped_mm
        return self.rmsnorm(out, pfx + "post_ffw_norm_2.weight")               # E5

    def _expert_w(self, name, ex):
        key = (name, ex)
        w = self._w64.get(key)
        if w is None:
            w = self.weight(name)[ex].astype(np.float64)
            self._w64[key] = w
        return w

    def is_moe(self, il):
        return self.has("blk.%d.ffn_gate_inp.weight" % il)

    def stage_ffn(self, il, attn_out):
        pfx = "blk.%d." % il
        h1 = self._in(attn_out)
        f = self.rmsnorm(h1, pfx + "ffn_norm.weight")
        d = self._mlp(il, f)
        if self.is_moe(il):
            d1 = self.rmsnorm(d, pfx + "post_ffw_norm_1.weight")
            d2 = self._moe(il, h1)
            d = self.add(d1, d2)
        d = self.rmsnorm(d, pfx + "post_ffw_norm.weight")
        h2 = self.add(h1, d)
        self._rec("ffn_out-%d" % il, h2)
        return h2

    def stage_ple_and_scalar(self, il, ffn_out, per_layer_inp_N=None):
        pfx = "blk.%d." % il
        h = self._in(ffn_out)
        if self.cfg.n_ple and self.has(pfx + "inp_gate.weight"):
            z = self.mm(h, pfx + "inp_gate.weight")
            z = self.gelu(z)
            z = self.mul(z, self._in(per_layer_inp_N))
            z = self.mm(z, pfx + "proj.weight")
            z = self.rmsnorm(z, pfx + "post_norm.weight")
            h = self.add(h, z)
        if self.has(pfx + "layer_output_scale.weight"):
            h = self.mul(h, self.weight(pfx + "layer_output_scale.weight"))
        self._rec("l_out-%d" % il, h)
        return h

    def stage_output(self, l_out_last):
        y = self.rmsnorm(self._in(l_out_last), "output_norm.weight")
        self._rec("result_norm", y)
        W = "output.weight" if self.has("output.weight") else "token_embd.weight"
        z = self.mm(y, W)
        cap = self.cfg.softcap
        if cap:
            if self.mode == "float64":
                z = cap * np.tanh(z / cap)
            else:
                z = self.R(self.F(z) / self.S(cap))
                z = self.R(np.tanh(z.astype(np.float64)))
                z = self.scale(z, cap)
        self._rec("result_output", z)
        return z

    # ----------------------------------------------------------------------- driver
    def _step(self, tokens):
        c = self.cfg
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        T = len(tokens)
        pos = np.arange(self.n_past, self.n_past + T)
        self.intermediates = {}
        x = self.embed(tokens)
        ple = self.ple_inputs(tokens, x)
        P = c.n_ple
        for il in range(c.n_layer):
            l_in = x
            q, k, v = self.stage_qkv(il, l_in, pos)
            if k is not None:
                ent = self.kv.setdefault(il, {"K": np.zeros((0, k.shape[1]), self.dtype),
                                              "V": np.zeros((0, v.shape[1]), self.dtype),
                                              "pos": np.zeros(0, np.int64)})
                ent["K"] = np.concatenate([ent["K"], k])
                ent["V"] = np.concatenate([ent["V"], v])
                ent["pos"] = np.concatenate([ent["pos"], pos])
            src = self.kv[c.kv_source(il)]
            o = self.stage_attention_core(il, q, src["K"], src["V"], pos, src["pos"])
            h1 = self.stage_attn_out(il, o, l_in)
            h2 = self.stage_ffn(il, h1)
            x = self.stage_ple_and_scalar(il, h2, ple[:, il * P:(il + 1) * P] if ple is not None else None)
        logits = self.stage_output(x)
        self.n_past += T
        return logits

    def forward(self, tokens):
        """Full sequence at positions 0..T-1 (resets the KV cache). Returns logits [T, V]."""
        self.reset()
        return self._step(tokens)

    def prefill(self, tokens):
        return self.forward(tokens)

    def decode(self, tokens):
        """Continue from the KV cache: tokens get positions n_past, n_past+1, ..."""
        return self._step(np.atleast_1d(tokens))

    # ----------------------------------------------------------------------- dump
    def dump(self, outdir, tokens=None, names=None):
        """Write intermediates as DIR/<name>.bin (float32, row-major) + DIR/index.json."""
        write_dump(outdir, self.intermediates if names is None else
                   {n: self.intermediates[n] for n in names}, tokens)


def write_dump(outdir, tensors, tokens=None):
    os.makedirs(outdir, exist_ok=True)
    index = {}
    for name, x in tensors.items():
        if name.startswith("moe_"):
            continue
        a = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        a = a.reshape(a.shape[0], -1)
        a.astype("<f4").tofile(os.path.join(outdir, name + ".bin"))
        index[name] = [int(a.shape[0]), int(a.shape[1])]
    with open(os.path.join(outdir, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
    if tokens is not None:
        with open(os.path.join(outdir, "tokens.json"), "w") as f:
            json.dump([int(t) for t in tokens], f)


def read_dump(dumpdir):
    with open(os.path.join(dumpdir, "index.json")) as f:
        index = json.load(f)
    out = {}
    for name, (n, w) in index.items():
        a = np.fromfile(os.path.join(dumpdir, name + ".bin"), dtype="<f4")
        if a.size != n * w:
            raise ValueError("%s: %d values, index says %dx%d" % (name, a.size, n, w))
        out[name] = a.reshape(n, w).astype(np.float32)
    tokens = None
    tp = os.path.join(dumpdir, "tokens.json")
    if os.path.exists(tp):
        with open(tp) as f:
            tokens = json.load(f)
    return out, tokens


def parse_tokens(s):
    return [int(t) for t in s.replace(",", " ").split()]


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="NumPy reference forward pass of a Gemma 4 GGUF")
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", default="2,10,11,12,13,14,15,16", help="comma separated token ids")
    ap.add_argument("--mode", default="float64", choices=Gemma4Reference.MODES)
    ap.add_argument("--attention", default="sdpa", choices=["sdpa", "exact", "eager"])
    ap.add_argument("--experts", default="grouped_mm", choices=["grouped_mm", "eager"])
    ap.add_argument("--router-fp32", action="store_true")
    ap.add_argument("--dump", help="write every named intermediate to this directory")
    ap.add_argument("--top", type=int, default=5)
    a = ap.parse_args(argv)
    ref = Gemma4Reference(a.model, mode=a.mode, attention=a.attention, experts=a.experts,
                          router_fp32=a.router_fp32)
    toks = parse_tokens(a.tokens)
    logits = ref.forward(toks)
    last = logits[-1].astype(np.float64)
    top = np.argsort(-last, kind="stable")[: a.top]
    print("mode %s, %d tokens, vocab %d" % (a.mode, len(toks), logits.shape[1]))
    print("last-token top-%d: %s" % (a.top, ", ".join("%d (%.4f)" % (t, last[t]) for t in top)))
    if a.dump:
        ref.dump(a.dump, tokens=toks)
        print("wrote %d intermediates to %s" % (len(ref.intermediates), a.dump))


if __name__ == "__main__":
    main()

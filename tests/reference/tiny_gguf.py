"""Test helpers: a minimal GGUF writer and tiny random Gemma 4 models (numpy only).

The models are deliberately small (H=64, head dims 32 / 64, window 8) and use weight
scales that keep the network well conditioned (q/k norm weights ~0.5, so attention
scores have std ~1-2), so that bf16-vs-float64 differences stay at the bf16 noise level.
They cover: sliding + full layers with their head dims, proportional RoPE with
rope_freqs, KV-sharing tail, per-layer embeddings, double-wide FFN array, head_count_kv
array, k_eq_v full layers (no attn_v), MoE with fused gate_up experts, layer scalars,
final softcap.
"""

import struct

import numpy as np

from gguf_reader import (T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32,
                         T_BOOL, T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64, GGML_TYPE_ID,
                         GGML_TYPES)

_FMT = {T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h", T_UINT32: "<I",
        T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?", T_UINT64: "<Q", T_INT64: "<q",
        T_FLOAT64: "<d"}


def _enc_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _enc_value(t, v, et=None):
    if t == T_STRING:
        return _enc_str(v)
    if t == T_ARRAY:
        out = struct.pack("<IQ", et, len(v))
        if et == T_ARRAY:
            # nested: v is a list of (elem_type, list)
            for sub_et, sub in v:
                out += _enc_value(T_ARRAY, sub, sub_et)
            return out
        for x in v:
            out += _enc_value(et, x)
        return out
    return struct.pack(_FMT[t], v)


def write_gguf(path, metadata, tensors, alignment=32, version=3):
    """metadata: list of (key, type, value[, elem_type]);
    tensors: list of (name, ne(list), type_name, raw bytes)."""
    kv = []
    has_align = any(m[0] == "general.alignment" for m in metadata)
    md = list(metadata)
    if alignment != 32 and not has_align:
        md.insert(0, ("general.alignment", T_UINT32, alignment))
    for m in md:
        key, t, v = m[0], m[1], m[2]
        et = m[3] if len(m) > 3 else None
        kv.append(_enc_str(key) + struct.pack("<I", t) + _enc_value(t, v, et))
    infos = []
    off = 0
    blobs = []
    for name, ne, tname, raw in tensors:
        tid = GGML_TYPE_ID[tname]
        infos.append(_enc_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
                     + struct.pack("<IQ", tid, off))
        blobs.append((off, raw))
        off += (len(raw) + alignment - 1) // alignment * alignment
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(md)) + b"".join(kv) + b"".join(infos)
    pad = (-len(head)) % alignment
    with open(path, "wb") as f:
        f.write(head + b"\0" * pad)
        pos = 0
        for o, raw in blobs:
            f.write(b"\0" * (o - pos))
            f.write(raw)
            pos = o + len(raw)


def f32_tensor(name, arr):
    """numpy array of shape (..., in) -> GGUF F32 tensor with ne reversed."""
    a = np.ascontiguousarray(arr, dtype="<f4")
    return (name, list(reversed(a.shape)), "F32", a.tobytes())


# ---------------------------------------------------------------------------------------
# tiny models

def tiny_config(kind):
    base = dict(H=64, L=6, nh=2, hd_swa=32, hd_full=64, window=8, vocab=256,
                swa=[True, True, True, False, True, False], eps=1e-6, softcap=30.0,
                base_swa=10000.0, base_full=1e6)
    if kind == "dense_ple":        # E2B-like
        base.update(nkv=[1] * 6, ff=[96, 96, 96, 192, 192, 192], ple=16, shared=2, keqv=False,
                    moe=False)
    elif kind == "moe":            # 26B-A4B-like
        base.update(nkv=[2, 2, 2, 1, 2, 1], ff=[48] * 6, ple=0, shared=0, keqv=True, moe=True,
                    E=8, k=3, ff_exp=32)
    elif kind == "dense_keqv":     # 31B-like
        base.update(nkv=[2, 2, 2, 1, 2, 1], ff=[128] * 6, ple=0, shared=0, keqv=True, moe=False)
    else:
        raise ValueError(kind)
    return base


def make_tiny_model(path, kind="dense_ple", seed=0):
    c = tiny_config(kind)
    rng = np.random.default_rng(seed)
    H, L, nh, V = c["H"], c["L"], c["nh"], c["vocab"]

    def mat(out, inp, gain=1.0):
        return (rng.standard_normal((out, inp)) * gain / np.sqrt(inp)).astype(np.float32)

    def normw(n, center=1.0, spread=0.1):
        return (center + spread * rng.standard_normal(n)).astype(np.float32)

    md = [
        ("general.architecture", T_STRING, "gemma4"),
        ("general.name", T_STRING, "tiny-" + kind),
        ("gemma4.context_length", T_UINT32, 256),
        ("gemma4.embedding_length", T_UINT32, H),
        ("gemma4.block_count", T_UINT32, L),
        ("gemma4.attention.head_count", T_UINT32, nh),
        ("gemma4.attention.key_length", T_UINT32, c["hd_full"]),
        ("gemma4.attention.value_length", T_UINT32, c["hd_full"]),
        ("gemma4.attention.key_length_swa", T_UINT32, c["hd_swa"]),
        ("gemma4.attention.value_length_swa", T_UINT32, c["hd_swa"]),
        ("gemma4.rope.dimension_count", T_UINT32, c["hd_full"]),
        ("gemma4.rope.dimension_count_swa", T_UINT32, c["hd_swa"]),
        ("gemma4.rope.freq_base", T_FLOAT32, c["base_full"]),
        ("gemma4.rope.freq_base_swa", T_FLOAT32, c["base_swa"]),
        ("gemma4.attention.layer_norm_rms_epsilon", T_FLOAT32, c["eps"]),
        ("gemma4.attention.sliding_window", T_UINT32, c["window"]),
        ("gemma4.attention.sliding_window_pattern", T_ARRAY, c["swa"], T_BOOL),
        ("gemma4.attention.shared_kv_layers", T_UINT32, c["shared"]),
        ("gemma4.embedding_length_per_layer_input", T_UINT32, c["ple"]),
        ("gemma4.final_logit_softcapping", T_FLOAT32, c["softcap"]),
    ]
    if len(set(c["ff"])) == 1:
        md.append(("gemma4.feed_forward_length", T_UINT32, c["ff"][0]))
    else:
        md.append(("gemma4.feed_forward_length", T_ARRAY, c["ff"], T_INT32))
    if len(set(c["nkv"])) == 1:
        md.append(("gemma4.attention.head_count_kv", T_UINT32, c["nkv"][0]))
    else:
        md.append(("gemma4.attention.head_count_kv", T_ARRAY, c["nkv"], T_INT32))
    if c["moe"]:
        md += [("gemma4.expert_count", T_UINT32, c["E"]),
               ("gemma4.expert_used_count", T_UINT32, c["k"]),
               ("gemma4.expert_feed_forward_length", T_UINT32, c["ff_exp"])]

    ts = []
    ts.append(f32_tensor("token_embd.weight", rng.standard_normal((V, H)).astype(np.float32) * 0.5 / np.sqrt(H) * 4))
    ts.append(f32_tensor("output_norm.weight", normw(H)))
    npairs = c["hd_full"] // 2
    nrot = int(0.25 * c["hd_full"] // 2)
    ts.append(f32_tensor("rope_freqs.weight", np.array([1.0] * nrot + [1e30] * (npairs - nrot), np.float32)))
    P = c["ple"]
    if P:
        ts.append(f32_tensor("per_layer_token_embd.weight", rng.standard_normal((V, L * P)).astype(np.float32) * 0.1))
        ts.append(f32_tensor("per_layer_model_proj.weight", mat(L * P, H)))
        ts.append(f32_tensor("per_layer_proj_norm.weight", normw(P)))
    first_shared = L - c["shared"]
    for il in range(L):
        p = "blk.%d." % il
        hd = c["hd_swa"] if c["swa"][il] else c["hd_full"]
        nkv = c["nkv"][il]
        ts.append(f32_tensor(p + "attn_norm.weight", normw(H)))
        ts.append(f32_tensor(p + "attn_q.weight", mat(nh * hd, H)))
        ts.append(f32_tensor(p + "attn_q_norm.weight", normw(hd, 0.5, 0.05)))
        if il < first_shared:
            ts.append(f32_tensor(p + "attn_k.weight", mat(nkv * hd, H)))
            ts.append(f32_tensor(p + "attn_k_norm.weight", normw(hd, 0.5, 0.05)))
            if not (c["keqv"] and not c["swa"][il]):
                ts.append(f32_tensor(p + "attn_v.weight", mat(nkv * hd, H)))
        ts.append(f32_tensor(p + "attn_output.weight", mat(H, nh * hd)))
        ts.append(f32_tensor(p + "post_attention_norm.weight", normw(H)))
        ts.append(f32_tensor(p + "ffn_norm.weight", normw(H)))
        ff = c["ff"][il]
        ts.append(f32_tensor(p + "ffn_gate.weight", mat(ff, H)))
        ts.append(f32_tensor(p + "ffn_up.weight", mat(ff, H)))
        ts.append(f32_tensor(p + "ffn_down.weight", mat(H, ff)))
        ts.append(f32_tensor(p + "post_ffw_norm.weight", normw(H)))
        if c["moe"]:
            E, I = c["E"], c["ff_exp"]
            ts.append(f32_tensor(p + "ffn_gate_inp.weight", mat(E, H, 4.0)))
            ts.append(f32_tensor(p + "ffn_gate_inp.scale", normw(H)))
            ts.append(f32_tensor(p + "pre_ffw_norm_2.weight", normw(H)))
            ts.append(f32_tensor(p + "post_ffw_norm_1.weight", normw(H)))
            ts.append(f32_tensor(p + "post_ffw_norm_2.weight", normw(H)))
            gu = (rng.standard_normal((E, 2 * I, H)) / np.sqrt(H)).astype(np.float32)
            ts.append(f32_tensor(p + "ffn_gate_up_exps.weight", gu))
            dn = (rng.standard_normal((E, H, I)) / np.sqrt(I)).astype(np.float32)
            ts.append(f32_tensor(p + "ffn_down_exps.weight", dn))
            ts.append(f32_tensor(p + "ffn_down_exps.scale", normw(E, 1.0, 0.2)))
        if P:
            ts.append(f32_tensor(p + "inp_gate.weight", mat(P, H)))
            ts.append(f32_tensor(p + "proj.weight", mat(H, P)))
            ts.append(f32_tensor(p + "post_norm.weight", normw(H)))
        ts.append(f32_tensor(p + "layer_output_scale.weight",
                             np.array([0.6 + 0.4 * rng.random()], np.float32)))
    write_gguf(path, md, ts)
    return c

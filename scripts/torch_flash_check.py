#!/usr/bin/env python3
"""Checks docs/attention.md section 1 against the installed torch: a NumPy emulation of the CPU
flash-attention algorithm (key blocks of 512, bf16 fexp_u20(S - m) before P.V, fp32 sum of the
unrounded exps, acc * (1/l)) against F.scaled_dot_product_attention in bf16, with an exact
softmax for contrast. Needs torch (optional; /opt/venv/bin/python). Prints the share of
output elements that differ."""
import os, sys
import torch, numpy as np, torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from gemma4_ref import Gemma4Reference  # noqa: E402  (fexp_u20: torch's fast exp, docs/attention.md)
torch.manual_seed(0)
def bf(x): return torch.from_numpy(np.asarray(x, np.float32)).bfloat16().float().numpy()
def flash_ref(q, k, v, mask, kv_split=512):
    # q [H,T,D] f32 (bf16 values), k,v [H,S,D], mask [T,S] bool
    H, T, D = q.shape; S = k.shape[1]
    out = np.zeros((H, T, D), np.float32)
    for h in range(H):
        Sfull = (q[h].astype(np.float32) @ k[h].T.astype(np.float32)).astype(np.float32)
        m = np.full(T, -np.inf, np.float32); l = np.zeros(T, np.float32); acc = np.zeros((T, D), np.float32)
        for n in range(0, S, kv_split):
            s = np.where(mask[:, n:n+kv_split], Sfull[:, n:n+kv_split], -np.inf).astype(np.float32)
            bm = np.maximum(m, s.max(axis=1))
            ok = bm > -np.inf
            e = np.where(ok[:, None], Gemma4Reference.fexp_u20(s - np.where(ok, bm, 0)[:, None]), 0).astype(np.float32)
            alpha = np.where(ok, np.exp(m - np.where(ok, bm, 0)), 0).astype(np.float32)
            l = np.where(ok, e.sum(axis=1, dtype=np.float32) + alpha * l, l).astype(np.float32)
            acc = np.where(ok[:, None], acc * alpha[:, None], acc).astype(np.float32)
            acc = (acc + bf(e) @ v[h, n:n+kv_split]).astype(np.float32)
            m = np.where(ok, bm, m)
        out[h] = acc * (np.float32(1) / l)[:, None]
    return bf(out)
def exact(q, k, v, mask):
    s = np.einsum('htd,hsd->hts', q.astype(np.float64), k.astype(np.float64))
    s = np.where(mask[None], s, -np.inf); s -= s.max(-1, keepdims=True); e = np.exp(s)
    p = (e / e.sum(-1, keepdims=True)).astype(np.float32)
    return bf(p.astype(np.float64) @ v.astype(np.float64))
for T, D, win in ((40, 256, 16), (1500, 256, 512), (1500, 512, 0), (700, 256, 0)):
    nh, nkv = 4, 2
    q = torch.randn(1, nh, T, D).bfloat16() * 3; k = torch.randn(1, nkv, T, D).bfloat16()*2; v = torch.randn(1, nkv, T, D).bfloat16()
    pos = torch.arange(T); mask = pos[None, :] <= pos[:, None]
    if win: mask &= pos[None, :] > pos[:, None] - win
    with torch.no_grad():
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[None, None], scale=1.0, enable_gqa=True).float().numpy()[0]
        oc = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0, enable_gqa=True).float().numpy()[0] if not win else None
    qn = q.float().numpy()[0]; kn = k.float().numpy()[0].repeat(nh // nkv, 0); vn = v.float().numpy()[0].repeat(nh//nkv, 0)
    mk = mask.numpy()
    fr = flash_ref(qn, kn, vn, mk); ex = exact(qn, kn, vn, mk)
    print(T, D, win, "flash-emul differs %.4f%%" % (100*np.mean(fr != o)), "exact differs %.3f%%" % (100*np.mean(ex != o)),
          "" if oc is None else "causal-vs-mask differs %.4f%%" % (100*np.mean(oc != o)))

#!/usr/bin/env python3
"""Measures the exp inside torch's CPU flash attention (docs/attention.md section 2): one query
per batch row, q = e_0 and key j's first element x_j (bf16, so every score is exact), key 0 at
x = 0 and all others at x in [-87, -30], so the row sum l is exactly 1 and the output for
V = identity is torch's P_j = bf16(exp(x_j)) itself. Prints how often that differs from
bf16 of the exact exp, in which direction, and how far the exact value was from the bf16
rounding midpoint where they differ (the size of torch's exp error), and how often it differs
from the NumPy reference's emulation of torch's fexp_u20 (docs/attention.md: 0 expected).
Needs torch (optional; /opt/venv/bin/python)."""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from gemma4_ref import Gemma4Reference  # noqa: E402


def bf(x):
    return torch.from_numpy(np.asarray(x, np.float32)).bfloat16().float().numpy()


T = D = 512
rng = np.random.default_rng(1)
xs = bf(-30 - 57 * rng.random((T, T)))
xs[:, 0] = 0.0
q = torch.zeros(T, 1, 1, D)
q[:, 0, 0, 0] = 1.0
k = torch.zeros(T, 1, T, D)
k[:, 0, :, 0] = torch.from_numpy(xs)
v = torch.eye(T, D)[None, None].expand(T, 1, T, D).contiguous()
with torch.no_grad():
    o = F.scaled_dot_product_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), scale=1.0).float().numpy()[:, 0, 0, :T]
assert np.all(o[:, 0] == 1), "the row sum is not 1: the probe's premise fails"
ex = np.exp(xs.astype(np.float64))
exact = bf(ex.astype(np.float32))
diff = exact != o
diff[:, 0] = False
bits = ex.astype(np.float32).view(np.uint32)
mid = ((bits & 0xFFFF0000) | 0x8000).view(np.float32).astype(np.float64)
rel = np.abs(ex - mid) / ex
print("torch %s, cpu capability %s" % (torch.__version__, torch.backends.cpu.get_cpu_capability()))
print("P = bf16(exp(x)) differs from bf16(exact exp) in %.3f%% of %d keys" % (100 * diff.mean(), diff[:, 1:].size))
if diff.any():
    print("torch above exact in %.1f%% of those; exact value within %.2e (median) / %.2e (max) relative of the midpoint"
          % (100 * np.mean(o[diff] > exact[diff]), np.median(rel[diff]), rel[diff].max()))
emulated = bf(Gemma4Reference.fexp_u20(xs))
print("P differs from bf16(fexp_u20 emulation) in %.4f%% of keys" % (100 * np.mean((emulated != o)[:, 1:])))

"""Compare a dump of named intermediates against the NumPy reference.

Metrics: NMSE = mean((x - ref)^2) / var(ref), max abs diff, top-1 agreement (logits).

Dump format (what the runtime writes, and what `gemma4_ref.py --dump DIR` writes):
    DIR/index.json      {name: [n_tokens, width]}
    DIR/<name>.bin      raw little-endian float32, row-major [n_tokens, width]
    DIR/tokens.json     optional: the token ids (a JSON list); needed for the embedding
                        stages and for the free-running comparison
Positions are 0..n_tokens-1 (a prefill dump).

CLI:
    compare.py --model M.gguf --dump DIR [--mode bf16] [--attention sdpa|exact|eager] [--stages]
        without --stages: run the reference forward on tokens.json and compare every
                          intermediate the dump has;
        with --stages:    teacher-forced, per layer and stage: each stage is computed by the
                          reference from the dump's own inputs to that stage.
"""

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gemma4_ref import Gemma4Reference, read_dump  # noqa: E402


def nmse(x, ref):
    x = np.asarray(x, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    err = np.mean((x - ref) ** 2)
    v = np.var(ref)
    if v == 0:
        return 0.0 if err == 0 else math.inf
    return float(err / v)


def max_abs(x, ref):
    return float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(ref, np.float64)))) if np.size(ref) else 0.0


def top1_agreement(logits, ref_logits):
    a = np.argmax(np.asarray(logits, np.float64), axis=-1)
    b = np.argmax(np.asarray(ref_logits, np.float64), axis=-1)
    return float(np.mean(a == b))


def metrics(x, ref):
    return {"nmse": nmse(x, ref), "max_abs": max_abs(x, ref)}


def compare_stages(ref, dump, tokens=None):
    """Teacher-forced comparison. Returns a list of rows
    (layer or '-', stage, tensor name, nmse, max_abs) for every output the dump has and
    whose inputs the dump (or tokens) provides."""
    rows = []
    c = ref.cfg
    some = next(iter(dump.values()))
    T = some.shape[0]
    pos = np.arange(T)
    ref.record = False

    def row(layer, stage, name, out):
        if name in dump and out is not None:
            m = metrics(dump[name], out)
            rows.append((layer, stage, name, m["nmse"], m["max_abs"]))

    try:
        if tokens is not None:
            x0 = ref.embed(tokens)
            row("-", "embed", "inp_scaled", x0)
            if c.n_ple:
                ple = ref.ple_inputs(tokens, dump.get("inp_scaled", x0))
                P = c.n_ple
                for il in range(c.n_layer):
                    row(il, "ple_inputs", "per_layer_inp-%d" % il, ple[:, il * P:(il + 1) * P])
        for il in range(c.n_layer):
            l_in_name = "inp_scaled" if il == 0 else "l_out-%d" % (il - 1)
            if l_in_name in dump:
                q, k, v = ref.stage_qkv(il, dump[l_in_name], pos)
                row(il, "qkv", "Qcur-%d" % il, q)
                row(il, "qkv", "Kcur-%d" % il, k)
                row(il, "qkv", "Vcur-%d" % il, v)
            src = c.kv_source(il)
            qn, kn, vn = "Qcur-%d" % il, "Kcur-%d" % src, "Vcur-%d" % src
            if qn in dump and kn in dump and vn in dump:
                o = ref.stage_attention_core(il, dump[qn], dump[kn], dump[vn], pos, pos)
                row(il, "attention", "kqv_out-%d" % il, o)
            if "kqv_out-%d" % il in dump and l_in_name in dump:
                h1 = ref.stage_attn_out(il, dump["kqv_out-%d" % il], dump[l_in_name])
                row(il, "attn_out", "attn_out-%d" % il, h1)
            if "attn_out-%d" % il in dump:
                h2 = ref.stage_ffn(il, dump["attn_out-%d" % il])
                row(il, "ffn", "ffn_out-%d" % il, h2)
            pn = "per_layer_inp-%d" % il
            if "ffn_out-%d" % il in dump and (not c.n_ple or pn in dump):
                lo = ref.stage_ple_and_scalar(il, dump["ffn_out-%d" % il], dump.get(pn))
                row(il, "ple_scalar", "l_out-%d" % il, lo)
        last = "l_out-%d" % (c.n_layer - 1)
        if last in dump:
            z = ref.stage_output(dump[last])
            row("-", "output", "result_output", z)
            if "result_norm" in dump:
                row("-", "output", "result_norm",
                    ref.rmsnorm(ref._in(dump[last]), "output_norm.weight"))
            if "result_output" in dump:
                rows.append(("-", "output", "top1", top1_agreement(dump["result_output"], z), float("nan")))
    finally:
        ref.record = True
    return rows


def compare_forward(ref, dump, tokens):
    """Free-running: reference forward on tokens, compare every common intermediate."""
    ref.forward(tokens)
    rows = []
    for name, x in dump.items():
        if name in ref.intermediates:
            m = metrics(x, ref.intermediates[name])
            rows.append((name, m["nmse"], m["max_abs"]))
    if "result_output" in dump:
        rows.append(("top1", top1_agreement(dump["result_output"], ref.intermediates["result_output"]), float("nan")))
    return rows


def _layer_key(name):
    if "-" in name and name.rsplit("-", 1)[1].isdigit():
        base, n = name.rsplit("-", 1)
        return (int(n), base)
    return (-1 if name in ("inp_scaled",) else 10 ** 9, name)


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--dump", required=True)
    ap.add_argument("--mode", default="float64", choices=Gemma4Reference.MODES)
    ap.add_argument("--attention", default="sdpa", choices=["sdpa", "exact", "eager"])
    ap.add_argument("--experts", default="grouped_mm", choices=["grouped_mm", "eager"])
    ap.add_argument("--router-fp32", action="store_true")
    ap.add_argument("--weights-as-stored", action="store_true",
                    help="bf16 mode: use the file's weights as stored instead of rounding them")
    ap.add_argument("--stages", action="store_true", help="teacher-forced per-layer, per-stage table")
    ap.add_argument("--threshold", type=float, default=None,
                    help="exit 1 if any NMSE exceeds this value")
    a = ap.parse_args(argv)
    ref = Gemma4Reference(a.model, mode=a.mode, attention=a.attention, experts=a.experts,
                          router_fp32=a.router_fp32, round_weights=not a.weights_as_stored)
    dump, tokens = read_dump(a.dump)
    worst = 0.0
    if a.stages:
        rows = compare_stages(ref, dump, tokens)
        print("%-6s %-11s %-20s %12s %12s" % ("layer", "stage", "tensor", "NMSE", "max|diff|"))
        for layer, stage, name, e, mx in rows:
            if name == "top1":
                print("%-6s %-11s %-20s %12.4f" % (layer, stage, "top-1 agreement", e))
                continue
            worst = max(worst, e)
            print("%-6s %-11s %-20s %12.3e %12.3e" % (layer, stage, name, e, mx))
    else:
        if tokens is None:
            print("error: %s has no tokens.json; use --stages" % a.dump, file=sys.stderr)
            return 2
        rows = compare_forward(ref, dump, tokens)
        rows.sort(key=lambda r: _layer_key(r[0]))
        print("%-20s %12s %12s" % ("tensor", "NMSE", "max|diff|"))
        for name, e, mx in rows:
            if name == "top1":
                print("%-20s %12.4f" % ("top-1 agreement", e))
                continue
            worst = max(worst, e)
            print("%-20s %12.3e %12.3e" % (name, e, mx))
    print("worst NMSE %.3e (mode %s, attention %s)" % (worst, a.mode, a.attention))
    if a.threshold is not None and worst > a.threshold:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

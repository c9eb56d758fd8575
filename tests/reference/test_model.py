"""The reference model: decode consistency, long prompts, bf16 vs float64, bf16
representability, stage functions vs the full forward, dump + compare round trip."""
import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gemma4_ref import Gemma4Reference, bf16_round, is_bf16_representable, read_dump, write_dump  # noqa: E402
from tiny_gguf import make_tiny_model  # noqa: E402
from synth_util import synth_binary, synth  # noqa: E402
import compare  # noqa: E402

KINDS = ("dense_ple", "moe", "dense_keqv")
_TMP = tempfile.TemporaryDirectory()
_PATHS = {}


def model_path(kind):
    if kind not in _PATHS:
        p = os.path.join(_TMP.name, kind + ".gguf")
        make_tiny_model(p, kind, seed=11)
        _PATHS[kind] = p
    return _PATHS[kind]


def tokens(n, seed=0, vocab=256):
    return np.random.default_rng(seed).integers(0, vocab, n)


def stage_replay(test, ref, toks):
    """Run the stage functions on the forward's own intermediates; they must match exactly."""
    ref.forward(toks)
    I = dict(ref.intermediates)
    c = ref.cfg
    T = len(toks)
    pos = np.arange(T)
    ref.record = False
    try:
        eq = np.testing.assert_array_equal
        eq(ref.embed(toks), I["inp_scaled"])
        ple = ref.ple_inputs(toks, I["inp_scaled"])
        for il in range(c.n_layer):
            if c.n_ple:
                eq(ple[:, il * c.n_ple:(il + 1) * c.n_ple], I["per_layer_inp-%d" % il])
            l_in = I["inp_scaled"] if il == 0 else I["l_out-%d" % (il - 1)]
            q, k, v = ref.stage_qkv(il, l_in, pos)
            eq(q, I["Qcur-%d" % il])
            if k is not None:
                eq(k, I["Kcur-%d" % il])
                eq(v, I["Vcur-%d" % il])
            else:
                test.assertNotIn("Kcur-%d" % il, I)
            src = c.kv_source(il)
            o = ref.stage_attention_core(il, I["Qcur-%d" % il], I["Kcur-%d" % src], I["Vcur-%d" % src], pos, pos)
            eq(o, I["kqv_out-%d" % il])
            eq(ref.stage_attn_out(il, I["kqv_out-%d" % il], l_in), I["attn_out-%d" % il])
            eq(ref.stage_ffn(il, I["attn_out-%d" % il]), I["ffn_out-%d" % il])
            eq(ref.stage_ple_and_scalar(il, I["ffn_out-%d" % il], I.get("per_layer_inp-%d" % il)),
               I["l_out-%d" % il])
        eq(ref.stage_output(I["l_out-%d" % (c.n_layer - 1)]), I["result_output"])
    finally:
        ref.record = True
    return I


def nmse(a, b):
    return compare.nmse(a, b)


class TestTinyModels(unittest.TestCase):
    def test_structure(self):
        r = Gemma4Reference(model_path("dense_ple"))
        c = r.cfg
        self.assertEqual(c.first_shared, 4)
        self.assertEqual([c.kv_source(i) for i in range(6)], [0, 1, 2, 3, 2, 3])
        self.assertEqual(c.n_ff, [96, 96, 96, 192, 192, 192])
        m = Gemma4Reference(model_path("moe")).cfg
        self.assertEqual(m.n_head_kv, [2, 2, 2, 1, 2, 1])
        self.assertEqual(m.n_expert_used, 3)

    def test_decode_matches_full_float64(self):
        toks = tokens(21, 1)       # > 2 * window (8)
        for kind in KINDS:
            r = Gemma4Reference(model_path(kind), "float64")
            full = r.forward(toks)
            # prefix prefill, then one token at a time
            r.forward(toks[:5])
            rows = [r.intermediates["result_output"]]
            for t in toks[5:]:
                rows.append(r.decode([t]))
            step = np.concatenate(rows)
            np.testing.assert_allclose(step, full, rtol=0, atol=1e-11, err_msg=kind)
            # chunked prefill
            r.forward(toks[:3])
            parts = [r.intermediates["result_output"], r.decode(toks[3:12]), r.decode(toks[12:])]
            np.testing.assert_allclose(np.concatenate(parts), full, rtol=0, atol=1e-11, err_msg=kind)
            # the last token alone equals the prefix+token run
            self.assertEqual(r.n_past, len(toks))

    def test_decode_matches_full_bf16(self):
        toks = tokens(19, 2)
        for kind in ("dense_ple", "moe"):
            r = Gemma4Reference(model_path(kind), "bf16")
            full = r.forward(toks)
            r.forward(toks[:4])
            rows = [r.intermediates["result_output"]] + [r.decode([t]) for t in toks[4:]]
            step = np.concatenate(rows)
            # identical math row by row; allow a rare last-bit flip from BLAS blocking
            self.assertLess(nmse(step, full), 1e-6, kind)
            self.assertGreater(np.mean(step == full), 0.99, kind)

    def test_sliding_window_matters(self):
        # a long prompt: tokens outside the window must not influence a sliding layer
        toks = tokens(30, 3)
        r = Gemma4Reference(model_path("dense_keqv"), "float64")
        r.forward(toks)
        I = dict(r.intermediates)
        il = r.cfg.is_swa.index(True)
        W = r.cfg.window
        # change K/V rows far in the past: kqv_out of the last row is unchanged
        K = I["Kcur-%d" % il].copy()
        V = I["Vcur-%d" % il].copy()
        K[:len(toks) - W] += 1.0
        V[:len(toks) - W] += 1.0
        pos = np.arange(len(toks))
        o = r.stage_attention_core(il, I["Qcur-%d" % il], K, V, pos, pos)
        np.testing.assert_array_equal(o[-1], I["kqv_out-%d" % il][-1])
        self.assertFalse(np.array_equal(o[W - 1], I["kqv_out-%d" % il][W - 1]))
        # ... but they do influence a full layer
        jl = r.cfg.is_swa.index(False)
        K = I["Kcur-%d" % jl].copy()
        K[0] += 1.0
        o = r.stage_attention_core(jl, I["Qcur-%d" % jl], K, I["Vcur-%d" % jl], pos, pos)
        self.assertFalse(np.array_equal(o[-1], I["kqv_out-%d" % jl][-1]))

    def test_bf16_vs_float64(self):
        toks = tokens(20, 4)
        for kind in ("dense_ple", "dense_keqv"):
            a = Gemma4Reference(model_path(kind), "float64").forward(toks)
            for att in ("sdpa", "eager"):
                b = Gemma4Reference(model_path(kind), "bf16", attention=att).forward(toks)
                e = nmse(b, a)
                self.assertGreater(e, 1e-7, (kind, att))
                self.assertLess(e, 1e-2, (kind, att))
            f = Gemma4Reference(model_path(kind), "float32").forward(toks)
            self.assertLess(nmse(f, a), 1e-9, kind)
        # MoE: router flips make the whole-model gap larger; still bounded
        a = Gemma4Reference(model_path("moe"), "float64").forward(toks)
        b = Gemma4Reference(model_path("moe"), "bf16").forward(toks)
        self.assertLess(nmse(b, a), 0.3)

    def test_bf16_representable(self):
        toks = tokens(12, 5)
        for kind in KINDS:
            for kw in ({}, {"attention": "eager", "experts": "eager"}):
                r = Gemma4Reference(model_path(kind), "bf16", **kw)
                r.forward(toks[:7])
                r.decode(toks[7:])
                for name, w in r.held_tensors().items():
                    self.assertTrue(is_bf16_representable(w), name)
                for name, x in r.intermediates.items():
                    if name.startswith("moe_ids"):
                        continue
                    self.assertEqual(x.dtype, np.float32, name)
                    self.assertTrue(is_bf16_representable(x), name)
                for il, ent in r.kv.items():
                    self.assertTrue(is_bf16_representable(ent["K"]) and is_bf16_representable(ent["V"]), il)
                self.assertEqual(r.embed_scale, 8.0)           # bf16(sqrt(64))

    def test_stage_functions_reproduce_forward(self):
        toks = tokens(18, 6)
        for kind in KINDS:
            for mode, kw in (("float64", {}), ("bf16", {}), ("bf16", {"attention": "eager"}),
                             ("bf16", {"attention": "exact"}),
                             ("bf16", {"experts": "eager", "router_fp32": True}), ("float32", {})):
                with self.subTest(kind=kind, mode=mode, **kw):
                    stage_replay(self, Gemma4Reference(model_path(kind), mode, **kw), toks)

    def test_flash_attention_blocks(self):
        """The sdpa emulation (torch's flash kernel) on hand-made shapes: with every key in one
        512-block it is max, bf16(fexp_u20), fp32 sum, acc * (1/l); a fully masked block changes
        nothing; across blocks it differs from the exact softmax only by bf16-sized rounding;
        fexp_u20 is exp to 1.2e-4 relative."""
        rng = np.random.default_rng(3)
        bf = lambda x: bf16_round(np.asarray(x, np.float32))
        S = (rng.standard_normal((1, 3, 1100)) * 4).astype(np.float32)
        V = bf(rng.standard_normal((1, 1100, 8)))
        mask = np.ones((1, 3, 1100), bool)
        one = Gemma4Reference.flash_attention(S[..., :500], mask[..., :500], V[:, :500], np.arange(500))
        m = S[..., :500].max(-1, keepdims=True)
        e = Gemma4Reference.fexp_u20(S[..., :500] - m)
        want = (bf(e).astype(np.float64) @ V[:, :500]).astype(np.float32) * (np.float32(1) / e.sum(-1, dtype=np.float32))[..., None]
        np.testing.assert_allclose(one, want, rtol=1e-6, atol=0)   # numpy's sum orders differ by layout
        masked = mask.copy()
        masked[..., :600] = False
        full = Gemma4Reference.flash_attention(S, masked, V, np.arange(1100))
        tail = Gemma4Reference.flash_attention(S[..., 600:], masked[..., 600:], V[:, 600:], np.arange(600, 1100))
        np.testing.assert_array_equal(full, tail)
        x = np.linspace(-87, 0, 10001).astype(np.float32)
        rel = Gemma4Reference.fexp_u20(x) / np.exp(x.astype(np.float64)) - 1
        self.assertLess(np.abs(rel).max(), 1.2e-4)
        self.assertEqual(Gemma4Reference.fexp_u20(np.float32(-np.inf)), 0)
        got = Gemma4Reference.flash_attention(S, mask, V, np.arange(1100))
        P = np.exp(S.astype(np.float64) - S.max(-1, keepdims=True))
        exact = (P / P.sum(-1, keepdims=True)) @ V
        self.assertLess(nmse(got, exact), 1e-5)
        self.assertFalse(np.array_equal(bf(got), bf(exact)))

    def test_moe_options_differ_but_agree_closely(self):
        toks = tokens(16, 7)
        base = Gemma4Reference(model_path("moe"), "bf16")
        b = base.forward(toks)
        w = base.intermediates["moe_weights-0"]
        self.assertTrue(is_bf16_representable(w))
        for kw in ({"experts": "eager"}, {"router_fp32": True}):
            o = Gemma4Reference(model_path("moe"), "bf16", **kw).forward(toks)
            self.assertLess(nmse(o, b), 0.3, kw)

    def test_k_eq_v(self):
        r = Gemma4Reference(model_path("dense_keqv"), "float64")
        il = r.cfg.is_swa.index(False)
        self.assertFalse(r.has("blk.%d.attn_v.weight" % il))
        toks = tokens(5, 8)
        r.forward(toks)
        # V = unscaled rms-norm of the raw K projection
        a = r.intermediates["attn_norm-%d" % il]
        hd = r.cfg.head_dim(il)
        kraw = (a @ r.weight("blk.%d.attn_k.weight" % il).T).reshape(5, -1, hd)
        v = kraw / np.sqrt(np.mean(kraw ** 2, -1, keepdims=True) + r.cfg.eps)
        np.testing.assert_allclose(r.intermediates["Vcur-%d" % il], v.reshape(5, -1), atol=1e-12)

    def test_dump_and_compare(self):
        toks = tokens(17, 9)
        path = model_path("dense_ple")
        with tempfile.TemporaryDirectory() as d:
            r = Gemma4Reference(path, "bf16")
            r.forward(toks)
            r.dump(d, tokens=toks)
            dump, t2 = read_dump(d)
            self.assertEqual(list(t2), [int(t) for t in toks])
            self.assertEqual(dump["Qcur-0"].shape, r.intermediates["Qcur-0"].shape)
            # teacher-forced against itself: exactly zero everywhere
            rows = compare.compare_stages(Gemma4Reference(path, "bf16"), dump, list(toks))
            names = {row[2] for row in rows}
            for n in ("inp_scaled", "per_layer_inp-3", "Qcur-0", "Kcur-3", "kqv_out-5", "attn_out-2",
                      "ffn_out-4", "l_out-5", "result_output", "result_norm", "top1"):
                self.assertIn(n, names)
            for layer, stage, name, e, mx in rows:
                if name == "top1":
                    self.assertEqual(e, 1.0)
                else:
                    self.assertEqual(e, 0.0, name)
            # float64 reference against the bf16 dump: per-stage bf16 noise
            rows = compare.compare_stages(Gemma4Reference(path, "float64"), dump, list(toks))
            worst = max(r[3] for r in rows if r[2] != "top1")
            self.assertGreater(worst, 0.0)
            self.assertLess(worst, 1e-3)
            # CLI
            buf = io.StringIO()
            with redirect_stdout(buf):
                rc = compare.main(["--model", path, "--dump", d, "--mode", "bf16", "--stages", "--threshold", "0"])
            self.assertEqual(rc, 0)
            self.assertIn("kqv_out-5", buf.getvalue())
            with redirect_stdout(io.StringIO()):
                self.assertEqual(compare.main(["--model", path, "--dump", d, "--threshold", "1e-12"]), 1)
                self.assertEqual(compare.main(["--model", path, "--dump", d, "--mode", "bf16", "--threshold", "0"]), 0)
            # a partial dump (only some tensors) still compares what it can
            write_dump(os.path.join(d, "part"), {"attn_out-1": dump["attn_out-1"], "ffn_out-1": dump["ffn_out-1"]})
            pd, _ = read_dump(os.path.join(d, "part"))
            rows = compare.compare_stages(Gemma4Reference(path, "bf16"), pd)
            self.assertEqual([(r[0], r[2], r[3]) for r in rows], [(1, "ffn_out-1", 0.0)])


@unittest.skipIf(synth_binary() is None,
                 "gemma4c binary with 'synth' not found (build/bin/gemma4c); synthesizer-based tests skipped")
class TestSynthModels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.paths = {k: synth(k, "f32", os.path.join(cls.tmp.name, k + ".gguf"))
                     for k in ("tiny-e2b", "tiny-moe", "tiny-31b")}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_synth_models(self):
        for k, p in self.paths.items():
            with self.subTest(model=k):
                r = Gemma4Reference(p, "float64")          # also checks rope_freqs
                V = r.gguf.tensors["token_embd.weight"].shape[0]
                toks = tokens(2 * r.cfg.window + 3, 10, V)
                full = r.forward(toks)
                self.assertTrue(np.all(np.isfinite(full)))
                r.forward(toks[:6])
                step = np.concatenate([r.intermediates["result_output"]] + [r.decode([t]) for t in toks[6:]])
                np.testing.assert_allclose(step, full, rtol=0, atol=1e-10)
                stage_replay(self, Gemma4Reference(p, "bf16"), toks[:12])
                b = Gemma4Reference(p, "bf16").forward(toks)
                e = nmse(b, full)
                self.assertGreater(e, 0.0)
                self.assertTrue(np.isfinite(e))


if __name__ == "__main__":
    unittest.main()

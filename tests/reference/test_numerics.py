"""Hand-worked numerics: bf16 rounding, RMSNorm, GELU-tanh, RoPE (default + proportional)."""
import math
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gemma4_ref import Gemma4Reference, bf16_round, gelu_tanh, is_bf16_representable, rope_inv_freq  # noqa: E402
from tiny_gguf import make_tiny_model  # noqa: E402


def bits(x):
    return int(np.asarray(x, np.float32).view(np.uint32))


def from_bits(b):
    return np.array([b], np.uint32).view(np.float32)[0]


class TestBf16Round(unittest.TestCase):
    def test_exact_values_unchanged(self):
        for v in [0.0, 1.0, -2.5, 39.25, 1.0 / 128, 3.0e38 if False else 1.0e30]:
            r = bf16_round(np.float32(v))
            self.assertEqual(bits(r) & 0xFFFF, 0)
        x = np.array([1.0, 0.5, -7.0, 65280.0], np.float32)
        np.testing.assert_array_equal(bf16_round(x), x)

    def test_ties_to_even(self):
        # 1 + 2^-8 is halfway between 1.0 (0x3F80, even) and 1+2^-7 (0x3F81): -> 1.0
        self.assertEqual(bits(bf16_round(from_bits(0x3F808000))), 0x3F800000)
        # 0x3F818000 is halfway between 0x3F81 (odd) and 0x3F82 (even): -> 0x3F82
        self.assertEqual(bits(bf16_round(from_bits(0x3F818000))), 0x3F820000)
        # negative tie
        self.assertEqual(bits(bf16_round(from_bits(0xBF818000))), 0xBF820000)
        # just below / above the tie
        self.assertEqual(bits(bf16_round(from_bits(0x3F807FFF))), 0x3F800000)
        self.assertEqual(bits(bf16_round(from_bits(0x3F808001))), 0x3F810000)

    def test_known_constants(self):
        # spec 3.1 table: bf16(sqrt(H))
        for H, want, hexbits in [(1536, 39.25, 0x421D), (2560, 50.5, 0x424A), (2816, 53.0, 0x4254),
                                 (5376, 73.5, 0x4293), (3840, 62.0, 0x4278)]:
            r = bf16_round(np.float32(math.sqrt(H)))
            self.assertEqual(float(r), want)
            self.assertEqual(bits(r) >> 16, hexbits)

    def test_specials(self):
        nan = bf16_round(np.float32("nan"))
        self.assertTrue(np.isnan(nan))
        # a NaN whose payload lies only in the low 16 bits must stay NaN
        self.assertTrue(np.isnan(bf16_round(from_bits(0x7F800001))))
        self.assertTrue(np.isnan(bf16_round(from_bits(0xFFFFFFFF))))
        self.assertEqual(float(bf16_round(np.float32("inf"))), math.inf)
        self.assertEqual(float(bf16_round(np.float32("-inf"))), -math.inf)
        # largest float32 rounds up to inf in bf16
        self.assertEqual(float(bf16_round(np.float32(np.finfo(np.float32).max))), math.inf)
        z = bf16_round(np.float32(-0.0))
        self.assertEqual(bits(z), 0x80000000)
        # subnormal
        self.assertEqual(bits(bf16_round(from_bits(0x00018000))), 0x00020000)
        self.assertTrue(is_bf16_representable(bf16_round(np.random.default_rng(0).standard_normal(1000).astype(np.float32))))


class TestModelPrimitives(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.tmp.name, "m.gguf")
        make_tiny_model(cls.path, "dense_ple", seed=3)
        cls.f64 = Gemma4Reference(cls.path, "float64")
        cls.bf = Gemma4Reference(cls.path, "bf16")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_rmsnorm_hand(self):
        x = np.array([[1.0, 2.0, 3.0, 4.0]])
        y = self.f64.rmsnorm(x)            # mean(x^2) = 7.5
        np.testing.assert_allclose(y, x / math.sqrt(7.5 + 1e-6), rtol=1e-15)
        yb = self.bf.rmsnorm(x.astype(np.float32))
        self.assertTrue(is_bf16_representable(yb))
        np.testing.assert_array_equal(yb, bf16_round(np.float32(x / math.sqrt(7.5 + 1e-6))))

    def test_gelu_known(self):
        # tanh-approximation values (torch.nn.functional.gelu(x, approximate="tanh"))
        self.assertAlmostEqual(float(gelu_tanh(1.0)), 0.8411919906082768, places=12)
        self.assertAlmostEqual(float(gelu_tanh(-1.0)), -0.15880800939172324, places=12)
        self.assertAlmostEqual(float(gelu_tanh(2.0)), 1.9545977, places=6)
        self.assertEqual(float(gelu_tanh(0.0)), 0.0)
        x = 0.7
        want = 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
        self.assertAlmostEqual(float(gelu_tanh(x)), want, places=15)
        # close to, but not equal to, the erf GELU
        self.assertAlmostEqual(float(gelu_tanh(1.0)), 0.5 * (1 + math.erf(1 / math.sqrt(2))), places=3)

    def _direct_rope(self, x, pos, d, base, pairs):
        out = x.copy()
        for i in range(d // 2):
            if i >= pairs:
                continue
            th = pos * base ** (-2.0 * i / d)
            a, b = x[i], x[i + d // 2]
            out[i] = a * math.cos(th) - b * math.sin(th)
            out[i + d // 2] = b * math.cos(th) + a * math.sin(th)
        return out

    def test_rope_default_sliding(self):
        c = self.f64.cfg
        il = c.is_swa.index(True)
        d = c.head_dim(il)
        rng = np.random.default_rng(1)
        x = rng.standard_normal((3, 1, d))
        pos = np.array([0, 5, 123])
        y = self.f64.rope(x, il, pos)
        for t in range(3):
            np.testing.assert_allclose(y[t, 0], self._direct_rope(x[t, 0], pos[t], d, 1e4, d // 2), atol=1e-12)
        np.testing.assert_array_equal(y[0], x[0])   # position 0 is the identity

    def test_rope_proportional_full(self):
        c = self.f64.cfg
        il = c.is_swa.index(False)
        d = c.head_dim(il)
        pairs = int(0.25 * d // 2)
        self.assertEqual(self.f64.rope_pairs_full, pairs)
        rng = np.random.default_rng(2)
        x = rng.standard_normal((2, 1, d))
        pos = np.array([7, 300])
        y = self.f64.rope(x, il, pos)
        for t in range(2):
            want = self._direct_rope(x[t, 0], pos[t], d, 1e6, pairs)
            np.testing.assert_allclose(y[t, 0], want, atol=1e-12)
            # pass-through dims are bit-identical
            keep = np.r_[pairs:d // 2, d // 2 + pairs:d]
            np.testing.assert_array_equal(y[t, 0, keep], x[t, 0, keep])
        # exponent denominator is the full head dim, not 2*pairs
        inv = rope_inv_freq(d, 1e6, pairs)
        self.assertAlmostEqual(inv[1], 1e6 ** (-2.0 / d), places=15)
        self.assertTrue(np.all(inv[pairs:] == 0))

    def test_rope_bf16_three_roundings(self):
        c = self.bf.cfg
        il = c.is_swa.index(True)
        d = c.head_dim(il)
        x = bf16_round(np.random.default_rng(3).standard_normal((1, 1, d)).astype(np.float32))
        y = self.bf.rope(x, il, np.array([9]))
        cos, sin = self.bf.rope_cos_sin(il, np.array([9]))
        self.assertTrue(is_bf16_representable(cos) and is_bf16_representable(sin))
        rot = np.concatenate([-x[..., d // 2:], x[..., :d // 2]], -1)
        want = bf16_round(bf16_round(x * cos[:, None]) + bf16_round(rot * sin[:, None]))
        np.testing.assert_array_equal(y, want)


if __name__ == "__main__":
    unittest.main()

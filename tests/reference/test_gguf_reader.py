"""GGUF reader: metadata of all 13 types, alignment, F32/F16/BF16, the quantized types."""
import os
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gguf_reader as G  # noqa: E402
from tiny_gguf import write_gguf  # noqa: E402
from synth_util import synth_binary, synth  # noqa: E402


# --- straightforward per-element transliterations of ggml's dequantize_row_* loops -----
def _h(b, o):
    return float(np.frombuffer(bytes(b[o:o + 2]), "<f2")[0])


def slow_q8_0(raw):
    out = []
    for blk in range(len(raw) // 34):
        b = raw[blk * 34:(blk + 1) * 34]
        d = np.float32(_h(b, 0))
        for j in range(32):
            out.append(np.float32(d * np.float32(int(np.int8(b[2 + j])))))
    return np.array(out, np.float32)


def slow_q4_0(raw):
    out = []
    for blk in range(len(raw) // 18):
        b = raw[blk * 18:(blk + 1) * 18]
        d = np.float32(_h(b, 0))
        y = [0.0] * 32
        for j in range(16):
            y[j] = d * np.float32((b[2 + j] & 0xF) - 8)
            y[j + 16] = d * np.float32((b[2 + j] >> 4) - 8)
        out += y
    return np.array(out, np.float32)


def _scale_min_k4(j, q):
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)


def slow_q4_k(raw):
    out = []
    for blk in range(len(raw) // 144):
        b = raw[blk * 144:(blk + 1) * 144]
        d = np.float32(_h(b, 0))
        dmin = np.float32(_h(b, 2))
        sc = list(b[4:16])
        q = list(b[16:144])
        qo = 0
        is_ = 0
        for j in range(0, 256, 64):
            s, m = _scale_min_k4(is_ + 0, sc)
            d1, m1 = np.float32(d * np.float32(s)), np.float32(dmin * np.float32(m))
            s, m = _scale_min_k4(is_ + 1, sc)
            d2, m2 = np.float32(d * np.float32(s)), np.float32(dmin * np.float32(m))
            for l in range(32):
                out.append(np.float32(d1 * np.float32(q[qo + l] & 0xF) - m1))
            for l in range(32):
                out.append(np.float32(d2 * np.float32(q[qo + l] >> 4) - m2))
            qo += 32
            is_ += 2
    return np.array(out, np.float32)


def slow_q6_k(raw):
    out = []
    for blk in range(len(raw) // 210):
        b = raw[blk * 210:(blk + 1) * 210]
        d = np.float32(_h(b, 208))
        ql, qh = list(b[0:128]), list(b[128:192])
        sc = [int(np.int8(x)) for x in b[192:208]]
        y = [0.0] * 256
        for n in range(2):
            L, Hh, S, Y = 64 * n, 32 * n, 8 * n, 128 * n
            for l in range(32):
                is_ = l // 16
                q1 = ((ql[L + l] & 0xF) | (((qh[Hh + l] >> 0) & 3) << 4)) - 32
                q2 = ((ql[L + l + 32] & 0xF) | (((qh[Hh + l] >> 2) & 3) << 4)) - 32
                q3 = ((ql[L + l] >> 4) | (((qh[Hh + l] >> 4) & 3) << 4)) - 32
                q4 = ((ql[L + l + 32] >> 4) | (((qh[Hh + l] >> 6) & 3) << 4)) - 32
                y[Y + l] = np.float32(np.float32(d * np.float32(sc[S + is_ + 0])) * np.float32(q1))
                y[Y + l + 32] = np.float32(np.float32(d * np.float32(sc[S + is_ + 2])) * np.float32(q2))
                y[Y + l + 64] = np.float32(np.float32(d * np.float32(sc[S + is_ + 4])) * np.float32(q3))
                y[Y + l + 96] = np.float32(np.float32(d * np.float32(sc[S + is_ + 6])) * np.float32(q4))
        out += y
    return np.array(out, np.float32)


def random_blocks(rng, n_blocks, block_bytes, half_offsets):
    raw = bytearray(rng.integers(0, 256, n_blocks * block_bytes, dtype=np.uint8).tobytes())
    for blk in range(n_blocks):
        for o in half_offsets:
            v = np.float16(rng.uniform(0.001, 0.05) * (1 if rng.random() < 0.8 else -1))
            raw[blk * block_bytes + o: blk * block_bytes + o + 2] = v.tobytes()
    return bytes(raw)


class TestGGUFReader(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def test_metadata_all_types_and_alignment(self):
        path = os.path.join(self.tmp.name, "md.gguf")
        md = [
            ("general.alignment", G.T_UINT32, 64),
            ("k.u8", G.T_UINT8, 200), ("k.i8", G.T_INT8, -100), ("k.u16", G.T_UINT16, 60000),
            ("k.i16", G.T_INT16, -30000), ("k.u32", G.T_UINT32, 4000000000), ("k.i32", G.T_INT32, -2000000000),
            ("k.f32", G.T_FLOAT32, 1.5), ("k.bool", G.T_BOOL, True), ("k.str", G.T_STRING, "héllo"),
            ("k.u64", G.T_UINT64, 2 ** 63 + 5), ("k.i64", G.T_INT64, -2 ** 62), ("k.f64", G.T_FLOAT64, 0.1),
            ("k.arr_i32", G.T_ARRAY, [1, -2, 3], G.T_INT32),
            ("k.arr_bool", G.T_ARRAY, [True, False, True], G.T_BOOL),
            ("k.arr_str", G.T_ARRAY, ["a", "bc", ""], G.T_STRING),
            ("k.arr_f64", G.T_ARRAY, [0.25, -1e300], G.T_FLOAT64),
            ("k.arr_nested", G.T_ARRAY, [(G.T_UINT8, [1, 2]), (G.T_STRING, ["x"])], G.T_ARRAY),
        ]
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        f16 = np.array([1.0, -2.5, 65504.0, 2 ** -24], np.float16)
        bf = np.array([1.0, -3.0, 0.15625, 1e30], np.float32)
        bf_bits = (bf.view(np.uint32) >> 16).astype("<u2")
        ts = [("a", [3, 2], "F32", a.astype("<f4").tobytes()),
              ("h", [4], "F16", f16.astype("<f2").tobytes()),
              ("b", [4], "BF16", bf_bits.tobytes())]
        write_gguf(path, md, ts, alignment=64)
        r = G.GGUFReader(path)
        self.assertEqual(r.version, 3)
        self.assertEqual(r.alignment, 64)
        self.assertEqual(r.data_start % 64, 0)
        for key, t, v, *rest in md:
            got = r.metadata[key]
            self.assertEqual(r.metadata_types[key][0], t, key)
            if key == "k.arr_nested":
                self.assertEqual(list(got[0]), [1, 2])
                self.assertEqual(got[1], ["x"])
            elif t == G.T_ARRAY:
                self.assertEqual(list(got), v, key)
            elif t == G.T_FLOAT32:
                self.assertEqual(got, np.float32(v))
            else:
                self.assertEqual(got, v, key)
        self.assertEqual(r.metadata_types["k.arr_bool"], (G.T_ARRAY, G.T_BOOL))
        self.assertEqual(r.tensors["a"].shape, (2, 3))          # ne=[3,2] -> (2,3)
        np.testing.assert_array_equal(r.tensor("a"), a)
        for t in r.tensors.values():
            self.assertEqual(t.data_offset % 64, 0)
        np.testing.assert_array_equal(r.tensor("h"), f16.astype(np.float32))
        want_bf = (bf_bits.astype(np.uint32) << 16).view(np.float32)
        np.testing.assert_array_equal(r.tensor("b"), want_bf)
        self.assertEqual(float(r.tensor("b")[2]), 0.15625)

    def test_quant_types_match_ggml_loops(self):
        rng = np.random.default_rng(0)
        path = os.path.join(self.tmp.name, "q.gguf")
        specs = {"Q8_0": (34, [0], slow_q8_0, 32), "Q4_0": (18, [0], slow_q4_0, 32),
                 "Q4_K": (144, [0, 2], slow_q4_k, 256), "Q6_K": (210, [208], slow_q6_k, 256)}
        ts = []
        raws = {}
        for name, (bb, hoff, _, blk) in specs.items():
            nblk = 6
            raw = random_blocks(rng, nblk, bb, hoff)
            raws[name] = raw
            ts.append((name, [blk * 2, nblk // 2], name, raw))
        write_gguf(path, [("general.architecture", G.T_STRING, "test")], ts)
        r = G.GGUFReader(path)
        for name, (bb, hoff, slow, blk) in specs.items():
            got = r.tensor(name)
            self.assertEqual(got.shape, (3, blk * 2))
            want = slow(np.frombuffer(raws[name], np.uint8))
            np.testing.assert_array_equal(got.reshape(-1), want, err_msg=name)

    def test_speed(self):
        # 4M Q4_K elements (~2.3 MB) must dequantize quickly (100 MB files in seconds)
        import time
        rng = np.random.default_rng(1)
        raw = np.frombuffer(random_blocks(rng, 16384, 144, [0, 2]), np.uint8)
        t = time.time()
        y = G.dequantize(raw, G.GGML_TYPE_ID["Q4_K"], 16384 * 256)
        self.assertEqual(y.size, 16384 * 256)
        self.assertLess(time.time() - t, 5.0)

    def test_rejects_bad_files(self):
        p = os.path.join(self.tmp.name, "bad.gguf")
        with open(p, "wb") as f:
            f.write(b"GGUF" + struct.pack("<I", 1) + b"\0" * 16)
        with self.assertRaises(G.GGUFError):
            G.GGUFReader(p)
        with open(p, "wb") as f:
            f.write(b"NOPE" + b"\0" * 20)
        with self.assertRaises(G.GGUFError):
            G.GGUFReader(p)


@unittest.skipIf(synth_binary() is None,
                 "gemma4c binary with 'synth' not found (build/bin/gemma4c); synthesizer-based tests skipped")
class TestSynthDtypes(unittest.TestCase):
    """The project's synthesizer writes the same random weights in several dtypes; the
    dequantized tensors must agree with the f32 file within each format's error."""

    def test_dtypes_agree_with_f32(self):
        with tempfile.TemporaryDirectory() as d:
            ref = G.GGUFReader(synth("tiny-31b", "f32", os.path.join(d, "f32.gguf")))
            tol = {"f16": 1e-3, "bf16": 1e-2, "q8_0": 2e-2, "q4_0": 0.3}
            for dt, rel in tol.items():
                r = G.GGUFReader(synth("tiny-31b", dt, os.path.join(d, dt + ".gguf")))
                self.assertEqual(set(r.tensors), set(ref.tensors))
                name = "blk.0.attn_q.weight"
                a, b = r.tensor(name), ref.tensor(name)
                self.assertEqual(a.shape, b.shape)
                err = np.max(np.abs(a - b)) / np.max(np.abs(b))
                self.assertLess(err, rel, dt)
                self.assertGreater(np.corrcoef(a.ravel(), b.ravel())[0, 1], 0.99 if dt != "q4_0" else 0.95)


class TestGgmlFixtures(unittest.TestCase):
    """The reader's dequantizers against llama.cpp's own on the committed fixtures
    (tests/fixtures/ggml/*.g4fx: ggml's quantizer's blocks and ggml's dequantized floats), bit
    for bit."""

    IDS = {"q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "q2_K": 10, "q3_K": 11,
           "q4_K": 12, "q5_K": 13, "q6_K": 14, "iq4_nl": 20, "iq4_xs": 23, "mxfp4": 39}

    def test_dequantize_matches_ggml(self):
        fixtures = os.path.join(HERE, "..", "fixtures", "ggml")
        for name, type_id in self.IDS.items():
            with self.subTest(type=name):
                with open(os.path.join(fixtures, name + ".g4fx"), "rb") as f:
                    data = f.read()
                self.assertEqual(data[:4], b"G4FX")
                _, tid, n, nbytes = struct.unpack("<4I", data[4:20])
                self.assertEqual(tid, type_id)
                blocks = np.frombuffer(data[20 + 4 * n:20 + 4 * n + nbytes], dtype=np.uint8)
                want = np.frombuffer(data[20 + 4 * n + nbytes:], dtype=np.float32)
                got = G.dequantize(blocks, type_id, n)
                np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


if __name__ == "__main__":
    unittest.main()

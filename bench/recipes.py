#!/usr/bin/python3
"""Every llama-quantize recipe a Gemma 4 user downloads, end to end through gemma4c (issue 12).

For each recipe: a synthetic f32 model (`gemma4c synth`, tiny-e2b; tiny-moe for MXFP4_MOE)
is quantized by llama.cpp's `llama-quantize`, then `gemma4c spec --from-gguf`, `gemma4c
compile` and `g4run --logits-out` run on the result. Printed per recipe: the tensor types in
the file, whether it loads and runs, and the logits NMSE against the float64 math of the
file's dequantized weights (the project's NumPy reference, tests/reference/, in float64, with
the weights dequantized by llama.cpp's own dequantizer through libggml-base, so the reference
shares no code with gemma4c's readers), for g4run under the f32 precision policy with exact
products (--exact-quantized) and with its default 8-bit-activation products, and for llama.cpp
itself on the same file (bench/recipes/llama_logits.cc against libllama, CPU, its defaults).

Needs /usr/bin/python3 with numpy, a built gemma4c (--bin), llama-quantize and libllama
(--llama-build, default /opt/llama.cpp-build) and a llama.cpp tree for the headers
(--llama-cpp). Exits 77 (skipped) when llama-quantize is absent, 1 if a recipe fails.

    /usr/bin/python3 bench/recipes.py --bin build/bin --out /tmp/recipes
"""

import argparse
import ctypes
import glob
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import gguf_reader  # noqa: E402
from compare import nmse  # noqa: E402
from gemma4_ref import Gemma4Reference  # noqa: E402

RECIPES = ["Q2_K", "Q3_K_M", "Q4_0", "Q4_K_M", "Q4_K_S", "Q5_K_M", "Q6_K", "Q8_0", "IQ4_XS",
           "MXFP4_MOE"]
# Extra runs where more rows are 256-multiples (tiny-31b) or without llama.cpp's mixtures
# (--pure), so the K-quant types themselves (q2_k above all) meet the whole pipeline.
EXTRA_RUNS = [("Q2_K --pure", "tiny-e2b"), ("Q2_K", "tiny-31b"), ("Q3_K_M", "tiny-31b"),
              ("Q4_K_M", "tiny-31b"), ("Q5_K_M", "tiny-31b"), ("IQ4_XS", "tiny-31b")]
PROMPT_LEN = 40  # as tests/fidelity: > 2 x the tiny models' sliding window of 16
# ggml type ids the project reader's table lacks (names as ggml prints them).
EXTRA_TYPES = {20: ("IQ4_NL", 32, 18), 23: ("IQ4_XS", 256, 136), 39: ("MXFP4", 32, 17)}


def run(cmd):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


def prompt(vocab):
    return [2] + [(7 * i + 11) % (vocab - 10) + 5 for i in range(PROMPT_LEN - 1)]


class GgmlDequantizer:
    """llama.cpp's dequantizers (ggml_get_type_traits(type)->to_float) through ctypes."""

    class Traits(ctypes.Structure):
        _fields_ = [("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64),
                    ("blck_size_interleave", ctypes.c_int64), ("type_size", ctypes.c_size_t),
                    ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p),
                    ("from_float_ref", ctypes.c_void_p)]

    def __init__(self, lib_dir):
        self.lib = ctypes.CDLL(os.path.join(lib_dir, "libggml-base.so"))
        self.lib.ggml_get_type_traits.restype = ctypes.POINTER(self.Traits)
        self.lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
        self.to_float = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)

    def __call__(self, raw, type_id, n):
        if type_id in (0, 1, 28, 30):  # float types: the reader's own conversion
            return ORIGINAL_DEQUANTIZE(raw, type_id, n)
        raw = np.ascontiguousarray(np.asarray(raw, dtype=np.uint8))
        out = np.empty(n, dtype=np.float32)
        fn = self.to_float(self.lib.ggml_get_type_traits(type_id).contents.to_float)
        fn(raw.ctypes.data, out.ctypes.data, n)
        return out


ORIGINAL_DEQUANTIZE = gguf_reader.dequantize


def tensor_types(path):
    reader = gguf_reader.GGUFReader(path)
    counts = {}
    for t in reader.tensors.values() if isinstance(reader.tensors, dict) else reader.tensors:
        counts[t.type_name] = counts.get(t.type_name, 0) + 1
    return ", ".join("%s x%d" % (k.lower(), v) for k, v in sorted(counts.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--out", default="/tmp/g4-recipes")
    ap.add_argument("--llama-build", default="/opt/llama.cpp-build")
    ap.add_argument("--llama-cpp", default=(glob.glob("/opt/llp/llama_cpp_python-*/vendor/llama.cpp")
                                            or [""])[0])
    ap.add_argument("--threads", default="2")
    ap.add_argument("--recipes", nargs="*", default=RECIPES)
    ap.add_argument("--no-extra", action="store_true", help="skip the tiny-31b and --pure runs")
    args = ap.parse_args()

    lbin = os.path.join(args.llama_build, "bin")
    quantize = os.path.join(lbin, "llama-quantize")
    if not os.path.exists(quantize):
        print("skipped: %s is absent" % quantize)
        return 77
    os.makedirs(args.out, exist_ok=True)
    gguf_reader.GGML_TYPES.update(EXTRA_TYPES)
    gguf_reader.dequantize = GgmlDequantizer(lbin)

    llama_logits = os.path.join(args.out, "llama_logits")
    have_llama = False
    if os.path.exists(os.path.join(args.llama_cpp, "include", "llama.h")):
        run(["g++", "-std=c++17", "-O1", "-I" + os.path.join(args.llama_cpp, "include"),
             "-I" + os.path.join(args.llama_cpp, "ggml", "include"),
             os.path.join(HERE, "recipes", "llama_logits.cc"), "-o", llama_logits, "-L" + lbin,
             "-lllama", "-lggml", "-lggml-base", "-Wl,-rpath," + lbin])
        have_llama = True

    tool = lambda name: os.path.join(args.bin, name)  # noqa: E731
    rows, failures = [], 0
    sources = {}
    runs = [("F32", "tiny-e2b")] + [(r, "tiny-moe" if r == "MXFP4_MOE" else "tiny-e2b")
                                    for r in args.recipes]
    if not args.no_extra:
        runs += EXTRA_RUNS
    for recipe, preset in runs:
        if preset not in sources:
            sources[preset] = os.path.join(args.out, preset + "-f32.gguf")
            run([tool("gemma4c"), "synth", "--like", preset, "--dtype", "f32", "--seed", "1",
                 "-o", sources[preset]])
        src = sources[preset]
        words = recipe.split()
        gguf = src if recipe == "F32" else os.path.join(
            args.out, "%s-%s.gguf" % (preset, "-".join(w.strip("-") for w in words)))
        row = {"recipe": recipe, "preset": preset}
        try:
            if recipe != "F32":
                run([quantize] + words[1:] + [src, gguf, words[0], args.threads])
            row["types"] = tensor_types(gguf)
            stem = gguf[:-5]
            run([tool("gemma4c"), "spec", "--from-gguf", gguf, "-o", stem + ".mlir"])
            run([tool("gemma4c"), "compile", stem + ".mlir", "--precision=f32", "-o",
                 stem + ".plan"])
            ref = Gemma4Reference(gguf, mode="float64")
            logits64 = None
            tokens = None
            vocab = None
            for exact in (True, False):
                if tokens is None:
                    tokens = prompt(1024)
                    logits64 = np.asarray(ref.forward(np.array(tokens)), dtype=np.float64)
                    vocab = logits64.shape[1]
                    tokens = [t % vocab for t in tokens]
                out = stem + (".exact" if exact else ".q8") + ".logits"
                run([tool("g4run"), stem + ".plan", "--model", gguf, "--threads", args.threads,
                     "--tokens", ",".join(map(str, tokens)), "--logits-out", out]
                    + (["--exact-quantized"] if exact else []))
                x = np.fromfile(out, dtype=np.float32).reshape(len(tokens), vocab)
                row["exact" if exact else "q8"] = nmse(x, logits64)
            row["runs"] = "yes"
            if have_llama:
                out = stem + ".llama.logits"
                try:
                    run([llama_logits, gguf, ",".join(map(str, tokens)), out, args.threads])
                    x = np.fromfile(out, dtype=np.float32).reshape(len(tokens), vocab)
                    row["llama"] = nmse(x, logits64)
                except subprocess.CalledProcessError as e:
                    row["llama"] = "fails: " + e.stderr.strip().splitlines()[-1][:60]
        except subprocess.CalledProcessError as e:
            failures += 1
            lines = (e.stderr or e.stdout or "").strip().splitlines()
            row["runs"] = "NO: %s" % (lines[-1] if lines else e)
        rows.append(row)

    fmt = lambda v: ("%.2e" % v) if isinstance(v, float) else (v or "-")  # noqa: E731
    print("| recipe | model | tensor types in the file | loads/runs | g4run exact NMSE | "
          "g4run q8-act NMSE | llama.cpp NMSE |")
    print("|---|---|---|---|---:|---:|---:|")
    for r in rows:
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["recipe"], r["preset"], r.get("types", "-"), r["runs"], fmt(r.get("exact")),
            fmt(r.get("q8")), fmt(r.get("llama", None if have_llama else "not built"))))
    print("\nNMSE = mean((logits - ref)^2) / var(ref) over %d positions; ref = float64 NumPy "
          "reference on the file's weights dequantized by llama.cpp's libggml-base." % PROMPT_LEN)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

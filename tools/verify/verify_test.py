#!/usr/bin/env python3
"""ctest verify.transformers: `gemma4c verify` on tiny random checkpoints of the three kinds.

    verify_test.py --bin BUILD/bin --out DIR [--converter LLAMA_CPP_DIR]

Exits 77 (skipped) when torch / transformers with Gemma 4 / gguf are not importable or llama.cpp's
convert_hf_to_gguf.py is not there (scripts/verify_setup.sh provides all of them). Otherwise, for
the E-like, MoE and dense (31B-like) checkpoints made by make_checkpoint.py (sliding window 16,
40-token prompt) and converted to bf16 GGUF by llama.cpp's converter, checks:
  * sdpa and eager: every stage within its thresholds (the attention row <= 1 % of elements
    differing), and the stages chained on their own outputs equal transformers' forward bit for bit
    (the stage recomputation is transformers' own);
  * the tool can FAIL: a GGUF with one tensor negated (blk.1.ffn_down) fails the ffn row first at
    layer 1 while the stages before it pass, and a plan compiled under the f32 policy fails;
  * bad input gives one line and exit 2: a missing checkpoint directory, a GGUF of another model.
"""
import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--converter", default=os.environ.get("G4_CONVERTER", "/opt/g4verify/vendor/llama.cpp"))
    a = ap.parse_args()
    try:
        import torch  # noqa: F401
        from transformers.models.gemma4 import modeling_gemma4  # noqa: F401
        import numpy as np
    except ImportError as e:
        print("skipped: %s (run scripts/verify_setup.sh)" % e)
        return SKIP
    conv = os.path.join(a.converter, "convert_hf_to_gguf.py")
    if not os.path.isfile(conv):
        print("skipped: %s not found (run scripts/verify_setup.sh or set G4_CONVERTER)" % conv)
        return SKIP
    sys.path.insert(0, HERE)
    import g4verify as gv

    failures = []

    def check(ok, what):
        print(("ok:   " if ok else "FAIL: ") + what)
        if not ok:
            failures.append(what)

    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.path.join(a.converter, "gguf-py"))
    ggufs = {}
    for kind in ("e", "moe", "dense"):
        ck = os.path.join(a.out, kind)
        shutil.rmtree(ck, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(HERE, "make_checkpoint.py"), "--kind", kind, "-o", ck,
                        "--window", "16"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ggufs[kind] = ck + ".gguf"
        p = subprocess.run([sys.executable, conv, ck, "--outfile", ggufs[kind], "--outtype", "bf16"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            print(p.stdout[-3000:])
            check(False, "convert_hf_to_gguf.py on the %s checkpoint" % kind)
            return 1

    def verify(*args):
        argv = list(args) + ["--bin", a.bin, "--threads", "2"]
        buf = io.StringIO()
        t0 = time.time()
        with contextlib.redirect_stdout(buf):
            try:
                r = gv.verify(gv.parse_args(argv))
                code = 0 if r["ok"] else 1
            except gv.VerifyError as e:
                r, code = None, 2
                print("gemma4c verify: %s" % e)
        print(buf.getvalue())
        print("(%.1f s)" % (time.time() - t0))
        return r, code, buf.getvalue()

    for kind in ("e", "moe", "dense"):
        ck = os.path.join(a.out, kind)
        for attention in ("sdpa", "eager"):
            r, code, _ = verify("--checkpoint", ck, "--gguf", ggufs[kind], "--attention", attention,
                                "--work", os.path.join(a.out, "work-%s-%s" % (kind, attention)), "--self-check")
            check(code == 0, "%s %s: every stage within its thresholds" % (kind, attention))
            if r:
                att = [s for s in r["stages"] if s["stage"] == "attention"][0]
                check(att["max_differ"] <= 0.01, "%s %s: attention output differs in %.3f %% <= 1 %%"
                      % (kind, attention, 100 * att["max_differ"]))
                check(r["self_check"] is True, "%s %s: stages chained = transformers' forward" % (kind, attention))
                check(len(r["stages"]) >= 10, "%s %s: %d stage rows" % (kind, attention, len(r["stages"])))

    # the tool can fail: one weight negated (bf16 sign bits flipped)
    from gguf import GGUFReader
    bad = os.path.join(a.out, "dense-corrupt.gguf")
    shutil.copyfile(ggufs["dense"], bad)
    t = [x for x in GGUFReader(bad).tensors if x.name == "blk.1.ffn_down.weight"][0]
    mm = np.memmap(bad, dtype=np.uint16, mode="r+", offset=int(t.data_offset), shape=(int(t.n_bytes) // 2,))
    mm ^= np.uint16(0x8000)
    mm.flush()
    del mm
    r, code, _ = verify("--checkpoint", os.path.join(a.out, "dense"), "--gguf", bad,
                        "--work", os.path.join(a.out, "work-corrupt"), "--no-float64")
    check(code == 1, "corrupted blk.1.ffn_down: exit 1 (got %d)" % code)
    if r:
        rows = {s["stage"]: s for s in r["stages"]}
        check(not rows["ffn"]["ok"] and rows["ffn"]["first_failing_layer"] == 1,
              "corrupted blk.1.ffn_down: the ffn row fails first at layer 1")
        check(all(rows[s]["ok"] for s in ("embed", "attn_norm", "q", "kv", "attention", "attn_out")),
              "corrupted blk.1.ffn_down: the stages other than ffn pass (teacher forcing localizes it)")

    # the tool can fail: a plan of the f32 policy
    plan = os.path.join(a.out, "plan-f32")
    subprocess.run([os.path.join(a.bin, "gemma4c"), "spec", "--from-gguf", ggufs["moe"], "-o", plan + ".mlir"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([os.path.join(a.bin, "gemma4c"), "compile", plan + ".mlir", "-o", plan, "--precision=f32"],
                   check=True, stdout=subprocess.DEVNULL)
    r, code, _ = verify("--checkpoint", os.path.join(a.out, "moe"), "--gguf", ggufs["moe"], "--plan", plan,
                        "--work", os.path.join(a.out, "work-f32"), "--no-float64")
    check(code == 1, "f32-policy plan: exit 1 (got %d)" % code)
    if r:
        n_fail = sum(1 for s in r["stages"] if not s["ok"])
        check(n_fail >= 3, "f32-policy plan: %d stage rows fail (>= 3)" % n_fail)

    # bad input: one line, exit 2
    cli = [sys.executable, os.path.join(HERE, "g4verify.py"), "--bin", a.bin]
    p = subprocess.run(cli + ["--checkpoint", os.path.join(a.out, "nonexistent"), "--gguf", ggufs["e"]],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(p.returncode == 2 and "no such checkpoint directory" in p.stderr and len(p.stderr.strip().splitlines()) == 1,
          "missing checkpoint: exit 2, one line (%r)" % p.stderr.strip())
    p = subprocess.run(cli + ["--checkpoint", os.path.join(a.out, "dense"), "--gguf", ggufs["e"],
                              "--work", os.path.join(a.out, "work-mismatch")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(p.returncode == 2 and "does not match the checkpoint" in p.stderr
          and len(p.stderr.strip().splitlines()) == 1,
          "GGUF of another model: exit 2, one line (%r)" % p.stderr.strip())

    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all verify checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

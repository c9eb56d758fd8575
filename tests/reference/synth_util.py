"""Locate the project's synthesizer (gemma4c synth) for the optional synth-based tests."""
import glob
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def synth_binary():
    env = os.environ.get("GEMMA4C")
    cands = [env] if env else []
    cands += sorted(glob.glob(os.path.join(ROOT, "build*", "bin", "gemma4c")))
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            try:
                out = subprocess.run([c, "synth", "--help"], capture_output=True, text=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if out.returncode == 0 and "--like" in (out.stdout + out.stderr):
                return c
    return None


def synth(like, dtype, out, seed=1):
    b = synth_binary()
    subprocess.run([b, "synth", "--like", like, "--dtype", dtype, "--seed", str(seed), "-o", out],
                   check=True, capture_output=True, timeout=120)
    return out

# Per-position NMSE of two float32 logits files of [positions][vocab] (Tools/packed-weights.test).
# Prints the median over positions and "close" when it is below 1e-6. Why the median: the 8-bit
# activation path is discontinuous (a last-bit change of x can flip a rounding to int8, or an
# expert choice), and on these random models' peaked attention a flip at one position grows
# to ~1e-2 or more at the later ones, while most positions differ only by fp32 rounding (~1e-14).
import struct
import sys

def load(path):
    data = open(path, "rb").read()
    return struct.unpack("<%df" % (len(data) // 4), data)

a, b = load(sys.argv[1]), load(sys.argv[2])
vocab = int(sys.argv[3])
assert len(a) == len(b) and len(a) > 0 and len(a) % vocab == 0
nmse = []
for t in range(len(a) // vocab):
    ra, rb = a[t * vocab:(t + 1) * vocab], b[t * vocab:(t + 1) * vocab]
    nmse.append(sum((x - y) ** 2 for x, y in zip(ra, rb)) / sum(y * y for y in rb))
median = sorted(nmse)[len(nmse) // 2]
print("median nmse %.3g, max %.3g" % (median, max(nmse)))
print("close: median below 1e-6" if median < 1e-6 else "far")

"""Small, independent GGUF v2/v3 reader for the NumPy reference (numpy only).

Reads metadata (all 13 value types, nested arrays), tensor infos, honours
`general.alignment`, and dequantizes F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K
to float32 (or float64) with vectorised numpy over a read-only memmap.

Shape convention: GGUF `ne[0]` is the innermost (fastest) dimension, so a
tensor with ne = [in, out] comes back as a numpy array of shape (out, in),
i.e. shape = tuple(reversed(ne)).

Block layouts follow ggml (ggml-common.h / ggml-quants.c):
  Q8_0 (32 el, 34 B):  f16 d, i8 qs[32];                     x = d*q
  Q4_0 (32 el, 18 B):  f16 d, u8 qs[16];  el j<16 = low nibble of qs[j],
                       el j+16 = high nibble;                x = d*(q-8)
  Q4_K (256 el, 144 B): f16 d, f16 dmin, u8 scales[12], u8 qs[128];
                       8 groups of 32, 6-bit (sc, m) per group, x = d*sc*q - dmin*m
  Q6_K (256 el, 210 B): u8 ql[128], u8 qh[64], i8 scales[16], f16 d;
                       x = d*scales[e/16]*(q-32)
The K-quant arithmetic is done in float32 exactly as ggml's
dequantize_row_q4_K / dequantize_row_q6_K do (d1 = d*sc, m1 = dmin*m in f32,
then d1*q - m1; and d*sc*q evaluated left to right in f32).
"""

import struct
import numpy as np

GGUF_MAGIC = b"GGUF"

# metadata value types
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, \
    T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = range(13)

_SCALAR_FMT = {
    T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h",
    T_UINT32: "<I", T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?",
    T_UINT64: "<Q", T_INT64: "<q", T_FLOAT64: "<d",
}
_SCALAR_NP = {
    T_UINT8: "<u1", T_INT8: "<i1", T_UINT16: "<u2", T_INT16: "<i2",
    T_UINT32: "<u4", T_INT32: "<i4", T_FLOAT32: "<f4", T_BOOL: "<u1",
    T_UINT64: "<u8", T_INT64: "<i8", T_FLOAT64: "<f8",
}

# ggml tensor types: id -> (name, block elements, block bytes)
GGML_TYPES = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    30: ("BF16", 1, 2),
    20: ("IQ4_NL", 32, 18),
    23: ("IQ4_XS", 256, 136),
    39: ("MXFP4", 32, 17),
}
GGML_TYPE_ID = {v[0]: k for k, v in GGML_TYPES.items()}
SUPPORTED = ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K", "F64")


class GGUFError(Exception):
    pass


class TensorInfo:
    __slots__ = ("name", "ne", "type_id", "offset", "data_offset", "nbytes")

    def __init__(self, name, ne, type_id, offset):
        self.name = name
        self.ne = tuple(int(n) for n in ne)
        self.type_id = int(type_id)
        self.offset = int(offset)
        self.data_offset = None
        if self.type_id not in GGML_TYPES:
            raise GGUFError("tensor %r: unknown ggml type id %d" % (name, type_id))
        _, blk, bb = GGML_TYPES[self.type_id]
        n = self.n_elements
        if self.ne[0] % blk:
            raise GGUFError("tensor %r: ne[0]=%d not a multiple of block %d" % (name, self.ne[0], blk))
        self.nbytes = n // blk * bb

    @property
    def type_name(self):
        return GGML_TYPES[self.type_id][0]

    @property
    def shape(self):
        """numpy shape (reversed ne)."""
        return tuple(reversed(self.ne))

    @property
    def n_elements(self):
        n = 1
        for d in self.ne:
            n *= d
        return n

    def __repr__(self):
        return "TensorInfo(%s, ne=%s, %s)" % (self.name, list(self.ne), self.type_name)


class GGUFReader:
    """Parse a GGUF file. `metadata` maps key -> python value (arrays become
    numpy arrays for numeric/bool element types, lists for strings/nested);
    `metadata_types` maps key -> (type, element type or None)."""

    def __init__(self, path):
        self.path = path
        self.data = np.memmap(path, dtype=np.uint8, mode="r")
        self._pos = 0
        self.metadata = {}
        self.metadata_types = {}
        self.tensors = {}
        self._parse()

    # -- low level cursor ------------------------------------------------------------
    def _take(self, n):
        if self._pos + n > len(self.data):
            raise GGUFError("%s: truncated at offset %d (need %d bytes)" % (self.path, self._pos, n))
        b = bytes(self.data[self._pos:self._pos + n])
        self._pos += n
        return b

    def _scalar(self, t):
        fmt = _SCALAR_FMT[t]
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def _string(self):
        n = self._scalar(T_UINT64)
        return self._take(n).decode("utf-8", errors="surrogateescape")

    def _value(self, t):
        if t == T_STRING:
            return self._string()
        if t == T_ARRAY:
            et = self._scalar(T_UINT32)
            n = self._scalar(T_UINT64)
            if et in _SCALAR_NP:
                dt = np.dtype(_SCALAR_NP[et])
                arr = np.frombuffer(self._take(n * dt.itemsize), dtype=dt).copy()
                if et == T_BOOL:
                    arr = arr.astype(bool)
                return arr
            if et in (T_STRING, T_ARRAY):
                return [self._value(et) for _ in range(n)]
            raise GGUFError("bad array element type %d" % et)
        if t in _SCALAR_FMT:
            v = self._scalar(t)
            return bool(v) if t == T_BOOL else v
        raise GGUFError("bad metadata value type %d" % t)

    def _parse(self):
        if self._take(4) != GGUF_MAGIC:
            raise GGUFError("%s: not a GGUF file" % self.path)
        self.version = self._scalar(T_UINT32)
        if self.version not in (2, 3):
            raise GGUFError("%s: unsupported GGUF version %d" % (self.path, self.version))
        n_tensors = self._scalar(T_UINT64)
        n_kv = self._scalar(T_UINT64)
        for _ in range(n_kv):
            key = self._string()
            t = self._scalar(T_UINT32)
            et = None
            if t == T_ARRAY:
                # peek the element type for metadata_types
                et = struct.unpack("<I", bytes(self.data[self._pos:self._pos + 4]))[0]
            self.metadata[key] = self._value(t)
            self.metadata_types[key] = (t, et)
        infos = []
        for _ in range(n_tensors):
            name = self._string()
            nd = self._scalar(T_UINT32)
            ne = [self._scalar(T_UINT64) for _ in range(nd)]
            tid = self._scalar(T_UINT32)
            off = self._scalar(T_UINT64)
            infos.append(TensorInfo(name, ne, tid, off))
        self.alignment = int(self.metadata.get("general.alignment", 32))
        if self.alignment <= 0 or self.alignment & (self.alignment - 1):
            raise GGUFError("bad general.alignment %d" % self.alignment)
        a = self.alignment
        self.data_start = (self._pos + a - 1) // a * a
        for ti in infos:
            ti.data_offset = self.data_start + ti.offset
            if ti.data_offset + ti.nbytes > len(self.data):
                raise GGUFError("tensor %r extends past end of file" % ti.name)
            if ti.name in self.tensors:
                raise GGUFError("duplicate tensor %r" % ti.name)
            self.tensors[ti.name] = ti

    # -- public API ---------------------------------------------------------------------
    def get(self, key, default=None):
        return self.metadata.get(key, default)

    def has(self, name):
        return name in self.tensors

    def raw(self, name):
        ti = self.tensors[name]
        return self.data[ti.data_offset:ti.data_offset + ti.nbytes]

    def tensor(self, name, dtype=np.float32):
        """Dequantized tensor as numpy array of shape reversed(ne)."""
        ti = self.tensors[name]
        flat = dequantize(self.raw(name), ti.type_id, ti.n_elements)
        return flat.reshape(ti.shape).astype(dtype, copy=False)


# ---------------------------------------------------------------------------------------
# dequantization (all return float32 1-D arrays of n elements; F64 returns float64)

def f16_to_f32(u16):
    return np.asarray(u16, dtype=np.uint16).view(np.float16).astype(np.float32)


def bf16_bits_to_f32(u16):
    return (np.asarray(u16, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def _blocks(raw, block_bytes):
    raw = np.asarray(raw, dtype=np.uint8)
    assert raw.size % block_bytes == 0
    return raw.reshape(-1, block_bytes)


def _f16_field(b, start):
    return b[:, start:start + 2].copy().view("<u2")[:, 0].view(np.float16).astype(np.float32)


def dequant_q8_0(raw):
    b = _blocks(raw, 34)
    d = _f16_field(b, 0)
    q = b[:, 2:].view(np.int8).astype(np.float32)
    return (d[:, None] * q).reshape(-1)


def dequant_q4_0(raw):
    b = _blocks(raw, 18)
    d = _f16_field(b, 0)
    qs = b[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    q = np.concatenate([lo, hi], axis=1).astype(np.float32)
    return (d[:, None] * q).reshape(-1)


def _q4k_scale_min(sc12):
    """sc12: [nb, 12] uint8 -> (sc [nb, 8], m [nb, 8]) as uint8 (ggml get_scale_min_k4)."""
    nb = sc12.shape[0]
    sc = np.empty((nb, 8), dtype=np.uint8)
    m = np.empty((nb, 8), dtype=np.uint8)
    sc[:, :4] = sc12[:, 0:4] & 63
    m[:, :4] = sc12[:, 4:8] & 63
    sc[:, 4:] = (sc12[:, 8:12] & 0x0F) | ((sc12[:, 0:4] >> 6) << 4)
    m[:, 4:] = (sc12[:, 8:12] >> 4) | ((sc12[:, 4:8] >> 6) << 4)
    return sc, m


def dequant_q4_k(raw):
    b = _blocks(raw, 144)
    nb = b.shape[0]
    d = _f16_field(b, 0)
    dmin = _f16_field(b, 2)
    sc, m = _q4k_scale_min(b[:, 4:16])
    d1 = (d[:, None] * sc.astype(np.float32)).astype(np.float32)      # [nb, 8]
    m1 = (dmin[:, None] * m.astype(np.float32)).astype(np.float32)
    qs = b[:, 16:].reshape(nb, 4, 32)                                   # chunk c of 64 elements
    q = np.empty((nb, 4, 2, 32), dtype=np.float32)
    q[:, :, 0, :] = qs & 0x0F            # group 2c
    q[:, :, 1, :] = qs >> 4              # group 2c+1
    q = q.reshape(nb, 8, 32)
    y = d1[:, :, None] * q - m1[:, :, None]
    return y.astype(np.float32).reshape(-1)


def dequant_q6_k(raw):
    b = _blocks(raw, 210)
    nb = b.shape[0]
    ql = b[:, 0:128].reshape(nb, 2, 64)
    qh = b[:, 128:192].reshape(nb, 2, 32)
    scales = b[:, 192:208].view(np.int8).reshape(nb, 2, 8).astype(np.float32)
    d = _f16_field(b, 208)
    q = np.empty((nb, 2, 4, 32), dtype=np.int16)
    q[:, :, 0, :] = (ql[:, :, 0:32] & 0x0F) | (((qh >> 0) & 3) << 4)
    q[:, :, 1, :] = (ql[:, :, 32:64] & 0x0F) | (((qh >> 2) & 3) << 4)
    q[:, :, 2, :] = (ql[:, :, 0:32] >> 4) | (((qh >> 4) & 3) << 4)
    q[:, :, 3, :] = (ql[:, :, 32:64] >> 4) | (((qh >> 6) & 3) << 4)
    q = (q - 32).astype(np.float32)
    # scale index: is = l/16 (0 or 1) + 2k within each half (8 scales per half)
    q = q.reshape(nb, 2, 4, 2, 16)                       # [nb, half, k, l//16, l%16]
    s = scales.reshape(nb, 2, 4, 2)                       # index 2k + l//16
    ds = (d[:, None, None, None] * s).astype(np.float32)  # ggml: d * sc (f32) then * q
    y = ds[..., None] * q
    return y.astype(np.float32).reshape(-1)


# The added types (issue 12), written from the layouts in docs/gguf.md. Every product is exact
# in fp32, so evaluating in float32 numpy gives ggml's bits (one rounding for the add of a min).
KVALUES_IQ4NL = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89,
                          113], dtype=np.float32)
KVALUES_MXFP4 = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12],
                         dtype=np.float32)


def _nibbles32(qs):
    """[nb, 16] bytes -> [nb, 32] codes: low nibbles are elements 0..15, high ones 16..31."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1)


def _bits32(qh4):
    """[nb, 4] bytes (a little-endian u32) -> [nb, 32] bits, bit j = element j."""
    return np.unpackbits(qh4, axis=1, bitorder="little")


def dequant_q4_1(raw):
    b = _blocks(raw, 20)
    d, m = _f16_field(b, 0), _f16_field(b, 2)
    return (_nibbles32(b[:, 4:]).astype(np.float32) * d[:, None] + m[:, None]).reshape(-1)


def dequant_q5_0(raw):
    b = _blocks(raw, 22)
    d = _f16_field(b, 0)
    q = (_nibbles32(b[:, 6:]) | (_bits32(b[:, 2:6]) << 4)).astype(np.float32) - 16
    return (q * d[:, None]).reshape(-1)


def dequant_q5_1(raw):
    b = _blocks(raw, 24)
    d, m = _f16_field(b, 0), _f16_field(b, 2)
    q = (_nibbles32(b[:, 8:]) | (_bits32(b[:, 4:8]) << 4)).astype(np.float32)
    return (q * d[:, None] + m[:, None]).reshape(-1)


def dequant_iq4_nl(raw):
    b = _blocks(raw, 18)
    d = _f16_field(b, 0)
    return (d[:, None] * KVALUES_IQ4NL[_nibbles32(b[:, 2:])]).reshape(-1)


def dequant_mxfp4(raw):
    b = _blocks(raw, 17)
    e = b[:, 0].astype(np.uint32)
    bits = np.where(e < 2, np.uint32(0x00200000) << e, (e - 1) << 23).astype(np.uint32)
    d = bits.view(np.float32)  # 2^(e-128): half the E8M0 scale (the E2M1 table is doubled)
    return (KVALUES_MXFP4[_nibbles32(b[:, 1:])] * d[:, None]).reshape(-1)


def _k_positions():
    """For Q2_K/Q3_K: element e = 128h + 32j + l -> (byte index 32h + l, shift 2j, group)."""
    e = np.arange(256)
    h, j, l = e // 128, (e % 128) // 32, e % 32
    return 32 * h + l, 2 * j, 8 * h + 2 * j + l // 16, 4 * h + j, l


def dequant_q2_k(raw):
    b = _blocks(raw, 84)
    d, dmin = _f16_field(b, 80), _f16_field(b, 82)
    byte, shift, group, _, _ = _k_positions()
    q = ((b[:, 16:80][:, byte] >> shift) & 3).astype(np.float32)
    sc = b[:, 0:16][:, group]
    dl = (d[:, None] * (sc & 0x0F).astype(np.float32)).astype(np.float32)
    ml = (dmin[:, None] * (sc >> 4).astype(np.float32)).astype(np.float32)
    return (dl * q - ml).astype(np.float32).reshape(-1)


def dequant_q3_k(raw):
    b = _blocks(raw, 110)
    d = _f16_field(b, 108)
    byte, shift, group, hbit, l = _k_positions()
    s = b[:, 96:108].astype(np.int32)
    g = np.arange(16)
    lo = np.where(g < 8, s[:, np.minimum(g, 7)] & 0x0F, s[:, np.maximum(g - 8, 0)] >> 4)
    hi = (s[:, 8 + g % 4] >> (2 * (g // 4))) & 3
    scales = ((lo | (hi << 4)) - 32).astype(np.float32)           # [nb, 16]
    q = ((b[:, 32:96][:, byte] >> shift) & 3).astype(np.int32)
    q -= np.where((b[:, 0:32][:, l] >> hbit) & 1, 0, 4)
    dl = (d[:, None] * scales[:, group]).astype(np.float32)
    return (dl * q.astype(np.float32)).astype(np.float32).reshape(-1)


def dequant_q5_k(raw):
    b = _blocks(raw, 176)
    nb = b.shape[0]
    d, dmin = _f16_field(b, 0), _f16_field(b, 2)
    sc, m = _q4k_scale_min(b[:, 4:16])
    d1 = (d[:, None] * sc.astype(np.float32)).astype(np.float32)
    m1 = (dmin[:, None] * m.astype(np.float32)).astype(np.float32)
    qs = b[:, 48:].reshape(nb, 4, 32)
    q = np.empty((nb, 4, 2, 32), dtype=np.int32)
    q[:, :, 0, :] = qs & 0x0F
    q[:, :, 1, :] = qs >> 4
    q = q.reshape(nb, 8, 32)
    qh = b[:, 16:48]                                                # bit g of qh[l]
    q += ((qh[:, None, :] >> np.arange(8)[None, :, None]) & 1) * 16
    return (d1[:, :, None] * q.astype(np.float32) - m1[:, :, None]).astype(np.float32).reshape(-1)


def dequant_iq4_xs(raw):
    b = _blocks(raw, 136)
    nb = b.shape[0]
    d = _f16_field(b, 0)
    scales_h = b[:, 2:4].copy().view("<u2")[:, 0].astype(np.int32)
    g = np.arange(8)
    ls = ((b[:, 4 + g // 2].astype(np.int32) >> (4 * (g % 2))) & 0x0F) | \
        (((scales_h[:, None] >> (2 * g)) & 3) << 4)
    dl = (d[:, None] * (ls - 32).astype(np.float32)).astype(np.float32)   # [nb, 8]
    qs = b[:, 8:].reshape(nb * 8, 16)
    v = KVALUES_IQ4NL[_nibbles32(qs)].reshape(nb, 8, 32)
    return (dl[:, :, None] * v).astype(np.float32).reshape(-1)


_ADDED_DEQUANT = {"Q4_1": dequant_q4_1, "Q5_0": dequant_q5_0, "Q5_1": dequant_q5_1,
                  "IQ4_NL": dequant_iq4_nl, "MXFP4": dequant_mxfp4, "Q2_K": dequant_q2_k,
                  "Q3_K": dequant_q3_k, "Q5_K": dequant_q5_k, "IQ4_XS": dequant_iq4_xs}


def dequantize(raw, type_id, n):
    name = GGML_TYPES[type_id][0] if type_id in GGML_TYPES else str(type_id)
    raw = np.asarray(raw, dtype=np.uint8)
    if name == "F32":
        out = raw.view("<f4").astype(np.float32)
    elif name == "F64":
        out = raw.view("<f8").astype(np.float64)
    elif name == "F16":
        out = raw.view("<u2").view(np.float16).astype(np.float32)
    elif name == "BF16":
        out = bf16_bits_to_f32(raw.view("<u2"))
    elif name == "Q8_0":
        out = dequant_q8_0(raw)
    elif name == "Q4_0":
        out = dequant_q4_0(raw)
    elif name == "Q4_K":
        out = dequant_q4_k(raw)
    elif name == "Q6_K":
        out = dequant_q6_k(raw)
    elif name in _ADDED_DEQUANT:
        out = _ADDED_DEQUANT[name](raw)
    else:
        raise GGUFError("dequantization of %s is not implemented" % name)
    assert out.size == n, (name, out.size, n)
    return out


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="dump GGUF metadata and tensor infos")
    ap.add_argument("path")
    a = ap.parse_args(argv)
    r = GGUFReader(a.path)
    print("GGUF v%d, alignment %d, %d keys, %d tensors" % (r.version, r.alignment, len(r.metadata), len(r.tensors)))
    for k, v in r.metadata.items():
        if isinstance(v, (list, np.ndarray)) and len(v) > 16:
            v = "[%d items] %s ..." % (len(v), list(v[:8]))
        print("  %s = %s" % (k, v))
    for ti in r.tensors.values():
        print("  %-40s %-6s ne=%s" % (ti.name, ti.type_name, list(ti.ne)))


if __name__ == "__main__":
    main()

"""Calls an emitted g4kc_ host function of kernels_cuda.so with a fake api (no GPU needed).

usage: cuda_host_call.py LIB SYMBOL
Tensors and weights get fake device addresses that encode their ids; the fake `linear` prints
each call and returns 0 (then the row-kernel launch fails: n_tokens is 0, an invalid grid, and
no kernel ever runs), and a second call makes `linear` fail with 7, which the wrapper returns.
"""
import ctypes as C
import sys

lib = C.CDLL(sys.argv[1])
lib.g4kc_abi_version.restype = C.c_uint32
lib.g4kc_scratch_floats.restype = C.c_int64
print("abi", lib.g4kc_abi_version(), "scratch", lib.g4kc_scratch_floats())


class Tensor(C.Structure):
    _fields_ = [("data", C.c_void_p), ("width", C.c_int64)]


class Weight(C.Structure):
    _fields_ = [("data", C.c_void_p), ("ggml_type", C.c_uint32), ("n_dims", C.c_int32),
                ("ne", C.c_int64 * 4), ("f32", C.c_void_p)]


LINEAR = C.CFUNCTYPE(C.c_int, C.c_void_p, C.POINTER(Weight), C.c_void_p, C.c_int64, C.c_void_p,
                     C.c_int, C.c_void_p)


class Api(C.Structure):
    _fields_ = [("abi_version", C.c_uint32), ("linear", LINEAR)]


class Call(C.Structure):
    _fields_ = [("api", C.POINTER(Api)), ("rt", C.c_void_p), ("n_tokens", C.c_int64),
                ("stream", C.c_void_p), ("tensors", C.POINTER(Tensor)),
                ("weights", C.POINTER(Weight)), ("scratch", C.c_void_p)]


N = 4096
tensors = (Tensor * N)(*[Tensor((i + 1) << 20, 128) for i in range(N)])
weights = (Weight * N)(*[Weight((i + 1) << 32, 8, 2, (128, 256, 1, 1), 0) for i in range(N)])
result = [0]


def linear(rt, w, x, tokens, y, round_bf16, stream):
    print("linear w=%d x=%d y=%d tokens=%d round=%d" %
          ((w.contents.data >> 32) - 1, (x >> 20) - 1, (y >> 20) - 1, tokens, round_bf16))
    return result[0]


fn = LINEAR(linear)
api = Api(1, fn)
call = Call(C.pointer(api), None, 0, None, tensors, weights, None)
f = getattr(lib, sys.argv[2])
f.restype = C.c_int
print("launch failed" if f(C.byref(call)) != 0 else "launch returned 0")
result[0] = 7
print("linear error ->", f(C.byref(call)))

"""Matrix products on the GPU through cuBLAS called directly (ctypes on the libcublas CuPy loaded).

Why not ``cupy.matmul``: CuPy refuses every cuBLAS call while a stream is being captured into a CUDA graph
("calling cuBLAS API during stream capture is currently unsupported"), and a captured training step is the
fastest way to run one (luatorch_py.cutorch.captureStep).  cuBLAS itself captures fine with a handle of its own
(one per device), bound to the current stream and given a workspace of that stream's own.  It is also cheaper per
call: one ctypes call instead of CuPy's generic matmul dispatch, and ``beta`` lets a gradient accumulate in the
product itself (gradWeight += scale * a @ b in one launch, no scratch matrix).

``gemm`` returns False when it cannot take the product (no libcublas found, an integer dtype, a layout cuBLAS
cannot express without a copy); the caller then falls back to the array module's matmul.
"""
import ctypes
import os

import numpy as np

# lib: the library (or 'fake', tests/fakecupy); handles: device id -> cuBLAS handle (a handle works on the device
# current when it was made); bound: device id -> the stream its handle is bound to; workspaces: (device id, stream)
# -> that stream's workspace (cublasSetStream resets a handle to cuBLAS' default pool, and one workspace used by two
# streams at once would race)
_state = {'lib': None, 'handles': {}, 'bound': {}, 'workspaces': {}, 'tried': False}
_N, _T = 0, 1
_WORKSPACE = 32 << 20     # cuBLAS' recommended workspace on Hopper


def _find_lib():
    """libcublas as loaded by CuPy (so that both use one library), else found by name."""
    try:
        import cupy.cuda.cublas  # noqa: F401  (loads libcublas)
    except Exception:
        return None
    try:
        with open('/proc/self/maps') as f:
            for line in f:
                path = line.split()[-1] if '/' in line else ''
                base = os.path.basename(path)
                if base.startswith('libcublas.so') and os.path.exists(path):
                    return ctypes.CDLL(path)
    except OSError:
        pass
    for name in ('libcublas.so.12', 'libcublas.so.13', 'libcublas.so'):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def _init():
    _state['tried'] = True
    if os.environ.get('LUATORCH_CUBLAS', '').lower() == 'cupy':
        return None
    import cupy
    fake = getattr(cupy, '_cublas_gemm', None)      # tests/fakecupy: cuBLAS's column-major semantics in numpy
    if fake is not None:
        _state.update(lib='fake', fake=fake, fns={np.dtype(np.float32): 'fake', np.dtype(np.float64): 'fake'})
        return fake
    lib = _find_lib()
    if lib is None:
        return None
    _state['lib'] = lib
    if _handle(cupy.cuda.runtime.getDevice()) is None:     # (no usable cuBLAS: the array module's matmul)
        _state['lib'] = None
        return None
    for fn, ct in (('cublasSgemm_v2', ctypes.c_float), ('cublasDgemm_v2', ctypes.c_double)):
        f = getattr(lib, fn)
        f.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.POINTER(ct), ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                      ctypes.POINTER(ct), ctypes.c_void_p, ctypes.c_int]
        f.restype = ctypes.c_int
    lib.cublasSetStream_v2.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    _state.update(fns={np.dtype(np.float32): (lib.cublasSgemm_v2, ctypes.c_float),
                       np.dtype(np.float64): (lib.cublasDgemm_v2, ctypes.c_double)},
                  current_stream=cupy.cuda.get_current_stream, current_device=cupy.cuda.get_device_id)
    return lib


def _handle(dev):
    """Device ``dev``'s cuBLAS handle, made on first use (None if cuBLAS cannot make one)."""
    h = _state['handles'].get(dev)
    if h is None:
        import cupy
        h = ctypes.c_void_p()
        with cupy.cuda.Device(dev):
            if _state['lib'].cublasCreate_v2(ctypes.byref(h)) != 0:
                return None
        _state['handles'][dev] = h
    return h


def _bind(dev, h, stream):
    """Bind handle ``h`` (device ``dev``) to ``stream`` with that stream's own workspace, made on first use: outside
    a capture (captureStep's warm-up calls run on its stream first)."""
    ws = _state['workspaces'].get((dev, stream))
    if ws is None:
        import cupy
        with cupy.cuda.Device(dev):
            ws = _state['workspaces'][(dev, stream)] = cupy.empty(_WORKSPACE, dtype=np.uint8)
    lib = _state['lib']
    if (lib.cublasSetStream_v2(h, ctypes.c_void_p(stream)) != 0
            or lib.cublasSetWorkspace_v2(h, ctypes.c_void_p(ws.data.ptr), ctypes.c_size_t(_WORKSPACE)) != 0):
        raise RuntimeError(f'cuBLAS: cannot bind the handle of device {dev} to stream {stream:#x}')
    _state['bound'][dev] = stream


def available():
    if not _state['tried']:
        _init()
    return _state['lib'] is not None


def _colmajor(x):
    """(op, ld) of 2-D row-major-indexed ``x`` read by column-major cuBLAS as x^T (op N) or, for a transposed
    view, as x itself (op T); None when neither layout fits (the caller falls back)."""
    r, c = x.shape
    isz = x.itemsize
    s0, s1 = x.strides
    if (s1 == isz or c == 1) and s0 % isz == 0 and (s0 // isz >= max(c, 1) or r == 1):
        return _N, max(s0 // isz if r > 1 else c, 1)
    if (s0 == isz or r == 1) and s1 % isz == 0 and (s1 // isz >= max(r, 1) or c == 1):
        return _T, max(s1 // isz if c > 1 else r, 1)
    return None


def gemm(a, b, out, alpha=1.0, beta=0.0):
    """``out = alpha * a @ b + beta * out`` for 2-D CuPy arrays through cuBLAS; False when it cannot."""
    if not _state['tried']:
        _init()
    if _state['lib'] is None:
        return False
    fns = _state['fns'].get(out.dtype)
    if fns is None or a.dtype != out.dtype or b.dtype != out.dtype or a.ndim != 2 or b.ndim != 2 or out.ndim != 2:
        return False
    m, k = a.shape
    n = b.shape[1]
    if m == 0 or n == 0:
        return True
    lc = _colmajor(out)
    la, lb = _colmajor(a), _colmajor(b)
    if lc is None or lc[0] != _N or la is None or lb is None:
        return False
    if _state['lib'] == 'fake':
        _state['fake'](lb[0], la[0], n, m, k, alpha, b, lb[1], a, la[1], beta, out, lc[1])
        return True
    fn, ct = fns
    dev = out.data.device_id
    if dev != _state['current_device']():
        return False        # (a handle works on the current device: the array module's product handles the rest)
    h = _handle(dev)
    if h is None:
        return False
    stream = _state['current_stream']().ptr
    if _state['bound'].get(dev) != stream:
        _bind(dev, h, stream)
    if k == 0:
        if beta == 0:
            out.fill(0)
        elif beta != 1:
            out *= beta
        return True
    # row-major out (m x n) is column-major out^T (n x m) = op(b^T) op(a^T)
    st = fn(h, lb[0], la[0], n, m, k, ctypes.byref(ct(alpha)), b.data.ptr, lb[1], a.data.ptr,
            la[1], ctypes.byref(ct(beta)), out.data.ptr, lc[1])
    if st != 0:
        raise RuntimeError(f'cuBLAS gemm failed with status {st} (m={m}, n={n}, k={k}, dtype {out.dtype})')
    return True

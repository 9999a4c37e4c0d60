"""The one place that imports numpy or CuPy directly.

Everything above this layer works on "the array module of its tensors" (``xp``): numpy on the CPU, CuPy on the
GPU.  CuPy is imported lazily, the first time a CUDA type is used, so the package works (and imports fast) on a
machine without it.
"""
import math
import threading
import types

import numpy as np

from .._fork import hold_across_fork

_cupy = None          # the cupy module once imported
_cupy_error = None    # why it could not be used (str), once tried

CUDA_INSTALL_HINT = ("install CuPy with `pip install luatorch_py[cuda12]` (or `[cuda13]`) on a machine with an "
                     "NVIDIA GPU and driver")


class CudaUnavailableError(RuntimeError):
    """Raised when a CUDA type is asked for and CuPy or a device is missing."""


def _try_cupy():
    global _cupy, _cupy_error
    if _cupy is not None or _cupy_error is not None:
        return _cupy
    try:
        import cupy
    except Exception as e:  # ImportError, or a broken CUDA install raising at import
        _cupy_error = f"CuPy is not installed ({type(e).__name__}: {e}); {CUDA_INSTALL_HINT}"
        return None
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        _cupy_error = f"CuPy is installed but no CUDA device is usable ({type(e).__name__}: {e})"
        return None
    if n < 1:
        _cupy_error = "CuPy is installed but no CUDA device was found"
        return None
    _cupy = cupy
    return _cupy


def cuda_available():
    return _try_cupy() is not None


def cupy():
    """The cupy module, or a CudaUnavailableError saying what is missing and how to install it."""
    m = _try_cupy()
    if m is None:
        raise CudaUnavailableError(f"CUDA is not available: {_cupy_error}")
    return m


def is_cuda_array(a):
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def host_not_finite(a):
    """Whether a CPU array holds a NaN or an inf (one sum over it), to take an exact slow path for them.  Always False
    for a device array: the test would wait for the device on every call, so the GPU keeps its fast path's numbers."""
    return type(a) is np.ndarray and not math.isfinite(float(a.sum()))


def array_module(a):
    """numpy or cupy, whichever owns array ``a`` (Chainer's get_array_module)."""
    if _cupy is None or type(a) is np.ndarray:      # the common case, without a call: this runs per layer call
        return np
    return _cupy if isinstance(a, _cupy.ndarray) else np


def address(a):
    """Address in bytes of the first element of ``a``."""
    if type(a) is np.ndarray:
        return a.__array_interface__['data'][0]
    return a.data.ptr


def as_strided(base, shape, strides, offset=0):
    """A writable view of 1-D array ``base`` with element (not byte) offset and strides."""
    isz = base.itemsize
    src = base[offset:] if offset else base
    if type(base) is np.ndarray:
        return np.lib.stride_tricks.as_strided(src, shape, tuple(s * isz for s in strides), writeable=True)
    return _cupy.lib.stride_tricks.as_strided(src, shape, tuple(s * isz for s in strides))


CACHE_LINE = 64


def empty_aligned(shape, dtype, xp=np):
    """An uninitialized C-contiguous array of array module ``xp`` whose first element starts a cache line.  numpy
    aligns to 16 bytes only, and a copy whose destination lies 16 bytes (mod 64) past its source runs at half speed
    here (glibc's ``rep movsb`` on AMD EPYC: im2col's row copies took 0.3 ms instead of 0.15): buffers that are
    copied into one another are all cache-line aligned, so their offsets always agree.  (CuPy's allocations are
    aligned already.)"""
    if xp is not np:
        return xp.empty(shape, dtype=dtype)
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for s in shape:
        nbytes *= s
    raw = np.empty(nbytes + CACHE_LINE, np.uint8)
    skip = -raw.ctypes.data % CACHE_LINE
    return raw[skip:skip + nbytes].view(dtype).reshape(shape)


def to_numpy(a):
    return a if type(a) is np.ndarray else _cupy.asnumpy(a)


def to_device(a, cuda):
    """``a`` on the CPU (cuda False) or the current GPU (cuda True); no copy when it is already there."""
    if cuda:
        return cupy().asarray(a)
    return to_numpy(a)


# -- matrix products: cuBLAS directly on the GPU (capturable, beta accumulation), numpy's matmul on the CPU ----------
def matmul(a, b, out):
    """``out = a @ b`` (2-D, or numpy broadcasting on the CPU)."""
    if type(out) is np.ndarray:
        return np.matmul(a, b, out=out)
    from . import cublas
    if not cublas.gemm(a, b, out):
        _cupy.matmul(a, b, out=out)
    return out


# CPU scratch is bounded: a product or update of more elements than this goes through a scratch of this many
# elements, block by block (Torch7 keeps no such buffers: BLAS accumulates with beta=1 and axpy needs none)
_CHUNK = 1 << 16
# a small CPU product ``a @ b`` (addmm's scratch path: a gradWeight) with more columns than rows (by _WIDE) is computed
# as (b.T @ a.T).T, so that the larger dim is the product's rows: OpenBLAS shares that out better between its threads.
# Measured on the 2-core machine, 2 BLAS threads, one LeNet step alternating with and without, 400 steps each: the
# first convolution's 20 x 25 (K 36864) and the second's 50 x 500 (K 4096) transposed make the backward 0.94x and the
# step 0.96-0.97x (two runs; 1.00x in a third on a quieter machine, never slower); 1 BLAS thread: about 0.99x.
# (500 x 50 is not faster transposed)
_WIDE = 1.25
_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def product_plan(out, a, b, buffer=None, name='_mm'):
    """How the CPU computes a small product ``a @ b`` the size of ``out`` into scratch: ``(lhs, rhs, scratch, result)``,
    where ``np.matmul(lhs, rhs, out=scratch)`` makes ``result`` (the scratch or its transpose) ``a @ b``.  With more
    columns than rows (by _WIDE) the product is computed transposed, ``b.T @ a.T`` (see _WIDE).  The scratch is
    ``buffer(name, shape)`` (a module's ``_buffer``), else new.  addmm's small path and Linear's inline backward
    both take it, so a gradient has the same bits whichever computes it."""
    if out.ndim == 2 and a.ndim == b.ndim == 2 and out.shape[1] >= _WIDE * out.shape[0]:
        shape = out.shape[::-1]
        scratch = buffer(name, shape) if buffer is not None else np.empty(shape, out.dtype)
        return b.T, a.T, scratch, scratch.T
    scratch = buffer(name, out.shape) if buffer is not None else np.empty(out.shape, out.dtype)
    return a, b, scratch, scratch


def addmm(out, a, b, alpha=1.0, buffer=None, name='_mm'):
    """``out += alpha * a @ b`` (a gradient accumulating, 2-D): one cuBLAS call with beta=1 on the GPU.  On the CPU a
    small product goes through scratch array ``buffer(name, out.shape)`` (a module's ``_buffer``); a large one is
    written straight into ``out`` when ``out`` holds only +0.0 (just zeroed: checked, one integer max over it, cheaper
    than the add it saves), else added block of rows by block of rows through a scratch of at most ``_CHUNK``
    elements, so no module keeps a second copy of its gradient."""
    host = type(out) is np.ndarray
    if not host:
        from . import cublas
        if cublas.gemm(a, b, out, alpha, 1.0):
            return out
    if not host or out.size <= _CHUNK or out.ndim != 2:      # (CuPy without cuBLAS: one scratch product)
        if host:
            lhs, rhs, scratch, tmp = product_plan(out, a, b, buffer, name)
            np.matmul(lhs, rhs, out=scratch)
        else:
            tmp = buffer(name, out.shape) if buffer is not None else _cupy.empty(out.shape, out.dtype)
            _cupy.matmul(a, b, out=tmp)
        if alpha != 1:
            tmp *= alpha
        out += tmp
        return out
    u = _UINT.get(out.itemsize)
    if u is not None and out.dtype.kind == 'f' and not out.view(u).max():
        return mm_over(out, a, b, alpha)     # 0 + x is x (but for x = -0.0, whose sum with +0.0 is +0.0)
    m, n = out.shape
    r = max(1, _CHUNK // n)
    tmp = buffer(name, (r, n)) if buffer is not None else np.empty((r, n), out.dtype)
    for i in range(0, m, r):
        j = min(i + r, m)
        t = tmp[:j - i]
        np.matmul(a[i:j], b, out=t)
        if alpha != 1:
            t *= alpha
        out[i:j] += t
    return out


LAZY_ZERO_MIN = _CHUNK      # (lazy_zero_ok's size bound, for a quick test first)


def lazy_zero_ok(a):
    """Whether zeroGradParameters may leave gradient array ``a`` unzeroed for its next accumulation to write over
    (nn.module.zero_later, ``mm_over``): where ``addmm`` would find it zeroed and write the product straight into it
    -- a large float CPU array, contiguous so that the accumulation's 2-D view of it (rows x the rest) is one -- so
    the numbers are the same as zeroing and accumulating."""
    return (type(a) is np.ndarray and a.ndim >= 2 and a.size > _CHUNK and a.flags.c_contiguous
            and a.dtype.kind == 'f' and a.itemsize in _UINT)


def mm_over(out, a, b, alpha=1.0):
    """``out = alpha * a @ b`` written over ``out`` (CPU): addmm's product on a zeroed ``out``."""
    np.matmul(a, b, out=out)
    if alpha != 1:
        out *= alpha
    return out


def sub_scaled(p, g, lr, buffer=None, name='_upd'):
    """``p -= lr * g`` (a parameter update): one kernel on the GPU; on the CPU numpy through scratch array
    ``buffer(name, ...)`` of at most ``_CHUNK`` elements (no allocation per call; a large contiguous parameter is
    updated block by block, which also keeps the scratch in cache)."""
    if type(p) is np.ndarray:
        if lr == 1:
            p -= g
        elif p.size <= _CHUNK or not (p.flags.c_contiguous and g.flags.c_contiguous and p.shape == g.shape):
            tmp = buffer(name, p.shape) if buffer is not None else np.empty_like(p)
            np.multiply(g, lr, out=tmp)
            p -= tmp
        else:
            pf, gf = p.reshape(-1), g.reshape(-1)
            n = pf.size
            tmp = buffer(name, (_CHUNK,)) if buffer is not None else np.empty(_CHUNK, p.dtype)
            mul = np.multiply
            for i in range(0, n, _CHUNK):
                j = min(i + _CHUNK, n)
                t = tmp[:j - i]
                mul(gf[i:j], lr, out=t)
                pf[i:j] -= t
        return p
    if fused_sgd_ok(p, g):
        from . import gpu_optim
        gpu_optim.axpy(p, g, -lr)
    else:
        p -= g * lr
    return p


_ones = {}
_add_reduce = np.add.reduce
_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_SUM_GEMV_MIN = 1024        # (shorter sums: numpy's own, no BLAS call)
_SUM_GEMV_MAX = 1 << 20     # (the kept vectors of ones: at most 8 MB each)


def c_exponent(x, e):
    """The exponent operand that makes ``power(x, .)`` C's pow (powf for float32) elementwise: on the CPU an array,
    so that numpy calls C's pow instead of its own shortcuts for 2 and 0.5; on CUDA the number (CuPy's kernel calls
    pow as it is)."""
    return np.full(x.shape, e, x.dtype) if type(x) is np.ndarray else x.dtype.type(e)


def argsort_stable(key, axis):
    """Indices sorting ``key`` along ``axis`` stably (ties in their order): numpy's and CuPy's (>= 13, whose
    argsort takes ``kind='stable'``, its only kind) alike."""
    return array_module(key).argsort(key, axis=axis, kind='stable')


def put_along_axis(a, idx, vals, axis):
    """``a``'s elements at ``idx`` along ``axis`` (the others: their own positions) set to ``vals`` (an array shaped
    like idx, or a number): numpy's put_along_axis, on CUDA one advanced-index assignment."""
    if type(a) is np.ndarray:
        np.put_along_axis(a, idx, vals, axis)
        return
    grids = list(array_module(a).indices(idx.shape))
    grids[axis] = idx
    a[tuple(grids)] = vals


def _cublas_ok():
    from . import cublas
    return cublas.available()


def ones_for_sum(g, axis, out):
    """The kept vector of ones with which a CPU sum of 2-D ``g`` along ``axis`` into ``out`` is BLAS's product (see
    sum_into), or None where it is numpy's add.reduce: a long sum (1024 to 2^20 numbers), float32/64, contiguous.
    Over both cores that product is 3-4x numpy's pairwise sum (LeNet's first convolution, 20 sums of 36864: 42 us
    against 155); Torch7's bias gradients are such products (Linear) or plain loops (the convolutions)."""
    n = g.shape[axis] if g.ndim == 2 and axis in (0, 1) else 0
    if not (_SUM_GEMV_MIN <= n <= _SUM_GEMV_MAX and g.dtype in _BLAS_FLOATS and g.dtype == out.dtype
            and (g.flags.c_contiguous or g.flags.f_contiguous)):
        return None
    key = (n, g.dtype)
    ones = _ones.get(key)
    if ones is None:
        ones = _ones[key] = np.ones(n, g.dtype)
    return ones


def sum_into(out, g, axis, ones):
    """``out`` = 2-D numpy ``g`` summed along ``axis``: with ``ones`` (ones_for_sum's) as BLAS's product, else numpy's
    add.reduce (the ufunc itself: ndarray.sum and np.sum go through Python wrappers).  add_sums and Linear's inline
    backward both sum this way, so a gradient has the same bits whichever computes it."""
    if ones is None:
        _add_reduce(g, axis, None, out)
    elif axis == 1:
        np.matmul(g, ones, out=out)
    else:
        np.matmul(ones, g, out=out)


def add_sums(out, g, axis, alpha=1.0, buffer=None, name='_sum'):
    """``out += alpha * g.sum(axis)`` for 2-D ``g`` (a bias gradient): on the GPU one cuBLAS product with a kept
    vector of ones (beta=1: no scratch, one launch); on the CPU a sum into scratch ``buffer(name, out.shape)``."""
    if type(out) is not np.ndarray and out.ndim == 1 and g.ndim == 2 and axis in (0, 1) and _cublas_ok():
        n = g.shape[axis]
        key = (n, out.dtype, out.data.device_id)
        ones = _ones.get(key)
        if ones is None:
            ones = _ones[key] = _cupy.ones((n, 1), dtype=out.dtype)
        from . import cublas
        a, b = (g.T, ones) if axis == 0 else (g, ones)
        if cublas.gemm(a, b, out.reshape(-1, 1), alpha, 1.0):
            return out
    tb = buffer(name, out.shape) if buffer is not None else array_module(out).empty(out.shape, out.dtype)
    if type(g) is np.ndarray:
        sum_into(tb, g, axis, ones_for_sum(g, axis, tb))
    else:
        g.sum(axis=axis, out=tb)
    if alpha != 1:
        tb *= alpha
    out += tb
    return out


def fused_sgd_ok(x, dfdx):
    """Whether optim.sgd can run as one kernel: CUDA float arrays, contiguous, of one shape and dtype."""
    return (type(x) is not np.ndarray and type(dfdx) is not np.ndarray and x.dtype == dfdx.dtype and x.dtype.kind == 'f'
            and x.shape == dfdx.shape and x.flags.c_contiguous and dfdx.flags.c_contiguous)


def fused_optim(name, *args):
    """optim.<name>'s update as one kernel on CUDA arrays (backend/gpu_optim.py, function ``name``: sgd, adam,
    adamax, adagrad, adadelta, rmsprop, nag_pre, nag, asgd, rprop); the caller checks the arrays with fused_sgd_ok."""
    from . import gpu_optim
    getattr(gpu_optim, name)(*args)


class _LazyModule(types.ModuleType):
    """A backend submodule not run yet: the first attribute read runs it, under a lock, and only then makes it a
    plain module.  (importlib's LazyLoader before Python 3.12.3 made it a plain module first: a second thread reading
    meanwhile found it half run and got an AttributeError, e.g. two threads' first MSECriterion at once,
    CPython gh-114763.)"""

    def __getattribute__(self, attr):
        get = object.__getattribute__
        if get(self, '__class__') is _LazyModule:
            spec = get(self, '__spec__')
            with _lazy_lock:
                # (re-checked under the lock: another thread may have run it; reads by the module's own code
                # while it runs, through module.__dict__, must not run it again)
                if get(self, '__class__') is _LazyModule and spec.name not in _lazy_running:
                    _lazy_running.add(spec.name)
                    try:
                        spec.loader.exec_module(self)
                        self.__class__ = types.ModuleType
                    finally:
                        _lazy_running.discard(spec.name)
        return types.ModuleType.__getattribute__(self, attr)


_lazy_lock = threading.RLock()
_lazy_running = set()       # names of the lazy submodules being run (by the thread holding _lazy_lock)


def _fresh_lazy_lock():
    global _lazy_lock
    _lazy_lock = threading.RLock()
    _lazy_running.clear()


# (a fork while another thread runs a lazy submodule would leave the child that lock held forever, and the module
# half run: its first read there hung)
hold_across_fork(lambda: _lazy_lock, _fresh_lazy_lock)


def _lazy_submodules(*names):
    """Register backend submodules that load on first attribute access (_LazyModule): the CUDA kernel modules are
    mostly kernel source and their numpy twins, so ``import luatorch_py`` skips them until a module first computes
    with them (``from ..backend import gpu_loss`` binds the not-yet-loaded module)."""
    import importlib.util
    import sys
    for name in names:
        full = f'{__name__}.{name}'
        mod = sys.modules.get(full)
        if mod is None:
            spec = importlib.util.find_spec(full)
            mod = importlib.util.module_from_spec(spec)
            mod.__class__ = _LazyModule
            sys.modules[full] = mod
        globals()[name] = mod


_lazy_submodules('gpu_conv', 'gpu_elementwise', 'gpu_loss', 'gpu_optim', 'gpu_pool')
# (loaded with the package, as when nn loaded whole: README's luatorch_py.backend.parallel.set_threads(n) needs it
# before any nn file that imports it; it is small and imports nothing of ours at load)
from . import parallel  # noqa: E402,F401

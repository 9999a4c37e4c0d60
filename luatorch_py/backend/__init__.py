"""The one place that imports numpy or CuPy directly.

Everything above this layer works on "the array module of its tensors" (``xp``): numpy on the CPU, CuPy on the
GPU.  CuPy is imported lazily, the first time a CUDA type is used, so the package works (and imports fast) on a
machine without it.
"""
import numpy as np

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


def addmm(out, a, b, alpha=1.0, buffer=None, name='_mm'):
    """``out += alpha * a @ b`` (a gradient accumulating): one cuBLAS call with beta=1 on the GPU; on the CPU the
    product goes through scratch array ``buffer(name, out.shape)`` (a module's ``_buffer``)."""
    if type(out) is not np.ndarray:
        from . import cublas
        if cublas.gemm(a, b, out, alpha, 1.0):
            return out
    tmp = buffer(name, out.shape) if buffer is not None else array_module(out).empty(out.shape, out.dtype)
    array_module(out).matmul(a, b, out=tmp)
    if alpha != 1:
        tmp *= alpha
    out += tmp
    return out


def sub_scaled(p, g, lr, buffer=None, name='_upd'):
    """``p -= lr * g`` (a parameter update): one kernel on the GPU; on the CPU numpy through scratch array
    ``buffer(name, p.shape)`` (no allocation per call)."""
    if type(p) is np.ndarray:
        if lr == 1:
            p -= g
        else:
            tmp = buffer(name, p.shape) if buffer is not None else np.empty_like(p)
            np.multiply(g, lr, out=tmp)
            p -= tmp
        return p
    if fused_sgd_ok(p, g):
        from . import gpu_optim
        gpu_optim.axpy(p, g, -lr)
    else:
        p -= g * lr
    return p


_ones = {}


def _cublas_ok():
    from . import cublas
    return cublas.available()


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
    g.sum(axis=axis, out=tb)        # the method: numpy's xp.sum wrapper adds ~0.7 µs a call
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

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

"""Torch7's ``cutorch`` over CuPy: device queries and control.  ``from luatorch_py import cutorch``.

Devices are numbered from 0 (Lua's cutorch counts from 1).  Without CuPy or a device, ``isAvailable()`` is False,
``getDeviceCount()`` 0, and the calls that need a device raise ``CudaUnavailableError`` saying what is missing.
"""
import numbers

from . import backend
from . import random as _random


def isAvailable():
    """Whether CuPy is installed and a CUDA device is usable."""
    return backend.cuda_available()


def getDeviceCount():
    """How many CUDA devices there are (0 without CuPy or a device)."""
    return backend.cupy().cuda.runtime.getDeviceCount() if isAvailable() else 0


def _device_index(device, fn):
    n = backend.cupy().cuda.runtime.getDeviceCount()      # cupy() raises the clear error when there is none
    # numpy ints too (a device from np.arange or argmax): Lua takes any whole number
    if isinstance(device, bool) or not isinstance(device, numbers.Integral) or not 0 <= device < n:
        raise ValueError(f"cutorch.{fn}: expected a device index in [0, {n - 1}] (0-based), got {device!r}")
    return int(device)


def setDevice(device):
    """Make ``device`` (0-based) current: tensors converted by ``cuda()`` from now on are put there."""
    backend.cupy().cuda.Device(_device_index(device, 'setDevice')).use()


def getDevice():
    """The current device, 0-based."""
    return backend.cupy().cuda.runtime.getDevice()


def synchronize():
    """Wait until the current device has finished all its work."""
    backend.cupy().cuda.runtime.deviceSynchronize()


def manualSeed(seed):
    """Seed the stream GPU random fills draw from.  Here that is Torch7's global stream (GPU fills draw on the CPU
    and copy, so a seed gives the same numbers on both devices): this is ``torch.manualSeed(seed)``."""
    _random.manualSeed(seed)


manualSeedAll = manualSeed


def seed():
    """Reseed the stream GPU fills draw from (Torch7's global one, as ``manualSeed``) at random; returns the seed."""
    return _random.seed()


seedAll = seed


def initialSeed():
    """The seed last given to the stream GPU fills draw from (``torch.initialSeed()``)."""
    return _random.initialSeed()


def getMemoryUsage(device=None):
    """``(free_bytes, total_bytes)`` of ``device`` (0-based; default the current one), as cutorch's."""
    cp = backend.cupy()
    with cp.cuda.Device(getDevice() if device is None else _device_index(device, 'getMemoryUsage')):
        free, total = cp.cuda.runtime.memGetInfo()
    return free, total


def captureStep(fn, inputs=(), warmup=2):
    """A training step recorded into a CUDA graph and replayed: ``step = cutorch.captureStep(fn, inputs=(x, y))``,
    then ``step()`` once per step.  ``fn()`` takes no arguments and does one step on CUDA tensors (zeroGradParameters,
    forward, ``crit.forwardDevice``, backward, updateParameters or an optim step); ``step()`` returns what it
    returned (e.g. the loss tensor, refreshed by every replay).  The first ``warmup`` calls run ``fn`` eagerly, the
    next captures and launches it, later ones only launch the graph: one launch and no Python per step.

    Copy each new batch into the same input tensors (``x.copy(batch)``); the ``inputs`` given are checked not to have
    changed storage or size.  Numbers passed as Python values (a learning rate) are fixed at capture.  A step that
    synchronizes with the host, copies host data or allocates device memory while captured raises
    ``CaptureError`` saying which (docs/cuda.md)."""
    from .backend.capture import CapturedStep
    backend.cupy()
    return CapturedStep(fn, inputs, warmup)


def __getattr__(name):
    if name == 'CaptureError':
        from .backend.capture import CaptureError
        return CaptureError
    raise AttributeError(f"module 'luatorch_py.cutorch' has no attribute {name!r}")

"""backend/cublas.py's handle and workspace bookkeeping, against a recording stand-in for libcublas (no GPU needed):
one handle per device, each bound to the current stream with that stream's own workspace."""
import ctypes
import sys
import types

import numpy as np
import pytest

from luatorch_py.backend import cublas


class _Ptr:
    def __init__(self, ptr, device_id):
        self.ptr, self.device_id = ptr, device_id


class _DevArray:
    """What gemm reads of a CuPy array: shape, strides, dtype and data.ptr/device_id."""
    def __init__(self, a, device_id=0):
        self.a = a
        self.shape, self.strides, self.dtype, self.ndim, self.itemsize = a.shape, a.strides, a.dtype, a.ndim, a.itemsize
        self.data = _Ptr(a.__array_interface__['data'][0], device_id)


class _Lib:
    def __init__(self):
        self.calls, self.next_handle, self.device = [], 100, [0]

    def cublasCreate_v2(self, ref):
        ref._obj.value = self.next_handle
        self.calls.append(('create', self.next_handle, self.device[0]))
        self.next_handle += 1
        return 0

    def cublasSetStream_v2(self, h, stream):
        self.calls.append(('stream', h.value, stream.value or 0))
        return 0

    def cublasSetWorkspace_v2(self, h, ptr, size):
        self.calls.append(('workspace', h.value, ptr.value, size.value))
        return 0


@pytest.fixture
def fake(monkeypatch):
    lib = _Lib()
    stream, device = [types.SimpleNamespace(ptr=0)], [0]

    class Device:
        def __init__(self, i):
            self.i = i

        def __enter__(self):
            self.prev, lib.device[0] = lib.device[0], self.i

        def __exit__(self, *a):
            lib.device[0] = self.prev

    made = []

    def empty(n, dtype):
        made.append((n, lib.device[0]))
        return _DevArray(np.empty(16, np.uint8), lib.device[0])

    fake_cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(Device=Device), empty=empty)
    monkeypatch.setitem(sys.modules, 'cupy', fake_cupy)
    products = []

    def sgemm(h, *args):
        products.append(h.value)
        return 0
    monkeypatch.setattr(cublas, '_state', {
        'lib': lib, 'handles': {}, 'bound': {}, 'workspaces': {}, 'tried': True,
        'fns': {np.dtype(np.float32): (sgemm, ctypes.c_float)},
        'current_stream': lambda: stream[0], 'current_device': lambda: device[0]})
    return types.SimpleNamespace(lib=lib, stream=stream, device=device, made=made, products=products)


def _product(device_id=0):
    a = _DevArray(np.ones((2, 3), np.float32), device_id)
    b = _DevArray(np.ones((3, 4), np.float32), device_id)
    return cublas.gemm(a, b, _DevArray(np.zeros((2, 4), np.float32), device_id))


def test_one_handle_per_device_each_stream_with_its_own_workspace(fake):
    assert _product() is True and _product() is True
    assert [c[0] for c in fake.lib.calls] == ['create', 'stream', 'workspace']     # bound once, not per call
    assert fake.made == [(cublas._WORKSPACE, 0)]
    fake.stream[0] = types.SimpleNamespace(ptr=0x7000)          # e.g. captureStep's stream
    assert _product() is True
    fake.stream[0] = types.SimpleNamespace(ptr=0)               # back: the first workspace again, none made
    assert _product() is True
    binds = [c for c in fake.lib.calls if c[0] != 'create']
    assert [c[2] for c in binds if c[0] == 'stream'] == [0, 0x7000, 0]
    ws = [c[2] for c in binds if c[0] == 'workspace']
    assert ws[0] == ws[2] != ws[1] and len(fake.made) == 2
    fake.device[0] = 1                                          # cutorch.setDevice(1): a handle made on device 1
    assert _product(device_id=1) is True
    assert [c for c in fake.lib.calls if c[0] == 'create'] == [('create', 100, 0), ('create', 101, 1)]
    assert fake.made[-1] == (cublas._WORKSPACE, 1) and fake.products[-1] == 101 and fake.products[0] == 100


def test_an_array_on_another_device_than_the_current_one_is_left_to_the_array_module(fake):
    assert _product(device_id=1) is False
    assert fake.lib.calls == [] and fake.products == []

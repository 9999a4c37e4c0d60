"""Torch7 storages: flat typed buffers, allocated uninitialized, that tensors view.

A storage owns one 1-D array (``_data``, numpy or CuPy).  Growing it (``resize``) reallocates like C's realloc;
the tensors that view it are re-pointed at the new buffer so that they keep sharing memory, as in Torch7.  A
shrink leaves the views that no longer fit on the old buffer (a storage of their own): they stop sharing with
this storage but stay valid (Torch7 would let them read freed memory).
"""
import sys
import weakref

import numpy as np

from . import backend
from .types import TYPES, TypeInfo


class Storage:
    """Base of ``torch.FloatStorage`` etc.  ``Storage(n)`` is uninitialized; ``Storage(list)`` copies values."""
    _info: TypeInfo = None
    __slots__ = ('_data', '_views', '__weakref__')

    @classmethod
    def _of(cls, data):
        """A storage owning 1-D array ``data`` (right dtype and device; internal, no checks)."""
        st = object.__new__(cls)
        st._data = data
        st._views = _Views()
        return st

    def __init__(self, arg=0, *, _data=None):
        if _data is not None:
            self._data = _data
        elif isinstance(arg, (int, np.integer)):
            if arg < 0:
                raise ValueError(f"{self._info.storage_name}: size must be >= 0, got {arg}")
            self._data = self._info.empty((_checked_size(self._info, arg),))
        else:
            vals = np.asarray(arg._data if isinstance(arg, Storage) else arg)
            if vals.ndim != 1:
                raise ValueError(f"{self._info.storage_name}: expected a flat list of numbers, got shape {vals.shape}")
            self._data = backend.to_device(vals.astype(self._info.dtype), self._info.cuda)
        self._views = _Views()

    # -- queries -------------------------------------------------------------------------------------
    def size(self):
        return self._data.shape[0]

    def __len__(self):
        return self._data.shape[0]

    def type(self):
        return self._info.storage_name

    def _check_index(self, i):
        n = self._data.shape[0]
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for {self._info.storage_name} of size {n}")

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [x for x in self.tolist()[i]]
        self._check_index(i)
        return self._data[i].item()

    def __setitem__(self, i, v):
        self._check_index(i)
        self._data[i] = v

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self):
        return backend.to_numpy(self._data).tolist()

    totable = tolist

    def numpy(self):
        if self._info.cuda:
            raise TypeError(f"numpy() on a {self._info.storage_name}: copy it to the CPU first")
        return self._data

    def __array__(self, dtype=None, copy=None):
        from .tensor import _array_protocol
        return _array_protocol(self.numpy(), dtype, copy)

    # -- mutation ------------------------------------------------------------------------------------
    def fill(self, value):
        self._data.fill(value)
        return self

    def copy(self, src):
        src_data = src._data if isinstance(src, Storage) else np.asarray(src)
        if src_data.shape[0] != self._data.shape[0]:
            raise ValueError(f"{self._info.storage_name}.copy: size mismatch, destination has "
                             f"{self._data.shape[0]} elements, source has {src_data.shape[0]}")
        self._data[...] = backend.to_device(src_data, self._info.cuda).astype(self._info.dtype, copy=False)
        return self

    def resize(self, n):
        """Reallocate to ``n`` elements keeping the first min(old, n) values (C realloc)."""
        n = int(n)
        old = self._data
        if n == old.shape[0]:
            return self
        views = [(t, t.storageOffset(), t._a.shape, t._strides()) for t in self._views.alive()]
        new = self._info.empty((_checked_size(self._info, n),))
        k = min(n, old.shape[0])
        new[:k] = old[:k]
        self._data = new
        orphans = None
        for t, off, shape, strides in views:
            if off + _extent(shape, strides) <= n:
                t._a = backend.as_strided(new, shape, strides, off)
            else:
                # a view reaching past the new end (Torch7 would read freed memory): it keeps the old buffer,
                # which its array already holds, as a storage of its own, so its offset, sub-views and values
                # stay those of the old buffer and nothing reads outside it
                if orphans is None:
                    orphans = type(self)._of(old)
                t._s = orphans
                orphans._views.add(t)
        if orphans is not None:
            self._views[:] = [r for r in self._views if r() is not None and r()._s is self]
        return self

    def __eq__(self, other):
        try:
            return self.tolist() == list(other)
        except TypeError:
            return NotImplemented

    __hash__ = object.__hash__

    def __repr__(self):
        from .printing import format_storage
        return format_storage(backend.to_numpy(self._data), self._info.storage_name)

    __str__ = __repr__


class SizeStorage(Storage):
    """Also what ``Tensor.size()`` returns: it behaves as a tuple of ints (len, index, iterate, ==)."""
    __slots__ = ()

    def __init__(self, arg=0, *, _data=None):
        if isinstance(arg, tuple) and _data is None:
            arg = list(arg)
        super().__init__(arg, _data=_data)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self.tolist()[i])
        return super().__getitem__(i)

    def __add__(self, other):
        return tuple(self) + tuple(other)

    def __radd__(self, other):
        return tuple(other) + tuple(self)


class _Views(list):
    """Weak references to the tensors viewing a storage (compared by identity: tensors' == is elementwise).

    Adding is one weakref (tensor creation is a hot path); dead references are dropped when the list has doubled
    since the last sweep, so a storage viewed by many short-lived tensors stays small.
    """
    _sweep_at = 16     # class default; an instance gets its own after a sweep (no __init__: creation is hot)

    def add(self, t):
        self.append(weakref.ref(t))
        if len(self) > self._sweep_at:
            self[:] = [r for r in self if r() is not None]
            self._sweep_at = max(16, 2 * len(self))

    def discard(self, t):
        self[:] = [r for r in self if r() is not None and r() is not t]

    def alive(self):
        return [t for t in (r() for r in self) if t is not None]


def _checked_size(info, n):
    """``n`` (an int) when a buffer of n elements is addressable, else a ValueError naming the storage type (numpy
    would say 'array is too big' or wrap the size around)."""
    n = int(n)
    if n * info.dtype.itemsize > sys.maxsize:
        raise ValueError(f"{info.storage_name}: a size of {n} elements ({n * info.dtype.itemsize} bytes) is more "
                         f"than can be addressed (at most {sys.maxsize} bytes)")
    return n


def _extent(shape, strides):
    """Number of storage elements a view of this geometry spans from its offset."""
    if 0 in shape:
        return 0
    return 1 + sum((n - 1) * s for n, s in zip(shape, strides))


def _make_storage_classes():
    classes = {}
    for info in TYPES.values():
        base = SizeStorage if info.storage_name.endswith('LongStorage') else Storage
        cls = type(info.storage_name.split('.')[-1], (base,), {'_info': info, '__slots__': ()})
        cls.__module__ = 'luatorch_py'
        cls.__qualname__ = cls.__name__
        info.storage_class = cls
        classes[cls.__name__] = cls
    return classes


STORAGE_CLASSES = _make_storage_classes()

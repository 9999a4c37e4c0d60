"""Torch7 storages: flat typed buffers, allocated uninitialized, that tensors view.

A storage owns one 1-D array (``_data``, numpy or CuPy).  Growing it (``resize``) reallocates like C's realloc;
the tensors that view it are re-pointed at the new buffer so that they keep sharing memory, as in Torch7.  A
shrink leaves the views that no longer fit on the old buffer (a storage of their own): they stop sharing with
this storage but stay valid (Torch7 would let them read freed memory).
"""
import numbers
import sys
import weakref

import numpy as np

from . import backend
from .types import TYPES, TypeInfo


class RefCounted:
    """Torch7's retain/free reference count, kept for code that does Torch7's bookkeeping (Python's garbage collector
    frees the memory with the last Python reference; Torch7 does not show the count, ``refcount()`` reads it here).
    Each object (a storage, each tensor view) has its own count, 1 when new."""
    __slots__ = ('_refc',)

    def retain(self):
        """+1."""
        self._refc = self.refcount() + 1

    def free(self):
        """-1; an error at 0 (Torch7 would free the memory twice)."""
        n = self.refcount()
        if n <= 0:
            raise RuntimeError(f"free: the {self.type()}'s reference count is already 0 (Torch7 would free it twice)")
        self._refc = n - 1

    def refcount(self):
        return getattr(self, '_refc', 1)


class Storage(RefCounted):
    """Base of ``torch.FloatStorage`` etc.  ``Storage(n)`` is uninitialized; ``Storage(list)`` copies values;
    ``Storage(storage, offset=0, size=None)`` views a storage of the same type (offset 0-based); ``Storage(filename,
    shared=False, size=0)`` maps a file (numpy.memmap).  See docs/tensor.md."""
    _info: TypeInfo = None
    __slots__ = ('_data', '_views', '__weakref__')

    @classmethod
    def _of(cls, data):
        """A storage owning 1-D array ``data`` (right dtype and device; internal, no checks)."""
        st = object.__new__(cls)
        st._data = data
        st._views = _Views()
        return st

    def __new__(cls, *args, **kwargs):
        if cls is Storage:          # torch.Storage: the default tensor type's storage, as in Torch7
            from .tensor import default_info
            cls = default_info().storage_class
        return object.__new__(cls)

    def __init__(self, arg=0, *rest, _data=None):
        if _data is not None:
            self._data = _data
        elif isinstance(arg, Storage) and arg._info is self._info:
            self._data = _view_of(self._info.storage_name, arg, *rest)
        elif isinstance(arg, (str, bytes)) or hasattr(arg, '__fspath__'):
            self._data = _mapped(self._info, arg, *rest)
        elif rest:
            raise TypeError(f"{self._info.storage_name}: expected (size), (values), (storage, [offset, [size]]) or "
                            f"(filename, [shared, [size]]), got {1 + len(rest)} arguments starting with "
                            f"{type(arg).__name__}")
        elif isinstance(arg, (int, np.integer, float, np.floating)):
            arg = _int_arg(arg, f"{self._info.storage_name}(size)") if isinstance(arg, (float, np.floating)) else arg
            if arg < 0:                 # (a Lua number: 3.0 is the size 3, as the tensor constructors take it)
                raise ValueError(f"{self._info.storage_name}: size must be >= 0, got {arg}")
            self._data = self._info.empty((_checked_size(self._info, arg),))
        else:
            vals = _values(self, arg, '')
            self._data = backend.to_device(vals.astype(self._info.dtype), self._info.cuda)
        self._views = _Views()

    def __reduce__(self):
        # pickle (and multiprocessing): the type's name and the numbers on the host; tensors pickled with their
        # storage keep sharing it (pickle keeps one copy of an object it meets twice)
        return _unpickle_storage, (self._info.name, backend.to_numpy(self._data))

    # -- queries -------------------------------------------------------------------------------------
    def size(self):
        return self._data.shape[0]

    def __len__(self):
        return self._data.shape[0]

    def type(self):
        return self._info.storage_name

    def elementSize(self):
        """Bytes per element (Torch7's ``s:elementSize()``)."""
        return self._info.dtype.itemsize

    def _check_index(self, i):
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            # numpy would take True as a mask of every element (s[True] = 5 filled the storage)
            raise TypeError(f"{self._info.storage_name}: expected an integer index (0-based), got "
                            f"{type(i).__name__} ({i!r:.40})")
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
        self._data[i] = _element(self, v, '__setitem__')

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self):
        return backend.to_numpy(self._data).tolist()

    totable = tolist

    def numpy(self):
        if self._info.cuda:
            raise TypeError(f"numpy() on a {self._info.storage_name}: copy it to the CPU first")
        return self._data.view()        # (a new array object: its shape or flags set leave the storage as it is)

    def __array__(self, dtype=None, copy=None):
        from .tensor import _array_protocol
        return _array_protocol(self.numpy(), dtype, copy)

    # -- mutation ------------------------------------------------------------------------------------
    def fill(self, value):
        self._data.fill(_element(self, value, 'fill'))
        return self

    def copy(self, src):
        src_data = _values(self, src, '.copy')
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

    # -- Torch7's other storage.md forms ---------------------------------------------------------------
    def string(self, value=None):
        """Char and Byte storages: ``string()`` is the bytes as a str (UTF-8; other bytes kept as surrogates);
        ``string(s)`` (a str or bytes) resizes the storage to s's bytes, copies them in and returns self."""
        if self._info.dtype not in (np.int8, np.uint8) or self._info.cuda:
            raise TypeError(f"string: only torch.CharStorage and torch.ByteStorage hold strings, not a "
                            f"{self._info.storage_name}")
        if value is None:
            return self._data.tobytes().decode('utf-8', 'surrogateescape')
        if isinstance(value, str):
            value = value.encode('utf-8', 'surrogateescape')
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"string: expected a str or bytes, got {type(value).__name__}")
        value = bytes(value)
        self.resize(len(value))
        self._data[...] = np.frombuffer(value, dtype=self._info.dtype)
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

    def __init__(self, arg=0, *rest, _data=None):
        if isinstance(arg, tuple) and _data is None:
            arg = list(arg)
        super().__init__(arg, *rest, _data=_data)

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


def _element(st, v, what):
    """The number v as st's element type, converted as C converts Torch7's ``real`` argument (integers truncate and
    wrap: 300 in a ByteStorage is 44), as Tensor.fill does; a non-number raises TypeError (numpy would store None as
    NaN and '3' as 3, and refuse 300 for a ByteStorage with an OverflowError)."""
    if not isinstance(v, (numbers.Number, np.number, np.bool_)) and getattr(v, 'ndim', None) != 0:
        raise TypeError(f"{st._info.storage_name}.{what}: expected a number, got {type(v).__name__} ({v!r:.40})")
    if st._info.dtype.kind not in 'iu':
        return v
    from .tensor_math import _scalar_for      # (tensor_math imports the tensor modules, which import this one)
    return _scalar_for(st, v)


def _values(st, src, what):
    """The numbers of ``src`` (a storage of any type or device, or a flat list or array of numbers) as a 1-D array,
    on src's device (np.asarray would refuse a GPU storage's buffer).  Lists of None or strings raise: numpy would
    store None as NaN and parse '3' as 3."""
    if isinstance(src, Storage):
        return src._data
    return _number_array(src, st._info.storage_name + what, flat=True)


def _number_array(values, who, expected='numbers', flat=False):
    """``values`` (a list, tuple or array; a GPU array as it is) as an array of its own dtype, numbers only: numpy
    would store None as NaN and parse '3' as 3.  ``who`` names the caller in the errors, ``expected`` what it takes;
    ``flat``: 1-D only (a storage's values)."""
    try:
        arr = values if backend.is_cuda_array(values) else np.asarray(values)
    except ValueError as e:
        raise ValueError(f"{who}: nested list is ragged or holds non-numbers ({e})") from None
    if flat and arr.ndim != 1:
        raise ValueError(f"{who}: expected a flat list of numbers, got shape {arr.shape}")
    if arr.dtype.kind not in 'biuf':
        raise ValueError(f"{who}: expected {expected}, got values of dtype {arr.dtype}: {values!r:.60}")
    return arr


def _int_arg(v, what):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, float, np.floating)) \
            or (isinstance(v, (float, np.floating)) and not float(v).is_integer()):    # (NaN and inf too)
        raise TypeError(f"{what}: expected an integer, got {v!r}")
    return int(v)


def _view_of(name, src, offset=0, size=None):
    """The part of ``src``'s buffer that Storage(src, offset, size) views (offset 0-based; size: to the end)."""
    offset = _int_arg(offset, f"{name}(storage, offset, size)")
    n = len(src)
    size = n - offset if size is None else _int_arg(size, f"{name}(storage, offset, size)")
    if not 0 <= offset <= n or size < 0 or offset + size > n:
        raise ValueError(f"{name}(storage, offset, size): offset {offset} and size {size} do not fit a storage of "
                         f"size {n} (offsets are 0-based)")
    return src._data[offset:offset + size]


def _mapped(info, filename, shared=False, size=0, shared_mem=False):
    """The buffer of Storage(filename, shared, size, sharedMem): the file mapped with numpy.memmap, written back
    when ``shared`` (a shared map grows the file to ``size`` elements), else private (copy-on-write).  Size 0: the
    whole file.  ``shared_mem``: the name is in the shared-memory area (/dev/shm, as shm_open)."""
    import os
    name = info.storage_name
    if info.cuda:
        raise TypeError(f"{name}: a GPU storage cannot map a file; map a CPU storage and copy it")
    size = _int_arg(size or 0, f"{name}(filename, shared, size)")
    if size < 0:
        raise ValueError(f"{name}(filename, shared, size): size must be >= 0, got {size}")
    path = os.fspath(filename)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if shared_mem:
        if not os.path.isdir('/dev/shm'):
            raise OSError(f"{name}: sharedMem needs a shared-memory area (/dev/shm); none here")
        path = os.path.join('/dev/shm', path.lstrip('/'))
    if not os.path.exists(path):
        if not shared:
            raise FileNotFoundError(f"{name}: no file {path!r} to map")
        open(path, 'wb').close()
    isz = info.dtype.itemsize
    have = os.path.getsize(path) // isz
    if size == 0:
        size = have
    if size > have:
        if not shared:
            raise ValueError(f"{name}: file {path!r} holds {have} elements of {isz} bytes, fewer than the "
                             f"{size} asked (a shared mapping grows the file)")
        with open(path, 'r+b') as fh:
            fh.truncate(size * isz)
    if size == 0:
        return np.empty((0,), info.dtype)
    return np.memmap(path, dtype=info.dtype, mode='r+' if shared else 'c', shape=(size,)).view(np.ndarray)


def _checked_size(info, n):
    """``n`` (an int) when a buffer of n elements is addressable, else a ValueError naming the storage type (numpy
    would say 'array is too big' or wrap the size around)."""
    n = int(n)
    if n < 0:                       # (numpy would say 'negative dimensions are not allowed')
        raise ValueError(f"{info.storage_name}: size must be >= 0, got {n}")
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


def _unpickle_storage(name, data):
    from .types import type_info
    info = type_info(name)
    if info.cuda:
        arr = backend.to_device(np.ascontiguousarray(data, info.dtype), True)
    else:
        arr = info.empty(data.shape)
        arr[...] = data
    return info.storage_class._of(arr)

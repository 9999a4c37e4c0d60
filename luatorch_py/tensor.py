"""Torch7 tensors: typed views (storage, offset, size, stride) over a flat storage.

Each tensor keeps ``_s`` (its Storage) and ``_a``, a numpy/CuPy view of the storage's buffer with the tensor's
geometry.  ``_a`` is the one thing hot code touches: nn modules compute on ``t._a`` with the array module and
write into buffers they own, so the Torch7 API below costs nothing in a training step.

Conventions (see docs/tensor.md): dims, indices and storage offsets are 0-based; methods follow Torch7's rule and
work in place on self, returning self (``x.add(y)``, ``x.exp()``); module-level functions (``torch.add``,
``torch.exp``) and Python operators return new tensors, with numpy broadcasting.
"""
import math
import numbers
import sys

import numpy as np

from . import backend
from .storage import Storage, SizeStorage, RefCounted, _number_array
from .types import TYPES, CPU_TYPE_OF_DTYPE, CUDA_TYPE_OF_DTYPE, type_info

_state = {'default': TYPES['torch.DoubleTensor']}


def getdefaulttensortype():
    return _state['default'].name


def setdefaulttensortype(name):
    info = type_info(name)
    if info.cuda or not info.is_floating:
        raise ValueError(f"setdefaulttensortype: expected 'torch.FloatTensor' or 'torch.DoubleTensor', got {name!r}")
    _state['default'] = info


def default_info():
    return _state['default']


def _sizestr(shape):
    return 'x'.join(str(n) for n in shape) if shape else 'empty'


def _is_number(x):
    return isinstance(x, numbers.Number) and not isinstance(x, bool) or isinstance(x, (bool, np.bool_))


def _contiguous_strides(shape):
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(strides))


def _parse_sizes(args, what):
    """Sizes given as ints, one tuple/list, or one LongStorage."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, Storage)):
        args = tuple(args[0])
    sizes = []
    for n in args:
        if isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)):
            sizes.append(int(n))
        elif isinstance(n, (float, np.floating)) and float(n).is_integer():
            sizes.append(int(n))      # Lua numbers are doubles: 4.0 is a size
        else:
            raise TypeError(f"{what}: expected sizes as ints, a tuple or a LongStorage, got {args!r}")
    return tuple(sizes)


def _fill_strides(size, stride, what):
    """The strides for ``size`` with a missing (None) or negative one made contiguous given the dims after it, as
    TH's resizeNd reads them (tensor.md: "negative strides ... will be interpreted as choose the right stride such
    that the Tensor is contiguous"), so no view reaches before its offset."""
    if len(stride) != len(size):
        raise ValueError(f"{what}: size {tuple(size)} and stride {tuple(stride)} differ in length")
    out = list(stride)
    for d in reversed(range(len(size))):
        if out[d] is None or out[d] < 0:
            out[d] = 1 if d == len(size) - 1 else max(size[d + 1], 1) * out[d + 1]
    return tuple(out)


def _geometry_args(geo, what, rest):
    """(size, stride) from the arguments after (storage, offset): nothing (a 1-D view over the ``rest``), a size and
    an optional stride (ints, tuples or LongStorages), or Torch7's numbers sz1, st1, sz2, st2, ... (a missing last
    stride: contiguous).  stride None means contiguous."""
    geo = list(geo)
    while geo and geo[-1] is None:
        geo.pop()
    if not geo:
        return (rest,), None
    if len(geo) <= 2 and not all(_is_number(g) for g in geo):
        size = (rest,) if geo[0] is None else _parse_sizes((geo[0],), what)
        stride = _parse_sizes((geo[1],), what) if len(geo) > 1 else None
        return size, (None if stride is None else _fill_strides(size, stride, what))
    if not all(_is_number(g) for g in geo):
        raise TypeError(f"{what}: expected (storage, offset, size, stride) with LongStorages or (storage, offset, "
                        f"sz1, st1, sz2, st2, ...) with numbers, got {tuple(geo)!r}")
    size = _parse_sizes(geo[0::2], what)
    stride = _parse_sizes(geo[1::2], what) + ((None,) if len(geo) % 2 else ())
    return size, _fill_strides(size, stride, what)


class Tensor(RefCounted):
    """``torch.Tensor(...)`` makes a tensor of the default type (``torch.DoubleTensor`` unless changed).

    Forms: ``Tensor()`` empty; ``Tensor(4, 6)`` / ``Tensor((4, 6))`` / ``Tensor(LongStorage)`` uninitialized;
    ``Tensor([[1, 2], [3, 4]])`` and ``Tensor(ndarray)`` copy values; ``Tensor(other)`` shares other's storage
    (converted by copy when other has another type); ``Tensor(storage, offset=0, size=None, stride=None)`` and
    ``Tensor(storage, offset, sz1, st1, sz2, st2, ...)`` view a storage (offset 0-based); ``Tensor(sizes, strides)``
    with two LongStorages (or tuples) makes a tensor with those strides.
    """
    __slots__ = ('_a', '_s', '__weakref__')
    _info = None
    __array_priority__ = 1000   # ndarray <op> Tensor defers to the Tensor's reflected operator (a Tensor)

    def __new__(cls, *args, **kwargs):
        if cls is Tensor:
            cls = _state['default'].tensor_class
        return object.__new__(cls)

    def __init__(self, *args):
        info = self._info
        if not args:
            st = info.storage_class(0)
            self._init_view(st, st._data)
            return
        a0 = args[0]
        if isinstance(a0, Storage) and (a0._info is info or not isinstance(a0, SizeStorage)):
            # Torch7 reads a storage of the tensor's own type as (storage, offset, size, stride), and a
            # LongStorage given to any other type as the sizes
            if a0._info is not info:
                raise TypeError(f"{info.name}: expected a {info.storage_name} (or a LongStorage of sizes), "
                                f"got a {a0._info.storage_name}")
            off = _parse_sizes((args[1],), info.name)[0] if len(args) > 1 else 0
            if not 0 <= off <= len(a0):
                raise ValueError(f"{info.name}: storage offset {off} out of range for a {a0._info.storage_name} "
                                 f"of size {len(a0)} (offsets are 0-based)")
            size, stride = _geometry_args(args[2:], info.name, len(a0) - off)
            self._s = a0
            self._a = a0._data[0:0]
            self._set_geometry(off, size, stride)   # grows the storage when the view needs more (Torch7)
            a0._views.add(self)
        elif isinstance(a0, Tensor):
            if a0._info is info:
                self._init_view(a0._s, a0._a)
            else:
                src = a0.type(info.name)
                self._init_view(src._s, src._a)
        elif isinstance(a0, (list, np.ndarray)) or backend.is_cuda_array(a0):
            if len(args) > 1:
                raise TypeError(f"{info.name}: expected one list or array of values, got {len(args)} arguments")
            arr = _number_array(a0, info.name)
            arr = backend.to_device(arr.reshape(1) if arr.ndim == 0 else arr, info.cuda)
            arr = arr.astype(info.dtype, order='C', copy=True)
            st = info.storage_class(_data=arr.reshape(-1))
            self._init_view(st, st._data.reshape(arr.shape))
        elif len(args) == 2 and all(isinstance(a, (SizeStorage, tuple)) for a in args):
            # Tensor(sizes, strides): Torch7's form with two LongStorages
            size, stride = _parse_sizes((a0,), info.name), _parse_sizes((args[1],), info.name)
            st = info.storage_class(0)
            self._init_view(st, st._data)
            self._set_geometry(0, size, _fill_strides(size, stride, info.name))
        else:
            sizes = _parse_sizes(args, info.name)
            if any(n < 0 for n in sizes):
                raise ValueError(f"{info.name}: sizes must be >= 0, got {sizes}")
            n = math.prod(sizes) if sizes else 0     # Python ints: np.prod wraps around at 2^63
            if n * info.dtype.itemsize > sys.maxsize:
                raise ValueError(f"{info.name}: size {_sizestr(sizes)} is {n} elements, more than can be addressed "
                                 f"({n * info.dtype.itemsize} bytes, at most {sys.maxsize})")
            st = info.storage_class(n)
            self._init_view(st, st._data.reshape(sizes) if sizes else st._data)

    def _init_view(self, storage, arr):
        self._s = storage
        self._a = arr
        storage._views.add(self)

    @classmethod
    def _wrap(cls, storage, arr):
        """A tensor of this class over ``arr``, a view of ``storage``'s buffer (no checks: internal)."""
        t = object.__new__(cls)
        t._s = storage
        t._a = arr
        storage._views.add(t)
        return t

    @classmethod
    def _from_array(cls, arr):
        """A tensor owning ``arr`` (a fresh, C-contiguous array of the class's dtype on its device)."""
        if not arr.flags.c_contiguous:
            arr = arr.copy(order='C')     # reshape(-1) below must be a view
        flat = arr.reshape(-1)
        st = cls._info.storage_class._of(flat)
        t = object.__new__(cls)
        t._s = st
        t._a = arr if arr.ndim else flat
        st._views.add(t)
        return t

    def _view(self, arr):
        return type(self)._wrap(self._s, arr)

    def __reduce__(self):
        # pickle: the storage (shared with the other tensors of the same pickle) and the view's geometry
        return _unpickle_tensor, (self._info.name, self._s, self.storageOffset() if self._a.size else 0,
                                  self._a.shape, self._strides())

    @property
    def _xp(self):
        return self._info.xp

    # -- geometry --------------------------------------------------------------------------------------
    def _strides(self):
        isz = self._a.itemsize
        return tuple(s // isz for s in self._a.strides)

    def _set_geometry(self, offset, size, stride=None):
        """Point self at (storage, offset, size, stride), growing the storage when it is too small."""
        if any(n < 0 for n in size):
            raise ValueError(f"{self._info.name}: sizes must be >= 0, got {size}")
        stride = _contiguous_strides(size) if stride is None else tuple(stride)
        if len(stride) != len(size):
            raise ValueError(f"{self._info.name}: size {size} and stride {stride} differ in length")
        if offset < 0:
            raise ValueError(f"{self._info.name}: storage offset must be >= 0, got {offset}")
        if any(s < 0 for s in stride):
            # Torch7's C code would read before the view's start (outside the storage); numpy views could too
            raise ValueError(f"{self._info.name}: strides must be >= 0, got {stride} (size {size})")
        from .storage import _extent
        need = offset + _extent(size, stride)
        if need > len(self._s):
            self._s.resize(need)
        self._a = backend.as_strided(self._s._data, size, stride, offset)

    def size(self, dim=None):
        """A LongStorage of the sizes (behaves as a tuple), or the size of ``dim`` (0-based) as an int."""
        shape = self._a.shape if self._a.size else ()
        if dim is None:
            return CPU_LONG_STORAGE(list(shape))
        return shape[self._dim(dim)]

    @property
    def shape(self):
        return self._a.shape if self._a.size else ()

    def stride(self, dim=None):
        st = self._strides() if self._a.size else ()
        if dim is None:
            return CPU_LONG_STORAGE(list(st))
        return st[self._dim(dim)]

    def dim(self):
        return self._a.ndim if self._a.size else 0

    nDimension = dim
    ndimension = dim

    def nElement(self):
        return self._a.size

    numel = nElement

    def elementSize(self):
        """Bytes per element (Torch7's ``x:elementSize()``)."""
        return self._info.dtype.itemsize

    def new(self, *args):
        """A new tensor of this one's type: Lua's ``x.new()`` (empty), ``x.new(2, 3)``, ``x.new(storage, ...)`` --
        any of the type's constructor forms (``x.new(y)`` of the same type shares y, as ``torch.FloatTensor(y)``)."""
        return type(self)(*args)

    def storage(self):
        return self._s

    def storageOffset(self):
        if self._a.size == 0:
            return 0
        return (backend.address(self._a) - backend.address(self._s._data)) // self._a.itemsize

    def isContiguous(self):
        return self._a.flags.c_contiguous

    is_contiguous = isContiguous

    def isSameSizeAs(self, other):
        return self.shape == other.shape

    def isSetTo(self, other):
        return self._s is other._s and self.storageOffset() == other.storageOffset() and \
            self.shape == other.shape and self.stride() == other.stride()

    def _dim(self, d, extra=0):
        """Normalize a 0-based (possibly negative) dim; ``extra`` allows one past the end (unsqueeze)."""
        n = self.dim() + extra
        if not isinstance(d, (int, np.integer)):
            raise TypeError(f"dimension must be an int, got {d!r}")
        if not -n <= d < n:
            raise IndexError(f"dimension {d} out of range for a {n - extra}-D {self._info.name} "
                             f"of size {_sizestr(self.shape)}")
        return int(d) % n

    def type(self, name=None):
        """With no argument the type name (``'torch.FloatTensor'``); else the tensor converted (self if same)."""
        if name is None:
            return self._info.name
        info = type_info(name)
        if info is self._info:
            return self
        arr = backend.to_device(self._a, info.cuda).astype(info.dtype, copy=True, order='C')
        if not info.cuda and arr.base is not None and not arr.flags.owndata:
            arr = arr.copy()
        return info.tensor_class._from_array(np.ascontiguousarray(arr) if not info.cuda else
                                             info.xp.ascontiguousarray(arr))

    def typeAs(self, other):
        return self.type(other.type())

    def byte(self): return self.type('torch.ByteTensor')
    def char(self): return self.type('torch.CharTensor')
    def short(self): return self.type('torch.ShortTensor')
    def int(self): return self.type('torch.IntTensor')
    def long(self): return self.type('torch.LongTensor')
    def float(self): return self.type('torch.FloatTensor')
    def double(self): return self.type('torch.DoubleTensor')
    def cuda(self): return self.type('torch.CudaTensor')
    def cudaDouble(self): return self.type('torch.CudaDoubleTensor')
    def cudaLong(self): return self.type('torch.CudaLongTensor')
    def cudaInt(self): return self.type('torch.CudaIntTensor')
    def cudaByte(self): return self.type('torch.CudaByteTensor')
    def cudaChar(self): return self.type('torch.CudaCharTensor')
    def cudaShort(self): return self.type('torch.CudaShortTensor')

    def cpu(self):
        """The CPU tensor of the same element type (self when already on the CPU)."""
        return self.type(CPU_TYPE_OF_DTYPE[self._info.dtype].name)

    def is_cuda(self):
        return self._info.cuda

    # -- numpy interop ---------------------------------------------------------------------------------
    def numpy(self):
        """A numpy array viewing this tensor's memory (no copy).  CPU tensors only.  A new array object per call
        (as PyTorch's): setting its ``shape`` or ``flags.writeable`` leaves the tensor as it is."""
        if self._info.cuda:
            raise TypeError(f"numpy() on a {self._info.name}: the data lives on the GPU; copy it to the CPU "
                            f"first with .float(), .double() or .cpu()")
        return self._a.view()

    def __array__(self, dtype=None, copy=None):
        return _array_protocol(self.numpy(), dtype, copy)

    def __array_function__(self, func, types, args, kwargs):
        # numpy functions see tensors as arrays: np.sum(x) would otherwise call Torch7's x.sum(axis=...) and raise,
        # and np.nonzero(x) would return Torch7's n x dim LongTensor instead of numpy's tuple of index arrays
        return func(*_as_arrays(args), **_as_arrays(kwargs))

    def tolist(self):
        return backend.to_numpy(self._a).tolist()

    totable = tolist

    # -- views -----------------------------------------------------------------------------------------
    def view(self, *sizes):
        """A view with new sizes (one may be -1).  Needs a contiguous tensor, as Torch7.  ``res.view(x, sizes)``
        (Torch7's result form) points res at x's view and returns res."""
        if sizes and isinstance(sizes[0], Tensor):
            return self.set(sizes[0].view(*sizes[1:]))
        sizes = _parse_sizes(sizes, 'view')
        n = self._a.size
        if sizes.count(-1) > 1 or any(s < -1 for s in sizes):
            raise ValueError(f"view: at most one size may be -1 and none other negative, got {sizes}")
        known = int(np.prod([s for s in sizes if s != -1])) if sizes else 1
        if -1 in sizes:
            if known == 0 or n % known:
                raise ValueError(f"view: cannot view a {self._info.name} of size {_sizestr(self.shape)} "
                                 f"({n} elements) as {_sizestr(sizes)}")
            sizes = tuple(n // known if s == -1 else s for s in sizes)
        elif known != n:
            raise ValueError(f"view: cannot view a {self._info.name} of size {_sizestr(self.shape)} "
                             f"({n} elements) as {_sizestr(sizes)} ({known} elements)")
        if not self._a.flags.c_contiguous:
            raise ValueError(f"view: the {self._info.name} of size {_sizestr(self.shape)} is not contiguous; "
                             f"call contiguous() first")
        return self._view(self._a.reshape(sizes))

    def viewAs(self, other, template=None):
        """A view with ``other``'s sizes; ``res.viewAs(x, template)`` points res at x's view (Torch7's result form)."""
        if template is not None:
            return self.set(other.view(template.shape))
        return self.view(other.shape)

    reshape_view = view

    def narrow(self, dim, start, length):
        d = self._dim(dim)
        n = self._a.shape[d]
        if not isinstance(start, numbers.Integral) or not isinstance(length, numbers.Integral):
            raise TypeError(f"narrow: expected integer start and length, got {start!r:.20} and {length!r:.20}")
        if start < 0 or length < 0 or start + length > n:
            raise IndexError(f"narrow: dim {d} of size {n} has no range [{start}, {start + length}) "
                             f"({self._info.name} of size {_sizestr(self.shape)})")
        return self._view(self._a[(slice(None),) * d + (slice(start, start + length),)])

    def select(self, dim, index):
        d = self._dim(dim)
        if self.dim() == 1:
            raise ValueError(f"select: cannot select on a 1-D {self._info.name}; use x[{index}] for the number")
        n = self._a.shape[d]
        if not isinstance(index, numbers.Real):
            raise TypeError(f"select: expected an integer index, got {type(index).__name__} ({index!r:.20})")
        if not -n <= index < n:
            raise IndexError(f"select: index {index} out of range for dim {d} of size {n}")
        return self._view(self._a[(slice(None),) * d + (int(index),)])

    def sub(self, *bounds):
        """Torch7's sub(d0start, d0end, d1start, d1end, ...): inclusive 0-based bounds, negative from the end."""
        if len(bounds) % 2:
            raise ValueError("sub: expected start/end pairs")
        if not all(isinstance(b, numbers.Integral) for b in bounds):     # (as narrow's; numpy's words leaked)
            raise TypeError(f"sub: expected integer bounds, got {bounds!r:.60}")
        idx = []
        for d in range(len(bounds) // 2):
            n = self._a.shape[d]
            s, e = bounds[2 * d], bounds[2 * d + 1]
            s, e = (s + n if s < 0 else s), (e + n if e < 0 else e)
            if not 0 <= s <= e < n:
                raise IndexError(f"sub: bounds [{bounds[2 * d]}, {bounds[2 * d + 1]}] out of range for dim {d} of size {n}")
            idx.append(slice(s, e + 1))
        return self._view(self._a[tuple(idx)])

    def transpose(self, d1, d2):
        d1, d2 = self._dim(d1), self._dim(d2)
        return self._view(self._a.swapaxes(d1, d2))

    def t(self):
        if self.dim() != 2:
            raise ValueError(f"t(): expected a 2-D tensor, got {self.dim()}-D ({_sizestr(self.shape)}); use transpose")
        return self._view(self._a.T)

    def permute(self, *dims):
        dims = _parse_sizes(dims, 'permute')
        if len(dims) == self.dim():
            dims = tuple(self._dim(d) for d in dims)     # out-of-range dims raise here, not as numpy's AxisError
        if sorted(d % max(self.dim(), 1) for d in dims) != list(range(self.dim())):
            raise ValueError(f"permute: {dims} is not a permutation of the {self.dim()} dims")
        return self._view(self._a.transpose(dims))

    def unfold(self, dim, size, step):
        d = self._dim(dim)
        n = self._a.shape[d]
        if not 0 <= size <= n or step < 1:
            raise ValueError(f"unfold: expected 0 <= size <= {n} (dim {d}) and step >= 1, got size {size}, step {step}")
        shape = list(self._a.shape)
        strides = list(self._strides())
        shape[d] = (n - size) // step + 1
        strides[d] *= step
        arr = backend.as_strided(self._s._data, tuple(shape) + (size,),
                                 tuple(strides) + (self._strides()[d],), self.storageOffset())
        return self._view(arr)

    def expand(self, *sizes):
        """A view with size-1 dims expanded (stride 0); ``res.expand(x, sizes)`` points res at x's view (Torch7's
        result form)."""
        if sizes and isinstance(sizes[0], Tensor):
            return self.set(sizes[0].expand(*sizes[1:]))
        sizes = _parse_sizes(sizes, 'expand')
        lead = len(sizes) - self._a.ndim
        if lead < 0:
            raise ValueError(f"expand: cannot expand size {_sizestr(self.shape)} to fewer dims {_sizestr(sizes)}")
        shape, strides = list(self._a.shape), list(self._strides())
        shape, strides = [1] * lead + shape, [0] * lead + strides
        for i, s in enumerate(sizes):
            if s == -1:
                continue
            if shape[i] != s:
                if shape[i] != 1:
                    raise ValueError(f"expand: cannot expand size {_sizestr(self.shape)} to {_sizestr(sizes)} "
                                     f"(only dims of size 1 expand)")
                shape[i], strides[i] = s, 0
        return self._view(backend.as_strided(self._s._data, tuple(shape), tuple(strides), self.storageOffset()))

    def expandAs(self, other, template=None):
        """``x.expandAs(t)``: x expanded to t's sizes; ``res.expandAs(x, t)`` points res at that view."""
        if template is not None:
            return self.set(other.expand(template.shape))
        return self.expand(other.shape)

    def squeeze(self, dim=None):
        if dim is None:
            shape = tuple(n for n in self._a.shape if n != 1) or (1,)
            return self._view(self._a.reshape(shape) if self._a.flags.c_contiguous else
                              self._a.squeeze().reshape(shape) if shape != (1,) else self._a.reshape(-1)[:1])
        d = self._dim(dim)
        if self._a.shape[d] != 1 or self.dim() == 1:
            return self._view(self._a)
        return self._view(self._a.squeeze(d))

    def unsqueeze(self, dim):
        d = self._dim(dim, extra=1)
        return self._view(self._a[(slice(None),) * d + (None,)])

    def contiguous(self):
        return self if self._a.flags.c_contiguous else self.clone()

    def clone(self):
        return type(self)._from_array(self._a.copy(order='C'))

    def set(self, source=None, offset=0, *geometry):
        """Point self at another tensor's memory, or at (storage, offset, size, stride) with size and stride as
        LongStorages (tuples), or at (storage, offset, sz1, st1, sz2, st2, ...).  Offsets are 0-based."""
        if isinstance(source, Tensor):
            self._check_same_type(source, 'set')
            self._repoint(source._s)
            self._a = source._a
            return self
        if source is None:
            source = self._info.storage_class(0)
        if not isinstance(source, Storage) or source._info is not self._info:
            raise TypeError(f"set: expected a {self._info.name} or {self._info.storage_name}, "
                            f"got {type(source).__name__}")
        offset = _parse_sizes((offset,), 'set')[0]
        size, stride = _geometry_args(geometry, 'set', len(source) - offset)
        self._repoint(source)
        self._set_geometry(offset, size, stride)
        return self

    def _repoint(self, storage):
        if storage is not self._s:
            self._s._views.discard(self)
            self._s = storage
            storage._views.add(self)

    def resize(self, *sizes):
        """Resize in place (contents are whatever the memory held); reuses the storage when large enough."""
        sizes = _parse_sizes(sizes, 'resize') or (0,)    # (no sizes: Torch7's empty tensor, not a 1-element 0-d one)
        if sizes == self._a.shape:      # Torch7: same sizes keep the geometry (strides too)
            return self
        self._set_geometry(self.storageOffset(), sizes)
        return self

    def resizeAs(self, other):
        if self._a.shape == other._a.shape:
            return self
        return self.resize(other._a.shape if other._a.size else (0,))

    def _check_same_type(self, other, what):
        if other._info is not self._info:
            raise TypeError(f"{what}: expected a {self._info.name}, got a {other._info.name}")

    # -- Torch7's other tensor.md forms ----------------------------------------------------------------
    def isSize(self, *sizes):
        """Whether the sizes are ``sizes`` (a LongStorage, a tuple or ints)."""
        return tuple(self.size()) == _parse_sizes(sizes, 'isSize')

    def repeatTensor(self, *args):
        """``x.repeatTensor(*sizes)``: a new tensor holding x tiled ``sizes`` times (more sizes than dims add leading
        dims); ``res.repeatTensor(src, *sizes)`` puts src's tiling in res (Torch7's result form) and returns res."""
        if args and isinstance(args[0], Tensor):
            return _repeat_into(self, args[0], args[1:])
        return _repeat_into(type(self)(), self, args)

    def _check_counts(self, what, others):
        for o in others:
            if not isinstance(o, Tensor):
                raise TypeError(f"{what}: expected a tensor, got {type(o).__name__}")
            if o._a.size != self._a.size:
                raise ValueError(f"{what}: the tensors have {self._a.size} and {o._a.size} elements (sizes "
                                 f"{_sizestr(self.shape)} and {_sizestr(o.shape)}); expected as many")

    def _each(self, what, *others):
        """Host copies of self and ``others`` as flat arrays in row-major order (Torch7's TH_TENSOR_APPLY order),
        checking the element counts match."""
        self._check_counts(what, others)
        return [backend.to_numpy(t._a).reshape(-1).tolist() for t in (self,) + others]

    def _put_each(self, values, changed, what):
        if not changed:
            return self
        try:
            if self._info.is_floating:
                arr = np.array(values, dtype=np.float64)
            else:     # C's conversion: truncate toward zero, then wrap to the type's width (as _call_each_cpu)
                arr = np.array([(int(v) + 2 ** 63) % 2 ** 64 - 2 ** 63 for v in values], dtype=np.int64)
        except (TypeError, ValueError, OverflowError) as e:
            raise TypeError(f"{what}: the function must return numbers (or None), got {e}") from None
        arr = arr.astype(self._info.dtype).reshape(self._a.shape)
        self._a[...] = backend.to_device(arr, self._info.cuda)
        return self

    def _call_each(self, what, fn, *others):
        """fn(x, *ys) for each element x of self and the elements ys of ``others`` in order; the values it returns
        (not None) replace self's elements.  Returns self."""
        if not self._info.cuda and not any(getattr(o, '_info', self._info).cuda for o in others):
            return self._call_each_cpu(what, fn, others)
        vals, *ovals = self._each(what, *others)
        changed = False
        for i, args in enumerate(zip(vals, *ovals)):
            r = fn(*args)
            if r is not None:
                vals[i], changed = r, True
        return self._put_each(vals, changed, what)

    def _call_each_cpu(self, what, fn, others):
        """_call_each on the CPU as TH_TENSOR_APPLY runs: each element read just before fn's call and its value
        written right after, so that a view overlapping itself (expand) or the others (x.narrow(0, 1, n - 1).map(
        x.narrow(0, 0, n - 1), f): a running sum), or a fn writing to them, sees the values written so far."""
        self._check_counts(what, others)
        g = [t._a.item for t in (self,) + tuple(others)]   # (flat row-major positions: Torch7's order, any strides)
        put = self._a.flat.__setitem__                      # (writes through to self's memory)
        call = (lambda i: fn(g[0](i))) if len(g) == 1 else (lambda i: fn(g[0](i), g[1](i))) if len(g) == 2 else \
            (lambda i: fn(g[0](i), g[1](i), g[2](i)))
        if self._info.is_floating:
            convert = float
        else:                           # C's conversion: truncate toward zero, then wrap to the type's width
            lo, hi = int(np.iinfo(self._info.dtype).min), int(np.iinfo(self._info.dtype).max)

            def convert(r):
                v = int(r)
                return v if lo <= v <= hi else (v - lo) % (hi - lo + 1) + lo
        for i in range(self._a.size):
            r = call(i)
            if r is not None:
                try:
                    r = convert(r)
                except (TypeError, ValueError, OverflowError) as e:
                    raise TypeError(f"{what}: the function must return numbers (or None), got {e}") from None
                put(i, r)
        return self

    def apply(self, fn):
        """Call ``fn(x)`` on every element in order; a value it returns (not None) replaces the element.
        Returns self.  (Torch7's apply with a Python callable; elements are Python numbers.)"""
        return self._call_each('apply', fn)

    def map(self, other, fn):
        """Call ``fn(x, y)`` with the elements of self and ``other`` (as many elements, any shapes) in order; a value
        it returns (not None) replaces self's element.  Returns self."""
        return self._call_each('map', fn, other)

    def map2(self, t1, t2, fn):
        """Call ``fn(x, y, z)`` with the elements of self, ``t1`` and ``t2`` in order; a value it returns (not None)
        replaces self's element.  Returns self."""
        return self._call_each('map2', fn, t1, t2)

    def split(self, size, dim=0):
        """A list of views of at most ``size`` along ``dim`` (0-based; default 0, Lua's 1), the last one shorter
        when the size does not divide."""
        return _split_into([], self, size, dim, 'split')

    def chunk(self, n, dim=0):
        """``n`` views (fewer when the size is small) of ceil(size(dim) / n) along ``dim`` (default 0, Lua's 1)."""
        return _chunk_into([], self, n, dim)

    # -- element access --------------------------------------------------------------------------------
    def _key(self, key):
        """(numpy index, basic) for a Python index: tensors become their arrays (ByteTensors boolean masks);
        ``basic`` is False when the index holds arrays or lists (numpy's advanced indexing, which copies)."""
        items = key if isinstance(key, tuple) else (key,)
        out, basic = [], True
        for k in items:
            if isinstance(k, Tensor):
                k = k._a != 0 if k._info.dtype == np.uint8 else k._a
                basic = False
            elif isinstance(k, (list, np.ndarray)) or backend.is_cuda_array(k):
                basic = False
            elif isinstance(k, slice) and k.step is not None and k.step < 0:
                raise IndexError("negative slice steps are not supported (Torch7 strides are positive)")
            elif not (k is None or k is Ellipsis or isinstance(k, slice)) and \
                    (isinstance(k, (bool, np.bool_)) or not hasattr(k, '__index__')):
                # numpy reads True/False as a 0-d mask and a range or tuple as a list of indices: advanced
                # indexing, whose copy must not pass for a view of self's storage
                basic = False
            out.append(k)
        return (tuple(out) if isinstance(key, tuple) else out[0]), basic

    def _lone_mask(self, key):
        """``key`` as a ByteTensor when it is a mask with self's number of elements (Torch7's maskedSelect /
        maskedFill / maskedCopy), else None."""
        if isinstance(key, Tensor):
            return key if key._info.dtype == np.uint8 and key._a.size == self._a.size else None
        if isinstance(key, list):
            key = np.asarray(key)
        if isinstance(key, np.ndarray) and key.dtype == np.bool_ and key.size == self._a.size:
            info = (CUDA_TYPE_OF_DTYPE if self._info.cuda else CPU_TYPE_OF_DTYPE)[np.dtype(np.uint8)]
            return info.tensor_class._from_array(backend.to_device(key.astype(np.uint8), self._info.cuda))
        return None

    def __getitem__(self, key):
        if type(key) is int:                                   # the common x[i]: a view, or a number
            try:
                r = self._a[key]
            except IndexError as e:
                raise IndexError(f"{e} (indexing a {self._info.name} of size {_sizestr(self.shape)} with "
                                 f"{key!r})") from None
            return r.item() if r.ndim == 0 else self._view(r)
        if isinstance(key, (Tensor, list, np.ndarray)):
            mask = self._lone_mask(key)
            if mask is not None:
                return self.maskedSelect(mask)
            if isinstance(key, Tensor) and key._info.dtype != np.uint8:
                return self.index(0, key)                      # 0-based, range-checked
            if isinstance(key, (list, np.ndarray)) and np.asarray(key).dtype.kind in 'iu' and np.ndim(key):
                return self.index(0, LongTensor_(key))
        k, basic = self._key(key)
        try:
            r = self._a[k]
        except IndexError as e:
            raise IndexError(f"{e} (indexing a {self._info.name} of size {_sizestr(self.shape)} "
                             f"with {key!r})") from None
        if r.ndim == 0:
            return r.item()
        if basic:
            return self._view(r)
        return type(self)._from_array(r)   # advanced indexing made a copy

    def __setitem__(self, key, value):
        if isinstance(key, (Tensor, list, np.ndarray)):
            mask = self._lone_mask(key)
            if mask is not None:
                return self.maskedCopy(mask, value) if isinstance(value, Tensor) else self.maskedFill(mask, value)
            # x[LongTensor] = v: range-checked and 0-based as x[LongTensor] reads (numpy would take -1 as the last
            # row and word an index past the end its own way)
            if isinstance(key, Tensor) and key._info.dtype != np.uint8:
                tensor_math._index(self, 0, key, 'assignment')
            elif isinstance(key, (list, np.ndarray)) and np.asarray(key).dtype.kind in 'iu' and np.ndim(key):
                tensor_math._index(self, 0, LongTensor_(key), 'assignment')
        k, _ = self._key(key)
        try:
            if isinstance(value, Tensor):
                dst = self._a[k]
                src = value._a
                if getattr(dst, 'shape', ()) != src.shape and getattr(dst, 'size', 1) == src.size:
                    src = src.reshape(dst.shape)
                elif getattr(dst, 'shape', ()) != src.shape:
                    raise ValueError(f"assignment: the {value._info.name} of size {_sizestr(value.shape)} does not "
                                     f"fit the selected region of size {_sizestr(getattr(dst, 'shape', ()))}")
                self._a[k] = backend.to_device(src, self._info.cuda)
            elif isinstance(value, numbers.Real) and self._info.dtype.kind in 'iu':
                self._a[k] = tensor_math._scalar_for(self, value)     # C's conversion: 300 in a ByteTensor is 44
            elif isinstance(value, (numbers.Real, np.bool_)) or backend.is_cuda_array(value):
                # (not any np.generic: numpy would parse an np.str_ '3' and drop an np.complex128's imaginary part)
                self._a[k] = value
            elif isinstance(value, (str, bytes)) or not (hasattr(value, '__iter__') or hasattr(value, '__array__')):
                # (numpy would store None as NaN and '3' as 3.0, as fill guards against)
                raise TypeError(f"assignment: expected a number, a tensor or numbers for a {self._info.name}, got "
                                f"{type(value).__name__} ({value!r:.40})")
            else:
                # lists, arrays, storages: numbers only, cast as the constructors cast them (numpy would store [None]
                # as NaN, parse '3' and refuse a list's 300 for a ByteTensor); CuPy refuses host arrays / lists in
                # a[basic] = v ("non-scalar numpy.ndarray cannot be used for fill"): copied to the device first
                self._a[k] = backend.to_device(_number_array(value, 'assignment', f'numbers for a {self._info.name}'),
                                                self._info.cuda)
        except IndexError as e:
            raise IndexError(f"{e} (indexing a {self._info.name} of size {_sizestr(self.shape)} "
                             f"with {key!r})") from None

    def __len__(self):
        if not self._a.size:
            return 0
        return self._a.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __contains__(self, value):
        # ``3 in x``: any element equal, as numpy (and as iterating a 1-D tensor gives); Python's fallback compared
        # each row of a matrix with the number and raised bool()'s "only a one-element tensor" error
        if isinstance(value, numbers.Number):
            return bool((self._a == value).any())
        return any(e is value or bool(e == value) for e in self)

    def _scalar(self, what):
        if self._a.size != 1:
            raise ValueError(f"{what}: only a one-element tensor converts to a Python number, this "
                             f"{self._info.name} has size {_sizestr(self.shape)}")
        return self._a.reshape(-1)[0].item()

    def __bool__(self): return bool(self._scalar('bool()'))
    def __float__(self): return float(self._scalar('float()'))
    def __int__(self): return int(self._scalar('int()'))

    def item(self):
        return self._scalar('item()')

    __hash__ = object.__hash__

    def __repr__(self):
        from .printing import format_tensor
        return format_tensor(backend.to_numpy(self._a) if self._a.size else np.empty(0, self._info.dtype),
                             self._info.name)

    __str__ = __repr__


def _repeat_into(res, src, sizes):
    sizes = _parse_sizes(sizes, 'repeatTensor')
    if not isinstance(res, Tensor) or res._info is not src._info:
        raise TypeError(f"repeatTensor: the result must be a {src._info.name}, got "
                        f"{res.type() if isinstance(res, Tensor) else type(res).__name__}")
    if len(sizes) < src.dim():
        raise ValueError(f"repeatTensor: {len(sizes)} repeat counts for a {src.dim()}-D {src._info.name}; expected "
                         f"at least one per dim")
    if any(n < 0 for n in sizes):
        raise ValueError(f"repeatTensor: repeat counts must be >= 0, got {sizes}")
    x = src._a.reshape((1,) * (len(sizes) - src.dim()) + src.shape)
    out = src._xp.tile(x, sizes)
    res.resize(out.shape)
    res._a[...] = out
    return res


def repeatTensor(*args):
    """``torch.repeatTensor(x, *sizes)`` (a new tensor) or ``torch.repeatTensor(res, x, *sizes)`` (into res)."""
    if not args or not isinstance(args[0], Tensor):
        raise TypeError(f"repeatTensor: expected ([res,] tensor, sizes...), got {args!r}")
    return args[0].repeatTensor(*args[1:])


def _split_into(result, t, size, dim, what):
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}: expected a tensor, got {type(t).__name__}")
    size = _parse_sizes((size,), what)[0]
    if size < 1:
        raise ValueError(f"{what}: the piece size must be >= 1, got {size}")
    d = t._dim(dim)
    n = t.size(d)
    result[:] = [t.narrow(d, start, min(size, n - start)) for start in range(0, n, size)]
    return result


def _chunk_into(result, t, n, dim):
    if not isinstance(t, Tensor):
        raise TypeError(f"chunk: expected a tensor, got {type(t).__name__}")
    n = _parse_sizes((n,), 'chunk')[0]
    if n < 1:
        raise ValueError(f"chunk: the number of chunks must be >= 1, got {n}")
    return _split_into(result, t, -(-t.size(t._dim(dim)) // n), dim, 'chunk')


def split(*args):
    """``torch.split(x, size, dim=0)``, or ``torch.split(res, x, size, dim=0)`` filling the list ``res``
    (emptied first, as Torch7 empties its result table)."""
    if args and isinstance(args[0], list):
        return _split_into(args[0], *args[1:3], args[3] if len(args) > 3 else 0, 'split')
    return _split_into([], args[0], args[1], args[2] if len(args) > 2 else 0, 'split')


def chunk(*args):
    """``torch.chunk(x, n, dim=0)``, or ``torch.chunk(res, x, n, dim=0)`` filling the list ``res``."""
    if args and isinstance(args[0], list):
        return _chunk_into(args[0], args[1], args[2], args[3] if len(args) > 3 else 0)
    return _chunk_into([], args[0], args[1], args[2] if len(args) > 2 else 0)


def viewAs(*args):
    """``torch.viewAs(x, template)`` (x viewed with template's sizes) or ``torch.viewAs(res, x, template)``
    (res pointed at that view)."""
    if len(args) not in (2, 3) or not all(isinstance(a, Tensor) for a in args):
        raise TypeError(f"viewAs: expected ([res,] tensor, template) tensors, got {args!r:.200}")
    return args[0].viewAs(*args[1:])


def expandAs(*args):
    """``torch.expandAs(x, template)`` (x expanded to template's sizes) or ``torch.expandAs(res, x, template)``."""
    if len(args) not in (2, 3) or not all(isinstance(a, Tensor) for a in args):
        raise TypeError(f"expandAs: expected ([res,] tensor, template) tensors, got {args!r:.200}")
    return args[0].expandAs(*args[1:])


def _as_arrays(v):
    """``v`` with the tensors inside it (lists, tuples, dict values) as numpy views of their memory."""
    if isinstance(v, Tensor):
        return v.numpy()
    if type(v) in (list, tuple):
        return type(v)(_as_arrays(x) for x in v)
    if isinstance(v, dict):
        return {k: _as_arrays(x) for k, x in v.items()}
    return v


def _array_protocol(a, dtype, copy):
    """numpy's __array__(dtype, copy): ``a`` itself unless a copy or another dtype is asked for."""
    if dtype is not None and np.dtype(dtype) != a.dtype:
        if copy is False:
            raise ValueError(f"cannot view an array of dtype {a.dtype} as {np.dtype(dtype)} without a copy")
        return a.astype(dtype)
    return a.copy() if copy else a


def LongTensor_(values):
    return TYPES['torch.LongTensor'].tensor_class(np.asarray(values, dtype=np.int64))


def _make_tensor_classes():
    classes = {}
    for info in TYPES.values():
        cls = type(info.name.split('.')[-1], (Tensor,), {'_info': info, '__slots__': ()})
        cls.__module__ = 'luatorch_py'
        cls.__qualname__ = cls.__name__
        cls.__doc__ = f"{info.name}: elements of numpy dtype {info.dtype}{' on the GPU' if info.cuda else ''}."
        info.tensor_class = cls
        classes[cls.__name__] = cls
    return classes


TENSOR_CLASSES = _make_tensor_classes()
CPU_LONG_STORAGE = TYPES['torch.LongTensor'].storage_class


def fromNumpy(arr):
    """A tensor sharing ``arr``'s memory; its type follows the dtype (float32 -> torch.FloatTensor, ...)."""
    if backend.is_cuda_array(arr):
        info = CUDA_TYPE_OF_DTYPE.get(arr.dtype)
    else:
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"fromNumpy: expected a numpy array, got {type(arr).__name__}")
        info = CPU_TYPE_OF_DTYPE.get(arr.dtype)
    if info is None:
        raise TypeError(f"fromNumpy: no Torch7 type holds numpy dtype {arr.dtype}; expected one of "
                        f"{', '.join(str(d) for d in CPU_TYPE_OF_DTYPE)}")
    return info.tensor_class._share(arr)


def _share(cls, arr):
    """A tensor of ``cls`` viewing ``arr`` (right dtype) without a copy; arrays with negative or odd strides
    (which Torch7 tensors cannot express) are copied."""
    if isinstance(arr, np.ndarray) and type(arr) is not np.ndarray:
        # a subclass (np.memmap, np.matrix, a masked array) as the plain array over its memory, as np.asarray
        # gives it: the CPU code tests type(a) is np.ndarray (a memmap crashed as if it were a CuPy array), and a
        # matrix's or masked array's own indexing and sums are not Torch7's
        arr = arr.view(np.ndarray)
    isz = arr.itemsize
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.size == 0 or any(s < 0 or s % isz for s in arr.strides):
        return cls._from_array(arr.copy(order='C'))
    span = 1 + sum((n - 1) * (s // isz) for n, s in zip(arr.shape, arr.strides))
    if backend.is_cuda_array(arr):
        flat = backend.cupy().lib.stride_tricks.as_strided(arr, (span,), (isz,))
    else:
        flat = np.lib.stride_tricks.as_strided(arr, (span,), (isz,), writeable=arr.flags.writeable)
    return cls._wrap(cls._info.storage_class(_data=flat), arr)


Tensor._share = classmethod(_share)


def as_tensor(x, info=None):
    """A Tensor for ``x``: itself when a Tensor, a shared view of a numpy array with a matching dtype, else a
    converted copy.  ``info`` gives the wanted type (None: keep the array's own)."""
    if isinstance(x, Tensor):
        return x if info is None or x._info is info else x.type(info.name)
    if isinstance(x, np.ndarray) or backend.is_cuda_array(x):
        if info is None:
            return fromNumpy(x)
        if x.dtype == info.dtype and backend.is_cuda_array(x) == info.cuda:
            return info.tensor_class._share(x)
        return info.tensor_class(x)
    info = info or default_info()
    return info.tensor_class(x)


def _unpickle_tensor(name, storage, offset, shape, strides):
    n = 1
    for d in shape:
        n *= d
    arr = backend.as_strided(storage._data, shape, strides, offset) if n else storage._data[0:0].reshape(shape)
    return type_info(name).tensor_class._wrap(storage, arr)


from . import tensor_math  # noqa: E402,F401  (attaches the math methods to Tensor)

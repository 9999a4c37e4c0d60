"""A strict, CPU-only stand-in for CuPy, for exercising GPU code paths without a GPU.
(tests/fakecupy: put this folder on PYTHONPATH; tests/test_fake_gpu.py runs the gpu-marked tests against it.)

Arrays are a wrapper class (NOT a numpy subclass, like real cupy.ndarray: isinstance(x, numpy.ndarray) is False)
around a numpy array ``_a``.  Strictness, modelled on real CuPy (v13/v14):
- ``__array__`` raises TypeError (no implicit device->host conversion: np.asarray(x), host[...] = x, ...);
  no ``__index__`` (CuPy leaves it out on purpose), no ``__array_interface__``.
- ufunc operands / ``out=``: only fake arrays and Python / numpy scalars; numpy.ndarray (any ndim) or lists
  raise TypeError "Unsupported type"; ufunc kwargs limited to out, dtype, casting (no where=, order=, ...).
- ``x[basic] = numpy_nonscalar`` raises ValueError (CuPy routes it through fill()); advanced-index setitem
  converts the value (as CuPy does).
- copyto with a non-scalar numpy src raises ValueError; take has no ``mode`` (indices wrap) and requires
  out.dtype == a.dtype; reductions have no where=/initial=; einsum has no out=; sort kind only None/'stable'.
- min / amin / ptp (function or method) with an ``out=`` array raise TypeError: CuPy 14's CUB path hands ``out``
  to cub_reduction as the dtype (_routines_statistics.pyx _ndarray_min/_ndarray_ptp; seen on an H200, 14.2).
- scatter_add / ufunc.at dtype restrictions (atomics): add: int32/uint32/uint64/f16/f32/f64 only.
- full reductions / integer indexing return 0-d arrays, not numpy scalars; asnumpy copies.
- generic module functions reject numpy.ndarray arguments (except creation/conversion functions and index args);
  creation functions reject device arrays as shapes.
- memory overlap: an output (ufunc out=, reduction out=, take out=, matmul out=, copyto dst, setitem target)
  that overlaps an input other than element for element raises ValueError (a data race on a GPU; numpy buffers).
Every module attribute and ndarray method used is logged to $FAKECUPY_LOG (if set) for review.
"""
import os as _os
import sys as _sys
import types as _types
import weakref as _weakref

import numpy as _np

_LOG = _os.environ.get('FAKECUPY_LOG')
_seen = set()


def _log(kind, name):
    if _LOG and (kind, name) not in _seen:
        _seen.add((kind, name))
        with open(_LOG, 'a') as f:
            f.write(f'{kind} {name}\n')


# -- counters and stream capture ---------------------------------------------------------------------------
# Every operation that would launch a kernel on a GPU counts one launch (tests pin the launches of a training
# step with them); every device->host read counts one synchronization; every new device array one allocation
# (handed to the allocator set by cuda.set_allocator, as CuPy's allocations are).  While a stream captures, each
# launch records a thunk that recomputes the operation into the same output memory, so Graph.launch() replays the
# captured work as a CUDA graph would; a synchronization or a host->device copy during capture raises, as CUDA does.
_counters = {'launches': 0, 'syncs': 0, 'allocs': 0}
_capture = [None]          # the thunks of the graph being captured, or None
_allocator = [None]


def _launch(thunk=None):
    _counters['launches'] += 1
    if _capture[0] is not None and thunk is not None:
        _capture[0].append(thunk)


def _sync(what):
    _counters['syncs'] += 1
    if _capture[0] is not None:
        raise RuntimeError(f'cudaErrorStreamCaptureUnsupported: operation not permitted when stream is capturing '
                           f'(fakecupy: {what})')


_roots = _weakref.WeakValueDictionary()       # every live device buffer, for a capture's undo


def _alloc(a):
    if a.base is None and a.size:
        _roots[id(a)] = a
        _counters['allocs'] += 1
        if _allocator[0] is not None:
            _allocator[0](a.nbytes)


def _copy_into(res, val):
    res[...] = val


_PY_SCALARS = (bool, int, float, complex)


def _is_scalar(x):
    return isinstance(x, _PY_SCALARS) or isinstance(x, _np.generic)


def _unsupported(x):
    return TypeError(f'Unsupported type {type(x)}')


# -- wrapping --------------------------------------------------------------------------------------------
def _new(a):
    o = object.__new__(ndarray)
    o._a = a
    _alloc(a)
    return o


def _wrap(r):
    if isinstance(r, _np.ndarray):
        return _new(r)
    if isinstance(r, _np.generic):
        return _new(_np.array(r))
    if isinstance(r, tuple):
        return tuple(_wrap(x) for x in r)
    if isinstance(r, list):
        return [_wrap(x) for x in r]
    return r


def _operand(x):
    """A ufunc operand: fake array or scalar only."""
    if isinstance(x, ndarray):
        return x._a
    if _is_scalar(x) or x is None:
        return x
    raise _unsupported(x)


def _loose(x):
    """An argument of a generic function: fake arrays unwrapped, numpy arrays rejected, containers recursed."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, _np.ndarray):
        raise TypeError(f'Unsupported type {type(x)} (numpy.ndarray passed to a cupy function)')
    if isinstance(x, (list, tuple)):
        return type(x)(_loose(v) for v in x)
    return x


def _hostok(x):
    """An argument that may come from the host (converted by CuPy): fake unwrapped, anything else kept."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, (list, tuple)):
        return type(x)(_hostok(v) for v in x)
    return x


def _out(out):
    if out is None:
        return None
    if isinstance(out, tuple):
        return tuple(_out(o) for o in out)
    if not isinstance(out, ndarray):
        raise TypeError(f'Output arrays must be cupy.ndarray, got {type(out)}')
    return out._a


# -- memory overlap (CuPy kernels do not buffer: an output overlapping an input other than element-for-element
#    is a data race on a GPU; numpy copes by buffering, so the CPU path hides it) -----------------------------
def _shares(a, b):
    if not (isinstance(a, _np.ndarray) and isinstance(b, _np.ndarray)):
        return False
    if a.size == 0 or b.size == 0 or not _np.may_share_memory(a, b):
        return False
    try:
        return _np.shares_memory(a, b, max_work=100000)
    except _np.exceptions.TooHardError:
        return True


def _same_view(a, b):
    return (a.__array_interface__['data'][0] == b.__array_interface__['data'][0] and a.shape == b.shape
            and a.strides == b.strides)


def _check_overlap(what, out, ins, elementwise=True):
    for o in (out if isinstance(out, tuple) else (out,)):
        if o is None:
            continue
        for i in ins:
            if _shares(o, i) and not (elementwise and _same_view(o, i)):
                raise ValueError(f'fakecupy: {what}: output overlaps an input (not element for element): a race on '
                                 f'a GPU (out shape {o.shape} strides {o.strides}, in shape {i.shape} strides '
                                 f'{i.strides})')


# -- device / memory shims ------------------------------------------------------------------------------
class _MemoryPointer:
    def __init__(self, a):
        self.ptr = a.__array_interface__['data'][0]
        self.device_id = 0

    def __int__(self):
        return self.ptr


class _Flags:
    def __init__(self, a):
        self.c_contiguous = bool(a.flags.c_contiguous)
        self.f_contiguous = bool(a.flags.f_contiguous)
        self.owndata = bool(a.flags.owndata)

    def __getitem__(self, k):
        return {'C_CONTIGUOUS': self.c_contiguous, 'F_CONTIGUOUS': self.f_contiguous,
                'OWNDATA': self.owndata}[k]


_current_device = [0]


class _Device:
    def __init__(self, device=None):
        if device is None:
            device = _current_device[0]
        device = int(device)
        if device != 0:
            raise RuntimeError(f'cudaErrorInvalidDevice: invalid device ordinal {device}')
        self.id = device
        self._prev = []

    def use(self):
        _current_device[0] = self.id

    def synchronize(self):
        _sync('Device.synchronize')

    def __enter__(self):
        self._prev.append(_current_device[0])
        _current_device[0] = self.id
        return self

    def __exit__(self, *a):
        _current_device[0] = self._prev.pop()

    @property
    def mem_info(self):
        return _runtime.memGetInfo()

    def __eq__(self, o):
        return isinstance(o, _Device) and o.id == self.id

    def __hash__(self):
        return self.id

    def __repr__(self):
        return f'<CUDA Device {self.id}>'


class _Runtime(_types.ModuleType):
    def getDeviceCount(self):
        return 1

    def getDevice(self):
        return _current_device[0]

    def setDevice(self, i):
        _Device(i).use()

    def deviceSynchronize(self):
        pass

    def memGetInfo(self):
        return (8 << 30, 16 << 30)

    def getDeviceProperties(self, i):
        _Device(i)
        return {'name': b'Fake CUDA device', 'totalGlobalMem': 16 << 30, 'major': 9, 'minor': 0,
                'multiProcessorCount': 132}

    def runtimeGetVersion(self):
        return 12040

    def driverGetVersion(self):
        return 12040


_runtime = _Runtime('cupy.cuda.runtime')
cuda = _types.ModuleType('cupy.cuda')
cuda.runtime = _runtime
cuda.Device = _Device
cuda.get_device_id = lambda: _current_device[0]
cuda.is_available = lambda: True


class _Graph:
    """A captured graph: its thunks rerun in order by launch() (one launch)."""

    def __init__(self, thunks):
        self._thunks = thunks

    def launch(self, stream=None):
        _counters['launches'] += 1
        for t in self._thunks:
            t()

    def upload(self, stream=None):
        pass


class _Stream:
    def __init__(self, null=False, non_blocking=False, ptr=0):
        self.ptr = 0 if null else id(self)
        self._null = null

    def synchronize(self):
        _sync('Stream.synchronize')

    def __enter__(self):
        _streams.append(self)
        return self

    def __exit__(self, *a):
        _streams.pop()

    def use(self):
        _streams[0] = self
        return self

    def begin_capture(self, mode=None):
        if self._null:
            raise RuntimeError('cudaErrorStreamCaptureUnsupported: the null stream cannot be captured')
        if _capture[0] is not None:
            raise RuntimeError('cudaErrorIllegalState: a capture is already under way')
        _capture[0] = []
        # a real capture records without running: the stand-in runs each operation (later Python needs its
        # results), so it puts every device buffer back as it was when the capture ends
        _undo[:] = [(a, a.copy()) for a in list(_roots.values())]

    def end_capture(self):
        if _capture[0] is None:
            raise RuntimeError('cudaErrorIllegalState: the stream is not capturing')
        g, _capture[0] = _Graph(_capture[0]), None
        for a, saved in _undo:
            a[...] = saved
        _undo.clear()
        return g

    def is_capturing(self):
        return _capture[0] is not None


_undo = []
_Stream.null = _Stream(null=True)
_streams = [_Stream.null]
cuda.Stream = _Stream
cuda.Graph = _Graph
cuda.get_current_stream = lambda: _streams[-1]


def _set_allocator(allocator=None):
    _allocator[0] = allocator


cuda.set_allocator = _set_allocator
cuda.get_allocator = lambda: _allocator[0]


class _UsingAllocator:
    def __init__(self, allocator=None):
        self._new = allocator

    def __enter__(self):
        self._old = _allocator[0]
        _allocator[0] = self._new

    def __exit__(self, *a):
        _allocator[0] = self._old


cuda.using_allocator = _UsingAllocator


class _Pointer:
    def __init__(self, size):
        self.size = size
        self.ptr = 0


class MemoryPool:
    def __init__(self, allocator=None):
        self._used = 0

    def malloc(self, size):
        self._used += size
        return _Pointer(size)

    def used_bytes(self):
        return self._used

    def total_bytes(self):
        return self._used

    def free_all_blocks(self):
        pass


cuda.MemoryPool = MemoryPool


# -- RawKernel: the numpy twin of the kernel's index arithmetic runs instead of the CUDA source --------------------
_CTYPES = {'float': _np.float32, 'double': _np.float64, 'int': _np.int32, 'long long': _np.int64,
           'unsigned char': _np.uint8, 'bool': _np.bool_}


def _kernel_params(code, name):
    import re
    m = re.search(r'__global__\s+void\s+' + re.escape(name) + r'\s*\(([^)]*)\)', code)
    if m is None:
        raise ValueError(f'fakecupy.RawKernel: no __global__ void {name}(...) in the source')
    t = re.search(r'typedef\s+(float|double)\s+T\s*;', code)
    out = []
    for p in m.group(1).split(','):
        p = p.replace('const', ' ').replace('__restrict__', ' ').strip()
        ptr = '*' in p
        ctype = ' '.join(p.replace('*', ' ').split()[:-1])
        if ctype == 'T':
            if t is None:
                raise ValueError(f'fakecupy.RawKernel {name}: T used without a typedef')
            ctype = t.group(1)
        if ctype not in _CTYPES:
            raise ValueError(f'fakecupy.RawKernel {name}: unsupported parameter type {ctype!r}')
        out.append((ctype, ptr))
    return out


class RawKernel:
    """Checks each launch as a GPU would need it (grid/block shape, argument count, pointer dtypes and contiguity,
    scalar C types), then runs the twin registered under the kernel's name in luatorch_py.backend.cuda.TWINS."""

    def __init__(self, code, name, options=(), backend='nvrtc', translate_cucomplex=False,
                 enable_cooperative_groups=False, jitify=False):
        self.code, self.name = code, name
        self._params = _kernel_params(code, name)

    def __call__(self, grid, block, args, shared_mem=0, stream=None):
        for what, dims in (('grid', grid), ('block', block)):
            if not isinstance(dims, tuple) or not 1 <= len(dims) <= 3 or \
                    not all(isinstance(d, int) and d >= 1 for d in dims):
                raise ValueError(f'fakecupy.RawKernel {self.name}: bad {what} {dims!r}')
        nthreads = 1
        for d in block:
            nthreads *= d
        if nthreads > 1024:
            raise ValueError(f'fakecupy.RawKernel {self.name}: {nthreads} threads per block (max 1024)')
        if shared_mem > 48 * 1024:
            raise ValueError(f'fakecupy.RawKernel {self.name}: {shared_mem} bytes of dynamic shared memory')
        if len(args) != len(self._params):
            raise TypeError(f'fakecupy.RawKernel {self.name}: {len(self._params)} arguments expected, got '
                            f'{len(args)}')
        flat = []
        for i, (a, (ctype, ptr)) in enumerate(zip(args, self._params)):
            want = _np.dtype(_CTYPES[ctype])
            if ptr:
                if not isinstance(a, ndarray):
                    raise TypeError(f'fakecupy.RawKernel {self.name}: argument {i} must be a cupy.ndarray '
                                    f'({ctype}*), got {type(a).__name__}')
                if a.dtype != want:
                    raise TypeError(f'fakecupy.RawKernel {self.name}: argument {i} is {a.dtype}, the kernel reads '
                                    f'{ctype}*')
                if not a._a.flags.c_contiguous:
                    raise ValueError(f'fakecupy.RawKernel {self.name}: argument {i} is not C-contiguous (the kernel '
                                     f'indexes it flat)')
                flat.append(a._a.reshape(-1))
            else:
                if not isinstance(a, _np.generic) or a.dtype != want:
                    raise TypeError(f'fakecupy.RawKernel {self.name}: argument {i} must be a numpy {want} scalar '
                                    f'(C {ctype}), got {type(a).__name__}')
                flat.append(a)
        twin = _sys.modules['luatorch_py.backend.cuda'].TWINS[self.name]
        twin(*flat)
        _launch(lambda: twin(*flat))


cuda.runtime.deviceSynchronize = lambda: _sync('deviceSynchronize')


def _cublas_gemm(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
    """cuBLAS's gemm on the memory of fake arrays, with its column-major semantics: C (m x n, leading dim ldc) =
    alpha op(A) op(B) + beta C, op(X) = X (0) or X^T (1), each matrix read from its array's first element with
    the leading dimension given (luatorch_py.backend.cublas uses this in place of libcublas)."""
    def cm(a, rows, cols, ld, trans):
        if not isinstance(a, ndarray):
            raise TypeError(f'fakecupy cuBLAS: expected a cupy.ndarray, got {type(a).__name__}')
        isz = a.itemsize
        r, c = (cols, rows) if trans else (rows, cols)          # the stored matrix
        if ld < max(1, r):
            raise ValueError(f'fakecupy cuBLAS: leading dimension {ld} < {r} rows')
        need = (c - 1) * ld + r                                 # elements from the first one
        root = a._a
        while isinstance(root.base, _np.ndarray):
            root = root.base
        end = root.__array_interface__['data'][0] + root.nbytes
        if a._a.__array_interface__['data'][0] + need * isz > end:
            raise ValueError(f'fakecupy cuBLAS: a {r}x{c} matrix with ld {ld} reads past its array')
        v = _np.lib.stride_tricks.as_strided(a._a, (r, c), (isz, ld * isz), writeable=True)
        return v.T if trans else v
    if not (A.dtype == B.dtype == C.dtype) or A.dtype not in (_np.float32, _np.float64):
        raise TypeError('fakecupy cuBLAS: gemm needs three float32 or three float64 arrays')
    a, b, c = cm(A, m, k, lda, transa), cm(B, k, n, ldb, transb), cm(C, m, n, ldc, 0)
    _check_overlap('cuBLAS gemm', c, [a, b], elementwise=False)

    def run():
        r = alpha * (a @ b)
        if beta != 0:
            r = r + beta * c
        c[...] = r
    run()
    _launch(run)
_sys.modules['cupy.cuda'] = cuda
_sys.modules['cupy.cuda.runtime'] = _runtime


class _MemPool:
    def malloc(self, size):
        return None

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


_pool = _MemPool()
get_default_memory_pool = lambda: _pool           # noqa: E731
get_default_pinned_memory_pool = lambda: _pool    # noqa: E731


# -- ndarray ---------------------------------------------------------------------------------------------
_METHODS = {
    'all', 'any', 'argmax', 'argmin', 'argpartition', 'argsort', 'astype', 'choose', 'clip', 'compress', 'conj',
    'conjugate', 'copy', 'cumprod', 'cumsum', 'diagonal', 'dot', 'dump', 'dumps', 'flatten', 'item', 'max',
    'mean', 'min', 'nonzero', 'partition', 'prod', 'ptp', 'put', 'ravel', 'repeat', 'reshape', 'round',
    'searchsorted', 'sort', 'squeeze', 'std', 'sum', 'swapaxes', 'take', 'tobytes', 'tofile', 'tolist', 'trace',
    'transpose', 'var', 'view',
}
# allowed keywords of methods whose CuPy signature is narrower than numpy's
_METHOD_KW = {
    'max': {'axis', 'out', 'keepdims'}, 'min': {'axis', 'out', 'keepdims'},
    'sum': {'axis', 'dtype', 'out', 'keepdims'}, 'prod': {'axis', 'dtype', 'out', 'keepdims'},
    'mean': {'axis', 'dtype', 'out', 'keepdims'}, 'var': {'axis', 'dtype', 'out', 'ddof', 'keepdims'},
    'std': {'axis', 'dtype', 'out', 'ddof', 'keepdims'},
    'argmax': {'axis', 'out', 'dtype', 'keepdims'}, 'argmin': {'axis', 'out', 'dtype', 'keepdims'},
    'all': {'axis', 'out', 'keepdims'}, 'any': {'axis', 'out', 'keepdims'},
    'take': {'axis', 'out'}, 'put': {'mode'}, 'copy': {'order'}, 'view': {'dtype'},
    'astype': {'dtype', 'order', 'casting', 'subok', 'copy'}, 'sort': {'axis', 'kind'},
    'argsort': {'axis', 'kind'}, 'clip': {'min', 'max', 'out', 'a_min', 'a_max'},
    'cumsum': {'axis', 'dtype', 'out'}, 'cumprod': {'axis', 'dtype', 'out'}, 'reshape': {'order'},
    'ravel': {'order'}, 'flatten': {'order'}, 'squeeze': {'axis'}, 'repeat': {'axis'},
    'dot': {'out'}, 'round': {'decimals', 'out'},
}
# CuPy 14: min / ptp pass out= to cub.cub_reduction in the place of dtype -> TypeError (array == dtype)
_BROKEN_OUT = {'min', 'amin', 'ptp'}


def _refuse_broken_out(name, args, kw, out_pos):
    """out_pos: the index of ``out`` in args (2 for cupy.min(a, axis, out), 1 for the method x.min(axis, out))."""
    if name in _BROKEN_OUT and (kw.get('out') is not None or (len(args) > out_pos and args[out_pos] is not None)):
        raise TypeError(f'fakecupy: cupy {name}(out=...) raises TypeError on CuPy 14 (its CUB path passes out as '
                        f'the dtype): reduce without out= and copy the result')


_REDUCING_METHODS = {'max', 'min', 'sum', 'prod', 'mean', 'var', 'std', 'argmax', 'argmin', 'all', 'any',
                     'dot'}


def _basic_key(key):
    """True when an index is basic (no arrays/lists/bools arrays): CuPy's view path."""
    ks = key if isinstance(key, tuple) else (key,)
    for k in ks:
        if isinstance(k, (ndarray, _np.ndarray, list)) or isinstance(k, (bool, _np.bool_)):
            return False
    return True


def _key(key):
    if isinstance(key, tuple):
        return tuple(_hostok(k) if isinstance(k, (ndarray, list)) else k for k in key)
    if isinstance(key, (ndarray, list)):
        return _hostok(key)
    return key


class ndarray:
    __slots__ = ('_a', '__weakref__')
    __array_priority__ = 100

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order='C'):
        self._a = _np.empty(shape, dtype=dtype, order=order)
        _alloc(self._a)

    # numpy interop
    def __array__(self, *a, **k):
        raise TypeError('Implicit conversion to a NumPy array is not allowed. '
                        'Please use `.get()` to construct a NumPy array explicitly.')

    def __array_ufunc__(self, uf, method, *inputs, **kwargs):
        fu = ufunc(uf)
        if method == '__call__':
            return fu(*inputs, **kwargs)
        return getattr(fu, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        try:
            f = _module_attr(name)
        except AttributeError:
            return NotImplemented
        return f(*args, **kwargs)

    # attributes
    @property
    def shape(self):
        return self._a.shape

    @shape.setter
    def shape(self, v):
        self._a.shape = v

    @property
    def strides(self):
        return self._a.strides

    dtype = property(lambda s: s._a.dtype)
    ndim = property(lambda s: s._a.ndim)
    size = property(lambda s: s._a.size)
    itemsize = property(lambda s: s._a.itemsize)
    nbytes = property(lambda s: s._a.nbytes)
    T = property(lambda s: _new(s._a.T))
    mT = property(lambda s: _new(s._a.mT))
    flags = property(lambda s: _Flags(s._a))
    data = property(lambda s: _MemoryPointer(s._a))
    device = property(lambda s: _Device(0))

    @property
    def base(self):
        b = self._a.base
        return _wrap(b) if isinstance(b, _np.ndarray) else None

    @property
    def real(self):
        return _new(self._a.real)

    @property
    def imag(self):
        return _new(self._a.imag)

    def __getattr__(self, name):
        if name.startswith('__') or name not in _METHODS:
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        _log('method', name)
        m = getattr(self._a, name)
        allowed = _METHOD_KW.get(name)

        def call(*args, **kw):
            if allowed is not None:
                bad = set(kw) - allowed
                if bad:
                    raise TypeError(f'cupy.ndarray.{name}() got unsupported keyword(s) {sorted(bad)}')
            if name in ('sort', 'argsort'):
                if kw.get('kind') not in (None, 'stable'):
                    raise NotImplementedError('Sorting arrays with the kind other than stable is not supported')
                kw['kind'] = 'stable'                     # CuPy's sorts (CUB radix sort) are stable
            if name == 'take':
                return take(self, *args, **kw)
            _refuse_broken_out(name, args, kw, 1)
            if name == 'view' and (args or kw.get('dtype') is not None):
                dt = _np.dtype(args[0] if args else kw['dtype'])
                if dt.itemsize != self._a.itemsize and not self._a.flags.c_contiguous:
                    raise ValueError('To change to a dtype of a different size, the array must be C-contiguous')
            out = kw.get('out')
            if out is not None:
                kw['out'] = _out(out)
                if name in _REDUCING_METHODS:
                    _check_overlap(f'cupy.ndarray.{name}', kw['out'], [self._a], elementwise=False)
            if name == 'put':
                args = tuple(_hostok(a) for a in args)
            else:
                args = tuple(_loose(a) for a in args)
            if name in ('item', 'tolist', 'tobytes', 'dumps'):
                _sync(f'ndarray.{name}')
                return m(*args, **kw)
            r = m(*args, **kw)
            if out is not None:
                _launch(lambda: m(*args, **kw))
                return out
            w = _wrap(r)
            if isinstance(r, (_np.ndarray, _np.generic)) and not (isinstance(r, _np.ndarray) and r.base is not None):
                res = w._a
                _launch(lambda: _copy_into(res, m(*args, **kw)))
            return w
        return call

    def fill(self, value):
        if isinstance(value, _np.ndarray):
            if value.shape != ():
                raise ValueError('non-scalar numpy.ndarray cannot be used for fill')
            value = value.item()
        elif isinstance(value, ndarray):
            if value.shape != ():
                raise ValueError('non-scalar cupy.ndarray cannot be used for fill')
            value = value._a[()]
        elif not _is_scalar(value):
            raise TypeError(f'Unsupported type {type(value)}')
        self._a.fill(value)
        _launch(lambda: self._a.fill(value))

    def get(self, stream=None, order='C', out=None, blocking=True):
        _sync('ndarray.get')
        if out is not None:
            out[...] = self._a
            return out
        return _np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        if not isinstance(arr, _np.ndarray):
            raise TypeError(f'Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}')
        if arr.shape != self._a.shape:
            raise ValueError('Shape mismatch')
        if arr.dtype != self._a.dtype:
            raise TypeError(f'{arr.dtype} array cannot be set to {self._a.dtype} array')
        _sync('ndarray.set (host->device)')
        self._a[...] = arr

    def reduced_view(self, dtype=None):
        return self

    def scatter_add(self, slices, value):
        _scatter(self, slices, value, 'add')

    def scatter_max(self, slices, value):
        _scatter(self, slices, value, 'max')

    def scatter_min(self, slices, value):
        _scatter(self, slices, value, 'min')

    # python protocol
    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError('iteration over a 0-d array')
        for i in range(len(self._a)):
            yield self[i]

    def __bool__(self):
        _sync('ndarray.__bool__')
        return bool(self._a)

    def __int__(self):
        _sync('ndarray.__int__')
        return int(self._a)

    def __float__(self):
        _sync('ndarray.__float__')
        return float(self._a)

    def __complex__(self):
        _sync('ndarray.__complex__')
        return complex(self._a)

    # no __index__: CuPy leaves it out on purpose (it would be an implicit device->host transfer)

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec) if self._a.ndim == 0 else str(self)

    __hash__ = None

    def __copy__(self):
        return _new(self._a.copy())

    def __deepcopy__(self, memo):
        return _new(self._a.copy())

    def __reduce__(self):
        return (_new, (self._a.copy(),))

    def __getitem__(self, key):
        k = _key(key)
        r = self._a[k]
        if isinstance(r, _np.generic):            # CuPy: integer indexing gives a 0-d view, not a scalar
            kk = k if isinstance(k, tuple) else (k,)
            if not any(x is Ellipsis for x in kk):
                r = self._a[kk + (Ellipsis,)]
            else:
                r = _np.array(r)
        if not _basic_key(key):
            res, src = r, self._a
            _launch(lambda: _copy_into(res, src[k]))
        return _new(r)

    def __setitem__(self, key, value):
        k = _key(key)
        if isinstance(value, ndarray):
            if _basic_key(key):
                _check_overlap('ndarray.__setitem__', self._a[k], [value._a])
            else:
                if _shares(self._a, value._a):
                    raise ValueError('fakecupy: scatter setitem from an overlapping array')
                _check_dup_scatter(self._a, k, value._a)
            self._a[k] = value._a
            dst, v = self._a, value._a
            _launch(lambda: dst.__setitem__(k, v))
            return
        if _basic_key(key):
            if isinstance(value, _np.ndarray) and value.shape != ():
                raise ValueError('non-scalar numpy.ndarray cannot be used for fill')
            if isinstance(value, (list, tuple)):
                raise TypeError(f'Unsupported type {type(value)}')
            self._a[k] = value
            dst = self._a
            _launch(lambda: dst.__setitem__(k, value))
            return
        v = _hostok(value)
        _check_dup_scatter(self._a, k, v)
        self._a[k] = v
        dst = self._a
        _launch(lambda: dst.__setitem__(k, v))


def _check_dup_scatter(a, k, v):
    """An advanced-index assignment writing different values to one element twice: which wins is undefined on
    a GPU (numpy: the last)."""
    if a.size == 0:
        return
    pos = _np.arange(a.size).reshape(a.shape)[k]
    if pos.size < 2:
        return
    flat = pos.reshape(-1)
    uniq, first = _np.unique(flat, return_index=True)
    if uniq.size == flat.size:
        return
    vals = _np.broadcast_to(_np.asarray(v, dtype=a.dtype), pos.shape).reshape(-1)
    order = _np.argsort(flat, kind='stable')
    fs, vs = flat[order], vals[order]
    same = fs[1:] == fs[:-1]
    if _np.any(same & ~((vs[1:] == vs[:-1]) | (_np.isnan(vs[1:]) & _np.isnan(vs[:-1]))
                        if vs.dtype.kind == 'f' else vs[1:] == vs[:-1])):
        raise ValueError('fakecupy: scatter setitem writes different values to one element (duplicate indices): '
                         'the result is undefined on a GPU')


def _binop(uname, reflected=False, inplace=False):
    def f(self, other):
        u = _module_attr(uname)
        if isinstance(other, _np.ndarray):
            raise _unsupported(other)
        if inplace:
            return u(self, other, out=self)
        return u(other, self) if reflected else u(self, other)
    return f


for _n, _u in [('add', 'add'), ('sub', 'subtract'), ('mul', 'multiply'), ('truediv', 'true_divide'),
               ('floordiv', 'floor_divide'), ('mod', 'remainder'), ('pow', 'power'), ('matmul', 'matmul'),
               ('and', 'bitwise_and'), ('or', 'bitwise_or'), ('xor', 'bitwise_xor'), ('lshift', 'left_shift'),
               ('rshift', 'right_shift')]:
    setattr(ndarray, f'__{_n}__', _binop(_u))
    setattr(ndarray, f'__r{_n}__', _binop(_u, reflected=True))
    setattr(ndarray, f'__i{_n}__', _binop(_u, inplace=True))
for _n, _u in [('eq', 'equal'), ('ne', 'not_equal'), ('lt', 'less'), ('le', 'less_equal'), ('gt', 'greater'),
               ('ge', 'greater_equal')]:
    setattr(ndarray, f'__{_n}__', _binop(_u))
for _n, _u in [('neg', 'negative'), ('pos', 'positive'), ('abs', 'absolute'), ('invert', 'invert')]:
    setattr(ndarray, f'__{_n}__', (lambda uu: lambda self: _module_attr(uu)(self))(_u))
ndarray.__divmod__ = lambda self, o: (self // o, self % o)


# -- ufuncs ----------------------------------------------------------------------------------------------
_AT_DTYPES = {
    'add': ('int32', 'uint32', 'uint64', 'float16', 'float32', 'float64'),
    'subtract': ('int32', 'uint32'),
    'maximum': ('int32', 'uint32', 'uint64', 'float32', 'float64'),
    'minimum': ('int32', 'uint32', 'uint64', 'float32', 'float64'),
}


class ufunc:
    def __init__(self, u):
        self._u = u
        self.name = u.__name__
        self.nin, self.nout, self.nargs = u.nin, u.nout, u.nargs
        self.types = u.types
        self.__name__ = self.name

    def __repr__(self):
        return f'<ufunc cupy.{self.name}>'

    def __call__(self, *args, out=None, dtype=None, casting='same_kind', **kw):
        if kw:
            raise TypeError(f'Wrong arguments {kw}')
        _log('ufunc', self.name)
        ins = args[:self.nin]
        if len(args) > self.nin:
            if out is not None:
                raise ValueError('cannot specify \'out\' as both a positional and keyword argument')
            out = args[self.nin:]
            out = out[0] if len(out) == 1 else out
        ins = [_operand(a) for a in ins]
        o = _out(out)
        extra = {}
        if dtype is not None:
            extra['dtype'] = dtype
        _check_overlap(f'cupy.{self.name}', o, ins, elementwise=self.name != 'matmul')
        r = self._u(*ins, out=o, casting=casting, **extra)
        res = o if o is not None else r
        _launch(lambda: self._u(*ins, out=res, casting=casting, **extra))
        if out is not None:
            return out
        return _wrap(r)

    def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False):
        _log('ufunc.reduce', self.name)
        _check_overlap(f'cupy.{self.name}.reduce', _out(out), [_operand(array)], elementwise=False)
        a = _operand(array)
        r = self._u.reduce(a, axis=axis, dtype=dtype, out=_out(out), keepdims=keepdims)
        w = out if out is not None else _wrap(r)
        res = w._a
        _launch(lambda: _copy_into(res, self._u.reduce(a, axis=axis, dtype=dtype, keepdims=keepdims)))
        return w

    def accumulate(self, array, axis=0, dtype=None, out=None):
        _log('ufunc.accumulate', self.name)
        r = self._u.accumulate(_operand(array), axis=axis, dtype=dtype, out=_out(out))
        _launch()
        return out if out is not None else _wrap(r)

    def reduceat(self, array, indices, axis=0, dtype=None, out=None):
        _log('ufunc.reduceat', self.name)
        if self.name != 'add':
            raise NotImplementedError(f'reduceat only supports add (got {self.name})')
        r = self._u.reduceat(_operand(array), _hostok(indices), axis=axis, dtype=dtype, out=_out(out))
        _launch()
        return out if out is not None else _wrap(r)

    def outer(self, A, B, **kw):
        _log('ufunc.outer', self.name)
        return _wrap(self._u.outer(_operand(A), _operand(B), **kw))

    def at(self, a, indices, b=None):
        _log('ufunc.at', self.name)
        if not isinstance(a, ndarray):
            raise _unsupported(a)
        ok = _AT_DTYPES.get(self.name)
        if ok is None:
            raise NotImplementedError(f'ufunc.at is not supported for {self.name}')
        if a.dtype.name not in ok:
            raise TypeError(f'cupy.{self.name}.at only supports {ok} as data type (got {a.dtype})')
        k, v = _key(indices), _hostok(b)
        self._u.at(a._a, k, v)
        _launch(lambda: self._u.at(a._a, k, v))


def _scatter(a, slices, value, op):
    if not isinstance(a, ndarray):
        raise _unsupported(a)
    u = {'add': 'add', 'max': 'maximum', 'min': 'minimum'}[op]
    if _basic_key(slices):
        view = a[slices]
        _module_attr(u)(view, value, out=view)
        return
    ok = _AT_DTYPES[u]
    if a.dtype.name not in ok:
        raise TypeError(f'cupy.{u}.at only supports {ok} as data type (got {a.dtype})')
    if isinstance(value, ndarray) and _shares(a._a, value._a):
        raise ValueError('fakecupy: scatter from an overlapping array')
    k, v = _key(slices), _hostok(value)
    getattr(_np, u).at(a._a, k, v)
    _launch(lambda: getattr(_np, u).at(a._a, k, v))


# -- module functions --------------------------------------------------------------------------------------
# functions that take host data (converted to the device) or no arrays at all
_HOST_OK = {'array', 'asarray', 'asanyarray', 'zeros', 'ones', 'empty', 'full', 'arange', 'linspace', 'logspace',
            'eye', 'identity', 'indices', 'broadcast_shapes', 'dtype', 'can_cast', 'promote_types', 'finfo', 'iinfo',
            'result_type', 'min_scalar_type', 'isscalar', 'ndim', 'shape', 'size', 'tri', 'diag', 'fromiter',
            'frombuffer'}
# creation functions: a device array cannot give a shape / size / bound
_SHAPE_FUNCS = {'zeros', 'ones', 'empty', 'eye', 'identity', 'indices', 'arange', 'linspace', 'logspace', 'tri'}
# keyword arguments CuPy accepts, for functions whose numpy counterpart takes more
_KW = {
    'sum': {'axis', 'dtype', 'out', 'keepdims'}, 'prod': {'axis', 'dtype', 'out', 'keepdims'},
    'mean': {'axis', 'dtype', 'out', 'keepdims'}, 'std': {'axis', 'dtype', 'out', 'ddof', 'keepdims'},
    'var': {'axis', 'dtype', 'out', 'ddof', 'keepdims'},
    'max': {'axis', 'out', 'keepdims'}, 'amax': {'axis', 'out', 'keepdims'},
    'min': {'axis', 'out', 'keepdims'}, 'amin': {'axis', 'out', 'keepdims'},
    'argmax': {'axis', 'dtype', 'out', 'keepdims'}, 'argmin': {'axis', 'dtype', 'out', 'keepdims'},
    'take': {'axis', 'out'}, 'take_along_axis': {'axis'}, 'clip': {'out', 'a_min', 'a_max'},
    'where': set(), 'copyto': {'casting', 'where'},
    'concatenate': {'axis', 'out', 'dtype', 'casting'}, 'stack': {'axis', 'out', 'dtype', 'casting'},
    'argsort': {'axis', 'kind'}, 'sort': {'axis', 'kind'},
    'unique': {'return_index', 'return_inverse', 'return_counts', 'axis', 'equal_nan'},
    'bincount': {'weights', 'minlength'}, 'count_nonzero': {'axis'},
    'einsum': {'dtype', 'casting', 'optimize'}, 'cumsum': {'axis', 'dtype', 'out'},
    'cumprod': {'axis', 'dtype', 'out'}, 'ascontiguousarray': {'dtype'},
    'asarray': {'dtype', 'order', 'blocking'}, 'array': {'dtype', 'copy', 'order', 'subok', 'ndmin', 'blocking'},
    'empty': {'dtype', 'order'}, 'zeros': {'dtype', 'order'}, 'ones': {'dtype', 'order'},
    'full': {'dtype', 'order'}, 'arange': {'dtype'}, 'nonzero': set(), 'flip': {'axis'},
    'moveaxis': set(), 'indices': {'dtype'}, 'eye': {'dtype', 'k', 'order', 'M', 'N'},
    'linspace': {'num', 'endpoint', 'retstep', 'dtype', 'axis'},
    'logspace': {'num', 'endpoint', 'base', 'dtype', 'axis'},
    'empty_like': {'dtype', 'order', 'subok', 'shape'}, 'zeros_like': {'dtype', 'order', 'subok', 'shape'},
    'ones_like': {'dtype', 'order', 'subok', 'shape'}, 'full_like': {'dtype', 'order', 'subok', 'shape'},
    'cross': {'axisa', 'axisb', 'axisc', 'axis'}, 'diff': {'n', 'axis', 'prepend', 'append'},
    'median': {'axis', 'out', 'overwrite_input', 'keepdims'}, 'tensordot': {'axes'},
    'dot': {'out'}, 'outer': {'out'}, 'inner': set(), 'vdot': set(),
    'trace': {'offset', 'axis1', 'axis2', 'dtype', 'out'},
    'put': {'mode'}, 'repeat': {'axis'}, 'tile': set(), 'roll': {'axis'},
}
_INDEX_ARG = {'take': 1, 'take_along_axis': 1, 'put': 1}
_ELEMENTWISE_OUT = {'clip', 'where', 'around', 'round', 'cumsum', 'cumprod'}   # cumsum: CuPy copies a into out, then scans out in place
# numpy names CuPy lacks (or that behave differently enough to matter)
_MISSING = {'asfarray', 'asmatrix', 'matrix', 'ma', 'rec', 'char', 'ctypeslib', 'memmap', 'nditer', 'nested_iters',
            'ndenumerate', 'ndindex', 'apply_along_axis', 'apply_over_axes', 'frompyfunc', 'setbufsize',
            'getbufsize', 'seterr', 'geterr', 'errstate', 'busday_count', 'datetime_as_string', 'fromfunction',
            'loadtxt', 'savetxt', 'genfromtxt', 'fromregex', 'fromstring', 'place', 'einsum_path'}
_PASSTHROUGH = {'ndim', 'shape', 'size', 'isscalar', 'dtype', 'can_cast', 'result_type', 'promote_types',
                'min_scalar_type', 'finfo', 'iinfo', 'broadcast_shapes'}

_cache = {}


def _make_func(name, nf):
    allowed = _KW.get(name)
    host_ok = name in _HOST_OK
    idx_arg = _INDEX_ARG.get(name)

    def f(*args, **kw):
        _log('func', name)
        if allowed is not None:
            bad = set(kw) - allowed
            if bad:
                raise TypeError(f'cupy.{name}() got unsupported keyword argument(s) {sorted(bad)}')
        if name == 'copyto':
            return _copyto(*args, **kw)
        if name == 'take':
            return take(*args, **kw)
        _refuse_broken_out(name, args, kw, 2)
        if name in ('argsort', 'sort'):
            if kw.get('kind') not in (None, 'stable'):
                raise NotImplementedError('Sorting arrays with the kind other than stable is not supported')
            kw['kind'] = 'stable'                         # CuPy's sorts (CUB radix sort) are stable
        if name in _SHAPE_FUNCS and any(isinstance(a, ndarray) for a in list(args) + list(kw.values())):
            raise TypeError(f'cupy.{name}: a cupy.ndarray cannot be used as a shape / size / bound')
        out = kw.get('out')
        if out is not None:
            kw['out'] = _out(out)
        if host_ok:
            a2 = tuple(_hostok(a) for a in args)
            k2 = {k: _hostok(v) for k, v in kw.items()}
        else:
            a2 = tuple(_hostok(a) if i == idx_arg else _loose(a) for i, a in enumerate(args))
            k2 = {k: (v if k == 'out' else _loose(v)) for k, v in kw.items()}
            if name not in ('concatenate', 'stack', 'vstack', 'hstack', 'dstack', 'column_stack',
                            'broadcast_arrays', 'meshgrid', 'einsum', 'result_type') and args and \
                    isinstance(args[0], (list, tuple)):
                raise TypeError(f'cupy.{name}: Unsupported type {type(args[0])}')
        if out is not None:
            flat = []
            for a in list(a2) + [v for k, v in k2.items() if k != 'out']:
                flat.extend(a if isinstance(a, (list, tuple)) else [a])
            _check_overlap(f'cupy.{name}', k2['out'], flat, elementwise=name in _ELEMENTWISE_OUT)
        r = nf(*a2, **k2)
        if name in _HOST_OK and any(isinstance(a, (_np.ndarray, list, tuple)) for a in args):
            _sync(f'cupy.{name} from host data')          # a host->device copy: not capturable
        if name not in _PASSTHROUGH and name not in ('empty', 'empty_like'):
            if out is not None:
                _launch(lambda: nf(*a2, **k2))
            elif isinstance(r, _np.ndarray) and r.base is None:
                res = r
                _launch(lambda: _copy_into(res, nf(*a2, **k2)))
        if out is not None:
            return out
        if name == 'count_nonzero' and kw.get('axis') is None:
            return _new(_np.array(r, dtype=_np.intp))
        if name in _PASSTHROUGH:
            return r
        return _wrap(r)
    f.__name__ = name
    return f


def take(a, indices, axis=None, out=None):
    if not isinstance(a, ndarray):
        raise _unsupported(a)
    if isinstance(indices, ndarray) and indices.dtype.kind not in 'iu':
        raise TypeError(f'indices of dtype {indices.dtype}')
    if out is not None:
        if not isinstance(out, ndarray):
            raise TypeError('out must be cupy.ndarray')
        if out.dtype != a.dtype:
            raise TypeError('Output dtype mismatch')
    idx = _hostok(indices)
    if out is not None:
        _check_overlap('cupy.take', out._a, [a._a, idx], elementwise=False)
    r = _np.take(a._a, idx, axis=axis, mode='wrap')
    src = a._a
    if out is not None:
        if out.shape != r.shape:
            raise ValueError('Output shape mismatch')
        out._a[...] = r
        res = out._a
    else:
        out = _wrap(r)
        res = out._a
    _launch(lambda: _copy_into(res, _np.take(src, idx, axis=axis, mode='wrap')))
    return out


def _copyto(dst, src, casting='same_kind', where=None):
    if not isinstance(dst, ndarray):
        raise TypeError(f'dst must be cupy.ndarray, got {type(dst)}')
    if isinstance(src, _np.ndarray):
        if src.size != 1:
            raise ValueError('non-scalar numpy.ndarray cannot be used for copyto')
        src = src.item()
    elif isinstance(src, ndarray):
        src = src._a
        _check_overlap('cupy.copyto', dst._a, [src])
    elif not _is_scalar(src):
        raise _unsupported(src)
    if where is not None:
        if isinstance(where, _np.ndarray):
            raise _unsupported(where)
        if not isinstance(where, ndarray) and not _is_scalar(where):
            raise _unsupported(where)
        where = where._a if isinstance(where, ndarray) else where
        _check_overlap('cupy.copyto (where)', dst._a, [where])
        _np.copyto(dst._a, src, casting=casting, where=where)
        _launch(lambda: _np.copyto(dst._a, src, casting=casting, where=where))
    else:
        _np.copyto(dst._a, src, casting=casting)
        _launch(lambda: _np.copyto(dst._a, src, casting=casting))


def asnumpy(a, stream=None, order='C', out=None, blocking=True):
    if isinstance(a, ndarray):
        _counters['syncs'] -= 1                 # counted once, in get()
        return a.get(order=order, out=out)
    if out is not None:
        out[...] = a
        return out
    return _np.asarray(a, order=order)


def get_array_module(*args):
    for a in args:
        if isinstance(a, ndarray):
            return _sys.modules[__name__]
    return _np


def _module_attr(name):
    if name in _cache:
        return _cache[name]
    if name.startswith('__') or name in _MISSING:
        raise AttributeError(f"module 'cupy' has no attribute '{name}'")
    nf = getattr(_np, name, None)
    if nf is None:
        raise AttributeError(f"module 'cupy' has no attribute '{name}'")
    if isinstance(nf, _np.ufunc):
        r = ufunc(nf)
    elif isinstance(nf, type) or not callable(nf):
        r = nf                                   # dtypes (float32, ...), constants (inf, pi, newaxis)
    else:
        r = _make_func(name, nf)
    _cache[name] = r
    return r


def __getattr__(name):
    return _module_attr(name)


# -- submodules -------------------------------------------------------------------------------------------
def _as_strided(x, shape=None, strides=None):
    if not isinstance(x, ndarray):
        raise _unsupported(x)
    return _new(_np.lib.stride_tricks.as_strided(x._a, shape, strides, writeable=True))


lib = _types.ModuleType('cupy.lib')
lib.stride_tricks = _types.ModuleType('cupy.lib.stride_tricks')
lib.stride_tricks.as_strided = _as_strided
_sys.modules['cupy.lib'] = lib
_sys.modules['cupy.lib.stride_tricks'] = lib.stride_tricks


class _Random(_types.ModuleType):
    def __getattr__(self, name):
        nf = getattr(_np.random, name)
        if not callable(nf) or isinstance(nf, type):
            return nf

        def f(*a, **k):
            return _wrap(nf(*a, **k))
        return f


random = _Random('cupy.random')
_sys.modules['cupy.random'] = random

"""Torch7's Module protocol, once, for every module.

A module keeps Torch7's fields (``output``, ``gradInput``, ``weight``, ``gradWeight``, ``train``, ``_type``, ...)
and overrides ``updateOutput``, ``updateGradInput`` and ``accGradParameters``.  Everything else (forward,
backward, parameter updates, getParameters, type conversion, cloning, sharing) lives here.

Attributes whose names start with ``_`` (except ``_type``) are Python-side caches: they are not saved to .t7
files and are rebuilt when missing.
"""
import copy as _copy
import math as _math
import numbers
import sys as _sys
import threading as _threading
import weakref as _weakref

import numpy as np

from .. import backend
from .._fork import hold_across_fork, load
from ..storage import Storage
from ..tensor import Tensor, as_tensor, default_info
from ..types import TYPES, on_device, type_info

REGISTRY = {}   # Lua class name ('nn.Linear') -> Python class, for serialization
_PACKAGE = __name__.split('.')[0]


def _builtin(cls):
    return cls.__module__ == _PACKAGE or cls.__module__.startswith(_PACKAGE + '.')


def _register(cls):
    """Called for every subclass.  luatorch_py's own classes are 'nn.' + their name.  A user's class is
    registered under its module-qualified name ('__main__.Linear', 'mypkg.nets.Block') unless it sets
    ``__torch_name__`` itself (e.g. 'nn.MyModule' to load Lua files of a Lua class of that name); it never
    replaces a built-in: a user's ``class Linear(nn.Module)`` must not change what torch.load builds for the
    'nn.Linear' of a file (``serialization.registerClass(name, cls, replace=True)`` does that, explicitly)."""
    explicit = '__torch_name__' in cls.__dict__
    if cls.__name__.startswith('_') and not explicit:
        return      # private bases (shared code for a family) are not Torch7 classes
    builtin = _builtin(cls)
    if not explicit:
        cls.__torch_name__ = 'nn.' + cls.__name__ if builtin else f'{cls.__module__}.{cls.__qualname__}'
    name = cls.__torch_name__
    prev = REGISTRY.get(name)
    if prev is None and not builtin:
        prev = _unloaded_builtin(name)
    if prev is not None and prev is not cls and _builtin(prev) and not builtin:
        import warnings
        warnings.warn(f"{cls.__module__}.{cls.__qualname__}: __torch_name__ {name!r} is luatorch_py's "
                      f"{prev.__module__}.{prev.__qualname__}; files naming {name!r} still load that class "
                      f"(to load them as yours, call luatorch_py.serialization.registerClass({name!r}, "
                      f"{cls.__qualname__}, replace=True))", RuntimeWarning, stacklevel=3)
        return
    REGISTRY[name] = cls


def _unloaded_builtin(name):
    """luatorch_py's class of Lua name ``name`` when its file has not loaded yet (nn's files and nngraph load on first
    use: see nn/__init__.py), loading it; else None.  (So that a user's class never takes a built-in's name.)"""
    from . import _OWNER
    if name.startswith('nn.') and name[3:] in _OWNER:
        load(_OWNER[name[3:]], __package__)
    elif name.startswith('nngraph.'):
        load('..nngraph', __package__)
    return REGISTRY.get(name)


def _nngraph(name):
    """nngraph's module ``name``, loaded on first use (counted: see _fork.py)."""
    return load('..nngraph.' + name, __package__)


_COUNTS_OK = None     # whether this Python counts references as _unheld expects (see _counts_as_expected)


def _unheld(module, name):
    """_counted_unheld, where this Python's reference counts are those it expects; else False (no value is left to be
    written later: every field is written as Torch7 writes it)."""
    if _COUNTS_OK is None:
        _counts_as_expected()
    return _COUNTS_OK and _counted_unheld(module, name)


def _counts_as_expected():
    """Check once, on a field of a module of our own, that _counted_unheld tells an unheld field from one held as a
    tensor, its storage, its array or a numpy view: it counts exact references (CPython 3.11-3.13), and a Python
    that counts otherwise (e.g. loads of locals that borrow) could take a held field for an unheld one."""
    global _COUNTS_OK
    probe = _Probe()
    probe.__dict__['f'] = default_info().tensor_class(3)
    ok = _counted_unheld(probe, 'f')
    for hold in (lambda t: t, lambda t: t.storage(), lambda t: t._a, lambda t: t.numpy(), lambda t: t.narrow(0, 1, 1)):
        held = hold(probe.f)
        ok = ok and not _counted_unheld(probe, 'f')
        del held
    _COUNTS_OK = ok and _counted_unheld(probe, 'f')


def _counted_unheld(module, name):
    """Whether nothing outside ``module`` holds its tensor field ``name``: not the tensor, a view of it, its
    storage, its array, a numpy view of either, nor the storage's numpy buffer (``storage().numpy()``).  Then its
    values may be written when it is next read (LazyField).  Every reference counted is named below (besides the
    module dict's, this function's locals and getrefcount's argument; ``own``: the module's own caches holding the
    array, ``module._own_refs``), so any other is a holder.  The arrays' chains of bases are counted too: a numpy
    view taken outside refers to the first base that owns the memory or is not an array (empty_aligned's raw bytes
    under the storage's buffer, as_strided's wrapper), not to the array it was taken from."""
    t = module.__dict__.get(name)
    # t: the dict, the local, the argument; its storage: t._s, the argument
    if t is None or _sys.getrefcount(t) != 3 or _sys.getrefcount(t._s) != 2:
        return False
    # the array, the buffer and their bases, each once, with the references each should have: the list's, the
    # argument's, and t._a's (and the module's own caches'), s._data's, each base link's
    chain = [t._a]
    want = [3 + module._own_refs(name, t._a)]
    _link(chain, want, t._s._data)
    i = 0
    while i < len(chain):
        base = getattr(chain[i], 'base', None)
        if base is not None:
            _link(chain, want, base)
        i += 1
    base = None
    return all(_sys.getrefcount(chain[j]) == want[j] for j in range(len(chain)))


def _link(chain, want, o):
    """One more expected reference to ``o`` (see _unheld): a new entry of ``chain`` when not in it yet."""
    for j in range(len(chain)):
        if chain[j] is o:
            want[j] += 1
            return
    chain.append(o)
    want.append(3)


_fill_lock = _threading.RLock()     # one LazyField fill at a time (LazyField.settle)
_filling = 0                        # fills under way


def _after_fork_in_child():
    """A forked child has only the thread that forked.  The lock, taken before the fork so that no other thread's
    fill was half done (a child would find that field half written and no longer pending), is one nobody there would
    release: the lock and the count start afresh."""
    global _fill_lock, _filling
    _fill_lock = _threading.RLock()
    _filling = 0


hold_across_fork(lambda: _fill_lock, _after_fork_in_child)


class LazyField:
    """A tensor field whose values a pass may leave to be written when first read: through this attribute,
    ``parameters()``, ``type()``, saving, copying, ``share``, ``clearState`` (all call ``_settle``), or a pass
    that needs them.  Pending while ``module.__dict__[pending]`` is not None; ``fill(module, name)`` writes them
    and drops that key.  A pass leaves a field pending only when nothing outside the module holds it
    (``_unheld``), so nobody can see the values before they are written."""

    def __init__(self, name, pending, fill):
        self.name, self.pending, self.fill = name, pending, fill

    def settle(self, obj):
        """Write the field if it is pending.  Under a lock, and a read while any fill is under way waits for it: a
        fill drops its key before it writes, so another thread reading the field meanwhile would otherwise take the
        array half written."""
        global _filling
        with _fill_lock:
            if obj.__dict__.get(self.pending) is not None:
                _filling += 1
                try:
                    self.fill(obj, self.name)
                finally:
                    _filling -= 1

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        d = obj.__dict__
        if d.get(self.pending) is not None or _filling:     # (in this order: see settle)
            self.settle(obj)
        try:
            return d[self.name]
        except KeyError:
            raise AttributeError(f"'{type(obj).__name__}' object has no attribute '{self.name}'") from None

    def __set__(self, obj, value):
        obj.__dict__.pop(self.pending, None)
        obj.__dict__[self.name] = value

    def __delete__(self, obj):
        obj.__dict__.pop(self.pending, None)
        del obj.__dict__[self.name]


def zero_later(module, name):
    """A lazy zeroGradParameters of gradient field ``name`` (a LazyField ``lazy_zero``: _WeightBias's gradWeight):
    when its array is a large CPU one nobody outside the module holds, mark it pending -- the next accumulation writes
    its product over it instead of adding it to zeros (the same numbers: backend.addmm) -- and return True; else
    False (zero it)."""
    d = module.__dict__
    if not backend.lazy_zero_ok(d[name]._a) or not _unheld(module, name):
        return False
    d['_zero_' + name] = True
    return True


def _fill_zero(module, name):
    """LazyField fill of a gradient zeroGradParameters left pending: zeros."""
    module.__dict__.pop('_zero_' + name, None)
    module.__dict__[name]._a.fill(0)


def lazy_zero(name):
    """The LazyField of gradient field ``name`` (see zero_later)."""
    return LazyField(name, '_zero_' + name, _fill_zero)


class TypedObject:
    """What Module and Criterion share: a tensor type, input coercion, type conversion, cloning."""
    __torch_name__ = None
    # fields holding 0-based dims/indices here and 1-based ones in Lua (converted by serialization)
    _lua_index_fields = ()

    _lazy = ()          # the class's LazyField descriptors (set for every subclass)

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        _register(cls)
        names = {k for b in cls.__mro__ for k, v in vars(b).items() if isinstance(v, LazyField)}
        cls._lazy = tuple(f for k in sorted(names) if isinstance(f := getattr(cls, k, None), LazyField))

    def _settle(self):
        """Write every LazyField left pending (before anything reads the fields directly)."""
        d = self.__dict__
        for f in self._lazy:
            if d.get(f.pending) is not None or _filling:    # (as LazyField.__get__: a fill under way is waited for)
                f.settle(self)

    def _init_type(self):
        info = default_info()
        self._type = info.name
        self._tinfo = info
        self._tcls = info.tensor_class

    # -- inputs ------------------------------------------------------------------------------------------
    def _coerce(self, x, what='input'):
        """``x`` as a tensor of this module's type.  A numpy array with the right dtype is wrapped without a copy
        (the wrapper is cached while the same array comes back), another dtype is converted; a tensor of another
        type is an error, as in Torch7."""
        if x.__class__ is self._tcls:
            return x
        cache = self.__dict__.get('_np_cache')
        if cache is not None and cache[0] is x:     # the same numpy array again (a training loop's input)
            return cache[1]
        if isinstance(x, Tensor):
            fix = f"the {what} with .type('{self._type}')"
            # a module of an integer type computes nothing useful: suggest one only for a floating input
            fix = f"convert the module with .type('{x.type()}') or {fix}" if x._info.is_floating else f"convert {fix}"
            raise TypeError(f"{self!r}: expected {what} of type {self._type}, got a {x.type()} ({fix})")
        if isinstance(x, (list, tuple)):
            raise TypeError(f"{self!r}: expected {what} to be a {self._type} or a numpy array, got a "
                            f"{type(x).__name__} (table inputs are for table modules)")
        if not (isinstance(x, np.ndarray) or backend.is_cuda_array(x)):
            raise TypeError(f"{self!r}: expected {what} to be a {self._type} or a numpy array, "
                            f"got {type(x).__name__}")
        try:
            t = as_tensor(x, self._tinfo)
        except ValueError:
            if x.dtype.kind in 'biuf':
                raise
            # complex, string or object values: the tensor's error would not say which module
            raise TypeError(f"{self!r}: expected {what} of numbers, got a numpy array of dtype {x.dtype}") from None
        if t._a is x:
            self._np_cache = (x, t)
        return t

    def _buffer(self, name, shape, info=None, dtype=None):
        """A scratch array kept on the module under ``name``, reallocated only when its shape changes: of the
        module's type, of type ``info``, or of numpy ``dtype`` (e.g. bool) on the module's device."""
        buf = self.__dict__.get(name)
        if info is None and dtype is None and buf is not None and buf.shape == shape:    # the steady state, quickly
            info = self._tinfo
            if buf.dtype is info.dtype and (type(buf) is not np.ndarray) is info.cuda:
                return buf
        info = info or self._tinfo
        dtype = info.dtype if dtype is None else dtype      # (a dtype compares equal to its type: bool, ...)
        if buf is None or buf.shape != shape or buf.dtype != dtype or (type(buf) is not np.ndarray) != info.cuda:
            buf = backend.empty_aligned(shape, dtype, info.xp)     # (cache-line aligned: see there)
            self.__dict__[name] = buf
        return buf

    def _bools(self, name, shape):
        """A kept boolean scratch array (``_buffer`` with dtype bool)."""
        return self._buffer(name, shape, dtype=bool)

    def _arange(self, name, n):
        """A kept ``arange(n)`` (intp) on the module's device under ``name``, made again only when n changes."""
        buf = self.__dict__.get(name)
        if buf is None or buf.shape != (n,) or (type(buf) is not np.ndarray) != self._tinfo.cuda:
            buf = self.__dict__[name] = self._tinfo.xp.arange(n, dtype=np.intp)
        return buf

    # -- type conversion ---------------------------------------------------------------------------------
    def type(self, name=None, tensorCache=None):
        """With no argument the tensor type name; else convert every tensor field (recursively) to that type,
        keeping tensors that shared a storage sharing one after."""
        if name is None:
            return self._type
        info = type_info(name)
        cache = {} if tensorCache is None else tensorCache
        self._settle()
        for k in list(self.__dict__):       # (keys only: each old value is dropped as soon as it is replaced)
            v = self.__dict__[k]
            if k.startswith('_') and k != '_type':
                if isinstance(v, (np.ndarray, tuple)) or backend.is_cuda_array(v):
                    del self.__dict__[k]       # Python-side caches: rebuilt on demand in the new type
                continue
            self.__dict__[k] = _convert(v, info, cache)
        self._type = info.name
        self._tinfo = info
        self._tcls = info.tensor_class
        return self

    # (a tensorCache passed on, as Torch7's float(...): modules converted in several calls keep sharing)
    def float(self, tensorCache=None):
        return self.type('torch.FloatTensor', tensorCache)

    def double(self, tensorCache=None):
        return self.type('torch.DoubleTensor', tensorCache)

    def cuda(self, tensorCache=None):
        return self.type('torch.CudaTensor', tensorCache)

    def cudaDouble(self, tensorCache=None):
        return self.type('torch.CudaDoubleTensor', tensorCache)

    def cpu(self, tensorCache=None):
        return self.type(on_device(self._tinfo, False).name, tensorCache)

    # -- copies ------------------------------------------------------------------------------------------
    def __getstate__(self):
        """What a copy (clone, copy.deepcopy, pickle) takes: the fields less the hot-path caches (``_hot_*``),
        ``_feeds_next`` and ``_np_cache`` (arrays a module last met, e.g. its input; meaningless for the copy, which
        would copy them: a pickled net took its last numpy batch along) and
        getParameters' record ``_flat`` (it checks the modules' dicts, which a copy would take as copies, not as the
        copy's own: a field reassigned in the copy went unseen, and its updates to the old tensor); pending fields
        written first."""
        self._settle()
        d = self.__dict__
        for k in d:
            if k.startswith('_hot_') or k in _NOT_COPIED:
                return {k: v for k, v in d.items() if not (k.startswith('_hot_') or k in _NOT_COPIED)}
        return d

    def clone(self, *names):
        """A deep copy; the fields named (e.g. 'weight', 'bias') stay shared with the original."""
        c = _copy.deepcopy(self)
        if names:
            c.share(self, *names)
        return c

    def __repr__(self):
        return self.__torch_name__


_NOT_COPIED = ('_feeds_next', '_flat', '_np_cache')      # (see __getstate__)


def _convert(v, info, cache):
    """Convert tensors inside ``v`` (tensor, module, list, dict) to type ``info``, sharing via ``cache``."""
    if isinstance(v, Tensor):
        if v._info is info:
            return v
        # one tensor held in two fields stays one tensor (Torch7's tensorCache[param]): getParameters re-points it
        # for both, where two tensors over one storage would leave the field it does not list on the old storage
        t = cache.get(('tensor', id(v)))
        if t is not None and t._info is info:
            return t
        st = v._s
        new_st = cache.get(id(st))
        if new_st is None:
            with np.errstate(all='ignore'):   # uninitialized memory may hold values the new type can't
                data = backend.to_device(st._data, info.cuda).astype(info.dtype, copy=True)
            new_st = info.storage_class(_data=data)
            _remember(cache, id(st), st, new_st)
        t = info.tensor_class()
        if v.nElement():
            t.set(new_st, v.storageOffset(), v._a.shape, v._strides())
        _remember(cache, ('tensor', id(v)), v, t)
        return t
    if isinstance(v, TypedObject):
        return v.type(info.name, cache)
    if isinstance(v, list):
        return [_convert(x, info, cache) for x in v]
    if isinstance(v, dict):
        return {k: _convert(x, info, cache) for k, x in v.items()}
    return v


def _remember(cache, key, old, new):
    """cache[key] = new, ``key`` naming ``old`` by its id.  The entry must go when ``old`` does (its id may then be
    reused), but not keep it alive: a converted module frees its old arrays as the walk goes on (peak memory: one
    copy, not two)."""
    cache[key] = new
    cache[('keep', key)] = _weakref.ref(old, _forget(cache, key))


def _forget(cache, key):
    def drop(_):
        cache.pop(key, None)
        cache.pop(('keep', key), None)
    return drop


def _tensor_deepcopy(self, memo):
    st = memo.get(id(self._s))
    if st is None:
        st = self._info.storage_class(_data=self._s._data.copy())
        memo[id(self._s)] = st
    t = type(self)._wrap(st, backend.as_strided(st._data, self._a.shape, self._strides(), self.storageOffset())
                         if self._a.size else st._data[0:0])
    memo[id(self)] = t
    return t


Tensor.__deepcopy__ = _tensor_deepcopy


def _storage_deepcopy(self, memo):
    st = memo.get(id(self))
    if st is None:
        st = memo[id(self)] = self._info.storage_class(_data=self._data.copy())
    return st


Storage.__deepcopy__ = _storage_deepcopy


class Module(TypedObject):
    """Base of every nn module (Torch7's nn.Module)."""
    __torch_name__ = 'nn.Module'
    # whether the class overrides parameters() (then zeroGradParameters / updateParameters go through it, as
    # Torch7's do); set per class below, so that the hot path reads one attribute
    _listed = False
    # ``_fold_backward(prev, prev_input, gradOutput)``: Sequential.backward's one step over [prev, self], returning
    # prev.gradInput, or None to run both backwards (see SpatialMaxPooling's); None: no such step
    _fold_backward = None
    # ``_fold_forward(next, input)``: Sequential.updateOutput's one step over [self, next], returning next.output, or
    # None to run both forwards (see Threshold's); ``_pool_after(prev, input)``: the step as ``next`` takes it
    _fold_forward = None
    _pool_after = None
    # whether the class is this package's (set per class below): a class written outside it, e.g. a user's port of
    # a Lua class, may view() its input as the Lua code does, which needs Torch7's contiguous layout (_takes_any_layout)
    _package_class = True

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        own = cls.parameters
        cls._listed = own is not Module.parameters and own is not getattr(cls, '_own_parameters', None)
        cls._package_class = _builtin(cls)

    def _takes_any_layout(self):
        """Whether a Sequential may hand this module a batch-last activation (nn/_layout.py): the package's modules
        take any layout; a class of the user's gets Torch7's contiguous one, as Lua's convolutions give (a
        container: when all its modules take any layout)."""
        return self._package_class

    def __init__(self):
        self._init_type()
        self.output = self._tcls()
        self.gradInput = self._tcls()
        self.train = True

    # -- the three methods a module overrides ----------------------------------------------------------------
    def updateOutput(self, input):
        return self.output

    def updateGradInput(self, input, gradOutput):
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        pass

    # -- the protocol ------------------------------------------------------------------------------------
    def forward(self, input):
        self.__dict__['_feeds_next'] = None      # called by the user: the output is theirs, contiguous (nn/_layout.py)
        return self.updateOutput(input)

    def backward(self, input, gradOutput, scale=1):
        self.updateGradInput(input, gradOutput)
        self.accGradParameters(input, gradOutput, scale)
        return self.gradInput

    def __neg__(self):
        """nngraph's ``-module``, an input node (nngraph/operators.py, which replaces this when nngraph loads: a
        script may start a graph with it before anything else has loaded nngraph)."""
        operators = _nngraph('operators')
        return operators._module_neg(self)

    def __sub__(self, other):
        """nngraph's ``module - x``: an error naming both sides (nngraph/operators.py, as for ``__neg__``)."""
        operators = _nngraph('operators')
        return operators._module_sub(self, other)

    def __call__(self, *args, gradOutput=None):
        """``module(input)`` is forward(input); ``module(input, gradOutput)`` also backward, returning (output,
        gradInput) as Torch7.  Called on nngraph nodes -- a Node, a list of Nodes, or nothing (``nn.Identity()()``)
        -- it builds a graph node instead, as nngraph's call does (docs/nngraph.md)."""
        x = args[0] if args else None
        if not args or getattr(type(x), '__torch_name__', None) == 'nngraph.Node' or (
                isinstance(x, (list, tuple)) and x and getattr(type(x[0]), '__torch_name__', None) == 'nngraph.Node'):
            return _nngraph('gmodule').call_module(self, args, gradOutput)
        if len(args) > 2 or (len(args) == 2 and gradOutput is not None):
            raise TypeError(f"{self!r}: called with {len(args)} arguments; expected module(input) or "
                            f"module(input, gradOutput)")
        input = x
        if len(args) == 2:
            gradOutput = args[1]
        self.forward(input)
        if gradOutput is None:
            return self.output
        self.backward(input, gradOutput)
        return self.output, self.gradInput

    def backwardUpdate(self, input, gradOutput, lr):
        self.updateGradInput(input, gradOutput)
        self.accUpdateGradParameters(input, gradOutput, lr)
        return self.gradInput

    # (parameter, gradient) field names; modules with other parameter fields override this
    _param_pairs = (('weight', 'gradWeight'), ('bias', 'gradBias'))

    def parameters(self):
        """(params, gradParams): lists of tensors (empty when the module has none)."""
        self._settle()
        d = self.__dict__
        pairs = [(d[p], d.get(g)) for p, g in self._param_pairs if isinstance(d.get(p), Tensor)]
        return [p for p, _ in pairs], [g for _, g in pairs]

    def _own_refs(self, name, a):
        """How many references this module's own caches hold to array ``a`` of field ``name`` (see _unheld)."""
        return 0

    def zeroGradParameters(self):
        if self._listed:
            _zero_listed(self)      # a user class overriding parameters() (Torch7 calls self:parameters())
            return
        d = self.__dict__
        for p, g in self._param_pairs:
            t = d.get(g)
            if t is not None:
                t._a.fill(0)

    def updateParameters(self, learningRate):
        """param -= learningRate * gradParam, for every parameter (no allocation after the first call)."""
        if self._listed:
            _update_listed(self, learningRate)
            return
        d = self.__dict__
        if '_zero_gradWeight' in d:
            _fill_zero(self, 'gradWeight')      # (a lazy zeroGradParameters with no backward since)
        for p, g in self._param_pairs:
            pt = d.get(p)
            if pt is not None:
                gt = d.get(g)
                if gt is None:      # (a KeyError or an AttributeError of None said nothing of which module)
                    raise ValueError(f"{self!r}.updateParameters: expected a gradient {g!r} for its {p!r}, got none "
                                     f"(give it one, e.g. module.{g} = module.{p}.clone().zero())")
                pa = pt._a
                if learningRate == 1 and type(pa) is np.ndarray:
                    pa -= gt._a         # (sub_scaled's first branch, without its call: SGD with lr 1, e.g. XOR)
                else:
                    backend.sub_scaled(pa, gt._a, learningRate, self._buffer, '_upd_' + p)

    def accUpdateGradParameters(self, input, gradOutput, lr):
        """Parameters -= lr * gradient of this input: Torch7's trick (``defaultAccUpdateGradParameters``), or, for
        a module whose parameters ``share`` made shared (field ``shared``), ``sharedAccUpdateGradParameters``."""
        if self.__dict__.get('shared') is True:
            return self.sharedAccUpdateGradParameters(input, gradOutput, lr)
        return self.defaultAccUpdateGradParameters(input, gradOutput, lr)

    def defaultAccUpdateGradParameters(self, input, gradOutput, lr):
        """Torch7's trick: accumulate -lr * gradient straight into the parameters (the gradient fields point at
        the parameters during accGradParameters)."""
        self._settle()
        d = self.__dict__
        swapped = [(p, g) for p, g in self._param_pairs if p in d]
        saved = {g: d[g] for _, g in swapped if g in d}
        for p, g in swapped:
            d[g] = d[p]
        try:
            self.accGradParameters(input, gradOutput, -lr)
        finally:
            for _, g in swapped:
                if g in saved:
                    d[g] = saved[g]
                else:
                    del d[g]

    def sharedAccUpdateGradParameters(self, input, gradOutput, lr):
        if self.parameters()[0]:
            self.zeroGradParameters()
            self.accGradParameters(input, gradOutput, 1)
            self.updateParameters(lr)

    def getParameters(self):
        """One flat parameter tensor and one flat gradient tensor; every module's parameters become views of
        them (so training through the flat vectors, e.g. with optim, updates the modules and vice versa)."""
        params, grads = self.parameters()
        p, g = _flatten(params), _flatten(grads)
        if p.nElement() != g.nElement():
            raise ValueError(f"{self.__torch_name__}.getParameters: {p.nElement()} parameters but {g.nElement()} "
                             f"gradients (check that modules sharing parameters share their gradients too)")
        for i, (a, b) in enumerate(zip(params, grads)):
            if b is not None and a.storageOffset() != b.storageOffset():
                raise ValueError(f"{self.__torch_name__}.getParameters: parameter {i} and its gradient are at "
                                 f"different places in the flat vectors (misaligned sharing)")
        self._flat = _flat_record(self, p, g)
        return p, g

    # -- modes, traversal --------------------------------------------------------------------------------
    def training(self):
        # each child's own training()/evaluate() (Torch7's Container:training): a module overriding it, e.g.
        # WeightNorm.evaluate recomputing its weight, is called inside a container too
        for m in self.children():
            m.training()
        self.train = True
        return self

    def evaluate(self):
        for m in self.children():
            m.evaluate()
        self.train = False
        return self

    def children(self):
        return list(self.__dict__.get('modules') or [])

    def apply(self, fn):
        fn(self)
        for m in self.children():
            m.apply(fn)
        return self

    def listModules(self):
        out = [self]
        for m in self.children():
            out.extend(m.listModules())
        return out

    def findModules(self, typename, container=None):
        """(modules, their containers) of class ``typename`` ('nn.Linear' or a class)."""
        if container is None:
            container = self   # Torch7: container = container or self
        nodes, containers = [], []
        for m in self.children():
            n, c = m.findModules(typename, self)
            nodes += n
            containers += c
        if (isinstance(typename, str) and self.__torch_name__ == typename) or \
                (isinstance(typename, type) and isinstance(self, typename)):
            nodes.insert(0, self)
            containers.insert(0, container)
        return nodes, containers

    def clearState(self):
        """Empty output, gradInput and scratch buffers (Torch7's clearState before saving)."""
        self._settle()
        for k in list(self.__dict__):
            if k.startswith('_') and k not in ('_type', '_tinfo', '_tcls'):
                del self.__dict__[k]
        for k in ('output', 'gradInput'):
            v = self.__dict__.get(k)
            if isinstance(v, Tensor):
                self.__dict__[k] = self._tcls()
            elif isinstance(v, list):
                self.__dict__[k] = []
        for m in self.children():
            m.clearState()
        return self

    def share(self, other, *names):
        """Make the named tensor fields of self point at other's (recursively in containers); both modules are
        then flagged ``shared`` (Torch7's field: their accUpdateGradParameters goes through the gradients)."""
        self._settle()
        other._settle()
        for name in names:
            if not isinstance(name, str):       # (a list was an unhashable-type TypeError; a number, ignored)
                raise TypeError(f"{self!r}.share: expected field names, each a str argument (share(m, 'weight', "
                                f"'bias'), clone('weight', 'bias')), got {name!r} ({type(name).__name__})")
            mine, theirs = self.__dict__.get(name), other.__dict__.get(name)
            if isinstance(mine, Tensor):
                # (Torch7 calls set(nil) there, an error); skipping it left a parameter silently unshared
                if not isinstance(theirs, Tensor):
                    raise ValueError(f"{self!r}.share: expected {other!r} to have a tensor {name!r} to share, got "
                                     f"{type(theirs).__name__}")
                mine.set(theirs)
                if 'modules' not in self.__dict__:      # Torch7's Container:share sets no flag on the container
                    self.shared = True
                    other.shared = True
        mods, others = self.children(), other.children()
        if len(mods) > len(others):     # (Torch7: mlp.modules[i] is nil there)
            raise ValueError(f"{self.__torch_name__}.share: it holds {len(mods)} modules, the container to share "
                             f"with {len(others)} (expected the same structure)")
        for a, b in zip(mods, others):
            a.share(b, *names)
        return self

    def reset(self, stdv=None):
        return self

    def replace(self, fn):
        """Torch7's replace: ``fn(module)`` returns the module to put in its place, applied to every module below
        this one (each container's ``modules`` entries are replaced); returns ``fn(self)``.  E.g.
        ``net = net.replace(lambda m: nn.Identity() if isinstance(m, nn.Dropout) else m)``."""
        out = fn(self)
        mods = self.__dict__.get('modules')
        if isinstance(mods, list):
            for i, m in enumerate(mods):
                mods[i] = m.replace(fn)
        return out

    @staticmethod
    def flatten(parameters):
        """Torch7's Module.flatten: copy the tensors of the list ``parameters`` into one flat tensor (returned) and
        make each a view of its place there (tensors sharing a storage keep sharing; unused holes squeezed out)."""
        return _flatten(list(parameters or []))

    def __repr__(self):
        return self.__torch_name__


def _flat_record(module, p, g):
    """What ``flat_arrays`` checks later: every (dict, field, tensor) of the parameters and gradients of ``module``'s
    modules, with the flat tensors; None when a flat update would differ from the per-module one (tensors sharing
    elements, so the per-module loop would update them twice, or holes)."""
    fields = []
    count = 0
    for m in module.listModules():
        d = m.__dict__
        for pn, gn in m._param_pairs:
            for name in (pn, gn):
                t = d.get(name)
                if isinstance(t, Tensor):
                    fields.append((d, name, t))
                    count += t.nElement()
    if not p.nElement() or count != 2 * p.nElement() or g.nElement() != p.nElement():
        return None
    return p, g, fields, module.listModules()


def flat_arrays(module):
    """(flat parameter array, flat gradient array) when every parameter and gradient of ``module`` is still the view
    of the flat vectors its last getParameters made (the same modules, fields not reassigned, storages not replaced),
    else None: then zeroGradParameters / updateParameters are one operation each instead of one per tensor."""
    f = module.__dict__.get('_flat')
    if f is None:
        return None
    p, g, fields, *mods = f
    # a module added, inserted or replaced since (its parameters are not in the flat vectors), or a record pickled
    # before the modules were kept: the per-module loop
    now = module.listModules()
    if not mods or len(now) != len(mods[0]) or any(a is not b for a, b in zip(now, mods[0])):
        module._flat = None
        return None
    ps, gs = p._s, g._s
    for d, name, t in fields:
        if d.get(name) is not t or (t._s is not ps and t._s is not gs):
            module._flat = None
            return None
    return p._a, g._a


def _flatten(tensors):
    """Copy ``tensors`` into one new flat storage and re-point each at its place there.  Tensors that shared a
    storage keep sharing (their storage is copied once); holes no tensor uses are squeezed out, as Torch7."""
    tensors = [t for t in tensors if t is not None]
    if not tensors:
        return default_info().tensor_class()
    info = tensors[0]._info
    for t in tensors:
        if t._info is not info:
            raise TypeError(f"getParameters: parameters of different types ({info.name} and {t._info.name}); "
                            f"convert the module with .type() first")
    xp = info.xp
    # 1. one slot per distinct storage, in order of first appearance
    base, total = {}, 0
    for t in tensors:
        if id(t._s) not in base:
            base[id(t._s)] = total
            total += len(t._s)
    # 2. mark the storage elements some tensor uses
    used = np.zeros(total, dtype=bool)
    places = []
    for t in tensors:
        if t.nElement():
            idx = base[id(t._s)] + t.storageOffset() + sum(
                np.arange(n)[(slice(None),) + (None,) * (t.dim() - 1 - d)] * s
                for d, (n, s) in enumerate(zip(t._a.shape, t._strides())))
            idx = np.asarray(idx).reshape(-1)
            used[idx] = True
            places.append(idx)
    # already flat (e.g. a second getParameters): one storage, every element used -> view it, copy nothing, so
    # that the flat vectors handed out before stay connected to the modules
    if total and len(base) == 1 and used.all():
        return info.tensor_class(tensors[0]._s, 0, (total,), (1,))
    # 3. new position of each used element (holes squeezed out)
    newpos = np.cumsum(used) - 1
    n_used = int(used.sum())
    if n_used != total:
        # squeezing holes keeps each tensor's strides: only right when no hole lies inside a tensor (Torch7 asserts
        # the same: "Cannot gather tensors that are not compact")
        for idx in places:
            if not np.array_equal(newpos[idx] - newpos[idx[0]], idx - idx[0]):
                raise ValueError("getParameters: cannot gather parameter tensors that are not compact (a tensor "
                                 "skips storage elements no other parameter uses)")
    flat = info.empty((n_used,))
    seen = set()
    for t in tensors:
        if id(t._s) in seen:
            continue
        seen.add(id(t._s))
        b = base[id(t._s)]
        mask = used[b:b + len(t._s)]
        flat[xp.asarray(newpos[b:b + len(t._s)][mask])] = t._s._data[xp.asarray(mask)]
    storage = info.storage_class(_data=flat)
    # every place first: a tensor listed twice (a module added twice to a container) is re-pointed by its first
    # entry, and its second would look up the new storage
    offs = [int(newpos[base[id(t._s)] + t.storageOffset()]) if t.nElement() else None for t in tensors]
    for t, off in zip(tensors, offs):
        if off is not None:
            t.set(storage, off, t._a.shape, t._strides())
    return info.tensor_class(storage, 0, (n_used,), (1,)) if n_used else info.tensor_class()


def check_dims(module, x, dims, what='input'):
    """Raise naming the module and the size when ``x`` (array) has a number of dims not in ``dims``."""
    if x.ndim not in dims:
        want = ' or '.join(f'{d}-D' for d in dims)
        raise ValueError(f"{module!r}: expected {want} {what}, got size [{', '.join(map(str, x.shape))}]")


def _zero_listed(module):
    """zeroGradParameters through ``module.parameters()`` (Torch7's Module:zeroGradParameters): the path of a
    class that overrides parameters(); built-in modules walk their fields instead (faster, same result)."""
    for g in module.parameters()[1]:
        if g is not None:
            g._a.fill(0)


def _update_listed(module, learningRate):
    """updateParameters through ``module.parameters()`` (Torch7's Module:updateParameters)."""
    params, grads = module.parameters()
    for i, (p, g) in enumerate(zip(params, grads)):
        if g is not None:
            backend.sub_scaled(p._a, g._a, learningRate, module._buffer, f'_upd_listed{i}')


def check_nonempty(module, x, what='input'):
    """Raise naming the module and the size when array ``x`` has no elements (an empty batch): Torch7 tensors
    have no 0-sized dims, so its modules never compute on one."""
    if x.size == 0:
        raise ValueError(f"{module!r}: got an empty {what} (size [{', '.join(map(str, x.shape))}]): expected at "
                         f"least one sample of at least one element")


def check_grad_size(module, g, want, what='gradOutput'):
    """Raise naming the module and both sizes when array ``g`` does not have shape ``want``."""
    if g.shape != want:
        raise ValueError(f"{module!r}: expected {what} of size {sizestr(want)}, got {sizestr(g.shape)}")


def check_grad_like_input(module, x, g):
    """Raise when gradOutput ``g`` does not have the shape of the input ``x`` (arrays)."""
    if g.shape != x.shape:
        raise ValueError(f"{module!r}: gradOutput of size {sizestr(g.shape)} does not match input of size "
                         f"{sizestr(x.shape)}")


def owned_tensor(module, name):
    """module.<name> as a tensor of the module's type in memory the module owns: a fresh one when it holds
    something else (a list, another type) or a tensor sharing an input's memory (flagged ``_aliased_<name>``)."""
    d = module.__dict__
    t = d.get(name)
    if t.__class__ is not module._tcls or d.get('_aliased_' + name):
        t = d[name] = module._tcls()
        d['_aliased_' + name] = False
    return t


def set_aliased(module, name, value):
    """module.<name> = ``value``, a tensor (or table) sharing an input's memory: never written into by the module
    (``owned_tensor`` replaces it)."""
    module.__dict__[name] = value
    module.__dict__['_aliased_' + name] = True
    return value


def lua_int(who, v, what):
    """``v`` as an int: an integer, or an integral Lua number such as 2.0; else a TypeError saying ``who`` (a module,
    or a name) expected ``what`` to be an integer."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (_math.isfinite(v) and v == int(v)):
        raise TypeError(f"{who if isinstance(who, str) else repr(who)}: expected {what} to be an integer, got {v!r}")
    return int(v)


def positive_dimension(module, ndim):
    """Torch7's _getPositiveDimension, 0-based, for a module with ``dimension`` and ``nInputDims`` fields: a
    negative dimension counts from the end; with nInputDims set, an input of nInputDims + 1 dims is a batch and
    the dimension moves one to the right.  None when the result is not a dim of an ``ndim``-D input."""
    d = module.dimension
    n_in = getattr(module, 'nInputDims', None)      # absent from a Lua file when nil
    d = lua_int(module, d, 'the dimension')
    if n_in is not None:
        lua_int(module, n_in, 'nInputDims (or None)')
    if d < 0:
        d += ndim
    elif n_in is not None and ndim == n_in + 1:
        d += 1
    return d if 0 <= d < ndim else None


def pair_input(module, input, what='input'):
    """The two arrays of a table input ``[a, b]`` (list or tuple of two tensors/arrays), of the module's type."""
    if not isinstance(input, (list, tuple)) or len(input) != 2:
        got = f"a list of {len(input)}" if isinstance(input, (list, tuple)) else f"a {type(input).__name__}"
        raise TypeError(f"{module!r}: expected {what} to be a list of two tensors, got {got}")
    return module._coerce(input[0], what + '[0]')._a, module._coerce(input[1], what + '[1]')._a


def pair_grad(module, shapes):
    """module.gradInput as a list of two tensors of the module's type resized to ``shapes``; their arrays."""
    gi = module.gradInput
    if not isinstance(gi, list) or len(gi) != 2 or any(t.__class__ is not module._tcls for t in gi):
        gi = module.gradInput = [module._tcls(), module._tcls()]
    return resized(gi[0], shapes[0]), resized(gi[1], shapes[1])


def long_info(obj):
    """The TypeInfo of LongTensor on module/criterion ``obj``'s device (for index buffers)."""
    return on_device(TYPES['torch.LongTensor'], obj._tinfo.cuda)


def field_out(module, name, shape):
    """The C-contiguous array of tensor field ``name`` resized to ``shape`` (a new tensor when the field is
    missing, of another type, or a non-contiguous view)."""
    t = module.__dict__.get(name)
    if t is None or t.__class__ is not module._tcls or (t._a.shape == shape and not t._a.flags.c_contiguous):
        t = module.__dict__[name] = module._tcls()
    return resized(t, shape)


def resized(t, shape):
    """The array of tensor ``t`` after resizing it to ``shape`` (a no-op when it already has that shape)."""
    if t._a.shape != shape:
        t.resize(shape)
    return t._a


def sizestr(shape):
    return '[' + ', '.join(str(n) for n in shape) + ']'


class _Probe(Module):
    """A module of our own for _counts_as_expected (private: not a Torch7 class)."""

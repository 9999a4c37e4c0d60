"""Module-level torch functions: constructors, and math that returns new tensors.

``torch.add(a, b)``, ``a + b`` and friends return new tensors with numpy broadcasting; the in-place and
"result" forms are the tensor methods (``res.add(a, b)``).
"""
import builtins

import numpy as np

from . import backend
from . import random as _random
from .tensor import Tensor, default_info, as_tensor, _parse_sizes, _sizestr
from .types import TYPES, type_info


def _info(tensortype):
    return default_info() if tensortype is None else type_info(tensortype)


def _new(arr, info):
    return info.tensor_class._from_array(info.xp.ascontiguousarray(arr.astype(info.dtype, copy=False)))


# -- constructors ------------------------------------------------------------------------------------------
def zeros(*sizes, tensortype=None):
    """A tensor of the default type (or ``tensortype``) filled with zeros."""
    return _info(tensortype).tensor_class(*sizes).zero()


def ones(*sizes, tensortype=None):
    return _info(tensortype).tensor_class(*sizes).fill(1)


def eye(n, m=None, tensortype=None):
    info = _info(tensortype)
    return _new(info.xp.eye(n, n if m is None else m), info)


def range(start, end, step=1, tensortype=None):
    """Torch7's range: from start to end INCLUSIVE by step (``torch.range(1, 3)`` is 1, 2, 3)."""
    if step == 0 or (end - start) * step < 0:
        raise ValueError(f"range: cannot go from {start} to {end} by step {step}")
    n = int(np.floor((end - start) / step + 1e-12)) + 1
    info = _info(tensortype)
    return _new(start + step * info.xp.arange(n, dtype=np.float64), info)


def arange(start, end=None, step=1, tensortype=None):
    """PyTorch/numpy's half-open arange (end excluded)."""
    if end is None:
        start, end = 0, start
    info = _info(tensortype)
    return _new(info.xp.arange(start, end, step, dtype=np.float64), info)


def linspace(start, end, n=100, tensortype=None):
    info = _info(tensortype)
    return _new(info.xp.linspace(start, end, n), info)


def logspace(start, end, n=100, tensortype=None):
    info = _info(tensortype)
    return _new(info.xp.logspace(start, end, n), info)


def rand(*sizes, tensortype=None):
    """Uniform [0, 1) from Torch7's stream (the same numbers as Lua Torch7 for the same seed)."""
    return _info(tensortype).tensor_class(*sizes).uniform()


def randn(*sizes, tensortype=None):
    return _info(tensortype).tensor_class(*sizes).normal()


def randperm(n, tensortype='torch.LongTensor'):
    """A random permutation of 0..n-1 (Lua's is 1..n: the same permutation plus one); a LongTensor."""
    info = type_info(tensortype)
    return _new(info.xp.asarray(_random._default.randperm(n)), info)


def cat(tensors, *more, dim=None):
    """Concatenate along ``dim`` (0-based; default the last dim, as Torch7).  ``cat([a, b], 0)`` or ``cat(a, b)``."""
    if isinstance(tensors, Tensor):
        tensors = [tensors, *more]
        more = ()
    elif more:
        if len(more) != 1:
            raise TypeError("cat: expected (list of tensors, [dim]) or (tensor, tensor, ..., [dim=])")
        dim = more[0]
    tensors = [t for t in tensors if t.nElement()]
    if not tensors:
        raise ValueError("cat: nothing to concatenate (all tensors empty)")
    t0 = tensors[0]
    d = t0.dim() - 1 if dim is None else t0._dim(dim)
    for t in tensors[1:]:
        if t.dim() != t0.dim() or builtins.any(a != b for i, (a, b) in enumerate(zip(t.shape, t0.shape)) if i != d):
            raise ValueError(f"cat: sizes {_sizestr(t0.shape)} and {_sizestr(t.shape)} differ outside dim {d}")
    return _new(t0._xp.concatenate([t.type(t0.type())._a for t in tensors], axis=d), t0._info)


def stack(tensors, dim=0):
    t0 = tensors[0]
    for t in tensors[1:]:
        if t.shape != t0.shape:
            raise ValueError(f"stack: sizes {_sizestr(t0.shape)} and {_sizestr(t.shape)} differ")
    return _new(t0._xp.stack([t._a for t in tensors], axis=dim), t0._info)


def isTensor(x):
    return isinstance(x, Tensor)


def isStorage(x):
    from .storage import Storage
    return isinstance(x, Storage)


def typename(x):
    """'torch.FloatTensor' for tensors, the Torch7 class name for storages and nn objects, else None."""
    if isinstance(x, Tensor) or isStorage(x):
        return x.type()
    return getattr(type(x), '__torch_name__', None)


# -- math returning new tensors ----------------------------------------------------------------------------
def add(a, b, c=None):
    """torch.add(a, b) = a + b; torch.add(a, value, b) = a + value * b (broadcasting)."""
    return a + b if c is None else a + b * c


def csub(a, b, c=None):
    return a - b if c is None else a - b * c


sub = csub


def mul(a, value):
    return a * value


def div(a, value):
    return a / value


def cmul(a, b):
    return a * b


def cdiv(a, b):
    return a / b


def pow(a, value):
    return a ** value


def _result_fn(name):
    def fn(x, *args):
        return getattr(type(x)(), name)(x, *args)
    fn.__name__ = name
    fn.__doc__ = f"torch.{name}(x, ...): a new tensor (x is unchanged)."
    return fn


def _same_fn(name):
    def fn(x, *args, **kw):
        return getattr(x, name)(*args, **kw)
    fn.__name__ = name
    fn.__doc__ = f"torch.{name}(x, ...) = x.{name}(...): a new tensor or a number."
    return fn


def mm(a, b):
    return a.mm(b)


def mv(a, b):
    return a.mv(b)


def bmm(a, b):
    return a.bmm(b)


def ger(a, b):
    return a.ger(b)


def dot(a, b):
    return a.dot(b)


def _result_form(name, nt, usage):
    """torch.<name>(...) in Torch7's full form (first tensor the base): a new tensor, the inputs unchanged."""
    def fn(*args):
        tensors = [x for x in args if isinstance(x, Tensor)]
        if len(tensors) != nt:
            raise TypeError(f"torch.{name}: expected {usage}, got {len(tensors)} tensors in {len(args)} arguments")
        return getattr(type(tensors[0])(), name)(*args)
    fn.__name__ = name
    fn.__doc__ = f"torch.{name}{usage}: a new tensor."
    return fn


addmm = _result_form('addmm', 3, '([beta,] M, [alpha,] A, B)')
addmv = _result_form('addmv', 3, '([beta,] v, [alpha,] M, x)')
addr = _result_form('addr', 3, '([beta,] M, [alpha,] u, v)')
baddbmm = _result_form('baddbmm', 3, '([beta,] M, [alpha,] A, B)')
addbmm = _result_form('addbmm', 3, '([beta,] M, [alpha,] A, B)')
addcmul = _result_form('addcmul', 3, '(t, [value,] t1, t2)')
addcdiv = _result_form('addcdiv', 3, '(t, [value,] t1, t2)')


def clamp(x, lo=None, hi=None):
    return type(x)().clamp(x, lo, hi)


for _name in ('abs', 'sign', 'exp', 'log', 'log1p', 'sqrt', 'rsqrt', 'sigmoid', 'tanh', 'floor', 'ceil', 'round',
              'trunc', 'frac', 'neg', 'cinv', 'cos', 'sin', 'tan', 'acos', 'asin', 'atan', 'cosh', 'sinh',
              'cmax', 'cmin', 'cpow', 'cfmod', 'cremainder', 'fmod', 'remainder'):
    globals()[_name] = _result_fn(_name)

for _name in ('sum', 'prod', 'mean', 'std', 'var', 'max', 'min', 'norm', 'dist', 'cumsum', 'cumprod', 'sort',
              'topk', 'trace', 'diag', 'equal', 'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'maskedSelect', 'index',
              'indexSelect', 'gather', 'nonzero', 'squeeze', 'unsqueeze', 'transpose', 'view', 'narrow', 'select',
              'permute', 'expand', 'clone', 'contiguous', 'all', 'any'):
    globals()[_name] = _same_fn(_name)

del _name

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
from .maths_forms import partial_results
from .tensor_math import _num


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
    """The n x m identity matrix (n x n without m), as Torch7's eye: n > 0, and an m <= 0 means n."""
    return _eye_into(_info(tensortype).tensor_class(), n, m)


def _range_values(start, end, step, dtype):
    """THTensor_(range)'s values for a tensor of ``dtype``: (long)((end - start) / step + 1) of them, start + i * step,
    in Torch7's accreal: double, or long for the integer types (whose bounds and step C truncates to longs).  As in
    Lua, the count truncates: ``range(0, 0.3, 0.1)`` is 0, 0.1, 0.2 (0.3 / 0.1 is 2.9999999999999996)."""
    if np.dtype(dtype).kind in 'iu':
        start, end, step = int(start), int(end), int(step)
    if step == 0 or (step > 0 and end < start) or (step < 0 and end > start):
        raise ValueError(f"range: cannot go from {start} to {end} by step {step}")
    if isinstance(step, int) and isinstance(start, int) and isinstance(end, int):
        n = builtins.abs(end - start) // builtins.abs(step) + 1     # C's long division (both of one sign here)
        return start + np.arange(n, dtype=np.int64) * step
    n = int((end - start) / step + 1)
    return start + np.arange(n, dtype=np.float64) * step


def _spaced_values(start, end, n, dtype, log=False):
    """THTensor_(linspace/logspace)'s values: a + i * (b - a) / (n - 1) computed in the tensor's real (float32 for
    Float tensors), then 10 ** that for logspace (C's pow / powf).  n must be > 1, or 1 with a == b (Torch7)."""
    ft = np.float32 if np.dtype(dtype) == np.float32 else np.float64
    a, b = ft(start), ft(end)
    n = int(n)      # Torch7's long argument: 2.5 points are 2 (arange(2.5) with n - 1 = 1.5 gave 3 wrong ones)
    if not (n > 1 or (n == 1 and a == b)):
        raise ValueError(f"{'logspace' if log else 'linspace'}: invalid number of points {n} (from {start} to {end})")
    v = np.full(1, a) if n == 1 else a + np.arange(n, dtype=ft) * (b - a) / ft(n - 1)
    return np.power(ft(10), v) if log else v


def range(start, end, step=1, tensortype=None):
    """Torch7's range: from start to end INCLUSIVE by step (``torch.range(1, 3)`` is 1, 2, 3)."""
    info = _info(tensortype)
    return _new(info.xp.asarray(_range_values(start, end, step, info.dtype)), info)


def arange(start, end=None, step=1, tensortype=None):
    """PyTorch/numpy's half-open arange (end excluded)."""
    if end is None:
        start, end = 0, start
    info = _info(tensortype)
    return _new(info.xp.arange(start, end, step), info)     # (integer bounds stay exact integers past 2^53)


def linspace(start, end, n=100, tensortype=None):
    """n points from start to end (both included), computed as Torch7 does (in float32 for Float tensors)."""
    info = _info(tensortype)
    return _new(info.xp.asarray(_spaced_values(start, end, n, info.dtype)), info)


def logspace(start, end, n=100, tensortype=None):
    """10 ** linspace(start, end, n), computed as Torch7 does."""
    info = _info(tensortype)
    return _new(info.xp.asarray(_spaced_values(start, end, n, info.dtype, log=True)), info)


def rand(*sizes, tensortype=None):
    """Uniform [0, 1) from Torch7's stream (the same numbers as Lua Torch7 for the same seed); ``rand(gen, ...)``
    draws from the torch.Generator ``gen``."""
    g, sizes = _random.split_generator(sizes)
    return _info(tensortype).tensor_class(*sizes).uniform(g)


def randn(*sizes, tensortype=None):
    g, sizes = _random.split_generator(sizes)
    return _info(tensortype).tensor_class(*sizes).normal(g)


def randperm(*args, tensortype='torch.LongTensor'):
    """randperm([gen,] n): a random permutation of 0..n-1 (Lua's is 1..n: the same permutation plus one); a LongTensor."""
    g, args = _random.split_generator(args)
    if len(args) != 1:
        raise TypeError(f"randperm: expected ([gen,] n), got {len(args)} arguments")
    info = type_info(tensortype)
    return _new(info.xp.asarray(g.randperm(args[0])), info)


def cat(tensors, *more, dim=None):
    """Concatenate along ``dim`` (0-based; default the last dim, as Torch7): ``cat([a, b, c], 0)``, ``cat(a, b)``,
    ``cat(a, b, 0)``.  Three leading tensors are Torch7's result-first form ``cat(res, a, b[, dim])``."""
    if isinstance(tensors, Tensor):
        args = (tensors, *more)
        n = _leading_tensors(args)
        tensors, more = list(args[:n]), args[n:]
    elif isinstance(tensors, (list, tuple)):
        tensors = list(tensors)
    else:
        raise TypeError(f"cat: expected a list of tensors or tensors, got {type(tensors).__name__}")
    if more:
        if len(more) != 1 or dim is not None or not isinstance(more[0], (int, np.integer)):
            raise TypeError(f"cat: expected (tensors..., [dim]) or (list of tensors, [dim]), got {more!r} after "
                            f"the tensors")
        dim = int(more[0])
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"cat: expected tensors, got {type(t).__name__}")
    if not tensors:
        raise ValueError("cat: expected at least one tensor")
    # THTensor_(catArray): the result has max(dim + 1, the inputs' dims) dims; a tensor with fewer dims has size 1
    # in the missing trailing ones (so two vectors cat along dim 1 give a matrix); no dim (or -1) is the last one;
    # empty tensors are skipped, and only empty ones give an empty tensor
    ndim = builtins.max([t.dim() for t in tensors] + ([int(dim) + 1] if dim is not None and dim >= 0 else []))
    if dim is None or dim == -1:
        d = builtins.max(ndim - 1, 0)
    elif dim < 0:
        if dim < -ndim:
            raise IndexError(f"cat: dim {dim} out of range for {ndim}-D tensors (dims are 0-based)")
        d = ndim + int(dim)
    else:
        d = int(dim)
    full = [t for t in tensors if t.nElement()]
    if not full:
        return tensors[0]._info.tensor_class()
    t0 = full[0]
    shapes = [tuple(t.shape) + (1,) * (ndim - t.dim()) for t in full]
    for t, sh in zip(full[1:], shapes[1:]):
        if builtins.any(a != b for i, (a, b) in enumerate(zip(sh, shapes[0])) if i != d):
            raise ValueError(f"cat: sizes {_sizestr(t0.shape)} and {_sizestr(t.shape)} differ outside dim {d}")
    arrays = [t.type(t0.type())._a.reshape(sh) for t, sh in zip(full, shapes)]
    return _new(t0._xp.concatenate(arrays, axis=d), t0._info)


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
    name = getattr(type(x), '__torch_name__', None)
    if name is None and not isinstance(x, type):
        from .utils import lua_class_names      # torch.Generator, torch.Timer, torch.DiskFile, ...
        name = next(iter(lua_class_names(x)), None)
    return name


# -- math returning new tensors ----------------------------------------------------------------------------
def _alike(a, c):
    """Tensors of one size and type: torch.add(a, value, c) goes through Torch7's cadd, rounded as Lua rounds it."""
    return isinstance(a, Tensor) and isinstance(c, Tensor) and a.shape == c.shape and a._info is c._info


def _with_value(a, b):
    """Whether (a, b) is the (tensor, value) of torch.add(t, value) and the like, which Torch7's function computes
    with the value as t's element type, as the method does (torch.mul(LongTensor([5]), 0.5) is 0 in Lua; the
    operator's 5 * 0.5 cast to long would be 2)."""
    return isinstance(a, Tensor) and _num(b)


def add(a, b, c=None):
    """torch.add(a, b) = a + b; torch.add(a, value, b) = a + value * b (broadcasting; tensors of one size and type
    go through Torch7's cadd, rounded as Lua rounds it)."""
    if c is None:
        return type(a)().add(a, b) if _with_value(a, b) else a + b
    if _with_value(b, c):       # torch.add(res, t, value): Torch7's result-first form, res = t + value
        return _into(a, type(b)().add(b, c))
    return type(a)().add(a, b, c) if _alike(a, c) else a + b * c


def csub(a, b, c=None):
    if c is None:
        return type(a)().csub(a, b) if _with_value(a, b) else a - b
    if _with_value(b, c):       # torch.csub(res, t, value)
        return _into(a, type(b)().csub(b, c))
    return type(a)().csub(a, b, c) if _alike(a, c) else a - b * c


sub = csub


def mul(a, value):
    return type(a)().mul(a, value) if _with_value(a, value) else a * value


def div(a, value):
    return type(a)().div(a, value) if _with_value(a, value) else a / value


def cmul(a, b):
    return a * b


def cdiv(a, b):
    return a / b


def pow(a, value):
    """torch.pow(x, value) and torch.pow(value, x): a new tensor computed as Torch7's pow/tpow; two numbers give a
    number."""
    if isinstance(a, Tensor):
        return type(a)().pow(a, value)
    if isinstance(value, Tensor):
        return type(value)().pow(a, value)
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

def totable(x):
    """torch.totable(x) = x.totable(): nested lists of x's values (Lua's nested tables)."""
    return x.totable()


for _name in ('fill', 'zero', 'scatter'):    # Torch7 has these as functions too: torch.fill(x, 3) fills x in place
    globals()[_name] = _same_fn(_name)
    globals()[_name].__doc__ = f"torch.{_name}(x, ...) = x.{_name}(...): x changed in place and returned."


# -- Torch7's result-first forms: torch.f(res, x, ...) writes into res (resized) and returns it -----------------
def _into(res, value):
    """Put a computed result into the caller's result tensor: resized as Torch7 does, converted to its type."""
    if not isinstance(res, Tensor):
        raise TypeError(f"result tensor expected, got {type(res).__name__}")
    if isinstance(value, Tensor):
        if value is not res:
            res.resizeAs(value).copy(value)     # (resizeAs: an empty value empties res; resize(()) would leave 1)
    else:
        res.resize(1).fill(value)
    return res


def _leading_tensors(args):
    n = 0
    for a in args:
        if not isinstance(a, Tensor):
            break
        n += 1
    return n


def result_first(fn, tensors_in, max_args, nres=1, count_all=False):
    """``fn`` extended with Torch7's result-first form.  The plain form takes ``tensors_in`` leading tensors and at
    most ``max_args`` arguments; one more leading tensor (``count_all``: one more tensor anywhere), or more
    arguments, means the first ``nres`` arguments are result tensors."""
    def wrapped(*args, **kw):
        lead = builtins.sum(isinstance(a, Tensor) for a in args) if count_all else _leading_tensors(args)
        if args and isinstance(args[0], Tensor) and (lead > tensors_in or len(args) > max_args):
            # Torch7 lets the later results default: torch.max(vals, x, 1) and torch.sort(vals, x) give new indices
            given = builtins.min(nres, lead - tensors_in) if lead > tensors_in else nres
            out = fn(*args[given:], **kw)
            if nres == 1:
                return _into(args[0], out)
            res = partial_results(args, given, nres, tensors_in) if given < nres else args[:nres]
            return tuple(o if r is None else _into(r, o) for r, o in zip(res, out))
        return fn(*args, **kw)
    wrapped.__name__, wrapped.__doc__ = fn.__name__, (fn.__doc__ or '') + (
        f"  Torch7's result-first form torch.{fn.__name__}({'res, ' * nres}...) writes into the result "
        f"tensor{'s' if nres > 1 else ''} and returns {'them' if nres > 1 else 'it'}.")
    wrapped.plain = fn
    return wrapped


_FORMS = dict(   # name: (leading tensors of the plain form, its most arguments, result tensors)
    add=(2, 3, 1), csub=(2, 3, 1), mul=(1, 2, 1), div=(1, 2, 1), cmul=(2, 2, 1), cdiv=(2, 2, 1), pow=(1, 2, 1),
    cmax=(2, 2, 1), cmin=(2, 2, 1), cpow=(2, 2, 1), cfmod=(2, 2, 1), cremainder=(2, 2, 1), fmod=(1, 2, 1),
    remainder=(1, 2, 1), clamp=(1, 3, 1), mm=(2, 2, 1), mv=(2, 2, 1), bmm=(2, 2, 1), ger=(2, 2, 1),
    sum=(1, 2, 1), prod=(1, 2, 1), mean=(1, 2, 1), std=(1, 3, 1), var=(1, 3, 1), norm=(1, 3, 1),
    cumsum=(1, 2, 1), cumprod=(1, 2, 1), diag=(1, 2, 1), max=(1, 2, 2), min=(1, 2, 2), sort=(1, 3, 2),
    topk=(1, 5, 2), lt=(2, 2, 1), le=(2, 2, 1), gt=(2, 2, 1), ge=(2, 2, 1), eq=(2, 2, 1), ne=(2, 2, 1),
    maskedSelect=(2, 2, 1), index=(1, 3, 1), indexSelect=(1, 3, 1), gather=(1, 3, 1), nonzero=(1, 1, 1),
)
for _name in ('abs', 'sign', 'exp', 'log', 'log1p', 'sqrt', 'rsqrt', 'sigmoid', 'tanh', 'floor', 'ceil', 'round',
              'trunc', 'frac', 'neg', 'cinv', 'cos', 'sin', 'tan', 'acos', 'asin', 'atan', 'cosh', 'sinh'):
    _FORMS[_name] = (1, 1, 1)
for _name, (_t, _m, _r) in _FORMS.items():
    globals()[_name] = result_first(globals()[_name], _t, _m, _r)
for _name in ('mul', 'div', 'pow', 'fmod', 'remainder'):     # torch.mul(a, b) of two tensors stays elementwise
    globals()[_name] = result_first(globals()[_name].plain, 2, 2, 1)
for _name in ('addmm', 'addmv', 'addr', 'baddbmm', 'addbmm', 'addcmul', 'addcdiv'):   # ([beta,] M, [alpha,] A, B)
    globals()[_name] = result_first(globals()[_name], 3, 5, 1, count_all=True)
sub = csub


def _extreme(name, reduce, elementwise):
    """torch.max / torch.min: (x[, dim]), (vals, idx, x[, dim]), and Torch7's elementwise (a, b) and (res, a, b)."""
    def fn(*args, **kw):
        if _leading_tensors(args) == len(args) in (2, 3):
            return elementwise(*args)
        return reduce(*args, **kw)
    fn.__name__, fn.__doc__ = name, reduce.__doc__
    return fn


max = _extreme('max', max, cmax)
min = _extreme('min', min, cmin)


# constructors: torch.zeros(res, 2, 3) and res.zeros(2, 3) resize res and fill it (Torch7's result-first forms)
def _fill_method(name, fill):
    def method(self, *args):
        fill(self, *args)
        return self
    method.__name__ = name
    method.__doc__ = f"res.{name}(...): Torch7's result-first form of torch.{name} (res resized and filled)."
    return method


def _arith_fill(res, values):
    """Fill res (resized to 1-D) with float64 values, rounded to res's type as torch's constructors do."""
    res.resize(len(values))
    res._a[...] = backend.to_device(values, res._info.cuda).astype(res._info.dtype)


def _eye_into(res, n, m=None):
    n, m = _parse_sizes((n, 0 if m is None else m), 'eye')     # Lua's longs: 3.0 is 3
    if n <= 0:
        raise ValueError(f"eye: expected n > 0 rows, got {n}")
    res.resize(n, m if m > 0 else n).zero()                     # THTensor_(eye): m <= 0 means n
    res._a[res._xp.arange(builtins.min(res._a.shape)), res._xp.arange(builtins.min(res._a.shape))] = 1
    return res


def _cat_has_result(args):
    """cat(res, a, b[, dim]) or cat(res, {a, b, ...}[, dim]): Torch7's plain cat takes two tensors or one list."""
    n = _leading_tensors(args)
    return n >= 3 or (n == 1 and len(args) > 1 and isinstance(args[1], (list, tuple)))


def _drawn(fill):
    """fill(r, generator, rest) for (r, [gen,] rest...): Torch7's optional Generator comes first."""
    return lambda r, *args: fill(r, *_random.split_generator(args))


_CONSTRUCTOR_FILLS = dict(
    zeros=lambda r, *sz: r.resize(*sz).zero(),
    ones=lambda r, *sz: r.resize(*sz).fill(1),
    rand=_drawn(lambda r, g, sz: r.resize(*sz).uniform(g)),
    randn=_drawn(lambda r, g, sz: r.resize(*sz).normal(g)),
    eye=_eye_into,
    linspace=lambda r, a, b, n=100: _arith_fill(r, _spaced_values(a, b, n, r._info.dtype)),
    logspace=lambda r, a, b, n=100: _arith_fill(r, _spaced_values(a, b, n, r._info.dtype, log=True)),
    range=lambda r, a, b, step=1: _arith_fill(r, _range_values(a, b, step, r._info.dtype)),
    randperm=_drawn(lambda r, g, n: _arith_fill(r, np.asarray(g.randperm(*n), np.float64))),
    cat=None,      # its own method below: the receiver is not always the result
)


def _cat_method(self, *args, **kw):
    """x.cat(...) as Lua's x:cat(...): x is the result when two tensors or a list follow (res.cat(a, b, 0),
    res.cat([a, b], 0)); with one tensor, Torch7's wrapper lets the result default, so x.cat(y [, dim]) is a new
    cat(x, y [, dim]) and x is unchanged."""
    if _cat_has_result((self,) + args):
        return _into(self, cat.plain(*args, **kw))
    return cat.plain(self, *args, **kw)


for _name, _fill in _CONSTRUCTOR_FILLS.items():
    _plain = globals()[_name]
    _method = _cat_method if _name == 'cat' else _fill_method(_name, _fill)
    setattr(Tensor, _name, _method)

    def _constructor(*args, _plain=_plain, _method=_method, _name=_name, **kw):
        if args and isinstance(args[0], Tensor) and (_name != 'cat' or _cat_has_result(args)):
            return _method(*args, **kw)
        return _plain(*args, **kw)
    _constructor.__name__, _constructor.__doc__, _constructor.plain = _name, _plain.__doc__, _plain
    globals()[_name] = _constructor

del _name, _t, _m, _r, _fill, _plain, _method


# methods in Torch7's result-first form: Lua's res:sum(x, 2) is torch.sum(res, x, 2) (self is the result)
def _result_method(name, plain):
    def method(self, *args, **kw):
        if args and isinstance(args[0], Tensor) and (name not in _TENSOR_FIRST or len(args) > 1):
            return _FUNCTIONS[name](self, *args, **kw)
        return plain(self, *args, **kw)
    method.__name__, method.__doc__ = name, plain.__doc__
    return method


_TENSOR_FIRST = {'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'maskedSelect', 'max', 'min'}   # plain forms x.f(y) too
_FUNCTIONS = {}
for _name in ('sum', 'prod', 'mean', 'std', 'var', 'max', 'min', 'norm', 'cumsum', 'cumprod', 'sort', 'topk',
              'diag', 'gather', 'index', 'indexSelect', 'nonzero', *_TENSOR_FIRST):
    _FUNCTIONS[_name] = globals()[_name]
    setattr(Tensor, _name, _result_method(_name, getattr(Tensor, _name)))
del _name

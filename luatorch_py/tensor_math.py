"""Tensor math with Torch7's calling rules, attached to ``Tensor``.

Methods work in place on self and return self; most accept Torch7's "result" form too, where self receives the
result of the other arguments (``z.add(x, y)`` is z = x + y, resized like x).  Pointwise operands must have the
same number of elements as self (Torch7's rule); anything else raises instead of broadcasting.  Reductions over
all elements return a Python number; over a dim they keep it with size 1, as Torch7.
"""
import math
import numbers
import threading

import numpy as np

from . import backend
from .backend import kernels
from . import random as _random
from .storage import _number_array
from .tensor import Tensor, _sizestr, TYPES
from .types import on_device

_BYTE = TYPES['torch.ByteTensor']
_LONG = TYPES['torch.LongTensor']


def _xp(t):
    return backend.cupy() if t._info.cuda else np


def _num(x):
    """True for a real number (Python, numpy scalar: not a numpy string or complex, which numpy would store as 3.0 or
    drop the imaginary part of); the common float/int answered first (hot path)."""
    t = type(x)
    if t is float or t is int:
        return True
    if isinstance(x, Tensor):
        return False
    return isinstance(x, (numbers.Real, np.bool_)) and not isinstance(x, np.ndarray)


def _scalar_for(t, v):
    """A Python number fitting t's dtype: Torch7 converts scalars to the tensor's element type as C does
    (truncated towards zero for the integer types, wrapped into their range: ByteTensor add(-1) adds 255)."""
    dt = t._info.dtype
    if dt.kind in 'iu':
        if v != v or v in (math.inf, -math.inf):     # (int() would say "cannot convert float NaN to integer")
            raise ValueError(f"cannot store {v} in a {t._info.name}: its elements are integers")
        v = int(v)
        info = np.iinfo(dt)
        if not info.min <= v <= info.max:
            v = (v - info.min) % (info.max - info.min + 1) + info.min
    return v


def _want_number(self, v, what):
    """v when it is a number; else a TypeError naming it (numpy's casting errors, or a silent NaN for None,
    would leak out of ``x.mul(None)``, ``x.pow(None)``, ``x.clamp('a')``...)."""
    if not _num(v) and not (getattr(v, 'ndim', None) == 0 and getattr(v, 'dtype', np.dtype(object)).kind in 'biuf'):
        got = f"a {v._info.name}" if isinstance(v, Tensor) else f"{type(v).__name__} ({v!r:.40})"
        raise TypeError(f"{what}: expected a number, got {got} for a {self._info.name}")
    return v


def _want_tensor(self, t, what):
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}: expected a tensor, got {type(t).__name__} ({t!r:.40})")
    return t


def _no_int_zero(name, out, y):
    """An integer result with a zero divisor in ``y`` (a number or an array): Torch7 would crash (SIGFPE), numpy
    would give 0 with a warning; a ZeroDivisionError instead.  (No element, no division: an empty result is fine.)"""
    if out.dtype.kind in 'iu' and out.size and ((y == 0) if _num(y) else bool((y == 0).any())):
        raise ZeroDivisionError(f"{name}: integer division by zero (Torch7 would crash: SIGFPE)")


def _int_div_into(xp, x, y, out):
    """out = x / y truncated towards zero (C integer division), exactly in integers; y == 0 raises."""
    _no_int_zero('integer division', out, y)
    q = xp.floor_divide(x, y)
    q += (xp.remainder(x, y) != 0) & ((x < 0) != (y < 0))
    out[...] = q


def _operand(self, x, what):
    """The array of operand ``x`` shaped like self (same element count required)."""
    a = x._a if isinstance(x, Tensor) else x
    if not hasattr(a, 'shape'):
        raise TypeError(f"{what}: expected a tensor or a number, got {type(x).__name__}")
    if a.shape != self._a.shape:
        if a.size != self._a.size:
            raise ValueError(f"{what}: size mismatch, the {self._info.name} has size {_sizestr(self.shape)} "
                             f"({self._a.size} elements), the operand has size {_sizestr(a.shape if a.size else ())} "
                             f"({a.size} elements)")
        a = a.reshape(self._a.shape)
    if backend.is_cuda_array(a) != self._info.cuda:
        raise TypeError(f"{what}: the {self._info.name} and the operand "
                        f"({getattr(x, '_info', None) and x._info.name or type(x).__name__}) are on different devices")
    return a


_local = threading.local()   # per-thread scratch: two threads training two nets must not share temporaries


def _scratch(like, shape=None):
    """A reusable temporary shaped like ``like`` (or ``shape``, with like's dtype and device), so that optimizers'
    ``x.add(-lr, g)`` or ``m.addmm(a, b)`` allocate only once per shape.  Valid until the next _scratch call in
    the same thread (each thread has its own set)."""
    shape = like.shape if shape is None else shape
    key = (shape, like.dtype.num, type(like))
    try:
        cache = _local.scratch
    except AttributeError:
        cache = _local.scratch = {}
    buf = cache.get(key)
    if buf is None:
        if len(cache) > 32:
            cache.clear()
        buf = cache[key] = backend.array_module(like).empty(shape, like.dtype)
    return buf


def _same_device(self, t, what):
    """Tensor ``t`` on self's device (as _operand's check): numpy and CuPy arrays fail on each other unclearly."""
    if t._info.cuda != self._info.cuda:
        raise TypeError(f"{what}: the {self._info.name} and the operand ({t._info.name}) are on different devices")


def _result_into(self, src, what):
    """Result form: resize self like tensor ``src``; returns self's array."""
    if not isinstance(src, Tensor):
        raise TypeError(f"{what}: expected a tensor, got {type(src).__name__}")
    _same_device(self, src, what)
    self.resizeAs(src)
    return self._a


# -- add / sub ---------------------------------------------------------------------------------------------
def _axpy(self, out, base, value, t, what):
    """out = base + value * t, with no allocation after the first call of a shape."""
    ta = t._a if isinstance(t, Tensor) else None
    if ta is None or ta.shape != out.shape or type(ta) is not type(out):
        ta = _operand(self, t, what)
    xp = np if type(out) is np.ndarray else backend.array_module(out)
    if value == 1:
        xp.add(base, ta, out=out, casting='unsafe')     # other types: C's conversion, as add(t)
    else:
        tmp = _scratch(out)
        xp.multiply(ta, _scalar_for(self, value), out=tmp, casting='unsafe')
        xp.add(base, tmp, out=out, casting='unsafe')
    return self


def add(self, a, b=None, c=None):
    """add(value) | add(t) | add(value, t) | add(t1, t2) | add(t1, value) | add(t1, value, t2)."""
    arr = self._a
    if b is None:
        if isinstance(a, Tensor):
            aa = a._a
            if aa.shape != arr.shape or type(aa) is not type(arr):
                aa = _operand(self, a, 'add')
            try:
                arr += aa
            except TypeError:                 # e.g. a DoubleTensor into a LongTensor: C's conversion
                backend.array_module(arr).add(arr, aa, out=arr, casting='unsafe')
        elif _num(a):
            arr += _scalar_for(self, a)
        else:
            arr += _operand(self, a, 'add')
        return self
    if c is None:
        if _num(a):                       # add(value, t): self += value * t
            return _axpy(self, arr, arr, a, b, 'add')
        out = _result_into(self, a, 'add')      # add(t1, t2) or add(t1, value)
        if _num(b):
            _xp(self).add(a._a, _scalar_for(self, b), out=out, casting='unsafe')
            return self
        return _axpy(self, out, a._a, 1, b, 'add')
    out = _result_into(self, a, 'add')          # add(t1, value, t2)
    return _axpy(self, out, a._a, b, c, 'add')


def csub(self, a, b=None, c=None):
    """csub(value) | csub(t) | csub(value, t) | csub(t1, t2) | csub(t1, value, t2): the same forms as add."""
    if b is None:
        return add(self, -a) if _num(a) else add(self, -1, a)
    if c is None:
        return add(self, -a, b) if _num(a) else (add(self, a, -b) if _num(b) else add(self, a, -1, b))
    return add(self, a, -b, c)


# -- scalar mul / div, pointwise binary ops ----------------------------------------------------------------
def mul(self, a, b=None):
    """mul(value) in place | mul(t, value): self = t * value."""
    if b is None:
        self._a *= _scalar_for(self, _want_number(self, a, 'mul'))
        return self
    _want_tensor(self, a, 'mul')
    _xp(self).multiply(a._a, _scalar_for(self, _want_number(self, b, 'mul')), out=_result_into(self, a, 'mul'),
                       casting='unsafe')
    return self


def div(self, a, b=None):
    """div(value) in place | div(t, value): self = t / value (integer types truncate, as C)."""
    if b is None:
        if isinstance(a, Tensor):       # x.div(y) of a tensor y (PyTorch's form): cdiv's element-wise division
            return cdiv(self, a)        # (a LongTensor's C division of a tensor by a tensor failed in _scalar_for)
        a, b, out = self, _want_number(self, a, 'div'), self._a
    else:
        _want_number(self, b, 'div')
        out = _result_into(self, _want_tensor(self, a, 'div'), 'div')
    xp = _xp(self)
    if self._info.dtype.kind in 'iu':
        _int_div_into(xp, a._a, _scalar_for(self, b), out)
    else:
        xp.divide(a._a, b, out=out)
    return self


def _pointwise2(name, fn):
    def method(self, a, b=None):
        if b is None:
            x = out = self._a
            y = a
        else:
            x, y, out = a._a, b, _result_into(self, a, name)
        if isinstance(y, Tensor) and y._a.shape == out.shape and type(y._a) is type(out):
            y = y._a
        else:
            y = _scalar_for(self, y) if _num(y) else _operand(self, y, name)
        fn(np if type(out) is np.ndarray else backend.array_module(out), x, y, out)
        return self
    method.__name__ = name
    method.__doc__ = f"{name}(t or value) in place | {name}(t1, t2 or value): self = {name} of t1 and t2."
    return method


def _cdiv_fn(xp, x, y, out):
    if out.dtype.kind in 'iu' and (x.dtype.kind in 'iu' and (_num(y) or y.dtype.kind in 'iu')):
        _int_div_into(xp, x, y, out)
    elif out.dtype.kind in 'iu':
        out[...] = xp.trunc(x / y)
    else:
        xp.divide(x, y, out=out)


cmul = _pointwise2('cmul', lambda xp, x, y, out: xp.multiply(x, y, out=out, casting='unsafe'))
cdiv = _pointwise2('cdiv', _cdiv_fn)
def _int_pow_into(xp, x, y, out):
    """out = x ^ y for an integer result (x, y numbers or arrays).  Torch7 calls C's double pow and converts to the
    integer type; numpy's integer power refuses negative integer exponents ("Integers to negative integer powers
    are not allowed"), so those go through double pow and truncate (2^-1 is 0, (-1)^-1 is -1).  0 to a negative
    power is inf in C, whose conversion to an integer is undefined: a ZeroDivisionError."""
    neg = (y < 0) if _num(y) else bool((y < 0).any())
    if not neg:
        xp.power(x, y, out=out, casting='unsafe')
        return
    zero_neg = (x == 0) & (y < 0)
    if bool(zero_neg) if _num(zero_neg) else bool(zero_neg.any()):
        raise ZeroDivisionError("pow: 0 raised to a negative power in an integer tensor (C's pow gives inf, which "
                                "no integer holds)")
    xf = x.astype(np.float64) if hasattr(x, 'astype') else np.float64(x)
    yf = y.astype(np.float64) if hasattr(y, 'astype') else np.float64(y)
    out[...] = xp.trunc(xp.power(xf, yf))


def _cpow_fn(xp, x, y, out):
    # THTensor_(cpow) calls C's double pow on every type: a Float result is the double one rounded
    if out.dtype == np.float32:
        y = y.astype(np.float64) if hasattr(y, 'astype') else np.float64(y)
        out[...] = xp.power(x.astype(np.float64), y)
    elif out.dtype.kind in 'iu':
        _int_pow_into(xp, x, y, out)
    else:
        xp.power(x, y, out=out, casting='unsafe')


cpow = _pointwise2('cpow', _cpow_fn)
def _c_extreme(ufunc, nan_skipping):
    """TH's cmax/cmin: t > src ? t : src (t < src for cmin), so a NaN in either gives src's value (numpy's
    maximum/minimum give NaN for a NaN in t).  maximum(fmax(t, src), src) is that: fmax passes over t's NaN,
    maximum keeps src's; the first step goes to a scratch buffer, so that out may be src itself."""
    def fn(xp, x, y, out):
        if out.dtype.kind == 'f':
            tmp = _scratch(out)
            getattr(xp, nan_skipping)(x, y, out=tmp, casting='unsafe')
            getattr(xp, ufunc)(tmp, y, out=out, casting='unsafe')
        else:
            getattr(xp, ufunc)(x, y, out=out, casting='unsafe')
    return fn


cmax = _pointwise2('cmax', _c_extreme('maximum', 'fmax'))
cmin = _pointwise2('cmin', _c_extreme('minimum', 'fmin'))
def _checked(name, op):
    """``op`` (np.fmod, np.remainder) as a _pointwise2 function: an integer division by zero raises (_no_int_zero)."""
    def fn(xp, x, y, out):
        _no_int_zero(f"torch.{name}", out, y)
        getattr(xp, op)(x, y, out=out, casting='unsafe')
    return fn


cfmod = _pointwise2('cfmod', _checked('cfmod', 'fmod'))
cremainder = _pointwise2('cremainder', _checked('cremainder', 'remainder'))
fmod = _pointwise2('fmod', _checked('fmod', 'fmod'))
remainder = _pointwise2('remainder', _checked('remainder', 'remainder'))


def _addc(name, fn):
    def method(self, *args):
        """addcmul([value,] t1, t2): self += value * t1 * t2 | addcmul(t0, [value,] t1, t2): self = t0 + ..."""
        if len(args) >= 3 and isinstance(args[0], Tensor) and isinstance(args[-1], Tensor) \
                and isinstance(args[-2], Tensor):
            t0, args = args[0], args[1:]
            base = t0._a
            out = _result_into(self, t0, name)
        else:
            base = out = self._a
        value, t1, t2 = (1, *args) if len(args) == 2 else args
        value = _scalar_for(self, value)     # TH takes value as `real`: a LongTensor's addcmul(0.5, ...) adds 0
        xp = _xp(self)
        tmp = _scratch(out)
        a = _operand(self, t1, name)
        if value != 1:                  # TH: r + value * t1 * t2 (or / t2), value times t1 first
            xp.multiply(a, value, out=tmp, casting='unsafe')
            a = tmp
        fn(xp, a, _operand(self, t2, name), tmp)
        xp.add(base, tmp, out=out, casting='unsafe')
        return self
    method.__name__ = name
    return method


addcmul = _addc('addcmul', lambda xp, a, b, out: xp.multiply(a, b, out=out, casting='unsafe'))
addcdiv = _addc('addcdiv', lambda xp, a, b, out: _int_div_into(xp, a, b, out) if out.dtype.kind in 'iu'
               else xp.divide(a, b, out=out))       # integers: C's truncating division, as TH


# -- unary pointwise ---------------------------------------------------------------------------------------
def _unary(name, fn):
    float_only = name in _UNARY_FLOAT_ONLY
    int_identity = name in _UNARY_INT_IDENTITY

    def method(self, src=None):
        if self._info.dtype.kind != 'f':
            if float_only:
                raise TypeError(f"{name}: defined for floating-point tensors only (as in Torch7), got a "
                                f"{self._info.name}; convert with .double() or .float() first")
            if int_identity:     # floor/ceil/round/trunc of integers: the integers themselves
                if src is not None:
                    _result_into(self, src, name)
                    copy(self, src)
                return self
        if src is None:
            fn(_xp(self), self._a, self._a)
        else:
            fn(_xp(self), src._a, _result_into(self, src, name))
        return self
    method.__name__ = name
    method.__doc__ = f"{name}() in place | {name}(t): self = {name}(t)."
    return method


def _sigmoid(xp, x, out):
    # 1 / (1 + exp(-x)) without a temporary beyond `out` (TH_sigmoidf: expf, then float arithmetic)
    xp.negative(x, out=out)
    xp.exp(out, out=out)
    out += 1
    xp.reciprocal(out, out=out)


def _c_round(xp, x, out):
    """C's round: halves away from zero (numpy's rint rounds them to even).  Computed from trunc, as x - trunc(x) is
    exact: floor(|x| + 0.5) would round 0.49999997 up, and 2^23 + 1 in float32 to 2^23 + 2."""
    t = xp.trunc(x)
    with np.errstate(invalid='ignore'):        # inf - inf: an infinity stays itself
        up = xp.abs(x - t) >= 0.5
    xp.add(t, xp.copysign(up.astype(x.dtype), x), out=out)


def _frac(xp, x, out):
    xp.subtract(x, xp.trunc(x), out=out)


def _rsqrt(xp, x, out):
    xp.sqrt(x, out=out)
    xp.reciprocal(out, out=out)


def _cinv(xp, x, out):
    xp.reciprocal(x, out=out)


def _ufunc(ufunc):
    """fn(xp, x, out) running the ufunc ``xp.<ufunc>`` (numpy's or CuPy's, whichever xp is) into ``out``."""
    return lambda xp, x, out: getattr(xp, ufunc)(x, out=out)


# Torch7 name -> fn(xp, x, out): most are one ufunc, of the same name or of numpy's name for it
def _sign(xp, x, out):
    # THTensor_(sign): 1 if x > 0, -1 if x < 0, else 0 -- NaN included (numpy's sign keeps NaN): fmax(s, 0) +
    # fmin(s, 0) is s with NaN as 0 (fmax/fmin pass over NaN), with no allocation past the scratch buffer
    xp.sign(x, out=out)
    if out.dtype.kind == 'f':
        tmp = _scratch(out)
        xp.fmin(out, 0, out=tmp)
        xp.fmax(out, 0, out=out)
        out += tmp


_UNARY = {name: _ufunc(name) for name in ('abs', 'exp', 'log', 'log1p', 'sqrt', 'tanh', 'floor', 'ceil',
                                          'trunc', 'cos', 'sin', 'tan', 'cosh', 'sinh')}
_UNARY.update(neg=_ufunc('negative'), acos=_ufunc('arccos'), asin=_ufunc('arcsin'), atan=_ufunc('arctan'),
              rsqrt=_rsqrt, sigmoid=_sigmoid, frac=_frac, cinv=_cinv, sign=_sign,
              round=_c_round)
_UNARY_FLOAT_ONLY = {'exp', 'log', 'log1p', 'sqrt', 'rsqrt', 'sigmoid', 'tanh', 'frac', 'cinv', 'cos', 'sin',
                     'tan', 'acos', 'asin', 'atan', 'cosh', 'sinh'}
_UNARY_INT_IDENTITY = {'floor', 'ceil', 'round', 'trunc'}


def pow(self, a, b=None):
    """pow(value) in place | pow(t, value): self = t ^ value | pow(value, t): self = value ^ t (Torch7's tpow)."""
    if b is None:
        a, b, out = self, a, self._a
    elif _num(a) and isinstance(b, Tensor):
        return _tpow(self, a, b)
    else:
        out = _result_into(self, _want_tensor(self, a, 'pow'), 'pow')
    _want_number(self, b, 'pow')
    _th_pow(_xp(self), a._a, b, out)
    return self


def _th_pow(xp, x, value, out):
    """THTensor_(pow): x*x for 2, x*x*x for 3, sqrt for 0.5, 1/sqrt for -0.5, 1/x for -1, 1/(x*x) for -2, else C's
    pow (powf for Float tensors).  numpy's power would take its own shortcuts for other exponents than TH's (and
    pow(x, 2) is not always x*x in C), so the general case passes the exponent as an array: numpy then calls C's."""
    if out.dtype.kind not in 'fc':
        _int_pow_into(xp, x, value, out)
    elif value == 1:
        out[...] = x
    elif value in (2, -2):
        xp.multiply(x, x, out=out)
        if value == -2:
            xp.reciprocal(out, out=out)
    elif value == 3:
        xp.multiply(xp.multiply(x, x), x, out=out)
    elif value == 0.5:
        xp.sqrt(x, out=out)
    elif value == -0.5:
        _rsqrt(xp, x, out)
    elif value == -1:
        xp.reciprocal(x, out=out)
    else:
        xp.power(x, backend.c_exponent(x, value), out=out, casting='unsafe')


def _tpow(self, value, t):
    """THTensor_(tpow): self = value ^ t, C's double pow rounded to the tensor's type."""
    out = _result_into(self, t, 'pow')
    xp = _xp(self)
    if out.dtype.kind == 'f':
        out[...] = xp.power(xp.float64(value), t._a.astype(np.float64))
    else:
        _int_pow_into(xp, _scalar_for(self, value), t._a, out)
    return self


def clamp(self, a, b=None, c=None):
    """clamp(min, max) in place | clamp(t, min, max).  Either bound may be None."""
    if isinstance(a, Tensor):
        src, lo, hi, out = a._a, b, c, _result_into(self, a, 'clamp')
    else:
        src, lo, hi, out = self._a, a, b, self._a
    lo = None if lo is None else _scalar_for(self, _want_number(self, lo, 'clamp'))
    hi = None if hi is None else _scalar_for(self, _want_number(self, hi, 'clamp'))
    xp = _xp(self)
    if lo is not None and hi is not None and not lo <= hi:
        # TH: x < min ? min : (x > max ? max : x), so min wins below it and max above (clip gives max everywhere),
        # and a NaN bound clamps nothing (clip gives NaN everywhere)
        out[...] = xp.where(src < lo, lo, xp.where(src > hi, hi, src))
        return self
    xp.clip(src, lo, hi, out=out)
    return self


clip = clamp


def fill(self, value):
    self._a.fill(_fill_value(self, value, 'fill'))     # (numpy would store None as NaN, '3' as 3.0, 1+2j as 1)
    return self


def zero(self):
    self._a.fill(0)
    return self


def copy(self, src):
    """Copy the values of ``src`` (any type, either device; same element count) into self."""
    # (numbers only: numpy would store None as NaN, parse '3' and drop imaginary parts)
    a = src._a if isinstance(src, Tensor) else _number_array(src, 'copy',
                                                             f'a tensor or numbers for the {self._info.name}')
    if a.shape != self._a.shape:
        if a.size != self._a.size:
            name = src._info.name if isinstance(src, Tensor) else type(src).__name__
            raise ValueError(f"copy: size mismatch, the destination {self._info.name} has size "
                             f"{_sizestr(self.shape)} ({self._a.size} elements), the source {name} has size "
                             f"{_sizestr(a.shape if a.size else ())} ({a.size} elements)")
        a = a.reshape(self._a.shape)
    if backend.is_cuda_array(a) != self._info.cuda:
        a = backend.to_device(a, self._info.cuda)
    if self._a.size:
        self._a[...] = a
    return self


# -- matrix products ---------------------------------------------------------------------------------------
def _check_mat(self, t, nd, what):
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}: expected a tensor, got {type(t).__name__}")
    _same_device(self, t, what)
    if t.dim() != nd:
        raise ValueError(f"{what}: expected a {nd}-D tensor, got a {t._info.name} of size {_sizestr(t.shape)}")
    return t._a


def _split_addx(self, args, what):
    """Parse Torch7's [beta,] [M,] [alpha,] A, B forms: returns beta, M (a tensor), alpha, A, B."""
    if len(args) == 2:                      # the common self.addmm(A, B)
        return 1, self, 1, args[0], args[1]
    tensors = [i for i, x in enumerate(args) if isinstance(x, Tensor)]
    if len(tensors) not in (2, 3):
        raise TypeError(f"{what}: expected ([beta,] [M,] [alpha,] A, B), got {len(args)} arguments")
    nums = [x for x in args if not isinstance(x, Tensor)]
    if len(tensors) == 3:
        m = args[tensors[0]]
        before = [x for x in args[:tensors[0]]]
        between = [x for x in args[tensors[0] + 1:tensors[1]]]
        beta = before[0] if before else 1
        alpha = between[0] if between else 1
        return beta, m, alpha, args[tensors[1]], args[tensors[2]]
    beta, alpha = (1, 1) if not nums else ((1, nums[0]) if len(nums) == 1 else (nums[0], nums[1]))
    return beta, self, alpha, args[tensors[0]], args[tensors[1]]


def _matmul(self, aa, ba):
    """aa @ ba, into a scratch buffer when the operands have self's dtype (no allocation per call)."""
    dt = self._a.dtype
    if (aa.dtype is dt or aa.dtype == dt) and (ba.dtype is dt or ba.dtype == dt) and type(aa) is type(ba):
        out = _scratch(aa, aa.shape[:-1] + (ba.shape[-1:] if ba.ndim > 1 else ()))
        (np if type(aa) is np.ndarray else backend.array_module(aa)).matmul(aa, ba, out=out)
        return out
    return aa @ ba


def _addx(self, beta, m, alpha, prod, shape, what):
    """self = beta * m + alpha * prod, resizing self to ``shape``."""
    if m is not self:
        _same_device(self, m, what)
        if m.shape != shape:
            raise ValueError(f"{what}: M has size {_sizestr(m.shape)}, expected {_sizestr(shape)}")
        self.resize(shape)
        if beta == 0:
            self._a.fill(0)
        else:
            self._a[...] = m._a
            if beta != 1:
                self._a *= _scalar_for(self, beta)
    else:
        if self.shape != shape:
            raise ValueError(f"{what}: self has size {_sizestr(self.shape)}, expected {_sizestr(shape)}")
        if beta == 0:
            self._a.fill(0)
        elif beta != 1:
            self._a *= _scalar_for(self, beta)
    if alpha != 1:
        prod *= _scalar_for(self, alpha)
    _xp(self).add(self._a, prod, out=self._a, casting='unsafe')     # other types: C's conversion
    return self


def addmm(self, *args):
    """addmm([beta,] [M,] [alpha,] A, B): self = beta * (M or self) + alpha * A @ B."""
    beta, m, alpha, a, b = _split_addx(self, args, 'addmm')
    aa, ba = _check_mat(self, a, 2, 'addmm'), _check_mat(self, b, 2, 'addmm')
    if aa.shape[1] != ba.shape[0]:
        raise ValueError(f"addmm: size mismatch, m1: [{aa.shape[0]} x {aa.shape[1]}], m2: [{ba.shape[0]} x {ba.shape[1]}]")
    return _addx(self, beta, m, alpha, _matmul(self, aa, ba), (aa.shape[0], ba.shape[1]), 'addmm')


def addmv(self, *args):
    """addmv([beta,] [v,] [alpha,] M, x): self = beta * (v or self) + alpha * M @ x."""
    beta, m, alpha, a, x = _split_addx(self, args, 'addmv')
    aa, xa = _check_mat(self, a, 2, 'addmv'), _check_mat(self, x, 1, 'addmv')
    if aa.shape[1] != xa.shape[0]:
        raise ValueError(f"addmv: size mismatch, mat: [{aa.shape[0]} x {aa.shape[1]}], vec: [{xa.shape[0]}]")
    return _addx(self, beta, m, alpha, _matmul(self, aa, xa), (aa.shape[0],), 'addmv')


def addr(self, *args):
    """addr([beta,] [M,] [alpha,] u, v): self = beta * (M or self) + alpha * outer(u, v)."""
    beta, m, alpha, u, v = _split_addx(self, args, 'addr')
    ua, va = _check_mat(self, u, 1, 'addr'), _check_mat(self, v, 1, 'addr')
    return _addx(self, beta, m, alpha, _xp(self).outer(ua, va), (ua.shape[0], va.shape[0]), 'addr')


def baddbmm(self, *args):
    """baddbmm([beta,] [M,] [alpha,] A, B): batched: self[i] = beta * M[i] + alpha * A[i] @ B[i]."""
    beta, m, alpha, a, b = _split_addx(self, args, 'baddbmm')
    aa, ba = _check_mat(self, a, 3, 'baddbmm'), _check_mat(self, b, 3, 'baddbmm')
    if aa.shape[0] != ba.shape[0] or aa.shape[2] != ba.shape[1]:
        raise ValueError(f"baddbmm: size mismatch, {_sizestr(aa.shape)} and {_sizestr(ba.shape)}")
    return _addx(self, beta, m, alpha, _matmul(self, aa, ba), (aa.shape[0], aa.shape[1], ba.shape[2]), 'baddbmm')


def addbmm(self, *args):
    """addbmm([beta,] [M,] [alpha,] A, B): self = beta * M + alpha * sum_i A[i] @ B[i]."""
    beta, m, alpha, a, b = _split_addx(self, args, 'addbmm')
    aa, ba = _check_mat(self, a, 3, 'addbmm'), _check_mat(self, b, 3, 'addbmm')
    if aa.shape[0] != ba.shape[0] or aa.shape[2] != ba.shape[1]:
        raise ValueError(f"addbmm: size mismatch, {_sizestr(aa.shape)} and {_sizestr(ba.shape)}")
    shape = (aa.shape[1], ba.shape[2])
    if aa.shape[0] == 0:
        return _addx(self, beta, m, alpha, _xp(self).zeros(shape, self._a.dtype), shape, 'addbmm')
    prods = _matmul(self, aa, ba)
    _addx(self, beta, m, alpha, prods[0], shape, 'addbmm')
    for p in prods[1:]:           # TH: one addmm per batch into the result, so the sums go in batch order
        if alpha != 1:
            p *= _scalar_for(self, alpha)
        _xp(self).add(self._a, p, out=self._a, casting='unsafe')
    return self


def _product(name, nd_a, nd_b, shape_fn):
    def method(self, a, b=None):
        if b is None:       # PyTorch style a.mm(b): a new tensor
            res = type(self)()
            return method(res, self, a)
        aa, ba = _check_mat(self, a, nd_a, name), _check_mat(self, b, nd_b, name)
        shape = shape_fn(aa, ba, name)
        self.resize(shape)
        if self._a.dtype.kind in 'iu' and 'f' in (aa.dtype.kind, ba.dtype.kind):
            self._a[...] = _xp(self).matmul(aa, ba)      # other types: C's conversion (matmul's out= refuses it)
        else:
            _xp(self).matmul(aa, ba, out=self._a)
        return self
    method.__name__ = name
    method.__doc__ = f"res.{name}(A, B): res = A @ B (resized) | A.{name}(B): a new tensor."
    return method


def _mm_shape(a, b, name):
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"{name}: size mismatch, m1: [{a.shape[0]} x {a.shape[1]}], m2: [{b.shape[0]} x {b.shape[1]}]")
    return (a.shape[0], b.shape[1])


def _mv_shape(a, b, name):
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"{name}: size mismatch, mat: [{a.shape[0]} x {a.shape[1]}], vec: [{b.shape[0]}]")
    return (a.shape[0],)


def _bmm_shape(a, b, name):
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"{name}: size mismatch, {_sizestr(a.shape)} and {_sizestr(b.shape)}")
    return (a.shape[0], a.shape[1], b.shape[2])


mm = _product('mm', 2, 2, _mm_shape)
mv = _product('mv', 2, 1, _mv_shape)
bmm = _product('bmm', 3, 3, _bmm_shape)


def ger(self, u, v=None):
    """res.ger(u, v): res = outer(u, v) | u.ger(v): a new tensor."""
    if v is None:
        return ger(type(self)(), self, u)
    ua, va = _check_mat(self, u, 1, 'ger'), _check_mat(self, v, 1, 'ger')
    self.resize(ua.shape[0], va.shape[0])
    _xp(self).multiply(ua[:, None], va[None, :], out=self._a, casting='unsafe')
    return self


def dot(self, other):
    _want_tensor(self, other, 'dot')
    if self._a.size != other._a.size:
        raise ValueError(f"dot: size mismatch, {_sizestr(self.shape)} and {_sizestr(other.shape)}")
    return _xp(self).dot(self._a.reshape(-1), _operand(self, other, 'dot').reshape(-1)).item()


# -- reductions --------------------------------------------------------------------------------------------
def _new_like(self, arr, info=None):
    info = info or self._info
    xp = info.xp
    return info.tensor_class._from_array(xp.ascontiguousarray(arr.astype(info.dtype, copy=False)))


def _reduction(name, fn, float_result=False):
    def method(self, dim=None):
        if dim is None:
            if self._a.size == 0 and name in ('max', 'min'):
                raise ValueError(f"{name}: the {self._info.name} is empty")
            return fn(_xp(self), self._a, None).item()
        d = self._dim(dim)
        return _new_like(self, fn(_xp(self), self._a, d))
    method.__name__ = name
    method.__doc__ = f"{name}() over all elements -> a number; {name}(dim) -> a tensor with dim kept as size 1."
    return method


# Float and Double tensors accumulate in TH's precision: over all elements in double (accreal); over a dim in double
# when that dim has stride 1, else in the tensor's own type.  The order is numpy's pairwise summation, not TH's
# running sum: a replay of TH's order (cumsum) gave Lua's last bits but cost 50-100x numpy's sum on large tensors,
# so values agree with Lua's to a few units in the last place of the accumulator (docs/tensor.md).
def _running(xp, a, d, acc, op):
    """The sum (product) of ``a`` along ``d``, accumulated in dtype ``acc``, with d kept as size 1."""
    return (xp.sum if op == 'sum' else xp.prod)(a, axis=d, dtype=acc, keepdims=True)


def _th_reduce(op):
    def fn(self, xp, a, d):
        if a.dtype.kind != 'f':          # integers: exact in int64 (accreal long), wrapped back into the type
            f = a.sum if op == 'sum' else a.prod
            # (a ByteTensor's too: numpy's uint64 gave 255^8 where C's long wraps it negative)
            return f(dtype=np.int64) if d is None else f(d, keepdims=True)
        if d is None:
            return _running(xp, a.reshape(-1), 0, np.float64, op)[0]
        acc = np.float64 if a.shape[d] < 2 or self.stride(d) == 1 else a.dtype
        return _running(xp, a, d, acc, op).astype(a.dtype, copy=False)
    return fn


def _th_reduction(name, fn):
    def method(self, dim=None):
        if dim is None:
            return float(fn(self, _xp(self), self._a, None)) if self._info.dtype.kind == 'f' else \
                fn(self, _xp(self), self._a, None).item()
        return _new_like(self, fn(self, _xp(self), self._a, self._dim(dim)))
    method.__name__ = name
    method.__doc__ = f"{name}() over all elements -> a number; {name}(dim) -> a tensor with dim kept as size 1."
    return method


_th_sum = _th_reduce('sum')


def _th_mean(self, xp, a, d):
    """meanall: the double sum / n; mean(dim): sum(dim) in the tensor's type, divided in that type (TH's div)."""
    if a.dtype.kind != 'f':
        return a.mean() if d is None else a.mean(d, keepdims=True)
    if d is None:
        return _running(xp, a.reshape(-1), 0, np.float64, 'sum')[0] / a.size if a.size else np.float64('nan')
    return _th_sum(self, xp, a, d) / a.dtype.type(a.shape[d])


sum = _th_reduction('sum', _th_sum)
prod = _th_reduction('prod', _th_reduce('prod'))
mean = _th_reduction('mean', _th_mean)


def _stat(name):
    def method(self, dim=None, flag=False):
        """Unbiased (n - 1) by default; flag=True divides by n, as Torch7."""
        if isinstance(dim, bool):
            dim, flag = None, dim
        ddof = 0 if flag else 1
        a = self._a
        if dim is None:
            if a.dtype.kind == 'f' and a.size:      # TH's varall: the double mean, then a running double sum
                xp = _xp(self)
                dev = a.reshape(-1).astype(np.float64) - _th_mean(self, xp, a, None)
                with np.errstate(divide='ignore', invalid='ignore'):     # one element, unbiased: NaN, as TH
                    r = _running(xp, dev * dev, 0, np.float64, 'sum')[0] / np.float64(a.size - ddof)
                    return float(xp.sqrt(r) if name == 'std' else r)
            r = a.var(ddof=ddof)
            return (_xp(self).sqrt(r) if name == 'std' else r).item()
        d = self._dim(dim)
        if a.dtype.kind == 'f':
            return _new_like(self, _th_var_dim(_xp(self), a, d, flag, name == 'std'))
        r = a.var(d, ddof=ddof, keepdims=True)
        return _new_like(self, _xp(self).sqrt(r) if name == 'std' else r)
    method.__name__ = name
    return method


def _th_var_dim(xp, a, d, biased, sqrt):
    """THTensor_(var/std) along d, as TH computes it: one pass of running double sums of z and of z*z (z*z in the
    tensor's type), then sum2/(n-1) - n/(n-1)*mean^2 (n/(n-1) in the tensor's type), clamped at 0."""
    real = a.dtype.type
    n = a.shape[d]
    s = _running(xp, a, d, np.float64, 'sum') / n
    s2 = _running(xp, a * a, d, np.float64, 'sum')
    with np.errstate(divide='ignore', invalid='ignore'):
        if biased:
            s2 = s2 / n - s * s
        else:
            s2 = s2 / (n - 1) - (real(n) / real(n - 1)).astype(np.float64) * s * s
    s2 = xp.where(s2 < 0, 0.0, s2)
    if sqrt:
        return xp.sqrt(s2.astype(a.dtype))      # C's sqrtf on the float for Float tensors, sqrt for Double
    return s2.astype(a.dtype)


std = _stat('std')
var = _stat('var')


def _extreme(name):
    def method(self, dim=None):
        """Over all elements -> a number; over dim -> (values, LongTensor of 0-based indices), dim kept."""
        if isinstance(dim, Tensor):          # Torch7's x:max(y) is cmax
            return (cmax if name == 'max' else cmin)(self, dim)
        if dim is None:
            if self._a.size == 0:
                raise ValueError(f"{name}: the {self._info.name} is empty")
            return (self._a.max() if name == 'max' else self._a.min()).item()
        d = self._dim(dim)
        idx = (self._a.argmax if name == 'max' else self._a.argmin)(d)
        idx = _xp(self).expand_dims(idx, d)
        vals = _xp(self).take_along_axis(self._a, idx, d)
        return _new_like(self, vals), _new_like(self, idx, on_device(_LONG, self._info.cuda))
    method.__name__ = name
    return method


max = _extreme('max')
min = _extreme('min')


def _c_pow(xp, x, e):
    """C's pow (powf for float32) elementwise."""
    return xp.power(x, backend.c_exponent(x, e))


def _th_norm(self, p, d):
    """THTensor_(normall/norm) of a Float/Double tensor: a running double of |x| (p = 1), of x*x squared in double
    then sqrt (p = 2, all elements), of C's pow(|x|, p) otherwise, then pow(sum, 1/p) in the tensor's type."""
    xp, a = _xp(self), self._a
    real = a.dtype.type
    if d is None:
        flat = a.reshape(-1)
        if p == 0:
            return float((flat != 0).sum())
        if p == 1:
            return float(_running(xp, xp.abs(flat), 0, np.float64, 'sum')[0])
        if p == 2:          # TH: accreal z = x; sum += z*z -- squared in double (float32 squares lost bits)
            z = flat.astype(np.float64)
            return float(np.sqrt(float(_running(xp, z * z, 0, np.float64, 'sum')[0])))
        s = _running(xp, _c_pow(xp, xp.abs(flat), p), 0, np.float64, 'sum')
        return float(_c_pow(xp, s.astype(a.dtype), real(1.0 / p))[0])
    if p == 0:
        return _new_like(self, (a != 0).sum(d, keepdims=True))
    s = _running(xp, _c_pow(xp, xp.abs(a), p), d, np.float64, 'sum')
    return _new_like(self, _c_pow(xp, s.astype(a.dtype), real(1.0 / p)))


def norm(self, p=2, dim=None):
    xp = _xp(self)
    if self._info.dtype.kind == 'f' and p != float('inf') and self._a.size:
        return _th_norm(self, p, None if dim is None else self._dim(dim))
    a = self._a.astype(np.float64) if self._info.dtype.kind in 'iu' else self._a
    def f(x, axis):
        kw = dict(axis=axis, keepdims=axis is not None)
        if p == 0:
            return (x != 0).sum(**kw).astype(a.dtype)
        if p == float('inf'):
            return xp.abs(x).max(**kw)
        if p == 1:
            return xp.abs(x).sum(**kw)
        if p == 2:
            return xp.sqrt((x * x).sum(**kw))
        return (xp.abs(x) ** p).sum(**kw) ** (1.0 / p)
    if dim is None:
        return f(a, None).item()
    return _new_like(self, f(a, self._dim(dim)))


def dist(self, other, p=2):
    b = _operand(self, other, 'dist')
    if self._info.dtype.kind in 'iu':       # (Torch7's dist is Float/Double only) the difference of the numbers, in
        # double: in the type itself it wrapped (ByteTensor 0 - 1 is 255, CharTensor -100 - 100 is 56)
        double = on_device(TYPES['torch.DoubleTensor'], self._info.cuda)
        return norm(_new_like(self, self._a.astype(np.float64) - b, double), p)
    diff = type(self)._from_array(self._a - b)
    if self._info.dtype.kind == 'f' and p != float('inf') and self._a.size:
        # THTensor_(dist) adds C's pow(|x - y|, p) in the tensor's own type, then pow(sum, 1/p)
        xp, a = _xp(self), diff._a.reshape(-1)
        s = _running(xp, _c_pow(xp, xp.abs(a), p), 0, a.dtype, 'sum')
        inv = math.inf if p == 0 else 1.0 / p       # (C's 1.0/0 is inf: TH's p = 0 gives pow(n, inf))
        return float(_c_pow(xp, s, a.dtype.type(inv))[0])
    return norm(diff, p)


def _cumulative(name, fn):
    def method(self, dim=0):
        """A new tensor of cumulative {name}s along dim (Torch7's cumsum(x, dim) returns a new tensor)."""
        return _new_like(self, fn(self._a, axis=self._dim(dim)))
    method.__name__ = name
    return method


def _in_accreal(op):
    """TH runs cumsum/cumprod in accreal (double for Float tensors), each value rounded to the tensor's type."""
    return lambda a, axis: getattr(a.astype(np.float64) if a.dtype == np.float32 else a, op)(axis)


cumsum = _cumulative('cumsum', _in_accreal('cumsum'))
cumprod = _cumulative('cumprod', _in_accreal('cumprod'))


def sort(self, dim=-1, descending=False):
    """(values, LongTensor of 0-based indices) sorted along dim (default the last), ascending by default."""
    if isinstance(dim, bool):
        dim, descending = -1, dim
    d = self._dim(dim)
    xp = _xp(self)
    if descending and self._info.dtype.kind in 'iu':
        # ~x (-x - 1; 255 - x in a ByteTensor) reverses the order without -x's overflow (-(-128) is -128 in a
        # CharTensor: it sorted first), and keeps ties in order (a flipped ascending argsort put them last first)
        idx = backend.argsort_stable(~self._a, d)
    else:
        idx = backend.argsort_stable(-self._a if descending else self._a, d)
    return (_new_like(self, xp.take_along_axis(self._a, idx, d)),
            _new_like(self, idx, on_device(_LONG, self._info.cuda)))


def topk(self, k, dim=-1, dir=False, sorted=True):
    """Torch7's topk: the k SMALLEST along dim (default last) unless dir=True (then the largest, as PyTorch's
    default); returns (values, LongTensor of 0-based indices)."""
    d = self._dim(dim)
    n = self._a.shape[d]
    if not isinstance(k, numbers.Integral):
        raise TypeError(f"topk: k should be an integer, got {k!r:.20}")
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} out of range for dim {d} of size {n}")
    vals, idx = sort(self, d, bool(dir))
    if 0 < k and n > 1 and not self._info.cuda:     # (cutorch's radix select has rules of its own: not replayed)
        _th_topk_ties(self, k, d, bool(dir), vals._a, idx._a)
    return vals.narrow(d, 0, k).clone(), idx.narrow(d, 0, k).clone()


def _th_topk_ties(self, k, d, largest, vals, idx):
    """Where equal values (or NaNs) reach the first k of the sorted vals/idx (along d), put Torch7's choice there:
    the elements and order its quickselect then quicksort (ascending or descending) give, replayed on the host as
    for kthvalue (the stable sort gave the first of equal elements, Torch7 whichever its steps end on).  The order
    is the sorted one also for sorted=False, where Torch7 leaves its quickselect's order."""
    from .maths_select import th_quickselect, th_quicksort     # (maths_select imports this module)
    xp, n = _xp(self), self._a.shape[d]
    sv, si = xp.moveaxis(vals, d, -1), xp.moveaxis(idx, d, -1)   # views: written through
    head = sv[..., :k + 1]                 # the first k and the one after them
    odd = (head[..., :-1] == head[..., 1:]).any(-1)
    if self._info.dtype.kind == 'f':
        odd |= xp.isnan(sv).any(-1)
    host = backend.to_numpy(xp.moveaxis(self._a, d, -1))
    for r in map(tuple, np.argwhere(backend.to_numpy(xp.asarray(odd)))):     # (r is () for a vector)
        arr, ix = host[r].tolist(), list(range(n))
        if largest:             # quicksortdescend is quicksortascend of -x, step for step
            K = n - k
            if K > 0:
                th_quickselect(arr, ix, K - 1)
            top, topi = [-v for v in arr[K:]], ix[K:]
            th_quicksort(top, topi)
        else:                   # Torch7 sorts the k - 1 before the k-th smallest
            th_quickselect(arr, ix, k - 1)
            top, topi = arr[:k - 1], ix[:k - 1]
            th_quicksort(top, topi)
            topi = topi + ix[k - 1:k]
        topi = np.asarray(topi, np.int64)
        sv[r][:k] = backend.to_device(host[r][topi], self._info.cuda)
        si[r][:k] = backend.to_device(topi, self._info.cuda)


def all(self):
    return bool(self._a.all())


def any(self):
    return bool(self._a.any())


def trace(self):
    _check_mat(self, self, 2, 'trace')
    # TH adds in accreal: double for a FloatTensor too (numpy's trace of a float32 matrix added in float32)
    return self._a.trace(dtype=np.float64 if self._info.dtype.kind == 'f' else None).item()


def diag(self, k=0):
    """A new tensor: the k-th diagonal of a matrix, or a matrix with a vector on its k-th diagonal."""
    if self.dim() not in (1, 2):        # (numpy's own message, "Input must be 1- or 2-d.", named no function)
        raise ValueError(f"diag: expected a vector or a matrix, got a {self._info.name} of size {_sizestr(self.shape)}")
    d = _xp(self).diag(self._a, k)
    # a matrix's diagonal is numpy's read-only view of it, which _new_like keeps when it is contiguous (at most one
    # element): copied, as TH copies it
    return _new_like(self, d.copy() if self._a.ndim == 2 else d)


def equal(self, other):
    """True when other has the same size and the same values."""
    return self.shape == other.shape and bool((self._a == backend.to_device(other._a, self._info.cuda)).all())


# -- comparisons -> ByteTensor -----------------------------------------------------------------------------
def _compare(name, fn):
    def method(self, other):
        if _num(other):
            # TH's ltValue etc. take the number as `real`: LongTensor{1, 2}:eq(1.5) compares with 1
            o = _scalar_for(self, other) if math.isfinite(other) else other
        else:
            o = _operand(self, other, name)
        return _new_like(self, fn(self._a, o), on_device(_BYTE, self._info.cuda))
    method.__name__ = name
    method.__doc__ = f"A new ByteTensor: 1 where self {name} other (a tensor of the same element count, or a number)."
    return method


lt = _compare('lt', lambda a, b: a < b)
le = _compare('le', lambda a, b: a <= b)
gt = _compare('gt', lambda a, b: a > b)
ge = _compare('ge', lambda a, b: a >= b)
eq = _compare('eq', lambda a, b: a == b)
ne = _compare('ne', lambda a, b: a != b)


# -- masks and indices -------------------------------------------------------------------------------------
def _mask(self, mask, what):
    if not isinstance(mask, Tensor) or mask._info.dtype != np.uint8:
        raise TypeError(f"{what}: expected a ByteTensor mask, got "
                        f"{mask._info.name if isinstance(mask, Tensor) else type(mask).__name__}")
    a = _operand(self, mask, what)
    # TH: "Mask tensor can take 0 and 1 values only"; cutorch takes any nonzero (its kernels cannot raise), and a
    # check there would wait for the device
    if not self._info.cuda and a.size and int(a.max()) > 1:
        raise ValueError(f"{what}: the mask holds {int(a.max())}; a mask takes 0 and 1 values only")
    return a != 0


def _fill_value(self, value, what):
    """value as TH's `real` argument: a number (numpy would store None as NaN and '3' as 3.0), converted to an
    integer tensor's type as C does (-1 in a ByteTensor is 255, where numpy raises OverflowError)."""
    _want_number(self, value, what)
    return value if self._info.dtype.kind == 'f' else _scalar_for(self, value)


def maskedFill(self, mask, value):
    self._a[_mask(self, mask, 'maskedFill')] = _fill_value(self, value, 'maskedFill')
    return self


def maskedSelect(self, mask):
    """A new 1-D tensor of the elements where mask is 1, in row-major order."""
    return _new_like(self, self._a[_mask(self, mask, 'maskedSelect')])


def maskedCopy(self, mask, src):
    m = _mask(self, mask, 'maskedCopy')
    if not isinstance(src, Tensor):
        raise TypeError(f"maskedCopy: expected a source tensor, got {type(src).__name__}")
    n = int(m.sum())
    if src._a.size < n:
        raise ValueError(f"maskedCopy: the mask selects {n} elements, the source has only {src._a.size}")
    self._a[m] = backend.to_device(src._a.reshape(-1)[:n], self._info.cuda)     # (src on either device, as copy)
    return self


def _index(self, dim, index, what):
    d = self._dim(dim)
    if isinstance(index, Tensor):
        if index._info.dtype.kind not in 'iu':
            raise TypeError(f"{what}: expected a LongTensor of 0-based indices, got a {index._info.name}")
        ia = index._a.reshape(-1)
        if backend.is_cuda_array(ia) != self._info.cuda:
            ia = backend.to_device(ia, self._info.cuda)
    else:
        ia = index if backend.is_cuda_array(index) else np.asarray(index)
        if ia.size and ia.dtype.kind not in 'iu':      # (asarray(..., int64) truncated [0.7] to row 0)
            raise TypeError(f"{what}: expected a LongTensor or ints (0-based indices), got {index!r:.40}")
        ia = _xp(self).asarray(ia, dtype=np.int64).reshape(-1)
    n = self._a.shape[d]
    if ia.size and (int(ia.min()) < 0 or int(ia.max()) >= n):
        raise IndexError(f"{what}: index out of range for dim {d} of size {n} "
                         f"(got indices from {int(ia.min())} to {int(ia.max())}; they are 0-based)")
    return d, ia


def index(self, dim, index):
    """A new tensor of the slices at 0-based ``index`` (LongTensor) along dim."""
    d, ia = _index(self, dim, index, 'index')
    return _new_like(self, _xp(self).take(self._a, ia, axis=d))


indexSelect = index


def _index_src(self, d, ia, src, what):
    """src's array shaped as the slices ``index`` picks along d (self's size with dim d of len(index)): Torch7
    wants src.size(d) == #index, with as many elements per slice as self's."""
    if not isinstance(src, Tensor):
        raise TypeError(f"{what}: expected a source tensor, got {type(src).__name__}")
    shape = self._a.shape[:d] + (int(ia.size),) + self._a.shape[d + 1:]
    a = src._a
    if a.shape != shape:
        if a.size != int(np.prod(shape)):
            raise ValueError(f"{what}: the source has size {_sizestr(a.shape if a.size else ())}, expected "
                             f"{_sizestr(shape)} ({ia.size} indices along dim {d} of the {self._info.name} of "
                             f"size {_sizestr(self.shape)})")
        a = a.reshape(shape)
    return backend.to_device(a, self._info.cuda)     # (src on either device, as copy's)


def indexCopy(self, dim, index, src):
    d, ia = _index(self, dim, index, 'indexCopy')
    sl = (slice(None),) * d + (ia,)
    self._a[sl] = _index_src(self, d, ia, src, 'indexCopy')
    return self


def indexFill(self, dim, index, value):
    d, ia = _index(self, dim, index, 'indexFill')
    self._a[(slice(None),) * d + (ia,)] = _fill_value(self, value, 'indexFill')
    return self


def indexAdd(self, dim, index, src):
    d, ia = _index(self, dim, index, 'indexAdd')
    xp = _xp(self)
    moved = xp.moveaxis(self._a, d, 0)
    vals = xp.moveaxis(_index_src(self, d, ia, src, 'indexAdd'), d, 0)
    kernels.scatter_add(moved, ia, vals)
    return self


def _gather_index(self, dim, index, what):
    d = self._dim(dim)
    if not isinstance(index, Tensor) or index._info.dtype.kind not in 'iu':
        raise TypeError(f"{what}: expected a LongTensor of 0-based indices")
    if index.dim() != self.dim():
        raise ValueError(f"{what}: index has {index.dim()} dims, the tensor has {self.dim()}")
    ia = index._a
    if ia.shape[:d] + ia.shape[d + 1:] != self._a.shape[:d] + self._a.shape[d + 1:]:
        raise ValueError(f"{what}: index has size {_sizestr(ia.shape)}, the {self._info.name} has size "
                         f"{_sizestr(self.shape)}; they must match outside dim {d}")
    if backend.is_cuda_array(ia) != self._info.cuda:     # (an index on either device, as _index's)
        ia = backend.to_device(ia, self._info.cuda)
    n = self._a.shape[d]
    if ia.size and (int(ia.min()) < 0 or int(ia.max()) >= n):
        raise IndexError(f"{what}: index out of range for dim {d} of size {n} (got indices from {int(ia.min())} "
                         f"to {int(ia.max())}; they are 0-based)")
    return d, ia


def gather(self, dim, index):
    """A new tensor: out[i][j] = self[index[i][j]][j] for dim 0, and so on (0-based indices)."""
    d, ia = _gather_index(self, dim, index, 'gather')
    return _new_like(self, _xp(self).take_along_axis(self._a, ia, d))


def scatter(self, dim, index, src):
    """In place: self[index[i][j]][j] = src[i][j] for dim 0 (src a tensor or a number)."""
    d, ia = _gather_index(self, dim, index, 'scatter')
    vals = backend.to_device(src._a, self._info.cuda) if isinstance(src, Tensor) else src
    if isinstance(src, Tensor) and (vals.ndim != ia.ndim or bool((np.array(vals.shape) < ia.shape).sum())):
        raise ValueError(f"scatter: the source has size {_sizestr(vals.shape if vals.size else ())}, expected at "
                         f"least the index's size {_sizestr(ia.shape)}")
    elif not isinstance(src, Tensor) and not _num(src):
        raise TypeError(f"scatter: expected a source tensor or a number, got {type(src).__name__}")
    elif not isinstance(src, Tensor):
        vals = _fill_value(self, src, 'scatter')
    backend.put_along_axis(self._a, ia, vals if _num(vals) else vals[tuple(slice(0, n) for n in ia.shape)], d)
    return self


def nonzero(self):
    """A LongTensor n x dim of the 0-based coordinates of the nonzero elements."""
    xp = _xp(self)
    return _new_like(self, xp.stack(xp.nonzero(self._a), axis=1), on_device(_LONG, self._info.cuda))


# -- random fills (Torch7's CPU stream, element by element in row-major order) -----------------------------
def _fill_from(self, values):
    self._a[...] = backend.to_device(values.reshape(self._a.shape), self._info.cuda)
    return self


def _random_fill(name, draw, real_args=True, into=None, into_if=None):
    """A fill method: ``draw(generator, n, *args)`` gives the n values, row-major.  ``into(generator, flat, *args)``,
    where given, writes them straight into a C-contiguous numpy tensor's flat view instead (no array of its size:
    Dropout, RReLU, ...), for the calls where ``into_if(self, args)`` holds."""
    code = draw.__code__                            # draw's parameters after (generator, n): for a clear arity error
    most = code.co_argcount - 2
    least = most - len(draw.__defaults__ or ())
    names = code.co_varnames[2:2 + most]
    expected = ', '.join(['[gen]'] + [v if i < least else f'[{v}]' for i, v in enumerate(names)])

    def method(self, *args):
        g, args = _random.split_generator(args)     # x:uniform(gen, a, b): Torch7's optional generator first
        if not least <= len(args) <= most:
            raise TypeError(f"{name}: expected ({expected}), got {len(args)} arguments")
        if real_args and args and self._info.dtype == np.float32:
            # Torch7 passes these parameters as `real`: a FloatTensor fill rounds them to float first
            args = tuple(float(np.float32(a)) for a in args)
        a = self._a
        if into is not None and type(a) is np.ndarray and a.flags.c_contiguous and into_if(self, args):
            into(g, a.reshape(-1), *args)
            return self
        return _fill_from(self, draw(g, a.size, *args))
    method.__name__ = name
    method.__doc__ = f"Fill self in place from the global Torch7 stream, or the Generator given first ({name})."
    return method


uniform = _random_fill('uniform', lambda g, n, a=0.0, b=1.0: g.uniform_array(n, a, b),
                       into=lambda g, out, a=0.0, b=1.0: g.uniform_into(out, a, b),
                       into_if=lambda self, args: self._info.dtype.kind == 'f')
bernoulli = _random_fill('bernoulli', lambda g, n, p=0.5: g.bernoulli_array(n, backend.to_numpy(p._a)
                                                                   if isinstance(p, Tensor) else p), real_args=False,
                         into=lambda g, out, p=0.5: g.bernoulli_into(out, p),
                         into_if=lambda self, args: not args or _num(args[0]))     # (not a tensor of p's)
normal = _random_fill('normal', lambda g, n, mean=0.0, std=1.0: g.normal_array(n, mean, std))
exponential = _random_fill('exponential', lambda g, n, lambd=1.0: g.exponential_array(n, lambd))
cauchy = _random_fill('cauchy', lambda g, n, median=0.0, sigma=1.0: g.cauchy_array(n, median, sigma))
logNormal = _random_fill('logNormal', lambda g, n, mean=1.0, std=2.0: g.logNormal_array(n, mean, std))
geometric = _random_fill('geometric', lambda g, n, p: g.geometric_array(n, p), real_args=False)


def random(self, *args):
    """random([gen]): integers over the type's range as Torch7; random(b): 1..b; random(a, b): a..b (Torch7's
    inclusive bounds)."""
    g, args = _random.split_generator(args)
    if len(args) > 2:
        raise TypeError(f"random: expected ([gen], [a], [b]), got {len(args)} arguments")
    return _fill_from(self, g.random_fill_array(self._a.size, self._info.name, *args))


# -- Python operators: new tensors, numpy broadcasting -----------------------------------------------------
def _binop(name, fn, reflected=False, result=None, number_if_0d=False):
    def method(self, other):
        a = self._a
        if isinstance(other, Tensor):
            o = other._a
            if type(o) is not type(a) and backend.is_cuda_array(o) != self._info.cuda:
                raise TypeError(f"{name}: a {self._info.name} and a {other._info.name} are on different devices")
        elif _num(other) or isinstance(other, np.ndarray) or backend.is_cuda_array(other):
            o = other
            if not _num(o) and backend.is_cuda_array(o) != self._info.cuda:   # CuPy would refuse it less clearly
                raise TypeError(f"{name}: a {self._info.name} and a {type(o).__module__}.{type(o).__name__} are "
                                f"on different devices")
            if type(o) is int and a.dtype.kind in 'iu' and not np.iinfo(a.dtype).min <= o <= np.iinfo(a.dtype).max:
                # numpy refuses a Python int outside the type's range (ByteTensor([1]) + -1: OverflowError); as a
                # wider numpy number it computes, and the result is cast to the type as the others are
                o = np.int64(o) if -2 ** 63 <= o < 2 ** 63 else float(o)
        else:
            return NotImplemented
        try:
            r = fn(o, a) if reflected else fn(a, o)
        except ValueError as e:
            if not (isinstance(other, Tensor) and o.size == a.size):
                raise ValueError(f"{name}: cannot broadcast {self._info.name} of size {_sizestr(self.shape)} with "
                                 f"size {_sizestr(getattr(o, 'shape', ()))}: {e}") from None
            # Torch7's rule for tensors that do not broadcast: equal element counts combine element by element
            # in row-major order (a 2x2 plus a 4-vector), with the shape of the tensor on the left
            o = o.reshape(a.shape)
            r = fn(o, a) if reflected else fn(a, o)
        info = self._info if result is None else on_device(result, self._info.cuda)
        if r.ndim == 0:
            if number_if_0d:          # vector @ vector is a number, as dot()
                return r.item()
            r = info.xp.asarray(r).reshape(1)
        if r.dtype != info.dtype:
            r = r.astype(info.dtype)
        return info.tensor_class._from_array(r)
    method.__name__ = name
    return method


def _op_div(a, b):
    """``a / b`` for the / operator: true division for floating a; C's truncating division for integer a."""
    if a.dtype.kind == 'f':
        return a / b
    xp = backend.array_module(a)
    if isinstance(b, (int, np.integer)) or (hasattr(b, 'dtype') and b.dtype.kind in 'iub'):
        out = xp.empty(np.broadcast_shapes(a.shape, getattr(b, 'shape', ())), a.dtype)
        _int_div_into(xp, a, b, out)
        return out
    return xp.trunc(a / b)


Tensor.__add__ = _binop('__add__', lambda a, b: a + b)
Tensor.__radd__ = _binop('__radd__', lambda a, b: a + b, True)
Tensor.__sub__ = _binop('__sub__', lambda a, b: a - b)
Tensor.__rsub__ = _binop('__rsub__', lambda a, b: a - b, True)
Tensor.__mul__ = _binop('__mul__', lambda a, b: a * b)
Tensor.__rmul__ = _binop('__rmul__', lambda a, b: a * b, True)
Tensor.__truediv__ = _binop('__truediv__', _op_div)
def _op_rdiv(o, a):
    """``o / a`` for the reflected / operator (``7 / x``): an integer tensor with a zero raises, as ``x / 0`` does
    (numpy would give inf, converted to a garbage integer)."""
    _no_int_zero('/', a, a)
    return o / a


Tensor.__rtruediv__ = _binop('__rtruediv__', _op_rdiv, True)
Tensor.__pow__ = _binop('__pow__', lambda a, b: a ** b)
Tensor.__rpow__ = _binop('__rpow__', lambda a, b: a ** b, True)
Tensor.__matmul__ = _binop('__matmul__', lambda a, b: a @ b, number_if_0d=True)
Tensor.__rmatmul__ = _binop('__rmatmul__', lambda a, b: a @ b, True, number_if_0d=True)
Tensor.__lt__ = _binop('__lt__', lambda a, b: a < b, result=_BYTE)
Tensor.__le__ = _binop('__le__', lambda a, b: a <= b, result=_BYTE)
Tensor.__gt__ = _binop('__gt__', lambda a, b: a > b, result=_BYTE)
Tensor.__ge__ = _binop('__ge__', lambda a, b: a >= b, result=_BYTE)
Tensor.__eq__ = _binop('__eq__', lambda a, b: a == b, result=_BYTE)
Tensor.__ne__ = _binop('__ne__', lambda a, b: a != b, result=_BYTE)
Tensor.__neg__ = lambda self: _new_like(self, -self._a)
Tensor.__abs__ = lambda self: _new_like(self, abs(self._a))


def _iop(method_name):
    def method(self, other):
        getattr(self, method_name)(other)
        return self
    return method


Tensor.__iadd__ = _iop('add')
Tensor.__isub__ = _iop('csub')
Tensor.__imul__ = lambda self, o: mul(self, o) if _num(o) else cmul(self, o)
Tensor.__itruediv__ = lambda self, o: div(self, o) if _num(o) else cdiv(self, o)


# -- attach ------------------------------------------------------------------------------------------------
_METHODS = dict(
    add=add, csub=csub, sub_=csub, mul=mul, div=div, cmul=cmul, cdiv=cdiv, cpow=cpow, cmax=cmax, cmin=cmin,
    cfmod=cfmod, cremainder=cremainder, fmod=fmod, remainder=remainder, addcmul=addcmul, addcdiv=addcdiv,
    pow=pow, clamp=clamp, clip=clip, fill=fill, zero=zero, copy=copy,
    addmm=addmm, addmv=addmv, addr=addr, baddbmm=baddbmm, addbmm=addbmm, mm=mm, mv=mv, bmm=bmm, ger=ger, dot=dot,
    sum=sum, prod=prod, mean=mean, std=std, var=var, max=max, min=min, norm=norm, dist=dist,
    cumsum=cumsum, cumprod=cumprod, sort=sort, topk=topk, all=all, any=any, trace=trace, diag=diag, equal=equal,
    lt=lt, le=le, gt=gt, ge=ge, eq=eq, ne=ne,
    maskedFill=maskedFill, maskedSelect=maskedSelect, maskedCopy=maskedCopy, index=index,
    indexSelect=indexSelect, indexCopy=indexCopy, indexFill=indexFill, indexAdd=indexAdd, gather=gather,
    scatter=scatter, nonzero=nonzero,
    uniform=uniform, normal=normal, bernoulli=bernoulli, exponential=exponential, cauchy=cauchy,
    logNormal=logNormal, geometric=geometric, random=random,
)
for _name, _fn in _UNARY.items():
    _METHODS[_name] = _unary(_name, _fn)

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)

# PyTorch-style in-place aliases (add_, mul_, ...): the same in-place methods under PyTorch's names
for _name in ('add', 'mul', 'div', 'fill', 'zero', 'copy', 'clamp', 'pow', 'addmm', 'addmv', 'addr', 'addcmul',
              'addcdiv', 'uniform', 'normal', 'bernoulli', 'exponential', 'cauchy', 'geometric', 'random',
              'maskedFill', 'indexCopy', 'indexFill', 'indexAdd', 'scatter') + tuple(_UNARY):
    setattr(Tensor, _name + '_', _METHODS[_name])
Tensor.sub_ = csub
Tensor.masked_fill_ = maskedFill
Tensor.index_select = indexSelect
Tensor.sub = Tensor.sub  # Torch7's sub(...) is the view (kept); subtraction is csub / sub_

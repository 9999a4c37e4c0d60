"""Torch7's bit operations, shifts, ``mod``/``cmod`` and the ``%`` operator, with C's integer semantics.

- ``bitand bitor bitxor`` (a number) and ``cbitand cbitor cbitxor`` (a tensor): integer tensors only, two's
  complement as C;
- ``lshift rshift clshift crshift``: integer tensors shift as C's ``(unsigned type) x << n``, so a right shift of
  a negative number is logical (IntTensor -8 >> 1 is 2147483644) and left shifts wrap; on Float/Double tensors they
  multiply/divide by 2^n (Torch7's rule);
- ``mod``/``cmod``: Torch7's deprecated aliases of ``fmod``/``cfmod`` (C's remainder: the sign of the dividend);
- ``x % v``: Torch7's ``__mod__``, the remainder with the sign of the divisor (``remainder``: x - v * floor(x / v)).
"""
import numpy as np

from . import backend
from .tensor import Tensor, _sizestr
from .tensor_math import _no_int_zero, _scalar_for, _num
from .maths_forms import receiver_form, operand, integer_only, number, xp_of

_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_TWIN = dict(bitand='cbitand', bitor='cbitor', bitxor='cbitxor', lshift='clshift', rshift='crshift', mod='cmod')


def _one_value(name, rest):
    """The single number of a value form (``torch.bitand([res,] x, value)``)."""
    if len(rest) != 1:
        hint = f" (for a tensor of values: torch.{_TWIN[name]})" if not rest else ''
        raise TypeError(f"torch.{name}: expected ([res,] x, value), got {len(rest)} values{hint}")
    return rest[0]


def _value(name, t, v):
    """A number converted to t's element type as C converts it (Torch7 passes these as ``real``)."""
    number(name, v, 'the value')
    if t._info.dtype.kind == 'f':
        return float(v)
    return _scalar_for(t, v)


def _bitwise(op):
    def value_form(name, ins, rest):
        t, = ins
        integer_only(name, t)
        return getattr(xp_of(t), op)(t._a, _value(name, t, _one_value(name, rest))), t._info

    def tensor_form(name, ins, rest):
        t, src = ins
        integer_only(name, t)
        if rest:
            raise TypeError(f"torch.{name}: expected ([res,] x, y), got extra arguments {rest!r}")
        return getattr(xp_of(t), op)(t._a, operand(name, t, src)), t._info
    return value_form, tensor_form


def _shift_ints(xp, a, n, left):
    """C's ``(unsigned type) a << n`` (or >>) stored back into a's type; counts outside 0..bits-1 give 0 here
    (C leaves them undefined)."""
    u = _UNSIGNED[a.dtype.itemsize]
    ua = a.view(u) if a.dtype != u else a
    un = n.astype(u) if hasattr(n, 'astype') else u(n % (1 << (8 * a.dtype.itemsize)))
    r = (xp.left_shift if left else xp.right_shift)(ua, un)
    return r.view(a.dtype) if a.dtype != u else r


def _pow2(t, n):
    """2^n as Torch7 computes it: powf for FloatTensor, pow for DoubleTensor."""
    dt = t._info.dtype
    if hasattr(n, 'astype'):
        return xp_of(t).power(dt.type(2), n.astype(dt))
    return dt.type(2) ** dt.type(n)


def _shifted(t, n, left):
    """t shifted by n (a number or an array): C's shift on integer types, * or / 2^n on Float/Double (Torch7)."""
    if t._info.dtype.kind == 'f':
        p = _pow2(t, n)
        return t._a * p if left else t._a / p
    return _shift_ints(xp_of(t), t._a, n, left)


def _shift(left):
    def value_form(name, ins, rest):
        t, = ins
        return _shifted(t, _value(name, t, _one_value(name, rest)), left), t._info

    def tensor_form(name, ins, rest):
        t, src = ins
        if rest:
            raise TypeError(f"torch.{name}: expected ([res,] x, y), got extra arguments {rest!r}")
        return _shifted(t, operand(name, t, src), left), t._info
    return value_form, tensor_form


def _mod_value(name, ins, rest):
    t, = ins
    v = _value(name, t, _one_value(name, rest))
    _no_int_zero(f"torch.{name}", t._a, v)
    return xp_of(t).fmod(t._a, v), t._info


def _mod_tensor(name, ins, rest):
    t, src = ins
    if rest:
        raise TypeError(f"torch.{name}: expected ([res,] x, y), got extra arguments {rest!r}")
    v = operand(name, t, src)
    _no_int_zero(f"torch.{name}", t._a, v)
    return xp_of(t).fmod(t._a, v), t._info


_VALUE_USAGE = '([res,] x, value)'
_TENSOR_USAGE = '([res,] x, y)'
FUNCTIONS, METHODS = {}, {}
for _op, _names in (('bitwise_and', ('bitand', 'cbitand')), ('bitwise_or', ('bitor', 'cbitor')),
                    ('bitwise_xor', ('bitxor', 'cbitxor'))):
    for _name, _compute, _n, _usage in zip(_names, _bitwise(_op), (1, 2), (_VALUE_USAGE, _TENSOR_USAGE)):
        FUNCTIONS[_name], METHODS[_name] = receiver_form(_name, _compute, _n, _usage)
for _left, _names in ((True, ('lshift', 'clshift')), (False, ('rshift', 'crshift'))):
    for _name, _compute, _n, _usage in zip(_names, _shift(_left), (1, 2), (_VALUE_USAGE, _TENSOR_USAGE)):
        FUNCTIONS[_name], METHODS[_name] = receiver_form(_name, _compute, _n, _usage)
FUNCTIONS['mod'], METHODS['mod'] = receiver_form('mod', _mod_value, 1, _VALUE_USAGE)
FUNCTIONS['cmod'], METHODS['cmod'] = receiver_form('cmod', _mod_tensor, 2, _TENSOR_USAGE)


# -- the % operator ----------------------------------------------------------------------------------------------
def _remainder(xp, a, v):
    """Torch7's remainder: integers as C's ``r = a % v; if (r * v < 0) r += v`` (the sign of v); floating types
    a - v * floor(a / v) with floor and the product in double (C promotes them), NaN where v is 0."""
    if a.dtype.kind in 'iu':
        _no_int_zero('%', a, v)
        return xp.remainder(a, v)
    with np.errstate(divide='ignore', invalid='ignore'):      # v = 0: NaN, as Torch7 (no warning)
        q = xp.floor(a / v).astype(np.float64)
        v64 = float(a.dtype.type(v)) if _num(v) else v.astype(np.float64)
        r = (a.astype(np.float64) - v64 * q).astype(a.dtype)
    if _num(v):
        if v == 0:
            r[...] = np.nan
    else:
        r[xp.broadcast_to(v == 0, r.shape)] = np.nan
    return r


def _mod_operand(self, other, what):
    if isinstance(other, Tensor):
        o = other._a
        if backend.is_cuda_array(o) != self._info.cuda:
            raise TypeError(f"{what}: a {self._info.name} and a {other._info.name} are on different devices")
        return o.astype(self._info.dtype, copy=False)
    if _num(other):
        return _scalar_for(self, other) if self._info.dtype.kind in 'iu' else float(other)
    return None


def _op_mod(self, other):
    """x % v: a new tensor, Torch7's remainder (v a number, or a tensor broadcast as numpy does)."""
    o = _mod_operand(self, other, '%')
    if o is None:
        return NotImplemented
    a = self._a
    if not _num(o):
        try:
            shape = np.broadcast_shapes(a.shape, o.shape)
        except ValueError:
            raise ValueError(f"%: cannot broadcast {self._info.name} of size {_sizestr(self.shape)} with size "
                             f"{_sizestr(o.shape)}") from None
        a, o = xp_of(self).broadcast_to(a, shape), xp_of(self).broadcast_to(o, shape)
    r = _remainder(xp_of(self), a, o)
    return self._info.tensor_class._from_array(xp_of(self).ascontiguousarray(r))


def _op_rmod(self, other):
    """v % x for a number v: a new tensor, v - x * floor(v / x) elementwise."""
    if not _num(other):
        return NotImplemented
    xp = xp_of(self)
    v = _scalar_for(self, other) if self._info.dtype.kind in 'iu' else float(other)
    full = xp.full(self._a.shape, v, dtype=self._info.dtype)
    return self._info.tensor_class._from_array(_remainder(xp, full, self._a))


def _op_imod(self, other):
    """x %= v: in place."""
    r = _op_mod(self, other)
    if r is NotImplemented:
        return r
    if r._a.shape != self._a.shape:
        raise ValueError(f"%=: the result has size {_sizestr(r.shape)}, the {self._info.name} has size "
                         f"{_sizestr(self.shape)}")
    self._a[...] = r._a
    return self


Tensor.__mod__ = _op_mod
Tensor.__rmod__ = _op_rmod
Tensor.__imod__ = _op_imod

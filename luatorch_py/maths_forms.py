"""Torch7's calling forms for the maths functions of maths_extra/maths_select/maths_conv/maths_bits.

Torch7's wrapper gives each function two shapes, and these helpers parse both:
- ``torch.f([res...,] x..., options...)`` with ``f(x...)`` returning new tensors; the method ``x.f(...)`` is the same
  call with x first (median, cross, tril, conv2, ...);
- ``torch.f([res,] x..., values...)`` where the method's receiver is the result: ``x.f(values)`` in place,
  ``res.f(x..., values)`` into res (lshift, bitand, renorm, lerp, atan2, ...).
"""
import numpy as np

from .tensor import Tensor, _sizestr
from .tensor_math import _xp as xp_of, _new_like
from .types import TYPES, on_device

LONG = TYPES['torch.LongTensor']


def lead_tensors(args):
    """How many of ``args`` are tensors before the first non-tensor."""
    k = 0
    while k < len(args) and isinstance(args[k], Tensor):
        k += 1
    return k


def split(name, args, n_res, n_in, usage):
    """(results, inputs, rest) from ``args`` = [res...,] inputs..., rest...; results are Nones when not given.
    The inputs must be tensors of one type."""
    k = lead_tensors(args)
    if k == n_in:
        res = [None] * n_res
    elif k == n_in + n_res:
        res, args = list(args[:n_res]), args[n_res:]
    elif n_in < k < n_in + n_res:      # Torch7's later results default: torch.median(vals, x) gives new indices
        res, args = partial_results(args, k - n_in, n_res, n_in), args[k - n_in:]
    else:
        raise TypeError(f"torch.{name}: expected {usage}, got {k} tensor{'s' * (k != 1)} first "
                        f"in ({', '.join(_argstr(a) for a in args)})")
    ins, rest = list(args[:n_in]), list(args[n_in:])
    same_type(name, ins)
    return res, ins, rest


def partial_results(args, given, n_res, n_in):
    """The result list when only ``given`` of ``n_res`` result tensors lead ``args``.  For (values, indices) with one
    given, a LongTensor ahead of an input of another type is the indices (Torch7's wrapper matches it to the
    IndexTensor argument: torch.max(idx, x, 1)); otherwise the results given are the first ones."""
    res = list(args[:given]) + [None] * (n_res - given)
    if n_res == 2 and given == 1 and args[0]._info is long_info(args[0]) and args[1]._info is not args[0]._info:
        res = [None, args[0]]
    return res


def _argstr(a):
    return a._info.name if isinstance(a, Tensor) else repr(a)


def same_type(name, tensors):
    t0 = tensors[0]
    for t in tensors[1:]:
        if t._info is not t0._info:
            raise TypeError(f"torch.{name}: expected tensors of one type, got a {t0._info.name} and a {t._info.name}")


def floating_only(name, t):
    if t._info.dtype.kind != 'f':
        raise TypeError(f"torch.{name}: defined for Float and Double tensors only (as in Torch7), got a "
                        f"{t._info.name}")


def integer_only(name, t):
    if t._info.dtype.kind not in 'iu':
        raise TypeError(f"torch.{name}: only supported for integer type tensors (Byte, Char, Short, Int, Long; as "
                        f"in Torch7), got a {t._info.name}")


def number(name, v, what):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"torch.{name}: expected a number for {what}, got {_argstr(v)}")
    return v


def dim_arg(name, t, d, what='dim'):
    """A 0-based (or negative) dim of t, checked."""
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"torch.{name}: expected an int for {what} (0-based), got {_argstr(d)}")
    n = t.dim()
    if not -n <= d < n:
        raise IndexError(f"torch.{name}: {what} {d} out of range for a {t._info.name} of size {_sizestr(t.shape)} "
                         f"(dims are 0-based)")
    return int(d) % n


def operand(name, t, src):
    """src's array shaped like t's (Torch7: the same number of elements; the sizes may differ)."""
    if not isinstance(src, Tensor):
        raise TypeError(f"torch.{name}: expected a tensor, got {_argstr(src)}")
    same_type(name, [t, src])
    a = src._a
    if a.shape != t._a.shape:
        if a.size != t._a.size:
            raise ValueError(f"torch.{name}: the tensors should have the same number of elements, got sizes "
                             f"{_sizestr(t.shape)} and {_sizestr(src.shape)}")
        a = a.reshape(t._a.shape)
    return a


def put(name, res, arr, info):
    """``arr`` (an array on info's device) into ``res`` (resized, Torch7's result form), or a new tensor of
    type ``info`` when res is None."""
    if res is None:
        return _new_like(None, arr, info)
    if res._info is not info:
        raise TypeError(f"torch.{name}: the result tensor should be a {info.name}, got a {res._info.name}")
    res.resize(arr.shape if arr.size else (0,))
    if arr.size:
        res._a[...] = arr
    return res


def long_info(t):
    """The index type on t's device (LongTensor or CudaLongTensor)."""
    return on_device(LONG, t._info.cuda)


def same_as_function(fn):
    """The method ``x.f(...)`` = ``torch.f(x, ...)`` (Torch7's wrapper, for functions without a method form)."""
    def method(self, *args):
        return fn(self, *args)
    method.__name__ = fn.__name__
    method.__doc__ = f"x.{fn.__name__}(...) = torch.{fn.__name__}(x, ...)."
    return method


def receiver_form(name, compute, n_in, usage):
    """torch.<name>([res,] x..., values...) and the method whose receiver is the result: ``x.<name>(values)``
    in place, ``res.<name>(x..., values)`` into res.  ``compute(name, inputs, values)`` returns (array, info)."""
    def function(*args):
        res, ins, rest = split(name, args, 1, n_in, usage)
        arr, info = compute(name, ins, rest)
        return put(name, res[0], arr, info)

    def method(self, *args):
        k = lead_tensors(args)
        if k == n_in - 1:
            args = (self,) + args
        elif k != n_in:
            raise TypeError(f"x.{name}: expected {n_in - 1} tensor argument{'s' * (n_in != 2)} (in place on x) or "
                            f"{n_in} (the result into x) before the values, got {k}; usage torch.{name}{usage}")
        return function(self, *args)
    function.__name__ = method.__name__ = name
    function.__doc__ = f"torch.{name}{usage}: a new tensor, or res."
    method.__doc__ = f"x.{name}(...) in place, or res.{name}(x, ...): res = torch.{name}(x, ...)."
    return function, method

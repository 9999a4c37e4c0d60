"""The rest of Torch7's maths.md: cross, tril, triu, reshape, histc, bhistc, atan2, lerp, renorm, numel, and (from
maths_select, maths_conv, maths_bits) median, mode, kthvalue, conv2, xcorr2, conv3, xcorr3, the bit operations,
shifts, mod/cmod and ``%``.

Each is ``torch.f(...)`` in Torch7's forms, result tensors first where Torch7 has them, and a Tensor method.  Dims
and returned indices are 0-based; everything else (defaults, types, C's integer rules) is Torch7's.  Written once
against the tensor's array module (numpy or CuPy).
"""
import math

import numpy as np

from .tensor import Tensor, _sizestr, _parse_sizes
from .maths_forms import (split, put, receiver_form, same_as_function, floating_only, number, dim_arg, operand,
                          xp_of)
from . import maths_bits, maths_conv, maths_select


# -- cross, tril, triu, reshape ----------------------------------------------------------------------------------
def cross(*args):
    """torch.cross([res,] a, b [, dim]): the cross product along dim, by default the first dim of size 3."""
    usage = '([res,] a, b [, dim])'
    res, (a, b), rest = split('cross', args, 1, 2, usage)
    if len(rest) > 1:
        raise TypeError(f"torch.cross: expected {usage}, got {len(rest)} numbers after the tensors")
    if a.shape != b.shape:
        raise ValueError(f"torch.cross: inconsistent tensor sizes {_sizestr(a.shape)} and {_sizestr(b.shape)}")
    if rest:
        d = dim_arg('cross', a, rest[0])
        if a._a.shape[d] != 3:
            raise ValueError(f"torch.cross: dim {d} of size {_sizestr(a.shape)} does not have size 3")
    else:
        d = next((i for i, n in enumerate(a.shape) if n == 3), None)
        if d is None:
            raise ValueError(f"torch.cross: no dimension of size 3 in a tensor of size {_sizestr(a.shape)}")
    xp = xp_of(a)
    u, v = xp.moveaxis(a._a, d, 0), xp.moveaxis(b._a, d, 0)
    r = xp.stack([u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]])
    return put('cross', res[0], xp.moveaxis(r, 0, d), a._info)


def _triangle(name, upper):
    usage = '([res,] x [, k])'

    def fn(*args):
        res, (t,), rest = split(name, args, 1, 1, usage)
        if len(rest) > 1:
            raise TypeError(f"torch.{name}: expected {usage}, got {len(rest)} numbers after the tensor")
        k = number(name, rest[0], 'k') if rest else 0
        if int(k) != k:
            raise TypeError(f"torch.{name}: k should be an integer, got {k!r}")
        if t.dim() != 2:
            raise ValueError(f"torch.{name}: expected a matrix, got a {t._info.name} of size {_sizestr(t.shape)}")
        xp = xp_of(t)
        return put(name, res[0], (xp.triu if upper else xp.tril)(t._a, int(k)), t._info)
    fn.__name__ = name
    fn.__doc__ = (f"torch.{name}{usage}: the {'upper' if upper else 'lower'} triangle of matrix x, on and "
                  f"{'above' if upper else 'below'} the k-th diagonal (k > 0 above the main one); zeros elsewhere.")
    return fn


tril = _triangle('tril', False)
triu = _triangle('triu', True)


def reshape(*args):
    """torch.reshape([res,] x, m [, n...]): a copy of x's elements, row by row, in a new m x n x ... tensor (sizes
    as ints, a tuple or a LongStorage; the element counts must agree)."""
    usage = '([res,] x, m [, n...])'
    res, (t,), rest = split('reshape', args, 1, 1, usage)
    sizes = _parse_sizes(tuple(rest), 'torch.reshape')
    if not sizes or any(n < 0 for n in sizes):
        raise ValueError(f"torch.reshape: expected sizes >= 0, got {sizes!r} (Torch7 has no -1 here)")
    if math.prod(sizes) != t.nElement():
        raise ValueError(f"torch.reshape: a {t._info.name} of size {_sizestr(t.shape)} ({t.nElement()} elements) "
                         f"cannot fill size {_sizestr(sizes)} ({math.prod(sizes)} elements)")
    return put('reshape', res[0], t._a.copy(order='C').reshape(sizes), t._info)    # (a copy, as TH's reshape)


# -- histograms --------------------------------------------------------------------------------------------------
def _hist_args(name, t, rest, usage):
    floating_only(name, t)
    if len(rest) > 3:
        raise TypeError(f"torch.{name}: expected {usage}, got {len(rest)} numbers after the tensor")
    nbins, lo, hi = list(rest) + [100, 0, 0][len(rest):]
    nbins = number(name, nbins, 'nbins')
    if int(nbins) != nbins or nbins < 1:
        raise ValueError(f"torch.{name}: nbins should be a positive integer, got {nbins!r}")
    dt = t._info.dtype.type
    lo, hi = dt(number(name, lo, 'min')), dt(number(name, hi, 'max'))     # Torch7 passes them as `real`
    if lo == hi:
        if t.nElement() == 0:
            raise ValueError(f"torch.{name}: the {t._info.name} is empty (give min and max)")
        lo, hi = t._a.min(), t._a.max()
        lo, hi = dt(lo.item()), dt(hi.item())
    if lo == hi:
        lo, hi = lo - dt(1), hi + dt(1)
    return int(nbins), lo, hi


def _bins(xp, a, nbins, lo, hi):
    """Torch7's bin of each element in [lo, hi]: (int)((x - lo) / (hi - lo) * nbins), the last bin closed; -1
    outside the range."""
    inside = (a >= lo) & (a <= hi)
    b = ((a - lo) / (hi - lo) * a.dtype.type(nbins)).astype(np.int64)
    return xp.where(inside, xp.minimum(b, nbins - 1), -1)


def histc(*args):
    """torch.histc([res,] x [, nbins [, min, max]]): a histogram of x's elements in nbins (100) equal bins over
    [min, max] (by default x's own range); Float/Double tensors."""
    usage = '([res,] x [, nbins, min, max])'
    res, (t,), rest = split('histc', args, 1, 1, usage)
    nbins, lo, hi = _hist_args('histc', t, rest, usage)
    xp = xp_of(t)
    b = _bins(xp, t._a.reshape(-1), nbins, lo, hi)
    h = xp.bincount(b[b >= 0], minlength=nbins)
    return put('histc', res[0], h, t._info)


def bhistc(*args):
    """torch.bhistc([res,] x [, nbins [, min, max]]): histc of each row of the 2-D x (min and max by default
    those of the whole x): rows x nbins."""
    usage = '([res,] x [, nbins, min, max])'
    res, (t,), rest = split('bhistc', args, 1, 1, usage)
    if t.dim() != 2:
        raise ValueError(f"torch.bhistc: the input must be a 2-D tensor, got size {_sizestr(t.shape)}")
    nbins, lo, hi = _hist_args('bhistc', t, rest, usage)
    xp = xp_of(t)
    rows = t._a.shape[0]
    b = _bins(xp, t._a, nbins, lo, hi)
    flat = (b + xp.arange(rows).reshape(-1, 1) * nbins)[b >= 0]
    h = xp.bincount(flat, minlength=rows * nbins).reshape(rows, nbins)
    return put('bhistc', res[0], h, t._info)


# -- atan2, lerp, renorm: the receiver is the result -------------------------------------------------------------
def _atan2(name, ins, rest):
    x, y = ins
    floating_only(name, x)
    if rest:
        raise TypeError(f"torch.atan2: expected ([res,] x, y), got extra arguments {rest!r}")
    return xp_of(x).arctan2(x._a, operand(name, x, y)), x._info


def _lerp(name, ins, rest):
    a, b = ins
    floating_only(name, a)
    if len(rest) != 1:
        raise TypeError(f"torch.lerp: expected ([res,] a, b, weight), got {len(rest)} numbers after the tensors")
    w = a._info.dtype.type(number(name, rest[0], 'weight'))
    ba = operand(name, a, b)
    return a._a + w * (ba - a._a), a._info


def _renorm(name, t_in, rest):
    t, = t_in
    floating_only(name, t)
    if len(rest) != 3:
        raise TypeError(f"torch.renorm: expected ([res,] x, p, dim, maxnorm), got {len(rest)} numbers")
    p, d, maxnorm = rest
    dt = t._info.dtype.type
    p, maxnorm = dt(number(name, p, 'p')), dt(number(name, maxnorm, 'maxnorm'))
    if t.dim() < 2:
        raise ValueError(f"torch.renorm: need at least 2 dimensions, got size {_sizestr(t.shape)}")
    d = dim_arg(name, t, d)
    if not p > 0:
        raise ValueError(f"torch.renorm: p should be > 0, got {p} (non-positive norms are not supported)")
    xp = xp_of(t)
    rows = xp.moveaxis(t._a, d, 0).reshape(t._a.shape[d], -1)
    if p == 1:
        norms = xp.abs(rows).sum(1)
    elif p == 2:
        norms = (rows * rows).sum(1)
    else:
        norms = (xp.abs(rows) ** p).sum(1)
    # Torch7: the p-th root with C's pow (double) to the power 1/value, computed in real (float32 for a Float
    # tensor: 1/3 as 0.33333334), the factor maxnorm / (norm + 1e-7) in double, both stored as real
    norms = (norms.astype(np.float64) ** float(dt(1) / p)).astype(t._info.dtype)
    factor = xp.where(norms > maxnorm, (float(maxnorm) / (norms.astype(np.float64) + 1e-7)).astype(t._info.dtype),
                      dt(1))
    out = rows * factor.reshape(-1, 1)
    shape = (t._a.shape[d],) + tuple(n for i, n in enumerate(t._a.shape) if i != d)
    return xp.moveaxis(out.reshape(shape), 0, d), t._info


_atan2_fn, _atan2_method = receiver_form('atan2', _atan2, 2, '([res,] x, y)')
_lerp_fn, _lerp_method = receiver_form('lerp', _lerp, 2, '([res,] a, b, weight)')
renorm, _renorm_method = receiver_form('renorm', _renorm, 1, '([res,] x, p, dim, maxnorm)')
renorm.__doc__ = ("torch.renorm([res,] x, p, dim, maxnorm): each slice x.select(dim, i) whose p-norm exceeds "
                  "maxnorm scaled down to it (by maxnorm / (norm + 1e-7)); x.renorm(p, dim, maxnorm) in place.")


def _numbers(args):
    return args and all(isinstance(a, (int, float, np.integer, np.floating)) and not isinstance(a, bool)
                        for a in args)


def atan2(*args):
    """torch.atan2([res,] x, y): C's atan2(x, y) elementwise (the angle of the point (y, x)); for two numbers,
    math.atan2(a, b)."""
    if len(args) == 2 and _numbers(args):
        return math.atan2(*args)
    return _atan2_fn(*args)



def lerp(*args):
    """torch.lerp([res,] a, b, weight): a + weight * (b - a); of three numbers, a number."""
    if len(args) == 3 and _numbers(args):
        a, b, w = args
        return a + w * (b - a)
    return _lerp_fn(*args)


def numel(x):
    """torch.numel(x): the number of elements of x."""
    if not isinstance(x, Tensor):
        raise TypeError(f"torch.numel: expected a tensor, got {type(x).__name__}")
    return x.nElement()


# -- export and attach -------------------------------------------------------------------------------------------
FUNCTIONS = dict(cross=cross, tril=tril, triu=triu, reshape=reshape, histc=histc, bhistc=bhistc, atan2=atan2,
                 lerp=lerp, renorm=renorm, numel=numel)
METHODS = {name: same_as_function(FUNCTIONS[name]) for name in ('cross', 'tril', 'triu', 'reshape', 'histc', 'bhistc')}
METHODS.update(atan2=_atan2_method, lerp=_lerp_method, renorm=_renorm_method)
for _mod in (maths_select, maths_conv, maths_bits):
    FUNCTIONS.update(_mod.FUNCTIONS)
    METHODS.update(_mod.METHODS)
for _name, _fn in METHODS.items():
    setattr(Tensor, _name, _fn)
globals().update(FUNCTIONS)
__all__ = sorted(FUNCTIONS)

"""Torch7's conv2, xcorr2, conv3, xcorr3: 2-D and 3-D convolution and cross-correlation, valid ('V', the default)
or full ('F'), of any tensor type (integer types wrap as C).

With d = 2 or 3 spatial dims, the forms Torch7 documents:
- x and k d-D: one image, one kernel, a d-D result;
- x (p x image) and k (p x kernel), (d+1)-D both: each plane with its own kernel, a (d+1)-D result of p planes;
- x (p x image) (d+1)-D, k (q x p x kernel) (d+2)-D: every output plane sums all input planes, each with its kernel
  (a matrix-vector product of k and x); a (d+1)-D result of q planes.
"""
import itertools

import numpy as np

from .tensor import _sizestr
from .maths_forms import split, put, xp_of, same_as_function


def fma(xp, a, b, c):
    """a * b + c rounded once (C's fma) for float arrays: Dekker's exact product and Knuth's exact sum, with the last
    small sum rounded to odd (Boldo and Melquiond's emulation).  numpy has no fma, and Torch7's vector adds use one."""
    dt = xp.result_type(a, b, c)
    a, b, c = (xp.asarray(v, dtype=dt) if not hasattr(v, 'dtype') or v.dtype != dt else v for v in (a, b, c))
    veltkamp = dt.type(4097.0 if dt == np.float32 else 134217729.0)     # 2^ceil(p/2) + 1 (splits v in halves)
    p = a * b

    def halves(v):
        t = veltkamp * v
        hi = t - (t - v)
        return hi, v - hi
    ah, al = halves(a)
    bh, bl = halves(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl     # p + e = a * b exactly

    def two_sum(x, y):
        s_ = x + y
        yy = s_ - x
        return s_, (x - (s_ - yy)) + (y - yy)
    th, tl = two_sum(c, p)
    v, err = two_sum(tl, e)
    ints = v.view(np.int32 if dt == np.float32 else np.int64)
    even = (ints & 1) == 0
    away = xp.nextafter(v, xp.where(err > 0, dt.type(np.inf), dt.type(-np.inf)))
    v = xp.where((err != 0) & even, away, v)              # round to odd
    return th + v


def _window(xa, off, osz):
    return xa[(Ellipsis,) + tuple(slice(o, o + n) for o, n in zip(off, osz))]


def _th_correlate(xp, xa, ka, nd, mv, full, flip):
    """THTensor_(conv2Dmul/cmul/mv) and the 3-D ones, step by step as TH adds, so the values are Lua's bit for bit:
    xa is p planes; ka p kernels (plane by plane) or q x p (every input plane into each output plane).  Valid 2-D
    with 4 or more output columns (and full 2-D with 4 or more input columns) adds each kernel tap's shifted image
    with THVector_(cadd), which Torch7's AVX2 build does as fused multiply-adds; fewer columns, and 3-D, add plain
    products (valid: a dot product per output, added at the end)."""
    ksz = ka.shape[-nd:]
    isz = xa.shape[1:]
    if not flip if full else flip:      # the kernel as TH reads it: turned around for conv 'V' and xcorr 'F'
        ka = ka[(Ellipsis,) + (slice(None, None, -1),) * nd]
    floating = xa.dtype.kind == 'f'
    if full:
        osz = tuple(s + k - 1 for s, k in zip(isz, ksz))
        sse = nd == 2 and isz[1] >= 4 and floating
        taps = list(itertools.product(*(range(k - 1, -1, -1) for k in ksz)))     # input positions ascending
        if sse:                                                                  # rows ascending, columns in order
            taps = [(ky, kx) for ky in range(ksz[0] - 1, -1, -1) for kx in range(ksz[1])]
    else:
        osz = tuple(s - k + 1 for s, k in zip(isz, ksz))
        sse = nd == 2 and osz[1] >= 4 and floating
        taps = list(itertools.product(*(range(k) for k in ksz)))
    nout = ka.shape[0]
    out = xp.zeros((nout,) + osz, xa.dtype)
    planes = range(xa.shape[0]) if mv else [None]
    for i in planes:
        x = xa[i] if mv else xa                              # (isz) or (p, isz)
        w = ka[:, i] if mv else ka                           # (q or p, ksz)
        acc = out if (full or sse) else xp.zeros_like(out)   # valid dot path: a sum per output, then added
        for off in taps:
            wt = w[(Ellipsis,) + off].reshape((-1,) + (1,) * nd)
            if full:
                dst = (Ellipsis,) + tuple(slice(o, o + n) for o, n in zip(off, isz))
                acc[dst] = fma(xp, x, wt, acc[dst]) if sse else acc[dst] + x * wt
            else:
                win = _window(x, off, osz)
                acc[...] = fma(xp, win, wt, acc) if sse else acc + win * wt
        if acc is not out:
            out += acc
    return out


def _make(name, nd, flip):
    usage = "([res,] x, k [, 'V' or 'F'])"

    def fn(*args):
        res, (x, k), rest = split(name, args, 1, 2, usage)
        if len(rest) > 1 or (rest and rest[0] not in ('V', 'F')):
            raise ValueError(f"torch.{name}: expected {usage}: the last argument 'V' (valid) or 'F' (full), got "
                             f"{', '.join(repr(r) for r in rest)}")
        full = bool(rest) and rest[0] == 'F'
        xd, kd = x.dim(), k.dim()
        if (xd, kd) not in ((nd, nd), (nd + 1, nd + 1), (nd + 1, nd + 2)):
            raise ValueError(f"torch.{name}: expected x and k {nd}-D, both {nd + 1}-D, or x {nd + 1}-D and k "
                             f"{nd + 2}-D; got x of size {_sizestr(x.shape)} and k of size {_sizestr(k.shape)}")
        xa, ka = x._a, k._a
        single, mv = xd == nd, kd == nd + 2
        if single:
            xa, ka = xa[None], ka[None]
        elif mv and ka.shape[1] != xa.shape[0]:
            raise ValueError(f"torch.{name}: invalid number of input planes: x of size {_sizestr(x.shape)} has "
                             f"{xa.shape[0]}, k of size {_sizestr(k.shape)} expects {ka.shape[1]}")
        elif not mv and ka.shape[0] != xa.shape[0]:
            raise ValueError(f"torch.{name}: invalid number of input/kernel planes: x of size {_sizestr(x.shape)}, "
                             f"k of size {_sizestr(k.shape)}")
        if not full and any(s < kk for s, kk in zip(xa.shape[1:], ka.shape[-nd:])):
            raise ValueError(f"torch.{name}: input image is smaller than kernel (valid mode): x of size "
                             f"{_sizestr(x.shape)}, k of size {_sizestr(k.shape)}")
        out = _th_correlate(xp_of(x), xa, ka, nd, mv, full, flip)
        return put(name, res[0], out[0] if single else out, x._info)
    fn.__name__ = name
    kind = 'convolution' if flip else 'cross-correlation'
    fn.__doc__ = (f"torch.{name}{usage}: {nd}-D {kind}, valid ('V', default) or full ('F'); x/k {nd}-D, "
                  f"{nd + 1}-D/{nd + 1}-D (plane by plane) or {nd + 1}-D/{nd + 2}-D (all planes into each output).")
    return fn


conv2 = _make('conv2', 2, True)
xcorr2 = _make('xcorr2', 2, False)
conv3 = _make('conv3', 3, True)
xcorr3 = _make('xcorr3', 3, False)

FUNCTIONS = dict(conv2=conv2, xcorr2=xcorr2, conv3=conv3, xcorr3=xcorr3)
METHODS = {name: same_as_function(fn) for name, fn in FUNCTIONS.items()}

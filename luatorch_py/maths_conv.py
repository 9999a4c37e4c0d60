"""Torch7's conv2, xcorr2, conv3, xcorr3: 2-D and 3-D convolution and cross-correlation, valid ('V', the default)
or full ('F'), of any tensor type (integer types wrap as C).

With d = 2 or 3 spatial dims, the forms Torch7 documents:
- x and k d-D: one image, one kernel, a d-D result;
- x (p x image) and k (p x kernel), (d+1)-D both: each plane with its own kernel, a (d+1)-D result of p planes;
- x (p x image) (d+1)-D, k (q x p x kernel) (d+2)-D: every output plane sums all input planes, each with its kernel
  (a matrix-vector product of k and x); a (d+1)-D result of q planes.
"""
import itertools

from .tensor import _sizestr
from .maths_forms import split, put, xp_of, same_as_function


def _correlate(xp, xa, ka, nd, mv, full):
    """Valid (or full) cross-correlation of planes xa (p x image) with ka (p x kernel, or q x p x kernel when mv),
    one shifted window per kernel offset."""
    ksz = ka.shape[-nd:]
    if full:
        padded = xp.zeros(xa.shape[:1] + tuple(s + 2 * (k - 1) for s, k in zip(xa.shape[1:], ksz)), xa.dtype)
        padded[(slice(None),) + tuple(slice(k - 1, k - 1 + s) for s, k in zip(xa.shape[1:], ksz))] = xa
        xa = padded
    osz = tuple(s - k + 1 for s, k in zip(xa.shape[1:], ksz))
    out = xp.zeros(ka.shape[:1] + osz, xa.dtype)
    for off in itertools.product(*(range(k) for k in ksz)):
        win = xa[(slice(None),) + tuple(slice(o, o + n) for o, n in zip(off, osz))]
        w = ka[(Ellipsis,) + off]
        if mv:
            out += xp.tensordot(w, win, axes=1)
        else:
            out += w.reshape((-1,) + (1,) * nd) * win
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
        if flip:                          # convolution: cross-correlation with the kernel turned around
            ka = ka[(Ellipsis,) + (slice(None, None, -1),) * nd]
        out = _correlate(xp_of(x), xa, ka, nd, mv, full)
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

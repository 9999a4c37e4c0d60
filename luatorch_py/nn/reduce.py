"""Reductions along one dim: Sum, Mean, Max, Min."""
import numpy as np

from ..backend import array_module
from .module import Module, long_info, positive_dimension, resized, sizestr


class _Reduce(Module):
    """What the reductions share: ``dimension`` (0-based; negative from the end) and ``nInputDims`` (the dims
    of one example: an input with one more dim is a batch, and ``dimension`` shifts by one)."""

    _lua_index_fields = ('dimension',)

    def _dimension(self, x):
        d = positive_dimension(self, x.ndim)
        if d is None:
            raise ValueError(f"{self!r}: dimension {self.dimension} exceeds the dims of input of size "
                             f"{sizestr(x.shape)}")
        return d

    @staticmethod
    def _shapes(x, d, squeeze=True):
        """(output shape, the same with the reduced dim kept as 1).  As Torch7, a 1-D input gives size [1]."""
        kept = x.shape[:d] + (1,) + x.shape[d + 1:]
        return (kept if (not squeeze or x.ndim == 1) else x.shape[:d] + x.shape[d + 1:]), kept

    def _grad(self, g, kept):
        if g.size != int(np.prod(kept)):
            raise ValueError(f"{self!r}: gradOutput of size {sizestr(g.shape)} does not match the output size "
                             f"{sizestr(kept)} (reduced dim kept)")
        return g.reshape(kept)


class Sum(_Reduce):
    """Sum(dimension=0, nInputDims=None, sizeAverage=False, squeeze=True): the sum (the mean with sizeAverage)
    over ``dimension``, which is dropped from the output unless squeeze=False."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    nInputDims = None
    sizeAverage = False
    squeeze = True

    def __init__(self, dimension=0, nInputDims=None, sizeAverage=False, squeeze=True):
        super().__init__()
        self.dimension = dimension
        self.nInputDims = nInputDims
        self.sizeAverage = bool(sizeAverage)
        if not isinstance(squeeze, bool):
            raise TypeError(f"nn.Sum: squeeze has to be True or False, got {squeeze!r}")
        self.squeeze = squeeze

    def updateOutput(self, input):
        x = self._coerce(input)._a
        d = self._dimension(x)
        shape, kept = self._shapes(x, d, self.squeeze)
        out = resized(self.output, shape)
        xp = array_module(x)
        xp.sum(x, axis=d, keepdims=True, out=out.reshape(kept))
        if self.sizeAverage:
            out /= x.shape[d]
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        d = self._dimension(x)
        gk = self._grad(g, self._shapes(x, d)[1])
        gi = resized(self.gradInput, x.shape)
        if self.sizeAverage:
            array_module(x).divide(gk, x.shape[d], out=gi)
        else:
            gi[...] = gk
        return self.gradInput


class Mean(Sum):
    """Mean(dimension=0, nInputDims=None): Sum with sizeAverage (as in Torch7, where nn.Mean extends nn.Sum)."""

    def __init__(self, dimension=0, nInputDims=None):
        super().__init__(dimension, nInputDims, True)


class _Extreme(_Reduce):
    _arg = None   # 'argmax' / 'argmin'
    nInputDims = None   # default for .t7 files lacking it (nil in Torch7)

    def __init__(self, dimension=0, nInputDims=None):
        super().__init__()
        self.dimension = dimension
        self.nInputDims = nInputDims

    def updateOutput(self, input):
        x = self._coerce(input)._a
        xp = array_module(x)
        d = self._dimension(x)
        if x.shape[d] == 0:         # (numpy's argmax/argmin would fail with a message naming neither)
            raise ValueError(f"{self!r}: cannot take the {self._arg[3:]} over dimension {d} of size 0 (input of "
                             f"size {sizestr(x.shape)})")
        shape, kept = self._shapes(x, d)
        idx = self._buffer('_indices', kept, long_info(self))
        if d == x.ndim - 1 or xp is not np:
            getattr(xp, self._arg)(x, axis=d, keepdims=True, out=idx)
        else:
            # numpy's argmax/argmin over a dim that is not the last copies the input into a new array first:
            # do that copy into a kept buffer instead
            xt = self._buffer('_moved', x.shape[:d] + x.shape[d + 1:] + (x.shape[d],))
            xt[...] = np.moveaxis(x, d, -1)
            getattr(np, self._arg)(xt, axis=-1, keepdims=True, out=np.moveaxis(idx, d, -1))
        out = resized(self.output, shape).reshape(kept)
        if xp is np or self._arg == 'argmax':
            getattr(xp, self._arg[3:])(x, axis=d, keepdims=True, out=out)
        else:
            # CuPy 14's min(out=...) raises TypeError on its CUB path (_ndarray_min hands out to cub_reduction
            # as the dtype): reduce into a temporary (of the output's size) and copy
            out[...] = xp.min(x, axis=d, keepdims=True)
        return self.output

    def _positions(self, xp, shape, d, idx):
        """Flat positions, in an array of ``shape``, of the elements picked along ``d`` by ``idx``."""
        pre = int(np.prod(shape[:d]))
        n = shape[d]
        post = int(np.prod(shape[d + 1:]))
        base = self.__dict__.get('_base')
        key = (pre, n, post, idx.shape)     # (another shape of as many elements needs the base in its shape)
        if base is None or self.__dict__.get('_base_key') != key or base.dtype != np.int64 or \
                array_module(base) is not xp:
            base = (xp.arange(pre, dtype=np.int64)[:, None] * (n * post)
                    + xp.arange(post, dtype=np.int64)[None, :]).reshape(idx.shape)
            self._base = base
            self._base_key = key
        flat = self._buffer('_flat', idx.shape, long_info(self))
        xp.multiply(idx, post, out=flat)
        flat += base
        return flat

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        xp = array_module(x)
        d = self._dimension(x)
        gk = self._grad(g, self._shapes(x, d)[1])
        idx = self.__dict__.get('_indices')
        if idx is None or idx.shape != gk.shape:
            self.updateOutput(input)
            idx = self.__dict__['_indices']
        flat = self._positions(xp, x.shape, d, idx)
        gi = resized(self.gradInput, x.shape)
        gi.fill(0)
        gi.reshape(-1)[flat] = gk
        return self.gradInput


class Max(_Extreme):
    """Max(dimension=0, nInputDims=None): the largest value over ``dimension`` (dropped from the output); the
    gradient goes to the first position holding it."""
    _arg = 'argmax'


class Min(_Extreme):
    """Min(dimension=0, nInputDims=None): the smallest value over ``dimension``; the gradient goes to the
    first position holding it."""
    _arg = 'argmin'

"""Embeddings: nn.LookupTable."""
import numpy as np

from .. import backend
from ..backend import array_module
from ..backend.kernels import scatter_add, take_into
from ..tensor import Tensor
from ..types import TYPES, on_device
from .module import Module, check_grad_size, long_info, resized, sizestr

_LONG = TYPES['torch.LongTensor']


class LookupTable(Module):
    """Rows of a learnt nIndex x nOutput ``weight`` picked by integer indices: a 1-D input of n indices gives
    n x nOutput, a 2-D batch b x n gives b x n x nOutput.

    Indices are 0-BASED here (Torch7's are 1-based): the input is a LongTensor (or any integer tensor or numpy
    array; an integral floating tensor is accepted and converted, as Torch7 does).  ``paddingValue`` (an index,
    0-based; None or negative for none) is a row whose gradient is never accumulated.  With ``maxNorm`` the rows
    looked up are first rescaled in place to a ``normType``-norm (default 2) of at most maxNorm, as Torch7.
    """

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    maxNorm = None
    normType = None
    shouldScaleGradByFreq = False
    paddingValue = -1

    def __init__(self, nIndex, nOutput, paddingValue=None, maxNorm=None, normType=None):
        super().__init__()
        self.weight = self._tcls(nIndex, nOutput)
        self.gradWeight = self._tcls(nIndex, nOutput).zero()
        # Torch7 stores 0 (no 1-based index) for "no padding": -1 here, which maps to it
        self.paddingValue = -1 if paddingValue is None else int(paddingValue)
        self.maxNorm = maxNorm
        self.normType = normType
        self.shouldScaleGradByFreq = False
        self.reset()

    _lua_index_fields = ('paddingValue',)

    def reset(self, stdv=None):
        self.weight.normal(0, 1 if stdv is None else stdv)
        return self

    def accUpdateOnly(self):
        self.__dict__.pop('gradWeight', None)
        return self

    def setPadding(self, paddingValue):
        self.paddingValue = -1 if paddingValue is None else int(paddingValue)
        return self

    def setMaxNorm(self, maxNorm):
        self.maxNorm = maxNorm
        return self

    def setNormType(self, normType):
        self.normType = normType
        return self

    def scaleGradByFreq(self):
        self.shouldScaleGradByFreq = True
        return self

    # -- indices -----------------------------------------------------------------------------------------
    def _indices(self, input):
        """The input as an int64 array on the weight's device (a kept copy when it had to be converted),
        checked to be a vector or matrix of indices in [0, nIndex)."""
        if isinstance(input, Tensor):
            a = input._a
        elif isinstance(input, np.ndarray) or backend.is_cuda_array(input):
            a = input
        else:
            raise TypeError(f"{self!r}: expected input to be a LongTensor or an integer numpy array, "
                            f"got {type(input).__name__}")
        if a.ndim not in (1, 2):
            raise ValueError(f"{self!r}: expected input of indices of size [n] or [batch, n], got "
                             f"{sizestr(a.shape)}")
        if a.dtype.kind not in 'iuf':
            raise TypeError(f"{self!r}: expected integer indices, got elements of dtype {a.dtype}")
        info = self._tinfo
        if a.dtype != np.int64 or backend.is_cuda_array(a) != info.cuda:
            buf = self._buffer('_idx', a.shape, long_info(self))
            buf[...] = backend.to_device(a, info.cuda) if a.dtype.kind != 'f' else \
                backend.to_device(a, info.cuda).astype(np.int64)
            if a.dtype.kind == 'f' and bool((buf != backend.to_device(a, info.cuda)).any()):
                raise ValueError(f"{self!r}: indices must be integers, got non-integral values in a "
                                 f"{a.dtype} input")
            a = buf
        n = self.weight._a.shape[0]
        if a.size:
            lo, hi = int(a.min()), int(a.max())
            if lo < 0 or hi >= n:
                raise IndexError(f"{self!r}: indices must be in [0, {n}) (0-based), got "
                                 f"{lo if lo < 0 else hi}")
        return a

    # -- the protocol ------------------------------------------------------------------------------------
    def updateOutput(self, input):
        idx = self._indices(input)
        w = self.weight._a
        if self.maxNorm is not None:
            self._renorm(idx)
        out = resized(self.output, idx.shape + (w.shape[1],))
        take_into(w, idx, out, axis=0)      # the indices were checked in _indices
        return self.output

    def _renorm(self, idx):
        """Rescale each distinct looked-up row whose normType-norm exceeds maxNorm to maxNorm (Torch7's
        LookupTable_renorm, 1e-7 guard included)."""
        w = self.weight._a
        xp = array_module(w)
        rows = xp.unique(idx)
        sub = w[rows]
        p = 2 if self.normType is None else self.normType
        if p <= 0:
            raise ValueError(f"{self!r}: normType must be positive, got {p}")
        norms = xp.sum(xp.abs(sub) ** p, axis=1) ** (1.0 / p)
        big = norms > self.maxNorm
        factor = xp.where(big, self.maxNorm / (norms + 1e-7), 1).astype(w.dtype)
        w[rows] = sub * factor[:, None]

    def updateGradInput(self, input, gradOutput):
        # the input is indices: its gradient is zero, a tensor of the input's type and size (Torch7)
        if isinstance(input, Tensor):
            cls, shape = type(input), input.shape
        else:
            info = on_device(_LONG, backend.is_cuda_array(input))
            cls, shape = info.tensor_class, input.shape
        if type(self.gradInput) is not cls:
            self.gradInput = cls()
        if self.gradInput.shape != shape:
            self.gradInput.resize(shape).zero()
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        idx = self._indices(input)
        g = self._coerce(gradOutput, 'gradOutput')._a
        gw = self.gradWeight._a
        xp = array_module(gw)
        n_idx, d = gw.shape
        check_grad_size(self, g, idx.shape + (d,))
        flat_idx = idx.reshape(-1)
        m = flat_idx.shape[0]
        src = g.reshape(m, d)
        pad = self.paddingValue
        if self.shouldScaleGradByFreq or (pad is not None and 0 <= pad < n_idx):
            sc = self._buffer('_rowscale', (m,))
            sc.fill(scale)
            if self.shouldScaleGradByFreq:
                # counts in kept buffers of the module's type (bincount makes an nIndex array per call; CuPy has no
                # int64 atomics): exact integers
                counts = self._buffer('_counts', (n_idx,))
                counts.fill(0)
                scatter_add(counts, flat_idx, 1)
                sc /= take_into(counts, flat_idx, self._buffer('_freq', (m,)))
            if pad is not None and 0 <= pad < n_idx:
                mask = self._bools('_padmask', (m,))
                xp.equal(flat_idx, pad, out=mask)
                xp.copyto(sc, 0, where=mask)
            buf = self._buffer('_src', (m, d))
            xp.multiply(src, sc[:, None], out=buf)
            src = buf
        elif scale != 1:
            buf = self._buffer('_src', (m, d))
            xp.multiply(src, scale, out=buf)
            src = buf
        # flat positions in gradWeight of every element of every looked-up row: idx * d + column
        pos = self._buffer('_pos', (m, d), long_info(self))
        cols = self.__dict__.get('_cols')
        if cols is None or cols.shape[0] != d or backend.is_cuda_array(cols) != self._tinfo.cuda:
            cols = self._cols = xp.arange(d, dtype=np.int64)
        xp.multiply(flat_idx[:, None], d, out=pos)
        pos += cols
        if not src.flags.c_contiguous:
            buf = self._buffer('_src', (m, d))
            buf[...] = src
            src = buf
        scatter_add(gw.reshape(-1), pos.reshape(-1), src.reshape(-1))

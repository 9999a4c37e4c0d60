"""Torch7's SpatialClassNLLCriterion (a class per pixel) and SpatialAutoCropMSECriterion (MSE against the centre
of a larger target).  As the other class criterions here, class indices are 0-BASED (Lua's are 1-based)."""
import numpy as np

from .. import backend
from ..backend import array_module
from .criterion import Criterion, MSECriterion, _index_array, _long_zeros
from .module import resized, sizestr


class SpatialClassNLLCriterion(Criterion):
    """SpatialClassNLLCriterion(weights=None, sizeAverage=True): ClassNLLCriterion for every pixel: input batch x
    nClasses x H x W (log-probabilities), target batch x H x W of 0-based classes.  loss = -sum w[t] x[n, t, h, w]
    over all pixels, divided by the sum of their weights w[t] (their number without weights) when sizeAverage."""

    def __init__(self, weights=None, sizeAverage=True):
        super().__init__()
        self.sizeAverage = True if sizeAverage is None else sizeAverage
        if weights is not None:
            self.weights = self._as_param(weights)
        # Torch7's fields (kept so that a saved criterion loads and runs in Lua)
        self.output_tensor = self._tcls(1).zero()
        self.total_weight_tensor = self._tcls(1).fill(1)
        self.target = _long_zeros()

    def __len__(self):
        w = self.__dict__.get('weights')
        return w.nElement() if w is not None else 0

    def _prepare(self, input, target):
        x = self._coerce(input)._a
        if x.ndim != 4:
            raise ValueError(f"{self!r}: only batches of spatial inputs are supported (4-D: batch x nClasses x H x "
                             f"W), got an input of size {sizestr(x.shape)}")
        t = _index_array(self, target, backend.is_cuda_array(x))
        if t.ndim != 3:
            raise ValueError(f"{self!r}: only batches of spatial targets are supported (3-D: batch x H x W), got a "
                             f"target of size {sizestr(t.shape)}")
        N, C, H, W = x.shape
        if t.shape != (N, H, W):
            raise ValueError(f"{self!r}: size mismatch: input {sizestr(x.shape)}, target {sizestr(t.shape)} "
                             f"(expected {sizestr((N, H, W))})")
        xp = array_module(x)
        t = t.astype(np.int64, copy=False)
        if t.size and (int(t.min()) < 0 or int(t.max()) >= C):     # (two reductions: no array of the target's size)
            bad = t[(t < 0) | (t >= C)].reshape(-1)[0]
            raise ValueError(f"{self!r}: target {int(bad)} is out of range for {C} classes: targets are 0-based "
                             f"class indices in [0, {C - 1}] (Lua's 1-based targets need -1)")
        w = self.__dict__.get('weights')
        if w is not None:
            if w.nElement() != C:
                raise ValueError(f"{self!r}: weight tensor should be defined either for all {C} classes or no "
                                 f"classes, got weights of size {sizestr(w._a.shape)}")
            pw = xp.take(w._a, t, out=self._buffer('_pw', t.shape))     # each pixel's weight
        else:
            pw = None
        return x, t, pw

    def _positions(self, x, t):
        """Kept int64 array of the flat positions of x[n, t[n, h, w], h, w] in a C-contiguous array of x's size:
        t * H*W + each pixel's own offset (the latter made once per size)."""
        N, C, H, W = x.shape
        base = self._buffer('_base', t.shape, dtype=np.int64)
        if self.__dict__.get('_base_of') != x.shape:
            xp = array_module(x)
            base[...] = xp.arange(H * W).reshape(1, H, W)
            base += (xp.arange(N) * (C * H * W)).reshape(N, 1, 1)
            self._base_of = x.shape
        flat = self._buffer('_flatpos', t.shape, dtype=np.int64)
        array_module(x).multiply(t, H * W, out=flat)
        flat += base
        return flat

    def updateOutput(self, input, target):
        x, t, pw = self._prepare(input, target)
        xp = array_module(x)
        if x.flags.c_contiguous:                                    # x[n, t[n, h, w], h, w], into a kept buffer
            picked = xp.take(x, self._positions(x, t), out=self._buffer('_picked', t.shape))
        else:
            picked = xp.take_along_axis(x, t[:, None], axis=1)[:, 0]
        total = float(t.size) if pw is None else float(pw.sum(dtype=x.dtype))    # (one read-back on CUDA)
        if pw is not None:
            picked *= pw                    # (the kept buffer, or the fallback's own array)
        loss = -picked.sum(dtype=x.dtype)
        self.total_weight_tensor._a[...] = total
        if self.sizeAverage and total:
            loss = loss / x.dtype.type(total)
        self.output_tensor._a[...] = loss
        return self._loss(self.output_tensor._a)

    def updateGradInput(self, input, target):
        x, t, pw = self._prepare(input, target)
        xp = array_module(x)
        gi = resized(self.gradInput, x.shape)
        gi.fill(0)
        total = float(t.size) if pw is None else float(pw.sum(dtype=x.dtype))
        self.total_weight_tensor._a[...] = total
        if total <= 0:
            return self.gradInput           # (THNN: nothing when the total weight is not positive)
        norm = total if self.sizeAverage else 1
        if pw is not None:                  # -w[t] / norm, in x's dtype (the weights' own), into the kept buffer
            val = xp.negative(pw, out=pw)
            val /= norm
        else:
            val = x.dtype.type(-1 / norm)
        # gi[n, t[n, h, w], h, w] = val[n, h, w]: one flat assignment (gi is this criterion's own, contiguous)
        gi.reshape(-1)[self._positions(x, t).reshape(-1)] = val if pw is None else val.reshape(-1)
        return self.gradInput


def _hw(a):
    return a.shape[-2:]


class SpatialAutoCropMSECriterion(MSECriterion):
    """SpatialAutoCropMSECriterion(sizeAverage=True): MSECriterion between a 3-D (C x H x W) or 4-D (batch first)
    input and the centre of a target of the same number of dims whose H x W may be larger: the target is cropped to
    the input's H x W (rows from floor((Ht - H) / 2), columns alike).  Torch7's backward asserts a target of the
    input's size; here it crops the target as forward does."""

    def _cropped(self, input, target):
        x = self._coerce(input)._a
        t = self._coerce(target, 'target')._a
        if x.ndim != t.ndim:
            raise ValueError(f"{self!r}: input and target should have the same number of dims, got "
                             f"{sizestr(x.shape)} and {sizestr(t.shape)}")
        if x.ndim not in (3, 4):
            raise ValueError(f"{self!r}: input and target must have 3 or 4 dims, got {sizestr(x.shape)}")
        (h, w), (th, tw) = _hw(x), _hw(t)
        if h > th or w > tw:
            raise ValueError(f"{self!r}: the spatial resolution of the input ({h}x{w}) should be less than or equal "
                             f"to the target's ({th}x{tw})")
        if (h, w) == (th, tw):
            return x, t
        r0, c0 = (th - h) // 2, (tw - w) // 2
        crop = self._buffer('_crop', t.shape[:-2] + (h, w))      # (contiguous, for the loss kernels)
        crop[...] = t[..., r0:r0 + h, c0:c0 + w]
        return x, crop

    def updateOutput(self, input, target):
        return super().updateOutput(*self._cropped(input, target))

    def updateGradInput(self, input, target):
        return super().updateGradInput(*self._cropped(input, target))

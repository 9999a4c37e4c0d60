"""Criterions: a loss (Python float) from (input, target), and its gradient with respect to the input.

Behaviour follows Torch7's nn Lua files and THNN C code: same fields (saved to .t7), same normalizations
(``sizeAverage``; ClassNLL divides by the total weight of the targets), same values at the kinks.

Python differs from Lua in one place: class indices are 0-based.  ClassNLLCriterion, CrossEntropyCriterion and
MultiMarginCriterion take targets in [0, nClasses - 1] (a LongTensor, a numpy integer array, a list, or a Python int
for a 1-D input); MultiLabelMarginCriterion takes 0-based classes padded with -1 (Lua pads 1-based classes with 0);
ClassNLLCriterion's ``ignoreIndex`` is 0-based too (converted to Lua's 1-based value when saved).
"""
import numbers

import numpy as np

from .. import backend
from ..backend import array_module
from ..backend.kernels import rowdot_into, take_into
from ..tensor import Tensor
from ..storage import STORAGE_CLASSES
from ..types import TYPES
from .module import TypedObject, pair_grad, resized, sizestr
from .activation import LogSoftMax, Sigmoid

_INF = float('inf')
_EPS = 1e-12     # THNN's BCECriterion and CosineEmbeddingCriterion


class Criterion(TypedObject):
    """Base of every criterion (Torch7's nn.Criterion): ``forward`` returns a Python float, ``backward`` the
    gradient tensor ``gradInput``."""
    __torch_name__ = 'nn.Criterion'

    def __init__(self):
        self._init_type()
        self.gradInput = self._tcls()
        self.output = 0.0

    def updateOutput(self, input, target):
        raise NotImplementedError

    def updateGradInput(self, input, target):
        raise NotImplementedError

    def forward(self, input, target):
        return self.updateOutput(input, target)

    def backward(self, input, target):
        return self.updateGradInput(input, target)

    __call__ = forward

    def _pair(self, input, target):
        """(input array, target array) of this criterion's type with equal sizes, or an error naming both."""
        x = self._coerce(input)._a
        t = self._coerce(target, 'target')._a
        if x.shape != t.shape:
            if x.size != t.size:
                raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} and target of size "
                                 f"{sizestr(t.shape)} differ")
            t = t.reshape(x.shape)
        return x, t

    def _loss(self, value):
        """Store and return the loss rounded to the criterion's element type (Torch7 keeps it as a `real`)."""
        self.output = float(self._tinfo.dtype.type(value)) if self._tinfo.is_floating else float(value)
        return self.output

    def _norm(self, n):
        return 1.0 / n if self.sizeAverage and n else 1.0

    def _average(self, gi, n):
        """gi *= 1 / n when sizeAverage (in place; nothing to do otherwise)."""
        f = self._norm(n)
        if f != 1:
            gi *= f

    def _as_param(self, w, what='weights'):
        """``w`` (a tensor, numpy array or list) as a 1-D tensor of this criterion's type, or None."""
        if w is None:
            return None
        if isinstance(w, Tensor):
            t = w if w._info is self._tinfo else w.type(self._type)
        else:
            t = self._tcls(np.asarray(backend.to_numpy(w) if backend.is_cuda_array(w) else w))
        if t.dim() != 1:
            raise ValueError(f"{self!r}: {what} input should be 1-D Tensor, got size {sizestr(t.shape)}")
        return t

    def clearState(self):
        for k in list(self.__dict__):
            if k.startswith('_') and k not in ('_type', '_tinfo', '_tcls'):
                del self.__dict__[k]
        if isinstance(self.__dict__.get('gradInput'), Tensor):
            self.gradInput = self._tcls()
        return self


def _index_array(crit, target, cuda, what='target'):
    """Class indices as an int64 array on the criterion's device, from a tensor (any type: float values are
    truncated, as Lua's :long()), a numpy/CuPy array, a list or a Python number."""
    if isinstance(target, Tensor):
        a = target._a if target.nElement() else target._a.reshape(0)
    elif isinstance(target, (numbers.Real, np.number)) and not isinstance(target, (bool, np.bool_)):
        a = np.array([target])
    elif isinstance(target, np.ndarray) or backend.is_cuda_array(target):
        a = target
    elif isinstance(target, (list, tuple)):
        a = np.asarray(target)
    else:
        raise TypeError(f"{crit!r}: expected the {what} as class indices (a LongTensor, a numpy integer array, a "
                        f"list or an int), got {type(target).__name__}")
    if a.dtype.kind not in 'iuf':
        raise TypeError(f"{crit!r}: expected integer class indices in the {what}, got dtype {a.dtype}")
    if a.dtype != np.int64:
        a = a.astype(np.int64)
    if backend.is_cuda_array(a) != cuda:
        a = backend.to_device(a, cuda)
    return a


def _range(a):
    """(min, max) of a non-empty integer array, with one device synchronization."""
    xp = array_module(a)
    lo, hi = backend.to_numpy(xp.stack((a.min(), a.max()))).tolist()
    return lo, hi


def _class_targets(crit, target, x, ignore=None):
    """The targets of input ``x`` (1-D: one sample, 2-D: a batch) as an int64 array of shape (batch,), checked to
    be 0-based classes of x's last dim (or ``ignore``).  Returns (targets, (min, max))."""
    n = x.shape[-1]
    batch = x.shape[0] if x.ndim == 2 else 1
    a = _index_array(crit, target, backend.is_cuda_array(x))
    if x.ndim == 1:
        if a.size != 1:
            raise ValueError(f"{crit!r}: expected one target class for a 1-D input of {n} classes, got a target of "
                             f"size {sizestr(a.shape)}")
    elif a.size != batch or not (a.ndim == 1 or (a.ndim == 2 and a.shape[1] == 1)):
        raise ValueError(f"{crit!r}: expected a target of size [{batch}] (one class index per sample) for an input "
                         f"of size {sizestr(x.shape)}, got a target of size {sizestr(a.shape)}")
    a = a.reshape(-1)
    lo, hi = _range(a)
    if lo < 0 or hi >= n:
        bad = (a < 0) | (a >= n)
        if ignore is not None:
            bad &= a != ignore
        if bool(bad.any()):
            i = int(bad.argmax())
            at = f" (sample {i})" if x.ndim == 2 else ""
            raise ValueError(f"{crit!r}: target {int(a[i])}{at} is out of range for {n} classes: targets are 0-based "
                             f"class indices in [0, {n - 1}] (Lua's 1-based targets need -1)")
    return a, (lo, hi)


def _rows(crit, t):
    """A kept arange over the samples (t's first dim), shaped to broadcast against t (batch, or batch x k)."""
    b = t.shape[0]
    return crit._arange('_rows', b).reshape((b,) + (1,) * (t.ndim - 1))


def _target_positions(crit, x2, t):
    """Kept intp array of t's shape (batch, or batch x k): the flat position in x2 (batch x nClasses) of each
    target class t[i] (or t[i, j]) of sample i."""
    idx = crit._buffer('_tpos', t.shape, dtype=np.intp)
    array_module(x2).multiply(_rows(crit, t), x2.shape[1], out=idx)
    idx += t
    return idx


def _picked(crit, name, x2, t, idx):
    """x2[i, t[i]] (or x2[i, t[i, j]]: each sample's value at its targets) in the kept buffer ``name``; ``idx``:
    the _target_positions of t."""
    out = crit._buffer(name, t.shape)
    if x2.flags.c_contiguous:
        take_into(x2.reshape(-1), idx, out)
    else:
        out[...] = x2[_rows(crit, t), t]
    return out


def _put_picked(crit, a2, t, idx, vals):
    """a2[i, t[i]] = vals (a2 batch x nClasses, as _picked reads it)."""
    if a2.flags.c_contiguous:
        a2.reshape(-1)[idx] = vals
    else:
        a2[_rows(crit, t), t] = vals


def _check_dims(crit, x, what='input'):
    if x.ndim not in (1, 2):
        raise ValueError(f"{crit!r}: expected a 1-D or 2-D (batch) {what}, got size {sizestr(x.shape)}")


class _Averaged(Criterion):
    """A criterion whose only option is ``sizeAverage`` (average over the elements, or sum)."""

    def __init__(self, sizeAverage=True):
        super().__init__()
        self.sizeAverage = sizeAverage


class _LastDimWeighted(_Averaged):
    """An elementwise criterion with optional ``weights`` along the input's last dim."""

    def __init__(self, weights=None, sizeAverage=True):
        super().__init__(sizeAverage)
        if weights is not None:
            self.weights = self._as_param(weights)

    def _w(self, x):
        """The weights, broadcast along x's last dim (Torch7: weights:view(1, n):expandAs(target)), or None."""
        w = self.__dict__.get('weights')
        if w is None:
            return None
        if w._a.size != x.shape[-1]:
            raise ValueError(f"{self!r}: weights of size {sizestr(w._a.shape)} do not match the input's last dim "
                             f"(input of size {sizestr(x.shape)})")
        return w._a


# -- regression ------------------------------------------------------------------------------------------
class MSECriterion(_Averaged):
    """Mean (or, without sizeAverage, summed) squared error."""

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        d = self._buffer('_diff', x.shape)
        array_module(x).subtract(x, t, out=d)
        d = d.reshape(-1)
        s = float(d @ d)
        return self._loss(s / x.size if self.sizeAverage else s)

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        gi = resized(self.gradInput, x.shape)
        array_module(x).subtract(x, t, out=gi)
        gi *= (2.0 / x.size) if self.sizeAverage else 2.0
        return self.gradInput


class AbsCriterion(_Averaged):
    """Mean (or summed) |x - t|; the gradient at x == t is +1 (Torch7)."""

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        xp = array_module(x)
        d = self._buffer('_diff', x.shape)
        xp.subtract(x, t, out=d)
        xp.abs(d, out=d)
        return self._loss(float(d.sum()) * self._norm(x.size))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        xp = array_module(x)
        gi = resized(self.gradInput, x.shape)
        xp.subtract(x, t, out=gi)
        xp.less(gi, 0, out=gi)            # 1 where x - t < 0
        gi *= -2 * self._norm(x.size)
        gi += self._norm(x.size)          # norm where x >= t, -norm elsewhere
        return self.gradInput


class SmoothL1Criterion(_Averaged):
    """Huber loss: 0.5 d^2 where |d| < 1, |d| - 0.5 elsewhere (d = x - t), averaged or summed."""

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        xp = array_module(x)
        z = self._buffer('_diff', x.shape)
        q = self._buffer('_q', x.shape)
        xp.subtract(x, t, out=z)
        xp.abs(z, out=z)
        xp.clip(z, 0, 1, out=q)           # q = min(|d|, 1); loss = q (|d| - q / 2) = 2 h (|d| - h), h = q / 2
        q *= 0.5
        z -= q
        z *= q
        return self._loss(2 * float(z.sum()) * self._norm(x.size))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        xp = array_module(x)
        gi = resized(self.gradInput, x.shape)
        xp.subtract(x, t, out=gi)
        xp.clip(gi, -1, 1, out=gi)
        self._average(gi, x.size)
        return self.gradInput


class DistKLDivCriterion(_Averaged):
    """Kullback-Leibler divergence of the target distribution t from exp(x) (x: log-probabilities):
    sum over t > 0 of t * (log t - x), averaged or summed."""

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        xp = array_module(x)
        tt = self._buffer('_t', x.shape)
        lg = self._buffer('_log', x.shape)
        xp.clip(t, 0, _INF, out=tt)       # t where t > 0, else 0
        xp.equal(tt, 0, out=lg)
        lg += tt                          # t, or 1 where t <= 0 ...
        xp.log(lg, out=lg)                # ... so log t, or 0
        lg -= x
        lg *= tt
        return self._loss(float(lg.sum()) * self._norm(x.size))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        gi = resized(self.gradInput, x.shape)
        array_module(x).clip(t, 0, _INF, out=gi)
        gi *= -self._norm(x.size)
        return self.gradInput


class BCECriterion(_LastDimWeighted):
    """Binary cross-entropy -(t log(x + eps) + (1 - t) log(1 - x + eps)) (eps = 1e-12), optionally weighted per
    element of the last dim (``weights``), averaged over all elements or summed."""

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        xp = array_module(x)
        w = self._w(x)
        a = self._buffer('_a', x.shape)
        b = self._buffer('_b', x.shape)
        xp.add(x, _EPS, out=a)
        xp.log(a, out=a)                  # log(x + eps)
        xp.subtract(1, x, out=b)
        b += _EPS
        xp.log(b, out=b)                  # log(1 - x + eps)
        a -= b
        a *= t
        a += b                            # t log(x + eps) + (1 - t) log(1 - x + eps)
        if w is not None:
            a *= w
        return self._loss(-float(a.sum()) * self._norm(x.size))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        xp = array_module(x)
        w = self._w(x)
        gi = resized(self.gradInput, x.shape)
        d = self._buffer('_a', x.shape)
        b = self._buffer('_b', x.shape)
        xp.add(x, _EPS, out=d)
        xp.subtract(1, x, out=b)
        b += _EPS
        d *= b                            # (1 - x + eps) (x + eps)
        xp.subtract(x, t, out=gi)
        gi /= d
        self._average(gi, x.size)
        if w is not None:
            gi *= w
        return self.gradInput


# -- classification --------------------------------------------------------------------------------------
class ClassNLLCriterion(Criterion):
    """Negative log-likelihood of the target classes, from log-probabilities (e.g. LogSoftMax's output).

    input: 1-D (nClasses) with one target, or 2-D (batch x nClasses) with a target per sample; targets are
    0-BASED class indices.  loss = -sum_i w[t_i] x[i, t_i], divided by sum_i w[t_i] (the total weight, batch size
    without weights) when sizeAverage.  Targets equal to ``ignoreIndex`` count for nothing (-100 by default, as
    PyTorch; any value outside [0, nClasses) never matches a class)."""
    _lua_index_fields = ('ignoreIndex',)

    def __init__(self, weights=None, sizeAverage=True, ignoreIndex=-100):
        super().__init__()
        self.sizeAverage = sizeAverage
        self.ignoreIndex = ignoreIndex
        if weights is not None:
            self.weights = self._as_param(weights)
        # Torch7's fields (kept so that a saved criterion loads and runs in Lua)
        self.output_tensor = self._tcls(1).zero()
        self.total_weight_tensor = self._tcls(1).fill(1)
        self.target = _long_zeros()

    def _prepare(self, input, target):
        """(input as batch x n, targets, per-sample weights or None, total weight)."""
        x = self._coerce(input)._a
        _check_dims(self, x)
        n = x.shape[-1]
        x2 = x.reshape(-1, n) if x.ndim == 1 else x
        ign = self.ignoreIndex
        t, (lo, hi) = _class_targets(self, target, x, ign)
        xp = array_module(x)
        valid = None
        if ign is not None and lo <= ign <= hi:
            valid = xp.not_equal(t, ign, out=self._bools('_valid', t.shape))
            # ignored targets -> class 0, with weight 0
            t = xp.multiply(t, valid, out=self._buffer('_tvalid', t.shape, dtype=t.dtype))
        w = self.__dict__.get('weights')
        if w is not None:
            if w.nElement() != n:
                raise ValueError(f"{self!r}: weight tensor should be defined either for all {n} classes or no "
                                 f"classes, got weights of size {sizestr(w.shape)}")
            wt = take_into(w._a, t, self._buffer('_wt', t.shape), axis=0)
            if valid is not None:
                wt *= valid
        elif valid is not None:
            wt = self._buffer('_wt', t.shape)
            wt[...] = valid
        else:
            wt = None
        total = float(wt.sum()) if wt is not None else float(x2.shape[0])
        return x, x2, t, wt, total, xp

    def updateOutput(self, input, target):
        x, x2, t, wt, total, xp = self._prepare(input, target)
        picked = _picked(self, '_picked', x2, t, _target_positions(self, x2, t))
        s = -float(picked.sum() if wt is None else picked @ wt)
        if self.sizeAverage and total:
            s /= total
        return self._loss(s)

    def updateGradInput(self, input, target):
        x, x2, t, wt, total, xp = self._prepare(input, target)
        gi = resized(self.gradInput, x.shape)
        gi.fill(0)
        if total <= 0:                    # THNN: nothing to propagate
            return self.gradInput
        norm = 1.0 / total if self.sizeAverage else 1.0
        if wt is None:
            vals = -norm
        else:
            vals = self._buffer('_vals', wt.shape)
            xp.multiply(wt, -norm, out=vals)
        _put_picked(self, gi.reshape(x2.shape), t, _target_positions(self, x2, t), vals)
        return self.gradInput


def _long_zeros():
    return TYPES['torch.LongTensor'].tensor_class(1).zero()


class CrossEntropyCriterion(Criterion):
    """LogSoftMax then ClassNLLCriterion (fields ``lsm`` and ``nll``), on the squeezed input and target as Torch7:
    a 1 x nClasses input is one sample."""

    def __init__(self, weights=None, sizeAverage=True, ignoreIndex=-100):
        super().__init__()
        self.lsm = LogSoftMax()
        self.nll = ClassNLLCriterion(weights, sizeAverage, ignoreIndex)
        self.sizeAverage = sizeAverage
        self.oldSizeAverage = sizeAverage

    def _squeezed(self, input):
        x = self._coerce(input)._a
        shape = tuple(d for d in x.shape if d != 1) or (1,)
        return x, x.reshape(shape)

    def updateOutput(self, input, target):
        x, sq = self._squeezed(input)
        self.nll.sizeAverage = self.sizeAverage
        self.lsm.updateOutput(sq)
        self.nll.updateOutput(self.lsm.output, target)
        return self._loss(self.nll.output)

    def updateGradInput(self, input, target):
        x, sq = self._squeezed(input)
        self.nll.sizeAverage = self.sizeAverage
        if self.lsm.output._a.shape != sq.shape:
            self.lsm.updateOutput(sq)
        self.nll.updateGradInput(self.lsm.output, target)
        self.lsm.updateGradInput(sq, self.nll.gradInput)
        lg = self.lsm.gradInput
        self.gradInput.set(lg._s, lg.storageOffset(), x.shape)
        return self.gradInput


class MultiMarginCriterion(Criterion):
    """Multi-class hinge loss: for each sample, sum over classes d != t of max(0, margin - x[t] + x[d])^p
    (times weights[t]), divided by nClasses (and by the batch size when sizeAverage).  p is 1 or 2; targets are
    0-based class indices."""

    def __init__(self, p=1, weights=None, margin=1):
        if p not in (1, 2):
            raise ValueError(f"nn.MultiMarginCriterion: only p=1 and p=2 supported, got p={p!r}")
        super().__init__()
        self.p = p
        self.margin = margin
        self.sizeAverage = True
        if weights is not None:
            self.weights = self._as_param(weights)

    def _hinge(self, input, target):
        """(x, x2, targets, z = max(0, margin - x[t] + x[d]) with 0 at d == t, per-sample weights, xp)."""
        x = self._coerce(input)._a
        _check_dims(self, x)
        n = x.shape[-1]
        x2 = x.reshape(-1, n) if x.ndim == 1 else x
        t, _ = _class_targets(self, target, x)
        xp = array_module(x)
        rows = _target_positions(self, x2, t)          # flat positions of the targets
        z = self._buffer('_z', x2.shape)
        xp.subtract(x2, _picked(self, '_xt', x2, t, rows)[:, None], out=z)
        z += self.margin
        z.reshape(-1)[rows] = 0
        xp.clip(z, 0, _INF, out=z)
        w = self.__dict__.get('weights')
        wt = None
        if w is not None:
            if w.nElement() != n:
                raise ValueError(f"{self!r}: weights of size {sizestr(w.shape)} do not match the {n} classes")
            wt = take_into(w._a, t, self._buffer('_wt', t.shape), axis=0)[:, None]
        return x, x2, t, rows, z, wt, xp

    def updateOutput(self, input, target):
        x, x2, t, rows, z, wt, xp = self._hinge(input, target)
        if self.p == 2:
            h = self._buffer('_h', z.shape)
            xp.multiply(z, z, out=h)
        else:
            h = z
        if wt is not None:
            h = xp.multiply(h, wt, out=self._buffer('_hw', z.shape))
        s = float(h.sum()) / x2.shape[1]
        if self.sizeAverage:
            s /= x2.shape[0]
        return self._loss(s)

    def updateGradInput(self, input, target):
        x, x2, t, rows, z, wt, xp = self._hinge(input, target)
        n, b = x2.shape[1], x2.shape[0]
        g = 1.0 / (b * n) if self.sizeAverage else 1.0 / n
        gi = resized(self.gradInput, x.shape).reshape(x2.shape)
        if self.p == 1:
            xp.greater(z, 0, out=gi)
            gi *= g
        else:
            xp.multiply(z, 2 * g, out=gi)
        if wt is not None:
            gi *= wt
        s = self._buffer('_gsum', (b,))
        xp.sum(gi, axis=1, out=s)
        xp.negative(s, out=s)
        _put_picked(self, gi, t, rows, s)
        return self.gradInput


class MultiLabelMarginCriterion(_Averaged):
    """Multi-class multi-label hinge loss.  The target has the input's size and lists each sample's target classes
    (0-BASED) first, then -1 padding (Lua lists 1-based classes padded with 0); only the classes before the first -1
    count.  loss = sum over target classes j and non-target classes d of max(0, 1 - (x[j] - x[d])), divided by
    nClasses (and by the batch size when sizeAverage).  ``isTarget`` marks the target classes (Torch7's field)."""

    def __init__(self, sizeAverage=True):
        super().__init__(sizeAverage)
        self.isTarget = self._tcls()

    def _terms(self, input, target):
        x = self._coerce(input)._a
        _check_dims(self, x)
        n = x.shape[-1]
        x2 = x.reshape(1, n) if x.ndim == 1 else x
        xp = array_module(x)
        a = _index_array(self, target, backend.is_cuda_array(x))
        if a.shape != x.shape:
            raise ValueError(f"{self!r}: expected a target of size {sizestr(x.shape)} (the input's size: 0-based "
                             f"target classes then -1 padding), got size {sizestr(a.shape)}")
        a = a.reshape(x2.shape)
        if a.size:
            lo, hi = _range(a)
            if lo < -1 or hi >= n:
                bad = (a < -1) | (a >= n)
                i = np.unravel_index(int(bad.reshape(-1).argmax()), a.shape)
                raise ValueError(f"{self!r}: target {int(a[i])} at {list(map(int, i))} is out of range for {n} "
                                 f"classes: targets are 0-based class indices in [0, {n - 1}], padded with -1")
        b = x2.shape[0]
        # the entries before the first -1: no -1 up to there (counted in ints: numpy's cumsum of bools into an int
        # buffer would make an int copy of them)
        nneg = self._buffer('_nneg', a.shape, dtype=np.int64)
        xp.less(a, 0, out=nneg)
        nneg = xp.cumsum(nneg, axis=1, out=nneg)
        valid = xp.equal(nneg, 0, out=self._bools('_valid', a.shape))
        k = int(xp.sum(valid, axis=1, out=self._buffer('_nvalid', (b,), dtype=np.int64)).max()) if a.size else 0
        tk = self._buffer('_tk', (b, k), dtype=a.dtype)
        xp.multiply(a[:, :k], valid[:, :k], out=tk)               # (-1 padding -> class 0, masked out)
        vk = valid[:, :k]
        shape = (b, k, n)
        onehot = self._bools('_onehot', shape)                     # onehot[b, j, c]: target j of sample b is c
        xp.equal(tk[:, :, None], self._arange('_classes', n), out=onehot)
        onehot &= vk[:, :, None]
        is_t = xp.any(onehot, axis=1, out=self._bools('_is_t', (b, n)))     # batch x n
        resized(self.isTarget, x.shape)[...] = is_t.reshape(x.shape)
        xt = _picked(self, '_xt', x2, tk, _target_positions(self, x2, tk))     # x[j] of each target j
        z = self._buffer('_z', shape)
        xp.subtract(x2[:, None, :], xt[:, :, None], out=z)
        z += 1                                                    # 1 - x[j] + x[d]
        mask = self._bools('_pairs', shape)                        # valid target j, non-target d
        xp.logical_not(is_t, out=is_t)
        xp.logical_and(vk[:, :, None], is_t[:, None, :], out=mask)
        return x, x2, z, mask, onehot, xp

    def updateOutput(self, input, target):
        x, x2, z, mask, onehot, xp = self._terms(input, target)
        xp.clip(z, 0, _INF, out=z)
        z *= mask
        s = float(z.sum()) / x2.shape[1]
        if self.sizeAverage:
            s /= x2.shape[0]
        return self._loss(s)

    def updateGradInput(self, input, target):
        x, x2, z, mask, onehot, xp = self._terms(input, target)
        b, n = x2.shape
        g = 1.0 / (b * n) if self.sizeAverage else 1.0 / n
        act = z                                                   # (z > 0) & mask, as numbers
        xp.greater(z, 0, out=act)
        act *= mask
        gi = resized(self.gradInput, x.shape).reshape(x2.shape)
        xp.sum(act, axis=1, out=gi)                               # + g for each violating non-target d ...
        # ... - g for the target j, once per violation
        per_target = xp.sum(act, axis=2, out=self._buffer('_per_target', act.shape[:2]))
        oh = self._buffer('_onehot_f', onehot.shape)
        oh[...] = onehot
        back = xp.matmul(per_target[:, None, :], oh, out=self._buffer('_back', (b, 1, n)))
        gi -= back[:, 0, :]
        gi *= g
        return self.gradInput


class MultiLabelSoftMarginCriterion(_LastDimWeighted):
    """Sigmoid + binary cross-entropy in the stable form (Torch7's): loss = sum w (log(1 + exp(-|x|)) + max(x, 0)
    - x t), averaged over all elements when sizeAverage; weights per element of the last dim."""

    def __init__(self, weights=None, sizeAverage=True):
        super().__init__(weights, sizeAverage)
        self.sigmoid = Sigmoid()

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        xp = array_module(x)
        w = self._w(x)
        self.sigmoid.updateOutput(x)
        a = self._buffer('_a', x.shape)
        b = self._buffer('_b', x.shape)
        xp.abs(x, out=a)
        xp.negative(a, out=a)
        xp.exp(a, out=a)
        xp.log1p(a, out=a)                # log(1 + exp(-|x|))
        xp.clip(x, 0, _INF, out=b)
        a += b
        xp.multiply(x, t, out=b)
        a -= b
        if w is not None:
            a *= w
        return self._loss(float(a.sum()) * self._norm(x.size))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        w = self._w(x)
        gi = resized(self.gradInput, x.shape)
        s = self.sigmoid.output._a
        if s.shape != x.shape:
            s = self.sigmoid.updateOutput(x)._a
        array_module(x).subtract(s, t, out=gi)
        if w is not None:
            gi *= w
        self._average(gi, x.size)
        return self.gradInput


# -- margins on pairs and labels -------------------------------------------------------------------------
def _labels(crit, y, n, dtype, cuda, what='y'):
    """Labels (1 / -1) as an array of n values of ``dtype``: a number is repeated (into a kept buffer)."""
    if isinstance(y, (numbers.Real, np.number)) and not isinstance(y, (bool, np.bool_)):
        buf = crit._buffer('_labels', (n,), dtype=dtype)
        buf.fill(y)
        return buf
    if isinstance(y, Tensor):
        a = y._a
    elif isinstance(y, np.ndarray) or backend.is_cuda_array(y):
        a = y
    elif isinstance(y, (list, tuple)):
        a = np.asarray(y)
    else:
        raise TypeError(f"{crit!r}: expected the labels {what} as a number, a tensor, a numpy array or a list, got "
                        f"{type(y).__name__}")
    if a.size != n:
        raise ValueError(f"{crit!r}: expected {n} labels in {what}, got size {sizestr(a.shape)}")
    a = a.reshape(-1)
    if backend.is_cuda_array(a) != cuda:
        a = backend.to_device(a, cuda)
    return a.astype(dtype, copy=False)


class MarginCriterion(Criterion):
    """Two-class hinge loss: mean (or sum) of max(0, margin - x t) for labels t = 1 / -1."""

    def __init__(self, margin=1, sizeAverage=True):
        super().__init__()
        self.margin = margin
        self.sizeAverage = sizeAverage

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        xp = array_module(x)
        z = self._buffer('_z', x.shape)
        xp.multiply(x, t, out=z)
        xp.subtract(self.margin, z, out=z)
        xp.clip(z, 0, _INF, out=z)
        return self._loss(float(z.sum()) * self._norm(x.size))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        xp = array_module(x)
        gi = resized(self.gradInput, x.shape)
        m = self._buffer('_z', x.shape)
        xp.multiply(x, t, out=m)
        xp.less(m, self.margin, out=m)    # x t < margin
        xp.multiply(t, m, out=gi)
        gi *= -self._norm(x.size)
        return self.gradInput


class SoftMarginCriterion(_Averaged):
    """Two-class logistic loss: mean (or sum) of log(1 + exp(-x t)) for labels t = 1 / -1 (computed stably)."""

    def _v(self, x, t, xp):
        v = self._buffer('_negxt', x.shape)
        xp.multiply(x, t, out=v)
        xp.negative(v, out=v)             # v = -x t
        e = self._buffer('_expv', x.shape)
        xp.abs(v, out=e)
        xp.negative(e, out=e)
        xp.exp(e, out=e)                  # exp(-|v|), in (0, 1]
        return v, e

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        xp = array_module(x)
        v, e = self._v(x, t, xp)
        xp.log1p(e, out=e)
        xp.clip(v, 0, _INF, out=v)
        v += e                            # log(1 + exp(v)) = max(v, 0) + log(1 + exp(-|v|))
        return self._loss(float(v.sum()) * self._norm(x.size))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        xp = array_module(x)
        v, e = self._v(x, t, xp)
        gi = resized(self.gradInput, x.shape)
        # -t sigmoid(v) / n, sigmoid(v) = (v >= 0 ? 1 : e) / (1 + e)
        xp.greater_equal(v, 0, out=v)     # m
        xp.subtract(1, v, out=gi)
        gi *= e
        gi += v                           # e (1 - m) + m
        e += 1
        gi /= e
        gi *= t
        gi *= -self._norm(x.size)
        return self.gradInput


class HingeEmbeddingCriterion(Criterion):
    """For labels y = 1 / -1: x where y == 1, max(0, margin - x) where y == -1; mean (or sum) over elements.
    ``y`` may be a number (then for every element), a tensor, a numpy array or a list."""

    def __init__(self, margin=1, sizeAverage=True):
        super().__init__()
        self.margin = margin
        self.sizeAverage = sizeAverage

    def updateOutput(self, input, y):
        x = self._coerce(input)._a
        xp = array_module(x)
        yy = _labels(self, y, x.size, x.dtype, backend.is_cuda_array(x)).reshape(x.shape)
        a = self._buffer('_a', x.shape)
        b = self._buffer('_b', x.shape)
        xp.not_equal(yy, -1, out=a)
        a *= x                            # x where y != -1
        xp.subtract(self.margin, x, out=b)
        xp.clip(b, 0, _INF, out=b)
        m = self._bools('_m', x.shape)
        xp.not_equal(yy, 1, out=m)
        b *= m                            # max(0, margin - x) where y != 1
        a += b
        return self._loss(float(a.sum()) * self._norm(x.size))

    def updateGradInput(self, input, y):
        x = self._coerce(input)._a
        xp = array_module(x)
        yy = _labels(self, y, x.size, x.dtype, backend.is_cuda_array(x)).reshape(x.shape)
        gi = resized(self.gradInput, x.shape)
        m = self._bools('_m', x.shape)
        m2 = self._bools('_m2', x.shape)
        xp.equal(yy, -1, out=m)
        xp.greater(x, self.margin, out=m2)
        m &= m2
        xp.logical_not(m, out=m)          # not (y == -1 and x > margin)
        xp.multiply(yy, m, out=gi)
        self._average(gi, x.size)
        return self.gradInput


def _table2(crit, input):
    if not isinstance(input, (list, tuple)) or len(input) != 2:
        raise TypeError(f"{crit!r}: expected a table input [x1, x2], got {type(input).__name__}")
    a = crit._coerce(input[0], 'input[0]')._a
    b = crit._coerce(input[1], 'input[1]')._a
    if a.shape != b.shape:
        raise ValueError(f"{crit!r}: input[0] of size {sizestr(a.shape)} and input[1] of size {sizestr(b.shape)} "
                         f"differ")
    return a, b


class CosineEmbeddingCriterion(Criterion):
    """For a table input [x1, x2] (1-D, or 2-D batches of rows) and labels y = 1 / -1: 1 - cos(x1, x2) where
    y == 1, max(0, cos(x1, x2) - margin) where y == -1; averaged over the batch when sizeAverage.  As Torch7,
    cos = x1.x2 / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12))."""

    def __init__(self, margin=0, sizeAverage=True):
        super().__init__()
        self.margin = margin
        self.gradInput = [self._tcls(), self._tcls()]
        self.sizeAverage = sizeAverage

    def _cos(self, input, y):
        a, b = _table2(self, input)
        _check_dims(self, a, 'input[0]')
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(1, -1) if b.ndim == 1 else b
        xp = array_module(a)
        yy = _labels(self, y, a2.shape[0], a.dtype, backend.is_cuda_array(a))
        n = a2.shape[0]
        w1, w22, w32, w, out, tmp = (self._buffer(k, (n,)) for k in ('_w1', '_w22', '_w32', '_w', '_out', '_tmp'))
        rowdot_into(a2, b2, w1)
        for wk, u in ((w22, a2), (w32, b2)):
            rowdot_into(u, u, wk)
            wk += _EPS
            xp.divide(1, wk, out=wk)                  # 1 / (|x|^2 + eps)
        xp.multiply(w22, w32, out=w)
        xp.sqrt(w, out=w)
        cos = self._buffer('_cosv', (n,))
        xp.multiply(w1, w, out=cos)
        # out = cos - margin clipped at 0 where y == -1, 1 - cos where y == 1, cos elsewhere
        m = self._bools('_ym', (n,))
        out[...] = cos
        xp.equal(yy, 1, out=m)
        xp.subtract(1, cos, out=tmp)
        xp.copyto(out, tmp, where=m)
        xp.equal(yy, -1, out=m)
        xp.subtract(cos, self.margin, out=tmp)
        xp.clip(tmp, 0, _INF, out=tmp)
        xp.copyto(out, tmp, where=m)
        return a, b, a2, b2, yy, w1, w22, w32, w, out, xp

    def updateOutput(self, input, y):
        *_, yy, w1, w22, w32, w, out, xp = self._cos(input, y)
        s = float(out.sum())
        if self.sizeAverage:
            s /= yy.shape[0]
        return self._loss(s)

    def updateGradInput(self, input, y):
        a, b, a2, b2, yy, w1, w22, w32, w, out, xp = self._cos(input, y)
        n = a2.shape[0]
        r, c = self._buffer('_r', (n,)), self._buffer('_tmp', (n,))
        m = self._bools('_ym', (n,))
        xp.equal(yy, 1, out=m)
        r[...] = m
        r *= -2
        r += 1                                        # -1 where y == 1, else 1 ...
        xp.greater(out, 0, out=m)
        r *= m                                        # ... where the loss is > 0, else (+-)0
        if self.sizeAverage:
            r /= yy.shape[0]
        for gk, (u, v, wself) in zip(pair_grad(self, (a.shape, a.shape)), ((a2, b2, w22), (b2, a2, w32))):
            gk = gk.reshape(u.shape)
            xp.multiply(w1, wself, out=c)
            xp.multiply(u, c[:, None], out=gk)
            xp.subtract(v, gk, out=gk)                # x_other - (x1.x2 / |x_self|^2) x_self
            xp.multiply(w, r, out=c)
            gk *= c[:, None]
        return self.gradInput


class MarginRankingCriterion(Criterion):
    """For a table input [x1, x2] and labels y = 1 / -1 (x1 should rank higher when y == 1):
    max(0, -y (x1 - x2) + margin).  With a number y the inputs hold one element each (Torch7's non-batch mode,
    no averaging); with a tensor of labels the loss is averaged over them when sizeAverage."""

    def __init__(self, margin=1, sizeAverage=True):
        super().__init__()
        self.margin = margin
        self.gradInput = [self._tcls(1), self._tcls(1)]
        self.sizeAverage = sizeAverage

    def _dist(self, input, y):
        a, b = _table2(self, input)
        xp = array_module(a)
        number = isinstance(y, (numbers.Real, np.number)) and not isinstance(y, (bool, np.bool_))
        if number and a.size != 1:
            raise ValueError(f"{self!r}: with a number label y the inputs must hold one element each, got size "
                             f"{sizestr(a.shape)} (pass a tensor of labels for a batch)")
        yy = _labels(self, y, a.size, a.dtype, backend.is_cuda_array(a)).reshape(a.shape)
        d = self._buffer('_d', a.shape)
        xp.subtract(b, a, out=d)
        d *= yy
        d += self.margin                  # -y (x1 - x2) + margin
        return a, yy, d, number, xp

    def updateOutput(self, input, y):
        a, yy, d, number, xp = self._dist(input, y)
        s = float(xp.clip(d, 0, _INF, out=d).sum())     # (d: scratch, made again by each call)
        if not number and self.sizeAverage:
            s /= yy.size
        return self._loss(s)

    def updateGradInput(self, input, y):
        a, yy, d, number, xp = self._dist(input, y)
        m = self._buffer('_m', a.shape)
        xp.greater_equal(d, 0, out=m)
        m *= yy
        if not number and self.sizeAverage:
            m /= yy.size
        g1, g2 = pair_grad(self, (a.shape, a.shape))
        xp.negative(m, out=g1)
        g2[...] = m
        return self.gradInput


# -- combinations ----------------------------------------------------------------------------------------
def _zeros_like(crit, current, like):
    """``current`` (a tensor or a list, reused where it fits) shaped like ``like`` and zero-filled."""
    if isinstance(like, (list, tuple)):
        cur = current if isinstance(current, list) else []
        return [_zeros_like(crit, cur[i] if i < len(cur) else None, e) for i, e in enumerate(like)]
    a = crit._coerce(like)._a
    t = current if isinstance(current, Tensor) and current._info is crit._tinfo else crit._tcls()
    resized(t, a.shape).fill(0)
    return t


def _add_scaled(crit, dst, w, src):
    """dst += w * src (tensors or nested lists of them)."""
    if isinstance(dst, list):
        for d, s in zip(dst, src):
            _add_scaled(crit, d, w, s)
        return
    s = src._a if isinstance(src, Tensor) else src
    if w == 1:
        dst._a += s
    else:
        tmp = crit._buffer('_scaled', s.shape)
        array_module(s).multiply(s, w, out=tmp)
        dst._a += tmp


class MultiCriterion(Criterion):
    """A weighted sum of criterions applied to the same (input, target): ``add(criterion, weight=1)``.  The
    weights are kept in a DoubleStorage, as Torch7."""

    def __init__(self):
        super().__init__()
        self.criterions = []
        self.weights = STORAGE_CLASSES['DoubleStorage'](0)

    def add(self, criterion, weight=1):
        if criterion is None:
            raise ValueError("nn.MultiCriterion.add: no criterion provided")
        self.criterions.append(criterion)
        self.weights.resize(len(self.criterions))
        self.weights[len(self.criterions) - 1] = weight
        return self

    def updateOutput(self, input, target):
        s = 0.0
        for i, c in enumerate(self.criterions):
            s += self.weights[i] * c.updateOutput(input, target)
        self.output = s
        return s

    def updateGradInput(self, input, target):
        self.gradInput = _zeros_like(self, self.gradInput, input)
        for i, c in enumerate(self.criterions):
            _add_scaled(self, self.gradInput, self.weights[i], c.updateGradInput(input, target))
        return self.gradInput


class ParallelCriterion(Criterion):
    """Criterion i on (input[i], target[i]) (or on the same target for every input with repeatTarget=True),
    summed with weights: ``add(criterion, weight=1)``."""

    def __init__(self, repeatTarget=False):
        super().__init__()
        self.criterions = []
        self.weights = []
        self.gradInput = []
        self.repeatTarget = repeatTarget

    def add(self, criterion, weight=1):
        if criterion is None:
            raise ValueError("nn.ParallelCriterion.add: no criterion provided")
        self.criterions.append(criterion)
        self.weights.append(weight)
        return self

    def _check(self, input, target):
        if not isinstance(input, (list, tuple)) or len(input) < len(self.criterions):
            raise TypeError(f"{self!r}: expected a table input with (at least) {len(self.criterions)} entries, got "
                            f"{type(input).__name__}")
        if not self.repeatTarget and (not isinstance(target, (list, tuple)) or len(target) < len(self.criterions)):
            raise TypeError(f"{self!r}: expected a table target with (at least) {len(self.criterions)} entries "
                            f"(or repeatTarget=True), got {type(target).__name__}")

    def updateOutput(self, input, target):
        self._check(input, target)
        s = 0.0
        for i, c in enumerate(self.criterions):
            s += self.weights[i] * c.updateOutput(input[i], target if self.repeatTarget else target[i])
        self.output = s
        return s

    def updateGradInput(self, input, target):
        self._check(input, target)
        self.gradInput = _zeros_like(self, self.gradInput, input)
        for i, c in enumerate(self.criterions):
            g = c.updateGradInput(input[i], target if self.repeatTarget else target[i])
            _add_scaled(self, self.gradInput[i], self.weights[i], g)
        return self.gradInput

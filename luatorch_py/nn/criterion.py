"""Criterions: a loss (Python float) from (input, target), and its gradient with respect to the input.

Behaviour follows Torch7's nn Lua files and THNN C code: same fields (saved to .t7), same normalizations
(``sizeAverage``; ClassNLL divides by the total weight of the targets), same values at the kinks.

Python differs from Lua in one place: class indices are 0-based.  ClassNLLCriterion, CrossEntropyCriterion and
MultiMarginCriterion take targets in [0, nClasses - 1] (a LongTensor, a numpy integer array, a list, or a Python int
for a 1-D input); MultiLabelMarginCriterion takes 0-based classes padded with -1 (Lua pads 1-based classes with 0);
ClassNLLCriterion's ``ignoreIndex`` is 0-based too (converted to Lua's 1-based value when saved).

The arithmetic lives in backend/gpu_loss.py (numpy code on the CPU, CUDA kernels on the GPU: a constant, small
number of launches per pass, and on CUDA a loss kept on the device until ``forward`` reads it).
"""
import numbers

import numpy as np

from .. import backend
from ..backend import array_module, gpu_loss
from ..tensor import Tensor
from ..storage import STORAGE_CLASSES
from ..types import TYPES
from .module import TypedObject, _nngraph, check_nonempty, pair_grad, resized, sizestr
from .activation import LogSoftMax, Sigmoid

_INF = float('inf')
_F64 = np.dtype(np.float64)
_add_reduce = np.add.reduce         # the ufuncs' methods themselves (ndarray.sum / max go through Python wrappers)
_umax = np.maximum.reduce
_umin = np.minimum.reduce


class Criterion(TypedObject):
    """Base of every criterion (Torch7's nn.Criterion): ``forward`` returns a Python float, ``backward`` the
    gradient tensor ``gradInput``."""
    __torch_name__ = 'nn.Criterion'

    def __init__(self):
        self._init_type()
        self.gradInput = self._tcls()
        self.output = 0.0

    def updateOutput(self, input, target):
        raise NotImplementedError(f"{type(self).__name__}: a criterion defines updateOutput(input, target) (the loss, "
                                  f"also stored in self.output); forward calls it")

    def updateGradInput(self, input, target):
        raise NotImplementedError(f"{type(self).__name__}: a criterion defines updateGradInput(input, target) (the "
                                  f"gradient, stored in self.gradInput); backward calls it")

    def __sub__(self, other):
        """``criterion - module``: nngraph's error naming both sides, as Module's (nngraph/operators.py replaces this
        when nngraph loads)."""
        return _nngraph('operators')._module_sub(self, other)

    def forward(self, input, target):
        return self.updateOutput(input, target)

    def forwardDevice(self, input, target):
        """The loss as a 1-element tensor of the criterion's type, without reading it back to the host: on CUDA
        no synchronization (what a captured step or a loop that prints its loss every N batches needs); read it
        with ``float(t)`` or ``t[0]``.  The tensor is kept by the criterion and overwritten by the next call.
        ``output`` is left as it was (Torch7's ``forward`` keeps the number there)."""
        self._deferred = True
        try:
            self.updateOutput(input, target)
        finally:
            self._deferred = False
        return self._loss_t

    def backward(self, input, target):
        return self.updateGradInput(input, target)

    __call__ = forward

    def _pair(self, input, target):
        """(input array, target array) of this criterion's type with equal sizes, or an error naming both."""
        tc = self._tcls
        x = input._a if input.__class__ is tc else self._coerce(input)._a
        t = target._a if target.__class__ is tc else self._coerce(target, 'target')._a
        if x.shape != t.shape:
            if x.size != t.size:
                raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} and target of size "
                                 f"{sizestr(t.shape)} differ")
            t = t.reshape(x.shape)
        if x.size == 0:        # (Torch7 divides by the count: a NaN loss; the caller's bug is an empty batch)
            check_nonempty(self, x)
        return x, t

    def _lossbuf(self):
        """The kept 1-element array (of ``_loss_t``, the criterion's type and device) a loss computed on the device
        can be written into."""
        t = self.__dict__.get('_loss_t')
        if t is None or t.__class__ is not self._tcls:
            t = self._loss_t = self._tcls(1)
        return t._a

    def _loss(self, value):
        """Store and return the loss rounded to the criterion's element type (Torch7 keeps it as a `real`).
        ``value`` may be a device array (read back here: one synchronization); under ``forwardDevice`` it is
        kept on the device instead (in ``_loss_t``) and that tensor is returned."""
        if self.__dict__.get('_deferred'):
            buf = self._lossbuf()
            if value is not buf:
                buf[...] = value
            return self._loss_t
        if value.__class__ is not float and not isinstance(value, (int, float, np.generic)):
            value = float(value.reshape(())) if getattr(value, 'size', 1) == 1 else float(value)
        dt = self._tinfo.dtype
        self.output = float(value) if dt is _F64 else float(dt.type(value)) if dt.kind == 'f' else float(value)
        return self.output

    def _checked_loss(self, value, recheck):
        """``_loss(value)`` for a loss computed by a CUDA kernel that checks class targets on the device: a target
        out of range raises the criterion's error flag ``_err`` (sticky) and the loss is written as NaN.  When a
        loss read back here is NaN and the flag is up (a second synchronization, only then), the flag is cleared
        and ``recheck()`` raises the CPU path's error for this call's targets; if they are fine, the bad target
        was an earlier forwardDevice or backward call's, and that is what the error says."""
        loss = self._loss(value)
        if self.__dict__.get('_deferred') or loss == loss:
            return loss
        err = self.__dict__.get('_err')
        if err is None or type(err) is np.ndarray or not int(backend.to_numpy(err)[0]):
            return loss
        err.fill(0)
        recheck()
        raise ValueError(f"{self!r}: a target out of range was met by an earlier forwardDevice() or backward() call "
                         f"(on CUDA the kernels check the targets: that call's loss was NaN and its gradient 0 for "
                         f"the bad samples)")

    def _norm(self, n):
        return 1.0 / n if self.sizeAverage and n else 1.0

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
    truncated, as Lua's :long()), a numpy/CuPy array, a list or a Python number.  On CUDA a target of the
    criterion's own float type (a CudaTensor, as ``:cuda()`` makes it) is kept as it is: the kernels truncate it."""
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
    if a.dtype.kind == 'f' and type(a) is np.ndarray and not np.isfinite(a).all():
        bad = a.reshape(-1)[int(np.argmin(np.isfinite(a.reshape(-1))))]
        raise ValueError(f"{crit!r}: expected class indices in the {what}, got {float(bad)} (a float target is "
                         f"truncated to its class; NaN and inf are none)")
    if backend.is_cuda_array(a) != cuda:
        a = backend.to_device(a, cuda)
    return gpu_loss.class_indices(crit, a)      # int64 (on CUDA a target of the criterion's float type stays so)


def _class_targets(crit, target, x, ignore=None):
    """The targets of input ``x`` (1-D: one sample, 2-D: a batch) as an int64 array of shape (batch,), checked to
    be 0-based classes of x's last dim (or ``ignore``): on the CPU here, on CUDA by the kernels that read them (no
    synchronization).  Returns (targets, (min, max) on the CPU, None on CUDA)."""
    n = x.shape[-1]
    batch = x.shape[0] if x.ndim == 2 else 1
    _check_nonempty(crit, x)
    a = _index_array(crit, target, backend.is_cuda_array(x))
    if x.ndim == 1:
        if a.size != 1:
            raise ValueError(f"{crit!r}: expected one target class for a 1-D input of {n} classes, got a target of "
                             f"size {sizestr(a.shape)}")
    elif a.size != batch or not (a.ndim == 1 or (a.ndim == 2 and a.shape[1] == 1)):
        raise ValueError(f"{crit!r}: expected a target of size [{batch}] (one class index per sample) for an input "
                         f"of size {sizestr(x.shape)}, got a target of size {sizestr(a.shape)}")
    a = a.reshape(-1)
    rng = gpu_loss.host_range(a)
    if rng is not None and (rng[0] < 0 or rng[1] >= n):
        _out_of_range(crit, a, x, n, ignore)
    return a, rng


def _out_of_range(crit, a, x, n, ignore=None):
    """Raise the error naming the first target of ``a`` outside [0, n) (``ignore`` apart), if there is one (on
    CUDA this reads the targets back: only on the error path)."""
    if a.dtype.kind == 'f':
        a = a.astype(np.int64)      # (as the kernels read float targets)
    bad = (a < 0) | (a >= n)
    if ignore is not None:
        bad &= a != ignore
    if bool(bad.any()):
        i = int(bad.argmax())
        at = f" (sample {i})" if x.ndim == 2 else ""
        raise ValueError(f"{crit!r}: target {int(a[i])}{at} is out of range for {n} classes: targets are 0-based "
                         f"class indices in [0, {n - 1}] (Lua's 1-based targets need -1)")


def _check_dims(crit, x, what='input'):
    if x.ndim not in (1, 2):
        raise ValueError(f"{crit!r}: expected a 1-D or 2-D (batch) {what}, got size {sizestr(x.shape)}")
    _check_nonempty(crit, x, what)


def _check_nonempty(crit, x, what='input'):
    if x.size == 0:
        raise ValueError(f"{crit!r}: got an empty {what} (size {sizestr(x.shape)}): expected at least one sample of "
                         f"at least one value")


class _Averaged(Criterion):
    """A criterion whose only option is ``sizeAverage`` (average over the elements, or sum)."""

    def __init__(self, sizeAverage=True):
        super().__init__()
        self.sizeAverage = True if sizeAverage is None else sizeAverage


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

    # The CPU steady state of a training loop (e.g. the XOR tutorial, where the criterion's Python is a good part of
    # the step): once a call has met the input and target arrays of a float type with equal sizes, they are kept
    # (_hot_f, _hot_b: with the scratch, the gradient array, sizeAverage and the kept scale) and a later call with
    # these very arrays runs gpu_loss's CPU arithmetic alone, with the same values.  Anything else: the general path.
    def updateOutput(self, input, target):
        d = self.__dict__
        h = d.get('_hot_f')
        if (h is not None and input.__class__ is h[0] and target.__class__ is h[0] and input._a is h[1]
                and target._a is h[2] and self.sizeAverage is h[3] and d.get('_diff') is h[4]
                and not d.get('_deferred')):
            np.subtract(h[1], h[2], out=h[4])
            flat = h[7]
            s = float(flat.dot(flat))       # (the same BLAS dot as gpu_loss's vdot, without its dispatch)
            self.output = v = float(h[6](s / h[5] if h[3] else s))
            return v
        x, t = self._pair(input, target)
        loss = self._loss(gpu_loss.mse_loss(self, x, t, self.sizeAverage))
        tc = self._tcls
        if (type(x) is np.ndarray and input.__class__ is tc and target.__class__ is tc and x.shape == t.shape
                and x.dtype.kind == 'f' and self.sizeAverage in (True, False) and '_diff' in d):
            diff = d['_diff']
            d['_hot_f'] = (tc, x, t, self.sizeAverage, diff, x.size, x.dtype.type, diff.reshape(-1))
        return loss

    def updateGradInput(self, input, target):
        d = self.__dict__
        h = d.get('_hot_b')
        if (h is not None and input.__class__ is h[0] and target.__class__ is h[0] and input._a is h[1]
                and target._a is h[2] and self.sizeAverage is h[3] and self.gradInput._a is h[4]):
            gi = h[4]
            np.subtract(h[1], h[2], out=gi)
            gi *= h[5]
            return self.gradInput
        x, t = self._pair(input, target)
        gi = self.gradInput
        a = gi._a if gi.__class__ is self._tcls and gi._a.shape == x.shape else resized(gi, x.shape)
        gpu_loss.mse_grad(self, x, t, a, self.sizeAverage)
        tc = self._tcls
        k = d.get('_mse_k')
        if (type(x) is np.ndarray and input.__class__ is tc and target.__class__ is tc and x.shape == t.shape
                and self.sizeAverage in (True, False) and k is not None and k[1].dtype is a.dtype):
            d['_hot_b'] = (tc, x, t, self.sizeAverage, a, k[1])
        return gi


class AbsCriterion(_Averaged):
    """Mean (or summed) |x - t|; the gradient at x == t is +1 (Torch7)."""

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        return self._loss(gpu_loss.abs_loss(self, x, t, self._norm(x.size)))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        gpu_loss.abs_grad(self, x, t, resized(self.gradInput, x.shape), self._norm(x.size))
        return self.gradInput


class SmoothL1Criterion(_Averaged):
    """Huber loss: 0.5 d^2 where |d| < 1, |d| - 0.5 elsewhere (d = x - t), averaged or summed."""

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        return self._loss(gpu_loss.smoothl1_loss(self, x, t, self._norm(x.size)))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        gpu_loss.smoothl1_grad(self, x, t, resized(self.gradInput, x.shape), self._norm(x.size))
        return self.gradInput


class DistKLDivCriterion(_Averaged):
    """Kullback-Leibler divergence of the target distribution t from exp(x) (x: log-probabilities):
    sum over t > 0 of t * (log t - x), averaged or summed."""

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        return self._loss(gpu_loss.kldiv_loss(self, x, t, self._norm(x.size)))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        gpu_loss.kldiv_grad(self, x, t, resized(self.gradInput, x.shape), self._norm(x.size))
        return self.gradInput


class BCECriterion(_LastDimWeighted):
    """Binary cross-entropy -(t log(x + eps) + (1 - t) log(1 - x + eps)) (eps = 1e-12), optionally weighted per
    element of the last dim (``weights``), averaged over all elements or summed."""

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        if type(x) is np.ndarray and not (_umin(x, None) >= 0 and _umax(x, None) <= 1):   # (NaN fails both)
            self._not_probabilities(x)
        return self._loss(gpu_loss.bce_loss(self, x, t, self._w(x), self._norm(x.size)))

    def _not_probabilities(self, x):
        """THNN asserts 0 <= x <= 1 in the forward pass (a NaN loss otherwise); cunn does not check."""
        flat = x.reshape(-1)
        i = int(np.argmin((flat >= 0) & (flat <= 1)))
        raise ValueError(f"{self!r}: expected input values between 0 and 1 (probabilities, e.g. a Sigmoid's "
                         f"output), got {float(flat[i])} at element {i}")

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        w = self._w(x)
        gpu_loss.bce_grad(self, x, t, w, resized(self.gradInput, x.shape), self._norm(x.size))
        return self.gradInput


# -- classification --------------------------------------------------------------------------------------
class ClassNLLCriterion(Criterion):
    """Negative log-likelihood of the target classes, from log-probabilities (e.g. LogSoftMax's output).

    input: 1-D (nClasses) with one target, or 2-D (batch x nClasses) with a target per sample; targets are
    0-BASED class indices.  loss = -sum_i w[t_i] x[i, t_i], divided by sum_i w[t_i] (the total weight, batch size
    without weights) when sizeAverage.  Targets equal to ``ignoreIndex`` count for nothing (-100 by default, as
    PyTorch; any value outside [0, nClasses) never matches a class).

    On CUDA the forward pass is one kernel launch and the backward two, without a host synchronization: the targets
    are checked by the kernels as they read them (a target out of range is never read out of bounds; it raises an
    error flag kept on the device and makes the loss NaN).  ``forward`` reads the loss back anyway and raises the
    CPU's ValueError for a bad target there.  In a loop of ``forwardDevice`` and ``backward`` calls only, a bad
    target shows as a NaN loss (and a zero gradient for its sample), and the error is raised by the next
    ``forward()`` (the flag stays up until then: later forwardDevice losses are NaN too)."""
    _lua_index_fields = ('ignoreIndex',)

    def __init__(self, weights=None, sizeAverage=True, ignoreIndex=-100):
        super().__init__()
        self.sizeAverage = True if sizeAverage is None else sizeAverage
        self.ignoreIndex = ignoreIndex
        if weights is not None:
            self.weights = self._as_param(weights)
        # Torch7's fields (kept so that a saved criterion loads and runs in Lua)
        self.output_tensor = self._tcls(1).zero()
        self.total_weight_tensor = self._tcls(1).fill(1)
        self.target = _long_zeros()

    def _prepare(self, input, target):
        """(input, input as batch x n, targets, their (min, max) on the CPU (None on CUDA), class weights or None)."""
        x = self._coerce(input)._a
        _check_dims(self, x)
        n = x.shape[-1]
        x2 = x.reshape(-1, n) if x.ndim == 1 else x
        t, rng = _class_targets(self, target, x, self.ignoreIndex)
        w = self.__dict__.get('weights')
        if w is not None:
            if w.nElement() != n:
                raise ValueError(f"{self!r}: weight tensor should be defined either for all {n} classes or no "
                                 f"classes, got weights of size {sizestr(w.shape)}")
            w = w._a
        return x, x2, t, rng, w

    # The CPU steady state of a training loop: once a call has met a C-contiguous batch (input tensor) and an int64
    # LongTensor of targets, without class weights and with an ignoreIndex that is no class, their arrays are kept
    # (_hot_f / _hot_b, with the flat views and scratch the general path uses) and a later call with these very
    # arrays checks the targets' values (one unsigned max: a negative target wraps to a huge number) and runs the
    # general path's numpy calls alone.  Anything else, or a target out of range: the general path.
    def updateOutput(self, input, target):
        d = self.__dict__
        h = d.get('_hot_f')
        if (h is not None and input.__class__ is h[0] and target.__class__ is h[1] and input._a is h[2]
                and target._a is h[3] and self.sizeAverage is h[4] and self.ignoreIndex is h[5]
                and 'weights' not in d and not d.get('_deferred') and _umax(h[6]) < h[7]):
            idx, picked = h[9], h[10]
            np.add(h[8], h[3], out=idx)
            np.take(h[11], idx, out=picked, mode='clip')
            s = -float(_add_reduce(picked))
            if h[4]:
                s /= h[12]
            self.output = v = float(h[13](s))
            return v
        x, x2, t, rng, w = self._prepare(input, target)
        ign = self.ignoreIndex
        loss = self._checked_loss(gpu_loss.class_nll_loss(self, x2, t, rng, w, ign, self.sizeAverage),
                                  lambda: _out_of_range(self, t, x, x2.shape[1], ign))
        hot = self._hot_arrays(input, target, x)
        if hot is not None and x.dtype.kind == 'f' and d.get('_picked') is not None:
            d['_hot_f'] = hot + (d['_picked'], x.reshape(-1), float(x.shape[0]), x.dtype.type)
        return loss

    def updateGradInput(self, input, target):
        d = self.__dict__
        h = d.get('_hot_b')
        if (h is not None and input.__class__ is h[0] and target.__class__ is h[1] and input._a is h[2]
                and target._a is h[3] and self.sizeAverage is h[4] and self.ignoreIndex is h[5]
                and 'weights' not in d and self.gradInput._a is h[10] and _umax(h[6]) < h[7]):
            idx = h[9]
            np.add(h[8], h[3], out=idx)
            h[10].fill(0)
            h[11][idx] = h[12]
            return self.gradInput
        x, x2, t, rng, w = self._prepare(input, target)
        gi = resized(self.gradInput, x.shape)
        gpu_loss.class_nll_grad(self, x2, t, rng, w, self.ignoreIndex, self.sizeAverage, gi.reshape(x2.shape))
        hot = self._hot_arrays(input, target, x)
        if hot is not None and gi.flags.c_contiguous:
            d['_hot_b'] = hot + (gi, gi.reshape(-1), -(1.0 / x.shape[0] if self.sizeAverage else 1.0))
        return self.gradInput

    def _hot_arrays(self, input, target, x):
        """What both hot paths key on and use, after a general call on ``input`` (array ``x``) and ``target``:
        (input class, target class, x, targets, sizeAverage, ignoreIndex, the targets' unsigned view, nClasses,
        the flat offsets of the rows, the kept positions), or None when the call is not one they serve."""
        tc = self._tcls
        ign = self.ignoreIndex
        if (self.__class__ is not ClassNLLCriterion or input.__class__ is not tc or not isinstance(target, Tensor)
                or type(x) is not np.ndarray
                or x.ndim != 2 or not x.flags.c_contiguous or 'weights' in self.__dict__
                or self.sizeAverage not in (True, False) or type(ign) is not int or 0 <= ign < x.shape[1]):
            return None
        t = target._a
        idx = self.__dict__.get('_tpos')
        if (type(t) is not np.ndarray or t.dtype != np.int64 or t.shape != (x.shape[0],) or not t.flags.c_contiguous
                or idx is None or idx.shape != t.shape):
            return None
        n = x.shape[1]
        offsets = self._buffer('_row_offsets', t.shape, dtype=np.intp)
        np.multiply(self._arange('_rows', t.shape[0]), n, out=offsets)
        return (tc, target.__class__, x, t, self.sizeAverage, ign, t.view(np.uint64), n, offsets, idx)


def _long_zeros():
    return TYPES['torch.LongTensor'].tensor_class(1).zero()


class CrossEntropyCriterion(Criterion):
    """LogSoftMax then ClassNLLCriterion (fields ``lsm`` and ``nll``), on the squeezed input and target as Torch7:
    a 1 x nClasses input is one sample."""

    def __init__(self, weights=None, sizeAverage=True, ignoreIndex=-100):
        super().__init__()
        self.lsm = LogSoftMax()
        self.nll = ClassNLLCriterion(weights, sizeAverage, ignoreIndex)
        self.sizeAverage = True if sizeAverage is None else sizeAverage
        self.oldSizeAverage = self.sizeAverage

    def _squeezed(self, input):
        x = self._coerce(input)._a
        shape = tuple(d for d in x.shape if d != 1) or (1,)
        return x, x.reshape(shape)

    @staticmethod
    def _squeezed_target(target):
        """Torch7's ``target:squeeze()`` (a number as it is): a 1 x N target of a batch of N is N class indices."""
        a = target._a if isinstance(target, Tensor) else target
        if not (isinstance(a, np.ndarray) or backend.is_cuda_array(a)) or a.ndim <= 1 or a.size == 0:
            return target
        return a.reshape(tuple(d for d in a.shape if d != 1) or (1,))

    def _sync_size_average(self):
        """Torch7: sizeAverage goes to nll only when it changed since the last call (``oldSizeAverage``, updated by
        each call), so that a script setting ``nll.sizeAverage`` directly (the older way) keeps its setting."""
        d = self.__dict__
        if d.get('sizeAverage') != d.get('oldSizeAverage'):
            self.nll.sizeAverage = self.oldSizeAverage = d.get('sizeAverage')

    def _named(self, e):
        """Error ``e`` of the inner lsm/nll, naming this criterion (the user made a CrossEntropyCriterion)."""
        msg = str(e).replace(repr(self.nll), repr(self), 1).replace(repr(self.lsm), repr(self), 1)
        return type(e)(msg)

    def updateOutput(self, input, target):
        x, sq = self._squeezed(input)
        self._sync_size_average()
        try:
            self.lsm.updateOutput(sq)
            if self.__dict__.get('_deferred'):          # forwardDevice: the loss stays on the device (nll's tensor)
                self._loss_t = self.nll.forwardDevice(self.lsm.output, self._squeezed_target(target))
                return self._loss_t
            self.nll.updateOutput(self.lsm.output, self._squeezed_target(target))
        except (ValueError, TypeError, IndexError) as e:
            raise self._named(e) from None
        return self._loss(self.nll.output)

    def updateGradInput(self, input, target):
        x, sq = self._squeezed(input)
        self._sync_size_average()
        try:
            if self.lsm.output._a.shape != sq.shape:
                self.lsm.updateOutput(sq)
            self.nll.updateGradInput(self.lsm.output, self._squeezed_target(target))
        except (ValueError, TypeError, IndexError) as e:
            raise self._named(e) from None
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

    def _prepare(self, input, target):
        """(x, x as batch x n, targets (batch), class weights or None)."""
        x = self._coerce(input)._a
        _check_dims(self, x)
        n = x.shape[-1]
        x2 = x.reshape(-1, n) if x.ndim == 1 else x
        t, _ = _class_targets(self, target, x)
        w = self.__dict__.get('weights')
        if w is not None:
            if w.nElement() != n:
                raise ValueError(f"{self!r}: weights of size {sizestr(w.shape)} do not match the {n} classes")
            w = w._a
        return x, x2, t, w

    def updateOutput(self, input, target):
        x, x2, t, w = self._prepare(input, target)
        return self._checked_loss(gpu_loss.multi_margin_loss(self, x2, t, w, self.p, self.margin),
                                  lambda: _out_of_range(self, t, x, x2.shape[1]))

    def updateGradInput(self, input, target):
        x, x2, t, w = self._prepare(input, target)
        gi = resized(self.gradInput, x.shape).reshape(x2.shape)
        gpu_loss.multi_margin_grad(self, x2, t, w, self.p, self.margin, gi)
        return self.gradInput


class MultiLabelMarginCriterion(_Averaged):
    """Multi-class multi-label hinge loss.  The target has the input's size and lists each sample's target classes
    (0-BASED) first, then -1 padding (Lua lists 1-based classes padded with 0); only the classes before the first -1
    count.  loss = sum over target classes j and non-target classes d of max(0, 1 - (x[j] - x[d])), divided by
    nClasses (and by the batch size when sizeAverage).  ``isTarget`` marks the target classes (Torch7's field)."""

    def __init__(self, sizeAverage=True):
        super().__init__(sizeAverage)
        self.isTarget = self._tcls()

    def _prepare(self, input, target):
        """(x, x as batch x n, the targets as batch x n int64, isTarget's array as batch x n)."""
        x = self._coerce(input)._a
        _check_dims(self, x)
        n = x.shape[-1]
        x2 = x.reshape(1, n) if x.ndim == 1 else x
        a = _index_array(self, target, backend.is_cuda_array(x))
        if a.shape != x.shape:
            raise ValueError(f"{self!r}: expected a target of size {sizestr(x.shape)} (the input's size: 0-based "
                             f"target classes then -1 padding), got size {sizestr(a.shape)}")
        a = a.reshape(x2.shape)
        rng = gpu_loss.host_range(a) if a.size else None       # (None on CUDA: the kernels check the targets)
        if rng is not None and (rng[0] < -1 or rng[1] >= n):
            self._out_of_range(a)
        return x, x2, a, resized(self.isTarget, x.shape).reshape(x2.shape)

    def _out_of_range(self, a):
        n = a.shape[1]
        if a.dtype.kind == 'f':
            a = a.astype(np.int64)      # (as the kernels read float targets)
        bad = (a < -1) | (a >= n)
        if bool(bad.any()):
            i = np.unravel_index(int(bad.reshape(-1).argmax()), a.shape)
            raise ValueError(f"{self!r}: target {int(a[i])} at {list(map(int, i))} is out of range for {n} "
                             f"classes: targets are 0-based class indices in [0, {n - 1}], padded with -1")

    def updateOutput(self, input, target):
        x, x2, a, ist = self._prepare(input, target)
        return self._checked_loss(gpu_loss.mlm_loss(self, x2, a, ist), lambda: self._out_of_range(a))

    def updateGradInput(self, input, target):
        x, x2, a, ist = self._prepare(input, target)
        gpu_loss.mlm_grad(self, x2, a, ist, resized(self.gradInput, x.shape).reshape(x2.shape))
        return self.gradInput


class MultiLabelSoftMarginCriterion(_LastDimWeighted):
    """Sigmoid + binary cross-entropy in the stable form (Torch7's): loss = sum w (log(1 + exp(-|x|)) + max(x, 0)
    - x t), averaged over all elements when sizeAverage; weights per element of the last dim."""

    def __init__(self, weights=None, sizeAverage=True):
        super().__init__(weights, sizeAverage)
        self.sigmoid = Sigmoid()

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        w = self._w(x)
        self.sigmoid.updateOutput(x)
        return self._loss(gpu_loss.mlsm_loss(self, x, t, w, self._norm(x.size)))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        w = self._w(x)
        gi = resized(self.gradInput, x.shape)
        s = self.sigmoid.output._a
        if s.shape != x.shape:
            s = self.sigmoid.updateOutput(x)._a
        gpu_loss.mlsm_grad(self, s, t, w, gi, self._norm(x.size))
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
        self.sizeAverage = True if sizeAverage is None else sizeAverage

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        return self._loss(gpu_loss.margin_loss(self, x, t, self.margin, self._norm(x.size)))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        gpu_loss.margin_grad(self, x, t, resized(self.gradInput, x.shape), self.margin, self._norm(x.size))
        return self.gradInput


class SoftMarginCriterion(_Averaged):
    """Two-class logistic loss: mean (or sum) of log(1 + exp(-x t)) for labels t = 1 / -1 (computed stably)."""

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        return self._loss(gpu_loss.soft_margin_loss(self, x, t, self._norm(x.size)))

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        gpu_loss.soft_margin_grad(self, x, t, resized(self.gradInput, x.shape), self._norm(x.size))
        return self.gradInput


class HingeEmbeddingCriterion(Criterion):
    """For labels y = 1 / -1: x where y == 1, max(0, margin - x) where y == -1; mean (or sum) over elements.
    ``y`` may be a number (then for every element), a tensor, a numpy array or a list."""

    def __init__(self, margin=1, sizeAverage=True):
        super().__init__()
        self.margin = margin
        self.sizeAverage = True if sizeAverage is None else sizeAverage

    def _xy(self, input, y):
        x = self._coerce(input)._a
        check_nonempty(self, x)
        return x, _labels(self, y, x.size, x.dtype, backend.is_cuda_array(x)).reshape(x.shape)

    def updateOutput(self, input, y):
        x, yy = self._xy(input, y)
        return self._loss(gpu_loss.hinge_loss(self, x, yy, self.margin, self._norm(x.size)))

    def updateGradInput(self, input, y):
        x, yy = self._xy(input, y)
        gpu_loss.hinge_grad(self, x, yy, resized(self.gradInput, x.shape), self.margin, self._norm(x.size))
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
        self.sizeAverage = True if sizeAverage is None else sizeAverage

    def _rows(self, input, y):
        """(x1, x1 and x2 as batch x D, the labels (batch))."""
        a, b = _table2(self, input)
        _check_dims(self, a, 'input[0]')
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(1, -1) if b.ndim == 1 else b
        return a, a2, b2, _labels(self, y, a2.shape[0], a.dtype, backend.is_cuda_array(a))

    def updateOutput(self, input, y):
        a, a2, b2, yy = self._rows(input, y)
        return self._loss(gpu_loss.cosine_loss(self, a2, b2, yy, self.margin, self.sizeAverage))

    def updateGradInput(self, input, y):
        a, a2, b2, yy = self._rows(input, y)
        g1, g2 = pair_grad(self, (a.shape, a.shape))
        gpu_loss.cosine_grad(self, a2, b2, yy, self.margin, self.sizeAverage, g1.reshape(a2.shape),
                             g2.reshape(a2.shape))
        return self.gradInput


class MarginRankingCriterion(Criterion):
    """For a table input [x1, x2] and labels y = 1 / -1 (x1 should rank higher when y == 1):
    max(0, -y (x1 - x2) + margin).  With a number y the inputs hold one element each (Torch7's non-batch mode,
    no averaging); with a tensor of labels the loss is averaged over them when sizeAverage."""

    def __init__(self, margin=1, sizeAverage=True):
        super().__init__()
        self.margin = margin
        self.gradInput = [self._tcls(1), self._tcls(1)]
        self.sizeAverage = True if sizeAverage is None else sizeAverage

    def _dist(self, input, y):
        a, b = _table2(self, input)
        check_nonempty(self, a, 'input[0]')
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
        divide = (yy.size,) if not number and self.sizeAverage else ()
        # (d: scratch, made again by each call)
        return self._loss(gpu_loss.total(self, xp.clip(d, 0, _INF, out=d), divisors=divide))

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


def _device_sum(crit, terms):
    """``forwardDevice`` of a weighted sum of criterions: ``terms`` are (weight, criterion, input, target); each
    loss stays on the device (the sub-criterion's forwardDevice) and is added into ``crit``'s loss tensor (one
    launch each on CUDA)."""
    buf = crit._lossbuf()
    if not terms:
        buf.fill(0)
    for i, (w, c, x, t) in enumerate(terms):
        gpu_loss.add_scaled_loss(buf, c.forwardDevice(x, t)._a, w, i == 0)
    return crit._loss_t


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
        if self.__dict__.get('_deferred'):
            return _device_sum(self, [(self.weights[i], c, input, target) for i, c in enumerate(self.criterions)])
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
        if self.__dict__.get('_deferred'):
            return _device_sum(self, [(self.weights[i], c, input[i], target if self.repeatTarget else target[i])
                                      for i, c in enumerate(self.criterions)])
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

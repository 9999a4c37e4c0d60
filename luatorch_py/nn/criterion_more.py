"""More criterions of torch/nn: ClassSimplexCriterion, DistanceRatioCriterion, L1Cost, L1HingeEmbeddingCriterion,
ModuleCriterion, WeightedMSECriterion.  Class indices are 0-based (Lua's are 1-based)."""
import math
import numbers
import warnings

import numpy as np

from .. import backend
from ..backend import array_module
from ..tensor import Tensor
from .criterion import Criterion, MSECriterion, _index_array, _table2
from .distance import _random_signs
from .module import check_nonempty, field_out, pair_grad, resized, sizestr


def regsplex(n):
    """The n + 1 vertices (rows of an (n+1) x n float64 array) of a regular simplex centred at the origin, each of
    norm 1 (Torch7's regsplex in ClassSimplexCriterion.lua)."""
    a = np.zeros((n + 1, n))
    for k in range(n):
        a[k, k] = 1.0 if k == 0 else math.sqrt(1 - float(np.sum(a[k, :k] ** 2)))
        a[k + 1:, k] = (a[k, k] ** 2 - 1 - 1 / n) / a[k, k]
    return a


class ClassSimplexCriterion(MSECriterion):
    """ClassSimplexCriterion(nClasses): the MSE between the input and the embedding of the target class: class i
    is the vertex i of a regular simplex (the rows of ``simplex``, nClasses x nClasses, last column zero).  Targets
    are 0-based class indices: an int for a 1-D input, a 1-D tensor/array/list for a 2-D batch."""

    def __init__(self, nClasses):
        super().__init__()
        if isinstance(nClasses, bool) or not isinstance(nClasses, numbers.Integral) or nClasses <= 1:
            raise ValueError(f"nn.ClassSimplexCriterion: required positive integer argument nClasses > 1, got "
                             f"{nClasses!r}")
        self.nClasses = int(nClasses)
        simp = regsplex(self.nClasses - 1)
        full = np.zeros((self.nClasses, self.nClasses))
        full[:, :simp.shape[1]] = simp
        self.simplex = self._tcls(full.astype(self._tinfo.dtype))

    def _targets(self, input, target):
        x = self._coerce(input)._a
        check_nonempty(self, x)
        simplex = self.simplex._a
        if isinstance(target, (numbers.Integral, np.integer)) and not isinstance(target, bool):
            idx = np.array([int(target)])
            shape = (self.nClasses,)
        else:
            idx = backend.to_numpy(_index_array(self, target, False)).astype(np.int64)
            if idx.ndim != 1:
                raise ValueError(f"{self!r}: expected a 1-D target of class indices (or an int), got size "
                                 f"{sizestr(idx.shape)}")
            shape = (idx.size, self.nClasses)
        bad = (idx < 0) | (idx >= self.nClasses)
        if bad.any():
            raise ValueError(f"{self!r}: target {int(idx[bad.argmax()])} is out of range for {self.nClasses} "
                             f"classes (0-based: 0 to {self.nClasses - 1}; Lua's 1-based targets need -1)")
        field_out(self, '_target', shape)[...] = simplex[array_module(simplex).asarray(idx)].reshape(shape)
        t = self._target
        if x.size != t._a.size:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} does not match the embedded target of "
                             f"size {sizestr(shape)} ({self.nClasses} values per sample)")
        return t

    def updateOutput(self, input, target):
        return super().updateOutput(input, self._targets(input, target))

    def updateGradInput(self, input, target):
        return super().updateGradInput(input, self._targets(input, target))

    def getPredictions(self, input):
        """input (a 1-D sample or a 2-D batch) times the simplex's transpose: one score per class and sample."""
        x = self._coerce(input)._a
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        return self._tcls(array_module(x).matmul(x2, self.simplex._a.T))

    def getTopPrediction(self, input):
        """The 0-based class of the highest prediction of each sample (a LongTensor; Lua's are 1-based)."""
        from .. import LongTensor
        p = self.getPredictions(input)._a
        return LongTensor(np.asarray(backend.to_numpy(p.argmax(axis=-1)), dtype=np.int64))


class _NoTarget(Criterion):
    """A criterion of the input alone: ``forward(input)`` and ``backward(input)`` (a target given is ignored)."""

    def forward(self, input, target=None):
        return self.updateOutput(input, target)

    def backward(self, input, target=None):
        return self.updateGradInput(input, target)

    __call__ = forward


class DistanceRatioCriterion(_NoTarget):
    """DistanceRatioCriterion(sizeAverage=True): for a table input ``[X, Y]`` of distances between similar (X) and
    dissimilar (Y) pairs, the loss -log(exp(-X) / (exp(-X) + exp(-Y))) summed (divided by X's first size with
    sizeAverage).  No target: ``forward([X, Y])`` (a target given is ignored).  The gradient is ``[dX, dY]``."""

    def __init__(self, sizeAverage=True):
        super().__init__()
        self.sizeAverage = True if sizeAverage is None else sizeAverage

    def _xy(self, input):
        x, y = _table2(self, input)
        if x.ndim == 0 or x.size == 0:
            raise ValueError(f"{self!r}: expected non-empty distances, got size {sizestr(x.shape)}")
        return x, y

    def updateOutput(self, input, target=None):
        x, y = self._xy(input)
        xp = array_module(x)
        # X + log(exp(-X) + exp(-Y)), computed without overflow
        loss = self._buffer('_ratio_loss', x.shape)    # (not '_lossbuf': Criterion's method of that name)
        ny = self._buffer('_negy', y.shape)
        xp.negative(x, out=loss)
        xp.negative(y, out=ny)
        xp.logaddexp(loss, ny.reshape(loss.shape), out=loss)
        loss += x
        s = float(loss.sum())
        return self._loss(s / x.shape[0] if self.sizeAverage else s)

    def updateGradInput(self, input, target=None):
        x, y = self._xy(input)
        xp = array_module(x)
        dx, dy = field_out(self, 'dX', x.shape), field_out(self, 'dY', y.shape)
        # dX = 1 - e^-X / (e^-X + e^-Y) = 1 - 1 / (1 + e^(X-Y));  dY = -e^-Y / (e^-X + e^-Y) = -1 / (1 + e^(Y-X))
        xp.subtract(x, y, out=dy)
        with np.errstate(over='ignore'):
            xp.exp(dy, out=dy)
        dy += 1
        xp.reciprocal(dy, out=dy)         # s = e^-X / (e^-X + e^-Y)
        dy -= 1                           # dY = s - 1
        xp.negative(dy, out=dx)           # dX = 1 - s
        if self.sizeAverage:
            dx /= x.shape[0]
            dy /= x.shape[0]
        self.gradInput = [self.dX, self.dY]
        return self.gradInput


class L1Cost(_NoTarget):
    """The L1 norm of the input, sum |x| (no target: ``forward(x)``); the gradient is sign(x) (0 at 0)."""

    def updateOutput(self, input, target=None):
        x = self._coerce(input)._a
        return self._loss(float(array_module(x).abs(x).sum()))

    def updateGradInput(self, input, target=None):
        x = self._coerce(input)._a
        array_module(x).sign(x, out=resized(self.gradInput, x.shape))
        return self.gradInput


class L1HingeEmbeddingCriterion(Criterion):
    """L1HingeEmbeddingCriterion(margin=1): for a table input ``[x1, x2]`` and a label y = 1 or -1: the L1
    distance d = |x1 - x2|_1 when y == 1, max(0, margin - d) when y == -1.  Where x1 == x2 the gradient's sign is
    drawn from the global Torch7 stream (-1 or 1), as Torch7."""

    def __init__(self, margin=1):
        super().__init__()
        self.margin = 1 if margin is None else margin
        self.gradInput = [self._tcls(), self._tcls()]

    @staticmethod
    def _label(y):
        if isinstance(y, Tensor):
            if y.nElement() != 1:
                raise ValueError(f"nn.L1HingeEmbeddingCriterion: expected a label (1 or -1), got a tensor of size "
                                 f"{sizestr(y._a.shape)}")
            y = y._a.reshape(-1)[0]
        elif isinstance(y, bool) or not isinstance(y, numbers.Real):
            raise TypeError(f"nn.L1HingeEmbeddingCriterion: expected a label (1 or -1, a number or a one-element "
                            f"tensor), got a {type(y).__name__}")
        return float(y)

    def updateOutput(self, input, y):
        a, b = _table2(self, input)
        d = float(array_module(a).abs(a - b).sum())
        if self._label(y) == -1:
            d = max(0.0, self.margin - d)
        if self.__dict__.get('_deferred'):          # forwardDevice: the loss as a 1-element tensor
            return self._loss(d)
        self.output = d
        return d

    def updateGradInput(self, input, y):
        a, b = _table2(self, input)
        xp = array_module(a)
        g1, g2 = pair_grad(self, (a.shape, b.shape))
        xp.subtract(a, b, out=g1)
        dist = float(xp.abs(g1).sum())
        flat = g1.reshape(-1)
        xp.sign(flat, out=flat)
        if int(xp.count_nonzero(flat)) != flat.size:
            _random_signs(xp, flat)
        if self._label(y) == -1:
            if dist > self.margin:
                g1.fill(0)
            else:
                xp.negative(g1, out=g1)
        xp.negative(g1, out=g2)
        return self.gradInput


class ModuleCriterion(Criterion):
    """ModuleCriterion(criterion, inputModule=None, targetModule=None, castTarget=True): the criterion applied to
    inputModule's output and targetModule's output (each optional); the gradient goes back through inputModule.
    Parameters of inputModule are not updated through it (Torch7 warns)."""

    def __init__(self, criterion, inputModule=None, targetModule=None, castTarget=True):
        super().__init__()
        self.inputModule = inputModule
        self.targetModule = targetModule
        self.castTarget = True if castTarget is None else castTarget
        if inputModule is not None and inputModule.parameters()[0]:
            warnings.warn("nn.ModuleCriterion doesn't support parameter updates", RuntimeWarning, stacklevel=2)
        self.criterion = criterion

    def updateOutput(self, input, target):
        d = self.__dict__
        if d.get('inputModule') is not None:
            self.input = self.inputModule.forward(input)
        if d.get('targetModule') is not None:
            self.target = self.targetModule.forward(target)
        x = d['input'] if d.get('inputModule') is not None else input
        t = d['target'] if d.get('targetModule') is not None else target
        if d.get('_deferred'):                      # forwardDevice: the inner criterion's loss tensor
            self._loss_t = self.criterion.forwardDevice(x, t)
            return self._loss_t
        self.output = self.criterion.forward(x, t)
        return self.output

    def updateGradInput(self, input, target):
        d = self.__dict__
        for k in ('input', 'target'):
            if d.get(k + 'Module') is not None and d.get(k) is None:
                raise RuntimeError(f"{self!r}: updateGradInput needs the {k}Module's output of a forward; call "
                                   f"forward first")
        x = d['input'] if d.get('inputModule') is not None else input
        t = d['target'] if d.get('targetModule') is not None else target
        self.gradInput = self.criterion.backward(x, t)
        if d.get('inputModule') is not None:
            self.gradInput = self.inputModule.backward(input, self.gradInput)
        return self.gradInput

    def type(self, name=None, tensorCache=None):
        if name is None:
            return self._type
        cache = {} if tensorCache is None else tensorCache
        d = self.__dict__
        if d.get('inputModule') is not None:
            self.inputModule.type(name, cache)
        keep = None
        if d.get('targetModule') is not None and not self.castTarget:
            keep = d.pop('targetModule')      # not converted (castTarget=False)
        self.criterion.type(name, cache)
        d.pop('input', None)
        d.pop('target', None)
        try:
            return super().type(name, cache)
        finally:
            if keep is not None:
                d['targetModule'] = keep


class WeightedMSECriterion(MSECriterion):
    """WeightedMSECriterion(w): the MSE between the input and the target multiplied by ``w`` elementwise (each
    sample's target when the input is a batch of samples of w's size), as Torch7 (the input is not weighted)."""

    def __init__(self, w):
        super().__init__()
        if isinstance(w, Tensor):
            self.weight = w.clone() if w._info is self._tinfo else w.type(self._type).clone()
        else:
            self.weight = self._tcls(np.array(w, dtype=self._tinfo.dtype))

    def _weighted(self, input, target):
        x = self._coerce(input)._a
        t = self._coerce(target, 'target')._a
        w = self.weight._a
        check_nonempty(self, x)
        if t.size != x.size:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} and target of size {sizestr(t.shape)} "
                             f"differ")
        buf = field_out(self, 'buffer', x.shape)
        if x.ndim - 1 == w.ndim and x.ndim > 1:
            if x[0].size != w.size:
                raise ValueError(f"{self!r}: weight of size {sizestr(w.shape)} does not match the samples of size "
                                 f"{sizestr(x.shape[1:])}")
            array_module(x).multiply(t.reshape(x.shape), w.reshape((1,) + x.shape[1:]), out=buf)
        else:
            if w.size != x.size:
                raise ValueError(f"{self!r}: weight of size {sizestr(w.shape)} does not match the input of size "
                                 f"{sizestr(x.shape)}")
            array_module(x).multiply(t.reshape(x.shape), w.reshape(x.shape), out=buf)
        return self.buffer

    def updateOutput(self, input, target):
        return super().updateOutput(input, self._weighted(input, target))

    def updateGradInput(self, input, target):
        return super().updateGradInput(input, self._weighted(input, target))

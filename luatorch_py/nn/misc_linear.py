"""torch/nn's less common learnt layers: Cosine, WeightedEuclidean, LinearWeightNorm, PartialLinear, Kmeans.

Where Torch7 forgets ``scale`` in accGradParameters (Cosine, WeightedEuclidean's 1-D path) it is applied here to
every term, so that accUpdateGradParameters (scale = -lr) and scaled accumulation work.
"""
import math

import numpy as np

from .. import backend
from ..backend import array_module
from ..tensor import Tensor
from ..types import TYPES
from .containers import ParallelTable, Sequential
from .distance import MM
from .linear import Linear, _reset_uniform
from .lookup import LookupTable
from .module import Module, check_grad_size, field_out, long_info, resized, sizestr
from .table import Identity


def _rows(module, x, n):
    """Input array ``x`` (1-D of ``n`` or 2-D batch) as a 2-D (batch, n) view; True when it was 1-D."""
    if x.ndim == 1 and x.shape[0] == n:
        return x[None], True
    if x.ndim == 2 and x.shape[1] == n:
        return x, False
    raise ValueError(f"{module!r}: expected input of size [{n}] or [batch, {n}], got {sizestr(x.shape)}")


def _rows_and_grad(module, input, gradOutput, n_in, n_out):
    """(input array, its (batch, n_in) view, gradOutput as (batch, n_out)) for a backward pass, gradOutput checked
    to be [n_out] or [batch, n_out] as the input is 1-D or a batch."""
    x = module._coerce(input)._a
    x2, single = _rows(module, x, n_in)
    g = module._coerce(gradOutput, 'gradOutput')._a
    check_grad_size(module, g, (n_out,) if single else (x2.shape[0], n_out))
    return x, x2, g.reshape(x2.shape[0], n_out)


# -- Cosine ------------------------------------------------------------------------------------------------------
class Cosine(Module):
    """Cosine(inputSize, outputSize): y_j = w_j . x / ((||w_j|| + 1e-12) (||x|| + 1e-12)), the cosine similarity of
    the input (1-D or a 2-D batch) with each row of ``weight`` (outputSize x inputSize).  reset draws the weight
    uniform in +-1/sqrt(outputSize) (Torch7's, over the weight's first dim)."""

    _param_pairs = (('weight', 'gradWeight'),)

    def __init__(self, inputSize, outputSize):
        super().__init__()
        self.weight = self._tcls(outputSize, inputSize)
        self.gradWeight = self._tcls(outputSize, inputSize)
        self.reset()

    def reset(self, stdv=None):
        _reset_uniform(stdv, self.weight.size(0), self.weight)
        return self

    def _norms(self, x2):
        w = self.weight._a
        xp = array_module(w)
        wn = self._buffer('_wn', (w.shape[0],))
        wsq = self._buffer('_wsq', w.shape)
        xp.multiply(w, w, out=wsq)
        xp.sum(wsq, axis=1, out=wn)
        xp.sqrt(wn, out=wn)
        wn += 1e-12
        xn = self._buffer('_xn', (x2.shape[0], 1))
        sq = self._buffer('_sq', x2.shape)
        xp.multiply(x2, x2, out=sq)
        xp.sum(sq, axis=1, keepdims=True, out=xn)
        xp.sqrt(xn, out=xn)
        xn += 1e-12
        return wn, xn

    def updateOutput(self, input):
        x = self._coerce(input)._a
        w = self.weight._a
        x2, single = _rows(self, x, w.shape[1])
        wn, xn = self._norms(x2)
        out = resized(self.output, (w.shape[0],) if single else (x2.shape[0], w.shape[0]))
        o2 = out.reshape(x2.shape[0], w.shape[0])
        array_module(w).matmul(x2, w.T, out=o2)
        o2 /= wn
        o2 /= xn
        return self.output

    def _grads(self, input, gradOutput):
        nout, nin = self.weight._a.shape
        x, x2, g = _rows_and_grad(self, input, gradOutput, nin, nout)
        if self.output._a.size != g.size:               # (none yet, or emptied by clearState)
            raise RuntimeError(f"{self!r}: backward needs the output of a forward on an input of size "
                               f"{sizestr(x.shape)}; call forward first")
        return x, x2, g, self.output._a.reshape(g.shape)

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:
            return None
        x, x2, g, y = self._grads(input, gradOutput)
        w = self.weight._a
        xp = array_module(w)
        wn, xn = self._norms(x2)
        gi = resized(self.gradInput, x.shape).reshape(x2.shape)
        # dy_j/dx = w_j / (|w_j| |x|) - y_j x / |x|^2
        s = (g * y).sum(axis=1, keepdims=True)
        xp.matmul(g / wn, w, out=gi)
        t = self._buffer('_sq', x2.shape)
        xp.multiply(x2, s / xn, out=t)
        gi -= t
        gi /= xn
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, x2, g, y = self._grads(input, gradOutput)
        w = self.weight._a
        xp = array_module(w)
        wn, xn = self._norms(x2)
        # dy_j/dw_j = x / (|w_j| |x|) - y_j w_j / |w_j|^2
        xs = self._buffer('_sq', x2.shape)
        xp.divide(x2, xn, out=xs)
        t = self._buffer('_dw', w.shape)
        xp.matmul((g / wn).T, xs, out=t)
        ws = self._buffer('_wsq', w.shape)
        xp.multiply(w, ((g * y).sum(axis=0) / (wn * wn))[:, None], out=ws)
        t -= ws
        if scale != 1:
            t *= scale
        self.gradWeight._a += t

    def __repr__(self):
        return f"{self.__torch_name__}({self.weight.size(1)} -> {self.weight.size(0)})"


# -- WeightedEuclidean -------------------------------------------------------------------------------------------
class WeightedEuclidean(Module):
    """WeightedEuclidean(inputSize, outputSize): y_j = || c_j * (x - w_j) ||, the distance of the input (1-D or a
    2-D batch) to each template w_j (the columns of ``weight``, inputSize x outputSize) scaled elementwise by its
    diagonal covariance c_j (the columns of ``diagCov``, 1 at reset).  As Torch7, the gradients divide by
    y_j + 1e-7 (no NaN at y = 0)."""

    _param_pairs = (('weight', 'gradWeight'), ('diagCov', 'gradDiagCov'))

    def __init__(self, inputSize, outputSize):
        super().__init__()
        self.weight = self._tcls(inputSize, outputSize)
        self.gradWeight = self._tcls(inputSize, outputSize)
        self.diagCov = self._tcls(inputSize, outputSize)
        self.gradDiagCov = self._tcls(inputSize, outputSize)
        self.reset()

    def reset(self, stdv=None):
        _reset_uniform(stdv, self.weight.size(0), self.weight)
        self.diagCov.fill(1)
        return self

    def _diff(self, x2):
        """(x - w_j) * c_j for every example and template: (batch, inputSize, outputSize)."""
        w, c = self.weight._a, self.diagCov._a
        d = self._buffer('_rep', (x2.shape[0],) + w.shape)
        array_module(w).subtract(x2[:, :, None], w, out=d)
        d *= c
        return d

    def updateOutput(self, input):
        x = self._coerce(input)._a
        w = self.weight._a
        x2, single = _rows(self, x, w.shape[0])
        d = self._diff(x2)
        xp = array_module(w)
        out = resized(self.output, (w.shape[1],) if single else (x2.shape[0], w.shape[1]))
        o2 = out.reshape(x2.shape[0], w.shape[1])
        sq = self._buffer('_tmp', d.shape)                  # (batch, inputSize, outputSize) scratch, kept
        xp.multiply(d, d, out=sq)
        xp.sum(sq, axis=1, out=o2)
        xp.sqrt(o2, out=o2)
        return self.output

    def _grads(self, input, gradOutput):
        nin, nout = self.weight._a.shape
        x, x2, g = _rows_and_grad(self, input, gradOutput, nin, nout)
        self.updateOutput(input)            # Torch7 recomputes it unless fastBackward
        d = self._diff(x2)
        q = g.reshape(x2.shape[0], 1, nout) / (self.output._a.reshape(x2.shape[0], 1, nout) + 1e-7)
        return x, x2, d, q

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:
            return None
        x, x2, d, q = self._grads(input, gradOutput)
        gi = resized(self.gradInput, x.shape).reshape(x2.shape)
        xp = array_module(d)
        t = self._buffer('_tmp', d.shape)
        xp.multiply(d, q, out=t)
        t *= self.diagCov._a
        xp.sum(t, axis=2, out=gi)                                      # sum_j g_j c_j^2 (x - w_j) / y_j
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, x2, d, q = self._grads(input, gradOutput)
        c = self.diagCov._a
        xp = array_module(d)
        t = self._buffer('_tmp', d.shape)
        acc = self._buffer('_acc', c.shape)
        xp.multiply(d, q, out=t)
        t *= c
        xp.sum(t, axis=0, out=acc)
        acc *= scale
        self.gradWeight._a -= acc                                      # dy_j/dw_j = -c_j^2 (x - w_j) / y_j
        xp.multiply(d, d, out=t)
        t /= c
        t *= q
        xp.sum(t, axis=0, out=acc)
        acc *= scale
        self.gradDiagCov._a += acc                                     # dy_j/dc_j = c_j (x - w_j)^2 / y_j

    def __repr__(self):
        return f"{self.__torch_name__}({self.weight.size(0)} -> {self.weight.size(1)})"


# -- LinearWeightNorm --------------------------------------------------------------------------------------------
class LinearWeightNorm(Linear):
    """LinearWeightNorm(inputSize, outputSize, bias=True, eps=1e-16): a Linear whose weight is g * v / ||v|| (rows;
    the norm clamped to >= eps); the parameters are v, g (outputSize x 1) and bias.  reset draws the weight (then
    v = weight, g = its row norms) and the bias uniform in +-1/sqrt(inputSize), as Torch7.  gradV and gradG
    accumulate over backward calls (Torch7 recomputes them from the whole gradV, wrong on a second accumulation).
    ``fromLinear(linear)`` and ``toLinear()`` convert."""

    _param_pairs = (('v', 'gradV'), ('g', 'gradG'), ('bias', 'gradBias'))

    def __init__(self, inputSize, outputSize, bias=True, eps=1e-16):
        Module.__init__(self)           # not Linear's constructor, as Torch7
        self.eps = eps
        self.outputSize = outputSize
        self.inputSize = inputSize
        self.v = self._tcls(outputSize, inputSize)
        self.gradV = self._tcls(outputSize, inputSize).zero()
        self.weight = self._tcls(outputSize, inputSize)
        self.g = self._tcls(outputSize, 1)
        self.gradG = self._tcls(outputSize, 1).zero()
        self.norm = self._tcls(outputSize, 1)
        self.scale = self._tcls(outputSize, 1)
        if bias:
            self.bias = self._tcls(outputSize)
            self.gradBias = self._tcls(outputSize)
        self.reset()

    def reset(self, stdv=None):
        _reset_uniform(stdv, self.inputSize, self.weight, self.__dict__.get('bias'))     # (weight drawn first)
        self.initFromWeight()
        return self

    def initFromWeight(self, weight=None):
        w = (self.weight if weight is None else weight)._a
        xp = array_module(w)
        self.g._a[...] = xp.maximum(xp.sqrt((w * w).sum(axis=1, keepdims=True)), self.eps)
        self.v._a[...] = w
        return self

    @classmethod
    def fromLinear(cls, linear):
        m = cls(linear.weight.size(1), linear.weight.size(0), 'bias' in linear.__dict__)
        m.weight.copy(linear.weight)
        m.initFromWeight()
        if 'bias' in linear.__dict__:
            m.bias.copy(linear.bias)
        return m

    def toLinear(self):
        self.updateWeightMatrix()
        m = Linear(self.inputSize, self.outputSize, 'bias' in self.__dict__)
        m.weight.copy(self.weight)
        if 'bias' in self.__dict__:
            m.bias.copy(self.bias)
        return m

    def updateWeightMatrix(self):
        v = self.v._a
        xp = array_module(v)
        for k, shape in (('norm', self.g._a.shape), ('scale', self.g._a.shape), ('weight', v.shape)):
            field_out(self, k, shape)
        n = self.norm._a
        t = self._buffer('_t', v.shape)
        xp.multiply(v, v, out=t)
        xp.sum(t, axis=1, keepdims=True, out=n)
        xp.sqrt(n, out=n)
        xp.maximum(n, self.eps, out=n)
        xp.divide(self.g._a, n, out=self.scale._a)
        xp.multiply(v, self.scale._a, out=self.weight._a)

    def updateOutput(self, input):
        w = self.__dict__.get('weight')
        if self.train is not False or w is None or w._a.shape != self.v._a.shape:   # (emptied by clearState)
            self.updateWeightMatrix()
        return super().updateOutput(input)

    def updateGradInput(self, input, gradOutput):
        w = self.__dict__.get('weight')
        if w is None or w._a.shape != self.v._a.shape:   # (emptied by clearState: rebuilt from v and g)
            self.updateWeightMatrix()
        return super().updateGradInput(input, gradOutput)

    def evaluate(self):
        if self.train is not False:
            self.updateWeightMatrix()
        return super().evaluate()

    def accGradParameters(self, input, gradOutput, scale=1):
        x, x2, g2 = _rows_and_grad(self, input, gradOutput, self.inputSize, self.outputSize)
        if self.norm._a.shape != self.g._a.shape:
            self.updateWeightMatrix()
        xp = array_module(x)
        v, n, s = self.v._a, self.norm._a, self.scale._a
        dw = self._buffer('_dw', v.shape)
        xp.matmul(g2.T, x2, out=dw)                          # this call's dL/dweight
        if scale != 1:
            dw *= scale
        t = self._buffer('_t', v.shape)
        xp.multiply(dw, v, out=t)
        t /= n
        gg = t.sum(axis=1, keepdims=True)                    # dL/dg
        xp.multiply(v, s, out=t)
        t /= n
        t *= gg
        dw *= s
        dw -= t
        dv = dw                                              # dL/dv (computed whole before updating: gradV may be v)
        if 'bias' in self.__dict__:
            self.gradBias._a += scale * g2.sum(axis=0)
        self.gradG._a += gg
        self.gradV._a += dv

    def clearState(self):
        super().clearState()
        for k in ('weight', 'norm', 'scale'):
            self.__dict__[k] = self._tcls()
        return self

    def __repr__(self):
        return f"{self.__torch_name__}({self.inputSize} -> {self.outputSize})" + self._bias_note()


def _check_columns(module, host):
    if host.size and (host.min() < 0 or host.max() >= module.outputsize or (host != np.round(host)).any()):
        raise IndexError(f"{module!r}: partition indices must be integers in [0, {module.outputsize}) (0-based), got "
                         f"{host.tolist()}")


def _lwn_read(f, version):
    # after Torch7's clearState the weight (recomputed from v and g) is an empty tensor: not one to check
    w = f.get('weight')
    if isinstance(w, Tensor) and w.nElement() == 0:
        del f['weight']


def _register_fixes():
    from ..serialization.classes import READ_FIXES
    READ_FIXES['nn.LinearWeightNorm'] = _lwn_read


_register_fixes()


# -- PartialLinear -----------------------------------------------------------------------------------------------
class PartialLinear(Module):
    """PartialLinear(inputsize, outputsize, bias=True): a Linear (2-D batches) restricted to the output columns in
    ``partition`` (0-based indices, a tensor; all by default, see setPartition/resetPartition).  As Torch7 it is a
    small ``network``: Sequential(ParallelTable(Identity, LookupTable(outputsize, inputsize)), MM(False, True)),
    fed [input, partition]; the weight is the LookupTable's (drawn N(0, 1)), the bias (1 x outputsize) starts at 0."""

    _lua_index_fields = ('partition', 'allcolumns')

    def __init__(self, inputsize, outputsize, bias=True):
        super().__init__()
        pt = ParallelTable().add(Identity()).add(LookupTable(outputsize, inputsize))
        self.network = Sequential().add(pt).add(MM(False, True))
        if bias:
            self.bias = self._tcls(1, outputsize).zero()
            self.gradBias = self._tcls(1, outputsize).zero()
        self.inputsize = inputsize
        self.outputsize = outputsize
        self.allcolumns = TYPES['torch.DoubleTensor'].tensor_class(
            np.arange(outputsize, dtype=np.float64)).type(self._type)
        self.resetPartition()

    def _lookup(self):
        return self.network.get(0).get(1)

    def setPartition(self, indices):
        """Use only the output columns ``indices`` (0-based: a tensor, numpy array or list of ints)."""
        a = indices._a if isinstance(indices, Tensor) else np.asarray(indices)
        host = np.asarray(backend.to_numpy(a), dtype=np.float64).reshape(-1)
        _check_columns(self, host)
        self.partition = TYPES['torch.DoubleTensor'].tensor_class(host).type(self._type)
        return self

    def resetPartition(self):
        self.partition = self.allcolumns
        return self

    def parameters(self):
        lt = self._lookup()
        if 'bias' in self.__dict__:
            return [lt.weight, self.bias], [lt.gradWeight, self.gradBias]
        return [lt.weight], [lt.gradWeight]

    def _part(self):
        p = self.partition._a
        idx = self._buffer('_pidx', p.shape, long_info(self))
        idx[...] = p
        return idx

    def updateOutput(self, input):
        x = self._coerce(input)
        if x.dim() != 2:
            raise ValueError(f"{self!r}: expected a 2-D input (batch, {self.inputsize}), got {sizestr(x._a.shape)}")
        out = self.network.forward([x, self.partition])
        self.output = out
        if 'bias' in self.__dict__:
            out._a += self.bias._a[0, self._part()]
        return self.output

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is not None:
            self.network.updateGradInput([self._coerce(input), self.partition], gradOutput)
            self.gradInput = self.network.gradInput[0]
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        self.network.accGradParameters([self._coerce(input), self.partition], gradOutput, scale)
        if 'bias' in self.__dict__:
            g = self._coerce(gradOutput, 'gradOutput')._a
            from ..backend.kernels import scatter_add
            scatter_add(self.gradBias._a[0], self._part(), scale * g.sum(axis=0))

    def accUpdateGradParameters(self, input, gradOutput, lr):
        lt = self._lookup()
        gw, gb = lt.gradWeight, self.__dict__.get('gradBias')
        lt.gradWeight = lt.weight
        if gb is not None:
            self.gradBias = self.bias
        try:
            self.accGradParameters(input, gradOutput, -lr)
        finally:
            lt.gradWeight = gw
            if gb is not None:
                self.gradBias = gb

    def zeroGradParameters(self):
        self.network.zeroGradParameters()
        if 'gradBias' in self.__dict__:
            self.gradBias._a.fill(0)

    def updateParameters(self, learningRate):
        self.network.updateParameters(learningRate)
        if 'bias' in self.__dict__:
            self.bias._a -= learningRate * self.gradBias._a

    def __repr__(self):
        return (f"{self.__torch_name__}({self.inputsize} -> {self.outputsize})" +
                ('' if 'bias' in self.__dict__ else ' without bias'))


# -- Kmeans ------------------------------------------------------------------------------------------------------
class Kmeans(Module):
    """Kmeans(k, dim, scale=None): online hard k-means over 2-D batches (n, dim).  ``weight`` (k x dim) holds the
    centres (reset: uniform in +-stdev, default 1); forward gives each sample's nearest centre, as 0-BASED indices
    (Torch7's are 1-based) in a tensor of the module's type, and sets ``loss`` (the sum of squared distances to
    them).  gradInput is zeros; accGradParameters adds -scale * mean(x - c) over each centre's samples to
    gradWeight (``self.scale`` when set overrides the scale argument), so a gradient step moves the centres
    towards their samples.  initRandom / initKmeansPlus draw from the global Torch7 stream as Torch7."""

    def __init__(self, k, dim, scale=None):
        if not k > 0:
            raise ValueError(f"nn.Kmeans: clusters cannot be 0 or negative, got k={k!r}")
        if not dim > 0:
            raise ValueError(f"nn.Kmeans: dimensionality cannot be 0 or negative, got dim={dim!r}")
        super().__init__()
        self.k = k
        self.dim = dim
        self.scale = scale
        self.weight = self._tcls(k, dim)
        self.gradWeight = self._tcls(k, dim)
        self.loss = 0
        self.clusterSampleCount = self._tcls(k)
        self.reset()

    def reset(self, stdev=None):
        s = 1 if stdev is None else stdev
        self.weight.uniform(-s, s)
        return self

    def _input(self, input):
        x = self._coerce(input)._a
        if x.ndim != 2:
            raise ValueError(f"{self!r}: incorrect input dimensionality: expected 2-D (n, {self.dim}), got "
                             f"{sizestr(x.shape)}")
        if x.shape[1] != self.dim:
            raise ValueError(f"{self!r}: dimensionality of input ({x.shape[1]}) and weight ({self.dim}) don't match")
        return x

    def initRandom(self, input):
        """Each centre a sample drawn uniformly (with repetition) from the 2-D ``input``."""
        x = self._input(input)
        n = x.shape[0]
        if n < self.k:
            raise ValueError(f"{self!r}: need at least k={self.k} samples for initialization, got {n}")
        idx = TYPES['torch.DoubleTensor'].tensor_class(self.k).random(1, n).numpy().astype(np.int64) - 1
        self.weight._a[...] = x[backend.to_device(idx, self._tinfo.cuda)]
        return self

    def initKmeansPlus(self, input, p=None):
        """Kmeans++-style initialization: after a random first centre, each next one is drawn among the
        ceil((1 - p) n) samples farthest from the previous centres (p: default 0.95)."""
        from .. import random as _random
        self.p = p if p is not None else self.__dict__.get('p', 0.95)
        if not 0 <= self.p <= 1:
            raise ValueError(f"{self!r}: p should be between 0 and 1, got {self.p}")
        x = backend.to_numpy(self._input(input)).astype(np.float64)
        n = x.shape[0]
        pcount = max(math.ceil((1 - self.p) * n), 1)
        w = np.empty((self.k, self.dim))
        w[0] = x[_random.random(n) - 1]
        dist = np.full(n, np.inf)
        for c in range(1, self.k):
            d = ((x - w[c - 1]) ** 2).sum(axis=1)
            np.minimum(dist, d, out=dist)
            order = np.argsort(-dist, kind='stable')
            w[c] = x[order[_random.random(pcount) - 1]]
        self.weight._a[...] = backend.to_device(w.astype(self.weight._a.dtype), self._tinfo.cuda)
        return self

    def updateOutput(self, input):
        x = self._input(input)
        w = self.weight._a
        xp = array_module(w)
        d = self._buffer('_dist', (self.k, x.shape[0]))
        diff = self._buffer('_diff', (self.k,) + x.shape)       # (k, n, dim) scratch, kept
        xp.subtract(x[None, :, :], w[:, None, :], out=diff)
        diff *= diff
        xp.sum(diff, axis=2, out=d)
        idx = self._buffer('_minIndx', (x.shape[0],), long_info(self))
        xp.argmin(d, axis=0, out=idx)
        resized(self.output, (x.shape[0],))[...] = idx
        self.loss = float(xp.take_along_axis(d, idx[None], axis=0).sum())
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._input(input)
        resized(self.gradInput, x.shape).fill(0)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x = self._input(input)
        s = self.scale if self.__dict__.get('scale') is not None else scale
        if not s > 0:
            raise ValueError(f"{self!r}: scale has to be positive, got {s}")
        from ..backend.kernels import scatter_add
        idx = self.__dict__.get('_minIndx')
        if idx is None or idx.shape != (x.shape[0],):
            self.updateOutput(input)
            idx = self._minIndx
        xp = array_module(x)
        cnt = self.clusterSampleCount._a
        cnt.fill(0)
        scatter_add(cnt, idx, 1)                            # samples per cluster (as LookupTable counts)
        step = self._buffer('_step', x.shape)
        xp.subtract(x, self.weight._a[idx], out=step)
        step *= -s
        acc = self._buffer('_acc', self.weight._a.shape)
        acc.fill(0)
        scatter_add(acc, idx, step)
        acc /= (cnt + 1e-7)[:, None]
        self.gradWeight._a += acc

    def __repr__(self):
        return self.__torch_name__

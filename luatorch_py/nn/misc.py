"""The rest of torch/nn's small modules: L1Penalty, MaskedSelect, Index, Collapse, Constant, GradientReversal,
CReLU, GatedLinearUnit, LayerNormalization, Maxout, OneHot, ZeroGrad, WhiteNoise, PrintSize, MV.

Dims and indices are 0-based here (Lua's are 1-based; .t7 files keep Lua's values).  CReLU, LayerNormalization
and Maxout are Sequentials of existing modules, as in Torch7, so their files have Torch7's layout.
"""
import math

import numpy as np

from .. import backend
from ..backend import array_module
from ..tensor import Tensor
from ..tensor_math import _sigmoid
from .containers import ConcatTable, Sequential
from .table import _RefModule, _leaves
from .distance import Normalize
from .linear import Add, CMul, Linear
from .activation import ReLU
from .conv import _positive
from .module import (Module, check_grad_like_input, check_grad_size, check_nonempty, field_out, long_info,
                     owned_tensor, pair_grad, pair_input, resized, set_aliased, sizestr)
from .reduce import Max, Mean
from .shape import MulConstant, Replicate, View, _any_tensor, _view_as, _ViewModule
from .table import CSubTable, Identity, JoinTable, _leaves, _zero_like


def _index_array(module, x, what, ndims=None):
    """Index tensor (or numpy array) ``x`` as an int64 array on the module's device (a kept copy when it had to be
    converted): integer elements, or floating ones with integral values (as Torch7 accepts)."""
    a = _any_tensor(module, x, what)
    if ndims is not None and a.ndim not in ndims:
        raise ValueError(f"{module!r}: expected {what} of {' or '.join(f'{d}-D' for d in ndims)}, got size "
                         f"{sizestr(a.shape)}")
    if a.dtype.kind not in 'iuf':
        raise TypeError(f"{module!r}: expected integer {what}, got elements of dtype {a.dtype}")
    cuda = module._tinfo.cuda
    if a.dtype != np.int64 or backend.is_cuda_array(a) != cuda:
        buf = module._buffer('_idx_' + what, a.shape, long_info(module))
        src = backend.to_device(a, cuda)
        buf[...] = src if a.dtype.kind != 'f' else src.astype(np.int64)
        if a.dtype.kind == 'f' and a.size and bool((buf != src).any()):
            raise ValueError(f"{module!r}: {what} must be integers, got non-integral values in a {a.dtype} tensor")
        a = buf
    return a


def _check_range(module, a, n, what):
    if a.size:
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi >= n:
            raise IndexError(f"{module!r}: {what} must be in [0, {n}) (0-based), got {lo if lo < 0 else hi}")


# -- L1Penalty ---------------------------------------------------------------------------------------------------
class L1Penalty(Module):
    """L1Penalty(l1weight, sizeAverage=False, provideOutput=True): output = input (the same tensor); records
    ``loss`` = l1weight * ||input||_1 (divided by the element count with sizeAverage), and backward adds its
    gradient l1weight * sign(input) to gradOutput (or gives it alone with provideOutput=False)."""

    def __init__(self, l1weight, sizeAverage=False, provideOutput=True):
        super().__init__()
        self.l1weight = l1weight
        self.sizeAverage = bool(sizeAverage)
        self.provideOutput = provideOutput

    def _m(self, x):
        return self.l1weight / x.size if self.sizeAverage is True else self.l1weight

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        self.loss = float(self._m(x) * array_module(x).abs(x, out=self._buffer('_abs', x.shape)).sum())
        return set_aliased(self, 'output', t)

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        xp = array_module(x)
        gi = resized(owned_tensor(self, 'gradInput'), x.shape)
        xp.sign(x, out=gi)
        gi *= self._m(x)
        if self.provideOutput is True:
            g = self._coerce(gradOutput, 'gradOutput')._a
            check_grad_like_input(self, x, g)
            gi += g
        return self.gradInput


# -- MaskedSelect ------------------------------------------------------------------------------------------------
def _mask_array(module, m, x):
    """The mask of a MaskedSelect input as a boolean array on the module's device, checked against input ``x``."""
    a = _any_tensor(module, m, 'the mask (input[1])')
    if a.size != x.size:
        raise ValueError(f"{module!r}: the mask of size {sizestr(a.shape)} does not match the input of size "
                         f"{sizestr(x.shape)}")
    b = module._bools('_mask', x.shape)
    b[...] = backend.to_device(a, module._tinfo.cuda).reshape(x.shape) != 0
    return b


class MaskedSelect(Module):
    """Input ``[x, mask]``: output = the elements of x where mask is nonzero (a 1-D tensor, row-major order);
    gradInput = [gradOutput put back at those places (zeros elsewhere), zeros shaped as the mask]."""

    def __init__(self):
        super().__init__()
        self.gradInput = [self._tcls(), self._tcls()]

    def _split(self, input):
        if not isinstance(input, (list, tuple)) or len(input) != 2:
            raise TypeError(f"{self!r}: expected input to be a list [input, mask], got {type(input).__name__}")
        x = self._coerce(input[0], 'input[0]')._a
        return x, _mask_array(self, input[1], x)

    def updateOutput(self, input):
        x, mask = self._split(input)
        sel = x[mask]
        resized(self.output, sel.shape)[...] = sel
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, mask = self._split(input)
        g = self._coerce(gradOutput, 'gradOutput')._a
        n = int(mask.sum())
        check_grad_size(self, g.reshape(-1) if g.size == n else g, (n,))
        mt = input[1]
        a, gm = pair_grad(self, (x.shape, mt._a.shape if isinstance(mt, Tensor) else mt.shape))
        a.fill(0)
        a[mask] = g.reshape(-1)
        gm.fill(0)
        return self.gradInput


# -- Index -------------------------------------------------------------------------------------------------------
class Index(Module):
    """Index(dimension): input ``[t, index]`` -> t.index(dimension, index) (0-based dimension and indices, a
    LongTensor of them); gradInput = [the gradient summed back into t's shape, zeros shaped as index]."""

    _lua_index_fields = ('dimension',)

    def __init__(self, dimension):
        super().__init__()
        self.dimension = dimension
        self.gradInput = [self.gradInput, self._tcls()]

    def _split(self, input):
        if not isinstance(input, (list, tuple)) or len(input) != 2:
            raise TypeError(f"{self!r}: expected input to be a list [tensor, index], got {type(input).__name__}")
        x = self._coerce(input[0], 'input[0]')._a
        d = self.dimension
        if not -x.ndim <= d < x.ndim:
            raise ValueError(f"{self!r}: dimension {d} out of range for input of size {sizestr(x.shape)}")
        idx = _index_array(self, input[1], 'index', (1,))
        _check_range(self, idx, x.shape[d % x.ndim], 'index')
        return x, d % x.ndim, idx

    def updateOutput(self, input):
        x, d, idx = self._split(input)
        out = resized(self.output, x.shape[:d] + (idx.shape[0],) + x.shape[d + 1:])
        array_module(x).take(x, idx, axis=d, out=out)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, d, idx = self._split(input)
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, x.shape[:d] + (idx.shape[0],) + x.shape[d + 1:])
        a, gidx = pair_grad(self, (x.shape, idx.shape))
        gidx.fill(0)
        a.fill(0)
        from ..backend.kernels import scatter_add
        scatter_add(array_module(a).moveaxis(a, d, 0), idx, array_module(g).moveaxis(g, d, 0))
        return self.gradInput

    def __repr__(self):
        return f"{self.__torch_name__}({self.dimension})"


# -- Collapse ----------------------------------------------------------------------------------------------------
class Collapse(Module):
    """Collapse(nInputDim): the non-batch dims flattened into one: an input of more than nInputDim dims gives
    (size(0), rest), else a 1-D tensor (a view; a copy when the input is not contiguous)."""

    def __init__(self, nInputDim):
        super().__init__()
        self.nInputDim = nInputDim

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        shape = (x.shape[0], x.size // x.shape[0] if x.shape[0] else 0) if x.ndim > self.nInputDim else (x.size,)
        _view_as(self, 'output', t, shape)
        return self.output

    # gradOutput seen with the input's sizes, as the view modules do (Torch7's parent is nn.Module)
    updateGradInput = _ViewModule.updateGradInput


# -- Constant ----------------------------------------------------------------------------------------------------
class Constant(Module):
    """Constant(value, nInputDim=None): outputs ``value`` (a number, kept as a 1-element tensor, or a tensor)
    whatever the input; with nInputDim, an input of more dims is a batch and the value is repeated along its first
    dim.  gradInput is zeros."""

    def __init__(self, value, nInputDim=None):
        super().__init__()
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            value = self._tcls([float(value)])
        if not isinstance(value, Tensor):
            raise TypeError(f"nn.Constant: expected a number or a tensor at argument 1, got {type(value).__name__}")
        self.value = value
        self.nInputDim = nInputDim

    def updateOutput(self, input):
        v = self.value._a
        n_in = self.__dict__.get('nInputDim')
        x = self._coerce(input)._a if not isinstance(input, (list, tuple)) else None
        if n_in is not None and x is not None and x.ndim > n_in:
            out = resized(self.output, (x.shape[0],) + v.shape)
        else:
            out = resized(self.output, v.shape)
        out[...] = backend.to_device(v, self._tinfo.cuda).astype(out.dtype, copy=False)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = _zero_like(self.gradInput, _leaves(self, input))
        return self.gradInput


# -- GradientReversal --------------------------------------------------------------------------------------------
class GradientReversal(Module):
    """GradientReversal(lambda_=1): output = input (the same tensor), gradInput = -lambda * gradOutput (the field
    is Torch7's ``lambda``: ``m.__dict__['lambda']`` or ``getattr(m, 'lambda')``; set it with setLambda)."""

    __torch_version__ = 2

    def __init__(self, lambda_=1):
        super().__init__()
        self.__dict__['lambda'] = lambda_

    def setLambda(self, lambda_):
        self.__dict__['lambda'] = lambda_
        return self

    def updateOutput(self, input):
        return set_aliased(self, 'output', self._coerce(input))

    def updateGradInput(self, input, gradOutput):
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_like_input(self, self._coerce(input)._a, g)
        gi = resized(owned_tensor(self, 'gradInput'), g.shape)
        array_module(g).multiply(g, -self.__dict__['lambda'], out=gi)
        return self.gradInput


def _gradient_reversal_read(f, version):
    if version < 2:         # Torch7's GradientReversal:read: lambda came with version 2
        f['lambda'] = 1


def _register_fixes():
    from ..serialization.classes import READ_FIXES
    READ_FIXES['nn.GradientReversal'] = _gradient_reversal_read


_register_fixes()


# -- CReLU -------------------------------------------------------------------------------------------------------
class CReLU(Sequential):
    """CReLU(nInputDims, inplace=False): [ReLU(x), ReLU(-x)] joined along the feature dim (dim 0 of one example:
    the output has twice its size); a Sequential of ConcatTable(Identity, MulConstant(-1)), JoinTable(1), ReLU,
    as Torch7, on the input flattened to (batch, features).  backward is updateGradInput (no parameters)."""

    def __init__(self, nInputDims, inplace=False):
        super().__init__()
        self.nInputDims = nInputDims
        self.inplace = bool(inplace)
        self.add(ConcatTable().add(Identity()).add(MulConstant(-1)))
        self.add(JoinTable(1))
        self.add(ReLU(self.inplace))

    def _flat_shape(self, t):      # (not _flat: getParameters keeps its record under that name)
        x = t._a
        check_nonempty(self, x)     # (else view's error, naming no module)
        batched = x.ndim == self.nInputDims + 1
        return batched, (x.shape[0] if batched else 1, -1)

    def updateOutput(self, input):
        t = self._coerce(input)
        batched, flat = self._flat_shape(t)
        out = Sequential.updateOutput(self, t.view(flat) if t._a.flags.c_contiguous else t.contiguous().view(flat))
        shape = list(t._a.shape)
        shape[1 if batched else 0] *= 2
        # a view in a tensor of CReLU's own (Torch7 resizes its ReLU's output in place)
        self.output = _view_as(self, '_out_view', out, tuple(shape))
        return self.output

    def backward(self, input, gradOutput, scale=1):
        return self.updateGradInput(input, gradOutput)

    def updateGradInput(self, input, gradOutput):
        t = self._coerce(input)
        g = self._coerce(gradOutput, 'gradOutput')
        batched, flat = self._flat_shape(t)
        if not t._a.flags.c_contiguous:
            t = t.contiguous()
        if not g._a.flags.c_contiguous:
            g = g.contiguous()
        gi = Sequential.updateGradInput(self, t.view(flat), g.view(flat))
        self.gradInput = _view_as(self, '_gi_view', gi, t._a.shape)
        return self.gradInput

    def __repr__(self):
        return 'CReLU()'


# -- GatedLinearUnit ---------------------------------------------------------------------------------------------
class GatedLinearUnit(Module):
    """GatedLinearUnit(dim=None): the input split in two halves a, b along ``dim`` (0-based; default the last),
    output = a * sigmoid(b) (Dauphin et al.)."""

    _lua_index_fields = ('dim',)

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def _halves(self, x):
        d = x.ndim - 1 if self.__dict__.get('dim') is None else self.dim
        if not -x.ndim <= d < x.ndim or x.shape[d] % 2:
            raise ValueError(f"{self!r}: expected an input whose dim {d} has an even size, got size "
                             f"{sizestr(x.shape)}")
        d %= x.ndim
        n = x.shape[d] // 2
        lo = (slice(None),) * d
        return d, x[lo + (slice(0, n),)], x[lo + (slice(n, None),)]

    def _sigmoid(self, xp, b):
        """sigmoid(b) = 1 / (1 + exp(-b)) in a kept buffer (Tensor.sigmoid's steps)."""
        s = self._buffer('_sig', b.shape)
        _sigmoid(xp, b, s)
        return s

    def updateOutput(self, input):
        x = self._coerce(input)._a
        d, a, b = self._halves(x)
        xp = array_module(x)
        out = resized(self.output, a.shape)
        s = self._sigmoid(xp, b)
        xp.multiply(a, s, out=out)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        d, a, b = self._halves(x)
        check_grad_size(self, g, a.shape)
        xp = array_module(x)
        s = self._sigmoid(xp, b)
        gi = resized(self.gradInput, x.shape)
        _, ga, gb = self._halves(gi)
        xp.multiply(g, s, out=ga)                      # d/da = sigmoid(b)
        xp.subtract(1, s, out=gb)                      # d/db = a sigmoid(b) (1 - sigmoid(b))
        gb *= ga
        gb *= a
        return self.gradInput


# -- LayerNormalization, Maxout: Sequentials of existing modules, as in Torch7 ----------------------------------
class LayerNormalization(Sequential):
    """LayerNormalization(nOutput, bias=0, eps=1e-10, affine=True), for batches (n, nOutput): each row minus its
    mean, divided by its 2-norm (+eps) times sqrt(nOutput); with affine, times a gain (CMul, 1 at start) plus a
    bias (Add, ``bias`` at start).  Torch7's Sequential: ConcatTable(Identity, Sequential(Mean(0, 1),
    Replicate(nOutput, 0, 1))), CSubTable, Normalize(2, eps), MulConstant(sqrt(nOutput)), CMul, Add."""

    def __init__(self, nOutput, bias=0, eps=1e-10, affine=True):
        _positive('nn.LayerNormalization', nOutput=nOutput)
        super().__init__()
        self.add(ConcatTable().add(Identity()).add(Sequential().add(Mean(0, 1)).add(Replicate(nOutput, 0, 1))))
        self.add(CSubTable())
        self.add(Normalize(2, eps))
        self.add(MulConstant(math.sqrt(nOutput)))
        if affine:
            bias_t = Add(nOutput, False)        # drawn before the gain, as Torch7 (then both overwritten)
            bias_t.bias.fill(bias)
            gain = CMul(nOutput)
            gain.weight.fill(1.0)
            self.add(gain)
            self.add(bias_t)


class Maxout(Sequential):
    """Maxout(inputSize, outputSize, maxoutNumber, preprocess=None): Linear(inputSize, outputSize * maxoutNumber),
    View(maxoutNumber, outputSize) (one input dim), [preprocess], Max over the maxoutNumber pieces."""

    def __init__(self, inputSize, outputSize, maxoutNumber, preprocess=None):
        _positive('nn.Maxout', inputSize=inputSize, outputSize=outputSize, maxoutNumber=maxoutNumber)
        super().__init__()
        self.add(Linear(inputSize, outputSize * maxoutNumber))
        self.add(View(maxoutNumber, outputSize).setNumInputDims(1))
        if preprocess is not None:
            self.add(preprocess)
        self.add(Max(0, 2))


# -- OneHot ------------------------------------------------------------------------------------------------------
class OneHot(Module):
    """OneHot(outputSize): indices (0-based; a tensor of any shape, or one int) -> one-hot vectors along a new
    last dim of ``outputSize``.  torch/nn's nn.OneHot; char-rnn's global ``OneHot`` is another class (see
    docs/nn.md)."""

    def __init__(self, outputSize):
        _positive('nn.OneHot', outputSize=outputSize)
        super().__init__()
        self.outputSize = outputSize

    def updateOutput(self, input):
        if isinstance(input, (int, np.integer)) and not isinstance(input, bool):
            idx = self._buffer('_single', (), long_info(self))
            idx[...] = int(input)
        else:
            idx = _index_array(self, input, 'input')
        _check_range(self, idx, self.outputSize, 'indices')
        out = resized(self.output, idx.shape + (self.outputSize,))
        out.fill(0)
        flat = out.reshape(-1, self.outputSize)
        flat[self._arange('_rows', flat.shape[0]), idx.reshape(-1)] = 1
        return self.output

    def updateGradInput(self, input, gradOutput):
        if isinstance(input, (int, np.integer)):
            return 0
        shape = input._a.shape if isinstance(input, Tensor) else np.shape(input)
        resized(self.gradInput, tuple(shape)).fill(0)
        return self.gradInput


# -- ZeroGrad ----------------------------------------------------------------------------------------------------
class ZeroGrad(Module):
    """output = input (the same tensor or table); gradInput = zeros shaped as the input (stops gradients)."""

    def updateOutput(self, input):
        return set_aliased(self, 'output', _leaves(self, input))

    def updateGradInput(self, input, gradOutput):
        self.gradInput = _zero_like(owned_tensor(self, 'gradInput') if not isinstance(input, (list, tuple))
                                    else self.gradInput, _leaves(self, input))
        return self.gradInput


# -- WhiteNoise --------------------------------------------------------------------------------------------------
class WhiteNoise(Module):
    """WhiteNoise(mean=0, std=0.1): in training, output = input + noise drawn N(mean, std) from the global Torch7
    stream (kept in ``noise``); in evaluation, input + mean.  backward only in training (gradInput = gradOutput)."""

    def __init__(self, mean=0, std=0.1):
        super().__init__()
        self.mean = mean
        self.std = std
        self.noise = self._tcls()

    def updateOutput(self, input):
        x = self._coerce(input)._a
        out = resized(self.output, x.shape)
        out[...] = x
        if self.train is not False:
            if not self.std > 0:
                raise ValueError(f"{self!r}: std must be > 0 (Torch7's normal draws), got {self.std}")
            field_out(self, 'noise', x.shape)
            self.noise.normal(self.mean, self.std)
            out += self.noise._a
        elif self.mean != 0:
            out += self.mean
        return self.output

    def updateGradInput(self, input, gradOutput):
        if self.train is False:
            raise RuntimeError(f"{self!r}: backprop only defined while training")
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_like_input(self, self._coerce(input)._a, g)
        resized(self.gradInput, g.shape)[...] = g
        return self.gradInput

    def clearState(self):
        self.noise = self._tcls()       # (Torch7's WhiteNoise:clearState empties the noise)
        return super().clearState()

    def __repr__(self):
        return f"{self.__torch_name__} mean: {self.mean:f}, std: {self.std:f}"


# -- PrintSize ---------------------------------------------------------------------------------------------------
def _size_of(x):
    if isinstance(x, Tensor):
        return sizestr(x._a.shape)
    if isinstance(x, (list, tuple)):
        return '{' + ', '.join(_size_of(e) for e in x) + '}'
    if x is None:
        return 'missing size'
    return sizestr(np.shape(x))


class PrintSize(_RefModule):
    """PrintSize(prefix='PrintSize'): prints the size of the input (forward) and of gradOutput (backward), and
    passes them on unchanged (the same tensors; numpy arrays become tensors sharing their memory, as Identity)."""

    def __init__(self, prefix='PrintSize'):
        super().__init__()
        self.prefix = prefix

    def updateOutput(self, input):
        print(f"{self.prefix}:input\n\t{_size_of(input)}")
        return set_aliased(self, 'output', _leaves(self, input))

    def updateGradInput(self, input, gradOutput):
        print(f"{self.prefix}:gradOutput\n\t{_size_of(gradOutput)}")
        return set_aliased(self, 'gradInput', _leaves(self, gradOutput, 'gradOutput'))


# -- MV ----------------------------------------------------------------------------------------------------------
class MV(Module):
    """MV(trans=False): input ``[M, v]`` -> M v (M^T v with trans): M (m, n) and v (n), or batches (b, m, n) and
    (b, n)."""

    def __init__(self, trans=False):
        if not isinstance(trans, bool):
            raise TypeError(f"nn.MV: trans must be a bool (transpose the matrix before multiplying), got {trans!r}")
        super().__init__()
        self.trans = trans
        self.gradInput = [self._tcls(), self._tcls()]

    def _check(self, M, v):
        if M.ndim == 2 and v.ndim == 1:
            k = M.shape[0] if self.trans else M.shape[1]
            if k != v.shape[0]:
                raise ValueError(f"{self!r}: matrix of size {sizestr(M.shape)} and vector of size "
                                 f"{sizestr(v.shape)} do not match")
        elif M.ndim == 3 and v.ndim == 2:
            k = M.shape[1] if self.trans else M.shape[2]
            if M.shape[0] != v.shape[0] or k != v.shape[1]:
                raise ValueError(f"{self!r}: batch matrix of size {sizestr(M.shape)} and batch vector of size "
                                 f"{sizestr(v.shape)} do not match")
        else:
            raise ValueError(f"{self!r}: expected a 2-D matrix and a 1-D vector, or a 3-D and a 2-D batch, got "
                             f"sizes {sizestr(M.shape)} and {sizestr(v.shape)}")

    def _mt(self, M):
        return M.swapaxes(-1, -2) if self.trans else M

    def updateOutput(self, input):
        M, v = pair_input(self, input)
        self._check(M, v)
        Mt = self._mt(M)
        out = resized(self.output, Mt.shape[:-1])
        array_module(M).matmul(Mt, v[..., None], out=out[..., None])
        return self.output

    def updateGradInput(self, input, gradOutput):
        M, v = pair_input(self, input)
        self._check(M, v)
        g = self._coerce(gradOutput, 'gradOutput')._a
        Mt = self._mt(M)
        check_grad_size(self, g, Mt.shape[:-1])
        xp = array_module(M)
        gM, gv = pair_grad(self, (M.shape, v.shape))
        outer = self._mt(gM)                            # d/dMt[i, j] = g[i] v[j]
        xp.multiply(g[..., :, None], v[..., None, :], out=outer)
        xp.matmul(Mt.swapaxes(-1, -2), g[..., None], out=gv[..., None])
        return self.gradInput

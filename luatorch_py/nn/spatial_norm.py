"""Local normalizations and L^p pooling (Torch7's nn), built from other modules as Torch7 builds them, so that
their .t7 files hold the same fields (``meanestimator``, ``stdestimator``, ``coef``, ``divider``, ...):
SpatialSubtractiveNormalization, SpatialDivisiveNormalization, SpatialContrastiveNormalization,
SpatialLPPooling.

The normalizations take C x H x W or N x C x H x W inputs (C = nInputPlane).  Their averaging ``kernel`` (default
9 x 9 ones; 2-D, or 1-D for a separable one) is normalized in place, as Torch7 does to the tensor it is given
(so SpatialContrastiveNormalization, which hands the same kernel to both parts, normalizes it twice, as Torch7).
Near the borders the local mean is divided by ``coef`` (the mean estimator applied to an image of ones), so that
the zero padding does not pull it down.
"""
import math

import numpy as np

from ..serialization import classes as _classes
from ..tensor import Tensor
from .activation import Power, Sqrt, Square, Threshold
from .containers import Sequential
from .conv import SpatialConvolution, _positive
from .module import Module, resized, sizestr
from .padding import SpatialZeroPadding
from .pooling import SpatialAveragePooling
from .shape import MulConstant, Replicate
from .spatial_map import SpatialConvolutionMap
from .table import CDivTable, CSubTable
from . import tables


def _kernel(module, kernel):
    """The averaging kernel (default 9x9 ones) as a tensor of the module's type, checked as Torch7."""
    name = type(module).__name__
    if kernel is None:
        kernel = module._tcls(9, 9).fill(1)
    elif not hasattr(kernel, '_a'):
        kernel = module._tcls(np.asarray(kernel, dtype=np.float64))
    kd = kernel.dim()
    if kd not in (1, 2):
        raise ValueError(f"nn.{name}: averaging kernel must be 2D or 1D, got size {sizestr(kernel._a.shape)}")
    if any(s % 2 == 0 for s in kernel._a.shape):
        raise ValueError(f"nn.{name}: averaging kernel must have ODD dimensions, got size "
                         f"{sizestr(kernel._a.shape)}")
    return kernel


def _estimator(n, kernel, pre=(), post=()):
    """Torch7's mean estimator: zero padding, then the kernel over all planes (2-D: one SpatialConvolution;
    1-D: a per-plane horizontal SpatialConvolutionMap then a vertical SpatialConvolution), replicated to n planes.
    The convolutions draw their initial weights from the global stream as Torch7's (then overwritten)."""
    kh = kernel._a.shape[0]
    kw = kernel._a.shape[1] if kernel.dim() == 2 else kh
    ph, pw = kh // 2, kw // 2
    seq = Sequential(*pre)
    seq.add(SpatialZeroPadding(pw, pw, ph, ph))
    if kernel.dim() == 2:
        seq.add(SpatialConvolution(n, 1, kw, kh))
    else:
        seq.add(SpatialConvolutionMap(tables.oneToOne(n), kh, 1))
        seq.add(SpatialConvolution(n, 1, 1, kh))
    seq.add(Replicate(n, 0, 3))
    for m in post:
        seq.add(m)
    return seq


def _set_kernel(seq, first, kernel, n):
    """Copy the (normalized) kernel into the estimator's convolution(s) (module ``first`` onwards); zero biases."""
    k = kernel._a.reshape(-1) if kernel.dim() == 1 else kernel._a
    if kernel.dim() == 2:
        conv = seq.modules[first]
        conv.weight._a[0, :] = k
        conv.bias._a.fill(0)
    else:
        cmap, conv = seq.modules[first], seq.modules[first + 1]
        cmap.weight._a.reshape(n, -1)[...] = k
        conv.weight._a.reshape(1, n, -1)[...] = k
        cmap.bias._a.fill(0)
        conv.bias._a.fill(0)


def _check_input(module, x):
    if x.ndim not in (3, 4) or x.shape[-3] != module.nInputPlane:
        raise ValueError(f"{module!r}: expected a 3-D input ({module.nInputPlane} x H x W) or a 4-D batch (N x "
                         f"{module.nInputPlane} x H x W), got {sizestr(x.shape)}")


def _coef(module, x):
    """The border coefficients for input ``x``: the mean estimator on an image of ones (3-D: nInputPlane x 1 x H
    x W), expanded over the batch for a 4-D input (Torch7's ``coef``; its contiguous copy is ``_coef``)."""
    one = module.__dict__.get('ones')
    if one is None or one.__class__ is not module._tcls:
        one = module.ones = module._tcls()
    resized(one, x.shape[-3:]).fill(1)
    c = module.meanestimator.updateOutput(one)
    cc = module.__dict__.get('_coef')
    if cc is None or cc.__class__ is not module._tcls:
        cc = module._coef = module._tcls()
    resized(cc, c._a.shape)[...] = c._a
    if x.ndim == 4:
        return cc.view(1, *c._a.shape).expand(x.shape[0], *c._a.shape)
    return cc


def _check_forwarded(module, x, field, what):
    """Raise when ``module.<field>`` (set by forward) is missing or was made for an input of another size."""
    v = module.__dict__.get(field)
    if not isinstance(v, Tensor) or v._a.size != x.size:      # (Torch7 keeps a singleton dim in it)
        raise RuntimeError(f"{module!r}: updateGradInput needs the {what} of a forward on an input of size "
                           f"{sizestr(x.shape)}; call forward first")


def _buffers_read(*names):
    """A .t7 read fix: the named fields, views of the last forward (Replicate's stride-0 output, the expanded
    ``coef``) in a file Lua saved after a forward, load as contiguous copies (a module's fields may not overlap)."""
    def fix(fields, version):
        for k in names:
            v = fields.get(k)
            if isinstance(v, Tensor) and v.nElement() > 1 and 0 in v._strides():
                fields[k] = v.clone()
    return fix


_classes.READ_FIXES['nn.SpatialSubtractiveNormalization'] = _buffers_read('localsums', 'adjustedsums', 'coef')
_classes.READ_FIXES['nn.SpatialDivisiveNormalization'] = _buffers_read('localstds', 'adjustedstds',
                                                                       'thresholdedstds', 'coef')


class SpatialSubtractiveNormalization(Module):
    """SpatialSubtractiveNormalization(nInputPlane=1, kernel=9x9 ones): output = input - the local mean over all
    planes (the kernel, normalized to sum 1/nInputPlane, over each plane, summed), corrected at the borders."""

    def __init__(self, nInputPlane=1, kernel=None):
        super().__init__()
        _positive('nn.SpatialSubtractiveNormalization', nInputPlane=nInputPlane)
        self.nInputPlane = nInputPlane
        self.kernel = _kernel(self, kernel)
        self.kernel._a /= self.kernel._a.sum() * nInputPlane
        self.meanestimator = _estimator(nInputPlane, self.kernel)
        _set_kernel(self.meanestimator, 1, self.kernel, nInputPlane)
        self.subtractor = CSubTable()
        self.divider = CDivTable()
        self.coef = self._tcls(1, 1, 1)

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        _check_input(self, x)
        if self.__dict__.get('_inpsz') != x.shape:
            self.coef = _coef(self, x)
            self._inpsz = x.shape
        self.localsums = self.meanestimator.updateOutput(t)
        self.adjustedsums = self.divider.updateOutput([self.localsums, self.coef])
        self.output = self.subtractor.updateOutput([t, self.adjustedsums])
        return self.output

    def updateGradInput(self, input, gradOutput):
        t = self._coerce(input)
        _check_forwarded(self, t._a, 'adjustedsums', 'local means')
        gradsub = self.subtractor.updateGradInput([t, self.adjustedsums], gradOutput)
        graddiv = self.divider.updateGradInput([self.localsums, self.coef], gradsub[1])
        gm = self.meanestimator.updateGradInput(t, graddiv[0])
        gi = resized(self.gradInput, t._a.shape)
        gi[...] = gm._a
        gi += gradsub[0]._a
        return self.gradInput

    def clearState(self):
        self.__dict__.pop('_inpsz', None)
        if 'ones' in self.__dict__:
            self.ones = self._tcls()
        self.meanestimator.clearState()
        return super().clearState()

    def __repr__(self):
        return self.__torch_name__


class SpatialDivisiveNormalization(Module):
    """SpatialDivisiveNormalization(nInputPlane=1, kernel=9x9 ones, threshold=1e-4, thresval=threshold): output
    = input / the local standard deviation over all planes (sqrt of the kernel-weighted mean of squares, corrected
    at the borders), where that is above ``threshold`` (else ``thresval``)."""

    def __init__(self, nInputPlane=1, kernel=None, threshold=None, thresval=None):
        super().__init__()
        _positive('nn.SpatialDivisiveNormalization', nInputPlane=nInputPlane)
        self.nInputPlane = nInputPlane
        self.kernel = _kernel(self, kernel)
        self.threshold = 1e-4 if threshold is None else threshold
        self.thresval = self.threshold if thresval is None else thresval
        self.meanestimator = _estimator(nInputPlane, self.kernel)
        self.stdestimator = _estimator(nInputPlane, self.kernel, pre=(Square(),), post=(Sqrt(),))
        k = self.kernel._a
        k /= k.sum() * (nInputPlane if self.kernel.dim() == 2 else math.sqrt(nInputPlane))
        _set_kernel(self.meanestimator, 1, self.kernel, nInputPlane)
        _set_kernel(self.stdestimator, 2, self.kernel, nInputPlane)
        self.normalizer = CDivTable()
        self.divider = CDivTable()
        self.thresholder = Threshold(self.threshold, self.thresval)
        self.coef = self._tcls(1, 1, 1)

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        _check_input(self, x)
        self.localstds = self.stdestimator.updateOutput(t)
        if self.coef._a.shape != self.localstds._a.shape:
            self.coef = _coef(self, x)
        self.adjustedstds = self.divider.updateOutput([self.localstds, self.coef])
        self.thresholdedstds = self.thresholder.updateOutput(self.adjustedstds)
        self.output = self.normalizer.updateOutput([t, self.thresholdedstds])
        return self.output

    def updateGradInput(self, input, gradOutput):
        t = self._coerce(input)
        _check_forwarded(self, t._a, 'thresholdedstds', 'local standard deviations')
        gradnorm = self.normalizer.updateGradInput([t, self.thresholdedstds], gradOutput)
        gradadj = self.thresholder.updateGradInput(self.adjustedstds, gradnorm[1])
        graddiv = self.divider.updateGradInput([self.localstds, self.coef], gradadj)
        gs = self.stdestimator.updateGradInput(t, graddiv[0])
        gi = resized(self.gradInput, t._a.shape)
        gi[...] = gs._a
        gi += gradnorm[0]._a
        return self.gradInput

    def clearState(self):
        if 'ones' in self.__dict__:
            self.ones = self._tcls()
        self.meanestimator.clearState()
        self.stdestimator.clearState()
        return super().clearState()

    def __repr__(self):
        return self.__torch_name__


class SpatialContrastiveNormalization(Module):
    """SpatialContrastiveNormalization(nInputPlane=1, kernel=9x9 ones, threshold=1e-4, thresval=threshold): a
    SpatialSubtractiveNormalization then a SpatialDivisiveNormalization (field ``normalizer``, a Sequential), with
    the same kernel tensor (normalized by each in turn, as Torch7)."""

    def __init__(self, nInputPlane=1, kernel=None, threshold=None, thresval=None):
        super().__init__()
        _positive('nn.SpatialContrastiveNormalization', nInputPlane=nInputPlane)
        self.nInputPlane = nInputPlane
        self.kernel = _kernel(self, kernel)
        self.threshold = 1e-4 if threshold is None else threshold
        self.thresval = self.threshold if thresval is None else thresval
        self.normalizer = Sequential(
            SpatialSubtractiveNormalization(nInputPlane, self.kernel),
            SpatialDivisiveNormalization(nInputPlane, self.kernel, self.threshold, self.thresval))

    def updateOutput(self, input):
        self.output = self.normalizer.forward(input)
        return self.output

    def updateGradInput(self, input, gradOutput):
        _check_forwarded(self, self._coerce(input)._a, 'output', 'output')
        self.gradInput = self.normalizer.backward(input, gradOutput)
        return self.gradInput

    def clearState(self):
        self.normalizer.clearState()
        return super().clearState()

    def __repr__(self):
        return self.__torch_name__


class SpatialLPPooling(Sequential):
    """SpatialLPPooling(nInputPlane, pnorm, kW, kH, dW=kW, dH=kH): the L^p norm of each kW x kH window, (sum
    x^p)^(1/p), as Torch7's Sequential of Power (Square for p=2), SpatialAveragePooling, MulConstant(kW*kH) and
    Power(1/p) (Sqrt).  It has no parameters: reset and the parameter updates do nothing."""

    def __init__(self, nInputPlane, pnorm, kW, kH, dW=None, dH=None):
        super().__init__()
        dW = kW if dW is None else dW
        dH = kH if dH is None else dH
        _positive('nn.SpatialLPPooling', kW=kW, kH=kH, dW=dW, dH=dH)
        self.kW, self.kH, self.dW, self.dH = kW, kH, dW, dH
        self.add(Square() if pnorm == 2 else Power(pnorm))
        self.add(SpatialAveragePooling(kW, kH, dW, dH))
        self.add(MulConstant(kW * kH))
        self.add(Sqrt() if pnorm == 2 else Power(1 / pnorm))

    # Torch7 overrides these so that the Sequential's sub-sampler is never trained
    def reset(self, stdv=None):
        return self

    def accGradParameters(self, input, gradOutput, scale=1):
        pass

    def accUpdateGradParameters(self, input, gradOutput, lr):
        pass

    def zeroGradParameters(self):
        pass

    def updateParameters(self, learningRate):
        pass

"""nn.Dropout, nn.SpatialDropout and (through _FeatureDropout) nn.VolumetricDropout.

CUDA: the masks still come from Torch7's stream on the host (a seed drops the same elements on the CPU and the GPU);
each draw goes into a kept host buffer and is copied into a kept device buffer (no allocation, no launch), then one
launch applies it (Dropout: noise and output in one kernel of backend/gpu_elementwise.py; SpatialDropout: one
multiply).  Backward: one launch.  The host->device copy keeps a training forward out of a CUDA graph.
"""
import numbers

import numpy as np

from .. import random as _random
from ..backend import array_module, gpu_elementwise
from ..types import on_device
from .module import Module, check_grad_like_input, field_out, owned_tensor, resized, set_aliased, sizestr


def _draw_mask(noise, q):
    """``noise:bernoulli(q)`` from the global Torch7 stream: q stays a double for a FloatTensor too (TensorMath.lua
    wraps bernoulli's p as a double)."""
    noise.bernoulli(float(q))


def _checked_p(who, p):
    """p when it is a number in [0, 1), Torch7's check; else a TypeError or ValueError naming ``who``."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{who}: expected the dropout probability p to be a number, got {p!r}")
    if p >= 1 or p < 0:
        raise ValueError(f"{who}: illegal percentage {p}, must be 0 <= p < 1")
    return p


def _host_mask(module, shape, q, dtype):
    """``bernoulli(q)`` drawn as ``_draw_mask`` does (the same numbers), into a kept host buffer of ``dtype``."""
    host = module._buffer('_mask_host', shape, on_device(module._tinfo, False), dtype=dtype)
    _random._default.bernoulli_into(host.reshape(-1), float(q))
    return host


class Dropout(Module):
    """Dropout(p=0.5, v1=False, inplace=False, stochasticInference=False).

    In training each element is kept with probability 1 - p: the mask is drawn from the global Torch7 stream as
    Torch7 does (``noise:bernoulli(1 - p)`` on a tensor shaped like the input, row-major), so a run seeded with
    ``torch.manualSeed`` drops the same elements as Torch7 on the CPU.  Kept elements are scaled by 1 / (1 - p)
    (v1=True: no scaling in training, times 1 - p in evaluation instead).  In evaluate() mode it is the identity
    (unless stochasticInference, which keeps dropping).  With ``inplace`` the input (and in backward the
    gradOutput) is changed and returned.
    """

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    inplace = False
    stochastic_inference = False
    v2 = True

    def __init__(self, p=0.5, v1=False, inplace=False, stochasticInference=False):
        super().__init__()
        self.p = _checked_p('nn.Dropout', p)
        self.train = True
        self.inplace = inplace
        self.stochastic_inference = stochasticInference
        self.v2 = not v1
        self.noise = self._tcls()

    def setp(self, p):
        if p >= 1 or p < 0:
            raise ValueError(f"{self!r}: illegal percentage {p}, must be 0 <= p < 1")
        self.p = p
        return self

    def _into(self, name, t):
        """self.<name> as t itself (inplace) or as a copy of t in the module's own buffer."""
        if self.inplace:
            return set_aliased(self, name, t)._a
        out = resized(owned_tensor(self, name), t._a.shape)
        out[...] = t._a
        return out

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        if type(x) is not np.ndarray and self.p > 0 and (self.train or self.stochastic_inference):
            # CUDA: the mask drawn on the host, copied up as bytes, applied in one launch (see the module docstring)
            out = set_aliased(self, 'output', t)._a if self.inplace else resized(owned_tensor(self, 'output'),
                                                                                 x.shape)
            q = 1 - self.p
            gpu_elementwise.dropout_forward(x, _host_mask(self, x.shape, q, np.uint8),
                                            self._buffer('_mask', x.shape, dtype=np.uint8),
                                            field_out(self, 'noise', x.shape), out,
                                            self._tinfo.dtype.type(1) / self._tinfo.dtype.type(q) if self.v2 else 1)
            return self.output
        out = self._into('output', t)
        if self.p > 0:
            q = 1 - self.p
            if self.train or self.stochastic_inference:
                noise = resized(self.noise, x.shape)
                _draw_mask(self.noise, q)
                if self.v2:
                    array_module(noise).divide(noise, q, out=noise)
                out *= noise
            elif not self.v2:
                out *= q
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        gt = self._coerce(gradOutput, 'gradOutput')
        check_grad_like_input(self, x, gt._a)
        # (Torch7 masks in training only: evaluate() with stochasticInference passes gradOutput on as evaluate() does)
        if self.p > 0 and self.train:
            noise = self.noise._a
            if noise.shape != x.shape:
                raise RuntimeError(f"{self!r}: updateGradInput needs the noise of a training forward on an "
                                   f"input of size {sizestr(x.shape)}; call forward first")
            # gradInput = gradOutput * noise: one pass (one launch on CUDA), in place into gradOutput if inplace
            gi = set_aliased(self, 'gradInput', gt)._a if self.inplace else resized(owned_tensor(self, 'gradInput'),
                                                                                    x.shape)
            array_module(gi).multiply(gt._a, noise, out=gi)
            return self.gradInput
        gi = self._into('gradInput', gt)
        if self.p > 0 and not self.v2:
            gi *= 1 - self.p   # Torch7's v1 evaluation backward (its cdiv by a number would fail)
        return self.gradInput

    def clearState(self):
        self.noise = self._tcls()       # (Torch7's Dropout:clearState empties the noise too)
        return super().clearState()

    def __repr__(self):
        return f"{self.__torch_name__}({self.p:f})"


class _FeatureDropout(Module):
    """What SpatialDropout and VolumetricDropout share (Torch7 writes them apart, both children of nn.Module): in
    training one bernoulli(1 - p) per (sample, feature) from the global Torch7 stream, ``noise`` shaped by the
    subclass's ``_noise_shape``, multiplies its whole plane or volume; kept ones are NOT rescaled.  In evaluate()
    mode the output is the input times (1 - p), unless stochasticInference keeps dropping; backward only in
    training (Torch7: 'backprop only defined while training')."""

    stochastic_inference = False   # absent from older Torch7 files

    def __init__(self, p=0.5, stochasticInference=False):
        _checked_p(self.__torch_name__, p)
        super().__init__()
        self.p = p
        self.train = True
        self.stochastic_inference = stochasticInference
        self.noise = self._tcls()

    def setp(self, p):
        self.p = p
        return self

    def clearState(self):
        self.noise = self._tcls()       # (Torch7's clearState empties the noise too)
        return super().clearState()

    def __repr__(self):
        return f"{self.__torch_name__}({self.p:f})"

    def _dropping(self):
        return self.train or self.stochastic_inference

    def updateOutput(self, input):
        x = self._coerce(input)._a
        nshape = self._noise_shape(x)
        out = resized(self.output, x.shape)
        if self._dropping():
            if type(x) is not np.ndarray:   # CUDA: the host draw copied into the kept noise (no launch), 1 multiply
                noise = field_out(self, 'noise', nshape)
                gpu_elementwise.upload(noise, _host_mask(self, nshape, 1 - self.p, self._tinfo.dtype))
            else:
                noise = resized(self.noise, nshape)
                _draw_mask(self.noise, 1 - self.p)
            array_module(x).multiply(x, noise, out=out)
        else:
            array_module(x).multiply(x, 1 - self.p, out=out)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_like_input(self, x, g)
        if not self.train:      # (Torch7 tests train only, not stochastic_inference)
            raise RuntimeError(f"{self!r}: backprop only defined while training")
        noise = self.noise._a
        if noise.shape != self._noise_shape(x):
            raise RuntimeError(f"{self!r}: updateGradInput needs the noise of a training forward on an input of "
                               f"size {sizestr(x.shape)}; call forward first")
        array_module(x).multiply(g, noise, out=resized(self.gradInput, x.shape))
        return self.gradInput


class SpatialDropout(_FeatureDropout):
    """SpatialDropout(p=0.5, stochasticInference=False): drops whole feature planes (``noise`` batch x planes x 1 x
    1 for a 4-D input, planes x 1 x 1 for a 3-D one, drawn row-major as Torch7); see _FeatureDropout."""

    def _noise_shape(self, x):
        if x.ndim == 4:
            return x.shape[:2] + (1, 1)
        if x.ndim == 3:
            return x.shape[:1] + (1, 1)
        raise ValueError(f"{self!r}: input must be 4-D (nbatch x nfeat x h x w) or 3-D (nfeat x h x w), got "
                         f"size {sizestr(x.shape)}")

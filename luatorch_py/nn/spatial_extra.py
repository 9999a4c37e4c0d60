"""More spatial convolutions (Torch7's nn): SpatialSubSampling, SpatialConvolutionLocal, SpatialDepthWiseConvolution.

Torch7's argument order, defaults, reset order and fields.  Inputs C x H x W or a batch N x C x H x W.  Built on
the convolution blocks of backend/kernels.py (im2col / col2im, window slices): no loop over batch, planes or pixels.
"""
import numpy as np

from ..backend import array_module, kernels
from .conv import _nonneg, _positive
from .linear import _reset_uniform
from .module import Module, check_grad_size, resized, sizestr


def _batch(module, x, planes, at_least=False):
    """(x as N x C x H x W, batched?), checking the number of planes: C == planes (C >= planes with ``at_least``,
    for modules that use the first ones)."""
    if x.ndim == 3:
        xb, batched = x[None], False
    elif x.ndim == 4:
        xb, batched = x, True
    else:
        raise ValueError(f"{module!r}: expected a 3-D input ({planes} x H x W) or a 4-D batch (N x {planes} x H x "
                         f"W), got {sizestr(x.shape)}")
    if (xb.shape[1] < planes if at_least else xb.shape[1] != planes) or xb.size == 0:
        raise ValueError(f"{module!r}: expected input with {'at least ' if at_least else ''}{planes} planes (dim "
                         f"{1 if batched else 0}), got size {sizestr(x.shape)}")
    return xb, batched


def _flat(t, shape, what):
    """The contiguous array of parameter tensor ``t`` seen with ``shape`` (a Lua file may hold another view)."""
    a = t._a
    if not a.flags.c_contiguous or a.size != int(np.prod(shape)):
        raise ValueError(f"{what} must be a contiguous tensor of {int(np.prod(shape))} elements, got size "
                         f"{sizestr(a.shape)}")
    return a.reshape(shape)


class SpatialSubSampling(Module):
    """SpatialSubSampling(nInputPlane, kW, kH, dW=1, dH=1): each plane's kW x kH window sums times the plane's
    ``weight``, plus its ``bias`` (both of nInputPlane numbers); output planes of (H - kH) // dH + 1 by
    (W - kW) // dW + 1."""

    def __init__(self, nInputPlane, kW, kH, dW=1, dH=1):
        _positive('nn.SpatialSubSampling', nInputPlane=nInputPlane, kW=kW, kH=kH, dW=dW, dH=dH)
        super().__init__()
        self.nInputPlane, self.kW, self.kH, self.dW, self.dH = nInputPlane, kW, kH, dW, dH
        self.weight = self._tcls(nInputPlane)
        self.bias = self._tcls(nInputPlane)
        self.gradWeight = self._tcls(nInputPlane)
        self.gradBias = self._tcls(nInputPlane)
        self.reset()

    def reset(self, stdv=None):
        # Torch7: weight then bias, over 1/sqrt(kW*kH) (the window, not the planes)
        _reset_uniform(stdv, self.kW * self.kH, self.weight, self.bias)
        return self

    def _setup(self, input):
        x = self._coerce(input)._a
        xb, batched = _batch(self, x, self.nInputPlane)
        h, w = xb.shape[2:]
        if h < self.kH or w < self.kW:
            raise ValueError(f"{self!r}: input image of size {sizestr(x.shape)} is smaller than the kernel "
                             f"{self.kW}x{self.kH}")
        osize = kernels.out_sizes((h, w), (self.kH, self.kW), (self.dH, self.dW), 0)
        wins = [(slice(None), slice(None)) + kernels.window_slices(k, (self.dH, self.dW), (1, 1), osize)
                for k in kernels.kernel_offsets((self.kH, self.kW))]
        return x, xb, batched, osize, wins

    def _sums(self, x, xb, osize, wins):
        """The window sums N x C x oH x oW (kept from updateOutput for the same input array)."""
        if self.__dict__.get('_sums_of') is x:
            return self._s
        s = self._buffer('_s', xb.shape[:2] + osize)
        s[...] = xb[wins[0]]
        for w in wins[1:]:
            s += xb[w]
        self._sums_of = x
        return s

    def updateOutput(self, input):
        x, xb, batched, osize, wins = self._setup(input)
        xp = array_module(x)
        self._sums_of = None
        s = self._sums(x, xb, osize, wins)
        out = resized(self.output, ((xb.shape[0],) if batched else ()) + (self.nInputPlane,) + osize)
        o4 = out.reshape(s.shape)
        xp.multiply(s, self.weight._a[:, None, None], out=o4)
        o4 += self.bias._a[:, None, None]
        return self.output

    def _g(self, gradOutput, xb, batched, osize):
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, ((xb.shape[0],) if batched else ()) + (self.nInputPlane,) + osize)
        return g.reshape(xb.shape[:2] + osize)

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:
            return None
        x, xb, batched, osize, wins = self._setup(input)
        xp = array_module(x)
        g = self._g(gradOutput, xb, batched, osize)
        gw = self._buffer('_gw', g.shape)
        xp.multiply(g, self.weight._a[:, None, None], out=gw)
        gi = resized(self.gradInput, x.shape).reshape(xb.shape)
        gi.fill(0)
        for w in wins:
            gi[w] += gw
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, xb, batched, osize, wins = self._setup(input)
        xp = array_module(x)
        g = self._g(gradOutput, xb, batched, osize)
        s = self._sums(x, xb, osize, wins)
        self._sums_of = None
        tmp = self._buffer('_gs', g.shape)
        xp.multiply(g, s, out=tmp)
        self.gradWeight._a[...] += scale * tmp.sum(axis=(0, 2, 3))
        self.gradBias._a[...] += scale * g.sum(axis=(0, 2, 3))

    def __repr__(self):
        return f"{self.__torch_name__}({self.nInputPlane}, {self.kW}x{self.kH}, {self.dW},{self.dH})"


class SpatialConvolutionLocal(Module):
    """SpatialConvolutionLocal(nInputPlane, nOutputPlane, iW, iH, kW, kH, dW=1, dH=1, padW=0, padH=padW): a
    convolution whose kernel differs at every output position (no weight sharing), for inputs of exactly iH x iW.
    weight: oH x oW x nOutputPlane x nInputPlane x kH x kW; bias: nOutputPlane x oH x oW."""

    def __init__(self, nInputPlane, nOutputPlane, iW, iH, kW, kH, dW=1, dH=1, padW=0, padH=None):
        name = 'nn.SpatialConvolutionLocal'
        padH = padW if padH is None else padH
        _positive(name, nInputPlane=nInputPlane, nOutputPlane=nOutputPlane, iW=iW, iH=iH, kW=kW, kH=kH, dW=dW,
                  dH=dH)
        _nonneg(name, padW=padW, padH=padH)
        super().__init__()
        self.nInputPlane, self.nOutputPlane = nInputPlane, nOutputPlane
        self.kW, self.kH, self.iW, self.iH, self.dW, self.dH = kW, kH, iW, iH, dW, dH
        self.padW, self.padH = padW, padH
        self.oW = (2 * padW + iW - kW) // dW + 1
        self.oH = (2 * padH + iH - kH) // dH + 1
        if self.oW < 1 or self.oH < 1:
            raise ValueError(f"{name}: illegal configuration: output width or height less than 1 (input {iW}x{iH}, "
                             f"kernel {kW}x{kH}, padding {padW},{padH})")
        shape = (self.oH, self.oW, nOutputPlane, nInputPlane, kH, kW)
        self.weight = self._tcls(*shape)
        self.bias = self._tcls(nOutputPlane, self.oH, self.oW)
        self.gradWeight = self._tcls(*shape)
        self.gradBias = self._tcls(nOutputPlane, self.oH, self.oW)
        self.reset()

    def reset(self, stdv=None):
        _reset_uniform(stdv, self.kW * self.kH * self.nInputPlane, self.weight, self.bias)
        return self

    def _setup(self, input):
        x = self._coerce(input)._a
        xb, batched = _batch(self, x, self.nInputPlane)
        if xb.shape[2:] != (self.iH, self.iW):
            raise ValueError(f"{self!r}: given input size {sizestr(x.shape)} is inconsistent with the expected "
                             f"input size ({'batch x ' if batched else ''}{self.nInputPlane} x {self.iH} x "
                             f"{self.iW})")
        return x, xb, batched

    def _geom(self):
        return (self.kH, self.kW), (self.dH, self.dW), (self.padH, self.padW)

    def _colsT(self, x, xb):
        """The unfolded input as L x C*kk x N (L = oH*oW; 'nlast' columns), kept for the same input array."""
        ckk = self.nInputPlane * self.kH * self.kW
        if self.__dict__.get('_cols_of') is x:
            return self._cols.reshape(ckk, -1, xb.shape[0]).transpose(1, 0, 2)
        k, s, p = self._geom()
        cols = kernels.im2col(xb, k, s, p, 1, 'nlast', self._buffer, '_cols')       # C*kk x (L*N)
        self._cols_of = x
        return cols.reshape(ckk, -1, xb.shape[0]).transpose(1, 0, 2)

    def _w3(self, t, what):
        return _flat(t, (self.oH * self.oW, self.nOutputPlane, self.nInputPlane * self.kH * self.kW), what)

    def updateOutput(self, input):
        x, xb, batched = self._setup(input)
        xp = array_module(x)
        self._cols_of = None
        ct = self._colsT(x, xb)
        n, L = xb.shape[0], self.oH * self.oW
        r = self._buffer('_r', (L, self.nOutputPlane, n))
        xp.matmul(self._w3(self.weight, 'weight'), ct, out=r)
        out = resized(self.output, ((n,) if batched else ()) + (self.nOutputPlane, self.oH, self.oW))
        o3 = out.reshape(n, self.nOutputPlane, L)
        xp.add(r.transpose(2, 1, 0), self.bias._a.reshape(1, self.nOutputPlane, L), out=o3)
        return self.output

    def _gT(self, input, gradOutput):
        x, xb, batched = self._setup(input)
        n = xb.shape[0]
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, ((n,) if batched else ()) + (self.nOutputPlane, self.oH, self.oW))
        gt = self._buffer('_gt', (self.oH * self.oW, self.nOutputPlane, n))
        gt[...] = g.reshape(n, self.nOutputPlane, -1).transpose(2, 1, 0)
        return x, xb, g, gt

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:
            return None
        x, xb, g, gt = self._gT(input, gradOutput)
        xp = array_module(x)
        w3 = self._w3(self.weight, 'weight')
        dct = self._buffer('_dct', (w3.shape[0], w3.shape[2], xb.shape[0]))
        xp.matmul(w3.transpose(0, 2, 1), gt, out=dct)
        dcols = self._buffer('_dcols', (w3.shape[2], w3.shape[0], xb.shape[0]))
        dcols[...] = dct.transpose(1, 0, 2)
        gi = resized(self.gradInput, x.shape)
        k, s, p = self._geom()
        kernels.col2im(dcols.reshape(w3.shape[2], -1), gi.reshape(xb.shape), k, s, p, 1, 'nlast', self._buffer,
                       '_col2im')
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, xb, g, gt = self._gT(input, gradOutput)
        xp = array_module(x)
        ct = self._colsT(x, xb)
        self._cols_of = None
        gw3 = self._w3(self.gradWeight, 'gradWeight')
        tmp = self._buffer('_gwt', gw3.shape)
        xp.matmul(gt, ct.transpose(0, 2, 1), out=tmp)
        gw3 += scale * tmp
        gb = self.gradBias._a.reshape(self.nOutputPlane, -1)
        gb += scale * gt.sum(axis=2).T

    def __repr__(self):
        s = (f"{self.__torch_name__}({self.nInputPlane} -> {self.nOutputPlane}, {self.iW}x{self.iH}, "
             f"{self.kW}x{self.kH}")
        if self.dW != 1 or self.dH != 1 or self.padW != 0 or self.padH != 0:
            s += f", {self.dW},{self.dH}"
        if self.padW != 0 or self.padH != 0:
            s += f", {self.padW},{self.padH}"
        return s + ')'


class SpatialDepthWiseConvolution(Module):
    """SpatialDepthWiseConvolution(nInputPlane, nOutputPlane, kW, kH, dW=1, dH=1, padW=0, padH=padW): each input
    plane i convolved separately with nOutputPlane kernels into output planes i*nOutputPlane + o (nInputPlane *
    nOutputPlane planes in all).  weight: nOutputPlane x (nInputPlane*kH*kW) (Torch7 reshapes it to nOutputPlane x
    nInputPlane x kH x kW on the first forward; either loads); bias: nOutputPlane x nInputPlane.

    Torch7's C code (2017) mixes up height and width of the input for non-square images; here they are right
    (outputs agree with Torch7's for square inputs, kernels, strides and paddings)."""

    def __init__(self, nInputPlane, nOutputPlane, kW, kH, dW=1, dH=1, padW=0, padH=None):
        name = 'nn.SpatialDepthWiseConvolution'
        padH = padW if padH is None else padH
        _positive(name, nInputPlane=nInputPlane, nOutputPlane=nOutputPlane, kW=kW, kH=kH, dW=dW, dH=dH)
        _nonneg(name, padW=padW, padH=padH)
        super().__init__()
        self.nInputPlane, self.nOutputPlane = nInputPlane, nOutputPlane
        self.kW, self.kH, self.dW, self.dH, self.padW, self.padH = kW, kH, dW, dH, padW, padH
        self.weight = self._tcls(nOutputPlane, nInputPlane * kH * kW)
        self.bias = self._tcls(nOutputPlane, nInputPlane)
        self.gradWeight = self._tcls(nOutputPlane, nInputPlane * kH * kW)
        self.gradBias = self._tcls(nOutputPlane, nInputPlane)
        self.reset()

    def noBias(self):
        self.__dict__.pop('bias', None)
        self.__dict__.pop('gradBias', None)
        return self

    def reset(self, stdv=None):
        _reset_uniform(stdv, self.kW * self.kH * self.nInputPlane, self.weight, self.__dict__.get('bias'))
        return self

    def _geom(self):
        d = self.__dict__
        if 'padding' in d:      # Torch7's backward compatibility
            self.padW = self.padH = d.pop('padding')
        return (self.kH, self.kW), (self.dH, self.dW), (self.padH, self.padW)

    def _setup(self, input):
        x = self._coerce(input)._a
        xb, batched = _batch(self, x, self.nInputPlane)
        k, s, p = self._geom()
        osize = kernels.out_sizes(xb.shape[2:], k, s, p)
        if min(osize) < 1:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} gives an output of size "
                             f"{self.nInputPlane * self.nOutputPlane}x{osize[0]}x{osize[1]}: too small")
        return x, xb, batched, osize

    def _wT(self, t, what):
        """nInputPlane x nOutputPlane x kk view of a weight-shaped tensor."""
        kk = self.kH * self.kW
        return _flat(t, (self.nOutputPlane, self.nInputPlane, kk), what).transpose(1, 0, 2)

    def _c3(self, x, xb):
        shape = (self.nInputPlane, self.kH * self.kW, -1)
        if self.__dict__.get('_cols_of') is x:
            return self._cols.reshape(shape)
        k, s, p = self._geom()
        cols = kernels.im2col(xb, k, s, p, 1, 'nfirst', self._buffer, '_cols')       # C*kk x N*L
        self._cols_of = x
        return cols.reshape(shape)

    def _nplanes(self):
        return self.nInputPlane * self.nOutputPlane

    def updateOutput(self, input):
        x, xb, batched, osize = self._setup(input)
        xp = array_module(x)
        self._cols_of = None
        c3 = self._c3(x, xb)
        r = self._buffer('_r', (self.nInputPlane, self.nOutputPlane, c3.shape[2]))
        xp.matmul(self._wT(self.weight, 'weight'), c3, out=r)
        n = xb.shape[0]
        out = resized(self.output, ((n,) if batched else ()) + (self._nplanes(),) + osize)
        o3 = out.reshape(n, self._nplanes(), -1)
        src = kernels.cols_to_batch(r.reshape(self._nplanes(), -1), n, 'nfirst')
        if 'bias' in self.__dict__:
            xp.add(src, self.bias._a.T.reshape(-1, 1), out=o3)
        else:
            o3[...] = src
        return self.output

    def _grad_mat(self, input, gradOutput):
        x, xb, batched, osize = self._setup(input)
        n = xb.shape[0]
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, ((n,) if batched else ()) + (self._nplanes(),) + osize)
        gm = kernels.batch_to_cols(g.reshape((n, self._nplanes()) + osize), 'nfirst',
                                   self._buffer('_gm', (self._nplanes(), n * osize[0] * osize[1])))
        return x, xb, gm.reshape(self.nInputPlane, self.nOutputPlane, -1)

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:
            return None
        x, xb, gm = self._grad_mat(input, gradOutput)
        xp = array_module(x)
        kk = self.kH * self.kW
        dc = self._buffer('_dc', (self.nInputPlane, kk, gm.shape[2]))
        xp.matmul(self._wT(self.weight, 'weight').transpose(0, 2, 1), gm, out=dc)
        gi = resized(self.gradInput, x.shape)
        k, s, p = self._geom()
        kernels.col2im(dc.reshape(self.nInputPlane * kk, -1), gi.reshape(xb.shape), k, s, p, 1, 'nfirst',
                       self._buffer, '_col2im')
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, xb, gm = self._grad_mat(input, gradOutput)
        xp = array_module(x)
        c3 = self._c3(x, xb)
        self._cols_of = None
        tmp = self._buffer('_gwt', (self.nInputPlane, self.nOutputPlane, c3.shape[1]))
        xp.matmul(gm, c3.transpose(0, 2, 1), out=tmp)
        gw = self._wT(self.gradWeight, 'gradWeight')
        gw += scale * tmp
        if 'gradBias' in self.__dict__:
            self.gradBias._a[...] += scale * gm.sum(axis=2).T

    def __repr__(self):
        s = f"{self.__torch_name__}({self.nInputPlane} -> {self.nOutputPlane}, {self.kW}x{self.kH}"
        if self.dW != 1 or self.dH != 1 or self.padW != 0 or self.padH != 0:
            s += f", {self.dW},{self.dH}"
        if self.padW != 0 or self.padH != 0:
            s += f", {self.padW},{self.padH}"
        return s + (')' if 'bias' in self.__dict__ else ') without bias')

"""More of Torch7's volumetric (C x T x H x W, or a batch N x C x T x H x W) modules: VolumetricBatchNormalization,
VolumetricFullConvolution, VolumetricDilatedConvolution, VolumetricDropout, VolumetricDilatedMaxPooling,
VolumetricMaxUnpooling, VolumetricFractionalMaxPooling, VolumetricReplicationPadding.

Each subclasses what Lua subclasses and reuses the building blocks of conv.py (im2col/col2im over n spatial dims),
normalization.py, dropout.py and padding.py; Torch7's constructor arguments, defaults, reset order and .t7 fields.
The passes are written against the array module (numpy or CuPy); the dilated and fractional poolings have no
dedicated CUDA kernel (a few array operations per kernel offset on the GPU).
"""
import numbers

import numpy as np

from ..backend import array_module, gpu_pool, kernels
from .conv import (_INF, SpatialFullConvolution, VolumetricConvolution, VolumetricMaxPooling, _check_ints,
                   _Convolution, _nonneg, _positive, _to_winners, _volume, _volume_pooled_sizes, _winners, _x)
from .dropout import _FeatureDropout
from .module import Module, check_grad_size, check_nonempty, field_out, long_info, resized, sizestr
from .normalization import BatchNormalization
from .padding import _REPLICATE, _fold_axis, _pad_axis
from .spatial_pool_extra import _first_max, _intervals, _random_samples


class VolumetricBatchNormalization(BatchNormalization):
    """VolumetricBatchNormalization(nFeature, eps=1e-5, momentum=0.1, affine=True) over a 5-D (batch x nFeature x
    T x H x W) input: one mean/variance per feature, over the batch and all voxels (Torch7: BatchNormalization with
    nDim = 5)."""
    nDim = 5


# -- convolutions ---------------------------------------------------------------------------------------------------
class VolumetricFullConvolution(_Convolution):
    """The transpose of VolumetricConvolution: output volumes of (T-1)*dT - 2*padT + kT + adjT by ... (H, W alike).
    weight: nInputPlane x nOutputPlane x kT x kH x kW.  As Torch7 the input may be a list ``[input, target]``: adjT,
    adjW, adjH then come from the last three dims of ``target``, and gradInput is ``[gradInput, zeros of target's
    size]``.

    Torch7's parent class is nn.Module (not SpatialFullConvolution): SpatialFullConvolution's passes, which work
    over any number of spatial dims (``_nsd``, ``_adj_fields``), are borrowed here."""
    _nsd = 3
    _dimnames = 'T x H x W'
    _adj_fields = ('adjT', 'adjH', 'adjW')
    _unit = 'volumes'
    _split = SpatialFullConvolution._split
    updateOutput = SpatialFullConvolution.updateOutput
    _layout2 = SpatialFullConvolution._layout2
    _xmat = SpatialFullConvolution._xmat
    _gradcols = SpatialFullConvolution._gradcols
    _backward_setup = SpatialFullConvolution._backward_setup
    updateGradInput = SpatialFullConvolution.updateGradInput
    accGradParameters = SpatialFullConvolution.accGradParameters

    def __init__(self, nInputPlane, nOutputPlane, kT, kW, kH, dT=1, dW=1, dH=1, padT=0, padW=0, padH=0, adjT=0,
                 adjW=0, adjH=0):
        name = 'nn.VolumetricFullConvolution'
        _positive(name, nInputPlane=nInputPlane, nOutputPlane=nOutputPlane, kT=kT, kW=kW, kH=kH, dT=dT, dW=dW,
                  dH=dH)
        _nonneg(name, padT=padT, padW=padW, padH=padH, adjT=adjT, adjW=adjW, adjH=adjH)
        if adjW > dW - 1 or adjH > dH - 1 or adjT > dT - 1:
            raise ValueError(f"{name}: adjW, adjH and adjT must be smaller than dW, dH and dT respectively, got "
                             f"adjT={adjT}, adjW={adjW}, adjH={adjH}, dT={dT}, dW={dW}, dH={dH}")
        super().__init__()
        self.nInputPlane, self.nOutputPlane = nInputPlane, nOutputPlane
        self.kT, self.kW, self.kH = kT, kW, kH
        self.dT, self.dW, self.dH = dT, dW, dH
        self.padT, self.padW, self.padH = padT, padW, padH
        self.adjT, self.adjW, self.adjH = adjT, adjW, adjH
        shape = (nInputPlane, nOutputPlane, kT, kH, kW)
        self.weight = self._tcls(*shape)
        self.gradWeight = self._tcls(*shape)
        self.bias = self._tcls(nOutputPlane)
        self.gradBias = self._tcls(nOutputPlane)
        # Torch7's buffers (Lua's updateOutput passes them to THNN: kept so that Lua can run a saved module)
        self.ones = self._tcls()
        self.finput = self._tcls()
        self.fgradInput = self._tcls()
        self.reset()

    def _fan_in(self):
        return self.kT * self.kW * self.kH * self.nInputPlane

    def __t7_loaded__(self, ctx):
        """Torch7's backCompatibility for files from before adjW: their weight is nOutputPlane x nInputPlane x ..."""
        d = self.__dict__
        if 'adjW' not in d and isinstance(d.get('weight'), self._tcls) and d['weight'].dim() == 5:
            self.weight = d['weight'].transpose(0, 1).contiguous()
            self.adjT = self.adjW = self.adjH = 0

    def _geom(self):
        d = self.__dict__
        for new, old in (('padT', 'pT'), ('padW', 'pW'), ('padH', 'pH')):   # Torch7's backCompatibility
            if new not in d and old in d:
                d[new] = d[old]
        return ((self.kT, self.kH, self.kW), (self.dT, self.dH, self.dW),
                (d.get('padT', 0), d.get('padH', 0), d.get('padW', 0)))

    def __repr__(self):
        _, _, (pt, ph, pw) = self._geom()
        d = self.__dict__
        s = f"{self.__torch_name__}({self.nInputPlane} -> {self.nOutputPlane}, {self.kT}x{self.kW}x{self.kH}"
        if self.dT != 1 or self.dW != 1 or self.dH != 1 or pt or pw or ph:
            s += f", {self.dT},{self.dW},{self.dH}"
        if pt or pw or ph:
            s += f", {pt},{pw},{ph}"
        at, aw, ah = d.get('adjT', 0), d.get('adjW', 0), d.get('adjH', 0)
        if at or aw or ah:
            s += f", {at},{aw},{ah}"
        return s + ')'


class VolumetricDilatedConvolution(VolumetricConvolution):
    """VolumetricConvolution whose kernel taps are dilationT/dilationW/dilationH apart (output volumes of
    floor((T + 2*padT - (dilationT*(kT-1)+1)) / dT) + 1 by ...)."""

    def __init__(self, nInputPlane, nOutputPlane, kT, kW, kH, dT=1, dW=1, dH=1, padT=0, padW=None, padH=None,
                 dilationT=1, dilationW=1, dilationH=1):
        _positive('nn.VolumetricDilatedConvolution', dilationT=dilationT, dilationW=dilationW, dilationH=dilationH)
        super().__init__(nInputPlane, nOutputPlane, kT, kW, kH, dT, dW, dH, padT, padW, padH)
        self.dilationT, self.dilationW, self.dilationH = dilationT, dilationW, dilationH

    def _dilation(self):
        d = self.__dict__
        return d.get('dilationT', 1), d.get('dilationH', 1), d.get('dilationW', 1)

    def __repr__(self):
        _, _, (pt, ph, pw) = self._geom()
        dt, dh, dw = self._dilation()
        s = f"{self.__torch_name__}({self.nInputPlane} -> {self.nOutputPlane}, {self.kT}x{self.kW}x{self.kH}"
        if self.dT != 1 or self.dW != 1 or self.dH != 1 or pt or pw or ph:
            s += f", {self.dT},{self.dW},{self.dH}"
        if pt or pw or ph:
            s += f", {pt},{pw},{ph}"
        return s + f", {dt},{dw},{dh})" + self._bias_note()


# -- dropout --------------------------------------------------------------------------------------------------------
class VolumetricDropout(_FeatureDropout):
    """VolumetricDropout(p=0.5, stochasticInference=False): drops whole feature volumes (``noise``: batch x features
    x 1 x 1 x 1, or features x 1 x 1 x 1 for a 4-D input); see dropout._FeatureDropout.  (Torch7's parent class is
    nn.Module: it is not a SpatialDropout.)"""

    def _noise_shape(self, x):
        if x.ndim == 5:
            return x.shape[:2] + (1, 1, 1)
        if x.ndim == 4:
            return x.shape[:1] + (1, 1, 1)
        raise ValueError(f"{self!r}: input must be 5-D (nbatch x nfeat x t x h x w) or 4-D (nfeat x t x h x w), got "
                         f"size {sizestr(x.shape)}")


# -- pooling --------------------------------------------------------------------------------------------------------
class VolumetricDilatedMaxPooling(VolumetricMaxPooling):
    """VolumetricMaxPooling whose window taps are dilationT/dilationW/dilationH apart: output floor (or, after
    ``:ceil()``, ceil) of (T + 2*padT - (dilationT*(kT-1)+1)) / dT, plus 1, less one when the last window would start
    in the padding (Torch7).  The first largest value of a window wins (a NaN never does, as THNN's ``val > max``);
    the gradient goes to it.

    Differs from Torch7 in one case: with a padding of 2 or more and a dilation above 1, THNN drops some taps of the
    windows that hang over the start (and its backward sends their gradient elsewhere); here every tap inside the
    input counts.  (Padding 1, or dilation 1, gives Torch7's windows.)"""

    def __init__(self, kT, kW, kH, dT=None, dW=None, dH=None, padT=0, padW=0, padH=0, dilationT=1, dilationW=1,
                 dilationH=1):
        _positive('nn.VolumetricDilatedMaxPooling', dilationT=dilationT, dilationW=dilationW, dilationH=dilationH)
        super().__init__(kT, kW, kH, dT, dW, dH, padT, padW, padH)
        self.dilationT, self.dilationW, self.dilationH = dilationT, dilationW, dilationH

    def _dilation(self):
        d = self.__dict__
        return d.get('dilationT', 1), d.get('dilationH', 1), d.get('dilationW', 1)

    def _setup(self, input):
        x = self._coerce(input)._a
        xb, batched = _volume(self, x)
        k, s, p = self._geom()
        dil = self._dilation()
        span = tuple(dd * (kk - 1) + 1 for kk, dd in zip(k, dil))
        sizes = xb.shape[2:]
        osize, extra = _volume_pooled_sizes(sizes, span, s, p, self.ceil_mode)
        if min(osize) < 1:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} is too small: its {_x(sizes)} volumes"
                             f" (padded by {p[0]},{p[2]},{p[1]}) give an output of {_x(osize)} for the dilated "
                             f"kernel {span[0]}x{span[2]}x{span[1]}")
        return x, xb, batched, osize, k, s, p, extra

    def _windows(self, k, s, osize):
        return [(slice(None), slice(None)) + kernels.window_slices(off, s, self._dilation(), osize)
                for off in kernels.kernel_offsets(k)]

    def updateOutput(self, input):
        x, xb, batched, osize, k, s, p, extra = self._setup(input)
        self.itime, self.iheight, self.iwidth = xb.shape[2:]
        n, c = xb.shape[:2]
        xp = array_module(x)
        out = resized(self.output, ((n,) if batched else ()) + (c,) + osize).reshape((n, c) + osize)
        idx = self._buffer('_idx', (n, c) + osize, long_info(self))     # the winner's kernel offset (row-major)
        src = kernels.padded(xb, p, self._buffer, '_pad', -_INF, extra)
        m = self._bools('_m', out.shape)
        out.fill(-_INF)
        idx.fill(-1)
        for j, w in enumerate(self._windows(k, s, osize)):
            v = src[w]
            xp.greater(v, out, out=m)
            xp.copyto(out, v, where=m)
            xp.copyto(idx, j, where=m)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, xb, batched, osize, k, s, p, extra = self._setup(input)
        n, c = xb.shape[:2]
        gb, idx = _winners(self, input, gradOutput, batched, (n, c) + osize)
        gi = resized(self.gradInput, x.shape).reshape(xb.shape)
        padded = any(p) or any(extra)
        acc = self._buffer('_gpad', (n, c) + tuple(i + 2 * pp + e for i, pp, e in zip(xb.shape[2:], p, extra))) \
            if padded else gi
        acc.fill(0)
        _to_winners(self, array_module(gi), gb, idx, acc, self._windows(k, s, osize))
        if padded:
            gi[...] = acc[(slice(None), slice(None)) + tuple(slice(pp, pp + i) for pp, i in zip(p, xb.shape[2:]))]
        return self.gradInput

    def __repr__(self):
        s = f"{self.__torch_name__}({self.kT}x{self.kW}x{self.kH}, {self.dT},{self.dW},{self.dH}"
        if self.padT or self.padW or self.padH:
            s += f", {self.padT},{self.padW},{self.padH}"
        dt, dh, dw = self._dilation()
        return s + f", {dt},{dw},{dh})"


class VolumetricMaxUnpooling(Module):
    """VolumetricMaxUnpooling(poolingModule): the inverse of a VolumetricMaxPooling whose kernel equals its stride
    (kT == dT, kW == dW, kH == dH): each input value goes back to where the pooling module's last forward found its
    window's maximum, zeros elsewhere; the output has the size of that forward's input.  Backward: each input's
    gradient is gradOutput at that place."""

    def __init__(self, poolingModule):
        super().__init__()
        if type(poolingModule) is not VolumetricMaxPooling:
            raise TypeError(f"nn.VolumetricMaxUnpooling: the argument must be a nn.VolumetricMaxPooling module, got "
                            f"{poolingModule!r}")
        pm = poolingModule
        if pm.kT != pm.dT or pm.kH != pm.dH or pm.kW != pm.dW:
            raise ValueError(f"nn.VolumetricMaxUnpooling: the size of the pooling module's kernel must be equal to "
                             f"its stride, got {pm!r}")
        self.pooling = poolingModule

    def setParams(self):
        """Torch7's: the pooling module's indices, input sizes (our output sizes), strides and pads copied here."""
        pm = self.pooling
        d = pm.__dict__
        if 'itime' not in d:
            raise RuntimeError(f"{self!r}: the pooling module has not run forward yet (the unpooling needs the "
                               f"places of its maxima)")
        self.indices = pm.indices
        self.otime, self.oheight, self.owidth = d['itime'], d['iheight'], d['iwidth']
        self.dT, self.dH, self.dW = pm.dT, pm.dH, pm.dW
        self.padT, self.padH, self.padW = pm.padT, pm.padH, pm.padW

    def _setup(self, input):
        self.setParams()
        pm = self.pooling
        x = self._coerce(input)._a
        xb, batched = _volume(self, x)
        idx = pm.__dict__.get('_idx')
        if idx is None:
            raise RuntimeError(f"{self!r}: the pooling module holds no places of maxima (run its forward again after "
                               f"a type conversion or a load)")
        if idx.shape != xb.shape:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} does not match the output of the pooling "
                             f"module's last forward (size {sizestr(idx.shape)})")
        k, s, p = pm._geom()
        sizes = (self.otime, self.oheight, self.owidth)
        osize = xb.shape[2:]
        extra = tuple(max(0, (o - 1) * ss + kk - (i + 2 * pp)) for o, ss, kk, i, pp in zip(osize, s, k, sizes, p))
        return x, xb, batched, idx, k, s, p, sizes, extra

    def updateOutput(self, input):
        x, xb, batched, idx, k, s, p, sizes, extra = self._setup(input)
        n, c = xb.shape[:2]
        out = resized(self.output, ((n,) if batched else ()) + (c,) + sizes).reshape((n, c) + sizes)
        self._scatter(xb, idx, out, k, s, p, extra)
        return self.output

    def _scatter(self, src, idx, out, k, s, p, extra):
        # the pooling's gradient routing (each value to its window's winner; the windows do not overlap)
        pm = self.pooling
        gpu_pool.max_pool_backward(src, idx, out, k, s, p, pm._grad_numpy, src, idx, out, k, s, p, extra,
                                   src.shape[2:])

    def updateGradInput(self, input, gradOutput):
        x, xb, batched, idx, k, s, p, sizes, extra = self._setup(input)
        n, c = xb.shape[:2]
        xp = array_module(x)
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, ((n,) if batched else ()) + (c,) + sizes)
        gb = g.reshape((n, c) + sizes)
        # mask: 1 where a value went (the forward of ones); gradInput = window sums of gradOutput * mask
        ones = self._buffer('_ones', xb.shape)
        ones.fill(1)
        mask = self._buffer('_mask', gb.shape)
        self._scatter(ones, idx, mask, k, s, p, extra)
        mask *= gb
        src = kernels.padded(mask, p, self._buffer, '_gpad', 0, extra)
        gi = resized(self.gradInput, x.shape).reshape(xb.shape)
        for j, off in enumerate(kernels.kernel_offsets(k)):
            w = (slice(None), slice(None)) + kernels.window_slices(off, s, (1, 1, 1), xb.shape[2:])
            if j == 0:
                gi[...] = src[w]
            else:
                xp.add(gi, src[w], out=gi)
        return self.gradInput

    def __repr__(self):
        return f"nn.VolumetricMaxUnpooling associated to {self.pooling!r}"


class VolumetricFractionalMaxPooling(Module):
    """VolumetricFractionalMaxPooling(poolSizeT, poolSizeW, poolSizeH, outT, outW, outH) (an exact output size) or
    (poolSizeT, poolSizeW, poolSizeH, ratioT, ratioW, ratioH) (ratios in (0, 1): output floor(size * ratio)):
    max pooling over poolSize windows at pseudo-random fractional steps (Graham's fractional max pooling).

    As Torch7's THNN the three spatial dims of a 4-D (planes x D1 x D2 x D3) or 5-D (batch first) input are taken as
    H x W x T: the LAST dim is pooled by poolSizeT to outT (ratioT), the middle by poolSizeW, the first by poolSizeH.
    Three uniform samples per (sample, plane) (``randomSamples``, batch x planes x 3, drawn from the global Torch7
    stream: for T, W, H) place the windows; they are drawn again at each forward unless ``fixPoolingRegions()``.
    Ties: the first largest value in (H, W, T) order wins; NaN never does."""

    def __init__(self, poolSizeT, poolSizeW, poolSizeH, arg1, arg2, arg3):
        super().__init__()
        name = 'nn.VolumetricFractionalMaxPooling'
        _check_ints(name, poolSizeT=poolSizeT, poolSizeW=poolSizeW, poolSizeH=poolSizeH)
        if min(poolSizeT, poolSizeW, poolSizeH) < 2:
            raise ValueError(f"{name}: pool sizes must be >= 2, got {poolSizeT}, {poolSizeW}, {poolSizeH}")
        self.poolSizeT, self.poolSizeW, self.poolSizeH = poolSizeT, poolSizeW, poolSizeH
        self.newRandomPool = False
        args = (arg1, arg2, arg3)
        if any(isinstance(a, bool) or not isinstance(a, numbers.Real) for a in args):
            raise TypeError(f"{name}: expected output sizes or ratios, got {args!r}")
        if arg1 >= 1 and arg2 >= 1 and arg3 >= 1:
            if any(int(a) != a for a in args):
                raise ValueError(f"{name}: output sizes must be integers, got {args!r}")
            self.outT, self.outW, self.outH = (int(a) for a in args)
        else:
            if not all(0 < a < 1 for a in args):
                raise ValueError(f"{name}: ratios must be in (0, 1) (or give three output sizes >= 1), got {args!r}")
            self.ratioT, self.ratioW, self.ratioH = args

    def fixPoolingRegions(self, val=True):
        """Keep the pooling regions (the random samples) of the next forward for the ones after (Torch7)."""
        self.newRandomPool = val
        return self

    def _planes(self, x):
        check_nonempty(self, x)
        if x.ndim == 4:
            return x[None], False
        if x.ndim == 5:
            return x, True
        raise ValueError(f"{self!r}: expected a 4-D input (planes x H x W x T, Torch7's naming) or a 5-D batch, got "
                         f"{sizestr(x.shape)}")

    def _out_sizes(self, xb):
        """(outH, outW, outT): the sizes of the output's dims 2, 3, 4 of the batch."""
        d = self.__dict__
        H, W, T = xb.shape[2:]
        if d.get('ratioW') is not None and d.get('ratioH') is not None:
            out = (int(np.floor(H * d['ratioH'])), int(np.floor(W * d['ratioW'])), int(np.floor(T * d['ratioT'])))
            if min(out) < 1:
                raise ValueError(f"{self!r}: reduction ratio or input size too small: input {sizestr(xb.shape)} "
                                 f"gives an output of {_x(out)}")
        else:
            out = (d['outH'], d['outW'], d['outT'])
        for o, pool, i, nm in zip(out, (self.poolSizeH, self.poolSizeW, self.poolSizeT), (H, W, T), 'HWT'):
            if o + pool - 1 >= i:
                raise ValueError(f"{self!r}: poolSize{nm} ({pool}) too large relative to the input's {nm} size ({i}) "
                                 f"for an output of {o} (THNN needs output + poolSize - 1 < input)")
        return out

    def _samples(self, xb):
        return _random_samples(self, xb, 3)     # (for T, W, H)

    def updateOutput(self, input):
        x = self._coerce(input)._a
        xb, batched = self._planes(x)
        oh, ow, ot = self._out_sizes(xb)
        rs = self._samples(xb)
        B, P, H, W, T = xb.shape
        sh = _intervals(rs[..., 2], H, oh, self.poolSizeH)       # (in the module's precision: rs is its type)
        sw = _intervals(rs[..., 1], W, ow, self.poolSizeW)
        st = _intervals(rs[..., 0], T, ot, self.poolSizeT)
        base = (sh[:, :, :, None, None] * (W * T) + sw[:, :, None, :, None] * T + st[:, :, None, None, :])
        base = base.reshape(B, P, -1)
        xf = xb.reshape(B, P, -1)
        out = resized(self.output, ((B,) if batched else ()) + (P, oh, ow, ot)).reshape(B, P, -1)
        idx = self._buffer('_idx', base.shape, long_info(self))
        idx[...] = base
        out.fill(-_INF)
        _first_max(self, xf, base, (dh * W * T + dw * T + dt for dh in range(self.poolSizeH)
                                    for dw in range(self.poolSizeW) for dt in range(self.poolSizeT)), out, idx)
        return self.output

    def updateGradInput(self, input, gradOutput):
        if self.__dict__.get('randomSamples') is None:
            raise RuntimeError(f"{self!r}: must call updateOutput/forward first")
        x = self._coerce(input)._a
        xb, batched = self._planes(x)
        xp = array_module(x)
        oh, ow, ot = self._out_sizes(xb)
        B, P = xb.shape[:2]
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, ((B,) if batched else ()) + (P, oh, ow, ot))
        idx = self.__dict__.get('_idx')
        if idx is None or idx.shape != (B, P, oh * ow * ot):
            raise RuntimeError(f"{self!r}: updateGradInput needs the indices of a forward on an input of size "
                               f"{sizestr(x.shape)}; call forward first")
        gi = field_out(self, 'gradInput', x.shape)
        gi.fill(0)
        plane = xb[0, 0].size
        flat = self._buffer('_flat', idx.shape, long_info(self))
        xp.add(idx, (self._arange('_plane_ids', B * P) * plane).reshape(B, P, 1), out=flat)
        kernels.scatter_add(gi.reshape(-1), flat.reshape(-1), g.reshape(-1))
        return self.gradInput

    def clearState(self):
        self.__dict__.pop('randomSamples', None)
        self.__dict__.pop('indices', None)
        return super().clearState()

    def __repr__(self):
        d = self.__dict__
        sizes = [d.get(o) if d.get(o) is not None else d.get(r)
                 for o, r in (('outT', 'ratioT'), ('outW', 'ratioW'), ('outH', 'ratioH'))]
        return (f"{self.__torch_name__}({'x'.join(str(v) for v in sizes)}, {self.poolSizeT},{self.poolSizeW},"
                f"{self.poolSizeH})")


# -- padding --------------------------------------------------------------------------------------------------------
class VolumetricReplicationPadding(Module):
    """VolumetricReplicationPadding(pleft, pright=pleft, ptop=pleft, pbottom=pleft, pfront=pleft, pback=pleft): the
    edge voxels of a 4-D (planes x T x H x W) or 5-D (batch first) input repeated: pleft/pright columns (W),
    ptop/pbottom rows (H), pfront/pback frames (T); a negative amount crops."""

    def __init__(self, pleft, pright=None, ptop=None, pbottom=None, pfront=None, pback=None):
        super().__init__()
        self.pleft = pleft
        self.pright = pleft if pright is None else pright
        self.ptop = pleft if ptop is None else ptop
        self.pbottom = pleft if pbottom is None else pbottom
        self.pfront = pleft if pfront is None else pfront
        self.pback = pleft if pback is None else pback
        _check_ints('nn.VolumetricReplicationPadding', pleft=self.pleft, pright=self.pright, ptop=self.ptop,
                    pbottom=self.pbottom, pfront=self.pfront, pback=self.pback)

    def _pads(self):
        return (self.pfront, self.pback), (self.ptop, self.pbottom), (self.pleft, self.pright)

    def _setup(self, input):
        x = self._coerce(input)._a
        if x.ndim not in (4, 5):
            raise ValueError(f"{self!r}: input must be 4 or 5-dimensional, got size {sizestr(x.shape)}")
        check_nonempty(self, x)     # (no edge voxel to repeat; numpy's broadcast error would name neither)
        x5 = x if x.ndim == 5 else x[None]
        osize = tuple(n + a + b for n, (a, b) in zip(x5.shape[2:], self._pads()))
        if min(osize) < 1:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} is too small (output would be "
                             f"{_x(osize)})")
        return x, x5, osize

    def updateOutput(self, input):
        x, x5, (ot, oh, ow) = self._setup(input)
        (pf, pb), (pt, pbot), (pl, pr) = self._pads()
        N, C, T, H, W = x5.shape
        out = field_out(self, 'output', x.shape[:-3] + (ot, oh, ow))
        o5 = out if x.ndim == 5 else out[None]
        t1 = self._buffer('_t1', (N, C, ot, H, W))
        _pad_axis(t1, x5, 2, pf, pb, _REPLICATE)
        t2 = self._buffer('_t2', (N, C, ot, oh, W))
        _pad_axis(t2, t1, 3, pt, pbot, _REPLICATE)
        _pad_axis(o5, t2, 4, pl, pr, _REPLICATE)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, x5, (ot, oh, ow) = self._setup(input)
        (pf, pb), (pt, pbot), (pl, pr) = self._pads()
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, x.shape[:-3] + (ot, oh, ow))
        g5 = g if g.ndim == 5 else g[None]
        xp = array_module(x)
        N, C, T, H, W = x5.shape
        gi = field_out(self, 'gradInput', x.shape)
        gi5 = gi if x.ndim == 5 else gi[None]
        t2 = self._buffer('_t2', (N, C, ot, oh, W))
        _fold_axis(t2, g5, 4, pl, pr, _REPLICATE, xp, self._buffer('_s4', (N, C, ot, oh, 1)))
        t1 = self._buffer('_t1', (N, C, ot, H, W))
        _fold_axis(t1, t2, 3, pt, pbot, _REPLICATE, xp, self._buffer('_s3', (N, C, ot, 1, W)))
        _fold_axis(gi5, t1, 2, pf, pb, _REPLICATE, xp, self._buffer('_s2', (N, C, 1, H, W)))
        return self.gradInput

    def __repr__(self):
        return (f"{self.__torch_name__}(left={self.pleft}, right={self.pright}, top={self.ptop}, "
                f"bottom={self.pbottom}, front={self.pfront}, back={self.pback})")


# -- .t7 checks: a file's weight sizes must agree with its other fields (serialization/classes.py's table) ----------
def _file_checks():
    from ..serialization import classes

    @classes._checks('nn.VolumetricFullConvolution')
    def _vfullconv(n, f):
        for a, d in (('adjT', 'dT'), ('adjW', 'dW'), ('adjH', 'dH')):
            if a in f and d in f and f[a] > f[d] - 1:
                raise classes.FieldError(a, f"{n}.{a} must be smaller than {d} (as the constructor requires), the "
                                            f"file has {a}={f[a]}, {d}={f[d]}")
        if all(k in f for k in ('nInputPlane', 'nOutputPlane', 'kT', 'kW', 'kH')):
            classes._weights(n, f, f['nInputPlane'] * f['nOutputPlane'] * f['kT'] * f['kH'] * f['kW'],
                             f['nOutputPlane'])


_file_checks()

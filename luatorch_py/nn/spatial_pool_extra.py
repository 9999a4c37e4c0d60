"""More pooling (Torch7's nn): SpatialDilatedMaxPooling, SpatialMaxUnpooling, SpatialFractionalMaxPooling,
FeatureLPPooling.

The max poolings keep Torch7's ``indices`` (LongTensor shaped like the output: each max's flat in-plane position
``y * width + x``, 0-based here, 1-based in Lua; -1 where a window holds nothing above -inf) as SpatialMaxPooling
does: the first largest value of a window wins, NaN never does.  Loops run over kernel offsets only; the backward
passes are pooling.py's (_grad_to_max).
"""
import math
import numbers

import numpy as np

from ..backend import array_module, kernels
from .conv import _positive
from .module import Module, check_grad_size, long_info, resized, sizestr
from .pooling import SpatialMaxPooling, _grad_to_max, _long_field, _plane_base, _pooled_size, _spatial_input

_INF = float('inf')


def _no_kernel(g, idx, gi, cpu, *cpu_args):
    """The ``backward`` of pooling.py's _grad_to_max for windows no CUDA kernel covers (dilated, fractional): its
    array-op scatter on either device."""
    return cpu(*cpu_args)


class SpatialDilatedMaxPooling(SpatialMaxPooling):
    """SpatialDilatedMaxPooling(kW, kH, dW=kW, dH=kH, padW=0, padH=0, dilationW=1, dilationH=1): SpatialMaxPooling
    whose window taps are dilationW / dilationH apart (a window spans dilation*(k-1)+1 pixels)."""
    dilationW = dilationH = 1       # defaults for fields a .t7 file may lack

    def __init__(self, kW, kH, dW=None, dH=None, padW=0, padH=0, dilationW=1, dilationH=1):
        super().__init__(kW, kH, dW, dH, padW, padH)
        _positive('nn.SpatialDilatedMaxPooling', dilationW=dilationW, dilationH=dilationH)
        self.dilationW, self.dilationH = dilationW, dilationH

    def _dsizes(self, x4, shape):
        N, C, H, W = x4.shape
        if not (self.kW // 2 >= self.padW and self.kH // 2 >= self.padH):
            raise ValueError(f"{self!r}: pad should be smaller than half of kernel size, got padW={self.padW}, "
                             f"padH={self.padH} for kW={self.kW}, kH={self.kH}")
        # THNN: the last window must start inside the image or its left pad, checked when ANY pad is set
        any_pad = bool(self.padW or self.padH)
        oh = _pooled_size(H, self.dilationH * (self.kH - 1) + 1, self.dH, self.padH, self.ceil_mode, any_pad)
        ow = _pooled_size(W, self.dilationW * (self.kW - 1) + 1, self.dW, self.padW, self.ceil_mode, any_pad)
        if oh < 1 or ow < 1:
            raise ValueError(f"{self!r}: input of size {sizestr(shape)} gives an output of size {C}x{oh}x{ow}: "
                             f"too small")
        return oh, ow

    def updateOutput(self, input):
        x = self._coerce(input)._a
        x4, batched = _spatial_input(self, x)
        N, C, H, W = x4.shape
        oh, ow = self._dsizes(x4, x.shape)
        xp = array_module(x4)
        shape = x.shape[:-2] + (oh, ow)
        out = resized(self.output, shape)
        idx = resized(_long_field(self, 'indices'), shape)
        out4, idx4 = (out, idx) if batched else (out[None], idx[None])
        self.iheight, self.iwidth = H, W
        k, s, p, dl = (self.kH, self.kW), (self.dH, self.dW), (self.padH, self.padW), (self.dilationH,
                                                                                         self.dilationW)
        extra = tuple(max(0, (o - 1) * ss + dd * (kk - 1) + 1 - (i + 2 * pp))
                      for o, ss, dd, kk, i, pp in zip((oh, ow), s, dl, k, (H, W), p))
        xpad = kernels.padded(x4, p, self._buffer, '_xpad', -_INF, extra)
        base = self._base(H, W, oh, ow)      # SpatialMaxPooling's: each window's first tap
        m = self._bools('_m', out4.shape)
        pos = self._buffer('_pos', (oh, ow), long_info(self))
        out4.fill(-_INF)
        idx4.fill(-1)
        for off in kernels.kernel_offsets(k):
            v = xpad[(slice(None), slice(None)) + kernels.window_slices(off, s, dl, (oh, ow))]
            xp.greater(v, out4, out=m)
            xp.copyto(out4, v, where=m)
            xp.add(base, off[0] * dl[0] * W + off[1] * dl[1], out=pos)
            xp.copyto(idx4, pos, where=m)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        x4, batched = _spatial_input(self, x)
        oh, ow = self._dsizes(x4, x.shape)
        check_grad_size(self, g, x.shape[:-2] + (oh, ow))
        return _grad_to_max(self, x, g, batched, False, _no_kernel)

    def __repr__(self):
        s = f"{self.__torch_name__}({self.kW}x{self.kH}, {self.dW},{self.dH}"
        if self.padW or self.padH:
            s += f", {self.padW},{self.padH}"
        return s + f", {self.dilationW},{self.dilationH})"


class SpatialMaxUnpooling(Module):
    """SpatialMaxUnpooling(poolingModule): the inverse of a SpatialMaxPooling whose kernel equals its stride: each
    input value goes back to the position its pooling's ``indices`` name in a zero image of the pooling's input
    size (fields ``pooling``, and ``indices``, ``oheight``, ``owidth`` taken from it at each call)."""
    _lua_index_fields = ('indices',)

    def __init__(self, poolingModule):
        if type(poolingModule) is not SpatialMaxPooling:
            raise TypeError(f"nn.SpatialMaxUnpooling: argument must be a nn.SpatialMaxPooling module, got "
                            f"{poolingModule!r}")
        if poolingModule.kH != poolingModule.dH or poolingModule.kW != poolingModule.dW:
            raise ValueError(f"nn.SpatialMaxUnpooling: the size of pooling module's kernel must be equal to its "
                             f"stride, got {poolingModule!r}")
        super().__init__()
        self.pooling = poolingModule

    def setParams(self):
        p = self.pooling
        if 'iheight' not in p.__dict__:
            raise RuntimeError(f"{self!r}: its pooling module has not run forward yet (no indices)")
        self.indices = p.indices
        self.oheight, self.owidth = p.iheight, p.iwidth

    def _setup(self, input):
        self.setParams()
        x = self._coerce(input)._a
        x4, batched = _spatial_input(self, x)
        idx = _long_field(self, 'indices')._a
        if idx.shape != x.shape:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} does not match its pooling's indices of "
                             f"size {sizestr(idx.shape)}")
        idx4 = idx if batched else idx[None]
        plane = self.oheight * self.owidth
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= plane):
            raise ValueError(f"{self!r}: found an invalid max index (output planes are of size "
                             f"{self.oheight}x{self.owidth})")
        xp = array_module(x)
        gidx = self._buffer('_gidx', idx4.shape, long_info(self))
        xp.add(idx4, _plane_base(self, x4.shape, plane), out=gidx)
        return x, x4, batched, gidx

    def updateOutput(self, input):
        x, x4, batched, gidx = self._setup(input)
        shape = x.shape[:-2] + (self.oheight, self.owidth)
        out = resized(self.output, shape)
        out.fill(0)
        out.reshape(-1)[gidx.reshape(-1)] = x4.reshape(-1)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, x4, batched, gidx = self._setup(input)
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, x.shape[:-2] + (self.oheight, self.owidth))
        gi = resized(self.gradInput, x.shape)
        kernels.take_into(g.reshape(-1), gidx.reshape(-1), gi.reshape(-1))
        return self.gradInput

    def empty(self):
        self.clearState()

    def __repr__(self):
        return f"{self.__torch_name__} associated to {self.pooling!r}"


def _intervals(u, n_in, n_out, pool):
    """THNN's generateIntervals (Spatial- and VolumetricFractionalMaxPooling) for all planes at once: int64 window
    starts, u.shape + (n_out,), from the samples ``u`` (any shape), computed in u's floating type (the module's, as
    THNN computes them in ``real``)."""
    xp = array_module(u)
    dt = u.dtype.type
    seq = xp.empty(u.shape + (n_out,), dtype=np.int64)
    if n_out > 1:
        alpha = dt(n_in - pool) / dt(n_out - 1)
        i = xp.arange(n_out - 1, dtype=u.dtype)
        a = ((i + u[..., None]) * alpha).astype(np.int64)
        b = (u * alpha).astype(np.int64)
        seq[..., :-1] = a - b[..., None]
    seq[..., -1] = n_in - pool
    return seq


def _first_max(module, flat, start, offsets, out, idx):
    """The max of the fractional poolings (Spatial-, VolumetricFractionalMaxPooling): ``out`` and ``idx`` (shaped
    as ``start``, filled by the caller) keep the first largest of ``flat`` (N x C x plane) at ``start + o`` over the
    in-plane ``offsets`` o, in their order, and its position (THNN's ``val > max``: NaN never wins)."""
    xp = array_module(flat)
    m = module._bools('_m', out.shape)
    rows = flat.shape[:2] + (-1,)
    for o in offsets:
        pos = start + o
        v = xp.take_along_axis(flat, pos.reshape(rows), axis=2).reshape(out.shape)
        xp.greater(v, out, out=m)
        xp.copyto(out, v, where=m)
        xp.copyto(idx, pos, where=m)


def _random_samples(module, xb, per_plane):
    """Torch7's initSampleBuffer_ for the fractional poolings: ``randomSamples`` (N x C x per_plane uniform numbers
    from the global stream) drawn at the first call, when the batch or planes change, and at every call unless the
    regions are fixed (``newRandomPool``)."""
    n, c = xb.shape[:2]
    rs = module.__dict__.get('randomSamples')
    if rs is None or rs.__class__ is not module._tcls:
        rs = module.randomSamples = module._tcls(n, c, per_plane).uniform()
    elif rs._a.shape[:2] != (n, c):
        rs.resize(n, c, per_plane).uniform()
    elif not module.newRandomPool:
        rs.uniform()
    return rs._a


class SpatialFractionalMaxPooling(Module):
    """SpatialFractionalMaxPooling(poolSizeW, poolSizeH, outW, outH) or (poolSizeW, poolSizeH, ratioW, ratioH)
    with ratios in (0, 1): max pooling over poolSizeW x poolSizeH windows placed pseudo-randomly (Graham's
    fractional max pooling) so that the output is outH x outW (or floor(H*ratioH) x floor(W*ratioW)).  The window
    positions come from ``randomSamples`` (N x C x 2 uniform numbers from the global stream, drawn again at each
    forward unless ``fixPoolingRegions()``), as Torch7's THNN computes them."""
    _lua_index_fields = ('indices',)

    def __init__(self, poolSizeW, poolSizeH, arg1, arg2):
        name = 'nn.SpatialFractionalMaxPooling'
        for k, v in (('poolSizeW', poolSizeW), ('poolSizeH', poolSizeH)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 2:
                raise ValueError(f"{name}: {k} must be an int >= 2, got {v!r}")
        super().__init__()
        self.poolSizeW, self.poolSizeH = poolSizeW, poolSizeH
        self.newRandomPool = False
        if arg1 >= 1 and arg2 >= 1:
            _positive(name, outW=arg1, outH=arg2)
            self.outW, self.outH = arg1, arg2
        else:
            if not (0 < arg1 < 1 and 0 < arg2 < 1):
                raise ValueError(f"{name}: expected output sizes >= 1 or ratios in (0, 1), got {arg1!r}, {arg2!r}")
            self.ratioW, self.ratioH = arg1, arg2

    def fixPoolingRegions(self, val=True):
        """Keep the current pooling regions (Torch7's ``newRandomPool`` flag) or draw new ones at each forward."""
        self.newRandomPool = val
        return self

    def _out_sizes(self, x4):
        d = self.__dict__
        if d.get('ratioW') is not None and d.get('ratioH') is not None:
            ow = math.floor(x4.shape[3] * self.ratioW)
            oh = math.floor(x4.shape[2] * self.ratioH)
            if ow < 1 or oh < 1:
                raise ValueError(f"{self!r}: reduction ratio or input size too small (output {oh}x{ow})")
            return ow, oh
        return self.outW, self.outH

    def _samples(self, x4):
        return _random_samples(self, x4, 2)

    def updateOutput(self, input):
        x = self._coerce(input)._a
        x4, batched = _spatial_input(self, x)
        N, C, H, W = x4.shape
        ow, oh = self._out_sizes(x4)
        if ow + self.poolSizeW - 1 >= W or oh + self.poolSizeH - 1 >= H:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} is too small for an output of {oh}x{ow} "
                             f"with {self.poolSizeW}x{self.poolSizeH} windows (need outW + poolSizeW - 1 < W and "
                             f"outH + poolSizeH - 1 < H)")
        rs = self._samples(x4)
        sw = _intervals(rs[..., 0], W, ow, self.poolSizeW)               # N x C x ow
        sh = _intervals(rs[..., 1], H, oh, self.poolSizeH)               # N x C x oh
        start = sh[..., :, None] * W + sw[..., None, :]                  # N x C x oh x ow
        shape = x.shape[:-2] + (oh, ow)
        out = resized(self.output, shape)
        idx = resized(_long_field(self, 'indices'), shape)
        out4, idx4 = (out, idx) if batched else (out[None], idx[None])
        flat = x4.reshape(N, C, -1)
        out4.fill(-_INF)
        idx4.fill(-1)
        _first_max(self, flat, start, (ky * W + kx for ky in range(self.poolSizeH) for kx in range(self.poolSizeW)),
                   out4, idx4)
        return self.output

    def updateGradInput(self, input, gradOutput):
        if self.__dict__.get('randomSamples') is None:
            raise RuntimeError(f"{self!r}: must call updateOutput/forward first")
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        x4, batched = _spatial_input(self, x)
        ow, oh = self._out_sizes(x4)
        check_grad_size(self, g, x.shape[:-2] + (oh, ow))
        return _grad_to_max(self, x, g, batched, False, _no_kernel)

    def empty(self):
        self.clearState()

    def clearState(self):
        self.__dict__.pop('indices', None)
        self.__dict__.pop('randomSamples', None)
        return super().clearState()

    def __repr__(self):
        d = self.__dict__
        w = d.get('outW') or d.get('ratioW')
        h = d.get('outH') or d.get('ratioH')
        return f"{self.__torch_name__}({w}x{h}, {self.poolSizeW},{self.poolSizeH})"


class FeatureLPPooling(Module):
    """FeatureLPPooling(width, stride, power, batch_mode=False): L^p pooling across features: output feature j
    is (sum over i < width of x[j*stride + i] ^ power) ^ (1/power), along the feature dim (dim 0, or dim 1 with
    ``batch_mode``; 1 to 3 dims, plus the batch).  width 2..16, stride 1..4 (Torch7's limits).  As THNN, no
    absolute value is taken, and no gradient flows through outputs that are 0."""

    def __init__(self, width, stride, power, batch_mode=False):
        name = 'nn.FeatureLPPooling'
        _positive(name, width=width, stride=stride)
        if not 2 <= width <= 16:
            raise ValueError(f"{name}: width must be within 2 to 16, got {width}")
        if not 1 <= stride <= 4:
            raise ValueError(f"{name}: stride must be within 1 to 4, got {stride}")
        if isinstance(power, bool) or not isinstance(power, numbers.Real):
            raise TypeError(f"{name}: power must be a number, got {power!r}")
        if power == 0:
            raise ValueError(f"{name}: power must be nonzero (the output is the sum's 1/power-th power), got 0")
        super().__init__()
        self.width, self.stride, self.power = width, stride, power
        self.batch_mode = bool(batch_mode)

    def _setup(self, input):
        x = self._coerce(input)._a
        b = bool(self.__dict__.get('batch_mode'))
        lo, hi = (2, 4) if b else (1, 3)
        if not lo <= x.ndim <= hi:
            raise ValueError(f"{self!r}: input must be {lo}-{hi} dimensions for {'' if b else 'non-'}batch mode, "
                             f"got size {sizestr(x.shape)}")
        fd = 1 if b else 0
        f = x.shape[fd]
        if f < self.width:
            raise ValueError(f"{self!r}: input feature dimension (dim {fd}, {f}) must be >= width {self.width}")
        nout = (f - self.width) // self.stride + 1
        return x, fd, nout

    def _slices(self, fd, nout):
        s = self.stride
        return [(slice(None),) * fd + (slice(i, i + s * (nout - 1) + 1, s),) for i in range(self.width)]

    def updateOutput(self, input):
        x, fd, nout = self._setup(input)
        xp = array_module(x)
        shape = x.shape[:fd] + (nout,) + x.shape[fd + 1:]
        out = resized(self.output, shape)
        tmp = self._buffer('_p', shape)
        out.fill(0)
        for sl in self._slices(fd, nout):
            xp.power(x[sl], self.power, out=tmp)
            out += tmp
        xp.power(out, 1.0 / self.power, out=out)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, fd, nout = self._setup(input)
        xp = array_module(x)
        y = self.output._a
        shape = x.shape[:fd] + (nout,) + x.shape[fd + 1:]
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, shape)
        if y.shape != shape:
            self.updateOutput(input)
            y = self.output._a
        zero = self._bools('_z', shape)
        xp.equal(y, 0, out=zero)
        safe = self._buffer('_ys', shape)
        safe[...] = y
        xp.copyto(safe, 1, where=zero)
        gz = self._buffer('_gz', shape)
        gz[...] = g
        xp.copyto(gz, 0, where=zero)
        tmp = self._buffer('_t', shape)
        gi = resized(self.gradInput, x.shape)
        gi.fill(0)
        for sl in self._slices(fd, nout):
            xp.divide(x[sl], safe, out=tmp)
            xp.power(tmp, self.power - 1, out=tmp)
            tmp *= gz
            gi[sl] += tmp
        return self.gradInput

    def __repr__(self):
        return (f"{self.__torch_name__}(w{self.width} s{self.stride} power {self.power} batch "
                f"{int(bool(self.__dict__.get('batch_mode')))})")

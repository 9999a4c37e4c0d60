"""Torch7's UpSampling (nearest or (bi/tri)linear, 4-D or 5-D inputs), PixelShuffle, and
SpatialUpSamplingNearest / SpatialUpSamplingBilinear (at the end).

UpSampling's linear mode follows THNN's SpatialUpSamplingBilinear / VolumetricUpSamplingTrilinear: corners aligned
(source position = out_index * (in - 1) / (out - 1), computed in single precision), interpolated along W, then H,
then T (THNN's grouping of the sums).  Its backward applies the transposed interpolation matrices (kept per size).
"""
import math
import numbers

import numpy as np

from .. import backend
from ..backend import array_module, gpu_pool, kernels
from ..backend.kernels import scatter_add, take_into
from .module import Module, check_grad_size, field_out, sizestr
from .pooling import _separable, _spatial_grad_args, _spatial_input


def _long_storage5():
    from .. import LongStorage
    return LongStorage(5).fill(0)


def _interp(n_in, n_out, dtype):
    """(i0, i1, l0, l1, M): for each output index its two source indices and weights (THNN's float arithmetic), and
    the interpolation matrix M (n_out x n_in)."""
    f32 = np.float32
    r = f32(n_in - 1) / f32(n_out - 1) if n_out > 1 else f32(0)
    pos = (r * np.arange(n_out, dtype=f32)).astype(f32)
    i0 = pos.astype(np.int64)
    i1 = i0 + (i0 < n_in - 1)
    l1 = (pos - i0).astype(dtype)
    l0 = (1 - l1).astype(dtype)
    m = np.zeros((n_out, n_in), dtype=dtype)
    np.add.at(m, (np.arange(n_out), i0), l0)
    np.add.at(m, (np.arange(n_out), i1), l1)
    return i0, i1, l0, l1, m


def _lerp_adjoint(g, i0, l0, i1, l1, out, axis):
    """out = the adjoint of one interpolation step along ``axis`` (g's rows times their two weights added onto their
    source rows), by scatter-adds as THNN: a NaN or inf in ``g`` reaches its two source rows only (the zeros of an
    interpolation matrix times it spread it over all of them in a matmul)."""
    xp = array_module(g)
    out.fill(0)
    gm, om = xp.moveaxis(g, axis, 0), xp.moveaxis(out, axis, 0)
    w = (-1,) + (1,) * (g.ndim - 1)
    scatter_add(om, i0, gm * l0.reshape(w))
    scatter_add(om, i1, gm * l1.reshape(w))


class UpSampling(Module):
    """UpSampling(scale_factor, mode='nearest') or UpSampling({'oheight': h, 'owidth': w[, 'odepth': d]}, 'linear')
    over a 4-D (batch x planes x H x W) or 5-D (batch x planes x D x H x W) input.  'nearest' repeats each pixel
    scale_factor times along each spatial dim; 'linear' (also spelled 'bilinear' or 'trilinear'; any other mode is
    'nearest', as Torch7) interpolates to H*scale_factor x ... or to the sizes given (a dict, as Lua's table)."""
    scale_factor = None     # fields absent (nil) in Torch7 depending on the constructor argument
    odepth = None
    oheight = None
    owidth = None

    def __init__(self, params, mode=None):
        super().__init__()
        self.mode = 'linear' if mode in ('linear', 'bilinear', 'trilinear') else 'nearest'
        if isinstance(params, dict):
            if self.mode == 'nearest':
                raise ValueError("nn.UpSampling: nearest neighbour upsampling requires a scale_factor")
            for k in ('odepth', 'oheight', 'owidth'):
                v = params.get(k)
                if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1):
                    raise ValueError(f"nn.UpSampling: {k} must be a positive integer, got {v!r}")
            if params.get('owidth') is None or params.get('oheight') is None:
                raise ValueError(f"nn.UpSampling: output height and width parameters are required, got {params!r}")
            for k in ('odepth', 'oheight', 'owidth'):
                if params.get(k) is not None:
                    setattr(self, k, int(params[k]))
        else:
            if isinstance(params, bool) or not isinstance(params, numbers.Real):
                raise TypeError(f"nn.UpSampling: expected a scale_factor or a dict of output sizes, got {params!r}")
            _check_scale('nn.UpSampling', params)
            self.scale_factor = int(params)
        self.inputSize = _long_storage5()
        self.outputSize = _long_storage5()

    def _sizes(self, x):
        """The output's spatial sizes for input array ``x`` (checked), and Torch7's inputSize/outputSize set."""
        if x.ndim not in (4, 5):
            raise ValueError(f"{self!r}: only 4-D or 5-D inputs are supported, got {sizestr(x.shape)}")
        sp = x.shape[2:]
        if min(x.shape) < 1:
            raise ValueError(f"{self!r}: input sizes should be greater than 0, got {sizestr(x.shape)}")
        if self.scale_factor is not None:
            out = tuple(n * int(self.scale_factor) for n in sp)
        elif x.ndim == 5:
            if self.odepth is None:
                raise ValueError(f"{self!r}: no output depth (odepth) was given for volumetric upsampling")
            out = (int(self.odepth), int(self.oheight), int(self.owidth))
        else:
            out = (int(self.oheight), int(self.owidth))
        for name, shape in (('inputSize', x.shape), ('outputSize', x.shape[:2] + out)):
            st = self.__dict__.get(name)
            if st is None or len(st) < 5:
                st = self.__dict__[name] = _long_storage5()
            for i, n in enumerate(shape):
                st[i] = n
        return out

    def _plan(self, sp, out):
        """Per spatial dim (i0, i1, l0 and l1 shaped to broadcast along that dim, M^T): kept per size and type."""
        key = (sp, out, self._tinfo.name)
        cache = self.__dict__.get('_plan_cache')
        if cache is None or cache[0] != key:
            dev, dt = self._tinfo.cuda, self._tinfo.dtype
            plan = []
            for a, (n_in, n_out) in enumerate(zip(sp, out)):
                i0, i1, l0, l1, m = _interp(n_in, n_out, dt)
                shape = (n_out,) + (1,) * (len(sp) - 1 - a)
                plan.append(tuple(backend.to_device(v, dev) for v in
                                  (i0, i1, l0.reshape(shape), l1.reshape(shape), np.ascontiguousarray(m.T))))
            self.__dict__['_plan_cache'] = cache = (key, plan)
        return cache[1]

    def updateOutput(self, input):
        x = self._coerce(input)._a
        out_sp = self._sizes(x)
        out = field_out(self, 'output', x.shape[:2] + out_sp)
        nd = x.ndim - 2
        if self.mode == 'nearest':
            s = int(self.scale_factor)
            blocks = x.shape[:2] + tuple(v for n in x.shape[2:] for v in (n, s))
            out.reshape(blocks)[...] = x[(slice(None), slice(None)) + (slice(None), None) * nd]
            return self.output
        if out_sp == x.shape[2:]:      # THNN copies (no 0 * a neighbour's NaN or inf)
            out[...] = x
            return self.output
        # linear: along the last spatial dim first (W, then H, then D), THNN's grouping of the sums
        plan = self._plan(x.shape[2:], out_sp)
        src = x
        for a in reversed(range(nd)):
            i0, i1, l0, l1, _ = plan[a]
            shape = src.shape[:2 + a] + (out_sp[a],) + src.shape[3 + a:]
            dst = out if a == 0 else self._buffer(f'_lin{a}', shape)
            tmp = self._buffer(f'_lint{a}', shape)
            kernels.take_into(src, i0, dst, axis=2 + a)
            dst *= l0
            kernels.take_into(src, i1, tmp, axis=2 + a)
            tmp *= l1
            dst += tmp
            src = dst
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        if g.ndim != x.ndim:
            raise ValueError(f"{self!r}: input and gradOutput should have the same number of dims, got "
                             f"{sizestr(x.shape)} and {sizestr(g.shape)}")
        out_sp = self._sizes(x)
        check_grad_size(self, g, x.shape[:2] + out_sp)
        xp = array_module(x)
        gi = field_out(self, 'gradInput', x.shape)
        nd = x.ndim - 2
        if self.mode == 'nearest':
            s = int(self.scale_factor)
            blocks = x.shape[:2] + tuple(v for n in x.shape[2:] for v in (n, s))
            xp.sum(g.reshape(blocks), axis=tuple(range(3, 3 + 2 * nd, 2)), out=gi)
            return self.gradInput
        if out_sp == x.shape[2:]:      # THNN copies
            gi[...] = g
            return self.gradInput
        # the adjoint of each interpolation (D, then H, then W): one batched matmul by M^T per spatial dim
        plan = self._plan(x.shape[2:], out_sp)
        src = xp.ascontiguousarray(g)
        for a in range(nd):
            mt = plan[a][4]
            shape = src.shape[:2 + a] + (x.shape[2 + a],) + src.shape[3 + a:]
            dst = gi if a == nd - 1 else self._buffer(f'_glin{a}', shape)
            pre = int(np.prod(src.shape[:2 + a]))
            post = int(np.prod(src.shape[3 + a:]))
            xp.matmul(mt, src.reshape(pre, src.shape[2 + a], post), out=dst.reshape(pre, shape[2 + a], post))
            src = dst
        # a NaN or inf in g: scatter-adds, as THNN (see _lerp_adjoint).  CPU only (backend.host_not_finite: on CUDA
        # a NaN or inf reaches all the pixels of its rows, as before)
        if backend.host_not_finite(gi):
            src = g
            for a in range(nd):
                dst = gi if a == nd - 1 else self._buffer(f'_glin{a}', src.shape[:2 + a] + (x.shape[2 + a],) +
                                                          src.shape[3 + a:])
                i0, i1, l0, l1, _ = plan[a]
                _lerp_adjoint(src, i0, l0, i1, l1, dst, 2 + a)
                src = dst
        return self.gradInput

    def __repr__(self):
        if self.scale_factor is not None:
            return f"{self.__torch_name__}({int(self.scale_factor)}x, {self.mode})"
        if self.odepth is not None:
            return f"{self.__torch_name__}({self.odepth}x{self.oheight}x{self.owidth}, {self.mode})"
        return f"{self.__torch_name__}({self.oheight}x{self.owidth}, {self.mode})"


class PixelShuffle(Module):
    """PixelShuffle(upscaleFactor): rearranges a (batch x) C*r^2 x H x W input into (batch x) C x H*r x W*r (the
    sub-pixel convolution's shuffle, r = upscaleFactor): out[c, h*r + i, w*r + j] = in[c*r^2 + i*r + j, h, w]."""

    def __init__(self, upscaleFactor):
        super().__init__()
        if isinstance(upscaleFactor, bool) or not isinstance(upscaleFactor, numbers.Integral) or upscaleFactor < 1:
            raise ValueError(f"nn.PixelShuffle: upscaleFactor must be a positive integer, got {upscaleFactor!r}")
        self.upscaleFactor = upscaleFactor
        self.upscaleFactorSquared = upscaleFactor * upscaleFactor

    def _shape(self, x):
        """(B, C, H, W, batched?) of input array ``x`` (C the output's planes)."""
        if x.ndim not in (3, 4):
            raise ValueError(f"{self!r}: expected a 3-D (C*r^2 x H x W) or 4-D (batch first) input, got "
                             f"{sizestr(x.shape)}")
        xb = x if x.ndim == 4 else x[None]
        r2 = self.upscaleFactor * self.upscaleFactor
        if xb.shape[1] % r2:
            raise ValueError(f"{self!r}: the input's {xb.shape[1]} planes (size {sizestr(x.shape)}) are not a "
                             f"multiple of upscaleFactor^2 = {r2}")
        return (xb.shape[0], xb.shape[1] // r2) + xb.shape[2:] + (x.ndim == 4,)

    def updateOutput(self, input):
        x = self._coerce(input)._a
        B, C, H, W, batched = self._shape(x)
        r = self.upscaleFactor
        out = field_out(self, 'output', ((B,) if batched else ()) + (C, H * r, W * r))
        out.reshape(B, C, H, r, W, r)[...] = x.reshape(B, C, r, r, H, W).transpose(0, 1, 4, 2, 5, 3)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        B, C, H, W, batched = self._shape(x)
        r = self.upscaleFactor
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, ((B,) if batched else ()) + (C, H * r, W * r))
        gi = field_out(self, 'gradInput', x.shape)
        gi.reshape(B, C, r, r, H, W)[...] = g.reshape(B, C, H, r, W, r).transpose(0, 1, 3, 5, 2, 4)
        return self.gradInput

    def __repr__(self):
        return self.__torch_name__


# -- SpatialUpSamplingNearest / Bilinear ------------------------------------------------------------------------------
def _long_storage4():
    from .. import LongStorage
    return LongStorage(4).fill(0)


def _set_sizes(module, in_shape, out_shape):
    """Torch7's inputSize/outputSize LongStorage(4) fields (kept so that Lua can run a saved module)."""
    for name, shape in (('inputSize', in_shape), ('outputSize', out_shape)):
        st = module.__dict__.get(name)
        if st is None or len(st) < len(shape):
            st = module.__dict__[name] = _long_storage4()
        for i, n in enumerate(shape):
            st[i] = n


def _check_scale(name, scale):
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"{name}: scale_factor must be a number, got {scale!r}")
    if scale < 1:
        raise ValueError(f"{name}: scale_factor must be greater than 1, got {scale}")
    if int(scale) != scale:
        raise ValueError(f"{name}: scale_factor must be integer, got {scale}")


def _lerp_into(x, i0, l0, i1, l1, out, tmp, axis):
    """out = l0 * x[i0] + l1 * x[i1] along ``axis`` (one linear interpolation step; ``tmp``: scratch like out)."""
    take_into(x, i0, out, axis=axis)
    out *= l0
    take_into(x, i1, tmp, axis=axis)
    tmp *= l1
    out += tmp


class SpatialUpSamplingNearest(Module):
    """SpatialUpSamplingNearest(scale): each pixel repeated scale x scale times (output H*scale x W*scale)."""

    def __init__(self, scale):
        super().__init__()
        _check_scale('nn.SpatialUpSamplingNearest', scale)
        self.scale_factor = int(scale)
        self.inputSize = _long_storage4()
        self.outputSize = _long_storage4()

    def updateOutput(self, input):
        x = self._coerce(input)._a
        x4, batched = _spatial_input(self, x)
        N, C, H, W = x4.shape
        s = int(self.scale_factor)
        shape = x.shape[:-2] + (H * s, W * s)
        _set_sizes(self, x.shape, shape)
        out = field_out(self, 'output', shape)
        out.reshape(N, C, H, s, W, s)[...] = x4[:, :, :, None, :, None]
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, g, x4, batched = _spatial_grad_args(self, input, gradOutput)
        N, C, H, W = x4.shape
        s = int(self.scale_factor)
        check_grad_size(self, g, x.shape[:-2] + (H * s, W * s))
        gi = field_out(self, 'gradInput', x.shape)
        array_module(x).sum(g.reshape(N, C, H, s, W, s), axis=(3, 5), out=gi.reshape(N, C, H, W))
        return self.gradInput


class SpatialUpSamplingBilinear(Module):
    """SpatialUpSamplingBilinear(scale) or SpatialUpSamplingBilinear({'oheight': h, 'owidth': w}) (a dict, as
    Torch7's table, or a tuple (h, w)): bilinear interpolation to H*scale x W*scale (or h x w), corners aligned
    (THNN: source position = out_index * (in - 1) / (out - 1), computed in single precision)."""
    # fields absent (nil) in Torch7 depending on the constructor argument
    scale_factor = None
    oheight = None
    owidth = None

    def __init__(self, params):
        super().__init__()
        if isinstance(params, dict) or isinstance(params, (tuple, list)):
            if isinstance(params, dict):
                h, w = params.get('oheight'), params.get('owidth')
            elif len(params) == 2:
                h, w = params
            else:
                raise ValueError(f"nn.SpatialUpSamplingBilinear: expected (oheight, owidth), got {params!r}")
            for n, v in (('oheight', h), ('owidth', w)):
                if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                    raise ValueError(f"nn.SpatialUpSamplingBilinear: {n} must be a positive integer, got {v!r}")
            self.oheight, self.owidth = int(h), int(w)
        else:
            _check_scale('nn.SpatialUpSamplingBilinear', params)
            self.scale_factor = int(params)
        self.inputSize = _long_storage4()
        self.outputSize = _long_storage4()

    def __repr__(self):
        if self.scale_factor is not None:
            return f"{self.__torch_name__}({int(self.scale_factor)})"
        return f"{self.__torch_name__}({self.oheight}, {self.owidth})"

    def _out_hw(self, H, W):
        if self.scale_factor is not None:
            s = int(self.scale_factor)
            return H * s, W * s
        return int(self.oheight), int(self.owidth)

    def _interp(self, n_in, n_out):
        """(i0, i1, l0, l1): for each output index, the two source indices and their weights (THNN's float
        arithmetic: r = (in-1)/(out-1) in float32, position = r * j in float32)."""
        f32 = np.float32
        r = f32(n_in - 1) / f32(n_out - 1) if n_out > 1 else f32(0)
        pos = (r * np.arange(n_out, dtype=f32)).astype(f32)
        i0 = pos.astype(np.int64)
        i1 = i0 + (i0 < n_in - 1)
        l1 = (pos - i0).astype(self._tinfo.dtype)
        l0 = (1 - l1).astype(self._tinfo.dtype)
        return i0, i1, l0, l1

    def _plan(self, H, W, oh, ow):
        """((i0, i1, l0, l1) along H with weights as columns, the same along W, Mh^T, Mw, the output rows and the
        output columns reading each input row / column (start, end)): gather indices and weights for the forward,
        interpolation matrices (out x in) for the backward (cached)."""
        key = (H, W, oh, ow, self._tinfo.name)
        cache = self.__dict__.get('_plan_cache')
        if cache is None or cache[0] != key:
            dev = self._tinfo.cuda
            parts = []
            for n_in, n_out in ((H, oh), (W, ow)):
                i0, i1, l0, l1 = self._interp(n_in, n_out)
                m = np.zeros((n_out, n_in), dtype=self._tinfo.dtype)
                np.add.at(m, (np.arange(n_out), i0), l0)
                np.add.at(m, (np.arange(n_out), i1), l1)
                parts.append((i0, i1, l0, l1, m))
            (hi0, hi1, hl0, hl1, mh), (wi0, wi1, wl0, wl1, mw) = parts
            arrays = (hi0, hi1, hl0[:, None], hl1[:, None], wi0, wi1, wl0, wl1, np.ascontiguousarray(mh.T), mw,
                      *gpu_pool.bilinear_ranges(hi0, hi1, H), *gpu_pool.bilinear_ranges(wi0, wi1, W))
            self.__dict__['_plan_cache'] = cache = (key, tuple(backend.to_device(a, dev) for a in arrays))
        return cache[1]

    def updateOutput(self, input):
        x = self._coerce(input)._a
        x4, batched = _spatial_input(self, x)
        N, C, H, W = x4.shape
        oh, ow = self._out_hw(H, W)
        if H < 1 or W < 1:
            raise ValueError(f"{self!r}: input sizes should be greater than 0, got {sizestr(x.shape)}")
        shape = x.shape[:-2] + (oh, ow)
        _set_sizes(self, x4.shape, (N, C, oh, ow))
        out = field_out(self, 'output', shape)
        out4 = out if batched else out[None]
        if (oh, ow) == (H, W):      # THNN copies (no 0 * a neighbour's NaN or inf)
            out4[...] = x4
            return self.output
        plan = self._plan(H, W, oh, ow)
        gpu_pool.upsample_bilinear(x4, out4, plan[:8], self._bilinear_numpy, x4, out4, plan)    # CUDA: one kernel
        return self.output

    def _bilinear_numpy(self, x4, out4, plan):
        N, C, H, W = x4.shape
        oh, ow = out4.shape[2:]
        hi0, hi1, hl0, hl1, wi0, wi1, wl0, wl1 = plan[:8]
        # along W: t = l0 * x[..., i0] + l1 * x[..., i1]; then along H the same on rows (THNN's grouping)
        t = self._buffer('_t', (N, C, H, ow))
        _lerp_into(x4, wi0, wl0, wi1, wl1, t, self._buffer('_t2', (N, C, H, ow)), 3)
        _lerp_into(t, hi0, hl0, hi1, hl1, out4, self._buffer('_r2', (N, C, oh, ow)), 2)

    def updateGradInput(self, input, gradOutput):
        x, g, x4, batched = _spatial_grad_args(self, input, gradOutput)
        H, W = x4.shape[2:]
        oh, ow = self._out_hw(H, W)
        check_grad_size(self, g, x.shape[:-2] + (oh, ow))
        gi = field_out(self, 'gradInput', x.shape)
        g4, gi4 = (g, gi) if batched else (g[None], gi[None])
        if (oh, ow) == (H, W):      # THNN copies
            gi4[...] = g4
            return self.gradInput
        plan = self._plan(H, W, oh, ow)
        gpu_pool.upsample_bilinear_backward(g4, gi4, plan[:8], plan[10:], self._bilinear_grad_numpy,  # CUDA: 1 kernel
                                            g4, gi4, plan)
        return self.gradInput

    def _bilinear_grad_numpy(self, g4, gi4, plan):
        _separable(self, '_gt', plan[8], g4, plan[9], gi4)
        if not math.isfinite(float(gi4.sum())):      # a NaN or inf in g: scatter-adds, as THNN (see _lerp_adjoint)
            hi0, hi1, hl0, hl1, wi0, wi1, wl0, wl1 = plan[:8]
            t = self._buffer('_gt', g4.shape[:3] + (gi4.shape[3],))
            _lerp_adjoint(g4, wi0, wl0, wi1, wl1, t, 3)
            _lerp_adjoint(t, hi0, hl0, hi1, hl1, gi4, 2)

"""Spatial padding: SpatialZeroPadding, SpatialReflectionPadding, SpatialReplicationPadding.

``(pad_l, pad_r, pad_t, pad_b)`` add columns left/right and rows top/bottom of a 3-D (planes x h x w) or 4-D
(batch x planes x h x w) input; a negative amount crops instead (Torch7).  Reflection mirrors about the edge pixel
(which is not repeated: pads must be smaller than the input size); replication repeats the edge pixel.

Each dim is padded with a constant number of slice copies (the centre, then the border strips), and the backward
folds the border strips of gradOutput back onto the pixels they came from.  On CUDA each pass is one kernel
(luatorch_py/backend/gpu_pool.py).
"""
import numbers

import numpy as np

from ..backend import array_module, gpu_pool
from .module import Module, check_grad_size, field_out, sizestr
from .pooling import _spatial_input

_ZERO, _REFLECT, _REPLICATE = 'zero', 'reflect', 'replicate'


def _sl(axis, s):
    """An index selecting slice ``s`` along ``axis`` (0-3) of a 4-D array."""
    return (slice(None),) * axis + (s,)


def _rev(start, stop):
    """The slice start, start-1, ..., stop+1 (stop may be -1: down to index 0 included)."""
    return slice(start, None if stop < 0 else stop, -1)


def _kept(n, lo, hi, mode):
    """How many of the n pixels of src a pad of lo before and hi after keeps (negative: crop).  A crop of the whole
    input with a pad on the other side keeps none: replication then repeats the edge pixel (THNN's index clamping:
    the last pixel after a crop from the start, the first after a crop from the end)."""
    m = n - max(-lo, 0) - max(-hi, 0)
    return max(m, 0) if mode == _REPLICATE else m


def _reflect_sources(n, o, lo):
    """For each of the o padded indices, the index of src (length n) it copies, -1 for none: THNN's reflection
    formula (the CUDA kernel's), for a crop on one side past the other border (nothing kept, a pad on the other
    side: THNN still reflects its index about the edge; 0 where it would read outside the input)."""
    return gpu_pool._padsrc(np.arange(o) - lo, n, gpu_pool.PAD_MODES[_REFLECT])


def _pad_axis(dst, src, axis, lo, hi, mode):
    """dst (length n + lo + hi along axis) = src (length n) padded by lo before and hi after (negative: crop)."""
    n = src.shape[axis]
    o = dst.shape[axis]
    s0, d0 = max(-lo, 0), max(lo, 0)
    m = _kept(n, lo, hi, mode)
    if m < 0:       # (reflection: zero padding raises in _sizes, replication keeps 0)
        idx = _reflect_sources(n, o, lo)
        dst[...] = src.take(np.maximum(idx, 0), axis=axis)
        dst[_sl(axis, idx < 0)] = 0
        return
    dst[_sl(axis, slice(d0, d0 + m))] = src[_sl(axis, slice(s0, s0 + m))]
    if lo > 0:
        part = dst[_sl(axis, slice(0, lo))]
        if mode == _ZERO:
            part.fill(0)
        elif mode == _REFLECT:
            part[...] = src[_sl(axis, _rev(lo, 0))]            # dst[t] = src[lo - t]
        else:
            part[...] = src[_sl(axis, slice(0, 1))]
    if hi > 0:
        part = dst[_sl(axis, slice(max(o - hi, 0), o))]
        if mode == _ZERO:
            part.fill(0)
        elif mode == _REFLECT:
            part[...] = src[_sl(axis, _rev(n - 2, n - 2 - hi))]  # dst[o-hi+t] = src[n-2-t]
        else:
            part[...] = src[_sl(axis, slice(n - 1, n))]


def _fold_axis(dst, src, axis, lo, hi, mode, xp, tmp):
    """The adjoint of _pad_axis: dst (length n) = gradient of src (length n + lo + hi) folded back.  ``tmp``: a
    scratch array shaped like dst with length 1 along axis (for replication sums)."""
    n = dst.shape[axis]
    o = src.shape[axis]
    s0, d0 = max(-lo, 0), max(lo, 0)
    m = _kept(n, lo, hi, mode)
    if m < 0:
        idx = _reflect_sources(n, o, lo)
        dst.fill(0)
        np.add.at(dst, _sl(axis, idx[idx >= 0]), src[_sl(axis, idx >= 0)])
        return
    if m < n:
        dst.fill(0)
    dst[_sl(axis, slice(s0, s0 + m))] = src[_sl(axis, slice(d0, d0 + m))]
    if lo > 0 and mode != _ZERO:
        if mode == _REFLECT:
            dst[_sl(axis, slice(1, lo + 1))] += src[_sl(axis, _rev(lo - 1, -1))]
        else:
            xp.sum(src[_sl(axis, slice(0, lo))], axis=axis, keepdims=True, out=tmp)
            dst[_sl(axis, slice(0, 1))] += tmp
    if hi > 0 and mode != _ZERO:
        if mode == _REFLECT:
            dst[_sl(axis, slice(n - 1 - hi, n - 1))] += src[_sl(axis, _rev(o - 1, o - 1 - hi))]
        else:
            xp.sum(src[_sl(axis, slice(max(o - hi, 0), o))], axis=axis, keepdims=True, out=tmp)
            dst[_sl(axis, slice(n - 1, n))] += tmp


class _SpatialPadding(Module):
    _mode = _ZERO

    def __init__(self, pad_l, pad_r=None, pad_t=None, pad_b=None):
        super().__init__()
        self.pad_l = pad_l
        self.pad_r = pad_l if pad_r is None else pad_r
        self.pad_t = pad_l if pad_t is None else pad_t
        self.pad_b = pad_l if pad_b is None else pad_b
        for n in ('pad_l', 'pad_r', 'pad_t', 'pad_b'):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"{self.__torch_name__}: {n} must be an integer, got {v!r}")

    def __repr__(self):
        return f"{self.__torch_name__}(l={self.pad_l}, r={self.pad_r}, t={self.pad_t}, b={self.pad_b})"   # nn 8726825

    def _sizes(self, x):
        H, W = x.shape[-2:]
        oh = H + self.pad_t + self.pad_b
        ow = W + self.pad_l + self.pad_r
        if oh < 1 or ow < 1:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} is too small (output would be "
                             f"{oh}x{ow})")
        # negative pads crop: Torch7's zero padding narrows the input to what they leave (an error if nothing)
        kept_h, kept_w = _kept(H, self.pad_t, self.pad_b, self._mode), _kept(W, self.pad_l, self.pad_r, self._mode)
        if self._mode == _ZERO and min(kept_h, kept_w) < 1:
            raise ValueError(f"{self!r}: the negative pads crop all of the input of size {sizestr(x.shape)} "
                             f"(keeping {kept_h}x{kept_w})")
        if self._mode == _REFLECT and (self.pad_t >= H or self.pad_b >= H or self.pad_l >= W or self.pad_r >= W):
            raise ValueError(f"{self!r}: reflection pads must be smaller than the input size, got input of size "
                             f"{sizestr(x.shape)}")
        return oh, ow

    def _arrays(self, input):
        """(input array, its 4-D view), checked."""
        x = self._coerce(input)._a
        return x, _spatial_input(self, x)[0]

    def updateOutput(self, input):
        x, x4 = self._arrays(input)
        oh, ow = self._sizes(x)
        out = field_out(self, 'output', x.shape[:-2] + (oh, ow))
        out4 = out if x.ndim == 4 else out[None]
        gpu_pool.pad2d(x4, out4, self.pad_t, self.pad_l, self._mode, self._pad_numpy, x4, out4)   # CUDA: one kernel
        return self.output

    def _pad_numpy(self, x4, out4):
        N, C, H, W = x4.shape
        tmp = self._buffer('_rows', (N, C, out4.shape[2], W))
        _pad_axis(tmp, x4, 2, self.pad_t, self.pad_b, self._mode)
        _pad_axis(out4, tmp, 3, self.pad_l, self.pad_r, self._mode)

    def updateGradInput(self, input, gradOutput):
        x, x4 = self._arrays(input)
        oh, ow = self._sizes(x)
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, x.shape[:-2] + (oh, ow))
        g4 = g if g.ndim == 4 else g[None]
        gi = field_out(self, 'gradInput', x.shape)
        gi4 = gi if x.ndim == 4 else gi[None]
        # CUDA: one kernel
        gpu_pool.pad2d_backward(g4, gi4, self.pad_t, self.pad_l, self._mode, self._fold_numpy, g4, gi4)
        return self.gradInput

    def _fold_numpy(self, g4, gi4):
        xp = array_module(g4)
        N, C, H, W = gi4.shape
        oh = g4.shape[2]
        tmp = self._buffer('_rows', (N, C, oh, W))
        _fold_axis(tmp, g4, 3, self.pad_l, self.pad_r, self._mode, xp, self._buffer('_col1', (N, C, oh, 1)))
        _fold_axis(gi4, tmp, 2, self.pad_t, self.pad_b, self._mode, xp, self._buffer('_row1', (N, C, 1, W)))


class SpatialZeroPadding(_SpatialPadding):
    """SpatialZeroPadding(pad_l, pad_r=pad_l, pad_t=pad_l, pad_b=pad_l): zeros around; negative pads crop."""
    _mode = _ZERO

    def __repr__(self):
        return f"{self.__torch_name__}(l={self.pad_l}, r={self.pad_r}, t={self.pad_t}, b={self.pad_b})"


class SpatialReflectionPadding(_SpatialPadding):
    """SpatialReflectionPadding(pad_l, pad_r, pad_t, pad_b): the image mirrored about its edge pixels."""
    _mode = _REFLECT


class SpatialReplicationPadding(_SpatialPadding):
    """SpatialReplicationPadding(pad_l, pad_r, pad_t, pad_b): the edge pixels repeated."""
    _mode = _REPLICATE

"""Spatial layers other than convolutions: pooling, spatial softmax, cross-map LRN (up-sampling: upsampling.py).

Every layer takes a 4-D batch (batch x planes x height x width) or a 3-D single image (planes x height x width),
as Torch7.  Behaviour follows Torch7's nn Lua files and THNN's C code (``lib/THNN/generic/*.c``, 2017):

- output sizes: ``floor`` (default) or ``ceil`` of ``(size + 2*pad - k) / d``, plus one; when any padding is set,
  the last window is dropped if it would start at or past ``size + pad`` (THNN's clamp, so that in ceil mode the
  last window starts inside the image or its left padding);
- max pooling keeps Torch7's ``indices`` field (a LongTensor shaped like the output, holding each max's flat
  position ``y * width + x`` in its input plane -- 0-based here, 1-based in Lua; serialization converts); ties go
  to the first maximum in row-major window order, NaNs are never picked;
- average pooling divides by the window size counted over the padded image (``count_include_pad``, the default)
  or over the input pixels only (``setCountExcludePad()``);
- adaptive pooling windows are ``[floor(i*in/out), ceil((i+1)*in/out))``.

The loops are over kernel offsets (kh*kw of them), never over batch, planes or pixels.  On CUDA every forward and
backward pass is one kernel (luatorch_py/backend/gpu_pool.py; the backwards are gathers, with no atomics), keeping
the same ``indices`` as the CPU.
"""
import functools
import math
import numbers

import numpy as np

from .. import backend
from ..backend import array_module, gpu_pool, kernels, parallel
from ..backend.kernels import scatter_add, take_into
from .module import LazyField, Module, _unheld, check_grad_size, field_out, long_info, resized, sizestr
from .activation import LogSoftMax, ReLU, Sigmoid, SoftMax, Tanh, Threshold
from ._layout import batch_last_field, feeds_next, field_like

_NEG_FLT_MAX = -float(np.finfo(np.float32).max)


# -- shared helpers --------------------------------------------------------------------------------------
def _long_field(module, name):
    """module.<name> as a LongTensor on the module's device (Torch7: ``self.indices = self.indices:long()``); a
    tensor of another type (left by ``type()``) is converted, keeping its values."""
    info = long_info(module)
    t = module.__dict__.get(name)
    if t is None or t.__class__ is not info.tensor_class:
        new = info.tensor_class()
        if t is not None and t.nElement():
            a = backend.to_device(t._a, info.cuda).astype(info.dtype)
            new = info.tensor_class._from_array(a)
        module.__dict__[name] = t = new
    return t


def _spatial_input(module, x, what='input'):
    """(4-D view of x, batched?) for a 3-D or 4-D array; a ValueError naming the module otherwise."""
    if x.ndim in (3, 4) and x.size == 0:
        raise ValueError(f"{module!r}: got an empty {what} (size {sizestr(x.shape)}): expected at least one sample")
    if x.ndim == 4:
        return x, True
    if x.ndim == 3:
        return x[None], False
    raise ValueError(f"{module!r}: expected a 3-D (planes x height x width) or 4-D (batch x planes x height x "
                     f"width) {what}, got size {sizestr(x.shape)}")


def _spatial_grad_args(module, input, gradOutput):
    """updateGradInput's arrays: (input, gradOutput, 4-D view of the input, batched?)."""
    x = module._coerce(input)._a
    g = module._coerce(gradOutput, 'gradOutput')._a
    return (x, g) + _spatial_input(module, x)


def _in_code_order(a, last):
    """3-D or 4-D array ``a`` as a 4-D view in the order of a max pooling's code: memory order (C, H, W, N) when
    ``last`` (batch-last), else (N, C, H, W)."""
    a4 = a if a.ndim == 4 else a[None]
    return kernels.memory_view(a4) if last else a4


def _grad_to_max(module, x, g, batched, unique, backward, *geom):
    """updateGradInput of the max poolings: gradOutput ``g`` sent to the input positions in ``indices`` (left by
    the forward on this input), zero elsewhere; ``unique`` as _scatter_to_planes.  ``backward``: the gpu_pool
    function of the layer's windows (CUDA: one gather kernel), ``geom`` its window arguments."""
    idx = _long_field(module, 'indices')._a
    if idx.shape != g.shape:
        raise RuntimeError(f"{module!r}: indices of size {sizestr(idx.shape)} do not match gradOutput of size "
                           f"{sizestr(g.shape)}; call forward with this input first")
    module.__dict__.pop('_gi_pending', None)        # (SpatialMaxPooling's: written now, after the checks)
    gi = field_out(module, 'gradInput', x.shape)
    if not batched:
        gi, idx, g = gi[None], idx[None], g[None]
    backward(g, idx, gi, *geom, _grad_to_max_numpy, module, gi, idx, g, unique)
    return module.gradInput


def _grad_to_max_numpy(module, gi4, idx4, g4, unique):
    gi4.fill(0)
    _scatter_to_planes(module, gi4, idx4, g4, unique)


def _separable(module, name, a, x4, b, out4):
    """out4 = a @ x4 @ b for each plane (b maps along W, then a along H), through the kept buffer ``name``."""
    tmp = module._buffer(name, x4.shape[:3] + (b.shape[1],))
    xp = array_module(x4)
    xp.matmul(x4, b, out=tmp)
    xp.matmul(a, tmp, out=out4)


def _plane_base(module, shape4, plane_size, name='_pbase'):
    """int64 array (N, C, 1, 1): the flat offset of each input plane (p * plane_size), cached per shape."""
    info = long_info(module)
    key = (shape4[0], shape4[1], plane_size)
    cache = module.__dict__.get(name)
    if cache is None or cache[0] != key or backend.is_cuda_array(cache[1]) != info.cuda:
        n = shape4[0] * shape4[1]
        base = info.xp.arange(n, dtype=np.int64).reshape(shape4[0], shape4[1], 1, 1) * plane_size
        module.__dict__[name] = cache = (key, base)
    return cache[1]


def _scatter_to_planes(module, gi4, idx4, g4, unique):
    """gi4 (N, C, H, W, zeroed) += g4 at the flat in-plane positions idx4 (shaped like g4; -1 = nowhere).
    ``unique``: no two entries of a plane share a position (then a plain put does)."""
    xp = array_module(gi4)
    N, C, H, W = gi4.shape
    if g4.size == 0:
        return
    gidx = module._buffer('_gidx', idx4.shape, long_info(module))
    xp.add(idx4, _plane_base(module, gi4.shape, H * W), out=gidx)
    flat = gi4.reshape(-1)
    vals = g4
    if int(idx4.min()) < 0:                # windows without a max (empty, or all NaN): nothing flows back
        neg = module._bools('_gneg', idx4.shape)
        xp.less(idx4, 0, out=neg)
        vals = module._buffer('_gvals', g4.shape)
        vals[...] = g4
        xp.copyto(vals, 0, where=neg)
        xp.copyto(gidx, 0, where=neg)
        unique = False
    if unique:
        flat[gidx.reshape(-1)] = vals.reshape(-1)
    else:
        scatter_add(flat, gidx.reshape(-1), vals.reshape(-1))     # repeated positions accumulate


def _pooled_size(size, k, d, pad, ceil_mode, any_pad):
    """THNN's output size along one dim (see the module docstring)."""
    a = size + 2 * pad - k
    o = (-(-a // d) if ceil_mode else a // d) + 1
    if any_pad and (o - 1) * d >= size + pad:
        o -= 1
    return o


def _check_kernel_args(name, kW, kH, dW, dH, padW, padH):
    for n, v in (('kW', kW), ('kH', kH), ('dW', dW), ('dH', dH), ('padW', padW), ('padH', padH)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name}: {n} must be an integer, got {v!r}")
    if kW <= 0 or kH <= 0:
        raise ValueError(f"{name}: kernel size should be greater than zero, got kW={kW}, kH={kH}")
    if dW <= 0 or dH <= 0:
        raise ValueError(f"{name}: stride should be greater than zero, got dW={dW}, dH={dH}")
    if padW < 0 or padH < 0:
        raise ValueError(f"{name}: padding should be non-negative, got padW={padW}, padH={padH}")


class _CeilMode:
    """Torch7's ceil()/floor() of the pooling layers: output sizes rounded up or down (``ceil_mode``)."""
    ceil_mode = False    # default for .t7 files that lack the field

    def ceil(self):
        self.ceil_mode = True
        return self

    def floor(self):
        self.ceil_mode = False
        return self


class _Pool2d(_CeilMode, Module):
    """Fixed-window pooling (kW x kH, stride dW x dH, zero-based padding padW x padH, floor/ceil sizes)."""
    # defaults for fields a .t7 file may lack (older Torch7 versions)
    padW = 0
    padH = 0

    def __init__(self, name, kW, kH, dW, dH, padW, padH):
        super().__init__()
        _check_kernel_args(name, kW, kH, dW, dH, padW, padH)
        self.kW, self.kH, self.dW, self.dH = kW, kH, dW, dH
        self.padW, self.padH = padW, padH
        self.ceil_mode = False

    def __repr__(self):
        s = f"{self.__torch_name__}({self.kW}x{self.kH}, {self.dW},{self.dH}"
        if self.padW or self.padH:
            s += f", {self.padW},{self.padH}"
        return s + ')'

    def _sizes(self, x4, shape):
        """(oh, ow, extra): output size and the room the windows need past the bottom/right padding (ceil mode);
        checks as THNN (``shape``: the input's size, for messages)."""
        N, C, H, W = x4.shape
        kW, kH, dW, dH, padW, padH = self.kW, self.kH, self.dW, self.dH, self.padW, self.padH
        if kW <= 0 or kH <= 0 or dW <= 0 or dH <= 0:
            raise ValueError(f"{self!r}: kernel size and stride should be greater than zero")
        if not (kW // 2 >= padW and kH // 2 >= padH):
            raise ValueError(f"{self!r}: pad should be at most half of the kernel size, got padW={padW}, "
                             f"padH={padH} for kW={kW}, kH={kH}")
        self._check_small(H, W, shape)
        any_pad = bool(padW or padH)
        oh = _pooled_size(H, kH, dH, padH, self.ceil_mode, any_pad)
        ow = _pooled_size(W, kW, dW, padW, self.ceil_mode, any_pad)
        if oh < 1 or ow < 1:
            raise ValueError(f"{self!r}: input of size {sizestr(shape)} gives an output of size "
                             f"{C}x{oh}x{ow}: too small")
        extra = (max(0, (oh - 1) * dH + kH - H - 2 * padH), max(0, (ow - 1) * dW + kW - W - 2 * padW))
        return oh, ow, extra

    def _padded(self, x4, extra, fill):
        """x4 in a kept buffer with its padding (and ``extra``) filled with ``fill``; x4 itself when none."""
        return kernels.padded(x4, (self.padH, self.padW), self._buffer, '_xpad', fill, extra)

    def _window(self, a, ky, kx, oh, ow):
        dH, dW = self.dH, self.dW
        return a[:, :, ky:ky + (oh - 1) * dH + 1:dH, kx:kx + (ow - 1) * dW + 1:dW]

    def _output_shape(self, x, oh, ow):
        return x.shape[:-2] + (oh, ow)


_CODE_DTYPES = tuple((np.iinfo(dt).max, dt) for dt in (np.uint8, np.uint16, np.uint32))
# float dtype -> (the signed integers of its size, -0.0's bits read as one: the least of them); not float16, whose
# np.maximum keeps its first operand on ties (see _maximum_keeps_second_zero; no tensor type holds it anyway)
_NEG_ZERO_BITS = {np.dtype(f): (np.dtype(i), np.iinfo(i).min)
                  for f, i in ((np.float32, np.int32), (np.float64, np.int64))}


@functools.cache
def _maximum_keeps_second_zero():
    """Whether np.maximum gives its second operand for a tie of +0.0 and -0.0 (either order), and ReLU's clip keeps
    -0.0 and gives +0.0 for negatives, contiguous and strided, over lengths covering the vector loops' bodies and
    tails, in float32 and float64: what SpatialMaxPooling._zero_signs assumes.  (x86's SIMD max does; float16's
    scalar loop keeps the first, and IEEE-style maxima, as ARM's FMAX, give +0.0 for either order.)  Checked once,
    at the first fused forward."""
    for dt in (np.float32, np.float64):
        for n in (1, 3, 7, 17, 33, 67, 131, 257):
            z = np.zeros(2 * n, dt)
            z[1::2] = -0.0
            a, b = z[0::2], z[1::2]
            neg = np.full(n, -1, dt)
            if not (np.signbit(np.maximum(a, b)).all() and not np.signbit(np.maximum(b, a)).any()
                    and np.signbit(np.maximum(a.copy(), b.copy())).all()
                    and not np.signbit(np.maximum(b.copy(), a.copy())).any()
                    and np.signbit(np.clip(b, 0, np.inf)).all() and np.signbit(np.clip(b.copy(), 0, np.inf)).all()
                    and not np.signbit(np.clip(neg, 0, np.inf)).any()):
                return False
    return True


def _plus_zero(v):
    """Whether number ``v`` is +0 (a ReLU's threshold: with -0.0, its output for a negative number is -0.0)."""
    return v == 0 and math.copysign(1.0, v) > 0


def _code_dtype(largest):
    """The smallest unsigned dtype holding 0 .. ``largest`` (np.iinfo costs ~10 us a call: looked up once)."""
    for top, dt in _CODE_DTYPES:
        if largest <= top:
            return dt
    return np.uint64


def _max_of(xp, op, wins, out):
    """out = op (np.maximum or np.fmax) folded over the arrays ``wins``."""
    if len(wins) == 1:
        out[...] = wins[0]
        return
    op(wins[0], wins[1], out=out)
    for w in wins[2:]:
        op(out, w, out=out)


def _folds_into_max(prev):
    """Whether module ``prev``'s derivative at a window's maximum is its derivative evaluated at the pooled value p
    (input and output both taken as p): Tanh's and Sigmoid's depend on their output only, and a ReLU's (a Threshold
    whose value does not exceed its threshold) on whether its input exceeds the threshold, as its output then
    does.  Each of these derivatives is finite and not negative (see _fold_backward)."""
    t = type(prev)
    return t is Tanh or t is Sigmoid or ((t is ReLU or t is Threshold) and prev.val <= prev.threshold)


def _uncovered_nan(y, kH, kW, dH, dW, oh, ow):
    """Whether 4-D array ``y`` has a NaN in the rows or columns no window (kH x kW, stride dH, dW >= the kernel, no
    padding, oh x ow of them) reaches."""
    rows = [r for r in range(y.shape[2]) if r >= oh * dH or r % dH >= kH]
    cols = [c for c in range(y.shape[3]) if c >= ow * dW or c % dW >= kW]
    return bool((rows and np.isnan(y[:, :, rows]).any()) or (cols and np.isnan(y[:, :, :, cols]).any()))


# backward passes an instance may define (Torch7's idiom, e.g. m.updateGradInput = function() end to freeze a
# layer): then its own backward runs, not _fold_backward
_OWN_PASSES = ('backward', 'updateGradInput', 'accGradParameters')
_OWN_FORWARD = ('forward', 'updateOutput')


class SpatialMaxPooling(_Pool2d):
    """SpatialMaxPooling(kW, kH, dW=kW, dH=kH, padW=0, padH=0): the max over each kW x kH window (padding counts
    as -inf); ``ceil()`` switches to ceil-mode output sizes.  The gradient goes to each window's (first) maximum,
    whose flat in-plane position is kept in ``indices``."""
    _lua_index_fields = ('indices',)
    # (see _routable and _fold_backward)
    indices = LazyField('indices', '_idx_pending', lambda m, name: m._fill_indices())
    gradInput = LazyField('gradInput', '_gi_pending', lambda m, name: m._fill_gradInput())

    def _own_refs(self, name, a):
        return self.__dict__.get('_code_of') is a

    def _fill_indices(self):
        """Write the ``indices`` a CPU forward left pending: each window's origin plus its winner's offset."""
        d = self.__dict__
        pending = d.pop('_idx_pending', None)
        if pending is None:
            return
        H, W, oh, ow, last = pending
        idx = d['indices']._a
        idx4 = idx if idx.ndim == 4 else idx[None]
        base = self._base(H, W, oh, ow)
        if last:                                    # (the code's order, as _max_numpy chose it)
            np.add(d['_code'], base[:, :, None], out=kernels.memory_view(idx4))
        else:
            np.add(d['_code'], base, out=idx4)

    def _may_defer(self, x):
        """Whether this forward may leave ``indices`` pending: numpy, this class (a subclass's fields are
        its own), no one else holding them."""
        return (type(self) is SpatialMaxPooling and type(x) is np.ndarray
                and _unheld(self, 'indices'))

    def __init__(self, kW, kH, dW=None, dH=None, padW=0, padH=0):
        dW = kW if dW is None else dW
        dH = kH if dH is None else dH
        super().__init__('nn.SpatialMaxPooling', kW, kH, dW, dH, padW, padH)
        self.indices = long_info(self).tensor_class()

    def _check_small(self, H, W, shape):
        if not (W >= self.kW - self.padW and H >= self.kH - self.padH):
            raise ValueError(f"{self!r}: input image (H: {H}, W: {W}) smaller than kernel size - padding (kH: "
                             f"{self.kH} padH: {self.padH} kW: {self.kW} padW: {self.padW}); input of size "
                             f"{sizestr(shape)}")

    def _base(self, H, W, oh, ow):
        """int64 (oh, ow): flat in-plane position of each window's top-left corner (may lie in the padding)."""
        key = (H, W, oh, ow, self.dH, self.dW, self.padH, self.padW)
        info = long_info(self)
        cache = self.__dict__.get('_base_cache')
        if cache is None or cache[0] != key or backend.is_cuda_array(cache[1]) != info.cuda:
            r = np.arange(oh, dtype=np.int64) * self.dH - self.padH
            c = np.arange(ow, dtype=np.int64) * self.dW - self.padW
            base = backend.to_device(r[:, None] * W + c[None, :], info.cuda)
            self.__dict__['_base_cache'] = cache = (key, base)
        return cache[1]

    def updateOutput(self, input):
        x = self._coerce(input)._a
        x4, out4, idx4, extra = self._forward_fields(x)
        # CUDA: one kernel (max, and its index, per window)
        gpu_pool.max_pool(x4, out4, idx4, (self.kH, self.kW), (self.dH, self.dW), (self.padH, self.padW),
                          self._max_numpy, x4, out4, idx4, extra)
        return self.output

    def _forward_fields(self, x):
        """A forward's setup for input array ``x``: checks, output and indices sized, the last forward's kept state
        dropped; (x4, out4, idx4, extra)."""
        x4, batched = _spatial_input(self, x)
        N, C, H, W = x4.shape
        oh, ow, extra = self._sizes(x4, x.shape)
        shape = self._output_shape(x, oh, ow)
        self.__dict__.pop('_idx_pending', None)     # (a previous forward's: no longer observable)
        self._pmax_kept = self._above_kept = None
        self._nan_lost = False
        self._defer = self._may_defer(x)
        # a batch-last input (a CPU convolution's output, backend/kernels.py) pools in memory order into a
        # batch-last output and indices (contiguous runs of N numbers; values as Torch7's)
        last = (batched and not (self.padW or self.padH or any(extra)) and kernels.batch_last(x4)
                and feeds_next(self, x))
        ind = _long_field(self, 'indices')
        if last:
            out = batch_last_field(self, 'output', shape)
            idx = batch_last_field(self, 'indices', shape, ind)
        else:
            out = field_out(self, 'output', shape)
            if ind._a.shape == shape and not ind._a.flags.c_contiguous:
                ind = self.__dict__['indices'] = long_info(self).tensor_class()
            idx = resized(ind, shape)
        out4, idx4 = (out, idx) if batched else (out[None], idx[None])
        self.iheight, self.iwidth = H, W
        self._code_of = None
        return x4, out4, idx4, extra

    def _pool_after(self, prev, t):
        """Sequential.updateOutput's step over [prev, self] for a ReLU (or Threshold(0, 0)) before this 2x2 max
        pooling, on a CPU convolution's batch-last output ``t`` (Threshold._fold_forward): the
        windows of t are pooled, then prev's pass runs on the maxima -- the same numbers as pooling prev's output,
        since prev does not decrease (max f(x) = f(max x)) -- and prev's output is left pending: written from t
        when read.  Windows with no number above the threshold are ties in prev's output (its first: code 0).  A
        zero whose sign the two orders give differently is set as prev's output would give it (_zero_signs).
        Returns self.output, or None when this does not apply (each forward then runs): not exactly these classes,
        an instance's own forward, prev in place, a held output or indices, another geometry, NaN or -inf in t, a
        numpy whose maximum keeps other zeros on ties (_maximum_keeps_second_zero)."""
        d, pd = self.__dict__, prev.__dict__
        x = getattr(t, '_a', None)
        if not self._fuses_after(prev, t, x):
            return None
        d.pop('_feeds_next', None)          # (prev's last output array: a reference _unheld would count)
        if not _unheld(prev, 'output'):
            return None
        pd.pop('_out_pending', None)        # (the last forward's: no one can read it)
        y = prev._output_array(t)           # prev's output field as its forward lays it out (batch-last)
        d['_feeds_next'] = x                # (this forward's output is laid out as for y, which x stands for)
        x4, out4, idx4, extra = self._forward_fields(x)
        if not self._defer:                 # (someone holds the indices: the two forwards write them at once)
            return None
        xm, mo = kernels.memory_view(x4), kernels.memory_view(out4)
        wins = [xm[:, ky::2, kx::2] for ky in range(2) for kx in range(2)]
        if not self._max_2x2(wins, mo, x4.shape[3]):
            return None                     # (NaN or -inf: both forwards run, the fields set up again)
        prev._f(np, mo, mo)
        above = self._bools('_above', mo.shape)
        np.greater(mo, 0, out=above)
        code = d['_code']
        np.multiply(code, above, out=code)
        self._zero_signs(mo, wins[3])
        pd['_out_pending'] = x
        d['_feeds_next'] = y
        # in training, the backward fold needs prev's derivative at the maxima, (max > 0): kept, not the maxima
        self._code_done(x4.shape[2], x4.shape[3], mo.shape[1], mo.shape[2], mo, kernels.memory_view(idx4), True,
                        keep_max=False)
        if self.train:
            self._above_kept = above
        return self.output

    def _fuses_after(self, prev, t, x):
        """Whether _pool_after may take [prev, self] on input tensor ``t`` (array ``x``), before looking at who holds
        what: exactly these classes and no instance's own forward; prev a ReLU with threshold +0 and value 0, not in
        place; a floating CPU batch-last 4-D input of even size, of both modules' type; 2x2 windows, stride 2, no
        padding; numpy's maximum keeping its second operand on zero ties."""
        pd = prev.__dict__
        return not (type(self) is not SpatialMaxPooling or (type(prev) is not ReLU and type(prev) is not Threshold)
                    or prev.val != 0 or not _plus_zero(prev.threshold) or pd.get('inplace')
                    or not self.__dict__.keys().isdisjoint(_OWN_FORWARD) or not pd.keys().isdisjoint(_OWN_FORWARD)
                    or t.__class__ is not prev._tcls or prev._tcls is not self._tcls
                    or type(x) is not np.ndarray or x.ndim != 4 or x.dtype not in _NEG_ZERO_BITS
                    or x.shape[2] % 2 or x.shape[3] % 2 or not kernels.batch_last(x)
                    or (self.kW, self.kH, self.dW, self.dH, self.padW, self.padH) != (2, 2, 2, 2, 0, 0)
                    or not _maximum_keeps_second_zero())

    @staticmethod
    def _zero_signs(p, last):
        """After _pool_after: ReLU's output is -0.0 only where its input is; pooled, a window
        whose numbers are all <= 0 (ties at zero) gives the last number's zero (np.maximum keeps its second operand
        on ties), so the maximum must be -0.0 just where ``last`` (the window's bottom-right numbers) is.  Pooling
        first can only differ where the maximum came out -0.0: found by one reduction (-0.0 is the least integer
        of the float's bits), then fixed where it is."""
        ints, least = _NEG_ZERO_BITS[p.dtype]
        if int(p.view(ints).min()) != least:
            return
        neg = np.signbit(p) & (p == 0)
        p[neg] = np.where(np.signbit(last[neg]) & (last[neg] == 0), p.dtype.type(-0.0), p.dtype.type(0))

    def _max_numpy(self, x4, out4, idx4, extra):
        xp = array_module(x4)
        N, C, H, W = x4.shape
        oh, ow = out4.shape[2:]
        if out4.size == 0:
            return
        # (_forward_fields pools batch-last only without padding; an output of one number per plane, C = oh = ow = 1,
        # looks batch-last whatever its layout, and its windows need the padding too)
        last = kernels.batch_last(out4) and not (self.padW or self.padH or any(extra))
        if last:     # work on the memory-order views (C, H, W, N): all contiguous
            x4, out4, idx4 = kernels.memory_view(x4), kernels.memory_view(out4), kernels.memory_view(idx4)
            dH, dW = self.dH, self.dW
            wins = [x4[:, ky:ky + (oh - 1) * dH + 1:dH, kx:kx + (ow - 1) * dW + 1:dW]
                    for ky in range(self.kH) for kx in range(self.kW)]
        else:
            xpad = self._padded(x4, extra, -np.inf)
            wins = [self._window(xpad, ky, kx, oh, ow) for ky in range(self.kH) for kx in range(self.kW)]
        if last and xp is np and len(wins) == 4 and self.kW == 2 and self._max_2x2(wins, out4, W):
            return self._code_done(H, W, oh, ow, out4, idx4, last)
        # the max: np.maximum (faster than fmax), no fill (2x2 pooling is 3 passes, as hand-written numpy); where
        # a NaN came through, again with fmax: NaNs are never picked (THNN's `val > maxval`), all-NaN gives -inf
        _max_of(xp, xp.maximum, wins, out4)
        lo = float(out4.min())
        nan_free = lo == lo
        if lo != lo:
            _max_of(xp, xp.fmax, wins, out4)
            lo = float(out4.min())
            if lo != lo:
                xp.copyto(out4, -np.inf, where=xp.isnan(out4))
        # the winner's in-plane offset from its window's origin, ky * W + kx for the first offset (ky, kx) in
        # row-major order holding the max (the code), without masked writes (slow in numpy): with d_k the offsets
        # and a_k = "none of windows 0..k holds the max" (a running product of v_j != max),
        # code = sum_k a_k * (d_{k+1} - d_k); the index is then the window's origin plus the code (one pass)
        deltas = [ky * W + kx for ky in range(self.kH) for kx in range(self.kW)]
        code = self._buffer('_code', out4.shape, dtype=_code_dtype(deltas[-1]))
        ct = code.dtype.type
        ne = self._bools('_mask', out4.shape)
        run = self._bools('_mask2', out4.shape)
        if len(wins) == 1:
            code.fill(0)
        for k, w in enumerate(wins[:-1]):
            if k == 0:
                xp.not_equal(w, out4, out=run)
            else:
                xp.not_equal(w, out4, out=ne)
                run &= ne
            step = deltas[k + 1] - deltas[k]
            if k == 0:
                xp.multiply(run, ct(step), out=code)
            elif step == 1 and code.dtype == np.uint8:
                code += run.view(np.uint8)
            else:
                tmp = self._buffer('_code_tmp', out4.shape, dtype=code.dtype)
                xp.multiply(run, ct(step), out=tmp)
                code += tmp
        if lo != lo or lo == -np.inf:    # windows with nothing above -inf (empty in ceil mode, all NaN/-inf)
            base = self._base(H, W, oh, ow)
            xp.add(code, base[:, :, None] if last else base, out=idx4)
            xp.equal(out4, -np.inf, out=ne)
            xp.copyto(idx4, -1, where=ne)
            return
        # a NaN lost its window: a Tanh's or Sigmoid's derivative there is NaN, which _fold_backward does not see
        self._nan_lost = not nan_free
        self._code_done(H, W, oh, ow, out4, idx4, last)

    def _code_done(self, H, W, oh, ow, out4, idx4, last, keep_max=True):
        """The kept code is complete (no special windows): the backward may route by it (see _routable) while
        these indices stand; the indices are written now or left pending.  In training (and ``keep_max``), a copy of
        the maxima is kept for _fold_backward (``_pmax_kept``, None otherwise: the next module may change the output
        in place)."""
        self._code_of, self._code_hw = self.__dict__['indices']._a, (H, W)
        if self.train and keep_max:
            self._pmax_kept = self._buffer('_pmax', out4.shape)
            np.copyto(self._pmax_kept, out4)
        if self.__dict__.get('_defer'):
            self._idx_pending = (H, W, oh, ow, last)
            return
        base = self._base(H, W, oh, ow)
        np.add(self.__dict__['_code'], base[:, :, None] if last else base, out=idx4)

    def _max_2x2(self, wins, out, W):
        """2x2 windows in memory order (CPU): the max and the code of the first maximum, reading the strided windows
        six times (the general path: seven; hand-written numpy's max alone: four); the planes may be split over
        threads (backend/parallel.py, off by default).  Each row's max and whether its first number falls short of
        it (its second is then strictly larger); then the two rows compared where they lie contiguous: the first
        maximum in row-major order is in the bottom row only if that row's max is strictly larger.  False (nothing
        kept) when a NaN or an all -inf window came through: the general path then runs."""
        top = self._buffer('_top', out.shape)
        row = self._bools('_mask', out.shape)
        col = self._bools('_mask2', out.shape)
        col_b = self._bools('_mask3', out.shape)
        code = self._buffer('_code', out.shape, dtype=_code_dtype(W + 1))
        wt = code.dtype.type(W)
        special = []

        def planes(lo, hi):
            s = slice(lo, hi)
            w0, w1, w2, w3 = (w[s] for w in wins)
            t, o, r, c, cb, k = top[s], out[s], row[s], col[s], col_b[s], code[s]
            np.maximum(w0, w1, out=t)
            np.maximum(w2, w3, out=o)               # (the bottom row's max, for now)
            np.greater(o, t, out=r)
            np.not_equal(w0, t, out=c)
            np.not_equal(w2, o, out=cb)
            np.maximum(t, o, out=o)
            least = float(o.min())
            if least != least or least == -np.inf:
                special.append(True)
                return
            np.not_equal(c, cb, out=cb)             # c ^ cb ...
            cb &= r
            cb ^= c                                 # ... so cb = the bottom's bit where r, else the top's
            np.multiply(r.view(np.uint8), wt, out=k)
            k += cb.view(np.uint8)

        parallel.run(planes, out.shape[0], 4 * out.size)
        return not special

    def updateGradInput(self, input, gradOutput):
        x, g, x4, batched = _spatial_grad_args(self, input, gradOutput)
        oh, ow, extra = self._sizes(x4, x.shape)
        check_grad_size(self, g, self._output_shape(x, oh, ow))
        routable = self._routable(x4, extra, batched, g)
        if routable is not None:
            code, last, g4 = routable
            self.__dict__.pop('_gi_pending', None)      # (written now; after the checks: arguments that raise leave it)
            gi = field_like(self, 'gradInput', x) if batched else field_out(self, 'gradInput', x.shape)
            self._route(code, g4, _in_code_order(gi, last), last, x4.shape)
            return self.gradInput
        self._fill_indices()
        return _grad_to_max(self, x, g, batched, self.dW >= self.kW and self.dH >= self.kH,
                            gpu_pool.max_pool_backward, (self.kH, self.kW), (self.dH, self.dW),
                            (self.padH, self.padW))

    def _routable(self, x4, extra, batched, g):
        """(code, last, g4) when the CPU backward may route gradOutput ``g`` by the forward's code (the winner's
        offset, kept with the ``indices`` it made) -- windows that do not overlap, no padding, code and indices of
        this input size -- else None.  ``last``: the code is batch-last; ``g4``: ``g`` in the code's order
        (_in_code_order).  (Only the CPU forward keeps a code -- ``_code_of`` -- so this never applies on CUDA.)"""
        d = self.__dict__
        code, of = d.get('_code'), d.get('_code_of')
        if (of is None or of is not _long_field(self, 'indices')._a or self.padW or self.padH or any(extra)
                or self.dW < self.kW or self.dH < self.kH or code is None or d.get('_code_hw') != x4.shape[2:]):
            return None
        last = batched and kernels.batch_last(of)
        g4 = _in_code_order(g, last)
        return (code, last, g4) if g4.shape == code.shape else None

    def _route(self, code, g4, gi4, last, shape4, keep=None):
        """gi4's window at kernel offset j gets g4 where ``code`` (see _routable) is j -- the gradient to each
        window's first maximum, one pass per offset, no int64 scatter -- and 0 where no window reaches.  All three
        in the code's order (_in_code_order); ``shape4``: the input's 4-D size.  ``keep`` (bools in the code's
        order, or None): g4 goes to offset 0 only where it is True, elsewhere g4 times 0 -- the numbers of g4 times
        ``keep`` routed, when no other code comes where ``keep`` is False (_fold_backward's ReLU case)."""
        oh, ow = code.shape[1:3] if last else code.shape[2:]
        if self.dH != self.kH or self.dW != self.kW or oh * self.dH != shape4[2] or ow * self.dW != shape4[3]:
            gi4.fill(0)      # parts no window covers
        mask = self._bools('_mask', code.shape)     # (the forward's scratch, done with)
        dH, dW, W = self.dH, self.dW, shape4[3]
        sp = () if last else (slice(None),)
        wins = [(code.dtype.type(ky * W + kx), gi4[sp + (slice(None), slice(ky, ky + (oh - 1) * dH + 1, dH),
                                                         slice(kx, kx + (ow - 1) * dW + 1, dW))])
                for ky in range(self.kH) for kx in range(self.kW)]

        def planes(lo, hi):         # (over the outer dim: the planes of the memory-order views, else the batch)
            s = slice(lo, hi)
            k, m, gs = code[s], mask[s], g4[s]
            for c, win in wins:
                np.equal(k, c, out=m)
                if keep is not None and not c:
                    m &= keep[s]
                np.multiply(gs, m, out=win[s])

        parallel.run(planes, code.shape[0], gi4.size)

    def _fold_backward(self, prev, xt, gradOutput):
        """Sequential.backward over [prev, this] when prev is an element-wise module whose derivative at a window's
        maximum follows from the pooled maximum p (``_folds_into_max``: ReLU, Threshold, Tanh, Sigmoid) right before
        this pooling: prev's gradInput is prev's own backward evaluated on the pooled values -- gradOutput times
        f'(p) -- sent to each window's first maximum.  These are the numbers of this module's backward followed by
        prev's (at a window's maximum both give gradOutput times f'(p); elsewhere gradOutput times 0 times a finite,
        non-negative f': the same zeros, signs and NaNs), without the full-size pass of either: this module's
        gradInput is left pending (see LazyField), written from a copy of gradOutput when read.  Returns
        prev.gradInput, or None when the fold does not apply (each module's backward then runs): not the CPU code
        path of the last forward, prev's input or output not the arrays of that forward, a gradInput held outside,
        an instance's own passes, a subclass, or a Tanh's or Sigmoid's NaN that is no window's maximum (its f' is
        NaN there).

        Like Torch7's own modules, the fold takes the arrays of the last forward as they were: it assumes prev's
        input and output did not change between forward and backward."""
        d, pd = self.__dict__, prev.__dict__
        if (type(self) is not SpatialMaxPooling or not _folds_into_max(prev) or pd.get('inplace')
                or not d.keys().isdisjoint(_OWN_PASSES) or not pd.keys().isdisjoint(_OWN_PASSES)
                or (d.get('_pmax_kept') is None and (d.get('_above_kept') is None or pd.get('threshold') != 0
                                                      or pd.get('val') != 0))):
            return None
        y, pgi = pd['output']._a, pd.get('gradInput')     # (the array, not read: a pending output stays pending)
        x, gt = getattr(xt, '_a', None), self._coerce(gradOutput, 'gradOutput')
        if (d.get('_feeds_next') is not y or pd.get('_feeds_next') is not x or type(y) is not np.ndarray
                or pgi.__class__ is not prev._tcls or d.get('gradInput').__class__ is not self._tcls
                or pgi._s is gt._s or not _unheld(self, 'gradInput')):     # (no local reference to gradInput)
            return None
        g = gt._a
        x4, batched = _spatial_input(self, y)
        oh, ow, extra = self._sizes(x4, y.shape)
        check_grad_size(self, g, self._output_shape(y, oh, ow))
        routable = self._routable(x4, extra, batched, g)
        if routable is None:
            return None
        code, last, g4 = routable
        # a NaN in prev's output where no window's maximum is: Tanh's or Sigmoid's derivative there is NaN, and the two
        # backwards give gradOutput 0 times NaN, where the route writes 0 (a ReLU's derivative is 0 or 1 everywhere)
        if (type(prev) is Tanh or type(prev) is Sigmoid) and (
                d.get('_nan_lost') or _uncovered_nan(x4, self.kH, self.kW, self.dH, self.dW, oh, ow)):
            return None
        gk = self._buffer('_gi_g', code.shape)       # what this module's gradInput is made of when read
        np.copyto(gk, g4)
        np.copyto(self._buffer('_gi_code', code.shape, dtype=code.dtype), code)
        d['_gi_pending'] = (x4.shape, y.shape, last)
        pmax = d['_pmax_kept']
        if pmax is None:
            # after _pool_after, prev a ReLU: its derivative at the maxima, (max > 0), taken in the route (no pass of
            # its own): _pool_after set the code to 0 where it is False, and gk times 0 times the route's 0 or 1 is
            # gk times 0 (the same zeros, signs and NaNs)
            gp, keep = gk, d['_above_kept']
        else:
            gp, keep = self._buffer('_top', code.shape), None       # (forward scratch)
            prev._df(np, pmax, pmax, gk, gp)        # prev's own backward pass on the pooled values
        self._route(code, gp, _in_code_order(field_like(prev, 'gradInput', x), last), last, x4.shape, keep)
        return prev.gradInput

    def _fill_gradInput(self):
        """Write the gradInput a fold (_fold_backward) left pending."""
        d = self.__dict__
        pending = d.pop('_gi_pending', None)
        if pending is None:
            return
        shape4, shape, last = pending
        gi = batch_last_field(self, 'gradInput', shape) if last else field_out(self, 'gradInput', shape)
        self._route(d['_gi_code'], d['_gi_g'], _in_code_order(gi, last), last, shape4)

    def clearState(self):
        self.indices = long_info(self).tensor_class()
        return super().clearState()


class SpatialAveragePooling(_Pool2d):
    """SpatialAveragePooling(kW, kH, dW=1, dH=1, padW=0, padH=0): the mean over each window.  The divisor counts
    the padding (``count_include_pad``, default; ``setCountExcludePad()`` counts input pixels only) but never the
    overhang past the right/bottom padding in ceil mode.  ``divide=False`` (old Torch7 files) gives sums."""
    # defaults for fields a .t7 file may lack (Lua's nil: ``divide`` nil means sums, as Torch7's updateOutput)
    count_include_pad = True
    divide = False

    def __init__(self, kW, kH, dW=1, dH=1, padW=0, padH=0):
        super().__init__('nn.SpatialAveragePooling', kW, kH, dW, dH, padW, padH)
        self.count_include_pad = True
        self.divide = True

    def setCountIncludePad(self):
        self.count_include_pad = True
        return self

    def setCountExcludePad(self):
        self.count_include_pad = False
        return self

    def _check_small(self, H, W, shape):
        if not (W >= self.kW - 2 * self.padW and H >= self.kH - 2 * self.padH):
            raise ValueError(f"{self!r}: input image (H: {H}, W: {W}) smaller than kernel size (kH: {self.kH} "
                             f"kW: {self.kW}) with padding (padH: {self.padH} padW: {self.padW}); input of size "
                             f"{sizestr(shape)}")

    def _divisor(self, H, W, oh, ow):
        """(oh, ow) array of THNN's divide_factor for each output position (cached)."""
        key = (H, W, oh, ow, self.kH, self.kW, self.dH, self.dW, self.padH, self.padW,
               bool(self.count_include_pad), self._tinfo.name)
        cache = self.__dict__.get('_div_cache')
        if cache is None or cache[0] != key:
            def counts(n, o, k, d, p):
                start = np.arange(o) * d - p
                end = np.minimum(start + k, n + p)
                if self.count_include_pad:
                    return end - start
                return np.minimum(end, n) - np.maximum(start, 0)
            div = counts(H, oh, self.kH, self.dH, self.padH)[:, None] * counts(W, ow, self.kW, self.dW,
                                                                               self.padW)[None, :]
            div = backend.to_device(div.astype(self._tinfo.dtype), self._tinfo.cuda)
            self.__dict__['_div_cache'] = cache = (key, div)
        return cache[1]

    def _count_mul(self):
        """gpu_pool.avg_pool's (count, mul): THNN's divisor, then the kernel size again for sums (divide=False)."""
        return ('padded' if self.count_include_pad else 'input'), (1 if self.divide else self.kW * self.kH)

    def updateOutput(self, input):
        x = self._coerce(input)._a
        x4, batched = _spatial_input(self, x)
        N, C, H, W = x4.shape
        oh, ow, extra = self._sizes(x4, x.shape)
        out = field_out(self, 'output', self._output_shape(x, oh, ow))
        out4 = out if batched else out[None]
        gpu_pool.avg_pool(x4, out4, (self.kH, self.kW), (self.dH, self.dW), (self.padH, self.padW),  # CUDA: 1 kernel
                          *self._count_mul(), self._avg_numpy, x4, out4, extra)
        return self.output

    def _avg_numpy(self, x4, out4, extra):
        N, C, H, W = x4.shape
        oh, ow = out4.shape[2:]
        xpad = self._padded(x4, extra, 0)
        for ky in range(self.kH):
            for kx in range(self.kW):
                v = self._window(xpad, ky, kx, oh, ow)
                if ky == 0 and kx == 0:
                    out4[...] = v
                else:
                    out4 += v
        out4 /= self._divisor(H, W, oh, ow)
        if not self.divide:
            out4 *= self.kW * self.kH

    def updateGradInput(self, input, gradOutput):
        x, g, x4, batched = _spatial_grad_args(self, input, gradOutput)
        N, C, H, W = x4.shape
        oh, ow, extra = self._sizes(x4, x.shape)
        check_grad_size(self, g, self._output_shape(x, oh, ow))
        g4 = g if batched else g[None]
        gi = field_out(self, 'gradInput', x.shape)
        gi4 = gi if batched else gi[None]
        gpu_pool.avg_pool_backward(g4, gi4, (self.kH, self.kW), (self.dH, self.dW), (self.padH, self.padW),
                                   *self._count_mul(), self._avg_grad_numpy, g4, gi4, extra)   # CUDA: one kernel
        return self.gradInput

    def _avg_grad_numpy(self, g4, gi4, extra):
        N, C, H, W = gi4.shape
        oh, ow = g4.shape[2:]
        gd = self._buffer('_gdiv', g4.shape)
        array_module(g4).divide(g4, self._divisor(H, W, oh, ow), out=gd)
        if not self.divide:
            gd *= self.kW * self.kH
        Hp, Wp = H + 2 * self.padH + extra[0], W + 2 * self.padW + extra[1]    # the forward's padded extent
        direct = (Hp, Wp) == (H, W)
        acc = gi4 if direct else self._buffer('_gpad', (N, C, Hp, Wp))
        acc.fill(0)
        for ky in range(self.kH):
            for kx in range(self.kW):
                self._window(acc, ky, kx, oh, ow)[...] += gd
        if not direct:
            gi4[...] = acc[:, :, self.padH:self.padH + H, self.padW:self.padW + W]


# -- adaptive pooling ------------------------------------------------------------------------------------
def _adaptive_bounds(n_in, n_out):
    """(start, end) int arrays of THNN's adaptive windows: [floor(i*in/out), ceil((i+1)*in/out))."""
    i = np.arange(n_out, dtype=np.int64)
    start = (i * n_in) // n_out
    end = -((-(i + 1) * n_in) // n_out)
    return start, end


class _Adaptive(Module):
    def __init__(self, W, H):
        super().__init__()
        for n, v in (('W', W), ('H', H)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
                raise ValueError(f"{self.__torch_name__}: output {n} must be a positive integer, got {v!r}")
        self.W = W
        self.H = H


class SpatialAdaptiveMaxPooling(_Adaptive):
    """SpatialAdaptiveMaxPooling(W, H): max pooling to a fixed H x W output whatever the input size, with THNN's
    windows ``[floor(i*in/out), ceil((i+1)*in/out))``.  ``indices`` as SpatialMaxPooling (ties: the first
    maximum in row-major window order; values <= -FLT_MAX are never picked, as THNN)."""
    _lua_index_fields = ('indices',)

    def _gathers(self, H, W):
        """(rows, cols): per step t, on the module's device, the row (column) each window reads at its t-th
        position; past a window's end it repeats its last one (cached)."""
        key = (H, W, self.H, self.W, self._tinfo.cuda)
        cache = self.__dict__.get('_gather_cache')
        if cache is None or cache[0] != key:
            dev = self._tinfo.cuda

            def steps(n_in, n_out):
                s, e = _adaptive_bounds(n_in, n_out)
                return [backend.to_device(np.minimum(s + t, e - 1), dev) for t in range(int((e - s).max()))]
            self.__dict__['_gather_cache'] = cache = (key, steps(H, self.H), steps(W, self.W))
        return cache[1], cache[2]

    def updateOutput(self, input):
        x = self._coerce(input)._a
        x4, batched = _spatial_input(self, x)
        shape = x.shape[:-2] + (self.H, self.W)
        out = field_out(self, 'output', shape)
        idx = resized(_long_field(self, 'indices'), shape)
        out4, idx4 = (out, idx) if batched else (out[None], idx[None])
        gpu_pool.adaptive_max_pool(x4, out4, idx4, self._max_numpy, x4, out4, idx4)    # CUDA: one kernel
        return self.output

    def _max_numpy(self, x4, out4, idx4):
        xp = array_module(x4)
        N, C, H, W = x4.shape
        oh, ow = self.H, self.W
        rows, cols = self._gathers(H, W)
        nw, nh = len(cols), len(rows)
        # pass 1, along W: each row's max over each column window, and the first column holding it
        m1 = self._buffer('_m1', (N, C, H, ow))
        v1 = self._buffer('_v1', (N, C, H, ow))
        eq1 = self._bools('_eq1', (N, C, H, ow))
        c1 = self._buffer('_c1', (N, C, H, ow), long_info(self))
        t1 = self._buffer('_t1', (N, C, H, ow), long_info(self))
        m1.fill(_NEG_FLT_MAX)                 # THNN starts from -FLT_MAX and keeps strictly larger values
        for t in range(nw):
            take_into(x4, cols[t], v1, axis=3)
            xp.fmax(m1, v1, out=m1)
        c1.fill(-1)
        for t in range(nw - 1, -1, -1):       # reverse sweep: c1 = (v_t == max) ? column_t : c1
            take_into(x4, cols[t], v1, axis=3)
            xp.equal(v1, m1, out=eq1)
            xp.subtract(c1, cols[t], out=t1)
            t1 *= eq1
            c1 -= t1
        # pass 2, along H: the first row whose max is the largest -> the row-major first maximum
        v2 = self._buffer('_v2', (N, C, oh, ow))
        eq2 = self._bools('_eq2', (N, C, oh, ow))
        r2 = self._buffer('_r2', (N, C, oh, ow), long_info(self))
        c2 = self._buffer('_c2', (N, C, oh, ow), long_info(self))
        t2 = self._buffer('_t2', (N, C, oh, ow), long_info(self))
        out4.fill(_NEG_FLT_MAX)
        for t in range(nh):
            take_into(m1, rows[t], v2, axis=2)
            xp.fmax(out4, v2, out=out4)
        r2.fill(-1)
        c2.fill(-1)
        for t in range(nh - 1, -1, -1):
            take_into(m1, rows[t], v2, axis=2)
            xp.equal(v2, out4, out=eq2)
            xp.subtract(r2, rows[t][:, None], out=t2)
            t2 *= eq2
            r2 -= t2
            take_into(c1, rows[t], t2, axis=2)
            xp.subtract(c2, t2, out=t2)
            t2 *= eq2
            c2 -= t2
        xp.multiply(r2, W, out=idx4)
        idx4 += c2
        if float(out4.min()) <= _NEG_FLT_MAX:  # nothing above -FLT_MAX in a window: no position (THNN: -1)
            xp.less_equal(out4, _NEG_FLT_MAX, out=eq2)
            xp.copyto(idx4, -1, where=eq2)

    def updateGradInput(self, input, gradOutput):
        x, g, _, batched = _spatial_grad_args(self, input, gradOutput)
        check_grad_size(self, g, x.shape[:-2] + (self.H, self.W))
        return _grad_to_max(self, x, g, batched, False, gpu_pool.adaptive_max_pool_backward)

    def clearState(self):
        if 'indices' in self.__dict__:
            self.indices = long_info(self).tensor_class()
        return super().clearState()


class SpatialAdaptiveAveragePooling(_Adaptive):
    """SpatialAdaptiveAveragePooling(W, H): average pooling to a fixed H x W output, over THNN's windows
    ``[floor(i*in/out), ceil((i+1)*in/out))`` (sum / kW / kH)."""

    def _mats(self, H, W):
        """(Ah, AwT, kh, kw): 0/1 window matrices Ah (oh x H) and Aw^T (W x ow) and the window sizes."""
        key = (H, W, self.H, self.W, self._tinfo.name)
        cache = self.__dict__.get('_mats_cache')
        if cache is None or cache[0] != key:
            mats = []
            for n, o in ((H, self.H), (W, self.W)):
                s, e = _adaptive_bounds(n, o)
                pos = np.arange(n)
                m = ((pos[None, :] >= s[:, None]) & (pos[None, :] < e[:, None])).astype(self._tinfo.dtype)
                mats.append((m, (e - s).astype(self._tinfo.dtype)))
            (ah, kh), (aw, kw) = mats
            dev = self._tinfo.cuda
            cache = (key, backend.to_device(ah, dev), backend.to_device(np.ascontiguousarray(aw.T), dev),
                     backend.to_device(kh[:, None], dev), backend.to_device(kw, dev), backend.to_device(aw, dev),
                     backend.to_device(np.ascontiguousarray(ah.T), dev))
            self.__dict__['_mats_cache'] = cache
        return cache[1:]

    def updateOutput(self, input):
        x = self._coerce(input)._a
        x4, batched = _spatial_input(self, x)
        out = field_out(self, 'output', x.shape[:-2] + (self.H, self.W))
        out4 = out if batched else out[None]
        gpu_pool.adaptive_avg_pool(x4, out4, self._avg_numpy, x4, out4)     # CUDA: one kernel
        return self.output

    def _avg_numpy(self, x4, out4):
        H, W = x4.shape[2:]
        ah, awT, kh, kw, _, _ = self._mats(H, W)
        _separable(self, '_tmp', ah, x4, awT, out4)      # window sums
        if not math.isfinite(float(out4.sum())):
            # a NaN or inf times the 0s of the window matrices spread to the other windows of its rows and
            # columns: each window summed on its own, as THNN
            (hs, he), (ws, we) = _adaptive_bounds(H, self.H), _adaptive_bounds(W, self.W)
            for i in range(self.H):
                for j in range(self.W):
                    x4[:, :, hs[i]:he[i], ws[j]:we[j]].sum(axis=(2, 3), out=out4[:, :, i, j])
        out4 /= kw
        out4 /= kh

    def updateGradInput(self, input, gradOutput):
        x, g, x4, batched = _spatial_grad_args(self, input, gradOutput)
        check_grad_size(self, g, x.shape[:-2] + (self.H, self.W))
        gi = field_out(self, 'gradInput', x.shape)
        g4, gi4 = (g, gi) if batched else (g[None], gi[None])
        gpu_pool.adaptive_avg_pool_backward(g4, gi4, self._avg_grad_numpy, g4, gi4)     # CUDA: one kernel
        return self.gradInput

    def _avg_grad_numpy(self, g4, gi4):
        N, C, H, W = gi4.shape
        _, _, kh, kw, aw, ahT = self._mats(H, W)
        gs = self._buffer('_gs', (N, C, self.H, self.W))
        array_module(g4).divide(g4, kw, out=gs)
        gs /= kh
        _separable(self, '_gtmp', ahT, gs, aw, gi4)   # not '_tmp': another shape
        if not math.isfinite(float(gi4.sum())):
            # (as in _avg_numpy: each window's gradient added to its own window only, as THNN)
            (hs, he), (ws, we) = _adaptive_bounds(H, self.H), _adaptive_bounds(W, self.W)
            gi4.fill(0)
            for i in range(self.H):
                for j in range(self.W):
                    gi4[:, :, hs[i]:he[i], ws[j]:we[j]] += gs[:, :, i, j, None, None]


# -- softmax over planes ---------------------------------------------------------------------------------
class SpatialSoftMax(SoftMax):
    """SoftMax over the planes at each pixel of a 3-D (planes x h x w) or 4-D (batch x planes x h x w) input
    (Torch7's SpatialSoftMax runs THNN's SoftMax, which also takes 1-D and 2-D inputs)."""


class SpatialLogSoftMax(LogSoftMax):
    """LogSoftMax over the planes at each pixel (Torch7's SpatialLogSoftMax runs THNN's LogSoftMax)."""


# -- local response normalization ------------------------------------------------------------------------
class SpatialCrossMapLRN(Module):
    """SpatialCrossMapLRN(size, alpha=1e-4, beta=0.75, k=1): y = x * scale^-beta with
    scale = k + alpha / size * (sum of x^2 over the ``size`` neighbouring planes, clipped at the edges).

    The window of plane c is [c - (size-1)//2, c + size//2] (symmetric for odd sizes, as Torch7's CPU code; for
    even sizes it follows THCUNN's convention).  ``scale`` is kept (a Torch7 field) for the backward."""

    def __init__(self, size, alpha=0.0001, beta=0.75, k=1):
        super().__init__()
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"nn.SpatialCrossMapLRN: size must be a positive integer, got {size!r}")
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def _window_sum(self, src, out, pre, post):
        """out[:, c] = sum of src[:, c - pre .. c + post] (clipped), via a zero-padded copy of src."""
        N, C, H, W = src.shape
        pad = self._buffer('_pad', (N, C + pre + post, H, W))
        pad[:, :pre].fill(0)
        pad[:, pre + C:].fill(0)
        pad[:, pre:pre + C] = src
        out[...] = pad[:, 0:C]
        for o in range(1, pre + post + 1):
            out += pad[:, o:o + C]

    def updateOutput(self, input):
        x = self._coerce(input)._a
        x4, batched = _spatial_input(self, x)
        scale = field_out(self, 'scale', x4.shape)
        out = field_out(self, 'output', x.shape)
        out4 = out if batched else out[None]
        gpu_pool.cross_map_lrn(x4, scale, out4, self.size, self.alpha, self.beta, self.k,    # CUDA: one kernel
                               self._lrn_numpy, x4, scale, out4)
        return self.output

    def _lrn_numpy(self, x4, scale, out4):
        xp = array_module(x4)
        pre = (self.size - 1) // 2
        post = self.size - 1 - pre
        sq = self._buffer('_sq', x4.shape)
        xp.multiply(x4, x4, out=sq)
        self._window_sum(sq, scale, pre, post)
        scale *= self.alpha / self.size
        scale += self.k
        xp.power(scale, -self.beta, out=out4)
        out4 *= x4

    def updateGradInput(self, input, gradOutput):
        x, g, x4, batched = _spatial_grad_args(self, input, gradOutput)
        check_grad_size(self, g, x.shape)
        g4 = g if batched else g[None]
        scale = self.__dict__.get('scale')
        y = self.output._a
        if scale is None or scale._a.shape != x4.shape or y.shape != x.shape:
            self.updateOutput(input)
            scale, y = self.scale, self.output._a
        s = scale._a
        y4 = y if batched else y[None]
        gi = field_out(self, 'gradInput', x.shape)
        gi4 = gi if batched else gi[None]
        gpu_pool.cross_map_lrn_backward(x4, g4, y4, s, gi4, self.size, self.alpha, self.beta,   # CUDA: one kernel
                                        self._lrn_grad_numpy, x4, g4, y4, s, gi4)
        return self.gradInput

    def _lrn_grad_numpy(self, x4, g4, y4, s, gi4):
        xp = array_module(x4)
        pre = (self.size - 1) // 2
        post = self.size - 1 - pre
        # ratio = g * y / scale, summed over the planes whose window holds c: [c - post, c + pre]
        ratio = self._buffer('_ratio', x4.shape)
        xp.multiply(g4, y4, out=ratio)
        ratio /= s
        acc = self._buffer('_acc', x4.shape)
        self._window_sum(ratio, acc, post, pre)
        acc *= x4
        acc *= 2 * self.alpha * self.beta / self.size
        xp.power(s, -self.beta, out=gi4)
        gi4 *= g4
        gi4 -= acc

    def clearState(self):
        if 'scale' in self.__dict__:
            self.scale = self._tcls()
        return super().clearState()


def __getattr__(name):
    # the up-sampling layers were defined here before upsampling.py took them: pickles of that time name this
    # module.  Looked up on demand: upsampling.py imports this file, so importing it from here at load time fails
    # when upsampling.py is the first of the two imported (nn.PixelShuffle in a fresh process)
    if name in ('SpatialUpSamplingBilinear', 'SpatialUpSamplingNearest'):
        from . import upsampling
        return getattr(upsampling, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

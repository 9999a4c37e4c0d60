"""Convolutions (Torch7's nn): SpatialConvolution, SpatialConvolutionMM, SpatialFullConvolution,
SpatialDilatedConvolution, TemporalConvolution, VolumetricConvolution; and TemporalMaxPooling,
VolumetricMaxPooling, VolumetricAveragePooling.

Torch7's names, argument order, fields and weight layouts (so .t7 files load):

- SpatialConvolution / SpatialDilatedConvolution: weight nOutputPlane x nInputPlane x kH x kW;
  SpatialConvolutionMM: weight nOutputPlane x (nInputPlane*kH*kW) (a 4-D one, from another file, works too);
  SpatialFullConvolution: weight nInputPlane x nOutputPlane x kH x kW;
  VolumetricConvolution: weight nOutputPlane x nInputPlane x kT x kH x kW;
  TemporalConvolution: weight outputFrameSize x (kW*inputFrameSize), a window's frames one after the other.
- Inputs: C x H x W or a batch N x C x H x W (C x T x H x W or N x C x T x H x W for Volumetric*; nFrames x
  frameSize or N x nFrames x frameSize for Temporal*), as Torch7.

Each pass is one matrix product over the whole batch: the input is unfolded once into a column matrix (im2col,
luatorch_py/backend/kernels.py), multiplied by the weight, and the result copied into the output; the gradient
w.r.t. the input is folded back with col2im.  The columns made by updateOutput are kept and reused by
accGradParameters when it gets the same input array (Torch7's ``finput``), and the transposed gradOutput made by
updateGradInput is reused by the accGradParameters that follows with the same gradOutput.  Scratch arrays are
kept on the module (reallocated only when a size changes; on the CPU cache-line aligned).  What depends only on
the sizes -- the checks, the column layout, the strided views the copies and adds go through -- is worked out once
per input array and kept (``_hot_*`` fields, left out of copies) while the same array comes back with the same
size, strides and place in its Sequential and the module's geometry is unchanged.
"""
import numpy as np

from .. import backend
from ..backend import array_module, gpu_pool, kernels
from .linear import _WeightBias, _acc_bias, _acc_weight
from .module import Module, check_grad_size, long_info, owned_tensor, pair_grad, resized, sizestr
from .pooling import _CeilMode, _pooled_size
from ._layout import batch_last_field, contiguous_field, feeds_next, field_like

_INF = float('inf')


def _check_ints(name, **kw):
    for k, v in kw.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name}: {k} must be an int, got {v!r}")


def _positive(name, **kw):
    _check_ints(name, **kw)
    bad = {k: v for k, v in kw.items() if v <= 0}
    if bad:
        raise ValueError(f"{name}: {', '.join(bad)} must be > 0, got "
                         f"{', '.join(f'{k}={v}' for k, v in bad.items())}")


def _nonneg(name, **kw):
    _check_ints(name, **kw)
    bad = {k: v for k, v in kw.items() if v < 0}
    if bad:
        raise ValueError(f"{name}: {', '.join(bad)} must be >= 0, got "
                         f"{', '.join(f'{k}={v}' for k, v in bad.items())}")


def _x(sizes):
    return 'x'.join(str(s) for s in sizes)


def _view2d(t):
    """A parameter tensor's array seen as rows x everything-else, without a copy (parameters are contiguous)."""
    a = t._a
    if not a.flags.c_contiguous:      # a reshape would copy: the gradient would go nowhere
        raise ValueError(f"convolution parameter tensors must be contiguous, got one of size {sizestr(a.shape)} "
                         f"with strides {t._strides()}")
    return a.reshape(a.shape[0], -1)


class _Convolution(_WeightBias):
    """Channel-first convolutions over ``_nsd`` spatial dims (im2col + one matrix product per pass).

    Subclasses give the geometry (``_geom``: kernel, stride, padding, dilation per spatial dim, outermost first),
    the fan-in for ``reset`` and ``__repr__``."""
    _nsd = 2
    _dimnames = 'H x W'
    _force_layout = None   # 'nfirst' / 'nlast' to override kernels.choose_layout (tests)

    def _dilation(self):
        return (1,) * self._nsd

    def _layout(self, n, c, sizes, ksize, osize, nout, stride):
        return self._force_layout or kernels.choose_layout(n, c, sizes, ksize, osize, nout, stride)

    def _pass_layout(self, x, xb, osize, nout):
        """The column layout for input array ``x`` (batch view ``xb``): a batch-last pass hands its output on
        batch-last where the backend keeps it so (kernels.keeps_batch_last)."""
        if self._force_layout:
            return self._force_layout
        k, s, _ = self._geom()
        return kernels.choose_layout(xb.shape[0], xb.shape[1], xb.shape[2:], k, osize, nout, s,
                                     kernels.batch_last(xb), kernels.keeps_batch_last(x) and feeds_next(self, x))

    def _keep_last(self, x, layout):
        """Whether the output (and gradInput) of a pass over ``x`` in ``layout`` are batch-last arrays."""
        return (layout == 'nlast' and x.ndim == self._nsd + 2 and x.shape[0] > 1 and kernels.keeps_batch_last(x)
                and feeds_next(self, x))

    # -- shapes --------------------------------------------------------------------------------------------
    def _input(self, x):
        """(x as a batch N x C x *S, batched?, output sizes), or a ValueError naming the layer and the sizes."""
        nsd = self._nsd
        if x.ndim == nsd + 1:
            xb, batched = x[None], False
        elif x.ndim == nsd + 2:
            xb, batched = x, True
        else:
            raise ValueError(f"{self!r}: expected a {nsd + 1}-D input (nInputPlane x {self._dimnames}) or a "
                             f"{nsd + 2}-D batch (batch x nInputPlane x {self._dimnames}), got {sizestr(x.shape)}")
        nin = self.nInputPlane
        if xb.shape[1] != nin:
            raise ValueError(f"{self!r}: expected input with {nin} planes (dim {1 if batched else 0}), got "
                             f"{xb.shape[1]} in an input of size {sizestr(x.shape)}")
        if 0 in xb.shape[:2]:
            raise ValueError(f"{self!r}: got an empty input (size {sizestr(x.shape)}): expected at least one sample")
        k, s, p = self._geom()
        d = self._dilation()
        sizes = xb.shape[2:]
        osize = kernels.out_sizes(sizes, k, s, p, d)
        if min(osize) < 1:
            span = tuple(dd * (kk - 1) + 1 for kk, dd in zip(k, d))
            padded = tuple(ss + 2 * pp for ss, pp in zip(sizes, p))
            what = f"the kernel {_x(k)}" + (f" (dilated: {_x(span)})" if span != tuple(k) else "")
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} is too small: its {_x(sizes)} planes"
                             + (f" (padded: {_x(padded)})" if any(p) else "") + f" are smaller than {what}")
        return xb, batched, osize

    def _grad(self, gradOutput, want):
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, want)
        return g

    # -- per-input plans (Torch7 resizes its buffers only when a size changes; here the checks, the layout choice
    # and the views the copies go through are also made once per input array and size) ---------------------------
    def _plan(self, x):
        """(xb, batched, osize, layout, keep_last) for input array ``x``: ``_input``'s checks and sizes, the column
        layout and whether the output is batch-last (``_keep_last``); kept while the same array comes back with the
        same size and strides, place in its Sequential, weight size and geometry."""
        key = (x.shape, x.strides, x.dtype, feeds_next(self, x), self.weight._a.shape, self._geom(),
               self._dilation(), self._force_layout)
        kept = self.__dict__.get('_hot_plan')
        if kept is not None and kept[0] is x and kept[1] == key:
            return kept[2]
        xb, batched, osize = self._input(x)
        layout = self._pass_layout(x, xb, osize, self.weight._a.shape[0])
        plan = (xb, batched, osize, layout, self._keep_last(x, layout))
        self._hot_plan = (x, key, plan)
        return plan

    def _columns(self, x, plan, fresh):
        """The column matrix of input ``x``: made again when ``fresh`` (updateOutput: the array may hold new values)
        else the one updateOutput made when it had this array (Torch7's ``finput``), or new."""
        d = self.__dict__
        kept = d.get('_hot_cols')
        if kept is not None and kept[0] is x and kept[1] is plan:
            if not fresh and not d.get('_cols_spent'):
                return kept[3]
            d['_cols_spent'] = False
            return kept[2]()
        xb, _, _, layout, _ = plan
        k, s, p = self._geom()
        fill = kernels.im2col_plan(xb, k, s, p, self._dilation(), layout, self._buffer, '_cols')
        cols = fill()
        self._hot_cols = (x, plan, fill, cols)
        d['_cols_spent'] = False
        return cols

    def _spend_columns(self, x, plan, shape):
        """The forward's column matrix of ``x``, to be overwritten (by the gradInput's columns), when it lies in this
        module's own buffer (not a view of the input) with ``shape``; it is marked to be made again if the columns
        are asked for after.  None otherwise."""
        d = self.__dict__
        kept, buf = d.get('_hot_cols'), d.get('_cols')
        if (kept is None or kept[0] is not x or kept[1] is not plan or buf is None or kept[3].shape != shape
                or not np.may_share_memory(kept[3], buf) or array_module(buf) is not np):
            return None
        d['_cols_spent'] = True
        return kept[3]

    def _gradmat(self, g, gb, layout):
        """gradOutput (N, O, *O) as the matrix (O, N*L) in ``layout``: a view of a batch-last ``g`` (kept while the
        same array comes back), else a copy: the one updateGradInput made for this array (used once), or new."""
        d = self.__dict__
        view = d.get('_hot_gm')
        if view is not None and view[0] is g and view[1] == layout:
            return view[2]
        if d.get('_gm_of') is g and d.get('_gm_layout') == layout:
            self._gm_of = None
            return d['_gm']
        if layout == 'nlast' and kernels.batch_last(gb):       # already the (O, L*N) matrix
            gm = kernels.memory_view(gb).reshape(gb.shape[1], -1)
            self._hot_gm = (g, layout, gm)
            return gm
        gm = kernels.batch_to_cols(gb, layout, self._buffer('_gm', (gb.shape[1], gb[0, 0].size * gb.shape[0])))
        self._gm_of, self._gm_layout = g, layout      # (gm is the buffer '_gm': batch_to_cols returns its out)
        return gm

    def _fold(self, dcols, gi, plan):
        """col2im of ``dcols`` into array ``gi`` (the gradInput field) for input ``plan``: the folding kept while the
        same arrays come back."""
        kept = self.__dict__.get('_hot_fold')
        if kept is not None and kept[0] is dcols and kept[1] is gi and kept[2] is plan:
            return kept[3]()
        xb, _, _, layout, _ = plan
        k, s, p = self._geom()
        fold = kernels.col2im_plan(dcols, gi.reshape(xb.shape), k, s, p, self._dilation(), layout, self._buffer,
                                   '_col2im')
        self._hot_fold = (dcols, gi, plan, fold)
        return fold()

    def _batch_last_output(self, plan, shape):
        """The batch-last output field of ``shape`` (N, O, *O) seen as the matrix (O, *O*N) (kept while the field
        holds the same tensor and array)."""
        d = self.__dict__
        t, kept = d.get('output'), d.get('_hot_out')
        if kept is not None and kept[0] is plan and kept[1] is t and kept[2] is t._a:
            return kept[3]
        out = batch_last_field(self, 'output', shape)
        res = kernels.memory_view(out).reshape(shape[1], -1)
        self._hot_out = (plan, self.output, out, res)
        return res

    # -- the passes --------------------------------------------------------------------------------------------
    def updateOutput(self, input):
        x = self._coerce(input)._a
        plan = self._plan(x)
        xb, batched, osize, layout, keep_last = plan
        xp = array_module(x)
        w = _view2d(self.weight)
        n, nout = xb.shape[0], w.shape[0]
        cols = self._columns(x, plan, True)
        b = self.__dict__.get('bias')
        if w.shape[1] != cols.shape[0] or (b is not None and b._a.shape != (nout,)):
            # weight or bias set by hand to a size that does not fit the module's planes and kernel
            raise ValueError(f"{self!r}: weight of size {sizestr(self.weight._a.shape)} and bias of size "
                             f"{'none' if b is None else sizestr(b._a.shape)} do not fit: expected nOutputPlane x "
                             f"{cols.shape[0]} weights (nInputPlane x kernel) and one bias per output plane")
        if keep_last:     # the product is the batch-last output: no copy
            res = self._batch_last_output(plan, (n, nout) + osize)
            backend.matmul(w, cols, res)
            if 'bias' in self.__dict__:
                res += self.bias._a[:, None]
            return self.output
        res = self._buffer('_res', (nout, cols.shape[1]))
        backend.matmul(w, cols, res)
        out = contiguous_field(self, 'output', ((n,) if batched else ()) + (nout,) + osize)
        o3 = out.reshape(n, nout, -1)
        src = kernels.cols_to_batch(res, n, layout)
        if 'bias' in self.__dict__:
            xp.add(src, self.bias._a[:, None], out=o3)
        else:
            o3[...] = src
        return self.output

    def _backward_setup(self, input, gradOutput):
        x = self._coerce(input)._a
        plan = self._plan(x)
        xb, batched, osize = plan[:3]
        n = xb.shape[0]
        nout = self.weight._a.shape[0]
        g = self._grad(gradOutput, ((n,) if batched else ()) + (nout,) + osize)
        gb = g.reshape((n, nout) + osize)
        return x, plan, g, gb

    def backward(self, input, gradOutput, scale=1):
        # the gradients first (from the forward's columns), then the gradInput's columns written over those columns:
        # no second buffer of the columns' size (8 MB for LeNet's second layer at batch 64).  The two steps are
        # independent, so the order changes no value; a subclass or an instance defining either step takes Module's
        d = self.__dict__
        cls = type(self)
        if (cls.updateGradInput is not _Convolution.updateGradInput
                or cls.accGradParameters is not _Convolution.accGradParameters
                or 'updateGradInput' in d or 'accGradParameters' in d):
            return Module.backward(self, input, gradOutput, scale)
        # (a copy an updateGradInput alone kept is of the values the array held then: e.g. an input-gradient pass
        # before this training step, its gradOutput array reused with new values)
        self._gm_of = None
        self.accGradParameters(input, gradOutput, scale)
        gi = self._grad_input(input, gradOutput, True)
        self._gm_of = None      # (the copy of gradOutput it kept is for an accGradParameters to come: none is)
        return gi

    def updateGradInput(self, input, gradOutput):
        return self._grad_input(input, gradOutput, False)

    def _grad_input(self, input, gradOutput, spend):
        if self.gradInput is None:      # Torch7's idiom, as Linear
            return None
        x, plan, g, gb = self._backward_setup(input, gradOutput)
        self._gm_of = None         # made afresh (the array may hold new values), kept for accGradParameters
        gm = self._gradmat(g, gb, plan[3])
        w = _view2d(self.weight)
        shape = (w.shape[1], gm.shape[1])
        dcols = self._spend_columns(x, plan, shape) if spend else None
        if dcols is None:
            dcols = self._buffer('_dcols', shape)
        backend.matmul(w.T, gm, dcols)
        self._fold(dcols, field_like(self, 'gradInput', x), plan)      # batch-last when the input is
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, plan, g, gb = self._backward_setup(input, gradOutput)
        gm = self._gradmat(g, gb, plan[3])
        self._gm_of = None
        cols = self._columns(x, plan, False)
        _acc_weight(self, _view2d(self.__dict__['gradWeight']), gm, cols.T, scale)
        if 'bias' in self.__dict__:
            _acc_bias(self, gm, 1, scale)


class SpatialConvolution(_Convolution):
    """2-D convolution of ``nInputPlane`` planes into ``nOutputPlane``: a kW x kH kernel, steps dW, dH, zero
    padding padW, padH (padH defaults to padW, as Torch7).  Input C x H x W or N x C x H x W; output planes of
    floor((H + 2*padH - kH) / dH) + 1 by floor((W + 2*padW - kW) / dW) + 1.  weight: nOutputPlane x nInputPlane x
    kH x kW."""
    _lazy_zero_gw = True          # (see _WeightBias.zeroGradParameters)

    def __init__(self, nInputPlane, nOutputPlane, kW, kH, dW=1, dH=1, padW=0, padH=None):
        name = f"nn.{type(self).__name__}"
        padH = padW if padH is None else padH
        _positive(name, nInputPlane=nInputPlane, nOutputPlane=nOutputPlane, kW=kW, kH=kH, dW=dW, dH=dH)
        _nonneg(name, padW=padW, padH=padH)
        super().__init__()
        self.nInputPlane, self.nOutputPlane = nInputPlane, nOutputPlane
        self.kW, self.kH, self.dW, self.dH = kW, kH, dW, dH
        self.padW, self.padH = padW, padH
        shape = self._weight_shape()
        self.weight = self._tcls(*shape)
        self.bias = self._tcls(nOutputPlane)
        self.gradWeight = self._tcls(*shape)
        self.gradBias = self._tcls(nOutputPlane)
        self.reset()

    def _weight_shape(self):
        return (self.nOutputPlane, self.nInputPlane, self.kH, self.kW)

    def _fan_in(self):
        return self.kW * self.kH * self.nInputPlane

    def _geom(self):
        d = self.__dict__
        if 'padW' not in d and 'padding' in d:      # files from before padW/padH (Torch7's backCompatibility)
            self.padW = self.padH = d.pop('padding')
        return (self.kH, self.kW), (self.dH, self.dW), (d.get('padH', 0), d.get('padW', 0))

    def _repr_core(self):
        s = f"{self.__torch_name__}({self.nInputPlane} -> {self.nOutputPlane}, {self.kW}x{self.kH}"
        _, _, (ph, pw) = self._geom()
        if self.dW != 1 or self.dH != 1 or pw != 0 or ph != 0:
            s += f", {self.dW},{self.dH}"
        if pw != 0 or ph != 0:
            s += f", {pw},{ph}"
        return s

    def __repr__(self):
        return self._repr_core() + ')' + self._bias_note()


class SpatialConvolutionMM(SpatialConvolution):
    """SpatialConvolution with Torch7's 2-D weight layout nOutputPlane x (nInputPlane*kH*kW) (same numbers in
    the same order; a 4-D weight loaded from a file works as well)."""
    _lazy_zero_gw = True          # (see _WeightBias.zeroGradParameters)

    def _weight_shape(self):
        return (self.nOutputPlane, self.nInputPlane * self.kH * self.kW)


class SpatialDilatedConvolution(SpatialConvolution):
    """SpatialConvolution whose kernel taps are ``dilationW``/``dilationH`` apart (output planes of
    floor((H + 2*padH - (dilationH*(kH-1)+1)) / dH) + 1 rows)."""
    _lazy_zero_gw = True          # (see _WeightBias.zeroGradParameters)

    def __init__(self, nInputPlane, nOutputPlane, kW, kH, dW=1, dH=1, padW=0, padH=None, dilationW=1,
                 dilationH=1):
        _positive('nn.SpatialDilatedConvolution', dilationW=dilationW, dilationH=dilationH)
        super().__init__(nInputPlane, nOutputPlane, kW, kH, dW, dH, padW, padH)
        self.dilationW, self.dilationH = dilationW, dilationH

    def _dilation(self):
        d = self.__dict__
        return d.get('dilationH', 1), d.get('dilationW', 1)

    def __repr__(self):
        dh, dw = self._dilation()
        return self._repr_core() + f", {dw},{dh})" + self._bias_note()


class VolumetricConvolution(_Convolution):
    """3-D convolution: kernel kT x kW x kH, steps dT, dW, dH, zero padding padT, padW, padH (padW defaults to
    padT, padH to padW, as Torch7).  Input C x T x H x W or N x C x T x H x W.  weight: nOutputPlane x
    nInputPlane x kT x kH x kW."""
    _lazy_zero_gw = True          # (see _WeightBias.zeroGradParameters)
    _nsd = 3
    _dimnames = 'T x H x W'

    def __init__(self, nInputPlane, nOutputPlane, kT, kW, kH, dT=1, dW=1, dH=1, padT=0, padW=None, padH=None):
        name = 'nn.VolumetricConvolution'
        padW = padT if padW is None else padW
        padH = padW if padH is None else padH
        _positive(name, nInputPlane=nInputPlane, nOutputPlane=nOutputPlane, kT=kT, kW=kW, kH=kH, dT=dT, dW=dW,
                  dH=dH)
        _nonneg(name, padT=padT, padW=padW, padH=padH)
        super().__init__()
        self.nInputPlane, self.nOutputPlane = nInputPlane, nOutputPlane
        self.kT, self.kW, self.kH = kT, kW, kH
        self.dT, self.dW, self.dH = dT, dW, dH
        self.padT, self.padW, self.padH = padT, padW, padH
        shape = (nOutputPlane, nInputPlane, kT, kH, kW)
        self.weight = self._tcls(*shape)
        self.bias = self._tcls(nOutputPlane)
        self.gradWeight = self._tcls(*shape)
        self.gradBias = self._tcls(nOutputPlane)
        self.reset()

    def _fan_in(self):
        return self.kT * self.kW * self.kH * self.nInputPlane

    def _geom(self):
        d = self.__dict__
        return ((self.kT, self.kH, self.kW), (self.dT, self.dH, self.dW),
                (d.get('padT', 0), d.get('padH', 0), d.get('padW', 0)))

    def __repr__(self):
        s = f"{self.__torch_name__}({self.nInputPlane} -> {self.nOutputPlane}, {self.kT}x{self.kW}x{self.kH}"
        _, _, (pt, ph, pw) = self._geom()
        if self.dT != 1 or self.dW != 1 or self.dH != 1 or pt or pw or ph:
            s += f", {self.dT},{self.dW},{self.dH}"
        if pt or pw or ph:
            s += f", {pt},{pw},{ph}"
        return s + ')'      # no ' without bias' after noBias(): Torch7's VolumetricConvolution prints none


class SpatialFullConvolution(_Convolution):
    """The transpose of SpatialConvolution ("deconvolution"): output planes of (H-1)*dH - 2*padH + kH + adjH by
    (W-1)*dW - 2*padW + kW + adjW.  weight: nInputPlane x nOutputPlane x kH x kW.

    As in Torch7 the input may also be a list ``[input, target]``: adjW/adjH then come from the size of
    ``target`` (its last two dims), and gradInput is ``[gradInput, zeros of target's size]``."""
    _lazy_zero_gw = True          # (see _WeightBias.zeroGradParameters)

    def __init__(self, nInputPlane, nOutputPlane, kW, kH, dW=1, dH=1, padW=0, padH=0, adjW=0, adjH=0):
        name = 'nn.SpatialFullConvolution'
        _positive(name, nInputPlane=nInputPlane, nOutputPlane=nOutputPlane, kW=kW, kH=kH, dW=dW, dH=dH)
        _nonneg(name, padW=padW, padH=padH, adjW=adjW, adjH=adjH)
        if adjW > dW - 1 or adjH > dH - 1:
            raise ValueError(f"{name}: adjW and adjH must be smaller than dW and dH respectively, got "
                             f"adjW={adjW}, adjH={adjH}, dW={dW}, dH={dH}")
        super().__init__()
        self.nInputPlane, self.nOutputPlane = nInputPlane, nOutputPlane
        self.kW, self.kH, self.dW, self.dH = kW, kH, dW, dH
        self.padW, self.padH, self.adjW, self.adjH = padW, padH, adjW, adjH
        self.weight = self._tcls(nInputPlane, nOutputPlane, kH, kW)
        self.gradWeight = self._tcls(nInputPlane, nOutputPlane, kH, kW)
        self.bias = self._tcls(nOutputPlane)
        self.gradBias = self._tcls(nOutputPlane)
        # Torch7's buffer (Lua's backward of an [input, target] input resizes it: kept so that Lua can run a saved
        # module)
        self.ones = self._tcls()
        self.reset()

    def _fan_in(self):
        return self.kW * self.kH * self.nInputPlane

    def _geom(self):
        return (self.kH, self.kW), (self.dH, self.dW), (self.padH, self.padW)

    _adj_fields = ('adjH', 'adjW')       # outermost spatial dim first, as _geom
    _unit = 'planes'

    def _split(self, input, gradOutput=None):
        """(input array, its batch view, batched?, output sizes (*S), target array or None); over ``_nsd``
        spatial dims (VolumetricFullConvolution borrows it)."""
        nsd = self._nsd
        target = None
        if isinstance(input, (list, tuple)):
            if len(input) != 2:
                raise TypeError(f"{self!r}: a table input must be [input, target], got a list of {len(input)}")
            t = input[1]
            target = t._a if hasattr(t, '_a') else np.asarray(t)
            if target.ndim < nsd:
                raise ValueError(f"{self!r}: the target of a table input needs {nsd} or more dims, got "
                                 f"{sizestr(target.shape)}")
            input = input[0]
        x = self._coerce(input)._a
        if x.ndim == nsd + 1:
            xb, batched = x[None], False
        elif x.ndim == nsd + 2:
            xb, batched = x, True
        else:
            raise ValueError(f"{self!r}: expected a {nsd + 1}-D input (nInputPlane x {self._dimnames}) or a "
                             f"{nsd + 2}-D batch (batch x nInputPlane x {self._dimnames}), got {sizestr(x.shape)}")
        if xb.shape[1] != self.nInputPlane:
            raise ValueError(f"{self!r}: expected input with {self.nInputPlane} planes (dim {1 if batched else 0}), "
                             f"got {xb.shape[1]} in an input of size {sizestr(x.shape)}")
        if 0 in xb.shape[:2]:
            raise ValueError(f"{self!r}: got an empty input (size {sizestr(x.shape)}): expected at least one sample")
        k, s, p = self._geom()
        d = self.__dict__
        if target is not None:      # Torch7's calculateAdj (Lua's % is a floored modulo, as Python's)
            adj = tuple((target.shape[target.ndim - nsd + i] + 2 * p[i] - k[i]) % s[i] for i in range(nsd))
        else:
            adj = tuple(d.get(f, 0) for f in self._adj_fields)
            # (set by hand after __init__'s check, or read from a file: Torch7's THNN checks it on every call)
            bad = [f"{f}={a} (d{f[3:]}={ss})" for f, a, ss in zip(self._adj_fields, adj, s) if not 0 <= a < ss]
            if bad:
                raise ValueError(f"{self!r}: expected output adjustments >= 0 and smaller than their strides, got "
                                 f"{', '.join(bad)}")
        osize = tuple((xb.shape[2 + i] - 1) * s[i] - 2 * p[i] + k[i] + adj[i] for i in range(nsd))
        if min(osize) < 1:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} gives an output of {_x(osize)} "
                             f"{self._unit}: too small (the padding {','.join(map(str, p[::-1]))} removes more "
                             f"than the kernel adds)")
        return x, xb, batched, osize, target

    def _layout2(self, xb, osize):
        k, s, _ = self._geom()
        return self._layout(xb.shape[0], self.nOutputPlane, osize, k, xb.shape[2:], self.nInputPlane, s)

    def _xmat(self, x, xb, layout):
        """The input as the matrix (nInputPlane, N*H*W) in ``layout`` (kept from updateOutput for the same array)."""
        if self.__dict__.get('_xm_of') is x and self.__dict__.get('_xm_layout') == layout:
            return self.__dict__['_xm']
        xm = kernels.batch_to_cols(xb, layout, self._buffer('_xm', (xb.shape[1], xb[0, 0].size * xb.shape[0])))
        self._xm_of, self._xm_layout = x, layout
        return xm

    def updateOutput(self, input):
        x, xb, batched, osize, _ = self._split(input)
        xp = array_module(x)
        n, nout = xb.shape[0], self.nOutputPlane
        layout = self._layout2(xb, osize)
        self._xm_of = None
        xm = self._xmat(x, xb, layout)
        w = _view2d(self.weight)                          # (nIn, nOut*kH*kW)
        cols = self._buffer('_cols', (w.shape[1], xm.shape[1]))
        backend.matmul(w.T, xm, cols)
        out = resized(self.output, ((n,) if batched else ()) + (nout,) + osize)
        ob = out.reshape((n, nout) + osize)
        k, s, p = self._geom()
        kernels.col2im(cols, ob, k, s, p, 1, layout, self._buffer, '_col2im')
        if 'bias' in self.__dict__:
            ob += self.bias._a.reshape((-1,) + (1,) * self._nsd)
        return self.output

    def _gradcols(self, g, gb, layout):
        if self.__dict__.get('_gc_of') is g and self.__dict__.get('_gc_layout') == layout:
            self._gc_of = None
            return self.__dict__['_gc_mat']
        k, s, p = self._geom()
        cols = kernels.im2col(gb, k, s, p, 1, layout, self._buffer, '_gcols')
        self._gc_of, self._gc_layout, self._gc_mat = g, layout, cols
        return cols

    def _backward_setup(self, input, gradOutput):
        x, xb, batched, osize, target = self._split(input)
        n = xb.shape[0]
        g = self._grad(gradOutput, ((n,) if batched else ()) + (self.nOutputPlane,) + osize)
        gb = g.reshape((n, self.nOutputPlane) + osize)
        return x, xb, g, gb, self._layout2(xb, osize), target

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:      # Torch7's idiom, as Linear
            return None
        x, xb, g, gb, layout, target = self._backward_setup(input, gradOutput)
        xp = array_module(x)
        n = xb.shape[0]
        self._gc_of = None         # made afresh (the array may hold new values), kept for accGradParameters
        cols = self._gradcols(g, gb, layout)
        w = _view2d(self.weight)
        gm = self._buffer('_gim', (w.shape[0], cols.shape[1]))
        backend.matmul(w, cols, gm)
        if target is not None:
            gi, gt = pair_grad(self, (x.shape, target.shape))
            gt.fill(0)
        else:
            gi = resized(owned_tensor(self, 'gradInput'), x.shape)
        gi.reshape(n, self.nInputPlane, -1)[...] = kernels.cols_to_batch(gm, n, layout)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, xb, g, gb, layout, _ = self._backward_setup(input, gradOutput)
        cols = self._gradcols(g, gb, layout)
        self._gc_of = None
        xm = self._xmat(x, xb, layout)
        _acc_weight(self, _view2d(self.__dict__['gradWeight']), xm, cols.T, scale)
        if 'bias' in self.__dict__:
            _acc_bias(self, gb.reshape(gb.shape[0], gb.shape[1], -1), (0, 2), scale)

    def __repr__(self):
        s = f"{self.__torch_name__}({self.nInputPlane} -> {self.nOutputPlane}, {self.kW}x{self.kH}"
        if self.dW != 1 or self.dH != 1 or self.padW != 0 or self.padH != 0:
            s += f", {self.dW},{self.dH}"
        if self.padW != 0 or self.padH != 0:
            s += f", {self.padW},{self.padH}"
        d = self.__dict__
        if d.get('adjW', 0) or d.get('adjH', 0):
            s += f", {d.get('adjW', 0)},{d.get('adjH', 0)}"
        return s + ')' + self._bias_note()


# -- temporal (channel-last: nFrames x frameSize) ------------------------------------------------------------------
def _frames(module, x, frame_size, kw):
    """(x as N x T x C, batched?) for a temporal module, or a ValueError naming it and the sizes."""
    if x.ndim == 2:
        xb, batched = x[None], False
    elif x.ndim == 3:
        xb, batched = x, True
    else:
        raise ValueError(f"{module!r}: expected a 2-D input (nFrames x frameSize) or a 3-D batch (batch x nFrames x "
                         f"frameSize), got {sizestr(x.shape)}")
    if frame_size is not None and xb.shape[2] != frame_size:
        raise ValueError(f"{module!r}: expected frames of size {frame_size} (the last dim), got {xb.shape[2]} in an "
                         f"input of size {sizestr(x.shape)}")
    if xb.shape[1] < kw:
        raise ValueError(f"{module!r}: input sequence of {xb.shape[1]} frames (input {sizestr(x.shape)}) is "
                         f"smaller than the kernel size kW={kw}")
    return xb, batched


class TemporalConvolution(_WeightBias):
    """1-D convolution over a sequence of frames: input nFrames x inputFrameSize (or batch x nFrames x
    inputFrameSize), output nOutputFrames x outputFrameSize with nOutputFrames = (nFrames - kW) // dW + 1.
    weight: outputFrameSize x (kW*inputFrameSize), each row a window's kW frames one after the other."""
    _lazy_zero_gw = True          # (see _WeightBias.zeroGradParameters)

    def __init__(self, inputFrameSize, outputFrameSize, kW, dW=1):
        _positive('nn.TemporalConvolution', inputFrameSize=inputFrameSize, outputFrameSize=outputFrameSize,
                  kW=kW, dW=dW)
        super().__init__()
        self.inputFrameSize, self.outputFrameSize = inputFrameSize, outputFrameSize
        self.kW, self.dW = kW, dW
        self.weight = self._tcls(outputFrameSize, inputFrameSize * kW)
        self.bias = self._tcls(outputFrameSize)
        self.gradWeight = self._tcls(outputFrameSize, inputFrameSize * kW)
        self.gradBias = self._tcls(outputFrameSize)
        self.reset()

    def _fan_in(self):
        return self.kW * self.inputFrameSize

    def _setup(self, input):
        x = self._coerce(input)._a
        xb, batched = _frames(self, x, self.inputFrameSize, self.kW)
        to = (xb.shape[1] - self.kW) // self.dW + 1
        return x, xb, batched, to

    def _columns(self, x, xb, to):
        if self.__dict__.get('_cols_of') is x:
            cols = self.__dict__.get('_cols')
            if cols is not None and cols.shape[:2] == (xb.shape[0], to):
                return cols.reshape(-1, cols.shape[2])
        cols = self._buffer('_cols', (xb.shape[0], to, self.kW * xb.shape[2]))
        kernels.unfold_frames(xb, self.kW, self.dW, cols)
        self._cols_of = x
        return cols.reshape(-1, cols.shape[2])

    def updateOutput(self, input):
        x, xb, batched, to = self._setup(input)
        xp = array_module(x)
        n = xb.shape[0]
        self._cols_of = None
        cols = self._columns(x, xb, to)
        nout = self.outputFrameSize
        out = resized(self.output, ((n,) if batched else ()) + (to, nout))
        o2 = out.reshape(n * to, nout)
        backend.matmul(cols, self.weight._a.T, o2)
        if 'bias' in self.__dict__:
            o2 += self.bias._a
        return self.output

    def _g2(self, gradOutput, xb, batched, to):
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, ((xb.shape[0],) if batched else ()) + (to, self.outputFrameSize))
        return g.reshape(-1, self.outputFrameSize)

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:      # Torch7's idiom, as Linear
            return None
        x, xb, batched, to = self._setup(input)
        xp = array_module(x)
        g2 = self._g2(gradOutput, xb, batched, to)
        dcols = self._buffer('_dcols', (xb.shape[0], to, self.weight._a.shape[1]))
        backend.matmul(g2, self.weight._a, dcols.reshape(g2.shape[0], -1))
        gi = resized(self.gradInput, x.shape)
        kernels.fold_frames(dcols, gi.reshape(xb.shape), self.kW, self.dW)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, xb, batched, to = self._setup(input)
        g2 = self._g2(gradOutput, xb, batched, to)
        cols = self._columns(x, xb, to)
        _acc_weight(self, self.__dict__['gradWeight']._a, g2.T, cols, scale)
        if 'bias' in self.__dict__:
            _acc_bias(self, g2, 0, scale)

    def __repr__(self):
        return self.__torch_name__      # Torch7's TemporalConvolution has no __tostring__ (nor noBias)


def _winners(module, input, gradOutput, batched, shape):
    """(gradOutput as the batch ``shape`` of the output, the index of each window's winner) for a max pooling's
    updateGradInput; the forward is run again when its indices are missing or of another size."""
    g = module._coerce(gradOutput, 'gradOutput')._a
    check_grad_size(module, g, shape if batched else shape[1:])
    idx = module.__dict__.get('_idx')
    if idx is None or idx.shape != shape:
        module.updateOutput(input)
        idx = module.__dict__['_idx']
    return g.reshape(shape), idx


def _to_winners(module, xp, g, idx, acc, windows):
    """acc[windows[j]] += g where idx == j: each gradient goes to its window's winner."""
    m = module._bools('_m', g.shape)
    tmp = module._buffer('_tmp', g.shape)
    for j, w in enumerate(windows):
        xp.equal(idx, j, out=m)
        xp.multiply(g, m, out=tmp)
        acc[w] += tmp


class TemporalMaxPooling(Module):
    """The largest value of each frame component over windows of kW frames, dW apart (dW defaults to kW): input
    nFrames x frameSize (or batch x nFrames x frameSize), output (nFrames - kW) // dW + 1 frames.  As Torch7, the
    first largest value of a window wins (NaN never does); the gradient goes to it."""

    def __init__(self, kW, dW=None):
        dW = kW if dW is None else dW
        _positive('nn.TemporalMaxPooling', kW=kW, dW=dW)
        super().__init__()
        self.kW, self.dW = kW, dW

    def _setup(self, input):
        x = self._coerce(input)._a
        xb, batched = _frames(self, x, None, self.kW)
        return x, xb, batched, (xb.shape[1] - self.kW) // self.dW + 1

    def _windows(self, to):
        """Index of the frames each output frame takes at kernel offset k, for k = 0 .. kW-1."""
        dw = self.dW
        return [(slice(None), slice(k, k + dw * (to - 1) + 1, dw)) for k in range(self.kW)]

    def updateOutput(self, input):
        x, xb, batched, to = self._setup(input)
        n, _, c = xb.shape
        out = resized(self.output, ((n,) if batched else ()) + (to, c)).reshape(n, to, c)
        idx = self._buffer('_idx', (n, to, c), long_info(self))
        # CUDA: one kernel over (frames x frameSize) planes, 1-frame-wide windows (idx: the winner's t * c + j)
        gpu_pool.max_pool(xb, out, idx, (self.kW, 1), (self.dW, 1), (0, 0), self._max_numpy, xb, out, idx, to)
        return self.output

    def _max_numpy(self, xb, out, idx, to):
        xp = array_module(xb)
        n, _, c = xb.shape
        m = self._bools('_m', (n, to, c))
        out.fill(-_INF)
        idx.fill(-1)
        for k, w in enumerate(self._windows(to)):
            v = xb[w]
            xp.greater(v, out, out=m)
            xp.copyto(out, v, where=m)
            xp.copyto(idx, k, where=m)

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:      # Torch7's idiom (its TemporalMaxPooling checks self.gradInput too)
            return None
        x, xb, batched, to = self._setup(input)
        n, _, c = xb.shape
        g3, idx = _winners(self, input, gradOutput, batched, (n, to, c))
        gi = resized(self.gradInput, x.shape).reshape(n, -1, c)
        gpu_pool.max_pool_backward(g3, idx, gi, (self.kW, 1), (self.dW, 1), (0, 0),      # CUDA: one kernel
                                   self._grad_numpy, g3, idx, gi, to)
        return self.gradInput

    def _grad_numpy(self, g3, idx, gi, to):
        gi.fill(0)
        _to_winners(self, array_module(gi), g3, idx, gi, self._windows(to))

    def __repr__(self):
        return self.__torch_name__


# -- volumetric pooling --------------------------------------------------------------------------------------------
def _volume(module, x):
    if x.ndim == 4:
        return x[None], False
    if x.ndim == 5:
        return x, True
    raise ValueError(f"{module!r}: expected a 4-D input (nPlanes x T x H x W) or a 5-D batch (batch x nPlanes x T "
                     f"x H x W), got {sizestr(x.shape)}")


def _volume_windows(k, s, osize):
    """Index of the input elements each output element takes at each kernel offset, offsets in row-major order."""
    one = (1, 1, 1)
    return [(slice(None), slice(None)) + kernels.window_slices(off, s, one, osize)
            for off in kernels.kernel_offsets(k)]


def _volume_pooled_sizes(sizes, span, stride, pad, ceil_mode):
    """(output sizes, extra) of THNN's volumetric max pooling (``span``: the window's extent, dilation included):
    floor or ceil of (size + 2*pad - span) / stride, plus 1, less one where the last window would start past the
    input and its left padding -- checked in every dim when any dim is padded (THNN's ``if (pT || pW || pH)``).  As
    THNN, ceil mode keeps one window over a padded input up to stride-1 smaller than it (ceil((1 - 2) / 2) + 1 = 1:
    the max of what the window covers).  ``extra``: the room the last window needs past the right padding (ceil
    mode), for kernels.padded."""
    any_pad = bool(any(pad))
    osize = tuple(_pooled_size(i, kk, ss, pp, ceil_mode, any_pad) for i, kk, ss, pp in zip(sizes, span, stride, pad))
    extra = tuple(max(0, (o - 1) * ss + kk - (i + 2 * pp)) for o, ss, kk, i, pp in zip(osize, stride, span, sizes, pad))
    return osize, extra


class VolumetricMaxPooling(_CeilMode, Module):
    """The largest value over kT x kW x kH windows, dT, dW, dH apart (default: the kernel size), with padding
    padT, padW, padH (at most half the kernel) that never wins.  ``:ceil()`` rounds the output size up (the last
    window may then hang over the end), ``:floor()`` (the default) down.  Input C x T x H x W or N x C x T x H x W.
    As Torch7, the first largest value of a window wins and a NaN wins over any number; the gradient goes to the
    winner."""

    # defaults for fields a .t7 file may lack (older versions)
    padT = padW = padH = 0

    def __init__(self, kT, kW, kH, dT=None, dW=None, dH=None, padT=0, padW=0, padH=0):
        dT = kT if dT is None else dT
        dW = kW if dW is None else dW
        dH = kH if dH is None else dH
        name = 'nn.VolumetricMaxPooling'
        _positive(name, kT=kT, kW=kW, kH=kH, dT=dT, dW=dW, dH=dH)
        _nonneg(name, padT=padT, padW=padW, padH=padH)
        if padT > kT // 2 or padW > kW // 2 or padH > kH // 2:
            raise ValueError(f"{name}: pad should be at most half of the kernel size, got pads {padT},{padW},{padH} "
                             f"for a {kT}x{kW}x{kH} kernel")
        super().__init__()
        self.kT, self.kW, self.kH = kT, kW, kH
        self.dT, self.dW, self.dH = dT, dW, dH
        self.padT, self.padW, self.padH = padT, padW, padH
        self.ceil_mode = False
        self.indices = long_info(self).tensor_class()   # Torch7's field (kept empty here)

    def _geom(self):
        return (self.kT, self.kH, self.kW), (self.dT, self.dH, self.dW), (self.padT, self.padH, self.padW)

    def _setup(self, input):
        x = self._coerce(input)._a
        xb, batched = _volume(self, x)
        k, s, p = self._geom()
        sizes = xb.shape[2:]
        osize, extra = _volume_pooled_sizes(sizes, k, s, p, self.ceil_mode)
        if min(osize) < 1:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} is too small: its {_x(sizes)} volumes"
                             f" (padded by {p[0]},{p[2]},{p[1]}) are smaller than the kernel "
                             f"{self.kT}x{self.kW}x{self.kH}")
        return x, xb, batched, osize, k, s, p, extra

    def updateOutput(self, input):
        x, xb, batched, osize, k, s, p, extra = self._setup(input)
        self.itime, self.iheight, self.iwidth = xb.shape[2:]    # Torch7's fields (VolumetricMaxUnpooling reads them)
        n, c = xb.shape[:2]
        out = resized(self.output, ((n,) if batched else ()) + (c,) + osize).reshape((n, c) + osize)
        idx = self._buffer('_idx', (n, c) + osize, long_info(self))
        # CUDA: one kernel (idx: the winner's flat position in its volume, -1 in the padding)
        gpu_pool.max_pool(xb, out, idx, k, s, p, self._max_numpy, xb, out, idx, k, s, p, extra, osize, nan_wins=True)
        return self.output

    def _max_numpy(self, xb, out, idx, k, s, p, extra, osize):
        xp = array_module(xb)
        src = kernels.padded(xb, p, self._buffer, '_pad', -_INF, extra)
        m = self._bools('_m', out.shape)
        m2 = self._bools('_m2', out.shape)
        for j, w in enumerate(_volume_windows(k, s, osize)):
            v = src[w]
            if j == 0:
                out[...] = v
                idx.fill(0)
                continue
            xp.greater(v, out, out=m)
            xp.isnan(v, out=m2)
            m |= m2
            xp.copyto(out, v, where=m)
            xp.copyto(idx, j, where=m)

    def updateGradInput(self, input, gradOutput):
        x, xb, batched, osize, k, s, p, extra = self._setup(input)
        n, c = xb.shape[:2]
        gb, idx = _winners(self, input, gradOutput, batched, (n, c) + osize)
        gi = resized(self.gradInput, x.shape).reshape(xb.shape)
        gpu_pool.max_pool_backward(gb, idx, gi, k, s, p, self._grad_numpy, gb, idx, gi, k, s, p, extra,
                                   osize)      # CUDA: one kernel
        return self.gradInput

    def _grad_numpy(self, gb, idx, gi, k, s, p, extra, osize):
        n, c = gi.shape[:2]
        padded = any(p) or any(extra)
        acc = self._buffer('_gpad', (n, c) + tuple(i + 2 * pp + e for i, pp, e in zip(gi.shape[2:], p, extra))) \
            if padded else gi
        acc.fill(0)
        _to_winners(self, array_module(gi), gb, idx, acc, _volume_windows(k, s, osize))
        if padded:
            gi[...] = acc[(slice(None), slice(None)) + tuple(slice(pp, pp + i) for pp, i in zip(p, gi.shape[2:]))]

    def __repr__(self):
        s = f"{self.__torch_name__}({self.kT}x{self.kW}x{self.kH}, {self.dT},{self.dW},{self.dH}"
        if self.padT or self.padW or self.padH:
            s += f", {self.padT},{self.padW},{self.padH}"
        return s + ')'


class VolumetricAveragePooling(Module):
    """The mean over kT x kW x kH windows, dT, dW, dH apart (default: the kernel size), no padding: output
    floor((T - kT) / dT) + 1 x ... .  Input C x T x H x W or N x C x T x H x W."""

    def __init__(self, kT, kW, kH, dT=None, dW=None, dH=None):
        dT = kT if dT is None else dT
        dW = kW if dW is None else dW
        dH = kH if dH is None else dH
        _positive('nn.VolumetricAveragePooling', kT=kT, kW=kW, kH=kH, dT=dT, dW=dW, dH=dH)
        super().__init__()
        self.kT, self.kW, self.kH = kT, kW, kH
        self.dT, self.dW, self.dH = dT, dW, dH

    def _setup(self, input):
        x = self._coerce(input)._a
        xb, batched = _volume(self, x)
        k = (self.kT, self.kH, self.kW)
        s = (self.dT, self.dH, self.dW)
        osize = kernels.out_sizes(xb.shape[2:], k, s, 0)
        if min(osize) < 1:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} is too small: its {_x(xb.shape[2:])} "
                             f"volumes are smaller than the kernel {self.kT}x{self.kW}x{self.kH}")
        return x, xb, batched, osize, k, s

    def updateOutput(self, input):
        x, xb, batched, osize, k, s = self._setup(input)
        n, c = xb.shape[:2]
        out = resized(self.output, ((n,) if batched else ()) + (c,) + osize).reshape((n, c) + osize)
        gpu_pool.avg_pool(xb, out, k, s, (0, 0, 0), None, 1.0 / (self.kT * self.kW * self.kH),
                          self._avg_numpy, xb, out, k, s, osize)      # CUDA: one kernel
        return self.output

    def _avg_numpy(self, xb, out, k, s, osize):
        for j, w in enumerate(_volume_windows(k, s, osize)):
            v = xb[w]
            if j == 0:
                out[...] = v
            else:
                out += v
        out *= 1.0 / (self.kT * self.kW * self.kH)

    def updateGradInput(self, input, gradOutput):
        x, xb, batched, osize, k, s = self._setup(input)
        n, c = xb.shape[:2]
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, ((n,) if batched else ()) + (c,) + osize)
        gb = g.reshape((n, c) + osize)
        gi = resized(self.gradInput, x.shape).reshape(xb.shape)
        gpu_pool.avg_pool_backward(gb, gi, k, s, (0, 0, 0), None, 1.0 / (self.kT * self.kW * self.kH),
                                   self._avg_grad_numpy, gb, gi, k, s, osize)      # CUDA: one kernel
        return self.gradInput

    def _avg_grad_numpy(self, gb, gi, k, s, osize):
        xp = array_module(gi)
        tmp = self._buffer('_tmp', gb.shape)
        xp.multiply(gb, 1.0 / (self.kT * self.kW * self.kH), out=tmp)
        gi.fill(0)
        for w in _volume_windows(k, s, osize):
            gi[w] += tmp
        return self.gradInput

    def __repr__(self):
        # nn 8726825's (nn before 2016-03 printed '(kT,kW,kH,dT,dW,dH)')
        return f"{self.__torch_name__}({self.kT}x{self.kW}x{self.kH}, {self.dT},{self.dW},{self.dH})"

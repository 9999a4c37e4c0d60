"""More of Torch7's temporal (sequence) modules: TemporalRowConvolution, TemporalSubSampling,
TemporalDynamicKMaxPooling.

Inputs are nFrames x frameSize (or batch x nFrames x frameSize) as Torch7's; TemporalRowConvolution also takes the
feature-first layout (``featFirst``).  Each pass loops over the kernel's kW taps with whole-array operations
(numpy or CuPy), into buffers kept on the module.
"""
import math
import numbers

from ..backend import array_module
from .conv import _positive
from .linear import _WeightBias
from .module import Module, check_grad_size, field_out, resized, sizestr


def _taps(kw, dw, to):
    """For each kernel tap k, the slice of frames it meets across the to output frames."""
    return [slice(k, k + dw * (to - 1) + 1, dw) for k in range(kw)]


class TemporalRowConvolution(_WeightBias):
    """TemporalRowConvolution(inputFrameSize, kW, dW=1, featFirst=False): each feature row convolved with its own
    kernel (a depthwise 1-D convolution, no mixing of features): out[x, c] = bias[c] + sum_k weight[c, 0, k] *
    in[x*dW + k, c].  Input nFrames x inputFrameSize (batch x nFrames x inputFrameSize), or with ``featFirst``
    inputFrameSize x nFrames (batch first); output in the same layout with (nFrames - kW) // dW + 1 frames.
    weight: inputFrameSize x 1 x kW."""

    def __init__(self, inputFrameSize, kW, dW=1, featFirst=False):
        _positive('nn.TemporalRowConvolution', inputFrameSize=inputFrameSize, kW=kW, dW=dW)
        super().__init__()
        self.inputFrameSize, self.kW, self.dW = inputFrameSize, kW, dW
        self.weight = self._tcls(inputFrameSize, 1, kW)
        self.bias = self._tcls(inputFrameSize)
        self.gradWeight = self._tcls(inputFrameSize, 1, kW)
        self.gradBias = self._tcls(inputFrameSize)
        self.featFirst = bool(featFirst)
        self.reset()

    def _fan_in(self):
        return self.kW * self.inputFrameSize

    def _feat_first(self, a):
        """Array ``a`` (2-D or 3-D, in the module's layout) as a batch x features x frames view."""
        ab = a if a.ndim == 3 else a[None]
        return ab if self.__dict__.get('featFirst') else ab.transpose(0, 2, 1)

    def _setup(self, input):
        x = self._coerce(input)._a
        if x.ndim not in (2, 3):
            raise ValueError(f"{self!r}: expected a 2-D input or a 3-D batch, got {sizestr(x.shape)}")
        xf = self._feat_first(x)
        c = self.inputFrameSize
        if xf.shape[1] != c:
            raise ValueError(f"{self!r}: expected {c} features (dim {x.ndim - (2 if self.featFirst else 1)}), got "
                             f"{xf.shape[1]} in an input of size {sizestr(x.shape)}")
        to = (xf.shape[2] - self.kW) // self.dW + 1
        if to < 1:
            raise ValueError(f"{self!r}: input of {xf.shape[2]} frames (size {sizestr(x.shape)}) is smaller than "
                             f"the kernel size kW={self.kW}")
        oshape = list(x.shape)
        oshape[-1 if self.featFirst else -2] = to
        return x, xf, to, tuple(oshape)

    def updateOutput(self, input):
        x, xf, to, oshape = self._setup(input)
        xp = array_module(x)
        out = resized(self.output, oshape)
        of = self._feat_first(out)
        w = self.weight._a
        tmp = self._buffer('_tmp', of.shape)
        if 'bias' in self.__dict__:
            of[...] = self.bias._a[:, None]
        else:
            of.fill(0)
        for k, sl in enumerate(_taps(self.kW, self.dW, to)):
            xp.multiply(xf[:, :, sl], w[:, 0, k, None], out=tmp)
            of += tmp
        return self.output

    def _grad(self, gradOutput, oshape):
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, oshape)
        return self._feat_first(g)

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:
            return None
        x, xf, to, oshape = self._setup(input)
        xp = array_module(x)
        gf = self._grad(gradOutput, oshape)
        gi = field_out(self, 'gradInput', x.shape)
        gif = self._feat_first(gi)
        gif.fill(0)
        w = self.weight._a
        tmp = self._buffer('_tmp', gf.shape)
        for k, sl in enumerate(_taps(self.kW, self.dW, to)):
            xp.multiply(gf, w[:, 0, k, None], out=tmp)
            gif[:, :, sl] += tmp
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, xf, to, oshape = self._setup(input)
        xp = array_module(x)
        gf = self._grad(gradOutput, oshape)
        tmp = self._buffer('_tmp', gf.shape)
        col = self._buffer('_col', (gf.shape[1],))
        gw = self.gradWeight._a
        for k, sl in enumerate(_taps(self.kW, self.dW, to)):
            xp.multiply(gf, xf[:, :, sl], out=tmp)
            xp.sum(tmp, axis=(0, 2), out=col)
            col *= scale
            gw[:, 0, k] += col
        if 'bias' in self.__dict__:
            xp.sum(gf, axis=(0, 2), out=col)
            col *= scale
            self.gradBias._a[...] += col

    def __repr__(self):
        s = f"{self.__torch_name__}({self.inputFrameSize}, {self.kW}"
        if self.dW != 1:
            s += f", {self.dW}"
        return s + ')' + self._bias_note()


class TemporalSubSampling(_WeightBias):
    """TemporalSubSampling(inputFrameSize, kW, dW=1): the sum of each window of kW frames (dW apart), times a weight
    per feature, plus a bias per feature.  Input nFrames x inputFrameSize (2-D only, as THNN); output
    (nFrames - kW) // dW + 1 frames.  reset: weight then bias uniform in [-1/sqrt(kW), 1/sqrt(kW)]."""

    def __init__(self, inputFrameSize, kW, dW=1):
        _positive('nn.TemporalSubSampling', inputFrameSize=inputFrameSize, kW=kW, dW=dW)
        super().__init__()
        self.inputFrameSize, self.kW, self.dW = inputFrameSize, kW, dW
        self.weight = self._tcls(inputFrameSize)
        self.bias = self._tcls(inputFrameSize)
        self.gradWeight = self._tcls(inputFrameSize)
        self.gradBias = self._tcls(inputFrameSize)
        self.reset()

    def _fan_in(self):
        return self.kW

    def _setup(self, input):
        x = self._coerce(input)._a
        if x.ndim != 2:
            raise ValueError(f"{self!r}: expected a 2-D input (nFrames x inputFrameSize), got {sizestr(x.shape)}")
        if x.shape[1] != self.inputFrameSize:
            raise ValueError(f"{self!r}: invalid input frame size: expected {self.inputFrameSize}, got "
                             f"{x.shape[1]} (input of size {sizestr(x.shape)})")
        if x.shape[0] < self.kW:
            raise ValueError(f"{self!r}: input sequence of {x.shape[0]} frames is smaller than the kernel size "
                             f"kW={self.kW}")
        return x, (x.shape[0] - self.kW) // self.dW + 1

    def _window_sums(self, x, to):
        xp = array_module(x)
        s = self._buffer('_sums', (to, x.shape[1]))
        for k, sl in enumerate(_taps(self.kW, self.dW, to)):
            if k == 0:
                s[...] = x[sl]
            else:
                xp.add(s, x[sl], out=s)
        return s

    def updateOutput(self, input):
        x, to = self._setup(input)
        xp = array_module(x)
        out = resized(self.output, (to, x.shape[1]))
        xp.multiply(self._window_sums(x, to), self.weight._a, out=out)
        out += self.bias._a
        return self.output

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:
            return None
        x, to = self._setup(input)
        xp = array_module(x)
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, (to, x.shape[1]))
        gi = resized(self.gradInput, x.shape)
        gi.fill(0)
        tmp = self._buffer('_tmp', g.shape)
        xp.multiply(g, self.weight._a, out=tmp)
        for sl in _taps(self.kW, self.dW, to):
            gi[sl] += tmp
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, to = self._setup(input)
        xp = array_module(x)
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, (to, x.shape[1]))
        tmp = self._buffer('_tmp', g.shape)
        col = self._buffer('_col', (x.shape[1],))
        xp.multiply(g, self._window_sums(x, to), out=tmp)
        xp.sum(tmp, axis=0, out=col)
        col *= scale
        self.gradWeight._a[...] += col
        xp.sum(g, axis=0, out=col)
        col *= scale
        self.gradBias._a[...] += col

    def __repr__(self):
        return self.__torch_name__


class TemporalDynamicKMaxPooling(Module):
    """TemporalDynamicKMaxPooling(minK, factor=0): the k largest values of each feature over the sequence, kept in
    their sequence order, k = max(minK, ceil(factor * nFrames)) (Kalchbrenner et al.'s dynamic k-max pooling).
    Input nFrames x frameSize or batch x nFrames x frameSize; output k x frameSize (batch first).  Ties: the
    earlier frame is taken first (Torch7's sort leaves their order unspecified)."""

    def __init__(self, minK, factor=0):
        super().__init__()
        if isinstance(minK, bool) or not isinstance(minK, numbers.Integral) or minK < 1:
            raise ValueError(f"nn.TemporalDynamicKMaxPooling: minK must be a positive integer, got {minK!r}")
        if factor is None:
            factor = 0                  # Torch7: factor or 0
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            raise TypeError(f"nn.TemporalDynamicKMaxPooling: factor must be a number, got {factor!r}")
        self.minK = minK
        self.factor = factor

    def _setup(self, input):
        x = self._coerce(input)._a
        if x.ndim not in (2, 3):
            raise ValueError(f"{self!r}: only 2-D or 3-D (batch mode) inputs accepted, got {sizestr(x.shape)}")
        n = x.shape[-2]
        k = max(self.minK, math.ceil(self.factor * n))
        if n < self.minK or k > n:
            raise ValueError(f"{self!r}: input sequence length ({n}) too small for the desired k value ({k})")
        return x, k

    def updateOutput(self, input):
        x, k = self._setup(input)
        xp = array_module(x)
        ax = x.ndim - 2
        # descending order, ties by position (a stable sort of the negated values), the first k back in order
        order = xp.argsort(-x, axis=ax, kind='stable')
        idx = xp.sort(xp.take(order, xp.arange(k), axis=ax), axis=ax)
        self._idx = idx
        out = resized(self.output, idx.shape)
        out[...] = xp.take_along_axis(x, idx, axis=ax)
        return self.output

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:
            return None
        x, k = self._setup(input)
        xp = array_module(x)
        idx = self.__dict__.get('_idx')
        if idx is None or idx.shape != x.shape[:-2] + (k, x.shape[-1]):
            raise RuntimeError(f"{self!r}: updateGradInput needs the indices of a forward on an input of size "
                               f"{sizestr(x.shape)}; call forward first")
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, idx.shape)
        gi = resized(self.gradInput, x.shape)
        gi.fill(0)
        # gi[..., idx[t, c], c] = g[..., t, c] (the indices of one feature are distinct): one flat assignment
        ib = idx if idx.ndim == 3 else idx[None]
        n, c = x.shape[-2:]
        flat = self._buffer('_flat', ib.shape, dtype=idx.dtype)
        xp.multiply(ib, c, out=flat)
        flat += self._arange('_cols', c)
        flat += (self._arange('_rows', ib.shape[0]) * (n * c))[:, None, None]
        gi.reshape(-1)[flat.reshape(-1)] = g.reshape(-1)
        return self.gradInput

    def __repr__(self):
        return self.__torch_name__


def _file_checks():
    """A file's weight sizes must agree with its other fields (serialization/classes.py's table)."""
    from ..serialization import classes

    @classes._checks('nn.TemporalRowConvolution')
    def _rowconv(n, f):
        if all(k in f for k in ('inputFrameSize', 'kW')):
            classes._weights(n, f, f['inputFrameSize'] * f['kW'], f['inputFrameSize'])

    @classes._checks('nn.TemporalSubSampling')
    def _subsampling(n, f):
        if 'inputFrameSize' in f:
            classes._weights(n, f, f['inputFrameSize'], f['inputFrameSize'])


_file_checks()

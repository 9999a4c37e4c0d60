"""Transfer functions: Torch7's nn activations (pointwise, the SoftMax family, PReLU and RReLU).

Behaviour follows Torch7's THNN C code (``lib/THNN/generic/*.c``) and the nn Lua files: the same fields (saved to
.t7), the same value at each kink (e.g. ReLU's gradient at 0 is 0, HardTanh's at its bounds is 0), the same
in-place semantics (``inplace``: the output is the input tensor, the gradInput is the gradOutput tensor).

Numerics: where a formula of Torch7 overflows for large inputs (LogSigmoid's ``-log(1 + exp(-x))``, SoftPlus with a
large threshold) the stable form of the same function is computed instead; values agree elsewhere.
"""
import math
import numbers

import numpy as np

from .. import backend
from ..backend import array_module, gpu_elementwise, parallel
from ..backend import gpu_loss
from .. import random as _random
from ..types import on_device
from .module import LazyField, Module, check_grad_like_input, field_out, resized, sizestr
from ._layout import buffer_like, field_like

_INF = float('inf')


def _lua_bool(b):
    return 'true' if b else 'false'


class _Elementwise(Module):
    """Base for y = f(x) elementwise: subclasses give ``_f(xp, x, out)`` and ``_df(xp, x, y, gradOutput, out)``
    (out = gradOutput * f'(x), from x and/or the saved output y).

    A subclass with Torch7's ``inplace`` field set to True computes in place: ``_f`` is then called with
    ``out is x`` and ``_df`` with ``out is gradOutput`` (and ``x`` holding the output), so both must allow that.

    CUDA: ``_cuda_f``/``_cuda_df`` run instead (the one dispatch, on the array type, in updateOutput and
    updateGradInput): one launch of backend/gpu_elementwise.py's pointwise kernels, op ``_op`` with the scalars
    ``_kargs(x)`` gives; the array code above runs on CuPy where the kernels cannot (strided arrays, no ``_op``)."""

    _op = None          # the module's op in gpu_elementwise.OPS (None: the array code runs on CuPy)

    def _kargs(self, x):
        """The op's scalars (a, b), or (a, b, p, inner, C) for per-channel parameters p."""
        return ()

    def _cuda_f(self, xp, x, out):
        if self._op is None or not gpu_elementwise.forward(self._op, x, out, *self._kargs(x)):
            self._f(xp, x, out)

    def _cuda_df(self, xp, x, y, g, out):
        if self._op is None or not gpu_elementwise.backward(self._op, x, y, g, out, *self._kargs(x)):
            self._df(xp, x, y, g, out)

    def _factor(self, xp, x, slope, name='_fac'):
        """The array f = 1 where x > 0, ``slope`` where x <= 0 (exactly; slope a number or a broadcastable array),
        so that x * f is Torch7's ``x > 0 ? x : slope * x``."""
        f = self._buffer(name, x.shape)
        pos = self._bools('_fac_pos', x.shape)
        xp.greater(x, 0, out=pos)
        xp.copyto(f, slope)
        xp.copyto(f, 1, where=pos)       # (not 1 + 0 * slope: that is NaN for a slope of +-inf or NaN)
        return f

    def _output_array(self, t):
        """self.output's array resized to the input's shape, first detaching self.output from the input's storage
        (left there by an in-place call); batch-last when the input is (a convolution's output on the CPU, see
        backend/kernels.py), so that the pass runs in memory order and the layout flows on."""
        if self.output._s is t._s:
            self.output = self._tcls()
        return field_like(self, 'output', t._a)

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        xp = array_module(x)
        f = self._f if xp is np else self._cuda_f
        if self.__dict__.get('inplace'):
            f(xp, x, x)
            if self.output._a is not x:
                self.output.set(t)
            return self.output
        f(xp, x, self._output_array(t))
        return self.output

    def updateGradInput(self, input, gradOutput):
        t = self._coerce(input)
        x = t._a
        gt = self._coerce(gradOutput, 'gradOutput')
        g = gt._a
        check_grad_like_input(self, x, g)
        xp = array_module(x)
        df = self._df if xp is np else self._cuda_df
        if self.output._a.shape != x.shape:
            # no forward on an input of this size yet (f' may need the output, e.g. Sigmoid's and Tanh's)
            if self.__dict__.get('inplace'):
                raise RuntimeError(f"{self!r}: updateGradInput needs the output of a forward on an input of size "
                                   f"{sizestr(x.shape)} (in place: the input holding it); call forward first")
            self.updateOutput(input)
        if self.__dict__.get('inplace'):
            df(xp, x, self.output._a, g, g)
            if self.gradInput._a is not g:
                self.gradInput.set(gt)
            return self.gradInput
        if self.gradInput._s is gt._s:
            self.gradInput = self._tcls()
        df(xp, x, self.output._a, g, field_like(self, 'gradInput', x))
        return self.gradInput


class Sigmoid(_Elementwise):
    _op = 'sigmoid'
    # numpy's 1 of each float dtype as a kept 0-d array: a Python 1 costs numpy a scalar conversion per call, about
    # as much as the operation itself on a small array (same values: 1 is exact in every float type)
    _ONE = {np.dtype(t): np.ones((), t) for t in (np.float16, np.float32, np.float64)}

    def _f(self, xp, x, out):
        xp.negative(x, out=out)
        xp.exp(out, out=out)
        out += 1
        xp.divide(1, out, out=out)      # (as reciprocal: the same correctly rounded 1 / x)

    def _df(self, xp, x, y, g, out):
        xp.subtract(1, y, out=out)
        out *= y
        out *= g

    # The CPU steady state of a training loop: _Elementwise's passes with numpy's fastest spellings (reciprocal, the
    # kept 1), once the general path's conditions have been seen to hold for these very arrays (input, output,
    # gradOutput, gradInput: kept in _hot_f / _hot_b, so a later call checks identities only; an array's size,
    # layout and memory do not change under it).  Anything else -- CUDA, a subclass, numpy inputs, a batch-last
    # input, an in-place flag, a new size -- takes _Elementwise's path, which sets the fields up.
    def updateOutput(self, input):
        d = self.__dict__
        h = d.get('_hot_f')
        if h is not None and input.__class__ is h[0] and input._a is h[1] and self.output._a is h[2]:
            out = h[2]
            np.negative(h[1], out=out)
            np.exp(out, out=out)
            out += h[3]
            np.reciprocal(out, out=out)
            return self.output
        o = _Elementwise.updateOutput(self, input)
        tc = self._tcls
        if input.__class__ is tc and o.__class__ is tc and self.__class__ is Sigmoid and not d.get('inplace'):
            x, out = input._a, o._a
            one = self._ONE.get(x.dtype)
            if (one is not None and type(x) is np.ndarray and x.flags.c_contiguous and out.flags.c_contiguous
                    and out.shape == x.shape and o._s is not input._s):
                d['_hot_f'] = (tc, x, out, one)
        return o

    def updateGradInput(self, input, gradOutput):
        d = self.__dict__
        h = d.get('_hot_b')
        if (h is not None and input.__class__ is h[0] and gradOutput.__class__ is h[0] and input._a is h[1]
                and gradOutput._a is h[2] and self.gradInput._a is h[3] and self.output._a is h[4]):
            out, y = h[3], h[4]
            np.subtract(h[5], y, out=out)
            out *= y
            out *= h[2]
            return self.gradInput
        gi = _Elementwise.updateGradInput(self, input, gradOutput)
        tc = self._tcls
        if (input.__class__ is tc and gradOutput.__class__ is tc and gi.__class__ is tc and self.__class__ is Sigmoid
                and not d.get('inplace')):
            x, g, out, y = input._a, gradOutput._a, gi._a, self.output._a
            one = self._ONE.get(x.dtype)
            if (one is not None and type(x) is np.ndarray and x.flags.c_contiguous and out.flags.c_contiguous
                    and g.shape == x.shape and out.shape == x.shape and y.shape == x.shape
                    and gi._s is not gradOutput._s):
                d['_hot_b'] = (tc, x, g, out, y, one)
        return gi

    def backward(self, input, gradOutput, scale=1):
        # Module's, less its call of the no-op accGradParameters (unless a subclass or the instance defines one)
        if self.__class__ is not Sigmoid or 'accGradParameters' in self.__dict__:
            return Module.backward(self, input, gradOutput, scale)
        return self.updateGradInput(input, gradOutput)


class Tanh(_Elementwise):
    _op = 'tanh'

    def _f(self, xp, x, out):
        xp.tanh(x, out=out)

    def _df(self, xp, x, y, g, out):
        xp.multiply(y, y, out=out)
        xp.subtract(1, out, out=out)
        out *= g


# -- thresholds ------------------------------------------------------------------------------------------
def _check_inplace(name, ip):
    if not isinstance(ip, bool):
        raise TypeError(f"{name}: in-place flag must be boolean, got {ip!r}")


def _fill_output(module, name):
    """LazyField fill of an output a fused forward left pending (Threshold._fold_forward): the pass that forward
    stood for -- y = max(x, 0), _f at threshold = value = 0, whatever the module's threshold and value are now --
    over the input it kept."""
    x = module.__dict__.pop('_out_pending', None)
    if x is not None:
        xp = array_module(x)
        parallel.run_flat(lambda a, o: xp.clip(a, 0, _INF, out=o), x, module.__dict__[name]._a)


class Threshold(_Elementwise):
    """y = x if x > threshold else val.  ``Threshold(th=1e-6, v=0, ip=False)``."""
    # a Sequential's [ReLU, max pooling] may pool first and leave this output to be written when read (_fold_forward)
    output = LazyField('output', '_out_pending', _fill_output)

    def __init__(self, th=1e-6, v=0, ip=False):
        super().__init__()
        if not isinstance(th, numbers.Real) or not isinstance(v, numbers.Real):
            raise TypeError(f"nn.Threshold(threshold, value): expected numbers, got {th!r}, {v!r}")
        _check_inplace('nn.Threshold', ip)
        self.threshold = th
        self.val = v
        self.inplace = ip
        self._validate()

    def _validate(self):
        if self.inplace and self.val > self.threshold:
            raise ValueError(f"{self!r}: in-place processing requires value ({self.val}) not exceed threshold "
                             f"({self.threshold})")

    _op = 'threshold'

    def _kargs(self, x):
        self._validate()
        return self.threshold, self.val

    def _f(self, xp, x, out):
        th, v = self.threshold, self.val
        if v == th:                       # ReLU and friends: one pass (split over threads when big)
            parallel.run_flat(lambda a, o: xp.clip(a, th, _INF, out=o), x, out)
            return
        self._validate()
        m = self._bools('_m', x.shape)
        xp.greater(x, th, out=m)
        xp.clip(x, th, _INF, out=out)     # x where x > th (exactly), th elsewhere...
        out *= m                          # ... then 0 elsewhere
        if v != 0:
            xp.logical_not(m, out=m)
            tmp = self._buffer('_tmp', x.shape)
            tmp[...] = m                  # (not multiply(m, v): bool * float computes in float64)
            tmp *= v
            out += tmp

    def _df(self, xp, x, y, g, out):
        # in place, x holds the output: val <= threshold keeps (x > threshold) unchanged
        th = self.threshold
        if out is not g:      # the mask as 1.0 / 0.0 in gradInput itself, then times gradOutput: no mask buffer
            def part(a, gg, o):
                xp.greater(a, th, out=o)
                xp.multiply(o, gg, out=o)
            parallel.run_flat(part, x, g, out)
            return
        m = buffer_like(self, '_m', x, bool)

        def part_in_place(a, gg, mm):
            xp.greater(a, th, out=mm)
            xp.multiply(gg, mm, out=gg)
        parallel.run_flat(part_in_place, x, g, m)

    def _fold_forward(self, nxt, t):
        """Sequential.updateOutput's step over [self, nxt]: when ``nxt`` can take the maximum of windows of this
        module's input and apply this module to the maxima (max pooling, pooling.py), this module's output is left
        pending (written from the input when read: it is not otherwise needed) -- nxt.output, or None when that
        does not apply (each forward then runs).  As for the backward folds, the input must not change in place
        before the output is read."""
        return nxt._pool_after(self, t)        # (Sequential checks that nxt has one)


class ReLU(Threshold):
    """y = max(0, x) (Torch7: Threshold(0, 0)); the gradient at 0 is 0."""

    def __init__(self, ip=False):
        super().__init__(0, 0, ip)


class HardTanh(_Elementwise):
    """y = clamp(x, min_value, max_value); the gradient is 0 outside (min_value, max_value), bounds included."""

    def __init__(self, min_value=-1, max_value=1, inplace=False):
        super().__init__()
        if not max_value > min_value:
            raise ValueError(f"{self.__torch_name__}: max_value must be larger than min_value, got "
                             f"min_value={min_value}, max_value={max_value}")
        _check_inplace(self.__torch_name__, inplace)
        self.min_val = min_value
        self.max_val = max_value
        self.inplace = inplace

    def _bounds(self):
        return self.min_val, self.max_val

    _op = 'clamp'

    def _kargs(self, x):
        return self._bounds()

    def _f(self, xp, x, out):
        lo, hi = self._bounds()
        xp.clip(x, lo, hi, out=out)

    def _df(self, xp, x, y, g, out):
        lo, hi = self._bounds()
        m = self._bools('_m', x.shape)
        m2 = self._bools('_m2', x.shape)
        xp.greater(x, lo, out=m)
        xp.less(x, hi, out=m2)
        m &= m2
        xp.multiply(g, m, out=out)


class Clamp(HardTanh):
    """y = clamp(x, min_value, max_value) (Torch7: a HardTanh)."""

    def __init__(self, min_value, max_value):
        super().__init__(min_value, max_value)


class ReLU6(HardTanh):
    """y = min(max(0, x), 6) (Torch7: HardTanh(0, 6)); the gradient is 0 at 0 and 6."""

    def __init__(self, inplace=False):
        _Elementwise.__init__(self)
        _check_inplace('nn.ReLU6', inplace)
        self.inplace = inplace

    def _bounds(self):
        return 0, 6


class LeakyReLU(_Elementwise):
    """y = x if x > 0 else negval * x.  ``LeakyReLU(negval=0.01, ip=False)``."""

    def __init__(self, negval=1 / 100, ip=False):
        super().__init__()
        if isinstance(negval, bool):       # Torch7's LeakyReLU(true): the default slope (its local ip shadows,
            negval = 1 / 100               # so in place only with a second argument)
        if not isinstance(negval, numbers.Real):
            raise TypeError(f"nn.LeakyReLU(value): expected a number, got {negval!r}")
        _check_inplace('nn.LeakyReLU', ip)
        self.negval = negval
        self.inplace = ip

    def __repr__(self):
        return f"{self.__torch_name__}({self.negval:g})"     # Torch7: string.format('(%g)', self.negval)

    _op = 'leaky'

    def _kargs(self, x):
        return (self.negval,)

    def _f(self, xp, x, out):
        a = self.negval
        if 0 <= a <= 1:                   # then max(x, a*x) picks x for x > 0 and a*x for x <= 0, exactly
            tmp = self._buffer('_tmp', x.shape)
            xp.multiply(x, a, out=tmp)
            xp.maximum(x, tmp, out=out)
        else:
            xp.multiply(x, self._factor(xp, x, a), out=out)

    def _df(self, xp, x, y, g, out):
        xp.multiply(g, self._factor(xp, x, self.negval), out=out)


class PReLU(_Elementwise):
    """y = x if x > 0 else w * x, with a learnt slope w: one shared slope (nOutputPlane=0) or one per input plane
    (the dim of size nOutputPlane is dim 0 of a 1-D input, dim 1 otherwise, as Torch7).  Slopes start at 0.25."""

    def __init__(self, nOutputPlane=0):
        super().__init__()
        self.nOutputPlane = nOutputPlane
        self.weight = self._tcls(nOutputPlane or 1).fill(0.25)
        self.gradWeight = self._tcls(nOutputPlane or 1).zero()
        self.gradWeightBuf = self._tcls()
        self.gradWeightBuf2 = self._tcls()

    def _slopes(self, x):
        """The weight broadcastable against x."""
        w = self.weight._a
        n = self.nOutputPlane
        if n == 0:
            return w
        if x.ndim == 0 or x.shape[1 if x.ndim > 1 else 0] != n:
            raise ValueError(f"{self!r}: expected input with {n} planes in dim {1 if x.ndim > 1 else 0} "
                             f"(nOutputPlane), got size {sizestr(x.shape)}")
        return w.reshape((n,) + (1,) * (x.ndim - 2)) if x.ndim > 1 else w

    _op = 'pleaky'

    def _kargs(self, x):
        """(a, b, slopes, inner, C): element i has slope w[(i // inner) % C]."""
        self._slopes(x)                   # (checks the planes)
        n = self.nOutputPlane
        if n == 0 or x.ndim == 1:
            return 0, 0, self.weight._a, 1, n or 1
        return 0, 0, self.weight._a, math.prod(x.shape[2:]), n

    def _f(self, xp, x, out):
        xp.multiply(x, self._factor(xp, x, self._slopes(x)), out=out)

    def _df(self, xp, x, y, g, out):
        xp.multiply(g, self._factor(xp, x, self._slopes(x)), out=out)

    def accGradParameters(self, input, gradOutput, scale=1):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        xp = array_module(x)
        if xp is not np and x.size:       # CUDA: one per-plane reduction launch
            _, _, w, inner, c = self._kargs(x)
            if gpu_elementwise.prelu_acc_grad(self, x, g, self.gradWeight._a, scale, x.size // (inner * c), c, inner):
                return
        self._slopes(x)
        tmp = self._buffer('_gw_tmp', x.shape)
        xp.fmin(x, 0, out=tmp)            # x where x <= 0, else 0 (NaN: 0, as Torch7 skips it)
        tmp *= g
        gw = self.gradWeight._a
        if self.nOutputPlane == 0:
            s = tmp.sum()
        elif x.ndim == 1:
            s = tmp
        else:
            s = tmp.sum(axis=(0,) + tuple(range(2, x.ndim)))
        if scale != 1:
            s = s * scale
        gw += s


class RReLU(_Elementwise):
    """Randomized leaky ReLU: in training, each x <= 0 gets a slope drawn uniformly in [lower, upper] from the
    global random stream (Torch7's order: one draw per non-positive element, row-major; with ``channelwise``, one
    draw per plane); in evaluation the slope is (lower + upper) / 2.  ``noise`` keeps the drawn slopes."""

    def __init__(self, l=1 / 8, u=1 / 3, ip=False, cw=False):
        super().__init__()
        self.lower = l
        self.upper = u
        if not (self.lower <= self.upper and self.lower >= 0 and self.upper >= 0):
            raise ValueError(f"nn.RReLU: expected 0 <= lower <= upper, got lower={l}, upper={u}")
        self.noise = self._tcls()
        self.train = True
        self.inplace = ip
        self.channelwise = cw

    def __repr__(self):
        return (f"{self.__torch_name__} (l:{self.lower:f}, u:{self.upper:f}, "
                f"channel-wise:{_lua_bool(self.channelwise)})")

    def _draw(self, n, room=None):
        """n slopes in [lower, upper] from the global stream (on the CPU), drawn into a kept host buffer of the
        module's dtype (of ``room`` values, a size that does not change between calls), on the module's device."""
        r = self._buffer('_draws', (room or n,), on_device(self._tinfo, False))[:n]
        _random._default.uniform_into(r, self.lower, self.upper)
        return backend.to_device(r, self._tinfo.cuda)

    def _channel_shape(self, x):
        """Broadcast shape of one value per plane (Torch7: dim 0 of 1-D and 3-D inputs, dim 1 of 2-D and 4-D)."""
        if not 1 <= x.ndim <= 4:
            raise ValueError(f"{self!r}: channel-wise RReLU expects a 1-D to 4-D input, got size {sizestr(x.shape)}")
        c = x.shape[(x.ndim + 1) % 2]
        return c, {1: (c,), 2: (1, c), 3: (c, 1, 1), 4: (1, c, 1, 1)}[x.ndim]

    def _planes(self, x):
        """(C, inner) of the channel-wise kernels: element i is in plane (i // inner) % C."""
        c, _ = self._channel_shape(x)
        return c, math.prod(x.shape[(x.ndim + 1) % 2 + 1:])

    def _cuda_f(self, xp, x, out):
        """Evaluation and channel-wise training: one launch (the channel draws copied up first); element-wise
        training: count (2 launches, the count read back), the draws copied up, scatter (1 launch)."""
        if not self.train:
            if gpu_elementwise.forward('leaky', x, out, (self.lower + self.upper) / 2):
                return
        elif x.size and gpu_elementwise.suits(x, out) and not (self.channelwise and self.inplace):
            host = on_device(self._tinfo, False)
            if self.channelwise:
                c, inner = self._planes(x)
                r = self._buffer('_draws', (c,), host)
                _random._default.uniform_into(r, self.lower, self.upper)
                noise = field_out(self, 'noise', (c,))
                gpu_elementwise.upload(noise, r)
                gpu_elementwise.forward('pleaky', x, out, 0, 0, noise, inner, c)
                return
            k, counts = gpu_elementwise.rrelu_count(x, self._buffer)
            r = self._buffer('_draws', (x.size,), host)[:k]
            if k:
                _random._default.uniform_into(r, self.lower, self.upper)
            gpu_elementwise.rrelu_scatter(x, counts, r, self._buffer('_draws_dev', (x.size,)),
                                          field_out(self, 'noise', x.shape), out)
            return
        self._f(xp, x, out)

    def _cuda_df(self, xp, x, y, g, out):
        if not (self.train and self.upper - self.lower > 1e-6):
            if gpu_elementwise.backward('leaky', x, y, g, out, (self.lower + self.upper) / 2):
                return
        elif self.channelwise and not self.inplace and self.noise._a.ndim == 1:
            c, inner = self._planes(x)
            if gpu_elementwise.backward('pleaky', x, y, g, out, 0, 0, self.noise._a, inner, c):
                return
        self._df(xp, x, y, g, out)        # (element-wise training: g * noise, one launch)

    def _f(self, xp, x, out):
        if not self.train:
            xp.multiply(x, self._factor(xp, x, (self.lower + self.upper) / 2), out=out)
            return
        if self.channelwise:
            c, shape = self._channel_shape(x)
            r = self._draw(c)
            f = self._factor(xp, x, r.reshape(shape))
            if self.inplace:
                resized(self.noise, x.shape)[...] = f
            else:
                resized(self.noise, (c,))[...] = r
            xp.multiply(x, f, out=out)
            return
        noise = resized(self.noise, x.shape)
        m = self._bools('_m', x.shape)
        xp.less_equal(x, 0, out=m)
        k = int(xp.count_nonzero(m))
        noise.fill(1)
        if k:
            noise[m] = self._draw(k, x.size)
        xp.multiply(x, noise, out=out)

    def _df(self, xp, x, y, g, out):
        if self.train and self.upper - self.lower > 1e-6:
            noise = self.noise._a
            if self.channelwise and not self.inplace:
                _, shape = self._channel_shape(x)
                xp.multiply(g, self._factor(xp, x, noise.reshape(shape)), out=out)
            else:
                xp.multiply(g, noise, out=out)
        else:
            xp.multiply(g, self._factor(xp, x, (self.lower + self.upper) / 2), out=out)

    def clearState(self):
        self.noise = self._tcls()
        return super().clearState()


class ELU(_Elementwise):
    """y = x if x > 0 else alpha * (exp(x) - 1)."""

    def __init__(self, alpha=1, inplace=False):
        super().__init__()
        if not isinstance(alpha, numbers.Real):
            raise TypeError(f"nn.ELU(alpha): expected a number, got {alpha!r}")
        _check_inplace('nn.ELU', inplace)
        self.alpha = alpha
        self.inplace = inplace

    def __repr__(self):
        return f"{self.__torch_name__} (alpha:{self.alpha:f})"

    _op = 'elu'

    def _kargs(self, x):
        return (self.alpha,)

    def _f(self, xp, x, out):
        tmp = self._buffer('_tmp', x.shape)
        xp.clip(x, -_INF, 0, out=tmp)
        xp.expm1(tmp, out=tmp)
        tmp *= self.alpha                 # alpha * (exp(x) - 1) where x <= 0, 0 elsewhere
        xp.clip(x, 0, _INF, out=out)
        out += tmp

    def _df(self, xp, x, y, g, out):
        # Torch7: from the output, y <= 0 ? g * (y + alpha) : g
        f = self._buffer('_fac', x.shape)
        tmp = self._buffer('_fac_tmp', x.shape)
        xp.fmin(y, 0, out=f)              # (fmin: a NaN y gives 0, not NaN, so that the else branch below is exact)
        f += self.alpha
        xp.less_equal(y, 0, out=tmp)
        f *= tmp                          # y + alpha where y <= 0, else 0
        xp.subtract(1, tmp, out=tmp)
        f += tmp                          # ... else 1 (a NaN y too, as Torch7's test is y <= 0)
        xp.multiply(g, f, out=out)


# -- shrinkage -------------------------------------------------------------------------------------------
class _Shrink(_Elementwise):
    def __init__(self, lam=0.5):
        super().__init__()
        self.__dict__['lambda'] = lam     # Torch7's field name (a Python keyword)

    def _kargs(self, x):
        return (self.__dict__['lambda'],)

    def _big(self, xp, x):
        """Boolean mask of |x| > lambda (Torch7: x > lambda || x < -lambda)."""
        lam = self.__dict__['lambda']
        m = self._bools('_m', x.shape)
        m2 = self._bools('_m2', x.shape)
        xp.greater(x, lam, out=m)
        xp.less(x, -lam, out=m2)
        m |= m2
        return m

    def _df(self, xp, x, y, g, out):
        xp.multiply(g, self._big(xp, x), out=out)


def _zero_where_small(xp, out, big):
    """out = 0 where not ``big`` (|x| > lambda; ``big`` is overwritten): Torch7's else branch, which a NaN x takes
    too (x * 0 and x - x would keep the NaN)."""
    xp.logical_not(big, out=big)
    xp.copyto(out, 0, where=big)


class HardShrink(_Shrink):
    """y = x if |x| > lambda else 0."""
    _op = 'hardshrink'

    def _f(self, xp, x, out):
        m = self._big(xp, x)
        xp.multiply(x, m, out=out)
        _zero_where_small(xp, out, m)


class SoftShrink(_Shrink):
    """y = x - lambda if x > lambda, x + lambda if x < -lambda, else 0."""
    _op = 'softshrink'

    def _f(self, xp, x, out):
        lam = self.__dict__['lambda']
        tmp = self._buffer('_tmp', x.shape)
        xp.clip(x, -lam, lam, out=tmp)
        xp.subtract(x, tmp, out=out)
        _zero_where_small(xp, out, self._big(xp, x))


# -- smooth functions ------------------------------------------------------------------------------------
class SoftPlus(_Elementwise):
    """y = log(1 + exp(beta * x)) / beta, and y = x where beta * x > threshold (Torch7's cut-off)."""

    def __init__(self, beta=1, threshold=20):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    _op = 'softplus'

    def _kargs(self, x):
        return self.beta, self.threshold

    def _f(self, xp, x, out):
        b = self.beta
        z = self._buffer('_tmp', x.shape)
        m = self._bools('_m', x.shape)
        xp.multiply(x, b, out=z)
        xp.greater(z, self.threshold, out=m)
        # log1p(exp(z)) = max(z, 0) + log1p(exp(-|z|)), which cannot overflow
        t2 = self._buffer('_tmp2', x.shape)
        xp.abs(z, out=t2)
        xp.negative(t2, out=t2)
        xp.exp(t2, out=t2)
        xp.log1p(t2, out=t2)
        xp.clip(z, 0, _INF, out=z)
        xp.add(z, t2, out=out)
        if b != 1:
            out /= b
        xp.copyto(out, x, where=m)

    def _df(self, xp, x, y, g, out):
        # Torch7: z = exp(beta * y); g * (z - 1) / z = g * (1 - exp(-beta * y)); g where beta * y > threshold
        f = self._buffer('_tmp', x.shape)
        m = self._bools('_m', x.shape)
        xp.multiply(y, -self.beta, out=f)
        xp.less(f, -self.threshold, out=m)
        xp.expm1(f, out=f)
        xp.negative(f, out=f)
        xp.copyto(f, 1, where=m)
        xp.multiply(g, f, out=out)


class SoftSign(_Elementwise):
    """y = x / (1 + |x|)."""
    _op = 'softsign'

    def _f(self, xp, x, out):
        tmp = self._buffer('_tmp', x.shape)
        xp.abs(x, out=tmp)
        tmp += 1
        xp.divide(x, tmp, out=out)

    def _df(self, xp, x, y, g, out):
        tmp = self._buffer('_tmp', x.shape)
        xp.abs(x, out=tmp)
        tmp += 1
        tmp *= tmp
        xp.divide(g, tmp, out=out)


class LogSigmoid(_Elementwise):
    """y = log(1 / (1 + exp(-x))), computed as min(x, 0) - log(1 + exp(-|x|)) (no overflow)."""

    def __init__(self):
        super().__init__()
        self.buffer = self._tcls()        # Torch7's field (THNN's scratch), kept for .t7 compatibility

    _op = 'logsigmoid'

    def _f(self, xp, x, out):
        tmp = self._buffer('_tmp', x.shape)
        xp.abs(x, out=tmp)
        xp.negative(tmp, out=tmp)
        xp.exp(tmp, out=tmp)
        xp.log1p(tmp, out=tmp)
        xp.clip(x, -_INF, 0, out=out)
        out -= tmp

    def _df(self, xp, x, y, g, out):
        # dy/dx = 1 / (1 + exp(x)) = 1 - exp(y)
        tmp = self._buffer('_tmp', x.shape)
        xp.expm1(y, out=tmp)
        xp.negative(tmp, out=tmp)
        xp.multiply(g, tmp, out=out)


class TanhShrink(_Elementwise):
    """y = x - tanh(x) (Torch7 keeps an nn.Tanh in the field ``tanh``)."""

    def __init__(self):
        super().__init__()
        self.tanh = Tanh()

    def _cuda_f(self, xp, x, out):       # one launch writing the output and tanh.output
        if not gpu_elementwise.forward('tanhshrink', x, out, aux=resized(self.tanh.output, x.shape)):
            self._f(xp, x, out)

    def _cuda_df(self, xp, x, y, g, out):
        if not gpu_elementwise.backward('tanhshrink', x, self.tanh.output._a, g, out):
            self._df(xp, x, y, g, out)

    def _f(self, xp, x, out):
        th = resized(self.tanh.output, x.shape)
        xp.tanh(x, out=th)
        xp.subtract(x, th, out=out)

    def _df(self, xp, x, y, g, out):
        th = self.tanh.output._a
        if th.shape != x.shape:
            th = xp.tanh(x)
        xp.multiply(th, th, out=out)
        out *= g


class Exp(_Elementwise):
    _op = 'exp'

    def _f(self, xp, x, out):
        xp.exp(x, out=out)

    def _df(self, xp, x, y, g, out):
        xp.multiply(g, y, out=out)


class Log(_Elementwise):
    _op = 'log'

    def _f(self, xp, x, out):
        xp.log(x, out=out)

    def _df(self, xp, x, y, g, out):
        xp.divide(g, x, out=out)


class Abs(_Elementwise):
    """y = |x|; the gradient is -g where x < 0, g elsewhere (at 0 too, as Torch7)."""
    _op = 'abs'

    def _f(self, xp, x, out):
        xp.abs(x, out=out)

    def _df(self, xp, x, y, g, out):
        f = self._buffer('_fac', x.shape)
        xp.less(x, 0, out=f)
        f *= -2
        f += 1
        xp.multiply(g, f, out=out)


class Square(_Elementwise):
    _op = 'square'

    def _f(self, xp, x, out):
        xp.multiply(x, x, out=out)

    def _df(self, xp, x, y, g, out):
        xp.multiply(x, g, out=out)
        out *= 2


class Sqrt(_Elementwise):
    """y = sqrt(x + eps); the gradient is 0 where y == 0 (Torch7)."""

    def __init__(self, b=0):
        super().__init__()
        self.eps = b

    _op = 'sqrt'

    def _kargs(self, x):
        return (self.eps,)

    def _f(self, xp, x, out):
        if self.eps:
            xp.add(x, self.eps, out=out)
            xp.sqrt(out, out=out)
        else:
            xp.sqrt(x, out=out)

    def _df(self, xp, x, y, g, out):
        d = self._buffer('_tmp', x.shape)
        xp.equal(y, 0, out=d)
        d += y                            # y, or 1 where y == 0
        xp.divide(g, d, out=out)
        out *= 0.5
        xp.not_equal(y, 0, out=d)
        out *= d


class Power(_Elementwise):
    """y = x ^ p (field ``pow``)."""

    def __init__(self, p):
        super().__init__()
        if p is None or not isinstance(p, numbers.Real):
            raise TypeError(f"nn.Power(power): expected a number, got {p!r}")
        self.pow = p

    @property
    def _op(self):
        return 'square' if self.pow == 2 else 'pow'

    def _kargs(self, x):
        return self.pow, self.pow - 1

    def _f(self, xp, x, out):
        if self.pow == 2:
            xp.multiply(x, x, out=out)
        else:
            xp.power(x, self.pow, out=out)

    def _df(self, xp, x, y, g, out):
        p = self.pow
        if p == 2:
            xp.multiply(x, g, out=out)
            out *= 2
            return
        xp.power(x, p - 1, out=out)
        out *= g
        out *= p


# -- the SoftMax family ----------------------------------------------------------------------------------
class _SoftMaxBase(Module):
    """Over the last dim of a 1-D input or a 2-D batch; over dim -3 (the feature planes) of a 3-D (planes x h x w)
    or 4-D (batch x planes x h x w) input, as Torch7's THNN."""

    def _axis(self, x):
        if x.ndim in (1, 2):
            axis = x.ndim - 1
        elif x.ndim in (3, 4):
            axis = x.ndim - 3
        else:
            raise ValueError(f"{self!r}: expected a 1-D, 2-D (batch), 3-D or 4-D input, got size {sizestr(x.shape)}")
        if x.shape[axis] == 0:
            raise ValueError(f"{self!r}: got an input with no values along dim {axis} (size {sizestr(x.shape)}): "
                             f"expected at least one")
        return axis

    def _grad_args(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_like_input(self, x, g)
        y = self.output._a
        if y.shape != x.shape:
            self.updateOutput(input)
            y = self.output._a
        return x, g, y


class SoftMax(_SoftMaxBase):
    """y_i = exp(x_i) / sum_j exp(x_j) (with the max subtracted first, so large inputs stay finite)."""

    def updateOutput(self, input):
        x = self._coerce(input)._a
        # exp(x - max) / sum(exp(x - max)) (backend/gpu_loss.py; CUDA: one launch)
        gpu_loss.softmax(self, x, resized(self.output, x.shape), self._axis(x), False)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, g, y = self._grad_args(input, gradOutput)
        # y * (g - sum(g * y)) (CUDA: one launch)
        gpu_loss.softmax_grad(self, y, g, resized(self.gradInput, x.shape), self._axis(x), False)
        return self.gradInput


class SoftMin(_SoftMaxBase):
    """SoftMax of -x."""

    def updateOutput(self, input):
        x = self._coerce(input)._a
        neg = self._buffer('_mininput', x.shape)
        array_module(x).negative(x, out=neg)
        gpu_loss.softmax(self, neg, resized(self.output, x.shape), self._axis(x), False)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, g, y = self._grad_args(input, gradOutput)
        out = resized(self.gradInput, x.shape)
        gpu_loss.softmax_grad(self, y, g, out, self._axis(x), False)
        array_module(x).negative(out, out=out)
        return self.gradInput


class LogSoftMax(_SoftMaxBase):
    """y_i = x_i - log(sum_j exp(x_j)) (computed as x_i - max - log(sum_j exp(x_j - max)))."""

    def updateOutput(self, input):
        x = self._coerce(input)._a
        gpu_loss.softmax(self, x, resized(self.output, x.shape), self._axis(x), True)     # (CUDA: one launch)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x, g, y = self._grad_args(input, gradOutput)
        # g - exp(y) * sum(g) (CUDA: one launch)
        gpu_loss.softmax_grad(self, y, g, resized(self.gradInput, x.shape), self._axis(x), True)
        return self.gradInput

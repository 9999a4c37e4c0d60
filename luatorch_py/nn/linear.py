"""Linear layers and their kin: Linear, Bilinear, Add, Mul, CAdd, CMul, Euclidean."""
import math

import numpy as np

from .. import backend
from ..backend import array_module
from ..tensor import _parse_sizes, CPU_LONG_STORAGE, Tensor
from .module import (Module, check_grad_like_input, check_grad_size, lazy_zero, pair_grad, pair_input,
                     resized, sizestr, zero_later)

_add_reduce = np.add.reduce     # the ufunc's method itself (ndarray.sum goes through Python wrappers)
_LAZY_ZERO_MIN = backend.LAZY_ZERO_MIN


def _reset_uniform(stdv, fan_in, *params):
    """Torch7's reset of this family: each parameter (None: skipped) drawn in turn from the global stream,
    uniform in [-s, s] with s = stdv * sqrt(3) when ``stdv`` is given, else 1 / sqrt(fan_in)."""
    s = stdv * math.sqrt(3) if stdv is not None else 1.0 / math.sqrt(fan_in)
    for p in params:
        if p is not None:
            p.uniform(-s, s)


def _acc_weight(module, gw, a, b, scale):
    """gradWeight (its array ``gw``) += scale * a @ b (one cuBLAS call on the GPU; a kept buffer on the CPU), or
    written over it when zeroGradParameters left it pending (module.zero_later)."""
    if module.__dict__.get('_zero_gradWeight'):
        backend.mm_over(gw, a, b, scale)
        del module.__dict__['_zero_gradWeight']     # (after: a product that raised leaves it pending, zeros)
    else:
        backend.addmm(gw, a, b, scale, module._buffer, '_gw')


def _acc_bias(module, g, axis, scale):
    """gradBias += scale * (g summed over ``axis``)."""
    backend.add_sums(module.gradBias._a, g, axis, scale, module._buffer, '_gb')


class _WeightBias(Module):
    """What Linear and the convolutions share: a ``weight`` and an optional ``bias`` (Torch7's noBias drops it),
    drawn together by reset over the fan-in the subclass gives (``_fan_in()``)."""

    gradWeight = lazy_zero('gradWeight')     # (see zeroGradParameters)
    # set (True) on each class whose accGradParameters adds to gradWeight only through _acc_weight, reading the
    # field from the dict: its zeroGradParameters may leave a large gradWeight to that accumulation (looked up in
    # the class's own dict: a subclass is not one unless it says so)
    _lazy_zero_gw = False

    def zeroGradParameters(self):
        """Module's, but a large CPU gradWeight nobody else holds is zeroed lazily (module.zero_later): its next
        accumulation writes over it, and any read before sees zeros."""
        d = self.__dict__
        t = d.get('gradWeight')
        if t is None or not type(self).__dict__.get('_lazy_zero_gw'):
            return Module.zeroGradParameters(self)
        if t._a.size <= _LAZY_ZERO_MIN:
            t._a.fill(0)
        else:
            t = None                    # (no local reference while _unheld counts)
            if not zero_later(self, 'gradWeight'):
                d['gradWeight']._a.fill(0)
        t = d.get('gradBias')
        if t is not None:
            t._a.fill(0)

    def noBias(self):
        self.__dict__.pop('bias', None)
        self.__dict__.pop('gradBias', None)
        return self

    def __setattr__(self, name, value):
        # Lua's `m.bias = nil; m.gradBias = nil` (fb.resnet.torch's ConvInit, dcgan-style weights_init) is noBias():
        # a bias field holding None would be taken for a bias
        if value is None and name in ('bias', 'gradBias'):
            self.__dict__.pop(name, None)
        else:
            super().__setattr__(name, value)

    def reset(self, stdv=None):
        # Torch7's order: the whole weight (row-major), then the bias, from the global stream
        _reset_uniform(stdv, self._fan_in(), self.weight, self.__dict__.get('bias'))
        return self

    def _bias_note(self):
        """The end of __repr__: ' without bias' after noBias (Torch7's wording)."""
        return '' if 'bias' in self.__dict__ else ' without bias'


def _pass_grad(module, input, gradOutput):
    """updateGradInput of y = x + b: gradInput is a copy of gradOutput (which must have the input's size); None
    when gradInput is None (Torch7's idiom for a first layer, as Linear)."""
    if module.gradInput is None:
        return None
    x = module._coerce(input)._a
    g = module._coerce(gradOutput, 'gradOutput')._a
    check_grad_like_input(module, x, g)
    resized(module.gradInput, g.shape)[...] = g
    return module.gradInput


class Linear(_WeightBias):
    """y = x W^T + b, for a 1-D input of ``inputSize`` or a 2-D batch of them."""
    _lazy_zero_gw = True

    def _own_refs(self, name, a):
        h = self.__dict__.get('_hot_b')
        return 0 if h is None else (h[7] is a)

    def __init__(self, inputSize, outputSize, bias=True):
        super().__init__()
        self.weight = self._tcls(outputSize, inputSize)
        self.gradWeight = self._tcls(outputSize, inputSize)
        if bias:
            self.bias = self._tcls(outputSize)
            self.gradBias = self._tcls(outputSize)
        self.reset()

    def _fan_in(self):
        return self.weight.size(1)

    def _params_checked(self):
        """The weight's array, after checking that weight and bias (fields a user may set) fit together."""
        w, b = self.__dict__.get('weight'), self.__dict__.get('bias')
        if not isinstance(w, Tensor) or w._a.ndim != 2 or (b is not None and (
                not isinstance(b, Tensor) or b._a.shape != (w._a.shape[0],))):
            ws = sizestr(w._a.shape) if isinstance(w, Tensor) else type(w).__name__
            bs = 'none' if b is None else sizestr(b._a.shape) if isinstance(b, Tensor) else type(b).__name__
            raise ValueError(f"nn.Linear: expected a 2-D weight tensor (outputSize x inputSize) and a bias of "
                             f"outputSize elements, got weight {ws} and bias {bs}")
        return w._a

    def _check(self, x):
        n = self.weight._a.shape[1]
        if (x.ndim != 1 and x.ndim != 2) or x.shape[-1] != n:
            raise ValueError(f"{self!r}: expected input of size [*, {n}] (1-D or 2-D), got {sizestr(x.shape)}")

    # The CPU steady state of a training loop: once a call has met the arrays (input, weight, bias, output; and in
    # backward gradOutput and the gradients), they are kept in _hot_f / _hot_b with the views the pass uses, and a
    # later call with these very arrays (identity checks: an array's size and memory do not change under it) runs
    # the numpy calls alone.  Anything else takes the general path, which checks and sets the fields up.
    def updateOutput(self, input):
        d = self.__dict__
        h = d.get('_hot_f')
        if (h is not None and input.__class__ is h[0] and input._a is h[1] and self.weight._a is h[2]
                and self.output._a is h[4] and d.get('bias') is h[5] and (h[5] is None or h[5]._a is h[6])):
            out = h[4]
            np.matmul(h[1], h[3], out=out)
            if h[6] is not None:
                out += h[6]
            return self.output
        x = input._a if input.__class__ is self._tcls else self._coerce(input)._a
        w = self._params_checked()
        if x.ndim == 2 and x.shape[1] == w.shape[1]:
            shape = (x.shape[0], w.shape[0])
        else:
            self._check(x)
            shape = x.shape[:-1] + (w.shape[0],)
        o = self.output
        out = o._a
        if out.shape != shape:
            out = resized(o, shape)
        b = d.get('bias')
        wT = w.T
        backend.matmul(x, wT, out)
        if type(out) is np.ndarray and input.__class__ is self._tcls and self.__class__ is Linear:
            d['_hot_f'] = (input.__class__, x, w, wT, out, b, None if b is None else b._a)
        if b is not None:
            out += b._a
        return o

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:      # Torch7's idiom: a first layer whose dL/dinput nobody reads
            return None
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        w = self.weight._a
        want = x.shape[:-1] + (w.shape[0],)
        if g.shape != want:
            self._check(x)
            check_grad_size(self, g, want)
        gi = resized(self.gradInput, x.shape)
        backend.matmul(g, w, gi)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        if x.ndim == 1:
            x, g = x[None], g[None]
        _acc_weight(self, self.__dict__['gradWeight']._a, g.T, x, scale)
        if 'bias' in self.__dict__:
            _acc_bias(self, g, 0, scale)

    def backward(self, input, gradOutput, scale=1):
        """updateGradInput then accGradParameters (Module's backward), for a batch in one pass over the checks."""
        d = self.__dict__
        h = d.get('_hot_b')
        if (h is not None and scale == 1 and input.__class__ is h[0] and gradOutput.__class__ is h[0]
                and input._a is h[1] and gradOutput._a is h[2] and self.weight._a is h[4]
                and d.get('gradInput') is h[5] and (h[5] is None or h[5]._a is h[6])
                and d['gradWeight']._a is h[7] and ('bias' in d) is (h[9] is not None)
                and (h[9] is None or d['gradBias']._a is h[9])
                and 'accGradParameters' not in d and 'updateGradInput' not in d):
            _, x, g, gT, w, gi, a, gw, pw, gb, tb, ones = h
            if a is not None:
                np.matmul(g, w, out=a)
            if pw is not None:
                np.matmul(pw[0], pw[1], out=pw[2])
                gw += pw[3]
            else:
                _acc_weight(self, gw, gT, x, 1)
            if gb is not None:       # (backend.sum_into, inline)
                if ones is None:
                    _add_reduce(g, 0, None, tb)
                else:
                    np.matmul(ones, g, out=tb)
                gb += tb
            return gi
        tc = self._tcls
        if self.__class__ is not Linear or input.__class__ is not tc or gradOutput.__class__ is not tc:
            return Module.backward(self, input, gradOutput, scale)       # (subclasses, numpy inputs, errors)
        x, g, w = input._a, gradOutput._a, self.weight._a
        if x.ndim != 2 or g.ndim != 2 or x.shape[1] != w.shape[1] or g.shape[1] != w.shape[0] \
                or g.shape[0] != x.shape[0]:
            return Module.backward(self, input, gradOutput, scale)
        if 'accGradParameters' in d or 'updateGradInput' in d:     # Torch7's idiom to freeze a layer: an instance's
            return Module.backward(self, input, gradOutput, scale)  # m.accGradParameters = lambda *a: None
        gi = d.get('gradInput')
        if gi is not None:
            a = gi._a
            if a.shape != x.shape:
                a = resized(gi, x.shape)
            backend.matmul(g, w, a)
        gw = d['gradWeight']._a
        gb = d['gradBias']._a if 'bias' in d else None
        if type(gw) is np.ndarray and scale == 1:
            # on the CPU, add_sums's first branch inline, and for a small layer addmm's too (their scratch arrays
            # kept in _hot_b for the calls that follow): the per-call overhead is most of its cost
            gT = g.T
            pw = None
            if gw.size <= backend._CHUNK:
                pw = backend.product_plan(gw, gT, x, self._buffer, '_gw')
                np.matmul(pw[0], pw[1], out=pw[2])
                gw += pw[3]
            else:
                _acc_weight(self, gw, gT, x, 1)
            tb = ones = None
            if gb is not None:
                tb = self._buffer('_gb', gb.shape)
                ones = backend.ones_for_sum(g, 0, tb)
                backend.sum_into(tb, g, 0, ones)
                gb += tb
            d['_hot_b'] = (tc, x, g, gT, w, gi, None if gi is None else gi._a, gw, pw, gb, tb, ones)
            return gi
        _acc_weight(self, gw, g.T, x, scale)
        if gb is not None:
            backend.add_sums(gb, g, 0, scale, self._buffer, '_gb')
        return gi

    def __repr__(self):
        return f"{self.__torch_name__}({self.weight.size(1)} -> {self.weight.size(0)})" + self._bias_note()


class Bilinear(Module):
    """y_k = x1^T W_k x2 + b_k for a table input ``[x1, x2]`` (batches n x inputSize1 and n x inputSize2; a
    non-batch pair of vectors also works); weight is outputSize x inputSize1 x inputSize2."""

    def __init__(self, inputSize1, inputSize2, outputSize, bias=True):
        for n in (inputSize1, inputSize2, outputSize):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
                raise ValueError(f"nn.Bilinear: inputSize1, inputSize2 and outputSize must be positive ints, "
                                 f"got {inputSize1}, {inputSize2}, {outputSize}")
        super().__init__()
        self.weight = self._tcls(outputSize, inputSize1, inputSize2)
        self.gradWeight = self._tcls(outputSize, inputSize1, inputSize2)
        if bias:
            self.bias = self._tcls(outputSize)
            self.gradBias = self._tcls(outputSize)
        self.gradInput = [self._tcls(), self._tcls()]
        self.reset()

    def reset(self, stdv=None):
        if stdv is not None and stdv <= 0:
            raise ValueError(f"{self!r}: standard deviation should be a positive number, got {stdv}")
        _reset_uniform(stdv, self.weight.size(1), self.weight, self.__dict__.get('bias'))
        return self

    def _inputs(self, input):
        a, b = pair_input(self, input)
        _, n1, n2 = self.weight._a.shape
        if a.ndim != b.ndim or a.ndim not in (1, 2) or a.shape[-1] != n1 or b.shape[-1] != n2 \
                or a.shape[:-1] != b.shape[:-1]:
            raise ValueError(f"{self!r}: expected inputs of sizes [n, {n1}] and [n, {n2}] (or [{n1}] and [{n2}]), "
                             f"got {sizestr(a.shape)} and {sizestr(b.shape)}")
        return a.reshape(-1, n1), b.reshape(-1, n2), a.ndim == 1

    def _grad(self, a, single, gradOutput):
        g = self._coerce(gradOutput, 'gradOutput')._a
        k = self.weight._a.shape[0]
        check_grad_size(self, g, (k,) if single else (a.shape[0], k))
        return g.reshape(-1, k)

    def updateOutput(self, input):
        a, b, single = self._inputs(input)
        w = self.weight._a
        xp = array_module(w)
        k, n = w.shape[0], a.shape[0]
        t = self._buffer('_t2', (k, n, w.shape[2]))
        xp.matmul(a, w, out=t)                 # t[k, i, :] = x1_i^T W_k
        t *= b
        s = self._buffer('_s', (k, n))
        xp.sum(t, axis=2, out=s)
        out = resized(self.output, (k,) if single else (n, k))
        out2 = out.reshape(n, k)
        if 'bias' in self.__dict__:
            xp.add(s.T, self.bias._a, out=out2)
        else:
            out2[...] = s.T
        return self.output

    def updateGradInput(self, input, gradOutput):
        a, b, single = self._inputs(input)
        g = self._grad(a, single, gradOutput)
        w = self.weight._a
        xp = array_module(w)
        k, n = w.shape[0], a.shape[0]
        gi1, gi2 = pair_grad(self, ((w.shape[1],), (w.shape[2],)) if single else (a.shape, b.shape))
        gT = g.T[:, :, None]
        t1 = self._buffer('_t1', (k, n, w.shape[1]))
        xp.matmul(b, w.transpose(0, 2, 1), out=t1)     # t1[k, i, :] = W_k x2_i
        t1 *= gT
        xp.sum(t1, axis=0, out=gi1.reshape(n, -1))
        t2 = self._buffer('_t2', (k, n, w.shape[2]))
        xp.matmul(a, w, out=t2)                         # t2[k, i, :] = x1_i^T W_k
        t2 *= gT
        xp.sum(t2, axis=0, out=gi2.reshape(n, -1))
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        # Torch7 forgets ``scale`` on gradWeight (and asserts scale >= 0); here both parameters get it, so that
        # accUpdateGradParameters (scale = -lr) works
        a, b, single = self._inputs(input)
        g = self._grad(a, single, gradOutput)
        w = self.weight._a
        xp = array_module(w)
        k, n = w.shape[0], a.shape[0]
        t1 = self._buffer('_t1', (k, n, w.shape[1]))
        xp.multiply(a, g.T[:, :, None], out=t1)         # t1[k, i, :] = g_ik x1_i
        _acc_weight(self, self.gradWeight._a, t1.transpose(0, 2, 1), b, scale)    # sum_i g_ik x1_i x2_i^T
        if 'bias' in self.__dict__:
            _acc_bias(self, g, 0, scale)

    def __repr__(self):
        k, n1, n2 = self.weight._a.shape
        # Torch7's format, trailing space included: '(%dx%d -> %d) %s'
        return f"{self.__torch_name__}({n1}x{n2} -> {k}) {'' if 'bias' in self.__dict__ else ' without bias'}"


class Add(Module):
    """y = x + b: a learnt bias of ``inputSize`` (one number added everywhere with ``scalar=True``).  A batch is
    any input whose first dim indexes examples of bias.nElement() values each."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    scalar = False

    def __init__(self, inputSize, scalar=False):
        super().__init__()
        size = 1 if scalar else inputSize
        self.scalar = bool(scalar)
        self.bias = self._tcls(size)
        self.gradBias = self._tcls(size)
        self.reset()

    def reset(self, stdv=None):
        _reset_uniform(stdv, self.bias.size(0), self.bias)
        return self

    def _views(self, x):
        """(x as [batch, n] or the bias' shape, bias viewed to broadcast against it)."""
        b = self.bias._a
        if self.scalar:
            return x, b.reshape((1,) * x.ndim) if x.ndim else b
        if x.shape == b.shape:
            return x, b
        n = b.shape[0]
        if x.ndim >= 2 and x.size == x.shape[0] * n:
            return x.reshape(x.shape[0], n), b
        raise ValueError(f"{self!r}: expected input of size [{n}] or [batch, {n}] (or [batch, ...] with {n} "
                         f"elements per example), got {sizestr(x.shape)}")

    def updateOutput(self, input):
        x = self._coerce(input)._a
        xv, bv = self._views(x)
        out = resized(self.output, x.shape)
        array_module(x).add(xv, bv, out=out.reshape(xv.shape))
        return self.output

    updateGradInput = _pass_grad

    def accGradParameters(self, input, gradOutput, scale=1):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        xp = array_module(x)
        gb = self.gradBias._a
        check_grad_like_input(self, x, g)
        gv, _ = self._views(g)
        t = self._buffer('_gb', gb.shape)
        if self.scalar:
            xp.sum(g, out=t.reshape(()))
        elif gv.shape == gb.shape:
            t[...] = gv
        else:
            xp.sum(gv, axis=0, out=t)
        if scale != 1:
            t *= scale
        gb += t


class Mul(Module):
    """y = w x with one learnt number w."""

    def __init__(self, *unused):   # old Torch7 scripts pass an inputSize, which Torch7 ignores
        super().__init__()
        self.weight = self._tcls(1)
        self.gradWeight = self._tcls(1)
        self.reset()

    def reset(self, stdv=None):
        _reset_uniform(stdv, self.weight.size(0), self.weight)
        return self

    def updateOutput(self, input):
        x = self._coerce(input)._a
        array_module(x).multiply(x, self.weight._a.reshape((1,) * x.ndim), out=resized(self.output, x.shape))
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_like_input(self, x, g)
        array_module(g).multiply(g, self.weight._a.reshape((1,) * g.ndim), out=resized(self.gradInput, g.shape))
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_like_input(self, x, g)
        d = array_module(x).vdot(x.reshape(-1), g.reshape(-1))
        self.gradWeight._a[...] += scale * d if scale != 1 else d


def _param_views(module, x, p, name):
    """Views of input ``x`` and parameter ``p`` that broadcast as CMul/CAdd do, and the axes of x's view that a
    gradient must be summed over: (x_view, p_view, axes).  The three Torch7 cases: same number of elements (p
    takes x's shape); same number of dims (dims of size 1 in p expand); else x is a batch (first dim) of
    p.nElement() values each."""
    if x.size == p.size:
        return x, p.reshape(x.shape), ()
    if p.ndim == x.ndim:
        if all(n == m or n == 1 for n, m in zip(p.shape, x.shape)):
            return x, p, tuple(d for d, (n, m) in enumerate(zip(p.shape, x.shape)) if n == 1 and m != 1)
    elif x.ndim >= 1 and x.shape[0] and x.size == x.shape[0] * p.size:
        return x.reshape(x.shape[0], p.size), p.reshape(1, p.size), (0,)
    raise ValueError(f"{module!r}: input of size {sizestr(x.shape)} does not fit the {name} of size "
                     f"{sizestr(p.shape)} (expected the same number of elements, dims of size 1 to expand, or a "
                     f"batch of [{p.size}])")


def _acc_reduced(module, xp, src, pv, axes, target, scale):
    """target += scale * (src summed over ``axes`` to pv's shape), with a kept scratch buffer."""
    t = module._buffer('_gp', pv.shape)
    if axes:
        xp.sum(src, axis=axes, keepdims=True, out=t)
    else:
        t[...] = src
    if scale != 1:
        t *= scale
    target += t.reshape(target.shape)


class _CParam(Module):
    """What CAdd and CMul share: one learnt parameter of any ``size`` (ints or a LongStorage) in the field
    ``_param`` (gradient ``_grad``), combined with the input by the ufunc named ``_op``, broadcast as in Torch7."""
    _param = _grad = _op = None

    def __init__(self, *size):
        super().__init__()
        self.size = CPU_LONG_STORAGE(list(_parse_sizes(size, self.__torch_name__)))
        self.__dict__[self._param] = self._tcls(tuple(self.size))
        self.__dict__[self._grad] = self._tcls(tuple(self.size))
        self.reset()

    def reset(self, stdv=None):
        p = self.__dict__[self._param]
        _reset_uniform(stdv, p.nElement(), p)
        return self

    def updateOutput(self, input):
        x = self._coerce(input)._a
        xv, pv, _ = _param_views(self, x, self.__dict__[self._param]._a, self._param)
        out = resized(self.output, x.shape)
        getattr(array_module(x), self._op)(xv, pv, out=out.reshape(xv.shape))
        return self.output


class CAdd(_CParam):
    """y = x + b with a learnt bias of any ``size`` (ints or a LongStorage), broadcast as in Torch7."""
    _param, _grad, _op = 'bias', 'gradBias', 'add'

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:      # Torch7's CAdd makes a new one (self.gradInput or input.new())
            self.gradInput = self._tcls()
        return _pass_grad(self, input, gradOutput)

    def accGradParameters(self, input, gradOutput, scale=1):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_like_input(self, x, g)
        gv, pv, axes = _param_views(self, g, self.gradBias._a, 'bias')
        _acc_reduced(self, array_module(g), gv, pv, axes, self.gradBias._a, scale)


class CMul(_CParam):
    """y = x * w (elementwise) with a learnt weight of any ``size``, broadcast as in Torch7."""
    _param, _grad, _op = 'weight', 'gradWeight', 'multiply'

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:      # Torch7's idiom, as Linear
            return None
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_like_input(self, x, g)
        gv, pv, _ = _param_views(self, g, self.weight._a, 'weight')
        gi = resized(self.gradInput, g.shape)
        array_module(g).multiply(gv, pv, out=gi.reshape(gv.shape))
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_like_input(self, x, g)
        xp = array_module(x)
        xv, pv, axes = _param_views(self, x, self.gradWeight._a, 'weight')
        t = self._buffer('_xg', xv.shape)
        xp.multiply(xv, g.reshape(xv.shape), out=t)
        _acc_reduced(self, xp, t, pv, axes, self.gradWeight._a, scale)


class Euclidean(Module):
    """y_j = || x - w_j ||: the distances from the input to ``outputSize`` learnt centres (the columns of the
    inputSize x outputSize weight).  1-D input or a 2-D batch."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    fastBackward = True

    def __init__(self, inputSize, outputSize):
        super().__init__()
        self.weight = self._tcls(inputSize, outputSize)
        self.gradWeight = self._tcls(inputSize, outputSize)
        self.fastBackward = True
        self.reset()

    def reset(self, stdv=None):
        _reset_uniform(stdv, self.weight.size(0), self.weight)
        return self

    def _input(self, input):
        x = self._coerce(input)._a
        n = self.weight._a.shape[0]
        if x.ndim not in (1, 2) or x.shape[-1] != n:
            raise ValueError(f"{self!r}: expected input of size [*, {n}] (1-D or 2-D), got {sizestr(x.shape)}")
        return x, x.reshape(-1, n)

    def _differences(self, x2):
        """(x_i - w_j) for every example i and centre j: batch x inputSize x outputSize (kept, as Torch7)."""
        w = self.weight._a
        d = self._buffer('_diff', (x2.shape[0],) + w.shape)
        array_module(w).subtract(x2[:, :, None], w, out=d)
        return d

    def updateOutput(self, input):
        x, x2 = self._input(input)
        w = self.weight._a
        xp = array_module(w)
        d = self._differences(x2)
        sq = self._buffer('_sq', d.shape)
        xp.multiply(d, d, out=sq)
        out = resized(self.output, x.shape[:-1] + (w.shape[1],))
        o2 = out.reshape(x2.shape[0], w.shape[1])
        xp.sum(sq, axis=1, out=o2)
        xp.sqrt(o2, out=o2)
        return self.output

    def _scaled_diff(self, input, x, x2, gradOutput):
        """(x_i - w_j) * g_ij / (y_ij + 1e-7), batch x inputSize x outputSize (Torch7's _repeat2)."""
        g = self._coerce(gradOutput, 'gradOutput')._a
        k = self.weight._a.shape[1]
        want = x.shape[:-1] + (k,)
        check_grad_size(self, g, want)
        xp = array_module(g)
        y = self.output._a
        d = self.__dict__.get('_diff')
        if not self.fastBackward or y.shape != want or d is None or d.shape[0] != x2.shape[0]:
            self.updateOutput(input)
            y = self.output._a
        div = self._buffer('_div', (x2.shape[0], k))
        xp.add(y.reshape(x2.shape[0], k), 1e-7, out=div)   # Torch7's guard against division by zero
        xp.divide(g.reshape(x2.shape[0], k), div, out=div)
        r = self._buffer('_rep2', self.__dict__['_diff'].shape)
        xp.multiply(self.__dict__['_diff'], div[:, None, :], out=r)
        return r, xp

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:      # Torch7's idiom, as Linear
            return None
        x, x2 = self._input(input)
        r, xp = self._scaled_diff(input, x, x2, gradOutput)
        gi = resized(self.gradInput, x.shape)
        xp.sum(r, axis=2, out=gi.reshape(x2.shape))
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        # Torch7 reuses what updateGradInput left; this recomputes it, so accGradParameters stands alone
        x, x2 = self._input(input)
        r, xp = self._scaled_diff(input, x, x2, gradOutput)
        t = self._buffer('_gw', self.weight._a.shape)
        xp.sum(r, axis=0, out=t)
        t *= -scale
        self.gradWeight._a[...] += t

"""Batch normalization: BatchNormalization (N x D) and SpatialBatchNormalization (N x C x H x W).

As Torch7 (nn's BatchNormalization.lua over THNN's BatchNormalization.c, 2017):

- training (``train`` and a batch of more than one sample): each feature is normalized with the batch mean and
  the biased batch variance, y = (x - mean) * invstd * weight + bias with invstd = 1 / sqrt(var + eps);
  ``save_mean``/``save_std`` keep the batch mean and invstd; ``running_mean`` and ``running_var`` move by
  ``momentum`` towards the batch mean and the UNBIASED batch variance (sum / (n - 1));
- evaluation (or a batch of one sample, which THNN never uses for statistics): the running statistics are used
  and the gradient is simply gradOutput * invstd * weight;
- ``affine=False``: no weight/bias fields;
- 1-D (BatchNormalization) or 3-D (SpatialBatchNormalization) single samples are accepted in evaluation only.

Default init (``reset``): weight uniform in [0, 1) from the global stream, bias 0, running_mean 0, running_var 1.
"""
import numbers

import numpy as np

from ..backend import array_module, gpu_elementwise
from .module import Module, check_grad_like_input, field_out, sizestr


def _acc(xp):
    """The dtype the CPU's per-feature sums accumulate in: double, as THNN's (accreal), for a FloatTensor too
    (numpy's float32 sum down the batch axis of an N x C input adds the N values one by one, and drifted 50 times
    further than Torch7's or the CUDA kernel's); CuPy's own (the CUDA fallback for inputs the kernels do not take)."""
    return np.float64 if xp is np else None


class BatchNormalization(Module):
    """BatchNormalization(nOutput, eps=1e-5, momentum=0.1, affine=True) over a 2-D (batch x nOutput) input."""
    nDim = 2
    # defaults for fields a .t7 file may lack
    affine = True
    eps = 1e-5
    momentum = 0.1

    def __init__(self, nOutput, eps=1e-5, momentum=0.1, affine=None):
        super().__init__()
        name = self.__torch_name__
        if isinstance(nOutput, bool) or not isinstance(nOutput, numbers.Integral):
            raise TypeError(f"{name}: missing or bad argument #1 (the number of features), got {nOutput!r}")
        if nOutput <= 0:
            raise ValueError(f"{name}: the number of features must be positive, got {nOutput} (to drop the affine "
                             f"transform call {name[3:]}(nOutput, eps, momentum, False))")
        if affine is not None and not isinstance(affine, bool):
            raise TypeError(f"{name}: affine has to be True/False, got {affine!r}")
        self.affine = True if affine is None else affine
        self.eps = eps
        self.train = True
        self.momentum = momentum
        self.running_mean = self._tcls(nOutput).zero()
        self.running_var = self._tcls(nOutput).fill(1)
        if self.affine:
            self.weight = self._tcls(nOutput)
            self.bias = self._tcls(nOutput)
            self.gradWeight = self._tcls(nOutput)
            self.gradBias = self._tcls(nOutput)
            self.reset()

    def reset(self, stdv=None):
        if 'weight' in self.__dict__:
            self.weight.uniform()
        if 'bias' in self.__dict__:
            self.bias.zero()
        self.running_mean.zero()
        self.running_var.fill(1)
        return self

    def __repr__(self):
        return f"{self.__torch_name__} ({self.nDim}D) ({self._n_features()})"

    def _n_features(self):
        rm = self.__dict__.get('running_mean')
        return rm.nElement() if rm is not None else 0

    # -- checks ------------------------------------------------------------------------------------------
    def _compat(self):
        """Files from Torch7's version 1 keep running_std (1 / sqrt(var + eps)) instead of running_var."""
        if 'running_var' not in self.__dict__ and 'running_std' in self.__dict__:
            std = self.__dict__.pop('running_std')
            var = std._a ** -2 - self.eps
            self.running_var = self._tcls._from_array(var.astype(self._tinfo.dtype))

    def _batch(self, x, what='input'):
        """x as a batch (a leading axis added to a single sample in evaluation), checked."""
        n = self._n_features()
        nd = self.nDim
        if x.ndim == nd:
            xb = x
        elif x.ndim == nd - 1 and not self.train:
            xb = x[None]
        else:
            dims = 'batch x ' + str(n) + (' x height x width' if nd == 4 else '')
            raise ValueError(f"{self!r}: only mini-batch supported: expected a {nd}-D {what} ({dims}; a single "
                             f"{nd - 1}-D sample only in evaluate() mode), got size {sizestr(x.shape)}")
        if xb.shape[1] != n:
            raise ValueError(f"{self!r}: got a {xb.shape[1]}-feature {what} (size {sizestr(x.shape)}), expected {n}")
        for k in ('weight', 'bias', 'running_var'):
            t = self.__dict__.get(k)
            if t is not None and t._a.size != n:
                # a field set by hand to another size than running_mean (the number of features)
                raise ValueError(f"{self!r}: {k} of size {sizestr(t._a.shape)} does not match the {n} features "
                                 f"(running_mean of size [{n}])")
        if xb.size == 0 and xb.shape[0] != 0 and n != 0:
            # samples with no values: the batch statistics would be 0 / 0 (NaN, into the running ones)
            raise ValueError(f"{self!r}: got an empty {what} (size {sizestr(x.shape)}): expected planes of at least "
                             f"one value")
        return xb

    def _axes(self, xb):
        return (0,) + tuple(range(2, xb.ndim))

    def _bshape(self, xb):
        """Broadcast shape of per-feature values against the batch."""
        return (1, xb.shape[1]) + (1,) * (xb.ndim - 2)

    def _use_batch_stats(self, xb):
        return bool(self.train) and xb.shape[0] > 1

    def _stats(self, xp, xb, bshape):
        """(mean, invstd) as per-feature arrays for the current mode (training: the saved batch statistics)."""
        if self._use_batch_stats(xb):
            sm, ss = self.__dict__.get('save_mean'), self.__dict__.get('save_std')
            if sm is None or ss is None or sm._a.shape != (xb.shape[1],) or ss._a.shape != (xb.shape[1],):
                raise RuntimeError(f"{self!r}: must call updateOutput() (forward) first")
            return sm._a.reshape(bshape), ss._a.reshape(bshape)
        inv = self._buffer('_invstd', (xb.shape[1],))
        xp.add(self.running_var._a, self.eps, out=inv)
        xp.sqrt(inv, out=inv)
        xp.divide(1, inv, out=inv)
        return self.running_mean._a.reshape(bshape), inv.reshape(bshape)

    # -- forward -----------------------------------------------------------------------------------------
    def updateOutput(self, input):
        self._compat()
        x = self._coerce(input)._a
        xb = self._batch(x)
        xp = array_module(x)
        C = xb.shape[1]
        bshape = self._bshape(xb)
        axes = self._axes(xb)
        mean_b = field_out(self, 'save_mean', (C,))          # the batch statistics (training only)
        invstd_b = field_out(self, 'save_std', (C,))
        out = field_out(self, 'output', x.shape)
        outb = out if out.ndim == xb.ndim else out[None]
        if xp is not np and gpu_elementwise.batchnorm_forward(
                self, xb, outb, self._use_batch_stats(xb), mean_b, invstd_b, self.running_mean._a, self.running_var._a,
                self.weight._a if 'weight' in self.__dict__ else None,
                self.bias._a if 'bias' in self.__dict__ else None, self.eps, self.momentum):
            return self.output          # CUDA: 2 launches in training, 1 in evaluation
        if self._use_batch_stats(xb):
            n = xb.size // C
            mean, invstd = mean_b, invstd_b
            xp.sum(xb, axis=axes, out=mean, dtype=_acc(xp))
            mean /= n
            xc = outb                                   # centered input, in the output's memory
            xp.subtract(xb, mean.reshape(bshape), out=xc)
            sq = self._buffer('_sq', xb.shape)
            xp.multiply(xc, xc, out=sq)
            var_sum = self._buffer('_varsum', (C,))
            xp.sum(sq, axis=axes, out=var_sum, dtype=_acc(xp))
            # invstd = 1 / sqrt(sum / n + eps)  (0 where sum == 0 and eps == 0, as THNN)
            xp.divide(var_sum, n, out=invstd)
            invstd += self.eps
            xp.sqrt(invstd, out=invstd)
            with np.errstate(divide='ignore'):
                xp.divide(1, invstd, out=invstd)
            if self.eps == 0:
                xp.copyto(invstd, 0, where=var_sum == 0)
            # running statistics (the variance unbiased)
            m = self.momentum
            rm, rv = self.running_mean._a, self.running_var._a
            rm *= 1 - m
            rm += m * mean
            unbiased = self._buffer('_unbiased', (C,))
            xp.divide(var_sum, n - 1, out=unbiased)
            unbiased *= m
            rv *= 1 - m
            rv += unbiased
            xc *= invstd.reshape(bshape)
        else:
            mean, invstd = self._stats(xp, xb, bshape)
            xp.subtract(xb, mean, out=outb)
            outb *= invstd
        if 'weight' in self.__dict__:
            outb *= self.weight._a.reshape(bshape)
        if 'bias' in self.__dict__:
            outb += self.bias._a.reshape(bshape)
        return self.output

    # -- backward ----------------------------------------------------------------------------------------
    def _backward(self, input, gradOutput, scale, want_gi, want_params):
        self._compat()
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        xb = self._batch(x)
        check_grad_like_input(self, x, g)
        gb = g if g.ndim == xb.ndim else g[None]
        xp = array_module(x)
        C = xb.shape[1]
        n = xb.size // C
        bshape = self._bshape(xb)
        axes = self._axes(xb)
        train = self._use_batch_stats(xb)
        has_w = 'weight' in self.__dict__
        gw, gbias = self.__dict__.get('gradWeight'), self.__dict__.get('gradBias')
        gsum = self._buffer('_gsum', (C,))
        dotp = self._buffer('_dotp', (C,))
        if xp is not np and self._cuda_backward(xb, gb, x.shape, train, scale, want_gi, want_params, gsum, dotp):
            return
        mean, invstd = self._stats(xp, xb, bshape)
        xc = self._buffer('_xc', xb.shape)
        if (want_gi and train) or (want_params and (gw is not None or gbias is not None)):
            # sum(g) and dot(x - mean, g) per feature
            xp.sum(gb, axis=axes, out=gsum, dtype=_acc(xp))
            xp.subtract(xb, mean, out=xc)
            tmp = self._buffer('_sq', xb.shape)
            xp.multiply(xc, gb, out=tmp)
            xp.sum(tmp, axis=axes, out=dotp, dtype=_acc(xp))
        if want_gi:
            gi = field_out(self, 'gradInput', x.shape)
            gib = gi if gi.ndim == xb.ndim else gi[None]
            if train:
                # gi = (g - mean(g) - xc * dotp * invstd^2 / n) * invstd * w
                k = self._buffer('_k', (C,))
                xp.multiply(dotp, invstd.reshape(C), out=k)
                k *= invstd.reshape(C)
                k /= n
                xc *= k.reshape(bshape)
                xp.subtract(gb, xc, out=gib)
                gm = self._buffer('_gmean', (C,))
                xp.divide(gsum, n, out=gm)
                gib -= gm.reshape(bshape)
                gib *= invstd
            else:
                xp.multiply(gb, invstd, out=gib)
            if has_w:
                gib *= self.weight._a.reshape(bshape)
        if want_params:
            if gw is not None:
                tmp = self._buffer('_gw', (C,))
                xp.multiply(dotp, invstd.reshape(C), out=tmp)
                if scale != 1:
                    tmp *= scale
                gw._a[...] += tmp
            if gbias is not None:
                if scale != 1:
                    gsum *= scale
                gbias._a[...] += gsum

    def _cuda_backward(self, xb, gb, shape, train, scale, want_gi, want_params, gsum, dotp):
        """The backward by backend/gpu_elementwise.py's kernels (one per-channel reduction + one elementwise launch,
        each only when needed); False when they cannot take the arrays (nothing done)."""
        if train:
            mean, sd = self._stats(None, xb, (xb.shape[1],))     # the saved batch statistics (checked)
        else:
            mean, sd = self.running_mean._a, self.running_var._a
        gi = None
        if want_gi:
            gi = field_out(self, 'gradInput', shape)
            gi = gi if gi.ndim == xb.ndim else gi[None]
        gw = gbias = None
        if want_params:
            gw, gbias = self.__dict__.get('gradWeight'), self.__dict__.get('gradBias')
            gw, gbias = (gw._a if gw is not None else None), (gbias._a if gbias is not None else None)
        w = self.weight._a if 'weight' in self.__dict__ else None
        return gpu_elementwise.batchnorm_backward(self, xb, gb, gi, mean, sd, not train, self.eps, w, gsum, dotp, gw,
                                                  gbias, scale, train)

    def updateGradInput(self, input, gradOutput):
        self._backward(input, gradOutput, 1, True, False)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        self._backward(input, gradOutput, scale, False, True)

    def backward(self, input, gradOutput, scale=1):
        self._backward(input, gradOutput, scale, True, True)
        return self.gradInput

    def clearState(self):
        for name in ('save_mean', 'save_std'):
            if name in self.__dict__:
                self.__dict__[name] = self._tcls()
        return super().clearState()


class SpatialBatchNormalization(BatchNormalization):
    """SpatialBatchNormalization(nFeature, eps=1e-5, momentum=0.1, affine=True) over a 4-D (batch x nFeature x
    height x width) input: one mean/variance per feature plane, over the batch and all pixels."""
    nDim = 4

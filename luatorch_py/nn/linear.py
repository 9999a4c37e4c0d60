"""Linear layers."""
import math

from ..backend import array_module
from .module import Module, resized, sizestr


class Linear(Module):
    """y = x W^T + b, for a 1-D input of ``inputSize`` or a 2-D batch of them."""

    def __init__(self, inputSize, outputSize, bias=True):
        super().__init__()
        self.weight = self._tcls(outputSize, inputSize)
        self.gradWeight = self._tcls(outputSize, inputSize)
        if bias:
            self.bias = self._tcls(outputSize)
            self.gradBias = self._tcls(outputSize)
        self.reset()

    def noBias(self):
        self.__dict__.pop('bias', None)
        self.__dict__.pop('gradBias', None)
        return self

    def reset(self, stdv=None):
        # Torch7's order: the whole weight (out x in, row-major), then the bias, from the global stream
        stdv = stdv * math.sqrt(3) if stdv is not None else 1.0 / math.sqrt(self.weight.size(1))
        self.weight.uniform(-stdv, stdv)
        if 'bias' in self.__dict__:
            self.bias.uniform(-stdv, stdv)
        return self

    def _check(self, x):
        n = self.weight._a.shape[1]
        if (x.ndim != 1 and x.ndim != 2) or x.shape[-1] != n:
            raise ValueError(f"{self!r}: expected input of size [*, {n}] (1-D or 2-D), got {sizestr(x.shape)}")

    def updateOutput(self, input):
        x = self._coerce(input)._a
        w = self.weight._a
        if x.ndim != 2 or x.shape[1] != w.shape[1]:
            self._check(x)
        out = resized(self.output, x.shape[:-1] + (w.shape[0],))
        array_module(x).matmul(x, w.T, out=out)
        if 'bias' in self.__dict__:
            out += self.bias._a
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        w = self.weight._a
        if g.shape != x.shape[:-1] + (w.shape[0],):
            self._check(x)
            raise ValueError(f"{self!r}: expected gradOutput of size {sizestr(x.shape[:-1] + (w.shape[0],))}, "
                             f"got {sizestr(g.shape)}")
        gi = resized(self.gradInput, x.shape)
        array_module(x).matmul(g, w, out=gi)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        xp = array_module(x)
        gw = self.gradWeight._a
        tmp = self._buffer('_gw', gw.shape)
        if x.ndim == 2:
            xp.matmul(g.T, x, out=tmp)
        else:
            xp.multiply(g[:, None], x[None, :], out=tmp)
        if scale != 1:
            tmp *= scale
        gw += tmp
        if 'bias' in self.__dict__:
            gb = self.gradBias._a
            if x.ndim == 2:
                tb = self._buffer('_gb', gb.shape)
                xp.sum(g, axis=0, out=tb)
                if scale != 1:
                    tb *= scale
                gb += tb
            elif scale != 1:
                gb += scale * g
            else:
                gb += g

    def __repr__(self):
        s = f"{self.__torch_name__}({self.weight.size(1)} -> {self.weight.size(0)})"
        return s if 'bias' in self.__dict__ else s + ' without bias'

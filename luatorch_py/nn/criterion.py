"""Criterions: a loss (Python float) from (input, target), and its gradient with respect to the input."""
from ..backend import array_module
from ..tensor import Tensor
from .module import TypedObject, resized, sizestr


class Criterion(TypedObject):
    """Base of every criterion (Torch7's nn.Criterion): ``forward`` returns a Python float, ``backward`` the
    gradient tensor ``gradInput``."""
    __torch_name__ = 'nn.Criterion'

    def __init__(self):
        self._init_type()
        self.gradInput = self._tcls()
        self.output = 0.0

    def updateOutput(self, input, target):
        raise NotImplementedError

    def updateGradInput(self, input, target):
        raise NotImplementedError

    def forward(self, input, target):
        return self.updateOutput(input, target)

    def backward(self, input, target):
        return self.updateGradInput(input, target)

    __call__ = forward

    def _pair(self, input, target):
        """(input array, target array) of this criterion's type with equal sizes, or an error naming both."""
        x = self._coerce(input)._a
        t = self._coerce(target, 'target')._a
        if x.shape != t.shape:
            if x.size != t.size:
                raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} and target of size "
                                 f"{sizestr(t.shape)} differ")
            t = t.reshape(x.shape)
        return x, t

    def _loss(self, value):
        """Store and return the loss rounded to the criterion's element type (Torch7 keeps it as a `real`)."""
        self.output = float(self._tinfo.dtype.type(value)) if self._tinfo.is_floating else float(value)
        return self.output

    def clearState(self):
        for k in list(self.__dict__):
            if k.startswith('_') and k not in ('_type', '_tinfo', '_tcls'):
                del self.__dict__[k]
        if isinstance(self.__dict__.get('gradInput'), Tensor):
            self.gradInput = self._tcls()
        return self


class MSECriterion(Criterion):
    """Mean (or, without sizeAverage, summed) squared error."""

    def __init__(self, sizeAverage=True):
        super().__init__()
        self.sizeAverage = sizeAverage

    def updateOutput(self, input, target):
        x, t = self._pair(input, target)
        d = self._buffer('_diff', x.shape)
        array_module(x).subtract(x, t, out=d)
        d = d.reshape(-1)
        s = float(d @ d)
        return self._loss(s / x.size if self.sizeAverage else s)

    def updateGradInput(self, input, target):
        x, t = self._pair(input, target)
        gi = resized(self.gradInput, x.shape)
        array_module(x).subtract(x, t, out=gi)
        gi *= (2.0 / x.size) if self.sizeAverage else 2.0
        return self.gradInput

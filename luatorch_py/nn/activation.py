"""Transfer functions: elementwise, no parameters."""
from ..backend import array_module
from .module import Module, resized, sizestr


class Elementwise(Module):
    """Base for y = f(x) elementwise: subclasses give ``_f(xp, x, out)`` and ``_df(xp, x, y, gradOutput, out)``
    (out = gradOutput * f'(x), from x and/or the saved output y)."""

    def updateOutput(self, input):
        x = self._coerce(input)._a
        self._f(array_module(x), x, resized(self.output, x.shape))
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        if g.shape != x.shape:
            raise ValueError(f"{self!r}: gradOutput of size {sizestr(g.shape)} does not match input of size "
                             f"{sizestr(x.shape)}")
        self._df(array_module(x), x, self.output._a, g, resized(self.gradInput, x.shape))
        return self.gradInput


class Sigmoid(Elementwise):
    def _f(self, xp, x, out):
        xp.negative(x, out=out)
        xp.exp(out, out=out)
        out += 1
        xp.reciprocal(out, out=out)

    def _df(self, xp, x, y, g, out):
        xp.subtract(1, y, out=out)
        out *= y
        out *= g


class Tanh(Elementwise):
    def _f(self, xp, x, out):
        xp.tanh(x, out=out)

    def _df(self, xp, x, y, g, out):
        xp.multiply(y, y, out=out)
        xp.subtract(1, out, out=out)
        out *= g

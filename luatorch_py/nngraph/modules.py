"""nngraph's small modules: JustElement, JustTable (what split(1) and single-element tables use) and
ModuleFromCriterion (a criterion as a graph node)."""
from ..nn.module import Module, resized, set_aliased
from ..nn.table import _RefModule, _leaves
from ..nn.criterion import Criterion
from ..tensor import Tensor


class JustElement(_RefModule):
    """{x} -> x (the input is a table of one element); the gradient is {gradOutput}.  Numpy arrays are taken as
    tensors of the module's type, as by nn.Identity."""
    __torch_name__ = 'nngraph.JustElement'

    def __init__(self):
        super().__init__()
        self.gradInput = []

    def updateOutput(self, input):
        if not isinstance(input, (list, tuple)) or len(input) != 1:
            got = f'a list of {len(input)}' if isinstance(input, (list, tuple)) else f'a {type(input).__name__}'
            raise ValueError(f"nngraph.JustElement: expected a table of one element, got {got}")
        return set_aliased(self, 'output', _leaves(self, input[0]))

    def updateGradInput(self, input, gradOutput):
        if not isinstance(self.gradInput, list):
            self.gradInput = []
        self.gradInput[:] = [_leaves(self, gradOutput, 'gradOutput')]
        return self.gradInput


class JustTable(_RefModule):
    """x -> {x}; the gradient is gradOutput's one element."""
    __torch_name__ = 'nngraph.JustTable'

    def __init__(self):
        super().__init__()
        self.output = []

    def updateOutput(self, input):
        if not isinstance(self.output, list):
            self.output = []
        self.output[:] = [_leaves(self, input)]
        return self.output

    def updateGradInput(self, input, gradOutput):
        if not isinstance(gradOutput, (list, tuple)) or len(gradOutput) < 1:
            raise ValueError(f"nngraph.JustTable: expected gradOutput to be a table of one element, got "
                             f"{type(gradOutput).__name__}")
        return set_aliased(self, 'gradInput', _leaves(self, gradOutput[0], 'gradOutput'))


def _copy_scaled(t, src, scale):
    """``t`` resized as ``src`` and made ``src * scale`` (Lua's resizeAs(src):copy(src):mul(scale))."""
    a = resized(t, src._a.shape)
    a[...] = src._a
    a *= scale


class ModuleFromCriterion(Module):
    """A criterion as a module: input {prediction, target}, output a 1-element tensor holding the loss;
    gradInput {gradOutput[0] * d loss / d prediction, zeros like target} (no gradient flows to the target).
    ``nngraph.ModuleFromCriterion(nn.MSECriterion())([pred, target])`` puts a loss in a graph (Lua also allows
    ``nn.MSECriterion()({pred, target})``; here a criterion's call stays forward)."""

    def __init__(self, criterion):
        if not isinstance(criterion, Criterion):
            raise TypeError(f"nn.ModuleFromCriterion: expected a criterion, got {type(criterion).__name__}")
        super().__init__()
        self.criterion = criterion
        self.output = self._tcls(1)
        self.gradInput = [self._tcls(), self._tcls()]

    def _split(self, input):
        if not isinstance(input, (list, tuple)) or len(input) != 2:
            raise TypeError(f"nn.ModuleFromCriterion: expected input {{prediction, target}} (a list of two), got "
                            f"{type(input).__name__}")
        return input[0], input[1]

    def updateOutput(self, input):
        pred, target = self._split(input)
        out = self.output
        if out.__class__ is not self._tcls or out.nElement() != 1:
            out = self.output = self._tcls(1)
        out._a[0] = self.criterion.updateOutput(pred, target)
        return out

    def _loss_grad(self, gradOutput):
        """The gradient of the loss: gradOutput[0] of a tensor (its first element), list or array (Torch7's
        gradOutput[1])."""
        try:
            return gradOutput._a.reshape(-1)[0] if isinstance(gradOutput, Tensor) else gradOutput[0]
        except (TypeError, IndexError, KeyError):      # (None, a number, an empty tensor: numpy's words otherwise)
            got = f"an empty {gradOutput.type()}" if isinstance(gradOutput, Tensor) else type(gradOutput).__name__
            raise TypeError(f"{self!r}: expected gradOutput to be a 1-element tensor (the gradient of the loss), "
                            f"got {got}") from None

    def updateGradInput(self, input, gradOutput):
        pred, target = self._split(input)
        if isinstance(target, (list, tuple)):     # (else an empty gradient breaks a node further on)
            raise TypeError("nn.ModuleFromCriterion: backward expected the target to be a tensor (its gradient is "
                            "zeros of its size), got a table: table targets are not supported, as in Lua")
        go = self._loss_grad(gradOutput)
        gp = self.criterion.updateGradInput(pred, target)
        gi = self.gradInput
        if not isinstance(gi, list) or len(gi) != 2:
            gi = self.gradInput = [self._tcls(), self._tcls()]
        if isinstance(gp, (list, tuple)):
            if not isinstance(gi[0], list):
                gi[0] = [self._tcls() for _ in gp]
            for t, g in zip(gi[0], gp):
                _copy_scaled(t, g, go)
        else:
            if gi[0].__class__ is not self._tcls:
                gi[0] = self._tcls()
            _copy_scaled(gi[0], gp, go)
        if gi[1].__class__ is not self._tcls:
            gi[1] = self._tcls()
        tshape = target._a.shape if isinstance(target, Tensor) else getattr(target, 'shape', ())
        resized(gi[1], tuple(tshape)).fill(0)
        return gi

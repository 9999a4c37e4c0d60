"""nn.Convert: between data layouts named by letters ('bchw', 'bf', 'b', 'bt', ...; 'b' the batch dim), and to
the module's tensor type."""
from ..tensor import Tensor
from ..types import type_info
from .containers import Container, Sequential
from .module import check_nonempty, field_out, sizestr
from .shape import Reshape, Select, Transpose
from .table import Identity


class Convert(Container):
    """Convert(inputShape='b*', outputShape=inputShape): converts an input laid out as ``inputShape`` to
    ``outputShape`` (a 'b' is added in front of a shape without one).  Same letters in another order: a
    Transpose; to 'bf': a Reshape flattening each example; to 'b': a Select of the first 't' or single 'f'; 'b' to
    'bt': Reshape(1).  An input of another tensor type is first copied to the module's type; an input with fewer
    dims than the shape is one example (a batch of one in between).  The converter is built by the first forward
    and kept as ``modules[0]`` / ``converter``, as Torch7.  ``inputBatchDim`` / ``outputBatchDim`` are 0-based
    here (1-based in Lua and in files)."""

    _lua_index_fields = ('inputBatchDim', 'outputBatchDim')

    def __init__(self, inputShape=None, outputShape=None):
        if outputShape is not None and inputShape is None:
            raise ValueError("nn.Convert: expecting an inputShape (argument 1) when outputShape (argument 2) is given")
        inputShape = inputShape or 'b*'
        outputShape = outputShape or inputShape
        for s in (inputShape, outputShape):
            if not isinstance(s, str):
                raise TypeError(f"nn.Convert: shapes are strings of axis letters such as 'bchw', got {s!r}")
        self.inputShape = inputShape if 'b' in inputShape else 'b' + inputShape
        self.outputShape = outputShape if 'b' in outputShape else 'b' + outputShape
        self.inputBatchDim = self.inputShape.index('b')
        self.outputBatchDim = self.outputShape.index('b')
        if self.inputShape == 'b*' or self.outputShape == 'b*':
            if not (self.inputShape == 'b*' and self.outputShape == 'b*'):
                raise ValueError("nn.Convert: both or neither shapes must be b*")
            self.nInputDim = -1
            self.nOutputDim = -1
            self.transposition = True
        else:
            self.nInputDim = len(self.inputShape)
            self.nOutputDim = len(self.outputShape)
            if self.nInputDim == self.nOutputDim:
                self.transposition = all(c in self.outputShape for c in self.inputShape)
        super().__init__()

    # -- the converters Torch7 builds --------------------------------------------------------------------------
    def _axis(self, c, shape=None):
        shape = shape or self.inputShape
        if c not in shape:
            raise ValueError(f"{self!r}: provided shape {shape!r} has no axis {c!r}")
        return shape.index(c)

    def transpose(self, newShape):
        if newShape == self.inputShape:
            return Identity()
        cur = list(self.inputShape)
        pairs = []
        for i, c in enumerate(newShape):
            j = cur.index(c)
            if i != j:
                cur[i], cur[j] = cur[j], cur[i]
                pairs.append((j, i))
        return Transpose(*pairs)

    def bf(self, input):
        if self.inputShape == 'bt':
            raise ValueError(f"{self!r}: conversion of shape bt to bf not supported")
        b = self._axis('b')
        if len(self.inputShape) == 1:
            return Reshape(1)
        mod = Transpose((0, b)) if b != 0 else None
        if len(self.inputShape) > 2:
            reshape = Reshape(input.select(b, 0).nElement())
            mod = Sequential().add(mod).add(reshape) if mod is not None else reshape
        return mod or Identity()

    def b(self, input):
        if self.inputShape in ('bt', 'tb'):
            return Select(self._axis('t'), 0)
        if self.inputShape in ('bf', 'fb'):
            f = self._axis('f')
            if input.size(f) > 1:
                raise ValueError(f"{self!r}: cannot convert shape {self.inputShape} to b when feature > 1")
            return Select(f, 0)
        raise ValueError(f"{self!r}: cannot convert shape {self.inputShape} to shape b")

    def default(self, input=None):
        return Identity()

    def bt(self, input=None):
        if self.inputShape == 'b':
            return Reshape(1)
        raise ValueError(f"{self!r}: cannot convert shape {self.inputShape!r} to bt")

    def buildConverter(self, input):
        if self.__dict__.get('transposition'):
            conv = self.transpose(self.outputShape)
        else:
            fn = {'bf': self.bf, 'b': self.b, 'bt': self.bt, 'default': self.default}.get(self.outputShape)
            if fn is None:
                raise ValueError(f"{self!r}: unrecognized conversion of shape {self.inputShape} to "
                                 f"{self.outputShape}")
            conv = fn(input)
        conv.type(self._type)
        self.converter = conv
        self.modules = [conv]
        return conv

    # -- the protocol --------------------------------------------------------------------------------------------
    def _in(self, input):
        if not isinstance(input, Tensor):
            if isinstance(input, (list, tuple)):
                raise TypeError(f"{self!r}: expecting a tensor, got a list")
            input = self._coerce(input)
        if input.__class__ is not self._tcls:           # another type: copied to the module's
            field_out(self, '_input_c', input._a.shape)
            input = self._input_c.copy(input)
            self._converted = True
        else:
            self._converted = False
        check_nonempty(self, input._a)
        n = self.nInputDim
        if n > 0 and not n - 1 <= input.dim() <= n:
            raise ValueError(f"{self!r}: expected a {n}-D input ({self.inputShape}) or a {n - 1}-D example, got size "
                             f"{sizestr(input._a.shape)}")
        self.batchMode = True
        if input.dim() < self.nInputDim:               # one example: a batch of one
            shape = list(input._a.shape)
            shape.insert(self.inputBatchDim, 1)
            input = input.contiguous().view(*shape)
            self.batchMode = False
        return input

    def updateOutput(self, input):
        x = self._in(input)
        self._x = x
        if self.__dict__.get('converter') is None:
            self.buildConverter(x)
        out = self.converter.updateOutput(x)
        if not self.batchMode:
            shape = list(out._a.shape)
            del shape[self.outputBatchDim]
            out = out.contiguous().view(*shape)
        self.output = out
        return self.output

    def _grad_out(self, gradOutput):
        g = self._coerce(gradOutput, 'gradOutput')
        if not self.batchMode:
            want = self.converter.output._a.shape
            if g._a.size != self.converter.output._a.size:
                raise ValueError(f"{self!r}: gradOutput of size {sizestr(g._a.shape)} does not match the output")
            g = g.contiguous().view(*want)
        return g

    def _forwarded(self, input):
        """The (converted, batched) input of the last forward; raises when there was none."""
        if self.__dict__.get('converter') is None:
            raise RuntimeError(f"{self!r}: backward needs the converter built by a forward; call forward first")
        x = self.__dict__.get('_x')
        if x is None:                                   # (dropped by clearState or type())
            x = self._x = self._in(input)
        return x

    def updateGradInput(self, input, gradOutput):
        x = self._forwarded(input)
        gi = self.converter.updateGradInput(x, self._grad_out(gradOutput))
        shape = input._a.shape if isinstance(input, Tensor) else input.shape
        if not self.batchMode:
            gi = gi.contiguous().view(*shape)
        if self.__dict__.get('_converted') and isinstance(input, Tensor):
            back = type_info(input.type()).tensor_class()        # gradInput in the input's type, as Torch7
            back.resize(shape)
            back.copy(gi)
            gi = back
        self.gradInput = gi
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        self.converter.accGradParameters(self._forwarded(input), self._grad_out(gradOutput), scale)

    def accUpdateGradParameters(self, input, gradOutput, lr):
        self.converter.accUpdateGradParameters(self._forwarded(input), self._grad_out(gradOutput), lr)

    def type(self, name=None, tensorCache=None):
        if name is not None:
            for k in ('_x', '_input_c'):
                self.__dict__.pop(k, None)
        return super().type(name, tensorCache)

    def __repr__(self):
        return f"{self.__torch_name__}({self.inputShape}, {self.outputShape})"

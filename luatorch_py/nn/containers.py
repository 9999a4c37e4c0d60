"""Containers: a module made of modules.  They only iterate; the protocol is in module.py."""
from .module import Module


def rethrow(e, i, container):
    """Re-raise ``e`` saying where it happened (Torch7's Container:rethrowErrors), keeping its type."""
    where = f"in module ({i + 1}) of {container.__torch_name__}"
    msg = f"{e.args[0]}\n  {where}" if len(e.args) == 1 and isinstance(e.args[0], str) else None
    if msg is not None:
        try:
            new = type(e)(msg)
        except Exception:
            new = None
        if new is not None:
            raise new.with_traceback(e.__traceback__) from None
    e.add_note(where)
    raise e


class Container(Module):
    """Holds ``modules`` (a list); parameters, modes and types go through every child."""
    __torch_name__ = 'nn.Container'

    def __init__(self, *modules):
        super().__init__()
        self.modules = []
        for m in modules:
            self.add(m)

    def add(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"{self.__torch_name__}.add: expected an nn module, got {type(module).__name__}")
        self.modules.append(module)
        return self

    def get(self, index):
        """The module at 0-based ``index``."""
        return self.modules[index]

    def size(self):
        return len(self.modules)

    def __len__(self):
        return len(self.modules)

    def __getitem__(self, index):
        return self.modules[index]

    def parameters(self):
        params, grads = [], []
        for m in self.modules:
            p, g = m.parameters()
            params += p
            grads += g
        return params, grads

    def zeroGradParameters(self):
        for m in self.modules:
            m.zeroGradParameters()

    def updateParameters(self, learningRate):
        for m in self.modules:
            m.updateParameters(learningRate)

    def accUpdateGradParameters(self, input, gradOutput, lr):
        raise NotImplementedError(f"{self.__torch_name__} implements backwardUpdate through its children")

    def reset(self, stdv=None):
        for m in self.modules:
            m.reset(stdv)
        return self


class Sequential(Container):
    """Feeds each module's output to the next (Torch7's nn.Sequential); modules are numbered from 1 in its
    printout, as Torch7, and indexed from 0 in Python (``get(0)``)."""

    def insert(self, module, index=None):
        if index is None:
            self.modules.append(module)
        else:
            self.modules.insert(index, module)
        return self

    def remove(self, index=None):
        return self.modules.pop(len(self.modules) - 1 if index is None else index)

    def updateOutput(self, input):
        cur = input
        for i, m in enumerate(self.modules):
            try:
                cur = m.updateOutput(cur)
            except Exception as e:
                rethrow(e, i, self)
        self.output = cur
        return cur

    def _backward_pass(self, input, gradOutput, step):
        mods = self.modules
        cur = gradOutput
        for i in range(len(mods) - 1, -1, -1):
            prev = mods[i - 1].output if i else input
            try:
                cur = step(mods[i], prev, cur)
            except Exception as e:
                rethrow(e, i, self)
        self.gradInput = cur
        return cur

    def updateGradInput(self, input, gradOutput):
        return self._backward_pass(input, gradOutput, lambda m, x, g: m.updateGradInput(x, g))

    def accGradParameters(self, input, gradOutput, scale=1):
        mods = self.modules
        cur = gradOutput
        for i in range(len(mods) - 1, -1, -1):
            prev = mods[i - 1].output if i else input
            try:
                mods[i].accGradParameters(prev, cur, scale)
            except Exception as e:
                rethrow(e, i, self)
            cur = mods[i].gradInput

    def backward(self, input, gradOutput, scale=1):
        mods = self.modules
        cur = gradOutput
        for i in range(len(mods) - 1, -1, -1):
            m = mods[i]
            try:
                cur = m.backward(mods[i - 1].output if i else input, cur, scale)
            except Exception as e:
                rethrow(e, i, self)
        self.gradInput = cur
        return cur

    def backwardUpdate(self, input, gradOutput, lr):
        return self._backward_pass(input, gradOutput, lambda m, x, g: m.backwardUpdate(x, g, lr))

    def accUpdateGradParameters(self, input, gradOutput, lr):
        mods = self.modules
        cur = gradOutput
        for i in range(len(mods) - 1, -1, -1):
            prev = mods[i - 1].output if i else input
            mods[i].accUpdateGradParameters(prev, cur, lr)
            cur = mods[i].gradInput

    def __repr__(self):
        n = len(self.modules)
        chain = ' -> '.join(['input'] + [f'({i + 1})' for i in range(n)] + ['output'])
        lines = [f'{self.__torch_name__} {{', f'  [{chain}]']
        for i, m in enumerate(self.modules):
            body = repr(m).replace('\n', '\n  ')
            lines.append(f'  ({i + 1}): {body}')
        lines.append('}')
        return '\n'.join(lines)

"""More table layers of torch/nn: CAddTensorTable, CriterionTable, MixtureTable, ZipTable, ZipTableOneToMany.

Tables are Python lists (possibly nested); dims are 0-based (MixtureTable's ``dim``: Lua's 2 is 1 here).
"""
import numpy as np

from .. import backend
from ..tensor import CPU_LONG_STORAGE, Tensor
from .module import Module, resized, sizestr
from .table import _RefModule, _leaves, _list, _owned_list, _tensors_of_type


class CAddTensorTable(Module):
    """Input ``[v, [t0, t1, ...]]``: output ``[t0 + v, t1 + v, ...]`` (v and every ti of the same size).  The
    gradInput is ``[sum of the gradOutputs, [copies of the gradOutputs]]``."""

    def __init__(self):
        super().__init__()
        self.gradInput = []

    def _parts(self, input):
        _list(self, input, n=2)
        v = self._coerce(input[0], 'input[0]')._a
        ts = input[1]
        _list(self, ts, 'input[1]')
        arrays = []
        for i, t in enumerate(ts):
            a = self._coerce(t, f'input[1][{i}]')._a
            if a.size != v.size:
                raise ValueError(f"{self!r}: input[1][{i}] of size {sizestr(a.shape)} does not match input[0] of "
                                 f"size {sizestr(v.shape)}")
            arrays.append(a.reshape(v.shape))
        return v, arrays

    def updateOutput(self, input):
        v, ts = self._parts(input)
        out = _owned_list(self, 'output', len(ts))
        for o, a in zip(out, ts):
            oa = resized(o, v.shape)
            oa[...] = a
            oa += v
        return out

    def updateGradInput(self, input, gradOutput):
        v, ts = self._parts(input)
        gs = [self._coerce(g, f'gradOutput[{i}]')._a for i, g in enumerate(_list(self, gradOutput, 'gradOutput'))]
        if len(gs) < max(len(ts), 1):
            raise ValueError(f"{self!r}: expected gradOutput to be a list of {len(ts)} tensors, got {len(gs)}")
        for i, g in enumerate(gs[:len(ts)]):
            if g.size != v.size:
                raise ValueError(f"{self!r}: gradOutput[{i}] of size {sizestr(g.shape)} does not match input[0] of "
                                 f"size {sizestr(v.shape)}")
        gi = self.gradInput if isinstance(self.gradInput, list) else []
        if not gi or gi[0].__class__ is not self._tcls:
            gi[:1] = [self._tcls()]
        if len(gi) < 2 or not isinstance(gi[1], list):
            gi[1:] = [[]]
        self.gradInput = gi
        g0 = resized(gi[0], v.shape)
        g0[...] = gs[0].reshape(v.shape)
        for g in gs[1:len(ts)]:
            g0 += g.reshape(v.shape)
        for i, t in enumerate(_tensors_of_type(self, gi[1], len(ts))):
            resized(t, v.shape)[...] = gs[i].reshape(v.shape)
        return gi


class CriterionTable(Module):
    """CriterionTable(criterion): a criterion as a module: input ``[x, target]``, output the loss (a number),
    gradInput ``[the criterion's gradient with respect to x]`` (no gradient for the target, as Torch7)."""

    def __init__(self, criterion):
        super().__init__()
        self.criterion = criterion
        self.gradInput = [criterion.gradInput]

    def updateOutput(self, input):
        _list(self, input, n=2)
        self.output = self.criterion.updateOutput(input[0], input[1])
        return self.output

    def updateGradInput(self, input, gradOutput=None):
        _list(self, input, n=2)
        self.gradInput = [self.criterion.updateGradInput(input[0], input[1])]
        return self.gradInput


class MixtureTable(Module):
    """MixtureTable(dim=None): a mixture of experts.  Input ``[gater, experts]``: ``gater`` holds n weights (size
    [n], or [batch, n]); ``experts`` is a list of n tensors of one size, or one tensor whose dim ``dim`` has size n.
    Output: sum_i gater[..., i] * expert_i.  ``dim`` (0-based) defaults to 1 for a batch and 0 without one
    (Lua's 2 and 1), and is set by the first forward, as Torch7 does."""
    _lua_index_fields = ('dim', 'dimG')

    def __init__(self, dim=None):
        super().__init__()
        if dim is not None:
            self.dim = dim
        self.size = CPU_LONG_STORAGE()
        self.batchSize = 0
        self.size2 = CPU_LONG_STORAGE()
        self.backwardSetup = False
        self.gradInput = []

    def _setup(self, input):
        """(gater array, expert arrays or array, gater view broadcastable along the experts' dims)."""
        _list(self, input, n=2)
        g = self._coerce(input[0], 'input[0] (gater)')._a
        experts = input[1]
        if g.ndim not in (1, 2):
            raise ValueError(f"{self!r}: expected the gater (input[0]) to be 1-D or a 2-D batch, got size "
                             f"{sizestr(g.shape)}")
        batch = g.ndim == 2
        self.dimG = 1 if batch else 0
        if self.__dict__.get('dim') is None:
            self.dim = 1 if batch else 0
        n = g.shape[self.dimG]
        self.batchSize = g.shape[0] if batch else 1
        if self.__dict__.get('table') or isinstance(experts, (list, tuple)):
            self.table = True
            es = [self._coerce(e, f'input[1][{i}]')._a for i, e in enumerate(_list(self, experts, 'input[1]'))]
            if len(es) != n:
                raise ValueError(f"{self!r}: should be one gater output per expert: the gater has {n}, there are "
                                 f"{len(es)} experts")
            nd = es[0].ndim + 1
            for i, e in enumerate(es):
                if e.shape != es[0].shape:
                    raise ValueError(f"{self!r}: expert {i} has size {sizestr(e.shape)}, expert 0 "
                                     f"{sizestr(es[0].shape)}")
        else:
            es = self._coerce(experts, 'input[1]')._a
            nd = es.ndim
            if nd < 2:      # the mixture would be a 0-dim tensor (Torch7 fails there: resizeAs a number)
                raise ValueError(f"{self!r}: expected the experts tensor (input[1]) to have at least 2 dims (the "
                                 f"experts along dim {self.dim}, their outputs along the others), got size "
                                 f"{sizestr(es.shape)}; give scalar outputs as size [n, 1]")
        if not 0 <= self.dim < nd or (batch and self.dim == 0):
            raise ValueError(f"{self!r}: dim {self.dim} out of range for experts of "
                             f"{nd - 1 if isinstance(es, list) else nd} dims")
        eshape = es[0].shape if isinstance(es, list) else es.shape
        if batch and (not eshape or eshape[0] != g.shape[0]):
            raise ValueError(f"{self!r}: the gater's batch of {g.shape[0]} (size {sizestr(g.shape)}) does not match "
                             f"experts of size {sizestr(eshape)}")
        size = [1] * nd
        if batch:
            size[0] = g.shape[0]
        size[self.dim] = n
        self.size.resize(nd)
        for k, s in enumerate(size):
            self.size[k] = s
        if not isinstance(es, list) and es.shape[self.dim] != n:
            raise ValueError(f"{self!r}: the experts' dim {self.dim} has size {es.shape[self.dim]}, the gater "
                             f"{n} weights")
        if int(np.prod(size)) != g.size:
            raise ValueError(f"{self!r}: gater of size {sizestr(g.shape)} does not fit experts of size "
                             f"{sizestr((es[0] if isinstance(es, list) else es).shape)}")
        return g, es, g.reshape(size)

    def updateOutput(self, input):
        g, es, gv = self._setup(input)
        xp = backend.array_module(g)
        if isinstance(es, list):
            out = resized(self.output, es[0].shape)
            out.fill(0)
            tmp = self._buffer('_prod', es[0].shape)
            for i, e in enumerate(es):
                xp.multiply(xp.take(gv, i, axis=self.dim), e, out=tmp)
                out += tmp
        else:
            prod = self._buffer('_prod', es.shape)
            xp.multiply(gv, es, out=prod)
            out = resized(self.output, es.shape[:self.dim] + es.shape[self.dim + 1:])
            xp.sum(prod, axis=self.dim, out=out)
        return self.output

    def updateGradInput(self, input, gradOutput):
        g, es, gv = self._setup(input)
        xp = backend.array_module(g)
        go = self._coerce(gradOutput, 'gradOutput')._a
        want = es[0].shape if isinstance(es, list) else es.shape[:self.dim] + es.shape[self.dim + 1:]
        if go.shape != want:
            raise ValueError(f"{self!r}: expected gradOutput of size {sizestr(want)} (the output's), got "
                             f"{sizestr(go.shape)}")
        gi = self.gradInput if isinstance(self.gradInput, list) else []
        if not gi or gi[0].__class__ is not self._tcls:
            gi[:1] = [self._tcls()]
        self.gradInput = gi
        gg = resized(gi[0], g.shape)
        batch = g.ndim == 2
        if isinstance(es, list):
            if len(gi) < 2 or not isinstance(gi[1], list):
                gi[1:] = [[]]
            lst = _tensors_of_type(self, gi[1], len(es))
            for i, e in enumerate(es):
                ge = resized(lst[i], e.shape)
                prod = self._buffer('_prod', e.shape)
                xp.multiply(go, e, out=prod)
                if batch:
                    gg[:, i] = prod.reshape(prod.shape[0], -1).sum(1)
                else:
                    gg[i] = prod.sum()
                gate = xp.take(gv, i, axis=self.dim)
                xp.multiply(gate, go, out=ge)
        else:
            if len(gi) < 2 or gi[1].__class__ is not self._tcls:
                gi[1:] = [self._tcls()]
            ge = resized(gi[1], es.shape)
            gox = xp.expand_dims(go, self.dim)
            xp.multiply(gv, gox, out=ge)
            prod = self._buffer('_prod', es.shape)
            xp.multiply(gox, es, out=prod)
            keep = (0, self.dim) if batch else (self.dim,)
            axes = tuple(k for k in range(es.ndim) if k not in keep)
            gg[...] = prod.sum(axis=axes).reshape(g.shape)
        return gi


class ZipTable(_RefModule):
    """Input ``[[a0, a1], [b0, b1], [c0, c1]]``, output ``[[a0, b0, c0], [a1, b1, c1]]`` (the same tensors); the
    gradient is zipped back the same way."""

    def __init__(self):
        super().__init__()
        self.output = []
        self.gradInput = []

    @staticmethod
    def _zip(tables):
        out = []
        for i, t in enumerate(tables):
            for j, x in enumerate(t):
                while len(out) <= j:
                    out.append([])
                row = out[j]
                while len(row) < i:       # a shorter table before: Lua leaves a hole there
                    row.append(None)
                row.append(x)
        return out

    def _tables(self, x, what):
        _list(self, x, what)
        for i, t in enumerate(x):
            _list(self, t, f'{what}[{i}]')
        return _leaves(self, x, what)

    def updateOutput(self, input):
        self.output = self._zip(self._tables(input, 'input'))
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = self._zip(self._tables(gradOutput, 'gradOutput'))
        return self.gradInput


class ZipTableOneToMany(_RefModule):
    """Input ``[v, [a, b, c]]``, output ``[[v, a], [v, b], [v, c]]`` (the same tensors).  The gradient for v is
    the sum of the gradients of its copies (kept in the field ``gradInputEl``)."""

    def __init__(self):
        super().__init__()
        self.output = []
        self.gradInput = []
        self.gradInputEl = self._tcls()

    def updateOutput(self, input):
        _list(self, input, n=2)
        v = _leaves(self, input[0], 'input[0]')
        ts = _leaves(self, _list(self, input[1], 'input[1]'), 'input[1]')
        self.output = [[v, t] for t in ts]
        return self.output

    def updateGradInput(self, input, gradOutput):
        _list(self, input, n=2)
        v = self._coerce(input[0], 'input[0]')._a
        el = self.__dict__.get('gradInputEl')
        if not isinstance(el, Tensor) or el.__class__ is not self._tcls:
            el = self.gradInputEl = self._tcls()
        acc = resized(el, v.shape)
        acc.fill(0)
        rest = []
        for i, pair in enumerate(_list(self, gradOutput, 'gradOutput')):
            _list(self, pair, f'gradOutput[{i}]', 2)
            gv = self._coerce(pair[0], f'gradOutput[{i}][0]')._a
            if gv.size != v.size:
                raise ValueError(f"{self!r}: gradOutput[{i}][0] of size {sizestr(gv.shape)} does not match input[0] "
                                 f"of size {sizestr(v.shape)}")
            acc += gv.reshape(v.shape)
            rest.append(_leaves(self, pair[1], f'gradOutput[{i}][1]'))
        self.gradInput = [el, rest]
        return self.gradInput

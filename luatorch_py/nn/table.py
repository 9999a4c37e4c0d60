"""Table layers: modules whose input or output is a table (a Python list of tensors, possibly nested).

Modules that only rearrange tables (Identity, SelectTable, NarrowTable, FlattenTable, SplitTable's output,
CAddTable(inplace=True)) hand on the tensors they got, as Torch7 does: their output holds the input's tensors
(or views of them), not copies.  The others compute into buffers they own and reuse.  Dims and indices are
0-based; negative ones count from the end.
"""
import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor, CPU_LONG_STORAGE
from .module import (Module, check_grad_size, lua_int, owned_tensor, positive_dimension, resized, set_aliased,
                     sizestr)


# -- helpers -----------------------------------------------------------------------------------------------
def _typename(x):
    return x.type() if isinstance(x, Tensor) else type(x).__name__


def _list(module, x, what='input', n=None):
    """``x`` checked to be a list/tuple (of exactly ``n`` entries when n is given)."""
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{module!r}: expected {what} to be a list (table) of tensors, got a {_typename(x)}")
    if n is not None and len(x) != n:
        raise ValueError(f"{module!r}: expected {what} to be a list of {n} tensors, got {len(x)}")
    return x


def _arrays(module, x, what='input', n=None, min_n=1):
    """The arrays of the tensors in list ``x``, of the module's type (numpy arrays are wrapped, no copy)."""
    _list(module, x, what, n)
    if len(x) < min_n:
        raise ValueError(f"{module!r}: expected {what} to be a list of at least {min_n} tensor(s), got {len(x)}")
    return [module._coerce(t, f'{what}[{i}]')._a for i, t in enumerate(x)]


def _leaves(module, x, what='input'):
    """``x`` (a tensor, numpy array, or nested list of them) with numpy arrays wrapped as tensors of the
    module's type; tensors pass as they are (any type, as Torch7's table layers don't check).  Returns ``x``
    itself when nothing needed wrapping."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)):
        out = [_leaves(module, e, f'{what}[{i}]') for i, e in enumerate(x)]
        if isinstance(x, list) and all(a is b for a, b in zip(out, x)):
            return x
        return out
    return module._coerce(x, what)


def _owned_list(module, name, n):
    """module.<name> as a list of ``n`` tensors of the module's type that the module owns (reused; never a table
    it handed on, see ``set_aliased``)."""
    d = module.__dict__
    lst = d.get(name)
    if not isinstance(lst, list) or d.get('_aliased_' + name):
        lst = []
        d[name] = lst
        d['_aliased_' + name] = False
    return _tensors_of_type(module, lst, n)


def _tensors_of_type(module, lst, n):
    """The list ``lst`` cut or grown to ``n`` tensors of the module's type (those already of it kept)."""
    del lst[n:]
    for i in range(n):
        if i >= len(lst):
            lst.append(module._tcls())
        elif lst[i].__class__ is not module._tcls:
            lst[i] = module._tcls()
    return lst


def _retable(dst, src, fill):
    """``dst`` (its tensors and lists reused when they fit, never ``src``'s own) shaped as ``src`` (a tensor or
    nested lists of them), each tensor then set by ``fill(dst_array, src_array)``; returns the result (Torch7's
    recursiveResizeAs followed by a fill or a copy)."""
    if isinstance(src, (list, tuple)):
        if not isinstance(dst, list):
            dst = []
        del dst[len(src):]
        for k, v in enumerate(src):
            if k < len(dst):
                dst[k] = _retable(dst[k], v, fill)
            else:
                dst.append(_retable(None, v, fill))
        return dst
    if dst is None or dst.__class__ is not src.__class__ or dst is src:
        dst = src.__class__()
    a = src._a
    if dst._a.shape != a.shape or not dst._a.flags.c_contiguous:
        dst.resize(a.shape if a.size else (0,))
    fill(dst._a, a)
    return dst


def _set_zero(d, s):
    d.fill(0)


def _set_copy(d, s):
    d[...] = s


def _zero_like(dst, src):
    """``dst`` (reused when it fits) made zeros shaped as ``src`` (a tensor or nested lists of them)."""
    return _retable(dst, src, _set_zero)


def _copy_like(dst, src):
    """``dst`` (reused when it fits) made a copy of ``src`` (a tensor or nested lists of them)."""
    return _retable(dst, src, _set_copy)


def _shape_of(x):
    if isinstance(x, Tensor):
        return sizestr(x._a.shape)
    if isinstance(x, (list, tuple)):
        return '{' + ', '.join(_shape_of(e) for e in x) + '}'
    return type(x).__name__


def _table_dim(module, ndim, what):
    """The 0-based dim of ``module.dimension`` in an ``ndim``-D input (``positive_dimension``), or an error."""
    d = positive_dimension(module, ndim)
    if d is None:
        n_in = getattr(module, 'nInputDims', None)
        raise ValueError(f"{module!r}: dimension {module.dimension} (nInputDims {n_in}) out of range for {what}")
    return d


class _RefModule(Module):
    """Base of the table layers whose output/gradInput hold tensors they were given: converting one drops those
    references (as Torch7's type() of these modules does) rather than converting copies of the inputs."""

    def type(self, name=None, tensorCache=None):
        if name is not None:
            for k in ('output', 'gradInput'):
                if isinstance(self.__dict__.get(k), list):
                    self.__dict__[k] = []
                elif self.__dict__.get('_aliased_' + k):
                    self.__dict__[k] = None   # replaced by a fresh tensor of the new type below
            super().type(name, tensorCache)
            for k in ('output', 'gradInput'):
                if self.__dict__.get(k) is None:
                    self.__dict__[k] = self._tcls()
                self.__dict__.pop('_aliased_' + k, None)
            return self
        return super().type(name, tensorCache)


# -- Identity ------------------------------------------------------------------------------------------------
class Identity(_RefModule):
    """output = input, gradInput = gradOutput (the same tensors or tables, not copies)."""

    def updateOutput(self, input):
        return set_aliased(self, 'output', _leaves(self, input))

    def updateGradInput(self, input, gradOutput):
        return set_aliased(self, 'gradInput', _leaves(self, gradOutput, 'gradOutput'))


# -- JoinTable, SplitTable ------------------------------------------------------------------------------------
class JoinTable(Module):
    """JoinTable(dimension, nInputDims=None): the tensors of a list input concatenated along ``dimension``
    (0-based, negative from the end).  With ``nInputDims``, inputs of nInputDims + 1 dims are batches and the
    join happens along dimension + 1 (Torch7's nInputDims).  Lua's nn.JoinTable(2, 2) is JoinTable(1, 2)."""
    _lua_index_fields = ('dimension',)

    def __init__(self, dimension, nInputDims=None):
        super().__init__()
        self.size = CPU_LONG_STORAGE()
        self.dimension = dimension
        self.gradInput = []
        self.nInputDims = nInputDims

    def _dim(self, xs):
        a0 = xs[0]
        d = _table_dim(self, a0.ndim, f"inputs of size {', '.join(sizestr(a.shape) for a in xs)}")
        for i, a in enumerate(xs):
            if a.ndim != a0.ndim or a.shape[:d] != a0.shape[:d] or a.shape[d + 1:] != a0.shape[d + 1:]:
                raise ValueError(f"{self!r}: cannot join along dim {d} inputs of sizes "
                                 f"{', '.join(sizestr(b.shape) for b in xs)} (input[{i}] differs from input[0] "
                                 f"outside dim {d})")
        return d

    def updateOutput(self, input):
        xs = _arrays(self, input)
        d = self._dim(xs)
        a0 = xs[0]
        shape = a0.shape[:d] + (sum(a.shape[d] for a in xs),) + a0.shape[d + 1:]
        out = resized(owned_tensor(self, 'output'), shape)
        if len(xs) == 1:
            out[...] = a0
        else:
            backend.array_module(out).concatenate(xs, axis=d, out=out)
        return self.output

    def updateGradInput(self, input, gradOutput):
        xs = _arrays(self, input)
        d = self._dim(xs)
        g = self._coerce(gradOutput, 'gradOutput')._a
        a0 = xs[0]
        check_grad_size(self, g, a0.shape[:d] + (sum(a.shape[d] for a in xs),) + a0.shape[d + 1:])
        gi = _owned_list(self, 'gradInput', len(xs))
        pre = (slice(None),) * d
        off = 0
        for t, a in zip(gi, xs):
            n = a.shape[d]
            resized(t, a.shape)[...] = g[pre + (slice(off, off + n),)]
            off += n
        return gi


class SplitTable(Module):
    """SplitTable(dimension, nInputDims=None): the input split along ``dimension`` (0-based, negative from the
    end) into a list of its slices (views of the input, as Torch7's select; numbers for a vector).  ``nInputDims`` as
    in JoinTable."""
    _lua_index_fields = ('dimension',)

    def __init__(self, dimension, nInputDims=None):
        super().__init__()
        self.dimension = dimension
        self.nInputDims = nInputDims

    def updateOutput(self, input):
        xt = self._coerce(input)
        x = xt._a
        d = _table_dim(self, x.ndim, f"an input of size {sizestr(x.shape)}")
        if x.ndim == 1:
            # Torch7's select on a vector gives numbers (x[i] here; a slice of it would be a detached scalar)
            self.output = [xt[i] for i in range(x.shape[0])]
            return self.output
        pre = (slice(None),) * d
        # a new list of views each call, as Torch7 (a list returned before stays valid); no data is copied
        self.output = [xt._view(x[pre + (i,)]) for i in range(x.shape[d])]
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        d = _table_dim(self, x.ndim, f"an input of size {sizestr(x.shape)}")
        n = x.shape[d]
        if x.ndim == 1:     # the slices were numbers (updateOutput): so are their gradients
            gi = resized(owned_tensor(self, 'gradInput'), x.shape)
            for i, g in enumerate(_list(self, gradOutput, 'gradOutput', n)):
                if isinstance(g, bool) or not isinstance(g, numbers.Real):
                    raise TypeError(f"{self!r}: expected gradOutput[{i}] to be a number (the gradient of input "
                                    f"element {i}: a vector splits into numbers), got a {_typename(g)}")
                gi[i] = g
            return self.gradInput
        gs = _arrays(self, gradOutput, 'gradOutput', n, min_n=0)
        slice_shape = x.shape[:d] + x.shape[d + 1:]
        for i, g in enumerate(gs):
            check_grad_size(self, g, slice_shape, f'gradOutput[{i}]')
        gi = resized(owned_tensor(self, 'gradInput'), x.shape)
        if n:
            backend.array_module(gi).stack(gs, axis=d, out=gi)
        return self.gradInput

    def type(self, name=None, tensorCache=None):
        if name is not None:
            self.output = []    # views of the last input: nothing to convert
        return super().type(name, tensorCache)


# -- SelectTable, NarrowTable, FlattenTable ------------------------------------------------------------------
class SelectTable(_RefModule):
    """SelectTable(index): entry ``index`` of a list input (0-based, negative from the end); the entry itself
    (a tensor or a table), not a copy.  The gradInput is zeros shaped as the input with a copy of gradOutput at
    ``index``."""
    _lua_index_fields = ('index',)

    def __init__(self, index):
        super().__init__()
        self.index = index
        self.gradInput = []

    def _index(self, input):
        _list(self, input)
        n = len(input)
        k = lua_int(self, self.index, 'the index')      # (a Lua number such as 1.0 too, as JoinTable's dim)
        if not -n <= k < n:
            raise IndexError(f"{self!r}: index {self.index} out of range for a table of {n} entries")
        return k % n

    def updateOutput(self, input):
        i = self._index(input)
        return set_aliased(self, 'output', _leaves(self, input[i], f'input[{i}]'))

    def updateGradInput(self, input, gradOutput):
        i = self._index(input)
        x = _leaves(self, input)
        g = _leaves(self, gradOutput, 'gradOutput')
        if isinstance(x[i], Tensor) != isinstance(g, Tensor) or (isinstance(g, Tensor) and g._a.size != x[i]._a.size):
            raise ValueError(f"{self!r}: gradOutput {_shape_of(g)} does not match input[{i}] {_shape_of(x[i])}")
        gi = self.gradInput if isinstance(self.gradInput, list) else []
        del gi[len(x):]
        for k, v in enumerate(x):
            old = gi[k] if k < len(gi) else None
            new = _copy_like(old, g) if k == i else _zero_like(old, v)
            if k == i and isinstance(new, Tensor) and new._a.shape != v._a.shape:
                new.resize(v._a.shape)        # same number of elements, input's sizes
                new._a[...] = g._a.reshape(v._a.shape)
            if k < len(gi):
                gi[k] = new
            else:
                gi.append(new)
        self.gradInput = gi
        return gi

    def __repr__(self):
        # the index as given here, 0-based, as every number luatorch_py prints (Lua prints index + 1)
        return f"{self.__torch_name__}({self.index})"


class NarrowTable(_RefModule):
    """NarrowTable(offset, length=1): the entries offset .. offset + length - 1 of a list input (0-based,
    a negative offset counts from the end), the entries themselves.  The gradInput holds gradOutput's entries
    there and zeros elsewhere."""
    _lua_index_fields = ('offset',)

    def __init__(self, offset, length=1):
        super().__init__()
        if not isinstance(offset, (int, np.integer)) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"nn.NarrowTable(offset, length): expected an int offset and a length >= 0, got "
                             f"{offset!r}, {length!r}")
        self.offset = offset
        self.length = length
        self.output = []
        self.gradInput = []

    def _start(self, input):
        _list(self, input)
        n = len(input)
        start = self.offset + n if self.offset < 0 else self.offset
        if not (0 <= start and start + self.length <= n):
            raise IndexError(f"{self!r}: cannot take {self.length} entries from offset {self.offset} of a table of "
                             f"{n} entries")
        return start

    def updateOutput(self, input):
        s = self._start(input)
        x = _leaves(self, input)
        return set_aliased(self, 'output', list(x[s:s + self.length]))

    def updateGradInput(self, input, gradOutput):
        s = self._start(input)
        x = _leaves(self, input)
        g = _leaves(self, _list(self, gradOutput, 'gradOutput', self.length), 'gradOutput')
        zeros = self.__dict__.get('_zeros')          # the zero tensors this module owns, by position
        zeros = (zeros if isinstance(zeros, list) else [])[:len(x)]
        zeros += [None] * (len(x) - len(zeros))
        gi = []
        for k, v in enumerate(x):
            if s <= k < s + self.length:
                gi.append(g[k - s])
            else:
                zeros[k] = _zero_like(zeros[k], v)
                gi.append(zeros[k])
        self._zeros = zeros
        return set_aliased(self, 'gradInput', gi)


def _flatten_into(out, x):
    """Append the tensors of nested list ``x`` to ``out`` depth first; returns x's structure with each tensor
    replaced by its position in ``out``."""
    if isinstance(x, (list, tuple)):
        return [_flatten_into(out, e) for e in x]
    out.append(x)
    return len(out) - 1


def _unflatten(flat, structure):
    if isinstance(structure, list):
        return [_unflatten(flat, s) for s in structure]
    return flat[structure]


class FlattenTable(_RefModule):
    """A nested list input flattened depth first into a list of its tensors (the tensors themselves); the
    gradInput puts gradOutput's tensors back into the input's nesting."""

    def __init__(self):
        super().__init__()
        self.output = []
        self.gradInput = []

    def updateOutput(self, input):
        x = _leaves(self, _list(self, input))
        out = []
        _flatten_into(out, x)
        return set_aliased(self, 'output', out)

    def updateGradInput(self, input, gradOutput):
        x = _leaves(self, _list(self, input))
        flat = []
        structure = _flatten_into(flat, x)
        g = _leaves(self, _list(self, gradOutput, 'gradOutput', len(flat)), 'gradOutput')
        return set_aliased(self, 'gradInput', _unflatten(g, structure))


# -- elementwise arithmetic over a table ------------------------------------------------------------------
class _CTable(Module):
    """Base of CAddTable & co: a list input of tensors with the same number of elements; the output has the
    sizes of input[0]."""
    _n_inputs = None   # exactly this many inputs (None: any number >= 1)

    def __init__(self):
        super().__init__()
        self.gradInput = []

    def _inputs(self, input):
        """The input arrays, all viewed with input[0]'s sizes (their own sizes kept in self._shapes)."""
        xs = _arrays(self, input, n=self._n_inputs)
        a0 = xs[0]
        self._shapes = [a.shape for a in xs]
        for i, a in enumerate(xs):
            if a.shape != a0.shape:
                if a.size != a0.size:
                    raise ValueError(f"{self!r}: input[{i}] of size {sizestr(a.shape)} does not match input[0] of "
                                     f"size {sizestr(a0.shape)}")
                xs[i] = a.reshape(a0.shape)
        return xs

    def _grad(self, xs, gradOutput):
        g = self._coerce(gradOutput, 'gradOutput')._a
        if g.shape != xs[0].shape:
            if g.size != xs[0].size:
                raise ValueError(f"{self!r}: gradOutput of size {sizestr(g.shape)} does not match the output of "
                                 f"size {sizestr(xs[0].shape)}")
            g = g.reshape(xs[0].shape)
        return g

    def _grad_inputs(self, xs):
        """The gradInput list, each tensor resized as its input (after _inputs); returns (list, their arrays
        viewed with input[0]'s sizes)."""
        gi = _owned_list(self, 'gradInput', len(xs))
        return gi, [resized(t, shape).reshape(xs[0].shape) for t, shape in zip(gi, self._shapes)]


class CAddTable(_CTable):
    """output = input[0] + input[1] + ...  With ``inplace=True`` the sum is made in input[0] (which becomes the
    output) and every gradInput entry is gradOutput itself, as Torch7."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def updateOutput(self, input):
        xs = self._inputs(input)
        if self.__dict__.get('inplace'):      # absent from a Lua file when nil
            out = self._coerce(input[0], 'input[0]')
            set_aliased(self, 'output', out)
            o = out._a
        else:
            o = resized(owned_tensor(self, 'output'), xs[0].shape)
            o[...] = xs[0]
        for a in xs[1:]:
            o += a.reshape(o.shape)
        return self.output

    def updateGradInput(self, input, gradOutput):
        xs = self._inputs(input)
        g = self._grad(xs, gradOutput)
        if self.__dict__.get('inplace'):
            gt = self._coerce(gradOutput, 'gradOutput')
            return set_aliased(self, 'gradInput', [gt] * len(xs))
        _, arrs = self._grad_inputs(xs)
        for a in arrs:
            a[...] = g
        return self.gradInput


class CSubTable(_CTable):
    """output = input[0] - input[1]."""
    _n_inputs = 2

    def updateOutput(self, input):
        a, b = self._inputs(input)
        backend.array_module(a).subtract(a, b, out=resized(owned_tensor(self, 'output'), a.shape))
        return self.output

    def updateGradInput(self, input, gradOutput):
        xs = self._inputs(input)
        g = self._grad(xs, gradOutput)
        _, (ga, gb) = self._grad_inputs(xs)
        ga[...] = g
        backend.array_module(g).negative(g, out=gb)
        return self.gradInput


class CMulTable(_CTable):
    """output = input[0] * input[1] * ... (elementwise)."""

    def updateOutput(self, input):
        xs = self._inputs(input)
        o = resized(owned_tensor(self, 'output'), xs[0].shape)
        o[...] = xs[0]
        for a in xs[1:]:
            o *= a
        return self.output

    def updateGradInput(self, input, gradOutput):
        # gradInput[i] = gradOutput * prod_{j != i} input[j] (Torch7's product, not output / input[i]: exact with
        # zeros in the inputs)
        xs = self._inputs(input)
        g = self._grad(xs, gradOutput)
        _, arrs = self._grad_inputs(xs)
        for i, a in enumerate(arrs):
            a[...] = g
            for j, x in enumerate(xs):
                if j != i:
                    a *= x
        return self.gradInput


class CDivTable(_CTable):
    """output = input[0] / input[1] (elementwise)."""
    _n_inputs = 2

    def updateOutput(self, input):
        a, b = self._inputs(input)
        backend.array_module(a).divide(a, b, out=resized(owned_tensor(self, 'output'), a.shape))
        return self.output

    def updateGradInput(self, input, gradOutput):
        xs = self._inputs(input)
        a, b = xs
        g = self._grad(xs, gradOutput)
        xp = backend.array_module(g)
        _, (ga, gb) = self._grad_inputs(xs)
        xp.divide(g, b, out=ga)            # d/da = g / b
        xp.multiply(ga, a, out=gb)         # d/db = -g a / b^2
        xp.divide(gb, b, out=gb)
        xp.negative(gb, out=gb)
        return self.gradInput


class _CExtremumTable(_CTable):
    """Elementwise max (min) over the inputs; the gradient goes to the input that won (the first one on
    ties, as Torch7's strict comparison)."""
    _cmp = None        # 'greater' or 'less'
    _lua_fields = ()   # Torch7's buffer fields

    def __init__(self):
        super().__init__()
        # Torch7's fields (kept so that a saved module loads in Lua); the work uses the scratch arrays below
        for name in self._lua_fields:
            self.__dict__[name] = self._tcls()

    def updateOutput(self, input):
        xs = self._inputs(input)
        xp = backend.array_module(xs[0])
        o = resized(owned_tensor(self, 'output'), xs[0].shape)
        o[...] = xs[0]
        idx = self._buffer('_idx', o.shape, dtype=np.int32)
        idx.fill(0)
        mask = self._bools('_mask', o.shape)
        cmp = getattr(xp, self._cmp)
        for i, a in enumerate(xs[1:], 1):
            cmp(a, o, out=mask)
            xp.copyto(idx, i, where=mask)
            xp.copyto(o, a, where=mask)
        return self.output

    def updateGradInput(self, input, gradOutput):
        xs = self._inputs(input)
        g = self._grad(xs, gradOutput)
        xp = backend.array_module(g)
        idx = self.__dict__.get('_idx')
        if idx is None or idx.shape != xs[0].shape:
            self.updateOutput(input)
            idx = self.__dict__['_idx']
        mask = self._bools('_mask', idx.shape)
        _, arrs = self._grad_inputs(xs)
        for i, a in enumerate(arrs):
            a.fill(0)
            xp.equal(idx, i, out=mask)
            xp.copyto(a, g, where=mask)
        return self.gradInput


class CMaxTable(_CExtremumTable):
    """output = max(input[0], input[1], ...) elementwise."""
    _cmp = 'greater'
    _lua_fields = ('maxIdx', 'mask', 'maxVals', 'gradMaxVals')


class CMinTable(_CExtremumTable):
    """output = min(input[0], input[1], ...) elementwise."""
    _cmp = 'less'
    _lua_fields = ('minIdx', 'mask', 'minVals', 'gradMaxVals')

"""Containers: a module made of modules.  They only iterate; the protocol is in module.py."""
import numbers

import numpy as np

from .. import backend
from ..backend import kernels
from ..tensor import CPU_LONG_STORAGE
from .module import Module, flat_arrays, lua_int, owned_tensor, resized, sizestr
from .table import _copy_like


def rethrow(e, i, container):
    """Re-raise ``e`` saying where it happened (Torch7's Container:rethrowErrors), keeping its type."""
    where = f"in module ({i}) of {container.__torch_name__}"
    # the notes (e.g. the gModule node that failed) go into the message, before this place: the new exception
    # raised below has none
    notes = ''.join(f"\n{n}" for n in getattr(e, '__notes__', ()))
    msg = f"{e.args[0]}{notes}\n  {where}" if len(e.args) == 1 and isinstance(e.args[0], str) else None
    if msg is not None:
        try:
            new = type(e)(msg)
        except Exception:
            new = None
        if new is not None:
            raise new.with_traceback(e.__traceback__) from None
    e.add_note(where)
    raise e


def _call(container, i, fn, *args):
    """``fn(*args)`` for module ``i`` of ``container``: an error is re-raised saying where (``rethrow``)."""
    try:
        return fn(*args)
    except Exception as e:
        rethrow(e, i, container)


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

    def _takes_any_layout(self):
        # the modules get this container's input (or parts of it)
        return self._package_class and all(m._takes_any_layout() for m in self.modules)

    def get(self, index):
        """The module at 0-based ``index`` (negative: from the end), as numbered in print(container)."""
        try:
            return self.modules[index]
        except (IndexError, TypeError):
            n = len(self.modules)
            raise IndexError(f"{self.__torch_name__}.get({index!r}): no module at this index, the container holds "
                             f"{n} module{'s' if n != 1 else ''} (0-based: 0 to {n - 1}; Lua's get(i) is get(i - 1))"
                             if n else f"{self.__torch_name__}.get({index!r}): the container is empty") from None

    def size(self):
        return len(self.modules)

    def applyToModules(self, func):
        """``func(module)`` for each module of this container (not recursive: ``apply`` is)."""
        for m in self.modules:
            func(m)

    def rethrowErrors(self, module, moduleIndex, funcName, *args):
        """``module.<funcName>(*args)`` for the module at 0-based ``moduleIndex``; an error is re-raised saying
        which module of which container failed (Torch7's rethrowErrors, whose index is 1-based)."""
        if moduleIndex >= len(self.modules) or self.modules[moduleIndex] is not module:
            raise ValueError(f"{self.__torch_name__}.rethrowErrors: module {moduleIndex} is not the module given "
                             f"(mismatch between moduleIndex and self.modules)")
        return _call(self, moduleIndex, getattr(module, funcName), *args)

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

    _own_parameters = parameters        # (Module._listed: a subclass overriding parameters() is served through it)

    def zeroGradParameters(self):
        if self._listed:
            return Module.zeroGradParameters(self)      # a user container overriding parameters()
        if self.__dict__.get('_flat') is not None:
            flat = flat_arrays(self)
            if flat is not None:          # after getParameters: one fill over the flat gradient
                flat[1].fill(0)
                return
        for m in self.modules:
            m.zeroGradParameters()

    def updateParameters(self, learningRate):
        if self._listed:
            return Module.updateParameters(self, learningRate)
        if self.__dict__.get('_flat') is not None:
            flat = flat_arrays(self)
            if flat is not None:          # after getParameters: one update over the flat vectors
                backend.sub_scaled(flat[0], flat[1], learningRate, self._buffer, '_upd_flat')
                return
        for m in self.modules:
            m.updateParameters(learningRate)

    def accUpdateGradParameters(self, input, gradOutput, lr):
        raise NotImplementedError(f"{self.__torch_name__}: no accUpdateGradParameters for this container")

    def reset(self, stdv=None):
        for m in self.modules:
            m.reset(stdv)
        return self


def _aliases(t, src):
    """Whether tensor ``t`` lies in the storage of ``src`` (a tensor, or a table of them, nested), or in the memory of
    ``src`` a numpy array (a caller's input, which a module wraps without a copy)."""
    s = getattr(t, '_s', None)
    if isinstance(src, (list, tuple)):
        return any(_aliases(t, e) for e in src)
    if type(src) is np.ndarray:
        a = getattr(t, '_a', None)
        return type(a) is np.ndarray and np.may_share_memory(a, src)
    return s is not None and s is getattr(src, '_s', None)


def _output_field(m):
    """m.output without writing it if it is pending (a fused ReLU's: only its storage is asked about)."""
    o = m.__dict__.get('output')
    return m.output if o is None else o


class Sequential(Container):
    """Feeds each module's output to the next (Torch7's nn.Sequential); modules are numbered from 0 in its
    printout and errors, as ``get(0)`` indexes them (Torch7 prints and indexes from 1)."""

    def insert(self, module, index=None):
        if not isinstance(module, Module):
            raise TypeError(f"{self.__torch_name__}.insert: expected an nn module, got {type(module).__name__}")
        n = len(self.modules)
        if index is None:
            self.modules.append(module)
        else:
            # Torch7: "index should be contiguous to existing modules" (0-based here: 0 to n; negative from the end)
            if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not -n <= index <= n:
                raise IndexError(f"{self.__torch_name__}.insert(module, {index!r}): index should be contiguous to "
                                 f"existing modules: 0 to {n} for a container of {n}")
            self.modules.insert(index, module)
        return self

    def remove(self, index=None):
        n = len(self.modules)
        if index is None:
            index = n - 1
        if n == 0 or isinstance(index, bool) or not isinstance(index, numbers.Integral) or not -n <= index < n:
            raise IndexError(f"{self.__torch_name__}.remove({index!r}): index out of range: the container holds "
                             f"{n} module{'s' if n != 1 else ''}" + (f" (0-based: 0 to {n - 1})" if n else ""))
        return self.modules.pop(index)

    def updateOutput(self, input):
        cur = input
        i = 0
        mods = self.modules
        last = mods[-1] if mods else None
        d = self.__dict__
        keep = '_contig_out' not in d
        n = len(mods)
        # batch-last activations (_layout.py) only after the last module that does not take any layout: a class of
        # the user's (or Bottle) may view its input as Lua code does, and an in-place ReLU or an Identity before it
        # would hand a batch-last one on to it
        batch_last_from = n - 1
        while batch_last_from > 0 and mods[batch_last_from]._takes_any_layout():
            batch_last_from -= 1
        try:            # inline, not _call: a try costs nothing in 3.11, a call per module does (hot path)
            while i < n:
                m = mods[i]
                # only then may its output be batch-last (_layout.py)
                m.__dict__['_feeds_next'] = (getattr(cur, '_a', cur) if keep and i >= batch_last_from and m is not last
                                             else None)
                # [ReLU, max pooling] (activation.py), on an output of the module before (as Sequential.backward's
                # folds: not a view of an earlier tensor, which others may change before the ReLU's output is read),
                # a module not called again further on (its next forward would write over that output)
                if (m._fold_forward is not None and keep and 0 < i and batch_last_from <= i < n - 2
                        and mods[i + 1]._pool_after is not None
                        and not _aliases(cur, _output_field(mods[i - 2]) if i > 1 else input)
                        and not any(later is mods[i - 1] for later in mods[i + 2:])):
                    i += 1          # (an error in the step is reported as the pooling's)
                    out = m._fold_forward(mods[i], cur)
                    if out is not None:
                        cur = out
                        i += 1
                        continue
                    i -= 1
                cur = m.updateOutput(cur)
                i += 1
        except Exception as e:
            rethrow(e, i, self)
        if keep and cur is not input and d.get('_feeds_next') is not getattr(input, '_a', input):
            a = getattr(cur, '_a', None)
            if (getattr(a, 'ndim', 0) >= 3 and not a.flags.c_contiguous and kernels.batch_last(a)
                    and cur._s is not getattr(input, '_s', None)):
                # the last module handed on an earlier one's batch-last output (an in-place ReLU, Identity, ...;
                # not the caller's input): the caller gets Torch7's contiguous output -- a copy this once; no
                # batch-last in this net after
                d['_contig_out'] = True
                cur = cur.contiguous()
        self.output = cur
        return cur

    def _walk_back(self, input, gradOutput, step):
        """From the last module to the first: ``g = step(module, its input, g)``, g starting as gradOutput (the
        gradient reaching that module); returns the last g."""
        mods = self.modules
        cur = gradOutput
        for i in range(len(mods) - 1, -1, -1):
            try:            # inline, as updateOutput
                cur = step(mods[i], mods[i - 1].output if i else input, cur)
            except Exception as e:
                rethrow(e, i, self)
        return cur

    def updateGradInput(self, input, gradOutput):
        self.gradInput = self._walk_back(input, gradOutput, lambda m, x, g: m.updateGradInput(x, g))
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        def step(m, x, g):
            m.accGradParameters(x, g, scale)
            return m.gradInput
        self._walk_back(input, gradOutput, step)

    def backward(self, input, gradOutput, scale=1):
        # _walk_back inlined (the hot path of training: no step function per module)
        mods = self.modules
        cur = gradOutput
        i = len(mods) - 1
        try:
            while i > 0:
                m = mods[i]
                if m._fold_backward is not None and i > 1:     # [ReLU, max pooling]: one pass (pooling.py)
                    xt = _output_field(mods[i - 2])
                    # only on an output of the module's own: a view of its input (Identity, View, in-place
                    # modules) may be changed before this backward by others sharing that input
                    if not _aliases(xt, _output_field(mods[i - 3]) if i > 2 else input):
                        gi = m._fold_backward(mods[i - 1], xt, cur)
                        if gi is not None:
                            cur = gi
                            i -= 2
                            continue
                cur = m.backward(mods[i - 1].output, cur, scale)
                i -= 1
            if i == 0:
                cur = mods[0].backward(input, cur, scale)
        except Exception as e:
            rethrow(e, i, self)
        self.gradInput = cur
        return cur

    # backwardUpdate: Module's (updateGradInput through every module, then accUpdateGradParameters), as Torch7;
    # interleaving the two per module would compute the gradInputs of modules that share weights with later
    # ones from already-updated weights

    def accUpdateGradParameters(self, input, gradOutput, lr):
        def step(m, x, g):
            m.accUpdateGradParameters(x, g, lr)
            return m.gradInput
        self._walk_back(input, gradOutput, step)

    def __repr__(self):
        n = len(self.modules)
        chain = ' -> '.join(['input'] + [f'({i})' for i in range(n)] + ['output'])
        # 'nn.Sequential' whatever the class: Torch7's Sequential prints that name, so its subclasses
        # (SpatialLPPooling, Maxout, LayerNormalization) print as 'nn.Sequential {' there too
        lines = ['nn.Sequential {', f'  [{chain}]']
        for i, m in enumerate(self.modules):
            body = repr(m).replace('\n', '\n  ')
            lines.append(f'  ({i}): {body}')
        lines.append('}')
        return '\n'.join(lines)


# -- helpers for the branching containers ---------------------------------------------------------------------
def _owned_list(module, name):
    """module.<name> as a list (a fresh one when it holds something else)."""
    v = module.__dict__.get(name)
    if not isinstance(v, list):
        v = []
        module.__dict__[name] = v
    return v


def _add_into(dst, src, module, i):
    """``dst`` += ``src`` elementwise over matching (nested) tables, as Torch7's retable with add."""
    if isinstance(src, (list, tuple)):
        if not isinstance(dst, list) or len(dst) != len(src):
            raise ValueError(f"{module.__torch_name__}: the gradInput of module ({i}) is a table of "
                             f"{len(src)} where module (0) gave {len(dst) if isinstance(dst, list) else 'a tensor'}")
        for k, v in enumerate(src):
            dst[k] = _add_into(dst[k], v, module, i)
        return dst
    if not hasattr(src, '_a') or not hasattr(dst, '_a'):
        raise TypeError(f"{module.__torch_name__}: the gradInput of module ({i}) is a {type(src).__name__} "
                        f"where module (0) gave a {type(dst).__name__}")
    if src._a.shape != dst._a.shape:
        raise ValueError(f"{module.__torch_name__}: the gradInput of module ({i}) has size "
                         f"{sizestr(src._a.shape)}, module (0) gave {sizestr(dst._a.shape)}")
    dst._a += src._a
    return dst


def _branches_repr(self):
    """Torch7's __tostring__ of Concat, ConcatTable, Parallel, ParallelTable: the branches drawn as a tree."""
    lines = [f'{self.__torch_name__} {{', '  input']
    n = len(self.modules)
    for i, m in enumerate(self.modules):
        if i == n - 1:
            lines.append(f'     `-> ({i}): ' + repr(m).replace('\n', '\n         '))
        else:
            lines.append(f'    |`-> ({i}): ' + repr(m).replace('\n', '\n    |    '))
    lines.append('     ... -> output')
    lines.append('}')
    return '\n'.join(lines)


def _table_arg(module, x, what, n):
    """``x`` checked to be a list/tuple of at least ``n`` entries (one per branch)."""
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{module.__torch_name__}: expected {what} to be a list (table) with an entry for each of "
                        f"its {n} modules, got a {type(x).__name__}")
    if len(x) < n:
        raise ValueError(f"{module.__torch_name__}: expected {what} to be a list of at least {n} entries (one per "
                         f"module), got {len(x)}")
    return x


def _int_dim(module, dim):
    """``dim`` as an int (a Lua number such as 2.0 too), or a TypeError naming the module."""
    return lua_int(module.__torch_name__, dim, 'the dimension')


def _join_outputs(module, outs, dim, what='outputs'):
    """Concatenate the tensors ``outs`` along 0-based ``dim`` (negative: from the end) into module.output."""
    dim = _int_dim(module, dim)
    for i, o in enumerate(outs):
        if o.__class__ is not module._tcls:
            raise TypeError(f"{module.__torch_name__}: module ({i}) output a "
                            f"{type(o).__name__ if not hasattr(o, 'type') else o.type()}, expected a {module._type}")
    arrays = [o._a for o in outs]
    a0 = arrays[0]
    nd = a0.ndim
    if not -nd <= dim < nd:
        raise ValueError(f"{module.__torch_name__}: dimension {dim} out of range for the {nd}-D output of "
                         f"module (0) (size {sizestr(a0.shape)})")
    d = dim % nd
    total = 0
    for i, a in enumerate(arrays):
        if a.ndim != nd or a.shape[:d] != a0.shape[:d] or a.shape[d + 1:] != a0.shape[d + 1:]:
            raise ValueError(f"{module.__torch_name__}: cannot concatenate along dim {d} the {what} of sizes "
                             f"{', '.join(sizestr(b.shape) for b in arrays)} (module ({i}) differs)")
        total += a.shape[d]
    out = resized(owned_tensor(module, 'output'), a0.shape[:d] + (total,) + a0.shape[d + 1:])
    if len(arrays) == 1:
        out[...] = a0
    else:
        backend.array_module(out).concatenate(arrays, axis=d, out=out)


def _concat_grad_parts(container, gradOutput, dim):
    """gradOutput of a container that concatenated its modules' outputs along ``dim``, checked to have the
    output's size, cut back into the parts: a generator of (i, module i, the part facing module i's output)."""
    dim = _int_dim(container, dim)
    g = container._coerce(gradOutput, 'gradOutput')
    ga = g._a
    want = container.output._a.shape
    if ga.shape != want:
        raise ValueError(f"{container.__torch_name__}: expected gradOutput of size {sizestr(want)} (the output's), "
                         f"got {sizestr(ga.shape)}")
    return _cut(container.modules, g, dim % ga.ndim)


def _cut(modules, g, d):
    pre = (slice(None),) * d
    off = 0
    for i, m in enumerate(modules):
        n = m.output._a.shape[d]
        yield i, m, g._view(g._a[pre + (slice(off, off + n),)])
        off += n


_GRAD_METHODS = ('updateGradInput', 'backward')     # the backward methods that give a gradInput


class _Branching(Container):
    """Base of Concat, ConcatTable, ParallelTable, Parallel and MapTable: every backward method goes through
    ``self._each(method, input, gradOutput, *extra)``, which calls ``method`` on the modules and, for the
    _GRAD_METHODS, sets and returns the gradInput."""

    def updateGradInput(self, input, gradOutput):
        return self._each('updateGradInput', input, gradOutput)

    def backward(self, input, gradOutput, scale=1):
        return self._each('backward', input, gradOutput, scale)

    def accGradParameters(self, input, gradOutput, scale=1):
        self._each('accGradParameters', input, gradOutput, scale)

    def accUpdateGradParameters(self, input, gradOutput, lr):
        self._each('accUpdateGradParameters', input, gradOutput, lr)

    __repr__ = _branches_repr


class _SameInput(_Branching):
    """Concat and ConcatTable: every module gets the same input; the gradInput sums the modules' gradInputs.
    Subclasses give ``_grad_parts(gradOutput)``: (i, module i, the gradOutput part for module i)."""

    def _outputs(self, input):
        return [_call(self, i, m.updateOutput, input) for i, m in enumerate(self.modules)]

    def _each(self, method, input, gradOutput, *extra):
        parts = self._grad_parts(gradOutput)
        if method not in _GRAD_METHODS:
            for i, m, g in parts:
                _call(self, i, getattr(m, method), input, g, *extra)
            return None
        gi = self.gradInput
        first = True
        for i, m, g in parts:
            r = _call(self, i, getattr(m, method), input, g, *extra)
            if r is None:
                continue
            gi = _copy_like(gi, r) if first else _add_into(gi, r, self, i)
            first = False
        self.gradInput = gi
        return gi


class Concat(_SameInput):
    """Concat(dim): every module gets the same input; their outputs are concatenated along ``dim`` (0-based,
    negative from the end; Lua's nn.Concat(2) is Concat(1))."""
    _lua_index_fields = ('dimension',)

    def __init__(self, dimension, *modules):
        super().__init__(*modules)
        self.outputSize = CPU_LONG_STORAGE()
        self.dimension = dimension

    def updateOutput(self, input):
        outs = self._outputs(input)
        if not outs:
            raise ValueError(f"{self.__torch_name__}: no modules to concatenate")
        _join_outputs(self, outs, self.dimension)
        return self.output

    def _grad_parts(self, gradOutput):
        return _concat_grad_parts(self, gradOutput, self.dimension)


class DepthConcat(Concat):
    """DepthConcat(dim): as Concat, but the outputs may differ in their other dims: the output takes the largest
    size of each and every module's output is centred in it, zero-padded (the Inception block's concatenation of
    convolutions of different sizes).  ``dim`` is 0-based (Lua's nn.DepthConcat(2) is DepthConcat(1))."""

    def _windows(self, target):
        """(i, module i, the view of array ``target`` (output-sized) that module i's output fills)."""
        d = self.dimension % target.ndim
        off = 0
        for i, m in enumerate(self.modules):
            shape = m.output._a.shape
            idx = []
            for k, n in enumerate(shape):
                if k == d:
                    idx.append(slice(off, off + n))
                else:
                    start = (target.shape[k] - n) // 2      # 9 vs 4: 2 before, 3 after (Torch7's floor)
                    idx.append(slice(start, start + n))
            yield i, m, target[tuple(idx)]
            off += shape[d]

    def updateOutput(self, input):
        outs = self._outputs(input)
        if not outs:
            raise ValueError(f"{self.__torch_name__}: no modules to concatenate")
        for i, o in enumerate(outs):
            if o.__class__ is not self._tcls:
                raise TypeError(f"{self.__torch_name__}: module ({i}) output a "
                                f"{o.type() if hasattr(o, 'type') else type(o).__name__}, expected a {self._type}")
        a0 = outs[0]._a
        nd = a0.ndim
        if not -nd <= self.dimension < nd:
            raise ValueError(f"{self.__torch_name__}: dimension {self.dimension} out of range for the {nd}-D output "
                             f"of module (0) (size {sizestr(a0.shape)})")
        d = self.dimension % nd
        size = list(a0.shape)
        for i, o in enumerate(outs[1:], 1):
            if o._a.ndim != nd:
                raise ValueError(f"{self.__torch_name__}: module ({i}) output a {o._a.ndim}-D tensor (size "
                                 f"{sizestr(o._a.shape)}), module (0) a {nd}-D one (size {sizestr(a0.shape)})")
            for k, n in enumerate(o._a.shape):
                size[k] = size[k] + n if k == d else max(size[k], n)
        st = self.__dict__.get('outputSize')
        if st is None or not hasattr(st, 'resize'):
            st = self.outputSize = CPU_LONG_STORAGE()
        st.resize(nd)
        for k, n in enumerate(size):
            st[k] = n
        out = resized(owned_tensor(self, 'output'), tuple(size))
        out.fill(0)                                 # the padding
        for i, m, win in self._windows(out):
            win[...] = outs[i]._a
        return self.output

    def _grad_parts(self, gradOutput):
        g = self._coerce(gradOutput, 'gradOutput')
        want = self.output._a.shape
        if g._a.shape != want:
            raise ValueError(f"{self.__torch_name__}: expected gradOutput of size {sizestr(want)} (the output's), "
                             f"got {sizestr(g._a.shape)}")
        return ((i, m, g._view(w)) for i, m, w in self._windows(g._a))


class ConcatTable(_SameInput):
    """Every module gets the same input; the output is the list of their outputs.  The gradInput sums the
    modules' gradInputs (a tensor, or a list of them when the input is a list)."""

    def __init__(self, *modules):
        super().__init__(*modules)
        self.output = []

    def updateOutput(self, input):
        out = _owned_list(self, 'output')
        out[:] = self._outputs(input)
        return out

    def _grad_parts(self, gradOutput):
        _table_arg(self, gradOutput, 'gradOutput', len(self.modules))
        return ((i, m, gradOutput[i]) for i, m in enumerate(self.modules))


class ParallelTable(_Branching):
    """Module i gets input[i]; the output is the list of their outputs (extra input entries are ignored, as
    Torch7)."""

    def __init__(self, *modules):
        super().__init__(*modules)
        self.output = []
        self.gradInput = []

    def updateOutput(self, input):
        _table_arg(self, input, 'input', len(self.modules))
        out = _owned_list(self, 'output')
        out[:] = [_call(self, i, m.updateOutput, input[i]) for i, m in enumerate(self.modules)]
        return out

    def _each(self, method, input, gradOutput, *extra):
        _table_arg(self, input, 'input', len(self.modules))
        _table_arg(self, gradOutput, 'gradOutput', len(self.modules))
        res = [_call(self, i, getattr(m, method), input[i], gradOutput[i], *extra)
               for i, m in enumerate(self.modules)]
        if method in _GRAD_METHODS:
            gi = _owned_list(self, 'gradInput')
            gi[:] = res
            return gi
        return None


class Parallel(_Branching):
    """Parallel(inputDimension, outputDimension): module i gets the slice i of the input along
    ``inputDimension``; their outputs are concatenated along ``outputDimension`` (both 0-based, negative from
    the end; Lua's nn.Parallel(1, 2) is Parallel(0, 1))."""
    _lua_index_fields = ('inputDimension', 'outputDimension')

    def __init__(self, inputDimension, outputDimension, *modules):
        super().__init__(*modules)
        self.inputDimension = inputDimension
        self.outputDimension = outputDimension

    def _inputs(self, input):
        """(input tensor, normalized input dim, the slices as tensor views)."""
        xt = self._coerce(input)
        x = xt._a
        nd = x.ndim
        if nd < 2:      # (Torch7's select would hand the modules numbers)
            raise ValueError(f"{self.__torch_name__}: expected an input of at least 2 dims (module i takes slice i "
                             f"along inputDimension), got size {sizestr(x.shape)}")
        if not -nd <= self.inputDimension < nd:
            raise ValueError(f"{self.__torch_name__}: inputDimension {self.inputDimension} out of range for an "
                             f"input of size {sizestr(x.shape)}")
        d = self.inputDimension % nd
        n = x.shape[d]
        if n > len(self.modules):
            raise ValueError(f"{self.__torch_name__}: the input has {n} slices along dim {d} (size "
                             f"{sizestr(x.shape)}) but there are only {len(self.modules)} modules")
        pre = (slice(None),) * d
        return xt, d, [xt._view(x[pre + (i,)]) for i in range(n)]

    def updateOutput(self, input):
        _, _, xs = self._inputs(input)
        outs = [_call(self, i, self.modules[i].updateOutput, xi) for i, xi in enumerate(xs)]
        if not outs:
            raise ValueError(f"{self.__torch_name__}: empty input")
        _join_outputs(self, outs, self.outputDimension)
        return self.output

    def _each(self, method, input, gradOutput, *extra):
        xt, din, xs = self._inputs(input)
        parts = _concat_grad_parts(self, gradOutput, self.outputDimension)
        gi = None
        if method in _GRAD_METHODS:
            gi = resized(owned_tensor(self, 'gradInput'), xt._a.shape)
        for xi, (i, m, g) in zip(xs, parts):
            r = _call(self, i, getattr(m, method), xi, g, *extra)
            if gi is not None:
                dst = gi[(slice(None),) * din + (i,)]
                if r._a.shape != dst.shape:
                    raise ValueError(f"{self.__torch_name__}: the gradInput of module ({i}) has size "
                                     f"{sizestr(r._a.shape)}, expected {sizestr(dst.shape)}")
                dst[...] = r._a
        return self.gradInput


class MapTable(_Branching):
    """MapTable(module, shared=True): applies ``module`` to every entry of a list input.  Entry i > 0 goes
    through a clone made on demand, sharing weight, bias, gradWeight and gradBias with ``module`` (independent
    copies with shared=False), as Torch7."""

    def __init__(self, module=None, shared=True):
        super().__init__()
        self.shared = True if shared is None else shared
        self.sharedparams = ['weight', 'bias', 'gradWeight', 'gradBias']
        self.output = []
        self.gradInput = []
        if module is not None:
            self.add(module)

    def add(self, module):
        if self.__dict__.get('module') is not None:
            raise ValueError(f"{self.__torch_name__}: holds a single module (it has {self.module!r} already)")
        super().add(module)
        self.module = module
        self.modules[:] = [module]
        return self

    def _extend(self, n):
        if self.__dict__.get('module') is None:
            raise ValueError(f"{self.__torch_name__}: no module to map (add one first)")
        mods = self.modules
        if not mods or mods[0] is not self.module:
            mods[:1] = [self.module]
        while len(mods) < n:
            if self.__dict__.get('shared', True):
                names = self.__dict__.get('sharedparams') or ['weight', 'bias', 'gradWeight', 'gradBias']
                mods.append(self.module.clone(*names))
            else:
                mods.append(self.module.clone())

    def resize(self, n):
        self._extend(n)
        for m in self.modules[n:]:
            m.clearState()
        del self.modules[max(n, 1):]
        return self

    def _each(self, method, input, gradOutput=None, *extra):
        if not isinstance(input, (list, tuple)):
            raise TypeError(f"{self.__torch_name__}: expected input to be a list (table), got a "
                            f"{type(input).__name__}")
        n = len(input)
        # (by the method, not by gradOutput: a backward given None ran forward and returned the outputs)
        forward = method == 'updateOutput'
        if not forward:
            _table_arg(self, gradOutput, 'gradOutput', n)
        self._extend(n)
        mods = self.modules
        if forward:
            return [_call(self, i, mods[i].updateOutput, input[i]) for i in range(n)]
        res = [_call(self, i, getattr(mods[i], method), input[i], gradOutput[i], *extra) for i in range(n)]
        if method in _GRAD_METHODS:
            self.gradInput = res
        return res

    def updateOutput(self, input):
        self.output = self._each('updateOutput', input)
        return self.output

    def zeroGradParameters(self):
        # the clones share the gradients: zeroing (and updating, below) through the module does it once
        if self.__dict__.get('module') is not None:
            if self.__dict__.get('shared', True):
                self.module.zeroGradParameters()
            else:
                super().zeroGradParameters()

    def updateParameters(self, learningRate):
        if self.__dict__.get('module') is not None:
            if self.__dict__.get('shared', True):
                self.module.updateParameters(learningRate)
            else:
                super().updateParameters(learningRate)

    def clearState(self):
        for m in self.modules[1:]:
            m.clearState()
        del self.modules[1:]
        return super().clearState()

    def __repr__(self):
        m = self.__dict__.get('module')
        if m is None:
            return f'{self.__torch_name__} {{ }}'
        return f'{self.__torch_name__} {{\n  ' + repr(m).replace('\n', '\n        ') + '\n}'

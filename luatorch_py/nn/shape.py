"""Modules that reshape, view, pick or pad their input, and the constant arithmetic ones (no parameters).

Views (View, Reshape, Squeeze, Unsqueeze, Replicate, Contiguous on a contiguous input) make ``output`` share the
input's memory, as Torch7; the others copy into buffers the module owns.  Dims and indices are 0-based and may
be negative (counted from the end).
"""
import math

import numpy as np

from .. import backend
from ..backend import array_module
from ..tensor import Tensor, _parse_sizes, CPU_LONG_STORAGE, as_tensor
from ..types import type_info
from .module import (Module, check_grad_like_input, check_grad_size, owned_tensor, resized, set_aliased,
                     sizestr)


# -- helpers: output/gradInput either aliasing an input tensor or in memory the module owns -------------------
def _alias(module, name, src, arr):
    """Point module.<name> at ``arr``, a view of tensor ``src``'s storage (no copy)."""
    t = module.__dict__.get(name)
    if not isinstance(t, Tensor) or type(t) is not type(src):
        t = type(src)()
    t.set(src)
    t._a = arr
    return set_aliased(module, name, t)


def _owned(module, name, shape):
    """module.<name> resized to ``shape`` in memory of its own (never an input's it aliased before)."""
    return resized(owned_tensor(module, name), shape)


def _view_as(module, name, src, shape):
    """module.<name> = tensor ``src`` with sizes ``shape``: a view when src is contiguous, else a copy."""
    a = src._a
    if a.flags.c_contiguous:
        return _alias(module, name, src, a.reshape(shape))
    out = _owned(module, name, shape)
    out.reshape(a.shape)[...] = a
    return module.__dict__[name]


def _dim(module, d, ndim, what='dimension', extra=0):
    """0-based dim ``d`` (negative: from the end) checked against ``ndim`` (+extra allowed positions)."""
    n = ndim + extra
    if not -n <= d < n:
        raise ValueError(f"{module!r}: {what} {d} out of range for a {ndim}-D input")
    return d % n


def _sizes(args, what):
    if len(args) == 1 and isinstance(args[0], (tuple, list)) or len(args) == 1 and hasattr(args[0], '_data'):
        args = tuple(args[0])
    return _parse_sizes(args, what)


def _setNumInputDims(self, numInputDims):
    """Torch7's setNumInputDims (View, Transpose, Squeeze, Unsqueeze): the dims of one example, so that an input
    with more dims is seen as a batch."""
    self.numInputDims = numInputDims
    return self


class _ViewModule(Module):
    """Base of the modules whose output is a view of the input (Reshape, View, Squeeze, Unsqueeze): the
    gradInput is gradOutput seen with the input's sizes (a view too when gradOutput is contiguous)."""

    def _output_as(self, t, shape, verb):
        """self.output = input tensor ``t`` seen with sizes ``shape`` (an error, saying ``verb``, when the counts
        of elements differ)."""
        x = t._a
        if math.prod(shape) != x.size:
            raise ValueError(f"{self!r}: cannot {verb[0]} input of size {sizestr(x.shape)} ({x.size} elements) "
                             f"{verb[1]} {sizestr(shape)}")
        _view_as(self, 'output', t, shape)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        gt = self._coerce(gradOutput, 'gradOutput')
        if gt._a.size != x.size:
            raise ValueError(f"{self!r}: gradOutput of size {sizestr(gt._a.shape)} does not match input of "
                             f"size {sizestr(x.shape)}")
        _view_as(self, 'gradInput', gt, x.shape)
        return self.gradInput


# -- Reshape, View ---------------------------------------------------------------------------------------------
class Reshape(_ViewModule):
    """Reshape(d1, d2, ..., [batchMode]): the input seen with sizes d1 x d2 x ..., or batch x d1 x d2 x ... when
    the input has a first batch dim (decided as Torch7: by the element count, or forced by ``batchMode``)."""

    def __init__(self, *args, batchMode=None):
        super().__init__()
        if args and isinstance(args[-1], bool):
            batchMode, args = args[-1], args[:-1]
        size = _sizes(args, 'nn.Reshape')
        self.size = CPU_LONG_STORAGE(list(size))
        self.batchsize = CPU_LONG_STORAGE([1] + list(size))
        self.nelement = math.prod(size)
        if batchMode is not None:
            self.batchMode = bool(batchMode)

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        size = tuple(self.size)
        mode = self.__dict__.get('batchMode')
        if mode is False or (mode is None and x.size == self.nelement and x.ndim and x.shape[0] != 1):
            shape = size
        else:
            shape = (x.shape[0] if x.ndim else 1,) + size
        return self._output_as(t, shape, ('reshape', 'to'))

    def __repr__(self):
        return f"{self.__torch_name__}({'x'.join(str(s) for s in self.size)})"


class View(_ViewModule):
    """View(d1, d2, ...): the input seen with those sizes (one may be -1, inferred); a leading batch dim is
    added when the input has more elements (see setNumInputDims for batches of a fixed-rank input)."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    numInputDims = None

    def __init__(self, *sizes):
        super().__init__()
        self.resetSize(*sizes)
        self.numInputDims = None

    def resetSize(self, *sizes):
        size = _sizes(sizes, 'nn.View')
        n, infer = 1, False
        for s in size:
            if s >= 0:
                n *= s
            elif s == -1:
                if infer:
                    raise ValueError(f"nn.View: only one dimension can be -1, got {size}")
                infer = True
            else:
                raise ValueError(f"nn.View: sizes should be positive or -1, got {size}")
        self.size = CPU_LONG_STORAGE(list(size))
        self.numElements = n
        return self

    setNumInputDims = _setNumInputDims

    def _batchsize(self, x):
        """Torch7's rule: the batch size to prepend, or None."""
        ind = x.ndim
        nid = self.numInputDims
        maxdim = min(nid if nid is not None else ind, ind)
        ine = math.prod(x.shape[ind - maxdim:])
        size = tuple(self.size)
        if self.numElements == 0 or ine % self.numElements:
            raise ValueError(f"{self!r}: input view ({'x'.join(map(str, x.shape))}) and desired view "
                             f"({'x'.join(map(str, size))}) do not match")
        bsz = 1 if -1 in size else ine // self.numElements
        bsz *= math.prod(x.shape[:ind - maxdim])
        if bsz == 1 and (nid is None or ind <= nid):
            return None
        return bsz

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        bsz = self._batchsize(x)
        shape = tuple(self.size) if bsz is None else (bsz,) + tuple(self.size)
        if -1 in shape:
            known = math.prod(s for s in shape if s != -1)
            if known == 0 or x.size % known:
                raise ValueError(f"{self!r}: cannot view input of size {sizestr(x.shape)} as "
                                 f"{sizestr(shape)}")
            shape = tuple(x.size // known if s == -1 else s for s in shape)
        return self._output_as(t, shape, ('view', 'as'))

    def __repr__(self):
        return f"{self.__torch_name__}({', '.join(str(s) for s in self.size)})"


# -- Transpose, Squeeze, Unsqueeze -----------------------------------------------------------------------------
class Transpose(Module):
    """Transpose((d1, d2), (d3, d4), ...): swap dims d1 and d2, then d3 and d4, ... (0-based); the output is a
    contiguous copy, as Torch7.  With setNumInputDims(n), dims count within the last n dims of the input."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    numInputDims = None

    _lua_index_fields = ('permutations',)

    def __init__(self, *permutations):
        super().__init__()
        perms = []
        for p in permutations:
            if not isinstance(p, (tuple, list)) or len(p) != 2:
                raise ValueError(f"nn.Transpose: expected pairs of dims, got {p!r}")
            perms.append([int(p[0]), int(p[1])])
        self.permutations = perms
        self.numInputDims = None

    setNumInputDims = _setNumInputDims

    def _axes(self, ndim):
        off = ndim - self.numInputDims if self.numInputDims is not None else 0
        axes = list(range(ndim))
        for a, b in self.permutations:
            a = _dim(self, a + off if a >= 0 else a, ndim)
            b = _dim(self, b + off if b >= 0 else b, ndim)
            axes[a], axes[b] = axes[b], axes[a]
        return tuple(axes)

    def updateOutput(self, input):
        x = self._coerce(input)._a
        xt = x.transpose(self._axes(x.ndim))
        resized(self.output, xt.shape)[...] = xt
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        axes = self._axes(x.ndim)
        gi = resized(self.gradInput, x.shape)
        git = gi.transpose(axes)
        check_grad_size(self, g, git.shape)
        git[...] = g
        return self.gradInput


class Squeeze(_ViewModule):
    """Squeeze([dim, numInputDims]): drop the dims of size 1 (only ``dim`` when given; 0-based), as a view.
    With numInputDims, a batch dim in front is kept even when it is 1."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    dim = None
    numInputDims = None

    _lua_index_fields = ('dim',)

    def __init__(self, dim=None, numInputDims=None):
        super().__init__()
        self.dim = dim
        self.numInputDims = numInputDims

    setNumInputDims = _setNumInputDims

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        dim, addone = self.dim, False
        if self.numInputDims is not None and x.ndim == self.numInputDims + 1:
            if dim is not None:
                dim = dim + 1 if dim >= 0 else dim
            elif x.shape[0] == 1:
                addone = True
        if dim is not None:
            d = _dim(self, dim, x.ndim, 'dim')
            arr = x.squeeze(d) if x.shape[d] == 1 and x.ndim > 1 else x
        else:
            arr = x.squeeze() if x.size != 1 else x.reshape(1)
            if addone:
                arr = arr[None]
        _alias(self, 'output', t, arr)
        return self.output


class Unsqueeze(_ViewModule):
    """Unsqueeze(pos[, numInputDims]): insert a dim of size 1 at 0-based position ``pos`` (within the last
    numInputDims dims when given, so batches work), as a view."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    numInputDims = None

    _lua_index_fields = ('pos',)

    def __init__(self, pos, numInputDims=None):
        super().__init__()
        if not isinstance(pos, (int, np.integer)):
            raise TypeError(f"nn.Unsqueeze: the position to insert the singleton dim must be an int, got {pos!r}")
        self.pos = int(pos)
        self.numInputDims = numInputDims

    setNumInputDims = _setNumInputDims

    def _where(self, x):
        nid = self.numInputDims if self.numInputDims is not None else x.ndim
        off = x.ndim - nid
        if off < 0:
            raise ValueError(f"{self!r}: numInputDims ({nid}) must be <= the input's dims (size "
                             f"{sizestr(x.shape)})")
        pos = self.pos if self.pos >= 0 else self.pos + nid + 1
        if not 0 <= pos <= nid:
            raise ValueError(f"{self!r}: position {self.pos} out of range for input of size {sizestr(x.shape)}")
        return off + pos

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        k = self._where(x)
        _alias(self, 'output', t, x[(slice(None),) * k + (None,)])
        return self.output

    def __repr__(self):
        # the position as given here, 0-based, as every number luatorch_py prints (Lua prints pos + 1)
        return f"{self.__torch_name__}(dim {self.pos})"


# -- Narrow, Select, Replicate, Padding ------------------------------------------------------------------------
class _Slicing(Module):
    """Narrow and Select: the output is a copy of ``x[self._key(x)]``; the gradInput is zeros with gradOutput
    there."""

    def updateOutput(self, input):
        x = self._coerce(input)._a
        xs = x[self._key(x)]
        resized(self.output, xs.shape)[...] = xs
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        key = self._key(x)
        gi = resized(self.gradInput, x.shape)
        part = gi[key]
        check_grad_size(self, g, part.shape)
        gi.fill(0)
        part[...] = g
        return self.gradInput


class Narrow(_Slicing):
    """Narrow(dimension, offset, length=1): the slice [offset, offset + length) of ``dimension`` (0-based;
    negative dimension and offset count from the end; a negative length -k reaches k - 1 elements before the
    end, so -1 means "to the end"), as a copy."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    length = 1

    _lua_index_fields = ('dimension', 'index')

    def __init__(self, dimension, offset, length=1):
        super().__init__()
        self.dimension = dimension
        self.index = offset
        self.length = length

    def _key(self, x):
        d = _dim(self, self.dimension, x.ndim)
        n = x.shape[d]
        start = self.index + n if self.index < 0 else self.index
        length = n - start + self.length + 1 if self.length < 0 else self.length
        if not (0 <= start and 0 <= length and start + length <= n):
            raise ValueError(f"{self!r}: cannot narrow dim {d} of size {n} (input of size {sizestr(x.shape)}) to "
                             f"offset {self.index} and length {self.length}")
        return (slice(None),) * d + (slice(start, start + length),)


class Select(_Slicing):
    """Select(dimension, index): the slice at ``index`` of ``dimension`` (0-based, negative from the end), one
    dim less, as a copy."""

    _lua_index_fields = ('dimension', 'index')

    def __init__(self, dimension, index):
        super().__init__()
        self.dimension = dimension
        self.index = index

    def _key(self, x):
        if x.ndim < 2:
            raise ValueError(f"{self!r}: cannot select on a vector (input of size {sizestr(x.shape)})")
        d = _dim(self, self.dimension, x.ndim)
        n = x.shape[d]
        if not -n <= self.index < n:
            raise ValueError(f"{self!r}: index {self.index} out of range for dim {d} of size {n}")
        return (slice(None),) * d + (self.index % n,)


class Replicate(Module):
    """Replicate(nFeature, dim=0, ndim=None): the input repeated nFeature times along a new dim ``dim``
    (0-based), without copying (stride 0).  With ``ndim`` (the non-batch dims), a batch dim in front shifts it."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    dim = 0
    ndim = None

    _lua_index_fields = ('dim',)

    def __init__(self, nf, dim=0, ndim=None):
        super().__init__()
        self.nfeatures = nf
        self.dim = dim
        self.ndim = ndim

    def _rdim(self, x):
        off = 1 if self.ndim is not None and x.ndim > self.ndim else 0
        d = self.dim + off if self.dim >= 0 else self.dim + x.ndim + 1
        if not 0 <= d <= x.ndim:
            raise ValueError(f"{self!r}: not enough input dimensions to replicate along dimension {self.dim} "
                             f"(input of size {sizestr(x.shape)})")
        return d

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        d = self._rdim(x)
        shape = x.shape[:d] + (self.nfeatures,) + x.shape[d:]
        st = t._strides()
        strides = st[:d] + (0,) + st[d:]
        arr = backend.as_strided(t._s._data, shape, strides, t.storageOffset()) if x.size else \
            x[(slice(None),) * d + (None,)]
        _alias(self, 'output', t, arr)
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        d = self._rdim(x)
        check_grad_size(self, g, x.shape[:d] + (self.nfeatures,) + x.shape[d:])
        array_module(g).sum(g, axis=d, out=resized(self.gradInput, x.shape))
        return self.gradInput


class Padding(Module):
    """Padding(dim, pad, nInputDim=None, value=0, index=0): insert |pad| entries equal to ``value`` along
    ``dim`` (0-based).  pad < 0 inserts them before position ``index`` counted from the start, pad > 0 after
    ``index`` positions counted from the end (index 0: at the very start / end).  With nInputDim, an input with
    another number of dims has a batch dim in front."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    nInputDim = None
    value = 0
    index = 0

    _lua_index_fields = ('dim', 'index')

    def __init__(self, dim, pad, nInputDim=None, value=0, index=0):
        super().__init__()
        self.value = value
        self.index = index
        self.dim = dim
        self.pad = pad
        self.nInputDim = nInputDim
        # Torch7's buffer (Lua's forward resizes it: kept so that Lua can run a saved module)
        self.outputSize = CPU_LONG_STORAGE()

    def _where(self, x):
        if self.dim < 0:
            d = _dim(self, self.dim, x.ndim, 'dim')
        else:
            d = self.dim + 1 if self.nInputDim is not None and x.ndim != self.nInputDim else self.dim
            if d >= x.ndim:
                raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} has no dim {d}")
        n = x.shape[d]
        p = n - self.index if self.pad > 0 else self.index
        if not 0 <= p <= n:
            raise ValueError(f"{self!r}: index {self.index} out of range for dim {d} of size {n}")
        return d, p, abs(self.pad)

    def updateOutput(self, input):
        x = self._coerce(input)._a
        d, p, k = self._where(x)
        n = x.shape[d]
        out = resized(self.output, x.shape[:d] + (n + k,) + x.shape[d + 1:])
        pre = (slice(None),) * d
        out[pre + (slice(0, p),)] = x[pre + (slice(0, p),)]
        out[pre + (slice(p, p + k),)] = self.value
        out[pre + (slice(p + k, n + k),)] = x[pre + (slice(p, n),)]
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        d, p, k = self._where(x)
        n = x.shape[d]
        check_grad_size(self, g, x.shape[:d] + (n + k,) + x.shape[d + 1:])
        gi = resized(self.gradInput, x.shape)
        pre = (slice(None),) * d
        gi[pre + (slice(0, p),)] = g[pre + (slice(0, p),)]
        gi[pre + (slice(p, n),)] = g[pre + (slice(p + k, n + k),)]
        return self.gradInput


# -- Copy, Contiguous ------------------------------------------------------------------------------------------
def _any_tensor(module, x, what):
    if isinstance(x, Tensor):
        return x._a
    if isinstance(x, np.ndarray) or backend.is_cuda_array(x):
        if x.dtype.kind not in 'biuf':      # (copied as numbers: a complex's real part, strings parsed)
            raise TypeError(f"{module!r}: expected {what} of numbers, got a numpy array of dtype {x.dtype}")
        return x
    raise TypeError(f"{module!r}: expected {what} to be a tensor or a numpy array, got {type(x).__name__}")


def _passed(x):
    """``x`` itself when a tensor (or anything else Torch7's pass-through Copy hands on), a tensor viewing it when a
    numpy/CuPy array (its own dtype's type)."""
    return as_tensor(x) if isinstance(x, np.ndarray) or backend.is_cuda_array(x) else x


class Copy(Module):
    """Copy(intype, outtype, forceCopy=False, dontCast=False): the input converted to ``outtype`` (its
    gradient back to ``intype``); with equal types and no forceCopy, input and gradOutput pass through."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    dontCast = False

    def __init__(self, intype=None, outtype=None, forceCopy=False, dontCast=False):
        super().__init__()
        intype = type_info(intype).name if intype is not None else self._type
        outtype = type_info(outtype).name if outtype is not None else self._type
        self.dontCast = dontCast
        self.gradInput = type_info(intype).tensor_class()
        self.output = type_info(outtype).tensor_class()
        self._passthrough = (not forceCopy) and intype == outtype

    def updateOutput(self, input):
        if self.__dict__.get('_passthrough'):
            # a numpy array passes as a tensor viewing it (as Identity's): a module's output is a tensor
            self.output = _passed(input)
            return self.output
        x = _any_tensor(self, input, 'input')
        out = resized(self.output, x.shape)
        out[...] = backend.to_device(x, backend.is_cuda_array(out))
        return self.output

    def updateGradInput(self, input, gradOutput):
        if self.__dict__.get('_passthrough'):
            self.gradInput = _passed(gradOutput)
            return self.gradInput
        g = _any_tensor(self, gradOutput, 'gradOutput')
        gi = resized(self.gradInput, g.shape)
        gi[...] = backend.to_device(g, backend.is_cuda_array(gi))
        return self.gradInput

    def type(self, name=None, tensorCache=None):
        if name is not None and self.dontCast:
            return self
        return super().type(name, tensorCache)

    def clearState(self):
        # keep the output/gradInput types (outtype/intype) and the pass-through choice
        keep = {k: self.__dict__.get(k) for k in ('output', 'gradInput')}
        passthrough = self.__dict__.get('_passthrough')
        super().clearState()
        for k, v in keep.items():
            self.__dict__[k] = type(v)() if isinstance(v, Tensor) else v
        if passthrough is not None:
            self._passthrough = passthrough
        return self


class Contiguous(Module):
    """The input itself when contiguous, else a contiguous copy (likewise for the gradient)."""

    def updateOutput(self, input):
        t = self._coerce(input)
        return _view_as(self, 'output', t, t._a.shape)

    def updateGradInput(self, input, gradOutput):
        gt = self._coerce(gradOutput, 'gradOutput')
        return _view_as(self, 'gradInput', gt, gt._a.shape)


# -- constants -------------------------------------------------------------------------------------------------
class MulConstant(Module):
    """y = c x for a fixed number c; with ``inplace`` the input itself is scaled (and restored in backward)."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    inplace = False

    def __init__(self, constant_scalar, inplace=False):
        super().__init__()
        if isinstance(constant_scalar, bool) or not isinstance(constant_scalar, (int, float, np.number)):
            raise TypeError(f"nn.MulConstant: expected a number, got {constant_scalar!r}")
        if not isinstance(inplace, bool):
            raise TypeError(f"nn.MulConstant: the in-place flag must be a bool, got {inplace!r}")
        self.constant_scalar = constant_scalar
        self.inplace = inplace

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        if self.inplace:
            x *= self.constant_scalar
            _alias(self, 'output', t, x)
        else:
            array_module(x).multiply(x, self.constant_scalar, out=_owned(self, 'output', x.shape))
        return self.output

    def updateGradInput(self, input, gradOutput):
        t = self._coerce(input)
        gt = self._coerce(gradOutput, 'gradOutput')
        x, g = t._a, gt._a
        check_grad_like_input(self, x, g)
        if self.inplace:
            g *= self.constant_scalar
            _alias(self, 'gradInput', gt, g)
            x /= self.constant_scalar      # restore the input
        else:
            array_module(g).multiply(g, self.constant_scalar, out=_owned(self, 'gradInput', g.shape))
        return self.gradInput


class AddConstant(Module):
    """y = x + c for a fixed number c (or a 1-D tensor c added to each row of a 1-D or 2-D input); with
    ``inplace`` the input itself is changed (and restored in backward)."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    inplace = False

    def __init__(self, constant_scalar, inplace=False):
        super().__init__()
        if not isinstance(inplace, bool):
            raise TypeError(f"nn.AddConstant: the in-place flag must be a bool, got {inplace!r}")
        if isinstance(constant_scalar, Tensor) and constant_scalar._info is not self._tinfo:
            constant_scalar = constant_scalar.type(self._type)
        self.constant_scalar = constant_scalar
        self.inplace = inplace

    def _c(self, x):
        c = self.constant_scalar
        if isinstance(c, Tensor):
            if x.ndim > 2 or x.shape[-1] != c.nElement():
                raise ValueError(f"{self!r}: the constant of size {sizestr(c._a.shape)} does not match input of "
                                 f"size {sizestr(x.shape)} (1-D or 2-D, last dim {c.nElement()})")
            return c._a.reshape(-1)
        return c

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        c = self._c(x)
        if self.inplace:
            x += c
            _alias(self, 'output', t, x)
        else:
            array_module(x).add(x, c, out=_owned(self, 'output', x.shape))
        return self.output

    def updateGradInput(self, input, gradOutput):
        t = self._coerce(input)
        gt = self._coerce(gradOutput, 'gradOutput')
        x, g = t._a, gt._a
        check_grad_like_input(self, x, g)
        if self.inplace:
            _alias(self, 'gradInput', gt, g)
            x -= self._c(x)                # restore the input
        else:
            _owned(self, 'gradInput', g.shape)[...] = g
        return self.gradInput

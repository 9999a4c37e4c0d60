"""Tensor fields in the batch-last layout the CPU convolutions hand on (backend/kernels.py's module docstring):
size (N, C, *S), memory (C, *S, N).  The convolutions, ReLU and friends and max pooling use these so that the
layout flows from one layer to the next, forward and back; any other layout in gets Torch7's contiguous one out."""
from ..backend import kernels
from .module import owned_tensor, resized


def feeds_next(module, x):
    """Whether the module's output for input array ``x`` goes only to the next module of a Sequential: only then may
    it be batch-last.  The Sequential records, before each call, the input array it passes (``_feeds_next``), so a
    module called by anyone else -- the user's forward, another container, a gModule -- with another input hands
    Torch7's contiguous output to its caller, who may ``view`` it as in Lua."""
    return module.__dict__.get('_feeds_next') is x


def batch_last_field(module, name, shape, t=None):
    """The array of tensor field ``name`` (or of tensor ``t``, e.g. a LongTensor field) with size ``shape``
    (N, C, *S) laid out batch-last; the storage is reused (a fresh tensor when the field holds another type or an
    input's memory)."""
    t = owned_tensor(module, name) if t is None else t
    a = t._a
    if a.shape == shape and kernels.batch_last(a):
        return a
    if a.size and not kernels.batch_last(a):
        # a switch from Torch7's layout: a fresh tensor, so that an array or view taken from the old field keeps
        # its values in its own layout (re-laying out its storage in place would scramble them)
        t = module.__dict__[name] = type(t)()
    t._set_geometry(0, shape, kernels.batch_last_strides(shape))
    return t._a


def contiguous_field(module, name, shape):
    """The C-contiguous array of tensor field ``name`` resized to ``shape`` (a fresh tensor when the field holds
    another type, an input's memory, or a batch-last array of that size left by an earlier call)."""
    t = owned_tensor(module, name)
    if t._a.shape == shape and not t._a.flags.c_contiguous:
        t = module.__dict__[name] = module._tcls()
    return resized(t, shape)


def field_like(module, name, x):
    """The array of tensor field ``name`` sized like array ``x``: batch-last when ``x`` is (and, for the output,
    when it feeds the next module), else contiguous."""
    if kernels.batch_last(x) and (name != 'output' or feeds_next(module, x)):
        return batch_last_field(module, name, x.shape)
    return contiguous_field(module, name, x.shape)


def buffer_like(module, name, x, dtype=None):
    """A kept scratch array (module._buffer) sized like ``x`` and, when ``x`` is batch-last, laid out as it."""
    if kernels.batch_last(x):
        n = x.shape[0]
        return _unrotate(module._buffer(name, x.shape[1:] + (n,), dtype=dtype))
    return module._buffer(name, x.shape, dtype=dtype)


def _unrotate(m):
    """(C, *S, N) memory-order array -> its (N, C, *S) view."""
    return m.transpose((m.ndim - 1,) + tuple(range(m.ndim - 1)))

"""Convolution kernels on numpy or CuPy arrays: im2col / col2im for any number of spatial dims (stride, padding,
dilation), frame unfolding for Torch7's channel-last temporal convolution, and the window slices pooling uses.

Every function works on the array module of its inputs (numpy or CuPy); the only CuPy-specific line in the
package's convolution code is ``as_strided`` below.  Nothing loops over batch, channels or pixels: im2col is one
copy from a strided window view, col2im one vectorized add per kernel offset.  ``im2col_plan`` / ``col2im_plan``
make those views once and return the function that runs the copies and adds (a module keeps it while the same
arrays come back).  They run on the calling thread: split over two threads (by planes or output rows, through
backend/parallel.py) they measured 1.1-1.3x slower inside a LeNet step here, though faster alone (the copies are
memory-bound, and OpenBLAS's threads likely still spin on the other core after each product).

Column layouts (the matrix a convolution multiplies by its weight, C*K rows, one column per output position):

- ``'nfirst'``: memory (C, *K, N, *O): the columns of one example are together.  Cheap when the output rows
  (O[-1]) are long: the copies run over contiguous output rows.
- ``'nlast'``: memory (C, *K, *O, N): the batch is the fastest dim.  The input is first transposed to
  (C, *S, N) (one copy), after which a stride-1 window row is a single contiguous run of O[-1]*N numbers: much
  faster copies for small images, paid for by transposing the output (O, *O, N) -> (N, O, *O).

On the CPU a batch-last convolution keeps its output batch-last: the output tensor is (N, O, *O) with memory
(O, *O, N) (``batch_last``; Torch7 tensors may have any strides), and so are the ReLU and max pooling outputs after
it and the gradients that come back, so that the next convolution's im2col reads it without a transpose and the
gradOutput is already the (O, *O*N) matrix of the backward products (``keeps_batch_last`` says where: numpy
arrays; CUDA outputs stay contiguous, their kernels write any layout).

``choose_layout`` estimates which costs less for a given shape.  Buffers come from a ``buffer(name, shape)``
callable (a module's ``_buffer``: arrays kept between calls, reallocated only when the shape changes); with
``buffer=None`` fresh arrays are allocated.
"""
import functools
import itertools

import numpy as np

from . import array_module, gpu_conv

_NFIRST, _NLAST = 'nfirst', 'nlast'


# -- small helpers ---------------------------------------------------------------------------------------------
def as_strided(a, shape, strides):
    """A read-only strided view of array ``a`` (byte strides)."""
    if type(a) is np.ndarray:
        return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=False)
    import cupy   # only reached for CuPy arrays, so cupy is importable here
    return cupy.lib.stride_tricks.as_strided(a, shape, strides)


def take_into(a, idx, out, axis=None):
    """``take(a, idx, axis)`` written into ``out`` (numpy: mode='clip', which writes straight into out instead of
    through a temporary copy; the indices must be valid)."""
    if type(a) is np.ndarray:
        return np.take(a, idx, axis=axis, out=out, mode='clip')
    return array_module(a).take(a, idx, axis=axis, out=out)


def scatter_add(target, index, values):
    """``target[index] += values`` with repeated indices accumulating (numpy's ``add.at``).  CuPy's scatter atomics
    take only int32, 32/64-bit unsigned and float types: int64 goes through its uint64 bits (the same sums mod
    2^64), 8/16-bit integers through a uint32 accumulator (wrapping as numpy does)."""
    if type(target) is np.ndarray:
        np.add.at(target, index, values)
        return
    import cupyx
    xp = array_module(target)
    dt = target.dtype
    vals = xp.asarray(values, dtype=dt)
    if dt.kind in 'iu' and dt.itemsize == 8:
        cupyx.scatter_add(target.view(np.uint64), index, vals.view(np.uint64))
    elif dt.kind in 'iu' and dt.itemsize < 4:
        acc = xp.zeros(target.shape, dtype=np.uint32)
        cupyx.scatter_add(acc, index, vals.astype(np.uint32))
        xp.add(target, acc.astype(dt), out=target)
    else:
        cupyx.scatter_add(target, index, vals)


def rowdot_into(a, b, out):
    """``out[i] = a[i] . b[i]`` for 2-D ``a``, ``b`` (einsum 'ij,ij->i'; CuPy's einsum has no ``out``)."""
    if type(a) is np.ndarray:
        return np.einsum('ij,ij->i', a, b, out=out)
    out[...] = array_module(a).einsum('ij,ij->i', a, b)
    return out


def _get(buffer, name, shape, like):
    if buffer is None:
        return array_module(like).empty(shape, dtype=like.dtype)
    return buffer(name, shape)


def _prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


def _tuple(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def out_size(size, k, stride=1, pad=0, dilation=1):
    """Output length of a convolution / pooling window sweep (floor), Torch7's formula; <= 0 when the padded input
    is smaller than the (dilated) kernel."""
    span = dilation * (k - 1) + 1
    n = size + 2 * pad - span
    return n // stride + 1 if n >= 0 else 0


def out_sizes(sizes, ksize, stride, pad, dilation=1):
    n = len(sizes)
    ksize, stride, pad, dilation = (_tuple(v, n) for v in (ksize, stride, pad, dilation))
    return tuple(out_size(*a) for a in zip(sizes, ksize, stride, pad, dilation))


def window_slices(offset, stride, dilation, osize):
    """Per spatial dim, the slice of a (padded) input that kernel offset ``offset`` sees across all outputs."""
    return tuple(slice(i * d, i * d + s * (o - 1) + 1, s) for i, s, d, o in zip(offset, stride, dilation, osize))


def kernel_offsets(ksize):
    """All kernel offsets, row-major (the order of the C*K rows of a column matrix)."""
    return itertools.product(*(range(k) for k in ksize))


def batch_last(a):
    """Whether array ``a`` (N, C, *S) with N > 1 lies in memory as a C-contiguous (C, *S, N) block."""
    sh = a.shape
    if len(sh) < 3 or sh[0] < 2:
        return False
    st = a.strides
    step = a.itemsize
    if st[0] != step:
        return False
    step *= sh[0]
    for i in range(len(sh) - 1, 0, -1):     # (strides of dims of size 1 do not matter, as numpy's flags)
        if sh[i] != 1 and st[i] != step:
            return False
        step *= sh[i]
    return True


def memory_view(a):
    """Batch-last ``a`` (N, C, *S) seen in memory order, (C, *S, N): a C-contiguous view."""
    return a.transpose(tuple(range(1, a.ndim)) + (0,))


def batch_last_strides(shape):
    """Element strides of a batch-last array of size ``shape`` (N, C, *S): memory (C, *S, N)."""
    st = [1]
    for s in reversed(shape[1:]):
        st.append(st[-1] * s)
    # st = [1, S[-1], S[-1]*S[-2], ...]: the strides of (C, *S) in a block without N; N is innermost
    return (1,) + tuple(st[len(shape) - 1 - i] * shape[0] for i in range(1, len(shape)))


BATCH_LAST_MIN = 16     # the smallest batch kept batch-last: below, runs of N numbers are too short to pay


def keeps_batch_last(x):
    """Whether a batch-last convolution on array ``x`` (N, C, *S) hands its output on batch-last: numpy with a
    batch of at least BATCH_LAST_MIN (the layers after it then read it in place); CuPy no (its kernels write the
    output contiguous)."""
    return type(x) is np.ndarray and x.ndim >= 3 and x.shape[0] >= BATCH_LAST_MIN


def choose_layout(n, c, sizes, ksize, osize, nout, stride=None, x_last=False, out_last=False):
    """'nfirst' or 'nlast' (see the module docstring): an estimate of which copies cost less.

    'nfirst' pays per row copied (C*K*N*prod(O[:-1]) rows of O[-1] numbers, in im2col and col2im: ~25 ns each
    with numpy); 'nlast' pays per number transposed (the input, the output and their gradients: ~3 ns each).
    Measured on LeNet (batch 64, float32, one thread): its 1->20 convolution on 28x28 images is faster
    batch-first, its 20->50 one on 12x12 planes faster batch-last (forward + backward 1.4x, the im2col + col2im
    copies 3.5x).  ``x_last``: the input is already batch-last (nothing to transpose); ``out_last``: the output
    stays batch-last (``keeps_batch_last``: no transpose paid here) -- then both LeNet layers go batch-last."""
    if n <= 1:
        return _NFIRST
    rows = c * _prod(ksize) * n * _prod(osize[:-1])
    moved = n * ((0 if x_last else c * _prod(sizes)) + (0 if out_last else nout * _prod(osize)))
    if stride is not None and any(s > 1 for s in stride):
        rows *= 2          # strided rows copy slower still (the 'nlast' runs are N long at worst)
    return _NLAST if rows * 8 > moved else _NFIRST


# -- batch <-> column-matrix layouts ----------------------------------------------------------------------------
def batch_to_cols(a, layout, out):
    """``a`` (N, C, *S) copied into ``out`` (C, N*L) in the layout's order: (C, N, *S) or (C, *S, N)."""
    n, c = a.shape[:2]
    src = a.reshape(n, c, -1)
    if layout == _NLAST:
        out.reshape(c, -1, n)[...] = src.transpose(1, 2, 0)
    else:
        out.reshape(c, n, -1)[...] = src.transpose(1, 0, 2)
    return out


def cols_to_batch(m, n, layout):
    """A view in (N, C, L) order of ``m`` (C, N*L) laid out by ``layout`` (for a copy into the output)."""
    c = m.shape[0]
    if layout == _NLAST:
        return m.reshape(c, -1, n).transpose(2, 0, 1)
    return m.reshape(c, n, -1).transpose(1, 0, 2)


# -- padding ------------------------------------------------------------------------------------------------
def _border_copies(buf, first, pad, sizes, value=0):
    """The (border view, ``value``) pairs that fill the border of width ``pad`` (left) / the rest (right) of the
    spatial dims starting at axis ``first`` of ``buf``, around an interior of ``sizes``."""
    copies = []
    lead = (slice(None),) * first
    for i, (p, s) in enumerate(zip(pad, sizes)):
        total = buf.shape[first + i]
        pre = lead + (slice(None),) * i
        if p:
            copies.append((buf[pre + (slice(0, p),)], value))
        if total > p + s:
            copies.append((buf[pre + (slice(p + s, total),)], value))
    return copies


def padded(x, pad, buffer=None, name='_pad', value=0, extra=None):
    """``x`` (N, C, *S) inside a border of ``pad`` (per spatial dim) filled with ``value``; ``extra`` adds room on
    the right (ceil-mode pooling).  ``x`` itself when there is nothing to add."""
    if not any(pad) and not any(extra or ()):
        return x
    buf, copies = _padded_copies(x, pad, buffer, name, value, extra)
    for dst, src in copies:
        dst[...] = src
    return buf


def _padded_copies(x, pad, buffer, name, value=0, extra=None):
    """A buffer (N, C, *S+2*pad(+extra)) and the copies (dst, src) that fill it with ``x`` (N, C, *S) inside a
    border of ``value`` (``padded``'s, made once by ``im2col_plan``)."""
    sizes = x.shape[2:]
    extra = extra or (0,) * len(sizes)
    shape = x.shape[:2] + tuple(s + 2 * p + e for s, p, e in zip(sizes, pad, extra))
    buf = _get(buffer, name, shape, x)
    inner = (slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(pad, sizes))
    return buf, _border_copies(buf, 2, pad, sizes, value) + [(buf[inner], x)]


def _nlast_padded_copies(x, pad, buffer, name):
    """A buffer (C, *S+2*pad, N) and the copies (dst, src) that fill it with ``x`` (N, C, *S) transposed inside a
    zero border."""
    d = x.ndim - 2
    sizes = x.shape[2:]
    shape = (x.shape[1],) + tuple(s + 2 * p for s, p in zip(sizes, pad)) + (x.shape[0],)
    buf = _get(buffer, name, shape, x)
    inner = buf[(slice(None),) + tuple(slice(p, p + s) for p, s in zip(pad, sizes))]
    return buf, _border_copies(buf, 1, pad, sizes) + [(inner, x.transpose((1,) + tuple(range(2, 2 + d)) + (0,)))]


# -- im2col / col2im ---------------------------------------------------------------------------------------
def im2col(x, ksize, stride=1, pad=0, dilation=1, layout=_NFIRST, buffer=None, name='_cols'):
    """The column matrix of ``x`` (N, C, *S): (C*prod(ksize), N*L) with L = prod(output sizes), row
    (c, *k) holding the input values that kernel offset k of plane c meets at every output position (0 in the
    padding), columns ordered by ``layout`` ((n, *o) for 'nfirst', (*o, n) for 'nlast').  One strided copy (plus
    one transposing copy into a padded buffer for 'nlast' or when padding).  Buffers: ``name`` and ``name+'_pad'``.
    """
    return im2col_plan(x, ksize, stride, pad, dilation, layout, buffer, name)()


def im2col_plan(x, ksize, stride=1, pad=0, dilation=1, layout=_NFIRST, buffer=None, name='_cols'):
    """``im2col`` prepared: a function that fills the column matrix from the values ``x`` holds when it is called
    and returns it.  The views it copies through are made here once, so a module keeps the plan while the same
    array comes back (its memory, sizes and strides fixed) and pays one ``np.copyto`` per copy per call."""
    d = x.ndim - 2
    ksize, stride, pad, dilation = (_tuple(v, d) for v in (ksize, stride, pad, dilation))
    n, c = x.shape[:2]
    osize = out_sizes(x.shape[2:], ksize, stride, pad, dilation)
    if type(x) is not np.ndarray:     # CUDA: one gather kernel straight into the column matrix
        cols = _get(buffer, name, (c * _prod(ksize), n * _prod(osize)), x)
        nlast = layout == _NLAST
        return lambda: gpu_conv.im2col(x, cols, ksize, stride, pad, dilation, osize, nlast)
    if layout == _NLAST:
        if not any(pad) and batch_last(x):
            src, copies = memory_view(x), []                                    # already (C, *S, N)
        else:
            src, copies = _nlast_padded_copies(x, pad, buffer, name + '_pad')  # (C, *Sp, N)
        st = src.strides
        shape = (c,) + ksize + osize + (n,)
        strides = ((st[0],) + tuple(st[1 + i] * dilation[i] for i in range(d))
                   + tuple(st[1 + i] * stride[i] for i in range(d)) + (st[-1],))
    else:
        if any(pad):
            src, copies = _padded_copies(x, pad, buffer, name + '_pad')        # (N, C, *Sp)
        else:
            src, copies = x, []
        st = src.strides
        shape = (c,) + ksize + (n,) + osize
        strides = ((st[1],) + tuple(st[2 + i] * dilation[i] for i in range(d)) + (st[0],)
                   + tuple(st[2 + i] * stride[i] for i in range(d)))
    cols = _get(buffer, name, shape, x)
    copies.append((cols, as_strided(src, shape, strides)))
    matrix = cols.reshape(c * _prod(ksize), -1)
    copyto = np.copyto

    def fill():
        for dst, src in copies:
            copyto(dst, src)
        return matrix
    return fill


@functools.lru_cache(maxsize=256)
def _fold_slices(ksize, stride, dilation, osize, lead):
    """col2im's (accumulator index, column index) per kernel offset, ``lead`` full dims before the spatial ones."""
    return tuple(((slice(None),) * lead + window_slices(k, stride, dilation, osize), (slice(None),) + k)
                 for k in kernel_offsets(ksize))


def col2im(cols, out, ksize, stride=1, pad=0, dilation=1, layout=_NFIRST, buffer=None, name='_col2im'):
    """The adjoint of im2col: ``out`` (N, C, *S) = the sum, over kernel offsets, of the columns added back at the
    input positions they were read from (the padding dropped).  ``cols`` is (C*prod(ksize), N*L) in ``layout``.
    One vectorized add per kernel offset into a zeroed accumulator, then one copy into ``out``."""
    return col2im_plan(cols, out, ksize, stride, pad, dilation, layout, buffer, name)()


def col2im_plan(cols, out, ksize, stride=1, pad=0, dilation=1, layout=_NFIRST, buffer=None, name='_col2im'):
    """``col2im`` prepared (as ``im2col_plan``): a function that folds the values ``cols`` holds when it is called
    into ``out`` and returns ``out``; kept while the same two arrays come back.

    Every input element gets its sum in the order of the kernel offsets, starting from +0.0, as Torch7's col2im:
    the accumulator is zeroed (the positions no window covers keep the 0), the first offset's add is
    ``columns + 0.0`` written over its window (the same sum, without reading the zeros back), the other offsets are
    added in turn."""
    d = out.ndim - 2
    ksize, stride, pad, dilation = (_tuple(v, d) for v in (ksize, stride, pad, dilation))
    n, c = out.shape[:2]
    sizes = out.shape[2:]
    osize = out_sizes(sizes, ksize, stride, pad, dilation)
    if type(out) is not np.ndarray:   # CUDA: one kernel, each input element sums the columns that read it
        dst = out if out.flags.c_contiguous else _get(buffer, name, out.shape, out)
        nlast = layout == _NLAST

        def fold_gpu():
            gpu_conv.col2im(cols, dst, ksize, stride, pad, dilation, osize, nlast)
            if dst is not out:
                out[...] = dst
            return out
        return fold_gpu
    psizes = tuple(s + 2 * p for s, p in zip(sizes, pad))
    inner = tuple(slice(p, p + s) for p, s in zip(pad, sizes))
    final = None
    if layout == _NLAST:
        direct = not any(pad) and batch_last(out)       # sum straight into a batch-last out
        acc = memory_view(out) if direct else _get(buffer, name, (c,) + psizes + (n,), out)
        c6 = cols.reshape((c,) + ksize + osize + (n,))
        slices = _fold_slices(ksize, stride, dilation, osize, 1)
        if not direct:
            final = (out, acc[(slice(None),) + inner].transpose((d + 1, 0) + tuple(range(1, d + 1))))
    else:
        acc = _get(buffer, name, (c, n) + psizes, out)
        c6 = cols.reshape((c,) + ksize + (n,) + osize)
        slices = _fold_slices(ksize, stride, dilation, osize, 2)
        final = (out, acc[(slice(None), slice(None)) + inner].swapaxes(0, 1))
    first = (acc[slices[0][0]], c6[slices[0][1]])
    rest = [(acc[dst], c6[src]) for dst, src in slices[1:]]
    add = np.add
    zero = acc.dtype.type(0)

    def fold():
        acc.fill(0)
        add(first[1], zero, out=first[0])
        for dst, src in rest:
            add(dst, src, out=dst)
        if final is not None:
            np.copyto(*final)
        return out
    return fold


# -- temporal (channel-last) -------------------------------------------------------------------------------------
def unfold_frames(x, kw, dw, out):
    """``x`` (N, T, C) -> ``out`` (N, To, kw*C): row (n, t) is frames t*dw .. t*dw+kw-1 of example n, one after
    the other (Torch7's TemporalConvolution window).  One strided copy (rows are contiguous runs of kw*C)."""
    n, t, c = x.shape
    to = out.shape[1]
    sn, st, sc = x.strides
    if sc * c == st:   # frames contiguous: a window is one run of kw*C numbers
        win = as_strided(x, (n, to, kw * c), (sn, st * dw, sc))
        out[...] = win
    else:
        win = as_strided(x, (n, to, kw, c), (sn, st * dw, st, sc))
        out.reshape(n, to, kw, c)[...] = win
    return out


def fold_frames(cols, out, kw, dw):
    """The adjoint of unfold_frames: ``out`` (N, T, C) = window rows ``cols`` (N, To, kw*C) added back (one add
    per kernel offset)."""
    n, t, c = out.shape
    if type(out) is not np.ndarray and out.flags.c_contiguous:    # CUDA: one gather kernel
        return gpu_conv.fold_frames(cols, out, kw, dw)
    to = cols.shape[1]
    c4 = cols.reshape(n, to, kw, c)
    out.fill(0)
    for k in range(kw):
        out[:, k:k + dw * (to - 1) + 1:dw, :] += c4[:, :, k, :]
    return out


__all__ = ['as_strided', 'take_into', 'rowdot_into', 'out_size', 'out_sizes', 'window_slices', 'kernel_offsets',
           'batch_last', 'memory_view', 'batch_last_strides', 'keeps_batch_last', 'BATCH_LAST_MIN', 'choose_layout',
           'batch_to_cols', 'cols_to_batch', 'padded', 'im2col', 'im2col_plan', 'col2im', 'col2im_plan',
           'unfold_frames', 'fold_frames']

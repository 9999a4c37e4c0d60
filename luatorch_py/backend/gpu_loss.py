"""The arithmetic of the criterions (nn/criterion.py) and of the SoftMax family (nn/activation.py), on numpy or CuPy
arrays: one function per pass, which chooses by its arrays' type.  numpy arrays run the numpy code as it was in nn/
(moved here unchanged: same values, same speed); CuPy arrays run the CUDA kernels below, each beside its numpy twin
(tests/fakecupy runs the twins in place of the CUDA source).

Functions take ``m``, the module or criterion, for its kept arrays (``m._buffer``, ``m._bools``, ``m._arange``) and,
for a loss, ``m._lossbuf()``: the 1-element device array a CUDA loss is written into.  A loss on CUDA is returned as
that array, not read back: ``Criterion._loss`` reads it once in ``forward`` (one synchronization) and leaves it on
the device under ``forwardDevice`` (none).

Launches per pass on CUDA, whatever the batch, the number of classes or the input's size (+1 for each input that
is not C-contiguous, copied first into a kept buffer):

====================================================  =========  ==========
pass                                                   forward    backward
====================================================  =========  ==========
SoftMax, LogSoftMax (+ Spatial*): one block per row    1          1
ClassNLLCriterion                                      1          2
CrossEntropyCriterion (LogSoftMax + ClassNLL)          2          3
MSE, Abs, SmoothL1, DistKLDiv, BCE, Margin,            1          1
SoftMargin, HingeEmbedding (one fused reduction)
MultiLabelSoftMargin                                   1 + Sigmoid's forward   1
MultiMarginCriterion                                   1          1
MultiLabelMarginCriterion                              2          1
CosineEmbeddingCriterion                               2          1
MarginRankingCriterion (ufuncs + a reduction)          5          8
MultiCriterion / ParallelCriterion                     each criterion's (+1 each under forwardDevice)
====================================================  =========  ==========

Class targets on CUDA are checked by the kernels that read them, never read out of bounds: a target outside
[0, nClasses) (ClassNLL's ``ignoreIndex`` apart) sets the criterion's error flag ``m._err`` (a kept int32 device
array, sticky) and the loss is written as NaN while the flag is set; the criterion reads the flag only when a loss
it reads back is NaN (see ``Criterion._checked_loss``).  Targets are read as int64 (a LongTensor) or, with no
conversion launch, as the input's float type (a CudaTensor, as ``:cuda()`` makes it), truncated as Lua's :long().

The reductions accumulate in double, in a fixed order (the same bits every run): one block up to 8192 items; past
that several blocks, still in one launch, the last block to finish adding up their partial sums (lt_grid_sum).
"""
import numpy as np

from .cuda import Kernel, grid_index
from .kernels import rowdot_into, take_into

_INF = float('inf')
_EPS = 1e-12     # THNN's BCECriterion and CosineEmbeddingCriterion
_MAX_ROWS = 65535          # blocks of a one-block-per-row kernel (grid-stride over the rows beyond)


# == CUDA helpers shared by the kernels ==============================================================================
_HELPERS = r'''
__device__ __forceinline__ float lt_exp(float v) { return expf(v); }
__device__ __forceinline__ double lt_exp(double v) { return exp(v); }
__device__ __forceinline__ float lt_log(float v) { return logf(v); }
__device__ __forceinline__ double lt_log(double v) { return log(v); }
__device__ __forceinline__ float lt_log1p(float v) { return log1pf(v); }
__device__ __forceinline__ double lt_log1p(double v) { return log1p(v); }
__device__ __forceinline__ float lt_abs(float v) { return fabsf(v); }
__device__ __forceinline__ double lt_abs(double v) { return fabs(v); }
__device__ __forceinline__ float lt_sqrt(float v) { return sqrtf(v); }
__device__ __forceinline__ double lt_sqrt(double v) { return sqrt(v); }
#define LT_NAN __longlong_as_double(0x7ff8000000000000LL)
// a class target: int64, or a float truncated as Lua's :long() on the CPU: NaN and values outside the int64 range
// give INT64_MIN there (x86's cvttsd2si; numpy's astype), so they are out of range here too (a bare cast on the
// GPU would make NaN class 0 and saturate the rest)
__device__ __forceinline__ long long lt_ti(long long v) { return v; }
__device__ __forceinline__ long long lt_ti(double v) {
    return (v >= -9223372036854775808.0 && v < 9223372036854775808.0) ? (long long)v : (-9223372036854775807LL - 1);
}
__device__ __forceinline__ long long lt_ti(float v) { return lt_ti((double)v); }
#define TI(v) lt_ti(v)

// The sum (the max) of v over the block, returned to every thread.  blockDim.x: a power of 2;
// sh: blockDim.x doubles of dynamic shared memory.
__device__ double lt_bsum(double v, double* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int k = blockDim.x >> 1; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    v = sh[0];
    __syncthreads();
    return v;
}
__device__ double lt_bmax(double v, double* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int k = blockDim.x >> 1; k > 0; k >>= 1) {
        if (threadIdx.x < k && sh[threadIdx.x + k] > sh[threadIdx.x]) sh[threadIdx.x] = sh[threadIdx.x + k];
        __syncthreads();
    }
    v = sh[0];
    __syncthreads();
    return v;
}
__device__ double lt_bmin(double v, double* sh) {
    return -lt_bmax(-v, sh);
}

// One-launch reduction over the whole grid: each block's totals v[0..k-1] (in every thread) go to
// partials[j * gridDim.x + blockIdx.x]; the last block to finish adds them up, in block order (deterministic),
// resets the counter for the next launch, and gets true in its thread 0, with the grand totals in v.
__device__ bool lt_grid_sum(double* v, int k, double* partials, int* count, double* sh) {
    __shared__ int last;
    if (gridDim.x == 1) return threadIdx.x == 0;
    if (threadIdx.x == 0) {
        for (int j = 0; j < k; j++) partials[j * gridDim.x + blockIdx.x] = v[j];
        __threadfence();
        last = atomicAdd(count, 1) == (int)gridDim.x - 1;
    }
    __syncthreads();
    if (!last) return false;
    __threadfence();
    for (int j = 0; j < k; j++) {
        double s = 0;
        for (int b = threadIdx.x; b < gridDim.x; b += blockDim.x)
            s += ((volatile double*)partials)[j * gridDim.x + b];
        v[j] = lt_bsum(s, sh);
    }
    if (threadIdx.x == 0) *count = 0;
    return threadIdx.x == 0;
}
'''


def _block(n):
    """Threads of a block working on ``n`` items: a power of 2 in [32, 1024]."""
    b = 32
    while b < n and b < 1024:
        b *= 2
    return b


_MAX_REDUCE = 512          # blocks of a one-launch reduction (the last one to finish adds up their partial sums)


def _zeroed(m, name, shape, dtype):
    """``m``'s kept array ``name``, zero-filled when (re)made (one launch, then only)."""
    old = m.__dict__.get(name)
    a = m._buffer(name, shape, dtype=dtype)
    if a is not old:
        a.fill(0)
    return a


def _reduce(m, kernel, n, k, before, after):
    """Launch reduction ``kernel`` (of ``k`` sums over ``n`` items; see lt_grid_sum) as
    ``kernel(*before, partials, count, *after)``: one block up to 8192 items, more blocks (at most _MAX_REDUCE) past
    that, still one launch."""
    b = _block(n)
    g = max(1, min(-(-n // (b * 8)), _MAX_REDUCE))
    part = m._buffer(f'_red_part{k}', (k * g,), dtype=np.float64)
    kernel.launch(g, b, *before, part, _zeroed(m, '_red_count', (1,), np.int32), *after, shared=b * 8)


def _launch_rows(kernel, rows, per_row, *args):
    """``kernel`` with one block per row (grid-stride over rows past _MAX_ROWS), ``per_row`` items a row."""
    b = _block(per_row)
    kernel.launch(min(rows, _MAX_ROWS), b, *args, shared=b * 8)


def _c(m, a, name):
    """``a``, or a copy of it in ``m``'s kept buffer ``name`` when it is not C-contiguous (the kernels index their
    arrays flat): one launch, only then."""
    if a.flags.c_contiguous:
        return a
    buf = m._buffer(name, a.shape, dtype=a.dtype)
    buf[...] = a
    return buf


def _dst(m, a, name):
    """Where a kernel writes output ``a``: ``a`` itself, or a kept buffer when ``a`` is not C-contiguous (then
    copied into ``a`` by ``_done``)."""
    return a if a.flags.c_contiguous else m._buffer(name, a.shape, dtype=a.dtype)


def _done(a, dst):
    if dst is not a:
        a[...] = dst


def err_flag(m):
    """``m``'s error flag for bad class targets: a kept int32 device array of one element, zeroed when made."""
    return _zeroed(m, '_err', (1,), np.int32)


def _target_kernels(name, source, twin):
    """The kernel of ``source`` twice: reading class targets ``TGT`` as int64 (a LongTensor) or as T, the input's
    own type (a CudaTensor of targets, as ``:cuda()`` makes them: no conversion launch), truncated as they are
    read.  ``_for(kernels, t)`` picks one."""
    return (Kernel(name, source.replace('TGT', 'long long').replace('KNAME', name), twin),
            Kernel(name + '_ft', source.replace('TGT', 'T').replace('KNAME', name + '_ft'), twin))


def _for(kernels, t):
    return kernels[1] if t.dtype.kind == 'f' else kernels[0]


def _int_targets(t):
    """The twins' view of class targets: int64 (floats truncated, as the kernels' casts)."""
    if t.dtype.kind == 'f':
        with np.errstate(all='ignore'):
            return t.astype(np.int64)
    return t


def class_indices(m, a):
    """Class targets ``a`` (a numeric array on ``m``'s device) as the criterion's code reads them: int64 on the CPU
    (float values truncated, as Lua's :long()); on CUDA int64 or the criterion's own float type, which the kernels
    truncate as they read it (a float target of another type is converted into a kept int64 buffer: one launch)."""
    if type(a) is np.ndarray:
        return a if a.dtype == np.int64 else a.astype(np.int64)
    if a.dtype == np.int64 or a.dtype == m._tinfo.dtype:
        return a
    buf = m._buffer('_target_long', a.shape, dtype=np.int64)
    buf[...] = a
    return buf


def host_range(a):
    """(min, max) of a non-empty integer array on the CPU (where the criterions check class targets on the host);
    None for a device array: the CUDA kernels check each target as they read it (no synchronization)."""
    if type(a) is not np.ndarray:
        return None
    return int(a.min()), int(a.max())


# == the SoftMax family =============================================================================================
def _geometry(x, axis):
    """(rows, C, inner): x as (outer, C, inner) around ``axis``; a row is one (outer, inner) pair."""
    outer = inner = 1
    for d in x.shape[:axis]:
        outer *= d
    for d in x.shape[axis + 1:]:
        inner *= d
    return outer * inner, x.shape[axis], inner


def _red_shape(x, axis):
    s = list(x.shape)
    s[axis] = 1
    return tuple(s)


def _softmax_twin(x, y, rows, C, inner, log_):
    x3, y3 = x.reshape(-1, C, inner), y.reshape(-1, C, inner)
    d = x3 - x3.max(axis=1, keepdims=True)
    e = np.exp(d)
    s = e.astype(np.float64).sum(axis=1, keepdims=True)
    with np.errstate(all='ignore'):
        y3[...] = d - np.log(s).astype(x.dtype) if log_ else e / s.astype(x.dtype)


softmax_kernel = Kernel('lt_softmax', _HELPERS + r'''
extern "C" __global__ void lt_softmax(const T* x, T* y, long long rows, int C, long long inner, int log_) {
    extern __shared__ double sh[];
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        long long o = r / inner;
        long long base = o * C * inner + (r - o * inner);
        const T* xr = x + base;
        T* yr = y + base;
        T m = xr[0];
        for (int c = threadIdx.x; c < C; c += blockDim.x) {
            T v = xr[c * inner];
            if (v > m) m = v;
        }
        m = (T)lt_bmax((double)m, sh);
        double s = 0;
        for (int c = threadIdx.x; c < C; c += blockDim.x) s += (double)lt_exp(xr[c * inner] - m);
        s = lt_bsum(s, sh);
        if (log_) {
            T ls = (T)log(s);
            for (int c = threadIdx.x; c < C; c += blockDim.x) yr[c * inner] = (xr[c * inner] - m) - ls;
        } else {
            T ts = (T)s;
            for (int c = threadIdx.x; c < C; c += blockDim.x) yr[c * inner] = lt_exp(xr[c * inner] - m) / ts;
        }
    }
}
''', _softmax_twin)


def _softmax_grad_twin(y, g, gi, rows, C, inner, log_):
    y3, g3, o3 = y.reshape(-1, C, inner), g.reshape(-1, C, inner), gi.reshape(-1, C, inner)
    if log_:
        s = g3.astype(np.float64).sum(axis=1, keepdims=True).astype(y.dtype)
        o3[...] = g3 - np.exp(y3) * s
    else:
        s = (g3 * y3).astype(np.float64).sum(axis=1, keepdims=True).astype(y.dtype)
        o3[...] = y3 * (g3 - s)


softmax_grad_kernel = Kernel('lt_softmax_grad', _HELPERS + r'''
extern "C" __global__ void lt_softmax_grad(const T* y, const T* g, T* gi, long long rows, int C, long long inner,
                                           int log_) {
    extern __shared__ double sh[];
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        long long o = r / inner;
        long long base = o * C * inner + (r - o * inner);
        const T* yr = y + base;
        const T* gr = g + base;
        T* out = gi + base;
        double s = 0;
        for (int c = threadIdx.x; c < C; c += blockDim.x)
            s += log_ ? (double)gr[c * inner] : (double)(gr[c * inner] * yr[c * inner]);
        T ts = (T)lt_bsum(s, sh);
        for (int c = threadIdx.x; c < C; c += blockDim.x) {
            long long k = c * inner;
            out[k] = log_ ? gr[k] - lt_exp(yr[k]) * ts : yr[k] * (gr[k] - ts);
        }
    }
}
''', _softmax_grad_twin)


def softmax(m, x, out, axis, log):
    """``out`` = the SoftMax (``log`` False) or LogSoftMax of ``x`` along ``axis`` (max subtracted first).
    CUDA: one launch (one block per row)."""
    if type(x) is np.ndarray:
        r = m._buffer('_red', _red_shape(x, axis))
        np.max(x, axis=axis, keepdims=True, out=r)
        if log:
            e = m._buffer('_exp', x.shape)
            np.subtract(x, r, out=out)
            np.exp(out, out=e)
            np.sum(e, axis=axis, keepdims=True, out=r)
            np.log(r, out=r)
            out -= r
        else:
            np.subtract(x, r, out=out)
            np.exp(out, out=out)
            np.sum(out, axis=axis, keepdims=True, out=r)
            out /= r
        return out
    if x.size:
        rows, C, inner = _geometry(x, axis)
        dst = _dst(m, out, '_sm_out')
        _launch_rows(softmax_kernel, rows, C, _c(m, x, '_sm_x'), dst, rows, C, inner, int(log))
        _done(out, dst)
    return out


def softmax_grad(m, y, g, out, axis, log):
    """``out`` = the gradient of the SoftMax (``log`` False: y (g - sum(g y))) or LogSoftMax (g - exp(y) sum(g))
    from its output ``y`` and ``g`` = gradOutput, along ``axis``.  CUDA: one launch."""
    if type(y) is np.ndarray:
        r = m._buffer('_red', _red_shape(y, axis))
        if np.may_share_memory(g, out):             # gradOutput in the gradInput's memory: read it before writing
            g = g.copy()
        if log:
            np.sum(g, axis=axis, keepdims=True, out=r)     # g - exp(y) * sum(g)
            np.exp(y, out=out)
            out *= r
            np.subtract(g, out, out=out)
        else:
            np.multiply(g, y, out=out)
            np.sum(out, axis=axis, keepdims=True, out=r)
            np.subtract(g, r, out=out)
            out *= y
        return out
    if y.size:
        rows, C, inner = _geometry(y, axis)
        dst = _dst(m, out, '_sm_gi')
        _launch_rows(softmax_grad_kernel, rows, C, _c(m, y, '_sm_y'), _c(m, g, '_sm_g'), dst, rows, C, inner,
                     int(log))
        _done(out, dst)
    return out


# == generic reductions ==============================================================================================
def _sum_twin(a, out, part, count, err, n, checked, scale):
    s = a[:n].astype(np.float64).sum() * scale
    out[0] = np.nan if checked and err[0] else s


sum_kernel = Kernel('lt_sum', _HELPERS + r'''
extern "C" __global__ void lt_sum(const T* a, T* out, double* part, int* count, const int* err, long long n,
                                  int checked, double scale) {
    extern __shared__ double sh[];
    double s = 0;
    LOOP(i, n) s += (double)a[i];
    double v[1] = {lt_bsum(s, sh)};
    if (lt_grid_sum(v, 1, part, count, sh)) out[0] = (checked && err[0]) ? (T)LT_NAN : (T)(v[0] * scale);
}
''', _sum_twin)


def total(m, a, scales=(), divisors=()):
    """The sum of ``a`` times each of ``scales``, divided by each of ``divisors`` (in that order): a Python float
    from numpy (float(a.sum()), then the products and divisions in double, as the criterions did), else ``m``'s
    loss buffer (one launch)."""
    if type(a) is np.ndarray:
        s = float(a.sum())
        for f in scales:
            s *= f
        for d in divisors:
            s /= d
        return s
    scale = 1.0
    for f in scales:
        scale *= f
    for d in divisors:
        scale /= d
    out = m._lossbuf()
    a = _c(m, a, '_sum_in')
    _reduce(m, sum_kernel, a.size, 1, (a, out), (_nocheck(m), a.size, 0, scale))
    return out


def _nocheck(m):
    """An int32 array for the ``err`` argument of a kernel told not to read it."""
    return m._buffer('_noerr', (1,), dtype=np.int32)


def _axpy1_twin(a, out, w, first):
    out[0] = w * a[0] if first else out[0] + w * a[0]


axpy1_kernel = Kernel('lt_axpy1', r'''
extern "C" __global__ void lt_axpy1(const T* a, T* out, T w, int first) {
    if (blockIdx.x == 0 && threadIdx.x == 0) out[0] = first ? w * a[0] : out[0] + w * a[0];
}
''', _axpy1_twin)


def add_scaled_loss(out, a, w, first):
    """``out`` (a 1-element loss array) = w * a (``first``) or += w * a: a weighted sum of losses kept on the
    device (MultiCriterion / ParallelCriterion under forwardDevice).  CUDA: one launch."""
    if type(out) is np.ndarray or a.dtype != out.dtype:
        v = a.astype(out.dtype) * w
        if first:
            out[...] = v
        else:
            out += v
        return out
    axpy1_kernel.launch(1, 32, a, out, w, int(first))
    return out


# == pointwise criterions: one fused reduction forward, one kernel backward ===========================================
# op codes (the switch in both kernels)
MSE, ABS, SMOOTHL1, KLDIV, BCE, MARGIN, SOFTMARGIN, MLSM, HINGE = range(9)


def _terms(op, a, b, p):
    """The twin of the loss kernel's per-element term (in the arrays' type)."""
    dt = a.dtype.type
    with np.errstate(all='ignore'):
        if op == MSE:
            d = a - b
            return d * d
        if op == ABS:
            return np.abs(a - b)
        if op == SMOOTHL1:
            d = np.abs(a - b)
            h = np.where(d < 1, d, dt(1)) * dt(0.5)
            return (d - h) * h
        if op == KLDIV:
            tt = np.where(b < 0, dt(0), b)
            lg = np.where(tt == 0, dt(0), np.log(np.where(tt == 0, dt(1), tt)))
            return (lg - a) * tt
        if op == BCE:
            la = np.log(a + dt(_EPS))
            lb = np.log(dt(1) - a + dt(_EPS))
            return (la - lb) * b + lb
        if op == MARGIN:
            z = p - a * b
            return np.where(z < 0, dt(0), z)
        if op == SOFTMARGIN:
            v = -(a * b)
            return np.where(v < 0, dt(0), v) + np.log1p(np.exp(-np.abs(v)))
        if op == MLSM:
            return np.log1p(np.exp(-np.abs(a))) + np.where(a < 0, dt(0), a) - a * b
        if op == HINGE:
            z = p - a
            return np.where(b != -1, a, dt(0)) + np.where(b != 1, np.where(z < 0, dt(0), z), dt(0))
    raise ValueError(f'pointwise loss: unknown op {op}')


def _pointwise_loss_twin(x, t, w, loss, part, count, n, nw, op, p, scale):
    v = _terms(int(op), x[:n], t[:n], p)
    if nw:
        v = v * w[grid_index(n) % nw]
    loss[0] = v.astype(np.float64).sum() * scale


_TERM = r'''
        switch (op) {
        case 0: { T d = a - b; v = d * d; break; }
        case 1: { v = lt_abs(a - b); break; }
        case 2: { T d = lt_abs(a - b); T h = (d < 1 ? d : (T)1) * (T)0.5; v = (d - h) * h; break; }
        case 3: { T tt = b < 0 ? (T)0 : b; T lg = tt == 0 ? (T)0 : lt_log(tt); v = (lg - a) * tt; break; }
        case 4: { T la = lt_log(a + (T)1e-12), lb = lt_log((T)1 - a + (T)1e-12); v = (la - lb) * b + lb; break; }
        case 5: { T z = p - a * b; v = z < 0 ? (T)0 : z; break; }
        case 6: { T u = -(a * b); v = (u < 0 ? (T)0 : u) + lt_log1p(lt_exp(-lt_abs(u))); break; }
        case 7: { v = lt_log1p(lt_exp(-lt_abs(a))) + (a < 0 ? (T)0 : a) - a * b; break; }
        case 8: { T z = p - a; v = (b != -1 ? a : (T)0) + (b != 1 ? (z < 0 ? (T)0 : z) : (T)0); break; }
        default: v = 0;
        }
'''

pointwise_loss_kernel = Kernel('lt_pointwise_loss', _HELPERS + r'''
extern "C" __global__ void lt_pointwise_loss(const T* x, const T* t, const T* w, T* loss, double* part, int* count,
                                             long long n, long long nw, int op, T p, double scale) {
    extern __shared__ double sh[];
    double s = 0;
    LOOP(i, n) {
        T a = x[i], b = t[i], v;
''' + _TERM + r'''
        if (nw) v *= w[i % nw];
        s += (double)v;
    }
    double v[1] = {lt_bsum(s, sh)};
    if (lt_grid_sum(v, 1, part, count, sh)) loss[0] = (T)(v[0] * scale);
}
''', _pointwise_loss_twin)


def _pointwise_grad_twin(x, t, w, gi, n, nw, op, p, scale):
    i = grid_index(n)
    a, b = x[i], t[i]
    dt = a.dtype.type
    op = int(op)
    with np.errstate(all='ignore'):
        if op == MSE:
            g = (a - b) * scale
        elif op == ABS:
            g = np.where(a - b < 0, -scale, scale)
        elif op == SMOOTHL1:
            d = a - b
            g = np.where(d < -1, dt(-1), np.where(d > 1, dt(1), d)) * scale
        elif op == KLDIV:
            g = -np.where(b < 0, dt(0), b) * scale
        elif op == BCE:
            g = (a - b) / ((a + dt(_EPS)) * (dt(1) - a + dt(_EPS))) * scale
        elif op == MARGIN:
            g = np.where(a * b < p, -b * scale, dt(0))
        elif op == SOFTMARGIN:
            v = -(a * b)
            e = np.exp(-np.abs(v))
            g = -b * (np.where(v >= 0, dt(1), e) / (dt(1) + e)) * scale
        elif op == MLSM:
            g = (a - b) * scale
        elif op == HINGE:
            g = np.where((b == -1) & (a > p), dt(0), b * scale)
        else:
            raise ValueError(f'pointwise grad: unknown op {op}')
        if nw:
            g = g * w[i % nw]
    gi[i] = g


pointwise_grad_kernel = Kernel('lt_pointwise_grad', _HELPERS + r'''
extern "C" __global__ void lt_pointwise_grad(const T* x, const T* t, const T* w, T* gi, long long n, long long nw,
                                             int op, T p, T scale) {
    LOOP(i, n) {
        T a = x[i], b = t[i], g;
        switch (op) {
        case 0: g = (a - b) * scale; break;
        case 1: g = a - b < 0 ? -scale : scale; break;
        case 2: { T d = a - b; g = (d < -1 ? (T)-1 : (d > 1 ? (T)1 : d)) * scale; break; }
        case 3: g = -(b < 0 ? (T)0 : b) * scale; break;
        case 4: g = (a - b) / ((a + (T)1e-12) * ((T)1 - a + (T)1e-12)) * scale; break;
        case 5: g = a * b < p ? -b * scale : (T)0; break;
        case 6: {
            T v = -(a * b), e = lt_exp(-lt_abs(v));
            g = -b * ((v >= 0 ? (T)1 : e) / ((T)1 + e)) * scale;
            break;
        }
        case 7: g = (a - b) * scale; break;   // a: the sigmoid of the input
        case 8: g = (b == -1 && a > p) ? (T)0 : b * scale; break;
        default: g = 0;
        }
        if (nw) g *= w[i % nw];
        gi[i] = g;
    }
}
''', _pointwise_grad_twin)


def _pw_loss(m, op, x, t, w, p, scale):
    out = m._lossbuf()
    x, t = _c(m, x, '_pw_x'), _c(m, t, '_pw_t')
    w = out if w is None else _c(m, w, '_pw_w')
    _reduce(m, pointwise_loss_kernel, x.size, 1, (x, t, w, out), (x.size, 0 if w is out else w.size, op, p, scale))
    return out


def _pw_grad(m, op, x, t, w, gi, p, scale):
    dst = _dst(m, gi, '_pw_gi')
    x, t = _c(m, x, '_pw_x'), _c(m, t, '_pw_t')
    w = dst if w is None else _c(m, w, '_pw_w')
    pointwise_grad_kernel(x.size, x, t, w, dst, x.size, 0 if w is dst else w.size, op, p, scale)
    _done(gi, dst)
    return gi


def _kept_scalar(m, name, k, dtype):
    """Number ``k`` as a 0-d numpy array of float ``dtype`` kept on criterion ``m`` under ``name`` (numpy converts a
    Python number per call, which costs as much as the operation on a small array; the value is the same: numpy
    rounds a Python float to the array's type before the operation).  ``k`` itself for other dtypes."""
    c = m.__dict__.get(name)
    if c is not None and c[0] == k and c[1].dtype is dtype:
        return c[1]
    if dtype.kind != 'f':
        return k
    c = (k, np.array(k, dtype))
    m.__dict__[name] = c
    return c[1]


def mse_loss(m, x, t, average):
    if type(x) is np.ndarray:
        d = m._buffer('_diff', x.shape)
        np.subtract(x, t, out=d)
        s = float(np.vdot(d, d))      # (vdot reads d as one vector: no reshape; the same BLAS dot as d @ d)
        return s / x.size if average else s
    return _pw_loss(m, MSE, x, t, None, 0, 1.0 / x.size if average else 1.0)


def mse_grad(m, x, t, gi, average):
    if type(x) is np.ndarray:
        np.subtract(x, t, out=gi)
        gi *= _kept_scalar(m, '_mse_k', (2.0 / x.size) if average else 2.0, gi.dtype)
        return gi
    return _pw_grad(m, MSE, x, t, None, gi, 0, (2.0 / x.size) if average else 2.0)


def abs_loss(m, x, t, norm):
    if type(x) is np.ndarray:
        d = m._buffer('_diff', x.shape)
        np.subtract(x, t, out=d)
        np.abs(d, out=d)
        return float(d.sum()) * norm
    return _pw_loss(m, ABS, x, t, None, 0, norm)


def abs_grad(m, x, t, gi, norm):
    if type(x) is np.ndarray:
        np.subtract(x, t, out=gi)
        np.less(gi, 0, out=gi)            # 1 where x - t < 0
        gi *= -2 * norm
        gi += norm                        # norm where x >= t, -norm elsewhere
        return gi
    return _pw_grad(m, ABS, x, t, None, gi, 0, norm)


def smoothl1_loss(m, x, t, norm):
    if type(x) is np.ndarray:
        z = m._buffer('_diff', x.shape)
        q = m._buffer('_q', x.shape)
        np.subtract(x, t, out=z)
        np.abs(z, out=z)
        np.clip(z, 0, 1, out=q)           # q = min(|d|, 1); loss = q (|d| - q / 2) = 2 h (|d| - h), h = q / 2
        q *= 0.5
        z -= q
        z *= q
        return 2 * float(z.sum()) * norm
    return _pw_loss(m, SMOOTHL1, x, t, None, 0, 2 * norm)


def smoothl1_grad(m, x, t, gi, norm):
    if type(x) is np.ndarray:
        np.subtract(x, t, out=gi)
        np.clip(gi, -1, 1, out=gi)
        if norm != 1:
            gi *= norm
        return gi
    return _pw_grad(m, SMOOTHL1, x, t, None, gi, 0, norm)


def kldiv_loss(m, x, t, norm):
    if type(x) is np.ndarray:
        tt = m._buffer('_t', x.shape)
        lg = m._buffer('_log', x.shape)
        np.clip(t, 0, _INF, out=tt)       # t where t > 0, else 0
        np.equal(tt, 0, out=lg)
        lg += tt                          # t, or 1 where t <= 0 ...
        np.log(lg, out=lg)                # ... so log t, or 0
        lg -= x
        lg *= tt
        return float(lg.sum()) * norm
    return _pw_loss(m, KLDIV, x, t, None, 0, norm)


def kldiv_grad(m, x, t, gi, norm):
    if type(x) is np.ndarray:
        np.clip(t, 0, _INF, out=gi)
        gi *= -norm
        return gi
    return _pw_grad(m, KLDIV, x, t, None, gi, 0, norm)


def bce_loss(m, x, t, w, norm):
    """-(t log(x + eps) + (1 - t) log(1 - x + eps)) (times ``w`` along the last dim, when given), summed, * norm."""
    if type(x) is np.ndarray:
        a = m._buffer('_a', x.shape)
        b = m._buffer('_b', x.shape)
        np.add(x, _EPS, out=a)
        np.log(a, out=a)                  # log(x + eps)
        np.subtract(1, x, out=b)
        b += _EPS
        np.log(b, out=b)                  # log(1 - x + eps)
        a -= b
        a *= t
        a += b                            # t log(x + eps) + (1 - t) log(1 - x + eps)
        if w is not None:
            a *= w
        return -float(a.sum()) * norm
    return _pw_loss(m, BCE, x, t, w, 0, -norm)


def bce_grad(m, x, t, w, gi, norm):
    if type(x) is np.ndarray:
        d = m._buffer('_a', x.shape)
        b = m._buffer('_b', x.shape)
        np.add(x, _EPS, out=d)
        np.subtract(1, x, out=b)
        b += _EPS
        d *= b                            # (1 - x + eps) (x + eps)
        np.subtract(x, t, out=gi)
        gi /= d
        if norm != 1:
            gi *= norm
        if w is not None:
            gi *= w
        return gi
    return _pw_grad(m, BCE, x, t, w, gi, 0, norm)


def margin_loss(m, x, t, margin, norm):
    if type(x) is np.ndarray:
        z = m._buffer('_z', x.shape)
        np.multiply(x, t, out=z)
        np.subtract(margin, z, out=z)
        np.clip(z, 0, _INF, out=z)
        return float(z.sum()) * norm
    return _pw_loss(m, MARGIN, x, t, None, margin, norm)


def margin_grad(m, x, t, gi, margin, norm):
    if type(x) is np.ndarray:
        mk = m._buffer('_z', x.shape)
        np.multiply(x, t, out=mk)
        np.less(mk, margin, out=mk)       # x t < margin
        np.multiply(t, mk, out=gi)
        gi *= -norm
        return gi
    return _pw_grad(m, MARGIN, x, t, None, gi, margin, norm)


def _soft_margin_v(m, x, t):
    v = m._buffer('_negxt', x.shape)
    np.multiply(x, t, out=v)
    np.negative(v, out=v)             # v = -x t
    e = m._buffer('_expv', x.shape)
    np.abs(v, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)                  # exp(-|v|), in (0, 1]
    return v, e


def soft_margin_loss(m, x, t, norm):
    if type(x) is np.ndarray:
        v, e = _soft_margin_v(m, x, t)
        np.log1p(e, out=e)
        np.clip(v, 0, _INF, out=v)
        v += e                            # log(1 + exp(v)) = max(v, 0) + log(1 + exp(-|v|))
        return float(v.sum()) * norm
    return _pw_loss(m, SOFTMARGIN, x, t, None, 0, norm)


def soft_margin_grad(m, x, t, gi, norm):
    if type(x) is np.ndarray:
        v, e = _soft_margin_v(m, x, t)
        # -t sigmoid(v) / n, sigmoid(v) = (v >= 0 ? 1 : e) / (1 + e)
        np.greater_equal(v, 0, out=v)     # m
        np.subtract(1, v, out=gi)
        gi *= e
        gi += v                           # e (1 - m) + m
        e += 1
        gi /= e
        gi *= t
        gi *= -norm
        return gi
    return _pw_grad(m, SOFTMARGIN, x, t, None, gi, 0, norm)


def mlsm_loss(m, x, t, w, norm):
    """MultiLabelSoftMargin: sum w (log(1 + exp(-|x|)) + max(x, 0) - x t), * norm."""
    if type(x) is np.ndarray:
        a = m._buffer('_a', x.shape)
        b = m._buffer('_b', x.shape)
        np.abs(x, out=a)
        np.negative(a, out=a)
        np.exp(a, out=a)
        np.log1p(a, out=a)                # log(1 + exp(-|x|))
        np.clip(x, 0, _INF, out=b)
        a += b
        np.multiply(x, t, out=b)
        a -= b
        if w is not None:
            a *= w
        return float(a.sum()) * norm
    return _pw_loss(m, MLSM, x, t, w, 0, norm)


def mlsm_grad(m, s, t, w, gi, norm):
    """From ``s`` = the sigmoid of the input: (s - t) w * norm."""
    if type(s) is np.ndarray:
        np.subtract(s, t, out=gi)
        if w is not None:
            gi *= w
        if norm != 1:
            gi *= norm
        return gi
    return _pw_grad(m, MLSM, s, t, w, gi, 0, norm)


def hinge_loss(m, x, yy, margin, norm):
    """HingeEmbedding: x where y != -1, plus max(0, margin - x) where y != 1; summed, * norm."""
    if type(x) is np.ndarray:
        a = m._buffer('_a', x.shape)
        b = m._buffer('_b', x.shape)
        np.not_equal(yy, -1, out=a)
        a *= x                            # x where y != -1
        np.subtract(margin, x, out=b)
        np.clip(b, 0, _INF, out=b)
        mk = m._bools('_m', x.shape)
        np.not_equal(yy, 1, out=mk)
        b *= mk                           # max(0, margin - x) where y != 1
        a += b
        return float(a.sum()) * norm
    return _pw_loss(m, HINGE, x, yy, None, margin, norm)


def hinge_grad(m, x, yy, gi, margin, norm):
    if type(x) is np.ndarray:
        mk = m._bools('_m', x.shape)
        m2 = m._bools('_m2', x.shape)
        np.equal(yy, -1, out=mk)
        np.greater(x, margin, out=m2)
        mk &= m2
        np.logical_not(mk, out=mk)        # not (y == -1 and x > margin)
        np.multiply(yy, mk, out=gi)
        if norm != 1:
            gi *= norm
        return gi
    return _pw_grad(m, HINGE, x, yy, None, gi, margin, norm)


# == class targets: ClassNLL ===========================================================================================
def _rows(m, t):
    """A kept arange over the samples (t's first dim), shaped to broadcast against t (batch, or batch x k)."""
    b = t.shape[0]
    return m._arange('_rows', b).reshape((b,) + (1,) * (t.ndim - 1))


def _target_positions(m, x2, t):
    """Kept intp array of t's shape (batch, or batch x k): the flat position in x2 (batch x nClasses) of each
    target class t[i] (or t[i, j]) of sample i."""
    idx = m._buffer('_tpos', t.shape, dtype=np.intp)
    np.multiply(_rows(m, t), x2.shape[1], out=idx)
    idx += t
    return idx


def _picked(m, name, x2, t, idx):
    """x2[i, t[i]] (or x2[i, t[i, j]]: each sample's value at its targets) in the kept buffer ``name``; ``idx``:
    the _target_positions of t."""
    out = m._buffer(name, t.shape)
    if x2.flags.c_contiguous:
        take_into(x2.reshape(-1), idx, out)
    else:
        out[...] = x2[_rows(m, t), t]
    return out


def _put_picked(m, a2, t, idx, vals):
    """a2[i, t[i]] = vals (a2 batch x nClasses, as _picked reads it)."""
    if a2.flags.c_contiguous:
        a2.reshape(-1)[idx] = vals
    else:
        a2[_rows(m, t), t] = vals


def _nll_weights(m, x2, t, rng, w, ignore):
    """(targets, per-sample weights or None, total weight) on the CPU; ``rng``: the targets' (min, max)."""
    lo, hi = rng
    valid = None
    if ignore is not None and lo <= ignore <= hi:
        valid = np.not_equal(t, ignore, out=m._bools('_valid', t.shape))
        # ignored targets -> class 0, with weight 0
        t = np.multiply(t, valid, out=m._buffer('_tvalid', t.shape, dtype=t.dtype))
    if w is not None:
        wt = take_into(w, t, m._buffer('_wt', t.shape), axis=0)
        if valid is not None:
            wt *= valid
    elif valid is not None:
        wt = m._buffer('_wt', t.shape)
        wt[...] = valid
    else:
        wt = None
    total = float(wt.sum()) if wt is not None else float(x2.shape[0])
    return t, wt, total


def _class_nll_twin(x, t, w, loss, total, err, part, count, batch, C, weighted, use_ignore, ignore, average):
    tt = _int_targets(t[:batch])
    keep = (tt != ignore) if use_ignore else np.ones(batch, bool)
    ok = (tt >= 0) & (tt < C)
    bad = bool((keep & ~ok).any())
    use = keep & ok
    safe = np.where(use, tt, 0)
    wi = np.where(use, w[safe].astype(np.float64) if weighted else 1.0, 0.0)
    xs = x[grid_index(batch) * C + safe].astype(np.float64)
    with np.errstate(all='ignore'):
        s = -np.where(use, wi * xs, 0.0).sum()
        tw = wi.sum()
        e = int(err[0]) | bad
        err[0] = e
        total[0] = tw
        loss[0] = np.nan if e else (s / tw if average and tw != 0 else s)


class_nll_kernels = _target_kernels('lt_class_nll', _HELPERS + r'''
extern "C" __global__ void KNAME(const T* x, const TGT* t, const T* w, T* loss, T* total, int* err, double* part,
                                 int* count, long long batch, int C, int weighted, int use_ignore, long long ignore,
                                 int average) {
    extern __shared__ double sh[];
    double s = 0, tw = 0;
    int bad = 0;
    LOOP(i, batch) {
        long long c = TI(t[i]);
        if (use_ignore && c == ignore) continue;
        if (c < 0 || c >= C) { bad = 1; continue; }      // never read out of bounds: flagged instead
        double wi = weighted ? (double)w[c] : 1.0;
        s -= wi * (double)x[i * C + c];
        tw += wi;
    }
    double v[3] = {lt_bsum(s, sh), lt_bsum(tw, sh), (double)__syncthreads_or(bad)};
    if (lt_grid_sum(v, 3, part, count, sh)) {
        s = v[0];
        tw = v[1];
        int e = err[0] | (v[2] != 0);
        err[0] = e;
        total[0] = (T)tw;
        loss[0] = e ? (T)LT_NAN : (T)(average && tw != 0 ? s / tw : s);
    }
}
''', _class_nll_twin)


def _class_nll_grad_twin(t, w, total, gi, batch, C, weighted, use_ignore, ignore, average, n):
    k = grid_index(n)
    i, c = k // C, k % C
    ti = _int_targets(t)[i]
    hit = ti == c
    if use_ignore:
        hit &= ti != ignore
    tw = total[0]
    dt = gi.dtype.type
    with np.errstate(all='ignore'):
        norm = dt(1) / tw if average else dt(1)
        wv = w[np.where(hit, c, 0)] if weighted else dt(1)
        gi[k] = np.where(hit & (tw > 0), -(wv * norm), dt(0))


class_nll_grad_kernels = _target_kernels('lt_class_nll_grad', _HELPERS + r'''
extern "C" __global__ void KNAME(const TGT* t, const T* w, const T* total, T* gi, long long batch,
                                             int C, int weighted, int use_ignore, long long ignore, int average,
                                             long long n) {
    T tw = total[0];
    T norm = average ? (T)1 / tw : (T)1;
    LOOP(k, n) {
        long long i = k / C;
        int c = (int)(k - i * C);
        long long ti = TI(t[i]);
        T v = 0;
        if (ti == c && !(use_ignore && ti == ignore) && tw > 0) v = -((weighted ? w[c] : (T)1) * norm);
        gi[k] = v;
    }
}
''', _class_nll_grad_twin)


def _nll_args(m, x2, t, w, ignore):
    x2, t = _c(m, x2, '_nll_x'), _c(m, t, '_nll_t')
    state = m._buffer('_nll', (2,))              # [total weight, scratch loss of the backward's reduction]
    return x2, t, state, (x2.shape[0], x2.shape[1], int(w is not None), int(ignore is not None),
                          0 if ignore is None else ignore)


def class_nll_loss(m, x2, t, rng, w, ignore, average):
    """ClassNLL's loss: -sum_i w[t_i] x[i, t_i] (/ the total weight when ``average``), from x2 (batch x nClasses),
    the 0-based targets ``t`` (batch), their (min, max) ``rng`` on the CPU and the class weights ``w`` (or None).
    CUDA: one launch (a single-block reduction writing the loss, the total weight, and the error flag)."""
    if type(x2) is np.ndarray:
        tv, wt, total = _nll_weights(m, x2, t, rng, w, ignore)
        picked = _picked(m, '_picked', x2, tv, _target_positions(m, x2, tv))
        if tv is not t:         # ignored targets (read as class 0) add nothing, as THNN skips them (not 0 * -inf = NaN)
            np.copyto(picked, 0, where=np.equal(t, ignore, out=m._bools('_ignored', t.shape)))
        s = -float(picked.sum() if wt is None else picked @ wt)
        if average and total:
            s /= total
        return s
    out = m._lossbuf()
    x2, t, state, geo = _nll_args(m, x2, t, w, ignore)
    _reduce(m, _for(class_nll_kernels, t), x2.shape[0], 3,
            (x2, t, out if w is None else _c(m, w, '_nll_w'), out, state[0:1], err_flag(m)), (*geo, int(average)))
    return out


def class_nll_grad(m, x2, t, rng, w, ignore, average, gi):
    """ClassNLL's gradInput into ``gi`` (x2's shape): -w[t_i] / total at [i, t_i], 0 elsewhere.  CUDA: two
    launches (the total weight, then every element of gi)."""
    if type(x2) is np.ndarray:
        t, wt, total = _nll_weights(m, x2, t, rng, w, ignore)
        gi.fill(0)
        if total <= 0:                    # THNN: nothing to propagate
            return gi
        norm = 1.0 / total if average else 1.0
        if wt is None:
            vals = -norm
        else:
            vals = m._buffer('_vals', wt.shape)
            np.multiply(wt, -norm, out=vals)
        _put_picked(m, gi, t, _target_positions(m, x2, t), vals)
        return gi
    x2, t, state, geo = _nll_args(m, x2, t, w, ignore)
    wa = state if w is None else _c(m, w, '_nll_w')
    _reduce(m, _for(class_nll_kernels, t), x2.shape[0], 3, (x2, t, wa, state[1:2], state[0:1], err_flag(m)),
            (*geo, int(average)))
    dst = _dst(m, gi, '_nll_gi')
    _for(class_nll_grad_kernels, t)(dst.size, t, wa, state[0:1], dst, *geo, int(average), dst.size, dtype=dst.dtype)
    _done(gi, dst)
    return gi


# == MultiMarginCriterion ==============================================================================================
def _mm_hinge(m, x2, t, w, margin):
    """(flat target positions, z = max(0, margin - x[t] + x[d]) with 0 at d == t, per-sample weights) on the CPU."""
    rows = _target_positions(m, x2, t)          # flat positions of the targets
    z = m._buffer('_z', x2.shape)
    np.subtract(x2, _picked(m, '_xt', x2, t, rows)[:, None], out=z)
    z += margin
    z.reshape(-1)[rows] = 0
    np.clip(z, 0, _INF, out=z)
    wt = None
    if w is not None:
        wt = take_into(w, t, m._buffer('_wt', t.shape), axis=0)[:, None]
    return rows, z, wt


def _multi_margin_twin(x, t, w, loss, err, part, count, batch, C, weighted, p, margin, scale):
    tt = _int_targets(t[:batch])
    ok = (tt >= 0) & (tt < C)
    safe = np.where(ok, tt, 0)
    x2 = x[:batch * C].reshape(batch, C)
    xt = x2[grid_index(batch), safe][:, None]
    with np.errstate(all='ignore'):
        z = (x2 - xt) + margin
        z = np.where(z < 0, x.dtype.type(0), z)
        z[grid_index(batch), safe] = 0
        h = z * z if p == 2 else z
        if weighted:
            h = h * w[safe][:, None]
        h = np.where(ok[:, None], h, 0)
        e = int(err[0]) | int((~ok).any())
        err[0] = e
        loss[0] = np.nan if e else h.astype(np.float64).sum() * scale


multi_margin_kernels = _target_kernels('lt_multi_margin', _HELPERS + r'''
extern "C" __global__ void KNAME(const T* x, const TGT* t, const T* w, T* loss, int* err, double* part, int* count,
                                 long long batch, int C, int weighted, int p, T margin, double scale) {
    extern __shared__ double sh[];
    double s = 0;
    int bad = 0;
    LOOP(k, batch * C) {
        long long i = k / C;
        int d = (int)(k - i * C);
        long long c = TI(t[i]);
        if (c < 0 || c >= C) { bad = 1; continue; }
        if (d == c) continue;
        T z = (x[k] - x[i * C + c]) + margin;
        if (z < 0) z = 0;
        T h = p == 2 ? z * z : z;
        if (weighted) h *= w[c];
        s += (double)h;
    }
    double v[2] = {lt_bsum(s, sh), (double)__syncthreads_or(bad)};
    if (lt_grid_sum(v, 2, part, count, sh)) {
        int e = err[0] | (v[1] != 0);
        err[0] = e;
        loss[0] = e ? (T)LT_NAN : (T)(v[0] * scale);
    }
}
''', _multi_margin_twin)


def _multi_margin_grad_twin(x, t, w, gi, err, batch, C, weighted, p, margin, g):
    tt = _int_targets(t[:batch])
    ok = (tt >= 0) & (tt < C)
    safe = np.where(ok, tt, 0)
    x2, o2 = x[:batch * C].reshape(batch, C), gi[:batch * C].reshape(batch, C)
    r = grid_index(batch)
    dt = x.dtype.type
    with np.errstate(all='ignore'):
        z = (x2 - x2[r, safe][:, None]) + margin
        v = np.where(z > 0, dt(g), dt(0)) if p == 1 else np.where(z < 0, dt(0), z) * dt(2 * g)
        if weighted:
            v = v * w[safe][:, None]
        v[r, safe] = 0
        v = np.where(ok[:, None], v, dt(0))
        v[r, safe] = np.where(ok, -v.astype(np.float64).sum(axis=1), 0)
    o2[...] = v
    err[0] = int(err[0]) | int((~ok).any())


multi_margin_grad_kernels = _target_kernels('lt_multi_margin_grad', _HELPERS + r'''
extern "C" __global__ void KNAME(const T* x, const TGT* t, const T* w, T* gi, int* err,
                                                long long batch, int C, int weighted, int p, T margin, T g) {
    extern __shared__ double sh[];
    for (long long i = blockIdx.x; i < batch; i += gridDim.x) {
        long long c = TI(t[i]);
        const T* xr = x + i * C;
        T* out = gi + i * C;
        if (c < 0 || c >= C) {
            for (int d = threadIdx.x; d < C; d += blockDim.x) out[d] = 0;
            if (threadIdx.x == 0) err[0] = 1;
            continue;                               // (uniform across the block: c is the row's)
        }
        T xt = xr[c];
        T wc = weighted ? w[c] : (T)1;
        double s = 0;
        for (int d = threadIdx.x; d < C; d += blockDim.x) {
            T v = 0;
            if (d != c) {
                T z = (xr[d] - xt) + margin;
                v = p == 1 ? (z > 0 ? g : (T)0) : (z < 0 ? (T)0 : z) * (2 * g);
                v *= wc;
                s += (double)v;
            }
            out[d] = v;
        }
        s = lt_bsum(s, sh);
        if (threadIdx.x == 0) out[c] = (T)-s;
    }
}
''', _multi_margin_grad_twin)


def multi_margin_loss(m, x2, t, w, p, margin):
    """MultiMargin's loss from x2 (batch x n), targets t (batch), class weights ``w`` (or None): the sum over
    samples and classes d != t of max(0, margin - x[t] + x[d])^p (* w[t]), / n, / batch when m.sizeAverage.
    CUDA: one launch."""
    b, n = x2.shape
    if type(x2) is np.ndarray:
        rows, z, wt = _mm_hinge(m, x2, t, w, margin)
        if p == 2:
            h = m._buffer('_h', z.shape)
            np.multiply(z, z, out=h)
        else:
            h = z
        if wt is not None:
            h = np.multiply(h, wt, out=m._buffer('_hw', z.shape))
        s = float(h.sum()) / n
        if m.sizeAverage:
            s /= b
        return s
    out = m._lossbuf()
    x2, t = _c(m, x2, '_mm_x'), _c(m, t, '_mm_t')
    wa = out if w is None else _c(m, w, '_mm_w')
    scale = 1.0 / n / b if m.sizeAverage else 1.0 / n
    _reduce(m, _for(multi_margin_kernels, t), x2.size, 2, (x2, t, wa, out, err_flag(m)),
            (b, n, int(w is not None), p, margin, scale))
    return out


def multi_margin_grad(m, x2, t, w, p, margin, gi):
    """MultiMargin's gradInput into ``gi`` (x2's shape).  CUDA: one launch (one block per sample)."""
    b, n = x2.shape
    g = 1.0 / (b * n) if m.sizeAverage else 1.0 / n
    if type(x2) is np.ndarray:
        rows, z, wt = _mm_hinge(m, x2, t, w, margin)
        if p == 1:
            np.greater(z, 0, out=gi)
            gi *= g
        else:
            np.multiply(z, 2 * g, out=gi)
        if wt is not None:
            gi *= wt
        s = m._buffer('_gsum', (b,))
        np.sum(gi, axis=1, out=s)
        np.negative(s, out=s)
        _put_picked(m, gi, t, rows, s)
        return gi
    x2, t = _c(m, x2, '_mm_x'), _c(m, t, '_mm_t')
    dst = _dst(m, gi, '_mm_gi')
    wa = dst if w is None else _c(m, w, '_mm_w')
    if b:
        _launch_rows(_for(multi_margin_grad_kernels, t), b, n, x2, t, wa, dst, err_flag(m), b, n, int(w is not None), p,
                     margin, g)
    _done(gi, dst)
    return gi


# == MultiLabelMarginCriterion =========================================================================================
def _mlm_terms(m, x2, a, is_target):
    """(z = 1 - x[j] + x[d] for each target j and class d, the mask of (valid target j, non-target d) pairs, the
    one-hot targets) on the CPU, and ``is_target`` (batch x n) written; ``a``: the targets, batch x n, -1 padded."""
    b, n = x2.shape
    # the entries before the first -1: no -1 up to there (counted in ints: numpy's cumsum of bools into an int
    # buffer would make an int copy of them)
    nneg = m._buffer('_nneg', a.shape, dtype=np.int64)
    np.less(a, 0, out=nneg)
    nneg = np.cumsum(nneg, axis=1, out=nneg)
    valid = np.equal(nneg, 0, out=m._bools('_valid', a.shape))
    k = int(np.sum(valid, axis=1, out=m._buffer('_nvalid', (b,), dtype=np.int64)).max()) if a.size else 0
    tk = m._buffer('_tk', (b, k), dtype=a.dtype)
    np.multiply(a[:, :k], valid[:, :k], out=tk)               # (-1 padding -> class 0, masked out)
    vk = valid[:, :k]
    shape = (b, k, n)
    onehot = m._bools('_onehot', shape)                        # onehot[b, j, c]: target j of sample b is c
    np.equal(tk[:, :, None], m._arange('_classes', n), out=onehot)
    onehot &= vk[:, :, None]
    is_t = np.any(onehot, axis=1, out=m._bools('_is_t', (b, n)))     # batch x n
    xt = _picked(m, '_xt', x2, tk, _target_positions(m, x2, tk))     # x[j] of each target j
    z = m._buffer('_z', shape)
    np.subtract(x2[:, None, :], xt[:, :, None], out=z)
    z += 1                                                    # 1 - x[j] + x[d]
    mask = m._bools('_pairs', shape)                           # valid target j, non-target d
    is_target[...] = is_t
    np.logical_not(is_t, out=is_t)
    np.logical_and(vk[:, :, None], is_t[:, None, :], out=mask)
    return z, mask, onehot


# Row prologue shared by both kernels: k = the targets before the first negative entry; flags any entry outside
# [-1, C) (bad: the row is skipped, loss NaN); marks the row's is-target (0 / 1, in the output ``ist``).
_MLM_ROW = r'''
        const T* xr = x + i * C;
        const TGT* tr = t + i * C;
        T* ir = ist + i * C;
        double kmin = C, bad = 0;
        for (int j = threadIdx.x; j < C; j += blockDim.x) {
            long long c = TI(tr[j]);
            if (c < 0 && j < kmin) kmin = j;
            if (c < -1 || c >= C) bad = 1;
            ir[j] = 0;
        }
        int k = (int)lt_bmin(kmin, sh);
        int rowbad = lt_bmax(bad, sh) != 0;
        if (!rowbad) {
            for (int j = threadIdx.x; j < k; j += blockDim.x) ir[TI(tr[j])] = 1;
        }
        __syncthreads();                  // (the row's is-target, written above, read below)
'''


def _mlm_row_twin(x, t, ist, i, C):
    """(xr, targets before the first -1, is-target row, bad) of row i (the kernels' prologue)."""
    xr, tr = x[i * C:(i + 1) * C], _int_targets(t[i * C:(i + 1) * C])
    neg = np.flatnonzero(tr < 0)
    k = int(neg[0]) if neg.size else C
    bad = bool(((tr < -1) | (tr >= C)).any())
    ir = ist[i * C:(i + 1) * C]
    ir[...] = 0
    if not bad:
        ir[tr[:k]] = 1
    return xr, tr[:k], ir, bad


def _mlm_rows_twin(x, t, ist, rowloss, err, batch, C):
    for i in range(int(batch)):
        xr, tk, ir, bad = _mlm_row_twin(x, t, ist, i, C)
        if bad:
            rowloss[i] = np.nan
            err[0] = 1
            continue
        with np.errstate(all='ignore'):
            z = (xr[None, :] - xr[tk][:, None]) + x.dtype.type(1)
            z = np.where((z > 0) & (ir[None, :] == 0), z, 0)
        rowloss[i] = z.astype(np.float64).sum()


mlm_rows_kernels = _target_kernels('lt_mlm_rows', _HELPERS + r'''
extern "C" __global__ void KNAME(const T* x, const TGT* t, T* ist, T* rowloss, int* err, long long batch,
                                       int C) {
    extern __shared__ double sh[];
    for (long long i = blockIdx.x; i < batch; i += gridDim.x) {
''' + _MLM_ROW + r'''
        double s = 0;
        if (!rowbad) {
            for (long long q = threadIdx.x; q < (long long)k * C; q += blockDim.x) {
                int j = (int)(q / C), d = (int)(q - (long long)j * C);
                if (ir[d] != 0) continue;
                T z = (xr[d] - xr[TI(tr[j])]) + (T)1;
                if (z > 0) s += (double)z;
            }
        }
        s = lt_bsum(s, sh);
        if (threadIdx.x == 0) {
            rowloss[i] = rowbad ? (T)LT_NAN : (T)s;
            if (rowbad) err[0] = 1;
        }
    }
}
''', _mlm_rows_twin)


def _mlm_grad_twin(x, t, ist, gi, err, batch, C, g):
    for i in range(int(batch)):
        xr, tk, ir, bad = _mlm_row_twin(x, t, ist, i, C)
        out = gi[i * C:(i + 1) * C]
        if bad:
            out[...] = 0
            err[0] = 1
            continue
        with np.errstate(all='ignore'):
            act = ((xr[None, :] - xr[tk][:, None]) + x.dtype.type(1) > 0) & (ir[None, :] == 0)   # (k, C)
        v = act.sum(axis=0).astype(np.float64)
        np.add.at(v, tk, -act.sum(axis=1))
        out[...] = v * g


mlm_grad_kernels = _target_kernels('lt_mlm_grad', _HELPERS + r'''
extern "C" __global__ void KNAME(const T* x, const TGT* t, T* ist, T* gi, int* err, long long batch,
                                       int C, T g) {
    extern __shared__ double sh[];
    for (long long i = blockIdx.x; i < batch; i += gridDim.x) {
''' + _MLM_ROW + r'''
        T* out = gi + i * C;
        if (rowbad) {
            for (int d = threadIdx.x; d < C; d += blockDim.x) out[d] = 0;
            if (threadIdx.x == 0) err[0] = 1;
            continue;
        }
        // + g for each target j that non-target d violates ...
        for (int d = threadIdx.x; d < C; d += blockDim.x) {
            int cnt = 0;
            if (ir[d] == 0)
                for (int j = 0; j < k; j++) cnt += (xr[d] - xr[TI(tr[j])]) + (T)1 > 0;
            out[d] = cnt * g;
        }
        __syncthreads();
        // ... - g at target j for each violation it has
        for (int j = 0; j < k; j++) {
            T xj = xr[TI(tr[j])];
            double cnt = 0;
            for (int d = threadIdx.x; d < C; d += blockDim.x)
                if (ir[d] == 0 && (xr[d] - xj) + (T)1 > 0) cnt += 1;
            cnt = lt_bsum(cnt, sh);
            if (threadIdx.x == 0) out[TI(tr[j])] -= (T)cnt * g;
            __syncthreads();
        }
    }
}
''', _mlm_grad_twin)


def mlm_loss(m, x2, a, is_target):
    """MultiLabelMargin's loss from x2 (batch x n) and targets ``a`` (batch x n, 0-based then -1 padding);
    ``is_target`` (batch x n, written) marks each sample's target classes.  CUDA: two launches (a block per sample,
    then the sum)."""
    b, n = x2.shape
    if type(x2) is np.ndarray:
        z, mask, onehot = _mlm_terms(m, x2, a, is_target)
        np.clip(z, 0, _INF, out=z)
        z *= mask
        s = float(z.sum()) / n
        if m.sizeAverage:
            s /= b
        return s
    out = m._lossbuf()
    x2, a = _c(m, x2, '_mlm_x'), _c(m, a, '_mlm_t')
    dst = _dst(m, is_target, '_mlm_ist')
    rowloss = m._buffer('_mlm_rowloss', (b,))
    err = err_flag(m)
    if b:
        _launch_rows(_for(mlm_rows_kernels, a), b, n, x2, a, dst, rowloss, err, b, n)
    _done(is_target, dst)
    scale = 1.0 / n / b if m.sizeAverage else 1.0 / n
    _reduce(m, sum_kernel, b, 1, (rowloss, out), (err, b, 1, scale))
    return out


def mlm_grad(m, x2, a, is_target, gi):
    """MultiLabelMargin's gradInput into ``gi`` (x2's shape; ``is_target`` written as by mlm_loss).  CUDA: one
    launch (a block per sample)."""
    b, n = x2.shape
    g = 1.0 / (b * n) if m.sizeAverage else 1.0 / n
    if type(x2) is np.ndarray:
        z, mask, onehot = _mlm_terms(m, x2, a, is_target)
        act = z                                                   # (z > 0) & mask, as numbers
        np.greater(z, 0, out=act)
        act *= mask
        np.sum(act, axis=1, out=gi)                               # + g for each violating non-target d ...
        # ... - g for the target j, once per violation
        per_target = np.sum(act, axis=2, out=m._buffer('_per_target', act.shape[:2]))
        oh = m._buffer('_onehot_f', onehot.shape)
        oh[...] = onehot
        back = np.matmul(per_target[:, None, :], oh, out=m._buffer('_back', (b, 1, n)))
        gi -= back[:, 0, :]
        gi *= g
        return gi
    x2, a = _c(m, x2, '_mlm_x'), _c(m, a, '_mlm_t')
    dst, ist = _dst(m, gi, '_mlm_gi'), _dst(m, is_target, '_mlm_ist')
    if b:
        _launch_rows(_for(mlm_grad_kernels, a), b, n, x2, a, ist, dst, err_flag(m), b, n, g)
    _done(gi, dst)
    _done(is_target, ist)
    return gi


# == CosineEmbeddingCriterion ==========================================================================================
def _cos_terms(m, a2, b2, yy, margin):
    """CPU: (w1 = x1.x2, w22 = 1 / (|x1|^2 + eps), w32 = 1 / (|x2|^2 + eps), w = sqrt(w22 w32), out = the
    per-sample losses) for rows a2, b2 and labels yy."""
    n = a2.shape[0]
    w1, w22, w32, w, out, tmp = (m._buffer(k, (n,)) for k in ('_w1', '_w22', '_w32', '_w', '_out', '_tmp'))
    rowdot_into(a2, b2, w1)
    for wk, u in ((w22, a2), (w32, b2)):
        rowdot_into(u, u, wk)
        wk += _EPS
        np.divide(1, wk, out=wk)                  # 1 / (|x|^2 + eps)
    np.multiply(w22, w32, out=w)
    np.sqrt(w, out=w)
    cos = m._buffer('_cosv', (n,))
    np.multiply(w1, w, out=cos)
    # out = cos - margin clipped at 0 where y == -1, 1 - cos where y == 1, cos elsewhere
    mk = m._bools('_ym', (n,))
    out[...] = cos
    np.equal(yy, 1, out=mk)
    np.subtract(1, cos, out=tmp)
    np.copyto(out, tmp, where=mk)
    np.equal(yy, -1, out=mk)
    np.subtract(cos, margin, out=tmp)
    np.clip(tmp, 0, _INF, out=tmp)
    np.copyto(out, tmp, where=mk)
    return w1, w22, w32, w, out


def _cos_row_twin(a, b, y, i, D, margin):
    """(w1, w22, w32, w, out) of row i, as the kernels compute them (sums in double, then the row's type)."""
    dt = a.dtype.type
    u, v = a[i * D:(i + 1) * D].astype(np.float64), b[i * D:(i + 1) * D].astype(np.float64)
    with np.errstate(all='ignore'):
        w1 = dt(u @ v)
        w22 = dt(1) / (dt(u @ u) + dt(_EPS))
        w32 = dt(1) / (dt(v @ v) + dt(_EPS))
        w = np.sqrt(w22 * w32)
        cos = w1 * w
        yi = y[i]
        out = dt(1) - cos if yi == 1 else (max(cos - margin, dt(0)) if yi == -1 else cos)
    return w1, w22, w32, w, dt(out)


def _cos_rows_twin(a, b, y, rowloss, rows, D, margin):
    for i in range(int(rows)):
        rowloss[i] = _cos_row_twin(a, b, y, i, D, margin)[-1]


_COS_ROW = r'''
        const T* ar = a + i * D;
        const T* br = b + i * D;
        double sab = 0, saa = 0, sbb = 0;
        for (long long d = threadIdx.x; d < D; d += blockDim.x) {
            double u = ar[d], v = br[d];
            sab += u * v; saa += u * u; sbb += v * v;
        }
        T w1 = (T)lt_bsum(sab, sh);
        T w22 = (T)1 / ((T)lt_bsum(saa, sh) + (T)1e-12);
        T w32 = (T)1 / ((T)lt_bsum(sbb, sh) + (T)1e-12);
        T w = lt_sqrt(w22 * w32);
        T cos = w1 * w;
        T yi = y[i];
        T z = cos - margin;
        T out = yi == 1 ? (T)1 - cos : (yi == -1 ? (z < 0 ? (T)0 : z) : cos);
'''

cos_rows_kernel = Kernel('lt_cos_rows', _HELPERS + r'''
extern "C" __global__ void lt_cos_rows(const T* a, const T* b, const T* y, T* rowloss, long long rows, long long D,
                                       T margin) {
    extern __shared__ double sh[];
    for (long long i = blockIdx.x; i < rows; i += gridDim.x) {
''' + _COS_ROW + r'''
        if (threadIdx.x == 0) rowloss[i] = out;
    }
}
''', _cos_rows_twin)


def _cos_grad_twin(a, b, y, g1, g2, rows, D, margin, scale):
    for i in range(int(rows)):
        w1, w22, w32, w, out = _cos_row_twin(a, b, y, i, D, margin)
        r = (a.dtype.type(-1) if y[i] == 1 else a.dtype.type(1)) * (out > 0) * scale
        u, v = a[i * D:(i + 1) * D], b[i * D:(i + 1) * D]
        with np.errstate(all='ignore'):
            g1[i * D:(i + 1) * D] = (v - u * (w1 * w22)) * (w * r)
            g2[i * D:(i + 1) * D] = (u - v * (w1 * w32)) * (w * r)


cos_grad_kernel = Kernel('lt_cos_grad', _HELPERS + r'''
extern "C" __global__ void lt_cos_grad(const T* a, const T* b, const T* y, T* g1, T* g2, long long rows, long long D,
                                       T margin, T scale) {
    extern __shared__ double sh[];
    for (long long i = blockIdx.x; i < rows; i += gridDim.x) {
''' + _COS_ROW + r'''
        T r = (yi == 1 ? (T)-1 : (T)1) * (out > 0 ? (T)1 : (T)0) * scale;
        T c1 = w1 * w22, c2 = w1 * w32, f = w * r;
        for (long long d = threadIdx.x; d < D; d += blockDim.x) {
            T u = ar[d], v = br[d];
            g1[i * D + d] = (v - u * c1) * f;
            g2[i * D + d] = (u - v * c2) * f;
        }
    }
}
''', _cos_grad_twin)


def cosine_loss(m, a2, b2, yy, margin, average):
    """CosineEmbedding's loss from rows a2, b2 (batch x D) and labels yy (batch): the sum of 1 - cos where y == 1,
    max(0, cos - margin) where y == -1, (/ batch when ``average``).  CUDA: two launches (a block per row, the sum)."""
    n = a2.shape[0]
    if type(a2) is np.ndarray:
        out = _cos_terms(m, a2, b2, yy, margin)[-1]
        s = float(out.sum())
        if average:
            s /= n
        return s
    loss = m._lossbuf()
    a2, b2, yy = _c(m, a2, '_cos_a'), _c(m, b2, '_cos_b'), _c(m, yy, '_cos_y')
    rowloss = m._buffer('_cos_rowloss', (n,))
    if n:
        _launch_rows(cos_rows_kernel, n, a2.shape[1], a2, b2, yy, rowloss, n, a2.shape[1], margin)
    _reduce(m, sum_kernel, n, 1, (rowloss, loss), (_nocheck(m), n, 0, 1.0 / n if average and n else 1.0))
    return loss


def cosine_grad(m, a2, b2, yy, margin, average, g1, g2):
    """CosineEmbedding's gradients into g1, g2 (a2's shape).  CUDA: one launch (a block per row)."""
    n = a2.shape[0]
    if type(a2) is np.ndarray:
        w1, w22, w32, w, out = _cos_terms(m, a2, b2, yy, margin)
        r, c = m._buffer('_r', (n,)), m._buffer('_tmp', (n,))
        mk = m._bools('_ym', (n,))
        np.equal(yy, 1, out=mk)
        r[...] = mk
        r *= -2
        r += 1                                        # -1 where y == 1, else 1 ...
        np.greater(out, 0, out=mk)
        r *= mk                                       # ... where the loss is > 0, else (+-)0
        if average:
            r /= n
        for gk, (u, v, wself) in zip((g1, g2), ((a2, b2, w22), (b2, a2, w32))):
            np.multiply(w1, wself, out=c)
            np.multiply(u, c[:, None], out=gk)
            np.subtract(v, gk, out=gk)                # x_other - (x1.x2 / |x_self|^2) x_self
            np.multiply(w, r, out=c)
            gk *= c[:, None]
        return g1, g2
    a2, b2, yy = _c(m, a2, '_cos_a'), _c(m, b2, '_cos_b'), _c(m, yy, '_cos_y')
    d1, d2 = _dst(m, g1, '_cos_g1'), _dst(m, g2, '_cos_g2')
    if n:
        _launch_rows(cos_grad_kernel, n, a2.shape[1], a2, b2, yy, d1, d2, n, a2.shape[1], margin,
                     1.0 / n if average else 1.0)
    _done(g1, d1)
    _done(g2, d2)
    return g1, g2

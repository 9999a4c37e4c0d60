"""CUDA kernels of the elementwise modules: the transfer functions (ReLU, Sigmoid, ... one launch per pass),
BatchNormalization (one per-channel reduction kernel + one elementwise kernel per pass), Dropout (one fused launch
per pass) and RReLU's training draws.  The numpy twin beside each kernel does the same arithmetic on flat arrays
(tests/fakecupy runs it instead of the CUDA source).

Entry points take CuPy arrays and return True once the kernel ran; they return False (nothing done) when the arrays
do not suit the kernels (not C-contiguous, not float32/float64), and the caller's array code (numpy/CuPy ufuncs)
runs instead.  The CPU never comes here: the nn modules dispatch on ``type(x) is np.ndarray`` once per pass.

Launches per pass (any size, batch, channels):
- pointwise transfer functions (ops below, PReLU and RReLU in evaluation included): forward 1, backward 1;
  PReLU's accGradParameters 1;
- RReLU training: channel-wise forward 1 (+ the host draw copied up), element-wise forward 3 (count, scan, scatter:
  Torch7's stream draws one number per non-positive element, so the count is read back: 1 synchronization, then the
  draws copied up), backward 1;
- BatchNormalization: training forward 2 (statistics + normalize), evaluation forward 1; backward (input and
  parameter gradients) 2, updateGradInput alone 2 in training / 1 in evaluation, accGradParameters alone 1;
- Dropout: forward 1 (+ the mask drawn on the host from Torch7's stream and copied up, no allocation), backward 1.
"""
import math

import numpy as np

from . import cupy as get_cupy
from .cuda import Kernel, grid_index

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_RB = 256                      # threads of a reduction block (the kernels' RB)
_MAX_BLOCKS = 4096             # reduction kernels loop over channels beyond this many blocks


def suits(*arrays):
    """All C-contiguous, of one float dtype (what the kernels index flat)."""
    dt = arrays[0].dtype
    if dt not in _FLOATS:
        return False
    for a in arrays:
        if a.dtype != dt or not a.flags.c_contiguous:
            return False
    return True


def upload(dev, host):
    """Copy host array ``host`` into device array ``dev`` (same shape and dtype, C-contiguous) on the current stream:
    no allocation, no launch.  (A pageable host buffer may be refilled as soon as this returns: the driver has
    staged it.)"""
    dev.set(host, stream=get_cupy().cuda.get_current_stream())


# -- pointwise transfer functions ----------------------------------------------------------------------------
# One kernel each way over all ops (the op is a kernel argument: one compile per dtype, a uniform branch per
# element).  Per op: the forward (C statement setting r from v = x[i]; numpy twin of v), the backward (C statement
# setting r from xv = x[i], yv = y[i] (the output), gv = gradOutput[i]; its twin), and whether the backward reads
# the output y.  Scalars a, b are T; PC is the op's per-channel parameter p[(i / inner) % C] (PReLU's slopes).
# In place, x is y in the forward and g is gi in the backward (and x then holds the output): each thread reads
# its element before writing it.
def _where(m, a, b):
    return np.where(m, a, b)


def _z(a):
    return np.zeros_like(a)


_OPS = [
    ('sigmoid',
     'r = (T)1 / ((T)1 + exp(-v));', lambda v, a, b, pc: 1 / (1 + np.exp(-v)),
     'r = ((T)1 - yv) * yv * gv;', lambda xv, yv, gv, a, b, pc: (1 - yv) * yv * gv, True),
    ('tanh',
     'r = tanh(v);', lambda v, a, b, pc: np.tanh(v),
     'r = ((T)1 - yv * yv) * gv;', lambda xv, yv, gv, a, b, pc: (1 - yv * yv) * gv, True),
    ('threshold',                                   # a: threshold, b: value (ReLU: 0, 0)
     'r = v > a ? v : b;', lambda v, a, b, pc: _where(v > a, v, b),
     'r = xv > a ? gv : (T)0;', lambda xv, yv, gv, a, b, pc: _where(xv > a, gv, _z(gv)), False),
    ('clamp',                                       # HardTanh: a: min, b: max
     'r = v < a ? a : (v > b ? b : v);', lambda v, a, b, pc: _where(v < a, a, _where(v > b, b, v)),
     'r = (xv > a && xv < b) ? gv : (T)0;', lambda xv, yv, gv, a, b, pc: _where((xv > a) & (xv < b), gv, _z(gv)),
     False),
    ('leaky',                                       # a: slope for x <= 0
     'r = v > 0 ? v : v * a;', lambda v, a, b, pc: _where(v > 0, v, v * a),
     'r = xv > 0 ? gv : gv * a;', lambda xv, yv, gv, a, b, pc: _where(xv > 0, gv, gv * a), False),
    ('pleaky',                                      # per-channel slopes p (PReLU, RReLU)
     'r = v > 0 ? v : v * PC;', lambda v, a, b, pc: _where(v > 0, v, v * pc()),
     'r = xv > 0 ? gv : gv * PC;', lambda xv, yv, gv, a, b, pc: _where(xv > 0, gv, gv * pc()), False),
    ('elu',                                         # a: alpha; backward from the output (Torch7)
     'r = v > 0 ? v : a * expm1(v);', lambda v, a, b, pc: _where(v > 0, v, a * np.expm1(v)),
     'r = yv <= 0 ? gv * (yv + a) : gv;', lambda xv, yv, gv, a, b, pc: _where(yv <= 0, gv * (yv + a), gv), True),
    ('softshrink',                                  # a: lambda
     'r = v > a ? v - a : (v < -a ? v + a : (T)0);',
     lambda v, a, b, pc: _where(v > a, v - a, _where(v < -a, v + a, _z(v))),
     'r = (xv > a || xv < -a) ? gv : (T)0;',
     lambda xv, yv, gv, a, b, pc: _where((xv > a) | (xv < -a), gv, _z(gv)), False),
    ('hardshrink',                                  # a: lambda
     'r = (v > a || v < -a) ? v : (T)0;', lambda v, a, b, pc: _where((v > a) | (v < -a), v, _z(v)),
     'r = (xv > a || xv < -a) ? gv : (T)0;',
     lambda xv, yv, gv, a, b, pc: _where((xv > a) | (xv < -a), gv, _z(gv)), False),
    ('softplus',                                    # a: beta, b: threshold; log1p(exp(z)) without overflow
     '{ T z = v * a; r = z > b ? v : ((z > 0 ? z : (T)0) + log1p(exp(-fabs(z)))) / a; }',
     lambda v, a, b, pc: _where(v * a > b, v, (np.maximum(v * a, 0) + np.log1p(np.exp(-np.abs(v * a)))) / a),
     '{ T f = yv * -a; r = f < -b ? gv : gv * -expm1(f); }',
     lambda xv, yv, gv, a, b, pc: _where(yv * -a < -b, gv, gv * -np.expm1(yv * -a)), True),
    ('softsign',
     'r = v / ((T)1 + fabs(v));', lambda v, a, b, pc: v / (1 + np.abs(v)),
     '{ T t = (T)1 + fabs(xv); r = gv / (t * t); }', lambda xv, yv, gv, a, b, pc: gv / ((1 + np.abs(xv)) ** 2),
     False),
    ('logsigmoid',                                  # min(x, 0) - log1p(exp(-|x|)); backward from the output
     'r = (v < 0 ? v : (T)0) - log1p(exp(-fabs(v)));',
     lambda v, a, b, pc: np.minimum(v, 0) - np.log1p(np.exp(-np.abs(v))),
     'r = gv * -expm1(yv);', lambda xv, yv, gv, a, b, pc: gv * -np.expm1(yv), True),
    ('tanhshrink',                                  # also writes tanh(x) to aux (nn.TanhShrink's tanh.output);
     '{ T t = tanh(v); aux[i] = t; r = v - t; }', None,       # the backward gets that tanh as y
     'r = yv * yv * gv;', lambda xv, yv, gv, a, b, pc: yv * yv * gv, True),
    ('exp',
     'r = exp(v);', lambda v, a, b, pc: np.exp(v),
     'r = gv * yv;', lambda xv, yv, gv, a, b, pc: gv * yv, True),
    ('log',
     'r = log(v);', lambda v, a, b, pc: np.log(v),
     'r = gv / xv;', lambda xv, yv, gv, a, b, pc: gv / xv, False),
    ('abs',
     'r = fabs(v);', lambda v, a, b, pc: np.abs(v),
     'r = xv < 0 ? -gv : gv;', lambda xv, yv, gv, a, b, pc: _where(xv < 0, -gv, gv), False),
    ('square',
     'r = v * v;', lambda v, a, b, pc: v * v,
     'r = xv * gv * (T)2;', lambda xv, yv, gv, a, b, pc: xv * gv * 2, False),
    ('sqrt',                                        # a: eps; the gradient is 0 where y == 0
     'r = sqrt(v + a);', lambda v, a, b, pc: np.sqrt(v + a),
     'r = yv != 0 ? gv / yv * (T)0.5 : (T)0;',
     lambda xv, yv, gv, a, b, pc: _where(yv != 0, gv / _where(yv != 0, yv, 1) * 0.5, _z(gv)), True),
    ('pow',                                         # a: p, b: p - 1 (rounded as the CPU's power(x, p - 1))
     'r = pow(v, a);', lambda v, a, b, pc: np.power(v, a),
     'r = pow(xv, b) * gv * a;', lambda xv, yv, gv, a, b, pc: np.power(xv, b) * gv * a, False),
]
OPS = {name: k for k, (name, *_rest) in enumerate(_OPS)}
_NEEDS_Y = {name for name, *_rest, y in _OPS if y}
_TANHSHRINK = OPS['tanhshrink']
_FWD_TWINS = [op[2] for op in _OPS]
_BWD_TWINS = [op[4] for op in _OPS]


def _cases(col):
    return '\n'.join(f'        case {k}: {op[col]} break;   // {op[0]}' for k, op in enumerate(_OPS))


def _pw_fwd_twin(x, p, y, aux, op, a, b, inner, C, n):
    i = grid_index(n)
    v = x[i]
    with np.errstate(all='ignore'):
        if op == _TANHSHRINK:
            t = np.tanh(v)
            aux[i] = t
            r = v - t
        else:
            r = _FWD_TWINS[op](v, a, b, lambda: p[(i // inner) % C])
    y[i] = r


pw_fwd_kernel = Kernel('lt_pw_fwd', r'''
#define PC p[(i / inner) % C]
extern "C" __global__ void lt_pw_fwd(const T* x, const T* p, T* y, T* aux, int op, T a, T b, long long inner,
                                     long long C, long long n) {
    LOOP(i, n) {
        T v = x[i], r;
        switch (op) {
''' + _cases(1) + r'''
        default: r = v;
        }
        y[i] = r;
    }
}
''', _pw_fwd_twin)


def _pw_bwd_twin(x, y, g, p, gi, op, a, b, inner, C, n):
    i = grid_index(n)
    with np.errstate(all='ignore'):
        r = _BWD_TWINS[op](x[i], y[i], g[i], a, b, lambda: p[(i // inner) % C])
    gi[i] = r


pw_bwd_kernel = Kernel('lt_pw_bwd', r'''
#define PC p[(i / inner) % C]
extern "C" __global__ void lt_pw_bwd(const T* x, const T* y, const T* g, const T* p, T* gi, int op, T a, T b,
                                     long long inner, long long C, long long n) {
    LOOP(i, n) {
        T xv = x[i], yv = y[i], gv = g[i], r;
        switch (op) {
''' + _cases(3) + r'''
        default: r = gv;
        }
        gi[i] = r;
    }
}
''', _pw_bwd_twin)


def forward(op, x, out, a=0, b=0, p=None, inner=1, C=1, aux=None):
    """``out = f(x)`` for pointwise op ``op`` (a name of OPS; ``out`` may be ``x``): one launch.  ``p``: the
    per-channel parameters of 'pleaky' (channel of element i: (i // inner) % C); ``aux``: tanhshrink's tanh."""
    pp = x if p is None else p
    ax = out if aux is None else aux
    if out.shape != x.shape or not suits(x, out, pp, ax):
        return False
    pw_fwd_kernel(x.size, x, pp, out, ax, OPS[op], a, b, inner, C, x.size)
    return True


def backward(op, x, y, g, out, a=0, b=0, p=None, inner=1, C=1):
    """``out = gradOutput * f'(x)`` for op ``op`` from input ``x``, output ``y`` and gradOutput ``g`` (``out`` may
    be ``g``; in place ``x`` is ``y``): one launch."""
    if op in _NEEDS_Y:
        if y is None or y.shape != x.shape:
            return False
    else:
        y = x
    pp = x if p is None else p
    if g.shape != x.shape or out.shape != x.shape or not suits(x, y, g, out, pp):
        return False
    pw_bwd_kernel(x.size, x, y, g, pp, out, OPS[op], a, b, inner, C, x.size)
    return True


# -- per-channel reductions, one launch each: channel c's N * inner values (element j, batch-major then position, is
# x[((j / inner) * C + c) * inner + j % inner]) are split into P segments, one 256-thread block each (C * P blocks,
# grid-stride); each block writes its partial result, and the channel's last block to finish (a ticket counter per
# channel, reset to 0 by that block) combines the P partials (all its threads) and writes the channel's result.  P
# grows with the values per channel while there are few channels, so that a few large planes still fill the GPU.
_REDUCE = r'''
#define RB 256
#define AT(j) ((((j) / inner) * C + c) * inner + (j) % inner)
__device__ __forceinline__ T lt_block_sum(T v, T* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = RB / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    T r = sh[0];
    __syncthreads();
    return r;
}
// thread 0, after writing its block's partials: whether this block is channel c's last (then the ticket is reset)
__device__ __forceinline__ bool lt_last_block(int* tickets, long long c, long long P) {
    __threadfence();
    bool last = atomicAdd(tickets + c, 1) == (int)(P - 1);
    if (last) tickets[c] = 0;
    return last;
}
'''
_SEGMENT = 2048               # values per block at least, before a channel is split further
_MAX_SEGMENTS = 1024


def segments(C, m):
    """P: the blocks per channel of the reductions (C channels of m values each)."""
    want = max(1, -(-2048 // C))                     # about 2048 blocks in all
    return int(max(1, min(-(-m // _SEGMENT), want, _MAX_SEGMENTS)))


def _channels(a, N, C, inner):
    """Flat ``a`` viewed (N, C, inner)."""
    return a[:N * C * inner].reshape(N, C, inner)


def _segments_of(a, N, C, inner, P):
    """Channel c's values of flat ``a`` in the kernels' order, split as the blocks split them: (C, P, seg) zero-padded,
    and each segment's count (P,)."""
    m = N * inner
    v = _channels(a, N, C, inner).transpose(1, 0, 2).reshape(C, m)
    seg = -(-m // P)
    pad = np.zeros((C, P * seg), dtype=a.dtype)
    pad[:, :m] = v
    return pad.reshape(C, P, seg), np.clip(m - np.arange(P) * seg, 0, seg)


def _grid(blocks):
    return int(max(1, min(blocks, _MAX_BLOCKS)))


def reduction_scratch(owner, C, P, k, dtype):
    """The kept scratch of a reduction: partials (C * P * k values) and the per-channel tickets (int32, zeroed when
    made; every launch leaves them zero), from ``owner._buffer`` (a module's kept buffers)."""
    part = owner._buffer(f'_red_part{k}', (C * P * k,), dtype=dtype)      # (one per kind: no reallocation)
    prev = owner.__dict__.get('_red_tickets')
    tickets = owner._buffer('_red_tickets', (C,), dtype=np.int32)
    if tickets is not prev:
        tickets.fill(0)
    return part, tickets


def _prelu_gw_twin(x, g, gw, part, tickets, scale, N, C, inner, P):
    xs, gs = _segments_of(x, N, C, inner, P)[0], _segments_of(g, N, C, inner, P)[0]
    part[:C * P] = (np.where(xs < 0, xs, 0) * gs).sum(axis=2).reshape(-1)      # (a NaN x adds 0, as the kernel)
    gw[:C] += scale * part[:C * P].reshape(C, P).sum(axis=1)


prelu_gw_kernel = Kernel('lt_prelu_gw', _REDUCE + r'''
extern "C" __global__ void lt_prelu_gw(const T* x, const T* g, T* gw, T* part, int* tickets, T scale, long long N,
                                       long long C, long long inner, long long P) {
    __shared__ T sh[RB];
    __shared__ bool last;
    long long m = N * inner, seg = (m + P - 1) / P;
    for (long long blk = blockIdx.x; blk < C * P; blk += gridDim.x) {
        long long c = blk / P, j0 = (blk % P) * seg, j1 = min(m, j0 + seg);
        T s = 0;
        for (long long j = j0 + threadIdx.x; j < j1; j += RB) {
            long long k = AT(j);
            T v = x[k];
            s += (v < 0 ? v : (T)0) * g[k];
        }
        s = lt_block_sum(s, sh);
        if (threadIdx.x == 0) {
            part[blk] = s;
            last = lt_last_block(tickets, c, P);
        }
        __syncthreads();
        if (last) {
            volatile T* pp = part + c * P;
            T t = 0;
            for (long long k = threadIdx.x; k < P; k += RB) t += pp[k];
            t = lt_block_sum(t, sh);
            if (threadIdx.x == 0) gw[c] += scale * t;
        }
        __syncthreads();
    }
}
''', _prelu_gw_twin)


def prelu_acc_grad(owner, x, g, gw, scale, N, C, inner):
    """PReLU's ``gradWeight[c] += scale * sum(min(x, 0) * g)`` over channel c's values: one launch."""
    if g.shape != x.shape or not suits(x, g, gw):
        return False
    P = segments(C, N * inner)
    part, tickets = reduction_scratch(owner, C, P, 1, x.dtype)
    prelu_gw_kernel.launch(_grid(C * P), _RB, x, g, gw, part, tickets, scale, N, C, inner, P)
    return True


# -- RReLU training (element-wise draws): Torch7 draws one number per non-positive element, in order, from the
# host stream.  Count the non-positive elements per chunk of 1024, scan the counts (the total read back), then
# each block gives its non-positive elements their draws in order.
_CHUNK = 1024
_SCAN = r'''
// the inclusive prefix sum of sh[0 .. nt) in place, by the block's nt threads (each calls it)
__device__ __forceinline__ void lt_block_scan(long long* sh, int nt) {
    for (int off = 1; off < nt; off <<= 1) {
        long long t = threadIdx.x >= off ? sh[threadIdx.x - off] : 0;
        __syncthreads();
        sh[threadIdx.x] += t;
        __syncthreads();
    }
}
'''


def _rrelu_count_twin(x, counts, n):
    nb = (n + _CHUNK - 1) // _CHUNK
    m = np.zeros(nb * _CHUNK, dtype=np.int64)
    m[:n] = x[:n] <= 0
    counts[:nb] = m.reshape(nb, _CHUNK).sum(axis=1)


rrelu_count_kernel = Kernel('lt_rrelu_count', r'''
extern "C" __global__ void lt_rrelu_count(const T* x, long long* counts, long long n) {
    __shared__ long long sh[256];
    long long base = (long long)blockIdx.x * 1024, c = 0;
    for (int k = threadIdx.x; k < 1024; k += 256) {
        long long i = base + k;
        if (i < n && x[i] <= 0) c++;
    }
    sh[threadIdx.x] = c;
    __syncthreads();
    for (int s = 128; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) counts[blockIdx.x] = sh[0];
}
''', _rrelu_count_twin)


def _rrelu_scan_twin(counts, nb):
    c = counts[:nb].copy()
    counts[:nb] = np.cumsum(c) - c
    counts[nb] = c.sum()


rrelu_scan_kernel = Kernel('lt_rrelu_scan', _SCAN + r'''
extern "C" __global__ void lt_rrelu_scan(long long* counts, long long nb) {
    __shared__ long long sh[1024];
    __shared__ long long carry;
    if (threadIdx.x == 0) carry = 0;
    __syncthreads();
    for (long long start = 0; start < nb; start += 1024) {
        long long i = start + threadIdx.x;
        long long v = i < nb ? counts[i] : 0;
        sh[threadIdx.x] = v;
        __syncthreads();
        lt_block_scan(sh, 1024);
        if (i < nb) counts[i] = carry + sh[threadIdx.x] - v;     // exclusive
        __syncthreads();
        if (threadIdx.x == 1023) carry += sh[1023];
        __syncthreads();
    }
    if (threadIdx.x == 0) counts[nb] = carry;
}
''', _rrelu_scan_twin)


def _rrelu_scatter_twin(x, offs, draws, noise, y, n):
    i = grid_index(n)
    v = x[i]
    m = v <= 0
    before = np.cumsum(m) - m                       # non-positive elements before i
    first = (i // _CHUNK) * _CHUNK
    r = offs[i // _CHUNK] + before - before[first]
    f = np.where(m, draws[np.where(m, r, 0)], 1).astype(x.dtype)
    noise[i] = f
    y[i] = v * f


rrelu_scatter_kernel = Kernel('lt_rrelu_scatter', _SCAN + r'''
extern "C" __global__ void lt_rrelu_scatter(const T* x, const long long* offs, const T* draws, T* noise, T* y,
                                            long long n) {
    __shared__ long long sh[256];
    long long base = (long long)blockIdx.x * 1024 + threadIdx.x * 4, c = 0;
    T v[4];
    bool m[4];
    for (int k = 0; k < 4; k++) {
        long long i = base + k;
        v[k] = i < n ? x[i] : (T)1;
        m[k] = i < n && v[k] <= 0;
        c += m[k];
    }
    sh[threadIdx.x] = c;
    __syncthreads();
    lt_block_scan(sh, 256);
    long long r = offs[blockIdx.x] + sh[threadIdx.x] - c;
    for (int k = 0; k < 4; k++) {
        long long i = base + k;
        if (i < n) {
            T f = m[k] ? draws[r++] : (T)1;
            noise[i] = f;
            y[i] = v[k] * f;
        }
    }
}
''', _rrelu_scatter_twin)


def rrelu_count(x, buffer):
    """(k, counts): k the number of elements x <= 0 (read back: one synchronization), ``counts`` (int64, a kept
    ``buffer(name, shape, dtype=)`` of nblocks + 1) each chunk's offset for ``rrelu_scatter``.  2 launches."""
    nb = (x.size + _CHUNK - 1) // _CHUNK
    counts = buffer('_rrelu_counts', (nb + 1,), dtype=np.int64)
    rrelu_count_kernel.launch(nb, 256, x, counts, x.size)
    rrelu_scan_kernel.launch(1, 1024, counts, nb, dtype=x.dtype)
    return int(counts[nb]), counts


def rrelu_scatter(x, counts, host_draws, draws, noise, out):
    """noise = the k = len(host_draws) draws at the non-positive elements of x in order, 1 elsewhere; out = x * noise
    (``out`` may be ``x``).  The draws are copied up into ``draws`` (device, at least k long); 1 launch."""
    k = host_draws.shape[0]
    if k:
        upload(draws[:k], host_draws)
    nb = (x.size + _CHUNK - 1) // _CHUNK
    rrelu_scatter_kernel.launch(nb, 256, x, counts, draws, noise, out, x.size)


# -- BatchNormalization --------------------------------------------------------------------------------------
def _bn_stats_twin(x, part, tickets, mean, invstd, rm, rv, eps, keep, mom, N, C, inner, P):
    T = x.dtype.type
    m = N * inner
    segs, cnt = _segments_of(x, N, C, inner, P)
    cnt = cnt.astype(x.dtype)
    with np.errstate(invalid='ignore', divide='ignore'):
        mus = np.where(cnt > 0, segs.sum(axis=2) / cnt, 0).astype(x.dtype)                          # (C, P)
    valid = np.arange(segs.shape[2]) < cnt[:, None]                                               # (P, seg)
    qs = (np.where(valid, segs - mus[:, :, None], 0) ** 2).sum(axis=2).astype(x.dtype)
    part[:3 * C * P] = np.stack([np.broadcast_to(cnt, (C, P)), mus, qs], axis=-1).reshape(-1)
    # the last blocks' merge (Chan et al.)
    mu = mus[:, 0] if P == 1 else ((cnt * mus).sum(axis=1) / T(m)).astype(x.dtype)
    vs = (qs + cnt * (mus - mu[:, None]) ** 2).sum(axis=1).astype(x.dtype)
    with np.errstate(divide='ignore'):
        inv = np.where((vs == 0) & (eps == 0), 0, 1 / np.sqrt(vs / x.dtype.type(m) + eps)).astype(x.dtype)
    mean[:C] = mu
    invstd[:C] = inv
    rm[:C] = rm[:C] * keep + mom * mu
    rv[:C] = rv[:C] * keep + mom * (vs / x.dtype.type(m - 1))


bn_stats_kernel = Kernel('lt_bn_stats', _REDUCE + r'''
// Each block: its segment's count, mean and sum of squared deviations (two passes over the segment); the last
// block of the channel merges them (Chan et al.: mean = sum(n_k mean_k) / m, then
// sum of squares = sum(ss_k + n_k (mean_k - mean)^2)), writes save_mean/save_std, moves the running statistics.
extern "C" __global__ void lt_bn_stats(const T* x, T* part, int* tickets, T* mean, T* invstd, T* rm, T* rv, T eps,
                                       T keep, T mom, long long N, long long C, long long inner, long long P) {
    __shared__ T sh[RB];
    __shared__ bool last;
    long long m = N * inner, seg = (m + P - 1) / P;
    for (long long blk = blockIdx.x; blk < C * P; blk += gridDim.x) {
        long long c = blk / P, j0 = (blk % P) * seg, j1 = min(m, j0 + seg);
        long long cnt = j1 > j0 ? j1 - j0 : 0;
        T s = 0;
        for (long long j = j0 + threadIdx.x; j < j1; j += RB) s += x[AT(j)];
        s = lt_block_sum(s, sh);
        T mu = cnt ? s / (T)cnt : (T)0;
        T q = 0;
        for (long long j = j0 + threadIdx.x; j < j1; j += RB) {
            T d = x[AT(j)] - mu;
            q += d * d;
        }
        q = lt_block_sum(q, sh);
        if (threadIdx.x == 0) {
            part[3 * blk] = (T)cnt;
            part[3 * blk + 1] = mu;
            part[3 * blk + 2] = q;
            last = lt_last_block(tickets, c, P);
        }
        __syncthreads();
        if (last) {
            volatile T* pp = part + 3 * c * P;
            T a = 0;
            for (long long k = threadIdx.x; k < P; k += RB) a += pp[3 * k] * pp[3 * k + 1];
            T mn = P == 1 ? pp[1] : lt_block_sum(a, sh) / (T)m;
            T b = 0;
            for (long long k = threadIdx.x; k < P; k += RB) {
                T d = pp[3 * k + 1] - mn;
                b += pp[3 * k + 2] + pp[3 * k] * d * d;
            }
            T vs = lt_block_sum(b, sh);
            if (threadIdx.x == 0) {
                mean[c] = mn;
                invstd[c] = (vs == 0 && eps == 0) ? (T)0 : (T)1 / sqrt(vs / (T)m + eps);
                rm[c] = rm[c] * keep + mom * mn;
                rv[c] = rv[c] * keep + mom * (vs / (T)(m - 1));
            }
        }
        __syncthreads();
    }
}
''', _bn_stats_twin)


def _inv(sd, is_var, eps):
    return (1 / np.sqrt(sd + eps)).astype(sd.dtype) if is_var else sd


def _bn_apply_twin(x, mean, sd, w, b, y, sd_is_var, eps, has_w, has_b, inner, C, n):
    i = grid_index(n)
    c = (i // inner) % C
    r = (x[i] - mean[c]) * _inv(sd[c], sd_is_var, eps)
    if has_w:
        r = r * w[c]
    if has_b:
        r = r + b[c]
    y[i] = r


bn_apply_kernel = Kernel('lt_bn_apply', r'''
extern "C" __global__ void lt_bn_apply(const T* x, const T* mean, const T* sd, const T* w, const T* b, T* y,
                                       int sd_is_var, T eps, int has_w, int has_b, long long inner, long long C,
                                       long long n) {
    LOOP(i, n) {
        long long c = (i / inner) % C;
        T s = sd[c];
        if (sd_is_var) s = (T)1 / sqrt(s + eps);
        T r = (x[i] - mean[c]) * s;
        if (has_w) r *= w[c];
        if (has_b) r += b[c];
        y[i] = r;
    }
}
''', _bn_apply_twin)


def _bn_gstats_twin(x, g, mean, sd, gsum, dotp, gw, gb, part, tickets, sd_is_var, eps, acc_w, acc_b, scale, N, C,
                    inner, P):
    xs, gs = _segments_of(x, N, C, inner, P)[0], _segments_of(g, N, C, inner, P)[0]
    p1 = gs.sum(axis=2)                                            # (C, P); padding: g = 0
    p2 = ((xs - mean[:C][:, None, None]) * gs).sum(axis=2)
    part[:2 * C * P] = np.stack([p1, p2], axis=-1).reshape(-1)
    s1, s2 = p1.sum(axis=1).astype(x.dtype), p2.sum(axis=1).astype(x.dtype)
    gsum[:C] = s1
    dotp[:C] = s2
    if acc_w:
        gw[:C] += scale * (s2 * _inv(sd[:C], sd_is_var, eps))
    if acc_b:
        gb[:C] += scale * s1


bn_gstats_kernel = Kernel('lt_bn_gstats', _REDUCE + r'''
// Per channel: gsum = sum(g), dotp = sum((x - mean) * g); then gradWeight += scale * dotp * invstd and
// gradBias += scale * gsum where asked.
extern "C" __global__ void lt_bn_gstats(const T* x, const T* g, const T* mean, const T* sd, T* gsum, T* dotp,
                                        T* gw, T* gb, T* part, int* tickets, int sd_is_var, T eps, int acc_w,
                                        int acc_b, T scale, long long N, long long C, long long inner, long long P) {
    __shared__ T sh[RB];
    __shared__ bool last;
    long long m = N * inner, seg = (m + P - 1) / P;
    for (long long blk = blockIdx.x; blk < C * P; blk += gridDim.x) {
        long long c = blk / P, j0 = (blk % P) * seg, j1 = min(m, j0 + seg);
        T mu = mean[c], s1 = 0, s2 = 0;
        for (long long j = j0 + threadIdx.x; j < j1; j += RB) {
            long long k = AT(j);
            T gv = g[k];
            s1 += gv;
            s2 += (x[k] - mu) * gv;
        }
        s1 = lt_block_sum(s1, sh);
        s2 = lt_block_sum(s2, sh);
        if (threadIdx.x == 0) {
            part[2 * blk] = s1;
            part[2 * blk + 1] = s2;
            last = lt_last_block(tickets, c, P);
        }
        __syncthreads();
        if (last) {
            volatile T* pp = part + 2 * c * P;
            T t1 = 0, t2 = 0;
            for (long long k = threadIdx.x; k < P; k += RB) {
                t1 += pp[2 * k];
                t2 += pp[2 * k + 1];
            }
            t1 = lt_block_sum(t1, sh);
            t2 = lt_block_sum(t2, sh);
            if (threadIdx.x == 0) {
                gsum[c] = t1;
                dotp[c] = t2;
                T inv = sd[c];
                if (sd_is_var) inv = (T)1 / sqrt(inv + eps);
                if (acc_w) gw[c] += scale * (t2 * inv);
                if (acc_b) gb[c] += scale * t1;
            }
        }
        __syncthreads();
    }
}
''', _bn_gstats_twin)


def _bn_ginput_twin(x, g, mean, sd, w, gsum, dotp, gi, sd_is_var, eps, has_w, train, cnt, inner, C, n):
    i = grid_index(n)
    c = (i // inner) % C
    inv = _inv(sd[c], sd_is_var, eps)
    if train:
        k = dotp[c] * inv * inv / cnt
        r = (g[i] - (x[i] - mean[c]) * k - gsum[c] / cnt) * inv
    else:
        r = g[i] * inv
    if has_w:
        r = r * w[c]
    gi[i] = r


bn_ginput_kernel = Kernel('lt_bn_ginput', r'''
extern "C" __global__ void lt_bn_ginput(const T* x, const T* g, const T* mean, const T* sd, const T* w,
                                        const T* gsum, const T* dotp, T* gi, int sd_is_var, T eps, int has_w,
                                        int train, T cnt, long long inner, long long C, long long n) {
    LOOP(i, n) {
        long long c = (i / inner) % C;
        T inv = sd[c];
        if (sd_is_var) inv = (T)1 / sqrt(inv + eps);
        T r;
        if (train) {
            T k = dotp[c] * inv * inv / cnt;
            r = (g[i] - (x[i] - mean[c]) * k - gsum[c] / cnt) * inv;
        } else {
            r = g[i] * inv;
        }
        if (has_w) r *= w[c];
        gi[i] = r;
    }
}
''', _bn_ginput_twin)


def _dims(x):
    """(N, C, inner) of a batch (N, C, *S)."""
    return x.shape[0], x.shape[1], math.prod(x.shape[2:])


def batchnorm_forward(owner, x, out, train, mean, invstd, running_mean, running_var, weight, bias, eps, momentum):
    """BatchNormalization's forward of batch ``x`` (N, C, *S) into ``out`` on CUDA.  Training: the batch mean and
    invstd into ``mean``/``invstd`` (C,), the running statistics moved by ``momentum`` (the variance unbiased),
    then out normalized: 2 launches.  Evaluation: out from the running statistics, 1 launch.  ``weight``/``bias``
    may be None.  False when the arrays do not suit the kernels (nothing done)."""
    N, C, inner = _dims(x)
    w = weight if weight is not None else running_mean
    b = bias if bias is not None else running_mean
    if not suits(x, out, mean, invstd, running_mean, running_var, w, b):
        return False
    if train:
        P = segments(C, N * inner)
        part, tickets = reduction_scratch(owner, C, P, 3, x.dtype)
        bn_stats_kernel.launch(_grid(C * P), _RB, x, part, tickets, mean, invstd, running_mean, running_var, eps,
                               1 - momentum, momentum, N, C, inner, P)
        m, sd, is_var = mean, invstd, 0
    else:
        m, sd, is_var = running_mean, running_var, 1
    bn_apply_kernel(x.size, x, m, sd, w, b, out, is_var, eps, int(weight is not None), int(bias is not None),
                    inner, C, x.size)
    return True


def batchnorm_backward(owner, x, g, gi, mean, sd, sd_is_var, eps, weight, gsum, dotp, grad_weight, grad_bias,
                       scale, train):
    """BatchNormalization's backward on CUDA: ``gi`` (or None) the input gradient, ``grad_weight``/``grad_bias``
    (or None) accumulated by ``scale`` * their gradient.  ``mean``/``sd`` the statistics used (sd an invstd, or the
    running variance when ``sd_is_var``); ``gsum``/``dotp`` (C,) scratch.  One per-channel reduction (when the
    training input gradient or a parameter gradient needs it) + one elementwise launch (the input gradient).
    False when the arrays do not suit the kernels (nothing done)."""
    N, C, inner = _dims(x)
    w = weight if weight is not None else mean
    gw = grad_weight if grad_weight is not None else gsum
    gb = grad_bias if grad_bias is not None else gsum
    arrays = [x, g, mean, sd, w, gsum, dotp, gw, gb] + ([gi] if gi is not None else [])
    if g.shape != x.shape or not suits(*arrays):
        return False
    if (gi is not None and train) or grad_weight is not None or grad_bias is not None:
        P = segments(C, N * inner)
        part, tickets = reduction_scratch(owner, C, P, 2, x.dtype)
        bn_gstats_kernel.launch(_grid(C * P), _RB, x, g, mean, sd, gsum, dotp, gw, gb, part, tickets, int(sd_is_var),
                                eps, int(grad_weight is not None), int(grad_bias is not None), scale, N, C, inner, P)
    if gi is not None:
        bn_ginput_kernel(x.size, x, g, mean, sd, w, gsum, dotp, gi, int(sd_is_var), eps, int(weight is not None),
                         int(train), N * inner, inner, C, x.size)
    return True


# -- Dropout ---------------------------------------------------------------------------------------------------
def _dropout_twin(x, mask, noise, y, scale, n):
    i = grid_index(n)
    f = np.where(mask[i] != 0, scale, 0).astype(x.dtype)
    noise[i] = f
    y[i] = x[i] * f


dropout_kernel = Kernel('lt_dropout_fwd', r'''
extern "C" __global__ void lt_dropout_fwd(const T* x, const unsigned char* mask, T* noise, T* y, T scale,
                                          long long n) {
    LOOP(i, n) {
        T f = mask[i] ? scale : (T)0;
        noise[i] = f;
        y[i] = x[i] * f;
    }
}
''', _dropout_twin)


def dropout_forward(x, host_mask, mask, noise, out, scale):
    """Dropout's training forward on CUDA: the 0/1 mask drawn on the host (``host_mask``, uint8, shaped as x) copied
    into ``mask`` (device, uint8), then noise = mask * scale (``scale``: 1 / (1 - p), or 1) and out = x * noise (``out``
    may be ``x``) in one launch.  The mask travels as bytes (a quarter of float32 noise)."""
    upload(mask, host_mask)
    if suits(x, noise, out) and mask.flags.c_contiguous:
        dropout_kernel(x.size, x, mask, noise, out, scale, x.size)
    else:                                           # a strided input: ufuncs (3 launches)
        noise[...] = mask
        noise *= scale
        get_cupy().multiply(x, noise, out=out)
    return out

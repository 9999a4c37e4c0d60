"""CUDA kernels of the pooling, padding, up-sampling and cross-map LRN layers (nn/pooling.py, nn/padding.py,
nn/upsampling.py and the pooling classes of nn/conv.py), each beside its numpy twin (tests/fakecupy runs the twins).

Each function below takes the layer's arrays and, for numpy arrays, runs the layer's own numpy code (``cpu``,
called with ``*cpu_args``: the CPU path is left exactly as it was); for CuPy arrays it launches a constant number of
kernels, whatever the kernel size, batch or planes, with no allocation and no host synchronization:

=====================================================  =======  ========
pass                                                   forward  backward
=====================================================  =======  ========
max pooling (Spatial, Volumetric, Temporal), indices   1        1
average pooling (Spatial, Volumetric)                  1        1
adaptive max / average pooling                         1        1
zero / reflection / replication padding                1        1
bilinear up-sampling                                   1        1
cross-map LRN                                          1        1
=====================================================  =======  ========

The fixed-window pooling kernels work on 3 spatial dims (depth, height, width); 1- or 2-D layers pass size-1 outer
dims.  Max pooling stores each window's winner as its flat position in the input plane (``(d*H + h)*W + w``; -1
when the window has none): Torch7's ``indices`` of SpatialMaxPooling (0-based here, as the CPU path keeps them).
Backward passes are gathers: one thread per input element sums the gradOutputs of the windows that cover it (for
max pooling: of those whose winner it is), so they need no zero fill, no atomics, and are deterministic.
"""
import numpy as np

from .cuda import Kernel, grid_index

_GEOM = ('int D, int H, int W, int KD, int KH, int KW, int SD, int SH, int SW, int PD, int PH, int PW, '
         'int OD, int OH, int OW')

# the output windows (along one dim) that cover input position d: [lo, hi)
_COVER = r'''
__device__ __forceinline__ void cover(int d, int P, int K, int S, int O, int* lo, int* hi) {
    *lo = (d + P < K) ? 0 : (d + P - K) / S + 1;
    int h = (d + P) / S + 1;
    *hi = h < O ? h : O;
}
'''


def _cover(d, P, K, S, O):
    lo = np.where(d + P < K, 0, (d + P - K) // S + 1)
    hi = np.minimum((d + P) // S + 1, O)
    return lo, hi


def _ncover(K, S):
    """The most windows (of size K, stride S) that cover one position: the twins' loop count."""
    return (K + S - 1) // S


def _unflat3(i, D, H, W):
    return i % W, (i // W) % H, (i // (W * H)) % D, i // (W * H * D)


# -- max pooling -------------------------------------------------------------------------------------------
def _maxpool_fwd_twin(x, out, idx, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, OD, OH, OW, low, nan_wins, n):
    i = grid_index(n)
    ow, oh, od, p = _unflat3(i, OD, OH, OW)
    d0, h0, w0 = od * SD - PD, oh * SH - PH, ow * SW - PW
    m = np.full(i.shape, low, dtype=x.dtype)
    best = np.full(i.shape, -1, dtype=np.int64)
    first = bool(nan_wins)
    for kd in range(KD):
        for kh in range(KH):
            for kw in range(KW):
                d, h, w = d0 + kd, h0 + kh, w0 + kw
                ok = (d >= 0) & (d < D) & (h >= 0) & (h < H) & (w >= 0) & (w < W)
                pos = (d * H + h) * W + w
                v = np.where(ok, x[np.where(ok, p * (D * H * W) + pos, 0)], low)
                take = v > m
                if nan_wins:
                    take |= (v != v) | first
                m = np.where(take, v, m)
                best = np.where(take, np.where(ok, pos, -1), best)
                first = False
    out[i] = m
    idx[i] = best


maxpool_fwd = Kernel('lt_maxpool_fwd', r'''
extern "C" __global__ void lt_maxpool_fwd(const T* x, T* out, long long* idx, ''' + _GEOM + r''', T low,
                                          int nan_wins, long long n) {
    LOOP(i, n) {
        int ow = i % OW, oh = (i / OW) % OH, od = (i / ((long long)OW * OH)) % OD;
        long long p = i / ((long long)OW * OH * OD);
        const T* xp = x + p * ((long long)D * H * W);
        int d0 = od * SD - PD, h0 = oh * SH - PH, w0 = ow * SW - PW;
        T m = low;
        long long best = -1;
        bool first = nan_wins;
        for (int kd = 0; kd < KD; kd++) {
            int d = d0 + kd;
            for (int kh = 0; kh < KH; kh++) {
                int h = h0 + kh;
                for (int kw = 0; kw < KW; kw++) {
                    int w = w0 + kw;
                    bool ok = d >= 0 && d < D && h >= 0 && h < H && w >= 0 && w < W;
                    long long pos = ((long long)d * H + h) * W + w;
                    T v = ok ? xp[pos] : low;
                    if (v > m || (nan_wins && (first || v != v))) { m = v; best = ok ? pos : -1; }
                    first = false;
                }
            }
        }
        out[i] = m;
        idx[i] = best;
    }
}
''', _maxpool_fwd_twin)


def _maxpool_bwd_twin(g, idx, gi, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, OD, OH, OW, n):
    i = grid_index(n)
    w, h, d, p = _unflat3(i, D, H, W)
    pos = (d * H + h) * W + w
    (dl, dh), (hl, hh), (wl, wh) = _cover(d, PD, KD, SD, OD), _cover(h, PH, KH, SH, OH), _cover(w, PW, KW, SW, OW)
    acc = np.zeros(i.shape, dtype=g.dtype)
    for td in range(_ncover(KD, SD)):
        for th in range(_ncover(KH, SH)):
            for tw in range(_ncover(KW, SW)):
                od, oh, ow = dl + td, hl + th, wl + tw
                ok = (od < dh) & (oh < hh) & (ow < wh)
                o = np.where(ok, ((p * OD + od) * OH + oh) * OW + ow, 0)
                hit = ok & (idx[o] == pos)
                acc += np.where(hit, g[o], 0)
    gi[i] = acc


maxpool_bwd = Kernel('lt_maxpool_bwd', _COVER + r'''
extern "C" __global__ void lt_maxpool_bwd(const T* g, const long long* idx, T* gi, ''' + _GEOM + r''',
                                          long long n) {
    LOOP(i, n) {
        int w = i % W, h = (i / W) % H, d = (i / ((long long)W * H)) % D;
        long long p = i / ((long long)W * H * D);
        long long pos = ((long long)d * H + h) * W + w;
        int dl, dh, hl, hh, wl, wh;
        cover(d, PD, KD, SD, OD, &dl, &dh);
        cover(h, PH, KH, SH, OH, &hl, &hh);
        cover(w, PW, KW, SW, OW, &wl, &wh);
        T acc = 0;
        for (int od = dl; od < dh; od++)
            for (int oh = hl; oh < hh; oh++)
                for (int ow = wl; ow < wh; ow++) {
                    long long o = ((p * OD + od) * OH + oh) * OW + ow;
                    if (idx[o] == pos) acc += g[o];
                }
        gi[i] = acc;
    }
}
''', _maxpool_bwd_twin)


# -- average pooling ---------------------------------------------------------------------------------------
_DIVISOR = r'''
__device__ __forceinline__ long long count(int o, int S, int P, int K, int N, int divmode) {
    int s = o * S - P, e = s + K < N + P ? s + K : N + P;
    if (divmode == 1) return e - s;
    return (e < N ? e : N) - (s > 0 ? s : 0);
}
'''


def _count(o, S, P, K, N, divmode):
    s = o * S - P
    e = np.minimum(s + K, N + P)
    return e - s if divmode == 1 else np.minimum(e, N) - np.maximum(s, 0)


def _avg_value(v, od, oh, ow, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, divmode, mul):
    """v / (the window's divisor) * mul (no division for divmode 0), in the array's type."""
    if divmode:
        div = (_count(od, SD, PD, KD, D, divmode) * _count(oh, SH, PH, KH, H, divmode)
               * _count(ow, SW, PW, KW, W, divmode))
        v = v / div.astype(v.dtype)
    return v * mul


def _avgpool_fwd_twin(x, out, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, OD, OH, OW, divmode, mul, n):
    i = grid_index(n)
    ow, oh, od, p = _unflat3(i, OD, OH, OW)
    d0, h0, w0 = od * SD - PD, oh * SH - PH, ow * SW - PW
    acc = np.full(i.shape, -0.0, dtype=x.dtype)
    for kd in range(KD):
        for kh in range(KH):
            for kw in range(KW):
                d, h, w = d0 + kd, h0 + kh, w0 + kw
                ok = (d >= 0) & (d < D) & (h >= 0) & (h < H) & (w >= 0) & (w < W)
                acc += np.where(ok, x[np.where(ok, p * (D * H * W) + (d * H + h) * W + w, 0)], 0)
    out[i] = _avg_value(acc, od, oh, ow, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, divmode, mul)


avgpool_fwd = Kernel('lt_avgpool_fwd', _DIVISOR + r'''
extern "C" __global__ void lt_avgpool_fwd(const T* x, T* out, ''' + _GEOM + r''', int divmode, T mul,
                                          long long n) {
    LOOP(i, n) {
        int ow = i % OW, oh = (i / OW) % OH, od = (i / ((long long)OW * OH)) % OD;
        long long p = i / ((long long)OW * OH * OD);
        const T* xp = x + p * ((long long)D * H * W);
        int d0 = od * SD - PD, h0 = oh * SH - PH, w0 = ow * SW - PW;
        T acc = -0.0;
        for (int kd = 0; kd < KD; kd++) {
            int d = d0 + kd;
            for (int kh = 0; kh < KH; kh++) {
                int h = h0 + kh;
                for (int kw = 0; kw < KW; kw++) {
                    int w = w0 + kw;
                    if (d >= 0 && d < D && h >= 0 && h < H && w >= 0 && w < W)
                        acc += xp[((long long)d * H + h) * W + w];
                    else
                        acc += (T)0;
                }
            }
        }
        if (divmode)
            acc = acc / (T)(count(od, SD, PD, KD, D, divmode) * count(oh, SH, PH, KH, H, divmode) *
                            count(ow, SW, PW, KW, W, divmode));
        out[i] = acc * mul;
    }
}
''', _avgpool_fwd_twin)


def _avgpool_bwd_twin(g, gi, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, OD, OH, OW, divmode, mul, n):
    i = grid_index(n)
    w, h, d, p = _unflat3(i, D, H, W)
    (dl, dh), (hl, hh), (wl, wh) = _cover(d, PD, KD, SD, OD), _cover(h, PH, KH, SH, OH), _cover(w, PW, KW, SW, OW)
    acc = np.zeros(i.shape, dtype=g.dtype)
    nd, nh, nw = _ncover(KD, SD), _ncover(KH, SH), _ncover(KW, SW)
    for td in range(nd - 1, -1, -1):          # the CPU's order: kernel offsets ascending = windows descending
        for th in range(nh - 1, -1, -1):
            for tw in range(nw - 1, -1, -1):
                od, oh, ow = dl + td, hl + th, wl + tw
                ok = (od < dh) & (oh < hh) & (ow < wh)
                o = np.where(ok, ((p * OD + od) * OH + oh) * OW + ow, 0)
                with np.errstate(divide='ignore', invalid='ignore'):      # (windows past the last: unused)
                    v = _avg_value(g[o], od, oh, ow, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, divmode, mul)
                acc += np.where(ok, v, 0)
    gi[i] = acc


avgpool_bwd = Kernel('lt_avgpool_bwd', _COVER + _DIVISOR + r'''
extern "C" __global__ void lt_avgpool_bwd(const T* g, T* gi, ''' + _GEOM + r''', int divmode, T mul,
                                          long long n) {
    LOOP(i, n) {
        int w = i % W, h = (i / W) % H, d = (i / ((long long)W * H)) % D;
        long long p = i / ((long long)W * H * D);
        int dl, dh, hl, hh, wl, wh;
        cover(d, PD, KD, SD, OD, &dl, &dh);
        cover(h, PH, KH, SH, OH, &hl, &hh);
        cover(w, PW, KW, SW, OW, &wl, &wh);
        T acc = 0;
        for (int od = dh - 1; od >= dl; od--)
            for (int oh = hh - 1; oh >= hl; oh--)
                for (int ow = wh - 1; ow >= wl; ow--) {
                    T v = g[((p * OD + od) * OH + oh) * OW + ow];
                    if (divmode)
                        v = v / (T)(count(od, SD, PD, KD, D, divmode) * count(oh, SH, PH, KH, H, divmode) *
                                    count(ow, SW, PW, KW, W, divmode));
                    acc += v * mul;
                }
        gi[i] = acc;
    }
}
''', _avgpool_bwd_twin)


# -- adaptive pooling (THNN's windows [floor(i*in/out), ceil((i+1)*in/out))) ------------------------------------
_ADAPTIVE = r'''
__device__ __forceinline__ int astart(int o, int O, int N) { return (int)(((long long)o * N) / O); }
__device__ __forceinline__ int aend(int o, int O, int N) { return (int)(((long long)(o + 1) * N + O - 1) / O); }
'''


def _astart(o, O, N):
    return (o * N) // O


def _aend(o, O, N):
    return ((o + 1) * N + O - 1) // O


def _ainv(h, H, O):
    """The adaptive windows (of O over H) that cover input position h: [lo, hi)."""
    return (h * O) // H, ((h + 1) * O + H - 1) // H


def _alen(o, O, N):
    return _aend(o, O, N) - _astart(o, O, N)


def _awindow(oh, ow, H, W, OH, OW):
    """The forward twins' loop: (in window?, in-plane position) over the largest window's offsets."""
    hs, he, ws, we = _astart(oh, OH, H), _aend(oh, OH, H), _astart(ow, OW, W), _aend(ow, OW, W)
    for th in range(int(_alen(np.arange(OH), OH, H).max())):
        for tw in range(int(_alen(np.arange(OW), OW, W).max())):
            h, w = hs + th, ws + tw
            yield (h < he) & (w < we), h * W + w


def _acovers(h, w, H, W, OH, OW):
    """The backward twins' loop: (covers (h, w)?, oh, ow) over the output windows that may cover input (h, w)."""
    (hl, hh), (wl, wh) = _ainv(h, H, OH), _ainv(w, W, OW)
    for th in range(int((hh - hl).max(initial=0))):
        for tw in range(int((wh - wl).max(initial=0))):
            oh, ow = hl + th, wl + tw
            yield (oh < hh) & (ow < wh), oh, ow


def _adaptive_max_fwd_twin(x, out, idx, H, W, OH, OW, low, n):
    i = grid_index(n)
    ow, oh, p = i % OW, (i // OW) % OH, i // (OW * OH)
    m = np.full(i.shape, low, dtype=x.dtype)
    best = np.full(i.shape, -1, dtype=np.int64)
    for ok, pos in _awindow(oh, ow, H, W, OH, OW):
        v = np.where(ok, x[np.where(ok, p * (H * W) + pos, 0)], low)
        take = v > m
        m = np.where(take, v, m)
        best = np.where(take, pos, best)
    out[i] = m
    idx[i] = best


adaptive_max_fwd = Kernel('lt_adaptive_maxpool_fwd', _ADAPTIVE + r'''
extern "C" __global__ void lt_adaptive_maxpool_fwd(const T* x, T* out, long long* idx, int H, int W, int OH,
                                                   int OW, T low, long long n) {
    LOOP(i, n) {
        int ow = i % OW, oh = (i / OW) % OH;
        long long p = i / ((long long)OW * OH);
        const T* xp = x + p * ((long long)H * W);
        int hs = astart(oh, OH, H), he = aend(oh, OH, H), ws = astart(ow, OW, W), we = aend(ow, OW, W);
        T m = low;
        long long best = -1;
        for (int h = hs; h < he; h++)
            for (int w = ws; w < we; w++) {
                T v = xp[(long long)h * W + w];
                if (v > m) { m = v; best = (long long)h * W + w; }
            }
        out[i] = m;
        idx[i] = best;
    }
}
''', _adaptive_max_fwd_twin)


def _adaptive_max_bwd_twin(g, idx, gi, H, W, OH, OW, n):
    i = grid_index(n)
    w, h, p = i % W, (i // W) % H, i // (W * H)
    acc = np.zeros(i.shape, dtype=g.dtype)
    for ok, oh, ow in _acovers(h, w, H, W, OH, OW):
        o = np.where(ok, (p * OH + oh) * OW + ow, 0)
        acc += np.where(ok & (idx[o] == h * W + w), g[o], 0)
    gi[i] = acc


adaptive_max_bwd = Kernel('lt_adaptive_maxpool_bwd', r'''
extern "C" __global__ void lt_adaptive_maxpool_bwd(const T* g, const long long* idx, T* gi, int H, int W,
                                                   int OH, int OW, long long n) {
    LOOP(i, n) {
        int w = i % W, h = (i / W) % H;
        long long p = i / ((long long)W * H);
        long long pos = (long long)h * W + w;
        int hl = (int)(((long long)h * OH) / H), hh = (int)(((long long)(h + 1) * OH + H - 1) / H);
        int wl = (int)(((long long)w * OW) / W), wh = (int)(((long long)(w + 1) * OW + W - 1) / W);
        T acc = 0;
        for (int oh = hl; oh < hh; oh++)
            for (int ow = wl; ow < wh; ow++) {
                long long o = (p * OH + oh) * OW + ow;
                if (idx[o] == pos) acc += g[o];
            }
        gi[i] = acc;
    }
}
''', _adaptive_max_bwd_twin)


def _adaptive_avg_fwd_twin(x, out, H, W, OH, OW, n):
    i = grid_index(n)
    ow, oh, p = i % OW, (i // OW) % OH, i // (OW * OH)
    acc = np.zeros(i.shape, dtype=x.dtype)
    for ok, pos in _awindow(oh, ow, H, W, OH, OW):
        acc += np.where(ok, x[np.where(ok, p * (H * W) + pos, 0)], 0)
    out[i] = acc / _alen(ow, OW, W).astype(x.dtype) / _alen(oh, OH, H).astype(x.dtype)


adaptive_avg_fwd = Kernel('lt_adaptive_avgpool_fwd', _ADAPTIVE + r'''
extern "C" __global__ void lt_adaptive_avgpool_fwd(const T* x, T* out, int H, int W, int OH, int OW,
                                                   long long n) {
    LOOP(i, n) {
        int ow = i % OW, oh = (i / OW) % OH;
        long long p = i / ((long long)OW * OH);
        const T* xp = x + p * ((long long)H * W);
        int hs = astart(oh, OH, H), he = aend(oh, OH, H), ws = astart(ow, OW, W), we = aend(ow, OW, W);
        T acc = 0;
        for (int h = hs; h < he; h++)
            for (int w = ws; w < we; w++)
                acc += xp[(long long)h * W + w];
        out[i] = acc / (T)(we - ws) / (T)(he - hs);
    }
}
''', _adaptive_avg_fwd_twin)


def _adaptive_avg_bwd_twin(g, gi, H, W, OH, OW, n):
    i = grid_index(n)
    w, h, p = i % W, (i // W) % H, i // (W * H)
    acc = np.zeros(i.shape, dtype=g.dtype)
    for ok, oh, ow in _acovers(h, w, H, W, OH, OW):
        o = np.where(ok, (p * OH + oh) * OW + ow, 0)
        acc += np.where(ok, g[o] / _alen(ow, OW, W).astype(g.dtype) / _alen(oh, OH, H).astype(g.dtype), 0)
    gi[i] = acc


adaptive_avg_bwd = Kernel('lt_adaptive_avgpool_bwd', _ADAPTIVE + r'''
extern "C" __global__ void lt_adaptive_avgpool_bwd(const T* g, T* gi, int H, int W, int OH, int OW,
                                                   long long n) {
    LOOP(i, n) {
        int w = i % W, h = (i / W) % H;
        long long p = i / ((long long)W * H);
        int hl = (int)(((long long)h * OH) / H), hh = (int)(((long long)(h + 1) * OH + H - 1) / H);
        int wl = (int)(((long long)w * OW) / W), wh = (int)(((long long)(w + 1) * OW + W - 1) / W);
        T acc = 0;
        for (int oh = hl; oh < hh; oh++) {
            T kh = (T)(aend(oh, OH, H) - astart(oh, OH, H));
            for (int ow = wl; ow < wh; ow++)
                acc += g[(p * OH + oh) * OW + ow] / (T)(aend(ow, OW, W) - astart(ow, OW, W)) / kh;
        }
        gi[i] = acc;
    }
}
''', _adaptive_avg_bwd_twin)


# -- spatial padding (zero 0 / reflection 1 / replication 2; negative pads crop) -----------------------------------
_PADMAP = r'''
__device__ __forceinline__ int padsrc(int j, int N, int mode) {   // source index of padded index j (-1: zero)
    if (mode == 1) { if (j < 0) j = -j; if (j >= N) j = 2 * (N - 1) - j; }
    else if (mode == 2) { j = j < 0 ? 0 : (j >= N ? N - 1 : j); }
    return (j >= 0 && j < N) ? j : -1;
}
// the three groups of output indices that padding sends input index h to: itself, the lower border, the upper one
__device__ __forceinline__ void padgroups(int h, int N, int O, int lo, int mode, int* a, int* b) {
    int hi = O - N - lo;
    a[0] = h + lo; b[0] = (a[0] >= 0 && a[0] < O) ? a[0] + 1 : a[0];
    a[1] = b[1] = a[2] = b[2] = 0;
    if (mode == 1) {
        if (lo > 0 && h >= 1 && h <= lo && lo - h < O) { a[1] = lo - h; b[1] = a[1] + 1; }
        int r = 2 * (N - 1) - h;
        if (hi > 0 && h <= N - 2 && r < N + hi && r + lo >= 0) { a[2] = r + lo; b[2] = a[2] + 1; }
    } else if (mode == 2) {
        if (lo > 0 && h == 0) { a[1] = 0; b[1] = lo < O ? lo : O; }
        if (hi > 0 && h == N - 1) { a[2] = N + lo > 0 ? N + lo : 0; b[2] = O; }
    }
}
'''


def _padsrc(j, N, mode):
    if mode == 1:
        j = np.abs(j)
        j = np.where(j >= N, 2 * (N - 1) - j, j)
    elif mode == 2:
        j = np.clip(j, 0, N - 1)
    return np.where((j >= 0) & (j < N), j, -1)


def _padgroups(h, N, O, lo, mode):
    """[(a, b)] * 3: the output index ranges (arrays) padded input index ``h`` goes to (as padgroups)."""
    hi = O - N - lo
    zero = np.zeros_like(h)
    a0 = h + lo
    groups = [(a0, np.where((a0 >= 0) & (a0 < O), a0 + 1, a0))]
    g1 = g2 = (zero, zero)
    if mode == 1:
        if lo > 0:
            ok = (h >= 1) & (h <= lo) & (lo - h < O)
            g1 = (np.where(ok, lo - h, 0), np.where(ok, lo - h + 1, 0))
        if hi > 0:
            ok = (h <= N - 2) & (2 * (N - 1) - h < N + hi) & (2 * (N - 1) - h + lo >= 0)
            a = 2 * (N - 1) - h + lo
            g2 = (np.where(ok, a, 0), np.where(ok, a + 1, 0))
    elif mode == 2:
        if lo > 0:
            ok = h == 0
            g1 = (zero, np.where(ok, min(lo, O), 0))
        if hi > 0:
            ok = h == N - 1
            g2 = (np.where(ok, max(N + lo, 0), 0), np.where(ok, O, 0))
    return groups + [g1, g2]


def _pad_fwd_twin(x, out, H, W, OH, OW, pt, pl, mode, n):
    i = grid_index(n)
    ow, oh, p = i % OW, (i // OW) % OH, i // (OW * OH)
    sh, sw = _padsrc(oh - pt, H, mode), _padsrc(ow - pl, W, mode)
    ok = (sh >= 0) & (sw >= 0)
    out[i] = np.where(ok, x[np.where(ok, (p * H + sh) * W + sw, 0)], 0)


pad_fwd = Kernel('lt_pad2d_fwd', _PADMAP + r'''
extern "C" __global__ void lt_pad2d_fwd(const T* x, T* out, int H, int W, int OH, int OW, int pt, int pl,
                                        int mode, long long n) {
    LOOP(i, n) {
        int ow = i % OW, oh = (i / OW) % OH;
        long long p = i / ((long long)OW * OH);
        int sh = padsrc(oh - pt, H, mode), sw = padsrc(ow - pl, W, mode);
        out[i] = (sh >= 0 && sw >= 0) ? x[(p * H + sh) * W + sw] : (T)0;
    }
}
''', _pad_fwd_twin)


def _pad_bwd_twin(g, gi, H, W, OH, OW, pt, pl, mode, n):
    i = grid_index(n)
    w, h, p = i % W, (i // W) % H, i // (W * H)
    rows, cols = _padgroups(h, H, OH, pt, mode), _padgroups(w, W, OW, pl, mode)
    acc = np.zeros(i.shape, dtype=g.dtype)
    for ra, rb in rows:
        rs = np.zeros(i.shape, dtype=g.dtype)
        for t in range(int((rb - ra).max(initial=0))):
            r = ra + t
            rok = r < rb
            ts = np.zeros(i.shape, dtype=g.dtype)
            for ca, cb in cols:
                cs = np.zeros(i.shape, dtype=g.dtype)
                for u in range(int((cb - ca).max(initial=0))):
                    c = ca + u
                    ok = rok & (c < cb)
                    cs += np.where(ok, g[np.where(ok, (p * OH + r) * OW + c, 0)], 0)
                ts += cs
            rs += np.where(rok, ts, 0)
        acc += rs
    gi[i] = acc


pad_bwd = Kernel('lt_pad2d_bwd', _PADMAP + r'''
extern "C" __global__ void lt_pad2d_bwd(const T* g, T* gi, int H, int W, int OH, int OW, int pt, int pl,
                                        int mode, long long n) {
    LOOP(i, n) {
        int w = i % W, h = (i / W) % H;
        long long p = i / ((long long)W * H);
        int ra[3], rb[3], ca[3], cb[3];
        padgroups(h, H, OH, pt, mode, ra, rb);
        padgroups(w, W, OW, pl, mode, ca, cb);
        T acc = 0;
        for (int a = 0; a < 3; a++) {
            T rs = 0;
            for (int r = ra[a]; r < rb[a]; r++) {
                const T* gr = g + (p * OH + r) * OW;
                T ts = 0;
                for (int b = 0; b < 3; b++) {
                    T cs = 0;
                    for (int c = ca[b]; c < cb[b]; c++) cs += gr[c];
                    ts += cs;
                }
                rs += ts;
            }
            acc += rs;
        }
        gi[i] = acc;
    }
}
''', _pad_bwd_twin)


# -- bilinear up-sampling ------------------------------------------------------------------------------------
def _bilinear_fwd_twin(x, out, hi0, hi1, hl0, hl1, wi0, wi1, wl0, wl1, H, W, OH, OW, n):
    i = grid_index(n)
    ow, oh, p = i % OW, (i // OW) % OH, i // (OW * OH)
    base = p * (H * W)
    r0, r1 = base + hi0[oh] * W, base + hi1[oh] * W
    c0, c1, a0, a1 = wi0[ow], wi1[ow], wl0[ow], wl1[ow]
    t0 = x[r0 + c0] * a0 + x[r0 + c1] * a1
    t1 = x[r1 + c0] * a0 + x[r1 + c1] * a1
    out[i] = t0 * hl0[oh] + t1 * hl1[oh]


bilinear_fwd = Kernel('lt_upbilinear_fwd', r'''
extern "C" __global__ void lt_upbilinear_fwd(const T* x, T* out, const long long* hi0, const long long* hi1,
                                             const T* hl0, const T* hl1, const long long* wi0,
                                             const long long* wi1, const T* wl0, const T* wl1, int H, int W,
                                             int OH, int OW, long long n) {
    LOOP(i, n) {
        int ow = i % OW, oh = (i / OW) % OH;
        const T* xp = x + (i / ((long long)OW * OH)) * ((long long)H * W);
        const T* r0 = xp + hi0[oh] * W;
        const T* r1 = xp + hi1[oh] * W;
        long long c0 = wi0[ow], c1 = wi1[ow];
        T a0 = wl0[ow], a1 = wl1[ow];
        T t0 = r0[c0] * a0 + r0[c1] * a1;
        T t1 = r1[c0] * a0 + r1[c1] * a1;
        out[i] = t0 * hl0[oh] + t1 * hl1[oh];
    }
}
''', _bilinear_fwd_twin)


def _bilinear_bwd_twin(g, gi, hi0, hi1, hl0, hl1, wi0, wi1, wl0, wl1, hs, he, ws, we, H, W, OH, OW, n):
    i = grid_index(n)
    w, h, p = i % W, (i // W) % H, i // (W * H)
    acc = np.zeros(i.shape, dtype=g.dtype)
    a, b, c, d = hs[h], he[h], ws[w], we[w]
    for t in range(int((b - a).max(initial=0))):
        oh = a + t
        rok = oh < b
        ohc = np.where(rok, oh, 0)
        wh = np.where(hi0[ohc] == h, hl0[ohc], 0) + np.where(hi1[ohc] == h, hl1[ohc], 0)
        rs = np.zeros(i.shape, dtype=g.dtype)
        for u in range(int((d - c).max(initial=0))):
            ow = c + u
            ok = rok & (ow < d)
            owc = np.where(ok, ow, 0)
            ww = np.where(wi0[owc] == w, wl0[owc], 0) + np.where(wi1[owc] == w, wl1[owc], 0)
            rs += np.where(ok, g[np.where(ok, (p * OH + oh) * OW + ow, 0)] * ww, 0)
        acc += np.where(rok, wh * rs, 0)
    gi[i] = acc


bilinear_bwd = Kernel('lt_upbilinear_bwd', r'''
extern "C" __global__ void lt_upbilinear_bwd(const T* g, T* gi, const long long* hi0, const long long* hi1,
                                             const T* hl0, const T* hl1, const long long* wi0,
                                             const long long* wi1, const T* wl0, const T* wl1,
                                             const long long* hs, const long long* he, const long long* ws,
                                             const long long* we, int H, int W, int OH, int OW, long long n) {
    LOOP(i, n) {
        int w = i % W, h = (i / W) % H;
        const T* gp = g + (i / ((long long)W * H)) * ((long long)OH * OW);
        T acc = 0;
        for (long long oh = hs[h]; oh < he[h]; oh++) {
            T wh = (hi0[oh] == h ? hl0[oh] : (T)0) + (hi1[oh] == h ? hl1[oh] : (T)0);
            T rs = 0;
            for (long long ow = ws[w]; ow < we[w]; ow++) {
                T ww = (wi0[ow] == w ? wl0[ow] : (T)0) + (wi1[ow] == w ? wl1[ow] : (T)0);
                rs += gp[oh * OW + ow] * ww;
            }
            acc += wh * rs;
        }
        gi[i] = acc;
    }
}
''', _bilinear_bwd_twin)


def bilinear_ranges(i0, i1, n_in):
    """(start, end) int64 arrays: for each input index, the output indices [start, end) whose interpolation reads
    it (i0 or i1 equal to it; both are non-decreasing, so these are runs).  Numpy, computed once per shape."""
    src = np.arange(n_in)
    start = np.minimum(np.searchsorted(i0, src, 'left'), np.searchsorted(i1, src, 'left'))
    end = np.maximum(np.searchsorted(i0, src, 'right'), np.searchsorted(i1, src, 'right'))
    return start.astype(np.int64), np.maximum(end, start).astype(np.int64)


# -- cross-map local response normalization --------------------------------------------------------------------
def _lrn_fwd_twin(x, scale, out, C, HW, pre, post, a_over_n, k, negbeta, n):
    i = grid_index(n)
    c = (i // HW) % C
    s = np.full(i.shape, -0.0, dtype=x.dtype)
    for t in range(-pre, post + 1):
        cc = c + t
        ok = (cc >= 0) & (cc < C)
        v = x[np.where(ok, i + t * HW, 0)]
        s += np.where(ok, v * v, 0)
    s = s * a_over_n + k
    scale[i] = s
    out[i] = s ** negbeta * x[i]


_POW = r'''
__device__ __forceinline__ float tpow(float a, float b) { return powf(a, b); }
__device__ __forceinline__ double tpow(double a, double b) { return pow(a, b); }
'''

lrn_fwd = Kernel('lt_lrn_fwd', _POW + r'''
extern "C" __global__ void lt_lrn_fwd(const T* x, T* scale, T* out, int C, int HW, int pre, int post,
                                      T a_over_n, T k, T negbeta, long long n) {
    LOOP(i, n) {
        int c = (i / HW) % C;
        T s = -0.0;
        for (int t = -pre; t <= post; t++) {
            int cc = c + t;
            if (cc >= 0 && cc < C) { T v = x[i + (long long)t * HW]; s += v * v; }
            else s += (T)0;
        }
        s = s * a_over_n + k;
        scale[i] = s;
        out[i] = tpow(s, negbeta) * x[i];
    }
}
''', _lrn_fwd_twin)


def _lrn_bwd_twin(x, g, y, scale, gi, C, HW, pre, post, coef, negbeta, n):
    i = grid_index(n)
    c = (i // HW) % C
    acc = np.full(i.shape, -0.0, dtype=x.dtype)
    for t in range(-post, pre + 1):
        cc = c + t
        ok = (cc >= 0) & (cc < C)
        j = np.where(ok, i + t * HW, 0)
        acc += np.where(ok, g[j] * y[j] / scale[j], 0)
    acc = acc * x[i] * coef
    gi[i] = scale[i] ** negbeta * g[i] - acc


lrn_bwd = Kernel('lt_lrn_bwd', _POW + r'''
extern "C" __global__ void lt_lrn_bwd(const T* x, const T* g, const T* y, const T* scale, T* gi, int C, int HW,
                                      int pre, int post, T coef, T negbeta, long long n) {
    LOOP(i, n) {
        int c = (i / HW) % C;
        T acc = -0.0;
        for (int t = -post; t <= pre; t++) {
            int cc = c + t;
            if (cc >= 0 && cc < C) { long long j = i + (long long)t * HW; acc += g[j] * y[j] / scale[j]; }
            else acc += (T)0;
        }
        acc = acc * x[i] * coef;
        gi[i] = tpow(scale[i], negbeta) * g[i] - acc;
    }
}
''', _lrn_bwd_twin)


# -- what the layers call --------------------------------------------------------------------------------------
def _c(a):
    """``a`` itself when C-contiguous (a layer's output, a gradOutput: always in a training step), else a copy."""
    return a if a.flags.c_contiguous else a.copy()


class _Into:
    """A C-contiguous array to write a kernel's result into: ``a`` itself, or a scratch copied into ``a`` after."""

    def __init__(self, a):
        self.a = a
        self.dst = a if a.flags.c_contiguous else a.copy()

    def done(self):
        if self.dst is not self.a:
            self.a[...] = self.dst


def _planes(kernel, dst, ins, hw, ohw, *extra, mid=()):
    """One launch of a kernel over the planes of ``dst``: ``kernel(n, *ins, dst, *mid, H, W, OH, OW, *extra, n)``
    with (H, W) the last two of ``hw`` and (OH, OW) of ``ohw``."""
    r = _Into(dst)
    kernel(dst.size, *[_c(a) for a in ins], r.dst, *mid, *hw[-2:], *ohw[-2:], *extra, dst.size)
    r.done()
    return dst


def _geom3(ksize, stride, pad, sizes, osizes):
    lead = 3 - len(ksize)
    one, zero = (1,) * lead, (0,) * lead
    return one + tuple(sizes), one + tuple(ksize), one + tuple(stride), zero + tuple(pad), one + tuple(osizes)


def _geom_args(x_shape, out_shape, ksize, stride, pad):
    d = len(ksize)
    s, k, st, p, o = _geom3(ksize, stride, pad, x_shape[-d:], out_shape[-d:])
    return (*s, *k, *st, *p, *o)


def max_pool(x, out, idx, ksize, stride, pad, cpu, *cpu_args, nan_wins=False):
    """Max pooling over the last ``len(ksize)`` (1-3) dims of ``x`` into ``out`` and int64 ``idx`` (the winner's
    flat position in its input plane, -1 for none); windows start at ``o * stride - pad`` and may hang past the
    end (ceil mode).  Ties go to the first maximum in window order; NaNs never win, unless ``nan_wins`` (Torch7's
    VolumetricMaxPooling: then the first window position starts the max, and any NaN takes it).  numpy: cpu(*args).
    CUDA: one launch."""
    if type(x) is np.ndarray:
        return cpu(*cpu_args)
    o, ix = _Into(out), _Into(idx)
    maxpool_fwd(out.size, _c(x), o.dst, ix.dst, *_geom_args(x.shape, out.shape, ksize, stride, pad), -np.inf,
                int(nan_wins), out.size)
    o.done()
    ix.done()
    return out


def max_pool_backward(g, idx, gi, ksize, stride, pad, cpu, *cpu_args):
    """``gi`` = gradOutput ``g`` sent back to each window's winner ``idx`` (as max_pool left it), zero elsewhere.
    numpy: cpu(*args).  CUDA: one launch (a gather: no zero fill, no atomics)."""
    if type(gi) is np.ndarray:
        return cpu(*cpu_args)
    r = _Into(gi)
    maxpool_bwd(gi.size, _c(g), _c(idx), r.dst, *_geom_args(gi.shape, g.shape, ksize, stride, pad), gi.size)
    r.done()
    return gi


_DIVMODES = {None: 0, 'padded': 1, 'input': 2}


def avg_pool(x, out, ksize, stride, pad, count, mul, cpu, *cpu_args):
    """Average pooling over the last ``len(ksize)`` dims: ``out`` = window sum / divisor * ``mul``, the divisor
    THNN's window size, clipped to the padded input (``count`` 'padded': count_include_pad) or to the input
    ('input'); no division for ``count`` None.  numpy: cpu(*args).  CUDA: one launch."""
    if type(x) is np.ndarray:
        return cpu(*cpu_args)
    o = _Into(out)
    avgpool_fwd(out.size, _c(x), o.dst, *_geom_args(x.shape, out.shape, ksize, stride, pad), _DIVMODES[count],
                mul, out.size)
    o.done()
    return out


def avg_pool_backward(g, gi, ksize, stride, pad, count, mul, cpu, *cpu_args):
    """The adjoint of avg_pool into ``gi``.  numpy: cpu(*args).  CUDA: one launch (a gather)."""
    if type(gi) is np.ndarray:
        return cpu(*cpu_args)
    r = _Into(gi)
    avgpool_bwd(gi.size, _c(g), r.dst, *_geom_args(gi.shape, g.shape, ksize, stride, pad), _DIVMODES[count],
                mul, gi.size)
    r.done()
    return gi


_NEG_FLT_MAX = -float(np.finfo(np.float32).max)


def adaptive_max_pool(x, out, idx, cpu, *cpu_args):
    """Adaptive max pooling over the last 2 dims (THNN's windows; values <= -FLT_MAX never win: index -1).
    numpy: cpu(*args).  CUDA: one launch."""
    if type(x) is np.ndarray:
        return cpu(*cpu_args)
    o, ix = _Into(out), _Into(idx)
    H, W = x.shape[-2:]
    OH, OW = out.shape[-2:]
    adaptive_max_fwd(out.size, _c(x), o.dst, ix.dst, H, W, OH, OW, _NEG_FLT_MAX, out.size)
    o.done()
    ix.done()
    return out


def adaptive_max_pool_backward(g, idx, gi, cpu, *cpu_args):
    if type(gi) is np.ndarray:
        return cpu(*cpu_args)
    return _planes(adaptive_max_bwd, gi, (g, idx), gi.shape, g.shape)


def adaptive_avg_pool(x, out, cpu, *cpu_args):
    """Adaptive average pooling over the last 2 dims (window sum / its width / its height).  CUDA: one launch."""
    if type(x) is np.ndarray:
        return cpu(*cpu_args)
    return _planes(adaptive_avg_fwd, out, (x,), x.shape, out.shape)


def adaptive_avg_pool_backward(g, gi, cpu, *cpu_args):
    if type(gi) is np.ndarray:
        return cpu(*cpu_args)
    return _planes(adaptive_avg_bwd, gi, (g,), gi.shape, g.shape)


PAD_MODES = {'zero': 0, 'reflect': 1, 'replicate': 2}


def pad2d(x, out, pad_t, pad_l, mode, cpu, *cpu_args):
    """``out`` (..., OH, OW) = ``x`` (..., H, W) padded (``mode`` 'zero', 'reflect' or 'replicate') by pad_t rows on
    top and pad_l columns on the left (the rest at the bottom/right; negative: cropped).  CUDA: one launch."""
    if type(x) is np.ndarray:
        return cpu(*cpu_args)
    return _planes(pad_fwd, out, (x,), x.shape, out.shape, pad_t, pad_l, PAD_MODES[mode])


def pad2d_backward(g, gi, pad_t, pad_l, mode, cpu, *cpu_args):
    """The adjoint of pad2d into ``gi``.  CUDA: one launch (a gather)."""
    if type(gi) is np.ndarray:
        return cpu(*cpu_args)
    return _planes(pad_bwd, gi, (g,), gi.shape, g.shape, pad_t, pad_l, PAD_MODES[mode])


def upsample_bilinear(x, out, plan, cpu, *cpu_args):
    """``out`` = ``x`` interpolated along H then W with ``plan`` = (hi0, hi1, hl0, hl1, wi0, wi1, wl0, wl1) (source
    indices and weights per output row / column, on the device).  CUDA: one launch."""
    if type(x) is np.ndarray:
        return cpu(*cpu_args)
    return _planes(bilinear_fwd, out, (x,), x.shape, out.shape, mid=plan)


def upsample_bilinear_backward(g, gi, plan, ranges, cpu, *cpu_args):
    """The adjoint of upsample_bilinear into ``gi``; ``ranges`` = (hs, he, ws, we) from bilinear_ranges (on the
    device).  CUDA: one launch (a gather)."""
    if type(gi) is np.ndarray:
        return cpu(*cpu_args)
    return _planes(bilinear_bwd, gi, (g,), gi.shape, g.shape, mid=(*plan, *ranges))


def cross_map_lrn(x, scale, out, size, alpha, beta, k, cpu, *cpu_args):
    """``scale`` = k + alpha/size * (sum of x^2 over planes [c - (size-1)//2, c + size//2]), ``out`` = x *
    scale^-beta, for ``x`` (N, C, H, W).  CUDA: one launch."""
    if type(x) is np.ndarray:
        return cpu(*cpu_args)
    s, o = _Into(scale), _Into(out)
    C, HW = x.shape[1], x.shape[2] * x.shape[3]
    pre = (size - 1) // 2
    lrn_fwd(out.size, _c(x), s.dst, o.dst, C, HW, pre, size - 1 - pre, alpha / size, k, -beta, out.size)
    s.done()
    o.done()
    return out


def cross_map_lrn_backward(x, g, y, scale, gi, size, alpha, beta, cpu, *cpu_args):
    """The gradient of cross_map_lrn (given its output ``y`` and ``scale``) into ``gi``.  CUDA: one launch."""
    if type(gi) is np.ndarray:
        return cpu(*cpu_args)
    r = _Into(gi)
    C, HW = x.shape[1], x.shape[2] * x.shape[3]
    pre = (size - 1) // 2
    lrn_bwd(gi.size, _c(x), _c(g), _c(y), _c(scale), r.dst, C, HW, pre, size - 1 - pre,
            2 * alpha * beta / size, -beta, gi.size)
    r.done()
    return gi

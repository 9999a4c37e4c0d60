"""CUDA im2col / col2im: one launch each, for 1, 2 or 3 spatial dims (a 2-D convolution is a 3-D one with depth
1), any stride, padding and dilation, in either column layout of kernels.py ('nfirst': column n*L + o, 'nlast':
column o*N + n).  The numpy twins below each kernel do the same index arithmetic (tests/fakecupy runs them)."""
import numpy as np

from .cuda import Kernel, grid_index

_GEOM = ('int N, int C, int D, int H, int W, int KD, int KH, int KW, int SD, int SH, int SW, '
         'int PD, int PH, int PW, int DD, int DH, int DW, int OD, int OH, int OW, int nlast')


def _im2col_twin(x, cols, N, C, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, DD, DH, DW, OD, OH, OW, nlast, n):
    i = grid_index(n)
    L = OD * OH * OW
    col, row = i % (N * L), i // (N * L)
    n_, o = (col % N, col // N) if nlast else (col // L, col % L)
    ow, oh, od = o % OW, (o // OW) % OH, o // (OW * OH)
    kw, kh, kd, c = row % KW, (row // KW) % KH, (row // (KW * KH)) % KD, row // (KW * KH * KD)
    d = od * SD - PD + kd * DD
    h = oh * SH - PH + kh * DH
    w = ow * SW - PW + kw * DW
    ok = (d >= 0) & (d < D) & (h >= 0) & (h < H) & (w >= 0) & (w < W)
    src = (((n_ * C + c) * D + d) * H + h) * W + w
    cols[i] = np.where(ok, x[np.where(ok, src, 0)], 0)


im2col_kernel = Kernel('lt_im2col', r'''
extern "C" __global__ void lt_im2col(const T* x, T* cols, ''' + _GEOM + r''', long long n) {
    LOOP(i, n) {
        long long L = (long long)OD * OH * OW;
        long long col = i % (N * L), row = i / (N * L);
        long long n_, o;
        if (nlast) { n_ = col % N; o = col / N; } else { n_ = col / L; o = col % L; }
        int ow = o % OW, oh = (o / OW) % OH, od = o / ((long long)OW * OH);
        int kw = row % KW, kh = (row / KW) % KH, kd = (row / (KW * KH)) % KD, c = row / (KW * KH * KD);
        int d = od * SD - PD + kd * DD, h = oh * SH - PH + kh * DH, w = ow * SW - PW + kw * DW;
        T v = 0;
        if (d >= 0 && d < D && h >= 0 && h < H && w >= 0 && w < W)
            v = x[(((n_ * C + c) * D + d) * (long long)H + h) * W + w];
        cols[i] = v;
    }
}
''', _im2col_twin)


def _col2im_twin(cols, x, N, C, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, DD, DH, DW, OD, OH, OW, nlast, n):
    i = grid_index(n)
    L = OD * OH * OW
    w, h, d = i % W, (i // W) % H, (i // (W * H)) % D
    c, n_ = (i // (W * H * D)) % C, i // (W * H * D * C)
    acc = np.zeros(i.shape, dtype=x.dtype)
    for kd in range(KD):
        for kh in range(KH):
            for kw in range(KW):
                td, th, tw = d + PD - kd * DD, h + PH - kh * DH, w + PW - kw * DW
                ok = (td >= 0) & (th >= 0) & (tw >= 0) & (td % SD == 0) & (th % SH == 0) & (tw % SW == 0)
                od, oh, ow = td // SD, th // SH, tw // SW
                ok &= (od < OD) & (oh < OH) & (ow < OW)
                o = (od * OH + oh) * OW + ow
                col = o * N + n_ if nlast else n_ * L + o
                row = ((c * KD + kd) * KH + kh) * KW + kw
                acc += np.where(ok, cols[np.where(ok, row * (N * L) + col, 0)], 0)
    x[i] = acc


col2im_kernel = Kernel('lt_col2im', r'''
extern "C" __global__ void lt_col2im(const T* cols, T* x, ''' + _GEOM + r''', long long n) {
    LOOP(i, n) {
        long long L = (long long)OD * OH * OW;
        int w = i % W, h = (i / W) % H, d = (i / ((long long)W * H)) % D;
        int c = (i / ((long long)W * H * D)) % C;
        long long n_ = i / ((long long)W * H * D * C);
        T acc = 0;
        for (int kd = 0; kd < KD; kd++) {
            int td = d + PD - kd * DD;
            if (td < 0 || td % SD) continue;
            int od = td / SD;
            if (od >= OD) continue;
            for (int kh = 0; kh < KH; kh++) {
                int th = h + PH - kh * DH;
                if (th < 0 || th % SH) continue;
                int oh = th / SH;
                if (oh >= OH) continue;
                for (int kw = 0; kw < KW; kw++) {
                    int tw = w + PW - kw * DW;
                    if (tw < 0 || tw % SW) continue;
                    int ow = tw / SW;
                    if (ow >= OW) continue;
                    long long o = ((long long)od * OH + oh) * OW + ow;
                    long long col = nlast ? o * N + n_ : n_ * L + o;
                    long long row = (((long long)c * KD + kd) * KH + kh) * KW + kw;
                    acc += cols[row * (N * L) + col];
                }
            }
        }
        x[i] = acc;
    }
}
''', _col2im_twin)


def _geom3(shape, ksize, stride, pad, dilation, osize):
    """The kernels' 3-D geometry (depth first) from 1, 2 or 3 spatial dims (missing outer dims have size 1)."""
    lead = 3 - len(ksize)
    one = (1,) * lead
    zero = (0,) * lead
    return (one + tuple(shape), one + tuple(ksize), one + tuple(stride), zero + tuple(pad), one + tuple(dilation),
            one + tuple(osize))


def im2col(x, cols, ksize, stride, pad, dilation, osize, nlast):
    """``cols`` (C*K, N*L), C-contiguous, from ``x`` (N, C, *S) (made C-contiguous first when it is not)."""
    n, c = x.shape[:2]
    if not x.flags.c_contiguous:
        x = x.copy()
    s, k, st, p, d, o = _geom3(x.shape[2:], ksize, stride, pad, dilation, osize)
    im2col_kernel(cols.size, x, cols, n, c, *s, *k, *st, *p, *d, *o, int(nlast), cols.size)
    return cols


def col2im(cols, out, ksize, stride, pad, dilation, osize, nlast):
    """``out`` (N, C, *S), C-contiguous, = the adjoint of im2col applied to ``cols`` (C*K, N*L)."""
    n, c = out.shape[:2]
    s, k, st, p, d, o = _geom3(out.shape[2:], ksize, stride, pad, dilation, osize)
    col2im_kernel(out.size, cols, out, n, c, *s, *k, *st, *p, *d, *o, int(nlast), out.size)
    return out


def _fold_frames_twin(cols, out, T, C, To, KW, DW, n):
    i = grid_index(n)
    c, t, n_ = i % C, (i // C) % T, i // (C * T)
    acc = np.zeros(i.shape, dtype=out.dtype)
    for k in range(KW):
        to = (t - k) // DW
        ok = (t - k >= 0) & ((t - k) % DW == 0) & (to < To)
        acc += np.where(ok, cols[np.where(ok, (n_ * To + to) * (KW * C) + k * C + c, 0)], 0)
    out[i] = acc


fold_frames_kernel = Kernel('lt_fold_frames', r'''
extern "C" __global__ void lt_fold_frames(const T* cols, T* out, int T_, int C, int To, int KW, int DW, long long n) {
    LOOP(i, n) {
        int c = i % C, t = (i / C) % T_;
        long long n_ = i / ((long long)C * T_);
        T acc = 0;
        for (int k = 0; k < KW; k++) {
            int s = t - k;
            if (s < 0 || s % DW) continue;
            int to = s / DW;
            if (to >= To) continue;
            acc += cols[(n_ * To + to) * ((long long)KW * C) + (long long)k * C + c];
        }
        out[i] = acc;
    }
}
''', _fold_frames_twin)


def fold_frames(cols, out, kw, dw):
    """``out`` (N, T, C), C-contiguous, = window rows ``cols`` (N, To, kw*C) added back: one launch."""
    n, t, c = out.shape
    if not cols.flags.c_contiguous:
        cols = cols.copy()
    fold_frames_kernel(out.size, cols, out, t, c, cols.shape[1], kw, dw, out.size)
    return out

"""CUDA kernels for parameter updates: ``p += a * g`` (updateParameters) and Torch7's whole sgd step (weight decay,
momentum, Nesterov, learning-rate decay, update) as one launch over a flat parameter vector.  The sgd kernel reads
the evaluation counter from device memory, so a captured step (backend/capture.py) decays its learning rate
replay after replay as the eager loop does.  Numpy twins beside each kernel."""
import numpy as np

from .cuda import Kernel, grid_index


def _axpy_twin(p, g, a, n):
    i = grid_index(n)
    p[i] = p[i] + a * g[i]


axpy_kernel = Kernel('lt_axpy', r'''
extern "C" __global__ void lt_axpy(T* p, const T* g, T a, long long n) {
    LOOP(i, n) { p[i] += a * g[i]; }
}
''', _axpy_twin)


def _sgd_twin(x, dfdx, buf, counter, lr, lrd, wd, mom, damp, nesterov, first, n):
    i = grid_index(n)
    clr = lr / (1 + counter[0] * lrd)
    g = dfdx[i] + wd * x[i] if wd != 0 else dfdx[i]
    if mom != 0:
        b = g if first else mom * buf[i] + (1 - damp) * g
        buf[i] = b
        if nesterov:
            g = g + mom * b
        else:
            g = b
    if wd != 0 or (mom != 0 and nesterov):
        dfdx[i] = g if nesterov else (dfdx[i] + wd * x[i])
    x[i] = x[i] - clr * g


sgd_kernel = Kernel('lt_sgd', r'''
extern "C" __global__ void lt_sgd(T* x, T* dfdx, T* buf, const long long* counter, T lr, T lrd, T wd, T mom,
                                  T damp, int nesterov, int first, long long n) {
    T clr = lr / (1 + (T)counter[0] * lrd);
    LOOP(i, n) {
        T d = dfdx[i];
        T g = wd != 0 ? d + wd * x[i] : d;
        if (mom != 0) {
            T b = first ? g : mom * buf[i] + (1 - damp) * g;
            buf[i] = b;
            g = nesterov ? g + mom * b : b;
        }
        if (wd != 0 || (mom != 0 && nesterov)) dfdx[i] = nesterov ? g : d + wd * x[i];
        x[i] -= clr * g;
    }
}
''', _sgd_twin)


def _count_twin(counter, n):
    counter[0] = counter[0] + 1


count_kernel = Kernel('lt_count', r'''
extern "C" __global__ void lt_count(long long* counter, long long n) {
    if (blockIdx.x == 0 && threadIdx.x == 0) counter[0] += 1;
}
''', _count_twin)


def axpy(p, g, a):
    """``p += a * g`` (same shape, C-contiguous) in one launch."""
    axpy_kernel(p.size, p, g, a, p.size)


def sgd(x, dfdx, buf, counter, lr, lrd, wd, mom, damp, nesterov, first):
    """Torch7's sgd update of flat ``x`` in one launch, then the device evaluation counter += 1 (a second)."""
    sgd_kernel(x.size, x, dfdx, buf, counter, lr, lrd, wd, mom, damp, int(bool(nesterov)), int(bool(first)), x.size)
    count_kernel.launch(1, 1, counter, 1, dtype=np.float32)

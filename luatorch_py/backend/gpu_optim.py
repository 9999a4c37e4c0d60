"""CUDA kernels for parameter updates: ``p += a * g`` (updateParameters) and Torch7's whole sgd step (weight decay,
momentum, Nesterov, learning-rate decay, update) as one launch over a flat parameter vector.  The sgd kernel reads
the evaluation counter from device memory, so a captured step (backend/capture.py) decays its learning rate
replay after replay as the eager loop does.  Below them, the same for adam, adamax, adagrad, adadelta, rmsprop, nag
(one kernel before opfunc, one after), asgd and rprop.  Numpy twins beside each kernel."""
import math

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


def _sgd_twin(x, dfdx, buf, counter, lr, lrd, wd, mom, cdamp, nesterov, first, n):
    i = grid_index(n)
    clr = x.dtype.type(float(lr) / (1 + int(counter[0]) * float(lrd)))
    g = dfdx[i] + wd * x[i] if wd != 0 else dfdx[i]
    if mom != 0:
        b = g if first else mom * buf[i] + cdamp * g
        buf[i] = b
        if nesterov:
            g = g + mom * b
        else:
            g = b
    if wd != 0 or (mom != 0 and nesterov):
        dfdx[i] = g if nesterov else (dfdx[i] + wd * x[i])
    x[i] = x[i] - clr * g


sgd_kernel = Kernel('lt_sgd', r'''
extern "C" __global__ void lt_sgd(T* x, T* dfdx, T* buf, const long long* counter, double lr, double lrd, T wd,
                                  T mom, T cdamp, int nesterov, int first, long long n) {
    T clr = (T)(lr / (1 + (double)counter[0] * lrd));    /* in double, as optim.sgd's Python code computes it */
    LOOP(i, n) {
        T d = dfdx[i];
        T g = wd != 0 ? d + wd * x[i] : d;
        if (mom != 0) {
            T b = first ? g : mom * buf[i] + cdamp * g;
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
    # (1 - damp in double, then rounded to T: the CPU's and Torch7's add(1 - damp, dfdx); 1 - T(damp) is an ulp off)
    sgd_kernel(x.size, x, dfdx, buf, counter, lr, lrd, wd, mom, 1 - damp, int(bool(nesterov)), int(bool(first)),
               x.size)
    count(counter)


# -- the other optim algorithms, each update one launch (+ the count kernel where a counter is read) ------------
# Each kernel does Torch7's whole update of a flat parameter vector: weight decay into the gradient (in place, as
# Torch7's dfdx:add(wd, x)), every state buffer Torch7 keeps (scratch ones too, so the state matches the CPU's),
# and the step.  Scalars that do not change from step to step come as T, computed on the host in double as the
# eager code computes them; the step-dependent ones (learning-rate decay, bias corrections, ASGD's rates) are
# computed in double on the device from the int64 counter, once per block (pow is costly), so that a captured
# step replays them.  Each kernel's operations follow the eager code's order (tensor_math: add(v, t) is
# base + t * v, addcmul/addcdiv(v, a, b) base + (a op b) * v), so CPU, twin and GPU agree to rounding.

def _adam_step(t, lr, lrd, beta1, beta2):
    """optim.adam's step size after t steps (t: the counter before this one), as its Python code computes it."""
    clr = lr / (1 + t * lrd)
    t += 1
    return clr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)


def _adam_twin(x, dfdx, m, v, denom, counter, lr, lrd, beta1, beta2, b1, cb1, b2, cb2, eps, wd, n):
    i = grid_index(n)
    step = x.dtype.type(-_adam_step(int(counter[0]), float(lr), float(lrd), float(beta1), float(beta2)))
    g = dfdx[i]
    if wd != 0:
        g = g + x[i] * wd
        dfdx[i] = g
    mi = m[i] * b1 + g * cb1
    vi = v[i] * b2 + (g * g) * cb2
    d = np.sqrt(vi) + eps
    m[i], v[i], denom[i] = mi, vi, d
    x[i] = x[i] + (mi / d) * step


adam_kernel = Kernel('lt_adam', r'''
extern "C" __global__ void lt_adam(T* x, T* dfdx, T* m, T* v, T* denom, const long long* counter, double lr,
                                   double lrd, double beta1, double beta2, T b1, T cb1, T b2, T cb2, T eps, T wd,
                                   long long n) {
    __shared__ T s_step;
    if (threadIdx.x == 0) {
        double t = (double)counter[0];
        double clr = lr / (1 + t * lrd);
        s_step = (T)(-(clr * sqrt(1 - pow(beta2, t + 1)) / (1 - pow(beta1, t + 1))));
    }
    __syncthreads();
    T step = s_step;
    LOOP(i, n) {
        T g = dfdx[i];
        if (wd != 0) { g = g + x[i] * wd; dfdx[i] = g; }
        T mi = m[i] * b1 + g * cb1;
        T vi = v[i] * b2 + (g * g) * cb2;
        T d = sqrt(vi) + eps;
        m[i] = mi; v[i] = vi; denom[i] = d;
        x[i] = x[i] + (mi / d) * step;
    }
}
''', _adam_twin)


def _adamax_twin(x, dfdx, m, u, mx, counter, lr, beta1, b1, cb1, b2, eps, wd, n):
    i = grid_index(n)
    step = x.dtype.type(-(float(lr) / (1 - float(beta1) ** (int(counter[0]) + 1))))
    g = dfdx[i]
    if wd != 0:
        g = g + x[i] * wd
        dfdx[i] = g
    mi = m[i] * b1 + g * cb1
    m0 = u[i] * b2
    m1 = np.abs(g) + eps
    ui = np.maximum(m0, m1)
    mx[i], mx[n + i] = m0, m1
    m[i], u[i] = mi, ui
    x[i] = x[i] + (mi / ui) * step


adamax_kernel = Kernel('lt_adamax', r'''
extern "C" __global__ void lt_adamax(T* x, T* dfdx, T* m, T* u, T* mx, const long long* counter, double lr,
                                     double beta1, T b1, T cb1, T b2, T eps, T wd, long long n) {
    __shared__ T s_step;
    if (threadIdx.x == 0) s_step = (T)(-(lr / (1 - pow(beta1, (double)counter[0] + 1))));
    __syncthreads();
    T step = s_step;
    LOOP(i, n) {
        T g = dfdx[i];
        if (wd != 0) { g = g + x[i] * wd; dfdx[i] = g; }
        T mi = m[i] * b1 + g * cb1;
        T m0 = u[i] * b2;
        T m1 = fabs(g) + eps;
        T ui = (m0 != m0 || m0 > m1) ? m0 : m1;          /* numpy's maximum: nan if either is */
        mx[i] = m0; mx[n + i] = m1;
        m[i] = mi; u[i] = ui;
        x[i] = x[i] + (mi / ui) * step;
    }
}
''', _adamax_twin)


def _adagrad_twin(x, dfdx, var, std, counter, lr, lrd, wd, n):
    i = grid_index(n)
    nclr = x.dtype.type(-(float(lr) / (1 + int(counter[0]) * float(lrd))))
    g = dfdx[i]
    if wd != 0:
        g = g + x[i] * wd
        dfdx[i] = g
    vi = var[i] + g * g
    s = np.sqrt(vi) + x.dtype.type(1e-10)
    var[i], std[i] = vi, s
    x[i] = x[i] + (g / s) * nclr


adagrad_kernel = Kernel('lt_adagrad', r'''
extern "C" __global__ void lt_adagrad(T* x, T* dfdx, T* var, T* pstd, const long long* counter, double lr,
                                      double lrd, T wd, long long n) {
    T nclr = (T)(-(lr / (1 + (double)counter[0] * lrd)));
    LOOP(i, n) {
        T g = dfdx[i];
        if (wd != 0) { g = g + x[i] * wd; dfdx[i] = g; }
        T vi = var[i] + g * g;
        T s = sqrt(vi) + (T)1e-10;
        var[i] = vi; pstd[i] = s;
        x[i] = x[i] + (g / s) * nclr;
    }
}
''', _adagrad_twin)


def _adadelta_twin(x, dfdx, var, std, delta, acc, rho, crho, eps, wd, n):
    i = grid_index(n)
    g = dfdx[i]
    if wd != 0:
        g = g + x[i] * wd
        dfdx[i] = g
    vi = var[i] * rho + (g * g) * crho
    s = np.sqrt(vi + eps)
    d = (np.sqrt(acc[i] + eps) / s) * g
    var[i], std[i], delta[i] = vi, s, d
    x[i] = x[i] - d
    acc[i] = acc[i] * rho + (d * d) * crho


adadelta_kernel = Kernel('lt_adadelta', r'''
extern "C" __global__ void lt_adadelta(T* x, T* dfdx, T* var, T* pstd, T* delta, T* acc, T rho, T crho, T eps, T wd,
                                       long long n) {
    LOOP(i, n) {
        T g = dfdx[i];
        if (wd != 0) { g = g + x[i] * wd; dfdx[i] = g; }
        T vi = var[i] * rho + (g * g) * crho;
        T s = sqrt(vi + eps);
        T d = (sqrt(acc[i] + eps) / s) * g;
        var[i] = vi; pstd[i] = s; delta[i] = d;
        x[i] = x[i] - d;
        acc[i] = acc[i] * rho + (d * d) * crho;
    }
}
''', _adadelta_twin)


def _rmsprop_twin(x, dfdx, m, tmp, alpha, calpha, eps, nlr, wd, n):
    i = grid_index(n)
    g = dfdx[i]
    if wd != 0:
        g = g + x[i] * wd
        dfdx[i] = g
    mi = m[i] * alpha + (g * g) * calpha
    t = np.sqrt(mi) + eps
    m[i], tmp[i] = mi, t
    x[i] = x[i] + (g / t) * nlr


rmsprop_kernel = Kernel('lt_rmsprop', r'''
extern "C" __global__ void lt_rmsprop(T* x, T* dfdx, T* m, T* tmp, T alpha, T calpha, T eps, T nlr, T wd,
                                      long long n) {
    LOOP(i, n) {
        T g = dfdx[i];
        if (wd != 0) { g = g + x[i] * wd; dfdx[i] = g; }
        T mi = m[i] * alpha + (g * g) * calpha;
        T t = sqrt(mi) + eps;
        m[i] = mi; tmp[i] = t;
        x[i] = x[i] + (g / t) * nlr;
    }
}
''', _rmsprop_twin)


def _nag_pre_twin(x, xc, vel, counter, mom, has_vel, n):
    i = grid_index(n)
    counter[0] = counter[0] + 1
    xc[i] = x[i]
    if has_vel:
        x[i] = x[i] + vel[i] * mom


nag_pre_kernel = Kernel('lt_nag_pre', r'''
extern "C" __global__ void lt_nag_pre(T* x, T* xc, const T* vel, long long* counter, T mom, int has_vel,
                                      long long n) {
    if (blockIdx.x == 0 && threadIdx.x == 0) counter[0] += 1;     /* nothing in this kernel reads it */
    LOOP(i, n) {
        T xi = x[i];
        xc[i] = xi;
        if (has_vel) x[i] = xi + vel[i] * mom;
    }
}
''', _nag_pre_twin)


def _nag_twin(x, xc, dfdx, vel, counter, lr, lrd, wd, mom, first, n):
    i = grid_index(n)
    nclr = x.dtype.type(-(float(lr) / (1 + (int(counter[0]) - 1) * float(lrd))))
    g = dfdx[i]
    if wd != 0:
        g = g + x[i] * wd
        dfdx[i] = g
    v = (np.zeros_like(g) if first else vel[i] * mom) + g * nclr
    vel[i] = v
    c = xc[i] + v
    xc[i] = c
    x[i] = c


nag_kernel = Kernel('lt_nag', r'''
extern "C" __global__ void lt_nag(T* x, T* xc, T* dfdx, T* vel, const long long* counter, double lr, double lrd,
                                  T wd, T mom, int first, long long n) {
    T nclr = (T)(-(lr / (1 + (double)(counter[0] - 1) * lrd)));  /* lt_nag_pre counted this step already */
    LOOP(i, n) {
        T g = dfdx[i];
        if (wd != 0) { g = g + x[i] * wd; dfdx[i] = g; }
        T v = (first ? (T)0 : vel[i] * mom) + g * nclr;
        vel[i] = v;
        T c = xc[i] + v;
        xc[i] = c;
        x[i] = c;
    }
}
''', _nag_twin)


def asgd_rates(t, eta0, lam, alpha, t0):
    """optim.asgd's (eta_t, mu_t) after t steps, as its Python code computes them."""
    return eta0 / (1 + lam * eta0 * t) ** alpha, 1 / max(1, t - t0)


def _asgd_twin(x, dfdx, ax, tmp, counter, eta0, lam, alpha, t0, n):
    i = grid_index(n)
    T = x.dtype.type
    eta, mu = asgd_rates(int(counter[0]), float(eta0), float(lam), float(alpha), float(t0))
    xi = x[i] * T(1 - float(lam) * eta)
    xi = xi + dfdx[i] * T(-eta)
    x[i] = xi
    if mu != 1:
        d = (xi - ax[i]) * T(mu)
        tmp[i] = d
        ax[i] = ax[i] + d
    else:
        ax[i] = xi


asgd_kernel = Kernel('lt_asgd', r'''
extern "C" __global__ void lt_asgd(T* x, const T* dfdx, T* ax, T* tmp, const long long* counter, double eta0,
                                   double lam, double alpha, double t0, long long n) {
    __shared__ T s_decay, s_neta, s_mu;
    __shared__ int s_avg;
    if (threadIdx.x == 0) {
        double t = (double)counter[0];
        double eta = eta0 / pow(1 + lam * eta0 * t, alpha);
        double over = t - t0;
        double mu = 1 / (over > 1 ? over : 1.0);             /* Python's max(1, t - t0) */
        s_decay = (T)(1 - lam * eta); s_neta = (T)(-eta); s_mu = (T)mu; s_avg = mu != 1;
    }
    __syncthreads();
    T decay = s_decay, neta = s_neta, mu = s_mu;
    int avg = s_avg;
    LOOP(i, n) {
        T xi = x[i] * decay;
        xi = xi + dfdx[i] * neta;
        x[i] = xi;
        if (avg) { T d = (xi - ax[i]) * mu; tmp[i] = d; ax[i] = ax[i] + d; }
        else ax[i] = xi;
    }
}
''', _asgd_twin)


def _rprop_twin(x, dfdx, delta, step, sign, psign, nsign, zsign, dminmax, etaplus, etaminus, smax, smin, n):
    i = grid_index(n)
    T = x.dtype.type
    g = dfdx[i]
    s = np.sign(g * delta[i])
    p, ng, z = s > 0, s < 0, s == 0
    psign[i], nsign[i], zsign[i] = p, ng, z
    s = np.where(p, etaplus, np.where(ng, etaminus, np.where(z, T(1), s)))
    st = step[i] * s
    st = np.where(st > smax, smax, st)
    lo = st < smin
    st = np.where(lo, smin, st)
    dminmax[i] = lo
    step[i] = st
    g = np.where(ng, T(0), g)
    dfdx[i] = g
    sg = np.sign(g)
    sign[i] = sg
    x[i] = x[i] + (sg * st) * T(-1)
    delta[i] = g


rprop_kernel = Kernel('lt_rprop', r'''
__device__ __forceinline__ T lt_sgn(T v) { return v > 0 ? (T)1 : (v < 0 ? (T)-1 : (v == 0 ? (T)0 : v)); }

extern "C" __global__ void lt_rprop(T* x, T* dfdx, T* delta, T* step, T* sign, unsigned char* psign,
                                    unsigned char* nsign, unsigned char* zsign, unsigned char* dminmax, T etaplus,
                                    T etaminus, T smax, T smin, long long n) {
    LOOP(i, n) {
        T g = dfdx[i];
        T s = lt_sgn(g * delta[i]);                          /* nan stays nan: no mask, the step becomes nan */
        bool p = s > 0, ng = s < 0, z = s == 0;
        psign[i] = p; nsign[i] = ng; zsign[i] = z;
        if (p) s = etaplus;
        if (ng) s = etaminus;
        if (z) s = (T)1;
        T st = step[i] * s;
        if (st > smax) st = smax;
        bool lo = st < smin;
        if (lo) st = smin;
        dminmax[i] = lo;
        step[i] = st;
        if (ng) g = (T)0;
        dfdx[i] = g;
        T sg = lt_sgn(g);
        sign[i] = sg;
        x[i] = x[i] + (sg * st) * (T)-1;
        delta[i] = g;
    }
}
''', _rprop_twin)


def count(counter):
    """The device counter += 1 (one tiny launch)."""
    count_kernel.launch(1, 1, counter, 1, dtype=np.float32)


def adam(x, dfdx, m, v, denom, counter, lr, lrd, beta1, beta2, eps, wd):
    """optim.adam's update in one launch, then the device step counter (state.t) += 1 (a second)."""
    adam_kernel(x.size, x, dfdx, m, v, denom, counter, lr, lrd, beta1, beta2, beta1, 1 - beta1, beta2, 1 - beta2,
                eps, wd, x.size)
    count(counter)


def adamax(x, dfdx, m, u, mx, counter, lr, beta1, beta2, eps, wd):
    """optim.adamax's update in one launch (mx: state.max, 2 x size), then state.t's device copy += 1."""
    adamax_kernel(x.size, x, dfdx, m, u, mx, counter, lr, beta1, beta1, 1 - beta1, beta2, eps, wd, x.size)
    count(counter)


def adagrad(x, dfdx, var, std, counter, lr, lrd, wd):
    """optim.adagrad's update in one launch; the evaluation counter's device copy += 1 (a second launch) only
    with a learning-rate decay (without, the counter is not read: the caller leaves it)."""
    adagrad_kernel(x.size, x, dfdx, var, std, counter, lr, lrd, wd, x.size)
    if lrd != 0:
        count(counter)


def adadelta(x, dfdx, var, std, delta, acc, rho, eps, wd):
    """optim.adadelta's update in one launch (no counter is read)."""
    adadelta_kernel(x.size, x, dfdx, var, std, delta, acc, rho, 1 - rho, eps, wd, x.size)


def rmsprop(x, dfdx, m, tmp, lr, alpha, eps, wd):
    """optim.rmsprop's update in one launch."""
    rmsprop_kernel(x.size, x, dfdx, m, tmp, alpha, 1.0 - alpha, eps, -lr, wd, x.size)


def nag_pre(x, xc, vel, counter, mom):
    """optim.nag before opfunc: x_copy = x; x += mom * velocity (vel None: the first step, x stays); the
    evaluation counter's device copy += 1 in the same launch (lt_nag reads it less one)."""
    nag_pre_kernel(x.size, x, xc, x if vel is None else vel, counter, mom, int(vel is not None), x.size)


def nag(x, xc, dfdx, vel, counter, lr, lrd, wd, mom, first):
    """optim.nag after opfunc, one launch: weight decay, velocity = mom * velocity - clr * g (first: -clr * g),
    x_copy += velocity, x = x_copy."""
    nag_kernel(x.size, x, xc, dfdx, vel, counter, lr, lrd, wd, mom, int(bool(first)), x.size)


def asgd(x, dfdx, ax, tmp, counter, eta0, lam, alpha, t0):
    """optim.asgd's update in one launch (eta_t and mu_t from the device step counter), then the counter += 1."""
    asgd_kernel(x.size, x, dfdx, ax, tmp, counter, eta0, lam, alpha, t0, x.size)
    count(counter)


def rprop(x, dfdx, delta, step, sign, psign, nsign, zsign, dminmax, etaplus, etaminus, smax, smin):
    """One RPROP iteration in one launch (the masks: uint8 arrays of x's shape)."""
    rprop_kernel(x.size, x, dfdx, delta, step, sign, psign, nsign, zsign, dminmax, etaplus, etaminus, smax, smin,
                 x.size)

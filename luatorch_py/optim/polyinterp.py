"""Torch7's optim.polyinterp: minimum of the polynomial interpolating function and derivative values."""
import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from ._util import lua_div, lua_sqrt


def _points_array(points):
    if isinstance(points, Tensor):
        a = backend.to_numpy(points._a)
    else:
        a = np.asarray(points)
    a = np.array(a, dtype=np.float64).reshape(-1, 3) if a.size else np.zeros((0, 3))
    if a.shape[0] < 1:
        raise ValueError("optim.polyinterp: expected N x 3 points (x, f(x), f'(x)), got none")
    return a


def _roots(c):
    """Roots of the polynomial with coefficients c (highest power first) as complex numbers, as Torch7's local
    roots(): tiny coefficients zeroed, leading zeros dropped, trailing zeros giving zero roots, then the
    companion matrix's eigenvalues."""
    c = np.array(c, dtype=np.float64)
    c[np.abs(c) < 1e-12] = 0
    nz_idx = np.flatnonzero(c)
    if nz_idx.size == 0:
        return np.zeros(0, complex)      # Torch7 returns the number 0 here (then fails in cat): no roots
    c = c[nz_idx[0]:]
    ntrail = 0
    for v in c[::-1]:
        if v != 0:
            break
        ntrail += 1
    c = c[:c.size - ntrail]
    n = c.size - 1
    if n == 1:
        r = np.array([-c[1] / c[0]], complex)
    elif n > 1:
        a = np.diag(np.ones(n - 1), -1)
        a[0] = -c[1:n + 1] / c[0]
        r = np.linalg.eigvals(a).astype(complex)
    else:
        r = np.zeros(0, complex)
    return np.concatenate([r, np.zeros(ntrail, complex)])


def _polyval(p, x):
    val = 0.0
    pwr = len(p)
    for pc in p:
        pwr -= 1
        val = val + pc * x ** pwr
    return val


def polyinterp(points, xminBound=None, xmaxBound=None):
    """The position of the minimum of the polynomial interpolating ``points`` (N rows of x, f(x), f'(x); a
    tensor, array or nested list) within [xminBound, xmaxBound] (default: the span of the points' x).

    Two points without bounds use the closed-form cubic step (minFunc's); otherwise the polynomial of order
    2N-1 is fitted by least squares and its critical points, the bounds and the points are compared, as Torch7.
    Returns a Python float (Torch7 also returns f at the minimum in the general case)."""
    pts = _points_array(points)
    n = pts.shape[0]
    order = n * 2 - 1

    if n == 2 and order == 3 and xminBound is None and xmaxBound is None:
        # d1 = g1 + g2 - 3*(f1-f2)/(x1-x2); d2 = sqrt(d1^2 - g1*g2);
        # minPos = x2 - (x2 - x1)*((g2 + d2 - d1)/(g2 - g1 + 2*d2)), kept in [x1, x2] (x1 the smaller x)
        lo = 1 if not (pts[1, 0] >= pts[0, 0]) else 0   # Torch7 min(): first minimum
        hi = 1 - lo
        x1, f1, g1 = (float(v) for v in pts[lo])
        x2, f2, g2 = (float(v) for v in pts[hi])
        d1 = g1 + g2 - 3 * lua_div(f1 - f2, x1 - x2)
        d2 = lua_sqrt(d1 * d1 - g1 * g2)
        if d2 == d2:
            t = x2 - (x2 - x1) * lua_div(g2 + d2 - d1, g2 - g1 + 2 * d2)
            return min(max(t, x1), x2)
        return float(pts[:, 0].mean())

    xs = pts[:, 0]
    xmin, xmax = float(xs.min()), float(xs.max())
    xminBound = xmin if xminBound is None else float(xminBound)
    xmaxBound = xmax if xmaxBound is None else float(xmaxBound)

    # constraints on function values, then on derivatives
    a = np.zeros((n * 2, order + 1))
    b = np.zeros(n * 2)
    for i in range(n):
        xi = pts[i, 0]
        a[i] = [xi ** j for j in range(order, -1, -1)]
        b[i] = pts[i, 1]
        a[n + i, :order] = [(order - k) * xi ** (order - k - 1) for k in range(order)]
        b[n + i] = pts[i, 2]

    # interpolating polynomial (Torch7: torch.gels, a least-squares solve)
    with np.errstate(all='ignore'):
        params = np.linalg.lstsq(a, b, rcond=None)[0][:n * 2].copy()
    params[np.abs(params) <= 1e-12] = 0

    # critical points
    dparams = np.array([params[i] * (order - i) for i in range(order)])
    nans = bool(np.isnan(dparams).any() or (dparams == math.inf).any())
    cps = [complex(xminBound), complex(xmaxBound)] + [complex(v) for v in xs]
    if not nans:
        cps += list(_roots(dparams))

    # test critical points; bisection when none is valid
    fmin = math.inf
    min_pos = (xminBound + xmaxBound) / 2
    for cp in cps:
        r = cp.real
        if cp.imag == 0 and xminBound <= r <= xmaxBound:
            fcp = _polyval(params, r)
            if fcp < fmin:
                min_pos = float(r)
                fmin = fcp
    return min_pos

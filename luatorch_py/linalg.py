"""Torch7's LAPACK functions (doc/maths.md, "Linear Algebra"): gesv, trtrs, potrf, pstrf, potrs, potri, gels, symeig,
eig, svd, inverse, qr, geqrf, orgqr, ormqr.

Each is ``torch.X(inputs..., flags...)`` returning new tensors, or ``torch.X(results..., inputs..., flags...)`` writing
into the given result tensors (Torch7's result-first form); the method ``x:X(...)`` is ``torch.X(x, ...)`` as in Torch7's
wrapper. Several results come back as a tuple (Lua's multiple returns). Flags are Torch7's one-letter strings.

CPU tensors compute with numpy.linalg (the same LAPACK routines where numpy exposes them; LU, pivoted Cholesky and the
Householder products are written here in numpy). CUDA tensors use cupy.linalg for inverse, potrf, symeig, svd and qr;
the rest go to the host and back (cupy has no getrf/trtrs/pstrf/geqrf/orgqr/ormqr/geev).
"""
import numpy as np

from . import backend
from .tensor import Tensor, _sizestr
from .types import TYPES, on_device

_INT = TYPES['torch.IntTensor']


class LinAlgError(ValueError):
    """A LAPACK failure (singular, not positive definite, rank deficient): Torch7 raises a Lua error there."""


# -- argument parsing and results ----------------------------------------------------------------------------------
def _parse(name, args, n_res, n_in, flags, usage, int_res=()):
    """Split ``args`` into (results or Nones, inputs, flags); ``flags`` is a list of (allowed letters, default).
    The results given must have the inputs' type (those at positions ``int_res``: IntTensors), as in Torch7."""
    k = 0
    while k < len(args) and (isinstance(args[k], Tensor) or args[k] is None):
        k += 1
    tensors, strs = list(args[:k]), list(args[k:])
    if len(tensors) == n_in:
        res = [None] * n_res
    elif len(tensors) == n_in + n_res:
        res, tensors = tensors[:n_res], tensors[n_res:]
    else:
        raise TypeError(f"torch.{name}: expected {usage}, got {len(tensors)} tensors")
    if any(t is None for t in tensors):
        raise TypeError(f"torch.{name}: expected {usage}, got None as an input")
    if len(strs) > len(flags) or not all(isinstance(s, str) for s in strs):
        raise TypeError(f"torch.{name}: expected {usage}, got extra arguments {strs!r}")
    out = _flags(name, strs, flags)
    first = tensors[0]
    for t in tensors:
        if t._info.dtype.kind != 'f':
            raise TypeError(f"torch.{name}: expected Float or Double tensors, got a {t._info.name}")
        if t._info is not first._info:
            raise TypeError(f"torch.{name}: inputs must have one type, got {first._info.name} and {t._info.name}")
    for i, r in enumerate(res):     # (written into with numpy's casts, an IntTensor would silently truncate)
        want = on_device(_INT, first._info.cuda) if i in int_res else first._info
        if r is not None and r._info is not want:
            raise TypeError(f"torch.{name}: the result tensor should be a {want.name}, got a {r._info.name}")
    return res, tensors, out


def _flags(name, strs, flags):
    """The flags' letters. As Torch7's wrapper (cwrap), any optional flag may be left out: the first set of flags in
    cwrap's order (flag i is bit i of a counter) whose letters take the strings in turn wins (so trtrs(b, a, 'L', 'U')
    is uplo 'L', diag 'U'); the others keep their defaults. A string's first letter is its flag, as Torch7 reads it."""
    letters = [s[:1].upper() for s in strs]
    for variant in range(2 ** len(flags)):
        given = [i for i in range(len(flags)) if variant >> i & 1]
        if len(given) == len(letters) and all(c and c in flags[i][0] for c, i in zip(letters, given)):
            out = [default for _, default in flags]
            for c, i in zip(letters, given):
                out[i] = c
            return out
    i = next(i for i, c in enumerate(letters) if not (c and c in flags[i][0]))
    raise ValueError(f"torch.{name}: flag {i + 1} must be one of {', '.join(repr(c) for c in flags[i][0])}, "
                     f"got {strs[i]!r}")


def _host(t):
    return backend.to_numpy(t._a)


def _mat(name, t, what, square=False, host=True):
    """t's array after the shape checks: on the host, or where it lives (host=False, for cupy.linalg)."""
    if t.dim() != 2:
        raise ValueError(f"torch.{name}: {what} should be 2-dimensional, got size {_sizestr(t.shape)}")
    if square and t.shape[0] != t.shape[1]:
        raise ValueError(f"torch.{name}: {what} should be square, got size {_sizestr(t.shape)}")
    return _host(t) if host else t._a


def _rhs(name, b, a):
    """B as a matrix (a 1-D B is one column, as TH does); its rows must match A's."""
    if b.dim() not in (1, 2):
        raise ValueError(f"torch.{name}: B should have 1 or 2 dimensions, got size {_sizestr(b.shape)}")
    if b.shape[0] != a.shape[0]:
        raise ValueError(f"torch.{name}: A,B size incompatible - A is {_sizestr(a.shape)}, B is {_sizestr(b.shape)}")
    hb = _host(b)
    return hb.reshape(-1, 1) if hb.ndim == 1 else hb


def _out(like, arr, res=None, info=None):
    """``arr`` (host or device) as a tensor of like's type (or ``info``), or written into ``res`` (resized)."""
    info = info or like._info
    arr = backend.to_device(arr, info.cuda).astype(info.dtype, copy=False)
    if res is not None:
        res.resize(*arr.shape)
        res._a[...] = arr
        return res
    return info.tensor_class._from_array(info.xp.ascontiguousarray(arr))


def _cupy_linalg(t):
    """cupy.linalg for a CUDA tensor when the real CuPy is there; None means compute on the host."""
    if not t._info.cuda:
        return None
    lin = getattr(t._info.xp, 'linalg', None)
    return None if lin is None or lin is np.linalg else lin


def _finite(name, arr, what):
    # cuSOLVER does not raise on singular/indefinite input (cupy's default errstate); its results turn non-finite
    if not bool(backend.array_module(arr).isfinite(arr).all()):
        raise LinAlgError(f"torch.{name}: {what}")
    return arr


def _sym(a, uplo):
    """The symmetric matrix that LAPACK reads from one triangle of a."""
    t = np.triu(a) if uplo == 'U' else np.tril(a)
    return t + np.triu(t, 1).T if uplo == 'U' else t + np.tril(t, -1).T


def _tri_solve(name, t, b, what):
    d = np.diagonal(t)
    bad = np.flatnonzero(d == 0)
    if bad.size:
        raise LinAlgError(f"torch.{name}: {what} ({_sizestr(t.shape)}) is singular: diagonal element {bad[0]} "
                          f"(0-based) is zero")
    return np.linalg.solve(t, b)


# -- LU (getrf) and solve ------------------------------------------------------------------------------------------
def _getrf(name, a):
    """LAPACK's getrf: P A = L U with partial pivoting (first largest |pivot|); L (unit diagonal) and U in one matrix."""
    lu = np.array(a, dtype=a.dtype, copy=True)
    n = lu.shape[0]
    for k in range(n):
        p = k + int(np.argmax(np.abs(lu[k:, k])))
        if lu[p, k] == 0:
            raise LinAlgError(f"torch.{name}: A ({_sizestr(a.shape)}) is singular: U({k},{k}) is zero (0-based)")
        if p != k:
            lu[[k, p]] = lu[[p, k]]
        lu[k + 1:, k] /= lu[k, k]
        lu[k + 1:, k + 1:] -= np.outer(lu[k + 1:, k], lu[k, k + 1:])
    return lu


def gesv(*args):
    """``X, LU = torch.gesv([resb, resa,] B, A)``: solves A X = B (A square); LU holds A's LU factors (getrf)."""
    (rb, ra), (b, a), _ = _parse('gesv', args, 2, 2, [], '([resb, resa,] B, A)')
    ha = _mat('gesv', a, 'A', square=True)
    hb = _rhs('gesv', b, a)
    lu = _getrf('gesv', ha)
    x = np.linalg.solve(ha, hb)
    return _out(b, x, rb), _out(a, lu, ra)


def trtrs(*args):
    """``X, A = torch.trtrs([resb, resa,] B, A [, 'U'|'L'] [, 'N'|'T'] [, 'N'|'U'])``: triangular solve (only
    A's uplo triangle is read; 'T' solves Aᵀ X = B; diag 'U' takes A's diagonal as ones)."""
    (rb, ra), (b, a), (uplo, trans, diag) = _parse('trtrs', args, 2, 2, [('UL', 'U'), ('NT', 'N'), ('NU', 'N')],
                                                   "([resb, resa,] B, A [, 'U'|'L'] [, 'N'|'T'] [, 'N'|'U'])")
    ha = _mat('trtrs', a, 'A', square=True)
    hb = _rhs('trtrs', b, a)
    t = np.triu(ha) if uplo == 'U' else np.tril(ha)
    if diag == 'U':
        t = t.copy()
        np.fill_diagonal(t, 1)
    x = _tri_solve('trtrs', t.T if trans == 'T' else t, hb, 'A')
    return _out(b, x, rb), _out(a, ha.copy(), ra)


# -- Cholesky --------------------------------------------------------------------------------------------------------
def potrf(*args):
    """``torch.potrf([res,] A [, 'U'|'L'])``: Cholesky factor, upper (A = UᵀU, the default) or lower (A = LLᵀ);
    the other triangle is zero. Only A's uplo triangle is read."""
    (res,), (a,), (uplo,) = _parse('potrf', args, 1, 1, [('UL', 'U')], "([res,] A [, 'U'|'L'])")
    ha = _mat('potrf', a, 'A', square=True)
    s = _sym(ha, uplo)
    lin = _cupy_linalg(a)
    what = f"A ({_sizestr(a.shape)}) is not positive definite"
    if lin is not None:
        l_ = _finite('potrf', lin.cholesky(backend.to_device(s, True)), what)
    else:
        try:
            l_ = np.linalg.cholesky(s)
        except np.linalg.LinAlgError:
            raise LinAlgError(f"torch.potrf: {what}") from None
    return _out(a, l_.T if uplo == 'U' else l_, res)


def potrs(*args):
    """``torch.potrs([res,] B, chol [, 'U'|'L'])``: solves A X = B from A's Cholesky factor (upper by default)."""
    (res,), (b, c), (uplo,) = _parse('potrs', args, 1, 2, [('UL', 'U')], "([res,] B, chol [, 'U'|'L'])")
    hc = _mat('potrs', c, 'chol', square=True)
    hb = _rhs('potrs', b, c)
    u = np.triu(hc) if uplo == 'U' else np.tril(hc).T      # A = Uᵀ U either way
    y = _tri_solve('potrs', u.T, hb, 'chol')
    return _out(b, _tri_solve('potrs', u, y, 'chol'), res)


def potri(*args):
    """``torch.potri([res,] chol [, 'U'|'L'])``: A⁻¹ from A's Cholesky factor, the full symmetric matrix."""
    (res,), (c,), (uplo,) = _parse('potri', args, 1, 1, [('UL', 'U')], "([res,] chol [, 'U'|'L'])")
    hc = _mat('potri', c, 'chol', square=True)
    u = np.triu(hc) if uplo == 'U' else np.tril(hc).T
    uinv = _tri_solve('potri', u, np.eye(u.shape[0], dtype=u.dtype), 'chol')
    return _out(c, uinv @ uinv.T, res)


def pstrf(*args):
    """``U, piv = torch.pstrf([res, piv,] A [, 'U'|'L'] [, tol])``: Cholesky with complete pivoting (LAPACK pstrf; a
    pivot <= tol is rank deficiency; tol < 0, the default, is LAPACK's n * eps * max(diag(A))): Pᵀ A P = UᵀU (or
    LLᵀ) with P[piv[k], k] = 1; piv an IntTensor of 0-based indices (Lua: 1-based)."""
    tol = -1
    if args and isinstance(args[-1], (int, float, np.integer, np.floating)) and not isinstance(args[-1], bool):
        args, tol = args[:-1], args[-1]          # Torch7's last argument: {name=real, default=-1}
    (res, rpiv), (a,), (uplo,) = _parse('pstrf', args, 2, 1, [('UL', 'U')], "([res, piv,] A [, 'U'|'L'] [, tol])",
                                        int_res=(1,))
    ha = _mat('pstrf', a, 'A', square=True)
    w = _sym(ha, uplo).copy()
    n = w.shape[0]
    piv = np.arange(n)
    tol = w.dtype.type(tol)                      # (a real, as Torch7 passes it)
    if tol < 0:     # LAPACK's dlamch('Epsilon') is the unit roundoff, half of numpy's eps
        tol = n * (np.finfo(w.dtype).eps / 2) * (w.diagonal().max() if n else 0)
    for j in range(n):
        p = j + int(np.argmax(w.diagonal()[j:]))
        if not w[p, p] > tol:
            raise LinAlgError(f"torch.pstrf: A ({_sizestr(a.shape)}) is rank deficient or not positive "
                              f"semidefinite (pivot {j}: {w[p, p]:g})")
        if p != j:
            w[[j, p]] = w[[p, j]]
            w[:, [j, p]] = w[:, [p, j]]
            piv[[j, p]] = piv[[p, j]]
        w[j, j] = np.sqrt(w[j, j])
        w[j, j + 1:] /= w[j, j]
        w[j + 1:, j + 1:] -= np.outer(w[j, j + 1:], w[j, j + 1:])
    u = np.triu(w)
    pinfo = on_device(_INT, a._info.cuda)
    return _out(a, u if uplo == 'U' else u.T, res), _out(a, piv, rpiv, pinfo)


# -- least squares, eigen, SVD, inverse ----------------------------------------------------------------------------
def _geqrf(a):
    h, tau = np.linalg.qr(a, mode='raw')        # LAPACK geqrf; h is the factored matrix transposed
    return h.T, tau


def gels(*args):
    """``X, QR = torch.gels([resb, resa,] B, A)``: least squares (m >= n) or least norm (m < n) solution of A X = B,
    n×k; the second result holds A's QR (m >= n) or LQ (m < n) factors as LAPACK gels leaves them."""
    (rb, ra), (b, a), _ = _parse('gels', args, 2, 2, [], '([resb, resa,] B, A)')
    ha = _mat('gels', a, 'A')
    hb = _rhs('gels', b, a)
    m, n = ha.shape
    f = _geqrf(ha)[0] if m >= n else _geqrf(ha.T)[0].T
    zero = np.flatnonzero(np.diagonal(f) == 0)      # LAPACK's test (trtrs): exactly zero; a NaN is no error
    if zero.size:
        raise LinAlgError(f"torch.gels: A ({_sizestr(a.shape)}) does not have full rank: diagonal element "
                          f"{int(zero[0])} (0-based) of its triangular factor is zero")
    # solved from the QR (LQ) factors as LAPACK gels does (lstsq's SVD raises on a NaN, where Torch7 gives NaN)
    if m >= n:
        q, r = np.linalg.qr(ha)
        x = np.linalg.solve(r, q.T @ hb)
    else:
        q, r = np.linalg.qr(ha.T)                   # A = rᵀ qᵀ: the least norm X is q r⁻ᵀ B
        x = q @ np.linalg.solve(r.T, hb)
    return _out(b, x, rb), _out(a, f, ra)


def symeig(*args):
    """``e, V = torch.symeig([rese, resv,] A [, 'N'|'V'] [, 'U'|'L'])``: eigenvalues in ascending order and, with
    'V', eigenvectors as V's columns (A = V diag(e) Vᵀ). Only A's uplo triangle is read. With 'N', V is None."""
    (re, rv), (a,), (jobz, uplo) = _parse('symeig', args, 2, 1, [('NV', 'N'), ('UL', 'U')],
                                          "([rese, resv,] A [, 'N'|'V'] [, 'U'|'L'])")
    lin = _cupy_linalg(a)
    ha = _mat('symeig', a, 'A', square=True, host=lin is None)
    if lin is not None:
        e, v = lin.eigh(ha, UPLO=uplo)
    else:
        e, v = np.linalg.eigh(ha, UPLO=uplo)
    return _out(a, e, re), (_out(a, v, rv) if jobz == 'V' else None)


def eig(*args):
    """``e, V = torch.eig([rese, resv,] A [, 'N'|'V'])``: eigenvalues of a general square A as an n×2 tensor (real,
    imaginary), in LAPACK geev's order; with 'V' the right eigenvectors in LAPACK's real layout (a complex pair j,
    j+1 stores the real part in column j and the imaginary part in column j+1). With 'N', V is None."""
    (re, rv), (a,), (jobvr,) = _parse('eig', args, 2, 1, [('NV', 'N')], "([rese, resv,] A [, 'N'|'V'])")
    ha = _mat('eig', a, 'A', square=True)
    w, vc = np.linalg.eig(ha)
    e = np.stack([w.real, w.imag], axis=1) if w.size else np.zeros((0, 2), ha.dtype)
    if jobvr != 'V':
        return _out(a, e, re), None
    v = np.array(vc.real, dtype=ha.dtype)
    j = 0
    while j < len(w):
        if w[j].imag != 0 and j + 1 < len(w):          # a conjugate pair: numpy gives v_j and its conjugate
            v[:, j + 1] = vc[:, j].imag
            j += 2
        else:
            j += 1
    return _out(a, e, re), _out(a, v, rv)


def svd(*args):
    """``U, S, V = torch.svd([resu, ress, resv,] A [, 'S'|'A'])``: A = U diag(S) Vᵀ with V itself (not Vᵀ), S
    descending; 'S' (default) gives k = min(m, n) columns of U and V, 'A' all of them (U m×m, V n×n)."""
    (ru, rs, rv), (a,), (jobu,) = _parse('svd', args, 3, 1, [('SA', 'S')], "([resu, ress, resv,] A [, 'S'|'A'])")
    lin = _cupy_linalg(a)
    ha = _mat('svd', a, 'A', host=lin is None)
    if lin is not None:
        u, s, vt = lin.svd(ha, full_matrices=jobu == 'A')
    else:
        u, s, vt = np.linalg.svd(ha, full_matrices=jobu == 'A')
    return _out(a, u, ru), _out(a, s, rs), _out(a, vt.T, rv)


def inverse(*args):
    """``torch.inverse([res,] x)``: the inverse of a square matrix."""
    (res,), (x,), _ = _parse('inverse', args, 1, 1, [], '([res,] x)')
    lin = _cupy_linalg(x)
    hx = _mat('inverse', x, 'x', square=True, host=lin is None)
    what = f"x ({_sizestr(x.shape)}) is singular"
    if lin is not None:
        return _out(x, _finite('inverse', lin.inv(hx), what), res)
    try:
        _getrf('inverse', hx) if hx.size else None   # Torch7's getrf check: an exactly zero pivot is an error
        inv = np.linalg.inv(hx)
    except (np.linalg.LinAlgError, LinAlgError):
        raise LinAlgError(f"torch.inverse: {what}") from None
    return _out(x, inv, res)


# -- QR ----------------------------------------------------------------------------------------------------------------
def qr(*args):
    """``Q, R = torch.qr([q, r,] x)``: the thin QR factorization, Q m×k orthonormal columns, R k×n upper
    triangular, k = min(m, n) (LAPACK geqrf + orgqr: R's diagonal may be negative)."""
    (rq, rr), (x,), _ = _parse('qr', args, 2, 1, [], '([q, r,] x)')
    lin = _cupy_linalg(x)
    hx = _mat('qr', x, 'x', host=lin is None)
    q, r = lin.qr(hx) if lin is not None else np.linalg.qr(hx)
    return _out(x, q, rq), _out(x, r, rr)


def geqrf(*args):
    """``m, tau = torch.geqrf([m, tau,] a)``: LAPACK geqrf: R on and above m's diagonal, the Householder vectors
    below it, their scalar factors in tau."""
    (rm, rt), (a,), _ = _parse('geqrf', args, 2, 1, [], '([m, tau,] a)')
    f, tau = _geqrf(_mat('geqrf', a, 'a'))
    return _out(a, f, rm), _out(a, tau, rt)


def _apply_q(f, tau, c):
    """Q c for Q = H_0 H_1 ... H_{k-1}, H_i = I - tau_i v_i v_iᵀ from geqrf's output f (LAPACK orm2r, side 'L')."""
    c = np.array(c, dtype=f.dtype, copy=True)
    for i in reversed(range(len(tau))):
        v = np.zeros(f.shape[0], f.dtype)
        v[i] = 1
        v[i + 1:] = f[i + 1:, i]
        c -= tau[i] * np.outer(v, v @ c)
    return c


def _reflectors(name, m, tau):
    hm, ht = _mat(name, m, 'm'), _host(tau).reshape(-1)
    if len(ht) > min(hm.shape):
        raise ValueError(f"torch.{name}: tau has {len(ht)} elements, more than min of m's size {_sizestr(m.shape)}")
    return hm, ht


def orgqr(*args):
    """``torch.orgqr([q,] m, tau)``: the m×n matrix Q with orthonormal columns from geqrf's reflectors."""
    (rq,), (m, tau), _ = _parse('orgqr', args, 1, 2, [], '([q,] m, tau)')
    hm, ht = _reflectors('orgqr', m, tau)
    return _out(m, _apply_q(hm, ht, np.eye(*hm.shape, dtype=hm.dtype)), rq)


def ormqr(*args):
    """``torch.ormqr([res,] m, tau, mat [, 'L'|'R'] [, 'N'|'T'])``: mat multiplied by the full Q of geqrf's
    reflectors: 'L' (default) Q mat, 'R' mat Q; 'T' uses Qᵀ (LAPACK ormqr's meaning of side)."""
    (res,), (m, tau, c), (side, trans) = _parse('ormqr', args, 1, 3, [('LR', 'L'), ('NT', 'N')],
                                                "([res,] m, tau, mat [, 'L'|'R'] [, 'N'|'T'])")
    hm, ht = _reflectors('ormqr', m, tau)
    hc = _mat('ormqr', c, 'mat')
    need = hc.shape[0] if side == 'L' else hc.shape[1]
    if need != hm.shape[0]:
        raise ValueError(f"torch.ormqr: mat of size {_sizestr(c.shape)} does not fit Q ({hm.shape[0]}x"
                         f"{hm.shape[0]}) on side {side!r}")
    q = _apply_q(hm, ht, np.eye(hm.shape[0], dtype=hm.dtype))
    if trans == 'T':
        q = q.T
    return _out(c, q @ hc if side == 'L' else hc @ q, res)


FUNCTIONS = dict(gesv=gesv, trtrs=trtrs, potrf=potrf, potrs=potrs, potri=potri, pstrf=pstrf, gels=gels,
                 symeig=symeig, eig=eig, svd=svd, inverse=inverse, qr=qr, geqrf=geqrf, orgqr=orgqr, ormqr=ormqr)


def _method(fn):
    def method(self, *args):
        return fn(self, *args)         # Torch7's wrapper: x:potrf(...) is torch.potrf(x, ...)
    method.__name__ = fn.__name__
    method.__doc__ = f"x:{fn.__name__}(...) = torch.{fn.__name__}(x, ...)."
    return method


for _name, _fn in FUNCTIONS.items():
    setattr(Tensor, _name, _method(_fn))
del _name, _fn

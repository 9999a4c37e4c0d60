"""Torch7's LAPACK functions (luatorch_py/linalg.py): values against Lua Torch7's own results, reconstructions,
flags and layouts, errors, result-first and method forms, and CUDA tensors (gpu-marked)."""
import os

import numpy as np
import pytest

import luatorch_py as torch

NAMES = ('gesv trtrs potrf pstrf potrs potri gels symeig eig svd inverse qr geqrf orgqr ormqr').split()


def T(rows, tensortype='torch.DoubleTensor'):
    return torch.Tensor(rows).type(tensortype)


def _spd(n, seed=0):
    r = np.random.RandomState(seed).randn(n, n)
    return r @ r.T + n * np.eye(n)


def _on(device, arr, double=True):
    t = torch.DoubleTensor(np.asarray(arr, dtype=np.float64))
    return t if device == 'cpu' else (t.cudaDouble() if double else t.cuda())


def _np(t):
    return t.double().numpy() if not t.is_cuda() else t.cpu().double().numpy()


# -- Lua Torch7's results (../shared/fixtures/t7/maths) ----------------------------------------------------------------
def _seq(x):
    return [x[i] for i in sorted(x)] if isinstance(x, dict) else list(x)


def test_every_linear_algebra_case_matches_lua_torch7(shared_dir):
    path = os.path.join(shared_dir, 'fixtures', 't7', 'maths', 'maths_cases.t7')
    if not os.path.exists(path):
        pytest.skip(f"{path} absent")
    cases = [dict(c) for c in _seq(torch.load(path)) if dict(c).get('fn') in NAMES]
    assert {c['fn'] for c in cases} == set(NAMES)
    for c in cases:
        got = getattr(torch, c['fn'])(*_seq(c['args']))
        exp = _seq(c['result']) if c.get('multi') else [c['result']]
        got = got if c.get('multi') else (got,)
        if c.get('nres'):     # result-first form: the returned tensors are the given result tensors
            assert all(g is a for g, a in zip(got, _seq(c['args'])[:c['nres']])), c['form']
        for i, e in enumerate(exp):
            want, have = e.numpy(), got[i].numpy().astype(np.float64)
            if c['fn'] == 'pstrf' and i == 1:
                assert got[i].type() == 'torch.IntTensor'
                have = have + 1                          # 0-based pivots here, 1-based in Lua
            if c['fn'] == 'svd' and i != 1:
                # numpy has gesdd only (Torch7 calls gesvd): each singular vector may come with the other sign
                have = have * np.sign((have * want).sum(0))
            assert want.shape == have.shape, (c['form'], i)
            np.testing.assert_allclose(have, want, atol=1e-10, err_msg=f"{c['form']} result {i}")


# -- reconstructions, flags and layouts -------------------------------------------------------------------------------
A5 = [[6.80, -2.11, 5.66, 5.97, 8.23], [-6.05, -3.30, 5.36, -4.44, 1.08], [-0.45, 2.58, -2.70, 0.27, 9.04],
      [8.32, 2.71, 4.35, -7.17, 2.14], [-9.67, -5.14, -7.26, 6.08, -6.87]]
B53 = [[4.02, 6.19, -8.22, -7.57, -3.03], [-1.56, 4.00, -8.67, 1.75, 2.86], [9.81, -4.09, -4.57, -8.61, 8.99]]


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_gesv_solves_and_returns_lu_factors(device):
    a, b = _on(device, np.array(A5).T), _on(device, np.array(B53).T)
    x, lu = torch.gesv(b, a)
    assert x.type() == a.type() and x.size().tolist() == [5, 3]
    np.testing.assert_allclose(_np(a) @ _np(x), _np(b), atol=1e-12)
    # P A = L U with L unit lower, U upper: rebuild A up to the row order
    l_, u = np.tril(_np(lu), -1) + np.eye(5), np.triu(_np(lu))
    prod = l_ @ u
    assert sorted(map(tuple, np.round(prod, 10))) == sorted(map(tuple, np.round(_np(a), 10)))
    # 1-D B is one column; the inputs are unchanged
    x1, _ = torch.gesv(_on(device, np.array(B53[0])), a)
    np.testing.assert_allclose(_np(x1)[:, 0], _np(x)[:, 0], atol=1e-12)
    np.testing.assert_array_equal(_np(a), np.array(A5).T)


def test_result_first_and_method_forms_write_into_the_given_tensors():
    a, b = T(A5).t(), T(B53).t()
    rb, ra = torch.DoubleTensor(), torch.DoubleTensor()
    x, lu = torch.gesv(rb, ra, b, a)
    assert x is rb and lu is ra and rb.size().tolist() == [5, 3]
    np.testing.assert_allclose(a.numpy() @ rb.numpy(), b.numpy(), atol=1e-12)
    s = torch.DoubleTensor(_spd(4))
    u = s.potrf()                                   # x:potrf() = torch.potrf(x)
    np.testing.assert_allclose(u.numpy(), np.linalg.cholesky(_spd(4)).T, atol=1e-12)
    res = torch.DoubleTensor(7)
    assert res.potrf(s, 'L') is res                 # res:potrf(A, 'L') = torch.potrf(res, A, 'L')
    np.testing.assert_allclose(res.numpy(), u.numpy().T, atol=1e-12)
    inv = torch.DoubleTensor()
    assert torch.inverse(inv, s) is inv
    np.testing.assert_allclose(inv.numpy() @ _spd(4), np.eye(4), atol=1e-12)
    q, r = torch.DoubleTensor(), torch.DoubleTensor()
    assert torch.qr(q, r, s) == (q, r)
    ru, rs, rv = torch.DoubleTensor(), torch.DoubleTensor(), torch.DoubleTensor()
    assert ru.svd(rs, rv, s) == (ru, rs, rv)         # ru:svd(rs, rv, a) = torch.svd(ru, rs, rv, a)
    np.testing.assert_allclose(ru.numpy() @ np.diag(rs.numpy()) @ rv.numpy().T, _spd(4), atol=1e-12)


def test_trtrs_flags():
    a = np.triu(np.array(A5)) + 10 * np.eye(5)
    b = np.array(B53).T
    ta, tb = torch.DoubleTensor(a + np.tril(np.ones((5, 5)), -1)), torch.DoubleTensor(b)   # junk below: not read
    x, a_out = torch.trtrs(tb, ta)
    np.testing.assert_allclose(a @ x.numpy(), b, atol=1e-12)
    np.testing.assert_array_equal(a_out.numpy(), ta.numpy())
    x, _ = torch.trtrs(tb, ta, 'U', 'T')
    np.testing.assert_allclose(a.T @ x.numpy(), b, atol=1e-12)
    x, _ = torch.trtrs(tb, ta, 'L')
    np.testing.assert_allclose(np.tril(ta.numpy()) @ x.numpy(), b, atol=1e-12)
    x, _ = torch.trtrs(tb, ta, 'U', 'N', 'U')
    unit = a.copy()
    np.fill_diagonal(unit, 1)
    np.testing.assert_allclose(unit @ x.numpy(), b, atol=1e-10)


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_cholesky_family(device):
    s = _spd(5, 1)
    a = _on(device, s)
    u = torch.potrf(a)                               # upper by default: A = Uᵀ U
    assert np.allclose(np.tril(_np(u), -1), 0)
    np.testing.assert_allclose(_np(u).T @ _np(u), s, atol=1e-12)
    l_ = torch.potrf(a, 'L')
    assert np.allclose(np.triu(_np(l_), 1), 0)
    np.testing.assert_allclose(_np(l_) @ _np(l_).T, s, atol=1e-12)
    b = np.arange(10.0).reshape(5, 2)
    for chol, uplo in ((u, 'U'), (l_, 'L')):
        x = torch.potrs(_on(device, b), chol, uplo)
        np.testing.assert_allclose(s @ _np(x), b, atol=1e-10)
        np.testing.assert_allclose(_np(torch.potri(chol, uplo)), np.linalg.inv(s), atol=1e-12)
    p, piv = torch.pstrf(a)
    assert piv.type() == ('torch.IntTensor' if device == 'cpu' else 'torch.CudaIntTensor')
    pv = _np(piv).astype(int)
    assert sorted(pv) == list(range(5)) and pv[0] == np.argmax(np.diag(s))    # largest diagonal first
    np.testing.assert_allclose(_np(p).T @ _np(p), s[np.ix_(pv, pv)], atol=1e-12)
    pl, piv_l = torch.pstrf(a, 'L')
    np.testing.assert_allclose(_np(pl), _np(p).T, atol=1e-12)


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_symeig_eig_svd_layouts(device):
    s = _spd(4, 2) - 6 * np.eye(4)                  # indefinite symmetric
    junk = s + np.tril(np.full((4, 4), 9.0), -1)     # only the upper triangle is read by default
    e, v = torch.symeig(_on(device, junk))
    assert v is None and e.size().tolist() == [4]
    assert (np.diff(_np(e)) > 0).all()               # ascending
    np.testing.assert_allclose(_np(e), np.linalg.eigvalsh(s), atol=1e-10)
    e, v = torch.symeig(_on(device, np.triu(s).T), 'V', 'L')
    np.testing.assert_allclose(_np(v) @ np.diag(_np(e)) @ _np(v).T, s, atol=1e-10)
    # eig: n×2 (real, imaginary); a rotation has the pair ±i, stored as real / imaginary columns of V
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    e, v = torch.eig(_on(device, rot), 'V')
    assert e.size().tolist() == [3, 2]
    ev = _np(e)
    assert sorted(map(tuple, np.round(ev, 12))) == [(0.0, -1.0), (0.0, 1.0), (2.0, 0.0)]
    vv = _np(v)
    for j in range(3):
        if ev[j, 1] > 0:                             # v_j = V[:, j] + i V[:, j+1]
            w = vv[:, j] + 1j * vv[:, j + 1]
            np.testing.assert_allclose(rot @ w, (ev[j, 0] + 1j * ev[j, 1]) * w, atol=1e-12)
        elif ev[j, 1] == 0:
            np.testing.assert_allclose(rot @ vv[:, j], ev[j, 0] * vv[:, j], atol=1e-12)
    assert torch.eig(_on(device, rot))[1] is None
    # svd: V itself (A = U diag(S) Vᵀ); 'S' thin, 'A' full
    a = np.array(A5)[:, :3]
    u, sv, vm = torch.svd(_on(device, a))
    assert (u.size().tolist(), sv.size().tolist(), vm.size().tolist()) == ([5, 3], [3], [3, 3])
    np.testing.assert_allclose(_np(u) @ np.diag(_np(sv)) @ _np(vm).T, a, atol=1e-12)
    assert (np.diff(_np(sv)) < 0).all()
    u, sv, vm = torch.svd(_on(device, a.T), 'A')
    assert (u.size().tolist(), vm.size().tolist()) == ([3, 3], [5, 5])
    np.testing.assert_allclose(_np(u) @ np.diag(_np(sv)) @ _np(vm)[:, :3].T, a.T, atol=1e-12)


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_qr_family_and_inverse_and_gels(device):
    a = np.array(A5)[:, :4]                          # 5×4
    q, r = torch.qr(_on(device, a))
    assert q.size().tolist() == [5, 4] and r.size().tolist() == [4, 4]
    np.testing.assert_allclose(_np(q) @ _np(r), a, atol=1e-12)
    np.testing.assert_allclose(_np(q).T @ _np(q), np.eye(4), atol=1e-12)
    assert np.allclose(np.tril(_np(r), -1), 0)
    m, tau = torch.geqrf(_on(device, a))
    np.testing.assert_allclose(np.abs(np.triu(_np(m))[:4]), np.abs(_np(r)), atol=1e-12)
    q2 = torch.orgqr(m, tau)
    np.testing.assert_allclose(_np(q2) @ np.triu(_np(m))[:4], a, atol=1e-12)
    c = np.arange(15.0).reshape(5, 3)
    qc = torch.ormqr(m, tau, _on(device, c))                 # Q c with the full 5×5 Q
    qtqc = torch.ormqr(m, tau, qc, 'L', 'T')
    np.testing.assert_allclose(_np(qtqc), c, atol=1e-12)
    np.testing.assert_allclose(_np(qc)[:, :], _np(torch.ormqr(m, tau, _on(device, c.T), 'R', 'T')).T, atol=1e-12)
    sq = np.array(A5)
    np.testing.assert_allclose(_np(torch.inverse(_on(device, sq))) @ sq, np.eye(5), atol=1e-12)
    b = np.array(B53).T
    x, _ = torch.gels(_on(device, b), _on(device, a))        # least squares, n×k
    np.testing.assert_allclose(_np(x), np.linalg.lstsq(a, b, rcond=None)[0], atol=1e-12)
    x, _ = torch.gels(_on(device, b[:4]), _on(device, a.T[:, :4]))   # 4×4 exact
    np.testing.assert_allclose(a.T[:, :4] @ _np(x), b[:4], atol=1e-10)
    wide = a.T                                                # 4×5: least norm
    x, _ = torch.gels(_on(device, b[:4]), _on(device, wide))
    assert x.size().tolist() == [5, 3]
    np.testing.assert_allclose(wide @ _np(x), b[:4], atol=1e-10)
    np.testing.assert_allclose(_np(x), np.linalg.pinv(wide) @ b[:4], atol=1e-10)


def test_float_tensors_compute_in_float():
    s = torch.FloatTensor(_spd(3))
    u = torch.potrf(s)
    assert u.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(u.numpy().T @ u.numpy(), _spd(3), rtol=1e-5)


# -- errors -----------------------------------------------------------------------------------------------------------
def test_errors_name_the_function_and_sizes():
    with pytest.raises(ValueError, match=r"torch.gesv: A should be square, got size 2x3"):
        torch.gesv(torch.DoubleTensor(2, 1).zero(), torch.DoubleTensor(2, 3).zero())
    with pytest.raises(ValueError, match=r"torch.gesv: A,B size incompatible - A is 3x3, B is 2x1"):
        torch.gesv(torch.DoubleTensor(2, 1).zero(), torch.DoubleTensor(3, 3).zero())
    with pytest.raises(torch.LinAlgError, match=r"torch.gesv: A \(2x2\) is singular: U\(1,1\) is zero"):
        torch.gesv(T([[1.0], [2.0]]), T([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(torch.LinAlgError, match=r"torch.inverse: x \(2x2\) is singular"):
        torch.inverse(T([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(torch.LinAlgError, match=r"torch.potrf: A \(2x2\) is not positive definite"):
        torch.potrf(T([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(torch.LinAlgError, match=r"torch.pstrf: A \(2x2\) is rank deficient"):
        torch.pstrf(T([[1.0, 1.0], [1.0, 1.0]]))
    with pytest.raises(torch.LinAlgError, match=r"torch.trtrs: A \(2x2\) is singular: diagonal element 1"):
        torch.trtrs(T([[1.0], [1.0]]), T([[1.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(torch.LinAlgError, match=r"torch.gels: A \(3x2\) does not have full rank"):
        torch.gels(T([[1.0], [1.0], [1.0]]), T([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"torch.symeig: A should be square, got size 2x3"):
        torch.symeig(torch.DoubleTensor(2, 3).zero())
    with pytest.raises(ValueError, match=r"torch.svd: A should be 2-dimensional, got size 4"):
        torch.svd(torch.DoubleTensor(4).zero())
    with pytest.raises(ValueError, match=r"torch.potrf: flag 1 must be one of 'U', 'L', got 'X'"):
        torch.potrf(T(_spd(2).tolist()), 'X')
    with pytest.raises(TypeError, match=r"torch.inverse: expected Float or Double tensors, got a torch.LongTensor"):
        torch.inverse(torch.LongTensor(2, 2).zero())
    with pytest.raises(TypeError, match=r"torch.gesv: expected \(\[resb, resa,\] B, A\), got 3 tensors"):
        torch.gesv(T([[1.0]]), T([[1.0]]), T([[1.0]]))


@pytest.mark.gpu
def test_cupy_linalg_path_keeps_arrays_on_the_device_and_checks_results(monkeypatch):
    """The cupy.linalg branch (inverse, potrf, symeig, svd, qr) with a stand-in that behaves as cuSOLVER does: device
    arrays in and out, non-finite results instead of an exception for a singular matrix."""
    import cupy
    from luatorch_py import linalg

    class CuSolverLike:
        calls = []

        def __getattr__(self, name):
            def f(*args, **kw):
                assert all(isinstance(x, cupy.ndarray) for x in args), name     # no host arrays handed in
                self.calls.append(name)
                try:
                    out = getattr(np.linalg, name)(*[cupy.asnumpy(x) for x in args], **kw)
                except np.linalg.LinAlgError:
                    out = np.full(args[0].shape, np.nan)
                return tuple(cupy.asarray(o) for o in out) if isinstance(out, tuple) else cupy.asarray(out)
            return f

    shim = CuSolverLike()
    monkeypatch.setattr(linalg, '_cupy_linalg', lambda t: shim if t.is_cuda() else None)
    s = _spd(3, 4)
    a = _on('cuda', s)
    np.testing.assert_allclose(_np(torch.inverse(a)) @ s, np.eye(3), atol=1e-12)
    u = torch.potrf(a)
    assert u.type() == 'torch.CudaDoubleTensor'
    np.testing.assert_allclose(_np(u).T @ _np(u), s, atol=1e-12)
    e, v = torch.symeig(a, 'V')
    np.testing.assert_allclose(_np(v) @ np.diag(_np(e)) @ _np(v).T, s, atol=1e-12)
    q, r = torch.qr(a)
    np.testing.assert_allclose(_np(q) @ _np(r), s, atol=1e-12)
    uu, ss, vv = torch.svd(a)
    np.testing.assert_allclose(_np(uu) @ np.diag(_np(ss)) @ _np(vv).T, s, atol=1e-12)
    assert shim.calls == ['inv', 'cholesky', 'eigh', 'qr', 'svd']
    with pytest.raises(torch.LinAlgError, match=r"torch.inverse: x \(2x2\) is singular"):
        torch.inverse(_on('cuda', [[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(torch.LinAlgError, match=r"torch.potrf: A \(2x2\) is not positive definite"):
        torch.potrf(_on('cuda', [[1.0, 2.0], [2.0, 1.0]]))


def test_pstrf_takes_torch7s_tolerance():
    """Torch7's pstrf([res, piv,] A [, uplo] [, tol]): a pivot <= tol is rank deficiency; tol < 0 (the default) is
    LAPACK's n * dlamch('Epsilon') * max(diag), dlamch's epsilon being 2^-53 (numpy's eps is 2^-52)."""
    a = T([[4.0, 2.0], [2.0, 3.0]])                          # pivots 4, then 3 - 1 = 2
    u, piv = torch.pstrf(a, 'U', 0.5)
    np.testing.assert_allclose(_np(u), [[2.0, 1.0], [0.0, np.sqrt(2.0)]], rtol=1e-15)
    assert piv.tolist() == [0, 1]
    with pytest.raises(torch.LinAlgError, match=r"torch.pstrf: A \(2x2\) is rank deficient .*pivot 1: 2"):
        torch.pstrf(a, 'U', 3.0)
    with pytest.raises(torch.LinAlgError, match=r"pivot 0: 4"):
        torch.pstrf(a, 5)                                   # the tolerance right after A
    res, rpiv = torch.Tensor(), torch.IntTensor()
    assert torch.pstrf(res, rpiv, a, 'L', -1)[0] is res and _np(res)[1, 0] == 1.0
    eps = np.finfo(np.float64).eps
    u, _ = torch.pstrf(T([[1.0, 0.0], [0.0, 1.5 * eps]]))  # above 2 * 2^-53 * 1, LAPACK's stopping value
    np.testing.assert_allclose(_np(u).diagonal(), [1.0, np.sqrt(1.5 * eps)], rtol=1e-15)


def test_flags_may_be_left_out_as_in_torch7s_wrapper():
    """cwrap lets any optional flag be left out (the first set of flags that takes the strings wins), and reads a
    flag's first letter: an empty or unknown string is an error, not the other triangle."""
    a = T([[4.0, 2.0], [2.0, 3.0]])
    b = T([[1.0], [1.0]])
    np.testing.assert_allclose(_np(torch.trtrs(b, a, 'T')[0]), [[0.25], [1 / 6]], rtol=1e-15)     # uplo 'U', trans 'T'
    np.testing.assert_allclose(_np(torch.trtrs(b, a, 'L', 'U')[0]), [[1.0], [-1.0]], rtol=1e-15)  # uplo 'L', diag 'U'
    np.testing.assert_allclose(_np(torch.trtrs(b, a, 'L', 'N')[0]), [[0.25], [1 / 6]], rtol=1e-15)
    e, v = torch.symeig(T([[1.0, 9.0], [0.0, 1.0]]), 'L')      # jobz 'N', uplo 'L': the lower triangle, diag(1, 1)
    assert v is None and _np(e).tolist() == [1.0, 1.0]
    m, tau = torch.geqrf(T(A5))
    c = T(B53).t()
    np.testing.assert_allclose(_np(torch.ormqr(m, tau, c, 'T')), _np(torch.ormqr(m, tau, c, 'L', 'T')), rtol=1e-15)
    np.testing.assert_allclose(_np(torch.potrf(a, 'Upper')), [[2.0, 1.0], [0.0, np.sqrt(2.0)]], rtol=1e-15)
    with pytest.raises(ValueError, match=r"torch.potrf: flag 1 must be one of 'U', 'L', got ''"):
        torch.potrf(a, '')
    with pytest.raises(ValueError, match=r"torch.trtrs: flag 2 must be one of 'N', 'T', got 'X'"):
        torch.trtrs(b, a, 'L', 'X')


def test_gels_gives_nan_for_a_nan_input_as_lapack_does():
    """LAPACK gels reports rank deficiency only for an exactly zero diagonal element: a NaN in A or B gives NaN
    (no IndexError from the rank check, no 'SVD did not converge' from lstsq); X comes from the QR or LQ factors."""
    nan = float('nan')
    x, f = torch.gels(T([[1.0], [1.0]]), T([[1.0, nan], [nan, 1.0]]))
    assert x.size().tolist() == [2, 1] and np.isnan(_np(x)).all()
    x, _ = torch.gels(T([[1.0], [nan], [1.0]]), T([[1.0, 2.0], [3.0, 1.0], [1.0, 1.0]]))
    assert x.size().tolist() == [2, 1] and np.isnan(_np(x)).all()
    a = np.array([[1.0, 2.0], [3.0, 1.0], [1.0, 1.0]])
    x, _ = torch.gels(T([[1.0], [2.0], [4.0]]), T(a.tolist()))       # normal equations: AᵀA x = Aᵀb
    np.testing.assert_allclose(a.T @ a @ _np(x), a.T @ [[1.0], [2.0], [4.0]], atol=1e-13)
    x, _ = torch.gels(T([[1.0], [2.0]]), T(a.T.tolist()))             # least norm: x = Aᵀ (A Aᵀ)⁻¹ b
    np.testing.assert_allclose(_np(x), a @ np.linalg.solve(a.T @ a, [[1.0], [2.0]]), atol=1e-13)


def test_result_tensors_must_have_the_inputs_type():
    """Torch7's wrapper takes result tensors of the input's type only (pstrf's piv: an IntTensor); writing the
    factor into an IntTensor would truncate it silently."""
    a = T([[4.0, 2.0], [2.0, 3.0]])
    with pytest.raises(TypeError, match=r"torch.potrf: the result tensor should be a torch.DoubleTensor, got a "
                                        r"torch.IntTensor"):
        torch.potrf(torch.IntTensor(), a)
    with pytest.raises(TypeError, match=r"torch.gesv: the result tensor should be a torch.DoubleTensor, got a "
                                        r"torch.FloatTensor"):
        torch.gesv(torch.DoubleTensor(), torch.FloatTensor(), T([[1.0], [1.0]]), a)
    with pytest.raises(TypeError, match=r"torch.pstrf: the result tensor should be a torch.IntTensor, got a "
                                        r"torch.LongTensor"):
        torch.pstrf(torch.DoubleTensor(), torch.LongTensor(), a)
    u, piv = torch.pstrf(torch.DoubleTensor(), torch.IntTensor(), a)
    np.testing.assert_allclose(_np(u), [[2.0, 1.0], [0.0, np.sqrt(2.0)]], rtol=1e-15)
    assert piv.tolist() == [0, 1]

"""polyinterp, lswolfe, lbfgs and cg: closed forms, Wolfe conditions, an independent L-BFGS, Rosenbrock."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import optim


def rosenbrock(x):
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1)."""
    a = x.numpy()
    f = (1 - a[0]) ** 2 + 100 * (a[1] - a[0] ** 2) ** 2
    g = np.array([-2 * (1 - a[0]) - 400 * a[0] * (a[1] - a[0] ** 2), 200 * (a[1] - a[0] ** 2)])
    return float(f), torch.DoubleTensor(g)


A = np.array([[3.0, 0.5, 0.0, 0.1], [0.5, 2.0, 0.3, 0.0], [0.0, 0.3, 1.0, 0.2], [0.1, 0.0, 0.2, 4.0]])
B = np.array([1.0, -2.0, 0.5, 3.0])


def quad(x):
    a = x.numpy()
    return float(0.5 * a @ A @ a - B @ a), torch.DoubleTensor(A @ a - B)


# -- polyinterp ----------------------------------------------------------------------------------------------
def test_polyinterp_cubic_closed_form():
    # f(t) = t^3 - 3t: f(0) = 0, f'(0) = -3, f(2) = 2, f'(2) = 9; the interpolating cubic is f, minimum at 1
    assert optim.polyinterp(torch.DoubleTensor([[0, 0, -3], [2, 2, 9]])) == pytest.approx(1.0, abs=1e-15)
    # order of the points does not matter
    assert optim.polyinterp([[2, 2, 9], [0, 0, -3]]) == pytest.approx(1.0, abs=1e-15)
    # no real cubic minimum (d1^2 < g1 g2): the midpoint
    assert optim.polyinterp([[0, 0, 1], [1, 2 / 3, 1]]) == pytest.approx(0.5)


def test_polyinterp_with_bounds():
    # f(t) = (t - 0.3)^2: the minimum when inside the bounds, else the best bound
    pts = [[0, 0.09, -0.6], [1, 0.49, 1.4]]
    assert optim.polyinterp(pts, 0, 1) == pytest.approx(0.3, abs=1e-10)
    assert optim.polyinterp(pts, 0.5, 2) == pytest.approx(0.5, abs=1e-12)
    assert optim.polyinterp(pts, -3, 0.1) == pytest.approx(0.1, abs=1e-12)
    # three points (order 5), no bounds: the span of the points
    pts3 = [[0, 0.09, -0.6], [1, 0.49, 1.4], [0.5, 0.04, 0.4]]
    assert optim.polyinterp(pts3) == pytest.approx(0.3, abs=1e-8)


# -- lswolfe -------------------------------------------------------------------------------------------------
def test_lswolfe_satisfies_the_strong_wolfe_conditions():
    calls = []

    def counted(x):
        calls.append(1)
        return rosenbrock(x)

    x = torch.DoubleTensor([-1.2, 1.0])
    x_init = x.clone()
    f, g = rosenbrock(x)
    d = g.clone().mul(-1)
    gtd = g.dot(d)
    c1, c2 = 1e-4, 0.9
    f_new, g_new, x_out, t, n_eval = optim.lswolfe(counted, x, 1.0, d, f, g, gtd)
    assert x_out is x
    assert n_eval == len(calls) >= 1
    np.testing.assert_allclose(x.numpy(), x_init.numpy() + t * d.numpy(), rtol=1e-15)
    assert f_new <= f + c1 * t * gtd
    assert abs(g_new.dot(d)) <= -c2 * gtd
    f_check, g_check = rosenbrock(x)
    assert f_new == pytest.approx(f_check, rel=1e-14)
    np.testing.assert_allclose(g_new.numpy(), g_check.numpy(), rtol=1e-14)


# -- lbfgs ---------------------------------------------------------------------------------------------------
def lbfgs_reference(fg, x, max_iter, lr=1.0, n_corr=100):
    """An independent textbook L-BFGS (two-loop recursion) with Torch7's fixed-step rules: first step
    min(1, 1/sum|g|)*lr, then lr; history update when y.s > 1e-10; H0 = y.s / y.y."""
    f, g = fg(x)
    fs = [f]
    S, Y = [], []
    h0 = 1.0
    d = -g
    g_old = d_old = t = None
    for it in range(1, max_iter + 1):
        if it > 1:
            y, s = g - g_old, d_old * t
            if y @ s > 1e-10:
                if len(S) == n_corr:
                    S.pop(0)
                    Y.pop(0)
                S.append(s)
                Y.append(y)
                h0 = (y @ s) / (y @ y)
            q = -g
            alphas = []
            for s_i, y_i in reversed(list(zip(S, Y))):
                a_i = (s_i @ q) / (y_i @ s_i)
                alphas.append(a_i)
                q = q - a_i * y_i
            r = h0 * q
            for (s_i, y_i), a_i in zip(zip(S, Y), reversed(alphas)):
                r = r + (a_i - (y_i @ r) / (y_i @ s_i)) * s_i
            d = r
        g_old = g
        t = min(1, 1 / np.abs(g).sum()) * lr if it == 1 else lr
        x = x + t * d
        d_old = d
        if it != max_iter:
            f, g = fg(x)
            fs.append(f)
    return x, fs


def test_lbfgs_fixed_step_matches_an_independent_implementation():
    def fg(a):
        return float(0.5 * a @ A @ a - B @ a), A @ a - B
    x0 = np.array([1.0, 2.0, -1.0, 0.5])
    x = torch.DoubleTensor(x0)
    config = {'maxIter': 6, 'tolFun': 0, 'tolX': 0}
    _, f_hist = optim.lbfgs(quad, x, config)
    xr, fr = lbfgs_reference(fg, x0, 6)
    np.testing.assert_allclose(x.numpy(), xr, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(f_hist, fr, rtol=1e-12)
    assert config['nIter'] == 6 and config['funcEval'] == 6
    for key in ('d', 't', 'old_dirs', 'old_stps', 'Hdiag', 'g_old', 'f_old', 'dir_bufs', 'stp_bufs', 'tmp1',
                'ro', 'al'):
        assert key in config, key


def test_lbfgs_rosenbrock_with_line_search():
    x = torch.DoubleTensor([0.0, 0.0])
    config = {'maxIter': 100, 'lineSearch': optim.lswolfe}
    _, f_hist = optim.lbfgs(rosenbrock, x, config)
    np.testing.assert_allclose(x.numpy(), [1, 1], atol=1e-5)
    assert f_hist[0] == 1.0 and f_hist[-1] < 1e-10
    assert config['funcEval'] < 150


def test_lbfgs_stochastic_mode_one_iteration_per_call():
    # maxIter 1 per call (no re-evaluation inside), the state carrying the history between calls: the same
    # iterates as one run
    def fg(a):
        return float(0.5 * a @ A @ a - B @ a), A @ a - B
    x0 = np.array([1.0, 2.0, -1.0, 0.5])
    x = torch.DoubleTensor(x0)
    config = {'maxIter': 1, 'learningRate': 0.5, 'tolFun': 0, 'tolX': 0}
    for _ in range(40):
        optim.lbfgs(quad, x, config)
    xr, _ = lbfgs_reference(fg, x0, 40, lr=0.5)
    np.testing.assert_allclose(x.numpy(), xr, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(A, B), atol=1e-8)
    assert config['nIter'] == 40 and config['funcEval'] == 40


def test_lbfgs_default_tolerances_stop_progress():
    # with Torch7's defaults an iteration stops before stepping once g.d > -tolX (1e-9): x then stays put
    x = torch.DoubleTensor([1.0, 2.0, -1.0, 0.5])
    config = {'maxIter': 1, 'learningRate': 0.5}
    for _ in range(60):
        optim.lbfgs(quad, x, config)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(A, B), atol=1e-4)
    frozen = x.numpy().copy()
    _, f_hist = optim.lbfgs(quad, x, config)
    assert len(f_hist) == 1
    np.testing.assert_array_equal(x.numpy(), frozen)
    assert quad(x)[1].dot(config['d']) > -1e-9


def test_lbfgs_stops_at_an_optimum():
    xs = np.linalg.solve(A, B)
    x = torch.DoubleTensor(xs)
    _, f_hist = optim.lbfgs(quad, x)
    assert len(f_hist) == 1
    np.testing.assert_array_equal(x.numpy(), xs)


# -- cg --------------------------------------------------------------------------------------------------------
def test_cg_rosenbrock():
    x = torch.DoubleTensor([0.0, 0.0])
    config = {'maxEval': 200}
    _, fx = optim.cg(rosenbrock, x, config)
    np.testing.assert_allclose(x.numpy(), [1, 1], atol=1e-6)
    assert fx[0] == 1.0 and fx[-1] < 1e-12
    assert all(b <= a for a, b in zip(fx, fx[1:]))
    for key in ('df0', 'df1', 'df2', 'df3', 'x0', 's'):
        assert isinstance(config[key], torch.DoubleTensor)


def test_cg_quadratic_and_buffer_reuse():
    x = torch.DoubleTensor([1.0, 2.0, -1.0, 0.5])
    config = {'maxEval': 40}
    optim.cg(quad, x, config)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(A, B), atol=1e-8)
    bufs = {k: config[k] for k in ('df0', 'df1', 'df2', 'df3', 'x0', 's')}
    optim.cg(quad, x, config)
    assert all(config[k] is v for k, v in bufs.items())


@pytest.mark.parametrize('max_iter', [3, 5])
def test_cg_at_a_minimum_stops_with_a_fractional_eval_budget(max_iter):
    # maxEval defaults to maxIter * 1.25 (3.75, 6.25): the line search's budget m then counts down through
    # fractions and never equals 0; with a zero gradient (x already at the minimum) cg used to extrapolate forever
    calls = []

    def f(x):
        calls.append(1)
        return float((x * x).sum()), x * 2

    x = torch.DoubleTensor([0.0, 0.0])
    _, fx = optim.cg(f, x, {'maxIter': max_iter})
    assert fx == [0.0]
    np.testing.assert_array_equal(x.numpy(), [0, 0])
    assert len(calls) <= max_iter * 1.25 + 1


def test_cg_fractional_budget_goes_on_as_torch7():
    # maxIter 3 -> maxEval 3.75: the line search's budget steps over 0, and Torch7 (which tests m == 0) goes on past
    # maxEval until the search succeeds; stopping at m <= 0 instead returned x unchanged with fx = [45.5].  The
    # numbers are those of a line-by-line transcription of cg.lua (float64), 6 evaluations
    calls = []

    def f(x):
        calls.append(1)
        a = x.numpy()
        return float(0.5 * (a * a).sum()), torch.DoubleTensor(a.copy())

    x = torch.DoubleTensor(np.arange(1.0, 7.0))
    _, fx = optim.cg(f, x, {'maxIter': 3})
    assert fx[0] == 45.5 and len(fx) == 2 and len(calls) == 6
    np.testing.assert_allclose(fx[1], 0.6504607750472604, rtol=1e-12)


# -- first-order methods on Rosenbrock -----------------------------------------------------------------------
@pytest.mark.parametrize('name,config,steps,atol', [
    ('sgd', {'learningRate': 2e-3, 'momentum': 0.9}, 10000, 1e-3),
    ('adam', {'learningRate': 0.02}, 6000, 1e-3),
])
def test_first_order_methods_converge_on_rosenbrock(name, config, steps, atol):
    fn = getattr(optim, name)
    x = torch.DoubleTensor([0.0, 0.0])
    for _ in range(steps):
        fn(rosenbrock, x, config)
    np.testing.assert_allclose(x.numpy(), [1, 1], atol=atol)

"""adam, adamax, adagrad, adadelta, rmsprop, nag, rprop, asgd: a few steps against explicit numpy formulas,
and the config/state keys Torch7 uses."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import optim

from optim_helpers import X0, quad, opfunc_fresh


def run(fn, config, steps, x0=X0):
    x = torch.DoubleTensor(x0)
    fxs = []
    for _ in range(steps):
        _, fx = fn(opfunc_fresh, x, config)
        fxs.append(fx)
    return x.numpy().copy(), fxs


def test_adam():
    lr, lrd, b1, b2, eps, wd = 0.1, 0.05, 0.8, 0.99, 1e-6, 0.01
    config = {'learningRate': lr, 'learningRateDecay': lrd, 'beta1': b1, 'beta2': b2, 'epsilon': eps,
              'weightDecay': wd}
    x, fxs = run(optim.adam, config, 3)

    xr, m, v = X0.copy(), np.zeros(3), np.zeros(3)
    for t in range(1, 4):
        assert fxs[t - 1] == [pytest.approx(quad(xr)[0], rel=1e-14)]
        g = quad(xr)[1] + wd * xr
        clr = lr / (1 + (t - 1) * lrd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v) + eps
        xr = xr - clr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / denom
    np.testing.assert_allclose(x, xr, rtol=1e-13)
    assert config['t'] == 3
    np.testing.assert_allclose(config['m'].numpy(), m, rtol=1e-13)
    np.testing.assert_allclose(config['v'].numpy(), v, rtol=1e-13)
    np.testing.assert_allclose(config['denom'].numpy(), denom, rtol=1e-13)


def test_adam_defaults():
    x, _ = run(optim.adam, {}, 1)
    g = quad(X0)[1]
    # step 1 with defaults lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-8: m/(1-b1) = g, sqrt(v/(1-b2)) = |g|
    m, v = 0.1 * g, 0.001 * g * g
    expected = X0 - 1e-3 * np.sqrt(1 - 0.999) / (1 - 0.9) * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(x, expected, rtol=1e-14)


def test_adamax():
    lr, b1, b2, eps = 0.05, 0.7, 0.9, 1e-30
    config = {'learningRate': lr, 'beta1': b1, 'beta2': b2, 'epsilon': eps}
    x, _ = run(optim.adamax, config, 4)
    xr, m, u = X0.copy(), np.zeros(3), np.zeros(3)
    for t in range(1, 5):
        g = quad(xr)[1]
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        xr = xr - lr / (1 - b1 ** t) * m / u
    np.testing.assert_allclose(x, xr, rtol=1e-13)
    assert config['t'] == 4
    np.testing.assert_allclose(config['m'].numpy(), m, rtol=1e-13)
    np.testing.assert_allclose(config['u'].numpy(), u, rtol=1e-13)
    assert tuple(config['max'].shape) == (2, 3)


def test_adamax_weight_decay():
    # Torch7's adamax.lua adds config.weightDecay * x to the gradient (in place) before the update
    lr, wd = 0.05, 0.1
    g0 = torch.DoubleTensor(3)

    def opfunc(x):
        f, g = quad(x.numpy().copy())
        g0.copy(torch.DoubleTensor(g))
        return f, g0
    config = {'learningRate': lr, 'weightDecay': wd}
    x = torch.DoubleTensor(X0)
    for _ in range(4):
        optim.adamax(opfunc, x, config)
    xr, m, u = X0.copy(), np.zeros(3), np.zeros(3)
    for t in range(1, 5):
        g = quad(xr)[1] + wd * xr
        m = 0.9 * m + 0.1 * g
        u = np.maximum(0.999 * u, np.abs(g) + 1e-38)
        xg = xr
        xr = xr - lr / (1 - 0.9 ** t) * m / u
    np.testing.assert_allclose(x.numpy(), xr, rtol=1e-13)
    np.testing.assert_allclose(config['m'].numpy(), m, rtol=1e-13)
    np.testing.assert_allclose(g0.numpy(), quad(xg)[1] + wd * xg, rtol=1e-13)     # decayed in place


def test_adagrad():
    lr, lrd, wd = 0.2, 0.1, 0.05
    config = {'learningRate': lr, 'learningRateDecay': lrd, 'weightDecay': wd}
    x, _ = run(optim.adagrad, config, 3)
    xr, var = X0.copy(), np.zeros(3)
    for k in range(3):
        g = quad(xr)[1] + wd * xr
        var = var + g * g
        std = np.sqrt(var) + 1e-10
        xr = xr - lr / (1 + k * lrd) * g / std
    np.testing.assert_allclose(x, xr, rtol=1e-13)
    assert config['evalCounter'] == 3
    np.testing.assert_allclose(config['paramVariance'].numpy(), var, rtol=1e-13)
    np.testing.assert_allclose(config['paramStd'].numpy(), std, rtol=1e-13)


def test_adadelta():
    rho, eps, wd = 0.95, 1e-4, 0.02
    config = {'rho': rho, 'eps': eps, 'weightDecay': wd}
    x, _ = run(optim.adadelta, config, 3)
    xr, var, acc = X0.copy(), np.zeros(3), np.zeros(3)
    for _ in range(3):
        g = quad(xr)[1] + wd * xr
        var = rho * var + (1 - rho) * g * g
        std = np.sqrt(var + eps)
        delta = np.sqrt(acc + eps) / std * g
        xr = xr - delta
        acc = rho * acc + (1 - rho) * delta * delta
    np.testing.assert_allclose(x, xr, rtol=1e-13)
    assert config['evalCounter'] == 3
    for key, ref in (('paramVariance', var), ('paramStd', std), ('delta', delta), ('accDelta', acc)):
        np.testing.assert_allclose(config[key].numpy(), ref, rtol=1e-13)


@pytest.mark.parametrize('initial_mean', [0, 0.5])
def test_rmsprop(initial_mean):
    lr, alpha, eps, wd = 0.01, 0.9, 1e-6, 0.1
    config = {'learningRate': lr, 'alpha': alpha, 'epsilon': eps, 'weightDecay': wd, 'initialMean': initial_mean}
    x, _ = run(optim.rmsprop, config, 3)
    xr, m = X0.copy(), np.full(3, float(initial_mean))
    for _ in range(3):
        g = quad(xr)[1] + wd * xr
        m = alpha * m + (1 - alpha) * g * g
        tmp = np.sqrt(m) + eps
        xr = xr - lr * g / tmp
    np.testing.assert_allclose(x, xr, rtol=1e-13)
    np.testing.assert_allclose(config['m'].numpy(), m, rtol=1e-13)
    np.testing.assert_allclose(config['tmp'].numpy(), tmp, rtol=1e-13)


def test_nag():
    lr, lrd, mom, wd = 0.1, 0.02, 0.7, 0.05
    config = {'learningRate': lr, 'learningRateDecay': lrd, 'momentum': mom, 'weightDecay': wd}
    x, fxs = run(optim.nag, config, 3)
    xr, vel = X0.copy(), None
    for k in range(3):
        look = xr if vel is None else xr + mom * vel        # gradient at the look-ahead point
        assert fxs[k] == [pytest.approx(quad(look)[0], rel=1e-14)]
        g = quad(look)[1] + wd * look
        vel = (np.zeros(3) if vel is None else mom * vel) - lr / (1 + k * lrd) * g
        xr = xr + vel
    np.testing.assert_allclose(x, xr, rtol=1e-13)
    np.testing.assert_allclose(config['dfdx'].numpy(), vel, rtol=1e-13)
    np.testing.assert_allclose(config['x_copy'].numpy(), xr, rtol=1e-13)
    assert config['evalCounter'] == 3
    with pytest.raises(ValueError, match='positive'):
        optim.nag(opfunc_fresh, torch.DoubleTensor(X0), {'momentum': 0})


def test_rprop():
    cfg = dict(stepsize=0.6, etaplus=1.5, etaminus=0.4, stepsizemax=1.0, stepsizemin=0.25, niter=4)
    config = dict(cfg)
    x = torch.DoubleTensor(X0)
    _, fx = optim.rprop(opfunc_fresh, x, config)
    assert len(fx) == 4

    xr, delta, step = X0.copy(), np.zeros(3), np.full(3, cfg['stepsize'])
    fref = []
    flipped = False
    for _ in range(4):
        f, g = quad(xr)
        fref.append(f)
        s = np.sign(g * delta)
        step = step * np.where(s > 0, cfg['etaplus'], np.where(s < 0, cfg['etaminus'], 1.0))
        step = np.clip(step, cfg['stepsizemin'], cfg['stepsizemax'])
        g = np.where(s < 0, 0.0, g)
        flipped |= bool((s < 0).any())
        xr = xr - np.sign(g) * step
        delta = g
    assert flipped          # the test covers the sign-change branch
    np.testing.assert_allclose(x.numpy(), xr, rtol=1e-14)
    np.testing.assert_allclose(fx, fref, rtol=1e-14)
    np.testing.assert_allclose(config['stepsize'].numpy(), step, rtol=1e-14)   # replaces config's number
    np.testing.assert_allclose(config['delta'].numpy(), delta, rtol=1e-14)
    for k in ('psign', 'nsign', 'zsign', 'dminmax'):
        assert config[k].type() == 'torch.ByteTensor'
    # a second call continues from the state
    optim.rprop(opfunc_fresh, x, config)


def test_rprop_state_reused_after_x_is_reshaped():
    # Torch7's ops match tensors by element count and gt/lt/eq(mask, t, v) resize the masks: a state made for a
    # 2 x 3 x continues for the same parameters seen as a 6-vector (it raised numpy's broadcast error)
    def opfunc(x):
        a = x.numpy().copy()
        return float((a * a).sum() / 2), torch.DoubleTensor(a.reshape(x.numpy().shape) * 1.0)
    flat, shaped = torch.DoubleTensor(np.arange(-2.0, 4.0)), torch.DoubleTensor(np.arange(-2.0, 4.0).reshape(2, 3))
    cfg_flat, cfg_shaped = {'stepsize': 0.7}, {'stepsize': 0.7}
    optim.rprop(opfunc, flat, cfg_flat)
    optim.rprop(opfunc, shaped, cfg_shaped)
    optim.rprop(opfunc, shaped.view(6), cfg_shaped)        # the 2 x 3 state, a 6-vector x
    optim.rprop(opfunc, flat, cfg_flat)
    # step 1: x - 0.7 sign(x); step 2: the same signs (0 at x = 0), step 0.7 * etaplus 1.2
    np.testing.assert_allclose(shaped.numpy().ravel(), flat.numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(flat.numpy(), [-0.46, 0.54, 0.0, -0.54, 0.46, 1.46], rtol=0, atol=1e-15)
    assert cfg_shaped['psign'].nElement() == 6


def test_asgd():
    eta0, lam, alpha, t0 = 0.1, 0.01, 0.75, 1
    config = {'eta0': eta0, 'lambda': lam, 'alpha': alpha, 't0': t0}
    x, _ = run(optim.asgd, config, 5)
    xr, ax, eta, mu = X0.copy(), None, eta0, 1.0
    for t in range(1, 6):
        g = quad(xr)[1]
        xr = (1 - lam * eta) * xr - eta * g
        ax = xr.copy() if mu == 1 else ax + mu * (xr - ax)
        eta = eta0 / (1 + lam * eta0 * t) ** alpha
        mu = 1 / max(1, t - t0)
    np.testing.assert_allclose(x, xr, rtol=1e-14)
    np.testing.assert_allclose(config['ax'].numpy(), ax, rtol=1e-14)
    assert config['t'] == 5
    assert config['eta_t'] == pytest.approx(eta, rel=1e-15)
    assert config['mu_t'] == pytest.approx(mu, rel=1e-15)
    # defaults are written into config, as Torch7 does
    c = {}
    optim.asgd(opfunc_fresh, torch.DoubleTensor(X0), c)
    assert (c['eta0'], c['lambda'], c['alpha'], c['t0']) == (1e-4, 1e-4, 0.75, 1e6)


@pytest.mark.parametrize('name', ['adam', 'adamax', 'adagrad', 'adadelta', 'rmsprop', 'nag', 'asgd'])
def test_state_buffers_are_reused(name):
    fn = getattr(optim, name)
    x = torch.DoubleTensor(X0)
    config = {}
    fn(opfunc_fresh, x, config)
    before = {k: (v, v._a.__array_interface__['data'][0]) for k, v in config.items() if isinstance(v, torch.Tensor)}
    assert before
    for _ in range(3):
        fn(opfunc_fresh, x, config)
    for k, (t, ptr) in before.items():
        assert config[k] is t and t._a.__array_interface__['data'][0] == ptr, k


@pytest.mark.parametrize('name,config', [
    ('sgd', {'learningRate': 0.1, 'momentum': 0.9, 'weightDecay': 1e-4}),
    ('sgd', {'learningRate': 0.1, 'momentum': 0.9, 'dampening': 0, 'nesterov': True}),
    ('nag', {}), ('adam', {'weightDecay': 1e-4}), ('adamax', {}), ('adagrad', {}), ('adadelta', {}),
    ('rmsprop', {}), ('rprop', {}), ('asgd', {}),
])
def test_steps_allocate_nothing_once_the_state_exists(name, config):
    import tracemalloc
    n = 100_000                      # 0.8 MB per buffer: any temporary would show
    g = torch.DoubleTensor(n).fill(0.5)
    x = torch.DoubleTensor(n).fill(1.0)
    fn = getattr(optim, name)
    for _ in range(2):
        fn(lambda x: (1.0, g), x, config)
    tracemalloc.start()
    try:
        for _ in range(3):
            fn(lambda x: (1.0, g), x, config)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000, f"{name} allocated {peak} bytes in a step"

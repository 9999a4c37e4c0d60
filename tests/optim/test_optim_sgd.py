"""optim.sgd against hand-derived numpy steps (Torch7's formulas), its config/state keys and its buffers."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import optim

from optim_helpers import X0, quad, opfunc_fresh


def make_opfunc_buffer():
    """An opfunc returning the same gradient tensor every call, as feval over getParameters() does."""
    buf = torch.DoubleTensor(3)

    def opfunc(x):
        f, g = quad(x.numpy().copy())
        buf.copy(torch.DoubleTensor(g))
        return f, buf
    return opfunc, buf


def test_plain_step_and_defaults():
    x = torch.DoubleTensor(X0)
    x_out, fx = optim.sgd(opfunc_fresh, x)           # defaults: learningRate 1e-3, nothing else
    assert x_out is x
    assert isinstance(fx, list) and fx == [pytest.approx(quad(X0)[0])]
    np.testing.assert_allclose(x.numpy(), X0 - 1e-3 * quad(X0)[1], rtol=0, atol=1e-15)


def test_two_steps_momentum_weight_decay_lr_decay():
    lr, lrd, wd, mom = 0.1, 0.01, 0.1, 0.9
    config = {'learningRate': lr, 'learningRateDecay': lrd, 'weightDecay': wd, 'momentum': mom}
    x = torch.DoubleTensor(X0)
    _, f0 = optim.sgd(opfunc_fresh, x, config)
    _, f1 = optim.sgd(opfunc_fresh, x, config)

    # by hand: dampening defaults to momentum; the first step copies the gradient into the momentum buffer
    x0 = X0.copy()
    g0 = quad(x0)[1] + wd * x0
    v = g0.copy()
    x1 = x0 - lr / (1 + 0 * lrd) * v
    g1 = quad(x1)[1] + wd * x1
    v = mom * v + (1 - mom) * g1
    x2 = x1 - lr / (1 + 1 * lrd) * v

    np.testing.assert_allclose(x.numpy(), x2, rtol=1e-14, atol=1e-15)
    assert f0 == [pytest.approx(quad(x0)[0], rel=1e-14)]
    assert f1 == [pytest.approx(quad(x1)[0], rel=1e-14)]
    # state lives in config (state defaults to config), with Torch7's keys
    assert config['evalCounter'] == 2
    np.testing.assert_allclose(config['dfdx'].numpy(), v, rtol=1e-14)
    assert set(config) == {'learningRate', 'learningRateDecay', 'weightDecay', 'momentum', 'evalCounter', 'dfdx'}


def test_dampening_and_nesterov():
    lr, mom = 0.05, 0.8
    x = torch.DoubleTensor(X0)
    config = {'learningRate': lr, 'momentum': mom, 'dampening': 0, 'nesterov': True}
    for _ in range(3):
        optim.sgd(opfunc_fresh, x, config)
    xr, v = X0.copy(), None
    for _ in range(3):
        g = quad(xr)[1]
        v = g.copy() if v is None else mom * v + g
        xr = xr - lr * (g + mom * v)
    np.testing.assert_allclose(x.numpy(), xr, rtol=1e-14)
    np.testing.assert_allclose(config['dfdx'].numpy(), v, rtol=1e-14)

    with pytest.raises(ValueError, match='Nesterov'):
        optim.sgd(opfunc_fresh, torch.DoubleTensor(X0), {'momentum': 0.9, 'nesterov': True})   # dampening 0.9


def test_individual_learning_rates_and_weight_decays():
    lrs = np.array([1.0, 0.5, 2.0])
    wds = np.array([0.1, 0.0, 0.3])
    config = {'learningRate': 0.1, 'learningRates': torch.DoubleTensor(lrs),
              'weightDecays': torch.DoubleTensor(wds)}
    x = torch.DoubleTensor(X0)
    optim.sgd(opfunc_fresh, x, config)
    optim.sgd(opfunc_fresh, x, config)
    xr = X0.copy()
    for _ in range(2):
        g = quad(xr)[1] + wds * xr
        xr = xr - 0.1 * lrs * g
    np.testing.assert_allclose(x.numpy(), xr, rtol=1e-14)
    assert 'decayParameters' in config and 'deltaParameters' in config
    # weightDecay wins over weightDecays, as in Torch7
    x = torch.DoubleTensor(X0)
    optim.sgd(opfunc_fresh, x, {'learningRate': 0.1, 'weightDecay': 0.2, 'weightDecays': torch.DoubleTensor(wds)})
    np.testing.assert_allclose(x.numpy(), X0 - 0.1 * (quad(X0)[1] + 0.2 * X0), rtol=1e-14)


def test_separate_state_leaves_config_alone():
    config = {'learningRate': 0.1, 'momentum': 0.5}
    state = {}
    x = torch.DoubleTensor(X0)
    optim.sgd(opfunc_fresh, x, config, state)
    assert config == {'learningRate': 0.1, 'momentum': 0.5}
    assert state['evalCounter'] == 1 and 'dfdx' in state


def test_zero_learning_rate_is_zero_as_in_lua():
    # Lua's `config.learningRate or 1e-3` keeps 0 (0 is true in Lua)
    x = torch.DoubleTensor(X0)
    optim.sgd(opfunc_fresh, x, {'learningRate': 0})
    np.testing.assert_array_equal(x.numpy(), X0)


def test_weight_decay_is_added_to_the_gradient_in_place():
    opfunc, buf = make_opfunc_buffer()
    x = torch.DoubleTensor(X0)
    optim.sgd(opfunc, x, {'learningRate': 0.1, 'weightDecay': 0.5})
    np.testing.assert_allclose(buf.numpy(), quad(X0)[1] + 0.5 * X0, rtol=1e-15)


def test_buffers_are_allocated_once():
    opfunc, _ = make_opfunc_buffer()
    x = torch.DoubleTensor(X0)
    config = {'learningRate': 0.1, 'momentum': 0.9, 'learningRates': torch.ones(3)}
    optim.sgd(opfunc, x, config)
    bufs = {k: (v, v._a.__array_interface__['data'][0]) for k, v in config.items() if isinstance(v, torch.Tensor)
            and k in ('dfdx', 'deltaParameters')}
    ptr = x._a.__array_interface__['data'][0]
    for _ in range(3):
        optim.sgd(opfunc, x, config)
    for k, (t, p) in bufs.items():
        assert config[k] is t and t._a.__array_interface__['data'][0] == p
    assert x._a.__array_interface__['data'][0] == ptr


def test_float32():
    x = torch.FloatTensor(X0)

    def opfunc(x):
        f, g = quad(x.numpy().astype(np.float64))
        return f, torch.FloatTensor(g)
    optim.sgd(opfunc, x, {'learningRate': 0.1, 'momentum': 0.9})
    assert x.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(x.numpy(), X0 - 0.1 * quad(X0)[1], rtol=1e-6)


def test_numpy_gradient_is_accepted():
    x = torch.DoubleTensor(X0)
    optim.sgd(lambda x: quad(x.numpy().copy()), x, {'learningRate': 0.1})
    np.testing.assert_allclose(x.numpy(), X0 - 0.1 * quad(X0)[1], rtol=1e-15)


def test_errors_name_what_was_expected():
    with pytest.raises(TypeError, match='expected x to be a tensor'):
        optim.sgd(opfunc_fresh, X0)
    with pytest.raises(TypeError, match='df/dx'):
        optim.sgd(lambda x: (0.0, [1, 2, 3]), torch.DoubleTensor(X0))


@pytest.mark.parametrize('name', ['sgd', 'adam', 'adagrad', 'adadelta', 'adamax', 'rmsprop', 'nag', 'asgd', 'rprop',
                                  'lbfgs', 'cg', 'checkgrad'])
@pytest.mark.parametrize('ret,got', [(None, 'NoneType'), (1.0, 'float'), ((1.0,), 'a 1-element tuple'),
                                     ((1.0, None, 2), 'a 3-element tuple')])
def test_opfunc_not_returning_a_pair_is_a_clear_error(name, ret, got):
    with pytest.raises(TypeError, match=rf'optim\.{name}: opfunc\(x\) must return \(f\(x\), df/dx\), got {got}'):
        getattr(optim, name)(lambda x: ret, torch.DoubleTensor(X0), *([] if name == 'checkgrad' else [{}]))


@pytest.mark.parametrize('name', ['sgd', 'adam', 'adagrad', 'adadelta', 'adamax', 'rmsprop', 'nag', 'asgd', 'rprop',
                                  'lbfgs', 'cg'])
@pytest.mark.parametrize('config,state,bad,got', [(0.1, None, 'config', 'float'), ([], None, 'config', 'list'),
                                                  ({}, 'state', 'state', 'str')])
def test_config_or_state_not_a_table_is_a_clear_error(name, config, state, bad, got):
    x = torch.DoubleTensor(X0)
    with pytest.raises(TypeError, match=rf"optim\.{name}: expected {bad} to be a dict \(Lua's table\) or None, "
                                        rf"got {got}"):
        getattr(optim, name)(opfunc_fresh, x, config, state)
    np.testing.assert_array_equal(x.numpy(), X0)     # (checked before any step)

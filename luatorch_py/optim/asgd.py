"""Torch7's optim.asgd: averaged SGD as in L. Bottou's sgd-2.0."""
from .. import backend
from ._util import (evaluate, get_state, opt, grad_tensor, check_x, state_buffer, zeros_like, empty_like, fusable,
                    device_counter, advance_counter)


def asgd(opfunc, x, config=None, state=None):
    """One ASGD step; returns ``(x, [f(x)])``.  The averaged parameters are ``state['ax']`` (Torch7 returns
    them as a third value).

        x := (1 - lambda eta_t) x - eta_t df/dx(x)
        a := a + mu_t [ x - a ]
        eta_t = eta0 / (1 + lambda eta0 t) ^ alpha,   mu_t = 1 / max(1, t - t0)

    config (defaults are written into config, as in Torch7): ``eta0`` (1e-4), ``lambda`` (1e-4), ``alpha``
    (0.75), ``t0`` (1e6).  state: ``eta_t``, ``mu_t``, ``t``, ``ax`` (the average), ``tmp``.
    """
    check_x(x, 'asgd')
    config, state = get_state(config, state, 'asgd')
    config['eta0'] = opt(config, 'eta0', 1e-4)
    config['lambda'] = opt(config, 'lambda', 1e-4)
    config['alpha'] = opt(config, 'alpha', 0.75)
    config['t0'] = opt(config, 't0', 1e6)

    # (hidden state)
    state['eta_t'] = opt(state, 'eta_t', config['eta0'])
    state['mu_t'] = opt(state, 'mu_t', 1)
    state['t'] = opt(state, 't', 0)

    # (1) evaluate f(x) and df/dx
    fx, dfdx = evaluate(opfunc, x, 'asgd')
    dfdx = grad_tensor(dfdx, x, 'asgd')
    if fusable(x, dfdx) and _fused(config, state, x, dfdx):
        return x, [fx]

    # (2) decay term
    x.mul(1 - config['lambda'] * state['eta_t'])

    # (3) update x
    x.add(-state['eta_t'], dfdx)

    # (4) averaging
    ax = state_buffer(state, 'ax', lambda: zeros_like(x))
    tmp = state_buffer(state, 'tmp', lambda: empty_like(ax))
    if state['mu_t'] != 1:
        tmp.copy(x)
        tmp.add(-1, ax).mul(state['mu_t'])
        ax.add(tmp)
    else:
        ax.copy(x)

    # (5) update eta_t and mu_t
    state['t'] += 1
    state['eta_t'] = config['eta0'] / (1 + config['lambda'] * config['eta0'] * state['t']) ** config['alpha']
    state['mu_t'] = 1 / max(1, state['t'] - config['t0'])
    return x, [fx]


def _rates(config, t):
    """(eta_t, mu_t) after t steps: step (5)'s formulas."""
    return (config['eta0'] / (1 + config['lambda'] * config['eta0'] * t) ** config['alpha'],
            1 / max(1, t - config['t0']))


def _fused(config, state, x, dfdx):
    """Steps (2)-(5) in one kernel on the GPU, which computes eta_t and mu_t from a device copy of t with step
    (5)'s formulas (so that a captured step's replays follow the eager numbers), + one launch advancing it.  False
    (nothing done) when eta_t or mu_t is not what the formulas give for t (set by hand, or config changed: the
    eager code uses them as they are) or a state buffer does not fit."""
    t = state['t']
    if (state['eta_t'], state['mu_t']) != _rates(config, t):
        return False
    ax = state_buffer(state, 'ax', lambda: zeros_like(x))
    tmp = state_buffer(state, 'tmp', lambda: empty_like(ax))
    if not fusable(x, ax, tmp):
        return False
    backend.fused_optim('asgd', x._a, dfdx._a, ax._a, tmp._a, device_counter(state, 't'), config['eta0'],
                        config['lambda'], config['alpha'], config['t0'])

    def rates():
        state['eta_t'], state['mu_t'] = _rates(config, state['t'])
    advance_counter(state, 't', t, device=True, then=rates)
    return True

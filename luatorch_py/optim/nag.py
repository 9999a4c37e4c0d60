"""Torch7's optim.nag: SGD with Nesterov's accelerated gradient (Sutskever et al., ICML 2013)."""
from ._util import get_state, opt, grad_tensor, check_x, zeros_like, add_step


def nag(opfunc, x, config=None, state=None):
    """One NAG step: evaluate the gradient at x + momentum * velocity, then update velocity and x.

    config: ``learningRate`` (1e-3), ``learningRateDecay`` (0), ``weightDecay`` (0), ``momentum`` (0.9, must be
    > 0), ``dampening`` (read but unused, as in Torch7), ``learningRates`` (per-parameter tensor).
    state: ``evalCounter``, ``x_copy``, ``dfdx`` (the velocity), ``deltaParameters``.
    Returns ``(x, [f])`` with f evaluated at the look-ahead point.
    """
    check_x(x, 'nag')
    config, state = get_state(config, state)
    lr = opt(config, 'learningRate', 1e-3)
    lrd = opt(config, 'learningRateDecay', 0)
    wd = opt(config, 'weightDecay', 0)
    mom = opt(config, 'momentum', 0.9)
    lrs = opt(config, 'learningRates', None)
    nevals = state['evalCounter'] = opt(state, 'evalCounter', 0)
    if mom <= 0:
        raise ValueError(f"optim.nag: momentum must be positive for Nesterov Accelerated Gradient, got {mom}")

    # (1) first step in the direction of the momentum vector, then the gradient at that point
    xc = state.get('x_copy')
    if xc is None:
        xc = state['x_copy'] = x.clone()
    else:
        xc.resizeAs(x).copy(x)
    vel = state.get('dfdx')
    if vel is not None:
        x.add(mom, vel)
    fx, dfdx = opfunc(x)
    dfdx = grad_tensor(dfdx, x, 'nag')

    # (2) weight decay
    if wd != 0:
        dfdx.add(wd, x)

    # (3) learning rate decay (annealing)
    clr = lr / (1 + nevals * lrd)

    # (4) momentum
    if vel is None:
        vel = state['dfdx'] = zeros_like(dfdx)
    else:
        vel.mul(mom)

    # (5) parameter update with a single or individual learning rates
    add_step(state, vel, clr, dfdx, lrs, x)
    xc.add(vel)
    x.copy(xc)

    # (6) update evaluation counter
    state['evalCounter'] = nevals + 1
    return x, [fx]

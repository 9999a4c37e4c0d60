"""Torch7's optim.nag: SGD with Nesterov's accelerated gradient (Sutskever et al., ICML 2013)."""
from .. import backend
from ._util import (evaluate, get_state, opt, grad_tensor, check_x, zeros_like, empty_like, add_step, fusable,
                    device_counter, advance_counter)


def nag(opfunc, x, config=None, state=None):
    """One NAG step: evaluate the gradient at x + momentum * velocity, then update velocity and x.

    config: ``learningRate`` (1e-3), ``learningRateDecay`` (0), ``weightDecay`` (0), ``momentum`` (0.9, must be
    > 0), ``dampening`` (read but unused, as in Torch7), ``learningRates`` (per-parameter tensor).
    state: ``evalCounter``, ``x_copy``, ``dfdx`` (the velocity), ``deltaParameters``.
    Returns ``(x, [f])`` with f evaluated at the look-ahead point.
    """
    check_x(x, 'nag')
    config, state = get_state(config, state, 'nag')
    lr = opt(config, 'learningRate', 1e-3)
    lrd = opt(config, 'learningRateDecay', 0)
    wd = opt(config, 'weightDecay', 0)
    mom = opt(config, 'momentum', 0.9)
    lrs = opt(config, 'learningRates', None)
    nevals = state['evalCounter'] = opt(state, 'evalCounter', 0)
    if mom <= 0:
        raise ValueError(f"optim.nag: momentum must be positive for Nesterov Accelerated Gradient, got {mom}")

    # (1) first step in the direction of the momentum vector, then the gradient at that point
    vel = state.get('dfdx')
    pre = lrs is None and _fused_pre(state, x, vel, mom)
    xc = state.get('x_copy')
    if not pre:
        if xc is None:
            xc = state['x_copy'] = x.clone()
        else:
            xc.resizeAs(x).copy(x)
        if vel is not None:
            x.add(mom, vel)
    fx, dfdx = evaluate(opfunc, x, 'nag')
    dfdx = grad_tensor(dfdx, x, 'nag')
    if pre and fusable(x, dfdx):
        _fused(state, x, xc, dfdx, vel, lr, lrd, wd, mom, nevals)
        return x, [fx]

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
    if pre:                 # lt_nag_pre advanced the device copy
        state['_evalCounterOnDevice'] = nevals + 1
    return x, [fx]


def _fused_pre(state, x, vel, mom):
    """Step (1) before opfunc in one kernel on the GPU (x_copy = x; x += mom * velocity), which also advances the
    device copy of evalCounter (the update after opfunc reads it less one); False (nothing done) when a tensor
    does not fit."""
    if not fusable(x) or (vel is not None and not fusable(x, vel)):
        return False
    xc = state.get('x_copy')
    if xc is None:
        xc = state['x_copy'] = empty_like(x)       # Torch7's x:clone(): the kernel copies
    else:
        xc.resizeAs(x)
    if not fusable(x, xc):
        return False
    backend.fused_optim('nag_pre', x._a, xc._a, None if vel is None else vel._a, device_counter(state, 'evalCounter'),
                        mom)
    state['_evalCounterOnDevice'] = None            # one more than the host's, until the step ends
    return True


def _fused(state, x, xc, dfdx, vel, lr, lrd, wd, mom, nevals):
    """Steps (2)-(6) in one kernel on the GPU: weight decay, learning-rate decay (from the device counter, so
    that a captured step's replays decay it too), velocity, x_copy += velocity, x = x_copy.  2 launches a step
    with _fused_pre."""
    first = vel is None
    if first:
        vel = state['dfdx'] = empty_like(dfdx)     # Torch7's zeros: the kernel writes -clr * g into it
    backend.fused_optim('nag', x._a, xc._a, dfdx._a, vel._a, state['_evalCounterDevice']._a, lr, lrd, wd, mom, first)
    advance_counter(state, 'evalCounter', nevals, device=True)

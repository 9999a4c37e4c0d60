"""Torch7's optim.adagrad."""
from .. import backend
from ._util import (evaluate, get_state, opt, grad_tensor, check_x, state_buffer, zeros_like, empty_like, fusable,
                    device_counter, advance_counter)


def adagrad(opfunc, x, config=None, state=None):
    """One AdaGrad step; returns ``(x, [f(x)])``.

    config: ``learningRate`` (1e-3), ``learningRateDecay`` (0), ``weightDecay`` (0, added to the gradient in
    place).  state: ``evalCounter``, ``paramVariance`` (sum of squared gradients), ``paramStd``.

    clr = lr / (1 + evalCounter*lrd); paramVariance += g*g; x -= clr * g / (sqrt(paramVariance) + 1e-10).
    """
    check_x(x, 'adagrad')
    if config is None and state is None:
        print('no state table, ADAGRAD initializing')
    config, state = get_state(config, state, 'adagrad')
    lr = opt(config, 'learningRate', 1e-3)
    lrd = opt(config, 'learningRateDecay', 0)
    wd = opt(config, 'weightDecay', 0)
    nevals = state['evalCounter'] = opt(state, 'evalCounter', 0)

    # (1) evaluate f(x) and df/dx
    fx, dfdx = evaluate(opfunc, x, 'adagrad')
    dfdx = grad_tensor(dfdx, x, 'adagrad')
    if fusable(x, dfdx) and _fused(state, x, dfdx, lr, lrd, wd, nevals):
        return x, [fx]

    # (2) weight decay with a single parameter
    if wd != 0:
        dfdx.add(wd, x)

    # (3) learning rate decay (annealing)
    clr = lr / (1 + nevals * lrd)

    # (4) parameter update
    var = state_buffer(state, 'paramVariance', lambda: zeros_like(dfdx, x))
    std = state_buffer(state, 'paramStd', lambda: empty_like(dfdx, x))
    var.addcmul(1, dfdx, dfdx)
    std.resizeAs(var).copy(var).sqrt()
    x.addcdiv(-clr, dfdx, std.add(1e-10))

    # (5) update evaluation counter
    state['evalCounter'] = nevals + 1
    return x, [fx]


def _fused(state, x, dfdx, lr, lrd, wd, nevals):
    """Steps (2)-(5) in one kernel on the GPU; with a learning-rate decay, one more launch advances the device
    copy of evalCounter, which the kernel reads (without, it is neither read nor kept up to date: 1 launch).
    False (nothing done) when a state buffer does not fit."""
    var = state_buffer(state, 'paramVariance', lambda: zeros_like(dfdx, x))
    std = state_buffer(state, 'paramStd', lambda: empty_like(dfdx, x))
    if not fusable(x, var, std):
        return False
    backend.fused_optim('adagrad', x._a, dfdx._a, var._a, std._a, device_counter(state, 'evalCounter', lrd != 0), lr,
                        lrd, wd)
    advance_counter(state, 'evalCounter', nevals, device=lrd != 0)
    return True

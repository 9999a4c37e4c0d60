"""Torch7's optim.sgd: stochastic gradient descent with momentum, weight decay and learning-rate decay."""
from .. import backend
from ._util import (evaluate, get_state, opt, grad_tensor, check_x, empty_like, state_buffer, add_step, fusable,
                    device_counter, advance_counter)


def sgd(opfunc, x, config=None, state=None):
    """One SGD step.  ``opfunc(x)`` returns ``(f(x), df/dx)``; returns ``(x, [f(x)])`` with f before the step.

    config (read): ``learningRate`` (1e-3), ``learningRateDecay`` (0), ``weightDecay`` (0), ``weightDecays``
    (tensor of per-parameter decays, used when weightDecay is 0), ``momentum`` (0), ``dampening`` (= momentum),
    ``nesterov`` (False), ``learningRates`` (tensor of per-parameter rates).
    state (updated; defaults to config): ``evalCounter``, ``dfdx`` (momentum buffer), ``decayParameters``,
    ``deltaParameters``.

    As in Torch7, weight decay is added to the gradient tensor returned by opfunc, in place.
    """
    check_x(x, 'sgd')
    config, state = get_state(config, state, 'sgd')
    lr = opt(config, 'learningRate', 1e-3)
    lrd = opt(config, 'learningRateDecay', 0)
    wd = opt(config, 'weightDecay', 0)
    mom = opt(config, 'momentum', 0)
    damp = opt(config, 'dampening', mom)
    nesterov = opt(config, 'nesterov', False)
    lrs = opt(config, 'learningRates', None)
    wds = opt(config, 'weightDecays', None)
    nevals = state['evalCounter'] = opt(state, 'evalCounter', 0)
    if nesterov and not (mom > 0 and damp == 0):
        raise ValueError("optim.sgd: Nesterov momentum requires a momentum and zero dampening "
                         f"(got momentum={mom}, dampening={damp})")

    # (1) evaluate f(x) and df/dx
    fx, dfdx = evaluate(opfunc, x, 'sgd')
    dfdx = grad_tensor(dfdx, x, 'sgd')

    buf = state.get('dfdx')
    # (a momentum buffer the kernel cannot index as x, flat, is left to the tensor code below)
    if lrs is None and (wd != 0 or wds is None) and fusable(x, dfdx) and (mom == 0 or buf is None or fusable(x, buf)):
        _fused(state, x, dfdx, lr, lrd, wd, mom, damp, nesterov, nevals)
        return x, [fx]

    # (2) weight decay with a single or individual parameters
    if wd != 0:
        dfdx.add(wd, x)
    elif wds is not None:
        dp = state_buffer(state, 'decayParameters', lambda: empty_like(dfdx, x))
        dp.copy(wds).cmul(x)
        dfdx.add(dp)

    # (3) momentum
    if mom != 0:
        buf = state.get('dfdx')
        if buf is None:
            buf = state['dfdx'] = dfdx.clone()
        else:
            buf.mul(mom).add(1 - damp, dfdx)
        if nesterov:
            dfdx.add(mom, buf)
        else:
            dfdx = buf

    # (4) learning rate decay (annealing)
    clr = lr / (1 + nevals * lrd)

    # (5) parameter update with a single or individual learning rates
    add_step(state, x, clr, dfdx, lrs, x)

    # (6) update evaluation counter
    state['evalCounter'] = nevals + 1
    return x, [fx]


def _fused(state, x, dfdx, lr, lrd, wd, mom, damp, nesterov, nevals):
    """Steps (2)-(6) in one kernel on the GPU, the learning-rate decay reading a device copy of the evaluation
    counter (so that a captured step's replays decay it too; each replay advances the host counter after it)."""
    buf = state.get('dfdx')
    first = buf is None
    if mom != 0 and first:
        buf = state['dfdx'] = empty_like(dfdx, x)
    counter = device_counter(state, 'evalCounter')      # the host counter, copied over when it was set (a fill)
    backend.fused_optim('sgd', x._a, dfdx._a, (buf if mom != 0 else dfdx)._a, counter, lr, lrd, wd, mom, damp,
                        nesterov, first)
    advance_counter(state, 'evalCounter', nevals, device=True)   # now, or after each replay when captured

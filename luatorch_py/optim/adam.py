"""Torch7's optim.adam (Kingma & Ba, http://arxiv.org/pdf/1412.6980.pdf)."""
import math

from .. import backend
from ._util import (evaluate, get_state, opt, grad_tensor, check_x, state_buffer, zeros_like, fusable, device_counter,
                    advance_counter)


def adam(opfunc, x, config=None, state=None):
    """One Adam step; returns ``(x, [f(x)])`` with f before the step.

    config: ``learningRate`` (1e-3), ``learningRateDecay`` (0), ``beta1`` (0.9), ``beta2`` (0.999), ``epsilon``
    (1e-8), ``weightDecay`` (0, added to the gradient in place).
    state: ``t`` (step count), ``m`` and ``v`` (first and second moment estimates), ``denom`` (sqrt(v) + eps).

    Torch7's formulas: clr = lr / (1 + t*lrd) with t the count before the step; then t += 1,
    m = beta1*m + (1-beta1)*g, v = beta2*v + (1-beta2)*g*g, denom = sqrt(v) + eps,
    x -= clr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / denom.
    """
    check_x(x, 'adam')
    config, state = get_state(config, state, 'adam')
    lr = opt(config, 'learningRate', 0.001)
    lrd = opt(config, 'learningRateDecay', 0)
    beta1 = opt(config, 'beta1', 0.9)
    beta2 = opt(config, 'beta2', 0.999)
    epsilon = opt(config, 'epsilon', 1e-8)
    wd = opt(config, 'weightDecay', 0)

    # (1) evaluate f(x) and df/dx
    fx, dfdx = evaluate(opfunc, x, 'adam')
    dfdx = grad_tensor(dfdx, x, 'adam')
    if fusable(x, dfdx) and _fused(state, x, dfdx, lr, lrd, beta1, beta2, epsilon, wd):
        return x, [fx]

    # (2) weight decay
    if wd != 0:
        dfdx.add(wd, x)

    # initialization
    t = opt(state, 't', 0)
    m, v, denom = (state_buffer(state, k, lambda: zeros_like(dfdx, x)) for k in ('m', 'v', 'denom'))

    # (3) learning rate decay (annealing)
    clr = lr / (1 + t * lrd)
    t = state['t'] = t + 1

    # decay the first and second moment running averages
    m.mul(beta1).add(1 - beta1, dfdx)
    v.mul(beta2).addcmul(1 - beta2, dfdx, dfdx)
    denom.copy(v).sqrt().add(epsilon)

    bias_correction1 = 1 - beta1 ** t
    bias_correction2 = 1 - beta2 ** t
    step_size = clr * math.sqrt(bias_correction2) / bias_correction1
    # (4) update x
    x.addcdiv(-step_size, m, denom)
    return x, [fx]


def _fused(state, x, dfdx, lr, lrd, beta1, beta2, epsilon, wd):
    """Steps (2)-(4) in one kernel on the GPU (+ one launch advancing the device copy of t, which the kernel
    reads for the decay and the bias corrections, so that a captured step's replays follow the eager numbers);
    False (nothing done) when a state buffer does not fit."""
    t = state['t'] = opt(state, 't', 0)
    m, v, denom = (state_buffer(state, k, lambda: zeros_like(dfdx, x)) for k in ('m', 'v', 'denom'))
    if not fusable(x, m, v, denom):
        return False
    backend.fused_optim('adam', x._a, dfdx._a, m._a, v._a, denom._a, device_counter(state, 't'), lr, lrd, beta1,
                        beta2, epsilon, wd)
    advance_counter(state, 't', t, device=True)
    return True

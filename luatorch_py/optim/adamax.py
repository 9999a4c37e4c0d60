"""Torch7's optim.adamax: Adam's infinity-norm variant (http://arxiv.org/pdf/1412.6980.pdf, section 7)."""
from .. import backend
from ._util import (evaluate, get_state, opt, grad_tensor, check_x, state_buffer, zeros_like, fusable, device_counter,
                    advance_counter)


def adamax(opfunc, x, config=None, state=None):
    """One AdaMax step; returns ``(x, [f(x)])``.

    config: ``learningRate`` (0.002), ``beta1`` (0.9), ``beta2`` (0.999), ``epsilon`` (1e-38), ``weightDecay``
    (0, added to the gradient in place).
    state: ``t``, ``m`` (moving average of gradients), ``u`` (exponentially weighted infinity norm), ``max``
    (a 2 x size scratch tensor for the max, as in Torch7).

    t += 1; m = beta1*m + (1-beta1)*g; u = max(beta2*u, |g| + eps); x -= lr / (1 - beta1^t) * m / u.
    """
    check_x(x, 'adamax')
    config, state = get_state(config, state, 'adamax')
    lr = opt(config, 'learningRate', 0.002)
    beta1 = opt(config, 'beta1', 0.9)
    beta2 = opt(config, 'beta2', 0.999)
    epsilon = opt(config, 'epsilon', 1e-38)
    wd = opt(config, 'weightDecay', 0)

    # (1) evaluate f(x) and df/dx
    fx, dfdx = evaluate(opfunc, x, 'adamax')
    dfdx = grad_tensor(dfdx, x, 'adamax')
    if fusable(x, dfdx) and _fused(state, x, dfdx, lr, beta1, beta2, epsilon, wd):
        return x, [fx]

    # (2) weight decay
    if wd != 0:
        dfdx.add(wd, x)

    # initialization
    t = opt(state, 't', 0)
    m, u = (state_buffer(state, k, lambda: zeros_like(dfdx, x)) for k in ('m', 'u'))
    mx = state_buffer(state, 'max', lambda: type(x)((2,) + tuple(dfdx._a.shape)).zero())
    t = state['t'] = t + 1

    # update the biased first moment estimate and the exponentially weighted infinity norm
    m.mul(beta1).add(1 - beta1, dfdx)
    m0, m1 = mx[0], mx[1]
    m0.copy(u).mul(beta2)
    m1.copy(dfdx).abs().add(epsilon)
    u.cmax(m0, m1)

    step_size = lr / (1 - beta1 ** t)
    # (3) update x
    x.addcdiv(-step_size, m, u)
    return x, [fx]


def _fused(state, x, dfdx, lr, beta1, beta2, epsilon, wd):
    """Steps (2)-(3) in one kernel on the GPU (+ one launch advancing the device copy of t, read for the bias
    correction); False (nothing done) when a state buffer does not fit."""
    t = state['t'] = opt(state, 't', 0)
    m, u = (state_buffer(state, k, lambda: zeros_like(dfdx, x)) for k in ('m', 'u'))
    mx = state_buffer(state, 'max', lambda: type(x)((2,) + tuple(dfdx._a.shape)).zero())
    if not (fusable(x, m, u) and type(mx) is type(x) and mx._a.shape == (2,) + x._a.shape
            and mx._a.flags.c_contiguous):
        return False
    backend.fused_optim('adamax', x._a, dfdx._a, m._a, u._a, mx._a, device_counter(state, 't'), lr, beta1, beta2,
                        epsilon, wd)
    advance_counter(state, 't', t, device=True)
    return True

"""Torch7's optim.rmsprop."""
from .. import backend
from ._util import evaluate, get_state, opt, grad_tensor, check_x, state_buffer, empty_like, fusable


def rmsprop(opfunc, x, config=None, state=None):
    """One RMSprop step; returns ``(x, [f(x)])``.

    config: ``learningRate`` (1e-2), ``alpha`` (0.99, smoothing constant), ``epsilon`` (1e-8), ``weightDecay``
    (0, added to the gradient in place), ``initialMean`` (0, the value state.m starts from).
    state: ``m`` (leaky mean of squared gradients), ``tmp`` (sqrt(m) + epsilon).

    m = alpha*m + (1-alpha)*g*g; x -= lr * g / (sqrt(m) + epsilon).
    """
    check_x(x, 'rmsprop')
    config, state = get_state(config, state, 'rmsprop')
    lr = opt(config, 'learningRate', 1e-2)
    alpha = opt(config, 'alpha', 0.99)
    epsilon = opt(config, 'epsilon', 1e-8)
    wd = opt(config, 'weightDecay', 0)
    mfill = opt(config, 'initialMean', 0)

    # (1) evaluate f(x) and df/dx
    fx, dfdx = evaluate(opfunc, x, 'rmsprop')
    dfdx = grad_tensor(dfdx, x, 'rmsprop')
    if fusable(x, dfdx):        # steps (2)-(5) in one kernel on the GPU, when the state buffers fit
        m = state_buffer(state, 'm', lambda: empty_like(dfdx, x).fill(mfill))
        tmp = state_buffer(state, 'tmp', lambda: empty_like(dfdx, x))
        if fusable(x, m, tmp):
            backend.fused_optim('rmsprop', x._a, dfdx._a, m._a, tmp._a, lr, alpha, epsilon, wd)
            return x, [fx]

    # (2) weight decay
    if wd != 0:
        dfdx.add(wd, x)

    # (3) initialize mean square values and square gradient storage
    m = state_buffer(state, 'm', lambda: empty_like(dfdx, x).fill(mfill))
    tmp = state_buffer(state, 'tmp', lambda: empty_like(dfdx, x))

    # (4) calculate new (leaky) mean squared values
    m.mul(alpha)
    m.addcmul(1.0 - alpha, dfdx, dfdx)

    # (5) perform update
    tmp.sqrt(m).add(epsilon)
    x.addcdiv(-lr, dfdx, tmp)
    return x, [fx]

"""Torch7's optim.adadelta (Zeiler, http://arxiv.org/abs/1212.5701)."""
from ._util import get_state, opt, grad_tensor, check_x, state_buffer, zeros_like


def adadelta(opfunc, x, config=None, state=None):
    """One AdaDelta step; returns ``(x, [f(x)])``.

    config: ``rho`` (0.9), ``eps`` (1e-6), ``weightDecay`` (0, added to the gradient in place).
    state: ``evalCounter``, ``paramVariance`` (E[g^2]), ``paramStd``, ``delta``, ``accDelta`` (E[dx^2]).

    paramVariance = rho*paramVariance + (1-rho)*g*g; paramStd = sqrt(paramVariance + eps);
    delta = sqrt(accDelta + eps) / paramStd * g; x -= delta; accDelta = rho*accDelta + (1-rho)*delta^2.
    """
    check_x(x, 'adadelta')
    if config is None and state is None:
        print('no state table, ADADELTA initializing')
    config, state = get_state(config, state)
    rho = opt(config, 'rho', 0.9)
    eps = opt(config, 'eps', 1e-6)
    wd = opt(config, 'weightDecay', 0)
    state['evalCounter'] = opt(state, 'evalCounter', 0)

    # (1) evaluate f(x) and df/dx
    fx, dfdx = opfunc(x)
    dfdx = grad_tensor(dfdx, x, 'adadelta')

    # (2) weight decay
    if wd != 0:
        dfdx.add(wd, x)

    # (3) parameter update
    var, std, delta, acc = (state_buffer(state, k, lambda: zeros_like(dfdx, x))
                            for k in ('paramVariance', 'paramStd', 'delta', 'accDelta'))
    var.mul(rho).addcmul(1 - rho, dfdx, dfdx)
    std.resizeAs(var).copy(var).add(eps).sqrt()
    delta.resizeAs(var).copy(acc).add(eps).sqrt().cdiv(std).cmul(dfdx)
    x.add(-1, delta)
    acc.mul(rho).addcmul(1 - rho, delta, delta)

    # (4) update evaluation counter
    state['evalCounter'] += 1
    return x, [fx]

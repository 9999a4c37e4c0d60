"""Torch7's optim.adadelta (Zeiler, http://arxiv.org/abs/1212.5701)."""
from .. import backend
from ._util import evaluate, get_state, opt, grad_tensor, check_x, state_buffer, zeros_like, fusable, advance_counter


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
    config, state = get_state(config, state, 'adadelta')
    rho = opt(config, 'rho', 0.9)
    eps = opt(config, 'eps', 1e-6)
    wd = opt(config, 'weightDecay', 0)
    state['evalCounter'] = opt(state, 'evalCounter', 0)

    # (1) evaluate f(x) and df/dx
    fx, dfdx = evaluate(opfunc, x, 'adadelta')
    dfdx = grad_tensor(dfdx, x, 'adadelta')
    if fusable(x, dfdx) and _fused(state, x, dfdx, rho, eps, wd):
        return x, [fx]

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


def _fused(state, x, dfdx, rho, eps, wd):
    """Steps (2)-(4) in one kernel on the GPU (the update reads no counter: evalCounter advances on the host, per
    replay for a captured step); False (nothing done) when a state buffer does not fit."""
    bufs = [state_buffer(state, k, lambda: zeros_like(dfdx, x)) for k in ('paramVariance', 'paramStd', 'delta',
                                                                          'accDelta')]
    if not fusable(x, *bufs):
        return False
    backend.fused_optim('adadelta', x._a, dfdx._a, *(b._a for b in bufs), rho, eps, wd)
    advance_counter(state, 'evalCounter', state['evalCounter'], device=False)
    return True

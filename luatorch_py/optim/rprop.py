"""Torch7's optim.rprop: resilient backpropagation (Riedmiller)."""
from .. import backend
from ..types import on_device, TYPES
from ._util import evaluate, get_state, opt, grad_tensor, check_x, zeros_like, empty_like, fusable

_BYTE = TYPES['torch.ByteTensor']


def rprop(opfunc, x, config=None, state=None):
    """``niter`` RPROP steps; returns ``(x, [f(x) before each step])``.

    config: ``stepsize`` (0.1, initial step size), ``etaplus`` (1.2), ``etaminus`` (0.5), ``stepsizemax`` (50),
    ``stepsizemin`` (1e-6), ``niter`` (1).
    state: ``delta`` (last gradient), ``stepsize`` (per-parameter step sizes -- note that, as in Torch7, this
    replaces config['stepsize'] when state is config), ``sign``, ``psign``, ``nsign``, ``zsign``, ``dminmax``
    (ByteTensor masks, on the GPU for CUDA tensors).

    Per element: s = sign(g * delta); step *= etaplus where s > 0, etaminus where s < 0; step clamped to
    [stepsizemin, stepsizemax]; g = 0 where s < 0; x -= sign(g) * step; delta = g.  The gradient tensor
    returned by opfunc is modified in place (g = 0 where the sign flipped), as in Torch7.
    """
    check_x(x, 'rprop')
    if config is None and state is None:
        print('no state table RPROP initializing')
    config, state = get_state(config, state, 'rprop')
    stepsize = opt(config, 'stepsize', 0.1)
    etaplus = opt(config, 'etaplus', 1.2)
    etaminus = opt(config, 'etaminus', 0.5)
    stepsizemax = opt(config, 'stepsizemax', 50.0)
    stepsizemin = opt(config, 'stepsizemin', 1e-06)
    niter = opt(config, 'niter', 1)

    hfx = []
    for _ in range(niter):
        # (1) evaluate f(x) and df/dx
        fx, dfdx = evaluate(opfunc, x, 'rprop')
        dfdx = grad_tensor(dfdx, x, 'rprop')

        # init temp storage
        if state.get('delta') is None:
            byte = on_device(_BYTE, dfdx._info.cuda).tensor_class
            shape = dfdx._a.shape
            state['delta'] = zeros_like(dfdx)
            state['stepsize'] = empty_like(dfdx).fill(stepsize)
            state['sign'] = empty_like(dfdx)
            state['psign'] = byte(shape)
            state['nsign'] = byte(shape)
            state['zsign'] = byte(shape)
            state['dminmax'] = byte(shape)
        sign, step, delta = state['sign'], state['stepsize'], state['delta']
        if fusable(x, dfdx, sign, step, delta) and all(_mask_fits(state.get(k), x) for k in _MASKS):
            # everything below in one kernel on the GPU
            backend.fused_optim('rprop', x._a, dfdx._a, delta._a, step._a, sign._a, *(state[k]._a for k in _MASKS),
                                etaplus, etaminus, stepsizemax, stepsizemin)
            hfx.append(fx)
            continue
        xp = dfdx._info.xp
        # sign of derivative from last step to this one
        sign.cmul(dfdx, delta).sign()

        # Torch7's gt/lt/eq(mask, t, v) resize a mask to t's shape (x may have been reshaped since the last call)
        for k in ('psign', 'nsign', 'zsign'):
            state[k].resizeAs(sign)
        state['dminmax'].resizeAs(step)
        # the ByteTensor masks, seen as bool arrays (written in place, no temporaries)
        psign, nsign, zsign, dminmax = (state[k]._a.view(bool) for k in ('psign', 'nsign', 'zsign', 'dminmax'))

        # masks of > 0, < 0 and == 0 entries
        s = sign._a
        xp.greater(s, 0, out=psign)
        xp.less(s, 0, out=nsign)
        xp.equal(s, 0, out=zsign)

        # step size updates
        xp.copyto(s, etaplus, where=psign)
        xp.copyto(s, etaminus, where=nsign)
        xp.copyto(s, 1, where=zsign)
        step.cmul(sign)

        # threshold step sizes
        st = step._a
        xp.greater(st, stepsizemax, out=dminmax)
        xp.copyto(st, stepsizemax, where=dminmax)
        xp.less(st, stepsizemin, out=dminmax)
        xp.copyto(st, stepsizemin, where=dminmax)

        # for dir < 0, dfdx = 0; for dir >= 0, dfdx = dfdx
        xp.copyto(dfdx._a, 0, where=nsign)
        sign.sign(dfdx)

        # update weights
        x.addcmul(-1, sign, step)

        # remember the current gradient
        delta.copy(dfdx)
        hfx.append(fx)
    return x, hfx


_MASKS = ('psign', 'nsign', 'zsign', 'dminmax')


def _mask_fits(t, x):
    """Whether the fused kernel can write mask ``t``: a CUDA ByteTensor of x's shape, C-contiguous."""
    a = getattr(t, '_a', None)
    return (a is not None and t._info.cuda and a.dtype == 'uint8' and a.shape == x._a.shape
            and a.flags.c_contiguous)

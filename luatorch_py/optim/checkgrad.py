"""Torch7's optim.checkgrad: compare a gradient with central finite differences."""
import itertools

from ._util import evaluate, grad_tensor, check_x, lua_div


def _loss(v):
    return float(v)   # Python/numpy numbers, or a one-element tensor (Torch7 copies tensor losses)


def checkgrad(opfunc, x, eps=1e-7):
    """Returns ``(diff, dC, dC_est)``: dC the gradient opfunc(x) returns (copied, shaped like x), dC_est the
    central differences (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for every element i of x, and
    diff = |dC - dC_est| / |dC + dC_est| (should be near 0; about eps^2 relative for smooth functions).

    x is perturbed element by element and restored exactly.  dC is copied before the perturbed evaluations, so
    an opfunc that returns the same gradient buffer every call (as nn's getParameters() does) is fine.
    """
    check_x(x, 'checkgrad')
    if eps is None:
        eps = 1e-7
    # compute true gradient
    _, dC = evaluate(opfunc, x, 'checkgrad')
    dC = grad_tensor(dC, x, 'checkgrad')
    if dC.nElement() != x.nElement():
        raise ValueError(f"optim.checkgrad: the gradient has {dC.nElement()} elements, x has {x.nElement()}")
    dC = dC.clone().resize(x.shape)

    # compute numeric approximations to the gradient
    dC_est = type(dC)(x.shape)
    xa, est = x._a, dC_est._a
    for idx in itertools.product(*(range(n) for n in xa.shape)):
        orig = xa[idx].item()
        xa[idx] = orig + eps
        c1 = _loss(opfunc(x)[0])
        xa[idx] = xa[idx].item() - 2 * eps
        c2 = _loss(opfunc(x)[0])
        xa[idx] = orig
        est[idx] = (c1 - c2) / (2 * eps)

    # estimate error of gradient
    diff = lua_div((dC - dC_est).norm(), (dC + dC_est).norm())
    return diff, dC, dC_est

"""Torch7's nn.Jacobian: compare a module's backward with central finite differences (in float64).

Inputs and outputs may be tensors or (nested) lists of tensors, for table modules.  Each ``test*`` returns the
largest absolute difference between the two Jacobians; Torch7's nn tests accept 1e-5.
"""
import numpy as np

from ..tensor import Tensor
from .. import random as _random


def _tensors(x):
    """The tensors in ``x`` (a tensor or nested lists of them), in order."""
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for e in x for t in _tensors(e)]
    raise TypeError(f"Jacobian: expected a tensor or a list of tensors, got {type(x).__name__}")


def _flat(x):
    ts = _tensors(x)
    return np.concatenate([np.asarray(t.double().numpy(), dtype=np.float64).reshape(-1) for t in ts]) \
        if ts else np.zeros(0)


def _zeros_like(x):
    if isinstance(x, Tensor):
        return type(x)(x.shape if x.nElement() else ()).zero() if x.nElement() else type(x)()
    return [_zeros_like(e) for e in x]


def _elements(ts):
    """(tensor, flat index) for every element of the tensors, row-major."""
    return [(t, i) for t in ts for i in range(t.nElement())]


def _set(t, i, v):
    t._a[np.unravel_index(i, t._a.shape)] = v


def _get(t, i):
    return t._a[np.unravel_index(i, t._a.shape)].item()


def backward(module, input, param=None, dparam=None):
    """Jacobian (n_param x n_out) from backward passes with one-hot gradOutputs.  With ``param``/``dparam``
    (tensors or lists of tensors) it is taken with respect to parameters, through accGradParameters."""
    out = module.forward(input)
    outs = _tensors(out)
    n_out = sum(t.nElement() for t in outs)
    rows = _flat(dparam) if dparam is not None else _flat(input)
    jac = np.zeros((rows.size, n_out))
    grad = _zeros_like(out)
    for j, (t, i) in enumerate(_elements(_tensors(grad))):
        for g in _tensors(grad):
            g.zero()
        _set(t, i, 1)
        if dparam is not None:
            for d in _tensors(dparam):
                d.zero()
            module.forward(input)
            module.updateGradInput(input, grad)   # containers route gradients through their children
            module.accGradParameters(input, grad, 1)
            jac[:, j] = _flat(dparam)
        else:
            module.forward(input)
            jac[:, j] = _flat(module.updateGradInput(input, grad))
    return jac


def forward(module, input, param=None, perturbation=1e-6):
    """Jacobian (n_param x n_out) by central differences of forward, over ``param`` (default: the input)."""
    targets = _tensors(param if param is not None else input)
    n_out = _flat(module.forward(input)).size
    elems = _elements(targets)
    jac = np.zeros((len(elems), n_out))
    for k, (t, i) in enumerate(elems):
        orig = _get(t, i)
        _set(t, i, orig - perturbation)
        f1 = _flat(module.forward(input)).copy()
        _set(t, i, orig + perturbation)
        f2 = _flat(module.forward(input)).copy()
        _set(t, i, orig)
        jac[k] = (f2 - f1) / (2 * perturbation)
    return jac


def _randomize(x, minval, maxval):
    for t in _tensors(x):
        t.copy(_random._default.uniform_array(t.nElement(), minval, maxval))


def testJacobian(module, input, minval=-2, maxval=2, perturbation=1e-6, randomize=True):
    """Max |backward Jacobian - finite-difference Jacobian| with respect to the input.  As Torch7, the input
    is first refilled uniformly in [minval, maxval] (pass randomize=False to keep it)."""
    if randomize:
        _randomize(input, minval, maxval)
    jac_f = forward(module, input, perturbation=perturbation)
    jac_b = backward(module, input)
    return float(np.abs(jac_f - jac_b).max()) if jac_f.size else 0.0


def testJacobianParameters(module, input, param, dparam, minval=-2, maxval=2, perturbation=1e-6,
                           randomize=True):
    """The same with respect to parameters ``param`` (e.g. module.weight) and their gradients ``dparam``."""
    if randomize:
        _randomize(input, minval, maxval)
        _randomize(param, minval, maxval)
    jac_b = backward(module, input, param, dparam)
    jac_f = forward(module, input, param, perturbation)
    return float(np.abs(jac_f - jac_b).max()) if jac_f.size else 0.0


def testJacobianUpdateParameters(module, input, param, minval=-2, maxval=2, perturbation=1e-6,
                                 randomize=True):
    """Max difference between the update of ``param`` made by accUpdateGradParameters and the one predicted
    by finite differences (Torch7's check that the update goes the right way, with the right size)."""
    if randomize:
        _randomize(input, minval, maxval)
        _randomize(param, minval, maxval)
    params_before = _flat(param).copy()
    out = module.forward(input)
    grad = _zeros_like(out)
    for g in _tensors(grad):
        g.fill(1)
    jac_f = forward(module, input, param, perturbation)
    module.forward(input)
    module.updateGradInput(input, grad)
    module.accUpdateGradParameters(input, grad, 1)
    params_after = _flat(param)
    expected = params_before - jac_f.sum(1)
    return float(np.abs(expected - params_after).max()) if expected.size else 0.0


def testJacobianCriterion(criterion, input, target, perturbation=1e-6):
    """Max |criterion.backward - finite differences of criterion.forward| over the input elements."""
    analytic = _flat(criterion.backward(input, target)).copy()
    numeric = np.zeros_like(analytic)
    for k, (t, i) in enumerate(_elements(_tensors(input))):
        orig = _get(t, i)
        _set(t, i, orig - perturbation)
        f1 = criterion.forward(input, target)
        _set(t, i, orig + perturbation)
        f2 = criterion.forward(input, target)
        _set(t, i, orig)
        numeric[k] = (f2 - f1) / (2 * perturbation)
    return float(np.abs(numeric - analytic).max()) if numeric.size else 0.0


class Jacobian:
    """``nn.Jacobian.testJacobian(module, input)`` etc., as in Torch7."""
    backward = staticmethod(backward)
    forward = staticmethod(forward)
    testJacobian = staticmethod(testJacobian)
    testJacobianParameters = staticmethod(testJacobianParameters)
    testJacobianUpdateParameters = staticmethod(testJacobianUpdateParameters)
    testJacobianCriterion = staticmethod(testJacobianCriterion)

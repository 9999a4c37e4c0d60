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
    perturbation = 1e-6 if perturbation is None else perturbation    # Lua's `perturbation or 1e-6`
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
    minval, maxval = (-2 if minval is None else minval), (2 if maxval is None else maxval)   # Lua's `minval or -2`
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


def backwardUpdate(module, input, param):
    """(n_param x n_out): ``param`` after accUpdateGradParameters(input, one-hot gradOutput, 1), one column per
    output element, the module's parameters restored before each and at the end (Torch7's backwardUpdate)."""
    params = module.parameters()[0]
    saved = [p.clone() for p in params]
    out = module.forward(input)
    grad = _zeros_like(out)
    jac = np.zeros((_flat(param).size, _flat(out).size))
    for j, (t, i) in enumerate(_elements(_tensors(grad))):
        for p, s in zip(params, saved):
            p.copy(s)
        for g in _tensors(grad):
            g.zero()
        _set(t, i, 1)
        module.updateGradInput(input, grad)
        module.accUpdateGradParameters(input, grad, 1)
        jac[:, j] = _flat(param)
    for p, s in zip(params, saved):
        p.copy(s)
    return jac


def forwardUpdate(module, input, param, perturbation=1e-6):
    """(n_param x n_out): param[k] - d out[j] / d param[k] by central differences (Torch7's forwardUpdate)."""
    return _flat(param)[:, None] - forward(module, input, param, perturbation)


def testJacobianUpdateParameters(module, input, param, minval=-2, maxval=2, perturbation=1e-6,
                                 randomize=True):
    """Max difference between the update of ``param`` made by accUpdateGradParameters and the one predicted
    by finite differences, for each output element alone (Torch7's check that the update goes the right way,
    with the right size); the parameters are left as they were."""
    if randomize:
        _randomize(input, minval, maxval)
        _randomize(param, minval, maxval)
    params_bprop = backwardUpdate(module, input, param)
    params_fprop = forwardUpdate(module, input, param, perturbation)
    return float(np.abs(params_fprop - params_bprop).max()) if params_fprop.size else 0.0


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


def _rand_like(t, minval=0, maxval=1):
    """A tensor of t's type and shape, uniform in [minval, maxval) from the global stream (Lua's
    torch.rand(n):mul(maxval - minval):add(minval))."""
    r = t.clone()
    _randomize(r, minval, maxval)
    return r


def testIO(module, input, minval=-2, maxval=2):
    """(max |output difference|, max |gradInput difference|) between ``module`` and its copy written to a .t7
    file and read back, after forward, updateGradInput and accGradParameters with a random gradOutput
    (Torch7's testIO)."""
    import os
    import tempfile
    from ..serialization.t7 import load, save
    module.forward(input)
    go = _rand_like(module.output, minval, maxval)      # (None: _randomize's Lua defaults)
    module.zeroGradParameters()
    module.updateGradInput(input, go)
    module.accGradParameters(input, go)
    fo, bo = module.output.clone(), module.gradInput.clone()
    fd, filename = tempfile.mkstemp(suffix='.t7')
    os.close(fd)
    try:
        save(filename, module)
        m = load(filename)
    finally:
        os.remove(filename)
    m.forward(input)
    m.zeroGradParameters()
    m.updateGradInput(input, go)
    m.accGradParameters(input, go)
    return (float(np.abs(_flat(fo) - _flat(m.output)).max(initial=0)),
            float(np.abs(_flat(bo) - _flat(m.gradInput)).max(initial=0)))


def testAllUpdate(module, input, weight, gradWeight):
    """Torch7's testAllUpdate: a dict of errors (norms, each ~0) between updateParameters after
    accGradParameters, accUpdateGradParameters, and both again on two clones sharing the field ``weight``
    (names of fields, e.g. 'weight', 'gradWeight'); lr is drawn as torch.uniform(0.1, 1)."""
    lr = _random._default.uniform(0.1, 1)
    errors = {}

    def norm(t):
        return float(np.linalg.norm(_flat(t)))

    maccgp = module.clone()
    weightc = getattr(maccgp, weight).clone()
    maccgp.forward(input)
    gradOutput = _rand_like(maccgp.output)
    maccgp.zeroGradParameters()
    maccgp.updateGradInput(input, gradOutput)
    maccgp.accGradParameters(input, gradOutput)
    maccgp.updateParameters(lr)
    step = getattr(maccgp, gradWeight).clone().mul(lr)
    errors["accGradParameters"] = norm(weightc - step - getattr(maccgp, weight))

    maccugp = module.clone()
    maccugp.forward(input)
    maccugp.updateGradInput(input, gradOutput)
    maccugp.accUpdateGradParameters(input, gradOutput, lr)
    errors["accUpdateGradParameters"] = norm(getattr(maccugp, weight) - getattr(maccgp, weight))

    expected = weightc - step * 2
    macsh1, macsh2 = module.clone(), module.clone()
    macsh2.share(macsh1, weight)
    for m in (macsh1, macsh2):
        m.forward(input)
    for m in (macsh1, macsh2):
        m.zeroGradParameters()
    for m in (macsh1, macsh2):
        m.updateGradInput(input, gradOutput)
    for m in (macsh1, macsh2):
        m.accGradParameters(input, gradOutput)
    for m in (macsh1, macsh2):
        m.updateParameters(lr)
    errors["accGradParameters [shared]"] = (norm(expected - getattr(macsh1, weight))
                                            + norm(expected - getattr(macsh2, weight)))

    macshu1, macshu2 = module.clone(), module.clone()
    macshu2.share(macshu1, weight)
    for m in (macshu1, macshu2):
        m.forward(input)
    for m in (macshu1, macshu2):
        m.updateGradInput(input, gradOutput)
    for m in (macshu1, macshu2):
        m.accUpdateGradParameters(input, gradOutput, lr)
    errors["accUpdateGradParameters [shared]"] = (norm(expected - getattr(macshu1, weight))
                                                  + norm(expected - getattr(macshu2, weight)))
    return errors


class Jacobian:
    """``nn.Jacobian.testJacobian(module, input)`` etc., as in Torch7."""
    backward = staticmethod(backward)
    forward = staticmethod(forward)
    backwardUpdate = staticmethod(backwardUpdate)
    forwardUpdate = staticmethod(forwardUpdate)
    testJacobian = staticmethod(testJacobian)
    testJacobianParameters = staticmethod(testJacobianParameters)
    testJacobianUpdateParameters = staticmethod(testJacobianUpdateParameters)
    testJacobianCriterion = staticmethod(testJacobianCriterion)
    testIO = staticmethod(testIO)
    testAllUpdate = staticmethod(testAllUpdate)

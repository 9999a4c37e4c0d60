"""Helpers shared by the nn tests (imported as ``from nn_helpers import ...``; pytest puts this folder on sys.path)."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.random import Generator

J = nn.Jacobian
TOL = 1e-5


def rnd(*shape, seed=0):
    """Standard normal values of ``shape`` (float64), reproducible by ``seed``."""
    return np.random.default_rng(seed).standard_normal(shape)


def D(*shape):
    return torch.DoubleTensor(*shape)


def L(values):
    return torch.LongTensor(np.asarray(values, dtype=np.int64))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def draws(seed, n, a, b):
    """The first n uniform(a, b) numbers of Torch7's stream after manualSeed(seed)."""
    g = Generator()
    g.manualSeed(seed)
    return np.array([g.uniform(a, b) for _ in range(n)])


def jac(m, *shape):
    """Input Jacobian check of ``m`` (converted to double) on a random input of ``shape``."""
    assert J.testJacobian(m.double(), D(*shape)) < TOL


def check_params(m, x, update=True):
    """Jacobian checks (float64) with respect to the input and every parameter, and (``update``) the
    accUpdateGradParameters check."""
    m.double()
    assert J.testJacobian(m, x) < TOL
    for p, g in zip(*m.parameters()):
        assert J.testJacobianParameters(m, x, p, g) < TOL
        if update:
            assert J.testJacobianUpdateParameters(m, x, p) < TOL


def roundtrip(m, tmp_path):
    """Save and load ``m`` (skipped until luatorch_py.serialization has save/load)."""
    ser = pytest.importorskip('luatorch_py.serialization')
    if not hasattr(ser, 'save') or not hasattr(ser, 'load'):
        pytest.skip('luatorch_py.serialization has no save/load yet')
    path = str(tmp_path / 'm.t7')
    ser.save(path, m)
    return ser.load(path)


def shares(t, a):
    """Whether tensor ``t`` shares memory with ``a`` (a tensor or an array)."""
    return np.shares_memory(t.numpy(), a.numpy() if hasattr(a, 'numpy') else a)


def f32(x):
    """A float32 copy of an array (or of each array of a list)."""
    return [a.astype(np.float32) for a in x] if isinstance(x, list) else x.astype(np.float32)


def listed(x):
    """``x`` itself when a list, else [x] (to walk a tensor or a table of them alike)."""
    return x if isinstance(x, list) else [x]


def to_cuda(x):
    """A float64 array (or nested lists of them) as CudaTensors (float32)."""
    return [to_cuda(e) for e in x] if isinstance(x, list) else torch.FloatTensor(x.astype(np.float32)).cuda()

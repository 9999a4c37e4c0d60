"""optim.checkgrad on a quadratic: central differences, the error measure, x left unchanged."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import optim

from optim_helpers import A, B


def test_checkgrad_quadratic():
    buf = torch.DoubleTensor(3)

    def opfunc(x):        # returns the same gradient buffer every call, like feval over getParameters()
        a = x.numpy()
        buf.copy(torch.DoubleTensor(A @ a - B))
        return 0.5 * a @ A @ a - B @ a, buf

    x0 = np.array([0.7, -1.0, 2.0])
    x = torch.DoubleTensor(x0)
    diff, dC, dC_est = optim.checkgrad(opfunc, x)
    np.testing.assert_array_equal(x.numpy(), x0)           # restored exactly
    np.testing.assert_allclose(dC.numpy(), A @ x0 - B, rtol=1e-15)
    np.testing.assert_allclose(dC_est.numpy(), A @ x0 - B, rtol=1e-6, atol=1e-8)
    expected = np.linalg.norm(dC.numpy() - dC_est.numpy()) / np.linalg.norm(dC.numpy() + dC_est.numpy())
    assert diff == pytest.approx(expected, rel=1e-12)
    assert diff < 1e-7


def test_checkgrad_detects_a_wrong_gradient():
    def opfunc(x):
        a = x.numpy()
        return 0.5 * a @ A @ a - B @ a, torch.DoubleTensor(A @ a)      # forgot -B
    diff, _, _ = optim.checkgrad(opfunc, torch.DoubleTensor([0.5, -1.0, 2.0]), 1e-6)
    assert diff > 1e-2


def test_checkgrad_matrix_parameter_and_tensor_loss():
    def opfunc(x):
        a = x.numpy()
        return torch.DoubleTensor([float((a ** 3).sum())]), torch.DoubleTensor(3 * a ** 2)
    x = torch.DoubleTensor([[1.0, -2.0], [0.5, 3.0]])
    diff, dC, dC_est = optim.checkgrad(opfunc, x, 1e-5)
    assert dC.shape == (2, 2) and dC_est.shape == (2, 2)
    assert diff < 1e-9

"""The quadratic the optim tests minimize (imported as ``from optim_helpers import ...``; pytest puts this folder
on sys.path)."""
import numpy as np

import luatorch_py as torch

A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
B = np.array([1.0, -2.0, 0.5])
X0 = np.array([0.5, -1.0, 2.0])


def quad(x):
    """f(x) = 0.5 x'Ax - b'x and its gradient Ax - b (numpy)."""
    return 0.5 * x @ A @ x - B @ x, A @ x - B


def opfunc_fresh(x):
    """optim's opfunc for ``quad``: (f(x), df/dx) with a new gradient tensor every call."""
    f, g = quad(x.numpy().copy())
    return f, torch.DoubleTensor(g)

"""Every optimizer on CUDA tensors gives the CPU's numbers (runs only where a GPU and CuPy are present)."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import optim

from optim_helpers import A, B, X0

CONFIGS = {
    'sgd': {'learningRate': 0.1, 'momentum': 0.9, 'weightDecay': 0.01},
    'nag': {'learningRate': 0.1},
    'adam': {'learningRate': 0.1},
    'adamax': {'learningRate': 0.1},
    'adagrad': {'learningRate': 0.1},
    'adadelta': {},
    'rmsprop': {},
    'rprop': {'niter': 3},
    'asgd': {'eta0': 0.1, 't0': 1},
    'lbfgs': {'maxIter': 5},
    'cg': {'maxEval': 10},
}


def make_problem(tname):
    a = torch.DoubleTensor(A).type(tname)
    b = torch.DoubleTensor(B).type(tname)

    def opfunc(x):
        g = type(x)(3)
        g.mv(a, x).add(-1, b)                       # Ax - b, on x's device
        return 0.5 * (x.dot(g) - b.dot(x)), g       # 0.5 x'Ax - b'x
    return opfunc


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_same_numbers_on_every_device(device, name):
    tname = 'torch.DoubleTensor' if device == 'cpu' else 'torch.CudaDoubleTensor'
    fn = getattr(optim, name)
    ref = torch.DoubleTensor(X0)
    ref_cfg = dict(CONFIGS[name])
    x = torch.DoubleTensor(X0).type(tname)
    cfg = dict(CONFIGS[name])
    ref_op, op = make_problem('torch.DoubleTensor'), make_problem(tname)
    for _ in range(3):
        _, fr = fn(ref_op, ref, ref_cfg)
        _, fx = fn(op, x, cfg)
        np.testing.assert_allclose(fx, fr, rtol=1e-12)
    assert x.type() == tname
    np.testing.assert_allclose(x.double().numpy() if device == 'cpu' else x.cpu().numpy(), ref.numpy(),
                               rtol=1e-12, atol=1e-14)
    for k, v in cfg.items():
        if isinstance(v, torch.Tensor) and v.nElement() and k not in ('ro', 'al'):
            assert v.is_cuda() == (device == 'cuda'), k

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


# cg on CUDA is compared loosely past its first steps.  Its arithmetic is float64 on the GPU too; but cuBLAS's gemv
# (opfunc's mv) rounds otherwise than numpy's (FMA, summation order: gradients differ by ~1e-15 relative), and
# near the minimum cg's cubic line search interpolates between f and slope values that agree to ~1e-10, which
# amplifies those roundings about 1e10.  Measured on an H200 (CuPy 14.2): the first call's fx[5] and fx[6] differ
# by 1e-9 and 2.0e-7 relative, and the second call's line search ends one evaluation earlier (fx lengths 4 vs 5);
# on the CPU, gradients perturbed by one rounding (eps * (|A||x| + |b|), 300 draws) gave up to 8.3e-6 in f and
# 7.3e-7 in the final x.  The first call's first five values, before the search nears the minimum, stay within
# 1.4e-15 under that noise, while a float32 step (f, the gradient or a dot rounded to float32) moves them by
# 2e-9 to 4e-8: those are still compared to 1e-12.
CG_CUDA_STRICT = 5
CG_CUDA_RTOL = 1e-4


def check_cg_cuda(call, fx, fr):
    if call == 0:
        assert len(fx) == len(fr)
        np.testing.assert_allclose(fx[:CG_CUDA_STRICT], fr[:CG_CUDA_STRICT], rtol=1e-12)
        np.testing.assert_allclose(fx, fr, rtol=CG_CUDA_RTOL)
    else:           # the line search may take another number of evaluations: the start and end values
        np.testing.assert_allclose([fx[0], fx[-1]], [fr[0], fr[-1]], rtol=CG_CUDA_RTOL)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_same_numbers_on_every_device(device, name):
    tname = 'torch.DoubleTensor' if device == 'cpu' else 'torch.CudaDoubleTensor'
    fn = getattr(optim, name)
    ref = torch.DoubleTensor(X0)
    ref_cfg = dict(CONFIGS[name])
    x = torch.DoubleTensor(X0).type(tname)
    cfg = dict(CONFIGS[name])
    ref_op, op = make_problem('torch.DoubleTensor'), make_problem(tname)
    cg_cuda = name == 'cg' and device == 'cuda'
    for call in range(3):
        _, fr = fn(ref_op, ref, ref_cfg)
        _, fx = fn(op, x, cfg)
        if cg_cuda:
            check_cg_cuda(call, fx, fr)
        else:
            np.testing.assert_allclose(fx, fr, rtol=1e-12)
    assert x.type() == tname
    np.testing.assert_allclose(x.double().numpy() if device == 'cpu' else x.cpu().numpy(), ref.numpy(),
                               rtol=CG_CUDA_RTOL if cg_cuda else 1e-12, atol=1e-14)
    for k, v in cfg.items():
        if isinstance(v, torch.Tensor) and v.nElement() and k not in ('ro', 'al'):
            assert v.is_cuda() == (device == 'cuda'), k

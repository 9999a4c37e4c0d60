"""BatchNormalization and SpatialBatchNormalization: batch statistics in training (running_var from the unbiased
variance, as THNN), running statistics in evaluate(), fields and init as Torch7, Jacobians."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import check_gpu, check_reloads, check_steady_state, rnd


def axes(x):
    return (0,) + tuple(range(2, x.ndim))


def bshape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def ref_train(x, w, b, eps):
    """(output, batch mean, biased var, unbiased var) with plain numpy."""
    mean = x.mean(axis=axes(x))
    var = ((x - mean.reshape(bshape(x))) ** 2).mean(axis=axes(x))
    n = x.size // x.shape[1]
    y = (x - mean.reshape(bshape(x))) / np.sqrt(var.reshape(bshape(x)) + eps)
    if w is not None:
        y = y * w.reshape(bshape(x)) + b.reshape(bshape(x))
    return y, mean, var, var * n / (n - 1)


def ref_train_grad(x, g, w, eps):
    """d/dx of sum(g * y) for the training-mode output, by the textbook formula."""
    m = x.size // x.shape[1]
    mean = x.mean(axis=axes(x), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes(x), keepdims=True)
    xhat = (x - mean) / np.sqrt(var + eps)
    gw = g * (1 if w is None else w.reshape(bshape(x)))
    return (gw - gw.sum(axis=axes(x), keepdims=True) / m
            - xhat * (gw * xhat).sum(axis=axes(x), keepdims=True) / m) / np.sqrt(var + eps)


CASES = [(nn.BatchNormalization, (6, 4)), (nn.SpatialBatchNormalization, (3, 4, 5, 2))]


def test_fields_init_and_repr():
    torch.manualSeed(5)
    m = nn.BatchNormalization(5)
    torch.manualSeed(5)
    w = torch.DoubleTensor(5).uniform().numpy()
    np.testing.assert_array_equal(m.weight.numpy(), w)              # Torch7's reset: weight:uniform()
    assert np.all((w >= 0) & (w < 1))
    np.testing.assert_array_equal(m.bias.numpy(), np.zeros(5))
    np.testing.assert_array_equal(m.running_mean.numpy(), np.zeros(5))
    np.testing.assert_array_equal(m.running_var.numpy(), np.ones(5))
    assert (m.eps, m.momentum, m.affine, m.train) == (1e-5, 0.1, True, True)
    assert m.gradWeight.shape == (5,) and m.gradBias.shape == (5,)
    assert repr(m) == 'nn.BatchNormalization (2D) (5)'
    s = nn.SpatialBatchNormalization(3, 1e-3, 0.2)
    assert repr(s) == 'nn.SpatialBatchNormalization (4D) (3)' and (s.eps, s.momentum) == (1e-3, 0.2)
    assert isinstance(s, nn.BatchNormalization) and s.nDim == 4
    a = nn.BatchNormalization(4, 1e-5, 0.1, False)
    assert a.affine is False and 'weight' not in a.__dict__ and 'bias' not in a.__dict__
    assert a.parameters() == ([], [])
    assert nn.REGISTRY['nn.SpatialBatchNormalization'] is nn.SpatialBatchNormalization


@pytest.mark.parametrize('cls, shape', CASES)
def test_training_forward_and_running_statistics(cls, shape):
    m = cls(shape[1], 1e-5, 0.1)
    w, b = rnd(shape[1], seed=7), rnd(shape[1], seed=8)
    m.weight.copy(torch.DoubleTensor(w))
    m.bias.copy(torch.DoubleTensor(b))
    x1, x2 = rnd(*shape) * 2 + 1, rnd(*shape, seed=1) - 3
    y, mean, var, unbiased = ref_train(x1, w, b, 1e-5)
    np.testing.assert_allclose(m.forward(x1).numpy(), y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.save_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(m.save_std.numpy(), 1 / np.sqrt(var + 1e-5), rtol=1e-12)
    rm = 0.1 * mean
    rv = 0.9 * 1 + 0.1 * unbiased            # THNN: running_var moves towards the UNBIASED variance
    np.testing.assert_allclose(m.running_mean.numpy(), rm, rtol=1e-12)
    np.testing.assert_allclose(m.running_var.numpy(), rv, rtol=1e-12)
    _, mean2, _, unbiased2 = ref_train(x2, w, b, 1e-5)
    m.forward(x2)
    np.testing.assert_allclose(m.running_mean.numpy(), 0.9 * rm + 0.1 * mean2, rtol=1e-12)
    np.testing.assert_allclose(m.running_var.numpy(), 0.9 * rv + 0.1 * unbiased2, rtol=1e-12)


@pytest.mark.parametrize('cls, shape', CASES)
def test_evaluate_uses_running_statistics(cls, shape):
    C = shape[1]
    m = cls(C)
    rm, rv = rnd(C, seed=3), np.abs(rnd(C, seed=4)) + 0.5
    m.running_mean.copy(torch.DoubleTensor(rm))
    m.running_var.copy(torch.DoubleTensor(rv))
    w, b = m.weight.numpy().copy(), rnd(C, seed=5)
    m.bias.copy(torch.DoubleTensor(b))
    m.evaluate()
    x = rnd(*shape)
    inv = 1 / np.sqrt(rv + m.eps)
    y = (x - rm.reshape(bshape(x))) * inv.reshape(bshape(x)) * w.reshape(bshape(x)) + b.reshape(bshape(x))
    np.testing.assert_allclose(m.forward(x).numpy(), y, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(m.running_mean.numpy(), rm)       # not updated in evaluation
    np.testing.assert_array_equal(m.running_var.numpy(), rv)
    g = rnd(*shape, seed=6)
    m.zeroGradParameters()
    gi = m.backward(x, g).numpy()
    np.testing.assert_allclose(gi, g * (inv * w).reshape(bshape(x)), rtol=1e-12)
    xhat = (x - rm.reshape(bshape(x))) * inv.reshape(bshape(x))
    np.testing.assert_allclose(m.gradWeight.numpy(), (g * xhat).sum(axis=axes(x)), rtol=1e-12)
    np.testing.assert_allclose(m.gradBias.numpy(), g.sum(axis=axes(x)), rtol=1e-12)
    # a single sample (1-D / 3-D) is allowed in evaluation and equals the batched result
    np.testing.assert_allclose(m.forward(x[1]).numpy(), y[1], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(m.backward(x[1], g[1]).numpy(), gi[1], rtol=1e-12)


@pytest.mark.parametrize('cls, shape', CASES)
def test_training_backward_matches_formula(cls, shape):
    m = cls(shape[1])
    x, g = rnd(*shape), rnd(*shape, seed=2)
    w = m.weight.numpy().copy()
    m.forward(x)
    m.zeroGradParameters()
    gi = m.backward(x, g, 0.5).numpy()
    np.testing.assert_allclose(gi, ref_train_grad(x, g, w, m.eps), rtol=1e-9, atol=1e-12)
    y0 = ref_train(x, None, None, m.eps)[0]
    np.testing.assert_allclose(m.gradWeight.numpy(), 0.5 * (g * y0).sum(axis=axes(x)), rtol=1e-10)
    np.testing.assert_allclose(m.gradBias.numpy(), 0.5 * g.sum(axis=axes(x)), rtol=1e-12)
    # updateGradInput + accGradParameters == backward
    m2 = cls(shape[1])
    m2.weight.copy(m.weight)
    m2.forward(x)
    m2.zeroGradParameters()
    np.testing.assert_allclose(m2.updateGradInput(x, g).numpy(), gi, rtol=1e-13)
    m2.accGradParameters(x, g, 0.5)
    np.testing.assert_allclose(m2.gradWeight.numpy(), m.gradWeight.numpy(), rtol=1e-13)
    np.testing.assert_allclose(m2.gradBias.numpy(), m.gradBias.numpy(), rtol=1e-13)


@pytest.mark.parametrize('cls, shape', CASES)
def test_jacobian_training(cls, shape):
    m = cls(shape[1]).double()
    x = torch.DoubleTensor(*shape)
    assert nn.Jacobian.testJacobian(m, x) < 1e-5
    assert nn.Jacobian.testJacobianParameters(m, x, m.weight, m.gradWeight) < 1e-5
    assert nn.Jacobian.testJacobianParameters(m, x, m.bias, m.gradBias) < 1e-5
    a = cls(shape[1], 1e-5, 0.1, False)
    assert nn.Jacobian.testJacobian(a, x) < 1e-5


@pytest.mark.parametrize('cls, shape', CASES)
def test_jacobian_evaluate(cls, shape):
    m = cls(shape[1])
    m.forward(torch.DoubleTensor(*shape).uniform(-1, 2))
    m.evaluate()
    x = torch.DoubleTensor(*shape)
    assert nn.Jacobian.testJacobian(m, x) < 1e-5
    assert nn.Jacobian.testJacobianParameters(m, x, m.weight, m.gradWeight) < 1e-5


def test_batch_of_one_uses_running_statistics_in_training():
    # THNN is called with train = self.train and batch > 1: a single-sample batch neither uses nor updates stats
    m = nn.SpatialBatchNormalization(3)
    m.running_mean.copy(torch.DoubleTensor([1., 2., 3.]))
    x = rnd(1, 3, 4, 4)
    y = m.forward(x).numpy()
    inv = 1 / np.sqrt(1 + m.eps)
    np.testing.assert_allclose(y, (x - np.array([1., 2., 3.]).reshape(1, 3, 1, 1)) * inv
                               * m.weight.numpy().reshape(1, 3, 1, 1), rtol=1e-12)
    np.testing.assert_array_equal(m.running_mean.numpy(), [1., 2., 3.])
    np.testing.assert_array_equal(m.running_var.numpy(), np.ones(3))


def test_float32():
    m = nn.SpatialBatchNormalization(4).float()
    x = rnd(3, 4, 5, 5).astype(np.float32)
    y = m.forward(x)
    assert y.type() == 'torch.FloatTensor' and m.running_var.type() == 'torch.FloatTensor'
    ref = ref_train(x.astype(np.float64), m.weight.numpy().astype(np.float64), m.bias.numpy().astype(np.float64),
                    1e-5)
    np.testing.assert_allclose(y.numpy(), ref[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.running_var.numpy(), 0.9 + 0.1 * ref[3], rtol=1e-5)
    assert m.backward(x, np.ones(x.shape, np.float32)).type() == 'torch.FloatTensor'


def test_errors_name_layer_and_sizes():
    m = nn.BatchNormalization(4)
    with pytest.raises(ValueError, match=r'nn\.BatchNormalization \(2D\) \(4\).*only mini-batch.*got size \[4\]'):
        m.forward(rnd(4))                        # a single sample in training mode
    with pytest.raises(ValueError, match=r'nn\.BatchNormalization \(2D\) \(4\).*3-feature.*\[5, 3\].*expected 4'):
        m.forward(rnd(5, 3))
    s = nn.SpatialBatchNormalization(3)
    with pytest.raises(ValueError, match=r'nn\.SpatialBatchNormalization \(4D\) \(3\).*4-D.*\[3, 4, 4\]'):
        s.forward(rnd(3, 4, 4))
    s.evaluate()
    assert s.forward(rnd(3, 4, 4)).shape == (3, 4, 4)
    with pytest.raises(ValueError, match=r'gradOutput of size \[2, 4\] does not match input of size \[2, 3, 4, 4\]'):
        s.backward(rnd(2, 3, 4, 4), rnd(2, 4))
    with pytest.raises(ValueError, match='number of features must be positive'):
        nn.BatchNormalization(0)
    with pytest.raises(TypeError, match='affine has to be True/False'):
        nn.BatchNormalization(3, 1e-5, 0.1, 1)
    with pytest.raises(RuntimeError, match='updateOutput'):
        nn.BatchNormalization(3).updateGradInput(rnd(4, 3), rnd(4, 3))


def test_old_running_std_files():
    # Torch7 files before BatchNormalization's version 2 kept running_std = 1 / sqrt(var + eps)
    m = nn.BatchNormalization(3)
    del m.__dict__['running_var']
    m.running_std = torch.DoubleTensor([1., 2., 4.])
    m.evaluate()
    m.forward(rnd(2, 3))
    np.testing.assert_allclose(m.running_var.numpy(), np.array([1., 0.25, 0.0625]) - 1e-5, rtol=1e-12)
    assert 'running_std' not in m.__dict__


def test_buffers_reused_and_clear_state():
    m = nn.SpatialBatchNormalization(3)
    check_steady_state(m, rnd(2, 3, 4, 4), rnd(2, 3, 4, 4, seed=1))
    m.clearState()
    assert m.save_mean.nElement() == 0 and m.save_std.nElement() == 0 and m.output.nElement() == 0


@pytest.mark.parametrize('cls, shape', CASES)
def test_save_load_roundtrip(cls, shape, tmp_path):
    m = cls(shape[1])
    x = rnd(*shape)
    m.forward(x)
    m.forward(x * 2 - 1)                         # running statistics away from their init
    m.evaluate()
    m2 = check_reloads(m, x, tmp_path)                 # evaluate(): the forwards change no field checked below
    assert type(m2) is cls and m2.train is False
    for f in ('weight', 'bias', 'running_mean', 'running_var'):
        np.testing.assert_array_equal(getattr(m2, f).numpy(), getattr(m, f).numpy())
    assert (m2.eps, m2.momentum, m2.affine) == (m.eps, m.momentum, m.affine)


@pytest.mark.gpu
@pytest.mark.parametrize('cls, shape', CASES)
def test_gpu_matches_cpu(cls, shape):
    cpu = cls(shape[1]).float()
    check_gpu(cpu, cpu.clone().cuda(), rnd(*shape), rtol=1e-4, atol=1e-5)


# -- CUDA (backend/gpu_elementwise.py: per-channel reduction + elementwise kernels) against the CPU ------------------
def _cuda(m, dtype):
    return m.cuda() if dtype == np.float32 else m.cudaDouble()


def _tensor(a, dtype):
    t = torch.FloatTensor(a.astype(np.float32)) if dtype == np.float32 else torch.DoubleTensor(a)
    return _cuda(t, dtype)


FIELDS = ('output', 'gradInput', 'running_mean', 'running_var', 'save_mean', 'save_std', 'gradWeight', 'gradBias')


def check_bn_gpu(make, x, g, dtype, passes, evaluate=False, warm=None):
    """The same calls on a CPU and a CUDA copy of make(); every tensor field agrees after each.  ``evaluate``:
    after a training forward of ``warm`` (default x * 2 - 1), in evaluate() mode."""
    cpu = make().type('torch.FloatTensor' if dtype == np.float32 else 'torch.DoubleTensor')
    gpu = _cuda(cpu.clone(), dtype)
    if evaluate:
        for m in (cpu, gpu):
            m.forward((x * 2 - 1 if warm is None else warm).astype(dtype))  # running statistics moved
            m.evaluate()
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    xc, gc = _tensor(x, dtype), _tensor(g, dtype)
    for call in passes:
        for m, xi, gi in ((cpu, x.astype(dtype), g.astype(dtype)), (gpu, xc, gc)):
            if call == 'forward':
                m.forward(xi)
            elif call == 'backward':
                m.backward(xi, gi, 0.5)
            elif call == 'updateGradInput':
                m.updateGradInput(xi, gi)
            else:
                m.accGradParameters(xi, gi, 0.7)
        for f in FIELDS:
            a, b = cpu.__dict__.get(f), gpu.__dict__.get(f)
            if a is None or a.nElement() == 0:
                continue
            np.testing.assert_allclose(b.double().numpy(), a.numpy(), err_msg=f'{call}: {f}', **tol)


GPU_CASES = [(nn.BatchNormalization, (7, 5)), (nn.SpatialBatchNormalization, (3, 5, 7, 3)),
             (nn.BatchNormalization, (3, 5000)),      # more channels than reduction blocks: a loop over channels
             (nn.SpatialBatchNormalization, (6, 3, 37, 29))]   # 6438 values per channel: 4 blocks each, merged
STEPS = ['forward', 'backward', 'forward', 'updateGradInput', 'accGradParameters']


@pytest.mark.gpu
@pytest.mark.parametrize('cls, shape', GPU_CASES)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('affine', [True, False])
def test_gpu_training_and_evaluation_match_cpu(cls, shape, dtype, affine):
    x, g = rnd(*shape) * 3 + 1, rnd(*shape, seed=1)
    make = lambda: cls(shape[1], 1e-5, 0.1, affine)  # noqa: E731
    check_bn_gpu(make, x, g, dtype, STEPS)
    check_bn_gpu(make, x, g, dtype, STEPS, evaluate=True)


@pytest.mark.gpu
@pytest.mark.parametrize('cls, shape', CASES)
def test_gpu_single_sample_evaluation_and_zero_variance(cls, shape):
    make = lambda: cls(shape[1])  # noqa: E731
    check_bn_gpu(make, rnd(*shape[1:]), rnd(*shape[1:], seed=1), np.float64, STEPS[1:], evaluate=True,
                 warm=rnd(*shape, seed=2))
    x = rnd(*shape)
    x[:, 1] = 3.0                                   # a constant feature: var 0, with eps 0 invstd 0 (THNN)
    check_bn_gpu(lambda: cls(shape[1], 0), x, rnd(*shape, seed=1), np.float64, STEPS)


@pytest.mark.gpu
def test_gpu_strided_input_takes_the_array_path():
    x, g = rnd(5, 8), rnd(4, 5, seed=1)
    cpu = nn.BatchNormalization(5).double()
    gpu = cpu.clone().cudaDouble()
    xc = torch.DoubleTensor(x).cudaDouble().t()[:4]
    assert not xc.isContiguous()
    np.testing.assert_allclose(gpu.forward(xc).double().numpy(), cpu.forward(x.T[:4]).numpy(), rtol=1e-12)
    np.testing.assert_allclose(gpu.backward(xc, torch.DoubleTensor(g).cudaDouble()).double().numpy(),
                               cpu.backward(x.T[:4], g).numpy(), rtol=1e-12, atol=1e-14)


def test_spatial_bn_empty_planes_raise_and_keep_running_stats():
    # a 2 x 3 x 0 x 2 batch has no values per feature: 0 / 0 statistics must not reach running_mean/var
    m = nn.SpatialBatchNormalization(3)
    with pytest.raises(ValueError, match=r"nn\.SpatialBatchNormalization.*empty input \(size \[2, 3, 0, 2\]\)"):
        m.forward(torch.fromNumpy(np.zeros((2, 3, 0, 2))))
    np.testing.assert_array_equal(m.running_mean._a, 0)
    np.testing.assert_array_equal(m.running_var._a, 1)


@pytest.mark.parametrize('field', ['weight', 'bias', 'running_var'])
def test_bn_checks_replaced_parameters(field):
    m = nn.BatchNormalization(3)
    setattr(m, field, torch.DoubleTensor(np.ones(4)))
    with pytest.raises(ValueError, match=rf"nn\.BatchNormalization.*{field} of size \[4\] does not match the 3 "
                                         rf"features"):
        m.forward(torch.DoubleTensor(rnd(2, 3)))


def test_float_batch_statistics_accumulate_in_double_as_thnn():
    """THNN's BatchNormalization.c sums each feature in accreal (double for a FloatTensor): the batch mean of
    100000 float32 values near 1000 is the float32 rounding of the exact mean, and so is the output (numpy's float32
    sum down the batch axis, one value at a time, was 3.7e-3 off: 60 ulps)."""
    x = (np.random.default_rng(0).standard_normal((100000, 4)) + 1000).astype(np.float32)
    exact = x.astype(np.float64).mean(0)
    m = nn.BatchNormalization(4, 1e-5, 0.1, False).float()
    out = m.forward(torch.FloatTensor(x)).numpy()
    np.testing.assert_allclose(m.save_mean.numpy(), exact, rtol=0, atol=1.5e-4)
    want = (x - exact) / np.sqrt(x.astype(np.float64).var(0) + 1e-5)
    np.testing.assert_allclose(out, want, rtol=0, atol=2e-4)
    gsum = (np.arange(100000, dtype=np.float32)[:, None] % 7 + 1000).repeat(4, 1)
    m2 = nn.BatchNormalization(4).float()
    m2.forward(torch.FloatTensor(x))
    m2.zeroGradParameters()
    m2.backward(torch.FloatTensor(x), torch.FloatTensor(gsum))
    np.testing.assert_allclose(m2.gradBias.numpy(), gsum.astype(np.float64).sum(0), rtol=1e-7)

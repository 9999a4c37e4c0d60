"""Transfer functions: pointwise (ReLU ... Power), PReLU, RReLU, and the SoftMax family."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import J, TOL, DTYPES, TYPES, check_reloads, draws, sigmoid


def rnd(*shape, seed=0, lo=-2, hi=2):
    """Uniform in [lo, hi) (nn_helpers.rnd is standard normal): activations are tested over a fixed range."""
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def away(x, kinks, gap=0.05):
    """x with every value within ``gap`` of a kink pushed 2 gaps away (for finite differences)."""
    x = x.copy()
    for k in kinks:
        near = np.abs(x - k) < gap
        x[near] = k + np.where(x[near] >= k, 2 * gap, -2 * gap)
    return x


# name -> (constructor, reference f(x), reference f'(x), kinks, input range)
POINTWISE = {
    'Sigmoid': (lambda: nn.Sigmoid(), sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x)), [], (-2, 2)),
    'Tanh': (lambda: nn.Tanh(), np.tanh, lambda x: 1 - np.tanh(x) ** 2, [], (-2, 2)),
    'ReLU': (lambda: nn.ReLU(), lambda x: np.where(x > 0, x, 0), lambda x: (x > 0) * 1.0, [0], (-2, 2)),
    'ReLU6': (lambda: nn.ReLU6(), lambda x: np.minimum(np.maximum(x, 0), 6),
              lambda x: ((x > 0) & (x < 6)) * 1.0, [0, 6], (-3, 8)),
    'LeakyReLU': (lambda: nn.LeakyReLU(), lambda x: np.where(x > 0, x, 0.01 * x),
                  lambda x: np.where(x > 0, 1, 0.01), [0], (-2, 2)),
    'LeakyReLU(-0.5)': (lambda: nn.LeakyReLU(-0.5), lambda x: np.where(x > 0, x, -0.5 * x),
                        lambda x: np.where(x > 0, 1, -0.5), [0], (-2, 2)),
    'LeakyReLU(2)': (lambda: nn.LeakyReLU(2), lambda x: np.where(x > 0, x, 2 * x),
                     lambda x: np.where(x > 0, 1, 2.0), [0], (-2, 2)),
    'ELU': (lambda: nn.ELU(), lambda x: np.where(x > 0, x, np.exp(x) - 1),
            lambda x: np.where(x > 0, 1, np.exp(x)), [0], (-2, 2)),
    'ELU(0.5)': (lambda: nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1)),
                 lambda x: np.where(x > 0, 1, 0.5 * np.exp(x)), [0], (-2, 2)),
    'Threshold': (lambda: nn.Threshold(0.5, -1.5), lambda x: np.where(x > 0.5, x, -1.5),
                  lambda x: (x > 0.5) * 1.0, [0.5], (-2, 2)),
    'Threshold(0.3,0)': (lambda: nn.Threshold(0.3, 0), lambda x: np.where(x > 0.3, x, 0),
                         lambda x: (x > 0.3) * 1.0, [0.3], (-2, 2)),
    'Threshold()': (lambda: nn.Threshold(), lambda x: np.where(x > 1e-6, x, 0),
                    lambda x: (x > 1e-6) * 1.0, [0], (-2, 2)),
    'HardTanh': (lambda: nn.HardTanh(), lambda x: np.clip(x, -1, 1),
                 lambda x: ((x > -1) & (x < 1)) * 1.0, [-1, 1], (-2, 2)),
    'HardTanh(-0.5,2)': (lambda: nn.HardTanh(-0.5, 2), lambda x: np.clip(x, -0.5, 2),
                         lambda x: ((x > -0.5) & (x < 2)) * 1.0, [-0.5, 2], (-3, 3)),
    'Clamp': (lambda: nn.Clamp(-0.3, 0.7), lambda x: np.clip(x, -0.3, 0.7),
              lambda x: ((x > -0.3) & (x < 0.7)) * 1.0, [-0.3, 0.7], (-2, 2)),
    'HardShrink': (lambda: nn.HardShrink(), lambda x: np.where(np.abs(x) > 0.5, x, 0),
                   lambda x: (np.abs(x) > 0.5) * 1.0, [-0.5, 0.5], (-2, 2)),
    'SoftShrink': (lambda: nn.SoftShrink(0.7), lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.7, 0),
                   lambda x: (np.abs(x) > 0.7) * 1.0, [-0.7, 0.7], (-2, 2)),
    'SoftPlus': (lambda: nn.SoftPlus(), lambda x: np.log(1 + np.exp(x)), sigmoid, [], (-3, 3)),
    'SoftPlus(2)': (lambda: nn.SoftPlus(2), lambda x: np.log(1 + np.exp(2 * x)) / 2, lambda x: sigmoid(2 * x), [],
                    (-3, 3)),
    'SoftSign': (lambda: nn.SoftSign(), lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2, [0],
                 (-2, 2)),
    'LogSigmoid': (lambda: nn.LogSigmoid(), lambda x: np.log(sigmoid(x)), lambda x: 1 - sigmoid(x), [], (-3, 3)),
    'TanhShrink': (lambda: nn.TanhShrink(), lambda x: x - np.tanh(x), lambda x: np.tanh(x) ** 2, [], (-2, 2)),
    'Exp': (lambda: nn.Exp(), np.exp, np.exp, [], (-2, 2)),
    'Log': (lambda: nn.Log(), np.log, lambda x: 1 / x, [], (0.5, 3)),
    'Abs': (lambda: nn.Abs(), np.abs, lambda x: np.where(x < 0, -1, 1.0), [0], (-2, 2)),
    'Square': (lambda: nn.Square(), np.square, lambda x: 2 * x, [], (-2, 2)),
    'Sqrt': (lambda: nn.Sqrt(), np.sqrt, lambda x: 0.5 / np.sqrt(x), [], (0.5, 3)),
    'Sqrt(0.1)': (lambda: nn.Sqrt(0.1), lambda x: np.sqrt(x + 0.1), lambda x: 0.5 / np.sqrt(x + 0.1), [], (0.5, 3)),
    'Power(3)': (lambda: nn.Power(3), lambda x: x ** 3, lambda x: 3 * x ** 2, [], (-2, 2)),
    'Power(2)': (lambda: nn.Power(2), lambda x: x ** 2, lambda x: 2 * x, [], (-2, 2)),
    'Power(0.5)': (lambda: nn.Power(0.5), np.sqrt, lambda x: 0.5 / np.sqrt(x), [], (0.5, 3)),
    'PReLU': (lambda: nn.PReLU(), lambda x: np.where(x > 0, x, 0.25 * x),
              lambda x: np.where(x > 0, 1, 0.25), [0], (-2, 2)),
    'RReLU(eval)': (lambda: nn.RReLU().evaluate(), lambda x: np.where(x > 0, x, x * (1 / 8 + 1 / 3) / 2),
                    lambda x: np.where(x > 0, 1, (1 / 8 + 1 / 3) / 2), [0], (-2, 2)),
}


@pytest.mark.parametrize('name', list(POINTWISE))
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', [(7,), (3, 5), (2, 3, 2, 2)])
def test_pointwise_forward_backward_match_numpy(name, dtype, shape):
    make, f, df, kinks, (lo, hi) = POINTWISE[name]
    m = make().type(TYPES[dtype])
    x = away(rnd(*shape, lo=lo, hi=hi), kinks).astype(dtype)
    g = rnd(*shape, seed=1).astype(dtype)
    y = m.forward(x)
    assert y.type() == TYPES[dtype] and y.shape == shape
    rtol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.numpy(), f(x.astype(np.float64)), rtol=rtol, atol=rtol)
    gi = m.backward(x, g)
    np.testing.assert_allclose(gi.numpy(), g * df(x.astype(np.float64)), rtol=2 * rtol, atol=2 * rtol)


@pytest.mark.parametrize('name', list(POINTWISE))
def test_pointwise_jacobian(name):
    make, f, df, kinks, (lo, hi) = POINTWISE[name]
    m = make().double()
    for shape in [(6,), (2, 5)]:
        x = torch.DoubleTensor(away(rnd(*shape, lo=lo, hi=hi, seed=3), kinks))
        assert J.testJacobian(m, x, randomize=False) < TOL


def test_values_at_the_kinks_are_torch7s():
    """Torch7's choices where the derivative is undefined."""
    x = np.array([-1.0, 0.0, 1.0, 6.0, 0.5, -0.5])
    g = np.ones(6)
    np.testing.assert_array_equal(nn.ReLU().double().backward(x, g).numpy(), [0, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(nn.ReLU6().double().backward(x, g).numpy(), [0, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(nn.HardTanh().double().backward(x, g).numpy(), [0, 1, 0, 0, 1, 1])
    np.testing.assert_array_equal(nn.Abs().double().backward(x, g).numpy(), [-1, 1, 1, 1, 1, -1])
    np.testing.assert_array_equal(nn.HardShrink().double().forward(x).numpy(), [-1, 0, 1, 6, 0, 0])
    np.testing.assert_array_equal(nn.HardShrink().double().backward(x, g).numpy(), [1, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(nn.SoftShrink().double().backward(x, g).numpy(), [1, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(nn.Threshold(0.5, 2).double().forward(x).numpy(), [2, 2, 1, 6, 2, 2])
    np.testing.assert_array_equal(nn.LeakyReLU(0.1).double().backward(x, g).numpy(), [0.1, 0.1, 1, 1, 1, 0.1])
    np.testing.assert_array_equal(nn.PReLU().double().backward(x, g).numpy(), [0.25, 0.25, 1, 1, 1, 0.25])
    sq = nn.Sqrt().double()
    sq.forward(np.array([0.0, 4.0]))
    np.testing.assert_array_equal(sq.backward(np.array([0.0, 4.0]), np.ones(2)).numpy(), [0, 0.25])


def test_no_overflow_for_large_inputs():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over='raise', invalid='raise', divide='raise'):
        ls = nn.LogSigmoid().double()
        np.testing.assert_allclose(ls.forward(x).numpy(), [-1000, -50, -np.log(2), -np.exp(-50), 0], rtol=1e-12)
        np.testing.assert_allclose(ls.backward(x, np.ones(5)).numpy(), [1, 1, 0.5, np.exp(-50), 0], rtol=1e-12)
        sp = nn.SoftPlus().double()
        np.testing.assert_allclose(sp.forward(x).numpy(), [0, np.exp(-50), np.log(2), 50, 1000], rtol=1e-12)
        np.testing.assert_allclose(sp.backward(x, np.ones(5)).numpy(), [0, np.exp(-50), 0.5, 1, 1], rtol=1e-12)
        big = nn.SoftPlus(1, 1e6).double()      # a threshold Torch7's exp would overflow under
        np.testing.assert_allclose(big.forward(x).numpy(), [0, np.exp(-50), np.log(2), 50, 1000], rtol=1e-12)
    np.testing.assert_array_equal(nn.ELU().float().forward(x.astype(np.float32)).numpy(), [-1, -1, 0, 50, 1000])


# -- in place -------------------------------------------------------------------------------------------------
INPLACE = {
    'ReLU': (lambda ip: nn.ReLU(ip), [0]),
    'Threshold': (lambda ip: nn.Threshold(0.2, 0.1, ip), [0.2]),
    'LeakyReLU': (lambda ip: nn.LeakyReLU(0.2, ip), [0]),
    'ELU': (lambda ip: nn.ELU(0.7, ip), [0]),
    'HardTanh': (lambda ip: nn.HardTanh(-0.5, 0.5, ip), [-0.5, 0.5]),
    'ReLU6': (lambda ip: nn.ReLU6(ip), [0, 6]),
    'RReLU(eval)': (lambda ip: nn.RReLU(0.1, 0.3, ip).evaluate(), [0]),
}


@pytest.mark.parametrize('name', list(INPLACE))
def test_inplace_matches_out_of_place(name):
    make, kinks = INPLACE[name]
    ref, ip = make(False).double(), make(True).double()
    assert ip.inplace is True and ref.inplace is False
    x0 = away(rnd(3, 4, lo=-2, hi=7), kinks)
    g0 = rnd(3, 4, seed=1)
    y_ref = ref.forward(x0).numpy().copy()
    gi_ref = ref.backward(x0, g0).numpy().copy()
    x, g = torch.DoubleTensor(x0), torch.DoubleTensor(g0)
    y = ip.forward(x)
    assert y.isSetTo(x) if hasattr(y, 'isSetTo') else y.storage() is x.storage()
    np.testing.assert_array_equal(x.numpy(), y_ref)            # the input was overwritten
    gi = ip.backward(x, g)
    assert gi.storage() is g.storage()
    np.testing.assert_array_equal(g.numpy(), gi_ref)
    # back to out of place: the output no longer writes into the input
    ip.inplace = False
    x2 = torch.DoubleTensor(x0)
    ip.forward(x2)
    np.testing.assert_array_equal(x2.numpy(), x0)


def test_inplace_numpy_input_is_written():
    x = np.array([-1.0, 2.0])
    nn.ReLU(True).double().forward(x)
    np.testing.assert_array_equal(x, [0, 2])


def test_inplace_threshold_requires_value_not_above_threshold():
    with pytest.raises(ValueError, match='in-place'):
        nn.Threshold(0, 1, True)
    with pytest.raises(TypeError, match='boolean'):
        nn.ReLU(1)


# -- PReLU ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('shape', [(4,), (3, 4), (2, 4, 3), (2, 4, 2, 3)])
def test_prelu_per_plane_slopes(shape):
    planes = 4 if len(shape) == 1 else shape[1]
    m = nn.PReLU(planes).double()
    assert m.nOutputPlane == planes and m.weight.shape == (planes,)
    np.testing.assert_array_equal(m.weight.numpy(), 0.25)
    w = np.linspace(0.1, 0.9, planes)
    m.weight.copy(torch.DoubleTensor(w))
    x = away(rnd(*shape), [0])
    wb = w.reshape((planes,) + (1,) * (len(shape) - 2)) if len(shape) > 1 else w
    np.testing.assert_allclose(m.forward(x).numpy(), np.where(x > 0, x, wb * x), rtol=1e-15)
    g = rnd(*shape, seed=2)
    np.testing.assert_allclose(m.backward(x, g).numpy(), np.where(x > 0, g, wb * g), rtol=1e-15)
    m.zeroGradParameters()
    m.accGradParameters(x, g, 0.5)
    axes = tuple(i for i in range(len(shape)) if i != (1 if len(shape) > 1 else 0))
    np.testing.assert_allclose(m.gradWeight.numpy(), 0.5 * np.sum(np.minimum(x, 0) * g, axis=axes), rtol=1e-12)
    xt = torch.DoubleTensor(x)
    assert J.testJacobian(m, xt, randomize=False) < TOL
    # randomized input and slopes may land on the kink at 0 with probability 0
    assert J.testJacobianParameters(m, xt, m.weight, m.gradWeight) < TOL
    assert J.testJacobianUpdateParameters(m, xt, m.weight) < TOL


def test_prelu_shared_slope_and_errors():
    m = nn.PReLU().double()
    assert m.nOutputPlane == 0 and m.weight.shape == (1,)
    x = torch.DoubleTensor(away(rnd(3, 5), [0]))
    assert J.testJacobianParameters(m, x, m.weight, m.gradWeight) < TOL
    params, grads = m.parameters()
    assert len(params) == 1 and params[0] is m.weight
    with pytest.raises(ValueError, match=r'nn.PReLU.*3 planes.*\[2, 4\]'):
        nn.PReLU(3).double().forward(np.zeros((2, 4)))
    assert repr(nn.PReLU(3)) == 'nn.PReLU'


# -- RReLU ----------------------------------------------------------------------------------------------------
def test_rrelu_training_draws_from_the_global_stream_in_order():
    x = away(rnd(4, 5), [0])
    neg = x <= 0
    torch.manualSeed(7)
    m = nn.RReLU(0.1, 0.4).double()
    y = m.forward(x).numpy()
    r = draws(7, int(neg.sum()) + 1, 0.1, 0.4)
    noise = np.ones_like(x)
    noise[neg] = r[:-1]
    np.testing.assert_allclose(m.noise.numpy(), noise, rtol=1e-15)
    np.testing.assert_allclose(y, x * noise, rtol=1e-15)
    assert torch.uniform(0.1, 0.4) == pytest.approx(r[-1], rel=1e-15)     # exactly k draws were used
    g = rnd(4, 5, seed=1)
    np.testing.assert_allclose(m.backward(x, g).numpy(), g * noise, rtol=1e-15)
    # evaluate: the mean slope, no draw
    m.evaluate()
    np.testing.assert_allclose(m.forward(x).numpy(), np.where(neg, x * 0.25, x), rtol=1e-15)


def test_rrelu_channelwise_and_float():
    x = away(rnd(2, 3, 2, 2), [0]).astype(np.float32)
    torch.manualSeed(3)
    m = nn.RReLU(0.2, 0.3, False, True).float()
    y = m.forward(x).numpy()
    r = draws(3, 3, 0.2, 0.3).astype(np.float32)
    np.testing.assert_array_equal(m.noise.numpy(), r)
    np.testing.assert_allclose(y, np.where(x > 0, x, x * r.reshape(1, 3, 1, 1)), rtol=1e-6)
    g = rnd(2, 3, 2, 2, seed=1).astype(np.float32)
    np.testing.assert_allclose(m.backward(x, g).numpy(), np.where(x > 0, g, g * r.reshape(1, 3, 1, 1)), rtol=1e-6)
    assert repr(m) == 'nn.RReLU (l:0.200000, u:0.300000, channel-wise:true)'
    assert repr(nn.RReLU()) == 'nn.RReLU (l:0.125000, u:0.333333, channel-wise:false)'
    with pytest.raises(ValueError):
        nn.RReLU(0.5, 0.1)

@pytest.mark.gpu
@pytest.mark.parametrize('channelwise', [False, True])
def test_rrelu_gpu_draws_from_the_cpu_stream(channelwise):
    x = away(rnd(2, 3, 4, 5), [0]).astype(np.float32)
    torch.manualSeed(5)
    cpu = nn.RReLU(0.1, 0.4, False, channelwise).float()
    y = cpu.forward(x).numpy()
    torch.manualSeed(5)
    gpu = nn.RReLU(0.1, 0.4, False, channelwise).cuda()
    yc = gpu.forward(torch.FloatTensor(x).cuda())
    assert yc.type() == 'torch.CudaTensor'
    np.testing.assert_array_equal(yc.float().numpy(), y)
    np.testing.assert_array_equal(gpu.noise.float().numpy(), cpu.noise.numpy())


# -- CUDA (backend/gpu_elementwise.py: one launch per pass) against the CPU --------------------------------------
CUDA_OF = {np.float32: lambda t: t.cuda(), np.float64: lambda t: t.cudaDouble()}


def cuda_pair(make, dtype):
    """(CPU module, the same module on CUDA) of element type ``dtype``."""
    return make().type(TYPES[dtype]), CUDA_OF[dtype](make())


def on_cuda(a, dtype):
    return CUDA_OF[dtype](torch.Tensor(a.astype(dtype)) if dtype == np.float32 else torch.DoubleTensor(a))


def gpu_tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


def check_pointwise_gpu(cpu, gpu, x, g, dtype, scale=1):
    x, g = x.astype(dtype), g.astype(dtype)
    y = cpu.forward(x).numpy()
    yc = gpu.forward(on_cuda(x, dtype))
    assert yc.type() == ('torch.CudaTensor' if dtype == np.float32 else 'torch.CudaDoubleTensor')
    np.testing.assert_allclose(yc.double().numpy(), y, **gpu_tol(dtype))
    cpu.zeroGradParameters()
    gpu.zeroGradParameters()
    gi = cpu.backward(x, g, scale).numpy()
    np.testing.assert_allclose(gpu.backward(on_cuda(x, dtype), on_cuda(g, dtype), scale).double().numpy(), gi,
                               **gpu_tol(dtype))
    for a, b in zip(gpu.parameters()[1] if gpu.parameters() else [], cpu.parameters()[1] if cpu.parameters() else []):
        np.testing.assert_allclose(a.double().numpy(), b.numpy(), **gpu_tol(dtype))


@pytest.mark.gpu
@pytest.mark.parametrize('name', list(POINTWISE))
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', [(7,), (3, 7, 5)])
def test_pointwise_gpu_matches_cpu(name, dtype, shape):
    make, f, df, kinks, (lo, hi) = POINTWISE[name]
    cpu, gpu = cuda_pair(make, dtype)
    check_pointwise_gpu(cpu, gpu, away(rnd(*shape, lo=lo, hi=hi), kinks), rnd(*shape, seed=1), dtype)


@pytest.mark.gpu
def test_gpu_extremes_and_kinks_match_cpu():
    x = np.array([-1000.0, -50.0, -6.0, -1.0, -0.5, 0.0, 0.5, 1.0, 6.0, 50.0, 1000.0])
    g = np.linspace(-1, 1, x.size)
    for make in (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.ReLU6, nn.HardTanh, nn.HardShrink, nn.SoftShrink, nn.SoftPlus,
                 lambda: nn.SoftPlus(2, 1e6), nn.SoftSign, nn.LogSigmoid, nn.ELU, nn.Abs, nn.LeakyReLU,
                 lambda: nn.Threshold(0.5, 2)):
        for dtype in DTYPES:
            cpu, gpu = cuda_pair(make, dtype)
            with np.errstate(over='ignore'):
                check_pointwise_gpu(cpu, gpu, x, g, dtype)
    cpu, gpu = cuda_pair(nn.Sqrt, np.float64)       # the gradient where the output is 0
    check_pointwise_gpu(cpu, gpu, np.array([0.0, 4.0]), np.ones(2), np.float64)


@pytest.mark.gpu
@pytest.mark.parametrize('name', list(INPLACE))
def test_inplace_gpu_matches_cpu(name):
    make, kinks = INPLACE[name]
    x0 = away(rnd(3, 5, 7, lo=-2, hi=7), kinks).astype(np.float32)
    g0 = rnd(3, 5, 7, seed=1).astype(np.float32)
    ref = make(False).float()
    y_ref = ref.forward(x0).numpy().copy()
    gi_ref = ref.backward(x0, g0).numpy().copy()
    m = make(True).cuda()
    x, g = torch.FloatTensor(x0).cuda(), torch.FloatTensor(g0).cuda()
    y = m.forward(x)
    assert y.storage() is x.storage()
    np.testing.assert_allclose(x.float().numpy(), y_ref, rtol=1e-6)     # the input was overwritten
    gi = m.backward(x, g)
    assert gi.storage() is g.storage()
    np.testing.assert_allclose(g.float().numpy(), gi_ref, rtol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize('shape', [(4,), (3, 4), (2, 4, 3), (3, 4, 5, 7), (5, 4, 40, 41)])  # (the last: planes
@pytest.mark.parametrize('dtype', DTYPES)                                       # reduced by several blocks each)
def test_prelu_per_plane_gpu_matches_cpu(shape, dtype):
    w = np.linspace(0.1, 0.9, 4)

    def make():
        m = nn.PReLU(4)
        m.weight.copy(torch.Tensor(w))
        return m
    cpu, gpu = cuda_pair(make, dtype)
    check_pointwise_gpu(cpu, gpu, away(rnd(*shape), [0]), rnd(*shape, seed=2), dtype, scale=0.5)
    cpu, gpu = cuda_pair(nn.PReLU, dtype)                   # one shared slope
    check_pointwise_gpu(cpu, gpu, away(rnd(*shape), [0]), rnd(*shape, seed=2), dtype, scale=0.5)


def test_prelu_grad_weight_skips_nan_inputs_as_torch7(device):
    """Torch7's PReLU.c sums ``if (*input_data <= 0) sum += *input_data * *gradOutput_data``: a NaN input adds
    nothing, on the CPU as in the CUDA kernel lt_prelu_gw ((x < 0 ? x : 0) * g) and its numpy twin."""
    x = np.array([[-1.0, np.nan, 2.0, -3.0], [0.5, -2.0, np.nan, -0.25]])
    g = np.array([[1.0, 5.0, 7.0, 2.0], [3.0, 0.5, 11.0, 4.0]])
    on = (lambda a: torch.DoubleTensor(a)) if device == 'cpu' else (lambda a: on_cuda(a, np.float64))
    for make, want in ((lambda: nn.PReLU(4), [-1.0, -1.0, 0.0, -7.0]), (nn.PReLU, [-9.0])):
        m = make().double() if device == 'cpu' else make().cudaDouble()
        m.zeroGradParameters()
        m.backward(on(x), on(g))
        np.testing.assert_array_equal(m.gradWeight.double().numpy(), want)


@pytest.mark.gpu
@pytest.mark.parametrize('channelwise, inplace', [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize('shape', [(3, 5, 13, 17), (2, 7), (1100, 1000)])
def test_rrelu_training_gpu_matches_cpu(channelwise, inplace, shape):
    """The same draws from Torch7's stream (k non-positive elements: k draws, in order; more than 1024 chunks of
    1024 elements for the scan in the biggest case), and the stream left at the same place."""
    if channelwise and len(shape) != 4:
        shape = (4,) + shape
    x = away(rnd(*shape, lo=-1, hi=3), [0]).astype(np.float32)
    g = rnd(*shape, seed=1).astype(np.float32)
    torch.manualSeed(5)
    cpu = nn.RReLU(0.1, 0.4, inplace, channelwise).float()
    y = cpu.forward(x.copy()).numpy().copy()
    gi = cpu.backward(x.copy(), g.copy()).numpy().copy()
    after = torch.uniform()
    torch.manualSeed(5)
    gpu = nn.RReLU(0.1, 0.4, inplace, channelwise).cuda()
    yc = gpu.forward(torch.FloatTensor(x).cuda()).float().numpy()
    np.testing.assert_array_equal(yc, y)
    np.testing.assert_array_equal(gpu.noise.float().numpy(), cpu.noise.numpy())
    np.testing.assert_array_equal(gpu.backward(torch.FloatTensor(x).cuda(), torch.FloatTensor(g).cuda())
                                  .float().numpy(), gi)
    assert torch.uniform() == after


@pytest.mark.gpu
def test_rrelu_gpu_without_non_positive_elements():
    x = rnd(3, 4, lo=0.5, hi=2).astype(np.float32)
    torch.manualSeed(2)
    gpu = nn.RReLU().cuda()
    np.testing.assert_array_equal(gpu.forward(torch.FloatTensor(x).cuda()).float().numpy(), x)
    np.testing.assert_array_equal(gpu.noise.float().numpy(), 1)
    after = torch.uniform()
    torch.manualSeed(2)
    assert torch.uniform() == after                       # nothing drawn


@pytest.mark.gpu
def test_tanhshrink_gpu_keeps_its_tanh_output():
    x = rnd(3, 5)
    cpu, gpu = cuda_pair(nn.TanhShrink, np.float64)
    check_pointwise_gpu(cpu, gpu, x, rnd(3, 5, seed=1), np.float64)
    np.testing.assert_allclose(gpu.tanh.output.double().numpy(), np.tanh(x), rtol=1e-14)


@pytest.mark.gpu
def test_strided_gpu_input_takes_the_array_path():
    """A non-contiguous CUDA input (the kernels index flat) still gives the CPU's values."""
    x = rnd(6, 8)
    g = rnd(4, 6, seed=1)
    for make in (nn.Sigmoid, nn.ReLU, lambda: nn.PReLU(6)):
        cpu, gpu = make().double(), make().cudaDouble()
        y = cpu.forward(x.T[:4]).numpy()
        xc = torch.DoubleTensor(x).cudaDouble().t()[:4]
        assert not xc.isContiguous()
        np.testing.assert_allclose(gpu.forward(xc).double().numpy(), y, rtol=1e-12)
        np.testing.assert_allclose(gpu.backward(xc, torch.DoubleTensor(g).cudaDouble()).double().numpy(),
                                   cpu.backward(x.T[:4], g).numpy(), rtol=1e-12)



# -- the SoftMax family ---------------------------------------------------------------------------------------
def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


SOFTMAX_AXIS = {1: 0, 2: 1, 3: 0, 4: 1}
FAMILY = {
    'SoftMax': (nn.SoftMax, lambda x, a: np_softmax(x, a)),
    'LogSoftMax': (nn.LogSoftMax, lambda x, a: np.log(np_softmax(x, a))),
    'SoftMin': (nn.SoftMin, lambda x, a: np_softmax(-x, a)),
}


@pytest.mark.parametrize('name', list(FAMILY))
@pytest.mark.parametrize('shape', [(5,), (3, 5), (4, 2, 3), (2, 4, 2, 3)])
@pytest.mark.parametrize('dtype', DTYPES)
def test_softmax_family_values_and_jacobian(name, shape, dtype):
    cls, ref = FAMILY[name]
    axis = SOFTMAX_AXIS[len(shape)]
    m = cls().type(TYPES[dtype])
    x = (3 * rnd(*shape)).astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    y = m.forward(x)
    np.testing.assert_allclose(y.numpy(), ref(x.astype(np.float64), axis), rtol=rtol, atol=rtol)
    g = rnd(*shape, seed=1)
    gi = m.backward(x, g.astype(dtype)).numpy()
    # numerical vector-Jacobian product of the reference
    eps = 1e-6
    num = np.zeros(shape)
    xd = x.astype(np.float64)
    for i in np.ndindex(*shape):
        e = np.zeros(shape)
        e[i] = eps
        num[i] = ((ref(xd + e, axis) - ref(xd - e, axis)) * g).sum() / (2 * eps)
    np.testing.assert_allclose(gi, num, rtol=1e-4 if dtype == np.float32 else 1e-6, atol=1e-5)
    if dtype == np.float64 and len(shape) <= 3:
        assert J.testJacobian(m, torch.DoubleTensor(x)) < TOL


def test_softmax_is_stable():
    x = np.array([1000.0, 0.0])
    np.testing.assert_allclose(nn.SoftMax().double().forward(x).numpy(), [1, 0], atol=1e-300)
    np.testing.assert_allclose(nn.LogSoftMax().double().forward(x).numpy(), [0, -1000])
    np.testing.assert_allclose(nn.SoftMin().double().forward(-x).numpy(), [1, 0])
    y = nn.SoftMax().float().forward(np.array([[1000, 0], [-1000, 1000]], np.float32)).numpy()
    assert np.isfinite(y).all()
    np.testing.assert_array_equal(y, [[1, 0], [0, 1]])
    ly = nn.LogSoftMax().float().forward(np.array([[1e30, 0]], np.float32)).numpy()
    np.testing.assert_array_equal(ly, np.array([[0, -1e30]], np.float32))


def test_softmax_errors():
    with pytest.raises(ValueError, match=r'nn.SoftMax.*\[1, 2, 3, 4, 5\]'):
        nn.SoftMax().double().forward(np.zeros((1, 2, 3, 4, 5)))
    m = nn.LogSoftMax().double()
    m.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r'gradOutput of size \[3, 2\]'):
        m.backward(np.zeros((2, 3)), np.zeros((3, 2)))


SOFTMAX_GPU = dict(FAMILY, SpatialSoftMax=(nn.SpatialSoftMax, None), SpatialLogSoftMax=(nn.SpatialLogSoftMax, None))


@pytest.mark.gpu
@pytest.mark.parametrize('name', list(SOFTMAX_GPU))
@pytest.mark.parametrize('shape', [(5,), (3, 7), (64, 10), (4, 2, 3), (2, 33, 3, 5), (2, 100000), (1, 3000, 1, 2)],
                         ids=str)
@pytest.mark.parametrize('tname', ['torch.CudaTensor', 'torch.CudaDoubleTensor'])
def test_softmax_family_gpu_matches_cpu(name, shape, tname):
    """One kernel launch a pass on CUDA (a block per row: any row length, rows along dim -3 for 3-D / 4-D inputs)
    against the CPU."""
    cls = SOFTMAX_GPU[name][0]
    ctype = {'torch.CudaTensor': 'torch.FloatTensor', 'torch.CudaDoubleTensor': 'torch.DoubleTensor'}[tname]
    x, g = 3 * rnd(*shape), rnd(*shape, seed=1)
    cpu, gpu = cls().type(ctype), cls().type(tname)
    tol = 1e-5 if tname == 'torch.CudaTensor' else 1e-12
    y = gpu.forward(torch.DoubleTensor(x).type(tname))
    assert y.type() == tname
    np.testing.assert_allclose(y.double().numpy(), cpu.forward(torch.DoubleTensor(x).type(ctype)).double().numpy(),
                               rtol=tol, atol=tol)
    gi = gpu.backward(torch.DoubleTensor(x).type(tname), torch.DoubleTensor(g).type(tname))
    np.testing.assert_allclose(gi.double().numpy(),
                               cpu.backward(torch.DoubleTensor(x).type(ctype), torch.DoubleTensor(g).type(ctype))
                               .double().numpy(), rtol=tol * 10, atol=tol)


@pytest.mark.gpu
@pytest.mark.parametrize('cls', [nn.SoftMax, nn.LogSoftMax])
def test_softmax_gpu_noncontiguous_and_stable(cls):
    x = np.array([[1000.0, 0.0, -3.0], [-1000.0, 1000.0, 2.0], [1e30, 0.0, 1.0], [5.0, 5.0, 5.0]], np.float32)
    g = rnd(3, 4, seed=2).astype(np.float32).T
    xt = torch.FloatTensor(np.ascontiguousarray(x.T)).cuda().t()           # a transposed view
    gt = torch.FloatTensor(np.ascontiguousarray(g.T)).cuda().t()
    assert not xt.isContiguous() and not gt.isContiguous()
    cpu, gpu = cls().float(), cls().cuda()
    gpu.gradInput = torch.FloatTensor(3, 4).cuda().t()
    y = gpu.forward(xt).float().numpy()
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, cpu.forward(x).numpy(), rtol=1e-6)
    gi = gpu.backward(xt, gt)
    assert gi is gpu.gradInput and not gi.isContiguous()
    np.testing.assert_allclose(gi.float().numpy(), cpu.backward(x, g).numpy(), rtol=1e-5, atol=1e-6)


# -- construction, repr, type, buffers, errors ------------------------------------------------------------------
def test_fields_and_repr_follow_torch7():
    assert repr(nn.ReLU()) == 'nn.ReLU' and repr(nn.Threshold()) == 'nn.Threshold'
    assert repr(nn.ELU()) == 'nn.ELU (alpha:1.000000)'
    assert repr(nn.ELU(0.5)) == 'nn.ELU (alpha:0.500000)'
    assert repr(nn.Power(2)) == 'nn.Power' and repr(nn.Clamp(0, 1)) == 'nn.Clamp'
    r = nn.ReLU()
    assert (r.threshold, r.val, r.inplace) == (0, 0, False)
    t = nn.Threshold()
    assert (t.threshold, t.val) == (1e-6, 0)
    h = nn.HardTanh()
    assert (h.min_val, h.max_val, h.inplace) == (-1, 1, False)
    assert (nn.Clamp(-2, 3).min_val, nn.Clamp(-2, 3).max_val) == (-2, 3)
    assert nn.LeakyReLU().negval == 0.01 and nn.ELU().alpha == 1
    assert getattr(nn.HardShrink(), 'lambda') == 0.5 and getattr(nn.SoftShrink(0.3), 'lambda') == 0.3
    sp = nn.SoftPlus()
    assert (sp.beta, sp.threshold) == (1, 20)
    assert nn.Sqrt().eps == 0 and nn.Power(3).pow == 3
    rr = nn.RReLU()
    assert (rr.lower, rr.upper, rr.inplace, rr.channelwise, rr.train) == (1 / 8, 1 / 3, False, False, True)
    assert isinstance(nn.TanhShrink().tanh, nn.Tanh)
    assert nn.ReLU.__torch_name__ == 'nn.ReLU' and isinstance(nn.ReLU(), nn.Threshold)
    assert isinstance(nn.Clamp(0, 1), nn.HardTanh)


def test_leaky_relu_repr_shows_negval():
    # nn's LeakyReLU:__tostring__ prints the slope with %g (dcgan's netD: nn.LeakyReLU(0.2))
    assert repr(nn.LeakyReLU(0.2, True)) == 'nn.LeakyReLU(0.2)'
    assert repr(nn.LeakyReLU()) == 'nn.LeakyReLU(0.01)'
    assert repr(nn.LeakyReLU(2)) == 'nn.LeakyReLU(2)'


def test_leaky_relu_boolean_first_argument_is_torch7s_default_slope():
    # nn's LeakyReLU(true) keeps the slope 1/100 (its `local ip = negval` shadows, so it is not in place);
    # a bool taken as the slope gave slope 1: the identity
    m = nn.LeakyReLU(True)
    assert m.negval == 0.01 and m.inplace is False and repr(m) == 'nn.LeakyReLU(0.01)'
    x = torch.Tensor([-1.0, 2.0])
    assert m.forward(x).tolist() == [-0.01, 2.0] and x.tolist() == [-1.0, 2.0]
    assert nn.LeakyReLU(True, True).inplace is True


def test_constructor_errors():
    with pytest.raises(ValueError, match='max_value must be larger'):
        nn.HardTanh(1, -1)
    with pytest.raises(TypeError):
        nn.Power(None)
    with pytest.raises(TypeError):
        nn.Threshold('a')
    with pytest.raises(ValueError, match=r'nn.ReLU: gradOutput of size \[2\] does not match input of size \[3\]'):
        nn.ReLU().double().backward(np.zeros(3), np.zeros(2))
    with pytest.raises(TypeError, match='torch.FloatTensor'):
        nn.ReLU().double().forward(torch.FloatTensor(3))


def test_type_conversion_and_buffer_reuse():
    m = nn.Sequential().add(nn.PReLU(3)).add(nn.ELU()).add(nn.TanhShrink()).add(nn.LogSoftMax())
    m.float()
    assert m.get(0).weight.type() == 'torch.FloatTensor' and m.get(2).tanh.type() == 'torch.FloatTensor'
    x = rnd(4, 3).astype(np.float32)
    y = m.forward(x)
    assert y.type() == 'torch.FloatTensor'
    out_arrays = [mod.output._a for mod in m.listModules()[1:]]
    m.backward(x, np.ones((4, 3), np.float32))
    m.forward(x)
    assert all(mod.output._a is a for mod, a in zip(m.listModules()[1:], out_arrays))


def test_save_load_roundtrip(tmp_path):
    m = nn.Sequential().add(nn.PReLU(2)).add(nn.ReLU(True)).add(nn.ELU(0.5)).add(nn.HardShrink(0.2)) \
        .add(nn.RReLU(0.1, 0.2)).add(nn.SoftPlus(2)).add(nn.SoftMax()).double()
    m.get(0).weight.copy(torch.DoubleTensor([0.1, 0.7]))
    m.evaluate()
    m2 = check_reloads(m, rnd(3, 2), tmp_path)
    assert getattr(m2.get(3), 'lambda') == 0.2 and m2.get(1).inplace is True


@pytest.mark.parametrize('ip', [False, True])
def test_relu_of_nan_and_negative_zero_as_documented(ip):
    """docs/nn.md: ours keeps NaN and -0.0 where Torch7's `x > th ? x : val` gives val (NaN stays NaN in place);
    every other value is Torch7's."""
    x = np.array([np.nan, -0.0, 0.0, 2.5, -1.0], np.float32)
    out = nn.ReLU(ip).float().forward(torch.FloatTensor(x.copy())).numpy()
    assert np.isnan(out[0]) and np.signbit(out[1]) and out[1] == 0
    np.testing.assert_array_equal(out[2:], [0.0, 2.5, 0.0])
    assert not np.signbit(out[2]) and not np.signbit(out[4])


@pytest.mark.parametrize('name', ['Sigmoid', 'Tanh', 'Sqrt', 'ReLU'])
def test_pointwise_backward_before_forward(name):
    # f' of Sigmoid/Tanh/Sqrt reads the saved output: a backward with no forward on this input computes it (as the
    # SoftMax family does) rather than leaking numpy's broadcast error, and gives the forward-then-backward gradient
    x, g = np.abs(rnd(2, 3, seed=1)) + 0.1, rnd(2, 3, seed=2)
    m = POINTWISE[name][0]()
    gi = m.backward(torch.fromNumpy(x), torch.fromNumpy(g))
    ref = POINTWISE[name][0]()
    ref.forward(torch.fromNumpy(x))
    np.testing.assert_allclose(gi._a, ref.backward(torch.fromNumpy(x), torch.fromNumpy(g))._a, rtol=1e-12)
    np.testing.assert_allclose(m.output._a, ref.output._a, rtol=1e-12)


def test_inplace_backward_before_forward_raises():
    m = nn.ReLU(True)
    with pytest.raises(RuntimeError, match=r"nn\.ReLU.*call forward first"):
        m.backward(torch.fromNumpy(rnd(2, 3)), torch.fromNumpy(rnd(2, 3, seed=1)))


@pytest.mark.parametrize('cls', [nn.SoftMax, nn.LogSoftMax])
@pytest.mark.parametrize('shape', [(3,), (2, 3), (2, 3, 2, 2)])
def test_softmax_grad_when_gradOutput_is_the_gradInput(cls, shape):
    # Torch7 reads gradOutput's sums before writing gradInput: passing the module's own gradInput as gradOutput
    # gives the same as passing a copy of it
    x = torch.fromNumpy(rnd(*shape))
    m, ref = cls(), cls()
    m.forward(x)
    ref.forward(x)
    g = m.backward(x, torch.fromNumpy(rnd(*shape, seed=1))).clone()
    np.testing.assert_allclose(m.backward(x, m.gradInput)._a, ref.backward(x, g)._a, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize('make, want', [(lambda: nn.HardShrink(0.5), [0.0, np.inf, -np.inf, 0.0, 2.0, 0.0]),
                                        (lambda: nn.SoftShrink(0.5), [0.0, np.inf, -np.inf, 0.0, 1.5, 0.0])])
def test_shrink_of_nan_is_torch7s_zero(device, make, want):
    """Torch7's HardShrink.c/SoftShrink.c (and cunn's): ``x > l ? .. : x < -l ? .. : 0``, so a NaN gives 0, on the
    CPU as in the CUDA kernel (x * mask and x - clip(x) used to keep the NaN on the CPU)."""
    x = np.array([np.nan, np.inf, -np.inf, 0.25, 2.0, -0.5])
    on = (lambda a: torch.DoubleTensor(a)) if device == 'cpu' else (lambda a: on_cuda(a, np.float64))
    m = make().double() if device == 'cpu' else make().cudaDouble()
    np.testing.assert_array_equal(m.forward(on(x)).double().numpy(), want)


@pytest.mark.parametrize('ip', [False, True])
def test_elu_backward_of_nan_output_passes_gradoutput(device, ip):
    """Torch7's ELU.c: ``gradInput = output <= 0 ? gradOutput * (output + alpha) : gradOutput``: a NaN output
    takes the else branch (the CPU gave NaN, the CUDA kernel gradOutput)."""
    x = np.array([np.nan, 1.5, -1.0, np.inf])
    g = np.array([3.0, 5.0, 7.0, 11.0])
    on = (lambda a: torch.DoubleTensor(a)) if device == 'cpu' else (lambda a: on_cuda(a, np.float64))
    m = nn.ELU(0.5, ip).double() if device == 'cpu' else nn.ELU(0.5, ip).cudaDouble()
    xt = on(x)
    m.forward(xt)
    gi = m.backward(xt, on(g)).double().numpy()
    np.testing.assert_array_equal(gi[[0, 1, 3]], [3.0, 5.0, 11.0])
    np.testing.assert_allclose(gi[2], 7.0 * 0.5 * np.exp(-1.0), rtol=1e-15)


def test_prelu_with_an_infinite_slope_passes_positive_inputs(device):
    """Torch7's PReLU.c: ``x > 0 ? x : w * x``, so x > 0 gives x whatever w is (the CPU's factor 1 + 0 * w was
    NaN for w = +-inf; the CUDA kernel had x)."""
    x = np.array([[2.0, -1.0, np.inf, 0.0]])
    g = np.array([[3.0, 5.0, 7.0, 11.0]])
    on = (lambda a: torch.DoubleTensor(a)) if device == 'cpu' else (lambda a: on_cuda(a, np.float64))
    m = nn.PReLU().double() if device == 'cpu' else nn.PReLU().cudaDouble()
    m.weight.fill(-np.inf)
    with np.errstate(invalid='ignore'):          # (-inf * 0: NaN, as Torch7's w * x)
        np.testing.assert_array_equal(m.forward(on(x)).double().numpy(), [[2.0, np.inf, np.inf, np.nan]])
        np.testing.assert_array_equal(m.backward(on(x), on(g)).double().numpy(), [[3.0, -np.inf, 7.0, -np.inf]])

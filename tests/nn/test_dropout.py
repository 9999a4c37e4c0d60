"""nn.Dropout: Torch7's mask from the global stream, scaling, evaluate(), in place."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import check_steady_state, rnd, roundtrip


def torch_mask(seed, shape, p):
    """What Torch7 draws: noise:bernoulli(1 - p) on a tensor shaped like the input, after manualSeed."""
    torch.manualSeed(seed)
    return torch.DoubleTensor(*shape).bernoulli(1 - p).numpy().copy()


def test_mask_is_torch7_draw_and_scaled():
    x = rnd(4, 5) + 3
    m = nn.Dropout(0.3)
    torch.manualSeed(42)
    y = m.forward(x).numpy()
    mask = torch_mask(42, (4, 5), 0.3)
    np.testing.assert_array_equal(y, x * (mask / 0.7))
    np.testing.assert_array_equal(m.noise.numpy(), mask / 0.7)
    g = rnd(4, 5, seed=1)
    np.testing.assert_array_equal(m.backward(x, g).numpy(), g * (mask / 0.7))


def test_reproducible_with_manual_seed():
    x = np.ones((50, 20))
    m = nn.Dropout(0.5)
    torch.manualSeed(7)
    a = m.forward(x).numpy().copy()
    b = m.forward(x).numpy().copy()
    torch.manualSeed(7)
    c = nn.Dropout(0.5).forward(x).numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)            # the stream moved on


def test_statistics():
    torch.manualSeed(3)
    p = 0.3
    x = np.ones((200, 500))
    y = nn.Dropout(p).forward(x).numpy()
    dropped = np.mean(y == 0)
    assert abs(dropped - p) < 0.01
    assert set(np.unique(y)) <= {0.0, np.float64(1) / (1 - p)}
    assert abs(y.mean() - 1) < 0.02            # expectation kept by the 1/(1-p) scaling


def test_evaluate_is_identity_and_v1():
    x = rnd(3, 4)
    m = nn.Dropout(0.4)
    m.evaluate()
    np.testing.assert_array_equal(m.forward(x).numpy(), x)
    g = rnd(3, 4, seed=1)
    np.testing.assert_array_equal(m.backward(x, g).numpy(), g)
    m.training()
    assert m.train
    v1 = nn.Dropout(0.4, True)
    torch.manualSeed(9)
    y = v1.forward(x).numpy()
    np.testing.assert_array_equal(y, x * torch_mask(9, (3, 4), 0.4))   # v1: no scaling in training
    v1.evaluate()
    np.testing.assert_allclose(v1.forward(x).numpy(), x * 0.6)
    np.testing.assert_allclose(v1.backward(x, g).numpy(), g * 0.6)
    si = nn.Dropout(0.5, False, False, True).evaluate()                  # stochastic inference
    assert (si.forward(np.ones((10, 10))).numpy() == 0).any()


@pytest.mark.parametrize('v1', [False, True])
def test_stochastic_inference_backward_is_evaluates(v1):
    """Torch7's Dropout:updateGradInput masks only when self.train: in evaluate() with stochasticInference the
    forward still drops, but the backward is evaluate()'s -- gradOutput itself (v1: times 1 - p)."""
    x, g = rnd(3, 4), rnd(3, 4, seed=1)
    m = nn.Dropout(0.4, v1, False, True).evaluate()
    torch.manualSeed(9)
    y = m.forward(x).numpy()
    np.testing.assert_array_equal(y, x * torch_mask(9, (3, 4), 0.4) / (1 if v1 else 0.6))
    np.testing.assert_allclose(m.backward(x, g).numpy(), g * 0.6 if v1 else g, rtol=1e-15)


def test_p_zero_and_errors():
    x = rnd(3, 4)
    np.testing.assert_array_equal(nn.Dropout(0).forward(x).numpy(), x)
    with pytest.raises(ValueError, match='illegal percentage'):
        nn.Dropout(1)
    with pytest.raises(ValueError, match='illegal percentage'):
        nn.Dropout(-0.1)
    m = nn.Dropout()
    m.forward(x)
    with pytest.raises(ValueError, match=r'nn.Dropout\(0.500000\): gradOutput of size \[4, 3\] does not match'):
        m.backward(x, rnd(4, 3))


def test_inplace():
    x = torch.DoubleTensor(rnd(3, 4))
    x0 = x.numpy().copy()
    m = nn.Dropout(0.5, False, True)
    torch.manualSeed(1)
    y = m.forward(x)
    assert y is x
    np.testing.assert_array_equal(x.numpy(), x0 * torch_mask(1, (3, 4), 0.5) * 2)
    g = torch.DoubleTensor(np.ones((3, 4)))
    assert m.backward(x, g) is g


def test_repr():
    assert repr(nn.Dropout()) == 'nn.Dropout(0.500000)'
    assert repr(nn.Dropout(0.25)) == 'nn.Dropout(0.250000)'


def test_float32_and_steady_state():
    m = nn.Dropout(0.2).float()
    x = rnd(8, 9).astype(np.float32)
    torch.manualSeed(5)
    y = m.forward(x)
    assert y.type() == 'torch.FloatTensor'
    np.testing.assert_array_equal(y.numpy(), x * (torch_mask(5, (8, 9), 0.2).astype(np.float32) / np.float32(0.8)))
    check_steady_state(m, x, x)                                # output, gradInput and noise are kept


def test_save_load_roundtrip(tmp_path):
    m = nn.Dropout(0.3)
    m2 = roundtrip(m, tmp_path)
    assert m2.p == 0.3 and m2.v2 and repr(m2) == 'nn.Dropout(0.300000)'


@pytest.mark.gpu
def test_gpu_mask_from_the_cpu_stream():
    x = rnd(6, 7).astype(np.float32)
    torch.manualSeed(4)
    y = nn.Dropout(0.3).float().forward(x).numpy()
    torch.manualSeed(4)
    m = nn.Dropout(0.3).cuda()
    yc = m.forward(torch.FloatTensor(x).cuda())
    assert yc.type() == 'torch.CudaTensor'
    np.testing.assert_array_equal(yc.float().numpy(), y)
    m.evaluate()
    np.testing.assert_array_equal(m.forward(torch.FloatTensor(x).cuda()).float().numpy(), x)


# -- CUDA: the same host draws, applied by one launch (backend/gpu_elementwise.py) ----------------------------------
def _pair(make, dtype):
    cpu = make().type('torch.FloatTensor' if dtype == np.float32 else 'torch.DoubleTensor')
    return cpu, (make().cuda() if dtype == np.float32 else make().cudaDouble())


def _dev(a, dtype):
    return torch.FloatTensor(a).cuda() if dtype == np.float32 else torch.DoubleTensor(a).cudaDouble()


@pytest.mark.gpu
@pytest.mark.parametrize('make', [lambda: nn.Dropout(0.3), lambda: nn.Dropout(0.3, True), lambda: nn.Dropout(0.7),
                                  lambda: nn.Dropout(0.3, False, True), lambda: nn.Dropout(0.3, True, True),
                                  lambda: nn.Dropout(0.4, False, False, True), lambda: nn.SpatialDropout(0.3),
                                  lambda: nn.SpatialDropout(0.6)])
@pytest.mark.parametrize('shape', [(5, 3, 7, 3), (3, 7, 5)])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_gpu_training_matches_cpu_exactly(make, shape, dtype):
    """The same mask (Torch7's stream), noise, output and gradInput, the stream left at the same place; twice (the
    second forward reuses every buffer); then evaluate() where the module allows it."""
    x, g = rnd(*shape).astype(dtype), rnd(*shape, seed=1).astype(dtype)
    cpu, gpu = _pair(make, dtype)
    for seed in (4, 9):
        torch.manualSeed(seed)
        y = cpu.forward(x.copy()).numpy().copy()
        gi = cpu.backward(x.copy(), g.copy()).numpy().copy()
        after = torch.uniform()
        torch.manualSeed(seed)
        xc, gc = _dev(x, dtype), _dev(g, dtype)
        yc = gpu.forward(xc)
        np.testing.assert_array_equal(yc.double().numpy(), y)
        np.testing.assert_array_equal(gpu.noise.double().numpy(), cpu.noise.numpy())
        gic = gpu.backward(xc, gc)
        np.testing.assert_array_equal(gic.double().numpy(), gi)
        assert torch.uniform() == after
        if getattr(gpu, 'inplace', False):
            assert yc.storage() is xc.storage() and gic.storage() is gc.storage()
        else:
            np.testing.assert_array_equal(xc.double().numpy(), x)         # the input untouched
    cpu.evaluate()
    gpu.evaluate()
    torch.manualSeed(1)                             # (stochasticInference draws in evaluate() too)
    y = cpu.forward(x.copy()).numpy().copy()
    torch.manualSeed(1)
    np.testing.assert_array_equal(gpu.forward(_dev(x, dtype)).double().numpy(), y)


@pytest.mark.gpu
def test_gpu_strided_input():
    x = rnd(6, 8)
    cpu, gpu = _pair(lambda: nn.Dropout(0.5), np.float64)
    torch.manualSeed(3)
    y = cpu.forward(x.T[:5]).numpy().copy()
    torch.manualSeed(3)
    xc = torch.DoubleTensor(x).cudaDouble().t()[:5]
    assert not xc.isContiguous()
    np.testing.assert_array_equal(gpu.forward(xc).double().numpy(), y)


def test_dropout_p_must_be_a_number():
    with pytest.raises(TypeError, match=r"nn\.Dropout: expected the dropout probability p to be a number, got '0.5'"):
        nn.Dropout('0.5')


@pytest.mark.parametrize('make', [nn.SpatialDropout, nn.VolumetricDropout])
def test_feature_dropout_p_must_be_a_number(make):
    with pytest.raises(TypeError, match=r"nn\.\w+Dropout: expected the dropout probability p to be a number, got None"):
        make(None)
    assert make(0).p == 0


@pytest.mark.parametrize('make,shape', [(lambda: nn.Dropout(0.5), (40, 50)),
                                        (lambda: nn.SpatialDropout(0.5), (8, 30, 2, 2)),
                                        (lambda: nn.VolumetricDropout(0.5), (8, 30, 2, 2, 2))])
def test_clear_state_empties_the_noise(make, shape, tmp_path):
    # Torch7's clearState empties the noise (a model saved after it does not carry the last batch's mask)
    m = make().double()
    x = torch.DoubleTensor(np.ones(shape))
    m.forward(x)
    m.clearState()
    assert m.noise.nElement() == 0
    assert roundtrip(m, tmp_path).noise.nElement() == 0
    with pytest.raises(RuntimeError, match='call forward first'):
        m.backward(x, x)
    y = m.forward(x).numpy()
    np.testing.assert_array_equal(m.backward(x, x).numpy(), y)


@pytest.mark.parametrize('make,shape', [(lambda: nn.Dropout(0.3), (191325,)),
                                        (lambda: nn.SpatialDropout(0.3), (1, 191325, 1, 1))])
def test_float_mask_draws_with_a_double_probability(make, shape):
    # Torch7 wraps bernoulli's p as a double for a FloatTensor too: 1 - p is not rounded to float32.  Word 191324
    # after manualSeed(163) lies between float32(0.7) * 2^32 and 0.7 * 2^32: Torch7 keeps that element.
    from luatorch_py.random import Generator
    g = Generator()
    g.manualSeed(163)
    w = int(g._raw(191325)[-1])
    assert float(np.float32(0.7)) * 2 ** 32 < w <= 0.7 * 2 ** 32
    torch.manualSeed(163)
    y = make().float().forward(torch.FloatTensor(np.ones(shape, np.float32))).numpy().reshape(-1)
    assert y[191324] != 0
    torch.manualSeed(163)
    np.testing.assert_array_equal(y != 0, torch.FloatTensor(191325).bernoulli(0.7).numpy() != 0)

"""nn.LookupTable (0-based indices)."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import J, L, check_steady_state, roundtrip


def test_init_draws_normal_in_torch_order():
    torch.manualSeed(11)
    m = nn.LookupTable(5, 3)
    torch.manualSeed(11)
    want = torch.DoubleTensor(5, 3).normal(0, 1).numpy()
    np.testing.assert_array_equal(m.weight.numpy(), want)
    assert np.all(m.gradWeight.numpy() == 0)
    assert repr(m) == 'nn.LookupTable'


def test_forward_1d_2d_and_numpy_indices():
    m = nn.LookupTable(6, 4)
    w = m.weight.numpy()
    idx = [0, 5, 2, 2]
    np.testing.assert_array_equal(m.forward(L(idx)).numpy(), w[idx])
    b = np.array([[1, 0, 3], [5, 5, 4]])
    out = m.forward(L(b))
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out.numpy(), w[b])
    np.testing.assert_array_equal(m.forward(b.astype(np.int32)).numpy(), w[b])     # any integer array
    np.testing.assert_array_equal(m.forward(torch.DoubleTensor([1, 2])).numpy(), w[[1, 2]])  # integral floats


def test_errors():
    m = nn.LookupTable(6, 4)
    with pytest.raises(IndexError, match=r'nn.LookupTable: indices must be in \[0, 6\).*6'):
        m.forward(L([0, 6]))
    with pytest.raises(IndexError, match=r'got -1'):
        m.forward(L([-1, 2]))
    with pytest.raises(ValueError, match=r'size \[n\] or \[batch, n\], got \[1, 2, 2\]'):
        m.forward(L([[[1, 2], [3, 4]]]))
    with pytest.raises(ValueError, match='non-integral'):
        m.forward(torch.DoubleTensor([1.5]))
    m.forward(L([1, 2]))
    with pytest.raises(ValueError, match=r'expected gradOutput of size \[2, 4\], got \[2, 3\]'):
        m.backward(L([1, 2]), np.zeros((2, 3)))


def test_acc_grad_parameters_accumulates_repeated_indices():
    m = nn.LookupTable(6, 4)
    idx = np.array([[1, 0, 1], [5, 1, 4]])
    g = np.random.default_rng(0).standard_normal((2, 3, 4))
    m.zeroGradParameters()
    m.forward(L(idx))
    gi = m.backward(L(idx), g, 0.5)
    want = np.zeros((6, 4))
    for (i, j), k in np.ndenumerate(idx):
        want[k] += 0.5 * g[i, j]
    np.testing.assert_allclose(m.gradWeight.numpy(), want, rtol=1e-14)
    # the gradient with respect to indices is zero, of the input's type and size
    assert gi.type() == 'torch.LongTensor' and gi.shape == (2, 3) and not gi.numpy().any()
    # a second backward accumulates
    m.backward(L(idx), g, 0.5)
    np.testing.assert_allclose(m.gradWeight.numpy(), 2 * want, rtol=1e-14)


def test_padding_and_scale_grad_by_freq():
    m = nn.LookupTable(5, 2, 1)                # row 1 is padding: no gradient
    assert m.paddingValue == 1
    idx = np.array([1, 2, 1, 2, 2, 0])
    g = np.arange(12.0).reshape(6, 2)
    m.forward(L(idx))
    np.testing.assert_array_equal(m.output.numpy(), m.weight.numpy()[idx])   # padding rows still looked up
    m.backward(L(idx), g)
    want = np.zeros((5, 2))
    want[2] = g[1] + g[3] + g[4]
    want[0] = g[5]
    np.testing.assert_allclose(m.gradWeight.numpy(), want)
    f = nn.LookupTable(5, 2).scaleGradByFreq()
    f.forward(L(idx))
    f.backward(L(idx), g, 2)
    want = np.zeros((5, 2))
    for i, k in enumerate(idx):
        want[k] += 2 * g[i] / np.sum(idx == k)
    np.testing.assert_allclose(f.gradWeight.numpy(), want)
    assert nn.LookupTable(5, 2).paddingValue == -1           # Torch7's 0: no padding


def test_max_norm_renormalizes_looked_up_rows():
    m = nn.LookupTable(4, 3, None, 1.0)
    w0 = m.weight.numpy().copy()
    w0[0] = [3.0, 4.0, 0.0]        # norm 5
    w0[1] = [0.1, 0.2, 0.2]        # norm 0.3
    w0[2] = [0.0, 0.0, 9.0]        # not looked up
    m.weight.copy(torch.DoubleTensor(w0))
    out = m.forward(L([0, 1, 0])).numpy()
    np.testing.assert_allclose(m.weight.numpy()[0], w0[0] / (5 + 1e-7))
    np.testing.assert_array_equal(m.weight.numpy()[1:], w0[1:])
    np.testing.assert_allclose(out[0], w0[0] / (5 + 1e-7))
    m1 = nn.LookupTable(2, 2, None, 1.0, 1)
    m1.weight.copy(torch.DoubleTensor([[1.0, -3.0], [0.2, 0.3]]))
    m1.forward(L([0]))
    np.testing.assert_allclose(m1.weight.numpy()[0], np.array([1.0, -3.0]) / (4 + 1e-7))


def test_jacobian_parameters_and_update():
    for idx in (L([0, 3, 3, 1]), L([[0, 2], [2, 4]])):
        m = nn.LookupTable(5, 3)
        assert J.testJacobianParameters(m, idx, m.weight, m.gradWeight, randomize=False) < 1e-5
        m.zeroGradParameters()
        before = m.weight.numpy().copy()
        m.forward(idx)
        g = np.ones(m.output.shape)
        m.backwardUpdate(idx, g, 0.1)
        want = before.copy()
        np.add.at(want, idx.numpy().reshape(-1), -0.1)
        np.testing.assert_allclose(m.weight.numpy(), want, rtol=1e-14)


def test_float32_and_steady_state():
    m = nn.LookupTable(50, 8).float()
    idx = np.random.default_rng(1).integers(0, 50, (16, 10))
    check_steady_state(m, idx, np.ones((16, 10, 8), np.float32))
    assert m.output.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(m.gradWeight.numpy().sum(1), 2 * 8 * np.bincount(idx.ravel(), minlength=50))


def test_save_load_roundtrip(tmp_path):
    m = nn.LookupTable(5, 3, 2)
    m2 = roundtrip(m, tmp_path)
    assert m2.paddingValue == 2
    np.testing.assert_array_equal(m2.forward(L([0, 4])).numpy(), m.forward(L([0, 4])).numpy())


@pytest.mark.gpu
@pytest.mark.parametrize('freq', [False, True])
def test_gpu_matches_cpu(freq):
    cpu = nn.LookupTable(20, 4, 3).float()
    if freq:
        cpu.scaleGradByFreq()
    gpu = cpu.clone().cuda()
    idx = np.random.default_rng(2).integers(0, 20, (6, 7))
    y = cpu.forward(L(idx)).numpy()
    yc = gpu.forward(L(idx))
    assert yc.type() == 'torch.CudaTensor'
    np.testing.assert_array_equal(yc.float().numpy(), y)
    g = np.random.default_rng(3).standard_normal((6, 7, 4)).astype(np.float32)
    cpu.zeroGradParameters()
    gpu.zeroGradParameters()
    cpu.backward(L(idx), g, 0.5)
    gpu.backward(L(idx), torch.FloatTensor(g).cuda(), 0.5)
    np.testing.assert_allclose(gpu.gradWeight.float().numpy(), cpu.gradWeight.numpy(), rtol=1e-5, atol=1e-6)

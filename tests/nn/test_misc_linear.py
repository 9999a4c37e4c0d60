"""luatorch_py/nn/misc_linear.py: Cosine, WeightedEuclidean, LinearWeightNorm, PartialLinear."""
import math

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.serialization import classes

from nn_helpers import D, check_gpu_made, check_params, check_reloads, draws, rnd, roundtrip


def T(a):
    return torch.DoubleTensor(np.asarray(a, dtype=np.float64))


def norm(v):
    return math.sqrt(sum(e * e for e in v))


# -- Cosine ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('shape', [(5,), (4, 5)])
def test_cosine(shape, tmp_path):
    torch.manualSeed(2)
    m = nn.Cosine(5, 3).double()
    np.testing.assert_allclose(m.weight.numpy().reshape(-1), draws(2, 15, -1 / math.sqrt(3), 1 / math.sqrt(3)),
                               rtol=1e-15)                      # reset: +-1/sqrt(outputSize), row-major
    x = rnd(*shape)
    y = m.forward(T(x)).numpy()
    w = m.weight.numpy()
    for i, row in enumerate(x.reshape(-1, 5)):
        for j in range(3):
            want = sum(a * b for a, b in zip(w[j], row)) / ((norm(w[j]) + 1e-12) * (norm(row) + 1e-12))
            assert y.reshape(-1, 3)[i, j] == pytest.approx(want, rel=1e-13)
    check_params(m, D(*shape))
    check_reloads(m, T(x), tmp_path)
    assert repr(m) == 'nn.Cosine(5 -> 3)'


# -- WeightedEuclidean -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('shape', [(5,), (4, 5)])
def test_weighted_euclidean(shape, tmp_path):
    torch.manualSeed(3)
    m = nn.WeightedEuclidean(5, 3).double()
    np.testing.assert_allclose(m.weight.numpy().reshape(-1), draws(3, 15, -1 / math.sqrt(5), 1 / math.sqrt(5)),
                               rtol=1e-15)
    assert (m.diagCov.numpy() == 1).all()
    m.diagCov.copy(T(1 + 0.5 * rnd(5, 3, seed=7)))
    x = rnd(*shape)
    y = m.forward(T(x)).numpy()
    w, c = m.weight.numpy(), m.diagCov.numpy()
    for i, row in enumerate(x.reshape(-1, 5)):
        for j in range(3):
            want = math.sqrt(sum((c[k, j] * (row[k] - w[k, j])) ** 2 for k in range(5)))
            assert y.reshape(-1, 3)[i, j] == pytest.approx(want, rel=1e-13)
    check_params(m, D(*shape))
    m2 = check_reloads(m, T(x), tmp_path)
    np.testing.assert_array_equal(m2.diagCov.numpy(), m.diagCov.numpy())


@pytest.mark.parametrize('make', [lambda: nn.Cosine(5, 3), lambda: nn.WeightedEuclidean(5, 3)])
def test_backward_checks_gradOutput_size(make):
    m = make().double()
    for x, bad in ((rnd(5), rnd(1, 3)), (rnd(4, 5), rnd(3)), (rnd(4, 5), rnd(4, 2))):
        m.forward(T(x))
        with pytest.raises(ValueError, match=r'expected gradOutput of size \[(4, )?3\]'):
            m.updateGradInput(T(x), T(bad))
        with pytest.raises(ValueError, match='expected gradOutput'):
            m.accGradParameters(T(x), T(bad))


# -- LinearWeightNorm ------------------------------------------------------------------------------------------------
def test_linear_weight_norm(tmp_path):
    torch.manualSeed(4)
    m = nn.LinearWeightNorm(5, 3).double()
    s = 1 / math.sqrt(5)
    d = draws(4, 18, -s, s)              # the weight (15), then the bias (3)
    np.testing.assert_allclose(m.v.numpy().reshape(-1), d[:15], rtol=1e-15)
    np.testing.assert_allclose(m.bias.numpy(), d[15:], rtol=1e-15)
    np.testing.assert_allclose(m.g.numpy()[:, 0], [norm(r) for r in d[:15].reshape(3, 5)], rtol=1e-14)
    m.g.copy(T(rnd(3, 1, seed=1)))
    x = rnd(4, 5)
    y = m.forward(T(x)).numpy()
    v, g = m.v.numpy(), m.g.numpy()[:, 0]
    for i in range(4):
        for j in range(3):
            want = sum(g[j] * v[j, k] / norm(v[j]) * x[i, k] for k in range(5)) + m.bias.numpy()[j]
            assert y[i, j] == pytest.approx(want, rel=1e-13)
    check_params(m, D(4, 5))
    check_params(m, D(5))
    m2 = check_reloads(m, T(x), tmp_path)
    assert (m2.inputSize, m2.outputSize, m2.eps) == (5, 3, 1e-16)
    lin = m.toLinear()
    np.testing.assert_allclose(lin.forward(T(x)).numpy(), y, rtol=1e-14)
    back = nn.LinearWeightNorm.fromLinear(lin)
    np.testing.assert_allclose(back.forward(T(x)).numpy(), y, rtol=1e-13)
    assert repr(nn.LinearWeightNorm(2, 3, False)) == 'nn.LinearWeightNorm(2 -> 3) without bias'
    m.evaluate()
    m.clearState()                      # empties weight, norm and scale (as Torch7): rebuilt from v and g
    m3 = roundtrip(m, tmp_path)
    assert m3.train is False and 'weight' not in m3.__dict__         # the empty weight is dropped on load
    np.testing.assert_allclose(m3.forward(T(x)).numpy(), y, rtol=1e-14)


def test_linear_weight_norm_accumulates():
    m = nn.LinearWeightNorm(4, 2).double()
    x, g = T(rnd(3, 4)), T(rnd(3, 2, seed=1))
    m.zeroGradParameters()
    m.forward(x)
    m.backward(x, g)
    once = [t.numpy().copy() for t in m.parameters()[1]]
    m.backward(x, g)
    for a, b in zip(once, m.parameters()[1]):
        np.testing.assert_allclose(b.numpy(), 2 * a, rtol=1e-13)


# -- PartialLinear ---------------------------------------------------------------------------------------------------
def test_partial_linear(tmp_path):
    torch.manualSeed(5)
    m = nn.PartialLinear(5, 4).double()
    w = m.network.get(0).get(1).weight.numpy()         # the LookupTable's (4 x 5), N(0, 1) from the stream
    torch.manualSeed(5)
    np.testing.assert_array_equal(w, torch.DoubleTensor(4, 5).normal(0, 1).numpy())
    m.bias.copy(T(rnd(1, 4, seed=2)))
    x = rnd(3, 5)
    y = m.forward(T(x)).numpy()
    np.testing.assert_allclose(y, x @ w.T + m.bias.numpy(), rtol=1e-13)
    m.setPartition([3, 1])
    y = m.forward(T(x)).numpy()
    for i in range(3):
        for k, j in enumerate([3, 1]):
            assert y[i, k] == pytest.approx(sum(x[i, c] * w[j, c] for c in range(5)) + m.bias.numpy()[0, j],
                                            rel=1e-13)
    check_params(m, D(3, 5))
    m.zeroGradParameters()
    m.forward(T(x))
    m.backward(T(x), T(np.ones((3, 2))))
    np.testing.assert_allclose(m.gradBias.numpy(), [[0, 3, 0, 3]])      # only the partition's columns
    assert classes.lua_fields(m)['partition'].numpy().tolist() == [4, 2]  # Lua's 1-based indices in files
    m2 = check_reloads(m, T(x), tmp_path)
    assert m2.partition.numpy().tolist() == [3, 1]
    m.resetPartition()
    assert m.forward(T(x)).size() == (3, 4)
    with pytest.raises(IndexError, match=r'\[0, 4\)'):
        m.setPartition([4])


# -- CUDA (fakecupy on CPU) ------------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize('make, shape', [
    (lambda: nn.Cosine(5, 3), (4, 5)),
    (lambda: nn.WeightedEuclidean(5, 3), (4, 5)),
    (lambda: nn.LinearWeightNorm(5, 3), (4, 5)),
    (lambda: nn.PartialLinear(5, 3), (4, 5)),
])
def test_gpu_matches_cpu(make, shape):
    check_gpu_made(make, rnd(*shape))

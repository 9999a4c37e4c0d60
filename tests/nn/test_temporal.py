"""TemporalRowConvolution, TemporalSubSampling, TemporalDynamicKMaxPooling: values against loop references written
from THNN's C loops and the Lua source, Jacobians (float64), Torch7's reset order, .t7 round trips, CUDA under the
CuPy stand-in."""
import math

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import D, check_gpu_made, check_params, check_reloads_fields, draws, jac, rnd


# -- TemporalRowConvolution ----------------------------------------------------------------------------------------
def ref_row_conv(x, w, b, dw):
    """x: frames x features (THNN's default layout); out[t, c] = b[c] + sum_k w[c, 0, k] x[t*dw + k, c]."""
    T, C = x.shape
    kw = w.shape[2]
    to = (T - kw) // dw + 1
    out = np.zeros((to, C))
    for t in range(to):
        for c in range(C):
            out[t, c] = b[c] + sum(w[c, 0, k] * x[t * dw + k, c] for k in range(kw))
    return out


def test_row_conv_values_reset_jacobian():
    torch.manualSeed(3)
    m = nn.TemporalRowConvolution(4, 3, 2)
    assert tuple(m.weight.size()) == (4, 1, 3) and not m.featFirst
    s = 1 / math.sqrt(3 * 4)
    want = draws(3, 12 + 4, -s, s)
    np.testing.assert_array_equal(m.weight.numpy().reshape(-1), want[:12])
    np.testing.assert_array_equal(m.bias.numpy(), want[12:])
    x = rnd(2, 9, 4)
    ref = np.stack([ref_row_conv(xx, m.weight.numpy(), m.bias.numpy(), 2) for xx in x])
    np.testing.assert_allclose(m.forward(x).numpy(), ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m.forward(x[1]).numpy(), ref[1], rtol=1e-12, atol=1e-14)
    check_params(m, D(2, 8, 4))
    check_params(m, D(7, 4))
    assert repr(m) == 'nn.TemporalRowConvolution(4, 3, 2)'
    assert repr(nn.TemporalRowConvolution(4, 3).noBias()) == 'nn.TemporalRowConvolution(4, 3) without bias'
    with pytest.raises(ValueError, match='expected 4 features'):
        m.forward(rnd(9, 3))
    with pytest.raises(ValueError, match='smaller than the kernel'):
        m.forward(rnd(2, 4))


def test_row_conv_feature_first_and_nobias():
    torch.manualSeed(1)
    m = nn.TemporalRowConvolution(3, 2, 1, True)
    x = rnd(2, 3, 6)                                       # batch x features x frames
    ref = np.stack([ref_row_conv(xx.T, m.weight.numpy(), m.bias.numpy(), 1).T for xx in x])
    np.testing.assert_allclose(m.forward(x).numpy(), ref, rtol=1e-12, atol=1e-14)
    check_params(m, D(3, 5))
    m.noBias()
    np.testing.assert_allclose(m.forward(x).numpy(),
                               np.stack([ref_row_conv(xx.T, m.weight.numpy(), np.zeros(3), 1).T for xx in x]),
                               rtol=1e-12, atol=1e-14)
    check_params(m, D(2, 3, 5))


# -- TemporalSubSampling -------------------------------------------------------------------------------------------
def test_subsampling():
    torch.manualSeed(5)
    m = nn.TemporalSubSampling(3, 4, 2)
    s = 1 / math.sqrt(4)                                   # Torch7: 1/sqrt(kW)
    want = draws(5, 6, -s, s)
    np.testing.assert_array_equal(m.weight.numpy(), want[:3])
    np.testing.assert_array_equal(m.bias.numpy(), want[3:])
    x = rnd(11, 3)
    to = (11 - 4) // 2 + 1
    ref = np.array([x[t * 2:t * 2 + 4].sum(0) * m.weight.numpy() + m.bias.numpy() for t in range(to)])
    np.testing.assert_allclose(m.forward(x).numpy(), ref, rtol=1e-12)
    check_params(m, D(9, 3))
    assert repr(m) == 'nn.TemporalSubSampling'
    with pytest.raises(ValueError, match='2-D input'):
        m.forward(rnd(2, 9, 3))
    with pytest.raises(ValueError, match='invalid input frame size'):
        m.forward(rnd(9, 2))
    with pytest.raises(ValueError, match='smaller than the kernel'):
        m.forward(rnd(3, 3))


# -- TemporalDynamicKMaxPooling ------------------------------------------------------------------------------------
def ref_kmax(x, k):
    """For each feature: the positions of its k largest values (the earlier on ties), in sequence order."""
    T, C = x.shape
    out = np.zeros((k, C))
    for c in range(C):
        top = sorted(sorted(range(T), key=lambda t: (-x[t, c], t))[:k])
        out[:, c] = x[top, c]
    return out


def test_dynamic_kmax_pooling():
    m = nn.TemporalDynamicKMaxPooling(2, 0.5)
    x = rnd(2, 7, 3)
    x[0, 2, 0] = x[0, 5, 0] = 9                           # a tie
    y = m.forward(x).numpy()
    assert y.shape == (2, 4, 3)                            # k = max(2, ceil(0.5 * 7))
    np.testing.assert_array_equal(y, np.stack([ref_kmax(xx, 4) for xx in x]))
    np.testing.assert_array_equal(m.forward(x[0]).numpy(), ref_kmax(x[0], 4))
    np.testing.assert_array_equal(nn.TemporalDynamicKMaxPooling(3).forward(x[1]).numpy(), ref_kmax(x[1], 3))
    g = rnd(4, 3, seed=1)
    gi = m.backward(x[0], g).numpy()
    assert np.count_nonzero(gi) == 12 and np.isin(gi[gi != 0], g).all()
    jac(nn.TemporalDynamicKMaxPooling(2, 0.5), 2, 7, 3)
    jac(nn.TemporalDynamicKMaxPooling(3), 6, 2)
    with pytest.raises(ValueError, match='too small'):
        nn.TemporalDynamicKMaxPooling(8).forward(x)
    with pytest.raises(ValueError, match='2-D or 3-D'):
        m.forward(rnd(3))


def test_dynamic_kmax_pooling_factor_none_is_zero():
    # Torch7: self.factor = factor or 0 (k = minK); anything but a number is refused when made, not at forward
    x = rnd(7, 3)
    m = nn.TemporalDynamicKMaxPooling(3, None)
    assert m.factor == 0
    np.testing.assert_array_equal(m.forward(x).numpy(), ref_kmax(x, 3))
    with pytest.raises(TypeError, match=r"^nn.TemporalDynamicKMaxPooling: factor must be a number, got 'x'"):
        nn.TemporalDynamicKMaxPooling(2, 'x')


# -- .t7 round trips and CUDA --------------------------------------------------------------------------------------
def _cases():
    return [(lambda: nn.TemporalRowConvolution(4, 3, 2), (2, 9, 4)),
            (lambda: nn.TemporalRowConvolution(3, 2, 1, True), (2, 3, 6)),
            (lambda: nn.TemporalSubSampling(3, 4, 2), (11, 3)),
            (lambda: nn.TemporalDynamicKMaxPooling(2, 0.5), (2, 7, 3))]


def test_save_load_roundtrip(tmp_path):
    for make, shape in _cases():
        torch.manualSeed(2)
        m = make().double()
        check_reloads_fields(m, rnd(*shape), tmp_path)


@pytest.mark.gpu
def test_gpu_matches_cpu():
    for make, shape in _cases():
        check_gpu_made(make, rnd(*shape), init_seed=1)


def test_steady_state_reuses_buffers():
    from nn_helpers import check_steady_state
    for make, shape in _cases()[:3]:
        m = make().double()
        x = rnd(*shape)
        check_steady_state(m, x, rnd(*m.forward(x).numpy().shape, seed=1))


def test_file_with_inconsistent_fields_is_refused(tmp_path):
    from luatorch_py.serialization import T7Error
    m = nn.TemporalRowConvolution(4, 3)
    m.kW = 2
    torch.save(str(tmp_path / 'bad.t7'), m)
    with pytest.raises(T7Error, match=r'nn.TemporalRowConvolution.weight has 12 elements.*make 8'):
        torch.load(str(tmp_path / 'bad.t7'))

"""SpatialSoftMax, SpatialLogSoftMax, SpatialCrossMapLRN, SpatialUpSamplingNearest, SpatialUpSamplingBilinear and
SpatialDropout against loop references written from Torch7's Lua and THNN's C code."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import check_gpu, check_reloads, check_steady_state, rnd


def shapes(batched, C, H, W):
    return (2, C, H, W) if batched else (C, H, W)


# -- SpatialSoftMax / SpatialLogSoftMax ------------------------------------------------------------------
def ref_softmax(x):
    out = np.zeros_like(x)
    x4 = x if x.ndim == 4 else x[None]
    o4 = out if out.ndim == 4 else out[None]
    for n in range(x4.shape[0]):
        for i in range(x4.shape[2]):
            for j in range(x4.shape[3]):
                v = x4[n, :, i, j]
                e = np.exp(v - v.max())
                o4[n, :, i, j] = e / e.sum()
    return out


@pytest.mark.parametrize('batched', [True, False])
def test_spatial_softmax_and_logsoftmax(batched):
    x = rnd(*shapes(batched, 4, 3, 5)) * 3
    sm, lsm = nn.SpatialSoftMax(), nn.SpatialLogSoftMax()
    np.testing.assert_allclose(sm.forward(x).numpy(), ref_softmax(x), rtol=1e-13)
    np.testing.assert_allclose(lsm.forward(x).numpy(), np.log(ref_softmax(x)), rtol=1e-12)
    assert repr(sm) == 'nn.SpatialSoftMax' and repr(lsm) == 'nn.SpatialLogSoftMax'
    assert nn.REGISTRY['nn.SpatialSoftMax'] is nn.SpatialSoftMax
    t = torch.DoubleTensor(*shapes(batched, 3, 2, 3))
    assert nn.Jacobian.testJacobian(sm, t) < 1e-5
    assert nn.Jacobian.testJacobian(lsm, t) < 1e-5
    with pytest.raises(ValueError, match=r'nn\.SpatialSoftMax.*\[1, 2, 3, 4, 5\]'):
        sm.forward(rnd(1, 2, 3, 4, 5))


# -- SpatialCrossMapLRN ----------------------------------------------------------------------------------
def ref_lrn(x, size, alpha, beta, k):
    x4 = x if x.ndim == 4 else x[None]
    N, C, H, W = x4.shape
    pre, post = (size - 1) // 2, size - 1 - (size - 1) // 2
    scale = np.zeros(x4.shape)
    for c in range(C):
        for c2 in range(max(0, c - pre), min(C, c + post + 1)):
            scale[:, c] += x4[:, c2] ** 2
    scale = k + alpha / size * scale
    return (x4 * scale ** -beta).reshape(x.shape), scale


@pytest.mark.parametrize('size', [1, 3, 5, 2, 4])
@pytest.mark.parametrize('batched', [True, False])
def test_lrn_forward_and_jacobian(size, batched):
    alpha, beta, k = 0.7, 0.75, 1.5
    m = nn.SpatialCrossMapLRN(size, alpha, beta, k)
    x = rnd(*shapes(batched, 6, 3, 4))
    y, scale = ref_lrn(x, size, alpha, beta, k)
    np.testing.assert_allclose(m.forward(x).numpy(), y, rtol=1e-13)
    np.testing.assert_allclose(m.scale.numpy().reshape(scale.shape), scale, rtol=1e-13)
    assert nn.Jacobian.testJacobian(m, torch.DoubleTensor(*shapes(batched, 5, 2, 3))) < 1e-5


def test_lrn_backward_matches_torch7_cpu_formula():
    # Torch7's CPU updateGradInput: g * scale^-beta - 2 alpha beta / size * x * sum_window(g * y / scale)
    size, alpha, beta, k = 5, 0.3, 0.75, 2.0
    m = nn.SpatialCrossMapLRN(size, alpha, beta, k)
    x, g = rnd(2, 7, 3, 3), rnd(2, 7, 3, 3, seed=1)
    y, scale = ref_lrn(x, size, alpha, beta, k)
    ratio = g * y / scale
    acc = np.zeros_like(x)
    for c in range(7):
        acc[:, c] = ratio[:, max(0, c - 2):c + 3].sum(axis=1)
    ref = g * scale ** -beta - 2 * alpha * beta / size * x * acc
    np.testing.assert_allclose(m.backward(x, g).numpy(), ref, rtol=1e-12, atol=1e-14)


def test_lrn_fields_defaults_errors():
    m = nn.SpatialCrossMapLRN(5)
    assert (m.size, m.alpha, m.beta, m.k) == (5, 1e-4, 0.75, 1)
    assert repr(m) == 'nn.SpatialCrossMapLRN'
    with pytest.raises(ValueError, match=r'nn\.SpatialCrossMapLRN.*\[3, 4\]'):
        m.forward(rnd(3, 4))
    with pytest.raises(ValueError, match=r'gradOutput of size \[2, 3, 3\], got \[2, 3, 4\]'):
        m.backward(rnd(2, 3, 3), rnd(2, 3, 4))
    f = nn.SpatialCrossMapLRN(3, 0.5).float()
    x = rnd(2, 4, 3, 3).astype(np.float32)
    np.testing.assert_allclose(f.forward(x).numpy(), ref_lrn(x.astype(np.float64), 3, 0.5, 0.75, 1)[0], rtol=1e-5)
    m.forward(rnd(2, 6, 3, 3))
    assert m.scale.nElement() == 2 * 6 * 3 * 3
    m.clearState()
    assert m.scale.nElement() == 0


# -- SpatialUpSamplingNearest ----------------------------------------------------------------------------
@pytest.mark.parametrize('scale', [1, 2, 3])
@pytest.mark.parametrize('batched', [True, False])
def test_nearest(scale, batched):
    m = nn.SpatialUpSamplingNearest(scale)
    x = rnd(*shapes(batched, 2, 3, 4))
    y = m.forward(x).numpy()
    ref = np.zeros(x.shape[:-2] + (3 * scale, 4 * scale))
    for i in range(3 * scale):
        for j in range(4 * scale):
            ref[..., i, j] = x[..., i // scale, j // scale]
    np.testing.assert_array_equal(y, ref)
    assert list(m.outputSize)[:y.ndim] == list(y.shape) and list(m.inputSize)[:x.ndim] == list(x.shape)
    g = rnd(*y.shape, seed=1)
    gref = np.zeros(x.shape)
    for i in range(3 * scale):
        for j in range(4 * scale):
            gref[..., i // scale, j // scale] += g[..., i, j]
    np.testing.assert_allclose(m.backward(x, g).numpy(), gref, rtol=1e-13, atol=1e-14)
    assert nn.Jacobian.testJacobian(m, torch.DoubleTensor(*shapes(batched, 2, 2, 3))) < 1e-5


def test_nearest_errors_and_repr():
    assert repr(nn.SpatialUpSamplingNearest(2)) == 'nn.SpatialUpSamplingNearest'
    assert nn.SpatialUpSamplingNearest(2).scale_factor == 2
    with pytest.raises(ValueError, match='greater than 1'):
        nn.SpatialUpSamplingNearest(0.5)
    with pytest.raises(ValueError, match='must be integer'):
        nn.SpatialUpSamplingNearest(1.5)
    m = nn.SpatialUpSamplingNearest(2)
    with pytest.raises(ValueError, match=r'nn\.SpatialUpSamplingNearest.*\[3, 4\]'):
        m.forward(rnd(3, 4))
    with pytest.raises(ValueError, match=r'gradOutput of size \[1, 4, 6\], got \[1, 4, 5\]'):
        m.backward(rnd(1, 2, 3), rnd(1, 4, 5))


# -- SpatialUpSamplingBilinear ---------------------------------------------------------------------------
def ref_bilinear(x, oh, ow, g=None):
    """THNN's loops, in single precision for the source positions as the C code."""
    f32 = np.float32
    x4 = x if x.ndim == 4 else x[None]
    N, C, H, W = x4.shape
    out = np.zeros((N, C, oh, ow))
    gi = np.zeros(x4.shape)
    g4 = None if g is None else (g if g.ndim == 4 else g[None])

    def src(j, n, o):
        """For output index j of o along a dim of input size n: the source index, the step to its neighbour (0 at
        the edge) and the neighbour's weight."""
        ratio = f32(n - 1) / f32(o - 1) if o > 1 else f32(0)
        r = f32(ratio * f32(j))
        i = int(r)
        return i, 1 if i < n - 1 else 0, float(r) - i

    for h2 in range(oh):
        h1, h1p, l1h = src(h2, H, oh)
        l0h = 1 - l1h
        for w2 in range(ow):
            w1, w1p, l1w = src(w2, W, ow)
            l0w = 1 - l1w
            if g is None:
                out[:, :, h2, w2] = (l0h * (l0w * x4[:, :, h1, w1] + l1w * x4[:, :, h1, w1 + w1p])
                                     + l1h * (l0w * x4[:, :, h1 + h1p, w1] + l1w * x4[:, :, h1 + h1p, w1 + w1p]))
            else:
                v = g4[:, :, h2, w2]
                gi[:, :, h1, w1] += l0h * l0w * v
                gi[:, :, h1, w1 + w1p] += l0h * l1w * v
                gi[:, :, h1 + h1p, w1] += l1h * l0w * v
                gi[:, :, h1 + h1p, w1 + w1p] += l1h * l1w * v
    if g is None:
        return out if x.ndim == 4 else out[0]
    return gi if x.ndim == 4 else gi[0]


@pytest.mark.parametrize('arg, H, W, oh, ow', [
    (2, 3, 4, 6, 8), (3, 5, 5, 15, 15), (1, 4, 3, 4, 3),
    ({'oheight': 7, 'owidth': 5}, 4, 6, 7, 5), ((1, 9), 3, 4, 1, 9), ({'oheight': 2, 'owidth': 2}, 5, 7, 2, 2),
])
@pytest.mark.parametrize('batched', [True, False])
def test_bilinear_matches_reference(arg, H, W, oh, ow, batched):
    m = nn.SpatialUpSamplingBilinear(arg)
    x = rnd(*shapes(batched, 3, H, W))
    y = m.forward(x).numpy()
    assert y.shape == x.shape[:-2] + (oh, ow)
    np.testing.assert_allclose(y, ref_bilinear(x, oh, ow), rtol=1e-14, atol=1e-15)
    g = rnd(*y.shape, seed=1)
    np.testing.assert_allclose(m.backward(x, g).numpy(), ref_bilinear(x, oh, ow, g), rtol=1e-12, atol=1e-14)


def test_bilinear_corners_aligned_and_jacobian():
    m = nn.SpatialUpSamplingBilinear(3)
    x = rnd(2, 2, 3, 4)
    y = m.forward(x).numpy()
    np.testing.assert_allclose(y[..., 0, 0], x[..., 0, 0], rtol=1e-15)
    np.testing.assert_allclose(y[..., -1, -1], x[..., -1, -1], rtol=1e-15)
    np.testing.assert_allclose(y[..., -1, 0], x[..., -1, 0], rtol=1e-15)
    assert list(m.outputSize) == [2, 2, 9, 12] and list(m.inputSize) == [2, 2, 3, 4]
    for batched in (True, False):
        assert nn.Jacobian.testJacobian(m, torch.DoubleTensor(*shapes(batched, 2, 3, 3))) < 1e-5
        t = nn.SpatialUpSamplingBilinear({'oheight': 4, 'owidth': 5})
        assert nn.Jacobian.testJacobian(t, torch.DoubleTensor(*shapes(batched, 2, 3, 2))) < 1e-5


def test_bilinear_fields_repr_errors_float32():
    m = nn.SpatialUpSamplingBilinear(2)
    assert m.scale_factor == 2 and m.oheight is None and 'oheight' not in m.__dict__
    assert repr(m) == 'nn.SpatialUpSamplingBilinear(2)'
    t = nn.SpatialUpSamplingBilinear({'oheight': 5, 'owidth': 7})
    assert (t.oheight, t.owidth) == (5, 7) and 'scale_factor' not in t.__dict__
    assert repr(t) == 'nn.SpatialUpSamplingBilinear(5, 7)'
    with pytest.raises(ValueError, match='greater than 1'):
        nn.SpatialUpSamplingBilinear(0)
    with pytest.raises(ValueError, match='owidth must be a positive integer'):
        nn.SpatialUpSamplingBilinear({'oheight': 3})
    with pytest.raises(ValueError, match=r'nn\.SpatialUpSamplingBilinear\(2\).*\[5\]'):
        m.forward(rnd(5))
    f = nn.SpatialUpSamplingBilinear(2).float()
    x = rnd(2, 3, 4).astype(np.float32)
    y = f.forward(x)
    assert y.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(y.numpy(), ref_bilinear(x.astype(np.float64), 6, 8), rtol=1e-6, atol=1e-6)


# -- SpatialDropout --------------------------------------------------------------------------------------
def test_spatial_dropout_mask_from_torch7_stream_unscaled():
    p = 0.4
    m = nn.SpatialDropout(p)
    x = rnd(3, 4, 2, 5) + 3
    torch.manualSeed(11)
    y = m.forward(x).numpy()
    torch.manualSeed(11)
    mask = torch.DoubleTensor(3, 4, 1, 1).bernoulli(1 - p).numpy()
    np.testing.assert_array_equal(m.noise.numpy(), mask)
    np.testing.assert_array_equal(y, x * mask)                # no 1 / (1 - p) scaling in training (Torch7)
    g = rnd(3, 4, 2, 5, seed=1)
    np.testing.assert_array_equal(m.backward(x, g).numpy(), g * mask)
    # 3-D: one draw per plane
    torch.manualSeed(12)
    y3 = m.forward(x[0]).numpy()
    torch.manualSeed(12)
    mask3 = torch.DoubleTensor(4, 1, 1).bernoulli(1 - p).numpy()
    assert m.noise.shape == (4, 1, 1)
    np.testing.assert_array_equal(y3, x[0] * mask3)


def test_spatial_dropout_statistics_and_evaluate():
    torch.manualSeed(3)
    m = nn.SpatialDropout(0.3)
    y = m.forward(np.ones((100, 50, 2, 2))).numpy()
    planes = y[:, :, 0, 0]
    assert np.all(y == planes[:, :, None, None])               # whole planes dropped or kept
    assert abs((planes == 0).mean() - 0.3) < 0.03
    m.evaluate()
    x = rnd(2, 3, 4, 4)
    np.testing.assert_allclose(m.forward(x).numpy(), x * 0.7, rtol=1e-15)   # times (1 - p) in evaluation
    with pytest.raises(RuntimeError, match=r'nn\.SpatialDropout\(0\.300000\): backprop only defined while training'):
        m.backward(x, x)
    s = nn.SpatialDropout(0.5, True).evaluate()                # stochastic inference keeps dropping
    torch.manualSeed(4)
    ys = s.forward(np.ones((20, 10, 1, 1))).numpy()
    assert set(np.unique(ys)) <= {0.0, 1.0} and (ys == 0).any()


def test_spatial_dropout_fields_repr_errors():
    m = nn.SpatialDropout()
    assert m.p == 0.5 and m.train and m.stochastic_inference is False and m.noise.nElement() == 0
    assert repr(m) == 'nn.SpatialDropout(0.500000)'
    with pytest.raises(ValueError, match='illegal percentage'):
        nn.SpatialDropout(1)
    with pytest.raises(ValueError, match=r'nn\.SpatialDropout\(0\.500000\).*\[3, 4\]'):
        m.forward(rnd(3, 4))
    f = nn.SpatialDropout(0.2).float()
    assert f.forward(rnd(2, 3, 2, 2).astype(np.float32)).type() == 'torch.FloatTensor'
    assert nn.Dropout(0.5).p == 0.5                            # the original Dropout is still there


# -- buffers, save / load --------------------------------------------------------------------------------
def test_buffers_reused():
    for m, shape in ((nn.SpatialCrossMapLRN(3), (2, 4, 3, 3)), (nn.SpatialUpSamplingBilinear(2), (2, 3, 4, 4)),
                     (nn.SpatialUpSamplingNearest(2), (2, 3, 4, 4))):
        x = rnd(*shape)
        check_steady_state(m, x, np.ones(m.forward(x).shape))


@pytest.mark.parametrize('make', [
    lambda: nn.SpatialSoftMax(), lambda: nn.SpatialLogSoftMax(), lambda: nn.SpatialCrossMapLRN(3, 0.2),
    lambda: nn.SpatialUpSamplingNearest(2), lambda: nn.SpatialUpSamplingBilinear(2),
    lambda: nn.SpatialUpSamplingBilinear({'oheight': 5, 'owidth': 3}), lambda: nn.SpatialDropout(0.3).evaluate(),
])
def test_save_load_roundtrip(make, tmp_path):
    check_reloads(make(), rnd(2, 3, 4, 4), tmp_path)


@pytest.mark.gpu
@pytest.mark.parametrize('make', [
    lambda: nn.SpatialCrossMapLRN(3, 0.2), lambda: nn.SpatialUpSamplingNearest(2),
    lambda: nn.SpatialUpSamplingBilinear(2), lambda: nn.SpatialUpSamplingBilinear({'oheight': 5, 'owidth': 3}),
])
def test_gpu_matches_cpu(make):
    check_gpu(make().float(), make().cuda(), rnd(2, 3, 4, 4), rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize('double', [False, True])
@pytest.mark.parametrize('make, shape', [
    (lambda: nn.SpatialCrossMapLRN(1), (2, 3, 4, 5)),
    (lambda: nn.SpatialCrossMapLRN(2, 0.3, 0.6, 2), (2, 5, 3, 4)),                       # even: asymmetric window
    (lambda: nn.SpatialCrossMapLRN(5, 0.5), (2, 7, 3, 3)),
    (lambda: nn.SpatialCrossMapLRN(4, 0.2, 1.5), (3, 3, 5)),                              # window past the planes
    (lambda: nn.SpatialUpSamplingNearest(3), (2, 3, 3, 5)),
    (lambda: nn.SpatialUpSamplingBilinear(3), (2, 3, 3, 5)),
    (lambda: nn.SpatialUpSamplingBilinear({'oheight': 7, 'owidth': 2}), (2, 2, 4, 5)),     # down along W
    (lambda: nn.SpatialUpSamplingBilinear({'oheight': 1, 'owidth': 6}), (2, 2, 3, 4)),
    (lambda: nn.SpatialUpSamplingBilinear((5, 9)), (2, 1, 6)),                            # a 1-row image
])
def test_gpu_lrn_and_upsampling_kernels(make, shape, double):
    from test_pooling import gpu_agrees
    gpu_agrees(make, rnd(*shape), double)
    gpu_agrees(make, rnd(*shape, seed=3), double, strided=True)


@pytest.mark.parametrize('make,shape', [(lambda: nn.SpatialDropout(0.5, True), (4, 3, 2, 2)),
                                        (lambda: nn.VolumetricDropout(0.5, True), (4, 3, 2, 2, 2))])
def test_feature_dropout_stochastic_inference_has_no_backward(make, shape):
    """Torch7's SpatialDropout and VolumetricDropout: evaluate() with stochasticInference still drops in forward,
    but backward is defined in training only (their updateGradInput tests self.train)."""
    m = make().evaluate()
    x = np.ones(shape)
    y = m.forward(x).numpy()
    assert set(np.unique(y)) <= {0.0, 1.0}
    with pytest.raises(RuntimeError, match='backprop only defined while training'):
        m.backward(x, x)
    m.training()
    m.forward(x)
    np.testing.assert_array_equal(m.backward(x, x).numpy(), m.output.numpy())
    assert not isinstance(nn.VolumetricDropout(), nn.SpatialDropout)       # (Torch7: both children of nn.Module)

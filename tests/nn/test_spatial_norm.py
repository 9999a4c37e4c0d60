"""SpatialSubtractiveNormalization, SpatialDivisiveNormalization, SpatialContrastiveNormalization and
SpatialLPPooling against references written from Torch7's Lua (the modules they are built of, in formulas);
Jacobians (float64); Torch7's fields; .t7 round trips (also after a forward, when Lua's fields are stride-0
views); CUDA under the CuPy stand-in."""
import math

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import check_gpu, check_reloads, jac, rnd

KERNELS = {'2d': np.array([[1., 2., 1.], [2., 4., 2.], [1., 2., 1.]]) + np.arange(9).reshape(3, 3) * 0.1,
           '1d': np.array([1., 3., 2.]), 'wide': np.ones((3, 5))}


def effective(kernel, n, root=False):
    """The per-plane 2-D weights the estimator applies: the kernel normalized as the Lua constructor does (by
    sum * n, or sum * sqrt(n) for a 1-D kernel in the divisive one), a 1-D one applied along W then H."""
    k = np.asarray(kernel, dtype=float)
    k = k / (k.sum() * (math.sqrt(n) if root and k.ndim == 1 else n))
    return np.outer(k, k) if k.ndim == 1 else k


def local_sum(x4, kw):
    """sum over planes and the window of kw * x (zero padded, same size), per pixel: N x H x W."""
    kh, kwid = kw.shape
    ph, pw = kh // 2, kwid // 2
    xp = np.pad(x4, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    N, C, H, W = x4.shape
    out = np.zeros((N, H, W))
    for y in range(H):
        for x in range(W):
            out[:, y, x] = (xp[:, :, y:y + kh, x:x + kwid] * kw).sum(axis=(1, 2, 3))
    return out


def ref_sub(x, kernel):
    x4 = x if x.ndim == 4 else x[None]
    kw = effective(kernel, x4.shape[1])
    coef = local_sum(np.ones_like(x4[:1]), kw)
    out = x4 - (local_sum(x4, kw) / coef)[:, None]
    return out if x.ndim == 4 else out[0]


def ref_div(x, kernel, th=1e-4, tv=None):
    tv = th if tv is None else tv
    x4 = x if x.ndim == 4 else x[None]
    kw = effective(kernel, x4.shape[1], root=True)
    coef = local_sum(np.ones_like(x4[:1]), kw)
    adj = np.sqrt(local_sum(x4 ** 2, kw)) / coef
    adj = np.where(adj > th, adj, tv)
    out = x4 / adj[:, None]
    return out if x.ndim == 4 else out[0]


@pytest.mark.parametrize('cls, ref', [(nn.SpatialSubtractiveNormalization, ref_sub),
                                      (nn.SpatialDivisiveNormalization, ref_div)], ids=['subtractive', 'divisive'])
@pytest.mark.parametrize('kname', list(KERNELS))
@pytest.mark.parametrize('shape', [(2, 3, 5, 4), (2, 5, 5)])
def test_against_reference(cls, ref, kname, shape):
    k = KERNELS[kname]
    m = cls(shape[-3], torch.DoubleTensor(k.copy()))
    x = rnd(*shape)
    np.testing.assert_allclose(m.forward(x).numpy(), ref(x, k), atol=1e-12)
    jac(m, *shape)


def test_divisive_threshold_and_thresval():
    m = nn.SpatialDivisiveNormalization(1, torch.DoubleTensor(np.ones((3, 3))), 0.5, 2.0)
    assert (m.threshold, m.thresval) == (0.5, 2.0)
    assert nn.SpatialDivisiveNormalization(1, None, 0.3).thresval == 0.3      # thresval defaults to threshold
    x = rnd(1, 5, 5) * 0.3
    np.testing.assert_allclose(m.forward(x).numpy(), ref_div(x, np.ones((3, 3)), 0.5, 2.0), atol=1e-12)


@pytest.mark.parametrize('kname', ['2d', '1d'])
def test_contrastive(kname):
    k = KERNELS[kname]
    m = nn.SpatialContrastiveNormalization(2, torch.DoubleTensor(k.copy()))
    x = rnd(2, 2, 6, 6)
    np.testing.assert_allclose(m.forward(x).numpy(), ref_div(ref_sub(x, k), k), atol=1e-12)
    # both parts hold the one kernel tensor, normalized by each in turn (Torch7 divides in place)
    sub, div = m.normalizer.modules
    assert sub.kernel is m.kernel and div.kernel is m.kernel
    jac(m, 2, 5, 5)


def test_default_kernel_fields_and_errors():
    m = nn.SpatialSubtractiveNormalization()
    assert m.nInputPlane == 1 and m.kernel.numpy().shape == (9, 9)
    np.testing.assert_allclose(m.kernel.numpy(), np.full((9, 9), 1 / 81))
    assert [type(x).__name__ for x in m.meanestimator.modules] == ['SpatialZeroPadding', 'SpatialConvolution',
                                                                  'Replicate']
    assert m.coef.numpy().shape == (1, 1, 1) and m.parameters() == ([], [])
    d = nn.SpatialDivisiveNormalization(2, torch.DoubleTensor(np.ones(3)))
    assert [type(x).__name__ for x in d.stdestimator.modules] == [
        'Square', 'SpatialZeroPadding', 'SpatialConvolutionMap', 'SpatialConvolution', 'Replicate', 'Sqrt']
    assert d.threshold == 1e-4 and d.thresval == 1e-4
    with pytest.raises(ValueError, match='ODD'):
        nn.SpatialSubtractiveNormalization(1, torch.DoubleTensor(np.ones((4, 3))))
    with pytest.raises(ValueError, match='2D or 1D'):
        nn.SpatialDivisiveNormalization(1, torch.DoubleTensor(np.ones((3, 3, 3))))
    with pytest.raises(ValueError, match='expected a 3-D input'):
        m.forward(rnd(2, 5, 5))


def test_coef_recomputed_for_new_sizes_and_batch():
    m = nn.SpatialSubtractiveNormalization(2, torch.DoubleTensor(KERNELS['2d'].copy()))
    for shape in ((2, 5, 5), (3, 2, 5, 5), (2, 2, 6, 4), (2, 6, 4)):
        x = rnd(*shape)
        np.testing.assert_allclose(m.forward(x).numpy(), ref_sub(x, KERNELS['2d']), atol=1e-12)
    assert m.coef.numpy().shape == (2, 1, 6, 4)


def test_draws_from_stream_like_torch7():
    """Construction draws the estimator convolutions' initial weights (then overwritten) as Torch7: a module
    made after manualSeed leaves the stream where Lua's does."""
    torch.manualSeed(11)
    nn.SpatialDivisiveNormalization(2, torch.DoubleTensor(np.ones(3)))
    after = torch.uniform()
    torch.manualSeed(11)
    for _ in range(2):
        nn.SpatialConvolutionMap(nn.tables.oneToOne(2), 3, 1)
        nn.SpatialConvolution(2, 1, 1, 3)
    assert torch.uniform() == after


@pytest.mark.parametrize('make', [
    lambda: nn.SpatialSubtractiveNormalization(2, torch.Tensor(np.ones(3))),
    lambda: nn.SpatialDivisiveNormalization(2, torch.Tensor(np.ones((3, 3)))),
    lambda: nn.SpatialContrastiveNormalization(2, torch.Tensor(np.ones((3, 3)))),
    lambda: nn.SpatialLPPooling(2, 2, 2, 2),
])
def test_roundtrip_after_forward(make, tmp_path):
    m = make()
    for shape in ((2, 2, 6, 6), (2, 6, 6)):
        m2 = check_reloads(m, rnd(*shape), tmp_path)
        x = rnd(*shape, seed=4)
        np.testing.assert_allclose(m2.forward(x).numpy(), make().forward(x).numpy(), atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize('make', [
    lambda: nn.SpatialSubtractiveNormalization(2, torch.Tensor(np.ones(3))),
    lambda: nn.SpatialDivisiveNormalization(2, torch.Tensor(np.ones((3, 3)))),
    lambda: nn.SpatialContrastiveNormalization(2, torch.Tensor(np.ones(3))),
    lambda: nn.SpatialLPPooling(2, 2, 2, 2),
])
def test_gpu_matches_cpu(make):
    check_gpu(make().float(), make().cuda(), rnd(2, 2, 6, 6), rtol=1e-4, atol=1e-5)


# -- SpatialLPPooling ----------------------------------------------------------------------------------------
def ref_lp(x, p, kW, kH, dW, dH):
    x4 = x if x.ndim == 4 else x[None]
    N, C, H, W = x4.shape
    oh, ow = (H - kH) // dH + 1, (W - kW) // dW + 1
    out = np.zeros((N, C, oh, ow))
    for y in range(oh):
        for xx in range(ow):
            out[:, :, y, xx] = ((x4[:, :, y * dH:y * dH + kH, xx * dW:xx * dW + kW] ** p).sum(axis=(2, 3))) ** (1 / p)
    return out if x.ndim == 4 else out[0]


@pytest.mark.parametrize('p, args, shape', [(2, (2, 2), (2, 3, 6, 6)), (3, (3, 2, 2, 1), (3, 7, 5)),
                                            (2, (2, 3, 1, 2), (1, 5, 6))])
def test_lppooling(p, args, shape):
    m = nn.SpatialLPPooling(shape[-3], p, *args).double()
    d = args[2:] or args
    assert (m.kW, m.kH, m.dW, m.dH) == (args[0], args[1], d[0], d[1])
    assert [type(x).__name__ for x in m.modules] == (['Square', 'SpatialAveragePooling', 'MulConstant', 'Sqrt']
                                                     if p == 2 else ['Power', 'SpatialAveragePooling',
                                                                     'MulConstant', 'Power'])
    x = np.abs(rnd(*shape)) + 0.1
    np.testing.assert_allclose(m.forward(x).numpy(), ref_lp(x, p, args[0], args[1], *d), rtol=1e-12)
    if p == 2:        # (the Jacobian draws inputs of both signs: x^3 then ^(1/3) is NaN for a negative sum)
        assert nn.Jacobian.testJacobian(m, torch.DoubleTensor(x)) < 1e-5
    # no parameters to train: the Torch7 overrides do nothing
    m.zeroGradParameters()
    m.updateParameters(1)
    m.accGradParameters(torch.DoubleTensor(x), m.output)
    assert m.parameters() == ([], [])

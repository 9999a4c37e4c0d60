"""UpSampling, PixelShuffle, SpatialClassNLLCriterion, SpatialAutoCropMSECriterion: values against loop references
written from THNN's C loops and the Lua sources, Jacobians (float64), .t7 round trips, CUDA under the CuPy
stand-in."""
import itertools

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import (D, J, L, TOL, check_gpu, check_reloads_fields, jac, roundtrip, rnd, steady_step_counts,
                        to_cuda)
from fresh import fresh_stdout


# -- UpSampling ----------------------------------------------------------------------------------------------------
def lin_index(j, n_in, n_out):
    """THNN's source position of output index j (float32 arithmetic): (i0, i1, lambda1)."""
    r = np.float32(n_in - 1) / np.float32(n_out - 1) if n_out > 1 else np.float32(0)
    pos = np.float32(r * np.float32(j))
    i0 = int(pos)
    return i0, i0 + (1 if i0 < n_in - 1 else 0), float(pos - np.float32(i0))


def ref_linear(x, out):
    """THNN's (bi|tri)linear loop: each output voxel from the 2^d corners around its source position."""
    sp = x.shape[2:]
    res = np.zeros(x.shape[:2] + tuple(out))
    for o in itertools.product(*map(range, out)):
        idx = [lin_index(j, n, m) for j, n, m in zip(o, sp, out)]
        acc = 0
        for corner in itertools.product((0, 1), repeat=len(sp)):
            wgt = np.prod([l1 if c else 1 - l1 for (_, _, l1), c in zip(idx, corner)])
            src = tuple(i1 if c else i0 for (i0, i1, _), c in zip(idx, corner))
            acc = acc + wgt * x[(slice(None), slice(None)) + src]
        res[(slice(None), slice(None)) + o] = acc
    return res


@pytest.mark.parametrize('shape', [(2, 3, 3, 4), (1, 2, 2, 3, 2)])
def test_upsampling_nearest(shape):
    m = nn.UpSampling(3)
    x = rnd(*shape)
    want = x
    for a in range(2, len(shape)):
        want = np.repeat(want, 3, axis=a)
    np.testing.assert_array_equal(m.forward(x).numpy(), want)
    assert list(m.outputSize)[:len(shape)] == list(want.shape) and list(m.inputSize)[:len(shape)] == list(shape)
    jac(m, *shape)
    assert repr(m) == 'nn.UpSampling(3x, nearest)'


@pytest.mark.parametrize('args, shape, out', [((2, 'bilinear'), (2, 2, 3, 4), (6, 8)),
                                               (({'oheight': 5, 'owidth': 2}, 'linear'), (1, 2, 3, 4), (5, 2)),
                                               ((2, 'trilinear'), (1, 2, 2, 3, 2), (4, 6, 4)),
                                               (({'odepth': 3, 'oheight': 1, 'owidth': 4}, 'linear'),
                                                (2, 1, 2, 3, 2), (3, 1, 4))])
def test_upsampling_linear(args, shape, out):
    m = nn.UpSampling(*args)
    x = rnd(*shape)
    np.testing.assert_allclose(m.forward(x).numpy(), ref_linear(x, out), rtol=1e-12, atol=1e-14)
    jac(m, *shape)
    m32 = nn.UpSampling(*args).float()
    np.testing.assert_allclose(m32.forward(x.astype(np.float32)).numpy(), ref_linear(x, out), rtol=1e-5,
                               atol=1e-6)


def test_upsampling_repr_errors():
    assert repr(nn.UpSampling(2, 'linear')) == 'nn.UpSampling(2x, linear)'
    assert repr(nn.UpSampling(2, 'cubic')) == 'nn.UpSampling(2x, nearest)'       # any other mode: nearest
    assert repr(nn.UpSampling({'oheight': 3, 'owidth': 4}, 'linear')) == 'nn.UpSampling(3x4, linear)'
    assert repr(nn.UpSampling({'odepth': 2, 'oheight': 3, 'owidth': 4}, 'trilinear')) == \
        'nn.UpSampling(2x3x4, linear)'
    with pytest.raises(ValueError, match='requires a scale_factor'):
        nn.UpSampling({'oheight': 3, 'owidth': 4})
    with pytest.raises(ValueError, match='height and width'):
        nn.UpSampling({'oheight': 3}, 'linear')
    with pytest.raises(ValueError, match='must be integer'):
        nn.UpSampling(1.5)
    with pytest.raises(ValueError, match='greater than 1'):
        nn.UpSampling(0)
    with pytest.raises(ValueError, match='4-D or 5-D'):
        nn.UpSampling(2).forward(rnd(2, 3, 4))
    with pytest.raises(ValueError, match='odepth'):
        nn.UpSampling({'oheight': 3, 'owidth': 4}, 'linear').forward(rnd(1, 1, 2, 2, 2))


# -- PixelShuffle --------------------------------------------------------------------------------------------------
def test_pixel_shuffle():
    m = nn.PixelShuffle(2)
    x = rnd(2, 12, 3, 4)
    want = np.zeros((2, 3, 6, 8))
    for n, c, h, w, i, j in itertools.product(range(2), range(3), range(3), range(4), range(2), range(2)):
        want[n, c, h * 2 + i, w * 2 + j] = x[n, c * 4 + i * 2 + j, h, w]
    np.testing.assert_array_equal(m.forward(x).numpy(), want)
    np.testing.assert_array_equal(m.forward(x[1]).numpy(), want[1])
    np.testing.assert_array_equal(m.backward(x, want).numpy(), x)              # a permutation
    jac(m, 2, 12, 3, 4)
    assert m.upscaleFactorSquared == 4 and repr(m) == 'nn.PixelShuffle'
    with pytest.raises(ValueError, match='not a multiple'):
        m.forward(rnd(5, 2, 2))


# -- SpatialClassNLLCriterion --------------------------------------------------------------------------------------
def ref_spatial_nll(x, t, w, size_average):
    loss = total = 0.0
    for n, h, ww in itertools.product(*map(range, t.shape)):
        wt = 1.0 if w is None else w[t[n, h, ww]]
        loss -= x[n, t[n, h, ww], h, ww] * wt
        total += wt
    return loss / total if size_average and total else loss, total


@pytest.mark.parametrize('weights', [None, np.array([0.5, 2.0, 1.0])])
@pytest.mark.parametrize('size_average', [True, False])
def test_spatial_class_nll(weights, size_average):
    c = nn.SpatialClassNLLCriterion(None if weights is None else D(3).copy(torch.DoubleTensor(weights)),
                                    size_average)
    x = rnd(2, 3, 4, 5)
    t = np.random.default_rng(1).integers(0, 3, (2, 4, 5))
    loss, total = ref_spatial_nll(x, t, weights, size_average)
    for target in (L(t), t):
        assert c.forward(x, target) == pytest.approx(loss, rel=1e-12)
    assert c.total_weight_tensor[0] == pytest.approx(total)
    gi = c.backward(x, L(t)).numpy()
    want = np.zeros_like(x)
    for n, h, ww in itertools.product(*map(range, t.shape)):
        want[n, t[n, h, ww], h, ww] = -(1.0 if weights is None else weights[t[n, h, ww]]) / \
            (total if size_average else 1)
    np.testing.assert_allclose(gi, want, rtol=1e-12)
    assert J.testJacobianCriterion(c, D(2, 3, 4, 5).copy(torch.DoubleTensor(x)), L(t)) < TOL
    assert len(c) == (0 if weights is None else 3)


def test_spatial_class_nll_errors_and_roundtrip(tmp_path):
    c = nn.SpatialClassNLLCriterion()
    with pytest.raises(ValueError, match='4-D'):
        c.forward(rnd(3, 4, 5), np.zeros((4, 5), dtype=np.int64))
    with pytest.raises(ValueError, match='size mismatch'):
        c.forward(rnd(2, 3, 4, 5), np.zeros((2, 4, 4), dtype=np.int64))
    with pytest.raises(ValueError, match=r'target 3 is out of range for 3 classes.*0-based'):
        c.forward(rnd(1, 3, 1, 2), np.array([[[0, 3]]]))
    with pytest.raises(ValueError, match='1-D Tensor'):
        nn.SpatialClassNLLCriterion(D(2, 2))
    c = nn.SpatialClassNLLCriterion(D(3).fill(2), False)
    c2 = roundtrip(c, tmp_path)
    x, t = rnd(1, 3, 2, 2), np.array([[[0, 1], [2, 2]]])
    assert type(c2) is type(c) and c2.forward(x, t) == c.forward(x, t) and not c2.sizeAverage


# -- SpatialAutoCropMSECriterion -----------------------------------------------------------------------------------
@pytest.mark.parametrize('size_average', [True, False])
def test_autocrop_mse(size_average):
    c = nn.SpatialAutoCropMSECriterion(size_average)
    x, t = rnd(2, 3, 4, 5), rnd(2, 3, 7, 8, seed=1)
    crop = t[:, :, 1:5, 1:6]                        # rows from (7 - 4) // 2, columns from (8 - 5) // 2
    d = x - crop
    want = (d ** 2).sum() / (d.size if size_average else 1)
    assert c.forward(x, t) == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(c.backward(x, t).numpy(), 2 * d / (d.size if size_average else 1), rtol=1e-12)
    assert c.forward(x[0], t[0]) == pytest.approx(((x[0] - crop[0]) ** 2).sum() / (d.size / 2 if size_average
                                                                                     else 1), rel=1e-12)
    assert c.forward(x, crop) == pytest.approx(want, rel=1e-12)                    # same size: no crop
    assert J.testJacobianCriterion(c, D(2, 3, 4, 5).copy(torch.DoubleTensor(x)), D(2, 3, 7, 8).copy(
        torch.DoubleTensor(t))) < TOL
    with pytest.raises(ValueError, match='less than or equal'):
        c.forward(t, x)
    with pytest.raises(ValueError, match='same number of dims'):
        c.forward(x, t[0])


# -- .t7 round trips and CUDA --------------------------------------------------------------------------------------
def _module_cases():
    return [(lambda: nn.UpSampling(2), (2, 2, 3, 3)),
            (lambda: nn.UpSampling(2, 'linear'), (2, 2, 3, 3)),
            (lambda: nn.UpSampling({'odepth': 3, 'oheight': 4, 'owidth': 2}, 'trilinear'), (1, 2, 2, 3, 2)),
            (lambda: nn.UpSampling(2), (1, 2, 2, 2, 3)),
            (lambda: nn.PixelShuffle(3), (2, 18, 2, 3))]


def test_save_load_roundtrip(tmp_path):
    for make, shape in _module_cases():
        m = make().double()
        check_reloads_fields(m, rnd(*shape), tmp_path)


@pytest.mark.gpu
def test_gpu_matches_cpu():
    for make, shape in _module_cases():
        check_gpu(make().float(), make().cuda(), rnd(*shape))
    x, t = rnd(2, 3, 4, 5), np.random.default_rng(1).integers(0, 3, (2, 4, 5))
    for cpu, gpu, tc, tg in [(nn.SpatialClassNLLCriterion(torch.FloatTensor([1, 2, 3])).float(),
                              nn.SpatialClassNLLCriterion(torch.FloatTensor([1, 2, 3])).cuda(), L(t), L(t).cuda()),
                             (nn.SpatialAutoCropMSECriterion().float(), nn.SpatialAutoCropMSECriterion().cuda(),
                              rnd(2, 3, 6, 7).astype(np.float32), to_cuda(rnd(2, 3, 6, 7)))]:
        assert gpu.forward(to_cuda(x), tg) == pytest.approx(cpu.forward(x.astype(np.float32), tc), rel=1e-5)
        gi = gpu.backward(to_cuda(x), tg)
        assert gi.type() == 'torch.CudaTensor'
        np.testing.assert_allclose(gi.float().numpy(), cpu.backward(x.astype(np.float32), tc).numpy(), rtol=1e-5,
                                   atol=1e-7)


def test_steady_state_reuses_buffers():
    from nn_helpers import check_steady_state
    for make, shape in _module_cases():
        m = make().double()
        x = rnd(*shape)
        check_steady_state(m, x, rnd(*m.forward(x).numpy().shape, seed=1))


def test_4d_upsampling_is_spatial_upsampling():
    # bit for bit the classes whose numbers were checked against Torch7 (same THNN kernels in Lua)
    x = rnd(2, 3, 5, 7).astype(np.float32)
    np.testing.assert_array_equal(nn.UpSampling(3, 'bilinear').float().forward(x).numpy(),
                                  nn.SpatialUpSamplingBilinear(3).float().forward(x).numpy())
    np.testing.assert_array_equal(nn.UpSampling({'oheight': 4, 'owidth': 9}, 'linear').float().forward(x).numpy(),
                                  nn.SpatialUpSamplingBilinear({'oheight': 4, 'owidth': 9}).float().forward(x).numpy())
    np.testing.assert_array_equal(nn.UpSampling(2).float().forward(x).numpy(),
                                  nn.SpatialUpSamplingNearest(2).float().forward(x).numpy())


@pytest.mark.parametrize('weights', [None, np.array([0.5, 2.0, 1.0])])
def test_spatial_class_nll_steady_state_keeps_its_arrays(weights):
    """A second forward/backward of the same sizes reuses the criterion's arrays (no array of the target's size
    made per call), with the same numbers."""
    c = nn.SpatialClassNLLCriterion(None if weights is None else D(3).copy(torch.DoubleTensor(weights)))
    x = D(2, 3, 4, 5).copy(torch.DoubleTensor(rnd(2, 3, 4, 5)))
    t = L(np.random.default_rng(1).integers(0, 3, (2, 4, 5)))
    first = (c.forward(x, t), c.backward(x, t).numpy().copy())
    kept = {k: v for k, v in c.__dict__.items() if isinstance(v, np.ndarray)}
    assert {'_flatpos', '_picked', '_base'} <= kept.keys()
    second = (c.forward(x, t), c.backward(x, t).numpy().copy())
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])
    for k, v in kept.items():
        assert c.__dict__[k] is v, k


def test_upsampling_classes_first_in_a_fresh_process():
    # upsampling.py imports pooling.py, which named upsampling's classes at its end: an up-sampling class used
    # before any pooling one raised ImportError (a circular import).  The four classes share upsampling.py, so one
    # fresh process (its first name loads the file) checks them all
    names = ['PixelShuffle', 'UpSampling', 'SpatialUpSamplingNearest', 'SpatialUpSamplingBilinear']
    code = ("import sys\nimport numpy as np\nfrom luatorch_py import nn\n"
            "for name in sys.argv[1:]:\n"
            "    print(getattr(nn, name)(2).forward(np.ones((1, 4, 1, 1))).numpy().sum())\n"
            "from luatorch_py.nn import pooling\n"
            "print(pooling.SpatialUpSamplingBilinear is nn.SpatialUpSamplingBilinear)")
    out = fresh_stdout(code, *names)
    assert out.split() == ['4.0', '16.0', '16.0', '16.0', 'True']


@pytest.mark.parametrize('make', [lambda: nn.SpatialUpSamplingBilinear(2), lambda: nn.UpSampling(2, 'linear')])
def test_bilinear_backward_keeps_an_inf_at_its_four_source_pixels(make):
    # THNN adds each gradient into its 4 source pixels (0 * inf = NaN there); the interpolation matrices' zeros
    # made a NaN of every pixel
    m = make()
    x = np.zeros((1, 1, 3, 3))
    g = np.zeros((1, 1, 6, 6))
    g[0, 0, 0, 0] = np.inf
    g[0, 0, 5, 5] = 1.0
    m.forward(x)
    with np.errstate(invalid='ignore'):
        gi = m.backward(x, g).numpy()[0, 0]
    want = np.array([[np.inf, np.nan, 0], [np.nan, np.nan, 0], [0, 0, 1]])
    np.testing.assert_array_equal(gi, want)


def test_trilinear_backward_keeps_a_nan_at_its_eight_source_pixels():
    m = nn.UpSampling(2, 'linear')
    x = np.zeros((1, 1, 3, 3, 3))
    g = np.zeros((1, 1, 6, 6, 6))
    g[0, 0, 0, 0, 0] = np.nan
    m.forward(x)
    with np.errstate(invalid='ignore'):
        gi = m.backward(x, g).numpy()[0, 0]
    assert np.isnan(gi[:2, :2, :2]).all() and np.isnan(gi).sum() == 8


@pytest.mark.parametrize('make', [lambda: nn.SpatialUpSamplingBilinear({'oheight': 2, 'owidth': 3}),
                                  lambda: nn.UpSampling({'oheight': 2, 'owidth': 3}, 'linear')])
def test_linear_upsampling_to_the_same_size_copies(make):
    # THNN copies when the sizes match: a neighbour's inf did not become 0 * inf = NaN
    m = make()
    x = np.array([[[[1., np.inf, 2.], [3., 4., -np.inf]]]])
    np.testing.assert_array_equal(m.forward(x).numpy(), x)
    np.testing.assert_array_equal(m.backward(x, x).numpy(), x)


@pytest.mark.gpu
@pytest.mark.parametrize('shape, size', [((2, 3, 4, 4), {'oheight': 8, 'owidth': 7}),
                                         ((1, 2, 3, 4, 4), {'odepth': 5, 'oheight': 8, 'owidth': 7})])
def test_linear_backward_on_cuda_does_not_wait_for_the_device(shape, size):
    # the CPU's test of the gradient for a NaN or inf (a sum read on the host) is left out on CUDA: no sync per step
    import cupy
    if not hasattr(cupy, '_counters'):
        pytest.skip('a real CuPy: no sync counters (tests/fakecupy counts them)')
    x = rnd(*shape).astype(np.float32)
    cpu = nn.UpSampling(size, 'linear').float()
    g = rnd(*cpu.forward(x).size()).astype(np.float32)
    want = cpu.backward(x, g).numpy()
    m = nn.UpSampling(size, 'linear').cuda()
    xc, gc = to_cuda(x), to_cuda(g)
    assert steady_step_counts(m, xc, gc, cupy._counters)[2] == 0
    np.testing.assert_allclose(m.backward(xc, gc).float().numpy(), want, rtol=1e-5, atol=1e-6)

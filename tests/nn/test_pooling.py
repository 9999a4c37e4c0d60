"""Spatial pooling: SpatialMaxPooling, SpatialAveragePooling, SpatialAdaptiveMaxPooling,
SpatialAdaptiveAveragePooling against slow loop-based references written from THNN's C code."""
import math

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import check_gpu, check_steady_state, rnd, roundtrip


def distinct(*shape, seed=0):
    """Values without ties (spaced 0.1 apart, far above the Jacobian's perturbation)."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) * 0.1 - n * 0.05).reshape(shape)


def as4(x):
    return x if x.ndim == 4 else x[None]


# -- references (plain loops, THNN's formulas) -----------------------------------------------------------
def ref_size(n, k, d, pad, ceil_mode, any_pad):
    f = math.ceil if ceil_mode else math.floor
    o = int(f((n - k + 2 * pad) / d)) + 1
    if any_pad and (o - 1) * d >= n + pad:
        o -= 1
    return o


def ref_max(x, kW, kH, dW, dH, padW=0, padH=0, ceil_mode=False):
    x4 = as4(x)
    N, C, H, W = x4.shape
    anyp = bool(padW or padH)
    oh, ow = ref_size(H, kH, dH, padH, ceil_mode, anyp), ref_size(W, kW, dW, padW, ceil_mode, anyp)
    out = np.zeros((N, C, oh, ow))
    idx = np.zeros((N, C, oh, ow), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(oh):
                for j in range(ow):
                    hs, ws = i * dH - padH, j * dW - padW
                    he, we = min(hs + kH, H), min(ws + kW, W)
                    hs, ws = max(hs, 0), max(ws, 0)
                    best, arg = -np.inf, -1
                    for y in range(hs, he):
                        for xx in range(ws, we):
                            if x4[n, c, y, xx] > best:
                                best, arg = x4[n, c, y, xx], y * W + xx
                    out[n, c, i, j], idx[n, c, i, j] = best, arg
    return out.reshape(x.shape[:-2] + (oh, ow)), idx.reshape(x.shape[:-2] + (oh, ow))


def ref_max_backward(xshape, idx, g):
    gi = np.zeros(xshape)
    g4, i4, gi4 = as4(g), as4(idx), as4(gi)
    N, C, H, W = gi4.shape
    for n in range(N):
        for c in range(C):
            for i in range(g4.shape[2]):
                for j in range(g4.shape[3]):
                    p = i4[n, c, i, j]
                    if p >= 0:
                        gi4[n, c, p // W, p % W] += g4[n, c, i, j]
    return gi


def ref_avg(x, kW, kH, dW, dH, padW=0, padH=0, ceil_mode=False, include_pad=True, g=None):
    """Forward, or with g the backward (THNN's divide_factor)."""
    x4 = as4(x)
    N, C, H, W = x4.shape
    anyp = bool(padW or padH)
    oh, ow = ref_size(H, kH, dH, padH, ceil_mode, anyp), ref_size(W, kW, dW, padW, ceil_mode, anyp)
    out = np.zeros((N, C, oh, ow))
    gi = np.zeros((N, C, H, W))
    g4 = None if g is None else as4(g)
    for n in range(N):
        for c in range(C):
            for i in range(oh):
                for j in range(ow):
                    hs, ws = i * dH - padH, j * dW - padW
                    he, we = min(hs + kH, H + padH), min(ws + kW, W + padW)
                    pool = (he - hs) * (we - ws)
                    hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, H), min(we, W)
                    div = pool if include_pad else (he - hs) * (we - ws)
                    if g is None:
                        out[n, c, i, j] = x4[n, c, hs:he, ws:we].sum() / div
                    else:
                        gi[n, c, hs:he, ws:we] += g4[n, c, i, j] / div
    if g is None:
        return out.reshape(x.shape[:-2] + (oh, ow))
    return gi.reshape(x.shape)


def ref_adaptive(x, oh, ow, kind, g=None):
    x4 = as4(x)
    N, C, H, W = x4.shape
    out = np.zeros((N, C, oh, ow))
    idx = np.zeros((N, C, oh, ow), dtype=np.int64)
    gi = np.zeros((N, C, H, W))
    for i in range(oh):
        hs, he = math.floor(i * H / oh), math.ceil((i + 1) * H / oh)
        for j in range(ow):
            ws, we = math.floor(j * W / ow), math.ceil((j + 1) * W / ow)
            for n in range(N):
                for c in range(C):
                    win = x4[n, c, hs:he, ws:we]
                    if kind == 'avg':
                        out[n, c, i, j] = win.sum() / (we - ws) / (he - hs)
                        if g is not None:
                            gi[n, c, hs:he, ws:we] += as4(g)[n, c, i, j] / (we - ws) / (he - hs)
                    else:
                        a = int(np.argmax(win))       # first max, row-major
                        y, xx = hs + a // (we - ws), ws + a % (we - ws)
                        out[n, c, i, j], idx[n, c, i, j] = win.flat[a], y * W + xx
    shape = x.shape[:-2] + (oh, ow)
    if g is not None:
        return gi.reshape(x.shape)
    return out.reshape(shape), idx.reshape(shape)


MAX_CONFIGS = [
    # kW, kH, dW, dH, padW, padH, ceil, H, W
    (2, 2, 2, 2, 0, 0, False, 6, 7),
    (3, 3, 2, 2, 1, 1, True, 8, 8),      # branches.t7's pooling
    (3, 2, 1, 2, 1, 0, False, 5, 6),
    (3, 3, 2, 2, 0, 0, True, 7, 6),
    (2, 3, 3, 2, 1, 1, True, 7, 9),
    (2, 2, 2, 2, 1, 1, True, 5, 5),      # ceil + the clamp dropping a window starting in the right padding
]


def make_max(kW, kH, dW, dH, padW, padH, ceil_mode):
    m = nn.SpatialMaxPooling(kW, kH, dW, dH, padW, padH)
    return m.ceil() if ceil_mode else m


# -- SpatialMaxPooling -----------------------------------------------------------------------------------
def test_max_fields_and_repr():
    m = nn.SpatialMaxPooling(2, 2)
    assert (m.kW, m.kH, m.dW, m.dH, m.padW, m.padH, m.ceil_mode) == (2, 2, 2, 2, 0, 0, False)
    assert m.indices.type() == 'torch.LongTensor'
    assert repr(m) == 'nn.SpatialMaxPooling(2x2, 2,2)'
    assert repr(nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1)) == 'nn.SpatialMaxPooling(3x3, 2,2, 1,1)'
    assert repr(nn.SpatialMaxPooling(3, 2, 1, 2, 1, 0)) == 'nn.SpatialMaxPooling(3x2, 1,2, 1,0)'
    assert m.ceil() is m and m.ceil_mode is True and m.floor().ceil_mode is False
    assert nn.SpatialMaxPooling._lua_index_fields == ('indices',)
    assert nn.REGISTRY['nn.SpatialMaxPooling'] is nn.SpatialMaxPooling


@pytest.mark.parametrize('cfg', MAX_CONFIGS)
@pytest.mark.parametrize('batched', [True, False])
def test_max_forward_backward_match_reference(cfg, batched):
    *args, H, W = cfg
    m = make_max(*args)
    x = rnd(2, 3, H, W) if batched else rnd(3, H, W)
    y = m.forward(x).numpy()
    ref, idx = ref_max(x, *args)
    assert y.shape == ref.shape
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(m.indices.numpy(), idx)
    assert (m.iheight, m.iwidth) == (H, W)
    g = rnd(*y.shape, seed=1)
    np.testing.assert_allclose(m.backward(x, g).numpy(), ref_max_backward(x.shape, idx, g), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize('n, k, d, pad, ceil_mode, expected', [
    (6, 3, 2, 0, False, 2), (6, 3, 2, 0, True, 3),
    (8, 3, 2, 1, True, 5), (8, 3, 2, 1, False, 4),
    (5, 2, 2, 1, True, 3),        # ceil gives 4, but the 4th window would start in the right padding
    (5, 2, 2, 1, False, 3),
    (7, 3, 3, 0, True, 3), (7, 3, 3, 0, False, 2),
])
def test_output_sizes_floor_and_ceil(n, k, d, pad, ceil_mode, expected):
    for cls in (nn.SpatialMaxPooling, nn.SpatialAveragePooling):
        m = cls(k, k, d, d, pad, pad)
        if ceil_mode:
            m.ceil()
        assert m.forward(rnd(2, n, n)).shape == (2, expected, expected), repr(m)


def test_max_ceil_clamp_only_with_padding():
    # no padding: THNN keeps a last window starting past the input (it is empty: -inf, no gradient)
    m = nn.SpatialMaxPooling(1, 1, 3, 3).ceil()
    x = rnd(1, 2, 5, 5)
    y = m.forward(x).numpy()
    assert y.shape == (1, 2, 3, 3)
    np.testing.assert_array_equal(y[..., :2, :2], x[..., 0:4:3, 0:4:3])
    assert np.all(np.isneginf(y[..., 2, :])) and np.all(np.isneginf(y[..., :, 2]))
    assert np.all(m.indices.numpy()[..., 2, :] == -1)
    gi = m.backward(x, np.ones(y.shape)).numpy()
    assert gi.sum() == 4 * 2
    assert gi[0, 0, 0, 0] == 1 and gi[0, 0, 3, 3] == 1


def test_max_ties_go_to_the_first_maximum():
    m = nn.SpatialMaxPooling(2, 2)
    np.testing.assert_array_equal(m.forward(np.zeros((1, 4, 4))).numpy(), np.zeros((1, 2, 2)))
    np.testing.assert_array_equal(m.indices.numpy(), [[[0, 2], [8, 10]]])
    x = np.array([[[1., 5.], [5., 2.]]])
    m.forward(x)
    assert m.indices.numpy().ravel().tolist() == [1]
    np.testing.assert_array_equal(m.backward(x, np.ones((1, 1, 1))).numpy(), [[[0, 1], [0, 0]]])
    # with padding (which counts as -inf) a window of equal values picks its first input pixel
    p = nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1)
    p.forward(np.full((1, 4, 4), -7.0))
    np.testing.assert_array_equal(p.indices.numpy(), [[[0, 1], [4, 5]]])


def test_max_never_picks_nan():
    # THNN keeps a value only when `val > maxval`: NaNs are skipped; a window of NaNs gives -inf and no position
    m = nn.SpatialMaxPooling(2, 2)
    x = np.array([[[np.nan, 1., np.nan, np.nan], [2., np.nan, np.nan, np.nan]]])
    np.testing.assert_array_equal(m.forward(x).numpy(), [[[2., -np.inf]]])
    np.testing.assert_array_equal(m.indices.numpy(), [[[4, -1]]])
    np.testing.assert_array_equal(m.backward(x, np.ones((1, 1, 2))).numpy(), [[[0, 0, 0, 0], [1, 0, 0, 0]]])
    a = nn.SpatialAdaptiveMaxPooling(2, 1)
    np.testing.assert_array_equal(a.forward(x).numpy()[..., 0], [[2.]])
    assert a.indices.numpy().ravel().tolist() == [4, -1]


@pytest.mark.parametrize('cfg', [MAX_CONFIGS[1], MAX_CONFIGS[2], MAX_CONFIGS[4]])
@pytest.mark.parametrize('batched', [True, False])
def test_max_jacobian(cfg, batched):
    *args, H, W = cfg
    m = make_max(*args).double()
    x = torch.DoubleTensor(distinct(*((2, 2) if batched else (2,)), H, W))
    assert nn.Jacobian.testJacobian(m, x, randomize=False) < 1e-5


def test_max_float32_and_type_conversion():
    m = nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil().float()
    x = rnd(2, 3, 8, 8).astype(np.float32)
    y = m.forward(x)
    assert y.type() == 'torch.FloatTensor' and m.indices.type() == 'torch.LongTensor'
    ref, idx = ref_max(x.astype(np.float64), 3, 3, 2, 2, 1, 1, True)
    np.testing.assert_array_equal(y.numpy(), ref.astype(np.float32))
    np.testing.assert_array_equal(m.indices.numpy(), idx)
    g = rnd(*ref.shape, seed=2).astype(np.float32)
    np.testing.assert_allclose(m.backward(x, g).numpy(), ref_max_backward(x.shape, idx, g), rtol=1e-6)
    m.double()                              # type() converts indices too; forward makes them Long again
    m.forward(x.astype(np.float64))
    assert m.indices.type() == 'torch.LongTensor'


def test_max_errors_name_layer_and_sizes():
    m = nn.SpatialMaxPooling(2, 2)
    with pytest.raises(ValueError, match=r'nn\.SpatialMaxPooling\(2x2, 2,2\).*\[3, 4\]'):
        m.forward(rnd(3, 4))
    with pytest.raises(ValueError, match=r'nn\.SpatialMaxPooling\(3x3, 1,1\).*\(H: 2, W: 5\) smaller than kernel.*\[1, 2, 5\]'):
        nn.SpatialMaxPooling(3, 3, 1, 1).forward(rnd(1, 2, 5))
    with pytest.raises(ValueError, match=r'pad should be at most half.*padW=2'):
        nn.SpatialMaxPooling(3, 3, 1, 1, 2, 2).forward(rnd(1, 5, 5))
    m.forward(rnd(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r'nn\.SpatialMaxPooling\(2x2, 2,2\).*gradOutput of size \[2, 3, 2, 2\], '
                                         r'got \[2, 3, 2, 3\]'):
        m.backward(rnd(2, 3, 4, 4), rnd(2, 3, 2, 3))
    with pytest.raises(TypeError, match='torch.FloatTensor'):
        m.forward(torch.FloatTensor(1, 4, 4))
    with pytest.raises(ValueError, match='kernel size should be greater than zero'):
        nn.SpatialMaxPooling(0, 2)


def test_max_reuses_buffers():
    m = nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil()
    x = rnd(2, 3, 8, 8)
    check_steady_state(m, x, rnd(2, 3, 5, 5))
    assert isinstance(m.__dict__['_xpad'], np.ndarray)     # so check_steady_state saw the padded copy kept
    np.testing.assert_array_equal(m.forward(x * 2).numpy(), ref_max(x * 2, 3, 3, 2, 2, 1, 1, True)[0])
    for p in (make_avg(3, 3, 2, 2, 1, 1, True), nn.SpatialAdaptiveMaxPooling(3, 2),
              nn.SpatialAdaptiveAveragePooling(3, 2)):
        check_steady_state(p, x, np.ones(p.forward(x).shape))


def test_max_clear_state():
    m = nn.SpatialMaxPooling(2, 2)
    m.forward(rnd(1, 4, 4))
    m.clearState()
    assert m.indices.nElement() == 0 and m.indices.type() == 'torch.LongTensor' and m.output.nElement() == 0


def test_max_in_sequential_batch_and_single():
    net = nn.Sequential().add(nn.SpatialMaxPooling(2, 2)).add(nn.SpatialAveragePooling(2, 2, 2, 2))
    x = rnd(2, 3, 8, 8)
    y = net.forward(x).numpy()
    np.testing.assert_allclose(net.forward(x[1]).numpy(), y[1], rtol=1e-15)


# -- SpatialAveragePooling -------------------------------------------------------------------------------
AVG_CONFIGS = MAX_CONFIGS + [(3, 3, 1, 1, 1, 1, False, 4, 5), (3, 3, 3, 3, 1, 1, True, 7, 8)]


def make_avg(kW, kH, dW, dH, padW, padH, ceil_mode, include_pad=True):
    m = nn.SpatialAveragePooling(kW, kH, dW, dH, padW, padH)
    if ceil_mode:
        m.ceil()
    return m if include_pad else m.setCountExcludePad()


def test_avg_fields_and_repr():
    m = nn.SpatialAveragePooling(2, 2)
    assert (m.dW, m.dH, m.padW, m.padH, m.ceil_mode, m.count_include_pad, m.divide) == (1, 1, 0, 0, False, True,
                                                                                         True)
    assert repr(m) == 'nn.SpatialAveragePooling(2x2, 1,1)'
    assert repr(nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1)) == 'nn.SpatialAveragePooling(3x3, 2,2, 1,1)'
    assert m.setCountExcludePad() is m and m.count_include_pad is False
    assert m.setCountIncludePad().count_include_pad is True


@pytest.mark.parametrize('cfg', AVG_CONFIGS)
@pytest.mark.parametrize('include_pad', [True, False])
@pytest.mark.parametrize('batched', [True, False])
def test_avg_forward_backward_match_reference(cfg, include_pad, batched):
    *args, H, W = cfg
    m = make_avg(*args, include_pad)
    x = rnd(2, 3, H, W) if batched else rnd(3, H, W)
    y = m.forward(x).numpy()
    ref = ref_avg(x, *args, include_pad=include_pad)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-13, atol=1e-15)
    g = rnd(*y.shape, seed=1)
    np.testing.assert_allclose(m.backward(x, g).numpy(), ref_avg(x, *args, include_pad=include_pad, g=g),
                               rtol=1e-13, atol=1e-15)


def test_avg_divide_false_gives_sums():
    m = nn.SpatialAveragePooling(2, 2, 2, 2)
    m.divide = False                       # old Torch7 files
    x = rnd(1, 4, 4)
    np.testing.assert_allclose(m.forward(x).numpy(), x.reshape(1, 2, 2, 2, 2).sum(axis=(2, 4)), rtol=1e-14)
    np.testing.assert_allclose(m.backward(x, np.ones((1, 2, 2))).numpy(), np.ones((1, 4, 4)))


@pytest.mark.parametrize('include_pad', [True, False])
@pytest.mark.parametrize('batched', [True, False])
def test_avg_jacobian(include_pad, batched):
    m = make_avg(3, 3, 2, 2, 1, 1, True, include_pad).double()
    x = torch.DoubleTensor(*((2, 2) if batched else (2,)), 5, 6)
    assert nn.Jacobian.testJacobian(m, x) < 1e-5


def test_avg_float32():
    m = make_avg(3, 3, 2, 2, 1, 1, True).float()
    x = rnd(2, 3, 7, 7).astype(np.float32)
    y = m.forward(x)
    assert y.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(y.numpy(), ref_avg(x.astype(np.float64), 3, 3, 2, 2, 1, 1, True), rtol=1e-5,
                               atol=1e-6)


def test_avg_errors():
    m = nn.SpatialAveragePooling(3, 3, 1, 1)
    with pytest.raises(ValueError, match=r'nn\.SpatialAveragePooling\(3x3, 1,1\).*\[2, 3, 4, 5, 6\]'):
        m.forward(rnd(2, 3, 4, 5, 6))
    with pytest.raises(ValueError, match=r'\(H: 2, W: 4\) smaller than kernel.*\[1, 2, 4\]'):
        m.forward(rnd(1, 2, 4))
    with pytest.raises(ValueError, match=r'gradOutput of size \[1, 2, 2\], got \[1, 3, 3\]'):
        m.backward(rnd(1, 4, 4), rnd(1, 3, 3))


# -- adaptive pooling ------------------------------------------------------------------------------------
ADAPTIVE = [(7, 8, 3, 2), (5, 5, 5, 5), (4, 6, 7, 9), (6, 6, 1, 1), (9, 4, 4, 3)]


@pytest.mark.parametrize('H, W, oh, ow', ADAPTIVE)
@pytest.mark.parametrize('batched', [True, False])
def test_adaptive_max_matches_reference(H, W, oh, ow, batched):
    m = nn.SpatialAdaptiveMaxPooling(ow, oh)
    x = rnd(2, 3, H, W) if batched else rnd(3, H, W)
    y = m.forward(x).numpy()
    ref, idx = ref_adaptive(x, oh, ow, 'max')
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(m.indices.numpy(), idx)
    g = rnd(*y.shape, seed=1)
    np.testing.assert_allclose(m.backward(x, g).numpy(), ref_max_backward(x.shape, idx, g), rtol=1e-14)


def test_adaptive_max_ties_row_major_first():
    m = nn.SpatialAdaptiveMaxPooling(1, 1)
    x = np.array([[[0., 3.], [3., 1.]]])       # a column-first scan would pick (1, 0)
    m.forward(x)
    assert m.indices.numpy().ravel().tolist() == [1]


@pytest.mark.parametrize('H, W, oh, ow', ADAPTIVE)
@pytest.mark.parametrize('batched', [True, False])
def test_adaptive_avg_matches_reference(H, W, oh, ow, batched):
    m = nn.SpatialAdaptiveAveragePooling(ow, oh)
    x = rnd(2, 3, H, W) if batched else rnd(3, H, W)
    np.testing.assert_allclose(m.forward(x).numpy(), ref_adaptive(x, oh, ow, 'avg')[0], rtol=1e-13, atol=1e-15)
    g = rnd(*x.shape[:-2], oh, ow, seed=1)
    np.testing.assert_allclose(m.backward(x, g).numpy(), ref_adaptive(x, oh, ow, 'avg', g), rtol=1e-13,
                               atol=1e-15)


@pytest.mark.parametrize('cls', [nn.SpatialAdaptiveMaxPooling, nn.SpatialAdaptiveAveragePooling])
@pytest.mark.parametrize('batched', [True, False])
def test_adaptive_jacobian(cls, batched):
    m = cls(3, 2).double()
    x = torch.DoubleTensor(distinct(*((2, 2) if batched else (2,)), 5, 7, seed=3))
    assert nn.Jacobian.testJacobian(m, x, randomize=False) < 1e-5


def test_adaptive_fields_repr_errors():
    m = nn.SpatialAdaptiveMaxPooling(4, 3)
    assert (m.W, m.H) == (4, 3) and repr(m) == 'nn.SpatialAdaptiveMaxPooling'
    assert repr(nn.SpatialAdaptiveAveragePooling(2, 2)) == 'nn.SpatialAdaptiveAveragePooling'
    with pytest.raises(ValueError, match=r'nn\.SpatialAdaptiveAveragePooling.*\[5, 5\]'):
        nn.SpatialAdaptiveAveragePooling(2, 2).forward(rnd(5, 5))
    m.forward(rnd(2, 6, 6))
    with pytest.raises(ValueError, match=r'gradOutput of size \[2, 3, 4\], got \[2, 4, 3\]'):
        m.backward(rnd(2, 6, 6), rnd(2, 4, 3))
    with pytest.raises(ValueError, match='positive integer'):
        nn.SpatialAdaptiveMaxPooling(0, 2)
    m.float().forward(rnd(1, 5, 5).astype(np.float32))
    assert m.indices.type() == 'torch.LongTensor' and m.output.type() == 'torch.FloatTensor'


# -- save / load -----------------------------------------------------------------------------------------
@pytest.mark.parametrize('make', [
    lambda: nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil(),
    lambda: nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1).ceil().setCountExcludePad(),
    lambda: nn.SpatialAdaptiveMaxPooling(2, 3),
    lambda: nn.SpatialAdaptiveAveragePooling(2, 3),
])
def test_save_load_roundtrip(make, tmp_path):
    m = make()
    x = rnd(2, 3, 7, 8)
    y = m.forward(x).numpy().copy()
    g = rnd(*y.shape, seed=1)
    gi = m.backward(x, g).numpy().copy()
    m2 = roundtrip(m, tmp_path)
    assert type(m2) is type(m) and repr(m2) == repr(m)
    for f in ('kW', 'kH', 'dW', 'dH', 'padW', 'padH', 'ceil_mode', 'count_include_pad', 'divide', 'W', 'H'):
        assert getattr(m2, f, None) == getattr(m, f, None)
    if 'indices' in m.__dict__:             # indices survive (0-based here, 1-based in the file)
        np.testing.assert_array_equal(m2.indices.numpy(), m.indices.numpy())
        np.testing.assert_array_equal(m2.updateGradInput(x, g).numpy(), gi)
    np.testing.assert_array_equal(m2.forward(x).numpy(), y)
    np.testing.assert_array_equal(m2.backward(x, g).numpy(), gi)


# -- GPU -------------------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize('make', [
    lambda: nn.SpatialMaxPooling(2, 2),                              # disjoint windows: a plain put back
    lambda: nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil(),          # overlapping windows: add.at
    lambda: nn.SpatialMaxPooling(1, 1, 3, 3).ceil(),                # empty windows: no position (-1)
    lambda: nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1).ceil().setCountExcludePad(),
    lambda: nn.SpatialAdaptiveMaxPooling(3, 2),
    lambda: nn.SpatialAdaptiveAveragePooling(3, 2),
])
def test_gpu_matches_cpu(make):
    check_gpu(make().float(), make().cuda(), rnd(2, 3, 7, 8), rtol=1e-5, atol=1e-6)


def tied(*shape, seed=0, specials=True):
    """Values on a coarse grid (many ties between and across windows), with a few NaN and -inf (``specials``)."""
    x = np.round(rnd(*shape, seed=seed) * 2) / 2
    if specials:
        flat = x.reshape(-1)
        rng = np.random.default_rng(seed + 1)
        flat[rng.choice(flat.size, max(1, flat.size // 25), replace=False)] = np.nan
        flat[rng.choice(flat.size, max(1, flat.size // 25), replace=False)] = -np.inf
    return x


def gpu_agrees(make, x, double=False, fields=(), strided=False, seed=5):
    """``make()`` on CUDA (float32, or float64 with ``double``) agrees with it on the CPU on float64 array ``x``:
    output, gradInput (for a random gradOutput) and the index tensors ``fields`` (exactly).  ``strided``: the CUDA
    input is a non-contiguous view.  Returns the CUDA module."""
    import cupy
    dt = np.float64 if double else np.float32
    cpu = make().double() if double else make().float()
    gpu = make().cudaDouble() if double else make().cuda()
    xc = x.astype(dt)
    if strided:
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), dtype=dt)
        wide[..., ::2] = xc
        xg = cupy.asarray(wide)[..., ::2]
        assert not xg.flags.c_contiguous
    else:
        xg = cupy.asarray(xc)
    y = cpu.forward(xc).numpy().copy()
    yg = gpu.forward(xg)
    assert yg.type() == ('torch.CudaDoubleTensor' if double else 'torch.CudaTensor')
    g = rnd(*y.shape, seed=seed).astype(dt)
    gi = cpu.backward(xc, g).numpy().copy()
    gig = gpu.backward(xg, cupy.asarray(g))
    rtol, atol = (1e-10, 1e-12) if double else (1e-5, 1e-6)
    np.testing.assert_allclose(yg.double().numpy(), y, rtol=rtol, atol=atol)
    np.testing.assert_allclose(gig.double().numpy(), gi, rtol=rtol, atol=atol)
    for f in fields:
        assert getattr(gpu, f).type() == 'torch.CudaLongTensor'
        np.testing.assert_array_equal(getattr(gpu, f).long().numpy(), getattr(cpu, f).numpy())
    return gpu


MAX_CASES = [
    (lambda: nn.SpatialMaxPooling(2, 2, 2, 2), (3, 4, 9, 11)),                 # odd sizes: the last row dropped
    (lambda: nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil(), (2, 3, 7, 8)),
    (lambda: nn.SpatialMaxPooling(3, 2, 1, 2, 1, 1), (2, 3, 6, 7)),             # overlapping along W
    (lambda: nn.SpatialMaxPooling(2, 3, 3, 2, 1, 0).ceil(), (2, 2, 8, 9)),
    (lambda: nn.SpatialMaxPooling(3, 3, 3, 3).ceil(), (1, 2, 8, 8)),            # windows past the end, no pad
    (lambda: nn.SpatialMaxPooling(1, 1, 3, 3).ceil(), (1, 2, 7, 8)),            # empty windows: index -1
    (lambda: nn.SpatialMaxPooling(5, 4, 1, 1, 2, 2), (2, 2, 6, 5)),             # many windows per input
    (lambda: nn.SpatialMaxPooling(3, 3, 2, 2), (3, 7, 8)),                      # a single image
    (lambda: nn.SpatialAdaptiveMaxPooling(3, 2), (2, 3, 7, 8)),
    (lambda: nn.SpatialAdaptiveMaxPooling(5, 4), (2, 2, 3, 3)),                 # more outputs than inputs
    (lambda: nn.SpatialAdaptiveMaxPooling(1, 1), (2, 3, 5, 4)),
    (lambda: nn.SpatialAdaptiveMaxPooling(4, 3), (3, 9, 10)),
]


@pytest.mark.gpu
@pytest.mark.parametrize('double', [False, True])
@pytest.mark.parametrize('case', MAX_CASES)
def test_gpu_max_pooling_kernels(case, double):
    make, shape = case
    gpu_agrees(make, rnd(*shape), double, fields=('indices',))
    gpu_agrees(make, tied(*shape), double, fields=('indices',))        # ties, NaN, -inf: the same winners


@pytest.mark.gpu
def test_gpu_max_pooling_lenet_sizes_and_strided_input():
    for shape in ((4, 20, 24, 24), (4, 50, 8, 8)):
        gpu_agrees(lambda: nn.SpatialMaxPooling(2, 2, 2, 2), rnd(*shape), fields=('indices',))
    gpu_agrees(lambda: nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1), tied(2, 3, 7, 9), fields=('indices',), strided=True)
    gpu_agrees(lambda: nn.SpatialAdaptiveMaxPooling(3, 2), rnd(2, 3, 7, 9), fields=('indices',), strided=True)


@pytest.mark.gpu
def test_gpu_max_pooling_indices_after_reload_and_device_moves(tmp_path):
    x = tied(2, 3, 7, 8)
    m = nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil().cuda()
    m.forward(torch.FloatTensor(x.astype(np.float32)).cuda())
    idx = m.indices.long().numpy().copy()
    m2 = roundtrip(m.float(), tmp_path)          # saved from the CPU: the same (0-based) indices come back
    np.testing.assert_array_equal(m2.indices.numpy(), idx)
    g = rnd(*m.output.size(), seed=2)
    gi = m2.updateGradInput(x.astype(np.float32), g.astype(np.float32)).numpy().copy()
    m2.cuda()                                    # indices moved to the device drive its backward as they are
    gic = m2.updateGradInput(torch.FloatTensor(x.astype(np.float32)).cuda(),
                             torch.FloatTensor(g.astype(np.float32)).cuda())
    np.testing.assert_array_equal(gic.float().numpy(), gi)


AVG_CASES = [
    (lambda: nn.SpatialAveragePooling(2, 2, 2, 2), (3, 4, 9, 11)),
    (lambda: nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1).ceil(), (2, 3, 7, 8)),
    (lambda: nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1).ceil().setCountExcludePad(), (2, 3, 7, 8)),
    (lambda: nn.SpatialAveragePooling(3, 2, 1, 1, 1, 0), (2, 2, 5, 6)),
    (lambda: nn.SpatialAveragePooling(2, 4, 3, 2, 1, 2).ceil().setCountExcludePad(), (2, 2, 9, 7)),
    (lambda: nn.SpatialAveragePooling(3, 3, 2, 2), (3, 7, 8)),
    (lambda: nn.SpatialAdaptiveAveragePooling(3, 2), (2, 3, 7, 8)),
    (lambda: nn.SpatialAdaptiveAveragePooling(5, 4), (2, 2, 3, 3)),
    (lambda: nn.SpatialAdaptiveAveragePooling(1, 1), (3, 5, 4)),
]


def _sums():
    m = nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1).ceil()
    m.divide = False                             # old Torch7 files: sums
    return m


@pytest.mark.gpu
@pytest.mark.parametrize('double', [False, True])
@pytest.mark.parametrize('case', AVG_CASES + [(_sums, (2, 3, 7, 8))])
def test_gpu_average_pooling_kernels(case, double):
    make, shape = case
    gpu_agrees(make, rnd(*shape), double)


@pytest.mark.gpu
def test_gpu_average_pooling_strided_input():
    gpu_agrees(lambda: nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1), rnd(2, 3, 7, 9), strided=True)
    gpu_agrees(lambda: nn.SpatialAdaptiveAveragePooling(3, 2), rnd(2, 3, 7, 9), strided=True)


VOLUME_CASES = [
    (lambda: nn.TemporalMaxPooling(2), (2, 8, 3)),
    (lambda: nn.TemporalMaxPooling(3, 1), (2, 9, 4)),                          # overlapping windows
    (lambda: nn.TemporalMaxPooling(3, 2), (9, 4)),                             # a single sequence
    (lambda: nn.VolumetricMaxPooling(2, 2, 2, 2, 2, 2, 1, 1, 1), (2, 2, 5, 5, 5)),
    (lambda: nn.VolumetricMaxPooling(3, 3, 3, 2, 2, 2, 1, 1, 1).ceil(), (1, 2, 6, 7, 5)),
    (lambda: nn.VolumetricMaxPooling(2, 3, 2, 1, 2, 1), (2, 2, 4, 5, 6)),
    (lambda: nn.VolumetricMaxPooling(2, 2, 2), (2, 4, 5, 4)),                  # a single volume
    (lambda: nn.VolumetricAveragePooling(2, 2, 2), (2, 2, 4, 4, 4)),
    (lambda: nn.VolumetricAveragePooling(3, 2, 2, 1, 2, 1), (2, 3, 5, 6, 5)),
    (lambda: nn.VolumetricAveragePooling(2, 3, 2), (2, 4, 5, 4)),
]


@pytest.mark.gpu
@pytest.mark.parametrize('double', [False, True])
@pytest.mark.parametrize('case', VOLUME_CASES)
def test_gpu_temporal_and_volumetric_pooling_kernels(case, double):
    make, shape = case
    gpu_agrees(make, rnd(*shape), double)
    if 'Max' in type(make()).__name__:
        gpu_agrees(make, tied(*shape), double)      # ties and NaN (which wins in VolumetricMaxPooling)


@pytest.mark.parametrize('shape, args, want, want_idx', [
    ((2, 1, 3, 3), (3, 3, 3, 3, 1, 1), [4.0, 13.0], [4, 4]),            # the window is rows/cols -1..1
    ((3, 1, 1, 2), (1, 2, 2, 3, 0, 1), [0.0, 2.0, 4.0], [0, 0, 0])])     # used to raise numpy's broadcast error
def test_max_pooling_one_number_per_plane_with_padding(shape, args, want, want_idx):
    """An output of one number per plane (C = oh = ow = 1, batch > 1) has strides that also read as batch-last:
    the CPU took the batch-last path, which has no padding, and pooled the wrong windows (or raised).  As THNN and
    the CUDA kernel: the padding is in every window."""
    x = torch.DoubleTensor(np.arange(float(np.prod(shape))).reshape(shape))
    m = nn.SpatialMaxPooling(*args)
    np.testing.assert_array_equal(m.forward(x).numpy().ravel(), want)
    np.testing.assert_array_equal(m.indices.numpy().ravel(), want_idx)
    gi = m.backward(x, m.output.clone().fill(1)).numpy().reshape(shape[0], -1)
    np.testing.assert_array_equal(gi.argmax(1), want_idx)


def test_adaptive_average_pooling_keeps_nan_and_inf_in_their_windows():
    """THNN sums each window on its own: a NaN or inf reaches only the windows (forward) and the input positions
    (backward) it belongs to.  The CPU's 0/1 window-matrix products spread it (0 * NaN) over whole rows and columns
    of windows; the CUDA kernel never did."""
    x = np.arange(20.0).reshape(1, 1, 5, 4)
    x[0, 0, 0, 0] = np.nan                      # only in window (0, 0): rows 0-1, cols 0-1
    x[0, 0, 4, 3] = np.inf                      # only in window (2, 1): rows 3-4, cols 2-3
    m = nn.SpatialAdaptiveAveragePooling(2, 3)
    out = m.forward(torch.DoubleTensor(x)).numpy()[0, 0]
    want = np.array([[np.nan, x[0, 0, 0:2, 2:4].sum() / 4],           # windows: rows [0,2) [1,4) [3,5),
                     [x[0, 0, 1:4, 0:2].sum() / 6, x[0, 0, 1:4, 2:4].sum() / 6],   # cols [0,2) [2,4)
                     [x[0, 0, 3:5, 0:2].sum() / 4, np.inf]])
    np.testing.assert_array_equal(out, want)
    g = np.ones((1, 1, 3, 2))
    g[0, 0, 0, 0] = np.nan
    gi = m.backward(torch.DoubleTensor(x), torch.DoubleTensor(g)).numpy()[0, 0]
    assert np.isnan(gi[0:2, 0:2]).all() and np.isfinite(gi[2:, :]).all() and np.isfinite(gi[:, 2:]).all()
    np.testing.assert_allclose(gi[4, 3], 1 / 4, rtol=1e-15)

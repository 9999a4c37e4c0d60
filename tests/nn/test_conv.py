"""Convolutions and the temporal/volumetric pooling layers of conv.py, against slow loop references."""
import itertools
import math
import os

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.backend import kernels

from nn_helpers import D, check_float32, check_params, check_reloads, check_steady_state, draws, f32, jac, rnd

LAYOUTS = ['nfirst', 'nlast']


# -- slow references (loops over everything; float64) ----------------------------------------------------------
def ref_conv(x, w, b, stride, pad, dil):
    """Channel-first N-d convolution: x (N, C, *S), w (O, C, *K)."""
    n, c = x.shape[:2]
    nd = x.ndim - 2
    k = w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    osz = [(x.shape[2 + i] + 2 * pad[i] - dil[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    out = np.zeros((n, w.shape[0], *osz))
    for i in range(n):
        for o in range(w.shape[0]):
            for pos in itertools.product(*map(range, osz)):
                acc = 0.0 if b is None else b[o]
                for ci in range(c):
                    for kk in itertools.product(*map(range, k)):
                        acc += w[(o, ci) + kk] * xp[(i, ci) + tuple(pos[d] * stride[d] + kk[d] * dil[d]
                                                                    for d in range(nd))]
                out[(i, o) + pos] = acc
    return out


def ref_full_conv(x, w, b, stride, pad, adj):
    """Transposed 2-D convolution: x (N, Cin, H, W), w (Cin, Cout, kH, kW): each input pixel scatters w."""
    n, cin, h, wd = x.shape
    cout, kh, kw = w.shape[1:]
    oh = (h - 1) * stride[0] - 2 * pad[0] + kh + adj[0]
    ow = (wd - 1) * stride[1] - 2 * pad[1] + kw + adj[1]
    big = np.zeros((n, cout, oh + 2 * pad[0] + kh, ow + 2 * pad[1] + kw))
    for i in range(n):
        for ci in range(cin):
            for y in range(h):
                for xx in range(wd):
                    big[i, :, y * stride[0]:y * stride[0] + kh, xx * stride[1]:xx * stride[1] + kw] += \
                        x[i, ci, y, xx] * w[ci]
    out = big[:, :, pad[0]:pad[0] + oh, pad[1]:pad[1] + ow].copy()
    if b is not None:
        out += b[None, :, None, None]
    return out


def ref_temporal(x, w, b, kw, dw):
    """x (N, T, C), w (O, kw*C)."""
    n, t, c = x.shape
    to = (t - kw) // dw + 1
    out = np.zeros((n, to, w.shape[0]))
    for i in range(n):
        for j in range(to):
            out[i, j] = w @ x[i, j * dw:j * dw + kw].reshape(-1) + (0 if b is None else b)
    return out


def ref_temporal_maxpool(x, kw, dw):
    n, t, c = x.shape
    to = (t - kw) // dw + 1
    return np.array([[[x[i, j * dw:j * dw + kw, f].max() for f in range(c)] for j in range(to)] for i in range(n)])


def ref_vol_pool(x, k, s, p, ceil, op):
    """Volumetric pooling with Torch7's output size rule; windows clipped to the input (the padding never wins)."""
    n, c = x.shape[:2]
    sizes = x.shape[2:]
    osz = []
    for i in range(3):
        v = (sizes[i] - k[i] + 2 * p[i]) / s[i]
        o = (math.ceil(v) if ceil else math.floor(v)) + 1
        if p[i] and (o - 1) * s[i] >= sizes[i] + p[i]:
            o -= 1
        osz.append(o)
    out = np.zeros((n, c, *osz))
    for i in range(n):
        for ch in range(c):
            for pos in itertools.product(*map(range, osz)):
                sl = tuple(slice(max(0, pos[d] * s[d] - p[d]), min(sizes[d], pos[d] * s[d] - p[d] + k[d]))
                           for d in range(3))
                out[(i, ch) + pos] = op(x[(i, ch) + sl])
    return out


# -- kernels ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('layout', LAYOUTS)
@pytest.mark.parametrize('nd', [1, 2, 3])
def test_im2col_col2im_are_adjoint_and_match_loops(layout, nd):
    rs = np.random.RandomState(nd)
    for _ in range(3):
        sizes = tuple(rs.randint(4, 7, nd))
        k, s, p, d = (tuple(rs.randint(1, 3, nd)) for _ in range(4))
        p = tuple(x - 1 for x in p)
        x = rs.rand(2, 3, *sizes)
        cols = kernels.im2col(x, k, s, p, d, layout)
        osz = kernels.out_sizes(sizes, k, s, p, d)
        # each row of the column matrix times a one-hot weight = a convolution with that single tap
        c6 = cols.reshape((3,) + k + ((2,) + osz if layout == 'nfirst' else osz + (2,)))
        for ci, kk in [(0, (0,) * nd), (2, tuple(kx - 1 for kx in k))]:
            w = np.zeros((1, 3) + k)
            w[(0, ci) + kk] = 1
            want = ref_conv(x, w, None, s, p, d)[:, 0]
            got = c6[(ci,) + kk]
            got = got if layout == 'nfirst' else np.moveaxis(got, -1, 0)
            np.testing.assert_allclose(got, want)
        y = rs.rand(*cols.shape)
        back = np.empty_like(x)
        kernels.col2im(y, back, k, s, p, d, layout)
        assert np.isclose((cols * y).sum(), (x * back).sum())


def test_unfold_fold_frames_adjoint():
    rs = np.random.RandomState(0)
    x = rs.rand(2, 9, 3)
    cols = np.empty((2, 3, 9))
    kernels.unfold_frames(x, 3, 3, cols)
    np.testing.assert_array_equal(cols[1, 2], x[1, 6:9].reshape(-1))
    y = rs.rand(*cols.shape)
    back = np.empty_like(x)
    kernels.fold_frames(y, back, 3, 3)
    assert np.isclose((cols * y).sum(), (x * back).sum())
    # a non-contiguous input (frames not adjacent in memory)
    xt = rs.rand(2, 3, 9).transpose(0, 2, 1)
    kernels.unfold_frames(xt, 3, 2, cols[:, :3])
    np.testing.assert_array_equal(cols[0, 1], xt[0, 2:5].reshape(-1))


def test_choose_layout():
    # LeNet's second convolution (small planes, many channels): batch-last copies win
    assert kernels.choose_layout(64, 20, (12, 12), (5, 5), (8, 8), 50) == 'nlast'
    # LeNet's first one (one plane of 28x28, 24-long output rows): batch-first
    assert kernels.choose_layout(64, 1, (28, 28), (5, 5), (24, 24), 20) == 'nfirst'
    # a large image with few channels: long output rows, batch-first
    assert kernels.choose_layout(8, 3, (224, 224), (3, 3), (222, 222), 64) == 'nfirst'
    assert kernels.choose_layout(1, 20, (12, 12), (5, 5), (8, 8), 50) == 'nfirst'


# -- SpatialConvolution ------------------------------------------------------------------------------------------
def test_spatial_init_draws_torch_order_and_layout():
    torch.manualSeed(7)
    m = nn.SpatialConvolution(2, 3, 5, 4)
    assert m.weight.size() == torch.LongStorage([3, 2, 4, 5])
    s = 1 / math.sqrt(5 * 4 * 2)
    d = draws(7, 120 + 3, -s, s)
    np.testing.assert_array_equal(m.weight.numpy().reshape(-1), d[:120])
    np.testing.assert_array_equal(m.bias.numpy(), d[120:])
    mm = nn.SpatialConvolutionMM(2, 3, 5, 4)
    assert tuple(mm.weight.size()) == (3, 40)
    torch.manualSeed(7)
    mm = nn.SpatialConvolutionMM(2, 3, 5, 4)
    np.testing.assert_array_equal(mm.weight.numpy().reshape(-1), d[:120])


@pytest.mark.parametrize('layout', LAYOUTS)
@pytest.mark.parametrize('cls', [nn.SpatialConvolution, nn.SpatialConvolutionMM])
@pytest.mark.parametrize('geom', [(3, 3, 1, 1, 0, 0), (3, 2, 2, 1, 1, 0), (2, 3, 1, 2, 2, 1), (1, 1, 1, 1, 0, 0)])
def test_spatial_forward_matches_loops(cls, geom, layout):
    kw, kh, dw, dh, pw, ph = geom
    m = cls(3, 4, kw, kh, dw, dh, pw, ph)
    m._force_layout = layout
    x = rnd(2, 3, 7, 6)
    w = m.weight.numpy().reshape(4, 3, kh, kw)
    want = ref_conv(x, w, m.bias.numpy(), (dh, dw), (ph, pw), (1, 1))
    np.testing.assert_allclose(m.forward(x).numpy(), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.forward(x[1]).numpy(), want[1], rtol=1e-10, atol=1e-12)
    m.noBias()
    np.testing.assert_allclose(m.forward(x).numpy(), ref_conv(x, w, None, (dh, dw), (ph, pw), (1, 1)),
                               rtol=1e-10, atol=1e-12)


def test_spatial_padh_defaults_to_padw_as_torch():
    m = nn.SpatialConvolution(1, 1, 3, 3, 1, 1, 2)
    assert (m.padW, m.padH) == (2, 2)
    assert m.forward(rnd(1, 5, 5)).size() == torch.LongStorage([1, 7, 7])
    assert nn.SpatialConvolution(1, 1, 3, 3, 1, 1, 2, 0).forward(rnd(1, 5, 5)).size() == torch.LongStorage([1, 3, 7])


@pytest.mark.parametrize('layout', LAYOUTS)
def test_spatial_jacobians(layout):
    for m, x in [(nn.SpatialConvolution(2, 3, 3, 2, 2, 1, 1, 0), D(2, 2, 5, 4)),
                 (nn.SpatialConvolution(2, 3, 3, 3), D(2, 5, 5)),
                 (nn.SpatialConvolutionMM(2, 2, 2, 2, 1, 1, 1, 1), D(2, 2, 3, 3)),
                 (nn.SpatialConvolution(2, 2, 3, 3, 1, 1, 1, 1).noBias(), D(2, 2, 4, 4))]:
        m._force_layout = layout
        check_params(m, x)


@pytest.mark.parametrize('layout', LAYOUTS)
def test_spatial_backward_scale_and_accumulation(layout):
    m = nn.SpatialConvolution(2, 3, 3, 3, 1, 1, 1)
    m._force_layout = layout
    x, g = rnd(4, 2, 5, 5), rnd(4, 3, 5, 5, seed=1)
    m.zeroGradParameters()
    m.forward(x)
    m.backward(x, g)
    gw1, gb1 = m.gradWeight.numpy().copy(), m.gradBias.numpy().copy()
    m.backward(x, g, 0.5)
    np.testing.assert_allclose(m.gradWeight.numpy(), 1.5 * gw1, rtol=1e-12)
    np.testing.assert_allclose(m.gradBias.numpy(), 1.5 * gb1, rtol=1e-12)
    np.testing.assert_allclose(gb1, g.sum(axis=(0, 2, 3)), rtol=1e-12)
    # accGradParameters alone (no updateGradInput before it) gives the same
    m.zeroGradParameters()
    m.accGradParameters(x, g)
    np.testing.assert_allclose(m.gradWeight.numpy(), gw1, rtol=1e-12)


@pytest.mark.parametrize('layout', LAYOUTS)
def test_backward_after_an_updateGradInput_alone_uses_its_own_gradOutput(layout):
    """An input-gradient pass (updateGradInput alone, as for an adversarial example or a saliency map), then a
    training step whose gradOutput is the same array holding new values (a Sequential reuses the next module's
    gradInput): the step's gradWeight and gradBias are those of its own gradOutput."""
    m = nn.SpatialConvolution(2, 3, 3, 3, 1, 1, 1)
    m._force_layout = layout
    x = rnd(4, 2, 5, 5)
    g = torch.DoubleTensor(rnd(4, 3, 5, 5, seed=1))
    m.forward(x)
    m.updateGradInput(x, g)
    g.copy(torch.DoubleTensor(rnd(4, 3, 5, 5, seed=2)))
    m.zeroGradParameters()
    m.backward(x, g)
    ref = nn.SpatialConvolution(2, 3, 3, 3, 1, 1, 1)
    ref._force_layout = layout
    ref.weight.copy(m.weight)
    ref.bias.copy(m.bias)
    ref.zeroGradParameters()
    ref.forward(x)
    ref.backward(x, g.clone())
    np.testing.assert_allclose(m.gradWeight.numpy(), ref.gradWeight.numpy(), rtol=1e-12)
    np.testing.assert_allclose(m.gradBias.numpy(), rnd(4, 3, 5, 5, seed=2).sum(axis=(0, 2, 3)), rtol=1e-12)


def test_spatial_float32_close_to_float64_and_no_new_buffers():
    m = nn.SpatialConvolution(3, 5, 3, 3, 1, 1, 1)
    m32 = m.clone().float()
    x = rnd(8, 3, 10, 10)
    y = check_float32(m, m32, x, rtol=1e-4, atol=1e-5)
    check_steady_state(m32, f32(x), np.ones(y.shape, np.float32))


def test_spatial_noncontiguous_input():
    m = nn.SpatialConvolution(3, 2, 3, 3)
    x = rnd(6, 6, 3, 2).transpose(3, 2, 0, 1)      # 2 x 3 x 6 x 6, not contiguous
    want = ref_conv(np.ascontiguousarray(x), m.weight.numpy(), m.bias.numpy(), (1, 1), (0, 0), (1, 1))
    np.testing.assert_allclose(m.forward(x).numpy(), want, rtol=1e-10)


def test_spatial_errors_and_repr():
    m = nn.SpatialConvolution(1, 20, 5, 5)
    assert repr(m) == 'nn.SpatialConvolution(1 -> 20, 5x5)'
    assert repr(nn.SpatialConvolution(3, 8, 3, 3, 1, 1, 1, 1)) == 'nn.SpatialConvolution(3 -> 8, 3x3, 1,1, 1,1)'
    assert repr(nn.SpatialConvolution(3, 8, 5, 3, 2, 1)) == 'nn.SpatialConvolution(3 -> 8, 5x3, 2,1)'
    assert repr(nn.SpatialConvolution(3, 8, 3, 3).noBias()) == 'nn.SpatialConvolution(3 -> 8, 3x3) without bias'
    assert repr(nn.SpatialConvolutionMM(3, 8, 3, 3, 1, 1, 2, 1)) == 'nn.SpatialConvolutionMM(3 -> 8, 3x3, 1,1, 2,1)'
    with pytest.raises(ValueError, match=r'nn.SpatialConvolution\(1 -> 20, 5x5\).*1 planes.*got 3.*\[2, 3, 28, 28\]'):
        m.forward(rnd(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r'nn.SpatialConvolution\(1 -> 20, 5x5\).*\[1, 4, 4\] is too small.*4x4.*'
                                         r'kernel 5x5'):
        m.forward(rnd(1, 4, 4))
    with pytest.raises(ValueError, match=r'3-D input.*4-D batch.*got \[28, 28\]'):
        m.forward(rnd(28, 28))
    with pytest.raises(ValueError, match=r'expected gradOutput of size \[2, 20, 24, 24\], got \[2, 20, 24, 23\]'):
        m.backward(rnd(2, 1, 28, 28), rnd(2, 20, 24, 23))
    with pytest.raises(TypeError):
        m.forward(torch.FloatTensor(1, 28, 28))
    with pytest.raises(ValueError, match='kW'):
        nn.SpatialConvolution(1, 2, 0, 3)


# -- SpatialDilatedConvolution ----------------------------------------------------------------------------------
@pytest.mark.parametrize('layout', LAYOUTS)
def test_dilated_forward_jacobian_repr(layout):
    m = nn.SpatialDilatedConvolution(2, 3, 3, 2, 1, 2, 1, 0, 2, 3)
    m._force_layout = layout
    x = rnd(2, 2, 8, 7)
    want = ref_conv(x, m.weight.numpy(), m.bias.numpy(), (2, 1), (0, 1), (3, 2))
    np.testing.assert_allclose(m.forward(x).numpy(), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.forward(x[0]).numpy(), want[0], rtol=1e-10, atol=1e-12)
    check_params(m, D(2, 2, 7, 6))
    assert repr(m) == 'nn.SpatialDilatedConvolution(2 -> 3, 3x2, 1,2, 1,0, 2,3)'
    assert repr(nn.SpatialDilatedConvolution(2, 3, 3, 3)) == 'nn.SpatialDilatedConvolution(2 -> 3, 3x3, 1,1)'
    with pytest.raises(ValueError, match=r'too small.*dilated: 5x5'):
        nn.SpatialDilatedConvolution(1, 1, 3, 3, 1, 1, 0, 0, 2, 2).forward(rnd(1, 4, 4))


# -- SpatialFullConvolution ----------------------------------------------------------------------------------------
@pytest.mark.parametrize('layout', LAYOUTS)
@pytest.mark.parametrize('geom', [(3, 3, 1, 1, 0, 0, 0, 0), (3, 2, 2, 3, 1, 0, 1, 2), (2, 2, 2, 2, 0, 0, 1, 0)])
def test_full_forward_matches_loops(geom, layout):
    kw, kh, dw, dh, pw, ph, aw, ah = geom
    m = nn.SpatialFullConvolution(3, 2, kw, kh, dw, dh, pw, ph, aw, ah)
    m._force_layout = layout
    assert tuple(m.weight.size()) == (3, 2, kh, kw)
    x = rnd(2, 3, 4, 5)
    want = ref_full_conv(x, m.weight.numpy(), m.bias.numpy(), (dh, dw), (ph, pw), (ah, aw))
    np.testing.assert_allclose(m.forward(x).numpy(), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.forward(x[1]).numpy(), want[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('layout', LAYOUTS)
def test_full_jacobians_table_input_repr(layout):
    m = nn.SpatialFullConvolution(2, 3, 3, 3, 2, 2, 1, 1, 1, 0)
    m._force_layout = layout
    check_params(m, D(2, 2, 3, 3))
    check_params(nn.SpatialFullConvolution(2, 2, 2, 3), D(2, 3, 2))
    assert repr(m) == 'nn.SpatialFullConvolution(2 -> 3, 3x3, 2,2, 1,1, 1,0)'
    assert repr(nn.SpatialFullConvolution(2, 3, 4, 4)) == 'nn.SpatialFullConvolution(2 -> 3, 4x4)'
    # [input, target]: adj from the target's size
    m = nn.SpatialFullConvolution(2, 3, 3, 3, 2, 2, 1, 1)
    x = rnd(2, 2, 3, 3)
    out = m.forward([x, np.zeros((2, 3, 6, 5))])
    assert tuple(out.size()) == (2, 3, 6, 5)
    gi = m.backward([x, np.zeros((2, 3, 6, 5))], rnd(2, 3, 6, 5))
    assert isinstance(gi, list) and tuple(gi[0].size()) == (2, 2, 3, 3) and tuple(gi[1].size()) == (2, 3, 6, 5)
    assert not gi[1].numpy().any()
    with pytest.raises(ValueError, match='adjW and adjH must be smaller'):
        nn.SpatialFullConvolution(1, 1, 3, 3, 1, 1, 0, 0, 1, 0)
    with pytest.raises(ValueError, match=r'expected input with 2 planes'):
        m.forward(rnd(3, 3, 3))


def test_full_adjustment_set_by_hand_is_checked_at_forward():
    # Torch7's THNN checks adjW < dW, adjH < dH on every call (a field set after __init__ or read from a file)
    m = nn.SpatialFullConvolution(1, 1, 3, 3, 2, 2)
    m.adjW = 2
    with pytest.raises(ValueError, match=r'SpatialFullConvolution.*adjW=2 \(dW=2\)'):
        m.forward(rnd(1, 3, 3))
    m.adjW, m.adjH = 1, -1
    with pytest.raises(ValueError, match=r'adjH=-1 \(dH=2\)'):
        m.forward(rnd(1, 3, 3))
    m.adjH = 1          # in range again: (3-1)*2 + 3 + 1 = 8 by 8
    x = rnd(1, 3, 3)
    want = ref_full_conv(x[None], m.weight.numpy(), m.bias.numpy(), (2, 2), (0, 0), (1, 1))[0]
    assert want.shape == (1, 8, 8)
    np.testing.assert_allclose(m.forward(x).numpy(), want, rtol=1e-10, atol=1e-12)
    m = nn.VolumetricFullConvolution(1, 1, 2, 2, 2, 1, 1, 1)
    m.adjT = 1
    with pytest.raises(ValueError, match=r'VolumetricFullConvolution.*adjT=1 \(dT=1\)'):
        m.forward(rnd(1, 2, 2, 2))


# -- VolumetricConvolution -----------------------------------------------------------------------------------------
@pytest.mark.parametrize('layout', LAYOUTS)
def test_volumetric_conv_forward_jacobian_repr(layout):
    torch.manualSeed(2)
    m = nn.VolumetricConvolution(2, 3, 2, 3, 2, 1, 2, 1, 1, 0, 1)   # kT,kW,kH=2,3,2 dT,dW,dH=1,2,1 pads 1,0,1
    m._force_layout = layout
    assert tuple(m.weight.size()) == (3, 2, 2, 2, 3)
    s = 1 / math.sqrt(2 * 3 * 2 * 2)
    np.testing.assert_array_equal(m.weight.numpy().reshape(-1), draws(2, 72, -s, s))
    x = rnd(2, 2, 4, 5, 6)
    want = ref_conv(x, m.weight.numpy(), m.bias.numpy(), (1, 1, 2), (1, 1, 0), (1, 1, 1))
    np.testing.assert_allclose(m.forward(x).numpy(), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.forward(x[1]).numpy(), want[1], rtol=1e-10, atol=1e-12)
    check_params(m, D(2, 2, 3, 3, 4))
    assert repr(m) == 'nn.VolumetricConvolution(2 -> 3, 2x3x2, 1,2,1, 1,0,1)'
    assert repr(nn.VolumetricConvolution(1, 2, 3, 3, 3)) == 'nn.VolumetricConvolution(1 -> 2, 3x3x3)'
    assert nn.VolumetricConvolution(1, 2, 3, 3, 3, 1, 1, 1, 1).padH == 1      # padW, padH default to padT
    with pytest.raises(ValueError, match=r'4-D input.*5-D batch'):
        m.forward(rnd(2, 4, 5))
    with pytest.raises(ValueError, match=r'too small'):
        m.forward(rnd(2, 1, 1, 1))


# -- TemporalConvolution -------------------------------------------------------------------------------------------
def test_temporal_conv_forward_jacobian_errors():
    torch.manualSeed(4)
    m = nn.TemporalConvolution(3, 4, 3, 2)
    assert tuple(m.weight.size()) == (4, 9)
    s = 1 / math.sqrt(3 * 3)
    d = draws(4, 36 + 4, -s, s)
    np.testing.assert_array_equal(m.weight.numpy().reshape(-1), d[:36])
    np.testing.assert_array_equal(m.bias.numpy(), d[36:])
    x = rnd(2, 8, 3)
    want = ref_temporal(x, m.weight.numpy(), m.bias.numpy(), 3, 2)
    np.testing.assert_allclose(m.forward(x).numpy(), want, rtol=1e-10)
    np.testing.assert_allclose(m.forward(x[0]).numpy(), want[0], rtol=1e-10)
    check_params(m, D(2, 7, 3))
    check_params(nn.TemporalConvolution(2, 3, 2), D(5, 2))
    assert repr(m) == 'nn.TemporalConvolution'
    with pytest.raises(ValueError, match=r'frames of size 3.*got 5'):
        m.forward(rnd(8, 5))
    with pytest.raises(ValueError, match=r'2 frames.*smaller than the kernel size kW=3'):
        m.forward(rnd(2, 3))
    with pytest.raises(ValueError, match=r'2-D input.*3-D batch'):
        m.forward(rnd(3))


def test_temporal_max_pooling():
    m = nn.TemporalMaxPooling(3, 2)
    x = rnd(2, 9, 4)
    np.testing.assert_allclose(m.forward(x).numpy(), ref_temporal_maxpool(x, 3, 2))
    np.testing.assert_allclose(m.forward(x[1]).numpy(), ref_temporal_maxpool(x, 3, 2)[1])
    jac(m, 2, 9, 4)
    jac(nn.TemporalMaxPooling(2), 6, 3)   # dW defaults to kW
    # ties: the first largest value of a window gets the gradient (the last one would give [0, 2, 0])
    m = nn.TemporalMaxPooling(2, 1)
    x = np.array([[1.0], [1.0], [0.0]])
    m.forward(x)
    np.testing.assert_array_equal(m.backward(x, np.ones((2, 1))).numpy(), [[1.0], [1.0], [0.0]])
    with pytest.raises(ValueError, match='smaller than the kernel'):
        m.forward(rnd(1, 3))


def test_temporal_max_pooling_gradinput_none_first_layer():
    # Torch7's idiom: gradInput = nil on the first layer skips its input gradient; the layers after still train
    torch.manualSeed(1)
    pool, conv = nn.TemporalMaxPooling(2), nn.TemporalConvolution(3, 2, 2)
    pool.gradInput = None
    net = nn.Sequential().add(pool).add(conv)
    x = np.arange(24.0).reshape(8, 3)
    net.forward(x)
    net.zeroGradParameters()
    assert net.backward(x, np.ones((3, 2))) is None
    pooled = x.reshape(4, 2, 3).max(1)
    want = sum(pooled[t:t + 2].reshape(-1) for t in range(3))
    np.testing.assert_allclose(conv.gradWeight.numpy(), [want, want])


def test_temporal_conv_repr_after_nobias():
    # Torch7 prints any TemporalConvolution as its bare type name
    m = nn.TemporalConvolution(4, 3, 2).noBias()
    assert 'bias' not in m.__dict__
    assert repr(m) == 'nn.TemporalConvolution'


def test_volumetric_conv_repr_after_nobias():
    # Torch7's VolumetricConvolution:__tostring__ has no ' without bias' (SpatialConvolution's has)
    m = nn.VolumetricConvolution(2, 3, 3, 3, 3, 1, 1, 1, 1).noBias()
    assert 'bias' not in m.__dict__
    assert repr(m) == 'nn.VolumetricConvolution(2 -> 3, 3x3x3, 1,1,1, 1,1,1)'


# -- Volumetric pooling --------------------------------------------------------------------------------------------
@pytest.mark.parametrize('ceil', [False, True])
@pytest.mark.parametrize('geom', [((2, 2, 2), (2, 2, 2), (0, 0, 0)), ((3, 2, 3), (2, 1, 2), (1, 0, 1)),
                                  ((2, 3, 2), (2, 2, 1), (1, 1, 0))])
def test_volumetric_max_pooling(geom, ceil):
    (kt, kh, kw), (dt, dh, dw), (pt, ph, pw) = geom
    m = nn.VolumetricMaxPooling(kt, kw, kh, dt, dw, dh, pt, pw, ph)
    if ceil:
        m.ceil()
    x = rnd(2, 2, 5, 6, 7)
    want = ref_vol_pool(x, (kt, kh, kw), (dt, dh, dw), (pt, ph, pw), ceil, np.max)
    np.testing.assert_allclose(m.forward(x).numpy(), want)
    np.testing.assert_allclose(m.forward(x[0]).numpy(), want[0])
    jac(m, 2, 2, 5, 6, 7)


def test_volumetric_max_pooling_drops_a_window_past_the_end_when_any_dim_is_padded():
    """THNN's ``if (pT || pW || pH)``: with padding in T only, a ceil-mode W window (kW 1, dW 2 on 4 columns)
    that would start past the input is dropped too: the ceil output is the floor one."""
    x = rnd(2, 3, 3, 4)
    ceil = nn.VolumetricMaxPooling(2, 1, 2, 1, 2, 1, 1, 0, 0).ceil().forward(x).numpy()
    floor = nn.VolumetricMaxPooling(2, 1, 2, 1, 2, 1, 1, 0, 0).forward(x).numpy()
    assert ceil.shape == (2, 4, 2, 2)
    np.testing.assert_array_equal(ceil, floor)


def test_volumetric_max_pooling_ceil_keeps_a_window_larger_than_the_input():
    """THNN's ceil((1 - 2) / 2) + 1 = 1: in ceil mode a 2-frame window on a 1-frame input still gives one output
    frame, the max of what the window covers (floor mode refuses the input)."""
    x = rnd(1, 1, 4, 4)
    m = nn.VolumetricMaxPooling(2, 2, 2).ceil()
    want = x[0, 0].reshape(2, 2, 2, 2).max(axis=(1, 3))
    np.testing.assert_array_equal(m.forward(x).numpy(), want.reshape(1, 1, 2, 2))
    gi = m.backward(x, np.arange(1.0, 5.0).reshape(1, 1, 2, 2)).numpy()
    blocks = x[0, 0].reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
    got = gi[0, 0].reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
    np.testing.assert_array_equal(got, np.eye(4)[blocks.argmax(axis=1)] * np.arange(1.0, 5.0)[:, None])
    with pytest.raises(ValueError, match='too small'):
        nn.VolumetricMaxPooling(2, 2, 2).forward(x)


def test_volumetric_max_pooling_misc():
    assert repr(nn.VolumetricMaxPooling(2, 2, 2)) == 'nn.VolumetricMaxPooling(2x2x2, 2,2,2)'
    assert repr(nn.VolumetricMaxPooling(3, 3, 3, 2, 2, 2, 1, 1, 1)) == \
        'nn.VolumetricMaxPooling(3x3x3, 2,2,2, 1,1,1)'
    m = nn.VolumetricMaxPooling(2, 2, 2).ceil()
    assert m.ceil_mode is True and m.floor().ceil_mode is False
    with pytest.raises(ValueError, match='pad should be at most half'):
        nn.VolumetricMaxPooling(2, 2, 2, 1, 1, 1, 2, 0, 0)
    with pytest.raises(ValueError, match='too small'):
        nn.VolumetricMaxPooling(3, 3, 3).forward(rnd(1, 2, 5, 5))
    # the gradient goes to the first largest value, and NaN wins as in Torch7
    m = nn.VolumetricMaxPooling(2, 2, 2)
    x = np.zeros((1, 2, 2, 2))
    x[0, 1, 1, 1] = np.nan
    out = m.forward(x)
    assert np.isnan(out.numpy()).all()
    x = np.ones((1, 2, 2, 2))
    m.forward(x)
    gi = m.backward(x, np.full((1, 1, 1, 1), 3.0)).numpy()
    assert gi[0, 0, 0, 0] == 3 and gi.sum() == 3


def test_volumetric_average_pooling():
    m = nn.VolumetricAveragePooling(2, 3, 2, 1, 2, 2)
    x = rnd(2, 3, 4, 6, 7)
    want = ref_vol_pool(x, (2, 2, 3), (1, 2, 2), (0, 0, 0), False, np.mean)
    np.testing.assert_allclose(m.forward(x).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(m.forward(x[1]).numpy(), want[1], rtol=1e-12)
    jac(m, 2, 2, 4, 5, 5)
    assert repr(nn.VolumetricAveragePooling(2, 2, 2)) == 'nn.VolumetricAveragePooling(2x2x2, 2,2,2)'
    with pytest.raises(ValueError, match='too small'):
        m.forward(rnd(1, 1, 2, 2))


# -- integration --------------------------------------------------------------------------------------------------
def test_getparameters_and_training_steps_reduce_loss():
    torch.manualSeed(3)
    net = nn.Sequential()
    net.add(nn.SpatialConvolution(1, 4, 3, 3, 1, 1, 1))
    net.add(nn.ReLU())
    net.add(nn.SpatialConvolution(4, 2, 3, 3, 2, 2))
    net.add(nn.View(2 * 3 * 3))
    net.add(nn.Linear(18, 3))
    net.add(nn.LogSoftMax())
    crit = nn.ClassNLLCriterion()
    params, grads = net.getParameters()
    assert params.nElement() == 4 * 9 + 4 + 2 * 4 * 9 + 2 + 18 * 3 + 3
    x = rnd(8, 1, 7, 7)
    y = np.arange(8) % 3
    losses = []
    for _ in range(30):
        grads.zero()
        out = net.forward(x)
        losses.append(crit.forward(out, y))
        net.backward(x, crit.backward(out, y))
        params.add(-0.1, grads)
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.gpu
def test_conv_layers_on_gpu_match_cpu():
    cases = [(nn.SpatialConvolution(3, 4, 3, 3, 1, 1, 1), (4, 3, 8, 8)),
             (nn.SpatialFullConvolution(3, 2, 3, 3, 2, 2, 1, 1, 1, 1), (2, 3, 5, 5)),
             (nn.SpatialDilatedConvolution(3, 2, 3, 3, 1, 1, 2, 2, 2, 2), (2, 3, 9, 9)),
             (nn.VolumetricConvolution(2, 3, 2, 2, 2), (2, 2, 4, 4, 4)),
             (nn.TemporalConvolution(3, 4, 3, 2), (2, 9, 3)),
             (nn.TemporalMaxPooling(2), (2, 8, 3)),
             (nn.VolumetricMaxPooling(2, 2, 2, 2, 2, 2, 1, 1, 1), (2, 2, 5, 5, 5)),
             (nn.VolumetricAveragePooling(2, 2, 2), (2, 2, 4, 4, 4))]
    for m, shape in cases:
        for layout in LAYOUTS:
            m.double()
            m._force_layout = layout
            x = torch.DoubleTensor(*shape).uniform(-1, 1)
            out = m.forward(x).clone()
            g = out.clone().uniform(-1, 1)
            m.zeroGradParameters()
            gi = m.backward(x, g).clone()
            gw = [t.clone() for t in m.parameters()[1]]
            m.cudaDouble()
            out_c = m.forward(x.cudaDouble())
            m.zeroGradParameters()
            gi_c = m.backward(x.cudaDouble(), g.cudaDouble())
            np.testing.assert_allclose(out_c.double().numpy(), out.numpy(), rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(gi_c.double().numpy(), gi.numpy(), rtol=1e-10, atol=1e-12)
            for a, b in zip(m.parameters()[1], gw):
                np.testing.assert_allclose(a.double().numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_save_load_roundtrip(tmp_path):
    torch.manualSeed(5)
    for m, shape in [(nn.SpatialConvolution(2, 3, 3, 3, 1, 1, 1), (2, 2, 5, 5)),
                     (nn.SpatialConvolutionMM(2, 3, 3, 3), (2, 5, 5)),
                     (nn.SpatialFullConvolution(2, 3, 3, 3, 2, 2, 1, 1, 1, 1), (2, 2, 3, 3)),
                     (nn.SpatialDilatedConvolution(2, 3, 3, 3, 1, 1, 2, 2, 2, 2), (2, 2, 6, 6)),
                     (nn.TemporalConvolution(3, 2, 2), (5, 3)),
                     (nn.VolumetricConvolution(1, 2, 2, 2, 2), (1, 3, 3, 3)),
                     (nn.VolumetricMaxPooling(2, 2, 2).ceil(), (1, 3, 3, 3)),
                     (nn.VolumetricAveragePooling(2, 2, 2), (1, 4, 4, 4)),
                     (nn.TemporalMaxPooling(2), (4, 3))]:
        check_reloads(m, torch.DoubleTensor(*shape).uniform(-1, 1), tmp_path, rtol=1e-12)


def test_lenet_fixture_written_by_lua(shared_dir):
    """lenet.t7 (Lua Torch7): a SpatialConvolution net whose forward must equal the stored output."""
    data = torch.load(os.path.join(shared_dir, 'fixtures', 't7', 'lenet.t7'))
    model = data['model']
    conv = model.get(0)
    assert isinstance(conv, nn.SpatialConvolution)
    assert tuple(conv.weight.size()) == (6, 1, 5, 5)
    np.testing.assert_allclose(model.forward(data['input']).numpy(), data['output'].numpy(), atol=1e-10)


def test_conv_checks_replaced_parameters():
    x = torch.DoubleTensor(np.ones((1, 3, 5, 5)))
    m = nn.SpatialConvolution(3, 4, 3, 3)
    m.weight = torch.DoubleTensor(np.ones((4, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"nn\.SpatialConvolution.*weight of size \[4, 3, 2, 2\] and bias of size "
                                         r"\[4\] do not fit: expected nOutputPlane x 27 weights"):
        m.forward(x)
    m = nn.SpatialConvolution(3, 4, 3, 3)
    m.bias = torch.DoubleTensor(np.ones(3))
    with pytest.raises(ValueError, match=r"bias of size \[3\] do not fit"):
        m.forward(x)
    m = nn.SpatialConvolution(3, 4, 3, 3)
    m.weight = torch.DoubleTensor(np.ones((4, 3, 3, 3)))      # Torch7's 4-D weight fits
    assert list(m.forward(x).size()) == [1, 4, 3, 3]

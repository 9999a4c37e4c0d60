"""VolumetricBatchNormalization, VolumetricFullConvolution, VolumetricDilatedConvolution, VolumetricDropout,
VolumetricDilatedMaxPooling, VolumetricMaxUnpooling, VolumetricFractionalMaxPooling, VolumetricReplicationPadding:
values against loop references written from THNN's C loops, Jacobians (float64), Torch7's reset order, .t7 round
trips, and (gpu) CUDA under the CuPy stand-in."""
import itertools
import math
import re

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.random import Generator

from nn_helpers import (D, J, TOL, check_gpu, check_gpu_made, check_params, check_reloads_fields,
                        draws, jac, rnd, roundtrip)


# -- VolumetricFullConvolution -------------------------------------------------------------------------------------
def ref_full_conv(x, w, b, s, p, adj):
    """Scatter of every input voxel times the kernel into the (padded) output, then cropped (THNN's col2vol)."""
    N, _, T, H, W = x.shape
    _, O, kt, kh, kw = w.shape
    osz = [(n - 1) * ss - 2 * pp + k + a for n, ss, pp, k, a in zip((T, H, W), s, p, (kt, kh, kw), adj)]
    big = np.zeros((N, O) + tuple(o + 2 * pp + k for o, pp, k in zip(osz, p, (kt, kh, kw))))
    for n, t, h, ww in itertools.product(range(N), range(T), range(H), range(W)):
        for a, bb, c in itertools.product(range(kt), range(kh), range(kw)):
            big[n, :, t * s[0] + a, h * s[1] + bb, ww * s[2] + c] += x[n, :, t, h, ww] @ w[:, :, a, bb, c]
    out = big[:, :, p[0]:p[0] + osz[0], p[1]:p[1] + osz[1], p[2]:p[2] + osz[2]]
    return out + b[None, :, None, None, None]


LAYOUTS = ['nfirst', 'nlast']      # the column layouts of conv.py's im2col (kernels.choose_layout)


@pytest.mark.parametrize('layout', LAYOUTS)
def test_full_conv_values_reset_jacobian_repr(layout):
    torch.manualSeed(4)
    # kT,kW,kH = 2,3,2; dT,dW,dH = 2,1,2; padT,padW,padH = 1,0,1; adjT,adjW,adjH = 1,0,1
    m = nn.VolumetricFullConvolution(2, 3, 2, 3, 2, 2, 1, 2, 1, 0, 1, 1, 0, 1)
    m._force_layout = layout
    assert tuple(m.weight.size()) == (2, 3, 2, 2, 3)
    s = 1 / math.sqrt(2 * 3 * 2 * 2)
    want = draws(4, 72 + 3, -s, s)       # Torch7's reset: the whole weight, then the bias
    np.testing.assert_array_equal(m.weight.numpy().reshape(-1), want[:72])
    np.testing.assert_array_equal(m.bias.numpy(), want[72:])
    x = rnd(2, 2, 3, 3, 4)
    y = ref_full_conv(x, m.weight.numpy(), m.bias.numpy(), (2, 2, 1), (1, 1, 0), (1, 1, 0))
    np.testing.assert_allclose(m.forward(x).numpy(), y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.forward(x[0]).numpy(), y[0], rtol=1e-10, atol=1e-12)
    check_params(m, D(2, 2, 2, 3, 2))
    assert repr(m) == 'nn.VolumetricFullConvolution(2 -> 3, 2x3x2, 2,1,2, 1,0,1, 1,0,1)'
    assert repr(nn.VolumetricFullConvolution(1, 2, 3, 3, 3)) == 'nn.VolumetricFullConvolution(1 -> 2, 3x3x3)'
    with pytest.raises(ValueError, match='adjW, adjH and adjT must be smaller'):
        nn.VolumetricFullConvolution(1, 1, 3, 3, 3, 1, 1, 1, 0, 0, 0, 1)
    with pytest.raises(ValueError, match='expected input with 2 planes'):
        m.forward(rnd(3, 3, 3, 3))
    with pytest.raises(ValueError, match='4-D input'):
        m.forward(rnd(2, 3, 3))


def test_full_conv_target_table_and_nobias():
    torch.manualSeed(1)
    m = nn.VolumetricFullConvolution(2, 2, 3, 3, 3, 2, 2, 2, 1, 1, 1).double()
    x = rnd(2, 2, 3, 3, 3)
    target = rnd(2, 2, 6, 5, 6)
    y = m.forward([x, target])
    assert tuple(y.size()) == (2, 2, 6, 5, 6)         # adj (1, 0, 1) from the target's size
    want = ref_full_conv(x, m.weight.numpy(), m.bias.numpy(), (2, 2, 2), (1, 1, 1), (1, 0, 1))
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-10, atol=1e-12)
    gi = m.backward([x, target], rnd(2, 2, 6, 5, 6, seed=1))
    assert isinstance(gi, list) and tuple(gi[1].size()) == target.shape and not gi[1].numpy().any()
    m.noBias()
    assert 'bias' not in m.__dict__
    np.testing.assert_allclose(m.forward(x).numpy()[..., :5, :],
                               ref_full_conv(x, m.weight.numpy(), np.zeros(2), (2, 2, 2), (1, 1, 1),
                                             (0, 0, 0)), rtol=1e-10, atol=1e-12)
    check_params(m, D(1, 2, 2, 2, 2))


# -- VolumetricDilatedConvolution ----------------------------------------------------------------------------------
def ref_dilated_conv(x, w, b, s, p, dil):
    N = x.shape[0]
    O, _, kt, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((pp, pp) for pp in p))
    span = [d * (k - 1) + 1 for d, k in zip(dil, (kt, kh, kw))]
    osz = [(n - sp) // ss + 1 for n, sp, ss in zip(xp.shape[2:], span, s)]
    out = np.zeros((N, O) + tuple(osz))
    for t, h, ww in itertools.product(*map(range, osz)):
        for a, bb, c in itertools.product(range(kt), range(kh), range(kw)):
            v = xp[:, :, t * s[0] + a * dil[0], h * s[1] + bb * dil[1], ww * s[2] + c * dil[2]]
            out[:, :, t, h, ww] += v @ w[:, :, a, bb, c].T
    return out + b[None, :, None, None, None]


@pytest.mark.parametrize('layout', LAYOUTS)
def test_dilated_conv(layout):
    torch.manualSeed(3)
    # kT,kW,kH = 2,2,3; d 1,2,1; pad 1,0,2; dilation T,W,H = 2,1,2
    m = nn.VolumetricDilatedConvolution(2, 3, 2, 2, 3, 1, 2, 1, 1, 0, 2, 2, 1, 2)
    m._force_layout = layout
    assert (m.dilationT, m.dilationW, m.dilationH) == (2, 1, 2)
    s = 1 / math.sqrt(2 * 2 * 3 * 2)
    np.testing.assert_array_equal(m.weight.numpy().reshape(-1), draws(3, 72, -s, s))
    x = rnd(2, 2, 4, 5, 5)
    want = ref_dilated_conv(x, m.weight.numpy(), m.bias.numpy(), (1, 1, 2), (1, 2, 0), (2, 2, 1))
    np.testing.assert_allclose(m.forward(x).numpy(), want, rtol=1e-10, atol=1e-12)
    check_params(m, D(1, 2, 3, 4, 3))
    assert repr(m) == 'nn.VolumetricDilatedConvolution(2 -> 3, 2x2x3, 1,2,1, 1,0,2, 2,1,2)'
    assert repr(nn.VolumetricDilatedConvolution(1, 1, 2, 2, 2).noBias()) == \
        'nn.VolumetricDilatedConvolution(1 -> 1, 2x2x2, 1,1,1) without bias'


# -- VolumetricBatchNormalization ----------------------------------------------------------------------------------
def test_batch_normalization():
    torch.manualSeed(2)
    m = nn.VolumetricBatchNormalization(3)
    np.testing.assert_array_equal(m.weight.numpy(), draws(2, 3, 0, 1))
    assert repr(m) == 'nn.VolumetricBatchNormalization (5D) (3)'
    x = rnd(4, 3, 2, 3, 2)
    mean = x.mean(axis=(0, 2, 3, 4))
    var = x.var(axis=(0, 2, 3, 4))
    want = (x - mean[:, None, None, None]) / np.sqrt(var[:, None, None, None] + 1e-5)
    want = want * m.weight.numpy()[:, None, None, None] + m.bias.numpy()[:, None, None, None]
    np.testing.assert_allclose(m.forward(x).numpy(), want, rtol=1e-10, atol=1e-12)
    n = x.size // 3
    np.testing.assert_allclose(m.running_var.numpy(), 0.9 + 0.1 * var * n / (n - 1), rtol=1e-12)
    check_params(m, D(3, 3, 2, 2, 2), update=False)
    m.evaluate()
    jac(m, 2, 3, 2, 2, 2)
    with pytest.raises(ValueError, match='5-D'):
        m.training().forward(rnd(3, 2, 2, 2))


# -- VolumetricDropout ---------------------------------------------------------------------------------------------
def test_dropout_volumes():
    torch.manualSeed(7)
    m = nn.VolumetricDropout(0.4).double()
    x = rnd(3, 4, 2, 3, 2) + 5
    y = m.forward(x).numpy()
    g = Generator()
    g.manualSeed(7)
    want = np.array([g.bernoulli(0.6) for _ in range(12)], dtype=float).reshape(3, 4, 1, 1, 1)
    assert 0 < want.sum() < 12
    np.testing.assert_array_equal(m.noise.numpy(), want)
    np.testing.assert_array_equal(y, x * want)            # dropped volumes whole, kept ones not rescaled
    gi = m.backward(x, np.ones_like(x)).numpy()
    np.testing.assert_array_equal(gi, np.broadcast_to(want, x.shape))
    assert tuple(m.forward(x[0]).size()) == x[0].shape and tuple(m.noise.size()) == (4, 1, 1, 1)
    m.evaluate()
    np.testing.assert_allclose(m.forward(x).numpy(), x * 0.6)
    with pytest.raises(RuntimeError, match='backprop only defined while training'):
        m.backward(x, x)
    assert repr(m) == 'nn.VolumetricDropout(0.400000)'
    with pytest.raises(ValueError, match='5-D'):
        m.forward(rnd(2, 3, 4))
    with pytest.raises(ValueError, match='illegal percentage'):
        nn.VolumetricDropout(1)


# -- VolumetricDilatedMaxPooling -----------------------------------------------------------------------------------
def ref_dilated_max(x, k, s, p, dil, ceil=False):
    """Max over each window's taps inside the input (THNN's loop with ``val > max``), from the output size rule."""
    N, C = x.shape[:2]
    osz = []
    for n, kk, ss, pp, d in zip(x.shape[2:], k, s, p, dil):
        span = d * (kk - 1) + 1
        o = (math.ceil if ceil else math.floor)((n - span + 2 * pp) / ss) + 1
        if any(p) and (o - 1) * ss >= n + pp:
            o -= 1
        osz.append(o)
    out = np.full((N, C) + tuple(osz), -np.inf)
    for t, h, w in itertools.product(*map(range, osz)):
        for a, b, c in itertools.product(*map(range, k)):
            i = [o * ss - pp + kk * d for o, ss, pp, kk, d in zip((t, h, w), s, p, (a, b, c), dil)]
            if all(0 <= ii < n for ii, n in zip(i, x.shape[2:])):
                out[:, :, t, h, w] = np.maximum(out[:, :, t, h, w], x[:, :, i[0], i[1], i[2]])
    return out


@pytest.mark.parametrize('ceil', [False, True])
def test_dilated_max_pooling(ceil):
    # kT,kW,kH = 2,3,2; d 1,2,2; pad 1,1,0; dilation T,W,H = 2,1,2
    m = nn.VolumetricDilatedMaxPooling(2, 3, 2, 1, 2, 2, 1, 1, 0, 2, 1, 2)
    if ceil:
        m.ceil()
    x = rnd(2, 2, 5, 6, 7)
    want = ref_dilated_max(x, (2, 2, 3), (1, 2, 2), (1, 0, 1), (2, 2, 1), ceil)
    np.testing.assert_array_equal(m.forward(x).numpy(), want)
    np.testing.assert_array_equal(m.forward(x[1]).numpy(), want[1])
    jac(m, 1, 2, 5, 6, 7)
    assert repr(m) == 'nn.VolumetricDilatedMaxPooling(2x3x2, 1,2,2, 1,1,0, 2,1,2)'
    assert (m.itime, m.iheight, m.iwidth) == (5, 6, 7)
    with pytest.raises(ValueError, match='too small'):
        m.forward(rnd(1, 1, 1, 1, 1))


def test_dilated_max_pooling_ceil_keeps_a_window_larger_than_the_input():
    """THNN's ceil((2 - 3) / 2) + 1 = 1: a window dilated to 3 frames on a 2-frame input (ceil mode) gives one
    output frame, over the one frame its taps meet."""
    x = rnd(2, 1, 2, 4, 4)
    m = nn.VolumetricDilatedMaxPooling(2, 2, 2, 2, 2, 2, 0, 0, 0, 2, 1, 1).ceil()
    want = x[:, :, 0].reshape(2, 1, 2, 2, 2, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(m.forward(x).numpy(), want[:, :, None])
    gi = m.backward(x, np.ones((2, 1, 1, 2, 2))).numpy()
    assert not gi[:, :, 1].any()
    for n in range(2):      # each 2x2 block's largest value of frame 0 gets its gradient
        blocks = x[n, 0, 0].reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
        got = gi[n, 0, 0].reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
        np.testing.assert_array_equal(got, np.eye(4)[blocks.argmax(axis=1)])


# -- VolumetricMaxUnpooling ----------------------------------------------------------------------------------------
def test_max_unpooling():
    pool = nn.VolumetricMaxPooling(2, 2, 2, 2, 2, 2, 1, 0, 1)      # kernel == stride, pads T 1, W 0, H 1
    m = nn.VolumetricMaxUnpooling(pool)
    x = rnd(2, 3, 5, 4, 6)
    y = pool.forward(x)
    out = m.forward(y).numpy()
    assert out.shape == x.shape
    # loop reference: each window's first maximum (inside the input) gets the pooled value
    want = np.zeros_like(x)
    yy = y.numpy()
    for n, c in itertools.product(range(2), range(3)):
        for t, h, w in itertools.product(*map(range, yy.shape[2:])):
            best, at = -np.inf, None
            for a, b, cc in itertools.product(range(2), range(2), range(2)):
                i = (t * 2 - 1 + a, h * 2 - 1 + b, w * 2 + cc)
                if all(0 <= ii < nn_ for ii, nn_ in zip(i, x.shape[2:])) and x[(n, c) + i] > best:
                    best, at = x[(n, c) + i], i
            want[(n, c) + at] = yy[n, c, t, h, w]
    np.testing.assert_array_equal(out, want)
    g = rnd(*x.shape, seed=1)
    gi = m.backward(y, g).numpy()
    np.testing.assert_array_equal(gi, _gather(g, want != 0, yy.shape))
    m.double()
    pool.forward(x)                  # (a type conversion drops the places of the maxima: Python-side caches)
    assert J.testJacobian(m, y.double()) < TOL         # the places stay those of pool's forward
    assert repr(m) == 'nn.VolumetricMaxUnpooling associated to nn.VolumetricMaxPooling(2x2x2, 2,2,2, 1,0,1)'
    assert (m.otime, m.oheight, m.owidth) == (5, 4, 6)
    with pytest.raises(ValueError, match='equal to its stride'):
        nn.VolumetricMaxUnpooling(nn.VolumetricMaxPooling(2, 2, 2, 1, 1, 1))
    with pytest.raises(TypeError, match='nn.VolumetricMaxPooling'):
        nn.VolumetricMaxUnpooling(nn.VolumetricDilatedMaxPooling(2, 2, 2))
    with pytest.raises(ValueError, match='does not match'):
        m.forward(rnd(2, 3, 2, 2, 2))


def _gather(g, placed, shape):
    """gradOutput at the places the unpooling wrote (one per window), in window order: the reference gradInput."""
    N, C = shape[:2]
    out = np.zeros(shape)
    for n, c in itertools.product(range(N), range(C)):
        pos = np.argwhere(placed[n, c])
        for t, h, w in pos:       # window of a place: (i + pad) // stride
            out[n, c, (t + 1) // 2, (h + 1) // 2, w // 2] = g[n, c, t, h, w]
    return out


# -- VolumetricFractionalMaxPooling --------------------------------------------------------------------------------
def ref_intervals(sample, n_in, n_out, pool, real):
    if n_out == 1:
        return [n_in - pool]
    alpha = real(n_in - pool) / real(n_out - 1)
    seq = [int(real(real(i) + sample) * alpha) - int(real(sample * alpha)) for i in range(n_out - 1)]
    return seq + [n_in - pool]


def ref_fractional(x, samples, out, pools, real):
    """THNN's loop: dims (H, W, T) of each plane, samples [T, W, H]."""
    B, P = x.shape[:2]
    res = np.zeros((B, P) + out)
    for b, p in itertools.product(range(B), range(P)):
        rs = samples[b, p]
        seqs = [ref_intervals(rs[2], x.shape[2], out[0], pools[0], real),
                ref_intervals(rs[1], x.shape[3], out[1], pools[1], real),
                ref_intervals(rs[0], x.shape[4], out[2], pools[2], real)]
        for h, w, t in itertools.product(*map(range, out)):
            win = x[b, p, seqs[0][h]:seqs[0][h] + pools[0], seqs[1][w]:seqs[1][w] + pools[1],
                    seqs[2][t]:seqs[2][t] + pools[2]]
            res[b, p, h, w, t] = win.max()
    return res


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_fractional_max_pooling(dtype):
    torch.manualSeed(11)
    m = nn.VolumetricFractionalMaxPooling(2, 3, 2, 3, 4, 2)      # poolSize T,W,H = 2,3,2; out T,W,H = 3,4,2
    m.type('torch.FloatTensor' if dtype == np.float32 else 'torch.DoubleTensor')
    x = rnd(2, 3, 7, 8, 6).astype(dtype)                           # "H" 7, "W" 8, "T" 6 (THNN's naming)
    y = m.forward(x).numpy()
    assert y.shape == (2, 3, 2, 4, 3)
    samples = m.randomSamples.numpy().copy()
    np.testing.assert_array_equal(samples.reshape(-1), draws(11, 18, 0, 1).astype(dtype))
    np.testing.assert_array_equal(y, ref_fractional(x, samples, (2, 4, 3), (2, 3, 2), dtype))
    m.forward(x)
    assert not np.array_equal(m.randomSamples.numpy(), samples)    # new regions at each forward
    m.fixPoolingRegions()
    y2 = m.forward(x).numpy()
    np.testing.assert_array_equal(m.forward(x).numpy(), y2)
    assert repr(m) == 'nn.VolumetricFractionalMaxPooling(3x4x2, 2,3,2)'


def test_fractional_ratio_jacobian_errors():
    torch.manualSeed(5)
    m = nn.VolumetricFractionalMaxPooling(2, 2, 2, 0.5, 0.6, 0.7).fixPoolingRegions()
    x = D(1, 2, 6, 5, 8).uniform()
    assert tuple(m.double().forward(x).size()) == (1, 2, 4, 3, 4)    # floor(6*.7), floor(5*.6), floor(8*.5)
    assert J.testJacobian(m, x) < TOL
    assert tuple(m.forward(rnd(2, 6, 5, 8)).size()) == (2, 4, 3, 4)
    with pytest.raises(ValueError, match='pool sizes must be >= 2'):
        nn.VolumetricFractionalMaxPooling(1, 2, 2, 2, 2, 2)
    with pytest.raises(ValueError, match='ratios must be in'):
        nn.VolumetricFractionalMaxPooling(2, 2, 2, 0.5, 1.5, 0.5)
    with pytest.raises(ValueError, match='too large'):
        nn.VolumetricFractionalMaxPooling(2, 2, 2, 4, 4, 4).forward(rnd(1, 1, 5, 5, 5))
    with pytest.raises(RuntimeError, match='forward first'):
        nn.VolumetricFractionalMaxPooling(2, 2, 2, 2, 2, 2).backward(rnd(1, 5, 5, 5), rnd(1, 2, 2, 2))


# -- VolumetricReplicationPadding ----------------------------------------------------------------------------------
@pytest.mark.parametrize('pads', [(1, 2, 0, 3, 2, 1), (2, -1, 1, -2, -1, 2), (1,)])
def test_replication_padding(pads):
    m = nn.VolumetricReplicationPadding(*pads)
    l, r, t, b, f, k = (pads * 6)[:6] if len(pads) == 1 else pads
    x = rnd(2, 2, 4, 5, 6)
    big = np.pad(x, ((0, 0), (0, 0), (max(f, 0), max(k, 0)), (max(t, 0), max(b, 0)), (max(l, 0), max(r, 0))),
                 mode='edge')
    want = big[:, :, max(-f, 0):big.shape[2] - max(-k, 0), max(-t, 0):big.shape[3] - max(-b, 0),
               max(-l, 0):big.shape[4] - max(-r, 0)]
    np.testing.assert_array_equal(m.forward(x).numpy(), want)
    np.testing.assert_array_equal(m.forward(x[0]).numpy(), want[0])
    jac(m, 1, 2, 3, 4, 5)
    jac(m, 2, 3, 4, 2)


def test_replication_padding_crop_of_the_whole_input_repeats_an_edge_voxel():
    """THNN clamps each output voxel's source index: a crop of all the columns from the left with a pad on the right
    repeats the last column, a crop of all the columns from the right with a pad on the left the first (numpy's
    broadcast error before); the gradient goes back to that column."""
    x = np.arange(1.0, 7.0).reshape(1, 1, 2, 3)          # planes x T x H x W: W = 3
    m = nn.VolumetricReplicationPadding(-3, 2, 0, 0, 0, 0)
    np.testing.assert_array_equal(m.forward(x).numpy(), np.repeat(x[..., 2:], 2, axis=3))
    np.testing.assert_array_equal(m.backward(x, np.ones((1, 1, 2, 2))).numpy(), [[[[0, 0, 2], [0, 0, 2]]]])
    m = nn.VolumetricReplicationPadding(4, -4, 0, 0, 0, 0)
    np.testing.assert_array_equal(m.forward(x).numpy(), np.repeat(x[..., :1], 3, axis=3))
    np.testing.assert_array_equal(m.backward(x, np.ones((1, 1, 2, 3))).numpy(), [[[[3, 0, 0], [3, 0, 0]]]])
    x = np.arange(1.0, 7.0).reshape(1, 3, 1, 2)          # T = 3: the last frame, once
    m = nn.VolumetricReplicationPadding(0, 0, 0, 0, -3, 1)
    np.testing.assert_array_equal(m.forward(x).numpy(), x[:, 2:])
    np.testing.assert_array_equal(m.backward(x, np.ones((1, 1, 1, 2))).numpy(), [[[[0, 0]], [[0, 0]], [[1, 1]]]])


def test_replication_padding_repr_errors():
    m = nn.VolumetricReplicationPadding(1, 2, 3, 4, 5, 6)
    assert repr(m) == 'nn.VolumetricReplicationPadding(left=1, right=2, top=3, bottom=4, front=5, back=6)'
    with pytest.raises(ValueError, match='4 or 5-dimensional'):
        m.forward(rnd(2, 3, 4))
    with pytest.raises(ValueError, match='gradOutput of size'):
        m.backward(rnd(1, 2, 2, 2), rnd(1, 2, 2, 2))
    with pytest.raises(TypeError, match='pright must be an int'):
        nn.VolumetricReplicationPadding(1, 1.5)
    # an empty input (no edge voxel to repeat) is refused naming the module, as SpatialReplicationPadding does
    for shape in ((2, 0, 4, 5), (1, 2, 3, 4, 0), (0, 2, 3, 4, 5)):
        with pytest.raises(ValueError, match=re.escape(f"{m!r}: got an empty input (size [{', '.join(map(str, shape))}"
                                                       f"])")):
            m.forward(np.zeros(shape))


# -- .t7 round trips -----------------------------------------------------------------------------------------------
def test_save_load_roundtrip(tmp_path):
    torch.manualSeed(6)
    cases = [(nn.VolumetricBatchNormalization(2).evaluate(), (2, 2, 2, 3, 2)),
             (nn.VolumetricFullConvolution(2, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1), (2, 2, 2, 3, 2)),
             (nn.VolumetricDilatedConvolution(2, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 2, 2, 2), (2, 2, 3, 3, 3)),
             (nn.VolumetricDropout(0.3).evaluate(), (2, 2, 2, 2, 2)),
             (nn.VolumetricDilatedMaxPooling(2, 2, 2, 1, 1, 1, 1, 1, 1, 2, 2, 2).ceil(), (2, 2, 4, 4, 5)),
             (nn.VolumetricFractionalMaxPooling(2, 2, 2, 2, 3, 2).fixPoolingRegions(), (2, 2, 5, 5, 5)),
             (nn.VolumetricReplicationPadding(1, 0, 2, -1, 1, 1), (2, 2, 3, 3, 3))]
    for m, shape in cases:
        m.double()
        x = rnd(*shape)
        m.forward(x)                                # (the fractional pooling's samples drawn before the save)
        check_reloads_fields(m, x, tmp_path)
    pool = nn.VolumetricMaxPooling(2, 2, 2).double()
    m = nn.VolumetricMaxUnpooling(pool)
    x = rnd(1, 2, 4, 4, 4)
    y = m.forward(pool.forward(x)).numpy().copy()
    torch.save(str(tmp_path / 'u.t7'), m)
    m2 = torch.load(str(tmp_path / 'u.t7'))
    np.testing.assert_array_equal(m2.forward(m2.pooling.forward(x)).numpy(), y)
    assert m2.otime == 4 and m2.pooling.itime == 4


# -- CUDA (the CuPy stand-in) --------------------------------------------------------------------------------------
def _gpu_cases():
    torch.manualSeed(9)
    return [(lambda: nn.VolumetricBatchNormalization(2), (3, 2, 2, 3, 2)),
            (lambda: nn.VolumetricFullConvolution(2, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1), (2, 2, 2, 3, 2)),
            (lambda: nn.VolumetricDilatedConvolution(2, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 2, 2, 2), (2, 2, 3, 3, 3)),
            (lambda: nn.VolumetricDilatedMaxPooling(2, 2, 2, 1, 1, 1, 1, 1, 1, 2, 2, 2), (2, 2, 4, 4, 5)),
            (lambda: nn.VolumetricReplicationPadding(1, 0, 2, -1, 1, 1), (2, 2, 3, 3, 3))]


@pytest.mark.gpu
def test_gpu_matches_cpu():
    for make, shape in _gpu_cases():
        check_gpu_made(make, rnd(*shape), init_seed=1)


@pytest.mark.gpu
def test_gpu_pooling_family():
    # fractional: the same samples on both; unpooling: after its pooling's forward; dropout: the same seed
    x = rnd(2, 2, 6, 6, 6)
    torch.manualSeed(2)
    cpu = nn.VolumetricFractionalMaxPooling(2, 2, 2, 3, 3, 3).float().fixPoolingRegions()
    y = cpu.forward(x.astype(np.float32))
    gpu = nn.VolumetricFractionalMaxPooling(2, 2, 2, 3, 3, 3).cuda().fixPoolingRegions()
    gpu.randomSamples = cpu.randomSamples.cuda()
    check_gpu(cpu, gpu, x)
    assert y.type() == 'torch.FloatTensor'
    pc, pg = nn.VolumetricMaxPooling(2, 2, 2, 2, 2, 2, 1, 1, 0), nn.VolumetricMaxPooling(2, 2, 2, 2, 2, 2, 1, 1, 0)
    uc, ug = nn.VolumetricMaxUnpooling(pc).float(), nn.VolumetricMaxUnpooling(pg).cuda()   # (types the poolings)
    yc = pc.forward(x.astype(np.float32)).numpy().astype(np.float64)
    pg.forward(torch.FloatTensor(x.astype(np.float32)).cuda())
    check_gpu(uc, ug, yc)
    for train in (True, False):
        cpu, gpu = nn.VolumetricDropout(0.5).float(), nn.VolumetricDropout(0.5).cuda()
        if not train:
            cpu.evaluate()
            gpu.evaluate()
        torch.manualSeed(4)
        a = cpu.forward(x.astype(np.float32)).numpy()
        torch.manualSeed(4)
        b = gpu.forward(torch.FloatTensor(x.astype(np.float32)).cuda())
        assert b.type() == 'torch.CudaTensor'
        np.testing.assert_array_equal(b.float().numpy(), a)


def test_steady_state_reuses_buffers():
    from nn_helpers import check_steady_state
    torch.manualSeed(3)
    # (VolumetricFullConvolution is left out: it keeps SpatialFullConvolution's ``_gc_mat``, a new view of a kept
    # buffer at each backward, which this identity check cannot tell from a new array)
    for m, shape in [(nn.VolumetricDilatedConvolution(2, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 2, 2, 2), (2, 2, 3, 3, 3)),
                     (nn.VolumetricDilatedMaxPooling(2, 2, 2, 1, 1, 1, 1, 1, 1, 2, 2, 2), (2, 2, 4, 4, 5)),
                     (nn.VolumetricReplicationPadding(1, 0, 2, -1, 1, 1), (2, 2, 3, 3, 3)),
                     (nn.VolumetricDropout(0.5), (2, 2, 2, 2, 2)),
                     (nn.VolumetricBatchNormalization(2), (2, 2, 2, 2, 2))]:
        m.double()
        x = rnd(*shape)
        check_steady_state(m, x, rnd(*m.forward(x).numpy().shape, seed=1))


def test_file_with_inconsistent_fields_is_refused(tmp_path):
    from luatorch_py.serialization import T7Error
    m = nn.VolumetricFullConvolution(2, 3, 2, 2, 2)
    m.kT = 3                                                    # the weight no longer matches
    torch.save(str(tmp_path / 'bad.t7'), m)
    with pytest.raises(T7Error, match=r'nn.VolumetricFullConvolution.weight has 48 elements.*make 72'):
        torch.load(str(tmp_path / 'bad.t7'))


def test_full_conv_file_from_before_adj_is_transposed(tmp_path):
    # Torch7's backCompatibility: a file without adjW holds the weight as nOutputPlane x nInputPlane x kT x kH x kW
    torch.manualSeed(2)
    m = nn.VolumetricFullConvolution(2, 3, 2, 2, 2).double()
    x = rnd(1, 2, 2, 2, 2)
    y = m.forward(x).numpy().copy()
    old = m.clone()
    for k in ('adjT', 'adjW', 'adjH'):
        del old.__dict__[k]
    old.weight = old.weight.transpose(0, 1).contiguous()
    m2 = roundtrip(old, tmp_path)
    assert tuple(m2.weight.size()) == (2, 3, 2, 2, 2) and m2.adjW == 0
    np.testing.assert_array_equal(m2.forward(x).numpy(), y)

"""SpatialDilatedMaxPooling, SpatialMaxUnpooling, SpatialFractionalMaxPooling and FeatureLPPooling against loop
references written from THNN's C code; Jacobians (float64); Torch7's fields (1-based indices in .t7 files); .t7
round trips; CUDA under the CuPy stand-in."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.random import Generator
from luatorch_py.serialization import classes

from nn_helpers import check_gpu, check_reloads, check_steady_state, jac, rnd


def b4(x):
    return x if x.ndim == 4 else x[None]


# -- SpatialDilatedMaxPooling ------------------------------------------------------------------------------------
def ref_dilated(x, kW, kH, dW, dH, padW, padH, dilW, dilH, ceil):
    x4 = b4(x)
    N, C, H, W = x4.shape

    def olen(i, k, d, p, dl):
        a = i - (dl * (k - 1) + 1) + 2 * p
        o = int(np.ceil(a / d) if ceil else np.floor(a / d)) + 1
        if (padW or padH) and (o - 1) * d >= i + p:        # THNN checks this when ANY pad is set
            o -= 1
        return o
    oh, ow = olen(H, kH, dH, padH, dilH), olen(W, kW, dW, padW, dilW)
    out = np.zeros((N, C, oh, ow))
    idx = np.zeros((N, C, oh, ow), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(oh):
                for j in range(ow):
                    best, bi = -np.inf, -1
                    for ky in range(kH):
                        for kx in range(kW):
                            y, xx = i * dH - padH + ky * dilH, j * dW - padW + kx * dilW
                            if 0 <= y < H and 0 <= xx < W and x4[n, c, y, xx] > best:
                                best, bi = x4[n, c, y, xx], y * W + xx
                    out[n, c, i, j], idx[n, c, i, j] = best, bi
    return (out, idx) if x.ndim == 4 else (out[0], idx[0])


@pytest.mark.parametrize('args, ceil, shape', [
    ((3, 3, 1, 1, 1, 1, 2, 2), False, (2, 2, 7, 8)),
    ((2, 3, 2, 1, 1, 1, 3, 2), True, (2, 8, 9)),
    ((3, 2, 2, 2, 0, 0, 1, 2), True, (1, 2, 7, 6)),
    ((3, 1, 1, 3, 1, 0, 1, 1), True, (1, 2, 5, 6)),     # padH 0 but padW 1: H's last window (row 6) is dropped
])
def test_dilated_max_pooling(args, ceil, shape, tmp_path):
    m = nn.SpatialDilatedMaxPooling(*args).double()
    if ceil:
        m.ceil()
    x = rnd(*shape)
    x.reshape(-1)[3] = np.nan           # never picked
    y = m.forward(x).numpy()
    out, idx = ref_dilated(x, *args, ceil)
    np.testing.assert_array_equal(y, out)
    np.testing.assert_array_equal(m.indices.numpy(), idx)
    assert (m.iheight, m.iwidth) == shape[-2:]
    x = rnd(*shape, seed=2)
    jac(m, *shape)
    assert isinstance(m, nn.SpatialMaxPooling)
    m.forward(x)
    np.testing.assert_array_equal(classes.lua_fields(m)['indices'].numpy(), ref_dilated(x, *args, ceil)[1] + 1)
    check_reloads(m, x, tmp_path)


def test_dilated_defaults_repr_errors():
    m = nn.SpatialDilatedMaxPooling(3, 3)
    assert (m.dW, m.dH, m.padW, m.padH, m.dilationW, m.dilationH) == (3, 3, 0, 0, 1, 1)
    assert repr(nn.SpatialDilatedMaxPooling(3, 3, 1, 1, 1, 1, 2, 2)) == \
        'nn.SpatialDilatedMaxPooling(3x3, 1,1, 1,1, 2,2)'
    with pytest.raises(ValueError, match='dilation'):
        nn.SpatialDilatedMaxPooling(3, 3, 1, 1, 0, 0, 0, 1)
    with pytest.raises(ValueError, match='too small'):
        nn.SpatialDilatedMaxPooling(3, 3, 1, 1, 0, 0, 3, 3).forward(rnd(1, 5, 5))
    with pytest.raises(ValueError, match='half of kernel'):
        nn.SpatialDilatedMaxPooling(2, 2, 1, 1, 2, 2).forward(rnd(1, 5, 5))


# -- SpatialMaxUnpooling -------------------------------------------------------------------------------------
@pytest.mark.parametrize('shape', [(2, 3, 6, 5), (3, 4, 6)])
def test_max_unpooling(shape, tmp_path):
    pool = nn.SpatialMaxPooling(2, 2).double()
    unpool = nn.SpatialMaxUnpooling(pool)
    x = rnd(*shape)
    y = pool.forward(x).numpy()
    z = unpool.forward(y).numpy()
    x4, y4, z4 = b4(x), b4(y), b4(z)
    g = rnd(*z.shape, seed=3)
    g4 = b4(g)
    want, want_gi = np.zeros(x4.shape), np.zeros(y4.shape)
    for n in range(y4.shape[0]):
        for c in range(y4.shape[1]):
            for i in range(y4.shape[2]):
                for j in range(y4.shape[3]):
                    w = x4[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                    a, b = np.unravel_index(np.argmax(w), w.shape)
                    want[n, c, 2 * i + a, 2 * j + b] = y4[n, c, i, j]
                    want_gi[n, c, i, j] = g4[n, c, 2 * i + a, 2 * j + b]
    np.testing.assert_array_equal(z4, want)
    assert (unpool.oheight, unpool.owidth) == shape[-2:] and unpool.indices is pool.indices
    np.testing.assert_array_equal(b4(unpool.backward(y, g).numpy()), want_gi)
    assert nn.Jacobian.testJacobian(unpool, torch.DoubleTensor(y)) < 1e-5
    # saved with its pooling (Lua's 1-based indices in the file)
    seq = nn.Sequential(pool, unpool)
    seq2 = check_reloads(seq, x, tmp_path)
    assert seq2.modules[1].pooling is seq2.modules[0]


def test_max_unpooling_checks():
    with pytest.raises(TypeError, match='nn.SpatialMaxPooling'):
        nn.SpatialMaxUnpooling(nn.SpatialDilatedMaxPooling(2, 2))
    with pytest.raises(ValueError, match='equal to its stride'):
        nn.SpatialMaxUnpooling(nn.SpatialMaxPooling(3, 3, 2, 2))
    u = nn.SpatialMaxUnpooling(nn.SpatialMaxPooling(2, 2))
    with pytest.raises(RuntimeError, match='not run forward'):
        u.forward(rnd(1, 2, 2))
    u.pooling.forward(rnd(1, 4, 4))
    with pytest.raises(ValueError, match='does not match'):
        u.forward(rnd(1, 3, 2))
    assert repr(u) == 'nn.SpatialMaxUnpooling associated to nn.SpatialMaxPooling(2x2, 2,2)'


# -- SpatialFractionalMaxPooling ---------------------------------------------------------------------------------
def ref_intervals(u, n_in, n_out, pool, dt):
    alpha = dt(n_in - pool) / dt(n_out - 1) if n_out > 1 else 0
    seq = [int(dt((i + u) * alpha)) - int(dt(u * alpha)) for i in range(n_out - 1)]
    return seq + [n_in - pool]


def ref_fractional(x, samples, ow, oh, pw, ph):
    x4, s4 = b4(x), samples if x.ndim == 4 else samples
    N, C, H, W = x4.shape
    out = np.zeros((N, C, oh, ow))
    idx = np.zeros((N, C, oh, ow), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            sw = ref_intervals(s4[n, c, 0], W, ow, pw, x.dtype.type)
            sh = ref_intervals(s4[n, c, 1], H, oh, ph, x.dtype.type)
            for i in range(oh):
                for j in range(ow):
                    best, bi = -np.inf, -1
                    for y in range(sh[i], sh[i] + ph):
                        for xx in range(sw[j], sw[j] + pw):
                            if x4[n, c, y, xx] > best:
                                best, bi = x4[n, c, y, xx], y * W + xx
                    out[n, c, i, j], idx[n, c, i, j] = best, bi
    return (out, idx) if x.ndim == 4 else (out[0], idx[0])


@pytest.mark.parametrize('args, shape, osize', [((2, 2, 4, 3), (2, 3, 7, 9), (3, 4)),
                                                ((3, 2, 0.5, 0.7), (2, 10, 9), (7, 4))])
@pytest.mark.parametrize('dtype', [np.float64, np.float32])
def test_fractional_max_pooling(args, shape, osize, dtype):
    m = nn.SpatialFractionalMaxPooling(*args)
    m.double() if dtype is np.float64 else m.float()
    torch.manualSeed(9)
    x = rnd(*shape).astype(dtype)
    y = m.forward(x).numpy()
    assert y.shape == shape[:-2] + osize
    # the window positions come from N x C x 2 uniform numbers of Torch7's stream
    g = Generator()
    g.manualSeed(9)
    n, c = (shape[0], shape[1]) if len(shape) == 4 else (1, shape[0])
    s = m.randomSamples.numpy().copy()
    np.testing.assert_array_equal(s.reshape(-1), np.array([g.uniform() for _ in range(n * c * 2)]).astype(dtype))
    out, idx = ref_fractional(x, s, osize[1], osize[0], args[0], args[1])
    np.testing.assert_array_equal(y, out)
    np.testing.assert_array_equal(m.indices.numpy(), idx)
    m.forward(x)
    assert not np.array_equal(m.randomSamples.numpy(), s)      # new regions at each forward...
    s = m.randomSamples.numpy().copy()
    m.fixPoolingRegions()
    m.forward(x)
    np.testing.assert_array_equal(m.randomSamples.numpy(), s)  # ... unless fixed
    if dtype is np.float64:
        jac(m, *shape)


def test_fractional_fields_errors(tmp_path):
    m = nn.SpatialFractionalMaxPooling(2, 2, 3, 3).fixPoolingRegions()
    x = rnd(1, 2, 6, 6)
    m.forward(x)
    m2 = check_reloads(m, x, tmp_path)
    np.testing.assert_array_equal(m2.randomSamples.numpy(), m.randomSamples.numpy())
    assert repr(m) == 'nn.SpatialFractionalMaxPooling(3x3, 2,2)'
    with pytest.raises(ValueError, match='>= 2'):
        nn.SpatialFractionalMaxPooling(1, 2, 3, 3)
    with pytest.raises(ValueError, match='ratios'):
        nn.SpatialFractionalMaxPooling(2, 2, 1.5, 0.5)
    with pytest.raises(ValueError, match='too small'):
        nn.SpatialFractionalMaxPooling(2, 2, 5, 5).forward(rnd(1, 5, 5))
    with pytest.raises(RuntimeError, match='forward first'):
        nn.SpatialFractionalMaxPooling(2, 2, 3, 3).backward(x, rnd(1, 2, 3, 3))


# -- FeatureLPPooling --------------------------------------------------------------------------------------------
def ref_flp(x, width, stride, p, batch):
    xb = x if batch else x[None]
    F = xb.shape[1]
    nout = (F - width) // stride + 1
    out = np.zeros((xb.shape[0], nout) + xb.shape[2:])
    for j in range(nout):
        out[:, j] = (xb[:, j * stride:j * stride + width] ** p).sum(axis=1) ** (1 / p)
    return out if batch else out[0]


@pytest.mark.parametrize('args, shape', [((2, 1, 2), (7,)), ((3, 2, 2, True), (2, 8, 3)),
                                         ((4, 1, 3), (6, 2, 3)), ((2, 2, 2, True), (2, 5, 2, 3))])
def test_feature_lp_pooling(args, shape, tmp_path):
    m = nn.FeatureLPPooling(*args).double()
    x = np.abs(rnd(*shape)) + 0.1
    np.testing.assert_allclose(m.forward(x).numpy(), ref_flp(x, args[0], args[1], args[2], len(args) > 3),
                               rtol=1e-12)
    if args[2] == 2:
        jac(m, *shape)
    else:         # positive inputs (Jacobian's are of both signs): central differences
        xt = torch.DoubleTensor(x)
        y = m.forward(xt).numpy().copy()
        g = rnd(*y.shape, seed=5)
        gi = m.backward(xt, g).numpy()
        d = rnd(*shape, seed=6) * 1e-6
        yp = m.forward(x + d).numpy().copy()
        fd = ((yp - m.forward(x - d).numpy()) * g).sum() / 2
        assert abs(fd - (gi * d).sum()) < 1e-9
    check_reloads(m, x, tmp_path)


def test_feature_lp_zero_output_and_errors():
    m = nn.FeatureLPPooling(2, 2, 2)
    x = np.array([0., 0., 3., 4.])
    np.testing.assert_allclose(m.forward(x).numpy(), [0, 5])
    np.testing.assert_allclose(m.backward(x, np.ones(2)).numpy(), [0, 0, 0.6, 0.8])   # none through a 0 output
    with pytest.raises(ValueError, match='2 to 16'):
        nn.FeatureLPPooling(1, 1, 2)
    with pytest.raises(ValueError, match='1 to 4'):
        nn.FeatureLPPooling(2, 5, 2)
    with pytest.raises(ValueError, match='1-3 dimensions'):
        m.forward(rnd(2, 2, 2, 2))
    with pytest.raises(ValueError, match='>= width'):
        nn.FeatureLPPooling(3, 1, 2, True).forward(rnd(4, 2))
    assert repr(m) == 'nn.FeatureLPPooling(w2 s2 power 2 batch 0)'


def test_steady_state_buffers():
    for m, x in ((nn.SpatialDilatedMaxPooling(2, 2, 1, 1, 1, 1, 2, 2), rnd(2, 2, 6, 6)),
                 (nn.SpatialFractionalMaxPooling(2, 2, 3, 3), rnd(2, 2, 6, 6)),
                 (nn.FeatureLPPooling(2, 1, 2, True), rnd(2, 5, 3))):
        check_steady_state(m, x, np.ones(m.forward(x).numpy().shape))


@pytest.mark.gpu
@pytest.mark.parametrize('make', [
    lambda: nn.SpatialDilatedMaxPooling(3, 2, 1, 2, 1, 1, 2, 1),
    lambda: nn.SpatialFractionalMaxPooling(2, 2, 3, 2).fixPoolingRegions(),
    lambda: nn.FeatureLPPooling(2, 1, 2, True),
])
def test_gpu_matches_cpu(make):
    cpu, gpu = make().float(), make().cuda()
    x = rnd(2, 3, 6, 5)
    if isinstance(cpu, nn.SpatialFractionalMaxPooling):
        cpu.forward(x.astype(np.float32))
        gpu.randomSamples = cpu.randomSamples.clone().cuda()
    check_gpu(cpu, gpu, x, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
def test_gpu_unpooling():
    pool, pool_c = nn.SpatialMaxPooling(2, 2).float(), nn.SpatialMaxPooling(2, 2).cuda()
    x = rnd(2, 3, 6, 4)
    y = pool.forward(x.astype(np.float32))
    pool_c.forward(torch.FloatTensor(x.astype(np.float32)).cuda())
    check_gpu(nn.SpatialMaxUnpooling(pool), nn.SpatialMaxUnpooling(pool_c).cuda(), y.numpy().astype(np.float64))

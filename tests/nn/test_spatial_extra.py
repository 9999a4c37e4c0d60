"""SpatialConvolutionMap (+ nn.tables), SpatialFullConvolutionMap, SpatialSubSampling, SpatialConvolutionLocal and
SpatialDepthWiseConvolution against loop references written from THNN's C code; Jacobians (float64); .t7 round
trips; CUDA under the CuPy stand-in."""
import math

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.random import Generator

from nn_helpers import check_gpu_made, check_params, check_reloads, check_steady_state, rnd, steady_step_counts


def b4(x):
    return x if x.ndim == 4 else x[None]


# -- nn.tables ------------------------------------------------------------------------------------------------
def test_tables_full_and_one_to_one():
    assert nn.tables.full(2, 3).numpy().tolist() == [[0, 0], [1, 0], [0, 1], [1, 1], [0, 2], [1, 2]]
    assert nn.tables.oneToOne(3).numpy().tolist() == [[0, 0], [1, 1], [2, 2]]
    assert nn.tables.full(2, 2).type() == torch.getdefaulttensortype()


def test_tables_random_follows_torch7_stream():
    # Lua: chunks of nto from randperm(nin) (1-based), a new randperm when the chunks are used up
    torch.manualSeed(7)
    t = nn.tables.random(5, 4, 2).numpy()
    g = Generator()
    g.manualSeed(7)
    want, perm, c = [], g.randperm(5), 0
    for i in range(4):
        want += [[perm[c * 2], i], [perm[c * 2 + 1], i]]
        c += 1
        if c == 2:
            perm, c = g.randperm(5), 0
    assert t.tolist() == want
    for i in range(4):       # distinct inputs per output
        assert len(set(t[t[:, 1] == i, 0])) == 2
    with pytest.raises(ValueError, match='nto'):
        nn.tables.random(2, 3, 3)


# -- SpatialConvolutionMap --------------------------------------------------------------------------------------
def ref_conv_map(x, conn, w, b, dW, dH):
    x4 = b4(x)
    kH, kW = w.shape[1:]
    N, _, H, W = x4.shape
    oh, ow = (H - kH) // dH + 1, (W - kW) // dW + 1
    out = np.zeros((N, len(b), oh, ow))
    for n in range(N):
        for o in range(len(b)):
            out[n, o] = b[o]
        for k, (i, o) in enumerate(conn.astype(int)):
            for y in range(oh):
                for xx in range(ow):
                    out[n, o, y, xx] += (x4[n, i, y * dH:y * dH + kH, xx * dW:xx * dW + kW] * w[k]).sum()
    return out if x.ndim == 4 else out[0]


def ref_full_conv_map(x, conn, w, b, dW, dH):
    x4 = b4(x)
    kH, kW = w.shape[1:]
    N, _, H, W = x4.shape
    out = np.zeros((N, len(b), (H - 1) * dH + kH, (W - 1) * dW + kW))
    for n in range(N):
        for o in range(len(b)):
            out[n, o] = b[o]
        for k, (i, o) in enumerate(conn.astype(int)):
            for y in range(H):
                for xx in range(W):
                    out[n, o, y * dH:y * dH + kH, xx * dW:xx * dW + kW] += x4[n, i, y, xx] * w[k]
    return out if x.ndim == 4 else out[0]


CONN = [[0, 0], [2, 0], [1, 1], [0, 2], [1, 2], [2, 2]]


@pytest.mark.parametrize('cls, ref', [(nn.SpatialConvolutionMap, ref_conv_map),
                                      (nn.SpatialFullConvolutionMap, ref_full_conv_map)])
@pytest.mark.parametrize('shape, d', [((2, 3, 4, 5), (1, 1)), ((3, 5, 4), (2, 3))])
def test_conv_maps_match_reference_and_jacobian(cls, ref, shape, d):
    m = cls(torch.Tensor(np.array(CONN, dtype=float)), 3, 2, *d).double()
    assert (m.nInputPlane, m.nOutputPlane) == (3, 3) and m.weight.numpy().shape == (6, 2, 3)
    x = rnd(*shape)
    y = m.forward(x).numpy()
    np.testing.assert_allclose(y, ref(x, m.connTable.numpy(), m.weight.numpy(), m.bias.numpy(), *d), atol=1e-12)
    check_params(m, torch.DoubleTensor(rnd(*shape, seed=1)))


def test_conv_map_reset_order_matches_torch7():
    """Each connection's kernel drawn in table order over 1/sqrt(kW*kH*fanin(output)), then the bias one number at
    a time over its plane's fan-in: the stream's numbers in that order."""
    conn = torch.Tensor(np.array(CONN, dtype=float))
    torch.manualSeed(5)
    m = nn.SpatialConvolutionMap(conn, 3, 2)
    g = Generator()
    g.manualSeed(5)
    fan = [2, 1, 3]
    for k, (_, o) in enumerate(CONN):
        s = 1 / math.sqrt(6 * fan[o])
        np.testing.assert_array_equal(m.weight.numpy()[k].reshape(-1), [g.uniform(-s, s) for _ in range(6)])
    np.testing.assert_array_equal(m.bias.numpy(), [g.uniform(-1 / math.sqrt(6 * f), 1 / math.sqrt(6 * f))
                                                   for f in fan])


def test_conv_map_extra_planes_fields_errors(tmp_path):
    m = nn.SpatialConvolutionMap(nn.tables.oneToOne(2), 3, 3).double()
    x = rnd(4, 5, 5)            # more planes than the table uses: the first ones count (THNN)
    np.testing.assert_allclose(m.forward(x).numpy(), ref_conv_map(x[:2], m.connTable.numpy(), m.weight.numpy(),
                                                                  m.bias.numpy(), 1, 1), atol=1e-12)
    assert m.backward(x, np.ones((2, 3, 3))).numpy()[2:].sum() == 0
    m2 = check_reloads(m, x, tmp_path)
    assert m2.connTable.numpy().tolist() == [[0, 0], [1, 1]]
    assert repr(m) == 'nn.SpatialConvolutionMap(2 -> 2, 3x3, 1,1)'
    with pytest.raises(ValueError, match='at least 2 planes'):
        m.forward(rnd(1, 5, 5))
    with pytest.raises(ValueError, match='smaller than the kernel'):
        m.forward(rnd(2, 2, 5))
    with pytest.raises(ValueError, match='K x 2'):
        nn.SpatialConvolutionMap(torch.Tensor(3), 3, 3)
    with pytest.raises(ValueError, match='0-based'):
        nn.SpatialConvolutionMap(torch.Tensor(np.array([[0., -1.]])), 3, 3)


def test_conv_map_lua_file_is_one_based(tmp_path):
    """The table is written 1-based (Lua's) and read back 0-based."""
    from luatorch_py.serialization import classes
    m = nn.SpatialConvolutionMap(nn.tables.full(2, 2), 2, 2)
    assert classes.lua_fields(m)['connTable'].numpy().tolist() == [[1, 1], [2, 1], [1, 2], [2, 2]]
    m2 = check_reloads(m, rnd(2, 4, 4), tmp_path)
    assert m2.connTable.numpy().tolist() == [[0, 0], [1, 0], [0, 1], [1, 1]]


# -- SpatialSubSampling ------------------------------------------------------------------------------------------
def ref_subsampling(x, w, b, kW, kH, dW, dH):
    x4 = b4(x)
    N, C, H, W = x4.shape
    oh, ow = (H - kH) // dH + 1, (W - kW) // dW + 1
    out = np.zeros((N, C, oh, ow))
    for n in range(N):
        for c in range(C):
            for y in range(oh):
                for xx in range(ow):
                    out[n, c, y, xx] = b[c] + w[c] * x4[n, c, y * dH:y * dH + kH, xx * dW:xx * dW + kW].sum()
    return out if x.ndim == 4 else out[0]


@pytest.mark.parametrize('shape, args', [((2, 3, 6, 7), (3, 2, 3, 2)), ((2, 5, 5), (2, 2))])
def test_subsampling(shape, args):
    torch.manualSeed(3)
    m = nn.SpatialSubSampling(shape[-3], *args).double()
    g = Generator()
    g.manualSeed(3)
    s = 1 / math.sqrt(args[0] * args[1])
    np.testing.assert_array_equal(m.weight.numpy(), [g.uniform(-s, s) for _ in range(shape[-3])])
    d = args[2:] or (1, 1)
    x = rnd(*shape)
    np.testing.assert_allclose(m.forward(x).numpy(),
                               ref_subsampling(x, m.weight.numpy(), m.bias.numpy(), *args[:2], *d), atol=1e-12)
    check_params(m, torch.DoubleTensor(x))


# -- SpatialConvolutionLocal ----------------------------------------------------------------------------------
def ref_local(x, w, b, kW, kH, dW, dH, padW, padH):
    x4 = np.pad(b4(x), ((0, 0), (0, 0), (padH, padH), (padW, padW)))
    oh, ow = b.shape[1:]
    out = np.zeros((x4.shape[0], b.shape[0], oh, ow))
    for n in range(x4.shape[0]):
        for o in range(b.shape[0]):
            for y in range(oh):
                for xx in range(ow):
                    out[n, o, y, xx] = b[o, y, xx] + (w[y, xx, o] * x4[n, :, y * dH:y * dH + kH,
                                                                         xx * dW:xx * dW + kW]).sum()
    return out if x.ndim == 4 else out[0]


@pytest.mark.parametrize('args, shape', [((2, 3, 5, 4, 3, 2), (2, 2, 4, 5)),
                                         ((2, 2, 6, 5, 3, 3, 2, 1, 1, 0), (2, 5, 6))])
def test_convolution_local(args, shape, tmp_path):
    m = nn.SpatialConvolutionLocal(*args).double()
    assert m.weight.numpy().shape == (m.oH, m.oW, args[1], args[0], args[5], args[4])
    x = rnd(*shape)
    geo = (list(args[4:]) + [1, 1, 0, None])[:6]
    kW, kH, dW, dH, padW, padH = geo[0], geo[1], geo[2], geo[3], geo[4], geo[4] if geo[5] is None else geo[5]
    np.testing.assert_allclose(m.forward(x).numpy(), ref_local(x, m.weight.numpy(), m.bias.numpy(), kW, kH, dW,
                                                               dH, padW, padH), atol=1e-12)
    check_params(m, torch.DoubleTensor(x))
    check_reloads(m, x, tmp_path)
    with pytest.raises(ValueError, match='inconsistent'):
        m.forward(rnd(args[0], 3, 3))


# -- SpatialDepthWiseConvolution ---------------------------------------------------------------------------------
def ref_depthwise(x, w, b, kW, kH, dW, dH, padW, padH):
    nOut = w.shape[0]
    x4 = np.pad(b4(x), ((0, 0), (0, 0), (padH, padH), (padW, padW)))
    N, C = x4.shape[:2]
    w4 = w.reshape(nOut, C, kH, kW)
    oh, ow = (x4.shape[2] - kH) // dH + 1, (x4.shape[3] - kW) // dW + 1
    out = np.zeros((N, C * nOut, oh, ow))
    for n in range(N):
        for i in range(C):
            for o in range(nOut):
                for y in range(oh):
                    for xx in range(ow):
                        out[n, i * nOut + o, y, xx] = (0 if b is None else b[o, i]) + (
                            w4[o, i] * x4[n, i, y * dH:y * dH + kH, xx * dW:xx * dW + kW]).sum()
    return out if x.ndim == 4 else out[0]


@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('args, shape', [((2, 3, 3, 2), (2, 2, 5, 6)), ((3, 2, 2, 3, 2, 1, 1), (3, 6, 5))])
def test_depthwise(args, shape, bias, tmp_path):
    m = nn.SpatialDepthWiseConvolution(*args).double()
    if not bias:
        m.noBias()
        assert repr(m).endswith('without bias')
    assert m.weight.numpy().shape == (args[1], args[0] * args[2] * args[3])
    geo = list(args[2:]) + [1, 1, 0][len(args) - 4:]
    kW, kH, dW, dH, padW = geo[:5]
    x = rnd(*shape)
    np.testing.assert_allclose(m.forward(x).numpy(), ref_depthwise(
        x, m.weight.numpy(), m.bias.numpy() if bias else None, kW, kH, dW, dH, padW, padW), atol=1e-12)
    check_params(m, torch.DoubleTensor(x))
    check_reloads(m, x, tmp_path)
    m.weight.resize(args[1], args[0], args[3], args[2])     # Torch7's 4-D weight (after a forward there) works
    np.testing.assert_allclose(m.forward(x).numpy(), ref_depthwise(
        x, m.weight.numpy(), m.bias.numpy() if bias else None, kW, kH, dW, dH, padW, padW), atol=1e-12)


def test_steady_state_buffers():
    for m, shape in ((nn.SpatialConvolutionMap(nn.tables.full(2, 3), 2, 2), (2, 2, 5, 5)),
                     (nn.SpatialFullConvolutionMap(nn.tables.full(2, 3), 2, 2, 2, 2), (2, 2, 3, 3)),
                     (nn.SpatialSubSampling(2, 2, 2), (2, 2, 5, 5)),
                     (nn.SpatialConvolutionLocal(2, 3, 5, 5, 2, 2), (2, 2, 5, 5)),
                     (nn.SpatialDepthWiseConvolution(2, 3, 2, 2), (2, 2, 5, 5))):
        x = rnd(*shape)
        check_steady_state(m, x, np.ones(m.forward(x).numpy().shape))


def _all():
    return [lambda: nn.SpatialConvolutionMap(nn.tables.full(2, 3), 2, 2, 1, 2),
            lambda: nn.SpatialFullConvolutionMap(nn.tables.oneToOne(2), 2, 3, 2, 1),
            lambda: nn.SpatialSubSampling(2, 2, 2, 1, 2),
            lambda: nn.SpatialConvolutionLocal(2, 3, 4, 5, 2, 2, 1, 1, 1),
            lambda: nn.SpatialDepthWiseConvolution(2, 3, 2, 2, 1, 1, 1)]


@pytest.mark.parametrize('make', _all())
def test_roundtrip_and_float32(make, tmp_path):
    torch.manualSeed(1)
    m = make()
    x = rnd(2, 2, 5, 4)
    check_reloads(m, x, tmp_path)
    torch.manualSeed(1)
    m64 = make().double()
    np.testing.assert_allclose(m.float().forward(x.astype(np.float32)).numpy(), m64.forward(x).numpy(),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize('make', _all())
def test_gpu_matches_cpu(make):
    check_gpu_made(make, rnd(2, 2, 5, 4), init_seed=2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('cls, n_fwd, n_bwd, n_gw', [(nn.SpatialConvolutionMap, 1, 4, 4),
                                                     (nn.SpatialFullConvolutionMap, 4, 1, 1)])
def test_conv_map_keeps_an_inf_to_its_connections(cls, n_fwd, n_bwd, n_gw):
    # THNN sums each connection into its own plane: an inf in input plane 0 (oneToOne table) reaches output plane 0
    # only, an inf of gradOutput plane 1 input plane 1 only; the one-hot matmuls' 0 * inf made NaN of every plane
    m = cls(nn.tables.oneToOne(3), 2, 2)
    m.weight.fill(1)
    m.bias.zero()
    x = np.ones((2, 3, 3, 3))
    x[1, 0, 0, 0] = np.inf
    with np.errstate(invalid='ignore'):
        y = m.forward(x).numpy()
    assert (~np.isfinite(y)).sum(axis=(2, 3)).tolist() == [[0, 0, 0], [n_fwd, 0, 0]]
    assert np.isposinf(y[1, 0, 0, 0])
    np.testing.assert_array_equal(y[1, 1:], y[0, 1:])
    g = np.ones(y.shape)
    g[0, 1, 0, 0] = np.inf
    m.zeroGradParameters()
    with np.errstate(invalid='ignore'):
        gi = m.backward(np.ones(x.shape), g).numpy()
    assert (~np.isfinite(gi)).sum(axis=(2, 3)).tolist() == [[0, n_bwd, 0], [0, 0, 0]]
    assert (~np.isfinite(m.gradWeight.numpy())).sum(axis=(1, 2)).tolist() == [0, n_gw, 0]
    assert np.isfinite(m.gradBias.numpy()).tolist() == [True, False, True]


@pytest.mark.gpu
@pytest.mark.parametrize('cls', [nn.SpatialConvolutionMap, nn.SpatialFullConvolutionMap])
def test_conv_map_on_cuda_does_not_wait_for_the_device(cls):
    # the CPU's test of each matmul's result for a NaN or inf (a sum read on the host) is left out on CUDA (cunn has
    # no such module): no sync per step
    import cupy
    if not hasattr(cupy, '_counters'):
        pytest.skip('a real CuPy: no sync counters (tests/fakecupy counts them)')
    torch.manualSeed(3)
    cpu = cls(nn.tables.random(3, 4, 2), 3, 3).float()
    x = rnd(2, 3, 6, 6).astype(np.float32)
    g = rnd(*cpu.forward(x).size()).astype(np.float32)
    want = cpu.forward(x).numpy().copy(), cpu.backward(x, g).numpy().copy()
    m = cpu.clone().cuda()
    xc, gc = torch.FloatTensor(x).cuda(), torch.FloatTensor(g).cuda()
    assert steady_step_counts(m, xc, gc, cupy._counters)[2] == 0
    np.testing.assert_allclose(m.forward(xc).float().numpy(), want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(m.backward(xc, gc).float().numpy(), want[1], rtol=1e-5, atol=1e-5)

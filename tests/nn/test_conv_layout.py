"""The batch-last layout the CPU convolutions hand on (backend/kernels.py): convolution, ReLU and max pooling outputs
and gradients of size (N, C, H, W) laid out in memory as (C, H, W, N).  Values must be exactly those of the
contiguous path (Torch7's), whatever layout comes in, and indices must stay Torch7's."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.backend import kernels
from nn_helpers import J, TOL, roundtrip


def _lenet(force=None, dtype='torch.DoubleTensor'):
    torch.manualSeed(7)
    c1, c2 = nn.SpatialConvolution(2, 4, 3, 3), nn.SpatialConvolution(4, 5, 3, 3)
    c1._force_layout = c2._force_layout = force
    net = nn.Sequential()
    for m in (c1, nn.ReLU(), nn.SpatialMaxPooling(2, 2), c2, nn.ReLU(), nn.SpatialMaxPooling(2, 2, 3, 3),
              nn.View(5 * 2 * 2), nn.Linear(20, 3)):
        net.add(m)
    return net.type(dtype)


def _run(net, x, g):
    net.zeroGradParameters()
    out = net.forward(x).clone()
    gi = net.backward(x, g).clone()
    return out.numpy(), gi.numpy(), [p.clone().numpy() for p in net.parameters()[1]], \
        [m.indices.clone().numpy() for m in net.modules if isinstance(m, nn.SpatialMaxPooling)]


def _scatter(idx, g, shape):
    """An independent pooling backward: g added at the flat in-plane positions idx (Torch7's indices)."""
    n, c, h, w = shape
    out = np.zeros((n * c, h * w))
    rows = np.repeat(np.arange(n * c), idx[0, 0].size)
    np.add.at(out, (rows, idx.reshape(-1)), g.reshape(-1))
    return out.reshape(shape)


def _batch(n=16, seed=0):
    rs = np.random.default_rng(seed)
    x = rs.standard_normal((n, 2, 16, 17))
    x[:, :, ::3] = 0.25          # ties inside pooling windows (the first maximum must win)
    return torch.DoubleTensor(x), torch.DoubleTensor(rs.standard_normal((n, 3)))


def test_layout_flows_batch_last_and_values_match_the_contiguous_path():
    x, g = _batch()
    fast, ref = _lenet(), _lenet('nfirst')
    a, b = _run(fast, x, g), _run(ref, x, g)
    for m in fast.modules[:6]:
        assert kernels.batch_last(m.output.numpy()), m
    for m in fast.modules[1:6]:
        assert kernels.batch_last(m.gradInput.numpy()), m
    assert not kernels.batch_last(fast.modules[0].gradInput.numpy())    # laid out as its (contiguous) input
    for m in ref.modules[:6]:
        assert m.output.isContiguous()
    for net in (fast, ref):
        for i in (2, 5):       # the poolings' gradInput against a scatter by their indices
            p, inp = net.modules[i], net.modules[i - 1].output.numpy()
            want = _scatter(p.indices.numpy(), net.modules[i + 1].gradInput.numpy(), inp.shape)
            np.testing.assert_array_equal(p.gradInput.numpy(), want)
            assert (p.gradInput.numpy() != 0).sum() <= p.output.numpy().size     # one winner per window
    np.testing.assert_array_equal(a[3][0], b[3][0])     # indices: Torch7's values
    np.testing.assert_array_equal(a[3][1], b[3][1])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-12, atol=1e-12)
    for p, q in zip(a[2], b[2]):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-12)


def test_small_batches_stay_contiguous():
    """Below kernels.BATCH_LAST_MIN examples the runs of N numbers are too short: Torch7's contiguous layout."""
    x, g = _batch(kernels.BATCH_LAST_MIN - 1)
    net = _lenet()
    _run(net, x, g)
    assert all(m.output.isContiguous() for m in net.modules)


def test_jacobians_through_the_batch_last_stack(monkeypatch):
    monkeypatch.setattr(kernels, 'BATCH_LAST_MIN', 2)
    x, _ = _batch(3)
    net = _lenet()
    net.forward(x)
    assert kernels.batch_last(net.modules[2].output.numpy())
    assert J.testJacobian(net, x) < TOL
    for p, gp in zip(*net.parameters()):
        assert J.testJacobianParameters(net, x, p, gp) < TOL


def test_user_batch_last_tensors_in_and_contiguous_ones_after():
    """A permuted (batch-last) tensor from a user, then a contiguous one of the same size, through each module."""
    rs = np.random.default_rng(3)
    xs = rs.standard_normal((4, 3, 8, 8))
    xs[:, :, 1::2, 1::2] = xs[:, :, ::2, ::2]      # ties
    g = rs.standard_normal((4, 3, 4, 4))
    bl = torch.DoubleTensor(np.ascontiguousarray(xs.transpose(1, 2, 3, 0))).permute(3, 0, 1, 2)
    assert kernels.batch_last(bl.numpy())
    for make in (lambda: nn.SpatialMaxPooling(2, 2), lambda: nn.SpatialMaxPooling(3, 3, 2, 2).ceil(),
                 lambda: nn.SpatialMaxPooling(2, 2, 2, 2, 1, 1)):
        ref = make().double()
        ro = ref.forward(torch.DoubleTensor(xs)).clone().numpy()
        gg = torch.DoubleTensor(rs.standard_normal(ro.shape))
        rg = ref.backward(torch.DoubleTensor(xs), gg).clone().numpy()
        m = make().double()
        for inp in (bl, torch.DoubleTensor(xs), bl):
            np.testing.assert_array_equal(m.forward(inp).numpy(), ro)
            np.testing.assert_array_equal(m.indices.numpy(), ref.indices.numpy())
            np.testing.assert_array_equal(m.backward(inp, gg).numpy(), rg)
    relu, ref = nn.ReLU().double(), nn.ReLU().double()
    for inp in (bl, torch.DoubleTensor(xs)):
        np.testing.assert_array_equal(relu.forward(inp).numpy(), np.maximum(xs, 0))
        gg = torch.DoubleTensor(rs.standard_normal(xs.shape))
        np.testing.assert_array_equal(relu.backward(inp, gg).numpy(), gg.numpy() * (xs > 0))
    conv, cref = nn.SpatialConvolution(3, 2, 3, 3).double(), None
    cref = conv.clone()
    cref._force_layout = 'nfirst'
    for inp in (bl, torch.DoubleTensor(xs)):
        np.testing.assert_allclose(conv.forward(inp).numpy(), cref.forward(torch.DoubleTensor(xs)).numpy(),
                                   rtol=1e-12, atol=1e-12)
        go = torch.DoubleTensor(rs.standard_normal(conv.output.size()))
        np.testing.assert_allclose(conv.backward(inp, go).numpy(), cref.backward(torch.DoubleTensor(xs), go).numpy(),
                                   rtol=1e-12, atol=1e-12)


def test_pooling_backward_by_code_follows_replaced_indices():
    """Indices set by hand (or loaded) route the gradient, not the kept code of the last forward."""
    x, _ = _batch(4)
    x2, _ = _batch(4, seed=1)
    m, other = nn.SpatialMaxPooling(2, 2).double(), nn.SpatialMaxPooling(2, 2).double()
    y = m.forward(x)
    other.forward(x2)
    g = torch.DoubleTensor(np.random.default_rng(5).standard_normal(y.size()))
    want = other.backward(x2, g).clone().numpy()
    assert not np.array_equal(m.backward(x, g).numpy(), want)
    m.indices = other.indices.clone()
    np.testing.assert_array_equal(m.backward(x, g).numpy(), want)


def test_batch_last_indices_roundtrip_and_view(tmp_path):
    net = _lenet()
    x, g = _batch()
    net.forward(x)
    p = net.modules[5]
    assert kernels.batch_last(p.indices.numpy()) and kernels.batch_last(p.output.numpy())
    back = roundtrip(p, tmp_path)
    np.testing.assert_array_equal(back.indices.numpy(), p.indices.numpy())
    # View after the last pooling copies: Torch7's (N, C*H*W) order
    np.testing.assert_array_equal(net.modules[6].output.numpy(), p.output.numpy().reshape(16, -1))


@pytest.mark.parametrize('n', [8, 16])
@pytest.mark.parametrize('layout', [None, 'nfirst', 'nlast'])
def test_float32_lenet_step_matches_across_layouts(layout, n):
    x, g = _batch(n)
    a = _run(_lenet(layout, 'torch.FloatTensor'), x.float(), g.float())
    b = _run(_lenet('nfirst', 'torch.DoubleTensor'), x, g)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-4, atol=1e-5)
    for p, q in zip(a[2], b[2]):
        np.testing.assert_allclose(p, q, rtol=1e-3, atol=1e-4)


def _indices_loop(x, kH, kW, dH, dW, padH, padW, oh, ow):
    """Torch7's indices by loops: the first maximum of each window in row-major order (padding never wins)."""
    n, c, H, W = x.shape
    out = np.empty((n, c, oh, ow), np.int64)
    for i in range(n):
        for j in range(c):
            for oy in range(oh):
                for ox in range(ow):
                    best, where = -np.inf, -1
                    for y in range(oy * dH - padH, oy * dH - padH + kH):
                        for xx in range(ox * dW - padW, ox * dW - padW + kW):
                            if 0 <= y < H and 0 <= xx < W and x[i, j, y, xx] > best:
                                best, where = x[i, j, y, xx], y * W + xx
                    out[i, j, oy, ox] = where
    return out


@pytest.mark.parametrize('geom', [(2, 2, 2, 2, 0, 0), (3, 2, 2, 2, 0, 0), (3, 3, 2, 2, 1, 1), (2, 3, 3, 1, 0, 1)])
def test_indices_against_loops_wide_planes(geom):
    """Planes wider than 255 (the winner's offset no longer fits a byte) and both layouts."""
    kW, kH, dW, dH, padW, padH = geom
    x = np.round(np.random.default_rng(4).standard_normal((3, 2, 5, 300)), 1)     # ties
    m = nn.SpatialMaxPooling(*geom).double()
    for inp in (torch.DoubleTensor(x),
                torch.DoubleTensor(np.ascontiguousarray(x.transpose(1, 2, 3, 0))).permute(3, 0, 1, 2)):
        m.forward(inp)
        oh, ow = m.output.size()[2:]
        np.testing.assert_array_equal(m.indices.numpy(), _indices_loop(x, kH, kW, dH, dW, padH, padW, oh, ow))
        g = np.random.default_rng(1).standard_normal(m.output.size())
        want = _scatter(m.indices.numpy(), g, x.shape)
        np.testing.assert_array_equal(m.backward(inp, torch.DoubleTensor(g)).numpy(), want)


def _pool_pair(shape=(4, 3, 6, 6)):
    x = np.random.default_rng(8).standard_normal(shape)
    x2 = np.random.default_rng(9).standard_normal(shape)
    ref = nn.SpatialMaxPooling(2, 2).double()
    ref.forward(torch.DoubleTensor(x2))
    want2 = ref.indices.clone().numpy()
    ref.forward(torch.DoubleTensor(x))
    return torch.DoubleTensor(x), torch.DoubleTensor(x2), ref.indices.clone().numpy(), want2


@pytest.mark.parametrize('shape', [(4, 3, 6, 6), (8, 8, 24, 24)])     # small, and big (a cache-aligned storage)
@pytest.mark.parametrize('hold', ['tensor', 'view', 'storage', 'array', 'array view', 'unpooling'])
def test_indices_held_outside_stay_current(hold, shape):
    """Indices may be written lazily (a training step never reads them), but never where someone holds them."""
    x, x2, want, want2 = _pool_pair(shape)
    m = nn.SpatialMaxPooling(2, 2).double()
    m.forward(x)
    t = m.indices
    held = {'tensor': lambda: t, 'view': lambda: t.view(-1), 'storage': lambda: t.storage(),
            'array': lambda: t.numpy(), 'array view': lambda: t.numpy()[1:],
            'unpooling': lambda: nn.SpatialMaxUnpooling(m)}[hold]()
    del t
    if hold == 'unpooling':
        held.forward(m.output)
    m.forward(x2)
    got = {'tensor': lambda: held.numpy(), 'view': lambda: held.numpy().reshape(want.shape),
           'storage': lambda: np.asarray(held.tolist()).reshape(want.shape),
           'array': lambda: held, 'array view': lambda: held, 'unpooling': lambda: held.indices.numpy()}[hold]()
    np.testing.assert_array_equal(got, want2[1:] if hold == 'array view' else want2)


def test_pending_indices_are_written_when_read_converted_saved_or_cloned(tmp_path):
    x, x2, want, want2 = _pool_pair()
    m = nn.SpatialMaxPooling(2, 2).double()
    m.forward(x2)
    m.forward(x)
    assert m.__dict__.get('_idx_pending') is not None        # a lazy forward (nothing held the indices)
    np.testing.assert_array_equal(roundtrip(m, tmp_path).indices.numpy(), want)
    m.forward(x2)
    c = m.clone()
    np.testing.assert_array_equal(c.indices.numpy(), want2)
    m.forward(x)
    np.testing.assert_array_equal(m.float().indices.numpy(), want)
    m.double().forward(x2)
    m.__dict__.pop('_code_of')           # the backward falls back on the indices: they are written first
    g = torch.DoubleTensor(np.random.default_rng(2).standard_normal(m.output.size()))
    np.testing.assert_array_equal(m.backward(x2, g).numpy(), _scatter(want2, g.numpy(), x2.size()))


def test_switching_layouts_on_one_module():
    """A module that made batch-last fields and then runs a contiguous pass of the same size (another layout
    forced, a contiguous input) writes fresh contiguous fields, not into the batch-last ones."""
    rs = np.random.default_rng(6)
    x = torch.DoubleTensor(rs.standard_normal((16, 3, 8, 8)))
    conv = nn.SpatialConvolution(3, 2, 3, 3).double()
    conv._force_layout = 'nlast'
    conv._feeds_next = x._a              # as inside a Sequential, which records the input array it passes
    a = conv.updateOutput(x).clone().numpy()
    assert kernels.batch_last(conv.output.numpy())
    g = torch.DoubleTensor(rs.standard_normal(a.shape))
    ga = conv.backward(x, g).clone().numpy()
    conv._force_layout = 'nfirst'
    np.testing.assert_allclose(conv.forward(x).numpy(), a, rtol=1e-12, atol=1e-12)
    assert conv.output.isContiguous()
    np.testing.assert_allclose(conv.backward(x, g).numpy(), ga, rtol=1e-12, atol=1e-12)
    relu = nn.ReLU().double()
    bl = torch.DoubleTensor(np.ascontiguousarray(x.numpy().transpose(1, 2, 3, 0))).permute(3, 0, 1, 2)
    relu._feeds_next = bl._a
    relu.updateOutput(bl)
    relu.backward(bl, x)
    assert kernels.batch_last(relu.output.numpy()) and kernels.batch_last(relu.gradInput.numpy())
    np.testing.assert_array_equal(relu.forward(x).numpy(), np.maximum(x.numpy(), 0))
    np.testing.assert_array_equal(relu.backward(x, x).numpy(), x.numpy() * (x.numpy() > 0))
    assert relu.output.isContiguous() and relu.gradInput.isContiguous()


def test_outputs_handed_to_the_caller_stay_contiguous():
    """Only an output that feeds the next module of a Sequential is batch-last: a module called on its own and the
    last module of a Sequential hand Torch7's contiguous output to the caller, who may view() it, as in Lua."""
    x = torch.DoubleTensor(np.random.default_rng(7).standard_normal((16, 1, 10, 10)))
    conv = nn.SpatialConvolution(1, 4, 3, 3).double()
    assert conv.forward(x).isContiguous() and conv.forward(x).view(16, -1).size() == (16, 256)
    net = nn.Sequential().add(nn.SpatialConvolution(1, 4, 3, 3)).add(nn.ReLU()).add(nn.SpatialMaxPooling(2, 2))
    net.add(nn.SpatialConvolution(4, 3, 2, 2)).add(nn.ReLU()).double()
    y = net.forward(x)
    assert y.isContiguous() and y.view(16, -1).size() == (16, 27)
    assert kernels.batch_last(net.get(0).output.numpy()) and kernels.batch_last(net.get(2).output.numpy())
    ref = x.numpy()
    for m in net.modules:              # the same modules called one by one: contiguous all the way, same values
        ref = m.forward(torch.DoubleTensor(np.ascontiguousarray(ref))).numpy().copy()
        assert m.output.isContiguous()
    np.testing.assert_allclose(net.forward(x).numpy(), ref, rtol=1e-12, atol=1e-12)
    g = torch.DoubleTensor(np.ones((16, 3, 3, 3)))
    assert net.backward(x, g).isContiguous()


def test_a_module_reused_outside_its_sequential_hands_on_contiguous_output():
    """A module that fed the next one inside a Sequential, then called by another container (a Concat here, or a
    gModule) with another input, gives its caller Torch7's contiguous output; clones do not copy the input."""
    x = torch.DoubleTensor(np.random.default_rng(8).standard_normal((16, 1, 10, 10)))
    conv, relu = nn.SpatialConvolution(1, 4, 3, 3), nn.ReLU()
    net = nn.Sequential().add(conv).add(relu).add(nn.SpatialMaxPooling(2, 2)).double()
    net.forward(x)
    assert kernels.batch_last(conv.output.numpy())
    cat = nn.Concat(1).add(conv).double()
    y = cat.forward(x.clone())
    assert conv.output.isContiguous() and y.view(16, -1).size() == (16, 256)
    np.testing.assert_allclose(y.numpy(), nn.Sequential().add(conv).double().forward(x).numpy())
    assert '_feeds_next' not in conv.clone().__dict__


def test_an_array_taken_from_a_field_keeps_its_values_when_the_layout_switches():
    """conv.output.numpy() after a module's own forward, then a Sequential forward that lays the output out
    batch-last: the array taken keeps the values it had (the field gets a fresh tensor, not a re-laid storage)."""
    x = torch.DoubleTensor(np.random.default_rng(9).standard_normal((16, 1, 8, 8)))
    conv = nn.SpatialConvolution(1, 3, 3, 3).double()
    held = conv.forward(x).numpy()
    want = held.copy()
    nn.Sequential().add(conv).add(nn.ReLU()).double().forward(x)
    assert kernels.batch_last(conv.output.numpy())
    np.testing.assert_array_equal(held, want)

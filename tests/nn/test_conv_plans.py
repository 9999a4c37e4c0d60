"""What the CPU convolutions keep between calls (conv.py's per-input plans, kernels.im2col_plan / col2im_plan, the
cache-line aligned buffers): results must be, bit for bit, those of a module that computes everything afresh,
whatever changes between calls -- the values in the same input array, its size, the module's geometry, its fields."""
import copy

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import backend, nn
from luatorch_py.backend import kernels

from nn_helpers import to_cuda


def bits(a):
    a = np.ascontiguousarray(a.numpy() if hasattr(a, 'numpy') else a)
    return a.view(np.uint8 if a.dtype.itemsize == 1 else {4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def assert_same_bits(got, want):
    assert got.shape == want.shape
    np.testing.assert_array_equal(bits(got), bits(want))


def conv_like(m, **fields):
    """A new SpatialConvolution with m's arguments (``fields`` changed) and a copy of its parameters."""
    args = dict(nInputPlane=m.nInputPlane, nOutputPlane=m.nOutputPlane, kW=m.kW, kH=m.kH, dW=m.dW, dH=m.dH,
                padW=m.padW, padH=m.padH)
    args.update(fields)
    f = nn.SpatialConvolution(**args).type(m.type())
    f.weight.copy(m.weight)
    f.bias.copy(m.bias)
    return f


def passes(m, x, g):
    """output, gradInput, gradWeight, gradBias of one forward + backward from zeroed gradients (copies)."""
    m.zeroGradParameters()
    out = m.forward(x).clone()
    gi = m.backward(x, g)
    gi = None if gi is None else gi.clone()
    return [out, gi, m.gradWeight.clone(), m.gradBias.clone()]


def assert_passes_equal(a, b):
    for u, v in zip(a, b):
        if u is None or v is None:
            assert u is None and v is None
        else:
            assert_same_bits(u.numpy(), v.numpy())


def f32(*shape, seed):
    return torch.FloatTensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def test_same_input_array_with_new_values_sizes_and_geometry():
    """One module called again and again on one input tensor whose values, then size, change; then with its
    padding, stride and gradInput field changed: each pass equals a fresh module's."""
    torch.manualSeed(1)
    m = nn.SpatialConvolution(3, 4, 3, 3).float()
    x = f32(5, 3, 9, 8, seed=0)
    for seed in range(3):         # new values in the very same array
        x.copy(f32(5, 3, 9, 8, seed=seed))
        g = f32(5, 4, 7, 6, seed=10 + seed)
        assert_passes_equal(passes(m, x, g), passes(conv_like(m), x, g))
    x.resize(2, 3, 9, 8).copy(f32(2, 3, 9, 8, seed=4))        # a new size, in the same tensor
    g = f32(2, 4, 7, 6, seed=5)
    assert_passes_equal(passes(m, x, g), passes(conv_like(m), x, g))
    m.padW = m.padH = 1                                          # Torch7's fields, edited between calls
    g = f32(2, 4, 9, 8, seed=6)
    assert_passes_equal(passes(m, x, g), passes(conv_like(m), x, g))
    m.dW = 2
    g = f32(2, 4, 9, 4, seed=7)
    assert_passes_equal(passes(m, x, g), passes(conv_like(m), x, g))
    m.gradInput = torch.FloatTensor()                            # a new gradInput tensor
    assert_passes_equal(passes(m, x, g), passes(conv_like(m), x, g))
    m.weight = f32(4, 3, 3, 3, seed=8)                           # a new weight tensor
    assert_passes_equal(passes(m, x, g), passes(conv_like(m), x, g))


def test_backward_uses_the_columns_of_its_own_input():
    """accGradParameters reuses updateOutput's columns only for the array they were made from."""
    torch.manualSeed(2)
    m = nn.SpatialConvolution(2, 3, 3, 3).float()
    x, y = f32(4, 2, 6, 6, seed=0), f32(4, 2, 6, 6, seed=1)
    g = f32(4, 3, 4, 4, seed=2)
    m.forward(x)
    m.zeroGradParameters()
    m.backward(y, g)            # columns of y, not the x of the forward
    f = conv_like(m)
    f.forward(y)
    f.zeroGradParameters()
    f.backward(y, g)
    assert_same_bits(m.gradWeight.numpy(), f.gradWeight.numpy())
    x.copy(y)                   # the forward's array, with other values: Torch7 uses the forward's columns
    m.forward(x)
    x.copy(f32(4, 2, 6, 6, seed=3))
    m.zeroGradParameters()
    m.accGradParameters(x, g)
    assert_same_bits(m.gradWeight.numpy(), f.gradWeight.numpy())


def lenet(n_in=1):
    torch.manualSeed(3)
    net = nn.Sequential()
    for mod in (nn.SpatialConvolution(n_in, 6, 5, 5), nn.ReLU(), nn.SpatialMaxPooling(2, 2, 2, 2),
                nn.SpatialConvolution(6, 8, 3, 3), nn.ReLU(), nn.SpatialMaxPooling(2, 2, 2, 2), nn.View(8 * 2 * 2),
                nn.Linear(32, 5)):
        net.add(mod)
    return net.float()


def net_passes(net, x, g):
    net.zeroGradParameters()
    out = net.forward(x).clone()
    gi = net.backward(x, g).clone()
    return [out, gi] + [t.clone() for t in net.parameters()[1]]


def test_batch_last_net_steps_equal_a_fresh_nets():
    """A batch-last LeNet (batch 16: the convolutions keep their plans and the direct col2im into the batch-last
    gradInput) stepped on one input tensor with new values, equals a fresh copy each step; so does its clone."""
    net = lenet()
    x = f32(16, 1, 16, 16, seed=0)
    for seed in range(3):
        x.copy(f32(16, 1, 16, 16, seed=seed))
        g = f32(16, 5, seed=20 + seed)
        fresh = lenet()
        for p, q in zip(fresh.parameters()[0], net.parameters()[0]):
            p.copy(q)
        assert not kernels.batch_last(fresh.get(3).output._a)
        got = net_passes(net, x, g)
        assert kernels.batch_last(net.get(3).output._a) and kernels.batch_last(net.get(3).gradInput._a)
        for a, b in zip(got, net_passes(fresh, x, g)):
            assert_same_bits(a.numpy(), b.numpy())
    c = net.clone()
    assert not [k for mod in c.modules for k in mod.__dict__ if k.startswith('_hot_')]
    assert_passes_equal(net_passes(c, x, g), net_passes(net, x, g))
    d = copy.deepcopy(net)                  # the kept plans (closures over the original's arrays) are not copied
    assert_passes_equal(net_passes(d, x, g), net_passes(net, x, g))


def test_type_conversion_after_a_pass():
    torch.manualSeed(4)
    m = nn.SpatialConvolution(2, 3, 3, 3).float()
    x = f32(3, 2, 5, 5, seed=0)
    g = f32(3, 3, 3, 3, seed=1)
    passes(m, x, g)
    m.double()
    assert not [k for k in m.__dict__ if k.startswith('_hot_')]
    got = passes(m, x.double(), g.double())
    assert got[0].type() == 'torch.DoubleTensor'
    assert_passes_equal(got, passes(conv_like(m), x.double(), g.double()))


@pytest.mark.parametrize('layout', ['nfirst', 'nlast'])
@pytest.mark.parametrize('pad', [0, 1])
def test_col2im_sums_from_positive_zero(layout, pad):
    """Each input position's sum starts from +0.0, as Torch7's zeroed accumulator: columns of -0.0 give +0.0."""
    x = np.zeros((2, 3, 5, 6), np.float32)
    cols = kernels.im2col(x, (3, 2), 1, pad, 1, layout)
    out = np.full(x.shape, np.nan, np.float32)
    kernels.col2im(np.full(cols.shape, -0.0, np.float32), out, (3, 2), 1, pad, 1, layout)
    assert_same_bits(out, np.zeros(x.shape, np.float32))
    y = np.random.default_rng(0).standard_normal(cols.shape).astype(np.float32)
    y[::3] = -0.0
    kernels.col2im(y, out, (3, 2), 1, pad, 1, layout)
    acc = np.zeros((2, 3, 5 + 2 * pad, 6 + 2 * pad), np.float32)      # the sums in kernel-offset order, by loops
    osz = kernels.out_sizes((5, 6), (3, 2), 1, pad)
    c6 = y.reshape((3, 3, 2) + (((2,) + osz) if layout == 'nfirst' else (osz + (2,))))
    for ki in range(3):
        for kj in range(2):
            part = c6[:, ki, kj] if layout == 'nfirst' else np.moveaxis(c6[:, ki, kj], -1, 0)
            part = np.swapaxes(part, 0, 1) if layout == 'nfirst' else part
            acc[:, :, ki:ki + osz[0], kj:kj + osz[1]] += part
    assert_same_bits(out, acc[:, :, pad:pad + 5, pad:pad + 6])


@pytest.mark.parametrize('case', [('nlast', 0, False), ('nlast', 1, False), ('nlast', 0, True), ('nfirst', 0, False),
                                  ('nfirst', 1, False)])
def test_kept_im2col_and_col2im_plans_follow_new_values(case):
    """A plan kept and run again after its arrays got new values gives what a fresh im2col / col2im gives."""
    layout, pad, batch_last_in = case
    rs = np.random.default_rng(1)
    n, c, h, w = 16, 3, 7, 6
    mem = np.empty((c, h, w, n) if batch_last_in else (n, c, h, w), np.float32)
    x = np.moveaxis(mem, 3, 0) if batch_last_in else mem         # (N, C, H, W), batch-last or contiguous
    assert kernels.batch_last(x) == batch_last_in
    buf = {}

    def buffer(name, shape):
        if name not in buf or buf[name].shape != shape:
            buf[name] = np.full(shape, np.nan, np.float32)       # garbage where nothing is written
        return buf[name]
    fill = fold = None
    for seed in range(3):
        x[...] = rs.standard_normal(x.shape)
        fill = fill or kernels.im2col_plan(x, (3, 2), 1, pad, 1, layout, buffer, '_cols')
        cols = fill()
        assert_same_bits(cols, kernels.im2col(x.copy(), (3, 2), 1, pad, 1, layout))
        y = rs.standard_normal(cols.shape).astype(np.float32)
        out = np.moveaxis(np.empty_like(mem), 3, 0) if batch_last_in else np.empty_like(x)
        want = np.empty(x.shape, np.float32)
        kernels.col2im(y, want, (3, 2), 1, pad, 1, layout)
        if fold is None:
            dy, dout = y, out
            fold = kernels.col2im_plan(dy, dout, (3, 2), 1, pad, 1, layout, buffer, '_col2im')
        dy[...] = y
        assert fold() is dout
        assert_same_bits(dout, want)


def test_empty_aligned():
    for shape, dtype in [((3, 5), np.float32), ((7,), np.float64), ((2, 0, 3), np.float32), ((), np.int64),
                         ((4, 3, 2), np.uint8)]:
        a = backend.empty_aligned(shape, dtype)
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
        assert a.size == 0 or backend.address(a) % backend.CACHE_LINE == 0
        a[...] = 1
        assert (a == 1).all()


def test_conv_buffers_are_cache_line_aligned():
    torch.manualSeed(5)
    m = nn.SpatialConvolution(2, 3, 3, 3, 1, 1, 1).float()
    x = f32(4, 2, 6, 6, seed=0)
    m.forward(x)
    m.updateGradInput(x, f32(4, 3, 6, 6, seed=1))       # (backward writes the gradInput's columns over _cols)
    names = [k for k, v in m.__dict__.items() if isinstance(v, np.ndarray) and v.size > 1 and k in
             ('_cols', '_cols_pad', '_dcols', '_col2im', '_gm', '_res')]
    assert {'_cols', '_cols_pad', '_dcols'} <= set(names)
    for k in names:
        assert backend.address(m.__dict__[k]) % backend.CACHE_LINE == 0, k


@pytest.mark.gpu
def test_kept_plans_on_gpu_follow_new_values_and_sizes():
    torch.manualSeed(6)
    cpu = nn.SpatialConvolution(3, 4, 3, 3, 1, 1, 1).float()
    gpu = cpu.clone().cuda()
    for layout in ('nfirst', 'nlast'):
        cpu._force_layout = gpu._force_layout = layout
        xc = torch.FloatTensor(4, 3, 6, 5).cuda()
        for shape, seed in [((4, 3, 6, 5), 0), ((4, 3, 6, 5), 1), ((2, 3, 6, 5), 2)]:
            x = np.random.default_rng(seed).standard_normal(shape)
            g = np.random.default_rng(seed + 10).standard_normal((shape[0], 4) + shape[2:])
            xc.resize(*shape).copy(to_cuda(x))       # the same CUDA tensor, new values then a new size
            want = passes(cpu, torch.FloatTensor(x.astype(np.float32)), torch.FloatTensor(g.astype(np.float32)))
            got = passes(gpu, xc, to_cuda(g))
            for a, b in zip(got, want):
                np.testing.assert_allclose(a.float().numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('pad', [0, 1])
def test_backward_writes_the_grad_columns_over_the_forward_columns(pad):
    """backward computes the gradients first, then the gradInput's columns in the forward's column buffer (no
    second buffer); values as Module's order (updateGradInput, then accGradParameters), and columns asked for
    again afterwards (another accGradParameters on the same input) are made again, not read spent."""
    torch.manualSeed(8)
    m = nn.SpatialConvolution(3, 4, 3, 3, 1, 1, pad).float()
    ref = m.clone()
    x = f32(5, 3, 7, 6, seed=2)
    g = f32(*m.forward(x).size(), seed=3)
    ref.forward(x)
    for _ in range(2):
        m.zeroGradParameters()
        ref.zeroGradParameters()
        gi = m.backward(x, g).clone().numpy()
        want = ref.updateGradInput(x, g).clone().numpy()
        ref.accGradParameters(x, g)
        np.testing.assert_array_equal(gi, want)
        np.testing.assert_array_equal(m.gradWeight.numpy(), ref.gradWeight.numpy())
        np.testing.assert_array_equal(m.gradBias.numpy(), ref.gradBias.numpy())
    assert '_dcols' not in m.__dict__ and '_dcols' in ref.__dict__
    m.accGradParameters(x, g)              # after backward: the columns are made again from x
    ref.accGradParameters(x, g)
    np.testing.assert_array_equal(m.gradWeight.numpy(), ref.gradWeight.numpy())
    one = nn.SpatialConvolution(3, 4, 1, 1).float()      # 1x1: the columns are a view of the input, never spent
    x1 = f32(5, 3, 4, 4, seed=4)
    before = x1.clone().numpy()
    one.forward(x1)
    one.backward(x1, f32(5, 4, 4, 4, seed=5))
    np.testing.assert_array_equal(x1.numpy(), before)


@pytest.mark.gpu
def test_backward_on_gpu_reads_each_steps_grad_output():
    """backward's gradients-first order on the GPU (gradOutput copied to a column matrix, layout 'nlast'): the
    same gradOutput tensor refilled with new values each step must not meet the copy an earlier step kept."""
    torch.manualSeed(9)
    m = nn.SpatialConvolution(3, 4, 3, 3).float()
    m._force_layout = 'nlast'
    gpu, ref = m.clone().cuda(), m.clone()
    x = f32(4, 3, 6, 6, seed=0)
    xg = x.cuda()
    g = torch.FloatTensor(4, 4, 4, 4).cuda()
    for step in range(3):
        gh = f32(4, 4, 4, 4, seed=10 + step)
        g.copy(gh.cuda())
        for mod, xx, gg in ((gpu, xg, g), (ref, x, gh)):
            mod.zeroGradParameters()
            mod.forward(xx)
            mod.backward(xx, gg)
        np.testing.assert_allclose(gpu.gradWeight.float().numpy(), ref.gradWeight.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(gpu.gradInput.float().numpy(), ref.gradInput.numpy(), rtol=1e-5, atol=1e-5)

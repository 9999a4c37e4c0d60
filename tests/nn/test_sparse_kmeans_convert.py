"""SparseLinear (luatorch_py/nn/sparse.py), Kmeans (misc_linear.py) and Convert (convert.py)."""
import math

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.random import Generator

from nn_helpers import J, TOL, D, check_reloads, draws, rnd, to_cuda


def T(a):
    return torch.DoubleTensor(np.asarray(a, dtype=np.float64))


# -- SparseLinear ----------------------------------------------------------------------------------------------------
SPARSE = [[[0, 1.5], [4, -2.0], [0, 0.5]], [[5, 1.0]], [[2, 3.0], [1, -1.0]]]     # (index, value) rows, 0-based


def _dense(examples, n):
    d = np.zeros((len(examples), n))
    for b, ex in enumerate(examples):
        for i, v in ex:
            d[b, int(i)] += v                    # a repeated index adds up
    return d


def test_sparse_linear_values_and_gradients(tmp_path):
    torch.manualSeed(6)
    m = nn.SparseLinear(6, 3).double()
    s = 1 / math.sqrt(6)
    d = draws(6, 21, -s, s)                      # weight, then bias (times 1e-6), as Torch7's reset
    np.testing.assert_allclose(m.weight.numpy().reshape(-1), d[:18], rtol=1e-15)
    np.testing.assert_allclose(m.bias.numpy(), d[18:] * 1e-6, rtol=1e-15)
    m.bias.copy(T(rnd(3, seed=1)))
    x = [T(e) for e in SPARSE]
    dense = _dense(SPARSE, 6)
    w, b = m.weight.numpy(), m.bias.numpy()
    y = m.forward(x).numpy()
    for r in range(3):
        for j in range(3):
            assert y[r, j] == pytest.approx(sum(w[j, k] * dense[r, k] for k in range(6)) + b[j], rel=1e-13)
    np.testing.assert_allclose(m.forward(x[1]).numpy(), y[1], rtol=1e-14)              # one example
    np.testing.assert_allclose(m.forward(T([SPARSE[0], [[3, 2.0], [3, 0.0], [3, 0.0]]])).numpy()[0], y[0],
                               rtol=1e-14)                                               # legacy batch x nnz x 2
    # parameter gradients against finite differences (the input kept: its indices must stay integers)
    for p, g in zip(*m.parameters()):
        assert J.testJacobianParameters(m, x, p, g, randomize=False) < TOL
    go = rnd(3, 3, seed=2)
    m.zeroGradParameters()
    m.forward(x)
    m.backward(x, T(go), 0.5)
    np.testing.assert_allclose(m.gradWeight.numpy(), 0.5 * go.T @ dense, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(m.gradBias.numpy(), 0.5 * go.sum(0), rtol=1e-13)
    m2 = check_reloads(m, x, tmp_path)
    assert m2.doGradInput is False and m2.weightDecay == 0


def test_sparse_linear_sparse_updates_and_grad_input():
    m = nn.SparseLinear(6, 2, True).double()
    x = [T(e) for e in SPARSE[:2]]                                  # columns 0, 4, 5 used
    w0 = m.weight.numpy().copy()
    m.gradWeight.fill(7)                                            # stale gradients in unused columns
    m.zeroGradParameters()                                          # no input yet: every column zeroed
    assert not m.gradWeight.numpy().any()
    m.forward(x)
    go = rnd(2, 2, seed=3)
    gi = m.backward(x, T(go))
    assert m.sparseUpdate == 1
    assert len(gi) == 2 and gi[0].size() == (6, 2)
    np.testing.assert_array_equal(gi[0].numpy()[:, 0], np.arange(6))
    np.testing.assert_allclose(gi[1].numpy()[:, 1], go[1] @ w0, rtol=1e-14)
    m.gradWeight.numpy()[:, 2] = 9                                  # an unused column: left alone by sparse ops
    m.updateParameters(0.1)
    dense = _dense(SPARSE[:2], 6)
    want = w0 - 0.1 * go.T @ dense
    np.testing.assert_allclose(m.weight.numpy()[:, [0, 4, 5]], want[:, [0, 4, 5]], rtol=1e-14)
    np.testing.assert_array_equal(m.weight.numpy()[:, 2], w0[:, 2])
    m.zeroGradParameters()
    assert (m.gradWeight.numpy()[:, 2] == 9).all() and not m.gradWeight.numpy()[:, [0, 4, 5]].any()
    m.weightDecay = 0.5
    m.gradWeight.zero()
    m.forward(x)
    m.backward(x, T(go))
    np.testing.assert_allclose(m.gradWeight.numpy(), go.T @ dense + 0.5 * m.weight.numpy(), rtol=1e-13)
    with pytest.raises(IndexError, match=r'\[0, 6\)'):
        m.forward(T([[6, 1.0]]))
    with pytest.raises(ValueError, match='nnz, 2'):
        m.forward(T(rnd(3, 3)))


def test_sparse_linear_skips_zero_values_as_thnn():
    # THNN skips entries of value 0 unchecked: a legacy batch padded with zero rows of Lua's index 0 (-1 here)
    m = nn.SparseLinear(6, 2).double()
    x = T([[[0, 1.5], [4, -2.0]], [[5, 1.0], [-1, 0.0]]])
    want = m.forward([T(SPARSE[0][:2]), T(SPARSE[1])]).numpy().copy()
    np.testing.assert_allclose(m.forward(x).numpy(), want, rtol=1e-15)
    m.zeroGradParameters()
    go = rnd(2, 2, seed=3)
    m.backward(x, T(go))
    np.testing.assert_allclose(m.gradWeight.numpy(), go.T @ _dense([SPARSE[0][:2], SPARSE[1]], 6), rtol=1e-14)
    m.zeroGradParameters()
    m.gradWeight.numpy()[:, 2] = 9
    m.forward(T([[2, 0.0], [1, 1.0]]))      # column 2 has value 0: not used, left alone by the sparse updates
    m.backward(T([[2, 0.0], [1, 1.0]]), T(go[0]))
    m.zeroGradParameters()
    assert (m.gradWeight.numpy()[:, 2] == 9).all() and not m.gradWeight.numpy()[:, 1].any()
    with pytest.raises(IndexError, match=r'\[0, 6\)'):
        m.forward(T([[-1, 1.0]]))


@pytest.mark.gpu
def test_sparse_linear_gpu_matches_cpu():
    torch.manualSeed(1)
    cpu = nn.SparseLinear(6, 3).float()
    torch.manualSeed(1)
    gpu = nn.SparseLinear(6, 3).cuda()
    x = [np.asarray(e) for e in SPARSE]
    y = cpu.forward([torch.FloatTensor(e.astype(np.float32)) for e in x])
    yc = gpu.forward(to_cuda(x))
    assert yc.type() == 'torch.CudaTensor'
    np.testing.assert_allclose(yc.float().numpy(), y.numpy(), rtol=1e-5)
    go = rnd(3, 3, seed=2)
    cpu.backward([torch.FloatTensor(e.astype(np.float32)) for e in x], torch.FloatTensor(go.astype(np.float32)))
    gpu.backward(to_cuda(x), to_cuda(go))
    np.testing.assert_allclose(gpu.gradWeight.float().numpy(), cpu.gradWeight.numpy(), rtol=1e-5, atol=1e-6)


# -- Kmeans ----------------------------------------------------------------------------------------------------------
def test_kmeans(tmp_path):
    torch.manualSeed(8)
    m = nn.Kmeans(3, 2).double()
    np.testing.assert_allclose(m.weight.numpy().reshape(-1), draws(8, 6, -1, 1), rtol=1e-15)
    x = rnd(10, 2)
    y = m.forward(T(x)).numpy()
    c = m.weight.numpy()
    loss = 0
    for i in range(10):
        d = [sum((x[i, k] - c[j, k]) ** 2 for k in range(2)) for j in range(3)]
        assert y[i] == int(np.argmin(d))                        # 0-based cluster indices
        loss += min(d)
    assert m.loss == pytest.approx(loss, rel=1e-13)
    m.zeroGradParameters()
    gi = m.backward(T(x), m.output)
    assert not gi.numpy().any()
    for j in range(3):
        members = [i for i in range(10) if y[i] == j]
        assert m.clusterSampleCount.numpy()[j] == len(members)
        want = -sum((x[i] - c[j] for i in members), np.zeros(2)) / (len(members) + 1e-7)
        np.testing.assert_allclose(m.gradWeight.numpy()[j], want, rtol=1e-12, atol=1e-15)
    m.updateParameters(1)                    # a step moves each centre to its samples' mean
    for j in range(3):
        members = [i for i in range(10) if y[i] == j]
        if members:
            np.testing.assert_allclose(m.weight.numpy()[j], x[members].mean(0), rtol=1e-6)
    check_reloads(m, T(x), tmp_path)


def test_kmeans_init():
    x = rnd(10, 2)
    m = nn.Kmeans(3, 2).double()
    torch.manualSeed(9)
    m.initRandom(T(x))
    g = Generator()
    g.manualSeed(9)
    rows = [g.random(1, 10) - 1 for _ in range(3)]           # Torch7's indices:random(1, n), then 1-based rows
    np.testing.assert_array_equal(m.weight.numpy(), x[rows])
    torch.manualSeed(9)
    m.initKmeansPlus(T(x), 0.5)
    g.manualSeed(9)
    first = g.random(10) - 1
    np.testing.assert_array_equal(m.weight.numpy()[0], x[first])
    for j in range(1, 3):                        # each next centre is one of the samples
        assert any((m.weight.numpy()[j] == r).all() for r in x)
    with pytest.raises(ValueError, match='at least k=3'):
        m.initRandom(T(x[:2]))
    with pytest.raises(ValueError, match="don't match"):
        m.forward(T(rnd(4, 3)))


# -- Convert ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('shapes, size, want', [
    (('bchw', 'bf'), (2, 3, 4, 5), lambda x: x.reshape(2, -1)),
    (('bchw', 'bhwc'), (2, 3, 4, 5), lambda x: x.transpose(0, 2, 3, 1)),
    (('chw', 'hwc'), (3, 4, 5), lambda x: x.transpose(1, 2, 0)),        # one example
    (('chwb', 'bf'), (3, 4, 5, 2), lambda x: x.transpose(3, 1, 2, 0).reshape(2, -1)),
    (('bf', 'b'), (4, 1), lambda x: x[:, 0]),
    (('b', 'bt'), (4,), lambda x: x.reshape(4, 1)),
    ((None, None), (2, 3), lambda x: x),
])
def test_convert(shapes, size, want, tmp_path):
    m = (nn.Convert(*shapes) if shapes[0] else nn.Convert()).double()
    x = rnd(*size)
    y = m.forward(T(x)).numpy()
    np.testing.assert_array_equal(y, want(x))
    assert m.converter is m.modules[0]
    assert J.testJacobian(m, D(*size)) < TOL
    check_reloads(m, T(x), tmp_path)


def test_convert_type_and_errors():
    m = nn.Convert().double()
    x = torch.FloatTensor(rnd(2, 3).astype(np.float32))
    y = m.forward(x)
    assert y.type() == 'torch.DoubleTensor'
    assert m.backward(x, T(np.ones((2, 3)))).type() == 'torch.FloatTensor'     # gradInput in the input's type
    m.clearState()                                  # drops the kept (converted) input; backward rebuilds it
    assert not {'_x', '_input_c', '_converted'} & set(m.__dict__)
    np.testing.assert_array_equal(m.backward(x, T(np.full((2, 3), 2.0))).numpy(), np.full((2, 3), 2, np.float32))
    f = nn.Convert('bchw', 'bf')
    assert (f.inputBatchDim, f.outputBatchDim, f.nInputDim, f.nOutputDim) == (0, 0, 4, 2)
    from luatorch_py.serialization import classes
    assert classes.lua_fields(nn.Convert('chwb', 'bf'))['inputBatchDim'] == 4
    with pytest.raises(ValueError, match='both or neither'):
        nn.Convert('b*', 'bf')
    with pytest.raises(ValueError, match='inputShape'):
        nn.Convert(None, 'bf')


# -- IndexLinear -----------------------------------------------------------------------------------------------------
KEYS = [[0, 4, 4], [9]]
VALS = [[1.0, 2.0, -3.0], [-1.5]]


def _il_input(kind):
    if kind == 'batch':
        return [[torch.LongTensor(k) for k in KEYS], [T(v) for v in VALS]]
    if kind == 'flat':
        return [torch.LongTensor(KEYS[0] + KEYS[1]), T(VALS[0] + VALS[1]), torch.LongTensor([3, 1])]
    return [torch.LongTensor(KEYS[0]), T(VALS[0])]                     # one example


@pytest.mark.parametrize('kind', ['batch', 'flat', 'single'])
@pytest.mark.parametrize('offset', [0, 1])
def test_index_linear_values_and_update(kind, offset, tmp_path):
    torch.manualSeed(3)
    m = nn.IndexLinear(11, 3, keysOffset=offset).double()
    assert not m.weight.numpy().any()            # the constructor leaves it at zero, as Torch7
    m.reset()
    m.bias.copy(T(rnd(3, seed=1)))
    x = _il_input(kind)
    y = m.forward(x).numpy()
    w, b = m.weight.numpy().copy(), m.bias.numpy().copy()
    n = 1 if kind == 'single' else 2
    want = np.zeros((n, 3))
    for e in range(n):
        for j in range(3):
            want[e, j] = b[j] + sum(w[k + offset, j] * v for k, v in zip(KEYS[e], VALS[e]))
    np.testing.assert_allclose(y.reshape(n, 3), want, rtol=1e-14)
    assert y.shape == ((3,) if kind == 'single' else (2, 3))
    # updateParameters after two accumulations = weight - lr * (d sum(output * g) / d weight) summed
    g = rnd(*y.shape, seed=2)
    jac = J.forward(m, x, m.weight)                                  # finite differences over the weight
    m.zeroGradParameters()
    m.forward(x)
    m.backward(x, T(g))
    m.backward(x, T(g), 0.5)
    m.updateParameters(0.1)
    np.testing.assert_allclose(m.weight.numpy().reshape(-1), w.reshape(-1) - 0.1 * 1.5 * (jac @ g.reshape(-1)),
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(m.bias.numpy(), b - 0.1 * 1.5 * g.reshape(n, 3).sum(0), rtol=1e-14)
    m.zeroGradParameters()
    before = m.weight.numpy().copy()
    m.updateParameters(0.1)                                          # nothing accumulated: nothing changes
    np.testing.assert_array_equal(m.weight.numpy(), before)
    m2 = check_reloads(m, x, tmp_path)
    assert m2.offset == offset
    from luatorch_py.serialization import classes
    assert classes.lua_fields(m)['offset'] == offset - 1             # Torch7's: keysOffset - 1, for 1-based keys


def test_index_linear_normalize():
    m = nn.IndexLinear(11, 2, normalize=True).double()
    m.reset()
    assert m.weight.size() == (11, 6) and not m.weight.numpy()[:, :4].any()
    m.weight.numpy()[4, 3] = 0.25                                    # a per-key bias
    x = _il_input('batch')
    w0 = m.weight.numpy().copy()
    y = m.forward(x).numpy()
    # key 4 sees |2| then |-3|: the first entry is normalized by 2, the second by 3 (THNN updates entry by entry)
    nv = [1.0, 2.0 / 2 + 0.25, -3.0 / 3 + 0.25, -1.0]
    rows = [0, 4, 4, 9]
    want = np.tile(m.bias.numpy(), (2, 1))
    for e, i in ((0, 0), (0, 1), (0, 2), (1, 3)):
        want[e] += nv[i] * w0[rows[i], 4:]
    np.testing.assert_allclose(y, want, rtol=1e-14)
    np.testing.assert_allclose(m.normalizedValues.numpy(), nv, rtol=1e-15)
    assert m.weight.numpy()[4, 0] == 3 and m.weight.numpy()[4, 1] == pytest.approx(1 / 3) and \
        m.weight.numpy()[4, 2] == 1
    m.evaluate()                                                     # beyond the max in evaluation: sign(value)
    ye = m.forward([torch.LongTensor([9]), T([-7.0])]).numpy()
    np.testing.assert_allclose(ye, m.bias.numpy() - 1 * m.weight.numpy()[9, 4:], rtol=1e-14)
    m.training()
    m.forward(x)
    w1 = m.weight.numpy().copy()
    g = rnd(2, 2, seed=4)
    m.zeroGradParameters()
    m.backward(x, T(g))
    m.updateParameters(0.5)
    want = w1.copy()
    egrad = [g[0], g[0], g[0], g[1]]
    for i, r in enumerate(rows):                                     # THNN's update, entry by entry
        s = want[r, 2]
        want[r, 3] -= 0.5 * s * float((egrad[i] * want[r, 4:]).sum())
        want[r, 4:] -= 0.5 * s * egrad[i] * m.normalizedValues.numpy()[i]
    np.testing.assert_allclose(m.weight.numpy(), want, rtol=1e-14)
    with pytest.raises(NotImplementedError, match='max-normalize'):
        nn.IndexLinear(3, 2, True, normalize=True).double().backward([torch.LongTensor([0]), T([1.0])], T([1, 1]))
    with pytest.raises(TypeError, match=r'nn.IndexLinear.*expected keys to be a tensor or a numpy array, got list'):
        nn.IndexLinear(3, 2).double().forward([[0], T([1.0]), [1]])


def test_index_linear_decay_acc_update_and_grad_input():
    torch.manualSeed(5)
    m = nn.IndexLinear(11, 3, True).double()
    m.reset()
    m.weightDecay = 0.1
    x = _il_input('batch')
    g = rnd(2, 3, seed=6)
    w = m.weight.numpy().copy()
    m.zeroGradParameters()
    m.forward(x)
    gi = m.backward(x, T(g))
    m.updateParameters(0.2)
    want = w.copy()
    for e in range(2):
        for k, v in zip(KEYS[e], VALS[e]):                          # decay per entry, then the step
            want[k] -= want[k] * 0.1
            want[k] -= 0.2 * v * g[e]
    np.testing.assert_allclose(m.weight.numpy(), want, rtol=1e-13, atol=1e-15)
    keys, grads = gi
    assert len(keys) == 2 and keys[0].numpy().tolist() == list(range(11))
    np.testing.assert_allclose(grads[1].numpy(), w @ g[1], rtol=1e-14)
    m.forward(_il_input('flat'))
    flat = m.backward(_il_input('flat'), T(g))
    assert flat[0].size() == (2, 11) and flat[1].size() == (2, 11)
    # accUpdateGradParameters(lr) = the same update without touching the accumulated gradients
    a = nn.IndexLinear(11, 3).double()
    a.reset()
    b = a.clone()
    a.forward(x)
    a.accUpdateGradParameters(x, T(g), 0.3)
    b.zeroGradParameters()
    b.forward(x)
    b.backward(x, T(g))
    b.updateParameters(0.3)
    np.testing.assert_allclose(a.weight.numpy(), b.weight.numpy(), rtol=1e-14)
    np.testing.assert_allclose(a.bias.numpy(), b.bias.numpy(), rtol=1e-14)
    with pytest.raises(IndexError, match=r'\[0, 11\)'):
        a.forward([torch.LongTensor([11]), T([1.0])])


@pytest.mark.parametrize('kind', ['batch', 'flat', 'single'])
def test_index_linear_grad_input_without_forward(kind):
    # the layout flags come from a forward, and files omit them: an AttributeError ('isFlat') before
    torch.manualSeed(5)
    m = nn.IndexLinear(11, 3, True).double()
    m.reset()
    x = _il_input(kind)
    g = T(rnd(3, seed=6) if kind == 'single' else rnd(2, 3, seed=6))
    fresh, loaded = m.clone(), torch.deserialize(torch.serialize(m))
    m.forward(x)
    want = m.updateGradInput(x, g)
    for other in (fresh, loaded):
        got = other.updateGradInput(x, g)
        if kind == 'batch':
            for a, b in zip(got[1], want[1]):
                np.testing.assert_array_equal(a.numpy(), b.numpy())
        else:
            assert got[0].size() == want[0].size()
            np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    last = want[1][-1] if kind == 'batch' else want[1]
    np.testing.assert_allclose(last.numpy().reshape(-1, 11)[-1], m.weight.numpy() @ g.numpy().reshape(-1, 3)[-1],
                               rtol=1e-14)

@pytest.mark.gpu
def test_index_linear_gpu_matches_cpu():
    for normalize in (False, True):
        torch.manualSeed(1)
        cpu = nn.IndexLinear(11, 3, normalize=normalize).float()
        cpu.reset()
        gpu = cpu.clone().cuda()
        xc = [[torch.LongTensor(k) for k in KEYS], [torch.FloatTensor(np.float32(v)) for v in VALS]]
        xg = [[torch.LongTensor(k).cuda() for k in KEYS], [torch.FloatTensor(np.float32(v)).cuda() for v in VALS]]
        y, yc = cpu.forward(xc), gpu.forward(xg)
        assert yc.type() == 'torch.CudaTensor'
        np.testing.assert_allclose(yc.float().numpy(), y.numpy(), rtol=1e-5)
        g = rnd(2, 3, seed=2).astype(np.float32)
        for m, x, gt in ((cpu, xc, torch.FloatTensor(g)), (gpu, xg, torch.FloatTensor(g).cuda())):
            m.zeroGradParameters()
            m.backward(x, gt)
            m.updateParameters(0.1)
        np.testing.assert_allclose(gpu.weight.float().numpy(), cpu.weight.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
def test_kmeans_and_convert_gpu_match_cpu():
    from nn_helpers import check_gpu
    torch.manualSeed(2)
    cpu = nn.Kmeans(3, 2).float()
    gpu = cpu.clone().cuda()
    x = rnd(10, 2)
    y = cpu.forward(torch.FloatTensor(x.astype(np.float32)))
    yc = gpu.forward(to_cuda(x))
    assert yc.type() == 'torch.CudaTensor'
    np.testing.assert_array_equal(yc.float().numpy(), y.numpy())
    assert gpu.loss == pytest.approx(cpu.loss, rel=1e-5)
    for m, inp in ((cpu, torch.FloatTensor(x.astype(np.float32))), (gpu, to_cuda(x))):
        m.zeroGradParameters()
        m.backward(inp, m.output)
    np.testing.assert_allclose(gpu.gradWeight.float().numpy(), cpu.gradWeight.numpy(), rtol=1e-5, atol=1e-6)
    for shapes, size in ((('bchw', 'bf'), (2, 3, 4, 5)), (('bchw', 'bhwc'), (2, 3, 4, 5)), (('chw', 'hwc'), (3, 4, 5))):
        check_gpu(nn.Convert(*shapes).float(), nn.Convert(*shapes).cuda(), rnd(*size))

"""CAddTensorTable, CriterionTable, MixtureTable, ZipTable, ZipTableOneToMany, DepthConcat; ClassSimplexCriterion,
DistanceRatioCriterion, L1Cost, L1HingeEmbeddingCriterion, ModuleCriterion, WeightedMSECriterion; StochasticGradient;
Module.replace / flatten / shared, Container.applyToModules / rethrowErrors; PairwiseDistance's default p."""
import math

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.random import Generator

from nn_helpers import J, TOL, D, check_gpu, rnd, roundtrip


def arr(t):
    return t.numpy() if hasattr(t, 'numpy') else np.asarray(t)


# -- table modules --------------------------------------------------------------------------------------------
def test_caddtensortable():
    v, ts = rnd(3, 4), [rnd(3, 4, seed=i + 1) for i in range(3)]
    m = nn.CAddTensorTable()
    out = m.forward([v, ts])
    assert len(out) == 3
    for o, t in zip(out, ts):
        np.testing.assert_allclose(o.numpy(), t + v, rtol=0)
    gs = [rnd(3, 4, seed=10 + i) for i in range(3)]
    gv, gts = m.backward([v, ts], gs)
    np.testing.assert_allclose(gv.numpy(), sum(gs), rtol=1e-15)
    for g, want in zip(gts, gs):
        np.testing.assert_array_equal(g.numpy(), want)
    assert J.testJacobian(nn.CAddTensorTable(), [D(2, 3), [D(2, 3), D(2, 3)]]) < TOL
    # fewer entries on the next call: the tables shrink
    assert len(m.forward([v, ts[:1]])) == 1 and len(m.backward([v, ts[:1]], gs[:1])[1]) == 1


def test_criteriontable():
    c = nn.MSECriterion()
    m = nn.CriterionTable(c)
    x, t = rnd(4, 3), rnd(4, 3, seed=1)
    assert m.forward([x, t]) == pytest.approx(((x - t) ** 2).mean(), rel=1e-14)
    gi = m.backward([x, t], None)
    assert len(gi) == 1
    np.testing.assert_allclose(gi[0].numpy(), 2 * (x - t) / x.size, rtol=1e-14)


def mixture_ref(g, experts, dim, batch):
    """Loop reference: sum_i g[..., i] * expert_i."""
    n = g.shape[-1]
    es = experts if isinstance(experts, list) else [np.take(experts, i, axis=dim) for i in range(n)]
    out = np.zeros_like(es[0])
    for i, e in enumerate(es):
        for b in range(g.shape[0] if batch else 1):
            w = g[b, i] if batch else g[i]
            if batch:
                out[b] += w * e[b]
            else:
                out += w * e
    return out


@pytest.mark.parametrize('batch', [True, False])
@pytest.mark.parametrize('table', [True, False])
def test_mixturetable(batch, table):
    n = 3
    g = rnd(2, n) if batch else rnd(n)
    shape = (2, 4, 5) if batch else (4, 5)
    if table:
        experts = [rnd(*shape, seed=i + 1) for i in range(n)]
    else:
        experts = rnd(*((2, n, 4, 5) if batch else (n, 4, 5)), seed=7)
    m = nn.MixtureTable()
    out = m.forward([g, experts])
    assert m.dim == (1 if batch else 0)
    np.testing.assert_allclose(out.numpy(), mixture_ref(g, experts, m.dim, batch), rtol=1e-13)
    gin = [D(*g.shape), [D(*shape) for _ in range(n)] if table else D(*experts.shape)]
    assert J.testJacobian(nn.MixtureTable(), gin) < TOL


def test_mixturetable_dim_and_roundtrip(tmp_path):
    # experts along the last dim of a tensor (Lua's MixtureTable(3) on batch x 4 x n experts)
    g, e = rnd(2, 3), rnd(2, 4, 3, seed=1)
    m = nn.MixtureTable(2)
    want = np.einsum('bi,bki->bk', g, e)
    np.testing.assert_allclose(m.forward([g, e]).numpy(), want, rtol=1e-13)
    assert J.testJacobian(nn.MixtureTable(2), [D(2, 3), D(2, 4, 3)]) < TOL
    m2 = roundtrip(m, tmp_path)
    assert m2.dim == 2 and m2.dimG == 1
    np.testing.assert_allclose(m2.forward([g, e]).numpy(), want, rtol=1e-13)
    with pytest.raises(ValueError, match='one gater output per expert'):
        nn.MixtureTable().forward([g, [e[:, :, 0], e[:, :, 1]]])


def test_mixturetable_experts_of_one_dim():
    # n scalar experts as one vector: the mixture was a 0-dim tensor (printed "with no dimension", no gradOutput
    # fitted it); Torch7 fails there too.  As [n, 1] (or a batch, [b, n]) they mix into size [1] ([b])
    m = nn.MixtureTable()
    with pytest.raises(ValueError, match=r'nn.MixtureTable: expected the experts tensor \(input\[1\]\) to have '
                                         r'at least 2 dims .* got size \[2\]'):
        m.forward([np.array([0.25, 0.75]), np.array([1.0, 2.0])])
    out = nn.MixtureTable().forward([np.array([0.25, 0.75]), np.array([[1.0], [2.0]])])
    assert out.size().tolist() == [1] and out.numpy().tolist() == [1.75]
    out = nn.MixtureTable().forward([np.array([[0.25, 0.75]]), np.array([[1.0, 2.0]])])
    assert out.size().tolist() == [1] and out.numpy().tolist() == [1.75]


def test_ziptable():
    a = [D(2).fill(i) for i in range(6)]
    m = nn.ZipTable()
    out = m.forward([[a[0], a[1]], [a[2], a[3]], [a[4], a[5]]])
    assert [[t is x for t, x in zip(row, want)] for row, want in zip(out, [[a[0], a[2], a[4]], [a[1], a[3], a[5]]])] \
        == [[True] * 3] * 2
    gi = m.backward(None, [[a[0], a[2], a[4]], [a[1], a[3], a[5]]])
    assert all(x is y for x, y in zip(gi[0], [a[0], a[1]]))
    assert len(gi) == 3


def test_ziptableonetomany():
    v, ts = rnd(3), [rnd(3, seed=i + 1) for i in range(3)]
    m = nn.ZipTableOneToMany()
    out = m.forward([v, ts])
    assert len(out) == 3 and all(np.array_equal(arr(o[0]), v) and np.array_equal(arr(o[1]), t)
                                 for o, t in zip(out, ts))
    gs = [[rnd(3, seed=10 + i), rnd(3, seed=20 + i)] for i in range(3)]
    gv, gts = m.backward([v, ts], gs)
    np.testing.assert_allclose(gv.numpy(), sum(g[0] for g in gs), rtol=1e-15)
    assert gv is m.gradInputEl
    for g, want in zip(gts, gs):
        np.testing.assert_array_equal(arr(g), want[1])


@pytest.mark.parametrize('make, inp', [
    (lambda: nn.CAddTensorTable(), lambda: [rnd(2, 3), [rnd(2, 3, seed=1), rnd(2, 3, seed=2)]]),
    (lambda: nn.CriterionTable(nn.AbsCriterion()), lambda: [rnd(2, 3), rnd(2, 3, seed=1)]),
    (lambda: nn.ZipTable(), lambda: [[rnd(2), rnd(3)], [rnd(2, seed=1), rnd(3, seed=1)]]),
    (lambda: nn.ZipTableOneToMany(), lambda: [rnd(2), [rnd(3), rnd(4)]]),
])
def test_table_modules_roundtrip(make, inp, tmp_path):
    m = make().double()
    x = inp()
    y = m.forward(x)
    m2 = roundtrip(m, tmp_path)
    assert type(m2) is type(m)
    flat = (lambda v: [a for e in v for a in flat(e)] if isinstance(v, list) else [arr(v)])
    y2 = m2.forward(x)
    assert all(np.array_equal(a, b) for a, b in zip(flat(y2), flat(y))) and len(flat(y2)) == len(flat(y))


def test_stochastic_gradient_roundtrip(tmp_path):
    tr = nn.StochasticGradient(nn.Linear(2, 1), nn.MSECriterion())
    tr.learningRate = 0.5
    tr2 = roundtrip(tr, tmp_path)
    assert type(tr2) is nn.StochasticGradient and tr2.learningRate == 0.5 and tr2.maxIteration == 25
    assert type(tr2.module) is nn.Linear and type(tr2.criterion) is nn.MSECriterion


# -- DepthConcat ---------------------------------------------------------------------------------------------
def depthconcat_ref(outs, dim):
    size = list(outs[0].shape)
    for o in outs[1:]:
        for k in range(len(size)):
            size[k] = size[k] + o.shape[k] if k == dim else max(size[k], o.shape[k])
    res = np.zeros(size)
    off = 0
    for o in outs:
        idx = []
        for k, n in enumerate(o.shape):
            if k == dim:
                idx.append(slice(off, off + n))
            else:
                s = int(math.floor((size[k] - n) / 2))
                idx.append(slice(s, s + n))
        res[tuple(idx)] = o
        off += o.shape[dim]
    return res


def make_depthconcat():
    torch.manualSeed(5)
    return (nn.DepthConcat(1)
            .add(nn.SpatialConvolution(2, 3, 1, 1))
            .add(nn.SpatialConvolution(2, 2, 3, 3))
            .add(nn.SpatialConvolution(2, 1, 4, 4)))


def test_depthconcat(tmp_path):
    m = make_depthconcat().double()
    x = rnd(2, 2, 9, 9)
    outs = [c.forward(x).numpy().copy() for c in m.modules]
    y = m.forward(x).numpy()
    assert y.shape == (2, 6, 9, 9)
    np.testing.assert_allclose(y, depthconcat_ref(outs, 1), rtol=1e-14)
    assert list(m.outputSize) == [2, 6, 9, 9]
    xs = D(1, 2, 5, 5)
    assert J.testJacobian(m, xs) < TOL
    params, grads = m.parameters()
    for i in (2, 5):                                  # the 3x3's weight, the 4x4's bias
        assert J.testJacobianParameters(m, xs, params[i], grads[i]) < TOL
    assert J.testJacobianUpdateParameters(m, xs, params[3]) < TOL
    m2 = roundtrip(m, tmp_path)
    assert type(m2) is nn.DepthConcat and m2.dimension == 1
    np.testing.assert_allclose(m2.forward(x).numpy(), m.forward(x).numpy(), rtol=0)
    # 3-D input (no batch): concatenated along dim 0
    m3 = make_depthconcat().double()
    m3.dimension = 0
    assert J.testJacobian(m3, D(2, 6, 6)) < TOL


@pytest.mark.gpu
def test_depthconcat_gpu():
    check_gpu(make_depthconcat().float(), make_depthconcat().cuda(), rnd(2, 2, 7, 7))


# -- criterions ----------------------------------------------------------------------------------------------
def test_classsimplex():
    c = nn.ClassSimplexCriterion(4)
    s = c.simplex.numpy()
    assert s.shape == (4, 4)
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), 1, rtol=1e-14)
    d = s @ s.T
    np.testing.assert_allclose(d[~np.eye(4, dtype=bool)], -1 / 3, rtol=1e-13)      # a regular simplex
    np.testing.assert_array_equal(s[:, 3], 0)
    x = rnd(3, 4)
    t = [2, 0, 3]
    want = ((x - s[t]) ** 2).mean()
    assert c.forward(x, torch.LongTensor(np.array(t))) == pytest.approx(want, rel=1e-14)
    np.testing.assert_allclose(c.backward(x, t).numpy(), 2 * (x - s[t]) / x.size, rtol=1e-14)
    assert c.forward(x[0], 2) == pytest.approx(((x[0] - s[2]) ** 2).mean(), rel=1e-14)
    assert c.getTopPrediction(s[[1, 3]]).tolist() == [1, 3]
    np.testing.assert_allclose(c.getPredictions(x).numpy(), x @ s.T, rtol=1e-14)
    with pytest.raises(ValueError, match='out of range for 4 classes'):
        c.forward(x, [4, 0, 0])
    with pytest.raises(ValueError, match='nClasses > 1'):
        nn.ClassSimplexCriterion(1)


def test_distanceratio():
    X, Y = rnd(5), rnd(5, seed=1)
    c = nn.DistanceRatioCriterion()
    want = np.mean([x + math.log(math.exp(-x) + math.exp(-y)) for x, y in zip(X, Y)])
    assert c.forward([X, Y]) == pytest.approx(want, rel=1e-13)
    dX, dY = c.backward([X, Y])
    s = np.exp(-X) + np.exp(-Y)
    np.testing.assert_allclose(dX.numpy(), (1 - np.exp(-X) / s) / 5, rtol=1e-13)
    np.testing.assert_allclose(dY.numpy(), (-np.exp(-Y) / s) / 5, rtol=1e-13)
    c2 = nn.DistanceRatioCriterion(False)
    assert c2.forward([X, Y]) == pytest.approx(want * 5, rel=1e-13)
    # finite differences of the loss
    eps = 1e-6
    for i in range(5):
        Xp = X.copy()
        Xp[i] += eps
        fd = (c2.forward([Xp, Y]) - c2.forward([X, Y])) / eps
        assert abs(fd - c2.backward([X, Y])[0].numpy()[i]) < 1e-5


def test_l1cost():
    x = np.array([[1.5, -2.0], [0.0, 3.0]])
    c = nn.L1Cost()
    assert c.forward(x) == 6.5
    np.testing.assert_array_equal(c.backward(x).numpy(), [[1, -1], [0, 1]])


def test_l1hingeembedding():
    a, b = rnd(5), rnd(5, seed=1)
    c = nn.L1HingeEmbeddingCriterion(2.0)
    d = np.abs(a - b).sum()
    assert c.forward([a, b], 1) == pytest.approx(d, rel=1e-14)
    assert c.forward([a, b], -1) == pytest.approx(max(0, 2.0 - d), rel=1e-14)
    g1, g2 = c.backward([a, b], 1)
    np.testing.assert_array_equal(g1.numpy(), np.sign(a - b))
    np.testing.assert_array_equal(g2.numpy(), -np.sign(a - b))
    g1, _ = nn.L1HingeEmbeddingCriterion(100).backward([a, b], -1)      # inside the margin: pushed apart
    np.testing.assert_array_equal(g1.numpy(), -np.sign(a - b))
    g1, _ = nn.L1HingeEmbeddingCriterion(0.1).backward([a, b], -1)      # beyond it: no gradient
    np.testing.assert_array_equal(g1.numpy(), 0)
    # equal elements: a sign drawn from Torch7's stream, 2 * random(2) - 3
    b2 = b.copy()
    b2[[1, 3]] = a[[1, 3]]
    torch.manualSeed(9)
    g1 = c.backward([a, b2], 1)[0].numpy()
    gen = Generator()
    gen.manualSeed(9)
    draws = [2 * gen.random(2) - 3 for _ in range(2)]
    assert g1[1] == draws[0] and g1[3] == draws[1]


def test_modulecriterion(tmp_path):
    torch.manualSeed(2)
    lsm = nn.LogSoftMax()
    c = nn.ModuleCriterion(nn.ClassNLLCriterion(), lsm)
    x = rnd(3, 4)
    t = [1, 0, 3]
    lp = x - np.log(np.exp(x).sum(1, keepdims=True))
    assert c.forward(x, t) == pytest.approx(-lp[[0, 1, 2], t].mean(), rel=1e-13)
    gi = c.backward(x, t).numpy()
    want = np.exp(lp)
    want[[0, 1, 2], t] -= 1
    np.testing.assert_allclose(gi, want / 3, rtol=1e-12)
    # a target module, and castTarget=False keeps it in its type
    c2 = nn.ModuleCriterion(nn.MSECriterion(), None, nn.MulConstant(2), castTarget=False)
    y = rnd(3)
    assert c2.forward(y, y) == pytest.approx((y ** 2).mean(), rel=1e-13)
    c2.float()
    assert c2.criterion.type() == 'torch.FloatTensor' and c2.targetModule.type() == 'torch.DoubleTensor'
    with pytest.warns(RuntimeWarning, match='parameter updates'):
        nn.ModuleCriterion(nn.MSECriterion(), nn.Linear(2, 2))
    c3 = roundtrip(c, tmp_path)
    assert c3.forward(x, t) == pytest.approx(c.forward(x, t), rel=1e-15)


def test_weightedmse():
    w = np.array([1.0, 2.0, 0.5])
    c = nn.WeightedMSECriterion(torch.DoubleTensor(w))
    x, t = rnd(4, 3), rnd(4, 3, seed=1)
    # Torch7 weights the target only: MSE(x, w * t)
    assert c.forward(x, t) == pytest.approx(((x - w * t) ** 2).mean(), rel=1e-14)
    np.testing.assert_allclose(c.backward(x, t).numpy(), 2 * (x - w * t) / x.size, rtol=1e-14)
    c1 = nn.WeightedMSECriterion(torch.DoubleTensor(rnd(4, 3, seed=2)))
    assert c1.forward(x, t) == pytest.approx(((x - rnd(4, 3, seed=2) * t) ** 2).mean(), rel=1e-14)
    w.fill(0)                                      # the criterion keeps a copy of w
    assert c.weight.numpy().tolist() == [1.0, 2.0, 0.5]


def test_weightedmse_refuses_an_empty_input():
    c = nn.WeightedMSECriterion(torch.DoubleTensor([1.0, 2.0]))
    for call in (c.forward, c.backward):
        with pytest.raises(ValueError, match=r'nn.WeightedMSECriterion: got an empty input \(size \[0, 2\]\)'):
            call(np.zeros((0, 2)), np.zeros((0, 2)))


def _on(x, device):
    if isinstance(x, list):
        return [_on(e, device) for e in x]
    if isinstance(x, np.ndarray):
        return D(x) if device == 'cpu' else D(x).cuda()
    return x


@pytest.mark.parametrize('make, inp, tgt', [
    (lambda: nn.DistanceRatioCriterion(), lambda: [rnd(4), rnd(4, seed=1)], lambda: None),
    (lambda: nn.L1HingeEmbeddingCriterion(5.0), lambda: [rnd(4), rnd(4, seed=1)], lambda: -1),   # (L1 distance 2.89)
    (lambda: nn.ModuleCriterion(nn.MSECriterion(), nn.Tanh()), lambda: rnd(3, 2), lambda: rnd(3, 2, seed=1)),
], ids=['DistanceRatio', 'L1HingeEmbedding', 'ModuleCriterion'])
def test_criterion_forward_device(make, inp, tgt, device):
    """forwardDevice (every Criterion's): the loss as a 1-element tensor of the criterion's type, after a forward
    too (DistanceRatio's scratch once shadowed Criterion._lossbuf; the other two kept no loss tensor)."""
    c = make() if device == 'cpu' else make().cuda()
    x, t = _on(inp(), device), _on(tgt(), device)
    want = c.forward(x, t)
    got = c.forwardDevice(x, t)
    assert got.type() == ('torch.DoubleTensor' if device == 'cpu' else 'torch.CudaTensor') and got.nElement() == 1
    assert float(got) == pytest.approx(want, rel=1e-6) and c.output == want
    if device == 'cpu':
        a = inp()
        ref = {'DistanceRatioCriterion': lambda: np.mean(a[0] + np.log(np.exp(-a[0]) + np.exp(-a[1]))),
               'L1HingeEmbeddingCriterion': lambda: max(0.0, 5.0 - np.abs(a[0] - a[1]).sum()),
               'ModuleCriterion': lambda: ((np.tanh(a) - tgt()) ** 2).mean()}[type(c).__name__]()
        assert float(got) == pytest.approx(ref, rel=1e-13)


@pytest.mark.parametrize('make, inp, tgt', [
    (lambda: nn.ClassSimplexCriterion(3), lambda: rnd(2, 3), lambda: [0, 2]),
    (lambda: nn.L1Cost(), lambda: rnd(2, 3), lambda: None),
    (lambda: nn.WeightedMSECriterion(torch.DoubleTensor(np.array([1.0, 3.0]))), lambda: rnd(3, 2),
     lambda: rnd(3, 2, seed=1)),
    (lambda: nn.DistanceRatioCriterion(), lambda: [rnd(4), rnd(4, seed=1)], lambda: None),
])
def test_criterion_roundtrip(make, inp, tgt, tmp_path):
    c = make()
    x, t = inp(), tgt()
    want = c.forward(x, t)
    c2 = roundtrip(c, tmp_path)
    assert type(c2) is type(c) and c2.forward(x, t) == want


# -- StochasticGradient --------------------------------------------------------------------------------------
class ListDataset:
    def __init__(self, examples):
        self.examples = examples

    def size(self):
        return len(self.examples)

    def __getitem__(self, i):
        return self.examples[i]


def sgd_reference(w, b, data, order, lr, decay, epochs):
    """Per-example SGD on a 1-output linear model with MSE, in Torch7's order."""
    errs = []
    cur = lr
    for it in range(1, epochs + 1):
        err = 0.0
        for i in order:
            x, t = data[i]
            y = w @ x + b
            err += float(((y - t) ** 2).mean())
            g = 2 * (y - t) / y.size
            w = w - cur * np.outer(g, x)
            b = b - cur * g
        errs.append(err / len(data))
        cur = lr / (1 + (it + 1) * decay)
    return w, b, errs


@pytest.mark.parametrize('shuffle', [True, False])
def test_stochastic_gradient(shuffle, capsys):
    torch.manualSeed(3)
    lin = nn.Linear(3, 1).double()
    w0, b0 = lin.weight.numpy().copy(), lin.bias.numpy().copy()
    data = [(rnd(3, seed=i), rnd(1, seed=100 + i)) for i in range(5)]
    trainer = nn.StochasticGradient(lin, nn.MSECriterion())
    trainer.learningRate, trainer.learningRateDecay, trainer.maxIteration = 0.1, 0.5, 3
    trainer.shuffleIndices = shuffle
    seen, epochs = [], []
    trainer.hookExample = lambda tr, ex: seen.append(ex)
    trainer.hookIteration = lambda tr, it, err: epochs.append((it, err))
    gen = Generator()
    gen.manualSeed(3)
    for _ in range(lin.weight.nElement() + lin.bias.nElement()):
        gen.uniform()                                       # Linear's reset draws
    perm = gen.randperm(5).tolist()
    err = trainer.train(ListDataset(data))
    order = perm if shuffle else list(range(5))
    w, b, errs = sgd_reference(w0, b0, data, order, 0.1, 0.5, 3)
    np.testing.assert_allclose(lin.weight.numpy(), w, rtol=1e-12)
    np.testing.assert_allclose(lin.bias.numpy(), b, rtol=1e-12)
    assert [it for it, _ in epochs] == [1, 2, 3]
    np.testing.assert_allclose([e for _, e in epochs], errs, rtol=1e-12)
    assert err == epochs[-1][1] and len(seen) == 15 and seen[0] is data[order[0]]
    out = capsys.readouterr().out
    assert out.startswith('# StochasticGradient: training') and 'maximum number of iterations' in out


def test_stochastic_gradient_errors():
    with pytest.raises(TypeError, match='size'):
        nn.StochasticGradient(nn.Linear(2, 1), nn.MSECriterion()).train(object())


# -- Module and Container methods ----------------------------------------------------------------------------
def test_replace():
    net = nn.Sequential().add(nn.Linear(3, 4)).add(nn.Dropout()).add(
        nn.Sequential().add(nn.Dropout()).add(nn.Tanh()))
    out = net.replace(lambda m: nn.Identity() if isinstance(m, nn.Dropout) else m)
    assert out is net
    assert [type(m).__name__ for m in net.listModules()] == ['Sequential', 'Linear', 'Identity', 'Sequential',
                                                            'Identity', 'Tanh']
    assert isinstance(nn.Dropout().replace(lambda m: nn.Identity()), nn.Identity)


def test_flatten():
    a, b = torch.DoubleTensor(rnd(2, 3)), torch.DoubleTensor(rnd(4, seed=1))
    va, vb = a.numpy().copy(), b.numpy().copy()
    flat = nn.Module.flatten([a, b])
    assert flat.nElement() == 10
    np.testing.assert_array_equal(flat.numpy(), np.concatenate([va.ravel(), vb]))
    flat.fill(7)
    assert (a.numpy() == 7).all() and (b.numpy() == 7).all()      # the tensors are views of it now
    assert nn.Module.flatten([]).nElement() == 0


def test_apply_to_modules_and_rethrow():
    net = nn.Sequential().add(nn.Linear(2, 3)).add(nn.Tanh())
    seen = []
    net.applyToModules(seen.append)
    assert seen == net.modules
    x = rnd(4, 2)
    np.testing.assert_array_equal(net.rethrowErrors(net.modules[0], 0, 'forward', x).numpy(),
                                  net.modules[0].output.numpy())
    with pytest.raises(ValueError, match=r'in module \(0\) of nn.Sequential'):
        net.rethrowErrors(net.modules[0], 0, 'forward', rnd(4, 5))
    with pytest.raises(ValueError, match='mismatch'):
        net.rethrowErrors(net.modules[1], 0, 'forward', x)


def test_share_sets_shared_and_acc_update():
    torch.manualSeed(4)
    a = nn.Linear(3, 2).double()
    b = a.clone('weight', 'bias', 'gradWeight', 'gradBias')
    assert a.shared is True and b.shared is True
    assert 'shared' not in nn.Linear(3, 2).__dict__
    # shared modules update through their gradients (sharedAccUpdateGradParameters): the same step as the default
    x, g = rnd(4, 3), rnd(4, 2, seed=1)
    ref = nn.Linear(3, 2).double()
    ref.weight.copy(a.weight)
    ref.bias.copy(a.bias)
    ref.forward(x)
    ref.accUpdateGradParameters(x, g, 0.1)
    a.forward(x)
    a.accUpdateGradParameters(x, g, 0.1)
    np.testing.assert_allclose(b.weight.numpy(), ref.weight.numpy(), rtol=1e-14)
    seq = nn.Sequential().add(nn.Linear(2, 2))
    seq.clone('weight')
    assert 'shared' not in seq.__dict__ and seq.modules[0].shared is True


def test_pairwise_distance_default_p():
    m = nn.PairwiseDistance()
    assert m.norm == 2
    a, b = rnd(3, 4), rnd(3, 4, seed=1)
    np.testing.assert_allclose(m.forward([a, b]).numpy(), np.linalg.norm(a - b, axis=1), rtol=1e-14)
    assert nn.PairwiseDistance(None).norm == 2


# -- CUDA (fakecupy on a machine without a device) -----------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize('make, inp', [
    (lambda: nn.MixtureTable(), lambda: [rnd(2, 3), [rnd(2, 4, seed=i) for i in range(3)]]),
    (lambda: nn.MixtureTable(), lambda: [rnd(2, 3), rnd(2, 3, 4, seed=1)]),
    (lambda: nn.CAddTensorTable(), lambda: [rnd(2, 3), [rnd(2, 3, seed=1), rnd(2, 3, seed=2)]]),
])
def test_tables_gpu(make, inp):
    check_gpu(make().float(), make().cuda(), inp())


@pytest.mark.gpu
@pytest.mark.parametrize('make, inp, tgt', [
    (lambda: nn.ClassSimplexCriterion(3), lambda: rnd(2, 3), lambda: [0, 2]),
    (lambda: nn.L1Cost(), lambda: rnd(2, 3), lambda: None),
    (lambda: nn.WeightedMSECriterion(torch.FloatTensor(np.array([1.0, 3.0], dtype=np.float32))), lambda: rnd(3, 2),
     lambda: rnd(3, 2, seed=1)),
    (lambda: nn.DistanceRatioCriterion(), lambda: [rnd(4), rnd(4, seed=1)], lambda: None),
    (lambda: nn.L1HingeEmbeddingCriterion(), lambda: [rnd(4), rnd(4, seed=1)], lambda: -1),
])
def test_criteria_gpu(make, inp, tgt):
    def dev(x, cuda):
        if isinstance(x, list):
            return [dev(e, cuda) for e in x]
        if isinstance(x, np.ndarray):
            t = torch.FloatTensor(x.astype(np.float32))
            return t.cuda() if cuda else t
        return x
    c, g = make().float(), make().cuda()
    x, t = inp(), tgt()
    assert g.forward(dev(x, True), dev(t, True)) == pytest.approx(c.forward(dev(x, False), dev(t, False)), rel=1e-5)
    gc, gg = c.backward(dev(x, False), dev(t, False)), g.backward(dev(x, True), dev(t, True))
    for a, b in zip(gc if isinstance(gc, list) else [gc], gg if isinstance(gg, list) else [gg]):
        assert b.type() == 'torch.CudaTensor'
        np.testing.assert_allclose(b.float().numpy(), a.numpy(), rtol=1e-5, atol=1e-6)

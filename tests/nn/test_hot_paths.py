"""The CPU steady-state paths of Linear, Sigmoid, MSECriterion and ClassNLLCriterion (arrays met once are kept and
later calls check identities only): every change a user can make between calls must still be seen, and values must
be exactly those of the general path (a subclass takes it: the hot paths are for the classes themselves)."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import rnd, sigmoid


class GenLinear(nn.Linear):         # subclasses take the general path
    pass


class GenSigmoid(nn.Sigmoid):
    pass


def _net(lin, sig, dtype):
    torch.manualSeed(7)
    net = nn.Sequential().add(lin(3, 4)).add(sig()).add(lin(4, 2)).add(sig())
    return net.type(dtype)


def _train(net, crit, x, y, steps):
    """``crit``: a criterion, or a function making one (a new criterion per step: its general path only)."""
    losses = []
    make = crit if callable(crit) and not isinstance(crit, nn.Criterion) else (lambda: crit)
    for _ in range(steps):
        crit = make()
        net.zeroGradParameters()
        out = net.forward(x)
        losses.append(crit.forward(out, y))
        net.backward(x, crit.backward(out, y))
        net.updateParameters(0.5)
    return losses


@pytest.mark.parametrize('dtype', ['torch.FloatTensor', 'torch.DoubleTensor'])
def test_same_values_as_general_path(dtype):
    x = torch.fromNumpy(rnd(5, 3).astype(np.float32)).type(dtype)
    y = torch.fromNumpy(rnd(5, 2, seed=1).astype(np.float32)).type(dtype)
    fast, slow = _net(nn.Linear, nn.Sigmoid, dtype), _net(GenLinear, GenSigmoid, dtype)
    for net in (fast, slow):
        net.get(0).gradInput = None
    lf = _train(fast, nn.MSECriterion().type(dtype), x, y, 6)
    ls = _train(slow, lambda: nn.MSECriterion().type(dtype), x, y, 6)
    assert lf == ls
    assert '_hot_b' in fast.get(2).__dict__ and '_hot_f' in fast.get(1).__dict__     # the hot paths did run
    for a, b in zip(fast.parameters()[0] + fast.parameters()[1], slow.parameters()[0] + slow.parameters()[1]):
        assert np.array_equal(a.numpy(), b.numpy())


def _warm(m, x, g, n=2):
    for _ in range(n):
        m.forward(x)
        m.backward(x, g)


def test_linear_sees_changes_between_calls():
    m = nn.Linear(3, 2).double()
    x, g = torch.fromNumpy(rnd(4, 3)), torch.fromNumpy(rnd(4, 2, seed=1))
    _warm(m, x, g)
    # a new weight tensor and bias values
    m.weight = torch.fromNumpy(rnd(2, 3, seed=2))
    m.bias.fill(0.25)
    want = x.numpy() @ m.weight.numpy().T + 0.25
    assert np.allclose(m.forward(x).numpy(), want)
    # new values in the same input tensor
    x.numpy()[...] = rnd(4, 3, seed=3)
    assert np.allclose(m.forward(x).numpy(), x.numpy() @ m.weight.numpy().T + 0.25)
    # a resized input
    x2 = torch.fromNumpy(rnd(6, 3, seed=4))
    assert m.forward(x2).size() == (6, 2)
    # backward: gradients accumulate; scale is honoured; Torch7's idioms to skip parts
    _warm(m, x2, torch.fromNumpy(rnd(6, 2)))
    g2 = torch.fromNumpy(rnd(6, 2, seed=5))
    m.zeroGradParameters()
    m.backward(x2, g2)
    m.backward(x2, g2, 0.5)
    assert np.allclose(m.gradWeight.numpy(), 1.5 * g2.numpy().T @ x2.numpy())
    assert np.allclose(m.gradBias.numpy(), 1.5 * g2.numpy().sum(0))
    assert np.allclose(m.gradInput.numpy(), g2.numpy() @ m.weight.numpy())
    m.gradInput = None
    assert m.backward(x2, g2) is None
    m.zeroGradParameters()
    m.accGradParameters = lambda *a: None          # freezing a layer on the instance
    m.backward(x2, g2)
    assert not m.gradWeight.numpy().any()
    del m.accGradParameters
    m.noBias()
    out = m.forward(x2).numpy()
    assert np.allclose(out, x2.numpy() @ m.weight.numpy().T)
    m.zeroGradParameters()
    m.backward(x2, g2)
    assert np.allclose(m.gradWeight.numpy(), g2.numpy().T @ x2.numpy())


def test_linear_after_get_parameters():
    """getParameters re-points the gradients at the flat vector: the kept arrays must not be written any more."""
    m = nn.Linear(3, 2).double()
    x, g = torch.fromNumpy(rnd(4, 3)), torch.fromNumpy(rnd(4, 2, seed=1))
    _warm(m, x, g)
    p, gp = m.getParameters()
    gp.zero()
    m.backward(x, g)
    assert np.allclose(gp.numpy()[:6], (g.numpy().T @ x.numpy()).reshape(-1))
    assert np.allclose(gp.numpy()[6:], g.numpy().sum(0))
    p.fill(0)
    assert not m.forward(x).numpy().any()


def test_sigmoid_sees_changes_between_calls():
    m = nn.Sigmoid().double()
    x, g = torch.fromNumpy(rnd(4, 3)), torch.fromNumpy(rnd(4, 3, seed=1))
    _warm(m, x, g)
    assert '_hot_f' in m.__dict__ and '_hot_b' in m.__dict__
    x.numpy()[...] = rnd(4, 3, seed=2)
    g.numpy()[...] = rnd(4, 3, seed=3)
    s = sigmoid(x.numpy())
    assert np.allclose(m.forward(x).numpy(), s)
    assert np.allclose(m.backward(x, g).numpy(), g.numpy() * s * (1 - s))
    # another size; a numpy input; a float module
    x2 = rnd(2, 5, seed=4)
    assert np.allclose(m.forward(x2).numpy(), sigmoid(x2))
    assert np.allclose(m.backward(x2, np.ones((2, 5))).numpy(), sigmoid(x2) * (1 - sigmoid(x2)))
    m.float()
    xf = torch.fromNumpy(x2.astype(np.float32))
    _warm(m, xf, torch.fromNumpy(np.ones((2, 5), np.float32)))
    assert m.output.numpy().dtype == np.float32
    # an output tensor replaced by the user
    m.output = torch.FloatTensor()
    assert np.allclose(m.forward(xf).numpy(), sigmoid(x2), atol=1e-6)
    # an instance's accGradParameters is still called by backward
    seen = []
    m.accGradParameters = lambda *a: seen.append(1)
    m.backward(xf, torch.fromNumpy(np.ones((2, 5), np.float32)))
    assert seen == [1]


def test_mse_scale_follows_size_and_sizeAverage():
    c = nn.MSECriterion().float()
    x = torch.fromNumpy(rnd(4, 1).astype(np.float32))
    t = torch.fromNumpy(rnd(4, 1, seed=1).astype(np.float32))
    d = x.numpy() - t.numpy()
    assert np.array_equal(c.backward(x, t).numpy(), d * np.float32(0.5))
    c.sizeAverage = False
    assert np.array_equal(c.backward(x, t).numpy(), d * 2)
    assert c.forward(x, t) == float(np.float32(float(np.vdot(d, d))))
    c.sizeAverage = True
    assert c.forward(x, t) == float(np.float32(float(np.vdot(d, d)) / 4))
    x.numpy()[0, 0] += 1
    d = x.numpy() - t.numpy()
    assert c.forward(x, t) == float(np.float32(float(np.vdot(d, d)) / 4))
    assert np.array_equal(c.backward(x, t).numpy(), d * np.float32(0.5))
    x8, t8 = torch.fromNumpy(rnd(8).astype(np.float32)), torch.fromNumpy(rnd(8, seed=2).astype(np.float32))
    assert np.array_equal(c.backward(x8, t8).numpy(), (x8.numpy() - t8.numpy()) * np.float32(0.25))
    c.double()
    xd, td = torch.fromNumpy(rnd(3)), torch.fromNumpy(rnd(3, seed=3))
    assert np.allclose(c.backward(xd, td).numpy(), (xd.numpy() - td.numpy()) * 2 / 3, rtol=1e-15)
    assert c.forward(xd, td) == pytest.approx(float(np.mean((xd.numpy() - td.numpy()) ** 2)), rel=1e-15)


def test_copies_leave_the_caches_out():
    import copy
    m = nn.Sequential().add(nn.Linear(3, 2)).add(nn.Sigmoid()).double()
    x, g = torch.fromNumpy(rnd(4, 3)), torch.fromNumpy(rnd(4, 2, seed=1))
    _warm(m, x, g)
    assert '_hot_f' in m.get(0).__dict__ and '_hot_b' in m.get(1).__dict__
    for c in (m.clone(), copy.deepcopy(m)):
        assert not [k for mod in c.modules for k in mod.__dict__ if k.startswith('_hot_')]
        assert np.array_equal(c.forward(x).numpy(), m.forward(x).numpy())
        c.get(0).weight.fill(0)             # the copy's own weight, not the original's
        assert np.allclose(c.forward(x).numpy(), sigmoid(np.broadcast_to(c.get(0).bias.numpy(), (4, 2))))
        assert not np.allclose(m.forward(x).numpy(), c.output.numpy())


class GenNLL(nn.ClassNLLCriterion):      # (a subclass: the general path)
    pass


def _nll_calls(c, x, t):
    loss = c.forward(x, t)
    return loss, c.backward(x, t).numpy().copy()


@pytest.mark.parametrize('dtype', ['torch.FloatTensor', 'torch.DoubleTensor'])
@pytest.mark.parametrize('size_average', [True, False])
def test_class_nll_same_values_as_general_path(dtype, size_average):
    x = torch.fromNumpy(rnd(9, 5)).type(dtype)
    t = torch.LongTensor(np.arange(9) % 5)
    fast, slow = nn.ClassNLLCriterion(None, size_average).type(dtype), GenNLL(None, size_average).type(dtype)
    for step in range(4):
        # new values in the same tensors, as a training loop's
        x.numpy()[...] = rnd(9, 5, seed=step)
        t.numpy()[...] = np.random.default_rng(step).integers(0, 5, 9)
        lf, gf = _nll_calls(fast, x, t)
        ls, gs = _nll_calls(slow, x, t)
        assert lf == ls and gf.tobytes() == gs.tobytes()
        picked = x.numpy()[np.arange(9), t.numpy()]
        want = -picked.sum() / (9 if size_average else 1)
        assert lf == pytest.approx(float(want), rel=1e-6)
    assert '_hot_f' in fast.__dict__ and '_hot_b' in fast.__dict__      # the hot paths did run
    assert '_hot_f' not in slow.__dict__


def test_class_nll_sees_changes_between_calls():
    c = nn.ClassNLLCriterion().double()
    x, t = torch.fromNumpy(rnd(4, 3)), torch.LongTensor(np.array([0, 2, 1, 2]))
    _nll_calls(c, x, t)
    _nll_calls(c, x, t)
    assert '_hot_f' in c.__dict__ and '_hot_b' in c.__dict__

    def check():
        want = _nll_calls(GenNLL(c.__dict__.get('weights'), c.sizeAverage, c.ignoreIndex).double(), x, t)
        got = _nll_calls(c, x, t)
        assert got[0] == want[0] and np.array_equal(got[1], want[1])

    # a target out of range, in place: the error, both ways round
    t.numpy()[1] = 3
    with pytest.raises(ValueError, match=r'target 3 \(sample 1\) is out of range for 3 classes'):
        c.forward(x, t)
    with pytest.raises(ValueError, match=r'target 3 \(sample 1\) is out of range'):
        c.backward(x, t)
    t.numpy()[1] = -1
    with pytest.raises(ValueError, match=r'target -1 \(sample 1\) is out of range'):
        c.forward(x, t)
    # a target set to ignoreIndex counts for nothing
    t.numpy()[1] = -100
    check()
    assert c.backward(x, t).numpy()[1].tolist() == [0, 0, 0]
    t.numpy()[1] = 2
    check()
    # sizeAverage, ignoreIndex (now a class), class weights, a new gradInput tensor, another target tensor
    c.sizeAverage = False
    check()
    c.ignoreIndex = 2
    check()
    c.ignoreIndex = -100
    c.weights = torch.fromNumpy(np.array([1.0, 2.0, 0.5]))
    check()
    del c.weights
    check()
    c.gradInput = torch.DoubleTensor()
    check()
    t = torch.LongTensor(np.array([1, 1, 0, 2]))
    check()
    x = torch.fromNumpy(rnd(6, 3, seed=2))
    t = torch.LongTensor(np.array([1, 1, 0, 2, 0, 0]))
    check()
    # a numpy input and target (the general path), then the tensors again
    assert c.forward(x.numpy(), t.numpy()) == _nll_calls(GenNLL(None, False).double(), x, t)[0]
    check()


def test_class_nll_hot_path_with_log_softmax_in_a_net():
    """The LeNet/MLP step's ending: a LogSoftMax's output tensor, a LongTensor of targets."""
    torch.manualSeed(3)
    nets = [nn.Sequential().add(nn.Linear(6, 4)).add(nn.LogSoftMax()).float() for _ in range(2)]
    nets[1].get(0).weight.copy(nets[0].get(0).weight)
    nets[1].get(0).bias.copy(nets[0].get(0).bias)
    crits = [nn.ClassNLLCriterion().float(), GenNLL().float()]
    x = torch.fromNumpy(rnd(8, 6).astype(np.float32))
    t = torch.LongTensor(np.arange(8) % 4)
    losses = [[], []]
    for _ in range(5):
        for net, crit, ls in zip(nets, crits, losses):
            net.zeroGradParameters()
            out = net.forward(x)
            ls.append(crit.forward(out, t))
            net.backward(x, crit.backward(out, t))
            net.updateParameters(0.1)
    assert losses[0] == losses[1]
    assert '_hot_b' in crits[0].__dict__
    for a, b in zip(nets[0].parameters()[0], nets[1].parameters()[0]):
        assert np.array_equal(a.numpy(), b.numpy())


def test_big_linear_same_values_as_general_path():
    """A layer whose gradient has more elements than backend._CHUNK: the hot path calls backend.addmm (a product
    straight into a zeroed gradient, else added block by block) as the general path does."""
    from luatorch_py import backend
    torch.manualSeed(5)
    fast, slow = nn.Linear(300, 256).float(), GenLinear(300, 256).float()
    assert fast.gradWeight.nElement() > backend._CHUNK
    slow.weight.copy(fast.weight)
    slow.bias.copy(fast.bias)
    x = torch.fromNumpy(rnd(7, 300).astype(np.float32))
    g = torch.fromNumpy(rnd(7, 256, seed=1).astype(np.float32))
    for step in range(4):
        x.numpy()[...] = rnd(7, 300, seed=step + 2)
        for m in (fast, slow):
            if step != 2:                   # step 2 accumulates onto step 1's gradients
                m.zeroGradParameters()
            m.forward(x)
            m.backward(x, g)
        for f in ('output', 'gradInput', 'gradWeight', 'gradBias'):
            assert getattr(fast, f).numpy().tobytes() == getattr(slow, f).numpy().tobytes(), (step, f)
        if step == 2:
            want = g.numpy().T @ (rnd(7, 300, seed=3) + rnd(7, 300, seed=4)).astype(np.float32)
            assert np.allclose(fast.gradWeight.numpy(), want, rtol=1e-4, atol=1e-4)
        for m in (fast, slow):
            m.updateParameters(0.01)
    assert fast.__dict__['_hot_b'][8] is None       # (no parameter-sized scratch)


def test_hot_paths_are_for_the_cpu(device):
    """The same training loop on ``device`` and on the CPU's general paths: the hot paths are kept on the CPU only
    (a CUDA array takes the general path every call)."""
    tname, lname = (('torch.FloatTensor', 'torch.LongTensor') if device == 'cpu'
                    else ('torch.CudaTensor', 'torch.CudaLongTensor'))
    torch.manualSeed(2)
    net = nn.Sequential().add(GenLinear(300, 256)).add(nn.LogSoftMax()).float()
    mine = nn.Sequential().add(nn.Linear(300, 256)).add(nn.LogSoftMax()).type(tname)
    mine.get(0).weight.copy(net.get(0).weight.type(tname))
    mine.get(0).bias.copy(net.get(0).bias.type(tname))
    crits = (GenNLL().float(), nn.ClassNLLCriterion().type(tname))
    x = torch.fromNumpy(rnd(5, 300).astype(np.float32))
    t = torch.LongTensor(np.array([3, 250, 0, 7, 3]))
    inputs = ((x, t), (x.type(tname), t.type(lname)))
    losses = ([], [])
    for _ in range(3):
        for n, c, (xi, ti), ls in zip((net, mine), crits, inputs, losses):
            n.zeroGradParameters()
            out = n.forward(xi)
            ls.append(c.forward(out, ti))
            n.backward(xi, c.backward(out, ti))
            n.updateParameters(0.05)
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)
    np.testing.assert_allclose(mine.get(0).weight.float().numpy(), net.get(0).weight.numpy(), rtol=1e-5, atol=1e-6)
    hot = [k for o in (mine.get(0), crits[1]) for k in o.__dict__ if k.startswith('_hot_')]
    assert bool(hot) == (device == 'cpu')

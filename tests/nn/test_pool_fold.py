"""Sequential.backward's one step over [ReLU, SpatialMaxPooling] (SpatialMaxPooling._fold_backward): the same bits
as the two backwards run one after the other, and the pooling's gradInput, left pending, written when read."""

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from nn_helpers import copied


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view({4: np.uint32, 8: np.uint64}[a.itemsize])


def _input(n, h=8, w=8, seed=0, dtype=np.float64):
    """Values with many exact ties (zeros after the ReLU, repeated small integers) and a few negatives."""
    rs = np.random.default_rng(seed)
    return rs.integers(-2, 3, (n, 2, h, w)).astype(dtype)


def _grad(shape, seed=1, dtype=np.float64, special=True):
    """A gradOutput holding negatives (so -0.0 products), and where ``special`` NaN and +-inf."""
    g = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if special:
        flat = g.reshape(-1)
        flat[::7] = np.nan
        flat[3::11] = np.inf
        flat[5::13] = -np.inf
        flat[1::5] = -1.0
    return g


def _net(act, producer=None, after=()):
    """[producer, act, pooling, *after, MulConstant(2)] (a last module that writes its own output: a pass-through
    last module makes the Sequential hand on contiguous outputs, and then nothing is batch-last nor folded)."""
    net = nn.Sequential()
    if producer is None:
        torch.manualSeed(11)        # (the same weights whatever ran before in this worker)
        producer = nn.SpatialConvolution(2, 2, 1, 1)
    net.add(producer)
    net.add(act).add(nn.SpatialMaxPooling(2, 2))
    for m in after:
        net.add(m)
    return net.add(nn.MulConstant(2))


def _one_by_one(net, x, g):
    """Each module's backward, last to first (no fold), after the same forward."""
    mods = net.modules
    for i in range(len(mods) - 1, -1, -1):
        g = mods[i].backward(mods[i - 1].output if i else x, g)
    return g


def _grads(net):
    return [m.gradInput.numpy().copy() for m in net.modules]


def _run(net, x, g, cls):
    """gradInputs of Sequential.backward (the fold where it applies) and of the modules one by one; whether the
    fold ran (the pooling's gradInput was left pending)."""
    net.type(cls().type())
    x, g = cls(x), cls(g)
    net.forward(x)
    net.backward(x, g)
    folded = net.get(2).__dict__.get('_gi_pending') is not None
    got = _grads(net)
    _one_by_one(net, x, g)
    return got, _grads(net), folded


CASES = [
    ('relu', lambda: nn.ReLU(), True),
    ('threshold-below', lambda: nn.Threshold(0.5, 0.25), True),
    ('threshold-equal', lambda: nn.Threshold(1, 1), True),
    ('threshold-above', lambda: nn.Threshold(0.5, 0.75), False),      # val > threshold: (max > th) is not the mask
    ('relu-in-place', lambda: nn.ReLU(True), False),
    ('tanh', lambda: nn.Tanh(), True),
    ('sigmoid', lambda: nn.Sigmoid(), True),
    ('elu', lambda: nn.ELU(), False),                                  # (its derivative needs its input)
]


@pytest.mark.parametrize('cls', [torch.DoubleTensor, torch.FloatTensor])
@pytest.mark.parametrize('name,act,folds', CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize('n,h,w', [(32, 8, 8), (32, 9, 7), (3, 8, 8)], ids=['batch-last', 'uncovered', 'small'])
def test_fold_gives_the_bits_of_the_two_backwards(cls, name, act, folds, n, h, w):
    x = _input(n, h, w)
    net = _net(act())
    net.type(cls().type())
    g = _grad(net.forward(cls(x)).size())
    got, want, folded = _run(net, x, g, cls)
    assert folded == folds
    for a, b in zip(got, want):
        np.testing.assert_array_equal(_bits(a), _bits(b))
    assert np.isnan(got[1]).any() and (_bits(got[1]) == _bits(np.array(-0.0, got[1].dtype))).any()


@pytest.mark.parametrize('nan', [False, True])
def test_a_3d_input_and_a_nan_window_still_match(nan):
    net = _net(nn.ReLU())
    x = _input(1)[0]
    if nan:
        x[0, 0, 0] = np.nan                       # a NaN window: the forward's fmax pass (NaNs are never picked)
    net.double()
    g = _grad(net.forward(torch.DoubleTensor(x)).size())
    got, want, folded = _run(net, x, g, torch.DoubleTensor)
    assert folded
    for a, b in zip(got, want):
        np.testing.assert_array_equal(_bits(a), _bits(b))


@pytest.mark.parametrize('act', [nn.Tanh, nn.Sigmoid])
@pytest.mark.parametrize('h,w,at', [(8, 8, (0, 1)), (9, 7, (8, 3)), (9, 7, (2, 6))],
                         ids=['loses-its-window', 'last-row', 'last-column'])
def test_a_nan_no_window_picks_gives_tanh_and_sigmoid_their_nan(act, h, w, at):
    """A NaN in the activation's output that is no window's maximum (NaNs are never picked; or where no window
    reaches): the two backwards give gradOutput 0 times the NaN derivative there, NaN; so must the step."""
    x = _input(32, h, w)
    x[(5, 1) + at] = np.nan         # (the 1x1 convolution's output is NaN there, in both channels)
    net = _net(act())
    g = _grad(net.double().forward(torch.DoubleTensor(x)).size(), special=False)
    got, want, _ = _run(net, x, g, torch.DoubleTensor)
    assert np.isnan(want[1][(5, 0) + at]) and np.isnan(got[1][(5, 0) + at])
    for a, b in zip(got, want):
        np.testing.assert_array_equal(_bits(a), _bits(b))


def test_an_in_place_module_after_the_pooling_does_not_change_the_fold():
    """The fold takes the maxima from the forward's own copy, not the output the next module changed."""
    net = _net(nn.ReLU(), after=[nn.MulConstant(-1, True)])
    x = _input(32)
    got, want, folded = _run(net, x, _grad((32, 2, 4, 4), special=False), torch.DoubleTensor)
    assert folded
    for a, b in zip(got, want):
        np.testing.assert_array_equal(_bits(a), _bits(b))


def test_no_fold_where_it_cannot_apply():
    x = torch.DoubleTensor(_input(32))
    # the ReLU first in the Sequential (its input is the caller's)
    net = nn.Sequential().add(nn.ReLU()).add(nn.SpatialMaxPooling(2, 2)).add(nn.MulConstant(2)).double()
    net.forward(x)
    net.backward(x, torch.DoubleTensor(_grad((32, 2, 4, 4))))
    assert net.get(1).__dict__.get('_gi_pending') is None
    # evaluate(): no copy of the maxima kept, each module's backward runs (and gives the same numbers)
    net = _net(nn.ReLU()).double()
    net.evaluate()
    g = _grad((32, 2, 4, 4))
    got, want, folded = _run(net, _input(32), g, torch.DoubleTensor)
    assert not folded
    for a, b in zip(got, want):
        np.testing.assert_array_equal(_bits(a), _bits(b))


@pytest.mark.parametrize('where', [1, 2])
@pytest.mark.parametrize('name', ['updateGradInput', 'backward', 'accGradParameters'])
def test_an_instance_defining_its_own_backward_pass_is_not_folded(where, name):
    """Torch7's idiom to freeze or hook a module (m.updateGradInput = ...): that module's own pass runs."""
    net = _net(nn.ReLU()).double()
    m = net.get(where)
    calls = []
    own = getattr(m, name)

    def hook(*args):
        calls.append(name)
        return own(*args)
    setattr(m, name, hook)
    x = torch.DoubleTensor(_input(32))
    net.forward(x)
    net.backward(x, torch.DoubleTensor(_grad((32, 2, 4, 4))))
    assert calls and net.get(2).__dict__.get('_gi_pending') is None


def _one_by_one_pool_grad(net, x, g):
    """The pooling's gradInput of a fresh net with ``net``'s convolution, each module's backward run in turn."""
    ref = _net(nn.ReLU()).double()
    ref.get(0).weight.copy(net.get(0).weight)
    ref.get(0).bias.copy(net.get(0).bias)
    ref.forward(x)
    _one_by_one(ref, x, g)
    return ref.get(2).gradInput.numpy().copy()


def _g(seed=1):
    """A gradOutput of _folded_net's size, no special values."""
    return torch.DoubleTensor(_grad((32, 2, 4, 4), seed=seed, special=False))


def _folded_net():
    net = _net(nn.ReLU()).double()
    x = torch.DoubleTensor(_input(32))
    g = _g()
    net.forward(x)
    net.backward(x, g)
    pool = net.get(2)
    assert pool.__dict__.get('_gi_pending') is not None
    return net, pool, x, g, _one_by_one_pool_grad(net, x, g)


def test_pending_gradInput_is_written_when_read():
    net, pool, x, g, want = _folded_net()
    np.testing.assert_array_equal(pool.gradInput.numpy(), want)
    assert pool.__dict__.get('_gi_pending') is None


@pytest.mark.parametrize('n,oh,err', [(32, 3, ValueError), (16, 4, RuntimeError)], ids=['grad-size', 'batch-size'])
def test_a_direct_backward_that_raises_leaves_the_pending_gradInput(n, oh, err):
    """Arguments the pooling's updateGradInput rejects (a gradOutput of the wrong size; an input of another batch
    size than the forward's) leave gradInput as the last backward made it (Torch7 checks before writing)."""
    net, pool, x, g, want = _folded_net()
    before = pool.gradInput.numpy().copy()    # (written: the memory now holds these)
    g2 = _g(seed=9)
    net.forward(x)
    net.backward(x, g2)
    assert pool.__dict__.get('_gi_pending') is not None
    want2 = _one_by_one_pool_grad(net, x, g2)
    with pytest.raises(err):
        pool.updateGradInput(net.get(1).output.narrow(0, 0, n), torch.DoubleTensor(np.ones((n, 2, oh, oh))))
    got = pool.gradInput.numpy()
    assert not np.array_equal(got, before)
    np.testing.assert_array_equal(_bits(got), _bits(want2))


def test_pending_gradInput_survives_a_forward_on_another_input():
    """Torch7 keeps a gradInput until the next backward; the pending one is made from its own copies."""
    net, pool, x, g, want = _folded_net()
    net.forward(torch.DoubleTensor(_input(32, seed=5)))
    np.testing.assert_array_equal(pool.gradInput.numpy(), want)


def test_a_held_gradInput_is_written_at_once():
    net, pool, x, g, _ = _folded_net()
    held = pool.gradInput                   # the user keeps the tensor: the next backward must write into it
    first = held.numpy().copy()
    g2 = _g(seed=9)
    net.forward(x)
    net.backward(x, g2)
    assert pool.__dict__.get('_gi_pending') is None
    assert pool.gradInput is held and not np.array_equal(held.numpy(), first)
    np.testing.assert_array_equal(held.numpy(), _one_by_one_pool_grad(net, x, g2))


@pytest.mark.parametrize('field', ['gradInput', 'indices'])
def test_a_field_held_through_a_view_of_its_storage_array_is_written_at_once(field):
    """A numpy view of storage().numpy() refers to the buffer's aligned raw bytes, not the buffer (_unheld counts
    the chains of bases): the next forward/backward writes the field at once, as Torch7."""
    net, pool, x, g, _ = _folded_net()
    held = getattr(pool, field).storage().numpy()[:]
    x2, g2 = torch.DoubleTensor(_input(32, seed=5)), _g(seed=9)
    net.forward(x2)
    net.backward(x2, g2)
    seen = held.copy()
    assert pool.__dict__.get({'gradInput': '_gi_pending', 'indices': '_idx_pending'}[field]) is None
    getattr(pool, field)
    np.testing.assert_array_equal(_bits(held), _bits(seen))


@pytest.mark.parametrize('how', ['type', 'save', 'clone', 'deepcopy', 'pickle'])
def test_pending_gradInput_is_written_by_copies_and_conversions(how, tmp_path):
    net, pool, x, g, want = _folded_net()
    if how == 'type':
        net.float()
        got = net.get(2).gradInput.numpy()
        np.testing.assert_array_equal(got, want.astype(np.float32))
        return
    other = copied(net, how, tmp_path)
    np.testing.assert_array_equal(other.get(2).gradInput.numpy(), want)
    np.testing.assert_array_equal(pool.gradInput.numpy(), want)


def test_clearState_and_a_direct_backward_drop_the_pending_gradInput():
    net, pool, x, g, want = _folded_net()
    pool.clearState()
    assert pool.__dict__.get('_gi_pending') is None and pool.gradInput.nElement() == 0
    net, pool, x, g, want = _folded_net()
    g2 = _g(seed=4)
    pool.backward(net.get(1).output, g2)
    assert pool.__dict__.get('_gi_pending') is None
    assert not np.array_equal(pool.gradInput.numpy(), want)


def test_training_step_matches_the_unfolded_step():
    """LeNet's feature extractor, batch 64, float: weights after a few SGD steps are the same bits either way."""
    def build():
        torch.manualSeed(3)
        net = nn.Sequential()
        for m in [nn.SpatialConvolution(1, 4, 5, 5), nn.ReLU(), nn.SpatialMaxPooling(2, 2),
                  nn.SpatialConvolution(4, 6, 5, 5), nn.ReLU(), nn.SpatialMaxPooling(2, 2), nn.View(96),
                  nn.Linear(96, 10), nn.LogSoftMax()]:
            net.add(m)
        return net.float()
    rs = np.random.default_rng(2)
    x = torch.FloatTensor(rs.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = torch.LongTensor(rs.integers(0, 10, 64))
    crit = nn.ClassNLLCriterion().float()
    nets = [build(), build()]
    fold = nn.SpatialMaxPooling._fold_backward
    try:
        for step in range(3):
            for i, net in enumerate(nets):
                nn.SpatialMaxPooling._fold_backward = fold if i == 0 else None
                net.zeroGradParameters()
                out = net.forward(x)
                crit.forward(out, y)
                net.backward(x, crit.backward(out, y))
                net.updateParameters(0.05)
    finally:
        nn.SpatialMaxPooling._fold_backward = fold
    assert nets[0].get(2).__dict__.get('_gi_pending') is not None
    for a, b in zip(nets[0].parameters()[0], nets[1].parameters()[0]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for i in (1, 2, 4, 5):
        np.testing.assert_array_equal(nets[0].get(i).gradInput.numpy(), nets[1].get(i).gradInput.numpy())


def test_no_fold_on_a_relu_input_others_may_change(monkeypatch):
    """A ReLU whose input is a view of an earlier tensor (after an Identity here) is not folded: a sibling branch's
    in-place module changes that tensor after this branch's forward, and Torch7's ReLU backward reads it as it is
    then.  The numbers are those of each module's backward."""
    def build():
        torch.manualSeed(0)
        branch = nn.Sequential().add(nn.Identity()).add(nn.ReLU()).add(nn.SpatialMaxPooling(2, 2)).add(
            nn.MulConstant(2))
        side = nn.Sequential().add(nn.MulConstant(-1, True)).add(nn.MulConstant(2))
        return nn.Sequential().add(nn.Identity()).add(nn.ConcatTable().add(branch).add(side)).double()
    x = _input(32)

    def grads(net):
        xt = torch.DoubleTensor(x.copy())
        net.forward(xt)
        net.backward(xt, [_g(), torch.DoubleTensor(np.ones((32, 2, 8, 8)))])
        return [m.gradInput.numpy().copy() for m in net.get(1).get(0).modules]
    got_net = build()
    got = grads(got_net)
    assert got_net.get(1).get(0).get(2).__dict__.get('_gi_pending') is None
    monkeypatch.setattr(nn.SpatialMaxPooling, '_fold_backward', None)
    for a, b in zip(got, grads(build())):
        np.testing.assert_array_equal(_bits(a), _bits(b))


@pytest.mark.parametrize('cls', [torch.DoubleTensor, torch.FloatTensor])
@pytest.mark.parametrize('act', [lambda: nn.ReLU(), lambda: nn.Threshold(0, 0)], ids=['relu', 'threshold-0-0'])
def test_fold_after_the_forward_step_gives_the_bits_of_the_two_backwards(cls, act):
    """After Sequential's forward step over [ReLU, pooling] (_pool_after: the ReLU's derivative at the maxima kept as
    bools, applied in the route of the gradient), the NaNs, infinities and -0.0 products of the two backwards."""
    torch.manualSeed(11)
    conv = nn.SpatialConvolution(2, 2, 1, 1)
    conv._force_layout = 'nlast'        # (its output batch-last, as LeNet's convolutions')
    net = _net(act(), conv)
    x = _input(32)
    net.type(cls().type())
    g = _grad(net.forward(cls(x)).size())
    got, want, folded = _run(net, x, g, cls)
    assert folded and net.get(2)._above_kept is not None and net.get(2)._pmax_kept is None
    for a, b in zip(got, want):
        np.testing.assert_array_equal(_bits(a), _bits(b))
    assert np.isnan(got[1]).any() and (_bits(got[1]) == _bits(np.array(-0.0, got[1].dtype))).any()

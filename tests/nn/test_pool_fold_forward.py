"""Sequential.updateOutput's one step over [ReLU, SpatialMaxPooling] (Threshold._fold_forward, pooling's _pool_after):
the windows of the ReLU's input pooled, the ReLU applied to the maxima -- the same bits as the two forwards, indices
and signed zeros included -- and the ReLU's output left pending, written from its input when read."""
import threading

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from nn_helpers import copied
from luatorch_py.backend import kernels


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view({4: np.uint32, 8: np.uint64}[a.itemsize])


def _pending(relu):
    return relu.__dict__.get('_out_pending') is not None


class _Given(nn.Module):
    """A producer handing on fixed numbers laid out batch-last, as a CPU convolution's output is (memory (C, H, W, N)):
    the numbers a convolution cannot make (-0.0, NaN, -inf) reach the ReLU this way."""

    def __init__(self, mem):
        super().__init__()
        self.mem = mem

    def updateOutput(self, input):
        self.output = torch.fromNumpy(self.mem.transpose(3, 0, 1, 2))
        return self.output


def _net(act, producer=None, fused=True):
    """[producer, act, pooling, MulConstant(2)]; ``fused=False``: the pooling's instance opts out of the step."""
    if producer is None:
        torch.manualSeed(11)
        producer = nn.SpatialConvolution(2, 2, 1, 1)
        producer._force_layout = 'nlast'        # (its output batch-last, as LeNet's convolutions')
    pool = nn.SpatialMaxPooling(2, 2)
    if not fused:
        pool._pool_after = None
    return nn.Sequential().add(producer).add(act).add(pool).add(nn.MulConstant(2))


def _input(n, h=8, w=8, seed=0):
    """Many exact ties (zeros after the ReLU, repeated small integers) and negatives."""
    return np.random.default_rng(seed).integers(-2, 3, (n, 2, h, w)).astype(np.float64)


def _same(a, b):
    """Outputs, indices and the activation's output of two nets after the same forward: the same bits."""
    for i in range(4):
        np.testing.assert_array_equal(_bits(a.get(i).output.numpy()), _bits(b.get(i).output.numpy()))
    np.testing.assert_array_equal(a.get(2).indices.numpy(), b.get(2).indices.numpy())


CASES = [
    ('relu', lambda: nn.ReLU(), True),
    ('threshold-0-0', lambda: nn.Threshold(0, 0), True),
    ('threshold-equal', lambda: nn.Threshold(1, 1), False),       # (only a zero threshold: see _pool_after)
    ('threshold-below', lambda: nn.Threshold(0.5, 0.25), False),
    ('relu-in-place', lambda: nn.ReLU(True), False),
    ('tanh', lambda: nn.Tanh(), False),
]


@pytest.mark.parametrize('ttype', ['torch.DoubleTensor', 'torch.FloatTensor'])
@pytest.mark.parametrize('name,act,fuses', CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize('n,h,w', [(32, 8, 8), (32, 9, 7), (3, 8, 8)], ids=['batch', 'odd', 'small'])
@pytest.mark.parametrize('train', [True, False], ids=['train', 'evaluate'])
def test_the_step_gives_the_bits_of_the_two_forwards(ttype, name, act, fuses, n, h, w, train):
    a, b = _net(act()).type(ttype), _net(act(), fused=False).type(ttype)
    for net in (a, b):
        net.training() if train else net.evaluate()
    x = torch.DoubleTensor(_input(n, h, w)).type(ttype)
    a.forward(x)
    b.forward(x)
    last = kernels.batch_last(a.get(0).output._a)     # (a small batch is not laid out batch-last)
    assert last == (n == 32)
    assert _pending(a.get(1)) == (fuses and last and h % 2 == 0 and w % 2 == 0)
    assert not _pending(b.get(1))
    _same(a, b)
    assert not _pending(a.get(1))            # (read by _same: written)


@pytest.mark.parametrize('special', ['signed-zeros', 'nan', '-inf', 'inf'])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_signed_zeros_and_special_numbers_match(special, dtype):
    """ReLU's output is -0.0 exactly where its input is, and a window of numbers <= 0 pools to its last number's
    zero; the maxima of the input may say otherwise and are fixed (_zero_signs).  A NaN, or a window of -inf, in the
    input: both forwards run (the pooling's rules for those on the ReLU's output)."""
    rs = np.random.default_rng(3)
    vals = np.array([-1, -0.0, 0.0, 2, -3], dtype)
    mem = vals[rs.integers(0, 5, (3, 6, 6, 40))]
    if special != 'signed-zeros':
        mem.reshape(-1)[::17] = {'nan': np.nan, '-inf': -np.inf, 'inf': np.inf}[special]
        if special == '-inf':
            mem[1, 2:4, 4:6, 7] = -np.inf            # (a whole window: the maximum is -inf)
    ttype = {np.float32: 'torch.FloatTensor', np.float64: 'torch.DoubleTensor'}[dtype]
    a = _net(nn.ReLU(), _Given(mem)).type(ttype)
    b = _net(nn.ReLU(), _Given(mem), fused=False).type(ttype)
    x = torch.zeros(1).type(ttype)
    a.forward(x)
    b.forward(x)
    assert _pending(a.get(1)) == (special in ('signed-zeros', 'inf'))
    out = a.get(2).output.numpy()
    if special == 'signed-zeros':       # (both kinds of zero pooled, so the test can fail)
        zero = out == 0
        assert (np.signbit(out) & zero).any() and (~np.signbit(out) & zero).any()
    _same(a, b)


def test_a_training_run_matches_the_two_forwards():
    """LeNet's layers, batch 64, float: after a few SGD steps (backward folds in both) the same bits; the ReLUs'
    outputs are never needed, so never written."""
    def build(fused):
        torch.manualSeed(3)
        net = nn.Sequential()
        for m in [nn.SpatialConvolution(1, 4, 5, 5), nn.ReLU(), nn.SpatialMaxPooling(2, 2),
                  nn.SpatialConvolution(4, 6, 5, 5), nn.ReLU(), nn.SpatialMaxPooling(2, 2), nn.View(96),
                  nn.Linear(96, 10), nn.LogSoftMax()]:
            if not fused and isinstance(m, nn.SpatialMaxPooling):
                m._pool_after = None
            net.add(m)
        return net.float()
    rs = np.random.default_rng(2)
    x = torch.FloatTensor(rs.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = torch.LongTensor(rs.integers(0, 10, 64))
    crit = nn.ClassNLLCriterion().float()
    nets = [build(True), build(False)]
    for step in range(3):
        for net in nets:
            net.zeroGradParameters()
            out = net.forward(x)
            crit.forward(out, y)
            net.backward(x, crit.backward(out, y))
            net.updateParameters(0.05)
        assert _pending(nets[0].get(1)) and _pending(nets[0].get(4))
    for p, q in zip(nets[0].parameters()[0], nets[1].parameters()[0]):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    for i in range(9):
        np.testing.assert_array_equal(nets[0].get(i).gradInput.numpy(), nets[1].get(i).gradInput.numpy())
        np.testing.assert_array_equal(nets[0].get(i).output.numpy(), nets[1].get(i).output.numpy())


def _fused():
    net = _net(nn.ReLU()).double()
    x = torch.DoubleTensor(_input(32))
    net.forward(x)
    relu = net.get(1)
    assert _pending(relu)
    want = np.maximum(net.get(0).output.numpy(), 0)
    return net, relu, x, want


def test_the_pending_output_is_written_when_read():
    net, relu, x, want = _fused()
    np.testing.assert_array_equal(relu.output.numpy(), want)
    assert not _pending(relu)


@pytest.mark.parametrize('how', ['type', 'save', 'clone', 'deepcopy', 'pickle', 'clearState'])
def test_the_pending_output_is_written_by_copies_and_conversions(how, tmp_path):
    net, relu, x, want = _fused()
    if how == 'type':
        net.float()
        np.testing.assert_array_equal(net.get(1).output.numpy(), want.astype(np.float32))
        return
    if how == 'clearState':
        net.clearState()
        assert not _pending(relu) and relu.output.nElement() == 0
        return
    other = copied(net, how, tmp_path)
    np.testing.assert_array_equal(other.get(1).output.numpy(), want)
    np.testing.assert_array_equal(relu.output.numpy(), want)


@pytest.mark.parametrize('field', ['relu-output', 'indices'])
def test_a_held_field_is_written_at_once(field):
    """The user holds the ReLU's output (or the pooling's indices): both forwards run, into the held tensor."""
    net, relu, x, _ = _fused()
    held = relu.output if field == 'relu-output' else net.get(2).indices
    x2 = torch.DoubleTensor(_input(32, seed=5))
    net.forward(x2)
    assert not _pending(relu)
    ref = _net(nn.ReLU(), fused=False).double()
    ref.forward(x2)
    if field == 'relu-output':
        assert relu.output is held
        np.testing.assert_array_equal(held.numpy(), np.maximum(net.get(0).output.numpy(), 0))
    _same(net, ref)


def test_no_step_where_it_cannot_apply():
    x = torch.DoubleTensor(_input(32))
    # the ReLU first in a Sequential: its input is the caller's, which others (a sibling branch's in-place module
    # here) may change before the ReLU's output is read
    torch.manualSeed(0)
    conv = nn.SpatialConvolution(2, 2, 1, 1)
    branch = nn.Sequential().add(nn.ReLU()).add(nn.SpatialMaxPooling(2, 2)).add(nn.MulConstant(2))
    side = nn.Sequential().add(nn.MulConstant(-1, True)).add(nn.MulConstant(2))
    net = nn.Sequential().add(conv).add(nn.ConcatTable().add(branch).add(side)).double()
    net.forward(x)
    relu = branch.get(0)
    assert not _pending(relu)
    np.testing.assert_array_equal(relu.output.numpy(), np.maximum(-conv.output.numpy(), 0))
    # after a pass-through module (a view of the caller's input), and the pooling last (its output is the caller's)
    for mods in ([nn.Identity(), nn.ReLU(), nn.SpatialMaxPooling(2, 2), nn.MulConstant(2)],
                 [nn.SpatialConvolution(2, 2, 1, 1), nn.ReLU(), nn.SpatialMaxPooling(2, 2)]):
        net = nn.Sequential()
        for m in mods:
            net.add(m)
        net.double().forward(x)
        assert not _pending(net.get(1))


def test_no_step_on_a_view_of_a_numpy_input():
    """A numpy batch (here laid out batch-last) through a pass-through module: the ReLU's input is the caller's
    memory, which the caller may fill with its next batch before the ReLU's output is read, as for a tensor input."""
    mem = _input(32).transpose(1, 2, 3, 0).copy()        # (C, H, W, N) memory
    x = mem.transpose(3, 0, 1, 2)
    assert kernels.batch_last(x)
    net = nn.Sequential().add(nn.Identity()).add(nn.ReLU()).add(nn.SpatialMaxPooling(2, 2)) \
        .add(nn.MulConstant(2)).double()
    net.forward(x)
    relu = net.get(1)
    assert not _pending(relu)
    want = np.maximum(x, 0)
    mem[...] = -1
    np.testing.assert_array_equal(relu.output.numpy(), want)


def test_no_step_after_a_module_called_again_further_on():
    """A convolution applied twice in one Sequential (its weights tied by reuse): its second call writes over the
    output the first left, so the ReLU after its first call keeps its own output, relu(conv(x)), as Torch7's."""
    torch.manualSeed(0)
    conv = nn.SpatialConvolution(2, 2, 1, 1)
    conv._force_layout = 'nlast'
    net = nn.Sequential().add(conv).add(nn.ReLU()).add(nn.SpatialMaxPooling(2, 2)) \
        .add(nn.SpatialUpSamplingNearest(2)).add(conv).add(nn.MulConstant(2)).double()
    x = torch.DoubleTensor(_input(32))
    net.forward(x)
    relu = net.get(1)
    assert not _pending(relu)
    want = np.maximum(nn.SpatialConvolution(2, 2, 1, 1).double().share(conv, 'weight', 'bias').forward(x).numpy(), 0)
    np.testing.assert_array_equal(relu.output.numpy(), want)
    assert relu.output.numpy().any() and not np.array_equal(want, np.maximum(conv.output.numpy(), 0))


@pytest.mark.parametrize('where', [1, 2])
@pytest.mark.parametrize('name', ['updateOutput', 'forward'])
def test_an_instance_defining_its_own_forward_is_not_fused(where, name):
    net = _net(nn.ReLU()).double()
    m = net.get(where)
    calls = []
    own = getattr(m, name)

    def hook(*args):
        calls.append(name)
        return own(*args)
    setattr(m, name, hook)
    net.forward(torch.DoubleTensor(_input(32)))
    assert not _pending(net.get(1))
    assert calls or name == 'forward'       # (a Sequential calls updateOutput; forward is the user's entry)


def test_a_threshold_changed_before_the_backward_runs_both_backwards():
    """The backward fold after the fused forward uses the kept (max > 0); a ReLU whose threshold the user changed in
    between gets its own backward at the new threshold, as Torch7's reads it."""
    nets = [_net(nn.Threshold(0, 0)).double(), _net(nn.Threshold(0, 0), fused=False).double()]
    x = torch.DoubleTensor(_input(32))
    g = torch.DoubleTensor(np.random.default_rng(4).standard_normal((32, 2, 4, 4)))
    for net in nets:
        net.forward(x)
        net.get(1).threshold = 0.5
        net.backward(x, g)
        if net is nets[0]:
            assert nets[0].get(2).__dict__.get('_gi_pending') is None       # (no fold: each backward ran)
    for i in range(4):
        np.testing.assert_array_equal(_bits(nets[0].get(i).gradInput.numpy()), _bits(nets[1].get(i).gradInput.numpy()))
    assert (nets[0].get(1).gradInput.numpy() != 0).any()


def test_a_negative_zero_threshold_is_not_fused():
    """Threshold(-0.0, -0.0) gives -0.0 for negative numbers: the two forwards run, and agree to the sign."""
    a, b = _net(nn.Threshold(-0.0, -0.0)).double(), _net(nn.Threshold(-0.0, -0.0), fused=False).double()
    x = torch.DoubleTensor(_input(32))
    a.forward(x)
    b.forward(x)
    assert not _pending(a.get(1))
    assert np.signbit(a.get(2).output.numpy()).any()
    _same(a, b)


def test_threads_reading_a_pending_output_wait_for_its_fill():
    """A fill drops the pending key before it writes: a second thread reading the field meanwhile waits for the
    first (LazyField.settle), never taking a half-written array."""
    torch.manualSeed(1)
    conv = nn.SpatialConvolution(2, 2, 1, 1)
    conv._force_layout = 'nlast'
    net = nn.Sequential().add(conv).add(nn.ReLU()).add(nn.SpatialMaxPooling(2, 2)).add(nn.MulConstant(1)).double()
    rs = np.random.default_rng(0)
    for trial in range(6):
        net.forward(torch.DoubleTensor(rs.standard_normal((64, 2, 128, 128))))
        assert _pending(net.get(1))
        want = np.maximum(conv.output.numpy(), 0)
        got = [None, None]
        start = threading.Barrier(2)

        def read(k):
            start.wait()
            got[k] = net.get(1).output.numpy().copy()
        threads = [threading.Thread(target=read, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for g in got:
            np.testing.assert_array_equal(g, want)


@pytest.mark.parametrize('field', ['threshold', 'val'])
def test_the_pending_output_is_the_forwards_after_a_threshold_change(field):
    """The output written when read is the forward's (at threshold and value 0), not one at numbers set since."""
    nets = [_net(nn.Threshold(0, 0)).double(), _net(nn.Threshold(0, 0), fused=False).double()]
    x = torch.DoubleTensor(np.random.default_rng(6).standard_normal((32, 2, 8, 8)))
    for net in nets:
        net.forward(x)
        setattr(net.get(1), field, 0.5)
    assert _pending(nets[0].get(1))
    _same(*nets)


def test_no_step_where_numpys_maximum_keeps_other_zeros(monkeypatch):
    """_zero_signs takes np.maximum's ties of +0.0 and -0.0 to give the second operand (x86's SIMD max; checked at
    the first fused forward): where they do not (ARM's FMAX gives +0.0), both forwards run."""
    from luatorch_py.nn import pooling
    monkeypatch.setattr(pooling, '_maximum_keeps_second_zero', lambda: False)
    a, b = _net(nn.ReLU()).double(), _net(nn.ReLU(), fused=False).double()
    x = torch.DoubleTensor(_input(32))
    a.forward(x)
    b.forward(x)
    assert not _pending(a.get(1))
    _same(a, b)


def test_a_copy_made_while_another_thread_fills_waits_for_the_fill():
    """clone() (and type(), saving, parameters(): TypedObject._settle) while another thread's fill of a pending
    output is under way -- its key already dropped -- waits for the fill, never copying the half-written array."""
    torch.manualSeed(1)
    conv = nn.SpatialConvolution(2, 2, 1, 1)
    conv._force_layout = 'nlast'
    net = nn.Sequential().add(conv).add(nn.ReLU()).add(nn.SpatialMaxPooling(2, 2)).add(nn.MulConstant(1)).double()
    relu = net.get(1)
    rs = np.random.default_rng(0)
    for trial in range(6):
        net.forward(torch.DoubleTensor(rs.standard_normal((64, 2, 128, 128))))
        assert _pending(relu)
        want = np.maximum(conv.output.numpy(), 0)
        got = [None]
        start = threading.Barrier(2)

        def read():
            start.wait()
            relu.output

        def copy_during_fill():
            start.wait()
            while _pending(relu):        # until the reader's fill has dropped its key
                pass
            got[0] = relu.clone().output.numpy().copy()
        threads = [threading.Thread(target=read), threading.Thread(target=copy_during_fill)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        np.testing.assert_array_equal(got[0], want)

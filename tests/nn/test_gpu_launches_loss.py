"""Kernel launches, host synchronizations and device allocations of the criterions and the SoftMax family on CUDA
(backend/gpu_loss.py), counted by tests/fakecupy: a steady pass is a constant number of launches, whatever the
batch or the number of classes, and forwardDevice + backward neither synchronize nor allocate.  On a real CuPy
(no counters) these tests skip."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import cutorch, nn

pytestmark = pytest.mark.gpu


def counters():
    import cupy
    if not hasattr(cupy, '_counters'):
        pytest.skip('a real CuPy: no launch counters (tests/fakecupy counts them)')
    return cupy._counters


def counted(fn):
    """(launches, syncs, allocs) of fn()."""
    k = counters()
    before = dict(k)
    fn()
    return tuple(k[n] - before[n] for n in ('launches', 'syncs', 'allocs'))


def C(a):
    return torch.FloatTensor(np.asarray(a, np.float32)).cuda()


def rng(seed=0):
    return np.random.default_rng(seed)


def classes(b, n, kind, seed=1):
    t = torch.LongTensor(rng(seed).integers(0, n, b))
    return t.cuda() if kind == 'float' else t.type('torch.CudaLongTensor')


def steady(crit, x, t):
    """Two warm-up steps, then (forward, forwardDevice, backward) counts."""
    for _ in range(2):
        crit.forward(x, t)
        crit.forwardDevice(x, t)
        crit.backward(x, t)
    return counted(lambda: crit.forward(x, t)), counted(lambda: crit.forwardDevice(x, t)), \
        counted(lambda: crit.backward(x, t))


@pytest.mark.parametrize('b, n', [(64, 10), (2048, 10), (3, 100000)])
@pytest.mark.parametrize('kind', ['long', 'float'])
@pytest.mark.parametrize('weights', [False, True])
def test_class_nll_one_launch_forward_two_backward(b, n, kind, weights):
    """The benchmark's hot path: forward one launch (+ the one sync that reads the loss), forwardDevice one launch
    and no sync, backward two launches; no allocation.  Targets as a CudaLongTensor or as ``:cuda()`` makes them
    (a CudaTensor: read by the kernels as floats, no conversion)."""
    crit = nn.ClassNLLCriterion(torch.FloatTensor(np.ones(n, np.float32)) if weights else None).cuda()
    x = C(rng().standard_normal((b, n)))
    fwd, dev, bwd = steady(crit, x, classes(b, n, kind))
    assert fwd == (1, 1, 0)
    assert dev == (1, 0, 0)
    assert bwd == (2, 0, 0)


@pytest.mark.parametrize('cls', [nn.LogSoftMax, nn.SoftMax, nn.SpatialLogSoftMax, nn.SpatialSoftMax])
@pytest.mark.parametrize('shape', [(64, 10), (2048, 10), (2, 100000), (8, 3, 5, 5)], ids=str)
def test_softmax_family_one_launch_per_pass(cls, shape):
    m = cls().cuda()
    x, g = C(rng().standard_normal(shape)), C(rng(1).standard_normal(shape))
    for _ in range(2):
        m.forward(x)
        m.backward(x, g)
    assert counted(lambda: m.forward(x)) == (1, 0, 0)
    assert counted(lambda: m.backward(x, g)) == (1, 0, 0)


@pytest.mark.parametrize('b', [64, 2048])
def test_logsoftmax_classnll_step(b):
    """LogSoftMax + ClassNLL as a training loop runs them (forwardDevice, then the backward passes): 5 launches, no
    synchronization, no allocation; CrossEntropyCriterion the same passes (2 + 3)."""
    x, y = C(rng().standard_normal((b, 10))), classes(b, 10, 'float')
    lsm, nll = nn.LogSoftMax().cuda(), nn.ClassNLLCriterion().cuda()

    def step():
        out = lsm.forward(x)
        nll.forwardDevice(out, y)
        lsm.backward(x, nll.backward(out, y))
    step()
    step()
    assert counted(step) == (5, 0, 0)
    ce = nn.CrossEntropyCriterion().cuda()
    fwd, dev, bwd = steady(ce, x, y)
    assert (fwd, dev, bwd) == ((2, 1, 0), (2, 0, 0), (3, 0, 0))
    assert ce.forwardDevice(x, y) is ce.nll._loss_t                  # (no copy of the loss)


# criterion -> (make(nClasses), data, launches of forward, forwardDevice, backward) on CUDA; forward() also
# synchronizes once (reading the loss), forwardDevice and backward never
LAUNCHES = {
    'MSE': (lambda n: nn.MSECriterion(), 'real', 1, 1, 1),
    'Abs': (lambda n: nn.AbsCriterion(), 'real', 1, 1, 1),
    'SmoothL1': (lambda n: nn.SmoothL1Criterion(), 'real', 1, 1, 1),
    'DistKLDiv': (lambda n: nn.DistKLDivCriterion(), 'real', 1, 1, 1),
    'BCE': (lambda n: nn.BCECriterion(), 'prob', 1, 1, 1),
    'BCE(weights)': (lambda n: nn.BCECriterion(torch.FloatTensor(np.ones(n, np.float32))), 'prob', 1, 1, 1),
    'Margin': (lambda n: nn.MarginCriterion(), 'pm1', 1, 1, 1),
    'SoftMargin': (lambda n: nn.SoftMarginCriterion(), 'pm1', 1, 1, 1),
    'HingeEmbedding': (lambda n: nn.HingeEmbeddingCriterion(), 'pm1', 1, 1, 1),
    'MultiLabelSoftMargin': (lambda n: nn.MultiLabelSoftMarginCriterion(), 'prob', 2, 2, 1),   # + Sigmoid's forward
    'ClassNLL': (lambda n: nn.ClassNLLCriterion(), 'classes', 1, 1, 2),
    'CrossEntropy': (lambda n: nn.CrossEntropyCriterion(), 'classes', 2, 2, 3),
    'MultiMargin': (lambda n: nn.MultiMarginCriterion(), 'classes', 1, 1, 1),
    'MultiLabelMargin': (lambda n: nn.MultiLabelMarginCriterion(), 'multilabel', 2, 2, 1),
    'CosineEmbedding': (lambda n: nn.CosineEmbeddingCriterion(), 'pair', 2, 2, 1),
    'MarginRanking': (lambda n: nn.MarginRankingCriterion(), 'rank', 5, 5, 8),        # (ufuncs and a reduction)
    # each criterion's forward (reading each loss: 2 syncs); forwardDevice adds each loss on the device
    'Multi(MSE, Abs)': (lambda n: nn.MultiCriterion().add(nn.MSECriterion(), 0.5).add(nn.AbsCriterion()), 'real',
                        2, 4, 6),
}


def _data(kind, b, n):
    r = rng(2)
    x = C(r.standard_normal((b, n)))
    if kind == 'real':
        return x, C(r.standard_normal((b, n)))
    if kind == 'prob':
        return C(r.uniform(0.05, 0.95, (b, n))), C(r.uniform(0, 1, (b, n)) > 0.5)
    if kind == 'pm1':
        return x, C(np.where(r.standard_normal((b, n)) > 0, 1.0, -1.0))
    if kind == 'classes':
        return x, classes(b, n, 'float')
    if kind == 'multilabel':
        t = np.full((b, n), -1)
        t[:, 0] = r.integers(0, n, b)
        t[:, 1] = (t[:, 0] + 1 + r.integers(0, n - 1, b)) % n
        return x, torch.LongTensor(t).cuda()
    if kind == 'pair':
        return [x, C(r.standard_normal((b, n)))], C(np.where(r.standard_normal(b) > 0, 1.0, -1.0))
    if kind == 'rank':
        return [C(r.standard_normal(b)), C(r.standard_normal(b))], C(np.where(r.standard_normal(b) > 0, 1.0, -1.0))
    raise ValueError(kind)


@pytest.mark.parametrize('name', list(LAUNCHES))
@pytest.mark.parametrize('b, n', [(64, 10), (1000, 37)])
def test_criterion_launches_are_constant_without_sync_or_allocation(name, b, n):
    make, kind, fwd_launches, dev_launches, bwd_launches = LAUNCHES[name]
    x, t = _data(kind, b, n)
    fwd, dev, bwd = steady(make(n).cuda(), x, t)
    assert fwd == (fwd_launches, 2 if name.startswith('Multi(') else 1, 0)
    assert dev == (dev_launches, 0, 0)
    assert bwd == (bwd_launches, 0, 0)


def test_logsoftmax_classnll_step_is_capturable():
    """forwardDevice + backward of LogSoftMax + ClassNLL record into a CUDA graph (no sync, no allocation) whose
    replays compute what eager steps do, for each new batch copied into the same tensors."""
    counters()
    x, y = C(rng().standard_normal((32, 10))), classes(32, 10, 'float')
    lsm, nll = nn.LogSoftMax().cuda(), nn.ClassNLLCriterion().cuda()

    def step():
        out = lsm.forward(x)
        loss = nll.forwardDevice(out, y)
        lsm.backward(x, nll.backward(out, y))
        return loss
    captured = cutorch.captureStep(step, inputs=(x, y))
    for i in range(5):
        xb, yb = rng(10 + i).standard_normal((32, 10)), rng(20 + i).integers(0, 10, 32)
        x.copy(C(xb))
        y.copy(torch.LongTensor(yb).cuda())
        loss = float(captured())
        ref_lsm, ref_nll = nn.LogSoftMax().float(), nn.ClassNLLCriterion().float()
        want = ref_nll.forward(ref_lsm.forward(xb.astype(np.float32)), torch.LongTensor(yb))
        assert loss == pytest.approx(want, rel=1e-5)
        gi = ref_lsm.backward(xb.astype(np.float32), ref_nll.backward(ref_lsm.output, torch.LongTensor(yb)))
        np.testing.assert_allclose(lsm.gradInput.float().numpy(), gi.numpy(), rtol=1e-5, atol=1e-7)
    assert captured.replays >= 2

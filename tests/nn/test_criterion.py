"""Criterions: regression, classification (0-based class targets), margins, combinations."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import J, TOL, L, DTYPES, TYPES, roundtrip, sigmoid
from fresh import fresh_stdout

EPS = 1e-12


def rng(seed=0):
    return np.random.default_rng(seed)


def D(a):
    return torch.DoubleTensor(np.asarray(a, np.float64))


def rtol_of(dtype):
    return 1e-5 if dtype == np.float32 else 1e-12


def check_float_loss(loss, dtype):
    assert type(loss) is float
    if dtype == np.float32:
        assert loss == float(np.float32(loss))


# -- pointwise criterions: name -> (constructor(sizeAverage), input, target, loss per element, d loss / d x) --------
def _pm1(shape, seed):
    return np.where(rng(seed).standard_normal(shape) > 0, 1.0, -1.0)


W5 = np.array([0.5, 1.0, 2.0, 0.1, 3.0])
POINTWISE = {
    'MSE': (lambda sa: nn.MSECriterion(sa), lambda s: rng(1).standard_normal(s), lambda s: rng(2).standard_normal(s),
            lambda x, t: (x - t) ** 2, lambda x, t: 2 * (x - t)),
    'Abs': (lambda sa: nn.AbsCriterion(sa), lambda s: rng(1).standard_normal(s), lambda s: rng(2).standard_normal(s),
            lambda x, t: np.abs(x - t), lambda x, t: np.where(x - t >= 0, 1.0, -1.0)),
    'SmoothL1': (lambda sa: nn.SmoothL1Criterion(sa), lambda s: 2 * rng(1).standard_normal(s),
                 lambda s: rng(2).standard_normal(s),
                 lambda x, t: np.where(np.abs(x - t) < 1, 0.5 * (x - t) ** 2, np.abs(x - t) - 0.5),
                 lambda x, t: np.clip(x - t, -1, 1)),
    'DistKLDiv': (lambda sa: nn.DistKLDivCriterion(sa), lambda s: np.log(rng(1).uniform(0.1, 1, s)),
                  lambda s: rng(2).uniform(0, 1, s) * (rng(3).uniform(0, 1, s) > 0.2),
                  lambda x, t: np.where(t > 0, t * (np.log(np.where(t > 0, t, 1)) - x), 0),
                  lambda x, t: np.where(t > 0, -t, 0)),
    'BCE': (lambda sa: nn.BCECriterion(None, sa), lambda s: rng(1).uniform(0.05, 0.95, s),
            lambda s: rng(2).uniform(0, 1, s),
            lambda x, t: -(t * np.log(x + EPS) + (1 - t) * np.log(1 - x + EPS)),
            lambda x, t: -(t - x) / ((1 - x + EPS) * (x + EPS))),
    'BCE(weights)': (lambda sa: nn.BCECriterion(D(W5), sa), lambda s: rng(1).uniform(0.05, 0.95, s),
                     lambda s: rng(2).uniform(0, 1, s),
                     lambda x, t: -(t * np.log(x + EPS) + (1 - t) * np.log(1 - x + EPS)) * W5,
                     lambda x, t: -(t - x) / ((1 - x + EPS) * (x + EPS)) * W5),
    'MultiLabelSoftMargin': (lambda sa: nn.MultiLabelSoftMarginCriterion(None, sa),
                             lambda s: 3 * rng(1).standard_normal(s), lambda s: (rng(2).uniform(0, 1, s) > 0.5) * 1.0,
                             lambda x, t: -(t * np.log(sigmoid(x)) + (1 - t) * np.log(1 - sigmoid(x))),
                             lambda x, t: sigmoid(x) - t),
    'MultiLabelSoftMargin(weights)': (lambda sa: nn.MultiLabelSoftMarginCriterion(D(W5), sa),
                                      lambda s: 3 * rng(1).standard_normal(s),
                                      lambda s: (rng(2).uniform(0, 1, s) > 0.5) * 1.0,
                                      lambda x, t: -(t * np.log(sigmoid(x)) + (1 - t) * np.log(1 - sigmoid(x))) * W5,
                                      lambda x, t: (sigmoid(x) - t) * W5),
    'Margin': (lambda sa: nn.MarginCriterion(0.7, sa), lambda s: 2 * rng(1).standard_normal(s),
               lambda s: _pm1(s, 2), lambda x, t: np.maximum(0, 0.7 - x * t),
               lambda x, t: np.where(x * t < 0.7, -t, 0)),
    'SoftMargin': (lambda sa: nn.SoftMarginCriterion(sa), lambda s: 3 * rng(1).standard_normal(s),
                   lambda s: _pm1(s, 2), lambda x, t: np.log(1 + np.exp(-x * t)),
                   lambda x, t: -t * np.exp(-x * t) / (1 + np.exp(-x * t))),
    'HingeEmbedding': (lambda sa: nn.HingeEmbeddingCriterion(0.5, sa), lambda s: 2 * rng(1).standard_normal(s),
                       lambda s: _pm1(s, 2), lambda x, t: np.where(t == 1, x, np.maximum(0, 0.5 - x)),
                       lambda x, t: np.where(t == 1, 1, np.where(x < 0.5, -1, 0))),
}


@pytest.mark.parametrize('name', list(POINTWISE))
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', [(5,), (3, 5)])
@pytest.mark.parametrize('sizeAverage', [True, False])
def test_pointwise_criterions(name, dtype, shape, sizeAverage):
    make, mx, mt, loss, dloss = POINTWISE[name]
    c = make(sizeAverage).type(TYPES[dtype])
    assert c.sizeAverage is sizeAverage
    x, t = mx(shape), mt(shape)
    norm = 1 / x.size if sizeAverage else 1
    got = c.forward(x.astype(dtype), t.astype(dtype))
    check_float_loss(got, dtype)
    assert got == pytest.approx(loss(x, t).sum() * norm, rel=rtol_of(dtype) * 10, abs=rtol_of(dtype))
    gi = c.backward(x.astype(dtype), t.astype(dtype))
    assert gi.type() == TYPES[dtype] and gi.shape == shape
    np.testing.assert_allclose(gi.numpy(), dloss(x, t) * norm, rtol=rtol_of(dtype) * 10, atol=rtol_of(dtype))
    if dtype == np.float64:
        assert J.testJacobianCriterion(c, D(x), D(t)) < TOL


def test_pointwise_target_given_with_another_shape_and_errors():
    c = nn.AbsCriterion().double()
    assert c.forward(np.zeros((2, 3)), np.ones(6)) == 1.0
    with pytest.raises(ValueError, match=r'nn.AbsCriterion: input of size \[2, 3\] and target of size \[5\]'):
        c.forward(np.zeros((2, 3)), np.ones(5))
    with pytest.raises(ValueError, match='weights'):
        nn.BCECriterion(D([1, 2, 3])).double().forward(np.full((2, 5), 0.5), np.ones((2, 5)))
    with pytest.raises(ValueError, match='1-D'):
        nn.BCECriterion(D(np.ones((2, 2))))
    # a number label for every element
    h = nn.HingeEmbeddingCriterion().double()
    assert h.forward(np.array([0.5, 2.0]), -1) == pytest.approx(0.25)


def test_bce_is_finite_at_0_and_1():
    c = nn.BCECriterion().double()
    loss = c.forward(np.array([0.0, 1.0, 1.0]), np.array([0.0, 1.0, 0.0]))
    assert loss == pytest.approx(-np.log(EPS) / 3)
    assert np.isfinite(c.backward(np.array([0.0, 1.0, 1.0]), np.array([0.0, 1.0, 0.0])).numpy()).all()


def test_bce_refuses_input_outside_0_1():
    # THNN asserts 0 <= x <= 1 in the forward pass ("input value should be between 0~1"): not a NaN loss
    c = nn.BCECriterion().double()
    for x, shown in (([0.25, 1.5], r'1\.5 at element 1'), ([-1e-3, 0.5], r'-0\.001 at element 0'),
                     ([[0.5, 0.5], [np.nan, 0.5]], 'nan at element 2')):
        with pytest.raises(ValueError, match=rf'nn.BCECriterion: expected input values between 0 and 1.*got {shown}'):
            c.forward(np.array(x), np.ones(np.shape(x)))
    assert c.forward(np.array([0.25, 1.0]), np.array([1.0, 0.0])) == pytest.approx(
        -(np.log(0.25 + EPS) + np.log(EPS)) / 2, rel=1e-12)


def test_soft_margin_is_stable():
    c = nn.SoftMarginCriterion().double()
    with np.errstate(over='raise'):
        assert c.forward(np.array([-1000.0, 1000.0]), np.array([1.0, 1.0])) == pytest.approx(500)
        np.testing.assert_allclose(c.backward(np.array([-1000.0, 1000.0]), np.array([1.0, 1.0])).numpy(),
                                   [-0.5, 0])


# -- ClassNLL / CrossEntropy -------------------------------------------------------------------------------------
def nll_ref(x, t, w=None, sizeAverage=True, ignore=-100):
    x = np.atleast_2d(x)
    t = np.atleast_1d(t)
    keep = t != ignore
    tc = np.where(keep, t, 0)
    wt = (np.ones(len(t)) if w is None else w[tc]) * keep
    loss = -(x[np.arange(len(t)), tc] * wt).sum()
    total = wt.sum()
    return loss / total if sizeAverage and total else loss


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('weights', [None, W5])
@pytest.mark.parametrize('sizeAverage', [True, False])
def test_class_nll_batch(dtype, weights, sizeAverage):
    x = rng(1).standard_normal((4, 5))
    t = np.array([0, 4, 2, 2])
    c = nn.ClassNLLCriterion(None if weights is None else D(weights), sizeAverage).type(TYPES[dtype])
    for target in (L(t), t, list(t), t.astype(np.int32), D(t)):
        got = c.forward(x.astype(dtype), target)
        check_float_loss(got, dtype)
        assert got == pytest.approx(nll_ref(x, t, weights, sizeAverage), rel=rtol_of(dtype) * 10)
    gi = c.backward(x.astype(dtype), L(t)).numpy()
    want = np.zeros((4, 5))
    w = np.ones(5) if weights is None else weights
    want[np.arange(4), t] = -w[t] / (w[t].sum() if sizeAverage else 1)
    np.testing.assert_allclose(gi, want, rtol=rtol_of(dtype))
    if dtype == np.float64:
        assert J.testJacobianCriterion(c, D(x), L(t)) < TOL


def test_class_nll_single_sample_and_ignore_index():
    x = rng(2).standard_normal(5)
    for target in (3, np.int64(3), L([3]), np.array([3])):
        assert nn.ClassNLLCriterion().double().forward(x, target) == pytest.approx(-x[3])
    # 1-D with weights: the total weight is the target's weight (Torch7), so sizeAverage gives -x[t]
    cw = nn.ClassNLLCriterion(D(W5)).double()
    assert cw.forward(x, 4) == pytest.approx(-x[4])
    np.testing.assert_allclose(cw.backward(x, 4).numpy(), [0, 0, 0, 0, -1])
    cw.sizeAverage = False
    assert cw.forward(x, 4) == pytest.approx(-3 * x[4])
    np.testing.assert_allclose(cw.backward(x, 4).numpy(), [0, 0, 0, 0, -3])
    # ignoreIndex (0-based; -100 by default)
    xb = rng(3).standard_normal((3, 5))
    c = nn.ClassNLLCriterion(None, True, 1).double()
    assert c.forward(xb, [1, 2, 4]) == pytest.approx(nll_ref(xb, np.array([1, 2, 4]), ignore=1))
    assert c.backward(xb, [1, 2, 4]).numpy()[0].tolist() == [0] * 5
    d = nn.ClassNLLCriterion().double()
    assert d.ignoreIndex == -100 and 'ignoreIndex' in nn.ClassNLLCriterion._lua_index_fields
    assert d.forward(xb, [-100, 2, 4]) == pytest.approx(-(xb[1, 2] + xb[2, 4]) / 2)
    assert d.forward(xb, [-100, -100, -100]) == 0.0
    np.testing.assert_array_equal(d.backward(xb, [-100, -100, -100]).numpy(), 0)


@pytest.mark.parametrize('make, target', [(lambda: nn.ClassNLLCriterion(None, True, 2), [0, 2]),
                                          (lambda: nn.ClassNLLCriterion(), [0, -100]),
                                          (lambda: nn.ClassNLLCriterion(D([1, 2, 1]), False, 2), [0, 2])])
def test_class_nll_ignored_target_adds_nothing_at_minus_inf(make, target, device):
    # THNN skips an ignored target: its sample's log-probabilities (here log 0 = -inf) are never read (not NaN)
    with np.errstate(divide='ignore'):
        x = np.log(np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8]]))
    c, xt, tt = make().double(), D(x), L(target)
    if device == 'cuda':
        c, xt, tt = c.cuda(), xt.cuda(), tt.type('torch.CudaLongTensor')
    assert c.forward(xt, tt) == pytest.approx(np.log(2), rel=1e-7)
    np.testing.assert_array_equal(c.backward(xt, tt).double().numpy(), [[-1, 0, 0], [0, 0, 0]])


def test_class_nll_errors_name_criterion_target_and_classes():
    c = nn.ClassNLLCriterion().double()
    x = np.zeros((3, 5))
    with pytest.raises(ValueError, match=r'nn.ClassNLLCriterion: target 5 \(sample 1\) is out of range for 5 classes'):
        c.forward(x, [0, 5, 1])
    with pytest.raises(ValueError, match=r'target -1 .*5 classes.*0-based'):
        c.forward(x, L([0, 1, -1]))
    with pytest.raises(ValueError, match=r'target 5 is out of range for 5 classes'):
        c.forward(np.zeros(5), 5)
    with pytest.raises(ValueError, match=r'expected a target of size \[3\].*got a target of size \[2\]'):
        c.forward(x, [0, 1])
    with pytest.raises(ValueError, match=r'one target class for a 1-D input of 5 classes'):
        c.forward(np.zeros(5), [0, 1])
    with pytest.raises(ValueError, match='1-D or 2-D'):
        c.forward(np.zeros((2, 3, 4)), [0, 1])
    with pytest.raises(ValueError, match='all 4 classes'):
        nn.ClassNLLCriterion(D(W5)).double().forward(np.zeros((2, 4)), [0, 1])
    with pytest.raises(TypeError):
        c.forward(x, 'a')


@pytest.mark.parametrize('dtype', DTYPES)
def test_cross_entropy(dtype):
    x = 3 * rng(4).standard_normal((4, 5))
    t = np.array([1, 0, 4, 4])
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    c = nn.CrossEntropyCriterion().type(TYPES[dtype])
    got = c.forward(x.astype(dtype), L(t))
    check_float_loss(got, dtype)
    assert got == pytest.approx(-logp[np.arange(4), t].mean(), rel=rtol_of(dtype) * 10)
    gi = c.backward(x.astype(dtype), L(t))
    p = np.exp(logp)
    onehot = np.eye(5)[t]
    np.testing.assert_allclose(gi.numpy(), (p - onehot) / 4, rtol=rtol_of(dtype) * 10, atol=rtol_of(dtype))
    # weighted, and a 1 x n input squeezed to one sample (Torch7)
    cw = nn.CrossEntropyCriterion(D(W5)).type(TYPES[dtype])
    assert cw.forward(x.astype(dtype), t) == pytest.approx(nll_ref(logp, t, W5), rel=rtol_of(dtype) * 10)
    assert c.forward(x[:1].astype(dtype), 1) == pytest.approx(-logp[0, 1], rel=rtol_of(dtype) * 10)
    assert c.backward(x[:1].astype(dtype), 1).shape == (1, 5)
    assert isinstance(c.lsm, nn.LogSoftMax) and isinstance(c.nll, nn.ClassNLLCriterion)
    if dtype == np.float64:
        assert J.testJacobianCriterion(c, D(x), L(t)) < TOL
        assert J.testJacobianCriterion(cw, D(x), L(t)) < TOL
    c.sizeAverage = False
    assert c.forward(x.astype(dtype), t) == pytest.approx(-logp[np.arange(4), t].sum(), rel=rtol_of(dtype) * 10)


# -- MultiMargin, MultiLabelMargin ----------------------------------------------------------------------------
def multimargin_ref(x, t, p=1, w=None, margin=1):
    x = np.atleast_2d(x)
    t = np.atleast_1d(t)
    loss = 0.0
    for i in range(len(t)):
        for d in range(x.shape[1]):
            if d != t[i]:
                z = max(0.0, margin - x[i, t[i]] + x[i, d])
                loss += z ** p * (1 if w is None else w[t[i]])
    return loss / x.shape[1] / len(t)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('p,weights,margin', [(1, None, 1), (2, None, 1), (1, W5, 0.5), (2, W5, 2)])
def test_multi_margin(dtype, p, weights, margin):
    x = rng(5).standard_normal((4, 5))
    t = np.array([0, 3, 3, 4])
    c = nn.MultiMarginCriterion(p, None if weights is None else D(weights), margin).type(TYPES[dtype])
    assert (c.p, c.margin, c.sizeAverage) == (p, margin, True)
    got = c.forward(x.astype(dtype), L(t))
    check_float_loss(got, dtype)
    assert got == pytest.approx(multimargin_ref(x, t, p, weights, margin), rel=rtol_of(dtype) * 10)
    assert c.forward(x[1].astype(dtype), 3) == pytest.approx(multimargin_ref(x[1], 3, p, weights, margin),
                                                             rel=rtol_of(dtype) * 10)
    if dtype == np.float64:
        assert J.testJacobianCriterion(c, D(x), L(t)) < TOL
        assert J.testJacobianCriterion(c, D(x[2]), 3) < TOL
        c.sizeAverage = False
        assert c.forward(x, t) == pytest.approx(4 * multimargin_ref(x, t, p, weights, margin))
        assert J.testJacobianCriterion(c, D(x), L(t)) < TOL


def test_multi_margin_errors():
    with pytest.raises(ValueError, match='p=1 and p=2'):
        nn.MultiMarginCriterion(3)
    with pytest.raises(ValueError, match=r'nn.MultiMarginCriterion: target 3 \(sample 0\).*3 classes'):
        nn.MultiMarginCriterion().double().forward(np.zeros((2, 3)), [3, 0])


def multilabel_ref(x, t):
    x = np.atleast_2d(x)
    t = np.atleast_2d(t)
    loss = 0.0
    n = x.shape[1]
    for i in range(len(x)):
        targets = []
        for j in t[i]:
            if j < 0:
                break
            targets.append(j)
        for j in targets:
            for d in range(n):
                if d not in targets:
                    loss += max(0.0, 1 - (x[i, j] - x[i, d]))
    return loss / n / len(x)


@pytest.mark.parametrize('dtype', DTYPES)
def test_multi_label_margin(dtype):
    x = rng(6).standard_normal((4, 5))
    t = np.array([[3, 0, -1, 1, 1],      # stops at the first -1
                  [4, 3, 2, 1, 0],       # every class is a target: no loss
                  [-1, 2, 2, 2, 2],      # no target
                  [1, 1, -1, -1, -1]])   # a repeated target counts twice (Torch7)
    c = nn.MultiLabelMarginCriterion().type(TYPES[dtype])
    got = c.forward(x.astype(dtype), L(t))
    check_float_loss(got, dtype)
    assert got == pytest.approx(multilabel_ref(x, t), rel=rtol_of(dtype) * 10)
    np.testing.assert_array_equal(c.isTarget.numpy(), [[1, 0, 0, 1, 0], [1, 1, 1, 1, 1], [0] * 5, [0, 1, 0, 0, 0]])
    assert c.forward(x[0].astype(dtype), t[0]) == pytest.approx(multilabel_ref(x[0], t[0]), rel=rtol_of(dtype) * 10)
    if dtype == np.float64:
        assert J.testJacobianCriterion(c, D(x), L(t)) < TOL
        assert J.testJacobianCriterion(c, D(x[3]), L(t[3])) < TOL
    with pytest.raises(ValueError, match=r'nn.MultiLabelMarginCriterion: target 5 .*5 classes.*padded with -1'):
        c.forward(x.astype(dtype), L(np.full((4, 5), 5)))
    with pytest.raises(ValueError, match=r'expected a target of size \[4, 5\]'):
        c.forward(x.astype(dtype), L([1, 2]))


# -- pairs: CosineEmbedding, MarginRanking ------------------------------------------------------------------------
def cosine_ref(a, b, y, margin):
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    cos = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + EPS) * ((b * b).sum(1) + EPS))
    y = np.broadcast_to(y, cos.shape)
    return np.where(y == 1, 1 - cos, np.maximum(0, cos - margin)).mean()


@pytest.mark.parametrize('dtype', DTYPES)
def test_cosine_embedding(dtype):
    a, b = rng(7).standard_normal((4, 3)), rng(8).standard_normal((4, 3))
    b[3] = -a[3] * 2              # cos = -1 < margin: no loss, no gradient
    y = np.array([1, -1, -1, -1])
    c = nn.CosineEmbeddingCriterion(0.1).type(TYPES[dtype])
    assert (c.margin, c.sizeAverage) == (0.1, True)
    got = c.forward([a.astype(dtype), b.astype(dtype)], y.astype(dtype))
    check_float_loss(got, dtype)
    assert got == pytest.approx(cosine_ref(a, b, y, 0.1), rel=rtol_of(dtype) * 10)
    gi = c.backward([a.astype(dtype), b.astype(dtype)], D(y).type(TYPES[dtype]))
    assert isinstance(gi, list) and len(gi) == 2 and gi[0].shape == (4, 3)
    np.testing.assert_array_equal(gi[0].numpy()[3], 0)
    assert c.forward([a[0].astype(dtype), b[0].astype(dtype)], 1) == pytest.approx(
        cosine_ref(a[0], b[0], 1, 0.1), rel=rtol_of(dtype) * 10)
    if dtype == np.float64:
        assert J.testJacobianCriterion(c, [D(a), D(b)], D(y)) < TOL
        assert J.testJacobianCriterion(c, [D(a[1]), D(b[1])], -1) < TOL
    with pytest.raises(ValueError, match='differ'):
        c.forward([a, b[:, :2]], y)
    with pytest.raises(ValueError, match='expected 4 labels'):
        c.forward([a.astype(dtype), b.astype(dtype)], [1, 1])


@pytest.mark.parametrize('dtype', DTYPES)
def test_margin_ranking(dtype):
    a, b = rng(9).standard_normal(6), rng(10).standard_normal(6)
    y = np.array([1, -1, 1, -1, 1, 1.0])
    c = nn.MarginRankingCriterion(0.5).type(TYPES[dtype])
    want = np.maximum(0, -y * (a - b) + 0.5)
    got = c.forward([a.astype(dtype), b.astype(dtype)], y.astype(dtype))
    check_float_loss(got, dtype)
    assert got == pytest.approx(want.mean(), rel=rtol_of(dtype) * 10)
    g1, g2 = c.backward([a.astype(dtype), b.astype(dtype)], y.astype(dtype))
    np.testing.assert_allclose(g1.numpy(), np.where(want > 0, -y, 0) / 6, rtol=rtol_of(dtype))
    np.testing.assert_allclose(g2.numpy(), np.where(want > 0, y, 0) / 6, rtol=rtol_of(dtype))
    # Torch7's non-batch mode: one element each and a number label, no averaging
    assert c.forward([np.array([0.2], dtype), np.array([0.4], dtype)], 1) == pytest.approx(0.7, rel=1e-6)
    g1, g2 = c.backward([np.array([0.2], dtype), np.array([0.4], dtype)], 1)
    assert (g1[0], g2[0]) == (-1, 1)
    if dtype == np.float64:
        assert J.testJacobianCriterion(c, [D(a), D(b)], D(y)) < TOL
    with pytest.raises(ValueError, match='one element each'):
        c.forward([a.astype(dtype), b.astype(dtype)], 1)
    with pytest.raises(TypeError, match=r'table input \[x1, x2\]'):
        c.forward(a.astype(dtype), y)


@pytest.mark.parametrize('make, inp, tgt', [
    (lambda: nn.MarginRankingCriterion(), lambda: [np.zeros(0), np.zeros(0)], lambda: np.zeros(0)),
    (lambda: nn.HingeEmbeddingCriterion(), lambda: np.zeros(0), lambda: np.zeros(0)),
    (lambda: nn.HingeEmbeddingCriterion(), lambda: np.zeros((0, 3)), lambda: -1),
], ids=['MarginRanking', 'HingeEmbedding', 'HingeEmbedding(number y)'])
def test_pair_and_label_criterions_refuse_an_empty_input(make, inp, tgt):
    # as the other criterions: a clear error, not a ZeroDivisionError (MarginRanking) or a loss of 0 (Hinge)
    c = make().double()
    for call in (c.forward, c.backward):
        with pytest.raises(ValueError, match=rf'{c!r}: got an empty input.*size \[0'):
            call(inp(), tgt())


# -- combinations -------------------------------------------------------------------------------------------------
def test_multi_criterion():
    x, t = rng(11).standard_normal((3, 4)), rng(12).standard_normal((3, 4))
    c = nn.MultiCriterion().add(nn.MSECriterion(), 0.5).add(nn.AbsCriterion()).add(nn.SmoothL1Criterion(), 2)
    c.double()
    assert c.weights.tolist() == [0.5, 1, 2] and c.weights.type() == 'torch.DoubleStorage'
    want = 0.5 * ((x - t) ** 2).mean() + np.abs(x - t).mean() + 2 * nn.SmoothL1Criterion().double().forward(x, t)
    assert c.forward(x, t) == pytest.approx(want)
    assert J.testJacobianCriterion(c, D(x), D(t)) < TOL
    # table inputs: the gradients are tables too
    a, b = rng(13).standard_normal(4), rng(14).standard_normal(4)
    y = np.array([1, -1, 1, -1.0])
    mt = nn.MultiCriterion().add(nn.MarginRankingCriterion(), 2).add(nn.MarginRankingCriterion(0.3)).double()
    gi = mt.backward([a, b], y)
    assert isinstance(gi, list) and len(gi) == 2
    assert J.testJacobianCriterion(mt, [D(a), D(b)], D(y)) < TOL
    c.float()
    assert c.criterions[0].type() == 'torch.FloatTensor'
    assert c.backward(x.astype(np.float32), t.astype(np.float32)).type() == 'torch.FloatTensor'


def test_parallel_criterion():
    x1, x2 = rng(15).standard_normal((3, 4)), rng(16).standard_normal((3, 4))
    t1, t2 = rng(17).standard_normal((3, 4)), np.array([0, 3, 2])
    c = nn.ParallelCriterion().add(nn.MSECriterion(), 0.5).add(nn.CrossEntropyCriterion(), 2).double()
    assert c.repeatTarget is False and c.weights == [0.5, 2]
    want = 0.5 * nn.MSECriterion().double().forward(x1, t1) + 2 * nn.CrossEntropyCriterion().double().forward(x2, t2)
    assert c.forward([x1, x2], [t1, L(t2)]) == pytest.approx(want)
    gi = c.backward([x1, x2], [t1, L(t2)])
    assert len(gi) == 2
    np.testing.assert_allclose(gi[0].numpy(), 0.5 * 2 * (x1 - t1) / 12)
    assert J.testJacobianCriterion(c, [D(x1), D(x2)], [D(t1), L(t2)]) < TOL
    r = nn.ParallelCriterion(True).add(nn.MSECriterion()).add(nn.AbsCriterion(), 3).double()
    assert r.forward([x1, x2], t1) == pytest.approx(((x1 - t1) ** 2).mean() + 3 * np.abs(x2 - t1).mean())
    assert J.testJacobianCriterion(r, [D(x1), D(x2)], D(t1)) < TOL
    with pytest.raises(TypeError, match='table target'):
        c.forward([x1, x2], t1)


# -- common behaviour ---------------------------------------------------------------------------------------------
def test_repr_and_call():
    assert repr(nn.ClassNLLCriterion()) == 'nn.ClassNLLCriterion'
    assert repr(nn.CrossEntropyCriterion()) == 'nn.CrossEntropyCriterion'
    c = nn.AbsCriterion().double()
    assert c(np.zeros(2), np.ones(2)) == 1.0 and c.output == 1.0


def test_type_errors():
    with pytest.raises(TypeError, match='torch.FloatTensor'):
        nn.AbsCriterion().double().forward(torch.FloatTensor(2).zero(), np.zeros(2))


def test_buffers_are_reused():
    c = nn.ClassNLLCriterion().double()
    x = rng(18).standard_normal((8, 5))
    c.backward(x, [0, 1, 2, 3, 4, 0, 1, 2])
    a = c.gradInput._a
    c.backward(x, [4, 4, 4, 4, 4, 4, 4, 4])
    assert c.gradInput._a is a
    b = nn.BCECriterion().double()
    b.forward(np.full(6, 0.5), np.ones(6))
    buf = b.__dict__['_a']
    b.forward(np.full(6, 0.3), np.ones(6))
    assert b.__dict__['_a'] is buf


def test_save_load_roundtrip(tmp_path):
    x = rng(19).standard_normal((3, 5))
    t = [1, 0, 4]
    for c in (nn.ClassNLLCriterion(D(W5), True, 2), nn.CrossEntropyCriterion(D(W5)),
              nn.MultiMarginCriterion(2, D(W5), 0.5), nn.BCECriterion(D(W5))):
        c.double()
        tt = t if not isinstance(c, nn.BCECriterion) else np.full((3, 5), 0.5)
        xx = x if not isinstance(c, nn.BCECriterion) else sigmoid(x)
        want = c.forward(xx, tt)
        c2 = roundtrip(c, tmp_path)
        assert c2.forward(xx, tt) == want
    c2 = roundtrip(nn.ClassNLLCriterion(None, True, 2), tmp_path)
    assert c2.ignoreIndex == 2


@pytest.mark.parametrize('make, target', [
    (lambda: nn.ClassNLLCriterion(D(W5)), [1, 0, 4, 4]),
    (lambda: nn.MultiMarginCriterion(2, D(W5), 0.5), [1, 0, 4, 4]),
    (lambda: nn.MultiLabelMarginCriterion(), L([[1, 3, -1, 0, 0], [4, -1, 2, 2, 2], [0, 1, 2, 3, 4], [-1] * 5]))])
def test_class_criterions_read_and_write_noncontiguous_arrays(make, target):
    """An input or gradInput that is a transposed view gives what contiguous ones do (the targets' values are read
    and the gradients written without the flat positions then)."""
    x = rng(23).standard_normal((4, 5))
    xt = torch.DoubleTensor(np.ascontiguousarray(x.T)).t()          # x's values in a transposed view
    assert not xt.isContiguous()
    c, ct = make().double(), make().double()
    ct.gradInput = torch.DoubleTensor(5, 4).t()
    assert ct.forward(xt, target) == c.forward(D(x), target)
    gi = ct.backward(xt, target)
    assert gi is ct.gradInput and not gi.isContiguous()
    np.testing.assert_array_equal(gi.numpy(), c.backward(D(x), target).numpy())


# -- CUDA: every criterion against the CPU (tests/fakecupy runs the kernels' numpy twins) --------------------------
CPU_OF = {'torch.CudaTensor': 'torch.FloatTensor', 'torch.CudaDoubleTensor': 'torch.DoubleTensor'}


def _classes(shape, n, seed, lo=0):
    return ('classes', rng(seed).integers(lo, n, shape))


def _mlm_targets(b, n, seed):
    """0-based target classes then -1 padding, rows of 0 to n targets (some repeated), b x n."""
    r = rng(seed)
    t = np.full((b, n), -1)
    for i in range(b):
        k = i % (n + 1)
        t[i, :k] = r.integers(0, n, k)
        if k < n - 1:
            t[i, k + 1] = r.integers(0, n)             # (after the first -1: not counted)
    return ('classes', t)


GPU_CASES = {
    # name: (make, input (array or list of arrays), target (array, ('classes', int array), a number or a list))
    'MSE': (lambda: nn.MSECriterion(), lambda: rng(1).standard_normal((5, 7)), lambda: rng(2).standard_normal((5, 7))),
    'MSE(30000 elements: several blocks)': (lambda: nn.MSECriterion(), lambda: rng(1).standard_normal((300, 100)),
                                            lambda: rng(2).standard_normal((300, 100))),
    'MSE(sum, 1-D)': (lambda: nn.MSECriterion(False), lambda: rng(1).standard_normal(13),
                      lambda: rng(2).standard_normal(13)),
    'Abs': (lambda: nn.AbsCriterion(), lambda: rng(1).standard_normal((3, 4, 5)),
            lambda: rng(2).standard_normal((3, 4, 5))),
    'SmoothL1': (lambda: nn.SmoothL1Criterion(False), lambda: 2 * rng(1).standard_normal((6, 5)),
                 lambda: rng(2).standard_normal((6, 5))),
    'DistKLDiv': (lambda: nn.DistKLDivCriterion(), lambda: np.log(rng(1).uniform(0.1, 1, (4, 5))),
                  lambda: rng(2).uniform(-0.2, 1, (4, 5))),
    'BCE': (lambda: nn.BCECriterion(), lambda: rng(1).uniform(0.02, 0.98, (6, 5)),
            lambda: rng(2).uniform(0, 1, (6, 5))),
    'BCE(weights, sum)': (lambda: nn.BCECriterion(D(W5), False), lambda: rng(1).uniform(0.02, 0.98, (3, 5)),
                          lambda: (rng(2).uniform(0, 1, (3, 5)) > 0.5) * 1.0),
    'Margin': (lambda: nn.MarginCriterion(0.7), lambda: 2 * rng(1).standard_normal((4, 6)), lambda: _pm1((4, 6), 2)),
    'SoftMargin': (lambda: nn.SoftMarginCriterion(), lambda: 3 * rng(1).standard_normal((4, 6)),
                   lambda: _pm1((4, 6), 2)),
    'MultiLabelSoftMargin(weights)': (lambda: nn.MultiLabelSoftMarginCriterion(D(W5)),
                                      lambda: 3 * rng(1).standard_normal((4, 5)),
                                      lambda: (rng(2).uniform(0, 1, (4, 5)) > 0.5) * 1.0),
    'HingeEmbedding': (lambda: nn.HingeEmbeddingCriterion(0.5), lambda: 2 * rng(1).standard_normal((3, 7)),
                       lambda: _pm1((3, 7), 2)),
    'HingeEmbedding(number y)': (lambda: nn.HingeEmbeddingCriterion(0.5, False),
                                 lambda: 2 * rng(1).standard_normal(9), lambda: -1),
    'ClassNLL': (lambda: nn.ClassNLLCriterion(), lambda: rng(1).standard_normal((7, 5)), lambda: _classes(7, 5, 2)),
    'ClassNLL(weights, ignore 2)': (lambda: nn.ClassNLLCriterion(D(W5), True, 2),
                                    lambda: rng(1).standard_normal((9, 5)), lambda: _classes(9, 5, 2)),
    'ClassNLL(sum, ignore -100)': (lambda: nn.ClassNLLCriterion(None, False),
                                   lambda: rng(1).standard_normal((4, 5)),
                                   lambda: ('classes', np.array([1, -100, 4, -100]))),
    'ClassNLL(all ignored)': (lambda: nn.ClassNLLCriterion(D(W5), True, 3), lambda: rng(1).standard_normal((3, 5)),
                              lambda: ('classes', np.array([3, 3, 3]))),
    'ClassNLL(batch 20000: several blocks)': (lambda: nn.ClassNLLCriterion(D(W5[:3]), True, 1),
                                              lambda: rng(1).standard_normal((20000, 3)),
                                              lambda: _classes(20000, 3, 2)),
    'ClassNLL(1-D)': (lambda: nn.ClassNLLCriterion(D(W5)), lambda: rng(1).standard_normal(5), lambda: 3),
    'ClassNLL(100000 classes)': (lambda: nn.ClassNLLCriterion(), lambda: rng(1).standard_normal((3, 100000)),
                                 lambda: ('classes', np.array([99999, 0, 31337]))),
    'CrossEntropy': (lambda: nn.CrossEntropyCriterion(), lambda: 3 * rng(1).standard_normal((6, 5)),
                     lambda: _classes(6, 5, 2)),
    'CrossEntropy(weights, 1 x n)': (lambda: nn.CrossEntropyCriterion(D(W5)),
                                     lambda: 3 * rng(1).standard_normal((1, 5)), lambda: 4),
    'MultiMargin': (lambda: nn.MultiMarginCriterion(), lambda: rng(1).standard_normal((6, 5)),
                    lambda: _classes(6, 5, 2)),
    'MultiMargin(3000 x 7: several blocks)': (lambda: nn.MultiMarginCriterion(),
                                              lambda: rng(1).standard_normal((3000, 7)),
                                              lambda: _classes(3000, 7, 2)),
    'MultiMargin(p=2, weights, 1-D)': (lambda: nn.MultiMarginCriterion(2, D(W5), 0.5),
                                       lambda: rng(1).standard_normal(5), lambda: 2),
    'MultiLabelMargin': (lambda: nn.MultiLabelMarginCriterion(), lambda: rng(1).standard_normal((7, 5)),
                         lambda: _mlm_targets(7, 5, 2)),
    'MultiLabelMargin(sum, 1-D)': (lambda: nn.MultiLabelMarginCriterion(False), lambda: rng(1).standard_normal(6),
                                   lambda: ('classes', np.array([4, 0, 4, -1, 2, -1]))),
    'CosineEmbedding': (lambda: nn.CosineEmbeddingCriterion(0.2),
                        lambda: [rng(1).standard_normal((6, 4)), rng(2).standard_normal((6, 4))],
                        lambda: _pm1(6, 3)),
    'CosineEmbedding(10000 rows)': (lambda: nn.CosineEmbeddingCriterion(0.2),
                                    lambda: [rng(1).standard_normal((10000, 3)), rng(2).standard_normal((10000, 3))],
                                    lambda: _pm1(10000, 3)),
    'CosineEmbedding(sum, 1-D, number y)': (lambda: nn.CosineEmbeddingCriterion(-0.5, False),
                                            lambda: [rng(1).standard_normal(9), rng(2).standard_normal(9)],
                                            lambda: -1),
    'MarginRanking': (lambda: nn.MarginRankingCriterion(0.3),
                      lambda: [rng(1).standard_normal(8), rng(2).standard_normal(8)], lambda: _pm1(8, 3)),
    'Multi(MSE, Abs)': (lambda: nn.MultiCriterion().add(nn.MSECriterion(), 0.5).add(nn.AbsCriterion()),
                        lambda: rng(1).standard_normal((3, 4)), lambda: rng(2).standard_normal((3, 4))),
    'Parallel(MSE, ClassNLL)': (lambda: nn.ParallelCriterion().add(nn.MSECriterion(), 0.5).add(nn.ClassNLLCriterion()),
                                lambda: [rng(1).standard_normal((3, 4)), rng(2).standard_normal((3, 4))],
                                lambda: [rng(3).standard_normal((3, 4)), ('classes', np.array([3, 0, 1]))]),
}


def _on(tname, a, class_type):
    """Array ``a`` (or a nested list, a number, a ('classes', ints) pair) as tensors of type ``tname``; class
    targets as ``class_type`` (None: a LongTensor of tname's device; else that tensor type)."""
    if isinstance(a, list):
        return [_on(tname, e, class_type) for e in a]
    if isinstance(a, tuple):
        t = L(a[1])
        if 'Cuda' in tname:
            t = t.type(class_type or 'torch.CudaLongTensor')
        return t
    if isinstance(a, np.ndarray):
        return torch.DoubleTensor(a.astype(np.float64)).type(tname)
    return a


def _listed(g):
    return g if isinstance(g, list) else [g]


def _has_classes(name):
    return any(isinstance(e, tuple) for e in _listed(GPU_CASES[name][2]()))


@pytest.mark.gpu
@pytest.mark.parametrize('name, float_classes', [(n, f) for n in GPU_CASES for f in (False, True)
                                                 if not f or _has_classes(n)])
@pytest.mark.parametrize('tname', ['torch.CudaTensor', 'torch.CudaDoubleTensor'])
def test_gpu_matches_cpu(name, float_classes, tname):
    """forward (a float), forwardDevice (a 1-element device tensor, no synchronization) and backward on CUDA agree
    with the CPU; class targets as a CudaLongTensor, or (float_classes) as a tensor of the criterion's type, as
    ``:cuda()`` makes them."""
    make, mx, mt = GPU_CASES[name]
    ctype = CPU_OF[tname]
    cpu, gpu = make().type(ctype), make().type(tname)
    x, t = mx(), mt()
    xc, tc = _on(ctype, x, None), _on(ctype, t, None)
    xg, tg = _on(tname, x, tname if float_classes else None), _on(tname, t, tname if float_classes else None)
    tol = 1e-5 if tname == 'torch.CudaTensor' else 1e-11
    want = cpu.forward(xc, tc)
    got = gpu.forward(xg, tg)
    assert type(got) is float and gpu.output == got
    assert got == pytest.approx(want, rel=tol, abs=tol)
    dev = gpu.forwardDevice(xg, tg)
    assert dev.type() == tname and dev.nElement() == 1 and gpu.output == got
    assert float(dev) == pytest.approx(want, rel=tol, abs=tol)
    gw, gg = _listed(cpu.backward(xc, tc)), _listed(gpu.backward(xg, tg))
    assert len(gw) == len(gg)
    for a, b in zip(gw, gg):
        assert b.type() == tname
        np.testing.assert_allclose(b.double().numpy(), a.double().numpy(), rtol=tol * 10, atol=tol)
    if isinstance(gpu, nn.MultiLabelMarginCriterion):
        np.testing.assert_array_equal(gpu.isTarget.double().numpy(), cpu.isTarget.double().numpy())
    if isinstance(gpu, nn.MultiLabelSoftMarginCriterion):
        np.testing.assert_allclose(gpu.sigmoid.output.double().numpy(), cpu.sigmoid.output.double().numpy(),
                                   rtol=tol)


@pytest.mark.gpu
@pytest.mark.parametrize('make, target', [
    (lambda: nn.ClassNLLCriterion(D(W5)), [1, 0, 4, 4]),
    (lambda: nn.MultiMarginCriterion(2, D(W5), 0.5), [1, 0, 4, 4]),
    (lambda: nn.MultiLabelMarginCriterion(), [[1, 3, -1, 0, 0], [4, -1, 2, 2, 2], [0, 1, 2, 3, 4], [-1] * 5]),
    (lambda: nn.MSECriterion(), np.arange(20.).reshape(4, 5) / 7),
    (lambda: nn.BCECriterion(D(W5)), np.arange(20.).reshape(4, 5) / 20),
])
def test_gpu_noncontiguous_input_target_and_gradinput(make, target):
    """On CUDA a transposed input, target or gradInput is copied to / from a kept C-contiguous buffer around the
    kernels (which index flat): same numbers as contiguous arrays."""
    x = rng(23).uniform(0.05, 0.95, (4, 5))
    xt = torch.FloatTensor(np.ascontiguousarray(x.T).astype(np.float32)).cuda().t()
    assert not xt.isContiguous()
    if isinstance(target, list):                                    # class targets
        tt = tc = L(np.asarray(target)).type('torch.CudaLongTensor')
    else:
        tt = torch.FloatTensor(np.ascontiguousarray(target.T).astype(np.float32)).cuda().t()
        tc = torch.FloatTensor(target.astype(np.float32)).cuda()
    c, ct = make().cuda(), make().cuda()
    ct.gradInput = torch.FloatTensor(5, 4).cuda().t()
    assert ct.forward(xt, tt) == pytest.approx(c.forward(torch.FloatTensor(x.astype(np.float32)).cuda(), tc),
                                               rel=1e-6)
    gi = ct.backward(xt, tt)
    assert gi is ct.gradInput and not gi.isContiguous()
    np.testing.assert_allclose(gi.float().numpy(),
                               c.backward(torch.FloatTensor(x.astype(np.float32)).cuda(), tc).float().numpy(),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.gpu
@pytest.mark.parametrize('make', [lambda: nn.ClassNLLCriterion(), lambda: nn.ClassNLLCriterion(D(W5), True, 2),
                                  lambda: nn.CrossEntropyCriterion(), lambda: nn.MultiMarginCriterion()],
                         ids=['ClassNLL', 'ClassNLL(weights, ignore)', 'CrossEntropy', 'MultiMargin'])
@pytest.mark.parametrize('ttype', ['torch.CudaLongTensor', 'torch.CudaTensor'])
def test_gpu_bad_class_target(make, ttype):
    """CUDA checks class targets in the kernels (no synchronization, no out-of-bounds read): forward raises the
    CPU's error; forwardDevice gives NaN and backward a zero gradient row; the flag stays up (NaN losses) until
    the next forward, which raises."""
    x = np.log(rng(5).uniform(0.1, 1, (4, 5)))
    xg = torch.FloatTensor(x.astype(np.float32)).cuda()
    good = np.array([1, 3, 2, 0])
    for bad_value in (5, -1, 10 ** 9, -10 ** 9):
        bad = good.copy()
        bad[1] = bad_value
        c = make().cuda()
        with pytest.raises(ValueError) as cpu_error:
            make().float().forward(x.astype(np.float32), L(bad))
        with pytest.raises(ValueError) as gpu_error:
            c.forward(xg, L(bad).type(ttype))
        assert str(gpu_error.value) == str(cpu_error.value)
        assert 'out of range' in str(gpu_error.value) and '0-based' in str(gpu_error.value)
        assert np.isnan(float(c.forwardDevice(xg, L(bad).type(ttype))))
        gi = c.backward(xg, L(bad).type(ttype)).float().numpy()
        np.testing.assert_array_equal(gi[1], 0)
        assert np.isfinite(gi).all()
        assert np.isnan(float(c.forwardDevice(xg, L(good).type(ttype))))          # (sticky until a forward)
        with pytest.raises(ValueError, match='earlier forwardDevice'):
            c.forward(xg, L(good).type(ttype))
        want = make().float().forward(x.astype(np.float32), L(good))
        assert c.forward(xg, L(good).type(ttype)) == pytest.approx(want, rel=1e-6)
        c.backward(xg, L(bad).type(ttype))                                        # a backward-only loop ...
        with pytest.raises(ValueError, match='out of range'):                     # ... raises at the next forward
            c.forward(xg, L(bad).type(ttype))


@pytest.mark.gpu
def test_gpu_bad_multilabel_target():
    c = nn.MultiLabelMarginCriterion().cuda()
    x = rng(6).standard_normal((3, 4))
    bad = np.array([[1, -1, 0, 0], [3, 2, -2, 0], [0, -1, -1, -1]])
    with pytest.raises(ValueError) as cpu_error:
        nn.MultiLabelMarginCriterion().float().forward(x.astype(np.float32), L(bad))
    xg = torch.FloatTensor(x.astype(np.float32)).cuda()
    with pytest.raises(ValueError) as gpu_error:
        c.forward(xg, L(bad).type('torch.CudaLongTensor'))
    assert str(gpu_error.value) == str(cpu_error.value) and 'at [1, 2]' in str(gpu_error.value)
    assert np.isnan(float(c.forwardDevice(xg, L(bad).cuda())))
    assert np.isfinite(c.backward(xg, L(bad).cuda()).float().numpy()).all()


def test_cross_entropy_keeps_nll_size_average_set_directly():
    # Torch7: CrossEntropyCriterion passes sizeAverage on to nll only once it changed, so the older
    # `crit.nll.sizeAverage = false` still sums
    x, t = torch.fromNumpy(rnd_ce(5, 4)), L([0, 3, 1, 2, 3])
    summed = nn.CrossEntropyCriterion(None, False).forward(x, t)
    c = nn.CrossEntropyCriterion()
    c.nll.sizeAverage = False
    assert c.forward(x, t) == pytest.approx(summed, rel=1e-12)
    g = c.backward(x, t)._a.copy()
    np.testing.assert_allclose(g, nn.CrossEntropyCriterion(None, False).backward(x, t)._a, rtol=1e-12)
    c2 = nn.CrossEntropyCriterion()
    c2.sizeAverage = False                  # the newer way still works
    assert c2.forward(x, t) == pytest.approx(summed, rel=1e-12)


def test_cross_entropy_size_average_set_back():
    # Torch7 updates oldSizeAverage on every call: setting sizeAverage back to true averages again
    x, t = torch.fromNumpy(rnd_ce(5, 4)), L([0, 3, 1, 2, 3])
    logp = x.numpy() - np.log(np.exp(x.numpy()).sum(1, keepdims=True))
    want = -logp[np.arange(5), [0, 3, 1, 2, 3]]
    c = nn.CrossEntropyCriterion()
    for sizeAverage, loss in ((False, want.sum()), (True, want.mean()), (False, want.sum())):
        c.sizeAverage = sizeAverage
        assert c.forward(x, t) == pytest.approx(loss, rel=1e-12)
        assert c.nll.sizeAverage is sizeAverage and c.oldSizeAverage is sizeAverage
        assert c.backward(x, t)._a[0, 0] == pytest.approx((np.exp(logp[0, 0]) - 1) / (5 if sizeAverage else 1))


@pytest.mark.parametrize('make', [lambda s: nn.ClassNLLCriterion(None, s), lambda s: nn.CrossEntropyCriterion(None, s),
                                  lambda s: nn.MSECriterion(s), lambda s: nn.BCECriterion(None, s)])
def test_size_average_none_means_true(make):
    # Lua's nil (Python's None) for sizeAverage is Torch7's default, true -- not a falsy "sum"
    assert make(None).sizeAverage is True


def test_class_nll_nan_target_is_named():
    x = torch.fromNumpy(np.log(np.full((3, 4), 0.25)))
    with pytest.raises(ValueError, match=r"nn\.ClassNLLCriterion: expected class indices in the target, got nan"):
        nn.ClassNLLCriterion().forward(x, torch.DoubleTensor(np.array([np.nan, 1., 2.])))


def rnd_ce(*shape):
    return np.random.default_rng(5).standard_normal(shape)


def test_cross_entropy_squeezes_the_target():
    # Torch7: target:squeeze() -- a 1 x N (or N x 1) target of a batch of N is N class indices
    x = torch.fromNumpy(rnd_ce(3, 4))
    flat = nn.CrossEntropyCriterion()
    want, gwant = flat.forward(x, L([0, 1, 2])), flat.backward(x, L([0, 1, 2]))._a.copy()
    for t in (L([[0, 1, 2]]), L([[0], [1], [2]])):
        c = nn.CrossEntropyCriterion()
        assert c.forward(x, t) == pytest.approx(want, rel=1e-12)
        np.testing.assert_allclose(c.backward(x, t)._a, gwant, rtol=1e-12)


def test_criterion_minus_module_before_nngraph_loaded():
    """``criterion - module`` names both sides (nngraph's error) in a fresh process too, where nngraph has not
    loaded yet (it was Python's bare 'unsupported operand' until something loaded nngraph)."""
    code = ("from luatorch_py import nn\n"
            "c = nn.MSECriterion()\n"
            "for x in (nn.Linear(2, 3), 1):\n"
            "    try:\n"
            "        c - x\n"
            "    except TypeError as e:\n"
            "        print(str(e)[:60])\n")
    out = fresh_stdout(code).split('\n')
    assert out[0] == 'nngraph: in `a - b` with b = nn.Linear(2 -> 3), a must be an'
    assert out[1] == "unsupported operand type(s) for -: 'MSECriterion' and 'int'"

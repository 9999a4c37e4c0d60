"""Normalize, MM, PairwiseDistance, CosineDistance, DotProduct."""
import math

import numpy as np
import pytest

from luatorch_py import nn

from nn_helpers import J, TOL, D, check_float32, check_gpu, check_reloads, check_steady_state, f32, rnd, roundtrip


# -- Normalize ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('p', [1, 1.5, 2, 3, 4, math.inf])
def test_normalize(p):
    x = rnd(4, 5)
    m = nn.Normalize(p)
    if p == math.inf:
        norms = np.abs(x).max(1, keepdims=True) + 1e-10
    else:
        norms = ((np.abs(x) ** p).sum(1, keepdims=True) + 1e-10) ** (1 / p)
    np.testing.assert_allclose(m.forward(x).numpy(), x / norms, rtol=1e-12)
    np.testing.assert_allclose(m.forward(x[1]).numpy(), x[1] / norms[1], rtol=1e-12)
    assert J.testJacobian(nn.Normalize(p), D(4, 5)) < TOL
    assert J.testJacobian(nn.Normalize(p), D(5)) < TOL


def test_normalize_inf_rows_of_another_length_same_batch():
    # the inf-norm's backward keeps each row's first flat position: a batch of as many rows of another length
    # must not reuse them (it sent the gradient of the max to the wrong elements)
    x1, x2, g2 = rnd(4, 3), rnd(4, 5, seed=1), rnd(4, 5, seed=2)
    m = nn.Normalize(math.inf)
    m.forward(x1)
    m.backward(x1, np.ones((4, 3)))
    m.forward(x2)
    gi = m.backward(x2, g2).numpy()
    norms = np.abs(x2).max(1, keepdims=True) + 1e-10
    arg = np.abs(x2).argmax(1)[:, None]
    # d(x_j / n)/dx_i = [i == j] / n - x_j / n^2 dn/dx_i, dn/dx_i = sign(x_i) (Torch7: x_i / n) at the max only
    want = g2 / norms
    cross = (x2 * g2).sum(1, keepdims=True)
    np.put_along_axis(want, arg, np.take_along_axis(want, arg, 1)
                      - np.take_along_axis(x2, arg, 1) / norms * cross / norms ** 2, 1)
    fresh = nn.Normalize(math.inf)
    fresh.forward(x2)
    np.testing.assert_allclose(gi, fresh.backward(x2, g2).numpy(), rtol=1e-12)
    np.testing.assert_allclose(gi, want, rtol=1e-10)


def test_normalize_repr_and_errors():
    assert repr(nn.Normalize(2)) == 'nn.Normalize(2)'
    assert repr(nn.Normalize(1.5)) == 'nn.Normalize(1.500000)'
    assert repr(nn.Normalize(math.inf)) == 'nn.Normalize(inf)'
    with pytest.raises(ValueError, match='not supported'):
        nn.Normalize(0)
    with pytest.raises(ValueError, match=r'nn.Normalize\(2\): expected a 1-D input or a 2-D batch, got size \[2, 3, 4\]'):
        nn.Normalize(2).forward(rnd(2, 3, 4))
    # rows of no element have no largest |x|: a named error (the finite norms give an empty output)
    with pytest.raises(ValueError, match=r'^nn.Normalize\(inf\): the inf-norm of a row of no element is undefined '
                                         r'\(input rows of size \[4, 0\]\)'):
        nn.Normalize(math.inf).forward(np.zeros((4, 0)))
    assert nn.Normalize(2).forward(np.zeros((4, 0))).numpy().shape == (4, 0)


# -- MM -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('ta, tb', [(False, False), (True, False), (False, True), (True, True)])
def test_mm(ta, tb):
    a, b = rnd(3, 4), rnd(4, 5, seed=1)
    A = a.T.copy() if ta else a
    B = b.T.copy() if tb else b
    m = nn.MM(ta, tb)
    np.testing.assert_allclose(m.forward([A, B]).numpy(), a @ b, rtol=1e-12)
    g = rnd(3, 5, seed=2)
    ga, gb = m.backward([A, B], g)
    np.testing.assert_allclose(ga.numpy(), (g @ b.T).T if ta else g @ b.T, rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), (a.T @ g).T if tb else a.T @ g, rtol=1e-12)
    assert J.testJacobian(nn.MM(ta, tb), [D(*A.shape), D(*B.shape)]) < TOL
    # batches of matrices
    ab, bb = rnd(2, 3, 4), rnd(2, 4, 5, seed=1)
    Ab = ab.swapaxes(1, 2).copy() if ta else ab
    Bb = bb.swapaxes(1, 2).copy() if tb else bb
    np.testing.assert_allclose(m.forward([Ab, Bb]).numpy(), ab @ bb, rtol=1e-12)
    assert J.testJacobian(nn.MM(ta, tb), [D(*Ab.shape), D(*Bb.shape)]) < TOL


def test_mm_errors():
    with pytest.raises(ValueError, match=r'nn.MM: matrix sizes do not match: \[3, 4\] x \[3, 5\]'):
        nn.MM().forward([rnd(3, 4), rnd(3, 5)])
    with pytest.raises(ValueError, match=r'nn.MM: expected two matrices.*\[3\] and \[3, 5\]'):
        nn.MM().forward([rnd(3), rnd(3, 5)])
    with pytest.raises(TypeError, match='list of two'):
        nn.MM().forward(rnd(3, 3))


# -- PairwiseDistance, CosineDistance, DotProduct -------------------------------------------------------------
@pytest.mark.parametrize('p', [1, 1.5, 2, 3])
def test_pairwise_distance(p):
    a, b = rnd(4, 5), rnd(4, 5, seed=1)
    m = nn.PairwiseDistance(p)
    want = (np.abs(a - b) ** p).sum(1) ** (1 / p)
    np.testing.assert_allclose(m.forward([a, b]).numpy(), want, rtol=1e-12)
    y = m.forward([a[0], b[0]])
    assert y.shape == (1,)
    np.testing.assert_allclose(y.numpy(), want[:1], rtol=1e-12)
    assert J.testJacobian(nn.PairwiseDistance(p), [D(4, 5), D(4, 5)]) < TOL
    assert J.testJacobian(nn.PairwiseDistance(p), [D(5), D(5)]) < TOL


def test_pairwise_distance_l1_zero_differences_draw_signs():
    a = np.array([[1.0, 2.0, 3.0], [0.0, 5.0, 5.0]])
    b = np.array([[1.0, 0.0, 3.0], [1.0, 5.0, 4.0]])
    m = nn.PairwiseDistance(1)
    m.forward([a, b])
    g1, g2 = m.backward([a, b], np.ones(2))
    s = g1.numpy()
    assert set(s[[0, 0, 1], [0, 2, 1]]) <= {-1.0, 1.0}    # zero differences: a random sign, as Torch7
    np.testing.assert_array_equal(s[[0, 1, 1], [1, 0, 2]], [1, -1, 1])
    np.testing.assert_array_equal(g2.numpy(), -s)


def test_pairwise_distance_clear_state_empties_diff(tmp_path):
    # Torch7's PairwiseDistance:clearState empties diff (a model saved after it does not carry the last batch's)
    a, b = rnd(40, 50), rnd(40, 50, seed=1)
    m = nn.PairwiseDistance(2)
    m.forward([a, b])
    m.clearState()
    assert m.diff.nElement() == 0
    assert roundtrip(m, tmp_path).diff.nElement() == 0
    g1, g2 = m.backward([a[:2], b[:2]], np.ones(2))          # (the output recomputed)
    d = a[:2] - b[:2]
    np.testing.assert_allclose(g1.numpy(), d / (np.sqrt((d * d).sum(1, keepdims=True)) + 1e-6), rtol=1e-12)


def test_cosine_distance():
    a, b = rnd(4, 5), rnd(4, 5, seed=1)
    m = nn.CosineDistance()
    want = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))
    np.testing.assert_allclose(m.forward([a, b]).numpy(), want, rtol=1e-12)
    y = m.forward([a[2], b[2]])
    assert y.shape == (1,)
    np.testing.assert_allclose(y.numpy(), want[2:3], rtol=1e-12)
    assert J.testJacobian(nn.CosineDistance(), [D(4, 5), D(4, 5)]) < TOL
    assert J.testJacobian(nn.CosineDistance(), [D(5), D(5)]) < TOL
    g1, g2 = m.backward([a[2], b[2]], np.ones(1))
    assert g1.shape == (5,) and g2.shape == (5,)


def test_dot_product():
    a, b = rnd(4, 5), rnd(4, 5, seed=1)
    m = nn.DotProduct()
    np.testing.assert_allclose(m.forward([a, b]).numpy(), (a * b).sum(1), rtol=1e-12)
    g = rnd(4, seed=2)
    g1, g2 = m.backward([a, b], g)
    np.testing.assert_allclose(g1.numpy(), b * g[:, None])
    np.testing.assert_allclose(g2.numpy(), a * g[:, None])
    assert m.forward([a[0], b[0]]).shape == (1,)
    assert J.testJacobian(nn.DotProduct(), [D(4, 5), D(4, 5)]) < TOL
    assert J.testJacobian(nn.DotProduct(), [D(5), D(5)]) < TOL


def test_pair_errors():
    for m in (nn.PairwiseDistance(2), nn.CosineDistance(), nn.DotProduct()):
        with pytest.raises(ValueError, match=rf'{m.__torch_name__}.*same size.*\[4, 5\] and \[4, 6\]'):
            m.forward([rnd(4, 5), rnd(4, 6)])
        m.forward([rnd(4, 5), rnd(4, 5)])
        with pytest.raises(ValueError, match=r'expected gradOutput of size \[4\], got \[3\]'):
            m.backward([rnd(4, 5), rnd(4, 5)], rnd(3))
    with pytest.raises(ValueError, match='finite p > 0'):
        nn.PairwiseDistance(0)


# -- float32, steady state, save/load, GPU ---------------------------------------------------------------------
CASES = [
    (lambda: nn.Normalize(2), lambda: rnd(4, 5)),
    (lambda: nn.Normalize(math.inf), lambda: rnd(4, 5)),
    (lambda: nn.MM(False, True), lambda: [rnd(2, 3, 4), rnd(2, 5, 4)]),
    (lambda: nn.MM(True, False), lambda: [rnd(2, 4, 3), rnd(2, 4, 5)]),
    (lambda: nn.PairwiseDistance(1), lambda: [rnd(4, 5), rnd(4, 5, seed=1)]),
    (lambda: nn.PairwiseDistance(2), lambda: [rnd(4, 5), rnd(4, 5, seed=1)]),
    (lambda: nn.PairwiseDistance(3), lambda: [rnd(4, 5), rnd(4, 5, seed=1)]),
    (lambda: nn.CosineDistance(), lambda: [rnd(4, 5), rnd(4, 5, seed=1)]),
    (lambda: nn.DotProduct(), lambda: [rnd(4, 5), rnd(4, 5, seed=1)]),
]


@pytest.mark.parametrize('make, inp', CASES)
def test_float32_and_steady_state(make, inp):
    x = inp()
    m32 = make().float()
    y64 = check_float32(make().double(), m32, x, rtol=1e-4, atol=1e-6)
    check_steady_state(m32, f32(x), np.ones(y64.shape, np.float32))


def test_save_load_roundtrip(tmp_path):
    x = [rnd(4, 5), rnd(4, 5, seed=1)]
    for m in (nn.PairwiseDistance(3), nn.CosineDistance(), nn.DotProduct(), nn.MM(False, True)):
        check_reloads(m, x, tmp_path, rtol=1e-7)
    n = roundtrip(nn.Normalize(1.5), tmp_path)
    assert n.p == 1.5 and repr(n) == 'nn.Normalize(1.500000)'


@pytest.mark.gpu
@pytest.mark.parametrize('make, inp', CASES)
def test_gpu_matches_cpu(make, inp):
    check_gpu(make().float(), make().cuda(), inp())

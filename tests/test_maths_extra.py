"""The rest of Torch7's maths.md (luatorch_py/maths_extra.py, maths_select.py, maths_conv.py, maths_bits.py): Lua
Torch7's own results (../shared/fixtures/t7/maths), independent loop and numpy references, every call form, C's
integer rules, errors, and CUDA tensors (gpu-marked; fakecupy where there is no device)."""
import itertools
import math
import os

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py.maths_select import th_quickselect, th_quicksort
from luatorch_py.types import on_device

import maths_oracle as oracle

MINE = set('median mode kthvalue cross tril triu reshape histc bhistc atan2 lerp renorm conv2 xcorr2 conv3 xcorr3 '
           'bitand cbitand bitor cbitor bitxor cbitxor lshift clshift rshift crshift mod cmod numel %'.split())


def on(t, device):
    """t on the device ('cpu' or 'cuda'), same element type."""
    return t if device == 'cpu' else t.type(on_device(t._info, True).name)


def host(t):
    return t.cpu().numpy() if t.is_cuda() else t.numpy()


def rng(seed=0):
    return np.random.RandomState(seed)


# -- Lua Torch7's results --------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def lua_cases():
    if not os.path.exists(oracle.CASES):
        pytest.skip(f"{oracle.CASES} absent")
    return [c for c in oracle.load_cases() if c['fn'] in MINE]


@pytest.mark.parametrize('cuda', [False, pytest.param(True, marks=pytest.mark.gpu)])
def test_every_case_of_these_functions_is_lua_torch7s(lua_cases, cuda):
    cases = [c for c in lua_cases if not cuda or oracle.cuda_applicable(c)]
    assert cuda or {c['fn'] for c in cases} == MINE - {'cmod'}           # (the fixture has no cmod case)
    assert len(cases) >= (70 if cuda else 75)
    fails = [(c['key'], why) for c in cases for ok, why in [oracle.run_case(c, cuda=cuda)] if not ok]
    assert not fails


# -- median, kthvalue, mode -----------------------------------------------------------------------------------------
def _kth_reference(a, k, axis):
    """Values: the k-th smallest by sorting; (indices are checked separately: they must point at those values)."""
    return np.take(np.sort(a, axis=axis), [k - 1], axis=axis)


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_kthvalue_and_median_against_sorting(device):
    a = rng(1).randn(4, 7, 5)
    x = on(torch.DoubleTensor(a), device)
    for d in (0, 1, 2, -1):
        n = a.shape[d]
        for k in (1, n // 2 + 1, n):
            v, i = torch.kthvalue(x, k, d)
            assert v.type() == x.type() and i.type() == on_device(torch.LongTensor._info, device == 'cuda').name
            np.testing.assert_array_equal(host(v), _kth_reference(a, k, d))
            np.testing.assert_array_equal(np.take_along_axis(a, host(i), d), host(v))   # unique values: the index
        v, i = x.median(d)
        np.testing.assert_array_equal(host(v), _kth_reference(a, (n - 1) // 2 + 1, d))   # even count: the lower
        np.testing.assert_array_equal(np.take_along_axis(a, host(i), d), host(v))
    v, i = torch.median(x)                         # default: the last dim
    assert v.size() == (4, 7, 1) and i.size() == (4, 7, 1)
    np.testing.assert_array_equal(host(v), _kth_reference(a, 3, 2))


def test_median_of_an_even_count_is_the_lower_middle_value():
    v, i = torch.median(torch.Tensor([3, 1, 4, 1.5, 9, 2.6]))
    assert v.tolist() == [2.6] and i.tolist() == [5]
    v, i = torch.median(torch.LongTensor([[4, 1, 3, 2]]))
    assert v.tolist() == [[2]] and i.tolist() == [[3]]


def test_quickselect_and_quicksort_follow_torch7s_steps():
    # hand-traced through Torch7's C: [2, 1, 1], k = 1: the median-of-three swap puts 2 last, the partition stops
    # at j = 1 and swaps the pivot (position 2's 1) to the front: Torch7 reports index 1, not 2
    arr, idx = [2, 1, 1], [0, 1, 2]
    th_quickselect(arr, idx, 0)
    assert arr[0] == 1 and idx[0] == 1
    # two elements: swapped only when out of order, so of two equal ones the first stays first
    arr, idx = [5, 5], [0, 1]
    th_quickselect(arr, idx, 1)
    assert idx == [0, 1]
    # larger random rows with many ties: the sort is a sort, the indices move with their values
    r = rng(2)
    for n in (1, 2, 11, 12, 40, 300):
        row = r.randint(0, 6, n).tolist()
        arr, idx = list(row), list(range(n))
        th_quicksort(arr, idx)
        assert arr == sorted(row) and sorted(idx) == list(range(n)) and [row[j] for j in idx] == arr
        for k in {0, n // 2, n - 1}:
            arr, idx = list(row), list(range(n))
            th_quickselect(arr, idx, k)
            assert arr[k] == sorted(row)[k] and row[idx[k]] == arr[k] and sorted(idx) == list(range(n))


def test_ties_take_torch7s_index_and_agree_with_the_fast_path_elsewhere():
    x = torch.LongTensor([[2, 1, 1], [3, 9, 4]])
    v, i = torch.kthvalue(x, 1)
    assert v.tolist() == [[1], [3]] and i.tolist() == [[1], [0]]
    assert torch.kthvalue(torch.LongTensor([2, 1, 1]), 1)[1].tolist() == [1]        # (docs/tensor.md's example)
    # many rows with ties at the k-th value, on a larger slice: the index points at an equal element
    a = rng(3).randint(0, 5, (30, 25))
    v, i = torch.LongTensor(a).median(1)
    np.testing.assert_array_equal(v.numpy(), _kth_reference(a, 13, 1))
    np.testing.assert_array_equal(np.take_along_axis(a, i.numpy(), 1), v.numpy())
    # each row alone through Torch7's quickselect gives the same index
    for r in range(30):
        arr, idx = a[r].tolist(), list(range(25))
        th_quickselect(arr, idx, 12)
        assert i[r][0] == idx[12]


def test_nan_rows_go_through_torch7s_comparisons():
    x = torch.Tensor([[1.0, float('nan'), 0.5, 2.0], [4.0, 3.0, 2.0, 1.0]])
    v, i = x.kthvalue(2)
    arr, idx = [1.0, float('nan'), 0.5, 2.0], [0, 1, 2, 3]
    th_quickselect(arr, idx, 1)
    assert i.tolist()[0] == [idx[1]] and v.tolist()[1] == [2.0] and i.tolist()[1] == [2]


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_mode_values_and_indices(device):
    # of several most frequent values the smallest; the index of its last occurrence for rows of up to 11
    # elements (Torch7's insertion sort is stable there)
    a = np.array([[2, 1, 1, 3, 3, 0], [5, 5, 4, 4, 4, 1], [7, 8, 9, 6, 6, 9]], np.int32)
    v, i = torch.mode(on(torch.IntTensor(a), device))
    assert host(v).tolist() == [[1], [4], [6]] and host(i).tolist() == [[2], [4], [4]]
    v, i = on(torch.IntTensor(a), device).mode(0)
    assert host(v).tolist() == [[2, 1, 1, 3, 3, 0]] and host(i).tolist() == [[0, 0, 0, 0, 0, 0]]
    # longer rows: the value is the smallest of the most frequent; the index points at it
    b = rng(4).randint(0, 7, (6, 50)).astype(np.float64)
    v, i = torch.mode(on(torch.DoubleTensor(b), device), 1)
    for r in range(6):
        vals, counts = np.unique(b[r], return_counts=True)
        assert host(v)[r, 0] == vals[np.argmax(counts)] and b[r, host(i)[r, 0]] == host(v)[r, 0]


def test_selection_result_tensors_and_method_forms():
    x = torch.Tensor(rng(5).randn(3, 5))
    rv, ri = torch.Tensor(), torch.LongTensor()
    got = torch.kthvalue(rv, ri, x, 2, 0)
    assert got[0] is rv and got[1] is ri and rv.size() == (1, 5)
    np.testing.assert_array_equal(rv.numpy(), np.sort(x.numpy(), 0)[1:2])
    assert rv.median(ri, x, 1) == (rv, ri) and rv.size() == (3, 1)          # rv:median(ri, x, 2) in Lua
    np.testing.assert_array_equal(rv.numpy(), np.sort(x.numpy(), 1)[:, 2:3])
    assert torch.mode(rv, ri, x)[0] is rv
    v, _ = x.kthvalue(5)
    np.testing.assert_array_equal(v.numpy(), x.numpy().max(1, keepdims=True))


def test_selection_errors():
    x = torch.Tensor(3, 4).zero()
    with pytest.raises(ValueError, match=r'kthvalue: k=5 out of range for dim 1 of size 4'):
        x.kthvalue(5)
    with pytest.raises(ValueError, match='k=0'):
        torch.kthvalue(x, 0, 0)
    with pytest.raises(IndexError, match=r'median: dim 2 out of range .* 0-based'):
        torch.median(x, 2)
    with pytest.raises(ValueError, match='empty'):
        torch.mode(torch.Tensor())
    with pytest.raises(TypeError, match=r'torch.median: expected \(\[resval, resind,\] x \[, dim\]\), got 4 tensors'):
        torch.median(x, x, x, x)     # (torch.median(vals, x) is Lua's values-only result form)
    with pytest.raises(TypeError, match='result tensor should be a torch.LongTensor, got a torch.IntTensor'):
        torch.median(torch.Tensor(), torch.IntTensor(), x)


# -- cross, tril, triu, reshape, numel -------------------------------------------------------------------------------
@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_cross_against_numpy(device):
    r = rng(6)
    a, b = r.randn(4, 3, 5), r.randn(4, 3, 5)
    x, y = on(torch.DoubleTensor(a), device), on(torch.DoubleTensor(b), device)
    np.testing.assert_allclose(host(torch.cross(x, y)), np.cross(a, b, axis=1), atol=1e-14)   # first dim of size 3
    c, d = r.randn(3, 3), r.randn(3, 3)
    np.testing.assert_allclose(host(torch.cross(on(torch.DoubleTensor(c), device), on(torch.DoubleTensor(d), device),
                                                1)), np.cross(c, d, axis=1), atol=1e-14)
    np.testing.assert_allclose(host(on(torch.DoubleTensor(c), device).cross(on(torch.DoubleTensor(d), device))),
                               np.cross(c, d, axis=0), atol=1e-14)
    res = on(torch.DoubleTensor(), device)
    assert torch.cross(res, x, y, 1) is res
    np.testing.assert_allclose(host(res), np.cross(a, b, axis=1), atol=1e-14)
    # integers wrap as C
    big = torch.IntTensor([[2 ** 30, 0, 0]])
    assert torch.cross(big, torch.IntTensor([[0, 4, 0]])).tolist() == [[0, 0, 0]]


def test_cross_errors():
    with pytest.raises(ValueError, match=r'no dimension of size 3 in a tensor of size 2x4'):
        torch.cross(torch.Tensor(2, 4), torch.Tensor(2, 4))
    with pytest.raises(ValueError, match='inconsistent tensor sizes 3 and 3x1'):
        torch.cross(torch.Tensor(3), torch.Tensor(3, 1))
    with pytest.raises(ValueError, match='dim 1 of size 3x4 does not have size 3'):
        torch.cross(torch.Tensor(3, 4), torch.Tensor(3, 4), 1)
    with pytest.raises(TypeError, match='one type'):
        torch.cross(torch.Tensor(3), torch.FloatTensor(3))


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_tril_triu(device):
    a = rng(7).randn(4, 5)
    x = on(torch.DoubleTensor(a), device)
    for k in (-2, 0, 1, 3):
        np.testing.assert_array_equal(host(torch.tril(x, k)), np.tril(a, k))
        np.testing.assert_array_equal(host(x.triu(k)), np.triu(a, k))
    np.testing.assert_array_equal(host(torch.tril(x)), np.tril(a))
    res = on(torch.DoubleTensor(2), device)
    assert torch.triu(res, x, 2) is res and res.size() == (4, 5)
    np.testing.assert_array_equal(host(res), np.triu(a, 2))
    assert res.tril(x) is res                                            # res:tril(x) in Lua
    np.testing.assert_array_equal(host(res), np.tril(a))
    np.testing.assert_array_equal(host(x), a)                             # the input is unchanged
    with pytest.raises(ValueError, match=r'torch.tril: expected a matrix, got a torch.DoubleTensor of size 2x2x2'):
        torch.tril(torch.Tensor(2, 2, 2))


def test_reshape_copies_rows():
    x = torch.Tensor(rng(8).randn(3, 4))
    y = torch.reshape(x, 2, 6)
    assert y.size() == (2, 6) and y.storage() is not x.storage()
    np.testing.assert_array_equal(y.numpy(), x.numpy().reshape(2, 6))
    np.testing.assert_array_equal(x.reshape(torch.LongStorage([2, 3, 2])).numpy(), x.numpy().reshape(2, 3, 2))
    np.testing.assert_array_equal(x.t().reshape((12,)).numpy(), x.numpy().T.reshape(12))   # row-major, any strides
    y.fill(0)                                          # a copy, as TH's reshape: the input is unchanged
    x.reshape(4, 3).fill(0)
    assert (x.numpy() != 0).all()
    res = torch.Tensor()
    assert torch.reshape(res, x, 6, 2) is res and res.size() == (6, 2)
    with pytest.raises(ValueError, match=r'size 3x4 \(12 elements\) cannot fill size 5x2'):
        torch.reshape(x, 5, 2)
    with pytest.raises(ValueError, match='no -1'):
        x.reshape(-1, 3)


def test_numel():
    assert torch.numel(torch.Tensor(3, 4)) == 12 and torch.numel(torch.Tensor()) == 0
    with pytest.raises(TypeError, match='numel: expected a tensor'):
        torch.numel([1, 2])


# -- histograms ------------------------------------------------------------------------------------------------------
def _hist_loop(values, nbins, lo, hi):
    h = [0] * nbins
    for v in values:
        if lo <= v <= hi:
            h[min(int((v - lo) / (hi - lo) * nbins), nbins - 1)] += 1
    return h


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_histc_against_a_loop(device):
    a = rng(9).randn(200)
    x = on(torch.DoubleTensor(a), device)
    assert host(torch.histc(x)).tolist() == _hist_loop(a, 100, a.min(), a.max())
    assert host(torch.histc(x, 7)).tolist() == _hist_loop(a, 7, a.min(), a.max())
    assert host(x.histc(5, -1, 1)).tolist() == _hist_loop(a, 5, -1, 1)
    assert host(torch.histc(on(torch.Tensor([2, 2]), device), 4)).tolist() == [0, 0, 2, 0]   # min = max: [1, 3]
    res = on(torch.DoubleTensor(), device)
    assert torch.histc(res, x, 3, 0, 1) is res and host(res).tolist() == _hist_loop(a, 3, 0, 1)
    assert torch.histc(on(torch.FloatTensor([0.5, 1.5]), device), 2).type() == on(torch.FloatTensor(), device).type()


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_bhistc_is_torch7s_doc_example(device):
    x = on(torch.Tensor([[2, 4, 2, 2, 5, 4], [3, 5, 1, 5, 3, 5], [3, 4, 2, 5, 5, 1]]), device)
    assert host(torch.bhistc(x, 5, 1, 5)).tolist() == [[0, 3, 0, 2, 1], [1, 0, 2, 0, 3], [1, 1, 1, 1, 2]]
    # the doc's second example prints 3 0 2 0 1, but Torch7's C puts the 4s of [2, 5] in bin (int)(2 / 3 * 5) = 3
    assert host(torch.bhistc(on(torch.Tensor([[2, 4, 2, 2, 5, 4]]), device), 5)).tolist() == [[3, 0, 0, 2, 1]]
    assert host(x.bhistc()).shape == (3, 100)


def test_histogram_errors():
    with pytest.raises(TypeError, match=r'histc: defined for Float and Double tensors only .* torch.LongTensor'):
        torch.histc(torch.LongTensor([1, 2]))
    with pytest.raises(ValueError, match='bhistc: the input must be a 2-D tensor, got size 4'):
        torch.bhistc(torch.Tensor(4).zero())
    with pytest.raises(ValueError, match='nbins should be a positive integer'):
        torch.histc(torch.Tensor([1.0]), 0)
    with pytest.raises(ValueError, match='empty'):
        torch.histc(torch.Tensor())


# -- atan2, lerp, renorm ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_atan2_and_lerp_forms(device):
    r = rng(10)
    a, b = r.randn(3, 4), r.randn(3, 4)
    x, y = on(torch.DoubleTensor(a), device), on(torch.DoubleTensor(b), device)
    np.testing.assert_array_equal(host(torch.atan2(x, y)), np.arctan2(a, b))
    res = on(torch.DoubleTensor(), device)
    assert torch.atan2(res, x, y) is res and res.atan2(y, x) is res
    np.testing.assert_array_equal(host(res), np.arctan2(b, a))
    np.testing.assert_array_equal(host(torch.lerp(x, y, 0.25)), a + 0.25 * (b - a))
    assert res.lerp(x, y, 0.5) is res
    np.testing.assert_array_equal(host(res), a + 0.5 * (b - a))
    z = x.clone()
    assert z.lerp(y, 0.75) is z and z.atan2(y) is z                       # in place
    np.testing.assert_array_equal(host(z), np.arctan2(a + 0.75 * (b - a), b))
    assert torch.atan2(1.0, -1.0) == math.atan2(1.0, -1.0) and torch.lerp(1, 3, 0.25) == 1.5


def test_lerp_in_float_rounds_the_weight_as_c():
    a, b = np.float32([1.0, -2.0]), np.float32([3.0, 7.0])
    got = torch.lerp(torch.FloatTensor(a), torch.FloatTensor(b), 0.1)
    w = np.float32(0.1)
    assert got.type() == 'torch.FloatTensor' and got.numpy().tolist() == (a + w * (b - a)).tolist()
    with pytest.raises(TypeError, match='lerp: defined for Float and Double tensors only'):
        torch.lerp(torch.LongTensor([1]), torch.LongTensor([2]), 0.5)
    with pytest.raises(ValueError, match='same number of elements'):
        torch.atan2(torch.Tensor(3), torch.Tensor(4))


def _renorm_doc(m, p, dim, maxnorm):
    """Torch7's doc's Lua definition of renorm, in numpy."""
    m1 = np.moveaxis(m, dim, 0).copy()
    m2 = m1.reshape(m1.shape[0], -1)
    norms = (np.abs(m2) ** p).sum(1) ** (1.0 / p)
    new = np.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return np.moveaxis(m1 * new.reshape((-1,) + (1,) * (m.ndim - 1)), 0, dim)


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_renorm_against_torch7s_definition(device):
    a = rng(11).randn(3, 4, 2) * 2
    x = on(torch.DoubleTensor(a), device)
    for p, d, mx in ((1, 0, 2.0), (2, 1, 1.5), (3, 2, 1.0), (2.5, -1, 100.0)):
        np.testing.assert_allclose(host(torch.renorm(x, p, d, mx)), _renorm_doc(a, p, d % 3, mx), rtol=1e-13)
    y = x.clone()
    assert y.renorm(2, 0, 1.0) is y                                       # in place
    np.testing.assert_allclose(host(y), _renorm_doc(a, 2, 0, 1.0), rtol=1e-13)
    res = on(torch.DoubleTensor(), device)
    assert torch.renorm(res, x, 1, 1, 0.5) is res
    np.testing.assert_allclose(host(res), _renorm_doc(a, 1, 1, 0.5), rtol=1e-13)
    with pytest.raises(ValueError, match='p should be > 0'):
        x.renorm(0, 0, 1)
    with pytest.raises(ValueError, match='need at least 2 dimensions'):
        torch.renorm(on(torch.DoubleTensor([1.0, 2.0]), device), 2, 0, 1)


def test_renorm_of_a_float_tensor_roots_with_1_over_p_in_float():
    # THTensor_(renorm): norm = pow(norm, 1/value) with value a float, so 1/3 is 0.33333334f; 1.0/3 in double gave
    # the norm one float step off (0.31498027 for Torch7's 0.31498024) and so another factor
    f32 = np.float32
    norm = f32(math.pow(float(f32(0.25) ** 3 * 2), float(f32(1) / f32(3))))
    want = float(f32(0.25) * f32(float(f32(0.1)) / (float(norm) + 1e-7)))
    got = torch.renorm(torch.FloatTensor([[0.25, 0.25], [0.01, 0]]), 3, 0, 0.1).tolist()
    assert got == [[want, want], [float(f32(0.01)), 0]] and want == float(f32(0.07937003672122955))


# -- convolutions ----------------------------------------------------------------------------------------------------
def _xcorr_loop(x, k, full):
    """Cross-correlation by its definition, element by element (any number of dims)."""
    if full:
        x = np.pad(x, [(n - 1, n - 1) for n in k.shape])
    out_shape = tuple(s - n + 1 for s, n in zip(x.shape, k.shape))
    out = np.zeros(out_shape, x.dtype)
    for o in itertools.product(*(range(n) for n in out_shape)):
        acc = x.dtype.type(0)
        for off in itertools.product(*(range(n) for n in k.shape)):
            acc = acc + x[tuple(a + b for a, b in zip(o, off))] * k[off]
        out[o] = acc
    return out


def _conv_ref(name, x, k, full):
    nd = 2 if name.endswith('2') else 3
    kk = k if name.startswith('xcorr') else k[(Ellipsis,) + (slice(None, None, -1),) * nd]
    if x.ndim == nd:
        return _xcorr_loop(x, kk, full)
    if k.ndim == nd + 1:
        return np.stack([_xcorr_loop(x[p], kk[p], full) for p in range(x.shape[0])])
    return np.stack([sum(_xcorr_loop(x[p], kk[q, p], full) for p in range(x.shape[0])) for q in range(k.shape[0])])


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
@pytest.mark.parametrize('name', ['conv2', 'xcorr2', 'conv3', 'xcorr3'])
def test_convolutions_against_loops(name, device):
    r = rng(12)
    nd = int(name[-1])
    img, ker = (6, 5, 4)[:nd], (3, 2, 2)[:nd]
    shapes = [(img, ker), ((2,) + img, (2,) + ker), ((2,) + img, (3, 2) + ker)]
    for xs, ks in shapes:
        a, b = r.randn(*xs), r.randn(*ks)
        x, k = on(torch.DoubleTensor(a), device), on(torch.DoubleTensor(b), device)
        fn = getattr(torch, name)
        np.testing.assert_allclose(host(fn(x, k)), _conv_ref(name, a, b, False), atol=1e-12)
        np.testing.assert_allclose(host(fn(x, k, 'V')), _conv_ref(name, a, b, False), atol=1e-12)
        np.testing.assert_allclose(host(getattr(x, name)(k, 'F')), _conv_ref(name, a, b, True), atol=1e-12)
        res = on(torch.DoubleTensor(), device)
        assert fn(res, x, k, 'F') is res
        np.testing.assert_allclose(host(res), _conv_ref(name, a, b, True), atol=1e-12)


def test_conv_on_integers_wraps_as_c():
    a = rng(13).randint(-100, 100, (5, 5)).astype(np.int32) * 1000
    b = rng(14).randint(-100, 100, (2, 3)).astype(np.int32) * 1000
    with np.errstate(over='ignore'):
        want = _conv_ref('conv2', a, b, True)
    got = torch.conv2(torch.IntTensor(a), torch.IntTensor(b), 'F')
    assert got.type() == 'torch.IntTensor'
    np.testing.assert_array_equal(got.numpy(), want)
    assert torch.xcorr2(torch.ByteTensor([[200, 100]]), torch.ByteTensor([[2]])).tolist() == [[144, 200]]


def test_conv_errors():
    x = torch.Tensor(4, 4).zero()
    with pytest.raises(ValueError, match=r'conv2: input image is smaller than kernel .* size 4x4, k of size 5x1'):
        torch.conv2(x, torch.Tensor(5, 1))
    assert torch.conv2(x, torch.Tensor(5, 1).zero(), 'F').size() == (8, 4)
    with pytest.raises(ValueError, match=r"the last argument 'V' \(valid\) or 'F' \(full\), got 'X'"):
        torch.xcorr2(x, x, 'X')
    with pytest.raises(ValueError, match=r'conv3: expected x and k 3-D, .* got x of size 4x4'):
        torch.conv3(x, x)
    with pytest.raises(ValueError, match='invalid number of input planes'):
        torch.conv2(torch.Tensor(2, 4, 4), torch.Tensor(3, 3, 2, 2))
    with pytest.raises(ValueError, match='invalid number of input/kernel planes'):
        torch.conv2(torch.Tensor(2, 4, 4), torch.Tensor(3, 2, 2))
    with pytest.raises(TypeError, match='one type'):
        torch.conv2(x, torch.FloatTensor(2, 2))


# -- bit operations, shifts, mod, % ----------------------------------------------------------------------------------
INT_TYPES = {'torch.ByteTensor': 8, 'torch.CharTensor': 8, 'torch.ShortTensor': 16, 'torch.IntTensor': 32,
             'torch.LongTensor': 64}


def _c_int(v, bits, signed):
    """v wrapped into a C integer of ``bits`` bits."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if signed and v >= 1 << (bits - 1) else v


def _c_shift(v, n, bits, signed, left):
    """C's ((unsigned type) v << n) (or >>), stored back."""
    u = v & ((1 << bits) - 1)
    return _c_int(u << n if left else u >> n, bits, signed)


@pytest.mark.parametrize('tname', sorted(INT_TYPES))
def test_bit_operations_and_shifts_against_c_rules(tname):
    bits, signed = INT_TYPES[tname], tname != 'torch.ByteTensor'
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, 255)
    vals = [lo, -7, -1, 0, 1, 5, 100, hi] if signed else [0, 1, 5, 100, 200, 255]
    x = torch.Tensor(vals).type(tname) if bits < 64 else torch.LongTensor(np.array(vals, np.int64))
    for v in (3, 6, -2 if signed else 250):
        for name, op in (('bitand', lambda p, q: p & q), ('bitor', lambda p, q: p | q),
                         ('bitxor', lambda p, q: p ^ q)):
            assert getattr(torch, name)(x, v).tolist() == [_c_int(op(e, v), bits, signed) for e in vals], (name, v)
    for n in (0, 1, 3, bits - 1):
        assert torch.lshift(x, n).tolist() == [_c_shift(e, n, bits, signed, True) for e in vals], n
        assert torch.rshift(x, n).tolist() == [_c_shift(e, n, bits, signed, False) for e in vals], n
    ns = [i % bits for i in range(len(vals))]
    cn = torch.Tensor(ns).type(tname)
    assert torch.clshift(x, cn).tolist() == [_c_shift(e, n, bits, signed, True) for e, n in zip(vals, ns)]
    assert torch.crshift(x, cn).tolist() == [_c_shift(e, n, bits, signed, False) for e, n in zip(vals, ns)]
    y = torch.Tensor([v % 7 for v in vals]).type(tname)
    assert torch.cbitxor(x, y).tolist() == [_c_int(e ^ (v % 7), bits, signed) for e, v in zip(vals, vals)]


def test_right_shift_of_a_negative_int_is_logical():
    assert torch.rshift(torch.IntTensor([-8]), 1).tolist() == [2147483644]
    assert torch.lshift(torch.IntTensor([2 ** 30]), 2).tolist() == [0]
    assert torch.rshift(torch.CharTensor([-128]), 7).tolist() == [1]


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_bit_forms(device):
    x = on(torch.LongTensor([[1, 2, 3], [4, 5, 6]]), device)
    y = on(torch.LongTensor([[6, 6, 6], [1, 1, 1]]), device)
    res = on(torch.LongTensor(), device)
    assert torch.bitand(res, x, 6) is res and host(res).tolist() == [[0, 2, 2], [4, 4, 6]]
    assert res.cbitor(x, y) is res and host(res).tolist() == [[7, 6, 7], [5, 5, 7]]
    assert torch.cbitand(res, x, y) is res and host(res).tolist() == [[0, 2, 2], [0, 1, 0]]
    z = x.clone()
    assert z.lshift(2) is z and host(z).tolist() == [[4, 8, 12], [16, 20, 24]]
    assert z.crshift(y) is z and host(z).tolist() == [[0, 0, 0], [8, 10, 12]]
    assert z.bitxor(1) is z and host(z).tolist() == [[1, 1, 1], [9, 11, 13]]
    assert host(torch.cbitxor(x, y)).tolist() == [[7, 4, 5], [5, 4, 7]] and host(x).tolist()[0] == [1, 2, 3]
    # floating types: shifts multiply or divide by 2^n (Torch7's rule)
    f = on(torch.FloatTensor([8.0, -12.0, 5.0]), device)
    assert host(torch.rshift(f, 2)).tolist() == [2.0, -3.0, 1.25]
    assert host(f.clone().lshift(0.5)).tolist() == (np.float32([8, -12, 5]) * np.float32(2) ** np.float32(0.5)).tolist()
    assert host(torch.clshift(f, on(torch.FloatTensor([1, 2, 3]), device))).tolist() == [16.0, -48.0, 40.0]


def test_bit_errors():
    with pytest.raises(TypeError, match=r'torch.bitand: only supported for integer type tensors .* torch.DoubleTensor'):
        torch.bitand(torch.Tensor([1.0]), 1)
    with pytest.raises(TypeError, match='cbitor: only supported for integer'):
        torch.FloatTensor([1]).cbitor(torch.FloatTensor([1]))
    with pytest.raises(ValueError, match='same number of elements'):
        torch.cbitand(torch.LongTensor([1, 2]), torch.LongTensor([1]))
    with pytest.raises(TypeError, match=r'expected a number for the value, got .x.'):
        torch.lshift(torch.LongTensor([1]), 'x')
    with pytest.raises(TypeError, match=r'x.bitand: expected 0 tensor arguments \(in place on x\) or 1'):
        torch.LongTensor([1]).bitand(torch.LongTensor([1]), torch.LongTensor([1]), 1)
    with pytest.raises(TypeError, match='one type'):
        torch.cbitand(torch.LongTensor([1]), torch.IntTensor([1]))


def test_numbers_are_converted_as_c_converts_reals():
    assert torch.LongTensor([7, 15]).bitand(6.7).tolist() == [6, 6]               # (int)6.7
    assert torch.ByteTensor([1, 255]).bitor(-1).tolist() == [255, 255]           # (unsigned char)-1
    assert torch.ShortTensor([1]).lshift(15).tolist() == [-32768]
    assert torch.LongTensor([-7, 7]).mod(2.9).tolist() == [-1, 1]


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_mod_and_cmod_are_c_fmod(device):
    x = on(torch.Tensor([-3, 3, -4.5, 4.5, 7, -7]), device)
    assert host(torch.mod(x, 2)).tolist() == [math.fmod(v, 2) for v in [-3, 3, -4.5, 4.5, 7, -7]]
    assert host(torch.mod(x, -2)).tolist() == [math.fmod(v, -2) for v in [-3, 3, -4.5, 4.5, 7, -7]]
    li = on(torch.LongTensor([-7, 7, -8, 9]), device)
    assert host(li.clone().mod(3)).tolist() == [-1, 1, -2, 0]            # C's %: the sign of the dividend
    d = on(torch.LongTensor([2, -2, 3, -4]), device)
    res = on(torch.LongTensor(), device)
    assert torch.cmod(res, li, d) is res and host(res).tolist() == [-1, 1, -2, 1]
    with pytest.raises(ZeroDivisionError, match='mod: integer division by zero'):
        torch.mod(li, 0)
    with pytest.raises(ZeroDivisionError, match='cmod'):
        li.cmod(on(torch.LongTensor([1, 0, 1, 1]), device))
    empty = on(torch.IntTensor(), device)       # no element, no division (Torch7 does nothing)
    assert empty.mod(0) is empty and (empty % 0).nElement() == 0 and empty.div(0).nElement() == 0


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def test_percent_is_torch7s_remainder(device):
    vals = [1, -2, 3, 4, 5, 6, -7, 8, 9, 10, 11, -12]
    x = on(torch.LongTensor(vals), device)
    r = x % 3
    assert r.type() == x.type() and host(r).tolist() == [v % 3 for v in vals]   # the sign of the divisor
    assert host(x % -5).tolist() == [v % -5 for v in vals]
    f = on(torch.Tensor([1.0, 2.0, 3.0, 4.0, -1.5]), device)
    assert host(f % 3).tolist() == [1.0, 2.0, 0.0, 1.0, 1.5]
    assert np.isnan(host(f % 0)).all()
    g = on(torch.FloatTensor([0.7, -0.7]), device)                        # as C: float(t/v) floored in double
    v = np.float32(0.1)
    want = [np.float32(float(t) - float(v) * math.floor(float(np.float32(t) / v))) for t in np.float32([0.7, -0.7])]
    assert host(g % 0.1).tolist() == [float(w) for w in want]
    y = on(torch.LongTensor([[3], [-4]]), device)
    assert host(on(torch.LongTensor([7, -7]), device) % y).tolist() == [[1, 2], [-1, -3]]   # broadcasting
    assert host(7 % on(torch.LongTensor([3, -4]), device)).tolist() == [1, -1]
    assert host(on(torch.LongTensor([7]), device) % on(torch.Tensor([2.5]), device)).tolist() == [1]   # 7 % (long)2.5
    z = x.clone()
    z %= 4
    assert host(z).tolist() == [v % 4 for v in vals]
    with pytest.raises(ZeroDivisionError):
        x % 0
    with pytest.raises(TypeError):
        x % 'a'


# -- float tensors, strided views, aliasing ----------------------------------------------------------------------------
def test_float_tensors_keep_their_type_and_precision():
    r = rng(15)
    a, b = r.randn(5, 6).astype(np.float32), r.randn(2, 3).astype(np.float32)
    x, k = torch.FloatTensor(a), torch.FloatTensor(b)
    got = torch.conv2(x, k, 'F')
    assert got.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(got.numpy(), _conv_ref('conv2', a.astype(np.float64), b.astype(np.float64), True),
                               rtol=1e-5, atol=1e-5)
    v, i = torch.median(x, 0)
    assert v.type() == 'torch.FloatTensor' and i.type() == 'torch.LongTensor'
    np.testing.assert_array_equal(v.numpy(), np.sort(a, 0)[2:3])
    np.testing.assert_allclose(torch.renorm(x, 2, 0, 1.0).numpy(), _renorm_doc(a.astype(np.float64), 2, 0, 1.0),
                               rtol=1e-5)
    assert torch.histc(x, 4).tolist() == _hist_loop(a.reshape(-1).tolist(), 4, float(a.min()), float(a.max()))
    assert torch.atan2(x, x).type() == 'torch.FloatTensor'


def test_strided_inputs_and_view_results():
    a = rng(16).randn(5, 4)
    x = torch.Tensor(a).t()                                     # 4x5, not contiguous
    np.testing.assert_array_equal(torch.tril(x, 1).numpy(), np.tril(a.T, 1))
    np.testing.assert_array_equal(x.median(0)[0].numpy(), np.sort(a.T, 0)[1:2])
    np.testing.assert_allclose(torch.xcorr2(x, torch.Tensor([[1.0, -1.0]])).numpy(), a.T[:, :-1] - a.T[:, 1:])
    big = torch.Tensor(4, 12).zero()
    view = big.narrow(1, 2, 5)                                  # a result of the right size keeps its geometry
    assert torch.triu(view, x) is view and view.stride() == (12, 1)
    np.testing.assert_array_equal(big.numpy()[:, 2:7], np.triu(a.T))
    assert big.numpy()[:, :2].sum() == 0 and big.numpy()[:, 7:].sum() == 0
    li = torch.LongTensor([[1, 2], [3, 4]]).t()
    assert li.clone().bitor(8).tolist() == [[9, 11], [10, 12]]
    y = torch.Tensor(rng(17).randn(3))
    w = y.clone()
    assert torch.cross(w, w, y) is w                             # the result may be an input
    np.testing.assert_allclose(w.numpy(), np.cross(y.numpy(), y.numpy()), atol=1e-15)
    s = torch.Tensor([1.0, 2.0])
    assert s.lerp(s, torch.Tensor([3.0, 6.0]), 0.5).tolist() == [2.0, 4.0]


def test_result_tensors_must_have_the_right_type():
    with pytest.raises(TypeError, match='tril: the result tensor should be a torch.DoubleTensor, got a torch.FloatTensor'):
        torch.tril(torch.FloatTensor(), torch.Tensor(2, 2))
    with pytest.raises(TypeError, match='bitand: expected .* got 0 values \\(for a tensor of values: torch.cbitand\\)'):
        torch.bitand(torch.LongTensor([1]), torch.LongTensor([1]))


@pytest.mark.gpu
def test_ties_on_cuda_tensors_take_the_same_index():
    a = rng(18).randint(0, 4, (6, 15))
    v, i = torch.LongTensor(a).cudaLong().median(1)
    cv, ci = torch.LongTensor(a).median(1)
    assert v.type() == 'torch.CudaLongTensor' and i.type() == 'torch.CudaLongTensor'
    assert host(v).tolist() == cv.tolist() and host(i).tolist() == ci.tolist()
    assert host(torch.kthvalue(torch.LongTensor([2, 1, 1]).cudaLong(), 1)[1]).tolist() == [1]


@pytest.mark.parametrize('name', ['fmod', 'cfmod', 'remainder', 'cremainder'])
def test_integer_fmod_and_remainder_by_zero_raise(name):
    """Torch7 crashes (SIGFPE) and numpy would give 0 with a warning: an error naming the function instead; floats
    keep IEEE's NaN."""
    a = torch.IntTensor(np.array([7, -7, 3], dtype=np.int32))
    b = torch.IntTensor(np.array([2, 0, 1], dtype=np.int32))
    with pytest.raises(ZeroDivisionError, match=f'torch.{name}: integer division by zero'):
        getattr(a.clone(), name)(b if name.startswith('c') else 0)
    ok = getattr(a.clone(), name)(torch.IntTensor(np.array([2, 3, 1], dtype=np.int32)) if name.startswith('c') else 2)
    want = {'fmod': [1, -1, 1], 'remainder': [1, 1, 1], 'cfmod': [1, -1, 0], 'cremainder': [1, 2, 0]}[name]
    assert ok.numpy().tolist() == want
    f = getattr(torch.DoubleTensor(np.array([1.0, -1.0])), name)(torch.DoubleTensor(np.zeros(2)) if name.startswith('c') else 0)
    assert np.isnan(f.numpy()).all()

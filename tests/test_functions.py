"""Module-level torch.* functions: constructors, and math returning new tensors (inputs unchanged)."""
import math

import numpy as np
import pytest

import luatorch_py as torch


def T(values, device='cpu'):
    return (torch.DoubleTensor if device == 'cpu' else torch.CudaDoubleTensor)(values)


def close(t, want):
    got = np.asarray(t.tolist() if isinstance(t, torch.Tensor) else t, dtype=np.float64)
    return got.shape == np.shape(want) and np.allclose(got, want, rtol=1e-6, atol=1e-12)


# -- constructors ------------------------------------------------------------------------------------------
def test_zeros_ones_eye():
    z = torch.zeros(2, 3)
    assert z.type() == 'torch.DoubleTensor' and z.tolist() == [[0, 0, 0], [0, 0, 0]]
    assert torch.zeros((2,)).tolist() == [0, 0]
    assert torch.zeros(torch.LongStorage([1, 2])).size() == (1, 2)
    assert torch.ones(2, tensortype='torch.LongTensor').tolist() == [1, 1]
    assert torch.ones(2, tensortype='torch.LongTensor').type() == 'torch.LongTensor'
    assert torch.eye(2).tolist() == [[1, 0], [0, 1]]
    assert torch.eye(2, 3).tolist() == [[1, 0, 0], [0, 1, 0]]


def test_range_is_inclusive_as_torch7():
    assert torch.range(1, 3).tolist() == [1, 2, 3]
    assert torch.range(0, 1, 0.25).tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert torch.range(3, 1, -1).tolist() == [3, 2, 1]
    assert torch.range(1, 3, tensortype='torch.LongTensor').type() == 'torch.LongTensor'
    with pytest.raises(ValueError, match='range: cannot go from 1 to 3 by step -1'):
        torch.range(1, 3, -1)
    assert torch.arange(3).tolist() == [0, 1, 2]          # numpy's half-open arange
    assert torch.arange(1, 2, 0.5).tolist() == [1, 1.5]
    assert torch.linspace(0, 1, 3).tolist() == [0, 0.5, 1]
    assert close(torch.logspace(0, 2, 3), [1, 10, 100])


def test_constructors_follow_the_default_type(restore_default_type):
    torch.setdefaulttensortype('torch.FloatTensor')
    for t in (torch.zeros(2), torch.ones(2), torch.eye(2), torch.range(1, 2), torch.rand(2), torch.randn(2),
              torch.linspace(0, 1, 2)):
        assert t.type() == 'torch.FloatTensor'


def test_rand_randn_randperm():
    torch.manualSeed(1)
    r = torch.rand(2, 3)
    assert r.size() == (2, 3)
    assert r[0].tolist() == [0.41702199843712151, 0.99718480813317001, 0.72032448928803205]
    torch.manualSeed(1)
    assert torch.randn(5).tolist() == [-2.9718290309304063, 1.7069510634116105, -0.43049897103891599,
                                       -2.2820224170301482, 0.52365734937443909]
    torch.manualSeed(1)
    assert torch.rand(5, tensortype='torch.FloatTensor').type() == 'torch.FloatTensor'
    p = torch.randperm(10)
    assert p.type() == 'torch.LongTensor' and sorted(p.tolist()) == list(range(10))   # 0-based
    torch.manualSeed(3)
    p1 = torch.randperm(6).tolist()
    torch.manualSeed(3)
    assert torch.randperm(6).tolist() == p1


def test_cat_default_last_dim():
    a, b = torch.Tensor([[1, 2]]), torch.Tensor([[3]])
    assert torch.cat(a, b).tolist() == [[1, 2, 3]]                     # default: the last dim, as Torch7
    assert torch.cat([a, torch.Tensor([[3, 4]])], 0).tolist() == [[1, 2], [3, 4]]
    assert torch.cat(a, torch.Tensor([[3, 4]]), dim=0).tolist() == [[1, 2], [3, 4]]
    assert torch.cat([torch.Tensor([1, 2]), torch.Tensor(), torch.Tensor([3])]).tolist() == [1, 2, 3]  # empties skipped
    c = torch.cat(torch.Tensor([1]), torch.FloatTensor([2]))
    assert c.type() == 'torch.DoubleTensor' and c.tolist() == [1, 2]  # the first tensor's type
    r = torch.cat([a, b])
    r[0][0] = 100
    assert a[0][0] == 1                                                 # a new tensor
    with pytest.raises(ValueError, match='cat: sizes 1x2 and 2x1 differ outside dim 1'):
        torch.cat(a, torch.Tensor([[1], [2]]))
    assert torch.cat([torch.Tensor()]).dim() == 0          # only empty tensors: an empty tensor (Torch7's doc)


def test_stack():
    s = torch.stack([torch.Tensor([1, 2]), torch.Tensor([3, 4])])
    assert s.size() == (2, 2) and s.tolist() == [[1, 2], [3, 4]]
    assert torch.stack([torch.Tensor([1, 2]), torch.Tensor([3, 4])], 1).tolist() == [[1, 3], [2, 4]]
    with pytest.raises(ValueError, match='stack: sizes 2 and 3 differ'):
        torch.stack([torch.Tensor([1, 2]), torch.Tensor([1, 2, 3])])


def test_is_tensor_typename():
    assert torch.isTensor(torch.Tensor()) and not torch.isTensor(np.zeros(1))
    assert torch.typename(torch.IntTensor()) == 'torch.IntTensor'
    assert torch.typename(3) is None


# -- pointwise math: new tensors with numpy broadcasting -----------------------------------------------------
def test_arithmetic_functions_return_new_tensors(device):
    x, y = T([[1, 2], [3, 4]], device), T([[10, 20], [30, 40]], device)
    r = torch.add(x, y)
    assert r.tolist() == [[11, 22], [33, 44]] and r is not x
    assert x.tolist() == [[1, 2], [3, 4]] and y.tolist() == [[10, 20], [30, 40]]
    assert torch.add(x, 2, y).tolist() == [[21, 42], [63, 84]]            # x + 2 * y
    assert torch.add(x, 1).tolist() == [[2, 3], [4, 5]]
    assert torch.csub(y, x).tolist() == [[9, 18], [27, 36]] and torch.sub(y, 1, x).tolist() == [[9, 18], [27, 36]]
    assert torch.mul(x, 2).tolist() == [[2, 4], [6, 8]]
    assert torch.div(x, 2).tolist() == [[0.5, 1], [1.5, 2]]
    assert torch.cmul(x, y).tolist() == [[10, 40], [90, 160]]
    assert torch.cdiv(y, x).tolist() == [[10, 10], [10, 10]]
    assert torch.pow(x, 2).tolist() == [[1, 4], [9, 16]]
    assert x.tolist() == [[1, 2], [3, 4]]


def test_functions_take_a_value_as_the_element_type_as_torch7(device):
    # Lua's torch.mul(t, value) converts value to t's type first (TensorMath.lua: {name=real}), as x.mul(value)
    # does; the operator's numpy product cast afterwards gave torch.mul(LongTensor{5, -7}, 0.5) = {2, -3}
    L = (torch.LongTensor if device == 'cpu' else torch.CudaLongTensor)([5, -7])
    B = (torch.ByteTensor if device == 'cpu' else torch.CudaByteTensor)([0, 1, 2])
    assert torch.mul(L, 0.5).tolist() == [0, 0] and torch.div(L, 2.5).tolist() == [2, -3]     # 5 / 2, -7 / 2
    assert torch.add(B, -1.7).tolist() == [255, 0, 1] and torch.csub(B, 1.7).tolist() == [255, 0, 1]
    assert torch.mul(L, 0.5).type() == L.type() and L.tolist() == [5, -7]
    res = type(L)()
    assert torch.mul(res, L, 0.5) is res and res.tolist() == [0, 0]


def test_add_and_csub_with_a_result_tensor_and_a_value(device):
    # Lua's torch.add(res, t, value) (res = t + value) read as the plain add(a, b, c) = a + b * c: a new tensor of
    # res's garbage + 2 t (or a broadcasting error for an empty res), res untouched
    x, res = T([1, 2], device), T([7, 7], device)
    assert torch.add(res, x, 2) is res and res.tolist() == [3, 4]
    assert torch.csub(res, x, 2) is res and res.tolist() == [-1, 0]
    empty = type(x)()
    assert torch.add(empty, x, 0.5) is empty and empty.tolist() == [1.5, 2.5]
    assert torch.add(x, 2, x).tolist() == [3, 6] and x.tolist() == [1, 2]      # add(t1, value, t2) stays


def test_broadcasting(device):
    x = T([[1, 2], [3, 4]], device)
    assert torch.add(x, T([10, 20], device)).tolist() == [[11, 22], [13, 24]]
    assert torch.cmul(x, T([[2], [3]], device)).tolist() == [[2, 4], [9, 12]]
    assert torch.add(T([1, 2], device), T([[10], [20]], device)).size() == (2, 2)
    with pytest.raises(ValueError, match='cannot broadcast'):
        torch.add(x, T([1, 2, 3], device))


def test_unary_functions_leave_input_unchanged(device):
    x = T([-1.5, 0.5, 2.5], device)
    assert close(torch.exp(x), [math.exp(-1.5), math.exp(0.5), math.exp(2.5)])
    assert torch.abs(x).tolist() == [1.5, 0.5, 2.5]
    assert torch.floor(x).tolist() == [-2, 0, 2] and torch.ceil(x).tolist() == [-1, 1, 3]
    assert torch.round(x).tolist() == [-2, 1, 3] and torch.neg(x).tolist() == [1.5, -0.5, -2.5]
    assert torch.sign(x).tolist() == [-1, 1, 1]
    assert close(torch.sigmoid(x), [1 / (1 + math.exp(1.5)), 1 / (1 + math.exp(-0.5)), 1 / (1 + math.exp(-2.5))])
    assert close(torch.tanh(x), [math.tanh(-1.5), math.tanh(0.5), math.tanh(2.5)])
    p = T([1, 4], device)
    assert close(torch.log(p), [0, math.log(4)]) and close(torch.sqrt(p), [1, 2])
    assert close(torch.log1p(p), [math.log(2), math.log(5)])
    assert torch.clamp(x, 0, 1).tolist() == [0, 0.5, 1]
    assert torch.cmax(x, T([0, 0, 3], device)).tolist() == [0, 0.5, 3]
    assert torch.cmin(x, 0).tolist() == [-1.5, 0, 0]
    assert x.tolist() == [-1.5, 0.5, 2.5]


# -- matrix products -----------------------------------------------------------------------------------------
def test_products(device):
    A, B = T([[1, 2, 3], [4, 5, 6]], device), T([[1, 0], [0, 1], [1, 1]], device)
    assert torch.mm(A, B).tolist() == [[4, 5], [10, 11]]
    assert torch.mv(A, T([1, 1, 1], device)).tolist() == [6, 15]
    assert torch.dot(T([1, 2], device), T([3, 4], device)) == 11
    assert torch.ger(T([1, 2], device), T([3, 4], device)).tolist() == [[3, 4], [6, 8]]
    assert torch.bmm(A.view(1, 2, 3), B.view(1, 3, 2))[0].tolist() == [[4, 5], [10, 11]]
    with pytest.raises(ValueError, match=r'mm: size mismatch, m1: \[2 x 3\], m2: \[2 x 3\]'):
        torch.mm(A, A)


def test_add_products_return_new_tensors(device):
    A, B = T([[1, 2, 3], [4, 5, 6]], device), T([[1, 0], [0, 1], [1, 1]], device)
    M = T([[1, 1], [1, 1]], device)
    r = torch.addmm(M, A, B)
    assert r.tolist() == [[5, 6], [11, 12]] and M.tolist() == [[1, 1], [1, 1]]
    assert torch.addmm(2, M, 3, A, B).tolist() == [[14, 17], [32, 35]]
    v = T([1, 1], device)
    assert torch.addmv(v, A, T([1, 1, 1], device)).tolist() == [7, 16] and v.tolist() == [1, 1]
    assert torch.addmv(2, v, 3, A, T([1, 1, 1], device)).tolist() == [20, 47]
    assert torch.addr(M, T([1, 2], device), T([3, 4], device)).tolist() == [[4, 5], [7, 9]]
    assert torch.addcmul(v, 2, T([1, 2], device), T([3, 4], device)).tolist() == [7, 17]
    assert torch.addcdiv(v, T([1, 2], device), T([2, 4], device)).tolist() == [1.5, 1.5]
    assert torch.baddbmm(M.view(1, 2, 2), A.view(1, 2, 3), B.view(1, 3, 2))[0].tolist() == [[5, 6], [11, 12]]
    with pytest.raises(TypeError, match=r'torch.addmm: expected \(\[beta,\] M, \[alpha,\] A, B\), got 2 tensors'):
        torch.addmm(A, B)
    with pytest.raises(ValueError, match='addmm: M has size 3x3, expected 2x2'):
        torch.addmm(T([[0] * 3] * 3, device), A, B)


# -- reductions and the rest -----------------------------------------------------------------------------------
def test_reduction_functions(device):
    x = T([[1, 5, 3], [4, 2, 6]], device)
    assert torch.sum(x) == 21 and torch.sum(x, 0).tolist() == [[5, 7, 9]]
    assert torch.mean(x) == 3.5 and torch.mean(x, 1).tolist() == [[3], [4]]
    assert torch.prod(x) == 720
    assert torch.max(x) == 6 and torch.min(x) == 1
    vals, idx = torch.max(x, 1)
    assert vals.tolist() == [[5], [6]] and idx.tolist() == [[1], [2]]
    assert torch.var(x) == pytest.approx(3.5) and torch.std(x) == pytest.approx(math.sqrt(3.5))
    assert torch.norm(x) == pytest.approx(math.sqrt(91))
    assert torch.dist(x, x) == 0
    assert torch.cumsum(x, 1).tolist() == [[1, 6, 9], [4, 6, 12]]
    assert torch.cumprod(x, 0).tolist() == [[1, 5, 3], [4, 10, 18]]
    vals, idx = torch.sort(x)
    assert vals.tolist() == [[1, 3, 5], [2, 4, 6]] and idx.tolist() == [[0, 2, 1], [1, 0, 2]]
    vals, idx = torch.topk(T([5, 1, 4], device), 2)
    assert vals.tolist() == [1, 4] and idx.tolist() == [1, 2]
    assert torch.trace(T([[1, 2], [3, 4]], device)) == 5
    assert torch.diag(T([1, 2], device)).tolist() == [[1, 0], [0, 2]]
    assert torch.all(T([1, 1], device)) and not torch.any(T([0, 0], device))
    assert torch.equal(x, x.clone())
    assert x.tolist() == [[1, 5, 3], [4, 2, 6]]


def test_diag_of_a_matrix_is_a_copy(device):
    # a diagonal of one element (a 1xN or Nx1 matrix, or k at the corner) was numpy's read-only view of the
    # matrix: fill raised "assignment destination is read-only" and the matrix's writes showed through
    for x, k, want in ((T([[1, 2, 3]], device), 0, [1]), (T([[1], [2]], device), 0, [1]),
                       (T([[1, 2], [3, 4]], device), 1, [2]), (T([[1, 2], [3, 4]], device), -1, [3])):
        d = torch.diag(x, k)
        assert d.tolist() == want and d.storage() is not x.storage()
        d.fill(7)
        x.fill(9)
        assert d.tolist() == [7] and x.diag(k).tolist() == [9]


def test_comparison_and_index_functions(device):
    x = T([[1, 5, 3], [4, 2, 6]], device)
    assert torch.lt(x, 3).tolist() == [[1, 0, 0], [0, 1, 0]]
    assert torch.ge(x, x).tolist() == [[1, 1, 1], [1, 1, 1]]
    assert torch.eq(x, 5).tolist() == [[0, 1, 0], [0, 0, 0]] and torch.ne(x, 5).tolist() == [[1, 0, 1], [1, 1, 1]]
    assert torch.gt(x, 4).tolist() == [[0, 1, 0], [0, 0, 1]] and torch.le(x, 1).tolist() == [[1, 0, 0], [0, 0, 0]]
    assert torch.maskedSelect(x, torch.gt(x, 4)).tolist() == [5, 6]
    lt = torch.LongTensor if device == 'cpu' else torch.CudaLongTensor
    assert torch.index(x, 1, lt([0])).tolist() == [[1], [4]]
    assert torch.indexSelect(x, 0, lt([1])).tolist() == [[4, 2, 6]]
    assert torch.gather(x, 1, lt([[2], [0]])).tolist() == [[3], [4]]
    assert torch.nonzero(torch.gt(x, 4)).tolist() == [[0, 1], [1, 2]]


def test_view_functions(device):
    x = T([[1, 2, 3], [4, 5, 6]], device)
    v = torch.view(x, 3, 2)
    assert v.size() == (3, 2) and v.storage() is x.storage()
    assert torch.transpose(x, 0, 1).tolist() == [[1, 4], [2, 5], [3, 6]]
    assert torch.narrow(x, 1, 1, 1).tolist() == [[2], [5]]
    assert torch.select(x, 0, 1).tolist() == [4, 5, 6]
    assert torch.squeeze(torch.unsqueeze(x, 0)).size() == (2, 3)
    assert torch.permute(x, 1, 0).size() == (3, 2)
    assert torch.expand(T([[1], [2]], device), 2, 2).tolist() == [[1, 1], [2, 2]]
    c = torch.clone(x)
    assert c.tolist() == x.tolist() and c.storage() is not x.storage()
    assert torch.contiguous(x) is x


# -- bug hunt (maths): the cat method, result-first forms of empty results, eye's Lua arguments, arange -------------
def test_cat_method_with_one_tensor_returns_a_new_cat():
    """Lua's x:cat(y [, dim]) lets the result default (cwrap's first variant): a new tensor, x unchanged; x is the
    result only when two tensors or a list follow."""
    a, b = T([[1, 2]]), T([[3, 4]])
    c = a.cat(b)
    assert c is not a and c.tolist() == [[1, 2, 3, 4]] and a.tolist() == [[1, 2]]
    assert a.cat(b, 0).tolist() == [[1, 2], [3, 4]] and a.tolist() == [[1, 2]]
    res = torch.Tensor()
    assert res.cat(a, b, 0) is res and res.tolist() == [[1, 2], [3, 4]]
    assert res.cat([b, a], 1) is res and res.tolist() == [[3, 4, 1, 2]]


def test_result_first_forms_with_empty_results():
    """An empty result empties the result tensor (it used to be resized to one element, then refused the copy)."""
    res = torch.LongTensor(3).fill(7)
    assert torch.nonzero(res, torch.zeros(3)) is res and res.nElement() == 0 and res.dim() == 0
    vals = torch.Tensor(3).fill(7)
    assert torch.maskedSelect(vals, torch.zeros(3), torch.ByteTensor(3).zero()) is vals and vals.nElement() == 0
    res = torch.Tensor(2).fill(7)
    assert torch.cat(res, torch.Tensor(), torch.Tensor(), 0) is res and res.nElement() == 0
    assert torch.nonzero(res, T([0, 5])) is res and res.tolist() == [[1]]


def test_eye_takes_lua_numbers_and_torch7_bounds():
    assert torch.eye(2.0).tolist() == [[1, 0], [0, 1]]                  # Lua's longs: 2.0 is 2
    assert torch.eye(2, 3.0).tolist() == [[1, 0, 0], [0, 1, 0]]
    assert torch.eye(2, 0).tolist() == [[1, 0], [0, 1]]                 # THTensor_(eye): m <= 0 means n
    assert torch.eye(torch.IntTensor(), 2, 0).tolist() == [[1, 0], [0, 1]]
    with pytest.raises(ValueError, match='eye: expected n > 0'):
        torch.eye(0)
    with pytest.raises(TypeError, match='eye'):
        torch.eye(2.5)


def test_arange_of_integers_is_exact_past_2_53():
    x = torch.arange(2 ** 53, 2 ** 53 + 3, tensortype='torch.LongTensor')
    assert x.tolist() == [2 ** 53, 2 ** 53 + 1, 2 ** 53 + 2]
    assert torch.arange(0, 1, 0.25).tolist() == [0, 0.25, 0.5, 0.75]


def test_linspace_point_count_is_a_lua_long():
    assert torch.linspace(0, 1, 2.5).tolist() == [0, 1]                 # Lua: (long)2.5 = 2 points
    assert torch.linspace(0, 1, 3.0).tolist() == [0, 0.5, 1]
    assert torch.logspace(0, 2, 3.9).tolist() == [1, 10, 100]
    res = torch.Tensor()
    assert torch.linspace(res, 0, 2, 3.5) is res and res.tolist() == [0, 1, 2]

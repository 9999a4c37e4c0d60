"""Torch7's tensor.md forms (issue 12): Tensor(sizes, strides), Tensor(storage, offset, sz1, st1, ...), the same
forms of set, isSize, repeatTensor, viewAs, apply/map/map2, split/chunk, retain/free; CPU and CUDA tensors."""
import math

import numpy as np
import pytest

import luatorch_py as torch


def _on(device, values, tensortype='torch.DoubleTensor'):
    t = torch.Tensor(values).type(tensortype)
    if device == 'cuda':
        t = t.type(tensortype.replace('torch.', 'torch.Cuda').replace('CudaFloat', 'Cuda'))
    return t


def _np(t):
    return t.cpu().numpy() if t.is_cuda() else t.numpy()


# -- constructors and set ---------------------------------------------------------------------------------------------
def test_sizes_and_strides_as_long_storages():
    t = torch.Tensor(torch.LongStorage([4]), torch.LongStorage([0]))    # Lua: torch.Tensor(sizes, strides)
    assert t.size() == (4,) and t.stride() == (0,) and len(t.storage()) == 1
    t.fill(3)
    assert t.tolist() == [3, 3, 3, 3]
    u = torch.FloatTensor((2, 3), (1, 2))                               # tuples: the Python spelling
    assert u.type() == 'torch.FloatTensor' and u.size() == (2, 3) and u.stride() == (1, 2)
    assert len(u.storage()) == 1 + 1 * 1 + 2 * 2
    w = torch.Tensor(torch.LongStorage([2, 3, 4]), torch.LongStorage([-1, 0, -1]))   # -1: contiguous (Torch7)
    assert w.stride() == (0, 0, 1) and len(w.storage()) == 4
    with pytest.raises(ValueError, match='differ in length'):
        torch.Tensor(torch.LongStorage([2, 2]), torch.LongStorage([1]))


def _classes(device):
    if device == 'cuda':
        return torch.CudaDoubleStorage, torch.CudaDoubleTensor
    return torch.DoubleStorage, torch.DoubleTensor


def test_storage_offset_and_size_stride_pairs(device):
    storage, tensor = _classes(device)
    s = storage(list(range(1, 13)))
    t = tensor(s, 2, 2, 3, 3, 1)                     # Lua: torch.Tensor(s, 3, 2, 3, 3, 1) (1-based offset)
    assert t.size() == (2, 3) and t.stride() == (3, 1) and t.storageOffset() == 2
    want = [[s[2 + 3 * i + j] for j in range(3)] for i in range(2)]
    assert t.tolist() == want == [[3, 4, 5], [6, 7, 8]]
    t[0, 0] = -1                                      # a view: writes reach the storage
    assert s[2] == -1
    s[2] = 3
    u = tensor(s, 1, 2, 1, 3)                         # the last stride left out: contiguous
    assert u.size() == (2, 3) and u.stride() == (1, 1) and u.tolist() == [[2, 3, 4], [3, 4, 5]]
    v = tensor(s, 0, 3, 4, 2, 2)
    assert v.tolist() == [[s[4 * i + 2 * j] for j in range(2)] for i in range(3)] == [[1, 3], [5, 7], [9, 11]]
    with pytest.raises(TypeError, match='sz1, st1'):
        tensor(s, 0, 2, (1,), 3)


def test_set_takes_the_same_forms(device):
    storage, tensor = _classes(device)
    s = storage(list(range(12)))
    t = tensor()
    assert t.set(s, 1, 2, 4, 2, 1) is t
    assert t.isSetTo(tensor(s, 1, torch.LongStorage([2, 2]), torch.LongStorage([4, 1])))
    assert t.tolist() == [[1, 2], [5, 6]] and t.storage() is s
    t.set(s, 3, torch.LongStorage([3]), torch.LongStorage([3]))
    assert t.tolist() == [3, 6, 9]
    t.set(s, 4, 5)                                     # one size: contiguous
    assert t.tolist() == [4, 5, 6, 7, 8]
    t.set(s)
    assert t.size() == (12,) and t.storageOffset() == 0
    assert t.set(s, 0, 2, -1).stride() == (1,)         # a negative stride: the contiguous one (Torch7)
    assert t.set(s, 1, 2, -5, 3, -5).stride() == (3, 1) and t.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_is_size():
    t = torch.Tensor(2, 3)
    assert t.isSize(torch.LongStorage([2, 3])) and t.isSize((2, 3)) and t.isSize(2, 3)
    assert not t.isSize(torch.LongStorage([3, 2])) and not t.isSize((2, 3, 1))
    assert torch.Tensor().isSize(torch.LongStorage())


# -- repeatTensor and viewAs ------------------------------------------------------------------------------------------
def _tiled(x, reps):
    """A loop reference: out[i] = x[i mod x's sizes], x given leading size-1 dims."""
    x = np.asarray(x).reshape((1,) * (len(reps) - np.ndim(x)) + np.shape(x))
    out = np.empty([n * r for n, r in zip(x.shape, reps)])
    for idx in np.ndindex(out.shape):
        out[idx] = x[tuple(i % n for i, n in zip(idx, x.shape))]
    return out


def test_repeat_tensor(device):
    x = _on(device, [[1, 2, 3], [4, 5, 6]])
    r = x.repeatTensor(2, 2)
    assert r.type() == x.type() and r is not x
    np.testing.assert_array_equal(_np(r), _tiled(_np(x), (2, 2)))
    np.testing.assert_array_equal(_np(torch.repeatTensor(x, 3, 1, 2)), _tiled(_np(x), (3, 1, 2)))
    np.testing.assert_array_equal(_np(x.repeatTensor(torch.LongStorage([1, 3]))), _tiled(_np(x), (1, 3)))
    v = _on(device, [1, 2])
    res = _on(device, [0.0])
    assert torch.repeatTensor(res, v, 2, 2) is res                  # result form (function)
    np.testing.assert_array_equal(_np(res), [[1, 2, 1, 2], [1, 2, 1, 2]])
    assert res.repeatTensor(x.t(), 1, 2) is res                     # result form (method), non-contiguous source
    np.testing.assert_array_equal(_np(res), _tiled(_np(x).T, (1, 2)))
    with pytest.raises(ValueError, match='repeatTensor: 1 repeat counts for a 2-D'):
        x.repeatTensor(2)


def test_view_as_function(device):
    x = _on(device, list(range(6)))
    tmpl = _on(device, [[0, 0, 0], [0, 0, 0]])
    v = torch.viewAs(x, tmpl)
    assert v.size() == (2, 3) and v.storage() is x.storage()
    res = _on(device, [9.0])
    assert torch.viewAs(res, x, tmpl) is res and res.size() == (2, 3) and res.storage() is x.storage()


def test_result_forms_of_view_and_expand(device):
    x = _on(device, [[1], [2], [3]])
    t34 = _on(device, np.zeros((3, 4)))
    for make, size in [(lambda r: r.view(x, 3), (3,)), (lambda r: torch.view(r, x, torch.LongStorage([1, 3])), (1, 3)),
                       (lambda r: r.expand(x, 3, 2), (3, 2)), (lambda r: torch.expand(r, x, 3, 5), (3, 5)),
                       (lambda r: r.expandAs(x, t34), (3, 4)), (lambda r: torch.expandAs(r, x, t34), (3, 4)),
                       (lambda r: r.viewAs(x, t34[0, :3]), (3,))]:
        r = _on(device, [0.0])
        assert make(r) is r and r.size() == size and r.storage() is x.storage()
    e = torch.expandAs(x, t34)
    assert e.size() == (3, 4) and e.stride() == (1, 0)
    np.testing.assert_array_equal(_np(e), np.repeat([[1], [2], [3]], 4, axis=1))
    with pytest.raises(TypeError, match=r'expandAs: expected \(\[res,\] tensor, template\)'):
        torch.expandAs(x)


# -- apply, map, map2 ---------------------------------------------------------------------------------------------------
def test_apply_replaces_elements_with_the_returned_values(device):
    x = _on(device, [[1, 2], [3, 4]])
    assert x.apply(math.sin) is x
    np.testing.assert_allclose(_np(x), np.sin([[1, 2], [3, 4]]))
    seen = []
    y = _on(device, [[1, 2, 3], [4, 5, 6]]).t()                      # non-contiguous: still Torch7's order
    y.apply(lambda v: seen.append(v))                                  # returns None: elements unchanged
    assert seen == [1, 4, 2, 5, 3, 6]
    np.testing.assert_array_equal(_np(y), [[1, 4], [2, 5], [3, 6]])
    i = _on(device, [1, 2, 3], 'torch.IntTensor')
    i.apply(lambda v: v * 2.7)                                          # C's conversion truncates
    assert i.tolist() == [2, 5, 8]
    b = _on(device, [250, 3], 'torch.ByteTensor')
    b.apply(lambda v: v + 10)                                           # and wraps to the type's width
    assert b.tolist() == [4, 13]
    with pytest.raises(TypeError, match='apply: the function must return numbers'):
        b.apply(lambda v: 'x')
    k = 0

    def count(_):
        nonlocal k
        k += 1
        return k
    z = _on(device, [[0, 0], [0, 0]])
    z.apply(count)                                                       # Lua's "fill with 1..n" idiom
    assert z.tolist() == [[1, 2], [3, 4]]


def test_apply_wraps_integers_beyond_64_bits_on_either_device(device):
    # the GPU path packed the values into int64 first: 2^64 + 5 raised OverflowError where the CPU wraps (C's rule)
    x = _on(device, [0, 0], 'torch.LongTensor')
    assert x.apply(lambda v: 2 ** 64 + 5).tolist() == [5, 5]
    assert x.apply(lambda v: 2 ** 63).tolist() == [-2 ** 63, -2 ** 63]
    b = _on(device, [0, 0], 'torch.ByteTensor')
    assert b.apply(lambda v: 2 ** 70 + 300).tolist() == [44, 44]


def test_map_and_map2(device):
    x = _on(device, [[1, 2, 3], [4, 5, 6]])
    y = _on(device, list(range(1, 7)))                                   # same element count, other shape
    assert x.map(y, lambda a, b: a * b) is x
    np.testing.assert_array_equal(_np(x), [[1, 4, 9], [16, 25, 36]])
    z = _on(device, [10, 20, 30, 40, 50, 60])
    x.map2(y, z, lambda a, b, c: a + b * c)
    np.testing.assert_array_equal(_np(x), np.array([[1, 4, 9], [16, 25, 36]]) + np.arange(1, 7).reshape(2, 3)
                                  * np.arange(10, 70, 10).reshape(2, 3))
    before = _np(x).copy()
    x.map(y, lambda a, b: None)
    np.testing.assert_array_equal(_np(x), before)
    with pytest.raises(ValueError, match='map: the tensors have 6 and 2 elements'):
        x.map(_on(device, [1, 2]), lambda a, b: a)
    with pytest.raises(ValueError, match='map2'):
        x.map2(y, _on(device, [1]), lambda a, b, c: a)


# -- split and chunk ----------------------------------------------------------------------------------------------------
def test_split(device):
    x = _on(device, np.arange(24).reshape(4, 3, 2))
    parts = x.split(3)                                        # default dim 0 (Lua's 1)
    assert [p.size() for p in parts] == [(3, 3, 2), (1, 3, 2)]
    assert all(p.storage() is x.storage() for p in parts)
    np.testing.assert_array_equal(np.concatenate([_np(p) for p in parts]), _np(x))
    parts = torch.split(x, 2, 1)
    assert [p.size() for p in parts] == [(4, 2, 2), (4, 1, 2)]
    assert [p.size() for p in x.split(1, -1)] == [(4, 3, 1)] * 2
    res = ['old', 'entries']
    assert torch.split(res, x, 2, 2) is res and len(res) == 1 and res[0].size() == (4, 3, 2)
    parts[0].fill(-1)                                          # views: writes reach x
    assert _np(x)[:, :2].max() == -1
    with pytest.raises(ValueError, match='split: the piece size must be >= 1'):
        x.split(0)


def test_chunk(device):
    x = _on(device, np.arange(10))
    assert [p.size(0) for p in x.chunk(3)] == [4, 4, 2]       # ceil(10 / 3) each, as Torch7
    assert [p.size(0) for p in torch.chunk(x, 4, 0)] == [3, 3, 3, 1]
    assert [p.size(0) for p in x.chunk(20)] == [1] * 10
    y = _on(device, np.zeros((2, 5)))
    assert [p.size() for p in y.chunk(2, 1)] == [(2, 3), (2, 2)]
    res = []
    assert torch.chunk(res, y, 2) is res and [p.size() for p in res] == [(1, 5), (1, 5)]
    with pytest.raises(ValueError, match='chunk: the number of chunks must be >= 1'):
        y.chunk(0)


# -- retain and free ----------------------------------------------------------------------------------------------------
def test_retain_and_free_keep_a_count():
    t = torch.Tensor(3)
    assert t.refcount() == 1
    assert t.retain() is None and t.refcount() == 2
    t.free()
    t.free()
    assert t.refcount() == 0
    with pytest.raises(RuntimeError, match='reference count is already 0'):
        t.free()
    with pytest.raises(RuntimeError, match=f"free: the {t.type()}'s reference count"):     # names the type
        t.free()
    assert t.narrow(0, 0, 1).refcount() == 1                  # each tensor object has its own count

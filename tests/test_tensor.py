"""Tensors: construction, geometry, views, indexing, Torch7's in-place math, operators, reductions, types.

Tests taking the ``device`` fixture run on the CPU types and, where a GPU and CuPy are present, on the Cuda types.
"""
import math

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import backend


def T(values, device='cpu', dtype='Double'):
    """A tensor of the given values: torch.DoubleTensor on 'cpu', torch.CudaDoubleTensor on 'cuda'."""
    name = {'cpu': f'torch.{dtype}Tensor',
            'cuda': 'torch.CudaTensor' if dtype == 'Float' else f'torch.Cuda{dtype}Tensor'}[device]
    return torch.type_info(name).tensor_class(values)


def close(t, want):
    """t's values (a tensor, nested lists) equal ``want`` to within float rounding."""
    got = np.asarray(t.tolist() if isinstance(t, torch.Tensor) else t, dtype=np.float64)
    return got.shape == np.shape(want) and np.allclose(got, want, rtol=1e-6, atol=1e-12)


def shares(a, b):
    """True when tensors a and b view the same storage buffer."""
    return a.storage() is b.storage()


# -- constructors --------------------------------------------------------------------------------------------
def test_empty_tensor():
    x = torch.Tensor()
    assert x.type() == 'torch.DoubleTensor'
    assert x.dim() == 0 and x.nElement() == 0 and x.size() == () and len(x) == 0
    assert x.storage().size() == 0


@pytest.mark.parametrize("args", [(4, 6), ((4, 6),), (torch.LongStorage([4, 6]),)])
def test_uninitialized_sizes(args):
    x = torch.Tensor(*args)
    assert x.size() == (4, 6) and x.dim() == 2 and x.nElement() == 24
    assert x.stride() == (6, 1) and x.isContiguous() and x.storageOffset() == 0
    assert x.storage().size() == 24


def test_long_storage_is_sizes_except_for_long_tensors():
    # Torch7: a storage of the tensor's own type is viewed; a LongStorage given to another type is the sizes
    assert torch.FloatTensor(torch.LongStorage([2, 3])).size() == (2, 3)
    st = torch.LongStorage([4, 6])
    lt = torch.LongTensor(st)
    assert lt.tolist() == [4, 6] and lt.storage() is st


def test_sizes_must_be_integers():
    assert torch.Tensor(3.0).size() == (3,)           # Lua numbers are doubles
    assert torch.Tensor(np.int64(3)).size() == (3,)
    with pytest.raises(TypeError, match='expected sizes as ints'):
        torch.Tensor(2.5)
    with pytest.raises(TypeError, match='expected sizes as ints'):
        torch.Tensor('a')
    with pytest.raises(ValueError, match='sizes must be >= 0'):
        torch.Tensor(-1)


def test_nested_list_copies_values(device):
    x = T([[1, 2, 3], [4, 5, 6]], device)
    assert x.size() == (2, 3) and x.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert torch.IntTensor([1.7, -1.7]).tolist() == [1, -1]
    assert torch.ByteTensor([True, False]).tolist() == [1, 0]
    with pytest.raises(ValueError, match='ragged'):
        torch.Tensor([[1, 2], [3]])


def test_numpy_array_is_copied():
    a = np.arange(6.0).reshape(2, 3)
    x = torch.Tensor(a)
    a[0, 0] = 100
    assert x[0][0] == 0
    f = torch.FloatTensor(a)
    assert f.type() == 'torch.FloatTensor' and f.numpy().dtype == np.float32
    assert f.tolist() == [[100, 1, 2], [3, 4, 5]]


def test_tensor_of_tensor_shares_storage():
    x = torch.Tensor([[1, 2], [3, 4]])
    y = torch.Tensor(x)
    assert shares(x, y)
    y[0][0] = 7
    assert x[0][0] == 7
    # another type: converted by copy
    f = torch.FloatTensor(x)
    assert f.type() == 'torch.FloatTensor' and not shares(f, x)
    f[0][0] = -1
    assert x[0][0] == 7


def test_tensor_on_storage_offset_size_stride():
    s = torch.DoubleStorage([1, 2, 3, 4, 5, 6, 7])
    v = torch.Tensor(s, 1, torch.LongStorage([2, 3]), torch.LongStorage([3, 1]))
    assert v.tolist() == [[2, 3, 4], [5, 6, 7]]
    assert v.storage() is s and v.storageOffset() == 1 and v.stride() == (3, 1)
    v[0][0] = 9
    assert s[1] == 9
    assert torch.Tensor(s, 2).tolist() == [3, 4, 5, 6, 7]              # offset only: to the end
    assert torch.Tensor(s).tolist() == [1, 9, 3, 4, 5, 6, 7]
    assert torch.Tensor(s, 0, (2, 2)).tolist() == [[1, 9], [3, 4]]     # contiguous strides
    assert torch.Tensor(s, 0, (2, 2), (1, 2)).tolist() == [[1, 3], [9, 4]]
    # a view needing more than the storage holds grows the storage (Torch7)
    small = torch.DoubleStorage([1, 2])
    g = torch.Tensor(small, 1, (3,))
    assert len(small) == 4 and g.storage() is small and g[0] == 2


def test_tensor_on_storage_errors():
    with pytest.raises(TypeError, match='expected a torch.DoubleStorage'):
        torch.DoubleTensor(torch.FloatStorage([1, 2]))
    with pytest.raises(ValueError, match='storage offset 5 out of range'):
        torch.DoubleTensor(torch.DoubleStorage([1, 2]), 5)


# -- numpy interop -------------------------------------------------------------------------------------------
def test_fromNumpy_shares_memory_both_ways():
    a = np.zeros((2, 3), np.float32)
    x = torch.fromNumpy(a)
    assert x.type() == 'torch.FloatTensor' and x.size() == (2, 3)
    x[0][1] = 5
    assert a[0, 1] == 5
    a[1, 2] = 3
    assert x[1][2] == 3
    assert torch.from_numpy is torch.fromNumpy


@pytest.mark.parametrize('dtype,name', [(np.uint8, 'torch.ByteTensor'), (np.int8, 'torch.CharTensor'),
                                        (np.int16, 'torch.ShortTensor'), (np.int32, 'torch.IntTensor'),
                                        (np.int64, 'torch.LongTensor'), (np.float32, 'torch.FloatTensor'),
                                        (np.float64, 'torch.DoubleTensor')])
def test_fromNumpy_type_follows_dtype(dtype, name):
    assert torch.fromNumpy(np.zeros(2, dtype)).type() == name


def test_fromNumpy_views_and_errors():
    base = np.arange(12.0).reshape(3, 4)
    x = torch.fromNumpy(base[:, ::2])                 # strided view: still shared
    assert x.stride() == (4, 2) and x.tolist() == [[0, 2], [4, 6], [8, 10]]
    x[0][1] = -1
    assert base[0, 2] == -1
    assert torch.fromNumpy(np.arange(3.0)[::-1]).tolist() == [2, 1, 0]   # negative strides: copied
    with pytest.raises(TypeError, match='no Torch7 type holds numpy dtype bool'):
        torch.fromNumpy(np.array([True]))
    with pytest.raises(TypeError, match='expected a numpy array'):
        torch.fromNumpy([1, 2])


@pytest.mark.filterwarnings('ignore:the matrix subclass:PendingDeprecationWarning')
def test_fromNumpy_of_ndarray_subclasses_shares_their_memory(tmp_path):
    # np.memmap (a dataset on disk), np.matrix and masked arrays are viewed as plain arrays, as np.asarray does:
    # a memmap crashed (AttributeError) in printing, storageOffset, narrow and resize
    mm = np.memmap(tmp_path / 'x.bin', dtype=np.float32, mode='w+', shape=(2, 3))
    mm[:] = [[1, 2, 3], [4, 5, 6]]
    x = torch.fromNumpy(mm)
    assert x.type() == 'torch.FloatTensor' and type(x.numpy()) is np.ndarray
    assert x.narrow(1, 1, 2).storageOffset() == 1 and x.sum() == 21 and 'size 2x3' in str(x)
    x[1][2] = 60
    assert mm[1, 2] == 60
    m = torch.fromNumpy(np.matrix([[1.0, 2.0], [3.0, 4.0]]))
    assert m[0].tolist() == [1, 2] and m.t().tolist() == [[1, 3], [2, 4]]
    ma = np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    assert torch.fromNumpy(ma).sum() == 6 and torch.as_tensor(ma).tolist() == [1, 2, 3]


def test_numpy_and_asarray_share_memory():
    x = torch.Tensor([[1, 2], [3, 4]])
    n = x.numpy()
    n[0, 0] = -1
    assert x[0][0] == -1
    assert np.shares_memory(np.asarray(x), n) and np.shares_memory(np.asarray(x.t()), n)
    n.shape = (4,)                                   # a new array object per call: the tensor keeps its geometry
    n.flags.writeable = False
    assert x.size() == torch.LongStorage([2, 2]) and x.numpy().shape == (2, 2)
    x.fill(3)                                        # (was "assignment destination is read-only")
    assert n.tolist() == [3, 3, 3, 3]
    c = np.array(x)                                  # np.array copies
    c[1, 1] = 100
    assert x[1][1] == 3
    assert np.asarray(x, dtype=np.float32).dtype == np.float32
    assert np.exp(torch.Tensor([0.0])).tolist() == [1.0]   # numpy functions take tensors


def test_numpy_functions_see_tensors_as_arrays():
    # np.sum(x) used to call Torch7's x.sum(axis=None, ...) and raise TypeError; np.nonzero(x) gave Torch7's n x dim
    x = torch.Tensor([[1, 0], [3, 4]])
    assert np.sum(x) == 8 and np.mean(x) == 2 and np.max(x, axis=0).tolist() == [3, 4]
    assert [a.tolist() for a in np.nonzero(x)] == [[0, 1, 1], [0, 0, 1]]
    assert np.concatenate([x, x]).shape == (4, 2)
    out = torch.Tensor(2)
    np.sum(x, axis=1, out=out)                       # a tensor as out= is written through its memory
    assert out.tolist() == [1, 7]


def test_in_looks_for_a_number_among_all_elements():
    x = torch.Tensor([[1, 2, 3], [4, 5, 6]])      # (a matrix raised "bool(): only a one-element tensor ...")
    assert 5 in x and 5.0 in x and 7 not in x and 2 in x.t()
    assert 300 not in torch.ByteTensor([44]) and 3 in torch.Tensor([1, 3]) and 3 not in torch.Tensor()


def test_numpy_on_the_left_of_an_operator_gives_a_tensor():
    r = np.array([1.0, 1.0]) + torch.Tensor([1, 2])
    assert isinstance(r, torch.DoubleTensor) and r.tolist() == [2, 3]


@pytest.mark.gpu
def test_numpy_on_cuda_tensor_raises():
    x = torch.CudaTensor([1, 2])
    with pytest.raises(TypeError, match='lives on the GPU'):
        x.numpy()
    with pytest.raises(TypeError):
        np.asarray(x)
    assert x.float().numpy().tolist() == [1, 2]


@pytest.mark.gpu
def test_result_forms_and_products_with_a_tensor_on_the_other_device_name_the_call():
    c, f = torch.CudaTensor([1, 2]), torch.FloatTensor([3, 4])
    cm, fm = torch.CudaTensor([[1, 2], [3, 4]]), torch.FloatTensor([[1, 2], [3, 4]])
    calls = {'add': lambda: torch.CudaTensor().add(f, -1, c), 'cmul': lambda: torch.CudaTensor().cmul(f, c),
             'addcmul': lambda: torch.CudaTensor().addcmul(f, 1, c, c), 'mul': lambda: torch.CudaTensor().mul(f, 2),
             'div': lambda: torch.CudaTensor().div(f, 2), 'abs': lambda: torch.CudaTensor().abs(f),
             'pow': lambda: torch.CudaTensor().pow(f, 2), 'clamp': lambda: torch.CudaTensor().clamp(f, 0, 1),
             'dot': lambda: c.dot(f), 'mv': lambda: torch.CudaTensor().mv(cm, f),
             'addmv': lambda: torch.CudaTensor(2).zero().addmv(fm, c),
             'addmm': lambda: torch.CudaTensor().addmm(fm, cm, cm), 'mm': lambda: fm.mm(cm)}
    for name, call in calls.items():
        with pytest.raises(TypeError, match=rf'{name}: the torch\.\w+Tensor and the operand '
                                            rf'\(torch\.\w+Tensor\) are on different devices'):
            call()
    assert torch.CudaTensor().add(c, -1, c).float().tolist() == [0, 0]     # one device: as before
    assert torch.CudaTensor().mv(cm, c).float().tolist() == [5, 11]
    assert c.dot(c) == 5


def test_cuda_without_cupy_names_the_install_command(monkeypatch):
    monkeypatch.setattr(backend, '_cupy', None)
    monkeypatch.setattr(backend, '_cupy_error',
                        "CuPy is not installed (ModuleNotFoundError: No module named 'cupy'); "
                        + backend.CUDA_INSTALL_HINT)
    x = torch.Tensor([1, 2])
    with pytest.raises(backend.CudaUnavailableError, match=r'pip install luatorch_py\[cuda12\]'):
        x.cuda()
    with pytest.raises(torch.CudaUnavailableError, match='CuPy is not installed'):
        torch.CudaTensor(2)


@pytest.mark.skipif(backend.cuda_available(), reason='CuPy and a device are present here')
def test_cuda_unavailable_here():
    with pytest.raises(backend.CudaUnavailableError, match=r'pip install luatorch_py\[cuda12\]'):
        torch.Tensor([1]).cuda()


# -- geometry ------------------------------------------------------------------------------------------------
def test_size_is_a_long_storage_behaving_as_a_tuple():
    x = torch.Tensor(2, 3)
    sz = x.size()
    assert isinstance(sz, torch.LongStorage)
    assert sz == (2, 3) and tuple(sz) == (2, 3) and list(sz) == [2, 3]
    assert len(sz) == 2 and sz[0] == 2 and sz[-1] == 3 and sz[1:] == (3,)
    rows, cols = sz
    assert (rows, cols) == (2, 3)
    assert sz + (4,) == (2, 3, 4)
    assert x.size(1) == 3 and x.size(-1) == 3
    assert x.shape == (2, 3)
    assert torch.Tensor(sz).size() == (2, 3)


def test_geometry_queries(device):
    x = T([[1, 2, 3], [4, 5, 6]], device)
    assert x.dim() == 2 and x.nDimension() == 2 and x.nElement() == 6 and x.numel() == 6
    assert x.stride() == (3, 1) and x.stride(0) == 3
    assert x.storageOffset() == 0 and x.isContiguous()
    assert x.narrow(1, 1, 2).storageOffset() == 1
    assert not x.t().isContiguous()
    assert x.isSameSizeAs(T([[0, 0, 0], [0, 0, 0]], device))
    assert not x.isSameSizeAs(x.t())
    assert x.type() == ('torch.DoubleTensor' if device == 'cpu' else 'torch.CudaDoubleTensor')
    assert torch.isTensor(x) and torch.typename(x) == x.type()
    with pytest.raises(IndexError, match='dimension 2 out of range for a 2-D'):
        x.size(2)


# -- views ---------------------------------------------------------------------------------------------------
def test_view_and_viewAs(device):
    x = T(list(range(12)), device)
    v = x.view(3, 4)
    assert v.size() == (3, 4) and shares(v, x)
    v[1][2] = -1
    assert x[6] == -1
    assert x.view(-1, 6).size() == (2, 6)
    assert x.view(2, -1, 2).size() == (2, 3, 2)
    assert x.view((4, 3)).size() == (4, 3)
    assert x.view(torch.LongStorage([6, 2])).size() == (6, 2)
    assert x.viewAs(T([[0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0]], device)).size() == (6, 2)
    with pytest.raises(ValueError, match=r'cannot view a .* of size 12 \(12 elements\) as 5x2'):
        x.view(5, 2)
    with pytest.raises(ValueError, match='not contiguous'):
        v.t().view(12)
    with pytest.raises(ValueError, match='at most one size may be -1'):
        x.view(-1, -1)


def test_narrow_select_sub(device):
    x = T([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], device)
    n = x.narrow(1, 1, 2)
    assert n.tolist() == [[2, 3], [6, 7], [10, 11]] and shares(n, x)
    n.fill(0)
    assert x[0].tolist() == [1, 0, 0, 4]
    s = x.select(0, 2)
    assert s.tolist() == [9, 0, 0, 12] and s.dim() == 1
    s[0] = 90
    assert x[2][0] == 90
    assert x.select(1, -1).tolist() == [4, 8, 12]
    sub = x.sub(0, 1, 2, 3)                     # inclusive 0-based bounds
    assert sub.tolist() == [[0, 4], [0, 8]] and shares(sub, x)
    assert x.sub(-1, -1).tolist() == [[90, 0, 0, 12]]
    with pytest.raises(IndexError, match=r'narrow: dim 1 of size 4 has no range \[3, 5\)'):
        x.narrow(1, 3, 2)
    with pytest.raises(IndexError, match='select: index 3 out of range'):
        x.select(0, 3)
    with pytest.raises(ValueError, match='cannot select on a 1-D'):
        x[0].select(0, 1)


def test_transpose_t_permute(device):
    x = T([[1, 2, 3], [4, 5, 6]], device)
    y = x.t()
    assert y.tolist() == [[1, 4], [2, 5], [3, 6]] and y.stride() == (1, 3) and shares(y, x)
    y[2][0] = 30
    assert x[0][2] == 30
    assert x.transpose(0, 1).tolist() == y.tolist()
    assert x.transpose(1, 0).isSameSizeAs(y)
    z = T(list(range(24)), device).view(2, 3, 4)
    p = z.permute(2, 0, 1)
    assert p.size() == (4, 2, 3) and p[3][1][2] == z[1][2][3] and shares(p, z)
    with pytest.raises(ValueError, match='not a permutation'):
        z.permute(0, 0, 1)
    with pytest.raises(ValueError, match='t\\(\\): expected a 2-D tensor'):
        z.t()


def test_unfold(device):
    x = T([1, 2, 3, 4, 5, 6, 7], device)
    u = x.unfold(0, 3, 2)
    assert u.tolist() == [[1, 2, 3], [3, 4, 5], [5, 6, 7]] and shares(u, x)
    assert u.stride() == (2, 1)
    m = T(list(range(1, 13)), device).view(3, 4)
    assert m.unfold(1, 2, 2).tolist() == [[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]]
    assert m.unfold(0, 2, 1).size() == (2, 4, 2)
    assert m.unfold(0, 2, 1)[1][3].tolist() == [8, 12]


def test_expand_squeeze_unsqueeze(device):
    c = T([[1], [2]], device)
    e = c.expand(2, 3)
    assert e.tolist() == [[1, 1, 1], [2, 2, 2]] and e.stride() == (1, 0) and shares(e, c)
    c[1][0] = 5
    assert e[1].tolist() == [5, 5, 5]
    assert T([1, 2], device).expand(3, 2).tolist() == [[1, 2]] * 3
    assert c.expandAs(T([[0] * 4] * 2, device)).size() == (2, 4)
    assert c.expand(-1, 4).size() == (2, 4)
    with pytest.raises(ValueError, match='only dims of size 1 expand'):
        e.expand(3, 3)

    x = T([[[1], [2], [3]]], device)              # 1x3x1
    assert x.squeeze().size() == (3,) and shares(x.squeeze(), x)
    assert x.squeeze(2).size() == (1, 3)
    assert x.squeeze(1).size() == (1, 3, 1)          # not of size 1: unchanged
    assert T([[5]], device).squeeze().size() == (1,)  # no 0-dim tensors
    u = x.squeeze().unsqueeze(0)
    assert u.size() == (1, 3) and shares(u, x)
    assert x.squeeze().unsqueeze(-1).size() == (3, 1)
    assert x.squeeze().unsqueeze(1).size() == (3, 1)


def test_squeeze_of_a_strided_view_shares():
    x = torch.Tensor([[1, 2, 3], [4, 5, 6]])
    s = x.t().narrow(0, 0, 1).squeeze()
    assert s.tolist() == [1, 4]
    s[1] = 40
    assert x[1][0] == 40


def test_contiguous_and_clone(device):
    x = T([[1, 2], [3, 4]], device)
    assert x.contiguous() is x
    c = x.t().contiguous()
    assert c.isContiguous() and c.tolist() == [[1, 3], [2, 4]] and not shares(c, x)
    k = x.clone()
    assert k.tolist() == x.tolist() and not shares(k, x) and k.type() == x.type()
    k[0][0] = 9
    assert x[0][0] == 1
    kt = x.t().clone()
    assert kt.isContiguous() and kt.tolist() == [[1, 3], [2, 4]]


def test_set(device):
    x = T([[1, 2], [3, 4]], device)
    y = type(x)()
    assert y.set(x) is y
    assert shares(y, x) and y.size() == (2, 2) and y.isSetTo(x)
    y[0][0] = 7
    assert x[0][0] == 7
    z = type(x)().set(x.storage(), 1, torch.LongStorage([3]))
    assert z.tolist() == [2, 3, 4] and z.storageOffset() == 1
    assert type(x)().set(x.storage(), 0, (2, 2), (1, 2)).tolist() == [[7, 3], [2, 4]]
    with pytest.raises(TypeError, match='set: expected a'):
        x.set(torch.IntTensor([1]) if device == 'cpu' else torch.CudaIntTensor([1]))


def test_resize_reuses_storage():
    x = torch.Tensor(4, 5)
    st = x.storage()
    assert x.resize(2, 3) is x
    assert x.size() == (2, 3) and x.storage() is st and len(st) == 20 and x.isContiguous()
    x.resize(torch.LongStorage([10, 10]))            # grows the same storage object
    assert x.size() == (10, 10) and x.storage() is st and len(st) == 100
    assert x.resizeAs(torch.Tensor(3, 2)) is x and x.size() == (3, 2) and x.storage() is st
    # same sizes keep the geometry, strides included (Torch7)
    m = torch.Tensor([[1, 2], [3, 4]])
    t = m.t()
    t.resize(2, 2)
    assert t.stride() == (1, 2) and t.tolist() == [[1, 3], [2, 4]]


def test_growing_a_storage_repoints_its_views():
    x = torch.Tensor([[1, 2, 3], [4, 5, 6]])
    v = x.view(6)
    x.resize(5, 5)                     # reallocates the storage; v keeps viewing it
    assert v.storage() is x.storage()
    v.fill(3)
    assert x.storage().tolist()[:6] == [3] * 6 and x[1][0] == 3


# -- indexing ------------------------------------------------------------------------------------------------
def test_getitem(device):
    x = T([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], device)
    assert x[1].tolist() == [5, 6, 7, 8] and shares(x[1], x)
    assert x[1][2] == 7 and isinstance(x[1][2], float)
    assert x[1, 2] == 7 and x[-1, -1] == 12
    assert x[:, 1].tolist() == [2, 6, 10] and shares(x[:, 1], x)
    assert x[0:2, 1:3].tolist() == [[2, 3], [6, 7]]
    assert x[::2].tolist() == [[1, 2, 3, 4], [9, 10, 11, 12]]
    assert x[..., 3].tolist() == [4, 8, 12]
    assert x[None].size() == (1, 3, 4)
    assert torch.IntTensor([3])[0] == 3 and isinstance(torch.IntTensor([3])[0], int)
    assert len(x) == 3 and [r.tolist() for r in x][2] == [9, 10, 11, 12]


def test_getitem_with_masks_and_indices(device):
    x = T([[1, 2], [3, 4]], device)
    assert x[x.gt(2)].tolist() == [3, 4]
    assert x[x > 1].tolist() == [2, 3, 4]
    idx = torch.LongTensor([1, 0]) if device == 'cpu' else torch.CudaLongTensor([1, 0])
    r = x[idx]
    assert r.tolist() == [[3, 4], [1, 2]] and not shares(r, x)
    assert x[[1, 1]].tolist() == [[3, 4], [3, 4]]
    if device == 'cpu':
        assert x[np.array([[True, False], [False, True]])].tolist() == [1, 4]
    # an index holding tensors or lists is numpy's advanced indexing: a copy, not a view
    c = x[:, idx]
    assert c.tolist() == [[2, 1], [4, 3]] and not shares(c, x) and c.storageOffset() == 0
    c[0][0] = 100
    assert x[0][1] == 2
    assert x[idx, 0].tolist() == [3, 1]
    assert x[byte([0, 1], device)].tolist() == [[3, 4]]         # a mask over the rows
    assert x[[True, False]].tolist() == [[1, 2]]


def test_getitem_with_a_bool_range_or_tuple_is_a_copy_not_a_view():
    # numpy's advanced indexing copies: the copy is a tensor of its own, not a "view" at a made-up storage offset
    # (which the storage's next resize pointed into its new buffer: the values turned to garbage)
    x = torch.Tensor([[1, 2, 3], [4, 5, 6]])
    for key in (True, np.bool_(True), range(2), (0, range(2)), (slice(None), (0, 2))):
        r = x[key]
        assert r.storage() is not x.storage() and r.storageOffset() == 0, key
    r = x[range(2)]
    x.storage().resize(100000)
    assert r.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert x[(slice(None), (0, 2))].tolist() == [[1, 3], [4, 6]]
    assert x[1, 1:].storage() is x.storage() and x[1, 1:].storageOffset() == 4    # ints and slices: views


def test_setitem(device):
    x = T([[1, 2, 3], [4, 5, 6]], device)
    x[0] = 0
    assert x.tolist() == [[0, 0, 0], [4, 5, 6]]
    x[1, 1] = -1
    x[1][2] = -2
    assert x[1].tolist() == [4, -1, -2]
    x[:, 0] = T([7, 8], device)
    assert x.tolist() == [[7, 0, 0], [8, -1, -2]]
    x[0] = T([[1, 2, 3]], device)                # same element count: reshaped
    assert x[0].tolist() == [1, 2, 3]
    x[x.lt(0)] = 9                                # mask, number
    assert x[1].tolist() == [8, 9, 9]
    x[x.eq(9)] = T([5, 6], device)                # mask, tensor (maskedCopy)
    assert x[1].tolist() == [8, 5, 6]
    with pytest.raises(ValueError, match='does not fit the selected region'):
        x[0] = T([1, 2], device)
    x[0] = np.array([1, 2, 3])                    # a host array or a list into a basic region (CuPy refuses
    x[1] = [4, 5, 6]                              # them there unless copied to the device first)
    assert x.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_setitem_values_convert_as_the_constructors(device):
    # a list's numbers cast as C casts them, as torch.ByteTensor([-1, 300]) does (numpy raised OverflowError on
    # the CPU: "Python integer -1 out of bounds for uint8")
    b = T([0, 0, 0], device, 'Byte')
    b[:] = [-1, 300, 2]
    assert b.tolist() == [255, 44, 2]
    b[0:2] = (1, 257)
    assert b.tolist() == [1, 1, 2]
    b[:] = [1.7, 2.2, 3.9]                        # (in range: a GPU's out-of-range float conversions are its own)
    assert b.tolist() == [1, 2, 3]
    x = T([1, 2], device)
    x[:] = range(5, 7)
    assert x.tolist() == [5, 6]
    x[:] = torch.DoubleStorage([3, 4])
    assert x.tolist() == [3, 4]
    # not numbers: numpy stored None as NaN and parsed '3' as 3.0
    for bad in (None, '3', object()):
        with pytest.raises(TypeError, match=r'assignment: expected a number, a tensor or numbers for a '
                                            r'torch\.(Cuda)?DoubleTensor, got'):
            x[0] = bad
    for bad in ([None, 1], ['1', '2'], np.array(['1', '2'])):
        with pytest.raises(ValueError, match='assignment: expected numbers for a torch.*DoubleTensor, got values'):
            x[:] = bad
    assert x.tolist() == [3, 4]


def test_out_of_range_index_raises(device):
    x = T([[1, 2], [3, 4]], device)
    with pytest.raises(IndexError, match='indexing a torch.*Tensor of size 2x2 with 2'):
        x[2]
    with pytest.raises(IndexError):
        x[0, -3]
    with pytest.raises(IndexError):
        x[5] = 1
    with pytest.raises(IndexError, match='negative slice steps'):
        x[::-1]


def test_scalar_conversions():
    assert float(torch.Tensor([2.5])) == 2.5 and int(torch.Tensor([[3]])) == 3
    assert torch.Tensor([1.5]).item() == 1.5
    assert bool(torch.Tensor([1])) and not bool(torch.Tensor([0]))
    with pytest.raises(ValueError, match='only a one-element tensor'):
        float(torch.Tensor([1, 2]))


# -- in-place math: Torch7's forms, each returning self -------------------------------------------------------
def test_add_forms(device):
    x, y = T([[1, 2], [3, 4]], device), T([[10, 20], [30, 40]], device)
    r = x.add(y)
    assert r is x and x.tolist() == [[11, 22], [33, 44]]
    assert y.tolist() == [[10, 20], [30, 40]]
    x = T([1, 2], device)
    assert x.add(5) is x and x.tolist() == [6, 7]
    assert x.add(2, T([1, 10], device)) is x and x.tolist() == [8, 27]          # x += 2 * y
    res = type(x)()
    assert res.add(T([1, 2], device), T([3, 4], device)) is res and res.tolist() == [4, 6]   # res = t1 + t2
    assert res.add(T([1, 2], device), 3, T([3, 4], device)).tolist() == [10, 14]            # res = t1 + 3 * t2
    assert res.add(T([1, 2], device), 0.5).tolist() == [1.5, 2.5]                           # res = t1 + value
    x = T([[1, 2], [3, 4]], device)
    x.add(T([1, 1, 1, 1], device))                # same number of elements: Torch7's rule
    assert x.tolist() == [[2, 3], [4, 5]]
    with pytest.raises(ValueError, match=r'add: size mismatch, the torch.*Tensor has size 2x2 \(4 elements\), '
                                         r'the operand has size 3 \(3 elements\)'):
        x.add(T([1, 1, 1], device))


def test_add_integer_and_mixed_types():
    assert torch.LongTensor([1, 2]).add(1.7).tolist() == [2, 3]      # the scalar becomes the element type
    assert torch.LongTensor([1, 2]).add(2, torch.LongTensor([1, 1])).tolist() == [3, 4]
    assert torch.Tensor([1, 2]).add(torch.FloatTensor([0.5, 0.5])).tolist() == [1.5, 2.5]


def test_csub_and_pytorch_aliases(device):
    x, y = T([5, 6], device), T([1, 2], device)
    assert x.csub(y) is x and x.tolist() == [4, 4]
    assert x.csub(1).tolist() == [3, 3]
    assert x.csub(2, y).tolist() == [1, -1]
    assert type(x)().csub(T([5, 5], device), T([1, 2], device)).tolist() == [4, 3]
    z = T([1, 2], device)
    assert z.add_(y) is z and z.tolist() == [2, 4]
    assert z.sub_(y) is z and z.tolist() == [1, 2]
    assert z.mul_(3) is z and z.tolist() == [3, 6]
    assert z.div_(3) is z and z.tolist() == [1, 2]
    assert z.fill_(4) is z and z.tolist() == [4, 4]
    assert z.zero_() is z and z.tolist() == [0, 0]
    assert z.copy_(y) is z and z.tolist() == [1, 2]
    assert T([-1.5], device).abs_().tolist() == [1.5]
    assert T([0.0], device).exp_().tolist() == [1.0]
    assert T([-1, 2], device).clamp_(0, 1).tolist() == [0, 1]
    assert T([2], device).pow_(3).tolist() == [8]


def test_mul_div_cmul_cdiv(device):
    x = T([[1, 2], [3, 4]], device)
    assert x.mul(2) is x and x.tolist() == [[2, 4], [6, 8]]
    assert x.div(4) is x and x.tolist() == [[0.5, 1], [1.5, 2]]
    res = type(x)()
    assert res.mul(T([1, 2], device), 3) is res and res.tolist() == [3, 6]
    assert res.div(T([1, 2], device), 2).tolist() == [0.5, 1]
    a = T([1, 2, 3], device)
    assert a.cmul(T([2, 3, 4], device)) is a and a.tolist() == [2, 6, 12]
    assert a.cdiv(T([2, 3, 4], device)) is a and a.tolist() == [1, 2, 3]
    assert res.cmul(T([1, 2], device), T([3, 4], device)).tolist() == [3, 8]
    assert res.cdiv(T([3, 4], device), T([2, 8], device)).tolist() == [1.5, 0.5]
    assert T([1, 5], device).cmax(T([3, 2], device)).tolist() == [3, 5]
    assert T([1, 5], device).cmin(2).tolist() == [1, 2]
    assert T([2, 3], device).cpow(T([3, 2], device)).tolist() == [8, 9]
    assert T([1, 2], device).addcmul(2, T([1, 2], device), T([3, 4], device)).tolist() == [7, 18]
    assert T([1, 2], device).addcdiv(T([1, 2], device), T([2, 4], device)).tolist() == [1.5, 2.5]
    with pytest.raises(ValueError, match='cmul: size mismatch'):
        a.cmul(T([1, 2], device))


def test_integer_division_truncates_as_c():
    big = 2 ** 62 + 1                      # exact: no trip through float64
    assert torch.LongTensor([-7, 7, big]).div(2).tolist() == [-3, 3, 2 ** 61]
    assert torch.LongTensor([-7, 7]).cdiv(torch.LongTensor([2, -2])).tolist() == [-3, -3]
    assert (torch.LongTensor([-7, 7, big]) / 2).tolist() == [-3, 3, 2 ** 61]
    assert (torch.LongTensor([-7, 7]) / torch.LongTensor([[2], [-2]])).tolist() == [[-3, 3], [3, -3]]
    assert torch.IntTensor().div(torch.IntTensor([9]), 2).tolist() == [4]
    for f in (lambda: torch.LongTensor([1]).div(0), lambda: torch.LongTensor([1]).cdiv(torch.LongTensor([0])),
              lambda: torch.LongTensor([1]) / 0):
        with pytest.raises(ZeroDivisionError, match='integer division by zero'):
            f()


def test_scalars_convert_to_the_element_type_as_c():
    assert torch.LongTensor([3]).mul(0.5).tolist() == [0]          # 0.5 -> 0
    assert torch.ByteTensor([1]).add(-1).tolist() == [0]           # -1 -> 255, 1 + 255 wraps to 0
    assert torch.ByteTensor(1).fill(257).tolist() == [1]
    assert torch.LongTensor([1, 5]).clamp(0.5, 3.5).tolist() == [1, 3]
    assert torch.LongTensor([[1]]).addmm(2.5, torch.LongTensor([[2]]), torch.LongTensor([[3]])).tolist() == [[13]]
    assert torch.LongTensor([3]).add(torch.DoubleTensor([0.5])).tolist() == [3]


def test_fill_zero_copy(device):
    x = T([[1, 2], [3, 4]], device)
    assert x.fill(3) is x and x.tolist() == [[3, 3], [3, 3]]
    assert x.zero() is x and x.tolist() == [[0, 0], [0, 0]]
    assert x.copy(T([[1, 2], [3, 4]], device, 'Int')) is x and x.tolist() == [[1, 2], [3, 4]]
    assert x.copy(T([5, 6, 7, 8], device, 'Float')).tolist() == [[5, 6], [7, 8]]   # same element count
    assert x.t().copy(T([[1, 2], [3, 4]], device)) is not None and x.tolist() == [[1, 3], [2, 4]]
    with pytest.raises(ValueError, match=r'copy: size mismatch, the destination torch.*Tensor has size 2x2 '
                                         r'\(4 elements\), the source torch.*IntTensor has size 3'):
        x.copy(T([1, 2, 3], device, 'Int'))


def test_copy_across_types():
    assert torch.FloatTensor(2).copy(torch.DoubleTensor([1.5, 2.5])).tolist() == [1.5, 2.5]
    assert torch.IntTensor(2).copy(torch.DoubleTensor([1.9, -1.9])).tolist() == [1, -1]
    assert torch.ByteTensor(2).copy(torch.LongTensor([1, 300])).tolist() == [1, 44]   # wraps as C
    assert torch.Tensor(2).copy(np.array([1, 2])).tolist() == [1, 2]


def test_setitem_numpy_scalars_take_numbers_only():
    # any np.generic went to numpy as it was: np.str_('3') stored 3.0, np.complex128 lost its imaginary part
    x = torch.DoubleTensor([1, 2])
    for bad in (np.str_('3'), np.bytes_(b'4')):
        with pytest.raises(TypeError, match=r'assignment: expected a number, a tensor or numbers for a '
                                            r'torch\.DoubleTensor, got'):
            x[0] = bad
    with pytest.raises(ValueError, match='assignment: expected numbers for a torch.DoubleTensor, got values of '
                                         'dtype complex128'):
        x[0] = np.complex128(1 + 2j)
    assert x.tolist() == [1, 2]
    x[0], x[1] = np.float32(2.5), np.bool_(True)
    assert x.tolist() == [2.5, 1]


def test_copy_from_values_takes_numbers_only():
    # numpy stored None as NaN, parsed '1' as 1.0 and dropped an imaginary part
    for bad in ([None, 1], ['1', '2'], np.array([1 + 2j, 0])):
        with pytest.raises(ValueError, match='copy: expected a tensor or numbers for the torch.DoubleTensor'):
            torch.DoubleTensor(2).copy(bad)
    assert torch.ByteTensor(2).copy([-1, 300]).tolist() == [255, 44]


@pytest.mark.gpu
def test_copy_between_devices():
    c = torch.CudaTensor(2).copy(torch.DoubleTensor([1.5, 2.5]))
    assert c.type() == 'torch.CudaTensor' and c.tolist() == [1.5, 2.5]
    assert torch.DoubleTensor(2).copy(c).tolist() == [1.5, 2.5]
    assert c.double().type() == 'torch.DoubleTensor' and c.cuda() is c
    assert torch.Tensor([1, 2]).cuda().type() == 'torch.CudaTensor'


@pytest.mark.gpu
def test_every_cutorch_converter_exists():
    # cutorch's Tensor.lua gives every type all of float() ... long(), cuda(), cudaDouble(), cudaByte(), cudaChar(),
    # cudaInt(), cudaShort(), cudaLong(); cudaChar and cudaShort were missing
    x = torch.DoubleTensor([-1.5, 100.7])       # (in range: a GPU's out-of-range conversions are its own)
    assert x.cudaChar().type() == 'torch.CudaCharTensor' and x.cudaChar().tolist() == [-1, 100]
    assert x.cudaShort().type() == 'torch.CudaShortTensor' and x.cudaShort().tolist() == [-1, 100]
    c = x.cudaShort()
    assert c.cudaShort() is c and c.cudaChar().short().type() == 'torch.ShortTensor'


# -- matrix products -----------------------------------------------------------------------------------------
def test_addmm_forms(device):
    A = T([[1, 2, 3], [4, 5, 6]], device)
    B = T([[1, 0], [0, 1], [1, 1]], device)       # A @ B = [[4, 5], [10, 11]]
    M = lambda: T([[1, 1], [1, 1]], device)        # noqa: E731
    m = M()
    assert m.addmm(A, B) is m and m.tolist() == [[5, 6], [11, 12]]                 # M += A @ B
    assert M().addmm(3, A, B).tolist() == [[13, 16], [31, 34]]                     # M += 3 * A @ B
    assert M().addmm(0.5, 3, A, B).tolist() == [[12.5, 15.5], [30.5, 33.5]]        # M = 0.5 M + 3 A @ B
    res = type(A)()
    assert res.addmm(M(), A, B) is res and res.tolist() == [[5, 6], [11, 12]]      # res = M + A @ B
    assert res.addmm(2, M(), 3, A, B).tolist() == [[14, 17], [32, 35]]             # res = 2 M + 3 A @ B
    assert res.addmm(0, M(), 1, A, B).tolist() == [[4, 5], [10, 11]]
    with pytest.raises(ValueError, match=r'addmm: size mismatch, m1: \[2 x 3\], m2: \[2 x 3\]'):
        M().addmm(A, A)
    with pytest.raises(ValueError, match='addmm: self has size 3x3, expected 2x2'):
        type(A)(3, 3).addmm(A, B)
    with pytest.raises(ValueError, match='addmm: M has size 3, expected 2x2'):
        res.addmm(T([1, 2, 3], device), A, B)
    with pytest.raises(ValueError, match='expected a 2-D tensor'):
        M().addmm(T([1, 2, 3], device), B)


def test_addmv_addr(device):
    A = T([[1, 2, 3], [4, 5, 6]], device)
    v = T([1, 1, 1], device)
    y = T([1, 1], device)
    assert y.addmv(A, v) is y and y.tolist() == [7, 16]
    assert T([1, 1], device).addmv(2, 3, A, v).tolist() == [20, 47]
    assert type(A)().addmv(2, T([1, 1], device), 3, A, v).tolist() == [20, 47]
    with pytest.raises(ValueError, match=r'addmv: size mismatch, mat: \[2 x 3\], vec: \[2\]'):
        y.addmv(A, y)
    m = T([[1, 1], [1, 1]], device)
    assert m.addr(T([1, 2], device), T([3, 4], device)) is m and m.tolist() == [[4, 5], [7, 9]]
    assert T([[1, 1], [1, 1]], device).addr(2, 3, T([1, 2], device), T([3, 4], device)).tolist() == \
        [[11, 14], [20, 26]]


def test_mm_mv_dot_ger_bmm(device):
    A = T([[1, 2, 3], [4, 5, 6]], device)
    B = T([[1, 0], [0, 1], [1, 1]], device)
    res = type(A)()
    assert res.mm(A, B) is res and res.tolist() == [[4, 5], [10, 11]]
    assert A.mm(B).tolist() == [[4, 5], [10, 11]]           # one argument: a new tensor
    assert A.mv(T([1, 1, 1], device)).tolist() == [6, 15]
    assert T([1, 2, 3], device).dot(T([4, 5, 6], device)) == 32
    assert T([1, 2], device).ger(T([3, 4], device)).tolist() == [[3, 4], [6, 8]]
    b = A.view(1, 2, 3).bmm(B.view(1, 3, 2))
    assert b.size() == (1, 2, 2) and b[0].tolist() == [[4, 5], [10, 11]]
    with pytest.raises(ValueError, match=r'mm: size mismatch, m1: \[2 x 3\], m2: \[2 x 3\]'):
        A.mm(A)
    with pytest.raises(ValueError, match='dot: size mismatch'):
        A.dot(B.narrow(0, 0, 1))


# -- operators: new tensors, numpy broadcasting ---------------------------------------------------------------
def test_arithmetic_operators(device):
    x, y = T([1, 2], device), T([3, 4], device)
    for r, want in [(x + y, [4, 6]), (x - y, [-2, -2]), (x * y, [3, 8]), (x / y, [1 / 3, 0.5]),
                    (x + 1, [2, 3]), (1 + x, [2, 3]), (1 - x, [0, -1]), (2 * x, [2, 4]), (1 / x, [1, 0.5]),
                    (x ** 2, [1, 4]), (2 ** x, [2, 4]), (-x, [-1, -2]), (abs(-x), [1, 2])]:
        assert r.type() == x.type() and r.tolist() == pytest.approx(want)
    assert x.tolist() == [1, 2] and y.tolist() == [3, 4]       # unchanged
    col = T([[10], [20]], device)
    assert (x + col).tolist() == [[11, 12], [21, 22]]          # broadcasting
    assert (x * col).size() == (2, 2)
    with pytest.raises(ValueError, match='cannot broadcast'):
        x + T([1, 2, 3], device)


def test_matmul_operator(device):
    A = T([[1, 2], [3, 4]], device)
    v = T([1, 1], device)
    assert (A @ A).tolist() == [[7, 10], [15, 22]]
    assert (A @ v).tolist() == [3, 7]
    assert v @ v == 2                       # vector . vector is a number, as dot()


def test_inplace_operators(device):
    x = T([1, 2], device)
    ref = x
    x += T([1, 1], device)
    x -= 1
    x *= 4
    x /= 2
    assert x is ref and x.tolist() == [2, 4]
    x *= T([2, 3], device)
    assert x is ref and x.tolist() == [4, 12]


def test_comparison_operators_give_byte_tensors(device):
    x = T([1, 2, 3], device)
    byte = 'torch.ByteTensor' if device == 'cpu' else 'torch.CudaByteTensor'
    for r, want in [(x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0]), (x > 2, [0, 0, 1]), (x >= 2, [0, 1, 1]),
                    (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1]), (2 < x, [0, 0, 1]),
                    (x == T([1, 0, 3], device), [1, 0, 1])]:
        assert r.type() == byte and r.tolist() == want
    assert (x == None) is False  # noqa: E711


def test_comparison_methods(device):
    x, y = T([1, 2, 3], device), T([3, 2, 1], device)
    assert x.lt(2).tolist() == [1, 0, 0] and x.lt(y).tolist() == [1, 0, 0]
    assert x.le(2).tolist() == [1, 1, 0] and x.le(y).tolist() == [1, 1, 0]
    assert x.gt(2).tolist() == [0, 0, 1] and x.gt(y).tolist() == [0, 0, 1]
    assert x.ge(2).tolist() == [0, 1, 1] and x.ge(y).tolist() == [0, 1, 1]
    assert x.eq(2).tolist() == [0, 1, 0] and x.eq(y).tolist() == [0, 1, 0]
    assert x.ne(2).tolist() == [1, 0, 1] and x.ne(y).tolist() == [1, 0, 1]
    assert x.gt(2).type().endswith('ByteTensor')
    assert x.equal(T([1, 2, 3], device)) and not x.equal(y) and not x.equal(T([1, 2], device))


# -- reductions ----------------------------------------------------------------------------------------------
X = [[1, 5, 3], [4, 2, 6]]


def test_reductions_over_all_give_numbers(device):
    x = T(X, device)
    assert x.sum() == 21 and isinstance(x.sum(), float)
    assert x.mean() == 3.5
    assert x.max() == 6 and x.min() == 1
    assert x.prod() == 720
    assert x.var() == pytest.approx(3.5) and x.std() == pytest.approx(math.sqrt(3.5))
    assert x.var(True) == pytest.approx(35 / 12)                 # flag: divide by n
    assert x.norm() == pytest.approx(math.sqrt(91)) and x.norm(1) == 21
    assert x.norm(3) == pytest.approx(sum(v ** 3 for r in X for v in r) ** (1 / 3))
    assert x.dist(T([[1, 5, 3], [4, 2, 2]], device)) == pytest.approx(4)
    assert torch.IntTensor([1, 2]).sum() == 3 and isinstance(torch.IntTensor([1, 2]).sum(), int)
    assert torch.ByteTensor([200, 200]).sum() == 400
    assert x.trace() == 3


def test_reductions_over_a_dim_keep_it(device):
    x = T(X, device)
    assert x.sum(0).tolist() == [[5, 7, 9]] and x.sum(1).tolist() == [[9], [12]]
    assert x.sum(-1).size() == (2, 1)
    assert x.mean(0).tolist() == [[2.5, 3.5, 4.5]]
    assert x.prod(1).tolist() == [[15], [48]]
    assert x.var(1).tolist() == [[4], [4]] and x.std(1).tolist() == [[2], [2]]
    assert x.std(0, True).tolist() == [[1.5, 1.5, 1.5]]
    assert close(x.norm(2, 1), [[math.sqrt(35)], [math.sqrt(56)]])
    assert x.norm(1, 0).tolist() == [[5, 7, 9]]
    with pytest.raises(IndexError, match='dimension 2 out of range'):
        x.sum(2)


def test_max_min_over_a_dim_give_values_and_0_based_indices(device):
    x = T(X, device)
    vals, idx = x.max(1)
    assert vals.tolist() == [[5], [6]] and idx.tolist() == [[1], [2]]
    assert idx.type() == ('torch.LongTensor' if device == 'cpu' else 'torch.CudaLongTensor')
    vals, idx = x.min(0)
    assert vals.tolist() == [[1, 2, 3]] and idx.tolist() == [[0, 1, 0]]
    assert x.max(T([[2, 2, 2], [2, 2, 2]], device)).tolist() == [[2, 5, 3], [4, 2, 6]]   # Torch7's x:max(y)
    with pytest.raises(ValueError, match='empty'):
        type(x)().max()


def test_cumsum_cumprod(device):
    x = T(X, device)
    assert x.cumsum(1).tolist() == [[1, 6, 9], [4, 6, 12]]
    assert x.cumsum().tolist() == [[1, 5, 3], [5, 7, 9]]          # default: the first dim, as Torch7
    assert x.cumprod(1).tolist() == [[1, 5, 15], [4, 8, 48]]
    assert x.tolist() == X                                         # a new tensor


def test_sort(device):
    x = T(X, device)
    vals, idx = x.sort()                                          # default: the last dim, ascending
    assert vals.tolist() == [[1, 3, 5], [2, 4, 6]] and idx.tolist() == [[0, 2, 1], [1, 0, 2]]
    vals, idx = x.sort(0)
    assert vals.tolist() == [[1, 2, 3], [4, 5, 6]] and idx.tolist() == [[0, 1, 0], [1, 0, 1]]
    vals, idx = x.sort(1, True)
    assert vals.tolist() == [[5, 3, 1], [6, 4, 2]] and idx.tolist() == [[1, 2, 0], [2, 0, 1]]
    assert x.sort(True)[0].tolist() == [[5, 3, 1], [6, 4, 2]]
    assert x.tolist() == X


def test_topk_default_is_smallest_as_torch7(device):
    x = T([5, 1, 4, 2, 3], device)
    vals, idx = x.topk(2)
    assert vals.tolist() == [1, 2] and idx.tolist() == [1, 3]
    vals, idx = x.topk(2, 0, True)                                 # dir=True: the largest
    assert vals.tolist() == [5, 4] and idx.tolist() == [0, 2]
    vals, idx = T(X, device).topk(1)
    assert vals.tolist() == [[1], [2]] and idx.tolist() == [[0], [1]]
    with pytest.raises(ValueError, match='topk: k=6 out of range'):
        x.topk(6)


UNARY = {
    'abs': [1.5, 0.5, 2.5],
    'sign': [-1, 1, 1],
    'exp': [math.exp(-1.5), math.exp(0.5), math.exp(2.5)],
    'sigmoid': [1 / (1 + math.exp(1.5)), 1 / (1 + math.exp(-0.5)), 1 / (1 + math.exp(-2.5))],
    'tanh': [math.tanh(-1.5), math.tanh(0.5), math.tanh(2.5)],
    'floor': [-2, 0, 2],
    'ceil': [-1, 1, 3],
    'round': [-2, 1, 3],                 # half away from zero, as C's round (numpy rounds half to even)
    'neg': [1.5, -0.5, -2.5],
    'trunc': [-1, 0, 2],
    'frac': [-0.5, 0.5, 0.5],
}


@pytest.mark.parametrize('name', sorted(UNARY))
def test_unary_in_place_and_result_forms(device, name):
    x = T([-1.5, 0.5, 2.5], device)
    assert getattr(x, name)() is x
    assert x.tolist() == pytest.approx(UNARY[name])
    src = T([-1.5, 0.5, 2.5], device)
    res = type(src)()
    assert getattr(res, name)(src) is res and res.tolist() == pytest.approx(UNARY[name])
    assert src.tolist() == [-1.5, 0.5, 2.5]


def test_unary_on_positive_values(device):
    x = T([1, 4, math.e], device)
    assert x.clone().log().tolist() == pytest.approx([0, math.log(4), 1])
    assert x.clone().log1p().tolist() == pytest.approx([math.log(2), math.log(5), math.log1p(math.e)])
    assert x.clone().sqrt().tolist() == pytest.approx([1, 2, math.sqrt(math.e)])
    assert x.clone().rsqrt().tolist() == pytest.approx([1, 0.5, 1 / math.sqrt(math.e)])
    assert x.clone().cinv().tolist() == pytest.approx([1, 0.25, 1 / math.e])
    assert x.clone().pow(2).tolist() == pytest.approx([1, 16, math.e ** 2])
    assert type(x)().pow(T([1, 2, 3], device), 2).tolist() == [1, 4, 9]
    assert T([-1, 0.5, 2], device).clamp(0, 1).tolist() == [0, 0.5, 1]
    assert type(x)().clamp(T([-1, 0.5, 2], device), 0, 1).tolist() == [0, 0.5, 1]
    assert T([-1, 0.5, 2], device).clamp(None, 1).tolist() == [-1, 0.5, 1]


def test_unary_on_integer_types():
    assert torch.LongTensor([-1, 2]).abs().tolist() == [1, 2]
    assert torch.LongTensor([-3, 0, 2]).sign().tolist() == [-1, 0, 1]
    assert torch.LongTensor([1, -2]).round().tolist() == [1, -2]       # identity on integers
    assert torch.LongTensor([-1, 5, 2]).clamp(0, 3).tolist() == [0, 3, 2]
    with pytest.raises(TypeError, match='exp: defined for floating-point tensors only'):
        torch.LongTensor([1]).exp()


def test_float32_results_stay_float32():
    x = torch.FloatTensor([0.0, 1.0]).sigmoid()
    assert x.numpy().dtype == np.float32
    assert x.tolist() == pytest.approx([0.5, 1 / (1 + math.exp(-1))], rel=1e-6)
    assert (torch.FloatTensor([1]) * torch.DoubleTensor([1])).type() == 'torch.FloatTensor'  # left operand's type
    assert torch.FloatTensor(2, 2).fill(1).addmm(torch.FloatTensor([[1, 2], [3, 4]]),
                                                 torch.FloatTensor([[1, 0], [0, 1]])).numpy().dtype == np.float32


# -- masks, indices, gather/scatter ---------------------------------------------------------------------------
def byte(values, device):
    return torch.ByteTensor(values) if device == 'cpu' else torch.CudaByteTensor(values)


def long(values, device):
    return torch.LongTensor(values) if device == 'cpu' else torch.CudaLongTensor(values)


def test_masked(device):
    m = byte([[1, 0, 1], [0, 0, 1]], device)
    x = T(X, device)
    assert x.maskedFill(m, 0) is x and x.tolist() == [[0, 5, 0], [4, 2, 0]]
    assert T(X, device).maskedSelect(m).tolist() == [1, 3, 6]
    assert T(X, device).maskedCopy(m, T([7, 8, 9], device)).tolist() == [[7, 5, 8], [4, 2, 9]]
    assert T(X, device).maskedFill(byte([1, 0, 1, 0, 0, 1], device), -1).tolist() == [[-1, 5, -1], [4, 2, -1]]
    with pytest.raises(TypeError, match='expected a ByteTensor mask'):
        x.maskedFill(T([[1, 0, 1], [0, 0, 1]], device), 0)


def test_index_functions(device):
    x = T(X, device)
    assert x.indexSelect(1, long([2, 0], device)).tolist() == [[3, 1], [6, 4]]
    assert x.index(0, long([1, 1], device)).tolist() == [[4, 2, 6], [4, 2, 6]]
    y = T(X, device)
    assert y.indexCopy(1, long([2, 0], device), T([[10, 20], [30, 40]], device)) is y
    assert y.tolist() == [[20, 5, 10], [40, 2, 30]]
    assert T(X, device).indexFill(1, long([2, 0], device), -1).tolist() == [[-1, 5, -1], [-1, 2, -1]]
    assert T(X, device).indexAdd(0, long([0, 0], device), T([[1, 1, 1], [1, 1, 1]], device)).tolist() == \
        [[3, 7, 5], [4, 2, 6]]
    with pytest.raises(IndexError, match=r'index out of range for dim 0 of size 2 \(got indices from 2 to 2; '
                                         r'they are 0-based\)'):
        x.index(0, long([2], device))
    with pytest.raises(IndexError, match='index out of range'):
        x.indexFill(1, long([-1], device), 0)


@pytest.mark.parametrize('dtype', ['Byte', 'Char', 'Short', 'Int', 'Long', 'Float'])
def test_indexAdd_every_type(device, dtype):
    # CuPy's scatter_add has no 8/16-bit or int64 atomics: those types take another road on the GPU
    y = T([[1, 2], [3, 4]], device, dtype)
    y.indexAdd(0, long([1, 1, 0], device), T([[100, 120], [90, 100], [7, 7]], device, dtype))
    want = np.array([[8, 9], [193, 224]])
    if dtype == 'Byte':
        want %= 256
    elif dtype == 'Char':
        want = (want + 128) % 256 - 128
    assert y.tolist() == want.tolist()


def test_gather_scatter(device):
    x = T(X, device)
    g = x.gather(1, long([[2, 0], [1, 1]], device))
    assert g.tolist() == [[3, 1], [2, 2]]
    assert x.gather(0, long([[1, 0, 1]], device)).tolist() == [[4, 5, 6]]
    z = T([[0, 0, 0], [0, 0, 0]], device)
    assert z.scatter(1, long([[2], [0]], device), T([[7], [8]], device)) is z
    assert z.tolist() == [[0, 0, 7], [8, 0, 0]]
    assert T([[0, 0], [0, 0], [0, 0]], device).scatter(0, long([[2, 1]], device), T([[7, 8]], device)).tolist() == \
        [[0, 0], [0, 8], [7, 0]]
    assert T([[0, 0, 0], [0, 0, 0]], device).scatter(1, long([[2], [0]], device), 5).tolist() == \
        [[0, 0, 5], [5, 0, 0]]
    with pytest.raises(IndexError, match='index out of range'):
        x.gather(1, long([[3], [0]], device))
    assert byte([[1, 0], [0, 1]], device).nonzero().tolist() == [[0, 0], [1, 1]]


def test_index_gather_scatter_shape_checks(device):
    # a source or an index of the wrong size raised numpy's messages, or broadcast silently (wrong values)
    x = T(X, device)
    with pytest.raises(ValueError, match=r'indexAdd: the source has size 1x3, expected 2x3'):
        x.clone().indexAdd(0, long([0, 1], device), T([[1, 1, 1]], device))
    with pytest.raises(ValueError, match=r'indexAdd: the source has size 1x2, expected 1x3'):
        x.clone().indexAdd(0, long([0], device), T([[1, 1]], device))
    with pytest.raises(ValueError, match=r'indexCopy: the source has size 1x3, expected 2x3'):
        x.clone().indexCopy(0, long([0, 1], device), T([[1, 1, 1]], device))
    with pytest.raises(TypeError, match='indexCopy: expected a source tensor, got int'):
        x.clone().indexCopy(0, long([0], device), 5)
    with pytest.raises(ValueError, match=r'gather: index has size 2x1, .* size 2x3; they must match outside dim 0'):
        x.gather(0, long([[1], [0]], device))
    with pytest.raises(ValueError, match=r'gather: index has size 3x1'):
        x.gather(1, long([[0], [0], [0]], device))
    with pytest.raises(ValueError, match=r'scatter: index has size 2x1'):
        x.clone().scatter(0, long([[1], [0]], device), 0)
    with pytest.raises(ValueError, match=r'scatter: the source has size 1x1, expected at least the index.s size 2x2'):
        x.clone().scatter(1, long([[0, 1], [0, 1]], device), T([[9]], device))
    with pytest.raises(TypeError, match='scatter: expected a source tensor or a number, got str'):
        x.clone().scatter(1, long([[0], [1]], device), 'a')
    with pytest.raises(TypeError, match='maskedCopy: expected a source tensor, got int'):
        x.clone().maskedCopy(byte([[1, 0, 1], [0, 1, 0]], device), 5)
    assert x.gather(1, long([[0, 0, 2, 2], [1, 1, 1, 1]], device)).tolist() == [[1, 1, 3, 3], [2, 2, 2, 2]]


def test_masked_index_scatter_fill_values_convert_as_c(device):
    # maskedFill / indexFill / scatter stored the number with numpy's rules: -1 or 300 in a ByteTensor raised
    # OverflowError, None became NaN and '3' became 3.0 (TH takes the value as `real`, converted as C)
    m = byte([1, 0, 1], device)
    assert T([1, 2, 3], device, 'Byte').maskedFill(m, -1).tolist() == [255, 2, 255]
    assert T([1, 2, 3], device, 'Byte').indexFill(0, long([1], device), 300).tolist() == [1, 44, 3]
    assert T([[1, 2], [3, 4]], device, 'Byte').scatter(1, long([[1], [0]], device), -2).tolist() == \
        [[1, 254], [254, 4]]
    assert T([1, 2], device, 'Int').indexFill(0, long([0], device), 2 ** 32 + 7).tolist() == [7, 2]
    assert T([1, 2], device, 'Long').maskedFill(byte([0, 1], device), -2.7).tolist() == [1, -2]
    with pytest.raises(ValueError, match='cannot store nan in a torch.*LongTensor'):
        T([1, 2], device, 'Long').maskedFill(byte([0, 1], device), float('nan'))
    for fill in (lambda x: x.maskedFill(byte([1, 0, 1], device), None),
                 lambda x: x.indexFill(0, long([0], device), '3')):
        x = T([1, 2, 3], device)
        with pytest.raises(TypeError, match='Fill: expected a number'):
            fill(x)
        assert x.tolist() == [1, 2, 3]


def test_masks_take_0_and_1_only(device):
    # TH: "Mask tensor can take 0 and 1 values only"; a 2 was read as 1.  cutorch takes any nonzero as 1
    x = T([1, 2, 3], device)
    if device == 'cuda':
        assert x.clone().maskedFill(byte([2, 0, 0], device), 9).tolist() == [9, 2, 3]
        return
    for call in (lambda: x.maskedFill(byte([2, 0, 0], device), 9), lambda: x.maskedSelect(byte([0, 0, 7], device)),
                 lambda: x.maskedCopy(byte([1, 2, 0], device), T([7, 8, 9], device))):
        with pytest.raises(ValueError, match=r'masked\w+: the mask holds \d; a mask takes 0 and 1 values only'):
            call()
    assert x.tolist() == [1, 2, 3]


def test_gather_scatter_out_of_range_names_the_indices(device):
    x = T(X, device)
    with pytest.raises(IndexError, match=r'gather: index out of range for dim 1 of size 3 \(got indices from 0 to 3; '
                                         r'they are 0-based\)'):
        x.gather(1, long([[3], [0]], device))
    with pytest.raises(IndexError, match=r'scatter: .* dim 0 of size 2 \(got indices from -1 to 1; they are 0'):
        x.scatter(0, long([[-1, 1, 0]], device), 0)


@pytest.mark.gpu
def test_index_and_source_tensors_from_the_other_device():
    # an index or source on the other device reached numpy/CuPy as it was: CuPy's "Unsupported type" or
    # "Implicit conversion" errors (indices for index/indexAdd already moved; now gather/scatter's and every source)
    x, cx = T(X), T(X, 'cuda')
    assert x.gather(1, long([[2], [0]], 'cuda')).tolist() == [[3], [4]]
    assert x.clone().scatter(1, long([[2], [0]], 'cuda'), T([[7], [8]], 'cuda')).tolist() == [[1, 5, 7], [8, 2, 6]]
    assert cx.clone().scatter(1, long([[2], [0]], 'cpu'), T([[7], [8]])).tolist() == [[1, 5, 7], [8, 2, 6]]
    assert x.clone().indexCopy(0, long([1], 'cpu'), T([[7, 8, 9]], 'cuda')).tolist() == [[1, 5, 3], [7, 8, 9]]
    assert x.clone().indexAdd(0, long([1], 'cpu'), T([[7, 8, 9]], 'cuda')).tolist() == [[1, 5, 3], [11, 10, 15]]
    assert cx.clone().indexAdd(0, long([1], 'cpu'), T([[7, 8, 9]])).tolist() == [[1, 5, 3], [11, 10, 15]]
    assert x.clone().maskedCopy(byte([[1, 0, 0], [0, 0, 1]], 'cpu'), T([7, 8], 'cuda')).tolist() == \
        [[7, 5, 3], [4, 2, 8]]


def test_apply_map_write_each_value_before_the_next_call():
    # TH_TENSOR_APPLY writes fn's value at once, so later calls see it; all values were written at the end, after
    # every call had read the old ones (an expanded counter stayed 1, a running-sum map gave pairwise sums, and a
    # write fn made to the tensor was overwritten by the stale values)
    x = torch.zeros(1).expand(3)
    x.apply(lambda v: v + 1)
    assert x.tolist() == [3, 3, 3] and x.storage().tolist() == [3]
    t = torch.Tensor([1, 1, 1, 1])
    t.narrow(0, 1, 3).map(t.narrow(0, 0, 3), lambda a, b: a + b)
    assert t.tolist() == [1, 2, 3, 4]
    y = torch.Tensor([1, 2, 3])

    def fn(v):
        y[2] = 100
        return v
    y.apply(fn)
    assert y.tolist() == [1, 2, 100]
    z = torch.range(1, 6).view(2, 3).t()                # non-contiguous: Torch7's order, written through
    z.map2(torch.range(1, 6), torch.ones(6), lambda a, b, c: a * 10 + b + c)
    assert z.tolist() == [[12, 43], [24, 55], [36, 67]] and z.storage().tolist() == [12, 24, 36, 43, 55, 67]
    b = torch.LongTensor([1])
    b.apply(lambda v: 2 ** 63 + 5)                      # wraps as C's conversion, as 300 in a ByteTensor does
    assert b.tolist() == [-2 ** 63 + 5]


def test_sub_names_bounds_that_are_not_integers():
    # numpy's "slice indices must be integers" and "'<' not supported between 'str' and 'int'" leaked out
    x = torch.range(1, 6).view(2, 3)
    for bounds in ((0, 1.0), (0, '1'), (0, 1, None, 2)):
        with pytest.raises(TypeError, match=r'sub: expected integer bounds, got \(0, '):
            x.sub(*bounds)
    assert x.sub(0, -1, -2, -1).tolist() == [[2, 3], [5, 6]]


def test_index_lists_hold_ints_only():
    # a list was cast to int64 as it came: [0.7] picked row 0, ['1'] row 1 and None leaked int()'s message
    x = torch.Tensor([[1, 2], [3, 4]])
    for bad in ([0.7], ['1'], [True], None):
        with pytest.raises(TypeError, match='index: expected a LongTensor or ints'):
            x.index(0, bad)
    with pytest.raises(TypeError, match='indexFill: expected a LongTensor or ints'):
        x.indexFill(1, [1.5], 0)
    assert x.index(1, [1, 0]).tolist() == [[2, 1], [4, 3]] and x.index(0, np.array([1])).tolist() == [[3, 4]]
    assert x.index(0, []).tolist() == []


def test_bad_argument_types_raise_clear_errors():
    # numpy's / Python's own messages (UFuncTypeError, AttributeError, AxisError, "slice indices must be
    # integers") leaked out, and pow(None) filled the tensor with NaN
    x = torch.range(1, 6).view(2, 3)
    for bad in (None, 'a', [1, 2], torch.Tensor([1, 2, 3])):
        with pytest.raises(TypeError, match='mul: expected a number'):
            x.clone().mul(bad)
        with pytest.raises(TypeError, match='pow: expected a number'):
            x.clone().pow(bad)
    for bad in (None, 'a', [1, 2]):
        with pytest.raises(TypeError, match='div: expected a number'):
            x.clone().div(bad)
    with pytest.raises(TypeError, match='clamp: expected a number'):
        x.clone().clamp('a', 2)
    with pytest.raises(TypeError, match='mul: expected a number, got str'):
        x.clone().mul(x, 'a')
    with pytest.raises(TypeError, match='mul: expected a tensor, got int'):
        x.clone().mul(5, x)
    with pytest.raises(TypeError, match='narrow: expected integer start and length'):
        x.narrow(1, 0.5, 1)
    with pytest.raises(TypeError, match='select: expected an integer index, got str'):
        x.select(0, 'a')
    with pytest.raises(TypeError, match='topk: k should be an integer, got 1.5'):
        x.topk(1.5)
    with pytest.raises(IndexError, match='dimension 2 out of range'):
        x.permute(1, 2)
    with pytest.raises(IndexError, match='dimension -3 out of range'):
        x.permute(0, -3)
    assert x.permute(-1, 0).size() == (3, 2)
    assert x.clone().mul(np.float32(2)).tolist() == [[2, 4, 6], [8, 10, 12]]


def test_setitem_with_index_tensor_is_range_checked_like_getitem():
    x = torch.range(1, 6).view(2, 3)
    with pytest.raises(IndexError, match=r'assignment: index out of range for dim 0 of size 2 \(got indices from -1'):
        x[torch.LongTensor([-1])] = 0
    with pytest.raises(IndexError, match=r'assignment: index out of range for dim 0 of size 2 \(got indices from 5'):
        x[[5]] = 0
    assert x.tolist() == [[1, 2, 3], [4, 5, 6]]
    x[torch.LongTensor([1])] = 0
    x[[0]] = torch.Tensor([[7, 8, 9]])
    assert x.tolist() == [[7, 8, 9], [0, 0, 0]]


def test_integer_pow_negative_exponent_and_reflected_division():
    # numpy refused ("Integers to negative integer powers are not allowed"); Torch7 takes C's double pow and
    # truncates.  7 / x with a zero in an integer x gave a garbage integer (inf converted)
    L = torch.LongTensor
    assert L([2, 1, -1, -3]).pow(-1).tolist() == [0, 1, -1, 0]
    assert L([2, 1, -1]).pow(-2).tolist() == [0, 1, 1]
    assert L([0, 2, -1]).cpow(L([1, -2, -3])).tolist() == [0, 0, -1]
    assert L(3).pow(2, L([-1, 3, 10])).tolist() == [0, 8, 1024]
    assert L([3]).pow(39).tolist() == [3 ** 39]
    for f in (lambda: L([0]).pow(-1), lambda: L([0, 2]).cpow(L([-1, 1])), lambda: L(2).pow(0, L([1, -1]))):
        with pytest.raises(ZeroDivisionError, match='0 raised to a negative power'):
            f()
    assert (7 / L([2, -2])).tolist() == [3, -3]
    with pytest.raises(ZeroDivisionError, match='integer division by zero'):
        7 / L([1, 0])


# -- types ---------------------------------------------------------------------------------------------------
def test_type_switching():
    x = torch.Tensor([[1.7, -1.7], [255, 0]])
    assert x.type('torch.DoubleTensor') is x and x.double() is x
    f = x.type('torch.FloatTensor')
    assert f.type() == 'torch.FloatTensor' and close(f, [[1.7, -1.7], [255, 0]])
    assert f.float() is f and x.float().storage() is not x.storage()
    assert x.long().tolist() == [[1, -1], [255, 0]] and x.long().type() == 'torch.LongTensor'
    assert x.int().type() == 'torch.IntTensor' and x.int().tolist() == [[1, -1], [255, 0]]
    assert x.byte().type() == 'torch.ByteTensor' and x.byte()[1].tolist() == [255, 0]
    assert x.short().type() == 'torch.ShortTensor' and x.char().type() == 'torch.CharTensor'
    assert x.type('FloatTensor').type() == 'torch.FloatTensor'
    assert x.typeAs(torch.IntTensor()).type() == 'torch.IntTensor'
    assert close(x.t().float(), [[1.7, 255], [-1.7, 0]])     # non-contiguous source
    assert x.cpu() is x
    assert isinstance(f, torch.FloatTensor) and isinstance(f, torch.Tensor)
    with pytest.raises(ValueError, match="unknown tensor type 'torch.FooTensor'; expected one of: torch.ByteTensor"):
        x.type('torch.FooTensor')


def test_default_tensor_type(restore_default_type):
    assert torch.getdefaulttensortype() == 'torch.DoubleTensor'
    torch.setdefaulttensortype('torch.FloatTensor')
    assert torch.getdefaulttensortype() == 'torch.FloatTensor'
    assert torch.Tensor(2).type() == 'torch.FloatTensor'
    assert torch.Tensor([1]).type() == 'torch.FloatTensor'
    assert isinstance(torch.Tensor(1), torch.FloatTensor)
    assert torch.zeros(2).type() == 'torch.FloatTensor' and torch.rand(2).type() == 'torch.FloatTensor'
    assert torch.DoubleTensor(1).type() == 'torch.DoubleTensor'
    with pytest.raises(ValueError, match='setdefaulttensortype: expected'):
        torch.setdefaulttensortype('torch.IntTensor')
    with pytest.raises(ValueError, match='unknown tensor type'):
        torch.setdefaulttensortype('torch.Nope')


# -- random fills: Torch7's stream -------------------------------------------------------------------------
def test_rand_follows_torch7_stream():
    torch.manualSeed(1)
    assert torch.rand(5).tolist() == [0.41702199843712151, 0.99718480813317001, 0.72032448928803205,
                                      0.93255736120045185, 0.00011438108049333096]


def test_randn_follows_torch7_stream():
    torch.manualSeed(1)
    assert torch.randn(5).tolist() == [-2.9718290309304063, 1.7069510634116105, -0.43049897103891599,
                                       -2.2820224170301482, 0.52365734937443909]


def test_random_fill_methods_use_the_global_stream(device):
    torch.manualSeed(1)
    a = T([0, 0, 0, 0, 0], device).uniform()
    torch.manualSeed(1)
    assert a.tolist() == pytest.approx(torch.rand(5).tolist())
    torch.manualSeed(1)
    u = torch.Tensor(2, 2).uniform(-1, 1)
    assert close(u, [[2 * v - 1 for v in r] for r in [[0.41702199843712151, 0.99718480813317001],
                                                       [0.72032448928803205, 0.93255736120045185]]])
    torch.manualSeed(1)
    n = torch.Tensor(5).normal(1, 2)
    assert n.tolist() == pytest.approx([1 + 2 * v for v in [-2.9718290309304063, 1.7069510634116105,
                                                             -0.43049897103891599, -2.2820224170301482,
                                                             0.52365734937443909]])
    b = torch.Tensor(100).bernoulli(0.5)
    assert set(b.tolist()) <= {0.0, 1.0}
    torch.manualSeed(7)
    r1 = torch.Tensor(6).uniform().tolist()
    torch.manualSeed(7)
    assert torch.Tensor(6).uniform().tolist() == r1


# -- printing --------------------------------------------------------------------------------------------------
def test_printing_is_torch7_text():
    # Lua's tostring(x), which ends with a newline after the footer
    assert str(torch.Tensor(2, 3).fill(1)) == ' 1  1  1\n 1  1  1\n[torch.DoubleTensor of size 2x3]\n'
    assert repr(torch.FloatTensor([1.5, -2])) == ' 1.5000\n-2.0000\n[torch.FloatTensor of size 2]\n'
    assert str(torch.LongTensor([[1, 20]]).t()) == '  1\n 20\n[torch.LongTensor of size 2x1]\n'
    assert str(torch.Tensor()) == '[torch.DoubleTensor with no dimension]\n'


def test_resize_to_no_sizes_is_empty():
    # Torch7's x:resize() / torch.zeros(res) with no sizes leave an empty tensor (0 elements, no dims); it used to be
    # a 0-d tensor of one element
    for t in (torch.Tensor(3).fill(1).resize(), torch.Tensor(3).resize(()), torch.zeros(torch.Tensor(3)),
              torch.LongTensor(2, 2).resize(torch.LongStorage())):
        assert t.nElement() == 0 and t.dim() == 0 and t.numpy().shape == (0,)


def test_integer_elements_convert_as_c_and_refuse_nan():
    # x[i] = v converts as Torch7's C does (numpy raised OverflowError for 300 in a ByteTensor), as fill does; NaN
    # and inf have no integer value (int() leaked "cannot convert float NaN to integer")
    b = torch.ByteTensor(3).zero()
    b[0], b[1], b[2] = 300, -1, 2.9
    assert b.tolist() == [44, 255, 2]
    assert torch.ByteTensor(2).fill(300).tolist() == [44, 44]
    i = torch.IntTensor(2).zero()
    for f in (lambda: i.fill(math.nan), lambda: i.add(math.inf), lambda: i.__setitem__(0, -math.inf)):
        with pytest.raises(ValueError, match=r'cannot store -?(nan|inf) in a torch.IntTensor: its elements are integers'):
            f()
    assert i.tolist() == [0, 0]
    f = torch.FloatTensor(1)
    f[0] = math.nan
    assert math.isnan(f[0])


def test_sort_descending_keeps_the_most_negative_integer_last():
    # -x overflows for the type's minimum (-(-128) is -128 in a CharTensor): it sorted first, before 127
    vals, idx = torch.CharTensor([-128, 5, 3, 127]).sort(0, True)
    assert vals.tolist() == [127, 5, 3, -128] and idx.tolist() == [3, 1, 2, 0]
    lo = int(np.iinfo(np.int64).min)
    assert torch.LongTensor([lo, 0, 3]).sort(0, True)[0].tolist() == [3, 0, lo]
    assert torch.LongTensor([lo, 0, 3]).topk(1, 0, True)[0].tolist() == [3]
    assert torch.IntTensor([2, -1, 2]).sort(0, True)[1].tolist() == [0, 2, 1]      # ties stay in order


def test_sign_of_nan_is_zero_as_torch7():
    # THTensor_(sign): x > 0 ? 1 : (x < 0 ? -1 : 0); numpy's sign kept the NaN
    assert torch.DoubleTensor([math.nan, -2, 0, 3]).sign().tolist() == [0, -1, 0, 1]
    assert torch.sign(torch.FloatTensor(), torch.FloatTensor([math.nan, -0.5])).tolist() == [0, -1]
    assert torch.LongTensor([-5, 0, 9]).sign().tolist() == [-1, 0, 1]


def test_addcdiv_and_addcmul_on_integer_tensors_as_torch7():
    # TH: r += value * t1 / t2 in the tensor's type, C's truncating division (numpy's true division raised
    # UFuncTypeError into a LongTensor); value is converted to the type first (0.5 is 0 in a LongTensor)
    L = torch.LongTensor
    assert L([1, 1]).addcdiv(3, L([-7, 7]), L([2, 2])).tolist() == [-9, 11]
    assert torch.addcdiv(L(), L([1, 2]), L([-7, 7]), L([2, 2])).tolist() == [-2, 5]
    assert L([0, 0]).addcmul(0.5, L([3, 3]), L([1, 1])).tolist() == [0, 0]
    with pytest.raises(ZeroDivisionError, match='integer division by zero'):
        L([1]).addcdiv(L([1]), L([0]))
    assert torch.DoubleTensor([1]).addcdiv(0.5, torch.DoubleTensor([3]), torch.DoubleTensor([2])).tolist() == [1.75]


def test_comparison_with_a_number_converts_it_to_the_type_as_torch7():
    # TH's ltValue(Tensor, real): LongTensor{1, 2}:eq(1.5) compares with 1
    L = torch.LongTensor
    assert L([1, 2]).eq(1.5).tolist() == [1, 0]
    assert L([1, 2]).lt(1.5).tolist() == [0, 0]
    assert torch.gt(torch.ByteTensor(), L([-1, 2]), -1.5).tolist() == [0, 1]
    assert L([1, 2]).lt(math.inf).tolist() == [1, 1]
    assert torch.DoubleTensor([1, 2]).lt(1.5).tolist() == [1, 0]


def test_clamp_with_min_above_max_as_torch7():
    # TH: x < min ? min : (x > max ? max : x); numpy's clip gave max everywhere
    assert torch.DoubleTensor([0, 4, 10]).clamp(5, 3).tolist() == [5, 5, 3]
    assert torch.clamp(torch.LongTensor(), torch.LongTensor([0, 4, 10]), 5, 3).tolist() == [5, 5, 3]
    assert torch.DoubleTensor([0, 4, 10]).clamp(3, 5).tolist() == [3, 4, 5]
    assert torch.FloatTensor([-1, 5]).clamp(0, math.nan).tolist() == [0, 5]
    assert torch.FloatTensor([-1, 5]).clamp(math.nan, 2).tolist() == [-1, 2]


def test_dist_with_p_0_as_torch7():
    # THTensor_(dist): pow(sum of pow(|x - y|, 0), 1.0/0) = pow(n, inf); it raised "float division by zero"
    D = torch.DoubleTensor
    assert D([1, 2]).dist(D([1, 3]), 0) == math.inf
    assert D([1]).dist(D([1]), 0) == 1.0
    assert torch.FloatTensor([1, 2]).dist(torch.FloatTensor([0, 0]), 0) == math.inf


def test_cmax_cmin_with_nan_as_torch7():
    # TH: t > src ? t : src -- a NaN in self gives the other value, one in the other gives NaN (numpy: NaN for both)
    D = torch.DoubleTensor
    assert D([math.nan, 1, -1]).cmax(0).tolist() == [0, 1, 0]
    assert D([math.nan, 3]).cmin(D([2, 2])).tolist() == [2, 2]
    r = D([1, 2]).cmax(D([math.nan, 0])).tolist()
    assert math.isnan(r[0]) and r[1] == 2
    assert torch.cmax(D(), D([math.nan, 5]), 1).tolist() == [1, 5]
    assert torch.LongTensor([1, 5]).cmax(3).tolist() == [3, 5]


def test_operators_take_numbers_outside_an_integer_tensors_range():
    # numpy refused a Python int outside the element type (OverflowError: Python integer -1 out of bounds for
    # uint8); operators compute in numpy and cast the result to the type (docs/tensor.md)
    B = torch.ByteTensor
    assert (B([1]) + (-1)).tolist() == [0] and (-1 + B([1])).tolist() == [0]
    assert (B([1]) - 300).tolist() == [213]
    assert (torch.CharTensor([5]) * 1000).tolist() == [-120]
    assert (torch.LongTensor([5]) * 0.5).tolist() == [2]         # (documented: not Torch7's 0)


def test_div_by_a_tensor_divides_element_wise_and_dot_wants_a_tensor():
    # x.div(y) of a LongTensor y failed in the number conversion ("bool(): only a one-element tensor converts");
    # x.dot(5) leaked AttributeError "'int' object has no attribute '_a'"
    L, D = torch.LongTensor, torch.DoubleTensor
    assert L([-7, 6]).div(L([2, 3])).tolist() == [-3, 2]
    assert D([[4, 6], [1, 1]]).div(D([2, 3, 1, 1])).tolist() == [[2, 2], [1, 1]]
    with pytest.raises(TypeError, match=r'dot: expected a tensor, got int \(5\)'):
        D([4, 6]).dot(5)


def test_add_and_addcmul_of_other_types_convert_as_in_place_add():
    # the result and value forms leaked numpy's UFuncTypeError ("Cannot cast ufunc 'add' output from float64 to
    # int64") where x.add(t) converts as C does
    L, D = torch.LongTensor, torch.DoubleTensor
    assert L().add(D([1.5]), D([1])).tolist() == [2]
    assert L().add(L([1]), D([1.5])).tolist() == [2]
    assert L([1]).addcmul(D([1.5]), D([1])).tolist() == [2]
    assert L([1]).add(D([1.5])).tolist() == [2]


def test_matrix_products_into_an_integer_tensor_convert_other_types():
    # a LongTensor result of Double operands leaked numpy's UFuncTypeError ("Cannot cast ufunc 'matmul' output
    # from float64 to int64"); operands of other types convert as C does (docs/tensor.md), truncated
    L, D = torch.LongTensor, torch.DoubleTensor
    assert L().mm(D([[1.5]]), D([[3]])).tolist() == [[4]]
    assert L().mv(D([[1.5]]), D([3])).tolist() == [4]
    assert L().ger(D([1.5]), D([3])).tolist() == [[4]]
    assert L(1, 1).fill(1).addmm(D([[1.5]]), D([[3]])).tolist() == [[5]]
    assert L(1).fill(1).addmv(D([[1.5]]), D([3])).tolist() == [5]
    assert L(1, 1).fill(1).addr(D([1.5]), D([3])).tolist() == [[5]]


def test_descending_sort_of_a_byte_tensor_keeps_ties_in_order():
    # the unsigned types flipped an ascending argsort: equal elements came last first ([5, 7, 6, 4, 3, 1, 0, 2]),
    # where the sort is stable (and Torch7's insertion sort of up to 11 elements keeps them in order)
    vals, idx = torch.ByteTensor([1, 1, 0, 1, 1, 2, 1, 1]).sort(0, True)
    assert vals.tolist() == [2, 1, 1, 1, 1, 1, 1, 0] and idx.tolist() == [5, 0, 1, 3, 4, 6, 7, 2]
    assert torch.ByteTensor([[0, 255, 0]]).sort(1, True)[1].tolist() == [[1, 0, 2]]


def test_topk_among_equal_values_picks_torch7s_elements():
    # THTensor_(topk): quickselect, then quicksort of the chosen ones; the stable sort gave the first equal elements
    # ([0] for both below).  By hand from the C: [1, 1, 1]'s partition leaves the indices 1, 0, 2
    D = torch.DoubleTensor
    assert D([1, 1, 1]).topk(1)[1].tolist() == [1] and D([1, 1, 1]).topk(1, 0, True)[1].tolist() == [2]
    vals, idx = D([3, 3, 3, 3, 1, 3, 1, 2, 0, 3, 2, 0, 0]).topk(6)
    assert vals.tolist() == [0, 0, 0, 1, 1, 2] and idx.tolist() == [8, 12, 11, 6, 4, 7]
    vals, idx = D([2, 3, 3, 2, 0, 1, 1, 1, 1, 0, 1, 0, 3]).topk(11, 0, True)
    assert vals.tolist() == [3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0] and idx.tolist() == [1, 2, 12, 0, 3, 10, 8, 5, 6, 7, 11]
    vals, idx = D([[1, 1, 1], [3, 1, 2]]).topk(2, 0, True)           # along dim 0; rows without ties unchanged
    assert vals.tolist() == [[3, 1, 2], [1, 1, 1]] and idx.tolist() == [[1, 0, 1], [0, 1, 0]]
    v, i = torch.topk(D(), torch.LongTensor(), D([1, 1, 1]), 2)
    assert v.tolist() == [1, 1] and i.tolist() == [1, 0]


def test_trace_and_norm_of_a_float_tensor_add_and_square_in_double():
    # TH's trace adds in accreal (double); normall(2) does accreal z = x; sum += z*z.  Both ran in float32 here
    f32 = [float(np.float32(v)) for v in (0.1, 0.2, 1.1, 2.3, 0.7)]
    assert torch.FloatTensor([[0.1, 5], [7, 0.2]]).trace() == f32[0] + f32[1]          # 0.30000001192092896 was
    assert torch.FloatTensor([1.1]).norm() == f32[2]                                     # 1.1000000173395328 was
    assert torch.FloatTensor([1.1, 2.3, 0.7]).norm() == math.sqrt(f32[2] ** 2 + f32[3] ** 2 + f32[4] ** 2)


def test_product_of_a_byte_tensor_wraps_as_c_long():
    # TH's prodall returns accreal long; numpy multiplied a ByteTensor in uint64 (17878103347812890625)
    assert torch.ByteTensor([255] * 8).prod() == 255 ** 8 - 2 ** 64
    assert torch.ByteTensor([200, 200]).prod() == 40000 and torch.ByteTensor([200, 200]).sum() == 400


def test_diag_of_neither_a_vector_nor_a_matrix_names_itself():
    # numpy's "Input must be 1- or 2-d." came out unnamed (Torch7: "matrix or a vector expected")
    with pytest.raises(ValueError, match='diag: expected a vector or a matrix, got a torch.DoubleTensor of size 2x2x2'):
        torch.DoubleTensor(2, 2, 2).diag()
    with pytest.raises(ValueError, match='diag: expected a vector or a matrix, got .* of size empty'):
        torch.diag(torch.DoubleTensor(), torch.DoubleTensor())
    assert torch.DoubleTensor([[1, 2], [3, 4]]).diag(-1).tolist() == [3]


def test_dist_of_integer_tensors_subtracts_without_wrapping():
    # the difference was taken in the tensor's own type: a ByteTensor's 0 - 1 is 255, a CharTensor's -100 - 100 is 56
    assert torch.ByteTensor([0]).dist(torch.ByteTensor([1])) == 1.0
    assert torch.CharTensor([-100]).dist(torch.CharTensor([100]), 1) == 200.0
    assert torch.dist(torch.ByteTensor([0, 3]), torch.ByteTensor([1, 0])) == math.sqrt(10)
    assert torch.IntTensor([1, 2]).dist(torch.IntTensor([4, 6]), math.inf) == 4.0


def test_fill_takes_numbers_as_the_types_real():
    # fill shares maskedFill/indexFill/scatter's _fill_value: numbers only, converted to an integer type as C does
    assert torch.ByteTensor(2).fill(-1).tolist() == [255, 255]
    assert torch.ByteTensor(2).fill(np.float64(2.5)).tolist() == [2, 2]
    assert torch.DoubleTensor(2).fill(2.5).tolist() == [2.5, 2.5]
    x = torch.DoubleTensor(2).zero()
    for v in (None, '3', 1 + 2j):
        with pytest.raises(TypeError, match='fill: expected a number, got'):
            x.fill(v)
    assert x.tolist() == [0.0, 0.0]

"""Storages: flat typed buffers, uninitialized on creation, that tensors view."""
import numpy as np
import pytest

import luatorch_py as torch


def test_sizes_and_types():
    s = torch.FloatStorage(5)
    assert len(s) == 5 and s.size() == 5
    assert s.type() == 'torch.FloatStorage'
    assert s.numpy().dtype == np.float32
    assert torch.DoubleStorage(0).size() == 0
    assert torch.LongStorage([1, 2]).type() == 'torch.LongStorage'
    assert torch.ByteStorage(3).numpy().dtype == np.uint8
    assert torch.isStorage(s) and not torch.isStorage(torch.FloatTensor(1))
    assert torch.typename(s) == 'torch.FloatStorage'


def test_values_indexing_and_conversions():
    s = torch.IntStorage([1.7, 2, -3.2])       # converted to the element type (C truncation)
    assert s.tolist() == [1, 2, -3]
    assert s[0] == 1 and s[-1] == -3 and isinstance(s[0], int)
    assert s[0:2] == [1, 2]
    s[1] = 20
    assert list(s) == [1, 20, -3]
    assert s.totable() == [1, 20, -3]
    assert s == [1, 20, -3] and s == torch.DoubleStorage([1, 20, -3])
    assert torch.IntStorage(torch.DoubleStorage([1.5, 2.5])).tolist() == [1, 2]


def test_out_of_range_index_raises():
    s = torch.FloatStorage(5)
    with pytest.raises(IndexError, match='index 5 is out of range for torch.FloatStorage of size 5'):
        s[5]
    with pytest.raises(IndexError):
        s[-6] = 1.0


def test_bad_construction():
    with pytest.raises(ValueError, match='size must be >= 0'):
        torch.IntStorage(-1)
    with pytest.raises(ValueError, match='flat list'):
        torch.IntStorage([[1, 2]])


def test_fill_and_copy():
    s = torch.FloatStorage(4).fill(2.5)
    assert s.tolist() == [2.5] * 4
    assert s.copy(torch.DoubleStorage([1, 2, 3, 4])) is s
    assert s.tolist() == [1, 2, 3, 4]
    s.copy([5, 6, 7, 8])
    assert s.tolist() == [5, 6, 7, 8]
    with pytest.raises(ValueError, match='size mismatch, destination has 4 elements, source has 2'):
        s.copy(torch.DoubleStorage([1, 2]))


def test_numpy_shares_memory():
    s = torch.DoubleStorage([1, 2, 3])
    a = s.numpy()
    a[0] = 10
    assert s[0] == 10
    s[1] = 20
    assert a[1] == 20
    assert np.asarray(s) is a
    b = np.array(s)              # np.array copies, as for ndarrays
    b[2] = -1
    assert s[2] == 3
    assert np.asarray(s, dtype=np.float32).dtype == np.float32


def test_resize_keeps_prefix():
    s = torch.DoubleStorage([1, 2, 3])
    assert s.resize(5) is s and s.size() == 5
    assert s[0:3] == [1, 2, 3]
    s.resize(2)
    assert s.tolist() == [1, 2]


def test_resize_repoints_views():
    """Growing a storage reallocates it; the tensors viewing it follow (Torch7's realloc semantics)."""
    s = torch.DoubleStorage([1, 2, 3, 4])
    t = torch.DoubleTensor(s, 1, (2,))
    s.resize(100)
    assert t.storage() is s and t.tolist() == [2, 3]
    t.fill(7)
    assert s.tolist()[:4] == [1, 7, 7, 4]


def test_tensor_storage_is_shared():
    x = torch.DoubleTensor(2, 3).fill(1)
    st = x.storage()
    assert st.type() == 'torch.DoubleStorage' and len(st) == 6
    st[4] = 5
    assert x[1][1] == 5
    y = x.t()
    assert y.storage() is st


def test_long_storage_behaves_as_tuple():
    s = torch.LongStorage([4, 6])
    assert s == (4, 6) and tuple(s) == (4, 6)
    assert s[1:] == (6,)
    assert s + (1,) == (4, 6, 1) and (1,) + s == (1, 4, 6)
    a, b = s
    assert (a, b) == (4, 6)
    assert np.zeros(s).shape == (4, 6)


def test_repr_is_torch7_text():
    assert str(torch.DoubleStorage([1, 2, 3])) == ' 1\n 2\n 3\n[torch.DoubleStorage of size 3]\n'
    assert repr(torch.FloatStorage([0.5, 1.5])) == ' 0.5000\n 1.5000\n[torch.FloatStorage of size 2]\n'


@pytest.mark.gpu
def test_cuda_storage():
    s = torch.CudaStorage([1, 2, 3])
    assert s.type() == 'torch.CudaStorage' and s.tolist() == [1, 2, 3]
    with pytest.raises(TypeError, match='copy it to the CPU'):
        s.numpy()
    c = torch.FloatStorage(3).copy(s)
    assert c.tolist() == [1, 2, 3]

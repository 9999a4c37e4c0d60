"""Storages: flat typed buffers, uninitialized on creation, that tensors view."""
import os

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
    assert np.shares_memory(np.asarray(s), a)
    a.shape = (3, 1)                 # a new array object per call: the storage keeps its length
    assert len(s) == 3 and s.numpy().shape == (3,)
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


# -- storage.md forms (issue 12) --------------------------------------------------------------------------------------
def test_storage_view_of_a_storage():
    s = torch.DoubleStorage(list(range(1, 11)))
    v = torch.DoubleStorage(s, 2, 5)               # Lua: torch.DoubleStorage(s, 3, 5) (1-based offset)
    assert v.tolist() == [3, 4, 5, 6, 7] and v.type() == 'torch.DoubleStorage'
    v[0] = -3                                       # shares memory both ways
    s[6] = -7
    assert s[2] == -3 and v[4] == -7
    assert torch.DoubleStorage(s, 7).tolist() == [8, 9, 10]        # size: to the end
    w = torch.DoubleStorage(s)                                      # same type, no offset: a view of all of s
    w[0] = 100
    assert s[0] == 100 and len(w) == 10
    assert torch.IntStorage(torch.DoubleStorage([1.5, 2.5])).tolist() == [1, 2]    # another type: converted copy
    with pytest.raises(ValueError, match=r'offset 8 and size 5 do not fit a storage of size 10 \(offsets are 0-based'):
        torch.DoubleStorage(s, 8, 5)
    with pytest.raises(TypeError, match='expected an integer'):
        torch.DoubleStorage(s, 1.5)
    with pytest.raises(TypeError, match=r'expected \(size\), \(values\), \(storage'):
        torch.DoubleStorage([1, 2], 1)


def test_storage_mapped_from_a_file(tmp_path):
    path = tmp_path / 'hello.txt'
    path.write_bytes(b'Hello World\n')
    s = torch.CharStorage(str(path), False, 5)      # private: a copy-on-write map
    assert s.tolist() == list(b'Hello') and s.string() == 'Hello'
    s[0] = ord('J')
    assert s.string() == 'Jello' and path.read_bytes() == b'Hello World\n'
    whole = torch.ByteStorage(path)                 # size 0 / absent: the whole file; a path object works too
    assert len(whole) == 12 and whole.string() == 'Hello World\n'
    shared = torch.ByteStorage(str(path), True)
    shared[0] = ord('C')
    assert path.read_bytes() == b'Cello World\n'    # shared: writes reach the file
    grown = torch.IntStorage(str(tmp_path / 'new.bin'), True, 4)   # a shared map creates / grows the file
    grown.fill(7)
    assert (tmp_path / 'new.bin').stat().st_size == 16
    assert np.fromfile(tmp_path / 'new.bin', dtype=np.int32).tolist() == [7] * 4
    with pytest.raises(ValueError, match='holds 12 elements of 1 bytes, fewer than the 20 asked'):
        torch.CharStorage(str(path), False, 20)
    with pytest.raises(FileNotFoundError, match='no file'):
        torch.CharStorage(str(tmp_path / 'absent'))
    t = torch.ByteTensor(whole, 6, 5)              # tensors view a mapped storage like any other
    assert bytes(t.tolist()) == b'World'


@pytest.mark.skipif(not os.path.isdir('/dev/shm'), reason='no /dev/shm')
def test_storage_mapped_in_shared_memory():
    name = f'luatorch_py_test_{os.getpid()}'
    try:
        a = torch.FloatStorage(name, True, 3, True)     # Lua's sharedMem: the name is in /dev/shm (shm_open)
        a.copy([1, 2, 3])
        b = torch.FloatStorage('/' + name, True, 0, True)
        assert b.tolist() == [1, 2, 3]
        b[0] = 9                                        # two maps of one shared area see each other's writes
        assert a[0] == 9
    finally:
        os.unlink(os.path.join('/dev/shm', name))


def test_string_on_char_and_byte_storages():
    s = torch.CharStorage()
    assert s.string('blah blah') is s and len(s) == 9
    assert s.tolist() == list(b'blah blah') and s.string() == 'blah blah'
    b = torch.ByteStorage([104, 105, 33])
    assert b.string() == 'hi!'
    b.string(b'\xff\x00x')                          # bytes go in as they are; non-UTF-8 bytes round-trip
    assert b.tolist() == [255, 0, 120] and b.string().encode('utf-8', 'surrogateescape') == b'\xff\x00x'
    assert torch.CharStorage().string('é').tolist() == [-61, -87]      # UTF-8, as Lua's bytes
    with pytest.raises(TypeError, match='only torch.CharStorage and torch.ByteStorage hold strings'):
        torch.FloatStorage(2).string()
    with pytest.raises(TypeError, match='expected a str or bytes'):
        s.string(5)


def test_storage_retain_and_free():
    s = torch.FloatStorage(2)
    assert s.refcount() == 1
    s.retain()
    assert s.refcount() == 2
    s.free()
    s.free()
    with pytest.raises(RuntimeError, match="free: the torch.FloatStorage's reference count is already 0"):
        s.free()


@pytest.mark.gpu
def test_cuda_storage_views_and_files(tmp_path):
    s = torch.CudaStorage([1, 2, 3, 4])
    v = torch.CudaStorage(s, 1, 2)
    assert v.tolist() == [2, 3]
    v.fill(9)
    assert s.tolist() == [1, 9, 9, 4]
    (tmp_path / 'f').write_bytes(b'abcd')
    with pytest.raises(TypeError, match='a GPU storage cannot map a file'):
        torch.CudaByteStorage(str(tmp_path / 'f'))
    with pytest.raises(TypeError, match='hold strings'):
        torch.CudaByteStorage(2).string()


def test_cpu_storages_from_4kb_are_cache_line_aligned():
    """types.TypeInfo.empty: storages of 4 KB and more start a cache line (copies between arrays whose offsets
    differ mod 64 ran at half speed on the CI machine); smaller ones are numpy's own."""
    from luatorch_py import backend
    for n in (1024, 4096, 100_003):
        s = torch.FloatStorage(n)
        assert backend.address(s._data) % backend.CACHE_LINE == 0
        t = torch.DoubleTensor(n, 3)
        assert backend.address(t._a) % backend.CACHE_LINE == 0


def test_fill_and_item_assignment_convert_as_c():
    """Torch7's s:fill(v) and s[i] = v take a real: integers truncate and wrap (as Tensor.fill does here); numpy
    refused 300 for a ByteStorage with an OverflowError, and stored None as NaN and '3' as 3."""
    s = torch.ByteStorage(2).fill(300)
    assert s.tolist() == [44, 44]
    s[0] = -1
    assert s.tolist() == [255, 44]
    assert torch.IntStorage(2).fill(-2.7).tolist() == [-2, -2]
    assert torch.LongStorage(1).fill(2 ** 64 + 5).tolist() == [5]
    assert torch.FloatStorage(1).fill(0.1).tolist() == [np.float32(0.1)]
    d = torch.DoubleStorage(1)
    for bad in (None, '3'):
        with pytest.raises(TypeError, match='DoubleStorage.fill: expected a number'):
            d.fill(bad)
        with pytest.raises(TypeError, match='DoubleStorage.__setitem__: expected a number'):
            d[0] = bad


def test_size_given_as_a_lua_number():
    """torch.DoubleStorage(3.0) is Lua's DoubleStorage(3) (every Lua number is a double), as the tensor constructors
    take 3.0; other floats are refused by name (NaN used to leak int()'s ValueError)."""
    assert len(torch.DoubleStorage(3.0)) == 3 and len(torch.ByteStorage(np.float32(2))) == 2
    for bad in (2.5, float('nan'), float('inf')):
        with pytest.raises(TypeError, match=r'torch.DoubleStorage\(size\): expected an integer'):
            torch.DoubleStorage(bad)
    with pytest.raises(TypeError, match='expected an integer'):
        torch.DoubleStorage(torch.DoubleStorage(4), float('nan'))


def test_resize_to_a_negative_size_names_the_storage():
    s = torch.FloatStorage([1, 2])
    with pytest.raises(ValueError, match=r'torch.FloatStorage: size must be >= 0, got -1'):
        s.resize(-1)
    assert s.tolist() == [1, 2]


def test_torch_storage_is_the_default_types_storage(restore_default_type):
    # Torch7's setdefaulttensortype sets torch.Storage with torch.Tensor (init.lua); torch.Storage(2) crashed here
    s = torch.Storage(2).fill(1.5)
    assert s.type() == 'torch.DoubleStorage' and s.tolist() == [1.5, 1.5]
    assert torch.Storage([1, 2]).tolist() == [1.0, 2.0] and isinstance(s, torch.Storage)
    torch.setdefaulttensortype('torch.FloatTensor')
    assert torch.Storage(3).type() == 'torch.FloatStorage'
    assert torch.Tensor(torch.Storage([1, 2])).tolist() == [1.0, 2.0]


def test_storage_from_values_takes_numbers_only():
    # numpy would store None as NaN, parse '3' as 3 and word an out-of-range int its own way
    for bad in ([None], ['3'], [1j], [2 ** 64]):
        with pytest.raises(ValueError, match='torch.DoubleStorage: expected numbers, got values of dtype'):
            torch.DoubleStorage(bad)
    with pytest.raises(ValueError, match=r'torch.IntStorage.copy: expected numbers, got values of dtype object'):
        torch.IntStorage(1).copy([None])
    assert torch.ByteStorage([-1, 300, 1.7]).tolist() == [255, 44, 1]      # numbers: converted as C converts
    assert torch.ByteStorage(2).copy([-1, 300]).tolist() == [255, 44]


@pytest.mark.gpu
def test_storage_of_another_type_from_a_gpu_storage():
    # np.asarray of the GPU buffer raised CuPy's "Implicit conversion to a NumPy array is not allowed"
    g = torch.CudaDoubleStorage([1, 200.5, 2.5])     # (in range: a GPU's out-of-range conversions are its own)
    assert torch.ByteStorage(g).tolist() == [1, 200, 2]
    assert torch.FloatStorage(g).tolist() == [1.0, 200.5, 2.5]
    c = torch.CudaIntStorage(g)
    assert c.type() == 'torch.CudaIntStorage' and c.tolist() == [1, 200, 2]


def test_item_index_must_be_an_integer():
    # numpy took s[True] = 5 as a mask of every element and filled the storage; a slice gave "'<=' not supported"
    s = torch.ByteStorage([1, 2, 3])
    for bad in (True, np.bool_(False), slice(0, 2), 1.0):
        with pytest.raises(TypeError, match=r'torch.ByteStorage: expected an integer index \(0-based\), got'):
            s[bad] = 5
    with pytest.raises(TypeError, match='expected an integer index'):
        s[True]
    assert s.tolist() == [1, 2, 3]
    s[np.int64(1)] = 300
    assert s[np.int64(1)] == 44 and s[0:2] == [1, 44]

import gzip
import struct

import numpy as np
import pytest

from luatorch_py.data import IDXError, read_idx, write_idx

DTYPES = [  # (numpy dtype, IDX code, Torch7 type)
    (np.uint8, 0x08, 'torch.ByteTensor'),
    (np.int8, 0x09, 'torch.CharTensor'),
    (np.int16, 0x0B, 'torch.ShortTensor'),
    (np.int32, 0x0C, 'torch.IntTensor'),
    (np.float32, 0x0D, 'torch.FloatTensor'),
    (np.float64, 0x0E, 'torch.DoubleTensor'),
]


def idx_bytes(code, dims, payload):
    return bytes((0, 0, code, len(dims))) + struct.pack(f'>{len(dims)}I', *dims) + payload


def put(path, data, gz=False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def sample(dtype, shape):
    n = int(np.prod(shape))
    if np.dtype(dtype).kind == 'f':
        return (np.arange(n) * 1.5 - 7.25).astype(dtype).reshape(shape)
    info = np.iinfo(dtype)
    return np.linspace(info.min, info.max, n).astype(dtype).reshape(shape)


@pytest.mark.parametrize('dtype,code,tname', DTYPES)
@pytest.mark.parametrize('shape', [(7,), (3, 4, 5)])
@pytest.mark.parametrize('gz', [False, True])
def test_round_trip(tmp_path, dtype, code, tname, shape, gz):
    a = sample(dtype, shape)
    path = tmp_path / ('x.idx.gz' if gz else 'x.idx')
    write_idx(path, a)
    raw = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    assert raw == idx_bytes(code, shape, a.astype(np.dtype(dtype).newbyteorder('>')).tobytes())
    t = read_idx(path)
    assert t.type() == tname
    assert t.numpy().dtype.isnative
    np.testing.assert_array_equal(t.numpy(), a)


def test_hand_written_big_endian(tmp_path):
    p = put(tmp_path / 'short.idx', idx_bytes(0x0B, (2, 2), b'\x00\x01\xff\xfe\x01\x02\x80\x00'))
    t = read_idx(p)
    assert t.type() == 'torch.ShortTensor' and t.numpy().tolist() == [[1, -2], [258, -32768]]
    p = put(tmp_path / 'f.idx', idx_bytes(0x0D, (1,), struct.pack('>f', -2.5)))
    assert read_idx(p).numpy().tolist() == [-2.5]


def test_gzip_detected_by_magic_not_name(tmp_path):
    a = sample(np.uint8, (4, 3))
    write_idx(tmp_path / 'gz_without_suffix', a, gzip=True)
    write_idx(tmp_path / 'raw_with_suffix.gz', a, gzip=False)
    assert (tmp_path / 'gz_without_suffix').read_bytes()[:2] == b'\x1f\x8b'
    for name in ('gz_without_suffix', 'raw_with_suffix.gz'):
        np.testing.assert_array_equal(read_idx(tmp_path / name).numpy(), a)


def test_tensor_input_and_result_is_writable(tmp_path):
    import luatorch_py as torch
    write_idx(tmp_path / 't.idx', torch.IntTensor([[1, 2, 3]]))
    t = read_idx(tmp_path / 't.idx')
    assert t.type() == 'torch.IntTensor' and t.numpy().tolist() == [[1, 2, 3]]
    t.numpy()[0, 0] = 9  # the tensor owns writable memory
    assert t.numpy()[0, 0] == 9


def test_write_rejects_int64(tmp_path):
    with pytest.raises(IDXError, match='int64'):
        write_idx(tmp_path / 'l.idx', np.zeros(3, np.int64))


GOOD = idx_bytes(0x08, (2, 3), bytes(range(6)))
MALFORMED = {
    'truncated_data': (GOOD[:-2], r'expected 6 data bytes, found 4 \(truncated\)'),
    'dims_larger_than_payload': (idx_bytes(0x08, (1000, 28, 28), bytes(10)), r'expected 784000 data bytes, found 10'),
    'trailing_data': (GOOD + b'\x00', r'found 7 \(trailing data\)'),
    'bad_magic': (b'\x01\x02' + GOOD[2:], 'bad IDX magic 01 02 08 02'),
    'unknown_type': (b'\x00\x00\x0a\x02' + GOOD[4:], 'bad IDX magic 00 00 0a 02'),
    'truncated_header': (GOOD[:9], r'truncated IDX header: expected 2 dimension sizes \(8 bytes\), found 5'),
    'too_short': (b'\x00\x00', 'expected a 4-byte magic number, found 2'),
    'zero_dims': (b'\x00\x00\x08\x00', '0 dimensions'),
    'huge_dims': (idx_bytes(0x0E, (0xFFFFFFFF, 0xFFFFFFFF), bytes(8)), 'found 8 \\(truncated\\)'),
    # numpy arrays have at most 64 dims: a header may say 255 (it used to raise numpy's ValueError, no file named)
    'too_many_dims': (idx_bytes(0x08, (1,) * 65, b'\x07'), 'IDX header gives 65 dimensions: expected at most 64'),
}


@pytest.mark.parametrize('gz', [False, True])
@pytest.mark.parametrize('case', sorted(MALFORMED))
def test_malformed(tmp_path, case, gz):
    data, pattern = MALFORMED[case]
    path = put(tmp_path / f'{case}.idx', data, gz)
    with pytest.raises(IDXError, match=pattern) as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_missing_file(tmp_path):
    path = tmp_path / 'nope-idx1-ubyte.gz'
    with pytest.raises(IDXError, match='no such file') as e:
        read_idx(path)
    assert str(path) in str(e.value)
    assert isinstance(e.value, ValueError)


def test_truncated_gzip_stream(tmp_path):
    z = gzip.compress(idx_bytes(0x08, (500,), bytes(range(250)) * 2))
    path = put(tmp_path / 'cut.gz', z[:len(z) // 2])
    with pytest.raises(IDXError, match='truncated or corrupt') as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_empty_payload(tmp_path):
    path = put(tmp_path / 'empty.idx', idx_bytes(0x08, (0, 28, 28), b''), gz=True)
    assert read_idx(path).nElement() == 0


def test_most_dims_numpy_allows(tmp_path):
    path = put(tmp_path / 'dims64.idx', idx_bytes(0x08, (1,) * 63 + (2,), b'\x07\x09'))
    t = read_idx(path)
    assert t.dim() == 64 and t.numpy().ravel().tolist() == [7, 9]

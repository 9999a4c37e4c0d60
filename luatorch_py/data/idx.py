"""IDX files (the MNIST format): ``read_idx`` and ``write_idx``.

Layout: magic ``00 00 <type> <ndims>``, then ``ndims`` big-endian uint32 sizes, then the elements, big-endian,
row-major.  A file is gzip-compressed when it starts with the gzip magic ``1f 8b`` (the name does not matter).
"""
import gzip as _gzip
import os
import struct
import sys
import zlib

import numpy as np

from .. import backend
from ..tensor import Tensor, _sizestr
from ..types import TYPES

# IDX type code -> (Torch7 type name, big-endian dtype, name in messages)
IDX_TYPES = {
    0x08: ('torch.ByteTensor', np.dtype('>u1'), 'ubyte'),
    0x09: ('torch.CharTensor', np.dtype('>i1'), 'sbyte'),
    0x0B: ('torch.ShortTensor', np.dtype('>i2'), 'short'),
    0x0C: ('torch.IntTensor', np.dtype('>i4'), 'int'),
    0x0D: ('torch.FloatTensor', np.dtype('>f4'), 'float'),
    0x0E: ('torch.DoubleTensor', np.dtype('>f8'), 'double'),
}
_CODE_OF_DTYPE = {TYPES[name].dtype: code for code, (name, _, _) in IDX_TYPES.items()}
_KNOWN = ', '.join(f"0x{c:02x} ({v[2]})" for c, v in IDX_TYPES.items())
_CHUNK = 1 << 24  # gzip payloads are read in pieces of this many bytes: memory grows only with data really read
_MAX_DIMS = 64    # the most dimensions a numpy (>= 2.0) array can have; an IDX header can say up to 255


class IDXError(ValueError):
    """A missing, truncated or malformed IDX file; the message names the file, what was expected and found."""


def _read_upto(stream, n):
    """Up to ``n`` bytes (fewer only at end of file), allocated as they arrive."""
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(min(n - len(buf), _CHUNK))
        if not chunk:
            break
        buf += chunk
    return buf


def _count_rest(stream):
    n = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return n
        n += len(chunk)


def _parse(stream, path, payload_size):
    """Header and data from ``stream``; ``payload_size`` is the byte count after the header when known (raw)."""
    magic = _read_upto(stream, 4)
    if len(magic) < 4:
        raise IDXError(f"{path}: not an IDX file: expected a 4-byte magic number, found {len(magic)} bytes")
    if magic[0] or magic[1] or magic[2] not in IDX_TYPES:
        raise IDXError(f"{path}: bad IDX magic {magic.hex(' ')}: expected 00 00 <type> <ndims> with <type> one "
                       f"of {_KNOWN}")
    name, be_dtype, tname = IDX_TYPES[magic[2]]
    nd = magic[3]
    if nd == 0:
        raise IDXError(f"{path}: IDX header gives 0 dimensions: expected at least 1")
    if nd > _MAX_DIMS:
        raise IDXError(f"{path}: IDX header gives {nd} dimensions: expected at most {_MAX_DIMS} (numpy's limit)")
    dims_bytes = _read_upto(stream, 4 * nd)
    if len(dims_bytes) < 4 * nd:
        raise IDXError(f"{path}: truncated IDX header: expected {nd} dimension sizes ({4 * nd} bytes), found "
                       f"{len(dims_bytes)} bytes")
    dims = struct.unpack(f'>{nd}I', dims_bytes)
    need = be_dtype.itemsize
    for d in dims:
        need *= d

    def mismatch(found):
        what = 'truncated' if found < need else 'trailing data'
        return IDXError(f"{path}: IDX header says {tname} {_sizestr(dims)}, expected {need} data bytes, found "
                        f"{found} ({what})")

    if payload_size is not None:                   # raw file: check the size before allocating anything
        if payload_size - 4 - 4 * nd != need:
            raise mismatch(payload_size - 4 - 4 * nd)
        data = np.empty(need, np.uint8)
        view, got = memoryview(data), 0
        while got < need:
            k = stream.readinto(view[got:])
            if not k:
                raise mismatch(got)
            got += k
    else:                                          # gzip: the uncompressed size is known only by reading
        buf = _read_upto(stream, need)
        if len(buf) < need:
            raise mismatch(len(buf))
        extra = _count_rest(stream)
        if extra:
            raise mismatch(need + extra)
        data = np.frombuffer(buf, np.uint8)
    arr = data.view(be_dtype)
    if be_dtype.itemsize > 1 and sys.byteorder == 'little':
        arr.byteswap(inplace=True)
    arr = arr.view(be_dtype.newbyteorder('=')).reshape(dims)
    return TYPES[name].tensor_class._from_array(arr)


def read_idx(path):
    """The IDX file at ``path`` (raw or gzip) as a tensor of its Torch7 type (ubyte -> ByteTensor, sbyte ->
    CharTensor, short -> ShortTensor, int -> IntTensor, float -> FloatTensor, double -> DoubleTensor).

    Raises IDXError for a missing file, a bad magic, truncated data, or dims that disagree with the payload size.
    Memory is allocated only for data the file really holds.
    """
    path = os.fspath(path)
    try:
        f = open(path, 'rb')
    except FileNotFoundError:
        raise IDXError(f"{path}: no such file: expected an IDX file (raw or gzip)") from None
    except OSError as e:
        raise IDXError(f"{path}: cannot open: {e.strerror or e}") from None
    with f:
        gz = f.read(2) == b'\x1f\x8b'
        f.seek(0)
        try:
            if gz:
                with _gzip.GzipFile(fileobj=f, mode='rb') as g:
                    return _parse(g, path, None)
            return _parse(f, path, os.fstat(f.fileno()).st_size)
        except (EOFError, zlib.error, _gzip.BadGzipFile) as e:
            raise IDXError(f"{path}: gzip data is truncated or corrupt: {e}") from None


def write_idx(path, x, gzip=None):
    """Write tensor or array ``x`` to ``path`` as IDX; gzip-compressed when ``gzip`` is true, or, when it is None,
    when ``path`` ends with '.gz'.  Element types: uint8, int8, int16, int32, float32, float64 (IDX has no int64)."""
    path = os.fspath(path)
    a = backend.to_numpy(x._a) if isinstance(x, Tensor) else np.asarray(x)
    code = _CODE_OF_DTYPE.get(a.dtype.newbyteorder('='))
    if code is None:
        raise IDXError(f"{path}: IDX cannot hold elements of dtype {a.dtype}: expected one of uint8, int8, int16, "
                       f"int32, float32, float64")
    if not 1 <= a.ndim <= 255:
        raise IDXError(f"{path}: IDX holds 1 to 255 dimensions, got {a.ndim}")
    header = bytes((0, 0, code, a.ndim)) + struct.pack(f'>{a.ndim}I', *a.shape)
    data = np.ascontiguousarray(a, dtype=IDX_TYPES[code][1]).tobytes()
    if path.endswith('.gz') if gzip is None else gzip:
        with _gzip.open(path, 'wb') as f:
            f.write(header + data)
    else:
        with open(path, 'wb') as f:
            f.write(header + data)

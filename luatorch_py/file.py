"""Torch7's File API: ``torch.DiskFile`` and ``torch.MemoryFile`` (lib/TH/THDiskFile.c, THMemoryFile.c, File.lua).

Both start in ascii mode with auto-spacing, as Torch7: ``writeInt(3)`` writes ``3\\n``; ``binary()`` switches to
native little-endian bytes.  Numbers read back with ``readInt()`` (one number), ``readInt(n)`` (an IntStorage of n)
or ``readInt(storage)`` (fills it, returns the count read); likewise Byte, Char, Short, Long, Float, Double.
``writeObject``/``readObject`` use the .t7 serializer (luatorch_py.serialization), keeping Lua's per-file table of
written objects: an object written twice to one file is stored once, then referenced (``referenced(False)`` stops
that across calls).  Positions are 0-based byte offsets (Lua's ``seek``/``position`` count from 1).
"""
import io
import itertools
import os
import re

import numpy as np

from . import backend
from .storage import STORAGE_CLASSES, Storage

__all__ = ['File', 'DiskFile', 'MemoryFile', 'serializeToStorage', 'deserializeFromStorage', 'saveobj', 'loadobj']

# element type -> (numpy dtype, ascii write format, storage class name)
_KINDS = {'Byte': (np.uint8, None, 'ByteStorage'), 'Char': (np.int8, None, 'CharStorage'),
          'Short': (np.int16, '%d', 'ShortStorage'), 'Int': (np.int32, '%d', 'IntStorage'),
          'Long': (np.int64, '%d', 'LongStorage'), 'Float': (np.float32, '%.9g', 'FloatStorage'),
          'Double': (np.float64, '%.17g', 'DoubleStorage')}
_TOKEN = re.compile(rb'[^ \t\n\r\f\v]+')     # an ascii number: what lies between whitespace


class _Sink:
    """A file-like ``write`` for the .t7 writer: bytes go to the File at its position."""

    def __init__(self, f):
        self.f = f

    def write(self, b):
        self.f._put(bytes(b))


class File:
    """The File API shared by DiskFile and MemoryFile (Torch7's torch.File)."""

    _what = 'File'

    def __init__(self, fh, readable, writable, quiet=False):
        self._fh = fh
        self._readable, self._writable = readable, writable
        self._quiet, self._error = bool(quiet), False
        self._binary, self._autospacing = False, True
        self._native = True          # byte order: native (little-endian here)
        self._long_size = 0          # 0: native (8)
        self._content = None         # cached bytes for reading, dropped by any write
        self._saver = self._loader = None
        self._referenced = True

    # -- state ------------------------------------------------------------------------------------------
    def _check_open(self):
        if self._fh is None:
            raise ValueError(f"{self._what}: attempt to use a closed file")

    def isOpened(self):
        return self._fh is not None

    def isReadable(self):
        return self._readable

    def isWritable(self):
        return self._writable

    def binary(self):
        self._check_open()
        self._binary = True
        return self

    def ascii(self):
        self._check_open()
        self._binary = False
        return self

    def isBinary(self):
        return self._binary

    def autoSpacing(self):
        self._autospacing = True
        return self

    def noAutoSpacing(self):
        self._autospacing = False
        return self

    def isAutoSpacing(self):
        return self._autospacing

    def quiet(self):
        self._quiet = True
        return self

    def pedantic(self):
        self._quiet = False
        return self

    def isQuiet(self):
        return self._quiet

    def hasError(self):
        return self._error

    def clearError(self):
        self._error = False
        return self

    def referenced(self, ref=True):
        """Whether writeObject/readObject keep one table of objects across calls (Torch7's default: yes)."""
        self._referenced = bool(ref)
        if not ref:
            self._saver = self._loader = None
        return self

    def isReferenced(self):
        return self._referenced

    def longSize(self, size=None):
        """Bytes per long in binary mode: 0 (native, 8), 4 or 8."""
        if size not in (0, 4, 8):
            raise ValueError(f"{self._what}.longSize: invalid long size {size!r} (expected 0, 4 or 8)")
        self._long_size = size
        return self

    def nativeEndianEncoding(self):
        self._native = True
        return self

    def littleEndianEncoding(self):
        self._native = True           # (a little-endian CPU)
        return self

    def bigEndianEncoding(self):
        self._native = False
        return self

    @staticmethod
    def isLittleEndianCPU():
        return np.little_endian

    @staticmethod
    def isBigEndianCPU():
        return not np.little_endian

    def _fail(self, msg, exc=EOFError):
        self._error = True
        if not self._quiet:
            raise exc(f"{self._what}: {msg}")

    # -- positions --------------------------------------------------------------------------------------
    def seek(self, position):
        """Go to the 0-based byte offset ``position`` (Lua's file:seek(position + 1))."""
        self._check_open()
        if position < 0:
            raise ValueError(f"{self._what}.seek: position must be >= 0 (0-based), got {position}")
        self._fh.seek(int(position))
        return self

    def seekEnd(self):
        self._check_open()
        self._fh.seek(0, io.SEEK_END)
        return self

    def position(self):
        """The 0-based byte offset (Lua's file:position() is this plus one)."""
        self._check_open()
        return self._fh.tell()

    def synchronize(self):
        self._check_open()
        self._fh.flush()
        return self

    def close(self):
        self._check_open()
        self._close()
        self._fh = None
        self._content = None

    def _close(self):
        self._fh.close()

    def __enter__(self):                 # (Python only) ``with torch.DiskFile(name, 'w') as f:`` closes f
        return self

    def __exit__(self, *exc):
        if self._fh is not None:
            self.close()

    # -- raw bytes ----------------------------------------------------------------------------------------
    def _data(self):
        """(all the bytes, position): the cached content for the readers."""
        if self._content is None:
            p = self._fh.tell()
            self._fh.seek(0)
            self._content = self._fh.read()
            self._fh.seek(p)
        return self._content, self._fh.tell()

    def _put(self, b):
        if not self._writable:
            raise ValueError(f"{self._what}: attempt to write in a read-only file")
        self._content = None
        self._fh.write(b)

    def _check_read(self):
        self._check_open()
        if not self._readable:
            raise ValueError(f"{self._what}: attempt to read in a write-only file")

    # -- numbers ------------------------------------------------------------------------------------------
    def _dtype(self, kind):
        dt = np.dtype(_KINDS[kind][0])
        if kind == 'Long' and self._long_size == 4:
            dt = np.dtype(np.int32)
        return dt if self._native else dt.newbyteorder('>')

    def _read(self, kind, arg=None):
        self._check_read()
        storage_cls = STORAGE_CLASSES[_KINDS[kind][2]]
        if arg is None:
            vals = self._read_values(kind, 1)
            if vals.size < 1:
                return 0
            v = vals[0]
            return float(v) if kind in ('Float', 'Double') else int(v)
        if isinstance(arg, storage_cls):
            vals = self._read_values(kind, len(arg))
            arg._data[:vals.size] = vals
            return int(vals.size)
        if isinstance(arg, (int, np.integer)) and not isinstance(arg, bool):
            if arg < 0:
                raise ValueError(f"{self._what}.read{kind}: n must be >= 0, got {arg}")
            vals = self._read_values(kind, int(arg))
            return storage_cls(_data=np.ascontiguousarray(vals, dtype=_KINDS[kind][0]))
        raise TypeError(f"{self._what}.read{kind}: expected nothing, a count or a {storage_cls.__name__}, "
                        f"got {type(arg).__name__}")

    def _read_values(self, kind, n):
        data, pos = self._data()
        if self._binary or kind in ('Byte', 'Char'):
            dt = self._dtype(kind) if kind not in ('Byte', 'Char') else np.dtype(_KINDS[kind][0])
            k = min(n, (len(data) - pos) // dt.itemsize)
            vals = np.frombuffer(data, dt, count=k, offset=pos).astype(_KINDS[kind][0])
            pos += k * dt.itemsize
            if not self._binary and self._autospacing and n > 0 and pos < len(data) and data[pos] == 10:
                pos += 1                       # ascii bytes: raw, then the auto-spacing newline
        else:
            start, end = pos, len(data)
            found = list(itertools.islice(_TOKEN.finditer(data, pos), n))
            toks = [m.group() for m in found]
            if n:       # after the n-th number, or (fewer found) past the whitespace to the end
                pos = found[-1].end() if len(found) == n else end
            nums = [_ascii_number(t, kind) for t in toks]
            if None in nums:
                # Torch7's fscanf stops at the bad token: an error, or (quiet) hasError and the numbers before it
                good = nums.index(None)
                self._error = True
                if not self._quiet:
                    what = 'a number' if kind in ('Float', 'Double') else 'an integer within 64 bits'
                    raise ValueError(f"{self._what}.read{kind}: expected {what}, got {toks[good][:60]!r}")
                nums = nums[:good]
                pos = found[good - 1].end() if good else start
            vals = np.array(nums, dtype=np.int64 if kind not in ('Float', 'Double') else np.float64)
            vals = vals.astype(_KINDS[kind][0])
            k = vals.size
            if self._autospacing and n > 0 and pos < end and data[pos] == 10:
                pos += 1
        self._fh.seek(pos)
        if k != n:
            self._fail(f"read{kind}: read error: read {k} blocks instead of {n}")
        return vals

    def _write(self, kind, value):
        self._check_open()
        storage_cls = STORAGE_CLASSES[_KINDS[kind][2]]
        if isinstance(value, storage_cls):
            vals = np.asarray(value._data)
        elif isinstance(value, (int, float, np.integer, np.floating, bool)):
            try:
                vals = np.array([value]).astype(_KINDS[kind][0])
            except OverflowError:      # an int beyond 64 bits (numpy's own message names a C long)
                raise ValueError(f"{self._what}.write{kind}: {value} is out of range") from None
        else:
            raise TypeError(f"{self._what}.write{kind}: expected a number or a {storage_cls.__name__}, "
                            f"got {type(value).__name__}")
        n = int(vals.size)
        if self._binary:
            self._put(vals.astype(self._dtype(kind) if kind not in ('Byte', 'Char') else vals.dtype).tobytes())
        elif kind in ('Byte', 'Char'):
            self._put(vals.astype(_KINDS[kind][0]).tobytes() + (b'\n' if self._autospacing and n else b''))
        else:
            fmt = _KINDS[kind][1]
            items = [(fmt % v).encode() for v in vals.tolist()]
            sep = b' ' if self._autospacing else b''
            self._put(sep.join(items) + (b'\n' if self._autospacing and n else b''))
        return n

    def readBool(self):
        return self.readInt() == 1

    def writeBool(self, value):
        return self.writeInt(1 if value else 0)

    # -- strings ------------------------------------------------------------------------------------------
    def readString(self, format='*a'):
        """'*a': everything left; '*l': the next line, without its newline.  Returns a str (bytes that are not
        UTF-8 kept as surrogate escapes; readByte(n) gives the raw bytes)."""
        self._check_read()
        if not (isinstance(format, str) and len(format) >= 2 and format[0] == '*' and format[1] in 'al'):
            raise ValueError(f"{self._what}.readString: format must be '*a' or '*l', got {format!r}")
        data, pos = self._data()
        if format[1] == 'a':
            s = data[pos:]
            new = len(data)
        else:
            nl = data.find(b'\n', pos)
            s = data[pos:] if nl < 0 else data[pos:nl]
            new = len(data) if nl < 0 else nl + 1
        if pos >= len(data):
            self._fail("readString: read error: read 0 blocks instead of 1")
            return ''
        self._fh.seek(new)
        return s.decode('utf-8', 'surrogateescape')

    def writeString(self, s):
        """Write the string's bytes (no spacing, as Torch7); returns the count."""
        self._check_open()
        if not isinstance(s, (str, bytes, bytearray, memoryview)):
            # (bytes(5) would be five zero bytes; Torch7 takes only a string)
            raise TypeError(f"{self._what}.writeString: expected a string (str or bytes), got {type(s).__name__}")
        b = s.encode('utf-8', 'surrogateescape') if isinstance(s, str) else bytes(s)
        self._put(b)
        return len(b)

    # -- objects --------------------------------------------------------------------------------------------
    def writeObject(self, obj):
        """Write ``obj`` in the .t7 format (this file's binary or ascii mode), as torch.save writes it."""
        from .serialization import t7
        self._check_open()
        if not self._writable:
            raise ValueError(f"{self._what}: attempt to write in a read-only file")
        out = t7._BinaryOut(_Sink(self), self._long_size or 8, '<' if self._native else '>') if self._binary \
            else t7._AsciiOut(_Sink(self))
        if self._saver is None or not self._referenced:
            self._saver = t7._Saver(out)
        self._saver.o = out
        with t7._deep_stack():      # as torch.save: linked structures (nngraph's nodes) nest deeply
            self._saver.obj(obj, (None, 'obj'), 0)

    def readObject(self):
        """Read the next object written by writeObject (or by Lua's File:writeObject, torch.save)."""
        from .serialization import t7
        self._check_read()
        data, pos = self._data()
        inp = t7._BinaryIn(data, self._long_size or 8, '<' if self._native else '>') if self._binary \
            else t7._AsciiIn(data)
        inp.pos = pos
        if self._loader is None or not self._referenced:
            self._loader = t7._Loader(inp)
        ld = self._loader
        ld.f = inp
        try:
            with t7._deep_stack():
                obj = ld.complete_obj()
        except t7.T7Error as e:
            self._fh.seek(pos)
            raise t7.T7Error(f"{self._what}.readObject: {e}") from None
        except Exception as e:      # a damaged file that got past the checks: the documented error, as deserialize
            self._fh.seek(pos)
            raise t7.T7Error(f"{self._what}.readObject: cannot load ({type(e).__name__}: {e})", inp.pos) from e
        self._fh.seek(inp.pos)
        return obj


def _ascii_number(token, kind):
    """The number an ascii token holds, or None (not a number, or an integer beyond 64 bits)."""
    try:
        v = float(token) if kind in ('Float', 'Double') else int(token)
    except ValueError:
        return None
    return v if isinstance(v, float) or -(1 << 63) <= v < (1 << 63) else None


def _reader_writer(kind):
    def read(self, arg=None):
        return self._read(kind, arg)

    def write(self, value):
        return self._write(kind, value)
    read.__name__, write.__name__ = 'read' + kind, 'write' + kind
    read.__doc__ = (f"read{kind}(): one number; read{kind}(n): a {_KINDS[kind][2]} of n; read{kind}(storage): "
                    f"fill it, return the count read.")
    write.__doc__ = f"write{kind}(number or {_KINDS[kind][2]}): returns the count written."
    return read, write


for _k in _KINDS:
    _r, _w = _reader_writer(_k)
    setattr(File, _r.__name__, _r)
    setattr(File, _w.__name__, _w)


def _mode(what, mode):
    if mode not in ('r', 'w', 'rw'):
        raise ValueError(f"{what}: file mode should be 'r', 'w' or 'rw', got {mode!r}")
    return 'r' in mode, 'w' in mode


class DiskFile(File):
    """``torch.DiskFile(filename, mode='r', quiet=False)``: 'r' reads, 'w' creates or truncates, 'rw' reads and
    writes (creating the file when absent).  Ascii until ``binary()``.  With quiet, a file that cannot be opened
    gives None (Torch7's nil) instead of an error."""

    _what = 'DiskFile'

    def __new__(cls, filename, mode='r', quiet=False):
        r, w = _mode('DiskFile', mode)
        name = os.fspath(filename)
        try:
            if r and w:
                if not os.path.exists(name):
                    open(name, 'wb').close()
                fh = open(name, 'r+b')
            else:
                fh = open(name, 'rb' if r else 'wb')
        except OSError as e:
            if quiet:
                return None
            raise OSError(f"DiskFile: cannot open <{name}> in mode {mode} ({e.strerror})") from None
        self = object.__new__(cls)
        File.__init__(self, fh, r, w, quiet)
        self._name = name
        return self

    def __init__(self, filename, mode='r', quiet=False):
        pass

    def name(self):
        return self._name

    def noBuffer(self):
        return self

    def __repr__(self):
        # DiskFile.c's __tostring__, character for character ("mode rw", no colon, a space for a missing r or w)
        return (f"torch.DiskFile on <{self._name}> [status: {'open' if self.isOpened() else 'closed'} -- mode "
                f"{'r' if self._readable else ' '}{'w' if self._writable else ' '}]")


class MemoryFile(File):
    """``torch.MemoryFile([storage,] mode='rw')``: a file in memory; ``storage()`` is its contents as a
    CharStorage ending with a 0 byte (as Torch7).  Ascii until ``binary()``."""

    _what = 'MemoryFile'

    def __init__(self, storage=None, mode='rw'):
        if isinstance(storage, str):
            storage, mode = None, storage
        r, w = _mode('MemoryFile', mode)
        buf = io.BytesIO()
        if storage is not None:
            b = np.asarray(storage._data if hasattr(storage, '_data') else storage, dtype=np.int8).tobytes()
            if not b or b[-1] != 0:
                raise ValueError("MemoryFile: provided CharStorage must be terminated by 0")
            buf.write(b[:-1])
            buf.seek(0)
        super().__init__(buf, r, w)

    def seek(self, position):
        """As File.seek, but not past the end (THMemoryFile.c: an error, or with quiet() hasError)."""
        self._check_open()
        with self._fh.getbuffer() as b:
            size = b.nbytes
        if position > size:
            self._fail(f"seek: unable to seek at position {position}: the file holds {size} bytes", ValueError)
            return self
        return super().seek(position)

    def storage(self):
        """The contents as a CharStorage, plus Torch7's terminating 0."""
        self._check_open()
        b = self._fh.getvalue() + b'\0'
        return STORAGE_CLASSES['CharStorage'](_data=np.frombuffer(b, np.int8).copy())

    def __repr__(self):
        # MemoryFile.c's __tostring__ (it has "mode:" where DiskFile's has "mode")
        return (f"torch.MemoryFile [status: {'open' if self.isOpened() else 'closed'} -- mode: "
                f"{'r' if self._readable else ' '}{'w' if self._writable else ' '}]")


# -- File.lua's helpers on top of MemoryFile ---------------------------------------------------------------------
def _file_mode(f, mode, what):
    if mode not in ('binary', 'ascii'):
        raise ValueError(f"{what}: mode should be 'binary' or 'ascii', got {mode!r}")
    return getattr(f, mode)()


def serializeToStorage(obj, mode='binary'):
    """``torch.serializeToStorage(obj [, mode])``: the object in the .t7 format (binary by default), as a CharStorage
    (a MemoryFile's contents without its terminating 0)."""
    f = _file_mode(MemoryFile(), mode, 'serializeToStorage')
    f.writeObject(obj)
    st = f.storage()
    f.close()
    return st.resize(st.size() - 1)


def deserializeFromStorage(storage, mode='binary'):
    """``torch.deserializeFromStorage(storage [, mode])``: the object that serializeToStorage wrote into ``storage``
    (a CharStorage, or a ByteStorage of the same bytes)."""
    if not isinstance(storage, Storage):
        raise TypeError(f"deserializeFromStorage: expected a CharStorage or a ByteStorage, "
                        f"got {type(storage).__name__}")
    data = np.asarray(backend.to_numpy(storage._data)).view(np.int8)
    term = STORAGE_CLASSES['CharStorage'](_data=np.append(data, np.int8(0)))
    f = _file_mode(MemoryFile(term, 'r'), mode, 'deserializeFromStorage')
    obj = f.readObject()
    f.close()
    return obj


def saveobj(filename, obj, mode='binary'):
    """Lua's ``torch.saveobj``: another name of ``torch.save``."""
    from .serialization import save
    return save(filename, obj, mode)


def loadobj(filename, mode='binary'):
    """Lua's ``torch.loadobj``: another name of ``torch.load``."""
    from .serialization import load
    return load(filename, mode)

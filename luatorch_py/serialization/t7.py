"""Torch7's .t7 format (File.lua's writeObject/readObject, DiskFile's binary and ascii encodings).

Every value is an int32 type tag and a body:

====  ======================  ==========================================================================
tag   Lua type                body
====  ======================  ==========================================================================
0     nil                     (none)
1     number                  float64
2     string                  int32 length, raw bytes
3     table                   int32 reference index; the first time: int32 n, then n (key, value) objects
4     torch object            int32 reference index; the first time: "V <version>" and the class name (as
                              int32 length + bytes), then the class's body: tensors and storages below, nn
                              objects a table of their fields
5     boolean                 int32 (1 true)
6-8   functions               Lua bytecode: refused (loading never runs code)
====  ======================  ==========================================================================

A tensor's body is nDimension (int32), sizes and strides (C longs), storageOffset + 1 (long) and its storage
object (nil for an empty tensor); a storage's body is its size (long) and the raw elements.  Binary files are
little-endian with 8-byte longs ('b32': 4-byte longs, from 32-bit builds).  Ascii files write each number as
text (ints %d, floats %.9g, doubles %.17g) -- the values of one write separated by spaces and followed by a
newline -- and strings and char/byte storages as raw bytes followed by a newline.

Reading is defensive: each length is checked against the bytes left before anything is allocated, nesting is
bounded, and every failure is a T7Error naming the byte offset.

A Lua table used as a key of another table (nngraph's two-way maps) loads as a ``TableKey`` key, hashed and
compared by the table's identity.  Torch classes that are not nn modules (torch/graph's and nngraph's nodes, edges
and graphs) are registered in ``OBJECT_CLASSES`` with ``registerObjectClass``.
"""
import importlib
import io
import math
import os
import re
import stat
import struct
import sys
import threading
import warnings

import numpy as np

from .. import backend
from ..storage import Storage
from ..tensor import Tensor
# (not `from . import classes`, which waits for this package's __init__: a thread importing this file itself, as
# nngraph's files do, while another imports the package, as torch.load's first use does, each waited for the other and
# Python handed one a half-loaded module: ImportError)
classes = importlib.import_module('.classes', __package__)
from .. import _fork  # noqa: E402

TYPE_NIL = 0
TYPE_NUMBER = 1
TYPE_STRING = 2
TYPE_TABLE = 3
TYPE_TORCH = 4
TYPE_BOOLEAN = 5
TYPE_FUNCTION = 6
TYPE_LEGACY_RECUR_FUNCTION = 7
TYPE_RECUR_FUNCTION = 8

# nested tables/objects, reading and writing.  Linked structures nest deeply (a gModule of a 100-module chain is
# ~300 levels: node -> data -> mapindex -> data ...), so reading and writing raise Python's recursion limit for
# their duration (see _deep_stack); Python 3.11+ calls between Python functions use no C stack.
MAX_DEPTH = 10000
_FRAMES_PER_LEVEL = 3    # Python frames the reader/writer use per level of nesting (at most)
MAX_DIMS = 64            # numpy's limit
MAX_ELEMENTS = 1 << 48   # elements of one tensor view (strided views can exceed their storage)
MAX_STRIDE = 1 << 56     # strides of size-1 dims are not bounded by the storage; this keeps bytes within int64
# A view whose elements overlap (zero strides: what expand() saves) can declare far more elements than the file
# holds, and its first clone()/print/arithmetic allocates them all (a 119-byte file declared 2^48).  Such views
# load only up to OVERLAP_FACTOR x the file's size + OVERLAP_BYTES bytes: what loading may ever cost.
OVERLAP_FACTOR = 16
OVERLAP_BYTES = 16 << 20
_EXACT = 1 << 53         # integers a double holds exactly

_LONG_SIZE = {'binary': 8, 'b64': 8, 'b32': 4, 'ascii': 8}


class T7Error(ValueError):
    """A .t7 file (or byte string) that cannot be loaded: truncated, damaged, or holding something luatorch_py
    does not load (an unknown class, Lua code).  ``offset`` is the byte offset where reading failed."""

    def __init__(self, message, offset=None):
        self.offset = offset
        super().__init__(message if offset is None else f"{message} (at byte offset {offset})")


def _check_format(format, what, allowed):
    if format not in allowed:
        raise ValueError(f"{what}: format must be one of {', '.join(repr(a) for a in allowed)}, got {format!r}")


# =============================================================================================================
# input encodings
# =============================================================================================================
class _BinaryIn:
    min_value_size = 4   # the smallest object (a nil) is one int32 tag

    def __init__(self, data, long_size, order='<'):
        """order: '<' little-endian (files), '>' big-endian (a File after bigEndianEncoding())."""
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.long_size = long_size
        self.order = order
        self._lfmt = order + ('q' if long_size == 8 else 'i')

    def remaining(self):
        return self.end - self.pos

    def need(self, n, what):
        if n > self.end - self.pos:
            raise T7Error(f"truncated file: {what} needs {n} bytes, {self.end - self.pos} left", self.pos)

    def _unpack(self, fmt, size, what):
        self.need(size, what)
        v = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += size
        return v

    def int(self, what='an int'):
        return self._unpack(self.order + 'i', 4, what)

    def long(self, what='a long'):
        return self._unpack(self._lfmt, self.long_size, what)

    def double(self, what='a number'):
        return self._unpack(self.order + 'd', 8, what)

    def longs(self, n, what):
        size = n * self.long_size
        self.need(size, what)
        v = struct.unpack_from(f'{self.order}{n}{self._lfmt[1]}', self.data, self.pos)
        self.pos += size
        return list(v)

    def chars(self, n, what):
        self.need(n, what)
        b = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return b

    def array(self, info, n, what):
        """n elements of type ``info`` as a fresh, writable 1-D numpy array."""
        dt = info.dtype
        src = np.dtype(np.int32) if (dt == np.int64 and self.long_size == 4) else dt
        src = src.newbyteorder(self.order)
        self.need(n * src.itemsize, what)
        if n == 0:
            return np.empty(0, dtype=dt)
        a = np.frombuffer(self.data, dtype=src, count=n, offset=self.pos).astype(dt, copy=True)
        self.pos += n * src.itemsize
        return a


_TOKEN = re.compile(rb'\S+')
_INT = re.compile(rb'[-+]?[0-9]+')
_WS = b' \t\n\r\v\f'
_MAX_TOKEN = 48   # characters looked at per expected number when looking for the end of the line


class _AsciiIn:
    """Torch7's ascii DiskFile: numbers are whitespace-separated tokens (fscanf), and after each read of n > 0
    values one newline is consumed (auto-spacing); strings and char/byte data are raw bytes."""
    min_value_size = 2   # a tag token and its separator

    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.long_size = 8

    def remaining(self):
        return self.end - self.pos

    def need(self, n, what):
        if n > self.end - self.pos:
            raise T7Error(f"truncated file: {what} needs {n} bytes, {self.end - self.pos} left", self.pos)

    def _finish(self, n):
        if n > 0 and self.pos < self.end and self.data[self.pos] == 10:
            self.pos += 1

    def _tokens(self, n, what):
        data = self.data
        # Lua writes the n values of one call on one line: split it at once when it holds exactly n tokens
        p = self.pos
        while p < self.end and data[p] in _WS:
            p += 1
        # (only looking a bounded distance ahead: a number takes at most ~25 characters, so a line longer than
        # that holds more than n values, and scanning it whole on every read would be quadratic -- a table of
        # 10^4 numbers on one line took seconds)
        lim = min(self.end, p + _MAX_TOKEN * n + 1)
        nl = data.find(b'\n', p, lim)
        if nl < 0 and lim == self.end:
            nl = self.end
        if nl >= 0:
            toks = data[p:nl].split()
            if len(toks) == n:
                self.pos = nl
                return toks
        # the n values span lines or share one with more: split a bounded window once (n tokens and the rest)
        parts = data[p:lim].split(None, n)
        if len(parts) > n:
            q = lim - len(parts[n])
            while data[q - 1] in _WS:
                q -= 1
            self.pos = q
            return parts[:n]
        toks = []
        for _ in range(n):
            m = _TOKEN.search(data, self.pos)
            if m is None:
                raise T7Error(f"truncated file: expected {what}, found the end of the file", self.end)
            toks.append(m.group())
            self.pos = m.end()
        return toks

    def _ints(self, n, what, lo, hi):
        at = self.pos
        toks = self._tokens(n, what)
        out = []
        for t in toks:
            if not _INT.fullmatch(t):
                raise T7Error(f"expected {what} (an integer), found {t[:40]!r}", at)
            if len(t) > 40:     # (Python's int() refuses over 4300 digits with a ValueError)
                raise T7Error(f"{what} {t[:40]!r}... ({len(t)} characters) out of range", at)
            v = int(t)
            if not lo <= v < hi:
                raise T7Error(f"{what} {v} out of range", at)
            out.append(v)
        self._finish(n)
        return out

    def int(self, what='an int'):
        return self._ints(1, what, -(1 << 31), 1 << 31)[0]

    def long(self, what='a long'):
        return self._ints(1, what, -(1 << 63), 1 << 63)[0]

    def longs(self, n, what):
        self.need(2 * n - 1, what)
        return self._ints(n, what, -(1 << 63), 1 << 63)

    def double(self, what='a number'):
        at = self.pos
        t = self._tokens(1, what)[0]
        try:
            v = float(t)
        except ValueError:
            raise T7Error(f"expected {what}, found {t[:40]!r}", at) from None
        self._finish(1)
        return v

    def chars(self, n, what):
        self.need(n, what)
        b = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        self._finish(n)
        return b

    def array(self, info, n, what):
        dt = info.dtype
        if dt.itemsize == 1:                       # char and byte storages: raw bytes
            return np.frombuffer(self.chars(n, what), dtype=dt).copy()
        self.need(2 * n - 1, what)                 # n tokens and n - 1 separators at least
        if n == 0:
            return np.empty(0, dtype=dt)
        at = self.pos
        toks = self._tokens(n, what)
        try:
            if dt.kind == 'f':
                a = np.array(toks, dtype=np.float64)
            else:
                if not all(_INT.fullmatch(t) for t in toks):
                    raise ValueError('not an integer')
                a = np.array(toks, dtype=np.int64)
                info_i = np.iinfo(dt)
                if dt != np.int64 and (a.min() < info_i.min or a.max() > info_i.max):
                    raise ValueError(f'value out of range for {dt}')
        except (ValueError, OverflowError, TypeError) as e:
            raise T7Error(f"bad {what}: {e}", at) from None
        self._finish(n)
        return a.astype(dt)


# =============================================================================================================
# reading
# =============================================================================================================
_BUSY = object()   # a tensor/storage being read (a reference to it from inside itself is an error)

# Torch classes that are not nn modules (nngraph.Node, graph.Graph, graph.Edge): Lua class name -> Python class.
# Such a class defines ``__t7_setstate__(fields, ctx)`` (called with the fields table read from the file, a dict,
# and the load's context: a dict whose list ctx['after'] holds callables run once the whole file is read, when
# every object it refers to is complete) and ``__t7_getstate__()`` (the dict of fields to write).  An nn class may
# define ``__t7_loaded__(ctx)``, called after its fields are restored.
OBJECT_CLASSES = {}


def registerObjectClass(name, cls):
    """Load the Lua class ``name`` as ``cls``, a plain Python class (not an nn module) with ``__t7_setstate__`` and
    ``__t7_getstate__``; objects of ``cls`` are saved under ``name``."""
    if not (isinstance(cls, type) and callable(getattr(cls, '__t7_setstate__', None))
            and callable(getattr(cls, '__t7_getstate__', None))):
        raise TypeError(f"registerObjectClass: {cls!r} needs __t7_setstate__ and __t7_getstate__ methods")
    if cls.__module__.split('.')[0] != __name__.split('.')[0]:
        # nngraph registers its classes (graph.Node, ...) when it loads, on first use: first, not over the user's
        _fork.load('..nngraph', __package__)
    OBJECT_CLASSES[name] = cls
    cls.__torch_name__ = name


class TableKey:
    """A Lua table (dict or list) used as a key of another table, as nngraph's maps do (``mapindex[data]``).  A
    Python dict cannot be a dict key, so the key is this wrapper: it hashes and compares by the identity of the
    table it holds (``TableKey(d) == TableKey(d)``, whatever d holds), so ``t[TableKey(d)]`` finds the entry Lua
    keyed by ``d``.  ``.value`` is the table.  torch.save writes it back as the table itself."""
    __slots__ = ('value',)

    def __init__(self, value):
        self.value = value

    def __hash__(self):
        return id(self.value)

    def __eq__(self, other):
        return isinstance(other, TableKey) and other.value is self.value

    def __repr__(self):
        return f'TableKey(<{type(self.value).__name__} at {id(self.value):#x}>)'


def _number(x):
    """Lua numbers are doubles: integral ones (within 2^53, not -0.0) load as Python ints."""
    if x.is_integer() and -_EXACT <= x <= _EXACT and not (x == 0 and math.copysign(1.0, x) < 0):
        return int(x)
    return x


def _text(b):
    return b.decode('utf-8', 'surrogateescape')


class _Loader:
    def __init__(self, inp):
        self.f = inp
        self.objects = {}      # reference index -> object
        # index of a table being read -> the containers that hold a reference to it (itself included), read from
        # inside it: if it becomes a list, only those are fixed up (scanning every container read inside it made a
        # 1 MB file of nested self-referencing tables take 7 s, quadratic in its size)
        self.open_tables = {}
        self.stack = []        # indices of the tables/objects being read, outermost first
        self.depth = 0
        self.fallback = {}     # CUDA class name -> CPU class name used (no GPU here)
        self.ctx = {'after': []}   # for the classes' __t7_setstate__ / __t7_loaded__ (see OBJECT_CLASSES)

    def load(self):
        f = self.f
        if isinstance(f, _BinaryIn) and f.end >= 4:
            tag = struct.unpack_from('<i', f.data, 0)[0]
            if not 0 <= tag <= 8:
                hint = "; is it an ascii file? load it with format='ascii'" if f.data[:1].isdigit() else ''
                raise T7Error(f"not a binary .t7 file: the first type tag is {tag}{hint}", 0)
        if isinstance(f, _AsciiIn) and f.end >= 4 and f.data[0] <= 8 and f.data[1:4] == b'\0\0\0':
            # (a binary file's first type tag: a little-endian int32 of 0 to 8)
            raise T7Error("not an ascii .t7 file: it starts with a binary type tag; is it a binary file? load it "
                          "without format='ascii'", 0)
        obj = self.complete_obj()
        if self.fallback:
            pairs = ', '.join(f'{k} as {v}' for k, v in sorted(self.fallback.items()))
            warnings.warn(f"torch.load: no CUDA device (or CuPy) here: loaded {pairs}", RuntimeWarning,
                          stacklevel=4)
        return obj

    def complete_obj(self):
        """The next object, once the classes' fix-ups it queued (ctx['after']) have run."""
        self.ctx['after'] = []
        budget = OVERLAP_FACTOR * self.f.end + OVERLAP_BYTES
        token = classes.LOADING.set({'remapped': {}, 'clone_budget': budget, 'clone_bytes_left': budget})
        try:
            obj = self.obj(False)
            for fn in self.ctx['after']:
                try:
                    fn()
                except T7Error:
                    raise
                except (TypeError, ValueError, KeyError, AttributeError) as e:
                    # a class's fix-up refusing what the file holds (nngraph's node data): the documented error,
                    # also for File.readObject, which has no catch-all as deserialize has
                    raise T7Error(f"bad object ({type(e).__name__}: {e})", self.f.pos) from None
        finally:
            classes.LOADING.reset(token)
        return obj

    def fields(self, name, where=None):
        """The fields table of a torch object (a dict; {} for an empty or nil one)."""
        fat = self.f.pos
        fields = self.obj(True, where)
        if fields is None or (isinstance(fields, list) and not fields):
            return {}
        if not isinstance(fields, dict):
            raise T7Error(f"the fields of a {name} are a {type(fields).__name__}, not a table with names", fat)
        return fields

    def obj(self, in_nn, where=None):
        f = self.f
        at = f.pos
        tag = f.int('a type tag')
        if tag == TYPE_NIL:
            return None
        if tag == TYPE_NUMBER:
            return _number(f.double())
        if tag == TYPE_BOOLEAN:
            return f.int('a boolean') == 1
        if tag == TYPE_STRING:
            return _text(self.string('a string'))
        if tag in (TYPE_TABLE, TYPE_TORCH, TYPE_RECUR_FUNCTION, TYPE_LEGACY_RECUR_FUNCTION):
            index = f.int('a reference index')
            if index in self.objects:
                o = self.objects[index]
                if o is _BUSY:
                    raise T7Error(f"object #{index} refers to itself from inside its own data", at)
                holders = self.open_tables.get(index)
                if holders is not None:
                    # the containers opened since: the innermost holds the reference, the others may hold it
                    # through it (an nn object through its fields table); one already there has those below it
                    holders.add(index)
                    for h in reversed(self.stack):
                        if h in holders:
                            break
                        holders.add(h)
                return o
            if tag != TYPE_TABLE and tag != TYPE_TORCH:
                raise T7Error("a Lua function (bytecode): luatorch_py never loads code", at)
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise T7Error(f"tables/objects nested deeper than {MAX_DEPTH}", at)
            self.stack.append(index)
            try:
                if tag == TYPE_TABLE:
                    return self.table(index, in_nn, at, where)
                return self.torch(index, at)
            finally:
                self.depth -= 1
                self.stack.pop()
        if tag == TYPE_FUNCTION:
            raise T7Error("a Lua function (bytecode): luatorch_py never loads code", at)
        raise T7Error(f"unknown type tag {tag}", at)

    def string(self, what):
        f = self.f
        at = f.pos
        n = f.int(f'the length of {what}')
        if n < 0:
            raise T7Error(f"negative length {n} for {what}", at)
        return f.chars(n, what)

    # -- tables --------------------------------------------------------------------------------------------
    def table(self, index, in_nn, at, where=None):
        """``where``: a dict to fill with the offset of each key's value (an nn object's fields, for errors)."""
        f = self.f
        n = f.int('a table size')
        if n < 0 or 2 * n * f.min_value_size > f.remaining():
            raise T7Error(f"table size {n} does not fit in the {f.remaining()} bytes left", at)
        d = {}
        self.objects[index] = d
        self.open_tables[index] = set()
        for _ in range(n):
            kat = f.pos
            k = self.obj(in_nn)
            if k is None:
                raise T7Error("a nil table key", kat)
            if isinstance(k, (dict, list)):
                k = TableKey(k)     # Lua tables as keys (nngraph's maps): keyed by identity
            if isinstance(k, float) and k != k:
                raise T7Error("a NaN table key", kat)
            if k in d:
                raise T7Error(f"duplicate table key {k!r}", kat)
            if where is not None:
                where[k] = f.pos
            d[k] = self.obj(in_nn)
        holders = self.open_tables.pop(index)
        result = d
        if n and all(type(k) is int for k in d) and min(d) == 1 and max(d) == n:
            result = [d[i] for i in range(1, n + 1)]
        elif n == 0 and in_nn:
            result = []      # inside nn objects Torch7's tables are arrays (output, gradInput, modules)
        if result is not d:
            self.objects[index] = result
            for h in holders:   # a cycle reached the table while it was read: point those references at the list
                _replace(self.objects[h], d, result)
        return result

    # -- torch objects -------------------------------------------------------------------------------------
    def torch(self, index, at):
        s = _text(self.string('a version string'))
        version = None
        if s.startswith('V '):
            try:
                version = float(s[2:])
            except ValueError:
                version = None
        if version is None:     # files from before versioning: the class name comes first
            name, version = s, 0
        else:
            name = _text(self.string('a class name'))
        ocls = OBJECT_CLASSES.get(name)
        if ocls is None:
            classes.registry()      # (nngraph registers its objects when it loads: see nn/__init__.py)
            ocls = OBJECT_CLASSES.get(name)
        if ocls is not None:
            return self.plain(index, ocls, name, at)
        kind, what = classes.lookup(name)
        if kind == 'tensor':
            return self.tensor(index, what, name, at)
        if kind == 'storage':
            return self.storage(index, what, name, at)
        if kind == 'nn':
            return self.nn(index, what, name, version, at)
        if kind in ('tds.Hash', 'tds.Vec'):
            return self.tds(index, kind, at)
        if kind == 'unsupported':
            raise T7Error(f"Torch class <{name}> is not supported: {what}", at)
        hint = (" (define or import the Python class before loading, with __torch_name__ = "
                f"{name!r} in its body, or call luatorch_py.serialization.registerClass({name!r}, YourClass))"
                if not name.startswith(('torch.', 'tds.')) else
                " (luatorch_py loads torch.*Tensor, torch.*Storage, tds.Hash, tds.Vec and the nn classes in "
                "nn.REGISTRY)")
        raise T7Error(f"unknown Torch class <{name}>{hint}", at)

    def _device(self, info, name):
        if info.cuda and not backend.cuda_available():
            from ..types import on_device
            cpu = on_device(info, False)
            self.fallback[name] = cpu.name if name.endswith('Tensor') else cpu.storage_name
            return cpu
        return info

    def storage(self, index, info, name, at):
        f = self.f
        self.objects[index] = _BUSY
        sat = f.pos
        n = f.long('a storage size')
        if n < 0:
            raise T7Error(f"negative storage size {n}", sat)
        info = self._device(info, name)
        data = f.array(info, n, f'the {n} elements of a {name}')
        if info.cuda:
            data = backend.to_device(data, True)
        st = info.storage_class._of(data)
        self.objects[index] = st
        return st

    def tensor(self, index, info, name, at):
        f = self.f
        self.objects[index] = _BUSY
        dat = f.pos
        nd = f.int('nDimension')
        if not 0 <= nd <= MAX_DIMS:
            raise T7Error(f"a {name} with {nd} dimensions (0 to {MAX_DIMS} expected)", dat)
        sizes = f.longs(nd, f'the sizes of a {name}')
        strides = f.longs(nd, f'the strides of a {name}')
        offset = f.long('a storage offset') - 1
        sat = f.pos
        st = self.obj(False)
        info = self._device(info, name)
        if st is not None and not (isinstance(st, Storage) and st._info is info):
            got = st.type() if isinstance(st, Storage) else type(st).__name__
            raise T7Error(f"the storage of a {name} is a {got}", sat)
        t = _make_tensor(info, name, sizes, strides, offset, st, dat, f.end)
        self.objects[index] = t
        return t

    def nn(self, index, cls, name, version, at):
        obj = cls.__new__(cls)
        self.objects[index] = obj
        fat = self.f.pos
        where = {}
        if getattr(cls, '__t7_header__', None) is not None:
            self.obj(False)         # nn.GPU's write puts a header object ({_type, device}) before its fields
            fat = self.f.pos
        fields = self.fields(name, where)
        loaded = None
        try:
            classes.restore(obj, name, version, fields)
            loaded = getattr(obj, '__t7_loaded__', None)
            if loaded is not None:      # a class rebuilding its Python form of Lua structures (nn.gModule)
                loaded(self.ctx)
        except classes.FieldError as e:
            raise T7Error(str(e), where.get(e.field, fat)) from None
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            if loaded is None:
                raise
            raise T7Error(f"bad {name}: {e}", fat) from None
        return obj

    def plain(self, index, cls, name, at):
        """A torch object of a registered non-nn class (OBJECT_CLASSES): its fields table, handed to the class."""
        obj = cls.__new__(cls)
        self.objects[index] = obj
        fat = self.f.pos
        fields = self.fields(name)
        try:
            obj.__t7_setstate__(fields, self.ctx)
        except (TypeError, ValueError, KeyError) as e:
            raise T7Error(f"bad {name}: {e}", fat) from None
        return obj

    def tds(self, index, kind, at):
        f = self.f
        obj = {} if kind == 'tds.Hash' else []
        self.objects[index] = obj
        n = f.long(f'the size of a {kind}')
        per = (2 if kind == 'tds.Hash' else 1) * f.min_value_size
        if n < 0 or n * per > f.remaining():
            raise T7Error(f"{kind} size {n} does not fit in the {f.remaining()} bytes left", at)
        for _ in range(n):
            if kind == 'tds.Vec':
                obj.append(self.obj(False))
            else:
                kat = f.pos
                k = self.obj(False)
                if k is None or isinstance(k, (dict, list)) or k in obj:
                    raise T7Error(f"bad tds.Hash key {type(k).__name__}", kat)
                obj[k] = self.obj(False)
        return obj


def _make_tensor(info, name, sizes, strides, offset, st, at, file_size=0):
    cls = info.tensor_class
    if not sizes or any(n == 0 for n in sizes):
        if st is None:
            return cls()
        return cls._wrap(st, st._data[0:0])
    if any(n < 0 for n in sizes) or any(s < 0 for s in strides):
        raise T7Error(f"a {name} with negative sizes or strides ({sizes}, {strides})", at)
    if any(s > MAX_STRIDE for s in strides):
        raise T7Error(f"a {name} with a stride beyond any storage ({strides})", at)
    if st is None:
        raise T7Error(f"a {name} of size {'x'.join(map(str, sizes))} without a storage", at)
    if offset < 0:
        raise T7Error(f"a {name} with storage offset {offset + 1} (1-based, >= 1 expected)", at)
    nelem = 1
    for n in sizes:
        nelem *= n
    if nelem > MAX_ELEMENTS:
        raise T7Error(f"a {name} of {nelem} elements", at)
    extent = 1 + sum((n - 1) * s for n, s in zip(sizes, strides))
    if offset + extent > len(st):
        raise T7Error(f"a {name} of size {'x'.join(map(str, sizes))} (strides {strides}, offset {offset + 1}) "
                      f"reaches past the end of its storage of {len(st)} elements", at)
    nbytes = nelem * info.dtype.itemsize
    budget = OVERLAP_FACTOR * file_size + OVERLAP_BYTES
    if nbytes > budget and classes.overlapping(sizes, strides):
        raise T7Error(f"a {name} of size {'x'.join(map(str, sizes))} with overlapping strides {strides} (an "
                      f"expanded view) would take {nbytes} bytes once copied; views like this load up to "
                      f"{OVERLAP_FACTOR} x the file's size + {OVERLAP_BYTES >> 20} MiB ({budget} bytes here)", at)
    arr = backend.as_strided(st._data, tuple(sizes), tuple(strides), offset)
    return cls._wrap(st, arr)


def _replace(container, old, new):
    """Point every reference to ``old`` held directly by ``container`` at ``new``."""
    if isinstance(container, list):
        for i, v in enumerate(container):
            if v is old:
                container[i] = new
        return
    d = container if isinstance(container, dict) else getattr(container, '__dict__', None)
    if d is not None:
        for k, v in d.items():
            if v is old:
                d[k] = new
        stale = [k for k in d if isinstance(k, TableKey) and k.value is old]
        for k in stale:                         # a key that is the table itself
            d[TableKey(new)] = d.pop(k)


_stack_lock = threading.Lock()
_stack_users = [0, None, None]      # loads/saves in progress, the limit before the first, the limit it set


def _after_fork_in_child():
    """A forked child has only the thread that forked: the lock (taken before the fork, so that the counts are
    whole) is one nobody there would release."""
    global _stack_lock
    _stack_lock = threading.Lock()


_fork.hold_across_fork(lambda: _stack_lock, _after_fork_in_child)


class _deep_stack:
    """Python's recursion limit raised enough for MAX_DEPTH levels while a load/save runs (restored by the last
    one to finish, unless someone else changed it meanwhile)."""

    def __enter__(self):
        with _stack_lock:
            if _stack_users[0] == 0:
                before = sys.getrecursionlimit()
                want = before + _FRAMES_PER_LEVEL * MAX_DEPTH + 500
                sys.setrecursionlimit(want)
                _stack_users[1:] = [before, want]
            _stack_users[0] += 1

    def __exit__(self, *exc):
        with _stack_lock:
            _stack_users[0] -= 1
            if _stack_users[0] == 0 and sys.getrecursionlimit() == _stack_users[2]:
                sys.setrecursionlimit(_stack_users[1])
        return False


def deserialize(data, format='binary'):
    """The object in ``data`` (bytes written by torch.serialize, Lua's torch.serialize or a .t7 file)."""
    _check_format(format, 'torch.deserialize', ('binary', 'ascii', 'b32', 'b64'))
    if isinstance(data, str):
        raise TypeError("torch.deserialize: expected bytes (e.g. from torch.serialize or a file opened 'rb'), "
                        "got a str")
    if isinstance(data, memoryview):
        data = data.tobytes()
    elif not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"torch.deserialize: expected bytes, got {type(data).__name__}")
    inp = _AsciiIn(bytes(data)) if format == 'ascii' else _BinaryIn(data, _LONG_SIZE[format])
    loader = _Loader(inp)
    try:
        with _deep_stack():
            return loader.load()
    except T7Error:
        raise
    except RecursionError:
        raise T7Error("nested too deeply for Python's stack", inp.pos) from None
    except MemoryError:
        # every size is checked against the file before allocating, so this is a bug or a nearly full memory:
        # still the documented error, not numpy's
        raise T7Error("out of memory while loading", inp.pos) from None
    except Exception as e:   # a damaged file that got past the checks: still one documented error type
        raise T7Error(f"cannot load ({type(e).__name__}: {e})", inp.pos) from e


def load(filename, format='binary'):
    """``torch.load(filename, format='binary')``: the object saved in a .t7 file.

    format: 'binary' (Torch7's default; 8-byte longs, as 64-bit Linux/macOS), 'b64' (the same), 'b32' (files
    from builds with 4-byte longs, e.g. Windows or 32-bit) or 'ascii'.  Raises T7Error (a ValueError) for a
    damaged or unsupported file."""
    _check_format(format, 'torch.load', ('binary', 'ascii', 'b32', 'b64'))
    with open(os.fspath(filename), 'rb') as fh:
        data = fh.read()
    return deserialize(data, format)


# =============================================================================================================
# writing
# =============================================================================================================
class _BinaryOut:
    def __init__(self, fh, long_size=8, order='<'):
        """long_size 4: longs (tensor geometry, LongStorage elements) as int32, as Torch7's File:longSize(4)."""
        self.fh = fh
        self.order = order
        self._long = 'q' if long_size == 8 else 'i'

    def int(self, v):
        self.fh.write(struct.pack(self.order + 'i', v))

    def long(self, v):
        self.fh.write(struct.pack(self.order + self._long, v))

    def double(self, v):
        self.fh.write(struct.pack(self.order + 'd', v))

    def longs(self, vals):
        if vals:
            self.fh.write(struct.pack(f'{self.order}{len(vals)}{self._long}', *vals))

    def chars(self, b):
        self.fh.write(b)

    def array(self, info, a):
        dt = np.dtype(np.int32) if (info.dtype == np.int64 and self._long == 'i') else info.dtype
        a = np.ascontiguousarray(a, dtype=dt.newbyteorder(self.order))
        if a.size:
            self.fh.write(a.data.cast('B'))


class _AsciiOut:
    def __init__(self, fh):
        self.fh = fh

    def int(self, v):
        self.fh.write(b'%d\n' % v)

    long = int

    def double(self, v):
        self.fh.write(('%.17g\n' % v).encode())

    def longs(self, vals):
        if vals:
            self.fh.write(' '.join(str(int(v)) for v in vals).encode() + b'\n')

    def chars(self, b):
        if b:
            self.fh.write(b)
            self.fh.write(b'\n')

    def array(self, info, a):
        n = a.shape[0]
        if n == 0:
            return
        kind = info.dtype
        if kind.itemsize == 1:
            self.chars(np.ascontiguousarray(a).tobytes())
            return
        fmt = '%.17g' if kind == np.float64 else '%.9g' if kind == np.float32 else '%d'
        step = 1 << 16
        vals = a.tolist()
        for i in range(0, n, step):
            chunk = ' '.join(map(fmt.__mod__, vals[i:i + step]))
            self.fh.write(chunk.encode())
            self.fh.write(b' ' if i + step < n else b'\n')


def _path(path):
    """'obj' followed by the segments: ['key'], [i], .field"""
    out = []
    while path is not None:
        path, seg = path
        out.append(seg)
    return ''.join(reversed(out))


class _Saver:
    def __init__(self, out):
        self.o = out
        self.memo = {}    # id -> (reference index, object kept alive)
        self.n = 0

    def number(self, v, path):
        if isinstance(v, (bool, np.bool_)):
            raise AssertionError
        if isinstance(v, (int, np.integer)):
            v = int(v)
            if not -_EXACT <= v <= _EXACT:
                try:
                    exact = float(v) == v
                except OverflowError:
                    exact = False
                if not exact:
                    raise ValueError(f"torch.save: the int {v} at {_path(path)} has no exact Lua number (a double "
                                     f"holds integers up to 2^53); save it as a string or a LongTensor")
            return float(v)
        return float(v)

    def obj(self, v, path, depth):
        o = self.o
        if v is None:
            o.int(TYPE_NIL)
        elif isinstance(v, (bool, np.bool_)):
            o.int(TYPE_BOOLEAN)
            o.int(1 if v else 0)
        elif isinstance(v, (int, np.integer, float, np.floating)):
            x = self.number(v, path)
            o.int(TYPE_NUMBER)
            o.double(x)
        elif isinstance(v, str):
            self.string(v.encode('utf-8', 'surrogateescape'))
        elif isinstance(v, (bytes, bytearray)):
            self.string(bytes(v))
        elif isinstance(v, (dict, list, tuple, Tensor, Storage)) or _is_typed(v) or _is_plain(v):
            # an nn object's fields table (written inline below) is one level deeper than the object
            if depth + (1 if _is_typed(v) or _is_plain(v) else 0) >= MAX_DEPTH:
                raise ValueError(f"torch.save: {_path(path)} is nested deeper than {MAX_DEPTH} tables/objects")
            table = isinstance(v, (dict, list, tuple))
            o.int(TYPE_TABLE if table else TYPE_TORCH)
            ref = self.memo.get(id(v))
            if ref is not None:
                o.int(ref[0])
                return
            self.n += 1
            self.memo[id(v)] = (self.n, v)
            o.int(self.n)
            lua_table = getattr(type(v), '__t7_table__', None)
            if table and lua_table is not None:
                v = lua_table(v)        # a Python form of a Lua structure (nngraph's node data): Lua's layout
            if isinstance(v, dict):
                self.dict(v, path, depth, '[{!r}]')
            elif table:
                o.int(len(v))
                for i, x in enumerate(v):
                    o.int(TYPE_NUMBER)
                    o.double(float(i + 1))
                    self.obj(x, (path, f'[{i}]'), depth + 1)
            elif isinstance(v, Tensor):
                self.header('V 1', v._info.name)
                self.tensor(v, path, depth)
            elif isinstance(v, Storage):
                self.header('V 1', v._info.storage_name)
                self.storage(v)
            elif _is_plain(v):
                self.header('V 1', type(v).__torch_name__)
                self.fields(v.__t7_getstate__(), path, depth)
            else:
                self.header(f'V {classes.version_of(v)}', type(v).__torch_name__)
                fields = classes.lua_fields(v)
                if getattr(type(v), '__t7_header__', None) is not None:
                    self.obj(v.__t7_header__(fields), (path, '<header>'), depth + 1)    # nn.GPU's
                self.fields(fields, path, depth)
        else:
            t = type(v)
            hint = ''
            if isinstance(v, np.ndarray) or backend.is_cuda_array(v):
                hint = ' (wrap arrays with torch.fromNumpy)'
            elif callable(v):
                hint = ' (functions and code are never saved)'
            raise TypeError(f"torch.save: cannot save a {t.__module__}.{t.__qualname__} at {_path(path)}{hint}; "
                            f"savable: None, bool, int, float, str, bytes, list, tuple, dict, tensors, storages, "
                            f"nn modules and criterions")

    def string(self, b):
        self.o.int(TYPE_STRING)
        self.o.int(len(b))
        self.o.chars(b)

    def header(self, version, name):
        self.o.int(len(version))
        self.o.chars(version.encode())
        b = name.encode()
        self.o.int(len(b))
        self.o.chars(b)

    def fields(self, fields, path, depth):
        """A torch object's fields table (a new table: memoized so its id stays its own while the save runs)."""
        self.n += 1
        self.memo[id(fields)] = (self.n, fields)
        self.o.int(TYPE_TABLE)
        self.o.int(self.n)
        self.dict(fields, path, depth + 1, '.{}')

    def dict(self, d, path, depth, segfmt):
        if any(isinstance(k, bytes) for k in d) and any(isinstance(k, str) for k in d):
            # 'a' and b'a' are one Lua string: a file with both keys would not load (a duplicate key)
            seen = {}
            for k in d:
                if isinstance(k, (str, bytes)):
                    b = k.encode('utf-8', 'surrogateescape') if isinstance(k, str) else k
                    if b in seen:
                        raise ValueError(f"torch.save: the keys {seen[b]!r} and {k!r} of {_path(path)} are the same "
                                         f"Lua string; keep one of them")
                    seen[b] = k
        self.o.int(len(d))
        for k, x in d.items():
            kp = (path, segfmt.format(k))
            if isinstance(k, (str, bytes, bool, np.bool_)):
                self.obj(k, kp, depth + 1)
            elif isinstance(k, (int, np.integer, float, np.floating)):
                if isinstance(k, (float, np.floating)) and k != k:
                    raise ValueError(f"torch.save: a NaN key at {_path(kp)} (Lua tables cannot have one)")
                self.obj(k, kp, depth + 1)
            elif isinstance(k, TableKey):
                self.obj(k.value, kp, depth + 1)        # a Lua table as a key: the table itself
            elif isinstance(k, (Tensor, Storage, dict, list)) or _is_typed(k) or _is_plain(k):
                self.obj(k, kp, depth + 1)              # (a dict: a hashable subclass, nngraph's node data)
            else:
                raise TypeError(f"torch.save: cannot save a key of type {type(k).__name__} ({k!r}) at {_path(path)}; "
                                f"keys must be str, bytes, bool, int, float, tensors or modules")
            self.obj(x, kp, depth + 1)

    def tensor(self, t, path, depth):
        o = self.o
        a = t._a
        if a.size == 0:
            o.int(0)
            o.long(1)
            o.int(TYPE_NIL)
            return
        o.int(a.ndim)
        o.longs(list(a.shape))
        o.longs(list(t._strides()))
        o.long(t.storageOffset() + 1)
        self.obj(t._s, (path, '.storage()'), depth + 1)

    def storage(self, st):
        data = st._data
        self.o.long(int(data.shape[0]))
        self.o.array(st._info, backend.to_numpy(data))


def _is_plain(v):
    """A torch object of a registered non-nn class (OBJECT_CLASSES)."""
    return OBJECT_CLASSES.get(getattr(type(v), '__torch_name__', None)) is type(v)


_TYPED = []


def _is_typed(v):
    if not _TYPED:
        from ..nn.module import TypedObject
        _TYPED.append(TypedObject)
    return isinstance(v, _TYPED[0])


def _write(fh, obj, format):
    out = _AsciiOut(fh) if format == 'ascii' else _BinaryOut(fh)
    with _deep_stack():
        _Saver(out).obj(obj, (None, 'obj'), 0)


def serialize(obj, format='binary'):
    """``torch.serialize(obj, format='binary')``: the bytes torch.save would write ('binary' or 'ascii')."""
    _check_format(format, 'torch.serialize', ('binary', 'ascii'))
    buf = io.BytesIO()
    _write(buf, obj, format)
    return buf.getvalue()


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):
        pass            # someone else's process (or a pid we cannot ask about): leave its file alone
    return True


def _remove_stale_temps(folder, base):
    """Delete the temporary files that earlier saves to ``folder/base`` left when their process was killed
    (SIGKILL, power loss): only names of our own pattern for this target (``.<base>.<pid>.<8 hex>.tmp``) whose
    pid is not a live process.  POSIX only (elsewhere pids cannot be asked about this way)."""
    if os.name != 'posix':
        return
    pat = re.compile(re.escape(f'.{base}.') + r'([0-9]{1,10})\.[0-9a-f]{8}\.tmp')
    try:
        names = os.listdir(folder)
    except OSError:
        return
    me = os.getpid()
    for name in names:
        m = pat.fullmatch(name)
        if m is None:
            continue
        pid = int(m.group(1))
        if pid == me or pid <= 0 or _pid_alive(pid):
            continue    # our own pid: another thread's save in progress
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            pass


def save(filename, obj, format='binary'):
    """``torch.save(filename, obj, format='binary')``: write ``obj`` in Torch7's .t7 format ('binary' or 'ascii').

    The data go to a temporary file beside ``filename`` (beside the file a symbolic link names; devices and pipes
    are written directly, as Torch7) that replaces it only once complete, keeping its mode, so a failure
    (an unsavable object, a full disk, an interrupt) leaves any previous file as it was, and no temporary file;
    temporary files that killed processes left for this target are removed by the next save to it.  Raises TypeError for
    an object that cannot be saved, naming it and where it is (e.g. ``obj['model'].modules[2].fn``)."""
    _check_format(format, 'torch.save', ('binary', 'ascii'))
    if not isinstance(filename, (str, bytes, os.PathLike)):
        swapped = ' (the order is torch.save(path, obj), as Torch7)' if isinstance(obj, (str, os.PathLike)) else ''
        raise TypeError(f"torch.save: expected a file path first, got a {type(filename).__name__}{swapped}")
    filename = os.fsdecode(filename)     # (a bytes path too: the temporary file's name below is a str)
    # Torch7 opens the target (fopen "w"): it writes through a symbolic link, into a device or a pipe, and keeps
    # the file's permissions and owner.  The renamed temporary file must do the same: replace the link's target
    # (not the link), write a non-regular file (/dev/null, a FIFO) in place, and carry the old file's mode.
    try:
        old = os.stat(filename)         # (through links, as open() goes: /dev/stdout to a pipe has no real path)
    except OSError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        with open(filename, 'wb') as fh:
            _write(fh, obj, format)
        return
    target = os.path.realpath(filename)
    folder, base = os.path.split(target)
    _remove_stale_temps(folder, base)
    tmp = os.path.join(folder, f'.{base}.{os.getpid()}.{os.urandom(4).hex()}.tmp')
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0), 0o666)
    try:
        with os.fdopen(fd, 'wb') as fh:
            if old is not None:
                os.chmod(tmp, stat.S_IMODE(old.st_mode))
                if hasattr(os, 'fchown'):
                    try:
                        os.fchown(fd, old.st_uid, old.st_gid)
                    except OSError:
                        pass    # (only root, or the owner for its own groups, may give the file back its owner)
            _write(fh, obj, format)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

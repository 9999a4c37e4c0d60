"""Torch7's small utilities: ``torch.Timer``, ``torch.class`` (Python: ``torch.class_``), ``torch.type``,
``torch.isTypeOf``, ``torch.pointer`` (torch7's Timer.c and init.lua)."""
import re
import time

try:
    import resource
except ImportError:          # (Windows)
    resource = None
import os

__all__ = ['Timer', 'class_', 'type', 'isTypeOf', 'pointer', 'TorchObject']

_builtin_type = type


def _cpu_times():
    if resource is not None:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime, r.ru_stime
    t = os.times()
    return t.user, t.system


class Timer:
    """``torch.Timer()``: starts at once.  ``time()`` is ``{'real', 'user', 'sys'}`` in seconds since the start (or the
    last ``reset()``), not counting the time between ``stop()`` and ``resume()``.  user/sys are this process's CPU
    times (all its threads), as Torch7's getrusage."""

    def __init__(self):
        self._total = (0.0, 0.0, 0.0)
        self._running = False
        self.resume()

    @staticmethod
    def _now():
        u, s = _cpu_times()
        return time.perf_counter(), u, s

    def reset(self):
        """Zero the times; a running timer keeps running from now, a stopped one stays stopped."""
        self._total = (0.0, 0.0, 0.0)
        self._start = self._now()
        return self

    def _elapsed(self):
        """(real, user, sys) so far: the stopped total plus the running stretch."""
        if not self._running:
            return self._total
        return tuple(t + n - s for t, n, s in zip(self._total, self._now(), self._start))

    def stop(self):
        if self._running:
            self._total = self._elapsed()
            self._running = False
        return self

    def resume(self):
        if not self._running:
            self._start = self._now()
            self._running = True
        return self

    def time(self):
        tot = self._elapsed()
        return {'real': tot[0], 'user': tot[1], 'sys': tot[2]}

    def isRunning(self):
        return self._running

    def __repr__(self):
        return f"torch.Timer [status: {'running' if self._running else 'stopped'}]"     # Timer.c's __tostring__


def lua_tostring(v):
    """Lua's tostring of a plain value: true/false, nil, floats as '%.14g' (integral ones without '.0', 1e14 as
    '1e+14', -0.0 as '-0', as LuaJIT)."""
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if v is None:
        return 'nil'
    if isinstance(v, float):
        return '%.14g' % v
    return str(v)


# -- torch.class --------------------------------------------------------------------------------------------
class TorchObject:
    """The base of the classes ``torch.class_`` makes without an nn parent: saved by torch.save as Lua's object of
    that class (its fields table); constructing it calls a Lua-style ``__init`` method when the class has one."""

    def __init__(self, *args, **kwargs):
        init = _lua_init(_builtin_type(self))
        if init is not None:
            init(self, *args, **kwargs)

    def __t7_getstate__(self):
        return dict(vars(self))

    def __t7_setstate__(self, fields, ctx=None):
        self.__dict__.update(fields)


def _lua_init(cls):
    for c in cls.__mro__:
        f = c.__dict__.get('__init')
        if f is not None:
            return f
    return None


def _resolve(parent):
    if parent is None or isinstance(parent, _builtin_type):
        return parent
    from .serialization import classes, t7
    cls = classes.registry().get(parent) or t7.OBJECT_CLASSES.get(parent)
    if cls is None:
        raise ValueError(f"torch.class: unknown parent class {parent!r} (define it first, with torch.class_ or as "
                         f"a registered nn class)")
    return cls


def class_(name, parent=None, module=None, replace=False):
    """Lua's ``local Foo, parent = torch.class('pkg.Foo', 'pkg.Parent')`` in Python:
    ``Foo, parent = torch.class_('pkg.Foo', 'pkg.Parent')`` returns a new class named ``name`` (and its parent),
    registered so torch.load builds ``name`` objects as it and torch.save writes them under ``name``.

    The parent is a class name (an nn class such as 'nn.Module', or one made by torch.class_) or a class; without
    one the class derives from TorchObject.  Add methods by assignment (``Foo.updateOutput = f``) or subclass it;
    an ``__init`` method (Lua's constructor) is called by ``Foo(...)`` for TorchObject classes.  ``module``, a dict
    or an object, also receives the class under its short name (Lua's module table)."""
    from .nn.module import TypedObject
    from .serialization import classes, registerClass
    from .serialization.t7 import OBJECT_CLASSES, registerObjectClass
    if not isinstance(name, str) or not name:
        raise TypeError(f"torch.class: expected a class name (str), got {name!r}")
    base = _resolve(parent)
    short = name.rsplit('.', 1)[-1]
    if not replace and (name in classes.registry() or name in OBJECT_CLASSES):
        raise ValueError(f"torch.class: class {name!r} already exists (pass replace=True to redefine it)")
    if base is not None and issubclass(base, TypedObject):
        cls = _builtin_type(short, (base,), {'__module__': 'torch.class', '__qualname__': short})
        registerClass(name, cls, replace=True)
    else:
        bases = (base,) if base is not None else (TorchObject,)
        if not issubclass(bases[0], TorchObject):
            raise TypeError(f"torch.class: parent {parent!r} is neither an nn class nor a torch.class_ class")
        cls = _builtin_type(short, bases, {'__module__': 'torch.class', '__qualname__': short})
        registerObjectClass(name, cls)
    if module is not None:
        if isinstance(module, dict):
            module[short] = cls
        else:
            setattr(module, short, cls)
    return cls, base


# -- type queries -------------------------------------------------------------------------------------------
def type(obj):
    """Lua's ``torch.type``: the Torch class name ('torch.FloatTensor', 'nn.Linear', ...) or Lua's type name of a
    plain value: 'number', 'string', 'boolean', 'nil', 'table' (dict/list/tuple), 'function', 'userdata'."""
    from .functions import typename
    name = typename(obj)
    if name is not None:
        return name
    if obj is None:
        return 'nil'
    kind = _builtin_type(obj)
    if isinstance(obj, bool) or kind.__module__ == 'numpy' and kind.__name__ in ('bool', 'bool_'):
        return 'boolean'       # (numpy's bool too: (a > 0).all() is one, and not a number)
    if isinstance(obj, (int, float)) or kind.__module__ == 'numpy' and hasattr(obj, 'dtype') \
            and getattr(obj, 'ndim', 1) == 0:
        return 'number'
    if isinstance(obj, (str, bytes)):
        return 'string'
    if isinstance(obj, (dict, list, tuple)):
        return 'table'
    if callable(obj):
        return 'function'
    return 'userdata'


_LUA_CLASSES = {'a': 'A-Za-z', 'd': '0-9', 'l': 'a-z', 'u': 'A-Z', 's': r' \t\n\r\f\v', 'w': 'A-Za-z0-9',
                'x': '0-9A-Fa-f', 'p': re.escape('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'), 'c': r'\x00-\x1f\x7f'}


def _lua_pattern(p):
    """A Python regex for the Lua pattern ``p`` (classes %a %d %l %s %u %w %x %p %c and their capitals, sets,
    . ^ $ and the quantifiers * + - ?)."""
    out, i, n = [], 0, len(p)
    while i < n:
        c = p[i]
        if c == '%' and i + 1 < n:
            d = p[i + 1]
            if d.lower() in _LUA_CLASSES:
                s = _LUA_CLASSES[d.lower()]
                out.append(f'[{s}]' if d.islower() else f'[^{s}]')
            else:
                out.append(re.escape(d))
            i += 2
        elif c == '[':
            j = i + 1
            body = ''
            if j < n and p[j] == '^':
                body, j = '^', j + 1
            while j < n and p[j] != ']':
                if p[j] == '%' and j + 1 < n:
                    d = p[j + 1]
                    body += _LUA_CLASSES.get(d, re.escape(d)) if d.islower() or not d.isalpha() else re.escape(d)
                    j += 2
                else:
                    body += '\\' + p[j] if p[j] in '\\[' else p[j]
                    j += 1
            out.append(f'[{body}]')
            i = j + 1
        elif c == '-':
            out.append('*?')
            i += 1
        elif c in '*+?':
            out.append(c)
            i += 1
        elif c == '.':
            out.append('.')
            i += 1
        elif c == '^' and i == 0:
            out.append('^')
            i += 1
        elif c == '$' and i == n - 1:
            out.append('$')
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    return ''.join(out)


def _utility_classes():
    """Torch7's classes of the utilities, with their Lua names, most derived first.  The Python classes carry no
    ``__torch_name__``, so torch.save keeps refusing them (Lua cannot save them either)."""
    from .random import Generator
    from .file import File, DiskFile, MemoryFile
    from .cmdline import CmdLine
    from .tester import Tester, TestSuite
    return ((Generator, 'torch.Generator'), (Timer, 'torch.Timer'), (CmdLine, 'torch.CmdLine'),
            (DiskFile, 'torch.DiskFile'), (MemoryFile, 'torch.MemoryFile'), (File, 'torch.File'),
            (Tester, 'torch.Tester'), (TestSuite, 'torch.TestSuite'))


def lua_class_names(obj):
    """The Lua class names of a utility object (a DiskFile is a 'torch.DiskFile' and a 'torch.File')."""
    return [name for cls, name in _utility_classes() if isinstance(obj, cls)]


def _torch_names(obj):
    from .functions import typename
    if isinstance(obj, _builtin_type):
        return []
    names = []
    for c in _builtin_type(obj).__mro__:
        nm = c.__dict__.get('__torch_name__')
        if isinstance(nm, str) and nm not in names:
            names.append(nm)
    first = typename(obj)
    if first is not None and first not in names:
        names.insert(0, first)
    names += [nm for nm in lua_class_names(obj) if nm not in names]
    return names


def _tensor_class_name(cls):
    """'torch.LongTensor' for torch.LongTensor, 'torch.FloatStorage' for torch.FloatStorage; torch.Tensor is the
    default type's class, as in Lua."""
    from .tensor import Tensor, getdefaulttensortype
    from .storage import Storage
    if cls is Tensor:
        return getdefaulttensortype()
    info = getattr(cls, '_info', None)
    if info is None or not isinstance(cls, _builtin_type):
        return None
    if issubclass(cls, Tensor):
        return info.name
    if issubclass(cls, Storage):
        return info.storage_name
    return None


def isTypeOf(obj, typeSpec):
    """Lua's ``torch.isTypeOf(obj, typeSpec)``: whether obj's class or one of its parents is ``typeSpec`` -- a class
    name (exact match), a Lua pattern ('nn%..*Linear', matched anywhere) or a class."""
    if not isinstance(typeSpec, str):
        spec = getattr(typeSpec, '__torch_name__', None)
        if spec is None:
            spec = next((nm for cls, nm in _utility_classes() if cls is typeSpec), None)
        if spec is None:
            spec = _tensor_class_name(typeSpec)
        if not isinstance(spec, str):
            raise TypeError(f"isTypeOf: type must be provided as a [pattern] string or a torch class, got {typeSpec!r}")
        typeSpec = spec
    rx = re.compile(_lua_pattern(typeSpec))
    for name in _torch_names(obj):
        m = rx.search(name)
        if m and (m.group(0) != typeSpec or m.group(0) == name):
            return True
    return False


def pointer(obj):
    """Lua's ``torch.pointer``: a number unique to the object while it lives (Python's id; as in Lua, a view of a
    tensor is another object with another pointer)."""
    return id(obj)

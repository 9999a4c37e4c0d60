"""Lua class names <-> Python classes, and the per-class field fixes between Torch7's fields and ours.

Reading and writing (t7.py) only move values; everything that knows about particular classes is here:

* which Lua class names are tensors, storages, nn objects (via ``nn.REGISTRY``) or tds containers;
* the version number written after "V " (Torch7's ``__version``: 2 for the BatchNormalization family);
* the 0-based <-> 1-based conversion of the fields a class lists in ``_lua_index_fields``;
* hooks for fields that Torch7 renamed or added over the years (old files) and for values whose "none"
  differs between Lua and Python (LookupTable's paddingValue);
* the Python caches (``_type``, ``_tinfo``, ``_tcls``, ``train``) set on a module built from a file.
"""
import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor, default_info
from ..types import TYPES, on_device

TENSOR_TYPES = {info.name: info for info in TYPES.values()}
STORAGE_TYPES = {info.storage_name: info for info in TYPES.values()}

# Torch7 classes that exist in Lua but have no luatorch_py type: a clear error instead of "unknown class"
UNSUPPORTED = {
    'torch.HalfTensor': 'half-precision tensors have no luatorch_py type; convert them with :float() in Lua',
    'torch.HalfStorage': 'half-precision storages have no luatorch_py type; convert them with :float() in Lua',
    'torch.CudaHalfTensor': 'half-precision tensors have no luatorch_py type; convert them with :cuda() in Lua',
    'torch.CudaHalfStorage': 'half-precision storages have no luatorch_py type',
    'nn.gModule': 'nngraph is not part of luatorch_py',
    'nngraph.Node': 'nngraph is not part of luatorch_py',
    'nngraph.JustElement': 'nngraph is not part of luatorch_py',
    'nngraph.JustTable': 'nngraph is not part of luatorch_py',
    'torch.Generator': 'save the random state with torch.getRNGState() (a ByteTensor) instead',
}

# Torch7's class __version for the classes that have one (written as "V <n>"; others write "V 1").
# A Python class can also declare ``__torch_version__``.
VERSIONS = {
    'nn.BatchNormalization': 2,
    'nn.SpatialBatchNormalization': 2,
    'nn.VolumetricBatchNormalization': 2,
}


def registry():
    from ..nn.module import REGISTRY
    return REGISTRY


def lookup(name):
    """('tensor', TypeInfo) | ('storage', TypeInfo) | ('nn', class) | ('tds.Hash', None) | ('tds.Vec', None) |
    ('unsupported', reason) | (None, None) for a Lua class name."""
    info = TENSOR_TYPES.get(name)
    if info is not None:
        return 'tensor', info
    info = STORAGE_TYPES.get(name)
    if info is not None:
        return 'storage', info
    cls = registry().get(name)
    if cls is not None:
        return 'nn', cls
    if name in ('tds.Hash', 'tds.Vec'):
        return name, None
    if name in UNSUPPORTED:
        return 'unsupported', UNSUPPORTED[name]
    return None, None


def version_of(obj):
    """Torch7's class version: the class's ``__torch_version__``, else VERSIONS, else 1."""
    cls = type(obj)
    v = getattr(cls, '__torch_version__', None)
    if v is None:
        v = VERSIONS.get(cls.__torch_name__, 1)
    return v


# -- 0-based (Python) <-> 1-based (Lua) index fields ----------------------------------------------------------
def _is_int(v):
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def remap_storage(t, fn):
    """A new tensor with t's geometry over a new storage holding fn(t's storage data) (same length and dtype).
    Works on the storage, not the view, so that the memory used is bounded by the storage's size even for views
    with zero strides (a view from a file never costs more than the file holds)."""
    data = t._s._data
    with np.errstate(all='ignore'):
        new = fn(data).astype(data.dtype, copy=False)
    st = t._info.storage_class._of(new)
    if t._a.size == 0:
        return type(t)._wrap(st, new[0:0])
    return type(t)._wrap(st, backend.as_strided(new, t._a.shape, t._strides(), t.storageOffset()))


def _shift_tensor(t, up):
    """A new tensor: t's values >= 0 plus one (up) / values >= 1 minus one (down), others as they are."""
    xp = backend.array_module(t._a)
    if up:
        return remap_storage(t, lambda d: xp.where(d >= 0, d + 1, d))
    return remap_storage(t, lambda d: xp.where(d >= 1, d - 1, d))


def to_lua_index(v):
    """Python's 0-based index/dim -> Lua's: +1 for values >= 0; negative values (counted from the end in both
    languages) stay; lists/tuples (e.g. Transpose's pairs) are converted element by element, tensors of indices
    (e.g. SpatialMaxPooling's ``indices``) into a new tensor."""
    if isinstance(v, Tensor):
        return _shift_tensor(v, True)
    if _is_int(v):
        v = int(v)
        return v + 1 if v >= 0 else v
    if isinstance(v, float) and v.is_integer():
        return v + 1 if v >= 0 else v
    if isinstance(v, (list, tuple)):
        return [to_lua_index(x) for x in v]
    return v


def from_lua_index(v):
    """Lua's 1-based index/dim -> Python's: -1 for values >= 1; 0 and negative values stay."""
    if isinstance(v, Tensor):
        return _shift_tensor(v, False)
    if _is_int(v):
        return v - 1 if v > 0 else v
    if isinstance(v, float) and v.is_integer():
        return v - 1 if v > 0 else v
    if isinstance(v, list):
        return [from_lua_index(x) for x in v]
    return v


# -- per-class hooks ----------------------------------------------------------------------------------------
# READ_FIXES[lua name](fields, version): on the fields as Lua stored them (1-based, Lua's names), before the
# index conversion.  WRITE_FIXES[lua name](obj, fields): on the fields about to be written (already 1-based).
READ_FIXES = {}
WRITE_FIXES = {}


def _reads(*names):
    def deco(fn):
        for n in names:
            READ_FIXES[n] = fn
        return fn
    return deco


def _writes(*names):
    def deco(fn):
        for n in names:
            WRITE_FIXES[n] = fn
        return fn
    return deco


@_reads('nn.BatchNormalization', 'nn.SpatialBatchNormalization', 'nn.VolumetricBatchNormalization')
def _bn_read(f, version):
    # nn's BatchNormalization:read: files before version 2 kept running_std = 1/sqrt(var + eps)
    std = f.get('running_std')
    if version < 2 and isinstance(std, Tensor):
        eps = f.get('eps', 1e-5)
        f['running_var'] = remap_storage(std, lambda d: d ** -2 - eps)
        del f['running_std']


@_reads('nn.Dropout')
def _dropout_read(f, version):
    # files from before Dropout's v2 have no `v2` field: nil in Lua, i.e. the v1 scaling
    f.setdefault('v2', False)


@_reads('nn.LookupTable')
def _lookup_read(f, version):
    # Lua stores 0 (no valid 1-based index) for "no padding"; luatorch_py uses -1
    pv = f.get('paddingValue')
    if pv is None or (isinstance(pv, (int, float)) and not isinstance(pv, bool) and pv <= 0):
        f['paddingValue'] = -1


@_writes('nn.LookupTable')
def _lookup_write(obj, f):
    pv = f.get('paddingValue')
    if pv is None or (isinstance(pv, (int, float, np.integer)) and not isinstance(pv, bool) and pv < 0):
        f['paddingValue'] = 0


@_reads('nn.SpatialConvolution')
def _conv_read(f, version):
    # nn's SpatialConvolution backCompatibility: `padding` became padW/padH; 2-D weights became 4-D (unlike
    # SpatialConvolutionMM, whose weights stay 2-D)
    if 'padding' in f:
        p = f.pop('padding')
        f.setdefault('padW', p)
        f.setdefault('padH', p)
    f.setdefault('padW', 0)
    f.setdefault('padH', 0)
    try:
        shape = (int(f['nOutputPlane']), int(f['nInputPlane']), int(f['kH']), int(f['kW']))
    except (KeyError, TypeError, ValueError):
        return
    for k in ('weight', 'gradWeight'):
        w = f.get(k)
        if isinstance(w, Tensor) and w.dim() == 2 and w.nElement() == int(np.prod(shape)) and w.isContiguous():
            f[k] = w.view(shape)


@_reads('nn.SpatialMaxPooling', 'nn.SpatialAveragePooling')
def _pool_read(f, version):
    # fields added after the first versions (nil in old files)
    f.setdefault('padW', 0)
    f.setdefault('padH', 0)
    f.setdefault('ceil_mode', False)


@_reads('nn.SpatialAveragePooling')
def _avgpool_read(f, version):
    _pool_read(f, version)
    f.setdefault('count_include_pad', True)
    # Torch7 multiplies back by kW*kH when `divide` is nil (old files: sum pooling)
    f.setdefault('divide', False)


# -- fields out (Python -> Lua) and in (Lua -> Python) ----------------------------------------------------------
def lua_fields(obj):
    """The table written for a module/criterion: its __dict__ minus the Python caches (names starting with `_`,
    except `_type`), with the 0-based index fields made 1-based."""
    cls = type(obj)
    idx = cls._lua_index_fields
    out = {}
    for k, v in obj.__dict__.items():
        if not isinstance(k, str) or (k.startswith('_') and k != '_type'):
            continue
        out[k] = to_lua_index(v) if k in idx else v
    fix = WRITE_FIXES.get(cls.__torch_name__)
    if fix is not None:
        fix(obj, out)
    return out


def restore(obj, name, version, fields):
    """Fill ``obj`` (made by ``cls.__new__``) from the fields table Lua (or we) wrote for class ``name``."""
    from ..nn.module import Module
    from ..nn.criterion import Criterion
    cls = type(obj)
    f = {k: v for k, v in fields.items() if isinstance(k, str) and (not k.startswith('_') or k == '_type')}
    fix = READ_FIXES.get(name)
    if fix is not None:
        fix(f, version)
    for k in cls._lua_index_fields:
        if k in f:
            f[k] = from_lua_index(f[k])
    obj.__dict__.update(f)

    # the tensor type: `_type`, else the type of the first tensor field Torch7 always has
    info = TENSOR_TYPES.get(f.get('_type')) if isinstance(f.get('_type'), str) else None
    if info is None:
        for k in ('weight', 'output', 'gradInput'):
            v = f.get(k)
            if isinstance(v, Tensor):
                info = v._info
                break
    if info is None:
        info = default_info()
    if info.cuda and not backend.cuda_available():
        info = on_device(info, False)
    obj._type = info.name
    obj._tinfo = info
    obj._tcls = info.tensor_class

    # fields Torch7's constructors always set (absent from files of objects never trained/evaluated)
    d = obj.__dict__
    if isinstance(obj, Module):
        if 'output' not in d:
            d['output'] = info.tensor_class()
        if 'gradInput' not in d:
            d['gradInput'] = info.tensor_class()
        if 'train' not in d:
            d['train'] = True
    elif isinstance(obj, Criterion):
        if 'output' not in d:
            d['output'] = 0.0
        if 'gradInput' not in d:
            d['gradInput'] = info.tensor_class()
    return obj

"""Lua class names <-> Python classes, and the per-class field fixes between Torch7's fields and ours.

Reading and writing (t7.py) only move values; everything that knows about particular classes is here:

* which Lua class names are tensors, storages, nn objects (via ``nn.REGISTRY``) or tds containers;
* the version number written after "V " (Torch7's ``__version``: 2 for the BatchNormalization family);
* the 0-based <-> 1-based conversion of the fields a class lists in ``_lua_index_fields``;
* hooks for fields that Torch7 renamed or added over the years (old files) and for values whose "none"
  differs between Lua and Python (LookupTable's paddingValue);
* the Python caches (``_type``, ``_tinfo``, ``_tcls``, ``train``) set on a module built from a file.
"""
import contextvars
import math
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
    'nn.VolumetricMaxPooling': 2,       # (its read sets ceil_mode = false for version 1)
    'nn.LookupTable': 4,
}


# cudnn.torch's classes that compute what an nn class computes, with the same fields (plus cudnn's own: `groups`,
# `inplace`, `mode`/`algorithm` strings, `iSize`, saved BatchNormalization buffers, convolution algorithm choices).
# A file naming one loads as the nn class; the extra fields are kept on the object (and written back, under the nn
# name: Lua's nn ignores fields it does not use).  The READ_FIXES below bridge the few differences.
TWINS = {'cudnn.' + n: 'nn.' + n for n in (
    'SpatialConvolution SpatialFullConvolution VolumetricConvolution VolumetricFullConvolution '
    'SpatialMaxPooling SpatialAveragePooling VolumetricMaxPooling VolumetricAveragePooling '
    'ReLU Tanh Sigmoid SoftMax LogSoftMax SpatialSoftMax SpatialLogSoftMax SpatialCrossMapLRN '
    'BatchNormalization SpatialBatchNormalization VolumetricBatchNormalization TemporalConvolution').split()}
TWINS['cudnn.ClippedReLU'] = 'nn.HardTanh'      # min(max(x, 0), ceiling): HardTanh(0, ceiling)

# cudnn classes with no nn counterpart: a clear error instead of "unknown class"
_NO_TWIN = ('has no nn equivalent in luatorch_py (nor in Lua\'s nn); in Lua, convert the model with '
            'cudnn.convert(model, nn) before saving, or replace this module')
for _n in ('RNN RNNTanh RNNReLU LSTM BLSTM GRU BGRU VolumetricSoftMax VolumetricLogSoftMax '
           'SpatialCrossEntropyCriterion VolumetricCrossEntropyCriterion SpatialDivisiveNormalization').split():
    UNSUPPORTED['cudnn.' + _n] = _NO_TWIN
UNSUPPORTED['nn.DataParallelTable'] = (
    "is cunn's multi-GPU container (its one class), which luatorch_py does not have; in Lua, save the model it "
    "replicates, dpt:get(1), instead")
UNSUPPORTED['cudnn.SpatialDivisiveNormalization'] = (
    "is cudnn's cross-channel divisive normalization (fields size, alpha, beta, K), not "
    "nn.SpatialDivisiveNormalization (a kernel and a threshold): it has no nn equivalent in luatorch_py (nor in "
    "Lua's nn); replace this module")


# twins whose cudnn class is not a subclass of the nn class (cudnn._Pooling3D's): nn's read never runs on them
_NOT_SUBCLASSES = frozenset(('cudnn.VolumetricMaxPooling',))


def twin_of(name):
    """The nn class name a cudnn.* / cunn.* class name loads as (cunn's modules are nn's, on the GPU), else name."""
    if name in TWINS:
        return TWINS[name]
    if name.startswith('cunn.'):
        return 'nn.' + name[5:]
    return name


def registry():
    """nn.REGISTRY, every file of nn and nngraph imported (they load on first use: see nn/__init__.py)."""
    from .. import nn
    nn._load_all()
    from ..nn.module import REGISTRY
    return REGISTRY


def registerClass(name, cls, replace=False):
    """Load the Lua class ``name`` (e.g. 'nn.MyModule', 'mypkg.Block') as the Python class ``cls`` (an nn.Module or
    nn.Criterion subclass); objects of ``cls`` are then saved under ``name`` too.  Replacing a class already
    registered under ``name`` (a built-in like 'nn.Linear', or another user class) needs ``replace=True``."""
    from ..nn.module import TypedObject
    if not isinstance(name, str) or not name:
        raise TypeError(f"registerClass: expected a class name (str), got {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, TypedObject)):
        raise TypeError(f"registerClass: expected an nn.Module or nn.Criterion subclass, got {cls!r}")
    reg = registry()
    prev = reg.get(name)
    if prev is not None and prev is not cls and not replace:
        raise ValueError(f"registerClass: {name!r} is already {prev.__module__}.{prev.__qualname__}; pass "
                         f"replace=True to load files naming {name!r} as {cls.__qualname__}")
    reg[name] = cls
    cls.__torch_name__ = name


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
    twin = twin_of(name)
    if twin != name:
        cls = registry().get(twin)
        if cls is not None:
            return 'nn', cls
        if name.startswith('cudnn.'):
            return 'unsupported', f'it loads as {twin}, which luatorch_py does not have yet'
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


# What one load has spent (set by t7's loader while it reads an object; None otherwise): 'remapped', the storages
# remap_storage made, {(id(storage), how): (storage, new storage)}; 'clone_bytes_left', what copies of overlapping
# buffers (_check_tensors) may still take.  Without them a file whose many modules point at one big storage, or
# at one expanded view, cost that storage (or view) once per module: a 16 MB file took 640 MB, a 7 kB one 300 MB.
LOADING = contextvars.ContextVar('luatorch_py_t7_loading', default=None)


def remap_storage(t, fn, how=None):
    """A new tensor with t's geometry over a new storage holding fn(t's storage data) (same length and dtype).
    Works on the storage, not the view, so that the memory used is bounded by the storage's size even for views
    with zero strides (a view from a file never costs more than the file holds).  While a file loads, the views
    of one storage remapped the same way (``how``, a hashable naming fn) share one new storage, as they shared
    the old one."""
    memo = LOADING.get()
    memo = memo['remapped'] if memo is not None and how is not None else None
    hit = memo.get((id(t._s), how)) if memo is not None else None
    if hit is not None:
        st = hit[1]
        new = st._data
    else:
        data = t._s._data
        with np.errstate(all='ignore'):
            new = fn(data).astype(data.dtype, copy=False)
        st = t._info.storage_class._of(new)
        if memo is not None:
            memo[(id(t._s), how)] = (t._s, st)
    if t._a.size == 0:
        return type(t)._wrap(st, new[0:0])
    return type(t)._wrap(st, backend.as_strided(new, t._a.shape, t._strides(), t.storageOffset()))


def _shift_tensor(t, up):
    """A new tensor: t's values >= 0 plus one (up) / values >= 1 minus one (down), others as they are."""
    xp = backend.array_module(t._a)
    if up:
        return remap_storage(t, lambda d: xp.where(d >= 0, d + 1, d), 'index up')
    return remap_storage(t, lambda d: xp.where(d >= 1, d - 1, d), 'index down')


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


@_reads('nn.ClassNLLCriterion')
def _nll_read(f, version):
    # Lua's idiom for padding targets is target 0 with ignoreIndex 0: targets shift by one here (0 is Lua's class
    # 1), so Lua's 0 is Python's -1 (values >= 1 are shifted by the index conversion, negatives stay)
    v = f.get('ignoreIndex')
    if isinstance(v, (numbers.Real, np.number)) and not isinstance(v, (bool, np.bool_)) and v == 0:
        f['ignoreIndex'] = -1


@_writes('nn.ClassNLLCriterion')
def _nll_write(obj, f):
    if f.get('ignoreIndex') == -1:      # (back to Lua's padding target 0)
        f['ignoreIndex'] = 0


@_reads('nn.BatchNormalization', 'nn.SpatialBatchNormalization', 'nn.VolumetricBatchNormalization')
def _bn_read(f, version):
    # nn's BatchNormalization:read: files before version 2 kept running_std = 1/sqrt(var + eps)
    std = f.get('running_std')
    if version < 2 and isinstance(std, Tensor):
        eps = f.get('eps', 1e-5)
        # a number, not a tensor: `std ** -2 - eps` with a (2^40, 1) zero-stride eps asked numpy for 512 TiB
        if not isinstance(eps, (int, float)) or isinstance(eps, bool):
            raise FieldError('eps', f"nn.BatchNormalization.eps must be a number, the file has "
                                    f"a {type(eps).__name__}")
        f['running_var'] = remap_storage(std, lambda d: d ** -2 - eps, ('running_std', eps))
        del f['running_std']


@_reads('nn.Dropout')
def _dropout_read(f, version):
    # files from before Dropout's v2 have no `v2` field: nil in Lua, i.e. the v1 scaling
    f.setdefault('v2', False)


# fields added over the years whose nil Torch7's methods still read as the old default
@_reads('nn.Threshold', 'nn.ReLU')
def _threshold_read(f, version):
    f.setdefault('inplace', False)      # (before 2015; Threshold:validateParameters)


@_reads('nn.Sqrt')
def _sqrt_read(f, version):
    f.setdefault('eps', 0)              # (before 2015; Sqrt:updateOutput)


@_reads('nn.HardTanh')
def _hardtanh_read(f, version):
    # before 2015's custom range HardTanh clamped to [-1, 1]; HardTanh:updateOutput fills them in
    f.setdefault('min_val', -1)
    f.setdefault('max_val', 1)


@_reads('nn.HingeEmbeddingCriterion')
def _hinge_read(f, version):
    f.setdefault('sizeAverage', True)   # (before 2015's batch mode: Torch7 averages when it is nil)


@_reads('nn.CosineEmbeddingCriterion')
def _cosine_embedding_read(f, version):
    f.setdefault('sizeAverage', False)  # (before 2015's batch mode: `if self.sizeAverage` sums when it is nil)


@_reads('nn.L1Penalty')
def _l1penalty_read(f, version):
    # before 2015 L1Penalty had no provideOutput: `self.provideOutput == true` is false for nil, the gradient of the
    # penalty alone (the constructor's default is true)
    f.setdefault('provideOutput', False)


@_reads('nn.SparseLinear')
def _sparselinear_read(f, version):
    # before 2016's batched rewrite: no doGradInput (nil: no gradInput) nor sparseUpdate (nil: updateParameters and
    # zeroGradParameters take the dense path until the first zeroGradParameters), as Torch7's methods read them
    f.setdefault('doGradInput', False)
    f.setdefault('sparseUpdate', None)
    f.setdefault('weightDecay', 0)


@_reads('nn.VolumetricMaxPooling')
def _vmaxpool_read(f, version):
    if version < 2:                     # Torch7's VolumetricMaxPooling:read: ceil mode came with version 2
        f['ceil_mode'] = False


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


# -- buffers Lua's methods use without creating them (Lua's constructors do; luatorch_py's modules keep none under
# these names, and fields starting with `_` are not written): without them Lua's forward/backward/type() on the file
# fails with "attempt to index field ... (a nil value)"
@_writes('nn.Add')
def _add_write(obj, f):
    f.setdefault('_ones', obj._tcls(1).fill(1))     # (a batched forward reads its size(1))


@_writes('nn.ClassSimplexCriterion')
def _simplex_write(obj, f):
    f.setdefault('_target', obj._tcls())


@_writes('nn.MaskedSelect')
def _maskedselect_write(obj, f):
    # as Lua's MaskedSelect:type leaves them: CudaTensors for torch.CudaTensor, Long/Byte otherwise
    cuda = obj._type == 'torch.CudaTensor'
    long_cls = TENSOR_TYPES['torch.CudaTensor' if cuda else 'torch.LongTensor'].tensor_class
    byte_cls = TENSOR_TYPES['torch.CudaTensor' if cuda else 'torch.ByteTensor'].tensor_class
    f.setdefault('_maskIndices', long_cls())
    f.setdefault('_maskIndexBuffer', long_cls())
    f.setdefault('_maskIndexBufferCPU', TENSOR_TYPES['torch.FloatTensor'].tensor_class())
    f.setdefault('_gradBuffer', obj._tcls())
    f.setdefault('_gradMask', byte_cls())


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


# -- cudnn.* names (see TWINS): run before the nn twin's own fix -------------------------------------------------
@_reads('cudnn.SpatialConvolution', 'cudnn.SpatialFullConvolution', 'cudnn.VolumetricConvolution',
        'cudnn.VolumetricFullConvolution')      # cudnn.TemporalConvolution: _cudnn_tconv_read calls it
def _cudnn_conv_read(f, version):
    g = f.get('groups')
    if g is not None and g != 1:
        raise FieldError('groups', f"cudnn's grouped convolution (groups={g!r}) has no nn equivalent in luatorch_py: "
                                   f"nn's convolutions have groups=1; split it into {g!r} convolutions in Lua")


@_reads('cudnn.TemporalConvolution')
def _cudnn_tconv_read(f, version):
    # cudnn's is a SpatialConvolution over a (time x inputFrameSize) plane: its kH/dH are nn's kW/dW (and its
    # kW, dW are inputFrameSize and 1); the weight (outputFrameSize, kH * inputFrameSize) is laid out as nn's
    _cudnn_conv_read(f, version)
    if f.get('padH', 0) not in (0, None) or f.get('padW', 0) not in (0, None):
        raise FieldError('padH', f"cudnn.TemporalConvolution with padding (padH={f.get('padH')!r}) has no nn "
                                  "equivalent: nn.TemporalConvolution does not pad")
    if 'kH' in f:
        f['kW'] = f['kH']
    if 'dH' in f:
        f['dW'] = f['dH']


@_reads('cudnn.ReLU')
def _cudnn_relu_read(f, version):
    # cudnn's ReLU is a Pointwise module (only `inplace`); nn's is Threshold(0, 0)
    f.setdefault('threshold', 0)
    f.setdefault('val', 0)
    f.setdefault('inplace', False)


@_reads('cudnn.ClippedReLU')
def _cudnn_clipped_read(f, version):
    c = f.get('ceiling')
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not c > 0:
        raise FieldError('ceiling', f"cudnn.ClippedReLU.ceiling must be a number > 0, the file has {c!r}")
    f['min_val'], f['max_val'] = 0, c
    f.setdefault('inplace', False)


@_reads('cudnn.SpatialAveragePooling')
def _cudnn_avgpool_read(f, version):
    # cudnn always averages (nn's `divide` nil would mean sum pooling) and counts the padding
    if f.get('divide') is False:
        raise FieldError('divide', "cudnn.SpatialAveragePooling.divide = false (sum pooling) is not supported by "
                                   "cudnn either")
    f['divide'] = True
    if f.get('ceil_mode') is None:        # cudnn's backwardCompatible
        f['ceil_mode'], f['padW'], f['padH'] = False, 0, 0
    f['count_include_pad'] = True


@_reads('cudnn.VolumetricAveragePooling')
def _cudnn_vavgpool_read(f, version):
    if f.get('ceil_mode'):
        raise FieldError('ceil_mode', "cudnn.VolumetricAveragePooling with ceil_mode has no nn equivalent: "
                                      "nn.VolumetricAveragePooling always rounds the output size down")
    for k in ('padT', 'padW', 'padH'):
        if f.get(k, 0) not in (0, None):
            raise FieldError(k, f"cudnn.VolumetricAveragePooling with padding ({k}={f[k]!r}) has no nn equivalent: "
                                "nn.VolumetricAveragePooling does not pad")


@_reads('cudnn.SpatialCrossMapLRN')
def _cudnn_lrn_read(f, version):
    if 'K' in f:                          # cudnn's old name for k
        f.setdefault('k', f.pop('K'))


# -- validation of loaded fields ------------------------------------------------------------------------------
# restore() fills objects without calling their constructors, so the values a constructor would refuse (a
# negative kernel size, a dilation of -10^8, a zero stride) must be refused here: the forward passes trust them
# and hand them to as_strided/BLAS, where they read outside the input or crash.  The checks are declared once,
# by Torch7's field names (the same names mean the same thing across nn's classes, so a new class using them is
# covered without an entry), plus per-class relations (weight sizes, adj < d).  Integers are bounded to C's
# int32, the type THNN's functions take them as.
class FieldError(ValueError):
    """A loaded field a constructor would refuse; t7.py turns it into a T7Error with the field's offset."""

    def __init__(self, field, message):
        self.field = field
        super().__init__(message)


_INT_MAX = (1 << 31) - 1


def _need_int(cls_name, k, v, lo):
    if not _is_int(v) or not lo <= v <= _INT_MAX:
        want = {1: '> 0', 0: '>= 0'}.get(lo, 'in int32 range')
        raise FieldError(k, f"{cls_name}.{k} must be an integer {want} (as the constructor requires), "
                            f"the file has {v!r}")


_POSITIVE, _NONNEG, _ANYINT = 1, 0, -_INT_MAX - 1

FIELD_CHECKS = {}
for _k in ('kW kH kT dW dH dT dilationW dilationH dilationT nInputPlane nOutputPlane inputFrameSize '
           'outputFrameSize nIndex nfeatures scale_factor').split():
    FIELD_CHECKS[_k] = _POSITIVE
for _k in 'padW padH padT adjW adjH'.split():
    FIELD_CHECKS[_k] = _NONNEG
for _k in ('pad_l pad_r pad_t pad_b dimension index offset length nInputDims numInputDims inputDimension '
           'outputDimension dim pad pos nInputDim numElements nelement').split():
    FIELD_CHECKS[_k] = _ANYINT

# per class (and its subclasses): extra bounds and the sizes of tensor fields the other fields imply
CLASS_CHECKS = {}
# fields a class bounds by its own check instead of the by-name rule: PReLU's nOutputPlane is 0 for one slope
# shared by every plane (Torch7's default, nn.PReLU())
OWN_BOUNDS = {'nn.PReLU': ('nOutputPlane',)}


def _checks(*names):
    def deco(fn):
        for n in names:
            CLASS_CHECKS.setdefault(n, []).append(fn)
        return fn
    return deco


def _numel(cls_name, f, field, want):
    t = f.get(field)
    if isinstance(t, Tensor) and t.nElement() and t.nElement() != want:
        raise FieldError(field, f"{cls_name}.{field} has {t.nElement()} elements ({'x'.join(map(str, t.size()))}); "
                                f"the module's other fields make {want}")


def _weights(cls_name, f, wn, bn):
    for k in ('weight', 'gradWeight'):
        _numel(cls_name, f, k, wn)
    for k in ('bias', 'gradBias'):
        _numel(cls_name, f, k, bn)


@_checks('nn.SpatialConvolution', 'nn.SpatialConvolutionMM', 'nn.SpatialDilatedConvolution')
def _conv2d_check(n, f):
    if all(k in f for k in ('nInputPlane', 'nOutputPlane', 'kW', 'kH')):
        _weights(n, f, f['nOutputPlane'] * f['nInputPlane'] * f['kH'] * f['kW'], f['nOutputPlane'])


@_checks('nn.SpatialFullConvolution')
def _fullconv_check(n, f):
    for a, d in (('adjW', 'dW'), ('adjH', 'dH')):
        if a in f and d in f and f[a] > f[d] - 1:
            raise FieldError(a, f"{n}.{a} must be smaller than {d} (as the constructor requires), the file has "
                                f"{a}={f[a]}, {d}={f[d]}")
    if all(k in f for k in ('nInputPlane', 'nOutputPlane', 'kW', 'kH')):
        _weights(n, f, f['nOutputPlane'] * f['nInputPlane'] * f['kH'] * f['kW'], f['nOutputPlane'])


@_checks('nn.VolumetricConvolution')
def _conv3d_check(n, f):
    if all(k in f for k in ('nInputPlane', 'nOutputPlane', 'kT', 'kW', 'kH')):
        _weights(n, f, f['nOutputPlane'] * f['nInputPlane'] * f['kT'] * f['kH'] * f['kW'], f['nOutputPlane'])


@_checks('nn.TemporalConvolution')
def _tconv_check(n, f):
    if all(k in f for k in ('inputFrameSize', 'outputFrameSize', 'kW')):
        _weights(n, f, f['outputFrameSize'] * f['inputFrameSize'] * f['kW'], f['outputFrameSize'])


@_checks('nn.Linear')
def _linear_check(n, f):
    if 'weight' not in f and 'gradWeight' not in f:
        return      # the module of an nn.WeightNorm (whose write drops weight and whose read rebuilds it)
    w = _dims(n, f, 'weight', 2)
    _weights(n, f, w.nElement(), w.size(0))


@_checks('nn.SpatialCrossMapLRN')
def _lrn_check(n, f):
    if 'size' in f:
        _need_int(n, 'size', f['size'], _POSITIVE)


@_checks('nn.SpatialAdaptiveMaxPooling', 'nn.SpatialAdaptiveAveragePooling')
def _adaptive_check(n, f):
    for k in ('W', 'H'):
        if k in f:
            _need_int(n, k, f[k], _POSITIVE)


@_checks('nn.PReLU')
def _prelu_check(n, f):
    if 'nOutputPlane' in f:
        _need_int(n, 'nOutputPlane', f['nOutputPlane'], _NONNEG)
        w = f.get('weight')
        if f['nOutputPlane'] == 0 and isinstance(w, Tensor) and w.nElement() > 1:
            raise FieldError('nOutputPlane', f"{n}.nOutputPlane is 0 (one slope shared by every plane), but the "
                                             f"file's weight has {w.nElement()} elements")
        _numel(n, f, 'weight', f['nOutputPlane'] or 1)


def _real(n, f, k, ok, want):
    """f[k], when present, must be a real number with ok(value) (else FieldError saying ``want``)."""
    if k not in f:
        return
    v = f[k]
    if isinstance(v, bool) or not isinstance(v, (numbers.Real, np.floating, np.integer)) or v != v or not ok(v):
        raise FieldError(k, f"{n}.{k} must be {want} (as the constructor requires), the file has {v!r}")


@_checks('nn.VolumetricMaxPooling')
def _vmaxpool_check(n, f):
    for p, k in (('padT', 'kT'), ('padW', 'kW'), ('padH', 'kH')):
        if p in f and k in f and f[p] > f[k] // 2:
            raise FieldError(p, f"{n}.{p} must be at most half of {k} (as the constructor requires), the file "
                                f"has {p}={f[p]}, {k}={f[k]}")


@_checks('nn.Dropout', 'nn.SpatialDropout')
def _dropout_check(n, f):
    _real(n, f, 'p', lambda v: 0 <= v < 1, 'a number with 0 <= p < 1')


@_checks('nn.RReLU')
def _rrelu_check(n, f):
    _real(n, f, 'lower', lambda v: v >= 0, 'a number >= 0')
    _real(n, f, 'upper', lambda v: v >= f.get('lower', 0), 'a number >= lower')


@_checks('nn.HardTanh')
def _hardtanh_check(n, f):
    _real(n, f, 'min_val', lambda v: True, 'a number')
    _real(n, f, 'max_val', lambda v: v > f.get('min_val', -math.inf), 'a number larger than min_val')


@_checks('nn.MultiMarginCriterion')
def _multimargin_check(n, f):
    _real(n, f, 'p', lambda v: v in (1, 2), '1 or 2')


@_checks('nn.Normalize')
def _normalize_check(n, f):
    _real(n, f, 'p', lambda v: v > 0, 'a number > 0')


@_checks('nn.PairwiseDistance')
def _pairwise_check(n, f):
    _real(n, f, 'norm', lambda v: 0 < v < math.inf, 'a finite number > 0')


@_checks('nn.NarrowTable')
def _narrowtable_check(n, f):
    if 'length' in f:
        _need_int(n, 'length', f['length'], _NONNEG)


def _dims(n, f, k, nd):
    t = f.get(k)
    if not isinstance(t, Tensor) or t.dim() != nd:
        got = f"a {t.dim()}-D tensor" if isinstance(t, Tensor) else f"a {type(t).__name__}"
        raise FieldError(k, f"{n}.{k} must be a {nd}-D tensor, the file has {got}")
    return t


@_checks('nn.Bilinear')
def _bilinear_check(n, f):
    w = _dims(n, f, 'weight', 3)
    _weights(n, f, w.nElement(), w.size(0))


@_checks('nn.LookupTable')
def _lookup_check(n, f):
    w = _dims(n, f, 'weight', 2)
    _numel(n, f, 'gradWeight', w.nElement())


@_checks('nn.BatchNormalization', 'nn.SpatialBatchNormalization', 'nn.VolumetricBatchNormalization')
def _bn_check(n, f):
    m = f.get('running_mean')
    if isinstance(m, Tensor):
        for k in ('running_var', 'weight', 'bias', 'gradWeight', 'gradBias'):
            _numel(n, f, k, m.nElement())


def overlapping(sizes, strides):
    """Whether two elements of a view may share memory (zero strides, or strides too small for the sizes inside
    them); False is certain, True may be a false alarm for exotic interleavings (as numpy's quick test)."""
    reach = 0
    for st, n in sorted((st, n) for n, st in zip(sizes, strides) if n > 1):
        if st <= reach:
            return True
        reach += (n - 1) * st
    return False


def _overlaps(t):
    return overlapping(t._a.shape, t._strides())


_BUFFERS = ('output', 'gradInput')       # rewritten by every forward/backward


def _copy_buffer(cls_name, k, v):
    """A contiguous copy of an overlapping buffer, within what the load may still spend on such copies."""
    load = LOADING.get()
    if load is not None:
        load['clone_bytes_left'] -= v.nElement() * v._a.itemsize
        if load['clone_bytes_left'] < 0:
            raise FieldError(k, f"{cls_name}.{k} is a view whose elements overlap (sizes {list(v._a.shape)}, strides "
                                f"{list(v._strides())}); the copies of such buffers would take more than this file "
                                f"may cost ({load['clone_budget']} bytes: 16 x its size + 16 MiB)")
    return v.clone()


# modules that compute with parameters of any strides (products, not flat views): Torch7's tied weights, e.g. an
# autoencoder's dec.weight = enc.weight:t(), load as saved, still sharing the storage
_ANY_STRIDES = frozenset(('nn.Linear',))


def _check_tensors(cls_name, f):
    """No field of a module may be a view whose elements overlap (a zero-stride `output` made Linear's gemv
    write four copies of one number); parameters must be contiguous (the modules view them flat)."""
    for k, v in f.items():
        if k in _BUFFERS:
            # buffers: an overlapping one (Replicate's expand() output, or a hostile file's) loads as a contiguous
            # copy with the same values, which the next forward can write into (the loader bounds such views'
            # sizes, see t7.OVERLAP_FACTOR, and all these copies together, see LOADING)
            if isinstance(v, Tensor) and _overlaps(v):
                f[k] = _copy_buffer(cls_name, k, v)
            elif isinstance(v, list):      # in place: the list may be shared (nngraph's nodes hold it too)
                v[:] = [_copy_buffer(cls_name, k, x) if isinstance(x, Tensor) and _overlaps(x) else x for x in v]
            continue
        if isinstance(v, Tensor) and v.nElement() > 1:
            if _overlaps(v):
                raise FieldError(k, f"{cls_name}.{k} is a view whose elements overlap (sizes {list(v._a.shape)}, "
                                    f"strides {list(v._strides())}); a module's tensors hold one value per element")
            if k in ('weight', 'bias', 'gradWeight', 'gradBias') and not v.isContiguous() and cls_name not in _ANY_STRIDES:
                raise FieldError(k, f"{cls_name}.{k} is not contiguous (sizes {list(v._a.shape)}, strides "
                                    f"{list(v._strides())}); save it after :contiguous() in Lua")


_BASES = ('nn.Module', 'nn.Criterion', 'nn.Container', None)


def validate(obj, name, f):
    """Raise FieldError for a loaded field the class's constructor would refuse (see FIELD_CHECKS).  The
    by-name checks apply to luatorch_py's classes and their subclasses (a user's own module may use `dim` or
    `index` for something else); the tensor checks to every module."""
    from ..nn.module import _builtin
    if any(_builtin(k) and k.__dict__.get('__torch_name__') not in _BASES for k in type(obj).__mro__):
        own_bounds = {k for c in type(obj).__mro__ for k in OWN_BOUNDS.get(c.__dict__.get('__torch_name__'), ())}
        for k, v in f.items():
            lo = FIELD_CHECKS.get(k)
            if lo is not None and v is not None and k not in own_bounds:
                if k == 'pad' and isinstance(v, list) and ('padW' in f or 'padH' in f):
                    continue    # a cudnn convolution's descriptor geometry ({padH, padW}), not nn.Padding's pad
                _need_int(name, k, v, lo)
    seen = set()
    own = name if registry().get(name) is not None else twin_of(name)    # cudnn.X: nn.X's checks
    for klass in type(obj).__mro__:
        tn = klass.__dict__.get('__torch_name__')
        for fn in CLASS_CHECKS.get(own if klass is type(obj) else tn, ()):
            if fn not in seen:
                seen.add(fn)
                fn(name, f)
    _check_tensors(name, f)


# -- fields out (Python -> Lua) and in (Lua -> Python) ----------------------------------------------------------
def lua_fields(obj):
    """The table written for a module/criterion: its __dict__ minus the Python caches (names starting with `_`,
    except `_type`), with the 0-based index fields made 1-based."""
    cls = type(obj)
    idx = cls._lua_index_fields
    out = {}
    settle = getattr(obj, '_settle', None)
    if settle is not None:
        settle()        # (fields a pass left to be written when read: nn.module.LazyField)
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
    twin = twin_of(name)
    if twin != name and registry().get(name) is None:
        # a cudnn.*/cunn.* name loaded as its nn twin: then nn's own fixes (old-file fields, BN's running_std)
        fix = READ_FIXES.get(twin)
        if fix is not None:
            # (a class that is not a subclass of its twin in Lua never runs the twin's read, whose version checks
            # are for the twin's old files: its fields are taken as the twin's current version's)
            fix(f, VERSIONS.get(twin, 1) if name in _NOT_SUBCLASSES else version)
    for k in cls._lua_index_fields:
        if k in f:
            f[k] = from_lua_index(f[k])
    validate(obj, name, f)
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

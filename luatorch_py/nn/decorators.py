"""Decorators: containers of exactly one module that change how it is called (Torch7's nn.Decorator family):
Decorator, Bottle, WeightNorm, DontCast, GPU, NaN, Profile.

As in Torch7 the wrapped module is ``modules[0]`` (Lua's ``modules[1]``), so a decorator is saved as a Container.
"""
import copy as _copy
import math
import time

import numpy as np

from .. import backend
from ..backend import array_module
from ..tensor import Tensor, CPU_LONG_STORAGE
from ..types import type_info
from .containers import Container
from .module import Module, resized, sizestr
from .shape import _view_as


def _module_arg(who, module):
    if not isinstance(module, Module):
        raise TypeError(f"{who}: expected an nn module to decorate, got {type(module).__name__}")
    return module


class Decorator(Container):
    """Decorator(module): forwards every call to ``module`` (the base of the decorators)."""

    def __init__(self, module):
        super().__init__()
        self.modules = [_module_arg(f"nn.{type(self).__name__}", module)]

    def updateOutput(self, input):
        self.output = self.modules[0].updateOutput(input)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = self.modules[0].updateGradInput(input, gradOutput)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        self.modules[0].accGradParameters(input, gradOutput, scale)

    def accUpdateGradParameters(self, input, gradOutput, lr):
        self.modules[0].accUpdateGradParameters(input, gradOutput, lr)

    def sharedAccUpdateGradParameters(self, input, gradOutput, lr):
        self.modules[0].sharedAccUpdateGradParameters(input, gradOutput, lr)

    def __repr__(self):
        return f"{self.__torch_name__} @ {self.modules[0]!r}"

    @staticmethod
    def decorate(cls):
        """Give class ``cls`` (whose ``modules[0]`` is the decorated module) Decorator's forwarding methods
        (Torch7's helper for multiple inheritance)."""
        for k in ('updateOutput', 'updateGradInput', 'accGradParameters', 'accUpdateGradParameters',
                  'sharedAccUpdateGradParameters', '__repr__'):
            setattr(cls, k, Decorator.__dict__[k])
        return cls


# -- Bottle ------------------------------------------------------------------------------------------------------
def _folded_shape(shape, nb):
    """(product of the ``nb`` leading sizes, ``shape`` with them folded into the next dim)."""
    fold = math.prod(shape[:nb])
    return fold, (fold * shape[nb],) + shape[nb + 1:]


class Bottle(Decorator):
    """Bottle(module, nInputDim=2, nOutputDim=nInputDim): applies a module made for ``nInputDim``-D inputs to an
    input with more dims, by folding the extra leading dims into the first (a view: the input must be contiguous,
    as Torch7's view) and unfolding the output's first dim back."""

    def __init__(self, module, nInputDim=2, nOutputDim=None):
        super().__init__(module)
        for n in (nInputDim, nOutputDim if nOutputDim is not None else nInputDim):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"nn.Bottle: nInputDim and nOutputDim must be positive ints, got {nInputDim!r}, "
                                 f"{nOutputDim!r}")
        self.nInputDim = int(nInputDim)
        self.nOutputDim = self.nInputDim if nOutputDim is None else int(nOutputDim)
        self.dimDelta = self.nInputDim - self.nOutputDim
        # the folded sizes, kept as Torch7 keeps them (tensors, also written to .t7 files)
        self.inShape = self._tcls(self.nInputDim)
        self.outShape = self._tcls(self.nOutputDim)

    def _takes_any_layout(self):
        # it views its input, as Torch7's: a Sequential hands it Torch7's contiguous layout (nn/_layout.py)
        return False

    def _record(self, name, shape):
        """Write ``shape`` into the size tensor ``name`` (only when it changed: no transfer on a steady loop)."""
        key = '_' + name + '_t'
        if self.__dict__.get(key) != shape:
            t = self.__dict__[name]
            resized(t, (len(shape),))
            t._a[...] = t._info.xp.asarray(np.asarray(shape, dtype=t._a.dtype))
            self.__dict__[key] = shape

    def updateOutput(self, input):
        t = self._coerce(input)
        x = t._a
        nb = x.ndim - self.nInputDim          # leading dims to fold (Torch7's batchDims - 1)
        if nb > 0 and not x.flags.c_contiguous:
            raise ValueError(f"{self!r}: the input of size {sizestr(x.shape)} is not contiguous (Torch7's Bottle views "
                             f"it): call contiguous() first")
        inner = self.modules[0]
        if nb <= 0:
            out = inner.updateOutput(t)
            _view_as(self, 'output', out, out._a.shape)
            return self.output
        fold, inshape = _folded_shape(x.shape, nb)
        out = inner.updateOutput(t.view(inshape))
        if out.dim() != self.nOutputDim:
            raise ValueError(f"{self!r}: wrong number of output dims on the module: expected {self.nOutputDim}, "
                             f"got {out.dim()} (size {sizestr(out._a.shape)})")
        outshape = tuple(out._a.shape)
        self._record('inShape', inshape)
        self._record('outShape', outshape)
        _view_as(self, 'output', out, x.shape[:nb] + (outshape[0] // fold,) + outshape[1:])
        return self.output

    def _folded(self, input, gradOutput):
        t = self._coerce(input)
        g = self._coerce(gradOutput, 'gradOutput')
        if t.dim() <= self.nInputDim:
            return t, g, False
        _, inshape = _folded_shape(t._a.shape, t.dim() - self.nInputDim)
        out = self.modules[0].output
        if g._a.size != out._a.size:
            raise ValueError(f"{self!r}: gradOutput of size {sizestr(g._a.shape)} does not match the output of size "
                             f"{sizestr(self.output._a.shape)}")
        return t.view(inshape), g.view(out._a.shape), True

    def updateGradInput(self, input, gradOutput):
        t, g, folded = self._folded(input, gradOutput)
        inner = self.modules[0]
        if inner.gradInput is None:
            self.gradInput = None
            return None
        gi = inner.updateGradInput(t, g)
        if gi is None:
            self.gradInput = None
            return None
        _view_as(self, 'gradInput', gi, self._coerce(input)._a.shape if folded else gi._a.shape)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        t, g, _ = self._folded(input, gradOutput)
        self.modules[0].accGradParameters(t, g, scale)

    def accUpdateGradParameters(self, input, gradOutput, lr):
        # (Torch7's Bottle inherits Decorator's, which hands the module the unfolded input)
        t, g, _ = self._folded(input, gradOutput)
        self.modules[0].accUpdateGradParameters(t, g, lr)


# -- WeightNorm --------------------------------------------------------------------------------------------------
class WeightNorm(Decorator):
    """WeightNorm(module, outputDim=0): reparametrizes the ``weight`` of ``module`` as w = g * v / ||v|| (Salimans
    and Kingma), the norm taken over every dim but ``outputDim`` (0-based; Lua's default 1).  The parameters are
    ``v`` (nOut x rest), ``g`` (nOut) and the module's ``bias`` (shared); ``weight`` is recomputed from them by every
    training forward and by evaluate().  As Torch7: reset draws v from N(0, 2 / rest) and sets g = ||v|| and
    bias = 0; files hold v and g but not weight/gradWeight (rebuilt on load); accUpdateGradParameters is the
    module's own (it updates the weight, which the next forward overwrites).  Unlike Torch7, gradV and gradG
    accumulate over backward calls and the module's gradWeight keeps dL/dweight (Torch7 overwrites it with
    gradV)."""

    _param_pairs = (('v', 'gradV'), ('g', 'gradG'), ('bias', 'gradBias'))
    _lua_index_fields = ('outputDim',)

    def __init__(self, module, outputDim=0):
        super().__init__(module)
        w = module.__dict__.get('weight')
        if not isinstance(w, Tensor):
            raise TypeError(f"nn.WeightNorm: the module {module!r} has no weight to normalize")
        if 'bias' in module.__dict__:
            self.bias = module.bias
            self.gradBias = module.gradBias
        self.gradWeight = module.gradWeight
        self.weight = w
        if isinstance(outputDim, bool) or not isinstance(outputDim, (int, np.integer)) or \
                not -w.dim() <= outputDim < w.dim():
            raise ValueError(f"nn.WeightNorm: outputDim must be a dim of the {w.dim()}-D weight, got {outputDim!r}")
        od = int(outputDim) % w.dim()
        self.outputDim = od
        shape = tuple(w._a.shape)
        self.otherDims = math.prod(shape) // shape[od]
        self.viewIn = CPU_LONG_STORAGE([shape[od], self.otherDims])
        self.viewOut = CPU_LONG_STORAGE([shape[od]] + [s for i, s in enumerate(shape) if i != od])
        self.weightSize = CPU_LONG_STORAGE(list(shape))
        n = shape[od]
        self.v = self._tcls(n, self.otherDims)
        self.g = self._tcls(n)
        self.gradG = self._tcls(n).zero()
        self.gradV = self._tcls(n, self.otherDims).zero()
        self.resetInit()

    def resetInit(self, inputSize=None, outputSize=None):
        self.v.normal(0, math.sqrt(2 / self.otherDims))
        xp = array_module(self.v._a)
        xp.sqrt((self.v._a * self.v._a).sum(axis=1), out=self.g._a)
        if 'bias' in self.__dict__:
            self.bias.zero()
        return self

    def reset(self, stdv=None):
        return self.resetInit()

    def _2d(self, t):
        return t._a.reshape(t._a.shape[0] if t._a.ndim else 1, -1)

    def updateWeight(self):
        """weight = g * v / sqrt(||v||^2 + 1e-4), rows of v along ``outputDim`` of the weight."""
        v = self._2d(self.v)
        xp = array_module(v)
        n = v.shape[0]
        norm = self._buffer('_norm', (n,))
        xp.sum(v * v, axis=1, out=norm)
        norm += 10e-5
        xp.sqrt(norm, out=norm)
        scale = self._buffer('_scale', (n,))
        xp.divide(self.g._a, norm, out=scale)
        w = self.weight._a
        target = xp.moveaxis(w, self.outputDim, 0)          # a view of the weight, dim outputDim first
        target[...] = (v * scale[:, None]).reshape(target.shape)

    def updateOutput(self, input):
        if self.train is not False:
            self.updateWeight()
        return super().updateOutput(input)

    def evaluate(self):
        if self.train is not False:
            self.updateWeight()
        return super().evaluate()

    def accGradParameters(self, input, gradOutput, scale=1):
        # the module accumulates this call's dL/dweight into a zeroed scratch tensor (then added to its gradWeight),
        # from which gradV and gradG are accumulated: both stay sums over calls, as every gradient here.  (Torch7
        # recomputes them from the whole gradWeight and then overwrites gradWeight with gradV, so a second
        # accumulation without zeroGradParameters is wrong there.)
        inner = self.modules[0]
        gw_t = inner.gradWeight
        step = self.__dict__.get('_dw')
        if step is None or step.__class__ is not gw_t.__class__ or step._a.shape != gw_t._a.shape:
            step = self._dw = gw_t.__class__(*gw_t._a.shape)
        step._a.fill(0)
        inner.gradWeight = step
        try:
            inner.accGradParameters(input, gradOutput, scale)
        finally:
            inner.gradWeight = gw_t
        gw_t._a += step._a
        if '_norm' not in self.__dict__:
            self.updateWeight()
        xp = array_module(self.v._a)
        v = self._2d(self.v)
        n = v.shape[0]
        norm = self._norm[:, None]
        sc = self._scale[:, None]
        dw = xp.moveaxis(step._a, self.outputDim, 0).reshape(n, -1)     # a copy when outputDim is not 0
        t = self._buffer('_t', v.shape)
        gg = self._buffer('_gg', (n,))
        xp.multiply(dw, v, out=t)
        t /= norm
        xp.sum(t, axis=1, out=gg)                   # dL/dg = sum(dL/dw * v / ||v||)
        self.gradG._a += gg
        gv = self._2d(self.gradV)                   # dL/dv = dL/dw * g / ||v|| - v g dL/dg / ||v||^2
        xp.multiply(v, sc, out=t)
        t /= norm
        t *= gg[:, None]
        gv -= t
        xp.multiply(dw, sc, out=t)
        gv += t

    def zeroGradParameters(self):
        self.modules[0].zeroGradParameters()
        self.gradV._a.fill(0)
        self.gradG._a.fill(0)

    def updateParameters(self, learningRate):
        self.modules[0].updateParameters(learningRate)
        self.g._a -= learningRate * self.gradG._a
        self.v._a -= learningRate * self.gradV._a.reshape(self.v._a.shape)

    parameters = Module.parameters      # v, g (and bias) from _param_pairs, not the module's weight (Container's)

    def type(self, name=None, tensorCache=None):
        if name is None:
            return self._type
        super().type(name, tensorCache)
        self._relink()
        return self

    def _relink(self):
        """weight, gradWeight (and bias, gradBias) are the module's own tensors, as Torch7 (a conversion made
        them distinct tensors over one storage; getParameters must move both)."""
        inner = self.modules[0].__dict__
        for k in ('weight', 'gradWeight', 'bias', 'gradBias'):
            if k in self.__dict__ and k in inner:
                inner[k] = self.__dict__[k]


def _weightnorm_write(obj, f):
    """Torch7's WeightNorm:write: weight and gradWeight are not saved (they follow from v and g), neither on the
    decorator nor on the module (written here as a copy without them)."""
    f.pop('weight', None)
    f.pop('gradWeight', None)
    inner = obj.modules[0]
    c = _copy.copy(inner)
    c.__dict__ = {k: v for k, v in inner.__dict__.items() if k not in ('weight', 'gradWeight')}
    f['modules'] = [c] + list(obj.modules[1:])
    if 'weightSize' not in f:
        f['weightSize'] = CPU_LONG_STORAGE(list(inner.weight._a.shape))
    # Lua's buffers (made by its constructor; its read's updateWeight copies g into _scale, which must have g's size)
    n = obj.g.nElement()
    f.setdefault('_norm', obj._tcls(n).zero())
    f.setdefault('_scale', obj._tcls(n).zero())


def _weightnorm_read(f, version):
    """Torch7's WeightNorm:read: weight and gradWeight rebuilt from v, g and gradV (``outputDim`` still 1-based)."""
    if 'weight' in f:
        return
    mods = f.get('modules')
    v, g, gv, size = f.get('v'), f.get('g'), f.get('gradV'), f.get('weightSize')
    if not (isinstance(mods, list) and mods and all(isinstance(t, Tensor) for t in (v, g, gv)) and size is not None):
        return
    shape = tuple(int(s) for s in size)
    od = int(f.get('outputDim', 1)) - 1
    inner = mods[0]
    w, gw = v.__class__(*shape), v.__class__(*shape)
    xp = array_module(v._a)
    va = v._a.reshape(shape[od], -1)
    norm = xp.sqrt((va * va).sum(axis=1) + 10e-5)
    xp.moveaxis(w._a, od, 0)[...] = (va * (g._a / norm)[:, None]).reshape(xp.moveaxis(w._a, od, 0).shape)
    xp.moveaxis(gw._a, od, 0)[...] = gv._a.reshape(xp.moveaxis(gw._a, od, 0).shape)
    inner.__dict__['weight'] = w
    inner.__dict__['gradWeight'] = gw
    f['weight'] = w
    f['gradWeight'] = gw


def _register_fixes():
    from ..serialization.classes import READ_FIXES, WRITE_FIXES
    WRITE_FIXES['nn.WeightNorm'] = _weightnorm_write
    READ_FIXES['nn.WeightNorm'] = _weightnorm_read


_register_fixes()


# -- DontCast ----------------------------------------------------------------------------------------------------
def _table_type(x):
    """(the type name of the first tensor in ``x``, found): Torch7's tableTensorType."""
    if isinstance(x, (list, tuple)):
        for e in x:
            name, found = _table_type(e)
            if found:
                return name, True
        return None, False
    if isinstance(x, Tensor):
        return x.type(), True
    return type(x).__name__, False


def _type_copy(dst, src, tname):
    """``src`` (a tensor or nested table) copied into ``dst`` (reused when it fits) as tensors of type ``tname``."""
    if isinstance(src, (list, tuple)):
        dst = dst if isinstance(dst, list) else []
        del dst[len(src):]
        for i, v in enumerate(src):
            dst[i:i + 1] = [_type_copy(dst[i] if i < len(dst) else None, v, tname)]
        return dst
    if isinstance(src, Tensor):
        info = type_info(tname)
        if not isinstance(dst, Tensor) or dst._info is not info:
            dst = info.tensor_class()
        resized(dst, src._a.shape)
        if src._a.size:
            dst.copy(src)
        return dst
    return src


class DontCast(Decorator):
    """DontCast(module, castin=False, castout=castin, moduleType=None): ``type()``/``cuda()``/``float()`` of the
    decorator leave ``module`` as it is.  With ``castin`` an input of another type is copied to ``moduleType`` (and
    gradInput back to the type of this decorator's gradInput); with ``castout`` the output is copied to the type of
    this decorator's output (and gradOutput to ``moduleType``).  moduleType defaults to the type of the module's
    output or parameters, as Torch7."""

    def __init__(self, module, castin=False, castout=None, moduleType=None):
        super().__init__(module)
        self.castin = castin
        self.castout = castin if castout is None else castout
        self.moduleType = moduleType
        if (self.castin or self.castout) and not self.moduleType:
            name, found = _table_type(module.output)
            if not found:
                name, found = _table_type(module.parameters()[0])
            if not found:
                raise ValueError("nn.DontCast: cannot extrapolate moduleType: give it as argument 4")
            self.moduleType = name

    def _in(self, input):
        if self.castin and _table_type(input)[0] != self.moduleType:
            return self.__dict__['_input']
        return input

    def updateOutput(self, input):
        if self.castin and _table_type(input)[0] != self.moduleType:
            self._input = _type_copy(self.__dict__.get('_input'), input, self.moduleType)
            input = self._input
        out = self.modules[0].updateOutput(input)
        if self.castout:
            self.output = _type_copy(self.output, out, _table_type(self.output)[0] or self._type)
        else:
            self.output = out
        return self.output

    def _grad(self, gradOutput):
        if self.castout and _table_type(gradOutput)[0] != self.moduleType:
            self._gradOutput = _type_copy(self.__dict__.get('_gradOutput'), gradOutput, self.moduleType)
            return self._gradOutput
        return gradOutput

    def updateGradInput(self, input, gradOutput):
        gi = self.modules[0].updateGradInput(self._in(input), self._grad(gradOutput))
        if self.castin:
            self.gradInput = _type_copy(self.gradInput, gi, _table_type(self.gradInput)[0] or self._type)
        else:
            self.gradInput = gi
        return self.gradInput

    def _grad_again(self, gradOutput):
        """gradOutput as updateGradInput handed it to the module (its copy is not made again)."""
        return self._gradOutput if self.castout and _table_type(gradOutput)[0] != self.moduleType else gradOutput

    def accGradParameters(self, input, gradOutput, scale=1):
        self.modules[0].accGradParameters(self._in(input), self._grad_again(gradOutput), scale)

    def accUpdateGradParameters(self, input, gradOutput, lr):
        self.modules[0].accUpdateGradParameters(self._in(input), self._grad_again(gradOutput), lr)

    def type(self, name=None, tensorCache=None):
        """The module is not converted; with castout the output becomes ``name``, with castin the gradInput."""
        if name is None:
            return self._type
        info = type_info(name)
        if self.castout and _table_type(self.output)[0] != info.name:
            self.output = _type_copy(None, self.output, info.name)
        if self.castin and _table_type(self.gradInput)[0] != info.name:
            self.gradInput = _type_copy(None, self.gradInput, info.name)
        self._type, self._tinfo, self._tcls = info.name, info, info.tensor_class
        return self


# -- GPU ---------------------------------------------------------------------------------------------------------
class GPU(Decorator):
    """GPU(module, device, outdevice=device): Torch7's decorator that keeps a module on CUDA device ``device``
    (0-based here; Lua's cutorch counts from 1).  luatorch_py keeps every CUDA tensor on the current device, so
    here it is a pass-through decorator (computing where the module's tensors are) that records ``device`` and
    ``outdevice`` for the .t7 file; ``setDevice(d)`` only records ``d``.  In Lua it is an nn.Container; it is
    saved as one here too (its fields: modules, device, outdevice)."""

    _lua_index_fields = ('device', 'outdevice')

    def __init__(self, module, device, outdevice=None):
        for d in (device, outdevice if outdevice is not None else device):
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0:
                raise ValueError(f"nn.GPU: device and outdevice must be 0-based device indices (ints >= 0), got "
                                 f"{device!r}, {outdevice!r}")
        super().__init__(module)
        self.device = int(device)
        self.outdevice = int(device if outdevice is None else outdevice)
        if module._tinfo.cuda:
            self.type(module._type)

    def __t7_header__(self, fields):
        # Torch7's GPU:write puts {_type, device} before its fields table (read back, and skipped, by the loader)
        return [fields.get('_type', self._type), fields['device']]

    def accUpdateGradParameters(self, input, gradOutput, lr):
        raise NotImplementedError(f"{self!r}: accUpdateGradParameters is not implemented for nn.GPU (as Torch7)")

    def sharedAccUpdateGradParameters(self, input, gradOutput, lr):
        raise NotImplementedError(f"{self!r}: sharedAccUpdateGradParameters is not implemented for nn.GPU "
                                  f"(as Torch7)")

    def setDevice(self, device=None):
        if device is not None:
            self.device = int(device)
        return self

    def __repr__(self):
        return f"{self.__torch_name__}({self.device}) @ {self.modules[0]!r}"


# -- NaN ---------------------------------------------------------------------------------------------------------
def _has_nan(x):
    if isinstance(x, (list, tuple)):
        return any(_has_nan(e) for e in x)
    if isinstance(x, Tensor):
        x = x._a
    elif not (isinstance(x, np.ndarray) or backend.is_cuda_array(x)):      # (a numpy input read as NaN-free)
        return False
    return x.dtype.kind == 'f' and bool(array_module(x).isnan(x.sum()))


class NaN(Decorator):
    """NaN(module, id=None): raises when the module's output, gradInput or parameter gradients hold a NaN, saying
    whether its input, parameters or gradOutput did already (Torch7's NaN; ``id`` numbers it in messages, from a
    counter by default).  Each check is a reduction and a host synchronization."""

    _idseq = 0

    @classmethod
    def newId(cls):
        NaN._idseq += 1
        return NaN._idseq

    def __init__(self, module, id=None):
        super().__init__(module)
        self.id = NaN.newId() if id is None else id

    def updateOutput(self, input):
        self.output = self.modules[0].updateOutput(input)
        if _has_nan(self.output):
            if _has_nan(input):
                raise FloatingPointError(f"NaN found in input of module :\n{self!r}")
            if _has_nan(self.parameters()[0]):
                raise FloatingPointError(f"NaN found in parameters of module :\n{self!r}")
            raise FloatingPointError(f"NaN found in output of module :\n{self!r}")
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = self.modules[0].updateGradInput(input, gradOutput)
        if _has_nan(self.gradInput):
            if _has_nan(gradOutput):
                raise FloatingPointError(f"NaN found in gradOutput of module :\n{self!r}")
            raise FloatingPointError(f"NaN found in gradInput of module :\n{self!r}")
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        self.modules[0].accGradParameters(input, gradOutput, scale)
        if _has_nan(self.parameters()[1]):
            raise FloatingPointError(f"NaN found in gradParameters of module :\n{self!r}")

    def __repr__(self):
        return f"{self.__torch_name__}({self.id}) @ {self.modules[0]!r}"


# -- Profile -----------------------------------------------------------------------------------------------------
class Profile(Decorator):
    """Profile(module, print_interval=100, name=type of module): prints the time the module took for every
    ``print_interval`` forwards and backwards (updateGradInput).  Times are wall clock (CUDA work is asynchronous:
    synchronize to measure it).  Torch7 also keeps a ``timer`` field (a torch.Timer written empty); here the timer
    is not a field, and ``module`` is the decorated module again, as Torch7."""

    def __init__(self, module, print_interval=100, name=None):
        super().__init__(module)
        self.print_interval = print_interval
        self.name = name if name is not None else module.__torch_name__
        self.module = module
        self.numFwds = 0
        self.numBwds = 0
        self.summedFwdTime = 0
        self.summedBwdTime = 0

    def _timed(self, count, total, what, fn, *args):
        """``fn(*args)``, its time added to field ``total`` and field ``count`` incremented; every ``print_interval``
        calls the sum is printed and both are reset."""
        d = self.__dict__
        t0 = time.perf_counter()
        result = fn(*args)
        d[total] += time.perf_counter() - t0
        d[count] += 1
        if d[count] % self.print_interval == 0:
            print(f"{self.name} took {d[total]:.3f} seconds for {self.print_interval} {what} passes")
            d[count] = 0
            d[total] = 0
        return result

    def updateOutput(self, input):
        self.output = self._timed('numFwds', 'summedFwdTime', 'forward', self.modules[0].updateOutput, input)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = self._timed('numBwds', 'summedBwdTime', 'backward', self.modules[0].updateGradInput,
                                     input, gradOutput)
        return self.gradInput

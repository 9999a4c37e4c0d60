"""Helpers shared by the optimizers: Torch7's config/state handling, state buffers, Lua arithmetic."""
import math
from collections.abc import MutableMapping

from .. import backend
from ..backend import capture
from ..tensor import Tensor, as_tensor
from ..types import TYPES, on_device


def get_state(config, state, who):
    """Torch7's ``local config = config or {}; local state = state or config``.

    The dicts are used (and updated) in place, so a caller keeping ``config`` sees the evaluation counters and
    buffers appear in it, as in Lua."""
    if config is None:
        config = {}
    if state is None:
        state = config
    for name, d in (('config', config), ('state', state)):
        if not isinstance(d, MutableMapping):   # (Lua would index a number or string and fail on the first field)
            raise TypeError(f"optim.{who}: expected {name} to be a dict (Lua's table) or None, got "
                            f"{type(d).__name__}")
    return config, state


def opt(config, key, default):
    """Lua's ``config.key or default``: only a missing/None (nil) or False value takes the default -- a 0 stays
    0 (0 is true in Lua), so ``learningRate=0`` means a zero rate, as in Torch7."""
    v = config.get(key)
    if v is None or v is False:
        return default
    return v


def evaluate(opfunc, x, who):
    """``opfunc(x)``, checked to be the pair ``(f(x), df/dx)`` (a clear error instead of Python's unpacking one)."""
    r = opfunc(x)
    if not isinstance(r, (tuple, list)) or len(r) != 2:
        got = f"a {len(r)}-element {type(r).__name__}" if isinstance(r, (tuple, list)) else type(r).__name__
        raise TypeError(f"optim.{who}: opfunc(x) must return (f(x), df/dx), got {got}")
    return r


def grad_tensor(dfdx, x, who):
    """The gradient returned by opfunc as a tensor (numpy/CuPy arrays are wrapped, without a copy when the dtype
    fits x's type)."""
    if isinstance(dfdx, Tensor):
        return dfdx
    if hasattr(dfdx, 'shape') and hasattr(dfdx, 'dtype'):
        return as_tensor(dfdx, x._info)
    raise TypeError(f"optim.{who}: opfunc(x) must return (f(x), df/dx) with df/dx a tensor, got "
                    f"{type(dfdx).__name__} for df/dx")


def check_x(x, who):
    if not isinstance(x, Tensor):
        raise TypeError(f"optim.{who}: expected x to be a tensor (e.g. from getParameters()), got "
                        f"{type(x).__name__}")


def state_buffer(state, key, new):
    """state[key], made by ``new()`` on the first call (Torch7's ``state.key = state.key or new``)."""
    t = state.get(key)
    if t is None:
        t = state[key] = new()
    return t


def add_step(state, target, clr, dfdx, lrs, x):
    """target += -clr * dfdx, each element times its own learning rate when ``lrs`` (config.learningRates) is
    given (the product kept in state.deltaParameters, of x's type): Torch7's sgd/nag update."""
    if lrs is not None:
        delta = state_buffer(state, 'deltaParameters', lambda: empty_like(dfdx, x))
        delta.copy(lrs).cmul(dfdx)
        target.add(-clr, delta)
    else:
        target.add(-clr, dfdx)


def fusable(x, *ts):
    """Whether an optimizer's fused GPU update (backend.fused_optim) can take x with the tensors ``ts`` (the
    gradient, state buffers): CUDA float arrays, C-contiguous, all of x's shape and dtype."""
    a = x._a
    if not backend.fused_sgd_ok(a, a):
        return False
    for t in ts:
        if not isinstance(t, Tensor) or not backend.fused_sgd_ok(a, t._a):
            return False
    return True


def device_counter(state, key, fill=True):
    """The device copy of the host step counter ``state[key]`` (evalCounter, t): a (1,) int64 CUDA array, kept in
    ``state['_<key>Device']``, which fused updates read (and a count kernel advances), so that each replay of a
    captured step sees its own count.  ``state['_<key>OnDevice']`` is the value it holds (None: unknown); with
    ``fill``, it is set to state[key] when it holds another (a fill: no sync).  Inside a capture such a fill would
    reset the counter at every replay: it raises CaptureError instead."""
    dkey, okey = '_' + key + 'Device', '_' + key + 'OnDevice'
    counter = state.get(dkey)
    if counter is None or counter._a.shape != (1,) or not counter._info.cuda:
        counter = state[dkey] = on_device(TYPES['torch.LongTensor'], True).tensor_class(1)
        state[okey] = None
    value = state[key]
    if fill and state.get(okey) != value:
        if capture.capturing():
            raise capture.CaptureError(
                f"captureStep: optim's state.{key} ({value}) was changed since the device's copy was made "
                f"({state.get(okey)}); a captured step cannot set it (each replay would restart from it): change "
                f"it before the warm-up calls")
        counter._a.fill(value)
        state[okey] = value
    return counter._a


def advance_counter(state, key, value, device, then=None):
    """After a fused update that read ``state[key] == value``: state[key] = value + 1 now, or, while a step is
    being captured (a capture runs nothing), += 1 after each replay of it; ``device``: the update advanced the
    device copy too (state['_<key>OnDevice'] follows).  ``then()`` runs after each advance (derived host state)."""
    okey = '_' + key + 'OnDevice'
    if not capture.capturing():
        state[key] = value + 1
        if device:
            state[okey] = value + 1
        if then is not None:
            then()
        return

    def advance():
        state[key] += 1
        if device:
            state[okey] = state[key]
        if then is not None:
            then()
    capture.on_replay(advance)


def zeros_like(t, like_type=None):
    """A new zero tensor with t's size, of like_type's tensor type (default t's own): Torch7's
    ``torch.Tensor():typeAs(like):resizeAs(t):zero()`` / ``x.new(t:size()):zero()``."""
    cls = type(like_type if like_type is not None else t)
    return cls(t._a.shape).zero()


def empty_like(t, like_type=None):
    cls = type(like_type if like_type is not None else t)
    return cls(t._a.shape)


def lua_div(a, b):
    """a / b with IEEE results where Lua gives them (x/0 = +-inf, 0/0 = nan) instead of ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def lua_sqrt(a):
    """math.sqrt that returns nan for negative numbers (as C and Lua do) instead of raising."""
    if a != a or a < 0:
        return math.nan
    return math.sqrt(a)


def lua_number(v):
    """Lua's tostring for numbers (``%.14g``): ``100`` for 100.0, ``66.666668653488`` for 66.66666865348816."""
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, int):
        return str(v)
    v = float(v)
    if v != v:       # C's printf: '-nan' when the sign bit is set (x86's 0/0)
        return '-nan' if math.copysign(1.0, v) < 0 else 'nan'
    if v in (math.inf, -math.inf):
        return 'inf' if v > 0 else '-inf'
    return '%.14g' % v

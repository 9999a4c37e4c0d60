"""Helpers shared by the optimizers: Torch7's config/state handling, state buffers, Lua arithmetic."""
import math

from ..tensor import Tensor, as_tensor


def get_state(config, state):
    """Torch7's ``local config = config or {}; local state = state or config``.

    The dicts are used (and updated) in place, so a caller keeping ``config`` sees the evaluation counters and
    buffers appear in it, as in Lua."""
    if config is None:
        config = {}
    if state is None:
        state = config
    return config, state


def opt(config, key, default):
    """Lua's ``config.key or default``: only a missing/None (nil) or False value takes the default -- a 0 stays
    0 (0 is true in Lua), so ``learningRate=0`` means a zero rate, as in Torch7."""
    v = config.get(key)
    if v is None or v is False:
        return default
    return v


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

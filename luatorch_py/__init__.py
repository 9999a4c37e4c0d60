"""luatorch_py: Lua Torch7's way of building neural networks, in pure Python over numpy and CuPy.

``import luatorch_py as torch`` gives the ``torch`` namespace: tensor and storage types, constructors, math,
Torch7's random stream, and (from the nn/optim issues) ``torch.nn``, ``torch.optim``, ``torch.save/load``.
"""
from .types import TYPES, type_info
from .storage import Storage, STORAGE_CLASSES
from .tensor import (Tensor, TENSOR_CLASSES, fromNumpy, as_tensor, getdefaulttensortype,
                     setdefaulttensortype)
from .backend import CudaUnavailableError
from . import random
from .random import (manualSeed, seed, initialSeed, uniform, normal, exponential, cauchy, logNormal,
                     geometric, bernoulli, getRNGState, setRNGState, Generator)
from .functions import *  # noqa: F401,F403
from .functions import range, zeros, ones, eye, rand, randn, randperm, cat, stack, isTensor, isStorage, typename
from .threads import setnumthreads, getnumthreads  # noqa: E402 (BLAS threads, Torch7's names)
from .linalg import (gesv, trtrs, potrf, potrs, potri, pstrf, gels, symeig, eig, svd,  # noqa: E402
                     inverse, qr, geqrf, orgqr, ormqr, LinAlgError)
from .tensor import repeatTensor, split, chunk, viewAs, expandAs  # noqa: E402
# [tensor-forms]
from .maths_extra import *  # noqa: F401,F403,E402 (median, conv2, bitand, ...: the rest of maths.md)
# [maths]
from .random import multinomial, multinomialAliasSetup, multinomialAlias  # noqa: E402
Tensor.multinomial = random.multinomial_method   # p.multinomial(n), res.multinomial(p, n), p.multinomial(res, p, n)
from .utils import Timer, TorchObject, class_, isTypeOf, pointer  # noqa: E402
globals()['class'] = class_      # Lua's torch.class: getattr(torch, 'class') (a Python keyword: torch.class_)


def __getattr__(name):
    # torch.type (Lua's): served here so the module's own code keeps Python's builtin type
    if name == 'type':
        from .utils import type as torch_type
        return torch_type
    from ._fork import load        # (counted: a fork waits for it, see _fork.py)
    if name in _LAZY_SUBPACKAGES:     # torch.optim, torch.data, ...: imported when first used (import time, memory)
        return load(f'{__name__}.{name}')
    where = _LAZY_NAMES.get(name)
    if where is not None:
        value = getattr(load(where, __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'luatorch_py' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBPACKAGES) | set(_LAZY_NAMES) | {'type'})


_LAZY_SUBPACKAGES = ('optim', 'data', 'serialization', 'nngraph', 'distributed')
# names whose files load on first use, as nn's classes do (see nn/__init__.py): -> their file
_LAZY_NAMES = {name: where for where, names in {
    '.serialization': 'save load serialize deserialize T7Error',
    '.file': 'File DiskFile MemoryFile serializeToStorage deserializeFromStorage saveobj loadobj',
    '.tester': 'Tester TestSuite',
    '.cmdline': 'CmdLine'}.items() for name in names.split()}


# [random-utils]



class _CallableModule(type(random)):
    """``torch.random()`` draws a number (Torch7) while ``torch.random`` stays the RNG module."""
    def __call__(self, *args):
        return self.random(*args)


random.__class__ = _CallableModule

globals().update(TENSOR_CLASSES)
globals().update(STORAGE_CLASSES)

from_numpy = fromNumpy

__version__ = '0.1.0'

# the subpackages, as torch.nn / torch.optim (imported last: they build on everything above)
from . import nn, cutorch  # noqa: E402   (optim, data, save/load, ...: on first use, see __getattr__)
# what `from luatorch_py import *` takes: every public name, save/load, File, ... too (those __getattr__ serves are not
# in globals(), all that * takes without __all__; taking them loads their files)
__all__ = sorted(n for n in globals() if not n.startswith('_')) + sorted(_LAZY_NAMES)

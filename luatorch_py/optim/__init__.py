"""Torch7's optim package: optimizers over a flat parameter tensor, ConfusionMatrix, Logger.

Every optimizer has Torch7's signature ``x, fx = optim.<name>(opfunc, x, config=None, state=None)``:
``opfunc(x)`` returns ``(f(x), df/dx)``; ``x`` (usually from ``getParameters()``) is updated in place and
returned with ``fx``, a Python list of the function values (f before the step for the stochastic methods, the
history for lbfgs/cg).  ``config`` and ``state`` are dicts read and updated in place with Torch7's key names
(``state`` defaults to ``config``), so passing the same dict every step carries the optimizer's state.
See docs/optim.md.
"""
from .sgd import sgd
from .nag import nag
from .adam import adam
from .adamax import adamax
from .adagrad import adagrad
from .adadelta import adadelta
from .rmsprop import rmsprop
from .rprop import rprop
from .asgd import asgd
from .polyinterp import polyinterp
from .lswolfe import lswolfe
from .lbfgs import lbfgs
from .cg import cg
from .checkgrad import checkgrad
from .confusion_matrix import ConfusionMatrix
from .logger import Logger

__all__ = ['sgd', 'nag', 'adam', 'adamax', 'adagrad', 'adadelta', 'rmsprop', 'rprop', 'asgd', 'lbfgs', 'cg',
           'lswolfe', 'polyinterp', 'checkgrad', 'ConfusionMatrix', 'Logger']

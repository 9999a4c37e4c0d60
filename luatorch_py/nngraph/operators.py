"""nngraph's ``-`` operators, which chain modules without nested calls (Lua's ``Module.__unm__``,
``Module.__sub__`` and ``Node.__sub__``):

* ``-module`` is ``module()``: a node with no inputs (a graph input);
* ``x - module`` is ``module(x)``, for a node ``x`` or a list/tuple of nodes (Lua: ``{h1, h2} - nn.CAddTable()``);
* ``x - criterion`` is ``nn.ModuleFromCriterion(criterion)(x)`` (Lua's Criterion.__call__ on nodes; for a list
  ``x`` this port's addition).

So ``h1 = -nn.Linear(20, 10)`` and ``h2 = h1 - nn.Tanh() - nn.Linear(10, 1)`` build what
``nn.Linear(10, 1)(nn.Tanh()(h1))`` builds.  Python's unary minus binds tighter than the binary one and ``-`` is
left-associative, as in Lua.  Lua's nngraph puts these on nn.Module's metatable when it loads; here ``install()``
puts them on nn.Module and nn.Criterion when nngraph loads, and nn.Module's own ``__neg__``/``__sub__`` load it
(a graph may start with ``-module`` before anything else has).
"""
from ..nn.criterion import Criterion
from ..nn.module import Module
from .node import Node


def _nodes(x):
    """Whether ``x`` is a node or a non-empty list/tuple of nodes (the left side of ``x - module``)."""
    if isinstance(x, Node):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(n, Node) for n in x)


def _left_error(left, right):
    return TypeError(f"nngraph: in `a - b` with b = {right!r}, a must be an nngraph node or a list of nodes, got "
                     f"{left!r}; start a chain with -module (an input node, Lua's `- nn.Linear(2, 3)`) or "
                     f"module(node)")


def _module_neg(self):
    """``-module``: ``module()``, a node without inputs (nngraph's Module.__unm__)."""
    from .gmodule import call_module
    return call_module(self, ())


def _module_rsub(self, prev):
    """``prev - module``: ``module(prev)`` for a node or a list of nodes (nngraph's Module.__sub__)."""
    if not _nodes(prev):
        return NotImplemented
    from .gmodule import call_module
    return call_module(self, (prev,))


def _module_sub(self, nxt):
    """``module - x``: an error, as in Lua (which calls x(module)); the left side must be a node."""
    if isinstance(nxt, (Module, Criterion)):
        raise _left_error(self, nxt)
    return NotImplemented


def _criterion_rsub(self, prev):
    """``prev - criterion``: ``nn.ModuleFromCriterion(criterion)(prev)`` (what Lua's ``node - criterion`` gives
    through Criterion.__call__; a list of nodes on the left is this port's addition: Lua has no ``-`` for a
    table and a criterion)."""
    if not _nodes(prev):
        return NotImplemented
    from .modules import ModuleFromCriterion
    from .gmodule import call_module
    return call_module(ModuleFromCriterion(self), (prev,))


def _node_sub(self, nxt):
    """``node - module``: ``module(node)`` (nngraph's Node.__sub__); ``node - criterion`` as _criterion_rsub."""
    if isinstance(nxt, Module):
        return _module_rsub(nxt, self)
    if isinstance(nxt, Criterion):
        return _criterion_rsub(nxt, self)
    if isinstance(nxt, Node):
        raise TypeError(f"nngraph: {self!r} - {nxt!r}: the right side of `-` must be a module or a criterion, "
                        f"got a node")
    return NotImplemented


_criterion_forward = Criterion.forward      # what Criterion.__call__ was (the base forward, as `__call__ = forward`)


def _criterion_call(self, *args, **kw):
    """``criterion(input, target)`` is forward, as before; called on nodes (Lua's ``crit({pred, target})``, which
    nngraph turns into a ModuleFromCriterion node) it says what to write instead of failing on a missing target."""
    if len(args) == 1 and not kw and _nodes(args[0]):
        raise TypeError(f"{self!r}: a criterion called on nngraph nodes is its forward here, not a node; write "
                        f"nn.ModuleFromCriterion(criterion)([prediction, target]) or [prediction, target] - criterion")
    return _criterion_forward(self, *args, **kw)


def install():
    Criterion.__call__ = _criterion_call
    Module.__neg__ = _module_neg
    Module.__rsub__ = _module_rsub
    Module.__sub__ = _module_sub
    Criterion.__rsub__ = _criterion_rsub
    Criterion.__sub__ = _module_sub
    Node.__sub__ = _node_sub


install()

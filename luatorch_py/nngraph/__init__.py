"""nngraph: modules wired as a graph (Lua's nngraph package).

``h = nn.Linear(2, 3)(x)`` calls a module on graph nodes and returns a new node; ``nn.Identity()()`` makes an
input node; ``nn.gModule([x], [h])`` is the module computing the graph.  See docs/nngraph.md.

Here: ``Node`` (nngraph.Node), ``gModule`` (also ``nn.gModule``), ``JustElement``, ``JustTable``,
``ModuleFromCriterion`` (also ``nn.ModuleFromCriterion``), ``annotateNodes``, ``nest``, and ``graph`` (torch/graph's
``graph.Graph``, ``graph.Edge``, ``graph.Node``), all loading from and saving to .t7 files in Lua's layout.
Importing it also installs nngraph's ``-`` operators on nn.Module and nn.Criterion (``operators``).
"""
from . import graph
from .node import Node, NodeData, annotateNodes, nest
from .modules import JustElement, JustTable, ModuleFromCriterion
from .gmodule import gModule
from . import operators  # noqa: F401 (installs -module, node - module)

__all__ = ['Node', 'NodeData', 'gModule', 'JustElement', 'JustTable', 'ModuleFromCriterion', 'annotateNodes',
           'nest', 'graph']

"""nngraph: modules wired as a graph (Lua's nngraph package).

``h = nn.Linear(2, 3)(x)`` calls a module on graph nodes and returns a new node; ``nn.Identity()()`` makes an
input node; ``nn.gModule([x], [h])`` is the module computing the graph.  See docs/nngraph.md.

Here: ``Node`` (nngraph.Node), ``gModule`` (also ``nn.gModule``), ``JustElement``, ``JustTable``,
``ModuleFromCriterion`` (also ``nn.ModuleFromCriterion``), ``annotateNodes``, and ``graph`` (torch/graph's
``graph.Graph``, ``graph.Edge``, ``graph.Node``), all loading from and saving to .t7 files in Lua's layout.
"""
from . import graph
from .node import Node, NodeData, annotateNodes
from .modules import JustElement, JustTable, ModuleFromCriterion
from .gmodule import gModule

__all__ = ['Node', 'NodeData', 'gModule', 'JustElement', 'JustTable', 'ModuleFromCriterion', 'annotateNodes',
           'graph']

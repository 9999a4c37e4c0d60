"""nngraph.Node: a graph node holding a module (``node.data.module``) and the order of its inputs."""
import sys

from . import graph
from ..serialization.t7 import registerObjectClass

_PKG = __name__.split('.')[0]


class NodeData(dict):
    """A node's data: Lua's ``node.data`` table (keys ``module``, ``input``, ``gradOutput``, ``mapindex``,
    ``reverseMap``, ``annotations``, ``selectindex``, ``nSplitOutputs``, ``forwardNodeId``, ``gradOutputBuffer``),
    readable as ``data['module']`` or ``data.module``.  It compares and hashes by identity (Lua tables do), so it
    can key ``mapindex``-like maps.  ``mapindex`` is a list of the input nodes' data in input order (Lua's table is
    also a reverse map: ``mapindex[data] = i``; see ``inputIndex``); ``selectindex`` is 0-based (Lua's is 1-based)."""
    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        self.pop(name, None)

    def __repr__(self):
        m = self.get('module')
        return f'NodeData(module={m!r})' if m is not None else f'NodeData(keys={sorted(map(str, self))})'

    def __deepcopy__(self, memo):
        from copy import deepcopy
        new = NodeData()
        memo[id(self)] = new
        for k, v in self.items():
            new[k] = deepcopy(v, memo)
        return new

    def inputIndex(self, data):
        """0-based position of ``data`` (an input node's data) in ``mapindex`` (Lua: ``mapindex[data] - 1``)."""
        for i, d in enumerate(self['mapindex']):
            if d is data:
                return i
        raise KeyError("nngraph: the node is not an input of this node")

    # -- .t7: Lua's layout ------------------------------------------------------------------------------------
    def __t7_table__(self):
        out = dict(self)
        mi = self.get('mapindex')
        if isinstance(mi, list):
            out['mapindex'] = graph._lua_map(mi)
        si = self.get('selectindex')
        if isinstance(si, int) and not isinstance(si, bool):
            out['selectindex'] = si + 1
        return out


def _node_data(raw, ctx):
    """The NodeData for a data table ``raw`` read from a file (one per table: fg and bg nodes share it).  The
    data tables its ``mapindex`` reaches are converted too (iteratively: a long chain of nodes is no recursion)."""
    if isinstance(raw, NodeData) or raw is None:
        return raw
    cache = ctx.setdefault('nngraph.data', {})
    hit = cache.get(id(raw))
    if hit is not None:
        return hit[1]
    first = _new_data(raw, cache)
    todo = [raw]
    while todo:
        r = todo.pop()
        nd = cache[id(r)][1]
        mi = graph._from_lua_map(r.get('mapindex'), 'nngraph.Node.data.mapindex') if isinstance(r, dict) else []
        out = []
        for d in mi:
            if isinstance(d, NodeData):
                out.append(d)
                continue
            hit = cache.get(id(d))
            if hit is None:
                _new_data(d, cache)
                todo.append(d)
            out.append(cache[id(d)][1])
        nd['mapindex'] = out
    return first


def _new_data(raw, cache):
    """A NodeData with raw's fields but ``mapindex`` (filled by _node_data), registered in ``cache``."""
    read = raw      # the cache key: the object read (an empty table is a list), which _node_data looks up
    if isinstance(raw, list) and not raw:
        raw = {}
    if not isinstance(raw, dict):
        raise TypeError(f"nngraph.Node.data must be a table, the file has a {type(raw).__name__}")
    nd = NodeData()
    cache[id(read)] = (read, nd)
    for k, v in raw.items():
        if not isinstance(k, str) or k == 'mapindex':
            continue
        if k == 'selectindex' and isinstance(v, int) and not isinstance(v, bool):
            v -= 1
        elif k in ('annotations', 'reverseMap') and isinstance(v, list) and not v:
            v = {}
        nd[k] = v
    nd.setdefault('annotations', {})
    nd['mapindex'] = []
    nd.setdefault('reverseMap', {})
    return nd


def _where():
    """'[file]:line' of the first caller outside luatorch_py (Lua's _debugLabel)."""
    f = sys._getframe(1)
    while f is not None and (f.f_globals.get('__name__') or '').split('.')[0] == _PKG:
        f = f.f_back
    if f is None:
        return '[?]:0_'
    return f'[{f.f_code.co_filename}]:{f.f_lineno}_{f.f_code.co_name}'


class Node(graph.Node):
    """nngraph.Node: what calling a module on nodes returns (``h = nn.Linear(2, 3)(x)``).  ``data.module`` is the
    module (None for the input/output/split nodes), ``data.mapindex`` its input nodes' data in order."""

    def __init__(self, data=None):
        if not isinstance(data, NodeData):      # (a NodeData is shared: Graph.reverse's new nodes keep it)
            data = NodeData(data or {})
        super().__init__(data)
        data.setdefault('annotations', {})
        data.setdefault('mapindex', [])
        data.setdefault('reverseMap', {})
        if '_debugLabel' not in data['annotations']:
            data['annotations']['_debugLabel'] = _where()

    def add(self, child, domap=False):
        """Add ``child`` (an input of this node); with ``domap`` remember its place among the inputs."""
        super().add(child)
        if domap:
            mapindex = self.data['mapindex']
            if any(d is child.data for d in mapindex):
                raise ValueError("nngraph: don't pass the same input twice (a node is given as two inputs of "
                                 f"{self.data.get('module')!r}; use nn.Identity()(x) for a second copy)")
            mapindex.append(child.data)
            rev = child.data['reverseMap']
            if self in rev:
                raise ValueError("nngraph: this connection has already been made")
            rev[self] = True

    def split(self, noutput):
        """``noutput`` nodes, each taking one element of this node's (table) output, in order."""
        if not isinstance(noutput, int) or isinstance(noutput, bool) or noutput < 1:
            raise ValueError(f"nngraph.Node.split: expected a number of outputs >= 1, got {noutput!r}")
        from .modules import JustElement
        if noutput == 1:
            return JustElement()(self)
        label = self.data['annotations'].get('_debugLabel', '')
        mnode = Node({'nSplitOutputs': noutput,
                      'annotations': {'_debugLabel': f"{label} split at {_where()}-mnode"}})
        mnode.add(self, True)
        out = []
        for i in range(noutput):
            n = Node({'selectindex': i, 'input': [], 'annotations': {'_debugLabel': f'{label}-{i + 1}'}})
            n.add(mnode, True)
            out.append(n)
        return tuple(out)

    def annotate(self, annotations=None, **kw):
        """Set annotations (``name``, ``description``, ``graphAttributes``, ...): ``node.annotate(name='h1')``
        (Lua: ``node:annotate{name='h1'}``; a dict works too).  Returns the node."""
        self.data['annotations'].update(annotations or {}, **kw)
        return self

    def graphNodeName(self):
        name = self.data['annotations'].get('name')
        return f'{name} ({self.id})' if name else f'Node{self.id}'

    def label(self):
        m = self.data.get('module')
        return repr(m) if m is not None else self.graphNodeName()

    def __repr__(self):
        m = self.data.get('module') if isinstance(self.data, dict) else None
        return f'nngraph.Node({self.graphNodeName() if isinstance(self.data, dict) else self.id}' + \
            (f', {m!r})' if m is not None else ')')

    def __t7_setstate__(self, fields, ctx):
        super().__t7_setstate__(fields, ctx)
        ctx['after'].append(lambda: setattr(self, 'data', _node_data(self.data, ctx)))


registerObjectClass('nngraph.Node', Node)


def annotateNodes():
    """Name every Node held by a local variable of the caller after the variable (``annotations['name']``), as
    Lua's nngraph.annotateNodes() does; nodes already named keep their name."""
    f = sys._getframe(1)
    for name, v in f.f_locals.items():
        if isinstance(v, Node) and 'name' not in v.data['annotations']:
            v.data['annotations']['name'] = name


def nest(input):
    """A node standing for a nested structure of nodes (nngraph.nest): a node is itself; a list of one node
    ``[a]`` becomes ``nngraph.JustTable()([a])`` (whose output is the table {a}); a longer list, each element
    nested in turn, ``nn.Identity()([...])``.  ``nest([in1, [in2], in3])`` outputs {x1, {x2}, x3}."""
    if isinstance(input, Node):
        return input
    if not isinstance(input, (list, tuple)) or not input:
        raise TypeError(f"nngraph.nest: expected a node or a non-empty list of nodes, got {input!r}")
    if len(input) == 1:
        from .modules import JustTable
        return JustTable()(list(input))
    from ..nn.table import Identity
    return Identity()([nest(c) for c in input])

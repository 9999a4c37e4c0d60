"""torch/graph's classes as nngraph uses them: ``graph.Node``, ``graph.Edge``, ``graph.Graph`` (Lua's package
``graph``), with its traversals (bfs, dfs, reverse, roots, topsort) in Torch7's visiting order, so a gModule built
here runs its nodes in the order Lua's would.

Lua keeps a node's children and a graph's nodes/edges in tables that are both a list and a reverse map
(``nodes[i] = n`` and ``nodes[n] = i``).  Here they are Python lists (the map is rebuilt when needed); ``.t7`` files
get Lua's two-way tables back.  Ids (``node.id``) are Lua's 1-based positions in ``Graph.nodes``: labels, kept as in
Lua.  ``Edge.from_`` is Lua's ``edge.from`` (a Python keyword).
"""
from ..serialization.t7 import registerObjectClass


def _lua_map(items):
    """A Lua list-and-reverse-map table: {1: a, a: 1, 2: b, b: 2, ...} (keys are hashable by identity)."""
    out = {}
    for i, x in enumerate(items, 1):
        out[i] = x
        out[x] = i
    return out


def _from_lua_map(t, what):
    """The list part of a Lua list-and-reverse-map table read from a file (a dict, or a list when Lua wrote only
    its list part)."""
    if t is None:
        return []
    if isinstance(t, list):
        return t
    if not isinstance(t, dict):
        raise TypeError(f"{what} must be a table, the file has a {type(t).__name__}")
    n = sum(1 for k in t if type(k) is int)
    try:
        return [t[i] for i in range(1, n + 1)]
    except KeyError:
        raise ValueError(f"{what} has holes in its list part (keys 1..{n} expected)") from None


class Node:
    """graph.Node: ``data``, ``id``, ``children`` (a list), and the ``visited``/``marked`` flags of traversals."""

    def __init__(self, data=None):
        self.data = data
        self.id = 0
        self.children = []
        self.visited = False
        self.marked = False

    def add(self, child):
        """Add ``child`` (or each node of a list) to the children, once."""
        if isinstance(child, (list, tuple)):
            for c in child:
                self.add(c)
        elif not any(c is child for c in self.children):
            self.children.append(child)

    def visit(self, pre=None, post=None):
        """Depth-first: ``pre(node)`` on entering an unvisited node, ``post(node)`` after its children (Torch7's
        recursive visit, without Python's recursion limit)."""
        if self.visited:
            return
        if pre:
            pre(self)
        stack = [(self, iter(self.children))]
        while stack:
            node, it = stack[-1]
            child = next(it, None)
            if child is None:
                stack.pop()
                if post:
                    post(node)
            elif not child.visited:
                if pre:
                    pre(child)
                stack.append((child, iter(child.children)))

    def dfs_dirty(self, func):
        visited = []

        def pre(node):
            node.visited = True

        def post(node):
            func(node)
            visited.append(node)
        self.visit(pre, post)
        return visited

    def dfs(self, func):
        """``func(node)`` for every node reachable, children first (post-order)."""
        for node in self.dfs_dirty(func):
            node.visited = False

    def bfs_dirty(self, func):
        visited = []
        queue = [self]
        self.marked = True
        head = 0
        while head < len(queue):
            node = queue[head]
            head += 1
            visited.append(node)
            func(node)
            for child in node.children:
                if not child.marked:
                    child.marked = True
                    queue.append(child)
        return visited

    def bfs(self, func):
        """``func(node)`` for every node reachable, breadth first."""
        for node in self.bfs_dirty(func):
            node.marked = False

    def graph(self):
        """The Graph of every edge reachable from this node (breadth first, as Torch7)."""
        g = Graph()

        def build(node):
            for child in node.children:
                g.add(Edge(node, child))
        self.bfs(build)
        return g

    def label(self):
        return str(self.data)

    def __repr__(self):
        return f'{type(self).__torch_name__}({self.id})'

    # -- .t7 ------------------------------------------------------------------------------------------------
    def __t7_getstate__(self):
        d = {k: v for k, v in self.__dict__.items() if not k.startswith('_')}
        d['children'] = _lua_map(self.children)
        return d

    def __t7_setstate__(self, fields, ctx):
        self.__dict__.update({k: v for k, v in fields.items() if isinstance(k, str)})
        self.children = _from_lua_map(fields.get('children'), f'{type(self).__torch_name__}.children')
        for k, v in (('id', 0), ('visited', False), ('marked', False), ('data', None)):
            self.__dict__.setdefault(k, v)


class Edge:
    """graph.Edge: ``from_`` (Lua's ``from``), ``to``, ``weight``."""

    def __init__(self, from_, to, weight=None):
        self.from_ = from_
        self.to = to
        self.weight = weight

    def __repr__(self):
        return f'graph.Edge({self.from_!r} -> {self.to!r})'

    def __t7_getstate__(self):
        d = {'from': self.from_, 'to': self.to}
        if self.weight is not None:
            d['weight'] = self.weight
        return d

    def __t7_setstate__(self, fields, ctx):
        self.from_ = fields.get('from')
        self.to = fields.get('to')
        self.weight = fields.get('weight')
        if not isinstance(self.from_, Node) or not isinstance(self.to, Node):
            raise TypeError("graph.Edge: 'from' and 'to' must be graph nodes")


class Graph:
    """graph.Graph: ``nodes`` and ``edges`` (lists; a node's ``id`` is its 1-based position in ``nodes``)."""

    def __init__(self):
        self.nodes = []
        self.edges = []

    def _index(self, what):
        """{node: 1-based position} (or for edges), cached while the list keeps its length."""
        items = self.nodes if what == 'n' else self.edges
        key = '_nidx' if what == 'n' else '_eidx'
        idx = self.__dict__.get(key)
        if idx is None or len(idx) != len(items):
            idx = {x: i for i, x in enumerate(items, 1)}
            self.__dict__[key] = idx
        return idx

    def add(self, edge):
        """Add an Edge (or each of a list) and its two nodes."""
        if isinstance(edge, (list, tuple)):
            for e in edge:
                self.add(e)
            return
        if not isinstance(edge, Edge):
            raise TypeError(f"graph.Graph.add: expected a graph.Edge or a list of them, got {type(edge).__name__}")
        eidx = self._index('e')
        if edge not in eidx:
            self.edges.append(edge)
            eidx[edge] = len(self.edges)
        nidx = self._index('n')
        for n in (edge.from_, edge.to):
            if n not in nidx:
                self.nodes.append(n)
                nidx[n] = len(self.nodes)
        edge.from_.add(edge.to)
        edge.from_.id = nidx[edge.from_]
        edge.to.id = nidx[edge.to]

    def reverse(self):
        """(a graph with every edge reversed, {node here: its new node}); the new nodes share the data."""
        rg = Graph()
        mapnodes = {}
        for e in self.edges:
            for n in (e.from_, e.to):
                if n not in mapnodes:
                    mapnodes[n] = type(n)(n.data)
            rg.add(Edge(mapnodes[e.to], mapnodes[e.from_]))
        return rg, mapnodes

    def _ends(self, start, end):
        """The ``start`` nodes of edges that are no edge's ``end`` node, by position in ``nodes``."""
        ends = {getattr(e, end) for e in self.edges}
        found = {getattr(e, start) for e in self.edges} - ends
        return sorted(found, key=self._index('n').__getitem__)

    def roots(self):
        """Nodes no edge points to, by position in ``nodes``."""
        return self._ends('from_', 'to')

    def leaves(self):
        """Nodes no edge starts from, by position in ``nodes``."""
        return self._ends('to', 'from_')

    def topsort(self):
        """The nodes in topological order (every node after the nodes with edges to it), as Torch7 orders them:
        a depth-first post-order walk of the reversed graph from its roots."""
        rg, mapnodes = self.reverse()
        rmap = {v: k for k, v in mapnodes.items()}
        roots = rg.roots()
        if not roots:
            raise ValueError("graph.Graph.topsort: the graph has cycles")
        if len(roots) > 1:
            root = Node('dummy_root')
            for r in roots:
                root.add(r)
        else:
            root = roots[0]
        out = []

        def take(node):
            n = rmap.get(node)
            if n is not None:
                out.append(n)
        root.dfs(take)
        if len(out) != len(self.nodes):
            raise ValueError("graph.Graph.topsort: the graph has cycles")
        return out

    def __repr__(self):
        return f'graph.Graph({len(self.nodes)} nodes, {len(self.edges)} edges)'

    # -- .t7 ------------------------------------------------------------------------------------------------
    def __t7_getstate__(self):
        d = {k: v for k, v in self.__dict__.items() if not k.startswith('_')}
        d['nodes'] = _lua_map(self.nodes)
        d['edges'] = _lua_map(self.edges)
        return d

    def __t7_setstate__(self, fields, ctx):
        self.__dict__.update({k: v for k, v in fields.items() if isinstance(k, str)})
        self.nodes = _from_lua_map(fields.get('nodes'), 'graph.Graph.nodes')
        self.edges = _from_lua_map(fields.get('edges'), 'graph.Graph.edges')


registerObjectClass('graph.Node', Node)
registerObjectClass('graph.Edge', Edge)
registerObjectClass('graph.Graph', Graph)

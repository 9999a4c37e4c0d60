"""nn.gModule: a module made of a directed acyclic graph of modules (nngraph's).

``nn.gModule(inputs, outputs)`` takes the input nodes and the output nodes (lists).  As in nngraph it adds a dummy
``innode`` feeding the inputs (split when there are several) and a dummy ``outnode`` collecting the outputs; ``bg``
(the graph from outnode towards the inputs) is walked for gradients, ``fg`` (its reverse, new nodes sharing the
data) for outputs, in the topological orders ``forwardnodes`` and ``backwardnodes`` Torch7 computes, so that
gradients reaching a node from several consumers are summed in Torch7's order.

Each node's ``data.input`` is the list of its inputs (in ``mapindex`` order; one input is passed as itself, not
as a list), ``data.gradOutput`` the gradients its consumers sent (summed into ``data.gradOutputBuffer`` when there
are several).
"""
import copy

from ..nn.containers import Container
from ..nn.module import Module
from ..nn.table import _leaves
from ..tensor import Tensor
from ..serialization.t7 import _deep_stack
from .node import Node


def _expect_node(v, where, i, who='nn.gModule'):
    if isinstance(v, Node):
        return
    if v is None:
        msg = f"{where}[{i}] is None (typo / bad index?)"
    elif isinstance(v, Module):
        msg = (f"{where}[{i}] is an nn module, specifically a {v!r}, but the only valid thing to pass is an "
               f"nngraph.Node. Did you forget a second set of parentheses, which turn a module into a node "
               f"(nn.Linear(2, 3)(x), nn.Identity()())?")
    else:
        msg = f"{where}[{i}] should be an nngraph.Node but is a {type(v).__name__}"
    raise TypeError(f"{who}: {msg}")


def _expect_once(nodes, where, i):
    """``nodes[i]`` is not among the nodes before it (Lua fails later: "Don't pass the same input twice", or, for an
    input, a table reaching a module at forward)."""
    for j in range(i):
        if nodes[j] is nodes[i]:
            raise ValueError(f"nn.gModule: {where}[{i}] is the same node as {where}[{j}]; give each node once "
                             f"(nn.Identity()(node) makes a second one)")


def call_module(module, args, gradOutput=None):
    """``module(node)``, ``module([node, ...])``, ``module()``: a new Node holding ``module`` whose inputs are those
    nodes (what Module.__call__ does when given nodes)."""
    if gradOutput is not None or len(args) > 1:
        raise TypeError(f"{module!r}: called on nngraph nodes it takes one argument, a node or a list of nodes "
                        f"(Lua: use {{input1, input2}} to pass several inputs)")
    if not args:
        inputs = []
    elif isinstance(args[0], (list, tuple)):
        inputs = list(args[0])
        if not inputs:
            raise ValueError(f"{module!r}: cannot pass an empty list of input nodes; to make a node without inputs "
                             f"call the module with no argument: {module!r}()")
    else:
        inputs = [args[0]]
    for i, n in enumerate(inputs):
        _expect_node(n, 'inputs', i, f"{module!r} called on nngraph nodes")
    node = Node({'module': module})
    for n in inputs:
        node.add(n, True)
    return node


def _label(node):
    a = node.data['annotations']
    name = a.get('name')
    lbl = a.get('_debugLabel', '')
    return f"{name} {lbl}" if name else lbl


def _run_module(node, func, *args):
    """``func(module, *args)`` for the node's module, the error (if any) noted with the node; without a module the
    node passes its last argument on (the input forward, the gradient backward)."""
    m = node.data.get('module')
    if m is None:
        return args[-1]
    try:
        return func(m, *args)
    except Exception as e:
        e.add_note(f"  in nn.gModule node {_label(node)} ({m!r})")
        raise


def _update_grad_input(m, input, gradOutput):
    return m.updateGradInput(input, gradOutput)


def _acc_grad_parameters(m, input, gradOutput, scale):
    m.accGradParameters(input, gradOutput, scale)


# -- nested tensors (a gradOutput may be a tensor or a list of them) --------------------------------------------
def _clone_nested(x):
    if isinstance(x, (list, tuple)):
        return [_clone_nested(e) for e in x]
    if isinstance(x, Tensor):
        return x.clone()
    return x.copy()        # an array a caller passed


def _arr(x):
    return x._a if isinstance(x, Tensor) else x


def _resize_copy_nested(buf, src):
    """``buf`` made a copy of ``src`` (reusing its tensors: nngraph's resizeNestedAs + copyNested); the result."""
    if isinstance(src, (list, tuple)):
        if not isinstance(buf, list):
            return _clone_nested(src)
        del buf[len(src):]
        for i, s in enumerate(src):
            if i < len(buf):
                buf[i] = _resize_copy_nested(buf[i], s)
            else:
                buf.append(_clone_nested(s))
        return buf
    if isinstance(buf, Tensor) and isinstance(src, Tensor) and buf._info is src._info:
        if buf._a.shape != src._a.shape:
            buf.resize(src._a.shape)
        buf._a[...] = src._a
        return buf
    return _clone_nested(src)


def _add_nested(buf, src):
    if isinstance(buf, list):
        if not isinstance(src, (list, tuple)) or len(src) != len(buf):
            raise ValueError("nn.gModule: gradients of different structures reach one node (a table and a tensor, "
                             "or tables of different lengths)")
        for b, s in zip(buf, src):
            _add_nested(b, s)
    else:
        a = _arr(buf)
        a += _arr(src)


def _is_zero1(x):
    """A tensor over a 1-element storage holding 0: the zero gradient some modules send (nngraph skips summing)."""
    if not isinstance(x, Tensor):
        return False
    st = x._s
    return st is not None and len(st) == 1 and float(st._data[0]) == 0


def _total_grad(data):
    """The sum of the gradients a node received (nngraph's getTotalGradOutput: the first, then each next added)."""
    go = data.get('gradOutput')
    if not isinstance(go, list) or not go:
        raise ValueError("nn.gModule: a node received no gradient (is it connected to the output?)")
    if len(go) == 1:
        return go[0]
    if data.get('gradOutputBuffer') is None:
        nonzero = [g for g in go if not _is_zero1(g)]
        if len(nonzero) < 2:
            return nonzero[0] if nonzero else go[0]
    buf = data['gradOutputBuffer'] = _resize_copy_nested(data.get('gradOutputBuffer'), go[0])
    for g in go[1:]:
        _add_nested(buf, g)
    return buf


def _node_input(data):
    inp = data.get('input')
    if inp is None:
        return []       # a node with a module and no inputs
    return inp[0] if len(inp) == 1 else inp


class gModule(Container):
    """A graph of modules: ``nn.gModule(inputs, outputs)`` with lists of nngraph nodes (see the module doc)."""

    def __init__(self, inputs, outputs):
        super().__init__()
        if isinstance(inputs, Node):
            inputs = [inputs]
        if isinstance(outputs, Node):
            outputs = [outputs]
        if not isinstance(inputs, (list, tuple)) or not isinstance(outputs, (list, tuple)):
            raise TypeError(f"nn.gModule: expected lists of input and output nodes, got a {type(inputs).__name__} "
                            f"and a {type(outputs).__name__}")
        if not outputs:     # (else no node starts the graph: Lua asserts "expecting only one start")
            raise ValueError("nn.gModule: no outputs are not supported (give at least one output node)")
        # every argument is checked before a node is connected (Lua connects the outputs first): a call failing
        # here leaves the nodes as they were, so the corrected call does not fail on the first one's connections
        for i, n in enumerate(outputs):
            _expect_node(n, 'outputs', i)
            _expect_once(outputs, 'outputs', i)
        for i, n in enumerate(inputs):
            _expect_node(n, 'inputs', i)
            _expect_once(inputs, 'inputs', i)
        if not inputs:
            raise ValueError("nn.gModule: no inputs are not supported (give at least one input node)")
        for i, n in enumerate(inputs if len(inputs) > 1 else ()):
            if n.children:
                raise ValueError(f"nn.gModule: inputs[{i}] has inputs itself; an input node should have none "
                                 f"(make it with module(), e.g. nn.Identity()())")
        outnode = Node({'input': []})
        for n in outputs:
            outnode.add(n, True)
        innode = Node({'input': []})
        if len(inputs) == 1:
            inputs[0].add(innode, True)
        else:
            splits = innode.split(len(inputs))
            for n, s in zip(inputs, splits):
                n.add(s, True)

        self.bg = outnode.graph()
        self.fg = self.bg.reverse()[0]
        roots = self.fg.roots()
        if len(roots) > 1:
            extra = [r for r in roots if r.data is not innode.data]
            raise ValueError(f"nn.gModule: {len(extra)} node(s) without inputs that are not among the gModule's "
                             f"inputs: {', '.join(_label(r) for r in extra)} (list every node made by module() in "
                             f"the inputs)")
        self.innode = roots[0]
        if self.innode.data is not innode.data:
            raise ValueError("nn.gModule: the input nodes do not reach the outputs")
        self.outnode = outnode
        self.verbose = False
        self.nInputs = len(inputs)
        self.forwardnodes = self.fg.topsort()
        self.backwardnodes = self.bg.topsort()

        place = {id(n.data): i for i, n in enumerate(self.forwardnodes)}
        # (an unused input would else be reported, as in Lua, as an unused output of a split the user never made)
        unused = [i for i, n in enumerate(inputs) if id(n.data) not in place]
        if unused:
            raise ValueError(f"nn.gModule: no output depends on {', '.join(f'inputs[{i}]' for i in unused)} (of "
                             f"{len(inputs)} inputs); give only the inputs the outputs are computed from")
        for i, node in enumerate(self.forwardnodes):
            d = node.data
            n_split = d.get('nSplitOutputs')
            if n_split and n_split != len(node.children):
                raise ValueError(f"nn.gModule: {n_split - len(node.children)} of split({n_split}) outputs from the "
                                 f"node declared at {d['annotations'].get('_debugLabel')} are unused")
            for succ in d['reverseMap']:
                j = place.get(id(succ.data), -1)
                if 0 <= j <= i:     # a consumer in the graph but not after: only a cycle puts it there
                    raise ValueError(f"nn.gModule: the graph has a cycle: the node declared on "
                                     f"{succ.data['annotations'].get('_debugLabel')} is an input of a node it "
                                     f"depends on ({_label(node)})")
                if j < 0:
                    raise ValueError(f"nn.gModule: node declared on {succ.data['annotations'].get('_debugLabel')} "
                                     f"does not connect to the gModule's output")
            d['forwardNodeId'] = node.id
            if d.get('module') is not None:
                self.add(d['module'])

        self.output = None
        self.gradInput = None
        if len(self.outnode.children) > 1:
            self.output = self.outnode.data['input']

    # -- forward ------------------------------------------------------------------------------------------
    def _inputs(self, input):
        n = self.__dict__.get('nInputs')
        if n is None:       # old files: no nInputs
            n = len(self.innode.children)
        if n <= 1:
            return [input]
        if not isinstance(input, (list, tuple)):
            raise TypeError(f"nn.gModule: expecting a table (list) of {n} inputs, got a {type(input).__name__}")
        if len(input) != n:
            raise ValueError(f"nn.gModule: got {len(input)} inputs instead of {n}")
        return input

    def runForwardFunction(self, func, input):
        """Run ``func(module, input)`` (or the module method named ``func``) through the graph in forward order."""
        if isinstance(func, str):
            name = func
            func = lambda m, x: getattr(m, name)(x)     # noqa: E731
        # numpy arrays become tensors of the gModule's type here: the nodes keep their inputs (saved with them)
        input = _leaves(self, input)
        if input is self.outnode.data.get('input'):
            # the last output fed back (state = g.forward(state)): that list is emptied below, before it is read
            input = list(input)
        input = self._inputs(input)
        for node in self.forwardnodes:
            inp = node.data.get('input')
            if inp:
                inp.clear()
        innode = self.innode
        if innode.data.get('input') is None:
            innode.data['input'] = []
        innode.data['input'].extend(input)
        for node in self.forwardnodes:
            d = node.data
            si = d.get('selectindex')
            if si is not None:
                inp = d['input']
                if len(inp) != 1 or not isinstance(inp[0], (list, tuple)):
                    raise ValueError(f"nn.gModule: the input of split node {_label(node)} must be one table")
                if not 0 <= si < len(inp[0]):
                    raise ValueError(f"nn.gModule: split output {si} of a table of {len(inp[0])}")
                out = inp[0][si]
            else:
                out = _run_module(node, func, _node_input(d))
                n_split = d.get('nSplitOutputs')
                if n_split and (not isinstance(out, (list, tuple)) or n_split != len(out)):
                    raise ValueError(f"nn.gModule: split({n_split}) cannot split "
                                     f"{len(out) if isinstance(out, (list, tuple)) else 'a tensor, not a table of'} "
                                     f"outputs (node {_label(node)})")
            for child in node.children:
                cd = child.data
                cin = cd.get('input')
                if cin is None:
                    cin = cd['input'] = []
                slot = cd.inputIndex(d)
                while len(cin) <= slot:
                    cin.append(None)
                if cin[slot] is not None:
                    raise ValueError("nn.gModule: each input should have one source")
                cin[slot] = out
        out = self.outnode.data['input']
        self.output = out[0] if len(self.outnode.children) == 1 else out
        return self.output

    def updateOutput(self, input):
        return self.runForwardFunction('updateOutput', input)

    # -- backward -----------------------------------------------------------------------------------------
    def _check_grad(self, gradOutput):
        n = len(self.outnode.children)
        if n > 1 and (not isinstance(gradOutput, (list, tuple)) or len(gradOutput) != n):
            got = len(gradOutput) if isinstance(gradOutput, (list, tuple)) else f'a {type(gradOutput).__name__}'
            raise ValueError(f"nn.gModule: got {got} gradOutputs instead of {n}")

    def updateGradInput(self, input, gradOutput):
        self._check_grad(gradOutput)
        if not self.outnode.data.get('input'):      # the nodes' inputs are those of the last forward
            raise RuntimeError("nn.gModule: updateGradInput needs the node inputs of a forward; call forward first")
        gradOutput = _leaves(self, gradOutput, 'gradOutput')
        for node in self.backwardnodes:
            go = node.data.get('gradOutput')
            if go:
                go.clear()
        od = self.outnode.data
        if od.get('gradOutput') is None:
            od['gradOutput'] = []
        od['gradOutput'].append(gradOutput)
        for node in self.backwardnodes:
            d = node.data
            si = d.get('selectindex')
            if si is not None:
                child = node.children[0]
                go = _total_grad(d)
                cgo = child.data.get('gradOutput')
                if cgo is None:
                    cgo = child.data['gradOutput'] = []
                if not cgo:
                    cgo.append([])
                parts = cgo[0]
                while len(parts) <= si:
                    parts.append(None)
                if parts[si] is not None:
                    raise ValueError("nn.gModule: a split output received two gradients")
                parts[si] = go
                continue
            gi = _run_module(node, _update_grad_input, _node_input(d), _total_grad(d))
            one = len(node.children) == 1
            for child in node.children:
                cgo = child.data.get('gradOutput')
                if cgo is None:
                    cgo = child.data['gradOutput'] = []
                cgo.append(gi if one else gi[d.inputIndex(child.data)])
        ig = self.innode.data.get('gradOutput')
        if not ig or len(ig) != 1:
            raise ValueError("nn.gModule: expecting the input node to be used once")
        self.gradInput = ig[0]
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        self._check_grad(gradOutput)
        if not self.innode.data.get('gradOutput'):     # the nodes' gradients are those of the last updateGradInput
            raise RuntimeError("nn.gModule: accGradParameters needs the node gradients of an updateGradInput; call "
                               "backward (or updateGradInput first)")
        for node in self.backwardnodes:
            d = node.data
            if d.get('module') is None:
                continue
            go = d['gradOutput']
            g = go[0] if len(go) == 1 else d.get('gradOutputBuffer')
            if g is None:
                g = _total_grad(d)
            _run_module(node, _acc_grad_parameters, _node_input(d), g, scale)

    # -- the rest of a Container ----------------------------------------------------------------------------
    def _buffers(self):
        """Drop what the last forward/backward left in the nodes (inputs and gradients: they hold no state)."""
        for node in self.backwardnodes:
            node.data.pop('gradOutput', None)
            node.data.pop('gradOutputBuffer', None)
        for node in self.forwardnodes:
            node.data.pop('input', None)

    def clearState(self):
        super().clearState()
        self._buffers()
        return self

    def type(self, name=None, tensorCache=None):
        if name is None:
            return self._type
        self._buffers()
        if isinstance(self.output, list):
            self.output = None
        return super().type(name, tensorCache)

    def replace(self, fn):
        """Torch7's gModule:replace: ``fn(self)``, then each node's module replaced by ``module.replace(fn)`` (in
        the node and in ``modules``)."""
        out = fn(self)
        where = {id(m): i for i, m in enumerate(self.modules)}
        for node in self.forwardnodes:
            m = node.data.get('module')
            if m is None:
                continue
            rep = getattr(m, 'replace', None)
            new = rep(fn) if rep is not None else fn(m)
            node.data['module'] = new
            i = where.get(id(m))
            if i is not None:
                self.modules[i] = new
        return out

    def __deepcopy__(self, memo):
        # (clone): the nodes link to each other, so copying a long chain recurses deeply: with t7's raised limit
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        with _deep_stack():
            for k, v in self.__dict__.items():
                new.__dict__[k] = copy.deepcopy(v, memo)
        return new

    def map(self, gm, func):
        """``func(module, gm's module)`` for the modules at the same nodes of this gModule and ``gm``."""
        if len(gm.forwardnodes) != len(self.forwardnodes):
            raise ValueError("nn.gModule.map: the other gModule has a different structure")
        for a, b in zip(self.forwardnodes, gm.forwardnodes):
            ma, mb = a.data.get('module'), b.data.get('module')
            if (ma is None) != (mb is None):
                raise ValueError("nn.gModule.map: the other gModule has a different structure")
            if ma is not None:
                func(ma, mb)

    def __t7_loaded__(self, ctx):
        d = self.__dict__
        for k in ('forwardnodes', 'backwardnodes'):
            v = d.get(k)
            if not isinstance(v, list) or not all(isinstance(n, Node) for n in v):
                raise TypeError(f"nn.gModule.{k} must be a list of nngraph.Node, the file has "
                                f"{type(v).__name__ if not isinstance(v, list) else 'other objects in it'}")
        for k in ('innode', 'outnode'):
            if not isinstance(d.get(k), Node):
                raise TypeError(f"nn.gModule.{k} must be an nngraph.Node, the file has a {type(d.get(k)).__name__}")
        if self.__dict__.get('modules') is None:        # files without a modules table (Lua's gModule:read)
            self.modules = [n.data['module'] for n in self.forwardnodes
                            if isinstance(n.data, dict) and n.data.get('module') is not None]
        self.__dict__.setdefault('verbose', False)

    def __repr__(self):
        return self.__dict__.get('name') or 'nn.gModule'

"""nngraph: nn.gModule, nngraph.Node, graph.Graph/Edge, and their .t7 files (Lua's char-rnn LSTM)."""
import copy
import os

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn, nngraph
from luatorch_py.serialization import T7Error, registerClass, t7
from luatorch_py.nngraph import graph

from nn_helpers import rnd, roundtrip

REAL = '/work/shared/fixtures/realmodels'
TF = '/work/shared/fixtures/t7/torchfile-tests'


# -- char-rnn's own class, written as a user would (karpathy/char-rnn util/OneHot.lua) ------------------------------
class OneHot(nn.Module):
    """char-rnn's global OneHot (not nn.OneHot): a batch of class indices -> rows of an identity matrix.  Lua's
    indices are 1-based; this class takes 0-based ones (the test subtracts 1 from the io file's values)."""

    def __init__(self, outputSize):
        super().__init__()
        self.outputSize = outputSize

    def updateOutput(self, input):
        idx = input._a if isinstance(input, torch.Tensor) else np.asarray(input)
        idx = idx.reshape(-1).astype(np.intp)
        out = np.zeros((idx.shape[0], self.outputSize))
        out[np.arange(idx.shape[0]), idx] = 1
        self.output = torch.fromNumpy(out).type(self._type)
        return self.output


@pytest.fixture(autouse=True, scope='module')
def _onehot_registered():
    """Files naming the global class 'OneHot' load as the class above (restored after: other tests may register
    their own)."""
    prev = nn.REGISTRY.get('OneHot')
    registerClass('OneHot', OneHot, replace=True)
    yield
    if prev is None:
        nn.REGISTRY.pop('OneHot', None)
    else:
        registerClass('OneHot', prev, replace=True)


def _load_lstm():
    if not os.path.exists(os.path.join(REAL, 'char_rnn_lstm.t7')):
        pytest.skip('no realmodels fixtures')
    return torch.load(os.path.join(REAL, 'char_rnn_lstm.t7')), torch.load(os.path.join(REAL, 'char_rnn_lstm_io.t7'))


def _io_input(io):
    # x holds Lua's 1-based class indices (3, 7, 10): OneHot here takes 0-based ones, so subtract 1
    x = io['input']
    return [torch.fromNumpy(x[0].numpy() - 1)] + list(x[1:])


def _rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    scale = np.abs(b).max() if b.size else 1.0
    return float(np.abs(a - b).max() / scale) if b.size else 0.0


def _check_lstm(m, io):
    x = _io_input(io)
    out = m.forward(x)
    assert len(out) == 5
    for a, b in zip(out, io['output']):
        assert _rel(a.numpy(), b.numpy()) < 1e-12
    m.zeroGradParameters()
    gi = m.backward(x, io['gradOutput'])
    assert len(gi) == 5
    assert gi[0].nElement() == 0 and io['gradInput'][0].nElement() == 0     # OneHot has no gradInput
    for a, b in zip(gi[1:], io['gradInput'][1:]):
        assert _rel(a.numpy(), b.numpy()) < 1e-12
    params, grads = m.parameters()
    assert len(grads) == len(io['gradParams']) == 10
    for a, b in zip(grads, io['gradParams']):
        assert _rel(a.numpy(), b.numpy()) < 1e-12
    first = m.modules[2]        # io['firstParamLayer'] describes it: the first Linear (i2h_1)
    assert isinstance(first, nn.Linear)
    assert _rel(first.gradWeight.numpy(), io['gradWeight'].numpy()) < 1e-12
    assert _rel(first.gradBias.numpy(), io['gradBias'].numpy()) < 1e-12


def test_char_rnn_lstm_matches_lua():
    m, io = _load_lstm()
    assert isinstance(m, nn.gModule) and m.nInputs == 5
    assert isinstance(m.fg, graph.Graph) and isinstance(m.bg, graph.Graph)
    assert all(isinstance(n, nngraph.Node) for n in m.forwardnodes + m.backwardnodes)
    assert isinstance(m.fg.edges[0], graph.Edge)
    _check_lstm(m, io)
    # the flat gradient (char-rnn trains through getParameters): Lua's flatGradParams
    p, g = m.getParameters()
    m.zeroGradParameters()
    x = _io_input(io)
    m.forward(x)
    m.backward(x, io['gradOutput'])
    assert _rel(g.numpy(), io['flatGradParams'].numpy()) < 1e-12
    # and a second pass (buffers reused) gives the same numbers
    _check_lstm(m, io)


def test_char_rnn_lstm_round_trip(tmp_path):
    m, io = _load_lstm()
    m2 = roundtrip(m, tmp_path)
    _check_lstm(m2, io)
    # after a forward/backward (inputs and gradients in the nodes) and after clearState
    m2 = roundtrip(m2, tmp_path)
    _check_lstm(m2, io)
    m2.clearState()
    _check_lstm(roundtrip(m2, tmp_path), io)


# -- the same LSTM built in Python (char-rnn's model/LSTM.lua at 6f9487a, n=2 layers, no dropout) -------------------
def _lstm(input_size, rnn_size, n):
    inputs = [nn.Identity()()]
    for _ in range(n):
        inputs.append(nn.Identity()())
        inputs.append(nn.Identity()())
    outputs = []
    for L in range(1, n + 1):
        prev_h = inputs[L * 2]
        prev_c = inputs[L * 2 - 1]
        if L == 1:
            x = OneHot(input_size)(inputs[0])
            size = input_size
        else:
            x = outputs[(L - 1) * 2 - 1]
            size = rnn_size
        i2h = nn.Linear(size, 4 * rnn_size)(x).annotate(name=f'i2h_{L}')
        h2h = nn.Linear(rnn_size, 4 * rnn_size)(prev_h).annotate(name=f'h2h_{L}')
        sums = nn.CAddTable()([i2h, h2h])
        reshaped = nn.Reshape(4, rnn_size)(sums)
        n1, n2, n3, n4 = nn.SplitTable(1)(reshaped).split(4)      # Lua's SplitTable(2)
        in_gate = nn.Sigmoid()(n1)
        forget_gate = nn.Sigmoid()(n2)
        out_gate = nn.Sigmoid()(n3)
        in_transform = nn.Tanh()(n4)
        next_c = nn.CAddTable()([nn.CMulTable()([forget_gate, prev_c]), nn.CMulTable()([in_gate, in_transform])])
        next_h = nn.CMulTable()([out_gate, nn.Tanh()(next_c)])
        outputs += [next_c, next_h]
    proj = nn.Linear(rnn_size, input_size)(outputs[-1]).annotate(name='decoder')
    outputs.append(nn.LogSoftMax()(proj))
    return nn.gModule(inputs, outputs)


def _order(nodes):
    return [(n.id, repr(n.data.get('module')) if n.data.get('module') is not None else n.data.get('selectindex'))
            for n in nodes]


def test_python_built_lstm_has_lua_order_and_numbers(tmp_path):
    lua, io = _load_lstm()
    m = _lstm(10, 16, 2)
    # Torch7's topological orders (ids, modules, split indices): gradients are summed in the same order
    assert _order(m.forwardnodes) == _order(lua.forwardnodes)
    assert _order(m.backwardnodes) == _order(lua.backwardnodes)
    assert [repr(x) for x in m.modules] == [repr(x) for x in lua.modules]
    # Lua's parameters -> the same numbers
    p, _ = m.getParameters()
    lp, _ = lua.getParameters()
    p.copy(lp)
    _check_lstm(m, io)
    _check_lstm(roundtrip(m, tmp_path), io)


# -- the layout written is Lua's --------------------------------------------------------------------------------
class _Raw:
    """A torch object read as its raw fields table (to look at the layout a file holds)."""
    def __t7_setstate__(self, fields, ctx):
        self.fields = fields

    def __t7_getstate__(self):
        return self.fields


def _raw_load(path, monkeypatch):
    for name in ('nngraph.Node', 'graph.Graph', 'graph.Edge'):
        monkeypatch.setitem(t7.OBJECT_CLASSES, name, type(name, (_Raw,), {}))
    monkeypatch.setattr(nn.gModule, '__t7_loaded__', lambda self, ctx: None)
    try:
        return torch.load(path)
    finally:
        monkeypatch.undo()


def _layout(g):
    """What Lua's nngraph reads of a gModule, by kind: every node's fields, data keys, two-way maps."""
    def kinds(t):
        return sorted({type(k).__name__ for k in t})

    def node(n):
        f = n.fields
        d = f['data']
        mi = d.get('mapindex')
        return (sorted(k for k in f if k != 'data'), sorted(k for k in d if k not in ('input', 'gradOutput',
                                                                                      'gradOutputBuffer')),
                type(f['children']).__name__, kinds(f['children']) if isinstance(f['children'], dict) else [],
                kinds(mi) if isinstance(mi, dict) else mi, d.get('selectindex'), f['id'])
    out = [sorted(k for k in g.__dict__ if not k.startswith('_'))]
    for gr in (g.fg, g.bg):
        out.append((sorted(gr.fields), kinds(gr.fields['nodes']), kinds(gr.fields['edges'])))
        out.append(sorted(type(e).__name__ for e in gr.fields['edges'] if not isinstance(e, int)))
        out.append(sorted(sorted(e.fields) for e in gr.fields['edges'] if not isinstance(e, int)))
    out.append([node(n) for n in g.forwardnodes])
    out.append([node(n) for n in g.backwardnodes])
    return out


def test_saved_layout_is_luas(tmp_path, monkeypatch):
    """A gModule built here is written with Lua's classes and fields: the same layout as Lua's file of the same
    net (fields of gModule, Graph, Edge, Node and node data; two-way tables keyed by nodes and data tables;
    1-based selectindex)."""
    _load_lstm()
    path = str(tmp_path / 'py.t7')
    m = _lstm(10, 16, 2)
    m.clearState()
    torch.save(path, m)
    mine = _raw_load(path, monkeypatch)
    lua = _raw_load(os.path.join(REAL, 'char_rnn_lstm.t7'), monkeypatch)
    a, b = _layout(mine), _layout(lua)
    assert a[0] == b[0]
    assert a == b
    sel = [n.fields['data']['selectindex'] for n in mine.forwardnodes if 'selectindex' in n.fields['data']]
    assert min(sel) == 1      # Lua's 1-based split index
    d = mine.forwardnodes[5].fields['data']
    assert set(type(k).__name__ for k in d['mapindex']) == {'int', 'TableKey'}
    assert d['mapindex'][t7.TableKey(d['mapindex'][1])] == 1


# -- graph building -----------------------------------------------------------------------------------------------
def _fanout_net():
    """x -> Linear -> (Tanh, Sigmoid, and the Linear's output itself) : fan-out, two outputs (a table)."""
    x = nn.Identity()()
    y = nn.Identity()()
    h = nn.Linear(3, 4)(x).annotate(name='h')
    a = nn.Tanh()(h)
    b = nn.Sigmoid()(h)
    s = nn.CAddTable()([a, b, h])
    t = nn.CMulTable()([nn.Linear(2, 4)(y), h])
    return nn.gModule([x, y], [s, t])


def _fd_check(m, xs, gos, eps=1e-6):
    """Finite-difference check of gradInput and of every parameter gradient (float64): d <output, gos> / d v."""
    def loss():
        out = m.forward(xs)
        return sum(float((o.numpy() * g.numpy()).sum()) for o, g in zip(out, gos))
    m.zeroGradParameters()
    m.forward(xs)
    gi = m.backward(xs, gos)
    gi = [g.numpy().copy() for g in gi]
    p, dp = m.getParameters()
    m.zeroGradParameters()
    m.forward(xs)
    m.backward(xs, gos)
    vecs = [(x.numpy(), g) for x, g in zip(xs, gi)] + [(p.numpy(), dp.numpy().copy())]
    for v, grad in vecs:
        num = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            old = v[i]
            v[i] = old + eps
            up = loss()
            v[i] = old - eps
            down = loss()
            v[i] = old
            num[i] = (up - down) / (2 * eps)
        assert np.abs(num - grad).max() < 1e-7


def test_jacobian_fanout_table_outputs():
    torch.manualSeed(1)
    m = _fanout_net().double()
    xs = [torch.fromNumpy(rnd(2, 3, seed=1)), torch.fromNumpy(rnd(2, 2, seed=2))]
    gos = [torch.fromNumpy(rnd(2, 4, seed=3)), torch.fromNumpy(rnd(2, 4, seed=4))]
    _fd_check(m, xs, gos)


def test_fanout_sums_in_torch7_order():
    """The gradient reaching h (used by Tanh, Sigmoid, CAddTable, CMulTable) is the sum, in backwardnodes order,
    of what each consumer sent: checked against a loop over the graph's own lists."""
    torch.manualSeed(2)
    m = _fanout_net().double()
    xs = [torch.fromNumpy(rnd(2, 3, seed=5)), torch.fromNumpy(rnd(2, 2, seed=6))]
    gos = [torch.fromNumpy(rnd(2, 4, seed=7)), torch.fromNumpy(rnd(2, 4, seed=8))]
    m.forward(xs)
    m.backward(xs, gos)
    hnode = next(n for n in m.backwardnodes if n.data['annotations'].get('name') == 'h')
    received = hnode.data['gradOutput']
    assert len(received) == 4
    want = received[0].numpy().copy()
    for g in received[1:]:
        want += g.numpy()
    assert np.array_equal(hnode.data['gradOutputBuffer'].numpy(), want)
    # and by hand: d/dh of tanh(h) + sigmoid(h) + h and of l2(y) * h
    lin = hnode.data['module']
    h = xs[0].numpy() @ lin.weight.numpy().T + lin.bias.numpy()
    l2 = m.modules[-2] if isinstance(m.modules[-2], nn.Linear) else next(
        x for x in m.modules if isinstance(x, nn.Linear) and x is not lin)
    y2 = xs[1].numpy() @ l2.weight.numpy().T + l2.bias.numpy()
    g0, g1 = gos[0].numpy(), gos[1].numpy()
    dh = g0 * (1 - np.tanh(h) ** 2) + g0 * (np.exp(-h) / (1 + np.exp(-h)) ** 2) + g0 + g1 * y2
    assert np.abs(want - dh).max() < 1e-12
    assert np.abs(m.gradInput[0].numpy() - dh @ lin.weight.numpy()).max() < 1e-12


def test_single_input_output_and_call_meanings():
    torch.manualSeed(3)
    lin = nn.Linear(3, 2)
    # a module called on a tensor is forward, with a gradOutput also backward (unchanged)
    x = torch.randn(4, 3)
    assert lin(x) is lin.output
    out, gi = lin(x, torch.ones(4, 2))
    assert gi is lin.gradInput
    # called on nodes (or nothing) it builds a graph
    inp = nn.Identity()()
    assert isinstance(inp, nngraph.Node) and inp.data['module'].__class__ is nn.Identity
    h = lin(inp)
    assert isinstance(h, nngraph.Node) and h.data['mapindex'] == [inp.data]
    g = nn.gModule([inp], [nn.Tanh()(h)])
    y = g.forward(x)
    assert isinstance(y, torch.DoubleTensor)
    assert np.allclose(y.numpy(), np.tanh(x.numpy() @ lin.weight.numpy().T + lin.bias.numpy()))
    gi = g.backward(x, torch.ones(4, 2))
    assert gi.shape == (4, 3)
    o2, gi2 = g(x, torch.ones(4, 2))     # the gModule's own call: forward + backward
    assert o2 is g.output and gi2 is g.gradInput


def test_split_justelement_justtable():
    x = nn.Identity()()
    parts = nn.SplitTable(0)(x).split(3)
    assert len(parts) == 3 and [p.data['selectindex'] for p in parts] == [0, 1, 2]
    g = nn.gModule([x], [nn.CAddTable()([parts[2], parts[0]]), nn.Identity()(parts[1])])
    a = torch.fromNumpy(rnd(3, 4, seed=9))
    out = g.forward(a)
    assert np.array_equal(out[0].numpy(), a.numpy()[2] + a.numpy()[0])
    assert np.array_equal(out[1].numpy(), a.numpy()[1])
    gi = g.backward(a, [torch.ones(4), torch.fromNumpy(rnd(4, seed=10))])
    assert np.array_equal(gi.numpy()[1], rnd(4, seed=10)) and np.array_equal(gi.numpy()[0], np.ones(4))
    # split(1) is a JustElement
    y = nn.Identity()()
    one = nngraph.JustTable()(y).split(1)
    assert isinstance(one.data['module'], nngraph.JustElement)
    g1 = nn.gModule([y], [one])
    assert g1.forward(a) is a and g1.backward(a, a) is a
    je, jt = nngraph.JustElement(), nngraph.JustTable()
    t = torch.ones(2)
    assert je.forward([t]) is t and je.backward([t], t) == [t]
    assert jt.forward(t) == [t] and jt.backward(t, [t]) is t
    with pytest.raises(ValueError, match='JustElement'):
        je.forward([t, t])


def test_annotate_and_annotateNodes():
    x = nn.Identity()()
    hidden = nn.Linear(2, 2)(x).annotate(name='hid', description='d')
    assert hidden.data['annotations']['name'] == 'hid' and hidden.data.annotations['description'] == 'd'
    out = nn.Tanh()(hidden)
    nngraph.annotateNodes()
    assert out.data['annotations']['name'] == 'out' and hidden.data['annotations']['name'] == 'hid'
    assert 'test_nngraph.py' in x.data['annotations']['_debugLabel']
    hidden.annotate({'graphAttributes': {'color': 'red'}})
    assert hidden.data['annotations']['graphAttributes'] == {'color': 'red'}


def test_errors_name_the_problem():
    x = nn.Identity()()
    with pytest.raises(TypeError, match='forget a second set of parentheses'):
        nn.gModule([nn.Identity()], [x])
    with pytest.raises(TypeError, match='should be an nngraph.Node'):
        nn.Linear(2, 2)([x, torch.ones(2)])
    with pytest.raises(ValueError, match='same input twice'):
        nn.CAddTable()([x, x])
    x = nn.Identity()()         # (the failed call left x connected to a node that goes nowhere)
    a, b = nn.SplitTable(0)(x).split(2)
    with pytest.raises(ValueError, match='outputs from the node declared at .* are unused'):
        nn.gModule([x], [nn.Tanh()(a)])
    y = nn.Identity()()
    h = nn.Tanh()(y)
    nn.Sigmoid()(h)       # dangling: never reaches an output
    with pytest.raises(ValueError, match='does not connect'):
        nn.gModule([y], [h])
    z = nn.Identity()()
    w = nn.Identity()()
    with pytest.raises(ValueError, match='without inputs that are not among'):
        nn.gModule([z], [nn.CAddTable()([z, w])])
    x2, y2 = nn.Identity()(), nn.Identity()()
    g = nn.gModule([x2, y2], [nn.CAddTable()([x2, y2])])
    with pytest.raises(ValueError, match='got 1 inputs instead of 2'):
        g.forward([torch.ones(2)])
    with pytest.raises(TypeError, match='table'):
        g.forward(torch.ones(2))
    g2 = nn.gModule([x2 := nn.Identity()()], [nn.Linear(3, 2)(x2)])
    with pytest.raises(ValueError, match='gModule node'):
        g2.forward(torch.ones(4))


def test_container_methods_and_sharing(tmp_path):
    torch.manualSeed(4)
    x = nn.Identity()()
    l1 = nn.Linear(3, 3)
    l2 = l1.clone('weight', 'bias', 'gradWeight', 'gradBias')      # shared parameters, as char-rnn's clones
    g = nn.gModule([x], [nn.CAddTable()([l1(x), nn.Tanh()(l2(x))])]).double()
    assert l2.weight.storage() is l1.weight.storage()
    params, grads = g.parameters()
    assert len(params) == 4 and [type(x) for x in g.modules] == [nn.Identity, nn.Linear, nn.Linear, nn.Tanh,
                                                                 nn.CAddTable]
    a = torch.fromNumpy(rnd(2, 3, seed=11))
    g.zeroGradParameters()
    g.forward(a)
    g.backward(a, torch.ones(2, 3))
    w = l1.weight.numpy().copy()
    g.updateParameters(0.1)
    # both uses accumulated into the one shared gradient; updateParameters steps both listed copies
    assert np.allclose(l1.weight.numpy(), w - 2 * 0.1 * l1.gradWeight.numpy())
    g.evaluate()
    assert all(not m.train for m in g.modules) and not g.train
    g.training()
    assert all(m.train for m in g.modules)
    f = g.float()
    assert f.type() == 'torch.FloatTensor' and l1.weight.type() == 'torch.FloatTensor'
    y = f.forward(a.float())
    assert y.type() == 'torch.FloatTensor'
    g.double()
    g2 = g.clone()
    assert g2.modules[0] is not g.modules[0] and len(g2.forwardnodes) == len(g.forwardnodes)
    assert np.array_equal(g2.forward(a).numpy(), g.forward(a).numpy())
    g3 = roundtrip(g, tmp_path)
    assert g3.modules[1].weight.storage() is g3.modules[2].weight.storage()     # sharing survives the file
    assert np.array_equal(g3.forward(a).numpy(), g.forward(a).numpy())
    g.clearState()
    assert all('input' not in n.data for n in g.forwardnodes)
    assert g.findModules('nn.Tanh')[0][0].__class__ is nn.Tanh


def test_module_from_criterion():
    torch.manualSeed(5)
    p, t = nn.Identity()(), nn.Identity()()
    loss = nngraph.ModuleFromCriterion(nn.MSECriterion())([p, t])
    g = nn.gModule([p, t], [loss])
    a, b = torch.fromNumpy(rnd(3, 2, seed=12)), torch.fromNumpy(rnd(3, 2, seed=13))
    out = g.forward([a, b])
    assert out.shape == (1,) and abs(out[0] - ((a.numpy() - b.numpy()) ** 2).mean()) < 1e-15
    gi = g.backward([a, b], torch.DoubleTensor([2.0]))
    assert np.allclose(gi[0].numpy(), 2 * 2 * (a.numpy() - b.numpy()) / 6)
    assert np.array_equal(gi[1].numpy(), np.zeros((3, 2)))
    assert nn.ModuleFromCriterion is nngraph.ModuleFromCriterion
    with pytest.raises(TypeError, match='expected a criterion'):
        nngraph.ModuleFromCriterion(nn.Linear(2, 2))


@pytest.mark.parametrize('bad, got', [(None, 'NoneType'), (1.0, 'float'),
                                      (torch.DoubleTensor(), 'an empty torch.DoubleTensor')])
def test_module_from_criterion_needs_a_loss_gradient(bad, got):
    # numpy's or Python's words before ('NoneType' object is not subscriptable, index 0 is out of bounds)
    m = nn.ModuleFromCriterion(nn.MSECriterion())
    x = [torch.DoubleTensor([1.0, 2.0]), torch.DoubleTensor([0.0, 0.0])]
    m.forward(x)
    with pytest.raises(TypeError, match=rf'^nn.ModuleFromCriterion: expected gradOutput to be a 1-element tensor '
                                        rf'\(the gradient of the loss\), got {got}$'):
        m.backward(x, bad)
    for ok in (torch.DoubleTensor([3.0]), [3.0], np.array([3.0])):
        assert m.backward(x, ok)[0].tolist() == [3.0, 6.0]

def test_graph_classes():
    a, b, c = graph.Node('a'), graph.Node('b'), graph.Node('c')
    g = graph.Graph()
    g.add([graph.Edge(a, b), graph.Edge(a, c), graph.Edge(b, c)])
    assert [n.data for n in g.nodes] == ['a', 'b', 'c'] and [n.id for n in g.nodes] == [1, 2, 3]
    assert g.roots() == [a] and g.leaves() == [c]
    assert [n.data for n in g.topsort()] == ['a', 'b', 'c']
    rg, _ = g.reverse()
    assert [n.data for n in rg.roots()] == ['c']
    g.add(graph.Edge(c, a))
    with pytest.raises(ValueError, match='cycles'):
        g.topsort()


def test_table_keys_and_torchfile_nngraph_files():
    r = torch.load(os.path.join(TF, 'recursive_kv_table.t7')) if os.path.isdir(TF) else None
    if r is not None:
        (k, v), = r.items()
        assert isinstance(k, t7.TableKey) and k.value is r and v is r
        # written back, and read again: the cycle through the key survives
        r2 = torch.deserialize(torch.serialize(r))
        (k2, v2), = r2.items()
        assert k2.value is r2 and v2 is r2
        g = torch.load(os.path.join(TF, 'gmodule_with_linear_identity.t7'))
        assert isinstance(g, nn.gModule) and g.nInputs == 2
        lin = g.modules[2]
        a, b = torch.fromNumpy(rnd(3, 1, seed=14)), torch.fromNumpy(rnd(3, 2, seed=15))
        out = g.forward([a, b])        # {a, b} -> CAddTable{b, Linear(1, 2)(a)}
        assert np.allclose(out.numpy(), b.numpy() + a.numpy() @ lin.weight.numpy().T + lin.bias.numpy())
        n = torch.load(os.path.join(TF, 'nngraph_node.t7'))
        assert isinstance(n, nngraph.Node) and isinstance(n.data, nngraph.NodeData)
    # a list keyed by the table holding it (the table becomes a list once read: the key follows)
    outer = [None]
    outer[0] = {t7.TableKey(outer): True}
    o2 = torch.deserialize(torch.serialize(outer))
    assert isinstance(o2, list) and list(o2[0])[0].value is o2
    # plain keys: a dict keyed by a list survives a round trip (identity wrapper)
    inner = [1, 2]
    d = torch.deserialize(torch.serialize({t7.TableKey(inner): 'x', 'k': inner}))
    (tk,) = [k for k in d if isinstance(k, t7.TableKey)]
    assert tk.value is d['k'] and d[tk] == 'x'


def test_deepcopy_keeps_graph_consistent():
    x = nn.Identity()()
    g = nn.gModule([x], [nn.Tanh()(nn.Linear(2, 2)(x))])
    g2 = copy.deepcopy(g)
    n = g2.forwardnodes[-2]
    assert all(d is not None for d in n.data['mapindex'])
    assert n.data['mapindex'][0] is g2.forwardnodes[-3].data
    a = torch.ones(2)
    assert np.array_equal(g2.forward(a).numpy(), g.forward(a).numpy())


def test_loaded_bad_node_is_a_t7_error():
    x = nn.Identity()()
    g = nn.gModule([x], [nn.Tanh()(x)])
    data = torch.serialize(g)
    bad = data.replace(b'graph.Edge', b'graph.Edgf')
    with pytest.raises(T7Error, match='graph.Edgf'):
        torch.deserialize(bad)
    g.forwardnodes = [1, 2]
    with pytest.raises(T7Error, match='forwardnodes must be a list of nngraph.Node'):
        torch.deserialize(torch.serialize(g))


def _read_object(data):
    st = torch.CharStorage(len(data) + 1)
    st.numpy()[:len(data)] = np.frombuffer(data, np.int8)
    st.numpy()[-1] = 0
    return torch.MemoryFile(st, 'r').binary().readObject()


def test_node_data_fixups_fail_as_t7_errors():
    # a Node's data is converted once the whole file is read (ctx['after']): an error there was a raw TypeError
    # from File.readObject (and 'cannot load (TypeError ...)' from torch.deserialize); an empty data table (an
    # empty list once read) was registered under another key, and the lookup raised KeyError(<an id>)
    n = nngraph.Node({'module': nn.Tanh()})
    n.data = 5
    data = torch.serialize(n)
    for read in (torch.deserialize, _read_object):
        with pytest.raises(T7Error, match=r'bad object \(TypeError: nngraph.Node.data must be a table'):
            read(data)
    n.data = []
    for read in (torch.deserialize, _read_object):
        m = read(torch.serialize(n))
        assert isinstance(m.data, nngraph.NodeData) and m.data['mapindex'] == [] and m.data['annotations'] == {}


def test_replace_swaps_node_modules():
    x = nn.Identity()()
    g = nn.gModule([x], [nn.Tanh()(nn.Dropout(0.5)(x))])
    g.replace(lambda m: nn.Identity() if isinstance(m, nn.Dropout) else m)
    assert not any(isinstance(m, nn.Dropout) for m in g.modules)
    assert not any(isinstance(n.data.get('module'), nn.Dropout) for n in g.forwardnodes + g.backwardnodes)
    g.training()
    a = torch.fromNumpy(rnd(3, seed=16))
    assert np.allclose(g.forward(a).numpy(), np.tanh(a.numpy()))


def test_on_each_device(device):
    """The fan-out graph on CUDA (under tests/fakecupy without a GPU) gives the CPU's numbers."""
    def run(m, dev):
        on = (lambda t: t.cudaDouble()) if dev == 'cuda' else (lambda t: t)
        if dev == 'cuda':
            m = m.cudaDouble()
        xs = [on(torch.fromNumpy(rnd(2, 3, seed=17))), on(torch.fromNumpy(rnd(2, 2, seed=18)))]
        gos = [on(torch.fromNumpy(rnd(2, 4, seed=19))), on(torch.fromNumpy(rnd(2, 4, seed=20)))]
        m.zeroGradParameters()
        out = [o.double().numpy() for o in m.forward(xs)]
        gi = [g.double().numpy() for g in m.backward(xs, gos)]
        return out, gi, [g.double().numpy() for g in m.parameters()[1]]
    torch.manualSeed(6)
    m = _fanout_net().double()
    want = run(copy.deepcopy(m), 'cpu')
    got = run(m, device)
    for a, b in zip(want, got):
        for x, y in zip(a, b):
            assert np.abs(x - y).max() < 1e-12


def test_long_chain_saves_loads_and_clones():
    """A 300-module chain nests ~900 tables deep in a file (node -> data -> mapindex -> data ...): it saves,
    loads (also a Lua file's order could be that deep), clones and runs."""
    x = nn.Identity()()
    h = x
    for _ in range(300):
        h = nn.Tanh()(h)
    g = nn.gModule([x], [h])
    a = torch.fromNumpy(rnd(2, seed=21))
    want = a.numpy()
    for _ in range(300):
        want = np.tanh(want)
    g2 = torch.deserialize(torch.serialize(g))
    assert len(g2.forwardnodes) == 303
    assert np.abs(g2.forward(a).numpy() - want).max() < 1e-15
    g3 = g.clone()
    assert np.abs(g3.forward(a).numpy() - want).max() < 1e-15
    assert g3.backward(a, torch.ones(2)).shape == (2,)
    f = torch.MemoryFile().binary()         # File.writeObject/readObject nest as deeply as torch.save/load
    f.writeObject(g)
    f.seek(0)
    g4 = f.readObject()
    assert np.abs(g4.forward(a).numpy() - want).max() < 1e-15


def test_jacobian_single_input_with_fanout():
    """nn.Jacobian (float64) on a gModule: input and every parameter."""
    from nn_helpers import check_params
    torch.manualSeed(7)
    x = nn.Identity()()
    h = nn.Linear(4, 3)(x)
    out = nn.CMulTable()([nn.Tanh()(h), nn.Linear(3, 3)(h)])
    check_params(nn.gModule([x], [out]), torch.DoubleTensor(2, 4), update=False)


def test_nngraph_modules_round_trip(tmp_path):
    torch.manualSeed(8)
    p, t = nn.Identity()(), nn.Identity()()
    both = nngraph.JustTable()(nn.Linear(2, 2)(p)).split(1)
    loss = nn.ModuleFromCriterion(nn.MSECriterion())([both, t])
    g = nn.gModule([p, t], [loss, both])
    batch = [torch.fromNumpy(rnd(3, 2, seed=22)), torch.fromNumpy(rnd(3, 2, seed=23))]
    grads = [torch.ones(1), torch.fromNumpy(rnd(3, 2, seed=24))]
    g2 = roundtrip(g, tmp_path)
    assert [type(m) for m in g2.modules] == [type(m) for m in g.modules]
    kinds = {type(m) for m in g2.modules}
    assert {nngraph.JustTable, nngraph.JustElement, nn.ModuleFromCriterion} <= kinds
    for a, b in zip(g.forward(batch), g2.forward(batch)):
        assert np.array_equal(a.numpy(), b.numpy())
    for a, b in zip(g.backward(batch, grads), g2.backward(batch, grads)):
        assert np.array_equal(a.numpy(), b.numpy())
    mfc = next(m for m in g2.modules if isinstance(m, nn.ModuleFromCriterion))
    assert type(mfc.criterion) is nn.MSECriterion


# -- nngraph's `-` operators (Module.__unm__, Module.__sub__, Node.__sub__) -------------------------------------------
def test_minus_operators_build_the_call_graph(tmp_path):
    torch.manualSeed(9)
    lin1, tanh, lin2 = nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)
    h1 = -lin1                                        # Lua: h1 = - nn.Linear(4, 3)
    assert isinstance(h1, nngraph.Node) and h1.data['module'] is lin1 and h1.data['mapindex'] == []
    assert __file__ in h1.data['annotations']['_debugLabel']      # made here, as lin1() would be
    h2 = h1 - tanh - lin2                             # Lua: h2 = h1 - nn.Tanh() - nn.Linear(3, 2)
    assert h2.data['module'] is lin2
    mid = h2.data['mapindex'][0]
    assert mid['module'] is tanh and mid['mapindex'] == [h1.data]
    g = nn.gModule([h1], [h2])
    x = rnd(5, 4, seed=30)
    want = nn.Sequential(lin1, tanh, lin2).forward(x).numpy().copy()
    assert np.array_equal(g.forward(x).numpy(), want)
    go = rnd(5, 2, seed=31)
    gi = g.backward(x, go).numpy()
    ref = np.tanh(x @ lin1.weight.numpy().T + lin1.bias.numpy())
    assert np.allclose(gi, ((go @ lin2.weight.numpy()) * (1 - ref ** 2)) @ lin1.weight.numpy(), rtol=1e-12)
    g2 = roundtrip(g, tmp_path)
    assert np.array_equal(g2.forward(x).numpy(), want)


def test_minus_operators_tables_and_criterions():
    a, b = -nn.Identity(), -nn.Identity()
    d = [a, b] - nn.CSubTable()                       # Lua: {a, b} - nn.CSubTable(): inputs in list order
    assert d.data['mapindex'] == [a.data, b.data]
    s1, s2 = (nn.SplitTable(0)(d)).split(2)
    e = (s1, s2) - nn.CMulTable()                     # a tuple of nodes (split's result) too
    t = -nn.Identity()
    loss = [e, t] - nn.MSECriterion()                 # Lua's criterion call on nodes: a ModuleFromCriterion node
    assert type(loss.data['module']) is nn.ModuleFromCriterion
    assert type(loss.data['module'].criterion) is nn.MSECriterion
    g = nn.gModule([a, b, t], [loss, e])
    x, y, tt = rnd(2, 3, seed=32), rnd(2, 3, seed=33), rnd(3, seed=34)
    out = g.forward([x, y, tt])
    prod = (x - y)[0] * (x - y)[1]
    assert np.allclose(out[1].numpy(), prod, rtol=1e-14)
    assert out[0].numpy()[0] == pytest.approx(((prod - tt) ** 2).mean(), rel=1e-14)
    n = -nn.Identity()
    c = n - nn.AbsCriterion()                         # node - criterion
    assert type(c.data['module']) is nn.ModuleFromCriterion and c.data['mapindex'] == [n.data]


def test_minus_operator_errors():
    lin = nn.Linear(2, 3)
    with pytest.raises(TypeError, match='must be an nngraph node or a list of nodes'):
        lin - nn.Tanh()                               # Lua errors too (nn.Tanh() called on a module)
    with pytest.raises(TypeError, match='must be an nngraph node'):
        nn.MSECriterion() - nn.Tanh()
    with pytest.raises(TypeError, match='right side of `-` must be a module'):
        (-nn.Identity()) - (-nn.Identity())
    for bad in (3, [], [1, 2], np.ones(2)):
        with pytest.raises(TypeError):
            bad - nn.Tanh()
    with pytest.raises(TypeError):
        -(-nn.Identity())                             # a node has no unary minus (nor in Lua)
    # arithmetic on tensors is untouched
    assert (torch.DoubleTensor([3.0]) - torch.DoubleTensor([1.0])).tolist() == [2.0]


def test_nest():
    """nngraph.nest: a node for a nested structure of nodes (nngraph's test_nest.lua's cases)."""
    a = nn.Identity()()
    assert nngraph.nest(a) is a
    one = nngraph.nest([a])
    assert type(one.data['module']) is nngraph.JustTable and one.data['mapindex'] == [a.data]
    in1, in2, in3 = nn.Identity()(), nn.Identity()(), nn.Identity()()
    state = nngraph.nest([in1, [in2], in3])
    assert type(state.data['module']) is nn.Identity
    ok = nn.CAddTable()(nngraph.nest([in1]))
    g = nn.gModule([in1, in2, in3], [state, ok])
    x = [torch.fromNumpy(rnd(2, seed=40 + i)) for i in range(3)]
    out = g.forward(x)
    assert out[0][0] is x[0] and len(out[0][1]) == 1 and out[0][1][0] is x[1] and out[0][2] is x[2]
    assert np.array_equal(out[1].numpy(), x[0].numpy())           # CAddTable of {x1}
    gi = g.backward(x, [[torch.ones(2), [torch.ones(2) * 2], torch.ones(2) * 3], torch.ones(2) * 4])
    assert [a.tolist() for a in gi] == [[5.0, 5.0], [2.0, 2.0], [3.0, 3.0]]
    for bad in (None, [], 3, [in1, 'x']):
        with pytest.raises(TypeError):
            nngraph.nest(bad)


def test_unused_input_named():
    # Lua reports an unused input as "1 of split(2) outputs ... are unused", a split the user never made
    x, y, z = nn.Identity()(), nn.Identity()(), nn.Identity()()
    nn.Tanh()(y)        # y has a consumer, but it reaches no output
    with pytest.raises(ValueError, match=r'no output depends on inputs\[1\] \(of 3 inputs\)'):
        nn.gModule([x, y, z], [nn.CAddTable()([x, z])])
    a, b, c = nn.Identity()(), nn.Identity()(), nn.Identity()()
    with pytest.raises(ValueError, match=r'no output depends on inputs\[0\], inputs\[2\]'):
        nn.gModule([a, b, c], [nn.Tanh()(b)])


def test_cycle_named():
    a = nn.Identity()()
    b = nn.Linear(2, 2)(a)
    c = nn.Tanh()(b)
    b.add(c, True)      # c is also an input of b: b -> c -> b
    with pytest.raises(ValueError, match='the graph has a cycle'):
        nn.gModule([a], [c])


def test_accGradParameters_needs_updateGradInput():
    x = nn.Identity()()
    g = nn.gModule([x], [nn.Linear(3, 2)(x)])
    a, go = torch.fromNumpy(rnd(4, 3, seed=21)), torch.fromNumpy(rnd(4, 2, seed=22))
    g.forward(a)
    with pytest.raises(RuntimeError, match='accGradParameters needs the node gradients of an updateGradInput'):
        g.accGradParameters(a, go)
    # after updateGradInput it runs, and after clearState it says so again
    g.zeroGradParameters()
    g.updateGradInput(a, go)
    g.accGradParameters(a, go, 0.5)
    lin = g.modules[1]
    assert np.allclose(lin.gradWeight.numpy(), 0.5 * go.numpy().T @ a.numpy())
    assert np.allclose(lin.gradBias.numpy(), 0.5 * go.numpy().sum(0))
    g.clearState()
    with pytest.raises(RuntimeError, match='call backward'):
        g.accGradParameters(a, go)


def test_module_from_criterion_table_target_named():
    a, b, t1, t2 = (nn.Identity()() for _ in range(4))
    crit = nn.ParallelCriterion().add(nn.MSECriterion()).add(nn.MSECriterion())
    loss = nn.ModuleFromCriterion(crit)([nngraph.nest([a, b]), nngraph.nest([t1, t2])])
    g = nn.gModule([a, b, t1, t2], [loss])
    x = [torch.fromNumpy(rnd(2, 3, seed=s)) for s in (31, 32, 33, 34)]
    out = g.forward(x)      # forward works (as in Lua): the sum of both losses
    ref = sum(((x[i].numpy() - x[i + 2].numpy()) ** 2).mean() for i in (0, 1))
    assert np.isclose(out[0], ref)
    # Lua fails in resizeAs(target); here it was an IndexError in the nest node's gradient
    with pytest.raises(TypeError, match='ModuleFromCriterion: backward expected the target to be a tensor'):
        g.backward(x, torch.ones(1))


def test_calls_on_nodes_name_the_module():
    p, t = nn.Identity()(), nn.Identity()()
    # Lua's crit({pred, target}) makes a ModuleFromCriterion node; here it said "missing argument 'target'"
    with pytest.raises(TypeError, match=r'nn.MSECriterion.*called on nngraph nodes.*ModuleFromCriterion'):
        nn.MSECriterion()([p, t])
    assert nn.MSECriterion()(torch.ones(3), torch.zeros(3)) == 1.0     # a criterion's call is still forward
    # a list mixing nodes and tensors names the module called, not nn.gModule
    with pytest.raises(TypeError, match=r'^nn.CAddTable called on nngraph nodes: inputs\[1\] should be an '):
        nn.CAddTable()([p, torch.ones(2)])


def test_bad_gModule_arguments_leave_the_nodes_usable():
    # the outputs were connected before the inputs were checked: the corrected call then failed with
    # "node declared on ... does not connect to the gModule's output"
    x = nn.Identity()()
    h = nn.Linear(3, 2)(x)
    with pytest.raises(TypeError, match='forget a second set of parentheses'):
        nn.gModule([nn.Identity()], [h])
    with pytest.raises(ValueError, match='no inputs are not supported'):
        nn.gModule([], [h])
    with pytest.raises(TypeError, match=r'outputs\[1\] is None'):
        nn.gModule([x], [h, None])
    g = nn.gModule([x], [h])
    a = torch.fromNumpy(rnd(4, 3, seed=41))
    lin = g.modules[1]
    assert np.allclose(g.forward(a).numpy(), a.numpy() @ lin.weight.numpy().T + lin.bias.numpy())
    assert h.data.reverseMap == {g.outnode: True}

"""Containers: Concat, ConcatTable, ParallelTable, Parallel, MapTable (and their life with Sequential)."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.backend import kernels

from nn_helpers import J, TOL, D, check_gpu, check_params, check_reloads, jac, rnd, roundtrip


def lin(m, x):
    return x @ m.weight.numpy().T + m.bias.numpy()


def flat(xs):
    return np.concatenate([np.asarray(x.numpy()).reshape(-1) for x in xs])


# -- Concat ------------------------------------------------------------------------------------------------
def test_concat_forward_backward():
    a, b = nn.Linear(3, 4), nn.Linear(3, 2)
    m = nn.Concat(1).add(a).add(b)
    assert m.dimension == 1 and nn.Concat._lua_index_fields == ('dimension',)
    x, g = rnd(5, 3), rnd(5, 6, seed=1)
    np.testing.assert_allclose(m.forward(x).numpy(), np.concatenate([lin(a, x), lin(b, x)], 1), rtol=1e-12)
    m.zeroGradParameters()
    gi = m.backward(x, g)
    want = g[:, :4] @ a.weight.numpy() + g[:, 4:] @ b.weight.numpy()
    np.testing.assert_allclose(gi.numpy(), want, rtol=1e-10)
    np.testing.assert_allclose(a.gradWeight.numpy(), g[:, :4].T @ x, rtol=1e-10)
    np.testing.assert_allclose(b.gradBias.numpy(), g[:, 4:].sum(0), rtol=1e-10)
    # backward again accumulates; updateGradInput alone does not touch the gradients
    m.backward(x, g)
    np.testing.assert_allclose(a.gradWeight.numpy(), 2 * g[:, :4].T @ x, rtol=1e-10)
    m.updateGradInput(x, g)
    np.testing.assert_allclose(a.gradWeight.numpy(), 2 * g[:, :4].T @ x, rtol=1e-10)
    # negative dims count from the end; non-batch input along dim 0
    np.testing.assert_allclose(nn.Concat(-1, a, b).forward(x).numpy(), m.output.numpy())
    np.testing.assert_allclose(nn.Concat(0, a, b).forward(x[0]).numpy(),
                               np.concatenate([lin(a, x[0]), lin(b, x[0])]), rtol=1e-12)
    np.testing.assert_allclose(nn.Concat(0, nn.Identity(), nn.Identity()).forward(x).numpy(),
                               np.concatenate([x, x], 0))


def test_concat_jacobians():
    check_params(nn.Concat(1, nn.Linear(3, 4), nn.Linear(3, 2)), D(5, 3))
    check_params(nn.Concat(0, nn.Linear(3, 4), nn.Linear(3, 2)), D(3))
    check_params(nn.Concat(0, nn.Tanh(), nn.Sigmoid(), nn.Identity()), D(2, 3))


def test_concat_table_input():
    # children taking a table: the gradInput is a table, summed over the children
    m = nn.Concat(0, nn.CAddTable(), nn.CMulTable())
    x = [torch.DoubleTensor(rnd(3)), torch.DoubleTensor(rnd(3, seed=1))]
    a, b = x[0].numpy(), x[1].numpy()
    np.testing.assert_allclose(m.forward(x).numpy(), np.concatenate([a + b, a * b]))
    g = rnd(6, seed=2)
    gi = m.backward(x, g)
    assert isinstance(gi, list) and len(gi) == 2
    np.testing.assert_allclose(gi[0].numpy(), g[:3] + g[3:] * b)
    np.testing.assert_allclose(gi[1].numpy(), g[:3] + g[3:] * a)
    assert J.testJacobian(m, [D(3), D(3)]) < TOL


def test_concat_size_errors():
    m = nn.Concat(0, nn.Linear(3, 4), nn.Linear(3, 2))
    with pytest.raises(ValueError, match=r'nn.Concat: cannot concatenate along dim 0 the outputs of sizes '
                                         r'\[5, 4\], \[5, 2\]'):
        m.forward(rnd(5, 3))
    with pytest.raises(ValueError, match=r'(?s)nn.Linear\(3 -> 2\): expected input of size \[\*, 3\].*'
                                         r'in module \(1\) of nn.Concat'):
        nn.Concat(1, nn.Identity(), nn.Linear(3, 2)).forward(rnd(5, 4))
    m = nn.Concat(1, nn.Linear(3, 4), nn.Linear(3, 2))
    m.forward(rnd(5, 3))
    with pytest.raises(ValueError, match=r'expected gradOutput of size \[5, 6\]'):
        m.backward(rnd(5, 3), rnd(5, 5))


# -- ConcatTable ------------------------------------------------------------------------------------------
def test_concat_table():
    a, b = nn.Linear(3, 4), nn.Linear(3, 2)
    m = nn.ConcatTable().add(a).add(b)
    x = rnd(5, 3)
    out = m.forward(x)
    assert isinstance(out, list) and out[0] is a.output and out[1] is b.output
    np.testing.assert_allclose(out[0].numpy(), lin(a, x), rtol=1e-12)
    np.testing.assert_allclose(out[1].numpy(), lin(b, x), rtol=1e-12)
    g = [rnd(5, 4, seed=1), rnd(5, 2, seed=2)]
    m.zeroGradParameters()
    gi = m.backward(x, g)
    np.testing.assert_allclose(gi.numpy(), g[0] @ a.weight.numpy() + g[1] @ b.weight.numpy(), rtol=1e-10)
    np.testing.assert_allclose(b.gradWeight.numpy(), g[1].T @ x, rtol=1e-10)
    # the gradInput is the module's own buffer, reused
    arr = gi._a
    assert m.backward(x, g)._a is arr and gi is not a.gradInput
    np.testing.assert_allclose(b.gradWeight.numpy(), 2 * g[1].T @ x, rtol=1e-10)
    check_params(nn.ConcatTable(nn.Linear(3, 4), nn.Linear(3, 2)), D(5, 3))
    check_params(nn.ConcatTable(nn.Linear(3, 4), nn.Tanh()), D(3))
    with pytest.raises(TypeError, match=r'nn.ConcatTable: expected gradOutput to be a list'):
        m.backward(x, rnd(5, 4))


def test_concat_table_with_table_input():
    m = nn.ConcatTable(nn.Identity(), nn.CAddTable(), nn.SelectTable(1))
    x = [torch.DoubleTensor(rnd(3)), torch.DoubleTensor(rnd(3, seed=1))]
    out = m.forward(x)
    assert out[0] is x
    np.testing.assert_allclose(out[1].numpy(), x[0].numpy() + x[1].numpy())
    assert out[2] is x[1]
    g = [[rnd(3, seed=2), rnd(3, seed=3)], rnd(3, seed=4), rnd(3, seed=5)]
    gi = m.backward(x, g)
    np.testing.assert_allclose(gi[0].numpy(), g[0][0] + g[1])
    np.testing.assert_allclose(gi[1].numpy(), g[0][1] + g[1] + g[2])
    assert J.testJacobian(m, [D(3), D(3)]) < TOL


# -- ParallelTable -------------------------------------------------------------------------------------------
def test_parallel_table():
    a, b = nn.Linear(3, 4), nn.Tanh()
    m = nn.ParallelTable(a, b)
    x = [rnd(5, 3), rnd(2, 2, seed=1)]
    out = m.forward(x)
    np.testing.assert_allclose(out[0].numpy(), lin(a, x[0]), rtol=1e-12)
    np.testing.assert_allclose(out[1].numpy(), np.tanh(x[1]), rtol=1e-12)
    g = [rnd(5, 4, seed=2), rnd(2, 2, seed=3)]
    m.zeroGradParameters()
    gi = m.backward(x, g)
    assert gi[0] is a.gradInput and gi[1] is b.gradInput
    np.testing.assert_allclose(gi[0].numpy(), g[0] @ a.weight.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gi[1].numpy(), g[1] * (1 - np.tanh(x[1]) ** 2), rtol=1e-10)
    np.testing.assert_allclose(a.gradWeight.numpy(), g[0].T @ x[0], rtol=1e-10)
    check_params(nn.ParallelTable(nn.Linear(3, 4), nn.Linear(2, 2)), [D(5, 3), D(5, 2)])
    with pytest.raises(ValueError, match=r'nn.ParallelTable: expected input to be a list of at least 2'):
        m.forward([rnd(5, 3)])
    with pytest.raises(TypeError, match=r'nn.ParallelTable: expected input to be a list'):
        m.forward(rnd(5, 3))


# -- Parallel ------------------------------------------------------------------------------------------------
def test_parallel():
    a, b = nn.Linear(3, 4), nn.Linear(3, 2)
    m = nn.Parallel(1, 1, a, b)     # Lua's nn.Parallel(2, 2): slices along dim 1, outputs joined along dim 1
    assert nn.Parallel._lua_index_fields == ('inputDimension', 'outputDimension')
    x = rnd(5, 2, 3)
    np.testing.assert_allclose(m.forward(x).numpy(), np.concatenate([lin(a, x[:, 0]), lin(b, x[:, 1])], 1),
                               rtol=1e-12)
    g = rnd(5, 6, seed=1)
    m.zeroGradParameters()
    gi = m.backward(x, g)
    np.testing.assert_allclose(gi.numpy()[:, 0], g[:, :4] @ a.weight.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gi.numpy()[:, 1], g[:, 4:] @ b.weight.numpy(), rtol=1e-10)
    np.testing.assert_allclose(b.gradWeight.numpy(), g[:, 4:].T @ x[:, 1], rtol=1e-10)
    check_params(nn.Parallel(1, 1, nn.Linear(3, 4), nn.Linear(3, 2)), D(5, 2, 3))
    check_params(nn.Parallel(0, 0, nn.Linear(3, 4), nn.Tanh()), D(2, 3))
    with pytest.raises(ValueError, match=r'nn.Parallel: the input has 3 slices along dim 1'):
        m.forward(rnd(5, 3, 3))
    with pytest.raises(ValueError, match=r'(?s)expected input of size \[\*, 3\].*in module \(0\) of nn.Parallel'):
        m.forward(rnd(5, 2, 4))


def test_parallel_needs_an_input_of_two_dims():
    # a vector's slices would be numbers (Torch7's select): they were detached 0-d tensors handed to the modules
    m = nn.Parallel(0, 0, nn.Identity(), nn.Identity())
    with pytest.raises(ValueError, match=r'nn.Parallel: expected an input of at least 2 dims .* got size \[2\]'):
        m.forward(rnd(2))
    np.testing.assert_array_equal(m.forward(rnd(2, 1)).numpy(), rnd(2, 1).reshape(2))


# -- MapTable --------------------------------------------------------------------------------------------
def test_map_table_shares_parameters():
    lin1 = nn.Linear(3, 2)
    m = nn.MapTable(lin1)
    x = [rnd(5, 3, seed=i) for i in range(3)]
    out = m.forward(x)
    assert len(m.modules) == 3 and m.modules[0] is lin1 and m.module is lin1
    for o, xi in zip(out, x):
        np.testing.assert_allclose(o.numpy(), lin(lin1, xi), rtol=1e-12)
    for c in m.modules[1:]:
        for f in ('weight', 'bias', 'gradWeight', 'gradBias'):
            assert getattr(c, f).storage() is getattr(lin1, f).storage()
        assert c.output.storage() is not lin1.output.storage()
    g = [rnd(5, 2, seed=10 + i) for i in range(3)]
    m.zeroGradParameters()
    gi = m.backward(x, g)
    for gii, gg in zip(gi, g):
        np.testing.assert_allclose(gii.numpy(), gg @ lin1.weight.numpy(), rtol=1e-10)
    np.testing.assert_allclose(lin1.gradWeight.numpy(), sum(gg.T @ xi for gg, xi in zip(g, x)), rtol=1e-10)
    # the update goes through once, not once per clone
    w = lin1.weight.numpy().copy()
    m.updateParameters(0.1)
    np.testing.assert_allclose(lin1.weight.numpy(), w - 0.1 * lin1.gradWeight.numpy(), rtol=1e-12)
    # parameters() lists the clones' (shared) tensors; getParameters counts them once
    assert len(m.parameters()[0]) == 6
    flat, gflat = m.getParameters()
    assert flat.nElement() == 8 == gflat.nElement()
    assert all(c.weight.storage() is flat.storage() for c in m.modules)
    flat.numpy()[:] = 1
    np.testing.assert_allclose(m.forward(x)[2].numpy(), x[2].sum(1, keepdims=True) + 1 + np.zeros((5, 2)))
    # Jacobians through the shared clones
    m2 = nn.MapTable(nn.Linear(3, 2))
    check_params(m2, [D(4, 3), D(4, 3), D(4, 3)])
    assert J.testJacobian(nn.MapTable(nn.Tanh()), [D(2), D(3), D(4)]) < TOL


def test_map_table_unshared_resize_and_clear_state():
    m = nn.MapTable(nn.Linear(3, 2), False)
    x = [rnd(3, seed=i) for i in range(2)]
    m.forward(x)
    assert m.modules[1].weight.storage() is not m.module.weight.storage()
    np.testing.assert_array_equal(m.modules[1].weight.numpy(), m.module.weight.numpy())
    shared = nn.MapTable(nn.Linear(3, 2))
    shared.forward(x * 3)
    assert len(shared.modules) == 6
    shared.resize(2)
    assert len(shared.modules) == 2
    shared.clearState()
    assert len(shared.modules) == 1 and shared.output == []
    assert len(shared.forward(x)) == 2
    with pytest.raises(ValueError, match='holds a single module'):
        shared.add(nn.Linear(3, 2))
    with pytest.raises(ValueError, match=r'(?s)expected input of size \[\*, 3\].*in module \(1\) of nn.MapTable'):
        shared.forward([rnd(3), rnd(4)])


def test_map_table_from_lua_without_optional_fields():
    m = nn.MapTable(nn.Linear(3, 2))
    del m.__dict__['shared'], m.__dict__['sharedparams']     # older Torch7 MapTables have neither
    m.forward([rnd(3), rnd(3)])
    assert m.modules[1].weight.storage() is m.module.weight.storage()


@pytest.mark.parametrize('method', ['backward', 'updateGradInput', 'accGradParameters'])
def test_map_table_backward_without_grad_output(method):
    # a None gradOutput ran updateOutput instead: backward returned the outputs as the gradInput
    lin1 = nn.Linear(3, 2)
    m = nn.MapTable(lin1)
    x = [rnd(4, 3, seed=i) for i in range(2)]
    m.forward(x)
    m.zeroGradParameters()
    with pytest.raises(TypeError, match=r'^nn.MapTable: expected gradOutput to be a list \(table\) with an entry for '
                                        r'each of its 2 modules, got a NoneType'):
        getattr(m, method)(x, None)
    assert lin1.gradWeight.sum() == 0
    g = [rnd(4, 2, seed=5 + i) for i in range(2)]
    gi = m.backward(x, g)
    for gii, gg in zip(gi, g):
        np.testing.assert_allclose(gii.numpy(), gg @ lin1.weight.numpy(), rtol=1e-12)


# -- containers together: parameters, getParameters, type, clone, modes, traversal ------------------------------
def big_net():
    torch.manualSeed(5)
    branch = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    return nn.Sequential(
        nn.ConcatTable(branch, nn.Linear(3, 4)),
        nn.ParallelTable(nn.Linear(4, 2), nn.Identity()),
        nn.ConcatTable(nn.SelectTable(0), nn.Sequential(nn.SelectTable(1), nn.Linear(4, 2))),
        nn.CAddTable())


def test_parameters_order_through_containers():
    net = big_net()
    ct, pt, ct2 = net.get(0), net.get(1), net.get(2)
    want = [ct.get(0).get(0), ct.get(1), pt.get(0), ct2.get(1).get(1)]
    params, grads = net.parameters()
    assert len(params) == 8
    for k, m in enumerate(want):
        assert params[2 * k] is m.weight and params[2 * k + 1] is m.bias
        assert grads[2 * k] is m.gradWeight and grads[2 * k + 1] is m.gradBias


def test_big_net_forward_backward_and_get_parameters():
    net = big_net()
    l1, l2 = net.get(0).get(0).get(0), net.get(0).get(1)
    l3, l4 = net.get(1).get(0), net.get(2).get(1).get(1)
    x = rnd(5, 3)
    h1, h2 = np.tanh(lin(l1, x)), lin(l2, x)
    want = lin(l3, h1) + lin(l4, h2)
    np.testing.assert_allclose(net.forward(x).numpy(), want, rtol=1e-12)
    jac(net, 5, 3)
    flat, gflat = net.getParameters()
    assert flat.nElement() == sum(p.nElement() for p in net.parameters()[0]) == 16 + 16 + 10 + 10
    gflat.zero()
    g = rnd(5, 2, seed=1)
    net.forward(x)
    net.backward(x, g)
    np.testing.assert_allclose(l4.gradWeight.numpy(), g.T @ h2, rtol=1e-10)
    np.testing.assert_allclose(gflat.numpy(), flat_grads(net), rtol=0)
    # modifying the flat vector changes the modules
    flat.numpy()[:] = 0
    assert not l1.weight.numpy().any() and not l4.bias.numpy().any()
    assert not net.forward(x).numpy().any()


def flat_grads(net):
    return flat(net.parameters()[1])


def test_type_keeps_shared_storages():
    net = big_net()
    m = nn.MapTable(nn.Linear(3, 3))
    net2 = nn.Sequential(m, nn.ParallelTable(nn.Identity(), nn.Identity(), nn.Identity()))
    net2.forward([rnd(3), rnd(3), rnd(3)])
    net2.float()
    assert all(c.weight.type() == 'torch.FloatTensor' for c in m.modules)
    assert all(c.weight.storage() is m.module.weight.storage() for c in m.modules)
    assert all(c.gradBias.storage() is m.module.gradBias.storage() for c in m.modules)
    out = net2.forward([rnd(3).astype(np.float32)] * 3)
    assert out[0].type() == 'torch.FloatTensor'
    # after getParameters every parameter views one storage; type() keeps it so
    net.getParameters()
    net.float()
    params, grads = net.parameters()
    assert all(p.storage() is params[0].storage() for p in params)
    assert all(g.storage() is grads[0].storage() for g in grads)
    assert params[0].type() == 'torch.FloatTensor'
    flat, _ = net.getParameters()
    assert flat.storage() is params[0].storage() and flat.nElement() == 52
    out = net.forward(rnd(5, 3).astype(np.float32))
    assert out.type() == 'torch.FloatTensor'
    net.double()
    assert J.testJacobian(net, D(5, 3)) < TOL


def test_clone_and_share_through_containers():
    net = big_net()
    c = net.clone()
    pa, pc = net.parameters()[0], c.parameters()[0]
    assert all(a.storage() is not b.storage() for a, b in zip(pa, pc))
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(pa, pc))
    x = rnd(5, 3)
    np.testing.assert_allclose(c.forward(x).numpy(), net.forward(x).numpy())
    s = net.clone('weight', 'bias')
    ps = s.parameters()[0]
    assert all(a.storage() is b.storage() for a, b in zip(pa, ps))
    gs, ga = s.parameters()[1], net.parameters()[1]
    assert all(a.storage() is not b.storage() for a, b in zip(ga, gs))
    other = big_net()
    other.share(net, 'weight', 'bias', 'gradWeight', 'gradBias')
    assert all(a.storage() is b.storage() for a, b in zip(other.parameters()[1], ga))
    # a clone keeps the clones of a MapTable sharing among themselves, not with the original
    m = nn.MapTable(nn.Linear(3, 2))
    m.forward([rnd(3), rnd(3)])
    mc = m.clone()
    assert mc.modules[1].weight.storage() is mc.module.weight.storage()
    assert mc.module.weight.storage() is not m.module.weight.storage()
    assert mc.modules[0] is mc.module


def test_training_evaluate_and_traversal():
    net = nn.Sequential(nn.Concat(0, nn.Linear(3, 2), nn.Sequential(nn.Linear(3, 2))), nn.Identity())
    m = nn.MapTable(nn.Sequential(nn.Linear(3, 3), nn.Tanh()))
    m.forward([rnd(3), rnd(3)])
    top = nn.ParallelTable(net, m)
    top.evaluate()
    assert all(x.train is False for x in top.listModules())
    top.training()
    assert all(x.train is True for x in top.listModules())
    names = [type(x).__name__ for x in top.listModules()]
    assert names == ['ParallelTable', 'Sequential', 'Concat', 'Linear', 'Sequential', 'Linear', 'Identity',
                     'MapTable', 'Sequential', 'Linear', 'Tanh', 'Sequential', 'Linear', 'Tanh']
    found, where = top.findModules('nn.Linear')
    assert len(found) == 4
    concat = net.get(0)
    assert found[0] is concat.get(0) and where[0] is concat
    assert found[1] is concat.get(1).get(0) and where[1] is concat.get(1)
    assert where[2] is m.modules[0] and where[3] is m.modules[1]
    assert top.findModules(nn.Concat)[0][0] is concat and len(top.findModules('nn.Concat')[0]) == 1


# -- errors ------------------------------------------------------------------------------------------------
def test_errors_say_where():
    net = nn.Sequential(nn.Linear(3, 3), nn.ConcatTable(nn.Linear(3, 2), nn.Linear(4, 2)))
    with pytest.raises(ValueError) as e:
        net.forward(rnd(5, 3))
    lines = str(e.value).split('\n')
    assert lines[0] == 'nn.Linear(4 -> 2): expected input of size [*, 4] (1-D or 2-D), got [5, 3]'
    assert lines[1:] == ['  in module (1) of nn.ConcatTable', '  in module (1) of nn.Sequential']
    net = nn.Concat(0, nn.Linear(3, 3), nn.Linear(3, 3)).float()
    with pytest.raises(TypeError, match=r'(?s)torch.FloatTensor.*torch.DoubleTensor.*in module \(0\) of nn.Concat'):
        net.forward(torch.DoubleTensor(rnd(3)))
    pt = nn.ParallelTable(nn.Identity(), nn.Linear(3, 2))
    pt.forward([rnd(3), rnd(3)])
    with pytest.raises(ValueError, match=r'(?s)expected gradOutput of size \[2\].*in module \(1\) of '
                                         r'nn.ParallelTable'):
        pt.backward([rnd(3), rnd(3)], [rnd(3), rnd(3)])


# -- printing ----------------------------------------------------------------------------------------------
def test_repr_branches():
    m = nn.ConcatTable(nn.Linear(3, 4), nn.Linear(3, 2))
    assert repr(m) == ('nn.ConcatTable {\n'
                       '  input\n'
                       '    |`-> (0): nn.Linear(3 -> 4)\n'
                       '     `-> (1): nn.Linear(3 -> 2)\n'
                       '     ... -> output\n'
                       '}')
    assert repr(nn.Concat(0)) == 'nn.Concat {\n  input\n     ... -> output\n}'
    assert repr(nn.Parallel(0, 0, nn.Tanh())) == 'nn.Parallel {\n  input\n     `-> (0): nn.Tanh\n     ... -> output\n}'
    assert repr(nn.ParallelTable(nn.Tanh(), nn.Sigmoid())).split('\n')[0] == 'nn.ParallelTable {'


def test_repr_nested():
    net = nn.Sequential(
        nn.ConcatTable(nn.Sequential(nn.Linear(3, 4), nn.Tanh()), nn.Linear(3, 4)),
        nn.CAddTable())
    assert repr(net) == '\n'.join([
        'nn.Sequential {',
        '  [input -> (0) -> (1) -> output]',
        '  (0): nn.ConcatTable {',
        '    input',
        '      |`-> (0): nn.Sequential {',
        '      |      [input -> (0) -> (1) -> output]',
        '      |      (0): nn.Linear(3 -> 4)',
        '      |      (1): nn.Tanh',
        '      |    }',
        '       `-> (1): nn.Linear(3 -> 4)',
        '       ... -> output',
        '  }',
        '  (1): nn.CAddTable',
        '}'])
    c = nn.Concat(1, nn.Linear(3, 4), nn.Sequential(nn.Linear(3, 2), nn.Tanh()))
    assert repr(c) == '\n'.join([
        'nn.Concat {',
        '  input',
        '    |`-> (0): nn.Linear(3 -> 4)',
        '     `-> (1): nn.Sequential {',
        '           [input -> (0) -> (1) -> output]',
        '           (0): nn.Linear(3 -> 2)',
        '           (1): nn.Tanh',
        '         }',
        '     ... -> output',
        '}'])
    mt = nn.MapTable(nn.Sequential(nn.Linear(3, 2), nn.Tanh()))
    assert repr(mt) == '\n'.join([
        'nn.MapTable {',
        '  nn.Sequential {',
        '          [input -> (0) -> (1) -> output]',
        '          (0): nn.Linear(3 -> 2)',
        '          (1): nn.Tanh',
        '        }',
        '}'])
    assert repr(nn.MapTable()) == 'nn.MapTable { }'
    assert repr(nn.MapTable(nn.Linear(3, 2))) == 'nn.MapTable {\n  nn.Linear(3 -> 2)\n}'


def test_repr_sequential_subclasses_print_as_sequential():
    # Torch7's Sequential:__tostring__ writes 'nn.Sequential' itself, and these classes inherit it
    assert repr(nn.Maxout(4, 3, 2)) == '\n'.join([
        'nn.Sequential {',
        '  [input -> (0) -> (1) -> (2) -> output]',
        '  (0): nn.Linear(4 -> 6)',
        '  (1): nn.View(2, 3)',
        '  (2): nn.Max',
        '}'])
    assert repr(nn.SpatialLPPooling(3, 2, 2, 2)).split('\n')[:2] == [
        'nn.Sequential {', '  [input -> (0) -> (1) -> (2) -> (3) -> output]']
    assert repr(nn.LayerNormalization(4)).split('\n')[0] == 'nn.Sequential {'
    assert repr(nn.CReLU(3)) == 'CReLU()'       # its own __tostring__


# -- buffers, float32, save/load --------------------------------------------------------------------------------
def test_steady_state_buffers():
    m = nn.Concat(1, nn.Linear(3, 4), nn.Linear(3, 2))
    p = nn.Parallel(1, 1, nn.Linear(3, 4), nn.Linear(3, 2))
    ct = nn.ConcatTable(nn.Linear(3, 4), nn.Linear(3, 4))
    x, x2 = rnd(5, 3), rnd(5, 2, 3)
    for _ in range(2):
        m.forward(x)
        m.backward(x, rnd(5, 6))
        p.forward(x2)
        p.backward(x2, rnd(5, 6))
        ct.forward(x)
        ct.backward(x, [rnd(5, 4), rnd(5, 4)])
        if _ == 0:
            arrays = [m.output._a, m.gradInput._a, p.output._a, p.gradInput._a, ct.gradInput._a]
    assert [a is b for a, b in zip(arrays, [m.output._a, m.gradInput._a, p.output._a, p.gradInput._a,
                                            ct.gradInput._a])] == [True] * 5


def test_float32():
    m = nn.Concat(1, nn.Linear(3, 4), nn.Linear(3, 2)).float()
    x = rnd(5, 3).astype(np.float32)
    out = m.forward(x)
    assert out.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(out.numpy(), np.concatenate([lin(m.get(0), x), lin(m.get(1), x)], 1), rtol=1e-5)
    gi = m.backward(x, np.ones((5, 6), np.float32))
    assert gi.type() == 'torch.FloatTensor'
    mt = nn.MapTable(nn.Linear(3, 2)).float()
    assert mt.forward([x, x])[1].type() == 'torch.FloatTensor'


def test_save_load_roundtrip(tmp_path):
    net = big_net()
    x = rnd(5, 3)
    check_reloads(net, x, tmp_path, rtol=1e-12)
    c = roundtrip(nn.Concat(1, nn.Linear(3, 2), nn.Linear(3, 1)), tmp_path)
    assert c.dimension == 1
    p = roundtrip(nn.Parallel(1, 0, nn.Linear(3, 2)), tmp_path)
    assert (p.inputDimension, p.outputDimension) == (1, 0)
    mt = nn.MapTable(nn.Linear(3, 2))
    mt.forward([x, x])
    mt2 = roundtrip(mt, tmp_path)
    out = mt2.forward([x, x, x])
    assert mt2.modules[2].weight.storage() is mt2.module.weight.storage()
    np.testing.assert_allclose(out[2].numpy(), lin(mt.module, x), rtol=1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize('make, inp', [
    (lambda: nn.Concat(1, nn.Linear(3, 4), nn.Linear(3, 2)), lambda: rnd(5, 3)),
    (lambda: nn.ConcatTable(nn.Linear(3, 4), nn.Tanh()), lambda: rnd(5, 3)),
    (lambda: nn.ParallelTable(nn.Linear(3, 4), nn.Tanh()), lambda: [rnd(5, 3), rnd(2, seed=1)]),
    (lambda: nn.Parallel(1, 1, nn.Linear(3, 4), nn.Linear(3, 2)), lambda: rnd(5, 2, 3)),
    (lambda: nn.MapTable(nn.Linear(3, 2)), lambda: [rnd(5, 3), rnd(4, 3, seed=1)]),
    (big_net, lambda: rnd(5, 3)),
])
def test_gpu_matches_cpu(make, inp):
    cpu = make().float()
    check_gpu(cpu, cpu.clone().cuda(), inp())


def test_update_and_zero_over_the_flat_vectors_after_getParameters():
    """After getParameters a container updates and zeroes the flat vectors in one operation each: the same numbers
    as the per-module loop; a reassigned field or shared parameters fall back to that loop."""
    import luatorch_py as torch
    from luatorch_py.nn.module import flat_arrays

    def make():
        torch.manualSeed(4)
        net = nn.Sequential()
        net.add(nn.Linear(3, 5)); net.add(nn.Tanh()); net.add(nn.Linear(5, 2))
        return net
    x = torch.DoubleTensor(4, 3).uniform(-1, 1)
    g = torch.DoubleTensor(4, 2).uniform(-1, 1)
    plain, flat = make(), make()
    flat.getParameters()
    assert flat_arrays(flat) is not None
    for net in (plain, flat):
        for _ in range(3):
            net.zeroGradParameters()
            net.forward(x)
            net.backward(x, g)
            net.updateParameters(0.1)
    for a, b in zip(plain.parameters()[0] + plain.parameters()[1], flat.parameters()[0] + flat.parameters()[1]):
        assert np.array_equal(a.numpy(), b.numpy())
    flat.get(0).weight = flat.get(0).weight.clone()        # no longer a view of the flat vector
    assert flat_arrays(flat) is None
    w = flat.get(0).weight.clone()
    flat.get(0).gradWeight.fill(1)
    flat.updateParameters(0.5)
    assert np.allclose(flat.get(0).weight.numpy(), w.numpy() - 0.5)
    shared = nn.Sequential()
    lin = nn.Linear(2, 2)
    shared.add(lin); shared.add(lin.clone('weight', 'bias', 'gradWeight', 'gradBias'))
    shared.getParameters()
    assert flat_arrays(shared) is None            # the per-module loop updates shared tensors once per module


def test_sequential_insert_remove_check_their_index():
    s = nn.Sequential().add(nn.ReLU())
    with pytest.raises(IndexError, match=r"nn\.Sequential\.remove\(3\): index out of range: the container holds 1 "
                                         r"module \(0-based: 0 to 0\)"):
        s.remove(3)
    with pytest.raises(IndexError, match=r"nn\.Sequential\.insert\(module, 5\): index should be contiguous"):
        s.insert(nn.Tanh(), 5)
    with pytest.raises(TypeError, match=r"nn\.Sequential\.insert: expected an nn module, got NoneType"):
        s.insert(None, 0)
    s.insert(nn.Tanh(), 1)
    assert [type(m).__name__ for m in s.modules] == ['ReLU', 'Tanh']
    assert type(s.remove()).__name__ == 'Tanh' and type(s.remove(0)).__name__ == 'ReLU'
    with pytest.raises(IndexError, match=r"nn\.Sequential\.remove\(-1\): index out of range: the container holds 0"):
        s.remove()


def test_errors_keep_the_notes_of_inner_modules():
    # a gModule notes which of its nodes failed; a container around it re-raised the error without that note
    x = nn.Identity()()
    g = nn.gModule([x], [nn.Linear(3, 2)(x).annotate(name='proj')])
    net = nn.Sequential(nn.Identity(), nn.Sequential(g))
    with pytest.raises(ValueError) as e:
        net.forward(rnd(4))
    lines = str(e.value).split('\n')
    assert lines[0] == 'nn.Linear(3 -> 2): expected input of size [*, 3] (1-D or 2-D), got [4]'
    assert lines[1].startswith('  in nn.gModule node proj ') and lines[1].endswith('(nn.Linear(3 -> 2))')
    assert lines[2:] == ['  in module (0) of nn.Sequential', '  in module (1) of nn.Sequential']


# -- a class of the user's after a CPU convolution -----------------------------------------------------------
class _FlatScale(nn.Module):
    """A user's port of a Lua class, written as Lua code is: it views its input (Lua's convolutions give
    contiguous outputs, so the Lua original never meets another layout)."""

    def updateOutput(self, input):
        n = input.size(0)
        self.output = input.view(n, -1).clone().mul(2).view(input.size())
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput.view(gradOutput.size(0), -1).clone().mul(2).view(input.size())
        return self.gradInput


def _graph_of(m):
    x = nn.Identity()()
    return nn.gModule([x], [m(nn.Identity()(x))])


@pytest.mark.parametrize('where', ['after_conv', 'after_pool', 'in_concattable', 'in_sequential', 'in_gmodule',
                                   'after_inplace_relu', 'after_identity'])
def test_a_user_class_after_a_convolution_gets_torch7s_layout(where):
    """With a batch of 16 or more the CPU convolutions hand on batch-last activations to the package's modules
    (nn/_layout.py); a class of the user's gets Torch7's contiguous layout, so that its view() works as in Lua
    (fast-neural-style's InstanceNormalization views its input so: its model failed at a batch of 16)."""
    torch.manualSeed(3)
    user = _FlatScale()
    body = {'in_concattable': nn.ConcatTable().add(user).add(nn.Identity()),
            'in_sequential': nn.Sequential().add(user),
            'in_gmodule': _graph_of(user)}.get(where, user)
    net = nn.Sequential().add(nn.SpatialConvolution(2, 3, 3, 3)).add(nn.ReLU())
    if where in ('after_inplace_relu', 'after_identity'):       # (modules handing their input on, as it came)
        net.add(nn.ReLU(True) if where == 'after_inplace_relu' else nn.Identity())
    if where == 'after_pool':
        net.add(nn.SpatialMaxPooling(2, 2))
    net.add(body)
    if where == 'in_concattable':
        net.add(nn.CAddTable())
    net.add(nn.ReLU()).double()
    x = torch.DoubleTensor(np.random.default_rng(5).standard_normal((16, 2, 8, 8)))
    y = net.forward(x).numpy().copy()
    ref = x.clone()                   # each module on its own: Torch7's layout throughout
    for m in net.modules:
        ref = m.forward(ref)
        ref = [t.clone() for t in ref] if isinstance(ref, list) else ref.clone()
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-12, atol=1e-12)
    g = torch.DoubleTensor(np.ones(y.shape))
    assert net.backward(x, g).size() == x.size()
    net.forward(x)      # the modules before it hand on Torch7's layout (they may pass it on: ReLU(True), Identity)
    assert not kernels.batch_last(net.get(0).output.numpy()) and user.output.isContiguous()


def test_modules_after_a_user_class_still_hand_on_batch_last():
    # only the modules before the last of the user's class are held to Torch7's layout (what follows a module is all
    # a batch-last activation may reach)
    torch.manualSeed(3)
    net = nn.Sequential().add(_FlatScale()).add(nn.SpatialConvolution(2, 3, 3, 3)).add(nn.ReLU())
    net.add(nn.SpatialMaxPooling(2, 2)).add(nn.SpatialConvolution(3, 4, 2, 2)).double()
    x = torch.DoubleTensor(np.random.default_rng(5).standard_normal((16, 2, 8, 8)))
    y = net.forward(x).numpy().copy()
    ref = x.clone()
    for m in net.modules:
        ref = m.forward(ref).clone()
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-12, atol=1e-12)
    net.forward(x)
    assert kernels.batch_last(net.get(1).output.numpy()) and kernels.batch_last(net.get(3).output.numpy())

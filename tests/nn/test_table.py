"""Table layers: JoinTable, SplitTable, SelectTable, NarrowTable, FlattenTable, CAddTable, CSubTable, CMulTable,
CDivTable, CMaxTable, CMinTable, Identity."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import J, TOL, D, check_gpu, rnd, roundtrip, shares


def T(a):
    return torch.DoubleTensor(a)


# -- Identity ------------------------------------------------------------------------------------------------
def test_identity():
    m = nn.Identity()
    x = T(rnd(2, 3))
    assert m.forward(x) is x
    g = T(rnd(2, 3))
    assert m.backward(x, g) is g
    tab = [x, [T(rnd(2)), g]]
    assert m.forward(tab) is tab and m.backward(tab, tab) is tab
    a = rnd(4)
    assert shares(m.forward(a), a)
    assert J.testJacobian(m, D(3, 2)) < TOL
    assert J.testJacobian(m, [D(3), [D(2), D(1)]]) < TOL
    assert repr(m) == 'nn.Identity'
    m.clearState()                    # as Torch7: a table becomes an empty table
    assert m.output == [] and m.gradInput == []
    m.forward(x)
    m.clearState()
    assert m.output.nElement() == 0 and m.output is not x
    m.forward(x)
    m.float()       # drops the reference rather than converting a copy of the input
    assert m.output.type() == 'torch.FloatTensor' and m.output.nElement() == 0


# -- JoinTable -------------------------------------------------------------------------------------------------
def test_join_table():
    xs = [rnd(2, 3), rnd(2, 1, seed=1), rnd(2, 4, seed=2)]
    m = nn.JoinTable(1)
    assert nn.JoinTable._lua_index_fields == ('dimension',)
    out = m.forward(xs)
    np.testing.assert_array_equal(out.numpy(), np.concatenate(xs, 1))
    arr = out._a
    assert m.forward(xs)._a is arr
    g = rnd(2, 8, seed=3)
    gi = m.backward(xs, g)
    assert len(gi) == 3
    np.testing.assert_array_equal(gi[0].numpy(), g[:, :3])
    np.testing.assert_array_equal(gi[1].numpy(), g[:, 3:4])
    np.testing.assert_array_equal(gi[2].numpy(), g[:, 4:])
    gis = [t._a for t in gi]
    assert all(a is t._a for a, t in zip(gis, m.backward(xs, g)))
    np.testing.assert_array_equal(nn.JoinTable(-1).forward(xs).numpy(), np.concatenate(xs, 1))
    np.testing.assert_array_equal(nn.JoinTable(0).forward([rnd(2, 3), rnd(1, 3)]).numpy(),
                                  np.concatenate([rnd(2, 3), rnd(1, 3)], 0))
    assert J.testJacobian(m, [D(2, 3), D(2, 1), D(2, 4)]) < TOL
    # fewer inputs than the last call: the gradInput list shrinks
    assert len(m.backward(xs[:2], g[:, :4])) == 2


def test_join_table_n_input_dims():
    # JoinTable(0, 1): vectors are joined along dim 0; a batch of vectors (2-D) along dim 1
    m = nn.JoinTable(0, 1)
    a, b = rnd(3), rnd(2, seed=1)
    np.testing.assert_array_equal(m.forward([a, b]).numpy(), np.concatenate([a, b]))
    A, B = rnd(4, 3), rnd(4, 2, seed=1)
    np.testing.assert_array_equal(m.forward([A, B]).numpy(), np.concatenate([A, B], 1))
    assert J.testJacobian(m, [D(4, 3), D(4, 2)]) < TOL
    # a negative dim ignores nInputDims, as Torch7
    np.testing.assert_array_equal(nn.JoinTable(-1, 1).forward([A, B]).numpy(), np.concatenate([A, B], 1))


def test_join_table_errors():
    m = nn.JoinTable(1)
    with pytest.raises(ValueError, match=r'nn.JoinTable: cannot join along dim 1 inputs of sizes \[2, 3\], \[3, 3\]'):
        m.forward([rnd(2, 3), rnd(3, 3)])
    with pytest.raises(ValueError, match=r'nn.JoinTable: dimension 2 \(nInputDims None\) out of range'):
        nn.JoinTable(2).forward([rnd(2, 3)])
    with pytest.raises(TypeError, match=r'nn.JoinTable: expected input to be a list \(table\) of tensors, got a '
                                         r'torch.DoubleTensor'):
        m.forward(T(rnd(2, 3)))
    m.forward([rnd(2, 3), rnd(2, 3)])
    with pytest.raises(ValueError, match=r'expected gradOutput of size \[2, 6\], got \[2, 5\]'):
        m.backward([rnd(2, 3), rnd(2, 3)], rnd(2, 5))
    with pytest.raises(TypeError, match='torch.FloatTensor'):
        m.float().forward([T(rnd(2, 3))])


# -- SplitTable -------------------------------------------------------------------------------------------------
def test_split_table():
    m = nn.SplitTable(0)
    x = T(rnd(3, 4))
    out = m.forward(x)
    assert isinstance(out, list) and len(out) == 3
    for i, o in enumerate(out):
        np.testing.assert_array_equal(o.numpy(), x.numpy()[i])
        assert shares(o, x)          # views, as Torch7's select
    out1 = nn.SplitTable(1).forward(x)
    assert len(out1) == 4
    np.testing.assert_array_equal(out1[2].numpy(), x.numpy()[:, 2])
    np.testing.assert_array_equal(nn.SplitTable(-1).forward(x)[3].numpy(), x.numpy()[:, 3])
    g = [rnd(4, seed=i) for i in range(3)]
    gi = m.backward(x, g)
    np.testing.assert_array_equal(gi.numpy(), np.stack(g))
    arr = gi._a
    assert m.backward(x, g)._a is arr
    assert J.testJacobian(m, D(3, 4)) < TOL
    assert J.testJacobian(nn.SplitTable(1), D(2, 3, 2)) < TOL
    with pytest.raises(ValueError, match=r'nn.SplitTable: expected gradOutput to be a list of 3 tensors, got 2'):
        m.backward(x, g[:2])
    with pytest.raises(ValueError, match=r'expected gradOutput\[1\] of size \[4\], got \[3\]'):
        m.backward(x, [rnd(4), rnd(3), rnd(4)])


def test_split_table_n_input_dims():
    m = nn.SplitTable(0, 1)      # a vector splits along 0; a batch of vectors along 1
    assert len(m.forward(rnd(5))) == 5
    x = rnd(2, 5)
    out = m.forward(x)
    assert len(out) == 5
    np.testing.assert_array_equal(out[4].numpy(), x[:, 4])
    assert J.testJacobian(m, D(2, 5)) < TOL


# -- SelectTable ------------------------------------------------------------------------------------------------
def test_select_table():
    x = [T(rnd(2)), T(rnd(3, seed=1)), [T(rnd(1, seed=2)), T(rnd(2, seed=3))]]
    assert nn.SelectTable(0).forward(x) is x[0]
    assert nn.SelectTable(1).forward(x) is x[1]
    assert nn.SelectTable(-1).forward(x) is x[2]
    assert nn.SelectTable(-3).forward(x) is x[0]
    m = nn.SelectTable(1)
    g = rnd(3, seed=4)
    gi = m.backward(x, g)
    assert len(gi) == 3 and isinstance(gi[2], list)
    assert not gi[0].numpy().any() and gi[0].numpy().shape == (2,)
    np.testing.assert_array_equal(gi[1].numpy(), g)
    assert not gi[1].numpy() is g
    assert [t.numpy().shape for t in gi[2]] == [(1,), (2,)] and not any(t.numpy().any() for t in gi[2])
    arrs = [gi[0]._a, gi[1]._a]
    gi2 = m.backward(x, g)
    assert gi2[0]._a is arrs[0] and gi2[1]._a is arrs[1]
    # a table entry
    mt = nn.SelectTable(-1)
    gt = [T(rnd(1, seed=5)), T(rnd(2, seed=6))]
    gi = mt.backward(x, gt)
    np.testing.assert_array_equal(gi[2][1].numpy(), gt[1].numpy())
    assert gi[2][1] is not gt[1]
    assert J.testJacobian(m, [D(2), D(3), [D(1), D(2)]]) < TOL
    assert J.testJacobian(mt, [D(2), D(3), [D(1), D(2)]]) < TOL
    assert nn.SelectTable._lua_index_fields == ('index',)


def test_select_table_repr_and_errors():
    assert repr(nn.SelectTable(1)) == 'nn.SelectTable(1)'      # 0-based, as net.get(i) and print(net)
    assert repr(nn.SelectTable(-1)) == 'nn.SelectTable(-1)'
    with pytest.raises(IndexError, match=r'nn.SelectTable\(3\): index 3 out of range for a table of 2 entries'):
        nn.SelectTable(3).forward([rnd(2), rnd(2)])
    with pytest.raises(IndexError, match='out of range'):
        nn.SelectTable(-3).forward([rnd(2), rnd(2)])
    with pytest.raises(TypeError, match='expected input to be a list'):
        nn.SelectTable(0).forward(rnd(2))
    with pytest.raises(ValueError, match=r'gradOutput \[3\] does not match input\[0\] \[2\]'):
        nn.SelectTable(0).backward([T(rnd(2))], T(rnd(3)))


# -- NarrowTable ------------------------------------------------------------------------------------------------
def test_narrow_table():
    x = [T(rnd(2, seed=i)) for i in range(5)]
    m = nn.NarrowTable(1, 3)
    out = m.forward(x)
    assert len(out) == 3 and all(o is xi for o, xi in zip(out, x[1:4]))
    one = nn.NarrowTable(2).forward(x)
    assert len(one) == 1 and one[0] is x[2]
    assert nn.NarrowTable(-2, 2).forward(x)[1] is x[4]
    g = [T(rnd(2, seed=10 + i)) for i in range(3)]
    gi = m.backward(x, g)
    assert len(gi) == 5 and all(a is b for a, b in zip(gi[1:4], g))
    assert not gi[0].numpy().any() and not gi[4].numpy().any()
    z = gi[0]._a
    assert m.backward(x, g)[0]._a is z
    assert J.testJacobian(m, [D(2), D(3), D(1), D(2), D(2)]) < TOL
    assert J.testJacobian(nn.NarrowTable(0, 2), [D(2), [D(3), D(1)], D(2)]) < TOL
    with pytest.raises(IndexError, match=r'nn.NarrowTable: cannot take 3 entries from offset 1 of a table of 3'):
        m.forward(x[:3])
    with pytest.raises(ValueError, match=r'expected gradOutput to be a list of 3 tensors, got 2'):
        m.backward(x, g[:2])
    with pytest.raises(ValueError, match=r'nn.NarrowTable\(offset, length\)'):
        nn.NarrowTable(None)
    assert nn.NarrowTable._lua_index_fields == ('offset',)


# -- FlattenTable -------------------------------------------------------------------------------------------------
def test_flatten_table():
    a, b, c, d = (T(rnd(2, seed=i)) for i in range(4))
    x = [a, [b, [c]], [], d]
    m = nn.FlattenTable()
    out = m.forward(x)
    assert len(out) == 4 and all(o is t for o, t in zip(out, [a, b, c, d]))
    g = [T(rnd(2, seed=10 + i)) for i in range(4)]
    gi = m.backward(x, g)
    assert gi[0] is g[0] and gi[1][0] is g[1] and gi[1][1][0] is g[2] and gi[2] == [] and gi[3] is g[3]
    assert J.testJacobian(m, [D(2), [D(3), [D(1)]], D(2)]) < TOL
    with pytest.raises(ValueError, match='expected gradOutput to be a list of 4 tensors, got 3'):
        m.backward(x, g[:3])
    with pytest.raises(TypeError, match='expected input to be a list'):
        m.forward(a)


# -- CAddTable, CSubTable, CMulTable, CDivTable ---------------------------------------------------------------------
def test_cadd_table():
    xs = [rnd(2, 3, seed=i) for i in range(3)]
    m = nn.CAddTable()
    out = m.forward(xs)
    np.testing.assert_allclose(out.numpy(), xs[0] + xs[1] + xs[2])
    assert not shares(out, xs[0])
    g = rnd(2, 3, seed=9)
    gi = m.backward(xs, g)
    assert len(gi) == 3 and all(np.array_equal(t.numpy(), g) for t in gi)
    assert len({id(t._a) for t in gi}) == 3
    arrs = [out._a] + [t._a for t in gi]
    m.forward(xs)
    m.backward(xs, g)
    assert all(a is b for a, b in zip(arrs, [m.output._a] + [t._a for t in m.gradInput]))
    assert J.testJacobian(m, [D(2, 3), D(2, 3), D(2, 3)]) < TOL
    assert J.testJacobian(m, [D(4)]) < TOL
    assert len(m.backward(xs[:2], g)) == 2


def test_cadd_table_inplace():
    m = nn.CAddTable(True)
    a, b = T(rnd(3)), T(rnd(3, seed=1))
    a0 = a.numpy().copy()
    out = m.forward([a, b])
    np.testing.assert_allclose(out.numpy(), a0 + b.numpy())
    assert shares(out, a)            # the sum is made in input[0]
    np.testing.assert_allclose(a.numpy(), a0 + b.numpy())
    g = T(rnd(3, seed=2))
    gi = m.backward([a, b], g)
    assert gi[0] is g and gi[1] is g
    # switching inplace off never writes into the tensors handed on before
    m.inplace = False
    c = T(rnd(3, seed=3))
    c0 = c.numpy().copy()
    out = m.forward([c, b])
    assert not shares(out, c) and not shares(out, a)
    np.testing.assert_allclose(c.numpy(), c0)
    gi = m.backward([c, b], g)
    assert gi[0] is not g and not shares(gi[0], g)


def test_csub_cmul_cdiv_tables():
    a, b, c = rnd(2, 3), rnd(2, 3, seed=1), rnd(2, 3, seed=2)
    g = rnd(2, 3, seed=3)
    m = nn.CSubTable()
    np.testing.assert_allclose(m.forward([a, b]).numpy(), a - b)
    gi = m.backward([a, b], g)
    np.testing.assert_allclose(gi[0].numpy(), g)
    np.testing.assert_allclose(gi[1].numpy(), -g)
    assert J.testJacobian(m, [D(2, 3), D(2, 3)]) < TOL

    m = nn.CMulTable()
    a0 = a.copy()
    a0[0, 0] = 0                      # exact with zeros (no division by the input)
    np.testing.assert_allclose(m.forward([a0, b, c]).numpy(), a0 * b * c)
    gi = m.backward([a0, b, c], g)
    np.testing.assert_allclose(gi[0].numpy(), g * b * c)
    np.testing.assert_allclose(gi[1].numpy(), g * a0 * c)
    np.testing.assert_allclose(gi[2].numpy(), g * a0 * b)
    assert J.testJacobian(m, [D(2, 3), D(2, 3), D(2, 3)]) < TOL
    assert J.testJacobian(m, [D(4), D(4)]) < TOL

    m = nn.CDivTable()
    b2 = b + np.sign(b) * 0.5
    np.testing.assert_allclose(m.forward([a, b2]).numpy(), a / b2)
    gi = m.backward([a, b2], g)
    np.testing.assert_allclose(gi[0].numpy(), g / b2)
    np.testing.assert_allclose(gi[1].numpy(), -g * a / b2 ** 2)
    x = [T(rnd(2, 3, seed=6)), T(rnd(2, 3, seed=7) * 0.5 + 3)]    # divisors away from 0
    assert J.testJacobian(m, x, randomize=False) < TOL
    with pytest.raises(ValueError, match=r'nn.CDivTable: expected input to be a list of 2 tensors, got 3'):
        m.forward([a, b, c])
    with pytest.raises(ValueError, match=r'nn.CSubTable: input\[1\] of size \[3, 3\] does not match input\[0\] of '
                                         r'size \[2, 3\]'):
        nn.CSubTable().forward([a, rnd(3, 3)])


def test_ctable_same_number_of_elements():
    # as Torch7, inputs with the same number of elements combine (the output has input[0]'s sizes)
    a, b = rnd(2, 3), rnd(6, seed=1)
    m = nn.CAddTable()
    np.testing.assert_allclose(m.forward([a, b]).numpy(), a + b.reshape(2, 3))
    gi = m.backward([a, b], np.ones((2, 3)))
    assert gi[0].numpy().shape == (2, 3) and gi[1].numpy().shape == (6,)
    with pytest.raises(ValueError, match=r'gradOutput of size \[5\] does not match the output of size \[2, 3\]'):
        m.backward([a, b], np.ones(5))


# -- CMaxTable, CMinTable ------------------------------------------------------------------------------------------
def test_cmax_cmin_tables():
    xs = [rnd(3, 4, seed=i) for i in range(3)]
    g = rnd(3, 4, seed=9)
    for cls, fn, arg in ((nn.CMaxTable, np.max, np.argmax), (nn.CMinTable, np.min, np.argmin)):
        m = cls()
        np.testing.assert_array_equal(m.forward(xs).numpy(), fn(np.stack(xs), 0))
        gi = m.backward(xs, g)
        win = arg(np.stack(xs), 0)
        for i, t in enumerate(gi):
            np.testing.assert_array_equal(t.numpy(), np.where(win == i, g, 0))
        arrs = [m.output._a] + [t._a for t in gi]
        m.forward(xs)
        m.backward(xs, g)
        assert all(a is b for a, b in zip(arrs, [m.output._a] + [t._a for t in m.gradInput]))
        assert J.testJacobian(m, [D(3, 4), D(3, 4), D(3, 4)]) < TOL
    # ties: the first input wins, as Torch7's strict comparison
    m = nn.CMaxTable()
    a = np.array([1., 2., 3.])
    gi = m.backward([a, a.copy(), np.array([0., 2., 4.])], np.ones(3))
    np.testing.assert_array_equal(gi[0].numpy(), [1, 1, 0])
    np.testing.assert_array_equal(gi[1].numpy(), [0, 0, 0])
    np.testing.assert_array_equal(gi[2].numpy(), [0, 0, 1])
    assert 'maxIdx' in m.__dict__ and 'minIdx' in nn.CMinTable().__dict__   # Torch7's fields


# -- compositions, types, save/load -------------------------------------------------------------------------------
def test_split_map_join_pipeline():
    torch.manualSeed(3)
    lin = nn.Linear(3, 2)
    net = nn.Sequential(nn.SplitTable(0, 2), nn.MapTable(lin), nn.JoinTable(0, 1))
    x = rnd(4, 3)                      # 4 steps of a 3-vector
    want = (x @ lin.weight.numpy().T + lin.bias.numpy()).reshape(-1)
    np.testing.assert_allclose(net.forward(x).numpy(), want, rtol=1e-12)
    xb = rnd(5, 4, 3)                  # a batch of 5: split along dim 1, join along dim 1
    out = net.forward(xb)
    assert out.numpy().shape == (5, 8)
    np.testing.assert_allclose(out.numpy()[:, 2:4], xb[:, 1] @ lin.weight.numpy().T + lin.bias.numpy(), rtol=1e-12)
    assert J.testJacobian(net, D(4, 3)) < TOL
    assert J.testJacobian(net, D(2, 4, 3)) < TOL


def test_residual_block():
    torch.manualSeed(4)
    block = nn.Sequential(nn.ConcatTable(nn.Sequential(nn.Linear(3, 3), nn.Tanh()), nn.Identity()),
                          nn.CAddTable())
    x = rnd(5, 3)
    l = block.get(0).get(0).get(0)
    np.testing.assert_allclose(block.forward(x).numpy(), np.tanh(x @ l.weight.numpy().T + l.bias.numpy()) + x,
                               rtol=1e-12)
    assert J.testJacobian(block, D(5, 3)) < TOL


def test_float32_and_type_conversion():
    xs = [rnd(2, 3).astype(np.float32), rnd(2, 3, seed=1).astype(np.float32)]
    for m in (nn.CAddTable(), nn.CMulTable(), nn.CMaxTable(), nn.JoinTable(0), nn.CSubTable(), nn.CDivTable()):
        m.forward([T(x) for x in xs])
        m.float()
        out = m.forward(xs)
        assert out.type() == 'torch.FloatTensor'
        gi = m.backward(xs, np.ones(out.numpy().shape, np.float32))
        assert all(t.type() == 'torch.FloatTensor' for t in gi)
    m = nn.SelectTable(0)
    m.forward([T(rnd(2))])
    m.backward([T(rnd(2))], T(rnd(2)))
    m.float()
    assert m.gradInput == [] and m.output.type() == 'torch.FloatTensor'


def test_save_load_roundtrip(tmp_path):
    for m in (nn.JoinTable(1, 2), nn.SplitTable(-1), nn.SelectTable(1), nn.NarrowTable(1, 2), nn.CAddTable(True),
              nn.CMaxTable(), nn.FlattenTable(), nn.Identity()):
        m2 = roundtrip(m, tmp_path)
        assert type(m2) is type(m) and repr(m2) == repr(m)
        for f in ('dimension', 'nInputDims', 'index', 'offset', 'length', 'inplace'):
            assert getattr(m2, f, None) == getattr(m, f, None)
    m = roundtrip(nn.JoinTable(1), tmp_path)
    np.testing.assert_array_equal(m.forward([rnd(2, 3), rnd(2, 1)]).numpy(), np.concatenate([rnd(2, 3), rnd(2, 1)], 1))


@pytest.mark.gpu
@pytest.mark.parametrize('make, inp', [
    (lambda: nn.JoinTable(1), lambda: [rnd(2, 3), rnd(2, 2, seed=1)]),
    (lambda: nn.SplitTable(1), lambda: rnd(2, 3)),
    (lambda: nn.SelectTable(-1), lambda: [rnd(2, 3), rnd(4, seed=1)]),
    (lambda: nn.NarrowTable(1, 1), lambda: [rnd(2, 3), rnd(4, seed=1)]),
    (lambda: nn.FlattenTable(), lambda: [rnd(2), [rnd(3, seed=1)]]),
    (lambda: nn.CAddTable(), lambda: [rnd(2, 3), rnd(2, 3, seed=1)]),
    (lambda: nn.CSubTable(), lambda: [rnd(2, 3), rnd(2, 3, seed=1)]),
    (lambda: nn.CMulTable(), lambda: [rnd(2, 3), rnd(2, 3, seed=1), rnd(2, 3, seed=2)]),
    (lambda: nn.CDivTable(), lambda: [rnd(2, 3), rnd(2, 3, seed=1) + 3]),
    (lambda: nn.CMaxTable(), lambda: [rnd(2, 3), rnd(2, 3, seed=1), rnd(2, 3, seed=2)]),
    (lambda: nn.CMinTable(), lambda: [rnd(2, 3), rnd(2, 3, seed=1)]),
])
def test_gpu_matches_cpu(make, inp):
    check_gpu(make().float(), make().cuda(), inp(), seed=5, rtol=1e-5, atol=1e-6)


def test_lua_nil_fields_absent():
    # Torch7 saves no nil fields: a module read from a Lua file may lack nInputDims or inplace
    m = nn.JoinTable(1)
    del m.__dict__['nInputDims']
    assert m.forward([rnd(2, 3), rnd(2, 1)]).numpy().shape == (2, 4)
    s = nn.SplitTable(0)
    del s.__dict__['nInputDims']
    assert len(s.forward(rnd(3, 2))) == 3
    c = nn.CAddTable()
    del c.__dict__['inplace']
    a = rnd(3)
    np.testing.assert_allclose(c.forward([a, a]).numpy(), 2 * a)
    assert len(c.backward([a, a], a)) == 2


def test_join_table_dimension_must_be_an_integer():
    with pytest.raises(TypeError, match=r"nn\.JoinTable: expected the dimension to be an integer, got '1'"):
        nn.JoinTable('1').forward([T(rnd(2, 3)), T(rnd(2, 3))])
    with pytest.raises(TypeError, match=r"nn\.Concat.*expected the dimension to be an integer, got 1.5"):
        nn.Concat(1.5).add(nn.Identity()).forward(T(rnd(2, 3)))
    assert list(nn.JoinTable(1.0).forward([T(rnd(2, 3)), T(rnd(2, 3))]).size()) == [2, 6]   # (a Lua number)


def test_split_table_of_a_vector_gives_numbers():
    # Torch7's select on a vector gives numbers: so do the slices here (they were detached 0-d tensors, copies that
    # printed as an error); their gradients are numbers too
    x = T(np.array([1.5, -2.0, 3.0]))
    m = nn.SplitTable(0)
    out = m.forward(x)
    assert out == [1.5, -2.0, 3.0] and all(type(v) is float for v in out)
    assert nn.SplitTable(0, 1).forward(x) == [1.5, -2.0, 3.0]
    assert m.backward(x, [0.5, np.float64(2.0), 4]).tolist() == [0.5, 2.0, 4.0]
    with pytest.raises(TypeError, match=r'nn.SplitTable: expected gradOutput\[1\] to be a number'):
        m.backward(x, [1.0, T(np.ones(1)), 1.0])
    with pytest.raises(ValueError, match=r'expected gradOutput to be a list of 3'):
        m.backward(x, [1.0, 2.0])


def test_select_table_index_must_be_an_integer():
    # a float index failed with Python's bare "list indices must be integers or slices, not float"
    x = [T(rnd(2)), T(rnd(3, seed=1))]
    assert nn.SelectTable(1.0).forward(x) is x[1]       # (a Lua number)
    assert nn.SelectTable(-2.0).forward(x) is x[0]
    with pytest.raises(TypeError, match=r"nn.SelectTable\(0.5\): expected the index to be an integer, got 0.5"):
        nn.SelectTable(0.5).forward(x)
    with pytest.raises(TypeError, match=r"expected the index to be an integer, got '1'"):
        nn.SelectTable('1').forward(x)
    gi = nn.SelectTable(1.0).backward(x, T(np.ones(3)))
    assert gi[0].numpy().tolist() == [0.0, 0.0] and gi[1].numpy().tolist() == [1.0, 1.0, 1.0]

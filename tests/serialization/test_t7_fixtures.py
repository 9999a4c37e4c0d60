"""Files written by the real Lua Torch7 (../shared/fixtures/t7, see its README.md): luatorch_py loads them,
reproduces the models' outputs, and writes the data files back byte for byte."""
import os

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.serialization import T7Error


@pytest.fixture
def t7dir(shared_dir):
    d = os.path.join(shared_dir, 'fixtures', 't7')
    if not os.path.isdir(d):
        pytest.skip(f"no Lua .t7 fixtures at {d}")
    return d


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


# -- data.t7 / data_ascii.t7 --------------------------------------------------------------------------------------
@pytest.mark.parametrize('name, format', [('data.t7', 'binary'), ('data_ascii.t7', 'ascii')])
def test_data_values_types_and_sharing(t7dir, name, format):
    d = torch.load(os.path.join(t7dir, name), format)
    assert isinstance(d, dict)
    types = {'double': torch.DoubleTensor, 'float': torch.FloatTensor, 'long': torch.LongTensor,
             'int': torch.IntTensor, 'short': torch.ShortTensor, 'char': torch.CharTensor,
             'byte': torch.ByteTensor}
    for k, cls in types.items():
        assert type(d[k]) is cls, k
    assert d['double'].shape == (3, 4) and d['float'].shape == (2, 3)
    assert d['long'].tolist() == [[1, -2, 3], [4, 5, 6000000000]]
    assert d['int'].tolist() == [7, -8, 9]
    assert d['short'].tolist() == [-1, 2]
    assert d['char'].tolist() == [-3, 4]
    assert d['byte'].tolist() == [0, 255, 7]
    # views share double's storage
    dbl = d['double']
    for k in ('transposed', 'narrowed'):
        assert d[k].storage() is dbl.storage()
        assert np.shares_memory(d[k].numpy(), dbl.numpy())
    np.testing.assert_array_equal(d['transposed'].numpy(), dbl.numpy().T)
    np.testing.assert_array_equal(d['narrowed'].numpy(), dbl.numpy()[:, 1:3])
    assert d['empty'].nElement() == 0 and type(d['empty']) is torch.DoubleTensor
    assert type(d['storage']) is torch.DoubleStorage and d['storage'].tolist() == [1.5, 2.5]
    assert d['number'] == 3.25 and d['integer'] == 42 and type(d['integer']) is int
    assert d['text'] == 'luatorch' and d['flag'] is True
    assert d['list'] == [10, 20, 30]
    assert d['nested'] == {1: 'one', 'a': {'b': {'c': 'deep'}}}
    assert d['self'] is d
    a, b = d['same_tensor_twice']
    assert a is b and a is dbl


def test_binary_and_ascii_agree(t7dir):
    b = torch.load(os.path.join(t7dir, 'data.t7'))
    a = torch.load(os.path.join(t7dir, 'data_ascii.t7'), 'ascii')
    assert set(a) == set(b)
    for k in ('double', 'float', 'long', 'int', 'short', 'char', 'byte', 'transposed', 'narrowed'):
        assert a[k].type() == b[k].type()
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())     # %.17g / %.9g text is exact


@pytest.mark.parametrize('name, format', [('data.t7', 'binary'), ('data_ascii.t7', 'ascii')])
def test_data_written_back_byte_for_byte(t7dir, name, format):
    raw = _read(os.path.join(t7dir, name))
    assert torch.serialize(torch.deserialize(raw, format), format) == raw


# -- models -------------------------------------------------------------------------------------------------
def _check_round_trip(model, x, want, tol):
    again = torch.deserialize(torch.serialize(model))
    np.testing.assert_allclose(again.forward(x).numpy(), want, rtol=0, atol=tol)


@pytest.mark.parametrize('name, format', [('lenet.t7', 'binary'), ('lenet_ascii.t7', 'ascii')])
def test_lenet(t7dir, name, format):
    d = torch.load(os.path.join(t7dir, name), format)
    model, x, want = d['model'], d['input'], d['output']
    assert type(model) is nn.Sequential and len(model.modules) == 12
    assert [m.__torch_name__ for m in model.modules] == [
        'nn.SpatialConvolution', 'nn.ReLU', 'nn.SpatialMaxPooling', 'nn.SpatialConvolution', 'nn.Tanh',
        'nn.SpatialAveragePooling', 'nn.View', 'nn.Linear', 'nn.ReLU', 'nn.Dropout', 'nn.Linear', 'nn.LogSoftMax']
    assert all(m.train is False for m in model.listModules())
    assert x.shape == (3, 1, 28, 28) and want.shape == (3, 10)
    y = model.forward(x)
    assert y.type() == 'torch.DoubleTensor'
    np.testing.assert_allclose(y.numpy(), want.numpy(), rtol=0, atol=1e-10)
    _check_round_trip(model, x, want.numpy(), 1e-10)


def test_mlp_float(t7dir):
    d = torch.load(os.path.join(t7dir, 'mlp_float.t7'))
    model, crit, x, want = d['model'], d['criterion'], d['input'], d['output']
    assert model._type == 'torch.FloatTensor'
    for m in model.listModules():
        assert m._type == 'torch.FloatTensor' and m._tcls is torch.FloatTensor
        assert m.train is True                    # never set in Lua: Torch7's default
    for p in model.parameters()[0]:
        assert p.type() == 'torch.FloatTensor' and p.numpy().dtype == np.float32
    assert type(crit) is nn.MSECriterion and crit._type == 'torch.FloatTensor' and crit.sizeAverage is True
    y = model.forward(x)
    assert y.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(y.numpy(), want.numpy(), rtol=0, atol=1e-6)
    # the model keeps training (gradients, criterion) after loading
    crit.forward(y, want)
    model.zeroGradParameters()
    model.backward(x, crit.backward(y, want))
    _check_round_trip(model, x, want.numpy(), 1e-6)


def test_branches(t7dir):
    d = torch.load(os.path.join(t7dir, 'branches.t7'))
    model, x, want = d['model'], d['input'], d['output']
    concat = model.modules[0]
    assert type(concat) is nn.Concat and concat.dimension == 1          # Lua's Concat(2)
    narrow = model.modules[-1]
    assert (narrow.dimension, narrow.index, narrow.length) == (1, 2, 6)  # Lua's Narrow(2, 3, 6)
    assert model.modules[4].dimension == 1                              # Lua's JoinTable(2)
    assert isinstance(model.modules[3].output, list)
    y = model.forward(x)
    assert y.shape == (2, 6)
    np.testing.assert_allclose(y.numpy(), want.numpy(), rtol=0, atol=1e-10)
    _check_round_trip(model, x, want.numpy(), 1e-10)


@pytest.mark.parametrize('name, format', [('lenet.t7', 'binary'), ('lenet_ascii.t7', 'ascii'),
                                          ('branches.t7', 'binary')])
def test_models_written_back_byte_for_byte(t7dir, name, format):
    """Every field survives: index fields (dims, SpatialMaxPooling's indices) go back to Lua's 1-based values,
    nothing is added or lost, references keep their order."""
    raw = _read(os.path.join(t7dir, name))
    assert torch.serialize(torch.deserialize(raw, format), format) == raw


def test_mlp_float_written_back_with_the_defaults_added(t7dir):
    d = torch.load(os.path.join(t7dir, 'mlp_float.t7'))
    again = torch.deserialize(torch.serialize(d))
    # Lua never set `train` on these modules nor `_type` on the criterion: they are filled in, and written
    assert all(m.train is True for m in again['model'].listModules())
    assert again['criterion']._type == 'torch.FloatTensor'
    np.testing.assert_array_equal(again['model'].forward(d['input']).numpy(), d['model'].forward(d['input']).numpy())


# -- python-torchfile's test files ---------------------------------------------------------------------------------
def test_torchfile_test_files(t7dir):
    tf = os.path.join(t7dir, 'torchfile-tests')
    if not os.path.isdir(tf):
        pytest.skip('no torchfile-tests folder')

    def load(n):
        return torch.load(os.path.join(tf, n))

    assert load('hello=123.t7') == {'hello': 123}
    t = load('doubletensor.t7')
    assert type(t) is torch.DoubleTensor and t.tolist() == [[1, 2, 3], [4, 5, 6.9]]
    f = load('floattensor.t7')
    assert type(f) is torch.FloatTensor and f.shape == (2, 3, 4)
    assert abs(float(f.numpy().astype(np.float64).sum()) - 12.97241666913) < 1e-5
    assert load('list_table.t7') == ['hello', 'world', 'third item', 123]
    assert load('map_table1.t7') == {0: 'zero', 1: 'hello', 2: 'world', 3: 'third item', 4: 123}
    assert load('map_table2.t7') == {1: 'hello', 2: 'world', 3: 'third item', 4: 123, 'a': 'non number key'}
    assert load('tds_hash.t7') == {1: 2, 2: 3, 10: 11}
    assert load('tds_vec.t7') == [123, 456]
    for name, msg in [('recursive_class.t7', '<A>'), ('custom_class.t7', '<Blah>'),
                      ('function.t7', 'never loads code'), ('function_upvals.t7', 'never loads code'),
                      ]:     # the nngraph files and recursive_kv_table.t7 load: tests/nn/test_nngraph.py
        with pytest.raises(T7Error, match=msg):
            load(name)

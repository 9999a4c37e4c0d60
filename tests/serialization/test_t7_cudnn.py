""".t7 files naming cudnn.* classes (models saved from cudnn nets) load as their nn twins.  The files here are
Lua-written nn fixtures (../shared/fixtures/t7) with their class-name strings rewritten to cudnn's: the layouts are
the same, and a binary .t7 string is an int32 length then its bytes, so a name is patched with its prefix."""
import os
import struct

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.serialization import T7Error, classes


def _rename(data, old, new, count=-1):
    """data with the binary .t7 string `old` (length-prefixed) replaced by `new`: every occurrence (the Lua-written
    fixtures), or the first `count` -- a file of one module made here has its class name before any tensor data,
    while its uninitialized gradWeight may hold stale bytes that look like the name."""
    o, n = old.encode(), new.encode()
    pat = struct.pack('<i', len(o)) + o
    assert pat in data, old
    return data.replace(pat, struct.pack('<i', len(n)) + n, count)


LENET = ['nn.SpatialConvolution', 'nn.ReLU', 'nn.SpatialMaxPooling', 'nn.Tanh', 'nn.SpatialAveragePooling',
         'nn.LogSoftMax']
BRANCHES = ['nn.SpatialConvolution', 'nn.SpatialBatchNormalization', 'nn.ReLU', 'nn.SpatialMaxPooling',
            'nn.BatchNormalization']


@pytest.fixture
def t7dir(shared_dir):
    d = os.path.join(shared_dir, 'fixtures', 't7')
    if not os.path.isdir(d):
        pytest.skip(f"no Lua .t7 fixtures at {d}")
    return d


def _cudnn_version(path, names):
    with open(path, 'rb') as fh:
        data = fh.read()
    for n in names:
        data = _rename(data, n, 'cudnn.' + n[3:])
    return data


def _modules(m):
    out = [m]
    for c in getattr(m, 'modules', None) or []:
        out += _modules(c)
    return out


@pytest.mark.parametrize('name, renamed', [('lenet.t7', LENET), ('branches.t7', BRANCHES)])
def test_cudnn_names_load_as_nn_and_match(t7dir, name, renamed):
    data = _cudnn_version(os.path.join(t7dir, name), renamed)
    assert b'cudnn.' in data
    d = torch.deserialize(data)
    ref = torch.load(os.path.join(t7dir, name))
    types = [type(m) for m in _modules(d['model'])]
    assert types == [type(m) for m in _modules(ref['model'])]
    assert nn.SpatialConvolution in types and nn.ReLU in types
    out = d['model'].forward(d['input'])
    assert np.abs(out.numpy() - d['output'].numpy()).max() < 1e-10
    assert np.array_equal(out.numpy(), ref['model'].forward(ref['input']).numpy())


def test_saving_a_cudnn_model_writes_nn_names(t7dir):
    d = torch.deserialize(_cudnn_version(os.path.join(t7dir, 'lenet.t7'), LENET))
    data = torch.serialize(d['model'])
    assert b'cudnn.' not in data and b'nn.SpatialConvolution' in data
    m = torch.deserialize(data)
    assert type(m.modules[0]) is nn.SpatialConvolution
    assert np.abs(m.forward(d['input']).numpy() - d['output'].numpy()).max() < 1e-10


def _as_cudnn(module, lua_name, **fields):
    """A file holding `module` (with extra fields, as cudnn would have them) under the class name `lua_name`."""
    module.__dict__.update(fields)
    return _rename(torch.serialize(module), type(module).__torch_name__, lua_name, 1)


def test_cudnn_extra_fields_are_kept():
    conv = nn.SpatialConvolution(2, 3, 3, 3)
    m = torch.deserialize(_as_cudnn(conv, 'cudnn.SpatialConvolution', groups=1,
                                    fmode='CUDNN_CONVOLUTION_FWD_ALGO_GEMM'))
    assert type(m) is nn.SpatialConvolution
    assert m.groups == 1 and m.fmode == 'CUDNN_CONVOLUTION_FWD_ALGO_GEMM'
    bn = nn.SpatialBatchNormalization(3)
    save_mean = torch.Tensor(3).fill(0.25)
    m = torch.deserialize(_as_cudnn(bn, 'cudnn.SpatialBatchNormalization', save_mean=save_mean,
                                    mode='CUDNN_BATCHNORM_SPATIAL'))
    assert type(m) is nn.SpatialBatchNormalization
    assert m.save_mean.tolist() == [0.25] * 3 and m.mode == 'CUDNN_BATCHNORM_SPATIAL'


def test_cudnn_relu_inplace_and_clipped_relu():
    x = torch.Tensor([[-2.0, 0.5, 3.0, 7.0]])
    r = torch.deserialize(_rename(torch.serialize(nn.Sigmoid()), 'nn.Sigmoid', 'cudnn.ReLU', 1))
    assert type(r) is nn.ReLU and r.inplace is False and r.forward(x).tolist() == [[0.0, 0.5, 3.0, 7.0]]
    # a cudnn.ReLU has only cudnn's Pointwise fields: `inplace`, no threshold/val
    relu = nn.Sigmoid()
    relu.inplace = True
    r = torch.deserialize(_rename(torch.serialize(relu), 'nn.Sigmoid', 'cudnn.ReLU', 1))
    assert type(r) is nn.ReLU and r.inplace is True
    assert r.forward(x.clone()).tolist() == [[0.0, 0.5, 3.0, 7.0]]
    c = nn.Sigmoid()
    c.ceiling = 6
    h = torch.deserialize(_rename(torch.serialize(c), 'nn.Sigmoid', 'cudnn.ClippedReLU', 1))
    assert type(h) is nn.HardTanh and h.ceiling == 6
    assert h.forward(x).tolist() == [[0.0, 0.5, 3.0, 6.0]]


def test_cudnn_average_pooling_averages():
    # an nn file without `divide` is sum pooling (old nn); cudnn always averages
    p = nn.SpatialAveragePooling(2, 2, 2, 2)
    del p.__dict__['divide']
    data = _rename(torch.serialize(p), 'nn.SpatialAveragePooling', 'cudnn.SpatialAveragePooling', 1)
    m = torch.deserialize(data)
    x = torch.Tensor(1, 2, 2).fill(4.0)
    assert m.forward(x).tolist() == [[[4.0]]]


def test_cudnn_temporal_convolution_geometry():
    ref = nn.TemporalConvolution(3, 2, 2, 1)
    lua = nn.TemporalConvolution(3, 2, 2, 1)
    lua.weight.copy(ref.weight)
    lua.bias.copy(ref.bias)
    # cudnn's fields: a SpatialConvolution over (time x inputFrameSize), kernel and stride in kH/dH
    lua.__dict__.update(kH=2, dH=1, kW=3, dW=1, padH=0, padW=0, nInputPlane=1, nOutputPlane=2, groups=1)
    data = _rename(torch.serialize(lua), 'nn.TemporalConvolution', 'cudnn.TemporalConvolution', 1)
    m = torch.deserialize(data)
    assert type(m) is nn.TemporalConvolution and m.kW == 2 and m.dW == 1
    x = torch.randn(5, 3)
    assert np.array_equal(m.forward(x).numpy(), ref.forward(x).numpy())


def test_grouped_convolution_is_a_clear_error():
    data = _as_cudnn(nn.SpatialConvolution(4, 4, 3, 3), 'cudnn.SpatialConvolution', groups=2)
    with pytest.raises(T7Error, match=r"cudnn.*groups=2.*no nn equivalent"):
        torch.deserialize(data)


@pytest.mark.parametrize('name', ['cudnn.RNN', 'cudnn.LSTM', 'cudnn.BLSTM', 'cudnn.GRU'])
def test_rnn_classes_are_a_clear_error(name):
    data = _rename(torch.serialize(nn.Linear(2, 3)), 'nn.Linear', name, 1)
    with pytest.raises(T7Error, match=rf"<{name}> is not supported: .*no nn equivalent"):
        torch.deserialize(data)


def test_twin_table():
    assert classes.twin_of('cudnn.SpatialConvolution') == 'nn.SpatialConvolution'
    assert classes.twin_of('cudnn.ClippedReLU') == 'nn.HardTanh'
    assert classes.twin_of('cunn.SpatialConvolutionMM') == 'nn.SpatialConvolutionMM'
    assert classes.twin_of('nn.Linear') == 'nn.Linear'
    assert len(classes.TWINS) >= 18


def test_cudnn_batchnorm_version1_running_std():
    # cudnn's BatchNormalization:read converts a version-1 file's running_std as nn's does
    bn = nn.BatchNormalization(3)
    del bn.__dict__['running_var']
    bn.running_std = torch.Tensor(3).fill(2.0)
    data = _rename(torch.serialize(bn), 'nn.BatchNormalization', 'cudnn.BatchNormalization', 1)
    data = _rename(data, 'V 2', 'V 1', 1)
    m = torch.deserialize(data)
    assert type(m) is nn.BatchNormalization and 'running_std' not in m.__dict__
    assert np.allclose(m.running_var.numpy(), 0.25 - m.eps, rtol=0, atol=1e-15)

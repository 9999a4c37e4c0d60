"""Every cudnn.torch class with an nn twin (classes.TWINS) loads from a file in cudnn's layout as that twin and
computes what the nn module computes; saving writes the nn name.  cudnn's classes without a twin are a clear error
naming the class.  (tests/serialization/test_t7_cudnn.py has the Lua-written lenet/branches files renamed; here:
the twins no Lua fixture holds, dcgan's generator -- a model usually trained under cudnn -- and mlp_float.)

A file "in cudnn's layout" is an nn module written here with its class-name string rewritten to cudnn's (the
layouts are the same: cudnn's classes derive from nn's or copy their fields), minus the fields only nn's class has
and plus those cudnn's class sets (its `groups`, descriptor geometry, `mode`/`algorithm` strings, `iSize`, ...)."""
import os
import struct

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.serialization import T7Error, classes
from luatorch_py import LongStorage


def R(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _rename(data, old, new, count=1):
    o, n = old.encode(), new.encode()
    pat = struct.pack('<i', len(o)) + o
    assert pat in data, old
    return data.replace(pat, struct.pack('<i', len(n)) + n, count)


def _cudnn_conv(nd):
    """The fields cudnn's convolutions hold after a forward (its clearDesc drops the descriptors before
    writing): ``nd`` spatial dims."""
    return {'iSize': LongStorage([0] * (nd + 2)), 'pad': [0] * nd, 'stride': [1] * nd,
            'convDescData': {'padA': [0] * nd, 'filterStrideA': [1] * nd, 'dataType': 'CUDNN_DATA_DOUBLE'},
            'input_offset': 0, 'output_offset': 0, 'weight_offset': 0}


def _bn_extra(n):
    return {'save_mean': torch.DoubleTensor(n).fill(0.5), 'save_std': torch.DoubleTensor(n).fill(2.0),
            'iSize': LongStorage([0, 0, 0, 0])}


_POINTWISE = {'inplace': False, 'iSize': LongStorage([0, 0, 0, 0])}
_SOFTMAX = {'algorithm': 'CUDNN_SOFTMAX_ACCURATE', 'mode': 'CUDNN_SOFTMAX_MODE_CHANNEL',
            'iSize': LongStorage([0, 0, 0, 0])}

# cudnn name -> (nn module, input, nn-only fields a cudnn file lacks, cudnn-only fields)
CASES = {
    'cudnn.SpatialConvolution': (lambda: nn.SpatialConvolution(3, 4, 3, 3, 1, 1, 1, 1), lambda: R(2, 3, 5, 5),
                                 (), dict(_cudnn_conv(2), groups=1, fmode='CUDNN_CONVOLUTION_FWD_ALGO_GEMM')),
    'cudnn.SpatialFullConvolution': (lambda: nn.SpatialFullConvolution(3, 2, 3, 3, 2, 2, 1, 1, 1, 1),
                                     lambda: R(2, 3, 4, 4), (), _cudnn_conv(2)),
    'cudnn.VolumetricConvolution': (lambda: nn.VolumetricConvolution(2, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1),
                                    lambda: R(2, 2, 4, 4, 4), (), _cudnn_conv(3)),
    'cudnn.VolumetricFullConvolution': (lambda: nn.VolumetricFullConvolution(2, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1),
                                        lambda: R(2, 2, 3, 3, 3), (), _cudnn_conv(3)),
    'cudnn.TemporalConvolution': None,      # its own geometry: test_t7_cudnn.py
    'cudnn.SpatialMaxPooling': (lambda: nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil(), lambda: R(2, 3, 7, 7),
                                ('indices',), {'mode': 'CUDNN_POOLING_MAX', 'iSize': LongStorage([2, 3, 7, 7])}),
    'cudnn.SpatialAveragePooling': (lambda: nn.SpatialAveragePooling(2, 2, 2, 2, 1, 1), lambda: R(2, 3, 6, 6),
                                    ('divide',), {'mode': 'CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING'}),
    'cudnn.VolumetricMaxPooling': (lambda: nn.VolumetricMaxPooling(2, 2, 2, 2, 2, 2, 1, 1, 1), lambda: R(2, 2, 5, 5, 5),
                                   ('indices',), {'mode': 'CUDNN_POOLING_MAX', 'iSize': LongStorage([0] * 5)}),
    'cudnn.VolumetricAveragePooling': (lambda: nn.VolumetricAveragePooling(2, 2, 2), lambda: R(2, 2, 4, 4, 4), (),
                                       {'padT': 0, 'padW': 0, 'padH': 0, 'ceil_mode': False,
                                        'mode': 'CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING'}),
    'cudnn.ReLU': (lambda: nn.ReLU(), lambda: R(3, 4), ('threshold', 'val'), dict(_POINTWISE, mode='CUDNN_ACTIVATION_RELU')),
    'cudnn.Tanh': (lambda: nn.Tanh(), lambda: R(3, 4), (), dict(_POINTWISE, mode='CUDNN_ACTIVATION_TANH')),
    'cudnn.Sigmoid': (lambda: nn.Sigmoid(), lambda: R(3, 4), (), dict(_POINTWISE, mode='CUDNN_ACTIVATION_SIGMOID')),
    'cudnn.ClippedReLU': None,              # HardTanh(0, ceiling): test_t7_cudnn.py
    'cudnn.SoftMax': (lambda: nn.SoftMax(), lambda: R(3, 5), (), dict(_SOFTMAX, mode='CUDNN_SOFTMAX_MODE_INSTANCE')),
    'cudnn.LogSoftMax': (lambda: nn.LogSoftMax(), lambda: R(3, 5), (),
                         dict(_SOFTMAX, mode='CUDNN_SOFTMAX_MODE_INSTANCE', algorithm='CUDNN_SOFTMAX_LOG')),
    'cudnn.SpatialSoftMax': (lambda: nn.SpatialSoftMax(), lambda: R(2, 3, 4, 4), (), _SOFTMAX),
    'cudnn.SpatialLogSoftMax': (lambda: nn.SpatialLogSoftMax(), lambda: R(2, 3, 4, 4), (),
                                dict(_SOFTMAX, algorithm='CUDNN_SOFTMAX_LOG')),
    'cudnn.SpatialCrossMapLRN': (lambda: nn.SpatialCrossMapLRN(3, 1e-2, 0.75, 2), lambda: R(2, 5, 4, 4),
                                 ('scale', 'paddedRatio', 'accumRatio'), {'iSize': LongStorage([0, 0, 0, 0])}),
    'cudnn.BatchNormalization': (lambda: nn.BatchNormalization(4), lambda: R(5, 4), (), _bn_extra(4)),
    'cudnn.SpatialBatchNormalization': (lambda: nn.SpatialBatchNormalization(3), lambda: R(2, 3, 4, 4), (),
                                        _bn_extra(3)),
    'cudnn.VolumetricBatchNormalization': (lambda: nn.VolumetricBatchNormalization(2), lambda: R(2, 2, 3, 3, 3), (),
                                           _bn_extra(2)),
}


def _snap(x):
    return x.numpy().copy()


def _cudnn_file(name, train):
    make, inp, drop, extra = CASES[name]
    torch.manualSeed(5)
    m = make().double()
    if not train:
        m.evaluate()
    x = inp()
    m.forward(x)
    data = torch.serialize(m)                 # the nn module, as it is
    for k in drop:
        m.__dict__.pop(k, None)
    m.__dict__.update(extra)
    return _rename(torch.serialize(m), type(m).__torch_name__, name), data, x


def test_every_twin_is_covered():
    assert set(CASES) == set(classes.TWINS)
    # every twin's nn class exists now (issue 11: VolumetricBatchNormalization, VolumetricFullConvolution, ...)
    missing = sorted(n for n, t in classes.TWINS.items() if t not in nn.REGISTRY)
    assert missing == []
    assert classes.lookup('cudnn.VolumetricFullConvolution') == ('nn', nn.VolumetricFullConvolution)


@pytest.mark.parametrize('name', sorted(n for n in CASES if CASES[n] is not None))
@pytest.mark.parametrize('train', [True, False])
def test_cudnn_twin_loads_and_computes_as_nn(name, train):
    cud, plain, x = _cudnn_file(name, train)
    assert b'cudnn.' in cud
    m = torch.deserialize(cud)
    ref = torch.deserialize(plain)
    assert type(m) is nn.REGISTRY[classes.TWINS[name]] is type(ref)
    # cudnn's own fields are kept (and saved back: Lua's nn ignores them)
    for k, v in CASES[name][3].items():
        assert k in m.__dict__, k
    m.zeroGradParameters()
    ref.zeroGradParameters()
    torch.manualSeed(3)
    out = _snap(m.forward(x))
    torch.manualSeed(3)
    want = _snap(ref.forward(x))
    assert np.array_equal(out, want), name
    go = R(*out.shape, seed=9)
    np.testing.assert_array_equal(_snap(m.backward(x, go)), _snap(ref.backward(x, go)))
    for a, b in zip(m.parameters()[1], ref.parameters()[1]):
        np.testing.assert_array_equal(_snap(a), _snap(b))
    # saving writes the nn name; the result loads and computes the same
    back = torch.serialize(m)
    assert b'cudnn.' not in back and classes.TWINS[name].encode() in back
    m2 = torch.deserialize(back)
    assert type(m2) is type(m)
    assert np.array_equal(_snap(m2.forward(x)), out) or train     # (train: BatchNorm's running stats moved)


def test_dcgan_generator_saved_from_cudnn(shared_dir):
    """dcgan.torch's generator as a cudnn user saves it (cudnn.convert(netG, cudnn)): SpatialFullConvolution,
    SpatialBatchNormalization, ReLU and Tanh under cudnn's names; Lua's output to 1e-12."""
    d = os.path.join(shared_dir, 'fixtures', 'realmodels')
    if not os.path.exists(os.path.join(d, 'dcgan_netG.t7')):
        pytest.skip('no realmodels fixtures')
    data = open(os.path.join(d, 'dcgan_netG.t7'), 'rb').read()
    for n in ('SpatialFullConvolution', 'SpatialBatchNormalization', 'ReLU', 'Tanh'):
        data = _rename(data, 'nn.' + n, 'cudnn.' + n, -1)
    assert struct.pack('<i', 25) + b'nn.SpatialFullConvolution' not in data
    net = torch.deserialize(data)
    io = torch.load(os.path.join(d, 'dcgan_netG_io.t7'))
    assert {type(m) for m in net.modules} == {nn.SpatialFullConvolution, nn.SpatialBatchNormalization, nn.ReLU,
                                              nn.Tanh}
    out = net.forward(io['input']).numpy()
    want = io['output'].numpy()
    assert np.abs(out - want).max() <= 1e-12 * np.abs(want).max()
    assert b'cudnn.' not in torch.serialize(net)


def test_mlp_float_sigmoid_softmax_from_cudnn(shared_dir):
    path = os.path.join(shared_dir, 'fixtures', 't7', 'mlp_float.t7')
    if not os.path.exists(path):
        pytest.skip('no t7 fixtures')
    data = open(path, 'rb').read()
    for n in ('Sigmoid', 'SoftMax'):
        data = _rename(data, 'nn.' + n, 'cudnn.' + n, -1)
    d = torch.deserialize(data)
    assert [type(m) for m in d['model'].modules] == [nn.Linear, nn.Sigmoid, nn.Linear, nn.SoftMax]
    out = d['model'].forward(d['input'])
    assert out.type() == 'torch.FloatTensor'
    assert np.abs(out.numpy() - d['output'].numpy()).max() < 1e-6


# -- cudnn classes without an nn twin: a clear error naming the class -----------------------------------------------
NO_TWIN = ['cudnn.RNN', 'cudnn.RNNTanh', 'cudnn.RNNReLU', 'cudnn.LSTM', 'cudnn.BLSTM', 'cudnn.GRU', 'cudnn.BGRU',
           'cudnn.VolumetricSoftMax', 'cudnn.VolumetricLogSoftMax', 'cudnn.SpatialCrossEntropyCriterion',
           'cudnn.VolumetricCrossEntropyCriterion', 'cudnn.SpatialDivisiveNormalization']


@pytest.mark.parametrize('name', NO_TWIN)
def test_cudnn_classes_without_twin_are_a_clear_error(name):
    data = _rename(torch.serialize(nn.Linear(2, 3)), 'nn.Linear', name)
    with pytest.raises(T7Error, match=rf"<{name}> is not supported: .*no nn equivalent"):
        torch.deserialize(data)


def test_cudnn_divisive_normalization_is_not_nns():
    # same name as nn's, different fields (cudnn's size, alpha, beta, K) and computation: not loaded as nn's
    f = nn.Sigmoid()
    f.__dict__.update(size=5, alpha=1e-4, beta=0.75, K=2.0)
    data = _rename(torch.serialize(f), 'nn.Sigmoid', 'cudnn.SpatialDivisiveNormalization')
    with pytest.raises(T7Error, match=r"<cudnn.SpatialDivisiveNormalization>.*not nn.SpatialDivisiveNormalization"):
        torch.deserialize(data)


def test_every_cudnn_class_is_known():
    """cudnn.torch's 33 classes (its init.lua's, without the abstract bases _Pointwise, _Pooling, _Pooling3D)
    either load as a twin or are refused with a reason."""
    names = set(CASES) | set(NO_TWIN)
    assert len(names) == 33
    for n in names:
        kind, what = classes.lookup(n)
        assert kind in ('nn', 'unsupported'), n
        assert (kind == 'nn') == (n in classes.TWINS), n


def test_cudnn_volumetric_average_pooling_ceil_mode_is_refused():
    # cudnn's 3D pooling has ceil_mode; nn.VolumetricAveragePooling always floors: a silent size change otherwise
    p = nn.VolumetricAveragePooling(2, 2, 2)
    p.__dict__.update(padT=0, padW=0, padH=0, ceil_mode=True)
    data = _rename(torch.serialize(p), 'nn.VolumetricAveragePooling', 'cudnn.VolumetricAveragePooling')
    with pytest.raises(T7Error, match=r"ceil_mode"):
        torch.deserialize(data)


def _cuda_dcgan(shared_dir):
    d = os.path.join(shared_dir, 'fixtures', 'realmodels')
    if not os.path.exists(os.path.join(d, 'dcgan_netG.t7')):
        pytest.skip('no realmodels fixtures')
    data = open(os.path.join(d, 'dcgan_netG.t7'), 'rb').read()
    # a model saved from the GPU: cudnn's class names and CUDA tensor types (a double net: CudaDoubleTensor)
    for a, b in (('nn.SpatialFullConvolution', 'cudnn.SpatialFullConvolution'), ('nn.ReLU', 'cudnn.ReLU'),
                 ('nn.SpatialBatchNormalization', 'cudnn.SpatialBatchNormalization'), ('nn.Tanh', 'cudnn.Tanh'),
                 ('torch.DoubleTensor', 'torch.CudaDoubleTensor'), ('torch.DoubleStorage', 'torch.CudaDoubleStorage')):
        data = _rename(data, a, b, -1)
    return data, torch.load(os.path.join(d, 'dcgan_netG_io.t7'))


def test_cudnn_model_with_cuda_tensors_loads_on_the_host(shared_dir):
    from luatorch_py import backend
    if backend.cuda_available():
        pytest.skip('a CUDA device is here: the gpu variant below runs instead')
    data, io = _cuda_dcgan(shared_dir)
    with pytest.warns(RuntimeWarning, match='no CUDA device'):
        net = torch.deserialize(data)
    assert net.modules[0].weight.type() == 'torch.DoubleTensor'
    out, want = net.forward(io['input']).numpy(), io['output'].numpy()
    assert np.abs(out - want).max() <= 1e-12 * np.abs(want).max()


@pytest.mark.gpu
def test_cudnn_model_with_cuda_tensors_runs_on_the_device(shared_dir):
    data, io = _cuda_dcgan(shared_dir)
    net = torch.deserialize(data)
    assert type(net.modules[0]) is nn.SpatialFullConvolution
    assert net.modules[0].weight.type() == 'torch.CudaDoubleTensor'
    out = net.forward(io['input'].type('torch.CudaDoubleTensor')).double().numpy()
    want = io['output'].numpy()
    assert np.abs(out - want).max() <= 1e-10 * np.abs(want).max()


def test_cunn_data_parallel_table_is_a_clear_error():
    data = _rename(torch.serialize(nn.Sequential(nn.Linear(2, 3))), 'nn.Sequential', 'nn.DataParallelTable')
    with pytest.raises(T7Error, match=r"<nn.DataParallelTable> is not supported: .*cunn.*dpt:get\(1\)"):
        torch.deserialize(data)
    # cunn.X names load as nn.X (cunn's modules are nn's)
    data = _rename(torch.serialize(nn.Linear(2, 3)), 'nn.Linear', 'cunn.Linear')
    assert type(torch.deserialize(data)) is nn.Linear

"""dpnn's nn.Inception: built as dpnn builds it (same modules, same order of construction, so the same numbers from
the global stream), checked against a hand-composed DepthConcat of the columns and a numpy assembly of their outputs."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.serialization.classes import lua_fields

from nn_helpers import J, TOL, D, check_gpu, rnd, roundtrip


def hand_built(cfg):
    """dpnn's Inception.lua written out by hand for ``cfg`` (its columns in its order), as a DepthConcat(1)."""
    tr = cfg.get('transfer') or nn.ReLU()
    bn = cfg.get('batchNorm')
    ks = cfg.get('kernelSize', [5, 3])
    kst = cfg.get('kernelStride', [1, 1])
    rs = [r for r in cfg['reduceSize']]
    rst = cfg.get('reduceStride', [])
    inp = cfg['inputSize']

    def s(i):
        return rst[i] if i < len(rst) else 1

    def reduce(seq, i):
        seq.add(nn.SpatialConvolution(inp, rs[i], 1, 1, s(i), s(i)))
        if bn:
            seq.add(nn.SpatialBatchNormalization(rs[i]))
        seq.add(tr.clone())

    dc = nn.DepthConcat(1)
    for i, k in enumerate(ks):
        seq = nn.Sequential()
        reduce(seq, i)
        seq.add(nn.SpatialConvolution(rs[i], cfg['outputSize'][i], k, k, kst[i], kst[i], k // 2))
        if bn:
            seq.add(nn.SpatialBatchNormalization(cfg['outputSize'][i]))
        seq.add(tr.clone())
        dc.add(seq)
    seq = nn.Sequential().add(cfg.get('pool') or nn.SpatialMaxPooling(3, 3, 1, 1))
    if len(rs) > len(ks) and rs[len(ks)]:
        reduce(seq, len(ks))
    dc.add(seq)
    if len(rs) > len(ks) + 1 and rs[len(ks) + 1]:
        seq = nn.Sequential()
        reduce(seq, len(ks) + 1)
        dc.add(seq)
    return dc


CONFIGS = {
    # dpnn's defaults: 5x5 and 3x3 columns, an unpadded 3x3 max pooling (smaller: DepthConcat centres it)
    'default': lambda: {'inputSize': 3, 'outputSize': [4, 2], 'reduceSize': [2, 3, 2, 2]},
    # openface nn4.small2's inception (3a) shape, small: batch norm, a padded pool
    'openface_3a': lambda: {'inputSize': 4, 'kernelSize': [3, 5], 'kernelStride': [1, 1], 'outputSize': [3, 2],
                            'reduceSize': [2, 2, 2, 3], 'pool': nn.SpatialMaxPooling(3, 3, 1, 1, 1, 1),
                            'batchNorm': True},
    # (3c): strided columns, no projection column and no 1x1 column (Lua's {128, 32, nil, nil})
    'openface_3c': lambda: {'inputSize': 4, 'kernelSize': [3, 5], 'kernelStride': [2, 2], 'outputSize': [3, 2],
                            'reduceSize': [2, 2, None, None], 'pool': nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1),
                            'batchNorm': True, 'transfer': nn.Tanh()},
}


def column_ref(m, x):
    """The output assembled with numpy from each column's own output (zero padding, centred, along dim 1)."""
    outs = [c.forward(x).numpy().copy() for c in m.modules[0].modules]
    H = max(o.shape[2] for o in outs)
    W = max(o.shape[3] for o in outs)
    res = np.zeros((x.shape[0], sum(o.shape[1] for o in outs), H, W))
    off = 0
    for o in outs:
        h0, w0 = (H - o.shape[2]) // 2, (W - o.shape[3]) // 2
        res[:, off:off + o.shape[1], h0:h0 + o.shape[2], w0:w0 + o.shape[3]] = o
        off += o.shape[1]
    return res


@pytest.mark.parametrize('name', list(CONFIGS))
def test_inception_matches_hand_composed(name):
    torch.manualSeed(11)
    m = nn.Inception(CONFIGS[name]()).double()
    torch.manualSeed(11)
    ref = hand_built(CONFIGS[name]()).double()
    pm, pr = m.parameters()[0], ref.parameters()[0]
    assert len(pm) == len(pr) and all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(pm, pr))
    assert repr(m.modules[0]) == repr(ref)
    x = rnd(2, m.inputSize, 9, 9)
    y = m.forward(x).numpy().copy()
    np.testing.assert_array_equal(y, ref.forward(x).numpy())
    np.testing.assert_allclose(y, column_ref(m, x), rtol=1e-14)
    g = rnd(*y.shape, seed=1)
    m.zeroGradParameters()
    ref.zeroGradParameters()
    np.testing.assert_array_equal(m.backward(x, g).numpy(), ref.backward(x, g).numpy())
    for a, b in zip(m.parameters()[1], ref.parameters()[1]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_inception_output_sizes():
    torch.manualSeed(1)
    m = nn.Inception(CONFIGS['default']()).double()
    assert tuple(m.forward(rnd(2, 3, 9, 9)).size()) == (2, 4 + 2 + 2 + 2, 9, 9)
    m3c = nn.Inception(CONFIGS['openface_3c']()).double()
    assert m3c.reduceSize == [2, 2] and len(m3c.modules[0].modules) == 3
    assert tuple(m3c.forward(rnd(2, 4, 8, 8)).size()) == (2, 3 + 2 + 4, 4, 4)


def test_inception_jacobian_and_online():
    torch.manualSeed(2)
    m = nn.Inception({'inputSize': 2, 'outputSize': [2, 1], 'reduceSize': [1, 1, 1, 1], 'transfer': nn.Tanh(),
                      'pool': nn.SpatialAveragePooling(3, 3, 1, 1, 1, 1)}).double()
    x = D(2, 2, 4, 4)
    assert J.testJacobian(m, x) < TOL
    params, grads = m.parameters()
    for i in (0, 3, len(params) - 2):       # a reduction, a kxk convolution, the 1x1 column (the rest: DepthConcat's)
        assert J.testJacobianParameters(m, x, params[i], grads[i]) < TOL
    assert J.testJacobianUpdateParameters(m, x, params[2]) < TOL
    # a 3-D input runs as a batch of one (dpnn's toBatch)
    x3 = rnd(2, 5, 5)
    y3 = m.forward(x3).numpy().copy()
    assert m.dpnn_online is True and y3.shape == (5, 5, 5)
    np.testing.assert_allclose(y3, m.forward(x3[None]).numpy()[0], rtol=0)
    assert m.dpnn_online is False
    assert J.testJacobian(m, D(2, 4, 4)) < TOL


def test_inception_t7_layout(tmp_path):
    torch.manualSeed(3)
    m = nn.Inception(CONFIGS['openface_3a']())
    f = lua_fields(m)
    # dpnn's fields, with the DepthConcat as modules[1] (Lua's Decorator)
    for k in ('inputSize', 'outputSize', 'reduceSize', 'reduceStride', 'transfer', 'batchNorm', 'padding',
              'kernelSize', 'kernelStride', 'poolSize', 'poolStride', 'pool', 'modules'):
        assert k in f, k
    assert lua_fields(m.modules[0])['dimension'] == 2          # Lua's DepthConcat(2)
    assert m.pool is m.modules[0].modules[2].modules[0]
    m2 = roundtrip(m.double(), tmp_path)
    assert type(m2) is nn.Inception and type(m2.modules[0]) is nn.DepthConcat and m2.modules[0].dimension == 1
    assert isinstance(m2, nn.Decorator) and repr(m2).startswith('nn.Inception @ nn.DepthConcat')
    assert m2.pool is m2.modules[0].modules[2].modules[0]      # one object, as in Lua's file
    x = rnd(2, 4, 6, 6)
    np.testing.assert_array_equal(m2.forward(x).numpy(), m.forward(x).numpy())
    # as dpnn's constructor leaves it in Lua: no `train` fields, an empty reduceStride table, no dpnn_online
    torch.manualSeed(3)
    lua = nn.Inception(CONFIGS['openface_3a']()).double()      # m's weights
    for k in lua.listModules():
        del k.__dict__['train']
    lua.reduceStride = {}
    lua2 = roundtrip(lua, tmp_path)
    assert lua2.train is True and 'dpnn_online' not in lua2.__dict__
    np.testing.assert_array_equal(lua2.forward(x).numpy(), m.forward(x).numpy())


def test_inception_errors():
    with pytest.raises(ValueError, match='lacks reduceSize'):
        nn.Inception({'inputSize': 3, 'outputSize': [4, 2]})
    with pytest.raises(TypeError, match='config dict'):
        nn.Inception(3)
    m = nn.Inception(CONFIGS['default']())
    with pytest.raises(ValueError, match='3-D'):
        m.forward(np.zeros((3, 9), dtype=np.float32))


def make_small():
    torch.manualSeed(4)
    return nn.Inception({'inputSize': 2, 'outputSize': [2, 1], 'reduceSize': [1, 1, 1, 1],
                         'pool': nn.SpatialMaxPooling(3, 3, 1, 1, 1, 1)})


@pytest.mark.gpu
def test_inception_gpu():
    check_gpu(make_small().float(), make_small().cuda(), rnd(2, 2, 7, 7))

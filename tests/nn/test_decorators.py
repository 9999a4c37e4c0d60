"""The decorators of luatorch_py/nn/decorators.py: Decorator, Bottle, WeightNorm, DontCast, GPU, NaN, Profile."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.serialization import classes

from nn_helpers import J, TOL, D, check_gpu_made, check_params, check_reloads, rnd, roundtrip


def T(a):
    return torch.DoubleTensor(np.asarray(a, dtype=np.float64))


# -- Decorator -------------------------------------------------------------------------------------------------------
def test_decorator(tmp_path):
    lin = nn.Linear(4, 3)
    m = nn.Decorator(lin).double()
    x = T(rnd(2, 4))
    y = m.forward(x)
    np.testing.assert_allclose(y.numpy(), x.numpy() @ lin.weight.numpy().T + lin.bias.numpy(), rtol=1e-14)
    assert m.parameters()[0][0] is lin.weight and repr(m) == 'nn.Decorator @ nn.Linear(4 -> 3)'
    check_params(m, D(2, 4))
    m2 = check_reloads(m, x, tmp_path)
    assert isinstance(m2.modules[0], nn.Linear)
    with pytest.raises(TypeError, match='nn module'):
        nn.Decorator(3)


# -- Bottle ----------------------------------------------------------------------------------------------------------
def test_bottle_linear(tmp_path):
    lin = nn.Linear(5, 2)
    m = nn.Bottle(lin).double()
    x = rnd(3, 4, 5)
    y = m.forward(T(x)).numpy()
    assert y.shape == (3, 4, 2)
    for i in range(3):
        for j in range(4):
            np.testing.assert_allclose(y[i, j], lin.weight.numpy() @ x[i, j] + lin.bias.numpy(), rtol=1e-13)
    assert m.inShape.numpy().tolist() == [12, 5] and m.outShape.numpy().tolist() == [12, 2]
    np.testing.assert_allclose(m.forward(T(x[0])).numpy(), y[0], rtol=1e-14)      # nInputDim dims: no folding
    check_params(m, D(3, 4, 5))
    check_params(m, D(2, 3, 4, 5))
    m2 = check_reloads(m, T(x), tmp_path)
    assert (m2.nInputDim, m2.nOutputDim, m2.dimDelta) == (2, 2, 0)
    with pytest.raises(ValueError, match='nn.Bottle.*not contiguous'):
        m.forward(T(rnd(5, 4, 3)).transpose(0, 2))


def test_bottle_fewer_output_dims():
    m = nn.Bottle(nn.Max(1), 2, 1).double()            # (n, k) -> (n,)
    x = rnd(3, 4, 5)
    np.testing.assert_array_equal(m.forward(T(x)).numpy(), x.max(axis=2))
    assert J.testJacobian(m, D(3, 4, 5)) < TOL
    with pytest.raises(ValueError, match='wrong number of output dims'):
        nn.Bottle(nn.Max(1), 2, 2).forward(torch.Tensor(3, 4, 5))


# -- WeightNorm ------------------------------------------------------------------------------------------------------
def _wn_weight(v, g, shape, od):
    n = v.shape[0]
    w2 = np.zeros_like(v)
    for i in range(n):
        norm = np.sqrt(sum(e * e for e in v[i]) + 1e-4)
        w2[i] = g[i] * v[i] / norm
    return np.moveaxis(w2.reshape((shape[od],) + tuple(s for k, s in enumerate(shape) if k != od)), 0, od)


def test_weight_norm_reset_and_output():
    torch.manualSeed(4)
    m = nn.WeightNorm(nn.Linear(5, 3))
    after = torch.uniform()
    torch.manualSeed(4)                     # Linear's reset, then v drawn N(0, sqrt(2 / 5)), as Torch7
    nn.Linear(5, 3)
    v = torch.Tensor(3, 5).normal(0, np.sqrt(2 / 5)).numpy()
    assert torch.uniform() == after
    np.testing.assert_array_equal(m.v.numpy(), v)
    np.testing.assert_allclose(m.g.numpy(), np.sqrt((v * v).sum(1)), rtol=1e-6)
    assert not m.bias.numpy().any() and m.bias is m.modules[0].bias
    m.double()
    m.g.copy(T(rnd(3, seed=1)))
    x = rnd(4, 5)
    y = m.forward(T(x)).numpy()
    w = _wn_weight(m.v.numpy(), m.g.numpy(), (3, 5), 0)
    np.testing.assert_allclose(m.weight.numpy(), w, rtol=1e-13)
    np.testing.assert_allclose(y, x @ w.T, rtol=1e-13)
    assert m.weight is m.modules[0].weight


@pytest.mark.parametrize('make, od, shape', [
    (lambda: nn.Linear(5, 3), 0, (4, 5)),
    (lambda: nn.Linear(5, 3), 1, (4, 5)),
    (lambda: nn.SpatialConvolution(2, 3, 3, 3), 0, (2, 2, 5, 5)),
    (lambda: nn.SpatialConvolution(2, 3, 3, 3), 1, (2, 2, 5, 5)),
])
def test_weight_norm_gradients(make, od, shape):
    m = nn.WeightNorm(make(), od).double()
    m.g.copy(T(rnd(m.g.size(0), seed=2)))
    m.bias.copy(T(rnd(m.bias.size(0), seed=3)))
    check_params(m, D(*shape), update=False)
    # gradV and gradG accumulate: two backwards of the same gradOutput give twice one
    x, go = T(rnd(*shape)), None
    y = m.forward(x)
    go = T(rnd(*y.numpy().shape, seed=4))
    m.zeroGradParameters()
    m.backward(x, go)
    once = [g.numpy().copy() for g in m.parameters()[1]]
    m.backward(x, go)
    for a, b in zip(once, m.parameters()[1]):
        np.testing.assert_allclose(b.numpy(), 2 * a, rtol=1e-12, atol=1e-14)


def test_weight_norm_file_layout_and_reload(tmp_path):
    m = nn.WeightNorm(nn.Linear(5, 3), 1).double()
    x = T(rnd(4, 5))
    f = classes.lua_fields(m)
    assert 'weight' not in f and 'gradWeight' not in f and f['outputDim'] == 2
    inner = f['modules'][0].__dict__
    assert 'weight' not in inner and 'gradWeight' not in inner and 'bias' in inner
    assert list(f['weightSize']) == [3, 5] and list(f['viewIn']) == [5, 3] and list(f['viewOut']) == [5, 3]
    assert 'weight' in m.modules[0].__dict__           # the module itself keeps them
    m.forward(x)
    m2 = check_reloads(m, x, tmp_path, rtol=1e-14)
    np.testing.assert_allclose(m2.modules[0].weight.numpy(), m.weight.numpy(), rtol=1e-14)   # rebuilt on load
    assert m2.weight is m2.modules[0].weight and m2.bias is m2.modules[0].bias
    m2.evaluate()
    np.testing.assert_allclose(m2.forward(x).numpy(), m.forward(x).numpy(), rtol=1e-14)


def test_weight_norm_file_has_the_buffers_lua_reads():
    # Lua's WeightNorm:read calls updateWeight, which writes self._norm and copies g into self._scale: without them
    # (fields starting with `_` are not written) Lua failed to load every WeightNorm saved here
    m = nn.WeightNorm(nn.SpatialConvolution(2, 3, 3, 3), 1).double()
    m.forward(T(rnd(2, 2, 5, 5)))
    f = classes.lua_fields(m)
    for k in ('_norm', '_scale'):
        assert type(f[k]) is torch.DoubleTensor and f[k].shape == (2,), k     # g's size (viewIn[1])
    assert m.float().g.nElement() == classes.lua_fields(m)['_scale'].nElement() == 2
    assert type(classes.lua_fields(m)['_scale']) is torch.FloatTensor
    back = torch.deserialize(torch.serialize(m))
    assert '_norm' not in back.__dict__ and '_scale' not in back.__dict__     # Lua's buffers: dropped on loading


def test_weight_norm_parameters_are_v_g_and_bias():
    m = nn.WeightNorm(nn.Linear(4, 2))
    p, g = m.parameters()
    assert [id(t) for t in p] == [id(m.v), id(m.g), id(m.modules[0].bias)]
    assert [id(t) for t in g] == [id(m.gradV), id(m.gradG), id(m.modules[0].gradBias)]
    m = nn.WeightNorm(nn.Linear(4, 2).noBias())
    p, g = m.parameters()
    assert [id(t) for t in p] == [id(m.v), id(m.g)] and [id(t) for t in g] == [id(m.gradV), id(m.gradG)]


def test_weight_norm_training_through_flat_parameters():
    torch.manualSeed(1)
    m = nn.WeightNorm(nn.Linear(4, 2)).float().double()         # a conversion keeps weight/bias the module's own
    assert m.weight is m.modules[0].weight and m.bias is m.modules[0].bias
    p, g = m.getParameters()
    assert p.nElement() == 2 * 4 + 2 + 2
    x, go = T(rnd(3, 4)), T(rnd(3, 2, seed=1))
    m.zeroGradParameters()
    m.forward(x)
    m.backward(x, go)
    before = p.numpy().copy()
    p.add(-0.1, g)
    np.testing.assert_allclose(m.v.numpy().reshape(-1), (before - 0.1 * g.numpy())[:8], rtol=1e-14)
    m.bias.fill(0.25)
    assert m.forward(x).numpy()[0, 0] == pytest.approx(
        float(x.numpy()[0] @ _wn_weight(m.v.numpy(), m.g.numpy(), (2, 4), 0)[0]) + 0.25, rel=1e-12)
    with pytest.raises(TypeError, match='no weight'):
        nn.WeightNorm(nn.Tanh())


# -- DontCast, GPU, NaN, Profile -------------------------------------------------------------------------------------
def test_dont_cast():
    lin = nn.Linear(4, 3).double()
    m = nn.DontCast(lin, True)
    assert m.moduleType == 'torch.DoubleTensor'
    m.float()
    assert lin.weight.type() == 'torch.DoubleTensor'              # the module is not converted
    x = rnd(2, 4).astype(np.float32)
    y = m.forward(torch.FloatTensor(x))
    assert y.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(y.numpy(), x @ lin.weight.numpy().T + lin.bias.numpy(), rtol=1e-6)
    m.zeroGradParameters()      # (gradients start uninitialized, as Torch7's)
    gi = m.backward(torch.FloatTensor(x), torch.FloatTensor(np.ones((2, 3), np.float32)))
    assert gi.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(gi.numpy(), np.ones((2, 3)) @ lin.weight.numpy(), rtol=1e-6)
    np.testing.assert_allclose(lin.gradBias.numpy(), [2, 2, 2])
    plain = nn.DontCast(nn.Linear(4, 3).double())
    plain.float()
    assert plain.modules[0].weight.type() == 'torch.DoubleTensor' and plain.moduleType is None
    with pytest.raises(ValueError, match='moduleType'):
        nn.DontCast(nn.ConcatTable(), True)       # output an empty table, no parameters


def test_gpu_decorator(tmp_path):
    lin = nn.Linear(4, 3).double()
    m = nn.GPU(lin, 0)
    x = T(rnd(2, 4))
    assert m.forward(x) is lin.output and repr(m) == 'nn.GPU(0) @ nn.Linear(4 -> 3)'
    f = classes.lua_fields(m)
    assert f['device'] == 1 and f['outdevice'] == 1                # Lua's cutorch counts devices from 1
    m2 = check_reloads(m, x, tmp_path)
    assert (m2.device, m2.outdevice) == (0, 0)
    # Torch7's GPU:write: a header table {_type, device} (Lua's 1-based device) before the fields table
    lines = torch.serialize(nn.GPU(nn.Tanh().double(), 2), 'ascii').decode().split('\n')
    at = lines.index('nn.GPU')
    assert lines[at + 1:at + 13] == ['3', '2', '2', '1', '1', '2', '18', 'torch.DoubleTensor', '1', '2', '1', '3']
    assert torch.deserialize(torch.serialize(nn.GPU(nn.Tanh(), 2))).device == 2
    with pytest.raises(NotImplementedError, match='nn.GPU'):
        m.accUpdateGradParameters(x, T(rnd(2, 3)), 0.1)
    check_params(m, D(2, 4), update=False)
    with pytest.raises(ValueError, match='0-based device'):
        nn.GPU(lin, -1)


def test_nan_decorator(tmp_path):
    m = nn.NaN(nn.Log(), 7).double()
    assert repr(m) == 'nn.NaN(7) @ nn.Log'
    x = T([1.0, 2.0])
    np.testing.assert_allclose(m.forward(x).numpy(), np.log([1, 2]))
    with pytest.raises(FloatingPointError, match='NaN found in output'), np.errstate(invalid='ignore'):
        m.forward(T([-1.0]))
    with pytest.raises(FloatingPointError, match='NaN found in input'):
        m.forward(T([np.nan]))
    m.forward(x)
    with pytest.raises(FloatingPointError, match='NaN found in gradOutput'):
        m.backward(x, T([np.nan, 1.0]))
    a, b = nn.NaN(nn.Tanh()), nn.NaN(nn.Tanh())
    assert b.id == a.id + 1
    lin = nn.Linear(2, 2).double()
    lin.weight.fill(np.nan)
    with pytest.raises(FloatingPointError, match='NaN found in parameters'):
        nn.NaN(lin).forward(T([1.0, 2.0]))
    assert check_reloads(m, x, tmp_path).id == 7


def test_nan_decorator_numpy_input():
    # a numpy input was never checked: its NaN was reported as one of the output
    m = nn.NaN(nn.Linear(2, 2)).double()
    with pytest.raises(FloatingPointError, match='^NaN found in input of module'):
        m.forward(np.array([[np.nan, 1.0]]))
    m.forward(np.array([[1.0, 2.0]]))
    with pytest.raises(FloatingPointError, match='^NaN found in gradOutput of module'):
        m.backward(np.array([[1.0, 2.0]]), np.array([[np.nan, 1.0]]))
    with pytest.raises(FloatingPointError, match='^NaN found in input of module'):
        nn.NaN(nn.CAddTable()).forward([np.array([np.nan]), T([1.0])])
    np.testing.assert_array_equal(nn.NaN(nn.Identity()).forward(np.array([1, 2])).numpy(), [1, 2])

def test_profile(capsys, tmp_path):
    m = nn.Profile(nn.Tanh(), 2).double()
    x = T(rnd(3))
    m.forward(x)
    assert capsys.readouterr().out == ''
    m.forward(x)
    out = capsys.readouterr().out
    assert 'nn.Tanh took ' in out and 'seconds for 2 forward passes' in out and m.numFwds == 0
    assert m.summedFwdTime == 0 and m.numBwds == 0
    m.backward(x, x)
    m.backward(x, x)
    assert 'seconds for 2 backward passes' in capsys.readouterr().out
    assert m.module is m.modules[0]
    m2 = roundtrip(m, tmp_path)
    assert m2.module is m2.modules[0] and m2.name == 'nn.Tanh'


# -- CUDA (fakecupy on CPU) ------------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize('make, shape', [
    (lambda: nn.Bottle(nn.Linear(5, 2)), (3, 4, 5)),
    (lambda: nn.WeightNorm(nn.Linear(5, 3)), (4, 5)),
    (lambda: nn.WeightNorm(nn.SpatialConvolution(2, 3, 3, 3), 1), (2, 2, 5, 5)),
    (lambda: nn.Decorator(nn.Linear(5, 3)), (4, 5)),
    (lambda: nn.NaN(nn.Linear(5, 3)), (4, 5)),
    (lambda: nn.GPU(nn.Linear(5, 3), 0), (4, 5)),
])
def test_gpu_matches_cpu(make, shape):
    check_gpu_made(make, rnd(*shape))


def test_dont_cast_reloads(tmp_path):
    m = nn.DontCast(nn.Linear(4, 3).double(), True)
    m2 = check_reloads(m, T(rnd(2, 4)), tmp_path)
    assert (m2.castin, m2.castout, m2.moduleType) == (True, True, 'torch.DoubleTensor')


@pytest.mark.gpu
def test_gpu_dont_cast_keeps_a_cpu_module_in_a_cuda_net():
    torch.manualSeed(3)
    lin = nn.Linear(4, 3).float()
    net = nn.Sequential().add(nn.Tanh()).add(nn.DontCast(lin, True)).add(nn.Tanh())
    net.cuda()
    assert lin.weight.type() == 'torch.FloatTensor'
    x = rnd(2, 4)
    y = net.forward(torch.FloatTensor(x.astype(np.float32)).cuda())
    assert y.type() == 'torch.CudaTensor'
    np.testing.assert_allclose(y.float().numpy(), np.tanh(np.tanh(x) @ lin.weight.numpy().T + lin.bias.numpy()),
                               rtol=1e-5)
    gi = net.backward(torch.FloatTensor(x.astype(np.float32)).cuda(),
                      torch.FloatTensor(np.ones((2, 3), np.float32)).cuda())
    assert gi.type() == 'torch.CudaTensor' and lin.gradWeight.type() == 'torch.FloatTensor'


def test_weight_norm_loads_torch7_layout_after_training(tmp_path):
    # after a training forward Torch7's gradV has the weight's layout with outputDim first (viewOut), not v's
    m = nn.WeightNorm(nn.SpatialConvolution(2, 3, 3, 3), 1).double()
    x = T(rnd(2, 2, 5, 5))
    m.forward(x)
    m.backward(x, T(rnd(2, 3, 3, 3, seed=1)))
    gv2 = m.gradV.numpy().copy()
    m.gradV = m.gradV.view(2, 3, 3, 3)                 # viewOut: (nInputPlane, nOutputPlane, kH, kW)
    m2 = check_reloads(m, x, tmp_path, rtol=1e-14)
    np.testing.assert_allclose(m2.forward(x).numpy(), m.forward(x).numpy(), rtol=1e-14)
    # the module's gradWeight is rebuilt from gradV, laid out as the weight (Torch7's read)
    np.testing.assert_array_equal(np.moveaxis(m2.modules[0].gradWeight.numpy(), 1, 0).reshape(2, -1), gv2)
    m2.zeroGradParameters()
    m2.forward(x)
    m2.backward(x, T(rnd(2, 3, 3, 3, seed=1)))
    np.testing.assert_allclose(m2.gradV.numpy().reshape(2, -1), gv2, rtol=1e-12)


def test_decorate_gives_a_class_the_forwarding_methods():
    class Wrap(nn.Sequential):                 # a user's container decorating its first module
        __torch_name__ = 'test.Wrap'
    nn.Decorator.decorate(Wrap)
    w = Wrap().add(nn.Linear(3, 2).double())
    x = T(rnd(4, 3))
    np.testing.assert_array_equal(w.forward(x).numpy(), w.modules[0].output.numpy())
    assert repr(w) == 'test.Wrap @ nn.Linear(3 -> 2)'


def test_bottle_after_a_cpu_convolution_with_a_batch_of_16():
    """A CPU convolution hands its next module a batch-last activation from a batch of 16 (nn/_layout.py); Bottle
    views its input as Torch7's does (and refuses a non-contiguous one), so a Sequential gives it Torch7's layout,
    where Lua's [SpatialConvolution, ReLU, Bottle] runs."""
    torch.manualSeed(4)
    net = nn.Sequential().add(nn.SpatialConvolution(2, 3, 3, 3)).add(nn.ReLU()).add(nn.Bottle(nn.Linear(6, 2), 2))
    net.double()
    x = torch.DoubleTensor(np.random.default_rng(2).standard_normal((16, 2, 8, 8)))
    y = net.forward(x)
    relu = net.get(1).output.numpy()
    lin = net.get(2).modules[0]
    want = relu.reshape(-1, 6) @ lin.weight.numpy().T + lin.bias.numpy()
    np.testing.assert_allclose(y.numpy(), want.reshape(16, 3, 6, 2), rtol=1e-12, atol=1e-12)
    assert net.backward(x, torch.DoubleTensor(np.ones((16, 3, 6, 2)))).size() == x.size()

"""torch/nn's small modules of luatorch_py/nn/misc.py: L1Penalty, MaskedSelect, Index, Collapse, Constant,
GradientReversal, CReLU, GatedLinearUnit, LayerNormalization, Maxout, OneHot, ZeroGrad, WhiteNoise, PrintSize, MV."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.serialization import classes

from nn_helpers import (J, TOL, D, check_gpu_made, check_params, check_reloads, check_steady_state, rnd,
                        roundtrip, shares)


def T(a):
    return torch.DoubleTensor(np.asarray(a, dtype=np.float64))


def relu(a):
    return np.maximum(a, 0)


def sig(a):
    return 1 / (1 + np.exp(-a))


# -- L1Penalty -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('size_average', [False, True])
def test_l1penalty_values_and_gradient(size_average):
    m = nn.L1Penalty(0.3, size_average).double()
    x = T(rnd(3, 4))
    assert m.forward(x) is x
    w = 0.3 / 12 if size_average else 0.3
    want = 0.0
    for v in x.numpy().reshape(-1):
        want += abs(v)
    assert m.loss == pytest.approx(w * want, rel=1e-14)
    g = rnd(3, 4, seed=1)
    gi = m.backward(x, T(g)).numpy()
    np.testing.assert_allclose(gi, g + w * np.sign(x.numpy()), rtol=1e-14)
    # gradInput is the gradient of loss + <output, gradOutput> (checked by central differences)
    xa = x.numpy()
    eps = 1e-6
    for i in range(3):
        for j in range(4):
            vals = []
            for d in (eps, -eps):
                xa[i, j] += d
                m.forward(x)
                vals.append(m.loss + float((xa * g).sum()))
                xa[i, j] -= d
            assert (vals[0] - vals[1]) / (2 * eps) == pytest.approx(gi[i, j], abs=1e-6)


def test_l1penalty_without_output_gradient(tmp_path):
    m = nn.L1Penalty(2, False, False).double()
    x = T(rnd(5))
    m.forward(x)
    np.testing.assert_array_equal(m.backward(x, T(rnd(5, seed=2))).numpy(), 2 * np.sign(x.numpy()))
    m2 = check_reloads(m, x, tmp_path)
    assert (m2.l1weight, m2.sizeAverage, m2.provideOutput) == (2, False, False)


# -- MaskedSelect, Index (index/mask fed through a Constant so Jacobian only moves the values) -----------------------
def test_masked_select_values_and_gradient(tmp_path):
    x = rnd(3, 4)
    mask = (rnd(3, 4, seed=1) > 0).astype(np.uint8)
    m = nn.MaskedSelect().double()
    y = m.forward([T(x), torch.ByteTensor(mask)]).numpy()
    want = [x[i, j] for i in range(3) for j in range(4) if mask[i, j]]
    np.testing.assert_array_equal(y, want)
    g = rnd(len(want), seed=2)
    gx, gm = m.backward([T(x), torch.ByteTensor(mask)], T(g))
    k = 0
    for i in range(3):
        for j in range(4):
            if mask[i, j]:
                assert gx.numpy()[i, j] == g[k]
                k += 1
            else:
                assert gx.numpy()[i, j] == 0
    assert gm.size() == (3, 4) and not gm.numpy().any()
    net = nn.Sequential().add(nn.ConcatTable().add(nn.Identity()).add(nn.Constant(T(mask)))).add(nn.MaskedSelect())
    assert J.testJacobian(net.double(), D(3, 4)) < TOL
    check_reloads(m, [T(x), torch.ByteTensor(mask)], tmp_path)
    with pytest.raises(ValueError, match='mask of size'):
        m.forward([T(x), torch.ByteTensor(np.ones(5, dtype=np.uint8))])


@pytest.mark.parametrize('dim', [0, 1, 2, -1])
def test_index_values_and_gradient(dim, tmp_path):
    x = rnd(3, 4, 5)
    idx = [2, 0, 2]
    m = nn.Index(dim).double()
    y = m.forward([T(x), torch.LongTensor(idx)]).numpy()
    d = dim % 3
    want = np.zeros(x.shape[:d] + (3,) + x.shape[d + 1:])
    for k, i in enumerate(idx):
        sl = [slice(None)] * 3
        sl[d] = k
        src = [slice(None)] * 3
        src[d] = i
        want[tuple(sl)] = x[tuple(src)]
    np.testing.assert_array_equal(y, want)
    g = rnd(*want.shape, seed=3)
    gx, gi = m.backward([T(x), torch.LongTensor(idx)], T(g))
    gwant = np.zeros_like(x)
    for k, i in enumerate(idx):          # repeated indices add up
        sl = [slice(None)] * 3
        sl[d] = k
        dst = [slice(None)] * 3
        dst[d] = i
        gwant[tuple(dst)] += g[tuple(sl)]
    np.testing.assert_allclose(gx.numpy(), gwant, rtol=1e-15)
    assert gi.size() == (3,) and not gi.numpy().any()
    net = nn.Sequential().add(nn.ConcatTable().add(nn.Identity()).add(nn.Constant(T(idx)))).add(nn.Index(dim))
    assert J.testJacobian(net.double(), D(3, 4, 5)) < TOL
    m2 = check_reloads(m, [T(x), torch.LongTensor(idx)], tmp_path)
    assert m2.dimension == dim
    assert classes.lua_fields(m)['dimension'] == (dim + 1 if dim >= 0 else dim)     # Lua's 1-based dim in files


def test_index_errors():
    m = nn.Index(0)
    with pytest.raises(IndexError, match=r'in \[0, 3\)'):
        m.forward([torch.Tensor(3, 2), torch.LongTensor([3])])
    with pytest.raises(TypeError, match='list'):
        m.forward(torch.Tensor(3))
    with pytest.raises(TypeError, match=r'nn.Index.*expected index to be a tensor or a numpy array, got list'):
        m.forward([torch.Tensor(3, 2), [0]])
    with pytest.raises(TypeError, match=r'nn.MaskedSelect.*expected the mask \(input\[1\]\) to be a tensor or a '
                                        r'numpy array, got list'):
        nn.MaskedSelect().forward([torch.Tensor(2), [1, 0]])


# -- Collapse, Constant ----------------------------------------------------------------------------------------------
def test_collapse(tmp_path):
    m = nn.Collapse(2).double()
    x = T(rnd(3, 4, 5))
    y = m.forward(x)
    assert y.size() == (3, 20) and shares(y, x)
    np.testing.assert_array_equal(y.numpy(), x.numpy().reshape(3, 20))
    assert m.forward(T(rnd(4, 5))).size() == (20,)
    xt = x.transpose(0, 2)                # not contiguous: a copy
    np.testing.assert_array_equal(m.forward(xt).numpy(), np.ascontiguousarray(xt.numpy()).reshape(5, 12))
    gi = m.backward(xt, T(rnd(5, 12)))
    assert gi.size() == (5, 4, 3)
    assert J.testJacobian(m, D(3, 4, 5)) < TOL
    check_reloads(m, x, tmp_path)


def test_constant(tmp_path):
    m = nn.Constant(2.5)
    assert m.value.type() == torch.getdefaulttensortype() and m.value.size() == (1,)
    m.double()
    x = T(rnd(3, 4))
    np.testing.assert_array_equal(m.forward(x).numpy(), [2.5])
    assert not m.backward(x, T([1.0])).numpy().any() and m.gradInput.size() == (3, 4)
    v = rnd(2, 2)
    mb = nn.Constant(T(v), 1).double()
    y = mb.forward(x)                       # 2-D input, nInputDim 1: a batch of 3
    assert y.size() == (3, 2, 2)
    for i in range(3):
        np.testing.assert_array_equal(y.numpy()[i], v)
    np.testing.assert_array_equal(mb.forward(T(rnd(4))).numpy(), v)
    m2 = check_reloads(mb, x, tmp_path)
    assert m2.nInputDim == 1
    with pytest.raises(TypeError, match='number or a tensor'):
        nn.Constant('a')


# -- GradientReversal ------------------------------------------------------------------------------------------------
def test_gradient_reversal(tmp_path, monkeypatch):
    m = nn.GradientReversal(0.7).double()
    x = T(rnd(3, 4))
    assert m.forward(x) is x
    g = rnd(3, 4, seed=1)
    np.testing.assert_allclose(m.backward(x, T(g)).numpy(), -0.7 * g, rtol=1e-15)
    assert getattr(nn.GradientReversal(), 'lambda') == 1
    m.setLambda(-2)
    np.testing.assert_allclose(m.backward(x, T(g)).numpy(), 2 * g, rtol=1e-15)
    assert getattr(check_reloads(m, x, tmp_path), 'lambda') == -2
    assert classes.version_of(m) == 2
    # a file of version 1 (before lambda) loads with lambda = 1, as Torch7's read
    monkeypatch.setattr(nn.GradientReversal, '__torch_version__', 1)
    del m.__dict__['lambda']
    m2 = roundtrip(m, tmp_path)
    assert getattr(m2, 'lambda') == 1


# -- CReLU -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('n_in, shape', [(1, (5,)), (1, (3, 5)), (3, (2, 3, 4)), (3, (2, 2, 3, 4))])
def test_crelu(n_in, shape, tmp_path):
    m = nn.CReLU(n_in).double()
    x = rnd(*shape)
    y = m.forward(T(x)).numpy()
    batched = len(shape) == n_in + 1
    ax = 1 if batched else 0
    # loop reference: relu(x) then relu(-x), along the feature dim
    want = np.zeros(y.shape)
    n = shape[ax]
    for idx in np.ndindex(*shape):
        j = list(idx)
        want[tuple(j)] = max(x[idx], 0)
        j[ax] += n
        want[tuple(j)] = max(-x[idx], 0)
    np.testing.assert_array_equal(y, want)
    assert J.testJacobian(m, D(*shape)) < TOL
    assert repr(m) == 'CReLU()'
    m2 = check_reloads(m, T(x), tmp_path)
    assert m2.nInputDims == n_in and m2.inplace is False and len(m2.modules) == 3


def test_crelu_forward_after_get_parameters():
    """getParameters keeps its record in the module's ``_flat``: CReLU's own helper of that name was shadowed by it
    (the next forward called None)."""
    m = nn.CReLU(1)
    p, g = m.getParameters()
    assert p.nElement() == 0 and g.nElement() == 0
    x = np.array([[1.0, -2.0], [-3.0, 4.0]])
    np.testing.assert_array_equal(m.forward(T(x)).numpy(), [[1, 0, 0, 2], [0, 4, 3, 0]])


@pytest.mark.parametrize('shape', [(0, 4), (0,)])
def test_crelu_empty_input_names_the_module(shape):
    # view's error before: "view: cannot view a torch.DoubleTensor of size empty (0 elements) as 0x-1"
    m = nn.CReLU(1)
    size = ', '.join(map(str, shape))
    for call in (lambda x: m.forward(x), lambda x: m.backward(x, x)):
        with pytest.raises(ValueError, match=rf'^CReLU\(\): got an empty input \(size \[{size}\]\)'):
            call(D(*shape))
    np.testing.assert_array_equal(m.forward(T(np.array([[1.0, -2.0]]))).numpy(), [[1, 0, 0, 2]])

# -- GatedLinearUnit -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('dim, shape', [(None, (3, 6)), (0, (4, 3)), (1, (2, 4, 3)), (None, (8,))])
def test_gated_linear_unit(dim, shape, tmp_path):
    m = nn.GatedLinearUnit(dim).double()
    x = rnd(*shape)
    y = m.forward(T(x)).numpy()
    d = len(shape) - 1 if dim is None else dim
    h = shape[d] // 2
    want = np.zeros(y.shape)
    for idx in np.ndindex(*y.shape):
        b = list(idx)
        b[d] += h
        want[idx] = x[idx] * sig(x[tuple(b)])
    np.testing.assert_allclose(y, want, rtol=1e-14)
    assert J.testJacobian(m, D(*shape)) < TOL
    check_reloads(m, T(x), tmp_path)
    if dim is not None:
        assert classes.lua_fields(m)['dim'] == dim + 1
    with pytest.raises(ValueError, match='even size'):
        nn.GatedLinearUnit().forward(torch.Tensor(3, 5))


# -- LayerNormalization, Maxout --------------------------------------------------------------------------------------
def test_layer_normalization(tmp_path):
    torch.manualSeed(3)
    m = nn.LayerNormalization(5, 0.5).double()
    after = torch.uniform()
    torch.manualSeed(3)                # reset order: Add's bias then CMul's weight drawn (then filled), as Torch7
    nn.Add(5, False)
    nn.CMul(5)
    assert torch.uniform() == after
    v = rnd(5, seed=9)                 # one example (1-D): each element minus the mean, over the 2-norm
    c = v - v.mean()
    want = c / np.sqrt((c * c).sum() + 1e-10) * np.sqrt(5) + 0.5
    np.testing.assert_allclose(m.forward(T(v)).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(m.forward(T(v[None])).numpy()[0], want, rtol=1e-12)      # a batch of one: right too
    # a batch: Torch7's module subtracts the means laid out as Replicate's (5 x 4) output read in memory order,
    # i.e. element k of the batch minus mean[k % 4] (a Torch7 bug, reproduced: files give Torch7's numbers)
    x = rnd(4, 5)
    y = m.forward(T(x)).numpy()
    means = [x[i].mean() for i in range(4)]
    flat = x.reshape(-1).copy()
    for k in range(flat.size):
        flat[k] -= means[k % 4]
    c = flat.reshape(4, 5)
    for i in range(4):
        want = c[i] / np.sqrt((c[i] * c[i]).sum() + 1e-10) * np.sqrt(5) + 0.5
        np.testing.assert_allclose(y[i], want, rtol=1e-12)
    m.get(4).weight.copy(T(rnd(5, seed=1)))
    check_params(m, D(4, 5))
    m2 = check_reloads(m, T(x), tmp_path)
    assert [c.__torch_name__ for c in m2.modules] == ['nn.ConcatTable', 'nn.CSubTable', 'nn.Normalize',
                                                       'nn.MulConstant', 'nn.CMul', 'nn.Add']
    assert len(nn.LayerNormalization(5, affine=False).modules) == 4


def test_maxout(tmp_path):
    torch.manualSeed(5)
    m = nn.Maxout(4, 3, 2).double()
    lin = m.get(0)
    x = rnd(6, 4)
    y = m.forward(T(x)).numpy()
    z = x @ lin.weight.numpy().T + lin.bias.numpy()
    for i in range(6):
        for j in range(3):
            assert y[i, j] == max(z[i, k * 3 + j] for k in range(2))
    check_params(m, D(6, 4))
    check_reloads(m, T(x), tmp_path)
    assert isinstance(nn.Maxout(4, 3, 2, nn.Tanh()).get(2), nn.Tanh)


# -- OneHot, ZeroGrad, WhiteNoise, PrintSize -------------------------------------------------------------------------
def test_one_hot(tmp_path):
    m = nn.OneHot(5).double()
    idx = [[0, 4], [2, 1]]
    y = m.forward(torch.LongTensor(idx)).numpy()
    assert y.shape == (2, 2, 5)
    for i in range(2):
        for j in range(2):
            for k in range(5):
                assert y[i, j, k] == (1 if k == idx[i][j] else 0)
    np.testing.assert_array_equal(m.forward(T([3.0])).numpy(), [[0, 0, 0, 1, 0]])     # integral floats accepted
    np.testing.assert_array_equal(m.forward(2).numpy(), [0, 0, 1, 0, 0])
    assert m.backward(torch.LongTensor(idx), T(y)).size() == (2, 2)
    assert m.updateGradInput(2, None) == 0
    with pytest.raises(IndexError, match=r'\[0, 5\)'):
        m.forward(torch.LongTensor([5]))
    with pytest.raises(ValueError, match='integers'):
        m.forward(T([1.5]))
    check_reloads(m, torch.LongTensor(idx), tmp_path)


def test_zero_grad(tmp_path):
    m = nn.ZeroGrad().double()
    x = T(rnd(3, 4))
    assert m.forward(x) is x
    gi = m.backward(x, T(rnd(3, 4)))
    assert gi.size() == (3, 4) and not gi.numpy().any()
    tab = [T(rnd(2)), [T(rnd(3))]]
    assert m.forward(tab) is tab
    gt = m.backward(tab, tab)
    assert gt[0].size() == (2,) and gt[1][0].size() == (3,) and not gt[1][0].numpy().any()
    check_reloads(m, x, tmp_path)


def test_white_noise(tmp_path):
    m = nn.WhiteNoise(0.5, 2).double()
    x = rnd(3, 4)
    torch.manualSeed(7)
    y = m.forward(T(x)).numpy().copy()
    torch.manualSeed(7)
    noise = torch.DoubleTensor(3, 4).normal(0.5, 2).numpy()        # the same draws from the global stream
    np.testing.assert_array_equal(m.noise.numpy(), noise)
    np.testing.assert_allclose(y, x + noise, rtol=1e-15)
    g = rnd(3, 4, seed=1)
    np.testing.assert_array_equal(m.backward(T(x), T(g)).numpy(), g)
    m.evaluate()
    np.testing.assert_allclose(m.forward(T(x)).numpy(), x + 0.5, rtol=1e-15)
    with pytest.raises(RuntimeError, match='only defined while training'):
        m.backward(T(x), T(g))
    assert repr(m) == 'nn.WhiteNoise mean: 0.500000, std: 2.000000'
    check_reloads(m, T(x), tmp_path)
    assert nn.WhiteNoise().std == 0.1


def test_white_noise_clear_state_empties_the_noise(tmp_path):
    # Torch7's WhiteNoise:clearState empties the noise (a model saved after it does not carry the last batch's)
    m = nn.WhiteNoise(0, 1).double()
    m.forward(T(rnd(30, 40)))
    m.clearState()
    assert m.noise.nElement() == 0
    assert roundtrip(m, tmp_path).noise.nElement() == 0
    x = rnd(2, 3)
    torch.manualSeed(4)
    y = m.forward(T(x)).numpy()
    torch.manualSeed(4)
    np.testing.assert_allclose(y, x + torch.DoubleTensor(2, 3).normal(0, 1).numpy(), rtol=1e-15)


def test_print_size(capsys, tmp_path):
    m = nn.PrintSize('here')
    x = torch.Tensor(2, 3)
    assert m.forward(x) is x
    g = torch.Tensor(2, 3)
    assert m.backward(x, g) is g
    out = capsys.readouterr().out
    assert 'here:input\n\t[2, 3]' in out and 'here:gradOutput\n\t[2, 3]' in out
    m.forward([x, [x]])
    assert '{[2, 3], {[2, 3]}}' in capsys.readouterr().out
    assert roundtrip(m, tmp_path).prefix == 'here'
    m.backward(np.ones((2, 3)), np.ones((2, 3)))           # numpy arrays pass on as tensors: the module still saves
    assert isinstance(m.gradInput, torch.Tensor) and roundtrip(m, tmp_path).prefix == 'here'


# -- MV --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('trans', [False, True])
def test_mv(trans, tmp_path):
    m = nn.MV(trans).double()
    M, v = rnd(3, 4), rnd(3 if trans else 4, seed=1)
    y = m.forward([T(M), T(v)]).numpy()
    A = M.T if trans else M
    want = [sum(A[i, j] * v[j] for j in range(A.shape[1])) for i in range(A.shape[0])]
    np.testing.assert_allclose(y, want, rtol=1e-13)
    Mb, vb = rnd(2, 3, 4), rnd(2, 3 if trans else 4, seed=2)
    yb = m.forward([T(Mb), T(vb)]).numpy()
    for b in range(2):
        np.testing.assert_allclose(yb[b], (Mb[b].T if trans else Mb[b]) @ vb[b], rtol=1e-13)
    assert J.testJacobian(m, [D(3, 4), D(3 if trans else 4)]) < TOL
    assert J.testJacobian(m, [D(2, 3, 4), D(2, 3 if trans else 4)]) < TOL
    check_reloads(m, [T(M), T(v)], tmp_path)
    with pytest.raises(ValueError, match='do not match'):
        m.forward([T(M), T(rnd(7))])
    with pytest.raises(TypeError, match='bool'):
        nn.MV(1)


@pytest.mark.parametrize('make, x, g', [
    (lambda: nn.GatedLinearUnit(), lambda: T(rnd(3, 6)), lambda: T(rnd(3, 3, seed=1))),
    (lambda: nn.MV(), lambda: [T(rnd(2, 3, 4)), T(rnd(2, 4, seed=1))], lambda: T(rnd(2, 3, seed=2))),
    (lambda: nn.Index(1), lambda: [T(rnd(3, 4)), torch.LongTensor([3, 0])], lambda: T(rnd(3, 2, seed=1))),
    (lambda: nn.GradientReversal(), lambda: T(rnd(3, 4)), lambda: T(rnd(3, 4, seed=1))),
    (lambda: nn.WhiteNoise(), lambda: T(rnd(3, 4)), lambda: T(rnd(3, 4, seed=1))),
    (lambda: nn.OneHot(5), lambda: torch.LongTensor([[0, 4], [2, 1]]), lambda: T(rnd(2, 2, 5, seed=1))),
])
def test_steady_state(make, x, g):
    """A second forward/backward of the same shapes allocates no new arrays."""
    check_steady_state(make().double(), x(), g())


# -- CUDA (fakecupy on CPU) ------------------------------------------------------------------------------------------
GPU_CASES = [
    (lambda: nn.Collapse(2), lambda: rnd(3, 4, 5)),
    (lambda: nn.CReLU(1), lambda: rnd(3, 4)),
    (lambda: nn.GatedLinearUnit(), lambda: rnd(3, 6)),
    (lambda: nn.LayerNormalization(5), lambda: rnd(4, 5)),
    (lambda: nn.Maxout(4, 3, 2), lambda: rnd(6, 4)),
    (lambda: nn.MV(), lambda: [rnd(2, 3, 4), rnd(2, 4)]),
    (lambda: nn.GradientReversal(0.3), lambda: rnd(3, 4)),
    (lambda: nn.L1Penalty(0.1), lambda: rnd(3, 4)),
    (lambda: nn.ZeroGrad(), lambda: rnd(3, 4)),
    (lambda: nn.Constant(2.0, 1), lambda: rnd(3, 4)),
    (lambda: nn.MaskedSelect(), lambda: [rnd(3, 4), (rnd(3, 4, seed=4) > 0).astype(np.float64)]),
    (lambda: nn.Index(1), lambda: [rnd(3, 4), np.array([3.0, 0.0, 3.0])]),
]


@pytest.mark.gpu
@pytest.mark.parametrize('make, inp', GPU_CASES)
def test_gpu_matches_cpu(make, inp):
    check_gpu_made(make, inp())


@pytest.mark.gpu
def test_gpu_one_hot_and_white_noise():
    idx = torch.LongTensor([[0, 3], [2, 1]])
    y = nn.OneHot(4).cuda().forward(idx.cuda())
    assert y.type() == 'torch.CudaTensor'
    np.testing.assert_array_equal(y.float().numpy(), nn.OneHot(4).float().forward(idx).numpy())
    x = rnd(3, 4).astype(np.float32)
    torch.manualSeed(2)
    yc = nn.WhiteNoise(0, 1).cuda().forward(torch.FloatTensor(x).cuda()).float().numpy()
    torch.manualSeed(2)
    y = nn.WhiteNoise(0, 1).float().forward(torch.FloatTensor(x)).numpy()
    np.testing.assert_allclose(yc, y, rtol=1e-6)

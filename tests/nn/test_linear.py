"""Linear family: Linear, Bilinear, Add, Mul, CAdd, CMul, Euclidean."""
import math

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import (D, check_float32, check_gpu, check_params, check_reloads, check_steady_state, draws, f32, rnd,
                        roundtrip)


# -- Linear ---------------------------------------------------------------------------------------------------
def test_linear_init_draws_torch_order():
    torch.manualSeed(1)
    m = nn.Linear(3, 4)
    s = 1 / math.sqrt(3)
    d = draws(1, 12 + 4, -s, s)
    np.testing.assert_array_equal(m.weight.numpy(), d[:12].reshape(4, 3))
    np.testing.assert_array_equal(m.bias.numpy(), d[12:])


def test_linear_forward_jacobian_and_errors():
    m = nn.Linear(3, 4)
    x = rnd(5, 3)
    np.testing.assert_allclose(m.forward(x).numpy(), x @ m.weight.numpy().T + m.bias.numpy(), rtol=1e-12)
    np.testing.assert_allclose(m.forward(x[0]).numpy(), m.weight.numpy() @ x[0] + m.bias.numpy(), rtol=1e-12)
    check_params(m, D(5, 3))
    check_params(nn.Linear(3, 4), D(3))
    assert repr(m) == 'nn.Linear(3 -> 4)'
    assert repr(nn.Linear(3, 4, False)) == 'nn.Linear(3 -> 4) without bias'
    with pytest.raises(ValueError, match=r'nn.Linear\(3 -> 4\).*\[4, 5\]'):
        m.forward(rnd(4, 5))


# -- Bilinear -------------------------------------------------------------------------------------------------
def test_bilinear_init_order_forward_and_jacobian():
    torch.manualSeed(3)
    m = nn.Bilinear(3, 2, 4)
    s = 1 / math.sqrt(3)
    d = draws(3, 24 + 4, -s, s)
    np.testing.assert_array_equal(m.weight.numpy(), d[:24].reshape(4, 3, 2))
    np.testing.assert_array_equal(m.bias.numpy(), d[24:])
    a, b = rnd(5, 3, seed=1), rnd(5, 2, seed=2)
    want = np.einsum('bi,kij,bj->bk', a, m.weight.numpy(), b) + m.bias.numpy()
    np.testing.assert_allclose(m.forward([a, b]).numpy(), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m.forward([a[1], b[1]]).numpy(), want[1], rtol=1e-12, atol=1e-14)
    check_params(m, [D(5, 3), D(5, 2)])
    check_params(nn.Bilinear(3, 2, 4, False), [D(3), D(2)])
    assert repr(m) == 'nn.Bilinear(3x2 -> 4) '          # Torch7's format leaves a trailing space
    assert repr(nn.Bilinear(3, 2, 4, False)) == 'nn.Bilinear(3x2 -> 4)  without bias'


def test_bilinear_gradients_match_formula_and_errors():
    m = nn.Bilinear(3, 2, 4)
    a, b, g = rnd(5, 3, seed=1), rnd(5, 2, seed=2), rnd(5, 4, seed=3)
    m.zeroGradParameters()
    m.forward([a, b])
    ga, gb = m.backward([a, b], g)
    w = m.weight.numpy()
    np.testing.assert_allclose(ga.numpy(), np.einsum('bk,kij,bj->bi', g, w, b), rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), np.einsum('bk,kij,bi->bj', g, w, a), rtol=1e-12)
    np.testing.assert_allclose(m.gradWeight.numpy(), np.einsum('bk,bi,bj->kij', g, a, b), rtol=1e-12)
    np.testing.assert_allclose(m.gradBias.numpy(), g.sum(0), rtol=1e-12)
    with pytest.raises(ValueError, match=r'nn.Bilinear\(3x2 -> 4\).*\[5, 3\] and \[5, 3\]'):
        m.forward([a, a])
    with pytest.raises(TypeError, match='list of two'):
        m.forward(a)
    with pytest.raises(ValueError, match=r'gradOutput of size \[5, 4\], got \[5, 3\]'):
        m.backward([a, b], rnd(5, 3))


# -- Add, Mul, CAdd, CMul -------------------------------------------------------------------------------------
def test_add():
    torch.manualSeed(2)
    m = nn.Add(5)
    s = 1 / math.sqrt(5)
    np.testing.assert_array_equal(m.bias.numpy(), draws(2, 5, -s, s))
    x = rnd(3, 5)
    np.testing.assert_allclose(m.forward(x).numpy(), x + m.bias.numpy())
    np.testing.assert_allclose(m.forward(x[0]).numpy(), x[0] + m.bias.numpy())
    check_params(m, D(3, 5))
    check_params(nn.Add(5), D(5))
    check_params(nn.Add(6), D(2, 2, 3))      # batch of 2 examples of 6 values
    sc = nn.Add(5, True)
    assert sc.bias.nElement() == 1
    np.testing.assert_allclose(sc.forward(x).numpy(), x + sc.bias[0])
    check_params(sc, D(3, 5))
    with pytest.raises(ValueError, match=r'nn.Add.*\[3, 4\]'):
        m.forward(rnd(3, 4))


def test_mul():
    torch.manualSeed(4)
    m = nn.Mul()
    np.testing.assert_array_equal(m.weight.numpy(), draws(4, 1, -1, 1))
    x = rnd(3, 5)
    np.testing.assert_allclose(m.forward(x).numpy(), x * m.weight[0])
    check_params(m, D(3, 5))
    check_params(nn.Mul(), D(4))


def test_cadd_cmul_cases():
    for cls in (nn.CAdd, nn.CMul):
        torch.manualSeed(5)
        m = cls(2, 3)
        p = m.bias if cls is nn.CAdd else m.weight
        s = 1 / math.sqrt(6)
        np.testing.assert_array_equal(p.numpy(), draws(5, 6, -s, s).reshape(2, 3))
        op = np.add if cls is nn.CAdd else np.multiply
        x = rnd(2, 3)
        np.testing.assert_allclose(m.forward(x).numpy(), op(x, p.numpy()))
        xb = rnd(4, 2, 3)
        np.testing.assert_allclose(m.forward(xb).numpy(), op(xb, p.numpy()))    # batch
        check_params(m, D(2, 3))
        check_params(cls(2, 3), D(4, 2, 3))
        check_params(cls(6), D(2, 3))               # same number of elements
        # same number of dims: size-1 dims of the parameter expand
        e = cls(1, 3)
        pe = (e.bias if cls is nn.CAdd else e.weight).numpy()
        x5 = rnd(5, 3)
        np.testing.assert_allclose(e.forward(x5).numpy(), op(x5, pe))
        check_params(cls(1, 3), D(5, 3))
        check_params(cls(torch.LongStorage([3, 1])), D(3, 4))
        with pytest.raises(ValueError, match=rf'{cls.__torch_name__}: input of size \[5, 4\] does not fit'):
            cls(2, 3).forward(rnd(5, 4))


# -- Euclidean ------------------------------------------------------------------------------------------------
def test_euclidean():
    torch.manualSeed(6)
    m = nn.Euclidean(3, 4)
    s = 1 / math.sqrt(3)
    np.testing.assert_array_equal(m.weight.numpy(), draws(6, 12, -s, s).reshape(3, 4))
    x = rnd(5, 3)
    w = m.weight.numpy()
    want = np.sqrt(((x[:, :, None] - w[None]) ** 2).sum(1))
    np.testing.assert_allclose(m.forward(x).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(m.forward(x[2]).numpy(), want[2], rtol=1e-12)
    check_params(m, D(5, 3))
    check_params(nn.Euclidean(3, 4), D(3))
    with pytest.raises(ValueError, match=r'nn.Euclidean: expected input of size \[\*, 3\].*\[5, 2\]'):
        m.forward(rnd(5, 2))


# -- float32, steady state, save/load --------------------------------------------------------------------------
# (constructor, input) of every layer but Linear, for the float32 and GPU tests
LAYERS = [
    (lambda: nn.Bilinear(3, 2, 4), lambda: [rnd(5, 3), rnd(5, 2)]),
    (lambda: nn.Add(4), lambda: rnd(5, 4)),
    (lambda: nn.Mul(), lambda: rnd(5, 4)),
    (lambda: nn.CAdd(1, 4), lambda: rnd(5, 4)),
    (lambda: nn.CMul(4), lambda: rnd(5, 4)),
    (lambda: nn.Euclidean(4, 3), lambda: rnd(5, 4)),
]


@pytest.mark.parametrize('make, inp', LAYERS)
def test_float32_matches_float64_and_buffers_are_kept(make, inp):
    torch.manualSeed(7)
    m64 = make().double()
    m32 = make().float()
    m32.weight.copy(m64.weight) if 'weight' in m64.__dict__ else None
    m32.bias.copy(m64.bias) if 'bias' in m64.__dict__ else None
    x = inp()
    y64 = check_float32(m64, m32, x, rtol=1e-4, atol=1e-5)
    check_steady_state(m32, f32(x), np.ones(y64.shape, np.float32))


def test_save_load_roundtrip(tmp_path):
    m = nn.Bilinear(3, 2, 4)
    check_reloads(m, [rnd(5, 3), rnd(5, 2)], tmp_path, rtol=1e-7)
    c = roundtrip(nn.CMul(2, 3), tmp_path)
    assert list(c.size) == [2, 3]


@pytest.mark.gpu
@pytest.mark.parametrize('make, inp', LAYERS)
def test_gpu_matches_cpu(make, inp):
    cpu = make().float()
    check_gpu(cpu, cpu.clone().cuda(), inp())


def test_linear_checks_replaced_parameters():
    # weight/bias set by hand (e.g. copied from another model) that do not fit: a named error, not numpy's
    # broadcast message
    x = torch.DoubleTensor(np.ones((2, 3)))
    m = nn.Linear(3, 4)
    m.weight = torch.DoubleTensor(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"nn\.Linear: expected a 2-D weight tensor .* got weight \[5, 3\] and "
                                         r"bias \[4\]"):
        m.forward(x)
    m = nn.Linear(3, 4)
    m.bias = torch.DoubleTensor(np.ones(5))
    with pytest.raises(ValueError, match=r"got weight \[4, 3\] and bias \[5\]"):
        m.forward(x)


def test_bias_set_to_none_is_no_bias():
    """Lua's `m.bias = nil; m.gradBias = nil` (fb.resnet.torch's ConvInit), ported as `= None`, is noBias(): it
    crashed in forward ('NoneType' object has no attribute '_a')."""
    x = rnd(2, 3, 5, 5)
    for make in (lambda: nn.SpatialConvolution(3, 4, 3, 3), lambda: nn.Linear(75, 4)):
        torch.manualSeed(2)
        m, want = make().double(), make().double()
        want.weight.copy(m.weight)
        want.noBias()
        m.bias = None
        m.gradBias = None
        xi = x if isinstance(m, nn.SpatialConvolution) else x.reshape(2, 75)
        np.testing.assert_array_equal(m.forward(xi).numpy(), want.forward(xi).numpy())
        assert 'bias' not in m.__dict__ and len(m.parameters()[0]) == 1 and repr(m).endswith('without bias')
        g = rnd(*m.output.size(), seed=1)
        m.zeroGradParameters()
        want.zeroGradParameters()
        m.backward(xi, g)
        want.backward(xi, g)
        np.testing.assert_array_equal(m.gradWeight.numpy(), want.gradWeight.numpy())


@pytest.mark.parametrize('make', [lambda: nn.Add(4), lambda: nn.CMul(4), lambda: nn.Euclidean(4, 3),
                                  lambda: nn.CAdd(4)])
def test_gradinput_none_skips_the_input_gradient(make):
    # Torch7's idiom for a first layer (module.gradInput = nil): Add, CMul and Euclidean return nil and CAdd makes
    # a new gradInput, as Torch7's; they raised AttributeError on None.  The parameter gradients are unchanged.
    torch.manualSeed(3)
    ref = make().double()
    m = ref.clone()
    x = torch.DoubleTensor(rnd(5, 4))
    y = ref.forward(x)
    g = torch.DoubleTensor(rnd(*y.size(), seed=1))
    ref.zeroGradParameters()
    gi_ref = ref.backward(x, g)
    m.gradInput = None
    m.zeroGradParameters()
    m.forward(x)
    gi = m.backward(x, g)
    if isinstance(m, nn.CAdd):
        np.testing.assert_array_equal(gi.numpy(), gi_ref.numpy())
    else:
        assert gi is None and m.gradInput is None
    for a, b in zip(m.parameters()[1], ref.parameters()[1]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert np.abs(a.numpy()).max() > 0

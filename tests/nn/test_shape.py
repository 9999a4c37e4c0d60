"""Shape modules: Reshape, View, Transpose, Squeeze, Unsqueeze, Narrow, Select, Replicate, Padding, Copy,
Contiguous, MulConstant, AddConstant."""
import re

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import check_float32, check_gpu, check_reloads, jac, rnd, shares


# -- Reshape / View -------------------------------------------------------------------------------------------
def test_reshape():
    m = nn.Reshape(3, 2)
    x = torch.DoubleTensor(rnd(2, 3))
    y = m.forward(x)
    assert y.shape == (3, 2) and shares(y, x)
    np.testing.assert_array_equal(y.numpy(), x.numpy().reshape(3, 2))
    xb = rnd(4, 6)
    assert m.forward(xb).shape == (4, 3, 2)                        # batch by element count
    assert nn.Reshape(6).forward(rnd(1, 6)).shape == (1, 6)        # first dim 1: a batch of one
    assert nn.Reshape(6, False).forward(rnd(1, 6)).shape == (6,)
    assert nn.Reshape(3, 2, batchMode=True).forward(rnd(1, 3, 2)).shape == (1, 3, 2)
    xt = torch.DoubleTensor(rnd(3, 2)).t()                          # non-contiguous: copied
    y = m.forward(xt)
    np.testing.assert_array_equal(y.numpy(), np.ascontiguousarray(xt.numpy()).reshape(3, 2))
    assert not shares(y, xt)
    gi = m.backward(xt, np.ones((3, 2)))
    assert gi.shape == (2, 3)
    jac(nn.Reshape(3, 2), 2, 3)
    jac(nn.Reshape(3, 2), 4, 6)
    assert repr(m) == 'nn.Reshape(3x2)'
    with pytest.raises(ValueError, match=r'nn.Reshape\(3x2\): cannot reshape input of size \[5, 7\]'):
        m.forward(rnd(5, 7))


def test_reshape_output_never_writes_into_an_aliased_input():
    m = nn.Reshape(3, 2)
    a = torch.DoubleTensor(rnd(2, 3))
    keep = a.numpy().copy()
    m.forward(a)                                           # output views a
    m.forward(torch.DoubleTensor(rnd(3, 2, seed=5)).t())   # non-contiguous: copied into the module's memory
    np.testing.assert_array_equal(a.numpy(), keep)


def test_view():
    x = rnd(4, 6)
    v = nn.View(-1)
    np.testing.assert_array_equal(v.forward(x).numpy(), x.reshape(-1))
    assert repr(v) == 'nn.View(-1)'
    assert repr(nn.View(2, 3)) == 'nn.View(2, 3)'
    assert nn.View(6).forward(x).shape == (4, 6)
    assert nn.View(2, 3).forward(x).shape == (4, 2, 3)       # batch of 4 inferred
    assert nn.View(3, -1).forward(x).shape == (3, 8)         # -1: no batch
    assert nn.View(2, 12).forward(x).shape == (2, 12)
    # setNumInputDims: the last n dims are one example
    m = nn.View(-1).setNumInputDims(2)
    assert m.forward(rnd(5, 2, 3)).shape == (5, 6)
    assert m.forward(rnd(2, 3)).shape == (6,)
    assert nn.View(-1).setNumInputDims(2).forward(rnd(1, 2, 3)).shape == (1, 6)
    t = torch.DoubleTensor(x)
    y = nn.View(24).forward(t)
    assert shares(y, t)
    jac(nn.View(2, 3), 4, 6)
    jac(nn.View(-1).setNumInputDims(2), 3, 2, 2)
    with pytest.raises(ValueError, match=r'nn.View\(5\): input view \(4x6\) and desired view \(5\) do not match'):
        nn.View(5).forward(x)
    with pytest.raises(ValueError, match='only one dimension can be -1'):
        nn.View(-1, -1)


# -- Transpose, Squeeze, Unsqueeze ----------------------------------------------------------------------------
def test_transpose():
    x = rnd(2, 3, 4, 5)
    m = nn.Transpose((0, 3), (0, 2))
    y = m.forward(x)
    np.testing.assert_array_equal(y.numpy(), x.swapaxes(0, 3).swapaxes(0, 2))
    assert y.isContiguous()
    g = rnd(*y.shape, seed=1)
    np.testing.assert_array_equal(m.backward(x, g).numpy(), g.swapaxes(0, 2).swapaxes(0, 3))
    jac(nn.Transpose((0, 3), (0, 2)), 2, 3, 4, 5)
    jac(nn.Transpose((0, -1)), 2, 3)
    b = nn.Transpose((0, 1)).setNumInputDims(2)
    assert b.forward(rnd(7, 2, 3)).shape == (7, 3, 2)
    assert b.forward(rnd(2, 3)).shape == (3, 2)
    assert nn.Transpose._lua_index_fields == ('permutations',)
    with pytest.raises(ValueError, match=r'nn.Transpose: dimension 2 out of range for a 2-D input'):
        nn.Transpose((0, 2)).forward(rnd(2, 3))


def test_squeeze_unsqueeze():
    x = rnd(2, 1, 3, 1)
    np.testing.assert_array_equal(nn.Squeeze().forward(x).numpy(), x.reshape(2, 3))
    assert nn.Squeeze(1).forward(x).shape == (2, 3, 1)
    assert nn.Squeeze(0).forward(x).shape == (2, 1, 3, 1)            # not of size 1: unchanged
    assert nn.Squeeze().forward(rnd(1, 1)).shape == (1,)              # Torch7 keeps one dim
    assert nn.Squeeze(None, 2).forward(rnd(1, 1, 3)).shape == (1, 3)  # batch of one kept
    assert nn.Squeeze(0, 2).forward(rnd(4, 1, 3)).shape == (4, 3)     # dim shifts past the batch
    t = torch.DoubleTensor(x)
    assert shares(nn.Squeeze().forward(t), t)
    jac(nn.Squeeze(), 2, 1, 3)
    u = nn.Unsqueeze(0)
    assert u.forward(rnd(3, 4)).shape == (1, 3, 4)
    assert nn.Unsqueeze(2).forward(rnd(3, 4)).shape == (3, 4, 1)
    assert nn.Unsqueeze(1, 2).forward(rnd(5, 3, 4)).shape == (5, 3, 1, 4)   # numInputDims: batch in front
    assert nn.Unsqueeze(1, 2).forward(rnd(3, 4)).shape == (3, 1, 4)
    assert shares(u.forward(t), t)
    jac(nn.Unsqueeze(1), 3, 4)
    assert repr(u) == 'nn.Unsqueeze(dim 0)'          # 0-based, as the constructor took it
    with pytest.raises(ValueError, match=r'nn.Unsqueeze\(dim 3\): position 3 out of range'):
        nn.Unsqueeze(3).forward(rnd(3, 4))


# -- Narrow, Select, Replicate, Padding -----------------------------------------------------------------------
def test_narrow():
    x = rnd(4, 5)
    np.testing.assert_array_equal(nn.Narrow(0, 1, 2).forward(x).numpy(), x[1:3])
    np.testing.assert_array_equal(nn.Narrow(1, 1, -1).forward(x).numpy(), x[:, 1:])   # -1: to the end
    np.testing.assert_array_equal(nn.Narrow(1, 0, -2).forward(x).numpy(), x[:, :4])
    np.testing.assert_array_equal(nn.Narrow(-1, -2, 2).forward(x).numpy(), x[:, 3:])
    m = nn.Narrow(1, 2, 2)
    g = rnd(4, 2, seed=1)
    gi = m.backward(x, g).numpy()
    want = np.zeros_like(x)
    want[:, 2:4] = g
    np.testing.assert_array_equal(gi, want)
    jac(nn.Narrow(1, 2, 2), 4, 5)
    jac(nn.Narrow(0, 1), 4)
    with pytest.raises(ValueError, match=r'nn.Narrow: cannot narrow dim 0 of size 4'):
        nn.Narrow(0, 3, 2).forward(x)


def test_select():
    x = rnd(3, 4, 5)
    np.testing.assert_array_equal(nn.Select(1, 2).forward(x).numpy(), x[:, 2])
    np.testing.assert_array_equal(nn.Select(-1, -1).forward(x).numpy(), x[:, :, -1])
    g = rnd(3, 5, seed=1)
    gi = nn.Select(1, 2).backward(x, g).numpy()
    want = np.zeros_like(x)
    want[:, 2] = g
    np.testing.assert_array_equal(gi, want)
    jac(nn.Select(1, 2), 3, 4, 5)
    with pytest.raises(ValueError, match=r'nn.Select: index 4 out of range for dim 1 of size 4'):
        nn.Select(1, 4).forward(x)
    with pytest.raises(ValueError, match='cannot select on a vector'):
        nn.Select(0, 1).forward(rnd(4))


def test_replicate():
    x = torch.DoubleTensor(rnd(2, 3))
    y = nn.Replicate(4).forward(x)
    assert y.shape == (4, 2, 3) and y.stride(0) == 0 and shares(y, x)
    np.testing.assert_array_equal(y.numpy(), np.broadcast_to(x.numpy(), (4, 2, 3)))
    assert nn.Replicate(4, 2).forward(x).shape == (2, 3, 4)
    assert nn.Replicate(4, 0, 1).forward(x).shape == (2, 4, 3)    # ndim=1: a batch of 2 vectors
    g = rnd(2, 4, 3, seed=1)
    np.testing.assert_allclose(nn.Replicate(4, 1).backward(x, g).numpy(), g.sum(1))
    jac(nn.Replicate(3, 1), 2, 3)
    jac(nn.Replicate(3), 4)
    with pytest.raises(ValueError, match='not enough input dimensions to replicate along dimension 3'):
        nn.Replicate(2, 3).forward(x)


def test_padding():
    x = rnd(2, 3)
    y = nn.Padding(1, -2).forward(x).numpy()          # 2 zeros before
    np.testing.assert_array_equal(y, np.concatenate([np.zeros((2, 2)), x], 1))
    y = nn.Padding(1, 2, None, 7.0).forward(x).numpy()   # 2 sevens after
    np.testing.assert_array_equal(y, np.concatenate([x, np.full((2, 2), 7.0)], 1))
    y = nn.Padding(1, -1, None, 0, 1).forward(x).numpy()   # before position 1
    np.testing.assert_array_equal(y, np.concatenate([x[:, :1], np.zeros((2, 1)), x[:, 1:]], 1))
    y = nn.Padding(1, 1, None, 0, 1).forward(x).numpy()    # 1 position from the end
    np.testing.assert_array_equal(y, np.concatenate([x[:, :2], np.zeros((2, 1)), x[:, 2:]], 1))
    y = nn.Padding(0, 1, 1).forward(x).numpy()             # nInputDim 1: batch, pads dim 1
    assert y.shape == (2, 4)
    y = nn.Padding(-1, -1).forward(x).numpy()
    assert y.shape == (2, 4) and (y[:, 0] == 0).all()
    jac(nn.Padding(1, -2), 2, 3)
    jac(nn.Padding(0, 2, None, 3.0, 1), 3, 2)
    with pytest.raises(ValueError, match=r'nn.Padding: index 5 out of range for dim 1 of size 3'):
        nn.Padding(1, -1, None, 0, 5).forward(x)


# -- Copy, Contiguous, constants ------------------------------------------------------------------------------
def test_copy():
    m = nn.Copy('torch.DoubleTensor', 'torch.FloatTensor')
    x = torch.DoubleTensor(rnd(2, 3))
    y = m.forward(x)
    assert y.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(y.numpy(), x.numpy().astype(np.float32))
    gi = m.backward(x, torch.FloatTensor(np.ones((2, 3), np.float32)))
    assert gi.type() == 'torch.DoubleTensor'
    same = nn.Copy('torch.DoubleTensor', 'torch.DoubleTensor')
    assert same.forward(x) is x                      # passes through
    forced = nn.Copy('torch.DoubleTensor', 'torch.DoubleTensor', True)
    assert forced.forward(x) is not x and not shares(forced.output, x)
    keep = nn.Copy('torch.DoubleTensor', 'torch.FloatTensor', False, True).float()
    assert keep.gradInput.type() == 'torch.DoubleTensor'       # dontCast
    jac(nn.Copy(None, None, True), 3, 2)


def test_copy_passes_a_numpy_array_as_a_tensor():
    # a pass-through Copy handed on the numpy array itself: net.forward(array).type() raised AttributeError
    a = rnd(2, 3)
    m = nn.Copy()
    y = m.forward(a)
    assert y.type() == 'torch.DoubleTensor' and m.output is y and shares(y, a)
    np.testing.assert_array_equal(y.numpy(), a)
    g = 2 * a
    gi = m.backward(a, g)
    assert gi.type() == 'torch.DoubleTensor' and shares(gi, g)
    np.testing.assert_array_equal(gi.numpy(), g)
    net = nn.Sequential(nn.Copy())
    assert net.forward(a).type() == 'torch.DoubleTensor'


@pytest.mark.parametrize('bad', [np.array([1 + 2j, 3 + 0j]), np.array(['1', '2'])])
def test_copy_of_a_numpy_array_of_non_numbers(bad):
    # copied as numbers before: a complex array's real part, strings parsed ([1, 3] and [1, 2])
    m = nn.Copy(None, None, True)
    with pytest.raises(TypeError, match=rf'^nn.Copy: expected input of numbers, got a numpy array of dtype '
                                        rf'{re.escape(str(bad.dtype))}$'):
        m.forward(bad)
    with pytest.raises(TypeError, match=r'^nn.MaskedSelect: expected the mask \(input\[1\]\) of numbers'):
        nn.MaskedSelect().forward([torch.DoubleTensor([1.0, 2.0]), np.array([1j, 0j])])
    assert m.forward(np.array([True, False])).tolist() == [1, 0]


def test_contiguous():
    x = torch.DoubleTensor(rnd(3, 4))
    m = nn.Contiguous()
    assert shares(m.forward(x), x)
    xt = x.t()
    y = m.forward(xt)
    assert y.isContiguous() and not shares(y, x)
    np.testing.assert_array_equal(y.numpy(), xt.numpy())
    jac(nn.Contiguous(), 3, 4)


def test_mul_add_constant():
    x = rnd(3, 4)
    np.testing.assert_allclose(nn.MulConstant(2.5).forward(x).numpy(), 2.5 * x)
    np.testing.assert_allclose(nn.AddConstant(-1.5).forward(x).numpy(), x - 1.5)
    c = torch.DoubleTensor([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(nn.AddConstant(c).forward(x).numpy(), x + c.numpy())
    jac(nn.MulConstant(-3.0), 3, 4)
    jac(nn.AddConstant(2.0), 3, 4)
    for m, f in ((nn.MulConstant(2.0, True), lambda a: 2 * a), (nn.AddConstant(2.0, True), lambda a: a + 2)):
        t = torch.DoubleTensor(x)
        y = m.forward(t)
        assert shares(y, t)
        np.testing.assert_allclose(y.numpy(), f(x))
        g = torch.DoubleTensor(np.ones((3, 4)))
        m.backward(t, g)
        np.testing.assert_allclose(t.numpy(), x)          # input restored
    with pytest.raises(TypeError, match='expected a number'):
        nn.MulConstant('2')
    with pytest.raises(ValueError, match=r'nn.AddConstant: the constant of size \[4\] does not match input'):
        nn.AddConstant(c).forward(rnd(3, 5))


# -- float32, steady state, save/load, GPU ---------------------------------------------------------------------
CASES = [
    (lambda: nn.Transpose((0, 1)), (3, 4)), (lambda: nn.Narrow(1, 1, 2), (3, 4)),
    (lambda: nn.Select(0, 1), (3, 4)), (lambda: nn.Padding(1, 2), (3, 4)), (lambda: nn.Replicate(2), (3, 4)),
    (lambda: nn.MulConstant(3.0), (3, 4)), (lambda: nn.AddConstant(3.0), (3, 4)),
    (lambda: nn.View(-1), (3, 4)), (lambda: nn.Reshape(12), (3, 4)), (lambda: nn.Squeeze(), (3, 1, 4)),
    (lambda: nn.Unsqueeze(1), (3, 4)), (lambda: nn.Contiguous(), (3, 4)),
]


@pytest.mark.parametrize('make, shape', CASES)
def test_float32_and_steady_state(make, shape):
    m32, m64 = make().float(), make().double()
    x = rnd(*shape)
    y64 = check_float32(m64, m32, x, rtol=1e-6)
    g = np.ones(y64.shape, np.float32)
    x32 = torch.FloatTensor(x.astype(np.float32))
    m32.forward(x32)
    m32.backward(x32, g)
    out, gin = m32.output, m32.gradInput
    arrs = (out._a, gin._a)
    m32.forward(x32)
    m32.backward(x32, g)
    assert m32.output is out and m32.gradInput is gin
    if not shares(out, x32):
        assert m32.output._a is arrs[0]


def test_lua_index_fields():
    assert nn.Narrow._lua_index_fields == ('dimension', 'index')
    assert nn.Select._lua_index_fields == ('dimension', 'index')
    assert nn.Squeeze._lua_index_fields == ('dim',)
    assert nn.Unsqueeze._lua_index_fields == ('pos',)
    assert nn.Replicate._lua_index_fields == ('dim',)
    assert nn.Padding._lua_index_fields == ('dim', 'index')
    assert nn.View._lua_index_fields == ()


def test_save_load_roundtrip(tmp_path):
    x = rnd(3, 4, 5)
    for m in (nn.Narrow(1, 1, 2), nn.Select(2, 3), nn.View(-1).setNumInputDims(2), nn.Transpose((0, 2)),
              nn.Padding(1, -1, 2, 5.0, 1), nn.Reshape(20)):
        check_reloads(m, x, tmp_path)


@pytest.mark.gpu
@pytest.mark.parametrize('make, shape', CASES)
def test_gpu_matches_cpu(make, shape):
    check_gpu(make().float(), make().cuda(), rnd(*shape), seed=1, rtol=1e-6, atol=0)


def test_default_reprs():
    # modules without a Torch7 __tostring__ print their class name
    for m in (nn.Transpose((0, 1)), nn.Squeeze(), nn.Narrow(0, 1), nn.Select(0, 1), nn.Replicate(2),
              nn.Padding(0, 1), nn.Copy(), nn.Contiguous(), nn.MulConstant(2), nn.AddConstant(1)):
        assert repr(m) == m.__torch_name__ == 'nn.' + type(m).__name__

"""Reductions: Sum, Mean, Max, Min (0-based dims, nInputDims)."""
import numpy as np
import pytest

from luatorch_py import nn

from nn_helpers import check_float32, check_gpu, check_reloads, check_steady_state, f32, jac, rnd


def test_sum_and_mean_values():
    x = rnd(3, 4, 5)
    np.testing.assert_allclose(nn.Sum().forward(x).numpy(), x.sum(0))
    np.testing.assert_allclose(nn.Sum(1).forward(x).numpy(), x.sum(1))
    np.testing.assert_allclose(nn.Sum(-1).forward(x).numpy(), x.sum(2))
    np.testing.assert_allclose(nn.Sum(1, None, True).forward(x).numpy(), x.mean(1))
    np.testing.assert_allclose(nn.Sum(1, None, False, False).forward(x).numpy(), x.sum(1, keepdims=True))
    np.testing.assert_allclose(nn.Mean(2).forward(x).numpy(), x.mean(2))
    v = rnd(5)
    y = nn.Sum().forward(v)
    assert y.shape == (1,)                           # Torch7: a 1-D input gives size [1]
    np.testing.assert_allclose(y.numpy(), [v.sum()])
    # nInputDims: one more dim is a batch, and the dim shifts
    m = nn.Sum(0, 2)
    np.testing.assert_allclose(m.forward(x).numpy(), x.sum(1))
    np.testing.assert_allclose(m.forward(x[0]).numpy(), x[0].sum(0))
    assert repr(nn.Sum()) == 'nn.Sum' and repr(nn.Mean()) == 'nn.Mean'
    assert isinstance(nn.Mean(), nn.Sum)


def test_sum_mean_gradients():
    x = rnd(3, 4)
    g = rnd(3, seed=1)
    np.testing.assert_allclose(nn.Sum(1).backward(x, g).numpy(), np.repeat(g[:, None], 4, 1))
    np.testing.assert_allclose(nn.Mean(1).backward(x, g).numpy(), np.repeat(g[:, None], 4, 1) / 4)
    for m, shape in ((nn.Sum(1), (3, 4)), (nn.Sum(0), (5,)), (nn.Mean(-1), (2, 3, 4)), (nn.Sum(1, 2), (2, 3, 4)),
                     (nn.Mean(0, 2), (3, 4)), (nn.Sum(1, None, False, False), (3, 4))):
        jac(m, *shape)
    with pytest.raises(ValueError, match=r'nn.Sum: dimension 2 exceeds the dims of input of size \[3, 4\]'):
        nn.Sum(2).forward(x)
    with pytest.raises(ValueError, match=r'nn.Sum: gradOutput of size \[4\] does not match the output size \[3, 1\]'):
        nn.Sum(1).backward(x, rnd(4))


def test_max_min():
    x = rnd(3, 4, 5)
    for cls, f, arg in ((nn.Max, np.max, np.argmax), (nn.Min, np.min, np.argmin)):
        for d in (0, 1, 2, -1):
            m = cls(d)
            np.testing.assert_array_equal(m.forward(x).numpy(), f(x, axis=d))
            g = rnd(*f(x, axis=d).shape, seed=2)
            gi = m.backward(x, g).numpy()
            want = np.zeros_like(x)
            np.put_along_axis(want, np.expand_dims(arg(x, axis=d), d), np.expand_dims(g, d), d)
            np.testing.assert_array_equal(gi, want)
        assert cls().forward(rnd(6)).shape == (1,)
        b = cls(0, 2)
        np.testing.assert_array_equal(b.forward(x).numpy(), f(x, axis=1))
        jac(cls(1), 3, 4)
        jac(cls(0), 5)
        jac(cls(-1, 1), 2, 3)
        assert repr(cls()) == cls.__torch_name__
    # ties: the first position gets the gradient (as Torch7 and numpy's argmax)
    t = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    gi = nn.Max(1).backward(t, np.ones(2)).numpy()
    np.testing.assert_array_equal(gi, [[0, 1, 0], [1, 0, 0]])
    with pytest.raises(ValueError, match=r'nn.Max: dimension 3 exceeds'):
        nn.Max(3).forward(x)


def test_max_min_backward_after_another_shape_of_as_many_elements():
    # the kept flat positions of each slice's first element must follow the input's shape, not only its sizes
    # before, at and after the dim (numpy's broadcast error leaked)
    for cls, arg in ((nn.Max, np.argmax), (nn.Min, np.argmin)):
        for (s1, d1), (s2, d2) in ((((2, 3, 4), 1), ((2, 3, 2, 2), 1)), (((4, 3, 2), 1), ((2, 2, 3, 2), 2))):
            m = cls(d1)
            x1 = rnd(*s1)
            m.forward(x1)
            m.backward(x1, np.ones(np.delete(s1, d1)))
            m.dimension = d2
            x2 = rnd(*s2, seed=1)
            g2 = rnd(*np.delete(s2, d2), seed=2)
            m.forward(x2)
            want = np.zeros_like(x2)
            np.put_along_axis(want, np.expand_dims(arg(x2, axis=d2), d2), np.expand_dims(g2, d2), d2)
            np.testing.assert_array_equal(m.backward(x2, g2).numpy(), want)


def test_max_min_over_an_empty_dim_is_a_named_error():
    # the reduced dim has no element: no max; other dims of size 0 just give an empty output
    x = np.zeros((3, 0))
    for cls, what in ((nn.Max, 'max'), (nn.Min, 'min')):
        with pytest.raises(ValueError, match=rf'^{cls.__torch_name__}: cannot take the {what} over dimension 1 '
                                             rf'of size 0 \(input of size \[3, 0\]\)'):
            cls(1).forward(x)
        assert cls(0).forward(x).numpy().shape == (0,)


@pytest.mark.parametrize('make', [lambda: nn.Sum(1), lambda: nn.Mean(1), lambda: nn.Max(1), lambda: nn.Min(0)])
def test_float32_and_steady_state(make):
    x = rnd(6, 7)
    m32 = make().float()
    y64 = check_float32(make().double(), m32, x, rtol=1e-5)
    check_steady_state(m32, f32(x), np.ones(y64.shape, np.float32))


def test_lua_index_fields_and_roundtrip(tmp_path):
    for cls in (nn.Sum, nn.Mean, nn.Max, nn.Min):
        assert cls._lua_index_fields == ('dimension',)
    # nInputDims 1 and dimension 1 (Lua's 2): a 2-D input would be a batch with dimension 2, out of range (in
    # Torch7 too); a 3-D input is not a batch of 1-D ones, so dimension 1 is used as it is
    x = rnd(3, 4, 5)
    m = nn.Sum(1, 1, True)
    m2 = check_reloads(m, x, tmp_path, rtol=1e-7)
    assert m2.dimension == 1 and m2.nInputDims == 1 and m2.sizeAverage


@pytest.mark.gpu
@pytest.mark.parametrize('make', [lambda: nn.Sum(1), lambda: nn.Mean(0), lambda: nn.Max(1), lambda: nn.Min(-1)])
def test_gpu_matches_cpu(make):
    check_gpu(make().float(), make().cuda(), rnd(5, 6), seed=1, rtol=1e-5, atol=0)

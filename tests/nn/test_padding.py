"""SpatialZeroPadding, SpatialReflectionPadding, SpatialReplicationPadding against loop references written from
THNN's index formulas (negative pads crop)."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import check_gpu, check_reloads, check_steady_state, rnd


def src_index(j, pad_lo, n, mode):
    """THNN's source index for output index j along a dim of input size n (None: a zero of zero padding)."""
    i_start, o_start = max(0, -pad_lo), max(0, pad_lo)
    if mode == 'zero':
        i = j - pad_lo
        return i if 0 <= i < n else None
    if mode == 'reflect':
        if j < pad_lo:
            ip = pad_lo * 2 - j
        elif j < n + pad_lo:
            ip = j
        else:
            ip = (n + pad_lo - 1) * 2 - j
    else:
        if j < pad_lo:
            ip = pad_lo
        elif j < n + pad_lo:
            ip = j
        else:
            ip = n + pad_lo - 1
    return ip - o_start + i_start


def ref(x, l, r, t, b, mode, g=None):
    """Forward (g None) or backward by loops over the output pixels."""
    x4 = x if x.ndim == 4 else x[None]
    N, C, H, W = x4.shape
    oh, ow = H + t + b, W + l + r
    out = np.zeros((N, C, oh, ow))
    gi = np.zeros(x4.shape)
    g4 = None if g is None else (g if g.ndim == 4 else g[None])
    for i in range(oh):
        for j in range(ow):
            si, sj = src_index(i, t, H, mode), src_index(j, l, W, mode)
            if si is None or sj is None:
                continue
            if g is None:
                out[:, :, i, j] = x4[:, :, si, sj]
            else:
                gi[:, :, si, sj] += g4[:, :, i, j]
    if g is None:
        return out if x.ndim == 4 else out[0]
    return gi if x.ndim == 4 else gi[0]


CLASSES = {'zero': nn.SpatialZeroPadding, 'reflect': nn.SpatialReflectionPadding,
           'replicate': nn.SpatialReplicationPadding}
PADS = [(1, 1, 1, 1), (2, 0, 1, 3), (0, 3, 2, 0), (-1, 2, 1, -2), (3, -2, -1, 2), (-1, -1, 0, 0)]


@pytest.mark.parametrize('mode', list(CLASSES))
@pytest.mark.parametrize('pads', PADS)
@pytest.mark.parametrize('batched', [True, False])
def test_forward_backward_match_reference(mode, pads, batched):
    m = CLASSES[mode](*pads)
    x = rnd(2, 3, 5, 6) if batched else rnd(3, 5, 6)
    y = m.forward(x).numpy()
    r = ref(x, *pads, mode)
    assert y.shape == r.shape
    np.testing.assert_array_equal(y, r)
    g = rnd(*y.shape, seed=1)
    np.testing.assert_allclose(m.backward(x, g).numpy(), ref(x, *pads, mode, g), rtol=1e-14, atol=1e-15)


def test_matches_numpy_pad():
    x = rnd(2, 3, 5, 6)
    for mode, npmode in (('zero', 'constant'), ('reflect', 'reflect'), ('replicate', 'edge')):
        y = CLASSES[mode](2, 1, 3, 4).forward(x).numpy()
        np.testing.assert_array_equal(y, np.pad(x, ((0, 0), (0, 0), (3, 4), (2, 1)), mode=npmode))


@pytest.mark.parametrize('mode', list(CLASSES))
@pytest.mark.parametrize('batched', [True, False])
def test_jacobian(mode, batched):
    for pads in ((2, 1, 1, 3), (-1, 2, 2, -1)):
        m = CLASSES[mode](*pads)
        x = torch.DoubleTensor(*((2, 2) if batched else (2,)), 4, 5)
        assert nn.Jacobian.testJacobian(m, x) < 1e-5


def test_defaults_fields_repr():
    z = nn.SpatialZeroPadding(2)
    assert (z.pad_l, z.pad_r, z.pad_t, z.pad_b) == (2, 2, 2, 2)
    z = nn.SpatialZeroPadding(1, -2, 3)
    assert (z.pad_l, z.pad_r, z.pad_t, z.pad_b) == (1, -2, 3, 1)
    assert repr(z) == 'nn.SpatialZeroPadding(l=1, r=-2, t=3, b=1)'
    assert repr(nn.SpatialReflectionPadding(1, 2, 3, 4)) == 'nn.SpatialReflectionPadding(l=1, r=2, t=3, b=4)'
    assert repr(nn.SpatialReplicationPadding(1, 0, 0, 2)) == 'nn.SpatialReplicationPadding(l=1, r=0, t=0, b=2)'
    for name in ('SpatialZeroPadding', 'SpatialReflectionPadding', 'SpatialReplicationPadding'):
        assert nn.REGISTRY['nn.' + name] is getattr(nn, name)


def test_float32():
    for mode, cls in CLASSES.items():
        m = cls(1, 2, 2, 1).float()
        x = rnd(2, 3, 4, 5).astype(np.float32)
        y = m.forward(x)
        assert y.type() == 'torch.FloatTensor'
        np.testing.assert_array_equal(y.numpy(), ref(x.astype(np.float64), 1, 2, 2, 1, mode).astype(np.float32))
        g = rnd(*y.shape, seed=1).astype(np.float32)
        np.testing.assert_allclose(m.backward(x, g).numpy(), ref(x, 1, 2, 2, 1, mode, g), rtol=1e-5, atol=1e-6)


def test_errors_name_layer_and_sizes():
    with pytest.raises(ValueError, match=r'nn\.SpatialZeroPadding\(l=1, r=1, t=1, b=1\).*\[4, 5\]'):
        nn.SpatialZeroPadding(1).forward(rnd(4, 5))
    with pytest.raises(ValueError, match=r'input of size \[2, 3, 4\] is too small \(output would be 3x0\)'):
        nn.SpatialZeroPadding(-2, -2, 0, 0).forward(rnd(2, 3, 4))
    with pytest.raises(ValueError, match=r'nn\.SpatialReflectionPadding.*smaller than the input.*\[1, 3, 4\]'):
        nn.SpatialReflectionPadding(4, 0, 0, 0).forward(rnd(1, 3, 4))
    m = nn.SpatialReplicationPadding(1, 1, 1, 1)
    with pytest.raises(ValueError, match=r'gradOutput of size \[2, 5, 6\], got \[2, 5, 5\]'):
        m.backward(rnd(2, 3, 4), rnd(2, 5, 5))
    with pytest.raises(TypeError, match='pad_r must be an integer'):
        nn.SpatialZeroPadding(1, 1.5)


def test_replication_crop_of_the_whole_input_repeats_an_edge_pixel():
    """THNN clamps the source index: a crop of more than the 3 columns from the left with a pad on the right repeats
    the last column, from the right with a pad on the left the first (numpy's broadcast error before)."""
    x = np.arange(1.0, 7.0).reshape(1, 2, 3)
    m = nn.SpatialReplicationPadding(-4, 3, 0, 0)
    np.testing.assert_array_equal(m.forward(x).numpy(), [[[3, 3], [6, 6]]])
    np.testing.assert_array_equal(m.backward(x, np.ones((1, 2, 2))).numpy(), [[[0, 0, 2], [0, 0, 2]]])
    m = nn.SpatialReplicationPadding(4, -4, 0, 0)
    np.testing.assert_array_equal(m.forward(x).numpy(), [[[1, 1, 1], [4, 4, 4]]])
    np.testing.assert_array_equal(m.backward(x, np.ones((1, 2, 3))).numpy(), [[[3, 0, 0], [3, 0, 0]]])


def test_negative_pad_past_the_other_border():
    # a crop longer than the input on one side, a pad on the other: Torch7's zero padding fails (narrow to nothing),
    # THNN's reflection formula still reflects the index.  Zero padding gave zeros or numpy's broadcast error,
    # reflection numpy's broadcast error
    x = np.arange(15.).reshape(1, 3, 5)
    for pads in ((-5, 1, 0, 0), (-6, 2, 0, 0), (2, -6, 0, 0), (0, 0, -4, 4)):
        with pytest.raises(ValueError, match=r'nn\.SpatialZeroPadding\(.*\): the negative pads crop all of the input '
                                             r'of size \[1, 3, 5\]'):
            nn.SpatialZeroPadding(*pads).forward(x)
    g = np.array([[[1.], [2.], [3.]]])
    for pads in ((-6, 2, 0, 0), (2, -6, 0, 0)):        # THNN: column 2 * (5 - 6 - 1) + 6 = 2; 2 * 2 - 2 = 2
        m = nn.SpatialReflectionPadding(*pads)
        assert m.forward(x).numpy().tolist() == [[[2.], [7.], [12.]]]
        assert m.backward(x, g).numpy().tolist() == [[[0, 0, 1., 0, 0], [0, 0, 2., 0, 0], [0, 0, 3., 0, 0]]]


def test_buffers_reused():
    m = nn.SpatialReflectionPadding(2, 1, 1, 2)
    check_steady_state(m, rnd(2, 3, 5, 5), rnd(2, 3, 8, 8, seed=1))
    assert isinstance(m.__dict__['_rows'], np.ndarray)     # so check_steady_state saw it kept


@pytest.mark.parametrize('mode', list(CLASSES))
def test_save_load_roundtrip(mode, tmp_path):
    check_reloads(CLASSES[mode](2, -1, 1, 0), rnd(2, 3, 4, 5), tmp_path)


@pytest.mark.gpu
@pytest.mark.parametrize('mode', list(CLASSES))
def test_gpu_matches_cpu(mode):
    check_gpu(CLASSES[mode](2, -1, 1, 3).float(), CLASSES[mode](2, -1, 1, 3).cuda(), rnd(2, 3, 4, 5), rtol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize('double', [False, True])
@pytest.mark.parametrize('mode', list(CLASSES))
@pytest.mark.parametrize('pads', PADS + [(2, 2, 2, 2), (0, 0, 0, 0)])
def test_gpu_padding_kernels(mode, pads, double):
    from test_pooling import gpu_agrees
    gpu_agrees(lambda: CLASSES[mode](*pads), rnd(2, 3, 4, 5), double)
    gpu_agrees(lambda: CLASSES[mode](*pads), rnd(3, 4, 5), double)                       # a single image


@pytest.mark.gpu
@pytest.mark.parametrize('mode', ['zero', 'replicate'])
def test_gpu_padding_wider_than_the_input(mode):
    from test_pooling import gpu_agrees
    for pads in ((5, 6, 4, 7), (-1, 4, 3, -2), (4, -2, -1, 3)):
        gpu_agrees(lambda: CLASSES[mode](*pads), rnd(2, 2, 3, 4), double=True)
    gpu_agrees(lambda: CLASSES[mode](3, 1, 2, 4), rnd(2, 2, 1, 1))                      # a 1x1 image
    gpu_agrees(lambda: CLASSES[mode](2, 1, 0, 3), rnd(2, 2, 3, 4), strided=True)

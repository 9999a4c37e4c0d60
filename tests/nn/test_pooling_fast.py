"""SpatialMaxPooling's CPU fast paths on batch-last inputs (the layout a CPU convolution hands on inside a
Sequential): every tie pattern of a 2x2 window, NaN and -inf windows, against Torch7's rule by loops."""
import itertools

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.backend import kernels


def _loop_pool(x, k=2):
    """Torch7's max pooling (k x k, stride k) by loops: the first maximum in row-major order (THNN's
    ``val > maxval || isnan(val)`` start: NaN wins), output and flat in-plane indices."""
    n, c, H, W = x.shape
    oh, ow = H // k, W // k
    out = np.empty((n, c, oh, ow), x.dtype)
    idx = np.empty((n, c, oh, ow), np.int64)
    for i, j, oy, ox in itertools.product(range(n), range(c), range(oh), range(ow)):
        best, where = -np.inf, -1
        for y in range(oy * k, oy * k + k):
            for xx in range(ox * k, ox * k + k):
                v = x[i, j, y, xx]
                if v > best:
                    best, where = v, y * W + xx
        out[i, j, oy, ox], idx[i, j, oy, ox] = best, where
    return out, idx


def _batch_last(a, cls):
    return cls(np.ascontiguousarray(a.transpose(1, 2, 3, 0))).permute(3, 0, 1, 2)


def _all_tie_windows(n=16):
    """Planes of 2x2 windows holding every pattern of values from {0, 1, 2} (81 windows), over n samples."""
    pats = np.array(list(itertools.product((0., 1., 2.), repeat=4)))          # (81, 4)
    rs = np.random.default_rng(0)
    x = np.empty((n, 1, 2, 2 * 81))
    for s in range(n):
        p = pats[rs.permutation(81)]
        x[s, 0, 0, 0::2], x[s, 0, 0, 1::2], x[s, 0, 1, 0::2], x[s, 0, 1, 1::2] = p.T
    return x


@pytest.mark.parametrize('cls', [torch.DoubleTensor, torch.FloatTensor])
def test_every_tie_pattern_of_a_2x2_window_batch_last(cls):
    x = _all_tie_windows().astype(np.float64 if cls is torch.DoubleTensor else np.float32)
    want_out, want_idx = _loop_pool(x)
    pool = nn.SpatialMaxPooling(2, 2)
    net = nn.Sequential().add(pool).add(nn.Identity())
    net.type(cls().type())
    calls, fast = [], pool._max_2x2
    pool._max_2x2 = lambda *a: calls.append(1) or fast(*a)
    inp = _batch_last(x, cls)
    out = net.forward(inp)
    assert calls and pool.__dict__.get('_code_of') is not None      # the 2x2 path ran and kept its code
    assert kernels.batch_last(pool.output.numpy())        # the fast path ran (its output handed on batch-last)
    np.testing.assert_array_equal(out.numpy(), want_out)
    g = np.random.default_rng(1).standard_normal(want_out.shape).astype(x.dtype)
    gi = net.backward(inp, cls(g)).numpy()
    want_gi = np.zeros_like(x)
    n, c = x.shape[:2]
    for i, j in itertools.product(range(n), range(c)):
        want_gi[i, j].reshape(-1)[want_idx[i, j].reshape(-1)] += g[i, j].reshape(-1)
    np.testing.assert_array_equal(gi, want_gi)
    np.testing.assert_array_equal(pool.indices.numpy(), want_idx)


@pytest.mark.parametrize('special', [np.nan, -np.inf])
def test_nan_and_minus_inf_windows_take_the_general_path(special):
    x = _all_tie_windows()
    x[3, 0, 0, 4:8] = special           # two windows: their top rows, then a whole window
    x[3, 0, 1, 6:8] = special
    pool = nn.SpatialMaxPooling(2, 2)
    net = nn.Sequential().add(pool).add(nn.Identity()).double()
    ref = nn.SpatialMaxPooling(2, 2).double()
    out = net.forward(_batch_last(x, torch.DoubleTensor)).numpy()
    np.testing.assert_array_equal(out, ref.forward(torch.DoubleTensor(x)).numpy())
    np.testing.assert_array_equal(pool.indices.numpy(), ref.indices.numpy())

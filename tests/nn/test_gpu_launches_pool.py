"""On CUDA a steady forward + backward of each pooling, padding, up-sampling and LRN layer is a constant number of
kernel launches (one each way), with no host synchronization and no device allocation.  Counted with the CuPy
stand-in's counters (tests/fakecupy); skipped on a real CuPy, which has none."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import rnd, steady_step_counts

CASES = [
    # (module, input size, launches forward, launches backward)
    (lambda: nn.SpatialMaxPooling(2, 2, 2, 2), (64, 20, 24, 24), 1, 1),          # LeNet's two poolings
    (lambda: nn.SpatialMaxPooling(2, 2, 2, 2), (64, 50, 8, 8), 1, 1),
    (lambda: nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil(), (2, 3, 7, 8), 1, 1),
    (lambda: nn.SpatialMaxPooling(5, 5, 1, 1, 2, 2), (2, 3, 9, 9), 1, 1),
    (lambda: nn.SpatialMaxPooling(1, 1, 3, 3).ceil(), (2, 3, 7, 8), 1, 1),        # windows without a max
    (lambda: nn.SpatialMaxPooling(3, 3, 2, 2), (3, 7, 8), 1, 1),
    (lambda: nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1).ceil().setCountExcludePad(), (2, 3, 7, 8), 1, 1),
    (lambda: nn.SpatialAveragePooling(7, 7, 1, 1, 3, 3), (2, 3, 9, 9), 1, 1),
    (lambda: nn.SpatialAdaptiveMaxPooling(3, 2), (2, 3, 7, 8), 1, 1),
    (lambda: nn.SpatialAdaptiveMaxPooling(5, 5), (2, 3, 31, 17), 1, 1),
    (lambda: nn.SpatialAdaptiveAveragePooling(3, 2), (2, 3, 7, 8), 1, 1),
    (lambda: nn.TemporalMaxPooling(3, 1), (2, 9, 4), 1, 1),
    (lambda: nn.VolumetricMaxPooling(3, 3, 3, 2, 2, 2, 1, 1, 1).ceil(), (2, 2, 6, 7, 5), 1, 1),
    (lambda: nn.VolumetricAveragePooling(3, 2, 2, 1, 2, 1), (2, 3, 5, 6, 5), 1, 1),
    (lambda: nn.SpatialZeroPadding(2, -1, 1, 3), (2, 3, 4, 5), 1, 1),
    (lambda: nn.SpatialReflectionPadding(2, 1, 3, 2), (2, 3, 4, 5), 1, 1),
    (lambda: nn.SpatialReplicationPadding(5, 1, 3, 7), (2, 3, 4, 5), 1, 1),
    (lambda: nn.SpatialUpSamplingNearest(3), (2, 3, 4, 4), 1, 1),
    (lambda: nn.SpatialUpSamplingBilinear(3), (2, 3, 4, 4), 1, 1),
    (lambda: nn.SpatialUpSamplingBilinear({'oheight': 5, 'owidth': 9}), (2, 3, 4, 4), 1, 1),
    (lambda: nn.SpatialCrossMapLRN(5, 0.2), (2, 8, 4, 4), 1, 1),
    (lambda: nn.SpatialCrossMapLRN(2), (2, 3, 4, 4), 1, 1),
]


def _counters():
    import cupy
    if not hasattr(cupy, '_counters'):
        pytest.skip('a real CuPy: no launch counters (tests/fakecupy counts them)')
    return cupy._counters


@pytest.mark.gpu
@pytest.mark.parametrize('double', [False, True])
@pytest.mark.parametrize('make, shape, n_fwd, n_bwd', CASES)
def test_steady_step_launches_syncs_allocations(make, shape, n_fwd, n_bwd, double):
    counters = _counters()
    m = make().cudaDouble() if double else make().cuda()
    x = torch.DoubleTensor(rnd(*shape)).cudaDouble() if double else torch.FloatTensor(
        rnd(*shape).astype(np.float32)).cuda()
    g = m.forward(x).clone().uniform(-1, 1)
    assert steady_step_counts(m, x, g, counters) == (n_fwd, n_bwd, 0, 0), repr(m)


@pytest.mark.gpu
def test_launches_do_not_grow_with_kernel_batch_or_planes():
    counters = _counters()
    counts = set()
    for k, n, c in ((2, 1, 1), (3, 4, 5), (7, 2, 9)):
        m = nn.SpatialMaxPooling(k, k, 1, 1, k // 2, k // 2).cuda()
        x = torch.FloatTensor(rnd(n, c, 11, 10).astype(np.float32)).cuda()
        g = m.forward(x).clone().uniform(-1, 1)
        m.backward(x, g)
        before = counters['launches']
        m.forward(x)
        m.backward(x, g)
        counts.add(counters['launches'] - before)
    assert counts == {2}

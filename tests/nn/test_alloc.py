"""Torch7's rule: after the first call, forward/backward with unchanged sizes make no new arrays (outputs, gradients
and scratch live in buffers kept on the module).  Measured with tracemalloc on inputs of ~1 MB: a temporary the
size of the input (or of a per-sample vector) would show; numpy's own iteration buffers (8192 elements per
operand, ~100 KB at most) stay under the limit."""
import numpy as np
import pytest

from luatorch_py import nn
from nn_helpers import transient_peak

LIMIT = 200_000


def R(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _sign(n, seed=2):
    return np.where(np.random.default_rng(seed).uniform(size=n) > 0.5, 1, -1).astype(np.float32)


MODULES = {
    'Dropout': (lambda: nn.Dropout(0.5), R(256, 1024)),
    'SpatialDropout': (lambda: nn.SpatialDropout(0.5), R(64, 16, 16, 16)),
    'RReLU': (lambda: nn.RReLU(0.1, 0.3), R(256, 1024)),
    'Threshold': (lambda: nn.Threshold(0.1, -1), R(256, 1024)),
    'ReLU': (lambda: nn.ReLU(), R(256, 1024)),
    'Linear': (lambda: nn.Linear(1024, 256), R(256, 1024)),
    'BatchNormalization': (lambda: nn.BatchNormalization(1024), R(256, 1024)),
    'LogSoftMax': (lambda: nn.LogSoftMax(), R(256, 1024)),
    'SpatialConvolution': (lambda: nn.SpatialConvolution(16, 16, 3, 3, 1, 1, 1, 1), R(16, 16, 32, 32)),
    'SpatialMaxPooling': (lambda: nn.SpatialMaxPooling(2, 2, 2, 2), R(16, 16, 32, 32)),
    'SpatialAdaptiveAveragePooling': (lambda: nn.SpatialAdaptiveAveragePooling(7, 7), R(16, 16, 30, 30)),
    'LookupTable scaleGradByFreq': (lambda: nn.LookupTable(1000, 4, 3).scaleGradByFreq(),
                                    np.random.default_rng(1).integers(0, 1000, (256, 256))),
}

CRITERIONS = {
    'ClassNLLCriterion': (lambda: nn.ClassNLLCriterion(), R(65536, 4), np.arange(65536) % 4),
    'ClassNLLCriterion weights ignoreIndex': (lambda: nn.ClassNLLCriterion(np.arange(1, 5), True, 2),
                                              R(65536, 4), np.arange(65536) % 4),
    'CrossEntropyCriterion': (lambda: nn.CrossEntropyCriterion(), R(65536, 4), np.arange(65536) % 4),
    'MultiMarginCriterion': (lambda: nn.MultiMarginCriterion(2, np.arange(1, 5)), R(65536, 4), np.arange(65536) % 4),
    'MultiLabelMarginCriterion': (lambda: nn.MultiLabelMarginCriterion(), R(65536, 4),
                                  np.tile([[2, 0, -1, 1]], (65536, 1))),
    'CosineEmbeddingCriterion': (lambda: nn.CosineEmbeddingCriterion(0.1), [R(65536, 4), R(65536, 4, seed=1)],
                                 _sign(65536)),
    'MarginRankingCriterion': (lambda: nn.MarginRankingCriterion(0.1), [R(262144), R(262144, seed=1)],
                               _sign(262144)),
}


@pytest.mark.parametrize('name', sorted(MODULES))
def test_module_steps_allocate_nothing(name):
    make, x = MODULES[name]
    m = make().float()
    go = R(*m.forward(x).shape, seed=5)

    def step():
        m.forward(x)
        m.zeroGradParameters()
        m.backward(x, go)
    peak = transient_peak(step)
    assert peak < LIMIT, f"{name}: a forward/backward allocated {peak} bytes"


@pytest.mark.parametrize('name', sorted(CRITERIONS))
def test_criterion_steps_allocate_nothing(name):
    make, x, t = CRITERIONS[name]
    c = make().float()

    def step():
        c.forward(x, t)
        c.backward(x, t)
    peak = transient_peak(step)
    assert peak < LIMIT, f"{name}: a forward/backward allocated {peak} bytes"

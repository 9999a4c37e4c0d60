"""torch/tutorials' 2_supervised convnet (L2 pooling, subtractive normalization), built and saved by Lua Torch7:
../shared/fixtures/realmodels/tutorials_convnet.t7 and its _io file (README beside them)."""
import os

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from nn_helpers import rel_err


@pytest.fixture
def files(shared_dir):
    d = os.path.join(shared_dir, 'fixtures', 'realmodels')
    m, io = (os.path.join(d, f'tutorials_convnet{s}.t7') for s in ('', '_io'))
    if not os.path.exists(m):
        pytest.skip(f"{m} is absent")
    return m, io


def test_loads_and_matches_lua(files):
    m = torch.load(files[0])
    io = torch.load(files[1])
    names = [type(x).__name__ for x in m.modules]
    assert names[2] == 'SpatialLPPooling' and names[3] == 'SpatialSubtractiveNormalization'
    est = m.modules[3].meanestimator
    assert [type(x).__name__ for x in est.modules] == ['SpatialZeroPadding', 'SpatialConvolutionMap',
                                                      'SpatialConvolution', 'Replicate']
    assert est.modules[1].connTable.numpy().tolist() == [[i, i] for i in range(64)]    # 1-based in the file
    y = m.forward(io['input'])
    assert y.numpy().shape == (4, 10)
    assert rel_err(y.numpy(), io['output'].numpy()) < 1e-12


def test_python_build_matches_lua_parameters(files):
    """The model built here by 2_model.lua's code (manualSeed(123), the same kernel) holds Lua's parameters:
    every module draws from the stream in Torch7's order (SpatialConvolutionMap included)."""
    lua = torch.load(files[0])
    kernel = lua.modules[3].kernel.clone()     # image.gaussian1D(7), normalized (scale does not matter)
    torch.manualSeed(123)
    m = nn.Sequential()
    m.add(nn.SpatialConvolutionMM(3, 64, 5, 5))
    m.add(nn.Tanh())
    m.add(nn.SpatialLPPooling(64, 2, 2, 2, 2, 2))
    m.add(nn.SpatialSubtractiveNormalization(64, kernel))
    m.add(nn.SpatialConvolutionMM(64, 64, 5, 5))
    m.add(nn.Tanh())
    m.add(nn.SpatialLPPooling(64, 2, 2, 2, 2, 2))
    m.add(nn.SpatialSubtractiveNormalization(64, kernel))
    m.add(nn.Reshape(64 * 5 * 5))
    m.add(nn.Linear(64 * 5 * 5, 128))
    m.add(nn.Tanh())
    m.add(nn.Linear(128, 10))
    for a, b in zip(m.parameters()[0], lua.parameters()[0]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for i in (3, 7):
        ours, theirs = m.modules[i].meanestimator.modules, lua.modules[i].meanestimator.modules
        for j in (1, 2):
            np.testing.assert_allclose(ours[j].weight.numpy(), theirs[j].weight.numpy(), rtol=1e-15, atol=0)
            assert not ours[j].bias.numpy().any()
    io = torch.load(files[1])
    assert rel_err(m.forward(io['input']).numpy(), io['output'].numpy()) < 1e-12


def test_backward_and_roundtrip(files, tmp_path):
    """The Lua model trains here (gradients agree with finite differences through the whole net on a small
    input) and saves back to a file that loads with the same output."""
    m = torch.load(files[0])
    io = torch.load(files[1])
    x = io['input'].numpy()[:1]
    m.forward(x)
    g = np.random.default_rng(0).standard_normal((1, 10))
    m.zeroGradParameters()
    gi = m.backward(x, g).numpy().copy()
    # directional derivative check of gradInput
    d = np.random.default_rng(1).standard_normal(x.shape)
    eps = 1e-6
    fp = (m.forward(x + eps * d).numpy() * g).sum()
    fm = (m.forward(x - eps * d).numpy() * g).sum()
    assert abs((fp - fm) / (2 * eps) - (gi * d).sum()) < 1e-6 * max(1, abs((gi * d).sum()))
    path = str(tmp_path / 'convnet.t7')
    torch.save(path, m)
    m2 = torch.load(path)
    assert rel_err(m2.forward(io['input']).numpy(), io['output'].numpy()) < 1e-12


@pytest.mark.gpu
def test_cuda_forward(files):
    m = torch.load(files[0]).cuda()
    io = torch.load(files[1])
    y = m.forward(io['input'].float().cuda())
    assert y.type() == 'torch.CudaTensor'
    assert rel_err(y.float().numpy(), io['output'].numpy()) < 1e-4

"""dcgan.torch's generator and discriminator (../shared/fixtures/realmodels, built and saved by Lua Torch7) load and
give Lua's outputs, in the training mode they were saved in, to 1e-12 of the output's largest magnitude; saved
here and loaded again they still do.  (The other realmodels: test_nngraph.py (char_rnn_lstm),
test_realmodels_fns.py (fast_neural_style), test_realmodels_tutorials.py (tutorials_convnet).)"""
import os

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from nn_helpers import rel_err

REAL = '/work/shared/fixtures/realmodels'
CLASSES = {
    'dcgan_netG': {nn.Sequential, nn.SpatialFullConvolution, nn.SpatialBatchNormalization, nn.ReLU, nn.Tanh},
    'dcgan_netD': {nn.Sequential, nn.SpatialConvolution, nn.SpatialBatchNormalization, nn.LeakyReLU, nn.Sigmoid,
                   nn.View},
}


@pytest.fixture(params=sorted(CLASSES))
def model(request):
    name = request.param
    if not os.path.exists(os.path.join(REAL, name + '.t7')):
        pytest.skip('no realmodels fixtures')
    return name, torch.load(os.path.join(REAL, name + '.t7')), torch.load(os.path.join(REAL, name + '_io.t7'))


def test_dcgan_matches_lua(model, tmp_path):
    name, net, io = model
    assert {type(m) for m in net.listModules()} == CLASSES[name]
    assert net.train is True                    # saved in training mode: BatchNorm uses the batch statistics
    convs = [m for m in net.modules if isinstance(m, (nn.SpatialConvolution, nn.SpatialFullConvolution))]
    assert convs and all('bias' not in m.__dict__ or m.bias is None for m in convs)      # noBias(), as dcgan
    out = net.forward(io['input']).numpy()
    assert out.shape == io['output'].numpy().shape
    assert rel_err(out, io['output'].numpy()) < 1e-12
    # a backward runs (no Lua gradients in these _io files), then save, load: the same numbers
    net.zeroGradParameters()
    gi = net.backward(io['input'], torch.ones(*out.shape))
    assert gi.shape == io['input'].shape and np.isfinite(gi.numpy()).all()
    path = str(tmp_path / 'net.t7')
    torch.save(path, net)
    net2 = torch.load(path)
    assert rel_err(net2.forward(io['input']).numpy(), io['output'].numpy()) < 1e-12

"""fast-neural-style's model (../shared/fixtures/realmodels/fast_neural_style.t7, written by Lua Torch7): it holds three
classes of that repository (jcjohnson/fast-neural-style, fast_neural_style/*.lua), which a user provides in Python as
below, from the Lua sources' behaviour; then the file loads and matches Lua's output, gradInput and every gradient."""
import os

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.serialization import registerClass

from nn_helpers import J, TOL, D, rel_err, rnd, roundtrip

NAMES = ('nn.InstanceNormalization', 'nn.ShaveImage', 'nn.TotalVariation')


def user_classes():
    """The three classes, written as a user would: nn.Module subclasses with Torch7's field names, registered under
    the Lua names the file holds (``registerClass``; a ``__torch_name__`` in the class body does the same)."""

    class InstanceNormalization(nn.Module):
        """fast_neural_style/InstanceNormalization.lua: a SpatialBatchNormalization over the input viewed as
        1 x N*C x H x W (a batch of one: under nn's last version it uses its running statistics, mean 0, var 1)."""

        def __init__(self, nOutput, eps=1e-5):
            super().__init__()
            self.eps = eps
            self.nOutput = nOutput
            self.prev_N = -1
            self.weight = self._tcls(nOutput).uniform()
            self.bias = self._tcls(nOutput).zero()
            self.gradWeight = self._tcls(nOutput)
            self.gradBias = self._tcls(nOutput)

        def _bn(self, N):
            bn = self.__dict__.get('bn')
            if N != self.prev_N or bn is None or bn.type() != self.type():
                self.bn = nn.SpatialBatchNormalization(N * self.nOutput, self.eps).type(self.type())
                self.prev_N = N
            # Lua: self.bn.weight:repeatTensor(self.weight, N)
            C = self.nOutput
            self.bn.weight.view(N, C).copy(self.weight.view(1, C).expand(N, C))
            self.bn.bias.view(N, C).copy(self.bias.view(1, C).expand(N, C))
            return self.bn

        def updateOutput(self, input):
            N, C, H, W = input.size()
            assert C == self.nOutput
            bn = self._bn(N)
            bn.training()
            self.output = bn.forward(input.view(1, N * C, H, W)).viewAs(input)
            return self.output

        def updateGradInput(self, input, gradOutput):
            N, C, H, W = input.size()
            bn = self.bn
            bn.gradWeight.zero()
            bn.gradBias.zero()
            bn.training()
            self.gradInput = bn.backward(input.view(1, N * C, H, W), gradOutput.view(1, N * C, H, W)).viewAs(input)
            self.gradWeight.add(bn.gradWeight.view(N, C).sum(0).view(C))    # Lua accumulates here, not in
            self.gradBias.add(bn.gradBias.view(N, C).sum(0).view(C))        # accGradParameters
            return self.gradInput

    class ShaveImage(nn.Module):
        """fast_neural_style/ShaveImage.lua: crops ``size`` pixels off each border."""

        def __init__(self, size):
            super().__init__()
            self.size = size

        def updateOutput(self, input):
            s = self.size
            H, W = input.size(2), input.size(3)
            crop = input[:, :, s:H - s, s:W - s]
            self.output.resize(crop.size()).copy(crop)
            return self.output

        def updateGradInput(self, input, gradOutput):
            s = self.size
            H, W = input.size(2), input.size(3)
            self.gradInput.resizeAs(input).zero()
            self.gradInput[:, :, s:H - s, s:W - s].copy(gradOutput)
            return self.gradInput

    class TotalVariation(nn.Module):
        """fast_neural_style/TotalVariation.lua: the identity forward; backward adds ``strength`` times the
        gradient of the total-variation loss (of the first 3 planes, as the Lua code's x_diff has 3)."""

        def __init__(self, strength):
            super().__init__()
            self.strength = strength
            self.x_diff = self._tcls()
            self.y_diff = self._tcls()

        def updateOutput(self, input):
            self.output = input
            return self.output

        def updateGradInput(self, input, gradOutput):
            N, C, H, W = input.size()
            gi = self.gradInput.resizeAs(input).zero()
            self.x_diff.resize(N, 3, H - 1, W - 1).copy(input[:, :, :-1, :-1]).add(-1, input[:, :, :-1, 1:])
            self.y_diff.resize(N, 3, H - 1, W - 1).copy(input[:, :, :-1, :-1]).add(-1, input[:, :, 1:, :-1])
            gi[:, :, :-1, :-1].add(self.x_diff).add(self.y_diff)
            gi[:, :, :-1, 1:].add(-1, self.x_diff)
            gi[:, :, 1:, :-1].add(-1, self.y_diff)
            gi.mul(self.strength).add(gradOutput)
            return self.gradInput

    classes = (InstanceNormalization, ShaveImage, TotalVariation)
    for name, cls in zip(NAMES, classes):
        registerClass(name, cls, replace=True)     # (a docs example may have registered one already)
    return classes


@pytest.fixture
def classes():
    """The user classes, registered for this test only (nn.REGISTRY is global: other tests walk it)."""
    try:
        yield user_classes()
    finally:
        for name in NAMES:
            nn.REGISTRY.pop(name, None)


@pytest.fixture
def fixture_files(shared_dir):
    d = os.path.join(shared_dir, 'fixtures', 'realmodels')
    path = os.path.join(d, 'fast_neural_style.t7')
    if not os.path.exists(path):
        pytest.skip(f"{path} not found")
    return path, os.path.join(d, 'fast_neural_style_io.t7')


def test_unregistered_class_is_named(fixture_files):
    with pytest.raises(torch.T7Error if hasattr(torch, 'T7Error') else Exception, match='nn.InstanceNormalization'):
        torch.load(fixture_files[0])


def test_fast_neural_style_matches_lua(classes, fixture_files, tmp_path):
    InstanceNormalization, ShaveImage, TotalVariation = classes
    model = torch.load(fixture_files[0])
    io = torch.load(fixture_files[1])
    kinds = {type(m) for m in model.listModules()}
    assert {InstanceNormalization, ShaveImage, TotalVariation} <= kinds
    inorm = model.findModules(InstanceNormalization)[0]
    assert inorm and all(isinstance(m.bn, nn.SpatialBatchNormalization) for m in inorm)

    out = model.forward(io['input'])
    assert rel_err(out.numpy(), io['output'].numpy()) < 1e-12
    model.zeroGradParameters()
    gi = model.backward(io['input'], io['gradOutput'])
    assert rel_err(gi.numpy(), io['gradInput'].numpy()) < 1e-12
    grads = model.parameters()[1]
    assert len(grads) == len(io['gradParams']) == 62
    for g, want in zip(grads, io['gradParams']):
        assert rel_err(g.numpy(), want.numpy()) < 1e-12
    # the first parameter layer's gradients, as the file describes them
    assert 'SpatialConvolution 9x9 (3 -> 8)' in io['firstParamLayer']
    assert rel_err(grads[0].numpy(), io['gradWeight'].numpy()) < 1e-12
    assert rel_err(grads[1].numpy(), io['gradBias'].numpy()) < 1e-12

    # written back and read again: the same classes and numbers
    again = roundtrip(model, tmp_path)
    assert {type(m) for m in again.listModules()} == kinds
    assert rel_err(again.forward(io['input']).numpy(), io['output'].numpy()) < 1e-12


def test_batch_of_one_batchnorm_rule():
    """The README's rule the model depends on: BatchNormalization in training with a batch of one uses (and keeps)
    its running statistics."""
    bn = nn.SpatialBatchNormalization(4).double()
    bn.running_mean.copy(torch.DoubleTensor(np.arange(4.0)))
    bn.running_var.copy(torch.DoubleTensor(np.arange(1.0, 5.0)))
    x = rnd(1, 4, 3, 3)
    y = bn.forward(x).numpy()
    w, b = bn.weight.numpy(), bn.bias.numpy()
    want = (x - np.arange(4.0)[:, None, None]) / np.sqrt(np.arange(1.0, 5.0)[:, None, None] + 1e-5)
    want = want * w[:, None, None] + b[:, None, None]
    np.testing.assert_allclose(y, want, rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.arange(4.0))
    y2 = bn.forward(rnd(2, 4, 3, 3)).numpy()       # a batch of two: batch statistics, running ones updated
    assert abs(y2.mean()) < 1e-12 + abs(b).max() * 10 and not np.array_equal(bn.running_mean.numpy(), np.arange(4.0))


def test_user_classes_jacobian(classes):
    InstanceNormalization, ShaveImage, TotalVariation = classes
    torch.manualSeed(1)
    assert J.testJacobian(ShaveImage(1).double(), D(2, 3, 5, 6)) < TOL
    m = InstanceNormalization(3).double()
    x = D(2, 3, 4, 4)
    assert J.testJacobian(m, x) < TOL
    assert J.testJacobianParameters(m, x, m.weight, m.gradWeight) < TOL
    # TotalVariation's backward is not its forward's derivative (it adds the TV loss's): check against a loop
    tv = TotalVariation(0.5).double()
    x = rnd(1, 3, 4, 5)
    g = rnd(1, 3, 4, 5, seed=1)
    tv.forward(torch.DoubleTensor(x))
    gi = tv.backward(torch.DoubleTensor(x), torch.DoubleTensor(g)).numpy()
    want = g.copy()
    for c in range(3):
        for i in range(3):
            for j in range(4):
                dx = x[0, c, i, j] - x[0, c, i, j + 1]
                dy = x[0, c, i, j] - x[0, c, i + 1, j]
                want[0, c, i, j] += 0.5 * (dx + dy)
                want[0, c, i, j + 1] -= 0.5 * dx
                want[0, c, i + 1, j] -= 0.5 * dy
    np.testing.assert_allclose(gi, want, rtol=1e-12)


def test_fast_neural_style_batch_of_16_matches_lua(classes, fixture_files):
    """Sixteen copies of Lua's input: every row gives Lua's output, and gradInput's rows Lua's gradInput (a batch of
    16 is where the CPU convolutions hand on batch-last activations: the user's InstanceNormalization, which views
    its input as the Lua code does, must still get Torch7's contiguous layout)."""
    model = torch.load(fixture_files[0])
    io = torch.load(fixture_files[1])
    x = torch.cat([io['input']] * 16, 0)
    out = model.forward(x).numpy()
    gi = model.backward(x, torch.cat([io['gradOutput']] * 16, 0)).numpy()
    for i in (0, 15):
        assert rel_err(out[i:i + 1], io['output'].numpy()) < 1e-12
        assert rel_err(gi[i:i + 1], io['gradInput'].numpy()) < 1e-12

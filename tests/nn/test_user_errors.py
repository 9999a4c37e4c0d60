"""Errors a user meets, in words that name the module and the sizes (issue 13, F9 and the porting items)."""
import re

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

D = torch.DoubleTensor


@pytest.mark.parametrize('module, shape', [
    (lambda: nn.SpatialConvolution(3, 4, 3, 3), (0, 3, 8, 8)),
    (lambda: nn.SpatialDilatedConvolution(3, 4, 3, 3), (0, 3, 8, 8)),
    (lambda: nn.VolumetricConvolution(3, 4, 3, 3, 3), (0, 3, 8, 8, 8)),
    (lambda: nn.SpatialFullConvolution(3, 4, 3, 3), (0, 3, 8, 8)),
    (lambda: nn.SpatialAdaptiveMaxPooling(2, 2), (0, 3, 8, 8)),
    (lambda: nn.SpatialMaxPooling(2, 2), (0, 3, 8, 8)),
])
def test_empty_batch_names_the_module(module, shape):
    m = module()
    size = ', '.join(map(str, shape))
    with pytest.raises(ValueError, match='^' + re.escape(f'{m!r}: got an empty input (size [{size}])')):
        m.forward(D(*shape))


@pytest.mark.parametrize('name', ['SoftMax', 'LogSoftMax', 'SoftMin', 'SpatialSoftMax', 'SpatialLogSoftMax'])
def test_softmax_of_nothing(name):
    with pytest.raises(ValueError, match=rf'^nn.{name}: got an input with no values along dim 0 \(size \[0\]\)'):
        getattr(nn, name)().forward(D())
    # an empty batch of rows has nothing to normalize and stays empty (as before)
    assert getattr(nn, name)().forward(D(0, 5)).nElement() == 0


@pytest.mark.parametrize('crit', [nn.ClassNLLCriterion, nn.MultiMarginCriterion, nn.CrossEntropyCriterion])
@pytest.mark.parametrize('shape', [(0, 5), (0,)])
def test_class_criteria_with_empty_input(crit, shape):
    c = crit()
    size = ", ".join(map(str, shape))
    with pytest.raises(ValueError, match=rf'^{c!r}: got an (empty input|input with no values along dim 0) '
                                         rf'\(size \[{size}\]\)'):
        c.forward(D(*shape), torch.LongTensor(shape[0]))


def test_cross_entropy_errors_name_cross_entropy():
    c = nn.CrossEntropyCriterion()
    with pytest.raises(ValueError, match=r'^nn.CrossEntropyCriterion: target 7 \(sample 2\) is out of range for 5'):
        c.forward(D(3, 5).zero(), torch.LongTensor([0, 1, 7]))
    with pytest.raises(ValueError, match=r'^nn.CrossEntropyCriterion: expected a target of size \[3\]'):
        c.forward(D(3, 5).zero(), torch.LongTensor([0, 1]))
    with pytest.raises(ValueError, match=r'^nn.CrossEntropyCriterion: expected a target of size \[3\]'):
        c.backward(D(3, 5).zero(), torch.LongTensor([0, 1]))
    assert c.forward(D(3, 5).zero(), torch.LongTensor([0, 1, 4])) == pytest.approx(np.log(5))


def test_base_criterion_says_what_to_override():
    class MyLoss(nn.Criterion):
        pass
    with pytest.raises(NotImplementedError, match=r'^MyLoss: a criterion defines updateOutput\(input, target\)'):
        MyLoss().forward(D(3), D(3))
    with pytest.raises(NotImplementedError, match=r'^Criterion: a criterion defines updateGradInput'):
        nn.Criterion().backward(D(3), D(3))


def test_huge_sizes_are_a_size_error():
    with pytest.raises(ValueError, match=r'^torch.DoubleTensor: size 4611686018427387904x4 is 2\*\*64|'
                                         r'^torch.DoubleTensor: size 4611686018427387904x4 is 18446744073709551616 '
                                         r'elements, more than can be addressed'):
        torch.DoubleTensor(2**62, 4)
    with pytest.raises(ValueError, match=r'^torch.FloatStorage: a size of 4611686018427387904 elements'):
        torch.FloatStorage(2**62)
    with pytest.raises(ValueError, match='more than can be addressed'):
        D(2).resize(2**62, 2)


def test_fill_takes_numbers_only():
    t = D(3).fill(2)
    for bad in (None, '3', [1]):
        with pytest.raises(TypeError, match=r'^fill: expected a number, got'):
            t.fill(bad)
    assert t.tolist() == [2, 2, 2]
    assert t.fill(np.float32(1.5)).tolist() == [1.5] * 3 and t.fill(np.array(4.0)).tolist() == [4] * 3
    assert torch.ByteTensor(2).fill(True).tolist() == [1, 1]


def test_container_get_out_of_range():
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    assert net.get(2) is net.modules[2] and net.get(-1) is net.modules[2]
    with pytest.raises(IndexError, match=r"^nn.Sequential.get\(3\): no module at this index, the container holds 3 "
                                         r"modules \(0-based: 0 to 2"):
        net.get(3)
    with pytest.raises(IndexError, match=r'nn.Concat.get\(0\): the container is empty'):
        nn.Concat(0).get(0)


def test_one_numbering_in_print_errors_and_get():
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(4, 1))
    lines = repr(net).split('\n')
    assert lines[1] == '  [input -> (0) -> (1) -> (2) -> output]' and lines[4] == '  (2): nn.Linear(4 -> 1)'
    with pytest.raises(ValueError) as e:
        net.forward(D(5, 2).zero())
    assert str(e.value).endswith('in module (2) of nn.Sequential') and 'nn.Linear(4 -> 1)' in str(e.value)
    assert repr(net.get(2)) == 'nn.Linear(4 -> 1)'


def test_integer_input_suggests_converting_the_input():
    with pytest.raises(TypeError) as e:
        nn.Linear(2, 3).forward(torch.LongTensor([[1, 2]]))
    msg = str(e.value)
    assert msg == ("nn.Linear(2 -> 3): expected input of type torch.DoubleTensor, got a torch.LongTensor (convert the "
                   "input with .type('torch.DoubleTensor'))")
    with pytest.raises(TypeError, match=r"convert the module with .type\('torch.FloatTensor'\) or the input"):
        nn.Linear(2, 3).forward(torch.FloatTensor(2))


class _Scaled(nn.Module):
    """A user module in Torch7's style: its own parameter fields, listed by parameters()."""

    def __init__(self, n):
        super().__init__()
        self.w = D(n).fill(1)
        self.gw = D(n).zero()

    def parameters(self):
        return [self.w], [self.gw]

    def updateOutput(self, input):
        self.output = D(input.shape).copy(input).cmul(self.w)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = D(input.shape).copy(gradOutput).cmul(self.w)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        self.gw.addcmul(scale, input, gradOutput)


@pytest.mark.parametrize('wrap', [False, True])
def test_overridden_parameters_are_trained(wrap):
    m = _Scaled(3)
    net = nn.Sequential(m) if wrap else m
    x, target = D([1.0, 2.0, 3.0]), D([2.0, 2.0, 2.0])
    crit = nn.MSECriterion()
    losses = []
    for _ in range(3):
        net.zeroGradParameters()
        losses.append(crit.forward(net.forward(x), target))
        net.backward(x, crit.backward(net.output, target))
        net.updateParameters(0.1)
    # by hand: gw = 2/3 (w x - t) x
    w = np.ones(3)
    xs, ts = np.array([1.0, 2, 3]), np.full(3, 2.0)
    for _ in range(3):
        w -= 0.1 * 2 / 3 * (w * xs - ts) * xs
    np.testing.assert_allclose(m.w.numpy(), w, rtol=1e-12)
    assert losses[2] < losses[0]
    net.zeroGradParameters()
    assert m.gw.tolist() == [0, 0, 0]


class _UserContainer(nn.Sequential):
    """A container that trains only its first module."""

    def parameters(self):
        return self.modules[0].parameters()


def test_container_overriding_parameters():
    net = _UserContainer(nn.Linear(2, 2), nn.Linear(2, 2))
    for m in net.modules:
        m.gradWeight.fill(1)
        m.gradBias.fill(1)
    w0, w1 = net.get(0).weight.clone(), net.get(1).weight.clone()
    net.updateParameters(0.5)
    np.testing.assert_allclose(net.get(0).weight.numpy(), w0.numpy() - 0.5)
    np.testing.assert_array_equal(net.get(1).weight.numpy(), w1.numpy())
    net.zeroGradParameters()
    assert net.get(0).gradWeight.sum() == 0 and net.get(1).gradWeight.sum() == 4


def test_empty_inputs_on_each_device(device):
    def on(x):
        return x.cuda() if device == 'cuda' else x
    conv = nn.SpatialConvolution(3, 4, 3, 3)
    sm, nll = nn.LogSoftMax(), nn.ClassNLLCriterion()
    if device == 'cuda':
        conv, sm, nll = conv.cuda(), sm.cuda(), nll.cuda()
    with pytest.raises(ValueError, match=r'got an empty input \(size \[0, 3, 8, 8\]\)'):
        conv.forward(on(D(0, 3, 8, 8)))
    with pytest.raises(ValueError, match=r'^nn.LogSoftMax: got an input with no values along dim 0'):
        sm.forward(on(D()))
    with pytest.raises(ValueError, match=r'^nn.ClassNLLCriterion: got an empty input \(size \[0, 5\]\)'):
        nll.forward(on(D(0, 5)), on(torch.LongTensor(0)))

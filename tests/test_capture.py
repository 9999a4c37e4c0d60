"""cutorch.captureStep (CUDA graphs of a training step) and the launches of one steady step.

gpu-marked: they run on a device, and on every CI run against tests/fakecupy (test_fake_gpu.py), whose graphs
replay the captured operations and whose counters count launches, host synchronizations and allocations."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn, optim, cutorch
from launch_counters import counters

pytestmark = pytest.mark.gpu


def xor_net():
    net = nn.Sequential()
    for m in (nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid()):
        net.add(m)
    x = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], np.float32)
    y = np.array([[0], [1], [1], [0]], np.float32)
    return net, nn.MSECriterion(), x, y


def mlp_net(batch=32):
    net = nn.Sequential()
    for m in (nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10), nn.LogSoftMax()):
        net.add(m)
    rng = np.random.default_rng(0)
    return net, nn.ClassNLLCriterion(), rng.random((batch, 784), np.float32), rng.integers(0, 10, batch)


def lenet_net(batch=8):
    net = nn.Sequential()
    for m in (nn.SpatialConvolution(1, 20, 5, 5), nn.ReLU(), nn.SpatialMaxPooling(2, 2, 2, 2),
              nn.SpatialConvolution(20, 50, 5, 5), nn.ReLU(), nn.SpatialMaxPooling(2, 2, 2, 2), nn.View(800),
              nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10), nn.LogSoftMax()):
        net.add(m)
    rng = np.random.default_rng(0)
    return net, nn.ClassNLLCriterion(), rng.random((batch, 1, 28, 28), np.float32), rng.integers(0, 10, batch)


NETS = {'xor': xor_net, 'mlp': mlp_net, 'lenet': lenet_net}


def on_cuda(make, seed=1):
    torch.manualSeed(seed)
    net, crit, x, y = make()
    net.cuda()
    crit.cuda()
    X = torch.fromNumpy(x).cuda()
    Y = torch.fromNumpy(y).cuda()
    return net, crit, X, Y


def plain_step(net, crit, X, Y, lr):
    def step():
        net.zeroGradParameters()
        out = net.forward(X)
        loss = crit.forwardDevice(out, Y)
        net.backward(X, crit.backward(out, Y))
        net.updateParameters(lr)
        return loss
    return step


def sgd_step(net, crit, X, Y, state):
    """(a step running ``optim.sgd(feval, params, state)`` on the net's flat parameters and returning the device
    loss, those params)."""
    params, grads = net.getParameters()
    box = {}

    def feval(p):
        grads.zero()
        out = net.forward(X)
        box['loss'] = crit.forwardDevice(out, Y)
        net.backward(X, crit.backward(out, Y))
        return box['loss'], grads

    def step():
        optim.sgd(feval, params, state)
        return box['loss']
    return step, params


@pytest.mark.parametrize('name', sorted(NETS))
def test_replay_gives_the_numbers_of_the_plain_step(name):
    lr = 0.5 if name == 'xor' else 0.05
    a = on_cuda(NETS[name])
    b = on_cuda(NETS[name])
    plain = plain_step(*a, lr)
    captured = cutorch.captureStep(plain_step(*b, lr), inputs=(b[2], b[3]))
    for i in range(6):
        la = float(plain())
        lb = float(captured())
        assert lb == pytest.approx(la, rel=1e-6, abs=1e-7), (i, la, lb)
    assert captured.graph is not None and captured.replays == 4
    for p, q in zip(a[0].parameters()[0], b[0].parameters()[0]):
        np.testing.assert_allclose(q.float().numpy(), p.float().numpy(), rtol=1e-5, atol=1e-6)


def test_captured_optim_sgd_decays_its_learning_rate_like_the_eager_loop():
    """optim.sgd over getParameters (momentum, Nesterov, weight decay, learning-rate decay): the decay counter lives
    on the device, so replays follow the eager numbers, and the host evalCounter advances with each replay."""
    config = {'learningRate': 0.1, 'momentum': 0.9, 'dampening': 0, 'nesterov': True, 'weightDecay': 1e-3,
              'learningRateDecay': 0.5}
    runs = []
    for capture in (False, True):
        net, crit, X, Y = on_cuda(mlp_net)
        state = dict(config)
        step, params = sgd_step(net, crit, X, Y, state)
        run = cutorch.captureStep(step, inputs=(X, Y)) if capture else step
        runs.append(([float(run()) for _ in range(6)], params.float().numpy().copy(), state['evalCounter']))
    (la, pa, ca), (lb, pb, cb) = runs
    np.testing.assert_allclose(lb, la, rtol=1e-5)
    np.testing.assert_allclose(pb, pa, rtol=1e-5, atol=1e-6)
    assert ca == cb == 6


def test_a_host_synchronization_cannot_be_captured():
    net, crit, X, Y = on_cuda(xor_net)

    def step():
        net.zeroGradParameters()
        out = net.forward(X)
        loss = crit.forward(out, Y)           # a Python float: a device->host read
        net.backward(X, crit.backward(out, Y))
        return loss
    s = cutorch.captureStep(step, warmup=1)
    s()
    with pytest.raises(cutorch.CaptureError, match='synchronizes with the host.*forwardDevice'):
        s()


def test_host_inputs_cannot_be_captured():
    net, crit, X, Y = on_cuda(xor_net)
    x = X.float().numpy()
    s = cutorch.captureStep(lambda: net.forward(x), warmup=1)
    s()
    with pytest.raises(cutorch.CaptureError, match='host'):
        s()


def test_inputs_changed_after_the_capture_raise():
    net, crit, X, Y = on_cuda(xor_net)
    s = cutorch.captureStep(plain_step(net, crit, X, Y, 0.5), inputs=(X, Y), warmup=1)
    s()
    s()
    X.resize(2, 3)
    with pytest.raises(cutorch.CaptureError, match=r'inputs\[0\] changed.*\[4, 3\] -> \[2, 3\]'):
        s()


def test_an_allocation_during_capture_raises():
    net, crit, X, Y = on_cuda(xor_net)
    s = cutorch.captureStep(lambda: net.forward(X) * 2, warmup=1)     # `* 2` makes a new array each call
    s()
    with pytest.raises(cutorch.CaptureError, match='allocated device memory'):
        s()


def test_capture_step_checks_its_arguments():
    with pytest.raises(TypeError, match='function of no arguments'):
        cutorch.captureStep(3)
    with pytest.raises(TypeError, match=r'inputs\[0\] must be a CUDA tensor'):
        cutorch.captureStep(lambda: None, inputs=(torch.FloatTensor(2),))
    with pytest.raises(ValueError, match='warmup'):
        cutorch.captureStep(lambda: None, warmup=0)


# -- launches of one steady step (stand-in only: its counters count what would be kernel launches on a GPU) -------
LIMITS = {'xor': 30, 'mlp': 40, 'lenet': 90}


@pytest.mark.parametrize('name', sorted(LIMITS))
def test_launches_of_a_steady_step(name):
    c = counters()
    step = plain_step(*on_cuda(NETS[name]), 0.05)
    for _ in range(3):
        step()
    before = dict(c)
    step()
    launches, syncs, allocs = (c[k] - before[k] for k in ('launches', 'syncs', 'allocs'))
    print(f'{name}: {launches} launches, {syncs} syncs, {allocs} allocations per steady step')
    assert launches <= LIMITS[name], launches
    assert syncs == 0
    assert allocs == 0


def test_a_replay_is_one_launch():
    c = counters()
    net, crit, X, Y = on_cuda(lenet_net)
    s = cutorch.captureStep(plain_step(net, crit, X, Y, 0.05))
    for _ in range(3):
        s()
    before = c['launches']
    s()
    assert c['launches'] - before == 1


def test_a_failed_capture_leaves_no_hooks_behind():
    """A capture that fails, then succeeds at the next call: optim's evalCounter advances once per replay, not once
    per replay and per failed try."""
    net, crit, X, Y = on_cuda(mlp_net)
    state = {'learningRate': 0.1, 'learningRateDecay': 0.5}
    sgd, _ = sgd_step(net, crit, X, Y, state)
    calls = [0]

    def step():
        loss = sgd()
        calls[0] += 1
        if calls[0] == 3:                     # the first capture fails after optim registered its counter
            raise KeyError('once')
        return loss
    s = cutorch.captureStep(step, inputs=(X, Y))
    s(), s()
    with pytest.raises(cutorch.CaptureError, match='KeyError'):
        s()
    for _ in range(3):
        s()
    assert s.replays == 3
    assert state['evalCounter'] == 5


def test_a_failed_warm_up_call_is_not_a_warm_up():
    """The buffers are made by warm-up calls that ran through: one that raised leaves the capture to the next."""
    net, crit, X, Y = on_cuda(xor_net)
    plain, calls = plain_step(net, crit, X, Y, 0.5), [0]

    def step():
        calls[0] += 1
        if calls[0] == 1:
            raise KeyError('once')
        return plain()
    s = cutorch.captureStep(step, inputs=(X, Y), warmup=1)
    with pytest.raises(KeyError, match='once'):
        s()
    s()
    assert s.graph is None and s.eager == 1
    s()
    assert s.graph is not None and s.replays == 1


def test_a_capture_error_raised_by_the_step_keeps_its_own_message():
    """optim's own CaptureError (its evalCounter changed after the warm-up) is not re-explained as a host sync."""
    net, crit, X, Y = on_cuda(xor_net)
    state = {'learningRate': 0.1, 'learningRateDecay': 0.5}
    step, _ = sgd_step(net, crit, X, Y, state)
    s = cutorch.captureStep(step, inputs=(X, Y))
    s(), s()
    state['evalCounter'] = 0
    with pytest.raises(cutorch.CaptureError) as e:
        s()
    assert str(e.value).startswith("captureStep: optim's state.evalCounter (0) was changed")
    assert 'synchronizes with the host' not in str(e.value)

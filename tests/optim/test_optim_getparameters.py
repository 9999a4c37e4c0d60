"""Torch7's training idiom: getParameters() + feval + optim.<algorithm>, on an nn network."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn, optim


def xor_problem():
    torch.manualSeed(1)
    net = nn.Sequential().add(nn.Linear(2, 8)).add(nn.Tanh()).add(nn.Linear(8, 1)).add(nn.Sigmoid())
    x = torch.Tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = torch.Tensor([[0], [1], [1], [0]])
    return net, nn.MSECriterion(), x, y


@pytest.mark.parametrize('algo,config,steps', [
    ('sgd', {'learningRate': 0.5, 'momentum': 0.9}, 300),
    ('adam', {'learningRate': 0.05}, 300),
    ('rmsprop', {'learningRate': 0.01}, 300),
    ('lbfgs', {'maxIter': 20}, 10),
])
def test_feval_loop_trains_the_network(algo, config, steps):
    net, crit, x, y = xor_problem()
    params, gradParams = net.getParameters()
    assert params.nElement() == 2 * 8 + 8 + 8 + 1

    def feval(p):
        assert p is params
        gradParams.zero()
        out = net.forward(x)
        loss = crit.forward(out, y)
        net.backward(x, crit.backward(out, y))
        return loss, gradParams

    first = feval(params)[0]
    for _ in range(steps):
        _, fx = getattr(optim, algo)(feval, params, config)
    assert fx[0] < first * 0.2
    # the modules' weights are views of the flat vector that optim updated
    w = net.get(0).weight
    assert w.storage() is params.storage()
    assert np.array_equal(params.numpy()[:16], w.numpy().reshape(-1))


def test_sgd_step_equals_update_parameters():
    """One optim.sgd step with learningRate lr changes the weights as updateParameters(lr) does."""
    net_a, crit, x, y = xor_problem()
    net_b = net_a.clone()
    params, grads = net_a.getParameters()

    def feval(p):
        grads.zero()
        out = net_a.forward(x)
        loss = crit.forward(out, y)
        net_a.backward(x, crit.backward(out, y))
        return loss, grads

    optim.sgd(feval, params, {'learningRate': 0.3})
    net_b.zeroGradParameters()
    out = net_b.forward(x)
    crit.forward(out, y)
    net_b.backward(x, crit.backward(out, y))
    net_b.updateParameters(0.3)
    for pa, pb in zip(net_a.parameters()[0], net_b.parameters()[0]):
        np.testing.assert_allclose(pa.numpy(), pb.numpy(), rtol=1e-12, atol=1e-15)

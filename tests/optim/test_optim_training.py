"""A training loop in Torch7's style over a flat parameter tensor: linear regression with a hand-written
gradient, minibatch feval closures, sgd/adam/etc. carrying their state in one dict."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import optim

rs = np.random.RandomState(42)
N, D = 64, 3
X = rs.randn(N, D)
W_TRUE = np.array([1.5, -2.0, 0.5])
B_TRUE = 0.7
Y = X @ W_TRUE + B_TRUE + 0.01 * rs.randn(N)


@pytest.mark.parametrize('name,config,epochs', [
    ('sgd', {'learningRate': 0.05, 'momentum': 0.9}, 30),
    ('nag', {'learningRate': 0.05, 'momentum': 0.9}, 30),
    ('adam', {'learningRate': 0.05}, 60),
    ('rmsprop', {'learningRate': 0.01}, 80),
    ('adagrad', {'learningRate': 0.5}, 60),
])
def test_linear_regression(name, config, epochs):
    params = torch.DoubleTensor(D + 1).zero()        # flat: weights then bias, like getParameters()
    grad = torch.DoubleTensor(D + 1).zero()
    w, b = params.narrow(0, 0, D), params.narrow(0, D, 1)
    gw, gb = grad.narrow(0, 0, D), grad.narrow(0, D, 1)
    gtmp = torch.DoubleTensor(D)
    fn = getattr(optim, name)
    losses = []
    for _ in range(epochs):
        for start in range(0, N, 16):
            xb = torch.DoubleTensor(X[start:start + 16])
            yb = torch.DoubleTensor(Y[start:start + 16])

            def feval(p):
                assert p is params
                grad.zero()
                pred = torch.DoubleTensor(len(yb)).mv(xb, w).add(b[0])
                err = pred.add(-1, yb)                        # pred - y
                loss = err.dot(err) / len(yb)
                gw.add(2.0 / len(yb), gtmp.mv(xb.t(), err))    # d/dw = 2/n X'(pred - y)
                gb.add(2.0 * err.sum() / len(yb))
                return loss, grad

            _, fx = fn(feval, params, config)
            losses.append(fx[0])
    np.testing.assert_allclose(w.numpy(), W_TRUE, atol=0.02)
    assert b[0] == pytest.approx(B_TRUE, abs=0.02)
    assert losses[-1] < 1e-3 < losses[0]

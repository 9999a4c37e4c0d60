"""Adversarial review of the CPU speed tricks (lazy max-pooling indices, Linear/Sigmoid/MSECriterion hot paths,
batch-last activations): each case is checked against the plain computation (a module whose indices are held, the
net with nothing batch-last, numpy formulas)."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.backend import kernels


def _identity_conv_net(pool):
    """conv (identity 1x1) -> pool -> ReLU: inside a Sequential a batch of 16+ reaches the pooling batch-last."""
    conv = nn.SpatialConvolution(3, 3, 1, 1).double()
    conv.weight.zero()
    conv.bias.zero()
    for i in range(3):
        conv.weight.numpy()[i, i] = 1
    return nn.Sequential().add(conv).add(pool).add(nn.ReLU())


@pytest.mark.parametrize('n,in_seq', [(20, True), (4, False), (20, False)])
@pytest.mark.parametrize('hold', ['storage numpy', 'asarray storage'])
def test_indices_held_through_the_storage_array_stay_current(n, in_seq, hold):
    """The storage's own numpy buffer (``indices.storage().numpy()``) is not the tensor array's base (that is the
    as_strided wrapper): a user holding only it must still keep the indices from being left pending (was: stale)."""
    rs = np.random.default_rng(n)
    x1, x2 = (torch.DoubleTensor(rs.standard_normal((n, 3, 8, 8))) for _ in range(2))
    m = nn.SpatialMaxPooling(2, 2).double()
    f = _identity_conv_net(m).forward if in_seq else m.forward
    f(x1)
    st = m.indices.storage()
    held = st.numpy() if hold == 'storage numpy' else np.asarray(st)
    del st
    f(x2)
    seen = held.copy()              # read before anything reads m.indices
    ref = nn.SpatialMaxPooling(2, 2).double()
    ref.forward(torch.DoubleTensor(np.ascontiguousarray(x2.numpy())))
    assert m.__dict__.get('_idx_pending') is None
    np.testing.assert_array_equal(seen, m.indices.storage().numpy())
    np.testing.assert_array_equal(m.indices.numpy(), ref.indices.numpy())


def test_indices_still_deferred_when_nothing_holds_them():
    """(The fix above must not turn the lazy write off for a plain training loop.)"""
    m = nn.SpatialMaxPooling(2, 2).double()
    net = _identity_conv_net(m)
    x = torch.DoubleTensor(np.random.default_rng(1).standard_normal((20, 3, 8, 8)))
    for _ in range(3):
        net.forward(x)
    assert m.__dict__.get('_idx_pending') is not None


def test_linear_sigmoid_mse_hot_paths_follow_shared_and_edited_parameters():
    rs = np.random.default_rng(0)
    x, g = torch.DoubleTensor(rs.standard_normal((4, 3))), torch.DoubleTensor(rs.standard_normal((4, 2)))
    lin = nn.Linear(3, 2).double()
    for _ in range(3):
        lin.forward(x)
        lin.backward(x, g)
    c = lin.clone('weight', 'bias')
    c.forward(x)
    c.backward(x, g)
    lin.weight.numpy()[...] = 2.0          # through numpy, in place: the clone shares it
    want = x.numpy() @ lin.weight.numpy().T + lin.bias.numpy()
    np.testing.assert_allclose(c.forward(x).numpy(), want, rtol=1e-12)
    lin.zeroGradParameters()
    lin.forward(x)
    lin.backward(x, g, 0.5)
    lin.backward(x, g)
    np.testing.assert_allclose(lin.gradWeight.numpy(), 1.5 * g.numpy().T @ x.numpy(), rtol=1e-12)
    lin.noBias()
    np.testing.assert_allclose(lin.forward(x).numpy(), x.numpy() @ lin.weight.numpy().T, rtol=1e-12)
    s, crit = nn.Sigmoid().double(), nn.MSECriterion().double()
    t = torch.DoubleTensor(rs.standard_normal((4, 2)))
    for _ in range(2):
        s.forward(x)
        s.backward(x, x)
        crit.forward(x, x)
        crit.backward(x, x)
    s.output.numpy()[...] = 0.5            # the backward reads the output it holds now
    np.testing.assert_allclose(s.backward(x, x).numpy(), 0.25 * x.numpy(), rtol=1e-12)
    crit.sizeAverage = False
    y = lin.forward(x)
    assert crit.forward(y, t) == pytest.approx(((y.numpy() - t.numpy()) ** 2).sum(), rel=1e-12)
    np.testing.assert_allclose(crit.backward(y, t).numpy(), 2 * (y.numpy() - t.numpy()), rtol=1e-12)


def _enc_dec():
    torch.manualSeed(3)
    pool = nn.SpatialMaxPooling(2, 2)
    net = nn.Sequential().add(nn.SpatialConvolution(2, 4, 3, 3)).add(nn.ReLU()).add(pool).add(nn.Tanh())
    net.add(nn.SpatialMaxUnpooling(pool)).add(nn.SpatialConvolution(4, 3, 3, 3)).add(nn.Sigmoid())
    net.add(nn.View(-1).setNumInputDims(3)).add(nn.Linear(108, 2)).add(nn.Sigmoid())
    return net.double()


def test_batch_last_net_matches_the_contiguous_one_across_batch_sizes_and_backward_forms(monkeypatch):
    """Batch sizes crossing BATCH_LAST_MIN, accGradParameters with scale != 1, no zeroGradParameters between
    steps, gradInput = None on the first layer, getParameters() and a weight edited through numpy mid-run: every
    module's output and gradInput and every gradient equal the same run with nothing batch-last."""
    runs = []
    for lim in (kernels.BATCH_LAST_MIN, 10 ** 9):
        monkeypatch.setattr(kernels, 'BATCH_LAST_MIN', lim)
        net, seen = _enc_dec(), []
        net.zeroGradParameters()
        for step, n in enumerate((20, 20, 5, 16, 15, 20)):
            x = torch.DoubleTensor(np.random.default_rng(n).standard_normal((n, 2, 10, 10)))
            net.forward(x)
            g = torch.DoubleTensor(np.random.default_rng(n + 1).standard_normal((n, 2)))
            if step % 3 == 0:
                net.updateGradInput(x, g)
                net.accGradParameters(x, g, 0.5)
                net.accGradParameters(x, g, 0.25)
            elif step % 3 == 1:
                net.backward(x, g, 0.5)
                net.backward(x, g)
            else:
                net.get(0).gradInput = None
                net.backward(x, g)
            seen.append([m.output.clone().numpy() for m in net.modules]
                        + [m.gradInput.clone().numpy() for m in net.modules[1:]]
                        + [p.clone().numpy() for p in net.parameters()[1]] + [net.get(2).indices.clone().numpy()])
            if step == 3:
                net.getParameters()
            if step == 4:
                net.get(0).weight.numpy()[...] *= 0.5
        runs.append(seen)
    for a, b in zip(*runs):
        for u, v in zip(a, b):
            np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('tail', ['relu_inplace', 'identity', 'mulconstant_inplace', 'nested'])
def test_sequential_ending_in_a_pass_through_hands_back_a_contiguous_output(tail):
    """A net whose last module hands on its input (an in-place ReLU, Identity, ...) returned the previous
    convolution's batch-last output, so the caller's ``view`` (fine in Torch7) raised; now the caller gets the
    contiguous output (a copy the first time; the net then keeps to Torch7's layout), with the same values."""
    x = torch.DoubleTensor(np.random.default_rng(3).standard_normal((32, 3, 8, 8)))
    torch.manualSeed(2)
    conv = nn.SpatialConvolution(3, 4, 3, 3)
    mods = {'relu_inplace': lambda: [nn.ReLU(True)], 'identity': lambda: [nn.ReLU(), nn.Identity()],
            'mulconstant_inplace': lambda: [nn.MulConstant(2.0, True)],
            'nested': lambda: [nn.Sequential().add(nn.ReLU(True))]}[tail]()
    net = nn.Sequential().add(conv)
    for m in mods:
        net.add(m)
    net.double()
    ref = conv.clone()
    want = ref.forward(x).numpy().copy()
    want = want * 2 if tail == 'mulconstant_inplace' else np.maximum(want, 0)
    for _ in range(2):
        y = net.forward(x)
        np.testing.assert_allclose(y.view(32, -1).numpy(), want.reshape(32, -1), rtol=1e-12, atol=1e-12)
    assert y is net.get(len(net.modules) - 1).output       # (from the second call on: Torch7's aliasing)
    g = np.random.default_rng(5).standard_normal((32, 4, 6, 6))
    ref.zeroGradParameters()
    net.zeroGradParameters()
    mask = 2.0 if tail == 'mulconstant_inplace' else (want > 0)      # (in-place modules may write into g: copies)
    np.testing.assert_allclose(net.backward(x, torch.DoubleTensor(g.copy())).numpy(),
                               ref.backward(x, torch.DoubleTensor(g * mask)).numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.get(0).gradWeight.numpy(), ref.gradWeight.numpy(), rtol=1e-12)


def test_nested_sequential_that_feeds_the_next_module_stays_batch_last():
    inner = nn.Sequential().add(nn.SpatialConvolution(3, 4, 3, 3)).add(nn.ReLU(True))
    outer = nn.Sequential().add(inner).add(nn.SpatialMaxPooling(2, 2)).double()
    x = torch.DoubleTensor(np.random.default_rng(4).standard_normal((32, 3, 8, 8)))
    for _ in range(2):
        outer.forward(x)
    assert kernels.batch_last(inner.output.numpy()) and outer.output.isContiguous()

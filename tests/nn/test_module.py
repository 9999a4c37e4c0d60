"""The Module protocol itself, through nn.Sequential: forward/backward, parameter updates, getParameters,
clearState, type errors, printing."""
import re

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

from nn_helpers import J, TOL, D, check_reloads, jac, rnd, roundtrip, sigmoid
from fresh import fresh_stdout


def mlp(seed=1):
    torch.manualSeed(seed)
    return nn.Sequential().add(nn.Linear(3, 4)).add(nn.Sigmoid()).add(nn.Linear(4, 2))


def np_mlp(net, x, g):
    """(output, gradInput, [gW1, gb1, gW2, gb2]) of the 3-4-2 sigmoid MLP by hand."""
    W1, b1 = net.get(0).weight.numpy(), net.get(0).bias.numpy()
    W2, b2 = net.get(2).weight.numpy(), net.get(2).bias.numpy()
    h = sigmoid(x @ W1.T + b1)
    y = h @ W2.T + b2
    gh = g @ W2
    gz = gh * h * (1 - h)
    if x.ndim == 1:
        grads = [np.outer(gz, x), gz, np.outer(g, h), g]
    else:
        grads = [gz.T @ x, gz.sum(0), g.T @ h, g.sum(0)]
    return y, gz @ W1, grads


# -- forward / backward -------------------------------------------------------------------------------------
@pytest.mark.parametrize('shape', [(5, 3), (3,)])
def test_forward_backward_match_numpy(shape):
    net = mlp()
    x, g = rnd(*shape), rnd(*(shape[:-1] + (2,)), seed=1)
    y, gi, grads = np_mlp(net, x, g)
    np.testing.assert_allclose(net.forward(x).numpy(), y, rtol=1e-12)
    net.zeroGradParameters()
    np.testing.assert_allclose(net.backward(x, g).numpy(), gi, rtol=1e-10, atol=1e-14)
    for t, want in zip(net.parameters()[1], grads):
        np.testing.assert_allclose(t.numpy(), want, rtol=1e-10, atol=1e-14)
    # updateGradInput + accGradParameters is backward; the output is the last module's output
    assert net.output is net.get(2).output
    assert net.gradInput is net.get(0).gradInput


def test_backward_accumulates_and_scale():
    net = mlp()
    x, g = rnd(5, 3), rnd(5, 2, seed=1)
    _, _, grads = np_mlp(net, x, g)
    net.zeroGradParameters()
    net.forward(x)
    net.backward(x, g)
    net.backward(x, g, 0.5)
    for t, want in zip(net.parameters()[1], grads):
        np.testing.assert_allclose(t.numpy(), 1.5 * want, rtol=1e-10, atol=1e-14)
    net.zeroGradParameters()
    for t in net.parameters()[1]:
        assert not t.numpy().any()
    net.forward(x)
    net.updateGradInput(x, g)
    net.accGradParameters(x, g, 2)
    for t, want in zip(net.parameters()[1], grads):
        np.testing.assert_allclose(t.numpy(), 2 * want, rtol=1e-10, atol=1e-14)


def test_update_parameters_and_acc_update():
    x, g = rnd(5, 3), rnd(5, 2, seed=1)
    ref = mlp()
    _, gi, grads = np_mlp(ref, x, g)
    before = [p.numpy().copy() for p in ref.parameters()[0]]

    net = mlp()
    net.zeroGradParameters()
    net.forward(x)
    net.backward(x, g)
    net.updateParameters(0.1)
    for p, b, gr in zip(net.parameters()[0], before, grads):
        np.testing.assert_allclose(p.numpy(), b - 0.1 * gr, rtol=1e-10, atol=1e-14)

    # accUpdateGradParameters: the same step straight into the weights, the gradients left alone
    net = mlp()
    net.zeroGradParameters()
    net.forward(x)
    net.updateGradInput(x, g)
    net.accUpdateGradParameters(x, g, 0.1)
    for p, b, gr in zip(net.parameters()[0], before, grads):
        np.testing.assert_allclose(p.numpy(), b - 0.1 * gr, rtol=1e-10, atol=1e-14)
    for t in net.parameters()[1]:
        assert not t.numpy().any()

    # backwardUpdate: gradInput with the old weights, then the step
    net = mlp()
    net.zeroGradParameters()
    net.forward(x)
    np.testing.assert_allclose(net.backwardUpdate(x, g, 0.1).numpy(), gi, rtol=1e-10, atol=1e-14)
    for p, b, gr in zip(net.parameters()[0], before, grads):
        np.testing.assert_allclose(p.numpy(), b - 0.1 * gr, rtol=1e-10, atol=1e-14)
    for t in net.parameters()[1]:
        assert not t.numpy().any()


def test_backward_update_with_shared_weights_uses_old_weights():
    # Torch7: every gradInput first (old weights), then the updates; tied weights must not see a half update
    torch.manualSeed(2)
    a = nn.Linear(3, 3)
    b = a.clone('weight', 'bias')
    net = nn.Sequential(a, nn.Tanh(), b)
    x, g = rnd(4, 3), rnd(4, 3, seed=1)
    W, c = a.weight.numpy().copy(), a.bias.numpy().copy()
    z = x @ W.T + c
    h = np.tanh(z)
    gh = (g @ W) * (1 - h ** 2)
    want_gi = gh @ W
    net.zeroGradParameters()
    net.forward(x)
    np.testing.assert_allclose(net.backwardUpdate(x, g, 0.1).numpy(), want_gi, rtol=1e-10)
    # both uses of the tied weight contribute their gradient
    np.testing.assert_allclose(a.weight.numpy(), W - 0.1 * (g.T @ h + gh.T @ x), rtol=1e-10)
    np.testing.assert_allclose(b.bias.numpy(), c - 0.1 * (g.sum(0) + gh.sum(0)), rtol=1e-10)


def test_acc_update_without_bias_leaves_no_field_behind():
    m = nn.Linear(3, 2, False)
    w = m.weight.numpy().copy()
    x, g = rnd(4, 3), rnd(4, 2)
    m.forward(x)
    m.accUpdateGradParameters(x, g, 1)
    np.testing.assert_allclose(m.weight.numpy(), w - g.T @ x, rtol=1e-12)
    assert 'gradBias' not in m.__dict__ and 'bias' not in m.__dict__
    assert m.gradWeight is not m.weight


def test_call_forward_and_backward():
    net = mlp()
    x, g = rnd(5, 3), rnd(5, 2, seed=1)
    y, gi, _ = np_mlp(net, x, g)
    out = net(x)
    assert out is net.output
    np.testing.assert_allclose(out.numpy(), y, rtol=1e-12)
    out, gin = net(x, g)
    assert out is net.output and gin is net.gradInput
    np.testing.assert_allclose(gin.numpy(), gi, rtol=1e-10, atol=1e-14)


def test_sequential_jacobians():
    net = mlp().double()
    assert J.testJacobian(net, D(5, 3)) < TOL
    assert J.testJacobian(net, D(3)) < TOL


# nn.Jacobian.backward (parameters) calls accGradParameters without updateGradInput first, unlike Torch7's;
# a Sequential's accGradParameters needs the gradInputs of the modules after each one, so the parameter check of
# a Sequential is done here in Torch7's order


def test_sequential_parameter_jacobian_every_layer():
    """Torch7's order (updateGradInput, then accGradParameters) checked by hand for every parameter."""
    net = mlp().double()
    x = D(4, 3).copy(torch.DoubleTensor(rnd(4, 3)))
    out = net.forward(x)
    n_out = out.nElement()
    for p, gp in zip(*net.parameters()):
        jac_f = J.forward(net, x, p)
        jac_b = np.zeros_like(jac_f)
        for j in range(n_out):
            g = np.zeros(n_out)
            g[j] = 1
            g = g.reshape(out.numpy().shape)
            net.zeroGradParameters()
            net.forward(x)
            net.updateGradInput(x, g)
            net.accGradParameters(x, g)
            jac_b[:, j] = gp.numpy().reshape(-1)
        assert np.abs(jac_f - jac_b).max() < TOL


# -- parameters / getParameters -------------------------------------------------------------------------
def test_parameters_order():
    net = mlp()
    params, grads = net.parameters()
    l1, l2 = net.get(0), net.get(2)
    assert params == [l1.weight, l1.bias, l2.weight, l2.bias] or \
        all(a is b for a, b in zip(params, [l1.weight, l1.bias, l2.weight, l2.bias]))
    assert all(a is b for a, b in zip(grads, [l1.gradWeight, l1.gradBias, l2.gradWeight, l2.gradBias]))
    assert len(params) == 4
    assert nn.Sigmoid().parameters() == ([], [])


def test_get_parameters_views_modules():
    net = mlp()
    values = np.concatenate([p.numpy().reshape(-1) for p in net.parameters()[0]])
    flat, gflat = net.getParameters()
    assert flat.nElement() == 3 * 4 + 4 + 4 * 2 + 2 == gflat.nElement()
    np.testing.assert_array_equal(flat.numpy(), values)
    l1 = net.get(0)
    assert l1.weight.storage() is flat.storage() and l1.gradWeight.storage() is gflat.storage()
    flat.numpy()[:] = np.arange(flat.nElement())
    np.testing.assert_array_equal(l1.weight.numpy(), np.arange(12.).reshape(4, 3))
    np.testing.assert_array_equal(net.get(2).bias.numpy(), [24, 25])
    gflat.numpy()[:] = 0
    x, g = rnd(5, 3), rnd(5, 2, seed=1)
    net.forward(x)
    net.backward(x, g)
    np.testing.assert_array_equal(gflat.numpy(), np.concatenate([t.numpy().reshape(-1) for t in net.parameters()[1]]))
    assert np.abs(gflat.numpy()).sum() > 0


def test_get_parameters_twice_keeps_the_first_vector_connected():
    net = mlp()
    flat1, g1 = net.getParameters()
    flat2, g2 = net.getParameters()
    assert flat2.storage() is flat1.storage() and g2.storage() is g1.storage()
    np.testing.assert_array_equal(flat1.numpy(), flat2.numpy())
    flat1.numpy()[0] = 42
    assert net.get(0).weight.numpy()[0, 0] == 42


def test_get_parameters_with_shared_weights():
    net = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    net.get(1).share(net.get(0), 'weight', 'gradWeight')
    flat, gflat = net.getParameters()
    assert flat.nElement() == 9 + 3 + 3          # the shared weight counted once
    assert net.get(0).weight.storage() is net.get(1).weight.storage() is flat.storage()
    net.get(0).weight.numpy()[0, 0] = 7
    assert net.get(1).weight.numpy()[0, 0] == 7


def test_get_parameters_with_a_module_added_twice():
    """Torch7's tying by adding one module twice: its tensors come twice in parameters(); flattened once (the first
    entry re-pointed the tensor, and the second looked up the new storage: a KeyError)."""
    torch.manualSeed(1)
    lin = nn.Linear(3, 3)
    net = nn.Sequential(lin, nn.Tanh(), lin)
    w, b = lin.weight.numpy().copy(), lin.bias.numpy().copy()
    flat, gflat = net.getParameters()
    assert flat.nElement() == 12 and gflat.nElement() == 12
    np.testing.assert_array_equal(flat.numpy(), np.concatenate([w.reshape(-1), b]))
    assert lin.weight.storage() is flat.storage() and lin.gradBias.storage() is gflat.storage()
    flat.numpy()[0] = 42
    assert lin.weight.numpy()[0, 0] == 42


def test_type_keeps_one_tensor_held_twice_one_tensor():
    """A tensor held in two fields is one tensor after type() (Torch7's tensorCache[param]), so that getParameters,
    re-pointing the field parameters() lists, moves the other field too (two tensors over one storage were left
    apart: the other kept the old values)."""
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight, self.gradWeight = torch.Tensor(2, 2).fill(3), torch.Tensor(2, 2).zero()
            self.bias, self.gradBias = torch.Tensor(2).fill(4), torch.Tensor(2).zero()
            self.tied = self.weight

    m = Tied().float()
    assert m.tied is m.weight and m.weight.type() == 'torch.FloatTensor'
    flat, _ = m.getParameters()
    np.testing.assert_array_equal(flat.numpy(), [3, 3, 3, 3, 4, 4])
    flat.fill(1)
    np.testing.assert_array_equal(m.tied.numpy(), [[1, 1], [1, 1]])


@pytest.mark.parametrize('how', ['add', 'insert', 'replace'])
def test_a_layer_added_after_getParameters_is_zeroed_and_updated(how):
    """Torch7's fine-tuning idiom (net.modules[#net.modules] = nn.Linear(...)) or an add/insert after a getParameters
    (e.g. one that printed the parameter count): the container's zeroGradParameters and updateParameters reach the
    new layer too, as Torch7's per-module loop does."""
    net = mlp()
    net.getParameters()
    torch.manualSeed(2)
    new = {'add': nn.Linear(2, 2), 'insert': nn.Linear(4, 4), 'replace': nn.Linear(4, 3)}[how]
    if how == 'add':
        net.add(new)
    elif how == 'insert':
        net.insert(new, 2)
    else:
        net.modules[2] = new
    new.gradWeight.fill(5)
    new.gradBias.fill(5)
    net.zeroGradParameters()
    assert not new.gradWeight.numpy().any() and not new.gradBias.numpy().any()
    new.gradWeight.fill(1)
    w = new.weight.numpy().copy()
    net.updateParameters(0.5)
    np.testing.assert_array_equal(new.weight.numpy(), w - 0.5)


@pytest.mark.parametrize('copy', ['clone', 'pickle'])
def test_a_field_reassigned_in_a_copy_made_after_getParameters_is_updated(copy):
    """A copy of a net that had getParameters: a weight assigned in the copy afterwards is zeroed and updated by the
    copy's zeroGradParameters / updateParameters (the copied record of the flat vectors checked copies of the
    original's field dicts, not the copy's own, and kept updating the old weight)."""
    import pickle
    net = mlp()
    net.getParameters()
    c = net.clone() if copy == 'clone' else pickle.loads(pickle.dumps(net))
    lin = c.get(0)
    lin.weight = torch.Tensor(4, 3).fill(1)
    lin.gradWeight = torch.Tensor(4, 3).fill(1)
    c.updateParameters(0.5)
    np.testing.assert_array_equal(lin.weight.numpy(), np.full((4, 3), 0.5))
    c.zeroGradParameters()
    np.testing.assert_array_equal(lin.gradWeight.numpy(), np.zeros((4, 3)))


def test_update_parameters_without_a_gradient_says_which_module():
    """A parameter whose gradient field is gone (e.g. a net saved without them): an error naming the module and the
    field, in a container too (a bare KeyError 'gradWeight' before)."""
    lin = nn.Linear(3, 2)
    del lin.gradWeight
    w = lin.weight.numpy().copy()
    with pytest.raises(ValueError, match=r"nn.Linear\(3 -> 2\).updateParameters: expected a gradient 'gradWeight' "
                                         r"for its 'weight', got none"):
        nn.Sequential(lin).updateParameters(0.1)
    np.testing.assert_array_equal(lin.weight.numpy(), w)


def test_share_and_clone_want_the_field_names_as_arguments():
    """Lua-style names in one list: an error saying to pass them as arguments (an unhashable-type TypeError before;
    a number was ignored, leaving the field unshared)."""
    lin = nn.Linear(3, 2)
    with pytest.raises(TypeError, match=r"nn.Linear\(3 -> 2\).share: expected field names, each a str argument .*"
                                        r"got \['weight', 'bias'\] \(list\)"):
        lin.clone(['weight', 'bias'])
    with pytest.raises(TypeError, match=r"got 3 \(int\)"):
        nn.Sequential(nn.Linear(3, 2)).share(nn.Sequential(lin), 'weight', 3)
    c = lin.clone('weight', 'bias')
    assert c.weight.storage() is lin.weight.storage() and c.bias.storage() is lin.bias.storage()


def test_get_parameters_empty():
    flat, g = nn.Sequential(nn.Sigmoid()).getParameters()
    assert flat.nElement() == 0 and g.nElement() == 0


def test_get_parameters_then_type_keeps_sharing():
    net = mlp()
    net.getParameters()
    net.float()
    l1, l2 = net.get(0), net.get(2)
    assert l1.weight.type() == 'torch.FloatTensor'
    assert l1.weight.storage() is l2.bias.storage()
    assert l1.gradWeight.storage() is l2.gradBias.storage()
    flat, g = net.getParameters()   # already flat in the new type: views, no copy
    assert flat.storage() is l1.weight.storage() and flat.type() == 'torch.FloatTensor'
    flat.numpy()[:] = 1
    assert (l2.weight.numpy() == 1).all()


def test_float_and_double_pass_a_tensor_cache_on():
    """Torch7's float(...) / double(...) hand their argument (a tensorCache) to type(): two nets converted one after
    the other with one cache keep the parameters they share (float() took no argument)."""
    a = nn.Linear(3, 2)
    b = a.clone('weight', 'bias')
    cache = {}
    a.float(cache)
    b.float(cache)
    assert b.weight.type() == 'torch.FloatTensor'
    assert b.weight.storage() is a.weight.storage() and b.bias.storage() is a.bias.storage()
    assert b.gradWeight.storage() is not a.gradWeight.storage()
    cache = {}
    a.double(cache)
    b.double(cache)
    a.weight.fill(2)
    np.testing.assert_array_equal(b.weight.numpy(), np.full((2, 3), 2.0))


# -- modes, traversal, state ------------------------------------------------------------------------------------
def test_training_evaluate_propagate():
    net = nn.Sequential(mlp(), nn.Sigmoid())
    net.evaluate()
    assert all(m.train is False for m in net.listModules())
    net.training()
    assert all(m.train is True for m in net.listModules())


def test_evaluate_in_a_container_calls_the_modules_own_evaluate():
    # Torch7's Container:evaluate calls each module's evaluate(): WeightNorm's recomputes its weight from v and g,
    # which an update changed; setting the flags alone left the weight of the last training forward
    def run(direct):
        torch.manualSeed(3)
        wn = nn.WeightNorm(nn.Linear(3, 2))
        net = nn.Sequential(nn.Sequential(wn))
        x, g = torch.fromNumpy(rnd(4, 3)), torch.fromNumpy(rnd(4, 2, seed=1))
        net.forward(x)
        net.zeroGradParameters()
        net.backward(x, g)
        net.updateParameters(0.5)
        (wn if direct else net).evaluate()
        assert all(m.train is False for m in wn.listModules())
        return wn, net.forward(x).numpy().copy()
    wn, direct = run(True)
    v, gain = wn.v.numpy(), wn.g.numpy()
    w = gain[:, None] * v / np.sqrt((v * v).sum(1, keepdims=True) + 1e-4)   # (Torch7's 10e-5 in the norm)
    np.testing.assert_allclose(direct, rnd(4, 3) @ w.T + wn.bias.numpy(), rtol=1e-6)
    np.testing.assert_allclose(run(False)[1], direct, rtol=1e-12)


def test_list_and_find_modules():
    inner = mlp()
    net = nn.Sequential(inner, nn.Linear(2, 2))
    mods = net.listModules()
    assert [type(m).__name__ for m in mods] == ['Sequential', 'Sequential', 'Linear', 'Sigmoid', 'Linear', 'Linear']
    found, containers = net.findModules('nn.Linear')
    assert found == [inner.get(0), inner.get(2), net.get(1)] or \
        all(a is b for a, b in zip(found, [inner.get(0), inner.get(2), net.get(1)]))
    assert containers[0] is inner and containers[1] is inner and containers[2] is net
    found, containers = net.findModules('nn.Sequential')
    assert found[0] is net and containers[0] is net     # Torch7: the top module is its own container
    assert found[1] is inner and containers[1] is net
    assert net.findModules(nn.Sigmoid)[0][0] is inner.get(1)


def test_clear_state():
    net = mlp()
    x = rnd(5, 3)
    net.forward(x)
    net.backward(x, rnd(5, 2))
    net.clearState()
    for m in net.listModules():
        assert m.output.nElement() == 0 and m.gradInput.nElement() == 0
        assert not [k for k in m.__dict__ if k.startswith('_') and k not in ('_type', '_tinfo', '_tcls')]
    y, _, _ = np_mlp(net, x, rnd(5, 2))
    np.testing.assert_allclose(net.forward(x).numpy(), y, rtol=1e-12)


def test_numpy_input_taken_without_copy():
    m = nn.Linear(3, 4)
    x = rnd(5, 3)
    assert m._coerce(x)._a is x
    ident = nn.Identity()
    assert np.shares_memory(ident.forward(x).numpy(), x)
    x32 = rnd(5, 3).astype(np.float32)
    mf = nn.Linear(3, 4).float()
    assert np.shares_memory(mf._coerce(x32).numpy(), x32)
    np.testing.assert_allclose(mf.forward(x32).numpy(), x32 @ mf.weight.numpy().T + mf.bias.numpy(), rtol=1e-5)


# -- errors ------------------------------------------------------------------------------------------------
def test_type_error_names_both_types():
    net = mlp().float()
    with pytest.raises(TypeError) as e:
        net.forward(torch.DoubleTensor(rnd(5, 3)))
    msg = str(e.value)
    assert 'torch.FloatTensor' in msg and 'torch.DoubleTensor' in msg
    assert 'in module (0) of nn.Sequential' in msg


@pytest.mark.parametrize('bad', [np.ones((2, 3), complex), np.array([['a', 'b', 'c']]), np.array([[1, 2, 3]], object)])
def test_numpy_input_of_non_numbers_names_the_module(bad):
    # the tensor's own error before: "torch.DoubleTensor: expected numbers, got values of dtype complex128: array(..."
    m = nn.Linear(3, 2)
    with pytest.raises(TypeError, match=rf'^nn.Linear\(3 -> 2\): expected input of numbers, got a numpy array of dtype '
                                        rf'{re.escape(str(bad.dtype))}$'):
        m.forward(bad)
    with pytest.raises(TypeError, match=r'^nn.MSECriterion: expected target of numbers, got a numpy array of dtype '
                                        r'complex128$'):
        nn.MSECriterion().forward(np.ones(3), np.ones(3, complex))
    ok = np.ones((2, 3), np.float16)         # other numbers are converted, as before
    np.testing.assert_allclose(m.forward(ok).numpy(), ok @ m.weight.numpy().T + m.bias.numpy(), rtol=1e-12)


def test_size_error_says_where():
    net = mlp()
    with pytest.raises(ValueError) as e:
        net.forward(rnd(4, 5))
    msg = str(e.value)
    assert msg.startswith('nn.Linear(3 -> 4): expected input of size [*, 3] (1-D or 2-D), got [4, 5]')
    assert msg.endswith('in module (0) of nn.Sequential')
    # nested: each container adds its line, innermost first
    outer = nn.Sequential(nn.Identity(), mlp())
    with pytest.raises(ValueError) as e:
        outer.forward(rnd(4, 5))
    lines = str(e.value).split('\n')
    assert lines[-2:] == ['  in module (0) of nn.Sequential', '  in module (1) of nn.Sequential']
    # and in backward
    net.forward(rnd(4, 3))
    with pytest.raises(ValueError, match=r'(?s)expected gradOutput of size \[4, 2\].*in module \(2\) of nn.Sequential'):
        net.backward(rnd(4, 3), rnd(4, 3))


# -- printing, conversion, copies --------------------------------------------------------------------------
def test_repr():
    net = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid())
    assert repr(net) == ('nn.Sequential {\n  [input -> (0) -> (1) -> output]\n  (0): nn.Linear(3 -> 4)\n'
                         '  (1): nn.Sigmoid\n}')
    assert repr(nn.Sequential()) == 'nn.Sequential {\n  [input -> output]\n}'
    nested = nn.Sequential(nn.Sequential(nn.Tanh()), nn.Sigmoid())
    assert repr(nested) == (
        'nn.Sequential {\n'
        '  [input -> (0) -> (1) -> output]\n'
        '  (0): nn.Sequential {\n'
        '    [input -> (0) -> output]\n'
        '    (0): nn.Tanh\n'
        '  }\n'
        '  (1): nn.Sigmoid\n'
        '}')


def test_float_net_matches_double():
    net = mlp()
    x = rnd(5, 3)
    y = net.forward(x).numpy().copy()
    net.float()
    assert all(p.type() == 'torch.FloatTensor' for p in net.parameters()[0])
    assert net.type() == 'torch.FloatTensor' and net.get(1).type() == 'torch.FloatTensor'
    np.testing.assert_allclose(net.forward(x.astype(np.float32)).numpy(), y, rtol=1e-5, atol=1e-6)
    jac(net, 5, 3)


def test_clone_and_share():
    net = mlp()
    c = net.clone()
    assert c.get(0).weight.storage() is not net.get(0).weight.storage()
    np.testing.assert_array_equal(c.get(0).weight.numpy(), net.get(0).weight.numpy())
    c.get(0).weight.numpy()[0, 0] = 99
    assert net.get(0).weight.numpy()[0, 0] != 99
    s = net.clone('weight', 'bias')
    s.get(2).bias.numpy()[0] = 5
    assert net.get(2).bias.numpy()[0] == 5
    s.get(0).gradWeight.numpy()[0, 0] = 3
    assert net.get(0).gradWeight.numpy()[0, 0] != 3
    other = mlp(seed=2)
    other.share(net, 'weight')
    assert other.get(0).weight.storage() is net.get(0).weight.storage()
    assert other.get(0).bias.storage() is not net.get(0).bias.storage()


def test_steady_state_reuses_buffers():
    net = mlp()
    x, g = rnd(5, 3), rnd(5, 2, seed=1)
    net.forward(x)
    net.backward(x, g)
    arrays = [(m.output._a, m.gradInput._a) for m in net.modules]
    net.forward(x)
    net.backward(x, g)
    assert all(m.output._a is a and m.gradInput._a is b for m, (a, b) in zip(net.modules, arrays))


def test_save_load_roundtrip(tmp_path):
    check_reloads(mlp(), rnd(5, 3), tmp_path, rtol=1e-12)


@pytest.mark.parametrize('first', ['linear', 'conv', 'fullconv', 'temporal'])
def test_gradInput_none_skips_the_first_layers_input_gradient(first, tmp_path):
    """Torch7's idiom: ``module.gradInput = None`` makes Linear and the convolutions skip dL/dinput; the
    parameter gradients are unchanged, and the net still converts and saves."""
    def build():
        torch.manualSeed(2)
        first_layer, x, n = {
            'linear': (lambda: nn.Linear(6, 4), rnd(5, 6), 4),
            'conv': (lambda: nn.SpatialConvolution(2, 3, 3, 3), rnd(5, 2, 4, 4), 12),
            'fullconv': (lambda: nn.SpatialFullConvolution(2, 1, 2, 2), rnd(5, 2, 2, 2), 9),
            'temporal': (lambda: nn.TemporalConvolution(3, 2, 2), rnd(5, 4, 3), 6),
        }[first]
        return nn.Sequential().add(first_layer()).add(nn.Tanh()).add(nn.View(n)).add(nn.Linear(n, 2)), x
    (ref, x), (net, _) = build(), build()
    net.get(0).gradInput = None
    g = rnd(5, 2, seed=1)
    for m in (ref, net):
        m.zeroGradParameters()
        m.forward(D(*x.shape).copy(torch.fromNumpy(x)))
        m.backward(torch.fromNumpy(x), torch.fromNumpy(g))
    assert net.gradInput is None and ref.gradInput.size() == x.shape
    for a, b in zip(ref.parameters()[1], net.parameters()[1]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    net.float()
    assert net.get(0).gradInput is None
    back = roundtrip(net, tmp_path)
    assert back.get(0).gradInput is None
    back.forward(torch.FloatTensor(*x.shape).copy(torch.fromNumpy(x)))
    assert back.backward(torch.FloatTensor(*x.shape).zero(), torch.FloatTensor(5, 2).zero()) is None


def test_share_with_another_structure_is_an_error():
    # Torch7 fails on these (mlp.modules[i] is nil, set(nil)); they used to leave parameters silently unshared
    a = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2))
    b = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
    with pytest.raises(ValueError, match=r'nn.Sequential.share: it holds 3 modules, the container to share with 2'):
        a.share(b, 'weight')
    with pytest.raises(ValueError, match=r"nn.Linear\(2 -> 2\).share: expected nn.Tanh to have a tensor 'weight'"):
        nn.Sequential(nn.Linear(2, 2)).share(nn.Sequential(nn.Tanh()), 'weight')
    with pytest.raises(ValueError, match=r"expected nn.Linear\(2 -> 2\) without bias to have a tensor 'bias'"):
        nn.Linear(2, 2).share(nn.Linear(2, 2, False), 'weight', 'bias')
    # fewer modules here than there, and a field this module lacks, are fine (as in Torch7)
    b.share(a, 'weight', 'bias')
    assert b.get(0).weight.storage() is a.get(0).weight.storage()
    c, d = nn.Linear(2, 2, False), nn.Linear(2, 2)
    c.share(d, 'weight', 'bias')
    d.weight.fill(3)
    assert (c.weight.numpy() == 3).all() and 'bias' not in c.__dict__


def test_explicit_builtin_name_warns_before_the_builtin_file_loaded():
    """A user's class naming a built-in whose file has not loaded yet (nn's files load on first use) warns and
    keeps the built-in, as when the file had loaded (it registered silently, the built-in replacing it later)."""
    code = ("import sys, warnings\n"
            "from luatorch_py import nn\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    class MyTanh(nn.Module):\n"
            "        __torch_name__ = 'nn.Tanh'\n"
            "    class MyJust(nn.Module):\n"
            "        __torch_name__ = 'nngraph.JustTable'\n"
            "print([str(x.message).split(':')[0] for x in w])\n"
            "print(nn.REGISTRY['nn.Tanh'] is nn.Tanh, nn.REGISTRY['nngraph.JustTable'].__module__)\n")
    out = fresh_stdout(code).split('\n')
    assert out[0] == "['__main__.MyTanh', '__main__.MyJust']"
    assert out[1] == 'True luatorch_py.nngraph.modules'


def test_copies_leave_the_last_numpy_input_behind():
    # _coerce's cache of the last numpy input (a batch) went into clone / deepcopy / pickle: 8 MB for this Linear
    import copy
    import pickle
    m = nn.Linear(1000, 2)
    x = np.random.rand(500, 1000)
    y = m.forward(x).clone()
    for c in (m.clone(), copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert '_np_cache' not in c.__dict__
        np.testing.assert_array_equal(c.forward(x).numpy(), y.numpy())
    assert len(pickle.dumps(m)) < 100_000

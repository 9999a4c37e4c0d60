"""Torch7's result-first forms (luatorch_py/functions.py): ``torch.f(res, x, ...)`` writes into res, resized, and
returns it; ``res.zeros(2, 3)`` and the other constructor methods; ``torch.cat`` in all its forms."""
import numpy as np
import pytest

import luatorch_py as torch

X = np.array([[1.5, -2.0, 3.0], [-4.0, 5.0, 0.25]])


def T(a=X, tensortype='torch.DoubleTensor'):
    return torch.Tensor(np.asarray(a, np.float64)).type(tensortype)


@pytest.mark.parametrize('name, args, want', [
    ('abs', (T(),), np.abs(X)),
    ('exp', (T(),), np.exp(X)),
    ('sigmoid', (T(),), 1 / (1 + np.exp(-X))),
    ('add', (T(), T()), 2 * X),
    ('add', (T(), -0.5, T()), 0.5 * X),
    ('csub', (T(), T()), 0 * X),
    ('mul', (T(), 3), 3 * X),
    ('div', (T(), 4), X / 4),
    ('cmul', (T(), T()), X * X),
    ('cmax', (T(), 1.0), np.maximum(X, 1.0)),
    ('cmax', (T(), T(-X)), np.abs(X)),
    ('fmod', (T(), 1.5), np.fmod(X, 1.5)),
    ('clamp', (T(), -1, 1), np.clip(X, -1, 1)),
    ('mm', (T(), T(X.T)), X @ X.T),
    ('sum', (T(), 0), X.sum(0, keepdims=True)),
    ('prod', (T(), 1), X.prod(1, keepdims=True)),
    ('cumsum', (T(), 1), X.cumsum(1)),
    ('std', (T(), 1), X.std(1, ddof=1, keepdims=True)),
    ('diag', (T(),), np.diag(X)),
    ('addmm', (T(X @ X.T), T(), T(X.T)), 2 * X @ X.T),
    ('addcmul', (T(), 2, T(), T()), X + 2 * X * X),
])
def test_result_first_writes_into_res_and_returns_it(name, args, want):
    before = [a.numpy().copy() for a in args if isinstance(a, torch.Tensor)]
    res = torch.Tensor(7)                           # another size: resized as Torch7 does
    plain = getattr(torch, name)(*args)
    got = getattr(torch, name)(res, *args)
    assert got is res
    np.testing.assert_allclose(res.numpy(), want)
    np.testing.assert_allclose(plain.numpy(), want)  # the plain form still returns a new tensor
    for b, a in zip(before, [a for a in args if isinstance(a, torch.Tensor)]):
        np.testing.assert_array_equal(a.numpy(), b)   # the inputs are unchanged


@pytest.mark.parametrize('name', ['max', 'min', 'sort'])
def test_two_result_tensors(name):
    vals, idx = torch.Tensor(), torch.LongTensor()
    got = getattr(torch, name)(vals, idx, T(), 1)
    assert got[0] is vals and got[1] is idx and idx.type() == 'torch.LongTensor'
    if name == 'sort':
        np.testing.assert_array_equal(vals.numpy(), np.sort(X, 1))
        np.testing.assert_array_equal(idx.numpy(), np.argsort(X, 1))
    else:
        f = np.max if name == 'max' else np.min
        arg = np.argmax if name == 'max' else np.argmin
        np.testing.assert_array_equal(vals.numpy(), f(X, 1, keepdims=True))
        np.testing.assert_array_equal(idx.numpy(), arg(X, 1)[:, None])


def test_a_result_may_be_the_input():
    x = T()
    assert torch.abs(x, x) is x
    np.testing.assert_array_equal(x.numpy(), np.abs(X))


def test_plain_forms_of_two_tensors_stay_plain():
    a, b = T(), T(-X)
    np.testing.assert_array_equal(torch.mul(a, b).numpy(), -X * X)       # elementwise, nothing written into a
    np.testing.assert_array_equal(torch.cmax(a, b).numpy(), np.abs(X))
    np.testing.assert_array_equal(torch.add(a, 2, b).numpy(), X - 2 * X)
    np.testing.assert_array_equal(a.numpy(), X)


@pytest.mark.parametrize('name, args, size', [
    ('zeros', (2, 3), [2, 3]), ('ones', (3,), [3]), ('rand', (2, 2), [2, 2]), ('randn', (4,), [4]),
    ('eye', (2, 3), [2, 3]), ('linspace', (0, 3, 4), [4]), ('logspace', (0, 2, 3), [3]), ('range', (1, 4), [4]),
])
def test_constructors_result_first_and_method(name, args, size):
    torch.manualSeed(5)
    want = getattr(torch, name)(*args).numpy()
    for form in ('function', 'method'):
        torch.manualSeed(5)
        res = torch.Tensor(9, 9)
        got = getattr(torch, name)(res, *args) if form == 'function' else getattr(res, name)(*args)
        assert got is res and res.size().tolist() == size
        np.testing.assert_array_equal(res.numpy(), want)


def test_constructor_values_follow_lua():
    res = torch.Tensor()
    assert torch.range(res, 1, 4).tolist() == [1, 2, 3, 4]
    assert torch.linspace(res, 0, 3, 4).tolist() == [0, 1, 2, 3]
    assert torch.eye(res, 2, 3).tolist() == [[1, 0, 0], [0, 1, 0]]
    assert torch.ones(torch.IntTensor(), 2).type() == 'torch.IntTensor'
    torch.manualSeed(3)
    p = torch.randperm(5).tolist()
    torch.manualSeed(3)
    assert torch.randperm(torch.LongTensor(), 5).tolist() == p and sorted(p) == [0, 1, 2, 3, 4]


def test_cat_forms():
    a, b, c = T([[1, 2]]), T([[3, 4]]), T([[5, 6]])
    assert torch.cat(a, b).tolist() == [[1, 2, 3, 4]]                     # Torch7's default: the last dim
    assert torch.cat(a, b, 0).tolist() == [[1, 2], [3, 4]]                 # issue 12: cat(a, b, dim)
    assert torch.cat(a, b, -1).tolist() == [[1, 2, 3, 4]]
    assert torch.cat([a, b, c], 0).tolist() == [[1, 2], [3, 4], [5, 6]]
    res = torch.Tensor()
    assert torch.cat(res, a, b, 0) is res and res.tolist() == [[1, 2], [3, 4]]   # Torch7: cat(res, x1, x2, dim)
    assert torch.cat(res, [a, b, c], 1) is res and res.tolist() == [[1, 2, 3, 4, 5, 6]]
    assert res.cat(a, c, 0).tolist() == [[1, 2], [5, 6]]
    assert a.tolist() == [[1, 2]] and b.tolist() == [[3, 4]]
    with pytest.raises(TypeError, match='cat: expected'):
        torch.cat(a, b, 'x')
    with pytest.raises(TypeError, match='cat: expected tensors'):
        torch.cat([a, 3])


def test_lua_cases_of_these_forms(shared_dir):
    """Lua Torch7's own results for the result-first forms handled here (../shared/fixtures/t7/maths)."""
    import os
    path = os.path.join(shared_dir, 'fixtures', 't7', 'maths', 'maths_cases.t7')
    if not os.path.exists(path):
        pytest.skip(f"{path} absent")
    seq = lambda x: [x[i] for i in sorted(x)] if isinstance(x, dict) else list(x)   # noqa: E731
    names = {'abs', 'sign', 'exp', 'log', 'sqrt', 'sigmoid', 'tanh', 'floor', 'ceil', 'round', 'trunc', 'frac',
             'cos', 'sin', 'add', 'cmul', 'cdiv', 'addcmul', 'addcdiv', 'fmod', 'remainder', 'cfmod', 'addr', 'mm',
             'bmm', 'cmax', 'cmin', 'prod', 'std', 'var', 'diag', 'zeros', 'ones', 'range', 'linspace', 'randn',
             'randperm', 'cat', 'max', 'min', 'sort'}
    cases = [dict(c) for c in seq(torch.load(path))]
    cases = [c for c in cases if c['call'] == 'function' and c['fn'] in names and c.get('nres') and not c.get('via')]
    assert len(cases) >= 30
    for c in cases:
        args = seq(c['args'])
        for d in c.get('dims') and seq(c['dims']) or ():
            args[d - 1] -= 1                              # Lua's 1-based dim
        if c.get('seed') is not None:
            torch.manualSeed(int(c['seed']))
        got = getattr(torch, c['fn'])(*args)
        got = got if c.get('multi') else (got,)
        want = seq(c['result']) if c.get('multi') else [c['result']]
        for i, (g, w) in enumerate(zip(got, want)):
            assert g is args[i], c['form']
            have = g.numpy().astype(np.float64)
            if c['fn'] in ('max', 'min', 'sort', 'randperm') and (i == 1 or c['fn'] == 'randperm'):
                have = have + 1                            # 0-based indices here
            np.testing.assert_allclose(have, w.numpy(), rtol=1e-6 if c.get('float') else 1e-12,
                                       err_msg=c['form'])


def test_methods_take_a_result_first_as_lua():
    """Lua's res:sum(x, 2) is torch.sum(res, x, 2): self is the result."""
    x = T()
    res, idx = torch.Tensor(), torch.LongTensor()
    assert res.sum(x, 0) is res and res.numpy().tolist() == X.sum(0, keepdims=True).tolist()
    assert x.sum(0).numpy().tolist() == X.sum(0, keepdims=True).tolist() and x.sum() == X.sum()
    got = res.max(idx, x, 1)
    assert got[0] is res and got[1] is idx and idx.numpy().ravel().tolist() == X.argmax(1).tolist()
    assert res.gather(x, 1, torch.LongTensor([[2], [0]])) is res and res.numpy().ravel().tolist() == [3.0, -4.0]
    assert idx.nonzero(x) is idx and idx.size().tolist() == [6, 2]
    b = torch.ByteTensor()
    assert b.lt(x, 0) is b and b.numpy().tolist() == (X < 0).tolist()
    assert x.lt(0).numpy().tolist() == (X < 0).tolist()            # the plain forms stay
    assert x.lt(T(-X)).numpy().tolist() == (X < -X).tolist()


def test_max_min_elementwise_forms():
    a, b, res = T(), T(-X), torch.Tensor()
    assert torch.max(a, b).numpy().tolist() == np.abs(X).tolist()              # Torch7's torch.max(x, y)
    assert torch.min(res, a, b) is res and res.numpy().tolist() == (-np.abs(X)).tolist()
    assert a.max(b).numpy().tolist() == np.abs(X).tolist()

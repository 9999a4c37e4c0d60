"""The CPU hot path of training (issue 10): bounded scratch in backend.addmm / sub_scaled, Linear's one-pass
backward, the parameters() dispatch of zeroGradParameters / updateParameters, and the lazily loaded kernel modules.
Every fast path is checked against the plain computation it replaces."""
import os
import subprocess
import sys

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import backend, nn
from fresh import fresh_stdout


def R(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


class _Bufs:
    """A stand-in for a module's ``_buffer``: records the shapes asked for."""

    def __init__(self, dtype=np.float64):
        self.arrays = {}
        self.dtype = dtype

    def __call__(self, name, shape):
        a = self.arrays.get(name)
        if a is None or a.shape != shape:
            a = self.arrays[name] = np.empty(shape, self.dtype)
        return a


# -- backend.addmm: out += alpha * a @ b ---------------------------------------------------------------------
@pytest.mark.parametrize('alpha', [1.0, 0.5, -2.0])
@pytest.mark.parametrize('start', ['zero', 'values', 'negzero'])
def test_addmm_large_matches_plain_and_keeps_scratch_bounded(alpha, start):
    m, k, n = 700, 9, 300                   # 210000 elements > _CHUNK: the large path
    assert m * n > backend._CHUNK
    a, b = R(k, m, seed=1).T, R(k, n, seed=2)     # a transposed view, as Linear's g.T
    out = {'zero': np.zeros((m, n)), 'values': R(m, n, seed=3), 'negzero': np.full((m, n), -0.0)}[start]
    want = out + alpha * (a @ b)
    bufs = _Bufs()
    backend.addmm(out, a, b, alpha, bufs, '_gw')
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    assert all(x.size <= backend._CHUNK for x in bufs.arrays.values())
    if start == 'zero':
        assert not bufs.arrays      # all +0.0: written in place, no scratch at all


def test_addmm_small_goes_through_the_module_buffer():
    out, a, b = R(4, 3), R(5, 4).T, R(5, 3)
    want = out + 0.25 * (a @ b)
    bufs = _Bufs()
    backend.addmm(out, a, b, 0.25, bufs, '_gw')
    np.testing.assert_allclose(out, want, rtol=1e-13)
    assert bufs.arrays['_gw'].shape == (4, 3)


@pytest.mark.parametrize('alpha', [1.0, -0.5])
def test_addmm_small_wide_is_the_transposed_product(alpha):
    # 6 x 150: more columns than rows (by _WIDE), so (b.T @ a.T).T, added back transposed
    m, k, n = 6, 40, 150
    assert n >= backend._WIDE * m and m * n <= backend._CHUNK
    out, a, b = R(m, n, seed=1), R(m, k, seed=2), R(n, k, seed=3).T      # b a transposed view, as cols.T
    want = out + alpha * (a @ b)
    bufs = _Bufs()
    backend.addmm(out, a, b, alpha, bufs, '_gw')
    np.testing.assert_allclose(out, want, rtol=1e-13, atol=1e-13)
    scratch = bufs.arrays['_gw']
    assert scratch.shape == (n, m)                  # the transposed product's own scratch
    backend.addmm(out, a, b, alpha, bufs, '_gw')    # ... kept: no allocation on the next call
    assert bufs.arrays['_gw'] is scratch
    np.testing.assert_allclose(out, want + alpha * (a @ b), rtol=1e-13, atol=1e-13)


def test_addmm_small_narrow_is_not_transposed():
    out, a, b = R(60, 50), R(60, 7), R(7, 50)       # fewer columns than rows: the plain product
    want = out + a @ b
    bufs = _Bufs()
    backend.addmm(out, a, b, 1.0, bufs, '_gw')
    assert bufs.arrays["_gw"].shape == (60, 50)
    np.testing.assert_allclose(out, want, rtol=1e-13, atol=1e-13)


# -- backend.add_sums: out += alpha * g.sum(axis) (bias gradients) ---------------------------------------------
@pytest.mark.parametrize('axis', [0, 1])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('layout', ['C', 'F'])
def test_add_sums_long_is_a_product_with_ones(axis, dtype, layout, monkeypatch):
    monkeypatch.setattr(backend, '_ones', {})          # (so that the check below sees this call's path alone)
    n = 3 * backend._SUM_GEMV_MIN + 5                  # a long sum: BLAS's product with a kept vector of ones
    shape = (7, n) if axis == 1 else (n, 7)
    g = R(*shape, seed=8, dtype=dtype)
    g = np.asfortranarray(g) if layout == 'F' else g
    out = R(7, seed=9, dtype=dtype)
    want = out.astype(np.float64) + 0.5 * g.astype(np.float64).sum(axis=axis)
    backend.add_sums(out, g, axis, 0.5, _Bufs(dtype), '_gb')
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)
    assert (n, np.dtype(dtype)) in backend._ones      # (the path taken)


def test_add_sums_beyond_the_kept_ones_is_numpy_sum_exactly(monkeypatch):
    monkeypatch.setattr(backend, '_SUM_GEMV_MAX', 2 * backend._SUM_GEMV_MIN)   # (no 8 MB vector kept per length)
    monkeypatch.setattr(backend, '_ones', {})          # (another test's vector of this length does not count)
    g = R(5, 3 * backend._SUM_GEMV_MIN, seed=12, dtype=np.float32)
    out = np.zeros(5, np.float32)
    backend.add_sums(out, g, 1, 1.0, _Bufs(np.float32), '_gb')
    np.testing.assert_array_equal(out, np.add.reduce(g, axis=1))
    assert (g.shape[1], g.dtype) not in backend._ones


def test_add_sums_short_or_strided_is_numpy_sum_exactly():
    g = R(6, 40, seed=10, dtype=np.float32)            # a short sum: numpy's own, bit for bit
    out = np.zeros(6, np.float32)
    backend.add_sums(out, g, 1, 1.0, _Bufs(np.float32), '_gb')
    np.testing.assert_array_equal(out, np.add.reduce(g, axis=1))
    big = R(6, 2 * (3 * backend._SUM_GEMV_MIN), seed=11, dtype=np.float32)[:, ::2]     # long but strided
    out = np.zeros(6, np.float32)
    backend.add_sums(out, big, 1, 1.0, _Bufs(np.float32), '_gb')
    np.testing.assert_array_equal(out, np.add.reduce(big, axis=1))


# -- backend.sub_scaled: p -= lr * g ---------------------------------------------------------------------------
@pytest.mark.parametrize('lr', [1, 0.01])
def test_sub_scaled_large_is_the_plain_update_exactly(lr):
    n = 3 * backend._CHUNK + 17
    p, g = R(n, seed=4, dtype=np.float32).reshape(-1, 1), R(n, seed=5, dtype=np.float32).reshape(-1, 1)
    want = p - np.float32(lr) * g if lr != 1 else p - g
    bufs = _Bufs()
    backend.sub_scaled(p, g, lr, bufs, '_upd')
    np.testing.assert_array_equal(p, want)
    assert all(x.size <= backend._CHUNK for x in bufs.arrays.values())


def test_sub_scaled_strided_parameter():
    base = R(2 * backend._CHUNK, 2, seed=6)
    p, g = base[:, 0], R(2 * backend._CHUNK, seed=7)     # a non-contiguous view: updated in place all the same
    want = p - 0.1 * g
    backend.sub_scaled(p, g, 0.1, _Bufs(), '_upd')
    np.testing.assert_allclose(base[:, 0], want, rtol=1e-15)


# -- a module keeps no second copy of its gradient ------------------------------------------------------------
def test_linear_scratch_is_bounded():
    m = nn.Linear(1024, 512).float()
    x = R(32, 1024, dtype=np.float32)
    for _ in range(2):
        m.zeroGradParameters()
        m.forward(x)
        m.backward(x, R(32, 512, seed=1, dtype=np.float32))
        m.updateParameters(0.01)
    for k, v in m.__dict__.items():
        if k.startswith('_') and isinstance(v, np.ndarray):
            assert v.size <= backend._CHUNK, f"{k}: a scratch of {v.shape}"


def test_linear_accumulates_over_a_nonzero_gradient():
    torch.manualSeed(1)
    m = nn.Linear(600, 300)             # 180000 weights: the large path
    x, go = R(8, 600), R(8, 300, seed=1)
    m.zeroGradParameters()
    m.backward(x, go)
    once = m.gradWeight.numpy().copy()
    m.backward(x, go, 0.5)              # no zeroGradParameters: accumulates, block by block
    np.testing.assert_allclose(m.gradWeight.numpy(), 1.5 * once, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(once, go.T @ x, rtol=1e-12, atol=1e-14)


def test_large_linear_acc_update_equals_gradient_step():
    # accUpdateGradParameters accumulates -lr * gradient straight into the (nonzero) weight: the blocked path
    torch.manualSeed(3)
    a = nn.Linear(600, 300)
    b = a.clone()
    x, go = torch.DoubleTensor(R(8, 600)), torch.DoubleTensor(R(8, 300, seed=1))
    a.forward(x)
    a.accUpdateGradParameters(x, go, 0.1)
    b.zeroGradParameters()
    b.forward(x)
    b.backward(x, go)
    b.updateParameters(0.1)
    np.testing.assert_allclose(a.weight.numpy(), b.weight.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a.bias.numpy(), b.bias.numpy(), rtol=1e-12, atol=1e-15)


# -- Linear.backward in one pass equals updateGradInput + accGradParameters ----------------------------------------
@pytest.mark.parametrize('scale', [1, 0.3])
@pytest.mark.parametrize('first', [False, True])
def test_linear_backward_equals_the_two_steps(scale, first):
    torch.manualSeed(2)
    a = nn.Linear(5, 3)
    b = a.clone()
    if first:
        a.gradInput = None
        b.gradInput = None
    x, go = torch.DoubleTensor(R(4, 5)), torch.DoubleTensor(R(4, 3, seed=1))
    for m in (a, b):
        m.zeroGradParameters()
        m.forward(x)
    gi = a.backward(x, go, scale)
    nn.Module.backward(b, x, go, scale)         # Torch7's protocol, step by step
    for f in ('gradWeight', 'gradBias'):
        np.testing.assert_array_equal(getattr(a, f).numpy(), getattr(b, f).numpy())
    if first:
        assert gi is None and a.gradInput is None
    else:
        assert gi is a.gradInput
        np.testing.assert_array_equal(gi.numpy(), b.gradInput.numpy())
        np.testing.assert_allclose(gi.numpy(), go.numpy() @ a.weight.numpy(), rtol=1e-13)


@pytest.mark.parametrize('sizes', [(40, 8), (8, 40)])     # gradWeight 8 x 40 (wide: transposed product), 40 x 8
@pytest.mark.parametrize('batch', [64, 2048])               # gradBias: numpy's sum, BLAS's product with ones
def test_linear_gradient_bits_are_the_same_on_every_path(sizes, batch):
    # the first backward (general path), the hot path after it and accGradParameters (backend.addmm, add_sums) all
    # take backend.product_plan and backend.sum_into: the same gradWeight and gradBias, bit for bit
    torch.manualSeed(3)
    a = nn.Linear(*sizes).float()
    b = a.clone()
    x = torch.FloatTensor(R(batch, sizes[0], dtype=np.float32))
    go = torch.FloatTensor(R(batch, sizes[1], seed=1, dtype=np.float32))
    got = []
    for _ in range(3):
        a.zeroGradParameters()
        a.forward(x)
        a.backward(x, go)
        got.append((a.gradWeight.numpy().copy(), a.gradBias.numpy().copy()))
    assert '_hot_b' in a.__dict__
    b.zeroGradParameters()
    b.forward(x)
    b.accGradParameters(x, go)
    for gw, gb in got:
        np.testing.assert_array_equal(gw, b.gradWeight.numpy())
        np.testing.assert_array_equal(gb, b.gradBias.numpy())
    tol = 1e-5 * batch / 64
    np.testing.assert_allclose(got[0][0], go.numpy().T @ x.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(got[0][1], go.numpy().astype(np.float64).sum(0), rtol=tol, atol=tol)


def test_linear_backward_still_checks_sizes():
    m = nn.Linear(5, 3)
    x = torch.DoubleTensor(R(4, 5))
    m.forward(x)
    with pytest.raises(ValueError, match=r'nn.Linear.*gradOutput of size \[4, 3\], got \[4, 2\]'):
        m.backward(x, torch.DoubleTensor(R(4, 2)))


def test_linear_subclass_backward_uses_its_overrides():
    seen = []

    class Traced(nn.Linear):
        def accGradParameters(self, input, gradOutput, scale=1):
            seen.append(scale)
            return super().accGradParameters(input, gradOutput, scale)

    m = Traced(3, 2)
    x = torch.DoubleTensor(R(4, 3))
    m.forward(x)
    m.backward(x, torch.DoubleTensor(R(4, 2)), 0.5)
    assert seen == [0.5]


def test_linear_frozen_by_an_instance_override():
    # Torch7's way to freeze a layer: replace accGradParameters on the instance; backward must still call it
    m = nn.Linear(3, 2)
    m.accGradParameters = lambda *a: None
    x = torch.DoubleTensor(R(4, 3))
    m.zeroGradParameters()
    m.forward(x)
    gi = m.backward(x, torch.DoubleTensor(R(4, 2)))
    assert not m.gradWeight.numpy().any() and not m.gradBias.numpy().any()
    assert gi is m.gradInput and gi.numpy().any()


# -- zeroGradParameters / updateParameters through a parameters() override -------------------------------------
def test_parameters_override_is_followed():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.DoubleTensor(3).fill(1)
            self.gw = torch.DoubleTensor(3).fill(2)

        def parameters(self):
            return [self.w], [self.gw]

    class Wrapped(nn.Sequential):
        def parameters(self):
            return [self.modules[0].w], [self.modules[0].gw]

    assert Pair._listed and Wrapped._listed
    assert not nn.Linear._listed and not nn.Sequential._listed and not nn.Container._listed
    p = Pair()
    s = Wrapped().add(p)
    s.updateParameters(0.5)
    np.testing.assert_array_equal(p.w.numpy(), [0, 0, 0])
    s.zeroGradParameters()
    np.testing.assert_array_equal(p.gw.numpy(), [0, 0, 0])


def test_sequential_backward_names_the_failing_module():
    s = nn.Sequential().add(nn.Linear(3, 4)).add(nn.Tanh()).add(nn.Linear(4, 2))
    x = torch.DoubleTensor(R(5, 3))
    s.forward(x)
    with pytest.raises(ValueError, match=r'in module \(2\) of nn.Sequential'):
        s.backward(x, torch.DoubleTensor(R(5, 3)))
    g = s.backward(x, torch.DoubleTensor(R(5, 2)))
    assert g is s.gradInput and tuple(g.size()) == (5, 3)


# -- import: the kernel modules load when first used ------------------------------------------------------------
def test_kernel_modules_and_subpackages_load_on_first_use():
    code = (
        "import sys, numpy as np\n"
        "import luatorch_py as torch\n"
        "from luatorch_py import nn\n"
        "names = ['luatorch_py.backend.' + n for n in ('gpu_loss', 'gpu_pool', 'gpu_elementwise', 'gpu_conv', "
        "'gpu_optim')]\n"
        "print([type(sys.modules[n]).__name__ for n in names])\n"
        "c = nn.MSECriterion()\n"
        "print(c.forward(np.ones(3), np.zeros(3)))\n"
        "print(type(sys.modules[names[0]]).__name__, 'softmax_kernel' in sys.modules[names[0]].__dict__)\n"
        "import luatorch_py.serialization.t7 as t7\n"
        "print('secrets' in t7.__dict__)\n"
        "print('luatorch_py.optim' in sys.modules, 'luatorch_py.data' in sys.modules)\n"
        "print(torch.optim.sgd.__name__, torch.data.load_mnist.__name__, 'luatorch_py.optim' in sys.modules)\n")
    out = fresh_stdout(code).split('\n')
    assert out[0] == str(['_LazyModule'] * 5)
    assert float(out[1]) == 1.0
    assert out[2] == 'module True'
    assert out[3] == 'False'        # serialization does not import secrets (hmac, hashlib, OpenSSL) itself
    assert out[4] == 'False False'  # torch.optim and torch.data: imported when first used
    assert out[5] == 'sgd load_mnist True'


def test_nn_files_and_save_load_load_on_first_use(tmp_path):
    """``import luatorch_py`` compiles and keeps only the core: each nn family file loads with its first name, and
    save/load, File, Tester, CmdLine with theirs; ``-module`` (nngraph's first node) loads nngraph; nn.REGISTRY and
    torch.load load every nn and nngraph file, since a file may name any class (issue 10: import time, memory)."""
    f = str(tmp_path / 'node.t7')
    code = (
        "import sys\n"
        "import luatorch_py as torch\n"
        "from luatorch_py import nn\n"
        "def loaded(*names): return [n for n in names if 'luatorch_py.' + n in sys.modules]\n"
        "print(loaded('nn.module', 'nn.linear', 'nngraph', 'serialization', 'file', 'tester', 'cmdline'))\n"
        "m = nn.Linear(3, 2)\n"
        "print(loaded('nn.linear', 'nn.conv', 'nngraph'), 'Linear' in dir(nn), 'gModule' in dir(nn))\n"
        "h = -nn.Tanh()\n"
        "print(type(h).__name__, loaded('nngraph'))\n"
        f"torch.save({f!r}, h)\n"
        "print(loaded('serialization', 'nn.conv'), torch.Tester.__name__, torch.CmdLine.__name__)\n")
    out = fresh_stdout(code).split('\n')
    assert out[0] == '[]'
    assert out[1] == "['nn.linear'] True True"
    assert out[2] == "Node ['nngraph']"
    assert out[3] == "['serialization'] Tester CmdLine"     # (saving loads no other nn file)
    # a fresh process loading a file whose first object is an nngraph node, no nn class named before it
    code = ("import sys, luatorch_py as torch\n"
            f"n = torch.load({f!r})\n"
            "print(type(n).__name__, n.data.module, 'luatorch_py.nn.conv' in sys.modules)\n"
            "from luatorch_py import nn\n"
            "print(nn.REGISTRY['nn.SpatialConvolution'] is nn.SpatialConvolution, len(nn.REGISTRY) > 190)\n")
    out = fresh_stdout(code).split('\n')
    assert out[0] == 'Node nn.Tanh True'
    assert out[1] == 'True True'


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')
def test_each_nn_file_loads_first_in_a_fresh_process():
    """Every family file of nn, loaded by its first name before any other nn file (a file importing another that
    imports it back broke only in that order, as nn.UpSampling first did).  One fresh interpreter imports nn and
    forks a child per name: each child starts where a fresh process stands after ``from luatorch_py import nn``, for
    a fraction of an interpreter's start (a fresh process per file took ~4 s of CI's 2 cores)."""
    from luatorch_py.nn import _WHERE
    code = ("import os, sys\n"
            "from luatorch_py import nn\n"
            "for name in sys.argv[1:]:\n"
            "    sys.stdout.flush()\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        try:\n"
            "            print(name, getattr(nn, name).__name__)\n"
            "        except BaseException as e:\n"
            "            print(name, f'{type(e).__name__}: {e}')\n"
            "        sys.stdout.flush()\n"
            "        os._exit(0)\n"
            "    os.waitpid(pid, 0)\n")
    firsts = [names.split()[0] for names in _WHERE.values()]
    p = subprocess.run([sys.executable, '-c', code, *firsts], capture_output=True, text=True, timeout=120)
    assert (p.stdout.splitlines(), p.stderr[-200:]) == ([f'{name} {name}' for name in firsts], '')


def test_star_imports_take_the_names_loaded_on_first_use():
    """``from luatorch_py import *`` and ``from luatorch_py.nn import *`` bind what they bound when every file
    loaded at import: save/load, File, Tester, CmdLine, T7Error; nn's classes and REGISTRY."""
    code = ("g = {}\n"
            "exec('from luatorch_py import *', g)\n"
            "print(sorted(k for k in ('load', 'save', 'serialize', 'deserialize', 'T7Error', 'File', 'DiskFile',\n"
            "                         'MemoryFile', 'Tester', 'TestSuite', 'CmdLine', 'nn', 'Tensor') if k in g))\n"
            "print('type' in g)\n"       # (torch.type is served on use: it would shadow the builtin)
            "exec('from luatorch_py.nn import *', g)\n"
            "print(g['REGISTRY']['nn.Linear'] is g['Linear'], g['gModule'].__name__)\n")
    out = fresh_stdout(code).split('\n')
    assert out[0] == str(sorted(['load', 'save', 'serialize', 'deserialize', 'T7Error', 'File', 'DiskFile',
                                 'MemoryFile', 'Tester', 'TestSuite', 'CmdLine', 'nn', 'Tensor']))
    assert out[1] == 'False'
    assert out[2] == 'True gModule'


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')
def test_fork_while_another_thread_loads_a_file_on_first_use():
    """A child forked while another thread imported a file on its first use (nn.Inception, nngraph, torch.load)
    inherited that file's import lock, held by a thread it does not have: its own first use waited forever (30 of
    30 runs).  The fork now waits for first-use imports under way (luatorch_py/_fork.py)."""
    code = (
        "import os, sys, threading, time\n"
        "import luatorch_py as torch\n"
        "from luatorch_py import nn\n"
        "t = threading.Thread(target=lambda: (nn.Inception, nn.gModule, torch.load, torch.optim.adam))\n"
        "t.start()\n"
        "time.sleep(float(sys.argv[1]))\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    nn.Inception; nn.gModule; torch.load; torch.optim.adam\n"
        "    os._exit(0)\n"
        "t.join()\n"
        "deadline = time.monotonic() + 20\n"
        "while time.monotonic() < deadline:\n"
        "    done, st = os.waitpid(pid, os.WNOHANG)\n"
        "    if done:\n"
        "        print('exit', os.waitstatus_to_exitcode(st)); sys.exit(0)\n"
        "    time.sleep(0.02)\n"
        "os.kill(pid, 9)\n"
        "print('hung')\n")
    for delay in ('0', '0.01', '0.03'):
        p = subprocess.run([sys.executable, '-c', code, delay], capture_output=True, text=True, timeout=120)
        assert p.stdout.strip() == 'exit 0' and 'Exception ignored' not in p.stderr, (delay, p.stdout, p.stderr)

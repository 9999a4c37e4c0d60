"""Helpers shared by the nn tests (imported as ``from nn_helpers import ...``; pytest puts this folder on sys.path)."""
import tracemalloc

import numpy as np

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.random import Generator

J = nn.Jacobian
TOL = 1e-5
DTYPES = [np.float32, np.float64]
TYPES = {np.float32: 'torch.FloatTensor', np.float64: 'torch.DoubleTensor'}   # a dtype's tensor type


def rnd(*shape, seed=0):
    """Standard normal values of ``shape`` (float64), reproducible by ``seed``."""
    return np.random.default_rng(seed).standard_normal(shape)


def D(*shape):
    return torch.DoubleTensor(*shape)


def L(values):
    return torch.LongTensor(np.asarray(values, dtype=np.int64))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def draws(seed, n, a, b):
    """The first n uniform(a, b) numbers of Torch7's stream after manualSeed(seed)."""
    g = Generator()
    g.manualSeed(seed)
    return np.array([g.uniform(a, b) for _ in range(n)])


def jac(m, *shape):
    """Input Jacobian check of ``m`` (converted to double) on a random input of ``shape``."""
    assert J.testJacobian(m.double(), D(*shape)) < TOL


def check_params(m, x, update=True):
    """Jacobian checks (float64) with respect to the input and every parameter, and (``update``) the
    accUpdateGradParameters check."""
    m.double()
    assert J.testJacobian(m, x) < TOL
    for p, g in zip(*m.parameters()):
        assert J.testJacobianParameters(m, x, p, g) < TOL
        if update:
            assert J.testJacobianUpdateParameters(m, x, p) < TOL


def roundtrip(m, tmp_path):
    """``m`` saved to a .t7 file and loaded back."""
    path = str(tmp_path / 'm.t7')
    torch.save(path, m)
    return torch.load(path)


def shares(t, a):
    """Whether tensor ``t`` shares memory with ``a`` (a tensor or an array)."""
    return np.shares_memory(t.numpy(), a.numpy() if hasattr(a, 'numpy') else a)


def f32(x):
    """A float32 copy of an array (or of each array of a nested list)."""
    return [f32(a) for a in x] if isinstance(x, list) else x.astype(np.float32)


def listed(x):
    """``x`` itself when a list, else [x] (to walk a tensor or a table of them alike)."""
    return x if isinstance(x, list) else [x]


def to_cuda(x):
    """A float64 array (or nested lists of them) as CudaTensors (float32)."""
    return [to_cuda(e) for e in x] if isinstance(x, list) else torch.FloatTensor(x.astype(np.float32)).cuda()


def host(x):
    """The tensors of ``x`` (a tensor or a nested table of them), in order, as float32 numpy arrays."""
    return [a for e in x for a in host(e)] if isinstance(x, list) else [x.float().numpy()]


def like(y, seed):
    """Standard normal float64 arrays shaped as tensor ``y`` (or as each tensor of a nested table)."""
    return [like(e, seed) for e in y] if isinstance(y, list) else rnd(*y.numpy().shape, seed=seed)


def assert_all_close(got, want, rtol, atol):
    """Tables of arrays (as ``host`` gives them) agree element by element, and are as long."""
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def check_gpu(cpu, gpu, x, seed=3, rtol=1e-4, atol=1e-5):
    """``gpu`` (CUDA) agrees with ``cpu`` (float) on ``x`` (float64, an array or a nested table): its output holds
    CudaTensors, and output, gradInput (for a gradOutput drawn with ``seed``) and gradParameters match."""
    x32 = f32(x)
    y = cpu.forward(x32)
    yc = gpu.forward(to_cuda(x))
    assert all(t.type() == 'torch.CudaTensor' for t in (yc if isinstance(yc, list) else [yc]))
    assert_all_close(host(yc), host(y), rtol, atol)
    g = like(y, seed)
    cpu.zeroGradParameters()
    gpu.zeroGradParameters()
    gi = cpu.backward(x32, f32(g))
    gic = gpu.backward(to_cuda(x), to_cuda(g))
    assert_all_close(host(gic), host(gi), rtol, atol)
    assert_all_close(host(gpu.parameters()[1]), host(cpu.parameters()[1]), rtol, atol)


def check_gpu_made(make, x, init_seed=11, **kw):
    """check_gpu of two modules built by ``make()`` after the same torch.manualSeed(init_seed) (the same initial
    weights): the first .float(), the second .cuda()."""
    torch.manualSeed(init_seed)
    cpu = make().float()
    torch.manualSeed(init_seed)
    check_gpu(cpu, make().cuda(), x, **kw)


def check_float32(m64, m32, x, rtol, atol=0):
    """``m32`` (float) on ``x`` in float32 gives a FloatTensor that agrees with ``m64`` (double) on ``x``; returns
    m64's output."""
    y64 = m64.forward(x).numpy().copy()
    y32 = m32.forward(f32(x))
    assert y32.type() == 'torch.FloatTensor'
    np.testing.assert_allclose(y32.numpy(), y64, rtol=rtol, atol=atol)
    return y64


def arrays_of(m):
    """Every array ``m`` holds, by field (and index in a table): each tensor's and each bare ndarray buffer."""
    held = {}
    for k, v in m.__dict__.items():
        for i, t in enumerate(listed(v)):
            if isinstance(t, np.ndarray):
                held[k, i] = t
            elif isinstance(t, torch.Tensor):
                held[k, i] = t._a
    return held


def check_steady_state(m, x, g):
    """A second forward/backward of the same shapes reuses every array ``m`` holds (as Torch7, which resizes its
    buffers in place: no allocation once the shapes are known)."""
    m.forward(x)
    m.backward(x, g)
    before = arrays_of(m)
    m.forward(x)
    m.backward(x, g)
    after = arrays_of(m)
    assert after.keys() == before.keys()
    for k, a in before.items():
        assert after[k] is a, (repr(m), k)


def check_reloads(m, x, tmp_path, rtol=None):
    """``m`` saved and loaded: same class and repr, and the same output on ``x`` (equal, or to ``rtol``); returns
    the loaded module."""
    y = m.forward(x).numpy().copy()
    m2 = roundtrip(m, tmp_path)
    assert type(m2) is type(m) and repr(m2) == repr(m)
    if rtol is None:
        np.testing.assert_array_equal(m2.forward(x).numpy(), y)
    else:
        np.testing.assert_allclose(m2.forward(x).numpy(), y, rtol=rtol)
    return m2


def steady_step_counts(m, x, g, counters):
    """After two warm-up steps (buffers made, kernels compiled): (forward launches, backward launches, syncs,
    allocations) of one more forward + backward of ``m``, from the CuPy stand-in's ``counters`` (tests/fakecupy)."""
    for _ in range(2):
        m.forward(x)
        m.backward(x, g)
    before = dict(counters)
    m.forward(x)
    mid = dict(counters)
    m.backward(x, g)
    after = dict(counters)
    return (mid['launches'] - before['launches'], after['launches'] - mid['launches'],
            after['syncs'] - before['syncs'], after['allocs'] - before['allocs'])


def check_reloads_fields(m, x, tmp_path):
    """check_reloads, and the loaded module holds the same public (Torch7) fields as ``m``; returns it."""
    m2 = check_reloads(m, x, tmp_path)
    public = [{k for k in a.__dict__ if not k.startswith('_')} for a in (m, m2)]
    assert public[0] == public[1]
    return m2


def rel_err(got, want):
    """max |got - want| / max |want| (arrays of one shape): how the real-model tests compare with Lua's numbers."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-300))


def transient_peak(step):
    """Bytes ``step()`` allocates at its peak (tracemalloc) after three warm-up calls: a steady training step's
    temporaries."""
    for _ in range(3):
        step()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def copied(module, how, tmp_path):
    """A copy of ``module`` made ``how``: 'save' (a .t7 round trip under ``tmp_path``), 'clone', 'deepcopy' or
    'pickle' -- the paths a pending (written-when-read) field must be settled by."""
    import copy
    import pickle
    if how == 'save':
        path = str(tmp_path / 'module.t7')
        torch.save(path, module)
        return torch.load(path)
    if how == 'clone':
        return module.clone()
    if how == 'deepcopy':
        return copy.deepcopy(module)
    if how == 'pickle':
        return pickle.loads(pickle.dumps(module))
    raise ValueError(f"copied: unknown way {how!r}")

"""Issue 12's audit: Torch7's calling forms a Lua script uses that the Lua case file does not hold, and one value check
per bullet of the issue (CPU, and CUDA tensors where the ``device`` fixture runs them)."""
import os

import numpy as np
import pytest

import luatorch_py as torch

X = np.array([[1.0, 3.0, 2.0], [6.0, 5.0, 4.0], [7.0, 9.0, 8.0]])


def on(device, t):
    """t on the device, keeping its element type (x.cuda() would give a float CudaTensor, as cutorch does)."""
    if device != 'cuda':
        return t
    name = t.type()
    return t.type('torch.CudaTensor' if name == 'torch.FloatTensor' else name.replace('torch.', 'torch.Cuda'))


def long_type(device):
    return 'torch.CudaLongTensor' if device == 'cuda' else 'torch.LongTensor'


# -- (values, indices) functions with only some result tensors given (Torch7's IndexTensor defaults) -------------
@pytest.mark.parametrize('name, extra, want_v, want_i', [
    ('max', (1,), X.max(1, keepdims=True), X.argmax(1)[:, None]),
    ('min', (0,), X.min(0, keepdims=True), X.argmin(0)[None]),
    ('sort', (), np.sort(X, 1), np.argsort(X, 1, kind='stable')),
    ('sort', (0, True), -np.sort(-X, 0), np.argsort(-X, 0, kind='stable')),
    ('topk', (2,), np.sort(X, 1)[:, :2], np.argsort(X, 1)[:, :2]),
    ('median', (), np.array([[2.0], [5.0], [8.0]]), np.array([[2], [1], [2]])),
    ('kthvalue', (3, 0), np.array([[7.0, 9.0, 8.0]]), np.array([[2, 2, 2]])),
    ('mode', (1,), X.min(1, keepdims=True), X.argmin(1)[:, None]),    # all counts 1: the smallest value
])
def test_values_result_only(device, name, extra, want_v, want_i):
    x = on(device, torch.Tensor(X))
    res = on(device, torch.Tensor(5))
    v, i = getattr(torch, name)(res, x, *extra)             # Lua: local v, i = torch.max(res, x, 2)
    assert v is res and np.array_equal(v.double().cpu().numpy(), want_v)
    assert i.type() == long_type(device) and np.array_equal(i.cpu().numpy(), want_i)
    res2 = on(device, torch.Tensor())
    v2, i2 = getattr(res2, name)(x, *extra)                 # Lua: res2:max(x, 2)
    assert v2 is res2 and np.array_equal(v2.cpu().numpy(), want_v) and np.array_equal(i2.cpu().numpy(), want_i)
    idx = on(device, torch.LongTensor(4))
    v3, i3 = getattr(torch, name)(idx, x, *extra)           # a LongTensor before a DoubleTensor: the indices
    assert i3 is idx and v3.type() == x.type()
    assert np.array_equal(v3.cpu().numpy(), want_v) and np.array_equal(i3.cpu().numpy(), want_i)
    both_v, both_i = on(device, torch.Tensor()), on(device, torch.LongTensor())
    assert getattr(torch, name)(both_v, both_i, x, *extra) == (both_v, both_i)


def test_values_result_only_of_a_long_tensor_is_the_values():
    x = torch.LongTensor([[4, 9, 1], [3, 3, 8]])
    res = torch.LongTensor()
    v, i = torch.max(res, x, 1)
    assert v is res and v.tolist() == [[9], [8]] and i.tolist() == [[1], [2]]
    v, i = torch.sort(res, x, 1, True)
    assert v is res and v.tolist() == [[9, 4, 1], [8, 3, 3]] and i.tolist()[0] == [1, 0, 2]


def test_plain_and_elementwise_max_unchanged():
    x = torch.Tensor(X)
    assert x.max() == 9.0 and torch.max(x) == 9.0
    assert torch.max(x, 0)[0].tolist() == [[7.0, 9.0, 8.0]]
    assert torch.max(x, x * -1).tolist() == X.tolist()                  # (a, b): cmax
    r = torch.Tensor()
    assert torch.min(r, x, x - 1) is r and r.tolist() == (X - 1).tolist()   # (res, a, b)


# -- torch.type / typename / isTypeOf for the utility classes ----------------------------------------------------
def test_utility_classes_have_their_lua_names(tmp_path):
    f = torch.DiskFile(str(tmp_path / 'a.txt'), 'w')
    objs = [(torch.Generator(), 'torch.Generator'), (torch.Timer(), 'torch.Timer'), (torch.CmdLine(), 'torch.CmdLine'),
            (f, 'torch.DiskFile'), (torch.MemoryFile(), 'torch.MemoryFile'), (torch.Tester(), 'torch.Tester'),
            (torch.TestSuite(), 'torch.TestSuite')]
    for obj, name in objs:
        assert torch.type(obj) == name and torch.typename(obj) == name
        assert torch.isTypeOf(obj, name) and torch.isTypeOf(obj, type(obj))
        assert torch.isTypeOf(obj, 'torch.File') == name.endswith('File')     # DiskFile/MemoryFile derive from File
    assert torch.isTypeOf(f, 'torch%..*File') and not torch.isTypeOf(f, 'torch.Disk')   # pattern / whole name
    assert torch.isTypeOf(torch.MemoryFile(), torch.File) and not torch.isTypeOf(f, torch.MemoryFile)
    f.close()
    assert torch.type(3) == 'number' and torch.typename(3) is None and torch.type(torch.ones(1)) == 'torch.DoubleTensor'
    with pytest.raises(TypeError, match='cannot save'):
        torch.save(str(tmp_path / 'g.t7'), torch.Generator())      # as Lua: save the RNG state instead


# -- torch.fill / zero / scatter (Torch7 registers them as functions too) -------------------------------------
def test_fill_zero_scatter_functions(device):
    x = on(device, torch.Tensor(2, 3))
    assert torch.fill(x, 3) is x and x.cpu().tolist() == [[3.0] * 3] * 2
    assert torch.zero(x) is x and x.cpu().tolist() == [[0.0] * 3] * 2
    idx = on(device, torch.LongTensor([[0], [2]]))
    assert torch.scatter(x, 1, idx, 7) is x and x.cpu().tolist() == [[7, 0, 0], [0, 0, 7]]
    src = on(device, torch.Tensor([[1, 2, 3]]))
    torch.scatter(x, 0, on(device, torch.LongTensor([[1, 0, 1]])), src)
    assert x.cpu().tolist() == [[7, 2, 0], [1, 0, 3]]


def test_element_size():
    sizes = dict(Byte=1, Char=1, Short=2, Int=4, Long=8, Float=4, Double=8)
    for name, n in sizes.items():
        assert getattr(torch, name + 'Tensor')(2).elementSize() == n
        assert getattr(torch, name + 'Storage')(2).elementSize() == n


# -- one value check per bullet of the issue --------------------------------------------------------------------
def test_tensor_md_forms(device):
    s = torch.DoubleStorage(list(range(1, 11)))
    x = torch.Tensor(s, 1, 2, 3, 3, 1)                     # Lua: torch.Tensor(s, 2, 2, 3, 3, 1)
    assert x.tolist() == [[2, 3, 4], [5, 6, 7]] and x.storage() is s
    y = torch.Tensor(torch.LongStorage([2, 2]), torch.LongStorage([1, 2]))
    assert y.stride() == (1, 2) and y.storage().size() == 4
    z = torch.Tensor().set(s, 4, torch.LongStorage([3]), torch.LongStorage([2]))
    assert z.tolist() == [5, 7, 9] and z.isSize(torch.LongStorage([3])) and not z.isSize(torch.LongStorage([2]))
    t = on(device, torch.Tensor([[1, 2], [3, 4]]))
    assert t.repeatTensor(2, 1, 2).cpu().numpy().tolist() == np.tile([[1, 2], [3, 4]], (2, 1, 2)).tolist()
    assert torch.viewAs(on(device, torch.range(1, 4)), t).cpu().tolist() == [[1, 2], [3, 4]]
    seen = []
    t.apply(lambda v: seen.append(v))                      # None keeps the element
    assert seen == [1, 2, 3, 4] and t.cpu().tolist() == [[1, 2], [3, 4]]
    t.map2(t.clone(), t.clone(), lambda a, b, c: a + b * c)
    assert t.cpu().tolist() == [[2, 6], [12, 20]]
    parts = torch.split(on(device, torch.range(1, 5)), 2)
    assert [p.cpu().tolist() for p in parts] == [[1, 2], [3, 4], [5]]
    assert [p.size(1) for p in on(device, torch.ones(2, 7)).chunk(3, 1)] == [3, 3, 1]


def test_linear_algebra_layouts(device):
    a = np.array([[0.0, -2.0], [1.0, 0.0]])                 # eigenvalues +-i*sqrt(2)
    e, v = torch.eig(on(device, torch.Tensor(a)), 'V')
    assert e.size() == (2, 2)
    assert sorted(map(tuple, np.round(e.cpu().numpy(), 12))) == [(0.0, -np.sqrt(2).round(12)),
                                                                   (0.0, np.sqrt(2).round(12))]
    vc = v.cpu().numpy()
    vec = vc[:, 0] + 1j * vc[:, 1]                         # a complex pair: real and imaginary columns
    lam = e.cpu().numpy()[0, 0] + 1j * e.cpu().numpy()[0, 1]
    assert np.allclose(a @ vec, lam * vec)
    m = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0], [1.0, 0.0, 1.0]])
    u, s, vv = torch.svd(on(device, torch.Tensor(m)))
    assert vv.size() == (3, 3) and np.allclose(u.cpu().numpy() @ np.diag(s.cpu().numpy()) @ vv.cpu().numpy().T, m)
    spd = m.T @ m
    up = torch.potrf(on(device, torch.Tensor(spd))).cpu().numpy()
    assert np.allclose(np.tril(up, -1), 0) and np.allclose(up.T @ up, spd)
    lo = torch.potrf(on(device, torch.Tensor(spd)), 'L').cpu().numpy()
    assert np.allclose(lo, up.T)
    x, _ = torch.gesv(on(device, torch.Tensor([[1.0], [2.0], [3.0]])), on(device, torch.Tensor(spd)))
    assert np.allclose(x.cpu().numpy(), np.linalg.solve(spd, [[1.0], [2.0], [3.0]]))


def test_maths_md_bullets(device):
    x = on(device, torch.Tensor([4.0, 1.0, 3.0, 2.0]))
    v, i = torch.median(x)
    assert v.cpu().tolist() == [2.0] and i.cpu().tolist() == [3]          # the lower middle of an even count
    a, b = on(device, torch.ones(2)), on(device, torch.zeros(2))
    assert torch.cat(a, b, 0).cpu().tolist() == [1, 1, 0, 0]
    assert (on(device, torch.LongTensor([-7, 7])) % 3).cpu().tolist() == [2, 1]      # the divisor's sign
    assert torch.mod(on(device, torch.LongTensor([-7, 7])), 3).cpu().tolist() == [-1, 1]
    assert on(device, torch.IntTensor([-8])).rshift(1).cpu().tolist() == [2147483644]
    ints = on(device, torch.IntTensor([6, 5])), on(device, torch.IntTensor([3, 3]))
    assert torch.cbitxor(*ints).cpu().tolist() == [5, 6]
    assert torch.numel(on(device, torch.ones(3, 4))) == 12
    res = on(device, torch.Tensor())
    assert res.linspace(0, 1, 5) is res and res.cpu().tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert torch.sum(res, on(device, torch.Tensor(X)), 1) is res and res.cpu().numpy().ravel().tolist() == [6, 15, 24]
    k = torch.conv2(on(device, torch.Tensor(X)), on(device, torch.Tensor([[1.0, 0.0], [0.0, -1.0]])), 'F')
    full = np.zeros((4, 4))
    for (r, c), w in (((0, 0), 1.0), ((1, 1), -1.0)):        # the full convolution by its definition
        full[r:r + 3, c:c + 3] += w * X
    assert np.allclose(k.cpu().numpy(), full)


def test_random_md_bullets(tmp_path):
    g = torch.Generator()
    torch.manualSeed(g, 7)
    torch.manualSeed(5)
    first = torch.uniform()
    torch.manualSeed(5)
    drawn = torch.rand(g, 3).tolist() + [torch.normal(g, 0, 1), torch.random(g, 1, 6)]   # the generator's own stream
    assert torch.uniform() == first and torch.initialSeed(g) == 7 and torch.initialSeed() == 5
    torch.manualSeed(g, 7)
    assert torch.rand(g, 3).tolist() == drawn[:3]
    state = torch.getRNGState(g)
    assert state.type() == 'torch.ByteTensor' and state.size() == (5048,)
    path = str(tmp_path / 'rng.t7')
    torch.save(path, state)
    after = torch.uniform(g)
    assert torch.setRNGState(g, torch.load(path)).type() == 'torch.ByteTensor'
    assert torch.uniform(g) == after
    torch.manualSeed(g, 3)
    n = torch.normal(g, 0.5, 2.0)
    torch.manualSeed(g, 3)
    assert torch.logNormal(g, 0.5, 2.0) == pytest.approx(np.exp(n), rel=1e-15)
    torch.manualSeed(1)
    d = torch.multinomial(torch.Tensor([0.0, 0.0, 1.0, 0.0]), 3, True)
    assert d.type() == 'torch.LongTensor' and d.tolist() == [2, 2, 2]    # 0-based categories


def test_storage_md_bullets(tmp_path):
    s = torch.DoubleStorage([1, 2, 3, 4, 5])
    v = torch.DoubleStorage(s, 1, 3)                       # Lua: torch.DoubleStorage(s, 2, 3)
    v.fill(0)
    assert s.tolist() == [1, 0, 0, 0, 5]
    c = torch.CharStorage().string('torch')
    assert c.size() == 5 and c.string() == 'torch'
    path = tmp_path / 'm.bin'
    path.write_bytes(np.arange(4, dtype=np.float64).tobytes())
    m = torch.DoubleStorage(str(path), True)
    assert m.tolist() == [0, 1, 2, 3]
    m[1] = 10
    del m
    assert np.frombuffer(path.read_bytes(), np.float64).tolist() == [0, 10, 2, 3]
    assert os.path.getsize(path) == 32


# -- range / linspace / logspace: Torch7's own arithmetic --------------------------------------------------------
def test_range_counts_as_torch7(device):
    tt = 'torch.CudaDoubleTensor' if device == 'cuda' else 'torch.DoubleTensor'
    assert torch.range(0, 0.3, 0.1, tensortype=tt).cpu().tolist() == [0.0, 0.1, 0.2]   # (long)(2.9999999999999996 + 1)
    assert torch.range(2, 5, 1.2, tensortype=tt).cpu().tolist() == [2.0, 2.0 + 1.2, 2.0 + 2 * 1.2]
    assert torch.range(10, 1, -3, tensortype=tt).cpu().tolist() == [10, 7, 4, 1]
    lt = 'torch.CudaLongTensor' if device == 'cuda' else 'torch.LongTensor'
    assert torch.range(1.5, 4, tensortype=lt).cpu().tolist() == [1, 2, 3, 4]       # accreal = long: 1.5 -> 1
    res = on(device, torch.IntTensor())
    assert res.range(-5, 5, 4) is res and res.cpu().tolist() == [-5, -1, 3]
    with pytest.raises(ValueError, match='range'):
        torch.range(1, 0)


def test_linspace_logspace_as_torch7(device):
    i = np.arange(100, dtype=np.float64)
    want = 1 + i * (2 - 1) / 99.0                       # THTensor_(linspace): a + i*(b-a)/(n-1), not numpy's rounding
    got = on(device, torch.Tensor()).linspace(1, 2).cpu().numpy()
    assert np.array_equal(got, want) and not np.array_equal(np.linspace(1, 2, 100), want)
    f32 = np.float32
    a, b = f32(-3.3), f32(7.1)
    want32 = [a + f32(k) * (b - a) / f32(3) for k in range(4)]          # all in float, as C with real = float
    got32 = torch.linspace(-3.3, 7.1, 4, tensortype='torch.FloatTensor').numpy()
    assert got32.dtype == np.float32 and got32.tolist() == [float(v) for v in want32]
    assert torch.logspace(0, 2, 3).tolist() == [1.0, 10.0, 100.0] and torch.linspace(2, 2, 1).tolist() == [2.0]
    with pytest.raises(ValueError, match='invalid number of points'):
        torch.linspace(1, 2, 1)


def test_linspace_logspace_range_bit_for_bit_with_lua(shared_dir):
    cases = torch.load(os.path.join(shared_dir, 'fixtures', 't7', 'maths', 'maths_cases.t7'))
    calls = {'torch.linspace(1, 2)': lambda: torch.linspace(1, 2),
             'torch.logspace(0, 2, 5)': lambda: torch.logspace(0, 2, 5),
             'torch.range(2, 5, 1.2)': lambda: torch.range(2, 5, 1.2)}
    seen = 0
    for c in cases:
        if c['form'] in calls:
            assert np.array_equal(calls[c['form']]().numpy(), c['result'].numpy()), c['form']
            seen += 1
    assert seen == 3


# -- TH's accumulation (accreal) and C's tanh/expf: Lua's values to the last bits ----------------------------------
# Sums accumulate in TH's precision (double for all elements) in numpy's pairwise order, and tanh/exp are numpy's:
# a replay of TH's order and of C's libm cost 10-100x numpy's speed, so values may differ in the last bits.
ULP = 4e-16          # relative: a couple of units in the last place of a double accumulator
def test_sums_accumulate_as_th():
    rs = np.random.RandomState(3)
    a = (rs.standard_normal((40, 30)) * 10 ** rs.uniform(-3, 3, (40, 30))).astype(np.float32)
    x = torch.FloatTensor(a)
    run = 0.0
    for v in a.ravel().tolist():                       # sumall: one running double, row-major
        run += v
    assert x.sum() == run and x.mean() == run / a.size
    prod = 1.0
    for v in a[:3].ravel().tolist():
        prod *= v
    assert torch.FloatTensor(a[:3]).prod() == prod
    rows = np.float32([sum_seq(r, float) for r in a.tolist()])[:, None]      # dim 1 has stride 1: a double per row
    assert np.array_equal(x.sum(1).numpy(), rows)
    assert np.array_equal(x.mean(1).numpy(), rows / np.float32(30))        # then divided in float, as TH's div
    cols = np.zeros(30, np.float32)                   # dim 0 has stride 30: TH adds the rows in float
    for r in a:
        cols = cols + r
    assert np.array_equal(x.sum(0).numpy(), cols[None])
    assert np.array_equal(x.t().sum(1).numpy(), cols[:, None])             # stride 30 again
    cum = np.float32(np.cumsum(a.astype(np.float64), 1))                   # each running double rounded to float
    assert np.array_equal(x.cumsum(1).numpy(), cum)


def sum_seq(values, start_type):
    s = start_type(0)
    for v in values:
        s += v
    return s


def test_var_std_as_th():
    rs = np.random.RandomState(4)
    a = rs.standard_normal((5, 9)) + 3.0
    x = torch.Tensor(a)
    for biased in (False, True):
        want_v, want_s = [], []
        for row in a.tolist():                       # TH's one pass: running sums of z and z*z
            n, s, s2 = len(row), 0.0, 0.0
            for z in row:
                s += z
                s2 += z * z
            s /= n
            s2 = s2 / n - s * s if biased else s2 / (n - 1) - (n / (n - 1)) * s * s
            want_v.append(max(s2, 0.0))
            want_s.append(np.sqrt(max(s2, 0.0)))
        np.testing.assert_allclose(x.var(1, biased).numpy().ravel(), want_v, rtol=1e-14)
        np.testing.assert_allclose(x.std(1, biased).numpy().ravel(), want_s, rtol=1e-14)
    mean = sum_seq(a.ravel().tolist(), float) / a.size
    dev = sum_seq([(v - mean) * (v - mean) for v in a.ravel().tolist()], float)
    assert x.var() == pytest.approx(dev / (a.size - 1), rel=1e-14)
    assert x.std(True) == pytest.approx(np.sqrt(dev / a.size), rel=1e-14)


def test_tanh_and_float_exp_within_a_few_ulps_of_c():
    import ctypes
    import ctypes.util
    import math
    rs = np.random.RandomState(5)
    v = np.concatenate([rs.uniform(-3, 3, 3000), rs.uniform(-30, 30, 500), [0.0, -0.0, 1.0, -1.0, 22.0, 1e-20]])
    got = torch.Tensor(v).tanh().numpy()
    want = np.array([math.tanh(t) for t in v.tolist()])
    assert np.all(np.abs(got - want) <= 2 * np.spacing(np.abs(want))) and np.signbit(got[-5])   # numpy: 2 ulps
    libm = ctypes.CDLL(ctypes.util.find_library('m') or 'libm.so.6')
    for name, xs in (('tanhf', v), ('expf', v / 4)):
        f = getattr(libm, name)
        f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
        x32 = xs.astype(np.float32)
        want = np.float32([f(float(t)) for t in x32])
        have = getattr(torch.FloatTensor(x32), name[:-1])().numpy()
        assert np.all(np.abs(have - want) <= 4 * np.spacing(np.abs(want))), name   # numpy float32 SIMD: 3 ulps


def test_lua_cases_bit_for_bit(shared_dir):
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    import maths_oracle as oracle
    lapack = {'gesv', 'trtrs', 'potrf', 'potrs', 'potri', 'pstrf', 'gels', 'symeig', 'eig', 'svd', 'inverse', 'qr',
              'geqrf', 'orgqr', 'ormqr'}             # LAPACK's last bits differ (docs/tensor.md)
    cases = [c for c in oracle.load_cases() if c['fn'] not in lapack]
    tol = oracle._tol
    oracle._tol = lambda float_: (0, 0)                # exact: no tolerance at all
    try:
        results = [(c['key'], oracle.run_case(c)) for c in cases]
    finally:
        oracle._tol = tol
    # all but tanh's two cases (numpy's SIMD tanh; C's is within an ulp, test above) give Lua's bits
    assert len(results) == 452 and [r[0] for r in results if not r[1][0]] == [
        'maths.tanh:torch.tanh(a1, a2)', 'maths.tanh(res form):self:tanh(a1)']


def test_round_is_c_round(device):
    f = on(device, torch.FloatTensor([8388609, 0.49999997, -2.5, 2.5, -0.5, 1.5, -0.4]))
    assert f.clone().round().cpu().tolist() == [8388609, 0, -3, 3, -1, 2, 0]      # floor(x + 0.5) gave 8388610, 1
    d = on(device, torch.Tensor([0.49999999999999994, 4503599627370497.0, -7.5]))
    assert d.clone().round().cpu().tolist() == [0, 4503599627370497.0, -8]


def test_pow_forms_as_th(device):
    import math
    rs = np.random.RandomState(6)
    a = np.abs(rs.standard_normal(3000)) * 10
    t = on(device, torch.Tensor(a))
    special = {2: a * a, 3: a * a * a, 0.5: np.sqrt(a), -0.5: 1 / np.sqrt(a), -1: 1 / a, -2: 1 / (a * a)}
    for p in (2, 3, 0.5, -0.5, -1, -2, 1.5, 2.5):
        want = special.get(p)
        if want is None:
            want = np.array([math.pow(v, p) for v in a.tolist()])     # C's pow
        got = t.clone().pow(p).cpu().numpy()
        assert np.array_equal(got, want) if device == 'cpu' else np.allclose(got, want, rtol=1e-15), p
    x = on(device, torch.Tensor([1, 2, 3]))
    res = on(device, torch.Tensor())
    assert res.pow(2, x) is res and res.cpu().tolist() == [2, 4, 8]                # Lua's res:pow(2, x): tpow
    assert torch.pow(2, x).cpu().tolist() == [2, 4, 8] and torch.pow(x, 2).cpu().tolist() == [1, 4, 9]
    assert torch.pow(res, x, 3) is res and res.cpu().tolist() == [1, 8, 27] and torch.pow(2, 3) == 8
    if device == 'cpu':
        b = (np.abs(rs.standard_normal(500)) * 3).astype(np.float32)
        e = rs.uniform(-2, 2, 500).astype(np.float32)
        got = torch.FloatTensor(b).cpow(torch.FloatTensor(e)).numpy()          # C's double pow, rounded
        assert np.array_equal(got, np.float32([math.pow(u, v) for u, v in zip(b.tolist(), e.tolist())]))


def test_norm_and_dist_as_th():
    import math
    rs = np.random.RandomState(7)
    a, b = rs.standard_normal((20, 30)), rs.standard_normal((20, 30))
    x, y = torch.Tensor(a), torch.Tensor(b)
    flat = a.ravel().tolist()
    assert x.norm() == pytest.approx(math.sqrt(sum_seq([v * v for v in flat], float)), rel=ULP)
    assert x.norm(1) == pytest.approx(sum_seq([abs(v) for v in flat], float), rel=ULP)
    assert x.norm(3) == pytest.approx(math.pow(sum_seq([math.pow(abs(v), 3) for v in flat], float), 1 / 3), rel=ULP)
    rows = [math.pow(sum_seq([math.pow(abs(v), 2.0) for v in r], float), 0.5) for r in a.tolist()]
    np.testing.assert_allclose(x.norm(2, 1).numpy().ravel(), rows, rtol=ULP)                   # pow(|x|, 2), then pow(sum, 0.5)
    diffs = [math.pow(abs(u - v), 2.0) for u, v in zip(flat, b.ravel().tolist())]
    assert x.dist(y) == pytest.approx(math.pow(sum_seq(diffs, float), 0.5), rel=ULP)
    f32 = torch.FloatTensor(a.astype(np.float32))
    run = np.float32(0)
    for v in a.astype(np.float32).ravel():
        run = np.float32(run + np.float32(abs(v)) ** np.float32(2))          # dist adds in float for a Float tensor
    assert f32.dist(torch.FloatTensor(np.zeros((20, 30), np.float32))) == pytest.approx(float(np.power(run, np.float32(0.5))), rel=1e-6)
    assert x.norm(0) == 600.0 and torch.Tensor([1, -3]).norm(float('inf')) == 3.0


def test_addcmul_addcdiv_multiply_value_first(device):
    rs = np.random.RandomState(8)
    a, b, c = rs.standard_normal((3, 300))
    T = lambda v: on(device, torch.Tensor(v))      # noqa: E731
    for name, op in (('addcmul', lambda x, y, z: x + 0.3 * y * z), ('addcdiv', lambda x, y, z: x + 0.3 * y / z)):
        want = [op(x, y, z) for x, y, z in zip(a.tolist(), b.tolist(), c.tolist())]     # TH: (value * t1) * t2
        got = getattr(T(a), name)(0.3, T(b), T(c)).cpu().numpy()
        assert got.tolist() == want if device == 'cpu' else np.allclose(got, want, rtol=1e-15)
        res = on(device, torch.Tensor())
        assert getattr(torch, name)(res, T(a), 0.3, T(b), T(c)) is res and np.allclose(res.cpu().numpy(), want)


def test_cat_size_rule_as_th(device):
    T = lambda v: on(device, torch.Tensor(v))      # noqa: E731
    a, b = T([[1, 2], [3, 4]]), T([[5, 6], [7, 8]])
    c = torch.cat(a, b, 2)                          # Lua's torch.cat(a, b, 3): a new last dim
    assert c.size() == (2, 2, 2) and c.cpu().tolist() == [[[1, 5], [2, 6]], [[3, 7], [4, 8]]]
    assert torch.cat(T([1, 2, 3]), T([4, 5, 6]), 1).cpu().tolist() == [[1, 4], [2, 5], [3, 6]]   # vectors as columns
    assert torch.cat([T([1, 2]), T([[3], [4]])]).cpu().tolist() == [[1, 3], [2, 4]]    # default: the largest last dim
    assert torch.cat(on(device, torch.Tensor()), on(device, torch.Tensor())).dim() == 0
    assert torch.cat([on(device, torch.Tensor()), a], 0).cpu().tolist() == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match='differ outside dim 0'):
        torch.cat(T([1, 2, 3]), T([[1, 2, 3], [4, 5, 6]]), 0)


def test_new_and_elementsize_spellings(device):
    x = on(device, torch.FloatTensor([[1, 2], [3, 4]]))
    e = x.new()                                      # Lua's x.new(): an empty tensor of x's type
    assert e.type() == x.type() and e.dim() == 0
    assert x.new(3, 2).size() == (3, 2) and x.new(3, 2).type() == x.type()
    v = x.new(x)                                     # the same type: shares x, as torch.FloatTensor(x)
    v[0][0] = 9
    assert x.cpu().tolist()[0][0] == 9 and x.elementSize() == 4


def test_serialize_to_storage_and_aliases(tmp_path):
    obj = {'w': torch.range(1, 3), 'n': 3, 's': 'hi'}
    st = torch.serializeToStorage(obj)                 # File.lua: a MemoryFile's bytes, without the final 0
    assert st.type() == 'torch.CharStorage'
    assert bytes(v & 255 for v in st.tolist()) == torch.serialize(obj)
    back = torch.deserializeFromStorage(st)
    assert back['w'].tolist() == [1, 2, 3] and back['n'] == 3 and back['s'] == 'hi'
    asc = torch.serializeToStorage(obj, 'ascii')
    assert asc.string().startswith('3\n1\n3\n') and torch.deserializeFromStorage(asc, 'ascii')['n'] == 3
    path = str(tmp_path / 'o.t7')
    torch.saveobj(path, obj)
    assert torch.loadobj(path)['w'].tolist() == [1, 2, 3] and torch.load(path)['s'] == 'hi'
    assert torch.totable(torch.Tensor([[1, 2]])) == [[1.0, 2.0]]


# -- torch7's own test/test.lua, ported (isTypeOf, RNG forks, range sizes, cat of arrays) -----------------------
def test_torch7_isTypeOf_pattern_and_partial():
    t = torch.LongTensor()
    assert torch.isTypeOf(t, torch.LongTensor) and not torch.isTypeOf(t, torch.IntTensor)
    assert torch.isTypeOf(t, 'torch.LongTensor') and not torch.isTypeOf(t, 'torch.Long')
    assert torch.isTypeOf(t, 'torch.*Tensor') and torch.isTypeOf(t, '.*Long')
    assert not torch.isTypeOf(t, 'torch.IntTensor')
    assert torch.isTypeOf(torch.Tensor(), torch.Tensor) and torch.isTypeOf(torch.FloatStorage(), torch.FloatStorage)
    C = {n: torch.class_(n, p, replace=True)[0] for n, p in (
        ('A12Dummy', None), ('OtherA12Dummy', None), ('A12Member', None), ('OtherA12Member', None),
        ('FirstA12Member', 'A12Member'), ('SecondA12Member', 'A12Member'), ('ThirdA12Member', 'OtherA12Member'))}
    td, otd, tm = C['A12Dummy'](), C['OtherA12Dummy'](), C['A12Member']()
    ftm, stm, ttm = C['FirstA12Member'](), C['SecondA12Member'](), C['ThirdA12Member']()
    assert not torch.isTypeOf(td, 'OtherA12Dummy') and not torch.isTypeOf(otd, 'A12Dummy')   # no partial matches
    assert torch.isTypeOf(tm, 'A12Member') and torch.isTypeOf(tm, C['A12Member'])
    assert torch.isTypeOf(ftm, 'FirstA12Member') and torch.isTypeOf(ftm, 'A12Member')
    assert torch.isTypeOf(ftm, C['A12Member'])
    assert not torch.isTypeOf(stm, 'FirstA12Member') and not torch.isTypeOf(stm, C['FirstA12Member'])
    assert not torch.isTypeOf(ttm, C['A12Member']) and not torch.isTypeOf(ttm, 'A12Member')
    assert [torch.type(o) for o in (torch.DoubleTensor(), {}, None, 2, 'asdf')] == \
        ['torch.DoubleTensor', 'table', 'nil', 'number', 'string']


def test_torch7_rng_fork_and_box_muller_state():
    torch.manualSeed(1)
    torch.uniform()
    gen = torch.Generator()
    torch.setRNGState(gen, torch.getRNGState())          # fork the stream here
    target = torch.rand(1000)
    torch.rand(100000)
    assert torch.rand(gen, 1000).equal(target)
    torch.manualSeed(123)
    seeded = torch.randn(101)                            # odd: a Box-Muller half is cached in the state
    state = torch.getRNGState()
    mid = torch.randn(101)
    torch.setRNGState(state)
    assert torch.randn(101).equal(mid)
    torch.manualSeed(123)
    assert torch.randn(101).equal(seeded)


def test_torch7_range_sizes_and_cat_array():
    assert torch.FloatTensor().range(0.6, 0.9, 0.1).size(0) == 4 and torch.FloatTensor().range(1, 10, 0.3).size(0) == 31
    assert torch.DoubleTensor().range(0.6, 0.9, 0.1).size(0) == 4
    assert torch.DoubleTensor().range(1, 10, 0.3).size(0) == 31
    r = torch.Tensor()
    assert torch.range(r, 1, 0, -1).tolist() == [1, 0] and torch.range(r, 1, 1, -1).tolist() == [1]
    for d in range(3):
        x, y, z = (torch.rand(n, 4, 4).transpose(0, d) for n in (13, 17, 19))
        mx = torch.cat([x, y, z], d)
        assert mx.narrow(d, 0, 13).equal(x) and mx.narrow(d, 13, 17).equal(y) and mx.narrow(d, 30, 19).equal(z)
        mxx = torch.FloatTensor()
        assert torch.cat(mxx, [x.float(), y.float(), z.float()], d) is mxx and mxx.equal(mx.float())
        assert torch.cat([torch.rand(1, 2, 3), torch.Tensor()], d).size() == (1, 2, 3)
        assert torch.cat([torch.Tensor(), torch.Tensor()], d).dim() == 0
    with pytest.raises(ValueError):
        torch.cat([])


def test_fma_emulation_is_correctly_rounded():
    from fractions import Fraction
    from luatorch_py.maths_conv import fma
    rs = np.random.RandomState(9)
    for dt in (np.float32, np.float64):
        a, b = rs.standard_normal((2, 2000)).astype(dt)
        near = (-(a.astype(np.float64) * b) * (1 + 1e-7 * rs.standard_normal(2000))).astype(dt)   # cancellation
        for c in (rs.standard_normal(2000).astype(dt), near):
            want = [dt(float(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z)))) for x, y, z in zip(a, b, c)]
            assert np.array_equal(fma(np, a, b, c), np.array(want, dt))


def _conv_ref(x, k, full, flip):
    """An independent float64 loop: sum over the kernel taps (correlation; conv turns the kernel around)."""
    if flip:
        k = k[::-1, ::-1]
    if full:
        x = np.pad(x, ((k.shape[0] - 1,) * 2, (k.shape[1] - 1,) * 2))
    out = np.zeros((x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = sum(float(x[i + a, j + b]) * float(k[a, b])
                            for a in range(k.shape[0]) for b in range(k.shape[1]))
    return out


@pytest.mark.parametrize('shape', [(6, 7), (5, 3), (4, 9)])       # both of TH's paths (fewer than 4 columns or not)
def test_conv2_paths_against_a_loop(device, shape):
    rs = np.random.RandomState(10)
    x, k = rs.standard_normal(shape), rs.standard_normal((2, 3))
    for name, flip in (('conv2', True), ('xcorr2', False)):
        for mode in ('V', 'F'):
            got = getattr(torch, name)(on(device, torch.Tensor(x)), on(device, torch.Tensor(k)), mode).cpu().numpy()
            assert np.allclose(got, _conv_ref(x, k, mode == 'F', flip), rtol=1e-12, atol=1e-12), (name, mode)
    xs, ks = rs.standard_normal((2,) + shape), rs.standard_normal((3, 2, 2, 3))
    got = torch.xcorr2(on(device, torch.Tensor(xs)), on(device, torch.Tensor(ks)), 'F').cpu().numpy()
    want = np.array([sum(_conv_ref(xs[i], ks[q, i], True, False) for i in range(2)) for q in range(3)])
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)


def test_add_into_another_tensor_rounds_twice(device):
    """Torch7's AVX2 THVector_(cadd) is a fused multiply-add; here t + value * src rounds the product, then the sum
    (an exact fma replay cost ~80x numpy's add: docs/tensor.md).  The difference is one rounding."""
    rs = np.random.RandomState(11)
    t, y = rs.standard_normal((2, 400))
    T = lambda v: on(device, torch.Tensor(v))      # noqa: E731
    got = on(device, torch.Tensor()).add(T(t), 0.3, T(y)).cpu().numpy()
    np.testing.assert_allclose(got, t + 0.3 * y, rtol=0, atol=4e-16 * np.abs(t + 0.3 * y).max())
    np.testing.assert_allclose(torch.csub(T(t), 0.3, T(y)).cpu().numpy(), t - 0.3 * y, rtol=1e-15, atol=1e-15)

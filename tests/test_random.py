"""luatorch_py.random against Lua Torch7's numbers and against a slow, element-by-element Python transcription of
lib/TH/THRandom.c (MT19937, Box-Muller with its cache), THTensorRandom.c and TensorMath.lua's random fills."""
import copy
import math
import pickle
import struct
import types

import numpy as np
import pytest

from luatorch_py import random as R
from luatorch_py.random import Generator

M64 = (1 << 64) - 1

# Lua Torch7, each line right after torch.manualSeed(1)
LUA_RANDOM5 = [1791095845, 4282876139, 3093770124, 4005303368, 491263]
LUA_RAND5 = [0.41702199843712151, 0.99718480813317001, 0.72032448928803205, 0.93255736120045185,
             0.00011438108049333096]
LUA_RANDN5 = [-2.9718290309304063, 1.7069510634116105, -0.43049897103891599, -2.2820224170301482,
              0.52365734937443909]
LUA_RANDN1_AFTER = 0.00037634083226222888    # torch.randn(1) right after the randn(5): the cached sin half

# transcendental functions for the slow reference: numpy's (the module's choice, so results must be identical)
# or the C library's through math (may differ by an ulp where numpy uses SIMD code)
NPF = types.SimpleNamespace(log=np.log, sqrt=np.sqrt, cos=np.cos, sin=np.sin, tan=np.tan, exp=np.exp)
LIBM = math


class SlowTorch:
    """THGenerator, one draw at a time, as the C code does it (left/next bookkeeping included)."""

    def __init__(self, seed, F=NPF):
        self.F = F
        self.manualSeed(seed)

    def manualSeed(self, seed):
        s = [seed & 0xffffffff]
        for j in range(1, 624):
            s.append((1812433253 * (s[-1] ^ (s[-1] >> 30)) + j) & 0xffffffff)
        self.seed, self.state, self.left, self.next = seed & M64, s, 1, 0
        self.nx = self.ny = self.nrho = 0.0
        self.nvalid = 0

    def _twist(self):
        s = self.state
        for k in range(624):
            y = (s[k] & 0x80000000) | (s[(k + 1) % 624] & 0x7fffffff)
            s[k] = s[(k + 397) % 624] ^ (y >> 1) ^ (0x9908b0df if s[(k + 1) % 624] & 1 else 0)
        self.left, self.next = 624, 0

    def random(self):
        self.left -= 1
        if self.left == 0:
            self._twist()
        y = self.state[self.next]
        self.next += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c5680
        y ^= (y << 15) & 0xefc60000
        y ^= y >> 18
        return y

    def u(self):
        return self.random() * (1.0 / 4294967296.0)

    def uniform(self, a, b):
        return self.u() * (b - a) + a

    def normal(self, mean, std):
        F = self.F
        if not self.nvalid:
            self.nx, self.ny = self.u(), self.u()
            self.nrho = float(F.sqrt(-2. * F.log(1.0 - self.ny)))
            self.nvalid = 1
            return float(self.nrho * F.cos(2. * math.pi * self.nx) * std + mean)
        self.nvalid = 0
        return float(self.nrho * F.sin(2. * math.pi * self.nx) * std + mean)

    def exponential(self, lam):
        return float(-1. / lam * self.F.log(1 - self.u()))

    def cauchy(self, median, sigma):
        return float(median + sigma * self.F.tan(math.pi * (self.u() - 0.5)))

    def logNormal(self, mean, std):
        return float(self.F.exp(self.normal(mean, std)))      # the last TH: exp(normal(mean, std))

    def geometric(self, p):
        return int(self.F.log(1 - self.u()) / self.F.log(p)) + 1

    def bernoulli(self, p):
        return int(self.u() <= p)

    def randperm(self, n):
        a = list(range(n))
        for i in range(n - 1):
            z = self.random() % (n - i)
            a[i], a[i + z] = a[i + z], a[i]
        return a

    def state_bytes(self):
        return struct.pack('<QiiQ624Qdddi4x', self.seed, self.left, 1, self.next, *self.state,
                           self.nx, self.ny, self.nrho, self.nvalid)


def c_cast(v, kind):
    """C's conversion of an unsigned long v into the tensor's element type (x86-64)."""
    bits = {'Byte': 8, 'Char': 8, 'Short': 16, 'Int': 32, 'Long': 64}
    if kind == 'Float':
        return float(np.float32(v))
    if kind == 'Double':
        return float(v)
    w = v % (1 << bits[kind])
    return w - (1 << bits[kind]) if kind != 'Byte' and w >> (bits[kind] - 1) else w


@pytest.fixture
def keep_global_stream():
    s = R.getRNGState()
    yield
    R.setRNGState(s)


# -- Lua Torch7's own numbers ---------------------------------------------------------------------------------
def test_lua_reference_values():
    g = Generator(1)
    assert [g.random() for _ in range(5)] == LUA_RANDOM5
    g.manualSeed(1)
    assert g.uniform_array(5).tolist() == LUA_RAND5
    g.manualSeed(1)
    assert g.normal_array(5).tolist() == LUA_RANDN5
    assert g.normal_array(1).tolist() == [LUA_RANDN1_AFTER]
    g.manualSeed(1)     # the scalar calls give the same numbers
    assert [g.uniform() for _ in range(5)] == LUA_RAND5
    g.manualSeed(1)
    assert [g.normal() for _ in range(6)] == LUA_RANDN5 + [LUA_RANDN1_AFTER]


def test_global_stream(keep_global_stream):
    R.manualSeed(1)
    assert R.initialSeed() == 1
    assert [R.random() for _ in range(5)] == LUA_RANDOM5
    R.manualSeed(1)
    assert R.uniform() == LUA_RAND5[0]
    R.manualSeed(1)
    assert R.normal() == LUA_RANDN5[0]
    s = R.getRNGState()
    assert R.normal() == LUA_RANDN5[1]
    R.setRNGState(s)
    assert R.normal() == LUA_RANDN5[1]


def test_raw_words_match_mt19937_transcription_across_twists():
    for seed in (0, 1, 123, 2**31 + 7):
        slow = SlowTorch(seed)
        want = [slow.random() for _ in range(2000)]
        g = Generator(seed)
        got = g.random_array(700).tolist() + [g.random() for _ in range(5)] + g.random_array(1295).tolist()
        assert got == want
        assert g.getState().tobytes() == slow.state_bytes()


# -- seeding ---------------------------------------------------------------------------------------------------
def test_manual_seed_repeats_and_masks_to_32_bits():
    g = Generator(42)
    a = g.random_array(1000)
    g.normal()                        # leaves a cached half: manualSeed must forget it
    g.manualSeed(42)
    assert np.array_equal(g.random_array(1000), a)
    assert g.initialSeed() == 42
    g.manualSeed(42 + 2**32)          # init_genrand(seed & 0xffffffff); the initial seed is kept whole
    assert np.array_equal(g.random_array(1000), a)
    assert g.initialSeed() == 42 + 2**32
    g.manualSeed(-1)                  # a C long -1 is 0xffffffffffffffff
    b = g.random_array(10)
    assert g.initialSeed() == -1
    g.manualSeed(0xffffffff)
    assert np.array_equal(g.random_array(10), b)
    g.manualSeed(1)
    g.normal()
    g.manualSeed(1)
    assert g.normal() == LUA_RANDN5[0]


def test_seed_from_os():
    g = Generator()
    s = g.seed()
    assert isinstance(s, int) and g.initialSeed() == s
    a = g.random_array(20)
    g.manualSeed(s)
    assert np.array_equal(g.random_array(20), a)
    assert Generator().getState().tobytes() != Generator().getState().tobytes()


# -- state -----------------------------------------------------------------------------------------------------
def test_state_is_torch7_generator_struct():
    g, slow = Generator(1), SlowTorch(1)
    st = g.getState()
    assert st.dtype == np.uint8 and st.size == 5048
    assert st.tobytes() == slow.state_bytes()        # left=1, next=0 right after manualSeed
    assert struct.unpack_from('<QiiQQQ', st, 0) == (1, 1, 1, 0, 1, 1812433254)
    g.random(), slow.random()
    st = g.getState()
    assert struct.unpack_from('<ii', st, 8) == (624, 1) and struct.unpack_from('<Q', st, 16) == (1,)
    assert st.tobytes() == slow.state_bytes()
    g.random_array(623), [slow.random() for _ in range(623)]   # all 624 words used: left=1, next=624
    assert g.getState().tobytes() == slow.state_bytes()
    assert struct.unpack_from('<iiQ', g.getState(), 8) == (1, 1, 624)


def test_state_round_trip_mid_box_muller():
    g = Generator(7)
    g.normal_array(3)                         # odd: the sin half of the second pair is owed
    st = g.getState()
    assert struct.unpack_from('<i', st, 5040) == (1,)
    a = g.normal_array(6)
    b = g.random_array(4)
    for restored in (st, st.copy(), copy.deepcopy(st), pickle.loads(pickle.dumps(st)), st.tobytes()):
        h = Generator(99)
        h.setState(np.frombuffer(restored, np.uint8) if isinstance(restored, bytes) else restored)
        assert h.initialSeed() == 7
        assert np.array_equal(h.normal_array(6), a)
        assert np.array_equal(h.random_array(4), b)
    g.setState(st)                            # getState returns a copy: g's later draws did not change st
    assert np.array_equal(g.normal_array(6), a)


def test_set_state_rejects_bad_states():
    g = Generator(1)
    with pytest.raises(ValueError, match="wrong size"):
        g.setState(np.zeros(100, np.uint8))
    bad = g.getState()
    struct.pack_into('<i', bad, 8, 0)         # left = 0: THGenerator_isValid fails
    with pytest.raises(ValueError, match="Invalid RNG state"):
        g.setState(bad)
    assert g.random() == LUA_RANDOM5[0]       # the failed setState left the stream alone


# -- distributions against the slow transcription ----------------------------------------------------------------
def test_mixed_sequence_matches_slow_reference_exactly():
    g, s = Generator(2017), SlowTorch(2017)
    script = [
        ('random', ()), ('uniform_array', (7, -2.0, 3.0)), ('normal_array', (3, 0.5, 2.0)), ('normal', (1.0, 3.0)),
        ('normal_array', (4, -1.0, 0.25)), ('normal_array', (1, 0.0, 1.0)), ('randperm', (17,)),
        ('exponential_array', (5, 1.5)), ('cauchy_array', (5, 1.0, 2.0)), ('logNormal_array', (5, 1.0, 2.0)),
        ('normal', (0.0, 1.0)), ('logNormal', (2.0, 0.5)), ('geometric_array', (9, 0.3)),
        ('bernoulli_array', (9, 0.7)), ('exponential', (0.5,)), ('cauchy', (0.0, 1.0)), ('geometric', (0.9,)),
        ('bernoulli', (0.2,)), ('uniform', (5.0, 6.0)), ('normal_array', (0, 0.0, 1.0)), ('normal_array', (8,)),
    ]
    for name, args in script:
        got = getattr(g, name)(*args)
        base = name[:-6] if name.endswith('_array') else name
        if name.endswith('_array'):
            n, rest = args[0], args[1:]
            want = [getattr(s, base)(*(rest or (0.0, 1.0))) for _ in range(n)]
            got = got.tolist()
        elif name == 'randperm':
            want = s.randperm(*args)
            got = got.tolist()
        elif name == 'random':
            want = s.random()
        else:
            want = getattr(s, base)(*args)
        assert got == want, name
        assert g.getState().tobytes() == s.state_bytes(), name


def test_box_muller_split_anywhere():
    g = Generator(5)
    whole = g.normal_array(41, 0.5, 2.0)
    for sizes in ([1] * 41, [2] * 20 + [1], [3, 5, 1, 1, 7, 24], [40, 1], [0, 41]):
        g.manualSeed(5)
        parts = np.concatenate([g.normal_array(k, 0.5, 2.0) for k in sizes])
        assert np.array_equal(parts, whole), sizes
    # the owed sin half is scaled by the mean and std of the call that uses it, as Torch7's cache of (x, rho)
    g.manualSeed(5)
    g.normal_array(1)
    s = SlowTorch(5)
    s.normal(0.0, 1.0)
    assert g.normal_array(3, 10.0, 0.5).tolist() == [s.normal(10.0, 0.5) for _ in range(3)]


def test_close_to_the_c_library():
    # with math's log/sin/cos/tan/exp (glibc) in place of numpy's: equal to within an ulp or two
    g, s = Generator(3), SlowTorch(3, F=LIBM)
    n = 20001
    checks = [('normal_array', (n, 0.0, 1.0), lambda: s.normal(0.0, 1.0)),
              ('exponential_array', (n, 2.0), lambda: s.exponential(2.0)),
              ('cauchy_array', (n, 0.0, 1.0), lambda: s.cauchy(0.0, 1.0)),
              ('logNormal_array', (n, 1.0, 2.0), lambda: s.logNormal(1.0, 2.0))]
    for name, args, one in checks:
        got = getattr(g, name)(*args)
        want = np.array([one() for _ in range(n)])
        np.testing.assert_allclose(got, want, rtol=1e-14 if name == 'logNormal_array' else 5e-16, atol=1e-300,
                                   err_msg=name)


def test_distribution_values_sane():
    g = Generator(11)
    e = g.exponential_array(100000, 4.0)
    assert e.min() >= 0 and abs(e.mean() - 0.25) < 0.01
    b = g.bernoulli_array(100000, 0.3)
    assert set(np.unique(b).tolist()) == {0, 1} and abs(b.mean() - 0.3) < 0.01
    geo = g.geometric_array(100000, 0.5)       # Torch7's p(i) = (1-p) p^(i-1): mean 1/(1-p)
    assert geo.min() == 1 and abs(geo.mean() - 2.0) < 0.05
    ln = np.log(g.logNormal_array(200000, 3.0, 0.5))   # mean and std of the underlying normal
    assert abs(ln.mean() - 3.0) < 0.01 and abs(ln.std() - 0.5) < 0.01
    u = g.uniform_array(100000, -3.0, 5.0)
    assert u.min() >= -3.0 and u.max() < 5.0


def test_bernoulli_with_per_element_p():
    g, s = Generator(8), SlowTorch(8)
    p = np.linspace(0, 1, 50)
    assert g.bernoulli_array(50, p).tolist() == [s.bernoulli(q) for q in p.tolist()]
    with pytest.raises(ValueError):
        g.bernoulli_array(3, [0.1, 1.5, 0.2])


def test_argument_checks():
    g = Generator(1)
    with pytest.raises(ValueError):
        g.normal(0.0, 0.0)
    with pytest.raises(ValueError):
        g.normal_array(3, 0.0, -1.0)
    with pytest.raises(ValueError):
        g.logNormal(1.0, 0.0)
    for p in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError):
            g.geometric(p)
    with pytest.raises(ValueError):
        g.bernoulli(1.5)
    with pytest.raises(ValueError):
        g.randperm(0)
    assert g.normal_array(0, 0.0, -1.0).size == 0       # Torch7 checks per element: an empty fill passes
    assert g.random() == LUA_RANDOM5[0]                 # no failed call consumed a draw


# -- randperm --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('n', [1, 2, 3, 5, 16, 100, 1000, 20000])
def test_randperm_matches_swap_loop(n):
    for seed in (0, 1, 77):
        g, s = Generator(seed), SlowTorch(seed)
        p = g.randperm(n)
        assert p.dtype == np.int64
        assert p.tolist() == s.randperm(n)
        assert np.array_equal(np.sort(p), np.arange(n))
        assert g.random() == s.random()                 # n - 1 words consumed


def test_randperm_lua_seed1():
    # Lua: torch.manualSeed(1); torch.randperm(5) is this plus one; computed from the five reference words
    a = list(range(5))
    for i, w in enumerate(LUA_RANDOM5[:4]):
        z = w % (5 - i)
        a[i], a[i + z] = a[i + z], a[i]
    assert Generator(1).randperm(5).tolist() == a == [0, 4, 2, 3, 1]


# -- integer fills ---------------------------------------------------------------------------------------------
KINDS = ['Byte', 'Char', 'Short', 'Int', 'Long', 'Float', 'Double']
NOBOUND_MOD = {'Byte': 256, 'Char': 128, 'Short': 2**15, 'Int': 2**31, 'Long': 2**63, 'Float': 2**24 + 1,
               'Double': 2**53 + 1}


@pytest.mark.parametrize('kind', KINDS)
def test_random_fill_no_bounds(kind):
    g, s = Generator(3), SlowTorch(3)
    got = g.random_fill_array(5000, 'torch.%sTensor' % kind)
    assert got.dtype == (np.float64 if kind in ('Float', 'Double') else np.int64)
    want = [c_cast(s.random() % NOBOUND_MOD[kind], kind) for _ in range(5000)]
    assert got.tolist() == want
    hi = {'Byte': 255, 'Char': 127, 'Short': 32767, 'Int': 2**31 - 1, 'Float': 2**24}.get(kind, 2**32 - 1)
    assert got.min() >= 0 and got.max() <= hi and got.max() > hi * 0.99


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('bounds', [(None, 10), (10, None), (None, 1), (None, 300), (None, 2**32),
                                    (3, 8), (-5, 5), (-200, 200), (7, 7), (0, 2**31)])
def test_random_fill_bounded(kind, bounds):
    a, b = bounds
    g, s = Generator(4), SlowTorch(4)
    got = g.random_fill_array(3000, 'torch.%sTensor' % kind, a, b).tolist()
    if a is None or b is None:
        top = a if b is None else b
        want = [c_cast(s.random() % top + 1, kind) for _ in range(3000)]
    else:
        want = [c_cast((s.random() % (b + 1 - a) + a) & M64, kind) for _ in range(3000)]
    assert got == want


def test_random_fill_ranges_and_torch7_quirks():
    g = Generator(9)
    v = g.random_fill_array(5000, 'torch.IntTensor', -5, 5)
    assert v.min() == -5 and v.max() == 5
    v = g.random_fill_array(5000, 'torch.ByteTensor', 10)
    assert v.min() == 1 and v.max() == 10
    v = g.random_fill_array(5000, 'torch.ByteTensor', 300)       # r % 300 + 1 cast to unsigned char wraps
    assert v.min() == 0 and v.max() == 255 and (v < 45).mean() > 0.2
    v = g.random_fill_array(5000, 'torch.CharTensor', 200)       # ... and to signed char
    assert v.min() < 0 and v.max() == 127
    v = g.random_fill_array(5000, 'torch.LongTensor', -5, 5)
    assert v.min() == -5 and v.max() == 5
    # Float/Double: Torch7's unsigned long sum turns a negative result into 2^64 + value
    v = g.random_fill_array(5000, 'torch.DoubleTensor', -5, 5)
    assert set(np.unique(v).tolist()) == {0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 2.0**64}
    v = g.random_fill_array(5000, 'torch.FloatTensor', 2**32)     # rounded to float
    assert np.array_equal(v, v.astype(np.float32)) and v.max() > 2**24
    assert np.array_equal(Generator(9).random_fill_array(50, 'torch.CudaTensor'),
                          Generator(9).random_fill_array(50, 'torch.FloatTensor'))
    for bad in ((None, 0), (5, 4)):
        with pytest.raises(ValueError):
            g.random_fill_array(3, 'torch.IntTensor', *bad)
    with pytest.raises(ValueError):
        g.random_fill_array(3, 'torch.HalfTensor')


def test_scalar_random_bounds():
    g, s = Generator(6), SlowTorch(6)
    for _ in range(200):
        assert g.random(10) == s.random() % 10 + 1
        assert g.random(-50, 50) == s.random() % 101 - 50
        assert g.random(3, 3) == (s.random(), 3)[1]
    with pytest.raises(ValueError):
        g.random(0)
    with pytest.raises(ValueError):
        g.random(5, 4)


def test_float_tensor_fill_rounds_its_parameters_to_float_as_torch7():
    """Torch7's cwrap declares uniform's bounds as `real`: for a FloatTensor they are floats before the draw."""
    import luatorch_py as torch
    bound = 1 / 3 ** 0.5
    torch.manualSeed(7)
    got = torch.FloatTensor(6).uniform(-bound, bound).numpy().copy()
    g = Generator()
    g.manualSeed(7)
    b32 = float(np.float32(bound))
    want = g.uniform_array(6, -b32, b32).astype(np.float32)
    assert np.array_equal(got, want)


@pytest.mark.parametrize('n', [0, 1, 2047, 2048, 2049, 10000])
def test_fills_into_arrays_match_the_array_draws(n):
    """bernoulli_into / uniform_into (chunked, writing into the tensor) give the values and leave the state that
    bernoulli_array / uniform_array (then a cast) do."""
    for dtype in (np.float32, np.float64, np.int64, np.uint8):
        for p in (0.0, 1.0, 0.3, float(np.float32(0.7)), 2.0 ** -32):
            a, b = Generator(n + 3), Generator(n + 3)
            want = a.bernoulli_array(n, p).astype(dtype)
            got = b.bernoulli_into(np.empty(n, dtype), p)
            assert got.tobytes() == want.tobytes() and a.getState().tobytes() == b.getState().tobytes()
    for dtype in (np.float32, np.float64):
        a, b = Generator(n), Generator(n)
        want = a.uniform_array(n, -2.5, 1 / 3).astype(dtype)
        got = b.uniform_into(np.empty(n, dtype), -2.5, 1 / 3)
        assert got.tobytes() == want.tobytes() and a.getState().tobytes() == b.getState().tobytes()
    with pytest.raises(ValueError, match='bernoulli: p must be >= 0 and <= 1'):
        Generator(1).bernoulli_into(np.empty(3), 1.5)


def test_tensor_fills_in_place_or_not_give_the_same_values():
    import luatorch_py as torch
    for fill, args in (('bernoulli', (0.3,)), ('uniform', (-1, 0.3))):
        torch.manualSeed(3)
        t = getattr(torch.FloatTensor(7, 1001), fill)(*args).numpy().copy()   # contiguous: written in place
        torch.manualSeed(3)
        u = getattr(torch.FloatTensor(1001, 7).t(), fill)(*args).numpy()     # a transposed view: drawn, copied
        assert t.tobytes() == np.ascontiguousarray(u).tobytes()


# -- bug hunt (maths): bounds are Lua longs, checked before the draw; bernoulli's tensor of p's ---------------------
def test_random_bounds_are_longs_checked_before_the_draw():
    """TensorMath.lua's random1__/random2__ take longs (C truncates 0.5 to 0) and check them before THRandom_random:
    a refused call leaves the stream where it was (it used to draw first, and random(0.5) divided by zero)."""
    import luatorch_py as torch
    g = Generator(11)
    want = Generator(11).random()
    for bad in ((0.5,), (0,), (3, 2), (2.9, 2.1 - 1)):
        with pytest.raises(ValueError, match='random: upper bound'):
            g.random(*bad)
    assert g.random() == want                                   # nothing drawn by the refused calls
    g, h = Generator(12), Generator(12)
    assert g.random(1.5, 1.2) == 1 and h.random() >= 0          # (1, 1): one draw, as Lua's random(1, 1)
    assert g.random(7.9) == h.random() % 7 + 1                  # 7.9 is Lua's long 7
    g, h = Generator(13), Generator(13)
    x = torch.LongTensor(4)
    with pytest.raises(ValueError, match='upper bound must be strictly positive'):
        x.random(g, 0)
    with pytest.raises(ValueError, match='upper bound must be larger'):
        x.random(g, 5, 4)
    assert x.random(g, 3, 5).tolist() == [int(w) % 3 + 3 for w in h.random_array(4)]


def test_bernoulli_tensor_of_probabilities_needs_one_per_element():
    import luatorch_py as torch
    g = Generator(5)
    with pytest.raises(ValueError, match=r'bernoulli: expected one probability per element \(3\), got a tensor of 2'):
        torch.Tensor(3).bernoulli(g, torch.Tensor([0.5, 1]))
    with pytest.raises(ValueError, match='one probability per element'):
        torch.Tensor(3).bernoulli(g, torch.Tensor([0.5]))         # numpy broadcast this one silently
    assert torch.Tensor(2, 2).bernoulli(g, torch.Tensor([0, 1, 1, 0])).tolist() == [[0, 1], [1, 0]]


def test_empty_fill_after_a_seed_leaves_the_state_bytes():
    """Torch7 draws nothing for an empty tensor, so its THGenerator keeps left = 1, next = 0 after manualSeed; the
    state bytes (getRNGState) stay Lua's (next used to read 624)."""
    import luatorch_py as torch
    for fill in (lambda: torch.rand(0), lambda: torch.Tensor().uniform(), lambda: torch.FloatTensor().bernoulli(0.3),
                 lambda: torch.LongTensor().random(), lambda: torch.Tensor().exponential()):
        torch.manualSeed(1)
        fill()
        assert struct.unpack_from('<iiQ', torch.getRNGState().numpy(), 8) == (1, 1, 0)
    torch.manualSeed(1)
    torch.rand(1)
    assert struct.unpack_from('<iiQ', torch.getRNGState().numpy(), 8) == (624, 1, 1)


def _child_result(pid, r):
    """What a forked child wrote to pipe ``r`` before exiting 0; fails when it hangs or died."""
    import os
    from forking import reap
    assert reap(pid) == 0
    return os.read(r, 64)


@pytest.mark.skipif(not hasattr(__import__('os'), 'fork'), reason='needs fork')
@pytest.mark.filterwarnings('ignore:.*fork.*:DeprecationWarning')     # (3.12+: a fork with threads running)
def test_a_child_forked_while_another_thread_draws_draws_the_parents_stream():
    """A fork while another thread holds the global stream (inside a draw) waits for that draw: the child, which
    has only the forking thread, used to wait forever for a lock nobody there would release.  The child goes on
    with the parent's stream (the same next number)."""
    import os
    import luatorch_py as torch
    from forking import held_briefly
    torch.manualSeed(11)
    t = held_briefly(R._default._lock)      # (as a long draw holds it; the fork waits until it is let go)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, struct.pack('<d', torch.uniform()))
        finally:
            os._exit(0)
    os.close(w)
    t.join()
    got = struct.unpack('<d', _child_result(pid, r))[0]
    want = Generator(11).uniform()
    assert got == want and torch.uniform() == want


def test_generator_prints_as_torch7():
    assert repr(Generator(1)) == str(Generator(1)) == 'torch.Generator'


# -- bug hunt (rand): copies of a Generator, long bounds, clear fill errors, Torch7's per-element checks ------------
def test_a_copied_generator_is_an_independent_stream_at_the_same_point():
    """copy.copy of a generator that had drawn shared numpy's engine (the two advanced one stream) but not the
    Box-Muller cache; copies and pickles now go through the state bytes, as getRNGState/setRNGState."""
    g = Generator(5)
    g.random()
    g.normal()                                          # the sin half is cached
    want = Generator(5)
    want.random()
    want.normal()
    want = [want.normal(), want.random(), want.random()]
    for h in (copy.copy(g), copy.deepcopy(g), pickle.loads(pickle.dumps(g))):
        assert h is not g and h.initialSeed() == 5
        assert [h.normal(), h.random(), h.random()] == want
    assert [g.normal(), g.random(), g.random()] == want    # the original went on alone
    d = copy.copy(R._default)                           # the global stream's lock made it uncopyable
    assert d.getState().tobytes() == R._default.getState().tobytes() and d.random() == R._default.random()


def test_random_bounds_outside_a_long_are_refused_before_the_draw():
    import luatorch_py as torch
    g = Generator(14)
    want = Generator(14).random()
    for bad in ((2 ** 64 + 5,), (2 ** 63,), (-2 ** 64, 1), (1, 2 ** 70)):
        with pytest.raises(ValueError, match=r'random: bound -?\d+ does not fit in a C long'):
            torch.ByteTensor(3).random(g, *bad)      # was an OverflowError after 3 draws, or all ones for (-2^64, 1)
        with pytest.raises(ValueError, match='does not fit in a C long'):
            g.random(*bad)                           # torch.random(2^70) was word + 1
    with pytest.raises(ValueError, match=r'random: expected integer bounds \(Lua longs\), got nan'):
        g.random(float('nan'))
    assert g.random() == want                        # nothing drawn by the refused calls
    g, h = Generator(14), Generator(14)
    assert g.random(-2 ** 63, 2 ** 63 - 2) == h.random() - 2 ** 63       # the extremes of a long pass


def test_multinomial_refuses_a_result_of_the_wrong_type_before_drawing():
    import luatorch_py as torch
    g = Generator(15)
    with pytest.raises(TypeError, match='the result must be a LongTensor, got a torch.IntTensor'):
        torch.multinomial(torch.IntTensor(), g, torch.DoubleTensor([0.2, 0.8]), 2)
    assert g.random() == Generator(15).random()


def test_fills_with_the_wrong_number_of_arguments_say_what_they_take():
    import luatorch_py as torch
    for call, msg in ((lambda: torch.DoubleTensor(3).geometric(), r'geometric: expected \(\[gen\], p\), got 0'),
                      (lambda: torch.DoubleTensor(3).uniform(1, 2, 3), r'uniform: expected \(\[gen\], \[a\], \[b\]\)'),
                      (lambda: torch.FloatTensor(3).normal(Generator(1), 0, 1, 2), r'normal: .*\[std\]\), got 3'),
                      (lambda: torch.LongTensor(3).random(1, 2, 3), r'random: expected \(.*\[b\]\), got 3 arg')):
        with pytest.raises(TypeError, match=msg):      # was "<lambda>() missing 1 required positional argument"
            call()
    g, h = Generator(16), Generator(16)
    assert torch.DoubleTensor(3).geometric(g, 0.5).tolist() == h.geometric_array(3, 0.5).tolist()


def test_bernoulli_tensor_of_p_draws_for_the_elements_before_a_bad_one_as_torch7():
    """THTensor_(bernoulli_DoubleTensor) checks each p in THRandom_bernoulli, after the earlier elements drew."""
    import luatorch_py as torch
    g = Generator(17)
    with pytest.raises(ValueError, match='bernoulli: p must be >= 0 and <= 1'):
        torch.DoubleTensor(4).bernoulli(g, torch.DoubleTensor([0.5, 0.5, 2, 0.5]))
    assert g.random() == Generator(17).random_array(3)[2]
    with pytest.raises(ValueError, match='bernoulli: p must be >= 0 and <= 1'):
        g.bernoulli(1.5)                                   # a number is checked before the draw
    assert g.random() == Generator(17).random_array(4)[3]


def test_geometric_wraps_int_max_plus_one_as_torch7():
    """THRandom_geometric is (int)(log(1-u) / log(p)) + 1: just below 2^31 the int is INT_MAX and + 1 wraps."""
    p = 0.9999999995156754                  # with seed 575's first word, log(1-u) / log(p) = 2147483647.49
    assert Generator(575).geometric(p) == -2 ** 31          # was 2^31
    assert Generator(575).geometric_array(1, p).tolist() == [-2 ** 31]
    s = SlowTorch(3)
    assert Generator(3).geometric_array(50, 0.9).tolist() == [s.geometric(0.9) for _ in range(50)]

"""Torch7's random stream, bit for bit (lib/TH/THRandom.c, lib/TH/generic/THTensorRandom.c, TensorMath.lua).

The engine is MT19937 seeded with ``init_genrand(seed & 0xffffffff)``, the same as numpy's legacy
``RandomState(seed)``; we run it with numpy's ``MT19937`` bit generator, whose ``random_raw`` gives the
tempered 32-bit words one per call, exactly ``THRandom_random``.  Everything else is Torch7's formula on those
words, vectorized: a tensor fill is one draw sequence per element in row-major order, so drawing ``n`` words at
once and applying the formula elementwise gives the same numbers as Torch7's loop.

Floating point: the arithmetic is IEEE double in the same order as the C code, so ``random``, ``uniform``,
``bernoulli``, ``randperm`` and the integer fills are exact.  ``log``/``sin``/``cos``/``tan``/``exp`` come from
numpy's ufuncs (the same for scalar and array calls); where numpy dispatches them to SIMD code (AVX512) they can
differ from the C library's by one ulp in a small fraction of values (measured: log 0.3%, tan 0.5%, exp 5%; sin
and cos none), as Torch7 itself differs across libm versions.
"""
import os
import threading

import numpy as np

__all__ = ['Generator', 'manualSeed', 'seed', 'initialSeed', 'random', 'uniform', 'normal', 'exponential',
           'cauchy', 'logNormal', 'geometric', 'bernoulli', 'getRNGState', 'setRNGState']

_N = 624                      # MT19937 state words
_INV32 = 1.0 / 4294967296.0   # __uniform__: draw * 2^-32
_TWO_PI = 2.0 * np.pi         # C evaluates 2.*M_PI*x as (2*pi)*x
_M64 = (1 << 64) - 1
_CHUNK = 2048                 # words drawn at a time by the *_into fills (16 KB of scratch, whatever the size)

# Torch7's THGenerator struct on LP64 (x86-64 Linux): torch.getRNGState() is these 5048 bytes.
_STATE_DTYPE = np.dtype([('the_initial_seed', '<u8'), ('left', '<i4'), ('seeded', '<i4'), ('next', '<u8'),
                         ('state', '<u8', (_N,)), ('normal_x', '<f8'), ('normal_y', '<f8'),
                         ('normal_rho', '<f8'), ('normal_is_valid', '<i4')], align=True)
STATE_SIZE = _STATE_DTYPE.itemsize
assert STATE_SIZE == 5048

# tensor:random() with no bounds: THRandom_random() % M, then the cast (THTensorRandom.c; CHAR_MAX is 127 on
# x86, where char is signed).  Value: (M, the element type's numpy dtype).
_FILL_TYPES = {'Byte': (256, np.uint8), 'Char': (128, np.int8), 'Short': (1 << 15, np.int16),
               'Int': (1 << 31, np.int32), 'Long': (1 << 63, np.int64),
               'Float': ((1 << 24) + 1, np.float32), 'Double': ((1 << 53) + 1, np.float64)}


def _signed64(v):
    v &= _M64
    return v - (1 << 64) if v >> 63 else v


def _fill_kind(dtype_name):
    # 'torch.FloatTensor' -> 'Float'; CUDA types draw from this CPU stream too ('torch.CudaTensor' is float)
    k = dtype_name.replace('torch.', '').replace('Cuda', '').replace('Tensor', '').replace('Storage', '')
    k = k or 'Float'
    if k not in _FILL_TYPES:
        raise ValueError(f"random: unknown tensor type {dtype_name!r}")
    return k


def _apply_swaps(j):
    """The permutation left by ``for i: swap(a[i], a[j[i]])`` on a = 0..n-1 (j[i] >= i), without a loop.

    Position p changes before step p only through swaps that target it (a step i < p with j[i] == p), so:
    v[k], the value at position k when step k starts, is v of the last earlier step targeting k, or k itself;
    and out[k], what step k fetches from position j[k], is v of the previous step targeting j[k], or j[k].
    The v's form chains to earlier steps, resolved by pointer jumping.
    """
    n = j.size
    it = np.int32 if n < 2**31 else np.int64     # int32 indices halve the memory traffic of the gathers
    j = j.astype(it)
    idx = np.arange(n, dtype=it)
    order = np.argsort(j.astype(np.int64) * n + idx).astype(it)   # steps grouped by target, in step order
    js = j[order]
    same = js[1:] == js[:-1]
    prev = np.full(n, -1, it)                     # previous step with the same target
    prev[order[1:][same]] = order[:-1][same]
    last = np.full(n, -1, it)                     # last step targeting each position
    end = np.append(~same, True)
    last[js[end]] = order[end]
    ptr = np.where(j == idx, prev, last)          # a self-swap at k is itself the last step targeting k
    ptr = np.where(ptr < 0, idx, ptr)
    while True:
        nxt = ptr[ptr]
        if np.array_equal(nxt, ptr):
            break
        ptr = nxt
    return np.where(prev >= 0, ptr[prev], j).astype(np.int64)


class Generator:
    """One Torch7 random stream (THGenerator): MT19937 plus the cached half of a Box-Muller pair."""

    def __init__(self, seed=None):
        self._bg = np.random.MT19937(0)
        if seed is None:
            self.seed()
        else:
            self.manualSeed(seed)

    # -- seeding and state -------------------------------------------------------------------------------
    def manualSeed(self, seed):
        """THRandom_manualSeed: init_genrand(seed & 0xffffffff); also forgets the cached normal."""
        seed = int(seed)
        key = np.random.RandomState(seed & 0xffffffff).get_state()[1]   # init_genrand, pos 624: twist next
        self._bg.state = {'bit_generator': 'MT19937', 'state': {'key': key, 'pos': _N}}
        self._seed = seed & _M64
        self._fresh = True        # Torch7's left=1, next=0 until the first draw (for getState's bytes)
        self._nvalid = False
        self._nx = self._ny = self._nrho = 0.0

    def seed(self):
        """THRandom_seed: reseed from /dev/urandom (8 bytes, a C unsigned long); returns it as Lua sees it (signed)."""
        s = int.from_bytes(os.urandom(8), 'little')
        self.manualSeed(s)
        return _signed64(s)

    def initialSeed(self):
        """The seed last given (Torch7 returns its unsigned long as a C long)."""
        return _signed64(self._seed)

    def getState(self):
        """The state as a uint8 array of 5048 bytes: Torch7's THGenerator struct, byte for byte what Lua's
        ``torch.getRNGState()`` holds on x86-64 Linux (seed, MT words, position, Box-Muller cache)."""
        st = self._bg.state['state']
        pos = int(st['pos'])
        r = np.zeros((), _STATE_DTYPE)
        r['the_initial_seed'] = self._seed
        r['seeded'] = 1
        r['left'] = 1 if pos == _N else _N + 1 - pos    # Torch7 twists when --left hits 0
        r['next'] = 0 if (pos == _N and self._fresh) else pos
        r['state'] = st['key']
        r['normal_x'], r['normal_y'], r['normal_rho'] = self._nx, self._ny, self._nrho
        r['normal_is_valid'] = int(self._nvalid)
        return np.frombuffer(r.tobytes(), np.uint8).copy()

    def setState(self, state):
        """Restore a state from getState() (or the bytes of a Lua torch.getRNGState() ByteTensor)."""
        b = np.ascontiguousarray(np.asarray(state, dtype=np.uint8)).ravel()
        if b.size != STATE_SIZE:
            raise ValueError(f"RNG state is wrong size: {b.size} bytes, expected {STATE_SIZE}")
        r = b.view(_STATE_DTYPE)[0]
        left, nxt = int(r['left']), int(r['next'])
        if not (r['seeded'] == 1 and 0 < left <= _N and nxt <= _N):    # THGenerator_isValid
            raise ValueError("Invalid RNG state")
        if left == 1:
            pos = _N
        elif nxt == _N + 1 - left:
            pos = nxt
        else:
            raise ValueError(f"RNG state with left={left}, next={nxt} is not one Torch7 produces")
        key = np.asarray(r['state'] & 0xffffffff, dtype=np.uint32)
        self._bg.state = {'bit_generator': 'MT19937', 'state': {'key': key, 'pos': pos}}
        self._seed = int(r['the_initial_seed'])
        self._fresh = left == 1 and nxt == 0
        self._nvalid = bool(r['normal_is_valid'])
        self._nx, self._ny, self._nrho = float(r['normal_x']), float(r['normal_y']), float(r['normal_rho'])

    # -- raw words ---------------------------------------------------------------------------------------
    def _raw(self, n):
        """n tempered MT19937 words (uint64 array): THRandom_random n times."""
        self._fresh = False
        return self._bg.random_raw(int(n))

    def _u01(self, n):
        u = self._raw(n).view(np.int64).astype(np.float64)   # words < 2^32: the signed view converts faster
        u *= _INV32
        return u

    def random(self, a=None, b=None):
        """torch.random(): one 32-bit word; random(b): 1..b; random(a, b): a..b (TensorMath.lua's
        THRandom_random1__/random2__: word % b + 1 and word % (b+1-a) + a, in unsigned long arithmetic)."""
        self._fresh = False
        r = self._bg.random_raw()
        if a is None and b is None:
            return r
        if b is None:
            a, b = None, a
        if a is None:
            if b <= 0:
                raise ValueError("random: upper bound must be strictly positive")
            return r % int(b) + 1
        if b < a:
            raise ValueError("random: upper bound must be larger than lower bound")
        return _signed64(r % ((int(b) + 1 - int(a)) & _M64) + int(a))

    def random_array(self, n):
        """n raw 32-bit words as int64 (what torch.random() returns, n times)."""
        return self._raw(n).view(np.int64)

    # -- scalar draws (THRandom.c) -----------------------------------------------------------------------
    def uniform(self, a=0.0, b=1.0):
        a, b = float(a), float(b)
        return self.random() * _INV32 * (b - a) + a

    def normal(self, mean=0.0, std=1.0):
        return float(self.normal_array(1, mean, std)[0])

    def exponential(self, lambd=1.0):
        return float(self.exponential_array(1, lambd)[0])

    def cauchy(self, median=0.0, sigma=1.0):
        return float(self.cauchy_array(1, median, sigma)[0])

    def logNormal(self, mean=1.0, std=2.0):
        return float(self.logNormal_array(1, mean, std)[0])

    def geometric(self, p):
        return int(self.geometric_array(1, p)[0])

    def bernoulli(self, p=0.5):
        p = float(p)
        if not 0 <= p <= 1:
            raise ValueError("bernoulli: p must be >= 0 and <= 1")
        return int(self.random() * _INV32 <= p)

    # -- vectorized draws: n values in the order Torch7 fills a tensor ------------------------------------
    # For a FloatTensor, Torch7 passes the parameters as float (TensorMath.lua's `real` arguments) and casts
    # each double result to float: callers filling float tensors should round the parameters to float32.
    def uniform_array(self, n, a=0.0, b=1.0):
        """THRandom_uniform: word * 2^-32 * (b - a) + a."""
        a, b = float(a), float(b)
        u = self._u01(n)
        u *= b - a
        u += a
        return u

    def _by_chunks(self, out, fill):
        """Fill the 1-D numpy array ``out`` in order by chunks of _CHUNK values, ``fill(chunk)`` writing each: no
        array of out's size is made."""
        self._fresh = False               # (as _raw, even for an empty out)
        for i in range(0, out.shape[0], _CHUNK):
            fill(out[i:i + _CHUNK])
        return out

    def uniform_into(self, out, a=0.0, b=1.0):
        """Fill the 1-D numpy array ``out`` (any float dtype) with what ``uniform_array(out.size, a, b)`` cast to
        its dtype holds, drawing by chunks: nothing of out's size is allocated."""
        return self._by_chunks(out, lambda c: np.copyto(c, self.uniform_array(c.shape[0], a, b), casting='unsafe'))

    def bernoulli_into(self, out, p=0.5):
        """Fill the 1-D numpy array ``out`` (any dtype) with what ``bernoulli_array(out.size, p)`` holds for a number
        ``p``, by chunks: word * 2^-32 <= p (both exact doubles) is word <= floor(p * 2^32) (a power-of-two
        scaling, exact), compared on the integer words straight into ``out``."""
        p = float(p)
        if out.shape[0] and not 0 <= p <= 1:
            raise ValueError("bernoulli: p must be >= 0 and <= 1")
        limit = int(np.floor(p * 4294967296.0))
        return self._by_chunks(out, lambda c: np.less_equal(self._raw(c.shape[0]), limit, out=c))

    def normal_array(self, n, mean=0.0, std=1.0):
        """THRandom_normal, Box-Muller by pairs: draw u1, u2; rho = sqrt(-2 log(1 - u2)); return
        rho cos(2 pi u1) std + mean and keep (u1, rho), so the next value is rho sin(2 pi u1) std + mean,
        even across calls and with another mean/std.  Vectorized over the pairs."""
        n, mean, std = int(n), float(mean), float(std)
        out = np.empty(n)
        if n == 0:
            return out
        if not std > 0:
            raise ValueError("normal: standard deviation must be strictly positive")
        k = 0
        if self._nvalid:                      # the sin half of a pair drawn by an earlier call
            out[0] = np.float64(self._nrho) * np.sin(_TWO_PI * np.float64(self._nx)) * std + mean
            self._nvalid = False
            k = 1
        m = n - k
        if m:
            u = self._u01(2 * ((m + 1) // 2))
            x, y = u[0::2], u[1::2]
            rho = np.sqrt(-2.0 * np.log(1.0 - y))
            t = _TWO_PI * x
            out[k::2] = rho * np.cos(t) * std + mean
            h = m // 2
            out[k + 1::2] = rho[:h] * np.sin(t[:h]) * std + mean
            # Torch7 keeps the last pair's x, y, rho; it is still owed its sin half when m is odd
            self._nx, self._ny, self._nrho = float(x[-1]), float(y[-1]), float(rho[-1])
            self._nvalid = bool(m % 2)
        return out

    def exponential_array(self, n, lambd=1.0):
        """THRandom_exponential: -1/lambda * log(1 - u)."""
        with np.errstate(all='ignore'):
            return np.divide(-1.0, float(lambd)) * np.log(1.0 - self._u01(n))

    def cauchy_array(self, n, median=0.0, sigma=1.0):
        """THRandom_cauchy: median + sigma * tan(pi * (u - 0.5))."""
        return float(median) + float(sigma) * np.tan(np.pi * (self._u01(n) - 0.5))

    def logNormal_array(self, n, mean=1.0, std=2.0):
        """THRandom_logNormal: exp(normal(log(m^2 / sqrt(s^2 + m^2)), sqrt(log(s^2 / m^2 + 1)))), sharing
        normal()'s Box-Muller cache; mean and std are those of the log-normal itself."""
        zm, zs = np.float64(mean) * mean, np.float64(std) * std
        with np.errstate(all='ignore'):
            m2 = np.log(zm / np.sqrt(zs + zm))
            s2 = np.sqrt(np.log(zs / zm + 1))
        if int(n) and not std > 0:
            raise ValueError("logNormal: standard deviation must be strictly positive")
        return np.exp(self.normal_array(n, m2, s2))

    def geometric_array(self, n, p):
        """THRandom_geometric: (int)(log(1 - u) / log(p)) + 1, as int64 (Torch7's p(i) = (1-p) p^(i-1))."""
        p = float(p)
        if int(n) and not 0 < p < 1:
            raise ValueError("geometric: p must be > 0 and < 1")
        q = np.log(1.0 - self._u01(n)) / np.log(p)
        # C's (int) truncates; past INT_MAX x86's cvttsd2si gives INT_MIN
        return np.where(q < 2147483648.0, np.trunc(q), -2147483648.0).astype(np.int64) + 1

    def bernoulli_array(self, n, p=0.5):
        """THRandom_bernoulli: u <= p, as int64 0/1.  p is a number or n probabilities (Torch7's
        bernoulli(FloatTensor/DoubleTensor p), one per element)."""
        p = np.asarray(p, dtype=np.float64)
        if int(n) and not np.all((p >= 0) & (p <= 1)):
            raise ValueError("bernoulli: p must be >= 0 and <= 1")
        return (self._u01(n) <= p.ravel() if p.ndim else self._u01(n) <= p).astype(np.int64)

    def random_fill_array(self, n, dtype_name, a=None, b=None):
        """The n values Torch7's ``tensor:random()``, ``tensor:random(b)`` or ``tensor:random(a, b)`` puts in a
        tensor of type ``dtype_name`` ('torch.ByteTensor' ... 'torch.DoubleTensor'; CUDA names map to their CPU
        type).  Bounds are Torch7's, 1-based and inclusive:

        - no bounds: word % M, M = 256 (Byte), 128 (Char), 2^15 (Short), 2^31 (Int), 2^24+1 (Float); Long and
          Double keep the 32-bit word.
        - one bound (given as ``a`` or as ``b``): word % b + 1, i.e. 1..b.
        - a and b: word % (b+1-a) + a, i.e. a..b.

        The result is then cast to the element type as C does: integer types wrap (ByteTensor:random(300) can
        give 44), FloatTensor rounds to float.  The bounded sums are C unsigned long arithmetic, so with a < 0 a
        Float/DoubleTensor gets about 1.8e19 (2^64 + value) wherever the value is negative: that is Torch7's
        behaviour, reproduced.  Returns int64 for the integer types, float64 (holding the exact float or double
        values) for FloatTensor/DoubleTensor.
        """
        kind = _fill_kind(dtype_name)
        mod, dt = _FILL_TYPES[kind]
        r = self._raw(n)
        if a is None and b is None:
            v = r % np.uint64(mod)
        elif a is None or b is None:
            b = int(a if b is None else b)
            if b <= 0:
                raise ValueError("random: upper bound must be strictly positive")
            v = r % np.uint64(b) + np.uint64(1)
        else:
            a, b = int(a), int(b)
            if b < a:
                raise ValueError("random: upper bound must be larger than lower bound")
            span = (b + 1 - a) & _M64                   # long b+1-a, then unsigned
            if span == 0:
                raise ValueError("random: bounds span the whole 64-bit range")
            v = r % np.uint64(span) + np.uint64(a & _M64)   # wraps mod 2^64 as unsigned long does
        if dt in (np.float32, np.float64):
            return v.astype(dt).astype(np.float64)       # unsigned long -> float/double, as C converts
        return v.view(np.int64).astype(dt).astype(np.int64)

    def randperm(self, n):
        """THTensor_(randperm), 0-based: a = 0..n-1, then for i in 0..n-2 swap a[i] and a[i + word % (n-i)].
        Lua's torch.randperm(n) is this plus one."""
        n = int(n)
        if n <= 0:
            raise ValueError("randperm: n must be strictly positive")
        j = np.arange(n, dtype=np.int64)
        if n > 1:
            j[:-1] += self.random_array(n - 1) % np.arange(n, 1, -1, dtype=np.int64)
        return _apply_swaps(j)


class _LockedGenerator(Generator):
    """The global stream: shared by every thread, so each public call holds one lock (Torch7 locks its default
    generator the same way).  A draw of n values is one call: a thread's fill is a contiguous run of the stream."""

    def __init__(self, seed=None):
        self._lock = threading.RLock()      # re-entrant: uniform() calls random(), the *_into fills *_array
        super().__init__(seed)


def _locked(fn):
    def method(self, *args, **kwargs):
        with self._lock:
            return fn(self, *args, **kwargs)
    method.__name__, method.__doc__ = fn.__name__, fn.__doc__
    return method


for _name, _fn in list(vars(Generator).items()):
    if not _name.startswith('_') and callable(_fn):
        setattr(_LockedGenerator, _name, _locked(_fn))

_default = _LockedGenerator()   # the global stream (torch.manualSeed & co.)

manualSeed = _default.manualSeed
seed = _default.seed
initialSeed = _default.initialSeed
random = _default.random
uniform = _default.uniform
normal = _default.normal
exponential = _default.exponential
cauchy = _default.cauchy
logNormal = _default.logNormal
geometric = _default.geometric
bernoulli = _default.bernoulli
getRNGState = _default.getState
setRNGState = _default.setState

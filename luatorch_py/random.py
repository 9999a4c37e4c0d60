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

The module-level functions (``torch.manualSeed``, ``torch.uniform``, ...) take Torch7's optional Generator first
(``split_generator``); ``getRNGState`` gives the state as a ByteTensor.  ``multinomial`` and the alias method
(``multinomialAliasSetup``/``multinomialAlias``) draw as THTensorRandom.c does.
"""
import os
import threading

import numpy as np

from ._fork import hold_across_fork

__all__ = ['Generator', 'manualSeed', 'seed', 'initialSeed', 'random', 'uniform', 'normal', 'exponential',
           'cauchy', 'logNormal', 'geometric', 'bernoulli', 'getRNGState', 'setRNGState', 'split_generator',
           'multinomial', 'multinomialAliasSetup', 'multinomialAlias']

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


def _long_bound(v):
    """A random() bound as Torch7's long argument: C truncates 2.5 to 2.  One outside a long's range is refused
    before any draw (C's conversion is undefined there; numpy failed with an OverflowError after the draw)."""
    try:
        v = int(v)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"random: expected integer bounds (Lua longs), got {v!r}") from None
    if not -(1 << 63) <= v < 1 << 63:
        raise ValueError(f"random: bound {v} does not fit in a C long (-2^63 .. 2^63-1)")
    return v


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


def _generator_from_state(state):
    """A Generator set to ``state`` (getState's bytes): what copies and unpickles a Generator."""
    g = Generator(0)
    g.setState(np.frombuffer(state, np.uint8))
    return g


def _init_genrand(seed32):
    """mt19937ar.c's init_genrand (THRandom_manualSeed): the 624 state words for a 32-bit seed."""
    key = [seed32]
    for i in range(1, _N):
        k = key[-1]
        key.append((1812433253 * (k ^ (k >> 30)) + i) & 0xffffffff)
    return np.array(key, dtype=np.uint32)


class Generator:
    """One Torch7 random stream (THGenerator): MT19937 plus the cached half of a Box-Muller pair.

    The engine is numpy's MT19937 bit generator, made at the first draw: importing numpy.random costs ~7 MB of
    resident memory and ~13 ms (it loads secrets, hashlib and OpenSSL), which ``import luatorch_py`` -- whose
    global stream is seeded at import, as Torch7's -- need not pay.  Until then the state is kept as Torch7's words
    (``_pending``: key, position)."""

    def __init__(self, seed=None):
        self._engine = None
        if seed is None:
            self.seed()
        else:
            self.manualSeed(seed)

    def __repr__(self):
        return 'torch.Generator'        # (Torch7 prints the type name)

    def __reduce__(self):
        # copy.copy, copy.deepcopy and pickle go through the state bytes: a copy is an independent stream at the
        # same point (a plain copy shared the numpy engine but not the Box-Muller cache; the global stream's lock
        # does not pickle)
        return _generator_from_state, (self.getState().tobytes(),)

    @property
    def _bg(self):
        bg = self._engine
        if bg is None:
            bg = self._engine = np.random.MT19937(0)
            self._set_words(*self._pending)
        return bg

    def _set_words(self, key, pos):
        if self._engine is None:
            self._pending = (key, pos)
        else:
            self._engine.state = {'bit_generator': 'MT19937', 'state': {'key': key, 'pos': pos}}

    def _words(self):
        """(the 624 state words, the position of the next)."""
        if self._engine is None:
            return self._pending
        st = self._engine.state['state']
        return st['key'], int(st['pos'])

    # -- seeding and state -------------------------------------------------------------------------------
    def manualSeed(self, seed):
        """THRandom_manualSeed: init_genrand(seed & 0xffffffff); also forgets the cached normal."""
        seed = int(seed)
        self._set_words(_init_genrand(seed & 0xffffffff), _N)     # pos 624: twist next
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
        key, pos = self._words()
        r = np.zeros((), _STATE_DTYPE)
        r['the_initial_seed'] = self._seed
        r['seeded'] = 1
        r['left'] = 1 if pos == _N else _N + 1 - pos    # Torch7 twists when --left hits 0
        r['next'] = 0 if (pos == _N and self._fresh) else pos
        r['state'] = key
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
        self._set_words(key, pos)
        self._seed = int(r['the_initial_seed'])
        self._fresh = left == 1 and nxt == 0
        self._nvalid = bool(r['normal_is_valid'])
        self._nx, self._ny, self._nrho = float(r['normal_x']), float(r['normal_y']), float(r['normal_rho'])

    # -- raw words ---------------------------------------------------------------------------------------
    def _raw(self, n):
        """n tempered MT19937 words (uint64 array): THRandom_random n times."""
        if int(n):                        # no draw (an empty fill) leaves Torch7's next = 0 after a seed
            self._fresh = False
        return self._bg.random_raw(int(n))

    def _u01(self, n):
        u = self._raw(n).view(np.int64).astype(np.float64)   # words < 2^32: the signed view converts faster
        u *= _INV32
        return u

    def random(self, a=None, b=None):
        """torch.random(): one 32-bit word; random(b): 1..b; random(a, b): a..b (TensorMath.lua's
        THRandom_random1__/random2__: word % b + 1 and word % (b+1-a) + a, in unsigned long arithmetic)."""
        # the bounds are Lua's long arguments (C truncates 2.5 to 2), checked before the draw as TH checks them, so
        # a refused call leaves the stream where it was
        if b is None and a is not None:
            a, b = None, a
        if b is not None:
            b = _long_bound(b)
            if a is None and b <= 0:
                raise ValueError("random: upper bound must be strictly positive")
        if a is not None:
            a = _long_bound(a)
            if b < a:
                raise ValueError("random: upper bound must be larger than lower bound")
            if (b + 1 - a) & _M64 == 0:
                raise ValueError("random: bounds span the whole 64-bit range")
        self._fresh = False
        r = self._bg.random_raw()
        if b is None:
            return r
        if a is None:
            return r % b + 1
        return _signed64(r % ((b + 1 - a) & _M64) + a)

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
        for i in range(0, out.shape[0], _CHUNK):      # (each chunk's _raw marks the stream drawn)
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
        """THRandom_logNormal as the last Torch7 has it: exp(normal(mean, std)), sharing normal()'s Box-Muller
        cache; mean and std are those of the underlying normal (older TH took those of the log-normal itself)."""
        if int(n) and not std > 0:
            raise ValueError("logNormal: standard deviation must be strictly positive")
        return np.exp(self.normal_array(n, mean, std))

    def geometric_array(self, n, p):
        """THRandom_geometric: (int)(log(1 - u) / log(p)) + 1, as int64 (Torch7's p(i) = (1-p) p^(i-1))."""
        p = float(p)
        if int(n) and not 0 < p < 1:
            raise ValueError("geometric: p must be > 0 and < 1")
        q = np.log(1.0 - self._u01(n)) / np.log(p)
        # C's (int) truncates; past INT_MAX x86's cvttsd2si gives INT_MIN; the int + 1 wraps INT_MAX to INT_MIN too
        k = np.where(q < 2147483648.0, np.trunc(q), -2147483648.0).astype(np.int32)
        return (k + np.int32(1)).astype(np.int64)

    def bernoulli_array(self, n, p=0.5):
        """THRandom_bernoulli: u <= p, as int64 0/1.  p is a number or n probabilities (Torch7's
        bernoulli(FloatTensor/DoubleTensor p), one per element)."""
        p = np.asarray(p, dtype=np.float64)
        if p.ndim and p.size != int(n):
            raise ValueError(f"bernoulli: expected one probability per element ({int(n)}), got a tensor of "
                             f"{p.size} probabilities (Torch7: inconsistent tensor size)")
        ok = (p >= 0) & (p <= 1)
        if int(n) and not np.all(ok):
            if p.ndim:      # Torch7 checks each p as it comes: the elements before the first bad one drew theirs
                self._raw(int(np.flatnonzero(~ok.ravel())[0]))
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
        # the bounds are checked before drawing, as TH checks them: a refused fill leaves the stream where it was
        if a is None and b is None:
            span, low = mod, 0
        elif a is None or b is None:
            b = _long_bound(a if b is None else b)
            if b <= 0:
                raise ValueError("random: upper bound must be strictly positive")
            span, low = b, 1
        else:
            a, b = _long_bound(a), _long_bound(b)
            if b < a:
                raise ValueError("random: upper bound must be larger than lower bound")
            span, low = (b + 1 - a) & _M64, a & _M64    # long b+1-a, then unsigned
            if span == 0:
                raise ValueError("random: bounds span the whole 64-bit range")
        v = self._raw(n) % np.uint64(span) + np.uint64(low)     # wraps mod 2^64 as unsigned long does
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


def _after_fork_in_child():
    """A forked child has only the thread that forked: the lock, taken before the fork so that no other thread was
    inside a draw (numpy's engine has a lock of its own too), is one nobody there would release.  The child goes on
    with the parent's stream: reseed it in each child for different numbers."""
    _default._lock = threading.RLock()


hold_across_fork(lambda: _default._lock, _after_fork_in_child)


# -- Torch7's functions: an optional Generator first, else the global stream -----------------------------------
def split_generator(args):
    """``(generator, rest)`` for Torch7's optional first argument: ``torch.uniform(gen, 0, 1)`` draws from ``gen``,
    ``torch.uniform(0, 1)`` from the global stream.  Tensor fills and ``torch.rand``/``randn`` use it too."""
    if args and isinstance(args[0], Generator):
        return args[0], tuple(args[1:])
    return _default, tuple(args)


def _gen_first(name, doc):
    def fn(*args):
        g, rest = split_generator(args)
        return getattr(g, name)(*rest)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc + "  An optional torch.Generator first draws from it instead of the global stream."
    return fn


manualSeed = _gen_first('manualSeed', "manualSeed([gen,] n): reseed (n & 0xffffffff starts MT19937, as Torch7).")
seed = _gen_first('seed', "seed([gen]): reseed from /dev/urandom; returns the seed.")
initialSeed = _gen_first('initialSeed', "initialSeed([gen]): the seed last given.")
random = _gen_first('random', "random([gen,] [a,] [b]): a 32-bit word; 1..b; a..b (Torch7's inclusive bounds).")
uniform = _gen_first('uniform', "uniform([gen,] a=0, b=1): a number in [a, b).")
normal = _gen_first('normal', "normal([gen,] mean=0, std=1).")
exponential = _gen_first('exponential', "exponential([gen,] lambda=1).")
cauchy = _gen_first('cauchy', "cauchy([gen,] median=0, sigma=1).")
logNormal = _gen_first('logNormal', "logNormal([gen,] mean=1, std=2): exp(normal(mean, std)) (the last TH).")
geometric = _gen_first('geometric', "geometric([gen,] p): 1, 2, ... with Torch7's p(i) = (1-p) p^(i-1).")
bernoulli = _gen_first('bernoulli', "bernoulli([gen,] p=0.5): 1 with probability p, else 0.")


def _byte_tensor_class():
    from .types import type_info            # (here: the tensor modules import this one)
    return type_info('torch.ByteTensor').tensor_class


def getRNGState(*args):
    """getRNGState([gen,] [res]): the state as a ByteTensor of 5048 bytes, Torch7's THGenerator struct byte for byte
    (``torch.save`` writes it; Lua's ``torch.setRNGState`` reads it).  ``res``, a ByteTensor, is resized and filled."""
    g, rest = split_generator(args)
    if len(rest) > 1:
        raise TypeError(f"getRNGState: expected ([gen,] [ByteTensor]), got {len(args)} arguments")
    cls = _byte_tensor_class()
    b = g.getState()
    if not rest or rest[0] is None:
        return cls._from_array(b)
    res = rest[0]
    if not isinstance(res, cls):
        raise TypeError(f"getRNGState: the result must be a torch.ByteTensor, got {type(res).__name__}")
    res.resize(b.size)
    res._a[...] = b
    return res


def setRNGState(*args):
    """setRNGState([gen,] state): restore a state from getRNGState (a ByteTensor; a uint8 array or bytes also do).
    Returns ``state``, as Torch7."""
    g, rest = split_generator(args)
    if len(rest) != 1:
        raise TypeError(f"setRNGState: expected ([gen,] state), got {len(args)} arguments")
    state = rest[0]
    if isinstance(state, (bytes, bytearray)):
        b = np.frombuffer(state, np.uint8)
    elif hasattr(state, '_info') and hasattr(state, '_a'):
        if state._info.dtype != np.uint8:
            raise TypeError(f"setRNGState: expected a torch.ByteTensor, got a {state._info.name}")
        from .backend import to_numpy
        b = to_numpy(state._a)
    else:
        b = np.asarray(state)
        if b.dtype != np.uint8:
            raise TypeError(f"setRNGState: expected a torch.ByteTensor (or uint8 bytes), got dtype {b.dtype}")
    g.setState(b)
    return state


# -- multinomial (THTensorRandom.c's multinomial, multinomialAliasSetup, multinomialAliasDraw) -----------------
def _tensor_class():
    from .tensor import Tensor
    return Tensor


def _long_like(cuda):
    from .types import type_info
    return type_info('torch.CudaLongTensor' if cuda else 'torch.LongTensor').tensor_class


def _host(t):
    from .backend import to_numpy
    return to_numpy(t._a)


def _binary_search(cum, u):
    """TH's search, vectorized: the first slot whose cumulative probability is not below u (for each u of a row of
    ``cum``: cum is (rows, k), u is (rows, m)).  The same halving steps as the C loop, so the same slot even for a
    cum that is not sorted (negative weights, which Torch7 does not reject)."""
    rows, k = cum.shape
    left = np.zeros(u.shape, np.int64)
    right = np.full(u.shape, k, np.int64)
    r = np.arange(rows)[:, None]
    while True:
        active = right > left
        if not active.any():
            return left
        mid = left + (right - left) // 2
        below = cum[r, np.minimum(mid, k - 1)] < u
        left = np.where(active & below, mid + 1, left)
        right = np.where(active & ~below, mid, right)


def _multinomial_draw(g, P, n_sample, replacement):
    """0-based categories, (rows, n_sample), from the (rows, k) float64 weights P, drawn as TH draws them."""
    rows, k = P.shape
    if n_sample <= 0:
        raise ValueError(f"multinomial: cannot sample n_sample <= 0 samples (got {n_sample})")
    if not replacement and n_sample > k:
        raise ValueError(f"multinomial: cannot sample n_sample > prob_dist:size(1) samples without replacement "
                         f"(asked for {n_sample} of {k} categories)")
    if k == 0:
        raise ValueError("multinomial: invalid multinomial distribution (no categories)")
    cum = np.cumsum(P, axis=1)             # sequential sums in double, as TH's loop
    sums = cum[:, -1].copy()
    bad = np.flatnonzero(~(sums > 0))
    if bad.size:
        g._raw(int(bad[0]) * n_sample)     # Torch7 drew the earlier rows before failing on this one
        raise ValueError(f"multinomial: invalid multinomial distribution (sum of probabilities <= 0) in row {bad[0]}")
    cum /= sums[:, None]
    cum[:, -1] = 1.0
    # one uniform per sample, row by row: the whole stream segment at once, then each column for all rows
    u = g.uniform_array(rows * n_sample, 0.0, 1.0).reshape(rows, n_sample)
    if replacement:
        return _binary_search(cum, u)
    out = np.empty((rows, n_sample), np.int64)
    r = np.arange(rows)
    later = np.arange(k)[None, :]
    for j in range(n_sample):
        cum[:, -1] = 1.0
        s = _binary_search(cum, u[:, j:j + 1])[:, 0]
        out[:, j] = s
        # the drawn category's mass leaves the distribution: TH's (v - diff) / (1 - diff) from it on, v / (1 - diff)
        # before it
        diff = cum[r, s] - np.where(s > 0, cum[r, np.maximum(s - 1, 0)], 0.0)
        cum = np.where(later >= s[:, None], cum - diff[:, None], cum)
        with np.errstate(divide='ignore', invalid='ignore'):    # all mass drawn: C divides by 0 too
            cum /= (1.0 - diff)[:, None]
    return out


def multinomial(*args, replacement=None):
    """multinomial([res,] [gen,] p, n, replacement=False): n category indices (0-based; Lua's are 1-based) for each
    row of the weights p (a vector or a matrix; rows need not sum to one), drawn from the Torch7 stream exactly as
    TH does (one uniform per sample, binary search in the normalized cumulative weights; without replacement a drawn
    category's weight is removed).  A LongTensor of size n (vector p) or rows x n."""
    Tensor = _tensor_class()
    args = list(args)
    res = None
    if len(args) > 1 and isinstance(args[0], Tensor):
        nxt = args[2] if len(args) > 2 and isinstance(args[1], Generator) else args[1]
        if isinstance(nxt, Tensor):
            res = args.pop(0)
    g, rest = split_generator(args)
    if not 2 <= len(rest) <= 3 or not isinstance(rest[0], Tensor):
        raise TypeError("multinomial: expected ([res,] [gen,] prob_tensor, n_sample [, replacement]), got "
                        f"{', '.join(type(a).__name__ for a in args)}")
    p, n = rest[0], rest[1]
    if len(rest) > 2 and replacement is not None:
        raise TypeError("multinomial: replacement given twice (positionally and by keyword)")
    replacement = bool(rest[2] if len(rest) > 2 else replacement)
    if p.dim() not in (1, 2):
        raise ValueError(f"multinomial: prob_dist must be 1 or 2 dim, got a {p.dim()}-D {p._info.name}")
    if res is not None and 'Long' not in res._info.name:      # (checked before the draw, as Torch7's wrapper)
        raise TypeError(f"multinomial: the result must be a LongTensor, got a {res._info.name}")
    P = _host(p).astype(np.float64).reshape(-1 if p.dim() == 2 else 1, p.size(p.dim() - 1))
    out = _multinomial_draw(g, P, int(n), replacement)
    if p.dim() == 1:
        out = out[0]
    if res is None:
        res = _long_like(p._info.cuda)()
    res.resize(*out.shape)
    res.copy(_as(res, out))
    return res


def _as(like, arr):
    """``arr`` (int64 numpy) as a tensor of ``like``'s type."""
    from .backend import to_device
    info = like._info
    return info.tensor_class._from_array(to_device(arr.astype(info.dtype), info.cuda))


def multinomial_method(self, *args, **kw):
    """The method forms: ``p.multinomial(n [, replacement])``, ``res.multinomial(p, n, ...)`` (Lua's
    ``p.multinomial(res, p, n)``, the class function with the result first, reaches here with self = res) and
    ``p.multinomial(res, p, n, ...)``.  A generator may come first."""
    Tensor = _tensor_class()
    head = list(args[1:] if args and isinstance(args[0], Generator) else args)
    if len(head) > 1 and isinstance(head[0], Tensor) and isinstance(head[1], Tensor):
        return multinomial(*args, **kw)                   # p.multinomial(res, p, n)
    if head and isinstance(head[0], Tensor):
        return multinomial(self, *args, **kw)             # res.multinomial(p, n)
    gen = args[:1] if args and isinstance(args[0], Generator) else ()
    return multinomial(*gen, self, *head, **kw)           # p.multinomial(n)


def multinomialAliasSetup(probs, state=None):
    """The alias method's tables for the weights ``probs`` (a vector): ``[J, q]``, J a LongTensor of alias
    categories (0-based), q the probabilities of keeping the drawn slot (probs' type), computed as TH does (in its
    order and precision).  ``state``, a list of two tensors, is filled and returned instead (Lua's
    multinomialAliasSetup(probs, state))."""
    Tensor = _tensor_class()
    if not isinstance(probs, Tensor):
        raise TypeError(f"multinomialAliasSetup: expected a tensor of probabilities, got {type(probs).__name__}")
    real = probs._info.dtype.type if probs._info.dtype.kind == 'f' else np.float64
    p = _host(probs).reshape(-1).astype(real)
    n = p.size
    J = np.zeros(n, np.int64)
    q = (real(n) * p).astype(real) if n else p.copy()
    smaller = [i for i in range(n) if float(q[i]) < 1.0]
    larger = [i for i in range(n) if not float(q[i]) < 1.0]
    while smaller and larger:
        large, small = larger[-1], smaller[-1]
        J[small] = large
        q[large] = float(q[large]) - (1.0 - float(q[small]))    # C: real -= double
        if float(q[large]) < 1.0:
            smaller[-1] = large
            larger.pop()
        else:
            larger[-1] = large
            smaller.pop()
    if n:
        if not float(q.min()) > 0:
            raise ValueError("multinomialAliasSetup: q_min is less than 0 (a probability is <= 0)")
        qmax = q.max()
        if qmax > 1:
            q /= qmax
        q[J <= 0] = 1.0        # TH: an entry left without an alias (or aliased to slot 0) always keeps its slot
    Jt = _as(_long_like(probs._info.cuda)(), J)
    qt = type(probs)._from_array(_to_dev(q, probs))
    if state is None:
        return [Jt, qt]
    if len(state) != 2:
        raise ValueError(f"multinomialAliasSetup: state must be a list of two tensors, got {len(state)} items")
    for k, t in enumerate((Jt, qt)):
        if isinstance(state[k], Tensor) and state[k]._info is t._info:
            state[k].resize(*t.size())          # reuse the given tensors, as Torch7
            state[k].copy(t)
        else:
            state[k] = t
    return state


def _to_dev(arr, like):
    from .backend import to_device
    return to_device(np.ascontiguousarray(arr), like._info.cuda)


def multinomialAlias(output, state, gen=None):
    """Fill the 1-D LongTensor ``output`` with draws from ``state = multinomialAliasSetup(probs)``, from the Torch7
    stream as TH draws them (per sample: a uniform slot, then a bernoulli on its q).  Returns output.

    Torch7's binding subtracts one from J (its 1-based alias table) before the draw and never adds it back, so a
    sample taken from the alias table comes out one less than the alias, and every call leaves J one less.  Both
    are reproduced (the same numbers as Lua for the same seed): prefer ``multinomial`` for unbiased samples."""
    Tensor = _tensor_class()
    g = _default if gen is None else gen
    if not isinstance(output, Tensor) or 'Long' not in output._info.name:
        raise TypeError(f"multinomialAlias: output must be a LongTensor, got {type(output).__name__}")
    if output.dim() != 1:
        raise ValueError(f"multinomialAlias: output must be 1-D (use output.view(-1)), got {output.dim()}-D")
    J, q = state[0], state[1]
    Jn = _host(J).reshape(-1).astype(np.int64)
    qn = _host(q).reshape(-1).astype(np.float64)
    K = Jn.size
    m = output.size(0)
    if m and K == 0:
        raise ValueError("multinomialAlias: empty state")
    if m:
        w = g.random_array(2 * m).astype(np.float64) * _INV32
        slot = np.trunc(w[0::2] * float(K) + 0.0).astype(np.int64)
        keep_p = qn[slot]
        if not np.all((keep_p >= 0) & (keep_p <= 1)):
            raise ValueError("multinomialAlias: bernoulli: p must be >= 0 and <= 1 (is state from "
                             "multinomialAliasSetup?)")
        keep = w[1::2] <= keep_p
        output._a[...] = _to_dev(np.where(keep, slot, Jn[slot] - 1), output)
    J.add(-1)                  # Torch7's lost re-increment (see above)
    return output

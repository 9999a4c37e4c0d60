"""Damaged input: random truncations, byte flips and hostile ints in valid files.  Every case must end in T7Error
or load; never another exception, never a hang, never a large allocation."""
import os
import random
import struct
import time
import warnings

import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.serialization import T7Error

HOSTILE = [0, 1, -1, 2, 3, 4, 8, 9, 0x7fffffff, -0x80000000, 1 << 20, 64, 65]


def _samples(shared=None):
    torch.manualSeed(1)
    t = torch.DoubleTensor(3, 4).uniform()
    data = {'t': t, 'v': t.t(), 'n': t.narrow(1, 1, 2), 'l': torch.LongTensor([1, 2, 6000000000]),
            'b': torch.ByteTensor([0, 255]), 'f': torch.FloatTensor(2, 2).fill(0.5), 's': 'text', 'x': 1.5,
            'list': [1, 2, [3, {'k': True}]], 'st': t.storage(), 'empty': torch.IntTensor()}
    data['self'] = data
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Narrow(1, 0, 2), nn.BatchNormalization(2),
                        nn.SpatialMaxPooling(2, 2))
    out = [('data', torch.serialize(data), 'binary'), ('data-ascii', torch.serialize(data, 'ascii'), 'ascii'),
           ('net', torch.serialize({'model': net, 'crit': nn.ClassNLLCriterion()}), 'binary'),
           ('net-ascii', torch.serialize(net, 'ascii'), 'ascii')]
    if shared:
        d = os.path.join(shared, 'fixtures', 't7')
        for name, fmt in (('data.t7', 'binary'), ('data_ascii.t7', 'ascii'), ('mlp_float.t7', 'binary')):
            p = os.path.join(d, name)
            if os.path.exists(p):
                with open(p, 'rb') as f:
                    out.append((name, f.read(), fmt))
    return out


def _mutate(rng, data):
    b = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:                                  # truncation
        return bytes(b[:rng.randrange(len(b))]), 'truncate'
    if kind == 1:                                  # a few random bytes
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b), 'flip'
    if kind == 2 and len(b) >= 8:                  # a hostile int32 at an aligned place (tags, sizes, indices)
        at = rng.randrange(0, len(b) - 4, 4)
        b[at:at + 4] = struct.pack('<i', rng.choice(HOSTILE))
        return bytes(b), 'int32'
    if kind == 3 and len(b) >= 8:                  # a hostile long (sizes, strides, offsets)
        at = rng.randrange(0, len(b) - 8)
        b[at:at + 8] = struct.pack('<q', rng.choice([-1, 1 << 40, 1 << 62, 0, 7]))
        return bytes(b), 'int64'
    # ascii-minded: replace a byte by a digit, a space or a newline
    b[rng.randrange(len(b))] = ord(rng.choice('0123456789 \n-.e'))
    return bytes(b), 'text'


def _check(data, fmt, label):
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.deserialize(data, fmt)
    except T7Error:
        pass
    except Exception as e:   # pragma: no cover - the failure message is the point
        pytest.fail(f"{label}: {type(e).__name__}: {e}")
    dt = time.perf_counter() - t0
    assert dt < 2.0, f"{label}: took {dt:.2f}s"


def test_random_damage(request):
    shared = None
    try:
        shared = request.getfixturevalue('shared_dir')
    except pytest.skip.Exception:
        pass
    samples = _samples(shared)
    rng = random.Random(12345)
    t0 = time.perf_counter()
    n = 0
    for i in range(300):
        name, data, fmt = samples[i % len(samples)]
        bad, how = _mutate(rng, data)
        _check(bad, fmt, f"case {i} ({name}, {how})")
        n += 1
    # every truncation point of a small file
    for name, data, fmt in samples[:2]:
        for cut in range(0, len(data), max(1, len(data) // 150)):
            _check(data[:cut], fmt, f"{name} cut at {cut}")
    assert time.perf_counter() - t0 < 20


def test_truncated_files_are_t7errors():
    for name, data, fmt in _samples():
        for cut in (0, 1, 3, len(data) // 2, len(data) - 1):
            if fmt == 'ascii' and cut == len(data) - 1:
                continue    # the last byte of an ascii file is the final newline: not needed to parse
            with pytest.raises(T7Error):
                torch.deserialize(data[:cut], fmt)


_BASE = torch.serialize({'a': [1, 2.5, 'x'], 't': torch.FloatTensor([[1, 2], [3, 4]]), 'm': nn.Linear(2, 2)})


def _hypothesis():
    """hypothesis and its settings for these tests (hypothesis is in the `test` extra; without it only the tests
    that use it are skipped)."""
    hp = pytest.importorskip('hypothesis')
    return hp, hp.settings(max_examples=150, deadline=2000, suppress_health_check=list(hp.HealthCheck),
                           derandomize=True)


def test_hypothesis_arbitrary_bytes():
    hp, settings = _hypothesis()

    @settings
    @hp.given(hp.strategies.binary(max_size=300))
    def check(data):
        for fmt in ('binary', 'ascii'):
            _check(data, fmt, f'{data!r}')
    check()


def test_hypothesis_mutations():
    hp, settings = _hypothesis()
    st = hp.strategies

    @settings
    @hp.given(st.lists(st.tuples(st.integers(0, len(_BASE) - 1), st.integers(0, 255)), min_size=1, max_size=6),
              st.integers(1, len(_BASE)))
    def check(edits, cut):
        b = bytearray(_BASE)
        for at, v in edits:
            b[at] = v
        _check(bytes(b[:cut]), 'binary', f'{edits} cut {cut}')
    check()

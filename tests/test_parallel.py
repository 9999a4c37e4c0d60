"""backend/parallel.py: big CPU passes split over threads give the values of one pass, errors reach the caller,
and two user threads calling at once both finish."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn
from luatorch_py.backend import parallel
from forking import reap
from fresh import fresh_stdout


@pytest.fixture
def threads():
    old = parallel.get_threads()
    yield parallel.set_threads
    parallel.set_threads(old)


def test_run_covers_the_range_once_in_parts(threads):
    threads(3)
    seen = []
    lock = threading.Lock()

    def fn(lo, hi):
        with lock:
            seen.append((lo, hi, threading.get_ident()))
    parallel.run(fn, 10, 3 * parallel.MIN_PART)
    spans = sorted((lo, hi) for lo, hi, _ in seen)
    assert spans == [(0, 3), (3, 6), (6, 10)]
    assert len({t for *_, t in seen}) == 3          # three threads, the caller's among them
    seen.clear()
    parallel.run(fn, 10, parallel.MIN_PART)         # too small to split
    assert [(lo, hi) for lo, hi, _ in seen] == [(0, 10)]


def test_an_error_in_a_part_reaches_the_caller_and_the_pool_stays_usable(threads):
    threads(2)

    def fn(lo, hi):
        if lo == 0:
            raise ValueError(f"part {lo}:{hi}")
    with pytest.raises(ValueError, match='part 0:'):
        parallel.run(fn, 4, 4 * parallel.MIN_PART)
    out = np.zeros(4)

    def fill(lo, hi):
        out[lo:hi] = 1
    parallel.run(fill, 4, 4 * parallel.MIN_PART)
    assert out.tolist() == [1, 1, 1, 1]


def test_two_user_threads_at_once(threads):
    threads(2)
    a = np.random.default_rng(0).standard_normal((8, 1 << 16)).astype(np.float32)
    outs = [np.empty_like(a) for _ in range(4)]

    def work(o):
        for _ in range(20):
            parallel.run_flat(lambda x, y: np.exp(x, out=y), a, o)
    ts = [threading.Thread(target=work, args=(o,)) for o in outs]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert not any(t.is_alive() for t in ts)
    for o in outs:
        np.testing.assert_array_equal(o, np.exp(a))


def test_run_flat_splits_only_one_layout(threads):
    threads(2)
    n = 4 * parallel.MIN_PART
    a = np.arange(n, dtype=np.float32).reshape(64, -1)
    calls = []
    parallel.run_flat(lambda x, y: calls.append((x.shape, y.shape)), a, np.empty_like(a))
    assert calls == [((n // 2,), (n // 2,))] * 2
    calls.clear()
    f_order = np.empty((n // 64, 64), np.float32).T
    parallel.run_flat(lambda x, y: calls.append((x.shape, y.shape)), a, f_order)      # mixed layouts
    assert calls == [((64, n // 64), (64, n // 64))]


@pytest.mark.parametrize('n', [1, 2, 3])
def test_lenet_pooling_and_relu_values_do_not_depend_on_threads(threads, n):
    """Batch-last max pooling and ReLU, forward and backward, with the planes split over n threads: the values
    of one thread, bit for bit."""
    rs = np.random.default_rng(5)
    x = torch.FloatTensor(np.round(rs.standard_normal((64, 20, 24, 24)), 1).astype(np.float32))   # ties
    res = []
    for t in (1, n):
        threads(t)
        torch.manualSeed(3)
        net = nn.Sequential().add(nn.SpatialConvolution(20, 20, 1, 1)).add(nn.ReLU()) \
            .add(nn.SpatialMaxPooling(2, 2)).add(nn.View(20 * 12 * 12)).float()
        out = net.forward(x).clone().numpy()
        g = torch.FloatTensor(rs.standard_normal(out.shape).astype(np.float32)) if not res else res[0][2]
        gi = net.backward(x, g).clone().numpy()
        res.append((out, gi, g, net.get(2).indices.clone().numpy(), net.get(1).gradInput.clone().numpy()))
    for a, b in zip(res[0], res[1]):
        a, b = getattr(a, 'numpy', lambda: a)(), getattr(b, 'numpy', lambda: b)()
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not hasattr(__import__('os'), 'fork'), reason='needs fork')
def test_a_forked_child_runs_split_passes(threads):
    """The child of a fork made after the workers started gets workers of its own (it would hang on the
    parent's, which do not exist in it)."""
    import os
    threads(2)
    a = np.ones(4 * parallel.MIN_PART, np.float32)
    o = np.empty_like(a)
    parallel.run_flat(lambda x, y: np.exp(x, out=y), a, o)        # the parent's worker exists now
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            parallel.run_flat(lambda x, y: np.negative(x, out=y), a, o)
            os.write(w, b'ok' if (o == -1).all() else b'bad')
        finally:
            os._exit(0)
    os.close(w)
    assert reap(pid, 30, hung='the forked child hung on its split pass') == 0
    assert os.read(r, 8) == b'ok'


def test_off_by_default_and_setnumthreads_leaves_it_off():
    # README / docs/developing.md: elementwise passes run on the calling thread unless parallel.set_threads asks;
    # torch.setnumthreads sets BLAS's pool only (a fresh process: no other test's setting)
    code = ("import luatorch_py as torch\nfrom luatorch_py.backend import parallel\n"
            "d = parallel.get_threads()\ntorch.setnumthreads(2)\nprint(d, parallel.get_threads())")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True, timeout=120,
                         cwd=root).stdout
    assert out.split() == ['1', '1']


def test_a_run_interrupted_while_waiting_leaves_the_next_runs_whole(threads, monkeypatch):
    """A KeyboardInterrupt (Ctrl-C, a notebook's interrupt) while the caller waits for a worker leaves that worker
    on its part: the next run's part for it used to be dropped when that old part ended (half of the pass left
    unwritten), the worker died, and the run after hung.  Now the next run waits for the old part first."""
    threads(2)
    old_part_started, old_part_may_end = threading.Event(), threading.Event()

    def slow(lo, hi):
        if lo == 0:                                 # the worker's part: still running when the wait is interrupted
            old_part_started.set()
            old_part_may_end.wait(0.3)

    def interrupted(self):
        monkeypatch.undo()
        assert old_part_started.wait(10)
        raise KeyboardInterrupt
    monkeypatch.setattr(parallel._Worker, 'finish', interrupted)
    with pytest.raises(KeyboardInterrupt):
        parallel.run(slow, 10, 2 * parallel.MIN_PART)
    out = np.zeros(10)

    def fill(lo, hi):
        out[lo:hi] = 2
        old_part_may_end.set()                      # (the caller's part: before the fix, the old part ends here)
    parallel.run(fill, 10, 2 * parallel.MIN_PART)
    assert out.tolist() == [2.0] * 10
    out[:] = 0
    t = threading.Thread(target=parallel.run, args=(fill, 10, 2 * parallel.MIN_PART), daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive() and out.tolist() == [2.0] * 10


def test_set_threads_is_reachable_right_after_import():
    """README's ``luatorch_py.backend.parallel.set_threads(n)`` in a fresh process, before any nn file that imports
    backend.parallel has loaded (nn loads its files on first use: it raised AttributeError)."""
    code = ("import luatorch_py\n"
            "luatorch_py.backend.parallel.set_threads(3)\n"
            "print(luatorch_py.backend.parallel.get_threads())\n")
    out = fresh_stdout(code)
    assert out == '3\n'

"""Big CPU elementwise passes split over threads, as Torch7's TH and THNN run their big loops under OpenMP.

numpy releases the GIL inside a ufunc's loop (and inside an array copy), so the parts of one pass can run at once on
several cores.  Off by default (1 thread): measured inside a LeNet training step on the 2-core machine with numpy's
OpenBLAS using both cores, splitting max pooling and ReLU made the step 5-6% slower (and the convolutions'
im2col/col2im 4.5%), though each pass alone ran up to 1.9x faster: after every matrix product OpenBLAS's threads keep
spinning on the other core, so a worker waits for it.  ``set_threads(n)`` turns it on (a machine with cores to
spare, or BLAS on one thread).  A pass is split only when each part gets at least ``MIN_PART`` elements: waking a
worker costs ~10-30 µs; the values never depend on the number of threads.

A caller passes ``fn(lo, hi)`` doing its pass on the index range [lo, hi) of an outer dimension of its arrays;
``run`` calls it on ``parts`` ranges, the last on the calling thread.  Two of the user's threads calling at once
do not wait for each other: the second runs its pass whole on its own thread."""
import os
import threading

import numpy as np

MIN_PART = 1 << 17       # elements per part (float32: 512 KB, half a core's L2 here)

_nthreads = 1


def set_threads(n):
    """Split big elementwise passes over ``n`` threads (1: do not split)."""
    global _nthreads
    _nthreads = max(1, int(n))


def get_threads():
    return _nthreads


class _Worker:
    """One thread waiting for a part: ``start(fn, lo, hi)``, then ``finish()`` re-raises what fn raised."""

    def __init__(self):
        self._go = threading.Event()
        self._done = threading.Event()
        self._job = None
        self._err = None
        self._done.set()        # idle
        threading.Thread(target=self._loop, name='luatorch_py-cpu', daemon=True).start()

    def _loop(self):
        while True:
            self._go.wait()
            self._go.clear()
            fn, lo, hi = self._job
            try:
                fn(lo, hi)
            except BaseException as e:      # handed to the caller by finish()
                self._err = e
            self._job = None
            self._done.set()

    def start(self, fn, lo, hi):
        # a part a run interrupted while waiting (KeyboardInterrupt) left running ends first: else its end would
        # drop this job and mark it done (the pass left partly unwritten, the worker dead, the next run hung)
        self._done.wait()
        self._done.clear()
        self._err = None
        self._job = (fn, lo, hi)
        self._go.set()

    def finish(self):
        self._done.wait()
        err, self._err = self._err, None
        if err is not None:
            raise err


_workers = []
_lock = threading.Lock()


def _after_fork_in_child():
    """A forked child has none of the parent's threads: it starts its own workers when it needs them (else a
    part handed to a worker that does not exist would never finish)."""
    global _workers, _lock
    _workers = []
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def parts(outer, elements):
    """How many parts a pass over ``elements`` elements, split along an outer dimension of size ``outer``, should
    run in (1: not split)."""
    n = _nthreads
    if n <= 1:
        return 1
    return max(1, min(n, outer, elements // MIN_PART))


def run(fn, outer, elements):
    """``fn(lo, hi)`` over [0, outer) in ``parts(outer, elements)`` ranges, at once (the last on this thread)."""
    k = parts(outer, elements)
    if k <= 1 or not _lock.acquire(blocking=False):
        fn(0, outer)
        return
    try:
        while len(_workers) < k - 1:
            _workers.append(_Worker())
        bounds = [outer * i // k for i in range(k + 1)]
        for i in range(k - 1):
            _workers[i].start(fn, bounds[i], bounds[i + 1])
        err = None
        try:
            fn(bounds[k - 1], outer)
        except BaseException as e:
            err = e
        for i in range(k - 1):       # every worker is waited for, whatever failed
            try:
                _workers[i].finish()
            except BaseException as e:
                err = err or e
        if err is not None:
            raise err
    finally:
        _lock.release()


def run_flat(fn, *arrays):
    """``fn(*views)`` over matching flat ranges of ``arrays`` (an elementwise pass: the arrays have one shape) when
    they share a memory layout, all C-contiguous or all batch-last (kernels.batch_last); else ``fn(*arrays)``."""
    a0 = arrays[0]
    size = a0.size
    if type(a0) is not np.ndarray or parts(size, size) <= 1:       # (CuPy: one launch on its stream)
        fn(*arrays)
        return
    shape = a0.shape
    if all(a.flags.c_contiguous and a.shape == shape for a in arrays):
        flats = [a.reshape(-1) for a in arrays]
    else:
        from .kernels import batch_last, memory_view
        if not all(a.shape == shape and batch_last(a) for a in arrays):
            fn(*arrays)
            return
        flats = [memory_view(a).reshape(-1) for a in arrays]
    run(lambda lo, hi: fn(*(f[lo:hi] for f in flats)), size, size)

"""Torch7's ``torch.setnumthreads(n)`` / ``torch.getnumthreads()``, over the BLAS library numpy uses.

On the CPU the only multithreaded code under luatorch_py is numpy's BLAS (the matrix products of Linear and the
convolutions); elementwise numpy code runs on one thread (backend/parallel.py can split the big passes of max pooling
and the ReLU family, off by default: see there).  The BLAS thread pool is set through threadpoolctl (it
finds OpenBLAS, MKL or BLIS in the process, whatever numpy was built with).  threadpoolctl is imported on the first
call, so ``import luatorch_py`` does not pay for it.

On a machine shared with other jobs, fewer BLAS threads are often faster: OpenBLAS threads spin while they wait for
each other, so a thread that loses its core stalls every product (docs/developing.md has the measurements).
"""
import numbers
import os

_limiter = None      # threadpoolctl.ThreadpoolController, once made


def _controller():
    global _limiter
    if _limiter is None:
        from threadpoolctl import ThreadpoolController
        _limiter = ThreadpoolController()
    return _limiter


def _blas_pools():
    return _controller().select(user_api='blas')


def available_cores():
    """The number of cores this process may run on (its CPU affinity; os.cpu_count() where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def setnumthreads(n):
    """Set the number of threads numpy's BLAS uses (Torch7's torch.setnumthreads); ``n`` >= 1."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:     # numpy ints too (e.g. from argmax)
        raise ValueError(f"torch.setnumthreads: expected a positive int, got {n!r}")
    _blas_pools().limit(limits=int(n))


def getnumthreads():
    """The number of threads numpy's BLAS uses (Torch7's torch.getnumthreads); 1 where no BLAS pool is found."""
    pools = _blas_pools().info()
    return max((p['num_threads'] for p in pools), default=1)


__all__ = ['setnumthreads', 'getnumthreads', 'available_cores']

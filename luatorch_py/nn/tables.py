"""Torch7's ``nn.tables``: connection tables for SpatialConvolutionMap and SpatialFullConvolutionMap.

A table is a K x 2 tensor (the default tensor type, as Torch7's): row k connects input plane ``table[k][0]`` to
output plane ``table[k][1]``.  Plane numbers are 0-based here (Lua's are 1-based; .t7 files convert them).
"""
import numpy as np

from .. import random as _random
from ..tensor import default_info


def _table(a):
    return default_info().tensor_class(np.asarray(a, dtype=np.float64))


def _count(name, **kw):
    for k, v in kw.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"nn.tables.{name}: {k} must be a positive int, got {v!r}")


def full(nin, nout):
    """Every input plane to every output plane: rows (i, j) for j in 0..nout-1, i in 0..nin-1 (i fastest)."""
    _count('full', nin=nin, nout=nout)
    j, i = np.meshgrid(np.arange(nout), np.arange(nin), indexing='ij')
    return _table(np.stack([i.reshape(-1), j.reshape(-1)], axis=1))


def oneToOne(nfeat):
    """Input plane i to output plane i, for i in 0..nfeat-1."""
    _count('oneToOne', nfeat=nfeat)
    r = np.arange(nfeat)
    return _table(np.stack([r, r], axis=1))


def random(nin, nout, nto):
    """Each of the ``nout`` output planes fed by ``nto`` distinct input planes drawn from Torch7's stream (the
    same tables as Lua's ``nn.tables.random`` after the same seed, minus one): consecutive chunks of a random
    permutation of the inputs, a new permutation whenever one is used up."""
    _count('random', nin=nin, nout=nout, nto=nto)
    if nto > nin:
        raise ValueError(f"nn.tables.random: nto ({nto}) must be at most nin ({nin})")
    nfi = nin // nto                  # chunks per permutation
    fi = _random._default.randperm(nin)
    tbl = np.empty((nout * nto, 2))
    c = 0
    for i in range(nout):
        tbl[i * nto:(i + 1) * nto, 0] = fi[c * nto:(c + 1) * nto]
        tbl[i * nto:(i + 1) * nto, 1] = i
        c += 1
        if c == nfi:                  # Torch7 draws the next permutation right away (even after the last row)
            fi = _random._default.randperm(nin)
            c = 0
    return _table(tbl)


__all__ = ['full', 'oneToOne', 'random']

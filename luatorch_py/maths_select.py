"""Torch7's median, mode and kthvalue: values and 0-based indices as Torch7's CPU code gives them.

Along a dim (default: the last), keeping it with size 1.  Where several elements equal the answer, which index
Torch7 returns depends on how its quickselect (kthvalue, median) or quicksort (mode) moved the elements; those
rows are run through the same selection steps here (in Python, on the host), so the index is Torch7's.  Rows
whose k-th value is unique take a vectorized path (argsort on the tensor's device).
"""
import numpy as np

from . import backend
from .maths_forms import split, put, long_info, number, dim_arg, xp_of, same_as_function

_SMALL = 10     # Torch7's quicksort leaves subfiles of up to 10 elements to its final insertion sort


def _swap(arr, idx, i, j):
    arr[i], arr[j] = arr[j], arr[i]
    idx[i], idx[j] = idx[j], idx[i]


def _partition(arr, idx, lo, hi):
    """Median of three into arr[lo], then Hoare's partition around it; returns (i, j) as Torch7's loops end."""
    _swap(arr, idx, (lo + hi) >> 1, lo + 1)
    if arr[lo + 1] > arr[hi]:
        _swap(arr, idx, lo + 1, hi)
    if arr[lo] > arr[hi]:
        _swap(arr, idx, lo, hi)
    if arr[lo + 1] > arr[lo]:
        _swap(arr, idx, lo + 1, lo)
    i, j, piv = lo + 1, hi, arr[lo]
    while True:
        i += 1
        while arr[i] < piv:
            i += 1
        j -= 1
        while arr[j] > piv:
            j -= 1
        if j < i:
            break
        _swap(arr, idx, i, j)
    _swap(arr, idx, lo, j)
    return i, j


def th_quickselect(arr, idx, k):
    """Torch7's quickselect on Python lists, in place: afterwards arr[k] is the (k+1)-th smallest and idx[k] the
    position Torch7 reports for it."""
    lo, hi = 0, len(arr) - 1
    while hi > lo:
        if hi == lo + 1:
            if arr[lo] > arr[hi]:
                _swap(arr, idx, lo, hi)
            return
        i, j = _partition(arr, idx, lo, hi)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1


def th_quicksort(arr, idx):
    """Torch7's ascending quicksort (median of three, an explicit stack, a final insertion sort) on Python lists,
    in place, moving idx along."""
    n = len(arr)
    stack = []
    lo, hi = 0, n - 1
    done = n - 1 <= _SMALL
    while not done:
        i, j = _partition(arr, idx, lo, hi)
        left, right = j - lo, hi - i + 1
        if left <= _SMALL and right <= _SMALL:
            if stack:
                lo, hi = stack.pop()
            else:
                done = True
        elif left <= _SMALL or right <= _SMALL:
            if left > right:
                hi = j - 1
            else:
                lo = i
        elif left > right:
            stack.append((lo, j - 1))
            lo = i
        else:
            stack.append((i, hi))
            hi = j - 1
    for i in range(n - 2, -1, -1):
        if arr[i] > arr[i + 1]:
            piv, pid = arr[i], idx[i]
            j = i + 1
            while True:
                arr[j - 1], idx[j - 1] = arr[j], idx[j]
                j += 1
                if not (j < n and arr[j] < piv):
                    break
            arr[j - 1], idx[j - 1] = piv, pid


def _th_mode(row):
    """(value, index) of the most frequent value, as Torch7: the first (smallest) run of the longest length in its
    quicksorted order, and the index of that run's last element there."""
    arr, idx = list(row), list(range(len(row)))
    th_quicksort(arr, idx)
    best, besti, best_n, run = 0, 0, 0, 0
    for i, v in enumerate(arr):
        run += 1
        if i == len(arr) - 1 or v != arr[i + 1]:
            if run > best_n:
                best, besti, best_n = v, idx[i], run
            run = 0
    return best, besti


def _rows(t, d):
    """t's array with dim d moved last, as (rows, n), and the shape to put results back (dim d of size 1)."""
    xp = xp_of(t)
    moved = xp.moveaxis(t._a, d, -1)
    n = moved.shape[-1]
    return xp.ascontiguousarray(moved).reshape(-1, n), moved.shape[:-1] + (1,)


def _results(name, t, d, res, vals, idx, shape):
    xp = xp_of(t)
    vals = xp.moveaxis(vals.reshape(shape), -1, d)
    idx = xp.moveaxis(idx.reshape(shape), -1, d)
    return put(name, res[0], vals, t._info), put(name, res[1], idx, long_info(t))


def _kth(name, res, t, k, d):
    if t.dim() == 0:
        raise ValueError(f"torch.{name}: the {t._info.name} is empty")
    n = t._a.shape[d]
    if not 1 <= k <= n:
        raise ValueError(f"torch.{name}: k={k} out of range for dim {d} of size {n} (k counts from 1: the k-th "
                         f"smallest)")
    xp = xp_of(t)
    flat, shape = _rows(t, d)
    order = xp.argsort(flat, axis=1)
    idx = order[:, k - 1:k]
    vals = xp.take_along_axis(flat, idx, 1)
    # rows where the k-th value is not unique (or NaNs make the order Torch7's own): Torch7's quickselect decides
    odd = (flat == vals).sum(1) > 1
    if flat.dtype.kind == 'f':
        odd |= xp.isnan(flat).any(1)
    rows = np.flatnonzero(backend.to_numpy(odd))
    if rows.size:
        hv, hi = backend.to_numpy(vals).copy(), backend.to_numpy(idx).copy()
        host = backend.to_numpy(flat)
        for r in rows:
            arr, ix = host[r].tolist(), list(range(n))
            th_quickselect(arr, ix, k - 1)
            hv[r, 0], hi[r, 0] = arr[k - 1], ix[k - 1]
        vals, idx = backend.to_device(hv, t._info.cuda), backend.to_device(hi, t._info.cuda)
    return _results(name, t, d, res, vals, idx, shape)


_KTH_USAGE = '([resval, resind,] x, k [, dim])'
_ONE_USAGE = '([resval, resind,] x [, dim])'


def kthvalue(*args):
    """torch.kthvalue([resval, resind,] x, k [, dim]): the k-th smallest (k from 1) along dim (default the last),
    kept with size 1; returns (values, LongTensor of 0-based indices)."""
    res, (t,), rest = split('kthvalue', args, 2, 1, _KTH_USAGE)
    if not 1 <= len(rest) <= 2:
        raise TypeError(f"torch.kthvalue: expected {_KTH_USAGE}, got {len(rest)} numbers after the tensors")
    k = number('kthvalue', rest[0], 'k')
    if int(k) != k:
        raise TypeError(f"torch.kthvalue: k should be an integer, got {k!r}")
    d = dim_arg('kthvalue', t, rest[1] if len(rest) > 1 else -1) if t.dim() else 0
    return _kth('kthvalue', res, t, int(k), d)


def _tensor_and_dim(name, args):
    """([resval, resind,] x [, dim]) of median and mode: (results, x, 0-based dim, by default the last)."""
    res, (t,), rest = split(name, args, 2, 1, _ONE_USAGE)
    if len(rest) > 1:
        raise TypeError(f"torch.{name}: expected {_ONE_USAGE}, got {len(rest)} numbers after the tensors")
    if t.dim() == 0:
        raise ValueError(f"torch.{name}: the {t._info.name} is empty")
    return res, t, dim_arg(name, t, rest[0] if rest else -1)


def median(*args):
    """torch.median([resval, resind,] x [, dim]): the median along dim (default the last), kept with size 1; of
    an even count the lower of the two middle values (Torch7); returns (values, LongTensor of 0-based indices)."""
    res, t, d = _tensor_and_dim('median', args)
    return _kth('median', res, t, (t._a.shape[d] - 1) // 2 + 1, d)


def mode(*args):
    """torch.mode([resval, resind,] x [, dim]): the most frequent value along dim (default the last; of several,
    the smallest), kept with size 1; returns (values, LongTensor of 0-based indices)."""
    res, t, d = _tensor_and_dim('mode', args)
    flat, shape = _rows(t, d)
    host = backend.to_numpy(flat)
    vals = np.empty((host.shape[0], 1), host.dtype)
    idx = np.empty((host.shape[0], 1), np.int64)
    for r in range(host.shape[0]):
        vals[r, 0], idx[r, 0] = _th_mode(host[r].tolist())
    cuda = t._info.cuda
    return _results('mode', t, d, res, backend.to_device(vals, cuda), backend.to_device(idx, cuda), shape)


FUNCTIONS = dict(kthvalue=kthvalue, median=median, mode=mode)
METHODS = {name: same_as_function(fn) for name, fn in FUNCTIONS.items()}

"""Torch7's ``tostring(tensor)`` / ``tostring(storage)``, character for character.

Behaviour follows torch7's Tensor.lua (Storage__printformat, Tensor__printMatrix, Tensor__printTensor, the
``__tostring__`` of Tensor and Storage), last torch/torch7 revision.  The text returned is exactly what Lua's
``tostring(x)`` returns, so it ENDS WITH A NEWLINE after the footer (``...of size 2x3]\\n``); Lua's ``print(x)``
adds one more, and so does Python's ``print`` when ``__str__`` returns this text.

One format (printf pattern, optional scale, column width) is chosen from ALL elements and shared by every row
and every 2-D slice: Torch computes it from the tensor's storage, which after its DoubleTensor copy holds exactly
the tensor's elements.  Values are formatted with Python's ``%`` operator, which matches C printf for
``%d``/``%f``/``%e``/``%g`` (glibc prints ``-nan`` for negative NaNs where Python prints ``nan``).
"""
import itertools
import math

import numpy as np


def _exponent(x):
    """Torch's floor(log10(x)) + 1, with 1 for x == 0; inf and NaN pass through (math.floor would raise)."""
    if x == 0:
        return 1
    e = math.log10(x)  # C log10, as Lua's math.log10
    return math.floor(e) + 1 if math.isfinite(e) else e


def _printformat(values):
    """Storage__printformat: (printf pattern, scale or None, field width).  ``values`` is flat float64."""
    if values.size == 0:
        return '', None, 0
    # integer mode when every value equals its ceiling (NaN never does; +-inf do, as in Lua)
    int_mode = bool(np.all(values == np.ceil(values)))
    mags = np.abs(values)
    exp_min, exp_max = _exponent(float(mags.min())), _exponent(float(mags.max()))  # NaN propagates, as TH's min/max
    scale = None
    if int_mode:
        if exp_max > 9:
            fmt, sz = '%11.4e', 11
        else:
            sz = exp_max + 1          # one column for the sign
            fmt = '%{}d'
    elif exp_max - exp_min > 4:      # range too wide for one fixed-point scale
        sz = 12 if abs(exp_max) > 99 or abs(exp_min) > 99 else 11
        fmt = '%{}.4e'
    elif exp_max > 5 or exp_max < 0:  # very large or very small: print mantissas under a "scale *" line
        fmt, sz, scale = '%{}.4f', 7, 10.0 ** (exp_max - 1)
    else:
        fmt, sz = '%{}.4f', 7 if exp_max == 0 else exp_max + 6
    if sz != sz:
        # NaN in the data makes the width NaN; Lua's gsub then yields "%nan.4f", which Torch replaces by '%f'
        # (and nColumnPerLine becomes NaN, so no column wrapping: see _matrix).
        return '%f', None, sz
    if scale == 1:
        scale = None
    return fmt.format(int(sz)), scale, sz


def _cells(values, fmt, scale):
    """Divide by the shared scale (Lua: x/scale) and return Python numbers ready for ``fmt``."""
    if scale is not None:
        values = values / scale
    if fmt.endswith('d'):
        return values.astype(np.int64)  # integer-valued, |x| < 1e9: exact; -0.0 prints as 0 like C's %d
    return values


def _column_list(values, fmt, scale, header):
    """1-D tensors and storages: one value per line, under the scale line if any."""
    out = ['%g *\n' % scale] if scale is not None else []
    out.extend(fmt % v + '\n' for v in _cells(values, fmt, scale).tolist())
    out.append(header)
    return ''.join(out)


def _matrix(cells, fmt, scale, sz, indent=''):
    """Tensor__printMatrix: rows of 2-D ``cells`` (from _cells), wrapped at 80 characters in 'Columns a to b' blocks."""
    ncols = cells.shape[1]
    per_line = ncols if sz != sz else (80 - len(indent)) // (sz + 1)
    # every row after the first gets the indent, plus one space when there is a scale line
    row_sep = '\n' + indent + (' ' if scale is not None else '')
    out = [indent]
    first = 0
    while first < ncols:
        last = min(first + per_line, ncols)
        if per_line < ncols:
            # Torch's own text: 1-based column numbers, a blank line before each later block, whose
            # header is not indented (only the very first line of the slice is)
            out.append('%sColumns %d to %d\n%s' % ('\n' if first else '', first + 1, last, indent))
        if scale is not None:
            out.append('%g *\n %s' % (scale, indent))
        row_fmt = ' '.join([fmt] * (last - first))  # one % per row: fast enough for 1000x1000
        out.append(row_sep.join(row_fmt % tuple(r) for r in cells[:, first:last].tolist()) + '\n')
        first = last
    return ''.join(out)


def format_tensor(arr, typename):
    """Lua's ``tostring(tensor)`` for a CPU array of any dtype; ``typename`` e.g. 'torch.FloatTensor'.

    The result ends with '\\n'.  Arrays with no elements (any zero in the shape, or 0-d) print as Torch7's
    dimensionless tensor, since Torch7 has neither zero-size dimensions nor 0-d tensors.  CUDA types print
    like their CPU counterparts with their own name (cutorch reuses the CPU __tostring__).
    """
    arr = np.asarray(arr)
    if arr.ndim == 0 or arr.size == 0:
        return '[%s with no dimension]\n' % typename
    a = arr.astype(np.float64)  # Torch prints through a DoubleTensor copy
    fmt, scale, sz = _printformat(a.reshape(-1))
    size = 'x'.join(str(n) for n in a.shape)
    footer = '[%s of size %s]\n' % (typename, size)
    if a.ndim == 1:
        return _column_list(a, fmt, scale, footer)
    cells = _cells(a, fmt, scale)  # scaled once for all slices
    if a.ndim == 2:
        return _matrix(cells, fmt, scale, sz) + footer
    # >2-D: one matrix per (i,j,...) of the leading dims; Torch's counter runs the FIRST index fastest,
    # and the headings keep Torch's 1-based indices, e.g. "(2,1,.,.) = ".
    lead = a.shape[:-2]
    slices = []
    for rev in itertools.product(*(range(n) for n in reversed(lead))):
        idx = rev[::-1]
        slices.append('(%s,.,.) = \n' % ','.join(str(i + 1) for i in idx) + _matrix(cells[idx], fmt, scale, sz, ' '))
    return '\n'.join(slices) + footer


def format_storage(arr, typename):
    """Lua's ``tostring(storage)`` for a 1-D CPU array; ``typename`` e.g. 'torch.DoubleStorage'.  Ends with '\\n'."""
    a = np.asarray(arr).astype(np.float64).reshape(-1)
    fmt, scale, _ = _printformat(a)
    return _column_list(a, fmt, scale, '[%s of size %d]\n' % (typename, a.size))

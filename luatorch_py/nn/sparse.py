"""nn.SparseLinear: a Linear layer over sparse inputs.

A sparse example is an (nnz x 2) tensor of (index, value) rows: index 0-BASED here (Torch7's are 1-based), value
the input's element there.  A batch is a list of such tensors (or, Torch7's legacy form, one (batch x nnz x 2)
tensor).
"""
import numbers

import numpy as np

from .. import backend
from ..backend import array_module
from ..tensor import Tensor
from .module import Module, check_grad_size, field_out, long_info, resized, sizestr
from .conv import _positive
from .linear import _reset_uniform
from .shape import _any_tensor

NO_LAST_INPUT, ONE_LAST_INPUT, ACC_MULTIPLE_TIMES = 0, 1, 2


class SparseLinear(Module):
    """SparseLinear(inputSize, outputSize, doGradInput=False): y = W x + b for sparse x (see the module docstring).
    An (nnz x 2) input gives an outputSize vector; a list of them (or a legacy (batch, nnz, 2) tensor) a
    (batch, outputSize) output.  With ``weightDecay`` (default 0) accGradParameters adds weightDecay * weight to
    gradWeight (Torch7's THNN).  After one accumulation since zeroGradParameters, zeroGradParameters and
    updateParameters touch only the weight columns that input used, as Torch7 (``sparseUpdate``).  With doGradInput
    the gradInput is dense per example: (inputSize x 2) tensors of (index, gradient) rows."""

    def __init__(self, inputSize, outputSize, doGradInput=False):
        if not isinstance(doGradInput, bool):
            raise TypeError(f"nn.SparseLinear: doGradInput must be a bool, got {doGradInput!r}")
        _positive('nn.SparseLinear', inputSize=inputSize, outputSize=outputSize)
        super().__init__()
        self.weightDecay = 0
        self.doGradInput = doGradInput
        self.weight = self._tcls(outputSize, inputSize).zero()
        self.bias = self._tcls(outputSize).zero()
        self.gradWeight = self._tcls(outputSize, inputSize).zero()
        self.gradBias = self._tcls(outputSize).zero()
        self.sparseUpdate = NO_LAST_INPUT
        self.gradInput = []
        resized(self.output, (outputSize,))
        self.reset()

    def reset(self, stdv=None):
        _reset_uniform(stdv, self.weight.size(1), self.weight, self.bias)
        self.bias._a *= 0.000001
        return self

    # -- input: (example, column, value) triples, as Torch7's formatted_input (0-based) ------------------------------
    def _coo(self, input):
        """(rows, cols, values, batch size, batchMode, legacyMode) of ``input``; rows/cols int64 arrays."""
        n_in = self.weight._a.shape[1]
        if isinstance(input, (list, tuple)):
            parts = [self._coerce(t, f'input[{i}]')._a for i, t in enumerate(input)]
            for i, p in enumerate(parts):
                if p.ndim != 2 or p.shape[1] != 2:
                    raise ValueError(f"{self!r}: expected input[{i}] of size [nnz, 2] (index, value), got "
                                     f"{sizestr(p.shape)}")
            batch, legacy = True, False
        else:
            x = self._coerce(input)._a
            if x.ndim == 2 and x.shape[1] == 2:
                parts, batch, legacy = [x], False, False
            elif x.ndim == 3 and x.shape[2] == 2:
                parts, batch, legacy = list(x), True, True
            else:
                raise ValueError(f"{self!r}: expected an [nnz, 2] tensor of (index, value) rows, a list of them or a "
                                 f"[batch, nnz, 2] tensor, got {sizestr(x.shape)}")
        xp = self._tinfo.xp
        if parts:
            allp = xp.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
            rows = xp.concatenate([xp.full(p.shape[0], i, dtype=np.int64) for i, p in enumerate(parts)])
            keep = allp[:, 1] != 0
            if not bool(keep.all()):
                # THNN skips the entries of value 0 without looking at their index (a legacy batch padded with
                # zero rows: Lua's index 0, -1 here) and leaves their columns out of the sparse updates
                allp, rows = allp[keep], rows[keep]
            cols = allp[:, 0].astype(np.int64)
            if allp.shape[0] and bool((cols != allp[:, 0]).any()):
                raise ValueError(f"{self!r}: indices must be integers")
            if cols.size and (int(cols.min()) < 0 or int(cols.max()) >= n_in):
                bad = int(cols.min()) if int(cols.min()) < 0 else int(cols.max())
                raise IndexError(f"{self!r}: index {bad} out of range [0, {n_in}) (0-based)")
            vals = allp[:, 1]
        else:
            rows = cols = xp.zeros(0, dtype=np.int64)
            vals = xp.zeros(0, dtype=self._tinfo.dtype)
        return rows, cols, vals, len(parts), batch, legacy

    def updateOutput(self, input):
        if self.sparseUpdate == ONE_LAST_INPUT:
            self.sparseUpdate = ACC_MULTIPLE_TIMES
        rows, cols, vals, n, batch, legacy = self._coo(input)
        self.legacyMode = legacy
        w, b = self.weight._a, self.bias._a
        if n == 0:
            resized(self.output, b.shape)[...] = b
            return self.output
        out = resized(self.output, (n, w.shape[0]) if batch else (w.shape[0],))
        o2 = out.reshape(n, w.shape[0])
        o2[...] = b
        from ..backend.kernels import scatter_add
        scatter_add(o2, rows, w[:, cols].T * vals[:, None])          # y[row] += W[:, col] * value
        return self.output

    def accGradParameters(self, input, gradOutput, scale=1):
        rows, cols, vals, n, batch, legacy = self._coo(input)
        self.legacyMode = legacy
        g = self._coerce(gradOutput, 'gradOutput')._a
        k = self.weight._a.shape[0]
        check_grad_size(self, g, (n, k) if batch else (k,))
        g2 = g.reshape(n, k)
        if self.sparseUpdate == NO_LAST_INPUT:
            self._lastCols = cols.copy()
            self.sparseUpdate = ONE_LAST_INPUT
        elif self.sparseUpdate == ONE_LAST_INPUT:
            self.sparseUpdate = ACC_MULTIPLE_TIMES
        from ..backend.kernels import scatter_add
        gw = self.gradWeight._a
        # gradWeight[:, col] += scale * value * gradOutput[row]
        scatter_add(gw.T, cols, g2[rows] * (scale * vals)[:, None])
        self.gradBias._a += scale * g2.sum(axis=0)
        if self.weightDecay:
            gw += self.weightDecay * self.weight._a

    def updateGradInput(self, input, gradOutput):
        legacy = self.__dict__.get('legacyMode', False)
        self.gradInput = []
        if not self.doGradInput:
            return self.gradInput
        g = self._coerce(gradOutput, 'gradOutput')._a
        w = self.weight._a
        xp = array_module(w)
        gi = (g.reshape(-1, w.shape[0]) @ w)                          # dense: (batch, inputSize)
        idx = xp.arange(w.shape[1], dtype=w.dtype)
        if legacy:
            t = self._tcls()
            a = resized(t, (gi.shape[0], w.shape[1], 2))
            a[:, :, 0] = idx
            a[:, :, 1] = gi
            self.gradInput = t
            return t
        for row in gi:
            t = self._tcls()
            a = resized(t, (w.shape[1], 2))
            a[:, 0] = idx
            a[:, 1] = row
            self.gradInput.append(t)
        return self.gradInput

    def _sparse_cols(self):
        """The columns the last input used, when only they may hold gradients (Torch7's sparse updates)."""
        cols = self.__dict__.get('_lastCols')
        if cols is not None and self.sparseUpdate == ONE_LAST_INPUT:
            return array_module(cols).unique(cols)
        return None

    def zeroGradParameters(self):
        cols = self._sparse_cols()
        if cols is not None:
            self.gradWeight._a[:, cols] = 0
            self.gradBias._a.fill(0)
        else:
            super().zeroGradParameters()
        self.sparseUpdate = NO_LAST_INPUT

    def updateParameters(self, learningRate):
        cols = self._sparse_cols()
        if cols is not None:
            self.weight._a[:, cols] -= learningRate * self.gradWeight._a[:, cols]
            self.bias._a -= learningRate * self.gradBias._a
        else:
            super().updateParameters(learningRate)

    def __repr__(self):
        return f"{self.__torch_name__}({self.weight.size(1)} -> {self.weight.size(0)})"


# -- IndexLinear -------------------------------------------------------------------------------------------------
def _host(a):
    return backend.to_numpy(a)


class IndexLinear(Module):
    """IndexLinear(inputSize, outputSize, doGradInput=False, keysOffset=0, weight=None, bias=None,
    normalize=False): a Linear over sparse inputs given as keys and values, for very large inputSize.  ``weight`` is
    inputSize x outputSize (Torch7's layout: the transpose of Linear's), with 4 extra leading columns per key when
    ``normalize`` (the largest |value| seen in training, its inverse, an update scale and a per-key bias: each value
    becomes value / max|value| + that bias, clamped to sign(value) beyond the max).

    Inputs (keys 0-BASED here, Torch7's are 1-based; the weight row is key + keysOffset): ``[keys, values]`` (one
    example: two 1-D tensors), ``[[keys0, keys1, ...], [values0, values1, ...]]`` (a batch), or ``[keys, values,
    sizes]`` (a batch concatenated, sizes the count of each example).  Gradients are sparse: each
    accGradParameters keeps its keys and dense per-key gradients in ``running`` (Python-side; not written to
    files), updateParameters(lr) applies them all, zeroGradParameters forgets them.  There is no dense gradWeight:
    train with updateParameters, not through getParameters (Torch7's parameters() returns the ``running`` table
    there).  reset() draws the weight (normalize columns then zeroed) and the bias (times 1e-6); the constructor
    leaves both at zero, as Torch7.  With outputSize 1, normalize and weightDecay, THNN updates with a
    sign-flipped decay; here it is the decay of the other sizes."""

    def __init__(self, inputSize, outputSize, doGradInput=False, keysOffset=0, weight=None, bias=None,
                 normalize=False):
        super().__init__()
        self.normalize = 4 if normalize else 0
        self.weight = weight if weight is not None else self._tcls(inputSize, outputSize + self.normalize).zero()
        self.bias = bias if bias is not None else self._tcls(outputSize).zero()
        self.inputSize = self.weight.size(0)
        self.outputSize = self.weight.size(1) - self.normalize
        self.gradWeight = self._tcls()
        self.gradBias = self._tcls(self.outputSize).zero()
        self.gradWeightBuffer = self._tcls()
        self.valuesBuffer = self._tcls()
        self.normalizedValues = self._tcls()
        self.weightDecay = 0
        self.doGradInput = bool(doGradInput)
        self.offset = int(keysOffset)
        self._running = []

    def reset(self, stdv=None):
        _reset_uniform(stdv, self.weight.size(1), self.weight, self.bias)
        self.bias._a *= 0.000001
        if self.normalize:
            self.weight._a[:, :self.normalize] = 0
        return self

    def parameters(self):
        return [self.weight, self.bias], [None, self.gradBias]

    # -- inputs ---------------------------------------------------------------------------------------------------
    def _keys(self, k, what):
        a = _any_tensor(self, k, what)
        if a.ndim != 1:
            raise ValueError(f"{self!r}: keys and values should be 1-D, got {what} of size {sizestr(a.shape)}")
        return backend.to_device(a, self._tinfo.cuda).astype(np.int64)

    def _flatten(self, input):
        """(weight rows, values, example of each entry, batch size); sets isFlat and noBatch as Torch7."""
        if not isinstance(input, (list, tuple)) or len(input) not in (2, 3):
            raise TypeError(f"{self!r}: expected input [keys, values], [[keys...], [values...]] or [keys, values, "
                            f"sizes], got {type(input).__name__}")
        xp = self._tinfo.xp
        if len(input) == 3:
            keys = self._keys(input[0], 'keys')
            vals = self._coerce(input[1], 'values')._a
            sz = input[2]
            sizes = _host(sz._a if isinstance(sz, Tensor) else np.asarray(sz)).astype(np.int64).reshape(-1)
            if vals.ndim != 1 or vals.shape[0] != keys.shape[0] or int(sizes.sum()) != keys.shape[0]:
                raise ValueError(f"{self!r}: keys ({keys.shape[0]}), values ({vals.size}) and the sum of sizes "
                                 f"({int(sizes.sum())}) must agree")
            self.isFlat, self.noBatch = True, False
        else:
            k, v = input
            if isinstance(k, (list, tuple)) and isinstance(v, (list, tuple)):
                ks = [self._keys(e, f'keys[{i}]') for i, e in enumerate(k)]
                vs = [self._coerce(e, f'values[{i}]')._a for i, e in enumerate(v)]
                self.isFlat, self.noBatch = False, False
            elif not isinstance(k, (list, tuple)) and not isinstance(v, (list, tuple)):
                ks, vs = [self._keys(k, 'keys')], [self._coerce(v, 'values')._a]
                self.isFlat, self.noBatch = False, True
            else:
                raise TypeError(f"{self!r}: wrong input format: keys and values must both be tensors or both lists")
            for i, (a, b) in enumerate(zip(ks, vs)):
                if b.ndim != 1 or a.shape != b.shape:
                    raise ValueError(f"{self!r}: keys and values of example {i} should be 1-D of the same size, got "
                                     f"{sizestr(a.shape)} and {sizestr(b.shape)}")
            sizes = np.array([a.shape[0] for a in ks], dtype=np.int64)
            keys = xp.concatenate(ks) if ks else xp.zeros(0, dtype=np.int64)
            vals = xp.concatenate(vs) if vs else xp.zeros(0, dtype=self._tinfo.dtype)
        rows = keys + self.offset
        if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= self.inputSize):
            bad = int(rows.min()) if int(rows.min()) < 0 else int(rows.max())
            raise IndexError(f"{self!r}: key + keysOffset = {bad} is not a weight row in [0, {self.inputSize})")
        example = xp.asarray(np.repeat(np.arange(len(sizes)), sizes))
        return rows, vals, example, len(sizes)

    # -- forward --------------------------------------------------------------------------------------------------
    def _normalized(self, rows, vals):
        """The values normalized by their key's max |value| (updated first in training, entry by entry, as THNN)."""
        w = self.weight._a
        hr, hv = _host(rows), _host(vals).astype(np.float64)
        cols = _host(w[:, :4]).astype(np.float64)[hr] if hr.size else np.zeros((0, 4))
        stats = {}
        out = np.empty(hv.shape[0])
        for i, (r, v) in enumerate(zip(hr.tolist(), hv.tolist())):
            c = stats.get(r)
            if c is None:
                c = stats[r] = cols[i].copy()
            a = abs(v)
            if self.train is not False:
                if a > c[0]:
                    c[0], c[1] = a, 1 / a
                c[2] = 1
            out[i] = (np.sign(v) if a > c[0] else v * c[1]) + c[3]
        if self.train is not False and stats:
            idx = np.fromiter(stats, dtype=np.int64)
            w[backend.to_device(idx, self._tinfo.cuda), :4] = backend.to_device(
                np.array([stats[r] for r in idx.tolist()], dtype=w.dtype), self._tinfo.cuda)
        nv = field_out(self, 'normalizedValues', out.shape)
        nv[...] = backend.to_device(out.astype(nv.dtype), self._tinfo.cuda)
        return nv

    def updateOutput(self, input):
        rows, vals, example, n = self._flatten(input)
        self._last = (rows, vals, example, n)
        w, b = self.weight._a, self.bias._a
        nz = self.normalize
        v = self._normalized(rows, vals) if nz else vals
        out = resized(self.output, (n, self.outputSize))
        out[...] = b
        if rows.size:
            from ..backend.kernels import scatter_add
            scatter_add(out, example, w[rows, nz:] * v[:, None])
        if self.noBatch:
            self.output.resize(self.outputSize)
        return self.output

    # -- sparse gradients -----------------------------------------------------------------------------------------
    def _entries(self, input, gradOutput, scale):
        """(weight rows, per-entry gradients: nnz x outputSize, or nnz x 2*outputSize when normalize, batch
        gradients summed for the bias) of this input, as THNN's accGradParameters lays them out."""
        last = self.__dict__.get('_last')
        if last is None:
            self.updateOutput(input)
            last = self._last
        rows, vals, example, n = last
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g.reshape(-1), (n * self.outputSize,))
        g2 = g.reshape(n, self.outputSize)
        v = self.normalizedValues._a if self.normalize else vals
        ge = g2[example] * scale
        gw = ge * v[:, None]
        if self.normalize:
            gw = array_module(gw).concatenate([ge, gw], axis=1)
        return rows, gw, scale * g2.sum(axis=0)

    def accGradParameters(self, input, gradOutput, scale=1):
        rows, gw, gb = self._entries(input, gradOutput, scale)
        self.gradBias._a += gb
        self.__dict__.setdefault('_running', []).append((rows, gw))

    def _apply(self, rows, gw, lr):
        """weight -= lr * the entries' gradients, entry by entry (duplicate keys, decay and the normalize columns
        as THNN's updateParameters)."""
        w = self.weight._a
        nz, k, wd = self.normalize, self.outputSize, self.weightDecay
        if not nz and not wd:
            from ..backend.kernels import scatter_add
            scatter_add(w, rows, -lr * gw)
            return
        hw = _host(w).astype(np.float64)
        hr, hg = _host(rows), _host(gw).astype(np.float64)
        for j, r in enumerate(hr.tolist()):
            row = hw[r]
            if nz:
                s = row[2]
                row[3] -= lr * s * float((hg[j, :k] * row[4:]).sum())
                if wd:
                    row[4:] -= row[4:] * (wd * s)
                row[4:] -= hg[j, k:] * (lr * s)
            else:
                if wd:
                    row -= row * wd
                row -= hg[j] * lr
        w[...] = backend.to_device(hw.astype(w.dtype), self._tinfo.cuda)

    def updateParameters(self, learningRate):
        running = self.__dict__.get('_running') or []
        if not running:
            return
        self.bias._a -= learningRate * self.gradBias._a
        xp = self._tinfo.xp
        rows = xp.concatenate([r for r, _ in running])
        gw = xp.concatenate([g for _, g in running])
        self._apply(rows, gw, learningRate)

    def accUpdateGradParameters(self, input, gradOutput, lr):
        rows, gw, gb = self._entries(input, gradOutput, lr)
        self.bias._a -= gb
        self._apply(rows, gw, 1)

    def zeroGradParameters(self):
        self.gradBias._a.fill(0)
        self._running = []

    def updateGradInput(self, input, gradOutput):
        self.gradInput = []
        if not self.doGradInput:
            return self.gradInput
        if self.normalize:
            raise NotImplementedError(f"{self!r}: updateGradInput is not implemented in max-normalize mode")
        if 'isFlat' not in self.__dict__:   # no forward yet, or loaded (files omit the flags): the input's layout
            self._flatten(input)
        g = self._coerce(gradOutput, 'gradOutput')._a
        w = self.weight._a
        gi = g.reshape(-1, self.outputSize) @ w.T                 # (batch, inputSize)
        lt = long_info(self).tensor_class
        ini = self.inputSize
        idx = self._tinfo.xp.arange(ini, dtype=np.int64)
        if self.isFlat:
            keys = lt()
            resized(keys, gi.shape)[...] = idx
            vals = self._tcls()
            resized(vals, gi.shape)[...] = gi
            self.gradInput = [keys, vals]
        else:
            ks, vs = [], []
            for row in gi:
                k = lt()
                resized(k, (ini,))[...] = idx
                v = self._tcls()
                resized(v, (ini,))[...] = row
                ks.append(k)
                vs.append(v)
            self.gradInput = [ks, vs]
        if self.noBatch:
            self.gradInput = [self.gradInput[0][0], self.gradInput[1][0]]
        return self.gradInput

    def clearState(self):
        self.__dict__.pop('_last', None)
        self._running = []
        return super().clearState()

    def type(self, name=None, tensorCache=None):
        if name is not None:            # the accumulated entries and last input stay on the old device: dropped
            self.__dict__.pop('_last', None)
            self._running = []
        return super().type(name, tensorCache)

    def __repr__(self):
        return f"{self.__torch_name__}({self.inputSize} -> {self.outputSize})"


def _indexlinear_read(f, version):
    # Lua's offset is keysOffset - 1 (added to 1-based keys); here keys are 0-based: keysOffset itself
    off = f.get('offset')
    if isinstance(off, (int, float)) and not isinstance(off, bool) and float(off).is_integer():
        f['offset'] = int(off) + 1       # (anything else stays as it came, for the field checks to refuse)
    for k in ('running', 'sizesCache', 'cumSumSizesCache', 'keys', 'values', 'sizes', 'cumSumSizes', 'lkeys',
              'lvalues', 'updateKeys', 'updateKeysBuffer', 'gradWeightBuffer', 'valuesBuffer'):
        f.pop(k, None)          # accumulation state (1-based keys): not carried over


def _indexlinear_write(obj, f):
    off = obj.offset
    f['offset'] = off - 1 if isinstance(off, numbers.Integral) and not isinstance(off, bool) else off
    f['running'] = {'cumSumSizes': [], 'keys': [], 'gradWeight': [], 'counter': 1}
    f['sizesCache'] = []
    f['cumSumSizesCache'] = []
    f.pop('isFlat', None)
    f.pop('noBatch', None)


def _register_fixes():
    from ..serialization.classes import READ_FIXES, WRITE_FIXES
    READ_FIXES['nn.IndexLinear'] = _indexlinear_read
    WRITE_FIXES['nn.IndexLinear'] = _indexlinear_write


_register_fixes()

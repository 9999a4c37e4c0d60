"""Torch7's optim.ConfusionMatrix, with 0-based class indices."""
import math
import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor, TENSOR_CLASSES
from ._util import lua_number

LongTensor = TENSOR_CLASSES['LongTensor']
FloatTensor = TENSOR_CLASSES['FloatTensor']
DoubleTensor = TENSOR_CLASSES['DoubleTensor']


def _div(a, b):
    """IEEE division as the hardware does it (x86: 0/0 is a NaN with the sign bit set, printed '-nan')."""
    with np.errstate(divide='ignore', invalid='ignore'):
        return float(np.float64(a) / np.float64(b))


def _fmt(spec, v):
    """C's printf of a float, NaN printed '-nan' when its sign bit is set (glibc's way)."""
    if v != v:
        return '-nan' if math.copysign(1.0, v) < 0 else 'nan'
    return spec % v


def _array(v, what):
    if isinstance(v, Tensor):
        return v._a
    if isinstance(v, np.ndarray) or backend.is_cuda_array(v):
        return v
    if isinstance(v, (list, tuple)):
        return np.asarray(v)
    raise TypeError(f"ConfusionMatrix: expected {what} as a number, a tensor, an array or a list, "
                    f"got {type(v).__name__}")


def _is_index(v):
    return isinstance(v, numbers.Number) and not isinstance(v, bool)


class ConfusionMatrix:
    """``ConfusionMatrix(nclasses)`` or ``ConfusionMatrix(['cat', 'dog', ...])`` (or ``(nclasses, classes)``).

    ``mat[target][prediction]`` counts (a LongTensor, rows = targets).  Class indices are 0-BASED (Lua's are
    1-based); a negative target means "missing" and is ignored, as Lua ignores non-positive targets.
    """

    def __init__(self, nclasses, classes=None):
        if isinstance(nclasses, (list, tuple)):
            classes = list(nclasses)
            nclasses = len(classes)
        nclasses = int(nclasses)
        if nclasses < 1:
            raise ValueError(f"ConfusionMatrix: expected at least one class, got {nclasses}")
        self.mat = LongTensor(nclasses, nclasses).zero()
        self.valids = FloatTensor(nclasses).zero()
        self.unionvalids = FloatTensor(nclasses).zero()
        self.nclasses = nclasses
        self.totalValid = 0
        self.averageValid = 0
        self.averageUnionValid = 0
        self.classes = list(classes) if classes else []

    # -- accumulation --------------------------------------------------------------------------------------
    def _check(self, p, t):
        n = self.nclasses
        if not 0 <= p < n:
            raise IndexError(f"ConfusionMatrix: prediction {p} out of range for {n} classes (0-based: 0..{n - 1})")
        if t >= n:
            raise IndexError(f"ConfusionMatrix: target {t} out of range for {n} classes (0-based: 0..{n - 1}; "
                             f"negative targets are ignored)")

    def _add(self, p, t):
        p, t = int(p), int(t)
        if t < 0:       # a missing target: the sample is ignored, its prediction unread (Lua's _add)
            return
        self._check(p, t)
        self.mat._a[t, p] += 1

    @staticmethod
    def _argmax(v, what):
        a = _array(v, what)
        if a.ndim != 1:
            raise ValueError(f"ConfusionMatrix.add: expected a 1-D vector of {what} scores, got shape "
                             f"{tuple(a.shape)} (use batchAdd for batches)")
        return int(a.argmax())

    def add(self, prediction, target):
        """Count one sample.  prediction: a class index, or a vector of class scores (its argmax is the
        prediction); target: a class index (0-based), or a one-hot/score vector (its argmax)."""
        if _is_index(prediction):
            if not _is_index(target):
                target = self._argmax(target, 'target')
            self._add(prediction, target)
            return self
        p = self._argmax(prediction, 'prediction')
        t = target if _is_index(target) else self._argmax(target, 'target')
        self._add(p, t)
        return self

    @staticmethod
    def _batch_indices(v, what):
        a = _array(v, what)
        if a.ndim == 1:
            idx = a
        elif a.ndim == 2:
            idx = a[:, 0] if a.shape[1] == 1 else a.argmax(1)
        else:
            raise ValueError(f"ConfusionMatrix.batchAdd: {what} has invalid number of dimensions "
                             f"{a.ndim} (expected 1: class indices, or 2: scores/one-hot rows)")
        idx = backend.to_numpy(idx)
        if idx.dtype.kind == 'f':
            if not np.all(np.isfinite(idx)) or np.any(idx != np.trunc(idx)):
                raise ValueError(f"ConfusionMatrix.batchAdd: 1-D {what} must hold integer class indices")
        return idx.astype(np.int64, copy=False)

    def batchAdd(self, predictions, targets):
        """Count a batch at once.  predictions: N class indices, or N x nclasses scores (argmax per row);
        targets: N class indices (0-based; negative ones are ignored), or N x nclasses one-hot rows."""
        preds = self._batch_indices(predictions, 'predictions')
        targs = self._batch_indices(targets, 'targets')
        if preds.shape[0] != targs.shape[0]:
            raise ValueError(f"ConfusionMatrix.batchAdd: {preds.shape[0]} predictions but {targs.shape[0]} targets")
        n = self.nclasses
        keep = targs >= 0       # (missing targets: those samples are ignored, their predictions unread)
        preds, targs = preds[keep], targs[keep]
        if preds.size:
            if preds.min() < 0 or preds.max() >= n:
                bad = preds[(preds < 0) | (preds >= n)][0]
                raise IndexError(f"ConfusionMatrix.batchAdd: prediction {bad} out of range for {n} classes "
                                 f"(0-based: 0..{n - 1})")
            if targs.max() >= n:
                raise IndexError(f"ConfusionMatrix.batchAdd: target {targs.max()} out of range for {n} classes "
                                 f"(0-based: 0..{n - 1}; negative targets are ignored)")
        flat = targs * n + preds
        self.mat._a += np.bincount(flat, minlength=n * n).reshape(n, n)
        return self

    def zero(self):
        self.mat.zero()
        self.valids.zero()
        self.unionvalids.zero()
        self.totalValid = 0
        self.averageValid = 0
        return self

    # -- statistics ----------------------------------------------------------------------------------------
    def updateValids(self):
        """valids[t] = mat[t][t] / sum of row t (per-class accuracy), unionvalids[t] = mat[t][t] / (row t +
        column t - mat[t][t]) (the VOC measure), totalValid = trace / total, averageValid and
        averageUnionValid the means over the classes where they are defined (not NaN)."""
        m = self.mat._a
        diag = np.diag(m).astype(np.float64)
        rows = m.sum(1).astype(np.float64)
        cols = m.sum(0).astype(np.float64)
        with np.errstate(divide='ignore', invalid='ignore'):
            self.valids._a[...] = diag / rows          # stored as float32, as Torch7's FloatTensor
            self.unionvalids._a[...] = diag / (rows + cols - diag)
        self.totalValid = _div(float(diag.sum()), float(m.sum()))
        total_v = total_u = 0.0
        nv = nu = 0
        for v, u in zip(self.valids._a.tolist(), self.unionvalids._a.tolist()):
            if v == v:
                total_v += v
                nv += 1
                if u == u:
                    total_u += u
                    nu += 1
        self.averageValid = _div(total_v, nv)
        self.averageUnionValid = _div(total_u, nu)
        return self

    def farFrr(self):
        """Torch7's false acceptance / false rejection rates: (classFrrs, classFars, frrs, fars), the per-class
        tensors holding -1 for classes without samples, frrs/fars only the classes with samples."""
        cmat = self.mat._a.astype(np.float64)
        n = cmat.shape[0]
        counts = cmat.sum(1)
        class_frrs = np.full(n, -1.0)
        class_fars = np.full(n, -1.0)
        frrs, fars = [], []
        for i in range(n):
            if counts[i] != 0:
                frr = 1 - cmat[i, i] / counts[i]
                num, den = 0.0, 0
                for j in range(n):
                    if i != j and counts[j] != 0:
                        num += cmat[j, i] / counts[j]
                        den += 1
                far = _div(num, den)
                frrs.append(frr)
                fars.append(far)
                class_frrs[i], class_fars[i] = frr, far
        return (DoubleTensor(class_frrs), DoubleTensor(class_fars),
                DoubleTensor(np.array(frrs, np.float64)), DoubleTensor(np.array(fars, np.float64)))

    # -- printing ------------------------------------------------------------------------------------------
    def __str__(self):
        """Torch7's __tostring__: the matrix with per-class accuracies, then the three global measures."""
        self.updateValids()
        out = ['ConfusionMatrix:\n', '[']
        n = self.nclasses
        m = self.mat._a
        max_cnt = int(m.max())
        n_digits = max(8, 1 + math.ceil(math.log10(max_cnt))) if max_cnt > 0 else 8
        named = bool(self.classes)
        for t in range(n):
            pclass = _fmt('%2.3f', float(self.valids._a[t]) * 100)
            out.append('[' if t == 0 else ' [')
            out.extend('%*d' % (n_digits, c) for c in m[t].tolist())
            close = ']]  ' if t == n - 1 else ']   '
            if named:
                name = self.classes[t] if t < len(self.classes) else ''
                out.append(f"{close}{pclass}% \t[class: {name}]\n")
            else:
                out.append(f"{close}{pclass}% \n")
        out.append(' + average row correct: ' + lua_number(self.averageValid * 100) + '% \n')
        out.append(' + average rowUcol correct (VOC measure): ' + lua_number(self.averageUnionValid * 100) + '% \n')
        out.append(' + global correct: ' + lua_number(self.totalValid * 100) + '%')
        return ''.join(out)

    def __repr__(self):
        return self.__str__()

"""Norms, products and distances: Normalize, MM, PairwiseDistance, CosineDistance, DotProduct."""
import math

import numpy as np

from ..backend import array_module
from .module import (Module, check_grad_like_input, check_grad_size, long_info, pair_grad, pair_input, resized,
                     sizestr)


def _rows(module, x):
    if x.ndim not in (1, 2):
        raise ValueError(f"{module!r}: expected a 1-D input or a 2-D batch, got size {sizestr(x.shape)}")
    return x.reshape(1, -1) if x.ndim == 1 else x


def _same_pair(module, input):
    """The two inputs (same size, 1-D or a 2-D batch) as 2-D arrays, and whether they were 1-D."""
    a, b = pair_input(module, input)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"{module!r}: expected two inputs of the same size, [n] or [batch, n], got "
                         f"{sizestr(a.shape)} and {sizestr(b.shape)}")
    return a, b, _rows(module, a), _rows(module, b)


def _row_grad(module, gradOutput, n):
    """gradOutput of a module giving one number per row: n numbers (size [n]; [1] for a 1-D input)."""
    g = module._coerce(gradOutput, 'gradOutput')._a
    if g.size != n or g.ndim > 2:
        raise ValueError(f"{module!r}: expected gradOutput of size [{n}], got {sizestr(g.shape)}")
    return g.reshape(n, 1)


class Normalize(Module):
    """Normalize(p, eps=1e-10): each row (a 1-D input, or each row of a 2-D batch) divided by its p-norm
    (sum |x|^p + eps)^(1/p); p = math.inf uses max |x| + eps."""

    # defaults for fields a .t7 file may lack (nil in Torch7, or from an older version)
    eps = 1e-10

    def __init__(self, p, eps=1e-10):
        super().__init__()
        if p is None or not p > 0:
            raise ValueError(f"nn.Normalize: {p}-norm not supported (p must be > 0)")
        self.p = p
        self.eps = eps

    def _norms(self, x2):
        """Fill the kept row norms (_norm; _normp = sum |x|^p + eps for finite p; _idx for p = inf)."""
        xp = array_module(x2)
        n = x2.shape[0]
        buf = self._buffer('_buf', x2.shape)
        norm = self._buffer('_norm', (n, 1))
        if self.p == math.inf:
            if x2.shape[1] == 0:    # (numpy's argmax would fail with a message naming neither)
                raise ValueError(f"{self!r}: the inf-norm of a row of no element is undefined (input rows of size "
                                 f"{sizestr(x2.shape)})")
            xp.abs(x2, out=buf)
            idx = self._buffer('_idx', (n, 1), long_info(self))
            xp.argmax(buf, axis=1, keepdims=True, out=idx)
            xp.max(buf, axis=1, keepdims=True, out=norm)
            norm += self.eps
        else:
            normp = self._buffer('_normp', (n, 1))
            if self.p % 2 != 0:
                xp.abs(x2, out=buf)
                xp.power(buf, self.p, out=buf)
            else:
                xp.power(x2, self.p, out=buf)
            xp.sum(buf, axis=1, keepdims=True, out=normp)
            normp += self.eps
            xp.power(normp, 1.0 / self.p, out=norm)
        self._norm_key = (x2.shape, self.p)

    def updateOutput(self, input):
        x = self._coerce(input)._a
        x2 = _rows(self, x)
        self._norms(x2)
        out = resized(self.output, x.shape)
        array_module(x).divide(x2, self.__dict__['_norm'], out=out.reshape(x2.shape))
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._coerce(input)._a
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_like_input(self, x, g)
        x2, g2 = _rows(self, x), _rows(self, g)
        xp = array_module(x)
        if self.__dict__.get('_norm_key') != (x2.shape, self.p):
            self._norms(x2)
        n, d = x2.shape
        norm = self.__dict__['_norm']
        gi = resized(self.gradInput, x.shape).reshape(x2.shape)
        buf = self._buffer('_buf', x2.shape)
        cross = self._buffer('_cross', (n, 1))
        if self.p == math.inf:
            xp.multiply(norm, g2, out=gi)
            buf.fill(0)
            idx = self.__dict__['_idx']
            flat = self._buffer('_flat', (n, 1), long_info(self))
            rows = self.__dict__.get('_rowbase')      # each row's first flat position: depends on n and d
            if rows is None or self.__dict__.get('_rowbase_key') != (n, d) or array_module(rows) is not xp:
                rows = self._rowbase = xp.arange(n, dtype=np.int64).reshape(n, 1) * d
                self._rowbase_key = (n, d)
            xp.add(idx, rows, out=flat)
            picked = self._buffer('_picked', (n, 1))
            xp.take(x2.reshape(-1) if x2.flags.c_contiguous else xp.ascontiguousarray(x2).reshape(-1),
                    flat, out=picked)
            picked /= norm
            buf.reshape(-1)[flat] = picked
        else:
            normp = self.__dict__['_normp']
            xp.multiply(normp, g2, out=gi)
            p = self.p
            if p % 2 != 0:
                xp.abs(x2, out=buf)
                if p < 2:
                    buf += self.eps
                xp.power(buf, p - 2, out=buf)
                buf *= x2
            elif p == 2:
                buf[...] = x2
            else:
                xp.power(x2, p - 2, out=buf)
                buf *= x2
        xg = self._buffer('_xg', x2.shape)
        xp.multiply(x2, g2, out=xg)
        xp.sum(xg, axis=1, keepdims=True, out=cross)
        buf *= cross
        gi -= buf
        if self.p == math.inf:
            xp.multiply(norm, norm, out=cross)
        else:
            xp.multiply(self.__dict__['_normp'], norm, out=cross)
        gi /= cross
        return self.gradInput

    def __repr__(self):
        p = self.p
        if p == math.inf:
            return f"{self.__torch_name__}(inf)"
        return f"{self.__torch_name__}({int(p)})" if p % 1 == 0 else f"{self.__torch_name__}({p:f})"


class MM(Module):
    """MM(transA=False, transB=False): the matrix product of a table input ``[A, B]`` (two matrices, or two 3-D
    batches of them), each transposed first when asked."""

    def __init__(self, transA=False, transB=False):
        super().__init__()
        self.transA = bool(transA)
        self.transB = bool(transB)
        self.gradInput = [self._tcls(), self._tcls()]

    def _ops(self, input):
        a, b = pair_input(self, input)
        if a.ndim not in (2, 3) or b.ndim != a.ndim or (a.ndim == 3 and a.shape[0] != b.shape[0]):
            raise ValueError(f"{self!r}: expected two matrices or two batches of matrices (3-D, same batch "
                             f"size), got {sizestr(a.shape)} and {sizestr(b.shape)}")
        at = a.swapaxes(-1, -2) if self.transA else a
        bt = b.swapaxes(-1, -2) if self.transB else b
        if at.shape[-1] != bt.shape[-2]:
            raise ValueError(f"{self!r}: matrix sizes do not match: {sizestr(at.shape)} x {sizestr(bt.shape)} "
                             f"(inputs {sizestr(a.shape)} and {sizestr(b.shape)}, transA={self.transA}, "
                             f"transB={self.transB})")
        return a, b, at, bt

    def updateOutput(self, input):
        a, b, at, bt = self._ops(input)
        out = resized(self.output, at.shape[:-1] + bt.shape[-1:])
        array_module(a).matmul(at, bt, out=out)
        return self.output

    def updateGradInput(self, input, gradOutput):
        a, b, at, bt = self._ops(input)
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, at.shape[:-1] + bt.shape[-1:])
        xp = array_module(a)
        ga, gb = pair_grad(self, (a.shape, b.shape))
        gT = g.swapaxes(-1, -2)
        # d(A') = g B'^T and d(B') = A'^T g; transposed back when the input was transposed
        if self.transA:
            xp.matmul(bt, gT, out=ga)
        else:
            xp.matmul(g, bt.swapaxes(-1, -2), out=ga)
        if self.transB:
            xp.matmul(gT, at, out=gb)
        else:
            xp.matmul(at.swapaxes(-1, -2), g, out=gb)
        return self.gradInput


class PairwiseDistance(Module):
    """PairwiseDistance(p=2): the p-norm distance between the two inputs of a table ``[x1, x2]`` (vectors: output
    of size [1]; batches of rows: one distance per row).  p defaults to 2 (Euclidean), as Torch7."""

    def __init__(self, p=2):
        super().__init__()
        if p is None:
            p = 2                                   # Torch7: self.norm = p or 2
        if not 0 < p < math.inf:
            raise ValueError(f"nn.PairwiseDistance: expected a finite p > 0, got {p}")
        self.gradInput = [self._tcls(), self._tcls()]
        self.output = self._tcls(1)
        self.diff = self._tcls()
        self.norm = p

    def updateOutput(self, input):
        a, b, a2, b2 = _same_pair(self, input)
        xp = array_module(a)
        n = a2.shape[0]
        diff = resized(self.diff, a2.shape)
        xp.subtract(a2, b2, out=diff)
        xp.abs(diff, out=diff)
        out = resized(self.output, (n,))
        if self.norm != 1:
            xp.power(diff, self.norm, out=diff)
        xp.sum(diff, axis=1, out=out)
        if self.norm != 1:
            xp.power(out, 1.0 / self.norm, out=out)
        return self.output

    def updateGradInput(self, input, gradOutput):
        a, b, a2, b2 = _same_pair(self, input)
        xp = array_module(a)
        n = a2.shape[0]
        g = _row_grad(self, gradOutput, n)
        p = self.norm
        out = self.output._a
        if out.shape != (n,):
            self.updateOutput(input)
            out = self.output._a
        g1, g2 = pair_grad(self, (a.shape, b.shape))
        gi = g1.reshape(a2.shape)
        xp.subtract(a2, b2, out=gi)
        if p == 1:
            xp.sign(gi, out=gi)
            if int(xp.count_nonzero(gi)) != gi.size:
                _random_signs(xp, gi)
        else:
            # d||d||_p / dd_k = sign(d_k) |d_k|^(p-1) / ||d||_p^(p-1)  (Torch7 leaves out |d_k|^(p-2) when
            # 1 < p < 2, which is right only for p = 2; this is the derivative for every p)
            if p != 2:
                buf = self._buffer('_abs', a2.shape)
                xp.abs(gi, out=buf)
                xp.power(buf, p - 1, out=buf)
                xp.sign(gi, out=gi)
                gi *= buf
            den = self._buffer('_den', (n, 1))
            xp.add(out.reshape(n, 1), 1e-6, out=den)    # Torch7's guard against division by zero
            xp.power(den, -(p - 1), out=den)
            gi *= den
        gi *= g
        xp.negative(gi, out=g2.reshape(a2.shape))
        return self.gradInput

    def clearState(self):
        self.diff = self._tcls()        # (Torch7's PairwiseDistance:clearState empties diff too)
        return super().clearState()


def _random_signs(xp, s):
    """Replace the zeros of sign array ``s`` by -1 or 1 drawn from the global Torch7 stream, one draw per zero
    in row-major order (Torch7's mathsign: 2 * torch.random(2) - 3)."""
    from ..tensor import TENSOR_CLASSES
    mask = s == 0
    k = int(mask.sum())
    draws = TENSOR_CLASSES['LongTensor'](k).random(2)._a
    s[mask] = xp.asarray(2 * draws - 3, dtype=s.dtype)


class CosineDistance(Module):
    """The cosine similarity x1.x2 / (|x1| |x2|) of the two inputs of a table ``[x1, x2]`` (vectors: output of
    size [1]; batches of rows: one per row), with Torch7's 1e-12 added to each squared norm."""

    def __init__(self):
        super().__init__()
        self.gradInput = [self._tcls(), self._tcls()]

    def _terms(self, a2, b2):
        """Kept per-row terms: w1 = x1.x2, w22 = 1/(|x1|^2+eps), w32 = 1/(|x2|^2+eps), w = sqrt(w22 w32)."""
        xp = array_module(a2)
        n = a2.shape[0]
        buf = self._buffer('_buf', a2.shape)
        w1, w22, w32, w = (self._buffer(k, (n, 1)) for k in ('_w1', '_w22', '_w32', '_w'))
        xp.multiply(a2, b2, out=buf)
        xp.sum(buf, axis=1, keepdims=True, out=w1)
        xp.multiply(a2, a2, out=buf)
        xp.sum(buf, axis=1, keepdims=True, out=w22)
        w22 += 1e-12
        xp.reciprocal(w22, out=w22)
        xp.multiply(b2, b2, out=buf)
        xp.sum(buf, axis=1, keepdims=True, out=w32)
        w32 += 1e-12
        xp.reciprocal(w32, out=w32)
        xp.multiply(w22, w32, out=w)
        xp.sqrt(w, out=w)
        return xp, w1, w22, w32, w

    def updateOutput(self, input):
        a, b, a2, b2 = _same_pair(self, input)
        xp, w1, _, _, w = self._terms(a2, b2)
        out = resized(self.output, (a2.shape[0],))
        xp.multiply(w1, w, out=out.reshape(-1, 1))
        return self.output

    def updateGradInput(self, input, gradOutput):
        a, b, a2, b2 = _same_pair(self, input)
        n = a2.shape[0]
        g = _row_grad(self, gradOutput, n)
        xp, w1, w22, w32, w = self._terms(a2, b2)
        g1, g2 = pair_grad(self, (a.shape, b.shape))
        gw1, gw2 = g1.reshape(a2.shape), g2.reshape(a2.shape)
        c = self._buffer('_c', (n, 1))
        # d/dx1 = (x2 - w1 w22 x1) w ; d/dx2 = (x1 - w1 w32 x2) w
        xp.multiply(w1, w22, out=c)
        xp.multiply(a2, c, out=gw1)
        xp.subtract(b2, gw1, out=gw1)
        xp.multiply(w1, w32, out=c)
        xp.multiply(b2, c, out=gw2)
        xp.subtract(a2, gw2, out=gw2)
        xp.multiply(w, g, out=c)
        gw1 *= c
        gw2 *= c
        return self.gradInput


class DotProduct(Module):
    """The dot product of the two inputs of a table ``[x1, x2]`` (vectors: output of size [1]; batches of rows:
    one per row)."""

    def __init__(self):
        super().__init__()
        self.gradInput = [self._tcls(), self._tcls()]

    def updateOutput(self, input):
        a, b, a2, b2 = _same_pair(self, input)
        xp = array_module(a)
        buf = self._buffer('_buf', a2.shape)
        xp.multiply(a2, b2, out=buf)
        xp.sum(buf, axis=1, out=resized(self.output, (a2.shape[0],)))
        return self.output

    def updateGradInput(self, input, gradOutput):
        a, b, a2, b2 = _same_pair(self, input)
        g = _row_grad(self, gradOutput, a2.shape[0])
        xp = array_module(a)
        g1, g2 = pair_grad(self, (a.shape, b.shape))
        xp.multiply(b2, g, out=g1.reshape(a2.shape))
        xp.multiply(a2, g, out=g2.reshape(a2.shape))
        return self.gradInput

"""Convolutions through a connection table (Torch7's nn): SpatialConvolutionMap, SpatialFullConvolutionMap.

``connTable`` (K x 2, see ``nn.tables``) lists the connections: row k convolves input plane ``connTable[k][0]``
with the kH x kW kernel ``weight[k]`` into output plane ``connTable[k][1]`` (plane numbers 0-based here, 1-based in
Lua; .t7 files convert).  Each output plane also gets its ``bias``.  As THNN, the kernels are not flipped
(cross-correlation forward; SpatialFullConvolutionMap adds ``input * kernel`` at each stride position).

Computed with the convolution building blocks (backend/kernels.py): the connected input planes are gathered into
an N x K x H x W batch, unfolded once (im2col, as a depth-wise convolution), each connection's row multiplied by its
kernel, and the K results summed into their output planes by one matrix product with a one-hot K -> nOutputPlane
matrix (its transpose sends gradients back; a nInputPlane x K one sums them into the input planes).
"""
import math

import numpy as np

from .. import backend
from .. import random as _random
from ..backend import array_module, kernels
from .conv import _positive
from .module import Module, check_grad_size, resized, sizestr
from .spatial_extra import _batch

_NF = 'nfirst'


def _conn_array(module):
    """connTable as an int64 numpy K x 2 array, checked."""
    t = module.connTable
    name = module.__torch_name__
    a = np.asarray(backend.to_numpy(t._a) if hasattr(t, '_a') else t)
    if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] < 1:
        raise ValueError(f"{name}: connTable must be a K x 2 tensor (input plane, output plane per row), got "
                         f"size {sizestr(a.shape)}")
    if not np.all(a == np.round(a)) or a.min() < 0:
        raise ValueError(f"{name}: connTable must hold plane numbers >= 0 (0-based; Lua's tables are 1-based: "
                         f"subtract one, or use nn.tables)")
    return a.astype(np.int64)


def _planes(conn):
    return int(conn[:, 0].max()) + 1, int(conn[:, 1].max()) + 1


def _connected_sums(m, a, out):
    """out (... x R x L) = m @ a (m: an R x K 0/1 matrix of the table, a: ... x K x L), as the matmul that made it:
    where that holds a NaN or inf, again as sums of the rows of ``a`` that m selects, as THNN's loops over the
    connections (the matmul's 0 * inf made NaN of every row, e.g. of all output planes for one inf input pixel).
    CPU only (backend.host_not_finite; cunn has no such module to match)."""
    if not backend.host_not_finite(out):
        return
    sel = backend.to_numpy(m)
    for i in range(sel.shape[0]):
        o = out[..., i, :]
        o.fill(0)
        for j in np.flatnonzero(sel[i]):
            o += a[..., j, :]


class _MapConv(Module):
    """What the two table convolutions share: fields, reset (Torch7's per-connection fan-in), the table's
    index arrays and one-hot matrices."""

    def __init__(self, conMatrix, kW, kH, dW=1, dH=1):
        name = f"nn.{type(self).__name__}"
        _positive(name, kW=kW, kH=kH, dW=dW, dH=dH)
        super().__init__()
        self.kW, self.kH, self.dW, self.dH = kW, kH, dW, dH
        if not hasattr(conMatrix, '_a'):
            conMatrix = self._tcls(np.asarray(conMatrix, dtype=np.float64))
        self.connTable = conMatrix
        conn = _conn_array(self)
        self.nInputPlane, self.nOutputPlane = _planes(conn)
        k = conn.shape[0]
        self.weight = self._tcls(k, kH, kW)
        self.bias = self._tcls(self.nOutputPlane)
        self.gradWeight = self._tcls(k, kH, kW)
        self.gradBias = self._tcls(self.nOutputPlane)
        self.reset()

    def reset(self, stdv=None):
        if stdv is not None:
            s = stdv * math.sqrt(3)
            self.weight.uniform(-s, s)
            self.bias.uniform(-s, s)
            return self
        # Torch7: each connection's kernel, in table order, over the fan-in of its output plane; then the bias
        # one number at a time
        conn = _conn_array(self)
        fan = np.bincount(conn[:, 1], minlength=self.nOutputPlane)
        for k in range(conn.shape[0]):
            s = 1 / math.sqrt(self.kW * self.kH * fan[conn[k, 1]])
            self.weight.select(0, k).uniform(-s, s)
        b = np.empty(self.nOutputPlane)
        for k in range(self.nOutputPlane):
            if fan[k]:
                s = 1 / math.sqrt(self.kW * self.kH * fan[k])
                b[k] = _random.uniform(-s, s)
            else:       # a plane no connection feeds (Torch7 draws uniform(-inf, inf): NaN); 0, same draw count
                _random.uniform()
                b[k] = 0
        self.bias._a[...] = backend.to_device(b, self._tinfo.cuda)
        return self

    # -- the table, on the module's device -----------------------------------------------------------------
    def _maps(self):
        """(input plane per connection, one-hot nOutputPlane x K, one-hot nInputPlane x K), kept while the table
        holds the same values."""
        conn = _conn_array(self)
        cache = self.__dict__.get('_map_cache')
        cuda = self._tinfo.cuda
        if cache is not None and cache[0] == (conn.tobytes(), cuda, self._tinfo.dtype):
            return cache[1]
        nin, nout = self.nInputPlane, self.nOutputPlane
        if conn[:, 0].max() >= nin or conn[:, 1].max() >= nout:
            raise ValueError(f"{self!r}: connTable names planes past nInputPlane={nin} / nOutputPlane={nout}")
        k = conn.shape[0]
        mout = np.zeros((nout, k), dtype=self._tinfo.dtype)
        mout[conn[:, 1], np.arange(k)] = 1
        min_ = np.zeros((nin, k), dtype=self._tinfo.dtype)
        min_[conn[:, 0], np.arange(k)] = 1
        maps = tuple(backend.to_device(a, cuda) for a in (conn[:, 0].astype(np.intp), mout, min_))
        self._map_cache = ((conn.tobytes(), cuda, self._tinfo.dtype), maps)
        return maps

    def _gather(self, xb, idx):
        """The connected input planes, N x K x H x W, in a kept buffer."""
        xg = self._buffer('_xg', (xb.shape[0], idx.shape[0]) + xb.shape[2:])
        kernels.take_into(xb, idx, xg, axis=1)
        return xg

    def _to_inputs(self, xb, dxg, min_):
        """gradInput (N x C x H x W array, C >= nInputPlane) = the K gradients summed into their input planes."""
        n, k = dxg.shape[:2]
        xp = array_module(dxg)
        gi = resized(self.gradInput, self._in_shape)
        gi4 = gi.reshape(xb.shape)
        tmp = self._buffer('_gisum', (n, self.nInputPlane, dxg[0, 0].size))
        xp.matmul(min_, dxg.reshape(n, k, -1), out=tmp)
        _connected_sums(min_, dxg.reshape(n, k, -1), tmp)
        if xb.shape[1] != self.nInputPlane:
            gi4.fill(0)
        gi4[:, :self.nInputPlane] = tmp.reshape((n, self.nInputPlane) + xb.shape[2:])
        return gi

    def _acc_grad_weight(self, cols, rows, scale):
        """gradWeight[k] += scale * cols[k] @ rows[k] for each connection k (cols: K x kk x N*L, rows: K x N*L)."""
        k = cols.shape[0]
        tmp = self._buffer('_gwt', (k, cols.shape[1], 1))
        array_module(cols).matmul(cols, rows.reshape(k, -1, 1), out=tmp)
        gw = self.gradWeight._a.reshape(k, -1)
        gw += scale * tmp.reshape(k, -1)

    def _grad_array(self, gradOutput, want):
        g = self._coerce(gradOutput, 'gradOutput')._a
        check_grad_size(self, g, want)
        return g

    def __repr__(self):
        return (f"{self.__torch_name__}({self.nInputPlane} -> {self.nOutputPlane}, {self.kW}x{self.kH}, "
                f"{self.dW},{self.dH})")


class SpatialConvolutionMap(_MapConv):
    """SpatialConvolutionMap(connTable, kW, kH, dW=1, dH=1): a valid 2-D cross-correlation along each connection
    of ``connTable`` (see the module docstring); output planes of (H - kH) // dH + 1 by (W - kW) // dW + 1.
    weight: K x kH x kW; bias: nOutputPlane."""
    _lua_index_fields = ('connTable',)

    def _setup(self, input):
        x = self._coerce(input)._a
        xb, batched = _batch(self, x, self.nInputPlane, at_least=True)     # (the first planes are used)
        h, w = xb.shape[2:]
        if h < self.kH or w < self.kW:
            raise ValueError(f"{self!r}: input of size {sizestr(x.shape)} is smaller than the kernel "
                             f"{self.kW}x{self.kH}")
        osize = kernels.out_sizes((h, w), (self.kH, self.kW), (self.dH, self.dW), 0)
        self._in_shape = x.shape
        return x, xb, batched, osize

    def _columns(self, x, xb, idx):
        shape = (idx.shape[0], self.kH * self.kW, -1)                    # K x kk x N*L
        if self.__dict__.get('_cols_of') is x:
            return self._cols.reshape(shape)
        xg = self._gather(xb, idx)
        cols = kernels.im2col(xg, (self.kH, self.kW), (self.dH, self.dW), 0, 1, _NF, self._buffer, '_cols')
        self._cols_of = x
        return cols.reshape(shape)

    def updateOutput(self, input):
        x, xb, batched, osize = self._setup(input)
        xp = array_module(x)
        idx, mout, _ = self._maps()
        self._cols_of = None
        c3 = self._columns(x, xb, idx)
        k = idx.shape[0]
        r = self._buffer('_r', (k, 1, c3.shape[2]))
        xp.matmul(self.weight._a.reshape(k, 1, -1), c3, out=r)          # each connection's kernel
        res = self._buffer('_res', (self.nOutputPlane, c3.shape[2]))
        backend.matmul(mout, r.reshape(k, -1), res)                     # summed into its output plane
        _connected_sums(mout, r.reshape(k, -1), res)
        n = xb.shape[0]
        out = resized(self.output, ((n,) if batched else ()) + (self.nOutputPlane,) + osize)
        xp.add(kernels.cols_to_batch(res, n, _NF), self.bias._a[:, None], out=out.reshape(n, self.nOutputPlane, -1))
        return self.output

    def _dres(self, input, gradOutput):
        """(x, xb, the gradient of each connection's result K x N*L, gradOutput as nOutputPlane x N*L)."""
        x, xb, batched, osize = self._setup(input)
        n = xb.shape[0]
        g = self._grad_array(gradOutput, ((n,) if batched else ()) + (self.nOutputPlane,) + osize)
        if self.__dict__.get('_dr_of') is g:
            self._dr_of = None
            return x, xb, self._dr, self._gm
        idx, mout, _ = self._maps()
        gm = kernels.batch_to_cols(g.reshape((n, self.nOutputPlane) + osize), _NF,
                                   self._buffer('_gm', (self.nOutputPlane, n * osize[0] * osize[1])))
        dr = self._buffer('_dr', (idx.shape[0], gm.shape[1]))
        backend.matmul(mout.T, gm, dr)
        _connected_sums(mout.T, gm, dr)
        self._dr, self._gm, self._dr_of = dr, gm, g
        return x, xb, dr, gm

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:
            return None
        self._dr_of = None
        x, xb, dr, _ = self._dres(input, gradOutput)
        xp = array_module(x)
        idx, _, min_ = self._maps()
        k, kk = idx.shape[0], self.kH * self.kW
        dcols = self._buffer('_dcols', (k, kk, dr.shape[1]))
        xp.multiply(self.weight._a.reshape(k, kk, 1), dr[:, None, :], out=dcols)
        dxg = self._buffer('_dxg', (xb.shape[0], k) + xb.shape[2:])
        kernels.col2im(dcols.reshape(k * kk, -1), dxg, (self.kH, self.kW), (self.dH, self.dW), 0, 1, _NF,
                       self._buffer, '_col2im')
        self._to_inputs(xb, dxg, min_)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, xb, dr, gm = self._dres(input, gradOutput)
        self._dr_of = None
        idx, _, _ = self._maps()
        self._acc_grad_weight(self._columns(x, xb, idx), dr, scale)
        self.gradBias._a[...] += scale * gm.sum(axis=1)

    def decayParameters(self, decay):
        """Torch7's weight and bias -= decay * themselves."""
        self.weight._a *= 1 - decay
        self.bias._a *= 1 - decay


class SpatialFullConvolutionMap(_MapConv):
    """SpatialFullConvolutionMap(connTable, kW, kH, dW=1, dH=1): the transpose of SpatialConvolutionMap, each
    input pixel adding ``value * weight[k]`` into its output plane at a stride of dW, dH; output planes of
    (H - 1) * dH + kH by (W - 1) * dW + kW.  Torch7 takes a 3-D input only; a 4-D batch works here too."""
    _lua_index_fields = ('connTable',)

    def _setup(self, input):
        x = self._coerce(input)._a
        xb, batched = _batch(self, x, self.nInputPlane, at_least=True)     # (the first planes are used)
        h, w = xb.shape[2:]
        osize = ((h - 1) * self.dH + self.kH, (w - 1) * self.dW + self.kW)
        self._in_shape = x.shape
        return x, xb, batched, osize

    def _xmat(self, x, xb, idx):
        """The connected input planes as K x N*L (kept from updateOutput for the same array)."""
        if self.__dict__.get('_xm_of') is x:
            return self.__dict__['_xm']
        xg = self._gather(xb, idx)
        xm = kernels.batch_to_cols(xg, _NF, self._buffer('_xm', (idx.shape[0], xg[0, 0].size * xg.shape[0])))
        self._xm_of = x
        return xm

    def updateOutput(self, input):
        x, xb, batched, osize = self._setup(input)
        xp = array_module(x)
        idx, mout, _ = self._maps()
        self._xm_of = None
        xm = self._xmat(x, xb, idx)
        k, kk = idx.shape[0], self.kH * self.kW
        cols = self._buffer('_cols', (k, kk, xm.shape[1]))
        xp.multiply(self.weight._a.reshape(k, kk, 1), xm[:, None, :], out=cols)
        n = xb.shape[0]
        og = self._buffer('_og', (n, k) + osize)
        kernels.col2im(cols.reshape(k * kk, -1), og, (self.kH, self.kW), (self.dH, self.dW), 0, 1, _NF,
                       self._buffer, '_col2im')
        out = resized(self.output, ((n,) if batched else ()) + (self.nOutputPlane,) + osize)
        o3 = out.reshape(n, self.nOutputPlane, -1)
        xp.matmul(mout, og.reshape(n, k, -1), out=o3)
        _connected_sums(mout, og.reshape(n, k, -1), o3)
        o3 += self.bias._a[:, None]
        return self.output

    def _grad_cols(self, input, gradOutput):
        """(x, xb, g, the unfolded gradient of each connection K x kk x N*L)."""
        x, xb, batched, osize = self._setup(input)
        n = xb.shape[0]
        g = self._grad_array(gradOutput, ((n,) if batched else ()) + (self.nOutputPlane,) + osize)
        shape = (self.connTable._a.shape[0], self.kH * self.kW, -1)
        if self.__dict__.get('_gc_of') is g:
            self._gc_of = None
            return x, xb, g, self._gcols.reshape(shape)
        xp = array_module(x)
        idx, mout, _ = self._maps()
        k = idx.shape[0]
        gg = self._buffer('_gg', (n, k) + osize)
        xp.matmul(mout.T, g.reshape(n, self.nOutputPlane, -1), out=gg.reshape(n, k, -1))
        _connected_sums(mout.T, g.reshape(n, self.nOutputPlane, -1), gg.reshape(n, k, -1))
        cols = kernels.im2col(gg, (self.kH, self.kW), (self.dH, self.dW), 0, 1, _NF, self._buffer, '_gcols')
        self._gc_of = g
        return x, xb, g, cols.reshape(shape)

    def updateGradInput(self, input, gradOutput):
        if self.gradInput is None:
            return None
        self._gc_of = None
        x, xb, g, gc3 = self._grad_cols(input, gradOutput)
        xp = array_module(x)
        idx, _, min_ = self._maps()
        k = idx.shape[0]
        dxm = self._buffer('_dxm', (k, 1, gc3.shape[2]))
        xp.matmul(self.weight._a.reshape(k, 1, -1), gc3, out=dxm)
        n = xb.shape[0]
        dxg = self._buffer('_dxg', (n, k) + xb.shape[2:])
        dxg.reshape(n, k, -1)[...] = kernels.cols_to_batch(dxm.reshape(k, -1), n, _NF)
        self._to_inputs(xb, dxg, min_)
        return self.gradInput

    def accGradParameters(self, input, gradOutput, scale=1):
        x, xb, g, gc3 = self._grad_cols(input, gradOutput)
        self._gc_of = None
        idx, _, _ = self._maps()
        self._acc_grad_weight(gc3, self._xmat(x, xb, idx), scale)
        self.gradBias._a[...] += scale * g.reshape((-1, self.nOutputPlane) + g.shape[-2:]).sum(axis=(0, 2, 3))

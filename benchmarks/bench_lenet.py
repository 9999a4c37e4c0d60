#!/usr/bin/env python3
"""LeNet training step (batch 64, 1x28x28, float32): luatorch_py vs the same step hand-written in numpy with
im2col, vs ../shared/bench/anchors.py's hand-written step (the baseline of the goals, when it is beside the
repository: it skips dL/dx, as 'hand numpy, no dL/dx'), vs PyTorch when installed.  Goals: <= 1.0x the shared hand
numpy time for 'luatorch_py, no dL/dx' (issue 10; ../shared/bench/anchors.py is the measurement that counts),
<= 1.3x this hand numpy's peak memory.

The net: SpatialConvolution(1,20,5,5) - ReLU - SpatialMaxPooling(2,2) - SpatialConvolution(20,50,5,5) - ReLU -
SpatialMaxPooling(2,2) - View(800) - Linear(800,500) - ReLU - Linear(500,10) - LogSoftMax, ClassNLLCriterion; a
step is zeroGradParameters, forward, criterion forward/backward, backward, updateParameters(0.01).

Two hand baselines: 'hand numpy' computes what Torch7's protocol computes (net:backward also returns the gradient
with respect to the input, through the first convolution), 'hand numpy, no dL/dx' skips that col2im, as a program
that never needs it would.  The hand code (slower than ../shared/bench/anchors.py's, docs/developing.md): one
matrix product per layer and pass, columns built by one strided copy (batch-last layout for the 20->50 convolution,
whose 8x8 planes make batch-first rows too short), max pooling by four strided comparisons, buffers allocated once.  Before timing,
``check_same_step`` checks that from luatorch_py's initial weights it gives luatorch_py's weights after 3 steps.

Usage: python benchmarks/bench_lenet.py [steps per round, default 10]
"""
import sys
import tracemalloc

import numpy as np
from numpy.lib.stride_tricks import as_strided

import luatorch_py as torch
from luatorch_py import nn

import harness

B, LR = 64, 0.01
rs = np.random.RandomState(0)
X = rs.rand(B, 1, 28, 28).astype(np.float32)
T = rs.randint(0, 10, B).astype(np.int64)


def lenet():
    pool = nn.SpatialMaxPooling
    net = nn.Sequential()
    net.add(nn.SpatialConvolution(1, 20, 5, 5))
    net.add(nn.ReLU())
    net.add(pool(2, 2, 2, 2))
    net.add(nn.SpatialConvolution(20, 50, 5, 5))
    net.add(nn.ReLU())
    net.add(pool(2, 2, 2, 2))
    net.add(nn.View(800))
    net.add(nn.Linear(800, 500))
    net.add(nn.ReLU())
    net.add(nn.Linear(500, 10))
    net.add(nn.LogSoftMax())
    return net


def ours(input_grad=True):
    torch.manualSeed(1)
    net = lenet().float()
    if not input_grad:
        net.get(0).gradInput = None       # Torch7's idiom for a first layer: no dL/dx
    crit = nn.ClassNLLCriterion().float()

    def step():
        net.zeroGradParameters()
        out = net.forward(X)
        crit.forward(out, T)
        net.backward(X, crit.backward(out, T))
        net.updateParameters(LR)
    step.net = net
    return step


# -- the hand-written step ----------------------------------------------------------------------------------------
class HandConv:
    """5x5 valid convolution, stride 1: weight (O, C*25), columns (C*25, N*L) batch-first (n, y, x) or batch-last
    (y, x, n)."""

    def __init__(self, n, c, h, o, k, batch_last, input_grad=True):
        self.n, self.c, self.h, self.o, self.k = n, c, h, o, k
        self.oh = oh = h - k + 1
        self.last, self.input_grad = batch_last, input_grad
        s = 1.0 / np.sqrt(c * k * k)
        self.w = rs.uniform(-s, s, (o, c * k * k)).astype(np.float32)
        self.b = rs.uniform(-s, s, o).astype(np.float32)
        self.gw, self.gb = np.zeros_like(self.w), np.zeros_like(self.b)
        self.tw, self.tb = np.empty_like(self.w), np.empty_like(self.b)
        f = np.float32
        if batch_last:
            self.xt = np.empty((c, h, h, n), f)
            self.cols = np.empty((c, k, k, oh, oh, n), f)
            self.acc = np.empty((c, h, h, n), f)
        else:
            self.cols = np.empty((c, k, k, n, oh, oh), f)
            self.acc = np.empty((c, n, h, h), f)
        self.res = np.empty((o, n * oh * oh), f)
        self.out = np.empty((n, o, oh, oh), f)
        self.gm = np.empty((o, n * oh * oh), f)
        self.dcols = np.empty((c * k * k, n * oh * oh), f)
        self.gin = np.empty((n, c, h, h), f)

    def forward(self, x):
        c, k, oh, n = self.c, self.k, self.oh, self.n
        if self.last:
            self.xt[...] = x.transpose(1, 2, 3, 0)
            s = self.xt.strides
            self.cols[...] = as_strided(self.xt, self.cols.shape, (s[0], s[1], s[2], s[1], s[2], s[3]))
        else:
            s = x.strides
            self.cols[...] = as_strided(x, self.cols.shape, (s[1], s[2], s[3], s[0], s[2], s[3]))
        np.matmul(self.w, self.cols.reshape(c * k * k, -1), out=self.res)
        src = (self.res.reshape(self.o, -1, n).transpose(2, 0, 1) if self.last
               else self.res.reshape(self.o, n, -1).transpose(1, 0, 2))
        np.add(src, self.b[:, None], out=self.out.reshape(n, self.o, -1))
        return self.out

    def backward(self, g):
        c, k, oh, n, o = self.c, self.k, self.oh, self.n, self.o
        g3 = g.reshape(n, o, -1)
        if self.last:
            self.gm.reshape(o, -1, n)[...] = g3.transpose(1, 2, 0)
        else:
            self.gm.reshape(o, n, -1)[...] = g3.transpose(1, 0, 2)
        np.matmul(self.gm, self.cols.reshape(c * k * k, -1).T, out=self.tw)
        self.gw += self.tw
        np.sum(self.gm, axis=1, out=self.tb)
        self.gb += self.tb
        if not self.input_grad:
            return None
        np.matmul(self.w.T, self.gm, out=self.dcols)
        acc = self.acc
        acc.fill(0)
        if self.last:
            d6 = self.dcols.reshape(c, k, k, oh, oh, n)
            for i in range(k):
                for j in range(k):
                    acc[:, i:i + oh, j:j + oh, :] += d6[:, i, j]
            self.gin[...] = acc.transpose(3, 0, 1, 2)
        else:
            d6 = self.dcols.reshape(c, k, k, n, oh, oh)
            for i in range(k):
                for j in range(k):
                    acc[:, :, i:i + oh, j:j + oh] += d6[:, i, j]
            self.gin[...] = acc.swapaxes(0, 1)
        return self.gin


class HandReLUPool:
    """ReLU then 2x2/2 max pooling (the first maximum of a window gets the gradient)."""

    def __init__(self, shape):
        n, c, h, w = shape
        f = np.float32
        self.r = np.empty(shape, f)
        self.out = np.empty((n, c, h // 2, w // 2), f)
        self.idx = np.empty((n, c, h // 2, w // 2), np.int8)
        self.m = np.empty((n, c, h // 2, w // 2), bool)
        self.tmp = np.empty((n, c, h // 2, w // 2), f)
        self.gr = np.empty(shape, f)
        self.rmask = np.empty(shape, bool)

    def forward(self, x):
        np.maximum(x, 0, out=self.r)
        r, out, idx, m = self.r, self.out, self.idx, self.m
        out[...] = r[:, :, 0::2, 0::2]
        idx.fill(0)
        for k, (i, j) in enumerate(((0, 1), (1, 0), (1, 1)), 1):
            v = r[:, :, i::2, j::2]
            np.greater(v, out, out=m)
            np.copyto(out, v, where=m)
            np.copyto(idx, k, where=m)
        return out

    def backward(self, x, g):
        for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            np.equal(self.idx, k, out=self.m)
            np.multiply(g, self.m, out=self.gr[:, :, i::2, j::2])
        np.greater(x, 0, out=self.rmask)
        self.gr *= self.rmask
        return self.gr


def hand_numpy(input_grad=True, init=None):
    """The hand-written step; ``init``: the 8 parameter arrays to start from (else drawn from ``rs``)."""
    c1 = HandConv(B, 1, 28, 20, 5, batch_last=False, input_grad=input_grad)
    p1 = HandReLUPool((B, 20, 24, 24))
    c2 = HandConv(B, 20, 12, 50, 5, batch_last=True)
    p2 = HandReLUPool((B, 50, 8, 8))
    f = np.float32
    s1, s2 = 1 / np.sqrt(800), 1 / np.sqrt(500)
    W1, b1 = rs.uniform(-s1, s1, (500, 800)).astype(f), rs.uniform(-s1, s1, 500).astype(f)
    W2, b2 = rs.uniform(-s2, s2, (10, 500)).astype(f), rs.uniform(-s2, s2, 10).astype(f)
    gW1, gb1, gW2, gb2 = (np.zeros_like(a) for a in (W1, b1, W2, b2))
    tW1, tb1, tW2, tb2 = (np.empty_like(a) for a in (W1, b1, W2, b2))
    h1, a1, g1 = (np.empty((B, 500), f) for _ in range(3))
    m1 = np.empty((B, 500), bool)
    h2, lp, g2 = (np.empty((B, 10), f) for _ in range(3))
    gflat = np.empty((B, 800), f)
    lse = np.empty((B, 1), f)
    rows = np.arange(B)
    params = [(c1.w, c1.gw, c1.tw), (c1.b, c1.gb, c1.tb), (c2.w, c2.gw, c2.tw), (c2.b, c2.gb, c2.tb),
              (W1, gW1, tW1), (b1, gb1, tb1), (W2, gW2, tW2), (b2, gb2, tb2)]
    for (p, _, _), v in zip(params, init or ()):
        p[...] = v.reshape(p.shape)

    def step():
        for _, g, _ in params:
            g.fill(0)
        y1 = c1.forward(X)
        q1 = p1.forward(y1)
        y2 = c2.forward(q1)
        q2 = p2.forward(y2)
        flat = q2.reshape(B, 800)
        np.matmul(flat, W1.T, out=h1)
        np.add(h1, b1, out=h1)
        np.maximum(h1, 0, out=a1)
        np.matmul(a1, W2.T, out=h2)
        np.add(h2, b2, out=h2)
        np.max(h2, axis=1, keepdims=True, out=lse)
        np.subtract(h2, lse, out=lp)
        np.exp(lp, out=g2)
        np.log(g2.sum(1, keepdims=True), out=lse)
        np.subtract(lp, lse, out=lp)
        float(-lp[rows, T].mean())                              # the loss
        np.exp(lp, out=g2)                                      # d loss / d (LogSoftMax input)
        np.multiply(g2, 1.0 / B, out=g2)
        g2[rows, T] -= 1.0 / B
        np.matmul(g2.T, a1, out=tW2)
        np.add(gW2, tW2, out=gW2)
        np.add(gb2, g2.sum(0), out=gb2)
        np.matmul(g2, W2, out=g1)
        np.greater(h1, 0, out=m1)
        np.multiply(g1, m1, out=g1)
        np.matmul(g1.T, flat, out=tW1)
        np.add(gW1, tW1, out=gW1)
        np.add(gb1, g1.sum(0), out=gb1)
        np.matmul(g1, W1, out=gflat)
        gq2 = p2.backward(y2, gflat.reshape(q2.shape))
        gq1 = c2.backward(gq2)
        gy1 = p1.backward(y1, gq1)
        c1.backward(gy1)
        for p, g, t in params:
            np.multiply(g, LR, out=t)
            p -= t
    step.params = [p for p, _, _ in params]
    return step


def check_same_step(steps=3):
    """The hand step computes what luatorch_py's does: from the same weights, the same weights after ``steps``."""
    o = ours()
    weights = o.net.parameters()[0]
    h = hand_numpy(init=[w.numpy() for w in weights])
    for _ in range(steps):
        o()
        h()
    for w, p in zip(weights, h.params):
        np.testing.assert_allclose(w.numpy().reshape(p.shape), p, rtol=1e-4, atol=1e-6)


def pytorch():
    return harness.pytorch_nll_step(
        lambda pt: [pt.nn.Conv2d(1, 20, 5), pt.nn.ReLU(), pt.nn.MaxPool2d(2), pt.nn.Conv2d(20, 50, 5), pt.nn.ReLU(),
                    pt.nn.MaxPool2d(2), pt.nn.Flatten(), pt.nn.Linear(800, 500), pt.nn.ReLU(),
                    pt.nn.Linear(500, 10), pt.nn.LogSoftmax(1)], X, T, LR)


def peak_memory(make):
    """Peak bytes allocated (tracemalloc: numpy's buffers included) while building the step and running 3."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    step = make()
    for _ in range(3):
        step()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    check_same_step()
    makers = {'hand numpy': lambda: hand_numpy(True), 'hand numpy, no dL/dx': lambda: hand_numpy(False),
              'luatorch_py': ours, 'luatorch_py, no dL/dx': lambda: ours(False)}
    steps = harness.add_pytorch(harness.add_shared({k: m() for k, m in makers.items()}, 'conv'), pytorch)
    med = harness.medians(steps, n)
    base = harness.base_of(med, 'hand numpy, no dL/dx')
    harness.print_table(f"LeNet training step, batch {B}, 1x28x28, float32, ms per step (median of 5 interleaved "
                        f"rounds of {n}):", med, list(dict.fromkeys([base, 'hand numpy, no dL/dx'])))
    mem = {k: peak_memory(makers[k]) for k in ('hand numpy', 'luatorch_py')}
    print("peak memory (tracemalloc, building the step + 3 steps):")
    for k, v in mem.items():
        print(f"  {k:22s} {v / 2 ** 20:8.2f} MiB")
    print(harness.goal(f'luatorch_py, no dL/dx vs {base}', med['luatorch_py, no dL/dx'] / med[base], 1.0))
    print(harness.goal('luatorch_py', mem['luatorch_py'] / mem['hand numpy'], 1.3, 'peak memory'))


if __name__ == '__main__':
    main()

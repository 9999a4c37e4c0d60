#!/usr/bin/env python3
"""MLP 784-1024-1024-10 training step (ReLU, LogSoftMax, ClassNLLCriterion, batch 128, float32, lr 0.01):
luatorch_py vs hand-written numpy (vs PyTorch when installed).  Goal (issue 10): 'luatorch_py, no dL/dx' <= 1.05x the
faster of ../shared/bench/anchors.py's hand step and 'hand numpy, no dL/dx' (anchors.py is the measurement that counts).

Two hand baselines are timed: 'hand numpy' computes what Torch7's protocol computes (net:backward also returns the
gradient with respect to the input), 'hand numpy, no dL/dx' skips that first-layer product, as a program that
never needs it would.  'luatorch_py, no dL/dx' is the same net with Torch7's idiom for that case,
``net.get(0).gradInput = None`` (Linear then skips the product), and is compared with the second baseline.
"""
import sys

import numpy as np

import luatorch_py as torch
from luatorch_py import nn

import harness

B, SIZES = 128, (784, 1024, 1024, 10)
rs = np.random.RandomState(0)
X = rs.rand(B, SIZES[0]).astype(np.float32)
T = rs.randint(0, 10, B).astype(np.int64)


def ours(input_grad=True):
    torch.manualSeed(1)
    net = nn.Sequential()
    for i in range(3):
        net.add(nn.Linear(SIZES[i], SIZES[i + 1]))
        net.add(nn.ReLU() if i < 2 else nn.LogSoftMax())
    net.float()
    crit = nn.ClassNLLCriterion().float()
    if not input_grad:
        net.get(0).gradInput = None

    def step():
        net.zeroGradParameters()
        out = net.forward(X)
        crit.forward(out, T)
        net.backward(X, crit.backward(out, T))
        net.updateParameters(0.01)
    return step


def hand_numpy(input_grad=True):
    Ws = [rs.uniform(-.03, .03, (SIZES[i + 1], SIZES[i])).astype(np.float32) for i in range(3)]
    bs = [np.zeros(SIZES[i + 1], np.float32) for i in range(3)]
    gWs = [np.empty_like(w) for w in Ws]
    gbs = [np.empty_like(b) for b in bs]
    hs = [np.empty((B, n), np.float32) for n in SIZES[1:]]       # pre-activations
    acts = [np.empty((B, n), np.float32) for n in SIZES[1:]]     # activations (last: log-probs)
    gouts = [np.empty((B, n), np.float32) for n in SIZES[1:]]
    gin = np.empty((B, SIZES[0]), np.float32)
    tmpW = [np.empty_like(w) for w in Ws]
    mask = [np.empty((B, n), bool) for n in SIZES[1:3]]
    rows = np.arange(B)
    lse = np.empty((B, 1), np.float32)

    def step():
        for g in gWs + gbs:
            g.fill(0)
        a = X
        for i in range(3):
            np.matmul(a, Ws[i].T, out=hs[i]); np.add(hs[i], bs[i], out=hs[i])
            if i < 2:
                np.maximum(hs[i], 0, out=acts[i])
            else:
                h, lp = hs[2], acts[2]
                np.max(h, axis=1, keepdims=True, out=lse)
                np.subtract(h, lse, out=lp)
                np.exp(lp, out=gouts[2]); np.log(gouts[2].sum(1, keepdims=True), out=lse)
                np.subtract(lp, lse, out=lp)
            a = acts[i]
        float(-acts[2][rows, T].mean())                        # the loss
        g = gouts[2]                                            # d loss / d log-probs, through LogSoftMax
        np.exp(acts[2], out=g); g *= 1.0 / B
        g[rows, T] -= 1.0 / B
        for i in (2, 1, 0):
            prev = acts[i - 1] if i else X
            np.matmul(g.T, prev, out=tmpW[i]); gWs[i] += tmpW[i]; gbs[i] += g.sum(0)
            if i:
                gp = gouts[i - 1]
                np.matmul(g, Ws[i], out=gp)
                np.greater(hs[i - 1], 0, out=mask[i - 1]); gp *= mask[i - 1]
                g = gp
            elif input_grad:
                np.matmul(g, Ws[0], out=gin)
        for w, gw, b, gb, t in zip(Ws, gWs, bs, gbs, tmpW):
            np.multiply(gw, 0.01, out=t); w -= t; b -= 0.01 * gb
    return step


def pytorch():
    def layers(pt):
        return [m for i in range(3) for m in (pt.nn.Linear(SIZES[i], SIZES[i + 1]),
                                                pt.nn.ReLU() if i < 2 else pt.nn.LogSoftmax(1))]
    return harness.pytorch_nll_step(layers, X, T, 0.01)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    steps = harness.add_pytorch(harness.add_shared(
        {'hand numpy': hand_numpy(True), 'hand numpy, no dL/dx': hand_numpy(False),
         'luatorch_py': ours(True), 'luatorch_py, no dL/dx': ours(False)}, 'mlp'), pytorch)
    med = harness.medians(steps, n, warmup=3)
    base = harness.base_of(med, 'hand numpy, no dL/dx')
    harness.print_table(f"MLP 784-1024-1024-10 step, batch {B}, float32, ms per iteration (median of 5 interleaved "
                        f"rounds of {n}):", med, list(dict.fromkeys([base, 'hand numpy', 'hand numpy, no dL/dx'])))
    print(harness.goal(f"luatorch_py, no dL/dx vs {base}", med['luatorch_py, no dL/dx'] / med[base], 1.05))


if __name__ == '__main__':
    main()

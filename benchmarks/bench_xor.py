#!/usr/bin/env python3
"""XOR training step (the tutorial's loop): luatorch_py vs a hand-written numpy loop (vs PyTorch if installed).

Prints µs per iteration (median of interleaved rounds) and the ratios.  Goal (issue 10): luatorch_py <= 2.0x the
faster of ../shared/bench/anchors.py's hand step (when it is beside the repository) and this file's hand numpy.
"""
import sys

import numpy as np

import luatorch_py as torch
from luatorch_py import nn

import harness

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], np.float32)
Y = np.array([[0], [1], [1], [0]], np.float32)


def ours():
    torch.manualSeed(1)
    net = nn.Sequential().add(nn.Linear(3, 4)).add(nn.Sigmoid()).add(nn.Linear(4, 1)).add(nn.Sigmoid()).float()
    crit = nn.MSECriterion().float()

    def step():
        net.zeroGradParameters()
        out = net.forward(X)
        crit.forward(out, Y)
        g = crit.backward(out, Y)
        net.backward(X, g)
        net.updateParameters(1)
    return step


def hand_numpy():
    """The best a careful numpy programmer writes: preallocated buffers, out= everywhere."""
    rs = np.random.RandomState(1)
    W1 = rs.uniform(-.5, .5, (4, 3)).astype(np.float32); b1 = rs.uniform(-.5, .5, 4).astype(np.float32)
    W2 = rs.uniform(-.5, .5, (1, 4)).astype(np.float32); b2 = rs.uniform(-.5, .5, 1).astype(np.float32)
    gW1, gb1, gW2, gb2 = (np.empty_like(a) for a in (W1, b1, W2, b2))
    h = np.empty((4, 4), np.float32); a = np.empty((4, 4), np.float32)
    o = np.empty((4, 1), np.float32); y = np.empty((4, 1), np.float32)
    d = np.empty((4, 1), np.float32); go = np.empty((4, 1), np.float32)
    ga = np.empty((4, 4), np.float32); gh = np.empty((4, 4), np.float32)
    t1 = np.empty_like(W1); t2 = np.empty_like(W2)

    def sig(x, out):
        np.negative(x, out=out); np.exp(out, out=out); np.add(out, 1, out=out); np.reciprocal(out, out=out)

    def step():
        gW1.fill(0); gb1.fill(0); gW2.fill(0); gb2.fill(0)
        np.matmul(X, W1.T, out=h); np.add(h, b1, out=h); sig(h, a)
        np.matmul(a, W2.T, out=o); np.add(o, b2, out=o); sig(o, y)
        np.subtract(y, Y, out=d); float(d.ravel() @ d.ravel()) / d.size          # the loss
        np.multiply(d, 2.0 / d.size, out=go)                                     # its gradient
        np.subtract(1, y, out=d); np.multiply(d, y, out=d); np.multiply(d, go, out=d)   # through the sigmoid
        np.matmul(d.T, a, out=t2); np.add(gW2, t2, out=gW2); np.add(gb2, d.sum(0), out=gb2)
        np.matmul(d, W2, out=ga)
        np.subtract(1, a, out=gh); np.multiply(gh, a, out=gh); np.multiply(gh, ga, out=gh)
        np.matmul(gh.T, X, out=t1); np.add(gW1, t1, out=gW1); np.add(gb1, gh.sum(0), out=gb1)
        for p, g in ((W1, gW1), (b1, gb1), (W2, gW2), (b2, gb2)):
            np.subtract(p, g, out=p)
    return step


def pytorch():
    try:
        import torch as pt
    except ImportError:
        return None
    pt.set_num_threads(1)
    pt.manual_seed(1)
    net = pt.nn.Sequential(pt.nn.Linear(3, 4), pt.nn.Sigmoid(), pt.nn.Linear(4, 1), pt.nn.Sigmoid())
    crit = pt.nn.MSELoss()
    x, y = pt.from_numpy(X), pt.from_numpy(Y)
    opt = pt.optim.SGD(net.parameters(), lr=1)

    def step():
        opt.zero_grad()
        loss = crit(net(x), y)
        loss.backward()
        opt.step()
    return step


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    steps = harness.add_pytorch(harness.add_shared({'hand numpy': hand_numpy(), 'luatorch_py': ours()}, 'xor'),
                                pytorch)
    med = harness.medians(steps, n, rounds=7, warmup=200)
    base = harness.base_of(med, 'hand numpy')
    harness.print_table(f"XOR training step, µs per iteration (median of 7 interleaved rounds of {n}):", med,
                        list(dict.fromkeys([base, 'hand numpy'])), unit='µs')
    print(harness.goal(f'luatorch_py vs {base}', med['luatorch_py'] / med[base], 2.0))


if __name__ == '__main__':
    main()

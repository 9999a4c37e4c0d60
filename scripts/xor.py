#!/usr/bin/env python3
"""The 2017 Torch7 tutorial's XOR network, trained as in Lua, printing `error:<loss>` every 200 iterations.

With --seed 1 (the default) it prints the same log as Lua Torch7 running the same script.
"""
import argparse
import sys

import numpy as np

import luatorch_py as torch
from luatorch_py import nn, threads


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--seed', type=int, default=1, help='torch.manualSeed (default 1, as the Lua log)')
    p.add_argument('--iterations', type=int, default=2400)
    p.add_argument('--every', type=int, default=200, help='print the loss every N iterations')
    p.add_argument('--double', action='store_true', help='train in float64 (default: net:float() as the tutorial)')
    p.add_argument('--cuda', action='store_true', help='train on the GPU (needs CuPy and a device)')
    p.add_argument('--threads', type=int, default=threads.available_cores(),
                   help="torch.setnumthreads: numpy's BLAS threads (default: the cores this process may use, "
                        '%(default)s here)')
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error('--threads must be >= 1')
    if args.every < 1:
        p.error('--every must be >= 1')

    torch.setnumthreads(args.threads)
    torch.manualSeed(args.seed)
    net = nn.Sequential()
    net.add(nn.Linear(3, 4))
    net.add(nn.Sigmoid())
    net.add(nn.Linear(4, 1))
    net.add(nn.Sigmoid())
    dtype = np.float64 if args.double else np.float32
    x = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=dtype)
    y = np.array([[0], [1], [1], [0]], dtype=dtype)
    crit = nn.MSECriterion()
    if args.cuda:
        try:
            net.cuda() if not args.double else net.cudaDouble()
        except torch.CudaUnavailableError as e:
            sys.exit(f"xor.py: --cuda: {e}")
        crit.cuda() if not args.double else crit.cudaDouble()
        x, y = torch.Tensor(x).type(net.type()), torch.Tensor(y).type(net.type())
    elif args.double:
        net.double()
        crit.double()
    else:
        net.float()
        crit.float()

    for i in range(args.iterations):
        net.zeroGradParameters()
        output = net.forward(x)
        loss = crit.forward(output, y)
        gradOutput = crit.backward(output, y)
        net.backward(x, gradOutput)
        net.updateParameters(1)
        if i % args.every == 0:
            print("error:" + str(loss), flush=True)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Steady-state memory allocated by a training step (tracemalloc, which sees numpy's array buffers).

For the XOR, MLP and LeNet loops of bench_xor.py / bench_mlp.py / bench_lenet.py, after a warm-up, prints per step:
  transient  the peak of traced memory above its level at the step's start (temporaries made and freed);
  retained   memory still held after 20 more steps than after the warm-up (growth).
Goal: no new arrays in steady state, i.e. transient bytes far below the smallest array of the step and no growth.
The hand-written numpy loops are measured the same way for reference.
"""
import os
import sys
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lenet  # noqa: E402
import bench_mlp  # noqa: E402
import bench_xor  # noqa: E402


def measure(step, n=20, warmup=30):
    for _ in range(warmup):      # buffers, and numpy's own caches (as_strided's, ...), fill in the first steps
        step()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    transient = 0
    for _ in range(n):
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        transient = max(transient, tracemalloc.get_traced_memory()[1] - before)
    retained = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    return transient, retained


def main():
    cases = [('XOR, luatorch_py', bench_xor.ours()), ('XOR, hand numpy', bench_xor.hand_numpy()),
             ('MLP, luatorch_py', bench_mlp.ours()), ('MLP, hand numpy', bench_mlp.hand_numpy(True)),
             ('LeNet, luatorch_py', bench_lenet.ours()), ('LeNet, hand numpy', bench_lenet.hand_numpy(True))]
    print(f"{'loop':20s} {'transient B/step':>18s} {'retained B/20 steps':>20s}")
    for name, step in cases:
        t, r = measure(step)
        print(f"{name:20s} {t:18d} {r:20d}")
    print("(XOR's smallest array is 4 bytes x 1, its activations 64 bytes; the MLP's 10 floats = 40 bytes, its "
          "activations 128x1024x4 = 512 KiB; LeNet's first pooled planes 64x20x12x12x4 = 720 KiB.  A few KiB to "
          "~100 KiB is numpy's: ufunc casting buffers (8192 elements) and scalar results; retained bytes that do not "
          "grow with more steps are numpy's caches)")


if __name__ == '__main__':
    main()

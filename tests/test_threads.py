"""Thread safety (issue 13, F8): two threads training two separate nets get each the numbers of a single-thread
run.  Torch7's rule, kept here: nothing is shared between threads but the global random generator (locked)."""
import os
import struct
import threading

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn, optim
from luatorch_py import tensor_math
from forking import reap


def _train(seed, steps=60, barrier=None):
    """A 64-128-10 MLP trained with optim.sgd (momentum: x.add(-lr, g) goes through tensor_math's scratch)."""
    g = np.random.default_rng(seed)
    net = nn.Sequential().add(nn.Linear(64, 128)).add(nn.Tanh()).add(nn.Linear(128, 10)).add(nn.LogSoftMax())
    for p in net.parameters()[0]:
        p.copy(g.uniform(-0.1, 0.1, p.shape))
    crit = nn.ClassNLLCriterion()
    x = torch.DoubleTensor(g.standard_normal((32, 64)))
    y = torch.LongTensor(g.integers(0, 10, 32))
    w, dw = net.getParameters()
    cfg = {'learningRate': 0.1, 'momentum': 0.9, 'learningRateDecay': 1e-3}
    losses = []
    if barrier is not None:
        barrier.wait()            # both threads step at the same time

    def feval(_):
        dw.zero()
        loss = crit.forward(net.forward(x), y)
        net.backward(x, crit.backward(net.output, y))
        return loss, dw
    for _ in range(steps):
        losses.append(optim.sgd(feval, w, cfg)[1][0])
    return losses, w.clone()


def _two_threads():
    out = {}
    barrier = threading.Barrier(2)
    ts = [threading.Thread(target=lambda s=s: out.__setitem__(s, _train(s, barrier=barrier))) for s in (1, 2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def test_two_threads_train_two_nets_as_one_thread_does():
    want = {s: _train(s) for s in (1, 2)}
    assert want[1][0][-1] < want[1][0][0] - 0.5       # they do train
    for _ in range(10):
        got = _two_threads()
        for s in (1, 2):
            assert got[s][0] == want[s][0]
            assert np.array_equal(got[s][1].numpy(), want[s][1].numpy())


def test_scratch_is_per_thread():
    a = np.zeros((3, 4))
    mine = tensor_math._scratch(a)
    other = []
    t = threading.Thread(target=lambda: other.append(tensor_math._scratch(a)))
    t.start()
    t.join()
    assert other[0] is not mine and tensor_math._scratch(a) is mine


def test_global_generator_is_locked_across_threads():
    """Threads filling tensors from the global stream at once: each fill (drawn by chunks of 2048 words) is one
    contiguous run of the single-thread stream, at a multiple of the fill's size."""
    n, k = 20000, 6
    torch.manualSeed(7)
    single = torch.DoubleTensor(n * k).uniform().numpy()
    torch.manualSeed(7)
    parts = [None] * k
    barrier = threading.Barrier(k)

    def draw(i):
        t = torch.DoubleTensor(n)
        barrier.wait()
        parts[i] = t.uniform().numpy()
    ts = [threading.Thread(target=draw, args=(i,)) for i in range(k)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    starts = sorted(int(np.flatnonzero(single == p[0])[0]) for p in parts)
    assert starts == [i * n for i in range(k)]
    for p in parts:
        j = int(np.flatnonzero(single == p[0])[0])
        assert np.array_equal(p, single[j:j + n])


def _train_conv(seed, steps=2, barrier=None):
    """A small LeNet-like net (convolutions, the fused [ReLU, SpatialMaxPooling] steps, a Linear large enough for
    the lazy zeroGradParameters), trained by hand; its losses and parameters."""
    g = np.random.default_rng(seed)
    net = nn.Sequential()
    net.add(nn.SpatialConvolution(1, 6, 5, 5)).add(nn.ReLU()).add(nn.SpatialMaxPooling(2, 2, 2, 2))
    net.add(nn.SpatialConvolution(6, 8, 3, 3)).add(nn.ReLU()).add(nn.SpatialMaxPooling(2, 2, 2, 2))
    net.add(nn.View(8 * 2 * 2)).add(nn.Linear(32, 2100)).add(nn.Tanh()).add(nn.Linear(2100, 10)).add(nn.LogSoftMax())
    for p in net.parameters()[0]:
        p.copy(g.uniform(-0.1, 0.1, p.shape))
    crit = nn.ClassNLLCriterion()
    x = torch.DoubleTensor(g.standard_normal((16, 1, 16, 16)))
    y = torch.LongTensor(g.integers(0, 10, 16))
    losses, fused = [], []
    if barrier is not None:
        barrier.wait()
    for _ in range(steps):
        net.zeroGradParameters()
        losses.append(crit.forward(net.forward(x), y))
        fused.append(net.get(1).__dict__.get('_out_pending') is not None)
        net.backward(x, crit.backward(net.output, y))
        net.updateParameters(0.05)
    relu = net.get(4).output.clone().numpy()        # a pending ReLU output, written when read
    return losses, fused, relu, [p.clone().numpy() for p in net.parameters()[0]]


def test_threads_training_conv_nets_with_fused_steps_as_one_thread_does(monkeypatch):
    """Four threads each training its own conv net (the fused [ReLU, pooling] forward leaving the ReLU's output
    pending, LazyField fills, lazy zeroed gradients, and the big passes split over backend/parallel.py's workers,
    which one thread at a time gets, the others running theirs whole): every thread's numbers are those of a
    single-thread run, bit for bit."""
    from luatorch_py.backend import parallel
    old, blas = parallel.get_threads(), torch.getnumthreads()
    monkeypatch.setattr(parallel, 'MIN_PART', 1 << 12)      # (small passes split too)
    parallel.set_threads(2)
    torch.setnumthreads(1)      # (products in the callers' threads: no OpenBLAS pool shared by four callers)
    try:
        want = {s: _train_conv(s) for s in range(4)}
        assert all(want[0][1])          # the fused step ran
        got = {}
        barrier = threading.Barrier(4, timeout=60)      # (a thread that fails breaks it: the others end too)
        ts = [threading.Thread(target=lambda s=s: got.__setitem__(s, _train_conv(s, barrier=barrier)))
              for s in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert not any(t.is_alive() for t in ts)
    finally:
        parallel.set_threads(old)
        torch.setnumthreads(blas)
    for s in range(4):
        assert got[s][0] == want[s][0] and got[s][1] == want[s][1]
        assert np.array_equal(got[s][2], want[s][2])
        assert all(np.array_equal(a, b) for a, b in zip(got[s][3], want[s][3]))


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs fork')
@pytest.mark.filterwarnings('ignore:.*fork.*:DeprecationWarning')     # (3.12+: a fork with threads running)
def test_a_child_forked_after_training_trains_as_the_parent():
    """Fork after using the package (as multiprocessing's fork workers do), while another thread trains: the child
    computes the same numbers as the parent and exits.  One BLAS thread: a fork while another thread is inside a
    product of OpenBLAS's thread pool can leave the child spinning in OpenBLAS itself (plain numpy does the same;
    docs/porting.md), which is not what this test is about."""
    blas = torch.getnumthreads()
    torch.setnumthreads(1)
    try:
        _fork_while_training()
    finally:
        torch.setnumthreads(blas)


def _fork_while_training():
    want = _train_conv(5)
    stop = threading.Event()
    busy = threading.Thread(target=lambda: [_train_conv(6, steps=1) for _ in iter(stop.is_set, True)])
    busy.start()
    r, w = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:
            try:
                got = _train_conv(5)
                torch.manualSeed(3)
                os.write(w, b'ok' if got[0] == want[0] and np.array_equal(got[2], want[2]) else b'bad')
                os.write(w, struct.pack('<d', torch.uniform()))
            finally:
                os._exit(0)
    finally:
        stop.set()
        busy.join()
    os.close(w)
    assert reap(pid, 30) == 0
    out = os.read(r, 64)
    torch.manualSeed(3)
    assert out == b'ok' + struct.pack('<d', torch.uniform())

"""Thread safety (issue 13, F8): two threads training two separate nets get each the numbers of a single-thread
run.  Torch7's rule, kept here: nothing is shared between threads but the global random generator (locked)."""
import threading

import numpy as np

import luatorch_py as torch
from luatorch_py import nn, optim
from luatorch_py import tensor_math


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

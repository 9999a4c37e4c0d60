"""Kernel launches, host synchronizations and device allocations of one steady forward + backward of the elementwise
modules on CUDA (transfer functions, BatchNormalization, Dropout: backend/gpu_elementwise.py), counted by the CuPy
stand-in (tests/fakecupy); and a steady step of them captured into a CUDA graph and replayed."""
import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import nn

pytestmark = pytest.mark.gpu

IMG, VEC = (4, 3, 5, 7), (6, 5)

# name -> (constructor, input shape, launches of forward, of backward (updateGradInput + accGradParameters),
#          host synchronizations of the pair)
CASES = {
    'ReLU': (nn.ReLU, IMG, 1, 1, 0),
    'ReLU(inplace)': (lambda: nn.ReLU(True), IMG, 1, 1, 0),
    'Sigmoid': (nn.Sigmoid, VEC, 1, 1, 0),
    'Tanh': (nn.Tanh, VEC, 1, 1, 0),
    'Threshold': (lambda: nn.Threshold(0.5, -1.5), IMG, 1, 1, 0),
    'HardTanh': (nn.HardTanh, IMG, 1, 1, 0),
    'ReLU6(inplace)': (lambda: nn.ReLU6(True), IMG, 1, 1, 0),
    'Clamp': (lambda: nn.Clamp(-0.3, 0.7), IMG, 1, 1, 0),
    'LeakyReLU': (nn.LeakyReLU, IMG, 1, 1, 0),
    'LeakyReLU(2, inplace)': (lambda: nn.LeakyReLU(2, True), IMG, 1, 1, 0),
    'ELU': (nn.ELU, IMG, 1, 1, 0),
    'SoftPlus': (lambda: nn.SoftPlus(2), IMG, 1, 1, 0),
    'SoftSign': (nn.SoftSign, IMG, 1, 1, 0),
    'LogSigmoid': (nn.LogSigmoid, IMG, 1, 1, 0),
    'HardShrink': (nn.HardShrink, IMG, 1, 1, 0),
    'SoftShrink': (nn.SoftShrink, IMG, 1, 1, 0),
    'TanhShrink': (nn.TanhShrink, IMG, 1, 1, 0),
    'Exp': (nn.Exp, IMG, 1, 1, 0),
    'Log': (nn.Log, IMG, 1, 1, 0),
    'Abs': (nn.Abs, IMG, 1, 1, 0),
    'Square': (nn.Square, IMG, 1, 1, 0),
    'Sqrt(0.1)': (lambda: nn.Sqrt(0.1), IMG, 1, 1, 0),
    'Power(3)': (lambda: nn.Power(3), IMG, 1, 1, 0),
    'PReLU': (nn.PReLU, IMG, 1, 2, 0),                       # backward: input gradient + one reduction
    'PReLU(3)': (lambda: nn.PReLU(3), IMG, 1, 2, 0),
    'RReLU(evaluate)': (lambda: nn.RReLU().evaluate(), IMG, 1, 1, 0),
    'RReLU(channel-wise)': (lambda: nn.RReLU(0.1, 0.3, False, True), IMG, 1, 1, 1),   # the draws copied up
    'RReLU': (nn.RReLU, IMG, 3, 1, 2),           # count + scan + scatter; the count read back, the draws copied up
    'BatchNormalization': (lambda: nn.BatchNormalization(5), VEC, 2, 2, 0),
    'BatchNormalization(evaluate)': (lambda: nn.BatchNormalization(5).evaluate(), VEC, 1, 2, 0),
    'SpatialBatchNormalization': (lambda: nn.SpatialBatchNormalization(3), IMG, 2, 2, 0),
    'SpatialBatchNormalization(no affine)': (lambda: nn.SpatialBatchNormalization(3, 1e-5, 0.1, False), IMG, 2, 2, 0),
    'SpatialBatchNormalization(evaluate)': (lambda: nn.SpatialBatchNormalization(3).evaluate(), IMG, 1, 2, 0),
    'Dropout': (lambda: nn.Dropout(0.3), VEC, 1, 1, 1),     # the host draw copied up (Torch7's stream)
    'Dropout(v1, inplace)': (lambda: nn.Dropout(0.3, True, True), IMG, 1, 1, 1),
    'Dropout(evaluate)': (lambda: nn.Dropout(0.3).evaluate(), VEC, 1, 1, 0),
    'SpatialDropout': (lambda: nn.SpatialDropout(0.3), IMG, 1, 1, 1),
}


def counters():
    import cupy
    if not hasattr(cupy, '_counters'):
        pytest.skip('a real CuPy: launches are counted by the stand-in only (tests/fakecupy)')
    return cupy._counters


def cuda(a):
    return torch.FloatTensor(a.astype(np.float32)).cuda()


@pytest.mark.parametrize('name', list(CASES))
def test_steady_forward_backward_launches_no_sync_no_allocation(name):
    make, shape, fwd, bwd, syncs = CASES[name]
    c = counters()
    rng = np.random.default_rng(0)
    x0 = rng.uniform(0.5 if name.startswith(('Log', 'Sqrt')) else -2, 2, shape)
    x, g = cuda(x0), cuda(rng.standard_normal(shape))
    m = make().cuda()
    for _ in range(2):                              # buffers made, kernels compiled
        m.forward(x)
        m.backward(x, g)
    before = dict(c)
    m.forward(x)
    mid = dict(c)
    m.backward(x, g)
    after = dict(c)
    got = (mid['launches'] - before['launches'], after['launches'] - mid['launches'])
    assert got == (fwd, bwd), f'{name}: launches (forward, backward) {got}, expected {(fwd, bwd)}'
    assert after['syncs'] - before['syncs'] == syncs, name
    assert after['allocs'] == before['allocs'], f'{name}: {after["allocs"] - before["allocs"]} allocation(s)'


def test_launches_do_not_grow_with_size():
    """The same counts on a 64-times larger input, with more channels (no loop over windows, planes or batch)."""
    c = counters()
    for make, small, big in ((lambda n: nn.SpatialBatchNormalization(n), (2, 3, 4, 4), (8, 24, 8, 16)),
                             (lambda n: nn.PReLU(n), (2, 3, 4, 4), (8, 24, 8, 16)),
                             (lambda n: nn.Sigmoid(), (3, 5), (24, 40))):
        seen = []
        for shape in (small, big):
            m = make(shape[1]).cuda()
            x, g = cuda(np.random.default_rng(1).standard_normal(shape)), cuda(np.ones(shape))
            m.forward(x)
            m.backward(x, g)
            before = c['launches']
            m.forward(x)
            m.backward(x, g)
            seen.append(c['launches'] - before)
        assert seen[0] == seen[1], seen


def test_a_steady_step_replays_as_a_cuda_graph():
    """Forward + backward through BN, the transfer functions and an inplace ReLU, captured once (no host read,
    no host->device copy, no allocation while capturing), then replayed on new data written into the same input
    tensors: the CPU's results."""
    counters()
    from luatorch_py import cutorch

    def net():
        return [nn.SpatialBatchNormalization(3), nn.ReLU(True), nn.PReLU(3), nn.Sigmoid(), nn.Tanh(), nn.ELU(),
                nn.SoftPlus(), nn.LeakyReLU(), nn.HardTanh(), nn.Dropout(0.3).evaluate()]

    def step(mods, x, g):
        ins = []
        h = x
        for m in mods:
            ins.append(h)
            h = m.forward(h)
        for m, i in zip(reversed(mods), reversed(ins)):
            m.zeroGradParameters()
            g = m.backward(i, g)
        return h, g

    rng = np.random.default_rng(3)
    shape = (4, 3, 5, 6)
    cpu = [m.float() for m in net()]
    gpu = [m.clone().cuda() for m in cpu]
    x, g = cuda(rng.standard_normal(shape)), cuda(rng.standard_normal(shape))
    xk, gk = cuda(np.zeros(shape)), cuda(np.zeros(shape))       # kept copies: ReLU(True) overwrites its input

    def gpu_step():
        xk.copy(x)
        gk.copy(g)
        return step(gpu, xk, gk)

    captured = cutorch.captureStep(gpu_step, inputs=(x, g))
    for k in range(4):                              # 2 eager, capture + launch, replay
        xs, gs = rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)
        x.copy(torch.FloatTensor(xs).cuda())
        g.copy(torch.FloatTensor(gs).cuda())
        y, gi = captured()
        y0, gi0 = step(cpu, torch.FloatTensor(xs.copy()), torch.FloatTensor(gs))
        np.testing.assert_allclose(y.float().numpy(), y0.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(gi.float().numpy(), gi0.numpy(), rtol=1e-4, atol=1e-5)
        for a, b in zip(cpu, gpu):
            for p, q in zip(a.parameters()[1] if a.parameters() else [], b.parameters()[1] if b.parameters() else []):
                np.testing.assert_allclose(q.float().numpy(), p.numpy(), rtol=1e-4, atol=1e-5)
        # (not running_mean: the stand-in runs a step being captured as well as its first launch)
    assert captured.replays == 2

"""luatorch_py.cutorch: Torch7's cutorch calls; without a device they say so clearly."""
import pytest

import luatorch_py as torch
from luatorch_py import backend, cutorch


def test_cutorch_is_torch_cutorch():
    assert torch.cutorch is cutorch


@pytest.mark.skipif(backend.cuda_available(), reason='checks the behaviour without a CUDA device')
def test_without_a_device():
    assert cutorch.isAvailable() is False
    assert cutorch.getDeviceCount() == 0
    for call in (lambda: cutorch.setDevice(0), cutorch.getDevice, cutorch.synchronize, cutorch.getMemoryUsage):
        with pytest.raises(torch.CudaUnavailableError, match=r'pip install luatorch_py\[cuda12\]|no CUDA device'):
            call()


def test_manualSeed_seeds_the_stream_gpu_fills_draw_from():
    torch.manualSeed(7)
    want = [torch.random() for _ in range(3)]
    torch.manualSeed(1)
    cutorch.manualSeed(7)
    assert [torch.random() for _ in range(3)] == want
    cutorch.manualSeedAll(7)
    assert torch.random() == want[0]


def test_seed_and_initialSeed_are_those_of_the_stream_gpu_fills_draw_from():
    s = cutorch.seed()
    assert cutorch.initialSeed() == torch.initialSeed() == s
    want = [torch.random() for _ in range(3)]
    torch.manualSeed(s)
    assert [torch.random() for _ in range(3)] == want
    cutorch.manualSeed(11)
    assert cutorch.initialSeed() == 11
    assert cutorch.seedAll() == cutorch.initialSeed()


@pytest.mark.gpu
def test_with_a_device():
    assert cutorch.isAvailable() and cutorch.getDeviceCount() >= 1
    cutorch.setDevice(0)
    assert cutorch.getDevice() == 0
    x = torch.FloatTensor(3).fill(2).cuda()
    cutorch.synchronize()
    assert x.type() == 'torch.CudaTensor' and x.float().tolist() == [2, 2, 2]
    free, total = cutorch.getMemoryUsage()
    assert isinstance(free, int) and 0 < free <= total
    assert cutorch.getMemoryUsage(0)[1] == total
    with pytest.raises(ValueError, match=r'device index in \[0, \d+\] \(0-based\), got -1'):
        cutorch.setDevice(-1)
    cutorch.manualSeed(3)
    a = torch.CudaTensor(4).uniform().float().tolist()
    torch.manualSeed(3)
    assert torch.FloatTensor(4).uniform().tolist() == a    # GPU fills draw from the CPU stream


@pytest.mark.gpu
def test_device_index_errors_name_the_call_and_numpy_ints_are_taken():
    import numpy as np
    n = cutorch.getDeviceCount()
    with pytest.raises(ValueError, match=rf'cutorch\.setDevice: expected a device index in \[0, {n - 1}\] '
                                         rf'\(0-based\), got {n}'):
        cutorch.setDevice(n)
    with pytest.raises(ValueError, match=r'cutorch\.getMemoryUsage: expected a device index .* got 0\.0'):
        cutorch.getMemoryUsage(0.0)
    cutorch.setDevice(np.int64(0))
    assert cutorch.getDevice() == 0
    assert cutorch.getMemoryUsage(np.int32(0)) == cutorch.getMemoryUsage(0)

import os

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py.data import Batches, load_mnist, minibatches, pixel_stats

N, H, W = 10, 4, 3


@pytest.fixture
def data():
    rng = np.random.RandomState(1)
    images = torch.fromNumpy(rng.randint(0, 256, (N, H, W)).astype(np.uint8))
    labels = torch.fromNumpy(np.arange(N, dtype=np.uint8))  # label == sample index: targets name the samples
    return images, labels


def epoch(batches):
    """Copies of (inputs, targets) of one epoch (the iterator reuses its buffers)."""
    return [(x.numpy().copy(), y.numpy().copy()) for x, y in ((x.cpu(), y.cpu()) for x, y in batches)]


def test_batch_sizes_and_len(data):
    b = Batches(*data, batch_size=4)
    assert len(b) == 3
    assert [y.shape for _, y in epoch(b)] == [(4,), (4,), (2,)]
    d = Batches(*data, batch_size=4, drop_last=True)
    assert len(d) == 2 and [y.shape for _, y in epoch(d)] == [(4,), (4,)]
    assert len(Batches(*data, batch_size=5, drop_last=True)) == 2
    assert [y.shape for _, y in epoch(Batches(*data, batch_size=32))] == [(N,)]


def test_each_sample_once_per_epoch(data):
    b = Batches(*data, batch_size=3)
    for _ in range(3):
        seen = np.concatenate([y for _, y in epoch(b)])
        assert sorted(seen.tolist()) == list(range(N))


def test_shuffle_follows_torch_stream(data):
    torch.manualSeed(123)
    expected = torch.randperm(N).numpy().tolist()
    torch.manualSeed(123)
    b = Batches(*data, batch_size=4)
    first = [y for _, y in epoch(b)]
    assert np.concatenate(first).tolist() == expected
    second = np.concatenate([y for _, y in epoch(b)]).tolist()
    assert second != expected  # a new permutation each epoch
    torch.manualSeed(123)
    again = [y for _, y in epoch(Batches(*data, batch_size=4))]
    assert all((a == b_).all() for a, b_ in zip(first, again))


def test_no_shuffle_in_order(data):
    seen = np.concatenate([y for _, y in epoch(Batches(*data, batch_size=4, shuffle=False))])
    assert seen.tolist() == list(range(N))


@pytest.mark.parametrize('shuffle', [True, False])
def test_normalization_values(data, shuffle):
    images = data[0].numpy()
    for x, y in epoch(Batches(*data, batch_size=4, shuffle=shuffle)):
        assert x.dtype == np.float32 and x.shape == (len(y), 1, H, W)
        np.testing.assert_array_equal(x[:, 0], images[y].astype(np.float32) / np.float32(255))
        assert 0 <= x.min() and x.max() <= 1
    mean, std = 0.1307, 0.3081
    for x, y in epoch(Batches(*data, batch_size=4, shuffle=shuffle, mean=mean, std=std, flatten=True,
                              tensortype='torch.DoubleTensor')):
        assert x.dtype == np.float64 and x.shape == (len(y), H * W)
        np.testing.assert_allclose(x, (images[y].reshape(len(y), -1) / 255.0 - mean) / std, rtol=1e-12)
    for x, y in epoch(Batches(*data, batch_size=4, scale=None)):
        np.testing.assert_array_equal(x[:, 0], images[y])


def test_types_and_buffer_reuse(data):
    b = Batches(*data, batch_size=4, tensortype='torch.DoubleTensor')
    got = list(b)
    assert all(x.type() == 'torch.DoubleTensor' and y.type() == 'torch.LongTensor' for x, y in got)
    assert got[0][0] is got[1][0] and got[0][1] is got[1][1]           # the full batches share one buffer
    assert got[2][0].storage() is got[0][0].storage()                 # so does the last partial one
    assert next(iter(Batches(*data)))[0].type() == 'torch.FloatTensor'


def test_float_source_gathered_directly():
    images = torch.fromNumpy(np.arange(N * 2, dtype=np.float32).reshape(N, 2))
    labels = torch.fromNumpy(np.arange(N))
    for x, y in epoch(Batches(images, labels, batch_size=3, scale=None)):
        np.testing.assert_array_equal(x, images.numpy()[y])


def test_minibatches_generator(data):
    assert sum(len(y) for _, y in minibatches(*data, batch_size=3)) == N


def test_pixel_stats(data):
    m, s = pixel_stats(data[0])
    a = data[0].numpy() / 255.0
    assert m == pytest.approx(a.mean()) and s == pytest.approx(a.std())


def test_errors(data):
    with pytest.raises(ValueError, match='floating type'):
        Batches(*data, tensortype='torch.LongTensor')
    with pytest.raises(ValueError, match='expected labels of size 10'):
        Batches(data[0], torch.fromNumpy(np.zeros(9, np.uint8)))
    with pytest.raises(ValueError, match='batch_size'):
        Batches(*data, batch_size=0)


@pytest.mark.gpu
def test_cuda(data):
    b = Batches(*data, batch_size=4, tensortype='torch.CudaTensor', mean=0.5, std=0.25)
    torch.manualSeed(5)
    got = [(x.type(), y.type()) for x, y in b]
    assert set(got) == {('torch.CudaTensor', 'torch.CudaLongTensor')}
    torch.manualSeed(5)
    gpu = epoch(b)
    torch.manualSeed(5)
    cpu = epoch(Batches(*data, batch_size=4, mean=0.5, std=0.25))
    for (xg, yg), (xc, yc) in zip(gpu, cpu):
        np.testing.assert_array_equal(yg, yc)
        np.testing.assert_allclose(xg, xc, rtol=1e-6)


def test_real_mnist_batches(shared_dir):
    d = os.path.join(shared_dir, 'datasets', 'mnist')
    if not os.path.isdir(d):
        pytest.skip(f"{d} not found: MNIST is absent")
    test = load_mnist(d, 'test')
    b = test.batches(128, shuffle=False, flatten=True)
    assert len(b) == 79
    sizes = []
    for i, (x, y) in enumerate(b):
        if i == 0:
            assert x.size(1) == 784 and y.numpy()[:5].tolist() == [7, 2, 1, 0, 4]
            np.testing.assert_array_equal(x.numpy(), test.images.numpy()[:128].reshape(128, 784) / np.float32(255))
        sizes.append(y.size(0))
    assert sizes[-1] == 10000 - 78 * 128 and sum(sizes) == 10000


def test_empty_dataset():
    b = Batches(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    assert len(b) == 0 and list(b) == []

import functools
import os

import numpy as np
import pytest

from luatorch_py.data import (IDXError, fashion_mnist, load_fashion_mnist, load_mnist, mnist, write_idx)

FOUR = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']


@functools.lru_cache(maxsize=None)
def _real(directory, fashion):
    return fashion_mnist(directory) if fashion else mnist(directory)


def real(shared_dir, name):
    d = os.path.join(shared_dir, 'datasets', name)
    if not os.path.isdir(d):
        pytest.skip(f"{d} not found: the {name} dataset is absent")
    return _real(d, name == 'fashion-mnist')


@pytest.mark.parametrize('name', ['mnist', 'fashion-mnist'])
def test_real_dataset(shared_dir, name):
    train, test = real(shared_dir, name)
    for ds, n in ((train, 60000), (test, 10000)):
        assert ds.images.type() == 'torch.ByteTensor' and ds.labels.type() == 'torch.ByteTensor'
        assert tuple(ds.images.size()) == (n, 28, 28) and tuple(ds.labels.size()) == (n,)
        assert len(ds) == n
        lab = ds.labels.numpy()
        assert lab.min() == 0 and lab.max() == 9
        assert ds.images.numpy().max() == 255
    first = train.labels.numpy()[:5].tolist()
    if name == 'mnist':
        assert first == [5, 0, 4, 1, 9] and test.labels.numpy()[:5].tolist() == [7, 2, 1, 0, 4]
        assert np.bincount(train.labels.numpy()).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                                              5851, 5949]
    else:
        assert first == [9, 0, 0, 3, 0]
        assert np.bincount(train.labels.numpy()).tolist() == [6000] * 10


def write_set(d, n_train=5, n_test=3, gz=True, skip=(), **override):
    d.mkdir(exist_ok=True)
    rng = np.random.RandomState(0)
    arrays = {
        FOUR[0]: rng.randint(0, 256, (n_train, 28, 28)).astype(np.uint8),
        FOUR[1]: rng.randint(0, 10, n_train).astype(np.uint8),
        FOUR[2]: rng.randint(0, 256, (n_test, 28, 28)).astype(np.uint8),
        FOUR[3]: rng.randint(0, 10, n_test).astype(np.uint8),
    }
    arrays.update(override)
    for name, a in arrays.items():
        if name not in skip:
            write_idx(d / (name + ('.gz' if gz else '')), a)
    return arrays


@pytest.mark.parametrize('gz', [True, False])
def test_small_set(tmp_path, gz):
    arrays = write_set(tmp_path, gz=gz)
    train, test = mnist(tmp_path)
    np.testing.assert_array_equal(train.images.numpy(), arrays[FOUR[0]])
    np.testing.assert_array_equal(train.labels.numpy(), arrays[FOUR[1]])
    np.testing.assert_array_equal(test.images.numpy(), arrays[FOUR[2]])
    assert len(load_mnist(tmp_path, 'test')) == 3
    assert len(load_fashion_mnist(tmp_path, 't10k')) == 3


def test_missing_directory_lists_the_four_files(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        mnist(tmp_path / 'absent')
    msg = str(e.value)
    assert str(tmp_path / 'absent') in msg
    assert all(name + '.gz' in msg for name in FOUR)


def test_missing_file(tmp_path):
    write_set(tmp_path, skip=(FOUR[3],))
    load_mnist(tmp_path, 'train')
    with pytest.raises(FileNotFoundError, match='t10k-labels-idx1-ubyte.gz') as e:
        load_fashion_mnist(tmp_path, 'test')
    assert 'Fashion-MNIST test labels' in str(e.value)


def test_count_mismatch(tmp_path):
    write_set(tmp_path, **{FOUR[1]: np.zeros(4, np.uint8)})
    with pytest.raises(IDXError, match='holds 5 images but train-labels-idx1-ubyte.gz holds 4 labels'):
        load_mnist(tmp_path)


@pytest.mark.parametrize('name,bad,pattern', [
    (FOUR[0], np.zeros((5, 27, 28), np.uint8), 'expected MNIST images: ubyte IDX of N x 28 x 28 .* found '
                                               'torch.ByteTensor 5x27x28'),
    (FOUR[0], np.zeros((5, 28, 28), np.int16), 'found torch.ShortTensor 5x28x28'),
    (FOUR[1], np.zeros((5, 1), np.uint8), 'expected MNIST labels: ubyte IDX of N .* found torch.ByteTensor 5x1'),
    (FOUR[1], np.full(5, 10, np.uint8), 'labels 0..9, found 10'),
])
def test_wrong_content(tmp_path, name, bad, pattern):
    write_set(tmp_path, **{name: bad})
    with pytest.raises(IDXError, match=pattern) as e:
        load_mnist(tmp_path)
    assert name in str(e.value)


def test_directory_in_place_of_a_file(tmp_path):
    write_set(tmp_path, skip=(FOUR[0],))
    (tmp_path / (FOUR[0] + '.gz')).mkdir()
    with pytest.raises(IDXError, match='train-images-idx3-ubyte.gz: is a directory: expected the MNIST train '
                                       'images IDX file') as e:
        load_mnist(tmp_path)
    assert str(tmp_path) in str(e.value)
    write_idx(tmp_path / FOUR[0], np.ones((5, 28, 28), np.uint8))     # the name without .gz is still found
    assert load_mnist(tmp_path).images.numpy().sum() == 5 * 784


def test_malformed_file_named(tmp_path):
    write_set(tmp_path)
    (tmp_path / (FOUR[2] + '.gz')).write_bytes(b'\x00\x00\x08\x03garbage')
    with pytest.raises(IDXError, match='t10k-images-idx3-ubyte.gz: truncated IDX header'):
        load_mnist(tmp_path, 'test')


def test_bad_split(tmp_path):
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_mnist(tmp_path, 'valid')

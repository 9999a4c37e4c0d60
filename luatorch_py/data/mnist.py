"""MNIST and Fashion-MNIST from their four standard IDX files (gzip or not)."""
import os
from collections import namedtuple

from ..tensor import _sizestr
from .idx import IDXError, read_idx

FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
_ALL = ', '.join(f"{n}.gz" for pair in FILES.values() for n in pair)

Splits = namedtuple('Splits', 'train test')
Splits.__doc__ = "The train and test Datasets of MNIST or Fashion-MNIST (``train, test = mnist(dir)`` works)."


class Dataset:
    """``images`` (ByteTensor N x 28 x 28, pixels 0..255) and ``labels`` (ByteTensor N, classes 0..9)."""
    __slots__ = ('images', 'labels', 'name')

    def __init__(self, images, labels, name=''):
        self.images, self.labels, self.name = images, labels, name

    def __len__(self):
        return self.labels._a.shape[0]

    size = __len__

    def batches(self, batch_size=128, **options):
        """A ``Batches`` iterator over this dataset (options as ``Batches``)."""
        from .batches import Batches
        return Batches(self.images, self.labels, batch_size, **options)

    def __repr__(self):
        return (f"Dataset({self.name}: images {self.images.type()} {_sizestr(self.images._a.shape)}, "
                f"labels {self.labels.type()} {_sizestr(self.labels._a.shape)})")


def _find(directory, base, what, dataset):
    for name in (base + '.gz', base):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    for name in (base + '.gz', base):     # there but a directory: "not found" would contradict what ls shows
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            raise IDXError(f"{path}: is a directory: expected the {dataset} {what} IDX file")
    raise FileNotFoundError(f"{dataset} {what} not found in {directory}: expected {base}.gz (or {base})")


def _check(t, path, dataset, what, ndim, tail, magic):
    shape = t._a.shape
    if t.type() != 'torch.ByteTensor' or len(shape) != ndim or shape[1:] != tail:
        want = ' x '.join(['N', *map(str, tail)])
        raise IDXError(f"{path}: expected {dataset} {what}: ubyte IDX of {want} (magic {magic}), found "
                       f"{t.type()} {_sizestr(shape)}")


def load_mnist(directory, split='train', dataset='MNIST'):
    """The ``split`` ('train' or 't10k'/'test') of MNIST in ``directory`` as a Dataset.

    Reads ``train-images-idx3-ubyte.gz`` / ``train-labels-idx1-ubyte.gz`` or ``t10k-...`` (the names without .gz
    also work).  Raises FileNotFoundError for a missing directory or file, IDXError for a malformed one.
    """
    key = 'test' if split == 't10k' else split
    if key not in FILES:
        raise ValueError(f"load_mnist: split must be 'train' or 'test', got {split!r}")
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{dataset} directory {directory} not found: expected a directory holding {_ALL} "
                                f"(or the same names without .gz)")
    img_path = _find(directory, FILES[key][0], f"{key} images", dataset)
    lab_path = _find(directory, FILES[key][1], f"{key} labels", dataset)
    images, labels = read_idx(img_path), read_idx(lab_path)
    _check(images, img_path, dataset, 'images', 3, (28, 28), '0x00000803')
    _check(labels, lab_path, dataset, 'labels', 1, (), '0x00000801')
    n, m = images._a.shape[0], labels._a.shape[0]
    if n != m:
        raise IDXError(f"{directory}: {os.path.basename(img_path)} holds {n} images but "
                       f"{os.path.basename(lab_path)} holds {m} labels: expected the same count")
    if m and int(labels._a.max()) > 9:
        raise IDXError(f"{lab_path}: expected {dataset} labels 0..9, found {int(labels._a.max())}")
    return Dataset(images, labels, f"{dataset} {key}")


def mnist(directory, dataset='MNIST'):
    """Splits(train, test) of MNIST in ``directory`` (see load_mnist)."""
    return Splits(load_mnist(directory, 'train', dataset), load_mnist(directory, 'test', dataset))


def load_fashion_mnist(directory, split='train'):
    """Fashion-MNIST (same files and format as MNIST)."""
    return load_mnist(directory, split, 'Fashion-MNIST')


def fashion_mnist(directory):
    return mnist(directory, 'Fashion-MNIST')

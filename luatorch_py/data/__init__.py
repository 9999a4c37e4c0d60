"""Data loading: IDX files, MNIST / Fashion-MNIST, and minibatch iteration (see docs/data.md)."""
from .idx import IDXError, read_idx, write_idx
from .mnist import Dataset, Splits, load_mnist, mnist, load_fashion_mnist, fashion_mnist
from .batches import Batches, minibatches, pixel_stats

__all__ = ['IDXError', 'read_idx', 'write_idx', 'Dataset', 'Splits', 'load_mnist', 'mnist', 'load_fashion_mnist',
           'fashion_mnist', 'Batches', 'minibatches', 'pixel_stats']

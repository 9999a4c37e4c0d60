"""Minibatches over (images, labels), Torch7 style: preallocated batch tensors refilled on each step."""
import numpy as np

from .. import backend
from .. import random as _random
from ..tensor import Tensor, _sizestr
from ..types import TYPES, on_device, type_info


def _array(x, what):
    if isinstance(x, Tensor):
        return x._a
    if isinstance(x, np.ndarray) or backend.is_cuda_array(x):
        return x
    raise TypeError(f"Batches: expected {what} as a tensor or array, got {type(x).__name__}")


def _take(xp, src, idx, out):
    if xp is np:
        np.take(src, idx, axis=0, out=out, mode='clip')  # 'clip': no internal output buffer (indices are valid)
    else:
        xp.take(src, idx, axis=0, out=out)


def pixel_stats(images, scale=255.0):
    """(mean, std) of all pixels of ``images`` divided by ``scale``: the values for Batches(mean=, std=).
    Compute them on the training set and use them for the test set too."""
    a = _array(images, 'images')
    xp = backend.array_module(a)
    x = a.astype(np.float64) / scale
    return float(xp.mean(x)), float(xp.std(x))


class Batches:
    """Iterate over (inputs, targets) minibatches of ``images`` (N x ...) and ``labels`` (N).

    - ``shuffle``: each epoch (each ``iter()``) visits the samples in the order of a permutation drawn from the
      global Torch7 stream (``torch.manualSeed`` makes it reproducible); else in order.
    - ``drop_last``: leave out the last batch when it has fewer than ``batch_size`` samples (default: keep it).
    - ``pad_last``: a class index (e.g. -100, ClassNLLCriterion's ``ignoreIndex``): the last partial batch comes at
      full size, its extra rows' targets set to that index (so they count for nothing in the loss and gradients)
      and their inputs left as they were.  Every batch then has one shape and the same buffers: what a captured
      training step (cutorch.captureStep) needs.  ``last_size`` says how many rows of the last batch are real.
    - inputs: a tensor of ``tensortype`` ('torch.FloatTensor', 'torch.DoubleTensor', 'torch.CudaTensor', ...),
      ``images / scale`` (``scale=None``: no division), then ``(x - mean) / std`` when given; shaped B x 784 with
      ``flatten=True``, else B x 1 x 28 x 28 (a channel dim is added to 2-D samples).
    - targets: the labels as 0-based class indices, int64 on the inputs' device (LongTensor or CudaLongTensor).

    The returned tensors are buffers owned by the iterator and refilled on the next step (as in Torch7 code):
    use or copy them before asking for the next batch.  The last partial batch is a view of the same buffers.
    The data is moved to the device of ``tensortype`` once, here.  ``len()`` is the number of batches per epoch.
    """

    def __init__(self, images, labels, batch_size=128, shuffle=True, drop_last=False,
                 tensortype='torch.FloatTensor', flatten=False, scale=255.0, mean=None, std=None, pad_last=None):
        info = type_info(tensortype)
        if not info.is_floating:
            raise ValueError(f"Batches: tensortype must be a floating type ('torch.FloatTensor', "
                             f"'torch.DoubleTensor', 'torch.CudaTensor', ...), got {tensortype!r}")
        img, lab = _array(images, 'images'), _array(labels, 'labels')
        if img.ndim < 2:
            raise ValueError(f"Batches: expected images of N x ... (2 or more dims), got {_sizestr(img.shape)}")
        n = img.shape[0]
        if lab.ndim != 1 or lab.shape[0] != n:
            raise ValueError(f"Batches: expected labels of size {n} (one per image), got {_sizestr(lab.shape)}")
        if int(batch_size) < 1:
            raise ValueError(f"Batches: batch_size must be >= 1, got {batch_size}")
        if std is not None and not std > 0:
            raise ValueError(f"Batches: std must be > 0, got {std}")
        self.n, self.batch_size = n, int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.info = info
        linfo = on_device(TYPES['torch.LongTensor'], info.cuda)
        xp = self._xp = info.xp
        dt = info.dtype.type
        self._scale = None if scale is None else dt(scale)
        self._mean = None if mean is None else dt(mean)
        self._std = None if std is None else dt(std)
        self._src = backend.to_device(img, info.cuda)             # no copy for a CPU tensor when tensortype is CPU
        self._labels = backend.to_device(lab, info.cuda).astype(np.int64)
        sample = img.shape[1:]
        out = (int(np.prod(sample)),) if flatten else (1, *sample) if len(sample) == 2 else sample
        rows = min(self.batch_size, n)
        self._direct = scale is None and mean is None and std is None and self._src.dtype == info.dtype
        self._raw = None if self._direct else xp.empty((rows, *sample), dtype=self._src.dtype)
        self._x = info.tensor_class._from_array(info.empty((rows, *out)))
        self._y = linfo.tensor_class._from_array(linfo.empty((rows,)))
        last = n % self.batch_size if n > self.batch_size else 0
        self.last_size = last or rows
        if pad_last is not None and (isinstance(pad_last, bool) or not isinstance(pad_last, (int, np.integer))):
            raise TypeError(f"Batches: pad_last must be a class index (an int, e.g. -100), got {pad_last!r}")
        self._pad = None if pad_last is None else int(pad_last)
        self._last = (self._x.narrow(0, 0, last), self._y.narrow(0, 0, last)) if last else None

    def __len__(self):
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def __iter__(self):
        xp, n, bs = self._xp, self.n, self.batch_size
        order = xp.asarray(_random._default.randperm(n)) if self.shuffle and n else None
        for k in range(len(self)):
            s = k * bs
            m = min(bs, n - s)
            x, y = (self._x, self._y) if m == self._x._a.shape[0] else self._last
            if x is not self._x and self._pad is not None:
                self._y._a[m:] = self._pad
                x, y = self._x, self._y
            self._fill(x, y, s, m, order)
            yield x, y

    def _fill(self, x, y, s, m, order):
        """The first m rows of x and y: samples s..s+m-1 of the epoch's ``order`` (None: in stored order)."""
        xp = self._xp
        xa = x._a[:m]
        raw = xa.reshape(m, *self._src.shape[1:]) if self._direct else self._raw[:m]
        if order is None:
            raw[...] = self._src[s:s + m]
            y._a[:m] = self._labels[s:s + m]
        else:
            idx = order[s:s + m]
            _take(xp, self._src, idx, raw)
            _take(xp, self._labels, idx, y._a[:m])
        if not self._direct:
            src = raw.reshape(xa.shape)
            if self._scale is not None:
                xp.divide(src, self._scale, out=xa)
            else:
                xa[...] = src
            if self._mean is not None:
                xp.subtract(xa, self._mean, out=xa)
            if self._std is not None:
                xp.divide(xa, self._std, out=xa)

    def __repr__(self):
        return (f"Batches({self.n} samples, {len(self)} batches of {self.batch_size}, {self.info.name}"
                f"{', shuffled' if self.shuffle else ''})")


def minibatches(images, labels, batch_size=128, **options):
    """One epoch of ``Batches(images, labels, batch_size, **options)`` as a generator."""
    return iter(Batches(images, labels, batch_size, **options))

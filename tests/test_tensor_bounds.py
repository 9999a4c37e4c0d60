"""Geometry that would read outside a storage (issue 13, F1 and F2)."""
import numpy as np
import pytest

import luatorch_py as torch


@pytest.mark.parametrize('make, stride', [
    (lambda s: torch.DoubleTensor(s, 0, (5,), (-1,)), (1,)),
    (lambda s: torch.DoubleTensor().set(s, 0, (100000,), (-1000,)), (1,)),
    (lambda s: torch.DoubleTensor(s, 0, (2, 2), (0, -1)), (0, 1)),
    (lambda s: torch.DoubleTensor(s, 2, torch.LongStorage([2]), torch.LongStorage([-1])), (1,)),
])
def test_negative_strides_are_read_as_contiguous(make, stride):
    """Torch7's rule (tensor.md; TH's resizeNd): a negative stride is the contiguous one, so nothing is read before
    the view's offset (issue 13, F1); the storage grows to what the view needs."""
    s = torch.DoubleStorage([1, 2, 3])
    t = make(s)
    assert tuple(t.stride()) == stride and t.storage() is s
    assert t.storageOffset() + sum((n - 1) * st for n, st in zip(t.size(), t.stride())) < len(s)
    assert s.tolist()[:3] == [1, 2, 3]


def test_zero_and_positive_strides_still_view_the_storage():
    s = torch.DoubleStorage([1, 2, 3, 4])
    assert torch.DoubleTensor(s, 1, (2, 2), (0, 2)).tolist() == [[2, 4], [2, 4]]
    t = torch.DoubleTensor(s, 2, (3,), (1,))      # reaches past the end: the storage grows (Torch7)
    assert len(s) == 5 and t.storageOffset() == 2


def test_unfold_refuses_a_negative_size():
    with pytest.raises(ValueError, match='unfold'):
        torch.DoubleTensor(4).unfold(0, -1, 1)


def test_views_of_a_shrunk_storage_stay_valid():
    s = torch.DoubleStorage(200_000)
    s.fill(1)
    t = torch.DoubleTensor(s, 100_000, (100_000,))
    head = torch.DoubleTensor(s, 0, (5,))
    s.resize(10)
    assert len(s) == 10
    # t no longer fits: it keeps the old buffer as a storage of its own, with the same offset and values
    assert t.storageOffset() == 100_000 and len(t.storage()) == 200_000
    assert t.unfold(0, 2, 1).sum() == 2 * 99_999
    assert t.expand(3, 100_000).sum() == 300_000
    assert t.sum() == 100_000
    assert t.narrow(0, 10, 5).storageOffset() == 100_010
    # head still fits: it keeps sharing with s
    head.fill(7)
    assert head.storage() is s and s.tolist()[:6] == [7, 7, 7, 7, 7, 1]
    # the detached view no longer writes into s
    t.fill(3)
    assert s.tolist()[5:] == [1] * 5


def test_growing_a_storage_keeps_every_view_shared():
    s = torch.DoubleStorage([1, 2, 3])
    t = torch.DoubleTensor(s, 1, (2,))
    s.resize(100)
    t.fill(5)
    assert s.tolist()[:3] == [1, 5, 5] and t.storageOffset() == 1

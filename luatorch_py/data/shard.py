"""Minibatches sharded across the ranks of a data-parallel job (luatorch_py.distributed)."""
from .. import random as _random
from .batches import Batches


class ShardedBatches(Batches):
    """This rank's part of ``Batches(images, labels, batch_size, ...)``: ``batch_size`` is the GLOBAL batch, split
    across the ranks, so that a job of N ranks takes the steps a single process would take with the same
    ``batch_size`` (learning rate, momentum and the rest keep their meaning).

    Each epoch, the order is a permutation of all samples drawn from the global Torch7 stream (as Batches does) and,
    in a distributed job, broadcast from rank 0, so every rank uses the same one whatever its seed; global batch k
    is samples k*batch_size .. of that order, and rank r takes rows [r*m//N, (r+1)*m//N) of its m rows: the shards
    are disjoint and cover every sample once per epoch.  An uneven last batch is split the same way; when it has
    fewer rows than there are ranks, the ranks without a row get ``(None, None)`` (their ``count`` is 0).

    After each step of the iteration, ``count`` is this rank's number of rows and ``total`` the global batch's:
    pass them to ``distributed.allreduceGradients(grads, count, total)``.  ``rank``/``size`` default to those of
    ``distributed.init()``; given explicitly (e.g. to look at one shard in a single process), the order is not
    broadcast and every rank must seed the global stream alike.  ``len()`` is the number of global batches, the
    same on every rank.  Other options as Batches (``pad_last`` is not supported here).
    """

    def __init__(self, images, labels, batch_size=128, shuffle=True, drop_last=False, rank=None, size=None,
                 **options):
        if options.get('pad_last') is not None:
            raise TypeError("ShardedBatches: pad_last is not supported (the shards of the last batch differ in size)")
        self._dist = rank is None and size is None
        if self._dist:
            from .. import distributed
            distributed.init()
            rank, size = distributed.rank(), distributed.size()
        elif rank is None or size is None:
            raise ValueError(f"ShardedBatches: give both rank and size, or neither; got rank={rank!r}, size={size!r}")
        size, rank = int(size), int(rank)
        if size < 1 or not 0 <= rank < size:
            raise ValueError(f"ShardedBatches: expected 0 <= rank < size, got rank {rank}, size {size}")
        if int(batch_size) < 1:
            raise ValueError(f"ShardedBatches: batch_size must be >= 1, got {batch_size}")
        # the buffers hold the largest shard: ceil(batch / size) rows
        super().__init__(images, labels, -(-int(batch_size) // size), shuffle, drop_last, **options)
        self.batch_size, self.rank, self.size = int(batch_size), rank, size
        self.count = self.total = 0

    def __iter__(self):
        xp, n, bs, r, size = self._xp, self.n, self.batch_size, self.rank, self.size
        order = None
        if self.shuffle and n:
            perm = _random._default.randperm(n)
            if self._dist:
                from .. import distributed
                distributed.broadcast(perm)
            order = xp.asarray(perm)
        for k in range(len(self)):
            s = k * bs
            m = min(bs, n - s)
            lo, hi = r * m // size, (r + 1) * m // size
            self.count, self.total = hi - lo, m
            if hi == lo:
                yield None, None
                continue
            if hi - lo == self._x._a.shape[0]:
                x, y = self._x, self._y
            else:
                x, y = self._x.narrow(0, 0, hi - lo), self._y.narrow(0, 0, hi - lo)
            self._fill(x, y, s + lo, hi - lo, order)
            yield x, y

    def __repr__(self):
        return (f"ShardedBatches({self.n} samples, {len(self)} batches of {self.batch_size}, rank {self.rank} of "
                f"{self.size}, {self.info.name}{', shuffled' if self.shuffle else ''})")

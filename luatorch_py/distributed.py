"""Data-parallel training over MPI (mpi4py), with NCCL between GPUs (cupy.cuda.nccl).  See docs/distributed.md.

Every rank holds the same net; each computes the gradient of its shard of the global batch, and one allreduce of the
flat gradient of ``getParameters()`` per step makes every rank's update identical::

    from luatorch_py import distributed as dist
    dist.init()                                   # size 1 without mpirun
    params, grads = net.getParameters()
    dist.broadcast(params)                        # rank 0's initial weights everywhere, whatever the seeds
    for x, y in ShardedBatches(images, labels, 64):   # 64 = the global batch, split across the ranks
        ... forward/backward on (x, y) ...
        dist.allreduceGradients(grads, batches.count, batches.total)

Host tensors go through MPI; CUDA tensors through NCCL when CuPy has it and each rank has its own device, else
through host memory and MPI.  A rank that raises prints its traceback and ends the whole job (MPI_Abort); a rank
that waits more than ``timeout`` seconds in a collective of host tensors does the same.
"""
import builtins
import os
import sys
import time
import traceback

import numpy as np

from . import backend
from .tensor import Tensor

# environment variables a launcher sets: if one says size > 1 and MPI is missing, that is an error, not size 1
_LAUNCHER_SIZE_VARS = ('PMI_SIZE', 'OMPI_COMM_WORLD_SIZE', 'MPI_LOCALNRANKS', 'PMIX_SIZE')
_OPS = ('sum', 'max', 'min')


class DistributedError(RuntimeError):
    """MPI could not start, or a collective was misused."""


class _World:
    def __init__(self, comm, mpi, timeout):
        self.comm, self.MPI, self.timeout = comm, mpi, timeout
        self.rank = comm.Get_rank() if comm is not None else 0
        self.size = comm.Get_size() if comm is not None else 1
        self.localRank = 0
        if comm is not None and self.size > 1:
            node = comm.Split_type(mpi.COMM_TYPE_SHARED, key=self.rank)
            self.localRank = node.Get_rank()
            node.Free()
        self.nccl = None                # decided collectively at the first CUDA collective


_world = None


def _launched_size():
    for v in _LAUNCHER_SIZE_VARS:
        try:
            return int(os.environ[v]), v
        except (KeyError, ValueError):
            pass
    return 1, None


def init(timeout=600.0):
    """Start MPI (once; later calls return at once) and return ``(rank, size)``.

    Without mpirun (or without mpi4py, when no launcher asked for more than one rank) the job is one rank of size 1
    and every collective is a no-op.  ``timeout`` (seconds, None for none): the longest a rank waits in a collective
    of host tensors before it ends the job, saying so (it catches a rank that hangs or left early).  With more than
    one rank, an uncaught exception on any rank prints that rank's traceback to stderr and aborts every rank.
    Raises DistributedError when mpi4py is installed but its MPI library cannot start, or when a launcher asked for
    several ranks and mpi4py is missing."""
    global _world
    if _world is not None:
        return _world.rank, _world.size
    if timeout is not None and not timeout > 0:
        raise ValueError(f"distributed.init: timeout must be > 0 seconds or None, got {timeout!r}")
    want, var = _launched_size()
    try:
        from mpi4py import MPI
    except ImportError as e:
        if want > 1:
            raise DistributedError(f"distributed.init: the launcher asked for {want} ranks ({var}={want}) but "
                                   f"mpi4py is not installed ({e}): pip install mpi4py mpich") from None
        _world = _World(None, None, timeout)
        return 0, 1
    except Exception as e:          # mpi4py raises RuntimeError when libmpi is missing or MPI_Init fails
        raise DistributedError(f"distributed.init: MPI could not start: {e}\n(mpi4py is installed but not the MPI "
                               f"library it needs: pip install mpich, or point MPI4PY_LIBMPI at your libmpi)") from e
    _world = _World(MPI.COMM_WORLD, MPI, timeout)
    if _world.size > 1:
        sys.excepthook = _abort_on_exception
    return _world.rank, _world.size


def _get():
    if _world is None:
        raise DistributedError("distributed: call distributed.init() first")
    return _world


def rank():
    """This process's rank, 0..size()-1."""
    return _get().rank


def size():
    """The number of ranks."""
    return _get().size


def localRank():
    """This process's rank among the ranks on its machine (to choose its GPU: cutorch.setDevice(localRank()))."""
    return _get().localRank


def isRoot():
    """Whether this is rank 0, the one that prints and saves."""
    return _get().rank == 0


def abort(message, code=1, _before=''):
    """Print ``message`` (with this rank's number) to stderr and end every rank of the job."""
    w = _world
    sys.stdout.flush()
    where = f"rank {w.rank} of {w.size}" if w is not None else "rank ?"
    sys.stderr.write(f"{_before}luatorch_py.distributed: {where}: {message}\n")     # one write: one piece
    sys.stderr.flush()
    if w is not None and w.comm is not None:
        time.sleep(0.5)     # let mpirun forward the text: MPI_Abort's kill can cut what is still in the pipe
        _unlink_mpich_shm()
        w.comm.Abort(code)
    sys.exit(code)


def _unlink_mpich_shm():
    """MPI_Abort skips MPICH's cleanup, which would leave the job's shared-memory segment (/dev/shm/mpich_shm_*,
    2 MiB of RAM) behind after every aborted job: unlink the ones this rank has mapped (Linux; the ranks keep their
    mappings, and the job ends anyway)."""
    try:
        with open('/proc/self/maps') as f:
            paths = {line.split()[-1] for line in f if '/dev/shm/mpich_' in line and '(deleted)' not in line}
    except OSError:
        return
    for path in paths:
        try:
            os.unlink(path)
        except OSError:     # another rank of this machine unlinked it first
            pass


def _abort_on_exception(tp, value, tb):
    abort(f"raised {tp.__name__}: {value}; ending the job", _before=''.join(traceback.format_exception(tp, value, tb)))


# -- collectives ---------------------------------------------------------------------------------------------------
def _array(t, what):
    a = t._a if isinstance(t, Tensor) else t
    if not (isinstance(a, np.ndarray) or backend.is_cuda_array(a)):
        raise TypeError(f"distributed.{what}: expected a tensor or an array, got {type(t).__name__}")
    if not a.flags.c_contiguous:
        raise ValueError(f"distributed.{what}: expected a contiguous tensor (e.g. getParameters()'s flat vectors), "
                         f"got strides {a.strides} for shape {tuple(a.shape)}")
    return a


def _wait(w, req, what):
    """Wait for a non-blocking MPI request, at most w.timeout seconds (then end the job, saying which call)."""
    if w.timeout is None:
        req.Wait()
        return
    deadline = None
    spins = 0
    while not req.Test():
        spins += 1
        if spins > 1000:        # the partner is busy computing: stop burning a core the BLAS threads may want
            time.sleep(1e-4)
            now = time.monotonic()
            if deadline is None:
                deadline = now + w.timeout
            elif now > deadline:
                abort(f"{what} waited more than {w.timeout:g} s for the other ranks (one hangs, died or left "
                      f"early); ending the job")


def _use_nccl(w):
    """Whether CUDA collectives go through NCCL: all ranks must agree, and NCCL needs one device per rank."""
    if w.nccl is not None:
        return w.nccl
    cp = backend.cupy()
    ok = True
    try:
        from cupy.cuda import nccl
        if not getattr(cp.cuda, 'nccl_enabled', True):
            ok = False
    except Exception:
        ok, nccl = False, None
    where = (os.uname().nodename, cp.cuda.runtime.getDevice() if ok else -1)
    places = w.comm.allgather(where)
    ok = all(p[1] >= 0 for p in places) and len(set(places)) == len(places)   # no two ranks on one device
    if ok:
        uid = nccl.get_unique_id() if w.rank == 0 else None
        uid = w.comm.bcast(uid, root=0)
        w.nccl = (nccl, nccl.NcclCommunicator(w.size, uid, w.rank))
    else:
        w.nccl = False
    return w.nccl


_NCCL_TYPES = {'float32': 'NCCL_FLOAT32', 'float64': 'NCCL_FLOAT64', 'float16': 'NCCL_FLOAT16',
               'int64': 'NCCL_INT64', 'int32': 'NCCL_INT32', 'uint8': 'NCCL_UINT8', 'int8': 'NCCL_INT8'}


def _nccl_args(nccl, a, op=None):
    dt = getattr(nccl, _NCCL_TYPES[a.dtype.name])
    stream = backend.cupy().cuda.get_current_stream().ptr
    return dt, stream, (None if op is None else getattr(nccl, 'NCCL_' + op.upper()))


def _mpi_op(w, op):
    if op not in _OPS:
        raise ValueError(f"distributed.allreduce: op must be one of {_OPS}, got {op!r}")
    return {'sum': w.MPI.SUM, 'max': w.MPI.MAX, 'min': w.MPI.MIN}[op]


_CALLS = ('allreduce', 'broadcast', 'allreduceScalars', 'allreduceConfusion', 'barrier')
_WITH_OP = ('allreduce', 'allreduceScalars')


def _agree(w, what, a=None, detail=0):
    """Check that every rank is in the same collective (``what``, with the same op or root ``detail``) over the same
    element count, type and device kind, and raise DistributedError on every rank at once when not: MPI itself would
    mix arrays of other sizes or types into silent garbage, or wait forever.  One small allgather (it also
    synchronizes, as a barrier does)."""
    mine = np.array([_CALLS.index(what), detail, -1 if a is None else a.size,
                     0 if a is None else ord(a.dtype.char), a is not None and backend.is_cuda_array(a)], np.int64)
    every = np.empty((w.size, mine.size), np.int64)
    _wait(w, w.comm.Iallgather(mine, every), what)
    if (every == mine).all():
        return

    def describe(call, det, n, dt, cuda):
        name = _CALLS[call]
        data = '' if n < 0 else f" of {n} {np.dtype(chr(dt)).name}{' on CUDA' if cuda else ''}"
        arg = f" (root {det})" if name == 'broadcast' else f" (op {_OPS[det]!r})" if name in _WITH_OP else ''
        return name + data + arg
    ranks = '; '.join(f"rank {r}: {describe(*row)}" for r, row in enumerate(every.tolist()))
    raise DistributedError(f"distributed.{what}: expected every rank in the same collective over tensors of the "
                           f"same size, type and device (the same net on every rank), got {ranks}")


def _collective(w, a, what, on_device, start):
    """Run one in-place collective over ``a``: a CUDA array through NCCL (``on_device(nccl, comm)``) when every rank
    has its own device, else through MPI (``start(buf)`` returns the non-blocking request), a CUDA array staged
    through host memory."""
    if backend.is_cuda_array(a):
        nc = _use_nccl(w)
        if nc:
            on_device(*nc)
            return
        host = backend.to_numpy(a)
        _wait(w, start(host), what)
        a[...] = backend.cupy().asarray(host)
        return
    _wait(w, start(a), what)


def allreduce(t, op='sum'):
    """In place: every rank's ``t`` becomes the elementwise ``op`` ('sum', 'max', 'min') of all ranks' ``t``.
    Host tensors: MPI.  CUDA tensors: NCCL on the current stream, or staged through host memory."""
    w = _get()
    a = _array(t, 'allreduce')
    if op not in _OPS:
        raise ValueError(f"distributed.allreduce: op must be one of {_OPS}, got {op!r}")
    if w.size == 1:
        return t
    _agree(w, 'allreduce', a, _OPS.index(op))
    if a.size == 0:
        return t

    def on_device(nccl, comm):
        dt, stream, nop = _nccl_args(nccl, a, op)
        comm.allReduce(a.data.ptr, a.data.ptr, a.size, dt, nop, stream)
    _collective(w, a, 'allreduce', on_device, lambda buf: w.comm.Iallreduce(w.MPI.IN_PLACE, buf, op=_mpi_op(w, op)))
    return t


def broadcast(t, root=0):
    """In place: every rank's ``t`` becomes rank ``root``'s (e.g. the initial flat parameters, so that every rank
    starts from the same weights whatever its seed)."""
    w = _get()
    a = _array(t, 'broadcast')
    if not 0 <= root < w.size:
        raise ValueError(f"distributed.broadcast: root must be a rank in [0, {w.size - 1}], got {root!r}")
    if w.size == 1:
        return t
    _agree(w, 'broadcast', a, root)
    if a.size == 0:
        return t

    def on_device(nccl, comm):
        dt, stream, _ = _nccl_args(nccl, a)
        comm.bcast(a.data.ptr, a.size, dt, root, stream)
    _collective(w, a, 'broadcast', on_device, lambda buf: w.comm.Ibcast(buf, root=root))
    return t


def allreduceGradients(grads, count=None, total=None):
    """The one call per step: in place, every rank's flat gradient becomes the gradient of the loss averaged over
    the global batch, when each rank's loss is the mean over its ``count`` rows and ``total`` is the global batch
    (ShardedBatches' ``count`` and ``total``).  The gradient is scaled by count/total and summed over the ranks (a
    rank with no rows, count 0, contributes zeros).  Without count and total: the plain average, sum / size."""
    w = _get()
    a = _array(grads, 'allreduceGradients')
    if (count is None) != (total is None):
        raise ValueError("distributed.allreduceGradients: give both count and total (this rank's rows and the "
                         f"global batch), or neither; got count={count!r}, total={total!r}")
    if count is None:
        scale = 1.0 / w.size
    else:
        if not 0 <= count <= total or total <= 0:
            raise ValueError(f"distributed.allreduceGradients: expected 0 <= count <= total and total > 0, got "
                             f"count={count!r}, total={total!r}")
        scale = count / total
    if count == 0:
        a.fill(0)               # the rank may have skipped backward: whatever the buffer holds counts for nothing
    elif scale != 1.0:
        a *= a.dtype.type(scale)
    return allreduce(grads, 'sum')


def allreduceScalars(values, op='sum'):
    """A number (returns a float) or a sequence of numbers (returns a list), reduced over the ranks in one call:
    e.g. ``loss_sum, correct, seen = dist.allreduceScalars([loss_sum, correct, seen])``."""
    w = _get()
    if op not in _OPS:          # checked on one rank too: a job must not fail only when it grows to several
        raise ValueError(f"distributed.allreduceScalars: op must be one of {_OPS}, got {op!r}")
    single = np.ndim(values) == 0
    a = np.array([values] if single else list(values), dtype=np.float64)
    if w.size > 1:
        _agree(w, 'allreduceScalars', a, _OPS.index(op))
        _wait(w, w.comm.Iallreduce(w.MPI.IN_PLACE, a, op=_mpi_op(w, op)), 'allreduceScalars')
    return float(a[0]) if single else [float(v) for v in a]


def allreduceConfusion(confusion):
    """In place: ``confusion`` (optim.ConfusionMatrix) counts every rank's samples; then its valids are updated."""
    w = _get()
    if w.size > 1:
        mat = confusion.mat._a
        _agree(w, 'allreduceConfusion', mat)
        _wait(w, w.comm.Iallreduce(w.MPI.IN_PLACE, mat, op=w.MPI.SUM), 'allreduceConfusion')
    confusion.updateValids()
    return confusion


def barrier():
    """Wait until every rank gets here."""
    w = _get()
    if w.size > 1:
        _agree(w, 'barrier')


# -- rank 0 only ---------------------------------------------------------------------------------------------------
def rootPrint(*args, **kwargs):
    """``print`` on rank 0 only (flushed, so lines come out in order under mpirun)."""
    if _get().rank == 0:
        kwargs.setdefault('flush', True)
        builtins.print(*args, **kwargs)


def rootProgress(iterable, **kwargs):
    """A tqdm progress bar on rank 0; the bare iterable elsewhere (same iteration on every rank)."""
    from tqdm import tqdm
    kwargs['disable'] = kwargs.get('disable', False) or _get().rank != 0
    return tqdm(iterable, **kwargs)


def rootSave(path, obj):
    """``torch.save(path, obj)`` on rank 0; every rank returns once the file is written."""
    w = _get()
    if w.rank == 0:
        from . import save
        save(path, obj)
    barrier()

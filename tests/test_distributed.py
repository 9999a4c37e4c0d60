"""luatorch_py.distributed and data.shard: 2 local ranks launched by the mpirun of the mpich wheel (the test extra
installs mpi4py and mpich), each run a subprocess with a timeout."""
import json
import re
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import distributed as dist
from luatorch_py.data import Batches
from luatorch_py.data.shard import ShardedBatches

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mpirun():
    """The mpich wheel puts mpirun beside the venv's python (bin/); else whatever is on PATH."""
    here = os.path.dirname(sys.executable)
    for name in ('mpirun', 'mpiexec'):
        p = os.path.join(here, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which('mpirun') or shutil.which('mpiexec')


try:
    import mpi4py  # noqa: F401
    NO_MPI = None if _mpirun() else 'no mpirun/mpiexec beside python or on PATH (pip install mpich)'
except ImportError:
    NO_MPI = 'mpi4py is not installed (pip install mpi4py mpich, or the test extra)'
needs_mpi = pytest.mark.skipif(NO_MPI is not None, reason=NO_MPI or '')

# one data-parallel job: each rank writes JSON lines to rank<r>.jsonl in the directory argv[4]
WORKER = r'''
import json, sys
import numpy as np
import luatorch_py as torch
from luatorch_py import distributed as dist, nn, optim, cutorch
from luatorch_py.data.shard import ShardedBatches

device, tname, K = sys.argv[1], sys.argv[2], int(sys.argv[3])
rank, size = dist.init()
if device == 'cuda':
    cutorch.setDevice(dist.localRank() % cutorch.getDeviceCount())
ttype = {('cpu', 'double'): 'torch.DoubleTensor', ('cpu', 'float'): 'torch.FloatTensor',
         ('cuda', 'double'): 'torch.CudaDoubleTensor', ('cuda', 'float'): 'torch.CudaTensor'}[device, tname]

def build():
    net = nn.Sequential()
    net.add(nn.SpatialConvolution(1, 3, 3, 3)).add(nn.Tanh()).add(nn.View(3 * 4 * 4))
    net.add(nn.Linear(48, 5)).add(nn.LogSoftMax())
    return net.type(ttype), nn.ClassNLLCriterion().type(ttype)

def out(**kw):           # one file per rank: the ranks' stdout lines would interleave
    with open(f'{sys.argv[4]}/rank{rank}.jsonl', 'a') as f:
        f.write(json.dumps(dict(rank=rank, **kw)) + '\n')

# data: the same on every rank; 29 samples, global batch 8: 3 batches of 8 (4 + 4 rows) and one of 5 (2 + 3 rows)
g = np.random.RandomState(0)
images = g.rand(29, 6, 6)
labels = g.randint(0, 5, 29)
torch.manualSeed(100 + rank)                       # different seeds: the broadcast must make them agree
net, crit = build()
params, grads = net.getParameters()
before = float(params.sum())
dist.broadcast(params)
out(before=before, after=float(params.sum()), start=params.double().numpy().tolist())

# K steps of SGD with momentum on the shards of each global batch
config = {'learningRate': 0.1, 'momentum': 0.9, 'weightDecay': 1e-3}
torch.manualSeed(7)
batches = ShardedBatches(images, labels, 8, tensortype=ttype, scale=None)
steps, losses = 0, []
while steps < K:
    for x, y in batches:
        def feval(_):
            grads.zero()
            loss = 0.0
            if x is not None:
                o = net.forward(x)
                loss = crit.forward(o, y)
                net.backward(x, crit.backward(o, y))
            dist.allreduceGradients(grads, batches.count, batches.total)
            return loss, grads
        _, fx = optim.sgd(feval, params, config)
        losses.append(dist.allreduceScalars(fx[0] * batches.count) / batches.total)
        steps += 1
        if steps == K:
            break
out(params=params.double().numpy().tolist(), losses=losses)

# the shards over 2 epochs: which samples each rank saw, by global batch
ids = np.arange(29, dtype=np.float64).reshape(29, 1)
sb = ShardedBatches(ids, labels, 8, tensortype='torch.DoubleTensor', scale=None)
seen = [[[] if x is None else x.numpy().ravel().astype(int).tolist() for x, _ in sb] for epoch in range(2)]
out(seen=seen, counts=[sb.count, sb.total])

# scalars and the confusion matrix
cm = optim.ConfusionMatrix(3)
cm.batchAdd(np.array([rank, 1, 2]), np.array([rank, 1, 1]))
dist.allreduceConfusion(cm)
out(mat=cm.mat.numpy().tolist(), total=cm.totalValid, sums=dist.allreduceScalars([rank, 1]),
    mx=dist.allreduceScalars(rank, 'max'))
'''


def run_job(tmp_path, n, *args, timeout=60, env=None, source=WORKER):
    script = tmp_path / 'job.py'
    script.write_text(source)
    e = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]),
             OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1', **(env or {}))
    cmd = [sys.executable, str(script), *args, str(tmp_path)]
    if n:
        cmd = [_mpirun(), '-n', str(n), *cmd]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=e)
    return p, time.monotonic() - t0


def results(p, tmp_path):
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    by = {}
    for f in sorted(tmp_path.glob('rank*.jsonl')):
        for line in f.read_text().splitlines():
            r = json.loads(line)
            by.setdefault(r['rank'], []).append(r)
    return by


def reference(device, tname, K, start):
    """One process, the same K steps on the whole global batches (the concatenation of the shards)."""
    from luatorch_py import nn, optim
    ttype = {('cpu', 'double'): 'torch.DoubleTensor', ('cpu', 'float'): 'torch.FloatTensor',
             ('cuda', 'double'): 'torch.CudaDoubleTensor', ('cuda', 'float'): 'torch.CudaTensor'}[device, tname]
    g = np.random.RandomState(0)
    images, labels = g.rand(29, 6, 6), g.randint(0, 5, 29)
    net = nn.Sequential()
    net.add(nn.SpatialConvolution(1, 3, 3, 3)).add(nn.Tanh()).add(nn.View(3 * 4 * 4))
    net.add(nn.Linear(48, 5)).add(nn.LogSoftMax())
    net.type(ttype)
    crit = nn.ClassNLLCriterion().type(ttype)
    params, grads = net.getParameters()
    params.copy(torch.DoubleTensor(np.array(start)))
    config = {'learningRate': 0.1, 'momentum': 0.9, 'weightDecay': 1e-3}
    torch.manualSeed(7)
    batches = Batches(images, labels, 8, tensortype=ttype, scale=None)
    steps, losses = 0, []
    while steps < K:
        for x, y in batches:
            def feval(_):
                grads.zero()
                o = net.forward(x)
                loss = crit.forward(o, y)
                net.backward(x, crit.backward(o, y))
                return loss, grads
            _, fx = optim.sgd(feval, params, config)
            losses.append(fx[0])
            steps += 1
            if steps == K:
                break
    return params.double().numpy(), losses


# Tolerances: the ranks sum each half batch's gradient rows, then the allreduce adds the two halves, where one
# process sums all rows in one pass; the sums round in a different order, so the results agree to rounding
# only: a few ulps per step, grown by K steps of momentum (the weights are below 1 in size).  Measured after 6
# steps: 2.8e-17 in float64, 1.5e-8 in float32 (ulp at 1: 2.2e-16 and 1.2e-7); the bounds leave room for other
# BLAS builds, whose gemm blocking sums in yet another order.
TOL = {'double': 1e-13, 'float': 1e-6}


def check_job(tmp_path, device, tname):
    K = 6       # 1.5 epochs: 4 of them on full 8-row batches (4 + 4 rows), 2 on the uneven last one (2 + 3)
    p, _ = run_job(tmp_path, 2, device, tname, str(K))
    by = results(p, tmp_path)
    assert sorted(by) == [0, 1]
    r0, r1 = by[0], by[1]
    # different seeds, different initial weights, identical after the broadcast
    assert r0[0]['before'] != r1[0]['before']
    assert r0[0]['after'] == r1[0]['after'] == r0[0]['before']
    # K steps on 2 ranks: the same parameters on both (bit for bit) and as one process on the whole batches
    assert r0[1]['params'] == r1[1]['params']
    ref, ref_losses = reference(device, tname, K, r0[0]['start'])
    got = np.array(r0[1]['params'])
    assert np.abs(got - ref).max() <= TOL[tname], np.abs(got - ref).max()
    assert np.abs(got - np.array(r0[0]['start'])).max() > 1e-3        # the steps did move the weights
    np.testing.assert_allclose(r0[1]['losses'], ref_losses, rtol=TOL[tname] * 10)
    return r0, r1


@needs_mpi
def test_two_ranks_take_the_steps_of_one_process_on_the_whole_batch_and_reduce(tmp_path):
    r0, r1 = check_job(tmp_path, 'cpu', 'double')
    # the shards: disjoint, together every sample once per epoch, in the single-process batches
    s0, s1 = r0[2]['seen'], r1[2]['seen']
    for e in range(2):
        assert len(s0[e]) == len(s1[e]) == 4                               # 29 samples / 8 = 4 global batches
        assert [len(b) for b in s0[e]] == [4, 4, 4, 2] and [len(b) for b in s1[e]] == [4, 4, 4, 3]
        flat = [i for b0, b1 in zip(s0[e], s1[e]) for i in b0 + b1]
        assert sorted(flat) == list(range(29))
    assert s0[0] != s0[1]                                                 # reshuffled each epoch
    assert r0[2]['counts'] == [2, 5] and r1[2]['counts'] == [3, 5]
    # confusion matrices and scalars summed over the ranks
    # rank 0 counts (target, prediction) (0,0),(1,1),(1,2); rank 1 (1,1),(1,1),(1,2)
    assert r0[3]['mat'] == r1[3]['mat'] == [[1, 0, 0], [0, 3, 2], [0, 0, 0]]
    assert r0[3]['total'] == r1[3]['total'] == pytest.approx(4 / 6)
    assert r0[3]['sums'] == [1.0, 2.0] and r1[3]['mx'] == 1.0


@needs_mpi
def test_two_ranks_in_float32(tmp_path):
    check_job(tmp_path, 'cpu', 'float')


@needs_mpi
@pytest.mark.gpu
def test_two_ranks_on_cuda(tmp_path):
    """NCCL when each rank has its own device; one device (or the fake CuPy): staged through host memory."""
    check_job(tmp_path, 'cuda', 'double')


@needs_mpi
def test_without_mpirun_the_job_is_one_rank(tmp_path):
    p, _ = run_job(tmp_path, 0, 'cpu', 'double', '2')
    by = results(p, tmp_path)
    assert list(by) == [0]
    r = by[0]
    assert r[0]['before'] == r[0]['after']
    ref, _ = reference('cpu', 'double', 2, r[0]['start'])
    assert np.array_equal(np.array(r[1]['params']), ref)            # size 1: the same arithmetic, bit for bit
    assert [len(b) for b in r[2]['seen'][0]] == [8, 8, 8, 5]
    assert r[3]['mat'] == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]


FAILING = r'''
import sys, time
import numpy as np
from luatorch_py import distributed as dist
rank, size = dist.init(timeout=float(sys.argv[2]))   # (argv[3]: the output directory, unused)
x = np.zeros(1000)
if sys.argv[1] == 'raise' and rank == 1:
    raise ValueError('rank one fails on purpose')
if sys.argv[1] == 'hang' and rank == 1:
    time.sleep(60)
dist.allreduce(x)
dist.barrier()
print('finished', rank, flush=True)
'''


@needs_mpi
def test_a_raising_rank_ends_the_job_with_its_error(tmp_path):
    p, took = run_job(tmp_path, 2, 'raise', '600', source=FAILING, timeout=60)
    assert p.returncode != 0 and 'finished' not in p.stdout
    assert 'ValueError: rank one fails on purpose' in p.stderr and 'Traceback' in p.stderr
    assert 'rank 1 of 2: raised ValueError' in p.stderr
    assert took < 20, took                        # rank 0 waits in the allreduce: MPI_Abort ends it at once


LEAVES_SHM = r'''
import sys
from luatorch_py import distributed as dist
rank, size = dist.init(timeout=30)
if rank == 1:
    maps = open('/proc/self/maps').read().splitlines()
    shm = {line.split()[-1] for line in maps if '/dev/shm/mpich_' in line and '(deleted)' not in line}
    with open(f'{sys.argv[1]}/shm.txt', 'w') as f:
        f.write(' '.join(sorted(shm)))
    raise ValueError('rank one fails on purpose')
dist.barrier()
'''


@needs_mpi
@pytest.mark.skipif(not os.path.isdir('/dev/shm'), reason='no /dev/shm: no MPICH segment to leave behind')
def test_an_aborted_job_leaves_no_shared_memory_behind(tmp_path):
    """MPI_Abort skips MPICH's cleanup: every aborted job used to leave its 2 MiB /dev/shm/mpich_shm_* segment."""
    p, _ = run_job(tmp_path, 2, source=LEAVES_SHM, timeout=60)
    assert p.returncode != 0 and 'rank 1 of 2: raised ValueError' in p.stderr, p.stderr[-3000:]
    shm = (tmp_path / 'shm.txt').read_text().split()
    if not shm:
        pytest.skip('this MPI maps no /dev/shm/mpich_* segment')
    assert [path for path in shm if os.path.exists(path)] == []


@needs_mpi
def test_a_hanging_rank_ends_the_job_after_the_timeout(tmp_path):
    p, took = run_job(tmp_path, 2, 'hang', '1', source=FAILING, timeout=60)
    assert p.returncode != 0 and 'finished' not in p.stdout
    assert 'rank 0 of 2: allreduce waited more than 1 s for the other ranks' in p.stderr
    assert took < 20, took


MISMATCHED = r'''
import sys
import numpy as np
import luatorch_py as torch
from luatorch_py import distributed as dist
from luatorch_py.data.shard import ShardedBatches
rank, size = dist.init(timeout=30)
case = sys.argv[1]
if case == 'size':              # rank 1's net has one more layer: a longer flat gradient
    dist.allreduceGradients(torch.DoubleTensor(10 + 2 * rank).fill(1))
elif case == 'type':            # rank 1's net converted to float, rank 0's to double
    dist.allreduceGradients(torch.DoubleTensor(10).fill(1) if rank == 0 else torch.FloatTensor(10).fill(1))
elif case == 'scalars':
    dist.allreduceScalars([1.0] * (2 + rank))
elif case == 'device':          # rank 1's net on the GPU, rank 0's on the CPU
    g = torch.DoubleTensor(10).fill(1)
    dist.allreduceGradients(g.cudaDouble() if rank == 1 else g)
elif case == 'shards':          # a rank loaded another number of samples
    for x, y in ShardedBatches(np.zeros((10 + rank, 2)), np.zeros(10 + rank, int), 4):
        pass
print('finished', rank, flush=True)
'''


@needs_mpi
@pytest.mark.parametrize('case, says', [
    ('size', "rank 0: allreduce of 10 float64 (op 'sum'); rank 1: allreduce of 12 float64 (op 'sum')"),
    ('type', "rank 0: allreduce of 10 float64 (op 'sum'); rank 1: allreduce of 10 float32 (op 'sum')"),
    ('scalars', "rank 0: allreduceScalars of 2 float64 (op 'sum'); rank 1: allreduceScalars of 3 float64"),
    ('shards', "rank 0: broadcast of 10 int64 (root 0); rank 1: broadcast of 11 int64 (root 0)"),
    pytest.param('device', "rank 0: allreduce of 10 float64 (op 'sum'); rank 1: allreduce of 10 float64 on CUDA",
                 marks=pytest.mark.gpu)])
def test_ranks_with_mismatched_tensors_end_the_job_saying_so(tmp_path, case, says):
    """MPI would sum a shorter or differently typed buffer into silent garbage (the ranks' parameters drift apart)
    or hang; each collective first checks that every rank passes the same size, type and device kind."""
    p, took = run_job(tmp_path, 2, case, source=MISMATCHED, timeout=60)
    assert p.returncode != 0 and 'finished' not in p.stdout, p.stdout + p.stderr
    assert 'DistributedError: distributed.' in p.stderr and says in p.stderr, p.stderr[-3000:]
    assert took < 20, took


@needs_mpi
def test_a_broken_mpi_says_so(tmp_path):
    src = 'from luatorch_py import distributed as dist\ndist.init()\n'
    p, _ = run_job(tmp_path, 0, source=src, env={'MPI4PY_LIBMPI': str(tmp_path / 'no-libmpi.so')})
    assert p.returncode == 1
    assert 'DistributedError: distributed.init: MPI could not start' in p.stderr
    assert 'no-libmpi.so' in p.stderr and 'pip install mpich' in p.stderr
    p = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'mnist.py'), '--distributed'],
                       capture_output=True, text=True, timeout=60, cwd=ROOT,
                       env=dict(os.environ, MPI4PY_LIBMPI=str(tmp_path / 'no-libmpi.so')))
    assert p.returncode == 1 and p.stdout == '' and 'Traceback' not in p.stderr
    assert p.stderr.startswith('mnist.py: --distributed: distributed.init: MPI could not start: cannot load MPI')


def _no_mpi4py(monkeypatch):
    monkeypatch.setitem(sys.modules, 'mpi4py', None)      # import mpi4py raises ImportError
    monkeypatch.setattr(dist, '_world', None)
    for v in dist._LAUNCHER_SIZE_VARS:
        monkeypatch.delenv(v, raising=False)


def test_without_mpi4py_init_is_one_rank_and_collectives_are_no_ops(monkeypatch, capsys):
    _no_mpi4py(monkeypatch)
    assert dist.init() == (0, 1)
    assert (dist.rank(), dist.size(), dist.localRank(), dist.isRoot()) == (0, 1, 0, True)
    g = torch.DoubleTensor([2.0, 4.0])
    dist.allreduceGradients(g)
    assert g.numpy().tolist() == [2.0, 4.0]
    dist.allreduceGradients(g, 3, 4)                # this rank's 3 rows of a global batch of 4
    assert g.numpy().tolist() == [1.5, 3.0]
    dist.allreduceGradients(g, 0, 4)
    assert g.numpy().tolist() == [0.0, 0.0]
    assert dist.allreduceScalars([1, 2.5]) == [1.0, 2.5] and dist.allreduceScalars(3) == 3.0
    dist.broadcast(g)
    dist.rootPrint('on root')
    assert capsys.readouterr().out == 'on root\n'
    assert list(dist.rootProgress(range(3), disable=True)) == [0, 1, 2]


def test_errors(monkeypatch):
    _no_mpi4py(monkeypatch)
    with pytest.raises(dist.DistributedError, match=r'call distributed.init\(\) first'):
        dist.rank()
    monkeypatch.setenv('PMI_SIZE', '2')
    with pytest.raises(dist.DistributedError, match=r'asked for 2 ranks \(PMI_SIZE=2\) but mpi4py is not installed'):
        dist.init()
    monkeypatch.delenv('PMI_SIZE')
    with pytest.raises(ValueError, match='timeout must be > 0'):
        dist.init(timeout=0)
    dist.init()
    with pytest.raises(ValueError, match=r"contiguous tensor.*shape \(2, 2\)"):
        dist.allreduce(torch.DoubleTensor(2, 4).narrow(1, 0, 2))
    with pytest.raises(TypeError, match='expected a tensor or an array, got list'):
        dist.broadcast([1.0])
    with pytest.raises(ValueError, match="op must be one of"):
        dist.allreduce(torch.DoubleTensor(2), op='prod')
    with pytest.raises(ValueError, match='give both count and total'):
        dist.allreduceGradients(torch.DoubleTensor(2), 3)
    with pytest.raises(ValueError, match='0 <= count <= total'):
        dist.allreduceGradients(torch.DoubleTensor(2), 5, 4)
    with pytest.raises(ValueError, match=r'root must be a rank in \[0, 0\]'):
        dist.broadcast(torch.DoubleTensor(2), root=1)


def test_allreduce_scalars_checks_its_op_on_one_rank_too(monkeypatch):
    _no_mpi4py(monkeypatch)
    dist.init()
    with pytest.raises(ValueError, match=r"allreduceScalars: op must be one of \('sum', 'max', 'min'\), got 'prod'"):
        dist.allreduceScalars(3, 'prod')          # was 3.0 on one rank, a ValueError on two
    assert dist.allreduceScalars([1, 2], 'max') == [1.0, 2.0]


@pytest.mark.parametrize('size', [1, 2, 3, 5])
@pytest.mark.parametrize('bs', [1, 4, 8])
def test_shards_are_the_single_process_batches_split(size, bs):
    """Each global batch's shards, put together, are the rows of Batches' batch (the same seeded permutation);
    every sample once per epoch; a rank with no row of a short last batch gets (None, None) and count 0."""
    n = 37
    ids = np.arange(n, dtype=np.float64).reshape(n, 1)
    labels = np.arange(n) % 10
    for epoch_seed in (3, 4):
        torch.manualSeed(epoch_seed)
        ref = [sorted(x.numpy().ravel().tolist()) for x, _ in Batches(ids, labels, bs, tensortype='torch.DoubleTensor',
                                                                      scale=None)]
        got = [[] for _ in ref]
        for r in range(size):
            torch.manualSeed(epoch_seed)
            sb = ShardedBatches(ids, labels, bs, rank=r, size=size, tensortype='torch.DoubleTensor', scale=None)
            assert len(sb) == len(ref)
            for k, (x, y) in enumerate(sb):
                m = min(bs, n - k * bs)
                assert sb.total == m and sb.count == (r + 1) * m // size - r * m // size
                if sb.count == 0:
                    assert x is None and y is None
                    continue
                v = x.numpy().ravel()
                assert x.size(0) == sb.count and np.array_equal(y.numpy(), v.astype(int) % 10)
                got[k] += v.tolist()
        assert [sorted(g) for g in got] == ref
        assert sorted(i for g in got for i in g) == list(range(n))


def test_shard_options():
    ids = np.zeros((10, 2))
    with pytest.raises(TypeError, match='pad_last is not supported'):
        ShardedBatches(ids, np.zeros(10, int), 4, rank=0, size=2, pad_last=-100)
    with pytest.raises(ValueError, match='expected 0 <= rank < size, got rank 2, size 2'):
        ShardedBatches(ids, np.zeros(10, int), 4, rank=2, size=2)
    with pytest.raises(ValueError, match='give both rank and size'):
        ShardedBatches(ids, np.zeros(10, int), 4, rank=0)
    sb = ShardedBatches(ids, np.zeros(10, int), 4, rank=1, size=2, shuffle=False, drop_last=True)
    assert len(sb) == 2 and [x.size(0) for x, _ in sb] == [2, 2]
    assert repr(sb) == 'ShardedBatches(10 samples, 2 batches of 4, rank 1 of 2, torch.FloatTensor)'


MNIST = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'datasets', 'mnist'))


@needs_mpi
def test_mnist_script_on_two_ranks_trains_as_one_process(tmp_path):
    """scripts/mnist.py --distributed under mpirun -n 2 takes the steps of one process: the same loss and test
    accuracy (float32: to rounding; measured identical to 4 decimals), one progress bar, the net saved once."""
    if not os.path.isfile(os.path.join(MNIST, 'train-images-idx3-ubyte.gz')):
        pytest.skip(f"MNIST not found in {MNIST} (../shared/datasets/mnist beside the repository)")
    script = os.path.join(ROOT, 'scripts', 'mnist.py')
    args = ['--data', MNIST, '--net', 'dense', '--limit', '1000', '--test-limit', '500', '--epochs', '1',
            '--batch', '50']
    env = dict(os.environ, OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1')
    one = subprocess.run([sys.executable, script, *args, '--no-progress'], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env=env)
    two = subprocess.run([_mpirun(), '-n', '2', sys.executable, script, *args, '--distributed', '--save',
                          str(tmp_path / 'net.t7')], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert one.returncode == 0 and two.returncode == 0, one.stderr[-2000:] + two.stderr[-2000:]

    def numbers(out):
        ep = next(line for line in out.splitlines() if line.startswith('epoch 1:'))
        loss, acc = re.fullmatch(r'epoch 1: train loss (\d\.\d+), test accuracy (\d\.\d+)', ep).groups()
        return float(loss), float(acc), float(out.strip().splitlines()[-1].split()[-1])
    l1, a1, f1 = numbers(one.stdout)
    l2, a2, f2 = numbers(two.stdout)
    assert abs(l1 - l2) <= 2e-3 and abs(a1 - a2) <= 0.004 and a2 == f2 and a1 > 0.5, (one.stdout, two.stdout)
    assert 'distributed: 2 ranks, global batch 50' in two.stdout
    assert two.stdout.count('test accuracy:') == 1 and two.stdout.count('ConfusionMatrix') == 1   # rank 0 only
    assert two.stderr.count('epoch 1/1:   0%') == 1                                           # one progress bar
    assert torch.load(str(tmp_path / 'net.t7')).get(1).weight.size(1) == 784


@needs_mpi
def test_mnist_script_with_a_global_batch_smaller_than_the_ranks(tmp_path):
    """--batch 1 on 2 ranks: rank 0 never gets a row (it was a ZeroDivisionError in its progress bar's loss)."""
    if not os.path.isfile(os.path.join(MNIST, 'train-images-idx3-ubyte.gz')):
        pytest.skip(f"MNIST not found in {MNIST} (../shared/datasets/mnist beside the repository)")
    script = os.path.join(ROOT, 'scripts', 'mnist.py')
    p = subprocess.run([_mpirun(), '-n', '2', sys.executable, script, '--data', MNIST, '--net', 'dense', '--limit',
                        '3', '--test-limit', '10', '--epochs', '1', '--batch', '1', '--distributed', '--threads', '1'],
                       capture_output=True, text=True, timeout=120, cwd=ROOT,
                       env=dict(os.environ, OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1'))
    assert p.returncode == 0 and 'Traceback' not in p.stderr, p.stderr[-3000:]
    assert re.search(r'epoch 1: train loss \d+\.\d{4}, test accuracy 0\.\d{4}', p.stdout), p.stdout

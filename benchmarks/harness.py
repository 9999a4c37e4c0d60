"""What the timing benchmarks share: interleaved rounds, medians, and the lines that print ratios.

Steps are zero-argument callables (one training step each); rounds interleave them so that a slow spell of the
machine hits every contestant alike.
"""
import importlib.util
import os
import statistics
import sys
import time

ANCHORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'bench', 'anchors.py')
SHARED = 'shared hand numpy'      # the contestant name of ../shared/bench/anchors.py's step
_THREAD_VARS = ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')   # (anchors.py sets them)


def per_call(step, n):
    """Seconds per call of ``step()``, over ``n`` calls."""
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n


def medians(steps, n, rounds=5, warmup=2):
    """{name: median seconds per call} over ``rounds`` interleaved rounds of ``n`` calls, after ``warmup`` calls
    of each (buffers allocated, caches filled)."""
    for s in steps.values():
        per_call(s, warmup)
    times = {k: [] for k in steps}
    for _ in range(rounds):
        for k, s in steps.items():
            times[k].append(per_call(s, n))
    return {k: statistics.median(v) for k, v in times.items()}


def pytorch_nll_step(layers, x, t, lr):
    """A PyTorch SGD step on ``nn.Sequential(*layers(torch))`` with NLLLoss over numpy ``x``, ``t``; None when
    PyTorch is not installed."""
    try:
        import torch as pt
    except ImportError:
        return None
    pt.manual_seed(1)
    net = pt.nn.Sequential(*layers(pt))
    crit = pt.nn.NLLLoss()
    opt = pt.optim.SGD(net.parameters(), lr=lr)
    x, t = pt.from_numpy(x), pt.from_numpy(t)

    def step():
        opt.zero_grad()
        crit(net(x), t).backward()
        opt.step()
    return step


def add_pytorch(steps, make):
    """``steps`` with a 'PyTorch' entry when PyTorch is installed (``make()`` returns None when it is not)."""
    step = make()
    if step is not None:
        steps['PyTorch'] = step
    return steps


def print_table(title, med, bases, unit='ms'):
    """One line per contestant: its time and its ratio to each of ``bases``."""
    scale = {'ms': 1e3, 'µs': 1e6}[unit]
    width = max(map(len, med))
    print(title)
    for k, v in med.items():
        ratios = '   '.join(f"{v / med[b]:5.2f}x {b}" for b in bases)
        print(f"  {k:{width}s} {v * scale:8.2f} {unit}   {ratios}")


def goal(name, ratio, limit, what='time'):
    """The line that says whether a goal is met."""
    return f"goal: {name} {what} <= {limit}x -> {ratio:.2f}x {'met' if ratio <= limit else 'NOT met'}"


def shared_reference(workload):
    """The hand-written numpy step of ``../shared/bench/anchors.py`` (workload 'xor', 'mlp' or 'conv') as a
    zero-argument step on the harness's own data, or None when that file is not beside the repository.  It is the
    baseline the project's speed goals are measured against: a baseline of our own must be at least as fast
    (bench_lenet.py's own hand step takes about 1.4-2x its time, and its ratios flattered us)."""
    if not os.path.isfile(ANCHORS):
        return None
    mod = sys.modules.get('anchors')
    if mod is None:
        # at import it reads --threads from the command line and sets the BLAS/OpenMP thread variables for its
        # workers: hide our argv, and put those variables back, so that the contestants loaded after it (PyTorch)
        # keep this process's own settings
        argv, sys.argv = sys.argv, [ANCHORS]
        env = {v: os.environ.get(v) for v in _THREAD_VARS}
        try:
            spec = importlib.util.spec_from_file_location('anchors', ANCHORS)
            mod = importlib.util.module_from_spec(spec)
            sys.modules['anchors'] = mod
            try:
                spec.loader.exec_module(mod)
            except BaseException:
                del sys.modules['anchors']
                raise
        finally:
            sys.argv = argv
            for v, x in env.items():
                if x is None:
                    os.environ.pop(v, None)
                else:
                    os.environ[v] = x
    model = mod.NUMPY_MODELS[workload](mod.make_data(workload, 0))
    lr = mod.SPEC[workload]['lr']
    if workload == 'xor':
        return lambda: model.train(1, lr)
    return lambda: model.step(lr)


def add_shared(steps, workload):
    """``steps`` with the shared reference first (when it is there)."""
    step = shared_reference(workload)
    return {SHARED: step, **steps} if step is not None else steps


def base_of(med, own):
    """The baseline to state goals against: the faster of the shared reference (when measured) and our own
    hand-written step ``own`` (a baseline must be at least as fast as the shared one)."""
    return min((k for k in (SHARED, own) if k in med), key=med.get)

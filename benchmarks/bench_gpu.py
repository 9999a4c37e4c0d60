#!/usr/bin/env python3
"""GPU training step: luatorch_py on CuPy vs PyTorch eager on the same device, same nets, data and batch sizes as
../shared/bench/gpu_bench.py (float32, SGD):

  xor        3-4-1 sigmoid MLP, MSECriterion, batch 4, lr 1                          (launch-bound)
  mlp128     784-1024-1024-10 ReLU, LogSoftMax + ClassNLLCriterion, batch 128, lr 0.01
  mlp2048    the same, batch 2048                                                    (compute-bound)
  lenet64    SpatialConvolution(1,20,5,5) - ReLU - SpatialMaxPooling(2,2) - SpatialConvolution(20,50,5,5) - ReLU -
             SpatialMaxPooling(2,2) - View(800) - Linear(800,500) - ReLU - Linear(500,10) - LogSoftMax,
             ClassNLLCriterion, batch 64, lr 0.01
  lenet1024  the same, batch 1024

luatorch_py's step is Torch7's loop: net:zeroGradParameters(); out = net:forward(X); crit:forward(out, Y);
net:backward(X, crit:backward(out, Y)); net:updateParameters(lr).  Variants timed:
  default      that loop; crit.forward returns a Python float, i.e. a host sync every step
  default+dev  the loss by crit.forwardDevice(out, Y) (a 1-element device tensor, no sync), when it exists
  idiom        Torch7's first-layer idiom net.get(0).gradInput = None (no dL/dinput, as PyTorch never computes it)
  idiom+dev    both: THE HEADLINE, the variant the lt/torch ratio is computed on
  captured     cutorch.captureStep(closure) of the idiom+dev step (CUDA graph replay), when it exists
PyTorch: opt.zero_grad(set_to_none=False); loss = crit(net(X), Y); loss.backward(); opt.step().

ms/step: the device is synchronized before and after each block of steps; the figure is the median over blocks.
host ms/step: the same blocks timed before the closing sync (host == total: bound by Python and kernel launches).
Memory: luatorch_py's is CuPy's default pool (total_bytes() after the timed steps, free_all_blocks() called before
building the net: what the pool grew to, i.e. the step's peak); PyTorch's is torch.cuda.max_memory_allocated()
(peak stats reset before building the net).

Usage: python3 benchmarks/bench_gpu.py [--quick] [--workloads xor,mlp128,...] [--json PATH] [--no-torch]
Without CUDA (or without PyTorch, unless --no-torch) it prints one line saying so and exits 0.
"""
import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for p in (REPO, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

import luatorch_py as lt          # noqa: E402
from luatorch_py import backend, cutorch, nn  # noqa: E402

import harness                    # noqa: E402

WORKLOADS = ('xor', 'mlp128', 'mlp2048', 'lenet64', 'lenet1024')
LT_VARIANTS = ('default', 'default+dev', 'idiom', 'idiom+dev', 'captured')
HEADLINE = 'idiom+dev'


def last_line(exc):
    """The last line of ``exc``'s traceback, ``Type: message`` (a message of several lines joined into one)."""
    line = ' '.join(''.join(traceback.format_exception_only(type(exc), exc)).split())
    return line if len(line) <= 400 else line[:397] + '...'


# -- nets and data ----------------------------------------------------------------------------------------
def lt_net(wl):
    net = nn.Sequential()
    if wl == 'xor':
        mods = (nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
        crit = nn.MSECriterion()
    elif wl.startswith('mlp'):
        mods = (nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10),
                nn.LogSoftMax())
        crit = nn.ClassNLLCriterion()
    else:
        mods = (nn.SpatialConvolution(1, 20, 5, 5), nn.ReLU(), nn.SpatialMaxPooling(2, 2, 2, 2),
                nn.SpatialConvolution(20, 50, 5, 5), nn.ReLU(), nn.SpatialMaxPooling(2, 2, 2, 2), nn.View(800),
                nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10), nn.LogSoftMax())
        crit = nn.ClassNLLCriterion()
    for m in mods:
        net.add(m)
    return net, crit


def torch_net(pt, wl):
    tn = pt.nn
    if wl == 'xor':
        return tn.Sequential(tn.Linear(3, 4), tn.Sigmoid(), tn.Linear(4, 1), tn.Sigmoid()), tn.MSELoss()
    if wl.startswith('mlp'):
        return (tn.Sequential(tn.Linear(784, 1024), tn.ReLU(), tn.Linear(1024, 1024), tn.ReLU(), tn.Linear(1024, 10),
                              tn.LogSoftmax(dim=1)), tn.NLLLoss())
    return (tn.Sequential(tn.Conv2d(1, 20, 5), tn.ReLU(), tn.MaxPool2d(2), tn.Conv2d(20, 50, 5), tn.ReLU(),
                          tn.MaxPool2d(2), tn.Flatten(), tn.Linear(800, 500), tn.ReLU(), tn.Linear(500, 10),
                          tn.LogSoftmax(dim=1)), tn.NLLLoss())


def data(wl):
    """(inputs, targets, learning rate) as numpy: float32 inputs, int64 0-based class targets (float32 for xor)."""
    if wl == 'xor':
        return (np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], np.float32),
                np.array([[0], [1], [1], [0]], np.float32), 1.0)
    rng = np.random.default_rng(0)
    b = int(wl[3:] if wl.startswith('mlp') else wl[5:])
    shape = (b, 784) if wl.startswith('mlp') else (b, 1, 28, 28)
    return rng.random(shape, dtype=np.float32), rng.integers(0, 10, b).astype(np.int64), 0.01


# -- timing -----------------------------------------------------------------------------------------------
def timed(step, sync, cfg, extra_warmup=0):
    """(ms/step, host ms/step, steps per block): medians over ``cfg.blocks`` blocks, the device synchronized
    around each, after ``cfg.warmup + extra_warmup`` untimed steps.  Steps per block: enough for about
    ``cfg.block_s`` seconds, between ``cfg.min_steps`` and ``cfg.steps``."""
    for _ in range(cfg.warmup + extra_warmup - 1):
        step()
    sync()
    t = time.perf_counter()
    step()                        # the last warm-up step, timed alone: how many steps fill a block
    sync()
    one = time.perf_counter() - t
    n = max(cfg.min_steps, min(cfg.steps, int(cfg.block_s / max(one, 1e-9))))
    total, host = [], []
    for _ in range(cfg.blocks):
        t0 = time.perf_counter()
        host.append(harness.per_call(step, n))
        sync()
        total.append((time.perf_counter() - t0) / n)
    return statistics.median(total) * 1e3, statistics.median(host) * 1e3, n


def run_lt(cupy, wl, variant, cfg):
    """{'ms', 'host_ms', 'steps', 'mem_bytes', 'loss'} of one luatorch_py variant, or {'na': why}."""
    pool = cupy.get_default_memory_pool()
    gc.collect()
    pool.free_all_blocks()
    lt.manualSeed(1)
    net, crit = lt_net(wl)
    net.cuda()
    crit.cuda()
    dev = variant.endswith('+dev') or variant == 'captured'
    if variant == 'captured' and not hasattr(cutorch, 'captureStep'):
        return {'na': 'cutorch.captureStep not available'}
    if dev and not hasattr(crit, 'forwardDevice'):
        return {'na': f"{type(crit).__name__} has no forwardDevice"}
    if variant != 'default' and variant != 'default+dev':
        net.get(0).gradInput = None
    x, y, lr = data(wl)
    X = lt.fromNumpy(x).cuda()
    Y = lt.fromNumpy(y).cuda()
    box = {}

    def closure():
        net.zeroGradParameters()
        out = net.forward(X)
        loss = crit.forwardDevice(out, Y) if dev else crit.forward(out, Y)
        net.backward(X, crit.backward(out, Y))
        net.updateParameters(lr)
        return loss

    if variant == 'captured':
        try:                      # inputs=: the tensors a replay reads, checked unchanged (when supported)
            graph_step = cutorch.captureStep(closure, inputs=(X, Y))
        except TypeError:
            graph_step = cutorch.captureStep(closure)

        def step():
            box['loss'] = graph_step()
        extra = 3                 # the first calls warm up and capture
    else:
        def step():
            box['loss'] = closure()
        extra = 0
    ms, host, n = timed(step, cupy.cuda.Device().synchronize, cfg, extra)
    mem = pool.total_bytes()
    return {'ms': ms, 'host_ms': host, 'steps': n, 'mem_bytes': int(mem), 'loss': float(box['loss'])}


def run_torch(pt, wl, cfg):
    gc.collect()
    pt.cuda.empty_cache()
    pt.cuda.reset_peak_memory_stats()
    pt.manual_seed(1)
    net, crit = torch_net(pt, wl)
    net.cuda()
    x, y, lr = data(wl)
    X, Y = pt.from_numpy(x).cuda(), pt.from_numpy(y).cuda()
    opt = pt.optim.SGD(net.parameters(), lr=lr)
    box = {}

    def step():
        opt.zero_grad(set_to_none=False)
        loss = crit(net(X), Y)
        loss.backward()
        opt.step()
        box['loss'] = loss.detach()

    ms, host, n = timed(step, pt.cuda.synchronize, cfg)
    return {'ms': ms, 'host_ms': host, 'steps': n, 'mem_bytes': int(pt.cuda.max_memory_allocated()),
            'reserved_bytes': int(pt.cuda.max_memory_reserved()), 'loss': float(box['loss'])}


# -- printing ---------------------------------------------------------------------------------------------
def fmt(v, spec='.3f', na='n/a'):
    return na if v is None else format(v, spec)


def ratio(a, b):
    if a is None or b is None or 'ms' not in a or 'ms' not in b:
        return None
    return a['ms'] / b['ms']


COLS = ('%-10s %9s %9s %9s %10s %9s %8s %9s %11s %10s' %
        ('workload', 'lt ms', 'lt host', 'torch ms', 'torch host', 'lt/torch', 'lt MiB', 'torch MiB',
         'captured ms', 'capt/torch'))


def row(wl, r):
    h, t, c = r['lt'].get(r['headline'], {}), r.get('torch') or {}, r['lt'].get('captured', {})
    mib = lambda d: None if 'mem_bytes' not in d else d['mem_bytes'] / 2**20  # noqa: E731
    return '%-10s %9s %9s %9s %10s %9s %8s %9s %11s %10s' % (
        wl, fmt(h.get('ms')), fmt(h.get('host_ms')), fmt(t.get('ms')), fmt(t.get('host_ms')),
        fmt(r['ratio'], '.2f') + ('x' if r['ratio'] is not None else ''), fmt(mib(h), '.1f'), fmt(mib(t), '.1f'),
        fmt(c.get('ms')), fmt(r['ratio_captured'], '.2f') + ('x' if r['ratio_captured'] is not None else ''))


def describe(name, d, torch_res):
    if d is None:
        return f"{name} n/a"
    if 'na' in d:
        return f"{name} n/a ({d['na']})"
    if 'error' in d:
        return f"{name} FAILED ({d['error']})"
    rt = ratio(d, torch_res)
    return (f"{name} {d['ms']:.3f} ms (host {d['host_ms']:.3f})" +
            (f" = {rt:.2f}x torch" if rt is not None else ''))


def header(cupy, pt, cfg):
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.runtime.getDevice())
    name = props['name']
    name = name.decode() if isinstance(name, bytes) else str(name)
    fake = 'fakecupy' in (getattr(cupy, '__file__', '') or '')
    meta = {
        'date': datetime.datetime.now().isoformat(timespec='seconds'),
        'device': name + (' (CuPy stand-in: timings meaningless)' if fake else ''),
        'compute_capability': f"{props.get('major', '?')}.{props.get('minor', '?')}",
        'cupy': getattr(cupy, '__version__', 'stand-in' if fake else '?'),
        'numpy': np.__version__,
        'torch': pt.__version__ if pt is not None else None,
        'torch_cuda': getattr(pt.version, 'cuda', None) if pt is not None else None,
        'python': platform.python_version(),
        'config': {'warmup': cfg.warmup, 'blocks': cfg.blocks, 'max_steps_per_block': cfg.steps,
                   'block_s': cfg.block_s},
    }
    print(f"bench_gpu {meta['date']}  device: {meta['device']} (cc {meta['compute_capability']})")
    print(f"  CuPy {meta['cupy']}  numpy {meta['numpy']}  PyTorch "
          f"{meta['torch'] or 'not used (--no-torch)'}" + (f" (CUDA {meta['torch_cuda']})" if pt else '') +
          f"  Python {meta['python']}")
    print(f"  float32 SGD step; ms/step = median over {cfg.blocks} blocks of up to {cfg.steps} steps (device "
          f"synchronized around each block), host = the same before the closing sync.")
    print("  lt = luatorch_py with Torch7's first-layer idiom net.get(0).gradInput = None and the loss by "
          "crit.forwardDevice (no host sync);")
    print("  lt/torch is computed on that variant; the Torch7 default (full backward, float loss = a sync per step) "
          "is on the line below each row.")
    return meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='fewer steps and blocks (a smoke run)')
    ap.add_argument('--workloads', default=','.join(WORKLOADS), help=f"comma list (default {','.join(WORKLOADS)})")
    ap.add_argument('--json', metavar='PATH', help='write all figures as JSON (rewritten after each workload)')
    ap.add_argument('--no-torch', action='store_true', help='time luatorch_py only (no PyTorch needed)')
    ap.add_argument('--steps', type=int, help='most steps per block (default 40, 3 with --quick)')
    ap.add_argument('--blocks', type=int, help='timed blocks (default 5, 2 with --quick)')
    ap.add_argument('--warmup', type=int, help='untimed steps first, at least 1 (default 5, 1 with --quick)')
    ap.add_argument('--block-s', type=float, default=0.25,
                    help='target seconds per block: fewer steps than --steps for slow steps (default 0.25)')
    cfg = ap.parse_args(argv)
    cfg.steps = max(1, cfg.steps or (3 if cfg.quick else 40))
    cfg.blocks = max(1, cfg.blocks or (2 if cfg.quick else 5))
    cfg.warmup = max(1, cfg.warmup or (1 if cfg.quick else 5))
    cfg.min_steps = min(cfg.steps, 1 if cfg.quick else 2)
    wls = [w.strip() for w in cfg.workloads.split(',') if w.strip()]
    bad = [w for w in wls if w not in WORKLOADS]
    if bad:
        ap.error(f"unknown workload(s) {','.join(bad)}; choose from {','.join(WORKLOADS)}")

    if not cutorch.isAvailable():
        try:
            backend.cupy()
        except Exception as e:
            print(f"bench_gpu: skipped, CUDA is not available here ({e})")
        return 0
    pt = None
    if not cfg.no_torch:
        try:
            import torch as pt
        except ImportError as e:
            print(f"bench_gpu: skipped, PyTorch is not installed ({e}); --no-torch times luatorch_py alone")
            return 0
        if not pt.cuda.is_available():
            print(f"bench_gpu: skipped, PyTorch {pt.__version__} has no usable CUDA device "
                  "(--no-torch times luatorch_py alone)")
            return 0
    cupy = backend.cupy()

    meta = header(cupy, pt, cfg)
    results = {'meta': meta, 'workloads': {}}
    print(COLS, flush=True)
    for wl in wls:
        r = results['workloads'][wl] = {'lt': {}, 'torch': None, 'headline': HEADLINE}
        try:
            for v in LT_VARIANTS:
                try:
                    r['lt'][v] = run_lt(cupy, wl, v, cfg)
                except Exception as e:
                    r['lt'][v] = {'error': last_line(e)}
            if pt is not None:
                try:
                    r['torch'] = run_torch(pt, wl, cfg)
                except Exception as e:
                    r['torch'] = {'error': last_line(e)}
            if 'ms' not in r['lt']['idiom+dev'] and 'ms' in r['lt']['idiom']:
                r['headline'] = 'idiom'          # no forwardDevice: the idiom with the float loss
            r['ratio'] = ratio(r['lt'][r['headline']], r['torch'])
            r['ratio_default'] = ratio(r['lt']['default'], r['torch'])
            r['ratio_captured'] = ratio(r['lt']['captured'], r['torch'])
            print(row(wl, r))
            if r['headline'] != HEADLINE:
                why = r['lt'][HEADLINE].get('na') or r['lt'][HEADLINE].get('error')
                print(f"  (lt columns: the idiom with crit.forward, a host sync per step: idiom+dev {why})")
            print('  ' + '; '.join(describe(n, r['lt'][v], r['torch']) for n, v in (
                ('Torch7 default', 'default'), ('default+forwardDevice', 'default+dev'),
                ('idiom+forward', 'idiom'))))
            if r['torch'] is not None and 'error' in r['torch']:
                print(f"  PyTorch FAILED ({r['torch']['error']})")
            losses = [f"{n} {r['lt'][v]['loss']:.4f}" for n, v in (('lt', r['headline']), ('captured', 'captured'))
                      if 'loss' in r['lt'][v]]
            if r['torch'] and 'loss' in r['torch']:
                losses.append(f"torch {r['torch']['loss']:.4f}")
            print(f"  loss after the timed steps: {', '.join(losses) or 'n/a'}")
            print(f"  {describe('captured', r['lt']['captured'], r['torch'])}"
                  + (f"  (eager lt/torch {r['ratio']:.2f}x)" if r['ratio'] is not None else ''), flush=True)
        except Exception as e:               # report and go on with the next workload
            r['error'] = last_line(e)
            print(f"{wl:10s} FAILED: {r['error']}", flush=True)
        if cfg.json:
            with open(cfg.json, 'w') as f:
                json.dump(results, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())

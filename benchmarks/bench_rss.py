#!/usr/bin/env python3
"""Peak RSS of a fresh process per (framework, workload), as ../shared/bench/anchors.py --rss measures it,
with and without the harness's gradient check.

anchors.py's isolated RSS worker (run_rss_isolated) starts one process per (framework, workload) and sends it
hello, setup, one round; the figure is the process's VmHWM.  LuaTorchPyFW.setup also builds the hand-written
numpy model inside luatorch_py's worker for an informational gradient check (NUMPY_MODELS[wl](d).check_grads()),
so the harness's luatorch_py column holds numpy's buffers on top of ours (LeNet: ~+40 MB).  Here both workers
are anchors.py's own worker (anchors.main --worker, anchors.py loaded as a module); in luatorch_py's the numpy
model cannot be built, so the check reports "disabled" and nothing else changes.  The harness's own figures
(anchors.py run as the worker script, which costs every worker ~3.5 MB more than loading it as a module) are
printed beside them.  The project's bytecode cache is refreshed first: the workers run with
PYTHONDONTWRITEBYTECODE=1, and a stale cache would have them compile (time and memory) on every start.

    python benchmarks/bench_rss.py [--project .] [--workloads import,xor,mlp,conv] [--threads 2]

Peak RSS does not depend on CPU load: one run per cell is enough.
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ANCHORS = os.path.abspath(os.path.join(HERE, '..', '..', 'shared', 'bench', 'anchors.py'))


def load_anchors():
    """anchors.py as a module (it reads --threads from sys.argv and pins the BLAS pools on import)."""
    spec = importlib.util.spec_from_file_location('anchors', ANCHORS)
    mod = importlib.util.module_from_spec(spec)
    sys.modules['anchors'] = mod
    spec.loader.exec_module(mod)
    return mod


class CheckDisabled(Exception):
    pass


class NoNumpyModel:
    def __init__(self, d):
        raise CheckDisabled


def worker_main():
    """Child process: anchors.py's worker, luatorch_py's gradient check against numpy disabled."""
    anchors = load_anchors()
    if sys.argv[sys.argv.index('--worker') + 1] == 'luatorch_py':
        # LuaTorchPyFW.setup catches the error and formats it: without a traceback (which would read anchors.py)
        fmt = anchors._fmt_exc
        anchors._fmt_exc = lambda e: 'disabled by bench_rss.py' if isinstance(e, CheckDisabled) else fmt(e)
        anchors.NUMPY_MODELS = dict.fromkeys(anchors.NUMPY_MODELS, NoNumpyModel)
    return anchors.main()


def peak_mb(script, fw, wl, args, datadir):
    """Spawn script as an anchors worker, send hello (+ setup + round), return VmHWM in MB after each reply."""
    cmd = [sys.executable, os.path.abspath(script), '--worker', fw, '--data-dir', datadir, '--project', args.project,
           '--threads', str(args.threads), '--workloads', 'xor,mlp,conv']
    msgs = [{'cmd': 'hello'}]
    if wl != 'import':
        msgs += [{'cmd': 'setup', 'workload': wl}, {'cmd': 'round', 'workload': wl}]
    msgs.append({'cmd': 'exit'})
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
    p = subprocess.run(cmd, input=''.join(json.dumps(m) + '\n' for m in msgs), capture_output=True, text=True,
                       env=env, timeout=600)
    replies = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    bad = [r.get('error') for r in replies if not r.get('ok')]
    if bad or len(replies) != len(msgs):
        raise RuntimeError('%s %s worker failed: %s %s' % (fw, wl, bad, p.stderr[-2000:]))
    return {m['cmd']: r['maxrss_kb'] / 1024.0 for m, r in zip(msgs, replies)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--project', default='.', help='where luatorch_py is imported from (as anchors.py --project)')
    ap.add_argument('--workloads', default='import,xor,mlp,conv')
    ap.add_argument('--threads', default='2')
    ap.add_argument('--phases', action='store_true', help='also print VmHWM after hello / setup / round')
    args = ap.parse_args()
    args.project = os.path.abspath(args.project)
    subprocess.run([sys.executable, '-c', 'import sys; sys.path.insert(0, sys.argv[1]); import luatorch_py',
                    args.project], check=True, env={k: v for k, v in os.environ.items()
                                                    if k != 'PYTHONDONTWRITEBYTECODE'})
    anchors = load_anchors()
    datadir = tempfile.mkdtemp(prefix='bench_rss_')
    for wl in anchors.ALL_WORKLOADS:
        anchors.write_data(datadir, wl, anchors.make_data(wl, 0))
    print('%-8s %9s %14s %7s   %s' % ('workload', 'numpy MB', 'luatorch_py MB', 'ratio',
                                       'harness: numpy, luatorch_py MB, ratio (with the check)'))
    for wl in args.workloads.split(','):
        runs = {(fw, who): peak_mb(script, fw, wl, args, datadir) for who, script in (('here', __file__),
                                                                                   ('harness', ANCHORS))
                for fw in ('numpy', 'luatorch_py')}
        ref, ours = runs['numpy', 'here']['exit'], runs['luatorch_py', 'here']['exit']
        href, hours = runs['numpy', 'harness']['exit'], runs['luatorch_py', 'harness']['exit']
        print('%-8s %9.1f %14.1f %6.2fx   %.1f, %.1f, %.2fx' % (wl, ref, ours, ours / ref, href, hours, hours / href),
              flush=True)
        if args.phases:
            for (fw, who), ph in runs.items():
                print('    %-11s %-7s VmHWM MB after %s' % (fw, who, ', '.join('%s %.1f' % kv for kv in ph.items())))


if __name__ == '__main__':
    sys.exit(worker_main() if '--worker' in sys.argv else main())

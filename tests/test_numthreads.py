"""torch.setnumthreads / torch.getnumthreads (Torch7's names) over numpy's BLAS pool, through threadpoolctl."""
import os
import subprocess
import sys

import numpy as np
import pytest

import luatorch_py as torch
from luatorch_py import threads
from fresh import fresh_stdout


@pytest.fixture
def restore_threads():
    n = torch.getnumthreads()
    yield
    torch.setnumthreads(n)


def test_setnumthreads_sets_the_blas_pool(restore_threads):
    from threadpoolctl import threadpool_info
    torch.setnumthreads(1)
    assert torch.getnumthreads() == 1
    blas = [p for p in threadpool_info() if p['user_api'] == 'blas']
    assert blas and all(p['num_threads'] == 1 for p in blas)
    a = np.arange(64 * 64, dtype=np.float64).reshape(64, 64) / 4096
    np.testing.assert_allclose(a @ a, np.einsum('ij,jk->ik', a, a))    # BLAS still computes
    torch.setnumthreads(2)
    assert torch.getnumthreads() == min(2, max(p['num_threads'] for p in threadpool_info()
                                                if p['user_api'] == 'blas'))


@pytest.mark.parametrize('bad', [0, -1, 1.5, True, '2', None])
def test_setnumthreads_rejects_non_positive_ints(bad):
    with pytest.raises(ValueError, match=r"torch.setnumthreads: expected a positive int, got"):
        torch.setnumthreads(bad)


def test_setnumthreads_takes_numpy_ints(restore_threads):
    torch.setnumthreads(np.int64(1))          # was "expected a positive int, got 1"
    assert torch.getnumthreads() == 1


def test_available_cores_is_the_affinity():
    assert threads.available_cores() == len(os.sched_getaffinity(0))


def test_import_does_not_load_threadpoolctl_or_optional_deps():
    code = ("import sys, luatorch_py; "
            "print(sorted(m for m in ('threadpoolctl', 'tqdm', 'matplotlib', 'cupy', 'torchfile') "
            "if m in sys.modules))")
    out = fresh_stdout(code)
    assert out.strip() == '[]'


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _script_then_threads(script, *args):
    """Run scripts/<script>'s main(args) in a fresh interpreter; (its stdout, torch.getnumthreads() after it)."""
    code = ("import importlib.util, sys, luatorch_py as torch\n"
            f"spec = importlib.util.spec_from_file_location('s', {os.path.join(ROOT, 'scripts', script)!r})\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            f"m.main({list(args)!r})\n"
            "print('THREADS', torch.getnumthreads())\n")
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    return p


def test_xor_script_sets_threads():
    p = _script_then_threads('xor.py', '--threads', '1', '--iterations', '200')
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-1] == 'THREADS 1' and 'error:' in p.stdout
    p = _script_then_threads('xor.py', '--threads', '0')
    assert p.returncode == 2 and '--threads must be >= 1' in p.stderr


def test_mnist_script_threads_default_to_the_available_cores():
    import importlib.util
    spec = importlib.util.spec_from_file_location('mnist_script', os.path.join(ROOT, 'scripts', 'mnist.py'))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    assert m.parse([]).threads == len(os.sched_getaffinity(0))
    assert m.parse(['--threads', '1']).threads == 1
    with pytest.raises(SystemExit):
        m.parse(['--threads', '0'])

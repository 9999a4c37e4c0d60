"""The gpu-marked tests against tests/fakecupy, a strict CPU stand-in for CuPy (host/device mixing, CuPy's narrower
signatures and dtype limits raise as on a GPU).  It checks the CUDA code paths on every run, without a device; it
does not check CUDA numerics, which only the real gpu-marked tests on a device do."""
import os
import re
import subprocess
import sys

import pytest

from luatorch_py import backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = os.path.join(ROOT, 'tests', 'fakecupy')


@pytest.mark.skipif(backend.cuda_available(), reason='a real CUDA device is here: the gpu-marked tests run on it')
def test_gpu_tests_pass_against_the_strict_fake_cupy():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([FAKE, ROOT, os.environ.get('PYTHONPATH', '')]))
    p = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-m', 'gpu', '-p', 'no:cacheprovider', 'tests'],
                       capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ''
    assert p.returncode == 0, p.stdout[-5000:] + p.stderr[-2000:]
    m = re.match(r'(\d+) passed', last)
    assert m and int(m.group(1)) >= 100 and 'failed' not in last and 'error' not in last, last

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
    assert m and int(m.group(1)) >= 100 and not re.search(r'\b(failed|errors?)\b', last), last   # 'xfailed' is fine


STRICTNESS = r'''
import numpy as np
import pytest
import cupy as cp
import cupyx

assert cp.__file__.endswith(('fakecupy/cupy/__init__.py', 'fakecupy\\cupy\\__init__.py')), cp.__file__
d, h = cp.arange(6, dtype=cp.float32).reshape(2, 3), np.ones((2, 3), np.float32)
with pytest.raises(TypeError, match='Implicit conversion'):
    np.asarray(d)
with pytest.raises(TypeError, match='Implicit conversion'):
    h[...] = d
with pytest.raises(TypeError, match='Unsupported type'):
    cp.add(d, h)
with pytest.raises(TypeError, match='Unsupported type'):
    d + h
with pytest.raises(TypeError, match='mode'):
    cp.take(d, cp.array([0, 1]), mode='clip')
with pytest.raises(TypeError, match='Wrong arguments'):
    cp.add(d, 1, out=d, where=d > 0)
with pytest.raises(TypeError, match='out'):
    cp.einsum('ij->ji', d, out=cp.empty((3, 2), cp.float32))
with pytest.raises(TypeError, match='only supports'):
    cp.add.at(cp.zeros(3, cp.int16), cp.array([0, 0]), 1)
with pytest.raises(TypeError, match='only supports'):
    cupyx.scatter_add(cp.zeros(3, cp.int16), cp.array([0, 0]), 1)
with pytest.raises(ValueError, match='overlaps'):
    cp.add(d[:, :2], 1, out=d[:, 1:])
cp.add(d, 1, out=d)                      # element for element: allowed, as on a GPU
print('strict')
'''


def test_fake_cupy_is_strict():
    """What docs/developing.md says the stand-in rejects: host/device mixing, implicit conversion, CuPy's narrower
    signatures and atomics' dtypes, overlapping outputs."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([FAKE, os.environ.get('PYTHONPATH', '')]))
    p = subprocess.run([sys.executable, '-c', STRICTNESS], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0 and p.stdout.strip() == 'strict', p.stdout + p.stderr

"""Every ```python block of README.md and docs/*.md runs as written (issue 13): the blocks of one file share one
namespace and run in order, in a scratch folder beside a link to ../shared (so '../shared/...' paths resolve as
they do from the repository root).  A file skips from the first block that needs CUDA (without a device) or a
../shared path that is absent."""
import contextlib
import io
import os
import re

import pytest

from luatorch_py import backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), 'shared')
FILES = ['README.md'] + sorted(os.path.join('docs', f) for f in os.listdir(os.path.join(ROOT, 'docs'))
                               if f.endswith('.md'))
_CUDA = re.compile(r'\.cuda\(\)|Cuda[A-Z]\w*Tensor|CudaTensor|cutorch\.')


def blocks(path):
    """(line, source) of each ```python block of the file."""
    text = open(os.path.join(ROOT, path), encoding='utf-8').read()
    return [(text[:m.start()].count('\n') + 2, m.group(1))
            for m in re.finditer(r'^```python\n(.*?)^```', text, re.S | re.M)]


def test_the_docs_have_python_blocks():
    found = {f: len(blocks(f)) for f in FILES}
    assert sum(found.values()) >= 10 and found['README.md'] >= 1 and found[os.path.join('docs', 'porting.md')] >= 3


@pytest.mark.parametrize('path', [f for f in FILES if blocks(f)])
def test_python_blocks_run(path, tmp_path, monkeypatch):
    work = tmp_path / 'repo'
    work.mkdir()
    if os.path.isdir(SHARED):
        os.symlink(SHARED, tmp_path / 'shared')
    monkeypatch.chdir(work)
    ns = {'__name__': '__docs__'}
    for line, src in blocks(path):
        if _CUDA.search(src) and not backend.cuda_available():
            pytest.skip(f"{path}:{line} needs a CUDA device (none here)")
        for p in re.findall(r"'(\.\./shared/[^']*)'", src):
            if not os.path.exists(p):
                pytest.skip(f"{path}:{line} reads {p}, absent here")
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(src, f'{path}:{line}', 'exec'), ns)
        except Exception as e:
            raise AssertionError(f"the python block at {path}:{line} fails as written: {type(e).__name__}: {e}") from e

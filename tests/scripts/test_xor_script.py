"""scripts/xor.py: its command-line checks."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, 'scripts', 'xor.py')


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=120, cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=REPO))


def test_xor_script_every_must_be_positive():
    p = run('--every', '0')                 # was a ZeroDivisionError traceback at the first iteration
    assert p.returncode == 2 and p.stdout == '' and 'Traceback' not in p.stderr
    assert 'xor.py: error: --every must be >= 1' in p.stderr
    p = run('--iterations', '3', '--every', '2')
    assert p.returncode == 0 and [ln[:6] for ln in p.stdout.splitlines()] == ['error:', 'error:']

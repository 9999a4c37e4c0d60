"""Code run in a fresh interpreter (imported as ``from fresh import fresh_stdout``; tests/conftest.py's folder is on
sys.path): what a process sees before anything else has loaded -- the files nn loads on first use, import-time
state -- which a test inside this pytest process, where much has loaded, cannot see."""
import subprocess
import sys


def fresh_stdout(code, *args, timeout=120):
    """The stdout of ``python -c code *args`` in a fresh interpreter; a nonzero exit fails with its stderr, and one
    still running after ``timeout`` seconds is killed and fails (what these runs test for is often a deadlock)."""
    p = subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True, timeout=timeout)
    if p.returncode:
        raise AssertionError(f"the fresh interpreter exited with {p.returncode}:\n{p.stderr}")
    return p.stdout

"""The launch/sync/allocation counters of tests/fakecupy (imported as ``from launch_counters import counters``;
tests/conftest.py puts this folder on sys.path)."""
import pytest


def counters():
    """tests/fakecupy's counters (launches, syncs, allocs); skips on a real CuPy, which has none."""
    import cupy
    if not hasattr(cupy, '_counters'):
        pytest.skip('launch counting needs tests/fakecupy (a real CuPy has no counters)')
    return cupy._counters

"""luatorch_py.random's engine is numpy's MT19937, made at the first draw: seeding (init_genrand in Python) and the
state bytes before it match numpy's legacy seeding, and ``import luatorch_py`` does not load numpy.random."""
import numpy as np
import pytest

from luatorch_py import random as R
from fresh import fresh_stdout


@pytest.mark.parametrize('seed', [0, 1, 1234, 0xffffffff])
def test_init_genrand_is_numpys_legacy_seeding(seed):
    assert R._init_genrand(seed).tolist() == np.random.RandomState(seed).get_state()[1].tolist()


def test_state_and_draws_do_not_depend_on_when_the_engine_is_made():
    lazy, eager = R.Generator(42), R.Generator(42)
    eager.random()                                     # engine made, one word drawn
    eager.manualSeed(42)
    assert lazy._engine is None and eager._engine is not None
    assert np.array_equal(lazy.getState(), eager.getState())
    moved = R.Generator(7)
    moved.setState(eager.getState())                   # a state set before the engine exists
    assert moved._engine is None
    want = eager.uniform_array(1000)
    assert np.array_equal(lazy.uniform_array(1000), want)
    assert np.array_equal(moved.uniform_array(1000), want)
    g = R.Generator(3)
    g.uniform_array(1500)                              # mid-stream, across a twist
    h = R.Generator(9)
    h.setState(g.getState())
    assert np.array_equal(h.uniform_array(3000), g.uniform_array(3000))


def test_import_leaves_numpy_random_out():
    """numpy.random loads secrets/hashlib/OpenSSL: ~7 MB resident and ~13 ms that ``import luatorch_py`` need not pay
    (a first draw loads it)."""
    code = ("import sys, luatorch_py; a = ('numpy.random' in sys.modules, 'hashlib' in sys.modules); "
            "luatorch_py.manualSeed(1); b = 'numpy.random' in sys.modules; luatorch_py.uniform(); "
            "print(*a, b, 'numpy.random' in sys.modules)")
    out = fresh_stdout(code)
    assert out.split() == ['False', 'False', 'False', 'True']

"""Every case of ../shared/fixtures/t7/maths (490 calls that real Lua Torch7 made over its tensor, maths, storage and
random docs) performed in its Python spelling by tests/maths_oracle.py and compared with Lua's result.

MISSING lists the cases that still fail (functions or forms not built yet) as strict xfails: a case that starts
passing fails here until its entry is removed.  ``python tests/maths_oracle.py --missing`` (and ``--cuda --missing``
under ``PYTHONPATH=tests/fakecupy:.``) prints the sets as they stand.  The gpu-marked variant runs the cases that have
a CUDA form with their input tensors on the GPU (fakecupy where there is none).
"""
import os

import pytest

import maths_oracle as oracle

_CASES = oracle.load_cases() if os.path.exists(oracle.CASES) else []
_BY_KEY = {c['key']: c for c in _CASES}

MISSING = {}          # every case passes on the CPU
CUDA_MISSING = {}     # and with CUDA tensors


def _params(cuda):
    if not _CASES:        # ../shared absent: one test that the shared_dir fixture skips
        return [pytest.param(None, id='fixtures-absent')]
    missing = dict(MISSING, **CUDA_MISSING) if cuda else MISSING
    out = []
    for c in _CASES:
        if cuda and not oracle.cuda_applicable(c):
            continue
        marks = [pytest.mark.gpu] if cuda else []
        if c['key'] in missing:
            marks.append(pytest.mark.xfail(strict=True, reason=missing[c['key']]))
        out.append(pytest.param(c['key'], id=c['key'], marks=marks))
    return out


def _run(key, cuda):
    ok, why = oracle.run_case(_BY_KEY[key], cuda=cuda)
    assert ok, f"{key}: {why}"


@pytest.mark.parametrize('key', _params(False))
def test_case_matches_lua_torch7(key, shared_dir):
    _run(key, False)


@pytest.mark.parametrize('key', _params(True))
def test_case_matches_lua_torch7_on_cuda_tensors(key, shared_dir):
    _run(key, True)


def test_missing_sets_name_real_cases(shared_dir):
    if not _CASES:
        pytest.skip('fixtures absent')
    assert not set(MISSING) - set(_BY_KEY) and not set(CUDA_MISSING) - set(_BY_KEY)
    assert len(_CASES) == 490 and len(_BY_KEY) == 490


def test_the_oracle_fails_a_wrong_result(shared_dir):
    """A case with its Lua result changed, or with its indices left 1-based, must fail."""
    if not _CASES:
        pytest.skip('fixtures absent')
    import luatorch_py as torch
    c = dict(next(c for c in _CASES if c['form'] == 'self:index(2, a2)'))
    assert oracle.run_case(c) == (True, '')
    wrong = oracle._fresh(c)
    wrong['result'] = wrong['result'] + 1e-6
    ok, why = oracle.run_case(wrong)
    assert not ok and 'differs' in why
    raw = oracle._fresh(c)
    raw['index_args'] = []                 # Lua's 1-based indices given as they are: another column
    assert not oracle.run_case(raw)[0]
    view = dict(next(c for c in _CASES if c['form'] == 'self:narrow(1, 2, 2)'))
    assert oracle.run_case(view) == (True, '')
    copy = oracle._fresh(view)
    copy['fn'] = 'clone'                   # same values, not a view: 'view' must see it
    copy['args'], copy['dims'], copy['index_args'] = [], [], []
    copy['result'] = copy['self'].narrow(0, 1, 2).clone()
    assert oracle.run_case(copy)[0] is False
    assert torch.isTensor(c['result'])

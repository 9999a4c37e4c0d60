import os

import pytest

from luatorch_py import backend

SHARED = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', 'shared'))


def pytest_collection_modifyitems(config, items):
    if backend.cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device and CuPy (pip install luatorch_py[cuda12]); none here")
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=['cpu', pytest.param('cuda', marks=pytest.mark.gpu)])
def device(request):
    """Parametrize a test over backends: 'cpu' always, 'cuda' when a device is present."""
    return request.param


@pytest.fixture
def shared_dir():
    """../shared beside the repository (datasets, Lua-written fixtures); skips when absent."""
    if not os.path.isdir(SHARED):
        pytest.skip(f"../shared not found at {SHARED}: the datasets and Lua fixtures are absent")
    return SHARED


@pytest.fixture
def restore_default_type():
    """Put back the default tensor type a test changes (torch.setdefaulttensortype is global)."""
    import luatorch_py as torch
    old = torch.getdefaulttensortype()
    yield
    torch.setdefaulttensortype(old)

"""optim.Logger: Torch7's text format, and plot() with and without matplotlib."""
import sys
import warnings

import pytest

import luatorch_py as torch
from luatorch_py import optim


def test_set_names_then_rows(tmp_path):
    path = tmp_path / 'sub' / 'train.log'            # the folder is created, as Torch7's mkdir -p
    log = optim.Logger(str(path))
    log.setNames(['train error', 'test error'])
    log.add([0.5, 1.25])
    log.add({'test error': 1e-3, 'train error': 12345.678})     # a dict row goes into the named columns
    log.add([torch.DoubleTensor([2.0]), 'n/a'])
    assert path.read_text() == ('train error\ttest error\t\n'
                                ' 5.0000e-01\t 1.2500e+00\t\n'
                                ' 1.2346e+04\t 1.0000e-03\t\n'
                                ' 2.0000e+00\tn/a\t\n')
    assert log.symbols['train error'] == [0.5, 12345.678, 2.0]
    log.close()


def test_first_dict_row_names_the_columns(tmp_path):
    path = tmp_path / 'a.log'
    log = optim.Logger(str(path))
    log.add({'loss': 3, 'acc': -0.25})
    log.add({'acc': 0.5, 'loss': 2})
    assert path.read_text() == 'loss\tacc\t\n 3.0000e+00\t-2.5000e-01\t\n 2.0000e+00\t 5.0000e-01\t\n'
    with pytest.raises(ValueError, match='do not match the columns'):
        log.add({'loss': 1})
    with pytest.raises(TypeError, match='only log numbers and strings'):
        log.add({'loss': 1, 'acc': [1]})
    with pytest.raises(ValueError, match='setNames must come first'):
        log.setNames(['x'])


def test_stdout_logger(capsys):
    log = optim.Logger()
    log.add([1.5])
    out = capsys.readouterr().out
    assert '<Logger> warning: no path provided, logging to std out' in out
    assert '1\t\n 1.5000e+00\t\n' in out


def test_plot_without_matplotlib_warns_and_returns(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'matplotlib', None)     # `import matplotlib...` raises ImportError
    monkeypatch.setitem(sys.modules, 'matplotlib.figure', None)
    log = optim.Logger(str(tmp_path / 'x.log'))
    log.setNames(['a'])
    for v in (3, 2, 1):
        log.add([v])
    with pytest.warns(RuntimeWarning, match='pip install matplotlib'):
        assert log.plot() is None
    with warnings.catch_warnings():
        warnings.simplefilter('error')                      # warns once only
        assert log.plot() is None
    assert not (tmp_path / 'x.log.png').exists()


def test_plot_writes_png(tmp_path):
    pytest.importorskip('matplotlib')
    log = optim.Logger(str(tmp_path / 'x.log'))
    log.setNames(['train', 'test'])
    for i in range(5):
        log.add([1.0 / (i + 1), 2.0 / (i + 1)])
    log.style({'train': '-', 'test': ['+', '-']}).setlogscale(True)
    png = log.plot()
    assert png == str(tmp_path / 'x.log') + '.png'
    assert (tmp_path / 'x.log.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert log.plot('test') == png
    with pytest.raises(KeyError, match='no column'):
        log.plot('nope')

"""Torch7's optim.Logger: log named values to a text file during training, and plot them."""
import numbers
import os
import sys
import time
import warnings

from ..tensor import Tensor

_STYLES = {'-': '-', '+': '+', '.': '.', '+-': '-+', '-+': '-+', '~': '-', '|': '|', 'o': 'o', 'x': 'x',
           '*': '*'}


class Logger:
    """``Logger(path)``: a tab-separated text log at ``path`` (its folder is created); ``Logger()`` logs to
    stdout.  ``timestamp=True`` appends ``-%Y_%m_%d_%X`` to the file name, as Torch7.

    Columns come from ``setNames(['train error', 'test error'])`` or from the keys of the first dict passed to
    ``add``.  Each row is written and flushed at once: numbers as ``%11.4e``, strings as they are, every field
    followed by a tab (Torch7's format).  ``plot()`` writes ``path + '.png'`` with matplotlib (Torch7 wrote
    ``path + '.eps'`` with gnuplot).
    """

    def __init__(self, filename=None, timestamp=False):
        if filename:
            self.name = os.fspath(filename)
            folder = os.path.dirname(self.name)
            if folder:
                os.makedirs(folder, exist_ok=True)
            path = self.name
            if timestamp:
                path = path + '-' + time.strftime('%Y_%m_%d_%X')
            self.path = path
            self.file = open(path, 'w')
            self.pngfile = self.name + '.png'
        else:
            self.file = sys.stdout
            self.name = 'stdout'
            self.path = None
            self.pngfile = None
            print('<Logger> warning: no path provided, logging to std out')
        self.empty = True
        self.names = []          # column names, in order
        self.idx = {}            # name -> column index (0-based)
        self.symbols = {}        # name -> list of logged values
        self.styles = {}         # name -> list of plot styles
        self.figure = None
        self.showPlot = True
        self.plotRawCmd = None
        self.defaultStyle = '+'
        self.logscale = False
        self.nsymbols = 0
        self._warned = False

    # -- columns ---------------------------------------------------------------------------------------------
    def _set_columns(self, names):
        self.names = [str(n) for n in names]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"Logger: column names must be distinct, got {self.names}")
        self.empty = False
        self.nsymbols = len(self.names)
        self.idx = {n: k for k, n in enumerate(self.names)}
        self.symbols = {n: [] for n in self.names}
        self.styles = {n: [self.defaultStyle] for n in self.names}
        self.file.write(''.join(n + '\t' for n in self.names) + '\n')
        self.file.flush()

    def setNames(self, names):
        """Name the columns (written as the header line)."""
        if not self.empty:
            raise ValueError(f"Logger: the columns are already set ({self.names}); setNames must come first")
        self._set_columns(list(names))
        return self

    # -- rows ------------------------------------------------------------------------------------------------
    @staticmethod
    def _field(name, val):
        if isinstance(val, Tensor):
            val = val.item()
        if isinstance(val, str):
            return val
        if isinstance(val, numbers.Real) and not isinstance(val, bool):
            return '%11.4e' % float(val)
        raise TypeError(f"Logger: can only log numbers and strings, got {type(val).__name__} for {name!r}")

    def add(self, symbols):
        """Log one row: a dict {name: value} or a list of values in column order."""
        if isinstance(symbols, dict):
            row = {str(k): v for k, v in symbols.items()}
            if self.empty:
                self._set_columns(list(row))
            missing = [n for n in self.names if n not in row]
            extra = [k for k in row if k not in self.idx]
            if missing or extra:
                raise ValueError(f"Logger.add: the row's keys {list(row)} do not match the columns "
                                 f"{self.names} (missing {missing}, unknown {extra})")
            values = [row[n] for n in self.names]
        else:
            values = list(symbols)
            if self.empty:
                self._set_columns([str(k + 1) for k in range(len(values))])   # Lua's 1-based keys
            if len(values) != len(self.names):
                raise ValueError(f"Logger.add: got {len(values)} values for the {len(self.names)} columns "
                                 f"{self.names}")
        fields = [self._field(n, v) for n, v in zip(self.names, values)]
        self.file.write(''.join(f + '\t' for f in fields) + '\n')
        self.file.flush()
        for n, v in zip(self.names, values):
            self.symbols[n].append(v.item() if isinstance(v, Tensor) else v)
        return self

    # -- plotting --------------------------------------------------------------------------------------------
    def style(self, symbols):
        """Plot styles per column: a dict {name: style or [styles]} or a list in column order.  Styles are
        Torch7's gnuplot ones: '-' lines, '+' crosses, '.' dots, '+-' lines with crosses, '~' smoothed lines
        (drawn as lines), '|' impulses (drawn as vertical ticks); others are passed to matplotlib."""
        items = symbols.items() if isinstance(symbols, dict) else \
            ((self.names[k] if k < len(self.names) else str(k + 1), s) for k, s in enumerate(symbols))
        for name, st in items:
            name = str(name)
            if isinstance(st, str):
                self.styles[name] = [st]
            elif isinstance(st, (list, tuple)) and all(isinstance(s, str) for s in st):
                self.styles[name] = list(st)
            else:
                raise TypeError(f"Logger.style: style should be a string or a list of strings, got {st!r} "
                                f"for {name!r}")
        return self

    def setlogscale(self, value=True):
        self.logscale = bool(value)
        return self

    def display(self, value=True):
        """Torch7's switch for the on-screen plot; kept for compatibility (plot() only writes the PNG)."""
        self.showPlot = bool(value)
        return self

    def plot(self, *names):
        """Plot the logged columns (all, or those named) that have at least two numeric values into
        ``<log path>.png``; returns that path, or None when there is nothing to plot or no log file.

        Needs matplotlib: without it, warns once (``pip install matplotlib``) and returns None."""
        try:
            from matplotlib.figure import Figure
            from matplotlib.backends.backend_agg import FigureCanvasAgg
        except ImportError:
            if not self._warned:
                warnings.warn("<Logger> cannot plot: matplotlib is not installed (pip install matplotlib); "
                              "the text log is still written", RuntimeWarning, stacklevel=2)
                self._warned = True
            return None
        wanted = list(names) if names else list(self.names)
        series = []
        for name in wanted:
            name = str(name)
            if name not in self.symbols:
                raise KeyError(f"Logger.plot: no column named {name!r}; columns: {self.names}")
            vals = [v for v in self.symbols[name] if isinstance(v, numbers.Real)]
            if len(vals) > 1:
                series.append((name, vals))
        if not series:
            return None
        if self.pngfile is None:
            if not self._warned:
                warnings.warn("<Logger> logging to stdout: no file to write the plot next to",
                              RuntimeWarning, stacklevel=2)
                self._warned = True
            return None
        fig = Figure()
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        for name, vals in series:
            xs = range(1, len(vals) + 1)
            for st in self.styles.get(name, [self.defaultStyle]):
                fmt = _STYLES.get(st, st)
                try:
                    ax.plot(xs, vals, fmt, label=name)
                except ValueError:
                    ax.plot(xs, vals, '-', label=name)
        if self.logscale:
            ax.set_yscale('log')
        ax.grid(True)
        ax.set_title(f'<Logger::{self.name}>')
        ax.legend()
        fig.savefig(self.pngfile)
        self.figure = fig
        return self.pngfile

    def close(self):
        if self.file is not sys.stdout and not self.file.closed:
            self.file.close()

    def __repr__(self):
        return f"optim.Logger({self.name!r}, columns={self.names})"

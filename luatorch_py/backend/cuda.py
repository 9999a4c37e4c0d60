"""Hand-written CUDA kernels, each beside the numpy twin of its index arithmetic.

A ``Kernel`` is CUDA C source for one ``extern "C" __global__`` function, written once over an element type ``T``
(compiled for float and double on first use, through ``cupy.RawKernel``), plus a twin: a Python function with the
same parameters that does the same index arithmetic with numpy on flat arrays.  On a GPU only the CUDA source
runs; the CuPy stand-in in tests/fakecupy runs the twin instead (looked up in ``TWINS`` by the kernel's name), so
CI checks every kernel's indexing, argument order and argument types on every run.

Conventions (so that CUDA and twin cannot drift apart):
- array parameters are raw pointers to C-contiguous arrays (``const T*``, ``T*``, ``const long long*``, ...);
  the twin gets them as flat numpy arrays and writes outputs in place;
- scalar parameters are ``int``, ``long long`` or ``T``: ``Kernel.__call__`` converts Python numbers to exactly
  that C type (a Python int handed to CuPy untyped would be passed as 64 bits: garbage in an ``int`` slot);
- most kernels run one thread per output element over ``n`` elements with a grid-stride loop (``LOOP(i, n)``);
  ``block`` kernels (reductions) say their own launch shape.

Launch cost, not arithmetic, bounds the small nets this package trains: each module pass is a constant number of
launches (most often one), independent of kernel size, batch and channels.
"""
import re

import numpy as np

from . import cupy as get_cupy

TWINS = {}        # kernel name -> numpy twin (read by tests/fakecupy)

_PRELUDE = r'''
#define LOOP(i, n) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
                        i += (long long)blockDim.x * gridDim.x)
'''

_CTYPES = {'float': np.float32, 'double': np.float64, 'int': np.int32, 'long long': np.int64,
           'unsigned char': np.uint8, 'bool': np.bool_}
_BLOCK = 256
_MAX_GRID = 4096            # grid-stride loops: enough blocks to fill any current GPU several times over


def _params(src, name):
    """[(C type of the pointee or scalar, is_pointer)] of kernel ``name`` in ``src`` (T left as 'T')."""
    m = re.search(r'__global__\s+void\s+' + re.escape(name) + r'\s*\(([^)]*)\)', src)
    if m is None:
        raise ValueError(f'kernel source has no __global__ void {name}(...)')
    out = []
    for p in m.group(1).split(','):
        p = p.replace('const', ' ').replace('__restrict__', ' ').strip()
        ptr = '*' in p
        ctype = ' '.join(p.replace('*', ' ').split()[:-1])
        out.append((ctype, ptr))
    return out


class Kernel:
    """One CUDA kernel over element type ``T`` and its numpy twin.

    ``k(n, *args)`` launches enough threads for ``n`` elements (grid-stride); ``k.launch(grid, block, *args,
    shared=0)`` gives the launch shape explicitly."""

    def __init__(self, name, source, twin):
        self.name = name
        self.source = source
        self.params = _params(source, name)
        self._compiled = {}
        TWINS[name] = twin

    def _raw(self, dtype):
        """(RawKernel for T = dtype, per-parameter scalar converters: None for pointers)."""
        k = self._compiled.get(dtype)
        if k is None:
            cupy = get_cupy()
            ctype = {np.dtype(np.float32): 'float', np.dtype(np.float64): 'double'}.get(np.dtype(dtype))
            if ctype is None:
                raise TypeError(f'kernel {self.name}: no version for dtype {np.dtype(dtype)} (float32/float64 only)')
            code = f'typedef {ctype} T;\n' + _PRELUDE + self.source
            conv = tuple(None if ptr else (np.dtype(dtype).type if c == 'T' else _CTYPES[c]) for c, ptr in self.params)
            k = self._compiled[dtype] = (cupy.RawKernel(code, self.name), conv)
        return k

    def _args(self, args, conv):
        if len(args) != len(conv):
            raise TypeError(f'kernel {self.name}: {len(conv)} arguments expected, got {len(args)}')
        return tuple(a if c is None else c(a) for a, c in zip(args, conv))

    def __call__(self, n, *args, dtype=None):
        """Launch over ``n`` elements; ``dtype`` (default: the first float array argument's) picks T."""
        if n <= 0:
            return
        raw, conv = self._raw(dtype or _first_array(args).dtype)
        grid = min((n + _BLOCK - 1) // _BLOCK, _MAX_GRID)
        raw((grid,), (_BLOCK,), self._args(args, conv))

    def launch(self, grid, block, *args, shared=0, dtype=None):
        raw, conv = self._raw(dtype or _first_array(args).dtype)
        raw((grid,), (block,), self._args(args, conv), shared_mem=shared)


def _first_array(args):
    for a in args:
        dt = getattr(a, 'dtype', None)
        if dt is not None and dt.kind == 'f' and getattr(a, 'ndim', 0):
            return a
    raise TypeError('kernel launch: no float array among the arguments to choose T from')


def kernel(source, twin=None):
    """Decorator form: ``@kernel(SOURCE)`` over the twin function, whose name is the kernel's."""
    def wrap(fn):
        return Kernel(fn.__name__, source, fn)
    if twin is not None:
        return wrap(twin)
    return wrap


def grid_index(n):
    """The twin's thread indices: every element index a grid-stride loop over ``n`` visits."""
    return np.arange(int(n), dtype=np.int64)

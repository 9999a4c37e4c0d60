"""Lua Torch7's own results for its tensor library, replayed on luatorch_py.

``../shared/fixtures/t7/maths/maths_cases.t7`` holds 490 cases that real Lua Torch7 computed over the four docs
(tensor, maths, storage, random; the README beside it gives the format).  This module performs each case as a
Python user writes the same call and compares with Lua's result:

- dims and indices are 0-based here: the case's ``dims`` and ``index_args`` are shifted down by one before the
  call (positive ones only: Lua's -1 is Python's -1, the last), and the ``index_results`` shifted up by one after;
- ``torch.f(...)`` -> ``torch.f(...)``, ``self:f(...)`` -> ``self.f(...)``, ``a.f(res, ...)`` (via) -> the class's
  ``f``; operators ``+ - / %`` and ``unm`` are Python's, ``*`` on two tensors is Lua's matrix product, ``@`` here
  (docs/tensor.md, "Differences from Lua Torch7"), ``#x`` is ``x.size()``; ``self[...]`` with Lua's table index
  forms translated (``{i, {a, b}, {}}`` -> ``[i-1, a-1:b, :]``);
- result-first forms (``nres``) must return the given result tensors;
- the documented differences are checked in their Python spelling: ``torch.randperm(n)`` is a LongTensor.

``python tests/maths_oracle.py [--doc maths] [--fn median] [--cuda] [-v]`` prints a summary per doc and per fn;
``-v`` lists every failing case with its reason.  ``--cuda`` runs the cases with a CUDA form (``cuda_applicable``)
with their input tensors moved to their CUDA twins, views kept as views (run it with
``PYTHONPATH=tests/fakecupy:.`` on a machine without a GPU).
"""
import math
import os
import sys
import tempfile

import numpy as np

if __name__ == '__main__':
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import luatorch_py as torch                      # noqa: E402
from luatorch_py import backend                  # noqa: E402
from luatorch_py.storage import SizeStorage, Storage          # noqa: E402
from luatorch_py.tensor import Tensor            # noqa: E402
from luatorch_py.types import on_device, type_info          # noqa: E402

SHARED = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared'))
CASES = os.path.join(SHARED, 'fixtures', 't7', 'maths', 'maths_cases.t7')

# the Lua functions the cases name ({__function=name})
FUNCTIONS = {
    'double': lambda x: 2 * x,
    'square1': lambda x: x * x + 1,
    'mul': lambda a, b: a * b,
    'axpy': lambda x, y, z: x + y * z,
    'sin': math.sin,
}


# -- loading -------------------------------------------------------------------------------------------------------
def _seq(x):
    """A Lua array table (a dict keyed 1..n, or already a list) as a list."""
    return [x[i] for i in sorted(x)] if isinstance(x, dict) else list(x)


def _is_array(x):
    return isinstance(x, list) or (isinstance(x, dict) and all(isinstance(k, int) for k in x)
                                   and sorted(x) == list(range(1, len(x) + 1)))


def load_cases(path=CASES):
    """The cases as dicts, in file order (each with an ``id``: its position, and ``key``: a unique readable name)."""
    cases = [dict(c) for c in _seq(torch.load(path))]
    seen = {}
    for i, c in enumerate(cases):
        c['id'] = i
        key = f"{c['name']}:{c['form']}"
        seen[key] = seen.get(key, 0) + 1
        c['key'] = key if seen[key] == 1 else f"{key}#{seen[key]}"
    return cases


def _fresh(case):
    """A private copy of the case (the file's objects are shared between cases; calls change them in place).
    Sharing inside the case (pre steps and the main call) is kept."""
    return dict(torch.deserialize(torch.serialize({k: v for k, v in case.items()})))


# -- turning Lua values into Python ones -------------------------------------------------------------------------------
class _Env:
    """Per-case state: generators by id, temporary files, CUDA conversions (one per object)."""

    def __init__(self, cuda):
        self.cuda = cuda
        self.gens = {}
        self.files = []
        self.moved = {}
        self.keep = []

    def close(self):
        for f in self.files:
            try:
                os.unlink(f)
            except OSError:
                pass

    def value(self, v, keep=False):
        """Markers replaced by their objects; Lua array tables as lists; tensors moved when cuda (not with
        ``keep``: a random state stays a CPU ByteTensor)."""
        if isinstance(v, dict):
            if '__generator' in v:
                g = self.gens.get(v['__generator'])
                if g is None:
                    g = self.gens[v['__generator']] = torch.Generator()
                    g.manualSeed(int(v['seed']))      # Lua: torch.manualSeed(gen, seed)
                return g
            if '__function' in v:
                return FUNCTIONS[v['__function']]
            if '__file' in v:
                fd, name = tempfile.mkstemp(prefix='maths_oracle_')
                with os.fdopen(fd, 'wb') as fh:
                    data = v['__file']
                    fh.write(data.encode('latin-1') if isinstance(data, str) else bytes(data))
                self.files.append(name)
                return name
            if _is_array(v):
                return [self.value(x, keep) for x in _seq(v)]
            return {k: self.value(x, keep) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x, keep) for x in v]
        if self.cuda and not keep and isinstance(v, Tensor) and not v.is_cuda():
            t = self.moved.get(id(v))
            if t is None:
                t = self.moved[id(v)] = self.tensor(v)
            return t
        return v

    def storage(self, st):
        """The CUDA twin of CPU storage ``st`` (one per storage: tensors sharing it keep sharing)."""
        cst = self.moved.get(id(st))
        if cst is None:
            cls = on_device(st._info, True).storage_class
            cst = self.moved[id(st)] = cls(_data=backend.to_device(st._data.copy(), True))
            self.keep.append(st)          # ids stay valid while the case runs
        return cst

    def tensor(self, t):
        """The CUDA twin of CPU tensor ``t`` with the same geometry over the twin of its storage."""
        cls = on_device(t._info, True).tensor_class
        if not t.nElement():
            return cls()
        return cls(self.storage(t.storage()), t.storageOffset(), t.size(), t.stride())


def _down(v):
    """A 1-based Lua index or dim as Python's 0-based one (negative ones count from the end in both)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float, np.integer, np.floating)):
        return int(v) - 1 if v > 0 else int(v)
    if isinstance(v, Tensor):
        a = backend.to_numpy(v._a)
        shifted = np.where(a > 0, a - 1, a).astype(a.dtype)
        t = v.clone()                   # a new tensor: the case's other references keep Lua's values
        if a.size:
            t._a[...] = backend.to_device(shifted, v.is_cuda())
        return t
    if isinstance(v, Storage):
        return type(v)([x - 1 if x > 0 else x for x in v.tolist()])
    if isinstance(v, list):
        return [_down(x) for x in v]
    raise TypeError(f"cannot shift {type(v).__name__} {v!r} as an index")


def _at(seq, path):
    """seq[path] for a 1-based position or a path {i, j} (seq[i][j])."""
    path = path if isinstance(path, list) else [path]
    for p in path[:-1]:
        seq = seq[p - 1]
    return seq, path[-1] - 1


def _shift_args(args, positions):
    for p in positions or []:
        holder, i = _at(args, _seq(p) if isinstance(p, dict) else p)
        holder[i] = _down(holder[i])


def _lua_range(a, b):
    """Lua's inclusive {a, b} (1-based, negative from the end) as a Python slice."""
    start = a - 1 if a > 0 else a
    stop = b if b > 0 else (b + 1 if b < -1 else None)
    return slice(start, stop)


def _index_key(k):
    """Lua's tensor index (a number, a table {i, {a, b}, {a}, {}}, a LongStorage, a ByteTensor mask) in Python."""
    if isinstance(k, bool):
        return k
    if isinstance(k, (int, float)):
        return _down(k)
    if isinstance(k, Storage):
        return tuple(_down(x) for x in k.tolist())
    if isinstance(k, (list, dict)):
        items = _seq(k) if isinstance(k, dict) else k
        out = []
        for it in items:
            if isinstance(it, (list, dict)):
                r = _seq(it) if isinstance(it, dict) else it
                if not r:
                    out.append(slice(None))
                elif len(r) == 1:
                    out.append(_lua_range(r[0], r[0]))
                else:
                    out.append(_lua_range(r[0], r[1]))
            else:
                out.append(_down(it))
        return tuple(out)
    return k                                          # a mask


# -- performing a call -------------------------------------------------------------------------------------------------
def _perform(step, args, self_):
    call, fn = step['call'], step['fn']
    if call == 'function':
        if step.get('via'):
            return getattr(type(args[step['via'] - 1]), fn)(*args)
        return getattr(torch, fn)(*args)
    if call == 'method':
        return getattr(self_, fn)(*args)
    if call == 'operator':
        a = args[0]
        if fn == 'unm':
            return -a
        if fn == '#':
            return a.size()
        b = args[1]
        if fn == '+':
            return a + b
        if fn == '-':
            return a - b
        if fn == '*':                   # Lua's * on two tensors is the matrix product; on a number, scaling
            return a @ b if isinstance(a, Tensor) and isinstance(b, Tensor) else a * b
        if fn == '/':
            return a / b
        if fn == '%':
            return a % b
        raise ValueError(f"unknown operator {fn!r}")
    if call == 'index':
        return self_[_index_key(args[0])]
    if call == 'newindex':
        self_[_index_key(args[0])] = args[1]
        return self_
    raise ValueError(f"unknown call kind {call!r}")


# -- comparing ---------------------------------------------------------------------------------------------------------
class Mismatch(Exception):
    pass


def _np(t):
    return backend.to_numpy(t._a) if t._a.size else np.zeros((0,), t._info.dtype)


def _cpu_type(t):
    return on_device(t._info, False).name


def _sizes(t):
    return list(t.size())


def _shift_up(v):
    if isinstance(v, Tensor):
        return v + 1 if v._a.size else v
    if isinstance(v, (int, float, np.integer)):
        return v + 1
    raise Mismatch(f"expected an index (number or tensor), got {type(v).__name__}")


def _tol(float_):
    return (1e-5, 1e-6) if float_ else (1e-9, 1e-10)


def _close(have, want, float_, what):
    have, want = np.asarray(have), np.asarray(want)
    if have.shape != want.shape:
        raise Mismatch(f"{what}: shape {have.shape}, Lua {want.shape}")
    if want.dtype.kind in 'biu' and have.dtype.kind in 'biu':
        if not np.array_equal(have, want):
            bad = np.argwhere(have != want)[0]
            raise Mismatch(f"{what}: differs at {tuple(bad)}: {have[tuple(bad)]} vs Lua's {want[tuple(bad)]}")
        return
    rtol, atol = _tol(float_)
    h, w = have.astype(np.float64), want.astype(np.float64)
    with np.errstate(invalid='ignore'):
        integral = np.all(np.isfinite(w) & (w == np.round(w))) and np.all(np.isfinite(h) & (h == np.round(h)))
    if integral:           # whole numbers (random draws, counts) exactly: a relative tolerance hides +-1 on 2^32
        rtol = atol = 0
    ok = np.isclose(h, w, rtol=rtol, atol=atol, equal_nan=True)
    if not ok.all():
        bad = tuple(np.argwhere(~ok)[0])
        raise Mismatch(f"{what}: differs at {bad}: {h[bad]!r} vs Lua's {w[bad]!r} "
                       f"(max abs diff {np.nanmax(np.abs(h - w)):.3g})")


def _compare(got, exp, float_, what, check=None):
    """Values (and types) of got against Lua's exp."""
    if isinstance(exp, Tensor):
        if not isinstance(got, Tensor):
            raise Mismatch(f"{what}: expected a {exp.type()}, got {type(got).__name__} {got!r:.80}")
        if _cpu_type(got) != exp.type():
            raise Mismatch(f"{what}: type {got.type()}, Lua {exp.type()}")
        if _sizes(got) != _sizes(exp):
            raise Mismatch(f"{what}: size {_sizes(got)}, Lua {_sizes(exp)}")
        if check in ('size', 'geometry'):
            if check == 'geometry' and list(got.stride()) != list(exp.stride()):
                raise Mismatch(f"{what}: stride {list(got.stride())}, Lua {list(exp.stride())}")
            return
        _close(_np(got), _np(exp), float_ or exp.type() == 'torch.FloatTensor', what)
        if check == 'view':
            if list(got.stride()) != list(exp.stride()):
                raise Mismatch(f"{what}: stride {list(got.stride())}, Lua {list(exp.stride())}")
            if got.storageOffset() != exp.storageOffset():
                raise Mismatch(f"{what}: storageOffset {got.storageOffset()} (0-based), Lua's "
                               f"{exp.storageOffset() + 1} (1-based)")
        return
    if isinstance(exp, Storage):
        if not isinstance(got, Storage):
            raise Mismatch(f"{what}: expected a {exp.type()}, got {type(got).__name__} {got!r:.80}")
        if on_device(got._info, False).storage_name != exp.type():
            raise Mismatch(f"{what}: type {got.type()}, Lua {exp.type()}")
        _close(backend.to_numpy(got._data), exp.numpy(), float_, what)
        return
    if isinstance(exp, bool):
        if not isinstance(got, (bool, np.bool_)) or bool(got) != exp:
            raise Mismatch(f"{what}: {got!r}, Lua {exp!r}")
        return
    if isinstance(exp, (int, float)):
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.integer, np.floating)):
            raise Mismatch(f"{what}: expected a number, got {type(got).__name__} {got!r:.80}")
        _close(float(got), float(exp), float_, what)
        return
    if isinstance(exp, (str, bytes)):
        if isinstance(got, str) and got.startswith('torch.Cuda'):      # a type name: CUDA twins compare equal
            got = on_device(type_info(got), False).name
        if got != exp:
            raise Mismatch(f"{what}: {got!r:.80}, Lua {exp!r:.80}")
        return
    if isinstance(exp, (list, dict)) and _is_array(exp):
        exp = _seq(exp)
        if isinstance(got, Storage) or not isinstance(got, (list, tuple)):
            raise Mismatch(f"{what}: expected a table of {len(exp)}, got {type(got).__name__}")
        if len(got) != len(exp):
            raise Mismatch(f"{what}: {len(got)} values, Lua {len(exp)}")
        for i, (g, e) in enumerate(zip(got, exp)):
            _compare(g, e, float_, f"{what}[{i}]")
        return
    raise Mismatch(f"{what}: cannot compare with Lua's {type(exp).__name__} {exp!r:.80}")


def _dmat(t):
    return _np(t).astype(np.float64)


def _reconstruct(fn, got, exp, inp, what):
    g = [_dmat(x) for x in got]
    e = [_dmat(x) for x in exp]
    for i, (a, b) in enumerate(zip(g, e)):
        if a.shape != b.shape:
            raise Mismatch(f"{what}: result {i} has shape {a.shape}, Lua {b.shape}")
    tol = 1e-8

    def near(a, b, name):
        if not np.allclose(a, b, rtol=tol, atol=tol):
            raise Mismatch(f"{what}: {name} differs (max abs diff {np.abs(a - b).max():.3g})")

    def orth(q, name):
        near(q.T @ q, np.eye(q.shape[1]), f"{name}'{name} = I")

    if fn == 'svd':
        (u, s, v), (eu, es, ev) = g, e
        near(s, es, 'S')
        k = s.shape[0]
        near(u[:, :k] @ np.diag(s) @ v[:, :k].T, eu[:, :k] @ np.diag(es) @ ev[:, :k].T, "U*diag(S)*V'")
        orth(u, 'U')
        orth(v, 'V')
    elif fn == 'symeig':
        (ev_, vec), (eev, evec) = g, e
        near(ev_, eev, 'e')
        near(vec @ np.diag(ev_) @ vec.T, evec @ np.diag(eev) @ evec.T, "V*diag(e)*V'")
        orth(vec, 'V')
    elif fn == 'eig':
        (ev_, vec), (eev, _) = g, e
        _eigset(ev_, eev, what)
        lam = ev_[:, 0] + 1j * ev_[:, 1]
        cv = vec.astype(complex)
        j = 0
        while j < len(lam):                 # LAPACK's layout: a complex pair's vector in columns j (re), j+1 (im)
            if ev_[j, 1] != 0 and j + 1 < len(lam):
                cv[:, j] = vec[:, j] + 1j * vec[:, j + 1]
                cv[:, j + 1] = vec[:, j] - 1j * vec[:, j + 1]
                j += 2
            else:
                j += 1
        a = _dmat(inp)
        near(a @ cv, cv @ np.diag(lam), 'A*V = V*diag(e)')
        near(np.linalg.norm(cv, axis=0), np.ones(len(lam)), 'eigenvector norms (LAPACK: 1)')   # not zeros
    elif fn == 'qr':
        (q, r), (eq, er) = g, e
        near(q @ r, eq @ er, 'Q*R')
        orth(q, 'Q')
        if not np.allclose(np.tril(r, -1), 0):
            raise Mismatch(f"{what}: R is not upper triangular")
    else:
        raise Mismatch(f"{what}: no reconstruction check for {fn}")


def _eigset(have, want, what):
    if have.shape != want.shape:
        raise Mismatch(f"{what}: eigenvalues of shape {have.shape}, Lua {want.shape}")
    h = sorted(map(tuple, np.round(have, 8)))
    w = sorted(map(tuple, np.round(want, 8)))
    if not np.allclose(np.array(h), np.array(w), atol=1e-7):
        raise Mismatch(f"{what}: eigenvalues {h}, Lua {w}")


def _gels(got, exp, a, what):
    n = _sizes(a)[1]
    g, e = _dmat(got), _dmat(exp)
    if g.shape[1:] != e.shape[1:] or g.shape[0] < n:
        raise Mismatch(f"{what}: X of shape {g.shape}, Lua {e.shape}")
    _close(g[:n], e[:n], False, f"{what} (first {n} rows)")
    if e.shape[0] > n and g.shape[0] > n:
        _close(np.linalg.norm(g[n:]), np.linalg.norm(e[n:]), False, f"{what} (residual rows' norm)")


def _gathers(inp, dim, vals, idx, what, how):
    """input.gather(dim, idx) equals vals (indices 0-based)."""
    x, v, i = _dmat(inp), _dmat(vals), backend.to_numpy(idx._a)
    if x.ndim == 1 and v.ndim == 1:
        picked = x[i]
    else:
        picked = np.take_along_axis(x, i, axis=dim)
    if not np.allclose(picked, v, rtol=1e-12, atol=0, equal_nan=True):
        raise Mismatch(f"{what}: the indices do not {how}")


RNG_COMPARED = np.r_[0:5016, 5040:5044]       # not normal_x/y/rho (Lua's 5017..5040) nor the padding


def _check(case, got, args, self_, inp_args):
    """Raise Mismatch unless ``got`` (the returned value or values) is what Lua returned."""
    check, fn, float_ = case.get('check'), case['fn'], bool(case.get('float'))
    exp = case.get('result')
    if check == 'number':
        if isinstance(got, bool) or not isinstance(got, (int, float, np.integer, np.floating)):
            raise Mismatch(f"expected a number, got {type(got).__name__} {got!r:.80}")
        return
    if check == 'generator':
        if not isinstance(got, torch.Generator):
            raise Mismatch(f"expected a torch.Generator, got {type(got).__name__}")
        return
    if check == 'rngstate':
        if not isinstance(got, Tensor) or got.type() != 'torch.ByteTensor':
            raise Mismatch(f"expected a torch.ByteTensor, got {getattr(got, 'type', lambda: type(got).__name__)()}")
        if _sizes(got) != [5048]:
            raise Mismatch(f"expected 5048 bytes, got size {_sizes(got)}")
        _close(_np(got)[RNG_COMPARED], exp.numpy()[RNG_COMPARED], False, 'state bytes')
        return

    multi = bool(case.get('multi'))
    if case.get('result_is') == 'self':
        gots = [self_]
    elif multi:
        if not isinstance(got, (tuple, list)):
            raise Mismatch(f"expected {case['nret']} values, got one {type(got).__name__}")
        gots = list(got)
    else:
        gots = [got]
    exps = _seq(exp) if multi else [exp]
    ncmp = case.get('ncompare') or len(exps)
    exps = exps[:ncmp]
    if len(gots) < len(exps):
        raise Mismatch(f"{len(gots)} values returned, Lua returned {case['nret']}")
    gots = gots[:len(exps)]

    # the result tensors of a result-first call are filled (and are what it returns)
    nres = case.get('nres') or 0
    for i in range(min(nres, len(exps))):
        r = args[i]
        if isinstance(r, Tensor) and gots[i] is not r:
            raise Mismatch(f"result {i}: the call did not return its result tensor (argument {i})")

    # documented differences (docs/tensor.md, "Differences from Lua Torch7"): Lua's value in the Python spelling
    if fn == 'randperm' and not nres and isinstance(exps[0], Tensor):
        exps[0] = exps[0].long()                 # difference 5: a LongTensor (of 0-based indices, shifted below)

    # indices in the results are 1-based in Lua (a path {i, j} reaches into a returned table)
    gots = [list(g) if isinstance(g, tuple) else g for g in gots]
    for p in case.get('index_results') or []:
        p = _seq(p) if isinstance(p, dict) else p
        holder, i = _at(gots, p)
        holder[i] = _shift_up(holder[i])

    inp = inp_args[nres] if len(inp_args) > nres else self_
    if check == 'reconstruct':
        _reconstruct(fn, gots, exps, inp if case['call'] == 'function' else self_, 'reconstruct')
        return
    if check == 'eigvals':
        _eigset(_dmat(gots[0]), _dmat(exps[0]), 'eigenvalues')
        return
    if check == 'gels':
        _gels(gots[0], exps[0], inp_args[nres + 1], 'X')
        return
    if check in ('unordered', 'mode'):
        dims = case.get('dims')
        src = self_ if case['call'] == 'method' else inp
        dim = args[dims[0] - 1] if dims else src.dim() - 1
        vals, idx = got[0], got[1]
        if check == 'unordered':
            _close(np.sort(_dmat(vals), axis=dim), np.sort(_dmat(exps[0]), axis=dim), float_, 'values (as a set)')
        else:
            _compare(gots[0], exps[0], float_, 'values')
        _gathers(src, dim, vals, idx, 'indices', 'point at the values')
        return
    for i, (g, e) in enumerate(zip(gots, exps)):
        _compare(g, e, float_, f"result {i}" if len(exps) > 1 else 'result', check)
    if check == 'view':
        g = gots[0]
        sources = [self_] + list(inp_args)
        if not any(isinstance(s, Tensor) and s.storage() is g.storage() for s in sources):
            raise Mismatch("result is not a view of the input (another storage)")


def cuda_applicable(case):
    """Whether the case has a CUDA form: a tensor among its inputs, and not a CPU type's constructor or a
    storage (those stay CPU objects)."""
    if case['doc'] == 'storage' or case['fn'] == 'Tensor' or case['fn'] in torch.TENSOR_CLASSES \
            or case['fn'].endswith('Storage'):
        return False

    def has_tensor(v):
        if isinstance(v, Tensor):
            return True
        if isinstance(v, dict):
            return any(has_tensor(x) for x in v.values())
        if isinstance(v, (list, tuple)):
            return any(has_tensor(x) for x in v)
        return False
    return has_tensor(case.get('self')) or has_tensor(case.get('args'))


def _short(why):
    why = ' '.join(why.split())          # tensors print on several lines
    return why if len(why) <= 300 else why[:297] + '...'


def run_case(case, cuda=False):
    """Perform one case; (True, '') when the result is Lua's, else (False, why)."""
    env = _Env(cuda)
    try:
        c = _fresh(case)
        args = env.value(_seq(c.get('args') or []))
        self_ = env.value(c['self']) if 'self' in c else None
        if cuda and isinstance(self_, Tensor) and args and isinstance(args[0], Storage) \
                and args[0]._info is on_device(self_._info, False) and not isinstance(args[0], SizeStorage):
            args[0] = env.storage(args[0])           # x:set(storage, ...) on a CUDA x takes its CUDA storage
        _shift_args(args, c.get('dims'))
        _shift_args(args, [p for p in (c.get('index_args') or [])])
        if 'seed' in c:
            torch.manualSeed(int(c['seed']))
        for step in _seq(c.get('pre') or []):
            step = dict(step)
            pargs = env.value(_seq(step.get('args') or []), keep=step['fn'] == 'setRNGState')
            try:
                _perform(step, pargs, env.value(step['self']) if 'self' in step else None)
            except Exception as e:     # noqa: BLE001
                return False, _short(f"pre step {step['fn']}: {type(e).__name__}: {e}")
        inp_args = list(args)
        try:
            got = _perform(c, args, self_)
        except Mismatch:
            raise
        except Exception as e:     # noqa: BLE001 - the reason is the report
            return False, _short(f"{type(e).__name__}: {e}")
        _check(c, got, args, self_, inp_args)
        return True, ''
    except Mismatch as e:
        return False, _short(str(e))
    except Exception as e:         # noqa: BLE001
        return False, _short(f"oracle: {type(e).__name__}: {e}")
    finally:
        env.close()


# -- command line ------------------------------------------------------------------------------------------------------
def _reason(why):
    """A failure reason, short, for the MISSING sets of tests/test_maths_cases.py."""
    import re
    r = re.search(r"has no attribute '(\w+)'", why)
    if r:
        return f"{r.group(1)} missing"
    r = re.search(r"(\w+)\(\) takes .* but \d+ were given", why)
    if r:
        return f"{r.group(1)}: this form is not accepted yet"
    why = why.replace("'", '"')
    return why if len(why) < 90 else why[:87] + '...'


def missing_text(fails, name):
    """``name = {key: reason, ...}`` as Python source (lines within 120 characters)."""
    out = [f"{name} = {{"]
    for c, why in fails:
        line = f"    {c['key']!r}: {_reason(why)!r},"
        out.append(line if len(line) <= 120 else f"    {c['key']!r}:\n        {_reason(why)!r},")
    out.append('}')
    return '\n'.join(out)


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--doc', help='only this doc (tensor, maths, storage, random)')
    ap.add_argument('--fn', help='only this function')
    ap.add_argument('--cuda', action='store_true', help='inputs as CUDA tensors')
    ap.add_argument('-v', '--verbose', action='store_true', help='list every failing case with its reason')
    ap.add_argument('--missing', action='store_true',
                    help="print the failing cases as tests/test_maths_cases.py's MISSING (or CUDA_MISSING) set")
    ap.add_argument('--path', default=CASES)
    o = ap.parse_args(argv)
    cases = [c for c in load_cases(o.path) if (not o.doc or c['doc'] == o.doc) and (not o.fn or c['fn'] == o.fn)
             and (not o.cuda or cuda_applicable(c))]
    by_doc, by_fn, fails = {}, {}, []
    for c in cases:
        ok, why = run_case(c, cuda=o.cuda)
        for tab, k in ((by_doc, c['doc']), (by_fn, (c['doc'], c['fn']))):
            p, n = tab.get(k, (0, 0))
            tab[k] = (p + ok, n + 1)
        if not ok:
            fails.append((c, why))
    if o.missing:
        if o.cuda:       # CUDA_MISSING holds the cases that pass on the CPU only
            fails = [(c, why) for c, why in fails if run_case(c)[0]]
        print(missing_text(fails, 'CUDA_MISSING' if o.cuda else 'MISSING'))
        return 0
    print('per fn (failing only):' if not o.fn else 'per fn:')
    for (doc, fn), (p, n) in sorted(by_fn.items()):
        if p < n or o.fn:
            print(f"  {doc}.{fn}: {p}/{n}")
    if o.verbose:
        print('failing cases:')
        for c, why in fails:
            print(f"  [{c['id']}] {c['name']}  {c['form']}\n      {why}")
    print('per doc:')
    for doc, (p, n) in sorted(by_doc.items()):
        print(f"  {doc}: {p}/{n}")
    tp = sum(p for p, _ in by_doc.values())
    tn = sum(n for _, n in by_doc.values())
    print(f"total: {tp}/{tn}")
    return 0 if tp == tn else 1


if __name__ == '__main__':
    sys.exit(main())

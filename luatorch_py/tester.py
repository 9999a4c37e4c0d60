"""``torch.Tester`` and ``torch.TestSuite``: Torch7's unit-test runner (torch7's Tester.lua, TestSuite.lua).

    tester = torch.Tester()
    tests = torch.TestSuite()
    @tests.add                      # or tests.myTest = fn, or tester.add(fn, 'name')
    def addition():
        tester.asserteq(1 + 1, 2, 'one plus one')
        tester.eq(torch.ones(2), torch.Tensor([1, 1]))
    tester.add(tests).run()

``assert`` is a Python keyword: Lua's ``tester:assert(cond, msg)`` is ``tester.assert_(cond, msg)`` (also reachable
as ``getattr(tester, 'assert')``).  Tests run in the order added (Lua's table order is unspecified).  ``run``
prints Torch7's report and raises AssertionError('An error was found while running tests!') when one failed.
"""
import sys
import traceback

import numpy as np

from . import backend
from .utils import lua_tostring as _tostring

__all__ = ['Tester', 'TestSuite']

NCOLS = 80


def _ltype(v):
    """Lua's type(v): tensors and storages are 'userdata', Torch objects 'table'."""
    from .utils import type as torch_type
    if _is_tensor_or_storage(v):
        return 'userdata'
    t = torch_type(v)
    return 'table' if '.' in t else t


def _is_tensor_or_storage(v):
    from .storage import Storage
    from .tensor import Tensor
    return isinstance(v, (Tensor, Storage))


def _plain(v):
    """A numpy scalar as a Python number (Lua's numbers are doubles): np.uint8(5) - np.uint8(250) would wrap to 11."""
    return v.item() if isinstance(v, np.generic) else v


def _lua_eq(a, b):
    """Lua's ``a == b`` for asserteq/assertne: a tensor or storage (userdata) equals only itself (Python's == would
    compare elementwise)."""
    if _is_tensor_or_storage(a) or _is_tensor_or_storage(b):
        return a is b
    return a == b


def _message(args):
    if len(args) > 1:
        raise TypeError("Unexpected arguments passed to test function")
    if args and args[0] is not None:
        if not isinstance(args[0], str):
            raise TypeError('message parameter must be a string')
        if args[0]:
            return args[0] + '\n'
    return ''


def _tolerance_and_message(default, args):
    tol, msg = None, None
    for a in args:
        if isinstance(a, str):
            if msg is not None:
                raise TypeError("Unexpected string argument; already have message")
            msg = a + '\n'
        elif isinstance(a, (int, float, np.number)) and not isinstance(a, bool):
            if tol is not None:
                raise TypeError("Unexpected number argument; already have tolerance")
            if a < 0:
                raise ValueError("tolerance cannot be negative")
            tol = a
        else:
            raise TypeError("Unrecognized argument; should be a tolerance or message")
    return (default if tol is None else tol), (msg or '')


# -- Tester.lua's check.* ------------------------------------------------------------------------------------
def _same_format_eq(ta, tb, tol, negate, storage=False):
    a, b = backend.to_numpy(ta._a), backend.to_numpy(tb._a)
    # integer tensors subtract as integers, as Lua's LongTensor/IntTensor do: float64 would round beyond 2**53
    dt = np.int64 if a.dtype.kind in 'iu' and b.dtype.kind in 'iu' else np.float64
    err = np.max(np.abs(a.ravel().astype(dt) - b.ravel().astype(dt))).item() if a.size else 0.0
    ok = err <= tol
    if negate:
        ok = not ok
    if ok:
        return True, None
    return False, (f"{'Storage' if storage else 'Tensor'}{'NE(==)' if negate else 'EQ(==)'} violation: "
                   f"max diff={_tostring(err)}, tolerance={_tostring(tol)}")


def _tensors_eq(ta, tb, tol, negate, ignore_dims=False):
    if not ignore_dims and ta.dim() != tb.dim():
        return negate, 'The tensors have different dimensions'
    if ta.type() != tb.type():
        return negate, 'The tensors have different types'
    if ta.dim() == 0 and tb.dim() == 0:
        return not negate, 'Both tensors are empty'
    same = ta.nElement() == tb.nElement() if ignore_dims else tuple(ta.size()) == tuple(tb.size())
    if not same:
        return negate, 'The tensors have different sizes'
    return _same_format_eq(ta, tb, tol, negate)


def _storages_eq(sa, sb, tol, negate):
    from .tensor import as_tensor
    if len(sa) != len(sb):
        return negate, 'The storages have different sizes'
    if sa.type() != sb.type():
        return negate, 'The storages have different types'
    return _same_format_eq(as_tensor(sa.numpy()), as_tensor(sb.numpy()), tol, negate, storage=True)


def _are_eq(got, expected, tol, negate):
    from .storage import Storage
    from .tensor import Tensor
    tg, te = _ltype(got), _ltype(expected)
    if tg != te:
        return negate, (None if negate else
                        f"EQ failed: values have different types (first: {tg}, second: {te})")
    if tg == 'number' and te == 'number':
        got, expected = _plain(got), _plain(expected)
        ok = abs(got - expected) <= tol
        if negate:
            ok = not ok
        msg = None
        if not ok:
            msg = (f"NE failed: {_tostring(got)} == {_tostring(expected)}" if negate else
                   f"EQ failed: {_tostring(got)} ~= {_tostring(expected)}")
            if tol > 0:
                msg += f" with tolerance={_tostring(tol)}"
        return ok, msg
    if isinstance(expected, (dict, list, tuple)):
        return _tables_eq(got, expected, tol, negate)
    if isinstance(got, Tensor):
        if not isinstance(expected, Tensor):
            return negate, 'EQ failed: values have different types'
        return _tensors_eq(got, expected, tol, negate)
    if isinstance(got, Storage):
        return _storages_eq(got, expected, tol, negate)
    ok = got == expected
    if negate:
        ok = not ok
    msg = None
    if not ok:
        rel = '==' if negate else '~='
        msg = f"{'NE' if negate else 'EQ'} failed: {_tostring(got)} ({tg}) {rel} {_tostring(expected)} ({te})"
    return ok, msg


def _pcall(f):
    """Lua's pcall(f): (True, None), or (False, the error)."""
    try:
        f()
    except Exception as e:      # noqa: BLE001 (pcall catches every error)
        return False, e
    return True, None


def _items(t):
    return t.items() if isinstance(t, dict) else enumerate(t)


def _get(t, k):
    if isinstance(t, dict):
        return t.get(k)
    return t[k] if isinstance(k, int) and 0 <= k < len(t) else None     # a dict's key may be any value


def _tables_eq(t1, t2, tol, negate):
    queue = [(t1, t2, None)]
    while queue:
        t1, t2, loc = queue.pop(0)

        def sub(key):
            return f"{loc}.{key}" if loc is not None else str(key)
        for key, v1 in _items(t1):
            v2 = _get(t2, key)
            if v2 is None:
                return negate, f"Entry {sub(key)} missing in second table (is {_tostring(v1)} in first)"
            if isinstance(v1, (dict, list, tuple)) and isinstance(v2, (dict, list, tuple)):
                queue.append((v1, v2, sub(key)))
            else:
                ok, msg = _are_eq(v1, v2, tol, False)
                if not ok:
                    return negate, f"At table location {sub(key)}: {msg}"
        for key, v2 in _items(t2):
            if _get(t1, key) is None:
                return negate, f"Entry {sub(key)} missing in first table (is {_tostring(v2)} in second)"
    return not negate, 'The tables are equal'


class TestSuite:
    """``torch.TestSuite()``: a named set of test functions.  ``suite.name = fn``, ``suite['name'] = fn`` or the
    decorator ``@suite.add``; a name used twice is an error (as Lua)."""

    def __init__(self):
        object.__setattr__(self, '_tests', {})

    def __setattr__(self, name, fn):
        self[name] = fn

    def __setitem__(self, name, fn):
        if name in self._tests:
            raise ValueError(f"Test {name} is already defined.")
        if not callable(fn):
            raise TypeError(f"TestSuite: test {name} must be a function, got {type(fn).__name__}")
        self._tests[name] = fn

    def __getattr__(self, name):
        try:
            return self._tests[name]
        except KeyError:
            raise AttributeError(name) from None

    __getitem__ = __getattr__

    def add(self, fn, name=None):
        self[name or fn.__name__] = fn
        return fn

    def __iter__(self):
        return iter(self._tests.items())

    def __len__(self):
        return len(self._tests)


class Tester:
    """``torch.Tester()``: collects assertions inside tests added with ``add`` and reports them in ``run``."""

    def __init__(self):
        self.errors = []
        self.tests = {}
        self.warnings = []
        self._warning_count = {}
        self.disabledTests = set()
        self._current = ''
        self._setUp = self._tearDown = None
        self.earlyAbort = self.rethrow = self.summaryOnly = False
        self._assertTensorEqIgnoresDims = True
        self.assertionPass = {'': 0}
        self.assertionFail = {'': 0}
        self.testError = {}

    def setEarlyAbort(self, earlyAbort):
        self.earlyAbort = earlyAbort

    def setRethrowErrors(self, rethrow):
        self.rethrow = rethrow

    def setSummaryOnly(self, summaryOnly):
        self.summaryOnly = summaryOnly

    # -- bookkeeping ------------------------------------------------------------------------------------------
    def _success(self):
        self.assertionPass[self._current] = self.assertionPass.get(self._current, 0) + 1
        return True

    def _debug(self, message):
        where = ''
        for fr in reversed(traceback.extract_stack()[:-3]):
            if not fr.filename.endswith('tester.py'):
                where = f'  {fr.filename}:{fr.lineno}: in {fr.name}'
                break
        return (self._current + '\n' if self._current else '') + message + '\n' + where

    def _failure(self, message):
        if self.rethrow:
            raise AssertionError(message)
        self.assertionFail[self._current] = self.assertionFail.get(self._current, 0) + 1
        self.errors.append(self._debug(message))
        return False

    def _warning(self, message):
        self._warning_count[self._current] = self._warning_count.get(self._current, 0) + 1
        self.warnings.append(self._debug(message))

    def _assert_sub(self, condition, message):
        return self._success() if condition else self._failure(message)

    # -- assertions ---------------------------------------------------------------------------------------------
    def assert_(self, condition, *msg):
        """Lua's ``tester:assert(condition [, message])``."""
        message = _message(msg)
        if not isinstance(condition, (bool, np.bool_)):
            self._warning(" :assert should only be used for boolean conditions. To check for non-nil variables, "
                          "do this explicitly: Tester:assert(var ~= nil).")
        return self._assert_sub(bool(condition), f"{message}BOOL violation condition={_tostring(condition)}")

    def assertTrue(self, condition, *msg):
        return self.assert_(bool(condition), *msg)

    def assertFalse(self, condition, *msg):
        return self.assert_(not condition, *msg)

    def assertGeneralEq(self, got, expected, *args):
        return self._eq_or_ne(got, expected, False, args)

    eq = assertGeneralEq

    def assertGeneralNe(self, got, unexpected, *args):
        return self._eq_or_ne(got, unexpected, True, args)

    ne = assertGeneralNe

    def _eq_or_ne(self, got, expected, negate, args):
        tol, message = _tolerance_and_message(0, args)
        ok, sub = _are_eq(got, expected, tol, negate)
        return self._assert_sub(ok, message + (sub or ''))

    def _cmp(self, ok, name, a, rel, b, msg):
        return self._assert_sub(ok, f"{_message(msg)}{name} failed: {_tostring(a)} {rel} {_tostring(b)}")

    def assertlt(self, a, b, *msg):
        return self._cmp(a < b, 'LT', a, '>=', b, msg)

    def assertgt(self, a, b, *msg):
        return self._cmp(a > b, 'GT', a, '<=', b, msg)

    def assertle(self, a, b, *msg):
        return self._cmp(a <= b, 'LE', a, '>', b, msg)

    def assertge(self, a, b, *msg):
        return self._cmp(a >= b, 'GE', a, '<', b, msg)

    def asserteq(self, a, b, *msg):
        return self._cmp(_lua_eq(a, b), 'EQ', a, '~=', b, msg)

    def assertne(self, a, b, *msg):
        if _is_tensor_or_storage(a) or isinstance(a, (dict, list)):
            self._warning(" :assertne should only be used to compare basic lua objects (numbers, booleans, etc). "
                          "Consider using either :assertGeneralNe or :assert(a ~= b).")
        return self._cmp(not _lua_eq(a, b), 'NE', a, '==', b, msg)

    def assertalmosteq(self, a, b, *args):
        tol, message = _tolerance_and_message(1e-16, args)
        return self._assert_sub(abs(_plain(a) - _plain(b)) <= tol,
                                f"{message}ALMOST_EQ failed: {_tostring(a)} ~= {_tostring(b)} with tolerance="
                                f"{_tostring(tol)}")

    def assertTensorEq(self, ta, tb, *args):
        return self._tensor_eq_or_ne(ta, tb, False, args)

    def assertTensorNe(self, ta, tb, *args):
        return self._tensor_eq_or_ne(ta, tb, True, args)

    def _tensor_eq_or_ne(self, ta, tb, negate, args):
        from .tensor import Tensor
        if not isinstance(ta, Tensor):
            raise TypeError("First argument should be a Tensor")
        if not isinstance(tb, Tensor):
            raise TypeError("Second argument should be a Tensor")
        tol, message = _tolerance_and_message(0, args)
        ok, sub = _tensors_eq(ta, tb, tol, negate, self._assertTensorEqIgnoresDims)
        if self._assertTensorEqIgnoresDims and not negate and ok and tuple(ta.size()) != tuple(tb.size()):
            self._warning("Tensors have the same content but different dimensions. For backwards compatibility, "
                          "they are considered equal, but this may change in the future. Consider using :eq to "
                          "check for equality instead.")
        return self._assert_sub(ok, message + (sub or ''))

    def assertTableEq(self, ta, tb, *args):
        return self._table_eq_or_ne(ta, tb, False, args)

    def assertTableNe(self, ta, tb, *args):
        return self._table_eq_or_ne(ta, tb, True, args)

    def _table_eq_or_ne(self, ta, tb, negate, args):
        if not isinstance(ta, (dict, list, tuple)):
            raise TypeError("First argument should be a Table")
        if not isinstance(tb, (dict, list, tuple)):
            raise TypeError("Second argument should be a Table")
        return self._eq_or_ne(ta, tb, negate, args)

    def assertError(self, f, *msg):
        return self.assertErrorObj(f, lambda err: True, *msg)

    def assertNoError(self, f, *msg):
        message = _message(msg)
        status, err = _pcall(f)
        return self._assert_sub(status, f"{message}ERROR violation: err={err}")

    def assertErrorMsg(self, f, errmsg, *msg):
        return self.assertErrorObj(f, lambda err: str(err) == errmsg, *msg)

    def assertErrorPattern(self, f, pattern, *msg):
        from .utils import _lua_pattern
        import re
        return self.assertErrorObj(f, lambda err: re.search(_lua_pattern(pattern), str(err)) is not None, *msg)

    def assertErrorObj(self, f, errcomp, *msg):
        message = _message(msg)
        status, err = _pcall(f)
        return self._assert_sub((not status) and errcomp(err), f"{message}ERROR violation: err={_tostring(err)}")

    # -- tests ------------------------------------------------------------------------------------------------------
    def add(self, f, name=None):
        """Add a test function (named ``name``, default its __name__), or every test of a TestSuite or dict.
        Functions named _setUp / _tearDown run before / after each test, given the test's name."""
        if isinstance(f, (TestSuite, dict)):
            if name is not None:
                raise ValueError("Name parameter is forbidden for a table of tests, since its use is ambiguous")
            if isinstance(f, dict):
                self._warning("Should use TestSuite rather than plain lua table")
            for k, v in (f if isinstance(f, TestSuite) else f.items()):
                if isinstance(v, (dict, TestSuite)):
                    raise ValueError("Nested sets of tests are not supported")
                self.add(v, k)
            return self
        if not callable(f):
            raise TypeError("Only tables of functions and functions supported")
        if name == '_setUp':
            if self._setUp:
                raise ValueError("Only one set-up function allowed")
            self._setUp = f
        elif name == '_tearDown':
            if self._tearDown:
                raise ValueError("Only one tear-down function allowed")
            self._tearDown = f
        else:
            name = name or getattr(f, '__name__', None) or 'unknown'
            if name in self.tests:
                raise ValueError(f"Test with name {name} already exists!")
            self.tests[name] = f
        return self

    def disable(self, names):
        if isinstance(names, str):
            names = [names]
        for n in names:
            if n not in self.tests:
                raise ValueError(f"Unrecognized test '{n}'")
            self.disabledTests.add(n)
        return self

    def _get_tests(self, names):
        if names is None:
            return dict(self.tests)
        if isinstance(names, str):
            names = [names]
        from .utils import _lua_pattern
        import re
        out = {}
        for pat in names:
            rx = re.compile(_lua_pattern(pat))
            match = [n for n in self.tests if rx.search(n)]
            if not match:
                raise ValueError(f"Couldn't find test '{pat}'")
            for n in match:
                out[n] = self.tests[n]
        return out

    def run(self, testNames=None):
        """Run the tests (all, or those whose names match the Lua patterns ``testNames``), print the report, and
        raise AssertionError if any failed or errored.  Returns 0."""
        tests = self._get_tests(testNames)
        self.assertionPass = {n: 0 for n in tests}
        self.assertionFail = {n: 0 for n in tests}
        self.testError = {n: 0 for n in tests}
        for n in tests:
            self._warning_count[n] = 0
        self._run(tests)
        self._report(tests)
        for n in tests:
            if self.assertionFail[n] or self.testError[n]:
                raise AssertionError('An error was found while running tests!')
        return 0

    def _run(self, tests):
        w = sys.stdout.write
        nt = len(tests)
        width = len(str(nt))
        w(f"Running {nt} test{'s' if nt != 1 else ''}\n")
        for i, (name, fn) in enumerate(tests.items(), 1):
            self._current = name
            strinit = f"{i:>{width}}/{nt} {name} " + '.' * max(0, NCOLS - 6 - 2 - (2 * width + 2) - len(name)) + ' '
            w(strinit + '[WAIT]')
            sys.stdout.flush()
            skip = name in self.disabledTests
            status = passed = True
            if not skip:
                if self._setUp:
                    self._setUp(name)
                nerr = len(self.errors)
                if self.rethrow:
                    fn()
                else:
                    try:
                        fn()
                    except Exception:      # noqa: BLE001
                        status = False
                        self.errors.append(f"{name}\n Function call failed\n{traceback.format_exc()}\n")
                passed = status and nerr == len(self.errors)
                if self._tearDown:
                    self._tearDown(name)
            w('\r' + strinit)
            if skip:
                w('[SKIP]')
            elif not status:
                self.testError[name] = 1
                w('[ERROR]')
            elif not passed:
                w('[FAIL]')
            else:
                w('[PASS]')
                if self._warning_count.get(name):
                    w('\n' + ' ' * (NCOLS - 10) + '[+warning]')
            w('\n')
            sys.stdout.flush()
            if self.earlyAbort and i < nt and (not status or not passed) and not skip:
                w('Aborting on first error, not all tests have been executed\n')
                break
        self._current = ''

    def _report(self, tests):
        w = sys.stdout.write

        def plural(k, s):
            return f"{k} {s}" + ('' if k == 1 else 's')
        self.countasserts = sum(self.assertionFail[n] + self.assertionPass[n] for n in tests)
        nfail = sum(1 for n in tests if self.assertionFail[n] > 0)
        nerr = sum(1 for n in tests if self.testError[n] > 0)
        nwarn = sum(1 for n in tests if self._warning_count.get(n, 0) > 0) + self._warning_count.get('', 0)
        nskip = sum(1 for n in tests if n in self.disabledTests)
        w(f"Completed {plural(self.countasserts, 'assert')} in {plural(len(tests), 'test')} with "
          f"{plural(nfail, 'failure')} and {plural(nerr, 'error')}")
        if nwarn:
            w(f" and {plural(nwarn, 'warning')}")
        if nskip:
            w(f" and {nskip} disabled")
        w('\n')
        if not self.summaryOnly:
            first = True
            for v in self.errors + self.warnings:
                if first:
                    w('-' * NCOLS + '\n')
                    first = False
                w(v + '\n' + '-' * NCOLS + '\n')


setattr(Tester, 'assert', Tester.assert_)

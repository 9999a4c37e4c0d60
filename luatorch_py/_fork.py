"""What the package does around ``os.fork``.

Locks held across a fork (``hold_across_fork``): a lock another thread holds at the fork would be held forever in the
child, and what it guards (a draw, a load, a lazy field) half done there.

Files loaded on first use (nn's families, nngraph, save/load, optim, ...): a child forked while another thread is
importing one of them inherits that file's import lock (CPython's per-module lock), held by a thread the child does
not have: the child's own first use of the file then waits forever.  So the package's first-use imports go through
``load``, which counts them, and a fork first waits until none is under way in another thread (new ones wait for the
fork).  Imports already done cost a dict lookup and two lock turns."""
import importlib
import os
import threading

_cond = threading.Condition()
_running = {}       # thread id -> first-use imports under way in it


def load(name, package=None):
    """``importlib.import_module(name, package)``, counted (see the module's docstring)."""
    me = threading.get_ident()
    with _cond:
        _running[me] = _running.get(me, 0) + 1
    try:
        return importlib.import_module(name, package)
    finally:
        with _cond:
            if _running[me] == 1:
                del _running[me]
            else:
                _running[me] -= 1
            _cond.notify_all()


def _before_fork():
    _cond.acquire()     # (held until the fork is done: another thread's next first use waits for it)
    me = threading.get_ident()
    # (not the forking thread's own: a fork from inside a first use would wait for itself; 10 s at most)
    _cond.wait_for(lambda: all(t == me for t in _running), timeout=10)


def _after_fork_in_child():
    global _cond, _running
    _cond, _running = threading.Condition(), {}


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(before=_before_fork, after_in_parent=lambda: _cond.release(),
                        after_in_child=_after_fork_in_child)


def hold_across_fork(lock_of, fresh):
    """Fork handlers for a lock of the package (``lock_of()`` gives it): taken before a fork, so that no other thread
    is inside what it guards, released after it in the parent; in the child ``fresh()`` puts a new lock in its place
    (nobody there would release the old one).  A file loading while a fork waits (``_before_fork`` above) registers
    its handlers after the fork's "before" ones ran: its "after" one then releases nothing."""
    taken = threading.local()

    def before():
        lock_of().acquire()
        taken.held = True

    def after_in_parent():
        if getattr(taken, 'held', False):
            taken.held = False
            lock_of().release()

    def after_in_child():
        taken.held = False
        fresh()

    if hasattr(os, 'register_at_fork'):
        os.register_at_fork(before=before, after_in_parent=after_in_parent, after_in_child=after_in_child)

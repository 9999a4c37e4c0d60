"""Forking in tests (imported as ``from forking import ...``; tests/conftest.py's folder is on sys.path): a child
that hangs fails its test instead of hanging the suite."""
import os
import threading
import time

import pytest


def reap(pid, seconds=10, hung='the forked child hung'):
    """The exit code of forked child ``pid``; when it still runs after ``seconds``, kill it and fail with ``hung``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail(hung)


def held_briefly(lock, seconds=0.1):
    """A thread holding ``lock`` (as a long draw or a load starting holds it), letting it go ``seconds`` from now: a
    fork made meanwhile waits for it.  Returns the thread, to join."""
    inside, release = threading.Event(), threading.Event()

    def hold():
        with lock:
            inside.set()
            release.wait(10)
    t = threading.Thread(target=hold)
    t.start()
    assert inside.wait(10)
    threading.Timer(seconds, release.set).start()
    return t

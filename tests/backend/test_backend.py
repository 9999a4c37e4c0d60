"""backend/: the lazily loaded kernel modules (__init__.py), and a capture belonging to its thread (capture.py)."""
from fresh import fresh_stdout


def test_threads_first_using_a_lazy_module_at_once_wait_for_it_whole():
    """Threads reading a not-yet-loaded kernel module at once (their first MSECriterion, Tanh, ...): every one waits
    for the whole module.  importlib's LazyLoader (Python < 3.12.3) made it a plain module before running it, and
    the others got AttributeError (15 of 15 runs of 8 threads); its run is slowed here so that they all meet it."""
    code = (
        "import sys, threading, time, numpy as np\n"
        "import luatorch_py as torch\n"
        "from luatorch_py import nn\n"
        "mod = sys.modules['luatorch_py.backend.gpu_loss']\n"
        "spec = object.__getattribute__(mod, '__spec__')\n"
        "real = spec.loader\n"
        "class Slow:\n"
        "    def __getattr__(self, name):\n"
        "        return getattr(real, name)\n"
        "    def exec_module(self, m):\n"
        "        time.sleep(0.3)\n"
        "        real.exec_module(m)\n"
        "spec.loader = Slow()\n"
        "b = threading.Barrier(6)\n"
        "out = []\n"
        "def go():\n"
        "    c = nn.MSECriterion()\n"
        "    b.wait()\n"
        "    try:\n"
        "        out.append(c.forward(np.ones(3), np.zeros(3)))\n"
        "    except Exception as e:\n"
        "        out.append(repr(e))\n"
        "ts = [threading.Thread(target=go) for _ in range(6)]\n"
        "[t.start() for t in ts]\n"
        "[t.join() for t in ts]\n"
        "print(out)\n")
    out = fresh_stdout(code)
    assert out.strip() == str([1.0] * 6)


def test_a_capture_is_its_own_threads():
    # another thread's optim during a capture is not part of the captured step: its counter advances must not be
    # registered as the step's replay hooks (they were: the hooks were process-wide)
    import threading
    from luatorch_py.backend import capture
    hooks = []
    capture._state.hooks = hooks
    try:
        seen = []

        def other():
            seen.append(capture.capturing())
            capture.on_replay(lambda: None)
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert seen == [False] and hooks == [] and capture.capturing()
        capture.on_replay(print)
        assert hooks == [print]
    finally:
        capture._state.hooks = None
    assert not capture.capturing()


def test_a_fork_while_another_thread_loads_a_lazy_module_waits_for_it():
    # the child of a fork made while another thread ran a lazy kernel module inherited its lock held by a thread it
    # does not have: its own first read of the module hung (the lock is now held across forks, _fork.py)
    code = (
        "import os, threading, time, numpy as np\n"
        "from luatorch_py import backend, nn\n"
        "inside, release = threading.Event(), threading.Event()\n"
        "def hold():\n"
        "    with backend._lazy_lock:\n"
        "        inside.set()\n"
        "        release.wait(10)\n"
        "t = threading.Thread(target=hold)\n"
        "t.start()\n"
        "inside.wait(10)\n"
        "threading.Timer(0.1, release.set).start()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if nn.MSECriterion().forward(np.ones(3), np.zeros(3)) == 1.0 else 1)\n"
        "deadline = time.monotonic() + 10\n"
        "while time.monotonic() < deadline:\n"
        "    done, status = os.waitpid(pid, os.WNOHANG)\n"
        "    if done:\n"
        "        break\n"
        "    time.sleep(0.02)\n"
        "else:\n"
        "    os.kill(pid, 9)\n"
        "    os.waitpid(pid, 0)\n"
        "    status = 'hung'\n"
        "t.join()\n"
        "print(status)\n")
    assert fresh_stdout(code).strip() == '0'

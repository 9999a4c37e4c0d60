"""Captured training steps: one call of a closure recorded into a CUDA graph, then replayed.

Torch7's modules keep their output and gradInput buffers between calls, so a steady training step touches the
same device memory every time: exactly what a CUDA graph needs.  Replaying the graph costs one launch instead of
the step's ~60 and none of its Python, so the GPU stops waiting for the host.

What a graph cannot do, and how it shows (``CaptureError``, raised at capture, naming the cause):
- read a value back to the host (a criterion's ``forward`` returns a Python number: use ``forwardDevice``;
  ``float(t)``, ``t[0]`` of a CUDA tensor, printing it) or copy host data to the device (numpy inputs);
- allocate device memory (a buffer made or resized: the shapes must be those of the warm-up calls);
- see a Python number change: numbers the closure passes to kernels (a learning rate) are baked in at capture.
  optim's algorithms keep what changes per step (sgd's learning-rate decay counter) on the device.
Replays check the tensors given as ``inputs`` still have the storage and size they had at capture.
"""
import threading

from . import cupy as get_cupy


class _Capturing(threading.local):
    """Per thread (the capture is the capturing thread's: another thread's optim is not part of its step): while
    capturing, ``hooks`` is the list of functions to call after each replay."""
    hooks = None


_state = _Capturing()


class CaptureError(RuntimeError):
    """A closure that cannot be captured into a CUDA graph."""


def capturing():
    """True while a step is being captured (code that would synchronize can raise a clearer error first)."""
    return _state.hooks is not None


def on_replay(fn):
    """Register host-side bookkeeping ``fn()`` to run after each replay of the step being captured (e.g. optim's
    evaluation counter); a no-op outside a capture."""
    hooks = _state.hooks
    if hooks is not None:
        hooks.append(fn)


def _where(t):
    a = t._a
    return (a.data.ptr if a.size else 0, a.shape, a.dtype)


class CapturedStep:
    """``step = CapturedStep(fn, inputs=(x, y))``; each ``step()`` is one step and returns what ``fn()`` returned.
    The first ``warmup`` calls run ``fn`` eagerly (buffers allocated, kernels compiled); the next one captures ``fn``
    into a graph and launches it; every later call launches the graph again."""

    def __init__(self, fn, inputs=(), warmup=2):
        if not callable(fn):
            raise TypeError(f'captureStep: expected a function of no arguments, got {type(fn).__name__}')
        if warmup < 1:
            raise ValueError(f'captureStep: warmup must be >= 1 (the buffers are made by an eager call), got {warmup}')
        self.fn, self.inputs, self.warmup = fn, tuple(inputs), warmup
        for i, t in enumerate(self.inputs):
            if not getattr(t, '_info', None) or not t._info.cuda:
                raise TypeError(f'captureStep: inputs[{i}] must be a CUDA tensor (a captured step reads device '
                                f'memory), got {type(t).__name__}')
        self.graph = None
        self.eager = 0
        self.result = None
        self.replays = 0
        self._hooks = []
        self._stream = None

    def _capture(self):
        cupy = get_cupy()
        pool = cupy.get_default_memory_pool()
        allocated = []

        def counting(size):
            allocated.append(size)
            return pool.malloc(size)

        with self._stream, cupy.cuda.using_allocator(counting):
            self._stream.synchronize()
            self._where = [_where(t) for t in self.inputs]
            self._hooks.clear()          # a failed capture's hooks would otherwise run again after each replay
            _state.hooks = self._hooks
            self._stream.begin_capture()
            error = None
            try:
                self.result = self.fn()
            except Exception as e:       # noqa: BLE001  (re-raised below with what it means)
                error = e
            finally:
                _state.hooks = None
                try:
                    graph = self._stream.end_capture()
                except Exception as e:   # an invalidated capture fails to end too; the first error tells why
                    graph = None
                    error = error or e
        if error is not None:
            raise CaptureError(_explain(error)) from error
        if allocated:
            raise CaptureError(f'captureStep: the step allocated device memory while being captured ({len(allocated)} '
                               f'allocation(s), {sum(allocated)} bytes): a buffer was made or resized, so the shapes '
                               f'differ from the warm-up calls, or an operation without a kept output ran')
        self.graph = graph

    def __call__(self):
        if self._stream is None:
            self._stream = get_cupy().cuda.Stream()
        if self.eager < self.warmup:
            with self._stream:
                self.result = self.fn()
            self.eager += 1              # only a call that ran through made the buffers
            return self.result
        if self.graph is None:
            self._capture()
        else:
            for i, (t, was) in enumerate(zip(self.inputs, self._where)):
                now = _where(t)
                if now != was:
                    raise CaptureError(f'captureStep: inputs[{i}] changed since the capture (size '
                                       f'{list(was[1])} -> {list(now[1])}, or new storage): a captured step reads the '
                                       f'same memory every time; copy each batch into the same tensor '
                                       f'(x.copy(batch)) or capture again')
        self.graph.launch(stream=self._stream)
        self.replays += 1
        for h in self._hooks:
            h()
        return self.result


def _explain(e):
    if isinstance(e, CaptureError):     # raised by the step's own check (optim's counters): it says why already
        return str(e)
    msg = f'{type(e).__name__}: {e}'
    if 'StreamCapture' in msg or 'capturing' in msg or 'capture' in msg.lower():
        return (f'captureStep: the step cannot be captured: it synchronizes with the host ({msg}). Inside a captured '
                f'step nothing may read a value back (a criterion\'s forward returns a number: use '
                f'crit.forwardDevice(output, target); float(), .item() or printing a CUDA tensor) or copy host data '
                f'to the device (give the modules CUDA tensors, not numpy arrays)')
    return f'captureStep: the step failed while being captured: {msg}'

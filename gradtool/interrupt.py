"""Stopping cleanly: SIGTERM raised as an interrupt, exactly like Ctrl-C.

Every path that stops cleanly on Ctrl-C (a run ends with status ``interrupted`` and prints its summary, an
output file is completed or its temporary file removed, worker processes are stopped) does the same on
SIGTERM, the signal that ``timeout``, ``kill``, batch systems, containers and CI send, because
:class:`Terminated` is a KeyboardInterrupt. The command line maps it to exit status 128 + 15 = 143.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from collections.abc import Iterator

_received: int | None = None  # the termination signal this process has received (None: none, or Ctrl-C)


class Terminated(KeyboardInterrupt):
    """A termination signal (SIGTERM), raised where Ctrl-C would raise KeyboardInterrupt."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(signum)
        self.signum = signum


def stop_reason(exc: BaseException) -> str:
    """What stopped a run, for its message: ``Ctrl-C`` or the signal's name (``SIGTERM``)."""
    return signal.Signals(exc.signum).name if isinstance(exc, Terminated) else "Ctrl-C"


def received() -> int | None:
    """The termination signal received inside :func:`terminate_as_interrupt`, if any."""
    return _received


_held = 0  # how many holds are under way (a write that must not be cut in two, see hold)
_pending: KeyboardInterrupt | None = None  # the stop that arrived during it


def hold() -> None:
    """Until :func:`release`, a stop (Ctrl-C, SIGTERM) waits: for a write that must land whole or not at all.

    A signal can arrive inside ``write()`` itself (Python runs its handler when the system call returns
    EINTR), and an exception raised there leaves the line partly or not buffered. Two assignments, no system
    call: cheap enough for one row of a trajectory per step. Effective where the signal handler uses
    :func:`deliver`: under :func:`terminate_as_interrupt`, and in ``--jobs`` worker processes. Holds nest:
    the stop waits for the outermost one.
    """
    global _held
    _held += 1


def release() -> None:
    """End :func:`hold`; a stop that arrived meanwhile is raised when the outermost hold ends."""
    global _held, _pending
    _held -= 1
    if _held == 0 and _pending is not None:
        stop, _pending = _pending, None
        raise stop


def deliver(stop: KeyboardInterrupt) -> None:
    """Raise ``stop`` from a signal handler now, or when the :func:`hold` under way ends."""
    global _pending
    if _held:
        _pending = stop
        return
    raise stop


REPEAT_S = 0.1  # the same signal again within this many seconds is the same stop
_last: tuple[int, float] = (0, -math.inf)  # the last stop: its signal and when it came


def _stop(signum: int, frame) -> None:
    global _received, _last
    now = time.monotonic()
    if _last[0] == signum and now - _last[1] < REPEAT_S:
        # timeout(1) sends its signal to the command and then to the command's process group: one stop, not
        # two (a second would cut short the report of the first)
        return
    _last = (signum, now)
    if signum != signal.SIGINT:
        _received = signum
    deliver(KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum))


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` and Ctrl-C KeyboardInterrupt, both waiting for a
    :func:`hold` (main thread only; the previous handlers are restored afterwards). For programs such as the
    command line, not for a library call."""
    global _received, _last
    _received, _last = None, (0, -math.inf)
    previous = signal.signal(signal.SIGTERM, _stop)
    # Ctrl-C as Python raises it, but able to wait for a held write; ignored stays ignored (a background job)
    ctrl_c = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if ctrl_c:
        signal.signal(signal.SIGINT, _stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if ctrl_c:
            signal.signal(signal.SIGINT, signal.default_int_handler)

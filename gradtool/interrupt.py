"""Stopping cleanly: SIGTERM raised as an interrupt, exactly like Ctrl-C.

Every path that stops cleanly on Ctrl-C (a run ends with status ``interrupted`` and prints its summary, an
output file is completed or its temporary file removed, worker processes are stopped) does the same on
SIGTERM, the signal that ``timeout``, ``kill``, batch systems, containers and CI send, because
:class:`Terminated` is a KeyboardInterrupt. The command line maps it to exit status 128 + 15 = 143.
"""

from __future__ import annotations

import contextlib
import signal
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


def _raise_terminated(signum: int, frame) -> None:
    global _received
    _received = signum
    raise Terminated(signum)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only; the previous handler is
    restored afterwards). For programs such as the command line, not for a library call."""
    global _received
    _received = None
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

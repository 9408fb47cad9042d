"""Time budgets for symbolic steps on user input: SymPy's diff, simplify, printing and compilation.

SymPy has no time limit of its own and some inputs take minutes (``simplify`` of a sum of nested tangents,
``(x1 + ... + x8)^12``). ``with budget(what):`` interrupts the block after the budget and raises
:class:`BudgetExceeded`; callers fall back (the unsimplified form, autodiff values) or let the one-line
error name ``--budget``.

The interruption is a SIGALRM from ``setitimer``, which stops pure-Python SymPy between two bytecodes (never
inside this module's own bookkeeping: the handler looks at the frame it interrupts). Budgets nest: an inner
block never outlives the one around it, and when the outer deadline passes inside an inner block the outer
block reports it. Signals reach only the main thread: in any other thread (and where there is no SIGALRM)
the block runs unbounded. Worker processes of ``--jobs`` run in their main thread and get the budget of
the command (see :func:`set_budget`).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time

from gradtool.errors import GradtoolError

DEFAULT_SECONDS = 5.0  # the CLI's default (--budget); the library's default is no limit
_seconds: float | None = None  # the process default, set by the CLI (and in worker processes)
_deadlines: list[float] = []  # monotonic deadlines of the active budgets, innermost last
_previous_handler = None
_previous_hook = None  # sys.unraisablehook outside every budget


def _unraisable(report) -> None:
    """An alarm raised inside a ``__del__`` or a gc callback is swallowed there by design (it comes again,
    see :func:`_on_alarm`): not an "Exception ignored" message on stderr."""
    if not isinstance(report.exc_value, _Alarm):
        (_previous_hook or sys.__unraisablehook__)(report)


class BudgetExceeded(GradtoolError):
    """A symbolic step took longer than its budget (exit status 2 when nothing falls back)."""


class _Alarm(BaseException):  # noqa: N818 - BaseException: SymPy's own ``except Exception`` must not swallow it
    """Raised by the SIGALRM handler inside the block; turned into BudgetExceeded on the way out."""


def set_budget(seconds: float | None) -> None:
    """The process default for :func:`budget` (None: no limit); the CLI sets it from ``--budget``."""
    global _seconds
    if seconds is not None and not (isinstance(seconds, int | float) and 0 < seconds < 1e9):
        raise BudgetExceeded(f"--budget must be a number of seconds > 0, got {seconds!r}")
    _seconds = None if seconds is None else float(seconds)


def get_budget() -> float | None:
    return _seconds


@contextlib.contextmanager
def within(seconds: float | None):
    """The process default is ``seconds`` inside the block (a command's ``--budget``), then what it was."""
    previous = _seconds
    set_budget(seconds)
    try:
        yield
    finally:
        set_budget(previous)


def _enforceable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _arm() -> None:
    """Point the timer at the innermost deadline (or stop it)."""
    if _deadlines:
        signal.setitimer(signal.ITIMER_REAL, max(_deadlines[-1] - time.monotonic(), 1e-4))
    else:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _on_alarm(signum, frame) -> None:
    if frame is not None and frame.f_globals.get("__name__") == __name__:
        # in this module's own bookkeeping (entering or leaving a budget): never interrupt it half-way;
        # it points the timer at the right deadline itself, or this try again fires just after it
        signal.setitimer(signal.ITIMER_REAL, 1e-3)
        return
    if _deadlines and time.monotonic() >= _deadlines[-1] - 1e-3:
        # Python ignores an exception raised in a __del__ or a gc callback (hypothesis installs one): should
        # this one be swallowed there, it comes again until the block has ended (its exit re-aims the timer)
        signal.setitimer(signal.ITIMER_REAL, 0.005 + time.monotonic() % 0.01)  # jittered: no lock-step with a loop
        raise _Alarm
    _arm()  # early, or for a budget that has ended meanwhile: aim again


class budget:  # noqa: N801 - used as a function: ``with budget("simplify"):``
    """Interrupt the block after ``seconds`` (default: the process default) with :class:`BudgetExceeded`.

    ``what`` names the step in the message: ``"simplify took more than 5 s (--budget)"``.
    """

    def __init__(self, what: str, seconds: float | None = None):
        self.what = what
        self.seconds = _seconds if seconds is None else seconds
        self.deadline: float | None = None

    def __enter__(self) -> budget:
        global _previous_handler, _previous_hook
        if self.seconds is None or not _enforceable():
            return self
        now = time.monotonic()
        self.limit = min(self.seconds, _deadlines[-1] - now) if _deadlines else self.seconds  # inside an outer
        self.deadline = now + self.limit
        if not _deadlines:
            _previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
            _previous_hook, sys.unraisablehook = sys.unraisablehook, _unraisable
        _deadlines.append(self.deadline)
        _arm()
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if self.deadline is None:
            return False
        _deadlines.pop()
        _arm()
        if not _deadlines:  # ignoring SIGALRM discards one that is pending; then the old handler is back
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            signal.signal(signal.SIGALRM, _previous_handler or signal.SIG_DFL)
            sys.unraisablehook = _previous_hook or sys.__unraisablehook__
        if kind is not None and issubclass(kind, _Alarm) and self.limit >= self.seconds:
            raise BudgetExceeded(f"{self.what} took more than {self.seconds:g} s (--budget)") from None
        return False  # an outer budget's deadline (this one was cut to it) is the outer block's to report

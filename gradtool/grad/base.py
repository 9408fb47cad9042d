"""The one interface every gradient engine offers: value and gradient at a point or a batch of points."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Protocol

import numpy as np


class GradientEngine(Protocol):
    """Value and gradient of f: R^n -> R.

    ``x`` is a float64 array of shape ``(n,)`` (one point: value is a float, gradient shape ``(n,)``)
    or ``(batch, n)`` (values shape ``(batch,)``, gradients shape ``(batch, n)``).
    """

    name: str
    n: int

    def value(self, x: np.ndarray) -> float | np.ndarray: ...

    def gradient(self, x: np.ndarray) -> np.ndarray: ...

    def value_and_gradient(self, x: np.ndarray) -> tuple[float | np.ndarray, np.ndarray]: ...


def as_points(x, n: int) -> tuple[np.ndarray, bool]:
    """Return ``(points of shape (batch, n), was_single)`` for a point or a batch of points."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1 and arr.shape[0] == n:
        return arr.reshape(1, n), True
    if arr.ndim == 2 and arr.shape[1] == n:
        return arr, False
    raise ValueError(f"expected shape ({n},) or (batch, {n}), got {arr.shape}")


_local = threading.local()


def quietly(function: Callable, *args):
    """``function(*args)`` with numpy's floating-point errors ignored: nan and inf, no warning, no exception.

    The effect of ``with np.errstate(all="ignore")`` at a twentieth of its cost (~0.1 us instead of ~2 us,
    which is most of a 2-D gradient's time): numpy 2 keeps its error state in a context variable, so a
    context copied once inside ``errstate`` carries it. One context per thread, since a context cannot
    be entered twice at once; only numpy code runs inside it. If the copy does not carry the state
    (numpy 1.x kept it globally), this falls back to ``errstate`` itself.
    """
    context = getattr(_local, "context", None)
    if context is None:
        with np.errstate(all="ignore"):
            context = contextvars.copy_context()
        _local.context = context = context if context.run(np.geterr)["invalid"] == "ignore" else False
    if context is False:
        with np.errstate(all="ignore"):
            return function(*args)
    return context.run(function, *args)


class Point(tuple):
    """A point or a gradient as a tuple of Python floats, with the little of an array the loop uses (the fast
    path of small runs, gradtool.floats)."""

    __slots__ = ()

    def tolist(self) -> list[float]:
        return list(self)

    def __sub__(self, other: Point) -> Point:
        return Point(a - b for a, b in zip(self, other, strict=True))


def float_evaluator(function: Callable, split: Callable, floats: bool) -> Callable:
    """``fg(x) -> (f, Point(g))`` in Python floats for a :class:`Point` ``x``, the same bits as the engine's
    single-point path (which calls ``function`` with the point's numpy float64 scalars).

    ``split`` turns the compiled function's result into ``(f, partials)``. With ``floats`` (the code has only
    whole powers, see ``tape.whole_powers``) ``function`` runs on the Python floats themselves, ~4x faster; where
    Python raises on what numpy computes (1/0, an overflowing power) the point is evaluated again with numpy
    scalars. The caller ignores numpy's floating-point errors (``np.errstate``), as the engines do.
    """
    scalars = np.float64

    def fg(x):
        if floats:
            try:
                f, g = split(function(*x))
            except ArithmeticError:  # ZeroDivisionError, OverflowError: numpy gives inf or nan there
                f, g = split(function(*map(scalars, x)))
        else:
            f, g = split(function(*map(scalars, x)))
        return float(f), Point(map(float, g))

    return fg

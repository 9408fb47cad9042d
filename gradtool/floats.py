"""The fast path of a single small run: the same compiled gradient and update rule, on Python floats.

A step of a 2-variable run on numpy arrays costs ~10 us, nearly all of it numpy's fixed cost per call on tiny
arrays; the same arithmetic on Python floats costs ~2 us. It is the same arithmetic, to the bit:

- the gradient is the engine's own compiled code called with Python floats rather than numpy float64 scalars
  (``GradientEngine.float_fg``; where Python and numpy could differ, numpy scalars are passed, see
  ``gradtool.grad.base.float_evaluator``);
- an update rule marked ``elementwise`` (gradtool.optim.base) treats each coordinate alone, so it runs once
  per coordinate, on Python floats; should a coordinate's arithmetic raise where numpy's gives inf or nan
  (a division by an exact 0), that coordinate is computed again with numpy scalars.

``iterate`` (gradtool.run) is the loop either way: a ``Point`` (gradtool.grad.base) offers what it uses of an
array. The tests compare every elementwise rule, on many expressions, with the array path bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from gradtool.grad.base import Point

MAX_N = 8  # variables; beyond, one numpy call per operation beats one rule call per coordinate (adam: ~10)


def fast_path(engine: Any, optimizer: Any, x0: np.ndarray) -> tuple[Callable, Callable, list, Point] | None:
    """``(fg, update, state, start)`` of the Python-float path for a run of ``engine`` and ``optimizer`` from ``x0``,
    or None where it does not apply: above ``MAX_N`` variables, a rule not marked elementwise, an engine
    without ``float_fg`` (numeric differences) or that declines (grouped sums)."""
    from gradtool.optim import optimizer_spec

    n = len(x0)
    if n > MAX_N or not optimizer_spec(optimizer.name).elementwise:
        return None
    fg = getattr(engine, "float_fg", lambda: None)()
    states = split_state(optimizer.init(x0), n)
    if fg is None or states is None:
        return None
    return fg, per_coordinate(optimizer.update), states, Point(x0.tolist())


def split_state(state: Any, n: int) -> list | None:
    """One state per coordinate: each ``(n,)`` array field split into Python floats, the rest (step counts,
    shared scalars, None) repeated; None when the state is not a NamedTuple of such fields."""
    if not (isinstance(state, tuple) and hasattr(state, "_fields")):
        return None
    columns = []
    for value in state:
        if isinstance(value, np.ndarray):
            if value.shape != (n,) or value.dtype != np.float64:
                return None
            columns.append(value.tolist())
        else:
            columns.append([value] * n)
    return [type(state)(*fields) for fields in zip(*columns, strict=True)]


def _scalars(state: Any) -> Any:
    return type(state)(*(np.float64(v) if type(v) is float else v for v in state))


def per_coordinate(update: Callable) -> Callable:
    """``update`` applied to each coordinate (with its own state) of Python-float points."""

    def step(grad: Point, states: list, params: Point, lr: float) -> tuple[Point, list]:
        xs, new = [], []
        for g, state, x in zip(grad, states, params, strict=False):  # strict=True: a quarter of the cost
            try:
                x, state = update(g, state, x, lr)
            except ArithmeticError:  # a division by an exact 0: numpy's inf or nan, as the array path gives
                x, state = update(np.float64(g), _scalars(state), np.float64(x), lr)
            xs.append(float(x))
            new.append(state)
        return Point(xs), new

    return step


def as_arrays(outcome: Any) -> Any:
    """An ``Outcome`` of the fast path with its points as float64 arrays, as the array path gives them."""
    return replace(outcome, x=np.array(outcome.x), g=np.array(outcome.g), best_x=np.array(outcome.best_x))

"""The contract of methods that evaluate where they need: a counting oracle, a step's outcome, the line step.

A searching method's step is ``step(oracle, x, f, g, state, lr) -> Move``: it may call ``oracle(x)`` for f
and g (and ``oracle.hessian``, ``oracle.hvp``) as often as it needs; the oracle counts every call, so the
result's evaluation counts are what was computed. First-order rules keep their ``update`` contract; with
a line search they are wrapped by :func:`searched`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from gradtool.optim.linesearch import Search


class Move(NamedTuple):
    """One step: the new point, f and g there, the new state and the step length ``t`` (``x + t d``);
    ``failure`` says why no step was taken (then ``x``, ``f``, ``g`` and ``state`` are the old ones)."""

    x: np.ndarray
    f: float
    g: np.ndarray
    state: Any
    t: float
    failure: str | None = None


class Oracle:
    """f and its gradient (and curvature, when the engine has it) at any point, counting every evaluation.

    ``counts``: ``f`` and ``grad`` (one each per ``oracle(x)``), ``hessian`` (dense Hessians formed) and
    ``hvp`` (Hessian-vector products).
    """

    def __init__(self, fg: Callable, hessian: Callable | None = None, hvp: Callable | None = None):
        self._fg, self._hessian, self._hvp = fg, hessian, hvp
        self.counts = {"f": 0, "grad": 0, "hessian": 0, "hvp": 0}

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.counts["f"] += 1
        self.counts["grad"] += 1
        return self._fg(x)

    def hessian(self, x: np.ndarray) -> np.ndarray:
        self.counts["hessian"] += 1
        return self._hessian(x)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        self.counts["hvp"] += 1
        return self._hvp(x, v)


class _Negated:
    """The oracle of -f (maximizing f is minimizing -f); counts stay with the oracle it wraps."""

    def __init__(self, oracle: Oracle):
        self.oracle = oracle

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = self.oracle(x)
        return -f, -g

    def hessian(self, x: np.ndarray) -> np.ndarray:
        return -self.oracle.hessian(x)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        return -self.oracle.hvp(x, v)


def resting(step: Callable) -> Callable:
    """A searching step at an exact stationary point (``g = 0``) stays where it is, state kept, nothing
    evaluated: every direction it could build is zero, so there is nothing to search along (torch's LBFGS
    returns at once there too). A run with ``tol = 0``, or a fit whose loss reaches an exact minimum, goes on
    as a first-order rule would, instead of failing its search."""

    def rest(oracle, x, f, g, state, lr):
        if not np.any(g):
            return Move(x, f, g, state, 0.0)
        return step(oracle, x, f, g, state, lr)

    return rest


def ascending(step: Callable) -> Callable:
    """torch's ``maximize`` for a searching step: it minimizes -f; f and g are reported as they are."""

    def ascend(oracle, x, f, g, state, lr):
        move = step(_Negated(oracle), x, -f, -g, state, lr)
        return move._replace(f=-move.f, g=-move.g)

    return ascend


def line_step(
    oracle: Callable, x: np.ndarray, f: float, g: np.ndarray, d: np.ndarray, t0: float, search: Callable | None
) -> Search:
    """Search along ``d`` from ``t0`` (with no search: the fixed step ``t0``, one evaluation)."""
    if search is None:
        f_new, g_new = oracle(x + t0 * d)
        return Search(t0, f_new, g_new, 1)
    return search(lambda t: oracle(x + t * d), d, f, g, float(g @ d), t0)


def moved(x: np.ndarray, d: np.ndarray, found: Search, old: Move, state: Any) -> Move:
    """The Move of a search: to ``x + t d`` with ``state``, or, when it failed, ``old`` with the reason."""
    if found.failure:
        return old._replace(t=found.t, failure=found.failure)
    return Move(x + found.t * d, found.f, found.g, state, found.t)


def searched(update: Callable, search: Callable) -> Callable:
    """A first-order rule with a line search: the direction is the rule's step at lr = 1, ``d = update(g,
    state, x, 1) - x`` (``-g`` for gd), and the search finds ``t`` from ``t0 = lr``; ``x = x + t d``.

    Exact for rules whose step is proportional to lr (all but rprop and asgd, which refuse a line search).
    """

    def step(oracle, x, f, g, state, lr):
        proposal, new_state = update(g, state, x, 1.0)
        d = proposal - x
        found = line_step(oracle, x, f, g, d, lr, search)
        return moved(x, d, found, Move(x, f, g, state, 0.0), new_state)

    return step

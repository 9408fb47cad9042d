"""Nonlinear conjugate gradients: Fletcher-Reeves and Polak-Ribiere+, with restarts."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from gradtool.optim.base import InitFn
from gradtool.optim.quasinewton import first_trial
from gradtool.optim.stepping import Move, line_step, moved


class CGState(NamedTuple):
    """The last direction ``d`` and gradient ``g`` (None before the first step), f there, and the steps
    since the last restart."""

    step: int
    d: np.ndarray | None
    g: np.ndarray | None
    f_prev: float | None
    since_restart: int


def direction(g: np.ndarray, state: CGState, beta_rule: str, every: int) -> tuple[np.ndarray, bool]:
    """``(d, restarted)``: ``-g`` at a restart, else ``-g + beta d_prev``; a restart also when that is not a
    descent direction."""
    g_prev = state.g
    if state.d is None or state.since_restart >= every or not float(g_prev @ g_prev) > 0:
        return -g, True
    if beta_rule == "fr":
        beta = float(g @ g) / float(g_prev @ g_prev)
    else:
        beta = max(0.0, float(g @ (g - g_prev)) / float(g_prev @ g_prev))
    d = -g + beta * state.d
    return (d, False) if float(g @ d) < 0 else (-g, True)


def cg(beta: str, restart: int | None, search: Callable | None) -> tuple[InitFn, Callable]:
    """Nonlinear conjugate gradients (Fletcher & Reeves 1964; Polak & Ribiere 1969, the + of Powell 1986)::

        d = -g                                              first step, and every restart
        d = -g + beta d_prev
        beta = g.g / g_prev.g_prev                          beta: fr
        beta = max(0, g.(g - g_prev) / g_prev.g_prev)       beta: pr+ (the default)
        t = the line search's step along d                  strong Wolfe with c2 = 0.1 by default
        x = x + t d

    Restarts (``d = -g``) every ``restart`` steps (default: n, the number of variables) and whenever ``d``
    is not a descent direction. The first trial step is scipy's (see ``bfgs``). scipy's ``CG`` is pr+
    with no periodic restart and c2 = 0.4; torch has no CG class.
    """

    def init(params: np.ndarray) -> CGState:
        return CGState(0, None, None, None, 0)

    def step(oracle, x, f, g, state, lr):
        d, restarted = direction(g, state, beta, restart or len(x))
        t0 = first_trial(lr, f, state.f_prev, float(g @ d), d)
        found = line_step(oracle, x, f, g, d, t0, search)
        new = CGState(state.step + 1, d, g, f, 1 if restarted else state.since_restart + 1)
        return moved(x, d, found, Move(x, f, g, state, 0.0), new)

    return init, step

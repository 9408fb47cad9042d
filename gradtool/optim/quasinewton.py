"""BFGS (inverse-Hessian form, as scipy's) and L-BFGS (exactly as torch.optim.LBFGS computes it)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from gradtool.optim.base import InitFn
from gradtool.optim.stepping import Move, line_step, moved

CURVATURE_FLOOR = 1e-10  # torch's rule: a pair (s, y) is used only when y.s exceeds this


def first_trial(lr: float, f: float, f_prev: float | None, gtd: float, d: np.ndarray) -> float:
    """scipy's initial step: a first move of length lr (``t0 = lr / |d|``), then the quadratic through the
    last decrease, ``min(lr, 1.01 * 2 (f - f_prev) / g.d)`` (Nocedal & Wright eq. 3.60; lr when that is
    not a positive number)."""
    if f_prev is None:
        norm = math.sqrt(float(d @ d))
        return lr / norm if norm > 0 else lr
    t0 = 1.01 * 2 * (f - f_prev) / gtd if gtd != 0 else math.nan
    return min(lr, t0) if t0 > 0 and math.isfinite(t0) else lr


class BFGSState(NamedTuple):
    """``h``: the inverse-Hessian approximation (None: the identity, before the first update); ``f_prev``:
    f at the previous iterate (for the first trial step)."""

    step: int
    h: np.ndarray | None
    f_prev: float | None


def bfgs(search: Callable | None) -> tuple[InitFn, Callable]:
    """BFGS (Broyden, Fletcher, Goldfarb, Shanno 1970) in the inverse-Hessian form of scipy's ``BFGS``::

        d = -H g                                   H = I at the start
        t = the line search's step along d         (strong Wolfe, c1 = 1e-4, c2 = 0.9, by default)
        x = x + t d
        s = t d,  y = g_new - g,  rho = 1 / y.s
        H = (I - rho s y^T) H (I - rho y s^T) + rho s s^T     only when y.s > 1e-10 (else H is kept)

    The first trial step is scipy's: a move of length lr at the first step, then ``min(lr, 1.01 * 2 (f -
    f_prev) / g.d)``. The update is computed as the equal rank-two form ``H - rho (s Hy^T + Hy s^T) + (rho^2
    y.Hy + rho) s s^T`` (O(n^2), where scipy multiplies matrices). torch has no BFGS class.
    """

    def init(params: np.ndarray) -> BFGSState:
        return BFGSState(0, None, None)

    def step(oracle, x, f, g, state, lr):
        h = state.h
        d = -g if h is None else -(h @ g)
        t0 = first_trial(lr, f, state.f_prev, float(g @ d), d)
        found = line_step(oracle, x, f, g, d, t0, search)
        if not found.failure:
            h = _bfgs_update(h, found.t * d, found.g - g)
        return moved(x, d, found, Move(x, f, g, state, 0.0), BFGSState(state.step + 1, h, f))

    return init, step


def _bfgs_update(h: np.ndarray | None, s: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    ys = float(y @ s)
    if not ys > CURVATURE_FLOOR:
        return h
    h = np.eye(len(s)) if h is None else h
    rho, hy = 1.0 / ys, h @ y
    # H - rho (s Hy^T + Hy s^T) + (rho^2 y.Hy + rho) s s^T, as two outer products into one new matrix
    out = h + np.outer(s, (rho * rho * float(y @ hy) + rho) * s - rho * hy)
    out -= np.outer(rho * hy, s)
    return out


class LBFGSState(NamedTuple):
    """torch's LBFGS state: the pairs ``s`` (old_stps), ``y`` (old_dirs) and ``rho`` (ro), newest last,
    ``h_diag`` (H_diag), the last direction ``d``, step length ``t`` and gradient ``g`` (prev_flat_grad)."""

    step: int
    s: tuple[np.ndarray, ...]
    y: tuple[np.ndarray, ...]
    rho: tuple[float, ...]
    h_diag: float
    d: np.ndarray | None
    t: float
    g: np.ndarray | None


def two_loop(g: np.ndarray, s: tuple, y: tuple, rho: tuple, h_diag: float) -> np.ndarray:
    """``d = -H g`` by the L-BFGS two-loop recursion, in torch's operation order."""
    q = -g
    alpha = [0.0] * len(s)
    for i in range(len(s) - 1, -1, -1):
        alpha[i] = float(s[i] @ q) * rho[i]
        q = q + (-alpha[i]) * y[i]
    r = q * h_diag
    for i in range(len(s)):
        beta = float(y[i] @ r) * rho[i]
        r = r + (alpha[i] - beta) * s[i]
    return r


def _remember(state: LBFGSState, g: np.ndarray, history: int) -> tuple[tuple, tuple, tuple, float]:
    """The memory after the last step: its pair appended (the oldest dropped) when y.s > 1e-10."""
    y, s = g - state.g, state.d * state.t
    ys = float(y @ s)
    if ys <= CURVATURE_FLOOR:
        return state.s, state.y, state.rho, state.h_diag
    keep = 1 if len(state.s) == history else 0
    h_diag = ys / float(y @ y)
    return (*state.s[keep:], s), (*state.y[keep:], y), (*state.rho[keep:], 1.0 / ys), h_diag


def lbfgs(history_size: int, search: Callable | None) -> tuple[InitFn, Callable]:
    """L-BFGS (Nocedal 1980; Liu & Nocedal 1989), one step = one inner iteration of torch ``LBFGS.step``::

        d = -g                                     the first step
        d = -H g                                   two-loop recursion over the last m pairs (s, y),
                                                   H0 = (y.s / y.y) I of the newest pair
        s = t d, y = g_new - g                     the pair is kept only when y.s > 1e-10
        t0 = min(1, 1 / |g|_1) * lr                the first step; t0 = lr afterwards
        t = t0                                     line_search none: a fixed step (torch's default)
        t = the strong Wolfe step from t0          line_search strong-wolfe (torch "strong_wolfe")
        x = x + t d

    ``history_size`` is torch's (default 100). torch's own tolerances (tolerance_grad, tolerance_change)
    and its max_iter/max_eval per ``step()`` are gradtool's stopping rules and steps instead; its line
    search is ``strong-wolfe`` with the same defaults.
    """

    def init(params: np.ndarray) -> LBFGSState:
        return LBFGSState(0, (), (), (), 1.0, None, 0.0, None)

    def step(oracle, x, f, g, state, lr):
        if state.step == 0:
            s, y, rho, h_diag = (), (), (), 1.0
            d = -g
            total = float(np.abs(g).sum())
            t0 = min(1.0, 1.0 / total) * lr if total > 0 else lr
        else:
            s, y, rho, h_diag = _remember(state, g, history_size)
            d = two_loop(g, s, y, rho, h_diag)
            t0 = lr
        gtd = float(g @ d)
        if not gtd < 0:
            return Move(x, f, g, state, 0.0, f"the direction is not a descent direction (g.d = {gtd:.3g})")
        found = line_step(oracle, x, f, g, d, t0, search)
        new = LBFGSState(state.step + 1, s, y, rho, h_diag, d, found.t, g)
        return moved(x, d, found, Move(x, f, g, state, 0.0), new)

    return init, step

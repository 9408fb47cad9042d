"""Line searches along a direction ``d``: ``phi(t) = f(x + t d)``; Armijo backtracking and strong Wolfe.

Pure functions: the caller passes ``evaluate(t) -> (f, g)`` at ``x + t d`` (one function and one gradient
evaluation per call, counted by the caller's oracle), and gets a :class:`Search` back. A search that finds
no acceptable step says so in ``failure``; it never raises.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

Evaluate = Callable[[float], tuple[float, np.ndarray]]


class Search(NamedTuple):
    """The step length ``t`` found, f and g at ``x + t d``, and why no step was accepted (None: accepted,
    and the search's conditions hold at ``t``)."""

    t: float
    f: float
    g: np.ndarray | None
    evaluations: int
    failure: str | None = None


EPS = 2.0**-52


def precision_hint(f: float, lowest: float) -> str:
    """A note for a failed search whose trials never lowered f beyond its rounding (a flat f at x)."""
    if lowest < f - 8 * EPS * max(1.0, abs(f)):
        return ""
    return "; f changes only at its rounding level there (tol may be below what f's precision allows)"


def not_descent(gtd: float) -> Search | None:
    """The failed search for a direction that is not a descent direction (``g.d >= 0`` or nan), else None."""
    if gtd < 0:
        return None
    return Search(0.0, math.nan, None, 0, f"the direction is not a descent direction (g.d = {gtd:.3g})")


def armijo(
    evaluate: Evaluate,
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: float,
    t: float,
    c1: float = 1e-4,
    shrink: float = 0.5,
    max_trials: int = 40,
) -> Search:
    """Backtracking (Armijo 1966; Nocedal & Wright Alg. 3.1)::

        t = t0, shrink * t0, shrink^2 * t0, ...   until   f(x + t d) <= f(x) + c1 * t * g.d

    at most ``max_trials`` evaluations. A trial where f is not a number counts as too long a step. Every
    search takes ``(evaluate, d, f, g, g.d, t0, **parameters)``; this one needs neither ``d`` nor ``g``.
    """
    failed = not_descent(gtd)
    if failed:
        return failed
    lowest = math.inf
    for trial in range(1, max_trials + 1):
        f_new, g_new = evaluate(t)
        if f_new <= f + c1 * t * gtd:
            return Search(t, f_new, g_new, trial)
        lowest = min(lowest, f_new) if f_new == f_new else lowest
        if trial < max_trials:
            t *= shrink
    why = f"no step down to t = {t:.3g} satisfies the Armijo condition in {max_trials} trials"
    return Search(t, f_new, g_new, max_trials, why + precision_hint(f, lowest))


def cubic_interpolate(
    x1: float, f1: float, g1: float, x2: float, f2: float, g2: float, bounds: tuple[float, float] | None = None
) -> float:
    """The minimizer of the cubic through ``(x1, f1, f'=g1)`` and ``(x2, f2, f'=g2)``, clipped to ``bounds``
    (default: the interval between the points); their midpoint when the cubic has no minimizer (torch's
    ``_cubic_interpolate``, Nocedal & Wright eq. 3.59)."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    try:
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        d2_square = d1**2 - g1 * g2
        if d2_square >= 0:  # false for nan: a non-finite trial falls back to the midpoint
            d2 = math.sqrt(d2_square)
            if x1 <= x2:
                min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
            else:
                min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
            if math.isfinite(min_pos):  # an infinite f at a trial makes d2 infinite and min_pos nan
                return min(max(min_pos, lo), hi)
    except (ZeroDivisionError, OverflowError):  # coincident points, or a flat cubic: no minimizer to take
        pass
    return (lo + hi) / 2.0


class _Point(NamedTuple):
    t: float
    f: float
    g: np.ndarray
    gtd: float


def _lower(points: list[_Point], f: float, c1: float, gtd: float) -> tuple[int, int]:
    """``(low, high)`` positions in a bracket of two points: low is the lower of those with sufficient
    decrease (Nocedal & Wright's alpha_lo). torch takes the lower f of the two even when it lacks sufficient
    decrease, which can leave zoom no acceptable point to find; the two agree whenever that one has it. A nan
    f is never the low one."""
    fine = [p.t == 0 or p.f <= f + c1 * p.t * gtd for p in points]
    if fine[0] != fine[1]:
        return (0, 1) if fine[0] else (1, 0)
    return (1, 0) if points[1].f < points[0].f else (0, 1)


def strong_wolfe(
    evaluate: Evaluate,
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: float,
    t: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 0.0,
    max_ls: int = 25,
) -> Search:
    """Strong Wolfe step: bracketing, then zoom with cubic interpolation (Nocedal & Wright Alg. 3.5, 3.6)::

        f(x + t d) <= f(x) + c1 * t * g.d          sufficient decrease
        |g(x + t d).d| <= c2 * |g.d|               curvature

    Step for step as torch's ``_strong_wolfe`` (torch.optim.LBFGS), but for the bracket's low end: always
    a point with sufficient decrease, as in Nocedal & Wright (see ``_lower``). Bracketing extrapolates
    (cubic, within ``[t + 0.01 (t - t_prev), 10 t]``) until a trial fails sufficient decrease, rises, or
    has ``g.d >= 0``; zoom then interpolates inside the bracket, kept ``0.1 * width`` away from its ends.
    At most ``max_ls`` evaluations after the first; zoom stops early once the bracket is narrower than
    ``tolerance_change`` (in x, by ``max |d|``). scipy's BFGS finds a step with the same conditions by
    MINPACK's ``dcsrch`` (More & Thuente), falling back to its ``line_search_wolfe2`` (this algorithm
    with other interpolation safeguards).
    """
    failed = not_descent(gtd)
    if failed:
        return failed
    first = _Point(t, *_probe(evaluate, d, t))
    bracket, done, calls = _bracketing(evaluate, d, _Point(0.0, f, g, gtd), first, c1, c2, max_ls)
    last = bracket[-1]
    if not done and calls == max_ls and last.f < f:  # still extrapolating: every trial went further down
        why = f"f still decreases at t = {last.t:.3g} after {calls + 1} evaluations (is it unbounded below?)"
        return Search(last.t, last.f, last.g, calls + 1, why)
    if not done:
        bracket, done, calls = _zoom(evaluate, d, bracket, calls, f, gtd, c1, c2, tolerance_change, max_ls)
    best = bracket[_lower(bracket, f, c1, gtd)[0]] if len(bracket) == 2 else bracket[0]
    if done:
        return Search(best.t, best.f, best.g, calls + 1)
    why = f"no step satisfies the strong Wolfe conditions (c1={c1:g}, c2={c2:g}) after {calls + 1} evaluations"
    return Search(best.t, best.f, best.g, calls + 1, why + precision_hint(f, best.f))


def _probe(evaluate: Evaluate, d: np.ndarray, t: float) -> tuple[float, np.ndarray, float]:
    f_new, g_new = evaluate(t)
    return f_new, g_new, float(g_new @ d)


def _bracketing(evaluate, d, start: _Point, new: _Point, c1, c2, max_ls) -> tuple[list[_Point], bool, int]:
    """Nocedal & Wright Alg. 3.5: ``(bracket, done, evaluations after the first)``."""
    f, gtd, prev, calls = start.f, start.gtd, start, 0
    while calls < max_ls:
        if not new.f <= f + c1 * new.t * gtd or (calls > 1 and new.f >= prev.f):
            return [prev, new], False, calls
        if abs(new.gtd) <= -c2 * gtd:
            return [new], True, calls
        if new.gtd >= 0:
            return [prev, new], False, calls
        bounds = (new.t + 0.01 * (new.t - prev.t), new.t * 10)
        t = cubic_interpolate(prev.t, prev.f, prev.gtd, new.t, new.f, new.gtd, bounds=bounds)
        prev, new = new, _Point(t, *_probe(evaluate, d, t))
        calls += 1
    return [start, new], False, calls


def _zoom(evaluate, d, bracket, calls, f, gtd, c1, c2, tolerance_change, max_ls):
    """Nocedal & Wright Alg. 3.6 with torch's safeguard: ``(bracket, done, evaluations after the first)``."""
    d_norm = float(np.max(np.abs(d)))
    insufficient = False
    low, high = _lower(bracket, f, c1, gtd)
    while calls < max_ls:
        if abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change:
            break
        a, b = bracket
        t = cubic_interpolate(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
        t, insufficient = _away_from_ends(t, min(a.t, b.t), max(a.t, b.t), insufficient)
        new = _Point(t, *_probe(evaluate, d, t))
        calls += 1
        if not new.f <= f + c1 * t * gtd or new.f >= bracket[low].f:
            bracket[high] = new
            low, high = _lower(bracket, f, c1, gtd)
            continue
        if abs(new.gtd) <= -c2 * gtd:
            bracket[low] = new
            return bracket, True, calls
        if new.gtd * (bracket[high].t - bracket[low].t) >= 0:
            bracket[high] = bracket[low]
        bracket[low] = new
    return bracket, False, calls


def _away_from_ends(t: float, lo: float, hi: float, insufficient: bool) -> tuple[float, bool]:
    """torch's progress safeguard: a trial within ``0.1 * width`` of an end, the second time in a row (or
    outside the bracket), moves to ``0.1 * width`` inside the nearer end."""
    eps = 0.1 * (hi - lo)
    if min(hi - t, t - lo) >= eps:
        return t, False
    if insufficient or t >= hi or t <= lo:
        return (hi - eps if abs(t - hi) < abs(t - lo) else lo + eps), False
    return t, True

"""The Taylor test: a step-size-free gradient check that reads the order of the first-order remainder."""

from __future__ import annotations

import numpy as np

from gradtool.expr.objective import Objective
from gradtool.grad.analytic import AnalyticEngine

EPS = float(np.finfo(float).eps)
STEPS = 2.0 ** -np.arange(1, 61)  # t = 2^-1 ... 2^-60, in units of max(1, |x|_inf)
ABOVE_ROUNDING = 100  # a remainder counts when it is this many times its rounding error
FIT_STEPS = 4  # the order is the slope over the smallest steps whose remainder counts


def remainder_order(fs: np.ndarray, f0: float, slope: float, ts: np.ndarray, spread: float = 0.0) -> float:
    """The order of r(t) = |f(x + t d) - f(x) - t g.d| as t -> 0, from values ``fs`` at steps ``ts``.

    Only the steps after the last non-finite value count (the probes then stay in f's domain); of those,
    the ones whose remainder is ``ABOVE_ROUNDING`` times its rounding error eps (|f(x + t d)| + |f(x)| +
    |t g.d| + spread), where ``spread`` = sum |x_i g_i| is what rounding x + t d to floats moves f by
    (large near a pole: tan(x) at 1.5707). The order is the least-squares slope of log r against log t
    over the ``FIT_STEPS`` smallest such steps: the remainder is asymptotic there (closest to t = 0) and
    still well above rounding. A remainder at rounding level throughout (f linear along d) counts as order 2.
    """
    finite = np.isfinite(fs)
    start = int(np.flatnonzero(~finite)[-1]) + 1 if not finite.all() else 0
    fs, ts = fs[start:], ts[start:]
    with np.errstate(invalid="ignore", over="ignore"):
        r = np.abs(fs - f0 - ts * slope)
        noise = EPS * (np.abs(fs) + abs(f0) + np.abs(ts * slope) + spread)
    counted = np.flatnonzero(r > ABOVE_ROUNDING * noise)
    if len(counted) < 2:
        return 2.0
    last = counted[-FIT_STEPS:]
    return float(np.polyfit(np.log(ts[last]), np.log(r[last]), 1)[0])


def taylor_orders(
    objective: Objective, point: np.ndarray, gradient: np.ndarray, *, directions: int = 3, seed: int = 0
) -> list[float]:
    """Observed order of the Taylor remainder |f(x + t d) - f(x) - t g.d| along random unit directions d.

    A correct gradient gives order ~2 (the remainder shrinks like t^2), a wrong one ~1. The steps are
    t = 2^-k max(1, |x|_inf), k = 1 ... 60; see :func:`remainder_order` for the steps that count.
    """
    engine = AnalyticEngine(objective)
    rng = np.random.default_rng(seed)
    ts = STEPS * max(1.0, float(np.max(np.abs(point))))
    f0 = engine.value(point)
    spread = float(np.sum(np.abs(point * gradient)))
    orders = []
    for _ in range(directions):
        d = rng.standard_normal(len(point))
        d /= np.linalg.norm(d)
        fs = engine.value(point[None, :] + ts[:, None] * d[None, :])
        orders.append(remainder_order(np.asarray(fs, float), f0, float(gradient @ d), ts, spread))
    return orders

"""Gradient checking: engines against each other, a hand-derived gradient against the truth, step sweeps."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gradtool.errors import ConfigError, ParseError, PointError
from gradtool.expr.objective import Objective
from gradtool.expr.parser import parse_expression
from gradtool.grad.analytic import AnalyticEngine, compile_numpy
from gradtool.grad.engines import make_engine
from gradtool.grad.numeric import step_sweep

SWEEP_STEPS = 10.0 ** -np.arange(1, 16)


def split_components(text: str) -> list[str]:
    """Split ``"2*x*y, max(x, y)"`` at top-level commas only."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


class UserGradient:
    """A hand-derived gradient ``"e1, e2, ..."``, parsed safely and compiled for a batch of points."""

    def __init__(self, text: str, objective: Objective):
        parts = split_components(text)
        if len(parts) != objective.n:
            raise ParseError(
                f"--grad has {len(parts)} component{'s' if len(parts) != 1 else ''}, "
                f"expected {objective.n} ({', '.join(objective.variables)})"
            )
        by_name = {s.name: s for s in objective.symbols}
        exprs = []
        for k, part in enumerate(parts):
            try:
                expr, found = parse_expression(part)
            except ParseError as exc:
                raise ParseError(f"--grad component {k + 1}: {exc}") from None
            unknown = sorted(set(found) - set(by_name))
            if unknown:
                raise ParseError(
                    f"--grad component {k + 1} uses {', '.join(unknown)}, not a variable of "
                    f"the expression ({', '.join(objective.variables)})"
                )
            exprs.append(expr.xreplace({found[v]: by_name[v] for v in found}))
        self.exprs = exprs
        self._func = compile_numpy(exprs, objective.symbols)
        self.n = objective.n

    def gradient(self, pts: np.ndarray) -> np.ndarray:
        out = np.empty(pts.shape)
        with np.errstate(all="ignore"):
            for j, col in enumerate(self._func(*pts.T)):
                out[:, j] = col
        return out


def random_points(objective: Objective, count: int, seed: int, box: tuple[float, float] | None = None) -> np.ndarray:
    """``count`` points uniform in ``box`` (default: the named function's domain, else -2,2), seeded."""
    lo, hi = box if box is not None else (objective.named.domain if objective.named else (-2.0, 2.0))
    return np.random.default_rng(seed).uniform(lo, hi, size=(count, objective.n))


def relative_error(value: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """|value - truth| / |truth| per component (0 where both are 0, inf where only truth is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):  # inf - inf at a non-finite point
        diff = np.abs(value - truth)
        rel = diff / np.abs(truth)
    rel[(diff == 0)] = 0.0
    return rel


@dataclass
class PointCheck:
    """The comparison at one point: each source's gradient and whether all agree."""

    at: dict[str, float]
    columns: dict[str, list[float]]
    abs_error: list[float]
    rel_error: list[float]
    passed: list[bool]
    wrong: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def ok(self) -> bool:
        return all(self.passed) and self.note is None


def _finite_or_none(v: float) -> float | str:
    return float(v) if math.isfinite(v) else str(v)


def check_points(
    objective: Objective,
    points: np.ndarray,
    *,
    user: str | None = None,
    method: str = "central",
    h: float | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> list[PointCheck]:
    """Compare analytic, autodiff, numeric (and the user's) gradients at each row of ``points``.

    Analytic is the reference. A component passes when every other source is within
    ``atol + rtol * |analytic|`` of it. With ``user``, a failing component names the variable.
    """
    analytic = AnalyticEngine(objective.expr, objective.symbols)
    sources = {
        "analytic": analytic.gradient(points),
        "autodiff": make_engine("autodiff", objective).gradient(points),
        "numeric": make_engine("numeric", objective, method=method, h=h, analytic=analytic).gradient(points),
    }
    if user is not None:
        sources["user"] = UserGradient(user, objective).gradient(points)
    values = np.atleast_1d(analytic.value(points))
    truth = sources["analytic"]
    others = [k for k in sources if k != "analytic"]
    results = []
    for b, pt in enumerate(points):
        with np.errstate(invalid="ignore"):
            diffs = np.array([np.abs(sources[k][b] - truth[b]) for k in others])
        rels = np.array([relative_error(sources[k][b], truth[b]) for k in others])
        passed = np.all(diffs <= atol + rtol * np.abs(truth[b]), axis=0)
        note = None
        if not (np.all(np.isfinite(truth[b])) and math.isfinite(values[b])):
            note = "f or its gradient is not finite here"
            passed = np.zeros_like(passed)
        wrong = []
        if user is not None:
            bad = np.abs(sources["user"][b] - truth[b]) > atol + rtol * np.abs(truth[b])
            wrong = [v for v, w in zip(objective.variables, bad, strict=True) if w]
        results.append(
            PointCheck(
                at=dict(zip(objective.variables, map(float, pt), strict=True)),
                columns={k: [float(v) for v in sources[k][b]] for k in sources},
                abs_error=[float(v) for v in np.max(diffs, axis=0)],
                rel_error=[float(v) for v in np.max(rels, axis=0)],
                passed=[bool(p) for p in passed],
                wrong=wrong,
                note=note,
            )
        )
    return results


def taylor_orders(
    objective: Objective, point: np.ndarray, gradient: np.ndarray, *, directions: int = 3, seed: int = 0
) -> list[float]:
    """Observed order of the Taylor remainder |f(x + t d) - f(x) - t g.d| along random directions.

    A correct gradient gives order ~2 (the remainder shrinks like t^2), a wrong one ~1. Steps t where the
    remainder is buried in rounding noise are left out; a remainder that is zero throughout (f linear
    along d) counts as order 2.
    """
    engine = AnalyticEngine(objective.expr, objective.symbols)
    rng = np.random.default_rng(seed)
    ts = 2.0 ** -np.arange(1, 21)
    f0 = engine.value(point)
    noise = 1e3 * np.finfo(float).eps * max(abs(f0), 1.0)
    orders = []
    for _ in range(directions):
        d = rng.standard_normal(len(point))
        d /= np.linalg.norm(d)
        fs = engine.value(point[None, :] + ts[:, None] * d[None, :])
        r = np.abs(fs - f0 - ts * float(gradient @ d))
        keep = r > noise
        if keep.sum() < 3:
            orders.append(2.0)
            continue
        slope = np.polyfit(np.log(ts[keep]), np.log(r[keep]), 1)[0]
        orders.append(float(slope))
    return orders


def sweep_steps(objective: Objective, point: np.ndarray) -> dict[str, list[float] | float]:
    """Forward and central difference errors for h = 1e-1 ... 1e-15, and the best h of each."""
    engine = AnalyticEngine(objective.expr, objective.symbols)
    exact = engine.gradient(point)
    table = step_sweep(engine.value, point, exact, SWEEP_STEPS)
    out: dict[str, list[float] | float] = {"h": table["h"].tolist()}
    for method in ("forward", "central"):
        errs = table[method]
        out[method] = [float(e) for e in errs]
        finite = np.where(np.isfinite(errs), errs, np.inf)
        out[f"best_h_{method}"] = float(table["h"][int(np.argmin(finite))])
    return out


def run_check(
    objective: Objective,
    points: np.ndarray,
    *,
    user: str | None = None,
    method: str = "central",
    h: float | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    sweep: bool = False,
    taylor: bool = False,
    seed: int = 0,
) -> dict:
    """The whole `check-grad`: per-point comparisons (+ Taylor orders, + step sweep) as one JSON-ready dict.

    With ``taylor`` a point also fails when a gradient's observed Taylor order is below 1.5.
    """
    objective.require_variables("check")
    if len(points) == 0:
        raise PointError("no points to check")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a whole number >= 0, got {seed!r}")
    if not (0 <= rtol < math.inf and 0 <= atol < math.inf):
        raise ParseError(f"tolerances must be non-negative finite numbers, got rtol={rtol}, atol={atol}")
    checks = check_points(objective, points, user=user, method=method, h=h, rtol=rtol, atol=atol)
    names = objective.variables
    out_points = []
    for pt, c in zip(points, checks, strict=True):
        entry = {"at": c.at}
        for k in ("analytic", "autodiff", "numeric", "user"):
            entry[k] = dict(zip(names, c.columns[k], strict=True)) if k in c.columns else None
        entry.update(
            max_abs_error=max(c.abs_error),
            max_rel_error=max(c.rel_error),
            ok=c.ok,
            abs_errors=c.abs_error,
            rel_errors=c.rel_error,
            passed=c.passed,
            wrong=c.wrong,
            note=c.note,
            taylor_order=None,
        )
        if taylor and c.note is None:
            sources = {k: np.array(c.columns[k]) for k in ("analytic", "autodiff", "user") if k in c.columns}
            orders = {k: min(taylor_orders(objective, pt, g, seed=seed)) for k, g in sources.items()}
            entry["taylor_order"] = orders
            entry["ok"] = entry["ok"] and all(o >= 1.5 for o in orders.values())
        out_points.append(entry)
    return {
        "expression": objective.text,
        "variables": names,
        "points": out_points,
        "ok": all(p["ok"] for p in out_points),
        "method": method,
        "rtol": rtol,
        "atol": atol,
        "sweep": sweep_steps(objective, points[0]) if sweep else None,
    }

"""Gradient checking: engines against each other, a hand-derived gradient against the truth, step sweeps."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gradtool.defaults import ATOL, RTOL
from gradtool.errors import ConfigError, ParseError, PointError
from gradtool.expr.objective import Objective
from gradtool.grad.analytic import AnalyticEngine, compile_numpy
from gradtool.grad.engines import make_engine
from gradtool.grad.numeric import step_sweep
from gradtool.grad.richardson import NumericEstimate, adaptive_gradient
from gradtool.params import ParseParamError
from gradtool.taylor import taylor_orders

__all__ = ["UserGradient", "check_points", "random_points", "run_check", "sweep_steps", "taylor_orders"]

SWEEP_STEPS = 10.0 ** -np.arange(1, 16)
ERROR_FACTOR = 10.0  # k: numeric passes within atol + rtol |analytic| + k * (its estimated error)
MAX_VALUES = 200_000  # points x variables: reports (JSON ~2.5 kB per component) stay under ~0.5 GB
MAX_WORK = 1e9  # points x variables^2: numeric gradients evaluate f at ~20 x that many coordinates


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
    """A hand-derived gradient ``"e1, e2, ..."``, parsed safely and compiled for a batch of points; its
    errors name the parameter ``user`` (of :func:`check_points` and :func:`run_check`)."""

    def __init__(self, text: str, objective: Objective):
        parts = split_components(text)
        if len(parts) != objective.n:
            raise ParseParamError(
                "user",
                f"has {len(parts)} component{'s' if len(parts) != 1 else ''}, "
                f"expected {objective.n} ({', '.join(objective.variables)})",
            )
        from gradtool.expr.parser import parse_expression  # SymPy: only for a hand-derived gradient

        by_name = {s.name: s for s in objective.symbols}
        exprs = []
        for k, part in enumerate(parts):
            try:
                expr, found = parse_expression(part)
            except ParseError as exc:
                raise ParseParamError("user", f"component {k + 1}: {exc}") from None
            unknown = sorted(set(found) - set(by_name))
            if unknown:
                raise ParseParamError(
                    "user",
                    f"component {k + 1} uses {', '.join(unknown)}, not a variable of "
                    f"the expression ({', '.join(objective.variables)})",
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


def check_size(count: int, n: int) -> None:
    """Refuse, before anything is allocated, a check too big for memory (points x variables) or time."""
    if count * n > MAX_VALUES:
        raise ConfigError(
            f"{count:,} points x {n:,} variables = {count * n:,} gradient components, over check-grad's "
            f"{MAX_VALUES:,} (memory): lower the number of points (--random) or of variables (--dim)"
        )
    if count * n * n > MAX_WORK:
        raise ConfigError(
            f"numeric gradients at {count:,} points of {n:,} variables would evaluate f about "
            f"{20 * count * n:,} times ({count * n * n:.1e} points x variables^2, over {MAX_WORK:.0e}): lower "
            "the number of points (--random) or of variables (--dim)"
        )


def random_points(objective: Objective, count: int, seed: int, box: tuple[float, float] | None = None) -> np.ndarray:
    """``count`` points uniform in ``box`` (default: the named function's domain, else -2,2), seeded."""
    check_size(count, objective.n)
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
    """The comparison at one point: each source's gradient and whether all agree.

    ``numeric_error`` is the numeric method's error estimate per component (None for the fixed-step
    methods), ``numeric_step`` its step, ``evaluations`` its count of f evaluations; ``numeric_note``
    says where the numeric method could not work.
    """

    at: dict[str, float]
    columns: dict[str, list[float]]
    abs_error: list[float]
    rel_error: list[float]
    passed: list[bool]
    wrong: list[str] = field(default_factory=list)
    note: str | None = None
    numeric_error: list[float] | None = None
    numeric_step: list[float] = field(default_factory=list)
    numeric_note: str | None = None
    evaluations: int = 0

    @property
    def ok(self) -> bool:
        return all(self.passed) and self.note is None


def _allowed(truth: np.ndarray, error: np.ndarray | None, rtol: float, atol: float) -> np.ndarray:
    """The numeric tolerance per component: atol + rtol |analytic| + k * estimated error."""
    tol = atol + rtol * np.abs(truth)
    return tol if error is None else tol + ERROR_FACTOR * error


def _compare(objective: Objective, sources: dict, numeric: NumericEstimate, b: int, rtol: float, atol: float):
    """(diffs, rels, passed, numeric note) at point ``b``: strict tolerance for all but numeric."""
    truth = sources["analytic"][b]
    others = [k for k in sources if k != "analytic"]
    with np.errstate(invalid="ignore"):
        diffs = np.array([np.abs(sources[k][b] - truth) for k in others])
    rels = np.array([relative_error(sources[k][b], truth) for k in others])
    error = None if numeric.error is None else numeric.error[b]
    allowed = [_allowed(truth, error, rtol, atol) if k == "numeric" else atol + rtol * np.abs(truth) for k in others]
    passed = diffs <= np.array(allowed)
    note = None
    if error is not None and not np.all(np.isfinite(error)):  # no finite stencil: numeric cannot say
        blind = ~np.isfinite(error)
        passed[others.index("numeric"), blind] = True
        names = ", ".join(v for v, w in zip(objective.variables, blind, strict=True) if w)
        note = f"no finite stencil in {names} (f is not finite on one side at every step): numeric not compared"
    return diffs, rels, np.all(passed, axis=0), note


def check_points(
    objective: Objective,
    points: np.ndarray,
    *,
    user: str | None = None,
    method: str = "adaptive",
    h: float | None = None,
    rtol: float = RTOL.default,
    atol: float = ATOL.default,
) -> list[PointCheck]:
    """Compare analytic, autodiff, numeric (and the user's) gradients at each row of ``points``.

    Analytic is the reference. A component passes when autodiff and the user's gradient are within
    ``atol + rtol * |analytic|`` of it, and the numeric one within that plus ``ERROR_FACTOR`` times the
    numeric method's own error estimate. With ``user``, a failing component names the variable.
    """
    check_size(len(points), objective.n)
    analytic = AnalyticEngine(objective)
    numeric = make_engine("numeric", objective, method=method, h=h, analytic=analytic).estimate(points)
    sources = {
        "analytic": analytic.gradient(points),
        "autodiff": make_engine("autodiff", objective).gradient(points),
        "numeric": numeric.gradient,
    }
    if user is not None:
        sources["user"] = UserGradient(user, objective).gradient(points)
    values = np.atleast_1d(analytic.value(points))
    results = []
    for b, pt in enumerate(points):
        truth = sources["analytic"][b]
        diffs, rels, passed, numeric_note = _compare(objective, sources, numeric, b, rtol, atol)
        note = None
        if not (np.all(np.isfinite(truth)) and math.isfinite(values[b])):
            note = "f or its gradient is not finite here"
            passed = np.zeros_like(passed)
        wrong = []
        if user is not None:
            bad = np.abs(sources["user"][b] - truth) > atol + rtol * np.abs(truth)
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
                numeric_error=None if numeric.error is None else [float(v) for v in numeric.error[b]],
                numeric_step=[float(v) for v in numeric.step[b]],
                numeric_note=numeric_note,
                evaluations=int(numeric.evaluations[b]),
            )
        )
    return results


def sweep_steps(objective: Objective, point: np.ndarray) -> dict:
    """Forward and central difference errors for h = 1e-1 ... 1e-15, the best h of each, and the adaptive
    method's error, estimated error and steps (``adaptive``), all relative errors maxed over components."""
    engine = AnalyticEngine(objective)
    exact = engine.gradient(point)
    table = step_sweep(engine.value, point, exact, SWEEP_STEPS)
    out: dict = {"h": table["h"].tolist()}
    for method in ("forward", "central"):
        errs = table[method]
        out[method] = [float(e) for e in errs]
        finite = np.where(np.isfinite(errs), errs, np.inf)
        out[f"best_h_{method}"] = float(table["h"][int(np.argmin(finite))])
    adaptive = adaptive_gradient(engine.value, point[None, :])
    scale = np.maximum(np.abs(exact), 1e-300)
    errors = np.abs(adaptive.gradient[0] - exact) / scale
    worst = int(np.nanargmax(errors)) if np.isfinite(errors).any() else 0
    out["adaptive"] = {
        "error": float(np.max(errors)),
        "estimated_error": float(np.max(adaptive.error[0] / scale)),
        "step": float(adaptive.step[0, worst]),
        "steps": [float(v) for v in adaptive.step[0]],
        "evaluations": int(adaptive.evaluations[0]),
    }
    return out


def _point_entry(c: PointCheck, names: list[str]) -> dict:
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
        numeric_error=None if c.numeric_error is None else dict(zip(names, c.numeric_error, strict=True)),
        numeric_step=dict(zip(names, c.numeric_step, strict=True)),
        numeric_note=c.numeric_note,
    )
    return entry


def _check_options(points: np.ndarray, seed, rtol: float, atol: float) -> None:
    if len(points) == 0:
        raise PointError("no points to check")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a whole number >= 0, got {seed!r}")
    if not (0 <= rtol < math.inf and 0 <= atol < math.inf):
        raise ParseError(f"tolerances must be non-negative finite numbers, got rtol={rtol}, atol={atol}")


def run_check(
    objective: Objective,
    points: np.ndarray,
    *,
    user: str | None = None,
    method: str = "adaptive",
    h: float | None = None,
    rtol: float = RTOL.default,
    atol: float = ATOL.default,
    sweep: bool = False,
    taylor: bool = False,
    seed: int = 0,
) -> dict:
    """The whole `check-grad`: per-point comparisons (+ Taylor orders, + step sweep) as one JSON-ready dict.

    With ``taylor`` a point also fails when a gradient's observed Taylor order is below 1.5.
    """
    objective.require_variables("check")
    _check_options(points, seed, rtol, atol)
    checks = check_points(objective, points, user=user, method=method, h=h, rtol=rtol, atol=atol)
    out_points = []
    for pt, c in zip(points, checks, strict=True):
        entry = _point_entry(c, objective.variables)
        if taylor and c.note is None:
            sources = {k: np.array(c.columns[k]) for k in ("analytic", "autodiff", "user") if k in c.columns}
            orders = {k: min(taylor_orders(objective, pt, g, seed=seed)) for k, g in sources.items()}
            entry["taylor_order"] = orders
            entry["ok"] = entry["ok"] and all(o >= 1.5 for o in orders.values())
        out_points.append(entry)
    return {
        "expression": objective.text,
        "variables": objective.variables,
        "points": out_points,
        "ok": all(p["ok"] for p in out_points),
        "method": method,
        "rtol": rtol,
        "atol": atol,
        "error_factor": ERROR_FACTOR if checks[0].numeric_error is not None else None,
        "evaluations_per_gradient": float(np.mean([c.evaluations for c in checks])),
        "sweep": sweep_steps(objective, points[0]) if sweep else None,
    }

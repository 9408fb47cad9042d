"""Symbolic gradients for people: simplified partials, values at a point, Hessian and its verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gradtool.errors import ConfigError, ParseError
from gradtool.expr.objective import Objective
from gradtool.grad.analytic import AnalyticEngine

if TYPE_CHECKING:  # SymPy is imported where an expression is printed: a cached run classifies without it
    import sympy as sp

SIMPLIFY_MAX_OPS = 60  # simplify() is exponential in the worst case: only small partials are simplified
SIMPLIFY_MAX_VARS = 20  # simplify() takes ~0.1 s a partial: 1,000 of them took minutes
SIMPLIFY_MAX_POWER = 16  # simplify() expands (x + y)^1000 into 1001 terms: high powers of sums are left alone
HESSIAN_MAX_VARS = 50


def tidy(expr: sp.Expr) -> sp.Expr:
    """``simplify`` small expressions, leave big ones (or high powers of sums) as SymPy built them."""
    import sympy as sp

    if sp.count_ops(expr) <= SIMPLIFY_MAX_OPS and not _has_high_power(expr):
        try:
            simpler = sp.simplify(expr)
        except RecursionError:  # too deep to simplify: show it as SymPy built it
            return expr
        if sp.count_ops(simpler) <= sp.count_ops(expr):
            return simpler
    return expr


def _has_high_power(expr: sp.Expr) -> bool:
    import sympy as sp

    return any(
        not p.base.is_Atom and p.exp.is_Rational and max(abs(p.exp.p), p.exp.q) > SIMPLIFY_MAX_POWER
        for p in expr.atoms(sp.Pow)
    )


def classify(gradient: np.ndarray, hessian: np.ndarray | None, gtol: float = 1e-5) -> tuple[str, list[float]]:
    """Classify a point from its gradient and Hessian eigenvalues.

    Returns ``(verdict, eigenvalues)``: ``not stationary`` when ``|g| > gtol * max(1, |H|)``; else
    ``minimum`` (all eigenvalues > tol), ``maximum`` (all < -tol), ``saddle`` (both signs) or
    ``degenerate`` (some eigenvalue within tol of 0), with tol = 1e-8 * max(1, max |eigenvalue|).
    """
    if np.size(gradient) == 0:  # f has no variables: every point is stationary, and the Hessian is empty
        return "degenerate", []
    if hessian is None or not np.all(np.isfinite(hessian)) or not np.all(np.isfinite(gradient)):
        return "not stationary" if np.all(np.isfinite(gradient)) else "undefined", []
    eig = np.linalg.eigvalsh((hessian + hessian.T) / 2)
    scale = max(1.0, float(np.max(np.abs(eig))))
    with np.errstate(over="ignore"):  # |g| of 1e200 overflows to inf: still "not stationary", without a warning
        norm = np.linalg.norm(gradient)
    if norm > gtol * scale:
        return "not stationary", eig.tolist()
    tol = 1e-8 * scale
    if np.all(eig > tol):
        return "minimum", eig.tolist()
    if np.all(eig < -tol):
        return "maximum", eig.tolist()
    if np.any(eig > tol) and np.any(eig < -tol):
        return "saddle", eig.tolist()
    return "degenerate", eig.tolist()


def point_engine(objective: Objective, analytic: AnalyticEngine):
    """The engine for f and the gradient at a point: reverse mode, whose every intermediate `gradtool graph`
    shows (so both print the same bits); SymPy's compiled partials when the tape cannot be compiled."""
    from gradtool.grad.autodiff import AutodiffEngine

    try:
        return AutodiffEngine(objective)
    except ParseError:  # too large for the code generator
        return analytic


def describe_gradient(objective: Objective, at: list[float] | None = None, hessian: bool = False) -> dict:
    """The gradient (and Hessian) of ``objective`` symbolically, and numerically at ``at`` if given."""
    if hessian and objective.n > HESSIAN_MAX_VARS:
        raise ConfigError(
            f"the Hessian is shown for at most {HESSIAN_MAX_VARS} variables; {objective.text} has {objective.n}"
        )
    engine = AnalyticEngine(objective)
    names = objective.variables
    neat = tidy if objective.n <= SIMPLIFY_MAX_VARS else (lambda e: e)
    partials = [neat(g) for g in engine.gradient_exprs]
    out: dict = {
        "expression": objective.text,
        "variables": names,
        "gradient": {v: str(g) for v, g in zip(names, partials, strict=True)},
        "at": None,
        "value": None,
        "f": None,
        "hessian": None,
        "hessian_exprs": None,
        "eigenvalues": None,
        "stationary": None,
        "_pretty": partials,
    }
    if hessian:
        from gradtool.grad.symbolic import symbolic_hessian

        rows = symbolic_hessian(engine.gradient_exprs, objective.symbols)
        out["hessian_exprs"] = [[str(neat(e)) for e in row] for row in rows]
    if at is not None:
        x = np.asarray(at, float)
        f, g = point_engine(objective, engine).value_and_gradient(x)
        out["at"] = dict(zip(names, at, strict=True))
        out["f"] = f
        out["value"] = dict(zip(names, g.tolist(), strict=True))
        if hessian:
            h = engine.hessian(x)
            out["hessian"] = h.tolist()
            out["stationary"], out["eigenvalues"] = classify(g, h)
    return out


def stationary_kinds(objective: Objective, points: np.ndarray, engine=None) -> list[str | None]:
    """Classify each row of ``points`` from one batched gradient and Hessian evaluation.

    Returns None per point above ``HESSIAN_MAX_VARS`` variables, or when f is too deeply nested for SymPy
    (an autodiff run of it has finished: it still gets its result). ``engine`` is reused when it is analytic.
    """
    if objective.n > HESSIAN_MAX_VARS or len(points) == 0:
        return [None] * len(points)
    try:
        if not isinstance(engine, AnalyticEngine):
            engine = AnalyticEngine(objective)
        with np.errstate(all="ignore"):
            g = engine.gradient(points)
            h = engine.hessian(points)
    except ParseError:
        return [None] * len(points)
    return [classify(gi, hi)[0] for gi, hi in zip(g, h, strict=True)]

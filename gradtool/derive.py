"""Symbolic gradients for people: simplified partials, values at a point, Hessian and its verdict."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from gradtool import cache
from gradtool.budget import BudgetExceeded, budget
from gradtool.errors import ConfigError, ParseError
from gradtool.expr.objective import Objective
from gradtool.grad.analytic import AnalyticEngine

if TYPE_CHECKING:  # SymPy is imported where an expression is printed: a cached run classifies without it
    import sympy as sp

SIMPLIFY_MAX_OPS = 60  # simplify() is exponential in the worst case: only small partials are simplified
SIMPLIFY_MAX_VARS = 20  # simplify() takes ~0.1 s a partial: 1,000 of them took minutes
SIMPLIFY_MAX_POWER = 16  # simplify() expands (x + y)^1000 into 1001 terms: high powers of sums are left alone
HESSIAN_MAX_VARS = 50
CHUNK_FLOATS = 4_000_000  # Hessians are evaluated for this many floats' worth of points at a time (32 MB)


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


def describe_gradient(
    objective: Objective, at: list[float] | None = None, hessian: bool = False, form: str | None = None
) -> dict:
    """The gradient (and Hessian) of ``objective`` symbolically, and numerically at ``at`` if given; with
    ``form`` (``pretty`` or ``latex``) also the partials printed so, in ``_printed``.

    Every symbolic step runs within the budget (:mod:`gradtool.budget`); what falls back is named in
    ``notes``: simplification stops (the rest as SymPy built them); a symbolic gradient that is too slow
    leaves the values at ``at`` to autodiff (an error without ``at``); a symbolic Hessian that is too slow
    leaves its values to central differences of the gradient. The printed forms come from the compile cache
    when it has them (then SymPy is not imported), and are kept there unless a budget cut them short.
    """
    if hessian and objective.n > HESSIAN_MAX_VARS:
        raise ConfigError(
            f"the Hessian is shown for at most {HESSIAN_MAX_VARS} variables; {objective.text} has {objective.n}"
        )
    names = objective.variables
    out: dict = dict.fromkeys(("at", "value", "f", "hessian", "hessian_exprs", "eigenvalues", "stationary"))
    out = {"expression": objective.text, "variables": names, "gradient": None, **out, "notes": [], "_printed": None}
    try:
        engine = AnalyticEngine(objective)
        printed = Printed(objective, engine, out["notes"])
        out["gradient"] = dict(zip(names, printed.get("gradient-text", printed.partials_text), strict=True))
        if form is not None:
            out["_printed"] = printed.get(f"gradient-{form}", lambda: rendered(printed.partials, form, out["notes"]))
    except BudgetExceeded as exc:
        if at is None:
            raise BudgetExceeded(f"{exc}; give --at for the gradient's value by autodiff, or raise --budget") from None
        from gradtool.grad.autodiff import AutodiffEngine

        how = " (the Hessian by central differences of its gradient)" if hessian else ""
        out["notes"].append(f"{exc}: the values are by autodiff{how}")
        _values(out, AutodiffEngine(objective), at, hessian, None)
        return out
    rows = None
    if hessian:
        try:
            rows = out["hessian_exprs"] = printed.get("hessian-text", printed.hessian_text)
        except BudgetExceeded as exc:
            out["notes"].append(f"{exc}: its values are central differences of the gradient")
    if at is not None:
        _values(out, engine, at, hessian, rows, point_engine(objective, engine))
    return out


class Printed:
    """The gradient and Hessian as text: from the compile cache (no SymPy), else SymPy's simplified expressions
    printed (within the budget) and kept, unless a budget cut them short (a later run may do better)."""

    def __init__(self, objective: Objective, engine: AnalyticEngine, notes: list[str]):
        self.objective, self.engine, self.notes = objective, engine, notes

    def get(self, part: str, make) -> list:
        """``part`` (``gradient-text``, ``gradient-pretty``, ...): a list of strings (or of rows of them)."""
        key = self.objective.key
        found = cache.load(key, part) if key is not None else None
        if found is not None and _strings(found.get("value")):
            return found["value"]
        before = len(self.notes)
        value = make()
        if key is not None and len(self.notes) == before:
            cache.store(key, part, {"value": value})
        return value

    @functools.cached_property
    def partials(self) -> list[sp.Expr]:
        return _tidied(self.engine.gradient_exprs, self.objective.n, self.notes, "the partial derivatives")

    def partials_text(self) -> list[str]:
        return [str(g) for g in self.partials]

    def hessian_text(self) -> list[list[str]]:
        n = self.objective.n
        flat = _tidied([e for row in self.engine.hessian_exprs for e in row], n, self.notes, "the Hessian")
        return [[str(e) for e in flat[i : i + n]] for i in range(0, len(flat), n)]


def _strings(value) -> bool:
    """A list of strings, or of lists of strings (what a cached printed form must be)."""
    return isinstance(value, list) and all(
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(w, str) for w in v)) for v in value
    )


def rendered(exprs: list, form: str, notes: list[str]) -> list[str]:
    """Each expression pretty-printed (``form`` ``pretty``) or as LaTeX within one budget; past it, the rest as
    plain text."""
    import sympy as sp

    out = [str(e) for e in exprs]
    try:
        with budget("pretty-printing"):
            for i, e in enumerate(exprs):
                out[i] = sp.latex(e) if form == "latex" else sp.pretty(e, use_unicode=True, wrap_line=False)
    except BudgetExceeded as exc:
        notes.append(f"{exc}: the rest are printed as plain text")
    return out


def _tidied(exprs: list[sp.Expr], n: int, notes: list[str], what: str) -> list[sp.Expr]:
    """``exprs`` simplified (up to SIMPLIFY_MAX_VARS variables) within one budget; the rest left as built."""
    out = list(exprs)
    if n > SIMPLIFY_MAX_VARS:
        return out
    try:
        with budget(f"simplifying {what}"):
            for i, e in enumerate(exprs):
                out[i] = tidy(e)
    except BudgetExceeded as exc:
        notes.append(f"{exc}: the rest are shown as SymPy built them")
    return out


def _values(out: dict, engine, at: list[float], hessian: bool, rows, point=None) -> None:
    """f, the gradient (from ``point``, default ``engine``) and, with ``hessian``, the Hessian and its
    verdict at ``at``: the Hessian from the symbolic one when ``rows`` are known, else by central
    differences of the engine's gradient."""
    x = np.asarray(at, float)
    f, g = (point or engine).value_and_gradient(x)
    out["at"] = dict(zip(out["variables"], at, strict=True))
    out["f"] = f
    out["value"] = dict(zip(out["variables"], g.tolist(), strict=True))
    if hessian:
        h = engine.hessian(x) if rows is not None else difference_hessian(engine.gradient, x)
        out["hessian"] = h.tolist()
        out["stationary"], out["eigenvalues"] = classify(g, h)


def difference_hessian(gradient, x: np.ndarray) -> np.ndarray:
    """The Hessian by central differences of ``gradient`` (one batched call), symmetrized: row j is
    ``(g(x + h_j e_j) - g(x - h_j e_j)) / 2 h_j`` with ``h_j = eps^(1/3) max(1, |x_j|)``."""
    n = len(x)
    h = np.finfo(float).eps ** (1 / 3) * np.maximum(1.0, np.abs(x))
    with np.errstate(all="ignore"):
        g = np.asarray(gradient(np.concatenate([x + np.diag(h), x - np.diag(h)])), float)
        rows = (g[:n] - g[n:]) / (2 * h)[:, None]
    return (rows + rows.T) / 2


def stationary_kinds(objective: Objective, points: np.ndarray, engine=None) -> list[str | None]:
    """Classify each row of ``points`` from one batched gradient and Hessian evaluation.

    Returns None per point above ``HESSIAN_MAX_VARS`` variables, or when f is too deeply nested for SymPy
    or its Hessian exceeds the budget (an autodiff run of it has finished: it still gets its result).
    ``engine`` is reused when it is analytic.
    """
    if objective.n > HESSIAN_MAX_VARS or len(points) == 0:
        return [None] * len(points)
    rows = max(1, CHUNK_FLOATS // (3 * objective.n**2))  # points per evaluation: n x n Hessians add up
    kinds: list[str | None] = []
    try:
        if not isinstance(engine, AnalyticEngine):
            engine = AnalyticEngine(objective)
        for start in range(0, len(points), rows):
            chunk = points[start : start + rows]
            with np.errstate(all="ignore"):
                g = engine.gradient(chunk)
                h = engine.hessian(chunk)
            kinds += [classify(gi, hi)[0] for gi, hi in zip(g, h, strict=True)]
    except (ParseError, BudgetExceeded):  # too deep or too slow for SymPy: the run keeps its result
        return [None] * len(points)
    return kinds

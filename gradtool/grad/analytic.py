"""The analytic engine: SymPy's exact derivatives compiled (as lambdify would, with CSE) into numpy functions.

The code comes from the compile cache when it has the expression, else from gradtool.grad.symbolic (SymPy,
imported only then); either way it is checked by the whitelist of generated code (``ANALYTIC_CODE``) before it
runs, and runs with an explicit namespace: the numpy functions SymPy's printer writes and our own.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradtool.budget import budget
from gradtool.expr.numpy_functions import NUMPY_NAMESPACE
from gradtool.expr.objective import Objective
from gradtool.grad.base import as_points, float_evaluator, quietly
from gradtool.grad.tape import CodeRules, check_source, load, whole_powers

if TYPE_CHECKING:
    import sympy as sp

GROUPED_ABOVE = 64  # variables; above this a sum is compiled term group by term group
GRADIENT_STEP = "the symbolic gradient (SymPy)"  # each within the budget: the caller falls back or says so
HESSIAN_STEP = "the symbolic Hessian (SymPy)"

# What SymPy's NumPyPrinter writes for the expression language, its derivatives and their Piecewise conditions
# (found by printing every function to second derivatives; a test keeps it complete), by the name it prints.
_NUMPY_NAMES = (
    *("sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh"),
    *("arcsinh", "arccosh", "arctanh", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "cbrt", "abs"),
    *("sign", "heaviside", "maximum", "minimum", "amax", "amin", "select", "where", "real", "imag", "angle"),
    *("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"),
    *("logical_and", "logical_or", "logical_not", "logical_xor", "pi", "e", "nan", "inf"),
)
ANALYTIC_NAMESPACE: dict[str, object] = {
    **{name: getattr(np, name) for name in _NUMPY_NAMES if hasattr(np, name)},
    "reduce": functools.reduce,  # reduce(maximum, [a, b, c]) and logical_or.reduce(...): Max, Min, Or, And
    **NUMPY_NAMESPACE,
}
ANALYTIC_CODE = CodeRules(
    frozenset(ANALYTIC_NAMESPACE),
    function="_lambdifygenerated",
    local=re.compile(r"[vx][0-9]+"),  # v<k>: the variables, x<k>: common subexpressions
    words=frozenset({"default"}),  # select(..., default=nan)
    too_large="expression too deeply nested for symbolic differentiation; simplify it",
)


def numpy_function(source: str, arity: int, namespace: dict | None = None) -> Callable:
    """The function of checked analytic ``source``; ``namespace`` replaces some of our own functions' numpy
    versions (complex-safe ones, for example). ``.source`` holds the source."""
    function = load(
        check_source(source, ANALYTIC_CODE, arity), {**ANALYTIC_NAMESPACE, **(namespace or {})}, ANALYTIC_CODE.function
    )
    function.source = source
    return function


def compile_numpy(exprs: Sequence[sp.Expr], symbols: Sequence[sp.Symbol], namespace: dict | None = None) -> Callable:
    """The numpy function of ``len(symbols)`` positional arguments returning the list of ``exprs``' values, as
    ``lambdify(..., cse=True)`` makes it (see ``symbolic.numpy_source``), checked before it runs."""
    from gradtool.grad.symbolic import numpy_source

    functions = {**NUMPY_NAMESPACE, **(namespace or {})}
    return numpy_function(numpy_source(exprs, symbols, functions), len(symbols), namespace)


def _stack(values: list, batch: int) -> np.ndarray:
    """Columns (scalars for constant partials, arrays otherwise) as a ``(batch, k)`` array."""
    out = np.empty((batch, len(values)))
    for j, v in enumerate(values):
        out[:, j] = v
    return out


class TermGroup:
    """Terms of a sum that are one template in different variables, evaluated as one vectorized call."""

    def __init__(self, func: Callable, value_func: Callable, indices: np.ndarray):
        self.func, self.value_func, self.indices = func, value_func, indices

    @classmethod
    def load(cls, group: dict[str, Any], n: int) -> TermGroup:
        """A group of an ``analytic_part`` payload over ``n`` variables (its indices checked)."""
        rows = group["indices"]
        k = len(rows[0])  # 0 for the constant terms of a sum
        indices = np.array(rows, dtype=np.int64).reshape(len(rows), k)
        if not ((indices >= 0) & (indices < n)).all():
            raise ValueError("term indices out of range")
        return cls(numpy_function(group["fg"], k), numpy_function(group["f"], k), indices)

    def accumulate(self, pts: np.ndarray, f: np.ndarray, g: np.ndarray | None = None) -> None:
        """Add the group's terms to ``f`` and, unless ``g`` is None, their partials to ``g``."""
        idx = self.indices
        columns = (pts[:, idx[:, j]] for j in range(idx.shape[1]))
        out = self.func(*columns) if g is not None else self.value_func(*columns)
        f += np.sum(np.broadcast_to(out[0], (len(pts), len(idx))), axis=1)
        for j, partial in enumerate(out[1:]):
            np.add.at(g, (slice(None), idx[:, j]), np.broadcast_to(partial, (len(pts), len(idx))))


class AnalyticEngine:
    """Value, gradient and Hessian from SymPy's exact derivatives.

    ``AnalyticEngine(objective)`` takes its code from the compile cache when it can; ``AnalyticEngine(expr,
    symbols)`` compiles a SymPy expression (never cached). Up to ``GROUPED_ABOVE`` variables the value and all
    partials are one function with common subexpressions shared. Beyond that a sum is split into groups of
    terms of one shape (Rosenbrock's 1,000-variable chain is two shapes), each differentiated once and
    evaluated vectorized over its terms.
    """

    name = "analytic"

    def __init__(self, expr: Objective | sp.Expr, symbols: Sequence[sp.Symbol] | None = None):
        self.objective = expr if symbols is None else Objective.of(expr, symbols)
        self.n = self.objective.n
        self._gradient_exprs = self._hessian_exprs = None
        self._hessian = None
        self._groups = self._f_and_g = self._f = None
        code = self.objective.compiled("analytic", self._build, self._load)
        if isinstance(code, list):
            self._groups = code
        else:
            self._f_and_g, self._f = code

    @property
    def expr(self) -> sp.Expr:
        return self.objective.expr

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        return self.objective.symbols

    @property
    def gradient_exprs(self) -> list[sp.Expr]:
        """The symbolic partial derivatives (SymPy; computed on first use)."""
        if self._gradient_exprs is None:
            from gradtool.grad.symbolic import symbolic_gradient

            with budget(GRADIENT_STEP):
                self._gradient_exprs = symbolic_gradient(self.objective.expr, self.objective.symbols)
        return self._gradient_exprs

    @property
    def hessian_exprs(self) -> list[list[sp.Expr]]:
        """The symbolic Hessian, rows of partial derivatives (SymPy; computed on first use)."""
        if self._hessian_exprs is None:
            from gradtool.grad.symbolic import symbolic_hessian

            with budget(HESSIAN_STEP):
                self._hessian_exprs = symbolic_hessian(self.gradient_exprs, self.objective.symbols)
        return self._hessian_exprs

    def _build(self, objective: Objective) -> dict[str, Any]:
        from gradtool.grad.symbolic import analytic_part

        gradient = lambda: self.gradient_exprs  # noqa: E731
        with budget(GRADIENT_STEP):  # only when the compile cache does not have it
            return analytic_part(objective.expr, objective.symbols, gradient, NUMPY_NAMESPACE, GROUPED_ABOVE)

    def _load(self, code: dict[str, Any]):
        if "groups" in code:
            return [TermGroup.load(group, self.n) for group in code["groups"]]
        return numpy_function(code["fg"], self.n), numpy_function(code["f"], self.n)

    def _grouped(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, g = np.zeros(len(pts)), np.zeros(pts.shape)
        for group in self._groups:
            group.accumulate(pts, f, g)
        return f, g

    def value(self, x):
        pts, single = as_points(x, self.n)
        if self._groups is not None:
            f = np.zeros(len(pts))
            with np.errstate(all="ignore"):
                for group in self._groups:
                    group.accumulate(pts, f)
            return float(f[0]) if single else f
        with np.errstate(all="ignore"):
            if single:
                return float(quietly(self._f, *pts[0])[0])
            return _stack(self._f(*pts.T), len(pts))[:, 0]

    def value_and_gradient(self, x):
        if self._groups is None and type(x) is np.ndarray and x.shape == (self.n,):
            # the hot path of a single run. numpy scalars, not Python floats: those raise on 1/0 and
            # make (-4.0)**0.5 a complex number where numpy gives nan. quietly() is errstate's cheap twin.
            out = quietly(self._f_and_g, *x)
            return float(out[0]), np.array(out[1:], dtype=float)
        pts, single = as_points(x, self.n)
        with np.errstate(all="ignore"):
            if self._groups is not None:
                f, g = self._grouped(pts)
                return (float(f[0]), g[0]) if single else (f, g)
            out = _stack(self._f_and_g(*pts.T), len(pts))
        return (float(out[0, 0]), out[0, 1:]) if single else (out[:, 0], out[:, 1:])

    def gradient(self, x):
        return self.value_and_gradient(x)[1]

    def float_fg(self) -> Callable | None:
        """``fg`` of one point of Python floats, the bits of ``value_and_gradient`` (gradtool.floats); None for a
        grouped sum (many variables: the fast path is for a few)."""
        if self._groups is not None:
            return None
        function = self._f_and_g
        return float_evaluator(function, _head_and_tail, whole_powers(function.source))

    def _build_hessian(self, objective: Objective) -> dict[str, Any]:
        from gradtool.grad.symbolic import hessian_part

        with budget(HESSIAN_STEP):
            return hessian_part(objective.symbols, lambda: self.gradient_exprs, NUMPY_NAMESPACE)

    @functools.cached_property
    def _tangents(self):
        """Hessian-vector products of our reverse-mode tape: term group by term group for a big sum (each
        vectorized over its terms), else the autodiff engine's tangent sweep of the whole expression."""
        if self._groups is None:
            from gradtool.grad.autodiff import AutodiffEngine

            return AutodiffEngine(self.objective)
        from gradtool.grad.tangent import TangentGroups, tangent_groups_part

        use = functools.partial(TangentGroups.load, n=self.n)
        return self.objective.compiled("analytic-hvp", tangent_groups_part, use)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``H(x) v`` at one point, forward-over-reverse on our tape: never an n x n matrix."""
        with np.errstate(all="ignore"):
            return self._tangents.hvp(np.asarray(x, float), np.asarray(v, float))

    def hessian(self, x) -> np.ndarray:
        """The Hessian at one point, shape ``(n, n)`` (or ``(batch, n, n)``): SymPy's up to ``GROUPED_ABOVE``
        variables; beyond, where SymPy's n x n table would be too big, our tape's (one point)."""
        if self.n > GROUPED_ABOVE and np.ndim(x) == 1:
            with np.errstate(all="ignore"):
                return self._tangents.hessian(np.asarray(x, float))
        if self._hessian is None:
            load_source = functools.partial(_hessian_function, n=self.n)
            self._hessian = self.objective.compiled("analytic-hessian", self._build_hessian, load_source)
        pts, single = as_points(x, self.n)
        with np.errstate(all="ignore"):
            flat = _stack(self._hessian(*pts.T), len(pts))
        h = flat.reshape(len(pts), self.n, self.n)
        return h[0] if single else h


def _head_and_tail(values: list) -> tuple[Any, list]:
    return values[0], values[1:]


def _hessian_function(code: dict[str, Any], n: int) -> Callable:
    return numpy_function(code["source"], n)


def __getattr__(name: str):
    """The SymPy side's functions, for callers that import them from here (imported, with SymPy, on first use)."""
    if name in ("symbolic_gradient", "symbolic_hessian", "as_floats", "within_recursion_limit", "group_terms"):
        from gradtool.grad import symbolic

        return getattr(symbolic, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Reverse-mode autodiff: expression -> tape (gradtool.grad.convert) -> one compiled forward + reverse sweep.

The sweep's source comes from the compile cache when it has the expression, else it is generated from the
tape (SymPy, imported only then); either way it is checked by the tape's whitelist before it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from types import CodeType
from typing import TYPE_CHECKING, Any

import numpy as np

from gradtool.expr.objective import Objective
from gradtool.grad.base import as_points, float_evaluator, quietly
from gradtool.grad.rules import NAMESPACE
from gradtool.grad.tape import check_source, generate_source, load, whole_powers

if TYPE_CHECKING:
    import sympy as sp


class AutodiffEngine:
    """Gradients by reverse-mode autodiff over a compiled tape; never calls ``sympy.diff``.

    One call evaluates a point ``(n,)`` or a batch ``(batch, n)`` in a single sweep. Non-finite results
    (log of a negative number, division by zero) come back as nan or inf, never as an exception.
    """

    name = "autodiff"

    def __init__(self, expr: Objective | sp.Expr, symbols: Sequence[sp.Symbol] | None = None) -> None:
        objective = expr if symbols is None else Objective.of(expr, symbols)
        self.objective = objective
        self.n = objective.n
        self._code = objective.compiled("autodiff", _sources, self._check)
        self._sweep = self._function("gradient")

    def _check(self, sources: dict[str, Any]) -> dict[str, CodeType]:
        return {
            **{name: check_source(sources[name], arity=self.n) for name in ("gradient", "value")},
            "sources": sources,
        }

    def _function(self, name: str) -> Callable:
        function = load(self._code[name], NAMESPACE)
        function.source = self._code["sources"][name]
        return function

    @cached_property
    def _value(self) -> Callable:
        return self._function("value")  # on first use: many callers never ask for it

    @cached_property
    def _tangent(self) -> Callable:
        """The tangent of the gradient sweep (forward-over-reverse), built from its source on first use."""
        from gradtool.grad.tangent import sweep_tangent, tangent_function

        source = self._code["sources"]["gradient"]
        build = lambda objective: sweep_tangent(source, self.n)  # noqa: E731
        return self.objective.compiled("autodiff-hvp", build, lambda p: tangent_function(p["source"], 2 * self.n))

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The Hessian-vector product ``H(x) v`` at one point: forward-over-reverse, no n x n matrix."""
        _, _, tangents = quietly(self._tangent, *np.asarray(x, float), *np.asarray(v, float))
        return np.array(tangents, dtype=float)

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """The Hessian at one point, ``(n, n)``: the tangent sweep with the identity's rows as directions."""
        _, _, tangents = quietly(self._tangent, *np.asarray(x, float), *np.eye(self.n))
        out = np.empty((self.n, self.n))
        for k, row in enumerate(tangents):
            out[k] = row  # a zero row comes back as the scalar 0.0
        return out

    def _columns(self, x) -> tuple[np.ndarray, bool]:
        """The sweep's arguments (one per variable) and whether ``x`` was a single point."""
        if type(x) is np.ndarray and x.shape == (self.n,) and x.dtype == np.float64:
            return x, True  # the optimizer's hot path: skip as_points' copies
        points, single = as_points(x, self.n)
        # contiguous columns: every ufunc in the sweep then runs ~20% faster than on strided views
        return (points[0] if single else np.ascontiguousarray(points.T)), single

    def value(self, x: np.ndarray) -> float | np.ndarray:
        columns, single = self._columns(x)
        value = quietly(self._value, *columns)
        return float(value) if single else _filled(columns.shape[1:], value)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return self.value_and_gradient(x)[1]

    def float_fg(self) -> Callable:
        """``fg`` of one point of Python floats, the bits of ``value_and_gradient`` (gradtool.floats)."""
        return float_evaluator(self._sweep, tuple, whole_powers(self._sweep.source))

    def value_and_gradient(self, x: np.ndarray) -> tuple[float | np.ndarray, np.ndarray]:
        columns, single = self._columns(x)
        value, grads = quietly(self._sweep, *columns)
        if single:
            return float(value), np.array(grads, dtype=float)
        gradient = np.empty(columns.shape[::-1])
        for k, grad in enumerate(grads):
            gradient[:, k] = grad  # broadcasts the scalars of constant partial derivatives
        return _filled(columns.shape[1:], value), gradient


def _filled(shape: tuple[int, ...], value) -> np.ndarray:
    out = np.empty(shape)
    out[...] = value
    return out


def _sources(objective: Objective) -> dict[str, str]:
    """The sweep of the gradient and the forward pass alone, as source (SymPy builds the tape)."""
    from gradtool.grad.convert import expression_to_tape

    tape, output, inputs = expression_to_tape(objective.expr, objective.symbols)
    return {"gradient": generate_source(tape, output, inputs), "value": generate_source(tape, output)}


def __getattr__(name: str):
    """The SymPy side (gradtool.grad.convert), for callers that import it from here (with SymPy, on first use)."""
    if name in ("SYMPY_PRIMITIVES", "expression_to_tape", "convert_expression"):
        from gradtool.grad import convert

        return getattr(convert, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

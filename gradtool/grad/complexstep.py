"""The complex-step method: f'(x) = Im f(x + i h) / h, free of subtractive cancellation, for analytic f.

With no difference of nearby values there is no rounding error to trade against truncation, so h can be
tiny (h_i = 1e-20 max(|x_i|, 1e-20)) and the truncation error, h^2 f'''/6, vanishes below rounding. It
needs every operation to be complex-analytic: abs, relu, max and min are not (their real derivative is
not the imaginary part of anything), so an expression using them is refused with the operation named.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from gradtool.expr.vocabulary import relu
from gradtool.grad.richardson import EPS, NumericEstimate, evaluate_offsets
from gradtool.params import ParamError

NOT_ANALYTIC: dict[type, str] = {sp.Abs: "abs", relu: "relu", sp.Max: "max", sp.Min: "min"}


def _sigmoid(z):
    # the real version branches on z >= 0 (comparisons fail on complex numbers): branch on the real part,
    # both branches being the same analytic function written so that exp never overflows
    z = np.asarray(z)
    positive = z.real >= 0
    e = np.exp(np.where(positive, -z, z))
    return np.where(positive, 1.0 / (1.0 + e), e / (1.0 + e))


def _log1p(w):
    # numpy's complex log1p is log(1 + w), losing every digit for tiny w: log|1 + w| + i arg(1 + w), with
    # log|1 + w| = log1p(2 Re w + |w|^2) / 2 by the accurate real log1p
    return 0.5 * np.log1p(2 * w.real + w.real**2 + w.imag**2) + 1j * np.arctan2(w.imag, 1 + w.real)


def _softplus(z):
    # logaddexp has no complex version: log(1 + e^z) = z + log1p(e^-z) for Re z > 0, else log1p(e^z)
    z = np.asarray(z)
    positive = z.real > 0
    return np.where(positive, z, 0) + _log1p(np.exp(np.where(positive, -z, z)))


COMPLEX_NAMESPACE: dict[str, object] = {"sigmoid": _sigmoid, "softplus": _softplus}


def require_analytic(expr: sp.Expr) -> None:
    """Raise a ParamError on ``method`` naming the first operation of ``expr`` that is not complex-analytic."""
    for node in sp.preorder_traversal(expr):
        for kind, name in NOT_ANALYTIC.items():
            if isinstance(node, kind):
                raise ParamError(
                    "method",
                    f"complex needs every operation to be complex-analytic, and {name} is not (in {node}); "
                    "use adaptive",
                )


def complex_function(expr: sp.Expr, symbols) -> Callable[[np.ndarray], np.ndarray]:
    """``f(points)`` for complex points of shape (batch, n), after checking that ``expr`` is analytic."""
    from gradtool.grad.analytic import compile_numpy

    require_analytic(expr)
    func = compile_numpy([expr], symbols, COMPLEX_NAMESPACE)

    def values(pts: np.ndarray) -> np.ndarray:
        out = np.empty(len(pts), dtype=complex)
        out[:] = func(*pts.T)[0]
        return out

    return values


def complex_step_gradient(fc, f, pts: np.ndarray, h: float | None = None) -> NumericEstimate:
    """Complex-step gradients at each row of ``pts``; nan where the real f is not finite at the point.

    ``fc`` evaluates complex points, ``f`` real ones. The error estimate is a rounding level, 16 eps |g|
    (evaluating f' in floating point, by any method, is about that accurate).
    """
    batch, n = pts.shape
    b, i = np.divmod(np.arange(batch * n), n)
    x = pts[b, i]
    steps = 1e-20 * np.maximum(np.abs(x), 1e-20) if h is None else np.full(len(x), float(h))
    values = evaluate_offsets(fc, pts, b, i, (x + 1j * steps)[:, None])[:, 0]
    with np.errstate(all="ignore"):
        g = (values.imag / steps).reshape(batch, n)
        finite = np.isfinite(np.asarray(f(pts), dtype=float))
    g[~finite] = np.nan
    return NumericEstimate(g, 16 * EPS * np.abs(g), steps.reshape(batch, n), np.full(batch, n))

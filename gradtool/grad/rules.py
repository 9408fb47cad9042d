"""The one table of local derivative rules: per primitive, code templates for its value and its adjoints."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradtool.errors import GradtoolError
from gradtool.expr.numpy_functions import NUMPY_NAMESPACE

Shape = tuple[int, ...] | None  # None: elementwise over whatever the inputs are (the SymPy path's batches)


class MissingRuleError(GradtoolError, NotImplementedError):
    """An operation has no derivative rule; the message names the primitive."""


def missing_rule(primitive: str) -> MissingRuleError:
    """The error raised for a primitive absent from ``RULES`` (or from a front end's mapping onto it)."""
    return MissingRuleError(f"no derivative rule for primitive {primitive!r}")


def literal(value: float) -> str:
    """Python source for a float: ``repr`` of finite values, a namespace name for inf and nan."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "(-inf)"
    text = repr(value)
    return f"({text})" if text.startswith("-") else text


def broadcast_shape(shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    """Elementwise result shape (numpy broadcasting); unknown if any operand's shape is unknown."""
    if any(shape is None for shape in shapes):
        return None
    return tuple(np.broadcast_shapes(*shapes))


@dataclass(frozen=True)
class Rule:
    """How to emit one primitive: ``forward(args, attrs)`` is the source of its value and
    ``adjoint(args, y, g, i, attrs)`` the source of its contribution to argument ``i``'s adjoint, where
    ``args`` are the arguments' source names, ``y`` the node's own value and ``g`` its adjoint.
    ``broadcasts``: contributions are summed back to the argument's shape (``unbroadcast``)."""

    forward: Callable[[Sequence[str], dict[str, Any]], str]
    adjoint: Callable[[Sequence[str], str, str, int, dict[str, Any]], str]
    shape: Callable[[Sequence[Shape], dict[str, Any]], Shape] = broadcast_shape
    broadcasts: bool = True


def unary(forward: str, adjoint: str) -> Rule:
    """An elementwise one-argument rule from templates over ``{x}`` (argument), ``{y}`` (value), ``{g}``."""
    return Rule(
        forward=lambda a, attrs: forward.format(x=a[0]),
        adjoint=lambda a, y, g, i, attrs: adjoint.format(x=a[0], y=y, g=g),
    )


def _nested(function: str, args: Sequence[str]) -> str:
    text = args[0]
    for arg in args[1:]:
        text = f"{function}({text}, {arg})"
    return text


def _mul_adjoint(a, y, g, i, attrs):
    # the product of the OTHER factors: dividing y by a[i] would break where a[i] == 0
    return " * ".join([g, *a[:i], *a[i + 1 :]])


def _pow_const_forward(a, attrs):
    c = attrs["exponent"]
    return f"sqrt({a[0]})" if c == 0.5 else f"{a[0]} ** {literal(c)}"


def _pow_const_adjoint(a, y, g, i, attrs):
    c = attrs["exponent"]
    if c == 2.0:
        return f"{g} * 2.0 * {a[0]}"
    if c == 0.5:
        return f"{g} * 0.5 / {y}"
    return f"{g} * {literal(c)} * {a[0]} ** {literal(c - 1.0)}"


def _pow_adjoint(a, y, g, i, attrs):
    # d(x**p)/dx = p x**(p-1); d(x**p)/dp = log(x) x**p (only emitted when the exponent needs a gradient)
    return f"{g} * {a[1]} * {a[0]} ** ({a[1]} - 1.0)" if i == 0 else f"{g} * log({a[0]}) * {y}"


def _extremum_adjoint(function: str, sign: str) -> Callable:
    # SymPy's convention: d Max(x_1..x_k)/dx_i = Heaviside(x_i - Max(others)), Heaviside(0) = 1/2, so
    # every tied argument gets half the adjoint (three-way ties sum to 3/2, exactly as sympy.diff says)
    def adjoint(a, y, g, i, attrs):
        others = _nested(function, [*a[:i], *a[i + 1 :]])
        gap = f"{a[i]} - {others}" if sign == "+" else f"{others} - {a[i]}"
        return f"{g} * heaviside({gap}, 0.5)"

    return adjoint


def _matmul_shape(shapes, attrs):
    left, right = shapes
    if left is None or right is None:
        return None
    if not (1 <= len(left) <= 2 and 1 <= len(right) <= 2):
        raise ValueError(f"matmul takes 1-D or 2-D operands, got shapes {left} and {right}")
    if left[-1] != right[0]:
        raise ValueError(f"matmul shapes {left} and {right} do not align")
    return left[:-1] + right[1:]


def _reduce_shape(shapes, attrs):
    (shape,), axis = shapes, attrs["axis"]
    if shape is None or axis is None:
        return None if shape is None else ()
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis {axis} is out of range for shape {shape}")
    return shape[: axis % len(shape)] + shape[axis % len(shape) + 1 :]


def _reduction(name: str) -> Rule:
    return Rule(
        forward=lambda a, attrs: f"reduce_{name}({a[0]}, {attrs['axis']!r})",
        adjoint=lambda a, y, g, i, attrs: f"{name}_adjoint({g}, {a[0]}, {attrs['axis']!r})",
        shape=_reduce_shape,
        broadcasts=False,
    )


RULES: dict[str, Rule] = {
    # ---- arithmetic (n-ary; SymPy's Add/Mul/Pow also carry subtraction, division and roots) ----
    "add": Rule(lambda a, attrs: " + ".join(a), lambda a, y, g, i, attrs: g),
    "mul": Rule(lambda a, attrs: " * ".join(a), _mul_adjoint),
    "pow_const": Rule(_pow_const_forward, _pow_const_adjoint),  # x ** c, c a number (attrs["exponent"])
    "pow": Rule(lambda a, attrs: f"{a[0]} ** {a[1]}", _pow_adjoint),  # x ** y
    # ---- exponential and logarithm ----
    "exp": unary("exp({x})", "{g} * {y}"),
    "log": unary("log({x})", "{g} / {x}"),
    # ---- trigonometric ----
    "sin": unary("sin({x})", "{g} * cos({x})"),
    "cos": unary("cos({x})", "-{g} * sin({x})"),
    "tan": unary("tan({x})", "{g} * (1.0 + {y} * {y})"),
    "asin": unary("arcsin({x})", "{g} / sqrt((1.0 - {x}) * (1.0 + {x}))"),  # no cancellation near |x| = 1
    "acos": unary("arccos({x})", "-{g} / sqrt((1.0 - {x}) * (1.0 + {x}))"),
    "atan": unary("arctan({x})", "{g} / (1.0 + {x} * {x})"),
    # ---- hyperbolic ----
    "sinh": unary("sinh({x})", "{g} * cosh({x})"),
    "cosh": unary("cosh({x})", "{g} * sinh({x})"),
    "tanh": unary("tanh({x})", "{g} / cosh({x}) ** 2"),  # 1 - y*y loses all digits for large |x|
    # ---- piecewise (SymPy's conventions at the kinks) ----
    "abs": unary("abs({x})", "{g} * sign({x})"),  # abs'(0) = sign(0) = 0
    "relu": unary("relu({x})", "{g} * heaviside({x}, 1.0)"),  # relu'(0) = Heaviside(0, 1) = 1
    "max": Rule(lambda a, attrs: _nested("maximum", a), _extremum_adjoint("maximum", "+")),
    "min": Rule(lambda a, attrs: _nested("minimum", a), _extremum_adjoint("minimum", "-")),
    # ---- activations ----
    "sigmoid": unary("sigmoid({x})", "{g} * {y} * sigmoid(-{x})"),  # s(1 - s) without cancelling 1 - s
    "softplus": unary("softplus({x})", "{g} * sigmoid({x})"),
    # ---- arrays (the builder API; never produced from SymPy) ----
    "matmul": Rule(
        lambda a, attrs: f"{a[0]} @ {a[1]}",
        lambda a, y, g, i, attrs: f"matmul_adjoint_{'ab'[i]}({g}, {a[0]}, {a[1]})",
        shape=_matmul_shape,
        broadcasts=False,
    ),
    "sum": _reduction("sum"),
    "mean": _reduction("mean"),
    # log(sum(exp(x))) along an axis, shifted by the maximum; its adjoint is g * softmax(x)
    "logsumexp": Rule(
        lambda a, attrs: f"logsumexp({a[0]}, {attrs['axis']!r})",
        lambda a, y, g, i, attrs: f"logsumexp_adjoint({g}, {a[0]}, {y}, {attrs['axis']!r})",
        shape=_reduce_shape,
        broadcasts=False,
    ),
}

ARRAY_PRIMITIVES = frozenset({"matmul", "sum", "mean", "logsumexp"})


# ---- runtime helpers the templates call ----
def unbroadcast(g, shape: tuple[int, ...]):
    """Sum an adjoint over the axes numpy broadcasting added or stretched, back to ``shape``."""
    g = np.asarray(g)
    if g.ndim > len(shape):
        g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    stretched = tuple(k for k, size in enumerate(shape) if size == 1 and g.shape[k] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return np.broadcast_to(g, shape)


def sum_adjoint(g, x, axis: int | None):
    """Adjoint of ``sum(x, axis)``: ``g`` copied along the summed axis."""
    return np.broadcast_to(g if axis is None else np.expand_dims(g, axis), np.shape(x))


def mean_adjoint(g, x, axis: int | None):
    """Adjoint of ``mean(x, axis)``: ``g`` copied along the averaged axis, divided by its length."""
    count = np.size(x) if axis is None else np.shape(x)[axis]
    return sum_adjoint(g, x, axis) / count


def logsumexp(x, axis: int | None):
    """``log(sum(exp(x), axis))`` as ``m + log(sum(exp(x - m)))``, ``m`` the maximum along the axis: no
    overflow for large entries, no log(0) unless every entry is -inf (a non-finite maximum is not shifted)."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)), axis=axis)


def logsumexp_adjoint(g, x, y, axis: int | None):
    """Adjoint of ``y = logsumexp(x, axis)``: ``g`` times ``softmax(x) = exp(x - y)`` along the axis."""
    if axis is None:
        return g * np.exp(x - y)
    return np.expand_dims(g, axis) * np.exp(x - np.expand_dims(y, axis))


def _as_matrices(g, a, b):
    a2 = np.reshape(a, (1, -1)) if np.ndim(a) == 1 else a
    b2 = np.reshape(b, (-1, 1)) if np.ndim(b) == 1 else b
    return np.reshape(g, (np.shape(a2)[0], np.shape(b2)[1])), a2, b2


def matmul_adjoint_a(g, a, b):
    """Adjoint of ``a @ b`` with respect to ``a``: ``g @ b.T`` (1-D operands as row/column vectors)."""
    g2, _, b2 = _as_matrices(g, a, b)
    return np.reshape(g2 @ np.transpose(b2), np.shape(a))


def matmul_adjoint_b(g, a, b):
    """Adjoint of ``a @ b`` with respect to ``b``: ``a.T @ g``."""
    g2, a2, _ = _as_matrices(g, a, b)
    return np.reshape(np.transpose(a2) @ g2, np.shape(b))


# Everything generated code can reach by name; exec gets this (and empty builtins) and nothing else.
NAMESPACE: dict[str, object] = {
    **{name: getattr(np, name) for name in ("sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "log")},
    **{name: getattr(np, name) for name in ("arcsin", "arccos", "arctan", "sqrt", "abs", "sign")},
    **{name: getattr(np, name) for name in ("heaviside", "maximum", "minimum", "ones", "zeros")},
    "broadcast_to": np.broadcast_to,
    "reduce_sum": np.sum,
    "reduce_mean": np.mean,
    "inf": math.inf,
    "nan": math.nan,
    "sigmoid": NUMPY_NAMESPACE["sigmoid"],
    "softplus": NUMPY_NAMESPACE["softplus"],
    "relu": NUMPY_NAMESPACE["relu"],
    "unbroadcast": unbroadcast,
    "sum_adjoint": sum_adjoint,
    "mean_adjoint": mean_adjoint,
    "matmul_adjoint_a": matmul_adjoint_a,
    "matmul_adjoint_b": matmul_adjoint_b,
    "logsumexp": logsumexp,
    "logsumexp_adjoint": logsumexp_adjoint,
}

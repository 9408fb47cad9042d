"""The expression language's vocabulary in SymPy: the whitelisted functions and constants (names: syntax.py;
numpy implementations: numpy_functions.py)."""

from __future__ import annotations

import sympy as sp

from gradtool.expr.numpy_functions import NUMPY_NAMESPACE
from gradtool.expr.syntax import CONSTANTS as CONSTANT_NAMES
from gradtool.expr.syntax import FUNCTIONS

__all__ = ["CONSTANTS", "MATH_FUNCTIONS", "NUMPY_NAMESPACE", "relu", "sigmoid", "softplus"]


class sigmoid(sp.Function):  # noqa: N801 - the user-facing name
    """Logistic function s(x) = 1 / (1 + exp(-x)); s'(x) = s(x) (1 - s(x))."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.S.Half

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_evalf(self, prec):
        return (1 / (1 + sp.exp(-self.args[0]))).evalf(prec)


class relu(sp.Function):  # noqa: N801
    """Rectifier max(0, x); relu'(x) = 0 for x < 0 and 1 for x >= 0 (Heaviside(x, 1))."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return x if x > 0 else sp.S.Zero

    def fdiff(self, argindex=1):
        return sp.Heaviside(self.args[0], 1)

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sp.Max(0, x)

    def _eval_is_real(self):
        return self.args[0].is_real


class softplus(sp.Function):  # noqa: N801
    """softplus(x) = log(1 + exp(x)); softplus'(x) = sigmoid(x)."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.log(2)

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_evalf(self, prec):
        return sp.log(1 + sp.exp(self.args[0])).evalf(prec)


def _log(x, base=None):
    if base is None:
        return sp.log(x)
    log_base = sp.log(base)
    if log_base.is_zero or log_base.has(sp.zoo):  # log(x)/log(0) would quietly fold to 0
        raise ValueError(f"the base of log(x, b) must be positive and not 1, got {base}")
    return sp.log(x) / log_base


_BUILDERS = {
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "asin": sp.asin,
    "acos": sp.acos,
    "atan": sp.atan,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "tanh": sp.tanh,
    "exp": sp.exp,
    "log": _log,
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
    "sigmoid": sigmoid,
    "relu": relu,
    "softplus": softplus,
    "min": sp.Min,
    "max": sp.Max,
}

# name -> (SymPy builder, allowed argument counts; None = two or more): the names and counts are syntax.FUNCTIONS
MATH_FUNCTIONS: dict[str, tuple[object, tuple[int, ...] | None]] = {
    name: (_BUILDERS[name], counts) for name, counts in FUNCTIONS.items()
}

_VALUES = {"pi": sp.pi, "e": sp.E}
CONSTANTS: dict[str, sp.Expr] = {name: _VALUES[name] for name in CONSTANT_NAMES}

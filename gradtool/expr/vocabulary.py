"""The expression language's vocabulary: whitelisted functions, constants and their numpy implementations."""

from __future__ import annotations

import numpy as np
import sympy as sp


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


# name -> (SymPy builder, allowed argument counts; None = two or more)
MATH_FUNCTIONS: dict[str, tuple[object, tuple[int, ...] | None]] = {
    "sin": (sp.sin, (1,)),
    "cos": (sp.cos, (1,)),
    "tan": (sp.tan, (1,)),
    "asin": (sp.asin, (1,)),
    "acos": (sp.acos, (1,)),
    "atan": (sp.atan, (1,)),
    "sinh": (sp.sinh, (1,)),
    "cosh": (sp.cosh, (1,)),
    "tanh": (sp.tanh, (1,)),
    "exp": (sp.exp, (1,)),
    "log": (_log, (1, 2)),
    "sqrt": (sp.sqrt, (1,)),
    "abs": (sp.Abs, (1,)),
    "sigmoid": (sigmoid, (1,)),
    "relu": (relu, (1,)),
    "softplus": (softplus, (1,)),
    "min": (sp.Min, None),
    "max": (sp.Max, None),
}

CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "e": sp.E}


def _np_sigmoid(x):
    # with e = exp(-|x|) in (0, 1], never overflowing: 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0; within
    # ~1 ulp everywhere and 3x faster than exp(-logaddexp(0, -x)), which loses digits for large |x|
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def _np_softplus(x):
    return np.logaddexp(0.0, x)


def _np_relu(x):
    return np.maximum(x, 0.0)


def _np_dirac_delta(x, *order):
    # second derivatives of relu, abs, min and max: zero away from the kink, and zero at it too, in
    # line with the one-sided first-derivative conventions (relu'(0) = 1, abs'(0) = 0)
    return np.zeros_like(x, dtype=float)


# The explicit namespace handed to lambdify: generated code can reach nothing else by name.
NUMPY_NAMESPACE: dict[str, object] = {
    "sigmoid": _np_sigmoid,
    "softplus": _np_softplus,
    "relu": _np_relu,
    "DiracDelta": _np_dirac_delta,
}

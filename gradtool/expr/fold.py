"""Bounded constant folding: every number the parser builds is sized before SymPy computes it.

SymPy folds constants exactly and eagerly: ``10^1999*10^1999`` becomes a 3,998-digit integer, ``(2*x)^1000``
a 302-digit coefficient, and ``sin(exp(10^10))`` waits on billions of digits of ``exp(10^10)`` as soon as
anything asks for its sign. Every number gradtool computes with is a float64, so the rule is simple:

- every constant subexpression must lie within the float range (``|c| <= 1.8e308``; tiny values are fine);
- every exact rational SymPy holds has at most ``MAX_DIGITS`` digits in its numerator and denominator.

Both are checked *before* SymPy builds a node: constant subtrees carry a shadow value, computed here with
64-bit mpmath numbers (unbounded exponent, so nothing overflows while it is measured), and a power or
product is refused when the exact integers it would create are too long. What SymPy still folds inside a
node with variables (``x^a * x^b``, ``(2*x)^3``) is checked on the node it returns.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence

import mpmath
import sympy as sp

MAX_DIGITS = 2_000  # longest exact integer (numerator or denominator) SymPy may hold, in decimal digits
MAX_BITS = int(MAX_DIGITS * math.log2(10))
FLOAT_MAX = sys.float_info.max

MP = mpmath.MPContext()  # a private context: mpmath's global one may be set to any precision by others
MP.prec = 64


class FoldError(ValueError):
    """A constant that would be too large, too long or undefined; the message names what is wrong."""


# ---- shadow values: constants measured in 64-bit floating point with an unbounded exponent ---------------


def _log(x, base=None):
    if base is None:
        return MP.log(x)
    log_base = MP.log(base)
    if log_base == 0:
        raise FoldError(f"has base {float(MP.re(base)):g}: the base of log(x, b) must be positive and not 1")
    return MP.log(x) / log_base


def _real(x):
    if MP.im(x) != 0:
        raise FoldError("is not a real number")
    return MP.re(x)


_SPECIAL: dict[str, Callable] = {
    "log": _log,
    "abs": lambda x: abs(x),
    "min": lambda *xs: min(_real(x) for x in xs),
    "max": lambda *xs: max(_real(x) for x in xs),
    "sigmoid": lambda x: 1 / (1 + MP.exp(-x)),
    "relu": lambda x: max(_real(x), MP.zero),
    "softplus": lambda x: MP.log(1 + MP.exp(x)),
}


def function_value(name: str, args: Sequence) -> mpmath.mpf:
    """The shadow value of a whitelisted function of constants (``sin``, ``log``, ``max``, ...)."""
    fn = _SPECIAL.get(name) or getattr(MP, name)
    return fn(*args)


def number_value(expr: sp.Number):
    """The shadow value of a SymPy number (Integer, Rational or Float)."""
    if isinstance(expr, sp.Rational):
        return MP.mpf(int(expr.p)) / int(expr.q)
    return MP.make_mpf(expr._mpf_) if isinstance(expr, sp.Float) else MP.mpf(float(expr))


def constant_value(expr: sp.Expr):
    """The shadow value of a named constant or number (``pi``, ``e``, ``2``, ``0.5``)."""
    if expr is sp.pi:
        return +MP.pi
    if expr is sp.E:
        return +MP.e
    return number_value(expr)


def operation_value(kind: str, values: Sequence):
    """``add``, ``mul``, ``pow`` or a function name applied to shadow values; raises FoldError."""
    try:
        if kind == "add":
            return MP.fsum(values)
        if kind == "mul":
            return MP.fprod(values)
        if kind == "pow":
            return MP.power(*values)
        return function_value(kind, values)
    except ZeroDivisionError:
        raise FoldError("divides by zero") from None
    except (ValueError, TypeError) as exc:  # mpmath refuses to order complex numbers in max()
        if isinstance(exc, FoldError):
            raise
        raise FoldError("is not a real number") from None


def check_value(value) -> None:
    """A shadow value must be finite and within the float range."""
    if not MP.isfinite(value):
        raise FoldError("is not finite (division by zero?)")
    if abs(value) > FLOAT_MAX:
        raise FoldError(f"is about {_magnitude(value)}: beyond the float range (about 1.8e308)")


def _magnitude(value) -> str:
    exponent = MP.floor(MP.log10(abs(value)))
    return f"1e{int(exponent)}"


# ---- exact numbers: what a SymPy operation may compute, and what it returned -----------------------------


def exact_bits(expr: sp.Expr) -> float:
    """Bits of the exact numbers in ``expr`` that SymPy multiplies out when ``expr`` is raised to a power.

    ``(2*x)^n`` becomes ``2^n * x^n`` and ``(sqrt(2))^n`` becomes ``2^(n/2)``: the bits of a product's
    rational factors add, and a power multiplies its base's bits by the exponent. Sums, functions and
    Floats are not multiplied out (0 bits).
    """
    if isinstance(expr, sp.Rational):
        return int(expr.p).bit_length() + int(expr.q).bit_length()
    if expr.is_Mul:
        return sum(exact_bits(a) for a in expr.args)
    if expr.is_Pow and isinstance(expr.exp, sp.Rational):
        return exact_bits(expr.base) * abs(float(expr.exp))
    return 0.0


def check_power_cost(base: sp.Expr, exponent: sp.Expr) -> None:
    """Refuse a power whose exactly computed numbers would exceed ``MAX_DIGITS`` digits."""
    if isinstance(exponent, sp.Rational) and exact_bits(base) * abs(float(exponent)) > MAX_BITS:
        raise FoldError(f"would have more than {MAX_DIGITS:,} digits")


def check_terms_cost(args: Sequence[sp.Expr]) -> None:
    """Refuse a sum or product whose rational terms together exceed ``MAX_DIGITS`` digits (the folded
    number's numerator and denominator are at most that long)."""
    bits = sum(exact_bits(a) for a in args if isinstance(a, sp.Rational))
    if bits > MAX_BITS:
        raise FoldError(f"would have more than {MAX_DIGITS:,} digits")


def check_number(number: sp.Expr) -> None:
    """A number SymPy produced: finite, within the float range, with at most ``MAX_DIGITS`` digits."""
    if isinstance(number, sp.Rational):
        bits = int(number.p).bit_length() + int(number.q).bit_length()
        if bits < 1000:  # the common case: within both bounds
            return
        if bits > MAX_BITS:
            raise FoldError(f"has more than {MAX_DIGITS:,} digits")
        if int(number.p).bit_length() - int(number.q).bit_length() > 1025:
            raise FoldError(f"is about {_magnitude(number_value(number))}: beyond the float range (about 1.8e308)")
    elif isinstance(number, sp.Float):
        check_value(number_value(number))
    elif _undefined(number):
        raise FoldError("is not a finite real number (division by zero?)")


def _undefined(expr: sp.Expr) -> bool:
    return any(expr is u for u in (sp.zoo, sp.nan, sp.oo, sp.S.NegativeInfinity)) or isinstance(expr, sp.AccumBounds)


def check_built(expr: sp.Expr) -> None:
    """The numbers SymPy folded into the node it built: the node itself, the coefficients of a sum's
    terms, and a product's or power's numeric bases and exponents (``x^a * x^b`` merges into ``x^(a+b)``)."""
    if expr.is_Number or _undefined(expr):
        check_number(expr)
        return
    if not (expr.is_Add or expr.is_Mul or expr.is_Pow):
        return
    for arg in expr.args:
        if arg.is_Number:
            check_number(arg)
        elif arg.is_Mul and arg.args[0].is_Number:
            check_number(arg.args[0])
        elif arg.is_Pow:
            for part in arg.args:
                if part.is_Number:
                    check_number(part)

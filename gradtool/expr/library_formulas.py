"""The named test functions as SymPy expressions: one builder per function, a sequence of real symbols -> f."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cmp_to_key

import sympy as sp

# Why the n-D builders avoid plain arithmetic: evaluating ``100*(x2 - x1**2)**2`` or ``-10*cos(2*pi*x)``
# costs SymPy ~0.5 ms of assumption queries (is_infinite, is_integer, ...) per new term, and Add's own
# flatten redoes the product, so a plainly written dim=1000 Rosenbrock takes over a second and Ackley
# nearly a minute. The helpers below build each node unevaluated, directly in the canonical form the
# evaluated call returns; tests/test_library.py checks that every builder is structurally equal (==) to
# the plainly written formula for dims 1..12.


def _sq(e: sp.Expr) -> sp.Expr:
    """e**2 for a symbol or a non-numeric Add (what ``Pow(e, 2)`` returns, without the queries)."""
    return sp.Pow(e, 2, evaluate=False)


def _times(c: int | sp.Rational, e: sp.Expr) -> sp.Expr:
    """c*e for a number c != 0, 1 and an e that is a symbol, power or function (no Add, Mul or number)."""
    return sp.Mul(sp.Integer(c) if isinstance(c, int) else c, e, evaluate=False)


_canonical_order = cmp_to_key(sp.Basic.compare)  # the key Add.flatten sorts its arguments with


def _sum(terms: Sequence[sp.Expr], constant: sp.Expr = sp.S.Zero) -> sp.Expr:
    """Canonical Add of distinct non-Add, non-number terms plus an optional number, in O(n log n)."""
    args = sorted(terms, key=_canonical_order)
    if len(args) == 1 and constant == 0:
        return args[0]
    return sp.Add(*([constant] if constant != 0 else []), *args, evaluate=False)


def _cos_2pi(xi: sp.Symbol) -> sp.Expr:
    """cos(2*pi*xi): for a real (not integer) symbol ``cos`` has nothing to evaluate."""
    return sp.cos(2 * sp.pi * xi, evaluate=False)


# ---- builders: a sequence of real symbols -> one SymPy expression ----


def sphere(v: Sequence[sp.Symbol]) -> sp.Expr:
    return _sum([_sq(xi) for xi in v])


def booth(v: Sequence[sp.Symbol]) -> sp.Expr:
    x, y = v
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def matyas(v: Sequence[sp.Symbol]) -> sp.Expr:
    x, y = v
    return sp.Rational(13, 50) * (x**2 + y**2) - sp.Rational(12, 25) * x * y


def beale(v: Sequence[sp.Symbol]) -> sp.Expr:
    x, y = v
    c1, c2, c3 = sp.Rational(3, 2), sp.Rational(9, 4), sp.Rational(21, 8)
    return (c1 - x + x * y) ** 2 + (c2 - x + x * y**2) ** 2 + (c3 - x + x * y**3) ** 2


def himmelblau(v: Sequence[sp.Symbol]) -> sp.Expr:
    x, y = v
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def three_hump_camel(v: Sequence[sp.Symbol]) -> sp.Expr:
    x, y = v
    return 2 * x**2 - sp.Rational(21, 20) * x**4 + x**6 / 6 + x * y + y**2


def goldstein_price(v: Sequence[sp.Symbol]) -> sp.Expr:
    x, y = v
    a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
    b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
    return a * b


def rosenbrock(v: Sequence[sp.Symbol]) -> sp.Expr:
    terms = []
    for xi, xnext in zip(v[:-1], v[1:], strict=True):
        terms.append(_times(100, _sq(_sum([xnext, _times(-1, _sq(xi))]))))
        terms.append(_sq(_sum([_times(-1, xi)], sp.S.One)))
    return _sum(terms)


def rastrigin(v: Sequence[sp.Symbol]) -> sp.Expr:
    terms = [_sq(xi) for xi in v] + [_times(-10, _cos_2pi(xi)) for xi in v]
    return _sum(terms, sp.Integer(10 * len(v)))


def ackley(v: Sequence[sp.Symbol]) -> sp.Expr:
    n = len(v)
    if n == 1:  # sqrt(x**2) is Abs(x), and a mean of one term has no 1/n factor
        radius, mean_cos = sp.sqrt(v[0] ** 2), _cos_2pi(v[0])
    else:
        w = sp.Rational(1, n)
        radius = sp.Pow(_sum([_times(w, _sq(xi)) for xi in v]), sp.S.Half, evaluate=False)
        mean_cos = _sum([_times(w, _cos_2pi(xi)) for xi in v])
    radial = sp.exp(_times(sp.Rational(-1, 5), radius), evaluate=False)
    ripple = sp.exp(mean_cos, evaluate=False)
    return _sum([_times(-20, radial), _times(-1, ripple), sp.E], sp.Integer(20))


def styblinski_tang(v: Sequence[sp.Symbol]) -> sp.Expr:
    half, five_halves = sp.Rational(1, 2), sp.Rational(5, 2)
    terms = [t for xi in v for t in (_times(half, xi**4), _times(-8, _sq(xi)), _times(five_halves, xi))]
    return _sum(terms)

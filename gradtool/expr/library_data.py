"""Start rules and verified global minima of the named test functions (their SymPy formulas: library_formulas.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

Point = tuple[float, ...]


class Minimum(NamedTuple):
    """One global minimizer ``x`` (a float per variable, in variable order) and the value ``f`` there."""

    x: Point
    f: float


# Himmelblau's four minima: Newton on the gradient at 50 digits from the rough published points,
# then rounded to the nearest double (tests/test_library.py redoes the solve independently).
HIMMELBLAU_MINIMA: tuple[Point, ...] = (
    (3.0, 2.0),
    (-2.805118086952745, 3.131312518250573),
    (-3.779310253377747, -3.2831859912861696),
    (3.5844283403304917, -1.8481265269644036),
)

# Styblinski-Tang per coordinate, g(t) = (t^4 - 16t^2 + 5t)/2: the global minimizer is the root of
# g'(t) = 2t^3 - 16t + 5/2 near -2.9, t* = -2.90353402777117709511..., and g(t*) = -39.1661657037714154638...
# (mpmath, 50 digits); both stored as the nearest doubles. The -39.16599 that popular tables print is
# off by 1.7e-4 (tests/test_library.py re-derives both with its own root solve).
STYBLINSKI_TANG_ROOT = -2.903534027771177
STYBLINSKI_TANG_VALUE = -39.16616570377141


# ---- start rules and minima rules: dim -> points ----


def constant_point(value: float) -> Callable[[int], Point]:
    """Rule giving every coordinate the same value."""

    def rule(dim: int) -> Point:
        return (value,) * dim

    return rule


def fixed_point(*point: float) -> Callable[[int], Point]:
    """Rule for a 2-D function: the same point whatever the (already checked) dim."""

    def rule(dim: int) -> Point:
        return tuple(point)

    return rule


def rosenbrock_start(dim: int) -> Point:
    """(-1.2, 1, -1.2, 1, ...): Rosenbrock's (1960) start, repeated as in More, Garbow & Hillstrom (1981)."""
    return tuple(-1.2 if i % 2 == 0 else 1.0 for i in range(dim))


def single_minimum(coordinate: float, value_per_dim: float = 0.0) -> Callable[[int], tuple[Minimum, ...]]:
    """Rule for an n-D function with one global minimizer (c, ..., c), of value dim * value_per_dim."""

    def rule(dim: int) -> tuple[Minimum, ...]:
        return (Minimum((coordinate,) * dim, dim * value_per_dim),)

    return rule


def fixed_minima(points: Sequence[Point], value: float) -> Callable[[int], tuple[Minimum, ...]]:
    """Rule for a 2-D function: the given minimizers, all with the same value."""
    minima = tuple(Minimum(tuple(p), value) for p in points)

    def rule(dim: int) -> tuple[Minimum, ...]:
        return minima

    return rule

"""Named optimization test functions: domains, start points and global minima; their SymPy formulas on demand."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gradtool.errors import ParseError
from gradtool.expr import library_data as data
from gradtool.expr.library_data import Minimum, Point
from gradtool.params import ParamError

if TYPE_CHECKING:
    import sympy as sp

MAX_DIM = 10_000
DEFAULT_DIM = 2


@dataclass(frozen=True)
class TestFunction:
    """One named test function and everything known about it.

    Attributes:
        name: Registry key (also the CLI name).
        description: One line for listings.
        formula: Plain-text formula; 2-D functions use ``x, y``, n-D ones ``x_i`` and ``n``.
        domain: Usual search box ``(lo, hi)``, the same for every coordinate.
        n_dim: True if the function takes any ``dim >= min_dim`` (variables ``x1..xn``);
            False for fixed 2-D functions (variables ``x, y``).
        min_dim: Smallest accepted dimension.
        builder: The name of its SymPy builder in ``library_formulas`` (real symbols -> expression), imported
            only when the formula is built: the registry itself needs no SymPy.
        start_rule: dim -> default start point (documented in ``start_text``).
        minima_rule: dim -> every global minimum.
        start_text: How the start point is chosen, for people.
        smooth_at_minimum: False if the gradient does not exist at the minimum (Ackley's kink).
        notes: Anything a user should know (empty if nothing).
    """

    __test__ = False  # not a pytest class, despite the name

    name: str
    description: str
    formula: str
    domain: tuple[float, float]
    n_dim: bool
    min_dim: int
    builder: str
    start_rule: Callable[[int], Point]
    minima_rule: Callable[[int], tuple[Minimum, ...]]
    start_text: str
    smooth_at_minimum: bool = True
    notes: str = ""

    def resolve_dim(self, dim: int | None) -> int:
        """Checks ``dim`` for this function; ``None`` means the default (2).

        Raises:
            ParamError: ``dim`` is not an integer, is outside ``min_dim..MAX_DIM``, or is not 2 for a
                2-D function.
        """
        if dim is None:
            return DEFAULT_DIM
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise ParamError("dim", f"must be an integer; got {dim!r}")
        dim = int(dim)
        if not self.n_dim and dim != 2:
            raise ParamError("dim", f"{self.name} is 2-D only; got {dim}")
        if not self.min_dim <= dim <= MAX_DIM:
            raise ParamError("dim", f"must be between {self.min_dim} and {MAX_DIM} for {self.name}; got {dim}")
        return dim

    def variable_names(self, dim: int | None = None) -> tuple[str, ...]:
        """The variables in order: ``(x, y)`` for 2-D functions, ``(x1, ..., xn)`` for n-D ones."""
        dim = self.resolve_dim(dim)
        return ("x", "y") if not self.n_dim else tuple(f"x{i}" for i in range(1, dim + 1))

    def variables(self, dim: int | None = None) -> tuple[sp.Symbol, ...]:
        """The variables as real SymPy symbols, in order."""
        import sympy as sp

        return tuple(sp.Symbol(name, real=True) for name in self.variable_names(dim))

    def build(self, variables: tuple[sp.Symbol, ...]) -> sp.Expr:
        """The SymPy expression over ``variables`` (real symbols, in order)."""
        from gradtool.expr import library_formulas

        return getattr(library_formulas, self.builder)(variables)

    def start(self, dim: int | None = None) -> Point:
        """Default start point, one float per variable."""
        return self.start_rule(self.resolve_dim(dim))

    def minima(self, dim: int | None = None) -> tuple[Minimum, ...]:
        """Every global minimum ``(x, f)`` in dimension ``dim``."""
        return self.minima_rule(self.resolve_dim(dim))


def _entries(*functions: TestFunction) -> dict[str, TestFunction]:
    return {f.name: f for f in functions}


TEST_FUNCTIONS: dict[str, TestFunction] = _entries(
    TestFunction(
        name="sphere",
        description="Sum of squares: convex, perfectly conditioned.",
        formula="sum_{i=1}^{n} x_i^2",
        domain=(-5.12, 5.12),
        n_dim=True,
        min_dim=1,
        builder="sphere",
        start_rule=data.constant_point(3.0),
        minima_rule=data.single_minimum(0.0),
        start_text="x_i = 3",
    ),
    TestFunction(
        name="booth",
        description="Convex quadratic (the sum of two squared linear residuals).",
        formula="(x + 2*y - 7)^2 + (2*x + y - 5)^2",
        domain=(-10.0, 10.0),
        n_dim=False,
        min_dim=2,
        builder="booth",
        start_rule=data.fixed_point(0.0, 0.0),
        minima_rule=data.fixed_minima([(1.0, 3.0)], 0.0),
        start_text="(0, 0)",
    ),
    TestFunction(
        name="matyas",
        description="Convex quadratic with a flat valley along x = y (Hessian eigenvalues 0.04 and 1).",
        formula="0.26*(x^2 + y^2) - 0.48*x*y",
        domain=(-10.0, 10.0),
        n_dim=False,
        min_dim=2,
        builder="matyas",
        start_rule=data.fixed_point(3.0, -1.0),
        minima_rule=data.fixed_minima([(0.0, 0.0)], 0.0),
        start_text="(3, -1)",
    ),
    TestFunction(
        name="beale",
        description="Multimodal polynomial with sharp ridges near the corners.",
        formula="(1.5 - x + x*y)^2 + (2.25 - x + x*y^2)^2 + (2.625 - x + x*y^3)^2",
        domain=(-4.5, 4.5),
        n_dim=False,
        min_dim=2,
        builder="beale",
        start_rule=data.fixed_point(1.0, 1.0),
        minima_rule=data.fixed_minima([(3.0, 0.5)], 0.0),
        start_text="(1, 1), as in More, Garbow & Hillstrom (1981)",
    ),
    TestFunction(
        name="himmelblau",
        description="Four global minima of value 0, one local maximum, four saddles.",
        formula="(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        domain=(-5.0, 5.0),
        n_dim=False,
        min_dim=2,
        builder="himmelblau",
        start_rule=data.fixed_point(0.0, 0.0),
        minima_rule=data.fixed_minima(data.HIMMELBLAU_MINIMA, 0.0),
        start_text="(0, 0)",
        notes="Three of the four minimizers are irrational; stored as the nearest doubles.",
    ),
    TestFunction(
        name="three_hump_camel",
        description="Three minima: the global one at the origin, two local ones at about ±(1.75, -0.87).",
        formula="2*x^2 - 1.05*x^4 + x^6/6 + x*y + y^2",
        domain=(-5.0, 5.0),
        n_dim=False,
        min_dim=2,
        builder="three_hump_camel",
        start_rule=data.fixed_point(-1.0, 1.0),
        minima_rule=data.fixed_minima([(0.0, 0.0)], 0.0),
        start_text="(-1, 1)",
    ),
    TestFunction(
        name="goldstein_price",
        description="Degree-8 polynomial with several local minima and values spanning six decades.",
        formula=(
            "(1 + (x + y + 1)^2*(19 - 14*x + 3*x^2 - 14*y + 6*x*y + 3*y^2))"
            " * (30 + (2*x - 3*y)^2*(18 - 32*x + 12*x^2 + 48*y - 36*x*y + 27*y^2))"
        ),
        domain=(-2.0, 2.0),
        n_dim=False,
        min_dim=2,
        builder="goldstein_price",
        start_rule=data.fixed_point(0.5, 0.5),
        minima_rule=data.fixed_minima([(0.0, -1.0)], 3.0),
        start_text="(0.5, 0.5)",
    ),
    TestFunction(
        name="rosenbrock",
        description="Chained Rosenbrock: a narrow curved valley; minimum at (1, ..., 1).",
        formula="sum_{i=1}^{n-1} 100*(x_{i+1} - x_i^2)^2 + (1 - x_i)^2",
        domain=(-2.048, 2.048),
        n_dim=True,
        min_dim=2,
        builder="rosenbrock",
        start_rule=data.rosenbrock_start,
        minima_rule=data.single_minimum(1.0),
        start_text="(-1.2, 1, -1.2, 1, ...): Rosenbrock's (-1.2, 1), alternated",
        notes="For 4 <= n <= 7 there is also a local minimum near (-1, 1, ..., 1); not listed (not global).",
    ),
    TestFunction(
        name="rastrigin",
        description="Sphere plus a cosine ripple (A = 10): a regular lattice of local minima.",
        formula="10*n + sum_{i=1}^{n} (x_i^2 - 10*cos(2*pi*x_i))",
        domain=(-5.12, 5.12),
        n_dim=True,
        min_dim=1,
        builder="rastrigin",
        start_rule=data.constant_point(3.0),
        minima_rule=data.single_minimum(0.0),
        start_text="x_i = 3",
    ),
    TestFunction(
        name="ackley",
        description="n-D Ackley (a = 20, b = 0.2, c = 2*pi): a nearly flat plate with a funnel at 0.",
        formula="-20*exp(-0.2*sqrt(sum_{i=1}^{n} x_i^2 / n)) - exp(sum_{i=1}^{n} cos(2*pi*x_i) / n) + 20 + e",
        domain=(-32.768, 32.768),
        n_dim=True,
        min_dim=1,
        builder="ackley",
        start_rule=data.constant_point(3.0),
        minima_rule=data.single_minimum(0.0),
        start_text="x_i = 3",
        smooth_at_minimum=False,
        notes=(
            "The minimum is a kink: sqrt(sum x_i^2) is not differentiable at 0, so the gradient formula is"
            " 0/0 there; every one-sided directional derivative is 4*|u|/sqrt(n) > 0."
        ),
    ),
    TestFunction(
        name="styblinski_tang",
        description="Separable quartic with 2^n local minima; global minimum near (-2.9035, ..., -2.9035).",
        formula="0.5*sum_{i=1}^{n} (x_i^4 - 16*x_i^2 + 5*x_i)",
        domain=(-5.0, 5.0),
        n_dim=True,
        min_dim=1,
        builder="styblinski_tang",
        start_rule=data.constant_point(0.0),
        minima_rule=data.single_minimum(data.STYBLINSKI_TANG_ROOT, data.STYBLINSKI_TANG_VALUE),
        start_text="x_i = 0",
        notes="Minimum value -39.16616570377141... per dimension (tables printing -39.16599 are wrong).",
    ),
)


def known_function_names() -> list[str]:
    """Registry names, sorted: the one list the CLI, config validation and docs offer."""
    return sorted(TEST_FUNCTIONS)


def lookup(name: str) -> TestFunction:
    """Returns the registry entry for ``name``.

    Raises:
        ParseError: ``name`` is not a known test function; the message lists the known ones.
    """
    try:
        return TEST_FUNCTIONS[name]
    except (KeyError, TypeError):
        known = ", ".join(known_function_names())
        raise ParseError(f"unknown test function {name!r}; known: {known}") from None


def get_function(name: str, dim: int | None = None) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """Builds a named test function.

    Args:
        name: A key of ``TEST_FUNCTIONS``.
        dim: Dimension for n-D functions (default 2); 2-D functions accept only ``None`` or 2.

    Returns:
        The SymPy expression and its real variables, in order.

    Raises:
        ParseError: Unknown name.
        ConfigError: Bad ``dim``.
    """
    entry = lookup(name)
    variables = entry.variables(dim)
    return entry.build(variables), variables


def describe(name: str, dim: int | None = None) -> dict:
    """Everything about a named test function as JSON-ready data (names, floats, lists, dicts).

    Raises:
        ParseError: Unknown name.
        ConfigError: Bad ``dim``.
    """
    entry = lookup(name)
    dim = entry.resolve_dim(dim)
    names = list(entry.variable_names(dim))

    def as_dict(point: Point) -> dict[str, float]:
        return dict(zip(names, point, strict=True))

    return {
        "name": entry.name,
        "description": entry.description,
        "formula": entry.formula,
        "n_dim": entry.n_dim,
        "dim": dim,
        "min_dim": entry.min_dim,
        "variables": names,
        "domain": list(entry.domain),
        "start": as_dict(entry.start(dim)),
        "start_rule": entry.start_text,
        "minima": [{"x": as_dict(m.x), "f": m.f} for m in entry.minima(dim)],
        "smooth_at_minimum": entry.smooth_at_minimum,
        "notes": entry.notes,
    }

"""Named test functions: every listed minimum is re-derived here, not re-read from the library's table."""

import json
import time

import numpy as np
import pytest
import sympy as sp

from gradtool.errors import ConfigError, ParseError
from gradtool.expr.library import MAX_DIM, TEST_FUNCTIONS, describe, get_function, known_function_names
from gradtool.expr.parser import parse_expression

NAMES = known_function_names()
DIGITS = 30
MAX_TEST_DIM = 5


def _dims(name):
    entry = TEST_FUNCTIONS[name]
    return range(entry.min_dim, MAX_TEST_DIM + 1) if entry.n_dim else [2]


CASES = [(name, dim) for name in NAMES for dim in _dims(name)]
SMOOTH_CASES = [(name, dim) for name, dim in CASES if TEST_FUNCTIONS[name].smooth_at_minimum]


def _exact(point):
    """The exact rational value of each stored double, so evalf sees the stored point, not a rounding."""
    return [sp.Rational(c) for c in point]


def _at(expr, variables, point, digits=DIGITS):
    return expr.xreplace(dict(zip(variables, _exact(point), strict=True))).evalf(digits)


# ---- the formulas as written in the literature, typed independently of the library ----

X, Y = sp.Symbol("x", real=True), sp.Symbol("y", real=True)
R = sp.Rational
REFERENCE_2D = {
    "booth": (X + 2 * Y - 7) ** 2 + (2 * X + Y - 5) ** 2,
    "matyas": R("0.26") * (X**2 + Y**2) - R("0.48") * X * Y,
    "beale": (R("1.5") - X + X * Y) ** 2 + (R("2.25") - X + X * Y**2) ** 2 + (R("2.625") - X + X * Y**3) ** 2,
    "himmelblau": (X**2 + Y - 11) ** 2 + (X + Y**2 - 7) ** 2,
    "three_hump_camel": 2 * X**2 - R("1.05") * X**4 + X**6 / 6 + X * Y + Y**2,
    "goldstein_price": (1 + (X + Y + 1) ** 2 * (19 - 14 * X + 3 * X**2 - 14 * Y + 6 * X * Y + 3 * Y**2))
    * (30 + (2 * X - 3 * Y) ** 2 * (18 - 32 * X + 12 * X**2 + 48 * Y - 36 * X * Y + 27 * Y**2)),
}


def reference_nd(name, v):
    n, zero = len(v), sp.S.Zero
    if name == "sphere":
        return sum((xi**2 for xi in v), zero)
    if name == "rosenbrock":
        return sum((100 * (v[i + 1] - v[i] ** 2) ** 2 + (1 - v[i]) ** 2 for i in range(n - 1)), zero)
    if name == "rastrigin":
        return 10 * n + sum((xi**2 - 10 * sp.cos(2 * sp.pi * xi) for xi in v), zero)
    if name == "ackley":
        mean_square = sum((xi**2 for xi in v), zero) / n
        mean_cos = sum((sp.cos(2 * sp.pi * xi) for xi in v), zero) / n
        return -20 * sp.exp(-R(1, 5) * sp.sqrt(mean_square)) - sp.exp(mean_cos) + 20 + sp.E
    if name == "styblinski_tang":
        return sum((xi**4 - 16 * xi**2 + 5 * xi for xi in v), zero) / 2
    raise AssertionError(name)


def test_registry_holds_exactly_the_documented_functions():
    expected = {"sphere", "booth", "matyas", "beale", "himmelblau", "three_hump_camel", "goldstein_price"}
    expected |= {"rosenbrock", "rastrigin", "ackley", "styblinski_tang"}
    assert set(TEST_FUNCTIONS) == expected
    assert known_function_names() == sorted(expected)
    assert all(entry.name == key for key, entry in TEST_FUNCTIONS.items())
    assert set(REFERENCE_2D) == {n for n in NAMES if not TEST_FUNCTIONS[n].n_dim}


@pytest.mark.parametrize("name", [n for n in NAMES if not TEST_FUNCTIONS[n].n_dim])
def test_2d_builder_and_formula_text_match_the_literature_formula(name):
    expr, variables = get_function(name)
    assert variables == (X, Y)
    assert sp.expand(expr - REFERENCE_2D[name]) == 0
    # the plain-text formula shown to users is the same function (trusted literal text, test only)
    parsed, found = parse_expression(TEST_FUNCTIONS[name].formula)
    parsed = parsed.xreplace({found[k]: {"x": X, "y": Y}[k] for k in found})
    assert sp.expand(sp.nsimplify(parsed, rational=True) - REFERENCE_2D[name]) == 0


@pytest.mark.parametrize("name", [n for n in NAMES if TEST_FUNCTIONS[n].n_dim])
def test_nd_fast_builder_is_structurally_the_plain_formula(name):
    # at dim 11 SymPy orders x10 and x11 before x2: the hand-sorted Adds must agree with Add's own order
    for dim in [*range(TEST_FUNCTIONS[name].min_dim, MAX_TEST_DIM + 1), 11]:
        expr, variables = get_function(name, dim)
        assert variables == tuple(sp.Symbol(f"x{i}", real=True) for i in range(1, dim + 1))
        assert expr == reference_nd(name, variables)


@pytest.mark.parametrize("name,dim", CASES)
def test_metadata_is_consistent(name, dim):
    entry = TEST_FUNCTIONS[name]
    lo, hi = entry.domain
    assert lo < hi and entry.description and "\n" not in entry.formula and entry.formula.isascii()
    start = entry.start(dim)
    assert len(start) == dim and all(lo <= c <= hi for c in start)
    minima = entry.minima(dim)
    assert minima and all(len(m.x) == dim and all(lo <= c <= hi for c in m.x) for m in minima)
    assert all(all(isinstance(c, float) for c in m.x) and isinstance(m.f, float) for m in minima)


@pytest.mark.parametrize("name,dim", CASES)
def test_every_listed_minimum_has_the_listed_value(name, dim):
    expr, variables = get_function(name, dim)
    for minimum in TEST_FUNCTIONS[name].minima(dim):
        value = float(_at(expr, variables, minimum.x))
        assert value == pytest.approx(minimum.f, rel=1e-13, abs=1e-12)


@pytest.mark.parametrize("name,dim", SMOOTH_CASES)
def test_every_listed_minimum_is_a_strict_local_minimum(name, dim):
    expr, variables = get_function(name, dim)
    gradient = [sp.diff(expr, v) for v in variables]
    hessian = sp.hessian(expr, variables)
    for minimum in TEST_FUNCTIONS[name].minima(dim):
        g = np.array([float(_at(gi, variables, minimum.x)) for gi in gradient])
        assert np.max(np.abs(g)) < 1e-9 * (1 + abs(minimum.f))
        h = np.array(_at(hessian, variables, minimum.x, 20).tolist(), dtype=float)
        assert np.linalg.eigvalsh(h).min() > 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_no_point_of_a_fine_grid_beats_the_listed_minimum(name):
    # a global check the gradient test cannot make: a listed local minimum would be beaten somewhere
    expr, variables = get_function(name, 2)
    f = sp.lambdify(variables, expr, "numpy")
    lo, hi = TEST_FUNCTIONS[name].domain
    grid = np.linspace(lo, hi, 801)
    gx, gy = np.meshgrid(grid, grid)
    best = min(m.f for m in TEST_FUNCTIONS[name].minima(2))
    assert np.min(f(gx, gy)) >= best - 1e-9 * (1 + abs(best))


def test_goldstein_price_is_exactly_3_and_stationary_at_0_minus_1():
    expr, (x, y) = get_function("goldstein_price")
    point = {x: 0, y: -1}
    assert expr.xreplace(point) == 3
    assert [sp.diff(expr, v).xreplace(point) for v in (x, y)] == [0, 0]


def test_himmelblau_has_exactly_four_distinct_zeros_matching_an_independent_solve():
    # f = a^2 + b^2 is 0 exactly where a = x^2 + y - 11 = 0 and b = x + y^2 - 7 = 0; eliminating
    # y = 11 - x^2 leaves the quartic x^4 - 22x^2 + x + 114 = 0, whose real roots are all the minimizers.
    quartic = sp.Poly(X**4 - 22 * X**2 + X + 114, X)
    roots = sorted(r for r in quartic.nroots(n=40) if r.is_real)
    assert len(roots) == 4
    solved = sorted((float(r), float(11 - r**2)) for r in roots)
    listed = sorted(m.x for m in TEST_FUNCTIONS["himmelblau"].minima())
    assert len(listed) == 4 and np.all(np.abs(np.array(solved) - np.array(listed)) < 1e-14)
    assert all(m.f == 0.0 for m in TEST_FUNCTIONS["himmelblau"].minima())
    gaps = [np.hypot(a[0] - b[0], a[1] - b[1]) for i, a in enumerate(listed) for b in listed[i + 1 :]]
    assert min(gaps) > 1.0


def test_styblinski_tang_minimum_matches_an_independent_root_solve():
    t = sp.Symbol("t", real=True)
    g = (t**4 - 16 * t**2 + 5 * t) / 2
    stationary = sp.Poly(sp.diff(g, t), t).nroots(n=40)
    assert len(stationary) == 3 and all(r.is_real for r in stationary)
    root = min(stationary, key=lambda r: g.subs(t, r))
    value = g.subs(t, root).evalf(40)
    assert abs(root - sp.Float("-2.903534027771177095118917", 40)) < sp.Float(1e-24)
    assert abs(value - sp.Float("-39.16616570377141546389317", 40)) < sp.Float(1e-24)
    assert abs(float(value) - (-39.16599)) > 1e-4  # the figure popular tables print is wrong
    for dim in range(1, MAX_TEST_DIM + 1):
        (minimum,) = TEST_FUNCTIONS["styblinski_tang"].minima(dim)
        assert minimum.x == pytest.approx([float(root)] * dim, rel=1e-15)
        assert minimum.f == pytest.approx(dim * float(value), rel=1e-15)


def test_ackley_minimum_is_a_kink_with_positive_one_sided_slopes():
    # sqrt(mean x_i^2) has no gradient at 0: SymPy's formula gives 0/0 -> nan for dim >= 2 (and
    # sign(0) = 0 for dim = 1, where the root is Abs). The honest check is the one-sided slope
    # (f(t*u) - f(0)) / t -> 4*|u|/sqrt(n) > 0 in every direction u: a strict minimum at a kink.
    rng = np.random.default_rng(0)
    t = sp.Rational(1, 10**20)
    for dim in (1, 2, MAX_TEST_DIM):
        expr, variables = get_function("ackley", dim)
        origin = dict.fromkeys(variables, 0)
        assert expr.xreplace(origin) == 0
        slope_at_0 = sp.diff(expr, variables[0]).xreplace(origin)
        assert slope_at_0 is sp.nan if dim > 1 else slope_at_0 == 0
        for _ in range(2):
            u = rng.normal(size=dim)
            ratio = _at(expr, variables, tuple(t * sp.Rational(c) for c in u), 60) / t
            assert float(ratio) == pytest.approx(4 * np.linalg.norm(u) / np.sqrt(dim), rel=1e-12)


def test_describe_is_json_ready_and_names_points_by_variable():
    for name in NAMES:
        for dim in {2, TEST_FUNCTIONS[name].min_dim}:
            info = json.loads(json.dumps(describe(name, dim)))
            assert info["name"] == name and info["dim"] == dim
            assert list(info["start"]) == info["variables"]
            assert all(list(m["x"]) == info["variables"] for m in info["minima"])
    assert describe("himmelblau")["minima"][0] == {"x": {"x": 3.0, "y": 2.0}, "f": 0.0}
    assert len(describe("rosenbrock", 1000)["start"]) == 1000


def test_unknown_name_is_a_parse_error_listing_the_known_names():
    with pytest.raises(ParseError) as caught:
        get_function("rosenbrok")
    assert caught.value.exit_code == 2
    assert all(name in str(caught.value) for name in NAMES)


@pytest.mark.parametrize(
    "name,dim",
    [("sphere", 0), ("sphere", -1), ("sphere", MAX_DIM + 1), ("rosenbrock", 1), ("booth", 3)]
    + [("sphere", 2.0), ("sphere", True), ("sphere", "3")],
)
def test_bad_dims_are_config_errors(name, dim):
    with pytest.raises(ConfigError):
        get_function(name, dim)


def test_dim_defaults_to_2_and_accepts_numpy_integers():
    assert len(get_function("rastrigin")[1]) == 2
    assert len(get_function("booth", 2)[1]) == 2
    assert len(get_function("sphere", np.int64(3))[1]) == 3
    assert TEST_FUNCTIONS["sphere"].resolve_dim(MAX_DIM) == MAX_DIM


@pytest.mark.parametrize("name", [n for n in NAMES if TEST_FUNCTIONS[n].n_dim])
def test_dim_1000_builds_fast(name):
    start = time.perf_counter()
    expr, variables = get_function(name, 1000)
    elapsed = time.perf_counter() - start
    assert len(variables) == 1000 and expr.free_symbols == set(variables)
    assert elapsed < 10.0  # a guard against quadratic set-up; the real figure is in docs/performance.md

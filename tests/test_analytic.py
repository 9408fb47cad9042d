"""The analytic engine: exact SymPy values, batches, the Hessian, grouped large sums, and conventions."""

import time

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradtool.expr.objective import load_objective
from gradtool.grad import analytic
from gradtool.grad.analytic import GROUPED_ABOVE, AnalyticEngine
from gradtool.grad.engines import ENGINES, make_engine

x, y, z = sp.symbols("x y z", real=True)
XYZ = (x, y, z)


def engine_for(text: str, variables=None) -> AnalyticEngine:
    obj = load_objective(text, variables=variables)
    return AnalyticEngine(obj.expr, obj.symbols)


def exact_gradient(expr: sp.Expr, symbols, point) -> np.ndarray:
    """The true gradient at ``point``: SymPy's derivative evaluated with 40 significant digits."""
    sub = {s: sp.Float(repr(float(v)), 50) for s, v in zip(symbols, point, strict=True)}
    return np.array([float(sp.diff(expr, s).subs(sub).evalf(40)) for s in symbols])


def sigmoid_ref(u):
    return 1 / (1 + sp.exp(-u))


# (gradtool text, the same function written independently in SymPy, a point for x, y, z)
EXACT_CASES = [
    ("x^2*y + sin(x)", x**2 * y + sp.sin(x), (1.0, 2.0, 0.0)),
    ("exp(x*y) / (1 + z^2)", sp.exp(x * y) / (1 + z**2), (0.3, -1.2, 0.7)),
    ("log(x^2 + y^2) + sqrt(z^2 + 1)", sp.log(x**2 + y**2) + sp.sqrt(z**2 + 1), (1.5, -0.5, 2.0)),
    ("log(x + 3, 2) * tan(y)", sp.log(x + 3) / sp.log(2) * sp.tan(y), (0.5, 0.4, 0.0)),
    ("asin(x) + acos(y) + atan(z)", sp.asin(x) + sp.acos(y) + sp.atan(z), (0.2, -0.6, 3.0)),
    ("sinh(x) * cosh(y) - tanh(z)", sp.sinh(x) * sp.cosh(y) - sp.tanh(z), (0.9, -0.3, 1.1)),
    ("sigmoid(x*y) + softplus(z)", sigmoid_ref(x * y) + sp.log(1 + sp.exp(z)), (1.3, -0.8, 0.4)),
    ("relu(x - y) * z + abs(y)", sp.Max(0, x - y) * z + sp.Abs(y), (2.0, 0.5, 3.0)),
    ("min(x, y) + max(y, z)", sp.Min(x, y) + sp.Max(y, z), (1.0, 2.0, 0.5)),
    ("x^y", x**y, (1.7, 2.3, 0.0)),
    ("(x - 1)^2 + 100*(y - x^2)^2", (x - 1) ** 2 + 100 * (y - x**2) ** 2, (-1.2, 1.0, 0.0)),
    ("pi*x + e^y - 1e-3*z", sp.pi * x + sp.exp(y) - sp.Rational(1, 1000) * z, (0.1, 0.2, 0.3)),
    ("1/(x*y*z)", 1 / (x * y * z), (0.5, -2.0, 4.0)),
    ("-x^2^-1", -(x ** sp.Rational(1, 2)), (2.0, 0.0, 0.0)),
]


@pytest.mark.parametrize(("text", "reference", "point"), EXACT_CASES, ids=[c[0] for c in EXACT_CASES])
def test_gradient_matches_exact_sympy_values(text, reference, point):
    engine = engine_for(text, variables="x,y,z")
    value, grad = engine.value_and_gradient(np.array(point))
    truth = exact_gradient(reference, XYZ, point)
    np.testing.assert_allclose(grad, truth, rtol=1e-12, atol=1e-14)
    exact_value = float(reference.subs(dict(zip(XYZ, point, strict=True))).evalf(30))
    assert value == pytest.approx(exact_value, rel=1e-13, abs=1e-15)


# ---------------------------------------------------------------- random expression trees

UNARY = [
    ("sin", sp.sin),
    ("cos", sp.cos),
    ("atan", sp.atan),
    ("tanh", sp.tanh),
    ("sigmoid", sigmoid_ref),
    ("softplus", lambda u: sp.log(1 + sp.exp(u))),
    ("exp", lambda u: sp.exp(sp.sin(u))),  # exp of a bounded argument: no overflow
]


def _leaf():
    variables = st.sampled_from([("x", x), ("y", y), ("z", z)])
    constants = st.integers(-3, 3).map(lambda k: (f"({k})", sp.Integer(k)))
    return variables | constants


def _extend(children):
    def unary(pair):
        (name, build), (text, expr) = pair
        if name == "exp":
            return f"exp(sin({text}))", build(expr)
        return f"{name}({text})", build(expr)

    def binary(triple):
        op, (ta, ea), (tb, eb) = triple
        if op == "+":
            return f"({ta} + {tb})", ea + eb
        if op == "-":
            return f"({ta} - {tb})", ea - eb
        if op == "*":
            return f"({ta} * {tb})", ea * eb
        if op == "/":  # a denominator that never vanishes
            return f"({ta} / (1 + ({tb})^2))", ea / (1 + eb**2)
        return f"({ta})^2", ea**2

    return st.tuples(st.sampled_from(UNARY), children).map(unary) | st.tuples(
        st.sampled_from(["+", "-", "*", "/", "^"]), children, children
    ).map(binary)


EXPRESSION_TREES = st.recursive(_leaf(), _extend, max_leaves=8)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(tree=EXPRESSION_TREES, point=st.tuples(*[st.floats(-2, 2) for _ in range(3)]))
def test_random_expression_trees_match_sympy(tree, point):
    text, reference = tree
    engine = engine_for(text, variables="x,y,z")
    grad = engine.gradient(np.array(point))
    truth = exact_gradient(reference, XYZ, point)
    np.testing.assert_allclose(grad, truth, rtol=1e-9, atol=1e-9 * (1 + np.max(np.abs(truth))))


# ---------------------------------------------------------------- conventions at kinks


@pytest.mark.parametrize(("at", "slope"), [(-1.0, 0.0), (0.0, 1.0), (2.0, 1.0)])
def test_relu_slope_is_zero_left_of_zero_and_one_from_zero_on(at, slope):
    assert engine_for("relu(x)").gradient(np.array([at]))[0] == slope


def test_abs_slope_at_zero_is_zero():
    np.testing.assert_array_equal(
        engine_for("abs(x)").gradient(np.array([[-2.0], [0.0], [3.0]]))[:, 0], [-1.0, 0.0, 1.0]
    )


def test_sigmoid_slope_is_s_times_one_minus_s_even_far_out():
    pts = np.array([-800.0, -30.0, -1.0, 0.0, 1.5, 30.0, 800.0])
    grad = engine_for("sigmoid(x)").gradient(pts[:, None])[:, 0]
    # s(1-s) = exp(-|x|) / (1 + exp(-|x|))^2, written without overflow or cancellation
    u = np.exp(-np.abs(pts))
    truth = u / (1 + u) ** 2
    # s * (1 - s) loses digits to cancellation for large x > 0: an absolute error of ~eps remains
    np.testing.assert_allclose(grad, truth, rtol=1e-12, atol=1e-16)
    assert np.all(np.isfinite(grad))


def test_max_and_min_split_the_slope_at_a_tie():
    np.testing.assert_array_equal(engine_for("max(x, y)").gradient(np.array([1.0, 1.0])), [0.5, 0.5])
    np.testing.assert_array_equal(engine_for("min(x, y)").gradient(np.array([3.0, 1.0])), [0.0, 1.0])


# ---------------------------------------------------------------- shapes, batches, inputs


def test_batch_equals_per_point():
    engine = engine_for("sin(x*y) + exp(x)/(1 + y^2) + x")
    points = np.random.default_rng(1).normal(size=(7, 2))
    values, grads = engine.value_and_gradient(points)
    assert values.shape == (7,) and grads.shape == (7, 2)
    for b, p in enumerate(points):
        v, g = engine.value_and_gradient(p)
        assert v == pytest.approx(values[b], rel=1e-14)
        np.testing.assert_allclose(g, grads[b], rtol=1e-14)
    np.testing.assert_allclose(engine.value(points), values, rtol=1e-14)


def test_constant_partials_broadcast_over_a_batch():
    engine = engine_for("3*x + y^2")
    grads = engine.gradient(np.array([[0.0, 1.0], [5.0, -2.0]]))
    np.testing.assert_array_equal(grads, [[3.0, 2.0], [3.0, -4.0]])


def test_lists_and_integer_arrays_are_accepted_as_points():
    engine = engine_for("x^3 * y")
    expected = [3 * 4 * 5, 8]  # 3x^2 y and x^3 at (2, 5)
    np.testing.assert_array_equal(engine.gradient([2.0, 5.0]), expected)
    np.testing.assert_array_equal(engine.gradient(np.array([2, 5])), expected)
    assert engine.value([2.0, 5.0]) == 40.0


def test_wrong_shapes_are_refused():
    engine = engine_for("x + y")
    for bad in (np.zeros(3), np.zeros((2, 3)), np.zeros((1, 1, 2))):
        with pytest.raises(ValueError, match="expected shape"):
            engine.gradient(bad)


@pytest.mark.parametrize(
    ("text", "at"),
    [("x^0.5", -1.0), ("x^(1/3)", -8.0), ("sqrt(x)", -1.0), ("log(x)", -1.0), ("1/x", 0.0), ("exp(x)", 1e5)],
)
def test_non_finite_results_are_nan_or_inf_not_exceptions(text, at):
    engine = engine_for(text)
    for point in (np.array([at]), np.array([[at], [at]])):
        value, grad = engine.value_and_gradient(point)
        assert not np.all(np.isfinite(np.append(value, grad)))


def test_a_variable_the_expression_does_not_use_has_zero_slope():
    engine = engine_for("x^2", variables="x,unused")
    np.testing.assert_array_equal(engine.gradient(np.array([3.0, 7.0])), [6.0, 0.0])


def test_constant_expression_has_empty_gradient():
    engine = engine_for("2*pi")
    value, grad = engine.value_and_gradient(np.array([]))
    assert value == pytest.approx(2 * np.pi) and grad.shape == (0,)


# ---------------------------------------------------------------- Hessian


@pytest.mark.parametrize(
    ("text", "reference", "point"),
    EXACT_CASES[:8] + EXACT_CASES[10:11],
    ids=[c[0] for c in EXACT_CASES[:8] + EXACT_CASES[10:11]],
)
def test_hessian_matches_sympy_hessian(text, reference, point):
    engine = engine_for(text, variables="x,y,z")
    sub = {s: sp.Float(repr(v), 50) for s, v in zip(XYZ, point, strict=True)}
    truth = np.array(sp.hessian(reference, XYZ).subs(sub).evalf(40), dtype=float)
    np.testing.assert_allclose(engine.hessian(np.array(point)), truth, rtol=1e-11, atol=1e-12)


def test_hessian_of_a_batch_has_one_matrix_per_point():
    engine = engine_for("x^2*y + y^3")
    h = engine.hessian(np.array([[1.0, 2.0], [0.0, -1.0]]))
    np.testing.assert_array_equal(h, [[[4.0, 2.0], [2.0, 12.0]], [[-2.0, 0.0], [0.0, -6.0]]])


# ---------------------------------------------------------------- many variables: grouped sums


def rosenbrock_text(n: int) -> str:
    return " + ".join(f"100*(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(1, n))


def rosenbrock_numpy(p: np.ndarray) -> tuple[float, np.ndarray]:
    """Rosenbrock's value and gradient, derived by hand."""
    a, b = p[:-1], p[1:]
    value = np.sum(100 * (b - a**2) ** 2 + (1 - a) ** 2)
    g = np.zeros_like(p)
    g[:-1] += -400 * a * (b - a**2) - 2 * (1 - a)
    g[1:] += 200 * (b - a**2)
    return value, g


def test_grouped_rosenbrock_with_100_variables_matches_a_hand_written_gradient():
    engine = engine_for(rosenbrock_text(100))
    assert engine.n == 100 > GROUPED_ABOVE
    assert engine._groups is not None  # the grouped path is the one under test
    points = np.random.default_rng(0).uniform(-2, 2, size=(4, 100))
    values, grads = engine.value_and_gradient(points)
    for b, p in enumerate(points):
        v, g = rosenbrock_numpy(p)
        assert values[b] == pytest.approx(v, rel=1e-13)
        np.testing.assert_allclose(grads[b], g, rtol=1e-12, atol=1e-9)
        single_v, single_g = engine.value_and_gradient(p)
        assert single_v == pytest.approx(v, rel=1e-13)
        np.testing.assert_allclose(single_g, g, rtol=1e-12, atol=1e-9)


def test_grouped_and_ungrouped_engines_agree(monkeypatch):
    # the threshold lowered, so the grouping itself is compared on a small sum of many shapes:
    # a constant, a chain of one shape, terms whose variables sort differently by name (x9 < x10)
    text = "3 + " + rosenbrock_text(12) + " + sin(x3*x12) + x5^4 + x6^4 - x11 + x10*x9^2 + x2*x1^2"
    monkeypatch.setattr(analytic, "GROUPED_ABOVE", 4)
    grouped = engine_for(text)
    monkeypatch.setattr(analytic, "GROUPED_ABOVE", 10**6)
    plain = engine_for(text)
    assert grouped._groups is not None and plain._groups is None
    points = np.random.default_rng(3).uniform(-1.5, 1.5, size=(3, 12))
    fg, gg = grouped.value_and_gradient(points)
    fp, gp = plain.value_and_gradient(points)
    np.testing.assert_allclose(fg, fp, rtol=1e-13)
    np.testing.assert_allclose(gg, gp, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(grouped.value(points[0]), plain.value(points[0]), rtol=1e-13)
    np.testing.assert_allclose(grouped.gradient(points[1]), plain.gradient(points[1]), rtol=1e-12)


def test_large_non_sum_is_differentiated_without_grouping(monkeypatch):
    monkeypatch.setattr(analytic, "GROUPED_ABOVE", 4)
    names = [f"x{i}" for i in range(1, 9)]
    engine = engine_for("exp(-(" + " + ".join(f"{v}^2" for v in names) + ")/100)")
    assert engine._groups is None
    p = np.linspace(-1, 1, 8)
    f = np.exp(-np.sum(p**2) / 100)
    np.testing.assert_allclose(engine.gradient(p), -2 * p / 100 * f, rtol=1e-13)


def test_rosenbrock_with_1000_variables_sets_up_quickly():
    start = time.perf_counter()
    engine = engine_for(rosenbrock_text(1000))
    value, grad = engine.value_and_gradient(np.ones(1000))
    assert time.perf_counter() - start < 10.0  # a guard against quadratic set-up, not a benchmark
    assert value == 0.0
    np.testing.assert_array_equal(grad, np.zeros(1000))


def test_named_rosenbrock_engine_matches_hand_written_gradient():
    obj = load_objective("rosenbrock", dim=1000)
    engine = make_engine("analytic", obj)
    p = np.random.default_rng(5).uniform(-2, 2, 1000)
    v, g = rosenbrock_numpy(p)
    value, grad = engine.value_and_gradient(p)
    assert value == pytest.approx(v, rel=1e-12)
    np.testing.assert_allclose(grad, g, rtol=1e-12, atol=1e-9)


# ---------------------------------------------------------------- the registry


def test_every_registered_engine_agrees_with_the_hand_gradient():
    obj = load_objective("(x - 1)^2 + 100*(y - x^2)^2")
    p = np.array([-1.2, 1.0])
    _, truth = rosenbrock_numpy(p)
    for name in ENGINES:
        engine = make_engine(name, obj)
        assert engine.name == name and engine.n == 2
        np.testing.assert_allclose(engine.gradient(p), truth, rtol=1e-6 if name == "numeric" else 1e-13)


def test_unknown_engine_and_bad_numeric_options_are_config_errors():
    from gradtool.errors import ConfigError

    obj = load_objective("x^2")
    with pytest.raises(ConfigError, match="unknown gradient engine 'magic'.*analytic"):
        make_engine("magic", obj)
    with pytest.raises(ConfigError, match="unknown difference method 'sideways'"):
        make_engine("numeric", obj, method="sideways")
    for h in (0.0, -1e-3, float("nan")):
        with pytest.raises(ConfigError, match="step h must be positive"):
            make_engine("numeric", obj, h=h)


def test_piecewise_derivatives_with_true_conditions_compile():
    """d/dz relu(z) inside abs/asin comes back as Piecewise((..., Ne(z, 0)), (1, True)): the True condition is
    structure, not a constant to turn into a float (it crashed `grad` with an AttributeError)."""
    objective = load_objective("abs(asin(tanh(abs(y) + relu(z)) / 2))")
    gradient = AnalyticEngine(objective.expr, objective.symbols).gradient(np.array([0.7, 1.2]))
    s = sp.tanh(sp.Rational(19, 10)) / 2
    ds = (1 - 4 * s**2) / 2 / sp.sqrt(1 - s**2)  # d asin(tanh(u)/2)/du at u = |y| + z = 1.9
    np.testing.assert_allclose(gradient, [float(ds), float(ds)], rtol=1e-13)

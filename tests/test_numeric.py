"""The numeric engine: accuracy, the documented default steps, one vectorized call per gradient."""

import numpy as np
import pytest
import sympy as sp

from gradtool.expr.objective import load_objective
from gradtool.grad import numeric
from gradtool.grad.engines import make_engine
from gradtool.grad.numeric import METHODS, STENCILS, NumericEngine, default_steps, difference_gradient, step_sweep

EPS = np.finfo(float).eps


def exact_gradient(text: str, point) -> np.ndarray:
    obj = load_objective(text)
    sub = {s: sp.Float(repr(float(v)), 50) for s, v in zip(obj.symbols, point, strict=True)}
    return np.array([float(sp.diff(obj.expr, s).subs(sub).evalf(40)) for s in obj.symbols])


class CountingFunction:
    """A vectorized f(points) = sum((points - shift)**power) that records every call's batch size."""

    def __init__(self, shift, power: int):
        self.shift = np.asarray(shift, float)
        self.power = power
        self.batches: list[int] = []

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        assert pts.ndim == 2
        self.batches.append(len(pts))
        return np.sum((pts - self.shift) ** self.power, axis=1)


# ---------------------------------------------------------------- accuracy against exact values

ACCURACY_CASES = [
    ("x^2*y + sin(x)", (1.0, 2.0)),
    ("exp(x) * cos(y)", (0.5, -1.3)),
    ("log(1 + x^2) / (2 + sin(y))", (3.0, 0.2)),
    ("(x - 1)^2 + 100*(y - x^2)^2", (-1.2, 1.0)),
    ("sigmoid(3*x) * softplus(y)", (0.1, -2.0)),
    ("atan(x*y) + sqrt(1 + x^2 + y^2)", (25.0, -0.04)),
]


@pytest.mark.parametrize(("text", "point"), ACCURACY_CASES, ids=[c[0] for c in ACCURACY_CASES])
def test_central_differences_are_within_1e7_relative(text, point):
    engine = make_engine("numeric", load_objective(text))
    truth = exact_gradient(text, point)
    np.testing.assert_allclose(engine.gradient(np.array(point)), truth, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(("method", "rtol"), [("forward", 1e-6), ("backward", 1e-6), ("five-point", 1e-10)])
def test_other_methods_reach_their_expected_accuracy(method, rtol):
    text, point = "exp(x) * cos(y) + x*y", (0.5, -1.3)
    engine = make_engine("numeric", load_objective(text), method=method)
    np.testing.assert_allclose(engine.gradient(np.array(point)), exact_gradient(text, point), rtol=rtol)


# ---------------------------------------------------------------- the documented default steps


def test_default_steps_follow_the_documented_formula():
    x = np.array([0.0, 0.5, -1.0, 3.0, -250.0])
    scale = np.maximum(1.0, np.abs(x))
    np.testing.assert_allclose(default_steps(x, "forward"), np.sqrt(EPS) * scale, rtol=1e-15)
    np.testing.assert_allclose(default_steps(x, "backward"), np.sqrt(EPS) * scale, rtol=1e-15)
    np.testing.assert_allclose(default_steps(x, "central"), np.cbrt(EPS) * scale, rtol=1e-15)
    np.testing.assert_allclose(default_steps(x, "five-point"), EPS**0.2 * scale, rtol=1e-15)


# Each probe function's difference quotient at x = shift reveals the step exactly:
# forward of t^2 gives h, backward of t^2 gives -h, central of t^3 gives h^2, five-point of t^5 gives -4 h^4.
REVEALED_STEP = {
    "forward": (2, lambda g: g, 0.5),
    "backward": (2, lambda g: -g, 0.5),
    "central": (3, np.sqrt, 1 / 3),
    "five-point": (5, lambda g: (-g / 4) ** 0.25, 0.2),
}


@pytest.mark.parametrize("method", list(STENCILS))
def test_default_step_used_is_eps_power_times_max_one_abs_x(method):
    power, step_from, exponent = REVEALED_STEP[method]
    shift = np.array([0.0, 0.25, -1.0, 7.0, -300.0])
    f = CountingFunction(shift, power)
    g = NumericEngine(f, len(shift), method).gradient(shift)
    expected = EPS**exponent * np.maximum(1.0, np.abs(shift))
    np.testing.assert_allclose(step_from(g), expected, rtol=1e-6)


def test_explicit_step_overrides_the_default():
    h = 2.0**-10  # exactly representable, so ((1 + h)^2 - 1) / h = 2 + h exactly
    f = CountingFunction([0.0], 2)
    g = NumericEngine(f, 1, "forward", h=h).gradient(np.array([1.0]))
    assert g[0] == 2 + h


def test_steps_are_rounded_so_x_plus_h_is_exact():
    # forward difference of the identity is ((x + h) - x) / h: exactly 1 only if h was rounded that way
    for x in (0.1, 1 / 3, 12345.678, -7e5):
        engine = NumericEngine(CountingFunction([0.0], 1), 1, "forward")
        assert engine.gradient(np.array([x]))[0] == 1.0


# ---------------------------------------------------------------- one vectorized call, batches


@pytest.mark.parametrize(("method", "per_point"), [("forward", 2), ("backward", 2), ("central", 2), ("five-point", 4)])
def test_one_vectorized_call_per_gradient(method, per_point):
    n = 6
    f = CountingFunction(np.zeros(n), 2)
    engine = NumericEngine(f, n, method)
    engine.gradient(np.arange(n, dtype=float))
    assert f.batches == [per_point * n]
    assert engine.evaluations_per_gradient == per_point * n
    f.batches.clear()
    engine.gradient(np.ones((5, n)))
    assert f.batches == [5 * per_point * n]


def test_numeric_engine_from_the_registry_makes_one_call_per_gradient(monkeypatch):
    from gradtool.grad import analytic

    calls = []
    original = analytic.AnalyticEngine.value

    def counted(self, x):
        calls.append(np.shape(x))
        return original(self, x)

    monkeypatch.setattr(analytic.AnalyticEngine, "value", counted)
    engine = make_engine("numeric", load_objective("x*y*z + sin(x)"))
    engine.gradient(np.array([1.0, 2.0, 3.0]))
    assert calls == [(6, 3)]


def test_batch_equals_per_point():
    engine = make_engine("numeric", load_objective("exp(x*y) + y^3/(1 + x^2)"), method="five-point")
    points = np.random.default_rng(2).normal(size=(9, 2))
    batch = engine.gradient(points)
    assert batch.shape == (9, 2)
    np.testing.assert_allclose(batch, [engine.gradient(p) for p in points], rtol=1e-15)
    values = engine.value(points)
    assert values.shape == (9,) and isinstance(engine.value(points[0]), float)


def test_large_batches_are_chunked_with_the_same_result(monkeypatch):
    f = CountingFunction([0.5, -0.5, 2.0], 3)
    points = np.random.default_rng(4).normal(size=(10, 3))
    whole = difference_gradient(f, points)
    monkeypatch.setattr(numeric, "CHUNK_VALUES", 2 * 3 * 3 * 4)  # four points per call
    f.batches.clear()
    chunked = difference_gradient(f, points)
    np.testing.assert_array_equal(chunked, whole)
    assert f.batches == [24, 24, 12]


def test_value_and_gradient_and_unknown_method():
    f = CountingFunction([1.0, 2.0], 2)
    engine = NumericEngine(f, 2)
    value, grad = engine.value_and_gradient(np.array([2.0, 2.0]))
    assert value == 1.0
    np.testing.assert_allclose(grad, [2.0, 0.0], atol=1e-9)
    with pytest.raises(ValueError, match="unknown difference method 'sideways'"):
        NumericEngine(f, 2, "sideways")


def test_non_finite_values_give_nan_not_exceptions():
    engine = make_engine("numeric", load_objective("log(x)"))
    assert np.isnan(engine.gradient(np.array([-1.0]))[0])


# ---------------------------------------------------------------- step sweeps


def test_step_sweep_shows_first_and_second_order_truncation_error():
    f = CountingFunction([0.0], 1)
    f_sin = lambda pts: np.sin(pts[:, 0])  # noqa: E731
    steps = 10.0 ** -np.arange(1, 6)
    table = step_sweep(f_sin, np.array([1.0]), np.array([np.cos(1.0)]), steps)
    forward_ratio = table["forward"][:-1] / table["forward"][1:]
    central_ratio = table["central"][:-1] / table["central"][1:]
    assert np.all((forward_ratio > 7) & (forward_ratio < 13))  # O(h): 10x per decade
    assert np.all((central_ratio > 70) & (central_ratio < 130))  # O(h^2): 100x per decade
    np.testing.assert_array_equal(table["h"], steps)
    assert f.batches == []


# ---------------------------------------------------------------- one registry of method names


def test_every_method_is_named_in_the_help_the_docs_and_works(invoke):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    help_text = " ".join(invoke("check-grad", "--help").stdout.split())
    readme, configs = (root / "README.md").read_text(), (root / "docs" / "configs.md").read_text()
    obj = load_objective("exp(x) * cos(y)")
    truth = exact_gradient("exp(x) * cos(y)", (0.5, -1.3))
    for method in METHODS:
        assert method in help_text and f"`{method}`" in readme and f"`{method}`" in configs
        g = make_engine("numeric", obj, method=method).gradient(np.array([0.5, -1.3]))
        np.testing.assert_allclose(g, truth, rtol=1e-5)

"""The adaptive numeric method: accuracy against 50-digit truth, honest error estimates, domains, cost."""

import numpy as np
import pytest
import sympy as sp

from gradtool.expr.objective import load_objective
from gradtool.grad import richardson
from gradtool.grad.analytic import AnalyticEngine
from gradtool.grad.engines import make_engine
from gradtool.grad.richardson import adaptive_gradient, evaluate_offsets


def exact_gradient(text: str, point) -> np.ndarray:
    obj = load_objective(text)
    sub = {s: sp.Float(float(v), 60) for s, v in zip(obj.symbols, point, strict=True)}
    return np.array([float(sp.diff(obj.expr, s).evalf(50, subs=sub)) for s in obj.symbols])


def adaptive(text: str, point):
    obj = load_objective(text)
    return adaptive_gradient(AnalyticEngine(obj.expr, obj.symbols).value, np.array([point], dtype=float))


SMOOTH = [
    ("exp(x)", (1.0,)),
    ("sin(x)", (1.0,)),
    ("log(1 + x^2)", (3.0,)),
    ("exp(100*x)", (0.3,)),  # the step must follow the function's scale, not only x's
    ("sqrt(1 + x^2)", (1e4,)),
    ("x^2", (1e-8,)),  # rounding shrinks with the step here: the sequence keeps shrinking
    ("exp(x/1000)", (1.0,)),  # slowly varying: large steps are the accurate ones
    ("(x - 1)^2 + 100*(y - x^2)^2", (-1.2, 1.0)),
    ("sin(x*y*z) + x*exp(-y*z)", (0.5, -1.3, 2.0)),
]
NEAR_SINGULAR = [
    ("1/x", (0.001,)),
    ("sqrt(x)", (1e-4,)),
    ("log(x)", (1e-3,)),
    ("asin(x)", (0.999,)),
    ("sin(1000*x)", (0.1,)),
    ("tan(x)", (1.5707,)),
    ("log(x)", (1e-8,)),
]


@pytest.mark.parametrize(("text", "point"), SMOOTH + NEAR_SINGULAR, ids=[f"{t}@{p}" for t, p in SMOOTH + NEAR_SINGULAR])
def test_adaptive_is_accurate_to_1e12_and_its_error_estimate_covers_the_true_error(text, point):
    result = adaptive(text, point)
    truth = exact_gradient(text, point)
    error = np.abs(result.gradient[0] - truth)
    assert np.all(error <= 1e-12 * np.abs(truth)), error / np.abs(truth)
    assert np.all(error <= result.error[0])  # the estimate is an upper bound here
    assert np.all(result.error[0] <= 1e-9 * np.abs(truth))  # and not a vacuous one


def test_median_error_over_the_smooth_cases_is_below_1e13():
    errors = [np.max(np.abs(adaptive(t, p).gradient[0] / exact_gradient(t, p) - 1)) for t, p in SMOOTH]
    assert np.median(errors) <= 1e-13


def test_stencils_never_cross_where_f_is_not_finite():
    calls = []

    def f(pts):
        calls.append(pts[:, 0].copy())
        return np.sqrt(pts[:, 0])

    result = adaptive_gradient(f, np.array([[1e-4]]))
    assert result.gradient[0, 0] == pytest.approx(50.0, rel=1e-12)
    assert result.step[0, 0] < 1e-4  # the chosen stencil stays inside x > 0
    assert np.isfinite(result.error[0, 0]) and result.evaluations[0] > 2 * richardson.FIRST  # it shrank


def test_no_finite_stencil_gives_nan_with_an_infinite_error():
    result = adaptive("x^1.5", (0.0,))  # f(-h) is nan for every h
    assert np.isnan(result.gradient[0, 0]) and result.error[0, 0] == np.inf
    assert result.evaluations[0] == 2 * richardson.MAX_STEPS


def test_batches_and_components_are_independent_and_vectorized():
    obj = load_objective("exp(x*y) + y^3/(1 + x^2)")
    f = AnalyticEngine(obj.expr, obj.symbols).value
    points = np.random.default_rng(3).uniform(-1, 1, size=(6, 2))
    batch = adaptive_gradient(f, points)
    for b, p in enumerate(points):
        one = adaptive_gradient(f, p[None, :])
        np.testing.assert_array_equal(one.gradient[0], batch.gradient[b])
        np.testing.assert_array_equal(one.step[0], batch.step[b])
    np.testing.assert_allclose(batch.gradient, AnalyticEngine(obj.expr, obj.symbols).gradient(points), rtol=1e-11)


def test_probe_arrays_stay_within_the_chunk_bound(monkeypatch):
    sizes = []

    def f(pts):
        sizes.append(pts.size)
        return np.sum(pts**2, axis=1)

    monkeypatch.setattr(richardson, "CHUNK_VALUES", 500)
    points = np.random.default_rng(0).normal(size=(4, 5))
    result = adaptive_gradient(f, points)
    np.testing.assert_allclose(result.gradient, 2 * points, rtol=1e-13, atol=1e-15)
    assert max(sizes) <= 500


def test_evaluate_offsets_sets_one_coordinate_per_pair():
    pts = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = evaluate_offsets(
        lambda p: 10 * p[:, 0] + p[:, 1], pts, np.array([0, 1]), np.array([1, 0]), np.array([[5.0, 6.0], [7.0, 8.0]])
    )
    np.testing.assert_array_equal(out, [[15.0, 16.0], [74.0, 84.0]])


def test_the_engine_reports_evaluations_and_h_is_refused():
    obj = load_objective("sin(x) * y")
    engine = make_engine("numeric", obj, method="adaptive")
    estimate = engine.estimate(np.array([[0.5, 2.0]]))
    assert engine.evaluations_per_gradient == estimate.evaluations[0] >= 2 * 2 * richardson.FIRST
    from gradtool.errors import ConfigError

    with pytest.raises(ConfigError, match="adaptive chooses its own steps"):
        make_engine("numeric", obj, method="adaptive", h=1e-3)

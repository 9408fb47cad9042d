"""The complex-step method: exact to rounding where f is complex-analytic, refused (naming why) elsewhere."""

import numpy as np
import pytest
import sympy as sp

from gradtool.check import ERROR_FACTOR
from gradtool.errors import ConfigError
from gradtool.expr.objective import load_objective
from gradtool.expr.vocabulary import NUMPY_NAMESPACE
from gradtool.grad.complexstep import COMPLEX_NAMESPACE
from gradtool.grad.engines import make_engine


def exact_gradient(text: str, point) -> np.ndarray:
    obj = load_objective(text)
    sub = {s: sp.Float(float(v), 60) for s, v in zip(obj.symbols, point, strict=True)}
    return np.array([float(sp.diff(obj.expr, s).evalf(50, subs=sub)) for s in obj.symbols])


@pytest.mark.parametrize(
    ("text", "point"),
    [
        ("sigmoid(3*x) * softplus(y)", (0.1, -2.0)),
        ("softplus(40*x) + sigmoid(-50*y)", (1.0, 1.0)),  # both branches, far into the tails
        ("1/x", (0.001,)),
        ("sqrt(x) + log(y)", (1e-4, 1e-3)),
        ("asin(x) * acos(y) + atan(x*y)", (0.999, -0.3)),
        ("exp(100*x) + sin(1000*y)", (0.3, 0.1)),
        ("tanh(x)^2 + cosh(y)/sinh(y) + tan(x*y)", (0.3, 1.2)),
        ("x^1.5 * y^3", (2.0, -1.5)),
    ],
)
def test_complex_step_matches_50_digit_truth_to_rounding(text, point):
    engine = make_engine("numeric", load_objective(text), method="complex")
    estimate = engine.estimate(np.array([point]))
    truth = exact_gradient(text, point)
    np.testing.assert_allclose(estimate.gradient[0], truth, rtol=1e-14)
    assert np.all(np.abs(estimate.gradient[0] - truth) <= ERROR_FACTOR * estimate.error[0])  # check-grad's k
    assert estimate.evaluations[0] == len(point)


@pytest.mark.parametrize(
    ("text", "name"), [("abs(x) + y", "abs"), ("relu(x)*y", "relu"), ("max(x, y)", "max"), ("x + min(x, 2*y)", "min")]
)
def test_non_analytic_operations_are_refused_by_name(text, name):
    with pytest.raises(ConfigError, match=f"{name} is not"):
        make_engine("numeric", load_objective(text), method="complex")


def test_points_where_f_is_not_finite_give_nan_not_a_complex_branch_value():
    engine = make_engine("numeric", load_objective("log(x) + sqrt(y)"), method="complex")
    g = engine.gradient(np.array([[-1.0, 4.0], [2.0, 4.0]]))
    assert np.isnan(g[0]).all()
    np.testing.assert_allclose(g[1], [0.5, 0.25], rtol=1e-15)


@pytest.mark.parametrize("name", ["sigmoid", "softplus"])
def test_complex_safe_helpers_equal_the_real_ones_on_real_input(name):
    x = np.array([-800.0, -40.0, -1.0, 0.0, 1e-300, 2.5, 40.0, 800.0])
    np.testing.assert_allclose(COMPLEX_NAMESPACE[name](x + 0j).real, NUMPY_NAMESPACE[name](x), rtol=1e-15, atol=0)


def test_a_given_step_is_used():
    engine = make_engine("numeric", load_objective("x^3"), method="complex", h=0.5)
    # Im (x + 0.5 i)^3 / 0.5 = 3 x^2 - 0.25 exactly: the truncation term -h^2 f'''/6 shows at this h
    assert engine.gradient(np.array([2.0]))[0] == 12.0 - 0.25

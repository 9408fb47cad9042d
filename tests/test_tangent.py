"""Forward-over-reverse Hessian-vector products: one check per tangent rule against SymPy's Hessian, the
rule table covering the sweep's vocabulary, a big sum's H v without H, and a network's H v."""

from __future__ import annotations

import numpy as np
import pytest

from gradtool.expr.objective import load_objective
from gradtool.grad.analytic import AnalyticEngine
from gradtool.grad.autodiff import AutodiffEngine
from gradtool.grad.rules import NAMESPACE
from gradtool.grad.tangent import TANGENTS

# each expression exercises the tangent rules named (of the values and of the adjoints the sweep emits)
CASES = {
    "arithmetic and powers": "x^3*y - x/y + (x - y)^2 + x^y",
    "exp, log, sqrt": "exp(x*y) + log(1 + x^2) + sqrt(x^2 + y^2 + 1)",
    "trigonometric": "sin(x)*cos(y) + tan(x*y/4)",
    "inverse trigonometric": "asin(x/2) + acos(y/3) + atan(x*y)",
    "hyperbolic": "sinh(x)*cosh(y) + tanh(x - y)",
    "abs": "abs(x - y)^3 + abs(x)*y^2",
    "activations": "sigmoid(x*y) + softplus(x - y) + relu(x)*y^2",
    "max and min": "max(x, y)^2 + min(x^2, y)*y",
}
POINTS = [np.array([0.7, 1.3]), np.array([-0.4, 0.9])]


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("engine", [AutodiffEngine, AnalyticEngine], ids=["autodiff", "analytic"])
def test_hessian_vector_products_equal_sympys_hessian(text, engine):
    objective = load_objective(text)
    exact = AnalyticEngine(objective.expr, objective.symbols)
    tangent = engine(objective.expr, objective.symbols)
    v = np.array([0.3, -0.5])
    for x in POINTS:
        h = exact.hessian(x)
        scale = max(1.0, float(np.max(np.abs(h))))
        np.testing.assert_allclose(tangent.hvp(x, v), h @ v, rtol=0, atol=1e-13 * scale)
        if engine is AutodiffEngine:  # the identity's rows as directions: the whole matrix in one sweep
            np.testing.assert_allclose(tangent.hessian(x), h, rtol=0, atol=1e-13 * scale)


def test_a_tie_of_max_splits_the_tangent_as_sympy_does():
    objective = load_objective("max(x, y)^2")
    x = np.array([1.0, 1.0])  # max(x, y) has SymPy's derivative 1/2 per argument at the tie
    exact = AnalyticEngine(objective.expr, objective.symbols).hessian(x)
    np.testing.assert_allclose(AutodiffEngine(objective.expr, objective.symbols).hessian(x), exact)


def test_every_function_the_sweep_can_call_has_a_tangent_rule():
    callables = {name for name, value in NAMESPACE.items() if callable(value)}
    assert callables <= set(TANGENTS), callables - set(TANGENTS)


def test_a_big_sum_gets_h_v_term_group_by_term_group():
    scipy = pytest.importorskip("scipy.optimize")
    objective = load_objective("rosenbrock", 300)
    engine = AnalyticEngine(objective.expr, objective.symbols)
    x = np.random.default_rng(0).normal(size=300)
    v = np.random.default_rng(1).normal(size=300)
    np.testing.assert_allclose(engine.hvp(x, v), scipy.rosen_hess_prod(x, v), rtol=1e-13, atol=1e-10)
    np.testing.assert_allclose(engine.hessian(x), scipy.rosen_hess(x), rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize(
    ("model", "target", "loss"),
    [("mlp:2-3-1", "y", "bce"), ("logistic", "species", "cross-entropy")],
    ids=["sigmoid network", "softmax classifier"],
)
def test_a_models_h_v_equals_differences_of_its_gradient(model, target, loss):
    from gradtool.fitting.prepare import prepare_fit

    data = "data/xor.csv" if target == "y" else "data/flowers.csv"
    inputs = None if target == "y" else ["petal_length", "petal_width", "stem_mass"]
    fit = prepare_fit(model, data, target, loss=loss, inputs=inputs, standardize=True, seed=3)
    theta = fit.theta0 + np.random.default_rng(2).normal(scale=0.3, size=fit.theta0.shape)
    v = np.random.default_rng(4).normal(size=theta.shape)
    got = fit.oracle.hvp(theta, v)
    h = 1e-5  # central differences of the exact gradient: error O(h^2) ~ 1e-10
    want = (fit.oracle(theta + h * v)[1] - fit.oracle(theta - h * v)[1]) / (2 * h)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)

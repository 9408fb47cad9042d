"""Every shape of expression the parser accepts compiles in every engine and gives the exact gradient.

Constants, linear functions, functions constant in some variables, variables listed in --vars but
unused, 1 to 50 variables: the shapes whose generated code differs (CPython folds a list display of 3+
constants into one tuple constant), each checked against a gradient known by construction.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradtool.descent import minimize
from gradtool.expr.objective import load_objective
from gradtool.grad.engines import make_engine

COEFFICIENTS = st.sampled_from([1, -1, 2, 3, 0.5, -0.25, 1.5, 7, -12])
# how a variable enters: not at all, linearly, or through a term with a known derivative
KINDS = st.sampled_from(["unused", "linear", "linear", "square", "sin"])


@st.composite
def shapes(draw):
    """``(text, variables, coefficients, kinds, constant)``: f = constant + sum of per-variable terms."""
    n = draw(st.integers(1, 50))
    kinds = draw(st.lists(KINDS, min_size=n, max_size=n))
    coefficients = draw(st.lists(COEFFICIENTS, min_size=n, max_size=n))
    constant = draw(st.sampled_from([0, 1, -2.5, 4]))
    names = [f"x{i}" for i in range(n)]
    term = {"linear": "{c}*{v}", "square": "{c}*{v}^2", "sin": "{c}*sin({v})"}
    terms = [term[k].format(c=c, v=v) for v, c, k in zip(names, coefficients, kinds, strict=True) if k != "unused"]
    text = " + ".join([*terms, repr(constant)]) if terms else repr(constant)
    return text, names, coefficients, kinds, constant


def exact_gradient(coefficients, kinds, point: np.ndarray) -> np.ndarray:
    derivative = {
        "unused": lambda c, v: 0.0,
        "linear": lambda c, v: float(c),
        "square": lambda c, v: 2.0 * c * v,
        "sin": lambda c, v: c * np.cos(v),
    }
    return np.array([derivative[k](c, v) for c, k, v in zip(coefficients, kinds, point, strict=True)])


SETTINGS = settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(shape=shapes(), seed=st.integers(0, 2**16))
def test_every_engine_compiles_every_shape_and_matches_the_exact_gradient(shape, seed):
    text, names, coefficients, kinds, _ = shape
    objective = load_objective(text, variables=names)
    assert objective.variables == names
    points = np.random.default_rng(seed).uniform(-2, 2, size=(3, len(names)))
    truth = np.array([exact_gradient(coefficients, kinds, p) for p in points])
    for engine, rtol in (("analytic", 1e-15), ("autodiff", 1e-15), ("numeric", 1e-8)):
        built = make_engine(engine, objective)
        np.testing.assert_allclose(built.gradient(points), truth, rtol=rtol, atol=1e-8, err_msg=engine)
        np.testing.assert_allclose(built.gradient(points[0]), truth[0], rtol=rtol, atol=1e-8, err_msg=engine)


@settings(max_examples=15, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes())
def test_minimize_runs_every_shape_with_every_engine(shape):
    text, names, coefficients, kinds, constant = shape
    x0 = np.linspace(-1, 1, len(names))
    x, lr = x0.copy(), 0.01
    for _ in range(3):  # plain gradient descent by hand, on the gradient known by construction
        x = x - lr * exact_gradient(coefficients, kinds, x)
    for engine, rtol in (("analytic", 1e-14), ("autodiff", 1e-14), ("numeric", 1e-8)):
        result = minimize(text, list(x0), variables=names, gradient=engine, lr=lr, steps=3, tol=0.0)
        assert result.status == "max_steps", (engine, result.message)
        np.testing.assert_allclose(result.x, x, rtol=rtol, atol=1e-10, err_msg=engine)


def test_the_issue_commands_linear_and_unused_variables():
    objective = load_objective("x + y + z")
    np.testing.assert_array_equal(make_engine("autodiff", objective).gradient(np.array([1.0, 2.0, 3.0])), [1, 1, 1])
    objective = load_objective("y", variables="x,y,z")
    np.testing.assert_array_equal(make_engine("autodiff", objective).gradient(np.array([1.0, 2.0, 3.0])), [0, 1, 0])
    result = minimize("2*x - y + 4*z", [0, 0, 0], gradient="autodiff", lr=0.5, steps=2, tol=0.0)
    assert result.x == [-2.0, 1.0, -4.0] and result.status == "max_steps"

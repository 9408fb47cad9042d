"""Symbolic gradients for people: partials, values, the Hessian and the verdict on a point."""

import numpy as np
import pytest
import sympy as sp

from gradtool.derive import HESSIAN_MAX_VARS, classify, describe_gradient, stationary_kinds, tidy
from gradtool.expr.objective import load_objective

x, y = sp.symbols("x y", real=True)


# ---------------------------------------------------------------- classify, on hand-computed g and H


@pytest.mark.parametrize(
    ("case", "gradient", "hessian", "verdict"),
    [
        ("x^2+y^2 at 0", [0.0, 0.0], [[2.0, 0.0], [0.0, 2.0]], "minimum"),
        ("-(x^2+y^2) at 0", [0.0, 0.0], [[-2.0, 0.0], [0.0, -2.0]], "maximum"),
        ("x^2-y^2 at 0", [0.0, 0.0], [[2.0, 0.0], [0.0, -2.0]], "saddle"),
        ("x^4+y^2 at 0", [0.0, 0.0], [[0.0, 0.0], [0.0, 2.0]], "degenerate"),
        ("x^2 at 1", [2.0], [[2.0]], "not stationary"),
        ("x*y at 0", [0.0, 0.0], [[0.0, 1.0], [1.0, 0.0]], "saddle"),
    ],
)
def test_classify_hand_made_points(case, gradient, hessian, verdict):
    kind, eigenvalues = classify(np.array(gradient), np.array(hessian))
    assert kind == verdict
    if verdict != "not stationary":
        np.testing.assert_allclose(sorted(eigenvalues), sorted(np.linalg.eigvalsh(hessian)))


def test_classify_without_a_usable_hessian():
    assert classify(np.array([0.0]), None)[0] == "not stationary"
    assert classify(np.array([np.nan]), np.array([[1.0]]))[0] == "undefined"


def test_classify_scales_its_tolerances_with_the_hessian():
    # a tiny gradient next to a huge curvature is stationary; a tiny eigenvalue next to a huge one is zero
    assert classify(np.array([1e-3]), np.array([[1e6]]))[0] == "minimum"
    assert classify(np.zeros(2), np.diag([1e9, 1e-3]))[0] == "degenerate"


@pytest.mark.parametrize(
    ("text", "at", "verdict", "eigenvalues"),
    [
        ("x^2 + y^2", [0.0, 0.0], "minimum", [2.0, 2.0]),
        ("-(x^2 + y^2)", [0.0, 0.0], "maximum", [-2.0, -2.0]),
        ("x^2 - y^2", [0.0, 0.0], "saddle", [-2.0, 2.0]),
        ("x^4 + y^2", [0.0, 0.0], "degenerate", [0.0, 2.0]),
        # H = [[802, -400], [-400, 200]]: trace 1002, determinant 400
        (
            "(x - 1)^2 + 100*(y - x^2)^2",
            [1.0, 1.0],
            "minimum",
            [(1002 - np.sqrt(1002**2 - 1600)) / 2, (1002 + np.sqrt(1002**2 - 1600)) / 2],
        ),
    ],
)
def test_describe_gradient_classifies_stationary_points(text, at, verdict, eigenvalues):
    info = describe_gradient(load_objective(text), at, hessian=True)
    assert info["stationary"] == verdict
    np.testing.assert_allclose(sorted(info["eigenvalues"]), eigenvalues, rtol=1e-12, atol=1e-12)


def test_describe_gradient_calls_a_sloped_point_not_stationary():
    info = describe_gradient(load_objective("x^2"), [1.0], hessian=True)
    assert info["stationary"] == "not stationary"
    assert info["value"] == {"x": 2.0}


# ---------------------------------------------------------------- describe_gradient


def test_gradient_text_is_the_symbolic_derivative():
    info = describe_gradient(load_objective("x^2*y + sin(x)"))
    assert info["variables"] == ["x", "y"]
    local = {"x": x, "y": y}
    assert sp.simplify(sp.sympify(info["gradient"]["x"], locals=local) - (2 * x * y + sp.cos(x))) == 0
    assert sp.simplify(sp.sympify(info["gradient"]["y"], locals=local) - x**2) == 0
    for key in ("at", "value", "f", "hessian", "hessian_exprs", "eigenvalues", "stationary"):
        assert info[key] is None


def test_values_at_a_point_are_computed_by_hand():
    info = describe_gradient(load_objective("x^2*y + sin(x)"), [1.0, 2.0])
    assert info["at"] == {"x": 1.0, "y": 2.0}
    assert info["f"] == pytest.approx(2 + np.sin(1.0), rel=1e-15)
    assert info["value"]["x"] == pytest.approx(4 + np.cos(1.0), rel=1e-15)
    assert info["value"]["y"] == 1.0
    assert info["hessian"] is None


def test_hessian_matrix_and_expressions():
    info = describe_gradient(load_objective("x^3*y + y^2"), [1.0, 2.0], hessian=True)
    np.testing.assert_allclose(info["hessian"], [[12.0, 3.0], [3.0, 2.0]])  # 6xy, 3x^2; 3x^2, 2
    local = {"x": x, "y": y}
    exprs = [[sp.sympify(e, locals=local) for e in row] for row in info["hessian_exprs"]]
    assert exprs == [[6 * x * y, 3 * x**2], [3 * x**2, 2]]


def test_symbolic_hessian_without_a_point():
    info = describe_gradient(load_objective("x*y"), hessian=True)
    assert info["hessian_exprs"] == [["0", "1"], ["1", "0"]]
    assert info["hessian"] is None and info["stationary"] is None


def test_hessian_of_kinked_functions_away_from_the_kink():
    info = describe_gradient(load_objective("relu(x - y)*x + abs(y)"), [2.0, 0.5], hessian=True)
    np.testing.assert_allclose(info["hessian"], [[2.0, -1.0], [-1.0, 0.0]])  # of x^2 - x*y + y there


def test_unused_variable_has_a_zero_partial():
    info = describe_gradient(load_objective("x^2", variables="x,t"), [3.0, 1.0])
    assert info["gradient"]["t"] == "0"
    assert info["value"] == {"x": 6.0, "t": 0.0}


def test_tidy_simplifies_small_expressions_and_leaves_large_ones():
    assert tidy(sp.sin(x) ** 2 + sp.cos(x) ** 2) == 1
    big = sum(sp.sin(x + k) ** 2 + sp.cos(x + k) ** 2 for k in range(40))
    assert tidy(big) == big


# ---------------------------------------------------------------- stationary_kinds


def test_stationary_kinds_classifies_each_run_end_point():
    obj = load_objective("rosenbrock")
    kinds = stationary_kinds(obj, np.array([[1.0, 1.0], [0.0, 0.0]]))
    assert kinds == ["minimum", "not stationary"]


def test_stationary_kinds_on_himmelblau_minima_and_its_maximum():
    obj = load_objective("himmelblau")
    # (3, 2) is a minimum by hand: f = 0 there; (-0.270845, -0.923039) is its one local maximum
    kinds = stationary_kinds(obj, np.array([[3.0, 2.0], [-0.2708445906694, -0.9230385564109]]))
    assert kinds == ["minimum", "maximum"]


def test_stationary_kinds_is_skipped_for_many_variables():
    obj = load_objective("sphere", dim=HESSIAN_MAX_VARS + 1)
    assert stationary_kinds(obj, np.zeros((2, HESSIAN_MAX_VARS + 1))) == [None, None]

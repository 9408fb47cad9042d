"""One numeric check per derivative rule, and the rule table against the parser's function whitelist."""

import numpy as np
import pytest
import sympy as sp

from gradtool.errors import GradtoolError
from gradtool.expr.vocabulary import MATH_FUNCTIONS, relu, sigmoid, softplus
from gradtool.grad.autodiff import SYMPY_PRIMITIVES, AutodiffEngine
from gradtool.grad.rules import (
    ARRAY_PRIMITIVES,
    RULES,
    MissingRuleError,
    logsumexp,
    logsumexp_adjoint,
    unbroadcast,
)
from gradtool.grad.tape import Tape, compile_gradient

x, y, z = sp.symbols("x y z", real=True)


def exact(expr: sp.Expr, symbols, point) -> float:
    """``expr`` at ``point`` to 40 digits (the float64 point taken exactly)."""
    return float(expr.subs({s: sp.Float(float(v), 40) for s, v in zip(symbols, point, strict=True)}).evalf(40))


def check_grads(expr: sp.Expr, symbols, points, rtol: float = 1e-12) -> None:
    """The shared check: autodiff value and gradient vs SymPy's exact ones, point by point and batched."""
    engine = AutodiffEngine(expr, symbols)
    points = np.asarray(points, dtype=float)
    for point in points:
        value, grad = engine.value_and_gradient(point)
        assert value == pytest.approx(exact(expr, symbols, point), rel=rtol, abs=1e-300)
        want = [exact(sp.diff(expr, s), symbols, point) for s in symbols]
        np.testing.assert_allclose(grad, want, rtol=rtol, atol=1e-300)
    values, grads = engine.value_and_gradient(points)
    singles = [engine.value_and_gradient(point) for point in points]
    np.testing.assert_array_equal(values, [v for v, _ in singles])
    np.testing.assert_array_equal(grads, [g for _, g in singles])


# primitive -> (expression, points); smooth, well-scaled inputs away from kinks
CASES = {
    "add": (x + y + 3, [(0.3, -1.2), (2.0, 0.5)]),
    "mul": (2 * x * y * z, [(0.3, -1.2, 0.7), (0.0, 2.0, -0.5)]),
    "pow_const": (x**3 + sp.sqrt(y) + 1 / x + x ** sp.Rational(2, 3), [(0.3, 1.2), (1.7, 0.4)]),
    "pow": (x**y + 2**x, [(0.3, -1.2), (1.7, 0.4)]),
    "exp": (sp.exp(x), [(0.3,), (-2.0,)]),
    "log": (sp.log(x) + sp.log(x, 2), [(0.3,), (7.0,)]),
    "sin": (sp.sin(x), [(0.3,), (-2.0,)]),
    "cos": (sp.cos(x), [(0.3,), (-2.0,)]),
    "tan": (sp.tan(x), [(0.3,), (-1.2,)]),
    "asin": (sp.asin(x), [(0.3,), (-0.9,)]),
    "acos": (sp.acos(x), [(0.3,), (-0.9,)]),
    "atan": (sp.atan(x), [(0.3,), (-2.0,)]),
    "sinh": (sp.sinh(x), [(0.3,), (-2.0,)]),
    "cosh": (sp.cosh(x), [(0.3,), (-2.0,)]),
    "tanh": (sp.tanh(x), [(0.3,), (-2.0,)]),
    "abs": (sp.Abs(x), [(0.3,), (-2.0,)]),
    "relu": (relu(x), [(0.3,), (-2.0,)]),
    "max": (sp.Max(x, y, 2 * z), [(0.3, -1.0, 0.1), (-1.0, -2.0, -0.2)]),
    "min": (sp.Min(x, y, 2 * z), [(0.3, -1.0, 0.1), (-1.0, 0.5, 0.2)]),
    "sigmoid": (sigmoid(x), [(0.3,), (-2.0,)]),
    "softplus": (softplus(x), [(0.3,), (-2.0,)]),
}


def test_every_rule_has_a_numeric_check():
    assert set(CASES) | set(ARRAY_CASES) == set(RULES)


@pytest.mark.parametrize("primitive", sorted(CASES))
def test_rule_matches_sympy(primitive):
    expr, points = CASES[primitive]
    symbols = sorted(expr.free_symbols, key=str)
    check_grads(expr, symbols, points)


# ---- array primitives: the builder API against central differences ----
def central_difference(f, arrays, k: int, h: float = 1e-6) -> np.ndarray:
    """d f / d arrays[k] by central differences, entry by entry."""
    grad = np.zeros_like(arrays[k])
    for index in np.ndindex(arrays[k].shape):
        shifted = [a.copy() for a in arrays]
        shifted[k][index] += h
        up = f(*shifted)
        shifted[k][index] -= 2 * h
        grad[index] = (up - f(*shifted)) / (2 * h)
    return grad


def check_tape_grads(build, shapes, seed: int = 0) -> None:
    """Gradients of a builder-made scalar output vs central differences on every input."""
    tape = Tape()
    inputs = [tape.input(f"in{k}", shape) for k, shape in enumerate(shapes)]
    sweep = compile_gradient(tape, build(tape, *inputs), inputs)
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=shape) for shape in shapes]
    value, grads = sweep(*arrays)
    for k, (array, grad) in enumerate(zip(arrays, grads, strict=True)):
        assert np.shape(grad) == array.shape
        want = central_difference(lambda *a: sweep(*a)[0], arrays, k)
        np.testing.assert_allclose(grad, want, rtol=1e-6, atol=1e-8)


ARRAY_CASES = {
    "matmul": [
        (lambda t, a, b: t.sum(t.apply("sin", t.matmul(a, b))), [(3, 4), (4, 2)]),
        (lambda t, a, b: t.sum(t.apply("sin", t.matmul(a, b))), [(4,), (4, 2)]),
        (lambda t, a, b: t.sum(t.apply("sin", t.matmul(a, b))), [(3, 4), (4,)]),
        (lambda t, a, b: t.apply("sin", t.matmul(a, b)), [(4,), (4,)]),
    ],
    "sum": [
        (lambda t, a: t.sum(t.apply("sin", a)), [(3, 4)]),
        (lambda t, a: t.sum(t.apply("sin", t.sum(a, axis=0))), [(3, 4)]),
        (lambda t, a: t.sum(t.apply("sin", t.sum(a, axis=-1))), [(3, 4)]),
    ],
    "mean": [
        (lambda t, a: t.mean(t.apply("sin", a)), [(3, 4)]),
        (lambda t, a: t.mean(t.apply("sin", t.mean(a, axis=1))), [(3, 4)]),
    ],
    "logsumexp": [
        (lambda t, a: t.sum(t.apply("sin", t.apply("logsumexp", a, axis=1))), [(3, 4)]),
        (lambda t, a: t.sum(t.apply("sin", t.apply("logsumexp", a, axis=0))), [(3, 4)]),
        (lambda t, a: t.apply("logsumexp", a, axis=None), [(3, 4)]),
    ],
}

# broadcasting add and mul: adjoints summed back to each operand's shape
BROADCAST_CASES = [
    (lambda t, a, b: t.sum(t.apply("tanh", t.add(a, b))), [(3, 4), (4,)]),
    (lambda t, a, b: t.sum(t.apply("tanh", t.mul(a, b, 2.0))), [(3, 1), (1, 4)]),
    (lambda t, a, b: t.sum(t.pow(t.mul(a, b), 2)), [(2, 3, 4), ()]),
]


@pytest.mark.parametrize(
    ("build", "shapes"), [case for cases in ARRAY_CASES.values() for case in cases] + BROADCAST_CASES
)
def test_array_rule_matches_central_differences(build, shapes):
    check_tape_grads(build, shapes)


def test_logsumexp_is_exact_where_the_naive_formula_overflows():
    x = np.array([[1000.0, 1000.0 + np.log(3.0)], [-1000.0, -1000.0], [0.0, -np.inf]])
    value = logsumexp(x, 1)
    np.testing.assert_allclose(value, [1000.0 + np.log(4.0), -1000.0 + np.log(2.0), 0.0], rtol=1e-15)
    softmax = logsumexp_adjoint(np.ones(3), x, value, 1)
    np.testing.assert_allclose(softmax, [[0.25, 0.75], [0.5, 0.5], [1.0, 0.0]], rtol=1e-12)  # 1000 + log 3 rounds


def test_unbroadcast_sums_added_and_stretched_axes():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(unbroadcast(g, ()), g.sum())
    np.testing.assert_array_equal(unbroadcast(2.0, (2, 2)), np.full((2, 2), 2.0))


# ---- the table against the parser's whitelist ----
def _primitives_of(expr: sp.Expr) -> set[str]:
    found = set()
    for sub in sp.preorder_traversal(expr):
        if isinstance(sub, sp.Pow):
            found.add("pow" if sub.exp.free_symbols else "pow_const")
        elif sub.free_symbols and not isinstance(sub, sp.Symbol):
            found.add(SYMPY_PRIMITIVES[type(sub)])
    return found


def test_rule_table_covers_exactly_the_function_whitelist_plus_arithmetic():
    covered = {"add", "mul", "pow", "pow_const"}
    for name, (builder, arities) in MATH_FUNCTIONS.items():
        for arity in arities or (2, 3):
            primitives = _primitives_of(builder(*(x, y, z)[:arity]))
            assert primitives, name
            covered |= primitives
    assert covered == set(RULES) - ARRAY_PRIMITIVES


def test_missing_rule_names_the_primitive():
    with pytest.raises(MissingRuleError, match="'erf'") as caught:
        Tape().apply("erf", 1.0)
    assert isinstance(caught.value, GradtoolError)
    assert isinstance(caught.value, NotImplementedError)

"""Backpropagation for fits: one reverse sweep vs central differences on every layer, and vs SymPy exactly."""

from __future__ import annotations

import time

import numpy as np
import pytest
import sympy as sp

from gradtool.errors import ConfigError
from gradtool.fitting.check import check_fit
from gradtool.fitting.gradients import (
    FIT_ENGINES,
    AnalyticGradient,
    AutodiffGradient,
    NumericGradient,
    Objective,
    central_gradient,
)
from gradtool.fitting.losses import LOSSES, make_loss
from gradtool.fitting.models import ACTIVATIONS, make_model
from gradtool.grad.tape import compile_gradient


def network_problem(sizes, activation, loss, l2=0.0, rows=7, seed=0):
    rng = np.random.default_rng(seed)
    inputs = [f"x{k}" for k in range(sizes[0])]
    targets = [f"y{k}" for k in range(sizes[-1])]
    model = make_model("mlp:" + "-".join(map(str, sizes)), inputs + targets, targets, activation=activation)
    objective = Objective(model, make_loss(loss), l2)
    x = rng.normal(size=(rows, sizes[0]))
    y = rng.random((rows, sizes[-1]))  # probabilities are valid bce targets too
    if loss == "cross-entropy":
        y /= y.sum(axis=1, keepdims=True)  # and, normalised, cross-entropy targets
    theta = model.init(rng) + 0.3 * rng.normal(size=model.layout.size)  # nonzero biases
    return objective, theta, objective.args(x, y)


def relative_error(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_backprop_matches_central_differences_on_every_layer(activation, loss):
    for seed, sizes in enumerate([(3, 5, 2), (2, 4, 3, 1), (1, 6, 5, 4, 2)]):
        objective, theta, args = network_problem(sizes, activation, loss, l2=0.05, seed=seed)
        value, grad = AutodiffGradient(objective)(theta, args)
        assert value == objective.value(theta, args)
        want = central_gradient(lambda t, o=objective, a=args: o.value(t, a), theta)
        for name, (a, b) in zip(objective.layout.names, objective.layout.bounds, strict=True):
            assert relative_error(grad[a:b], want[a:b]) < 1e-7, (sizes, name)


def test_backprop_is_one_sweep_over_a_handful_of_matrix_nodes():
    objective, theta, args = network_problem((2, 16, 16, 1), "tanh", "mse")
    tape, output, _, params = objective.tape(len(args[-1]))
    assert len(tape.nodes) < 30  # per layer: matmul, add, activation; not one node per weight
    source = compile_gradient(tape, output, params).source
    assert source.count("def sweep") == 1 and source.count("@") == 3  # one forward matmul per layer


EXPRESSIONS = [
    ("w*x + b", {"w": 0.7, "b": -0.2}),
    ("a*exp(-k*t) + c", {"a": 1.3, "k": 0.4, "c": 0.1}),
    ("sin(w*x)*tanh(b + x^2) + log(1 + c^2*x^2)", {"w": 0.9, "b": -0.3, "c": 0.5}),
]


def expression_problem(text, values, loss="mse", l2=0.0, rows=9):
    rng = np.random.default_rng(1)
    x = np.linspace(0.1, 2.0, rows)
    y = rng.random(rows)
    model = make_model(text, ["x", "t", "y"], ["y"])
    objective = Objective(model, make_loss(loss), l2)
    data = np.column_stack([x, x])[:, : len(model.inputs)]
    theta = np.array([values[n] for n in model.layout.names])
    return objective, theta, objective.args(data, y[:, None]), x, y


def sympy_gradient(objective, theta, x, y):
    """The exact mean loss gradient: the per-row SymPy loss summed over the rows, at 40 digits."""
    model = objective.model
    rows = [
        objective.loss.row(model.expr.subs(model.input_symbols[0], sp.Float(xi, 40)), sp.Float(yi, 40))
        for xi, yi in zip(x, y, strict=True)
    ]
    weights = [p for p in model.param_symbols if p.name in model.penalized]  # not the additive intercepts
    mean = sp.Add(*rows) / len(rows) + objective.l2 * sum(p**2 for p in weights)
    at = {p: sp.Float(v, 40) for p, v in zip(model.param_symbols, theta, strict=True)}
    return np.array([float(sp.diff(mean, p).subs(at).evalf(40)) for p in model.param_symbols])


@pytest.mark.parametrize(("text", "values"), EXPRESSIONS)
@pytest.mark.parametrize("loss", sorted(name for name, loss in LOSSES.items() if loss.row))
def test_expression_loss_gradient_matches_sympy_exactly(text, values, loss):
    objective, theta, args, x, y = expression_problem(text, values, loss, l2=0.01)
    exact = sympy_gradient(objective, theta, x, y)
    for engine in (AutodiffGradient, AnalyticGradient):
        _, grad = engine(objective)(theta, args)
        np.testing.assert_allclose(grad, exact, rtol=1e-12, atol=1e-14)
    _, numeric = NumericGradient(objective)(theta, args)
    np.testing.assert_allclose(numeric, exact, rtol=1e-7, atol=1e-9)


def test_every_gradient_engine_gives_the_same_value():
    objective, theta, args, _, _ = expression_problem(*EXPRESSIONS[1])
    values = {name: engine(objective)(theta, args)[0] for name, engine in FIT_ENGINES.items()}
    assert max(values.values()) - min(values.values()) < 1e-14


def test_bce_from_logits_is_stable_where_the_naive_formula_overflows():
    objective, _, _ = network_problem((1, 1), "sigmoid", "bce")
    theta = np.array([800.0, 0.0])  # logits of +-800: sigmoid rounds to exactly 0 or 1
    x, y = np.array([[1.0], [-1.0]]), np.array([[0.0], [1.0]])
    value, grad = AutodiffGradient(objective)(theta, objective.args(x, y))
    assert value == pytest.approx(800.0)  # softplus(800) - 0 = 800 and softplus(-800) + 800 = 800 per row
    np.testing.assert_allclose(grad, [1.0, 0.0], atol=1e-12)


def test_check_fit_reports_every_parameter(tmp_path):
    report = check_fit("mlp:2-3-1", "data/xor.csv", "y", loss="bce", l2=0.1, seed=3)
    assert report["ok"] and len(report["parameters"]) == 13
    assert {p["name"] for p in report["parameters"]} >= {"W1[0,0]", "b1[2]", "W2[2,0]", "b2[0]"}
    assert report["max_rel_error"] < 1e-6


def test_check_fit_samples_parameters_of_a_wide_network_with_its_seed():
    start = time.process_time()  # every one of mlp:2-300-300-1's 91,501 parameters took 117 s
    report = check_fit("mlp:2-300-300-1", "data/xor.csv", "y", seed=7)
    assert time.process_time() - start < 30
    assert report["ok"] and report["parameter_count"] == 91_501 and report["checked"] == 300
    names = [p["name"] for p in report["parameters"]]

    def drawn(seed: int) -> list[str]:
        return [p["name"] for p in check_fit("mlp:2-300-300-1", "data/xor.csv", "y", seed=seed)["parameters"]]

    assert len(set(names)) == 300 and names == drawn(7) and names != drawn(8)


def test_a_sampled_check_gives_the_values_of_the_full_check():
    full = {p["name"]: p for p in check_fit("mlp:2-4-1", "data/xor.csv", "y", seed=1, sample=None)["parameters"]}
    sampled = check_fit("mlp:2-4-1", "data/xor.csv", "y", seed=1, sample=5)
    assert sampled["checked"] == 5 and sampled["parameter_count"] == len(full) == 17
    for p in sampled["parameters"]:
        assert p == full[p["name"]]
    with pytest.raises(ConfigError, match="^sample: must be a whole number >= 1"):
        check_fit("mlp:2-4-1", "data/xor.csv", "y", sample=0)


@pytest.mark.parametrize(
    ("text", "intercepts"),
    [("w*x + b", {"b"}), ("a*exp(-k*t) + c", {"c"}), ("b + b*x", set()), ("(w*x + b)^2", set()), ("w*x", set())],
)
def test_l2_leaves_additive_intercepts_alone(text, intercepts):
    model = make_model(text, ["x", "t", "y"], ["y"])
    assert set(model.layout.names) - set(model.penalized) == intercepts


FUSED = [
    ("w1*x + w2*t + b", {"w1": 0.4, "w2": -1.1, "b": 0.3}),
    ("sigmoid(a*x + c*t^2 - k*sin(x)) + d", {"a": 0.5, "c": -0.2, "k": 0.7, "d": 0.1}),
    ("a*x + b*x^2 + c*x^3 + d", {"a": 0.5, "b": -0.2, "c": 0.05, "d": 1.0}),
    ("-w1*x + 2*w2*t + w3*x*t", {"w1": 0.2, "w2": 0.3, "w3": -0.4}),
]


@pytest.mark.parametrize(("text", "values"), FUSED)
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_fused_linear_terms_give_the_unfused_value_and_gradient(text, values, loss):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(11, 2))
    y = rng.random((11, 1))
    results = []
    for fuse in (False, True):
        model = make_model(text, ["x", "t", "y"], ["y"], fuse=fuse)
        objective = Objective(model, make_loss(loss), l2=0.03)
        theta = np.array([values[n] for n in model.layout.names])
        data = x[:, : len(model.inputs)] if model.inputs == ["x"] else x
        results.append(AutodiffGradient(objective)(theta, objective.args(data, y)))
        assert model.fused == fuse
    (value, grad), (fused_value, fused_grad) = results
    assert fused_value == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(fused_grad, grad, rtol=1e-12, atol=1e-15)


def test_a_64_term_expression_is_one_matrix_product_on_the_tape():
    text = " + ".join(f"w{k}*x{k}" for k in range(1, 65)) + " + b"
    columns = [f"x{k}" for k in range(1, 65)]
    model = make_model(text, [*columns, "y"], ["y"], fuse=True)
    tape, output, params, data = model.build(32)
    assert [p.shape for p in params] == [(64,), ()] and [d.shape for d in data] == [(32, 64)]
    assert len(tape.nodes) < 10 and sum(node.op == "matmul" for node in tape.nodes) == 1
    assert model.penalized == [f"w{k}" for k in range(1, 65)]  # b is the intercept
    objective = Objective(model, make_loss("mse"), l2=0.5)
    theta = np.arange(65.0) / 100
    x, y = np.ones((3, 64)), np.zeros((3, 1))
    value = objective.value(theta, objective.args(x, y))
    weights = theta[[model.layout.names.index(f"w{k}") for k in range(1, 65)]]
    assert value == pytest.approx((np.sum(weights) + theta[0]) ** 2 + 0.5 * weights @ weights, rel=1e-14)


def test_the_analytic_engine_needs_the_unfused_model():
    model = make_model("w1*x + w2*t", ["x", "t", "y"], ["y"], fuse=True)
    with pytest.raises(ConfigError, match="fuse=False"):
        AnalyticGradient(Objective(model, make_loss("mse")))

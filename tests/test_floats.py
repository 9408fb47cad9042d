"""The Python-float fast path of small single runs: the same bits as the array path, for every elementwise rule."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest

from gradtool.descent import prepare
from gradtool.errors import GradtoolError
from gradtool.expr.objective import load_objective
from gradtool.floats import MAX_N, fast_path
from gradtool.grad.analytic import AnalyticEngine
from gradtool.grad.autodiff import AutodiffEngine
from gradtool.grad.base import Point
from gradtool.io import TrajectoryCSV
from gradtool.optim import OPTIMIZERS, optimizer_spec

ELEMENTWISE = sorted(name for name, spec in OPTIMIZERS.items() if name == spec.name and spec.elementwise)

# Expressions that reach every path of the evaluator: whole powers (Python floats), fractional powers (numpy
# scalars), kinks and Piecewise derivatives, our own functions, exp overflowing to inf.
EXPRESSIONS = [
    ("100*(y - x^2)^2 + (1 - x)^2", "-1.5,2"),
    ("x^4 - 3*x*y + y^2 + 0.1*exp(x)", "1,-1"),
    ("sqrt(x^2 + 1) + (y^2 + 0.5)^(2/3) + abs(x - y)", "0.7,-0.2"),
    ("sigmoid(3*x) + softplus(-y) + relu(x - y)^2 + max(x, y)^2 + log(1 + x^2)", "0.5,1.5"),
    ("(x - 1)^2 + (y + 2)^2 + (z - 0.5)^2 + 0.5*x*z", "3,3,3"),
    ("sin(x)*cos(y) + 0.1*(x^2 + y^2) + tanh(w)^2 + atan(v)^2", "1,1,1,1"),
    ("(a - 1)^2 + (b + 1)^2 + c^4 + d*k + k^2 + f^2*a + sqrt(1 + g^2) + h^2/2", "1,2,3,-1,-3,0.5,0.25,-2"),
]
HYPER = {
    "momentum": [{"momentum": 0.9}, {"momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}, {"nesterov": True}],
    "rmsprop": [{"centered": True, "momentum": 0.5}, {"eps_in_sqrt": True, "weight_decay": 0.1}],
    "adam": [{"amsgrad": True}, {"weight_decay": 0.1, "decoupled_weight_decay": True}],
    "asgd": [{"lambd": 0.01, "alpha": 0.5, "t0": 20, "weight_decay": 0.1}],
    "rprop": [{"etas": [0.3, 1.5], "step_sizes": [1e-4, 0.5]}],
    "nadam": [{"momentum_decay": 0.01, "weight_decay": 0.1}],
    "radam": [{"weight_decay": 0.1, "decoupled_weight_decay": True}],
    "lion": [{"weight_decay": 0.1}],
}


def both_ways(expr, x0, **options):
    """The run's result on the fast path and on the array path (a run that records every iterate)."""
    problem = prepare(expr, x0, classify=False, **options)
    assert fast_path(problem.engine, problem.opt, np.asarray(problem.start, float)) is not None
    fast, array = problem.run(record=True), replace(problem, fast=False).run(record=True)
    return fast.to_dict(), array.to_dict()


def same(fast: dict, array: dict) -> None:
    fast.pop("time_s"), array.pop("time_s")
    assert repr(fast) == repr(array)  # repr: nan equals nan, -0.0 differs from 0.0


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("gradient", ["analytic", "autodiff"])
def test_every_elementwise_rule_gives_the_array_paths_bits(name, gradient):
    spec = optimizer_spec(name)
    lr = {"adadelta": 0.5, "rprop": 0.01, "lion": 1e-3}.get(name, min(spec.defaults["lr"], 1e-3))
    for k, (expr, x0) in enumerate(EXPRESSIONS):
        for hyper in [{}, *HYPER.get(name, [])][k % 2 :: 2] or [{}]:
            same(*both_ways(expr, x0, optimizer=name, lr=lr, steps=150, tol=0, gradient=gradient, **hyper))


@pytest.mark.parametrize(
    ("name", "schedule", "options"),
    [
        ("momentum", "onecycle", {"max_lr": 0.002}),  # cycles the momentum through the update's keyword
        ("adam", "onecycle", {"max_lr": 0.01}),  # cycles beta1
        ("rmsprop", "plateau", {"patience": 3, "factor": 0.5}),  # follows f
        ("nag", "cosine", {"t_max": 50}),
    ],
)
def test_schedules_and_maximize_on_the_fast_path(name, schedule, options):
    run = {"optimizer": name, "lr": 1e-3, "steps": 120, "tol": 0, "schedule": schedule, "schedule_options": options}
    same(*both_ways("x^4 + x*y + 2*y^2 + 0.3*x", "1.5,-1", **run))
    same(*both_ways("-(x^2 + 3*y^2)", "1,1", **run, maximize=True))


@pytest.mark.parametrize(
    ("expr", "x0"),
    [
        ("1/x + y^2", "0,1"),  # 1/0: Python raises, numpy gives inf (the run diverges at step 0)
        ("x^(-2) + y", "1e-200,1"),  # an overflowing power: Python raises, numpy gives inf
        ("(x - 2)^300 + y^2", "0.5,1"),  # 1.5^300 = 4e52, then the step overflows
        ("x^2 + exp(300*y)", "1,3"),  # numpy's exp overflows to inf on Python floats too
        ("(-x)^(1/3) + y^2", "1,1"),  # a negative base to a fractional power: nan, never complex
    ],
)
def test_points_where_python_and_numpy_differ_give_numpys_bits(expr, x0):
    for gradient in ("analytic", "autodiff"):
        same(*both_ways(expr, x0, optimizer="momentum", lr=0.01, steps=40, tol=0, gradient=gradient))


def test_tolerances_trajectory_and_best_point_are_the_same():
    problem = prepare("(x - 1)^2 + 10*(y + 0.5)^2", "3,3", optimizer="momentum", lr=0.01, steps=3000, tol=0, xtol=1e-10)
    csv = {}
    for fast in (True, False):
        handle = io.StringIO()
        result = replace(problem, fast=fast).run(sink=TrajectoryCSV(handle, problem.objective.variables))
        csv[fast] = (handle.getvalue(), result.to_dict())
        csv[fast][1].pop("time_s")
    assert csv[True][0] == csv[False][0] and repr(csv[True][1]) == repr(csv[False][1])
    assert csv[True][1]["status"] == "converged" and "step length" in csv[True][1]["message"]


def random_expression(rng: np.random.Generator, depth: int) -> str:
    if depth == 0 or rng.random() < 0.2:
        return str(rng.choice(["x", "y", "x", "y", "2", "0.5", "3", "pi"]))
    a, b = random_expression(rng, depth - 1), random_expression(rng, depth - 1)
    forms = [
        f"({a}) + ({b})",
        f"({a}) - ({b})",
        f"({a}) * ({b})",
        f"({a}) / ({b})",
        f"({a})^2",
        f"({a})^3",
        f"({a})^(-1)",
        f"({a})^(1/3)",
        f"sqrt({a})",
        f"exp({a})",
        f"log({a})",
        f"sin({a}) * cos({b})",
        f"tanh({a})",
        f"sigmoid({a})",
        f"softplus({a})",
        f"max({a}, {b})",
        f"min({a}, {b}, 1)",
        f"abs({a}) + relu({b})",
        f"({a})^({b})",
    ]
    return forms[int(rng.integers(len(forms)))]


def test_the_float_evaluator_is_the_engines_single_point_path_bit_for_bit():
    """Hundreds of random expressions at random points, zeros and huge values: f and every partial equal."""
    rng = np.random.default_rng(16)
    points = [np.array(p) for p in ([0.0, 1.0], [-0.0, -2.0], [1e300, 3.0], [-1e-300, 0.5], [np.inf, 1.0])]
    checked = 0
    for _ in range(150):
        try:
            objective = load_objective(random_expression(rng, int(rng.integers(1, 5))), variables="x,y")
            engines = [AnalyticEngine(objective), AutodiffEngine(objective)]
        except (
            GradtoolError,
            ValueError,
        ):  # ValueError: SymPy folds relu(sigmoid(3)) to nan inside a min (a known bug)
            continue
        for x in [*points, *rng.normal(0, 3, size=(4, 2))]:
            for engine in engines:
                with np.errstate(all="ignore"):
                    f, g = engine.value_and_gradient(x)
                    f2, g2 = engine.float_fg()(Point(x.tolist()))
                assert repr((f, g.tolist())) == repr((f2, list(g2))), (objective.text, x, engine.name)
                checked += 1
    assert checked > 1500


def test_the_fast_path_is_for_few_variables_and_elementwise_rules(monkeypatch):
    small = prepare("sphere", dim=MAX_N, optimizer="adam")
    x0 = np.asarray(small.start, float)
    assert fast_path(small.engine, small.opt, x0) is not None
    big = prepare("sphere", dim=MAX_N + 1, optimizer="adam")
    assert fast_path(big.engine, big.opt, np.asarray(big.start, float)) is None
    numeric = prepare("sphere", dim=2, gradient="numeric")
    assert fast_path(numeric.engine, numeric.opt, np.zeros(2)) is None
    monkeypatch.delattr(small.opt.__class__, "elementwise", raising=False)
    monkeypatch.setattr(optimizer_spec("adam").function, "elementwise", False)
    assert fast_path(small.engine, small.opt, x0) is None  # an unmarked rule keeps the array path

"""Training: the source articles' examples reach their answers; mini-batches, holdout, statuses, every optimizer."""

from __future__ import annotations

import numpy as np
import pytest

import gradtool
from gradtool.fitting.prepare import fit, prepare_fit
from gradtool.optim import OPTIMIZERS, SCHEDULES


def run_config(path):
    """A ``task: fit`` config's one fit, from the options the config loader gives it (kept here with its
    compiled model, which a run of the config drops to cross process boundaries)."""
    from gradtool.config import load_config

    (run,) = load_config(path).runs
    return fit(**run.options)


def test_linear_regression_of_the_article_reaches_w_1_b_half():
    result = run_config("configs/seed-linear-regression.yaml")
    assert result.status == "completed" and result.exit_code == 0
    assert result.params["w"] == pytest.approx(1.0, abs=1e-6)
    assert result.params["b"] == pytest.approx(0.5, abs=1e-6)
    assert result.train_loss < 1e-12 and result.accuracy is None


def test_xor_network_reaches_100_percent_accuracy():
    result = run_config("configs/xor-mlp.yaml")
    assert result.status == "completed" and result.accuracy == {"train": 1.0, "test": None}
    probabilities = result.predict(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]))
    assert (probabilities[:, 0] > 0.5).tolist() == [False, True, True, False]


def test_sine_network_generalises_to_the_held_out_rows():
    result = run_config("configs/sine-mlp.yaml")
    assert result.data["train"] == 160 and result.data["test"] == 40 and result.batch_size == 32
    assert result.steps == 300 * 5  # ceil(160 / 32) steps per epoch
    assert result.test_loss < 0.01 and result.train_loss < 0.01  # noise variance is 0.0025


def test_python_api_is_exported_lazily():
    result = gradtool.fit("w*x + b", {"x": [1, 2, 3, 4], "y": [3, 5, 7, 9]}, "y", lr=0.05, epochs=2000)
    assert isinstance(result, gradtool.FitResult)
    assert result.params == pytest.approx({"w": 2.0, "b": 1.0}, abs=1e-6)


def test_same_seed_same_fit_and_another_seed_another_shuffle():
    options = dict(activation="tanh", optimizer="adam", lr=0.01, epochs=3, batch_size=16, test_split=0.25)
    a = fit("mlp:1-4-1", "data/sine.csv", "y", seed=5, **options)
    b = fit("mlp:1-4-1", "data/sine.csv", "y", seed=5, **options)
    c = fit("mlp:1-4-1", "data/sine.csv", "y", seed=6, **options)
    assert np.array_equal(a.theta, b.theta) and a.train_loss == b.train_loss
    assert not np.array_equal(a.theta, c.theta)


def test_full_batch_epochs_are_single_steps_and_rows_follow_every():
    result = fit("w*x + b", "data/linear.csv", "y", lr=0.01, epochs=10, every=4)
    assert result.steps == 10 and [row.epoch for row in result.rows] == [0, 4, 8, 10]
    assert result.rows[0].train == pytest.approx(np.mean(np.array([1.5, 2.5, 3.5, 4.5, 5.5]) ** 2))


def test_l2_penalizes_the_weight_and_not_the_intercept_as_ridge_does():
    x = np.arange(1.0, 6.0)
    y = x + 0.5
    l2 = 0.5  # mean((w x + b - y)^2) + l2 w^2: the normal equations with l2 on the weight's diagonal only
    want = np.linalg.solve([[np.mean(x * x) + l2, np.mean(x)], [np.mean(x), 1.0]], [np.mean(x * y), np.mean(y)])
    for model in ("w*x + b", "linear"):
        shrunk = fit(model, "data/linear.csv", "y", lr=0.05, epochs=4000, l2=l2)
        w, b = shrunk.theta if model == "linear" else (shrunk.params["w"], shrunk.params["b"])
        np.testing.assert_allclose([w, b], want, rtol=1e-9)


def test_divergence_is_a_status_with_the_last_finite_parameters():
    result = fit("w*x + b", "data/linear.csv", "y", lr=10.0, epochs=1000)
    assert result.status == "diverged" and result.exit_code == 1
    assert "loss became" in result.message and result.epochs < 1000
    assert np.all(np.isfinite(result.theta)) and np.isfinite(result.train_loss)


def test_minibatch_divergence_is_caught_too():
    result = fit("mlp:1-8-1", "data/sine.csv", "y", activation="relu", lr=1e3, epochs=50, batch_size=10)
    assert result.status == "diverged" and np.all(np.isfinite(result.theta))


def test_ctrl_c_stops_cleanly_as_interrupted():
    def stop_at_3(epoch):
        if epoch == 3:
            raise KeyboardInterrupt

    result = fit("w*x + b", "data/linear.csv", "y", lr=0.01, epochs=100, progress=stop_at_3)
    assert result.status == "interrupted" and result.exit_code == 130 and result.epochs == 3


@pytest.mark.parametrize("name", sorted(set(OPTIMIZERS)))
def test_every_optimizer_trains_a_network(name):
    search = {"line_search": "strong-wolfe"} if name == "lbfgs" else {}  # torch's fixed step 1 may rise on XOR
    result = fit("mlp:2-4-1", "data/xor.csv", "y", loss="bce", optimizer=name, epochs=20, seed=1, **search)
    assert result.status == "completed" and result.optimizer["name"] == OPTIMIZERS[name].name
    assert result.rows[-1].train <= result.rows[0].train + 1e-12


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_every_schedule_drives_the_learning_rate(name):
    from test_schedules import EXAMPLE_PARAMS

    options = {k: v for k, v in EXAMPLE_PARAMS[name].items() if k != "total_steps"}  # onecycle: the fit's steps
    options |= {"threshold": 0.5} if name == "plateau" else {}  # a loss that falls by less than half: a plateau
    lr = 0.001 if name == "cyclic" else 0.01
    result = fit("w*x + b", "data/linear.csv", "y", lr=lr, epochs=20, every=1, schedule=name, schedule_options=options)
    assert result.schedule["name"] == name and result.status == "completed"
    assert len({row.lr for row in result.rows[1:]}) > 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model": "mlp:2-4-1", "activation": "swish"}, "unknown activation"),
        ({"model": "w*x + b", "activation": "tanh"}, "activation: applies to mlp"),
        ({"model": "mlp:2-0-1"}, "at least one unit"),
        ({"model": "mlp 2-4-1"}, "mlp:IN-H1-...-OUT"),
        ({"model": "mlp:2-4-2"}, "2 outputs"),
        ({"model": "w*x + b", "params": "w,q"}, "'q' does not appear"),
        ({"model": "x*y + b", "data": "data/linear.csv"}, "uses the target column"),
        ({"model": "mlp:2-4-1", "gradient": "analytic"}, "gradient: analytic is for expression models"),
        (
            {"model": "mlp:2-4-1", "init": "w=1"},
            "init: a network starts from its seeded random initialisation (init random",
        ),
        ({"model": "mlp:2-4-1", "loss": "hinge"}, "unknown loss"),
        ({"model": "mlp:2-4-1", "l2": -1.0}, "l2: must be a number >= 0"),
        ({"model": "mlp:2-4-1", "epochs": -1}, "epochs"),
        ({"model": "mlp:2-4-1", "batch_size": 0}, "batch_size: must be a whole number >= 1"),
        ({"model": "mlp:2-4-1", "test_split": 0.1}, "leaves 0 test"),
        ({"model": "mlp:2-4-1", "optimizer": "adam", "momentum": 0.9}, "momentum: unknown parameter"),
    ],
)
def test_bad_options_raise_one_clear_error(options, message):
    options = {"data": "data/xor.csv", "target": "y", **options}
    with pytest.raises(gradtool.GradtoolError, match=message.replace("(", r"\(").replace(".", r"\.")):
        prepare_fit(options.pop("model"), options.pop("data"), options.pop("target"), **options)


def test_expression_init_accepts_partial_named_values_and_random():
    problem = prepare_fit("a*exp(-k*x) + c", "data/linear.csv", "y", init="k=0.1")
    assert problem.theta0.tolist() == [0.0, 0.0, 0.1]  # a, c, k in natural order; unnamed ones 0
    random = prepare_fit("a*exp(-k*x) + c", "data/linear.csv", "y", init="random", seed=2).theta0
    assert np.all(random != 0)


def test_a_fused_expression_trains_as_its_analytic_unfused_twin():
    options = dict(lr=0.01, epochs=200, optimizer="adam")
    fused = fit("w1*x + w2*x^2 + b", "data/sine.csv", "y", **options)
    analytic = fit("w1*x + w2*x^2 + b", "data/sine.csv", "y", gradient="analytic", **options)
    assert fused.objective.model.fused and not analytic.objective.model.fused
    np.testing.assert_allclose(fused.theta, analytic.theta, rtol=1e-9)

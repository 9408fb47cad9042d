"""fit --grad-stats: per-layer gradient norms (torch's, with the same weights), update ratios, the table, the
JSON history, the picture's panel, and --init scale=K."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradtool.fitting.gradstats import MAX_RECORDS, GradStats, layer_norms
from gradtool.fitting.prepare import fit, prepare_fit

SINE = "data/sine.csv"
DEEP = "mlp:1-8-8-8-8-8-1"


def blocks(result, theta):
    """The whole training set's gradient at ``theta``, cut into the layers' (weights, biases) norms."""
    objective = result.objective
    args = objective.args(*_training(result))
    from gradtool.fitting.gradients import AutodiffGradient

    _, g = AutodiffGradient(objective)(theta, args)
    return layer_norms(objective.model.layout, g)


def _training(result):
    from gradtool.fitting.data import read_csv

    table = read_csv(SINE)
    return table.matrix(["x"], "input"), table.matrix(["y"], "target")


def test_full_batch_records_every_epoch_from_the_gradient_and_the_step():
    lr = 0.05
    result = fit(DEEP, SINE, "y", activation="tanh", optimizer="gd", lr=lr, epochs=4, seed=2, grad_stats=True)
    stats = result.grad_stats
    assert stats["epochs"] == [0, 1, 2, 3, 4] and stats["stride"] == 1
    assert [layer["layer"] for layer in stats["layers"]] == [1, 2, 3, 4, 5, 6]
    theta0 = prepare_fit(DEEP, SINE, "y", activation="tanh", seed=2).theta0
    for k, (weights, biases) in enumerate(blocks(result, theta0)):  # epoch 0: at the initial parameters
        assert stats["layers"][k]["weight_grad_norm"][0] == pytest.approx(weights, rel=1e-12)
        assert stats["layers"][k]["bias_grad_norm"][0] == pytest.approx(biases, rel=1e-12, abs=1e-300)
    for k, (weights, _) in enumerate(blocks(result, result.theta)):  # the last epoch: at the final ones
        assert stats["layers"][k]["weight_grad_norm"][-1] == pytest.approx(weights, rel=1e-12)
    # plain gd: epoch 1 moves W_k by lr * dL/dW_k at theta0, so the ratio is lr * ||g_W|| / ||W||
    views = result.objective.model.layout.views(theta0)
    for k, layer in enumerate(stats["layers"]):
        assert layer["update_ratio"][0] is None
        want = lr * layer["weight_grad_norm"][0] / np.linalg.norm(views[2 * k])
        assert layer["update_ratio"][1] == pytest.approx(want, rel=1e-10)


def test_mini_batches_record_the_whole_training_sets_gradient():
    result = fit(DEEP, SINE, "y", activation="relu", optimizer="adam", lr=0.01, epochs=3, batch_size=32, seed=0,
                 every=2, grad_stats=True)  # fmt: skip
    stats = result.grad_stats
    assert stats["epochs"] == [0, 1, 2, 3]  # epoch 1 and 3 are not table rows: one more full sweep each
    for k, (weights, biases) in enumerate(blocks(result, result.theta)):
        assert stats["layers"][k]["weight_grad_norm"][-1] == pytest.approx(weights, rel=1e-12)
        assert stats["layers"][k]["bias_grad_norm"][-1] == pytest.approx(biases, rel=1e-12)


def test_sigmoid_vanishes_where_relu_does_not():
    ratios = {}
    for activation in ("sigmoid", "tanh", "relu"):
        result = fit(DEEP, SINE, "y", activation=activation, epochs=0, seed=1, grad_stats=True)
        layers = result.grad_stats["layers"]
        ratios[activation] = layers[0]["weight_grad_norm"][0] / layers[-1]["weight_grad_norm"][0]
    assert ratios["sigmoid"] < 1e-3 and min(ratios["tanh"], ratios["relu"]) > 0.1


def test_long_fits_keep_every_kth_epoch_and_every_table_row():
    stats = GradStats([("1", slice(0, 1), slice(1, 2))], stride=math.ceil(25_000 / MAX_RECORDS), every=1000)
    due = [e for e in range(25_001) if stats.due(e)]
    assert stats.stride == 3 and len(due) <= MAX_RECORDS + 26 and all(e in due for e in range(0, 25_001, 1000))


def test_init_scale_multiplies_the_seeded_weights_only():
    plain = prepare_fit(DEEP, SINE, "y", activation="relu", seed=3)
    scaled = prepare_fit(DEEP, SINE, "y", activation="relu", seed=3, init="scale=3")
    layout = plain.objective.model.layout
    for name, a, b in zip(layout.names, layout.views(plain.theta0), layout.views(scaled.theta0), strict=True):
        np.testing.assert_array_equal(b, 3 * a if name.startswith("W") else a)
    exploded = fit(DEEP, SINE, "y", activation="relu", init="scale=3", epochs=0, seed=3, grad_stats=True)
    calm = fit(DEEP, SINE, "y", activation="relu", epochs=0, seed=3, grad_stats=True)
    first = [r.grad_stats["layers"][0]["weight_grad_norm"][0] for r in (exploded, calm)]
    assert first[0] > 1e3 * first[1]  # 3^6 larger outputs: exploding gradients
    assert exploded.to_dict()["init"] == "he x 3"


@pytest.mark.parametrize("bad", ["scale=0", "scale=-2", "scale=inf", "scale=x", "size=2", "w=1"])
def test_bad_init_scales_exit_2(invoke, bad):
    r = invoke("fit", DEEP, "--data", SINE, "--target", "y", "--init", bad, "--epochs", "1")
    assert r.exit_code == 2 and "--init scale=K" in r.stderr


def test_expression_models_have_no_layers(invoke):
    r = invoke("fit", "w*x + b", "--data", SINE, "--target", "y", "--grad-stats", "--epochs", "1")
    assert r.exit_code == 2 and "networks" in r.stderr


def test_cli_table_json_and_plot(invoke, invoke_json, tmp_path):
    args = ["fit", "mlp:1-8-8-1", "--data", SINE, "--target", "y", "--epochs", "20", "--grad-stats", "--every", "10"]
    r = invoke(*args)
    assert r.exit_code == 0 and "|dW1|" in r.stdout and "|dW3|" in r.stdout and "W1/WL" in r.stdout
    code, doc = invoke_json(*args, "--json")
    assert code == 0 and doc["grad_stats"]["epochs"] == list(range(21))
    assert all(len(layer["update_ratio"]) == 21 for layer in doc["grad_stats"]["layers"])
    pytest.importorskip("matplotlib")
    from gradtool.plot.runs import draw_fit_result

    problem = prepare_fit("mlp:1-8-8-1", SINE, "y", epochs=20, grad_stats=True)
    result = problem.run()
    fig = draw_fit_result(problem, result)
    panel = fig.axes[2]
    assert len(fig.axes) == 3 and panel.get_yscale() == "log"
    lines = {line.get_label(): line for line in panel.get_lines()}
    assert list(lines) == ["W1 (first)", "W2", "W3 (last)"]
    for layer, label in zip(result.grad_stats["layers"], lines, strict=True):
        np.testing.assert_array_equal(lines[label].get_ydata(), layer["weight_grad_norm"])
    out = tmp_path / "g.svg"
    assert invoke(*args, "--plot", str(out)).exit_code == 0 and "W1 (first)" in out.read_text()


def test_log_axes_are_labelled_without_mathtext():
    pytest.importorskip("matplotlib")
    from gradtool.plot import draw_loss

    fig = draw_loss({"a": [1.0, 1e-3, 1e-6]}, log=True)
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert labels and not any("$" in t for t in labels) and "10\u207b\u00b3" in labels

"""`gradtool fit`, `predict` and `check-grad --fit` through the CLI: exit codes, JSON, saved models."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

XOR = ("mlp:2-4-1", "--data", "data/xor.csv", "--target", "y", "--loss", "bce", "--seed", "0")
ADAM = ("--optimizer", "adam", "--lr", "0.1")

JSON_KEYS = {"model", "params", "loss", "accuracy", "epochs", "status", "time_s"}


def test_fit_json_has_the_documented_keys(invoke_json):
    code, d = invoke_json(
        "fit", "w*x + b", "--data", "data/linear.csv", "--target", "y", "--lr", "0.01", "--epochs", "500", "--json"
    )
    assert code == 0 and set(d) >= JSON_KEYS
    assert d["model"] == "w*x + b" and set(d["params"]) == {"w", "b"}
    assert set(d["loss"]) == {"train", "test"} and d["loss"]["test"] is None and d["accuracy"] is None
    assert d["epochs"] == 500 and d["status"] == "completed" and d["time_s"] > 0
    assert d["params"]["w"] == pytest.approx(1.0, abs=0.02) and d["params"]["b"] == pytest.approx(0.5, abs=0.05)
    assert d["optimizer"]["name"] == "gd" and d["gradient"] == "autodiff" and d["history"][0]["epoch"] == 0


def test_network_json_reports_layers_and_accuracy(invoke_json):
    code, d = invoke_json("fit", *XOR, *ADAM, "--epochs", "2000", "--json")
    assert code == 0 and d["params"] is None and d["accuracy"] == {"train": 1.0, "test": None}
    assert [layer["shape"] for layer in d["layers"]] == [[2, 4], [4], [4, 1], [1]]
    assert d["activation"] == "sigmoid" and d["init"] == "xavier" and d["loss_function"] == "bce"


def test_fit_prints_the_epoch_table_and_summary(invoke):
    result = invoke("fit", *XOR, *ADAM, "--epochs", "40", "--every", "10", "--test-split", "0.5")
    assert result.exit_code == 0, result.output
    for word in ("epoch", "train loss", "test loss", "accuracy", "layers", "W1 2x4", "completed"):
        assert word in result.stdout
    quiet = invoke("fit", *XOR, "--epochs", "5", "--quiet")
    assert "train loss" not in quiet.stdout and "completed" in quiet.stdout


def test_divergence_exits_1(invoke_json):
    code, d = invoke_json("fit", "w*x + b", "--data", "data/linear.csv", "--target", "y", "--lr", "10", "--json")
    assert code == 1 and d["status"] == "diverged" and d["loss"]["train"] is not None


def test_save_load_predict_round_trip(tmp_path, invoke, invoke_json):
    model = tmp_path / "xor.npz"
    code, first = invoke_json("fit", *XOR, *ADAM, "--epochs", "300", "--save", str(model), "--json")
    assert code == 0 and model.exists()
    saved = np.load(model)
    assert saved["params/W1"].shape == (2, 4) and saved["theta"].shape == (17,)
    code, again = invoke_json("fit", *XOR, "--load", str(model), "--epochs", "0", "--json")
    assert code == 0 and again["loss"]["train"] == first["loss"]["train"]
    result = invoke("predict", str(model), "--data", "data/xor.csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [float(r["y_pred"]) > 0.5 for r in rows] == [float(r["y"]) > 0.5 for r in rows]
    out = tmp_path / "pred.csv"
    assert invoke("predict", str(model), "--data", "data/xor.csv", "--output", str(out)).exit_code == 0
    assert out.read_text() == result.stdout


def test_expression_model_round_trip_and_fit_predict(tmp_path, invoke):
    model, new = tmp_path / "line.npz", tmp_path / "new.csv"
    new.write_text("x\n10\n")  # one row and no target column are fine for predictions
    line = ("w*x + b", "--data", "data/linear.csv", "--target", "y", "--lr", "0.01", "--epochs", "5000")
    fitted = invoke("fit", *line, "--save", str(model), "--predict", str(new))
    assert fitted.exit_code == 0, fitted.output
    header, row = fitted.stdout.splitlines()
    assert header == "x,y_pred" and float(row.split(",")[1]) == pytest.approx(10.5, abs=1e-5)
    assert "completed" in fitted.stderr  # the report moves to stderr when predictions use stdout
    predicted = invoke("predict", str(model), "--data", str(new))
    assert predicted.stdout == fitted.stdout


def test_load_refuses_another_model(tmp_path, invoke):
    model = tmp_path / "m.npz"
    assert invoke("fit", *XOR, "--epochs", "1", "--save", str(model)).exit_code == 0
    result = invoke("fit", "mlp:2-3-1", "--data", "data/xor.csv", "--target", "y", "--load", str(model))
    assert result.exit_code == 2 and "cannot start 'mlp:2-3-1'" in result.stderr
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    result = invoke("predict", str(bad), "--data", "data/xor.csv")
    assert result.exit_code == 2 and "not a model saved by" in result.stderr


def test_json_and_predict_on_stdout_conflict(invoke):
    result = invoke("fit", *XOR, "--json", "--predict", "data/xor.csv")
    assert result.exit_code == 2 and "--output" in result.stderr


@pytest.mark.parametrize(
    "model",
    [
        ("mlp:2-3-2-1", "--activation", "tanh", "--loss", "bce", "--l2", "0.1"),
        ("mlp:2-3-1", "--activation", "softplus"),
        ("a*tanh(w1*x1 + w2*x2) + c", "--init", "random"),
    ],
)
def test_check_grad_fit_agrees_for_every_parameter(model, invoke, invoke_json):
    code, d = invoke_json("check-grad", "--fit", *model, "--data", "data/xor.csv", "--target", "y", "--json")
    assert code == 0 and d["ok"] and d["max_rel_error"] < 1e-6
    table = invoke("check-grad", "--fit", *model, "--data", "data/xor.csv", "--target", "y")
    assert table.exit_code == 0 and "backprop" in table.stdout and "all agree" in table.stdout


def test_check_grad_fit_checks_the_sample_it_is_asked_for(invoke, invoke_json):
    args = ("check-grad", "--fit", "mlp:2-4-1", "--data", "data/xor.csv", "--target", "y", "--seed", "3")
    code, d = invoke_json(*args, "--sample-params", "5", "--json")
    assert code == 0 and d["ok"] and d["checked"] == len(d["parameters"]) == 5 and d["parameter_count"] == 17
    code, everything = invoke_json(*args, "--json")  # the default, 300, is more than 17: every parameter
    assert everything["checked"] == 17 and {p["name"] for p in d["parameters"]} < {
        p["name"] for p in everything["parameters"]
    }
    assert "5 of 17 parameters (a sample)" in invoke(*args, "--sample-params", "5").stdout
    zero = invoke(*args, "--sample-params", "0")
    assert zero.exit_code == 2 and "--sample-params: must be a whole number >= 1" in zero.stderr


def test_check_grad_fit_needs_data(invoke):
    result = invoke("check-grad", "--fit", "mlp:2-3-1", "--target", "y")
    assert result.exit_code == 2 and "--data" in result.stderr


def test_expression_using_no_data_column_is_an_input_error(invoke, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("t,y\n1,2\n2,4\n3,6\n")
    result = invoke("fit", "w*x + b", "--data", str(data), "--target", "y")  # x is not a column: a typo for t
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "uses no data column" in result.stderr and "t, y" in result.stderr


def test_missing_target_column_is_named_before_the_model_is_checked(invoke):
    from pathlib import Path

    xor = Path(__file__).resolve().parent.parent / "data" / "xor.csv"
    result = invoke("fit", "mlp:2-4-1", "--data", str(xor), "--target", "z")
    assert result.exit_code == 2 and "no target column 'z'" in result.stderr

"""Scaling, held-out metrics, early stopping and predictions by column name, against independent truth."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import gradtool
from tests.test_fit_classify import blobs, write_csv


def linear_data(rows: int = 200, seed: int = 0) -> dict[str, list]:
    """y = 2 x1 + 0.003 x2 + 5 + noise, with x2 on a scale 1,000 times x1's."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), 1000.0 * rng.normal(size=rows)
    y = 2.0 * x1 + 0.003 * x2 + 5.0 + 0.1 * rng.normal(size=rows)
    return {"x1": x1.tolist(), "x2": x2.tolist(), "y": y.tolist()}


def test_standardized_linear_regression_reaches_the_least_squares_optimum():
    data = linear_data()
    design = np.column_stack([data["x1"], data["x2"], np.ones(200)])
    solution, *_ = np.linalg.lstsq(design, data["y"], rcond=None)
    best = np.mean((design @ solution - data["y"]) ** 2)
    result = gradtool.fit("linear", data, "y", standardize=True, lr=0.3, epochs=600)
    assert result.status == "completed" and result.warnings == []
    assert abs(result.train_loss - best) <= 1e-6 * best
    coefficients = result.coefficients  # in the inputs' original units, as scikit-learn's coef_ and intercept_
    np.testing.assert_allclose(coefficients["coef"][0], solution[:2], rtol=1e-6)
    np.testing.assert_allclose(coefficients["intercept"], [solution[2]], rtol=1e-6)
    assert coefficients["standardized"] is not None and result.scaling["columns"] == ["x1", "x2"]
    prediction = result.predict({"x1": [1.0], "x2": [1000.0]})[0, 0]
    assert prediction == pytest.approx(solution @ [1.0, 1000.0, 1.0], rel=1e-9)


def test_r2_and_mae_are_those_of_the_predictions():
    data, held = linear_data(150, seed=1), linear_data(50, seed=2)
    result = gradtool.fit("linear", data, "y", standardize=True, lr=0.3, epochs=300, test_data=held)
    for side, rows in (("train", data), ("test", held)):
        y = np.array(rows["y"])
        prediction = result.predict(rows)[:, 0]
        r2 = 1 - np.sum((y - prediction) ** 2) / np.sum((y - y.mean()) ** 2)
        assert result.metrics[side]["r2"] == pytest.approx(r2, rel=1e-12)
        assert result.metrics[side]["mae"] == pytest.approx(np.mean(np.abs(y - prediction)), rel=1e-12)
    assert result.metrics["test"]["loss"] == result.test_loss and "accuracy" not in result.metrics["test"]


def test_unscaled_inputs_warn_on_stderr_naming_the_columns_and_divergence_suggests_standardize(invoke, tmp_path):
    path = write_csv(tmp_path / "lin.csv", linear_data(50))
    result = invoke("fit", "linear", "--data", path, "--target", "y", "--lr", "0.1", "--epochs", "50", "-q")
    assert result.exit_code == 1, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2 and "'x1'" in warnings[0] and "'x2'" in warnings[0] and "--standardize" in warnings[0]
    assert "above 2/L" in warnings[1]
    assert "diverged" in result.stdout and "--standardize" in result.stdout
    scaled = invoke("fit", "linear", "--data", path, "--target", "y", "--lr", "0.1", "--standardize", "-q")
    assert scaled.exit_code == 0 and "warning" not in scaled.stderr


def test_early_stopping_restores_the_epoch_with_the_lowest_test_loss():
    x = np.linspace(-1, 1, 40)
    train = {"x": x.tolist(), "y": (2 * x).tolist()}
    drifted = {"x": x.tolist(), "y": x.tolist()}  # the test loss falls while w < 1, then rises
    options = dict(lr=0.05, epochs=200, every=1, test_data=drifted)
    full = gradtool.fit("linear", train, "y", **options)
    losses = [row.test for row in full.rows]
    best = int(np.argmin(losses))
    assert 0 < best < 150
    stopped = gradtool.fit("linear", train, "y", early_stopping=5, **options)
    assert stopped.status == "early_stopped" and stopped.exit_code == 0
    assert stopped.best_epoch == best and stopped.epochs == best + 5
    again = gradtool.fit("linear", train, "y", **{**options, "epochs": best})
    assert np.array_equal(stopped.theta, again.theta) and stopped.test_loss == losses[best]
    assert f"epoch {best}'s parameters kept" in stopped.message and stopped.to_dict()["best_epoch"] == best


def fitted_blobs(invoke_json, tmp_path) -> tuple[str, dict]:
    data = write_csv(tmp_path / "train.csv", blobs(30, seed=4))
    model = str(tmp_path / "m.npz")
    code, report = invoke_json(
        "fit", "mlp:2-6-3", "--data", data, "--target", "species", "--inputs", "x1,x2", "--loss", "cross-entropy",
        "--standardize", "--optimizer", "adam", "--lr", "0.05", "--epochs", "100", "--save", model, "--json",
    )  # fmt: skip
    assert code == 0
    return model, report


def test_predict_finds_inputs_by_name_passes_other_columns_through_and_round_trips_labels(
    invoke, invoke_json, tmp_path
):
    model, report = fitted_blobs(invoke_json, tmp_path)
    new = blobs(5, seed=5)
    rows = {"id": [f"0{k}7" for k in range(15)], "=cmd": ["a"] * 15, "x2": new["x2"], "species_pred": ["?"] * 15}
    path = write_csv(tmp_path / "new.csv", {**rows, "x1": new["x1"]})  # shuffled, with an ID and a clash
    result = invoke("predict", model, "--data", path, "--proba")
    assert result.exit_code == 0, result.output
    lines = list(csv.reader(io.StringIO(result.stdout)))
    classes = report["classes"]
    assert lines[0] == ["id", "'=cmd", "x2", "species_pred", "x1", "species_pred_2"] + [
        f"species_proba_{c}" for c in classes
    ]
    body = lines[1:]
    assert [r[0] for r in body] == rows["id"]  # '007' stays '007': passed through untouched
    proba = np.array([[float(v) for v in r[6:]] for r in body])
    loaded = gradtool.fitting.persist.load_fitted(model)
    np.testing.assert_array_equal(proba, loaded.predict(np.column_stack([new["x1"], new["x2"]])))
    assert [r[5] for r in body] == [classes[k] for k in np.argmax(proba, axis=1)]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


def test_predict_applies_the_saved_scaling_exactly(invoke_json, invoke, tmp_path):
    data = write_csv(tmp_path / "lin.csv", linear_data(60))
    model = str(tmp_path / "lin.npz")
    code, report = invoke_json(
        "fit", "linear", "--data", data, "--target", "y", "--standardize", "--lr", "0.3", "--epochs", "300",
        "--save", model, "--json",
    )  # fmt: skip
    assert code == 0 and report["standardize"]["columns"] == ["x1", "x2"]
    path = write_csv(tmp_path / "q.csv", {"x2": [1000.0, -500.0], "x1": [1.0, 2.0]})
    result = invoke("predict", model, "--data", path)
    got = [float(r["y_pred"]) for r in csv.DictReader(io.StringIO(result.stdout))]
    coef, intercept = report["coefficients"]["coef"][0], report["coefficients"]["intercept"][0]
    want = [coef[0] * 1.0 + coef[1] * 1000.0 + intercept, coef[0] * 2.0 - coef[1] * 500.0 + intercept]
    np.testing.assert_allclose(got, want, rtol=1e-12)


BAD = {
    "one class": ({"x": [1, 2, 3], "y": ["a", "a", "a"]}, None, ["--loss", "ce"], "has one class ('a')"),
    "class only in the test rows": (
        {"x": [1, 2, 3, 4], "y": ["a", "b", "a", "b"]},
        {"x": [1, 2], "y": ["a", "c"]},
        ["--loss", "ce"],
        "class 'c' of the test rows is not among the training rows' classes (a, b)",
    ),
    "stratify on a regression target": (
        {"x": [1, 2, 3, 4], "y": [1.5, 2.5, 3.5, 4.5]},
        None,
        ["--test-split", "0.5", "--stratify"],
        "--stratify: needs a classification target",
    ),
    "early stopping without held-out rows": (
        {"x": [1, 2, 3, 4], "y": [1.5, 2.5, 3.5, 4.5]},
        None,
        ["--early-stopping", "5"],
        "--early-stopping: watches the held-out rows' loss",
    ),
    "cross-entropy on an expression": ({"x": [1, 2], "y": ["a", "b"]}, None, ["--loss", "ce"], "an expression has one"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_evaluation_input_is_one_line_exit_2_and_nothing_written(case, invoke, tmp_path):
    data, test, extra, words = BAD[case]
    path = write_csv(tmp_path / "d.csv", data)
    if test is not None:
        extra = [*extra, "--test-data", write_csv(tmp_path / "t.csv", test)]
    model = "w*x + b" if "expression" in case else "mlp:1-2-" + ("2" if "ce" in extra else "1")
    result = invoke("fit", model, "--data", path, "--target", "y", *extra, "--save", str(tmp_path / "m.npz"))
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and words in line, line
    assert result.stdout == "" and sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["d.csv", *(["t.csv"] if test else [])]
    )


def test_predict_on_a_csv_missing_a_column_is_one_line_and_writes_nothing(invoke, invoke_json, tmp_path):
    model, _ = fitted_blobs(invoke_json, tmp_path)
    path = write_csv(tmp_path / "new.csv", {"x1": [1.0, 2.0]})
    out = tmp_path / "out.csv"
    result = invoke("predict", model, "--data", path, "--output", str(out))
    assert result.exit_code == 2 and not out.exists()
    (line,) = result.stderr.strip().splitlines()
    assert "no input column 'x2'" in line and str(path) in line

"""Classification from labels as they come: softmax cross-entropy, bce on two labels, accuracy over rows,
confusion matrices, stratified splits; checked against an independently written numpy softmax regression."""

from __future__ import annotations

import numpy as np
import pytest

import gradtool
from gradtool.fitting.gradients import AutodiffGradient, Objective, central_gradient
from gradtool.fitting.losses import make_loss
from gradtool.fitting.models import make_model

NAMES = ("north", "east", "west")
CENTERS = ((0.0, 2.5), (2.5, -1.0), (-2.5, -1.0))


def blobs(rows_per_class: int = 60, seed: int = 0) -> dict[str, list]:
    """Three Gaussian blobs with text labels; the second feature is on a scale 1,000 times the first."""
    rng = np.random.default_rng(seed)
    x1, x2, labels = [], [], []
    for name, center in zip(NAMES, CENTERS, strict=True):
        points = rng.normal(center, 1.0, size=(rows_per_class, 2))
        x1 += points[:, 0].tolist()
        x2 += (1000.0 * points[:, 1]).tolist()
        labels += [name] * rows_per_class
    order = rng.permutation(len(labels))
    return {"x1": [x1[k] for k in order], "x2": [x2[k] for k in order], "species": [labels[k] for k in order]}


def write_csv(path, columns: dict[str, list]) -> str:
    names = list(columns)
    lines = [",".join(names)] + [",".join(map(str, row)) for row in zip(*columns.values(), strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def reference_softmax_regression(x: np.ndarray, labels: list, steps: int = 3000, lr: float = 0.5):
    """Multinomial logistic regression by plain full-batch gradient descent, written from the textbook
    formulas (p = softmax(xW + b), gradient x^T (p - Y) / n) with standardized inputs."""
    classes = sorted(set(labels))
    y = np.array([[label == c for c in classes] for label in labels], dtype=float)
    mean, std = x.mean(axis=0), x.std(axis=0)
    z = (x - mean) / std
    w, b = np.zeros((x.shape[1], len(classes))), np.zeros(len(classes))
    for _ in range(steps):
        logits = z @ w + b
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        w -= lr * z.T @ (p - y) / len(z)
        b -= lr * (p - y).mean(axis=0)

    def predict(new: np.ndarray) -> list:
        return [classes[k] for k in np.argmax(((new - mean) / std) @ w + b, axis=1)]

    return predict


def test_cross_entropy_from_text_labels_matches_a_reference_softmax_regression():
    train, test = blobs(60, seed=0), blobs(40, seed=1)
    x_train = np.column_stack([train["x1"], train["x2"]])
    x_test = np.column_stack([test["x1"], test["x2"]])
    predict = reference_softmax_regression(x_train, train["species"])
    reference = np.mean([a == b for a, b in zip(predict(x_test), test["species"], strict=True)])
    for model in ("logistic", "mlp:2-8-3"):
        result = gradtool.fit(
            model, train, "species", inputs="x1,x2", loss="cross-entropy", standardize=True,
            test_data=test, optimizer="adam", lr=0.05, epochs=400, seed=0,
        )  # fmt: skip
        assert result.status == "completed" and result.classes == sorted(NAMES)
        assert abs(result.metrics["test"]["accuracy"] - reference) <= 0.01, (model, reference)
        probabilities = result.predict({"x1": test["x1"], "x2": test["x2"]})
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)


def test_accuracy_counts_rows_and_the_confusion_matrix_counts_true_against_predicted():
    data = blobs(30, seed=2)
    result = gradtool.fit("logistic", data, "species", inputs="x1,x2", standardize=True, lr=0.5, epochs=30)
    assert result.loss_function == "cross-entropy"  # logistic with three labels
    probabilities = result.predict(data)
    guessed = [result.classes[k] for k in np.argmax(probabilities, axis=1)]
    assert result.metrics["train"]["accuracy"] == np.mean(
        [g == t for g, t in zip(guessed, data["species"], strict=True)]
    )
    counts = [[0] * 3 for _ in range(3)]
    for truth, guess in zip(data["species"], guessed, strict=True):
        counts[result.classes.index(truth)][result.classes.index(guess)] += 1
    assert result.metrics["train"]["confusion"] == counts
    assert result.accuracy["train"] == result.metrics["train"]["accuracy"]


def test_one_hot_columns_give_the_same_fit_as_the_label_column():
    data = blobs(20, seed=3)
    onehot = {**{k: data[k] for k in ("x1", "x2")}, **{c: [float(s == c) for s in data["species"]] for c in NAMES}}
    options = dict(standardize=True, optimizer="adam", lr=0.05, epochs=50, seed=1)
    by_label = gradtool.fit("mlp:2-4-3", data, "species", inputs="x1,x2", loss="ce", **options)
    ordered = sorted(NAMES)  # the label column's classes are sorted: give the columns in that order
    by_columns = gradtool.fit("mlp:2-4-3", onehot, ordered, inputs="x1,x2", loss="cross-entropy", **options)
    assert by_columns.classes == ordered and by_columns.train_loss == pytest.approx(by_label.train_loss, rel=1e-12)
    assert by_columns.metrics["train"]["accuracy"] == by_label.metrics["train"]["accuracy"]


def test_bce_maps_two_text_labels_in_sorted_order_and_records_them():
    data = {"x": [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0], "sick": ["no", "no", "no", "yes", "yes", "yes"]}
    result = gradtool.fit("logistic", data, "sick", lr=0.5, epochs=200)
    assert result.loss_function == "bce" and result.classes == ["no", "yes"]
    assert result.metrics["train"]["accuracy"] == 1.0 and result.metrics["train"]["confusion"] == [[3, 0], [0, 3]]
    assert result.coefficients["outputs"] == ["yes"] and result.coefficients["coef"][0][0] > 0


def test_bce_accuracy_over_several_columns_counts_a_row_right_only_when_every_column_is():
    objective_rows = np.array([[0.3, -2.0], [1.0, 1.0], [-1.0, 0.5]])  # logits
    labels = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    from gradtool.fitting.metrics import accuracy

    assert accuracy("binary", objective_rows, labels) == pytest.approx(2 / 3)


def test_a_stratified_split_keeps_each_classes_share():
    data = {"x": list(range(100)), "y": ["a"] * 70 + ["b"] * 20 + ["c"] * 10}
    problem = gradtool.prepare_fit("logistic", data, "y", test_split=0.2, stratify=True, seed=3)
    held = np.argmax(problem.test.y, axis=1)
    assert np.bincount(held).tolist() == [14, 4, 2] and problem.train.rows == 80


def test_cross_entropy_backprop_matches_central_differences():
    rng = np.random.default_rng(0)
    model = make_model("mlp:3-5-4", ["a", "b", "c", "y"], ["y"], activation="tanh", outputs=(4, "4 classes"))
    objective = Objective(model, make_loss("cross-entropy"), l2=0.01)
    x = rng.normal(size=(9, 3))
    y = np.eye(4)[rng.integers(0, 4, size=9)]
    theta = model.init(rng) + 0.5 * rng.normal(size=model.layout.size)
    args = objective.args(x, y)
    value, grad = AutodiffGradient(objective)(theta, args)
    want = central_gradient(lambda t: objective.value(t, args), theta)
    np.testing.assert_allclose(grad, want, rtol=1e-7, atol=1e-9)
    logits = np.tanh(x @ theta[:15].reshape(3, 5) + theta[15:20]) @ theta[20:40].reshape(5, 4) + theta[40:]
    exact = np.mean(np.log(np.exp(logits).sum(axis=1)) - (logits * y).sum(axis=1))
    assert value == pytest.approx(exact + 0.01 * (theta[:15] @ theta[:15] + theta[20:40] @ theta[20:40]), rel=1e-13)


def test_check_grad_fit_checks_cross_entropy_from_labels(invoke_json, tmp_path):
    path = write_csv(tmp_path / "b.csv", blobs(5))
    code, report = invoke_json(
        "check-grad", "--fit", "mlp:2-3-3", "--data", path, "--target", "species", "--inputs", "x1,x2",
        "--loss", "ce", "--activation", "tanh", "--json",
    )  # fmt: skip
    assert code == 0 and report["ok"] and report["loss_function"] == "cross-entropy"


def test_cross_entropy_stays_finite_for_huge_logits():
    model = make_model("mlp:1-2", ["x", "y"], ["y"], outputs=(2, "2 classes"))
    objective = Objective(model, make_loss("ce"))
    theta = np.array([1000.0, -1000.0, 0.0, 0.0])  # logits of +-1000 at x = 1
    args = objective.args(np.array([[1.0], [-1.0]]), np.array([[0.0, 1.0], [0.0, 1.0]]))
    value, grad = AutodiffGradient(objective)(theta, args)
    assert value == pytest.approx(1000.0) and np.all(np.isfinite(grad))  # (2000 + 0) / 2

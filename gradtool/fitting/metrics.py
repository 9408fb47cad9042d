"""What a fit reports beyond its loss: accuracy over rows and the confusion matrix for classifiers; R^2 and
the mean absolute error for regression. ``z`` are the model's raw outputs (logits), ``y`` the encoded targets."""

from __future__ import annotations

from typing import Any

import numpy as np


def predicted_class(task: str, z: np.ndarray) -> np.ndarray:
    """binary: 1 where the logit is positive (sigmoid > 1/2), per column; multiclass: the argmax per row."""
    return (np.asarray(z) > 0).astype(np.int64) if task == "binary" else np.argmax(z, axis=1)


def true_class(task: str, y: np.ndarray) -> np.ndarray:
    """binary: 1 where the label is >= 1/2, per column; multiclass: the argmax of the one-hot (or probability) row."""
    return (np.asarray(y) >= 0.5).astype(np.int64) if task == "binary" else np.argmax(y, axis=1)


def accuracy(task: str, z: np.ndarray, y: np.ndarray) -> float:
    """Share of ROWS predicted right: every column of a row for bce over several columns (subset accuracy)."""
    right = predicted_class(task, z) == true_class(task, y)
    return float(np.mean(right.all(axis=1) if right.ndim == 2 else right))


def confusion(task: str, z: np.ndarray, y: np.ndarray, classes: int) -> list[list[int]] | None:
    """``counts[true][predicted]`` (scikit-learn's orientation); None for bce over several columns."""
    if task == "binary" and np.shape(y)[1] != 1:
        return None
    truth, guess = true_class(task, y).ravel(), predicted_class(task, z).ravel()
    return np.bincount(truth * classes + guess, minlength=classes * classes).reshape(classes, classes).tolist()


def r2_score(prediction: np.ndarray, y: np.ndarray) -> float:
    """``1 - SS_res / SS_tot`` per column, averaged over columns (scikit-learn's uniform average); a constant
    column scores 1 when predicted exactly, else 0 (scikit-learn's ``force_finite``)."""
    residual = np.sum((y - prediction) ** 2, axis=0)
    total = np.sum((y - np.mean(y, axis=0)) ** 2, axis=0)
    exact = np.where(residual == 0, 1.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0), exact)
    return float(np.mean(scores))


def mean_absolute_error(prediction: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.abs(y - prediction)))


def metrics(loss, z: np.ndarray, y: np.ndarray, value: float, classes: int | None) -> dict[str, Any]:
    """The metrics of one side of the split: ``loss`` (penalty included) and, by the loss's task, ``accuracy``
    and ``confusion`` or ``r2`` and ``mae`` (of the predictions through the loss's link)."""
    if loss.classifier:
        return {
            "loss": value,
            "accuracy": accuracy(loss.task, z, y),
            "confusion": confusion(loss.task, z, y, classes or 2),
        }
    prediction = loss.link(z)
    return {"loss": value, "r2": r2_score(prediction, y), "mae": mean_absolute_error(prediction, y)}

"""Target columns as the loss needs them: numbers, 0/1 or two labels (bce), class labels or one-hot columns
(cross-entropy); classes come from the training rows and are recorded with the model.

Modes: ``values`` (regression: the columns as numbers), ``binary`` (bce: per column, 0/1 labels or
probabilities in [0, 1]; a single column may instead hold two distinct labels, mapped to 0 and 1 in sorted
order), ``labels`` (cross-entropy from one column of integer or text labels, one output per class) and
``onehot`` (cross-entropy from K columns of one-hot rows or probabilities summing to 1; the classes are the
column names). Labels sort numbers first (numerically), then text (by code point).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradtool.errors import DataError
from gradtool.fitting.data import Table
from gradtool.params import DataParamError, ParamError

MODES = ("values", "binary", "labels", "onehot")
MAX_CLASSES = 1000
ROW_SUM_TOLERANCE = 1e-6


def sort_key(label: Any) -> tuple[bool, Any]:
    return (isinstance(label, str), label)


def _labels(table: Table, name: str) -> np.ndarray:
    """The column's cells as labels: integral numbers as int, text as is; a DataError for the others."""
    out = np.empty(table.rows, dtype=object)
    for k, cell in enumerate(table.cells(name, "target").tolist()):
        if isinstance(cell, str):
            if not cell or cell.lower().lstrip("+-") == "nan":
                raise DataError(f"{table.source}, row {table.lines[k]}, column {name!r}: missing label")
            out[k] = cell
        elif float(cell).is_integer():
            out[k] = int(cell)
        else:
            raise DataError(
                f"{table.source}, row {table.lines[k]}, column {name!r}: {cell!r} is not a class label "
                f"(labels are integers or text)"
            )
    return out


def _classes_of(labels: np.ndarray, name: str, source: str) -> list:
    classes = sorted(set(labels.tolist()), key=sort_key)
    if len(classes) < 2:
        shown = f" ({classes[0]!r})" if classes else ""
        raise DataError(f"{source}: the label column {name!r} has one class{shown} in the training rows")
    if len(classes) > MAX_CLASSES:
        raise DataError(f"{source}: the label column {name!r} has {len(classes):,} classes (at most {MAX_CLASSES:,})")
    return classes


def _probabilities(table: Table, names: Sequence[str], what: str) -> np.ndarray:
    values = table.matrix(names, "target")
    bad = np.argwhere((values < 0) | (values > 1))
    if len(bad):
        row, col = bad[0]
        raise DataError(
            f"{table.source}, row {table.lines[row]}, column {names[col]!r}: {values[row, col]:g} is not in "
            f"[0, 1] ({what})"
        )
    return values


def _is_probability_column(table: Table, name: str) -> bool:
    if name in table.problems:
        return False
    values = table.column(name, "target")
    return bool(np.all((values >= 0) & (values <= 1)))


@dataclass(frozen=True)
class Targets:
    """How the target columns become the loss's target matrix ``(rows, outputs)``, and outputs labels."""

    columns: list[str]
    mode: str
    classes: list | None = None

    @property
    def outputs(self) -> int:
        return len(self.classes) if self.mode == "labels" else len(self.columns)

    @property
    def class_count(self) -> int | None:
        """Rows and columns of the confusion matrix: 2 for bce, one per class for cross-entropy."""
        return None if self.mode == "values" else 2 if self.mode == "binary" else len(self.classes)

    @property
    def output_names(self) -> list:
        """What each model output stands for: a target column, the positive label of a mapped bce column, a class."""
        if self.mode == "labels":
            return list(self.classes)
        return [self.classes[1]] if self.mapped else list(self.columns)

    @property
    def task(self) -> str:
        return {"values": "regression", "binary": "binary"}.get(self.mode, "multiclass")

    @property
    def mapped(self) -> bool:
        """A bce column of two labels that are not the numbers 0 and 1."""
        return self.mode == "binary" and self.classes is not None and self.classes != [0, 1]

    def describe_outputs(self) -> str:
        """What the model's outputs must match, for error messages."""
        if self.mode == "labels":
            return f"the label column {self.columns[0]!r} has {len(self.classes)} classes ({_shown(self.classes)})"
        count = len(self.columns)
        return f"{count} target column{'s' if count != 1 else ''} given"

    def encode(self, table: Table, role: str = "training") -> np.ndarray:
        """The target matrix of ``table``'s rows; a label outside the classes is a DataError naming it."""
        if self.mode == "values":
            return table.matrix(self.columns, "target")
        if self.mode == "onehot":
            return _onehot_rows(table, self.columns)
        if self.mode == "binary" and not self.mapped:
            return _probabilities(table, self.columns, "the bce loss needs 0/1 labels or probabilities")
        labels = _labels(table, self.columns[0])
        index = {c: k for k, c in enumerate(self.classes)}
        unknown = [k for k, label in enumerate(labels.tolist()) if label not in index]
        if unknown:
            k = unknown[0]
            raise DataError(
                f"{table.source}, row {table.lines[k]}, column {self.columns[0]!r}: class {labels[k]!r} of the "
                f"{role} rows is not among the training rows' classes ({_shown(self.classes)})"
            )
        codes = np.array([index[label] for label in labels.tolist()], dtype=np.int64)
        if self.mode == "binary":
            return codes[:, None].astype(float)
        return np.eye(len(self.classes))[codes]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "mode": self.mode, "classes": self.classes}


def _shown(classes: Sequence) -> str:
    text = ", ".join(map(str, classes[:10]))
    return text + (", ..." if len(classes) > 10 else "")


def _onehot_rows(table: Table, names: Sequence[str]) -> np.ndarray:
    values = _probabilities(table, names, "cross-entropy over columns needs one-hot rows or probabilities")
    bad = np.flatnonzero(np.abs(values.sum(axis=1) - 1.0) > ROW_SUM_TOLERANCE)
    if bad.size:
        raise DataError(
            f"{table.source}, row {table.lines[bad[0]]}: the target columns {', '.join(names)} sum to "
            f"{values[bad[0]].sum():g}, not 1 (one-hot rows or probabilities)"
        )
    return values


def resolve_targets(table: Table, columns: list[str], task: str, train_rows: np.ndarray) -> Targets:
    """The targets' mode and classes for a loss of ``task`` (regression, binary, multiclass), the classes
    taken from ``train_rows`` of ``table``.

    Raises:
        DataError: a bad label or target cell, one class, or a bce column of more than two labels.
    """
    if task == "regression":
        return Targets(columns, "values")
    if task == "multiclass" and len(columns) > 1:
        return Targets(columns, "onehot", list(columns))
    if task == "binary" and (len(columns) > 1 or _is_probability_column(table, columns[0])):
        if len(columns) > 1:
            _probabilities(table, columns, "the bce loss needs 0/1 labels or probabilities")
        return Targets(columns, "binary", [0, 1])
    name = columns[0]
    if task == "binary" and name not in table.problems and len(np.unique(table.column(name, "target"))) > 2:
        _probabilities(table, columns, "the bce loss needs 0/1 labels, probabilities or two distinct labels")
    labels = _labels(table, name)
    classes = _classes_of(labels[train_rows], name, table.source)
    if task == "binary" and len(classes) > 2:
        raise DataParamError(
            "loss",
            f"{table.source}: bce needs 0/1 labels, probabilities or two distinct labels, but column "
            f"{name!r} has {len(classes)} ({_shown(classes)}); use cross-entropy",
        )
    return Targets(columns, "binary" if task == "binary" else "labels", classes)


def strata(table: Table, columns: list[str], task: str) -> np.ndarray:
    """One class code per row of ``table`` for a stratified split (before the classes are fixed)."""
    if task == "regression":
        raise ParamError("stratify", "needs a classification target (loss bce or cross-entropy), not a regression one")
    if task == "binary" and len(columns) > 1:
        raise ParamError("stratify", "needs one label column or one-hot columns, not several bce columns")
    if task == "multiclass" and len(columns) > 1:
        return np.argmax(_onehot_rows(table, columns), axis=1)
    if task == "binary" and _is_probability_column(table, columns[0]):
        return (table.column(columns[0], "target") >= 0.5).astype(np.int64)
    labels = _labels(table, columns[0]).tolist()
    index = {label: k for k, label in enumerate(sorted(set(labels), key=sort_key))}
    return np.array([index[label] for label in labels], dtype=np.int64)


def default_loss(model: str, table: Table, columns: list[str]) -> str:
    """mse, except for ``logistic``: bce for one column of 0/1, probabilities or two labels, else cross-entropy."""
    if not isinstance(model, str) or model.strip() != "logistic":
        return "mse"
    one = len(columns) == 1
    if one and (_is_probability_column(table, columns[0]) or len(set(_labels(table, columns[0]).tolist())) == 2):
        return "bce"
    return "cross-entropy"

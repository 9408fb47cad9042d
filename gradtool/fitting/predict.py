"""`gradtool predict` and `fit --predict`: a fitted model applied to a CSV's rows by column name.

The output is the input file's rows as they were (every cell, IDs and text included, untouched), followed
by the prediction columns: ``<target>_pred`` (values, or the predicted label of a classifier) and, with
``proba``, ``<target>_proba_<class>`` per class. New names never clash with the file's (``_2``, ``_3`` are
appended), and header cells that a spreadsheet would run as a formula are neutralised with a leading ``'``.
The file is read twice: once to check it and compute the predictions (numbers only in memory), once to
copy its rows to the output, so that nothing is written when a cell is bad.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import IO, Any

import numpy as np

from gradtool.errors import DataError
from gradtool.fitting.csvfile import NUMBER, blank, open_csv, records
from gradtool.fitting.data import read_csv
from gradtool.fitting.metrics import predicted_class
from gradtool.fitting.persist import Fitted, load_fitted
from gradtool.io import open_output

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP's list of cells spreadsheets evaluate


def neutral(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet would take it as a formula (numbers stay as they are)."""
    return "'" + text if text.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(text) else text


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``, ... : the first not in ``taken`` (which it joins)."""
    candidate, k = name, 1
    while candidate in taken:
        k += 1
        candidate = f"{name}_{k}"
    taken.add(candidate)
    return candidate


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return neutral(value) if isinstance(value, str) else str(value)  # a class label


def prediction_table(fitted: Fitted, x: np.ndarray, proba: bool) -> tuple[list[str], list[np.ndarray]]:
    """``(names, columns)`` of the predictions for the input rows ``x`` (original units): float columns
    (values, probabilities) and object columns of class labels."""
    targets, loss = fitted.targets, fitted.objective.loss
    z = fitted.outputs(x)
    if not loss.classifier:
        return [f"{t}_pred" for t in targets.columns], list(loss.link(z).T)
    names, columns = [], []
    with np.errstate(all="ignore"):
        if loss.task == "binary":
            classes = np.array(targets.classes if targets.mapped else [0, 1], dtype=object)
            for k, base in enumerate([targets.columns[0]] if targets.mapped else targets.columns):
                names.append(f"{base}_pred")
                columns.append(classes[predicted_class("binary", z[:, k])])
                if proba:  # sigmoid(-z) for the first class: 1 - sigmoid(z) would lose its digits
                    names += [f"{base}_proba_{c}" for c in classes]
                    columns += [loss.link(-z[:, k]), loss.link(z[:, k])]
            return names, columns
        base = targets.columns[0] if targets.mode == "labels" else "class"
        names.append(f"{base}_pred")
        columns.append(np.array(targets.classes, dtype=object)[predicted_class("multiclass", z)])
        if proba:
            names += [f"{base}_proba_{c}" for c in targets.classes]
            columns += list(loss.link(z).T)
    return names, columns


def write_predictions(fitted: Fitted, data_path: str | Path, output: str | None, proba: bool = False) -> None:
    """Predict every row of ``data_path`` and write the CSV to ``output`` (atomically) or stdout."""
    table = read_csv(data_path, min_rows=1)
    names, columns = prediction_table(fitted, table.matrix(fitted.inputs, "input"), proba)
    taken = set(table.columns)
    header = [neutral(name) for name in [*table.columns, *(unique(n, taken) for n in names)]]
    if output is None:
        _copy_rows(data_path, table, header, columns, sys.stdout)
        return
    with open_output(output) as handle:
        _copy_rows(data_path, table, header, columns, handle)


def _copy_rows(path, table, header: list[str], columns: list[np.ndarray], handle: IO) -> None:
    """The file's records again, each followed by its prediction cells (checked against the first reading)."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(header)
    done = 0
    with open_csv(path) as source:
        reader = csv.reader(source)
        next(row for row in reader if not blank(row))
        for _, rows in records(reader, len(table.columns), table.columns, str(path)):
            if done + len(rows) > table.rows:
                break
            extra = zip(*([_cell(v) for v in c[done : done + len(rows)].tolist()] for c in columns), strict=True)
            writer.writerows(row + list(cells) for row, cells in zip(rows, extra, strict=True))
            done += len(rows)
    if done != table.rows:
        raise DataError(f"{path}: the file changed while it was read")


def predict_file(model_path: str | Path, data_path: str | Path, output: str | None, proba: bool = False) -> None:
    """`gradtool predict`: load the model saved at ``model_path`` and predict ``data_path``'s rows."""
    write_predictions(load_fitted(model_path), data_path, output, proba)

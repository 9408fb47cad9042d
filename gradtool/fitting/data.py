"""Data for fitting: a table of numeric (and text) columns from a CSV file or a mapping, and the holdout split."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from gradtool.errors import DataError
from gradtool.fitting.csvfile import BLANKS, MAX_BYTES, cell_problem, parse_cell, parse_csv, read_csv
from gradtool.fitting.table import Table
from gradtool.params import ParamError

__all__ = ["MAX_BYTES", "Table", "as_table", "check_binary", "holdout", "parse_csv", "read_csv"]


def _mapped_column(name: str, values: Sequence) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """``(numbers with NaN for the other cells, the cells if one is not a number, its problem)``."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"data column {name!r} must be a flat sequence of numbers or labels")
    if array.dtype.kind in "biuf":
        numbers = array.astype(float)
        if np.isfinite(numbers).all():
            return numbers, None, None
        listed = [float(v) if np.isfinite(v) else repr(float(v)) for v in numbers]
    else:
        listed = [parse_cell(str(v).strip(BLANKS)) for v in array.tolist()]
    cells = np.empty(len(listed), dtype=object)
    cells[:] = listed
    numeric = [type(v) is float for v in listed]
    if all(numeric):
        return np.array(listed, dtype=float), None, None
    bad = numeric.index(False)
    numbers = np.array([v if ok else np.nan for v, ok in zip(listed, numeric, strict=True)], dtype=float)
    return numbers, cells, f"<data>, row {bad + 1}, column {name!r}: {cell_problem(listed[bad])}"


def as_table(data: str | Path | Table | Mapping[str, Sequence]) -> Table:
    """A file path, a :class:`Table`, or a mapping ``{column: values}`` (the Python API) as a Table.

    Mapping values are numbers or labels (strings); rows are numbered from 1 in messages.
    """
    if isinstance(data, Table):
        return data
    if not isinstance(data, Mapping):
        return read_csv(data)
    columns, parts, text, problems = [str(k) for k in data], [], {}, {}
    lengths = {len(v) if hasattr(v, "__len__") else -1 for v in data.values()}
    if len(lengths) != 1 or min(lengths) < 2:
        raise DataError("data columns must be sequences of equal length with at least two rows")
    for name, values in zip(columns, data.values(), strict=True):
        numbers, cells, problem = _mapped_column(name, values)
        parts.append(numbers)
        if cells is not None:
            text[name], problems[name] = cells, problem
    rows = lengths.pop()
    return Table("<data>", columns, np.column_stack(parts), np.arange(1, rows + 1), text, problems)


def check_binary(table: Table, targets: Sequence[str]) -> None:
    """bce needs targets in [0, 1]: name the first cell outside."""
    for name in targets:
        values = table.column(name, "target")
        bad = np.flatnonzero((values < 0) | (values > 1))
        if bad.size:
            raise DataError(
                f"{table.source}, row {table.lines[bad[0]]}, column {name!r}: {values[bad[0]]:g} is not in [0, 1] "
                f"(the bce loss needs 0/1 labels or probabilities)"
            )


def holdout(
    rows: int, test_split: float | None, rng: np.random.Generator, strata: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(train rows, test rows)``: a random ``test_split`` fraction (drawn by ``rng``) held out, none by default.

    With ``strata`` (a class code per row) each class is split on its own: ``round(F * n_c)`` of its ``n_c``
    rows are held out, but never all of them, so that every class is trained on.
    """
    if test_split is None or test_split == 0:
        return np.arange(rows), np.arange(0)
    if not (isinstance(test_split, int | float) and 0 < test_split < 1):
        raise ParamError("test_split", f"must be a fraction between 0 and 1, got {test_split!r}")
    test = round(rows * test_split)
    if not 1 <= test <= rows - 1:
        left = f"{test} test and {rows - test} training rows"
        raise ParamError("test_split", f"{test_split:g} of {rows} rows leaves {left}; each needs at least one")
    if strata is not None:
        return _stratified(test_split, rng, strata)
    order = rng.permutation(rows)
    return np.sort(order[test:]), np.sort(order[:test])


def _stratified(test_split: float, rng: np.random.Generator, strata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    train, test = [], []
    for code in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == code))
        held = min(round(len(members) * test_split), len(members) - 1)
        test.append(members[:held])
        train.append(members[held:])
    test_rows = np.sort(np.concatenate(test))
    if not len(test_rows):
        raise ParamError("test_split", f"{test_split:g} holds out no row of any class; raise it")
    return np.sort(np.concatenate(train)), test_rows

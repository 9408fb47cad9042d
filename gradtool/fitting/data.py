"""Data for fitting: a numeric CSV table, validated cell by cell, split into inputs, targets and a holdout."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradtool.errors import ConfigError, DataError

MAX_BYTES = 1 << 30  # refuse files over 1 GiB rather than exhaust memory


@dataclass(frozen=True)
class Table:
    """A numeric table: ``values[i, j]`` is row ``i`` of column ``columns[j]``; ``source`` names its origin."""

    source: str
    columns: list[str]
    values: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.values)

    def column(self, name: str, role: str) -> np.ndarray:
        """The column ``name``, or a DataError naming the file, the missing column and the ones present."""
        if name not in self.columns:
            raise DataError(f"{self.source}: no {role} column {name!r} (columns: {', '.join(self.columns)})")
        return self.values[:, self.columns.index(name)]

    def matrix(self, names: Sequence[str], role: str) -> np.ndarray:
        """The named columns side by side, shape ``(rows, len(names))``, C-contiguous."""
        if not names:
            return np.empty((self.rows, 0))
        return np.ascontiguousarray(np.column_stack([self.column(n, role) for n in names]))


def _cell(text: str, source: str, line: int, column: str) -> float:
    where = f"{source}, row {line}, column {column!r}"
    if not text:
        raise DataError(f"{where}: empty cell")
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: {text[:40]!r} is not a number") from None
    if math.isnan(value):
        raise DataError(f"{where}: NaN (missing value)")
    if not math.isfinite(value):
        raise DataError(f"{where}: {text[:40]!r} is not a finite number")
    return value


def _header(cells: list[str], source: str) -> list[str]:
    names = [c.strip() for c in cells]
    for k, name in enumerate(names):
        if not name:
            raise DataError(f"{source}, row 1: column {k + 1} of the header has no name")
        if names.index(name) != k:
            raise DataError(f"{source}, row 1: column {name!r} appears twice in the header")
    return names


def parse_csv(text: str, source: str, min_rows: int = 2) -> Table:
    """Parse CSV text with a header row into a :class:`Table`.

    Rows are numbered as a spreadsheet shows them: the header is row 1, so the first data row is row 2.
    Blank lines are skipped. Every cell must be a finite number.

    Raises:
        DataError: empty file, a row whose length differs from the header's, an empty, non-numeric, NaN
            or infinite cell, or fewer than ``min_rows`` data rows; the message names file, row and column.
    """
    reader = csv.reader(text.splitlines())
    try:
        lines = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:  # a cell over 128 KiB, say
        raise DataError(f"{source}, row {reader.line_num}: not readable as CSV ({exc})") from None
    if not lines:
        raise DataError(f"{source}: empty file (expected a header row and at least two data rows)")
    columns = _header(lines[0][1], source)
    values = np.empty((len(lines) - 1, len(columns)))
    for i, (line, row) in enumerate(lines[1:]):
        if len(row) != len(columns):
            raise DataError(
                f"{source}, row {line}: {len(row)} cells, but the header has {len(columns)} "
                f"columns ({', '.join(columns)})"
            )
        values[i] = [_cell(cell.strip(), source, line, name) for cell, name in zip(row, columns, strict=True)]
    if len(values) < min_rows:
        need = "fitting needs at least two" if min_rows == 2 else f"at least {min_rows} needed"
        raise DataError(f"{source}: {len(values)} data row{'s' if len(values) != 1 else ''}; {need}")
    return Table(source, columns, values)


def read_csv(path: str | Path, min_rows: int = 2) -> Table:
    """Read and validate a CSV file (see :func:`parse_csv`); unreadable files raise DataError too."""
    file = Path(path)
    try:
        if file.exists() and not file.is_dir() and not file.is_file():  # a FIFO or /dev/zero would never end
            raise DataError(f"{file}: not a regular file")
        if file.stat().st_size > MAX_BYTES:
            raise DataError(f"{file}: larger than {MAX_BYTES >> 20} MiB")
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{file}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    return parse_csv(text, str(file), min_rows)


def as_table(data: str | Path | Table | Mapping[str, Sequence[float]]) -> Table:
    """A file path, a :class:`Table`, or a mapping ``{column: values}`` (the Python API) as a Table."""
    if isinstance(data, Table):
        return data
    if isinstance(data, Mapping):
        columns = [str(k) for k in data]
        try:
            values = np.column_stack([np.asarray(v, dtype=float) for v in data.values()])
        except ValueError as exc:
            raise DataError(f"data columns must be numbers of equal length ({exc})") from None
        if values.ndim != 2 or len(values) < 2 or not np.all(np.isfinite(values)):
            raise DataError("data columns need at least two rows of finite numbers")
        return Table("<data>", columns, values)
    return read_csv(data)


def check_binary(table: Table, targets: Sequence[str]) -> None:
    """bce needs targets in [0, 1]: name the first cell outside."""
    for name in targets:
        values = table.column(name, "target")
        bad = np.flatnonzero((values < 0) | (values > 1))
        if bad.size:
            row = int(bad[0]) + 2
            raise DataError(
                f"{table.source}, row {row}, column {name!r}: {values[bad[0]]:g} is not in [0, 1] "
                f"(the bce loss needs 0/1 labels or probabilities)"
            )


def holdout(rows: int, test_split: float | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(train rows, test rows)``: a random ``test_split`` fraction (drawn by ``rng``) held out, none by default."""
    if test_split is None or test_split == 0:
        return np.arange(rows), np.arange(0)
    if not (isinstance(test_split, int | float) and 0 < test_split < 1):
        raise ConfigError(f"--test-split must be a fraction between 0 and 1, got {test_split!r}")
    test = round(rows * test_split)
    if not 1 <= test <= rows - 1:
        raise ConfigError(
            f"--test-split {test_split:g} of {rows} rows leaves {test} test and {rows - test} "
            f"training rows; each needs at least one"
        )
    order = rng.permutation(rows)
    return np.sort(order[test:]), np.sort(order[:test])

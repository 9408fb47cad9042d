"""CSV files as tables, streamed in chunks: memory is the numbers themselves plus one chunk of text.

Cells are numbers by a strict ASCII grammar (``1``, ``-2.5``, ``.5``, ``3e-4``, spaces or tabs around them):
Python's ``float`` also takes ``1_0``, Arabic-Indic or fullwidth digits and surrounding newlines, which
no spreadsheet reads as numbers. A column with any other cell keeps its text too (labels, IDs); using it
where numbers are needed raises the first bad cell's message (file, row, column).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from gradtool.errors import DataError
from gradtool.fitting.table import Table

MAX_BYTES = 1 << 30  # refuse files over 1 GiB rather than exhaust memory
CHUNK = 1 << 14  # records converted at a time
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_OUTSIDE = re.compile(r"[^0-9eE.+\- \t]")  # a character no number of the grammar has
BLANKS = " \t"


def cell_problem(text: str) -> str:
    """Why a stripped cell is not a finite number (the message's end)."""
    if not text:
        return "empty cell"
    if text.lower().lstrip("+-") == "nan":
        return "NaN (missing value)"
    if NUMBER.fullmatch(text) or text.lower().lstrip("+-") in ("inf", "infinity"):
        return f"{text[:40]!r} is not a finite number"
    return f"{text[:40]!r} is not a number"


def parse_cell(text: str) -> float | str:
    """A stripped cell as a finite float when it is one by the strict grammar, else the text itself."""
    if NUMBER.fullmatch(text):
        value = float(text)
        if abs(value) != float("inf"):
            return value
    return text


def _fast_numbers(cells: tuple[str, ...]) -> np.ndarray | None:
    """Every cell a finite number of the grammar: their values (numpy parses them in C); else None."""
    if _OUTSIDE.search("".join(cells)):
        return None
    try:
        values = np.array(cells, dtype=float)  # float() itself: exactly the grammar on these characters
    except ValueError:  # an empty cell, '1 2', '1e', '+-1', ...
        return None
    return values if np.isfinite(values).all() else None


class _Columns:
    """Accumulates chunks: float columns (NaN where a cell is not a number) and text where needed."""

    def __init__(self, names: list[str], source: str):
        self.names, self.source = names, source
        self.values: list[np.ndarray] = []
        self.lines: list[np.ndarray] = []
        self.text: dict[int, list[np.ndarray]] = {}
        self.problems: dict[str, str] = {}

    def add(self, lines: list[int], records: list[list[str]]) -> None:
        block = np.empty((len(records), len(self.names)))
        for j, cells in enumerate(zip(*records, strict=True)):
            numbers = _fast_numbers(cells)
            if numbers is None:
                self._slow(j, cells, block, lines)
            else:
                block[:, j] = numbers
                if j in self.text:
                    self.text[j].append(numbers.astype(object))
        self.values.append(block)
        self.lines.append(np.array(lines, dtype=np.int64))

    def _slow(self, j: int, cells: tuple[str, ...], block: np.ndarray, lines: list[int]) -> None:
        parsed = np.empty(len(cells), dtype=object)
        parsed[:] = [parse_cell(cell.strip(BLANKS)) for cell in cells]
        numeric = np.array([type(v) is float for v in parsed])
        block[:, j] = np.where(numeric, parsed, np.nan).astype(float)
        name = self.names[j]
        if not numeric.all() and name not in self.problems:
            k = int(np.argmin(numeric))
            self.problems[name] = f"{self.source}, row {lines[k]}, column {name!r}: {cell_problem(parsed[k])}"
        if j not in self.text:  # the earlier chunks were numbers: keep them as such
            self.text[j] = [v[:, j].astype(object) for v in self.values]
        self.text[j].append(parsed)

    def table(self, min_rows: int) -> Table:
        rows = sum(len(v) for v in self.values)
        if rows < min_rows:
            need = "fitting needs at least two" if min_rows == 2 else f"at least {min_rows} needed"
            raise DataError(f"{self.source}: {rows} data row{'s' if rows != 1 else ''}; {need}")
        values = np.concatenate(self.values) if self.values else np.empty((0, len(self.names)))
        lines = np.concatenate(self.lines) if self.lines else np.empty(0, dtype=np.int64)
        text = {self.names[j]: np.concatenate(parts) for j, parts in self.text.items()}
        return Table(self.source, self.names, values, lines, text, self.problems)


def header_names(cells: list[str], source: str) -> list[str]:
    """The stripped header names; an empty or repeated name is a DataError naming it."""
    names = [c.strip() for c in cells]
    seen: set[str] = set()
    for k, name in enumerate(names):
        if not name:
            raise DataError(f"{source}, row 1: column {k + 1} of the header has no name")
        if name in seen:
            raise DataError(f"{source}, row 1: column {name!r} appears twice in the header")
        seen.add(name)
    return names


def blank(row: list[str]) -> bool:
    """An empty line, or one holding only spaces (the reader skips it)."""
    return not row or (len(row) == 1 and not row[0].strip())


def records(reader, width: int, names: list[str], source: str) -> Iterator[tuple[list[int], list[list[str]]]]:
    """Chunks ``(spreadsheet rows, records)`` of the non-blank records, each checked for its length."""
    lines, rows = [], []
    for row in reader:
        if len(row) != width:
            if blank(row):
                continue
            raise DataError(
                f"{source}, row {reader.line_num}: {len(row)} cells, but the header has {width} "
                f"columns ({', '.join(names)})"
            )
        rows.append(row)
        lines.append(reader.line_num)
        if len(rows) == CHUNK:
            yield lines, rows
            lines, rows = [], []
    if rows:
        yield lines, rows


def _read(handle: Iterable[str], source: str, min_rows: int) -> Table:
    reader = csv.reader(handle)
    try:
        header = next((row for row in reader if not blank(row)), None)
        if header is None:
            raise DataError(f"{source}: empty file (expected a header row and at least two data rows)")
        names = header_names(header, source)
        columns = _Columns(names, source)
        for lines, rows in records(reader, len(names), names, source):
            columns.add(lines, rows)
    except csv.Error as exc:  # a cell over 128 KiB, a NUL byte
        raise DataError(f"{source}, row {reader.line_num}: not readable as CSV ({exc})") from None
    return columns.table(min_rows)


def parse_csv(text: str, source: str, min_rows: int = 2) -> Table:
    """Parse CSV text with a header row into a :class:`Table` (see :func:`read_csv`)."""
    return _read(io.StringIO(text, newline=""), source, min_rows)


def open_csv(path: str | Path):
    """The file opened for csv.reader (UTF-8, a BOM skipped); a DataError if it cannot be."""
    file = Path(path)
    try:
        if file.exists() and not file.is_dir() and not file.is_file():  # a FIFO or /dev/zero would never end
            raise DataError(f"{file}: not a regular file")
        if file.stat().st_size > MAX_BYTES:
            raise DataError(f"{file}: larger than {MAX_BYTES >> 20} MiB")
        return open(file, encoding="utf-8-sig", newline="")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise DataError(f"{file}: no such file") from None
    except OSError as exc:
        raise DataError(f"{file}: cannot read it ({exc.strerror or exc})") from None


def read_csv(path: str | Path, min_rows: int = 2) -> Table:
    """Read a CSV file with a header row into a Table, streaming it in chunks of records.

    Rows are numbered as a spreadsheet shows them: the header is row 1, so the first data row is row 2.
    Blank lines are skipped. Cells that are not numbers are kept as text (labels, IDs); the Table raises
    for them only where numbers are needed.

    Raises:
        DataError: no such file, not a regular file, over 1 GiB, not UTF-8, empty, a bad header, a row
            whose length differs from the header's, or fewer than ``min_rows`` data rows.
    """
    with open_csv(path) as handle:
        try:
            return _read(handle, str(path), min_rows)
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: cannot read it ({exc})") from None
        except OSError as exc:
            raise DataError(f"{path}: cannot read it ({exc.strerror or exc})") from None

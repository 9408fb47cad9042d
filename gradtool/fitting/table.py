"""The table a fit reads: numeric columns (NaN where a cell is not a number) and, where needed, their text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gradtool.errors import DataError


@dataclass(frozen=True)
class Table:
    """``values[i, j]`` is row ``i`` of column ``columns[j]`` (NaN where the cell is not a finite number).

    ``lines[i]`` is row ``i``'s number as a spreadsheet shows it (the header is row 1); ``text`` holds,
    for each column with a cell that is not a number, every cell (floats, and stripped strings for the
    others); ``problems`` the message of each such column's first bad cell. ``source`` names the origin.
    """

    source: str
    columns: list[str]
    values: np.ndarray
    lines: np.ndarray
    text: dict[str, np.ndarray] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.values)

    def _index(self, name: str, role: str) -> int:
        if name not in self.columns:
            raise DataError(f"{self.source}: no {role} column {name!r} (columns: {', '.join(self.columns)})")
        return self.columns.index(name)

    def column(self, name: str, role: str) -> np.ndarray:
        """The column ``name`` as numbers; a DataError naming the file and the missing column or bad cell."""
        j = self._index(name, role)
        if name in self.problems:
            raise DataError(self.problems[name])
        return self.values[:, j]

    def matrix(self, names: Sequence[str], role: str) -> np.ndarray:
        """The named numeric columns side by side, shape ``(rows, len(names))``, C-contiguous."""
        for name in names:
            self.column(name, role)
        return np.ascontiguousarray(self.values[:, [self.columns.index(n) for n in names]])

    def cells(self, name: str, role: str) -> np.ndarray:
        """The column as an object array of its cells: floats for numbers, stripped text for the others."""
        j = self._index(name, role)
        return self.text[name] if name in self.text else self.values[:, j].astype(object)

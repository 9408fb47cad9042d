"""Shared reporting helpers: consoles, number formatting, JSON that never contains NaN."""

from __future__ import annotations

import errno
import functools
import itertools
import json
import math
import sys
from typing import Any


def stdout_console():
    return _console_class()(highlight=False, emoji=False)


def stderr_console():
    return _console_class()(stderr=True, highlight=False, emoji=False)


@functools.cache
def _console_class():
    from rich.console import Console

    class GradtoolConsole(Console):
        def on_broken_pipe(self) -> None:  # Rich would exit 1; the CLI stops quietly with 141 as Unix tools do
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

        def print(self, *objects, **kwargs) -> None:
            """As Rich prints, except that a table never cuts a number with an ellipsis: narrower than the
            table's least width (see :func:`least_width`), the table is printed at that width, uncropped, and
            the terminal wraps its lines."""
            if len(objects) == 1 and hasattr(objects[0], "columns"):
                least = least_width(self, objects[0])
                if least > self.width:
                    size = self.size
                    self.size = (least, size.height)  # print(width=) cannot exceed the console's width
                    try:
                        return super().print(*objects, crop=False, **kwargs)
                    finally:
                        self.size = size
            super().print(*objects, **kwargs)

    return GradtoolConsole


def least_width(console, table) -> int:
    """The width below which Rich would cut a cell: ``no_wrap`` columns (numbers: every right-justified
    column) at their widest cell, the others at their longest word."""
    from rich.measure import Measurement

    options = console.options.update_width(1 << 20)
    least = Measurement.get(console, options, table).maximum
    for column in table.columns:
        if not column.no_wrap:
            cells = [Measurement.get(console, options, cell) for cell in (column.header, *column.cells)]
            least -= max(m.maximum for m in cells) - max(m.minimum for m in cells)
    return least


def literal(text: object) -> str:
    """User text (a file name, a description, an expression, a column name) for Rich markup: printed as
    typed, so ``[/]`` is no error, ``[link=...]`` no link and ``[bold].yaml`` keeps its brackets."""
    from rich.markup import escape

    return escape(str(text))


def num(v: float | None, digits: int = 6) -> str:
    """A float for a table: ``nan``/``inf`` spelled out, otherwise ``digits`` significant digits."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if not math.isfinite(v):
        return str(v)
    return f"{v:.{digits}g}"


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays to Python and non-finite floats to None (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return jsonable(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def print_json(obj: Any) -> None:
    """Print one JSON document alone on stdout, streamed: ``json.dumps`` with an indent joins a list of
    millions of small chunks (~7 kB per check-grad point), ``json.dump`` writes them as they come."""
    chunks = json.JSONEncoder(indent=2, allow_nan=False).iterencode(jsonable(obj))
    while batch := "".join(itertools.islice(chunks, 1 << 14)):
        sys.stdout.write(batch)
    sys.stdout.write("\n")

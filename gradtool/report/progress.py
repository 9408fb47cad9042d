"""A progress bar on stderr for a sweep whose results stream back (``--cluster``): runs done / total, failures."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

FAILED = ("diverged", "error")  # the statuses counted as failures, each on its own


@contextlib.contextmanager
def sweep_progress(total: int, enabled: bool = True) -> Iterator[Callable[[int, Any], None] | None]:
    """Yield ``progress(index, result)`` to call as each run ends, drawing a transient Rich bar on stderr
    (gone when the block ends); yield None when not ``enabled`` (stderr is not a terminal)."""
    if not enabled or total < 1:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gradtool.report.common import stderr_console

    failed = dict.fromkeys(FAILED, 0)
    bar = Progress(
        TextColumn("runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]}"),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    )
    task = bar.add_task("runs", total=total, failed="")

    def advance(index: int, result: Any) -> None:
        if result.status in failed:
            failed[result.status] += 1
        text = ", ".join(f"{n} {status}" for status, n in failed.items() if n)
        bar.update(task, advance=1, failed=f"[red]{text}[/]" if text else "")

    with bar:
        yield advance

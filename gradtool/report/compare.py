"""Rich output for `run`, `compare` and `lr-find`: comparison tables sorted by final f, the lr range test
(the table of a fit config's runs is in report.fit)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gradtool.report.common import literal, num, stdout_console
from gradtool.report.settings import optimizer_text, setting
from gradtool.result import NoResult, RunResult

STATUS_STYLE = {"converged": "green", "max_steps": "yellow"}


def _order(result: RunResult) -> tuple[int, float]:
    finished = result.status in ("converged", "max_steps")
    return (0 if finished else 1, result.ranked_f if finished and result.f == result.f else float("inf"))


def comparison_table(runs: list[RunResult], title: str):
    """One row per run, sorted by final f (the best first: the lowest, the highest for runs that ascend);
    runs that diverged (or were interrupted) last."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    table.add_column("label", no_wrap=True)
    table.add_column("optimizer", overflow="fold")
    for col in ("final f", "|g|", "steps"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("time s", justify="right", no_wrap=True)
    for r in sorted(runs, key=_order):
        colour = STATUS_STYLE.get(r.status, "red")
        table.add_row(
            literal(r.label),
            setting(r),
            num(r.f, 6),
            num(r.grad_norm, 3),
            str(r.steps),
            f"[{colour}]{r.status}[/]",
            f"{r.time_s:.3f}",
        )
    return table


def show_file_results(results: list[Any], quiet: bool = False) -> None:
    """Every config's results: a comparison table (fit runs: see report.fit; or the gradient check), minima
    of multi-start runs; then the runs that returned no result (error, or cancelled), one line each."""
    console = stdout_console()
    for fr in results:
        if fr.check is not None:
            from gradtool.report.derivatives import show_check, show_sweep

            if not quiet:
                console.print(
                    f"[bold]{literal(fr.source)}[/]" + (f": {literal(fr.description)}" if fr.description else "")
                )
            show_check(fr.check)
            if fr.check.get("sweep") is not None:
                show_sweep(fr.check["sweep"])
            continue
        missing = [r for r in fr.runs if isinstance(r, NoResult)]
        if len(missing) < len(fr.runs):
            _show_runs(replace(fr, runs=[r for r in fr.runs if not isinstance(r, NoResult)]), quiet, console)
        else:
            console.print(f"[bold]{literal(fr.source)}[/]: no run returned a result")
        for r in missing:
            console.print(f"[red]{literal(r.label)}: {r.status}[/]: {literal(r.message)}", soft_wrap=True)


def _show_runs(fr: Any, quiet: bool, console) -> None:
    from gradtool.report.runs import minima_table

    if fr.task == "fit":
        from gradtool.report.fit import show_fit_runs

        show_fit_runs(fr, quiet, console)
        return
    title = literal(fr.source + (f": {fr.description}" if fr.description and not quiet else ""))
    console.print(comparison_table(fr.runs, title))
    for note in dict.fromkeys(r.note for r in fr.runs if r.note):  # the same note for every run: once
        console.print(f"[yellow]note:[/] {literal(note)}")
    if quiet:
        return
    for r in fr.runs:
        if r.minima is not None:
            console.print(minima_table(r))
    if fr.best is not None:
        b = fr.runs[fr.best]
        point = ", ".join(f"{k} = {num(v, 8)}" for k, v in zip(b.variables, b.x, strict=True))
        console.print(
            f"best: {literal(b.label)}: f = {num(b.f, 10)} at {point}"
            if len(b.variables) <= 8
            else f"best: {literal(b.label)}: f = {num(b.f, 10)}"
        )
    else:
        console.print("[red]no run finished[/] (each diverged, was interrupted or failed)")


def show_lr_find(result) -> None:
    """The lr range test: one row per learning rate, the recommended ones marked."""
    from rich.table import Table

    console = stdout_console()
    opt = optimizer_text(result.optimizer, lr=False)
    on = f"{opt} on {literal(result.expression)}"
    table = Table(title=f"lr range test: {on}, {result.steps} steps from f0 = {num(result.f0, 6)}")
    for col in ("lr", "final f", "|g|", "steps", "status", ""):
        table.add_column(col, justify="right" if col not in ("status", "") else "left", no_wrap=True)
    for lr, f, g, s, st, ok in zip(
        result.lrs, result.f, result.grad_norm, result.run_steps, result.status, result.stable, strict=True
    ):
        notes = [n for n, hit in (("largest stable", lr == result.largest_stable), ("best", lr == result.best)) if hit]
        colour = STATUS_STYLE.get(st, "red") if ok or st == "diverged" else "dim"
        table.add_row(num(lr, 4), num(f, 8), num(g, 3), str(s), f"[{colour}]{st}[/]", ", ".join(notes))
    console.print(table)
    if result.note:
        console.print(f"[yellow]note:[/] {literal(result.note)}")
    if result.interrupted:
        console.print(f"[yellow]interrupted ({result.interrupted}):[/] the runs had not all finished their steps")
    if result.largest_stable is None:
        console.print("[red]no stable learning rate in this range[/] (every run diverged or ended above f0)")
    else:
        console.print(f"largest stable lr: {num(result.largest_stable, 4)}   best lr: {num(result.best, 4)}")

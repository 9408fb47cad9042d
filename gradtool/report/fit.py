"""Rich output for fits: the per-epoch table, the summary panel, and the backprop gradient check."""

from __future__ import annotations

import math
from typing import Any

from gradtool.fitting.result import FitResult
from gradtool.report.common import num, stdout_console
from gradtool.report.runs import sparkline

MAX_CHECK_ROWS = 24


def epoch_table(result: FitResult):
    from rich.table import Table

    table = Table(
        title=f"{result.optimizer['name']} on {result.model} ({result.loss_function}, batch {result.batch_size})"
    )
    test = result.data["test"] > 0
    classifier = result.accuracy is not None
    columns = [
        "epoch",
        "train loss",
        *(["test loss"] if test else []),
        "|g|",
        "lr",
        *(["accuracy"] if classifier else []),
        *(["test acc."] if classifier and test else []),
    ]
    for column in columns:
        table.add_column(column, justify="right")
    for row in result.rows:
        cells = [
            str(row.epoch),
            num(row.train, 8),
            *([num(row.test, 8)] if test else []),
            num(row.grad_norm, 3),
            num(row.lr, 3),
            *([_percent(row.accuracy)] if classifier else []),
            *([_percent(row.test_accuracy)] if classifier and test else []),
        ]
        table.add_row(*cells)
    return table


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _layers(describe: dict[str, Any]) -> str:
    shapes = ", ".join(f"{layer['name']} {'x'.join(map(str, layer['shape']))}" for layer in describe["layers"])
    count = sum(math.prod(layer["shape"]) for layer in describe["layers"])
    return f"{shapes} ({count:,} parameters)"


def _model_notes(result: FitResult) -> list[str]:
    notes = [result.loss_function, *([f"l2 {result.l2:g}"] if result.l2 else [])]
    if result.params is None:
        notes.append(f"{result.describe['activation']} hidden layers, {result.describe['init']} init")
    return notes


def summary_panel(result: FitResult):
    from rich.panel import Panel

    colour = {"completed": "green"}.get(result.status, "red")
    if result.params is not None:
        fitted = ", ".join(f"{k} = {num(v, 10)}" for k, v in list(result.params.items())[:12])
        fitted += ", ..." if len(result.params) > 12 else ""
    else:
        fitted = _layers(result.describe)
    loss = f"train {num(result.train_loss, 8)}"
    if result.test_loss is not None:
        loss += f", test {num(result.test_loss, 8)}"
    data = result.data
    lines = [
        f"model      {result.model}  ({', '.join(_model_notes(result))})",
        f"{'params' if result.params is not None else 'layers':<11}{fitted}",
        f"loss       {loss}",
    ]
    if result.accuracy is not None:
        accuracy = f"train {_percent(result.accuracy['train'])}"
        if result.accuracy["test"] is not None:
            accuracy += f", test {_percent(result.accuracy['test'])}"
        lines.append(f"accuracy   {accuracy}")
    lines += [
        f"|g|        {num(result.grad_norm, 3)}",
        f"epochs     {result.epochs} ({result.steps} steps of batch {result.batch_size}, {result.gradient} gradients)",
        f"data       {data['source']}: {data['train']} training rows"
        + (f", {data['test']} test rows" if data["test"] else ""),
        f"status     [{colour}]{result.status}[/]: {result.message}",
        f"time       {result.time_s:.3f} s",
    ]
    spark = sparkline([row.train for row in result.rows])
    if spark:
        lines.append(f"loss       {spark}")
    return Panel("\n".join(lines), title="fit", expand=False)


def show_fit(result: FitResult, quiet: bool = False, console=None) -> None:
    console = console or stdout_console()
    if not quiet:
        console.print(epoch_table(result))
    console.print(summary_panel(result))


def show_fit_check(report: dict[str, Any], console=None) -> None:
    """The parameters with the largest disagreement first (all of them when there are few)."""
    from rich.table import Table

    console = console or stdout_console()
    rows = sorted(report["parameters"], key=lambda p: -p["rel_error"])[:MAX_CHECK_ROWS]
    shown = "" if len(rows) == len(report["parameters"]) else f", worst {len(rows)} of {len(report['parameters'])}"
    table = Table(title=f"backprop vs central differences: {report['model']} ({report['loss_function']}{shown})")
    for column in ("parameter", "backprop", "central", "abs err", "rel err", ""):
        table.add_column(column, justify="right")
    for p in rows:
        table.add_row(
            p["name"],
            num(p["backprop"], 10),
            num(p["central"], 10),
            num(p["abs_error"], 2),
            num(p["rel_error"], 2),
            "ok" if p["ok"] else "[red]MISMATCH[/]",
        )
    console.print(table)
    verdict = "[green]all agree[/]" if report["ok"] else "[red]disagreement[/]"
    console.print(
        f"{verdict}: max abs error {num(report['max_abs_error'], 2)}, max rel error "
        f"{num(report['max_rel_error'], 2)} over {len(report['parameters'])} parameters "
        f"(rtol {report['rtol']:g}, atol {report['atol']:g})"
    )

"""Rich output for fits: the per-epoch table, the summary panel, and the backprop gradient check."""

from __future__ import annotations

import math
from typing import Any

from gradtool.fitting.result import FitResult
from gradtool.optim.searching import chooses_step
from gradtool.report.common import literal, num, stdout_console
from gradtool.report.gradstats import first_last, layers_table
from gradtool.report.runs import sparkline

MAX_CHECK_ROWS = 24


def epoch_table(result: FitResult):
    from rich.table import Table

    setting = f"{result.loss_function}, batch {result.batch_size}"
    table = Table(title=f"{result.optimizer['name']} on {literal(result.model)} ({setting})")
    test = result.data["test"] > 0
    classifier = result.accuracy is not None
    stats = result.grad_stats
    layers = [] if stats is None else ["|dW1|", f"|dW{len(stats['layers'])}|"]  # the first and last layer's
    columns = [
        "epoch",
        "train loss",
        *(["test loss"] if test else []),
        "|g|",
        *layers,
        "t" if chooses_step(result.optimizer) else "lr",  # a method that searches: the step length chosen
        *(["accuracy"] if classifier else []),
        *(["test acc."] if classifier and test else []),
    ]
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    for row in result.rows:
        cells = [
            str(row.epoch),
            num(row.train, 8),
            *([num(row.test, 8)] if test else []),
            num(row.grad_norm, 3),
            *(first_last(stats, row.epoch) if stats else []),
            "-" if math.isnan(row.lr) else num(row.lr, 3),  # nan: no step yet (epoch 0 of a search)
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


FINISHED = {"completed": "green", "early_stopped": "green"}
MAX_SHOWN = 12  # fitted values listed in the summary
MAX_CONFUSION = 20  # classes up to which the confusion matrix is printed


def _model_notes(result: FitResult) -> list[str]:
    notes = [result.loss_function, *([f"l2 {result.l2:g}"] if result.l2 else [])]
    if result.scaling is not None:
        notes.append("standardized inputs")
    if result.params is None and result.describe.get("activation"):
        notes.append(f"{result.describe['activation']} hidden layers, {result.describe['init']} init")
    return notes


def _listed(pairs: list[tuple[str, float]]) -> str:
    shown = ", ".join(f"{literal(k)} = {num(v, 10)}" for k, v in pairs[:MAX_SHOWN])
    return shown + (", ..." if len(pairs) > MAX_SHOWN else "")


def _fitted_lines(result: FitResult) -> list[str]:
    """The fitted values: an expression's parameters, a linear model's coefficients, or a network's layers."""
    if result.params is not None:
        return [f"params     {_listed(list(result.params.items()))}"]
    coefficients = result.coefficients
    if coefficients is None:
        return [f"layers     {_layers(result.describe)}"]
    shape = f"W {len(coefficients['inputs'])}x{len(coefficients['outputs'])}"
    units = "; coef in the inputs' original units" if coefficients["standardized"] is not None else ""
    lines = [f"formula    {result.describe['formula']}, {shape}{units}"]
    for k, output in enumerate(coefficients["outputs"][:MAX_SHOWN]):
        weights = zip(coefficients["inputs"], coefficients["coef"][k], strict=True)
        pairs = [("intercept", coefficients["intercept"][k]), *weights]
        lines.append(f"{'coef' if k == 0 else '':<11}{literal(output)}: {_listed(pairs)}")
    return lines


def _metric_lines(result: FitResult) -> list[str]:
    train, test = result.metrics.get("train") or {}, result.metrics.get("test") or {}
    lines = []
    for key, shown in (("accuracy", _percent), ("r2", lambda v: num(v, 6)), ("mae", lambda v: num(v, 6))):
        if key in train:
            text = f"train {shown(train[key])}" + (f", test {shown(test[key])}" if key in test else "")
            lines.append(f"{key:<11}{text}")
    if result.classes is not None:
        lines.append(f"classes    {literal(', '.join(map(str, result.classes)))}")
    return lines


def summary_panel(result: FitResult):
    from rich.panel import Panel

    colour = FINISHED.get(result.status, "red")
    loss = f"train {num(result.train_loss, 8)}"
    if result.test_loss is not None:
        loss += f", test {num(result.test_loss, 8)}"
    data = result.data
    source = literal(data["source"])
    if "test_source" in data:
        source += f" (test rows: {literal(data['test_source'])})"
    lines = [
        f"model      {literal(result.model)}  ({', '.join(_model_notes(result))})",
        *_fitted_lines(result),
        f"loss       {loss}",
        *_metric_lines(result),
        f"|g|        {num(result.grad_norm, 3)}",
        f"epochs     {result.epochs} ({result.steps} steps of batch {result.batch_size}, {result.gradient} gradients)",
        f"data       {source}: {data['train']} training rows" + (f", {data['test']} test rows" if data["test"] else ""),
        f"status     [{colour}]{result.status}[/]: {literal(result.message)}",
        f"time       {result.time_s:.3f} s",
    ]
    spark = sparkline([row.train for row in result.rows])
    if spark:
        lines.append(f"loss       {spark}")
    return Panel("\n".join(lines), title="fit", expand=False)


def confusion_table(result: FitResult):
    """The confusion matrix of the test rows (the training rows without a split): rows true, columns predicted."""
    from rich.table import Table

    side = "test" if result.metrics.get("test") else "train"
    matrix = (result.metrics.get(side) or {}).get("confusion")
    if matrix is None or len(matrix) > MAX_CONFUSION:
        return None
    labels = [literal(c) for c in (result.classes or range(len(matrix)))]
    table = Table(title=f"confusion matrix, {side} rows (row: true class, column: predicted)")
    table.add_column("true \\ predicted")
    for label in labels:
        table.add_column(label, justify="right", no_wrap=True)
    for label, row in zip(labels, matrix, strict=True):
        table.add_row(label, *map(str, row))
    return table


def show_fit(result: FitResult, quiet: bool = False, console=None) -> None:
    console = console or stdout_console()
    if not quiet:
        console.print(epoch_table(result))
        confusion = confusion_table(result)
        if confusion is not None:
            console.print(confusion)
        if result.grad_stats is not None:
            console.print(layers_table([("", result.grad_stats)]))
    console.print(summary_panel(result))


def show_fit_check(report: dict[str, Any], console=None) -> None:
    """The parameters with the largest disagreement first (all of them when there are few)."""
    from rich.table import Table

    console = console or stdout_console()
    rows = sorted(report["parameters"], key=lambda p: -p["rel_error"])[:MAX_CHECK_ROWS]
    shown = "" if len(rows) == len(report["parameters"]) else f", worst {len(rows)} of {len(report['parameters'])}"
    table = Table(
        title=f"backprop vs central differences: {literal(report['model'])} ({report['loss_function']}{shown})"
    )
    for column in ("parameter", "backprop", "central", "abs err", "rel err", ""):
        table.add_column(column, justify="right", no_wrap=True)
    for p in rows:
        table.add_row(
            literal(p["name"]),
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
        f"{num(report['max_rel_error'], 2)} over {_checked(report)} (rtol {report['rtol']:g}, atol {report['atol']:g})"
    )


def _checked(report: dict[str, Any]) -> str:
    total, checked = report["parameter_count"], report["checked"]
    return f"{total:,} parameters" if checked == total else f"{checked:,} of {total:,} parameters (a sample)"


# ---- `gradtool run` of a fit config: one row per fit run --------------------------------------------------


def _order(result: FitResult) -> tuple[int, float]:
    done = result.status in FINISHED and result.train_loss == result.train_loss
    return (0 if done else 1, result.train_loss if done else float("inf"))


def fit_runs_table(runs: list[FitResult], title: str):
    """One row per fit, sorted by final training loss (the best first); diverged or interrupted fits last."""
    from rich import box
    from rich.table import Table

    from gradtool.report.settings import setting

    test = any(r.test_loss is not None for r in runs)
    classifier = any(r.accuracy is not None for r in runs)
    table = Table(title=title, box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    table.add_column("label", no_wrap=True)
    table.add_column("optimizer", overflow="fold")
    columns = ["train loss", *(["test loss"] if test else []), *(["accuracy"] if classifier else []), "epochs"]
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("time s", justify="right", no_wrap=True)
    for r in sorted(runs, key=_order):
        accuracy = r.accuracy or {}
        shown = _percent(accuracy.get("train"))
        if accuracy.get("test") is not None:
            shown += f" / {_percent(accuracy['test'])}"
        colour = FINISHED.get(r.status, "red")
        table.add_row(
            literal(r.label or ""),
            setting(r),
            num(r.train_loss, 6),
            *([num(r.test_loss, 6)] if test else []),
            *([shown] if classifier else []),
            str(r.epochs),
            f"[{colour}]{r.status}[/]",
            f"{r.time_s:.3f}",
        )
    return table


def show_fit_runs(file_result: Any, quiet: bool = False, console=None) -> None:
    """A fit config's runs: the table, then the best run's fitted parameters (or layer shapes)."""
    console = console or stdout_console()
    fr = file_result
    title = fr.source + (f": {fr.description}" if fr.description and not quiet else "")
    console.print(fit_runs_table(fr.runs, literal(title)))
    if quiet:
        return
    stats = [(r.label or "", r.grad_stats) for r in fr.runs if r.grad_stats and r.grad_stats["epochs"]]
    if stats:
        console.print(layers_table(stats))
    if fr.best is None:
        console.print("[red]no fit finished[/] (each diverged, was interrupted or failed)")
        return
    best = fr.runs[fr.best]
    parts = [f"train loss = {num(best.train_loss, 10)}"]
    if best.test_loss is not None:
        parts.append(f"test loss = {num(best.test_loss, 10)}")
    if best.accuracy is not None:
        parts.append(f"accuracy {_percent(best.accuracy['train'])}")
    line = literal(f"best: {best.label}: {best.model}: {', '.join(parts)}")
    if best.params is not None and len(best.params) <= 12:
        line += "; " + ", ".join(f"{k} = {num(v, 10)}" for k, v in best.params.items())
    console.print(line)

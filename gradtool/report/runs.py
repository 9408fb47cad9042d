"""Rich output for runs: the iteration table, the summary panel, multi-start minima, comparisons."""

from __future__ import annotations

import math

from gradtool.report.common import literal, num, stdout_console
from gradtool.result import RunResult

MAX_VARIABLE_COLUMNS = 6
MAX_MINIMA_ROWS = 50
SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 40) -> str:
    """f over the steps as block characters (log scale when f is positive and spans decades)."""
    import math

    vals = [v for v in values if math.isfinite(v)]
    if len(vals) < 2:
        return ""
    if len(vals) > width:
        vals = [vals[round(i * (len(vals) - 1) / (width - 1))] for i in range(width)]
    if min(vals) > 0 and max(vals) / min(vals) > 100:
        vals = [math.log10(v) for v in vals]
    lo, hi = min(vals), max(vals)
    if hi == lo:
        return SPARK[0] * len(vals)
    return "".join(SPARK[min(7, int((v - lo) / (hi - lo) * 8))] for v in vals)


def iteration_table(result: RunResult):
    from rich.table import Table

    from gradtool.optim.searching import chooses_step

    table = Table(title=f"{result.optimizer['name']} on {literal(result.expression)}")
    searching = chooses_step(result.optimizer)
    for col in ("step", "f", "|g|", "t" if searching else "lr"):
        table.add_column(col, justify="right", no_wrap=True)
    wide = len(result.variables) > MAX_VARIABLE_COLUMNS
    names = ["|x|"] if wide else result.variables
    for name in names:
        table.add_column(name, justify="right", no_wrap=True)
    for row in result.rows:
        if wide:
            cells = [num(sum(v * v for v in row.x) ** 0.5, 8)]
        else:
            cells = [num(v, 8) for v in row.x]
        step = "-" if searching and row.step == 0 else num(row.lr, 3)  # no step length before the first step
        table.add_row(str(row.step), num(row.f, 8), num(row.grad_norm, 3), step, *cells)
    return table


def summary_panel(result: RunResult):
    from rich.panel import Panel

    colour = {"converged": "green", "max_steps": "yellow"}.get(result.status, "red")
    if len(result.variables) <= 12:
        solution = ", ".join(f"{k} = {num(v, 10)}" for k, v in zip(result.variables, result.x, strict=True))
    else:
        solution = f"{len(result.variables)} variables, |x| = {num(sum(v * v for v in result.x) ** 0.5, 8)}"
    lines = [
        f"solution   {solution}",
        f"f          {num(result.f, 12)}",
        f"|g|        {num(result.grad_norm, 3)}",
        f"steps      {result.steps}",
        f"status     [{colour}]{result.status}[/]: {result.message}",
        f"time       {result.time_s:.3f} s",
        f"evals      {evaluations_text(result.evaluations)}",
    ]
    if result.best["step"] != result.steps and result.starts is None:
        lines.append(f"best       f = {num(result.best['f'], 12)} at step {result.best['step']}")
    if result.stationary:
        lines.append(f"point      {result.stationary}")
    if result.note:
        lines.append(f"note       [yellow]{literal(result.note)}[/]")
    spark = sparkline([r.f for r in result.rows] if result.values is None else result.values)
    if spark:
        lines.append(f"f          {spark}")
    if result.optimizer.get("name") == "rmsprop":
        place = (
            "inside the sqrt (TensorFlow/Optax)"
            if result.optimizer.get("eps_in_sqrt")
            else "outside the sqrt (PyTorch)"
        )
        lines.append(f"rmsprop    eps added {place}")
    return Panel("\n".join(lines), title="summary", expand=False)


def evaluations_text(counts: dict[str, int]) -> str:
    """``f: 41, gradient: 41`` (and the Hessians and Hessian-vector products, when there were any)."""
    names = {"f": "f", "grad": "gradient", "hessian": "Hessian", "hvp": "Hessian-vector"}
    return ", ".join(f"{names[k]}: {v}" for k, v in counts.items() if k in ("f", "grad") or v)


def minima_table(result: RunResult):
    """The best ``MAX_MINIMA_ROWS`` distinct minima (Rich takes ~1 ms a row: a million would take minutes);
    more than ``MAX_VARIABLE_COLUMNS`` variables show as |x|."""
    from rich.table import Table

    s, minima = result.starts, result.minima
    shown = "" if len(minima) <= MAX_MINIMA_ROWS else f", the best {MAX_MINIMA_ROWS} of {len(minima):,} (all in --json)"
    box = f"[{num(s['box'][0])}, {num(s['box'][1])}]"
    table = Table(title=f"distinct minima from {s['count']} starts in {box} (seed {s['seed']}){shown}")
    wide = len(result.variables) > MAX_VARIABLE_COLUMNS
    for col in (*(["|x|"] if wide else result.variables), "f", "starts", "kind"):
        table.add_column(col, justify="right", no_wrap=True)
    for m in minima[:MAX_MINIMA_ROWS]:
        x = [math.hypot(*m["x"].values())] if wide else m["x"].values()
        table.add_row(*(num(v, 8) for v in x), num(m["f"], 6), str(m["count"]), m.get("stationary") or "-")
    return table


def show_run(result: RunResult, quiet: bool = False) -> None:
    console = stdout_console()
    if result.starts is not None:
        console.print(minima_table(result))
    elif not quiet:
        console.print(iteration_table(result))
    console.print(summary_panel(result))

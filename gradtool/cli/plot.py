"""`gradtool plot`: a picture of a function (curve, tangents, contour) and of optimizers running on it."""

from __future__ import annotations

from typing import Annotated

import typer

from gradtool.cli.common import (
    BUDGET_DEFAULT,
    EXPRESSION_FIRST,
    Budget,
    Dim,
    Expr,
    NoCache,
    Vars,
    app,
    handled,
    save_plot,
)
from gradtool.cli.optimize import X0
from gradtool.cli.options import Choice, optimizer_options
from gradtool.defaults import ENGINE, STEPS, TOL

Out = Annotated[str, typer.Option("--out", help="Picture file: .png, .svg or .pdf (default plot.png).")]
Dpi = Annotated[int, typer.Option("--dpi", help="Resolution of a PNG (dots per inch).")]
MAX_NUMBERS = 100  # tangent lines: each is a legend entry, and matplotlib's legend placement is superlinear


def parse_range(text: str | None, option: str) -> tuple[float, float] | None:
    """``LO,HI`` with finite numbers and LO < HI, else a PlotError naming the option."""
    import math

    from gradtool.plot import PlotError

    if text is None:
        return None
    parts = text.split(",")
    try:
        lo, hi = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        lo = hi = math.nan
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise PlotError(f"{option} {text!r} must be LO,HI (two numbers; write {option}=-1,1 for negatives)")
    if not lo < hi:
        raise PlotError(f"{option} {text!r} needs LO < HI")
    if not math.isfinite(hi - lo):
        raise PlotError(f"{option} {text!r} is too wide: HI - LO must be a finite number")
    return lo, hi


def parse_numbers(text: str | None, option: str) -> list[float]:
    """A comma list of finite numbers (``5,10``)."""
    import math

    from gradtool.plot import PlotError

    if not text:
        return []
    try:
        values = [float(p) for p in text.split(",")]
    except ValueError:
        values = [math.nan]
    if not all(math.isfinite(v) for v in values):
        raise PlotError(f"{option} {text!r} must be a comma list of numbers, e.g. 5,10")
    if len(values) > MAX_NUMBERS:
        raise PlotError(f"{option}: {len(values)} numbers; at most {MAX_NUMBERS}")
    return values


def prepare_runs(objective, choice: Choice, x0, **options) -> list:
    """One validated run per optimizer of ``--optimizers`` (nothing is computed yet); without any, the run
    options given are an error."""
    from gradtool.descent import prepare
    from gradtool.errors import ConfigError

    run_options = {k: v for k, v in options.items() if v is not None}
    if not choice.optimizers:
        given = ["--x0"] * (x0 is not None) + [f"--{k.replace('_', '-')}" for k in (*choice.hyper, *run_options)]
        given += ["--schedule"] * (choice.schedule is not None or bool(choice.schedule_flags))
        if given:
            raise ConfigError(f"{', '.join(given)} set up optimizer runs: add --optimizers")
        return []
    defaults = {"steps": STEPS.default, "tol": TOL.default, "gradient": ENGINE}
    entries, schedule = choice.entries(), choice.schedule_entry()
    scheduled = {} if schedule is None else {"schedule": schedule.pop("name"), "schedule_options": schedule}
    runs = []
    for entry in entries:
        hyper = {k: v for k, v in entry.items() if k not in ("name", "label", "schedule")}
        options = {**defaults, **run_options, **scheduled}
        runs.append(prepare(objective, x0, optimizer=entry["name"], classify=False, **options, **hyper))
    return runs


@app.command(context_settings=EXPRESSION_FIRST)
@handled
@optimizer_options(many=True)
def plot(
    expr: Expr,
    choice: Choice,
    xrange: Annotated[
        str | None,
        typer.Option(
            "--range",
            help="LO,HI of x (and of y unless --yrange); default: "
            "the named function's domain, else around the points drawn. "
            "Write --range=-2,2.",
        ),
    ] = None,
    yrange: Annotated[str | None, typer.Option("--yrange", help="LO,HI of the second variable.")] = None,
    derivative: Annotated[bool, typer.Option("--derivative", help="1 variable: also draw f' (dashed).")] = False,
    tangent_at: Annotated[
        str | None, typer.Option("--tangent-at", help="1 variable: tangent lines at these x, e.g. 5,10.")
    ] = None,
    x0: X0 = None,
    steps: Annotated[int | None, typer.Option("--steps", help=f"{STEPS.help[:-1]} (default {STEPS.default}).")] = None,
    gradient: Annotated[
        str | None, typer.Option("--gradient", help="Gradient engine: analytic (default), autodiff or numeric.")
    ] = None,
    tol: Annotated[float | None, typer.Option("--tol", help=f"{TOL.help[:-1]} (default {TOL.default_text}).")] = None,
    out: Out = "plot.png",
    dpi: Dpi = 150,
    vars: Vars = None,
    dim: Dim = None,
    budget: Budget = BUDGET_DEFAULT,
    no_cache: NoCache = False,
) -> None:
    """Draw f: its curve (1 variable; --derivative, --tangent-at) or filled contour (2), and optimizer paths.

    With more than 2 variables, --optimizers draws loss curves only. See docs/plots.md.

    Exit status: 0 written, 2 bad input (checked before anything runs; no file is left behind).
    """
    from gradtool.expr.objective import load_objective
    from gradtool.plot import check_output, check_picture, draw_landscape

    check_output(out, dpi)
    xlim, ylim = parse_range(xrange, "--range"), parse_range(yrange, "--yrange")
    tangents = parse_numbers(tangent_at, "--tangent-at")
    objective = load_objective(expr, dim, vars)
    runs = bool(choice.optimizers)
    check_picture(objective, xrange=xlim, yrange=ylim, tangents=tangents, derivative=derivative, runs=runs)
    problems = prepare_runs(objective, choice, x0, steps=steps, tol=tol, gradient=gradient)
    results = []
    for problem in problems:
        results.append(problem.run(record=True))
        if results[-1].status == "interrupted":  # Ctrl-C or SIGTERM stops the whole picture, not one run
            raise KeyboardInterrupt
    figure = draw_landscape(objective, results, xrange=xlim, yrange=ylim, derivative=derivative, tangents=tangents)
    save_plot(figure, out, dpi=dpi)

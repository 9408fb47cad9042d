"""`gradtool minimize`, and the options of a run that compare, lr-find and plot share."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from gradtool.cli.common import (
    BUDGET_DEFAULT,
    EXPRESSION_FIRST,
    Budget,
    Dim,
    Expr,
    Json,
    NoCache,
    PlotFile,
    Vars,
    app,
    claim_outputs,
    handled,
    report_stream,
    save_plot,
)
from gradtool.cli.options import Choice, optimizer_options
from gradtool.defaults import ENGINE, FTOL, STEPS, TOL, XTOL

# ---- the options of a run, shared by minimize, compare, lr-find and plot ----------------------------------

X0 = Annotated[
    str | None,
    typer.Option(
        "--x0",
        help="Start: x=1,y=2 or 1,2 (default: the named function's "
        "usual start, else zeros). Use --x0=-1.5,2 for negative values.",
    ),
]
Gradient = Annotated[str, typer.Option("--gradient", help="Gradient engine: analytic, autodiff or numeric.")]
Steps = Annotated[int, typer.Option("--steps", help=STEPS.help)]
Tol = Annotated[float, typer.Option("--tol", help=TOL.help)]
Ftol = Annotated[float | None, typer.Option("--ftol", help=FTOL.help)]
Xtol = Annotated[float | None, typer.Option("--xtol", help=XTOL.help)]
Starts = Annotated[
    int | None, typer.Option("--starts", help="Multi-start: N starts uniform in --box, run as one vectorized batch.")
]
Box = Annotated[
    str | None,
    typer.Option(
        "--box", help="LO,HI for --starts (default: the named function's domain, else -1,1). Write --box=-5,5."
    ),
]
Seed = Annotated[int, typer.Option("--seed", help="Seed for --starts.")]
Every = Annotated[int | None, typer.Option("--every", help="A table row every K steps (default: about 20 rows).")]
Trajectory = Annotated[
    str | None,
    typer.Option(
        "--trajectory",
        help="Stream every iterate to this CSV: step,<variables>,f,grad_norm,lr ('-': stdout, the report then on "
        "stderr); the last column is t, the step length, for a method that chooses it.",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary.")]
RequireConverged = Annotated[bool, typer.Option("--require-converged", help="Exit 1 when the run stops at max steps.")]


class ProgressBar:
    """A Rich progress bar on stderr, shown only for runs longer than about a second on a terminal."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.bar = total, enabled and sys.stderr.isatty(), None
        self.start = time.perf_counter()

    def __call__(self, step: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.start < 1.0:
                return
            from rich.progress import Progress

            self.bar = Progress(transient=True, console=__import__("rich.console").console.Console(stderr=True))
            self.bar.start()
            self.task = self.bar.add_task("optimizing", total=self.total)
        self.bar.update(self.task, completed=step)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command(context_settings=EXPRESSION_FIRST)
@handled
@optimizer_options()
def minimize(
    expr: Expr,
    choice: Choice,
    x0: X0 = None,
    gradient: Gradient = ENGINE,
    steps: Steps = STEPS.default,
    tol: Tol = TOL.default,
    ftol: Ftol = None,
    xtol: Xtol = None,
    starts: Starts = None,
    box: Box = None,
    seed: Seed = 0,
    every: Every = None,
    trajectory: Trajectory = None,
    quiet: Quiet = False,
    require_converged: RequireConverged = False,
    plot: PlotFile = None,
    vars: Vars = None,
    dim: Dim = None,
    json: Json = False,
    budget: Budget = BUDGET_DEFAULT,
    no_cache: NoCache = False,
) -> None:
    """Minimize an expression with a descent variant; print the iteration table and a summary.

    Exit status: 0 converged or max steps (1 with --require-converged), 1 diverged, 2 bad input,
    130 interrupted.
    """
    from gradtool.descent import minimize as run_minimize
    from gradtool.errors import ConfigError

    options = dict(gradient=gradient, steps=steps, tol=tol, ftol=ftol, xtol=xtol, dim=dim, variables=vars, every=every)
    options.update(choice.run_options())
    if every is not None and every < 1:
        raise ConfigError(f"--every must be >= 1, got {every}")
    to_stdout = claim_outputs(json, trajectory=trajectory, plot=plot)
    if plot is not None:  # the picture's file and kind are checked before the run; the objective is built once
        from gradtool.expr.objective import load_objective
        from gradtool.plot import check_output, check_picture

        check_output(plot)
        expr = load_objective(expr, dim, vars)
        check_picture(expr, multistart=starts is not None)
    if starts is not None:
        if trajectory:
            raise ConfigError("--trajectory records one run; it cannot be combined with --starts")
        result = run_minimize(expr, x0, starts=starts, box=box, seed=seed, **options)
    else:
        result = _single_run(run_minimize, expr, x0, options, trajectory, quiet or json, plot is not None)
    if plot is not None:
        from gradtool.plot import draw_result

        save_plot(draw_result(result, objective=expr), plot)
    with report_stream(to_stdout):
        _report(result, json, quiet)
    code = result.exit_code
    if code == 0 and require_converged and not result.converged:
        code = 1
    if code:
        raise typer.Exit(code)


def _single_run(run_minimize, expr, x0, options, trajectory, silent, record):
    progress = ProgressBar(options["steps"], not silent)
    try:
        if trajectory:
            from gradtool.descent import prepare
            from gradtool.io import check_writable, open_output

            check_writable(trajectory)
            problem = prepare(expr, x0, **options)  # validate everything before creating the file
            with open_output(trajectory) as handle:
                return problem.run(sink=problem.trajectory(handle), progress=progress, record=record)
        return run_minimize(expr, x0, progress=progress, record=record, **options)
    finally:
        progress.close()


def _report(result, json: bool, quiet: bool) -> None:
    if json:
        from gradtool.report.common import print_json

        print_json(result.to_dict())
    else:
        from gradtool.report.runs import show_run

        show_run(result, quiet)


@app.command()
@handled
def optimizers(
    name: Annotated[
        str | None, typer.Argument(help="An optimizer, schedule or line search: its formula and parameters.")
    ] = None,
    schedules: Annotated[bool, typer.Option("--schedules", help="List the learning-rate schedules instead.")] = False,
    line_searches: Annotated[
        bool, typer.Option("--line-searches", help="List the line searches (line_search=...) instead.")
    ] = False,
    json: Json = False,
) -> None:
    """The optimizers (or --schedules, --line-searches): formula, parameters with their defaults and bounds,
    torch equivalent."""
    from gradtool.optim.describe import describe, line_search_listing, optimizer_listing, schedule_listing

    if name is not None:
        entry = describe(name)
        if json:
            from gradtool.report.common import print_json

            return print_json(entry)
        from gradtool.report.optimizers import show_entry

        return show_entry(entry)
    if schedules and line_searches:
        from gradtool.errors import ConfigError

        raise ConfigError("give --schedules or --line-searches, not both")
    kind = "schedules" if schedules else "line_searches" if line_searches else "optimizers"
    entries = {"schedules": schedule_listing, "line_searches": line_search_listing}.get(kind, optimizer_listing)()
    if json:
        from gradtool.report.common import print_json

        return print_json({kind: entries})
    from gradtool.report.optimizers import show_listing

    show_listing(entries, kind)

"""Commands for configs and comparisons: run, compare, schema, lr-find."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

import typer

from gradtool.cli.cluster import TIMEOUT_S, Cluster, ClusterTimeout, Workers, cluster_executor, show_progress
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
from gradtool.cli.optimize import X0, Box, Ftol, Gradient, Seed, Steps, Tol, Xtol
from gradtool.cli.options import Choice, optimizer_options
from gradtool.defaults import ENGINE, LR_FIND_STEPS, LR_MAX, LR_MIN, LR_NUM, STEPS, TOL

Jobs = Annotated[
    int,
    typer.Option(
        "--jobs", "-j", help="Run the runs in N processes (at most one per run, 2 per CPU; same results, same order)."
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only the comparison tables.")]


def _jobs(jobs: int, runs: int, flag: str = "--jobs") -> int:
    """``--jobs`` (or ``--workers``) bounded by the number of runs and by ``max_jobs()`` (2 per usable CPU),
    saying so on stderr when that lowers it."""
    from gradtool.executor import JOBS_PER_CPU, max_jobs, usable_cpus

    bound = max(1, min(runs, max_jobs()))
    if isinstance(jobs, int) and jobs > bound:
        why = _count(runs, "run") if runs <= max_jobs() else f"{JOBS_PER_CPU} per CPU, {_count(usable_cpus(), 'CPU')}"
        typer.echo(f"note: {flag} {jobs} lowered to {bound} ({why})", err=True)
        return bound
    return jobs


@contextlib.contextmanager
def _executor(runs: int, jobs: int, cluster: str | None, workers: int | None, timeout: float) -> Iterator[dict]:
    """The keywords of ``run_plans`` for the executor the options choose: ``jobs`` (serial or local processes,
    bounded), or Dask (``--cluster``, ``--workers`` bounded the same way) with a progress bar on a terminal."""
    executor = cluster_executor(cluster, workers, timeout, jobs)
    if executor is None:
        yield {"jobs": _jobs(jobs, runs)}
        return
    from gradtool.report.progress import sweep_progress

    if executor.workers:
        executor.workers = _jobs(executor.workers, runs, "--workers")
    with sweep_progress(runs, show_progress(executor)) as progress:
        yield {"executor": executor, "progress": progress}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _check_plot(plot: str | None) -> None:
    if plot is not None:  # before anything runs: a bad picture path must not cost a sweep
        from gradtool.plot import check_output

        check_output(plot)


def _report_runs(results: list, json: bool, quiet: bool) -> None:
    if json:
        from gradtool.report.common import print_json

        docs = [r.to_dict() for r in results]
        print_json(docs[0] if len(docs) == 1 else docs)
    else:
        from gradtool.report.compare import show_file_results

        show_file_results(results, quiet)
    code = max(r.exit_code for r in results)
    if code:
        raise typer.Exit(code)


@app.command()
@handled
def run(
    files: Annotated[list[str], typer.Argument(help="Config files (YAML), e.g. configs/*.yaml.")],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a key: KEY.PATH=VALUE (YAML value), e.g. --set steps=200 --set optimizers.0.lr=0.05.",
        ),
    ] = None,
    jobs: Jobs = 1,
    cluster: Cluster = None,
    workers: Workers = None,
    cluster_timeout: ClusterTimeout = TIMEOUT_S,
    plot: PlotFile = None,
    json: Json = False,
    quiet: Quiet = False,
    budget: Budget = BUDGET_DEFAULT,
    no_cache: NoCache = False,
) -> None:
    """Run config files: every optimizer entry x every sweep value; a comparison table sorted by final f
    (fit configs: by final training loss).

    Every file is validated before anything runs. Exit status: 0 every run finished (converged or max
    steps; fits completed or early-stopped) and every gradient check passed, 1 a run diverged or a check
    failed, 2 bad input, 3 a run failed with an error (e.g. on a Dask worker), 130/143 stopped by
    Ctrl-C/SIGTERM (what ran is reported).
    """
    from gradtool.config import load_configs
    from gradtool.config.execute import run_plans
    from gradtool.config.paths import writes_stdout
    from gradtool.errors import ConfigError

    if not files:
        raise ConfigError("no config file given")
    plans = load_configs(files, set_ or ())
    to_stdout = writes_stdout(plans)
    if to_stdout and (json or plot == "-"):
        raise ConfigError(f"{'--json' if json else '--plot -'} and an output '-' of a config both want stdout")
    to_stdout = claim_outputs(json, plot=plot) or to_stdout
    _check_plot(plot)
    runs = sum(len(p.runs) for p in plans if hasattr(p, "runs"))
    with _executor(runs, jobs, cluster, workers, cluster_timeout) as how:
        results = run_plans(plans, record=plot is not None, **how)
    if plot is not None:
        from gradtool.plot.runs import draw_file_results

        save_plot(draw_file_results(results), plot)
    with report_stream(to_stdout):
        _report_runs(results, json, quiet)


@app.command(context_settings=EXPRESSION_FIRST)
@handled
@optimizer_options(many=True, required=True)
def compare(
    expr: Expr,
    choice: Choice,
    x0: X0 = None,
    gradient: Gradient = ENGINE,
    steps: Steps = STEPS.default,
    tol: Tol = TOL.default,
    ftol: Ftol = None,
    xtol: Xtol = None,
    starts: Annotated[int | None, typer.Option("--starts", help="Multi-start: N starts per optimizer.")] = None,
    box: Box = None,
    seed: Seed = 0,
    jobs: Jobs = 1,
    cluster: Cluster = None,
    workers: Workers = None,
    cluster_timeout: ClusterTimeout = TIMEOUT_S,
    plot: PlotFile = None,
    vars: Vars = None,
    dim: Dim = None,
    json: Json = False,
    quiet: Quiet = False,
    budget: Budget = BUDGET_DEFAULT,
    no_cache: NoCache = False,
) -> None:
    """Compare optimizers on one function (the comparison `run` gives for a config, without a file).

    --lr and a hyperparameter option go to every listed optimizer that has it and does not set it in its
    own shorthand. Exit status as for `run`.
    """
    from gradtool.config import compare as run_compare

    multi = None if starts is None else {"count": starts, "seed": seed, **({"box": box} if box else {})}
    to_stdout = claim_outputs(json, plot=plot)
    objective = None
    if plot is not None:
        from gradtool.expr.objective import load_objective
        from gradtool.plot import check_picture

        _check_plot(plot)
        objective = load_objective(expr, dim, vars)
        check_picture(objective, multistart=starts is not None)
    run = dict(gradient=gradient, steps=steps, tol=tol, ftol=ftol, xtol=xtol, dim=dim, variables=vars)
    run["record"] = plot is not None
    entries, schedule = choice.entries(), choice.schedule_entry()
    with _executor(len(entries), jobs, cluster, workers, cluster_timeout) as how:
        result = run_compare(expr, entries, x0=x0, schedule=schedule, starts=multi, **run, **how)
    if plot is not None:
        from gradtool.plot.runs import draw_file_results, draw_runs
        from gradtool.result import RunResult

        runs = [r for r in result.runs if isinstance(r, RunResult)]  # not the runs that raised or were cancelled
        multistart = any(r.starts is not None for r in runs)
        save_plot(draw_file_results([result]) if multistart else draw_runs(runs, objective=objective), plot)
    with report_stream(to_stdout):
        _report_runs([result], json, quiet)


@app.command()
@handled
def schema() -> None:
    """Print the JSON Schema of config files (for editors), generated from the definition that validates."""
    from gradtool.config import config_schema
    from gradtool.report.common import print_json

    print_json(config_schema())


@app.command("lr-find", context_settings=EXPRESSION_FIRST)
@handled
@optimizer_options(lr=False, schedule=False)
def lr_find(
    expr: Expr,
    choice: Choice,
    lr_min: Annotated[float, typer.Option("--min", help="Smallest learning rate.")] = LR_MIN,
    lr_max: Annotated[float, typer.Option("--max", help="Largest learning rate.")] = LR_MAX,
    num: Annotated[int, typer.Option("--num", help="How many learning rates (geometric spacing).")] = LR_NUM,
    steps: Annotated[int, typer.Option("--steps", help="Steps per learning rate.")] = LR_FIND_STEPS,
    x0: X0 = None,
    gradient: Gradient = ENGINE,
    tol: Tol = TOL.default,
    vars: Vars = None,
    dim: Dim = None,
    json: Json = False,
    budget: Budget = BUDGET_DEFAULT,
    no_cache: NoCache = False,
) -> None:
    """Learning-rate range test: every lr of a geometric range runs from x0 as one batch.

    Reports each lr's final f and whether it diverged; recommends the largest stable lr (the largest lr
    below the smallest diverging one whose run ended below f(x0)) and the best one (lowest final f).
    Exit status: 0 a stable lr was found, 1 none was, 2 bad input, 130/143 stopped by Ctrl-C/SIGTERM (the
    learning rates' results so far are reported).
    """
    from gradtool.lrfind import lr_find as run_lr_find

    options = dict(lr_min=lr_min, lr_max=lr_max, num=num, steps=steps, tol=tol, gradient=gradient, dim=dim)
    result = run_lr_find(expr, x0, variables=vars, **options, **choice.run_options())
    if json:
        from gradtool.report.common import print_json

        print_json(result.to_dict())
    else:
        from gradtool.report.compare import show_lr_find

        show_lr_find(result)
    if result.interrupted:
        raise typer.Exit(130)  # 143 for SIGTERM (gradtool.cli.main)
    if result.largest_stable is None:
        raise typer.Exit(1)

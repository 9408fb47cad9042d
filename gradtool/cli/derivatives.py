"""Commands about derivatives: grad, check-grad, functions."""

from __future__ import annotations

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
from gradtool.cli.fit import problem_options
from gradtool.defaults import ATOL, RTOL

At = Annotated[str | None, typer.Option("--at", help="Point: x=1,y=2 or 1,2 in variable order.")]


@app.command(context_settings=EXPRESSION_FIRST)
@handled
def grad(
    expr: Expr,
    at: At = None,
    hessian: Annotated[
        bool,
        typer.Option(
            "--hessian",
            help="Also the Hessian; at a point, its eigenvalues and whether the point is a minimum, maximum or saddle.",
        ),
    ] = False,
    latex: Annotated[bool, typer.Option("--latex", help="Print the partial derivatives as LaTeX.")] = False,
    vars: Vars = None,
    dim: Dim = None,
    json: Json = False,
    budget: Budget = BUDGET_DEFAULT,
    no_cache: NoCache = False,
) -> None:
    """The symbolic gradient (simplified), and its value at --at."""
    from gradtool.derive import describe_gradient
    from gradtool.expr.objective import load_objective

    objective = load_objective(expr, dim, vars)
    point = objective.point(at) if at is not None else None
    info = describe_gradient(objective, point, hessian, form=None if json else "latex" if latex else "pretty")
    if json:
        from gradtool.report.common import print_json

        info.pop("_printed")
        print_json(info)
    else:
        from gradtool.report.derivatives import show_gradient

        show_gradient(info, latex)


def _check_points(objective, at, random, seed, box):
    import numpy as np

    from gradtool.check import random_points
    from gradtool.errors import PointError
    from gradtool.expr.point import parse_box

    if (at is None) == (random is None):
        raise PointError("give exactly one of --at POINT or --random N")
    if at is not None:
        return np.array([objective.point(at)])
    if random < 1 or random > 100_000:
        raise PointError(f"--random must be between 1 and 100000, got {random}")
    if seed < 0:
        raise PointError(f"--seed must be a whole number >= 0, got {seed}")
    return random_points(objective, random, seed, parse_box(box) if box else None)


Random = Annotated[int | None, typer.Option("--random", help="Check N random points in --box.")]
CheckSeed = Annotated[int, typer.Option("--seed", help="Seed for --random and --taylor.")]
CheckBox = Annotated[
    str | None, typer.Option("--box", help="LO,HI for --random (default: the named function's domain, else -2,2).")
]
UserGrad = Annotated[
    str | None, typer.Option("--grad", help='Your hand-derived gradient, "e1, e2, ..." in variable order.')
]
Method = Annotated[
    str | None,
    typer.Option(
        "--method",
        help="Numeric gradient: adaptive (default: shrinking steps, Richardson extrapolation, error "
        "estimate), complex (complex step), central, forward, backward or five-point.",
    ),
]
Step = Annotated[
    float | None,
    typer.Option(
        "--h",
        help="Fixed step of central/forward/backward/five-point (default eps^(1/k)*max(1,|x|)) "
        "or complex (default 1e-20*|x|).",
    ),
]
Rtol = Annotated[float, typer.Option("--rtol", help=RTOL.help)]
Atol = Annotated[float, typer.Option("--atol", help=ATOL.help)]
SweepH = Annotated[
    bool, typer.Option("--sweep-h", help="Tabulate forward/central error for h = 1e-1 ... 1e-15 at the (first) point.")
]
Taylor = Annotated[
    bool, typer.Option("--taylor", help="Step-size-free check: the Taylor remainder must shrink like t^2.")
]
SampleParams = Annotated[
    int | None,
    typer.Option(
        "--sample-params",
        help="With --fit: check this many parameters, drawn with --seed (default 300; a number at least the "
        "parameter count checks them all).",
    ),
]
FitModel = Annotated[
    bool,
    typer.Option(
        "--fit",
        help="EXPR is a fit model (mlp:... or an expression in data "
        "columns and parameters): check its backprop gradients on --data.",
    ),
]


@app.command("check-grad", context_settings=EXPRESSION_FIRST)
@handled
@problem_options(standardize=False, last=True)
def check_grad(
    expr: Expr,
    problem: dict,
    at: At = None,
    random: Random = None,
    seed: CheckSeed = 0,
    box: CheckBox = None,
    user_grad: UserGrad = None,
    method: Method = None,
    h: Step = None,
    rtol: Rtol = RTOL.default,
    atol: Atol = ATOL.default,
    sweep_h: SweepH = False,
    taylor: Taylor = False,
    plot: PlotFile = None,
    vars: Vars = None,
    dim: Dim = None,
    json: Json = False,
    fit: FitModel = False,
    sample_params: SampleParams = None,
    budget: Budget = BUDGET_DEFAULT,
    no_cache: NoCache = False,
) -> None:
    """Check gradients: analytic vs autodiff vs numeric differences, or YOUR gradient (--grad) vs the truth.

    With --fit: backprop (one reverse sweep) vs central differences for every parameter of a fit problem.

    Exit status: 0 all agree within tolerance, 1 a gradient disagrees, 2 bad input.
    """
    if fit:
        from gradtool.cli.fit import check_fit_command

        point_options = {"--at": at, "--random": random, "--box": box, "--grad": user_grad, "--plot": plot}
        point_options |= {"--sweep-h": sweep_h or None, "--taylor": taylor or None, "--vars": vars, "--dim": dim}
        _refuse_with_fit({**point_options, "--method": method})
        return check_fit_command(expr, problem, seed, h, rtol, atol, json, sample_params)
    if sample_params is not None:
        from gradtool.errors import ConfigError

        raise ConfigError("--sample-params applies to --fit (a fit model's parameters)")
    options = dict(user=user_grad, method=method or "adaptive", h=h, rtol=rtol, atol=atol, sweep=sweep_h)
    report, objective, to_stdout = _run_check(expr, at, random, seed, box, plot, vars, dim, json, taylor, options)
    if plot is not None:
        from gradtool.plot import draw_step_sweep

        at = report["points"][0]["at"]
        at_text = ", ".join(f"{k} = {v:.4g}" for k, v in at.items()) if len(at) <= 4 else "the first point"
        save_plot(draw_step_sweep(report["sweep"], title=f"{objective.text} at {at_text}"), plot)
    _report_check(report, json, to_stdout)
    if not report["ok"]:
        raise typer.Exit(1)


def _refuse_with_fit(options: dict) -> None:
    """Point options do nothing with --fit: an error naming them, never silently ignored."""
    ignored = [name for name, value in options.items() if value is not None]
    if ignored:
        from gradtool.errors import ConfigError

        raise ConfigError(
            f"{', '.join(ignored)} do(es) not apply with --fit (it checks the parameters of "
            "the model at its initial values with central differences)"
        )


def _run_check(expr, at, random, seed, box, plot, vars, dim, json, taylor, options):
    """``(report, objective, whether the report goes to stderr)``; the picture's file is checked first."""
    from gradtool.check import run_check
    from gradtool.expr.objective import load_objective

    if plot is not None:
        from gradtool.plot import PlotError, check_output

        if not options["sweep"]:
            raise PlotError("--plot draws the step-size study: add --sweep-h")
        check_output(plot)
    to_stdout = claim_outputs(json, plot=plot)
    objective = load_objective(expr, dim, vars)
    points = _check_points(objective, at, random, seed, box)
    return run_check(objective, points, taylor=taylor, seed=seed, **options), objective, to_stdout


def _report_check(report: dict, json: bool, to_stdout: bool) -> None:
    if json:
        from gradtool.report.common import print_json

        print_json(report)
        return
    from gradtool.report.derivatives import show_check, show_sweep

    with report_stream(to_stdout):
        show_check(report)
        if report["sweep"] is not None:
            show_sweep(report["sweep"])


@app.command()
@handled
def functions(
    dim: Dim = None,
    json: Json = False,
) -> None:
    """The named test functions: formula, usual domain, start point and all known global minima."""
    from gradtool.expr.library import TEST_FUNCTIONS, describe

    entries = [describe(name, dim if TEST_FUNCTIONS[name].n_dim else None) for name in sorted(TEST_FUNCTIONS)]
    if json:
        from gradtool.report.common import print_json

        print_json({"functions": entries})
    else:
        from gradtool.report.derivatives import show_functions

        show_functions(entries)

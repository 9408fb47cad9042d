"""Commands that run optimizers: minimize (compare, run and lr-find build on the same options)."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from gradtool.cli.common import (
    EXPRESSION_FIRST,
    Dim,
    Expr,
    Json,
    PlotFile,
    Vars,
    app,
    claim_outputs,
    handled,
    report_stream,
)

# ---- the options of a run, shared by minimize and compare -----------------------------------------------

X0 = Annotated[
    str | None,
    typer.Option(
        "--x0",
        help="Start: x=1,y=2 or 1,2 (default: the named function's "
        "usual start, else zeros). Use --x0=-1.5,2 for negative values.",
    ),
]
Lr = Annotated[float | None, typer.Option("--lr", help="Learning rate (default: the optimizer's torch default).")]
Momentum = Annotated[float | None, typer.Option("--momentum", help="Momentum mu (momentum, nag, rmsprop).")]
Dampening = Annotated[float | None, typer.Option("--dampening", help="Dampening (momentum).")]
Alpha = Annotated[float | None, typer.Option("--alpha", help="RMSprop smoothing constant (0.99).")]
Eps = Annotated[float | None, typer.Option("--eps", help="Term added for numerical stability.")]
Beta1 = Annotated[float | None, typer.Option("--beta1", help="Adam/AdamW first-moment decay (0.9).")]
Beta2 = Annotated[float | None, typer.Option("--beta2", help="Adam/AdamW second-moment decay (0.999).")]
WeightDecay = Annotated[float | None, typer.Option("--weight-decay", help="L2 penalty (decoupled in adamw).")]
Centered = Annotated[bool, typer.Option("--centered", help="Centered RMSprop.")]
EpsInSqrt = Annotated[
    bool,
    typer.Option(
        "--eps-in-sqrt", help="RMSprop: add eps inside the square root (TensorFlow/Optax) instead of outside (PyTorch)."
    ),
]
Amsgrad = Annotated[bool, typer.Option("--amsgrad", help="Adam/AdamW: AMSGrad variant.")]
LrDecay = Annotated[float | None, typer.Option("--lr-decay", help="Adagrad learning-rate decay.")]
InitAcc = Annotated[float | None, typer.Option("--initial-accumulator-value", help="Adagrad initial accumulator.")]
Rho = Annotated[float | None, typer.Option("--rho", help="Adadelta decay (0.9).")]
Schedule = Annotated[
    str | None, typer.Option("--schedule", help="constant, step, exponential, inverse_time or cosine.")
]
Gamma = Annotated[float | None, typer.Option("--gamma", help="Decay factor (step, exponential).")]
StepSize = Annotated[int | None, typer.Option("--step-size", help="Steps between decays (step).")]
Decay = Annotated[float | None, typer.Option("--decay", help="inverse_time: lr/(1+decay*t).")]
TMax = Annotated[int | None, typer.Option("--t-max", help="Half-period of cosine annealing.")]
EtaMin = Annotated[float | None, typer.Option("--eta-min", help="Smallest lr of cosine annealing.")]
Warmup = Annotated[int | None, typer.Option("--warmup", help="Linear warm-up steps in front of the schedule.")]
Gradient = Annotated[str, typer.Option("--grad", help="Gradient engine: analytic, autodiff or numeric.")]
Steps = Annotated[int, typer.Option("--steps", help="Maximum number of steps.")]
Tol = Annotated[float, typer.Option("--tol", help="Stop when |g| <= tol (0: never stop early on |g|).")]
Ftol = Annotated[float | None, typer.Option("--ftol", help="Stop when |f_t - f_(t-1)| <= ftol.")]
Xtol = Annotated[float | None, typer.Option("--xtol", help="Stop when the step's length |x_t - x_(t-1)| <= xtol.")]


HYPER_KEYS = (
    "momentum",
    "dampening",
    "alpha",
    "eps",
    "beta1",
    "beta2",
    "weight_decay",
    "lr_decay",
    "initial_accumulator_value",
    "rho",
)
FLAG_KEYS = ("centered", "eps_in_sqrt", "amsgrad")
SCHEDULE_KEYS = ("gamma", "step_size", "decay", "t_max", "eta_min", "warmup")


def hyper_options(options: dict) -> dict:
    """The hyperparameters the user gave, from a command's ``locals()``: an option the optimizer lacks is
    then an error, not silently ignored (flags count only when set)."""
    out = {k: options[k] for k in HYPER_KEYS if options.get(k) is not None}
    out.update({k: True for k in FLAG_KEYS if options.get(k)})
    return out


def schedule_options(options: dict) -> dict:
    """The schedule parameters the user gave, from a command's ``locals()``."""
    return {k: options[k] for k in SCHEDULE_KEYS if options.get(k) is not None}


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
def minimize(
    expr: Expr,
    x0: X0 = None,
    optimizer: Annotated[
        str, typer.Option("--optimizer", "-o", help="gd (sgd), momentum, nag, rmsprop, adam, adamw, adagrad, adadelta.")
    ] = "gd",
    lr: Lr = None,
    momentum: Momentum = None,
    dampening: Dampening = None,
    alpha: Alpha = None,
    eps: Eps = None,
    beta1: Beta1 = None,
    beta2: Beta2 = None,
    weight_decay: WeightDecay = None,
    centered: Centered = False,
    eps_in_sqrt: EpsInSqrt = False,
    amsgrad: Amsgrad = False,
    lr_decay: LrDecay = None,
    initial_accumulator_value: InitAcc = None,
    rho: Rho = None,
    schedule: Schedule = None,
    gamma: Gamma = None,
    step_size: StepSize = None,
    decay: Decay = None,
    t_max: TMax = None,
    eta_min: EtaMin = None,
    warmup: Warmup = None,
    gradient: Gradient = "analytic",
    steps: Steps = 1000,
    tol: Tol = 1e-8,
    ftol: Ftol = None,
    xtol: Xtol = None,
    starts: Annotated[
        int | None,
        typer.Option("--starts", help="Multi-start: N starts uniform in --box, run as one vectorized batch."),
    ] = None,
    box: Annotated[
        str | None,
        typer.Option(
            "--box", help="LO,HI for --starts (default: the named function's domain, else -1,1). Write --box=-5,5."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for --starts.")] = 0,
    every: Annotated[
        int | None, typer.Option("--every", help="A table row every K steps (default: about 20 rows).")
    ] = None,
    trajectory: Annotated[
        str | None,
        typer.Option(
            "--trajectory",
            help="Stream every iterate to this CSV: step,<variables>,f,grad_norm,lr ('-': stdout, the report "
            "then on stderr).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary.")] = False,
    require_converged: Annotated[
        bool, typer.Option("--require-converged", help="Exit 1 when the run stops at max steps.")
    ] = False,
    plot: PlotFile = None,
    vars: Vars = None,
    dim: Dim = None,
    json: Json = False,
) -> None:
    """Minimize an expression with a descent variant; print the iteration table and a summary.

    Exit status: 0 converged or max steps (1 with --require-converged), 1 diverged, 2 bad input,
    130 interrupted.
    """
    from gradtool.descent import minimize as run_minimize

    hyper = hyper_options(locals())
    options = dict(
        optimizer=optimizer,
        lr=lr,
        schedule=schedule,
        gradient=gradient,
        steps=steps,
        tol=tol,
        ftol=ftol,
        xtol=xtol,
        dim=dim,
        variables=vars,
        every=every,
        schedule_options=schedule_options(locals()),
        **hyper,
    )
    if every is not None and every < 1:
        from gradtool.errors import ConfigError

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
            from gradtool.errors import ConfigError

            raise ConfigError("--trajectory records one run; it cannot be combined with --starts")
        result = run_minimize(expr, x0, starts=starts, box=box, seed=seed, **options)
    else:
        result = _single_run(run_minimize, expr, x0, options, trajectory, quiet or json, plot is not None)
    if plot is not None:
        from gradtool.plot import draw_result, save_figure

        save_figure(draw_result(result, objective=expr), plot)
        typer.echo(f"wrote {plot}", err=True)
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
            from gradtool.io import TrajectoryCSV, check_writable, open_output

            check_writable(trajectory)
            problem = prepare(expr, x0, **options)  # validate everything before creating the file
            with open_output(trajectory) as handle:
                sink = TrajectoryCSV(handle, problem.objective.variables)
                return problem.run(sink=sink, progress=progress, record=record)
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

"""Commands that fit models to data: fit and predict (check-grad --fit reuses the options defined here)."""

from __future__ import annotations

import inspect
from typing import Annotated

import typer

from gradtool.cli.common import Json, PlotFile, app, claim_outputs, handled, save_plot
from gradtool.cli.options import Choice, optimizer_options
from gradtool.defaults import EPOCHS, FIT_ENGINE

# ---- the options of a fit problem, shared with check-grad --fit ------------------------------------------

Model = Annotated[
    str,
    typer.Argument(
        help='mlp:IN-H1-...-OUT, linear, logistic, or an expression such as "w*x + b" whose symbols '
        "naming a data column are inputs and the rest parameters."
    ),
]
Data = Annotated[
    str | None, typer.Option("--data", help="CSV file with a header row; inputs are numbers, labels may be text.")
]
Target = Annotated[
    str | None,
    typer.Option(
        "--target",
        help="Target column (required): numbers, or labels for bce/cross-entropy; several, comma-separated, "
        "for several outputs or one-hot columns.",
    ),
]
Params = Annotated[
    str | None,
    typer.Option(
        "--params",
        help="Expression models: which symbols are parameters, "
        "e.g. w,b (default: every symbol that is not a data column).",
    ),
]
Inputs = Annotated[
    str | None,
    typer.Option("--inputs", help="Networks: input columns, e.g. x1,x2 (default: every column except the targets)."),
]
Init = Annotated[
    str | None,
    typer.Option(
        "--init",
        help="Expression models: start values w=0,b=0 (unnamed "
        "ones 0) or 'random' (seeded normal); networks: seeded Xavier/He.",
    ),
]
Activation = Annotated[
    str | None,
    typer.Option(
        "--activation", help="Hidden-layer activation of a network: sigmoid (default), tanh, relu or softplus."
    ),
]
Loss = Annotated[
    str | None,
    typer.Option(
        "--loss",
        help="mse (default), mae, huber, bce (binary, from logits) or cross-entropy/ce (softmax over classes); "
        "logistic: bce or cross-entropy by the number of classes.",
    ),
]
L2 = Annotated[
    float,
    typer.Option(
        "--l2",
        help="Add LAMBDA * sum of squared weights: not biases (networks, linear, logistic) nor an expression's "
        "additive intercepts.",
    ),
]
Standardize = Annotated[
    bool,
    typer.Option("--standardize", help="Scale inputs to mean 0, std 1 by the training rows (saved with the model)."),
]
Proba = Annotated[
    bool, typer.Option("--proba", help="Classifiers: add one probability column per class to the predictions.")
]


Epochs = Annotated[int, typer.Option("--epochs", help=EPOCHS.help)]
BatchSize = Annotated[
    int | None, typer.Option("--batch-size", help="Rows per step, reshuffled every epoch (default: all training rows).")
]
TestSplit = Annotated[
    float | None, typer.Option("--test-split", help="Hold out this seeded fraction of the rows and report its metrics.")
]
Stratify = Annotated[bool, typer.Option("--stratify", help="Classifiers: hold out each class's share of --test-split.")]
TestData = Annotated[
    str | None, typer.Option("--test-data", help="Held-out rows from this CSV instead of --test-split.")
]
EarlyStopping = Annotated[
    int | None,
    typer.Option(
        "--early-stopping",
        help="Stop after PATIENCE epochs without a lower test loss; keep the best epoch's parameters.",
    ),
]
FitSeed = Annotated[int, typer.Option("--seed", help="Seed of the initialisation, split and shuffles.")]
FitGradient = Annotated[
    str,
    typer.Option(
        "--gradient",
        help="autodiff (one reverse sweep), numeric (central differences) or analytic (SymPy; expression models).",
    ),
]
FitEvery = Annotated[int | None, typer.Option("--every", help="A table row every K epochs (default: about 20 rows).")]
Save = Annotated[str | None, typer.Option("--save", help="Write the fitted model to FILE.npz.")]
Load = Annotated[str | None, typer.Option("--load", help="Start from a model saved with --save.")]
Predict = Annotated[str | None, typer.Option("--predict", help="Apply the fitted model to this CSV's rows.")]
Output = Annotated[
    str | None,
    typer.Option("--output", help="Where --predict writes its CSV (default: stdout, with the report moved to stderr)."),
]
GradStats = Annotated[
    bool,
    typer.Option(
        "--grad-stats",
        help="Networks: record each layer's gradient norms (weights, biases) and update/weight ratio per "
        "epoch; the table shows the first and last layer's, --plot adds a panel of every layer's.",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary.")]


PROBLEM = {
    "data": (Data, None),
    "target": (Target, None),
    "params": (Params, None),
    "inputs": (Inputs, None),
    "init": (Init, None),
    "activation": (Activation, None),
    "loss": (Loss, None),
    "l2": (L2, 0.0),
    "standardize": (Standardize, False),
}


def problem_options(standardize: bool = True, last: bool = False):
    """Add the options of a fit problem (the data, target and model options; ``--standardize`` unless
    ``standardize`` is False) to a command whose function takes ``problem: dict``: fit and check-grad --fit
    declare them once, here (``last``: after the command's own options)."""
    from gradtool.cli.options import with_options

    names = [name for name in PROBLEM if standardize or name != "standardize"]
    added = [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=PROBLEM[n][1], annotation=PROBLEM[n][0])
        for n in names
    ]
    return lambda func: with_options(func, "problem", added, lambda given, _: given, last)


def required(data: str | None, target: str | None) -> tuple[str, str]:
    from gradtool.errors import ConfigError

    if data is None or target is None:
        raise ConfigError(f"fitting needs {'--data CSV' if data is None else '--target COLUMN'}")
    return data, target


@app.command()
@handled
@problem_options()
@optimizer_options()
def fit(
    model: Model,
    problem: dict,
    choice: Choice,
    epochs: Epochs = EPOCHS.default,
    batch_size: BatchSize = None,
    test_split: TestSplit = None,
    stratify: Stratify = False,
    test_data: TestData = None,
    early_stopping: EarlyStopping = None,
    seed: FitSeed = 0,
    gradient: FitGradient = FIT_ENGINE,
    every: FitEvery = None,
    save: Save = None,
    load: Load = None,
    predict: Predict = None,
    output: Output = None,
    proba: Proba = False,
    grad_stats: GradStats = False,
    quiet: Quiet = False,
    plot: PlotFile = None,
    json: Json = False,
) -> None:
    """Fit a model to data by gradient descent on the mean loss; print the epoch table and a summary.

    Exit status: 0 completed or early_stopped, 1 diverged (non-finite loss), 2 bad input or data, 130 interrupted.
    """
    from gradtool.fitting.prepare import prepare_fit

    data, target = required(problem.pop("data"), problem.pop("target"))
    to_stdout = _claim_files(data, test_data, load, predict, output, save, plot, json)
    held_out = dict(test_split=test_split, stratify=stratify, test_data=test_data, early_stopping=early_stopping)
    run = dict(epochs=epochs, batch_size=batch_size, seed=seed, gradient=gradient, every=every, grad_stats=grad_stats)
    problem = prepare_fit(model, data, target, **problem, **choice.run_options(), **held_out, **run, load=load)
    _check_predict(problem, predict, proba)
    result = _train(problem, epochs, not (quiet or json))
    _save(problem, result, save, plot)
    _report(result, json, quiet, to_stderr=to_stdout)
    if predict is not None:
        from gradtool.fitting.predict import write_predictions

        write_predictions(result.fitted(), predict, output, proba)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _claim_files(data, test_data, load, predict, output, save, plot, json: bool) -> bool:
    """Check every file fit reads and writes before anything runs; True when the report goes to stderr."""
    from gradtool.errors import ConfigError

    if predict is not None and output is None and json:
        raise ConfigError("--json and --predict both want stdout; send the predictions to a file with --output")
    reads = [("the --data file", data), ("the --test-data file", test_data), ("the --load file", load)]
    reads.append(("the --predict file", predict))
    predictions = output if output is not None or predict is None else "-"  # stdout by default
    to_stdout = claim_outputs(json, reads, save=save, output=predictions, plot=plot)
    for path in (save, output):
        if path is not None:
            from gradtool.io import check_writable

            check_writable(path)
    if plot is not None:
        from gradtool.plot import check_output

        check_output(plot)
    return to_stdout


def _check_predict(problem, predict: str | None, proba: bool) -> None:
    """A bad file to predict must fail before training, not after it."""
    if predict is not None:
        from gradtool.fitting.data import read_csv

        read_csv(predict, min_rows=1).matrix(problem.objective.model.inputs, "input")
    elif proba:
        from gradtool.errors import ConfigError

        raise ConfigError("--proba adds columns to the predictions of --predict CSV")


def _train(problem, epochs: int, progress_bar: bool):
    """Run the prepared fit, its warnings on stderr and a progress bar for long runs on a terminal."""
    from gradtool.cli.optimize import ProgressBar

    for warning in problem.warnings:
        typer.echo(f"warning: {warning}", err=True)
    progress = ProgressBar(epochs, progress_bar)
    try:
        return problem.run(progress)
    finally:
        progress.close()


def _save(problem, result, save: str | None, plot: str | None) -> None:
    """Write the model (unless the fit diverged) and the picture the command line asked for."""
    if save is not None and result.status != "diverged":
        result.save(save)
    if plot is not None:
        from gradtool.plot.runs import draw_fit_result

        save_plot(draw_fit_result(problem, result), plot)


def _report(result, json: bool, quiet: bool, to_stderr: bool) -> None:
    if json:
        from gradtool.report.common import print_json

        print_json(result.to_dict())
        return
    from gradtool.report.common import stderr_console, stdout_console
    from gradtool.report.fit import show_fit

    show_fit(result, quiet, stderr_console() if to_stderr else stdout_console())


@app.command("predict")
@handled
def predict_command(
    model: Annotated[str, typer.Argument(help="A model saved by `gradtool fit --save FILE.npz`.")],
    data: Annotated[str, typer.Option("--data", help="CSV with (at least) the model's input columns.")],
    output: Annotated[str | None, typer.Option("--output", help="Write the CSV here (default: stdout).")] = None,
    proba: Proba = False,
) -> None:
    """Apply a saved model to new rows by column name: the CSV's rows as they are, plus <target>_pred
    (values, or the predicted label) and, with --proba, <target>_proba_<class> columns."""
    from gradtool.fitting.predict import predict_file

    claim_outputs(False, [("the model file", model), ("the --data file", data)], output=output)
    if output is not None:
        from gradtool.io import check_writable

        check_writable(output)
    predict_file(model, data, output, proba)


def check_fit_command(
    model, problem: dict, seed: int, h, rtol: float, atol: float, json: bool, sample: int | None = None
) -> None:
    """`check-grad --fit MODEL`: backprop vs central differences for (a sample of) the parameters; exit 1 on a
    mismatch."""
    from gradtool.fitting.check import SAMPLE, check_fit

    problem = dict(problem)
    data, target = required(problem.pop("data"), problem.pop("target"))
    sample = SAMPLE if sample is None else sample
    report = check_fit(model, data, target, h=h, rtol=rtol, atol=atol, seed=seed, sample=sample, **problem)
    if json:
        from gradtool.report.common import print_json

        print_json(report)
    else:
        from gradtool.report.fit import show_fit_check

        show_fit_check(report)
    if not report["ok"]:
        raise typer.Exit(1)

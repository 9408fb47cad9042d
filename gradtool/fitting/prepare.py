"""`gradtool.fit` and `gradtool.prepare_fit`: every option of a fit validated and built (data, split,
targets, scaling, model, objective, engine, optimizer) before anything trains, then the loop of
gradtool.fitting.train run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradtool.defaults import EPOCHS, FIT_ENGINE
from gradtool.errors import DataError
from gradtool.fitting.data import Table, as_table, holdout
from gradtool.fitting.gradients import Objective, make_fit_engine
from gradtool.fitting.gradstats import GradStats
from gradtool.fitting.losses import make_loss
from gradtool.fitting.models import make_model, names_list
from gradtool.fitting.result import FitResult
from gradtool.fitting.scaling import Standardizer, lr_warning, spread_warning
from gradtool.fitting.targets import Targets, default_loss, resolve_targets, strata
from gradtool.fitting.train import PreparedFit, Split
from gradtool.optim import optimizer_spec
from gradtool.params import ParamError
from gradtool.run import check_rows, default_every

MAX_EPOCHS = 10_000_000
HELD_OUT = ("test_split", "test_data")  # the two ways to hold rows out, which messages name


def whole(value: Any, name: str, low: int) -> int:
    """``value`` if it is a whole number from ``low`` to MAX_EPOCHS, else a ParamError naming the option."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_EPOCHS:
        raise ParamError(name, f"must be a whole number >= {low}, got {value!r}")
    return value


def streams(seed: Any) -> list[np.random.Generator]:
    """Independent generators for the initialisation, the holdout split and the per-epoch shuffles."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ParamError("seed", f"must be a whole number >= 0, got {seed!r}")
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]


@dataclass
class Held:
    """Where the rows come from: the training table and rows, and the test table and rows (or none)."""

    table: Table
    train: np.ndarray
    test_table: Table | None
    test: np.ndarray


def _held_out(table: Table, columns: list[str], task: str, options: dict[str, Any], rng) -> Held:
    """The training and test rows: a (stratified) random split of ``table``, or every row of test_data."""
    split, stratify, test_data = options["test_split"], options["stratify"], options["test_data"]
    if test_data is not None:
        if split:
            raise ParamError("test_data", "give `test_split` or `test_data`, not both", mentions=HELD_OUT)
        if stratify:
            raise ParamError(
                "stratify", "applies to `test_split` (the rows of `test_data` are given)", mentions=HELD_OUT
            )
        test_table = as_table(test_data) if not isinstance(test_data, Table) else test_data
        return Held(table, np.arange(table.rows), test_table, np.arange(test_table.rows))
    if stratify and not split:
        detail = "needs `test_split`: it keeps each class's share in the held-out rows"
        raise ParamError("stratify", detail, mentions=HELD_OUT)
    train, test = holdout(table.rows, split, rng, strata(table, columns, task) if stratify else None)
    return Held(table, train, table if len(test) else None, test)


def _encode(targets: Targets, held: Held) -> tuple[np.ndarray, np.ndarray | None]:
    y = targets.encode(held.table, "training")
    if held.test_table is held.table:
        return y[held.train], y[held.test]
    return y, None if held.test_table is None else targets.encode(held.test_table, "test")


def _inputs(model, held: Held) -> tuple[np.ndarray, np.ndarray | None]:
    x = held.table.matrix(model.inputs, "input")
    if held.test_table is held.table:
        return x[held.train], x[held.test]
    return x, None if held.test_table is None else held.test_table.matrix(model.inputs, "input")


def _build_model(spec, table: Table, columns, targets: Targets, options: dict[str, Any]):
    try:
        return make_model(
            spec,
            table.columns,
            columns,
            params=options["params"],
            inputs=options["inputs"],
            activation=options["activation"],
            outputs=(targets.outputs, targets.describe_outputs()),
            task=targets.task,
            fuse=options["gradient"] != "analytic",
        )
    except DataError as exc:  # a column the model needs is missing: name the file too
        raise DataError(f"{table.source}: {exc}") from None
    except ParamError as exc:
        if exc.detail.startswith("the network takes"):  # the data's inputs do not suit it: name the file too
            raise ParamError(exc.key, f"{table.source}: {exc.template}", exc.owner, exc.mentions) from None
        raise


def _warnings(model, x: np.ndarray, loss: str, optimizer: str, lr: float) -> list[str]:
    found = [spread_warning(model.inputs, x)]
    if model.kind in ("linear", "logistic"):
        found.append(lr_warning(x, loss, optimizer, lr))
    return [w for w in found if w]


def _info(held: Held, model, columns: list[str], train_rows: int, test_rows: int) -> dict[str, Any]:
    info = {"source": held.table.source, "rows": held.table.rows, "train": train_rows, "test": test_rows}
    if held.test_table is not None and held.test_table is not held.table:
        info["test_source"] = held.test_table.source
    return {**info, "inputs": model.inputs, "targets": columns}


def prepare_fit(
    model: str,
    data: Any,
    target: str | list[str],
    *,
    params: str | list[str] | None = None,
    inputs: str | list[str] | None = None,
    init: Any = None,
    activation: str | None = None,
    loss: str | None = None,
    l2: float = 0.0,
    standardize: bool = False,
    optimizer: str = "gd",
    lr: float | None = None,
    schedule: str | None = None,
    schedule_options: dict[str, Any] | None = None,
    epochs: int = EPOCHS.default,
    batch_size: int | None = None,
    test_split: float | None = None,
    stratify: bool = False,
    test_data: Any = None,
    early_stopping: int | None = None,
    seed: int = 0,
    gradient: str = FIT_ENGINE,
    every: int | None = None,
    load: Any = None,
    grad_stats: bool = False,
    **hyper: Any,
):
    """Validate and build everything a fit needs (see :func:`fit`); nothing runs yet."""
    epochs, batch_size, every, early_stopping = _counts(epochs, batch_size, every, early_stopping)
    init_rng, split_rng, shuffle_rng = streams(seed)
    options = dict(params=params, inputs=inputs, activation=activation, test_split=test_split, gradient=gradient)
    options |= dict(stratify=stratify, test_data=test_data, standardize=standardize)
    columns, table, lossfn, held, targets, net = _problem(model, data, target, loss, options, split_rng)
    (x, x_test), (y, y_test) = _inputs(net, held), _encode(targets, held)
    scaler = Standardizer.fit(net.inputs, x) if _boolean(standardize, "standardize") else None
    if scaler is not None:
        x, x_test = scaler.apply(x), None if x_test is None else scaler.apply(x_test)
    objective = Objective(net, lossfn, l2)
    train = Split(x, y, objective.args(x, y))
    test = None if x_test is None else Split(x_test, y_test, objective.args(x_test, y_test))
    if early_stopping is not None and test is None:
        detail = "watches the held-out rows' loss: give `test_split` or `test_data`"
        raise ParamError("early_stopping", detail, mentions=HELD_OUT)
    engine = make_fit_engine(gradient, objective)
    theta0 = _start(net, init, load, init_rng)
    size = min(batch_size or train.rows, train.rows)
    objective.check_memory(size)
    opt, sched = _optimizer(optimizer, lr, hyper, schedule, schedule_options, epochs * -(-train.rows // size))
    if size < train.rows:
        _refuse_minibatches(opt)
    found = [] if scaler else _warnings(net, x, lossfn.name, opt.name, opt.hyper["lr"])
    info = _info(held, net, columns, train.rows, 0 if test is None else test.rows)
    stats = GradStats.for_model(net, epochs, every) if _boolean(grad_stats, "grad_stats") else None
    return PreparedFit(
        objective, engine, opt, sched, theta0, train, test, epochs, size, every, shuffle_rng, seed, info,
        targets=targets, scaler=scaler, early_stopping=early_stopping, warnings=found, grad_stats=stats,
    )  # fmt: skip


def _refuse_minibatches(opt: Any) -> None:
    """A method that evaluates where it needs compares f at trial points of one function: full batches only."""
    optimizer_spec(opt.name).refuse("minibatch")
    if opt.step is not None:
        raise ParamError(
            "batch_size",
            f"optimizer {opt.name!r} with a line search cannot use mini-batches: its trial points must see the "
            "same function (full batches: no batch size)",
        )


def _boolean(value: Any, name: str) -> bool:
    if value not in (True, False, None) or isinstance(value, int | float) and not isinstance(value, bool):
        raise ParamError(name, f"is true or false, got {value!r}")
    return bool(value)


def _problem(spec: str, data: Any, target: Any, loss: Any, options: dict[str, Any], rng):
    """``(target columns, table, loss, held-out rows, targets, model)``, each checked."""
    columns = names_list(target, "target") or []
    table = as_table(data)
    for name in columns:  # before the model: a missing target is the clearest message
        table.cells(name, "target")
    lossfn = make_loss(loss if loss is not None else default_loss(spec, table, columns))
    options["stratify"] = _boolean(options["stratify"], "stratify")
    held = _held_out(table, columns, lossfn.task, options, rng)
    targets = resolve_targets(table, columns, lossfn.task, held.train)
    return columns, table, lossfn, held, targets, _build_model(spec, table, columns, targets, options)


def _counts(epochs: Any, batch_size: Any, every: Any, early_stopping: Any) -> tuple:
    epochs = whole(epochs, "epochs", 0)
    batch_size = None if batch_size is None else whole(batch_size, "batch_size", 1)
    if every is not None:
        every = whole(every, "every", 1)
        check_rows(epochs, every, "epochs")
    early_stopping = None if early_stopping is None else whole(early_stopping, "early_stopping", 1)
    return epochs, batch_size, every or default_every(epochs), early_stopping


def _optimizer(name: str, lr: Any, hyper: dict[str, Any], schedule: Any, options: dict[str, Any] | None, steps: int):
    """The optimizer and schedule of a fit (``steps`` optimizer updates in all); fit minimizes its loss."""
    from gradtool.optim.configure import configure

    if hyper.get("maximize"):
        raise ParamError("maximize", "fit minimizes its loss; an optimizer that ascends would maximize it")
    return configure(name, hyper, lr=lr, schedule=schedule, schedule_options=options, horizon=steps)


def _start(model, init: Any, load: Any, rng: np.random.Generator) -> np.ndarray:
    if load is None:
        return model.init(rng, init)
    if init is not None:
        raise ParamError("load", "give `init` or `load`, not both", mentions=("init", "load"))
    from gradtool.fitting.persist import load_parameters

    return load_parameters(load, model)


def fit(
    model: str, data: Any, target: str | list[str], *, progress: Callable[[int], None] | None = None, **options: Any
) -> FitResult:
    """Fit ``model`` to ``data`` by gradient descent on the mean loss; return one :class:`FitResult`.

    Args:
        model: ``"mlp:IN-H1-...-OUT"``, ``"linear"``, ``"logistic"`` or an expression such as ``"w*x + b"``:
            its symbols that name a data column are inputs, the others parameters (``params="w,b"`` says which).
        data: a CSV path, or a mapping ``{column: values}`` (numbers, or labels for a target).
        target: the target column(s) (several: ``"y1,y2"`` or a list).
        progress: called after every epoch with the epoch number.
        **options: ``params``, ``inputs`` (network input columns; default all but the targets), ``init``
            (expression: ``"w=1,b=0"``, ``"random"``; default zeros), ``activation`` (sigmoid, tanh, relu,
            softplus), ``loss`` (mse, mae, huber, bce, cross-entropy/ce; default mse, logistic: bce or
            cross-entropy), ``l2``, ``standardize``, ``optimizer`` and its hyperparameters with torch's
            names, ``lr``, ``schedule`` + ``schedule_options``, ``epochs``, ``batch_size`` (default: full
            batch), ``test_split``, ``stratify``, ``test_data``, ``early_stopping``, ``seed``, ``gradient``
            (autodiff, numeric, analytic), ``every``, ``load``, ``grad_stats`` (networks: per-layer gradient
            norms and update ratios per epoch, in ``FitResult.grad_stats``).

    Divergence, early stopping and Ctrl-C are statuses of the result, never exceptions; bad input raises
    GradtoolError.
    """
    return prepare_fit(model, data, target, **options).run(progress)

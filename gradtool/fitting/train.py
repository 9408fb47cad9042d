"""`gradtool.fit`: data + model + loss + optimizer + schedule -> the mini-batch loop -> one FitResult."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradtool.errors import ConfigError, DataError
from gradtool.fitting.data import Table, as_table, check_binary, holdout
from gradtool.fitting.gradients import Objective, in_chunks, make_fit_gradient
from gradtool.fitting.losses import accuracy, make_loss
from gradtool.fitting.models import make_model, names_list
from gradtool.fitting.result import FitResult, FitRow
from gradtool.interrupt import stop_reason
from gradtool.result import status_message
from gradtool.run import HUGE, check_rows, default_every

MAX_EPOCHS = 10_000_000


def _whole(value: Any, name: str, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_EPOCHS:
        raise ConfigError(f"{name} must be a whole number >= {low}, got {value!r}")
    return value


def _streams(seed: Any) -> list[np.random.Generator]:
    """Independent generators for the initialisation, the holdout split and the per-epoch shuffles."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"--seed must be a whole number >= 0, got {seed!r}")
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]


@dataclass
class Split:
    """One side of the holdout: the inputs, the targets, and the sweep arguments of the whole side."""

    x: np.ndarray
    y: np.ndarray
    args: list

    @property
    def rows(self) -> int:
        return len(self.x)


@dataclass
class PreparedFit:
    """A validated fit, ready to run: data split, model, objective, gradient engine, optimizer, schedule."""

    objective: Objective
    engine: Callable
    opt: Any
    sched: Any
    theta0: np.ndarray
    train: Split
    test: Split | None
    epochs: int
    batch_size: int
    every: int
    shuffle: np.random.Generator
    seed: int
    data: dict[str, Any]

    def _row(self, epoch: int, theta: np.ndarray, f: float, g: np.ndarray, lr: float) -> FitRow:
        objective, test = self.objective, self.test
        test_loss = in_chunks(objective.value, theta, test.args, objective.chunk_rows) if test else None
        row = FitRow(epoch, f, test_loss, _norm(g), lr)
        if objective.loss.classifier:
            row.accuracy = accuracy(objective.output(theta, self.train.x), self.train.y)
            if test:
                row.test_accuracy = accuracy(objective.output(theta, test.x), test.y)
        return row

    def _epoch(self, theta, state, t: int) -> tuple[np.ndarray, Any, int, str | None]:
        """One pass over the shuffled training rows in mini-batches; returns the reason if it diverged."""
        train, size = self.train, self.batch_size
        order = self.shuffle.permutation(train.rows)
        for start in range(0, train.rows, size):
            rows = order[start : start + size]
            f, g = self.engine(theta, self.objective.args(train.x[rows], train.y[rows]))
            bad = _bad(f, g, theta)
            if bad:
                return theta, state, t, bad
            new, state = self.opt.update(g, state, theta, self.sched(t))
            t += 1
            if not math.isfinite(float(new.sum())):
                return theta, state, t, "the parameters became non-finite"
            theta = new
        return theta, state, t, None

    def run(self, progress: Callable[[int], None] | None = None) -> FitResult:
        """Train for ``epochs`` epochs; never raises for divergence or Ctrl-C (they are statuses)."""
        with np.errstate(all="ignore"):  # overflow is divergence, reported as a status, not a warning
            return self._train(progress)

    def _full(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """The loss and gradient over every training row (in chunks when a single sweep would not fit)."""
        return in_chunks(self.engine, theta, self.train.args, self.objective.chunk_rows)

    def _train(self, progress: Callable[[int], None] | None) -> FitResult:
        full = self.batch_size >= self.train.rows
        t0 = time.perf_counter()
        theta = self.theta0
        state = self.opt.init(theta)
        f, g = self._full(theta)
        rows, t, epoch, status, reason = [self._row(0, theta, f, g, self.sched(0))], 0, 0, "completed", ""
        bad = _bad(f, g, theta)
        if bad:
            return self._result(
                theta, rows, 0, 0, "diverged", f"{bad} at the initial parameters", time.perf_counter() - t0
            )
        try:
            while epoch < self.epochs:
                if full:  # the step's gradient is the full-batch one already at hand: one sweep per epoch
                    new, state = self.opt.update(g, state, theta, self.sched(t))
                    t += 1
                    f_new, g_new = self._full(new)
                    bad = _bad(f_new, g_new, new)
                    if not bad:
                        theta, f, g = new, f_new, g_new
                else:
                    theta, state, t, bad = self._epoch(theta, state, t)
                    if not bad and ((epoch + 1) % self.every == 0 or epoch + 1 == self.epochs):
                        f, g = self._full(theta)
                        bad = _bad(f, g, theta)
                if bad:
                    break
                epoch += 1
                if epoch % self.every == 0:
                    rows.append(self._row(epoch, theta, f, g, self.sched(t - 1)))
                if progress:
                    progress(epoch)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM under gradtool.interrupt
            status, reason = "interrupted", stop_reason(exc)
        if bad:
            status, reason = "diverged", f"{bad} in epoch {epoch + 1}"
        if not full and rows[-1].epoch != epoch:
            f, g = self._full(theta)  # the mini-batch loop has no full gradient at hand
        if rows[-1].epoch != epoch:
            rows.append(self._row(epoch, theta, f, g, self.sched(max(t - 1, 0))))
        return self._result(theta, rows, epoch, t, status, reason, time.perf_counter() - t0)

    def _result(self, theta, rows, epoch, t, status, reason, elapsed) -> FitResult:
        model, last = self.objective.model, rows[-1]
        named = dict(zip(model.layout.names, theta.tolist(), strict=True)) if model.kind == "expression" else None
        return FitResult(
            model=model.text,
            kind=model.kind,
            loss_function=self.objective.loss.name,
            l2=self.objective.l2,
            params=named,
            describe=model.describe(),
            train_loss=last.train,
            test_loss=last.test,
            accuracy={"train": last.accuracy, "test": last.test_accuracy} if self.objective.loss.classifier else None,
            epochs=epoch,
            steps=t,
            batch_size=self.batch_size,
            status=status,
            message=status_message(status, epochs=epoch, step=t, reason=reason),
            time_s=elapsed,
            grad_norm=last.grad_norm,
            optimizer=self.opt.to_dict(),
            schedule=self.sched.to_dict(),
            gradient=self.engine.name,
            data=self.data,
            seed=self.seed,
            rows=rows,
            theta=theta,
            objective=self.objective,
        )


def _norm(g: np.ndarray) -> float:
    return math.sqrt(float(g @ g))


def _bad(f: float, g: np.ndarray, theta: np.ndarray) -> str | None:
    """Why this state counts as divergence (non-finite or huge loss, non-finite parameters or gradient)."""
    if not math.isfinite(f) or abs(f) > HUGE:
        return f"the loss became {f:g}"
    if not (math.isfinite(float(g @ g)) and math.isfinite(float(theta.sum()))):
        return "the parameters or the gradient became non-finite"
    return None


def _split(objective: Objective, x: np.ndarray, y: np.ndarray, rows: np.ndarray) -> Split:
    sx, sy = np.ascontiguousarray(x[rows]), np.ascontiguousarray(y[rows])
    return Split(sx, sy, objective.args(sx, sy))


def prepare_fit(
    model: str,
    data: Any,
    target: str | list[str],
    *,
    params: str | list[str] | None = None,
    inputs: str | list[str] | None = None,
    init: Any = None,
    activation: str | None = None,
    loss: str = "mse",
    l2: float = 0.0,
    optimizer: str = "gd",
    lr: float | None = None,
    schedule: str | None = None,
    schedule_options: dict[str, Any] | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    test_split: float | None = None,
    seed: int = 0,
    gradient: str = "autodiff",
    every: int | None = None,
    load: str | None = None,
    **hyper: Any,
) -> PreparedFit:
    """Validate and build everything a fit needs (see :func:`fit`); nothing runs yet."""
    from gradtool.descent import build_schedule
    from gradtool.optim import make_optimizer

    epochs = _whole(epochs, "epochs", 0)
    if batch_size is not None:
        batch_size = _whole(batch_size, "--batch-size", 1)
    if every is not None:
        every = _whole(every, "--every", 1)
        check_rows(epochs, every, "epochs")
    init_rng, split_rng, shuffle_rng = _streams(seed)
    targets = names_list(target, "--target") or []
    table: Table = as_table(data)
    lossfn = make_loss(loss)
    for name in targets:  # before the model: a missing target is the clearest message
        table.column(name, "target")
    try:
        net = make_model(model, table.columns, targets, params=params, inputs=inputs, activation=activation)
    except DataError as exc:  # a column the model needs is missing: name the file too
        raise DataError(f"{table.source}: {exc}") from None
    x, y = table.matrix(net.inputs, "input"), table.matrix(targets, "target")
    if lossfn.classifier:
        check_binary(table, targets)
    objective = Objective(net, lossfn, l2)
    engine = make_fit_gradient(gradient, objective)
    opt = make_optimizer(optimizer, **({"lr": lr} if lr is not None else {}), **hyper)
    sched = build_schedule(opt.hyper["lr"], schedule, schedule_options or {})
    if load is not None:
        if init is not None:
            raise ConfigError("give --init or --load, not both")
        from gradtool.fitting.persist import load_parameters

        theta0 = load_parameters(load, net)
    else:
        theta0 = net.init(init_rng, init)
    train_rows, test_rows = holdout(table.rows, test_split, split_rng)
    train = _split(objective, x, y, train_rows)
    test = _split(objective, x, y, test_rows) if len(test_rows) else None
    size = min(batch_size or train.rows, train.rows)
    objective.check_memory(size)
    info = {
        "source": table.source,
        "rows": table.rows,
        "train": train.rows,
        "test": len(test_rows),
        "inputs": net.inputs,
        "targets": targets,
    }
    return PreparedFit(
        objective,
        engine,
        opt,
        sched,
        theta0,
        train,
        test,
        epochs,
        size,
        every or default_every(epochs),
        shuffle_rng,
        seed,
        info,
    )


def fit(
    model: str, data: Any, target: str | list[str], *, progress: Callable[[int], None] | None = None, **options: Any
) -> FitResult:
    """Fit ``model`` to ``data`` by gradient descent on the mean loss; return one :class:`FitResult`.

    Args:
        model: ``"mlp:IN-H1-...-OUT"`` or an expression such as ``"w*x + b"``: its symbols that name a data
            column are inputs, the others parameters (or ``params="w,b"`` says which).
        data: a CSV path, or a mapping ``{column: values}``.
        target: the target column (a network with several outputs: ``"y1,y2"`` or a list).
        progress: called after every epoch with the epoch number.
        **options: ``params``, ``inputs`` (network input columns; default all but the targets), ``init``
            (expression: ``"w=1,b=0"``, ``"random"``; default zeros), ``activation`` (sigmoid, tanh, relu,
            softplus), ``loss`` (mse, bce), ``l2``, ``optimizer`` and its hyperparameters with torch's names,
            ``lr``, ``schedule`` + ``schedule_options``, ``epochs``, ``batch_size`` (default: full batch),
            ``test_split``, ``seed``, ``gradient`` (autodiff, numeric, analytic), ``every``, ``load``.

    Divergence and Ctrl-C are statuses of the result, never exceptions; bad input raises GradtoolError.
    """
    return prepare_fit(model, data, target, **options).run(progress)

"""The training loop: a prepared fit (data split, model, loss, optimizer, schedule) -> mini-batches and
epochs, early stopping, statuses -> one FitResult. Preparing it is gradtool.fitting.prepare's."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from gradtool.fitting.gradients import Objective, in_chunks
from gradtool.fitting.gradstats import GradStats
from gradtool.fitting.metrics import accuracy, metrics
from gradtool.fitting.result import FitResult, FitRow
from gradtool.interrupt import stop_reason
from gradtool.optim.stepping import Oracle
from gradtool.result import status_message
from gradtool.run import HUGE


@dataclass
class Split:
    """One side of the holdout: the (scaled) inputs, the encoded targets, and the sweep arguments."""

    x: np.ndarray
    y: np.ndarray
    args: list

    @property
    def rows(self) -> int:
        return len(self.x)


class _Stopper:
    """Early stopping: the best held-out loss so far, its epoch and parameters, and the epochs since."""

    def __init__(self, patience: int, theta: np.ndarray, loss: float):
        self.patience, self.waited = patience, 0
        self.loss, self.theta, self.epoch = loss, theta.copy(), 0

    def stop(self, epoch: int, theta: np.ndarray, loss: float) -> bool:
        if loss < self.loss:  # strictly lower, as Keras's EarlyStopping with min_delta 0
            self.loss, self.theta, self.epoch, self.waited = loss, theta.copy(), epoch, 0
            return False
        self.waited += 1
        return self.waited >= self.patience


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
    targets: Any = None
    scaler: Any = None
    early_stopping: int | None = None
    warnings: list[str] = field(default_factory=list)
    grad_stats: GradStats | None = None
    accepted: float = math.nan  # the step length t of the last step of a method that searches (its rows show it)

    def _test_loss(self, theta: np.ndarray) -> float | None:
        if self.test is None:
            return None
        return in_chunks(self.objective.value, theta, self.test.args, self.objective.chunk_rows)

    def _row(self, epoch: int, theta: np.ndarray, f: float, g: np.ndarray, lr: float) -> FitRow:
        objective, test = self.objective, self.test
        row = FitRow(epoch, f, self._test_loss(theta), _norm(g), lr)
        if objective.loss.classifier:
            task = objective.loss.task
            row.accuracy = accuracy(task, objective.output_of(theta, self.train.args), self.train.y)
            if test:
                row.test_accuracy = accuracy(task, objective.output_of(theta, test.args), test.y)
        return row

    def _epoch(self, theta, state, t: int, lr_of: Callable[[int], float]) -> tuple[np.ndarray, Any, int, str | None]:
        """One pass over the shuffled training rows in mini-batches; returns the reason if it diverged."""
        train, size = self.train, self.batch_size
        order = self.shuffle.permutation(train.rows)
        for start in range(0, train.rows, size):
            rows = order[start : start + size]
            f, g = self.engine(theta, [arg[rows] for arg in train.args])  # rows of the precomputed sweep args
            bad = _bad(f, g, theta)
            if bad:
                return theta, state, t, bad
            new, state = self.opt.update(g, state, theta, lr_of(t))
            t += 1
            if not math.isfinite(float(new.sum())):
                return theta, state, t, "the parameters became non-finite"
            theta = new
        return theta, state, t, None

    def _full(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """The loss and gradient over every training row (in chunks when a single sweep would not fit)."""
        return in_chunks(self.engine, theta, self.train.args, self.objective.chunk_rows)

    def _advance(self, theta, state, t: int, f: float, g: np.ndarray, epoch: int, lr_of: Callable[[int], float]):
        """One epoch: ``(theta, state, t, f, g, why it stopped or None)``; ``f, g`` are the whole training
        set's after full-batch steps and when a table row is due or a schedule watches the loss (mini-batch
        f, g are not kept otherwise). Why: a reason (it diverged), or ``(status, reason)`` (a step found no
        acceptable point)."""
        if self.opt.step is not None:  # a method that evaluates where it needs: full batches only
            move = self.opt.step(self.oracle, theta, f, g, state, lr_of(t))
            if move.failure:
                return theta, state, t, f, g, ("line_search_failed", move.failure)
            self.accepted = move.t
            bad = _bad(move.f, move.g, move.x)
            return (theta, state, t + 1, f, g, bad) if bad else (move.x, move.state, t + 1, move.f, move.g, None)
        if self.batch_size >= self.train.rows:  # the step's gradient is the full-batch one already at hand
            new, state = self.opt.update(g, state, theta, lr_of(t))
            f_new, g_new = self._full(new)
            bad = _bad(f_new, g_new, new)
            return (theta, state, t + 1, f, g, bad) if bad else (new, state, t + 1, f_new, g_new, None)
        theta, state, t, bad = self._epoch(theta, state, t, lr_of)
        due = (epoch + 1) % self.every == 0 or epoch + 1 == self.epochs or self.sched.needs_metric
        if not bad and due:
            f, g = self._full(theta)
            bad = _bad(f, g, theta)
        return theta, state, t, f, g, bad

    @cached_property
    def oracle(self) -> Oracle:
        """f, g and curvature over the whole training set, for methods that evaluate where they need. The
        Hessian-vector products come from the model's tape (forward-over-reverse) whatever the gradient
        engine; the dense Hessian (newton) is n of them."""
        chunk = self.objective.chunk_rows

        def hvp(theta: np.ndarray, v: np.ndarray) -> np.ndarray:
            return in_chunks(lambda th, args: self.objective.hvp(th, v, args), theta, self.train.args, chunk)

        def hessian(theta: np.ndarray) -> np.ndarray:
            return np.array([hvp(theta, e) for e in np.eye(len(theta))])

        return Oracle(self._full, hessian, hvp)

    def _record(self, epoch: int, theta: np.ndarray, g: np.ndarray, before: np.ndarray | None) -> None:
        """``--grad-stats``: the layers' gradient norms at ``theta`` (the whole training set's gradient: ``g``
        when it is, one more full sweep after mini-batches) and the epoch's update from ``before``."""
        stats = self.grad_stats
        if stats is None or not (stats.due(epoch) or epoch == self.epochs):
            return
        fresh = self.batch_size >= self.train.rows or epoch % self.every == 0 or epoch == self.epochs
        stats.record(epoch, g if fresh else self._full(theta)[1], theta, before)

    def run(self, progress: Callable[[int], None] | None = None) -> FitResult:
        """Train for ``epochs`` epochs; never raises for divergence or Ctrl-C (they are statuses)."""
        with np.errstate(all="ignore"):  # overflow is divergence, reported as a status, not a warning
            return self._train(progress)

    def _train(self, progress: Callable[[int], None] | None) -> FitResult:
        t0, theta, t, epoch = time.perf_counter(), self.theta0, 0, 0
        state = self.opt.init(theta)
        # a schedule that follows the loss (plateau) keeps an explicit state, observing it once per epoch
        watched = self.sched.init() if self.sched.needs_metric else None

        def lr_of(t: int) -> float:
            return float(watched.lr) if watched is not None else self.sched(t)

        def shown(t: int) -> float:  # a row's lr; for a method that searches, the step length it accepted
            return self.accepted if self.opt.step is not None else lr_of(t)

        self.accepted = math.nan

        f, g = self._full(theta)
        rows, status, reason = [self._row(0, theta, f, g, shown(0))], "completed", ""
        if self.grad_stats is not None:
            self.grad_stats.clear()  # a second run() starts a new history
        before = None
        self._record(0, theta, g, before)  # also when it is already non-finite: that is what it shows
        bad = _bad(f, g, theta)
        if bad:
            return self._result(theta, rows, 0, 0, "diverged", f"{bad} at the initial parameters", t0)
        stopper = _Stopper(self.early_stopping, theta, rows[0].test) if self.early_stopping else None
        try:
            while epoch < self.epochs:
                before = theta
                theta, state, t, f, g, bad = self._advance(theta, state, t, f, g, epoch, lr_of)
                if bad:
                    break
                epoch += 1
                if epoch % self.every == 0:
                    rows.append(self._row(epoch, theta, f, g, shown(t - 1)))
                self._record(epoch, theta, g, before)
                if progress:
                    progress(epoch)
                if watched is not None:
                    watched = self.sched.observe(watched, f)
                if stopper and stopper.stop(epoch, theta, self._test_loss(theta)):
                    status = "early_stopped"
                    break
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM under gradtool.interrupt
            status, reason = "interrupted", stop_reason(exc)
        if isinstance(bad, tuple):
            status, reason = bad
        elif bad:
            status, reason = "diverged", f"{bad} in epoch {epoch + 1}"
        if rows[-1].epoch != epoch:
            if self.batch_size < self.train.rows:
                f, g = self._full(theta)  # the mini-batch loop has no full gradient at hand
            rows.append(self._row(epoch, theta, f, g, shown(max(t - 1, 0))))
            if self.grad_stats is not None:  # the last epoch, whether or not it was due
                self.grad_stats.record(epoch, g, theta, before)
        return self._result(theta, rows, epoch, t, status, reason, t0, stopper)

    def _final(self, theta: np.ndarray, rows: list[FitRow], stopper: _Stopper | None) -> tuple[np.ndarray, FitRow]:
        """The parameters the result reports, and their row: the last epoch's, or early stopping's best."""
        if stopper is None:
            return theta, rows[-1]
        f, g = self._full(stopper.theta)
        return stopper.theta, self._row(stopper.epoch, stopper.theta, f, g, rows[-1].lr)

    def _metrics(self, theta: np.ndarray, final: FitRow) -> dict[str, Any]:
        classes = None if self.targets is None else self.targets.class_count
        out = {"train": None, "test": None}
        for side, split, value in (("train", self.train, final.train), ("test", self.test, final.test)):
            if split is not None:
                z = self.objective.output_of(theta, split.args)
                out[side] = metrics(self.objective.loss, z, split.y, value, classes)
        return out

    def _result(self, theta, rows, epoch, t, status, reason, t0, stopper=None) -> FitResult:
        model, loss = self.objective.model, self.objective.loss
        theta, final = self._final(theta, rows, stopper)
        if status == "diverged":
            reason += "; try --standardize or a smaller --lr" if self.scaler is None else "; try a smaller --lr"
        details = dict(epochs=epoch, step=t, reason=reason, patience=self.early_stopping)
        named = dict(zip(model.layout.names, theta.tolist(), strict=True)) if model.kind == "expression" else None
        return FitResult(
            model=model.text,
            kind=model.kind,
            loss_function=loss.name,
            l2=self.objective.l2,
            params=named,
            describe=model.describe(),
            train_loss=final.train,
            test_loss=final.test,
            accuracy={"train": final.accuracy, "test": final.test_accuracy} if loss.classifier else None,
            epochs=epoch,
            steps=t,
            batch_size=self.batch_size,
            status=status,
            message=status_message(status, **details, best_epoch=stopper.epoch if stopper else None),
            time_s=time.perf_counter() - t0,
            grad_norm=final.grad_norm,
            optimizer=self.opt.to_dict(),
            schedule=self.sched.to_dict(),
            gradient=self.engine.name,
            data=self.data,
            seed=self.seed,
            rows=rows,
            theta=theta,
            objective=self.objective,
            metrics=self._metrics(theta, final),
            classes=None if self.targets is None else self.targets.classes,
            coefficients=_coefficients(model, theta, self.targets, self.scaler),
            scaling=None if self.scaler is None else self.scaler.to_dict(),
            best_epoch=stopper.epoch if stopper else None,
            warnings=list(self.warnings),
            targets=self.targets,
            scaler=self.scaler,
            grad_stats=None if self.grad_stats is None else self.grad_stats.to_dict(),
        )


def _coefficients(model, theta: np.ndarray, targets, scaler) -> dict[str, Any] | None:
    if not hasattr(model, "coefficients") or targets is None:
        return None
    return model.coefficients(theta, targets.output_names, scaler)


def _norm(g: np.ndarray) -> float:
    return math.sqrt(float(g @ g))


def _bad(f: float, g: np.ndarray, theta: np.ndarray) -> str | None:
    """Why this state counts as divergence (non-finite or huge loss, non-finite parameters or gradient)."""
    if not math.isfinite(f) or abs(f) > HUGE:
        return f"the loss became {f:g}"
    if not (math.isfinite(float(g @ g)) and math.isfinite(float(theta.sum()))):
        return "the parameters or the gradient became non-finite"
    return None
